#include "server/guard/guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <list>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "server/core/denial.h"
#include "server/ops/config_values.h"
#include "server/ops/log_limiter.h"
#include "spdlog/spdlog.h"

namespace lufd {

void MaskAddress(const uint8_t* address, size_t size, int bits, uint8_t* out) {
  for (int i = 0; i < static_cast<int>(size); ++i) {
    const int keep = std::clamp(bits - 8 * i, 0, 8);
    const uint8_t mask =
        keep == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    out[i] = address[i] & mask;
  }
}

absl::StatusOr<GuardKey> GuardKey::SourcePrefix(absl::string_view address,
                                                int v4_bits, int v6_bits) {
  const bool v4 = address.size() == 4;
  if (!v4 && address.size() != 16) {
    return absl::InvalidArgumentError("address is neither 4 nor 16 bytes");
  }
  const int bits = v4 ? v4_bits : v6_bits;
  if (bits < 0 || bits > static_cast<int>(address.size()) * 8) {
    return absl::InvalidArgumentError("prefix length out of range");
  }
  unsigned char masked[16] = {};
  MaskAddress(reinterpret_cast<const uint8_t*>(address.data()), address.size(),
              bits, masked);
  if (v4) {
    // inet_ntop's text without its printf: the DNS front door builds one
    // key per anonymous query.
    return GuardKey{Kind::kSourcePrefix,
                    absl::StrCat(masked[0], ".", masked[1], ".", masked[2], ".",
                                 masked[3], "/", bits)};
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, masked, text, sizeof(text));
  return GuardKey{Kind::kSourcePrefix, absl::StrCat(text, "/", bits)};
}

std::string GuardKey::Describe() const {
  return absl::StrCat(kind == Kind::kOrg ? "org " : "prefix ", id);
}

namespace {

uint32_t DryRunRules(
    bool all, const google::protobuf::RepeatedPtrField<std::string>& names) {
  uint32_t rules = all ? kAllGuardRules : 0;
  for (const std::string& name : names) {
    if (std::optional<GuardRule> rule = ParseGuardRule(name)) {
      rules |= GuardRuleBit(*rule);
    }
  }
  return rules;
}

}  // namespace

uint64_t GuardCounters::denied_total() const {
  uint64_t n = 0;
  for (uint64_t d : denied) n += d;
  return n;
}

absl::StatusOr<GuardKey> GuardKey::Parse(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  bool want_org = false, want_prefix = false;
  if (absl::ConsumePrefix(&text, "org ")) {
    want_org = true;
  } else if (absl::ConsumePrefix(&text, "prefix ")) {
    want_prefix = true;
  }
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("empty identity");
  const size_t slash = text.find('/');
  if (want_prefix || (!want_org && slash != absl::string_view::npos)) {
    if (slash == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a prefix (address/length): \"", text, "\""));
    }
    const std::string address(text.substr(0, slash));
    int bits = 0;
    if (!absl::SimpleAtoi(text.substr(slash + 1), &bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad prefix length in \"", text, "\""));
    }
    unsigned char raw[16];
    if (inet_pton(AF_INET, address.c_str(), raw) == 1) {
      return SourcePrefix(
          absl::string_view(reinterpret_cast<const char*>(raw), 4), bits, bits);
    }
    if (inet_pton(AF_INET6, address.c_str(), raw) == 1) {
      return SourcePrefix(
          absl::string_view(reinterpret_cast<const char*>(raw), 16), bits,
          bits);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("not an IPv4 or IPv6 address: \"", address, "\""));
  }
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        !absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("org id with spaces or controls");
    }
  }
  return Org(text);
}

GuardOptions GuardOptions::FromConfig(const lufd::v1::GuardConfig& config) {
  GuardOptions options;
  if (config.max_identities() != 0) {
    options.max_identities = config.max_identities();
  }
  if (config.block_ladder_size() > 0) {
    options.block_ladder.clear();
    for (const std::string& step : config.block_ladder()) {
      if (absl::StatusOr<absl::Duration> d = ParseConfigDuration(step);
          d.ok()) {
        options.block_ladder.push_back(*d);
      }
    }
  }
  // The config's duration grammar ("1d" too), as validation accepted it.
  if (absl::StatusOr<absl::Duration> d =
          ParseConfigDuration(config.offence_memory());
      !config.offence_memory().empty() && d.ok()) {
    options.offence_memory = *d;
  }
  if (absl::StatusOr<absl::Duration> d =
          ParseConfigDuration(config.scan_window());
      !config.scan_window().empty() && d.ok()) {
    options.scan_window = *d;
  }
  if (config.offence_denials() != 0) {
    options.offence_denials = config.offence_denials();
  }
  if (config.lease_chunk_percent() != 0) {
    options.lease_chunk_percent = config.lease_chunk_percent();
  }
  return options;
}

GuardLimits GuardLimits::FromConfig(const lufd::v1::GuardLimitsConfig& c) {
  GuardLimits limits;
  limits.lookups_per_second = c.lookups_per_second();
  limits.burst = c.burst();
  limits.miss_cost = std::max<uint32_t>(1, c.miss_cost());
  limits.distinct_numbers_per_day = c.distinct_numbers_per_day();
  limits.misses_per_day = c.misses_per_day();
  limits.scan_threshold = c.scan_threshold();
  limits.signatures_per_second = c.signatures_per_second();
  limits.signing_burst =
      c.signing_burst() != 0 ? c.signing_burst() : c.signatures_per_second();
  limits.dry_run_rules = DryRunRules(c.dry_run(), c.dry_run_rules());
  return limits;
}

GuardLimits EffectiveLimits(const lufd::v1::Quota& quota,
                            const GuardLimits& class_default) {
  GuardLimits limits = class_default;
  if (quota.lookups_per_second() != 0) {
    limits.lookups_per_second = quota.lookups_per_second();
    limits.burst = quota.burst() != 0
                       ? quota.burst()
                       : std::max<uint32_t>(1, quota.lookups_per_second());
  } else if (quota.burst() != 0) {
    limits.burst = quota.burst();
  }
  if (quota.miss_cost() != 0) limits.miss_cost = quota.miss_cost();
  if (quota.distinct_numbers_per_day() != 0) {
    limits.distinct_numbers_per_day = quota.distinct_numbers_per_day();
  }
  if (quota.misses_per_day() != 0) {
    limits.misses_per_day = quota.misses_per_day();
  }
  if (quota.scan_threshold() != 0) {
    limits.scan_threshold = quota.scan_threshold();
  }
  if (quota.signatures_per_second() != 0) {
    limits.signatures_per_second = quota.signatures_per_second();
    limits.signing_burst = quota.signatures_per_second();
  }
  limits.dry_run_rules |= DryRunRules(quota.dry_run(), quota.dry_run_rules());
  return limits;
}

