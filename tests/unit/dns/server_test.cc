// DnsServer over real loopback sockets with a fake processor: UDP (IPv4 and
// IPv6), TCP framing and pipelining, connection caps, idle and slow-loris
// timeouts, garbage input, TSIG outcomes, and a clean Stop().
#include "server/dns/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/dns/tsig.h"
#include "server/dns/wire.h"
#include "tests/unit/testing/eventually.h"
#include "tests/unit/testing/tsig_keys.h"

namespace lufd::dns {
namespace {

using ::lufd::testing::Eventually;

constexpr const char* kSecret = testing::kPeerKeySecret;

// Answers every good query with one TXT-like record whose RDATA names the
// viewer's org ("anonymous" when none), so tests see which identity the
// server passed; FORMERR / NOTIMP otherwise.
class FakeProcessor : public QueryProcessor {
 public:
  size_t Respond(const ParsedQuery& query, ParseResult parsed,
                 const Identity& viewer, Transport transport,
                 const ClientAddress& client, uint8_t* out,
                 size_t limit) override {
    {
      absl::MutexLock lock(&mu_);
      last_transport_ = transport;
      last_client_ = client;
    }
    ResponseWriter w(out, limit);
    if (parsed == ParseResult::kFormErr) {
      bool ok = query.has_question
                    ? w.Start(query, kFlagQR, kRcodeFormErr)
                    : w.StartNoQuestion(query.id, kFlagQR, kRcodeFormErr);
      return ok ? w.size() : 0;
    }
    if (parsed == ParseResult::kNotImp) {
      return w.Start(query, kFlagQR, kRcodeNotImp) ? w.size() : 0;
    }
    if (!w.Start(query, kFlagQR | kFlagAA, kRcodeNoError)) return 0;
    std::string who = viewer.anonymous() ? "anonymous" : viewer.org_id;
    std::string rdata(1, static_cast<char>(who.size()));
    rdata += who;
    w.AppendRrAtQnameSuffix(ResponseWriter::Section::kAnswer, 0,
                            RrTail(16, kClassIN, 60, rdata));
    return w.size();
  }

  bool DropUnansweredUdp(const ClientAddress& client) override {
    (void)client;
    return drop_unanswered_.load();
  }
  std::atomic<bool> drop_unanswered_{false};

  Transport last_transport() {
    absl::MutexLock lock(&mu_);
    return last_transport_;
  }
  ClientAddress last_client() {
    absl::MutexLock lock(&mu_);
    return last_client_;
  }

 private:
  absl::Mutex mu_;
  Transport last_transport_ = Transport::kUdp;
  ClientAddress last_client_;
};

std::vector<uint8_t> Query(uint16_t id, const char* name = "6.6.e164.arpa.",
                           uint16_t type = 35) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8),
                            static_cast<uint8_t>(id & 0xff),
                            0x01,
                            0x00,
                            0,
                            1,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0};
  const std::string wire = *NameFromText(name);
  q.insert(q.end(), wire.begin(), wire.end());
  q.insert(q.end(), {static_cast<uint8_t>(type >> 8),
                     static_cast<uint8_t>(type & 0xff), 0, 1});
  return q;
}

uint16_t Id(const std::vector<uint8_t>& r) {
  return static_cast<uint16_t>((r[0] << 8) | r[1]);
}
uint16_t Rcode(const std::vector<uint8_t>& r) { return r[3] & 0x0f; }
bool Contains(const std::vector<uint8_t>& r, const std::string& s) {
  return std::search(r.begin(), r.end(), s.begin(), s.end()) != r.end();
}

// The one place the response size limit is decided.
TEST(ResponseLimitTest, UdpTakesTheSmallerOfOursAndTheClients) {
  ParsedQuery q;
  q.has_edns = false;
  EXPECT_EQ(ResponseLimit(q, Transport::kUdp, 1232), 512u);
  EXPECT_EQ(ResponseLimit(q, Transport::kTcp, 65535), 65535u);
  q.has_edns = true;
  q.udp_payload = 300;  // Below 512 counts as 512.
  EXPECT_EQ(ResponseLimit(q, Transport::kUdp, 1232), 512u);
  q.udp_payload = 1000;
  EXPECT_EQ(ResponseLimit(q, Transport::kUdp, 1232), 1000u);
  q.udp_payload = 4096;
  EXPECT_EQ(ResponseLimit(q, Transport::kUdp, 1232), 1232u);
  EXPECT_EQ(ResponseLimit(q, Transport::kTls, 65535), 65535u);
  EXPECT_EQ(ResponseLimit(q, Transport::kTcp, 100000), 65535u);
}

