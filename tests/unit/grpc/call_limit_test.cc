// CallLimiter (server/grpc/call_limit.h): the per-identity cap on calls in
// progress (grpc.max_calls_per_identity). Pure; RpcRunner's use of it over
// real calls is ServerTest.MaxCallsPerIdentityCapsCallsInProgress.
#include "server/grpc/call_limit.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

using ::testing::HasSubstr;

TEST(CallLimiterTest, CapsEachKeySeparatelyAndReleaseFreesASlot) {
  CallLimiter limiter(2);
  EXPECT_TRUE(limiter.Acquire("iana-en:201").ok());
  EXPECT_TRUE(limiter.Acquire("iana-en:201").ok());
  absl::Status third = limiter.Acquire("iana-en:201");
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.message(),
              HasSubstr("too many calls in progress for iana-en:201"));
  EXPECT_THAT(third.message(), HasSubstr("grpc.max_calls_per_identity"));
  // A refusal counts nothing.
  EXPECT_EQ(limiter.InProgress("iana-en:201"), 2u);
  // Another identity has its own budget.
  EXPECT_TRUE(limiter.Acquire("iana-en:202").ok());
  EXPECT_EQ(limiter.InProgress("iana-en:202"), 1u);

  limiter.Release("iana-en:201");
  EXPECT_EQ(limiter.InProgress("iana-en:201"), 1u);
  EXPECT_TRUE(limiter.Acquire("iana-en:201").ok());
  EXPECT_FALSE(limiter.Acquire("iana-en:201").ok());
}

TEST(CallLimiterTest, ZeroMeansNoCapAndCountsGoBackToZero) {
  CallLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter.Acquire("org").ok()) << i;
  }
  EXPECT_EQ(limiter.InProgress("org"), 1000u);
  for (int i = 0; i < 1000; ++i) limiter.Release("org");
  EXPECT_EQ(limiter.InProgress("org"), 0u);
  // An unpaired release does not wrap around.
  limiter.Release("org");
  EXPECT_EQ(limiter.InProgress("org"), 0u);
  EXPECT_EQ(limiter.InProgress("never"), 0u);
}

}  // namespace
}  // namespace lufd
