// Guard (server/guard/guard.h): token bucket with miss cost, disclosure
// budget over a sliding window with free repeats, miss budget, scan
// detector, escalating blocks, signing bucket, per-rule dry run, the
// identity bound, Explain/Snapshot/Unblock. Time is passed in: no sleeps.
#include "server/guard/guard.h"

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/denial.h"

namespace lufd {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

std::string Number(int i) { return absl::StrCat("+1202555", 1000 + i); }

// Admits and reports one lookup; returns the admission's status.
absl::Status Lookup(Guard& guard, const GuardKey& key,
                    const GuardLimits& limits, absl::string_view item,
                    bool found, absl::Time now) {
  Guard::Admission a = guard.Admit(key, limits, item, now);
  if (a.status.ok()) guard.Report(key, a, found, now);
  return a.status;
}

GuardLimits Rate(uint32_t rate, uint32_t burst, uint32_t miss_cost = 1) {
  GuardLimits l;
  l.lookups_per_second = rate;
  l.burst = burst;
  l.miss_cost = miss_cost;
  return l;
}

TEST(GuardTest, BucketAllowsBurstThenRefillsAtRate) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Rate(1, 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, "+12025551000", true, kT0).ok())
        << i;
  }
  Guard::Admission denied = guard.Admit(key, limits, "+12025551000", kT0);
  EXPECT_EQ(denied.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(denied.status.message(), HasSubstr("lookup rate limit"));
  EXPECT_THAT(denied.status.message(), HasSubstr("org iana-en:1"));
  EXPECT_EQ(denied.retry_after, absl::Seconds(1));
  // The audit's reason has no retry time, so a flood merges into one row.
  EXPECT_EQ(DenialReason(denied.status),
            "guard: lookup rate limit (1/s, burst 5)");
  // One token a second.
  EXPECT_FALSE(Lookup(guard, key, limits, "+12025551000", true,
                      kT0 + absl::Milliseconds(999))
                   .ok());
  EXPECT_TRUE(
      Lookup(guard, key, limits, "+12025551000", true, kT0 + absl::Seconds(1))
          .ok());
  EXPECT_FALSE(
      Lookup(guard, key, limits, "+12025551000", true, kT0 + absl::Seconds(1))
          .ok());
  // Never more than the burst, however long the pause.
  int admitted = 0;
  while (Lookup(guard, key, limits, "+12025551000", true, kT0 + absl::Hours(1))
             .ok()) {
    ++admitted;
  }
  EXPECT_EQ(admitted, 5);
  EXPECT_EQ(guard.Counters(key)->denied[static_cast<int>(GuardRule::kRate)],
            4u);
}

TEST(GuardTest, MissCostsMissCostTokensWhateverTheReason) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Rate(1, 10, /*miss_cost=*/5);
  // Two misses spend the 10 tokens; a third is refused.
  EXPECT_TRUE(Lookup(guard, key, limits, "+12025550001", false, kT0).ok());
  EXPECT_TRUE(Lookup(guard, key, limits, "+12025550002", false, kT0).ok());
  EXPECT_FALSE(Lookup(guard, key, limits, "+12025550003", false, kT0).ok());
  // The same budget in hits buys ten lookups.
  const GuardKey other = GuardKey::Org("iana-en:2");
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Lookup(guard, other, limits, Number(i), true, kT0).ok());
  }
  EXPECT_FALSE(Lookup(guard, other, limits, Number(10), true, kT0).ok());
  // A miss admitted with one token left overdraws: the debt (4) is paid
  // back before the next admission (5 s at 1/s).
  const GuardKey third = GuardKey::Org("iana-en:3");
  for (int i = 0; i < 9; ++i)
    Lookup(guard, third, limits, Number(i), true, kT0).IgnoreError();
  EXPECT_TRUE(Lookup(guard, third, limits, "+1", false, kT0).ok());
  Guard::Admission a = guard.Admit(third, limits, "+1", kT0 + absl::Seconds(4));
  EXPECT_FALSE(a.status.ok());
  EXPECT_EQ(a.retry_after, absl::Seconds(1));
  EXPECT_TRUE(
      Lookup(guard, third, limits, "+1", true, kT0 + absl::Seconds(5)).ok());
}

TEST(GuardTest, DisclosureBudgetCountsDistinctAnswersRepeatsAreFree) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits;  // No rate limit.
  limits.distinct_numbers_per_day = 10;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), true, kT0).ok());
  }
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 10u);
  // An 11th distinct number is refused, found or not (before resolution).
  Guard::Admission a = guard.Admit(key, limits, Number(10), kT0);
  EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status.message(), HasSubstr("disclosure budget"));
  EXPECT_EQ(a.retry_after, absl::Hours(24));
  EXPECT_FALSE(Lookup(guard, key, limits, "+999", false, kT0).ok());
  // Repeats stay free, all day long.
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(Lookup(guard, key, limits, Number(i), true,
                         kT0 + absl::Minutes(round))
                      .ok());
    }
  }
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0 + absl::Hours(1)), 10u);
  EXPECT_EQ(
      guard.Counters(key)->denied[static_cast<int>(GuardRule::kDisclosure)],
      2u);
}

TEST(GuardTest, MissesDoNotSpendTheDisclosureBudget) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits;
  limits.distinct_numbers_per_day = 3;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), false, kT0).ok());
  }
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 0u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, Number(100 + i), true, kT0).ok());
  }
  EXPECT_FALSE(Lookup(guard, key, limits, Number(103), true, kT0).ok());
}

TEST(GuardTest, DisclosureWindowSlides) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits;
  limits.distinct_numbers_per_day = 2;
  ASSERT_TRUE(Lookup(guard, key, limits, Number(0), true, kT0).ok());
  ASSERT_TRUE(
      Lookup(guard, key, limits, Number(1), true, kT0 + absl::Hours(12)).ok());
  Guard::Admission a =
      guard.Admit(key, limits, Number(2), kT0 + absl::Hours(13));
  EXPECT_FALSE(a.status.ok());
  EXPECT_EQ(a.retry_after, absl::Hours(11));  // When Number(0) leaves.
  // 24 h after the first disclosure it leaves the window: one slot frees,
  // not two (the second is 12 h younger).
  const absl::Time later = kT0 + absl::Hours(24);
  EXPECT_TRUE(Lookup(guard, key, limits, Number(2), true, later).ok());
  EXPECT_FALSE(Lookup(guard, key, limits, Number(3), true, later).ok());
  // Number(1) is still in the window: a free repeat.
  EXPECT_TRUE(Lookup(guard, key, limits, Number(1), true, later).ok());
  // Number(0) left the window: asking again is a new disclosure.
  EXPECT_FALSE(Lookup(guard, key, limits, Number(0), true, later).ok());
}

