#include "server/dns/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/dns/tcp_loop.h"
#include "server/ops/config_values.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {
namespace {

constexpr size_t kUdpReceiveBuffer = 4096;  // Larger queries are dropped.
constexpr int kUdpWakeMs = 200;             // SO_RCVTIMEO: Stop() latency.

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

// Asks for `bytes` of receive buffer (SO_RCVBUFFORCE goes past
// net.core.rmem_max with CAP_NET_ADMIN; SO_RCVBUF is capped by it) and
// returns what the socket got, as the kernel reports it (twice the
// payload it admits, for its bookkeeping).
int SetReceiveBuffer(int fd, uint32_t bytes) {
  if (bytes > 0) {
    const int want = static_cast<int>(std::min<uint32_t>(bytes, INT32_MAX));
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    }
  }
  int got = 0;
  socklen_t len = sizeof(got);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
  return got;
}

int BoundPort(int fd) {
  SockAddr a;
  a.len = sizeof(a.storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) {
    return -1;
  }
  return PortOf(a);
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

DnsServer::Options DnsServer::OptionsFromConfig(
    const lufd::v1::DnsConfig& config) {
  Options o;
  o.listen.assign(config.listen().begin(), config.listen().end());
  o.dot_listen = config.dot().listen();
  o.dot_tls = config.dot().tls();
  o.dot_client_cert = config.dot().client_cert();
  o.dot_min_tls_version = config.dot().min_tls_version();
  o.workers = config.workers();
  o.max_udp_payload = config.max_udp_payload();
  o.max_tcp_connections = config.max_tcp_connections();
  o.max_tcp_per_source = config.max_tcp_per_source();
  o.tcp_reserved_for_peers = config.tcp_reserved_for_peers();
  o.tcp_idle_timeout = ConfigDuration(config.tcp_idle_timeout());
  o.max_tcp_queries_in_flight = config.max_tcp_queries_in_flight();
  o.udp_batch = config.udp_batch();
  o.udp_receive_buffer = config.udp_receive_buffer();
  return o;
}

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Start(
    const Options& options, QueryProcessor* processor, TsigKeyLookup tsig_keys,
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
  s->processor_ = processor;
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
      int receive_buffer = 0;
      for (int fd : udp) {
        timeval tv{0, kUdpWakeMs * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        receive_buffer = SetReceiveBuffer(fd, o.udp_receive_buffer);
        s->udp_fds_.push_back(fd);
      }
      if (o.udp_receive_buffer > 0 &&
          receive_buffer / 2 < static_cast<int64_t>(o.udp_receive_buffer)) {
        spdlog::warn(
            "dns: UDP receive buffer of {} is {} bytes, not the {} asked "
            "(dns.udp_receive_buffer): raise net.core.rmem_max or grant "
            "CAP_NET_ADMIN; a flood then drops queries sooner",
            AddressText(a), receive_buffer / 2, o.udp_receive_buffer);
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

void DnsServer::ReloadTlsNow() {
  if (tcp_loop_ == nullptr || options_.dot_listen.empty()) return;
  tls_reload_requested_.store(true, std::memory_order_relaxed);
  tcp_loop_->Wake();
}

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
                          const Identity& conn_identity,
                          const ClientAddress& client, uint8_t* out,
                          size_t capacity, bool* tsig_peer,
                          std::string* stream) {
  const size_t size = Answer(packet, transport, conn_identity, client, out,
                             capacity, tsig_peer, stream);
  if (size >= 4) {
    stats_.rcode[out[3] & 0x0F].fetch_add(1, std::memory_order_relaxed);
  } else if (stream != nullptr && stream->size() >= 6) {
    // A transfer: its first (length-prefixed) message's RCODE.
    stats_.rcode[static_cast<uint8_t>((*stream)[5]) & 0x0F].fetch_add(
        1, std::memory_order_relaxed);
  } else {
    stats_.unanswered.fetch_add(1, std::memory_order_relaxed);
  }
  return size;
}

size_t DnsServer::Answer(absl::Span<const uint8_t> packet, Transport transport,
                         const Identity& conn_identity,
                         const ClientAddress& client, uint8_t* out,
                         size_t capacity, bool* tsig_peer,
                         std::string* stream) {
  if (tsig_peer != nullptr) *tsig_peer = false;
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
  // The one place the response size limit is decided (processor.h).
  const size_t limit = ResponseLimit(query, transport, capacity);
  const bool transfer = options_.xfr != nullptr && stream != nullptr &&
                        transport != Transport::kUdp &&
                        parsed == ParseResult::kOk &&
                        (query.qtype == kTypeAXFR || query.qtype == kTypeIXFR);
  if (transfer && !query.has_tsig) {
    Transfer(query, conn_identity, nullptr, transport, limit, stream);
    return 0;
  }
  if (parsed != ParseResult::kOk || !query.has_tsig) {
    return processor_->Respond(query, parsed, conn_identity, transport, client,
                               out, limit);
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
  if (tsig.status != TsigStatus::kOk) {
    if (transport == Transport::kUdp && processor_->DropUnansweredUdp(client)) {
      return 0;
    }
    return WriteTsigErrorResponse(query, tsig, out, limit, now);
  }
  if (tsig_peer != nullptr) *tsig_peer = !tsig.identity.anonymous();
  if (transfer) {
    Transfer(query, tsig.identity, &tsig, transport, limit, stream);
    return 0;
  }
  // Leave room for our TSIG record so a signed answer still fits the
  // client's limit (the processor sets TC against the smaller size).
  const size_t reserve = TsigReserve(tsig);
  if (limit < kHeaderSize + reserve + 64) return 0;
  const size_t n = processor_->Respond(query, parsed, tsig.identity, transport,
                                       client, out, limit - reserve);
  if (n == 0) return 0;
  // An unsigned answer to a signed query would be rejected by the client;
  // with the reserve this cannot fail, but send nothing if it did.
  return SignResponse(tsig, out, n, limit, now);
}

void DnsServer::Transfer(const ParsedQuery& query, const Identity& viewer,
                         const TsigState* tsig, Transport transport,
                         size_t capacity, std::string* stream) {
  const size_t reserve = tsig != nullptr ? TsigReserve(*tsig) : 0;
  std::vector<std::string> messages = options_.xfr->Transfer(
      query, viewer, tsig != nullptr ? tsig->key_name : std::string_view(),
      transport, capacity - reserve);
  std::optional<TsigStreamSigner> signer;
  if (tsig != nullptr) signer.emplace(*tsig);
  const uint64_t now = NowUnix();
  for (std::string& m : messages) {
    size_t n = m.size();
    if (signer.has_value()) {
      m.resize(n + reserve);
      n = signer->Sign(reinterpret_cast<uint8_t*>(m.data()), n, m.size(), now);
      // Cannot happen with the reserve; a gap would break the client's
      // MAC chain, so end the stream here rather than skip a message.
      if (n == 0) break;
    }
    stream->push_back(static_cast<char>(n >> 8));
    stream->push_back(static_cast<char>(n & 0xff));
    stream->append(m.data(), n);
  }
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
    // Stop() wakes this thread with shutdown(), which returns an empty
    // "datagram": it is no query, and must not be counted as a dropped one.
    if (stopping_.load(std::memory_order_relaxed)) break;
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
          Transport::kUdp, anonymous, ClientAddress::From(peers[i]), out,
          out_size);
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
