#include "server/grpc/call_limit.h"

#include "absl/strings/str_cat.h"

namespace lufd {

absl::Status CallLimiter::Acquire(absl::string_view key,
                                  absl::string_view name) {
  absl::MutexLock lock(&mu_);
  uint32_t& n = in_progress_[key];
  if (max_ != 0 && n >= max_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many calls in progress for ", name.empty() ? key : name,
        " (limit ", max_, ", grpc.max_calls_per_identity)"));
  }
  ++n;
  return absl::OkStatus();
}

void CallLimiter::Release(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = in_progress_.find(key);
  if (it == in_progress_.end()) return;  // Unpaired: a bug, but harmless.
  if (--it->second == 0) in_progress_.erase(it);
}

uint32_t CallLimiter::InProgress(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = in_progress_.find(key);
  return it == in_progress_.end() ? 0 : it->second;
}

uint64_t CallLimiter::TotalInProgress() const {
  absl::MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [key, count] : in_progress_) n += count;
  return n;
}

}  // namespace lufd
