// Block arithmetic for holdings (see holdings.h). Pure; thread-safe.
#include "server/core/holdings.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/view.h"

namespace lufd {
namespace {

constexpr uint8_t kMaxDigits = 15;

constexpr uint64_t kPow10[16] = {1ull,
                                 10ull,
                                 100ull,
                                 1000ull,
                                 10000ull,
                                 100000ull,
                                 1000000ull,
                                 10000000ull,
                                 100000000ull,
                                 1000000000ull,
                                 10000000000ull,
                                 100000000000ull,
                                 1000000000000ull,
                                 10000000000000ull,
                                 100000000000000ull,
                                 1000000000000000ull};

// "+<1..15 digits>" -> (digits, value).
bool ParseDigits(absl::string_view s, uint8_t* len, uint64_t* value) {
  if (!absl::ConsumePrefix(&s, "+") || s.empty() || s.size() > kMaxDigits) {
    return false;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *len = static_cast<uint8_t>(s.size());
  *value = v;
  return true;
}

}  // namespace

bool NumberBlock::IntervalAt(uint8_t length, uint64_t* out_lo,
                             uint64_t* out_hi) const {
  if (!prefix) {
    if (length != len) return false;
    *out_lo = lo;
    *out_hi = hi;
    return true;
  }
  if (length < len || length > kMaxDigits) return false;
  const uint64_t scale = kPow10[length - len];
  *out_lo = lo * scale;
  *out_hi = (lo + 1) * scale - 1;
  return true;
}

bool NumberBlock::ContainsNumber(uint8_t length, uint64_t value) const {
  uint64_t a, b;
  return IntervalAt(length, &a, &b) && a <= value && value <= b;
}

bool NumberBlock::Contains(const NumberBlock& other) const {
  const uint8_t last = other.prefix ? kMaxDigits : other.len;
  for (uint8_t length = other.len; length <= last; ++length) {
    uint64_t a, b, c, d;
    if (!other.IntervalAt(length, &c, &d)) continue;
    if (!IntervalAt(length, &a, &b) || c < a || d > b) return false;
  }
  return true;
}

bool NumberBlock::Intersects(const NumberBlock& other) const {
  const uint8_t first = std::max(len, other.len);
  for (uint8_t length = first; length <= kMaxDigits; ++length) {
    uint64_t a, b, c, d;
    if (IntervalAt(length, &a, &b) && other.IntervalAt(length, &c, &d) &&
        a <= d && c <= b) {
      return true;
    }
  }
  return false;
}

std::optional<NumberBlock> BlockOf(lufd::v1::IdentifierKind kind,
                                   absl::string_view value,
                                   absl::string_view range_end) {
  NumberBlock block;
  switch (kind) {
    case lufd::v1::IDENTIFIER_KIND_TN:
      if (!ParseDigits(value, &block.len, &block.lo)) return std::nullopt;
      block.hi = block.lo;
      return block;
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX:
      if (!ParseDigits(value, &block.len, &block.lo)) return std::nullopt;
      block.hi = block.lo;
      block.prefix = true;
      return block;
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
      uint8_t end_len = 0;
      if (!ParseDigits(value, &block.len, &block.lo) ||
          !ParseDigits(range_end, &end_len, &block.hi) ||
          end_len != block.len || block.lo > block.hi) {
        return std::nullopt;
      }
      return block;
    }
    default:
      return std::nullopt;
  }
}

std::optional<NumberBlock> BlockOfKey(absl::string_view key) {
  if (absl::ConsumePrefix(&key, "tn:")) {
    return BlockOf(lufd::v1::IDENTIFIER_KIND_TN, key, "");
  }
  if (absl::ConsumePrefix(&key, "prefix:")) {
    return BlockOf(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, key, "");
  }
  if (absl::ConsumePrefix(&key, "range:")) {
    // "+A-+B": '-' cannot occur in a normalized number.
    size_t dash = key.find('-');
    if (dash == absl::string_view::npos) return std::nullopt;
    return BlockOf(lufd::v1::IDENTIFIER_KIND_TN_RANGE, key.substr(0, dash),
                   key.substr(dash + 1));
  }
  return std::nullopt;
}

std::string HoldingKey(const lufd::v1::Holding& holding) {
  switch (holding.kind()) {
    case lufd::v1::IDENTIFIER_KIND_TN:
      return absl::StrCat("tn:", holding.value());
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE:
      return absl::StrCat("range:", holding.value(), "-", holding.range_end());
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX:
      return absl::StrCat("prefix:", holding.value());
    default:
      break;
  }
  return absl::StrCat("unspecified:", holding.value());
}

std::string FirstNumber(const NumberBlock& block) {
  std::string digits(block.len, '0');
  uint64_t v = block.lo;
  for (size_t i = block.len; i > 0; --i) {
    digits[i - 1] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return absl::StrCat("+", digits);
}

std::optional<lufd::v1::Holding> InnermostHolding(const RegistryView& view,
                                                  const NumberBlock& block) {
  // Every holding containing the block contains its first number; they
  // form a chain, innermost first.
  for (lufd::v1::Holding& h : view.HoldingsAt(FirstNumber(block))) {
    std::optional<NumberBlock> b = BlockOf(h);
    if (b.has_value() && b->Contains(block)) return std::move(h);
  }
  return std::nullopt;
}

}  // namespace lufd
