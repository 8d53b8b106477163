// Readiness: whether this lufd should get traffic, from how far its view
// trails the store's change log (store.max_view_lag).
//
// A lufd answers from its in-memory view (server/core/view.h), so it keeps
// answering while its database is slow, stopped or gone, but the answers
// grow stale. It is ready while the last time its follower found the view
// at the store's latest serial (FollowerState::caught_up_at) is at most
// max_view_lag ago. That one rule covers every way of falling behind: a
// backlog still being read (the view is not at the latest serial), a store
// that answers errors (no poll succeeds), and a store that does not answer
// at all (a poll that hangs never finishes). It turns ready again on the
// first poll that catches up.
//
// ReadinessMonitor evaluates that rule every `interval` on a thread of its
// own (not the follower's, which may be the one hanging) and reports each
// change to `apply`, which LufdServer points at gRPC health: "" and every
// per-service name NOT_SERVING / SERVING, which `lufctl health` and load
// balancers read. Thread-safe; Stop() (or the destructor) joins the thread,
// after which `apply` is not called again.
#ifndef LUFD_SERVER_APP_READINESS_H_
#define LUFD_SERVER_APP_READINESS_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/follower.h"

namespace lufd {

struct Readiness {
  bool ready = false;
  // Why not ready ("" when ready), for the log line.
  std::string reason;
  // now - caught_up_at (zero or more).
  absl::Duration lag = absl::ZeroDuration();
};

// The rule above: pure, the caller passes the time.
Readiness EvaluateReadiness(const FollowerState& state, absl::Time now,
                            absl::Duration max_view_lag);

class ReadinessMonitor {
 public:
  using StateFn = std::function<FollowerState()>;
  using ClockFn = std::function<absl::Time()>;
  using ApplyFn = std::function<void(const Readiness&)>;

  ReadinessMonitor(absl::Duration max_view_lag, StateFn state, ClockFn clock,
                   ApplyFn apply);
  ~ReadinessMonitor();  // Stop().
  ReadinessMonitor(const ReadinessMonitor&) = delete;
  ReadinessMonitor& operator=(const ReadinessMonitor&) = delete;

  // Evaluates once and calls `apply` if readiness changed (or on the first
  // call). Returns the readiness. Called by the thread; tests call it
  // directly with a fake clock and state.
  Readiness Check();
  // Checks every `interval` until Stop().
  void Start(absl::Duration interval);
  void Stop();

  bool ready() const { return ready_.load(std::memory_order_relaxed); }
  absl::Duration max_view_lag() const { return max_view_lag_; }

 private:
  const absl::Duration max_view_lag_;
  const StateFn state_;
  const ClockFn clock_;
  const ApplyFn apply_;
  std::atomic<bool> ready_{false};

  absl::Mutex mu_;
  bool checked_ ABSL_GUARDED_BY(mu_) = false;  // `apply` called once.
  bool last_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar wake_;
  std::thread thread_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_APP_READINESS_H_