TEST(GuardTest, ConcurrentAdmissionsCannotOvershootTheBudget) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits;
  limits.distinct_numbers_per_day = 2;
  // Three admitted before any is reported: the third must wait.
  Guard::Admission a = guard.Admit(key, limits, Number(0), kT0);
  Guard::Admission b = guard.Admit(key, limits, Number(1), kT0);
  Guard::Admission c = guard.Admit(key, limits, Number(2), kT0);
  EXPECT_TRUE(a.status.ok());
  EXPECT_TRUE(b.status.ok());
  EXPECT_FALSE(c.status.ok());
  // A reservation that ends in a miss frees its slot.
  guard.Report(key, a, /*disclosed=*/false, kT0);
  guard.Report(key, b, /*disclosed=*/true, kT0);
  EXPECT_TRUE(Lookup(guard, key, limits, Number(2), true, kT0).ok());
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 2u);
}

TEST(GuardTest, DryRunCountsAndDeniesNothing) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits = Rate(1, 2);
  limits.distinct_numbers_per_day = 1;
  limits.dry_run_rules = kAllGuardRules;
  // Ten new numbers: the first is disclosed, the other nine are over the
  // budget (refused before any token is taken, as enforcement would).
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, Number(i), true, kT0).ok()) << i;
  }
  // Repeats of the first: one token left, then four over the rate.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, Number(0), true, kT0).ok()) << i;
  }
  const GuardCounters counters = *guard.Counters(key);
  EXPECT_EQ(counters.admitted, 15u);
  EXPECT_EQ(counters.denied_total(), 0u);
  EXPECT_EQ(counters.dry_run[static_cast<int>(GuardRule::kDisclosure)], 9u);
  EXPECT_EQ(counters.dry_run[static_cast<int>(GuardRule::kRate)], 4u);
  // Charged only what enforcement would have answered.
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 1u);
  limits.dry_run_rules = 0;
  EXPECT_FALSE(Lookup(guard, key, limits, Number(0), true, kT0).ok());
}

TEST(GuardTest, EffectiveLimitsQuotaOverClassDefault) {
  GuardLimits def = Rate(10000, 20000, 2);
  lufd::v1::Quota quota;
  EXPECT_EQ(EffectiveLimits(quota, def).lookups_per_second, 10000u);
  quota.set_lookups_per_second(1);
  GuardLimits l = EffectiveLimits(quota, def);
  EXPECT_EQ(l.lookups_per_second, 1u);
  EXPECT_EQ(l.burst, 1u);  // One second's worth, not the default's 20000.
  EXPECT_EQ(l.miss_cost, 2u);
  quota.set_burst(5);
  quota.set_miss_cost(3);
  quota.set_distinct_numbers_per_day(10);
  quota.set_dry_run(true);
  l = EffectiveLimits(quota, def);
  EXPECT_EQ(l.burst, 5u);
  EXPECT_EQ(l.miss_cost, 3u);
  EXPECT_EQ(l.distinct_numbers_per_day, 10u);
  EXPECT_EQ(l.dry_run_rules, kAllGuardRules);
}

TEST(GuardTest, IdentitiesAreBoundedAndIdleOnesDropped) {
  GuardOptions options;
  options.max_identities = 4;
  options.shards = 1;
  options.idle_timeout = absl::Minutes(10);
  Guard guard(options);
  const GuardLimits limits = Rate(1, 1);
  for (int i = 0; i < 100; ++i) {
    Lookup(guard, GuardKey::Org(absl::StrCat("org:", i)), limits, "+1", true,
           kT0)
        .IgnoreError();
  }
  EXPECT_EQ(guard.tracked(), 4u);
  // All were live (bucket empty): each eviction is counted.
  EXPECT_EQ(guard.evicted_live(), 96u);
  // Idle and at rest: dropped when the next identity arrives, no state lost.
  Lookup(guard, GuardKey::Org("late"), limits, "+1", true, kT0 + absl::Hours(1))
      .IgnoreError();
  EXPECT_EQ(guard.tracked(), 1u);
  EXPECT_EQ(guard.evicted_live(), 96u);
}

TEST(GuardTest, EvictionKeepsAnIdentityWithDisclosuresWhenAnotherIsAtRest) {
  GuardOptions options;
  options.max_identities = 2;
  options.shards = 1;
  Guard guard(options);
  GuardLimits budget;
  budget.distinct_numbers_per_day = 1;
  const GuardKey harvester = GuardKey::Org("harvester");
  ASSERT_TRUE(Lookup(guard, harvester, budget, Number(0), true, kT0).ok());
  // Another identity, then a third: the one at rest goes, not the
  // harvester whose disclosure would be forgotten.
  Lookup(guard, GuardKey::Org("quiet"), GuardLimits(), "+1", true, kT0)
      .IgnoreError();
  Lookup(guard, GuardKey::Org("third"), GuardLimits(), "+1", true, kT0)
      .IgnoreError();
  EXPECT_EQ(guard.evicted_live(), 0u);
  EXPECT_FALSE(Lookup(guard, harvester, budget, Number(1), true, kT0).ok());
}

TEST(GuardTest, ItemCodesAreExactForNumbers) {
  EXPECT_NE(Guard::ItemCode("+1"), Guard::ItemCode("+01"));
  EXPECT_NE(Guard::ItemCode("+999999999999999"),
            Guard::ItemCode("+99999999999999"));
  EXPECT_EQ(Guard::ItemCode("+12025551000"), Guard::ItemCode("+12025551000"));
  EXPECT_NE(Guard::ItemCode("sip:a@example.com"),
            Guard::ItemCode("sip:b@example.com"));
  EXPECT_EQ(Guard::ItemCode("sip:a@example.com") >> 63, 1u);
  EXPECT_EQ(Guard::ItemCode("+999999999999999") >> 63, 0u);
}

