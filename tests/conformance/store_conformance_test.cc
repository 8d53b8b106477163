// The Store conformance suite (see store_conformance.h).
#include "tests/conformance/store_conformance.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "storage/store.h"

namespace lufd::testing {

PgHarness* StoreConformanceTest::pg_ = nullptr;

namespace {

using ::google::protobuf::util::MessageDifferencer;
using lufd::v1::Change;
using lufd::v1::RegistryObject;

constexpr auto kTn = lufd::v1::OBJECT_KIND_IDENTIFIER;
constexpr auto kOrg = lufd::v1::OBJECT_KIND_ORG;

RegistryObject Tn(const std::string& value, const std::string& regexp = "") {
  RegistryObject o;
  auto* id = o.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id->set_value(value);
  id->set_registrant_id("iana-en:1");
  if (!regexp.empty()) {
    id->add_records()->mutable_naptr()->set_regexp(regexp);
  }
  return o;
}

Mutation Put(lufd::v1::ObjectKind kind, const std::string& key,
             const RegistryObject& obj) {
  Mutation m;
  m.kind = kind;
  m.key = key;
  m.after = obj;
  return m;
}

Mutation Del(lufd::v1::ObjectKind kind, const std::string& key,
             std::optional<RegistryObject> before = std::nullopt) {
  Mutation m;
  m.kind = kind;
  m.key = key;
  m.before = std::move(before);
  return m;
}

CommitRequest Req(std::vector<Mutation> ms, std::string actor = "tester",
                  std::optional<uint64_t> expected = std::nullopt) {
  CommitRequest r;
  r.actor = std::move(actor);
  r.client_txn_id = "txn";
  r.expected_serial = expected;
  r.mutations = std::move(ms);
  return r;
}

using Snapshot = std::map<std::pair<int, std::string>, RegistryObject>;

Snapshot Load(Store& s, uint64_t* serial = nullptr) {
  Snapshot out;
  auto r = s.LoadSnapshot([&](lufd::v1::ObjectKind k, absl::string_view key,
                              const RegistryObject& o) {
    out[{static_cast<int>(k), std::string(key)}] = o;
  });
  EXPECT_TRUE(r.ok()) << r.status();
  if (serial && r.ok()) *serial = *r;
  return out;
}

bool Same(const RegistryObject& a, const RegistryObject& b) {
  return MessageDifferencer::Equals(a, b);
}

std::string UniqueName() {
  static std::atomic<int> n{0};
  return absl::StrCat("t", getpid(), "_", n++);
}

}  // namespace

void StoreConformanceTest::TearDownTestSuite() {
  delete pg_;
  pg_ = nullptr;
}

void StoreConformanceTest::SetUp() {
  const std::string& backend = GetParam();
  if (backend == "memory") {
    url_ = "memory:";
  } else if (backend == "sqlite") {
    std::string templ =
        (std::filesystem::temp_directory_path() / "lufd-conf-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    tmpdir_ = templ;
    url_ = absl::StrCat("sqlite:", tmpdir_, "/registry.db");
  } else if (backend == "postgres") {
    if (pg_ == nullptr) {
      auto h = PgHarness::Start();
      ASSERT_TRUE(h.ok()) << h.status();
      pg_ = h->release();
    }
    auto url = pg_->CreateDatabase(UniqueName());
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  } else {
    FAIL() << "unknown backend " << backend;
  }
  auto s = Store::Open(url_);
  ASSERT_TRUE(s.ok()) << s.status();
  store_ = std::move(*s);
  ASSERT_EQ(store_->Backend(), backend);
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  if (!tmpdir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmpdir_, ec);
  }
}

std::unique_ptr<Store> StoreConformanceTest::Reopen() {
  auto s = Store::Open(url_);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

void StoreConformanceTest::TamperChecksum(uint32_t version) {
  if (GetParam() == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((tmpdir_ + "/registry.db").c_str(), &db), SQLITE_OK);
    const std::string sql = absl::StrCat(
        "UPDATE schema_migrations SET checksum = 'tampered' WHERE version = ",
        version);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  } else if (GetParam() == "postgres") {
    pqxx::connection c(url_);
    pqxx::work w(c);
    auto r = w.exec_params(
        "UPDATE schema_migrations SET checksum = 'tampered' WHERE version = $1",
        static_cast<int>(version));
    EXPECT_EQ(r.affected_rows(), 1u);
    w.commit();
  }
}

TEST_P(StoreConformanceTest, UseBeforeMigrateIsFailedPrecondition) {
  if (IsMemory()) GTEST_SKIP() << "memory store is born migrated";
  auto serial = store_->LatestSerial();
  ASSERT_EQ(serial.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(serial.status().message(),
            "schema not migrated; run lufctl db migrate");
  EXPECT_EQ(store_->Commit(Req({Put(kTn, "a", Tn("+1"))})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ReadChanges(0, 10).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Audit({}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      store_->LoadSnapshot([](auto, auto, const auto&) {}).status().code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreConformanceTest, MigrateIsIdempotentAndReportsStatus) {
  auto before = store_->MigrationStatus();
  ASSERT_TRUE(before.ok()) << before.status();
  if (!IsMemory()) {
    ASSERT_GE(before->size(), 2u);
    for (size_t i = 0; i < before->size(); ++i) {
      EXPECT_EQ((*before)[i].version, i + 1);
      EXPECT_FALSE((*before)[i].applied);
      EXPECT_EQ((*before)[i].checksum.size(), 64u);
    }
    EXPECT_EQ((*before)[0].name, "init");
    EXPECT_EQ((*before)[1].name, "quota_counters");
  }
  ASSERT_TRUE(store_->Migrate().ok());
  auto after = store_->MigrationStatus();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->size(), before->size());
  for (const MigrationInfo& m : *after) {
    EXPECT_TRUE(m.applied) << m.name;
    EXPECT_FALSE(m.applied_at.empty());
  }
  ASSERT_TRUE(store_->Migrate().ok());
  auto again = store_->MigrationStatus();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), after->size());
  for (size_t i = 0; i < again->size(); ++i) {
    EXPECT_EQ((*again)[i].applied_at, (*after)[i].applied_at);
    EXPECT_EQ((*again)[i].checksum, (*after)[i].checksum);
  }
  auto serial = store_->LatestSerial();
  ASSERT_TRUE(serial.ok()) << serial.status();
  EXPECT_EQ(*serial, 0u);
  if (!IsMemory()) {
    // A second handle sees the migrated schema, and migrating it is a no-op.
    auto other = Reopen();
    ASSERT_NE(other, nullptr);
    EXPECT_TRUE(other->Migrate().ok());
    EXPECT_TRUE(other->LatestSerial().ok());
  }
}

TEST_P(StoreConformanceTest, ChangedChecksumIsFailedPreconditionNamingFile) {
  if (IsMemory()) GTEST_SKIP() << "memory store has no migrations";
  ASSERT_TRUE(store_->Migrate().ok());
  TamperChecksum(1);
  auto other = Reopen();
  ASSERT_NE(other, nullptr);
  absl::Status s = other->Migrate();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find(
                absl::StrCat("migrations/", GetParam(), "/0001_init.sql")),
            std::string::npos)
      << s;
  EXPECT_EQ(other->MigrationStatus().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(other->LatestSerial().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreConformanceTest, CommitPutUpdateDeleteAndSerials) {
  ASSERT_TRUE(store_->Migrate().ok());
  auto s1 = store_->Commit(
      Req({Put(kTn, "tn:+1", Tn("+1")), Put(kOrg, "org:a", RegistryObject())}));
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(*s1, 1u);
  Mutation upd = Put(kTn, "tn:+1", Tn("+1", "!^.*$!sip:a@b!"));
  upd.before = Tn("+1");
  auto s2 = store_->Commit(Req({upd}));
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_EQ(*s2, 2u);
  auto s3 = store_->Commit(Req({Del(kOrg, "org:a", RegistryObject())}));
  ASSERT_TRUE(s3.ok()) << s3.status();
  EXPECT_EQ(*s3, 3u);
  EXPECT_EQ(*store_->LatestSerial(), 3u);

  uint64_t serial = 0;
  Snapshot snap = Load(*store_, &serial);
  EXPECT_EQ(serial, 3u);
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_TRUE(Same(snap.at({kTn, "tn:+1"}), Tn("+1", "!^.*$!sip:a@b!")));

  auto changes = store_->ReadChanges(0, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 4u);
  const Change& c0 = (*changes)[0];
  EXPECT_EQ(c0.serial(), 1u);
  EXPECT_EQ(c0.seq(), 0u);
  EXPECT_EQ(c0.kind(), kTn);
  EXPECT_EQ(c0.key(), "tn:+1");
  EXPECT_FALSE(c0.deleted());
  EXPECT_FALSE(c0.has_before());
  EXPECT_TRUE(Same(c0.after(), Tn("+1")));
  EXPECT_EQ(c0.actor(), "tester");
  EXPECT_EQ(c0.client_txn_id(), "txn");
  EXPECT_GT(c0.time_unix_micros(), 0);
  EXPECT_EQ((*changes)[1].serial(), 1u);
  EXPECT_EQ((*changes)[1].seq(), 1u);
  // An empty object is present (not NULL) in the after image.
  EXPECT_TRUE((*changes)[1].has_after());
  const Change& c2 = (*changes)[2];
  EXPECT_EQ(c2.serial(), 2u);
  EXPECT_TRUE(Same(c2.before(), Tn("+1")));
  EXPECT_TRUE(Same(c2.after(), Tn("+1", "!^.*$!sip:a@b!")));
  const Change& c3 = (*changes)[3];
  EXPECT_EQ(c3.serial(), 3u);
  EXPECT_TRUE(c3.deleted());
  EXPECT_TRUE(c3.has_before());
  EXPECT_FALSE(c3.has_after());

  // Empty commit: no new serial.
  auto s4 = store_->Commit(Req({}));
  ASSERT_TRUE(s4.ok());
  EXPECT_EQ(*s4, 3u);
  EXPECT_EQ(*store_->LatestSerial(), 3u);
}

TEST_P(StoreConformanceTest, DuplicateKeyInOneCommitLastWins) {
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(
      store_
          ->Commit(Req({Put(kTn, "a", Tn("+1")), Put(kTn, "a", Tn("+2")),
                        Put(kTn, "b", Tn("+3")), Del(kTn, "b"), Del(kTn, "c"),
                        Put(kTn, "c", Tn("+4"))}))
          .ok());
  Snapshot snap = Load(*store_);
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_TRUE(Same(snap.at({kTn, "a"}), Tn("+2")));
  EXPECT_TRUE(Same(snap.at({kTn, "c"}), Tn("+4")));
  EXPECT_EQ(store_->ReadChanges(0, 1)->size(), 6u);
}

TEST_P(StoreConformanceTest, ExpectedSerialMismatchIsAbortedAndWritesNothing) {
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(store_->Commit(Req({Put(kTn, "a", Tn("+1"))}, "x", 0)).ok());
  auto stale = store_->Commit(Req({Put(kTn, "b", Tn("+2"))}, "x", 0));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto future = store_->Commit(Req({Put(kTn, "b", Tn("+2"))}, "x", 7));
  EXPECT_EQ(future.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*store_->LatestSerial(), 1u);
  EXPECT_EQ(Load(*store_).size(), 1u);
  EXPECT_EQ(store_->ReadChanges(0, 100)->size(), 1u);
  auto ok = store_->Commit(Req({Put(kTn, "b", Tn("+2"))}, "x", 1));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, 2u);
}

TEST_P(StoreConformanceTest, FailureMidCommitLeavesNothing) {
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(store_->Commit(Req({Put(kTn, "keep", Tn("+1"))})).ok());
  Snapshot before = Load(*store_);
  // The bad mutation comes last, after 1000 rows were already written
  // inside the transaction: the schema's CHECK rejects it and everything
  // must roll back.
  for (int variant = 0; variant < 2; ++variant) {
    std::vector<Mutation> ms;
    for (int i = 0; i < 1000; ++i) {
      ms.push_back(Put(kTn, absl::StrCat("k", i), Tn("+2")));
    }
    ms.push_back(Del(kTn, "keep"));
    if (variant == 0) {
      ms.push_back(Put(lufd::v1::OBJECT_KIND_UNSPECIFIED, "bad", Tn("+3")));
    } else {
      ms.push_back(Put(kTn, "", Tn("+3")));
    }
    auto r = store_->Commit(Req(std::move(ms)));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_EQ(*store_->LatestSerial(), 1u);
    Snapshot after = Load(*store_);
    ASSERT_EQ(after.size(), before.size());
    EXPECT_EQ(store_->ReadChanges(0, 100000)->size(), 1u);
  }
  // The store is still usable afterwards.
  auto next = store_->Commit(Req({Put(kTn, "k0", Tn("+2"))}, "x", 1));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 2u);
}

TEST_P(StoreConformanceTest, LoadSnapshotReturnsExactlyLiveObjects) {
  ASSERT_TRUE(store_->Migrate().ok());
  Snapshot model;
  for (int round = 0; round < 5; ++round) {
    std::vector<Mutation> ms;
    for (int i = 0; i < 50; ++i) {
      const std::string key = absl::StrCat("k", (round * 37 + i * 11) % 120);
      const auto kind = (i % 3 == 0) ? kOrg : kTn;
      if ((round + i) % 4 == 0) {
        ms.push_back(Del(kind, key));
        model.erase({kind, key});
      } else {
        RegistryObject o = Tn(absl::StrCat("+", round, i));
        ms.push_back(Put(kind, key, o));
        model[{kind, key}] = o;
      }
    }
    ASSERT_TRUE(store_->Commit(Req(std::move(ms))).ok());
  }
  uint64_t serial = 0;
  Snapshot snap = Load(*store_, &serial);
  EXPECT_EQ(serial, 5u);
  ASSERT_EQ(snap.size(), model.size());
  for (const auto& [k, o] : model) {
    ASSERT_TRUE(snap.count(k)) << k.second;
    EXPECT_TRUE(Same(snap.at(k), o)) << k.second;
  }
}

TEST_P(StoreConformanceTest, ReadChangesReturnsWholeTransactions) {
  ASSERT_TRUE(store_->Migrate().ok());
  const std::vector<int> sizes = {3, 1, 5, 2};
  for (size_t t = 0; t < sizes.size(); ++t) {
    std::vector<Mutation> ms;
    for (int i = 0; i < sizes[t]; ++i) {
      ms.push_back(Put(kTn, absl::StrCat("t", t, "-", i), Tn("+1")));
    }
    ASSERT_TRUE(store_->Commit(Req(std::move(ms))).ok());
  }
  auto count = [&](uint64_t after, uint32_t max) {
    auto r = store_->ReadChanges(after, max);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->size() : size_t{0};
  };
  EXPECT_EQ(count(0, 1), 3u);  // At least one whole transaction.
  EXPECT_EQ(count(0, 0), 3u);
  EXPECT_EQ(count(0, 2), 3u);
  EXPECT_EQ(count(0, 3), 3u);
  EXPECT_EQ(count(0, 4), 4u);
  EXPECT_EQ(count(0, 5), 9u);
  EXPECT_EQ(count(0, 1000), 11u);
  EXPECT_EQ(count(1, 1), 1u);
  EXPECT_EQ(count(2, 1), 5u);
  EXPECT_EQ(count(4, 10), 0u);
  EXPECT_EQ(count(99, 10), 0u);
  // Paging by the last serial seen visits every entry once, in order.
  uint64_t after = 0;
  std::vector<std::pair<uint64_t, uint32_t>> seen;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = store_->ReadChanges(after, 2);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const Change& c : *page) seen.push_back({c.serial(), c.seq()});
    EXPECT_EQ(page->front().seq(), 0u);  // Starts a transaction.
    after = page->back().serial();
  }
  ASSERT_EQ(seen.size(), 11u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

TEST_P(StoreConformanceTest, AuditFilters) {
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(
      store_
          ->Commit(
              Req({Put(kTn, "x", Tn("+1")), Put(kTn, "y", Tn("+2"))}, "alice"))
          .ok());
  ASSERT_TRUE(store_->Commit(Req({Put(kTn, "x", Tn("+3"))}, "bob")).ok());
  ASSERT_TRUE(store_->Commit(Req({Del(kTn, "y")}, "alice")).ok());
  ASSERT_TRUE(store_->Commit(Req({Del(kTn, "x")}, "bob")).ok());
  auto audit = [&](AuditQuery q) {
    auto r = store_->Audit(q);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const Change& c : *r) {
        out.push_back(absl::StrCat(c.serial(), ":", c.key(), ":", c.actor()));
      }
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(audit({}),
            (V{"1:x:alice", "1:y:alice", "2:x:bob", "3:y:alice", "4:x:bob"}));
  EXPECT_EQ(audit({.key = "x"}), (V{"1:x:alice", "2:x:bob", "4:x:bob"}));
  EXPECT_EQ(audit({.actor = "alice"}),
            (V{"1:x:alice", "1:y:alice", "3:y:alice"}));
  EXPECT_EQ(audit({.key = "x", .actor = "bob"}), (V{"2:x:bob", "4:x:bob"}));
  EXPECT_EQ(audit({.after_serial = 2}), (V{"3:y:alice", "4:x:bob"}));
  EXPECT_EQ(audit({.after_serial = 1, .key = "x"}), (V{"2:x:bob", "4:x:bob"}));
  EXPECT_EQ(audit({.limit = 2}), (V{"1:x:alice", "1:y:alice"}));
  EXPECT_EQ(audit({.limit = 0}).size(), 5u);  // 0 = default limit.
  EXPECT_EQ(audit({.key = "nope"}), V{});
  EXPECT_EQ(audit({.actor = "' OR 1=1 --"}), V{});
}

TEST_P(StoreConformanceTest, HostileStringsAndBytesRoundTripVerbatim) {
  ASSERT_TRUE(store_->Migrate().ok());
  const std::vector<std::string> keys = {
      "'); DROP TABLE objects;--",
      "\"; DELETE FROM change_log; --",
      "O'Brien \"quoted\" back\\slash \\x41 \\N tab\there\nnewline\r",
      "+44 \u260e \u00fc\u00df \u65e5\u672c \U0001F4DE",
      "%_*?[]{}$1 :name @p",
      "\\.",
  };
  // NUL bytes, backslashes and quotes inside the serialized payload.
  RegistryObject payload = Tn("+1", "!^.*$!sip:x@y!");
  payload.mutable_identifier()->set_range_end(std::string("\0\0\\'", 4));
  payload.mutable_identifier()->add_dest_group_ids(
      std::string("dg\0with-nul", 11));
  payload.mutable_identifier()->mutable_records(0)->set_id(
      std::string("id\0\\\"'", 6));
  std::vector<Mutation> ms;
  for (const std::string& k : keys) ms.push_back(Put(kTn, k, payload));
  const std::string actor = "org'\"; DROP TABLE change_log;--/\u00e9";
  auto r = store_->Commit(Req(ms, actor));
  ASSERT_TRUE(r.ok()) << r.status();

  Snapshot snap = Load(*store_);
  ASSERT_EQ(snap.size(), keys.size());
  for (const std::string& k : keys) {
    ASSERT_TRUE(snap.count({kTn, k})) << k;
    EXPECT_TRUE(Same(snap.at({kTn, k}), payload)) << k;
  }
  auto changes = store_->ReadChanges(0, 100);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*changes)[i].key(), keys[i]);
    EXPECT_EQ((*changes)[i].actor(), actor);
    EXPECT_TRUE(Same((*changes)[i].after(), payload));
  }
  for (const std::string& k : keys) {
    auto a = store_->Audit({.key = k});
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->size(), 1u) << k;
  }
  EXPECT_EQ(store_->Audit({.actor = actor})->size(), keys.size());
  // Nothing was dropped or deleted; the store keeps working.
  auto r2 = store_->Commit(Req({Del(kTn, keys[0])}, actor, 1));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(Load(*store_).size(), keys.size() - 1);

  // What no backend can hold faithfully is refused up front, everywhere.
  auto nul_key =
      store_->Commit(Req({Put(kTn, std::string("a\0b", 3), payload)}));
  EXPECT_EQ(nul_key.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_utf8 = store_->Commit(Req({Put(kTn, "\xff\xfe", payload)}));
  EXPECT_EQ(bad_utf8.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->LatestSerial(), 2u);
}

