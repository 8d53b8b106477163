// The SignatureTable conformance suite (see store_conformance.h): the DNSSEC
// signatures made ahead, the signer lease and the signer checkpoint, on
// every backend, including the upgrade of a database whose checkpoint was
// still a sentinel row of the signature table (before migration 0004).
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/migrate.h"
#include "storage/postgres/postgres_store.h"
#include "storage/signature_table.h"
#include "storage/store.h"
#include "tests/conformance/store_conformance.h"

namespace lufd::testing {
namespace {

// The owner of the signer's checkpoint row before migration 0004.
const std::string& OldSentinelOwner() {
  static const std::string* const owner = new std::string(
      "\xff"
      "lufd-sign-ahead-checkpoint");
  return *owner;
}

StoredSignature Sig(const std::string& owner, uint16_t type, uint64_t hash,
                    uint16_t tag, const std::string& rrsig,
                    int64_t expiration) {
  StoredSignature s;
  s.owner = owner;
  s.type_covered = type;
  s.rrset_hash = hash;
  s.key_tag = tag;
  s.rrsig_rdata = rrsig;
  s.expiration_unix = expiration;
  return s;
}

std::vector<StoredSignature> ScanAll(SignatureTable& table, uint64_t after,
                                     uint64_t* last = nullptr) {
  std::vector<StoredSignature> out;
  auto r = table.ScanSignatures(
      after, [&](const StoredSignature& s) { out.push_back(s); });
  EXPECT_TRUE(r.ok()) << r.status();
  if (last != nullptr) *last = r.ok() ? *r : 0;
  return out;
}

}  // namespace

void SignatureTableConformanceTest::ExecSql(const std::string& sql) {
  if (GetParam() == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((tmpdir_ + "/registry.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err != nullptr ? err : "") << "\n" << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  } else if (GetParam() == "postgres") {
    try {
      pqxx::connection c(url_);
      pqxx::work w(c);
      w.exec(sql);
      w.commit();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << sql;
    }
  } else {
    FAIL() << "no SQL on " << GetParam();
  }
}

void SignatureTableConformanceTest::MigrateUpTo(uint32_t version) {
  auto files = storage_internal::MigrationsFor(GetParam());
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_GE(files->size(), version);
  ExecSql(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
      "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)");
  for (const storage_internal::MigrationFile& f : *files) {
    if (f.version > version) break;
    // Names and checksums are [a-z0-9_] and hex: safe to format.
    ExecSql(absl::StrCat(f.sql, ";\nINSERT INTO schema_migrations VALUES (",
                         f.version, ", '", f.name, "', '", f.checksum,
                         "', '2026-01-01T00:00:00Z')"));
  }
}

void SignatureTableConformanceTest::InsertSchema3Rows(
    const std::vector<std::pair<std::string, std::string>>& rows) {
  const bool sqlite = GetParam() == "sqlite";
  std::string sql;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string owner = absl::BytesToHexString(rows[i].first);
    const std::string rrsig = absl::BytesToHexString(rows[i].second);
    if (sqlite) {
      absl::StrAppend(&sql,
                      "INSERT INTO dnssec_signatures (seq, owner, "
                      "type_covered, rrset_hash, key_tag, rrsig, expiration) "
                      "VALUES (",
                      i + 1, ", X'", owner, "', 35, -5, 7, X'", rrsig,
                      "', 1900000000);");
    } else {
      absl::StrAppend(&sql,
                      "INSERT INTO dnssec_signatures (owner, type_covered, "
                      "rrset_hash, key_tag, rrsig, expiration, seq) VALUES "
                      "('\\x",
                      owner, "', 35, -5, 7, '\\x", rrsig,
                      "', 1900000000, nextval('dnssec_signatures_seq_gen'));");
    }
  }
  if (sqlite) {
    absl::StrAppend(&sql, "UPDATE signature_state SET last_seq = ", rows.size(),
                    " WHERE id = 1;");
  }
  ExecSql(sql);
}

namespace {

TEST_P(SignatureTableConformanceTest, SignaturesUpsertScanAndDelete) {
  ASSERT_TRUE(store_->Migrate().ok());
  uint64_t last = 99;
  EXPECT_TRUE(ScanAll(table(), 0, &last).empty());
  EXPECT_EQ(last, 0u);
  // Binary owners and RDATA (NUL bytes, high bytes), a hash with the top bit
  // set (stored as a negative int64 by the SQL backends).
  const std::string owner1(
      "\x01"
      "6\x01"
      "6\x04"
      "e164\x04"
      "arpa\x00",
      19);
  const std::string owner2(
      "\x01"
      "7\x04"
      "e164\x04"
      "arpa\x00",
      17);
  const std::string rrsig(std::string("\x00\x23\x0d\xff", 4) + "sig");
  const uint64_t big_hash = 0xfedcba9876543210ull;
  ASSERT_TRUE(table()
                  .PutSignatures({Sig(owner1, 35, big_hash, 12345, rrsig, 100),
                                  Sig(owner1, 35, big_hash, 54321, rrsig, 200),
                                  Sig(owner2, 2, 7, 12345, "ns-sig", 300)})
                  .ok());
  std::vector<StoredSignature> all = ScanAll(table(), 0, &last);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].owner, owner1);
  EXPECT_EQ(all[0].type_covered, 35);
  EXPECT_EQ(all[0].rrset_hash, big_hash);
  EXPECT_EQ(all[0].rrsig_rdata, rrsig);
  EXPECT_EQ(all[0].expiration_unix, 100);
  EXPECT_EQ(all[2].owner, owner2);
  EXPECT_EQ(all[2].key_tag, 12345);
  EXPECT_LT(all[0].seq, all[1].seq);
  EXPECT_LT(all[1].seq, all[2].seq);
  EXPECT_GT(all[0].seq, 0u);
  EXPECT_EQ(last, all[2].seq);

  // Upsert: same identity, new RDATA and expiry -> one row, a fresh (higher)
  // seq; a scan after the old high mark sees just it. In one call, the last
  // of two duplicates wins.
  const uint64_t mark = last;
  ASSERT_TRUE(table()
                  .PutSignatures({Sig(owner1, 35, big_hash, 12345, "x", 400),
                                  Sig(owner1, 35, big_hash, 12345, "new", 500)})
                  .ok());
  std::vector<StoredSignature> added = ScanAll(table(), mark, &last);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].rrsig_rdata, "new");
  EXPECT_EQ(added[0].expiration_unix, 500);
  EXPECT_GT(added[0].seq, mark);
  EXPECT_EQ(last, added[0].seq);
  EXPECT_EQ(ScanAll(table(), 0).size(), 3u);
  // Nothing after the high mark: last stays at after_seq.
  EXPECT_TRUE(ScanAll(table(), last, &last).empty());
  EXPECT_EQ(last, added[0].seq);
  EXPECT_TRUE(table().PutSignatures({}).ok());

  // Delete what expires before 250: the 200 row only (100 was replaced).
  auto deleted = table().DeleteSignaturesExpiringBefore(250);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 1u);
  all = ScanAll(table(), 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].owner, owner2);
  EXPECT_EQ(all[1].rrsig_rdata, "new");
  // Deleting the highest rows never lets a seq be handed out again.
  const uint64_t high = all[1].seq;
  EXPECT_EQ(*table().DeleteSignaturesExpiringBefore(1000), 2u);
  ASSERT_TRUE(table().PutSignatures({Sig(owner2, 2, 8, 1, "again", 9)}).ok());
  all = ScanAll(table(), 0);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_GT(all[0].seq, high);

  if (!IsMemory()) {
    // Durable and visible to another handle.
    auto other = Reopen();
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(ScanAll(*other->Signatures(), 0).size(), 1u);
  }
}

