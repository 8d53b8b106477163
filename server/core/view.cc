// RegistryView implementation: copy-on-write sharded maps (view_cow.h) for
// every object kind and every secondary index, a compact TN table, and a
// sorted range index. See view.h for the rules.
//
// Memory layout choices (why):
//  - TN identifiers dominate (millions). They live in one table keyed by a
//    uint64 code of the digits (value << 4 | length) whose value is a single
//    heap blob: the serialized PublicIdentifier without kind and value (both
//    implied by the key). No proto object or std::string per TN.
//  - Indexes that may hold millions of entries for one key (dest group ->
//    identifiers, registrant -> objects) are themselves sharded CowSets, so a
//    single-TN change clones one small shard, not a million-entry set.
//  - Everything else (orgs, groups, records, offers, non-TN identifiers) is
//    kept as shared immutable protos, parsed once.
#include "server/core/view.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/core/authz.h"
#include "server/core/keys.h"
#include "server/core/record_ttl.h"
#include "server/core/view_cow.h"

namespace lufd {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;
using view_internal::CowMap;
using view_internal::CowSet;

using ObjPtr = std::shared_ptr<const RegistryObject>;

constexpr int kNumKinds = 10;  // ObjectKind values 0..9.
constexpr absl::string_view kTnKeyPrefix = "tn:+";
constexpr absl::string_view kPrefixKeyPrefix = "prefix:+";

bool ValidKind(ObjectKind kind) {
  return kind > lufd::v1::OBJECT_KIND_UNSPECIFIED &&
         kind <= lufd::v1::OBJECT_KIND_HOLDING;
}

// (digits as a number) << 4 | number of digits; nullopt unless 1..15 ASCII
// digits. The length keeps "+10" and "+010"-like codes apart.
std::optional<uint64_t> DigitsCode(absl::string_view digits) {
  if (digits.empty() || digits.size() > 15) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return (value << 4) | digits.size();
}

// The code of the name one digit up ("1202" -> "120"); the empty digit
// string (the ENUM apex) is code 0.
uint64_t ParentCode(uint64_t code) {
  return ((code >> 4) / 10) << 4 | ((code & 0xf) - 1);
}

constexpr uint64_t kPow10[16] = {1,
                                 10,
                                 100,
                                 1000,
                                 10000,
                                 100000,
                                 1000000,
                                 10000000,
                                 100000000,
                                 1000000000,
                                 10000000000,
                                 100000000000,
                                 1000000000000,
                                 10000000000000,
                                 100000000000000,
                                 1000000000000000};

std::string CodeDigits(uint64_t code) {
  size_t len = code & 0xf;
  uint64_t value = code >> 4;
  std::string digits(len, '0');
  for (size_t i = len; i > 0; --i) {
    digits[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return digits;
}

std::optional<uint64_t> TnKeyCode(absl::string_view key) {
  if (!absl::StartsWith(key, kTnKeyPrefix)) return std::nullopt;
  return DigitsCode(key.substr(kTnKeyPrefix.size()));
}

// The code of a prefix identifier's key ("prefix:+1202"), or nullopt.
std::optional<uint64_t> PrefixKeyCode(absl::string_view key) {
  if (!absl::StartsWith(key, kPrefixKeyPrefix)) return std::nullopt;
  return DigitsCode(key.substr(kPrefixKeyPrefix.size()));
}

std::string TnKey(uint64_t code) {
  return absl::StrCat(kTnKeyPrefix, CodeDigits(code));
}

// An immutable heap byte string with a 4-byte length header: 8 bytes in the
// table slot instead of std::string's 32.
class Blob {
 public:
  Blob() = default;
  explicit Blob(absl::string_view bytes) {
    uint32_t len = static_cast<uint32_t>(bytes.size());
    data_.reset(new char[sizeof(len) + len]);
    std::memcpy(data_.get(), &len, sizeof(len));
    std::memcpy(data_.get() + sizeof(len), bytes.data(), len);
  }
  Blob(const Blob& other) : Blob(other.view()) {}
  Blob& operator=(const Blob& other) {
    if (this != &other) *this = Blob(other.view());
    return *this;
  }
  Blob(Blob&&) = default;
  Blob& operator=(Blob&&) = default;

  absl::string_view view() const {
    if (data_ == nullptr) return {};
    uint32_t len;
    std::memcpy(&len, data_.get(), sizeof(len));
    return absl::string_view(data_.get() + sizeof(len), len);
  }

 private:
  std::unique_ptr<char[]> data_;
};

// Skips the fields PublicIdentifier.kind (1, varint) and .value (2, bytes)
// at the front of its serialization. The serializer writes known fields in
// field-number order, so these two come first when present; what remains is
// exactly the serialization of the identifier with both cleared.
absl::string_view StripKindAndValue(absl::string_view bytes) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
  constexpr uint32_t kKindTag =
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT);
  constexpr uint32_t kValueTag =
      WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  uint64_t kind = 0;
  if (in.ExpectTag(kKindTag) && !in.ReadVarint64(&kind)) return bytes;
  const size_t after_kind = static_cast<size_t>(in.CurrentPosition());
  uint32_t len = 0;
  if (in.ExpectTag(kValueTag) &&
      (!in.ReadVarint32(&len) || !in.Skip(static_cast<int>(len)))) {
    return bytes.substr(after_kind);
  }
  return bytes.substr(static_cast<size_t>(in.CurrentPosition()));
}

Blob EncodeTn(const lufd::v1::PublicIdentifier& identifier) {
  // Serialized whole, then kind and value (implied by the key) cut off the
  // front: no copy of the message (and of its records) to clear them in.
  thread_local std::string bytes;
  bytes.clear();
  identifier.AppendToString(&bytes);
  return Blob(StripKindAndValue(bytes));
}

bool DecodeTn(uint64_t code, const Blob& blob,
              lufd::v1::PublicIdentifier* identifier) {
  absl::string_view bytes = blob.view();
  if (!identifier->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  identifier->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  identifier->set_value(absl::StrCat("+", CodeDigits(code)));
  return true;
}

// A reference to an object in an index entry: TN identifiers by code, the
// rest as (kind byte + key).
std::string RefKey(ObjectKind kind, absl::string_view key) {
  std::string out;
  out.reserve(key.size() + 1);
  out.push_back(static_cast<char>(kind));
  out.append(key.data(), key.size());
  return out;
}

// Objects that reference one key (one index entry).
struct RefSet {
  uint64_t gen = 0;
  CowSet<uint64_t> tns;
  CowSet<std::string> refs;  // RefKey()s.
  bool empty() const { return tns.empty() && refs.empty(); }
};

using Index = CowMap<std::string, std::shared_ptr<RefSet>>;

// One entry of the range index: an inclusive range of same-length numbers.
struct RangeEntry {
  uint8_t len = 0;
  uint64_t lo = 0;  // Numeric value of the first number's digits.
  uint64_t hi = 0;
  std::string key;
};

struct RangeIndex {
  std::vector<RangeEntry> entries;  // Sorted by (len, lo).
  // max_hi[i] = max hi over entries[j], j <= i, same len as entries[i]: lets
  // the backwards scan stop as soon as no earlier range can reach N.
  std::vector<uint64_t> max_hi;

  void Finish() {
    std::sort(entries.begin(), entries.end(),
              [](const RangeEntry& a, const RangeEntry& b) {
                return std::tie(a.len, a.lo, a.hi, a.key) <
                       std::tie(b.len, b.lo, b.hi, b.key);
              });
    max_hi.resize(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      max_hi[i] = entries[i].hi;
      if (i > 0 && entries[i - 1].len == entries[i].len) {
        max_hi[i] = std::max(max_hi[i], max_hi[i - 1]);
      }
    }
  }

  // Every range covering (len, value), to `fn` in index order (not by
  // width); stops when fn returns false. Bounded like Narrowest.
  template <typename Fn>
  void ForEachCovering(uint8_t len, uint64_t value, Fn&& fn) const {
    auto it = std::upper_bound(
        entries.begin(), entries.end(), std::make_pair(len, value),
        [](const std::pair<uint8_t, uint64_t>& v, const RangeEntry& e) {
          return std::tie(v.first, v.second) < std::tie(e.len, e.lo);
        });
    for (size_t i = static_cast<size_t>(it - entries.begin()); i > 0; --i) {
      const RangeEntry& e = entries[i - 1];
      if (e.len != len || max_hi[i - 1] < value) break;
      if (e.hi >= value && !fn(e)) return;
    }
  }

  // The narrowest range covering (len, value), or nullptr.
  const RangeEntry* Narrowest(uint8_t len, uint64_t value) const {
    auto it = std::upper_bound(
        entries.begin(), entries.end(), std::make_pair(len, value),
        [](const std::pair<uint8_t, uint64_t>& v, const RangeEntry& e) {
          return std::tie(v.first, v.second) < std::tie(e.len, e.lo);
        });
    const RangeEntry* best = nullptr;
    // Bounded by the number of ranges of this length.
    for (size_t i = static_cast<size_t>(it - entries.begin()); i > 0; --i) {
      const RangeEntry& e = entries[i - 1];
      if (e.len != len || max_hi[i - 1] < value) break;
      if (e.hi >= value &&
          (best == nullptr || e.hi - e.lo < best->hi - best->lo)) {
        best = &e;
      }
    }
    return best;
  }
};

std::optional<RangeEntry> RangeOf(const lufd::v1::PublicIdentifier& id,
                                  absl::string_view key) {
  if (id.kind() != lufd::v1::IDENTIFIER_KIND_TN_RANGE) return std::nullopt;
  absl::string_view lo = id.value(), hi = id.range_end();
  if (!absl::ConsumePrefix(&lo, "+") || !absl::ConsumePrefix(&hi, "+") ||
      lo.size() != hi.size()) {
    return std::nullopt;
  }
  auto lo_code = DigitsCode(lo), hi_code = DigitsCode(hi);
  if (!lo_code || !hi_code || (*lo_code >> 4) > (*hi_code >> 4)) {
    return std::nullopt;
  }
  return RangeEntry{static_cast<uint8_t>(lo.size()), *lo_code >> 4,
                    *hi_code >> 4, std::string(key)};
}

// Per-name empty-non-terminal reasons by visibility key (Data::below). A
// key is (interned destination group << 1) | (1 if the identifier has
// in-service records of its own): an identifier resolves to something for
// a viewer exactly when one of its keys passes DestGroupState.
struct BelowSet {
  absl::InlinedVector<std::pair<uint32_t, uint32_t>, 2> counts;  // key, n>0

  // One more reason with `key`; true when the key was not counted before.
  bool Add(uint32_t key) {
    for (auto& [k, n] : counts) {
      if (k == key) return n++ == 0;
    }
    counts.emplace_back(key, 1);
    return true;
  }
  // One reason less; true when the key's last reason went.
  bool Remove(uint32_t key) {
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i].first != key) continue;
      if (--counts[i].second > 0) return false;
      counts.erase(counts.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
    return false;  // Not counted (cannot happen).
  }
};

// Range blocks rooted at one name (Data::cover).
struct CoverEntry {
  uint32_t key = 0;
  uint8_t len = 0;  // Digits of the range's numbers.
  uint32_t count = 0;
};
using CoverSet = absl::InlinedVector<CoverEntry, 1>;

// Calls fn(code, free) for each aligned block a range splits into: all
// r.len-digit numbers starting with the digits of `code` (free = r.len
// minus their length; 0 = a single number). At most 2 * 9 * 15 blocks.
template <class Fn>
void ForEachRangeBlock(const RangeEntry& r, Fn&& fn) {
  uint64_t lo = r.lo;
  for (;;) {
    size_t free = 0;
    while (free < r.len && lo % kPow10[free + 1] == 0 &&
           lo + kPow10[free + 1] - 1 <= r.hi) {
      ++free;
    }
    fn(((lo / kPow10[free]) << 4) | (r.len - free), free);
    const uint64_t next = lo + kPow10[free];
    if (next - 1 >= r.hi) return;
    lo = next;
  }
}

// Whether an identifier has in-service records of its own that an answer
// would carry (NAPTR, URI, NS; see AddCandidate).
bool HasOwnRecords(const lufd::v1::PublicIdentifier& id) {
  for (const auto& record : id.records()) {
    if (record.in_service() &&
        (record.has_naptr() || record.has_uri() || record.has_ns())) {
      return true;
    }
  }
  return false;
}

// Everything a view holds. Copying is cheap (shard pointer vectors).
struct Data {
  CowMap<std::string, ObjPtr> objects[kNumKinds];  // Non-TN objects by key.
  CowMap<uint64_t, Blob> tns;                      // TN identifiers.
  std::shared_ptr<const RangeIndex> ranges = std::make_shared<RangeIndex>();

