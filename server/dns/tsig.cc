#include "server/dns/tsig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "server/dns/bytes.h"

namespace lufd::dns {
namespace {

constexpr char kHmacSha256Wire[] = "\x0bhmac-sha256";  // + root label.
constexpr size_t kHmacSha256WireSize = 13;

std::string HmacSha256Name() {
  return std::string(kHmacSha256Wire, kHmacSha256WireSize);
}

void Append48(std::string* out, uint64_t v) {
  Append16(out, static_cast<uint16_t>((v >> 32) & 0xffff));
  Append32(out, static_cast<uint32_t>(v & 0xffffffff));
}

// One TSIG record, as parsed from a message.
struct TsigRecord {
  std::string key_name;   // Lowercase wire.
  std::string algorithm;  // Lowercase wire.
  uint64_t time_signed = 0;
  uint16_t fudge = 0;
  std::string mac;
  uint16_t original_id = 0;
  uint16_t error = 0;
  std::string other;
};

// Parses the TSIG RR starting at `offset`, which must run to the end of
// the packet. False when malformed.
bool ParseTsigRecord(absl::Span<const uint8_t> packet, size_t offset,
                     TsigRecord* out) {
  std::string owner;
  if (!ReadName(packet, &offset, &owner)) return false;
  if (offset + 10 > packet.size()) return false;
  const uint8_t* p = packet.data() + offset;
  const uint16_t type = Get16(p);
  const uint16_t klass = Get16(p + 2);
  const uint32_t ttl =
      (static_cast<uint32_t>(Get16(p + 4)) << 16) | Get16(p + 6);
  const uint16_t rdlen = Get16(p + 8);
  offset += 10;
  if (type != kTypeTSIG || klass != kClassANY || ttl != 0) return false;
  if (offset + rdlen != packet.size()) return false;
  const size_t rdata_end = offset + rdlen;
  // The algorithm name is never compressed (RFC 8945 section 4.2), but a
  // pointer would only make ReadName follow it backwards, which is safe.
  std::string algorithm;
  if (!ReadName(packet.first(rdata_end), &offset, &algorithm)) return false;
  if (offset + 10 > rdata_end) return false;
  p = packet.data() + offset;
  out->time_signed = (static_cast<uint64_t>(Get16(p)) << 32) |
                     (static_cast<uint64_t>(Get16(p + 2)) << 16) | Get16(p + 4);
  out->fudge = Get16(p + 6);
  const uint16_t mac_size = Get16(p + 8);
  offset += 10;
  if (offset + mac_size + 6 > rdata_end) return false;
  out->mac.assign(reinterpret_cast<const char*>(packet.data() + offset),
                  mac_size);
  offset += mac_size;
  p = packet.data() + offset;
  out->original_id = Get16(p);
  out->error = Get16(p + 2);
  const uint16_t other_len = Get16(p + 4);
  offset += 6;
  if (offset + other_len != rdata_end) return false;
  out->other.assign(reinterpret_cast<const char*>(packet.data() + offset),
                    other_len);
  out->key_name = LowercaseName(owner);
  out->algorithm = LowercaseName(algorithm);
  return true;
}

// The TSIG variables of the digest (RFC 8945 section 4.3.3).
void AppendVariables(std::string* d, std::string_view key_name,
                     std::string_view algorithm, uint64_t time_signed,
                     uint16_t fudge, uint16_t error, std::string_view other) {
  d->append(key_name);
  Append16(d, kClassANY);
  Append32(d, 0);
  d->append(algorithm);
  Append48(d, time_signed);
  Append16(d, fudge);
  Append16(d, error);
  Append16(d, static_cast<uint16_t>(other.size()));
  d->append(other);
}

// The message part of the digest: the bytes before the TSIG record with the
// original id in the header and ARCOUNT as it was before TSIG was added.
void AppendMessage(std::string* d, const uint8_t* msg, size_t size,
                   uint16_t original_id, bool tsig_counted) {
  const size_t start = d->size();
  d->append(reinterpret_cast<const char*>(msg), size);
  char* h = d->data() + start;
  h[0] = static_cast<char>(original_id >> 8);
  h[1] = static_cast<char>(original_id & 0xff);
  if (tsig_counted) {
    uint16_t ar = Get16(reinterpret_cast<const uint8_t*>(h + 10));
    --ar;
    h[10] = static_cast<char>(ar >> 8);
    h[11] = static_cast<char>(ar & 0xff);
  }
}

std::string Hmac(std::string_view secret, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
           &md_len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<char*>(md), md_len);
}

// TSIG RR: owner + TYPE CLASS TTL RDLENGTH RDATA.
std::string TsigRr(std::string_view key_name, std::string_view algorithm,
                   uint64_t time_signed, uint16_t fudge, std::string_view mac,
                   uint16_t original_id, uint16_t error,
                   std::string_view other) {
  std::string rdata(algorithm);
  Append48(&rdata, time_signed);
  Append16(&rdata, fudge);
  Append16(&rdata, static_cast<uint16_t>(mac.size()));
  rdata.append(mac);
  Append16(&rdata, original_id);
  Append16(&rdata, error);
  Append16(&rdata, static_cast<uint16_t>(other.size()));
  rdata.append(other);
  std::string rr(key_name);
  Append16(&rr, kTypeTSIG);
  Append16(&rr, kClassANY);
  Append32(&rr, 0);
  Append16(&rr, static_cast<uint16_t>(rdata.size()));
  rr.append(rdata);
  return rr;
}

void BumpArcount(uint8_t* buf) {
  const uint16_t ar = static_cast<uint16_t>(Get16(buf + 10) + 1);
  buf[10] = static_cast<uint8_t>(ar >> 8);
  buf[11] = static_cast<uint8_t>(ar & 0xff);
}

std::string ServerTime(uint64_t now) {
  std::string other;
  Append48(&other, now);
  return other;
}

// Skips one RR at *offset (false when malformed).
bool SkipRr(absl::Span<const uint8_t> packet, size_t* offset) {
  std::string name;
  if (!ReadName(packet, offset, &name)) return false;
  if (*offset + 10 > packet.size()) return false;
  const uint16_t rdlen = Get16(packet.data() + *offset + 8);
  *offset += 10 + rdlen;
  return *offset <= packet.size();
}

// The offset of the last RR when it is a TSIG record, or nullopt.
std::optional<size_t> FindTsig(absl::Span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return std::nullopt;
  const uint8_t* h = msg.data();
  const size_t qd = Get16(h + 4);
  const size_t rrs = size_t{Get16(h + 6)} + Get16(h + 8) + Get16(h + 10);
  if (rrs == 0) return std::nullopt;
  size_t offset = kHeaderSize;
  std::string name;
  for (size_t i = 0; i < qd; ++i) {
    if (!ReadName(msg, &offset, &name) || offset + 4 > msg.size()) {
      return std::nullopt;
    }
    offset += 4;
  }
  for (size_t i = 0; i + 1 < rrs; ++i) {
    if (!SkipRr(msg, &offset)) return std::nullopt;
  }
  return offset;
}

}  // namespace

