// Tests for server/dns/wire.h: queries built by ldns parse byte-exactly,
// every malformed shape gets the documented classification, and the RDATA
// encoders agree with ldns's own wire output.
#include "server/dns/wire.h"

#include <ldns/ldns.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lufd::dns {
namespace {

using Bytes = std::vector<uint8_t>;

// Owns an ldns packet's wire image.
Bytes PktToWire(ldns_pkt* pkt) {
  uint8_t* buf = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&buf, pkt, &size), LDNS_STATUS_OK);
  Bytes out(buf, buf + size);
  LDNS_FREE(buf);
  return out;
}

ldns_pkt* NewQuery(const char* qname, ldns_rr_type type) {
  ldns_rdf* name = ldns_dname_new_frm_str(qname);
  EXPECT_NE(name, nullptr);
  ldns_pkt* pkt = ldns_pkt_query_new(name, type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(pkt, 0x1234);
  return pkt;
}

std::string Wire(const char* text) {
  auto n = NameFromText(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(std::string());
}

ParseResult Parse(const Bytes& b, ParsedQuery* q) {
  return ParseQuery(absl::MakeConstSpan(b), q);
}

TEST(ParseQuery, PlainLdnsQuery) {
  ldns_pkt* pkt = NewQuery("6.6.5.E164.arpa.", LDNS_RR_TYPE_NAPTR);
  Bytes b = PktToWire(pkt);
  ldns_pkt_free(pkt);
  ParsedQuery q;
  ASSERT_EQ(Parse(b, &q), ParseResult::kOk);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_EQ(q.flags, kFlagRD);
  EXPECT_EQ(q.opcode, 0);
  EXPECT_TRUE(q.has_question);
  EXPECT_EQ(q.qname, Wire("6.6.5.E164.arpa."));
  EXPECT_EQ(q.qname_lower, Wire("6.6.5.e164.arpa."));
  EXPECT_EQ(q.qtype, kTypeNAPTR);
  EXPECT_EQ(q.qclass, kClassIN);
  EXPECT_EQ(q.question_end, b.size());
  EXPECT_FALSE(q.has_edns);
  EXPECT_EQ(q.udp_payload, 0);
  EXPECT_FALSE(q.has_tsig);
}

TEST(ParseQuery, EdnsDoCo) {
  ldns_pkt* pkt = NewQuery("example.", LDNS_RR_TYPE_SOA);
  ldns_pkt_set_edns_udp_size(pkt, 1232);
  ldns_pkt_set_edns_z(pkt, kEdnsFlagDO | kEdnsFlagCO);
  Bytes b = PktToWire(pkt);
  ldns_pkt_free(pkt);
  ParsedQuery q;
  ASSERT_EQ(Parse(b, &q), ParseResult::kOk);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.udp_payload, 1232);
  EXPECT_EQ(q.edns_version, 0);
  EXPECT_TRUE(q.do_bit);
  EXPECT_TRUE(q.co_bit);
  EXPECT_EQ(q.question_end, b.size() - 11);
}

TEST(ParseQuery, EdnsDoOnlySmallPayloadAndVersion) {
  ldns_pkt* pkt = NewQuery("example.", LDNS_RR_TYPE_SOA);
  ldns_pkt_set_edns_udp_size(pkt, 100);
  ldns_pkt_set_edns_do(pkt, true);
  ldns_pkt_set_edns_version(pkt, 1);
  Bytes b = PktToWire(pkt);
  ldns_pkt_free(pkt);
  ParsedQuery q;
  ASSERT_EQ(Parse(b, &q), ParseResult::kOk);
  EXPECT_EQ(q.udp_payload, 512);  // Below 512 counts as 512.
  EXPECT_TRUE(q.do_bit);
  EXPECT_FALSE(q.co_bit);
  EXPECT_EQ(q.edns_version, 1);
}

TEST(ParseQuery, EdnsOptionsSkipped) {
  ldns_pkt* pkt = NewQuery("example.", LDNS_RR_TYPE_A);
  ldns_pkt_set_edns_udp_size(pkt, 4096);
  Bytes b = PktToWire(pkt);
  ldns_pkt_free(pkt);
  // Append a COOKIE (10) option of 8 bytes and an empty option by hand.
  ASSERT_GE(b.size(), 2u);
  const uint8_t opts[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0};
  b[b.size() - 1] = sizeof(opts);
  b.insert(b.end(), opts, opts + sizeof(opts));
  ParsedQuery q;
  ASSERT_EQ(Parse(b, &q), ParseResult::kOk);
  EXPECT_EQ(q.udp_payload, 4096);
  // An option overrunning RDATA is malformed.
  Bytes bad = b;
  bad[bad.size() - 1] = 1;  // Last option claims one byte it lacks.
  EXPECT_EQ(Parse(bad, &q), ParseResult::kFormErr);
  // RDATA too short for an option header.
  Bytes bad2 = b;
  bad2.pop_back();
  bad2[bad2.size() - (sizeof(opts) - 1) - 1] = sizeof(opts) - 1;
  EXPECT_EQ(Parse(bad2, &q), ParseResult::kFormErr);
}

TEST(ParseQuery, TsigLast) {
  ldns_pkt* pkt = NewQuery("4.3.2.1.e164.arpa.", LDNS_RR_TYPE_NAPTR);
  ldns_pkt_set_edns_udp_size(pkt, 1232);
  Bytes unsigned_wire = PktToWire(pkt);
  ASSERT_EQ(ldns_pkt_tsig_sign(pkt, "Key1.Example.", "c2VjcmV0c2VjcmV0", 300,
                               "hmac-sha256.", nullptr),
            LDNS_STATUS_OK);
  Bytes b = PktToWire(pkt);
  ldns_pkt_free(pkt);
  ParsedQuery q;
  ASSERT_EQ(Parse(b, &q), ParseResult::kOk);
  EXPECT_TRUE(q.has_edns);
  EXPECT_TRUE(q.has_tsig);
  // The TSIG RR starts where the unsigned message ended.
  EXPECT_EQ(q.tsig_offset, unsigned_wire.size());
  EXPECT_EQ(q.tsig_key_name, Wire("key1.example."));

  // Truncated TSIG.
  for (size_t cut : {size_t{1}, size_t{5}, b.size() - q.tsig_offset - 1}) {
    Bytes t(b.begin(), b.end() - static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(Parse(t, &q), ParseResult::kFormErr) << cut;
  }
}

// Hand-built packets for the malformed cases.
Bytes Header(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar,
             uint16_t flags = 0) {
  return Bytes{0xAB,
               0xCD,
               static_cast<uint8_t>(flags >> 8),
               static_cast<uint8_t>(flags),
               0,
               static_cast<uint8_t>(qd),
               0,
               static_cast<uint8_t>(an),
               0,
               static_cast<uint8_t>(ns),
               0,
               static_cast<uint8_t>(ar)};
}
void Add(Bytes* b, std::initializer_list<uint8_t> bytes) {
  b->insert(b->end(), bytes);
}
void AddName(Bytes* b, const std::string& wire) {
  b->insert(b->end(), wire.begin(), wire.end());
}
Bytes Question(uint16_t ar = 0) {
  Bytes b = Header(1, 0, 0, ar);
  AddName(&b, Wire("a.example."));
  Add(&b, {0, 1, 0, 1});
  return b;
}
void AddOpt(Bytes* b) { Add(b, {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0}); }

TEST(ParseQuery, DropCases) {
  ParsedQuery q;
  for (size_t n = 0; n < kHeaderSize; ++n) {
    Bytes b = Question();
    b.resize(n);
    EXPECT_EQ(Parse(b, &q), ParseResult::kDrop) << n;
  }
  Bytes r = Question();
  r[2] |= 0x80;  // QR.
  EXPECT_EQ(Parse(r, &q), ParseResult::kDrop);
  EXPECT_EQ(q.id, 0xABCD);
}

TEST(ParseQuery, NotImpEchoesQuestion) {
  Bytes b = Question();
  b[2] |= 4 << 3;  // Opcode NOTIFY.
  ParsedQuery q;
  EXPECT_EQ(Parse(b, &q), ParseResult::kNotImp);
  EXPECT_EQ(q.opcode, 4);
  EXPECT_TRUE(q.has_question);
  EXPECT_EQ(q.qname, Wire("a.example."));
  Bytes h = Header(0, 0, 0, 0, 5 << 11);  // UPDATE, no question.
  EXPECT_EQ(Parse(h, &q), ParseResult::kNotImp);
  EXPECT_FALSE(q.has_question);
}

TEST(ParseQuery, FormErrCases) {
  ParsedQuery q;
  auto expect_formerr = [&](const Bytes& b, const char* what) {
    EXPECT_EQ(Parse(b, &q), ParseResult::kFormErr) << what;
    EXPECT_EQ(q.id, 0xABCD) << what;
  };
  // Truncated question: every cut inside it.
  Bytes full = Question();
  for (size_t n = kHeaderSize; n < full.size(); ++n) {
    Bytes t(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    expect_formerr(t, "truncated question");
  }
  {
    Bytes b = Header(0, 0, 0, 0);
    expect_formerr(b, "qdcount 0");
    EXPECT_FALSE(q.has_question);
  }
  {
    Bytes b = Header(2, 0, 0, 0);
    AddName(&b, Wire("a.example."));
    Add(&b, {0, 1, 0, 1});
    AddName(&b, Wire("b.example."));
    Add(&b, {0, 1, 0, 1});
    expect_formerr(b, "qdcount 2");
  }
  {
    Bytes b = Question();
    b[7] = 1;  // ancount 1
    Add(&b, {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4});
    expect_formerr(b, "ancount 1");
    EXPECT_TRUE(q.has_question);
  }
  {
    Bytes b = Question();
    b[9] = 1;  // nscount 1
    expect_formerr(b, "nscount 1");
  }
  {
    Bytes b = Question();
    b.push_back(0);
    expect_formerr(b, "trailing byte");
  }
  {
    Bytes b = Question(1);
    AddOpt(&b);
    b.push_back(7);
    expect_formerr(b, "trailing byte after OPT");
  }
  {
    Bytes b = Question(1);
    AddOpt(&b);
    for (size_t cut = 1; cut <= 11; ++cut) {
      Bytes t(b.begin(), b.end() - static_cast<std::ptrdiff_t>(cut));
      expect_formerr(t, "truncated OPT");
    }
  }
  {
    Bytes b = Question(2);
    AddOpt(&b);
    AddOpt(&b);
    expect_formerr(b, "two OPTs");
  }
  {
    Bytes b = Question(1);
    AddName(&b, Wire("x."));
    Add(&b, {0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
    expect_formerr(b, "OPT not at root");
  }
  {
    Bytes b = Question(2);
    AddName(&b, Wire("k."));
    Add(&b, {0, 250, 0, 255, 0, 0, 0, 0, 0, 0});
    AddOpt(&b);
    expect_formerr(b, "TSIG not last");
  }
  {
    Bytes b = Question(1);
    Add(&b, {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4});
    expect_formerr(b, "unknown additional record");
  }
  {
    Bytes b = Question(2);
    AddOpt(&b);
    expect_formerr(b, "arcount beyond data");
  }
}

TEST(ParseQuery, NameErrors) {
  ParsedQuery q;
  auto with_name = [](std::initializer_list<uint8_t> name) {
    Bytes b = Header(1, 0, 0, 0);
    Add(&b, name);
    Add(&b, {0, 1, 0, 1});
    return b;
  };
  EXPECT_EQ(Parse(with_name({0xC0, 12}), &q), ParseResult::kFormErr)
      << "pointer to itself";
  EXPECT_EQ(Parse(with_name({1, 'a', 0xC0, 12}), &q), ParseResult::kFormErr)
      << "loop to the name start";
  EXPECT_EQ(Parse(with_name({1, 'a', 0xC0, 20}), &q), ParseResult::kFormErr)
      << "forward pointer";
  EXPECT_EQ(Parse(with_name({0x40, 0}), &q), ParseResult::kFormErr)
      << "0x40 label type";
  EXPECT_EQ(Parse(with_name({0x80, 0}), &q), ParseResult::kFormErr)
      << "0x80 label type";
  // Label of 64.
  {
    Bytes b = Header(1, 0, 0, 0);
    b.push_back(64);
    b.insert(b.end(), 64, 'a');
    Add(&b, {0, 0, 1, 0, 1});
    EXPECT_EQ(Parse(b, &q), ParseResult::kFormErr) << "label 64";
    b[kHeaderSize] = 63;
    b.erase(b.begin() + kHeaderSize + 1);
    EXPECT_EQ(Parse(b, &q), ParseResult::kOk) << "label 63";
  }
  // Names of 255 (ok) and 256 (too long) octets.
  for (int total : {255, 256}) {
    Bytes b = Header(1, 0, 0, 0);
    int left = total - 1;
    while (left > 0) {
      int len = std::min(63, left - 1);
      if (left - 1 - len == 1) --len;  // Avoid a remainder of one octet.
      b.push_back(static_cast<uint8_t>(len));
      b.insert(b.end(), static_cast<size_t>(len), 'x');
      left -= len + 1;
    }
    b.push_back(0);
    Add(&b, {0, 1, 0, 1});
    ASSERT_EQ(b.size(), kHeaderSize + static_cast<size_t>(total) + 4);
    EXPECT_EQ(Parse(b, &q),
              total == 255 ? ParseResult::kOk : ParseResult::kFormErr)
        << total;
  }
}

TEST(ReadName, CompressionAndHops) {
  // "b.example" at 12, then a name "a" + pointer to 12 at 23.
  Bytes b = Header(0, 0, 0, 0);
  AddName(&b, Wire("b.example."));  // 11 octets: offsets 12..22.
  Add(&b, {1, 'a', 0xC0, 12});      // offsets 23..26.
  size_t off = 23;
  std::string name;
  ASSERT_TRUE(ReadName(absl::MakeConstSpan(b), &off, &name));
  EXPECT_EQ(name, Wire("a.b.example."));
  EXPECT_EQ(off, 27u);
  // A chain of 128 backward pointers is fine, 129 is not.
  for (int hops : {128, 129}) {
    Bytes c = Header(0, 0, 0, 0);
    c.push_back(0);  // Root at 12.
    size_t prev = 12;
    for (int i = 0; i < hops; ++i) {
      size_t here = c.size();
      Add(&c, {static_cast<uint8_t>(0xC0 | (prev >> 8)),
               static_cast<uint8_t>(prev)});
      prev = here;
    }
    size_t start = prev;
    std::string n;
    EXPECT_EQ(ReadName(absl::MakeConstSpan(c), &start, &n), hops == 128)
        << hops;
  }
}

TEST(NameText, RoundTrips) {
  for (const char* text :
       {".", "example.", "6.6.5.e164.arpa.", "a\\.b.c.", "\\000.x.",
        "\\255\\\\.\\\".", "Mixed.Case.", "\\@\\$\\;\\(\\).", "*.wild."}) {
    auto wire = NameFromText(text);
    ASSERT_TRUE(wire.has_value()) << text;
    EXPECT_EQ(NameToText(*wire), text);
    EXPECT_EQ(NameFromText(NameToText(*wire)), wire);
  }
  EXPECT_EQ(NameFromText("a.b"), NameFromText("a.b."));
  EXPECT_EQ(*NameFromText("\\065"), std::string("\x01"
                                                "A\0",
                                                3));
  EXPECT_EQ(*NameFromText("\\x."), std::string("\x01x\0", 3));
  for (const char* bad :
       {"", "..", ".a.", "a..b.", "\\", "a\\", "\\25", "\\256.", "\\2a5."}) {
    EXPECT_FALSE(NameFromText(bad).has_value()) << bad;
  }
  EXPECT_TRUE(NameFromText(std::string(63, 'a') + ".").has_value());
  EXPECT_FALSE(NameFromText(std::string(64, 'a') + ".").has_value());
  // 4 * 63-octet labels = 256 octets with the root: too long.
  std::string l63(63, 'b');
  std::string long_name = l63 + "." + l63 + "." + l63 + "." + l63 + ".";
  EXPECT_FALSE(NameFromText(long_name).has_value());
  std::string ok_name =
      l63 + "." + l63 + "." + l63 + "." + std::string(61, 'c') + ".";
  EXPECT_EQ(NameFromText(ok_name)->size(), 255u);
  // Random byte labels survive the text round trip, checked against ldns.
  std::string raw(
      "\x03"
      "a\x00\xff"
      "\x02"
      ". \x00",
      8);
  EXPECT_EQ(NameFromText(NameToText(raw)), raw);
  ldns_rdf* l = ldns_dname_new_frm_str(NameToText(raw).c_str());
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(
      std::string(reinterpret_cast<char*>(ldns_rdf_data(l)), ldns_rdf_size(l)),
      raw);
  ldns_rdf_deep_free(l);
}

TEST(NameHelpers, LabelCountLowercaseSubdomain) {
  EXPECT_EQ(LabelCount(Wire(".")), 0);
  EXPECT_EQ(LabelCount(Wire("a.example.")), 2);
  EXPECT_EQ(LabelCount(Wire("*.example.")), 1);
  EXPECT_EQ(LabelCount(Wire("a.*.example.")), 3);
  EXPECT_EQ(LowercaseName(Wire("AbC.E164.ARPA.")), Wire("abc.e164.arpa."));
  EXPECT_TRUE(IsSubdomainOf(Wire("e164.arpa."), Wire("e164.arpa.")));
  EXPECT_TRUE(IsSubdomainOf(Wire("1.e164.arpa."), Wire("e164.arpa.")));
  EXPECT_TRUE(IsSubdomainOf(Wire("1.e164.arpa."), Wire(".")));
  EXPECT_FALSE(IsSubdomainOf(Wire("xe164.arpa."), Wire("e164.arpa.")));
  EXPECT_FALSE(IsSubdomainOf(Wire("arpa."), Wire("e164.arpa.")));
  EXPECT_FALSE(IsSubdomainOf(Wire("\x04"
                                  "e164.arpa."),
                             Wire("e164.arpa.")));
}

// ---------------------------------------------------------------------------
// ResponseWriter

TEST(ResponseWriter, AnswerParsesWithLdns) {
  ldns_pkt* qp = NewQuery("4.3.2.1.E164.Arpa.", LDNS_RR_TYPE_NAPTR);
  ldns_pkt_set_edns_udp_size(qp, 1232);
  Bytes qb = PktToWire(qp);
  ldns_pkt_free(qp);
  ParsedQuery q;
  ASSERT_EQ(Parse(qb, &q), ParseResult::kOk);

  uint8_t buf[512];
  ResponseWriter w(buf, sizeof(buf));
  ASSERT_TRUE(w.Start(q, kFlagAA | (q.flags & kFlagRD), kRcodeNoError));
  EXPECT_EQ(w.question_end(), q.question_end);
  std::string rdata = NaptrRdata(100, 10, "u", "E2U+sip",
                                 "!^.*$!sip:info@example.com!", Wire("."));
  ASSERT_TRUE(w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, 0,
                                      RrTail(kTypeNAPTR, kClassIN, 60, rdata)));
  std::string soa = SoaRdata(Wire("ns.e164.arpa."), Wire("h.e164.arpa."), 7,
                             3600, 600, 86400, 60);
  // Strip 4 labels: owner is the apex "E164.Arpa." (as the query spelled).
  ASSERT_TRUE(w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAuthority, 4,
                                      RrTail(kTypeSOA, kClassIN, 60, soa)));
  ASSERT_TRUE(
      w.AppendRr(ResponseWriter::Section::kAdditional, Wire("ns.e164.arpa."),
                 RrTail(kTypeA, kClassIN, 60, std::string("\x7f\0\0\x01", 4))));
  ASSERT_TRUE(w.AppendOpt(1232, kRcodeBadVers, kEdnsFlagDO));
  EXPECT_FALSE(w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, 7,
                                       RrTail(kTypeA, kClassIN, 1, "1234")))
      << "more labels than the qname has";

  ldns_pkt* rp = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&rp, w.data(), w.size()), LDNS_STATUS_OK);
  EXPECT_EQ(ldns_pkt_id(rp), 0x1234);
  EXPECT_TRUE(ldns_pkt_qr(rp));
  EXPECT_TRUE(ldns_pkt_aa(rp));
  EXPECT_TRUE(ldns_pkt_rd(rp));
  EXPECT_EQ(ldns_pkt_qdcount(rp), 1);
  EXPECT_EQ(ldns_pkt_ancount(rp), 1);
  EXPECT_EQ(ldns_pkt_nscount(rp), 1);
  EXPECT_EQ(ldns_pkt_arcount(rp), 1);  // ldns moves OPT out of the count.
  EXPECT_EQ(ldns_pkt_edns_udp_size(rp), 1232);
  EXPECT_TRUE(ldns_pkt_edns_do(rp));
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(rp), 1);
  ldns_rr* ans = ldns_rr_list_rr(ldns_pkt_answer(rp), 0);
  char* owner = ldns_rdf2str(ldns_rr_owner(ans));
  EXPECT_STREQ(owner, "4.3.2.1.E164.Arpa.");
  LDNS_FREE(owner);
  char* ans_str = ldns_rr2str(ans);
  EXPECT_NE(std::string(ans_str).find("E2U+sip"), std::string::npos);
  LDNS_FREE(ans_str);
  ldns_rr* auth = ldns_rr_list_rr(ldns_pkt_authority(rp), 0);
  char* auth_owner = ldns_rdf2str(ldns_rr_owner(auth));
  EXPECT_STREQ(auth_owner, "E164.Arpa.");
  LDNS_FREE(auth_owner);
  EXPECT_EQ(ldns_rr_get_type(auth), LDNS_RR_TYPE_SOA);
  ldns_pkt_free(rp);

  // TC path: drop all records, keep the question.
  w.TruncateToQuestion();
  w.SetFlags(static_cast<uint16_t>(kFlagQR | kFlagAA | kFlagTC));
  w.SetRcode(kRcodeServFail);
  EXPECT_EQ(w.size(), q.question_end);
  ASSERT_EQ(ldns_wire2pkt(&rp, w.data(), w.size()), LDNS_STATUS_OK);
  EXPECT_TRUE(ldns_pkt_tc(rp));
  EXPECT_EQ(ldns_pkt_get_rcode(rp), LDNS_RCODE_SERVFAIL);
  EXPECT_EQ(ldns_pkt_ancount(rp), 0);
  EXPECT_EQ(ldns_pkt_nscount(rp), 0);
  EXPECT_EQ(ldns_pkt_arcount(rp), 0);
  ldns_pkt_free(rp);
}

