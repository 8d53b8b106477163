// The guard's per-class defaults (guard.peer, guard.anonymous, guard.slip)
// as a front door reads them on every request, replaceable while serving:
// a SIGHUP reload (server/ops/reload.h) publishes a new policy and the next
// request uses it. Per-org Quotas are registry objects and change with the
// view, not here.
//
// GuardPolicyHolder publishes immutable GuardPolicy objects through one
// atomic pointer: a reader is one acquire load, no lock, on the DNS hot
// path. A replaced policy is kept until the holder goes, because a request
// in flight may still read it; a reload is rare (an operator's SIGHUP), so
// this keeps a few hundred bytes per reload for the process's life.
//
// Thread-safe.
#ifndef LUFD_SERVER_GUARD_GUARD_POLICY_H_
#define LUFD_SERVER_GUARD_GUARD_POLICY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lufd/v1/config.pb.h"
#include "server/guard/guard.h"

namespace lufd {

struct GuardPolicy {
  GuardLimits peer;       // guard.peer: orgs, under their Quota.
  GuardLimits anonymous;  // guard.anonymous: anonymous DNS sources.
  uint32_t slip = 2;      // guard.slip.
  // Unique per published policy in the process: per-thread caches of
  // limits derived from a policy compare it to know they are stale.
  uint64_t generation = 0;

  static GuardPolicy FromConfig(const lufd::v1::GuardConfig& config) {
    GuardPolicy p;
    p.peer = GuardLimits::FromConfig(config.peer());
    p.anonymous = GuardLimits::FromConfig(config.anonymous());
    p.slip = config.has_slip() ? config.slip() : 2;
    return p;
  }
};

class GuardPolicyHolder {
 public:
  explicit GuardPolicyHolder(GuardPolicy initial) { Set(std::move(initial)); }
  GuardPolicyHolder(const GuardPolicyHolder&) = delete;
  GuardPolicyHolder& operator=(const GuardPolicyHolder&) = delete;

  // The policy in force; never null, valid while the holder lives.
  const GuardPolicy* Current() const {
    return current_.load(std::memory_order_acquire);
  }

  // Publishes `next` (its generation is assigned here).
  void Set(GuardPolicy next) {
    static std::atomic<uint64_t> generations{0};
    next.generation = generations.fetch_add(1) + 1;
    auto owned = std::make_unique<const GuardPolicy>(std::move(next));
    absl::MutexLock lock(&mu_);
    current_.store(owned.get(), std::memory_order_release);
    all_.push_back(std::move(owned));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<const GuardPolicy>> all_ ABSL_GUARDED_BY(mu_);
  std::atomic<const GuardPolicy*> current_{nullptr};
};

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_GUARD_POLICY_H_
