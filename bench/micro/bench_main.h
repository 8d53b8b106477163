// The main() of the micro benchmarks that take Abseil Mutexes on the
// measured path (the guard's shard locks, the responder's caches): as lufd's
// main does, it turns off Abseil's deadlock detection, which Debian's Abseil
// (built without NDEBUG) keeps on and which would otherwise be measured with
// every lock. The others use BENCHMARK_MAIN().
#ifndef LUFD_BENCH_MICRO_BENCH_MAIN_H_
#define LUFD_BENCH_MICRO_BENCH_MAIN_H_

#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"

namespace lufd::bench {

// Runs the benchmarks the command line selects; main's return value.
inline int RunBenchmarksWithoutDeadlockDetection(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_MICRO_BENCH_MAIN_H_
