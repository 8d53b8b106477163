// ConnectionTable: the gRPC acceptor's caps bookkeeping and its sweep of
// connections gRPC closed (fake fstat: a map fd -> inode; fake TCP_INFO:
// the fds the server has sent on). Time is passed in.
#include "server/grpc/acceptor.h"

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

using Admit = ConnectionTable::Admit;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
const absl::Duration kHandshake = absl::Seconds(5);

// What fstat would say: the inode behind each open fd; and which fds the
// server has sent bytes on.
struct FakeFds {
  absl::flat_hash_map<int, uint64_t> open;
  absl::flat_hash_set<int> sent;
  uint64_t operator()(int fd) const {
    auto it = open.find(fd);
    return it == open.end() ? 0 : it->second;
  }
};

ConnectionTable::SweepResult Sweep(ConnectionTable& t, const FakeFds& fds,
                                   absl::Time now) {
  return t.Sweep(
      now, kHandshake, [&fds](int fd) { return fds(fd); },
      [&fds](int fd) { return fds.sent.contains(fd); });
}

TEST(ConnectionTableTest, PerSourceCap) {
  ConnectionTable t(/*max_total=*/10, /*max_per_source=*/2);
  EXPECT_EQ(t.Check(5, "10.0.0.1"), Admit::kOk);
  t.Add(5, 100, "10.0.0.1", kT0);
  EXPECT_EQ(t.Check(6, "10.0.0.1"), Admit::kOk);
  t.Add(6, 101, "10.0.0.1", kT0);
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
    t.Add(fd, 200 + fd, source, kT0);
  }
  EXPECT_EQ(t.total(), 3u);
  EXPECT_EQ(t.Check(13, "10.9.9.9"), Admit::kOverTotal);
}

TEST(ConnectionTableTest, SweepFreesClosedAndReusedDescriptors) {
  ConnectionTable t(/*max_total=*/2, /*max_per_source=*/2);
  FakeFds fds;
  t.Add(5, 100, "a", kT0);
  t.Add(6, 101, "a", kT0);
  fds.open = {{5, 100}, {6, 101}};
  EXPECT_EQ(Sweep(t, fds, kT0).closed, 0u);
  EXPECT_EQ(t.Check(7, "a"), Admit::kOverTotal);

  // gRPC closed fd 5; fd 6's number now names another socket (reused).
  fds.open = {{6, 555}};
  EXPECT_EQ(Sweep(t, fds, kT0 + absl::Seconds(1)).closed, 2u);
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
  t.Add(5, 100, "a", kT0);
  EXPECT_EQ(t.Check(6, "b"), Admit::kOverTotal);
  EXPECT_EQ(t.Check(5, "a"), Admit::kOk);
  t.Add(5, 300, "a", kT0);
  EXPECT_EQ(t.total(), 1u);
  EXPECT_EQ(t.from("a"), 1u);
  FakeFds fds;
  fds.open = {{5, 300}};
  EXPECT_EQ(Sweep(t, fds, kT0).closed, 0u);
  EXPECT_EQ(t.total(), 1u);
}

// Closed after the handshake timeout with nothing ever sent by the server:
// a handshake timeout. Closed earlier, or after the server had sent (a
// completed handshake, a served client): not one.
TEST(ConnectionTableTest, CountsHandshakeTimeouts) {
  ConnectionTable t(/*max_total=*/10, /*max_per_source=*/10);
  FakeFds fds;
  t.Add(1, 11, "a", kT0);  // Idle, outlives the timeout.
  t.Add(2, 12, "a", kT0);  // Served: the server sent its handshake.
  t.Add(3, 13, "a", kT0);  // Idle, closed early (by the client).
  fds.open = {{1, 11}, {2, 12}, {3, 13}};
  fds.sent = {2};
  EXPECT_EQ(Sweep(t, fds, kT0 + absl::Seconds(1)).closed, 0u);
  fds.open.erase(3);
  ConnectionTable::SweepResult r = Sweep(t, fds, kT0 + absl::Seconds(2));
  EXPECT_EQ(r.closed, 1u);
  EXPECT_EQ(r.handshake_timeouts, 0u);
  fds.open.clear();  // gRPC closed 1 (handshake deadline) and 2 (idle).
  fds.sent.clear();  // What was sent is remembered from earlier sweeps.
  r = Sweep(t, fds, kT0 + kHandshake + absl::Milliseconds(200));
  EXPECT_EQ(r.closed, 2u);
  EXPECT_EQ(r.handshake_timeouts, 1u);
  EXPECT_EQ(t.total(), 0u);
}

}  // namespace
}  // namespace lufd