TEST(GuardTest, SourcePrefixKeys) {
  const std::string v4("\xc0\x00\x02\x81", 4);
  EXPECT_EQ(GuardKey::SourcePrefix(v4)->id, "192.0.2.0/24");
  std::string v6(16, '\0');
  v6[0] = '\x20';
  v6[1] = '\x01';
  v6[2] = '\x0d';
  v6[3] = '\xb8';
  v6[6] = '\x12';
  v6[7] = '\xff';
  v6[15] = '\x01';
  EXPECT_EQ(GuardKey::SourcePrefix(v6)->id, "2001:db8:0:1200::/56");
  EXPECT_FALSE(GuardKey::SourcePrefix("abc").ok());
  EXPECT_NE(GuardKey::SourcePrefix(v4)->Describe(),
            GuardKey::Org("192.0.2.0/24").Describe());
}

TEST(GuardTest, ThreadsShareOneBucket) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Rate(1, 1000);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (Lookup(guard, key, limits, "+1", true, kT0).ok()) ++admitted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1000);
}

constexpr int kR(GuardRule rule) { return static_cast<int>(rule); }

// ---- Per-rule dry run ----

TEST(GuardRulesTest, DryRunRateStillChargesTheEnforcedDisclosureBudget) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits = Rate(1, 1);
  limits.distinct_numbers_per_day = 2;
  limits.dry_run_rules = GuardRuleBit(GuardRule::kRate);
  EXPECT_TRUE(Lookup(guard, key, limits, Number(0), true, kT0).ok());
  // Over the rate (dry run): admitted, and the enforced budget is charged,
  // or a dry-run rate would open a hole in the disclosure budget.
  EXPECT_TRUE(Lookup(guard, key, limits, Number(1), true, kT0).ok());
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 2u);
  Guard::Admission a = guard.Admit(key, limits, Number(2), kT0);
  EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status.message(), HasSubstr("disclosure budget"));
  const GuardCounters c = *guard.Counters(key);
  EXPECT_EQ(c.dry_run[kR(GuardRule::kRate)], 2u);
  EXPECT_EQ(c.denied[kR(GuardRule::kRate)], 0u);
  EXPECT_EQ(c.denied[kR(GuardRule::kDisclosure)], 1u);
  EXPECT_EQ(c.denied_total(), 1u);
}

TEST(GuardRulesTest, DryRunDisclosureStillChargesTheEnforcedRate) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits = Rate(1, 3);
  limits.distinct_numbers_per_day = 1;
  limits.dry_run_rules = GuardRuleBit(GuardRule::kDisclosure);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, Number(i), true, kT0).ok()) << i;
  }
  // The over-budget lookups were admitted but took their tokens.
  Guard::Admission a = guard.Admit(key, limits, Number(0), kT0);
  EXPECT_THAT(a.status.message(), HasSubstr("lookup rate limit"));
  const GuardCounters c = *guard.Counters(key);
  EXPECT_EQ(c.dry_run[kR(GuardRule::kDisclosure)], 2u);
  EXPECT_EQ(c.denied[kR(GuardRule::kRate)], 1u);
  // Not charged to the dry-run rule: only the first was disclosed.
  EXPECT_EQ(guard.DisclosedInWindow(key, kT0), 1u);
}

// ---- Miss budget ----

GuardLimits Misses(uint32_t per_day) {
  GuardLimits l;
  l.misses_per_day = per_day;
  return l;
}

TEST(GuardRulesTest, MissBudgetRefusesOnceSpentHitsAreFree) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Misses(3);
  const absl::Time t = kT0 + absl::Minutes(30);  // kT0 starts a 1 h slot.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), true, t).ok());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), false, t).ok());
  }
  // Spent: refused before resolution, whether it would be a hit or not.
  Guard::Admission a =
      guard.Admit(key, limits, Number(0), kT0 + absl::Hours(1));
  EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status.message(), HasSubstr("miss budget"));
  EXPECT_EQ(DenialReason(a.status), "guard: miss budget (3 per 24 h)");
  // 1 h slots: the misses of slot [kT0, kT0+1h) leave at kT0 + 25 h.
  EXPECT_EQ(a.retry_after, absl::Hours(24));
  EXPECT_FALSE(Lookup(guard, key, limits, Number(0), true,
                      kT0 + absl::Hours(25) - absl::Seconds(1))
                   .ok());
  EXPECT_EQ(guard.Explain(key, kT0 + absl::Hours(2))->misses_in_window, 3u);
  EXPECT_TRUE(
      Lookup(guard, key, limits, Number(0), false, kT0 + absl::Hours(25)).ok());
  EXPECT_EQ(guard.Explain(key, kT0 + absl::Hours(25))->misses_in_window, 1u);
  EXPECT_EQ(guard.Counters(key)->denied[kR(GuardRule::kMisses)], 2u);
}

TEST(GuardRulesTest, MissBudgetSlidesSlotBySlot) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Misses(2);
  ASSERT_TRUE(Lookup(guard, key, limits, "+1", false, kT0).ok());
  ASSERT_TRUE(
      Lookup(guard, key, limits, "+2", false, kT0 + absl::Hours(10)).ok());
  EXPECT_FALSE(
      Lookup(guard, key, limits, "+3", true, kT0 + absl::Hours(11)).ok());
  // The first leaves (its slot + 25 h), the second not yet.
  EXPECT_TRUE(
      Lookup(guard, key, limits, "+3", false, kT0 + absl::Hours(25)).ok());
  EXPECT_FALSE(
      Lookup(guard, key, limits, "+4", true, kT0 + absl::Hours(25)).ok());
  // A long silence forgets everything.
  EXPECT_TRUE(
      Lookup(guard, key, limits, "+4", false, kT0 + absl::Hours(100)).ok());
  EXPECT_EQ(guard.Explain(key, kT0 + absl::Hours(100))->misses_in_window, 1u);
}