  Index dest_identifiers;   // dest group -> identifiers
  Index dest_sed_groups;    // dest group -> SED groups
  Index record_sed_groups;  // SED record -> SED groups
  Index group_offers;       // SED group -> offers
  Index peer_offers;        // peer org -> offers
  Index org_credentials;    // org -> credentials
  Index
      registrant_objects;  // org -> objects it is registrant (or registrar) of
  Index spki_credentials;  // spki sha256 -> credentials
  Index san_credentials;   // SAN URI -> credentials
  Index tsig_credentials;  // TSIG key name -> credentials
  // Empty non-terminals (HasIdentifiersBelow, HasVisibleIdentifiersBelow):
  // for each digit string P (as a DigitsCode; the apex is 0) with something
  // below it, per visibility key (BelowKey: a destination group and whether
  // the identifier has records of its own), the number of reasons: its
  // one-digit-longer children that are a TN or prefix identifier with that
  // key, plus those that have something with that key below them, plus the
  // range blocks (RangeBlocks) rooted at P. Present = some key counted.
  // Inserting an identifier bumps its parent per key and walks up only
  // while a key's count leaves 0, so a change costs O(1) entries in practice
  // and numbers in blocks need ~N/10 entries. Keys rather than viewers: who
  // may see a destination group is decided at query time (DestGroupState),
  // so an offer, a SED group made public or taken out of service costs no
  // index work at all.
  CowMap<uint64_t, BelowSet> below;
  // Range blocks that cover names below their root: for a block of
  // L-digit numbers starting with Q, every name under Q shorter than L has
  // a number of the range below it. Q -> (key, L) with counts.
  CowMap<uint64_t, CoverSet> cover;
  // Destination group ids interned as small numbers for BelowKey (never
  // reused; 0 = no destination group, visible to nobody).
  CowMap<std::string, uint32_t> dest_group_nums;
  CowMap<uint32_t, std::string> dest_group_names;
  uint32_t next_dest_group = 1;

  // How many prefix identifiers there are of each length (index = number of
  // digits, 1..15): number resolution probes exactly the lengths that occur,
  // whatever the query finds (see "Constant-path resolution" below).
  std::array<uint32_t, 16> prefixes_by_length{};

  // Holdings (view.h HolderOf/HoldingsAt), besides objects[HOLDING]: TN
  // holdings by DigitsCode, prefix holdings by DigitsCode (with how many
  // there are of each length, so a lookup probes only lengths in use), and
  // range holdings in their own RangeIndex. Innermost = TN, then the
  // narrowest range, then the longest prefix: holdings are laminar and a
  // prefix holding has at most 14 digits (validate.h), so that order is
  // containment order.
  CowMap<uint64_t, ObjPtr> tn_holdings;
  CowMap<uint64_t, ObjPtr> prefix_holdings;
  std::array<uint32_t, 16> prefix_holding_lengths{};
  std::shared_ptr<const RangeIndex> range_holdings =
      std::make_shared<RangeIndex>();
};

// Mutates a Data in generation `gen`. Range changes are collected and folded
// into a new RangeIndex once, by Finish().
class Mutator {
 public:
  Mutator(Data* data, uint64_t gen) : d_(data), gen_(gen) {}

  void Insert(ObjectKind kind, const std::string& key,
              const RegistryObject& object) {
    // Upsert in one table probe: the big TN table is mostly cache misses.
    bool inserted = false;
    if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) {
      if (auto code = TnKeyCode(key)) {
        const auto& id = object.identifier();
        Blob& slot = d_->tns.Upsert(gen_, *code, &inserted);
        if (!inserted) UnindexTn(*code, slot);
        slot = EncodeTn(id);
        PointBelow(*code, id, /*add=*/true);
        for (const auto& dg : id.dest_group_ids()) {
          AddRef(&d_->dest_identifiers, dg, *code);
        }
        if (!id.registrant_id().empty()) {
          AddRef(&d_->registrant_objects, id.registrant_id(), *code);
        }
        return;
      }
    }
    auto ptr = std::make_shared<const RegistryObject>(object);
    ObjPtr& slot = d_->objects[kind].Upsert(gen_, key, &inserted);
    if (!inserted) {
      ObjPtr old = std::move(slot);
      IndexObject(kind, key, *old, /*add=*/false);
    }
    slot = ptr;
    IndexObject(kind, key, *ptr, /*add=*/true);
    if (inserted) CountPrefix(kind, key, +1);
  }

