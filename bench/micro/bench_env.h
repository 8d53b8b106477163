// Sizes of the in-process benchmarks (bench/micro) come from environment
// variables, as they did when these were disabled unit tests, so that
// bench/micro.sh and bench/dns/run.sh set them the same way for every
// program (Google Benchmark owns the command line).
#ifndef LUFD_BENCH_MICRO_BENCH_ENV_H_
#define LUFD_BENCH_MICRO_BENCH_ENV_H_

#include <cstdlib>

namespace lufd::bench {

// `name` from the environment as a positive count, else `fallback`.
inline int EnvCount(const char* name, int fallback) {
  const char* v = std::getenv(name);
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_MICRO_BENCH_ENV_H_
