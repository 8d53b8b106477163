// ChangeFollower against the memory Store: snapshot at start, tailing by
// poll and by nudge, health on store errors, clean shutdown.
#include "server/core/follower.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "storage/store.h"
#include "tests/unit/testing/eventually.h"

namespace lufd {
namespace {

using ::lufd::testing::Eventually;
using lufd::v1::RegistryObject;

RegistryObject Org(const std::string& id) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name("name of " + id);
  return o;
}

absl::StatusOr<uint64_t> CommitOrg(Store* store, const std::string& id) {
  CommitRequest request;
  request.actor = "test";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_ORG;
  m.key = id;
  m.after = Org(id);
  request.mutations.push_back(m);
  return store->Commit(request);
}

// Forwards to a real store; ReadChanges and ReadObject fail while `fail` is
// set, ReadObject alone while `fail_objects` is.
class FlakyStore : public Store {
 public:
  explicit FlakyStore(std::unique_ptr<Store> inner)
      : inner_(std::move(inner)) {}
  std::atomic<bool> fail{false};
  std::atomic<int> reads{0};
  std::atomic<int> object_reads{0};
  std::atomic<bool> fail_objects{false};  // ReadObject only.

  std::string Backend() const override { return inner_->Backend(); }
  absl::Status Migrate() override { return inner_->Migrate(); }
  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override {
    return inner_->MigrationStatus();
  }
  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    return inner_->Commit(request);
  }
  absl::StatusOr<uint64_t> LatestSerial() override {
    return inner_->LatestSerial();
  }
  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                               const RegistryObject&)>& fn) override {
    return inner_->LoadSnapshot(fn);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> ReadChanges(
      uint64_t after, uint32_t max) override {
    ++reads;
    if (fail) return absl::UnavailableError("database went away");
    return inner_->ReadChanges(after, max);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> Audit(
      const AuditQuery& query) override {
    return inner_->Audit(query);
  }
  absl::StatusOr<bool> IsReadOnly() override { return inner_->IsReadOnly(); }
  absl::StatusOr<std::optional<RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override {
    ++object_reads;
    if (fail || fail_objects) {
      return absl::UnavailableError("database went away");
    }
    return inner_->ReadObject(kind, key);
  }
  SignatureTable* Signatures() override { return inner_->Signatures(); }
  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override {
    return inner_->AppendDenials(records, max_rows);
  }
  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& query) override {
    return inner_->ReadDenials(query);
  }

 private:
  std::unique_ptr<Store> inner_;
};

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open("memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::make_unique<FlakyStore>(*std::move(store));
  }
  std::unique_ptr<FlakyStore> store_;
  ViewHolder views_;
};

TEST_F(FollowerTest, StartPublishesSnapshot) {
  ASSERT_TRUE(CommitOrg(store_.get(), "t:a").ok());
  ASSERT_TRUE(CommitOrg(store_.get(), "t:b").ok());
  auto follower =
      ChangeFollower::Start(store_.get(), &views_, absl::Seconds(10));
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto view = views_.Current();
  EXPECT_EQ(view->serial(), 2u);
  EXPECT_EQ(view->Count(lufd::v1::OBJECT_KIND_ORG), 2u);
  EXPECT_TRUE((*follower)->health().ok());
}

TEST_F(FollowerTest, PicksUpDirectCommitWithin100msByPolling) {
  auto follower =
      ChangeFollower::Start(store_.get(), &views_, absl::Milliseconds(20));
  ASSERT_TRUE(follower.ok());
  EXPECT_EQ(views_.Current()->serial(), 0u);
  absl::Time start = absl::Now();
  auto serial = CommitOrg(store_.get(), "t:new");
  ASSERT_TRUE(serial.ok());
  EXPECT_TRUE(views_.WaitForSerial(*serial, absl::Milliseconds(100)));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_TRUE(
      views_.Current()->Get(lufd::v1::OBJECT_KIND_ORG, "t:new").has_value());
}