uint64_t Guard::ItemCode(absl::string_view item) {
  // "+" and 1..15 digits: the digits' value with their count in bits 50..53
  // (15 digits < 2^50), so "+1" and "+01" differ. Top bit clear.
  if (item.size() >= 2 && item.size() <= 16 && item[0] == '+') {
    // One unsigned compare per digit: this runs for every guarded query.
    uint64_t value = 0;
    size_t i = 1;
    for (; i < item.size(); ++i) {
      const uint32_t digit =
          static_cast<unsigned char>(item[i]) - uint32_t{'0'};
      if (digit > 9) break;
      value = value * 10 + digit;
    }
    if (i == item.size()) return NumberCode(value, item.size() - 1);
  }
  return absl::HashOf(item) | (uint64_t{1} << 63);
}

namespace {

// Miss budget: misses are counted per time slot of window / kMissSlots; a
// miss stays counted from its slot until kMissSlots + 1 slot starts later,
// i.e. for at least the window and at most one slot more (24 h window: 1 h
// slots, a miss is forgotten 24 to 25 h after it happened).
constexpr int kMissSlots = 24;
constexpr int kMissRing = kMissSlots + 1;  // The current slot + 24 full ones.

// Scan detector bounds.
constexpr size_t kMaxScanPrefixes = 32;
constexpr uint32_t kNumbersPerPrefix = 100;  // Last two digits.
constexpr int kNearSequential = 3;
// An identity table shard full of blocked identities: how many of the
// coldest are looked at for one that may be evicted.
constexpr int kEvictionProbe = 64;

std::string RetryText(absl::Duration d) {
  return absl::FormatDuration(absl::Ceil(d, absl::Milliseconds(1)));
}

std::string WindowText(absl::Duration window) {
  return window == absl::Hours(24) ? std::string("24 h")
                                   : absl::FormatDuration(window);
}

bool IsNumberCode(uint64_t code) { return (code >> 63) == 0; }

// The scan prefix of a number's code (its digit count kept, the last two
// digits dropped) and those two digits.
uint64_t ScanPrefixOf(uint64_t code) {
  const uint64_t count = code >> 50;
  const uint64_t value = code & ((uint64_t{1} << 50) - 1);
  return (count << 50) | (value / kNumbersPerPrefix);
}
uint32_t LastTwoDigits(uint64_t code) {
  return static_cast<uint32_t>((code & ((uint64_t{1} << 50) - 1)) %
                               kNumbersPerPrefix);
}

// "+1202555xx" for a scan prefix.
std::string DescribeScanPrefix(uint64_t prefix) {
  const int count = static_cast<int>(prefix >> 50);
  const uint64_t value = prefix & ((uint64_t{1} << 50) - 1);
  std::string digits = absl::StrCat(value);
  const int want = std::max(0, count - 2);
  if (value == 0 && want == 0) digits.clear();
  if (static_cast<int>(digits.size()) < want) {
    digits.insert(0, static_cast<size_t>(want) - digits.size(), '0');
  }
  return absl::StrCat("+", digits, std::string(std::min(count, 2), 'x'));
}

struct Bits128 {
  uint64_t w[2] = {0, 0};
  uint32_t Count() const {
    return static_cast<uint32_t>(std::popcount(w[0]) + std::popcount(w[1]));
  }
  // True when newly set.
  bool Set(uint32_t i) {
    const uint64_t bit = uint64_t{1} << (i & 63);
    if (w[i >> 6] & bit) return false;
    w[i >> 6] |= bit;
    return true;
  }
};

// A token bucket's level at `now` without changing it.
double Level(double tokens, absl::Time refilled, double rate, uint32_t burst,
             absl::Time now) {
  const double depth = std::max<uint32_t>(1, burst);
  if (rate == 0) return depth;
  if (refilled == absl::InfinitePast()) return depth;
  if (now <= refilled) return std::min(tokens, depth);
  return std::min(depth, tokens + absl::ToDoubleSeconds(now - refilled) * rate);
}

// Refills a bucket to `now` (first use: full).
void RefillBucket(double& tokens, absl::Time& refilled, double rate,
                  uint32_t burst, absl::Time now) {
  if (rate == 0) return;
  tokens = Level(tokens, refilled, rate, burst, now);
  refilled = std::max(refilled, now);
}

}  // namespace

// Shared budget (guard.h): the leases of one budget granted in the window
// (when, slots), their sum, whether a request is queued or in flight, and
// when one may be queued again after a short grant.
struct SharedLease {
  // Oldest first. A vector, not a deque: it allocates nothing while empty
  // (every identity has two SharedLeases, most never lease), and a window
  // holds at most about budget / chunk grants.
  std::vector<std::pair<absl::Time, uint32_t>> grants;
  uint64_t granted = 0;
  bool pending = false;
  absl::Time retry_at = absl::InfinitePast();

  void Expire(absl::Duration window, absl::Time now) {
    if (grants.empty()) return;  // Most identities never lease.
    auto live = grants.begin();
    while (live != grants.end() && live->first + window <= now) {
      granted -= live->second;
      ++live;
    }
    grants.erase(grants.begin(), live);
  }
  void Grant(uint32_t n, uint32_t want, absl::Time now) {
    pending = false;
    if (n > 0) {
      grants.emplace_back(
          std::max(now, grants.empty() ? now : grants.back().first), n);
      granted += n;
    }
    if (n < want) retry_at = now + Guard::kLeaseRetry;
  }
  // What `used` slots (in the window, plus in flight) may reach: the
  // leases plus one chunk of overdraft, never more than the budget.
  uint64_t Cap(uint32_t budget, uint32_t chunk) const {
    return std::min<uint64_t>(budget, granted + chunk);
  }
  // Fewer than half a chunk of leased slots left: ask (one request at a
  // time; none while a short grant's retry time runs, nor when this
  // instance already holds the whole budget).
  bool WantsMore(uint64_t used, uint32_t budget, uint32_t chunk,
                 absl::Time now) const {
    return !pending && now >= retry_at && granted < budget &&
           2 * (static_cast<int64_t>(granted) - static_cast<int64_t>(used)) <
               static_cast<int64_t>(chunk);
  }
  // Short of leases but the store has not said the budget is spent (no
  // short grant whose retry time still runs): the next lease is on its way
  // (pending, or asked for by this very Admit), so the refusal is this
  // replica's wait, not the identity's fault.
  bool Waiting(absl::Time now) const { return now >= retry_at; }
  // A refusal short of leases: retry when the next lease may come.
  absl::Duration RetryAfter(absl::Time now) const {
    return Waiting(now) ? Guard::kLeaseWait
                        : std::max(absl::Milliseconds(1), retry_at - now);
  }
};

