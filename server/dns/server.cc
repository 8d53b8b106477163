#include "server/dns/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/ops/config_values.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {
namespace {

constexpr size_t kMaxTcpMessage = 65535;
constexpr size_t kUdpReceiveBuffer = 4096;  // Larger queries are dropped.
constexpr int kUdpWakeMs = 200;             // SO_RCVTIMEO: Stop() latency.
constexpr int kLoopTickMs = 100;            // Idle-timeout granularity.
constexpr size_t kReadChunk = 16384;

uint64_t NowUnix() {
  return static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
}

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
};

// "host:port" / "[v6]:port" with a literal address (server/ops parses
// it, for the config check and here alike).
absl::StatusOr<SockAddr> ParseAddress(absl::string_view listen) {
  SockAddr a;
  if (absl::Status s = ParseIpListenAddress(listen, &a.storage, &a.len);
      !s.ok()) {
    return s;
  }
  return a;
}

int PortOf(const SockAddr& a) {
  if (a.family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
}

void SetPort(SockAddr* a, int port) {
  if (a->family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&a->storage)->sin_port =
        htons(static_cast<uint16_t>(port));
  } else {
    reinterpret_cast<sockaddr_in6*>(&a->storage)->sin6_port =
        htons(static_cast<uint16_t>(port));
  }
}

std::string HostText(const sockaddr_storage& s) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (s.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, buf,
              sizeof(buf));
  } else if (s.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr,
              buf, sizeof(buf));
  }
  return buf;
}

std::string AddressText(const SockAddr& a) {
  const std::string host = HostText(a.storage);
  return a.family() == AF_INET6 ? absl::StrCat("[", host, "]:", PortOf(a))
                                : absl::StrCat(host, ":", PortOf(a));
}

