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

#include <memory>

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
};

class ChangeFollower {
 public:
  virtual ~ChangeFollower() = default;  // Stops the thread.

  // Loads the snapshot (publishing it before returning) and starts tailing.
  // `store` and `views` must outlive the follower.
  static absl::StatusOr<std::unique_ptr<ChangeFollower>> Start(
      Store* store, ViewHolder* views, absl::Duration poll_interval);

  virtual void Nudge() = 0;
  // OK while following; the last error while the store is unreachable.
  virtual absl::Status health() const = 0;
  virtual FollowerState state() const = 0;
  // Latency of each poll's Store::ReadChanges (failed ones included): the
  // store latency every instance sees, primary or standby.
  virtual const LatencyHistogram& poll_latency() const = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_FOLLOWER_H_