namespace {

// One budget (disclosure or misses) as an Admit() sees it: shared, it
// admits against its leases plus one chunk; local, against the budget.
struct BudgetView {
  uint32_t budget = 0;  // 0 = no limit.
  bool shared = false;
  uint32_t chunk = 0;  // Shared only.
  uint64_t cap = 0;    // What the used slots (plus in flight) may reach.

  BudgetView(const SharedLease& lease, uint32_t budget_in, bool sharing,
             uint32_t chunk_percent)
      : budget(budget_in), shared(budget_in != 0 && sharing) {
    chunk = shared ? Guard::LeaseChunk(budget, chunk_percent) : 0;
    cap = shared ? lease.Cap(budget, chunk) : budget;
  }
  // Refused with the cap short of the budget: waiting for a lease.
  bool ShortOfLeases() const { return cap < budget; }
};

// Shared budgets: queues a lease request for one budget (disclosure or
// misses) when `lease` wants more with `used` slots taken. Under the shard's
// lock that guards `queue`; `queued` is Guard::lease_requests_queued_,
// changed under the same lock as the queue (TakeLeaseRequests subtracts
// what it takes), so it never counts fewer requests than are queued.
void AskForLease(const GuardKey& key, SharedLease& lease,
                 const BudgetView& view, uint64_t used, GuardRule rule,
                 absl::Duration window, absl::Time now,
                 std::vector<LeaseRequest>& queue,
                 std::atomic<size_t>& queued) {
  if (!view.shared || !lease.WantsMore(used, view.budget, view.chunk, now)) {
    return;
  }
  lease.pending = true;
  queue.push_back(LeaseRequest{key, view.chunk, view.budget, window, rule});
  queued.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

struct Guard::State {
  // Token bucket; `tokens` may be negative (a miss's debt).
  double tokens = 0;
  absl::Time refilled = absl::InfinitePast();
  // Signing bucket (ChargeSigning).
  double signing_tokens = 0;
  absl::Time signing_refilled = absl::InfinitePast();
  // Disclosure window: the items and when each was first disclosed in it.
  absl::flat_hash_set<uint64_t> disclosed;
  std::deque<std::pair<absl::Time, uint64_t>> order;
  uint32_t reserved = 0;   // Disclosure slots held by requests in flight.
  SharedLease lease;       // Shared disclosure budget.
  SharedLease miss_lease;  // Shared miss budget.
  uint32_t in_flight = 0;  // Admitted, not yet reported.
  // Miss budget: misses per slot; miss_slot[i % kMissRing] holds slot i.
  uint32_t miss_slots[kMissRing] = {};
  int64_t miss_newest = 0;  // The newest slot written (an absolute index).
  uint32_t misses_total = 0;
  uint32_t miss_reserved = 0;  // Requests in flight counted as misses.
  // Scan detector: number prefixes (LRU by `used`), non-numbers apart.
  struct ScanPrefix {
    uint64_t prefix = 0;
    absl::Time start;  // The window's start.
    absl::Time used;
    Bits128 seen, missed;
    uint8_t last = 0;  // The previous number's last two digits.
    bool has_last = false;
    uint8_t sequential = 0;
    // A new window: the counts start afresh.
    void Reset(absl::Time now) {
      const uint64_t keep = prefix;
      *this = ScanPrefix();
      prefix = keep;
      start = now;
      used = now;
    }
  };
  std::vector<ScanPrefix> scan;
  std::vector<uint64_t> scan_other;  // Distinct non-number misses.
  absl::Time scan_other_start = absl::InfinitePast();
  // Offences and blocks.
  uint32_t offence_level = 0;
  absl::Time last_offence = absl::InfinitePast();
  absl::Time blocked_until = absl::InfinitePast();
  std::string block_reason;     // "offence 2: ..." of the current block.
  std::string block_message;    // "<key> is blocked until <t> (<reason>)".
  uint32_t window_denials = 0;  // Refusals in the current scan_window.
  absl::Time denial_window_start = absl::InfinitePast();
  // For Explain().
  GuardLimits limits;  // Last applied.
  absl::Time first_seen = absl::InfinitePast();
  absl::Time last_seen = absl::InfinitePast();
  absl::Time last_denied = absl::InfinitePast();
  std::string last_denial;
  GuardCounters counters;
  std::list<GuardKey>::iterator lru;  // Into Shard::lru.

  void Refill(const GuardLimits& l, absl::Time now) {
    RefillBucket(tokens, refilled, l.lookups_per_second, l.burst, now);
  }
  void Expire(absl::Duration window, absl::Time now) {
    // Every Admit() comes here: most identities disclose and lease nothing.
    if (order.empty() && lease.grants.empty() && miss_lease.grants.empty()) {
      return;
    }
    while (!order.empty() && order.front().first + window <= now) {
      disclosed.erase(order.front().second);
      order.pop_front();
    }
    lease.Expire(window, now);
    miss_lease.Expire(window, now);
  }
  static int64_t MissSlot(absl::Duration window, absl::Time now) {
    const absl::Duration slot =
        std::max(absl::Nanoseconds(1), window / kMissSlots);
    return absl::ToInt64Nanoseconds(
               absl::Floor(now - absl::UnixEpoch(), slot)) /
           absl::ToInt64Nanoseconds(slot);
  }
  // Moves the ring to `now`'s slot, forgetting slots that left the window.
  void ExpireMisses(absl::Duration window, absl::Time now) {
    if (misses_total == 0) return;
    const int64_t current = MissSlot(window, now);
    if (current <= miss_newest) return;
    const int64_t steps = std::min<int64_t>(current - miss_newest, kMissRing);
    for (int64_t i = 1; i <= steps; ++i) {
      uint32_t& c = miss_slots[(miss_newest + i) % kMissRing];
      misses_total -= c;
      c = 0;
    }
    miss_newest = current;
  }
  void AddMiss(absl::Duration window, absl::Time now) {
    ExpireMisses(window, now);
    const int64_t current = MissSlot(window, now);
    if (misses_total == 0 || current > miss_newest) {
      if (misses_total == 0)
        std::fill(std::begin(miss_slots), std::end(miss_slots), 0u);
      miss_newest = std::max(miss_newest, current);
    }
    // A report older than the newest slot counts in the newest one.
    ++miss_slots[miss_newest % kMissRing];
    ++misses_total;
  }
  // When the oldest counted miss leaves the window.
  absl::Duration MissRetry(absl::Duration window, absl::Time now) const {
    const absl::Duration slot =
        std::max(absl::Nanoseconds(1), window / kMissSlots);
    for (int64_t s = miss_newest - kMissSlots; s <= miss_newest; ++s) {
      if (s >= 0 && miss_slots[s % kMissRing] != 0) {
        const absl::Time leaves = absl::UnixEpoch() + slot * (s + kMissRing);
        return std::max(absl::Milliseconds(1), leaves - now);
      }
    }
    return absl::Milliseconds(1);  // Only reservations in the way.
  }
  uint32_t OffenceLevel(absl::Duration memory, absl::Time now) const {
    return last_offence != absl::InfinitePast() && now - last_offence <= memory
               ? offence_level
               : 0;
  }
  // Nothing here would change a later decision if dropped.
  bool AtRest(const GuardOptions& o, absl::Time now) {
    Expire(o.disclosure_window, now);
    ExpireMisses(o.disclosure_window, now);
    // Leased slots are the shared budget's: dropping them would waste it.
    if (in_flight != 0 || !disclosed.empty() || misses_total != 0 ||
        !lease.grants.empty() || lease.pending || !miss_lease.grants.empty() ||
        miss_lease.pending) {
      return false;
    }
    if (blocked_until > now || OffenceLevel(o.offence_memory, now) != 0) {
      return false;
    }
    if ((!scan.empty() || !scan_other.empty() || window_denials != 0) &&
        now - last_seen < o.scan_window) {
      return false;
    }
    return Level(tokens, refilled, limits.lookups_per_second, limits.burst,
                 now) >= std::max<uint32_t>(1, limits.burst) &&
           Level(signing_tokens, signing_refilled, limits.signatures_per_second,
                 limits.signing_burst,
                 now) >= std::max<uint32_t>(1, limits.signing_burst);
  }
};

namespace {

// A key with its absl::HashOf, computed once per call for both the shard
// and the table (hashing the key's string twice per Admit and Report was a
// measurable part of the DNS guard stage's cost).
struct HashedKey {
  const GuardKey& key;
  size_t hash;
};
// The table's hash is the shard's rotated: the shard index is the hash's
// low bits, which the table would otherwise take for its 7-bit control
// tags (identical within a shard: more false matches to compare).
struct KeyHash {
  using is_transparent = void;
  static size_t Spread(size_t hash) { return std::rotr(hash, 16); }
  size_t operator()(const GuardKey& k) const { return Spread(absl::HashOf(k)); }
  size_t operator()(const HashedKey& k) const { return Spread(k.hash); }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(const GuardKey& a, const GuardKey& b) const { return a == b; }
  bool operator()(const GuardKey& a, const HashedKey& b) const {
    return a == b.key;
  }
  bool operator()(const HashedKey& a, const GuardKey& b) const {
    return a.key == b;
  }
};

}  // namespace

struct Guard::Shard {
  mutable absl::Mutex mu;
  absl::flat_hash_map<GuardKey, std::unique_ptr<State>, KeyHash, KeyEq> states
      ABSL_GUARDED_BY(mu);
  // Bumped whenever an identity is dropped: an Admission's `state` is
  // valid while the generation it saw is current.
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;
  std::list<GuardKey> lru ABSL_GUARDED_BY(mu);  // Front: most recent.
  uint64_t evicted_live ABSL_GUARDED_BY(mu) = 0;
  std::vector<LeaseRequest> lease_requests ABSL_GUARDED_BY(mu);
  LogLimiter dry_run_log;  // Thread-safe itself.
  LogLimiter table_full_log;
};

Guard::Guard(GuardOptions options) : options_(options) {
  const size_t max = std::max<size_t>(1, options_.max_identities);
  shard_count_ = static_cast<int>(std::clamp<size_t>(
      static_cast<size_t>(std::max(1, options_.shards)), 1, max));
  per_shard_ = max / static_cast<size_t>(shard_count_);
  shards_ = std::make_unique<Shard[]>(static_cast<size_t>(shard_count_));
  static std::atomic<uint64_t> ids{0};
  id_ = ids.fetch_add(1) + 1;
}

Guard::~Guard() = default;

Guard::Shard& Guard::ShardFor(const GuardKey& key) const {
  return shards_[ShardIndex(absl::HashOf(key))];
}

Guard::State* Guard::Touch(Shard& shard, State& s, absl::Time now) {
  shard.lru.splice(shard.lru.begin(), shard.lru, s.lru);
  s.last_seen = std::max(s.last_seen, now);
  return &s;
}

Guard::State* Guard::FindOrInsert(Shard& shard, const GuardKey& key,
                                  size_t hash, absl::Time now) {
  auto it = shard.states.find(HashedKey{key, hash});
  if (it != shard.states.end()) return Touch(shard, *it->second, now);
  // Drop idle identities at rest from the cold end, then make room.
  while (!shard.lru.empty()) {
    State& cold = *shard.states[shard.lru.back()];
    if (now - cold.last_seen < options_.idle_timeout ||
        !cold.AtRest(options_, now)) {
      break;
    }
    shard.states.erase(shard.lru.back());
    shard.lru.pop_back();
    ++shard.generation;
  }
  if (shard.states.size() >= per_shard_) {
    // Among the coldest: one at rest (first 8 looked at), else the
    // coldest with no offence remembered, else the coldest not blocked.
    // Never a blocked one: a flooder must not escape its block by churning
    // identities, nor (while another will do) its place on the ladder. A
    // blocked identity found on the way moves to the front, so the next
    // search starts past it.
    auto victim = shard.lru.end();
    auto fallback = shard.lru.end();  // Not blocked, offences remembered.
    auto probe = std::prev(shard.lru.end());
    bool at_rest = false;
    for (int i = 0; i < kEvictionProbe && probe != shard.lru.end(); ++i) {
      if (i >= 8 && victim != shard.lru.end()) break;
      auto next =
          probe == shard.lru.begin() ? shard.lru.end() : std::prev(probe);
      State& candidate = *shard.states[*probe];
      if (candidate.blocked_until > now) {
        shard.lru.splice(shard.lru.begin(), shard.lru, probe);
      } else if (candidate.OffenceLevel(options_.offence_memory, now) != 0) {
        if (fallback == shard.lru.end()) fallback = probe;
      } else if (i < 8 && candidate.AtRest(options_, now)) {
        victim = probe;
        at_rest = true;
        break;
      } else if (victim == shard.lru.end()) {
        victim = probe;
      }
      probe = next;
    }
    if (victim == shard.lru.end()) victim = fallback;
    if (victim == shard.lru.end()) return nullptr;
    if (!at_rest) ++shard.evicted_live;
    shard.states.erase(*victim);
    shard.lru.erase(victim);
    ++shard.generation;
  }
  shard.lru.push_front(key);
  auto state = std::make_unique<State>();
  state->lru = shard.lru.begin();
  state->first_seen = now;
  state->last_seen = now;
  return shard.states.emplace(key, std::move(state)).first->second.get();
}

// One offence: climbs the ladder and blocks (unless kBlock is in dry run,
// where the block is recorded and only counted when it would refuse).
void Guard::Offence(State& s, const GuardKey& key, absl::string_view why,
                    absl::Time now, std::string* block_log) {
  const uint32_t level = s.OffenceLevel(options_.offence_memory, now) + 1;
  s.offence_level = level;
  s.last_offence = now;
  ++s.counters.offences;
  s.window_denials = 0;
  if (options_.block_ladder.empty()) return;
  const absl::Duration d =
      options_
          .block_ladder[std::min<size_t>(level, options_.block_ladder.size()) -
                        1];
  s.blocked_until = std::max(s.blocked_until, now + d);
  s.block_reason = absl::StrCat("offence ", level, ": ", why);
  // Built once per block: a blocked flooder's refusals only append the
  // retry time.
  s.block_message = absl::StrCat(
      key.Describe(), " is blocked until ",
      absl::FormatTime(absl::RFC3339_sec, s.blocked_until, absl::UTCTimeZone()),
      " (", s.block_reason, ")");
  ++s.counters.blocks;
  if (RequestCounters* counters = counters_.load(std::memory_order_relaxed);
      counters != nullptr && !s.limits.DryRun(GuardRule::kBlock)) {
    if (key.kind == GuardKey::Kind::kOrg) {
      counters->Block(IdentityClass::kPeer, key.id);
    } else {
      counters->Block(IdentityClass::kAnonymous, "");
    }
  }
  *block_log = absl::StrCat(
      "guard: blocked ", key.Describe(), " for ", absl::FormatDuration(d), " (",
      s.block_reason, ")",
      s.limits.DryRun(GuardRule::kBlock) ? " [dry run: not enforced]" : "");
}

// An enforced refusal by `rule` (not kBlock): counted, remembered, and
// offence_denials of them in one scan_window are an offence.
void Guard::Denied(State& s, const GuardKey& key, GuardRule rule,
                   absl::string_view message, absl::Time now,
                   std::string* block_log, bool offence) {
  ++s.counters.denied[static_cast<int>(rule)];
  s.last_denied = now;
  s.last_denial.assign(message.data(), message.size());
  if (!offence || rule == GuardRule::kBlock || options_.offence_denials == 0) {
    return;
  }
  if (s.denial_window_start == absl::InfinitePast() ||
      now - s.denial_window_start >= options_.scan_window) {
    s.denial_window_start = now;
    s.window_denials = 0;
  }
  if (++s.window_denials >= options_.offence_denials) {
    Offence(s, key,
            absl::StrCat(options_.offence_denials, " refusals within ",
                         absl::FormatDuration(options_.scan_window)),
            now, block_log);
  }
}

void Guard::FlushLogs(Shard& shard, const GuardKey& key,
                      const std::string& dry_run, const std::string& block,
                      bool table_full, absl::Time now) {
  if (!block.empty()) spdlog::warn("{}", block);
  uint64_t suppressed = 0;
  if (!dry_run.empty() && shard.dry_run_log.Admit(key.id, now, &suppressed)) {
    spdlog::info(
        "guard dry run: would refuse {}: {}{}", key.Describe(), dry_run,
        suppressed == 0
            ? std::string()
            : absl::StrCat(" (suppressed ", suppressed, " similar lines)"));
  }
  if (table_full && shard.table_full_log.Admit("", now, &suppressed)) {
    spdlog::warn(
        "guard: identity table full of blocked identities; refused new "
        "identity {}{}",
        key.Describe(),
        suppressed == 0
            ? std::string()
            : absl::StrCat(" (suppressed ", suppressed, " similar lines)"));
  }
}

Guard::Admission Guard::Admit(const GuardKey& key, const GuardLimits& limits,
                              absl::string_view item, absl::Time now) {
  return AdmitCode(key, limits, ItemCode(item), now);
}

Guard::Admission Guard::AdmitCode(const GuardKey& key,
                                  const GuardLimits& limits, uint64_t item_code,
                                  absl::Time now) {
  // The identity this thread admitted last: when it comes again (a DNS
  // listener sees runs from one resolver, a TSIG peer sends runs) its shard
  // is known and, while that shard has dropped no identity since, its state
  // too: no hashing, no table search.
  struct Last {
    uint64_t guard_id = 0;
    GuardKey key;
    uint32_t shard = 0;
    uint64_t generation = 0;
    State* state = nullptr;
  };
  thread_local Last last;
  const bool again = last.guard_id == id_ && last.key == key;
  const size_t hash = again ? 0 : absl::HashOf(key);
  Admission admission;
  admission.item = item_code;
  admission.shard =
      again ? last.shard : static_cast<uint32_t>(ShardIndex(hash));
  Shard& shard = shards_[admission.shard];
  std::string would_deny;  // Dry run: the first message, logged unlocked.
  std::string block_log;
  bool table_full = false;
  {
    absl::MutexLock lock(&shard.mu);
    State* found = nullptr;
    if (again && last.generation == shard.generation) {
      found = Touch(shard, *last.state, now);
    } else {
      found = FindOrInsert(shard, key, again ? absl::HashOf(key) : hash, now);
    }
    if (found != nullptr) {
      if (!again) {
        last.guard_id = id_;
        last.key = key;
        last.shard = admission.shard;
      }
      last.generation = shard.generation;
      last.state = found;
    }
    if (found == nullptr) {
      table_full = true;
      admission.rule = GuardRule::kBlock;
      admission.retry_after = options_.block_ladder.empty()
                                  ? absl::Seconds(1)
                                  : options_.block_ladder.front();
      admission.status = WithDenialReason(
          absl::ResourceExhaustedError(absl::StrCat(
              "guard: no room to track ", key.Describe(),
              " (the identity table is full of blocked identities); retry "
              "after ",
              RetryText(admission.retry_after))),
          "guard: identity table full of blocked identities");
    } else {
      admission.state = found;
      admission.shard_generation = shard.generation;
      State& s = *found;
      s.limits = limits;
      s.Refill(limits, now);
      s.Expire(options_.disclosure_window, now);
      s.ExpireMisses(options_.disclosure_window, now);

      // Each rule in turn: an enforced refusal returns at once (the later
      // rules are not charged); a dry-run one is counted and the request
      // goes on, charging no dry-run rule (enforcement would have refused
      // it, so none of them would have been charged), only enforced ones.
      bool dry_violation = false;
      // `offence`: whether the refusal counts toward offence_denials (not
      // while a shared budget only waits for this replica's next lease).
      auto refuse = [&](GuardRule rule, absl::Duration retry,
                        std::string message, std::string reason,
                        bool offence = true) -> bool {
        absl::Status status = WithDenialReason(
            absl::ResourceExhaustedError(std::move(message)), reason);
        if (!limits.DryRun(rule)) {
          admission.status = std::move(status);
          admission.retry_after = retry;
          admission.rule = rule;
          Denied(s, key, rule, admission.status.message(), now, &block_log,
                 offence);
          return true;
        }
        ++s.counters.dry_run[static_cast<int>(rule)];
        if (would_deny.empty()) would_deny = std::string(status.message());
        dry_violation = true;
        return false;
      };

      bool refused = false;
      // Blocked: before everything else.
      if (s.blocked_until > now) {
        const absl::Duration retry = s.blocked_until - now;
        refused = refuse(
            GuardRule::kBlock, retry,
            absl::StrCat(s.block_message, "; retry after ", RetryText(retry)),
            "guard: blocked after repeated offences");
      }
      // Rate: a request over the rate never reaches the budgets.
      const bool rate_limited = limits.lookups_per_second != 0;
      if (!refused && rate_limited && s.tokens < 1) {
        const absl::Duration retry =
            absl::Seconds((1 - s.tokens) / limits.lookups_per_second);
        refused = refuse(
            GuardRule::kRate, retry,
            absl::StrCat(
                "lookup rate limit of ", key.Describe(), " exceeded (",
                limits.lookups_per_second, " lookups per second, burst ",
                std::max<uint32_t>(1, limits.burst), ", a not-found costs ",
                limits.miss_cost, "); retry after ", RetryText(retry)),
            absl::StrCat("guard: lookup rate limit (",
                         limits.lookups_per_second, "/s, burst ",
                         std::max<uint32_t>(1, limits.burst), ")"));
      }
      const bool sharing = shared_.load(std::memory_order_relaxed);
      // Shared: new items only against leased slots plus one chunk.
      const BudgetView disclosure(s.lease, limits.distinct_numbers_per_day,
                                  sharing, options_.lease_chunk_percent);
      const uint32_t budget = disclosure.budget;
      const bool new_item =
          budget != 0 && !s.disclosed.contains(admission.item);
      bool refused_by_budget = false;
      if (!refused && new_item &&
          s.disclosed.size() + s.reserved >= disclosure.cap) {
        // When the oldest disclosure leaves the window (or, with only
        // reservations in the way, as soon as they settle); shared, short of
        // leases: when the next lease may come.
        const absl::Duration retry =
            disclosure.ShortOfLeases() ? s.lease.RetryAfter(now)
            : s.order.empty()
                ? absl::Milliseconds(1)
                : s.order.front().first + options_.disclosure_window - now;
        refused_by_budget = true;
        if (disclosure.ShortOfLeases() && s.lease.Waiting(now)) {
          refused = refuse(
              GuardRule::kDisclosure, retry,
              absl::StrCat("disclosure budget of ", key.Describe(), " (",
                           budget, " distinct numbers per ",
                           WindowText(options_.disclosure_window),
                           ", shared by all replicas): this replica waits "
                           "for its next share; retry after ",
                           RetryText(retry)),
              absl::StrCat("guard: disclosure budget (", budget, " per ",
                           WindowText(options_.disclosure_window),
                           "): waiting for a lease"),
              /*offence=*/false);
        } else {
          refused = refuse(
              GuardRule::kDisclosure, retry,
              absl::StrCat("disclosure budget of ", key.Describe(), " spent (",
                           budget, " distinct numbers answered per ",
                           WindowText(options_.disclosure_window),
                           disclosure.shared ? ", shared by all replicas" : "",
                           "; numbers already answered stay free); retry "
                           "after ",
                           RetryText(retry)),
              absl::StrCat("guard: disclosure budget (", budget, " per ",
                           WindowText(options_.disclosure_window), ")"));
        }
      }
      // Misses: any request may end in a miss, so the ones in flight count.
      // Shared: like the disclosure budget, against leases plus a chunk.
      const BudgetView misses(s.miss_lease, limits.misses_per_day, sharing,
                              options_.lease_chunk_percent);
      bool refused_by_misses = false;
      if (!refused && misses.budget != 0 &&
          s.misses_total + s.miss_reserved >= misses.cap) {
        const absl::Duration retry =
            misses.ShortOfLeases()
                ? s.miss_lease.RetryAfter(now)
                : s.MissRetry(options_.disclosure_window, now);
        refused_by_misses = true;
        const bool waiting =
            misses.ShortOfLeases() && s.miss_lease.Waiting(now);
        refused = refuse(
            GuardRule::kMisses, retry,
            waiting ? absl::StrCat("miss budget of ", key.Describe(), " (",
                                   limits.misses_per_day,
                                   " answers without SED per ",
                                   WindowText(options_.disclosure_window),
                                   ", shared by all replicas): this replica "
                                   "waits for its next share; retry after ",
                                   RetryText(retry))
                    : absl::StrCat(
                          "miss budget of ", key.Describe(), " spent (",
                          limits.misses_per_day, " answers without SED per ",
                          WindowText(options_.disclosure_window),
                          misses.shared ? ", shared by all replicas" : "",
                          "); retry after ", RetryText(retry)),
            absl::StrCat("guard: miss budget (", limits.misses_per_day, " per ",
                         WindowText(options_.disclosure_window), ")",
                         waiting ? ": waiting for a lease" : ""),
            /*offence=*/!waiting);
      }
      if (!refused) {
        auto charge = [&](GuardRule rule) {
          return !dry_violation || !limits.DryRun(rule);
        };
        if (rate_limited && charge(GuardRule::kRate)) {
          s.tokens -= 1;
          admission.charged = true;
          admission.miss_cost = limits.miss_cost;
        }
        if (new_item && charge(GuardRule::kDisclosure)) {
          ++s.reserved;
          admission.reserved = true;
        }
        if (limits.misses_per_day != 0 && charge(GuardRule::kMisses)) {
          ++s.miss_reserved;
          admission.miss_reserved = true;
        }
        ++s.in_flight;
        ++s.counters.admitted;
      }
      // Shared: ask for a lease when fewer than half a chunk of leased
      // slots are left (one request at a time; none while a short grant's
      // retry time runs, nor when this instance already holds the budget).
      if (new_item && (!refused || refused_by_budget)) {
        AskForLease(key, s.lease, disclosure, s.disclosed.size() + s.reserved,
                    GuardRule::kDisclosure, options_.disclosure_window, now,
                    shard.lease_requests, lease_requests_queued_);
      }
      if (!refused || refused_by_misses) {
        AskForLease(key, s.miss_lease, misses, s.misses_total + s.miss_reserved,
                    GuardRule::kMisses, options_.disclosure_window, now,
                    shard.lease_requests, lease_requests_queued_);
      }
    }
  }
  if (!would_deny.empty() || !block_log.empty() || table_full) {
    FlushLogs(shard, key, would_deny, block_log, table_full, now);
  }
  return admission;
}

void Guard::Scan(State& s, const GuardKey& key, uint64_t code, bool disclosed,
                 absl::Time now, std::string* dry_run_log,
                 std::string* block_log) {
  const uint32_t threshold = s.limits.scan_threshold;
  std::string why;
  if (IsNumberCode(code)) {
    const uint64_t prefix = ScanPrefixOf(code);
    const uint32_t digits = LastTwoDigits(code);
    State::ScanPrefix* p = nullptr;
    State::ScanPrefix* lru = nullptr;
    for (State::ScanPrefix& candidate : s.scan) {
      if (candidate.prefix == prefix) {
        p = &candidate;
        break;
      }
      if (lru == nullptr || candidate.used < lru->used) lru = &candidate;
    }
    if (p == nullptr) {
      if (s.scan.size() < kMaxScanPrefixes) {
        p = &s.scan.emplace_back();
      } else {
        p = lru;
      }
      p->prefix = prefix;
      p->Reset(now);
    } else if (now - p->start >= options_.scan_window) {
      p->Reset(now);
    }
    p->used = now;
    // Near-sequential: a number new in the window within 3 of the previous
    // one seen under the prefix (repeats are not scanning).
    if (p->seen.Set(digits) && p->has_last &&
        std::abs(static_cast<int>(digits) - static_cast<int>(p->last)) <=
            kNearSequential) {
      ++p->sequential;
    }
    p->has_last = true;
    p->last = static_cast<uint8_t>(digits);
    if (!disclosed) p->missed.Set(digits);
    const uint32_t missed = p->missed.Count();
    // A prefix holds 100 numbers, and the first one seen in a window has no
    // predecessor, so at most 100 can be missed but only 99 can be
    // near-sequential: a threshold of 100 (or more) would never fire for a
    // sequential scan of found numbers without the second cap.
    const uint32_t missed_limit = std::min(threshold, kNumbersPerPrefix);
    const uint32_t sequential_limit =
        std::min(threshold, kNumbersPerPrefix - 1);
    if (missed >= missed_limit) {
      why = absl::StrCat("scan: ", missed, " distinct numbers missed under ",
                         DescribeScanPrefix(prefix), " within ",
                         absl::FormatDuration(options_.scan_window));
    } else if (p->sequential >= sequential_limit) {
      why = absl::StrCat("scan: ", p->sequential,
                         " near-sequential numbers under ",
                         DescribeScanPrefix(prefix), " within ",
                         absl::FormatDuration(options_.scan_window));
    }
    if (!why.empty()) p->Reset(now);
  } else {
    if (disclosed) return;
    if (s.scan_other_start == absl::InfinitePast() ||
        now - s.scan_other_start >= options_.scan_window) {
      s.scan_other.clear();
      s.scan_other_start = now;
    }
    if (std::find(s.scan_other.begin(), s.scan_other.end(), code) ==
        s.scan_other.end()) {
      s.scan_other.push_back(code);
    }
    if (s.scan_other.size() >= threshold) {
      why = absl::StrCat("scan: ", s.scan_other.size(),
                         " distinct non-number items missed within ",
                         absl::FormatDuration(options_.scan_window));
      s.scan_other.clear();
      s.scan_other_start = now;
    }
  }
  if (why.empty()) return;
  if (s.limits.DryRun(GuardRule::kScan)) {
    ++s.counters.dry_run[static_cast<int>(GuardRule::kScan)];
    *dry_run_log = std::move(why);
    return;
  }
  Offence(s, key, why, now, block_log);
}

void Guard::Report(const GuardKey& key, const Admission& admission,
                   bool disclosed, absl::Time now) {
  Shard* shard = nullptr;
  std::string dry_run_log, block_log;
  // Admit's state, without hashing or a lookup, while its shard has dropped
  // no identity since (and for this key: a caller's mix-up takes the
  // lookup below).
  if (admission.state != nullptr &&
      admission.shard < static_cast<uint32_t>(shard_count_)) {
    Shard& admitted = shards_[admission.shard];
    absl::MutexLock lock(&admitted.mu);
    if (admission.shard_generation == admitted.generation &&
        *admission.state->lru == key) {
      ReportLocked(*admission.state, key, admission, disclosed, now,
                   &dry_run_log, &block_log);
      shard = &admitted;
    }
  }
  if (shard == nullptr) {
    shard = &ShardFor(key);
    absl::MutexLock lock(&shard->mu);
    auto it = shard->states.find(key);
    if (it == shard->states.end()) return;  // Evicted meanwhile.
    ReportLocked(*it->second, key, admission, disclosed, now, &dry_run_log,
                 &block_log);
  }
  if (!dry_run_log.empty() || !block_log.empty()) {
    FlushLogs(*shard, key, dry_run_log, block_log, false, now);
  }
}

// Inlined into Report(): it runs once per answered request.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Guard::ReportLocked(
    State& s, const GuardKey& key, const Admission& admission, bool disclosed,
    absl::Time now, std::string* dry_run_log, std::string* block_log) {
  if (s.in_flight > 0) --s.in_flight;
  ++(disclosed ? s.counters.hits : s.counters.misses);
  if (!disclosed && admission.charged && admission.miss_cost > 1 &&
      s.limits.lookups_per_second != 0) {
    // The rest of a miss's cost: the same for a number that does not
    // exist and one the caller may not see.
    s.tokens -= admission.miss_cost - 1;
  }
  if (admission.reserved) {
    if (s.reserved > 0) --s.reserved;
    if (disclosed && s.disclosed.insert(admission.item).second) {
      s.order.emplace_back(
          std::max(now, s.order.empty() ? now : s.order.back().first),
          admission.item);
    }
  }
  if (admission.miss_reserved) {
    if (s.miss_reserved > 0) --s.miss_reserved;
    if (!disclosed) s.AddMiss(options_.disclosure_window, now);
  }
  if (s.limits.scan_threshold != 0) {
    Scan(s, key, admission.item, disclosed, now, dry_run_log, block_log);
  }
}

bool Guard::ChargeSigning(const GuardKey& key, const GuardLimits& limits,
                          uint32_t signatures, absl::Time now) {
  const size_t hash = absl::HashOf(key);
  Shard& shard = shards_[ShardIndex(hash)];
  std::string would_deny, block_log;
  bool table_full = false;
  bool ok = true;
  {
    absl::MutexLock lock(&shard.mu);
    State* found = FindOrInsert(shard, key, hash, now);
    if (found == nullptr) {
      table_full = true;
      ok = false;
    } else {
      State& s = *found;
      s.limits = limits;
      const double rate = limits.signatures_per_second;
      RefillBucket(s.signing_tokens, s.signing_refilled, rate,
                   limits.signing_burst, now);
      if (rate != 0 && s.signing_tokens < signatures) {
        const std::string message = absl::StrCat(
            "signing budget of ", key.Describe(), " spent (",
            limits.signatures_per_second, " signatures per second, burst ",
            std::max<uint32_t>(1, limits.signing_burst), "; ", signatures,
            " asked, ", static_cast<int64_t>(std::floor(s.signing_tokens)),
            " left)");
        if (!limits.DryRun(GuardRule::kSigning)) {
          Denied(s, key, GuardRule::kSigning, message, now, &block_log);
          ok = false;
        } else {
          // Would refuse: counted, not charged (no signature would be made).
          ++s.counters.dry_run[static_cast<int>(GuardRule::kSigning)];
          would_deny = message;
        }
      } else {
        if (rate != 0) s.signing_tokens -= signatures;
        s.counters.signatures += signatures;
      }
    }
  }
  if (!would_deny.empty() || !block_log.empty() || table_full) {
    FlushLogs(shard, key, would_deny, block_log, table_full, now);
  }
  return ok;
}

std::optional<GuardCounters> Guard::Counters(const GuardKey& key) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return std::nullopt;
  return it->second->counters;
}

