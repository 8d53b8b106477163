#include "server/grpc/acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>  // TCP_NODELAY, TCP_INFO with tcpi_bytes_acked.
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/ops/config_values.h"
#include "spdlog/spdlog.h"

namespace lufd {
namespace {

// Accepts per wake-up before the loop looks at the wake fd and the sweep
// again, so a connection flood cannot starve either.
constexpr int kAcceptBatch = 64;
// Back-off when accept fails even with the reserve released: the loop
// must not spin on a listener that stays readable.
constexpr absl::Duration kBackoff = absl::Milliseconds(20);

// Refuses an accepted connection: RST rather than FIN, so neither side
// keeps TIME_WAIT state and the client learns at once.
void Reset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

int OpenReserve() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

uint64_t InodeOf(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

// Whether the server has sent any payload on this connection (for TLS: at
// least its ServerHello). A failed call counts as "sent": the connection is
// then simply not classified.
bool ServerSentAny(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_bytes_acked) +
                sizeof(info.tcpi_bytes_acked)) {
    return true;
  }
  return info.tcpi_bytes_acked > 0 || info.tcpi_notsent_bytes > 0 ||
         info.tcpi_unacked > 0;
}

}  // namespace

ConnectionTable::Admit ConnectionTable::Check(int fd,
                                              const std::string& source) {
  Drop(fd);  // The number is free again, so that connection is closed.
  // The source's own cap first: over it, nobody else is evicted for it.
  auto it = per_source_.find(source);
  if (it != per_source_.end() && it->second >= max_per_source_) {
    return Admit::kOverSource;
  }
  if (by_fd_.size() >= max_total_) return Admit::kOverTotal;
  return Admit::kOk;
}

void ConnectionTable::Add(int fd, uint64_t inode, const std::string& source,
                          absl::Time now) {
  Drop(fd);
  by_fd_[fd] = Entry{inode, source, now};
  ++per_source_[source];
  order_.emplace_back(fd, inode);
  if (order_.size() > 2 * by_fd_.size() + 64) {
    // Mostly closed connections: rebuild from the live ones, oldest first.
    std::vector<std::pair<absl::Time, std::pair<int, uint64_t>>> live;
    live.reserve(by_fd_.size());
    for (const auto& [f, e] : by_fd_) {
      live.push_back({e.accepted, {f, e.inode}});
    }
    std::sort(live.begin(), live.end());
    order_.clear();
    for (const auto& l : live) order_.push_back(l.second);
  }
}

void ConnectionTable::Drop(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  auto s = per_source_.find(it->second.source);
  if (s != per_source_.end() && --s->second == 0) per_source_.erase(s);
  by_fd_.erase(it);
}

ConnectionTable::SweepResult ConnectionTable::Sweep(
    absl::Time now, absl::Duration handshake_timeout,
    absl::FunctionRef<uint64_t(int fd)> inode_of,
    absl::FunctionRef<bool(int fd)> sent_any) {
  SweepResult result;
  std::vector<int> gone;
  for (auto& [fd, entry] : by_fd_) {
    if (inode_of(fd) != entry.inode) {
      gone.push_back(fd);
      if (!entry.sent_any && now - entry.accepted >= handshake_timeout) {
        ++result.handshake_timeouts;
      }
      continue;
    }
    if (!entry.sent_any) entry.sent_any = sent_any(fd);
  }
  for (int fd : gone) Drop(fd);
  result.closed = gone.size();
  return result;
}

int ConnectionTable::EvictionCandidate(absl::Time now, absl::Duration min_age,
                                       absl::FunctionRef<bool(int fd)> sent_any,
                                       uint64_t* inode_out) {
  while (!order_.empty()) {
    const auto [fd, inode] = order_.front();
    auto it = by_fd_.find(fd);
    if (it == by_fd_.end() || it->second.inode != inode) {
      order_.pop_front();  // Closed (or evicted) since.
      continue;
    }
    Entry& e = it->second;
    if (!e.sent_any) e.sent_any = sent_any(fd);
    if (e.sent_any) {
      order_.pop_front();  // Talking to the server: never evicted.
      continue;
    }
    // The oldest silent one; all later ones are younger.
    if (now - e.accepted < min_age) return -1;
    *inode_out = inode;
    return fd;
  }
  return -1;
}

