#include "server/dns/sigcache.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "server/dns/bytes.h"

namespace lufd::dns {
namespace {

// RRSIG RDATA: type covered (2), algorithm (1), labels (1), original TTL
// (4), expiration (4), inception (4), key tag (2), signer name, signature.
constexpr size_t kRrsigFixed = 18;
constexpr size_t kSignatureSize = 64;

// splitmix64's finalizer: a fixed, well-mixing 64-bit permutation.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Shard choice uses the key's top bits; the maps hash the key again with
// absl::Hash, so both stay independent of how keys were made.
constexpr size_t kStoreShards = 64;
size_t StoreShardOf(uint64_t key) { return (key >> 58) % kStoreShards; }

}  // namespace

std::optional<CompactRrsig> CompactFromRdata(std::string_view rdata,
                                             uint16_t* type_covered) {
  if (rdata.size() < kRrsigFixed + 1) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(rdata.data());
  // Walk the uncompressed signer name.
  size_t pos = kRrsigFixed;
  size_t name_len = 0;
  while (true) {
    if (pos >= rdata.size()) return std::nullopt;
    uint8_t len = p[pos];
    if (len > 63) return std::nullopt;  // Compression is not allowed here.
    name_len += len + 1;
    if (name_len > 255) return std::nullopt;
    pos += len + 1;
    if (len == 0) break;
  }
  if (rdata.size() - pos != kSignatureSize) return std::nullopt;
  CompactRrsig sig;
  if (type_covered != nullptr) *type_covered = Get16(p);
  sig.algorithm = p[2];
  sig.labels = p[3];
  sig.original_ttl = Get32(p + 4);
  sig.expiration = Get32(p + 8);
  sig.inception = Get32(p + 12);
  sig.key_tag = Get16(p + 16);
  std::memcpy(sig.signature.data(), p + pos, kSignatureSize);
  return sig;
}

std::string RdataFromCompact(const CompactRrsig& sig, uint16_t type_covered,
                             std::string_view signer_wire) {
  std::string out;
  out.reserve(kRrsigFixed + signer_wire.size() + kSignatureSize);
  Append16(&out, type_covered);
  out.push_back(static_cast<char>(sig.algorithm));
  out.push_back(static_cast<char>(sig.labels));
  Append32(&out, sig.original_ttl);
  Append32(&out, sig.expiration);
  Append32(&out, sig.inception);
  Append16(&out, sig.key_tag);
  out.append(signer_wire);
  out.append(reinterpret_cast<const char*>(sig.signature.data()),
             sig.signature.size());
  return out;
}

uint64_t SignatureKey(std::string_view owner_lower_wire, uint16_t type,
                      uint64_t rrset_hash, uint16_t key_tag) {
  // FNV-1a over the owner, then the fixed-width fields mixed in: the same
  // inputs give the same key in every process and on every host.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : owner_lower_wire) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h = Mix(h ^ (uint64_t{type} << 16 | key_tag));
  h = Mix(h ^ rrset_hash);
  return h;
}

// ---------------------------------------------------------------- Store

// One shard: the entries live in a dense vector (88 bytes each, no per-slot
// padding); the hash set holds only 4-byte indices into it and hashes and
// compares through the vector (transparent lookup by key). That is what
// keeps a million sign-ahead signatures near 100 bytes each: a map of
// key -> CompactRrsig would pay its 88-byte slot again for every empty slot
// (load 0.44-0.87).
struct SignatureCache::Shard {
  struct Entry {
    uint64_t key;
    CompactRrsig sig;
  };
  struct Probe {
    uint64_t key;
  };
  static size_t HashKey(uint64_t key) {
    return static_cast<size_t>(key ^ (key >> 29));
  }
  struct Hash {
    using is_transparent = void;
    const std::vector<Entry>* entries;
    size_t operator()(uint32_t i) const { return HashKey((*entries)[i].key); }
    size_t operator()(Probe p) const { return HashKey(p.key); }
  };
  struct Eq {
    using is_transparent = void;
    const std::vector<Entry>* entries;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, Probe b) const {
      return (*entries)[a].key == b.key;
    }
    bool operator()(Probe a, uint32_t b) const {
      return a.key == (*entries)[b].key;
    }
  };

