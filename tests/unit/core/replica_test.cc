// Replication pieces of the core on memory stores (tests/unit/testing/
// standby_store.h): a Registry on a standby forwards its writes to the
// primary and still reads its own writes; without a primary it refuses
// naming grpc.primary_endpoint; after a promotion it writes locally; the
// change serial continues. And the follower's rewind detection
// (RewindReason, and a live follower whose database moved back in time or
// diverged rebuilding its view).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/follower.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "storage/memory/memory_store.h"
#include "storage/write_router.h"
#include "tests/unit/testing/eventually.h"
#include "tests/unit/testing/objects.h"
#include "tests/unit/testing/standby_store.h"

namespace lufd {
namespace {

using ::lufd::testing::Admin;
using ::lufd::testing::Eventually;
using ::lufd::testing::PutOp;
using ::lufd::testing::StandbyStore;
using lufd::v1::RegistryObject;
using ::testing::HasSubstr;

RegistryObject Org(const std::string& id) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name("Org " + id);
  return o;
}

absl::StatusOr<uint64_t> CommitOrg(Store* store, const std::string& id,
                                   const std::string& actor = "test") {
  CommitRequest request;
  request.actor = actor;
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_ORG;
  m.key = id;
  m.after = Org(id);
  request.mutations.push_back(m);
  return store->Commit(request);
}

bool HasOrg(const ViewHolder& views, const std::string& id) {
  return views.Current()->Get(lufd::v1::OBJECT_KIND_ORG, id).has_value();
}

// A lufd on a standby of `db`: its store (read-only view of db), the
// primary it forwards to (when `with_primary`), its follower and registry.
struct Instance {
  Instance(MemoryStore* db, bool with_primary, std::string endpoint = "") {
    local = std::make_unique<StandbyStore>(db, /*read_only=*/true);
    WriteRouter::Options options;
    options.primary_endpoint = std::move(endpoint);
    options.clock = [this] { return now; };
    WriteRouter::Opener opener;
    if (with_primary) {
      opener = [this, db]() -> absl::StatusOr<std::unique_ptr<Store>> {
        auto p = std::make_unique<StandbyStore>(db, /*read_only=*/false);
        primary = p.get();
        return std::unique_ptr<Store>(std::move(p));
      };
    }
    router =
        std::make_unique<WriteRouter>(local.get(), std::move(opener), options);
    // An hour: every read-your-writes below comes from the registry's own
    // wait (nudge), not from polling luck.
    follower = *ChangeFollower::Start(local.get(), &views, absl::Hours(1));
    registry = std::make_unique<Registry>(local.get(), &views,
                                          [this] { follower->Nudge(); });
    registry->set_write_router(router.get());
  }

  absl::StatusOr<lufd::v1::WriteResponse> Put(const std::string& org) {
    return registry->Execute(Admin(), {PutOp(Org(org))}, "");
  }

  absl::Time now = absl::FromUnixSeconds(1'000'000);
  std::unique_ptr<StandbyStore> local;
  StandbyStore* primary = nullptr;  // Owned by the router once opened.
  std::unique_ptr<WriteRouter> router;
  ViewHolder views;
  std::unique_ptr<ChangeFollower> follower;
  std::unique_ptr<Registry> registry;
};

TEST(ReplicaRegistryTest, StandbyForwardsWritesAndReadsItsOwnWrite) {
  MemoryStore db;
  Instance b(&db, /*with_primary=*/true);
  auto written = b.Put("iana-en:1");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->serial(), 1u);
  ASSERT_NE(b.primary, nullptr);
  EXPECT_EQ(b.primary->commits(), 1);
  EXPECT_EQ(b.local->commits(), 0);
  // Read-your-writes on this instance: its view (following the standby)
  // has the write when Execute returns.
  EXPECT_GE(b.views.Current()->serial(), 1u);
  EXPECT_TRUE(HasOrg(b.views, "iana-en:1"));
}

TEST(ReplicaRegistryTest, ForwardedWriteOnAStaleViewRetriesAfterCatchingUp) {
  MemoryStore db;
  Instance b(&db, /*with_primary=*/true);
  // Another instance wrote on the primary; B's view has not polled yet
  // (hour-long poll), so B's commit at serial 0 conflicts, and B catches up
  // and goes again.
  ASSERT_TRUE(CommitOrg(&db, "iana-en:other").ok());
  auto written = b.Put("iana-en:2");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->serial(), 2u);
  EXPECT_TRUE(HasOrg(b.views, "iana-en:2"));
  EXPECT_TRUE(HasOrg(b.views, "iana-en:other"));
}

TEST(ReplicaRegistryTest, StandbyWithoutPrimaryRefusesNamingTheEndpoint) {
  MemoryStore db;
  Instance b(&db, /*with_primary=*/false, "127.0.0.1:7001");
  auto written = b.Put("iana-en:1");
  ASSERT_FALSE(written.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(written.status()));
  EXPECT_THAT(written.status().message(), HasSubstr("127.0.0.1:7001"));
  EXPECT_EQ(PrimaryEndpointOf(written.status()),
            std::optional<std::string>("127.0.0.1:7001"));
  EXPECT_EQ(*db.LatestSerial(), 0u);
}

TEST(ReplicaRegistryTest, PromotedStandbyWritesLocallyAndTheSerialGoesOn) {
  MemoryStore db;
  Instance b(&db, /*with_primary=*/true);
  ASSERT_TRUE(b.Put("iana-en:1").ok());
  ASSERT_TRUE(b.Put("iana-en:2").ok());
  // Failover: the primary is gone, the standby promoted.
  b.local->set_read_only(false);
  b.now += absl::Seconds(1);
  auto written = b.Put("iana-en:3");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->serial(), 3u);  // No gap, no duplicate.
  EXPECT_EQ(b.local->commits(), 1);
  EXPECT_EQ(b.primary->commits(), 2);
  EXPECT_TRUE(HasOrg(b.views, "iana-en:3"));
}

