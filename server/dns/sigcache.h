// Where the hot path finds RRSIGs without signing:
//   SignatureCache  every signature made ahead (loaded from the Store at
//                   start-up, then fed by the signer and by polling), kept
//                   compact: ~100 bytes per positive RRset.
//   SignatureLru    what was signed on demand (denials, synthesized range
//                   and prefix answers, non-public views): bounded, least
//                   recently used out first; never flushed whole.
// Both are keyed by SignatureKey(owner, type, rrset_hash, key_tag), so an
// unchanged RRset keeps its signature across view changes, and are sharded
// with reader locks so workers do not contend.
#ifndef LUFD_SERVER_DNS_SIGCACHE_H_
#define LUFD_SERVER_DNS_SIGCACHE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace lufd::dns {

// Everything of an RRSIG but the owner, the type covered and the signer
// name, which the lookup already knows (signer = the zone apex). Both
// supported algorithms make 64-byte signatures.
struct CompactRrsig {
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint32_t original_ttl = 0;
  uint16_t key_tag = 0;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  std::array<uint8_t, 64> signature{};
};

// Full RRSIG RDATA <-> compact form (nullopt when the signature is not 64
// bytes or the RDATA is malformed).
std::optional<CompactRrsig> CompactFromRdata(std::string_view rrsig_rdata,
                                             uint16_t* type_covered = nullptr);
std::string RdataFromCompact(const CompactRrsig& sig, uint16_t type_covered,
                             std::string_view signer_wire);

// 64-bit key; collisions are astronomically unlikely at registry sizes
// (1M entries: ~3e-8) and would only serve a signature that fails
// validation, never a wrong answer.
uint64_t SignatureKey(std::string_view owner_lower_wire, uint16_t type,
                      uint64_t rrset_hash, uint16_t key_tag);

class SignatureCache {
 public:
  SignatureCache();
  ~SignatureCache();
  std::optional<CompactRrsig> Find(uint64_t key) const;
  // Replaces an entry with a later-expiring one; keeps the later otherwise.
  void Insert(uint64_t key, const CompactRrsig& sig);
  // Insert() of every (key, sig) that `produce` passes to its argument, in
  // that order, but each shard's tables grown once for all of them instead
  // of growing (rehashing) step by step, and filled shard by shard: for
  // loading every stored signature at start-up. Nothing is visible to
  // Find() before `produce` returns; `produce` must not call this store.
  using AddFn = absl::FunctionRef<void(uint64_t key, const CompactRrsig& sig)>;
  void InsertMany(absl::FunctionRef<void(AddFn add)> produce);
  // Drops entries that expire before `unix_time`; returns how many.
  size_t EvictExpiring(uint32_t unix_time);
  size_t size() const;

 private:
  struct Shard;
  std::unique_ptr<Shard[]> shards_;
};

class SignatureLru {
 public:
  explicit SignatureLru(size_t capacity);
  ~SignatureLru();
  std::optional<CompactRrsig> Find(uint64_t key);  // Marks as recently used.
  void Insert(uint64_t key, const CompactRrsig& sig);
  size_t size() const;
  size_t capacity() const;

 private:
  struct Shard;
  size_t capacity_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_SIGCACHE_H_