TEST(ResponseWriter, CapacityIsRespected) {
  ParsedQuery q;
  Bytes qb = Question();
  ASSERT_EQ(Parse(qb, &q), ParseResult::kOk);
  uint8_t small[20];
  ResponseWriter tiny(small, sizeof(small));
  EXPECT_FALSE(tiny.Start(q, 0, 0));  // 12 + 11 + 4 does not fit.

  uint8_t buf[64];
  std::memset(buf, 0xEE, sizeof(buf));
  ResponseWriter w(buf, 40);
  ASSERT_TRUE(w.Start(q, kFlagAA, kRcodeNxDomain));
  EXPECT_EQ(w.size(), 27u);
  std::string tail = RrTail(kTypeA, kClassIN, 5, "1234");  // 14 octets.
  EXPECT_FALSE(
      w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, 0, tail));
  EXPECT_EQ(w.size(), 27u);
  EXPECT_EQ(buf[27], 0xEE) << "nothing written on failure";
  EXPECT_TRUE(w.AppendOpt(1232, 0, 0));
  EXPECT_EQ(w.size(), 38u);
  EXPECT_FALSE(w.AppendOpt(1232, 0, 0));
  EXPECT_EQ(buf[40], 0xEE);
  EXPECT_EQ(buf[3] & 0x0F, kRcodeNxDomain);
  EXPECT_EQ(buf[11], 1);

  ResponseWriter f(buf, sizeof(buf));
  ASSERT_TRUE(f.StartNoQuestion(0x4242, 0, kRcodeFormErr));
  EXPECT_EQ(f.size(), kHeaderSize);
  EXPECT_EQ(buf[0], 0x42);
  EXPECT_EQ(buf[2], 0x80);
  EXPECT_EQ(buf[3], kRcodeFormErr);
  EXPECT_FALSE(
      f.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, 0, tail));
}

