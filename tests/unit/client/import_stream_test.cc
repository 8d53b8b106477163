#include "client/import_stream.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"

namespace lufd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Records what it receives; fails at object index `fail_at` if >= 0.
class FakeAdmin final : public lufd::v1::AdminService::Service {
 public:
  grpc::Status Import(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<lufd::v1::ImportProgress, lufd::v1::ImportChunk>*
          stream) override {
    lufd::v1::ImportChunk chunk;
    uint64_t received = 0, committed = 0, serial = 0, pending = 0;
    auto progress = [&] {
      lufd::v1::ImportProgress p;
      p.set_received(received);
      p.set_committed(committed);
      p.set_serial(serial);
      return p;
    };
    while (stream->Read(&chunk)) {
      absl::MutexLock lock(&mu_);
      if (chunk.cancel()) {
        ++cancels_;
        committed_at_cancel_ = committed;
        stream->Write(progress());
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      chunk_sizes_.push_back(chunk.objects_size());
      end_batch_.push_back(chunk.end_batch());
      for (const auto& obj : chunk.objects()) {
        if (static_cast<int64_t>(received) == fail_at_) {
          if (!errors_.empty()) {
            // Like lufd: the last progress lists the batch's failures.
            lufd::v1::ImportProgress p = progress();
            for (const auto& e : errors_) *p.add_errors() = e;
            p.set_error_count(error_count_);
            stream->Write(p);
          }
          return grpc::Status(
              grpc::StatusCode::INVALID_ARGUMENT,
              absl::StrCat("object ", received, ": bad NAPTR regexp"));
        }
        values_.push_back(obj.identifier().value());
        ++received;
        ++pending;
      }
      if (chunk.end_batch()) {
        committed += pending;
        pending = 0;
        ++serial;
        if (static_cast<int64_t>(serial) == drop_after_batch_) {
          // Committed, but the connection breaks before the client hears.
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "socket closed");
        }
        if (on_commit_) {
          mu_.Unlock();  // The hook may sleep; tests read state meanwhile.
          on_commit_(serial);
          mu_.Lock();
        }
      }
      stream->Write(progress());
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  int64_t fail_at_ = -1;
  std::vector<lufd::v1::ImportError> errors_;  // Sent at fail_at_.
  uint64_t error_count_ = 0;
  int64_t drop_after_batch_ = -1;
  std::function<void(uint64_t batch)> on_commit_;
  int cancels_ = 0;
  uint64_t committed_at_cancel_ = 0;
  std::vector<int> chunk_sizes_;
  std::vector<bool> end_batch_;
  std::vector<std::string> values_;
};

class ImportStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = lufd::v1::AdminService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  static ImportPlan Plan(int n) {
    std::string csv = "tn,registrant,dest_groups\n";
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&csv, "+1202555", 1000 + i, ",org,dg\n");
    }
    return ParseImportCsv(csv);
  }

  // RunImport of `plan` in batches of `batch` objects, chunks of `chunk`,
  // filling `outcome`; other options from `opts`.
  absl::StatusOr<ImportResult> Import(const ImportPlan& plan, size_t batch,
                                      size_t chunk, ImportOutcome* outcome,
                                      ImportOptions opts = {}) {
    opts.batch_size = batch;
    opts.chunk_size = chunk;
    opts.outcome = outcome;
    grpc::ClientContext ctx;
    return RunImport(stub_.get(), &ctx, plan, opts);
  }

  FakeAdmin fake_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<lufd::v1::AdminService::Stub> stub_;
};

TEST_F(ImportStreamTest, ChunksAndBatches) {
  ImportPlan plan = Plan(25);
  ASSERT_TRUE(plan.ok());
  ImportOptions opts;
  opts.batch_size = 10;
  opts.chunk_size = 4;
  int progress_calls = 0;
  opts.on_progress = [&](const ImportProgressInfo& p) {
    ++progress_calls;
    EXPECT_EQ(p.total, 25u);
  };
  grpc::ClientContext ctx;
  auto result = RunImport(stub_.get(), &ctx, plan, opts);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->objects, 25u);
  EXPECT_EQ(result->committed, 25u);
  EXPECT_EQ(result->serial, 3u);
  EXPECT_GE(progress_calls, 1);
  absl::MutexLock lock(&fake_.mu_);
  // Batches 10,10,5 in chunks of 4: 4,4,2 | 4,4,2 | 4,1.
  EXPECT_THAT(fake_.chunk_sizes_,
              ::testing::ElementsAre(4, 4, 2, 4, 4, 2, 4, 1));
  EXPECT_THAT(fake_.end_batch_,
              ::testing::ElementsAre(false, false, true, false, false, true,
                                     false, true));
  ASSERT_EQ(fake_.values_.size(), 25u);
  EXPECT_EQ(fake_.values_[24], "+12025551024");
}

TEST_F(ImportStreamTest, WholeFileIsOneBatchByDefault) {
  ImportPlan plan = Plan(4500);
  grpc::ClientContext ctx;
  auto result = RunImport(stub_.get(), &ctx, plan, ImportOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->serial, 1u);
  absl::MutexLock lock(&fake_.mu_);
  EXPECT_THAT(fake_.chunk_sizes_, ::testing::ElementsAre(2000, 2000, 500));
}