TEST_F(FollowerTest, NudgePollsAtOnce) {
  auto follower = ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
  ASSERT_TRUE(follower.ok());
  for (int i = 0; i < 5; ++i) {
    auto serial = CommitOrg(store_.get(), "t:n" + std::to_string(i));
    ASSERT_TRUE(serial.ok());
    (*follower)->Nudge();
    EXPECT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2))) << i;
  }
  EXPECT_EQ(views_.Current()->Count(lufd::v1::OBJECT_KIND_ORG), 5u);
}

TEST_F(FollowerTest, DeletesAndUpdatesFlowThrough) {
  auto follower = ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
  ASSERT_TRUE(follower.ok());
  ASSERT_TRUE(CommitOrg(store_.get(), "t:x").ok());
  CommitRequest del;
  del.actor = "test";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_ORG;
  m.key = "t:x";
  m.before = Org("t:x");
  del.mutations.push_back(m);
  auto serial = store_->Commit(del);
  ASSERT_TRUE(serial.ok());
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2)));
  EXPECT_FALSE(views_.Current()->Get(lufd::v1::OBJECT_KIND_ORG, "t:x"));
}

TEST_F(FollowerTest, StoreErrorsKeepOldViewAndReportHealth) {
  auto started =
      ChangeFollower::Start(store_.get(), &views_, absl::Milliseconds(10));
  ASSERT_TRUE(started.ok());
  auto& follower = *started;
  ASSERT_TRUE(CommitOrg(store_.get(), "t:1").ok());
  follower->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(1, absl::Seconds(2)));

  store_->fail = true;
  ASSERT_TRUE(CommitOrg(store_.get(), "t:2").ok());
  follower->Nudge();
  // Wait for the failure to be observed.
  EXPECT_TRUE(Eventually([&] { return !follower->health().ok(); }));
  EXPECT_EQ(follower->health().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(views_.Current()->serial(), 1u);  // The old view still serves.

  store_->fail = false;
  follower->Nudge();
  EXPECT_TRUE(views_.WaitForSerial(2, absl::Seconds(6)));  // Backoff <= 5 s.
  EXPECT_TRUE(Eventually([&] { return follower->health().ok(); }));
  EXPECT_TRUE(follower->health().ok()) << follower->health();
}

// What readiness and the metrics read (FollowerState): caught_up_at moves
// with every poll that finds the view current, stands still while the
// store fails, and moves again once a poll catches up.
TEST_F(FollowerTest, StateTracksCatchUpAndFailures) {
  ASSERT_TRUE(CommitOrg(store_.get(), "t:1").ok());
  const absl::Time before_start = absl::Now();
  auto started =
      ChangeFollower::Start(store_.get(), &views_, absl::Milliseconds(10));
  ASSERT_TRUE(started.ok());
  auto& follower = *started;
  FollowerState s = follower->state();
  EXPECT_EQ(s.view_serial, 1u);
  EXPECT_EQ(s.store_serial, 1u);
  EXPECT_GE(s.caught_up_at, before_start);  // The snapshot's load.
  EXPECT_EQ(s.failing_since, absl::InfinitePast());

  ASSERT_TRUE(CommitOrg(store_.get(), "t:2").ok());
  follower->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(2, absl::Seconds(2)));
  ASSERT_TRUE(Eventually([&] { return follower->state().view_serial == 2; }));
  s = follower->state();
  EXPECT_EQ(s.store_serial, 2u);
  EXPECT_TRUE(s.health.ok());
  EXPECT_GT(follower->poll_latency().Read().count, 0u);

  store_->fail = true;
  ASSERT_TRUE(Eventually([&] { return follower->state().poll_errors >= 2; }));
  const FollowerState failing = follower->state();
  EXPECT_NE(failing.failing_since, absl::InfinitePast());
  EXPECT_FALSE(failing.health.ok());
  const absl::Time frozen = failing.caught_up_at;
  ASSERT_TRUE(Eventually([&] {
    return follower->state().poll_errors >= failing.poll_errors + 1;
  }));
  EXPECT_EQ(follower->state().caught_up_at, frozen);  // Does not move.
  EXPECT_EQ(follower->state().failing_since, failing.failing_since);

  ASSERT_TRUE(CommitOrg(store_.get(), "t:3").ok());
  store_->fail = false;
  follower->Nudge();
  ASSERT_TRUE(Eventually([&] {
    const FollowerState now = follower->state();
    return now.view_serial == 3 && now.caught_up_at > frozen;
  }));
  s = follower->state();
  EXPECT_EQ(s.store_serial, 3u);
  EXPECT_EQ(s.failing_since, absl::InfinitePast());
  EXPECT_GE(s.poll_errors, 2u);
}