  void Remove(ObjectKind kind, const std::string& key) {
    if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) {
      if (auto code = TnKeyCode(key)) {
        const auto* entry = d_->tns.FindEntry(*code);
        if (entry == nullptr) return;
        UnindexTn(*code, entry->second);
        d_->tns.Erase(gen_, *code);
        return;
      }
    }
    const auto* entry = d_->objects[kind].FindEntry(key);
    if (entry == nullptr) return;
    ObjPtr old = entry->second;  // Keep alive across the erase.
    IndexObject(kind, key, *old, /*add=*/false);
    d_->objects[kind].Erase(gen_, key);
    CountPrefix(kind, key, -1);
  }

  // Bulk-load helpers for a fresh Builder (see Builder::Impl::LoadTns):
  // the same end state as Insert() one by one, built with one reservation
  // per table instead of growth by rehash.

  // Adds TN `codes` (moved from) to the index entry of `target`.
  void BulkAddTnRefs(Index* index, const std::string& target,
                     std::vector<uint64_t>* codes) {
    if (codes->empty()) return;
    MutableRefSet(index, target).tns.BulkInsertNew(gen_, codes);
  }

  // AddBelow(code, key) for each of `reasons`, in any order (the counts do
  // not depend on it). Rebuilds Data::below, so only for a Builder's own
  // data.
  void BulkAddBelow(const std::vector<std::pair<uint64_t, uint32_t>>& reasons) {
    if (reasons.empty()) return;
    absl::flat_hash_map<uint64_t, BelowSet> sets;
    sets.reserve(d_->below.size() + reasons.size() / 4);
    d_->below.ForEach([&](const auto& entry) {
      sets.emplace(entry.first, entry.second);
      return true;
    });
    for (auto [code, key] : reasons) {
      while (sets[code].Add(key) && (code & 0xf) != 0) code = ParentCode(code);
    }
    std::vector<std::pair<uint64_t, BelowSet>> entries(
        std::make_move_iterator(sets.begin()),
        std::make_move_iterator(sets.end()));
    sets = {};
    d_->below = CowMap<uint64_t, BelowSet>();
    d_->below.BulkInsertNew(gen_, &entries);
  }

  // The visibility keys of `id` (see BelowSet), distinct, into `keys`;
  // interns destination groups not seen before.
  void BelowKeys(const lufd::v1::PublicIdentifier& id,
                 std::vector<uint32_t>* keys) {
    keys->clear();
    const uint32_t own = HasOwnRecords(id) ? 1 : 0;
    for (const auto& dg : id.dest_group_ids()) {
      keys->push_back(DestGroupNum(dg) << 1 | own);
    }
    if (keys->empty()) keys->push_back(own);  // Group 0: seen by nobody.
    std::sort(keys->begin(), keys->end());
    keys->erase(std::unique(keys->begin(), keys->end()), keys->end());
  }

  // Folds collected range changes into a fresh RangeIndex (O(#ranges), and
  // only when a range changed).
  void Finish() {
    FoldRanges(&d_->ranges, &added_ranges_, &removed_ranges_);
    FoldRanges(&d_->range_holdings, &added_holding_ranges_,
               &removed_holding_ranges_);
  }

  static void FoldRanges(std::shared_ptr<const RangeIndex>* index,
                         absl::flat_hash_map<std::string, RangeEntry>* added,
                         absl::flat_hash_set<std::string>* removed) {
    if (removed->empty() && added->empty()) return;
    auto next = std::make_shared<RangeIndex>();
    next->entries.reserve((*index)->entries.size() + added->size());
    for (const auto& e : (*index)->entries) {
      if (!removed->contains(e.key)) next->entries.push_back(e);
    }
    for (auto& [key, e] : *added) next->entries.push_back(std::move(e));
    next->Finish();
    *index = std::move(next);
    removed->clear();
    added->clear();
  }

 private:
  // Data::prefixes_by_length for one prefix identifier added (+1) or
  // removed (-1); other keys are ignored.
  void CountPrefix(ObjectKind kind, const std::string& key, int delta) {
    if (kind != lufd::v1::OBJECT_KIND_IDENTIFIER) return;
    if (auto code = PrefixKeyCode(key)) {
      d_->prefixes_by_length[*code & 0xf] += static_cast<uint32_t>(delta);
    }
  }

  // One more reason with `key` for `code` to have something below it (see
  // Data::below); a key's count leaving 0 is a new reason for the parent.
  void AddBelow(uint64_t code, uint32_t key) {
    while (d_->below.Upsert(gen_, code).Add(key) && (code & 0xf) != 0) {
      code = ParentCode(code);
    }
  }

  void RemoveBelow(uint64_t code, uint32_t key) {
    for (;;) {
      const auto* entry = d_->below.FindEntry(code);
      if (entry == nullptr) return;  // Not counted (cannot happen).
      BelowSet& set = d_->below.Upsert(gen_, code);
      const bool gone = set.Remove(key);
      if (set.counts.empty()) d_->below.Erase(gen_, code);
      if (!gone || (code & 0xf) == 0) return;
      code = ParentCode(code);
    }
  }

  // The empty-non-terminal reasons of a TN or prefix identifier at `code`:
  // one per key, for its parent.
  void PointBelow(uint64_t code, const lufd::v1::PublicIdentifier& id,
                  bool add) {
    BelowKeys(id, &keys_);
    for (uint32_t key : keys_) {
      if (add) {
        AddBelow(ParentCode(code), key);
      } else {
        RemoveBelow(ParentCode(code), key);
      }
    }
  }

  // The reasons of a range: per aligned block (ForEachRangeBlock), one for
  // the block's root (the parent of a single number), and a cover entry
  // for the names between the root and the numbers.
  void RangeBelow(const RangeEntry& range, const lufd::v1::PublicIdentifier& id,
                  bool add) {
    BelowKeys(id, &keys_);
    ForEachRangeBlock(range, [&](uint64_t root, size_t free) {
      for (uint32_t key : keys_) {
        if (free == 0) {
          if (add) {
            AddBelow(ParentCode(root), key);
          } else {
            RemoveBelow(ParentCode(root), key);
          }
          continue;
        }
        if (add) {
          AddBelow(root, key);
        } else {
          RemoveBelow(root, key);
        }
        if (free > 1) Cover(root, key, range.len, add);
      }
    });
  }

  // Counts (add) or drops one range block of `len`-digit numbers with `key`
  // rooted at `root` in Data::cover.
  void Cover(uint64_t root, uint32_t key, uint8_t len, bool add) {
    if (!add && d_->cover.FindEntry(root) == nullptr) return;
    CoverSet& set = d_->cover.Upsert(gen_, root);
    auto it = std::find_if(set.begin(), set.end(), [&](const CoverEntry& e) {
      return e.key == key && e.len == len;
    });
    if (add) {
      if (it == set.end()) {
        set.push_back(CoverEntry{key, len, 1});
      } else {
        ++it->count;
      }
    } else if (it != set.end() && --it->count == 0) {
      set.erase(it);
    }
    if (set.empty()) d_->cover.Erase(gen_, root);
  }

  uint32_t DestGroupNum(const std::string& dest_group_id) {
    if (const auto* e = d_->dest_group_nums.FindEntry(dest_group_id)) {
      return e->second;
    }
    const uint32_t num = d_->next_dest_group++;
    d_->dest_group_nums.Put(gen_, dest_group_id, num);
    d_->dest_group_names.Put(gen_, num, dest_group_id);
    return num;
  }

  // Drops the index entries of a stored TN (the TN table is not touched).
  void UnindexTn(uint64_t code, const Blob& blob) {
    lufd::v1::PublicIdentifier id;
    DecodeTn(code, blob, &id);
    for (const auto& dg : id.dest_group_ids()) {
      RemoveRef(&d_->dest_identifiers, dg, code);
    }
    if (!id.registrant_id().empty()) {
      RemoveRef(&d_->registrant_objects, id.registrant_id(), code);
    }
    PointBelow(code, id, /*add=*/false);
  }

  void IndexObject(ObjectKind kind, const std::string& key,
                   const RegistryObject& o, bool add) {
    auto ref = [&](Index* index, const std::string& target) {
      if (target.empty()) return;
      if (add) {
        AddRef(index, target, RefKey(kind, key));
      } else {
        RemoveRef(index, target, RefKey(kind, key));
      }
    };
    switch (kind) {
      case lufd::v1::OBJECT_KIND_ORG:
        ref(&d_->registrant_objects, o.org().registrar_id());
        break;
      case lufd::v1::OBJECT_KIND_CREDENTIAL:
        ref(&d_->org_credentials, o.credential().org_id());
        ref(&d_->spki_credentials,
            absl::AsciiStrToLower(o.credential().spki_sha256()));
        ref(&d_->san_credentials, o.credential().san_uri());
        ref(&d_->tsig_credentials, o.credential().tsig_key_name());
        break;
      case lufd::v1::OBJECT_KIND_IDENTIFIER: {
        const auto& id = o.identifier();
        for (const auto& dg : id.dest_group_ids()) {
          ref(&d_->dest_identifiers, dg);
        }
        ref(&d_->registrant_objects, id.registrant_id());
        if (auto code = PrefixKeyCode(key)) PointBelow(*code, id, add);
        if (auto range = RangeOf(id, key)) {
          RangeBelow(*range, id, add);
          if (add) {
            added_ranges_[key] = std::move(*range);
          } else {
            added_ranges_.erase(key);
            removed_ranges_.insert(key);
          }
        }
        break;
      }
      case lufd::v1::OBJECT_KIND_DEST_GROUP:
        ref(&d_->registrant_objects, o.dest_group().registrant_id());
        break;
      case lufd::v1::OBJECT_KIND_SED_RECORD:
        ref(&d_->registrant_objects, o.sed_record().registrant_id());
        break;
      case lufd::v1::OBJECT_KIND_SED_GROUP: {
        const auto& g = o.sed_group();
        ref(&d_->registrant_objects, g.registrant_id());
        for (const auto& dg : g.dest_group_ids()) ref(&d_->dest_sed_groups, dg);
        for (const auto& r : g.records()) {
          ref(&d_->record_sed_groups, r.record_id());
        }
        break;
      }
      case lufd::v1::OBJECT_KIND_OFFER:
        ref(&d_->group_offers, o.offer().sed_group_id());
        ref(&d_->peer_offers, o.offer().peer_org_id());
        break;
      case lufd::v1::OBJECT_KIND_HOLDING:
        ref(&d_->registrant_objects, o.holding().registrant_id());
        IndexHolding(key, o, add);
        break;
      default:
        break;
    }
  }

  // The holdings index of Data (one holding object, added or removed).
  void IndexHolding(const std::string& key, const RegistryObject& o, bool add) {
    const lufd::v1::Holding& h = o.holding();
    absl::string_view digits = h.value();
    if (!absl::ConsumePrefix(&digits, "+")) return;
    std::optional<uint64_t> code = DigitsCode(digits);
    if (!code) return;
    switch (h.kind()) {
      case lufd::v1::IDENTIFIER_KIND_TN:
      case lufd::v1::IDENTIFIER_KIND_TN_PREFIX: {
        const bool tn = h.kind() == lufd::v1::IDENTIFIER_KIND_TN;
        CowMap<uint64_t, ObjPtr>& map =
            tn ? d_->tn_holdings : d_->prefix_holdings;
        if (add) {
          bool inserted = false;
          ObjPtr& slot = map.Upsert(gen_, *code, &inserted);
          // Insert() stored the object before indexing it.
          slot =
              d_->objects[lufd::v1::OBJECT_KIND_HOLDING].FindEntry(key)->second;
          if (inserted && !tn) ++d_->prefix_holding_lengths[digits.size()];
        } else if (map.FindEntry(*code) != nullptr) {
          map.Erase(gen_, *code);
          if (!tn) --d_->prefix_holding_lengths[digits.size()];
        }
        break;
      }
      case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
        lufd::v1::PublicIdentifier as_range;
        as_range.set_kind(h.kind());
        as_range.set_value(h.value());
        as_range.set_range_end(h.range_end());
        if (auto range = RangeOf(as_range, key)) {
          if (add) {
            added_holding_ranges_[key] = std::move(*range);
          } else {
            added_holding_ranges_.erase(key);
            removed_holding_ranges_.insert(key);
          }
        }
        break;
      }
      default:
        break;
    }
  }

  RefSet& MutableRefSet(Index* index, const std::string& target) {
    return view_internal::OwnedBy(&index->Upsert(gen_, target), gen_);
  }

  template <class R>
  void AddRef(Index* index, const std::string& target, const R& ref) {
    RefSet& set = MutableRefSet(index, target);
    if constexpr (std::is_same_v<R, uint64_t>) {
      set.tns.Put(gen_, ref);
    } else {
      set.refs.Put(gen_, ref);
    }
  }

  template <class R>
  void RemoveRef(Index* index, const std::string& target, const R& ref) {
    const auto* entry = index->FindEntry(target);
    if (entry == nullptr) return;
    if constexpr (std::is_same_v<R, uint64_t>) {
      if (!entry->second->tns.Contains(ref)) return;
    } else {
      if (!entry->second->refs.Contains(ref)) return;
    }
    RefSet& set = MutableRefSet(index, target);
    if constexpr (std::is_same_v<R, uint64_t>) {
      set.tns.Erase(gen_, ref);
    } else {
      set.refs.Erase(gen_, ref);
    }
    if (set.empty()) index->Erase(gen_, target);
  }

  Data* d_;
  uint64_t gen_;
  absl::flat_hash_map<std::string, RangeEntry> added_ranges_;
  absl::flat_hash_set<std::string> removed_ranges_;
  std::vector<uint32_t> keys_;  // BelowKeys scratch.
  absl::flat_hash_map<std::string, RangeEntry> added_holding_ranges_;
  absl::flat_hash_set<std::string> removed_holding_ranges_;
};

