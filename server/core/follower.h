// ChangeFollower: builds the first view from a Store snapshot, then tails
// the change log by serial and publishes each next view into a ViewHolder.
// Tailing by serial (not LISTEN/NOTIFY) works on PostgreSQL hot standbys too.
// One background thread; Nudge() makes it poll now (after a local commit),
// so a provisioned change is visible well within 100 ms.
// The change log never carries a credential's TSIG secret (only its
// fingerprint); the follower reads it back with Store::ReadObject, so TSIG
// keeps working on every instance after a credential is added or rotated.
#ifndef LUFD_SERVER_CORE_FOLLOWER_H_
#define LUFD_SERVER_CORE_FOLLOWER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/latency_histogram.h"
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd {

// Where the follower stands against the store's change log: what readiness
// (server/app/readiness.h) and the metrics read. Times are the follower's
// clock (absl::Now()).
struct FollowerState {
  uint64_t view_serial = 0;  // Of the view last published.
  // The store's latest serial as last seen (the last change of the last
  // page read, or Store::LatestSerial when the page was full).
  uint64_t store_serial = 0;
  // When the last poll that found the view at the store's latest serial
  // began: the view was at most as old as this. Does not move while the
  // store fails or hangs, nor while a backlog is still being read.
  absl::Time caught_up_at = absl::InfinitePast();
  // The first failed poll of the current run of failures; InfinitePast()
  // while the last poll succeeded.
  absl::Time failing_since = absl::InfinitePast();
  absl::Status health;  // The last poll's result.
  uint64_t polls = 0;   // Completed polls (ReadChanges calls).
  uint64_t poll_errors = 0;
  uint64_t reloads = 0;  // Views rebuilt from a snapshot.
  // Store::ReplicationLag as last asked (about once a second, by the
  // follower's own thread, so nothing else ever waits on the database for
  // it); nullopt for stores that do not replicate or before the first answer.
  std::optional<absl::Duration> replication_lag;
};

// The identity of one committed transaction (every change-log entry of a
// commit has the same serial, time, actor and client txn id): two histories
// that diverged at that serial do not share it.
struct TxnMark {
  uint64_t serial = 0;
  int64_t time_unix_micros = 0;
  std::string actor;
  std::string client_txn_id;
  bool operator==(const TxnMark&) const = default;
};
TxnMark MarkOf(const lufd::v1::Change& change);

// Rewind detection: the database a follower reads can move back in time (a
// replica rebuilt from an older base backup; a standby promoted before it
// had received the last commits the view already applied, then written on).
// These say why the view at `view_serial` must be rebuilt from a fresh
// snapshot rather than follow on (serving a mix of two histories), or
// nullopt.
//
// GapReason, for every page read: `first_new_serial`, the first change the
// store has after the view's serial, must be view_serial + 1 (serials are
// dense: one per commit), or the log is not the one the view was built from.
std::optional<std::string> GapReason(uint64_t view_serial,
                                     uint64_t first_new_serial);
// HistoryReason, checked periodically: `stored` (the store's transaction at
// view_serial; nullopt: the store has no such serial, its latest is below
// the view's) must exist and, when `applied` (the transaction the view
// applied last) is known, be that one. View serial 0 (empty registry)
// cannot be behind anything.
std::optional<std::string> HistoryReason(uint64_t view_serial,
                                         const std::optional<TxnMark>& applied,
                                         const std::optional<TxnMark>& stored);

class ChangeFollower {
 public:
  virtual ~ChangeFollower() = default;  // Stops the thread.

  // Loads the snapshot (publishing it before returning) and starts tailing.
  // `store` and `views` must outlive the follower. Every
  // `rewind_check_interval` (zero: every poll) the store's transaction at
  // the view's serial is read back (one indexed query: Store::Audit with
  // limit 1) and compared (HistoryReason); a gap in the serials is checked on
  // every page. A rewind rebuilds the view from a snapshot (logged at
  // warning); the published serial then goes down.
  static absl::StatusOr<std::unique_ptr<ChangeFollower>> Start(
      Store* store, ViewHolder* views, absl::Duration poll_interval,
      absl::Duration rewind_check_interval = absl::Seconds(1));

  virtual void Nudge() = 0;
  // OK while following; the last error while the store is unreachable.
  virtual absl::Status health() const = 0;
  virtual FollowerState state() const = 0;
  // Latency of each poll's Store::ReadChanges (failed ones included): the
  // store latency every instance sees, primary or standby.
  virtual const LatencyHistogram& poll_latency() const = 0;
  // Views rebuilt because the store moved back in time (GapReason,
  // HistoryReason).
  virtual uint64_t rewinds() const = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_FOLLOWER_H_
