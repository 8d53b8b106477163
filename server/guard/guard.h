// Guard: the anti-harvesting stage every front door runs before it resolves
// a lookup and after it has answered.
//
// Each request is charged to an identity (GuardKey): an org (the org of the
// caller's gRPC or DoT client certificate or TSIG key, so one org has one
// budget across front doors) or an anonymous DNS source (its IPv4 /24 or
// IPv6 /56 over UDP, its address over TCP and DoT).
// Per identity, with the limits the caller passes (GuardLimits: the org's
// Quota over a per-class default, EffectiveLimits), Admit() checks the rules
// in this order and the first enforced one that refuses decides
// (RESOURCE_EXHAUSTED, retry_after, a stable audit reason per rule):
//   * kBlock: while blocked (see offences below), everything is refused,
//     retry_after = the block's end;
//   * kRate: a token bucket of `burst` tokens refilled at
//     `lookups_per_second`: Admit() takes one token (refused when less than
//     one is left); Report() takes miss_cost - 1 more when the request was
//     not answered with SED. The guard sees only "answered with SED" or
//     "not": a number that does not exist and one the caller may not see
//     cost the same, so the charge is no oracle. A miss may overdraw the
//     bucket by at most miss_cost - 1 tokens per request in flight;
//   * kDisclosure: at most `distinct_numbers_per_day` distinct items
//     (numbers; URIs) answered with SED per sliding disclosure_window
//     (24 h), exact. An item already disclosed in the window is free, any
//     other is refused once the budget is spent (whether or not it exists:
//     the refusal comes before resolution). Admit() reserves a slot for a
//     new item, so concurrent requests cannot overshoot the budget;
//   * kMisses: at most `misses_per_day` answers without SED per
//     disclosure_window, counted in 24 slots of window/24 (1 h): a miss
//     stays counted from 24 h to 25 h after it happened; retry_after = when
//     the oldest counted slot leaves. Every request in flight counts as a
//     possible miss (a hit gives its place back), so concurrency cannot
//     overshoot; the price is that with the budget nearly spent, requests
//     in flight can refuse others that would have been hits.
// Report() feeds the scan detector (kScan; it needs hit/miss, so a
// detection affects the NEXT Admit()): per identity and scan prefix (a
// "+digits" number without its last two digits: 100 numbers; non-number
// items share one bucket) it counts, in a window of scan_window starting at
// the prefix's first lookup (tumbling, so a scan straddling two windows may
// reach up to 2 x threshold - 2 before detection), (a) distinct numbers
// missed and (b) near-sequential numbers: a number seen for the first time
// in the window within 3 of the previous number seen under the prefix (hit
// or miss; repeats never count, so a server asking for its own numbers
// again and again does not look like a scan). Either reaching
// scan_threshold is one offence and resets that prefix's counts; for numbers
// the threshold is capped at 100 for (a) and at 99 for (b) (a prefix holds
// 100 numbers and the first seen has no predecessor, so 99 is the most (b)
// can reach: a scan_threshold of 100 or more still catches a sequential
// scan of found numbers). At most 32 prefixes are tracked
// per identity (least recently used replaced); non-number misses are kept
// exactly, at most scan_threshold of them.
// Offences (kBlock): a scan detection, or `offence_denials` enforced
// refusals by any rule but kBlock (kSigning included) within one
// scan_window. The n-th offence, n counting offences each within
// offence_memory of the previous one (a longer gap starts again at 1),
// blocks for block_ladder[min(n, size) - 1], logged once (spdlog::warn).
// Unblock() lifts a block and forgets the offences.
// ChargeSigning() (kSigning) is a second bucket (signatures_per_second,
// signing_burst) for online DNSSEC signatures: all n or nothing.
// Dry run per rule (GuardLimits::dry_run_rules): a request a dry-run rule
// would refuse is counted (counters.dry_run[rule]), logged (rate-limited,
// per identity) and admitted; no dry-run rule is charged for it
// (enforcement would have refused it, so none of them would have been
// charged), but the enforced rules are, so a dry-run rule opens no hole in
// an enforced one. A dry-run kScan counts detections but makes no offence;
// a dry-run kBlock records blocks (counters.blocks, Explain) without
// enforcing them. Enforced refusals count in counters.denied[rule].
//   * shared (SetShared(true); several lufd on one PostgreSQL): the
//     disclosure budget is one per identity across all instances. Each
//     instance may disclose new items only against slots leased from the
//     Store (Store::LeaseGuardBudget, which never grants more than the
//     budget per window in total), plus at most one chunk of overdraft
//     (so it answers before its first lease arrives): chunk =
//     clamp(budget x lease_chunk_percent / 100, 1, 1000). A new item
//     refused only because this instance's leases are used up while the
//     store has not answered short (its next lease is on the way) is
//     refused with "waits for its next share", retry_after kLeaseWait, and
//     does not count toward offence_denials: a peer asking for new numbers
//     faster than a chunk per lease round trip is slowed, not blocked, and
//     not told its budget is spent. Worst case, with R
//     instances, in a window that uses no lease granted before it (e.g.
//     from a standing start): budget + R x chunk distinct items (R = 2,
//     1 %: 1.02 x budget). Across window edges an item answered with a slot
//     leased earlier outlives the lease's record in the store (the store
//     forgets a lease one window after granting it; the item counts one
//     window after it was answered), which adds the slots an instance held
//     leased but unused when its lease left the window: about 1.5 chunks
//     per instance (a chunk is asked for only when less than half a chunk
//     is left), so roughly budget + 3 x R x chunk; measured, not proven
//     (GuardLeaseTest.SlidingWindowsStayNearTheBudget: 3 instances, budget
//     200, chunk 2: 209 at worst). Counted per instance: an item answered
//     by two instances is charged on both. A lease is requested
//     (TakeLeaseRequests, served by LedgerSync off the request path) when
//     fewer than half a chunk of leased slots are left; leased slots expire
//     with the window. The miss budget (misses_per_day) is shared the same
//     way, with its own leases and chunk (store identity "misses org ...");
//     every other rule stays per instance;
// Bounded: at most max_identities identities (rounded down to a multiple of
// the shard count). An identity at rest (buckets full, nothing disclosed or
// missed in the window, nothing in flight, no offence remembered, no scan
// or denial counts younger than scan_window) and unseen for idle_timeout is
// dropped, which changes no later decision. When the table is full, one of
// the coldest is dropped, preferring one at rest, then one with no offence
// remembered (evicted_live counts those not at rest, which lose their
// state); a blocked identity is never dropped, so a flooder cannot escape
// its block (or, while others will do, its ladder step) by churning
// identities. When the 64 coldest identities of a shard are all blocked, a
// new identity is refused (fail closed, RESOURCE_EXHAUSTED, logged
// rate-limited) until a block ends.
// Memory per identity: about 1.5 KB fixed (872-byte state, the disclosure
// deque's first 576-byte block, table and LRU entries), plus about 32 bytes
// per item disclosed in the window, 16 bytes per lease grant held (shared
// budgets), up to 32 x 80 bytes of scan prefixes,
// up to scan_threshold x 8 bytes of non-number misses, and the last
// refusal's and block's messages (~150 bytes each, once refused).
// Admit() and Report() take one shard lock each and allocate nothing in
// the common case (a known identity admitted; a new scan prefix may grow a
// small vector; refusals build their message).
// Thread-safe (sharded absl::Mutex). Time is passed in, so tests need no
// sleeps.
#ifndef LUFD_SERVER_GUARD_GUARD_H_
#define LUFD_SERVER_GUARD_GUARD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/guard/guard_rule.h"
#include "server/ops/request_counters.h"