TEST_P(StoreConformanceTest, ConcurrentCommitsWithRetryLandExactlyOnce) {
  ASSERT_TRUE(store_->Migrate().ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::atomic<int> aborted{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        bool done = false;
        // Bounded retry loop: read the serial, commit against it.
        for (int attempt = 0; attempt < 2000 && !done; ++attempt) {
          auto serial = store_->LatestSerial();
          if (!serial.ok()) {
            ++failures;
            return;
          }
          auto r = store_->Commit(
              Req({Put(kTn, absl::StrCat("t", t, "-", i), Tn("+1"))},
                  absl::StrCat("thread", t), *serial));
          if (r.ok()) {
            done = true;
          } else if (r.status().code() == absl::StatusCode::kAborted) {
            ++aborted;
          } else {
            ADD_FAILURE() << r.status();
            ++failures;
            return;
          }
        }
        if (!done) {
          ++failures;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(*store_->LatestSerial(), uint64_t{kThreads * kPerThread});
  auto changes = store_->ReadChanges(0, 100000);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < changes->size(); ++i) {
    EXPECT_EQ((*changes)[i].serial(), i + 1);  // One entry per serial.
  }
  EXPECT_EQ(Load(*store_).size(), size_t{kThreads * kPerThread});
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(store_->Audit({.actor = absl::StrCat("thread", t)})->size(),
              size_t{kPerThread});
  }
}

TEST_P(StoreConformanceTest, LargeCommitOf100kMutations) {
  ASSERT_TRUE(store_->Migrate().ok());
  constexpr int kN = 100000;
  std::vector<Mutation> ms;
  ms.reserve(kN);
  for (int i = 0; i < kN; ++i) {
    ms.push_back(Put(
        kTn, absl::StrCat("tn:+4420", 1000000 + i),
        Tn(absl::StrCat("+4420", 1000000 + i), "!^.*$!sip:x@example.net!")));
  }
  auto r = store_->Commit(Req(std::move(ms)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 1u);
  uint64_t serial = 0;
  EXPECT_EQ(Load(*store_, &serial).size(), size_t{kN});
  EXPECT_EQ(serial, 1u);
  auto changes = store_->ReadChanges(0, 1);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), size_t{kN});
}

