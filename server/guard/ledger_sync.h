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
// Failures: a store that is (or becomes) a read-only standby cannot record
// grants, so the guard falls back to local counting (the full budget per
// instance, as before; logged). Any other store error answers the request
// with 0 slots: the instance keeps to its overdraft and asks again after
// Guard::kLeaseRetry (fail closed, bounded).
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

namespace lufd {

// Answers every queued lease request of `guard` from `store` at `now`;
// returns how many were served. For the thread below and for tests.
// Turns the guard's sharing off on FAILED_PRECONDITION (standby).
size_t ServeLeaseRequests(Store* store, Guard* guard, absl::Time now);

class LedgerSync {
 public:
  struct Options {
    // How often queued requests are looked for (a lookup short of leases
    // waits at most about this long for one, on its overdraft meanwhile).
    absl::Duration poll_interval = absl::Milliseconds(10);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };
  // Turns sharing on in `guard` unless the store is a read-only standby
  // (then local counting, logged), and starts the thread, which ends once
  // sharing is off (a standby found now or later).
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

  Store* const store_;
  Guard* const guard_;
  const Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_LEDGER_SYNC_H_
