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
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd {

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
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_FOLLOWER_H_