TEST_F(FollowerTest, ManyChangesArePagedAndApplied) {
  // More entries than one ReadChanges page (10000) in several transactions.
  // 3 transactions of 6000 new orgs each.
  auto commit_orgs = [&](const std::string& prefix) {
    for (int t = 0; t < 3; ++t) {
      CommitRequest request;
      request.actor = "test";
      for (int i = 0; i < 6000; ++i) {
        Mutation m;
        m.kind = lufd::v1::OBJECT_KIND_ORG;
        m.key = prefix + std::to_string(t * 10000 + i);
        m.after = Org(m.key);
        request.mutations.push_back(std::move(m));
      }
      ASSERT_TRUE(store_->Commit(request).ok());
    }
  };
  commit_orgs("t:");
  auto follower = ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
  ASSERT_TRUE(follower.ok());
  EXPECT_EQ(views_.Current()->Count(lufd::v1::OBJECT_KIND_ORG), 18000u);
  commit_orgs("u:");
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(6, absl::Seconds(5)));
  EXPECT_EQ(views_.Current()->Count(lufd::v1::OBJECT_KIND_ORG), 36000u);
}

TEST_F(FollowerTest, DestructorStopsPromptly) {
  absl::Time start = absl::Now();
  {
    auto follower =
        ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
    ASSERT_TRUE(follower.ok());
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace lufd

namespace lufd {
namespace {

RegistryObject TsigCred(const std::string& secret, bool disabled = false) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id("cred-tsig");
  c->set_org_id("t:ssp1");
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_tsig_key_name("ssp1-key.");
  c->set_tsig_algorithm("hmac-sha256");
  c->set_tsig_secret(secret);
  c->set_disabled(disabled);
  return o;
}

absl::StatusOr<uint64_t> PutCred(Store* store, const RegistryObject& after,
                                 std::optional<RegistryObject> before) {
  CommitRequest request;
  request.actor = "test";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_CREDENTIAL;
  m.key = "cred-tsig";
  m.before = std::move(before);
  m.after = after;
  request.mutations.push_back(m);
  return store->Commit(request);
}

std::string SecretIn(const ViewHolder& views) {
  auto c = views.Current()->FindTsigCredential("ssp1-key.");
  return c.has_value() ? c->tsig_secret() : "<none>";
}

// The change log carries only fingerprints; a view built from it (not from
// a snapshot) still holds each current secret, so TSIG verifies after the
// credential is added and after it is rotated.
TEST_F(FollowerTest, ViewBuiltFromTheLogHoldsTheRotatedTsigSecret) {
  auto follower = ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
  ASSERT_TRUE(follower.ok());
  ASSERT_TRUE(CommitOrg(store_.get(), "t:ssp1").ok());
  const std::string a(32, 'a'), b(32, 'b');
  auto serial = PutCred(store_.get(), TsigCred(a), std::nullopt);
  ASSERT_TRUE(serial.ok());
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2)));
  EXPECT_EQ(SecretIn(views_), a);
  // The change the view was built from had no secret.
  auto logged = store_->ReadChanges(*serial - 1, 10);
  ASSERT_TRUE(logged.ok());
  EXPECT_TRUE(logged->back().after().credential().tsig_secret().empty());

  serial = PutCred(store_.get(), TsigCred(b), TsigCred(a));
  ASSERT_TRUE(serial.ok());
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2)));
  EXPECT_EQ(SecretIn(views_), b);
  // The object in the view is the stored one (no fingerprint field).
  auto in_view =
      views_.Current()->Get(lufd::v1::OBJECT_KIND_CREDENTIAL, "cred-tsig");
  ASSERT_TRUE(in_view.has_value());
  EXPECT_EQ(in_view->SerializeAsString(), TsigCred(b).SerializeAsString());

  // A change that keeps the secret (disable, enable) needs no store read.
  const int reads = store_->object_reads;
  serial = PutCred(store_.get(), TsigCred(b, /*disabled=*/true), TsigCred(b));
  ASSERT_TRUE(serial.ok());
  serial = PutCred(store_.get(), TsigCred(b), TsigCred(b, true));
  ASSERT_TRUE(serial.ok());
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2)));
  EXPECT_EQ(SecretIn(views_), b);
  EXPECT_EQ(store_->object_reads, reads);
}