GuardIdentityStatus Guard::StatusOf(const GuardKey& key, State& s,
                                    absl::Time now) const {
  s.Expire(options_.disclosure_window, now);
  s.ExpireMisses(options_.disclosure_window, now);
  GuardIdentityStatus status;
  status.key = key;
  status.counters = s.counters;
  status.limits = s.limits;
  status.tokens = s.limits.lookups_per_second == 0
                      ? 0
                      : Level(s.tokens, s.refilled, s.limits.lookups_per_second,
                              s.limits.burst, now);
  status.signing_tokens =
      s.limits.signatures_per_second == 0
          ? 0
          : Level(s.signing_tokens, s.signing_refilled,
                  s.limits.signatures_per_second, s.limits.signing_burst, now);
  status.disclosed_in_window = s.disclosed.size();
  status.misses_in_window = s.misses_total;
  status.reserved = s.reserved;
  status.leased_in_window = s.lease.granted;
  status.miss_leased_in_window = s.miss_lease.granted;
  status.offence_level = s.OffenceLevel(options_.offence_memory, now);
  status.blocked_until = s.blocked_until;
  status.first_seen = s.first_seen;
  status.last_seen = s.last_seen;
  status.last_denied = s.last_denied;
  status.last_denial = s.last_denial;
  return status;
}

