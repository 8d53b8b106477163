#include "server/ops/log_limiter.h"

#include <algorithm>

namespace lufd {

void LogLimiter::RefillLocked(Bucket& b, absl::Time now) const {
  if (now > b.refilled) {
    b.tokens = std::min(options_.burst,
                        b.tokens + absl::ToDoubleSeconds(now - b.refilled) *
                                       options_.lines_per_second);
  }
  b.refilled = std::max(b.refilled, now);
}

void LogLimiter::SweepLocked(absl::Time now) {
  if (now - last_sweep_ < absl::Seconds(1)) return;
  last_sweep_ = now;
  absl::erase_if(buckets_, [&](auto& entry) {
    Bucket& b = entry.second;
    RefillLocked(b, now);
    return b.suppressed == 0 && b.tokens >= options_.burst;
  });
}

bool LogLimiter::Admit(absl::string_view key, absl::Time now,
                       uint64_t* suppressed) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end() && buckets_.size() >= options_.max_keys) {
    SweepLocked(now);
  }
  Bucket* b;
  if (it != buckets_.end()) {
    b = &it->second;
  } else if (buckets_.size() < options_.max_keys) {
    b = &buckets_[key];
    b->tokens = options_.burst;
    b->refilled = now;
  } else {
    b = &overflow_;
    if (!overflow_used_) {
      overflow_used_ = true;
      b->tokens = options_.burst;
      b->refilled = now;
    }
  }
  RefillLocked(*b, now);
  if (b->tokens < 1) {
    ++b->suppressed;
    ++total_suppressed_;
    return false;
  }
  b->tokens -= 1;
  *suppressed = b->suppressed;
  b->suppressed = 0;
  return true;
}

uint64_t LogLimiter::TakeSuppressed() {
  absl::MutexLock lock(&mu_);
  uint64_t n = overflow_.suppressed;
  overflow_.suppressed = 0;
  for (auto& [key, b] : buckets_) {
    n += b.suppressed;
    b.suppressed = 0;
  }
  return n;
}

size_t LogLimiter::keys() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

uint64_t LogLimiter::total_suppressed() const {
  absl::MutexLock lock(&mu_);
  return total_suppressed_;
}

}  // namespace lufd
