// The shared disclosure budget (guard.h "shared", ledger_sync.h): lease
// accounting with a fake clock, and two guards leasing from one store never
// disclose more than budget + 2 x chunk in total. No sleeps, no threads.
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/guard/guard.h"
#include "server/guard/ledger_sync.h"
#include "storage/memory/memory_store.h"

namespace lufd {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const GuardKey kOrg = GuardKey::Org("iana-en:111");

std::string Number(int i) { return absl::StrCat("+1202555", 100000 + i); }

GuardLimits Budget(uint32_t n) {
  GuardLimits l;
  l.distinct_numbers_per_day = n;
  return l;
}

bool Lookup(Guard& guard, const GuardLimits& limits, int i, absl::Time now) {
  Guard::Admission a = guard.Admit(kOrg, limits, Number(i), now);
  if (a.status.ok()) guard.Report(kOrg, a, /*disclosed=*/true, now);
  return a.status.ok();
}

TEST(GuardLeaseTest, ChunkIsAPercentOfTheBudgetClamped) {
  EXPECT_EQ(Guard::LeaseChunk(200, 1), 2u);
  EXPECT_EQ(Guard::LeaseChunk(50, 1), 1u);  // At least one slot.
  EXPECT_EQ(Guard::LeaseChunk(1000, 5), 50u);
  EXPECT_EQ(Guard::LeaseChunk(10'000'000, 1), 1000u);  // At most 1000.
}

TEST(GuardLeaseTest, NotSharedCountsLocallyAndAsksNothing) {
  Guard guard;
  const GuardLimits limits = Budget(10);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Lookup(guard, limits, i, kT0));
  EXPECT_FALSE(Lookup(guard, limits, 10, kT0));
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
}

TEST(GuardLeaseTest, OverdraftOfOneChunkThenOnlyLeasedSlots) {
  Guard guard;  // 1 %: budget 1000 -> chunk 10.
  guard.SetShared(true);
  const GuardLimits limits = Budget(1000);
  // Before any lease: one chunk of overdraft, then refused.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Lookup(guard, limits, i, kT0));
  Guard::Admission refused = guard.Admit(kOrg, limits, Number(10), kT0);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.rule, GuardRule::kDisclosure);
  EXPECT_NE(refused.status.message().find("shared by all replicas"),
            std::string::npos)
      << refused.status;
  // A number already answered stays free.
  EXPECT_TRUE(Lookup(guard, limits, 3, kT0));
  // Exactly one request, asked by the first lookup.
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].key, kOrg);
  EXPECT_EQ(requests[0].want, 10u);
  EXPECT_EQ(requests[0].budget, 1000u);
  EXPECT_EQ(requests[0].window, absl::Hours(24));
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());  // One in flight.

  // A lease of 10: 10 leased + 10 overdraft = 20 in the window.
  guard.GrantDisclosures(requests[0], 10, kT0);
  EXPECT_EQ(guard.Explain(kOrg, kT0)->leased_in_window, 10u);
  for (int i = 10; i < 20; ++i) EXPECT_TRUE(Lookup(guard, limits, i, kT0));
  EXPECT_FALSE(Lookup(guard, limits, 20, kT0));
  EXPECT_EQ(guard.DisclosedInWindow(kOrg, kT0), 20u);
  // Still short of leases: asked again.
  requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  guard.GrantDisclosures(requests[0], 10, kT0);
  EXPECT_TRUE(Lookup(guard, limits, 20, kT0));
}

TEST(GuardLeaseTest, AsksWhenFewerThanHalfAChunkIsLeft) {
  Guard guard;
  guard.SetShared(true);
  const GuardLimits limits = Budget(1000);  // Chunk 10.
  EXPECT_TRUE(Lookup(guard, limits, 0, kT0));
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  guard.GrantDisclosures(requests[0], 10, kT0);
  // Leased 10, used 1. Left 9, 8, 7, 6, 5: not asked (left >= 5).
  for (int i = 1; i < 5; ++i) {
    EXPECT_TRUE(Lookup(guard, limits, i, kT0));
    EXPECT_TRUE(guard.TakeLeaseRequests().empty()) << i;
  }
  EXPECT_TRUE(Lookup(guard, limits, 5, kT0));  // Left 10 - 6 = 4 < 5.
  EXPECT_EQ(guard.TakeLeaseRequests().size(), 1u);
}

