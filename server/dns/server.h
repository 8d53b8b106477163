// DnsServer: the DNS listeners. UDP, TCP (RFC 7766) and DNS over TLS
// (RFC 7858) sockets per DnsConfig, each message run through the same
// pipeline (Process): ParseQuery -> TSIG check (tsig.h) -> ResponseLimit ->
// QueryProcessor::Respond (processor.h) -> TSIG-sign the response when the
// query was signed -> send.
//
// Threads and sockets:
//   UDP  for every `listen` address, `workers` sockets bound with
//        SO_REUSEPORT (the kernel spreads flows over them), each served by
//        its own thread with recvmmsg/sendmmsg of up to `udp_batch`
//        messages per call;
//   TCP  one epoll thread (TcpLoop, tcp_loop.h) owns every TCP and DoT
//        listener and connection (non-blocking; TLS handshakes progress in
//        the same loop, so a slow handshake never blocks another
//        connection). Messages are 2-byte length prefixed (max 65535);
//        pipelined queries are answered in arrival order as they
//        complete; a connection with
//        max_tcp_queries_in_flight answers not yet written stops being read
//        until the client reads. Connection caps: max_tcp_connections in
//        total (TCP + DoT) and max_tcp_per_source per client address; the
//        excess is accepted and closed at once. tcp_reserved_for_peers of
//        the total are for peers: a connection counts as a peer's once its
//        DoT client certificate authenticated or a TSIG verified on it;
//        until then it is anonymous, and anonymous connections are capped at
//        the rest. At a cap, a new connection evicts the anonymous
//        connection idle the longest (so a flood of idle anonymous
//        connections cannot lock a peer out), or is closed when there is
//        none. Out of descriptors (EMFILE), the loop closes a reserve
//        descriptor to accept and close the pending connection, and pauses
//        that listener for a few milliseconds rather than spin on it.
//        A connection is closed when
//        tcp_idle_timeout passes without a complete message (so a
//        slow-loris client trickling a partial message is closed too).
//   DoT  client_cert "none" | "optional" | "required": the chain is verified
//        by OpenSSL against dot.tls.client_ca_file; the identity (and CRL
//        check) comes from the PeerAuthenticator, re-run for every message
//        on the connection's certificate (so disabling a credential takes
//        effect on the next query). A certificate that does not
//        authenticate closes the connection: it never falls back to a view.
//
// Port 0 in an address picks a free port (the same one for UDP and TCP of
// that address); bound() reports the actual addresses. A wildcard address
// (0.0.0.0, ::) answers each datagram from the address it was sent to
// (IP_PKTINFO / IPV6_PKTINFO).
//
// Malformed input never ends a thread: ParseQuery classifies it and the
// processor answers FORMERR or nothing. Stop() closes every socket and joins
// every thread; it is idempotent and the destructor calls it.
//
// Thread-safety: Start/Stop from one thread; stats() and bound() from any.
// The processor, the TSIG lookup and the authenticator are called
// concurrently from every worker and must be thread-safe; they must
// outlive the server.
#ifndef LUFD_SERVER_DNS_SERVER_H_
#define LUFD_SERVER_DNS_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "server/core/identity.h"
#include "server/dns/processor.h"
#include "server/dns/tsig.h"
#include "server/dns/wire.h"

