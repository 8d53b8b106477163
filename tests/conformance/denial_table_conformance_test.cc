// The denial audit table (Store::AppendDenials / ReadDenials, migration
// 0005_denials): every backend keeps at most max_rows rows (the newest),
// reads newest first with the actor filter and limit, round-trips every
// field, refuses before migration, and refuses on a standby.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/conformance/store_conformance.h"

namespace lufd::testing {
namespace {

DenialRecord Row(int i, const std::string& actor = "iana-en:111/reg") {
  DenialRecord d;
  d.first_unix_micros = 1'700'000'000'000'000 + i;
  d.last_unix_micros = d.first_unix_micros + 5;
  d.actor = actor;
  d.subject = i % 2 ? "CN=revoked,O=Example" : "";
  d.peer = "ipv4:127.0.0.1";
  d.method = "Put";
  d.object = absl::StrCat("identifier +1202666", 1000 + i);
  d.reason = absl::StrCat("reason ", i, " 'quoted' \"x\" ; DROP TABLE denials");
  d.code = 7;
  d.count = 1000 + i;
  return d;
}

TEST_P(StoreConformanceTest, DenialsTrimToMaxRowsNewestFirst) {
  ASSERT_TRUE(store_->Migrate().ok());
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<DenialRecord> rows;
    for (int i = 0; i < 4; ++i) rows.push_back(Row(batch * 4 + i));
    ASSERT_TRUE(store_->AppendDenials(rows, /*max_rows=*/10).ok());
  }
  auto all = store_->ReadDenials({.limit = 100});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 10u);  // 20 written, the newest 10 kept.
  for (size_t i = 0; i < all->size(); ++i) {
    const DenialRecord expected = Row(19 - static_cast<int>(i));
    const DenialRecord& got = (*all)[i];
    EXPECT_EQ(got.first_unix_micros, expected.first_unix_micros);
    EXPECT_EQ(got.last_unix_micros, expected.last_unix_micros);
    EXPECT_EQ(got.actor, expected.actor);
    EXPECT_EQ(got.subject, expected.subject);
    EXPECT_EQ(got.peer, expected.peer);
    EXPECT_EQ(got.method, expected.method);
    EXPECT_EQ(got.object, expected.object);
    EXPECT_EQ(got.reason, expected.reason);
    EXPECT_EQ(got.code, expected.code);
    EXPECT_EQ(got.count, expected.count);
    if (i > 0) {
      EXPECT_LT(got.id, (*all)[i - 1].id);
    }
  }
  // One append larger than the bound keeps only the newest max_rows too.
  std::vector<DenialRecord> big;
  for (int i = 100; i < 150; ++i) big.push_back(Row(i));
  ASSERT_TRUE(store_->AppendDenials(big, 7).ok());
  all = store_->ReadDenials({.limit = 100});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 7u);
  EXPECT_EQ(all->front().count, Row(149).count);
}

TEST_P(StoreConformanceTest, DenialsFilterByActorAndLimit) {
  ASSERT_TRUE(store_->Migrate().ok());
  std::vector<DenialRecord> rows;
  for (int i = 0; i < 6; ++i) {
    rows.push_back(Row(i, i % 3 == 0 ? "spki:00ff" : "iana-en:111/reg"));
  }
  ASSERT_TRUE(store_->AppendDenials(rows, 100).ok());
  auto spki = store_->ReadDenials({.limit = 100, .actor = "spki:00ff"});
  ASSERT_TRUE(spki.ok());
  ASSERT_EQ(spki->size(), 2u);
  EXPECT_EQ((*spki)[0].count, Row(3).count);
  auto two = store_->ReadDenials({.limit = 2});
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].count, Row(5).count);
  EXPECT_TRUE(store_->ReadDenials({.limit = 10, .actor = "nobody"})->empty());
}

TEST_P(StoreConformanceTest, DenialsNeedTheMigration) {
  if (IsMemory()) GTEST_SKIP() << "memory store is born migrated";
  EXPECT_EQ(store_->AppendDenials({Row(1)}, 10).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ReadDenials({}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreConformanceTest, DenialsOnAStandbyAreRefused) {
  if (!IsPostgres()) GTEST_SKIP() << "only PostgreSQL has standbys";
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(store_->AppendDenials({Row(1)}, 10).ok());
  auto replica = pg_->StartReplica();
  ASSERT_TRUE(replica.ok()) << replica.status();
  const std::string dbname = url_.substr(url_.rfind('/') + 1);
  auto standby = Store::Open((*replica)->Url(dbname));
  ASSERT_TRUE(standby.ok()) << standby.status();
  absl::Status s = (*standby)->AppendDenials({Row(2)}, 10);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  standby->reset();
  replica->reset();
}

}  // namespace
}  // namespace lufd::testing