TEST(GuardLeaseTest, ShortGrantWaitsBeforeAskingAgain) {
  Guard guard;
  guard.SetShared(true);
  const GuardLimits limits = Budget(1000);
  EXPECT_TRUE(Lookup(guard, limits, 0, kT0));
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  guard.GrantDisclosures(requests[0], 0, kT0);  // Spent elsewhere.
  EXPECT_TRUE(Lookup(guard, limits, 1, kT0));
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
  const absl::Time later = kT0 + Guard::kLeaseRetry;
  EXPECT_TRUE(Lookup(guard, limits, 2, later));
  EXPECT_EQ(guard.TakeLeaseRequests().size(), 1u);
}

TEST(GuardLeaseTest, LeasesExpireWithTheWindow) {
  Guard guard;
  guard.SetShared(true);
  const GuardLimits limits = Budget(1000);
  EXPECT_TRUE(Lookup(guard, limits, 0, kT0));
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  guard.GrantDisclosures(requests[0], 10, kT0);
  const absl::Time later = kT0 + absl::Hours(12);
  for (int i = 1; i < 20; ++i) EXPECT_TRUE(Lookup(guard, limits, i, later));
  EXPECT_FALSE(Lookup(guard, limits, 20, later));
  // At kT0 + 24 h the lease (and the first number) left the window: 19
  // disclosed, 0 leased, overdraft 10: still refused.
  const absl::Time day = kT0 + absl::Hours(24);
  EXPECT_EQ(guard.Explain(kOrg, day)->leased_in_window, 0u);
  EXPECT_FALSE(Lookup(guard, limits, 21, day));
}

TEST(GuardLeaseTest, SharedOffAgainFallsBackToTheLocalBudget) {
  Guard guard;
  guard.SetShared(true);
  const GuardLimits limits = Budget(100);  // Chunk 1.
  EXPECT_TRUE(Lookup(guard, limits, 0, kT0));
  EXPECT_FALSE(Lookup(guard, limits, 1, kT0));
  guard.SetShared(false);
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
  for (int i = 1; i < 100; ++i) EXPECT_TRUE(Lookup(guard, limits, i, kT0));
  EXPECT_FALSE(Lookup(guard, limits, 100, kT0));
}

// Two instances on one store, lookups alternating, 3 x budget distinct
// numbers asked; the sync served every `lag` lookups.
size_t TwoReplicas(uint32_t budget, int lag) {
  MemoryStore store;
  Guard a, b;
  a.SetShared(true);
  b.SetShared(true);
  const GuardLimits limits = Budget(budget);
  size_t answered = 0;
  absl::Time now = kT0;
  for (int i = 0; i < 3 * static_cast<int>(budget); ++i) {
    now += absl::Milliseconds(1);
    if (Lookup(i % 2 == 0 ? a : b, limits, i, now)) ++answered;
    if (i % lag == 0) {
      ServeLeaseRequests(&store, &a, now);
      ServeLeaseRequests(&store, &b, now);
    }
  }
  EXPECT_EQ(answered,
            a.DisclosedInWindow(kOrg, now) + b.DisclosedInWindow(kOrg, now));
  return answered;
}

TEST(GuardLeaseTest, TwoReplicasShareOneBudget) {
  const uint32_t budget = 200;
  const uint32_t chunk = Guard::LeaseChunk(budget, 1);
  for (int lag : {1, 7}) {
    const size_t answered = TwoReplicas(budget, lag);
    EXPECT_LE(answered, budget + 2 * chunk) << "lag " << lag;
    EXPECT_GE(answered, budget) << "lag " << lag;
  }
  // A slow sync (one lease per identity per 50 lookups) only slows the
  // instances down: at most one chunk leased per request.
  EXPECT_LE(TwoReplicas(budget, 50), budget + 2 * chunk);
  const size_t big = TwoReplicas(5000, 3);  // Chunk 50.
  EXPECT_LE(big, 5000u + 2 * 50);
  EXPECT_GE(big, 5000u);
}

// A store that turned into a standby: local counting.
class StandbyStore : public MemoryStore {
 public:
  absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string&, uint32_t,
                                            uint32_t, absl::Duration,
                                            absl::Time) override {
    return absl::FailedPreconditionError("store is a read-only standby");
  }
};

TEST(GuardLeaseTest, StandbyStoreTurnsSharingOff) {
  StandbyStore store;
  Guard guard;
  guard.SetShared(true);
  EXPECT_TRUE(Lookup(guard, Budget(1000), 0, kT0));
  EXPECT_EQ(ServeLeaseRequests(&store, &guard, kT0), 1u);
  EXPECT_FALSE(guard.shared());
}

}  // namespace
}  // namespace lufd