TsigKeyLookup TsigLookupFromViews(const ViewHolder* views) {
  return [views](std::string_view key_name_wire) -> std::optional<TsigKey> {
    std::shared_ptr<const RegistryView> view = views->Current();
    if (view == nullptr) return std::nullopt;
    std::string text = NameToText(key_name_wire);  // "ssp1-key."
    std::optional<lufd::v1::Credential> cred = view->FindTsigCredential(text);
    if (!cred.has_value() && text.size() > 1 && text.back() == '.') {
      text.pop_back();
      cred = view->FindTsigCredential(text);
    }
    if (!cred.has_value() || cred->disabled() || cred->tsig_secret().empty()) {
      return std::nullopt;
    }
    std::string alg = absl::AsciiStrToLower(cred->tsig_algorithm());
    if (!alg.empty() && alg != "hmac-sha256" && alg != "hmac-sha256.") {
      return std::nullopt;
    }
    TsigKey key;
    key.secret = cred->tsig_secret();
    key.identity.org_id = cred->org_id();
    key.identity.credential_id = cred->id();
    key.identity.role = cred->role();
    if (key.identity.org_id.empty()) return std::nullopt;
    return key;
  };
}

TsigState VerifyQueryTsig(absl::Span<const uint8_t> packet,
                          const ParsedQuery& query, const TsigKeyLookup& keys,
                          uint64_t now) {
  TsigState state;
  if (!query.has_tsig) return state;
  TsigRecord rec;
  if (query.tsig_offset < kHeaderSize || query.tsig_offset >= packet.size() ||
      !ParseTsigRecord(packet, query.tsig_offset, &rec)) {
    state.status = TsigStatus::kFormErr;
    return state;
  }
  state.key_name = rec.key_name;
  state.algorithm = rec.algorithm;
  state.time_signed = rec.time_signed;
  state.fudge = rec.fudge;
  state.original_id = rec.original_id;
  // 1. Key and algorithm (RFC 8945 section 5.2.1).
  std::optional<TsigKey> key;
  if (rec.algorithm == HmacSha256Name() && keys) key = keys(rec.key_name);
  if (!key.has_value()) {
    state.status = TsigStatus::kBadKey;
    return state;
  }
  // 2. MAC (section 5.2.2). Truncated MACs are not accepted: every client
  // in use sends the full 32 bytes, and accepting less only weakens it.
  std::string digest;
  AppendMessage(&digest, packet.data(), query.tsig_offset, rec.original_id,
                /*tsig_counted=*/true);
  AppendVariables(&digest, rec.key_name, rec.algorithm, rec.time_signed,
                  rec.fudge, rec.error, rec.other);
  const std::string mac = Hmac(key->secret, digest);
  if (rec.mac.size() != kTsigMacSize || mac.size() != kTsigMacSize ||
      CRYPTO_memcmp(mac.data(), rec.mac.data(), kTsigMacSize) != 0) {
    state.status = TsigStatus::kBadSig;
    return state;
  }
  state.request_mac = rec.mac;
  state.secret = key->secret;
  // 3. Time (section 5.2.3).
  const uint64_t fudge = std::min<uint64_t>(rec.fudge, kTsigMaxFudge);
  const uint64_t skew =
      now > rec.time_signed ? now - rec.time_signed : rec.time_signed - now;
  if (skew > fudge) {
    state.status = TsigStatus::kBadTime;
    return state;
  }
  state.status = TsigStatus::kOk;
  state.identity = key->identity;
  return state;
}