// ---------------------------------------------------------------------------
// RDATA encoders against ldns.

std::string LdnsTail(const std::string& text) {
  ldns_rr* rr = nullptr;
  EXPECT_EQ(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr),
            LDNS_STATUS_OK)
      << text;
  if (rr == nullptr) return std::string();
  uint8_t* buf = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_rr2wire(&buf, rr, LDNS_SECTION_ANSWER, &size), LDNS_STATUS_OK);
  const size_t owner = ldns_rdf_size(ldns_rr_owner(rr));
  std::string out(reinterpret_cast<char*>(buf) + owner, size - owner);
  LDNS_FREE(buf);
  ldns_rr_free(rr);
  return out;
}

TEST(Rdata, NaptrRfc6116AndRfc4769Examples) {
  struct Case {
    uint16_t order, pref;
    const char* flags;
    const char* services;
    const char* regexp;  // Raw octets.
    const char* replacement;
    const char* text;  // ldns presentation of the same record.
  };
  const Case cases[] = {
      // RFC 6116 section 4.
      {10, 100, "u", "E2U+sip", "!^.*$!sip:info@example.com!", ".",
       "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa. 3600 IN NAPTR 10 100 \"u\" "
       "\"E2U+sip\" \"!^.*$!sip:info@example.com!\" ."},
      {10, 101, "u", "E2U+h323", "!^.*$!h323:info@example.com!", ".",
       "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa. 3600 IN NAPTR 10 101 \"u\" "
       "\"E2U+h323\" \"!^.*$!h323:info@example.com!\" ."},
      {10, 102, "u", "E2U+email:mailto", "!^.*$!mailto:info@example.com!", ".",
       "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa. 3600 IN NAPTR 10 102 \"u\" "
       "\"E2U+email:mailto\" \"!^.*$!mailto:info@example.com!\" ."},
      // RFC 4769 section 4.
      {10, 100, "u", "E2U+pstn:tel", "!(^.*$)!tel:\\1;npdi!", ".",
       "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa. 3600 IN NAPTR 10 100 \"u\" "
       "\"E2U+pstn:tel\" \"!(^.*$)!tel:\\\\1;npdi!\" ."},
      {10, 100, "u", "E2U+pstn:sip",
       "!^.*$!sip:+4415550100;npdi;rn=+441632960000@example.com;user=phone!",
       ".",
       "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa. 3600 IN NAPTR 10 100 \"u\" "
       "\"E2U+pstn:sip\" "
       "\"!^.*$!sip:+4415550100;npdi;rn=+441632960000@example.com;user=phone!"
       "\" ."},
      // Non-terminal with a replacement name.
      {10, 10, "", "", "", "next.Example.",
       "x.e164.arpa. 3600 IN NAPTR 10 10 \"\" \"\" \"\" next.Example."},
  };
  for (const Case& c : cases) {
    std::string ours = RrTail(kTypeNAPTR, kClassIN, 3600,
                              NaptrRdata(c.order, c.pref, c.flags, c.services,
                                         c.regexp, Wire(c.replacement)));
    EXPECT_EQ(ours, LdnsTail(c.text)) << c.text;
  }
  EXPECT_TRUE(
      NaptrRdata(1, 1, "", "", std::string(256, 'x'), Wire(".")).empty());
  EXPECT_EQ(NaptrRdata(1, 1, "", "", std::string(255, 'x'), Wire(".")).size(),
            2 + 2 + 3 + 255 + 1);
}

