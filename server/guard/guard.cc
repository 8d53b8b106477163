#include "server/guard/guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <list>

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
#include "server/ops/log_limiter.h"
#include "spdlog/spdlog.h"

namespace lufd {

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
  for (int i = 0; i < static_cast<int>(address.size()); ++i) {
    const int keep = std::clamp(bits - 8 * i, 0, 8);
    const unsigned char mask =
        keep == 0 ? 0 : static_cast<unsigned char>(0xff << (8 - keep));
    masked[i] = static_cast<unsigned char>(address[i]) & mask;
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, masked, text, sizeof(text));
  return GuardKey{Kind::kSourcePrefix, absl::StrCat(text, "/", bits)};
}

std::string GuardKey::Describe() const {
  return absl::StrCat(kind == Kind::kOrg ? "org " : "prefix ", id);
}

namespace {

constexpr absl::string_view kRuleNames[kGuardRuleCount] = {
    "rate", "disclosure", "misses", "scan", "block", "signing"};

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

absl::string_view GuardRuleName(GuardRule rule) {
  const int i = static_cast<int>(rule);
  return i >= 0 && i < kGuardRuleCount ? kRuleNames[i] : "unknown";
}

std::optional<GuardRule> ParseGuardRule(absl::string_view name) {
  for (int i = 0; i < kGuardRuleCount; ++i) {
    if (kRuleNames[i] == name) return static_cast<GuardRule>(i);
  }
  return std::nullopt;
}

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
      absl::Duration d;
      if (absl::ParseDuration(step, &d)) options.block_ladder.push_back(d);
    }
  }
  absl::Duration d;
  if (!config.offence_memory().empty() &&
      absl::ParseDuration(config.offence_memory(), &d)) {
    options.offence_memory = d;
  }
  if (!config.scan_window().empty() &&
      absl::ParseDuration(config.scan_window(), &d)) {
    options.scan_window = d;
  }
  if (config.offence_denials() != 0) {
    options.offence_denials = config.offence_denials();
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
    uint64_t value = 0;
    bool digits = true;
    for (char c : item.substr(1)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        digits = false;
        break;
      }
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (digits) return (uint64_t{item.size() - 1} << 50) | value;
  }
  return absl::HashOf(item) | (uint64_t{1} << 63);
}

struct Guard::State {
  // Token bucket; `tokens` may be negative (a miss's debt).
  double tokens = 0;
  absl::Time refilled = absl::InfinitePast();
  // Disclosure window: the items and when each was first disclosed in it.
  absl::flat_hash_set<uint64_t> disclosed;
  std::deque<std::pair<absl::Time, uint64_t>> order;
  uint32_t reserved = 0;   // Disclosure slots held by requests in flight.
  uint32_t in_flight = 0;  // Admitted, not yet reported.
  uint32_t last_burst = 0;
  double last_rate = 0;
  absl::Time last_seen = absl::InfinitePast();
  GuardCounters counters;
  std::list<GuardKey>::iterator lru;  // Into Shard::lru.

  void Refill(const GuardLimits& limits, absl::Time now) {
    last_rate = limits.lookups_per_second;
    last_burst = limits.burst;
    if (limits.lookups_per_second == 0) return;
    const double burst = std::max<uint32_t>(1, limits.burst);
    if (refilled == absl::InfinitePast()) {
      tokens = burst;
    } else if (now > refilled) {
      tokens = std::min(burst, tokens + absl::ToDoubleSeconds(now - refilled) *
                                            limits.lookups_per_second);
    } else {
      tokens = std::min(tokens, burst);  // A lowered burst applies at once.
    }
    refilled = std::max(refilled, now);
  }
  void Expire(absl::Duration window, absl::Time now) {
    while (!order.empty() && order.front().first + window <= now) {
      disclosed.erase(order.front().second);
      order.pop_front();
    }
  }
  // Nothing here would change a later decision if dropped.
  bool AtRest(absl::Duration window, absl::Time now) {
    Expire(window, now);
    if (in_flight != 0 || !disclosed.empty()) return false;
    if (last_rate == 0 || refilled == absl::InfinitePast()) return true;
    return tokens + absl::ToDoubleSeconds(now - refilled) * last_rate >=
           std::max<uint32_t>(1, last_burst);
  }
};

struct Guard::Shard {
  mutable absl::Mutex mu;
  absl::flat_hash_map<GuardKey, std::unique_ptr<State>> states
      ABSL_GUARDED_BY(mu);
  std::list<GuardKey> lru ABSL_GUARDED_BY(mu);  // Front: most recent.
  uint64_t evicted_live ABSL_GUARDED_BY(mu) = 0;
  LogLimiter dry_run_log;  // Thread-safe itself.
};

Guard::Guard(GuardOptions options) : options_(options) {
  const size_t max = std::max<size_t>(1, options_.max_identities);
  shard_count_ = static_cast<int>(std::clamp<size_t>(
      static_cast<size_t>(std::max(1, options_.shards)), 1, max));
  per_shard_ = max / static_cast<size_t>(shard_count_);
  shards_ = std::make_unique<Shard[]>(static_cast<size_t>(shard_count_));
}

Guard::~Guard() = default;

Guard::Shard& Guard::ShardFor(const GuardKey& key) const {
  return shards_[absl::HashOf(key) % static_cast<size_t>(shard_count_)];
}

namespace {

std::string RetryText(absl::Duration d) {
  return absl::FormatDuration(absl::Ceil(d, absl::Milliseconds(1)));
}

}  // namespace