TEST(GuardRulesTest, MissBudgetCountsRequestsInFlightAsPossibleMisses) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Misses(2);
  Guard::Admission a = guard.Admit(key, limits, "+1", kT0);
  Guard::Admission b = guard.Admit(key, limits, "+2", kT0);
  Guard::Admission c = guard.Admit(key, limits, "+3", kT0);
  EXPECT_TRUE(a.status.ok());
  EXPECT_TRUE(b.status.ok());
  EXPECT_FALSE(c.status.ok());
  // Answered with SED: the reservation goes, nothing is counted.
  guard.Report(key, a, /*disclosed=*/true, kT0);
  guard.Report(key, b, /*disclosed=*/false, kT0);
  EXPECT_TRUE(Lookup(guard, key, limits, "+3", false, kT0).ok());
  EXPECT_FALSE(Lookup(guard, key, limits, "+4", true, kT0).ok());
}

TEST(GuardRulesTest, ThreadsCannotOvershootTheMissBudget) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Misses(100);
  std::atomic<int> missed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (Lookup(guard, key, limits, Number(t * 1000 + i), false, kT0).ok()) {
          ++missed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(missed.load(), 100);
  EXPECT_EQ(guard.Explain(key, kT0)->misses_in_window, 100u);
}

TEST(GuardRulesTest, MissBudgetDryRunAdmitsAndChargesNothing) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits = Misses(1);
  limits.dry_run_rules = GuardRuleBit(GuardRule::kMisses);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Lookup(guard, key, limits, Number(i), false, kT0).ok());
  }
  const GuardIdentityStatus st = *guard.Explain(key, kT0);
  EXPECT_EQ(st.counters.dry_run[kR(GuardRule::kMisses)], 4u);
  EXPECT_EQ(st.counters.denied_total(), 0u);
  EXPECT_EQ(st.misses_in_window, 1u);
}

// ---- Scan detector ----

GuardOptions NoBlockDenials() {
  GuardOptions o;
  o.offence_denials = 1'000'000;
  return o;
}

GuardLimits Scan(uint32_t threshold) {
  GuardLimits l;
  l.scan_threshold = threshold;
  return l;
}

TEST(GuardScanTest, SequentialScanOfFoundNumbersIsAnOffence) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("harvester");
  const GuardLimits limits = Scan(50);
  absl::Time t = kT0;
  // 50 near-sequential numbers after the first: all hits, still a scan.
  for (int i = 0; i <= 50; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), true, t).ok()) << i;
    t += absl::Milliseconds(100);
  }
  EXPECT_EQ(guard.Counters(key)->offences, 1u);
  // Reported after the answer, so the NEXT admission is refused.
  Guard::Admission a = guard.Admit(key, limits, Number(51), t);
  EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.retry_after, absl::Minutes(1) - absl::Milliseconds(100));
  EXPECT_THAT(a.status.message(), HasSubstr("blocked until"));
  EXPECT_THAT(a.status.message(), HasSubstr("near-sequential"));
  EXPECT_THAT(a.status.message(), HasSubstr("+120255510xx"));
  EXPECT_EQ(DenialReason(a.status), "guard: blocked after repeated offences");
  EXPECT_EQ(guard.Counters(key)->denied[kR(GuardRule::kBlock)], 1u);
}

// A prefix holds 100 numbers and the first seen has no predecessor, so a
// sequential scan counts at most 99: a threshold of 100 or more (an org's
// Quota may hold it) is capped at 99 for that count, else it never fires.
TEST(GuardScanTest, SequentialThresholdOf100OrMoreStillFires) {
  for (uint32_t threshold : {99u, 100u, 1000u}) {
    Guard guard(NoBlockDenials());
    const GuardKey key = GuardKey::Org("harvester");
    const GuardLimits limits = Scan(threshold);
    // Every number of +120255510xx, in order, all found.
    for (int i = 0; i < 99; ++i) {
      ASSERT_TRUE(Lookup(guard, key, limits, Number(i), true, kT0).ok())
          << threshold << " " << i;
    }
    EXPECT_EQ(guard.Counters(key)->offences, 0u) << threshold;
    ASSERT_TRUE(Lookup(guard, key, limits, Number(99), true, kT0).ok());
    EXPECT_EQ(guard.Counters(key)->offences, 1u) << threshold;
    Guard::Admission a = guard.Admit(key, limits, Number(0), kT0);
    EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(a.status.message(), HasSubstr("99 near-sequential"));
  }
}

// Misses are not capped below 100: all 100 numbers of a prefix missed.
TEST(GuardScanTest, MissThresholdOf100FiresOnTheHundredthMiss) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("harvester");
  const GuardLimits limits = Scan(100);
  // 37 * k mod 100: never within 3 of the previous, so only misses count.
  for (int k = 0; k < 99; ++k) {
    ASSERT_TRUE(
        Lookup(guard, key, limits, Number(37 * k % 100), false, kT0).ok());
  }
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
  ASSERT_TRUE(
      Lookup(guard, key, limits, Number(37 * 99 % 100), false, kT0).ok());
  EXPECT_EQ(guard.Counters(key)->offences, 1u);
}

TEST(GuardScanTest, SequentialScanWithMissesTriggersBeforeTheThreshold) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("harvester");
  const GuardLimits limits = Scan(20);
  // Every other number exists: both counters grow; 20 near-sequential
  // numbers come first (at the 21st lookup).
  int i = 0;
  for (; i < 100 && guard.Counters(key).value_or(GuardCounters()).offences == 0;
       ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), i % 2 == 0, kT0).ok());
  }
  EXPECT_EQ(i, 21);
  EXPECT_FALSE(guard.Admit(key, limits, Number(i), kT0).status.ok());
}

TEST(GuardScanTest, RandomMissesUnderOnePrefixAreAnOffence) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("harvester");
  const GuardLimits limits = Scan(50);
  // 37 * k mod 100: never within 3 of the previous, so only the misses count.
  for (int k = 0; k < 49; ++k) {
    ASSERT_TRUE(
        Lookup(guard, key, limits, Number(37 * k % 100), false, kT0).ok());
  }
  // Repeating a miss counts once.
  ASSERT_TRUE(Lookup(guard, key, limits, Number(0), false, kT0).ok());
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
  ASSERT_TRUE(
      Lookup(guard, key, limits, Number(37 * 49 % 100), false, kT0).ok());
  EXPECT_EQ(guard.Counters(key)->offences, 1u);
  const GuardIdentityStatus st = *guard.Explain(key, kT0);
  EXPECT_TRUE(st.blocked(kT0));
  EXPECT_EQ(st.offence_level, 1u);
}