// A bound socket, or -1 with *error set (errno in *err_no).
int BindSocket(const SockAddr& addr, int type, bool reuseport,
               std::string* error, int* err_no) {
  const int fd = socket(addr.family(), type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err_no = errno;
    *error = absl::StrCat("socket: ", strerror(errno));
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (addr.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.len) !=
      0) {
    *err_no = errno;
    *error = absl::StrCat("bind ", AddressText(addr), ": ", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int BoundPort(int fd) {
  SockAddr a;
  a.len = sizeof(a.storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) {
    return -1;
  }
  return PortOf(a);
}

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// mtime/size/inode of the DoT files, to notice rotation.
std::string FilesSignature(const lufd::v1::TlsConfig& tls) {
  std::string sig;
  for (const std::string* f :
       {&tls.cert_file(), &tls.key_file(), &tls.client_ca_file()}) {
    struct stat st {};
    if (f->empty() || stat(f->c_str(), &st) != 0) {
      absl::StrAppend(&sig, "-;");
      continue;
    }
    absl::StrAppend(&sig, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec,
                    ".", st.st_mtim.tv_nsec, ";");
  }
  return sig;
}

absl::StatusOr<SSL_CTX*> MakeTlsContext(const lufd::v1::TlsConfig& tls,
                                        const std::string& client_cert) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  auto fail = [ctx](absl::string_view what) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(
        absl::StrCat("dns.dot.tls: ", what, ": ", OpenSslError()));
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file().c_str()) != 1) {
    return fail(absl::StrCat("cannot load cert_file ", tls.cert_file()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file().c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return fail(absl::StrCat("cannot load key_file ", tls.key_file()));
  }
  if (client_cert != "none") {
    if (tls.client_ca_file().empty()) {
      SSL_CTX_free(ctx);
      return absl::InvalidArgumentError(
          "dns.dot.tls.client_ca_file: required unless client_cert is none");
    }
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file().c_str(),
                                      nullptr) != 1) {
      return fail(
          absl::StrCat("cannot load client_ca_file ", tls.client_ca_file()));
    }
    STACK_OF(X509_NAME)* names =
        SSL_load_client_CA_file(tls.client_ca_file().c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (client_cert == "required") mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  static const unsigned char kSid[] = "lufd-dot";
  SSL_CTX_set_session_id_context(ctx, kSid, sizeof(kSid) - 1);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

std::string PeerCertificatePem(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return std::string();
  std::string pem;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    if (len > 0) pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

// Copies the destination address of a received datagram (IP_PKTINFO /
// IPV6_PKTINFO) into the control buffer of its reply, so the reply leaves
// from that address.
void SetReplySource(const msghdr& rx, uint64_t* control, size_t control_size,
                    msghdr* tx) {
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&rx)); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&rx), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo in{};
      std::memcpy(&in, CMSG_DATA(c), sizeof(in));
      in_pktinfo out{};
      out.ipi_spec_dst = in.ipi_addr;  // Interface left to routing.
      std::memset(control, 0, control_size);
      tx->msg_control = control;
      tx->msg_controllen = CMSG_SPACE(sizeof(out));
      cmsghdr* o = CMSG_FIRSTHDR(tx);
      o->cmsg_level = IPPROTO_IP;
      o->cmsg_type = IP_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof(out));
      std::memcpy(CMSG_DATA(o), &out, sizeof(out));
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo in6{};
      std::memcpy(&in6, CMSG_DATA(c), sizeof(in6));
      std::memset(control, 0, control_size);
      tx->msg_control = control;
      tx->msg_controllen = CMSG_SPACE(sizeof(in6));
      cmsghdr* o = CMSG_FIRSTHDR(tx);
      o->cmsg_level = IPPROTO_IPV6;
      o->cmsg_type = IPV6_PKTINFO;
      o->cmsg_len = CMSG_LEN(sizeof(in6));
      std::memcpy(CMSG_DATA(o), &in6, sizeof(in6));
      return;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// TCP + DoT event loop.

class DnsServer::TcpLoop {
 public:
  TcpLoop(DnsServer* server, const Options& options)
      : server_(server), options_(options) {}

  ~TcpLoop() {
    for (auto& [fd, conn] : conns_) {
      if (conn->ssl != nullptr) SSL_free(conn->ssl);
      close(fd);
    }
    for (const Listener& l : listeners_) close(l.fd);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (epfd_ >= 0) close(epfd_);
    if (wakefd_ >= 0) close(wakefd_);
  }

  absl::Status Init() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wakefd_ < 0) {
      return absl::InternalError(absl::StrCat("epoll: ", strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    return absl::OkStatus();
  }

  absl::Status InitTls() {
    absl::StatusOr<SSL_CTX*> ctx =
        MakeTlsContext(options_.dot_tls, options_.dot_client_cert);
    if (!ctx.ok()) return ctx.status();
    ctx_ = *ctx;
    files_signature_ = FilesSignature(options_.dot_tls);
    return absl::OkStatus();
  }

  // Takes ownership of a bound TCP socket.
  absl::Status AddListener(int fd, bool tls) {
    if (listen(fd, 1024) != 0) {
      const std::string err = strerror(errno);
      close(fd);
      return absl::UnavailableError(absl::StrCat("listen: ", err));
    }
    const int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
      close(fd);
      return absl::InternalError("cannot make the listener non-blocking");
    }
    listeners_.push_back(Listener{fd, tls});
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | (listeners_.size() - 1);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    return absl::OkStatus();
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!write(wakefd_, &one, sizeof(one));
  }

  void Run() {
    epoll_event events[256];
    absl::Time last_scan = absl::Now();
    absl::Time last_reload = absl::Now();
    const absl::Duration reload_every = std::max(
        absl::Seconds(1),
        ParseDurationOr(options_.dot_tls.reload_interval(), absl::Seconds(10)));
    while (!server_->stopping_.load(std::memory_order_relaxed)) {
      const int timeout = ready_.empty() ? kLoopTickMs : 0;
      const int n = epoll_wait(epfd_, events, 256, timeout);
      if (n < 0 && errno != EINTR) {
        spdlog::error("dns: epoll_wait: {}", strerror(errno));
        break;
      }
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kWakeTag) continue;
        if ((tag & kListenerTag) != 0) {
          Accept(listeners_[tag & 0xffffffffu]);
          continue;
        }
        Conn* c = Lookup(tag);
        if (c == nullptr) continue;
        if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0 &&
            (events[i].events & EPOLLIN) == 0) {
          Close(c);
          continue;
        }
        Service(c);
      }
      // Connections with decrypted bytes OpenSSL still holds (epoll cannot
      // see those).
      std::vector<uint64_t> ready;
      ready.swap(ready_);
      for (uint64_t tag : ready) {
        if (Conn* c = Lookup(tag); c != nullptr) Service(c);
      }
      const absl::Time now = absl::Now();
      if (now - last_scan >= absl::Milliseconds(kLoopTickMs)) {
        last_scan = now;
        CloseExpired(now);
      }
      if (ctx_ != nullptr && now - last_reload >= reload_every) {
        last_reload = now;
        MaybeReloadTls();
      }
    }
  }

 private:
  static constexpr uint64_t kWakeTag = ~uint64_t{0};
  static constexpr uint64_t kListenerTag = uint64_t{1} << 62;

  struct Listener {
    int fd;
    bool tls;
  };

  struct Conn {
    int fd = -1;
    uint32_t generation = 0;
    std::string source;
    SSL* ssl = nullptr;
    bool handshaking = false;
    std::string peer_pem;
    std::string in;
    size_t in_off = 0;
    std::string out;
    size_t out_off = 0;
    std::deque<size_t> answer_ends;  // Offsets in `out` of queued answers.
    absl::Time deadline;
    bool eof = false;
    uint32_t interest = 0;
    bool ssl_wants_write = false;
  };

  static absl::Duration ParseDurationOr(const std::string& text,
                                        absl::Duration fallback) {
    absl::StatusOr<absl::Duration> d = ParseConfigDuration(text);
    return d.ok() ? *d : fallback;
  }

  uint64_t TagOf(const Conn& c) const {
    return (uint64_t{c.generation} << 32) | static_cast<uint32_t>(c.fd);
  }

  Conn* Lookup(uint64_t tag) {
    auto it = conns_.find(static_cast<int>(tag & 0xffffffffu));
    if (it == conns_.end() || it->second->generation != (tag >> 32)) {
      return nullptr;
    }
    return it->second.get();
  }

  void Accept(const Listener& l) {
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      const int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or out of descriptors: try again next event.
      }
      server_->stats_.tcp_accepted.fetch_add(1, std::memory_order_relaxed);
      std::string source = HostText(peer);
      int& per_source = per_source_[source];
      if (conns_.size() >= options_.max_tcp_connections ||
          static_cast<uint32_t>(per_source) >= options_.max_tcp_per_source) {
        if (per_source == 0) per_source_.erase(source);
        server_->stats_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
        close(fd);
        continue;
      }
      ++per_source;
      auto conn = std::make_unique<Conn>();
      conn->fd = fd;
      conn->generation = ++generation_;
      conn->source = std::move(source);
      conn->deadline = absl::Now() + options_.tcp_idle_timeout;
      if (l.tls) {
        conn->ssl = SSL_new(ctx_);
        if (conn->ssl == nullptr) {
          ReleaseSource(conn->source);
          close(fd);
          continue;
        }
        SSL_set_fd(conn->ssl, fd);
        SSL_set_accept_state(conn->ssl);
        conn->handshaking = true;
      }
      Conn* c = conn.get();
      conns_[fd] = std::move(conn);
      server_->stats_.tcp_open.fetch_add(1, std::memory_order_relaxed);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = TagOf(*c);
      c->interest = EPOLLIN;
      epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
      if (c->ssl == nullptr) Service(c);  // Data may already be there.
    }
  }

  void ReleaseSource(const std::string& source) {
    auto it = per_source_.find(source);
    if (it != per_source_.end() && --it->second <= 0) per_source_.erase(it);
  }

  void Close(Conn* c) {
    const int fd = c->fd;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    if (c->ssl != nullptr) {
      if (!c->handshaking) SSL_shutdown(c->ssl);  // Best effort close_notify.
      SSL_free(c->ssl);
    }
    close(fd);
    ReleaseSource(c->source);
    server_->stats_.tcp_open.fetch_sub(1, std::memory_order_relaxed);
    conns_.erase(fd);
  }

  void CloseExpired(absl::Time now) {
    std::vector<Conn*> expired;
    for (auto& [fd, c] : conns_) {
      if (now >= c->deadline) expired.push_back(c.get());
    }
    for (Conn* c : expired) {
      server_->stats_.tcp_idle_closed.fetch_add(1, std::memory_order_relaxed);
      Close(c);
    }
  }

  void MaybeReloadTls() {
    const std::string sig = FilesSignature(options_.dot_tls);
    if (sig == files_signature_) return;
    absl::StatusOr<SSL_CTX*> ctx =
        MakeTlsContext(options_.dot_tls, options_.dot_client_cert);
    if (!ctx.ok()) {
      // Keep serving with the old files; a half-written rotation is retried
      // at the next check.
      spdlog::warn("dns: DoT certificate reload failed: {}",
                   std::string(ctx.status().message()));
      return;
    }
    SSL_CTX_free(ctx_);  // Live connections hold their own reference.
    ctx_ = *ctx;
    files_signature_ = sig;
    spdlog::info("dns: DoT certificates reloaded");
  }

  // Progresses the TLS handshake. True when done and the connection may
  // carry messages; false when it is waiting (interest updated) or closed.
  bool Handshake(Conn* c) {
    ERR_clear_error();
    const int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      c->handshaking = false;
      c->peer_pem = PeerCertificatePem(c->ssl);
      if (!c->peer_pem.empty() && server_->authenticator_) {
        absl::StatusOr<Identity> id = server_->authenticator_(c->peer_pem);
        if (!id.ok()) {
          server_->stats_.tls_auth_failed.fetch_add(1,
                                                    std::memory_order_relaxed);
          spdlog::debug("dns: DoT client {} rejected: {}", c->source,
                        std::string(id.status().message()));
          Close(c);
          return false;
        }
      }
      return true;
    }
    const int err = SSL_get_error(c->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      SetInterest(c, err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
      return false;
    }
    server_->stats_.tls_handshake_failed.fetch_add(1,
                                                   std::memory_order_relaxed);
    spdlog::debug("dns: DoT handshake from {} failed: {}", c->source,
                  OpenSslError());
    Close(c);
    return false;
  }

  void SetInterest(Conn* c, uint32_t interest) {
    if (interest == c->interest) return;
    epoll_event ev{};
    ev.events = interest;
    ev.data.u64 = TagOf(*c);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
    c->interest = interest;
  }

  // Reads one chunk: >0 bytes read, 0 would block, -1 EOF or error.
  int ReadSome(Conn* c) {
    char buf[kReadChunk];
    if (c->ssl != nullptr) {
      ERR_clear_error();
      const int r = SSL_read(c->ssl, buf, sizeof(buf));
      if (r > 0) {
        c->in.append(buf, static_cast<size_t>(r));
        return r;
      }
      const int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_WANT_READ) return 0;
      if (err == SSL_ERROR_WANT_WRITE) {
        c->ssl_wants_write = true;
        return 0;
      }
      return -1;
    }
    for (;;) {
      const ssize_t r = read(c->fd, buf, sizeof(buf));
      if (r > 0) {
        c->in.append(buf, static_cast<size_t>(r));
        return static_cast<int>(r);
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
      return -1;
    }
  }

  // Writes what is queued. False on a fatal error.
  bool Flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      const size_t left = c->out.size() - c->out_off;
      if (c->ssl != nullptr) {
        ERR_clear_error();
        const int r =
            SSL_write(c->ssl, c->out.data() + c->out_off,
                      static_cast<int>(std::min<size_t>(left, 65536)));
        if (r > 0) {
          c->out_off += static_cast<size_t>(r);
          continue;
        }
        const int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
        return false;
      }
      const ssize_t r =
          send(c->fd, c->out.data() + c->out_off, left, MSG_NOSIGNAL);
      if (r > 0) {
        c->out_off += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    while (!c->answer_ends.empty() && c->answer_ends.front() <= c->out_off) {
      c->answer_ends.pop_front();
    }
    if (c->out_off == c->out.size()) {
      c->out.clear();
      c->out_off = 0;
      c->answer_ends.clear();
    } else if (c->out_off > 65536 && c->out_off * 2 > c->out.size()) {
      c->out.erase(0, c->out_off);
      for (size_t& end : c->answer_ends) end -= c->out_off;
      c->out_off = 0;
    }
    return true;
  }

  bool Full(const Conn& c) const {
    return c.answer_ends.size() >= options_.max_tcp_queries_in_flight;
  }

  // Answers every complete message buffered, up to the in-flight cap.
  // False when the stream is broken (zero length) or a DoT identity no
  // longer authenticates.
  bool ProcessInput(Conn* c) {
    while (!Full(*c)) {
      const size_t avail = c->in.size() - c->in_off;
      if (avail < 2) break;
      const auto* p =
          reinterpret_cast<const uint8_t*>(c->in.data()) + c->in_off;
      const size_t len = (size_t{p[0]} << 8) | p[1];
      if (len == 0) {
        server_->stats_.tcp_bad_length.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      if (avail < 2 + len) break;
      Identity identity;
      if (c->ssl != nullptr && !c->peer_pem.empty() &&
          server_->authenticator_) {
        absl::StatusOr<Identity> id = server_->authenticator_(c->peer_pem);
        if (!id.ok()) {
          server_->stats_.tls_auth_failed.fetch_add(1,
                                                    std::memory_order_relaxed);
          return false;
        }
        identity = *std::move(id);
      }
      const size_t n = server_->Process(
          absl::MakeConstSpan(p + 2, len),
          c->ssl != nullptr ? Transport::kTls : Transport::kTcp, identity,
          scratch_.data(), kMaxTcpMessage);
      if (n > 0) {
        c->out.push_back(static_cast<char>(n >> 8));
        c->out.push_back(static_cast<char>(n & 0xff));
        c->out.append(reinterpret_cast<const char*>(scratch_.data()), n);
        c->answer_ends.push_back(c->out.size());
      }
      c->in_off += 2 + len;
      c->deadline = absl::Now() + options_.tcp_idle_timeout;
    }
    if (c->in_off == c->in.size()) {
      c->in.clear();
      c->in_off = 0;
    } else if (c->in_off > 0 && c->in_off * 2 > c->in.size()) {
      c->in.erase(0, c->in_off);
      c->in_off = 0;
    }
    return true;
  }

  void Service(Conn* c) {
    if (c->handshaking && !Handshake(c)) return;
    c->ssl_wants_write = false;
    bool more = true;  // Stays true only if the round limit cut reading.
    for (int round = 0; round < 64; ++round) {
      if (!Flush(c) || !ProcessInput(c)) return Close(c);
      if (Full(*c)) {
        // Answers written out free slots for messages already buffered.
        if (!Flush(c)) return Close(c);
        if (Full(*c)) {
          more = false;
          break;
        }
        continue;
      }
      if (c->eof) {
        more = false;
        break;
      }
      // Never buffer more than one message's worth beyond what is
      // answerable: a client may not fill memory with unread queries.
      if (c->in.size() - c->in_off > 2 + kMaxTcpMessage) {
        more = false;
        break;
      }
      const int r = ReadSome(c);
      if (r < 0) c->eof = true;
      if (r <= 0) {
        if (!ProcessInput(c)) return Close(c);
        more = false;
        break;
      }
    }
    if (!Flush(c)) return Close(c);
    const bool pending_out = c->out_off < c->out.size();
    if (c->eof && !pending_out) return Close(c);
    if (!Full(*c) && !c->eof &&
        (more || (c->ssl != nullptr && SSL_pending(c->ssl) > 0))) {
      ready_.push_back(TagOf(*c));
    }
    uint32_t interest = 0;
    if (!Full(*c) && !c->eof) interest |= EPOLLIN;
    if (pending_out || c->ssl_wants_write) interest |= EPOLLOUT;
    if (interest == 0) interest = EPOLLIN;  // Still notice a reset.
    SetInterest(c, interest);
  }

  DnsServer* server_;
  const Options& options_;
  int epfd_ = -1;
  int wakefd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  std::string files_signature_;
  std::vector<Listener> listeners_;
  absl::flat_hash_map<int, std::unique_ptr<Conn>> conns_;
  absl::flat_hash_map<std::string, int> per_source_;
  std::vector<uint64_t> ready_;
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(kMaxTcpMessage);
  uint32_t generation_ = 0;
};

