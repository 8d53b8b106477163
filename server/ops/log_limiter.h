// LogLimiter: rate-limits log lines per key (token bucket), so that a
// flooder (a revoked certificate calling 10,000 times a second) cannot fill
// the log, and says how many lines it suppressed.
//
// Each key (e.g. the denied caller) has a bucket of `burst` lines refilled
// at `lines_per_second`. Admit() says whether a line may be written; when it
// may, it also returns how many lines for that key were suppressed since
// the last one written, for the line to say ("suppressed 1234 similar
// lines"). The key map is bounded (`max_keys`): idle keys (full bucket,
// nothing suppressed) are swept when it is full, at most once a second, and
// keys that still find no room share one overflow bucket, so many distinct
// keys cannot grow it either. TakeSuppressed() returns (and clears) the
// counts no admitted line has reported yet, for a periodic summary line.
// Thread-safe (one mutex); pure: the caller passes the time.
#ifndef LUFD_SERVER_OPS_LOG_LIMITER_H_
#define LUFD_SERVER_OPS_LOG_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace lufd {

class LogLimiter {
 public:
  struct Options {
    double lines_per_second = 1;
    double burst = 5;
    size_t max_keys = 1024;
  };

  explicit LogLimiter(Options options) : options_(options) {}
  LogLimiter() : LogLimiter(Options()) {}

  // True: write the line; *suppressed is then the number of lines of this
  // key (or of the overflow bucket) suppressed since the last written one.
  bool Admit(absl::string_view key, absl::Time now, uint64_t* suppressed);

  // Lines suppressed and not yet reported by an admitted line, all keys;
  // clears them (they count as reported).
  uint64_t TakeSuppressed();

  size_t keys() const;
  uint64_t total_suppressed() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
    uint64_t suppressed = 0;
  };
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefillLocked(Bucket& b, absl::Time now) const;

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  Bucket overflow_ ABSL_GUARDED_BY(mu_);
  bool overflow_used_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t total_suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_LOG_LIMITER_H_
