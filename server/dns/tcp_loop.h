// DnsServer::TcpLoop: the TCP (RFC 7766) and DNS-over-TLS (RFC 7858)
// side of DnsServer. One thread runs Run(): a non-blocking epoll loop that
// owns every TCP and DoT listener and connection. TLS handshakes progress
// in the same loop, so a slow handshake never blocks another connection.
// Messages are 2-byte length prefixed; each complete one goes through
// DnsServer::Process (parse, TSIG, the QueryProcessor) and its answer is
// queued in arrival order. The connection caps, the in-flight cap, the idle
// timeout and the DoT client-certificate rules are those described in
// server.h, where DnsServer::Options documents each knob.
//
// Internal to server/dns: only server.cc creates it. Thread-safety: Init,
// InitTls and AddListener before Run starts (DnsServer::Start); Wake from
// any thread; everything else only on the loop's own thread. It borrows the
// DnsServer (stats, authenticator, Process, the stopping flag) and its
// Options, which outlive it.
#ifndef LUFD_SERVER_DNS_TCP_LOOP_H_
#define LUFD_SERVER_DNS_TCP_LOOP_H_

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/dns/server.h"

namespace lufd::dns {

// Largest DNS message over TCP (its length prefix is 16 bits).
inline constexpr size_t kMaxTcpMessage = 65535;

class DnsServer::TcpLoop {
 public:
  TcpLoop(DnsServer* server, const Options& options)
      : server_(server), options_(options) {}

  ~TcpLoop();  // Closes every listener and connection.

  // The epoll set and its wake-up eventfd.
  absl::Status Init();
  // The DoT context from options.dot_tls (only when DoT is configured).
  absl::Status InitTls();
  // Takes ownership of a bound TCP socket; `tls`: a DoT listener.
  absl::Status AddListener(int fd, bool tls);
  // Makes Run() notice DnsServer::stopping_ (from Stop()) or
  // tls_reload_requested_ (ReloadTlsNow()) now.
  void Wake();
  // The loop; returns once the server is stopping.
  void Run();

 private:
  static constexpr uint64_t kWakeTag = ~uint64_t{0};
  static constexpr uint64_t kListenerTag = uint64_t{1} << 62;

  struct Listener {
    int fd;
    bool tls;
    // Out of descriptors: not polled until then (absl::InfinitePast() =
    // polled).
    absl::Time paused_until = absl::InfinitePast();
  };

  struct Conn {
    int fd = -1;
    uint32_t generation = 0;
    std::string source;
    ClientAddress client;  // For the guard.
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
    // An authenticated peer's (DoT client certificate, or a TSIG verified
    // on it): holds a reserved slot and is never evicted.
    bool peer = false;
    // Bytes of zone transfer output not yet written: while there are, each
    // write that makes progress counts as activity for the idle timeout, so
    // a large transfer to a secondary that keeps reading is not cut off.
    size_t transfer_left = 0;
  };

  // epoll tags: (generation << 32) | fd, so a reused fd's stale events are
  // ignored.
  uint64_t TagOf(const Conn& c) const;
  Conn* Lookup(uint64_t tag);
  // Accepts what is pending, closing at once what exceeds the caps.
  void Accept(Listener& l);
  void ReleaseSource(const std::string& source);
  // Room for one more connection under the total and anonymous caps:
  // true when there is, possibly after evicting the anonymous connection
  // idle the longest.
  bool MakeRoom();
  void MarkPeer(Conn* c);
  // accept() failed for want of descriptors: refuse what is pending with
  // the reserve descriptor, then stop polling `l` for a moment.
  void OutOfDescriptors(Listener& l);
  // Polls again the listeners whose pause is over.
  void ResumeListeners(absl::Time now);
  void Close(Conn* c);
  void CloseExpired(absl::Time now);
  // Reloads the DoT certificate files when they changed on disk.
  void MaybeReloadTls();

  // Progresses the TLS handshake. True when done and the connection may
  // carry messages; false when it is waiting (interest updated) or closed.
  bool Handshake(Conn* c);
  void SetInterest(Conn* c, uint32_t interest);
  // Reads one chunk: >0 bytes read, 0 would block, -1 EOF or error.
  int ReadSome(Conn* c);

  // Writes what is queued. False on a fatal error.
  bool Flush(Conn* c);
  // Flush without the transfer bookkeeping; adds the bytes written.
  bool FlushSome(Conn* c, size_t* written);
  // max_tcp_queries_in_flight answers are queued: stop reading.
  bool Full(const Conn& c) const;

  // Answers every complete message buffered, up to the in-flight cap.
  // False when the stream is broken (zero length) or a DoT identity no
  // longer authenticates.
  bool ProcessInput(Conn* c);
  // Everything a ready connection needs: handshake, read, answer, write,
  // and its epoll interest for what is left.
  void Service(Conn* c);

  DnsServer* server_;
  const Options& options_;
  int epfd_ = -1;
  int wakefd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  std::string files_signature_;
  std::vector<Listener> listeners_;
  absl::flat_hash_map<int, std::unique_ptr<Conn>> conns_;
  absl::flat_hash_map<std::string, int> per_source_;
  size_t anonymous_ = 0;  // Connections in conns_ that are not peers'.
  // Opened on /dev/null, closed to make room for one accept() when the
  // process is out of descriptors.
  int reserve_fd_ = -1;
  bool any_paused_ = false;
  absl::Time last_exhaustion_log_ = absl::InfinitePast();
  uint64_t exhaustion_unlogged_ = 0;
  std::vector<uint64_t> ready_;
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(kMaxTcpMessage);
  std::string stream_;  // A zone transfer's messages (Process).
  uint32_t generation_ = 0;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_TCP_LOOP_H_
