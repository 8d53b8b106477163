// WriteRouter (storage/write_router.h): the forwarding decision, the
// refusal that names grpc.primary_endpoint, re-checking a standby after a
// promotion (on a fake clock), demotion and primary failures reported back.
#include "storage/write_router.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/memory/memory_store.h"
#include "tests/unit/testing/standby_store.h"

namespace lufd {
namespace {

using ::lufd::testing::StandbyStore;
using ::testing::HasSubstr;
using Target = WriteRouter::Target;

TEST(WriteRouterTest, DecideForwardsOnlyFromAStandbyWithAPrimary) {
  EXPECT_EQ(WriteRouter::Decide(false, false), Target::kLocal);
  // A writable local store wins even with a primary configured: after a
  // promotion the old primary is no longer the registry.
  EXPECT_EQ(WriteRouter::Decide(false, true), Target::kLocal);
  EXPECT_EQ(WriteRouter::Decide(true, true), Target::kPrimary);
  EXPECT_EQ(WriteRouter::Decide(true, false), Target::kRefuse);
}

TEST(WriteRouterTest, ReadOnlyErrorIsRecognisedByItsPayload) {
  EXPECT_TRUE(IsReadOnlyStoreError(ReadOnlyStoreError()));
  EXPECT_FALSE(IsReadOnlyStoreError(
      absl::FailedPreconditionError("store is a read-only standby")));
  EXPECT_FALSE(IsReadOnlyStoreError(absl::OkStatus()));
}

struct Fixture {
  MemoryStore db;
  MemoryStore primary_db;
  StandbyStore local{&db, /*read_only=*/false};
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  int opens = 0;
  bool open_fails = false;

  std::unique_ptr<WriteRouter> Router(bool with_primary,
                                      std::string endpoint = "") {
    WriteRouter::Options options;
    options.primary_endpoint = std::move(endpoint);
    options.recheck_interval = absl::Seconds(1);
    options.reopen_interval = absl::Seconds(1);
    options.clock = [this] { return now; };
    WriteRouter::Opener opener;
    if (with_primary) {
      opener = [this]() -> absl::StatusOr<std::unique_ptr<Store>> {
        ++opens;
        if (open_fails) return absl::UnavailableError("connection refused");
        return std::unique_ptr<Store>(
            std::make_unique<StandbyStore>(&primary_db, false));
      };
    }
    return std::make_unique<WriteRouter>(&local, std::move(opener), options);
  }
};

TEST(WriteRouterTest, WritableLocalStoreIsUsedAndNotPolled) {
  Fixture f;
  auto router = f.Router(/*with_primary=*/true);
  for (int i = 0; i < 5; ++i) {
    f.now += absl::Seconds(10);
    auto target = router->ForWrite();
    ASSERT_TRUE(target.ok()) << target.status();
    EXPECT_EQ(*target, &f.local);
  }
  // Asked once: a primary pays nothing per write.
  EXPECT_EQ(f.local.read_only_checks(), 1);
  EXPECT_EQ(f.opens, 0);
}

TEST(WriteRouterTest, StandbyWithoutPrimaryRefusesNamingTheEndpoint) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/false, "lufd-a.example:50051");
  auto target = router->ForWrite();
  ASSERT_FALSE(target.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(target.status()));
  EXPECT_THAT(target.status().message(), HasSubstr("lufd-a.example:50051"));
  EXPECT_THAT(target.status().message(), HasSubstr("grpc.primary_endpoint"));
  EXPECT_EQ(PrimaryEndpointOf(target.status()),
            std::optional<std::string>("lufd-a.example:50051"));
}

TEST(WriteRouterTest, StandbyWithoutEndpointRefusesWithoutPayload) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/false);
  auto target = router->ForWrite();
  ASSERT_TRUE(absl::IsFailedPrecondition(target.status()));
  EXPECT_THAT(target.status().message(), HasSubstr("store.primary_url"));
  EXPECT_EQ(PrimaryEndpointOf(target.status()), std::nullopt);
}

TEST(WriteRouterTest, StandbyForwardsToThePrimaryOpenedOnce) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/true);
  Store* first = nullptr;
  for (int i = 0; i < 3; ++i) {
    auto target = router->ForWrite();
    ASSERT_TRUE(target.ok()) << target.status();
    EXPECT_NE(*target, &f.local);
    if (first == nullptr) first = *target;
    EXPECT_EQ(*target, first);
  }
  EXPECT_EQ(f.opens, 1);
}

TEST(WriteRouterTest, PromotionIsNoticedWithinTheRecheckInterval) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/true);
  ASSERT_NE(*router->ForWrite(), &f.local);
  f.local.set_read_only(false);  // pg_ctl promote.
  // Not asked again before the interval: bounded cost on a standby.
  f.now += absl::Milliseconds(500);
  EXPECT_NE(*router->ForWrite(), &f.local);
  f.now += absl::Milliseconds(500);
  EXPECT_EQ(*router->ForWrite(), &f.local);
  EXPECT_FALSE(router->local_read_only());
}

TEST(WriteRouterTest, RefusalEndsAfterPromotion) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/false, "a:1");
  EXPECT_TRUE(absl::IsFailedPrecondition(router->ForWrite().status()));
  f.local.set_read_only(false);
  f.now += absl::Seconds(1);
  auto target = router->ForWrite();
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(*target, &f.local);
}

TEST(WriteRouterTest, PrimaryFailureMakesTheNextWriteAskTheLocalStore) {
  Fixture f;
  f.local.set_read_only(true);
  auto router = f.Router(/*with_primary=*/true);
  Store* primary = *router->ForWrite();
  f.local.set_read_only(false);
  // The primary died; the standby was promoted a moment ago. No clock
  // advance: the failure report alone triggers the re-check.
  router->Report(primary, absl::UnavailableError("server closed"));
  EXPECT_EQ(*router->ForWrite(), &f.local);
}

TEST(WriteRouterTest, DemotedLocalStoreIsReportedAndForwards) {
  Fixture f;
  auto router = f.Router(/*with_primary=*/true);
  ASSERT_EQ(*router->ForWrite(), &f.local);
  f.local.set_read_only(true);
  router->Report(&f.local, ReadOnlyStoreError());
  auto target = router->ForWrite();
  ASSERT_TRUE(target.ok());
  EXPECT_NE(*target, &f.local);
  // Other errors on the local store say nothing about its role.
  Fixture g;
  auto router2 = g.Router(/*with_primary=*/true);
  ASSERT_EQ(*router2->ForWrite(), &g.local);
  router2->Report(&g.local, absl::UnavailableError("down"));
  EXPECT_EQ(*router2->ForWrite(), &g.local);
}

TEST(WriteRouterTest, UnreachablePrimaryIsUnavailableAndRetriedAfterAWhile) {
  Fixture f;
  f.local.set_read_only(true);
  f.open_fails = true;
  auto router = f.Router(/*with_primary=*/true);
  EXPECT_TRUE(absl::IsUnavailable(router->ForWrite().status()));
  EXPECT_TRUE(absl::IsUnavailable(router->ForWrite().status()));
  EXPECT_EQ(f.opens, 1);  // Not hammered.
  f.open_fails = false;
  f.now += absl::Seconds(1);
  auto target = router->ForWrite();
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(f.opens, 2);
}

}  // namespace
}  // namespace lufd
