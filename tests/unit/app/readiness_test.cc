// Readiness from the view's lag (server/app/readiness.h), with a fake clock
// and a fake follower state: no thread, no timing.
#include "server/app/readiness.h"

#include <vector>

#include "gtest/gtest.h"

namespace lufd {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
constexpr absl::Duration kMaxLag = absl::Seconds(5);

FollowerState CaughtUp(absl::Time at, uint64_t serial) {
  FollowerState s;
  s.view_serial = serial;
  s.store_serial = serial;
  s.caught_up_at = at;
  return s;
}

TEST(EvaluateReadinessTest, ReadyWhileCaughtUpWithinTheBound) {
  const FollowerState s = CaughtUp(kT0, 7);
  EXPECT_TRUE(EvaluateReadiness(s, kT0, kMaxLag).ready);
  EXPECT_TRUE(EvaluateReadiness(s, kT0 + kMaxLag, kMaxLag).ready);
  const Readiness late =
      EvaluateReadiness(s, kT0 + kMaxLag + absl::Milliseconds(1), kMaxLag);
  EXPECT_FALSE(late.ready);
  EXPECT_EQ(late.lag, kMaxLag + absl::Milliseconds(1));
  EXPECT_NE(late.reason.find("store.max_view_lag"), std::string::npos)
      << late.reason;
}

TEST(EvaluateReadinessTest, UnreachableStoreIsNamed) {
  FollowerState s = CaughtUp(kT0, 7);
  s.failing_since = kT0 + absl::Seconds(1);
  s.health = absl::UnavailableError("connection refused");
  // Failing, but not yet for longer than the bound since the last catch-up.
  EXPECT_TRUE(EvaluateReadiness(s, kT0 + absl::Seconds(3), kMaxLag).ready);
  const Readiness r = EvaluateReadiness(s, kT0 + absl::Seconds(9), kMaxLag);
  EXPECT_FALSE(r.ready);
  EXPECT_NE(r.reason.find("store unreachable for 8s"), std::string::npos)
      << r.reason;
  EXPECT_NE(r.reason.find("connection refused"), std::string::npos) << r.reason;
}

TEST(EvaluateReadinessTest, NeverCaughtUpIsNotReady) {
  FollowerState s;
  const Readiness r = EvaluateReadiness(s, kT0, kMaxLag);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.lag, absl::InfiniteDuration());
}

TEST(EvaluateReadinessTest, ClockBehindCaughtUpCountsAsNoLag) {
  const Readiness r =
      EvaluateReadiness(CaughtUp(kT0, 1), kT0 - absl::Seconds(1), kMaxLag);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.lag, absl::ZeroDuration());
}

// The monitor flips health on changes only: SERVING at once, NOT_SERVING
// when the follower stops catching up (store hung), SERVING again when a
// poll catches up.
TEST(ReadinessMonitorTest, ReportsTransitionsOnly) {
  absl::Time now = kT0;
  FollowerState state = CaughtUp(kT0, 3);
  std::vector<bool> applied;
  ReadinessMonitor monitor(
      kMaxLag, [&] { return state; }, [&] { return now; },
      [&](const Readiness& r) { applied.push_back(r.ready); });

  EXPECT_TRUE(monitor.Check().ready);
  EXPECT_EQ(applied, std::vector<bool>({true}));
  EXPECT_TRUE(monitor.ready());

  // The store hangs: polls stop finishing, caught_up_at stays.
  now += absl::Seconds(4);
  EXPECT_TRUE(monitor.Check().ready);
  EXPECT_EQ(applied.size(), 1u);
  now += absl::Seconds(2);
  EXPECT_FALSE(monitor.Check().ready);
  EXPECT_FALSE(monitor.ready());
  now += absl::Seconds(10);
  EXPECT_FALSE(monitor.Check().ready);
  EXPECT_EQ(applied, std::vector<bool>({true, false}));

  // A poll catches up (the view applied the backlog).
  state = CaughtUp(now, 40);
  EXPECT_TRUE(monitor.Check().ready);
  EXPECT_TRUE(monitor.ready());
  EXPECT_EQ(applied, std::vector<bool>({true, false, true}));
}

TEST(ReadinessMonitorTest, FirstCheckReportsNotReadyToo) {
  FollowerState state;  // Never caught up.
  std::vector<bool> applied;
  ReadinessMonitor monitor(
      kMaxLag, [&] { return state; }, [] { return kT0; },
      [&](const Readiness& r) { applied.push_back(r.ready); });
  EXPECT_FALSE(monitor.Check().ready);
  EXPECT_EQ(applied, std::vector<bool>({false}));
}

TEST(ReadinessMonitorTest, StopsItsThread) {
  FollowerState state = CaughtUp(kT0, 1);
  ReadinessMonitor monitor(
      kMaxLag, [&] { return state; }, [] { return kT0; },
      [](const Readiness&) {});
  monitor.Start(absl::Milliseconds(1));
  monitor.Stop();
  monitor.Stop();  // Idempotent; the destructor calls it again.
  EXPECT_TRUE(monitor.ready());
}

}  // namespace
}  // namespace lufd
