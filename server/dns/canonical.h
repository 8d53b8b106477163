// Canonical DNS name order (RFC 4034 section 6.1) and the successor
// function of online denial (RFC 4470 section 3.1.2, RFC 9824 section 3):
// the NSEC "next name" must be greater than the owner in canonical order and
// must not cover any name that exists. lufd uses the immediate successor, so
// an NSEC never spans another name and a walker learns nothing.
#ifndef LUFD_SERVER_DNS_CANONICAL_H_
#define LUFD_SERVER_DNS_CANONICAL_H_

#include <optional>
#include <string>
#include <string_view>

namespace lufd::dns {

// <0, 0, >0 like strcmp, over uncompressed wire names: labels compared from
// the root down, each as lowercase octet strings (shorter prefix first).
int CanonicalCompare(std::string_view a_wire, std::string_view b_wire);

// The immediate successor of `name_wire` in canonical order among names at
// or below `apex_wire` (lowercase both): "\000.<name>" when that fits in
// 255 octets; otherwise the name with its first label incremented as RFC
// 4470 section 3.1.2 describes (and, when that label is already maximal,
// the parent's successor). nullopt when `name` is not under the apex or the
// input is not a valid wire name. Result is lowercase. For the zone's very
// last name (nothing at or below the apex follows it, e.g. a 255-octet name
// of \377 labels) the result wraps to the apex, like the last NSEC of a
// signed zone.
std::optional<std::string> ImmediateSuccessor(std::string_view name_wire,
                                              std::string_view apex_wire);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_CANONICAL_H_
