// SourceBlocks: the anonymous UDP source prefixes the guard holds blocked,
// so that the responder can drop their datagrams before doing any work on
// them.
//
// The guard refuses a blocked prefix anyway; what this list changes is the
// price of that refusal. Without it every datagram of a blocked prefix went
// the whole way (classify, zone, the guard's shard lock, a denial-audit
// record, every `slip`-th a TC=1 answer), and a flood from 64 blocked /24s
// at ~190k q/s kept the single UDP worker so busy that the kernel dropped a
// legitimate resolver's queries from the full socket buffer (81 % of them
// answered; bench/guard). Here a blocked prefix's datagram costs one hash
// lookup in a per-thread copy of the list.
//
// One datagram in kPassEvery of each blocked prefix still goes the whole
// way, so that
//   * the guard still decides: its TC=1 slip still reaches a resolver that
//     shares the prefix with a flooder (it then retries over TCP, where
//     its own address is charged), at 1/(kPassEvery x slip) of its queries;
//   * a block that ended, or that an admin lifted (lufctl guard unblock),
//     ends here too: the responder calls Lift() when the guard admits a
//     listed prefix again, so at most kPassEvery - 1 datagrams more are
//     dropped after the guard's block is gone (plus the refresh delay).
// Datagrams dropped here are counted in the denial audit (one record for
// the drops before each passed datagram, and the rest when the entry
// leaves), and in dropped().
//
// Readers (ShouldDrop, on every anonymous UDP query) take no lock: each
// thread keeps its own copy of the list and refreshes it at most every
// kRefreshInterval after a change, so a new block takes effect within that
// interval (the guard refuses those datagrams meanwhile, at the old price).
// At most kMaxEntries prefixes are listed; beyond that the guard refuses
// further blocked prefixes the slow way.
#ifndef LUFD_SERVER_DNS_SOURCE_BLOCKS_H_
#define LUFD_SERVER_DNS_SOURCE_BLOCKS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/denial_audit.h"
#include "server/dns/processor.h"
#include "server/guard/guard.h"

namespace lufd::dns {

class SourceBlocks {
 public:
  static constexpr uint32_t kPassEvery = 16;
  static constexpr size_t kMaxEntries = 4096;
  static constexpr absl::Duration kRefreshInterval = absl::Milliseconds(20);

  // Prefix lengths as the guard charges anonymous UDP (guard.v4_prefix,
  // guard.v6_prefix). `denials` (may be null) receives the drop counts.
  SourceBlocks(int v4_bits, int v6_bits, DenialRecorder* denials);
  ~SourceBlocks();
  SourceBlocks(const SourceBlocks&) = delete;
  SourceBlocks& operator=(const SourceBlocks&) = delete;

  // The guard blocked `client`'s prefix (guard identity `key`, named in the
  // audit) until `until`.
  void Block(const ClientAddress& client, absl::Time until, const GuardKey& key,
             absl::Time now);
  // The guard decided on `client`'s prefix without kBlock: forget it.
  void Lift(const ClientAddress& client, absl::Time now);
  // True: drop this datagram unparsed. Lock-free except for a refresh.
  bool ShouldDrop(const ClientAddress& client, absl::Time now);
  // Cheap check for callers that want to skip work when nothing is listed.
  bool empty() const { return size_.load(std::memory_order_acquire) == 0; }

  size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // A masked prefix: family size (4 or 16) and the masked bytes.
  struct Prefix {
    uint8_t bytes[16] = {};
    uint8_t size = 0;
    bool operator==(const Prefix&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Prefix& p) {
      return H::combine(
          std::move(h),
          absl::string_view(reinterpret_cast<const char*>(p.bytes), p.size));
    }
  };
  Prefix PrefixOf(const ClientAddress& client) const;

 private:
  struct Entry {
    std::atomic<int64_t> until_micros{0};  // Unix; extended by Block().
    std::string actor;  // The guard identity, as the responder audits it.
    std::string peer;
    std::atomic<uint64_t> seen{0};
    std::atomic<uint64_t> unrecorded{0};  // Drops not yet in the audit.
  };
  using Map = absl::flat_hash_map<Prefix, std::shared_ptr<Entry>>;
  struct ThreadCopy;

  static ThreadCopy& ThisThreadCopy();
  // In this thread's copy of the list (refreshed when due); null if absent.
  Entry* Find(const Prefix& prefix, absl::Time now);
  void RecordDrops(Entry& entry, absl::Time now);
  void Prune(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int v4_bits_;
  const int v6_bits_;
  DenialRecorder* const denials_;
  const uint64_t id_;  // Unique per instance, for the per-thread copies.
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> version_{0};
  std::atomic<uint64_t> dropped_{0};
  mutable absl::Mutex mu_;
  Map entries_ ABSL_GUARDED_BY(mu_);
  absl::Time next_prune_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_SOURCE_BLOCKS_H_
