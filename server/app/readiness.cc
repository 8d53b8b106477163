#include "server/app/readiness.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lufd {

Readiness EvaluateReadiness(const FollowerState& state, absl::Time now,
                            absl::Duration max_view_lag) {
  Readiness r;
  r.lag = state.caught_up_at == absl::InfinitePast()
              ? absl::InfiniteDuration()
              : std::max(absl::ZeroDuration(), now - state.caught_up_at);
  r.ready = r.lag <= max_view_lag;
  if (r.ready) return r;
  const std::string behind =
      r.lag == absl::InfiniteDuration()
          ? std::string("never caught up")
          : absl::StrCat("last caught up ", absl::FormatDuration(r.lag),
                         " ago");
  if (state.failing_since != absl::InfinitePast()) {
    r.reason =
        absl::StrCat("store unreachable for ",
                     absl::FormatDuration(std::max(absl::ZeroDuration(),
                                                   now - state.failing_since)),
                     " (", state.health.ToString(), "); view at serial ",
                     state.view_serial, ", ", behind);
  } else {
    r.reason =
        absl::StrCat("view at serial ", state.view_serial, ", store at serial ",
                     state.store_serial, ", ", behind, " (store.max_view_lag ",
                     absl::FormatDuration(max_view_lag), ")");
  }
  return r;
}

ReadinessMonitor::ReadinessMonitor(absl::Duration max_view_lag, StateFn state,
                                   ClockFn clock, ApplyFn apply)
    : max_view_lag_(max_view_lag),
      state_(std::move(state)),
      clock_(std::move(clock)),
      apply_(std::move(apply)) {}

ReadinessMonitor::~ReadinessMonitor() { Stop(); }

Readiness ReadinessMonitor::Check() {
  Readiness r = EvaluateReadiness(state_(), clock_(), max_view_lag_);
  ready_.store(r.ready, std::memory_order_relaxed);
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    changed = !checked_ || last_ != r.ready;
    checked_ = true;
    last_ = r.ready;
  }
  // Only the monitor's thread (or a test, without the thread) calls Check,
  // so the changes reach `apply` in order.
  if (changed && apply_) apply_(r);
  return r;
}

void ReadinessMonitor::Start(absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) interval = absl::Milliseconds(100);
  thread_ = std::thread([this, interval] {
    while (true) {
      Check();
      absl::MutexLock lock(&mu_);
      if (!stop_) wake_.WaitWithTimeout(&mu_, interval);
      if (stop_) return;
    }
  });
}

void ReadinessMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace lufd