TEST_P(SignatureTableConformanceTest, SignaturesBulkPutAndStreamingScan) {
  ASSERT_TRUE(store_->Migrate().ok());
  // Big enough for several cursor batches (PostgreSQL fetches 20k rows at
  // a time); the 1M-row numbers come from lufd_store_bench.
  constexpr int kN = 50000;
  std::vector<StoredSignature> sigs;
  sigs.reserve(kN);
  for (int i = 0; i < kN; ++i) {
    sigs.push_back(Sig(absl::StrCat("owner-", i), 35, 1000003ull * i,
                       static_cast<uint16_t>(i % 3), std::string(100, 's'),
                       1700000000 + i));
  }
  ASSERT_TRUE(table().PutSignatures(sigs).ok());
  uint64_t count = 0, previous = 0, last = 0;
  bool ordered = true;
  auto r = table().ScanSignatures(0, [&](const StoredSignature& s) {
    ordered = ordered && s.seq > previous;
    previous = s.seq;
    ++count;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  last = *r;
  EXPECT_EQ(count, uint64_t{kN});
  EXPECT_TRUE(ordered);
  EXPECT_EQ(last, previous);
  // Re-putting all of them replaces, not adds.
  ASSERT_TRUE(table().PutSignatures(sigs).ok());
  EXPECT_EQ(ScanAll(table(), last).size(), size_t{kN});
  EXPECT_EQ(*table().DeleteSignaturesExpiringBefore(1700000000 + kN / 2),
            uint64_t{kN / 2});
}

TEST_P(SignatureTableConformanceTest,
       SignerLeaseIsExclusiveAndReleasedOnDestruction) {
  ASSERT_TRUE(store_->Migrate().ok());
  auto first = table().TryAcquireSignerLease();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(*first, nullptr);
  EXPECT_TRUE((*first)->Valid());
  // Not twice from the same Store...
  auto again = table().TryAcquireSignerLease();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, nullptr);
  std::unique_ptr<Store> other;
  if (!IsMemory()) {
    // ...nor from another Store on the same database.
    other = Reopen();
    ASSERT_NE(other, nullptr);
    auto second = other->Signatures()->TryAcquireSignerLease();
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(*second, nullptr);
  } else {
    // Each memory store is its own database.
    auto separate = Store::Open("memory:");
    ASSERT_TRUE(separate.ok());
    auto lease = (*separate)->Signatures()->TryAcquireSignerLease();
    ASSERT_TRUE(lease.ok());
    EXPECT_NE(*lease, nullptr);
  }
  first->reset();
  Store* taker = other != nullptr ? other.get() : store_.get();
  auto next = taker->Signatures()->TryAcquireSignerLease();
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_NE(*next, nullptr);
  EXPECT_TRUE((*next)->Valid());
  // A lease may outlive its Store.
  other.reset();
  EXPECT_TRUE((*next)->Valid());
}

TEST_P(SignatureTableConformanceTest, SignerLeaseIsLostWithItsPostgresSession) {
  if (!IsPostgres()) GTEST_SKIP() << "sessions are PostgreSQL's";
  ASSERT_TRUE(store_->Migrate().ok());
  auto lease = table().TryAcquireSignerLease();
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_NE(*lease, nullptr);
  auto other = Reopen();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other->Signatures()->TryAcquireSignerLease(), nullptr);
  // Kill the lease's session from outside, as a failover or a network cut
  // would.
  {
    pqxx::connection admin(url_);
    pqxx::nontransaction w(admin);
    pqxx::result r = w.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_locks "
        "WHERE locktype = 'advisory' AND granted AND "
        "((classid::bigint << 32) | objid::bigint) = " +
        std::to_string(kPostgresSignerLeaseKey));
    ASSERT_EQ(r.size(), 1u);
  }
  // The server releases the lock once the backend is gone (bounded wait).
  std::unique_ptr<SignerLease> taken;
  for (int i = 0; i < 200 && taken == nullptr; ++i) {
    auto t = other->Signatures()->TryAcquireSignerLease();
    ASSERT_TRUE(t.ok()) << t.status();
    taken = std::move(*t);
    if (taken == nullptr) usleep(25000);
  }
  ASSERT_NE(taken, nullptr);
  EXPECT_TRUE(taken->Valid());
  EXPECT_FALSE((*lease)->Valid());
  EXPECT_FALSE((*lease)->Valid());  // Stays lost.
}

