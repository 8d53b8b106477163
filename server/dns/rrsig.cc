#include "server/dns/rrsig.h"

#include "absl/random/random.h"
#include "server/dns/bytes.h"
#include "server/dns/dnssec.h"
#include "server/dns/signer.h"
#include "server/dns/wire.h"

namespace lufd::dns {

absl::StatusOr<CompactRrsig> MakeRrsig(const SigningKey& key, uint16_t key_tag,
                                       std::string_view apex_wire,
                                       std::string_view owner_lower_wire,
                                       uint16_t type, uint32_t ttl,
                                       absl::Span<const std::string> rdatas,
                                       const DnssecTiming& timing,
                                       absl::Time now) {
  thread_local absl::BitGen bitgen;
  const int64_t jitter_s = absl::ToInt64Seconds(timing.jitter);
  const int64_t spread =
      jitter_s > 0 ? absl::Uniform<int64_t>(bitgen, 0, jitter_s + 1) : 0;
  const int64_t t = absl::ToUnixSeconds(now);
  RrsigFields f;
  f.type_covered = type;
  f.algorithm = key.algorithm();
  f.labels = LabelCount(owner_lower_wire);
  f.original_ttl = ttl;
  f.inception =
      static_cast<uint32_t>(t - absl::ToInt64Seconds(timing.inception_offset));
  f.expiration =
      static_cast<uint32_t>(t + absl::ToInt64Seconds(timing.validity) - spread);
  f.key_tag = key_tag;
  f.signer_wire = std::string(apex_wire);
  auto rdata = SignRrset(key, f, owner_lower_wire, kClassIN, rdatas);
  if (!rdata.ok()) return rdata.status();
  auto compact = CompactFromRdata(*rdata);
  if (!compact) {
    return absl::InternalError("dns: RRSIG is not in the 64-byte compact form");
  }
  return *compact;
}

// The tail of an RRSIG RR rebuilt from its compact form, without
// intermediate strings.
void RrsigTailInto(std::string* out, const CompactRrsig& sig,
                   uint16_t type_covered, std::string_view signer_wire,
                   uint32_t ttl) {
  out->clear();
  Append16(out, kTypeRRSIG);
  Append16(out, kClassIN);
  Append32(out, ttl);
  Append16(out, static_cast<uint16_t>(18 + signer_wire.size() + 64));
  Append16(out, type_covered);
  out->push_back(static_cast<char>(sig.algorithm));
  out->push_back(static_cast<char>(sig.labels));
  Append32(out, sig.original_ttl);
  Append32(out, sig.expiration);
  Append32(out, sig.inception);
  Append16(out, sig.key_tag);
  out->append(signer_wire);
  out->append(reinterpret_cast<const char*>(sig.signature.data()), 64);
}

}  // namespace lufd::dns