Guard::Admission Guard::Admit(const GuardKey& key, const GuardLimits& limits,
                              absl::string_view item, absl::Time now) {
  Admission admission;
  admission.item = ItemCode(item);
  Shard& shard = ShardFor(key);
  std::string would_deny;  // Dry run: the message, logged outside the lock.
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.states.find(key);
    if (it == shard.states.end()) {
      // Drop idle identities at rest from the cold end, then make room.
      while (!shard.lru.empty()) {
        State& cold = *shard.states[shard.lru.back()];
        if (now - cold.last_seen < options_.idle_timeout ||
            !cold.AtRest(options_.disclosure_window, now)) {
          break;
        }
        shard.states.erase(shard.lru.back());
        shard.lru.pop_back();
      }
      if (shard.states.size() >= per_shard_) {
        // Prefer one at rest among the few coldest; else the coldest.
        auto victim = std::prev(shard.lru.end());
        auto probe = victim;
        bool at_rest = false;
        for (int i = 0; i < 8; ++i) {
          if (shard.states[*probe]->AtRest(options_.disclosure_window, now)) {
            victim = probe;
            at_rest = true;
            break;
          }
          if (probe == shard.lru.begin()) break;
          --probe;
        }
        if (!at_rest) ++shard.evicted_live;
        shard.states.erase(*victim);
        shard.lru.erase(victim);
      }
      shard.lru.push_front(key);
      auto state = std::make_unique<State>();
      state->lru = shard.lru.begin();
      it = shard.states.emplace(key, std::move(state)).first;
    } else {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second->lru);
    }
    State& s = *it->second;
    s.last_seen = std::max(s.last_seen, now);
    s.Refill(limits, now);
    s.Expire(options_.disclosure_window, now);

    // Rate first: a request over the rate never reaches the budget.
    bool rate = false;
    if (limits.lookups_per_second != 0 && s.tokens < 1) {
      rate = true;
      admission.retry_after =
          absl::Seconds((1 - s.tokens) / limits.lookups_per_second);
      admission.status = absl::ResourceExhaustedError(
          absl::StrCat("lookup rate limit of ", key.Describe(), " exceeded (",
                       limits.lookups_per_second, " lookups per second, burst ",
                       std::max<uint32_t>(1, limits.burst),
                       ", a not-found costs ", limits.miss_cost,
                       "); retry after ", RetryText(admission.retry_after)));
    } else if (limits.distinct_numbers_per_day != 0 &&
               !s.disclosed.contains(admission.item) &&
               s.disclosed.size() + s.reserved >=
                   limits.distinct_numbers_per_day) {
      // When the oldest disclosure leaves the window (or, with only
      // reservations in the way, as soon as they settle).
      admission.retry_after =
          s.order.empty()
              ? absl::Milliseconds(1)
              : s.order.front().first + options_.disclosure_window - now;
      admission.status = absl::ResourceExhaustedError(absl::StrCat(
          "disclosure budget of ", key.Describe(), " spent (",
          limits.distinct_numbers_per_day,
          " distinct numbers answered per 24 h; numbers already answered "
          "stay free); retry after ",
          RetryText(admission.retry_after)));
    }
    if (!admission.status.ok()) {
      // The audit's reason: stable (no retry time), so one flooder's
      // refusals merge into one row.
      admission.status = WithDenialReason(
          admission.status,
          rate ? absl::StrCat("guard: lookup rate limit (",
                              limits.lookups_per_second, "/s, burst ",
                              std::max<uint32_t>(1, limits.burst), ")")
               : absl::StrCat("guard: disclosure budget (",
                              limits.distinct_numbers_per_day, " per 24 h)"));
      const GuardRule rule = rate ? GuardRule::kRate : GuardRule::kDisclosure;
      admission.rule = rule;
      if (!limits.DryRun(rule)) {
        ++s.counters.denied[static_cast<int>(rule)];
        return admission;
      }
      ++s.counters.dry_run[static_cast<int>(rule)];
      would_deny = std::string(admission.status.message());
      // Admitted, charged nothing: enforcement would not have answered it.
      admission.status = absl::OkStatus();
      admission.retry_after = absl::ZeroDuration();
    } else {
      if (limits.lookups_per_second != 0) s.tokens -= 1;
      admission.charged = true;
      admission.miss_cost = limits.miss_cost;
      if (limits.distinct_numbers_per_day != 0 &&
          !s.disclosed.contains(admission.item)) {
        ++s.reserved;
        admission.reserved = true;
      }
    }
    ++s.in_flight;
    ++s.counters.admitted;
  }
  if (!would_deny.empty()) {
    uint64_t suppressed = 0;
    if (shard.dry_run_log.Admit(key.id, now, &suppressed)) {
      spdlog::info(
          "guard dry run: would refuse {}: {}{}", key.Describe(), would_deny,
          suppressed == 0
              ? std::string()
              : absl::StrCat(" (suppressed ", suppressed, " similar lines)"));
    }
  }
  return admission;
}

void Guard::Report(const GuardKey& key, const Admission& admission,
                   bool disclosed, absl::Time now) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return;  // Evicted meanwhile.
  State& s = *it->second;
  if (s.in_flight > 0) --s.in_flight;
  ++(disclosed ? s.counters.hits : s.counters.misses);
  if (!admission.charged) return;
  if (!disclosed && s.last_rate != 0 && admission.miss_cost > 1) {
    // The rest of a miss's cost: the same for a number that does not exist
    // and one the caller may not see.
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
}

std::optional<GuardCounters> Guard::Counters(const GuardKey& key) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return std::nullopt;
  return it->second->counters;
}

size_t Guard::DisclosedInWindow(const GuardKey& key, absl::Time now) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(key);
  if (it == shard.states.end()) return 0;
  it->second->Expire(options_.disclosure_window, now);
  return it->second->disclosed.size();
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
