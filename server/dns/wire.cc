// DNS wire format (see wire.h). The parser and the writer are the hot path
// of every UDP query, so they work on raw bytes with bounds checks and avoid
// heap allocation: names are decoded into a stack buffer first and copied
// into the caller's strings once (whose capacity survives reuse).
#include "server/dns/wire.h"

#include <algorithm>
#include <cstring>

#include "server/dns/bytes.h"

namespace lufd::dns {
namespace {

inline char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr int kMaxPointerHops = 128;

// Decodes the name at *offset into buf (kMaxNameLength octets), setting
// *len. Every pointer must target an offset strictly before the start of
// the label run that contains it, so a chain always moves backwards and
// cannot loop; the hop limit bounds the work anyway.
bool ReadNameRaw(const uint8_t* pkt, size_t size, size_t* offset, uint8_t* buf,
                 size_t* len) {
  size_t pos = *offset;
  size_t run_start = pos;
  size_t out = 0;
  size_t end_after = 0;  // Where the caller continues (set at 1st pointer).
  bool jumped = false;
  int hops = 0;
  for (;;) {
    if (pos >= size) return false;
    uint8_t b = pkt[pos];
    if ((b & 0xC0) == 0xC0) {
      if (pos + 1 >= size) return false;
      size_t target = static_cast<size_t>(((b & 0x3F) << 8) | pkt[pos + 1]);
      if (target >= run_start) return false;
      if (++hops > kMaxPointerHops) return false;
      if (!jumped) {
        end_after = pos + 2;
        jumped = true;
      }
      pos = target;
      run_start = target;
      continue;
    }
    if ((b & 0xC0) != 0) return false;  // 0x40 / 0x80: extended/obsolete.
    if (b == 0) {
      if (out + 1 > kMaxNameLength) return false;
      buf[out++] = 0;
      *offset = jumped ? end_after : pos + 1;
      *len = out;
      return true;
    }
    if (pos + 1 + b > size) return false;
    if (out + 1 + b + 1 > kMaxNameLength) return false;  // Leave the root.
    std::memcpy(buf + out, pkt + pos, 1 + static_cast<size_t>(b));
    out += 1 + static_cast<size_t>(b);
    pos += 1 + static_cast<size_t>(b);
  }
}

// Skips an RR's fixed part and RDATA after its owner; fills the fields.
struct RrFixed {
  uint16_t type;
  uint16_t klass;
  uint32_t ttl;
  uint16_t rdlength;
  size_t rdata;
};
bool ReadRrFixed(const uint8_t* pkt, size_t size, size_t* offset, RrFixed* rr) {
  size_t pos = *offset;
  if (pos > size || size - pos < 10) return false;
  rr->type = Get16(pkt + pos);
  rr->klass = Get16(pkt + pos + 2);
  rr->ttl = Get32(pkt + pos + 4);
  rr->rdlength = Get16(pkt + pos + 8);
  pos += 10;
  if (size - pos < rr->rdlength) return false;
  rr->rdata = pos;
  *offset = pos + rr->rdlength;
  return true;
}

void AssignLower(std::string* dst, const uint8_t* src, size_t len) {
  dst->assign(reinterpret_cast<const char*>(src), len);
  for (char& c : *dst) c = Lower(c);
}

}  // namespace

bool ReadName(absl::Span<const uint8_t> packet, size_t* offset,
              std::string* name_wire) {
  uint8_t buf[kMaxNameLength];
  size_t len = 0;
  size_t pos = *offset;
  if (!ReadNameRaw(packet.data(), packet.size(), &pos, buf, &len)) {
    return false;
  }
  name_wire->assign(reinterpret_cast<const char*>(buf), len);
  *offset = pos;
  return true;
}

ParseResult ParseQuery(absl::Span<const uint8_t> packet, ParsedQuery* out) {
  // Reset field by field: the strings keep their capacity between queries.
  out->id = 0;
  out->flags = 0;
  out->opcode = 0;
  out->has_question = false;
  out->qname.clear();
  out->qname_lower.clear();
  out->qtype = 0;
  out->qclass = 0;
  out->question_end = 0;
  out->has_edns = false;
  out->edns_version = 0;
  out->udp_payload = 0;
  out->do_bit = false;
  out->co_bit = false;
  out->has_ixfr_serial = false;
  out->ixfr_serial = 0;
  out->has_tsig = false;
  out->tsig_offset = 0;
  out->tsig_key_name.clear();

  const uint8_t* pkt = packet.data();
  const size_t size = packet.size();
  if (size < kHeaderSize) return ParseResult::kDrop;
  out->id = Get16(pkt);
  out->flags = Get16(pkt + 2);
  if (out->flags & kFlagQR) return ParseResult::kDrop;
  out->opcode = static_cast<uint8_t>((out->flags >> 11) & 0x0F);
  const uint16_t qdcount = Get16(pkt + 4);
  const uint16_t ancount = Get16(pkt + 6);
  const uint16_t nscount = Get16(pkt + 8);
  const uint16_t arcount = Get16(pkt + 10);

  uint8_t name[kMaxNameLength];
  size_t name_len = 0;
  size_t pos = kHeaderSize;
  bool question_ok = false;
  if (qdcount == 1 && ReadNameRaw(pkt, size, &pos, name, &name_len) &&
      size - pos >= 4) {
    out->qname.assign(reinterpret_cast<const char*>(name), name_len);
    AssignLower(&out->qname_lower, name, name_len);
    out->qtype = Get16(pkt + pos);
    out->qclass = Get16(pkt + pos + 2);
    pos += 4;
    out->question_end = pos;
    out->has_question = true;
    question_ok = true;
  }
  if (out->opcode != kOpcodeQuery) return ParseResult::kNotImp;
  // Only an IXFR query may have an authority section: one SOA whose serial
  // is the client's (RFC 1995 section 3).
  const bool ixfr_soa = question_ok && out->qtype == kTypeIXFR && nscount == 1;
  if (!question_ok || ancount != 0 || (nscount != 0 && !ixfr_soa)) {
    return ParseResult::kFormErr;
  }
  if (ixfr_soa) {
    if (!ReadNameRaw(pkt, size, &pos, name, &name_len)) {
      return ParseResult::kFormErr;
    }
    RrFixed rr;
    if (!ReadRrFixed(pkt, size, &pos, &rr) || rr.type != kTypeSOA) {
      return ParseResult::kFormErr;
    }
    // RDATA: MNAME RNAME (possibly compressed) SERIAL REFRESH RETRY EXPIRE
    // MINIMUM; the names must end inside it.
    const size_t rdata_end = rr.rdata + rr.rdlength;
    size_t at = rr.rdata;
    if (!ReadNameRaw(pkt, rdata_end, &at, name, &name_len) ||
        !ReadNameRaw(pkt, rdata_end, &at, name, &name_len) ||
        rdata_end - at != 20) {
      return ParseResult::kFormErr;
    }
    out->ixfr_serial = Get32(pkt + at);
    out->has_ixfr_serial = true;
  }

  for (uint16_t i = 0; i < arcount; ++i) {
    const size_t rr_start = pos;
    if (!ReadNameRaw(pkt, size, &pos, name, &name_len)) {
      return ParseResult::kFormErr;
    }
    RrFixed rr;
    if (!ReadRrFixed(pkt, size, &pos, &rr)) return ParseResult::kFormErr;
    if (rr.type == kTypeOPT) {
      if (out->has_edns || name_len != 1) return ParseResult::kFormErr;
      out->has_edns = true;
      out->udp_payload = rr.klass < kMaxUdpNoEdns
                             ? static_cast<uint16_t>(kMaxUdpNoEdns)
                             : rr.klass;
      out->edns_version = static_cast<uint8_t>(rr.ttl >> 16);
      const uint16_t eflags = static_cast<uint16_t>(rr.ttl);
      out->do_bit = (eflags & kEdnsFlagDO) != 0;
      out->co_bit = (eflags & kEdnsFlagCO) != 0;
      // Options: code, length, data; they must tile RDATA exactly.
      size_t opt = rr.rdata;
      const size_t opt_end = rr.rdata + rr.rdlength;
      while (opt < opt_end) {
        if (opt_end - opt < 4) return ParseResult::kFormErr;
        const uint16_t olen = Get16(pkt + opt + 2);
        opt += 4;
        if (opt_end - opt < olen) return ParseResult::kFormErr;
        opt += olen;
      }
    } else if (rr.type == kTypeTSIG) {
      if (i + 1 != arcount) return ParseResult::kFormErr;
      out->has_tsig = true;
      out->tsig_offset = rr_start;
      AssignLower(&out->tsig_key_name, name, name_len);
    } else {
      return ParseResult::kFormErr;
    }
  }
  if (pos != size) return ParseResult::kFormErr;
  return ParseResult::kOk;
}

std::optional<std::string> NameFromText(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == ".") return std::string(1, '\0');
  std::string out;
  out.reserve(text.size() + 2);
  size_t label_start = 0;  // Index of the current label's length octet.
  out.push_back('\0');
  size_t i = 0;
  bool label_empty = true;
  while (i < text.size()) {
    char c = text[i];
    if (c == '.') {
      if (label_empty) return std::nullopt;  // "..", leading '.'.
      const size_t len = out.size() - label_start - 1;
      if (len > 63) return std::nullopt;
      out[label_start] = static_cast<char>(len);
      ++i;
      if (i == text.size()) break;  // Trailing dot: absolute.
      label_start = out.size();
      out.push_back('\0');
      label_empty = true;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      char d = text[i + 1];
      if (d >= '0' && d <= '9') {
        if (i + 4 > text.size()) return std::nullopt;
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char e = text[i + k];
          if (e < '0' || e > '9') return std::nullopt;
          v = v * 10 + (e - '0');
        }
        if (v > 255) return std::nullopt;
        out.push_back(static_cast<char>(v));
        i += 4;
      } else {
        out.push_back(d);
        i += 2;
      }
    } else {
      out.push_back(c);
      ++i;
    }
    label_empty = false;
    if (out.size() - label_start - 1 > 63) return std::nullopt;
  }
  if (!label_empty) {
    // Relative text ("a.b") is taken as absolute: close the last label.
    const size_t len = out.size() - label_start - 1;
    if (len > 63) return std::nullopt;
    out[label_start] = static_cast<char>(len);
  } else {
    out.pop_back();  // The placeholder opened after the trailing dot.
  }
  out.push_back('\0');
  if (out.size() > kMaxNameLength) return std::nullopt;
  return out;
}