// ---- Constant-path resolution (no timing oracle) -------------------------
// An identifier the viewer may not see must cost what a missing one costs:
// otherwise the latency of Lookup (or of a DNS query) tells a harvester
// which numbers exist. So every number resolution does the same work up to
// the one visibility decision, whatever it finds: one TN-table probe and
// one scan of a TN's destination groups (of the TN found, or of a fixed
// stand-in), one range search, one probe per prefix length present in the
// view (no early exit), then GroupsFor() on the most specific identifier
// found, or on the stand-in (probes of tables the view leaves empty are
// skipped: that depends on the view, not on the query). A URI does one probe
// and GroupsFor() on the URI or the stand-in. Only a visible answer does more
// (decoding records). The per-thread ResolveWork counters make the property
// testable without timing it.

thread_local ResolveWork tls_resolve_work;

// A destination group id no object can have (ids are printable), so the
// stand-in is never visible; resolution also never answers from it.
constexpr absl::string_view kStandInDestGroup = "\x01lufd:no-identifier";
// What the range search probes when no range covers the number: a key of a
// range's shape that no object has.
constexpr absl::string_view kStandInRangeKey =
    "range:+000000000000000-+000000000000000";

// The stand-in as an encoded TN (kind and value stripped, as EncodeTn),
// shaped like a provisioned one: a registrant, one destination group and
// one inline NAPTR.
const std::string& StandInTnBytes() {
  static const std::string* bytes = [] {
    lufd::v1::PublicIdentifier id;
    id.set_registrant_id("iana-en:0");
    id.add_dest_group_ids(std::string(kStandInDestGroup));
    auto* naptr = id.add_records()->mutable_naptr();
    naptr->set_order(100);
    naptr->set_preference(10);
    naptr->set_flags("u");
    naptr->set_services("E2U+sip");
    naptr->set_regexp("!^.*$!sip:000000000000000@example.invalid!");
    return new std::string(id.SerializeAsString());
  }();
  return *bytes;
}

const lufd::v1::PublicIdentifier& StandInIdentifier() {
  static const auto* id = [] {
    auto* out = new lufd::v1::PublicIdentifier();
    out->add_dest_group_ids(std::string(kStandInDestGroup));
    return out;
  }();
  return *id;
}

