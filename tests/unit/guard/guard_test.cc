// Guard (server/guard/guard.h): token bucket with miss cost, disclosure
// budget over a sliding window with free repeats, dry run, the identity
// bound. Time is passed in: no sleeps.
#include "server/guard/guard.h"

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
  EXPECT_EQ(guard.Counters(key)->denied[static_cast<int>(GuardRule::kRate)], 4u);
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
    Lookup(guard, third, limits, Number(i), true, kT0);
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
  EXPECT_EQ(guard.Counters(key)->denied[static_cast<int>(GuardRule::kDisclosure)], 2u);
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
           kT0);
  }
  EXPECT_EQ(guard.tracked(), 4u);
  // All were live (bucket empty): each eviction is counted.
  EXPECT_EQ(guard.evicted_live(), 96u);
  // Idle and at rest: dropped when the next identity arrives, no state lost.
  Lookup(guard, GuardKey::Org("late"), limits, "+1", true,
         kT0 + absl::Hours(1));
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
  Lookup(guard, GuardKey::Org("quiet"), GuardLimits(), "+1", true, kT0);
  Lookup(guard, GuardKey::Org("third"), GuardLimits(), "+1", true, kT0);
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

}  // namespace
}  // namespace lufd