  Shard() : index(0, Hash{&entries}, Eq{&entries}) {}

  void InsertLocked(uint64_t key, const CompactRrsig& sig)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  mutable absl::Mutex mu;
  std::vector<Entry> entries ABSL_GUARDED_BY(mu);
  absl::flat_hash_set<uint32_t, Hash, Eq> index ABSL_GUARDED_BY(mu);
};

SignatureCache::SignatureCache() : shards_(new Shard[kStoreShards]) {}
SignatureCache::~SignatureCache() = default;

std::optional<CompactRrsig> SignatureCache::Find(uint64_t key) const {
  const Shard& shard = shards_[StoreShardOf(key)];
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.index.find(Shard::Probe{key});
  if (it == shard.index.end()) return std::nullopt;
  return shard.entries[*it].sig;
}

void SignatureCache::Shard::InsertLocked(uint64_t key,
                                         const CompactRrsig& sig) {
  auto it = index.find(Probe{key});
  if (it != index.end()) {
    // Keep the later-expiring one (plain comparison: fine until 2106).
    CompactRrsig& have = entries[*it].sig;
    if (sig.expiration > have.expiration) have = sig;
    return;
  }
  entries.push_back({key, sig});
  index.insert(static_cast<uint32_t>(entries.size() - 1));
}

void SignatureCache::Insert(uint64_t key, const CompactRrsig& sig) {
  Shard& shard = shards_[StoreShardOf(key)];
  absl::MutexLock lock(&shard.mu);
  shard.InsertLocked(key, sig);
}

void SignatureCache::InsertMany(absl::FunctionRef<void(AddFn add)> produce) {
  // Collected per shard first: only then is each shard's final size known.
  std::vector<std::vector<Shard::Entry>> pending(kStoreShards);
  produce([&pending](uint64_t key, const CompactRrsig& sig) {
    pending[StoreShardOf(key)].push_back({key, sig});
  });
  for (size_t i = 0; i < kStoreShards; ++i) {
    if (pending[i].empty()) continue;
    Shard& shard = shards_[i];
    absl::MutexLock lock(&shard.mu);
    if (!shard.entries.empty()) {
      shard.entries.reserve(shard.entries.size() + pending[i].size());
      shard.index.reserve(shard.index.size() + pending[i].size());
      for (const Shard::Entry& e : pending[i]) shard.InsertLocked(e.key, e.sig);
      pending[i] = {};
      continue;
    }
    // An empty shard (the start-up load) takes the collected entries as
    // they are, not a copy (a million signatures are ~90 MB): indexed in
    // order and compacted in place, a repeated key merged into its first
    // entry as InsertLocked would.
    std::vector<Shard::Entry>& entries = shard.entries;
    entries = std::move(pending[i]);
    shard.index.reserve(entries.size());
    size_t kept = 0;
    for (size_t j = 0; j < entries.size(); ++j) {
      auto it = shard.index.find(Shard::Probe{entries[j].key});
      if (it != shard.index.end()) {
        CompactRrsig& have = entries[*it].sig;
        if (entries[j].sig.expiration > have.expiration) {
          have = entries[j].sig;
        }
        continue;
      }
      if (kept != j) entries[kept] = entries[j];
      shard.index.insert(static_cast<uint32_t>(kept));
      ++kept;
    }
    entries.resize(kept);
  }
}

size_t SignatureCache::EvictExpiring(uint32_t unix_time) {
  size_t evicted = 0;
  for (size_t i = 0; i < kStoreShards; ++i) {
    Shard& shard = shards_[i];
    {
      // Most minutes nothing expires: look before taking the writer lock.
      absl::ReaderMutexLock lock(&shard.mu);
      bool any = false;
      for (const auto& e : shard.entries) {
        if (e.sig.expiration < unix_time) {
          any = true;
          break;
        }
      }
      if (!any) continue;
    }
    absl::MutexLock lock(&shard.mu);
    size_t kept = 0;
    for (size_t j = 0; j < shard.entries.size(); ++j) {
      if (shard.entries[j].sig.expiration < unix_time) {
        ++evicted;
        continue;
      }
      if (kept != j) shard.entries[kept] = shard.entries[j];
      ++kept;
    }
    shard.entries.resize(kept);
    shard.entries.shrink_to_fit();
    shard.index.clear();
    shard.index.reserve(kept);
    for (uint32_t j = 0; j < kept; ++j) shard.index.insert(j);
  }
  return evicted;
}

