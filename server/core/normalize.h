// E.164 / AUS normalization and ENUM domain conversion (RFC 6116 §3.1-3.2).
// Pure functions over their arguments: no state, thread-safe; inputs are
// untrusted and bounded (over 256 bytes, empty, or with control characters
// is INVALID_ARGUMENT). Fuzzed by tests/fuzz/normalize_fuzz.cc.
#ifndef LUFD_SERVER_CORE_NORMALIZE_H_
#define LUFD_SERVER_CORE_NORMALIZE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lufd {

// "+44-20-7946-0148", "+44 (20) 7946.0148", "tel:+44-20-7946-0148" ->
// "+442079460148". Requires the leading '+', 1..15 digits, first digit not 0;
// visual separators (space - . ( )) are dropped. INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> NormalizeE164(absl::string_view input);

// Like NormalizeE164 but for prefixes and range bounds: "+1202777" is valid.
absl::StatusOr<std::string> NormalizeE164Prefix(absl::string_view input);

// "+442079460148", "e164.arpa." -> "8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa."
std::string E164ToEnumDomain(absl::string_view e164,
                             absl::string_view apex = "e164.arpa.");

// The inverse, case-insensitive; INVALID_ARGUMENT if not under apex or not
// all single digits.
absl::StatusOr<std::string> EnumDomainToE164(
    absl::string_view domain, absl::string_view apex = "e164.arpa.");

// A Lookup query: a number (E.164 any form, tel: URI, sip/sips URI with
// user=phone) or some other URI to match a URI identifier exactly.
struct LookupQuery {
  enum class Kind { kNumber, kUri };
  Kind kind = Kind::kNumber;
  std::string value;  // "+12025556666" or the URI as given (trimmed).
};
absl::StatusOr<LookupQuery> ParseLookupQuery(absl::string_view query);

// True when `s` starts with an RFC 3986 §3.1 scheme and ':'
// (scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
bool HasUriScheme(absl::string_view s);

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_NORMALIZE_H_
