// CowTable: a copy-on-write sharded hash table, the building block of
// RegistryView.
//
// A table is a vector of shard pointers. Copying a table copies only that
// vector (the shards are shared), so a new view starts as a cheap copy of its
// base; a mutation clones just the shard it touches. Each shard records the
// "generation" (one per Apply/Build) that created it: a shard of the current
// generation is private to the table being built and is mutated in place,
// any other shard may be shared with published views and is cloned first.
// This keeps Apply O(change) and never touches memory a reader can see.
//
// The shard count adapts to the size (1, 8, 64, ... up to 4096) so the many
// small per-key sets of the indexes cost one shard, while the big maps (1M
// TNs) clone only ~250 entries per touched shard.
//
// Thread-safety: const methods are safe concurrently once the table is no
// longer being mutated (i.e. after its view was built); mutating methods
// need exclusive access. Ownership: shards are shared via std::shared_ptr.
#ifndef LUFD_SERVER_CORE_VIEW_COW_H_
#define LUFD_SERVER_CORE_VIEW_COW_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace lufd {
namespace view_internal {

// A fresh generation number for each Build/Apply; never reused.
inline uint64_t NextGeneration() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Copy-on-write by generation: makes `*slot` writable in generation `gen`.
// A null slot gets a fresh object; one of another generation (it may be
// shared with published views) is replaced by a copy; one of `gen` is
// written in place. T has a `uint64_t gen` member.
template <class T>
T& OwnedBy(std::shared_ptr<T>* slot, uint64_t gen) {
  if (*slot == nullptr) {
    *slot = std::make_shared<T>();
    (*slot)->gen = gen;
  } else if ((*slot)->gen != gen) {
    auto copy = std::make_shared<T>(**slot);
    copy->gen = gen;
    *slot = std::move(copy);
  }
  return **slot;
}

template <class Table>
class CowTable {
 public:
  using key_type = typename Table::key_type;
  using value_type = typename Table::value_type;

  CowTable() = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The stored entry (pair for maps, key for sets) or nullptr.
  // K may be any type the table looks up heterogeneously (string_view for
  // string keys: absl hashes std::string and string_view alike).
  template <class K = key_type>
  const value_type* FindEntry(const K& key) const {
    if (shards_.empty()) return nullptr;
    const Shard* shard = shards_[ShardOf(key)].get();
    if (shard == nullptr) return nullptr;
    auto it = shard->table.find(key);
    return it == shard->table.end() ? nullptr : &*it;
  }
  bool Contains(const key_type& key) const { return FindEntry(key) != nullptr; }

  // Calls fn(entry) for every entry until it returns false; returns false if
  // stopped early.
  template <class Fn>
  bool ForEach(Fn&& fn) const {
    for (const auto& shard : shards_) {
      if (shard == nullptr) continue;
      for (const auto& entry : shard->table) {
        if (!fn(entry)) return false;
      }
    }
    return true;
  }

  // Mutable access to the shard table that holds (or would hold) `key`,
  // cloned first unless it belongs to generation `gen`.
  Table& MutableShardFor(const key_type& key, uint64_t gen) {
    if (shards_.empty()) shards_.resize(1);
    return MutableShard(ShardOf(key), gen);
  }

  // Inserts or replaces. For sets pass the key only.
  template <class... Args>
  void Put(uint64_t gen, const key_type& key, Args&&... value) {
    Table& table = MutableShardFor(key, gen);
    if constexpr (sizeof...(Args) == 0) {
      if (table.insert(key).second) Grew(gen);
    } else {
      auto [it, inserted] = table.try_emplace(key);
      it->second = typename Table::mapped_type(std::forward<Args>(value)...);
      if (inserted) Grew(gen);
    }
  }

  // Returns a mutable reference to the mapped value for `key`, inserting a
  // default one if absent (maps only). The reference is valid until the
  // next mutation of this table.
  template <class T = Table>
  typename T::mapped_type& Upsert(uint64_t gen, const key_type& key,
                                  bool* was_inserted = nullptr) {
    Table& table = MutableShardFor(key, gen);
    auto [it, inserted] = table.try_emplace(key);
    if (was_inserted != nullptr) *was_inserted = inserted;
    if (inserted && Grew(gen)) {
      // The table was resharded; find the entry again.
      Table& moved = MutableShardFor(key, gen);
      return moved.find(key)->second;
    }
    return it->second;
  }