// Reads only the destination group ids of an encoded TN into `dest_groups`
// (views into `bytes`, cleared first), skipping (not parsing) everything
// else: visibility depends on nothing more, and neither the TN's inline
// records nor the ids' lengths change the cost (nothing is allocated once
// the vector has grown). False when the bytes are malformed.
bool ScanTnDestGroups(absl::string_view bytes,
                      std::vector<absl::string_view>* dest_groups,
                      absl::string_view* registrant) {
  dest_groups->clear();
  *registrant = {};
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
  constexpr uint32_t kDestGroupTag = WireFormatLite::MakeTag(
      lufd::v1::PublicIdentifier::kDestGroupIdsFieldNumber,
      WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  constexpr uint32_t kRegistrantTag = WireFormatLite::MakeTag(
      lufd::v1::PublicIdentifier::kRegistrantIdFieldNumber,
      WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  for (;;) {
    const uint32_t tag = in.ReadTag();
    // 0: the end of the bytes, or a malformed tag before it.
    if (tag == 0)
      return static_cast<size_t>(in.CurrentPosition()) == bytes.size();
    if (tag == kDestGroupTag || tag == kRegistrantTag) {
      uint32_t len = 0;
      const void* data = nullptr;
      int size = 0;
      if (!in.ReadVarint32(&len) || !in.GetDirectBufferPointer(&data, &size) ||
          static_cast<uint32_t>(size) < len) {
        return false;
      }
      absl::string_view field(static_cast<const char*>(data), len);
      if (tag == kDestGroupTag) {
        dest_groups->push_back(field);
      } else {
        *registrant = field;
      }
      in.Skip(static_cast<int>(len));
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

class ViewImpl final : public RegistryView {
 public:
  ViewImpl(Data data, uint64_t serial)
      : data_(std::move(data)), serial_(serial) {}

  uint64_t serial() const override { return serial_; }

  absl::StatusOr<std::shared_ptr<const RegistryView>> Apply(
      const std::vector<lufd::v1::Change>& changes) const override {
    Data next = data_;  // Shares every shard.
    Mutator mutator(&next, view_internal::NextGeneration());
    uint64_t serial = serial_;
    for (size_t i = 0; i < changes.size(); ++i) {
      const auto& change = changes[i];
      if (change.serial() < serial || change.serial() <= serial_) {
        return absl::InternalError(absl::StrCat("change ", i, ": serial ",
                                                change.serial(),
                                                " does not follow ", serial));
      }
      serial = change.serial();
      if (!ValidKind(change.kind()) || change.key().empty()) {
        return absl::InternalError(absl::StrCat("change ", i, " (serial ",
                                                change.serial(),
                                                "): bad kind or empty key"));
      }
      if (change.deleted() || !change.has_after()) {
        mutator.Remove(change.kind(), change.key());
        continue;
      }
      if (KindOf(change.after()) != change.kind()) {
        return absl::InternalError(
            absl::StrCat("change ", i, " (serial ", change.serial(),
                         "): object does not match kind"));
      }
      mutator.Insert(change.kind(), change.key(), change.after());
    }
    mutator.Finish();
    return std::shared_ptr<const RegistryView>(
        std::make_shared<ViewImpl>(std::move(next), serial));
  }

  std::optional<RegistryObject> Get(ObjectKind kind,
                                    absl::string_view key) const override {
    if (!ValidKind(kind)) return std::nullopt;
    if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) {
      if (auto code = TnKeyCode(key)) {
        const auto* entry = data_.tns.FindEntry(*code);
        if (entry == nullptr) return std::nullopt;
        RegistryObject object;
        DecodeTn(*code, entry->second, object.mutable_identifier());
        return object;
      }
    }
    const ObjPtr* ptr = FindObject(kind, key);
    if (ptr == nullptr) return std::nullopt;
    return **ptr;
  }

  size_t Count(ObjectKind kind) const override {
    if (!ValidKind(kind)) return 0;
    size_t n = data_.objects[kind].size();
    if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) n += data_.tns.size();
    return n;
  }

  void ForEach(
      ObjectKind kind,
      const std::function<bool(absl::string_view, const RegistryObject&)>& fn)
      const override {
    if (!ValidKind(kind)) return;
    bool more = data_.objects[kind].ForEach(
        [&](const auto& entry) { return fn(entry.first, *entry.second); });
    if (!more || kind != lufd::v1::OBJECT_KIND_IDENTIFIER) return;
    RegistryObject object;
    data_.tns.ForEach([&](const auto& entry) {
      DecodeTn(entry.first, entry.second, object.mutable_identifier());
      return fn(TnKey(entry.first), object);
    });
  }

  std::optional<lufd::v1::Credential> FindCredential(
      absl::string_view spki_sha256,
      const std::vector<std::string>& san_uris) const override {
    std::string spki = absl::AsciiStrToLower(spki_sha256);
    absl::flat_hash_set<std::string> sans(san_uris.begin(), san_uris.end());
    std::vector<std::string> candidates;
    auto collect = [&](const Index& index, const std::string& value) {
      if (value.empty()) return;
      const auto* entry = index.FindEntry(value);
      if (entry == nullptr) return;
      entry->second->refs.ForEach([&](const std::string& ref) {
        candidates.push_back(ref.substr(1));
        return true;
      });
    };
    collect(data_.spki_credentials, spki);
    for (const auto& san : san_uris) collect(data_.san_credentials, san);
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()),
                     candidates.end());
    const lufd::v1::Credential* best = nullptr;
    int best_score = 0;
    for (const auto& id : candidates) {
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_CREDENTIAL, id);
      if (ptr == nullptr) continue;
      const auto& cred = (*ptr)->credential();
      if (cred.disabled()) continue;
      if (cred.spki_sha256().empty() && cred.san_uri().empty()) continue;
      if (!cred.spki_sha256().empty() &&
          absl::AsciiStrToLower(cred.spki_sha256()) != spki) {
        continue;
      }
      if (!cred.san_uri().empty() && !sans.contains(cred.san_uri())) continue;
      const ObjPtr* org = FindObject(lufd::v1::OBJECT_KIND_ORG, cred.org_id());
      if (org == nullptr || (*org)->org().disabled()) continue;
      // Prefer the credential that pins the most (both > one); candidates
      // are sorted by id, so ties resolve deterministically.
      int score = (cred.spki_sha256().empty() ? 0 : 1) +
                  (cred.san_uri().empty() ? 0 : 1);
      if (score > best_score) {
        best = &cred;
        best_score = score;
      }
    }
    if (best == nullptr) return std::nullopt;
    return *best;
  }

  bool HasIdentifiersBelow(absl::string_view e164_prefix) const override {
    return AnyKeyBelow(e164_prefix, [](uint32_t) { return true; });
  }

  bool HasVisibleIdentifiersBelow(absl::string_view e164_prefix,
                                  const Identity& viewer) const override {
    std::vector<uint8_t>* states = nullptr;  // Fetched on first use.
    return AnyKeyBelow(e164_prefix, [&](uint32_t key) {
      const uint32_t group = key >> 1;
      if (group == 0) return false;  // No destination group: no answer.
      if (states == nullptr) states = &DestGroupStates(viewer);
      if (group >= states->size()) return false;  // Cannot happen.
      uint8_t& state = (*states)[group];
      if (state == kGroupUnknown) state = DestGroupState(group, viewer);
      return state == kGroupWithRecords ||
             (state == kGroupWithoutRecords && (key & 1) != 0);
    });
  }

  std::vector<std::string> CredentialsWithTsigKey(
      absl::string_view key_name) const override {
    std::vector<std::string> out;
    if (key_name.empty()) return out;
    const auto* entry = data_.tsig_credentials.FindEntry(key_name);
    if (entry == nullptr) return out;
    entry->second->refs.ForEach([&](const std::string& ref) {
      out.push_back(ref.substr(1));  // ref[0] is the kind.
      return true;
    });
    std::sort(out.begin(), out.end());
    return out;
  }

  std::optional<lufd::v1::Credential> FindTsigCredential(
      absl::string_view key_name) const override {
    // Sorted ids: should two credentials ever share a name (the write path
    // forbids it), the answer is still deterministic.
    for (const std::string& id : CredentialsWithTsigKey(key_name)) {
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_CREDENTIAL, id);
      if (ptr == nullptr) continue;
      const auto& cred = (*ptr)->credential();
      if (cred.disabled() || cred.tsig_key_name() != key_name ||
          cred.tsig_secret().empty()) {
        continue;
      }
      const ObjPtr* org = FindObject(lufd::v1::OBJECT_KIND_ORG, cred.org_id());
      if (org == nullptr || (*org)->org().disabled()) continue;
      return cred;
    }
    return std::nullopt;
  }

  std::vector<std::pair<ObjectKind, std::string>> Referrers(
      ObjectKind kind, absl::string_view key) const override {
    std::vector<std::pair<ObjectKind, std::string>> out;
    auto add = [&](const Index& index) {
      const auto* entry = index.FindEntry(key);
      if (entry == nullptr) return;
      entry->second->refs.ForEach([&](const std::string& ref) {
        out.emplace_back(static_cast<ObjectKind>(ref[0]), ref.substr(1));
        return true;
      });
      entry->second->tns.ForEach([&](uint64_t code) {
        out.emplace_back(lufd::v1::OBJECT_KIND_IDENTIFIER, TnKey(code));
        return true;
      });
    };
    switch (kind) {
      case lufd::v1::OBJECT_KIND_ORG:
        add(data_.org_credentials);
        add(data_.registrant_objects);
        add(data_.peer_offers);
        break;
      case lufd::v1::OBJECT_KIND_DEST_GROUP:
        add(data_.dest_identifiers);
        add(data_.dest_sed_groups);
        break;
      case lufd::v1::OBJECT_KIND_SED_RECORD:
        add(data_.record_sed_groups);
        break;
      case lufd::v1::OBJECT_KIND_SED_GROUP:
        add(data_.group_offers);
        break;
      default:
        break;
    }
    return out;
  }

  std::vector<std::string> SedGroupsOn(
      absl::string_view dest_group_id) const override {
    std::vector<std::string> out;
    const auto* entry = data_.dest_sed_groups.FindEntry(dest_group_id);
    if (entry == nullptr) return out;
    entry->second->refs.ForEach([&](const std::string& ref) {
      out.push_back(ref.substr(1));  // ref[0] is the kind.
      return true;
    });
    return out;
  }

  Resolution ResolveNumber(absl::string_view e164,
                           const Identity& viewer) const override {
    Resolution result;
    result.normalized = std::string(e164);
    thread_local std::vector<RecordRef> refs;
    ResolveNumberRefs(e164, viewer, &refs);
    CopyAnswers(refs, &result);
    return result;
  }

  Resolution ResolveUri(absl::string_view uri,
                        const Identity& viewer) const override {
    Resolution result;
    result.normalized = std::string(uri);
    // Constant path (see above): the visibility decision is made on the
    // stand-in when there is no such URI.
    ++tls_resolve_work.uri_probes;
    const ObjPtr* ptr =
        FindObject(lufd::v1::OBJECT_KIND_IDENTIFIER, absl::StrCat("uri:", uri));
    const lufd::v1::PublicIdentifier& id =
        ptr != nullptr ? (*ptr)->identifier() : StandInIdentifier();
    thread_local std::vector<RecordRef> refs;
    refs.clear();
    if (GroupsFor(id, viewer).visible && ptr != nullptr) {
      AnswerRefs(id, viewer, &refs);
    }
    CopyAnswers(refs, &result);
    return result;
  }

  bool ResolveNumberRefs(absl::string_view e164, const Identity& viewer,
                         std::vector<RecordRef>* out) const override {
    out->clear();
    absl::string_view digits = e164;
    if (!absl::ConsumePrefix(&digits, "+")) return false;
    auto code = DigitsCode(digits);
    if (!code) return false;

    // Constant path (see "Constant-path resolution" above): everything up
    // to the visibility decision is done whatever the probes find.
    ResolveWork& work = tls_resolve_work;
    // Holdings (view.h): only identifiers of the holder of the innermost
    // holding containing the number answer for it ("" = no holding: all).
    // The same probes whatever identifiers exist.
    const absl::string_view holder = HolderOfCode(*code);
    auto held = [&](absl::string_view registrant) {
      return holder.empty() || registrant == holder;
    };
    ++work.tn_probes;
    const auto* entry = data_.tns.FindEntry(*code);
    ++work.tn_decodes;
    thread_local std::vector<absl::string_view> tn_dest_groups;
    absl::string_view tn_registrant;
    const bool tn_found =
        ScanTnDestGroups(entry != nullptr ? entry->second.view()
                                          : absl::string_view(StandInTnBytes()),
                         &tn_dest_groups, &tn_registrant) &&
        entry != nullptr && held(tn_registrant);
    if (entry != nullptr && !tn_found) {
      // Another registrant's TN in a holding that is not theirs (a port):
      // decide on the stand-in's group instead, as for a missing TN.
      tn_dest_groups.assign(1, kStandInDestGroup);
    }

    // One search and one identifier-table probe whether or not a range
    // covers the number; none when the view has no range at all (that
    // depends on the view, not on the query).
    const lufd::v1::PublicIdentifier* range_id = nullptr;
    if (!data_.ranges->entries.empty()) {
      ++work.range_searches;
      if (!holder.empty()) {
        range_id = NarrowestRangeOf(static_cast<uint8_t>(digits.size()),
                                    *code >> 4, holder);
      } else {
        const RangeEntry* range = data_.ranges->Narrowest(
            static_cast<uint8_t>(digits.size()), *code >> 4);
        const ObjPtr* range_ptr =
            FindObject(lufd::v1::OBJECT_KIND_IDENTIFIER,
                       range != nullptr ? absl::string_view(range->key)
                                        : kStandInRangeKey);
        if (range != nullptr && range_ptr != nullptr) {
          range_id = &(*range_ptr)->identifier();
        }
      }
    }

    // Every prefix length present, longest first, without stopping at the
    // first hit. The key is per-thread: no allocation per call.
    const lufd::v1::PublicIdentifier* prefix_id = nullptr;
    thread_local std::string key;
    key.assign(kPrefixKeyPrefix.data(), kPrefixKeyPrefix.size());
    key.append(digits.data(), digits.size());
    for (size_t len = digits.size(); len > 0; --len) {
      if (data_.prefixes_by_length[len] == 0) continue;
      ++work.prefix_probes;
      key.resize(kPrefixKeyPrefix.size() + len);
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_IDENTIFIER, key);
      if (ptr != nullptr && prefix_id == nullptr &&
          (*ptr)->identifier().kind() == lufd::v1::IDENTIFIER_KIND_TN_PREFIX &&
          held((*ptr)->identifier().registrant_id())) {
        prefix_id = &(*ptr)->identifier();
      }
    }

    // The most specific identifier (TN, narrowest range, longest prefix), or
    // the stand-in (whose scan tn_dest_groups then holds): one visibility
    // decision, on views of the destination group ids either way.
    const lufd::v1::PublicIdentifier* id =
        range_id != nullptr ? range_id : prefix_id;
    thread_local std::vector<absl::string_view> id_dest_groups;
    id_dest_groups.clear();
    if (!tn_found && id != nullptr) {
      for (const auto& dg : id->dest_group_ids()) id_dest_groups.push_back(dg);
    }
    const bool found = tn_found || id != nullptr;
    const bool visible =
        GroupsForDestGroups(
            !tn_found && id != nullptr ? id_dest_groups : tn_dest_groups,
            viewer)
            .visible;
    if (!visible || !found) return false;
    if (tn_found) {
      // Visible: now the whole TN, records included, parsed on a per-thread
      // arena over a fixed block, reset per call (a reused message would
      // still free and reallocate its strings and oneof records).
      struct TnScratch {
        alignas(std::max_align_t) char block[8192];
        google::protobuf::Arena arena{block, sizeof(block)};
      };
      thread_local TnScratch scratch;
      scratch.arena.Reset();
      auto* tn =
          google::protobuf::Arena::CreateMessage<lufd::v1::PublicIdentifier>(
              &scratch.arena);
      absl::string_view bytes = entry->second.view();
      if (!tn->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return false;
      }
      id = tn;
    }
    return AnswerRefs(*id, viewer, out);
  }

  absl::string_view HolderOf(absl::string_view e164) const override {
    absl::string_view digits = e164;
    if (!absl::ConsumePrefix(&digits, "+")) return {};
    auto code = DigitsCode(digits);
    if (!code) return {};
    return HolderOfCode(*code);
  }

  std::vector<lufd::v1::Holding> HoldingsAt(
      absl::string_view e164) const override {
    std::vector<lufd::v1::Holding> out;
    absl::string_view digits = e164;
    if (!absl::ConsumePrefix(&digits, "+")) return out;
    auto code = DigitsCode(digits);
    if (!code) return out;
    ForEachHoldingAt(*code, [&](const lufd::v1::Holding& h) {
      out.push_back(h);
      return true;
    });
    return out;
  }

 private:
  // Holdings containing the number of DigitsCode `code`, innermost first
  // (Data's holdings index), to fn until it returns false.
  template <typename Fn>
  void ForEachHoldingAt(uint64_t code, Fn&& fn) const {
    if (const auto* tn = data_.tn_holdings.FindEntry(code)) {
      if (!fn(tn->second->holding())) return;
    }
    const uint8_t len = static_cast<uint8_t>(code & 0xf);
    const uint64_t value = code >> 4;
    if (!data_.range_holdings->entries.empty()) {
      std::vector<const RangeEntry*> covering;  // Nested: sort by width.
      data_.range_holdings->ForEachCovering(len, value,
                                            [&](const RangeEntry& e) {
                                              covering.push_back(&e);
                                              return true;
                                            });
      std::sort(covering.begin(), covering.end(),
                [](const RangeEntry* a, const RangeEntry* b) {
                  return a->hi - a->lo < b->hi - b->lo;
                });
      for (const RangeEntry* e : covering) {
        const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_HOLDING, e->key);
        if (ptr != nullptr && !fn((*ptr)->holding())) return;
      }
    }
    for (uint8_t k = len; k > 0; --k) {
      if (data_.prefix_holding_lengths[k] == 0) continue;
      const uint64_t prefix = (value / kPow10[len - k]) << 4 | k;
      if (const auto* p = data_.prefix_holdings.FindEntry(prefix)) {
        if (!fn(p->second->holding())) return;
      }
    }
  }

  // HolderOf for a DigitsCode; allocation free.
  absl::string_view HolderOfCode(uint64_t code) const {
    if (const auto* tn = data_.tn_holdings.FindEntry(code)) {
      return tn->second->holding().registrant_id();
    }
    const uint8_t len = static_cast<uint8_t>(code & 0xf);
    const uint64_t value = code >> 4;
    if (const RangeEntry* range = data_.range_holdings->Narrowest(len, value)) {
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_HOLDING, range->key);
      if (ptr != nullptr) return (*ptr)->holding().registrant_id();
    }
    for (uint8_t k = len; k > 0; --k) {
      if (data_.prefix_holding_lengths[k] == 0) continue;
      const uint64_t prefix = (value / kPow10[len - k]) << 4 | k;
      if (const auto* p = data_.prefix_holdings.FindEntry(prefix)) {
        return p->second->holding().registrant_id();
      }
    }
    return {};
  }

  // The narrowest range identifier of `registrant` covering the number, or
  // nullptr (only when a holding decides: ranges of others are skipped).
  const lufd::v1::PublicIdentifier* NarrowestRangeOf(
      uint8_t len, uint64_t value, absl::string_view registrant) const {
    const lufd::v1::PublicIdentifier* best = nullptr;
    uint64_t best_width = 0;
    data_.ranges->ForEachCovering(len, value, [&](const RangeEntry& e) {
      if (best != nullptr && e.hi - e.lo >= best_width) return true;
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_IDENTIFIER, e.key);
      if (ptr != nullptr &&
          (*ptr)->identifier().registrant_id() == registrant) {
        best = &(*ptr)->identifier();
        best_width = e.hi - e.lo;
      }
      return true;
    });
    return best;
  }

  const ObjPtr* FindObject(ObjectKind kind, absl::string_view key) const {
    const auto* entry = data_.objects[kind].FindEntry(key);  // No copy.
    return entry == nullptr ? nullptr : &entry->second;
  }

  // True when some visibility key (BelowSet) below the name passes
  // `pass`: a key counted at the name itself, or a range block rooted
  // above it whose numbers are longer than the name. O(digits) lookups,
  // plus one `pass` per key found.
  template <class Pass>
  bool AnyKeyBelow(absl::string_view e164_prefix, Pass&& pass) const {
    absl::string_view digits = e164_prefix;
    if (!absl::ConsumePrefix(&digits, "+") || digits.size() >= 15) {
      return false;  // Nothing is longer than 15 digits (E.164).
    }
    uint64_t code = 0;  // The apex.
    if (!digits.empty()) {
      auto parsed = DigitsCode(digits);
      if (!parsed) return false;
      code = *parsed;
    }
    if (const auto* entry = data_.below.FindEntry(code)) {
      for (const auto& [key, count] : entry->second.counts) {
        if (pass(key)) return true;
      }
    }
    if (data_.cover.empty()) return false;
    for (uint64_t above = code; (above & 0xf) != 0;) {
      above = ParentCode(above);
      const auto* entry = data_.cover.FindEntry(above);
      if (entry == nullptr) continue;
      for (const CoverEntry& block : entry->second) {
        if (block.len > digits.size() && pass(block.key)) return true;
      }
    }
    return false;
  }

  // What a destination group gives a viewer (HasVisibleIdentifiersBelow):
  // no in-service SED group it may see; such groups but without an
  // in-service record (an identifier then answers only with records of
  // its own); or such groups with records. The rule of GroupsFor and
  // AnswerRefs, per destination group.
  enum : uint8_t {
    kGroupUnknown = 0,  // Not computed yet (DestGroupStates).
    kGroupHidden,
    kGroupWithoutRecords,
    kGroupWithRecords,
  };

  uint8_t DestGroupState(uint32_t group, const Identity& viewer) const {
    const auto* name = data_.dest_group_names.FindEntry(group);
    if (name == nullptr) return kGroupHidden;
    const auto* entry = data_.dest_sed_groups.FindEntry(name->second);
    if (entry == nullptr) return kGroupHidden;
    uint8_t state = kGroupHidden;
    entry->second->refs.ForEach([&](const std::string& ref) {
      const ObjPtr* ptr = FindObject(lufd::v1::OBJECT_KIND_SED_GROUP,
                                     absl::string_view(ref).substr(1));
      if (ptr == nullptr) return true;
      const auto& sed_group = (*ptr)->sed_group();
      if (!sed_group.in_service() || !Visible(sed_group, viewer)) return true;
      state = kGroupWithoutRecords;
      for (const auto& r : sed_group.records()) {
        const ObjPtr* record =
            FindObject(lufd::v1::OBJECT_KIND_SED_RECORD, r.record_id());
        if (record == nullptr) continue;
        const auto& rec = (*record)->sed_record();
        if (rec.in_service() &&
            (rec.has_naptr() || rec.has_uri() || rec.has_ns())) {
          state = kGroupWithRecords;
          return false;
        }
      }
      return true;
    });
    return state;
  }

  // The calling thread's DestGroupState memo for this view and the
  // viewer's class (authz.h: visibility depends on nothing else), one
  // byte per interned destination group, kGroupUnknown until computed.
  // Reset (not reallocated) when the thread moves to another view.
  std::vector<uint8_t>& DestGroupStates(const Identity& viewer) const {
    struct ClassStates {
      uint64_t view_id = 0;
      std::vector<uint8_t> states;
    };
    struct Cache {
      absl::flat_hash_map<std::string, ClassStates> classes;
      std::string key;
    };
    thread_local Cache cache;
    cache.key.clear();
    AppendViewerClass(viewer, &cache.key);
    auto it = cache.classes.find(cache.key);
    if (it == cache.classes.end()) {
      if (cache.classes.size() >= 1024) cache.classes.clear();  // Bounded.
      it = cache.classes.try_emplace(cache.key).first;
    }
    ClassStates& mine = it->second;
    if (mine.view_id != id_) {
      mine.states.assign(data_.next_dest_group, kGroupUnknown);
      mine.view_id = id_;
    }
    return mine.states;
  }

  // authz.h's visibility rule, with the offer looked up in this view.
  bool Visible(const lufd::v1::SedGroup& group, const Identity& viewer) const {
    return SedGroupVisible(group, viewer, [&] {
      const ObjPtr* offer =
          FindObject(lufd::v1::OBJECT_KIND_OFFER,
                     absl::StrCat(group.id(), "|", viewer.org_id));
      return offer != nullptr &&
             (*offer)->offer().status() == lufd::v1::OFFER_STATUS_ACCEPTED;
    });
  }

  // NAPTRs by (order, preference), then URIs by (priority, weight), then
  // NS; ties by group priority, then the record's priority in its group.
  using SortKey = std::tuple<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>;
  struct Candidate {
    RecordRef ref;
    SortKey key;
  };

  static void AddCandidate(const lufd::v1::SedRecord& record,
                           uint32_t group_priority, uint32_t record_priority,
                           std::vector<Candidate>* out) {
    if (!record.in_service()) return;
    uint32_t kind = 0, first = 0, second = 0;
    switch (record.rdata_case()) {
      case lufd::v1::SedRecord::kNaptr:
        first = record.naptr().order();
        second = record.naptr().preference();
        break;
      case lufd::v1::SedRecord::kUri:
        kind = 1;
        first = record.uri().priority();
        second = record.uri().weight();
        break;
      case lufd::v1::SedRecord::kNs:
        kind = 2;
        break;
      default:
        return;
    }
    out->push_back(
        Candidate{{&record, EffectiveRecordTtl(record.ttl())},
                  {kind, first, second, group_priority, record_priority}});
  }

  static bool ByKey(const Candidate& a, const Candidate& b) {
    return a.key < b.key;
  }

  // std::stable_sort allocates a buffer on every call; answers hold a few
  // records, which an insertion sort orders in place (and stably).
  static void StableSortByKey(std::vector<Candidate>* v) {
    if (v->size() > 32) {
      std::stable_sort(v->begin(), v->end(), ByKey);
      return;
    }
    for (size_t i = 1; i < v->size(); ++i) {
      for (size_t j = i; j > 0 && ByKey((*v)[j], (*v)[j - 1]); --j) {
        std::swap((*v)[j], (*v)[j - 1]);
      }
    }
  }

  // The part of an answer that comes from SED groups depends only on the
  // identifier's destination groups and the viewer's class, not on the
  // number. A million TNs usually share a handful of destination groups,
  // so it is computed once per (view, thread) and reused.
  struct GroupAnswer {
    bool visible = false;  // At least one in-service SED group is visible.
    std::vector<Candidate> candidates;  // Stable-sorted by key.
  };

  const GroupAnswer& GroupsFor(const lufd::v1::PublicIdentifier& id,
                               const Identity& viewer) const {
    return GroupsForDestGroups(id.dest_group_ids(), viewer);
  }

  // GroupsFor() of an identifier with these destination group ids (any
  // range of strings or string_views).
  template <typename DestGroupIds>
  const GroupAnswer& GroupsForDestGroups(const DestGroupIds& dest_group_ids,
                                         const Identity& viewer) const {
    ++tls_resolve_work.group_evaluations;
    struct Cache {
      uint64_t view_id = 0;
      absl::flat_hash_map<std::string, GroupAnswer> answers;
      std::string key;
    };
    thread_local Cache cache;
    if (cache.view_id != id_) {
      cache.answers.clear();
      cache.view_id = id_;
    }
    std::string& key = cache.key;
    key.clear();
    // Visibility depends only on the viewer's class (authz.h).
    AppendViewerClass(viewer, &key);
    for (const auto& dg : dest_group_ids) {
      key.push_back('\0');
      key.append(dg.data(), dg.size());
    }
    if (auto it = cache.answers.find(key); it != cache.answers.end()) {
      return it->second;
    }
    if (cache.answers.size() >= 4096) cache.answers.clear();  // Bounded.
    GroupAnswer& answer = cache.answers[key];

    std::vector<const lufd::v1::SedGroup*> groups;
    absl::flat_hash_set<absl::string_view> seen_groups;
    for (const auto& dg : dest_group_ids) {
      const auto* entry = data_.dest_sed_groups.FindEntry(dg);
      if (entry == nullptr) continue;
      entry->second->refs.ForEach([&](const std::string& ref) {
        absl::string_view group_id = absl::string_view(ref).substr(1);
        if (!seen_groups.insert(group_id).second) return true;
        const ObjPtr* ptr =
            FindObject(lufd::v1::OBJECT_KIND_SED_GROUP, group_id);
        if (ptr == nullptr) return true;
        const auto& group = (*ptr)->sed_group();
        if (group.in_service() && Visible(group, viewer)) {
          groups.push_back(&group);
        }
        return true;
      });
    }
    if (groups.empty()) return answer;
    answer.visible = true;
    std::sort(groups.begin(), groups.end(), [](const auto* a, const auto* b) {
      if (a->priority() != b->priority()) return a->priority() < b->priority();
      return a->id() < b->id();
    });
    for (const auto* group : groups) {
      for (const auto& ref : group->records()) {
        const ObjPtr* ptr =
            FindObject(lufd::v1::OBJECT_KIND_SED_RECORD, ref.record_id());
        if (ptr == nullptr) continue;
        AddCandidate((*ptr)->sed_record(), group->priority(), ref.priority(),
                     &answer.candidates);
      }
    }
    StableSortByKey(&answer.candidates);
    return answer;
  }

  // Two candidates give the same answer (same TTL and RDATA).
  static bool SameAnswer(const RecordRef& a, const RecordRef& b) {
    if (a.ttl != b.ttl || a.record->rdata_case() != b.record->rdata_case()) {
      return false;
    }
    thread_local std::string x, y;
    switch (a.record->rdata_case()) {
      case lufd::v1::SedRecord::kNaptr:
        a.record->naptr().SerializeToString(&x);
        b.record->naptr().SerializeToString(&y);
        break;
      case lufd::v1::SedRecord::kUri:
        a.record->uri().SerializeToString(&x);
        b.record->uri().SerializeToString(&y);
        break;
      default:
        a.record->ns().SerializeToString(&x);
        b.record->ns().SerializeToString(&y);
        break;
    }
    return x == y;
  }

  // The records of `id` that `viewer` sees (see the class comment in
  // view.h): group records and the identifier's inline records, ordered by
  // key with group records first on a full tie, without duplicates.
  bool AnswerRefs(const lufd::v1::PublicIdentifier& id, const Identity& viewer,
                  std::vector<RecordRef>* out) const {
    out->clear();
    const GroupAnswer& groups = GroupsFor(id, viewer);
    if (!groups.visible) return false;
    thread_local std::vector<Candidate> inline_records, merged;
    inline_records.clear();
    merged.clear();
    for (const auto& record : id.records()) {
      AddCandidate(record, 0, 0, &inline_records);
    }
    StableSortByKey(&inline_records);
    // std::merge takes from the first range on ties: the same order as a
    // stable sort of the group records followed by the inline ones.
    std::merge(groups.candidates.begin(), groups.candidates.end(),
               inline_records.begin(), inline_records.end(),
               std::back_inserter(merged), ByKey);
    // Duplicates have equal (kind, order, preference), so they sit in one
    // run of equal leading key fields: only that run is compared.
    size_t run_start = 0;
    thread_local std::vector<size_t> kept;
    kept.clear();
    for (size_t i = 0; i < merged.size(); ++i) {
      const auto& key = merged[i].key;
      if (i > 0 &&
          std::tie(std::get<0>(key), std::get<1>(key), std::get<2>(key)) !=
              std::tie(std::get<0>(merged[i - 1].key),
                       std::get<1>(merged[i - 1].key),
                       std::get<2>(merged[i - 1].key))) {
        run_start = kept.size();
      }
      bool duplicate = false;
      for (size_t k = run_start; !duplicate && k < kept.size(); ++k) {
        duplicate = SameAnswer(merged[kept[k]].ref, merged[i].ref);
      }
      if (duplicate) continue;
      kept.push_back(i);
      out->push_back(merged[i].ref);
    }
    return !out->empty();
  }

  static void CopyAnswers(const std::vector<RecordRef>& refs,
                          Resolution* result) {
    result->records.reserve(refs.size());
    for (const RecordRef& ref : refs) {
      lufd::v1::SedAnswer& answer = result->records.emplace_back();
      answer.set_ttl(ref.ttl);
      switch (ref.record->rdata_case()) {
        case lufd::v1::SedRecord::kNaptr:
          *answer.mutable_naptr() = ref.record->naptr();
          break;
        case lufd::v1::SedRecord::kUri:
          *answer.mutable_uri() = ref.record->uri();
          break;
        default:
          *answer.mutable_ns() = ref.record->ns();
          break;
      }
    }
    result->found = !result->records.empty();
  }

  Data data_;
  uint64_t serial_;
  // Unique per view object (never reused): keys per-thread caches.
  const uint64_t id_ = view_internal::NextGeneration();
};

}  // namespace