size_t TsigReserve(const TsigState& state) {
  const size_t algorithm =
      state.algorithm.empty() ? kHmacSha256WireSize : state.algorithm.size();
  return state.key_name.size() + 10 + algorithm + 6 + 2 + 2 + kTsigMacSize + 2 +
         2 + 2 + 6;
}

namespace {

// Signs buf[0..size) (no TSIG yet) as a response: request MAC, message,
// variables. Returns the TSIG RR to append.
std::string ResponseTsigRr(const TsigState& state, const uint8_t* buf,
                           size_t size, uint64_t time_signed, uint16_t error,
                           std::string_view other) {
  const uint16_t id = Get16(buf);
  std::string digest;
  Append16(&digest, static_cast<uint16_t>(state.request_mac.size()));
  digest.append(state.request_mac);
  AppendMessage(&digest, buf, size, id, /*tsig_counted=*/false);
  const std::string algorithm = HmacSha256Name();
  AppendVariables(&digest, state.key_name, algorithm, time_signed,
                  kTsigMaxFudge, error, other);
  const std::string mac = Hmac(state.secret, digest);
  return TsigRr(state.key_name, algorithm, time_signed, kTsigMaxFudge, mac, id,
                error, other);
}

}  // namespace

size_t SignResponse(const TsigState& state, uint8_t* buf, size_t size,
                    size_t capacity, uint64_t now) {
  if (size < kHeaderSize || state.secret.empty()) return 0;
  const std::string rr =
      ResponseTsigRr(state, buf, size, now, kRcodeNoError, std::string_view());
  if (size + rr.size() > capacity) return 0;
  std::memcpy(buf + size, rr.data(), rr.size());
  BumpArcount(buf);
  return size + rr.size();
}

size_t TsigStreamSigner::Sign(uint8_t* buf, size_t size, size_t capacity,
                              uint64_t now) {
  if (size < kHeaderSize || state_.secret.empty()) return 0;
  const uint16_t id = Get16(buf);
  const std::string algorithm = HmacSha256Name();
  std::string digest;
  if (first_) {
    Append16(&digest, static_cast<uint16_t>(state_.request_mac.size()));
    digest.append(state_.request_mac);
    AppendMessage(&digest, buf, size, id, /*tsig_counted=*/false);
    AppendVariables(&digest, state_.key_name, algorithm, now, kTsigMaxFudge,
                    kRcodeNoError, std::string_view());
  } else {
    Append16(&digest, static_cast<uint16_t>(prior_mac_.size()));
    digest.append(prior_mac_);
    AppendMessage(&digest, buf, size, id, /*tsig_counted=*/false);
    Append48(&digest, now);  // The timers only (section 4.3.3).
    Append16(&digest, kTsigMaxFudge);
  }
  std::string mac = Hmac(state_.secret, digest);
  const std::string rr = TsigRr(state_.key_name, algorithm, now, kTsigMaxFudge,
                                mac, id, kRcodeNoError, std::string_view());
  if (size + rr.size() > capacity) return 0;
  std::memcpy(buf + size, rr.data(), rr.size());
  BumpArcount(buf);
  prior_mac_ = std::move(mac);
  first_ = false;
  return size + rr.size();
}

