// GrpcAcceptor: lufd's own accept loop for the gRPC port.
//
// gRPC 1.51 accepts every TCP connection it can and holds each for up to
// its handshake timeout, with no cap in total or per source, and its
// listener stalls for many seconds after EMFILE (grpc/grpc#20418, #31080).
// So lufd binds and listens itself, accepts on one thread of its own, and
// hands each admitted socket to gRPC through
// ServerBuilder::experimental().AddExternalConnectionAcceptor(FROM_FD):
//
//  - caps before any TLS work: `max_connections` in total and
//    `max_connections_per_source` per client IP address. A connection over a
//    cap is accepted and reset at once (SO_LINGER 0: no TIME_WAIT, and the
//    client learns at once), and counted. Except: at the total cap (and
//    within its source's), the oldest connection older than 200 ms to which
//    the server has not sent a byte (idle, or an unfinished ClientHello;
//    TCP_INFO) is shut down to make room, so that many sources holding idle
//    connections cannot lock legitimate clients out until the handshake
//    timeout. shutdown(), not close(): the fd stays gRPC's, which sees EOF
//    and closes it; its inode is checked right before (fd numbers are
//    reused), which leaves a window of two system calls.
//  - descriptor exhaustion: one reserve descriptor (/dev/null) is kept open;
//    on EMFILE/ENFILE it is closed, the pending connection accepted and
//    reset, and the reserve reopened, so the listen queue drains instead of
//    filling (clients get a reset, not a hang) and the loop never spins: if
//    accept still fails it backs off (20 ms). Logged rate-limited. When the
//    reserve itself is lost (another part of lufd took the freed number),
//    a silent gRPC connection is evicted to win a descriptor back.
//  - gRPC gives no callback when it closes a connection it was handed, so
//    the loop remembers (fd, inode) of each handed connection and sweeps
//    them every 250 ms: when fstat(fd) fails or names another inode (fd
//    numbers are reused, socket inode numbers are not, in practice), the
//    connection is gone and its slots are free again. The fd is never
//    dup()ed: gRPC's close() would then not close the socket. A reused fd
//    number seen at accept time also ends the old entry at once (the kernel
//    only hands out a number that is free).
//
// The handshake timeout itself is gRPC's GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
// which applies to externally accepted connections too in 1.51 (they take
// the same Chttp2ServerListener::OnAccept -> handshake path);
// tests/integration/grpc_connections.sh checks that it cuts idle ones off.
//
// ConnectionTable is the bookkeeping alone (pure, unit tested); GrpcAcceptor
// the socket side. Thread-safe: stats() from any thread; Start/Stop once.
#ifndef LUFD_SERVER_GRPC_ACCEPTOR_H_
#define LUFD_SERVER_GRPC_ACCEPTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server_builder.h"

namespace lufd {

// Which connections are open, by fd, and how many per source address.
// Not thread-safe (the accept thread owns it).
class ConnectionTable {
 public:
  enum class Admit { kOk, kOverTotal, kOverSource };

  ConnectionTable(size_t max_total, size_t max_per_source)
      : max_total_(max_total), max_per_source_(max_per_source) {}

  // Before handing a new connection on: may `source` have one more? An
  // existing entry for `fd` is dropped first (the kernel reused the number,
  // so that connection is closed).
  Admit Check(int fd, const std::string& source);
  // Records a connection that Check admitted, accepted at `now`.
  void Add(int fd, uint64_t inode, const std::string& source, absl::Time now);

  struct SweepResult {
    size_t closed = 0;
    // Of those, connections that lived at least the handshake timeout and
    // to which the server never sent a byte (as of the previous sweep): an
    // idle connection or an unfinished ClientHello that gRPC's handshake
    // deadline ended. (A handshake that stalls after the ServerHello is not
    // counted.)
    size_t handshake_timeouts = 0;
  };
  // Drops every entry whose fd no longer refers to the same socket:
  // `inode_of(fd)` returns the fd's inode, or 0 when the fd is not open.
  // For the connections still open, `sent_any(fd)` says whether the server
  // has sent anything yet (asked until it has).
  SweepResult Sweep(absl::Time now, absl::Duration handshake_timeout,
                    absl::FunctionRef<uint64_t(int fd)> inode_of,
                    absl::FunctionRef<bool(int fd)> sent_any);

