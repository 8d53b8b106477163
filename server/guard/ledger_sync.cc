#include "server/guard/ledger_sync.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/ops/log_limiter.h"
#include "spdlog/spdlog.h"

namespace lufd {

size_t ServeLeaseRequests(Store* store, Guard* guard, absl::Time now,
                          bool local_on_unavailable, absl::Status* off_reason) {
  std::vector<LeaseRequest> requests = guard->TakeLeaseRequests();
  for (const LeaseRequest& r : requests) {
    absl::StatusOr<uint32_t> granted = store->LeaseGuardBudget(
        r.StoreIdentity(), r.want, r.budget, r.window, now);
    if (granted.ok()) {
      guard->GrantDisclosures(r, *granted, now);
      continue;
    }
    if (absl::IsFailedPrecondition(granted.status()) ||
        absl::IsUnimplemented(granted.status()) ||
        (local_on_unavailable && absl::IsUnavailable(granted.status()))) {
      // A standby (or a store without the table) cannot share: the full
      // budget per instance, as without sharing, rather than refusing all.
      spdlog::warn(
          "guard: shared disclosure and miss budgets off, counting locally "
          "per instance: {}",
          granted.status().ToString());
      guard->SetShared(false);
      if (off_reason != nullptr) *off_reason = granted.status();
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

Store* LedgerSync::LeaseStore(bool probe) {
  Store* store = store_;
  if (options_.router != nullptr) {
    absl::StatusOr<Store*> routed = options_.router->ForWrite();
    if (!routed.ok()) return nullptr;
    store = *routed;
    // The router vouches for the local store; a primary it has opened may
    // be down all the same (failover): ask it.
    if (!probe && store == store_) return store;
  } else if (!probe) {
    return store;
  }
  absl::StatusOr<bool> read_only = store->IsReadOnly();
  if (!read_only.ok() || *read_only) return nullptr;
  return store;
}

std::unique_ptr<LedgerSync> LedgerSync::Start(Store* store, Guard* guard,
                                              Options options) {
  std::unique_ptr<LedgerSync> sync(
      new LedgerSync(store, guard, std::move(options)));
  // Unreachable now is the store's trouble (the first lease will tell);
  // only a store known to be a standby, with nowhere else to go, means
  // local counting.
  absl::StatusOr<bool> read_only = store->IsReadOnly();
  const bool standby = read_only.ok() && *read_only;
  if (standby && sync->LeaseStore(/*probe=*/true) == nullptr) {
    spdlog::warn(
        "guard: the store is a read-only standby; disclosure and miss "
        "budgets are counted locally (one full budget per instance) until "
        "a writable store is there");
    guard->SetShared(false);
  } else {
    guard->SetShared(true);
    spdlog::info(
        "guard: disclosure and miss budgets shared with the other instances "
        "on the store (leases{})",
        standby ? ", from store.primary_url" : "");
  }
  sync->thread_ = std::thread([s = sync.get()] { s->Run(); });
  return sync;
}

LedgerSync::~LedgerSync() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void LedgerSync::Run() {
  absl::Time next_recheck = absl::InfinitePast();
  // Bounded: ends when stop_ is notified; each round waits poll_interval.
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    const absl::Time now = options_.clock();
    if (!guard_->shared()) {
      // Counting locally (a standby, or its primary was down): look for a
      // writable store again, at most every recheck_interval.
      if (now < next_recheck) continue;
      next_recheck = now + options_.recheck_interval;
      if (LeaseStore(/*probe=*/true) == nullptr) continue;
      spdlog::warn(
          "guard: a writable store is back; disclosure and miss budgets are "
          "shared again (leases)");
      guard_->SetShared(true);
    }
    if (guard_->lease_requests_queued() == 0) continue;
    Store* store = LeaseStore(/*probe=*/false);
    if (store == nullptr) {
      spdlog::warn(
          "guard: no writable store (read-only standby without a reachable "
          "primary); counting locally per instance");
      guard_->SetShared(false);
      next_recheck = now + options_.recheck_interval;
      continue;
    }
    const bool forwarded = store != store_;
    absl::Status off;
    ServeLeaseRequests(store, guard_, now, /*local_on_unavailable=*/forwarded,
                       &off);
    if (absl::IsUnimplemented(off)) return;  // This store never shares.
    if (!off.ok()) {
      next_recheck = now + options_.recheck_interval;
      if (options_.router != nullptr) options_.router->Report(store, off);
    }
  }
}

}  // namespace lufd