std::optional<GuardIdentityStatus> Guard::Explain(const GuardKey& key,
                                                  absl::Time now) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return std::nullopt;
  return StatusOf(key, *it->second, now);
}

std::vector<GuardIdentityStatus> Guard::Snapshot(absl::Time now, size_t limit,
                                                 bool only_denied) const {
  std::vector<GuardIdentityStatus> out;
  for (int i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    for (auto& [key, state] : shards_[i].states) {
      if (only_denied && state->blocked_until <= now &&
          state->counters.denied_total() == 0) {
        continue;
      }
      out.push_back(StatusOf(key, *state, now));
    }
  }
  auto order = [now](const GuardIdentityStatus& a,
                     const GuardIdentityStatus& b) {
    if (a.blocked(now) != b.blocked(now)) return a.blocked(now);
    const uint64_t da = a.counters.denied_total();
    const uint64_t db = b.counters.denied_total();
    if (da != db) return da > db;
    // Stable for operators: the order of Describe() ("org " < "prefix "),
    // without building its strings.
    return std::tie(a.key.kind, a.key.id) < std::tie(b.key.kind, b.key.id);
  };
  if (out.size() > limit) {
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(limit),
                      out.end(), order);
    out.resize(limit);
  } else {
    std::sort(out.begin(), out.end(), order);
  }
  return out;
}