TEST_P(StoreConformanceTest, StandbyIsReadOnly) {
  if (!IsPostgres()) {
    auto ro = store_->IsReadOnly();
    ASSERT_TRUE(ro.ok());
    EXPECT_FALSE(*ro);
    EXPECT_EQ(store_->ReplicationLag().status().code(),
              absl::StatusCode::kUnimplemented);
    GTEST_SKIP() << "only PostgreSQL has standbys";
  }
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(store_->Commit(Req({Put(kTn, "a", Tn("+1"))})).ok());
  EXPECT_FALSE(*store_->IsReadOnly());
  auto replica = pg_->StartReplica();
  ASSERT_TRUE(replica.ok()) << replica.status();
  const std::string dbname = url_.substr(url_.rfind('/') + 1);
  auto standby = Store::Open((*replica)->Url(dbname));
  ASSERT_TRUE(standby.ok()) << standby.status();
  auto ro = (*standby)->IsReadOnly();
  ASSERT_TRUE(ro.ok()) << ro.status();
  EXPECT_TRUE(*ro);
  // Caught up (nothing received is left to replay): no lag; a primary has
  // none either.
  auto lag = (*standby)->ReplicationLag();
  ASSERT_TRUE(lag.ok()) << lag.status();
  EXPECT_GE(*lag, absl::ZeroDuration());
  EXPECT_LT(*lag, absl::Seconds(60));
  EXPECT_EQ(*store_->ReplicationLag(), absl::ZeroDuration());
  EXPECT_EQ(*(*standby)->LatestSerial(), 1u);
  auto w = (*standby)->Commit(Req({Put(kTn, "b", Tn("+2"))}));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(), "store is a read-only standby");
  // Recognisable as such (storage/write_router.h forwards on it), also
  // when the server reports it (SQLSTATE 25006) rather than the pre-check.
  EXPECT_TRUE(IsReadOnlyStoreError(w.status())) << w.status();
  auto lease =
      (*standby)->LeaseGuardBudget("org x", 1, 10, absl::Hours(1), absl::Now());
  EXPECT_TRUE(IsReadOnlyStoreError(lease.status())) << lease.status();
  EXPECT_EQ((*standby)->Migrate().code(),
            absl::StatusCode::kFailedPrecondition);
  // Changes committed on the primary reach the standby's change log.
  ASSERT_TRUE(store_->Commit(Req({Put(kTn, "c", Tn("+3"))})).ok());
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    auto s = (*standby)->LatestSerial();
    seen = s.ok() && *s == 2u;
    if (!seen) usleep(25000);
  }
  EXPECT_TRUE(seen);
  standby->reset();
  replica->reset();
}

}  // namespace lufd::testing
