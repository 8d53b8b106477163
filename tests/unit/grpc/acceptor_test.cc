// ConnectionTable: the gRPC acceptor's caps bookkeeping and its sweep of
// connections gRPC closed (fake fstat: a map fd -> inode; fake TCP_INFO:
// the fds the server has sent on). Time is passed in.
#include "server/grpc/acceptor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
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
  EXPECT_EQ(t.Check(7, "b"), Admit::kOverTotal);

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

// At the total cap, the oldest connection the server has not answered
// (older than min_age) makes room; answered and young ones never do.
TEST(ConnectionTableTest, EvictionCandidateIsTheOldestSilentOne) {
  ConnectionTable t(/*max_total=*/3, /*max_per_source=*/3);
  FakeFds fds;
  auto sent = [&fds](int fd) { return fds.sent.contains(fd); };
  const absl::Duration min_age = absl::Milliseconds(200);
  uint64_t inode = 0;
  t.Add(1, 11, "a", kT0);
  t.Add(2, 12, "b", kT0 + absl::Milliseconds(10));
  t.Add(3, 13, "c", kT0 + absl::Milliseconds(20));
  fds.sent = {1};  // A client mid-handshake (or served): kept.
  EXPECT_EQ(t.Check(4, "d"), Admit::kOverTotal);
  // All of them too young yet.
  EXPECT_EQ(
      t.EvictionCandidate(kT0 + absl::Milliseconds(100), min_age, sent, &inode),
      -1);
  const absl::Time t1 = kT0 + absl::Seconds(1);
  EXPECT_EQ(t.EvictionCandidate(t1, min_age, sent, &inode), 2);
  EXPECT_EQ(inode, 12u);
  t.Evict(2);
  EXPECT_EQ(t.from("b"), 0u);
  EXPECT_EQ(t.Check(4, "d"), Admit::kOk);
  t.Add(4, 14, "d", t1);
  EXPECT_EQ(t.EvictionCandidate(t1, min_age, sent, &inode), 3);
  t.Evict(3);
  // 1 has spoken and 4 is young: nobody to evict, refuse.
  EXPECT_EQ(
      t.EvictionCandidate(t1 + absl::Milliseconds(100), min_age, sent, &inode),
      -1);
  // Once answered, never evicted, even if TCP_INFO were to say otherwise.
  fds.sent.clear();
  EXPECT_EQ(t.EvictionCandidate(t1 + absl::Seconds(1), min_age, sent, &inode),
            4);
}

// Many accepts and closes without evictions keep the queue bounded, and a
// reused fd number is not mistaken for the old connection.
TEST(ConnectionTableTest, EvictionQueueSkipsClosedAndStaysBounded) {
  ConnectionTable t(/*max_total=*/10, /*max_per_source=*/10);
  FakeFds fds;
  auto sent = [&fds](int fd) { return fds.sent.contains(fd); };
  uint64_t inode = 0;
  for (int i = 0; i < 10000; ++i) {
    t.Add(7, 1000 + i, "a", kT0 + absl::Milliseconds(i));
    ASSERT_EQ(t.total(), 1u);
  }
  t.Add(8, 5, "a", kT0 + absl::Seconds(20));
  // fd 7 is the oldest live entry (inode 10999), not its 9,999 closed
  // predecessors.
  EXPECT_EQ(t.EvictionCandidate(kT0 + absl::Seconds(30), absl::Milliseconds(1),
                                sent, &inode),
            7);
  EXPECT_EQ(inode, 10999u);
}

// The socket side, with a sink standing in for gRPC: it keeps the fds it
// is handed, and closing one (as gRPC would) frees its slot.
class FakeSink : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  explicit FakeSink(std::vector<int>* fds, absl::Mutex* mu)
      : fds_(fds), mu_(mu) {}
  void HandleNewConnection(NewConnectionParameters* p) override {
    absl::MutexLock lock(mu_);
    fds_->push_back(p->fd);
  }

 private:
  std::vector<int>* fds_;
  absl::Mutex* mu_;
};

