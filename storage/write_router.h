// WriteRouter: which Store this lufd instance writes to.
//
// A lufd reads (builds its view) from its own store, `store.url`. When that
// database is a read-only PostgreSQL hot standby, writes cannot go there:
//  - with `store.primary_url`, they go to a second Store opened on the
//    primary (the instance's view keeps following its own standby; the
//    Registry waits for the view to reach the write's serial, so the writer
//    still reads its own writes here);
//  - without it, they are refused with FAILED_PRECONDITION naming
//    `grpc.primary_endpoint` (when configured), which the status also
//    carries as a payload (PrimaryEndpointOf) for the gRPC seam to put in
//    the trailing metadata `lufd-primary-endpoint` (lufctl follows it).
//
// Failover: a standby gets promoted (`pg_ctl promote`) without lufd being
// restarted. So the read-only state is not decided once: while the local
// store is read-only it is asked again (Store::IsReadOnly, one cheap query)
// at most every `recheck_interval`, and at once after a write to the
// primary failed; the first answer "writable" sends every later write (and
// the signer lease, the guard's shared ledger) to the local store. A local
// store found writable is not polled at all (zero cost on a primary); a
// commit there that fails with the read-only error (a demoted primary)
// marks it read-only again (Report).
//
// The decision itself is Decide() (pure, unit-tested).
// Thread-safety: every method may be called concurrently; the one query a
// re-check makes runs under the router's mutex (at most one per interval).
#ifndef LUFD_STORAGE_WRITE_ROUTER_H_
#define LUFD_STORAGE_WRITE_ROUTER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace lufd {

// The status payload (type URL) that carries grpc.primary_endpoint on a
// refused write, and the trailing-metadata key the gRPC seam sends it as.
inline constexpr absl::string_view kPrimaryEndpointUrl =
    "type.lufd.example/lufd.PrimaryEndpoint";
inline constexpr char kPrimaryEndpointMetadata[] = "lufd-primary-endpoint";

// The endpoint a refused write names, or nullopt.
std::optional<std::string> PrimaryEndpointOf(const absl::Status& status);

class WriteRouter {
 public:
  enum class Target { kLocal, kPrimary, kRefuse };

  // Where a write goes: a writable local store always wins (after a
  // promotion the old primary may still answer, but it is no longer the
  // registry); a standby forwards when a primary is configured.
  static Target Decide(bool local_read_only, bool has_primary) {
    if (!local_read_only) return Target::kLocal;
    return has_primary ? Target::kPrimary : Target::kRefuse;
  }

  struct Options {
    std::string primary_endpoint;  // grpc.primary_endpoint; may be empty.
    absl::Duration recheck_interval = absl::Seconds(1);
    // After the primary could not be opened, how long until the next try.
    absl::Duration reopen_interval = absl::Seconds(1);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };
  // Opens the primary's Store (store.primary_url); empty = none configured.
  using Opener = std::function<absl::StatusOr<std::unique_ptr<Store>>()>;

  // `local` must outlive the router. The primary is opened on first need.
  WriteRouter(Store* local, Opener open_primary, Options options);

  // The store a write should go to now: the local store, the primary, or
  // FAILED_PRECONDITION (Refusal()) on a standby without a primary;
  // UNAVAILABLE when the primary cannot be opened.
  absl::StatusOr<Store*> ForWrite();

  // Tells the router how a write on `store` (as returned by ForWrite)
  // ended. A read-only error from the local store marks it read-only; an
  // error from the primary makes the next ForWrite ask the local store
  // again (it may just have been promoted).
  void Report(Store* store, const absl::Status& status);

  // FAILED_PRECONDITION "store is a read-only standby; ..." naming the
  // primary endpoint, with the PrimaryEndpointOf payload when there is one.
  absl::Status Refusal() const;

  bool has_primary() const { return static_cast<bool>(open_primary_); }
  // The last known state of the local store (false until first checked).
  bool local_read_only() const;

 private:
  // Asks the local store when due; returns the (possibly cached) answer.
  bool LocalReadOnlyLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const local_;
  const Opener open_primary_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool checked_ ABSL_GUARDED_BY(mu_) = false;
  bool read_only_ ABSL_GUARDED_BY(mu_) = false;
  bool recheck_now_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::unique_ptr<Store> primary_ ABSL_GUARDED_BY(mu_);
  absl::Time next_open_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status open_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lufd

#endif  // LUFD_STORAGE_WRITE_ROUTER_H_