// ---------------------------------------------------------------------------

DnsServer::Options DnsServer::OptionsFromConfig(
    const lufd::v1::DnsConfig& config) {
  Options o;
  o.listen.assign(config.listen().begin(), config.listen().end());
  o.dot_listen = config.dot().listen();
  o.dot_tls = config.dot().tls();
  o.dot_client_cert = config.dot().client_cert();
  o.workers = config.workers();
  o.max_udp_payload = config.max_udp_payload();
  o.max_tcp_connections = config.max_tcp_connections();
  o.max_tcp_per_source = config.max_tcp_per_source();
  o.tcp_idle_timeout = ConfigDuration(config.tcp_idle_timeout());
  o.max_tcp_queries_in_flight = config.max_tcp_queries_in_flight();
  o.udp_batch = config.udp_batch();
  return o;
}

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Start(
    const Options& options, QueryHandler* handler, TsigKeyLookup tsig_keys,
    PeerAuthenticator authenticator) {
  std::unique_ptr<DnsServer> s(new DnsServer());
  s->options_ = options;
  Options& o = s->options_;
  if (o.workers == 0) {
    o.workers = std::max(1u, std::thread::hardware_concurrency());
  }
  o.udp_batch = std::clamp<uint32_t>(o.udp_batch, 1, 1024);
  o.max_udp_payload = std::clamp<uint32_t>(o.max_udp_payload, 512, 65535);
  o.max_tcp_queries_in_flight = std::max(1u, o.max_tcp_queries_in_flight);
  s->handler_ = handler;
  s->tsig_keys_ = std::move(tsig_keys);
  s->authenticator_ = std::move(authenticator);
  s->tcp_loop_ = std::make_unique<TcpLoop>(s.get(), s->options_);
  if (absl::Status st = s->tcp_loop_->Init(); !st.ok()) return st;

  for (const std::string& listen : o.listen) {
    absl::StatusOr<SockAddr> addr = ParseAddress(listen);
    if (!addr.ok()) return addr.status();
    const bool pick = PortOf(*addr) == 0;
    // With port 0 the TCP socket picks the port and UDP follows; if that
    // UDP port is taken, try again with another one.
    bool done = false;
    std::string error;
    for (int attempt = 0; attempt < (pick ? 20 : 1) && !done; ++attempt) {
      SockAddr a = *addr;
      int err_no = 0;
      const int tcp = BindSocket(a, SOCK_STREAM, false, &error, &err_no);
      if (tcp < 0) break;
      SetPort(&a, BoundPort(tcp));
      std::vector<int> udp;
      for (uint32_t w = 0; w < o.workers; ++w) {
        const int fd = BindSocket(a, SOCK_DGRAM, true, &error, &err_no);
        if (fd < 0) break;
        udp.push_back(fd);
      }
      if (udp.size() != o.workers) {
        for (int fd : udp) close(fd);
        close(tcp);
        if (err_no == EADDRINUSE) continue;
        break;
      }
      if (absl::Status st = s->tcp_loop_->AddListener(tcp, false); !st.ok()) {
        for (int fd : udp) close(fd);
        return st;
      }
      for (int fd : udp) {
        timeval tv{0, kUdpWakeMs * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        s->udp_fds_.push_back(fd);
      }
      s->bound_.push_back(BoundAddress{"udp+tcp", AddressText(a), PortOf(a)});
      done = true;
    }
    if (!done) {
      return absl::UnavailableError(
          absl::StrCat("dns: cannot listen on ", listen, ": ", error));
    }
  }
  if (!o.dot_listen.empty()) {
    if (absl::Status st = s->tcp_loop_->InitTls(); !st.ok()) return st;
    absl::StatusOr<SockAddr> addr = ParseAddress(o.dot_listen);
    if (!addr.ok()) return addr.status();
    std::string error;
    int err_no = 0;
    const int fd = BindSocket(*addr, SOCK_STREAM, false, &error, &err_no);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat(
          "dns: cannot listen on ", o.dot_listen, " (DoT): ", error));
    }
    SockAddr a = *addr;
    SetPort(&a, BoundPort(fd));
    if (absl::Status st = s->tcp_loop_->AddListener(fd, true); !st.ok()) {
      return st;
    }
    s->bound_.push_back(BoundAddress{"tls", AddressText(a), PortOf(a)});
  }

  DnsServer* raw = s.get();
  for (int fd : s->udp_fds_) {
    s->threads_.emplace_back([raw, fd] { raw->UdpWorker(fd); });
  }
  s->threads_.emplace_back([raw] { raw->tcp_loop_->Run(); });
  return s;
}

