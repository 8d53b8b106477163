// LedgerSync: serves a Guard's lease requests from the Store, so that several
// lufd instances on one PostgreSQL share one disclosure budget and one miss
// budget per identity (guard.h, "shared"). One background thread; the request
// path never waits for the database: the guard queues a request when an
// identity runs short of leased slots and keeps answering on its one-chunk
// overdraft meanwhile.
//
// Worst case with R instances: budget + R x chunk distinct items in a window
// that uses no lease granted before it (each instance discloses at most its
// leases plus one chunk; the store grants at most the budget per window in
// total); across window edges a few chunks more per instance (guard.h).
// Instance clocks should agree (NTP): a grant is dated by the instance that
// asked.
//
// Which store grants: the instance's WriteRouter's (storage/write_router.h)
// when one is given, so a lufd on a standby with store.primary_url leases
// from the primary and shares the budget with the instances there; without a
// router, the instance's own store.
//
// Failures: a store that is (or becomes) a read-only standby cannot record
// grants, so the guard falls back to local counting (the full budget per
// instance, as before; logged); so does a forwarding standby whose primary
// cannot be reached (a failover is under way: lookups keep being answered).
// While counting locally, the thread asks again every `recheck_interval`
// whether a writable store is there (a promoted standby, the primary back)
// and turns sharing back on (logged): no restart needed. Any other store
// error answers the request with 0 slots: the instance keeps to its
// overdraft and asks again after Guard::kLeaseRetry (fail closed, bounded).
#ifndef LUFD_SERVER_GUARD_LEDGER_SYNC_H_
#define LUFD_SERVER_GUARD_LEDGER_SYNC_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/guard/guard.h"
#include "storage/store.h"
#include "storage/write_router.h"

namespace lufd {

// Answers every queued lease request of `guard` from `store` at `now`;
// returns how many were served. For the thread below and for tests.
// Turns the guard's sharing off on FAILED_PRECONDITION (standby), and on
// UNAVAILABLE too when `local_on_unavailable` (a forwarded primary that is
// down).
// `off_reason` (may be null) gets the error that turned sharing off.
size_t ServeLeaseRequests(Store* store, Guard* guard, absl::Time now,
                          bool local_on_unavailable = false,
                          absl::Status* off_reason = nullptr);

class LedgerSync {
 public:
  struct Options {
    // How often queued requests are looked for (a lookup short of leases
    // waits at most about this long for one, on its overdraft meanwhile).
    absl::Duration poll_interval = absl::Milliseconds(10);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    // Where leases are taken (null: `store` itself). Must outlive the sync.
    WriteRouter* router = nullptr;
    // While counting locally: how often a writable store is looked for.
    absl::Duration recheck_interval = absl::Seconds(1);
  };
  // Turns sharing on in `guard` unless no writable store is there (a
  // read-only standby without a primary: local counting, logged), and
  // starts the thread, which turns sharing off and on again as the store
  // changes (see above).
  // Both must outlive the LedgerSync.
  static std::unique_ptr<LedgerSync> Start(Store* store, Guard* guard,
                                           Options options);
  ~LedgerSync();  // Stops the thread.
  LedgerSync(const LedgerSync&) = delete;
  LedgerSync& operator=(const LedgerSync&) = delete;

 private:
  LedgerSync(Store* store, Guard* guard, Options options)
      : store_(store), guard_(guard), options_(std::move(options)) {}
  void Run();
  // The writable store leases go to now, or nullptr (none: count locally).
  // Asks the store (one query) when `probe`.
  Store* LeaseStore(bool probe);

  Store* const store_;
  Guard* const guard_;
  const Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_LEDGER_SYNC_H_
