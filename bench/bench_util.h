// What the benchmark programs (lookup_load, null_server, lookup_timing,
// guard/dns_flood) share: start-up (flags, and Abseil's mutex deadlock
// detection, which Debian's Abseil keeps on and which makes every lock gRPC
// takes dearer), the steady clock in nanoseconds, and reading a PEM file.
// Header-only; no state.
#ifndef LUFD_BENCH_BENCH_UTIL_H_
#define LUFD_BENCH_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"

namespace lufd::bench {

// Parses the command line; turns deadlock detection off unless
// `deadlock_detection` (each program's --mutex_deadlock_detection) is set.
inline void InitProgram(int argc, char** argv, const char* usage,
                        const absl::Flag<bool>& deadlock_detection) {
  absl::SetProgramUsageMessage(usage);
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
}

// The steady clock in nanoseconds: the programs' schedules and deadlines.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The whole file into `out`; false when it cannot be opened.
inline bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_BENCH_UTIL_H_