DnsServer::~DnsServer() { Stop(); }

void DnsServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  // shutdown() wakes a thread blocked in recvmmsg on Linux; SO_RCVTIMEO
  // bounds the wait if it did not.
  for (int fd : udp_fds_) shutdown(fd, SHUT_RDWR);
  if (tcp_loop_ != nullptr) tcp_loop_->Wake();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  for (int fd : udp_fds_) close(fd);
  udp_fds_.clear();
  tcp_loop_.reset();  // Closes listeners and connections.
}

size_t DnsServer::Process(absl::Span<const uint8_t> packet, Transport transport,
                          const Identity& conn_identity, uint8_t* out,
                          size_t capacity) {
  switch (transport) {
    case Transport::kUdp:
      stats_.udp_queries.fetch_add(1, std::memory_order_relaxed);
      break;
    case Transport::kTcp:
      stats_.tcp_queries.fetch_add(1, std::memory_order_relaxed);
      break;
    case Transport::kTls:
      stats_.tls_queries.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  // Per thread: ParseQuery keeps the name buffers' capacity between
  // queries, so the hot path does not allocate them anew.
  thread_local ParsedQuery query;
  const ParseResult parsed = ParseQuery(packet, &query);
  if (parsed == ParseResult::kDrop) {
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (parsed != ParseResult::kOk || !query.has_tsig) {
    return handler_->Respond(query, parsed, conn_identity, transport, out,
                             capacity);
  }
  const uint64_t now = NowUnix();
  const TsigState tsig = VerifyQueryTsig(packet, query, tsig_keys_, now);
  switch (tsig.status) {
    case TsigStatus::kOk:
      stats_.tsig_ok.fetch_add(1, std::memory_order_relaxed);
      break;
    case TsigStatus::kBadKey:
      stats_.tsig_badkey.fetch_add(1, std::memory_order_relaxed);
      break;
    case TsigStatus::kBadSig:
      stats_.tsig_badsig.fetch_add(1, std::memory_order_relaxed);
      break;
    case TsigStatus::kBadTime:
      stats_.tsig_badtime.fetch_add(1, std::memory_order_relaxed);
      break;
    case TsigStatus::kFormErr:
    case TsigStatus::kNone:
      stats_.tsig_formerr.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  size_t limit = capacity;
  if (transport == Transport::kUdp) {
    const size_t client =
        query.has_edns ? std::max<size_t>(query.udp_payload, kMaxUdpNoEdns)
                       : kMaxUdpNoEdns;
    limit = std::min(limit, client);
  }
  if (tsig.status != TsigStatus::kOk) {
    return WriteTsigErrorResponse(query, tsig, out, limit, now);
  }
  // Leave room for our TSIG record so a signed answer still fits the
  // client's limit (the responder sets TC against the smaller size).
  const size_t reserve = TsigReserve(tsig);
  if (limit < kHeaderSize + reserve + 64) return 0;
  const size_t n = handler_->Respond(query, parsed, tsig.identity, transport,
                                     out, limit - reserve);
  if (n == 0) return 0;
  // An unsigned answer to a signed query would be rejected by the client;
  // with the reserve this cannot fail, but send nothing if it did.
  return SignResponse(tsig, out, n, limit, now);
}

void DnsServer::UdpWorker(int fd) {
  const size_t batch = options_.udp_batch;
  const size_t out_size = options_.max_udp_payload;
  // A wildcard socket (0.0.0.0 / ::) must answer from the address the query
  // was sent to, or a multi-homed host replies from another address and the
  // client drops it: learn it with IP_PKTINFO / IPV6_PKTINFO and send with
  // it.
  SockAddr local;
  local.len = sizeof(local.storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.len);
  bool wildcard = false;
  const int one = 1;
  if (local.family() == AF_INET) {
    wildcard =
        reinterpret_cast<const sockaddr_in*>(&local.storage)->sin_addr.s_addr ==
        htonl(INADDR_ANY);
    if (wildcard) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  } else if (local.family() == AF_INET6) {
    wildcard = IN6_IS_ADDR_UNSPECIFIED(
        &reinterpret_cast<const sockaddr_in6*>(&local.storage)->sin6_addr);
    if (wildcard) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
  }
  constexpr size_t kControl = CMSG_SPACE(sizeof(in6_pktinfo));
  constexpr size_t kControlWords = (kControl + 7) / 8;  // 8-byte aligned.
  std::vector<uint64_t> rx_ctl(wildcard ? batch * kControlWords : 0);
  std::vector<uint64_t> tx_ctl(wildcard ? batch * kControlWords : 0);
  std::vector<uint8_t> rx(batch * kUdpReceiveBuffer);
  std::vector<uint8_t> tx(batch * out_size);
  std::vector<mmsghdr> rx_hdr(batch);
  std::vector<mmsghdr> tx_hdr(batch);
  std::vector<iovec> rx_iov(batch);
  std::vector<iovec> tx_iov(batch);
  std::vector<sockaddr_storage> peers(batch);
  const Identity anonymous;
  while (!stopping_.load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < batch; ++i) {
      rx_iov[i] = {rx.data() + i * kUdpReceiveBuffer, kUdpReceiveBuffer};
      std::memset(&rx_hdr[i], 0, sizeof(mmsghdr));
      rx_hdr[i].msg_hdr.msg_iov = &rx_iov[i];
      rx_hdr[i].msg_hdr.msg_iovlen = 1;
      rx_hdr[i].msg_hdr.msg_name = &peers[i];
      rx_hdr[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      if (wildcard) {
        rx_hdr[i].msg_hdr.msg_control = rx_ctl.data() + i * kControlWords;
        rx_hdr[i].msg_hdr.msg_controllen = kControl;
      }
    }
    const int n = recvmmsg(fd, rx_hdr.data(), static_cast<unsigned>(batch),
                           MSG_WAITFORONE, nullptr);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
          !stopping_.load()) {
        // Transient (e.g. ICMP-reported ECONNREFUSED); never fatal.
        continue;
      }
      continue;
    }
    size_t m = 0;
    for (int i = 0; i < n; ++i) {
      const mmsghdr& h = rx_hdr[i];
      if ((h.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      uint8_t* out = tx.data() + m * out_size;
      const size_t size = Process(
          absl::MakeConstSpan(rx.data() + i * kUdpReceiveBuffer, h.msg_len),
          Transport::kUdp, anonymous, out, out_size);
      if (size == 0) continue;
      tx_iov[m] = {out, size};
      std::memset(&tx_hdr[m], 0, sizeof(mmsghdr));
      tx_hdr[m].msg_hdr.msg_iov = &tx_iov[m];
      tx_hdr[m].msg_hdr.msg_iovlen = 1;
      tx_hdr[m].msg_hdr.msg_name = &peers[i];
      tx_hdr[m].msg_hdr.msg_namelen = h.msg_hdr.msg_namelen;
      if (wildcard) {
        SetReplySource(h.msg_hdr, tx_ctl.data() + m * kControlWords, kControl,
                       &tx_hdr[m].msg_hdr);
      }
      ++m;
    }
    size_t sent = 0;
    while (sent < m) {
      const int r = sendmmsg(fd, tx_hdr.data() + sent,
                             static_cast<unsigned>(m - sent), 0);
      if (r > 0) {
        sent += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      // This datagram cannot go (e.g. unreachable peer); skip it.
      stats_.udp_send_errors.fetch_add(1, std::memory_order_relaxed);
      ++sent;
    }
  }
}

}  // namespace lufd::dns