TEST_F(ImportStreamTest, ServerErrorNamesTheCsvLine) {
  fake_.fail_at_ = 7;
  ImportPlan plan = Plan(20);
  ImportOptions opts;
  opts.chunk_size = 3;
  grpc::ClientContext ctx;
  auto result = RunImport(stub_.get(), &ctx, plan, opts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  // Object 7 is the 8th data row: line 9 (after the header).
  EXPECT_EQ(result.status().message(),
            "line 9 (tn +12025551007): bad NAPTR regexp");
}

// issue 7: the server names every failing object of the batch; each is
// mapped to its CSV line, and the outcome says what was committed.
TEST_F(ImportStreamTest, EveryServerErrorNamesItsLineAndWhatWasCommitted) {
  fake_.fail_at_ = 12;
  for (uint64_t index : {12, 14, 17}) {
    lufd::v1::ImportError e;
    e.set_index(index);
    e.set_message("destination group \"dg-x\" not found");
    fake_.errors_.push_back(e);
  }
  fake_.error_count_ = 5;  // Two more than listed.
  ImportPlan plan = Plan(20);
  ImportOutcome outcome;
  auto result = Import(plan, 10, 5, &outcome);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "line 14 (tn +12025551012): bad NAPTR regexp");
  EXPECT_EQ(outcome.committed, 10u);
  EXPECT_EQ(outcome.serial, 1u);
  EXPECT_EQ(outcome.error_count, 5u);
  EXPECT_THAT(outcome.errors,
              ::testing::ElementsAre(
                  "line 14 (tn +12025551012): destination group \"dg-x\" not "
                  "found",
                  "line 16 (tn +12025551014): destination group \"dg-x\" not "
                  "found",
                  "line 19 (tn +12025551017): destination group \"dg-x\" not "
                  "found"));
  std::string text = DescribeOutcome(outcome, CsvImportSource(plan));
  EXPECT_THAT(text, HasSubstr("committed 10 of 20 objects 1-10 (line 2 (tn "
                              "+12025551000) to line 11 (tn +12025551009)), "
                              "serial 1\n"));
  EXPECT_THAT(text, HasSubstr("5 failing object(s) in the failed batch"));
  EXPECT_THAT(text, HasSubstr("line 19 (tn +12025551017): destination"));
  EXPECT_THAT(text, HasSubstr("... and 2 more failing objects not listed"));
  EXPECT_THAT(text, Not(HasSubstr("unconfirmed")));
}

// An interrupt stops with a cancel chunk after what the server is
// committing, so the committed count is exact.
TEST_F(ImportStreamTest, InterruptStopsCleanlyAndSaysWhatWasCommitted) {
  std::atomic<bool> stop{false};
  fake_.on_commit_ = [&](uint64_t batch) {
    if (batch != 2) return;
    stop = true;
    // Slow commit: the client sees the flag while the server works.
    absl::SleepFor(absl::Seconds(1));
  };
  ImportPlan plan = Plan(50);
  ImportOptions opts;
  opts.stop = &stop;
  ImportOutcome outcome;
  auto result = Import(plan, 10, 5, &outcome, opts);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(outcome.interrupted);
  {
    absl::MutexLock lock(&fake_.mu_);
    EXPECT_EQ(fake_.cancels_, 1);
    // Exactly what the server had committed when it read the cancel (the
    // chunks sent before it are committed first).
    EXPECT_EQ(outcome.committed, fake_.committed_at_cancel_);
  }
  EXPECT_GE(outcome.committed, 20u);
  EXPECT_EQ(outcome.unconfirmed_end, 0u);
  std::string text = DescribeOutcome(outcome, CsvImportSource(plan));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("committed ", outcome.committed,
                                           " of 50 objects 1-")));
  EXPECT_THAT(text, HasSubstr("interrupted"));
}

// The same through a real SIGINT (what Ctrl-C sends to lufctl).
TEST_F(ImportStreamTest, SigintStopsTheImport) {
  fake_.on_commit_ = [](uint64_t batch) {
    if (batch != 1) return;
    std::raise(SIGINT);
    absl::SleepFor(absl::Seconds(1));
  };
  ImportPlan plan = Plan(40);
  ImportOptions opts;
  opts.stop_on_sigint = true;
  ImportOutcome outcome;
  auto result = Import(plan, 10, 5, &outcome, opts);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(outcome.interrupted);
  EXPECT_GE(outcome.committed, 10u);
  // The handler is gone afterwards: SIGINT is back to its default.
  struct sigaction now = {};
  sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

// A lost connection: what the server confirmed is committed; batches sent
// in full but not confirmed are named as uncertain.
TEST_F(ImportStreamTest, DroppedConnectionNamesTheUnconfirmedBatch) {
  fake_.drop_after_batch_ = 2;
  ImportPlan plan = Plan(30);
  ImportOutcome outcome;
  auto result = Import(plan, 10, 10, &outcome);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcome.committed, 10u);
  EXPECT_EQ(outcome.serial, 1u);
  EXPECT_GE(outcome.unconfirmed_end, 20u);
  std::string text = DescribeOutcome(outcome, CsvImportSource(plan));
  EXPECT_THAT(text, HasSubstr("committed 10 of 30 objects 1-10"));
  EXPECT_THAT(text, HasSubstr("unconfirmed: objects 11-"));
  EXPECT_THAT(text, HasSubstr("may be committed"));
}

TEST(MapObjectErrorTest, KeepsUnknownText) {
  ImportPlan plan = ParseImportCsv("tn,registrant,dest_groups\n+1202,o,d\n");
  EXPECT_EQ(MapObjectErrorToLine("object 0: x", plan), "line 2 (tn +1202): x");
  EXPECT_EQ(MapObjectErrorToLine("object 5: x", plan), "object 5: x");
  EXPECT_EQ(MapObjectErrorToLine("no index", plan), "no index");
  EXPECT_EQ(MapObjectErrorToLine("batch failed: object 0: y", plan),
            "batch failed: line 2 (tn +1202): y");
}

}  // namespace
}  // namespace lufd::client
