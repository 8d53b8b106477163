// `lufctl guard status|explain|unblock` and the guard quota flags of
// `lufctl org add`, end to end against an in-process fake lufd over mTLS,
// and the guard's text output (client/output.h).
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "tests/unit/client/lufctl_test_env.h"

namespace lufd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 2026-12-07T12:00:00Z.
constexpr int64_t kNow = 1796644800LL * 1000000;

// A blocked org with rate and disclosure refusals, one rule in dry run.
lufd::v1::GuardIdentity BlockedOrg() {
  lufd::v1::GuardIdentity g;
  g.set_identity("org iana-en:9");
  g.set_kind("org");
  g.set_id("iana-en:9");
  auto* l = g.mutable_limits();
  l->set_lookups_per_second(5);
  l->set_burst(10);
  l->set_miss_cost(2);
  l->set_distinct_numbers_per_day(100);
  l->add_dry_run_rules("scan");
  g.set_tokens(-1.5);
  g.set_disclosed_in_window(100);
  g.set_misses_in_window(7);
  g.set_admitted(120);
  g.set_hits(100);
  g.set_misses(20);
  g.set_offences(1);
  g.set_blocks(1);
  g.set_offence_level(1);
  g.set_denied_total(42);
  const char* rules[] = {"rate", "disclosure", "misses",
                         "scan", "block",      "signing"};
  for (const char* name : rules) {
    auto* r = g.add_rules();
    r->set_rule(name);
    if (std::string(name) == "rate") r->set_denied(30);
    if (std::string(name) == "disclosure") r->set_denied(12);
    if (std::string(name) == "scan") r->set_dry_run(3);
  }
  g.set_blocked(true);
  g.set_blocked_until_unix_micros(kNow + 3600LL * 1000000);
  g.set_first_seen_unix_micros(kNow - 600LL * 1000000);
  g.set_last_seen_unix_micros(kNow);
  g.set_last_denied_unix_micros(kNow - 1000000);
  g.set_last_denial("guard: disclosure budget spent (100 per 24h)");
  return g;
}

class FakeGuardLufd final : public lufd::v1::AdminService::Service {
 public:
  grpc::Status Put(grpc::ServerContext*, const lufd::v1::PutRequest* req,
                   lufd::v1::WriteResponse* resp) override {
    absl::MutexLock lock(&mu);
    put = *req;
    resp->set_serial(1);
    resp->set_changes(1);
    return grpc::Status::OK;
  }
  grpc::Status GuardStatus(grpc::ServerContext*,
                           const lufd::v1::GuardStatusRequest* req,
                           lufd::v1::GuardStatusResponse* resp) override {
    absl::MutexLock lock(&mu);
    status_request = *req;
    *resp->add_identities() = BlockedOrg();
    if (!req->only_denied()) {
      auto* quiet = resp->add_identities();
      quiet->set_identity("prefix 192.0.2.0/24");
      quiet->set_admitted(3);
    }
    resp->set_tracked(2);
    resp->set_now_unix_micros(kNow);
    return grpc::Status::OK;
  }
  grpc::Status ExplainGuard(grpc::ServerContext*,
                            const lufd::v1::ExplainGuardRequest* req,
                            lufd::v1::GuardIdentity* resp) override {
    absl::MutexLock lock(&mu);
    explained = req->identity();
    if (req->identity() == "org iana-en:9" || req->identity() == "iana-en:9") {
      *resp = BlockedOrg();
      // The server's clock, far from this test's: the time left counts on it.
      resp->set_now_unix_micros(kNow);
      return grpc::Status::OK;
    }
    if (req->identity() == "bad") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "org id with spaces or controls");
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "the guard does not track it");
  }
  grpc::Status Unblock(grpc::ServerContext*,
                       const lufd::v1::UnblockRequest* req,
                       lufd::v1::UnblockResponse* resp) override {
    absl::MutexLock lock(&mu);
    unblocked = req->identity();
    resp->set_lifted(unblocks++ == 0);
    *resp->mutable_identity() = BlockedOrg();
    resp->mutable_identity()->set_blocked(false);
    return grpc::Status::OK;
  }

  std::vector<grpc::Service*> Services() { return {this}; }

  absl::Mutex mu;
  lufd::v1::PutRequest put;
  lufd::v1::GuardStatusRequest status_request;
  std::string explained, unblocked;
  int unblocks = 0;
};