namespace lufd {
namespace {

// Over sliding windows a number disclosed with a slot leased earlier
// outlives its lease's record in the store by the time between lease and
// use, so budget + R x chunk holds within one window but not strictly
// across window edges (guard.h). Random bursty schedules of three instances
// over ~3 windows, leases served with a lag: the worst number of distinct
// items live in any window stays within budget + 3 x R x chunk (measured,
// printed; not a proof).
size_t WorstLive(uint32_t budget, int seeds) {
  const GuardKey key = GuardKey::Org("iana-en:333");
  GuardLimits limits;
  limits.distinct_numbers_per_day = budget;
  size_t worst = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    MemoryStore store;
    Guard guards[3];
    for (Guard& g : guards) g.SetShared(true);
    std::deque<absl::Time> live;  // Every disclosure, all instances.
    absl::Time now = kT0;
    int next = 0;
    for (int step = 0; step < 3000; ++step) {
      now += absl::Seconds(static_cast<int64_t>(rng() % (6 * 3600)) /
                           (1 + static_cast<int64_t>(rng() % 50)));
      Guard& g = guards[rng() % 3];
      const int burst = rng() % 4 == 0 ? 50 : 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < burst; ++k) {
        Guard::Admission a =
            g.Admit(key, limits, absl::StrCat("+1", 1000000 + next++), now);
        if (!a.status.ok()) continue;
        g.Report(key, a, /*disclosed=*/true, now);
        live.push_back(now);
      }
      if (rng() % 3 != 0) {
        for (Guard& each : guards) ServeLeaseRequests(&store, &each, now);
      }
      while (!live.empty() && live.front() + absl::Hours(24) <= now) {
        live.pop_front();
      }
      worst = std::max(worst, live.size());
    }
  }
  return worst;
}

TEST(GuardLeaseTest, SlidingWindowsStayNearTheBudget) {
  for (uint32_t budget : {200u, 1000u}) {
    const uint32_t chunk = Guard::LeaseChunk(budget, 1);
    const size_t worst = WorstLive(budget, 40);
    std::printf(
        "budget %u, chunk %u, 3 instances: worst %zu live (+%.1f "
        "chunks)\n",
        budget, chunk, worst, (static_cast<double>(worst) - budget) / chunk);
    EXPECT_LE(worst, budget + 3 * 3 * chunk);
    EXPECT_GE(worst, budget * 8 / 10);  // The budget was approached.
  }
}

}  // namespace
}  // namespace lufd

namespace lufd {
namespace {

TEST(GuardLeaseTest, MissBudgetIsLeasedToo) {
  Guard guard;
  guard.SetShared(true);
  GuardLimits limits;
  limits.misses_per_day = 1000;  // Chunk 10.
  auto miss = [&](int i, absl::Time now) {
    Guard::Admission a = guard.Admit(kOrg, limits, Number(i), now);
    if (a.status.ok()) guard.Report(kOrg, a, /*disclosed=*/false, now);
    return a;
  };
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(miss(i, kT0).status.ok()) << i;
  Guard::Admission refused = miss(10, kT0);
  EXPECT_EQ(refused.rule, GuardRule::kMisses);
  EXPECT_NE(refused.status.message().find("shared by all replicas"),
            std::string::npos)
      << refused.status;
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].rule, GuardRule::kMisses);
  EXPECT_EQ(requests[0].want, 10u);
  EXPECT_EQ(requests[0].StoreIdentity(), "misses org iana-en:111");
  guard.GrantDisclosures(requests[0], 10, kT0);
  EXPECT_EQ(guard.Explain(kOrg, kT0)->miss_leased_in_window, 10u);
  EXPECT_EQ(guard.Explain(kOrg, kT0)->leased_in_window, 0u);
  for (int i = 10; i < 20; ++i) EXPECT_TRUE(miss(i, kT0).status.ok()) << i;
  EXPECT_FALSE(miss(20, kT0).status.ok());
}

TEST(GuardLeaseTest, TwoReplicasShareOneMissBudget) {
  MemoryStore store;
  Guard a, b;
  a.SetShared(true);
  b.SetShared(true);
  GuardLimits limits;
  limits.misses_per_day = 300;            // Chunk 3.
  limits.distinct_numbers_per_day = 300;  // Both leased, apart.
  size_t missed = 0;
  absl::Time now = kT0;
  for (int i = 0; i < 900; ++i) {
    now += absl::Milliseconds(1);
    Guard& g = i % 2 == 0 ? a : b;
    Guard::Admission adm = g.Admit(kOrg, limits, Number(i), now);
    if (adm.status.ok()) {
      g.Report(kOrg, adm, /*disclosed=*/false, now);
      ++missed;
    }
    ServeLeaseRequests(&store, &a, now);
    ServeLeaseRequests(&store, &b, now);
  }
  EXPECT_LE(missed, 300u + 2 * 3);
  EXPECT_GE(missed, 300u);
  // The disclosure budget's leases were not taken for misses.
  EXPECT_EQ(*store.LeaseGuardBudget("org iana-en:111", 1000, 1000,
                                    absl::Hours(24), now),
            1000u - a.Explain(kOrg, now)->leased_in_window -
                b.Explain(kOrg, now)->leased_in_window);
}

}  // namespace
}  // namespace lufd