namespace lufd::dns {

// Maps a verified DoT client certificate (PEM) to an identity, including
// revocation; an error closes the connection. lufd passes
// Authenticator::AuthenticatePem (server/grpc/auth.h) configured with the
// dot.tls CA and CRL files.
using PeerAuthenticator =
    std::function<absl::StatusOr<Identity>(absl::string_view pem)>;

struct DnsServerStats {
  std::atomic<uint64_t> udp_queries{0}, tcp_queries{0}, tls_queries{0};
  std::atomic<uint64_t> dropped{0};  // Parsed as kDrop, or send failed.
  std::atomic<uint64_t> udp_send_errors{0};
  std::atomic<uint64_t> tcp_accepted{0}, tcp_refused{0}, tcp_open{0};
  std::atomic<uint64_t> tcp_idle_closed{0}, tcp_bad_length{0};
  // Anonymous connections closed to make room for a new one (the longest
  // idle first), and accept() failures for want of descriptors.
  std::atomic<uint64_t> tcp_evicted{0}, tcp_out_of_descriptors{0};
  std::atomic<uint64_t> tls_handshake_failed{0}, tls_auth_failed{0};
  std::atomic<uint64_t> tsig_ok{0}, tsig_badkey{0}, tsig_badsig{0},
      tsig_badtime{0}, tsig_formerr{0};
  // Responses sent, by the header's RCODE (the low 4 bits; an extended
  // RCODE such as BADVERS counts under its low bits, 0): counted in
  // Process(), the one place every transport's response passes. Queries
  // that get no response at all count in `unanswered`.
  std::atomic<uint64_t> rcode[16] = {};
  std::atomic<uint64_t> unanswered{0};
};

struct BoundAddress {
  std::string transport;  // "udp+tcp" or "tls".
  std::string address;    // "127.0.0.1:5353", "[::1]:5353" (actual port).
  int port = 0;
};

class DnsServer {
 public:
  struct Options {
    std::vector<std::string> listen;  // UDP + TCP.
    std::string dot_listen;           // Empty: no DoT.
    lufd::v1::TlsConfig dot_tls;
    std::string dot_client_cert = "optional";
    // TLS 1.3 only unless "1.2" (dns.dot.min_tls_version).
    std::string dot_min_tls_version = "1.3";
    uint32_t workers = 0;  // 0 = hardware concurrency.
    uint32_t max_udp_payload = 1232;
    uint32_t max_tcp_connections = 1000;
    uint32_t max_tcp_per_source = 16;
    // Of max_tcp_connections, slots anonymous connections cannot hold.
    uint32_t tcp_reserved_for_peers = 0;
    absl::Duration tcp_idle_timeout = absl::Seconds(10);
    uint32_t max_tcp_queries_in_flight = 100;
    uint32_t udp_batch = 32;
    uint32_t udp_receive_buffer = 4 << 20;  // SO_RCVBUF; 0 = the OS's.
    // Zone transfers over TCP/DoT (processor.h); null: transfer queries
    // go to the QueryProcessor (REFUSED). Borrowed; must outlive the
    // server.
    XfrProcessor* xfr = nullptr;
  };
  // From a DnsConfig with defaults applied (server/ops/config.h).
  static Options OptionsFromConfig(const lufd::v1::DnsConfig& config);

  // Binds everything, then starts the threads. On error nothing is left
  // running. `tsig_keys` may be empty (every TSIG is then BADKEY);
  // `authenticator` may be empty (DoT peers are then anonymous).
  static absl::StatusOr<std::unique_ptr<DnsServer>> Start(
      const Options& options, QueryProcessor* processor,
      TsigKeyLookup tsig_keys, PeerAuthenticator authenticator);

  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  void Stop();

  // Makes the TCP loop re-check the DoT certificate files now rather than
  // at its next dot.tls.reload_interval tick (SIGHUP); they are reloaded
  // when they changed on disk and parse, else the old ones stay. No-op
  // without DoT. Any thread.
  void ReloadTlsNow();

  const std::vector<BoundAddress>& bound() const { return bound_; }
  const DnsServerStats& stats() const { return stats_; }

  // The per-message pipeline shared by every transport (public for tests):
  // writes the response to `packet` into out[0..capacity) and returns its
  // size (0 = send nothing). `capacity` is the transport's limit
  // (max_udp_payload for UDP, 65535 for TCP/DoT); `conn_identity` is the
  // DoT identity or anonymous; `client` the source address (may be
  // unknown). `tsig_peer`, when given, is set to whether the message
  // carried a TSIG that verified for a peer's key. `stream`, when given
  // (TCP and DoT), receives the whole response to a zone transfer query
  // when Options::xfr handles it: every message with its 2-byte length
  // prefix, TSIG-signed when the query was; Process then returns 0.
  size_t Process(absl::Span<const uint8_t> packet, Transport transport,
                 const Identity& conn_identity, const ClientAddress& client,
                 uint8_t* out, size_t capacity, bool* tsig_peer = nullptr,
                 std::string* stream = nullptr);

 private:
  struct UdpSocket;
  class TcpLoop;

  DnsServer() = default;
  void UdpWorker(int fd);
  // Process() without the per-RCODE count.
  size_t Answer(absl::Span<const uint8_t> packet, Transport transport,
                const Identity& conn_identity, const ClientAddress& client,
                uint8_t* out, size_t capacity, bool* tsig_peer,
                std::string* stream);
  // The transfer path of Process: Options::xfr's messages, signed with
  // `tsig` when it is kOk, length-prefixed into *stream.
  void Transfer(const ParsedQuery& query, const Identity& viewer,
                const TsigState* tsig, Transport transport, size_t capacity,
                std::string* stream);

  Options options_;
  QueryProcessor* processor_ = nullptr;
  TsigKeyLookup tsig_keys_;
  PeerAuthenticator authenticator_;
  std::vector<int> udp_fds_;
  std::unique_ptr<TcpLoop> tcp_loop_;
  std::vector<std::thread> threads_;
  std::vector<BoundAddress> bound_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> tls_reload_requested_{false};  // ReloadTlsNow().
  bool stopped_ = false;
  DnsServerStats stats_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_SERVER_H_