size_t SignatureCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i < kStoreShards; ++i) {
    absl::ReaderMutexLock lock(&shards_[i].mu);
    n += shards_[i].entries.size();
  }
  return n;
}

// ---------------------------------------------------------------- LRU

// One shard: nodes in a vector (index-linked list, most recent at head),
// a map from key to node index. Find moves the node to the head, so even a
// lookup takes the shard's writer lock; shards keep workers apart.
struct SignatureLru::Shard {
  static constexpr uint32_t kNil = UINT32_MAX;
  struct Node {
    uint64_t key;
    CompactRrsig sig;
    uint32_t prev;
    uint32_t next;
  };
  absl::Mutex mu;
  size_t capacity = 0;
  std::vector<Node> nodes ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint64_t, uint32_t> index ABSL_GUARDED_BY(mu);
  uint32_t head ABSL_GUARDED_BY(mu) = kNil;
  uint32_t tail ABSL_GUARDED_BY(mu) = kNil;

  void Unlink(uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Node& n = nodes[i];
    if (n.prev != kNil)
      nodes[n.prev].next = n.next;
    else
      head = n.next;
    if (n.next != kNil)
      nodes[n.next].prev = n.prev;
    else
      tail = n.prev;
    n.prev = n.next = kNil;
  }
  void PushFront(uint32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    Node& n = nodes[i];
    n.prev = kNil;
    n.next = head;
    if (head != kNil) nodes[head].prev = i;
    head = i;
    if (tail == kNil) tail = i;
  }
};

namespace {
size_t LruShardCount(size_t capacity) {
  // Small caches (tests, tiny configs) get one shard so that eviction is a
  // true global LRU; large ones spread over up to 16.
  size_t n = capacity / 4096;
  return std::clamp<size_t>(n, 1, 16);
}
}  // namespace

SignatureLru::SignatureLru(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)) {
  size_t n = LruShardCount(capacity_);
  shards_.reset(new Shard[n + 1]);
  // shards_[0].capacity holds the shard count; real shards are 1..n.
  shards_[0].capacity = n;
  for (size_t i = 1; i <= n; ++i) {
    shards_[i].capacity = capacity_ / n + (i - 1 < capacity_ % n ? 1 : 0);
  }
}

SignatureLru::~SignatureLru() = default;

std::optional<CompactRrsig> SignatureLru::Find(uint64_t key) {
  size_t n = shards_[0].capacity;
  Shard& shard = shards_[1 + (key >> 59) % n];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return std::nullopt;
  uint32_t i = it->second;
  if (shard.head != i) {
    shard.Unlink(i);
    shard.PushFront(i);
  }
  return shard.nodes[i].sig;
}

void SignatureLru::Insert(uint64_t key, const CompactRrsig& sig) {
  size_t n = shards_[0].capacity;
  Shard& shard = shards_[1 + (key >> 59) % n];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {
    uint32_t i = it->second;
    shard.nodes[i].sig = sig;
    if (shard.head != i) {
      shard.Unlink(i);
      shard.PushFront(i);
    }
    return;
  }
  uint32_t i;
  if (shard.nodes.size() < shard.capacity) {
    i = static_cast<uint32_t>(shard.nodes.size());
    shard.nodes.push_back({key, sig, Shard::kNil, Shard::kNil});
  } else {
    // Reuse the least recently used node.
    i = shard.tail;
    shard.Unlink(i);
    shard.index.erase(shard.nodes[i].key);
    shard.nodes[i].key = key;
    shard.nodes[i].sig = sig;
  }
  shard.index[key] = i;
  shard.PushFront(i);
}

size_t SignatureLru::size() const {
  size_t n = shards_[0].capacity;
  size_t total = 0;
  for (size_t i = 1; i <= n; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    total += shards_[i].index.size();
  }
  return total;
}

size_t SignatureLru::capacity() const { return capacity_; }

}  // namespace lufd::dns