TEST(GuardScanTest, MissesSpreadOverTheWindowAreForgotten) {
  GuardOptions o = NoBlockDenials();
  o.scan_window = absl::Seconds(60);
  Guard guard(o);
  const GuardKey key = GuardKey::Org("slow");
  const GuardLimits limits = Scan(10);
  // 9 misses a minute under one prefix, for an hour: never 10 in a window.
  for (int m = 0; m < 60; ++m) {
    for (int k = 0; k < 9; ++k) {
      ASSERT_TRUE(Lookup(guard, key, limits, Number(37 * (m * 9 + k) % 100),
                         false, kT0 + absl::Minutes(m))
                      .ok());
    }
  }
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
}

TEST(GuardScanTest, LocationServerLookingUpItsOwnRoutesIsNoScan) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("location-server");
  const GuardLimits limits = Scan(50);
  // 100 routes: 50 scattered over many prefixes and a block of 50
  // consecutive numbers (+12025559900..49), looked up in random order,
  // with repeats, 20 a second for an hour. All hits.
  std::vector<std::string> routes;
  for (int i = 0; i < 50; ++i) {
    routes.push_back(
        absl::StrCat("+1", int64_t{2000000000} + int64_t{7919} * 1013 * i));
  }
  for (int i = 0; i < 50; ++i)
    routes.push_back(absl::StrCat("+120255599", 10 + i));
  std::mt19937 rng(9);
  std::uniform_int_distribution<size_t> pick(0, routes.size() - 1);
  absl::Time t = kT0;
  for (int n = 0; n < 72'000; ++n) {
    ASSERT_TRUE(Lookup(guard, key, limits, routes[pick(rng)], true, t).ok())
        << n;
    t += absl::Milliseconds(50);
  }
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
  EXPECT_EQ(guard.Counters(key)->dry_run[kR(GuardRule::kScan)], 0u);
}

TEST(GuardScanTest, ManyPrefixesAreCountedApartAndBounded) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("spread");
  const GuardLimits limits = Scan(10);
  // 9 scattered misses under each of 200 prefixes: no prefix reaches 10.
  for (int p = 0; p < 200; ++p) {
    for (int k = 0; k < 9; ++k) {
      ASSERT_TRUE(Lookup(guard, key, limits,
                         absl::StrCat("+1303", 1000 + p,
                                      absl::Dec(37 * k % 100, absl::kZeroPad2)),
                         false, kT0)
                      .ok());
    }
  }
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
}

TEST(GuardScanTest, NonNumberItemsShareOneBucket) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("uri-prober");
  const GuardLimits limits = Scan(5);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits,
                       absl::StrCat("sip:user", i, "@example.com"), false, kT0)
                    .ok());
  }
  // Hits and repeats do not count.
  ASSERT_TRUE(
      Lookup(guard, key, limits, "sip:user0@example.com", false, kT0).ok());
  ASSERT_TRUE(
      Lookup(guard, key, limits, "sip:found@example.com", true, kT0).ok());
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
  ASSERT_TRUE(
      Lookup(guard, key, limits, "sip:user4@example.com", false, kT0).ok());
  EXPECT_EQ(guard.Counters(key)->offences, 1u);
}

TEST(GuardScanTest, DryRunScanCountsButNeverBlocks) {
  Guard guard(NoBlockDenials());
  const GuardKey key = GuardKey::Org("harvester");
  GuardLimits limits = Scan(10);
  limits.dry_run_rules = GuardRuleBit(GuardRule::kScan);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(Lookup(guard, key, limits, Number(i), false, kT0).ok()) << i;
  }
  const GuardCounters c = *guard.Counters(key);
  EXPECT_EQ(c.offences, 0u);
  EXPECT_EQ(c.blocks, 0u);
  // 100 sequential misses: 10 + 10 per detection, the counters reset each
  // time (one prefix of 100 numbers).
  EXPECT_GE(c.dry_run[kR(GuardRule::kScan)], 9u);
}

// ---- Offences and blocks ----

GuardOptions Ladder(uint32_t offence_denials) {
  GuardOptions o;
  o.offence_denials = offence_denials;
  o.block_ladder = {absl::Minutes(1), absl::Minutes(10), absl::Hours(1)};
  o.offence_memory = absl::Hours(24);
  o.scan_window = absl::Seconds(60);
  return o;
}

// Floods at `t` until refused `n` times by the rate (not counting kBlock).
void Flood(Guard& guard, const GuardKey& key, const GuardLimits& limits, int n,
           absl::Time t) {
  int refused = 0;
  for (int i = 0; i < 100000 && refused < n; ++i) {
    Guard::Admission a = guard.Admit(key, limits, "+1", t);
    if (a.status.ok()) {
      guard.Report(key, a, true, t);
    } else {
      ++refused;
    }
  }
}

TEST(GuardBlockTest, RepeatedRefusalsBlockForEscalatingPeriods) {
  Guard guard(Ladder(5));
  const GuardKey key = GuardKey::Org("flooder");
  const GuardLimits limits = Rate(1, 1);
  Flood(guard, key, limits, 5, kT0);
  GuardIdentityStatus st = *guard.Explain(key, kT0);
  EXPECT_EQ(st.counters.offences, 1u);
  EXPECT_EQ(st.counters.blocks, 1u);
  EXPECT_EQ(st.blocked_until, kT0 + absl::Minutes(1));
  EXPECT_EQ(st.offence_level, 1u);
  // While blocked: refused by kBlock, which does not count as an offence.
  for (int i = 0; i < 20; ++i) {
    Guard::Admission a =
        guard.Admit(key, limits, "+1", kT0 + absl::Seconds(30));
    EXPECT_EQ(a.retry_after, absl::Seconds(30));
    EXPECT_THAT(a.status.message(), HasSubstr("offence 1: 5 refusals"));
  }
  st = *guard.Explain(key, kT0 + absl::Seconds(30));
  EXPECT_EQ(st.counters.denied[kR(GuardRule::kBlock)], 20u);
  EXPECT_EQ(st.counters.offences, 1u);
  EXPECT_THAT(st.last_denial, HasSubstr("blocked until"));
  EXPECT_EQ(st.last_denied, kT0 + absl::Seconds(30));
  // Second offence: 10 min; third: 1 h; fourth: the last step again.
  absl::Time t = kT0 + absl::Minutes(2);
  Flood(guard, key, limits, 5, t);
  EXPECT_EQ(guard.Explain(key, t)->blocked_until, t + absl::Minutes(10));
  t += absl::Minutes(11);
  Flood(guard, key, limits, 5, t);
  EXPECT_EQ(guard.Explain(key, t)->blocked_until, t + absl::Hours(1));
  t += absl::Hours(2);
  Flood(guard, key, limits, 5, t);
  EXPECT_EQ(guard.Explain(key, t)->blocked_until, t + absl::Hours(1));
  EXPECT_EQ(guard.Explain(key, t)->offence_level, 4u);
  // More than offence_memory after the last offence: back to the first step.
  t += absl::Hours(26);
  EXPECT_EQ(guard.Explain(key, t)->offence_level, 0u);
  Flood(guard, key, limits, 5, t);
  EXPECT_EQ(guard.Explain(key, t)->blocked_until, t + absl::Minutes(1));
  EXPECT_EQ(guard.Counters(key)->blocks, 5u);
}

