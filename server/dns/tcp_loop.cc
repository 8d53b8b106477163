#include "server/dns/tcp_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/ops/config_values.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {
namespace {

constexpr int kLoopTickMs = 100;  // Idle-timeout granularity.
// How long a listener rests after accept() found no descriptor: long enough
// not to spin on a level-triggered listener, short enough that serving
// resumes at once when descriptors are back.
constexpr absl::Duration kAcceptPause = absl::Milliseconds(10);
constexpr size_t kReadChunk = 16384;

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

// TLS 1.3 only, unless `min_tls_version` is exactly "1.2".
absl::StatusOr<SSL_CTX*> MakeTlsContext(const lufd::v1::TlsConfig& tls,
                                        const std::string& client_cert,
                                        const std::string& min_tls_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  auto fail = [ctx](absl::string_view what) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(
        absl::StrCat("dns.dot.tls: ", what, ": ", OpenSslError()));
  };
  // Set both ways, whatever the process-wide OpenSSL defaults say: the gRPC
  // port installs a TLS-1.3-only system default (server/grpc/tls.cc) that
  // every later SSL_CTX inherits, including this one on a certificate
  // reload, so 1.2 must be re-enabled here when the config asks for it.
  if (min_tls_version == "1.2") {
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TLSv1_2);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
      return fail("cannot allow TLS 1.2");
    }
  } else if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return fail("cannot require TLS 1.3");
  }
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
}  // namespace

DnsServer::TcpLoop::~TcpLoop() {
  for (auto& [fd, conn] : conns_) {
    if (conn->ssl != nullptr) SSL_free(conn->ssl);
    close(fd);
  }
  for (const Listener& l : listeners_) close(l.fd);
  if (reserve_fd_ >= 0) close(reserve_fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (epfd_ >= 0) close(epfd_);
  if (wakefd_ >= 0) close(wakefd_);
}

absl::Status DnsServer::TcpLoop::Init() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll: ", strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return absl::OkStatus();
}

absl::Status DnsServer::TcpLoop::InitTls() {
  absl::StatusOr<SSL_CTX*> ctx = MakeTlsContext(
      options_.dot_tls, options_.dot_client_cert, options_.dot_min_tls_version);
  if (!ctx.ok()) return ctx.status();
  ctx_ = *ctx;
  files_signature_ = FilesSignature(options_.dot_tls);
  return absl::OkStatus();
}