size_t WriteTsigErrorResponse(const ParsedQuery& query, const TsigState& state,
                              uint8_t* out, size_t capacity, uint64_t now) {
  ResponseWriter writer(out, capacity);
  // Opcode and RD are echoed; AA is not claimed for an unanswered question.
  const uint16_t flags =
      static_cast<uint16_t>(kFlagQR | (query.flags & (0x7800 | kFlagRD)));
  const uint16_t rcode =
      state.status == TsigStatus::kFormErr ? kRcodeFormErr : kRcodeNotAuth;
  const bool started = query.has_question
                           ? writer.Start(query, flags, rcode)
                           : writer.StartNoQuestion(query.id, flags, rcode);
  if (!started) return 0;
  if (state.status == TsigStatus::kFormErr) return writer.size();
  uint16_t error = kRcodeBadSig;
  if (state.status == TsigStatus::kBadKey) error = kRcodeBadKey;
  if (state.status == TsigStatus::kBadTime) error = kRcodeBadTime;
  std::string rr;
  if (state.status == TsigStatus::kBadTime) {
    // Signed, with the request's Time Signed and our clock in Other Data so
    // the client can see the skew (RFC 8945 section 5.3.2).
    const std::string other = ServerTime(now);
    rr = ResponseTsigRr(state, writer.data(), writer.size(), state.time_signed,
                        error, other);
  } else {
    // Unsigned: empty MAC (RFC 8945 section 5.3.2).
    rr = TsigRr(state.key_name,
                state.algorithm.empty() ? HmacSha256Name() : state.algorithm,
                state.time_signed, state.fudge, std::string_view(), query.id,
                error, std::string_view());
  }
  // The owner is the key name; AppendRr takes owner and tail separately.
  const std::string_view owner(rr.data(), state.key_name.size());
  const std::string_view tail(rr.data() + state.key_name.size(),
                              rr.size() - state.key_name.size());
  if (!writer.AppendRr(ResponseWriter::Section::kAdditional, owner, tail)) {
    return 0;
  }
  return writer.size();
}

size_t SignQuery(uint8_t* packet, size_t size, size_t capacity,
                 std::string_view key_name_wire, std::string_view secret,
                 uint64_t now, std::string* mac) {
  if (size < kHeaderSize) return 0;
  const uint16_t id = Get16(packet);
  const std::string key_name = LowercaseName(key_name_wire);
  const std::string algorithm = HmacSha256Name();
  std::string digest;
  AppendMessage(&digest, packet, size, id, /*tsig_counted=*/false);
  AppendVariables(&digest, key_name, algorithm, now, kTsigMaxFudge, 0,
                  std::string_view());
  const std::string m = Hmac(secret, digest);
  const std::string rr = TsigRr(key_name, algorithm, now, kTsigMaxFudge, m, id,
                                0, std::string_view());
  if (size + rr.size() > capacity) return 0;
  std::memcpy(packet + size, rr.data(), rr.size());
  BumpArcount(packet);
  if (mac != nullptr) *mac = m;
  return size + rr.size();
}

bool VerifyResponseTsig(absl::Span<const uint8_t> response,
                        std::string_view secret, std::string_view request_mac,
                        uint16_t* tsig_error) {
  if (tsig_error != nullptr) *tsig_error = 0;
  std::optional<size_t> at = FindTsig(response);
  if (!at.has_value()) return false;
  TsigRecord rec;
  if (!ParseTsigRecord(response, *at, &rec)) return false;
  if (tsig_error != nullptr) *tsig_error = rec.error;
  if (rec.mac.empty()) return false;
  std::string digest;
  Append16(&digest, static_cast<uint16_t>(request_mac.size()));
  digest.append(request_mac);
  AppendMessage(&digest, response.data(), *at, rec.original_id,
                /*tsig_counted=*/true);
  AppendVariables(&digest, rec.key_name, rec.algorithm, rec.time_signed,
                  rec.fudge, rec.error, rec.other);
  const std::string mac = Hmac(secret, digest);
  return mac.size() == rec.mac.size() &&
         CRYPTO_memcmp(mac.data(), rec.mac.data(), mac.size()) == 0;
}

}  // namespace lufd::dns
