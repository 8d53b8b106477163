#include "server/dns/covering.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace lufd::dns {
namespace {

constexpr size_t kMaxName = 255;
constexpr size_t kMaxLabel = 63;

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// RFC 4034 section 6.1 label order: octets as unsigned, a proper prefix
// first. Both lowercase.
int LabelCompare(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<uint8_t>(a[i]);
    const auto y = static_cast<uint8_t>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// <label>.<e>, or empty when longer than 255 octets.
std::string Join(std::string_view label, std::string_view e) {
  std::string out;
  if (1 + label.size() + e.size() > kMaxName) return out;
  out.reserve(1 + label.size() + e.size());
  out.push_back(static_cast<char>(label.size()));
  out.append(label);
  out.append(e);
  return out;
}

// A wire name's validity and total length (labels <= 63, ends at the root,
// <= 255 octets).
bool ValidWire(std::string_view wire) {
  if (wire.empty() || wire.size() > kMaxName) return false;
  size_t pos = 0;
  while (pos < wire.size()) {
    const size_t len = static_cast<uint8_t>(wire[pos]);
    if (len == 0) return pos + 1 == wire.size();
    if (len > kMaxLabel || pos + 1 + len >= wire.size()) return false;
    pos += 1 + len;
  }
  return false;
}

}  // namespace

std::optional<Encloser> FindClosestEncloser(
    std::string_view qname_lower, std::string_view apex_lower,
    absl::FunctionRef<bool(std::string_view e164)> exists, size_t max_digits) {
  if (!ValidWire(qname_lower) || !ValidWire(apex_lower)) return std::nullopt;
  if (qname_lower.size() <= apex_lower.size() ||
      qname_lower.substr(qname_lower.size() - apex_lower.size()) !=
          apex_lower) {
    return std::nullopt;
  }
  // Label starts below the apex, qname first (at most 127 labels fit).
  std::array<size_t, 128> starts;
  size_t n = 0;
  const size_t apex_start = qname_lower.size() - apex_lower.size();
  size_t pos = 0;
  while (pos < apex_start) {
    starts[n++] = pos;
    pos += 1 + static_cast<uint8_t>(qname_lower[pos]);
  }
  // The apex must start on a label boundary of the qname.
  if (pos != apex_start) return std::nullopt;
  std::string e164 = "+";
  size_t e_offset = apex_start;
  for (size_t i = n; i-- > 0;) {
    const size_t at = starts[i];
    const bool digit = static_cast<uint8_t>(qname_lower[at]) == 1 &&
                       qname_lower[at + 1] >= '0' && qname_lower[at + 1] <= '9';
    if (digit && e164.size() - 1 < max_digits) {
      e164.push_back(qname_lower[at + 1]);
      if (exists(e164)) {
        e_offset = at;
        continue;
      }
    }
    return Encloser{e_offset, at};
  }
  return std::nullopt;  // Every level exists: the qname itself does.
}

std::optional<CoveringNsecs> CoveringNames(std::string_view e_wire,
                                           std::string_view c_label) {
  if (c_label.empty() || c_label.size() > kMaxLabel || !ValidWire(e_wire) ||
      1 + c_label.size() + e_wire.size() > kMaxName) {
    return std::nullopt;
  }
  std::string e(e_wire);
  for (size_t pos = 0; pos < e.size();) {
    const size_t len = static_cast<uint8_t>(e[pos]);
    for (size_t i = 1; i <= len; ++i) e[pos + i] = Lower(e[pos + i]);
    pos += 1 + len;
  }
  std::string c(c_label);
  for (char& ch : c) ch = Lower(ch);

  static constexpr std::string_view kZero("\0", 1);
  static constexpr std::string_view kStarZero("*\0", 2);
  if (c == kZero || c == kStarZero) return std::nullopt;

  CoveringNsecs out;
  const std::string wc_owner = Join(kZero, e);
  const std::string wc_next = Join(kStarZero, e);
  if (wc_owner.empty() || wc_next.empty()) return std::nullopt;
  if (LabelCompare(c, kStarZero) < 0) {
    // Between \000 and *\000, like the wildcard itself: one NSEC does both.
    out.owner = wc_owner;
    out.next = wc_next;
    return out;
  }

  const auto c1 = static_cast<uint8_t>(c[0]);  // Octets order unsigned.
  std::string owner_label, next_label;
  if (c1 > '9') {
    // No digit label lies above "9"'s subtree: one range for all of them.
    owner_label.assign("9\0", 2);
    const size_t m = std::min(kMaxLabel, kMaxName - 1 - e.size());
    next_label.assign(m, '\xff');
    if (LabelCompare(c, next_label) >= 0) return std::nullopt;
  } else {
    if (c1 < '0') {
      owner_label.assign(kStarZero);
    } else if (c.size() == 1) {
      if (c1 == '0') {
        owner_label.assign(kStarZero);
      } else {
        owner_label.push_back(static_cast<char>(c1 - 1));  // A digit.
        owner_label.push_back('\0');
      }
    } else {
      owner_label.push_back(static_cast<char>(c1));
      owner_label.push_back('\0');
      if (c == owner_label) return std::nullopt;
    }
    if (c.size() < kMaxLabel && 2 + c.size() + e.size() <= kMaxName) {
      next_label = c;
      next_label.push_back('\0');
    } else {
      // The label's successor at the same length or shorter: the last
      // octet below \377 goes up by one, what follows is dropped.
      next_label = c;
      while (!next_label.empty() &&
             static_cast<uint8_t>(next_label.back()) == 0xff) {
        next_label.pop_back();
      }
      if (next_label.empty()) return std::nullopt;
      uint8_t last = static_cast<uint8_t>(next_label.back()) + 1;
      // Canonical order compares lowercase: after '@' comes '[', as 'A'..'Z'
      // are 'a'..'z' (and a name must be written lowercase here).
      if (last >= 'A' && last <= 'Z') last = '[';
      next_label.back() = static_cast<char>(last);
    }
  }
  out.owner = Join(owner_label, e);
  out.next = Join(next_label, e);
  if (out.owner.empty() || out.next.empty()) return std::nullopt;
  out.wildcard_owner = wc_owner;
  out.wildcard_next = wc_next;
  return out;
}

}  // namespace lufd::dns