  // At the total cap, a connection that is probably an attacker's may make
  // room for a new one: the oldest connection accepted at least `min_age`
  // before `now` to which the server has sent nothing (`sent_any(fd)`,
  // asked now): an idle socket or an unfinished ClientHello. A client that
  // sent its ClientHello has had the server's answer by then (and is never
  // evicted afterwards). Returns its fd, or -1 when there is none. The
  // caller shuts the socket down (gRPC then closes it) and calls Evict().
  // *inode is set to its inode, for the caller to check before shutdown().
  int EvictionCandidate(absl::Time now, absl::Duration min_age,
                        absl::FunctionRef<bool(int fd)> sent_any,
                        uint64_t* inode);
  void Evict(int fd) { Drop(fd); }

  size_t total() const { return by_fd_.size(); }
  size_t from(const std::string& source) const;
  size_t sources() const { return per_source_.size(); }

 private:
  void Drop(int fd);

  struct Entry {
    uint64_t inode;
    std::string source;
    absl::Time accepted;
    bool sent_any = false;  // The server has sent something.
  };
  const size_t max_total_;
  const size_t max_per_source_;
  absl::flat_hash_map<int, Entry> by_fd_;
  // (fd, inode) in accept order, oldest first; entries no longer in by_fd_
  // are skipped lazily, and the queue is rebuilt when they pile up.
  std::deque<std::pair<int, uint64_t>> order_;
  absl::flat_hash_map<std::string, size_t> per_source_;
};

class GrpcAcceptor {
 public:
  struct Options {
    std::string listen;  // "host:port" / "[v6]:port"; port 0 picks one.
    size_t max_connections = 1000;
    size_t max_connections_per_source = 64;
    absl::Duration sweep_interval = absl::Milliseconds(250);
    // gRPC's (GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS); only for counting.
    absl::Duration handshake_timeout = absl::Seconds(5);
    // How old a silent connection must be before it may be evicted.
    absl::Duration evict_min_age = absl::Milliseconds(200);
  };
  struct Stats {
    uint64_t accepted = 0;  // Handed to gRPC.
    uint64_t refused_total = 0;
    uint64_t refused_per_source = 0;
    uint64_t evicted = 0;  // Silent connections shut down to make room.
    uint64_t descriptor_exhausted = 0;  // EMFILE/ENFILE events.
    uint64_t closed = 0;                // Seen closed by the sweep.
    uint64_t handshake_timeouts = 0;    // See ConnectionTable::SweepResult.
    uint64_t open = 0;                  // Handed and not yet seen closed.
  };

  // Binds and listens (so the port is known before the server is built).
  static absl::StatusOr<std::unique_ptr<GrpcAcceptor>> Listen(
      const Options& options);
  ~GrpcAcceptor();  // Stop().
  GrpcAcceptor(const GrpcAcceptor&) = delete;
  GrpcAcceptor& operator=(const GrpcAcceptor&) = delete;

  int port() const { return port_; }
  // Starts the accept thread; each admitted connection goes to `sink`
  // (from AddExternalConnectionAcceptor, started server).
  void Start(
      std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink);
  // Stops accepting, closes the listener, logs the totals. Connections
  // already handed to gRPC stay gRPC's.
  void Stop();
  Stats stats() const;

 private:
  explicit GrpcAcceptor(const Options& options);
  void Run();
  void AcceptOne(bool* again);
  void OnExhausted(int err, bool* again);
  // Shuts down the oldest connection the server never answered (gRPC then
  // closes it) and frees its slot; false when there is none.
  bool EvictOldestSilent(absl::Time now);

  const Options options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int reserve_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink_;
  ConnectionTable table_;  // Accept thread only.
  std::thread thread_;
  bool stopped_ = false;
  absl::Time last_exhausted_log_ = absl::InfinitePast();
  uint64_t exhausted_since_log_ = 0;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_total_{0};
  std::atomic<uint64_t> refused_per_source_{0};
  std::atomic<uint64_t> evicted_{0};
  std::atomic<uint64_t> exhausted_{0};
  std::atomic<uint64_t> closed_{0};
  std::atomic<uint64_t> handshake_timeouts_{0};
  std::atomic<uint64_t> open_{0};
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_ACCEPTOR_H_