// A follower that falls behind sees an add and two rotations at once; the
// store has only the latest secret. The view ends with it, and no view
// ever holds a secret the credential did not have at its serial.
TEST_F(FollowerTest, FollowerBehindSeveralRotationsEndsWithTheLatestSecret) {
  auto follower = ChangeFollower::Start(store_.get(), &views_, absl::Hours(1));
  ASSERT_TRUE(follower.ok());
  ASSERT_TRUE(CommitOrg(store_.get(), "t:ssp1").ok());
  const std::string a(32, 'a'), b(32, 'b'), c(32, 'c');
  ASSERT_TRUE(PutCred(store_.get(), TsigCred(a), std::nullopt).ok());
  ASSERT_TRUE(PutCred(store_.get(), TsigCred(b), TsigCred(a)).ok());
  auto serial = PutCred(store_.get(), TsigCred(c), TsigCred(b));
  ASSERT_TRUE(serial.ok());
  (*follower)->Nudge();
  ASSERT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(2)));
  EXPECT_EQ(SecretIn(views_), c);

  // What it was built from held none of them.
  // (Held in a variable: a range-for over *ReadChanges() would read the
  // vector after the StatusOr temporary died.)
  auto changes = store_->ReadChanges(0, 100);
  ASSERT_TRUE(changes.ok());
  for (const auto& change : *changes) {
    EXPECT_TRUE(change.after().credential().tsig_secret().empty());
  }
}

// Reading the secret back fails: the follower keeps the old view and
// reports it, then catches up.
TEST_F(FollowerTest, SecretReadErrorsKeepTheOldView) {
  auto follower =
      ChangeFollower::Start(store_.get(), &views_, absl::Milliseconds(10));
  ASSERT_TRUE(follower.ok());
  ASSERT_TRUE(CommitOrg(store_.get(), "t:ssp1").ok());
  ASSERT_TRUE(views_.WaitForSerial(1, absl::Seconds(2)));
  store_->fail_objects = true;
  const std::string a(32, 'a');
  auto serial = PutCred(store_.get(), TsigCred(a), std::nullopt);
  ASSERT_TRUE(serial.ok());
  EXPECT_TRUE(Eventually([&] { return !(*follower)->health().ok(); }));
  EXPECT_EQ(views_.Current()->serial(), 1u);
  EXPECT_EQ(SecretIn(views_), "<none>");
  store_->fail_objects = false;
  EXPECT_TRUE(views_.WaitForSerial(*serial, absl::Seconds(6)));
  EXPECT_EQ(SecretIn(views_), a);
}

}  // namespace
}  // namespace lufd