size_t ConnectionTable::from(const std::string& source) const {
  auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second;
}

GrpcAcceptor::GrpcAcceptor(const Options& options)
    : options_(options),
      table_(options.max_connections, options.max_connections_per_source) {}

absl::StatusOr<std::unique_ptr<GrpcAcceptor>> GrpcAcceptor::Listen(
    const Options& options) {
  std::string host;
  int port = 0;
  if (absl::Status s = ParseListenAddress(options.listen, &host, &port);
      !s.ok()) {
    return s;
  }
  // Host names too (gRPC accepted "localhost:port"): the first address.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = absl::StrCat(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
      rc != 0 || res == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot resolve ", options.listen, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> free_res(res, freeaddrinfo);

  auto a = std::unique_ptr<GrpcAcceptor>(new GrpcAcceptor(options));
  auto fail = [&options](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               options.listen, ": ", what, ": ",
                                               strerror(errno)));
  };
  a->listen_fd_ =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (a->listen_fd_ < 0) return fail("socket");
  const int one = 1;
  const int zero = 0;
  setsockopt(a->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Accepted sockets inherit it; gRPC's own listener sets it too.
  setsockopt(a->listen_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // "[::]" serves IPv4 as well, as gRPC's own listener did.
  if (res->ai_family == AF_INET6) {
    setsockopt(a->listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
  if (bind(a->listen_fd_, res->ai_addr, res->ai_addrlen) != 0) {
    return fail("bind");
  }
  if (listen(a->listen_fd_, SOMAXCONN) != 0) return fail("listen");
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(a->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) !=
      0) {
    return fail("getsockname");
  }
  a->port_ = ntohs(bound.ss_family == AF_INET6
                       ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  a->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (a->wake_fd_ < 0) return fail("eventfd");
  a->reserve_fd_ = OpenReserve();
  if (a->reserve_fd_ < 0) return fail("open /dev/null");
  return a;
}

GrpcAcceptor::~GrpcAcceptor() { Stop(); }

void GrpcAcceptor::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink) {
  sink_ = std::move(sink);
  thread_ = std::thread([this] {
    // Named, so its CPU time can be told apart (/proc/PID/task/*/comm).
    pthread_setname_np(pthread_self(), "lufd-grpc-acc");
    Run();
  });
}

void GrpcAcceptor::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_fd_, &reserve_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  const Stats s = stats();
  spdlog::info(
      "grpc acceptor stopped: {} connections accepted, {} refused over "
      "max_connections, {} over max_connections_per_source, {} silent ones "
      "evicted at max_connections, {} descriptor exhaustion events, {} "
      "closed before sending a byte at or after the handshake timeout, {} "
      "still open",
      s.accepted, s.refused_total, s.refused_per_source, s.evicted,
      s.descriptor_exhausted, s.handshake_timeouts, s.open);
}

GrpcAcceptor::Stats GrpcAcceptor::stats() const {
  Stats s;
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.refused_total = refused_total_.load(std::memory_order_relaxed);
  s.refused_per_source = refused_per_source_.load(std::memory_order_relaxed);
  s.evicted = evicted_.load(std::memory_order_relaxed);
  s.descriptor_exhausted = exhausted_.load(std::memory_order_relaxed);
  s.closed = closed_.load(std::memory_order_relaxed);
  s.handshake_timeouts = handshake_timeouts_.load(std::memory_order_relaxed);
  s.open = open_.load(std::memory_order_relaxed);
  return s;
}

void GrpcAcceptor::Run() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  absl::Time next_sweep = absl::Now() + options_.sweep_interval;
  while (true) {
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(next_sweep - absl::Now()), 0, 1000));
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::warn("grpc acceptor: poll: {}", strerror(errno));
      absl::SleepFor(kBackoff);
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) break;
    if (n > 0 && (fds[0].revents & (POLLIN | POLLERR)) != 0) {
      for (int i = 0; i < kAcceptBatch; ++i) {
        bool again = false;
        AcceptOne(&again);
        if (!again) break;
      }
    }
    if (absl::Now() >= next_sweep) {
      const absl::Time now = absl::Now();
      const ConnectionTable::SweepResult swept =
          table_.Sweep(now, options_.handshake_timeout, InodeOf, ServerSentAny);
      closed_.fetch_add(swept.closed, std::memory_order_relaxed);
      handshake_timeouts_.fetch_add(swept.handshake_timeouts,
                                    std::memory_order_relaxed);
      open_.store(table_.total(), std::memory_order_relaxed);
      next_sweep = absl::Now() + options_.sweep_interval;
    }
  }
}