// Logged by its caller (the Unblock RPC), which knows the admin.
bool Guard::Unblock(const GuardKey& key, absl::Time now) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return false;
  State& s = *it->second;
  const bool lifted = s.blocked_until > now ||
                      s.OffenceLevel(options_.offence_memory, now) != 0;
  s.blocked_until = absl::InfinitePast();
  s.block_reason.clear();
  s.block_message.clear();
  s.offence_level = 0;
  s.last_offence = absl::InfinitePast();
  s.window_denials = 0;
  s.denial_window_start = absl::InfinitePast();
  // The scan windows start afresh too: the evidence was judged.
  s.scan.clear();
  s.scan_other.clear();
  return lifted;
}

size_t Guard::DisclosedInWindow(const GuardKey& key, absl::Time now) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return 0;
  it->second->Expire(options_.disclosure_window, now);
  return it->second->disclosed.size();
}

uint32_t Guard::LeaseChunk(uint32_t budget, uint32_t percent) {
  const uint64_t chunk =
      uint64_t{budget} * std::max<uint32_t>(1, percent) / 100;
  return static_cast<uint32_t>(std::clamp<uint64_t>(chunk, 1, 1000));
}

void Guard::SetShared(bool shared) {
  if (shared_.exchange(shared) == shared) return;
  // Requests queued in the other mode would never be answered.
  for (int i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    lease_requests_queued_.fetch_sub(shards_[i].lease_requests.size(),
                                     std::memory_order_relaxed);
    shards_[i].lease_requests.clear();
    for (auto& [key, state] : shards_[i].states) {
      state->lease.pending = false;
      state->miss_lease.pending = false;
    }
  }
}

