// LedgerSync across failover (ledger_sync.h, storage/write_router.h): a
// standby without a primary counts locally until it is promoted, then
// shares again with no restart; a standby with a primary leases there,
// counts locally while the primary is down and shares again once it is
// back. Live thread; waits are bounded (Eventually), no timed assertions.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/guard/guard.h"
#include "server/guard/ledger_sync.h"
#include "storage/memory/memory_store.h"
#include "storage/write_router.h"
#include "tests/unit/testing/eventually.h"
#include "tests/unit/testing/standby_store.h"

namespace lufd {
namespace {

using ::lufd::testing::Eventually;
using ::lufd::testing::StandbyStore;

const GuardKey kOrg = GuardKey::Org("iana-en:111");

GuardLimits Budget(uint32_t n) {
  GuardLimits l;
  l.distinct_numbers_per_day = n;
  return l;
}

// One lookup of a new number now (queues a lease request when shared).
void Lookup(Guard& guard, int i) {
  const absl::Time now = absl::Now();
  Guard::Admission a = guard.Admit(kOrg, Budget(1000),
                                   absl::StrCat("+1202555", 100000 + i), now);
  if (a.status.ok()) guard.Report(kOrg, a, /*disclosed=*/true, now);
}

LedgerSync::Options Fast(WriteRouter* router) {
  LedgerSync::Options options;
  options.poll_interval = absl::Milliseconds(1);
  options.recheck_interval = absl::Milliseconds(1);
  options.router = router;
  return options;
}

TEST(LedgerFailoverTest, StandbyCountsLocallyUntilPromoted) {
  MemoryStore db;
  StandbyStore local(&db, /*read_only=*/true);
  WriteRouter::Options ro;
  ro.recheck_interval = absl::ZeroDuration();
  WriteRouter router(&local, nullptr, ro);
  Guard guard;
  auto sync = LedgerSync::Start(&local, &guard, Fast(&router));
  EXPECT_FALSE(guard.shared());
  local.set_read_only(false);  // pg_ctl promote.
  ASSERT_TRUE(Eventually([&] { return guard.shared(); }));
  // And leases are served from the promoted store.
  for (int i = 0; i < 20; ++i) Lookup(guard, i);
  ASSERT_TRUE(Eventually([&] { return guard.lease_requests_queued() == 0; }));
  EXPECT_TRUE(guard.shared());  // The promoted store granted them.
}

TEST(LedgerFailoverTest, ForwardingStandbyRidesOutAPrimaryOutage) {
  MemoryStore standby_db, primary_db;
  StandbyStore local(&standby_db, /*read_only=*/true);
  StandbyStore* primary = nullptr;
  WriteRouter router(
      &local,
      [&]() -> absl::StatusOr<std::unique_ptr<Store>> {
        auto p = std::make_unique<StandbyStore>(&primary_db, false);
        primary = p.get();
        return std::unique_ptr<Store>(std::move(p));
      },
      WriteRouter::Options());
  Guard guard;
  auto sync = LedgerSync::Start(&local, &guard, Fast(&router));
  EXPECT_TRUE(guard.shared());  // Leases from the primary.
  ASSERT_NE(primary, nullptr);
  primary->set_down(true);
  int i = 0;
  // The next lease fails: local counting (lookups go on being answered).
  ASSERT_TRUE(Eventually([&] {
    Lookup(guard, i++);
    return !guard.shared();
  }));
  primary->set_down(false);
  ASSERT_TRUE(Eventually([&] { return guard.shared(); }));
}

}  // namespace
}  // namespace lufd
