// LatencyHistogram: a fixed-bucket histogram of durations (Prometheus
// style: cumulative buckets by upper bound, plus sum and count), recorded
// with relaxed atomics so that the recording thread never takes a lock and
// the metrics scraper reads it whenever it likes. A reader may see a count
// and sum from slightly different moments; each is exact on its own.
// Thread-safe; header-only, so any layer can keep one without a dependency.
#ifndef LUFD_COMMON_LATENCY_HISTOGRAM_H_
#define LUFD_COMMON_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace lufd {

class LatencyHistogram {
 public:
  // Upper bounds in seconds: a store round trip on loopback is well under a
  // millisecond, a stalled database takes seconds.
  static constexpr std::array<double, 14> kBoundsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  struct Snapshot {
    // cumulative[i]: observations <= kBoundsSeconds[i] (Prometheus "le").
    std::array<uint64_t, kBoundsSeconds.size()> cumulative = {};
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Observe(absl::Duration d) {
    const double seconds = absl::ToDoubleSeconds(d);
    size_t i = 0;
    while (i < kBoundsSeconds.size() && seconds > kBoundsSeconds[i]) ++i;
    if (i < kBoundsSeconds.size()) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(
        static_cast<uint64_t>(absl::ToInt64Microseconds(d) < 0
                                  ? 0
                                  : absl::ToInt64Microseconds(d)),
        std::memory_order_relaxed);
  }

  Snapshot Read() const {
    Snapshot s;
    uint64_t running = 0;
    for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      s.cumulative[i] = running;
    }
    s.count = count_.load(std::memory_order_relaxed);
    if (s.count < running) s.count = running;  // Read between the adds.
    s.sum_seconds =
        static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
    return s;
  }

 private:
  // Per bucket (not cumulative); observations above the last bound are
  // only in count_.
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size()> buckets_ = {};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace lufd

#endif  // LUFD_COMMON_LATENCY_HISTOGRAM_H_