TEST_P(SignatureTableConformanceTest, UseBeforeMigrateIsFailedPrecondition) {
  if (IsMemory()) GTEST_SKIP() << "memory store is born migrated";
  const auto kFailed = absl::StatusCode::kFailedPrecondition;
  EXPECT_EQ(table().PutSignatures({Sig("a", 35, 1, 1, "x", 9)}).code(),
            kFailed);
  EXPECT_EQ(table().ScanSignatures(0, [](const auto&) {}).status().code(),
            kFailed);
  EXPECT_EQ(table().DeleteSignaturesExpiringBefore(9).status().code(), kFailed);
  EXPECT_EQ(table().ReadSignerCheckpoint().status().code(), kFailed);
  EXPECT_EQ(table().WriteSignerCheckpoint({1, 2, "k"}).code(), kFailed);
}

// The checkpoint is state of its own: none at first, then exactly what was
// written (a serial past 2^32, a time, a keys string), replaced by the next
// write, durable, and neither a signature row nor touched by deleting rows.
TEST_P(SignatureTableConformanceTest, CheckpointRoundTrip) {
  ASSERT_TRUE(store_->Migrate().ok());
  auto none = table().ReadSignerCheckpoint();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  const SignerCheckpoint first{(uint64_t{1} << 40) + 7, 1800000000,
                               "e164.arpa.:12345,54321;example.:7"};
  ASSERT_TRUE(table().WriteSignerCheckpoint(first).ok());
  auto got = table().ReadSignerCheckpoint();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->serial, first.serial);
  EXPECT_EQ((*got)->full_pass_unix, first.full_pass_unix);
  EXPECT_EQ((*got)->keys, first.keys);

  const SignerCheckpoint second{12, 1800003600, "e164.arpa.:999"};
  ASSERT_TRUE(table().WriteSignerCheckpoint(second).ok());
  got = table().ReadSignerCheckpoint();
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->serial, 12u);
  EXPECT_EQ((*got)->full_pass_unix, 1800003600);
  EXPECT_EQ((*got)->keys, "e164.arpa.:999");

  // Not a row of the signature table, and not deleted with expired rows.
  EXPECT_TRUE(ScanAll(table(), 0).empty());
  ASSERT_TRUE(table().PutSignatures({Sig("a", 35, 1, 1, "x", 5)}).ok());
  EXPECT_EQ(*table().DeleteSignaturesExpiringBefore(int64_t{1} << 40), 1u);
  got = table().ReadSignerCheckpoint();
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->serial, 12u);

  if (!IsMemory()) {
    auto other = Reopen();
    ASSERT_NE(other, nullptr);
    auto seen = other->Signatures()->ReadSignerCheckpoint();
    ASSERT_TRUE(seen.ok() && seen->has_value());
    EXPECT_EQ((*seen)->keys, "e164.arpa.:999");
  }
}