ResolveWork ThisThreadResolveWork() { return tls_resolve_work; }

std::shared_ptr<const RegistryView> RegistryView::Empty() {
  static const auto* empty = new std::shared_ptr<const RegistryView>(
      std::make_shared<ViewImpl>(Data(), 0));
  return *empty;
}

// Everything but TN identifiers goes through the Mutator as Apply does.
// TNs (millions at start-up) are only encoded by Add and collected; Build
// loads them in bulk (LoadTns): the TN table, their index entries and the
// empty-non-terminal counts each get one reservation for their final size,
// where inserting one by one grew (rehashed) them step by step and paid a
// copy-on-write shard check per insert.
struct RegistryView::Builder::Impl {
  // An index entry TNs refer to: dest_identifiers[key] or
  // registrant_objects[key].
  struct Target {
    Index* index;
    std::string key;
  };

  Data data;
  uint64_t gen = view_internal::NextGeneration();
  Mutator mutator{&data, gen};

  // Collected TNs in Add order; tn_refs[tn_ref_begin[i] ..
  // tn_ref_begin[i + 1]) are the targets of tns[i].
  std::vector<std::pair<uint64_t, Blob>> tns;
  std::vector<uint32_t> tn_ref_begin{0};
  std::vector<uint32_t> tn_refs;
  // tn_keys[tn_key_begin[i] .. tn_key_begin[i + 1]) are the visibility
  // keys (BelowKeys) of tns[i].
  std::vector<uint32_t> tn_key_begin{0};
  std::vector<uint32_t> tn_keys;
  std::vector<uint32_t> keys;  // Scratch.
  std::vector<Target> targets;
  absl::flat_hash_map<std::string, uint32_t> dest_targets;
  absl::flat_hash_map<std::string, uint32_t> registrant_targets;

