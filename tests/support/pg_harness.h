// PgHarness: a throw-away PostgreSQL 15 server for tests.
//
// Start() runs initdb in a fresh temporary directory (trust auth, no fsync),
// starts the server on a free 127.0.0.1 TCP port with its unix socket inside
// that directory, and waits (bounded) until it accepts connections. When the
// test runs as root, every PostgreSQL binary runs as the unprivileged
// `postgres` system user (via runuser) and the directory is chowned to it.
// The destructor stops the server (pg_ctl stop -m fast) and deletes the
// directory. StartReplica() makes a streaming hot standby of it
// (pg_basebackup -R -X stream) on another port, itself a PgHarness.
// Thread-safety: not thread-safe; create and use from one thread (the
// servers themselves may of course be used from any thread).
// Ownership: each PgHarness owns its server process and directory; destroy a
// replica before its primary.
#ifndef LUFD_TESTS_SUPPORT_PG_HARNESS_H_
#define LUFD_TESTS_SUPPORT_PG_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lufd::testing {

class PgHarness {
 public:
  // initdb + start. UNAVAILABLE when PostgreSQL binaries are missing.
  static absl::StatusOr<std::unique_ptr<PgHarness>> Start();

  ~PgHarness();
  PgHarness(const PgHarness&) = delete;
  PgHarness& operator=(const PgHarness&) = delete;

  // "postgresql://postgres@127.0.0.1:<port>/<dbname>".
  std::string Url(absl::string_view dbname = "postgres") const;

  // CREATE DATABASE `name` (letters, digits, '_' only); returns its Url().
  absl::StatusOr<std::string> CreateDatabase(absl::string_view name);

  // A hot standby streaming from this server, on its own port and directory.
  absl::StatusOr<std::unique_ptr<PgHarness>> StartReplica();

  // Stops the server (idempotent). The destructor calls it.
  absl::Status Stop();

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  // The server log, for failure messages.
  std::string ReadLog() const;

  // True when the PostgreSQL 15 server binaries are installed.
  static bool Available();

 private:
  PgHarness() = default;
  absl::Status StartServer();

  std::string dir_;
  int port_ = 0;
  bool running_ = false;
};

// A free TCP port on 127.0.0.1 (bound and released; racy but retried).
absl::StatusOr<int> PickFreePort();

// Runs argv (as `postgres` when we are root), output appended to log_file;
// kills it after timeout_s. OK iff it exited 0.
absl::Status RunPgCommand(const std::vector<std::string>& argv,
                          const std::string& log_file, int timeout_s);

}  // namespace lufd::testing

#endif  // LUFD_TESTS_SUPPORT_PG_HARNESS_H_