std::string NameToText(std::string_view name_wire) {
  std::string out;
  size_t pos = 0;
  if (name_wire.empty() || name_wire[0] == '\0') return ".";
  while (pos < name_wire.size()) {
    const size_t len = static_cast<uint8_t>(name_wire[pos]);
    if (len == 0) break;
    ++pos;
    for (size_t k = 0; k < len && pos < name_wire.size(); ++k, ++pos) {
      const unsigned char c = static_cast<unsigned char>(name_wire[pos]);
      switch (c) {
        case '.':
        case '\\':
        case '"':
        case '(':
        case ')':
        case ';':
        case '@':
        case '$':
          out.push_back('\\');
          out.push_back(static_cast<char>(c));
          break;
        default:
          if (c < 0x21 || c > 0x7e) {
            out.push_back('\\');
            out.push_back(static_cast<char>('0' + c / 100));
            out.push_back(static_cast<char>('0' + (c / 10) % 10));
            out.push_back(static_cast<char>('0' + c % 10));
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
    }
    out.push_back('.');
  }
  return out;
}

uint8_t LabelCount(std::string_view name_wire) {
  uint8_t count = 0;
  size_t pos = 0;
  bool first = true;
  while (pos < name_wire.size()) {
    const size_t len = static_cast<uint8_t>(name_wire[pos]);
    if (len == 0) break;
    const bool wildcard =
        first && len == 1 && pos + 1 < name_wire.size() && name_wire[1] == '*';
    if (!wildcard) ++count;
    first = false;
    pos += 1 + len;
  }
  return count;
}

std::string LowercaseName(std::string_view name_wire) {
  std::string out(name_wire);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsSubdomainOf(std::string_view name_lower, std::string_view apex_lower) {
  if (apex_lower.size() > name_lower.size()) return false;
  size_t pos = 0;
  const size_t want = name_lower.size() - apex_lower.size();
  // Only label boundaries count: "xexample.com" is not under "example.com".
  while (pos < want) pos += 1 + static_cast<uint8_t>(name_lower[pos]);
  return pos == want && name_lower.substr(pos) == apex_lower;
}

// ---------------------------------------------------------------------------
// ResponseWriter

ResponseWriter::ResponseWriter(uint8_t* buffer, size_t capacity)
    : buffer_(buffer), capacity_(capacity) {}

namespace {
inline uint16_t ResponseFlags(uint16_t flags, uint16_t rcode) {
  return static_cast<uint16_t>(((flags | kFlagQR) & ~0x000Fu) |
                               (rcode & 0x000Fu));
}
}  // namespace

bool ResponseWriter::StartNoQuestion(uint16_t id, uint16_t flags,
                                     uint16_t rcode) {
  if (capacity_ < kHeaderSize) return false;
  Put16(buffer_, id);
  Put16(buffer_ + 2, ResponseFlags(flags, rcode));
  std::memset(buffer_ + 4, 0, 8);
  for (uint16_t& c : counts_) c = 0;
  size_ = kHeaderSize;
  question_end_ = kHeaderSize;
  qname_offset_ = 0;  // No question: suffix owners are unavailable.
  return true;
}

bool ResponseWriter::Start(const ParsedQuery& query, uint16_t flags,
                           uint16_t rcode) {
  if (!query.has_question) {
    return StartNoQuestion(query.id, flags, rcode);
  }
  const size_t need = kHeaderSize + query.qname.size() + 4;
  if (query.qname.empty() || query.qname.size() > kMaxNameLength ||
      capacity_ < need) {
    return false;
  }
  Put16(buffer_, query.id);
  Put16(buffer_ + 2, ResponseFlags(flags, rcode));
  std::memset(buffer_ + 4, 0, 8);
  for (uint16_t& c : counts_) c = 0;
  counts_[0] = 1;
  Put16(buffer_ + 4, 1);
  std::memcpy(buffer_ + kHeaderSize, query.qname.data(), query.qname.size());
  size_t pos = kHeaderSize + query.qname.size();
  Put16(buffer_ + pos, query.qtype);
  Put16(buffer_ + pos + 2, query.qclass);
  size_ = need;
  question_end_ = need;
  qname_offset_ = kHeaderSize;
  return true;
}

bool ResponseWriter::Bump(Section s) {
  const int idx = s == Section::kAnswer ? 1 : s == Section::kAuthority ? 2 : 3;
  if (counts_[idx] == 0xFFFF) return false;
  ++counts_[idx];
  Put16(buffer_ + 4 + 2 * idx, counts_[idx]);
  return true;
}

bool ResponseWriter::AppendRrAtQnameSuffix(Section section, size_t strip_labels,
                                           std::string_view tail) {
  if (qname_offset_ == 0 || size_ < question_end_) return false;
  // Find the suffix inside the echoed question: it is uncompressed there.
  size_t off = qname_offset_;
  for (size_t k = 0; k < strip_labels; ++k) {
    const uint8_t len = buffer_[off];
    if (len == 0) return false;  // More labels stripped than there are.
    off += 1 + len;
  }
  const bool root = buffer_[off] == 0;
  const size_t owner_len = root ? 1 : 2;
  if (capacity_ - size_ < owner_len + tail.size()) return false;
  if (tail.size() < 10) return false;
  const int idx = section == Section::kAnswer      ? 1
                  : section == Section::kAuthority ? 2
                                                   : 3;
  if (counts_[idx] == 0xFFFF) return false;
  uint8_t* p = buffer_ + size_;
  if (root) {
    p[0] = 0;
  } else {
    Put16(p, static_cast<uint16_t>(0xC000 | off));
  }
  std::memcpy(p + owner_len, tail.data(), tail.size());
  size_ += owner_len + tail.size();
  return Bump(section);
}

bool ResponseWriter::AppendRr(Section section, std::string_view owner_wire,
                              std::string_view tail) {
  if (size_ < kHeaderSize) return false;
  if (capacity_ - size_ < owner_wire.size() + tail.size()) return false;
  if (owner_wire.empty() || tail.size() < 10) return false;
  const int idx = section == Section::kAnswer      ? 1
                  : section == Section::kAuthority ? 2
                                                   : 3;
  if (counts_[idx] == 0xFFFF) return false;
  uint8_t* p = buffer_ + size_;
  std::memcpy(p, owner_wire.data(), owner_wire.size());
  std::memcpy(p + owner_wire.size(), tail.data(), tail.size());
  size_ += owner_wire.size() + tail.size();
  return Bump(section);
}

uint8_t* ResponseWriter::AppendOptHeader(uint16_t udp_payload, uint16_t rcode,
                                         uint16_t edns_flags, size_t rdlen) {
  if (size_ < kHeaderSize || capacity_ - size_ < 11 + rdlen) return nullptr;
  if (counts_[3] == 0xFFFF) return nullptr;
  uint8_t* p = buffer_ + size_;
  p[0] = 0;  // Root owner.
  Put16(p + 1, kTypeOPT);
  Put16(p + 3, udp_payload);
  // TTL: extended rcode (upper 8 of 12 bits), version 0, flags.
  p[5] = static_cast<uint8_t>((rcode >> 4) & 0xFF);
  p[6] = 0;
  Put16(p + 7, edns_flags);
  Put16(p + 9, static_cast<uint16_t>(rdlen));
  size_ += 11 + rdlen;
  return p + 11;
}

bool ResponseWriter::AppendOpt(uint16_t udp_payload, uint16_t rcode,
                               uint16_t edns_flags) {
  if (AppendOptHeader(udp_payload, rcode, edns_flags, 0) == nullptr) {
    return false;
  }
  return Bump(Section::kAdditional);
}

bool ResponseWriter::AppendOptWithEde(uint16_t udp_payload, uint16_t rcode,
                                      uint16_t edns_flags, uint16_t info_code,
                                      std::string_view text) {
  // The option: code, length, info code, then the text, clipped to fit.
  constexpr size_t kFixed = 11 + 6;
  if (size_ < kHeaderSize || capacity_ - size_ < kFixed) return false;
  text = text.substr(
      0, std::min<size_t>({text.size(), capacity_ - size_ - kFixed, 200}));
  uint8_t* o = AppendOptHeader(udp_payload, rcode, edns_flags, 6 + text.size());
  if (o == nullptr) return false;
  Put16(o, kEdnsOptionEde);
  Put16(o + 2, static_cast<uint16_t>(2 + text.size()));
  Put16(o + 4, info_code);
  std::memcpy(o + 6, text.data(), text.size());
  return Bump(Section::kAdditional);
}

void ResponseWriter::SetFlags(uint16_t flags) {
  if (size_ < kHeaderSize) return;
  Put16(buffer_ + 2, flags);
}

void ResponseWriter::SetRcode(uint16_t rcode) {
  if (size_ < kHeaderSize) return;
  const uint16_t f = Get16(buffer_ + 2);
  Put16(buffer_ + 2, static_cast<uint16_t>((f & ~0x000Fu) | (rcode & 0x000Fu)));
}

void ResponseWriter::TruncateToQuestion() {
  if (size_ < kHeaderSize) return;
  size_ = question_end_;
  counts_[1] = counts_[2] = counts_[3] = 0;
  std::memset(buffer_ + 6, 0, 6);
}

// ---------------------------------------------------------------------------
// RDATA encoders

void AppendRrTail(std::string* out, uint16_t type, uint16_t klass, uint32_t ttl,
                  std::string_view rdata) {
  Append16(out, type);
  Append16(out, klass);
  Append32(out, ttl);
  Append16(out, static_cast<uint16_t>(rdata.size()));
  out->append(rdata);
}

std::string RrTail(uint16_t type, uint16_t klass, uint32_t ttl,
                   std::string_view rdata) {
  std::string out;
  out.reserve(10 + rdata.size());
  AppendRrTail(&out, type, klass, ttl, rdata);
  return out;
}

bool AppendNaptrRdata(std::string* out, uint16_t order, uint16_t preference,
                      std::string_view flags, std::string_view services,
                      std::string_view regexp,
                      std::string_view replacement_wire) {
  if (flags.size() > 255 || services.size() > 255 || regexp.size() > 255) {
    return false;
  }
  Append16(out, order);
  Append16(out, preference);
  out->push_back(static_cast<char>(flags.size()));
  out->append(flags);
  out->push_back(static_cast<char>(services.size()));
  out->append(services);
  out->push_back(static_cast<char>(regexp.size()));
  out->append(regexp);
  if (replacement_wire.empty()) {
    out->push_back('\0');
  } else {
    out->append(replacement_wire);
  }
  return true;
}

void AppendUriRdata(std::string* out, uint16_t priority, uint16_t weight,
                    std::string_view target) {
  Append16(out, priority);
  Append16(out, weight);
  out->append(target);  // RFC 7553: the rest of the RDATA, no length.
}

// NAPTR character-strings over 255 octets cannot be encoded; the result is
// then empty, which no caller can mistake for valid RDATA (validation in
// server/core rejects such records long before they get here).
std::string NaptrRdata(uint16_t order, uint16_t preference,
                       std::string_view flags, std::string_view services,
                       std::string_view regexp,
                       std::string_view replacement_wire) {
  std::string out;
  out.reserve(7 + flags.size() + services.size() + regexp.size() +
              replacement_wire.size());
  if (!AppendNaptrRdata(&out, order, preference, flags, services, regexp,
                        replacement_wire)) {
    return std::string();
  }
  return out;
}

std::string UriRdata(uint16_t priority, uint16_t weight,
                     std::string_view target) {
  std::string out;
  out.reserve(4 + target.size());
  AppendUriRdata(&out, priority, weight, target);
  return out;
}

std::string SoaRdata(std::string_view mname_wire, std::string_view rname_wire,
                     uint32_t serial, uint32_t refresh, uint32_t retry,
                     uint32_t expire, uint32_t minimum) {
  std::string out;
  out.reserve(mname_wire.size() + rname_wire.size() + 20);
  out.append(mname_wire);
  out.append(rname_wire);
  Append32(&out, serial);
  Append32(&out, refresh);
  Append32(&out, retry);
  Append32(&out, expire);
  Append32(&out, minimum);
  return out;
}

std::string TypeBitmap(absl::Span<const uint16_t> sorted_types) {
  std::string out;
  size_t i = 0;
  while (i < sorted_types.size()) {
    const uint8_t window = static_cast<uint8_t>(sorted_types[i] >> 8);
    uint8_t bits[32] = {};
    int max_octet = -1;
    while (i < sorted_types.size() && (sorted_types[i] >> 8) == window) {
      const uint8_t low = static_cast<uint8_t>(sorted_types[i]);
      bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
      if (low / 8 > max_octet) max_octet = low / 8;
      ++i;
    }
    out.push_back(static_cast<char>(window));
    out.push_back(static_cast<char>(max_octet + 1));
    out.append(reinterpret_cast<const char*>(bits),
               static_cast<size_t>(max_octet + 1));
  }
  return out;
}

}  // namespace lufd::dns
