// Canonical order and immediate successor (see canonical.h).
//
// Successor reasoning, for a name N = L.P under the apex: the names greater
// than N in canonical order are first N's descendants (smallest: \000.N),
// then names X.P with X > L (and their descendants), then whatever follows
// P's whole subtree. When \000.N does not fit in 255 octets the smallest
// X > L that still fits is wanted: L\000 when L can grow by one octet,
// otherwise L with its last octet incremented (dropping trailing 0xff
// octets first). When no such X exists, the answer is whatever follows P's
// subtree, which is the same search one level up. The apex is never left:
// the last name of the zone wraps to the apex, like the last NSEC of a
// signed zone.
#include "server/dns/canonical.h"

#include <algorithm>
#include <cstdint>

#include "server/dns/wire.h"

namespace lufd::dns {
namespace {

inline uint8_t Lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

// Label start offsets of a wire name (excluding the root label), at most
// 128 of them. Tolerates malformed input by stopping at the end of data.
int LabelOffsets(std::string_view n, uint8_t* offsets) {
  int count = 0;
  size_t pos = 0;
  while (pos < n.size() && count < 128) {
    const uint8_t len = static_cast<uint8_t>(n[pos]);
    if (len == 0) break;
    offsets[count++] = static_cast<uint8_t>(pos);
    pos += 1 + len;
  }
  return count;
}

// Offsets fit a byte because a wire name is at most 255 octets; longer
// (malformed) input is clamped to the first 255 octets before use.
std::string_view Clamp(std::string_view n) {
  return n.size() > kMaxNameLength ? n.substr(0, kMaxNameLength) : n;
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > kMaxNameLength) return false;
  size_t pos = 0;
  while (pos < n.size()) {
    const uint8_t len = static_cast<uint8_t>(n[pos]);
    if (len == 0) return pos + 1 == n.size();
    if (len > 63) return false;
    pos += 1 + len;
  }
  return false;
}

// Next octet in canonical label order: uppercase letters compare equal to
// lowercase ones, so they are no separate values and are skipped.
inline uint8_t NextOctet(uint8_t c) {
  const uint8_t n = static_cast<uint8_t>(c + 1);
  return (n >= 'A' && n <= 'Z') ? static_cast<uint8_t>('Z' + 1) : n;
}

}  // namespace

int CanonicalCompare(std::string_view a_wire, std::string_view b_wire) {
  a_wire = Clamp(a_wire);
  b_wire = Clamp(b_wire);
  uint8_t ao[128];
  uint8_t bo[128];
  int an = LabelOffsets(a_wire, ao);
  int bn = LabelOffsets(b_wire, bo);
  while (an > 0 && bn > 0) {
    --an;
    --bn;
    const size_t apos = ao[an];
    const size_t bpos = bo[bn];
    const size_t alen = std::min<size_t>(static_cast<uint8_t>(a_wire[apos]),
                                         a_wire.size() - apos - 1);
    const size_t blen = std::min<size_t>(static_cast<uint8_t>(b_wire[bpos]),
                                         b_wire.size() - bpos - 1);
    const size_t common = std::min(alen, blen);
    for (size_t k = 0; k < common; ++k) {
      const uint8_t x = Lower(static_cast<uint8_t>(a_wire[apos + 1 + k]));
      const uint8_t y = Lower(static_cast<uint8_t>(b_wire[bpos + 1 + k]));
      if (x != y) return x < y ? -1 : 1;
    }
    if (alen != blen) return alen < blen ? -1 : 1;
  }
  if (an != bn) return an < bn ? -1 : 1;
  return 0;
}

std::optional<std::string> ImmediateSuccessor(std::string_view name_wire,
                                              std::string_view apex_wire) {
  if (!ValidName(name_wire) || !ValidName(apex_wire)) return std::nullopt;
  std::string name = LowercaseName(name_wire);
  const std::string apex = LowercaseName(apex_wire);
  if (!IsSubdomainOf(name, apex)) return std::nullopt;

  if (name.size() + 2 <= kMaxNameLength) {
    std::string out;
    out.reserve(name.size() + 2);
    out.push_back('\x01');
    out.push_back('\0');
    out.append(name);
    return out;
  }

  // Work on the leftmost label of what remains of `name`; every level up
  // drops that label. `name` stays a valid wire name throughout.
  while (name.size() > apex.size()) {
    const size_t len = static_cast<uint8_t>(name[0]);
    if (len < 63 && name.size() + 1 <= kMaxNameLength) {
      // L\000: the smallest label greater than L.
      name.insert(name.begin() + 1 + static_cast<std::ptrdiff_t>(len), '\0');
      name[0] = static_cast<char>(len + 1);
      return name;
    }
    // L cannot grow: increment its last octet, dropping maximal ones.
    size_t cur = len;
    while (cur > 0 && static_cast<uint8_t>(name[cur]) == 0xff) --cur;
    if (cur > 0) {
      name[cur] = static_cast<char>(NextOctet(static_cast<uint8_t>(name[cur])));
      name.erase(cur + 1, len - cur);
      name[0] = static_cast<char>(cur);
      return name;
    }
    // Every octet was 0xff: nothing follows L at this level; what follows
    // is the successor of the parent's subtree.
    name.erase(0, 1 + len);
  }
  // Past the last name of the zone: wrap to the apex.
  return apex;
}

}  // namespace lufd::dns
