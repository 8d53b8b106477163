// DNS wire format: the constants, the query parser of the hot path and the
// response writer. Names are kept in uncompressed wire form (length-prefixed
// labels ending with the root label) in std::string.
//
// The parser accepts exactly what an authoritative server must answer and
// classifies everything else (RFC 1035 section 4.1, RFC 6891, RFC 8945):
//   kDrop    not worth an answer (shorter than a header, QR set, or a
//            response would amplify garbage);
//   kFormErr header readable, the rest malformed: answer FORMERR echoing
//            the id (and the question when it parsed);
//   kNotImp  opcode other than QUERY (NOTIFY and friends come later);
//   kOk      one question, optional OPT, optional TSIG last; an IXFR query
//            may also carry one SOA in its authority section (RFC 1995:
//            the client's serial).
#ifndef LUFD_SERVER_DNS_WIRE_H_
#define LUFD_SERVER_DNS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/types/span.h"

namespace lufd::dns {

// Types.
inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNS = 2;
inline constexpr uint16_t kTypeCNAME = 5;
inline constexpr uint16_t kTypeSOA = 6;
inline constexpr uint16_t kTypeNAPTR = 35;
inline constexpr uint16_t kTypeOPT = 41;
inline constexpr uint16_t kTypeDS = 43;
inline constexpr uint16_t kTypeRRSIG = 46;
inline constexpr uint16_t kTypeNSEC = 47;
inline constexpr uint16_t kTypeDNSKEY = 48;
inline constexpr uint16_t kTypeNSEC3 = 50;
inline constexpr uint16_t kTypeNXNAME = 128;  // RFC 9824 meta-type.
inline constexpr uint16_t kTypeTSIG = 250;
inline constexpr uint16_t kTypeIXFR = 251;
inline constexpr uint16_t kTypeAXFR = 252;
inline constexpr uint16_t kTypeANY = 255;
inline constexpr uint16_t kTypeURI = 256;

inline constexpr uint16_t kClassIN = 1;
inline constexpr uint16_t kClassCH = 3;
inline constexpr uint16_t kClassANY = 255;

// RCODEs (4 bits in the header; 12 bits with EDNS extended rcode).
inline constexpr uint16_t kRcodeNoError = 0;
inline constexpr uint16_t kRcodeFormErr = 1;
inline constexpr uint16_t kRcodeServFail = 2;
inline constexpr uint16_t kRcodeNxDomain = 3;
inline constexpr uint16_t kRcodeNotImp = 4;
inline constexpr uint16_t kRcodeRefused = 5;
inline constexpr uint16_t kRcodeNotAuth = 9;
inline constexpr uint16_t kRcodeBadVers = 16;  // EDNS (extended rcode 1).
inline constexpr uint16_t kRcodeBadSig = 16;   // TSIG error field.
inline constexpr uint16_t kRcodeBadKey = 17;
inline constexpr uint16_t kRcodeBadTime = 18;

inline constexpr uint8_t kOpcodeQuery = 0;

// Header flag bits (second 16-bit word).
inline constexpr uint16_t kFlagQR = 0x8000;
inline constexpr uint16_t kFlagAA = 0x0400;
inline constexpr uint16_t kFlagTC = 0x0200;
inline constexpr uint16_t kFlagRD = 0x0100;
inline constexpr uint16_t kFlagRA = 0x0080;
inline constexpr uint16_t kFlagAD = 0x0020;
inline constexpr uint16_t kFlagCD = 0x0010;

// EDNS flags (OPT TTL low 16 bits).
inline constexpr uint16_t kEdnsFlagDO = 0x8000;
inline constexpr uint16_t kEdnsFlagCO = 0x4000;
// RFC 8914 Extended DNS Errors: the option code and the info codes the
// guard uses.
inline constexpr uint16_t kEdnsOptionEde = 15;
inline constexpr uint16_t kEdeBlocked = 15;
inline constexpr uint16_t kEdeProhibited = 18;  // RFC 9824 Compact Answers OK.

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxUdpNoEdns = 512;

enum class ParseResult { kOk, kFormErr, kNotImp, kDrop };

struct ParsedQuery {
  uint16_t id = 0;
  uint16_t flags = 0;  // The header's second word, as received.
  uint8_t opcode = 0;
  bool has_question = false;  // For FORMERR/NOTIMP: echo it when true.
  std::string qname;          // Uncompressed wire form, case as received.
  std::string qname_lower;    // Same, ASCII-lowercased (matching key).
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;  // Offset just past the question section.

  bool has_edns = false;
  uint8_t edns_version = 0;
  uint16_t udp_payload = 0;  // As the client advertised (0 without EDNS).
  bool do_bit = false;
  bool co_bit = false;

  // IXFR (RFC 1995 section 3): the SOA in the authority section holds the
  // serial the client has.
  bool has_ixfr_serial = false;
  uint32_t ixfr_serial = 0;