TEST(GuardBlockTest, RefusalsSpreadOverWindowsAreNoOffence) {
  Guard guard(Ladder(5));
  const GuardKey key = GuardKey::Org("impatient");
  const GuardLimits limits = Rate(1, 1);
  // 4 refusals per scan window, for an hour.
  for (int m = 0; m < 60; ++m) {
    Flood(guard, key, limits, 4, kT0 + absl::Minutes(m));
  }
  EXPECT_EQ(guard.Counters(key)->offences, 0u);
  EXPECT_EQ(guard.Counters(key)->denied[kR(GuardRule::kRate)], 240u);
}

TEST(GuardBlockTest, EmptyLadderNeverBlocks) {
  GuardOptions o = Ladder(5);
  o.block_ladder.clear();
  Guard guard(o);
  const GuardKey key = GuardKey::Org("flooder");
  Flood(guard, key, Rate(1, 1), 50, kT0);
  EXPECT_EQ(guard.Counters(key)->offences, 10u);
  EXPECT_EQ(guard.Counters(key)->blocks, 0u);
  EXPECT_FALSE(guard.Explain(key, kT0)->blocked(kT0));
}

TEST(GuardBlockTest, DryRunBlockIsCountedNotEnforced) {
  Guard guard(Ladder(5));
  const GuardKey key = GuardKey::Org("flooder");
  GuardLimits limits = Rate(1, 1);
  limits.dry_run_rules = GuardRuleBit(GuardRule::kBlock);
  Flood(guard, key, limits, 5, kT0);
  EXPECT_EQ(guard.Counters(key)->blocks, 1u);
  // Blocked on paper; the rate still decides.
  const absl::Time t = kT0 + absl::Seconds(10);
  EXPECT_TRUE(Lookup(guard, key, limits, "+1", true, t).ok());
  EXPECT_EQ(guard.Counters(key)->dry_run[kR(GuardRule::kBlock)], 1u);
  EXPECT_EQ(guard.Counters(key)->denied[kR(GuardRule::kBlock)], 0u);
  Guard::Admission a = guard.Admit(key, limits, "+1", t);
  EXPECT_THAT(a.status.message(), HasSubstr("lookup rate limit"));
}

TEST(GuardBlockTest, UnblockLiftsTheBlockAndForgetsOffences) {
  Guard guard(Ladder(5));
  const GuardKey key = GuardKey::Org("flooder");
  const GuardLimits limits = Rate(1, 1);
  EXPECT_FALSE(guard.Unblock(key, kT0));  // Not tracked.
  Flood(guard, key, limits, 5, kT0);
  Flood(guard, key, limits, 5, kT0 + absl::Minutes(2));  // Level 2.
  const absl::Time t = kT0 + absl::Minutes(3);
  EXPECT_FALSE(Lookup(guard, key, limits, "+1", true, t).ok());
  EXPECT_TRUE(guard.Unblock(key, t));
  EXPECT_TRUE(Lookup(guard, key, limits, "+1", true, t).ok());
  EXPECT_FALSE(guard.Unblock(key, t));  // Nothing left to lift.
  // The next offence starts the ladder again.
  Flood(guard, key, limits, 5, t);
  EXPECT_EQ(guard.Explain(key, t)->blocked_until, t + absl::Minutes(1));
}

TEST(GuardBlockTest, BlockedIdentitiesAreNotEvictedByChurn) {
  GuardOptions o = Ladder(5);
  o.max_identities = 4;
  o.shards = 1;
  Guard guard(o);
  const GuardKey flooder = GuardKey::Org("flooder");
  const GuardLimits limits = Rate(1, 1);
  Flood(guard, flooder, limits, 5, kT0);
  // A thousand fresh identities (live ones: their buckets are empty).
  for (int i = 0; i < 1000; ++i) {
    Lookup(guard, GuardKey::Org(absl::StrCat("churn:", i)), limits, "+1", true,
           kT0 + absl::Seconds(1))
        .IgnoreError();
  }
  EXPECT_EQ(guard.tracked(), 4u);
  const absl::Time t = kT0 + absl::Seconds(2);
  ASSERT_TRUE(guard.Explain(flooder, t).has_value());
  EXPECT_TRUE(guard.Explain(flooder, t)->blocked(t));
  EXPECT_FALSE(guard.Admit(flooder, limits, "+1", t).status.ok());
}

TEST(GuardBlockTest, ChurnDoesNotResetAnOffendersLadder) {
  GuardOptions o = Ladder(5);
  o.max_identities = 4;
  o.shards = 1;
  Guard guard(o);
  const GuardKey flooder = GuardKey::Org("flooder");
  const GuardLimits limits = Rate(1, 1);
  Flood(guard, flooder, limits, 5, kT0);  // Offence 1: blocked 1 min.
  // After the block, while it is the coldest identity, others churn.
  const absl::Time t = kT0 + absl::Minutes(2);
  for (int i = 0; i < 1000; ++i) {
    Lookup(guard, GuardKey::Org(absl::StrCat("churn:", i)), limits, "+1", true,
           t)
        .IgnoreError();
  }
  ASSERT_TRUE(guard.Explain(flooder, t).has_value());
  EXPECT_EQ(guard.Explain(flooder, t)->offence_level, 1u);
  // So its next offence is the second step, not the first again.
  Flood(guard, flooder, limits, 5, t);
  EXPECT_EQ(guard.Explain(flooder, t)->blocked_until, t + absl::Minutes(10));
}

