// ConnectionTable: the gRPC acceptor's caps bookkeeping and its sweep of
// connections gRPC closed (fake fstat: a map fd -> inode).
#include "server/grpc/acceptor.h"

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

using Admit = ConnectionTable::Admit;

// What fstat would say: the inode behind each open fd.
struct FakeFds {
  absl::flat_hash_map<int, uint64_t> open;
  uint64_t operator()(int fd) const {
    auto it = open.find(fd);
    return it == open.end() ? 0 : it->second;
  }
};

TEST(ConnectionTableTest, PerSourceCap) {
  ConnectionTable t(/*max_total=*/10, /*max_per_source=*/2);
  EXPECT_EQ(t.Check(5, "10.0.0.1"), Admit::kOk);
  t.Add(5, 100, "10.0.0.1");
  EXPECT_EQ(t.Check(6, "10.0.0.1"), Admit::kOk);
  t.Add(6, 101, "10.0.0.1");
  EXPECT_EQ(t.Check(7, "10.0.0.1"), Admit::kOverSource);
  // Another source is not affected.
  EXPECT_EQ(t.Check(7, "10.0.0.2"), Admit::kOk);
  EXPECT_EQ(t.from("10.0.0.1"), 2u);
  EXPECT_EQ(t.from("10.0.0.2"), 0u);
}

TEST(ConnectionTableTest, TotalCap) {
  ConnectionTable t(/*max_total=*/3, /*max_per_source=*/3);
  for (int fd = 10; fd < 13; ++fd) {
    const std::string source = "10.0.0." + std::to_string(fd);
    ASSERT_EQ(t.Check(fd, source), Admit::kOk);
    t.Add(fd, 200 + fd, source);
  }
  EXPECT_EQ(t.total(), 3u);
  EXPECT_EQ(t.Check(13, "10.9.9.9"), Admit::kOverTotal);
}

TEST(ConnectionTableTest, SweepFreesClosedAndReusedDescriptors) {
  ConnectionTable t(/*max_total=*/2, /*max_per_source=*/2);
  FakeFds fds;
  t.Add(5, 100, "a");
  t.Add(6, 101, "a");
  fds.open = {{5, 100}, {6, 101}};
  EXPECT_EQ(t.Sweep(fds), 0u);
  EXPECT_EQ(t.Check(7, "a"), Admit::kOverTotal);

  // gRPC closed fd 5; fd 6's number now names another socket (reused).
  fds.open = {{6, 555}};
  EXPECT_EQ(t.Sweep(fds), 2u);
  EXPECT_EQ(t.total(), 0u);
  EXPECT_EQ(t.from("a"), 0u);
  EXPECT_EQ(t.sources(), 0u);
  EXPECT_EQ(t.Check(7, "a"), Admit::kOk);
}

// The kernel only hands out a free number: an entry still holding the
// number of a newly accepted socket is a closed connection the sweep has
// not seen yet, and must not count against the caps.
TEST(ConnectionTableTest, ReusedNumberAtAcceptEndsOldEntry) {
  ConnectionTable t(/*max_total=*/1, /*max_per_source=*/1);
  t.Add(5, 100, "a");
  EXPECT_EQ(t.Check(6, "b"), Admit::kOverTotal);
  EXPECT_EQ(t.Check(5, "a"), Admit::kOk);
  t.Add(5, 300, "a");
  EXPECT_EQ(t.total(), 1u);
  EXPECT_EQ(t.from("a"), 1u);
  FakeFds fds;
  fds.open = {{5, 300}};
  EXPECT_EQ(t.Sweep(fds), 0u);
  EXPECT_EQ(t.total(), 1u);
}

}  // namespace
}  // namespace lufd
