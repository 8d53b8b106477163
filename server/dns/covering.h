// Covering denial (RFC 4470 section 3.1.2 style, with data-independent
// names): the owner and next names of the two NSECs that prove a name does
// not exist without naming any other name of the zone.
//
// A nonexistent qname leaves the tree that exists (in the viewer's view) at
// its closest existing ancestor E; its first missing label below E is C. The
// answer is NXDOMAIN with one NSEC that covers C.E and everything below it,
// and one that covers the wildcard *.E. Their names depend only on (E, C),
// never on which other names exist: below a zone apex lufd only ever holds
// single-digit labels (E.164 numbers), so the gaps around a missing label
// are known without looking at the data. Such an answer says no more than
// "C.E does not exist" (which an NXDOMAIN says anyway), can be signed once
// per (E, C) and reused, and lets RFC 8198 resolvers answer every other name
// below C.E from their cache.
//
// The rule, by the label C (lowercase octets, compared as RFC 4034 section
// 6.1 compares labels; d is a digit):
//   C == "\000"                      none: no name lies between E and
//                                    \000.E, so the proof would need an NSEC
//                                    at E itself (the caller falls back to
//                                    compact denial)
//   "\000" < C < "*\000"             one NSEC  \000.E -> *\000.E covers
//                                    C.E and *.E alike
//   C == "*\000"                     none (it is the wildcard NSEC's next)
//   "*\000" < C, C[0] < '0'          *\000.E  -> C'.E
//   C == "0"                         *\000.E  -> 0\000.E
//   C == d > "0"                     (d-1)\000.E -> d\000.E
//   C[0] == d, |C| > 1, C != d\000   d\000.E  -> C'.E
//   C == d\000                       none (no name between d's subtree and
//                                    d\000.E is writable)
//   C[0] > '9'                       9\000.E  -> \377{m}.E, m = the longest
//                                    label that fits (63, or less near the
//                                    255-octet limit): one NSEC for every
//                                    non-digit label, e.g. the RFC 8145
//                                    key-tag queries "_ta-4f66.<apex>"
//                                    (none when C is that label itself)
// and, except in the second row, the wildcard NSEC \000.E -> *\000.E.
// C' is C\000 (the label's immediate successor), or, for a 63-octet C (or
// one whose name would outgrow 255 octets), C with its last octet below
// \377 incremented and what follows dropped. "none" also when any name
// would be longer than 255 octets. Pure functions, thread-safe.
#ifndef LUFD_SERVER_DNS_COVERING_H_
#define LUFD_SERVER_DNS_COVERING_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace lufd::dns {

// Where a nonexistent qname leaves the existing tree: byte offsets into the
// qname's wire form. E (the closest existing ancestor) is
// qname.substr(e_offset); C.E is qname.substr(c_offset).
struct Encloser {
  size_t e_offset = 0;
  size_t c_offset = 0;
};

// Walks down from `apex_lower` along `qname_lower` (both lowercase,
// uncompressed wire; qname at or below the apex). A name below the apex
// exists only if every label between it and the apex is one digit, it has
// at most `max_digits` of them, and `exists("+<digits>")` (the digits from
// the apex down, i.e. the E.164 number the name spells) says so; the apex
// always exists. nullopt when the qname itself exists (or is the apex, or
// is not a wire name under the apex). `exists` is called once per level,
// from the apex down, and stops at the first missing one: existence is
// hierarchical (a name exists when it holds data or has data below it).
std::optional<Encloser> FindClosestEncloser(
    std::string_view qname_lower, std::string_view apex_lower,
    absl::FunctionRef<bool(std::string_view e164)> exists,
    size_t max_digits = 15);

// The covering NSECs' owner and next names (lowercase wire).
struct CoveringNsecs {
  // Covers C.E and every name below it.
  std::string owner, next;
  // Covers *.E; both empty when the first NSEC covers *.E as well.
  std::string wildcard_owner, wildcard_next;
};

// The names for the first missing label `c_label` (its octets, 1..63,
// without the length octet) below `e_wire` (uncompressed wire), per the
// table above. nullopt when the rule has no answer for this label (the
// caller uses compact denial) or the input is malformed. Labels are
// compared case-insensitively; the results are lowercase.
std::optional<CoveringNsecs> CoveringNames(std::string_view e_wire,
                                           std::string_view c_label);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_COVERING_H_