TEST(GuardBlockTest, TableFullOfBlockedIdentitiesRefusesNewOnes) {
  GuardOptions o = Ladder(5);
  o.max_identities = 2;
  o.shards = 1;
  Guard guard(o);
  const GuardLimits limits = Rate(1, 1);
  Flood(guard, GuardKey::Org("a"), limits, 5, kT0);
  Flood(guard, GuardKey::Org("b"), limits, 5, kT0);
  Guard::Admission a =
      guard.Admit(GuardKey::Org("new"), limits, "+1", kT0 + absl::Seconds(1));
  EXPECT_EQ(a.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a.status.message(), HasSubstr("full of blocked identities"));
  EXPECT_FALSE(guard.Explain(GuardKey::Org("new"), kT0).has_value());
  EXPECT_FALSE(guard.ChargeSigning(GuardKey::Org("new"), limits, 1, kT0));
  // Once a block ends, the newcomer takes that place.
  const absl::Time later = kT0 + absl::Minutes(2);
  EXPECT_TRUE(
      Lookup(guard, GuardKey::Org("new"), limits, "+1", true, later).ok());
  EXPECT_EQ(guard.tracked(), 2u);
}

// ---- Signing bucket ----

GuardLimits Signing(uint32_t rate, uint32_t burst) {
  GuardLimits l;
  l.signatures_per_second = rate;
  l.signing_burst = burst;
  return l;
}

TEST(GuardSigningTest, ChargesWholeRequestsOnly) {
  Guard guard;
  const GuardKey key = GuardKey::Org("resolver");
  const GuardLimits limits = Signing(10, 10);
  EXPECT_TRUE(guard.ChargeSigning(key, limits, 4, kT0));
  EXPECT_TRUE(guard.ChargeSigning(key, limits, 4, kT0));
  EXPECT_FALSE(guard.ChargeSigning(key, limits, 4, kT0));  // 2 left.
  EXPECT_TRUE(guard.ChargeSigning(key, limits, 2, kT0));   // Not taken.
  EXPECT_FALSE(guard.ChargeSigning(key, limits, 1, kT0));
  EXPECT_TRUE(
      guard.ChargeSigning(key, limits, 1, kT0 + absl::Milliseconds(100)));
  EXPECT_FALSE(guard.ChargeSigning(key, limits, 11, kT0 + absl::Hours(1)));
  const GuardIdentityStatus st = *guard.Explain(key, kT0 + absl::Hours(1));
  EXPECT_EQ(st.counters.signatures, 11u);
  EXPECT_EQ(st.counters.denied[kR(GuardRule::kSigning)], 3u);
  EXPECT_DOUBLE_EQ(st.signing_tokens, 10);
  EXPECT_THAT(st.last_denial, HasSubstr("signing budget"));
  // No limit: always charged and counted.
  const GuardKey free_key = GuardKey::Org("free");
  EXPECT_TRUE(guard.ChargeSigning(free_key, GuardLimits(), 1000, kT0));
  EXPECT_EQ(guard.Counters(free_key)->signatures, 1000u);
}

TEST(GuardSigningTest, DryRunCountsAndSigns) {
  Guard guard;
  const GuardKey key = GuardKey::Org("resolver");
  GuardLimits limits = Signing(1, 1);
  limits.dry_run_rules = GuardRuleBit(GuardRule::kSigning);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(guard.ChargeSigning(key, limits, 1, kT0));
  }
  const GuardCounters c = *guard.Counters(key);
  EXPECT_EQ(c.dry_run[kR(GuardRule::kSigning)], 4u);
  EXPECT_EQ(c.denied_total(), 0u);
  EXPECT_EQ(c.signatures, 1u);  // What enforcement would have signed.
}

TEST(GuardSigningTest, RefusalsCountTowardOffences) {
  Guard guard(Ladder(3));
  const GuardKey key = GuardKey::Org("resolver");
  const GuardLimits limits = Signing(1, 1);
  EXPECT_TRUE(guard.ChargeSigning(key, limits, 1, kT0));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(guard.ChargeSigning(key, limits, 1, kT0));
  }
  EXPECT_EQ(guard.Counters(key)->offences, 1u);
  EXPECT_FALSE(guard.Admit(key, limits, "+1", kT0).status.ok());
}

// ---- Explain, Snapshot, keys ----

TEST(GuardExplainTest, FillsEveryField) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits = Rate(2, 10, 3);
  limits.distinct_numbers_per_day = 5;
  limits.misses_per_day = 100;
  limits.signatures_per_second = 4;
  limits.signing_burst = 8;
  EXPECT_FALSE(guard.Explain(key, kT0).has_value());
  ASSERT_TRUE(Lookup(guard, key, limits, Number(0), true, kT0).ok());
  ASSERT_TRUE(Lookup(guard, key, limits, Number(1), false, kT0).ok());
  Guard::Admission held = guard.Admit(key, limits, Number(2), kT0);
  ASSERT_TRUE(held.status.ok());
  ASSERT_TRUE(guard.ChargeSigning(key, limits, 3, kT0));
  const absl::Time t = kT0 + absl::Seconds(1);
  const GuardIdentityStatus st = *guard.Explain(key, t);
  EXPECT_EQ(st.key, key);
  EXPECT_EQ(st.limits.lookups_per_second, 2u);
  EXPECT_EQ(st.limits.misses_per_day, 100u);
  EXPECT_EQ(st.counters.admitted, 3u);
  EXPECT_EQ(st.counters.hits, 1u);
  EXPECT_EQ(st.counters.misses, 1u);
  EXPECT_EQ(st.counters.signatures, 3u);
  // 10 - 3 admissions - 2 (the miss's extra cost) + 2 refilled.
  EXPECT_DOUBLE_EQ(st.tokens, 7);
  EXPECT_DOUBLE_EQ(st.signing_tokens, 8);  // 5 + 4 refilled, at most 8.
  EXPECT_EQ(st.disclosed_in_window, 1u);
  EXPECT_EQ(st.misses_in_window, 1u);
  EXPECT_EQ(st.reserved, 1u);
  EXPECT_EQ(st.offence_level, 0u);
  EXPECT_FALSE(st.blocked(t));
  EXPECT_EQ(st.first_seen, kT0);
  EXPECT_EQ(st.last_seen, kT0);
  EXPECT_EQ(st.last_denied, absl::InfinitePast());
  EXPECT_EQ(st.last_denial, "");
  guard.Report(key, held, true, kT0);
}

