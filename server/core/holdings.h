// Holdings: the number space as blocks allocated to registrants
// (registry.proto Holding), and the pure arithmetic the write path, the
// view and the migration share to compare blocks of numbers.
//
// A block is a TN (one number), a TN range (an interval of numbers of one
// length) or a TN prefix (every number of 1..15 digits starting with it,
// the prefix itself included). Seen per length L, each block is at most one
// interval of L-digit numbers, so containment and overlap are decided
// length by length. Holdings form a laminar family (any two are disjoint or
// nested); the innermost holding containing a number decides who may
// provision it and whose identifiers answer for it (authz.h, view.h).
//
// Pure functions and value types: thread-safe, no allocation but the keys.
#ifndef LUFD_SERVER_CORE_HOLDINGS_H_
#define LUFD_SERVER_CORE_HOLDINGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"

namespace lufd {

struct NumberBlock {
  bool prefix = false;  // true: every number of len..15 digits below `lo`.
  uint8_t len = 0;      // Digits of lo/hi (1..15).
  uint64_t lo = 0;      // Inclusive bounds, as numbers (same length).
  uint64_t hi = 0;

  // The block's numbers of `length` digits as [*lo, *hi]; false if none.
  bool IntervalAt(uint8_t length, uint64_t* lo, uint64_t* hi) const;
  bool ContainsNumber(uint8_t length, uint64_t value) const;
  // Every number of `other` is in this block.
  bool Contains(const NumberBlock& other) const;
  bool Intersects(const NumberBlock& other) const;
  // Same set of numbers.
  bool SameAs(const NumberBlock& other) const {
    return Contains(other) && other.Contains(*this);
  }
};

// The block of a normalized TN/range/prefix (kind, value, range_end), or
// nullopt for other kinds or malformed values.
std::optional<NumberBlock> BlockOf(lufd::v1::IdentifierKind kind,
                                   absl::string_view value,
                                   absl::string_view range_end);
inline std::optional<NumberBlock> BlockOf(const lufd::v1::Holding& h) {
  return BlockOf(h.kind(), h.value(), h.range_end());
}
inline std::optional<NumberBlock> BlockOf(
    const lufd::v1::PublicIdentifier& id) {
  return BlockOf(id.kind(), id.value(), id.range_end());
}
// The block named by an identifier or holding key ("tn:+1202...",
// "range:+A-+B", "prefix:+1202"), or nullopt (rn:, uri:, malformed).
std::optional<NumberBlock> BlockOfKey(absl::string_view key);

// Whether identifiers of this kind live in the number space (TN, range,
// prefix) and so are subject to holdings.
inline bool IsNumberSpaceKind(lufd::v1::IdentifierKind kind) {
  return kind == lufd::v1::IDENTIFIER_KIND_TN ||
         kind == lufd::v1::IDENTIFIER_KIND_TN_RANGE ||
         kind == lufd::v1::IDENTIFIER_KIND_TN_PREFIX;
}

// A holding's key: the key of the identifier of the same block (keys.h).
std::string HoldingKey(const lufd::v1::Holding& holding);

// The block's first number, "+<len digits>" (for a prefix: the prefix).
std::string FirstNumber(const NumberBlock& block);

class RegistryView;
// The innermost holding of `view` containing every number of `block`, or
// nullopt when none does.
std::optional<lufd::v1::Holding> InnermostHolding(const RegistryView& view,
                                                  const NumberBlock& block);

// ValidateHolding is in validate.h, with the other objects' validation.

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_HOLDINGS_H_