  // TSIG (RFC 8945): present only as the last additional record.
  bool has_tsig = false;
  size_t tsig_offset = 0;     // Where the TSIG RR starts in the packet.
  std::string tsig_key_name;  // Lowercase wire form.
};

// Parses a query. `out` is filled as far as parsing got (id and flags as
// soon as the header is there).
ParseResult ParseQuery(absl::Span<const uint8_t> packet, ParsedQuery* out);

// Reads a possibly compressed name at *offset (advanced past it) into
// uncompressed wire form. False on truncation, a label over 63, a name over
// 255 octets, a forward/looping pointer or more than 128 pointer hops.
bool ReadName(absl::Span<const uint8_t> packet, size_t* offset,
              std::string* name_wire);

// Wire name <-> presentation ("6.6.5.e164.arpa."). FromText rejects labels
// over 63, names over 255 and bad escapes; it understands \DDD and \X.
std::optional<std::string> NameFromText(std::string_view text);
std::string NameToText(std::string_view name_wire);
// Number of labels, not counting the root (RRSIG labels field; a leading
// "*" label is not counted).
uint8_t LabelCount(std::string_view name_wire);
// ASCII-lowercase copy.
std::string LowercaseName(std::string_view name_wire);
// True when `name` equals `apex` or is below it (both lowercase).
bool IsSubdomainOf(std::string_view name_lower, std::string_view apex_lower);

// Builds a response in a caller-owned buffer. Every Append* returns false
// (and writes nothing) when the record does not fit `capacity`; the caller
// then sets TC (UDP) or gives up. Counts in the header are maintained.
class ResponseWriter {
 public:
  enum class Section { kAnswer, kAuthority, kAdditional };

  ResponseWriter(uint8_t* buffer, size_t capacity);

  // Header + the query's question echoed with its original case.
  // `flags` are the response flags (QR is always set); rcode's low 4 bits
  // go into the header.
  bool Start(const ParsedQuery& query, uint16_t flags, uint16_t rcode);
  // Header only (no question), for FORMERR on an unparsable question.
  bool StartNoQuestion(uint16_t id, uint16_t flags, uint16_t rcode);

  // An RR whose owner is the query name with its first `strip_labels`
  // labels removed (0 = the qname itself, written as pointer 0xC00C; the
  // apex of a 7-label qname under a 2-label apex: strip 5). `tail` is
  // TYPE CLASS TTL RDLENGTH RDATA as it must appear on the wire.
  bool AppendRrAtQnameSuffix(Section section, size_t strip_labels,
                             std::string_view tail);
  // An RR with an explicit uncompressed owner.
  bool AppendRr(Section section, std::string_view owner_wire,
                std::string_view tail);
  // OPT pseudo-RR: our payload size, extended rcode high bits, flags.
  bool AppendOpt(uint16_t udp_payload, uint16_t rcode, uint16_t edns_flags);
  // OPT with one Extended DNS Error option (RFC 8914): `info_code` and
  // `text` (UTF-8, clipped to fit and to 200 bytes).
  bool AppendOptWithEde(uint16_t udp_payload, uint16_t rcode,
                        uint16_t edns_flags, uint16_t info_code,
                        std::string_view text);

  void SetFlags(uint16_t flags);  // Replaces the second header word.
  void SetRcode(uint16_t rcode);  // Low 4 bits into the header.
  // Drops every RR after the question, keeping the header counts right
  // (for TC).
  void TruncateToQuestion();

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  uint8_t* data() { return buffer_; }
  size_t question_end() const { return question_end_; }

 private:
  uint8_t* buffer_;
  size_t capacity_;
  size_t size_ = 0;
  size_t question_end_ = 0;
  size_t qname_offset_ = kHeaderSize;
  std::string qname_;  // To compute suffix pointers.
  uint16_t counts_[4] = {0, 0, 0, 0};
  bool Bump(Section s);
  // Writes an OPT RR whose `rdlen` bytes of RDATA the caller fills in at the
  // returned address (null when it does not fit), then counts with Bump().
  uint8_t* AppendOptHeader(uint16_t udp_payload, uint16_t rcode,
                           uint16_t edns_flags, size_t rdlen);
};

// TYPE CLASS TTL RDLENGTH RDATA: the tail of an RR after its owner.
// AppendRrTail adds it to `out` (the hot path reuses its capacity).
void AppendRrTail(std::string* out, uint16_t type, uint16_t klass, uint32_t ttl,
                  std::string_view rdata);
std::string RrTail(uint16_t type, uint16_t klass, uint32_t ttl,
                   std::string_view rdata);

// RDATA encoders (uncompressed names, RFC 3597 section 4). The Append*
// forms add to `out` (the hot path reuses its capacity); AppendNaptrRdata
// returns false and leaves `out` as it was when a character-string is over
// 255 octets. An empty replacement_wire means the root.
bool AppendNaptrRdata(std::string* out, uint16_t order, uint16_t preference,
                      std::string_view flags, std::string_view services,
                      std::string_view regexp,
                      std::string_view replacement_wire);
void AppendUriRdata(std::string* out, uint16_t priority, uint16_t weight,
                    std::string_view target);
std::string NaptrRdata(uint16_t order, uint16_t preference,
                       std::string_view flags, std::string_view services,
                       std::string_view regexp,
                       std::string_view replacement_wire);
std::string UriRdata(uint16_t priority, uint16_t weight,
                     std::string_view target);
std::string SoaRdata(std::string_view mname_wire, std::string_view rname_wire,
                     uint32_t serial, uint32_t refresh, uint32_t retry,
                     uint32_t expire, uint32_t minimum);
// NSEC type bitmap (RFC 4034 section 4.1.2) for a sorted, unique type list.
std::string TypeBitmap(absl::Span<const uint16_t> sorted_types);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_WIRE_H_