// Putting the same rows again (also from a second handle, at the same
// time) leaves one row per identity with the content given; only the seqs
// move on.
TEST_P(SignatureTableConformanceTest, UpsertIsIdempotent) {
  ASSERT_TRUE(store_->Migrate().ok());
  std::vector<StoredSignature> rows;
  for (int i = 0; i < 500; ++i) {
    rows.push_back(Sig(absl::StrCat("owner-", i), 35, 77, 1,
                       absl::StrCat("rrsig-", i), 1800000000 + i));
  }
  ASSERT_TRUE(table().PutSignatures(rows).ok());
  uint64_t mark = 0;
  const std::vector<StoredSignature> once = ScanAll(table(), 0, &mark);
  ASSERT_EQ(once.size(), rows.size());

  std::unique_ptr<Store> other = IsMemory() ? nullptr : Reopen();
  SignatureTable& second =
      other != nullptr ? *other->Signatures() : *store_->Signatures();
  std::atomic<int> failures{0};
  std::thread a([&] {
    for (int i = 0; i < 3; ++i) {
      if (!table().PutSignatures(rows).ok()) ++failures;
    }
  });
  std::thread b([&] {
    for (int i = 0; i < 3; ++i) {
      if (!second.PutSignatures(rows).ok()) ++failures;
    }
  });
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);

  uint64_t last = 0;
  const std::vector<StoredSignature> again = ScanAll(table(), 0, &last);
  ASSERT_EQ(again.size(), rows.size());
  EXPECT_GT(last, mark);
  std::map<std::string, const StoredSignature*> by_owner;
  for (const StoredSignature& s : again) by_owner[s.owner] = &s;
  ASSERT_EQ(by_owner.size(), rows.size());
  for (const StoredSignature& want : rows) {
    const StoredSignature* got = by_owner[want.owner];
    ASSERT_NE(got, nullptr) << want.owner;
    EXPECT_EQ(got->rrsig_rdata, want.rrsig_rdata);
    EXPECT_EQ(got->expiration_unix, want.expiration_unix);
    EXPECT_GT(got->seq, mark);  // Every row was re-put.
  }
}