namespace lufd {

// Copies `size` bytes of `address` (4: IPv4, 16: IPv6) to `out` with every
// bit after the first `bits` cleared (bits below 0 or above 8 x size act
// as 0 or 8 x size): the source prefix an anonymous client is charged to.
void MaskAddress(const uint8_t* address, size_t size, int bits, uint8_t* out);

// Who is charged.
struct GuardKey {
  enum class Kind : uint8_t { kOrg, kSourcePrefix };
  Kind kind = Kind::kOrg;
  std::string id;  // Org id, or the prefix ("192.0.2.0/24", "2001:db8::/56").

  static GuardKey Org(absl::string_view org_id) {
    return GuardKey{Kind::kOrg, std::string(org_id)};
  }
  // The source prefix of a raw address: 4 bytes (IPv4, masked to v4_bits)
  // or 16 bytes (IPv6, masked to v6_bits). INVALID_ARGUMENT otherwise.
  static absl::StatusOr<GuardKey> SourcePrefix(absl::string_view address,
                                               int v4_bits = 24,
                                               int v6_bits = 56);
  // "org iana-en:111" / "prefix 192.0.2.0/24", for messages and logs.
  std::string Describe() const;
  // The inverse of Describe(); also accepts a bare prefix ("192.0.2.0/24",
  // "2001:db8::/56", normalized to its masked form) or a bare org id.
  // INVALID_ARGUMENT on anything else (for lufctl guard explain/unblock).
  static absl::StatusOr<GuardKey> Parse(absl::string_view text);