TEST(Rdata, UriSoaAgreeWithLdns) {
  EXPECT_EQ(
      RrTail(kTypeURI, kClassIN, 300, UriRdata(10, 1, "sip:alice@example.com")),
      LdnsTail("_sip._udp.example.com. 300 IN URI 10 1 "
               "\"sip:alice@example.com\""));
  EXPECT_EQ(RrTail(kTypeSOA, kClassIN, 86400,
                   SoaRdata(Wire("ns1.example."), Wire("hostmaster.example."),
                            2026112701, 7200, 3600, 1209600, 300)),
            LdnsTail("example. 86400 IN SOA ns1.example. hostmaster.example. "
                     "2026112701 7200 3600 1209600 300"));
}

std::string LdnsBitmap(std::vector<ldns_rr_type> types) {
  ldns_rdf* rdf = ldns_dnssec_create_nsec_bitmap(types.data(), types.size(),
                                                 LDNS_RR_TYPE_NSEC);
  std::string out(reinterpret_cast<char*>(ldns_rdf_data(rdf)),
                  ldns_rdf_size(rdf));
  ldns_rdf_deep_free(rdf);
  return out;
}

TEST(Rdata, TypeBitmapAgreesWithLdns) {
  const std::vector<std::vector<uint16_t>> lists = {
      {kTypeA},
      {kTypeNAPTR, kTypeRRSIG, kTypeNSEC},
      {kTypeNS, kTypeSOA, kTypeRRSIG, kTypeNSEC, kTypeDNSKEY},
      {kTypeRRSIG, kTypeNSEC, kTypeNXNAME},
      {kTypeA, kTypeNAPTR, kTypeRRSIG, kTypeNSEC, kTypeURI},
      {1, 15, 255, 256, 1000, 32768, 65535},
  };
  for (const auto& l : lists) {
    std::vector<ldns_rr_type> lt;
    for (uint16_t t : l) lt.push_back(static_cast<ldns_rr_type>(t));
    EXPECT_EQ(TypeBitmap(l), LdnsBitmap(lt)) << l.size();
  }
  EXPECT_EQ(TypeBitmap({}), "");
  // Window 0, types 46 and 47: octet 5 carries both bits.
  EXPECT_EQ(TypeBitmap(std::vector<uint16_t>{46, 47}),
            std::string("\x00\x06\x00\x00\x00\x00\x00\x03", 8));
}

}  // namespace
}  // namespace lufd::dns