bool Guard::shared() const { return shared_.load(std::memory_order_relaxed); }

size_t Guard::lease_requests_queued() const {
  return lease_requests_queued_.load(std::memory_order_relaxed);
}

std::vector<LeaseRequest> Guard::TakeLeaseRequests() {
  std::vector<LeaseRequest> out;
  // LedgerSync calls this every 10 ms; with nothing queued (no shared
  // budget, or all leased) it need not lock every shard. A request queued
  // just after this load waits for the next call, as one queued in a shard
  // just swept always did.
  if (lease_requests_queued_.load(std::memory_order_relaxed) == 0) return out;
  for (int i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    if (shards_[i].lease_requests.empty()) continue;
    lease_requests_queued_.fetch_sub(shards_[i].lease_requests.size(),
                                     std::memory_order_relaxed);
    if (out.empty()) {
      out.swap(shards_[i].lease_requests);
    } else {
      for (LeaseRequest& r : shards_[i].lease_requests) {
        out.push_back(std::move(r));
      }
      shards_[i].lease_requests.clear();
    }
  }
  return out;
}

void Guard::GrantDisclosures(const LeaseRequest& request, uint32_t granted,
                             absl::Time now) {
  Shard& shard = ShardFor(request.key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(request.key);
  if (it == shard.states.end()) return;  // Dropped meanwhile.
  State& s = *it->second;
  (request.rule == GuardRule::kMisses ? s.miss_lease : s.lease)
      .Grant(granted, request.want, now);
}

std::string LeaseRequest::StoreIdentity() const {
  return rule == GuardRule::kMisses ? absl::StrCat("misses ", key.Describe())
                                    : key.Describe();
}

size_t Guard::tracked() const {
  size_t n = 0;
  for (int i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    n += shards_[i].states.size();
  }
  return n;
}

uint64_t Guard::evicted_live() const {
  uint64_t n = 0;
  for (int i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    n += shards_[i].evicted_live;
  }
  return n;
}

}  // namespace lufd