  bool operator==(const GuardKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GuardKey& k) {
    return H::combine(std::move(h), k.kind, k.id);
  }
};

// The limits of one identity. 0 = no limit (rate, budgets, detector).
struct GuardLimits {
  uint32_t lookups_per_second = 0;
  uint32_t burst = 0;  // Bucket depth; at least 1 when rate > 0.
  uint32_t miss_cost = 1;
  uint32_t distinct_numbers_per_day = 0;
  // Miss budget: requests not answered with SED per sliding 24 h window.
  uint32_t misses_per_day = 0;
  // Scan detector: distinct numbers missed under one scan prefix (the
  // number without its last two digits) within GuardOptions::scan_window,
  // or near-sequential numbers (each within 3 of the previous one under
  // that prefix) counted the same way; reaching the threshold is one
  // offence. 0 = off.
  uint32_t scan_threshold = 0;
  // Online signatures (DNS answers the caches could not serve): a token
  // bucket charged by ChargeSigning(). 0 = no limit.
  uint32_t signatures_per_second = 0;
  uint32_t signing_burst = 0;  // At least 1 when the rate is > 0.
  // Rules in dry run (GuardRuleBit). kAllGuardRules = the old `dry_run`.
  uint32_t dry_run_rules = 0;

  bool DryRun(GuardRule rule) const {
    return (dry_run_rules & GuardRuleBit(rule)) != 0;
  }
  // Unknown names in dry_run_rules are rejected by config validation.
  static GuardLimits FromConfig(const lufd::v1::GuardLimitsConfig& config);
};

// An org's Quota over its class default: each non-zero Quota field wins.
// A Quota that sets lookups_per_second but no burst gets a burst of one
// second's worth (not the class default's depth, which could be far larger
// than the org's rate); the same for signatures_per_second. A rule is in
// dry run when either says so (Quota.dry_run = every rule).
GuardLimits EffectiveLimits(const lufd::v1::Quota& quota,
                            const GuardLimits& class_default);

// Per-identity counts since the identity was first tracked.
struct GuardCounters {
  uint64_t admitted = 0;
  uint64_t hits = 0;        // Reported answered with SED.
  uint64_t misses = 0;      // Reported not answered.
  uint64_t signatures = 0;  // Charged by ChargeSigning().
  uint64_t offences = 0;    // Scan detections + denial bursts.
  uint64_t blocks = 0;      // Blocks imposed.
  // Refused, and would have been refused (dry run), per GuardRule.
  uint64_t denied[kGuardRuleCount] = {};
  uint64_t dry_run[kGuardRuleCount] = {};
  uint64_t denied_total() const;
};

struct GuardOptions {
  size_t max_identities = 100000;
  absl::Duration idle_timeout = absl::Minutes(10);
  absl::Duration disclosure_window = absl::Hours(24);  // Also misses_per_day.
  absl::Duration scan_window = absl::Seconds(60);
  // Escalating blocks: the n-th offence within offence_memory of the
  // previous one blocks for block_ladder[min(n, size) - 1]. Empty = never
  // block. An offence is a scan detection, or offence_denials refusals
  // (any rule but kBlock) within one scan_window.
  std::vector<absl::Duration> block_ladder = {
      absl::Minutes(1), absl::Minutes(10), absl::Hours(1), absl::Hours(24)};
  absl::Duration offence_memory = absl::Hours(24);
  uint32_t offence_denials = 1000;
  int shards = 16;  // Lowered to max_identities when that is smaller.
  // Shared budget: the lease chunk in percent of distinct_numbers_per_day.
  uint32_t lease_chunk_percent = 1;

