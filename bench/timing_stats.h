// Latency-distribution comparison for the timing-oracle benchmarks
// (bench/lookup_timing.cc over gRPC, bench/micro/lookup_timing_view.cc in
// process): percentiles of two samples and their AUC, the probability that
// a random latency of sample A exceeds a random latency of sample B (ties
// count half; Mann-Whitney U / (|A| |B|)). 0.5 means an observer who sees
// one latency cannot tell which sample it came from better than a coin;
// 1.0 (or 0.0) means the two never overlap. Header-only; no state.
#ifndef LUFD_BENCH_TIMING_STATS_H_
#define LUFD_BENCH_TIMING_STATS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"

namespace lufd::bench {

// The q-quantile (0..1) of a sorted sample, nearest rank; 0 when empty.
inline int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

// P(a > b) + P(a == b) / 2 for a from `a`, b from `b`; both sorted. One
// merge-like pass: O(|a| + |b|).
inline double Auc(const std::vector<int64_t>& a,
                  const std::vector<int64_t>& b) {
  if (a.empty() || b.empty()) return 0.5;
  double wins = 0;
  size_t below = 0, upto = 0;  // b[0, below) < x, b[0, upto) <= x.
  for (int64_t x : a) {
    while (below < b.size() && b[below] < x) ++below;
    if (upto < below) upto = below;
    while (upto < b.size() && b[upto] <= x) ++upto;
    wins +=
        static_cast<double>(below) + 0.5 * static_cast<double>(upto - below);
  }
  return wins / (static_cast<double>(a.size()) * static_cast<double>(b.size()));
}

// One comparison as a line of the results file:
//   <label> n=<a>/<b> A_p10=.. A_p50=.. A_p90=.. A_p99=.. B_p10=.. ... auc=..
// with latencies in `unit` (nanoseconds divided by `divisor`). Sorts both.
inline std::string CompareLine(const std::string& label, const char* name_a,
                               std::vector<int64_t>* a, const char* name_b,
                               std::vector<int64_t>* b, double divisor,
                               const char* unit) {
  std::sort(a->begin(), a->end());
  std::sort(b->begin(), b->end());
  std::string out =
      absl::StrFormat("%s n=%d/%d unit=%s", label, a->size(), b->size(), unit);
  for (auto [name, v] : {std::pair{name_a, a}, std::pair{name_b, b}}) {
    for (auto [q, qname] : {std::pair{0.10, "p10"}, std::pair{0.50, "p50"},
                            std::pair{0.90, "p90"}, std::pair{0.99, "p99"}}) {
      absl::StrAppendFormat(&out, " %s_%s=%.3f", name, qname,
                            static_cast<double>(Percentile(*v, q)) / divisor);
    }
  }
  absl::StrAppendFormat(&out, " auc=%.4f", Auc(*a, *b));
  return out;
}

// Prints `lines` to stdout and, when `path` is not empty, appends them to
// that file.
inline void PrintLines(const std::vector<std::string>& lines,
                       const std::string& path) {
  std::ofstream out;
  if (!path.empty()) out.open(path, std::ios::app);
  for (const std::string& line : lines) {
    std::printf("%s\n", line.c_str());
    if (out) out << line << "\n";
  }
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_TIMING_STATS_H_
