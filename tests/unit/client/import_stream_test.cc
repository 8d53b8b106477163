#include "client/import_stream.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lufd/v1/admin.grpc.pb.h"

namespace lufd::client {
namespace {

using ::testing::HasSubstr;

// Records what it receives; fails at object index `fail_at` if >= 0.
class FakeAdmin final : public lufd::v1::AdminService::Service {
 public:
  grpc::Status Import(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<lufd::v1::ImportProgress, lufd::v1::ImportChunk>*
          stream) override {
    lufd::v1::ImportChunk chunk;
    uint64_t received = 0, committed = 0, serial = 0, pending = 0;
    while (stream->Read(&chunk)) {
      absl::MutexLock lock(&mu_);
      chunk_sizes_.push_back(chunk.objects_size());
      end_batch_.push_back(chunk.end_batch());
      for (const auto& obj : chunk.objects()) {
        if (static_cast<int64_t>(received) == fail_at_) {
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
      }
      lufd::v1::ImportProgress p;
      p.set_received(received);
      p.set_committed(committed);
      p.set_serial(serial);
      stream->Write(p);
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  int64_t fail_at_ = -1;
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
