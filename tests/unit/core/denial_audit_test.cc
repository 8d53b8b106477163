// DenialRecorder (server/core/denial_audit.h): aggregation of identical
// denials, the bound on distinct entries per window with the overflow
// count and its summary row, flushing in batches to the Store (trimmed to
// max_rows), memory-only mode, and the record built from a refusal's
// payloads.
#include "server/core/denial_audit.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/denial.h"
#include "storage/store.h"

namespace lufd {
namespace {

DenialRecord Denial(const std::string& actor, const std::string& reason,
                    const std::string& method = "Put") {
  DenialRecord d;
  d.actor = actor;
  d.peer = "ipv4:127.0.0.1";
  d.method = method;
  d.object = "identifier +12026661234";
  d.reason = reason;
  d.code = static_cast<int32_t>(absl::StatusCode::kPermissionDenied);
  return d;
}

// Counts AppendDenials calls (each is one transaction).
class CountingStore : public Store {
 public:
  CountingStore() : inner_(*Store::Open("memory:")) {}
  int appends = 0;
  bool fail = false;
  bool read_only = false;

  std::string Backend() const override { return "memory"; }
  absl::Status Migrate() override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override {
    return inner_->MigrationStatus();
  }
  absl::StatusOr<uint64_t> Commit(const CommitRequest& r) override {
    return inner_->Commit(r);
  }
  absl::StatusOr<uint64_t> LatestSerial() override {
    return inner_->LatestSerial();
  }
  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                               const lufd::v1::RegistryObject&)>& fn) override {
    return inner_->LoadSnapshot(fn);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> ReadChanges(
      uint64_t after, uint32_t max) override {
    return inner_->ReadChanges(after, max);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> Audit(
      const AuditQuery& q) override {
    return inner_->Audit(q);
  }
  absl::StatusOr<bool> IsReadOnly() override { return read_only; }
  SignatureTable* Signatures() override { return inner_->Signatures(); }
  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override {
    return inner_->ReadObject(kind, key);
  }
  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override {
    ++appends;
    if (read_only) {
      return absl::FailedPreconditionError("store is a read-only standby");
    }
    if (fail) return absl::UnavailableError("database went away");
    return inner_->AppendDenials(records, max_rows);
  }
  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& q) override {
    return inner_->ReadDenials(q);
  }

 private:
  std::unique_ptr<Store> inner_;
};

DenialQuery Limit(uint32_t limit) {
  DenialQuery q;
  q.limit = limit;
  return q;
}
DenialQuery Actor(const std::string& actor) {
  DenialQuery q;
  q.actor = actor;
  return q;
}

DenialRecorder::Options Manual(uint64_t max_rows = 100,
                               size_t max_pending = 10) {
  DenialRecorder::Options o;
  o.max_rows = max_rows;
  o.max_pending = max_pending;
  o.background_flush = false;
  return o;
}

TEST(DenialRecorderTest, IdenticalDenialsAggregateIntoOneRowWithCount) {
  CountingStore store;
  DenialRecorder recorder(&store, Manual());
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 500; ++i) {
    recorder.Record(Denial("iana-en:111/reg", "holding of iana-en:222"),
                    t0 + absl::Milliseconds(i));
  }
  recorder.Record(Denial("iana-en:111/reg", "another reason"), t0);
  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(store.appends, 1);  // One batch, not 501 writes.
  auto rows = recorder.List(DenialQuery{});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  const DenialRecord* big = (*rows)[0].count == 500 ? &(*rows)[0] : &(*rows)[1];
  EXPECT_EQ(big->count, 500u);
  EXPECT_EQ(big->reason, "holding of iana-en:222");
  EXPECT_EQ(big->object, "identifier +12026661234");
  EXPECT_EQ(big->first_unix_micros, absl::ToUnixMicros(t0));
  EXPECT_EQ(big->last_unix_micros,
            absl::ToUnixMicros(t0 + absl::Milliseconds(499)));
  EXPECT_EQ(recorder.stats().recorded, 501u);
}

TEST(DenialRecorderTest, DistinctEntriesAreBoundedAndOverflowIsCounted) {
  CountingStore store;
  DenialRecorder recorder(&store, Manual(/*max_rows=*/100, /*max_pending=*/10));
  // A flooder varying its requests: 1,000 distinct denials in one window.
  for (int i = 0; i < 1000; ++i) {
    recorder.Record(Denial("spki:abc", absl::StrCat("bad key ", i)));
  }
  EXPECT_EQ(recorder.stats().not_itemized, 990u);
  ASSERT_TRUE(recorder.Flush().ok());
  auto rows = recorder.List(Limit(1000));
  ASSERT_TRUE(rows.ok());
  // 10 itemized rows and one summary row standing for the other 990.
  ASSERT_EQ(rows->size(), 11u);
  uint64_t total = 0;
  const DenialRecord* summary = nullptr;
  for (const DenialRecord& r : *rows) {
    total += r.count;
    if (r.method == "*") summary = &r;
  }
  EXPECT_EQ(total, 1000u);
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ(summary->count, 990u);
  EXPECT_EQ(summary->code, 0);
  EXPECT_NE(summary->reason.find("990 denials not itemized"),
            std::string::npos);
}