// Expiry is strict: a row expiring exactly at the cut-off stays.
TEST_P(SignatureTableConformanceTest, RowsExpireStrictlyBeforeTheCutOff) {
  ASSERT_TRUE(store_->Migrate().ok());
  ASSERT_TRUE(table()
                  .PutSignatures({Sig("a", 35, 1, 1, "x", 99),
                                  Sig("b", 35, 1, 1, "x", 100),
                                  Sig("c", 35, 1, 1, "x", 101)})
                  .ok());
  EXPECT_EQ(*table().DeleteSignaturesExpiringBefore(100), 1u);
  std::vector<StoredSignature> left = ScanAll(table(), 0);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].owner, "b");
  EXPECT_EQ(left[1].owner, "c");
  EXPECT_EQ(*table().DeleteSignaturesExpiringBefore(100), 0u);
}

// Two handles on one database race for the lease from several threads:
// exactly one caller wins while it is held.
TEST_P(SignatureTableConformanceTest, LeaseHasOneHolderAcrossTwoHandles) {
  ASSERT_TRUE(store_->Migrate().ok());
  std::unique_ptr<Store> other = IsMemory() ? nullptr : Reopen();
  SignatureTable* tables[2] = {
      store_->Signatures(),
      other != nullptr ? other->Signatures() : store_->Signatures()};
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<SignerLease>> won(kThreads);
  std::atomic<int> errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      auto lease = tables[t % 2]->TryAcquireSignerLease();
      if (!lease.ok()) {
        ++errors;
        return;
      }
      won[t] = std::move(*lease);
    });
  }
  go.store(true);
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  int holders = 0;
  for (const auto& l : won) holders += l != nullptr ? 1 : 0;
  EXPECT_EQ(holders, 1);
  // Still exclusive afterwards, from either handle.
  for (SignatureTable* t : tables) {
    auto again = t->TryAcquireSignerLease();
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, nullptr);
  }
}