void GrpcAcceptor::AcceptOne(bool* again) {
  *again = false;
  if (reserve_fd_ < 0) reserve_fd_ = OpenReserve();
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    switch (errno) {
      case EAGAIN:
        return;
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
        *again = true;
        return;
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        OnExhausted(errno, again);
        return;
      default:
        spdlog::warn("grpc acceptor: accept: {}", strerror(errno));
        absl::SleepFor(kBackoff);
        return;
    }
  }
  const std::string source = HostText(peer);
  switch (table_.Check(fd, source)) {
    case ConnectionTable::Admit::kOverTotal:
      if (!EvictOldestSilent(absl::Now())) {
        refused_total_.fetch_add(1, std::memory_order_relaxed);
        Reset(fd);
        *again = true;
        return;
      }
      break;
    case ConnectionTable::Admit::kOverSource:
      refused_per_source_.fetch_add(1, std::memory_order_relaxed);
      Reset(fd);
      *again = true;
      return;
    case ConnectionTable::Admit::kOk:
      break;
  }
  table_.Add(fd, InodeOf(fd), source, absl::Now());
  accepted_.fetch_add(1, std::memory_order_relaxed);
  open_.store(table_.total(), std::memory_order_relaxed);
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
  p.listener_fd = listen_fd_;
  p.fd = fd;
  // gRPC owns the fd from here on (it closes it on any failure).
  sink_->HandleNewConnection(&p);
  *again = true;
}

bool GrpcAcceptor::EvictOldestSilent(absl::Time now) {
  uint64_t inode = 0;
  const int victim = table_.EvictionCandidate(now, options_.evict_min_age,
                                              ServerSentAny, &inode);
  if (victim < 0) return false;
  // Checked right before shutdown(): the number may have been reused.
  if (InodeOf(victim) == inode) {
    shutdown(victim, SHUT_RDWR);  // gRPC sees EOF and closes it.
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  table_.Evict(victim);  // Either way its slot is free now.
  return true;
}

void GrpcAcceptor::OnExhausted(int err, bool* again) {
  exhausted_.fetch_add(1, std::memory_order_relaxed);
  ++exhausted_since_log_;
  // Take the pending connection with the reserve descriptor and refuse it,
  // so the queue drains and the listener does not stay readable forever.
  bool drained = false;
  if (reserve_fd_ >= 0) {
    close(reserve_fd_);
    reserve_fd_ = -1;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      Reset(fd);
      drained = true;
    }
    reserve_fd_ = OpenReserve();
  }
  const absl::Time now = absl::Now();
  if (now - last_exhausted_log_ >= absl::Seconds(1)) {
    spdlog::warn(
        "grpc acceptor: accept: {} ({} time(s) since the last line); "
        "refusing new connections until descriptors are free",
        strerror(err), exhausted_since_log_);
    last_exhausted_log_ = now;
    exhausted_since_log_ = 0;
  }
  if (drained) {
    *again = true;
    return;
  }
  if (reserve_fd_ < 0) {
    // The freed descriptor went elsewhere (the DNS door shares the budget
    // and has its own reserve). Win one back from a connection lufd never
    // answered: gRPC closes it on the shutdown, and the next round reopens
    // the reserve before it accepts.
    EvictOldestSilent(now);
  }
  // Wait instead of spinning.
  absl::SleepFor(kBackoff);
}

}  // namespace lufd