TEST(DenialRecorderTest, TableIsTrimmedToMaxRowsAcrossFlushes) {
  CountingStore store;
  DenialRecorder recorder(&store, Manual(/*max_rows=*/25, /*max_pending=*/10));
  for (int window = 0; window < 10; ++window) {
    for (int i = 0; i < 10; ++i) {
      recorder.Record(Denial("a", absl::StrCat(window, "/", i)));
    }
    ASSERT_TRUE(recorder.Flush().ok());
  }
  auto rows = store.ReadDenials(Limit(1000));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 25u);
  EXPECT_EQ(store.appends, 10);
}

TEST(DenialRecorderTest, FieldsAreClippedAndControlBytesReplaced) {
  CountingStore store;
  DenialRecorder recorder(&store, Manual());
  DenialRecord d = Denial(std::string(5000, 'x'), "line1\nline2\x1b[31m");
  recorder.Record(d);
  auto rows = recorder.List(DenialQuery{});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_LE((*rows)[0].actor.size(), kMaxFieldBytes + 3);
  EXPECT_EQ((*rows)[0].reason, "line1?line2?[31m");
}

TEST(DenialRecorderTest, FailedFlushKeepsTheWindowBounded) {
  CountingStore store;
  DenialRecorder recorder(&store, Manual(/*max_rows=*/100, /*max_pending=*/5));
  store.fail = true;
  for (int i = 0; i < 20; ++i) recorder.Record(Denial("a", absl::StrCat(i)));
  EXPECT_FALSE(recorder.Flush().ok());
  for (int i = 0; i < 20; ++i) recorder.Record(Denial("b", absl::StrCat(i)));
  store.fail = false;
  ASSERT_TRUE(recorder.Flush().ok());
  auto rows = store.ReadDenials(Limit(1000));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 6u);  // 5 itemized + 1 summary.
  uint64_t total = 0;
  for (const DenialRecord& r : *rows) total += r.count;
  EXPECT_EQ(total, 40u);  // Nothing lost from the counts.
  EXPECT_EQ(recorder.stats().flush_failures, 1u);
}

TEST(DenialRecorderTest, ReadOnlyStoreKeepsRowsInMemoryOnly) {
  CountingStore store;
  store.read_only = true;
  DenialRecorder recorder(&store, Manual(/*max_rows=*/3));
  EXPECT_TRUE(recorder.memory_only());
  for (int i = 0; i < 5; ++i) {
    recorder.Record(Denial("a", absl::StrCat(i)));
    ASSERT_TRUE(recorder.Flush().ok());
  }
  EXPECT_EQ(store.appends, 0);
  auto rows = recorder.List(DenialQuery{});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);        // The ring keeps max_rows.
  EXPECT_EQ((*rows)[0].reason, "4");  // Newest first.
  auto only_b = recorder.List(Actor("b"));
  ASSERT_TRUE(only_b.ok());
  EXPECT_TRUE(only_b->empty());
}

TEST(DenialRecorderTest, BackgroundThreadFlushes) {
  CountingStore store;
  DenialRecorder::Options o = Manual();
  o.background_flush = true;
  o.flush_interval = absl::Milliseconds(20);
  DenialRecorder recorder(&store, o);
  recorder.Record(Denial("a", "r"));
  for (int i = 0; i < 200 && recorder.stats().rows_flushed == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(recorder.stats().rows_flushed, 1u);
  auto rows = store.ReadDenials(DenialQuery{});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

TEST(DenialRecordTest, BuiltFromRefusalPayloads) {
  absl::Status refusal =
      WithDenialReason(absl::PermissionDeniedError("permission denied"),
                       "+12026661234 lies in a holding of iana-en:222");
  refusal = WithDenialObject(refusal, "identifier +12026661234");
  DenialRecord d =
      MakeDenialRecord(refusal, "iana-en:111/reg", "ipv4:10.1.2.3:4567", "Put");
  EXPECT_EQ(d.actor, "iana-en:111/reg");
  EXPECT_EQ(d.peer, "ipv4:10.1.2.3");
  EXPECT_EQ(d.method, "Put");
  EXPECT_EQ(d.object, "identifier +12026661234");
  EXPECT_EQ(d.reason, "+12026661234 lies in a holding of iana-en:222");
  EXPECT_EQ(d.code, static_cast<int>(absl::StatusCode::kPermissionDenied));

  absl::Status unauth = WithDenialActor(
      absl::UnauthenticatedError("certificate revoked"), "spki:00ff", "CN=x");
  DenialRecord u = MakeDenialRecord(unauth, "", "ipv6:[::1]:5555", "Lookup");
  EXPECT_EQ(u.actor, "spki:00ff");
  EXPECT_EQ(u.subject, "CN=x");
  EXPECT_EQ(u.peer, "ipv6:[::1]");
  EXPECT_EQ(u.reason, "certificate revoked");
  EXPECT_EQ(
      MakeDenialRecord(absl::UnauthenticatedError("no cert"), "", "x", "Lookup")
          .actor,
      "unauthenticated");
}

TEST(DenialRecordTest, WhichCodesAreDenials) {
  EXPECT_TRUE(IsDenial(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(IsDenial(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(IsDenial(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(IsDenial(absl::StatusCode::kNotFound));
  EXPECT_FALSE(IsDenial(absl::StatusCode::kOk));
  EXPECT_FALSE(IsDenial(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace lufd