TEST(ReplicaRegistryTest, DemotedLocalStoreIsNoticedAtCommitAndForwarded) {
  MemoryStore db;
  Instance b(&db, /*with_primary=*/true);
  b.local->set_read_only(false);  // Starts as a primary.
  ASSERT_TRUE(b.Put("iana-en:1").ok());
  EXPECT_EQ(b.local->commits(), 1);
  b.local->set_read_only(true);  // Demoted (rejoined as a standby).
  auto written = b.Put("iana-en:2");
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_NE(b.primary, nullptr);
  EXPECT_EQ(b.primary->commits(), 1);
}

// ------------------------------------------------------------- rewind

TxnMark Mark(uint64_t serial, int64_t t, const std::string& actor) {
  return TxnMark{serial, t, actor, ""};
}

TEST(RewindReasonTest, FollowsADenseMatchingHistory) {
  EXPECT_EQ(GapReason(0, 1), std::nullopt);
  EXPECT_EQ(GapReason(5, 6), std::nullopt);
  EXPECT_EQ(HistoryReason(0, std::nullopt, std::nullopt), std::nullopt);
  EXPECT_EQ(HistoryReason(5, Mark(5, 10, "a"), Mark(5, 10, "a")), std::nullopt);
  // A view from a snapshot does not know its last transaction yet.
  EXPECT_EQ(HistoryReason(5, std::nullopt, Mark(5, 10, "a")), std::nullopt);
}

TEST(RewindReasonTest, StoreBehindTheView) {
  auto why = HistoryReason(5, Mark(5, 10, "a"), std::nullopt);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("no serial 5"));
}

TEST(RewindReasonTest, GapInSerials) {
  auto why = GapReason(5, 9);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("serial 9"));
  EXPECT_TRUE(GapReason(5, 5).has_value());  // A serial applied twice.
}

TEST(RewindReasonTest, DivergedHistoryAtTheSameSerial) {
  EXPECT_TRUE(HistoryReason(5, Mark(5, 10, "a"), Mark(5, 11, "a")).has_value());
  EXPECT_TRUE(HistoryReason(5, Mark(5, 10, "a"), Mark(5, 10, "b")).has_value());
}

// A follower whose database is swapped under it for an older one.
TEST(FollowerRewindTest, RebuildsFromASnapshotWhenTheStoreIsBehind) {
  MemoryStore newer, older;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(CommitOrg(&newer, "iana-en:" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(CommitOrg(&older, "iana-en:1").ok());
  StandbyStore db(&newer, /*read_only=*/true);
  ViewHolder views;
  auto follower = *ChangeFollower::Start(&db, &views, absl::Milliseconds(5),
                                         /*rewind_check_interval=*/
                                         absl::ZeroDuration());
  ASSERT_EQ(views.Current()->serial(), 3u);
  db.set_target(&older);  // Rebuilt from an older base backup.
  follower->Nudge();
  ASSERT_TRUE(Eventually([&] { return views.Current()->serial() == 1; }));
  EXPECT_TRUE(HasOrg(views, "iana-en:1"));
  EXPECT_FALSE(HasOrg(views, "iana-en:3"));  // Not a mix.
  EXPECT_EQ(follower->rewinds(), 1u);
  // And it follows the new history from there.
  ASSERT_TRUE(CommitOrg(&older, "iana-en:9").ok());
  follower->Nudge();
  ASSERT_TRUE(Eventually([&] { return HasOrg(views, "iana-en:9"); }));
  EXPECT_EQ(follower->rewinds(), 1u);
}

TEST(FollowerRewindTest, RebuildsWhenTheHistoryDivergedAtTheSameSerial) {
  MemoryStore first, second;
  ASSERT_TRUE(CommitOrg(&first, "iana-en:1", "writer-a").ok());
  // A standby promoted before it got serial 2, then written on.
  ASSERT_TRUE(CommitOrg(&second, "iana-en:1", "writer-a").ok());
  ASSERT_TRUE(CommitOrg(&second, "iana-en:other", "writer-b").ok());
  StandbyStore db(&first, /*read_only=*/true);
  ViewHolder views;
  auto follower = *ChangeFollower::Start(&db, &views, absl::Milliseconds(5),
                                         absl::ZeroDuration());
  // Serial 2 is applied from the log, so the view knows its transaction.
  ASSERT_TRUE(CommitOrg(&first, "iana-en:2", "writer-a").ok());
  follower->Nudge();
  ASSERT_TRUE(Eventually([&] { return HasOrg(views, "iana-en:2"); }));
  db.set_target(&second);
  follower->Nudge();
  ASSERT_TRUE(Eventually([&] { return HasOrg(views, "iana-en:other"); }));
  EXPECT_FALSE(HasOrg(views, "iana-en:2"));
  EXPECT_EQ(views.Current()->serial(), 2u);
  EXPECT_GE(follower->rewinds(), 1u);
}

TEST(FollowerRewindTest, ADenseHistoryIsNeverRebuilt) {
  MemoryStore db;
  ViewHolder views;
  auto follower = *ChangeFollower::Start(&db, &views, absl::Milliseconds(1),
                                         absl::ZeroDuration());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(CommitOrg(&db, "iana-en:" + std::to_string(i)).ok());
    follower->Nudge();
  }
  ASSERT_TRUE(Eventually([&] { return views.Current()->serial() == 20; }));
  EXPECT_EQ(follower->rewinds(), 0u);
}

}  // namespace
}  // namespace lufd