// When the holder goes (its lease destroyed, or on PostgreSQL its session
// killed), the other handle takes the lease over; a lost lease says so.
TEST_P(SignatureTableConformanceTest, LeaseIsTakenOverWhenItsHolderGoes) {
  ASSERT_TRUE(store_->Migrate().ok());
  std::unique_ptr<Store> other = IsMemory() ? nullptr : Reopen();
  SignatureTable& second =
      other != nullptr ? *other->Signatures() : *store_->Signatures();
  for (int round = 0; round < 3; ++round) {
    auto held = table().TryAcquireSignerLease();
    ASSERT_TRUE(held.ok() && *held != nullptr) << round;
    EXPECT_EQ(*second.TryAcquireSignerLease(), nullptr);
    held->reset();
    auto taken = second.TryAcquireSignerLease();
    ASSERT_TRUE(taken.ok() && *taken != nullptr) << round;
    EXPECT_TRUE((*taken)->Valid());
    EXPECT_EQ(*table().TryAcquireSignerLease(), nullptr);
  }
}

// A database made before migration 0004 kept the checkpoint as a sentinel
// row of dnssec_signatures. Migrating turns a well-formed one into the
// checkpoint row and removes it from the signatures; the real signatures and
// the registry are untouched and keep serving.
TEST_P(SignatureTableConformanceTest, OldCheckpointRowBecomesTheCheckpoint) {
  if (IsMemory()) GTEST_SKIP() << "memory store has no schema";
  MigrateUpTo(3);
  InsertSchema3Rows(
      {{std::string("\x01\x31\x05\x65\x09", 5), std::string("\x00\x23", 2)},
       {OldSentinelOwner(),
        "lufd-sign-ahead-checkpoint v1 4242 1800000000 "
        "e164.arpa.:12345,54321"}});
  ASSERT_TRUE(store_->Migrate().ok());

  auto checkpoint = table().ReadSignerCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_TRUE(checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->serial, 4242u);
  EXPECT_EQ((*checkpoint)->full_pass_unix, 1800000000);
  EXPECT_EQ((*checkpoint)->keys, "e164.arpa.:12345,54321");

  uint64_t last = 0;
  std::vector<StoredSignature> rows = ScanAll(table(), 0, &last);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].owner, std::string("\x01\x31\x05\x65\x09", 5));
  EXPECT_EQ(rows[0].rrset_hash, static_cast<uint64_t>(-5));
  EXPECT_EQ(rows[0].rrsig_rdata, std::string("\x00\x23", 2));
  // Seqs go on from where the old table left them.
  ASSERT_TRUE(table().PutSignatures({Sig("new", 35, 1, 1, "x", 9)}).ok());
  EXPECT_GT(ScanAll(table(), last).at(0).seq, 2u);
  // And the registry serves and takes writes.
  auto serial = store_->LatestSerial();
  ASSERT_TRUE(serial.ok()) << serial.status();
  EXPECT_EQ(*serial, 0u);
  CommitRequest req;
  req.actor = "tester";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_ORG;
  m.key = "iana-en:1";
  m.after.emplace().mutable_org()->set_id("iana-en:1");
  req.mutations.push_back(m);
  auto committed = store_->Commit(req);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(*committed, 1u);
}

// A sentinel row that does not parse is dropped, and the migration still
// succeeds: no checkpoint, so the signer walks the registry once.
TEST_P(SignatureTableConformanceTest, MalformedOldCheckpointRowIsDropped) {
  if (IsMemory()) GTEST_SKIP() << "memory store has no schema";
  MigrateUpTo(3);
  // A serial that is no number, and bytes that are no text (PostgreSQL's
  // UTF-8 decoding would fail the migration on them).
  const std::string bad = "lufd-sign-ahead-checkpoint v1 12x 1800000000 k";
  InsertSchema3Rows({{OldSentinelOwner(), bad + std::string("\0\xff", 2)}});
  ASSERT_TRUE(store_->Migrate().ok());
  auto checkpoint = table().ReadSignerCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_FALSE(checkpoint->has_value());
  EXPECT_TRUE(ScanAll(table(), 0).empty());
}

}  // namespace
}  // namespace lufd::testing
