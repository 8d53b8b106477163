// Fuzz target for server/dns/wire.h, the first code every UDP packet meets.
// Whatever ParseQuery accepts is answered through ResponseWriter (question
// echo, owner pointers to every qname suffix, explicit owners, OPT, TC
// truncation) with a capacity taken from the input, and the result is read
// back: the echoed question must parse to the same name, type and class.
// Name helpers must agree with each other on every parsed name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/dns/canonical.h"
#include "server/dns/wire.h"

namespace {

using lufd::dns::ResponseWriter;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckName(const std::string& name) {
  using namespace lufd::dns;
  Check(!name.empty() && name.size() <= kMaxNameLength);
  Check(LowercaseName(name).size() == name.size());
  Check(CanonicalCompare(name, LowercaseName(name)) == 0);
  auto back = NameFromText(NameToText(name));
  Check(back.has_value() && *back == name);
  Check(IsSubdomainOf(LowercaseName(name), std::string(1, '\0')));
  Check(LabelCount(name) <= 127);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lufd::dns;
  ParsedQuery q;
  const ParseResult r = ParseQuery(absl::MakeConstSpan(data, size), &q);
  if (r == ParseResult::kDrop) return 0;
  Check(size >= kHeaderSize);
  if (q.has_question) {
    CheckName(q.qname);
    Check(q.qname_lower == LowercaseName(q.qname));
    Check(q.question_end <= size);
  }
  if (q.has_tsig) {
    // Also set on FORMERR for trailing bytes: `out` is filled as far as
    // parsing got.
    Check(q.tsig_offset > kHeaderSize && q.tsig_offset < size);
    CheckName(q.tsig_key_name);
  }
  if (q.has_edns) Check(q.udp_payload >= kMaxUdpNoEdns);
  // Only an IXFR query carries the client's SOA serial (RFC 1995).
  if (q.has_ixfr_serial) Check(q.qtype == kTypeIXFR && q.has_question);

  // The capacity comes from the input so the "does not fit" paths run.
  static uint8_t buffer[4096];
  const size_t capacity = 12 + (size > 0 ? data[size - 1] : 0) * 16;
  ResponseWriter w(buffer, capacity);
  const uint16_t flags = static_cast<uint16_t>(q.flags | kFlagAA);
  const bool started = q.has_question
                           ? w.Start(q, flags, kRcodeNoError)
                           : w.StartNoQuestion(q.id, flags, kRcodeFormErr);
  if (!started) {
    Check(capacity < kHeaderSize + (q.has_question ? q.qname.size() + 4 : 0));
    return 0;
  }
  const size_t question_end = w.size();
  Check(w.question_end() == question_end);
  if (q.has_question) {
    // Read the echo back as if it were a query.
    std::basic_string<uint8_t> copy(w.data(), w.size());
    copy[2] &= 0x7F;  // Clear QR.
    copy[2] &= 0x87;  // Opcode QUERY.
    ParsedQuery echo;
    Check(ParseQuery(absl::MakeConstSpan(copy.data(), copy.size()), &echo) ==
          ParseResult::kOk);
    Check(echo.qname == q.qname && echo.qtype == q.qtype &&
          echo.qclass == q.qclass && echo.id == q.id);
  }
  const std::string tail = RrTail(
      kTypeNAPTR, kClassIN, 60,
      NaptrRdata(1, 2, "u", "E2U+sip", "!^.*$!sip:x@y!", std::string(1, '\0')));
  const size_t labels = q.has_question ? LabelCount(q.qname) + 1 : 1;
  for (size_t strip = 0; strip <= labels + 1; ++strip) {
    const size_t before = w.size();
    const bool ok =
        w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, strip, tail);
    Check(ok ? w.size() > before : w.size() == before);
  }
  if (q.has_question) {
    (void)w.AppendRr(ResponseWriter::Section::kAdditional, q.qname_lower,
                     RrTail(kTypeURI, kClassIN, 1, UriRdata(1, 1, "sip:x")));
  }
  (void)w.AppendOpt(q.udp_payload, kRcodeBadVers, kEdnsFlagDO);
  w.SetRcode(kRcodeServFail);
  w.TruncateToQuestion();
  Check(w.size() == question_end);
  return 0;
}