class LufctlGuardTest : public testenv::FakeServerTest<FakeGuardLufd> {};

TEST_F(LufctlGuardTest, StatusListsDeniedByDefaultAndAllWithAll) {
  Result r = Lufctl({"guard", "status", "--limit", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_EQ(fake_->status_request.limit(), 5u);
    EXPECT_TRUE(fake_->status_request.only_denied());
  }
  EXPECT_THAT(r.out, HasSubstr("IDENTITY"));
  EXPECT_THAT(r.out, HasSubstr("org iana-en:9"));
  EXPECT_THAT(r.out, HasSubstr("blocked until 2026-12-07T13:00:00.000Z"));
  EXPECT_THAT(r.out, HasSubstr("guard: disclosure budget spent"));
  EXPECT_THAT(r.out, HasSubstr("(1 shown, 2 tracked)"));
  EXPECT_THAT(r.out, Not(HasSubstr("192.0.2.0/24")));

  r = Lufctl({"guard", "status", "--all"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_FALSE(fake_->status_request.only_denied());
    EXPECT_EQ(fake_->status_request.limit(), 0u);
  }
  EXPECT_THAT(r.out, HasSubstr("prefix 192.0.2.0/24"));

  r = Lufctl({"guard", "status", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"identity\":\"org iana-en:9\""));
  EXPECT_THAT(r.out, HasSubstr("\"blocked\":true"));
}

TEST_F(LufctlGuardTest, ExplainTakesOneOrTwoWordsAndShowsEverything) {
  // Unquoted "org iana-en:9" arrives as two words: joined again.
  Result r = Lufctl({"guard", "explain", "org", "iana-en:9"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_EQ(fake_->explained, "org iana-en:9");
  }
  EXPECT_THAT(r.out, HasSubstr("identity:       org iana-en:9"));
  // One hour left on the server's clock (kNow), whatever the local clock says.
  EXPECT_THAT(r.out,
              HasSubstr("blocked until 2026-12-07T13:00:00.000Z (1h left)"));
  EXPECT_THAT(r.out, HasSubstr("rate 5/s burst 10 miss-cost 2"));
  EXPECT_THAT(r.out, HasSubstr("disclosure 100/day"));
  EXPECT_THAT(r.out, HasSubstr("misses -/day"));
  EXPECT_THAT(r.out, HasSubstr("dry run:        scan"));
  EXPECT_THAT(r.out, HasSubstr("-1.50"));
  EXPECT_THAT(r.out, HasSubstr("disclosed 100, misses 7"));
  EXPECT_THAT(r.out, HasSubstr("offences:       1"));
  EXPECT_THAT(r.out, HasSubstr("2026-12-07T11:59:59.000Z guard: disclosure "
                               "budget spent"));
  // The per-rule table: denied and dry-run counts, and each rule's mode.
  EXPECT_THAT(r.out, HasSubstr("RULE"));
  EXPECT_THAT(r.out, HasSubstr("rate        enforced  30"));
  EXPECT_THAT(r.out, HasSubstr("scan        dry-run   0       3"));

  r = Lufctl({"guard", "explain", "iana-en:9", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"lastDenial\""));

  r = Lufctl({"guard", "explain", "org iana-en:404"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  r = Lufctl({"guard", "explain", "bad"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
  // The identity is required.
  r = Lufctl({"guard", "explain"});
  EXPECT_EQ(r.code, 2);
}

TEST_F(LufctlGuardTest, UnblockSaysWhetherABlockWasLifted) {
  Result r = Lufctl({"guard", "unblock", "org iana-en:9"});
  ASSERT_EQ(r.code, 0) << r.err;
  {
    absl::MutexLock lock(&fake_->mu);
    EXPECT_EQ(fake_->unblocked, "org iana-en:9");
  }
  EXPECT_THAT(r.out, HasSubstr("unblocked org iana-en:9"));
  r = Lufctl({"guard", "unblock", "iana-en:9"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("nothing to lift"));
  r = Lufctl({"guard", "unblock", "iana-en:9", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"identity\""));
}

TEST_F(LufctlGuardTest, OrgAddSetsEveryQuotaField) {
  Result r = Lufctl({"org", "add", "iana-en:9", "--misses-per-day", "500",
                     "--signatures-per-second", "20", "--scan-threshold", "50",
                     "--dry-run-rule", "scan", "--dry-run-rule", "misses"});
  ASSERT_EQ(r.code, 0) << r.err;
  lufd::v1::Quota q;
  {
    absl::MutexLock lock(&fake_->mu);
    q = fake_->put.object().org().quota();
  }
  EXPECT_EQ(q.misses_per_day(), 500u);
  EXPECT_EQ(q.signatures_per_second(), 20u);
  EXPECT_EQ(q.scan_threshold(), 50u);
  EXPECT_THAT(q.dry_run_rules(), ::testing::ElementsAre("scan", "misses"));
  EXPECT_FALSE(q.dry_run());
  // Unknown rule names never reach the server.
  r = Lufctl({"org", "add", "iana-en:9", "--dry-run-rule", "everything"});
  EXPECT_EQ(r.code, 2);
}

TEST(GuardOutputTest, OrgQuotaColumnShowsTheNewFields) {
  lufd::v1::RegistryObject obj;
  auto* q = obj.mutable_org()->mutable_quota();
  q->set_misses_per_day(500);
  q->set_signatures_per_second(20);
  q->add_dry_run_rules("scan");
  const std::string quota = ObjectRow(obj).back();
  EXPECT_THAT(quota, HasSubstr("misses/day=500"));
  EXPECT_THAT(quota, HasSubstr("sig/s=20"));
  EXPECT_THAT(quota, HasSubstr("dry-run=scan"));
}

TEST(GuardOutputTest, StatusRowAndExplainText) {
  lufd::v1::GuardIdentity g = BlockedOrg();
  std::vector<std::string> row = GuardStatusRow(g, kNow);
  ASSERT_EQ(row.size(), GuardStatusHeaders().size());
  EXPECT_EQ(row[0], "org iana-en:9");
  EXPECT_EQ(row[1], "blocked until 2026-12-07T13:00:00.000Z (1h left)");
  EXPECT_EQ(row[2], "42");

  g.set_blocked(false);
  row = GuardStatusRow(g, kNow);
  EXPECT_EQ(row[1], "-");
  const std::string text = GuardExplainText(g, kNow);
  EXPECT_THAT(text, HasSubstr("state:          not blocked"));
  // Control characters in a denial message cannot forge lines.
  g.set_last_denial("x\nidentity: forged");
  EXPECT_THAT(GuardExplainText(g, kNow), Not(HasSubstr("\nidentity: forged")));
}

// A block's time left counts on the server's clock the identity carries,
// not on the caller's (a client clock a year behind or hours ahead would
// say "8761h left" or nothing); the caller's only for an older server.
TEST(GuardOutputTest, TimeLeftCountsOnTheServersClock) {
  lufd::v1::GuardIdentity g = BlockedOrg();  // Blocked until kNow + 1h.
  g.set_now_unix_micros(kNow);
  const int64_t kYear = 365LL * 24 * 3600 * 1000000;
  const int64_t kTwoHours = 2LL * 3600 * 1000000;
  for (int64_t local : {kNow - kYear, kNow + kTwoHours, int64_t{0}}) {
    EXPECT_EQ(GuardStatusRow(g, local)[1],
              "blocked until 2026-12-07T13:00:00.000Z (1h left)")
        << local;
    EXPECT_THAT(GuardExplainText(g, local),
                HasSubstr("state:          blocked until "
                          "2026-12-07T13:00:00.000Z (1h left)"))
        << local;
  }
  // An older server (now_unix_micros 0): the caller's clock.
  g.set_now_unix_micros(0);
  EXPECT_EQ(GuardStatusRow(g, kNow + 1800LL * 1000000)[1],
            "blocked until 2026-12-07T13:00:00.000Z (30m left)");
  EXPECT_EQ(GuardStatusRow(g, kNow + kTwoHours)[1],
            "blocked until 2026-12-07T13:00:00.000Z");
}

}  // namespace
}  // namespace lufd::client
