// Making and writing RRSIGs in the compact form (CompactRrsig, sigcache.h)
// that the signature caches hold: MakeRrsig signs one RRset for the zone
// and returns it compact (what the sign-ahead signer stores and the
// responder signs on demand); RrsigTailInto turns a compact RRSIG back into
// the wire RR the responder appends. Pure functions (MakeRrsig draws its
// expiry jitter from a per-thread generator), thread-safe.
#ifndef LUFD_SERVER_DNS_RRSIG_H_
#define LUFD_SERVER_DNS_RRSIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/dns/dnssec.h"
#include "server/dns/sigcache.h"

namespace lufd::dns {

struct DnssecTiming;  // signer.h: validity, inception offset, jitter.

// Signs one RRset with `key` (its tag `key_tag`) for zone `apex_wire`:
// inception = now - inception_offset, expiration = now + validity - a
// random part of jitter (so that a whole registry signed at once does not
// expire at once). `owner_lower_wire` and `rdatas` are what is served.
absl::StatusOr<CompactRrsig> MakeRrsig(const SigningKey& key, uint16_t key_tag,
                                       std::string_view apex_wire,
                                       std::string_view owner_lower_wire,
                                       uint16_t type, uint32_t ttl,
                                       absl::Span<const std::string> rdatas,
                                       const DnssecTiming& timing,
                                       absl::Time now);

// The tail of the RRSIG RR (TYPE CLASS TTL RDLENGTH RDATA) for `sig` over
// an RRset of `type_covered` signed by `signer_wire`, served with `ttl`;
// written into `out` (cleared first, capacity kept: the hot path does not
// allocate).
void RrsigTailInto(std::string* out, const CompactRrsig& sig,
                   uint16_t type_covered, std::string_view signer_wire,
                   uint32_t ttl);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_RRSIG_H_