  uint32_t TargetId(absl::flat_hash_map<std::string, uint32_t>* ids,
                    Index* index, const std::string& key) {
    auto it = ids->find(key);
    if (it != ids->end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(targets.size());
    targets.push_back({index, key});
    ids->emplace(key, id);
    return id;
  }

  void AddTn(uint64_t code, const lufd::v1::PublicIdentifier& id) {
    tns.emplace_back(code, EncodeTn(id));
    for (const auto& dg : id.dest_group_ids()) {
      tn_refs.push_back(TargetId(&dest_targets, &data.dest_identifiers, dg));
    }
    if (!id.registrant_id().empty()) {
      tn_refs.push_back(TargetId(&registrant_targets, &data.registrant_objects,
                                 id.registrant_id()));
    }
    tn_ref_begin.push_back(static_cast<uint32_t>(tn_refs.size()));
    mutator.BelowKeys(id, &keys);
    tn_keys.insert(tn_keys.end(), keys.begin(), keys.end());
    tn_key_begin.push_back(static_cast<uint32_t>(tn_keys.size()));
  }

  void LoadTns() {
    const size_t n = tns.size();
    if (n == 0) return;
    // The last Add of a code wins (as Insert replaces): reversed, the
    // first one does, which is what BulkInsertNew keeps.
    std::reverse(tns.begin(), tns.end());
    std::vector<bool> inserted;
    data.tns.BulkInsertNew(gen, &tns, &inserted);
    std::vector<std::vector<uint64_t>> codes(targets.size());
    std::vector<std::pair<uint64_t, uint32_t>> reasons;
    reasons.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (!inserted[i]) continue;
      const uint64_t code = tns[i].first;
      const size_t added = n - 1 - i;  // Its position in Add order.
      for (uint32_t r = tn_ref_begin[added]; r < tn_ref_begin[added + 1]; ++r) {
        codes[tn_refs[r]].push_back(code);
      }
      for (uint32_t k = tn_key_begin[added]; k < tn_key_begin[added + 1]; ++k) {
        reasons.emplace_back(ParentCode(code), tn_keys[k]);
      }
    }
    tns = {};
    tn_refs = {};
    tn_ref_begin = {};
    tn_keys = {};
    tn_key_begin = {};
    for (size_t t = 0; t < targets.size(); ++t) {
      mutator.BulkAddTnRefs(targets[t].index, targets[t].key, &codes[t]);
      codes[t] = {};
    }
    mutator.BulkAddBelow(reasons);
  }
};

