// Guard: the anti-harvesting stage every front door runs before it resolves
// a lookup and after it has answered.
//
// Each request is charged to an identity (GuardKey): an org (for gRPC: the
// org of the caller's client certificate; later also the org of a TSIG key
// or DoT certificate, so one org has one budget across front doors) or an
// anonymous source prefix (IPv4 /24, IPv6 /56; for the DNS front door,
// not wired yet). Per identity, with the limits the caller passes
// (GuardLimits: the org's Quota over a per-class default, EffectiveLimits):
//   * a token bucket of `burst` tokens refilled at `lookups_per_second`:
//     Admit() takes one token (refused when less than one is left); Report()
//     takes miss_cost - 1 more when the request was not answered with SED.
//     The guard sees only "answered with SED" or "not": a number that does
//     not exist and one the caller may not see cost the same, so the charge
//     is no oracle. A miss may overdraw the bucket by at most miss_cost - 1
//     tokens per request in flight;
//   * a disclosure budget: at most `distinct_numbers_per_day` distinct items
//     (numbers; URIs) answered with SED per sliding window (24 h). An item
//     already disclosed in the window is free, any other is refused once
//     the budget is spent (whether or not it exists: the refusal comes
//     before resolution). Admit() reserves a slot for a new item, so
//     concurrent requests cannot overshoot the budget. Memory: an exact set
//     of at most `distinct_numbers_per_day` items per identity, about 32
//     bytes each (numbers are kept exactly as 64-bit codes, URIs as 64-bit
//     hashes), plus a fixed ~300 bytes per identity;
//   * dry run: a request over a limit is counted, logged (rate-limited, per
//     identity) and admitted, and charged nothing, so the counts are those
//     enforcement would have refused.
// Bounded: at most max_identities identities (rounded down to a multiple of
// the shard count). An identity at rest (bucket full, nothing disclosed in
// the window, nothing in flight) and unseen for idle_timeout is dropped,
// which changes no later decision; when the table is full the least recently
// seen identity is dropped, preferring one at rest (evicted_live counts the
// others, which lose their state).
// Thread-safe (sharded absl::Mutex). Time is passed in, so tests need no
// sleeps.
#ifndef LUFD_SERVER_GUARD_GUARD_H_
#define LUFD_SERVER_GUARD_GUARD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "lufd/v1/registry.pb.h"

namespace lufd {

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

  bool operator==(const GuardKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const GuardKey& k) {
    return H::combine(std::move(h), k.kind, k.id);
  }
};

// The limits of one identity. 0 = no limit for the rate and the budget.
struct GuardLimits {
  uint32_t lookups_per_second = 0;
  uint32_t burst = 0;  // Bucket depth; at least 1 when rate > 0.
  uint32_t miss_cost = 1;
  uint32_t distinct_numbers_per_day = 0;
  bool dry_run = false;

  static GuardLimits FromConfig(const lufd::v1::GuardLimitsConfig& config);
};

// An org's Quota over its class default: each non-zero Quota field wins.
// A Quota that sets lookups_per_second but no burst gets a burst of one
// second's worth (not the class default's depth, which could be far larger
// than the org's rate). dry_run is on when either says so.
GuardLimits EffectiveLimits(const lufd::v1::Quota& quota,
                            const GuardLimits& class_default);

// Per-identity counts since the identity was first tracked.
struct GuardCounters {
  uint64_t admitted = 0;
  uint64_t hits = 0;    // Reported answered with SED.
  uint64_t misses = 0;  // Reported not answered.
  uint64_t denied_rate = 0;
  uint64_t denied_disclosure = 0;
  uint64_t dry_run_rate = 0;        // Would have been denied (dry run).
  uint64_t dry_run_disclosure = 0;  // Would have been denied (dry run).
};

struct GuardOptions {
  size_t max_identities = 100000;
  absl::Duration idle_timeout = absl::Minutes(10);
  absl::Duration disclosure_window = absl::Hours(24);
  int shards = 16;  // Lowered to max_identities when that is smaller.
};

class Guard {
 public:
  // What Admit() decided. Pass it back to Report() once answered.
  struct Admission {
    absl::Status status;  // OK, or RESOURCE_EXHAUSTED naming the limit.
    absl::Duration retry_after = absl::ZeroDuration();  // When refused.
    // Internal: what Report() settles.
    bool charged = false;   // A token was taken (not in dry-run excess).
    bool reserved = false;  // A disclosure slot is held for `item`.
    uint32_t miss_cost = 1;
    uint64_t item = 0;
  };

  explicit Guard(GuardOptions options = {});
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // Before resolving `item` (the normalized number or URI; "" when the
  // query was malformed) for `key`.
  Admission Admit(const GuardKey& key, const GuardLimits& limits,
                  absl::string_view item, absl::Time now);
  // After answering: `disclosed` when the answer carried SED. Every
  // admitted request must be reported exactly once (refused ones need not).
  void Report(const GuardKey& key, const Admission& admission, bool disclosed,
              absl::Time now);

  // The identity's counters, or nullopt when it is not tracked.
  std::optional<GuardCounters> Counters(const GuardKey& key) const;
  // Distinct items disclosed to `key` in the window ending at `now`.
  size_t DisclosedInWindow(const GuardKey& key, absl::Time now) const;
  size_t tracked() const;
  uint64_t evicted_live() const;

  // The 64-bit code an item is kept as: exact for "+" and 1..15 digits,
  // a hash (top bit set) otherwise.
  static uint64_t ItemCode(absl::string_view item);

 private:
  struct Shard;
  struct State;
  Shard& ShardFor(const GuardKey& key) const;

  const GuardOptions options_;
  size_t per_shard_ = 1;
  std::unique_ptr<Shard[]> shards_;
  int shard_count_ = 1;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_GUARD_H_
