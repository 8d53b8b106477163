// DenialRecorder: the denial audit. Every refused call (authentication,
// authorization, validation, quota) is recorded with who, what, why, the
// status code and a repeat count, so an admin can see who is probing or
// flooding (`lufctl audit --denied`).
//
// A flooder must not be able to grow it or to turn each denial into a
// database write, so:
//   - Record() only touches memory: identical denials (same actor, subject,
//     peer, method, object, reason, code) within a flush window are one
//     entry with a count; at most `max_pending` distinct entries are held
//     per window, and denials beyond that are only counted and become one
//     summary row ("N denials not itemized") at the next flush;
//   - a background thread flushes the window every `flush_interval` in one
//     batch (one transaction) through Store::AppendDenials, which trims the
//     table to `max_rows` (oldest rows go);
//   - on a read-only store (PostgreSQL hot standby) or with no store, the
//     flushed rows are kept in memory only (a memory Store, trimmed to
//     `max_rows` the same way), and are lost on restart.
// Strings are clipped (kMaxFieldBytes) before they are held.
//
// Who: the caller's audit name ("org/credential"), or, when it could not be
// authenticated, "spki:<sha256 hex>" of its certificate and the certificate
// subject; the auth layer attaches those to its refusal (WithDenialActor).
// What: the method, and the object when the handler knows it
// (WithDenialObject). Why: DenialReason() (core/denial.h) when the refusal
// carries one, else the status message.
//
// Thread-safe; the store (may be null) must outlive the recorder. The
// destructor stops the thread and makes a last flush.
#ifndef LUFD_SERVER_CORE_DENIAL_AUDIT_H_
#define LUFD_SERVER_CORE_DENIAL_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace lufd {

// Whether a final status is a denial (recorded): UNAUTHENTICATED,
// PERMISSION_DENIED, INVALID_ARGUMENT, FAILED_PRECONDITION,
// RESOURCE_EXHAUSTED. Not NOT_FOUND (a lookup miss is an answer), nor
// CANCELLED/DEADLINE_EXCEEDED/UNAVAILABLE/INTERNAL (nobody refused).
bool IsDenial(absl::StatusCode code);

// Who was refused, when the refusal happened before there was an identity
// (auth.cc: "spki:<hex>" and the certificate subject). Off the wire, like
// the reason.
inline constexpr absl::string_view kDenialActorUrl =
    "type.lufd.example/lufd.DenialActor";
inline constexpr absl::string_view kDenialSubjectUrl =
    "type.lufd.example/lufd.DenialSubject";
// What was refused, when the handler knows it ("identifier +1202...").
inline constexpr absl::string_view kDenialObjectUrl =
    "type.lufd.example/lufd.DenialObject";

absl::Status WithDenialActor(absl::Status refusal, absl::string_view actor,
                             absl::string_view subject);
absl::Status WithDenialObject(absl::Status refusal, absl::string_view object);
std::optional<std::string> DenialPayload(const absl::Status& status,
                                         absl::string_view url);

// The per-field bound on held strings (bytes, cut at a UTF-8 boundary).
inline constexpr size_t kMaxFieldBytes = 300;

// Builds the record of a refused call from its final status: reason, code,
// and the actor/subject/object payloads when present. `actor` is the
// authenticated caller's audit name (empty if there is none). Times and
// count are set by Record().
DenialRecord MakeDenialRecord(const absl::Status& status,
                              absl::string_view actor, absl::string_view peer,
                              absl::string_view method);

// "ipv4:10.0.0.1:5555" -> "ipv4:10.0.0.1", "ipv6:[::1]:5555" ->
// "ipv6:[::1]": the port changes per connection and would defeat the
// aggregation.
std::string PeerWithoutPort(absl::string_view peer);

class DenialRecorder {
 public:
  struct Options {
    uint64_t max_rows = 10000;  // audit.denials_max_rows
    size_t max_pending = 1000;  // Distinct entries per flush window.
    absl::Duration flush_interval = absl::Seconds(5);
    bool background_flush = true;  // false: Flush() by hand (tests).
  };
  struct Stats {
    uint64_t recorded = 0;      // Denials seen.
    uint64_t not_itemized = 0;  // Counted only (window was full).
    uint64_t rows_flushed = 0;  // Rows written (store or memory ring).
    uint64_t flush_failures = 0;
  };

  DenialRecorder(Store* store, Options options);
  ~DenialRecorder();
  DenialRecorder(const DenialRecorder&) = delete;
  DenialRecorder& operator=(const DenialRecorder&) = delete;

  // Records `denial.count` denials (at least one) at `now` (first and last
  // are set here). Never blocks on the database.
  void Record(DenialRecord denial, absl::Time now = absl::Now());

  // Writes the current window (and the summary of what was not itemized).
  // On a write failure other than a standby's the window's entries are
  // merged back (still bounded) and the error is returned.
  absl::Status Flush();

  // Flushes, then reads the newest rows (from the store, or the memory ring
  // when memory-only).
  absl::StatusOr<std::vector<DenialRecord>> List(const DenialQuery& query);

  // True when rows are kept in memory only (no store, or a standby).
  bool memory_only() const;
  Stats stats() const;

 private:
  void Loop();
  // Merges `d` into the window; counts it as not itemized when full.
  void MergeLocked(DenialRecord d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const store_;
  const Options options_;
  // Where rows go when memory-only: a memory Store, trimmed like the table.
  const std::unique_ptr<Store> memory_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, DenialRecord> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_first_us_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_last_us_ ABSL_GUARDED_BY(mu_) = 0;
  bool memory_only_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex flush_mu_;  // One flush at a time (thread vs List).
  std::thread thread_;    // Last: started once the members above exist.
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_DENIAL_AUDIT_H_