class DnsServerTest : public ::testing::Test {
 protected:
  void StartServer(DnsServer::Options options) {
    if (options.listen.empty()) {
      options.listen = {"127.0.0.1:0", "[::1]:0"};
    }
    if (options.workers == 0) options.workers = 2;
    absl::StatusOr<std::unique_ptr<DnsServer>> s = DnsServer::Start(
        options, &processor_, testing::PeerKeyLookup(), nullptr);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_GE(server_->bound().size(), 1u);
    port_ = server_->bound()[0].port;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  sockaddr_in Addr4() const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    return a;
  }

  // One UDP exchange; nullopt on a 2 s timeout.
  std::optional<std::vector<uint8_t>> Udp(const std::vector<uint8_t>& q,
                                          bool v6 = false) {
    const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    EXPECT_GE(fd, 0);
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(server_->bound()[1].port));
      inet_pton(AF_INET6, "::1", &a.sin6_addr);
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    } else {
      sockaddr_in a = Addr4();
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    }
    send(fd, q.data(), q.size(), 0);
    std::optional<std::vector<uint8_t>> result;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) == 1) {
      std::vector<uint8_t> buf(65535);
      const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n > 0) {
        buf.resize(static_cast<size_t>(n));
        result = buf;
      }
    }
    close(fd);
    return result;
  }

  // A query signed with the test peer's TSIG key (iana-en:111).
  static std::vector<uint8_t> PeerSignedQuery(uint16_t id) {
    std::vector<uint8_t> q = Query(id);
    const size_t size = q.size();
    q.resize(size + 200);
    std::string mac;
    q.resize(SignQuery(q.data(), size, q.size(), *NameFromText("peer-key."),
                       kSecret, static_cast<uint64_t>(time(nullptr)), &mac));
    return q;
  }

  int TcpConnect() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Addr4();
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    return fd;
  }

  static void TcpSend(int fd, const std::vector<uint8_t>& q) {
    std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8),
                                   static_cast<uint8_t>(q.size() & 0xff)};
    framed.insert(framed.end(), q.begin(), q.end());
    ASSERT_EQ(send(fd, framed.data(), framed.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(framed.size()));
  }

  // Reads exactly n bytes within `ms`; false on EOF/timeout.
  static bool ReadExactly(int fd, uint8_t* buf, size_t n, int ms) {
    size_t got = 0;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (got < n) {
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now())
              .count());
      if (left <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, left) != 1) return false;
      const ssize_t r = recv(fd, buf + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

  static std::optional<std::vector<uint8_t>> TcpReceive(int fd, int ms = 2000) {
    uint8_t len[2];
    if (!ReadExactly(fd, len, 2, ms)) return std::nullopt;
    std::vector<uint8_t> msg((len[0] << 8) | len[1]);
    if (!ReadExactly(fd, msg.data(), msg.size(), ms)) return std::nullopt;
    return msg;
  }

  // True when the peer closed the connection within `ms`.
  static bool ClosedWithin(int fd, int ms) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    uint8_t buf[512];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        const ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r <= 0) return true;
      }
    }
    return false;
  }

  FakeProcessor processor_;
  std::unique_ptr<DnsServer> server_;
  int port_ = 0;
};