RegistryView::Builder::Builder() : impl_(std::make_unique<Impl>()) {}
RegistryView::Builder::~Builder() = default;

void RegistryView::Builder::Add(ObjectKind kind, absl::string_view key,
                                const RegistryObject& object) {
  if (!ValidKind(kind) || key.empty() || KindOf(object) != kind) return;
  if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) {
    if (auto code = TnKeyCode(key)) {
      impl_->AddTn(*code, object.identifier());
      return;
    }
  }
  impl_->mutator.Insert(kind, std::string(key), object);
}

std::shared_ptr<const RegistryView> RegistryView::Builder::Build(
    uint64_t serial) && {
  impl_->mutator.Finish();
  impl_->LoadTns();
  return std::make_shared<ViewImpl>(std::move(impl_->data), serial);
}

ViewHolder::ViewHolder() : current_(RegistryView::Empty()) {}

std::shared_ptr<const RegistryView> ViewHolder::Current() const {
  return current_.load(std::memory_order_acquire);
}

void ViewHolder::Publish(std::shared_ptr<const RegistryView> view) {
  if (view == nullptr) return;
  uint64_t serial = view->serial();
  current_.store(std::move(view), std::memory_order_release);
  absl::MutexLock lock(&mu_);
  published_serial_ = serial;
}

bool ViewHolder::WaitForSerial(uint64_t serial, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, serial]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return published_serial_ >= serial;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

}  // namespace lufd