  // From a validated GuardConfig (server/ops/config.h applied defaults); an
  // empty block_ladder keeps the default ladder.
  static GuardOptions FromConfig(const lufd::v1::GuardConfig& config);
};

// What an operator sees of one identity (lufctl guard explain/status).
struct GuardIdentityStatus {
  GuardKey key;
  GuardCounters counters;
  GuardLimits limits;  // The limits last applied.
  double tokens = 0;   // Rate bucket now (negative: a misses' debt).
  double signing_tokens = 0;
  size_t disclosed_in_window = 0;
  size_t misses_in_window = 0;
  size_t reserved = 0;          // Disclosure slots held by requests in flight.
  size_t leased_in_window = 0;  // Shared: slots leased in the window.
  size_t miss_leased_in_window = 0;  // Shared: miss budget leased.
  uint32_t offence_level = 0;        // Offences remembered (ladder step).
  absl::Time blocked_until = absl::InfinitePast();  // Past = not blocked.
  absl::Time first_seen = absl::InfinitePast();
  absl::Time last_seen = absl::InfinitePast();
  absl::Time last_denied = absl::InfinitePast();
  std::string last_denial;  // The last refusal's message ("" = none).
  bool blocked(absl::Time now) const { return blocked_until > now; }
};

// Shared budget: a lease the guard wants from the Store.
struct LeaseRequest {
  GuardKey key;
  uint32_t want = 0;    // Slots (one chunk).
  uint32_t budget = 0;  // distinct_numbers_per_day in effect.
  absl::Duration window;
  // kDisclosure or kMisses: which budget.
  GuardRule rule = GuardRule::kDisclosure;
  // The store's name for the budget: GuardKey::Describe(), with "misses "
  // before it for the miss budget.
  std::string StoreIdentity() const;
};

class Guard {
 private:
  struct State;

 public:
  // What Admit() decided. Pass it back to Report() once answered.
  struct Admission {
    absl::Status status;  // OK, or RESOURCE_EXHAUSTED naming the limit.
    absl::Duration retry_after = absl::ZeroDuration();  // When refused.
    GuardRule rule = GuardRule::kRate;  // The rule that refused.
    // Internal: what Report() settles.
    bool charged = false;   // A token was taken (not in dry-run excess).
    bool reserved = false;  // A disclosure slot is held for `item`.
    uint32_t miss_cost = 1;
    uint64_t item = 0;
    bool miss_reserved = false;  // Counted as a possible miss in flight.
    // Where Admit() found the identity: Report() uses it without hashing
    // the key or searching the table while the shard has dropped no
    // identity since (its generation), else it looks the key up.
    State* state = nullptr;
    uint32_t shard = 0;
    uint64_t shard_generation = 0;
  };

  explicit Guard(GuardOptions options = {});
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // Before resolving `item` (the normalized number or URI; "" when the
  // query was malformed) for `key`.
  Admission Admit(const GuardKey& key, const GuardLimits& limits,
                  absl::string_view item, absl::Time now);
  // Admit() with the item already coded (ItemCode(item), or NumberCode()
  // for a number): the DNS front door decodes the number from the qname's
  // labels anyway, and parsing its text again cost a tenth of the stage.
  Admission AdmitCode(const GuardKey& key, const GuardLimits& limits,
                      uint64_t item_code, absl::Time now);
  // After answering: `disclosed` when the answer carried SED. Every
  // admitted request must be reported exactly once (refused ones need not).
  void Report(const GuardKey& key, const Admission& admission, bool disclosed,
              absl::Time now);

  // After resolving, before signing online: charges `signatures` to the
  // identity's signing bucket (GuardLimits::signatures_per_second). False
  // = over budget: the caller must not sign (anonymous UDP: TC=1 / drop;
  // TCP and identified peers: REFUSED). Counted as kSigning; in dry run
  // counted and true. Never blocks by itself, but its refusals count
  // toward offence_denials.
  bool ChargeSigning(const GuardKey& key, const GuardLimits& limits,
                     uint32_t signatures, absl::Time now);

  // Shared budget (see the top). Off by default; LedgerSync turns it on
  // (and off again when the store turns out to be a standby: local budget).
  void SetShared(bool shared);
  bool shared() const;
  // The lease requests queued since the last call (at most one in flight
  // per identity until answered by GrantDisclosures).
  std::vector<LeaseRequest> TakeLeaseRequests();
  // The lease requests queued and not yet taken (TakeLeaseRequests returns
  // at once, locking no shard, while this is 0).
  size_t lease_requests_queued() const;
  // The Store's answer to `request`: `granted` slots (0: spent, or the store
  // failed), leased at `now`. Fewer than asked: no new request for the
  // identity for lease_retry (the budget is spent; retrying sooner is
  // useless load). Ignored when the identity is no longer tracked.
  void GrantDisclosures(const LeaseRequest& request, uint32_t granted,
                        absl::Time now);
  // The chunk for a budget: clamp(budget x percent / 100, 1, 1000).
  static uint32_t LeaseChunk(uint32_t budget, uint32_t percent);
  static constexpr absl::Duration kLeaseRetry = absl::Seconds(1);
  // retry_after of a refusal that only waits for this replica's next lease
  // (LedgerSync serves requests every 10 ms).
  static constexpr absl::Duration kLeaseWait = absl::Milliseconds(50);

