// The guard's per-query shortcuts (issue 9, "Cost"): Report() using the
// state Admit() found, and AdmitCode()'s per-thread memory of the identity
// it admitted last. Each must fall back to a lookup whenever the identity
// may have been dropped or the key differs; these tests drop identities
// between the calls and fail if a stale state is used.
#include <string>

#include "gtest/gtest.h"
#include "server/guard/guard.h"

namespace lufd {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

GuardOptions OneIdentity() {
  GuardOptions o;
  o.max_identities = 1;  // Every new identity drops the one tracked.
  o.shards = 1;
  return o;
}

GuardLimits Limits() {
  GuardLimits l;
  l.lookups_per_second = 1000;
  l.burst = 1000;
  return l;
}

TEST(GuardFastPathTest, ReportAfterTheIdentityWasDroppedChangesNoOther) {
  Guard guard(OneIdentity());
  const GuardKey a = GuardKey::Org("a"), b = GuardKey::Org("b");
  const Guard::Admission admitted_a = guard.Admit(a, Limits(), "+1", kT0);
  ASSERT_TRUE(admitted_a.status.ok());
  // b takes the only place (a is dropped, its state freed; b's may reuse
  // the memory).
  const Guard::Admission admitted_b = guard.Admit(b, Limits(), "+2", kT0);
  ASSERT_TRUE(admitted_b.status.ok());
  ASSERT_FALSE(guard.Counters(a).has_value());
  // a's late report finds a gone: nothing is charged to b.
  guard.Report(a, admitted_a, /*disclosed=*/true, kT0);
  EXPECT_FALSE(guard.Counters(a).has_value());
  ASSERT_TRUE(guard.Counters(b).has_value());
  EXPECT_EQ(guard.Counters(b)->hits, 0u);
  EXPECT_EQ(guard.Counters(b)->misses, 0u);
  guard.Report(b, admitted_b, /*disclosed=*/true, kT0);
  EXPECT_EQ(guard.Counters(b)->hits, 1u);
}

TEST(GuardFastPathTest, ReportWithAnotherKeyChargesThatKey) {
  Guard guard;  // Default: 16 shards, room for all.
  const GuardKey a = GuardKey::Org("a"), b = GuardKey::Org("b");
  const Guard::Admission admitted_a = guard.Admit(a, Limits(), "+1", kT0);
  ASSERT_TRUE(guard.Admit(b, Limits(), "+2", kT0).status.ok());
  // A caller's mix-up: the key decides, as it did before the shortcut.
  guard.Report(b, admitted_a, /*disclosed=*/true, kT0);
  EXPECT_EQ(guard.Counters(b)->hits, 1u);
  EXPECT_EQ(guard.Counters(a)->hits, 0u);
}

TEST(GuardFastPathTest, AdmitAgainAfterTheIdentityWasDroppedStartsAfresh) {
  Guard guard(OneIdentity());
  const GuardKey a = GuardKey::Org("a"), b = GuardKey::Org("b");
  const Guard::Admission first = guard.Admit(a, Limits(), "+1", kT0);
  ASSERT_TRUE(first.status.ok());
  guard.Report(a, first, true, kT0);
  // ChargeSigning on this thread drops a without going through Admit (so
  // Admit's memory of a is stale).
  ASSERT_TRUE(guard.ChargeSigning(b, Limits(), 1, kT0));
  ASSERT_FALSE(guard.Counters(a).has_value());
  const Guard::Admission second = guard.Admit(a, Limits(), "+1", kT0);
  ASSERT_TRUE(second.status.ok());
  ASSERT_TRUE(guard.Counters(a).has_value());
  EXPECT_EQ(guard.Counters(a)->admitted, 1u);  // A new state, not the old.
  EXPECT_EQ(guard.Counters(a)->hits, 0u);
  EXPECT_FALSE(guard.Counters(b).has_value());
}

TEST(GuardFastPathTest, AdmitRunsAndInterleavingCountPerIdentity) {
  Guard guard;
  const GuardKey a = GuardKey::Org("a"), b = GuardKey::Org("b");
  // A run from a, then a and b interleaved, then a run from b.
  const char* order = "aaaababababbbb";
  for (const char* c = order; *c != '\0'; ++c) {
    const GuardKey& key = *c == 'a' ? a : b;
    const Guard::Admission admission = guard.Admit(key, Limits(), "+1", kT0);
    ASSERT_TRUE(admission.status.ok());
    guard.Report(key, admission, true, kT0);
  }
  EXPECT_EQ(guard.Counters(a)->admitted, 7u);
  EXPECT_EQ(guard.Counters(b)->admitted, 7u);
  EXPECT_EQ(guard.Counters(a)->hits, 7u);
}

TEST(GuardFastPathTest, AdmitCodeEqualsAdmitOfTheText) {
  EXPECT_EQ(Guard::NumberCode(12025551000, 11),
            Guard::ItemCode("+12025551000"));
  EXPECT_EQ(Guard::NumberCode(1, 2), Guard::ItemCode("+01"));
  GuardLimits budget = Limits();
  budget.distinct_numbers_per_day = 1;
  Guard guard;
  const GuardKey a = GuardKey::Org("a");
  const Guard::Admission first =
      guard.AdmitCode(a, budget, Guard::NumberCode(12025551000, 11), kT0);
  ASSERT_TRUE(first.status.ok());
  guard.Report(a, first, true, kT0);
  // The same number as text is a repeat (free); another is over budget.
  EXPECT_TRUE(guard.Admit(a, budget, "+12025551000", kT0).status.ok());
  EXPECT_FALSE(guard.Admit(a, budget, "+12025551001", kT0).status.ok());
}

}  // namespace
}  // namespace lufd