TEST(GuardExplainTest, SnapshotPutsBlockedFirstThenByDenials) {
  Guard guard(Ladder(5));
  const GuardLimits limits = Rate(1, 1);
  Lookup(guard, GuardKey::Org("quiet"), limits, "+1", true, kT0).IgnoreError();
  Flood(guard, GuardKey::Org("some"), limits, 2, kT0);
  Flood(guard, GuardKey::Org("more"), limits, 4, kT0);
  Flood(guard, GuardKey::Org("blocked"), limits, 5, kT0);
  std::vector<GuardIdentityStatus> all = guard.Snapshot(kT0, 10, false);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].key.id, "blocked");
  EXPECT_EQ(all[1].key.id, "more");
  EXPECT_EQ(all[2].key.id, "some");
  EXPECT_EQ(all[3].key.id, "quiet");
  std::vector<GuardIdentityStatus> denied = guard.Snapshot(kT0, 10, true);
  EXPECT_EQ(denied.size(), 3u);
  std::vector<GuardIdentityStatus> top = guard.Snapshot(kT0, 2, false);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key.id, "blocked");
  EXPECT_EQ(top[1].key.id, "more");
}

TEST(GuardExplainTest, DenialReasonsAreStablePerRule) {
  Guard guard(Ladder(1'000'000));
  const GuardKey key = GuardKey::Org("iana-en:1");
  GuardLimits limits;
  limits.misses_per_day = 1;
  ASSERT_TRUE(Lookup(guard, key, limits, "+1", false, kT0).ok());
  Guard::Admission a = guard.Admit(key, limits, "+2", kT0);
  Guard::Admission b = guard.Admit(key, limits, "+3", kT0 + absl::Hours(3));
  EXPECT_NE(a.status.message(), b.status.message());  // Retry times differ.
  EXPECT_EQ(DenialReason(a.status), DenialReason(b.status));
  limits = Rate(1, 1);
  limits.distinct_numbers_per_day = 1;
  const GuardKey other = GuardKey::Org("iana-en:2");
  ASSERT_TRUE(Lookup(guard, other, limits, Number(0), true, kT0).ok());
  Guard::Admission c =
      guard.Admit(other, limits, Number(1), kT0 + absl::Hours(1));
  Guard::Admission d =
      guard.Admit(other, limits, Number(2), kT0 + absl::Hours(2));
  EXPECT_EQ(DenialReason(c.status), "guard: disclosure budget (1 per 24 h)");
  EXPECT_EQ(DenialReason(c.status), DenialReason(d.status));
}

TEST(GuardKeyTest, ParseIsTheInverseOfDescribe) {
  for (const GuardKey& key :
       {GuardKey::Org("iana-en:111"),
        *GuardKey::SourcePrefix(std::string("\xc0\x00\x02\x81", 4)),
        GuardKey{GuardKey::Kind::kSourcePrefix, "2001:db8::/56"}}) {
    absl::StatusOr<GuardKey> parsed = GuardKey::Parse(key.Describe());
    ASSERT_TRUE(parsed.ok()) << key.Describe() << ": " << parsed.status();
    EXPECT_EQ(*parsed, key);
  }
  // Bare forms; prefixes are normalized to their masked form.
  EXPECT_EQ(GuardKey::Parse("192.0.2.77/24")->id, "192.0.2.0/24");
  EXPECT_EQ(GuardKey::Parse("192.0.2.77/24")->kind,
            GuardKey::Kind::kSourcePrefix);
  EXPECT_EQ(GuardKey::Parse("2001:db8:0:12ff::1/56")->id,
            "2001:db8:0:1200::/56");
  EXPECT_EQ(*GuardKey::Parse("  iana-en:7 "), GuardKey::Org("iana-en:7"));
  // "org x/y" is an org, whatever it looks like.
  EXPECT_EQ(GuardKey::Parse("org a/b")->kind, GuardKey::Kind::kOrg);
  EXPECT_FALSE(GuardKey::Parse("").ok());
  EXPECT_FALSE(GuardKey::Parse("   ").ok());
  EXPECT_FALSE(GuardKey::Parse("org a\tb").ok());
  EXPECT_FALSE(GuardKey::Parse("prefix 192.0.2.0").ok());
  EXPECT_FALSE(GuardKey::Parse("prefix nonsense/24").ok());
  EXPECT_FALSE(GuardKey::Parse("192.0.2.0/33").ok());
  EXPECT_FALSE(GuardKey::Parse("192.0.2.0/x").ok());
  EXPECT_FALSE(GuardKey::Parse("two words").ok());
}

// The config's duration grammar, days included, exactly as config
// validation accepts it: a ladder step in days is no step dropped.
TEST(GuardOptionsTest, FromConfigTakesTheConfigDurationGrammar) {
  lufd::v1::GuardConfig config;
  config.add_block_ladder("1h");
  config.add_block_ladder("1d");
  config.add_block_ladder("1.5d");
  config.set_offence_memory("2d");
  config.set_scan_window("90s");
  const GuardOptions options = GuardOptions::FromConfig(config);
  ASSERT_EQ(options.block_ladder.size(), 3u);
  EXPECT_EQ(options.block_ladder[1], absl::Hours(24));
  EXPECT_EQ(options.block_ladder[2], absl::Hours(36));
  EXPECT_EQ(options.offence_memory, absl::Hours(48));
  EXPECT_EQ(options.scan_window, absl::Seconds(90));
}

TEST(GuardKeyTest, RuleNamesRoundTrip) {
  for (int i = 0; i < kGuardRuleCount; ++i) {
    const GuardRule rule = static_cast<GuardRule>(i);
    EXPECT_EQ(ParseGuardRule(GuardRuleName(rule)), rule);
  }
  EXPECT_FALSE(ParseGuardRule("nope").has_value());
  GuardCounters c;
  c.denied[0] = 2;
  c.denied[4] = 3;
  c.dry_run[1] = 100;
  EXPECT_EQ(c.denied_total(), 5u);
}

}  // namespace
}  // namespace lufd