TEST_F(DnsServerTest, UdpOverIpv4AndIpv6OnTheSamePortNumberPerAddress) {
  StartServer({});
  ASSERT_EQ(server_->bound().size(), 2u);
  EXPECT_EQ(server_->bound()[0].transport, "udp+tcp");
  EXPECT_EQ(server_->bound()[1].address.rfind("[::1]:", 0), 0u);
  auto r = Udp(Query(7));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Id(*r), 7);
  EXPECT_EQ(Rcode(*r), kRcodeNoError);
  EXPECT_TRUE(Contains(*r, "anonymous"));
  ClientAddress client = processor_.last_client();
  ASSERT_EQ(client.size, 4);
  EXPECT_EQ(client.raw(), absl::string_view("\x7f\0\0\x01", 4));
  auto r6 = Udp(Query(8), /*v6=*/true);
  ASSERT_TRUE(r6.has_value());
  EXPECT_EQ(Id(*r6), 8);
  EXPECT_GE(server_->stats().udp_queries.load(), 2u);
  client = processor_.last_client();
  ASSERT_EQ(client.size, 16);
  EXPECT_EQ(client.raw(),
            absl::string_view("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16));
}

TEST_F(DnsServerTest, WildcardAddressesAnswerFromTheQueriedAddress) {
  DnsServer::Options o;
  o.listen = {"0.0.0.0:0", "[::]:0"};
  StartServer(o);
  // Udp() uses connected sockets, which only accept a reply from the
  // address they sent to.
  auto r = Udp(Query(11));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Id(*r), 11);
  auto r6 = Udp(Query(12), /*v6=*/true);
  ASSERT_TRUE(r6.has_value());
  EXPECT_EQ(Id(*r6), 12);
}

TEST_F(DnsServerTest, ManyUdpQueriesAllAnswered) {
  DnsServer::Options o;
  o.udp_batch = 4;
  StartServer(o);
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = Addr4();
  connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    std::vector<uint8_t> q = Query(static_cast<uint16_t>(1000 + i));
    send(fd, q.data(), q.size(), 0);
  }
  std::vector<bool> seen(kCount, false);
  int got = 0;
  std::vector<uint8_t> buf(4096);
  while (got < kCount) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) break;
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 12) continue;
    const int id = ((buf[0] << 8) | buf[1]) - 1000;
    if (id >= 0 && id < kCount && !seen[id]) {
      seen[id] = true;
      ++got;
    }
  }
  close(fd);
  EXPECT_EQ(got, kCount);
}

TEST_F(DnsServerTest, GarbageNeverStopsTheServer) {
  StartServer({});
  std::vector<std::vector<uint8_t>> bad = {
      {},
      {0x01},
      {0x12, 0x34, 0x01},
      // Header claiming a question that is not there.
      {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0},
      // A compression pointer to itself as the qname.
      {0xab, 0xce, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},
      // A response (QR set).
      {0xab, 0xcf, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
  };
  std::vector<uint8_t> random(300);
  for (size_t i = 0; i < random.size(); ++i) {
    random[i] = static_cast<uint8_t>((i * 131 + 17) & 0xff);
  }
  bad.push_back(random);
  for (const auto& b : bad) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a = Addr4();
    sendto(fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&a),
           sizeof(a));
    close(fd);
  }
  // And over TCP, including a zero-length frame.
  int fd = TcpConnect();
  const uint8_t zero[2] = {0, 0};
  send(fd, zero, 2, MSG_NOSIGNAL);
  EXPECT_TRUE(ClosedWithin(fd, 2000));
  close(fd);
  fd = TcpConnect();
  TcpSend(fd, {0xab, 0xce, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1,
               0, 1});
  auto formerr = TcpReceive(fd);
  ASSERT_TRUE(formerr.has_value());
  EXPECT_EQ(Rcode(*formerr), kRcodeFormErr);
  close(fd);

  auto r = Udp(Query(99));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Id(*r), 99);
  EXPECT_EQ(Rcode(*r), kRcodeNoError);
}

TEST_F(DnsServerTest, TcpPipelinedQueriesInOneWrite) {
  StartServer({});
  const int fd = TcpConnect();
  std::vector<uint8_t> all;
  for (uint16_t id = 1; id <= 5; ++id) {
    std::vector<uint8_t> q = Query(id);
    all.push_back(static_cast<uint8_t>(q.size() >> 8));
    all.push_back(static_cast<uint8_t>(q.size() & 0xff));
    all.insert(all.end(), q.begin(), q.end());
  }
  ASSERT_EQ(send(fd, all.data(), all.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(all.size()));
  std::vector<bool> seen(6, false);
  for (int i = 0; i < 5; ++i) {
    auto r = TcpReceive(fd);
    ASSERT_TRUE(r.has_value()) << "answer " << i;
    const uint16_t id = Id(*r);
    ASSERT_TRUE(id >= 1 && id <= 5);
    seen[id] = true;
  }
  for (int id = 1; id <= 5; ++id) EXPECT_TRUE(seen[id]) << id;
  EXPECT_EQ(processor_.last_transport(), Transport::kTcp);
  // The guard charges anonymous clients by their address: it must arrive.
  const ClientAddress client = processor_.last_client();
  ASSERT_EQ(client.size, 4);
  EXPECT_EQ(client.raw(), absl::string_view("\x7f\0\0\x01", 4));
  // The connection stays open for more.
  TcpSend(fd, Query(6));
  auto r = TcpReceive(fd);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Id(*r), 6);
  close(fd);
}

