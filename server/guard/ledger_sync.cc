#include "server/guard/ledger_sync.h"

#include <atomic>
#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace lufd {

size_t ServeLeaseRequests(Store* store, Guard* guard, absl::Time now) {
  std::vector<LeaseRequest> requests = guard->TakeLeaseRequests();
  for (const LeaseRequest& r : requests) {
    absl::StatusOr<uint32_t> granted = store->LeaseGuardBudget(
        r.StoreIdentity(), r.want, r.budget, r.window, now);
    if (granted.ok()) {
      guard->GrantDisclosures(r, *granted, now);
      continue;
    }
    if (absl::IsFailedPrecondition(granted.status()) ||
        absl::IsUnimplemented(granted.status())) {
      // A standby (or a store without the table) cannot share: the full
      // budget per instance, as without sharing, rather than refusing all.
      spdlog::warn(
          "guard: shared disclosure budget off, counting locally per "
          "instance: {}",
          granted.status().ToString());
      guard->SetShared(false);
      return requests.size();
    }
    // Fail closed: the instance stays on its overdraft until a retry works.
    static std::atomic<int64_t> last_log{0};
    const int64_t s = absl::ToUnixSeconds(now);
    if (last_log.exchange(s) != s) {
      spdlog::warn("guard: lease for {} failed: {}", r.StoreIdentity(),
                   granted.status().ToString());
    }
    guard->GrantDisclosures(r, 0, now);
  }
  return requests.size();
}

std::unique_ptr<LedgerSync> LedgerSync::Start(Store* store, Guard* guard,
                                              Options options) {
  std::unique_ptr<LedgerSync> sync(
      new LedgerSync(store, guard, std::move(options)));
  absl::StatusOr<bool> read_only = store->IsReadOnly();
  if (read_only.ok() && *read_only) {
    spdlog::warn(
        "guard: the store is a read-only standby; disclosure budgets are "
        "counted locally (one full budget per instance)");
    guard->SetShared(false);
  } else {
    // An error here is the store's trouble; the first lease will tell.
    guard->SetShared(true);
    spdlog::info(
        "guard: disclosure budgets shared with the other instances on the "
        "store (leases)");
  }
  sync->thread_ = std::thread([s = sync.get()] { s->Run(); });
  return sync;
}

LedgerSync::~LedgerSync() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void LedgerSync::Run() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    if (!guard_->shared()) continue;
    ServeLeaseRequests(store_, guard_, options_.clock());
  }
}

}  // namespace lufd