  // The identity's counters, or nullopt when it is not tracked.
  std::optional<GuardCounters> Counters(const GuardKey& key) const;
  // Everything about one identity, or nullopt when it is not tracked.
  std::optional<GuardIdentityStatus> Explain(const GuardKey& key,
                                             absl::Time now) const;
  // Up to `limit` identities, blocked ones first, then by denials
  // (descending); only those with a denial or a block when `only_denied`.
  std::vector<GuardIdentityStatus> Snapshot(absl::Time now, size_t limit,
                                            bool only_denied) const;
  // Lifts the identity's block and forgets its offences. False when it was
  // neither blocked nor had offences (or is not tracked).
  bool Unblock(const GuardKey& key, absl::Time now);
  // Distinct items disclosed to `key` in the window ending at `now`.
  size_t DisclosedInWindow(const GuardKey& key, absl::Time now) const;
  size_t tracked() const;
  uint64_t evicted_live() const;

  // Where enforced blocks are counted for the metrics (an org key as a
  // peer's, a source prefix as anonymous); null = nowhere. `counters`
  // must outlive the guard.
  void set_counters(RequestCounters* counters) { counters_.store(counters); }

  // The 64-bit code an item is kept as: exact for "+" and 1..15 digits,
  // a hash (top bit set) otherwise.
  static uint64_t ItemCode(absl::string_view item);
  // ItemCode("+<digits>") from the digits' value and count (1..15): the
  // count in bits 50..53 (15 digits < 2^50), so "+1" and "+01" differ.
  static constexpr uint64_t NumberCode(uint64_t value, size_t digits) {
    return (uint64_t{digits} << 50) | value;
  }

 private:
  struct Shard;
  Shard& ShardFor(const GuardKey& key) const;
  // The shard of a key whose absl::HashOf is `hash`.
  size_t ShardIndex(size_t hash) const {
    return hash % static_cast<size_t>(shard_count_);
  }
  // All below run under the shard's lock. `hash`: absl::HashOf(key).
  State* FindOrInsert(Shard& shard, const GuardKey& key, size_t hash,
                      absl::Time now);
  // A known identity seen again: most recent in the LRU, last_seen.
  static State* Touch(Shard& shard, State& s, absl::Time now);
  void Offence(State& s, const GuardKey& key, absl::string_view why,
               absl::Time now, std::string* block_log);
  // `offence` false: counted, but not toward offence_denials.
  void Denied(State& s, const GuardKey& key, GuardRule rule,
              absl::string_view message, absl::Time now, std::string* block_log,
              bool offence = true);
  // Report()'s work on the identity's state.
  void ReportLocked(State& s, const GuardKey& key, const Admission& admission,
                    bool disclosed, absl::Time now, std::string* dry_run_log,
                    std::string* block_log);
  void Scan(State& s, const GuardKey& key, uint64_t code, bool disclosed,
            absl::Time now, std::string* dry_run_log, std::string* block_log);
  GuardIdentityStatus StatusOf(const GuardKey& key, State& s,
                               absl::Time now) const;
  // Without the lock.
  static void FlushLogs(Shard& shard, const GuardKey& key,
                        const std::string& dry_run, const std::string& block,
                        bool table_full, absl::Time now);

  const GuardOptions options_;
  std::atomic<bool> shared_{false};
  std::atomic<RequestCounters*> counters_{nullptr};
  // Lease requests in all shards' queues (changed under the shard's lock).
  std::atomic<size_t> lease_requests_queued_{0};
  size_t per_shard_ = 1;
  std::unique_ptr<Shard[]> shards_;
  int shard_count_ = 1;
  // Unique per Guard in the process (AdmitCode's per-thread cache must not
  // take a new Guard at a freed one's address for it).
  uint64_t id_ = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_GUARD_H_
