#include "server/guard/ledger_sync.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/ops/log_limiter.h"
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
          "guard: shared disclosure and miss budgets off, counting locally "
          "per instance: {}",
          granted.status().ToString());
      guard->SetShared(false);
      return requests.size();
    }
    // Fail closed: the instance stays on its overdraft until a retry works.
    static LogLimiter* const failures = new LogLimiter();
    uint64_t suppressed = 0;
    if (failures->Admit("lease", now, &suppressed)) {
      spdlog::warn("guard: lease for {} failed: {}{}", r.StoreIdentity(),
                   granted.status().ToString(),
                   suppressed == 0 ? std::string()
                                   : absl::StrCat(" (suppressed ", suppressed,
                                                  " similar lines)"));
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
        "guard: the store is a read-only standby; disclosure and miss "
        "budgets are counted locally (one full budget per instance)");
    guard->SetShared(false);
  } else {
    // An error here is the store's trouble; the first lease will tell.
    guard->SetShared(true);
    spdlog::info(
        "guard: disclosure and miss budgets shared with the other instances "
        "on the store (leases)");
  }
  sync->thread_ = std::thread([s = sync.get()] { s->Run(); });
  return sync;
}

LedgerSync::~LedgerSync() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void LedgerSync::Run() {
  // Sharing, once off (a standby), stays off until a restart: no more work.
  while (guard_->shared() &&
         !stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    ServeLeaseRequests(store_, guard_, options_.clock());
  }
}

}  // namespace lufd