  // Inserts every entry (value_type, or anything it is made from) whose key
  // is not present yet (neither in the table nor earlier in `entries`);
  // entries are moved from. Sets inserted[i] (when given) to whether
  // entries[i] went in. For bulk loads: the table is resharded once for its
  // final size and every touched shard reserved once, instead of growing
  // (and rehashing) entry by entry, and entries are placed shard by shard
  // so each shard's table stays in cache.
  template <class Entry>
  void BulkInsertNew(uint64_t gen, std::vector<Entry>* entries,
                     std::vector<bool>* inserted = nullptr) {
    const size_t n = entries->size();
    if (inserted != nullptr) inserted->assign(n, false);
    if (n == 0) return;
    int bits = bits_;
    while (bits < kMaxBits && size_ + n > (kPerShard << bits)) {
      bits = std::min(bits + 3, kMaxBits);
    }
    if (bits != bits_) Reshard(gen, bits);
    if (shards_.empty()) shards_.resize(1);
    // Counting sort of entry indices by shard.
    std::vector<uint32_t> shard_of(n);
    std::vector<uint32_t> start(shards_.size() + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      shard_of[i] = static_cast<uint32_t>(ShardOf(KeyOfEntry((*entries)[i])));
      ++start[shard_of[i] + 1];
    }
    for (size_t s = 0; s < shards_.size(); ++s) start[s + 1] += start[s];
    std::vector<uint32_t> order(n);
    {
      std::vector<uint32_t> next(start.begin(), start.end() - 1);
      for (size_t i = 0; i < n; ++i) {
        order[next[shard_of[i]]++] = static_cast<uint32_t>(i);
      }
    }
    for (size_t s = 0; s < shards_.size(); ++s) {
      const uint32_t count = start[s + 1] - start[s];
      if (count == 0) continue;
      Table& table = MutableShard(s, gen);
      table.reserve(table.size() + count);
      for (uint32_t k = start[s]; k < start[s + 1]; ++k) {
        const uint32_t i = order[k];
        if (table.insert(std::move((*entries)[i])).second) {
          ++size_;
          if (inserted != nullptr) (*inserted)[i] = true;
        }
      }
    }
  }

  bool Erase(uint64_t gen, const key_type& key) {
    if (!Contains(key)) return false;  // Do not clone a shard for nothing.
    MutableShardFor(key, gen).erase(key);
    --size_;
    return true;
  }

 private:
  struct Shard {
    uint64_t gen = 0;
    Table table;
  };
  static constexpr int kMaxBits = 12;       // 4096 shards.
  static constexpr size_t kPerShard = 256;  // Grow beyond this average.

  template <class K>
  size_t ShardOf(const K& key) const {
    if (bits_ == 0) return 0;
    // Mix before taking the top bits, so that all keys of a shard do not
    // share the low hash bits the inner table probes with.
    uint64_t h = absl::Hash<K>()(key);
    h *= 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> (64 - bits_));
  }

  // Shard `index` (which must exist), cloned first unless it belongs to
  // generation `gen`.
  Table& MutableShard(size_t index, uint64_t gen) {
    return OwnedBy(&shards_[index], gen).table;
  }

  // Accounts for one inserted entry; reshards when the table outgrew its
  // shard count. Returns true if it resharded.
  bool Grew(uint64_t gen) {
    ++size_;
    if (bits_ >= kMaxBits || size_ <= (kPerShard << bits_)) return false;
    int new_bits = bits_ + 3;
    if (new_bits > kMaxBits) new_bits = kMaxBits;
    Reshard(gen, new_bits);
    return true;
  }

  // Redistributes every entry over 2^new_bits shards (all new, of
  // generation `gen`); entries of shards `gen` owns are moved, others
  // copied (they may be shared with published views).
  void Reshard(uint64_t gen, int new_bits) {
    std::vector<std::shared_ptr<Shard>> old = std::move(shards_);
    shards_.assign(size_t{1} << new_bits, nullptr);
    bits_ = new_bits;
    for (auto& shard : old) {
      if (shard == nullptr) continue;
      const bool owned = shard->gen == gen;
      for (auto it = shard->table.begin(); it != shard->table.end(); ++it) {
        const key_type& key = KeyOfEntry(*it);
        auto& slot = shards_[ShardOf(key)];
        if (slot == nullptr) {
          slot = std::make_shared<Shard>();
          slot->gen = gen;
        }
        if (owned) {
          slot->table.insert(std::move(*it));
        } else {
          slot->table.insert(*it);
        }
      }
    }
  }

  template <class Entry>
  static const key_type& KeyOfEntry(const Entry& entry) {
    if constexpr (requires { entry.first; }) {
      return entry.first;
    } else {
      return entry;
    }
  }

  std::vector<std::shared_ptr<Shard>> shards_;
  int bits_ = 0;
  size_t size_ = 0;
};

template <class K, class V>
using CowMap = CowTable<absl::flat_hash_map<K, V>>;
template <class K>
using CowSet = CowTable<absl::flat_hash_set<K>>;

}  // namespace view_internal
}  // namespace lufd

#endif  // LUFD_SERVER_CORE_VIEW_COW_H_