TEST_F(DnsServerTest, TcpMessageSplitAcrossWrites) {
  StartServer({});
  const int fd = TcpConnect();
  std::vector<uint8_t> q = Query(77);
  std::vector<uint8_t> framed = {0, static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  for (uint8_t b : framed) {
    ASSERT_EQ(send(fd, &b, 1, MSG_NOSIGNAL), 1);
    // Deliberate: a gap between bytes so they arrive as separate reads.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto r = TcpReceive(fd);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Id(*r), 77);
  close(fd);
}

TEST_F(DnsServerTest, IdleAndSlowLorisConnectionsAreClosed) {
  DnsServer::Options o;
  o.tcp_idle_timeout = absl::Milliseconds(300);
  StartServer(o);
  const int idle = TcpConnect();
  const int loris = TcpConnect();
  // Half a message, then a byte every 100 ms: activity, but never a whole
  // message, so the idle timer is not refreshed.
  const uint8_t head[3] = {0, 40, 0x12};
  send(loris, head, 3, MSG_NOSIGNAL);
  bool loris_closed = false;
  for (int i = 0; i < 20 && !loris_closed; ++i) {
    const uint8_t b = 0;
    if (send(loris, &b, 1, MSG_NOSIGNAL) != 1) loris_closed = true;
    if (ClosedWithin(loris, 100)) loris_closed = true;
  }
  EXPECT_TRUE(loris_closed);
  EXPECT_TRUE(ClosedWithin(idle, 2000));
  close(idle);
  close(loris);
  EXPECT_GE(server_->stats().tcp_idle_closed.load(), 2u);
}

TEST_F(DnsServerTest, PerSourceAndTotalConnectionCaps) {
  DnsServer::Options o;
  o.max_tcp_per_source = 2;
  StartServer(o);
  const int a = TcpConnect();
  const int b = TcpConnect();
  // Make sure both were accepted (answered) before the third arrives.
  TcpSend(a, Query(1));
  ASSERT_TRUE(TcpReceive(a).has_value());
  TcpSend(b, Query(2));
  ASSERT_TRUE(TcpReceive(b).has_value());
  const int c = TcpConnect();  // The kernel accepts; lufd closes it.
  EXPECT_TRUE(ClosedWithin(c, 2000));
  close(c);
  EXPECT_GE(server_->stats().tcp_refused.load(), 1u);
  // Closing one frees a slot (once the server has seen the close).
  close(a);
  ASSERT_TRUE(
      Eventually([&] { return server_->stats().tcp_open.load() == 1; }));
  const int d = TcpConnect();
  TcpSend(d, Query(4));
  EXPECT_TRUE(TcpReceive(d).has_value());
  close(d);
  close(b);
}

// tcp_reserved_for_peers: anonymous connections cannot fill the slots a
// peer needs; at the cap a new one evicts the anonymous connection idle the
// longest, and a connection a TSIG verified on is never evicted.
TEST_F(DnsServerTest, AnonymousConnectionsCannotTakeThePeersSlots) {
  DnsServer::Options o;
  o.max_tcp_connections = 3;
  o.tcp_reserved_for_peers = 1;
  o.max_tcp_per_source = 100;
  StartServer(o);
  auto answered = [&](int fd, uint16_t id) {
    TcpSend(fd, Query(id));
    auto r = TcpReceive(fd);
    return r.has_value() && Id(*r) == id;
  };
  const int peer = TcpConnect();
  TcpSend(peer, PeerSignedQuery(1));
  auto r = TcpReceive(peer);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(Contains(*r, "iana-en:111"));  // A peer's connection now.
  const int a = TcpConnect();
  ASSERT_TRUE(answered(a, 2));
  const int b = TcpConnect();
  ASSERT_TRUE(answered(b, 3));
  // Full (3 of 3; anonymous 2 of 2): the newcomer evicts `a`, the longest
  // idle anonymous connection, not the peer's (idle longer still).
  const int c = TcpConnect();
  EXPECT_TRUE(answered(c, 4));
  EXPECT_TRUE(ClosedWithin(a, 2000));
  EXPECT_TRUE(answered(b, 5));
  // b was just active: the next newcomer evicts c.
  const int d = TcpConnect();
  EXPECT_TRUE(answered(d, 6));
  EXPECT_TRUE(ClosedWithin(c, 2000));
  EXPECT_TRUE(answered(peer, 7));
  EXPECT_EQ(server_->stats().tcp_evicted.load(), 2u);
  EXPECT_EQ(server_->stats().tcp_refused.load(), 0u);
  for (int fd : {peer, a, b, c, d}) close(fd);
}

// With every slot a peer's, a newcomer is refused, not a peer evicted.
TEST_F(DnsServerTest, PeersAreNeverEvicted) {
  DnsServer::Options o;
  o.max_tcp_connections = 2;
  o.tcp_reserved_for_peers = 1;
  o.max_tcp_per_source = 100;
  StartServer(o);
  std::vector<int> peers;
  for (uint16_t id = 1; id <= 2; ++id) {
    peers.push_back(TcpConnect());
    TcpSend(peers.back(), PeerSignedQuery(id));
    ASSERT_TRUE(TcpReceive(peers.back()).has_value());
  }
  const int newcomer = TcpConnect();
  EXPECT_TRUE(ClosedWithin(newcomer, 2000));
  EXPECT_GE(server_->stats().tcp_refused.load(), 1u);
  EXPECT_EQ(server_->stats().tcp_evicted.load(), 0u);
  for (int fd : peers) {
    TcpSend(fd, Query(9));
    EXPECT_TRUE(TcpReceive(fd).has_value());
    close(fd);
  }
  close(newcomer);
}

// Out of descriptors (EMFILE): pending connections are closed rather than
// left hanging, the loop does not spin on its listener, and serving resumes
// as soon as descriptors are free again.
TEST_F(DnsServerTest, OutOfDescriptorsRefusesWithoutSpinningAndRecovers) {
  StartServer({});
  // Sockets made before the limit drops: connect() needs no descriptor.
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i)
    clients.push_back(socket(AF_INET, SOCK_STREAM, 0));
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The lowest free descriptor number: below it all are taken, so with it as
  // the soft limit the next open/accept fails with EMFILE.
  const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(probe, 0);
  close(probe);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(probe);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  sockaddr_in addr = Addr4();
  for (int fd : clients) {
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  bool all_closed = true;
  for (int fd : clients) all_closed = ClosedWithin(fd, 3000) && all_closed;
  // Give a spinning loop the time to show itself.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t exhausted = server_->stats().tcp_out_of_descriptors.load();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(all_closed);
  EXPECT_GE(exhausted, 1u);
  // One event per pending connection at most (each is refused with the
  // reserve descriptor), not one per loop turn.
  EXPECT_LE(exhausted, 50u);
  EXPECT_EQ(server_->stats().tcp_open.load(), 0u);
  for (int fd : clients) close(fd);
  // Descriptors are back: served at once.
  const int fresh = TcpConnect();
  TcpSend(fresh, Query(11));
  auto r = TcpReceive(fresh, 1000);
  EXPECT_TRUE(r.has_value());
  close(fresh);
  EXPECT_TRUE(Udp(Query(12)).has_value());
}

TEST_F(DnsServerTest, InFlightCapStillAnswersEverything) {
  DnsServer::Options o;
  o.max_tcp_queries_in_flight = 2;
  StartServer(o);
  const int fd = TcpConnect();
  std::vector<uint8_t> all;
  constexpr int kCount = 40;
  for (int i = 0; i < kCount; ++i) {
    std::vector<uint8_t> q = Query(static_cast<uint16_t>(i));
    all.push_back(0);
    all.push_back(static_cast<uint8_t>(q.size()));
    all.insert(all.end(), q.begin(), q.end());
  }
  ASSERT_EQ(send(fd, all.data(), all.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(all.size()));
  int got = 0;
  while (got < kCount && TcpReceive(fd).has_value()) ++got;
  EXPECT_EQ(got, kCount);
  close(fd);
}

TEST_F(DnsServerTest, TsigOutcomesOverUdpAndTcp) {
  StartServer({});
  const uint64_t now = static_cast<uint64_t>(time(nullptr));
  auto signed_query = [&](const char* key, const char* secret, uint16_t id,
                          std::string* mac) {
    std::vector<uint8_t> q = Query(id);
    const size_t size = q.size();
    q.resize(size + 200);
    const size_t n = SignQuery(q.data(), size, q.size(), *NameFromText(key),
                               secret, now, mac);
    q.resize(n);
    return q;
  };
  std::string mac;
  auto good = Udp(signed_query("peer-key.", kSecret, 1, &mac));
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(Rcode(*good), kRcodeNoError);
  EXPECT_TRUE(Contains(*good, "iana-en:111"));
  uint16_t error = 1;
  EXPECT_TRUE(VerifyResponseTsig(*good, kSecret, mac, &error));
  EXPECT_EQ(error, 0);

  auto badsig = Udp(
      signed_query("peer-key.", "not the secret at all, 32 bytes", 2, &mac));
  ASSERT_TRUE(badsig.has_value());
  EXPECT_EQ(Rcode(*badsig), kRcodeNotAuth);
  EXPECT_FALSE(Contains(*badsig, "iana-en:111"));
  EXPECT_FALSE(Contains(*badsig, "anonymous"));  // Not answered at all.
  VerifyResponseTsig(*badsig, kSecret, mac, &error);
  EXPECT_EQ(error, kRcodeBadSig);

  auto badkey = Udp(signed_query("nobody.", kSecret, 3, &mac));
  ASSERT_TRUE(badkey.has_value());
  EXPECT_EQ(Rcode(*badkey), kRcodeNotAuth);
  VerifyResponseTsig(*badkey, kSecret, mac, &error);
  EXPECT_EQ(error, kRcodeBadKey);

  // A source the guard has blocked gets no TSIG error back over UDP (the
  // processor says so), so a bogus TSIG is no way around the block.
  processor_.drop_unanswered_ = true;
  EXPECT_FALSE(Udp(signed_query("nobody.", kSecret, 5, &mac)).has_value());
  processor_.drop_unanswered_ = false;

  const int fd = TcpConnect();
  TcpSend(fd, signed_query("peer-key.", kSecret, 4, &mac));
  auto tcp = TcpReceive(fd);
  ASSERT_TRUE(tcp.has_value());
  EXPECT_TRUE(Contains(*tcp, "iana-en:111"));
  EXPECT_TRUE(VerifyResponseTsig(*tcp, kSecret, mac, &error));
  close(fd);
  EXPECT_EQ(server_->stats().tsig_ok.load(), 2u);
  EXPECT_EQ(server_->stats().tsig_badsig.load(), 1u);
  EXPECT_EQ(server_->stats().tsig_badkey.load(), 2u);  // One unanswered.
}

TEST_F(DnsServerTest, FixedPortAndBindErrors) {
  StartServer({});
  DnsServer::Options o;
  o.listen = {server_->bound()[0].address};  // Taken (no SO_REUSEPORT TCP).
  o.workers = 1;
  FakeProcessor other;
  absl::StatusOr<std::unique_ptr<DnsServer>> clash =
      DnsServer::Start(o, &other, nullptr, nullptr);
  EXPECT_FALSE(clash.ok());
  o.listen = {"localhost:53"};
  EXPECT_FALSE(DnsServer::Start(o, &other, nullptr, nullptr).ok());
}

TEST_F(DnsServerTest, StopIsPromptAndIdempotent) {
  StartServer({});
  const int fd = TcpConnect();  // An open connection must not block Stop.
  const auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  server_->Stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_TRUE(ClosedWithin(fd, 1000));
  close(fd);
}

// The shutdown log line reads these counters: Stop() wakes each UDP worker
// out of recvmmsg with shutdown(), which hands it an empty "datagram" that
// must not count as a query, let alone a dropped one (it once logged
// "dropped 2" after a clean run).
TEST_F(DnsServerTest, StopCountsNothingOfItsOwn) {
  StartServer({});
  ASSERT_TRUE(Udp(Query(7)).has_value());
  server_->Stop();
  EXPECT_EQ(server_->stats().udp_queries.load(), 1u);
  EXPECT_EQ(server_->stats().dropped.load(), 0u);
  EXPECT_EQ(server_->stats().udp_send_errors.load(), 0u);
}

}  // namespace
}  // namespace lufd::dns
