// The guard's shared budget (Store::LeaseGuardBudget, migration
// 0007_guard_leases): every backend grants min(want, budget - granted in the
// window), per identity, forgets grants that left the window, never grants
// more than the budget to concurrent callers (two handles on one database
// for SQL backends), needs the migration, and refuses on a standby.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/conformance/store_conformance.h"

namespace lufd::testing {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

TEST_P(StoreConformanceTest, GuardLeasesGrantUpToTheBudgetPerWindow) {
  ASSERT_TRUE(store_->Migrate().ok());
  const std::string org = "org iana-en:111";
  std::vector<uint32_t> got;
  for (int i = 0; i < 5; ++i) {
    auto n =
        store_->LeaseGuardBudget(org, 30, 100, kDay, kT0 + absl::Minutes(i));
    ASSERT_TRUE(n.ok()) << n.status();
    got.push_back(*n);
  }
  EXPECT_EQ(got, (std::vector<uint32_t>{30, 30, 30, 10, 0}));
  // Another identity has its own budget.
  EXPECT_EQ(
      *store_->LeaseGuardBudget("prefix 192.0.2.0/24", 30, 100, kDay, kT0),
      30u);
  // The first grant (kT0) leaves the window at kT0 + 24 h: 30 again.
  EXPECT_EQ(*store_->LeaseGuardBudget(org, 50, 100, kDay, kT0 + kDay), 30u);
  // All four leave by kT0 + 24 h + 3 min; the one just made stays.
  EXPECT_EQ(*store_->LeaseGuardBudget(org, 100, 100, kDay,
                                      kT0 + kDay + absl::Minutes(3)),
            70u);
  // A larger budget (the org's quota raised) grants the difference.
  EXPECT_EQ(*store_->LeaseGuardBudget(org, 100, 150, kDay,
                                      kT0 + kDay + absl::Minutes(4)),
            50u);
  EXPECT_EQ(*store_->LeaseGuardBudget(org, 0, 1000, kDay, kT0 + kDay), 0u);
}

TEST_P(StoreConformanceTest, GuardLeasesNeverExceedTheBudgetConcurrently) {
  ASSERT_TRUE(store_->Migrate().ok());
  std::unique_ptr<Store> other;
  if (!IsMemory()) {
    other = Reopen();
    ASSERT_NE(other, nullptr);
  }
  constexpr uint32_t kBudget = 500;
  std::atomic<uint64_t> total{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Store* s = (t % 2 == 1 && other != nullptr) ? other.get() : store_.get();
    threads.emplace_back([s, t, &total, &errors] {
      for (int i = 0; i < 60; ++i) {
        auto n = s->LeaseGuardBudget("org iana-en:222", 7, kBudget, kDay,
                                     kT0 + absl::Milliseconds(i * 4 + t));
        if (!n.ok()) {
          ++errors;
          continue;
        }
        total += *n;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(total.load(), kBudget);  // 4 x 60 x 7 = 1680 asked.
}

TEST_P(StoreConformanceTest, GuardLeasesNeedTheMigration) {
  if (IsMemory()) GTEST_SKIP() << "memory store is born migrated";
  EXPECT_EQ(store_->LeaseGuardBudget("org x", 1, 10, kDay, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreConformanceTest, GuardLeasesOnAStandbyAreRefused) {
  if (!IsPostgres()) GTEST_SKIP() << "only PostgreSQL has standbys";
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_EQ(*store_->LeaseGuardBudget("org x", 1, 10, kDay, kT0), 1u);
  auto replica = pg_->StartReplica();
  ASSERT_TRUE(replica.ok()) << replica.status();
  const std::string dbname = url_.substr(url_.rfind('/') + 1);
  auto standby = Store::Open((*replica)->Url(dbname));
  ASSERT_TRUE(standby.ok()) << standby.status();
  auto n = (*standby)->LeaseGuardBudget("org x", 1, 10, kDay, kT0);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition)
      << n.status();
  standby->reset();
  replica->reset();
}

}  // namespace
}  // namespace lufd::testing
