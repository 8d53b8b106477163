// CallLimiter: a cap on the calls one identity has in progress at once
// (grpc.max_calls_per_identity), over every service RpcRunner runs.
//
// An idle stream costs the server no thread on the callback API, but it
// still holds memory, a watchdog entry and an HTTP/2 stream: without a cap
// one peer could open streams until the connection caps stop it, and every
// other peer shares what is left. Counting per identity (the org: every
// credential of an org shares its budget, as for the guard's quotas) bounds
// one org's share; a call beyond it ends at once with RESOURCE_EXHAUSTED
// "too many calls in progress for <org>", before its body runs.
// Thread-safe.
#ifndef LUFD_SERVER_GRPC_CALL_LIMIT_H_
#define LUFD_SERVER_GRPC_CALL_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace lufd {

class CallLimiter {
 public:
  // `max_per_key` 0: no cap (calls are still counted).
  explicit CallLimiter(uint32_t max_per_key) : max_(max_per_key) {}
  CallLimiter(const CallLimiter&) = delete;
  CallLimiter& operator=(const CallLimiter&) = delete;

  // Counts one more call of `key` and returns OK, or returns
  // RESOURCE_EXHAUSTED "too many calls in progress for <name>" (counting
  // nothing) when `key` already has the maximum in progress; `name` empty:
  // the key. An OK must be paired with one Release(key).
  absl::Status Acquire(absl::string_view key, absl::string_view name = "");
  void Release(absl::string_view key);

  // Calls of `key` in progress, and of all keys (tests).
  uint32_t InProgress(absl::string_view key) const;
  uint64_t TotalInProgress() const;

 private:
  const uint32_t max_;
  mutable absl::Mutex mu_;
  // Only keys with calls in progress: an entry goes when its count is 0,
  // so the map is bounded by the calls in progress, not by who ever called.
  absl::flat_hash_map<std::string, uint32_t> in_progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_CALL_LIMIT_H_