absl::Status DnsServer::TcpLoop::AddListener(int fd, bool tls) {
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

void DnsServer::TcpLoop::Wake() {
  const uint64_t one = 1;
  (void)!write(wakefd_, &one, sizeof(one));
}

void DnsServer::TcpLoop::Run() {
  epoll_event events[256];
  absl::Time last_scan = absl::Now();
  absl::Time last_reload = absl::Now();
  // The interval comes defaulted from the config (10s); the floor keeps a
  // hand-built Options (tests) from reloading on every tick.
  const absl::Duration reload_every = std::max(
      absl::Seconds(1), ConfigDuration(options_.dot_tls.reload_interval()));
  while (!server_->stopping_.load(std::memory_order_relaxed)) {
    const int timeout = !ready_.empty() ? 0 : any_paused_ ? 5 : kLoopTickMs;
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
    if (any_paused_) ResumeListeners(now);
    if (now - last_scan >= absl::Milliseconds(kLoopTickMs)) {
      last_scan = now;
      CloseExpired(now);
    }
    const bool requested = server_->tls_reload_requested_.exchange(
        false, std::memory_order_relaxed);
    if (ctx_ != nullptr && (requested || now - last_reload >= reload_every)) {
      last_reload = now;
      MaybeReloadTls();
    }
  }
}

uint64_t DnsServer::TcpLoop::TagOf(const Conn& c) const {
  return (uint64_t{c.generation} << 32) | static_cast<uint32_t>(c.fd);
}

DnsServer::TcpLoop::Conn* DnsServer::TcpLoop::Lookup(uint64_t tag) {
  auto it = conns_.find(static_cast<int>(tag & 0xffffffffu));
  if (it == conns_.end() || it->second->generation != (tag >> 32)) {
    return nullptr;
  }
  return it->second.get();
}

void DnsServer::TcpLoop::Accept(Listener& l) {
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        OutOfDescriptors(l);
      }
      return;  // EAGAIN: all taken.
    }
    server_->stats_.tcp_accepted.fetch_add(1, std::memory_order_relaxed);
    std::string source = HostText(peer);
    const auto at_source = per_source_.find(source);
    if ((at_source != per_source_.end() &&
         static_cast<uint32_t>(at_source->second) >=
             options_.max_tcp_per_source) ||
        !MakeRoom()) {
      server_->stats_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
      close(fd);
      continue;
    }
    ++per_source_[source];
    ++anonymous_;
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    conn->generation = ++generation_;
    conn->source = std::move(source);
    conn->client = ClientAddress::From(peer);
    conn->deadline = absl::Now() + options_.tcp_idle_timeout;
    if (l.tls) {
      conn->ssl = SSL_new(ctx_);
      if (conn->ssl == nullptr) {
        ReleaseSource(conn->source);
        --anonymous_;
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

bool DnsServer::TcpLoop::MakeRoom() {
  const size_t anonymous_cap =
      options_.max_tcp_connections - std::min(options_.tcp_reserved_for_peers,
                                              options_.max_tcp_connections - 1);
  if (conns_.size() < options_.max_tcp_connections &&
      anonymous_ < anonymous_cap) {
    return true;
  }
  // Longest idle = earliest deadline (one idle timeout for all). A linear
  // scan: this runs only at a cap, over at most max_tcp_connections.
  Conn* victim = nullptr;
  for (auto& [fd, c] : conns_) {
    if (!c->peer && (victim == nullptr || c->deadline < victim->deadline)) {
      victim = c.get();
    }
  }
  if (victim == nullptr) return false;  // Every slot is a peer's.
  server_->stats_.tcp_evicted.fetch_add(1, std::memory_order_relaxed);
  Close(victim);
  return true;
}

void DnsServer::TcpLoop::MarkPeer(Conn* c) {
  if (c->peer) return;
  c->peer = true;
  --anonymous_;
}

void DnsServer::TcpLoop::OutOfDescriptors(Listener& l) {
  const int error = errno;
  server_->stats_.tcp_out_of_descriptors.fetch_add(1,
                                                   std::memory_order_relaxed);
  // The pending connection would otherwise wait in the kernel's queue, its
  // client hanging; closing it tells the client to go elsewhere.
  if (reserve_fd_ >= 0) {
    close(reserve_fd_);
    const int fd = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      server_->stats_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
      close(fd);
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  // Level-triggered: while the queue is not empty, the listener would be
  // ready on every epoll_wait and the loop would spin.
  epoll_event ev{};
  ev.events = 0;
  ev.data.u64 = kListenerTag | static_cast<uint64_t>(&l - listeners_.data());
  epoll_ctl(epfd_, EPOLL_CTL_MOD, l.fd, &ev);
  const absl::Time now = absl::Now();
  l.paused_until = now + kAcceptPause;
  any_paused_ = true;
  ++exhaustion_unlogged_;
  if (now - last_exhaustion_log_ >= absl::Seconds(1)) {
    spdlog::warn(
        "dns: out of file descriptors ({}); {} TCP/DoT connection(s) open; "
        "refusing new connections until descriptors are free ({} time(s) "
        "since the last line)",
        strerror(error), conns_.size(), exhaustion_unlogged_);
    last_exhaustion_log_ = now;
    exhaustion_unlogged_ = 0;
  }
}

void DnsServer::TcpLoop::ResumeListeners(absl::Time now) {
  any_paused_ = false;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = listeners_[i];
    if (l.paused_until == absl::InfinitePast()) continue;
    if (now < l.paused_until) {
      any_paused_ = true;
      continue;
    }
    l.paused_until = absl::InfinitePast();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag | i;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, l.fd, &ev);
  }
}

void DnsServer::TcpLoop::ReleaseSource(const std::string& source) {
  auto it = per_source_.find(source);
  if (it != per_source_.end() && --it->second <= 0) per_source_.erase(it);
}

void DnsServer::TcpLoop::Close(Conn* c) {
  const int fd = c->fd;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  if (c->ssl != nullptr) {
    if (!c->handshaking) SSL_shutdown(c->ssl);  // Best effort close_notify.
    SSL_free(c->ssl);
  }
  close(fd);
  ReleaseSource(c->source);
  if (!c->peer) --anonymous_;
  server_->stats_.tcp_open.fetch_sub(1, std::memory_order_relaxed);
  conns_.erase(fd);
}

void DnsServer::TcpLoop::CloseExpired(absl::Time now) {
  std::vector<Conn*> expired;
  for (auto& [fd, c] : conns_) {
    if (now >= c->deadline) expired.push_back(c.get());
  }
  for (Conn* c : expired) {
    server_->stats_.tcp_idle_closed.fetch_add(1, std::memory_order_relaxed);
    Close(c);
  }
}

void DnsServer::TcpLoop::MaybeReloadTls() {
  const std::string sig = FilesSignature(options_.dot_tls);
  if (sig == files_signature_) return;
  absl::StatusOr<SSL_CTX*> ctx = MakeTlsContext(
      options_.dot_tls, options_.dot_client_cert, options_.dot_min_tls_version);
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

bool DnsServer::TcpLoop::Handshake(Conn* c) {
  ERR_clear_error();
  const int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->handshaking = false;
    c->peer_pem = PeerCertificatePem(c->ssl);
    if (!c->peer_pem.empty() && server_->authenticator_) {
      absl::StatusOr<Identity> id = server_->authenticator_(c->peer_pem);
      if (!id.ok()) {
        server_->stats_.tls_auth_failed.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("dns: DoT client {} rejected: {}", c->source,
                      std::string(id.status().message()));
        Close(c);
        return false;
      }
      if (!id->anonymous()) MarkPeer(c);
    }
    return true;
  }
  const int err = SSL_get_error(c->ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    SetInterest(c, err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
    return false;
  }
  server_->stats_.tls_handshake_failed.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("dns: DoT handshake from {} failed: {}", c->source,
                OpenSslError());
  Close(c);
  return false;
}

void DnsServer::TcpLoop::SetInterest(Conn* c, uint32_t interest) {
  if (interest == c->interest) return;
  epoll_event ev{};
  ev.events = interest;
  ev.data.u64 = TagOf(*c);
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
  c->interest = interest;
}

int DnsServer::TcpLoop::ReadSome(Conn* c) {
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

bool DnsServer::TcpLoop::Flush(Conn* c) {
  size_t written = 0;
  const bool ok = FlushSome(c, &written);
  if (c->transfer_left > 0 && written > 0) {
    c->transfer_left -= std::min(written, c->transfer_left);
    c->deadline = absl::Now() + options_.tcp_idle_timeout;
  }
  return ok;
}

bool DnsServer::TcpLoop::FlushSome(Conn* c, size_t* written) {
  while (c->out_off < c->out.size()) {
    const size_t left = c->out.size() - c->out_off;
    if (c->ssl != nullptr) {
      ERR_clear_error();
      const int r = SSL_write(c->ssl, c->out.data() + c->out_off,
                              static_cast<int>(std::min<size_t>(left, 65536)));
      if (r > 0) {
        c->out_off += static_cast<size_t>(r);
        *written += static_cast<size_t>(r);
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
      *written += static_cast<size_t>(r);
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

bool DnsServer::TcpLoop::Full(const Conn& c) const {
  return c.answer_ends.size() >= options_.max_tcp_queries_in_flight;
}

bool DnsServer::TcpLoop::ProcessInput(Conn* c) {
  while (!Full(*c)) {
    const size_t avail = c->in.size() - c->in_off;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const uint8_t*>(c->in.data()) + c->in_off;
    const size_t len = (size_t{p[0]} << 8) | p[1];
    if (len == 0) {
      server_->stats_.tcp_bad_length.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (avail < 2 + len) break;
    Identity identity;
    if (c->ssl != nullptr && !c->peer_pem.empty() && server_->authenticator_) {
      absl::StatusOr<Identity> id = server_->authenticator_(c->peer_pem);
      if (!id.ok()) {
        server_->stats_.tls_auth_failed.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      identity = *std::move(id);
    }
    bool tsig_peer = false;
    stream_.clear();
    const size_t n = server_->Process(
        absl::MakeConstSpan(p + 2, len),
        c->ssl != nullptr ? Transport::kTls : Transport::kTcp, identity,
        c->client, scratch_.data(), kMaxTcpMessage, &tsig_peer, &stream_);
    if (tsig_peer) MarkPeer(c);
    if (!stream_.empty()) {
      // A zone transfer: many messages, already length-prefixed; they
      // count as one answer in flight.
      c->out.append(stream_);
      c->answer_ends.push_back(c->out.size());
      c->transfer_left += stream_.size();
      if (stream_.capacity() > (size_t{1} << 20)) std::string().swap(stream_);
    } else if (n > 0) {
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

void DnsServer::TcpLoop::Service(Conn* c) {
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

}  // namespace lufd::dns
