// LogLimiter (server/ops/log_limiter.h): a flood of lines for one key is
// cut to the burst plus the refill rate, the next admitted line carries the
// suppressed count, keys are independent, and the key map stays bounded.
#include "server/ops/log_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

LogLimiter::Options Opts(double rate, double burst, size_t max_keys = 1024) {
  LogLimiter::Options o;
  o.lines_per_second = rate;
  o.burst = burst;
  o.max_keys = max_keys;
  return o;
}

TEST(LogLimiterTest, FloodIsCutToBurstAndRate) {
  LogLimiter limiter(Opts(/*rate=*/2, /*burst=*/5));
  const absl::Time t0 = absl::FromUnixSeconds(100);
  int written = 0;
  uint64_t reported = 0;
  // 2,000 lines over one second.
  for (int i = 0; i < 2000; ++i) {
    uint64_t suppressed = 0;
    if (limiter.Admit("spki:abc 127.0.0.1", t0 + absl::Microseconds(500 * i),
                      &suppressed)) {
      ++written;
      reported += suppressed;
    }
  }
  EXPECT_GE(written, 5);
  EXPECT_LE(written, 5 + 2 + 1);  // Burst + one second of refill.
  EXPECT_EQ(limiter.total_suppressed(), 2000u - written);
  // A line a second later says how many were suppressed since the last one.
  uint64_t suppressed = 0;
  ASSERT_TRUE(
      limiter.Admit("spki:abc 127.0.0.1", t0 + absl::Seconds(2), &suppressed));
  EXPECT_EQ(reported + suppressed, 2000u - written);
  EXPECT_GT(suppressed, 0u);
}

TEST(LogLimiterTest, KeysAreIndependent) {
  LogLimiter limiter(Opts(1, 1));
  const absl::Time t = absl::FromUnixSeconds(100);
  uint64_t s = 0;
  EXPECT_TRUE(limiter.Admit("a", t, &s));
  EXPECT_FALSE(limiter.Admit("a", t, &s));
  EXPECT_TRUE(limiter.Admit("b", t, &s));  // A flooder does not mute others.
}

TEST(LogLimiterTest, KeyMapIsBoundedAndOverflowIsLimitedToo) {
  LogLimiter limiter(Opts(/*rate=*/1, /*burst=*/2, /*max_keys=*/16));
  const absl::Time t = absl::FromUnixSeconds(100);
  int written = 0;
  // 10,000 distinct keys (e.g. one certificate each) in the same instant.
  for (int i = 0; i < 10000; ++i) {
    uint64_t s = 0;
    if (limiter.Admit(absl::StrCat("spki:", i), t, &s)) ++written;
  }
  EXPECT_LE(limiter.keys(), 16u);
  // Each key is seen once: 16 lines from their own buckets, then the
  // shared overflow bucket's burst.
  EXPECT_LE(written, 16 + 2);
  EXPECT_EQ(limiter.total_suppressed(), 10000u - written);
  // Idle keys are swept when the map is full, so new keys get a bucket
  // again later.
  uint64_t s = 0;
  EXPECT_TRUE(limiter.Admit("newcomer", t + absl::Seconds(10), &s));
  EXPECT_LE(limiter.keys(), 16u);
}

TEST(LogLimiterTest, TakeSuppressedReportsOnce) {
  LogLimiter limiter(Opts(1, 1));
  const absl::Time t = absl::FromUnixSeconds(100);
  uint64_t s = 0;
  ASSERT_TRUE(limiter.Admit("a", t, &s));
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(limiter.Admit("a", t, &s));
  EXPECT_EQ(limiter.TakeSuppressed(), 7u);
  EXPECT_EQ(limiter.TakeSuppressed(), 0u);
  ASSERT_TRUE(limiter.Admit("a", t + absl::Seconds(5), &s));
  EXPECT_EQ(s, 0u);  // Already reported.
}

}  // namespace
}  // namespace lufd