// A client socket from `source` (a 127/8 address) to 127.0.0.1:port.
int ConnectFrom(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, source, &a.sin_addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Bounded wait (10 s) for a condition the accept thread makes true.
template <typename F>
bool WaitFor(F f) {
  for (int i = 0; i < 1000; ++i) {
    if (f()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return f();
}

TEST(GrpcAcceptorTest, CapsRefuseAndClosedConnectionsFreeSlots) {
  GrpcAcceptor::Options options;
  options.listen = "127.0.0.1:0";
  options.max_connections = 4;
  options.max_connections_per_source = 2;
  options.sweep_interval = absl::Milliseconds(20);
  options.evict_min_age = absl::Hours(1);  // No eviction here.
  absl::StatusOr<std::unique_ptr<GrpcAcceptor>> acceptor =
      GrpcAcceptor::Listen(options);
  ASSERT_TRUE(acceptor.ok()) << acceptor.status();
  GrpcAcceptor& a = **acceptor;
  ASSERT_GT(a.port(), 0);
  absl::Mutex mu;
  std::vector<int> handed;
  auto handed_count = [&] {
    absl::MutexLock lock(&mu);
    return handed.size();
  };
  a.Start(std::make_unique<FakeSink>(&handed, &mu));

  std::vector<int> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(ConnectFrom("127.0.0.2", a.port()));
  ASSERT_TRUE(WaitFor([&] { return a.stats().refused_per_source == 1; }));
  EXPECT_EQ(handed_count(), 2u);
  // The refused one is reset, not left open.
  char byte;
  EXPECT_EQ(recv(clients[2], &byte, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);

  for (int i = 0; i < 2; ++i)
    clients.push_back(ConnectFrom("127.0.0.3", a.port()));
  ASSERT_TRUE(WaitFor([&] { return handed_count() == 4; }));
  clients.push_back(ConnectFrom("127.0.0.4", a.port()));
  ASSERT_TRUE(WaitFor([&] { return a.stats().refused_total == 1; }));
  EXPECT_EQ(handed_count(), 4u);

  // "gRPC" closes one connection: the sweep frees its slot.
  {
    absl::MutexLock lock(&mu);
    close(handed[0]);
  }
  ASSERT_TRUE(WaitFor([&] { return a.stats().closed == 1; }));
  clients.push_back(ConnectFrom("127.0.0.4", a.port()));
  ASSERT_TRUE(WaitFor([&] { return handed_count() == 5; }));
  const GrpcAcceptor::Stats s = a.stats();
  EXPECT_EQ(s.accepted, 5u);
  EXPECT_EQ(s.open, 4u);

  a.Stop();
  absl::MutexLock lock(&mu);
  for (size_t i = 1; i < handed.size(); ++i) close(handed[i]);
  for (int fd : clients) close(fd);
}

// At the total cap a new client makes room by evicting the oldest silent
// connection: shut down (the client sees EOF), not refused.
TEST(GrpcAcceptorTest, AtTheTotalCapTheOldestSilentConnectionMakesRoom) {
  GrpcAcceptor::Options options;
  options.listen = "127.0.0.1:0";
  options.max_connections = 2;
  options.max_connections_per_source = 2;
  options.evict_min_age = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<GrpcAcceptor>> acceptor =
      GrpcAcceptor::Listen(options);
  ASSERT_TRUE(acceptor.ok()) << acceptor.status();
  GrpcAcceptor& a = **acceptor;
  absl::Mutex mu;
  std::vector<int> handed;
  auto handed_count = [&] {
    absl::MutexLock lock(&mu);
    return handed.size();
  };
  a.Start(std::make_unique<FakeSink>(&handed, &mu));
  const int old1 = ConnectFrom("127.0.0.2", a.port());
  ASSERT_TRUE(WaitFor([&] { return handed_count() == 1; }));
  const int old2 = ConnectFrom("127.0.0.2", a.port());
  ASSERT_TRUE(WaitFor([&] { return handed_count() == 2; }));
  const int fresh = ConnectFrom("127.0.0.3", a.port());
  ASSERT_TRUE(WaitFor([&] { return handed_count() == 3; }));
  const GrpcAcceptor::Stats s = a.stats();
  EXPECT_EQ(s.evicted, 1u);
  EXPECT_EQ(s.refused_total, 0u);
  char byte;
  EXPECT_EQ(recv(old1, &byte, 1, 0), 0);  // The oldest: EOF.
  a.Stop();
  absl::MutexLock lock(&mu);
  for (int fd : handed) close(fd);
  for (int fd : {old1, old2, fresh}) close(fd);
}

}  // namespace
}  // namespace lufd