namespace lufd {
namespace {

// TakeLeaseRequests skips the shard sweep while nothing is queued: the
// count it checks must follow the queues exactly (every request queued is
// counted, every one taken or dropped is not), or a request would wait
// forever (count 0 with one queued) or every call would sweep.
TEST(GuardLeaseTest, QueuedCountFollowsTheQueues) {
  Guard guard;
  guard.SetShared(true);
  GuardLimits limits = Budget(1000);  // Chunk 10.
  limits.misses_per_day = 1000;
  EXPECT_EQ(guard.lease_requests_queued(), 0u);
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
  // One admission asks for both budgets (disclosure and misses); two
  // identities, most likely in two shards.
  const GuardKey other = GuardKey::Org("iana-en:222");
  ASSERT_TRUE(guard.Admit(kOrg, limits, Number(0), kT0).status.ok());
  EXPECT_EQ(guard.lease_requests_queued(), 2u);
  ASSERT_TRUE(guard.Admit(other, limits, Number(0), kT0).status.ok());
  EXPECT_EQ(guard.lease_requests_queued(), 4u);
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  EXPECT_EQ(requests.size(), 4u);
  EXPECT_EQ(guard.lease_requests_queued(), 0u);
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
  // Answered short (0 slots: spent elsewhere): after the retry time the
  // next admission asks again, and that request is found.
  for (const LeaseRequest& r : requests) guard.GrantDisclosures(r, 0, kT0);
  const absl::Time later = kT0 + Guard::kLeaseRetry;
  ASSERT_TRUE(guard.Admit(kOrg, limits, Number(0), later).status.ok());
  EXPECT_EQ(guard.lease_requests_queued(), 2u);
  EXPECT_EQ(guard.TakeLeaseRequests().size(), 2u);
  EXPECT_EQ(guard.lease_requests_queued(), 0u);
  // Queued, then dropped by a switch to local budgets: not counted either.
  guard.SetShared(false);
  guard.SetShared(true);
  ASSERT_TRUE(guard.Admit(other, limits, Number(1), later).status.ok());
  EXPECT_EQ(guard.lease_requests_queued(), 2u);
  guard.SetShared(false);
  EXPECT_EQ(guard.lease_requests_queued(), 0u);
  EXPECT_TRUE(guard.TakeLeaseRequests().empty());
}

// Short of leases while the next one is on its way: a wait, not a spent
// budget, and no offence (a fast legitimate peer is slowed, not blocked);
// once the store answers short, the budget is spent and refusals count.
TEST(GuardLeaseTest, WaitingForALeaseIsNoOffence) {
  GuardOptions options;  // 1 %: budget 1000 -> chunk 10.
  options.offence_denials = 5;
  Guard guard(options);
  guard.SetShared(true);
  const GuardLimits limits = Budget(1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Lookup(guard, limits, i, kT0));
  for (int i = 0; i < 20; ++i) {
    Guard::Admission a = guard.Admit(kOrg, limits, Number(100 + i), kT0);
    ASSERT_EQ(a.rule, GuardRule::kDisclosure) << a.status;
    EXPECT_NE(a.status.message().find("waits for its next share"),
              std::string::npos)
        << a.status;
    EXPECT_EQ(a.status.message().find("spent"), std::string::npos);
    EXPECT_EQ(a.retry_after, Guard::kLeaseWait);
  }
  EXPECT_FALSE(guard.Explain(kOrg, kT0)->blocked(kT0));
  EXPECT_EQ(guard.Explain(kOrg, kT0)->offence_level, 0u);
  // The store grants nothing: now the budget is spent, and refusals count.
  std::vector<LeaseRequest> requests = guard.TakeLeaseRequests();
  ASSERT_EQ(requests.size(), 1u);
  guard.GrantDisclosures(requests[0], 0, kT0);
  for (int i = 0; i < 5; ++i) {
    Guard::Admission a = guard.Admit(kOrg, limits, Number(200 + i), kT0);
    EXPECT_NE(a.status.message().find("spent"), std::string::npos) << a.status;
  }
  EXPECT_TRUE(guard.Explain(kOrg, kT0)->blocked(kT0));
}

}  // namespace
}  // namespace lufd
