// guard_bench: what the guard stage costs per lookup on one thread, alone:
// Admit() + Report() for one org asking for 100 numbers in turn with no
// limits, the rate only, and every rule on; and a flooder's refusal, by
// the rate and while blocked. Run by bench/micro.sh (or directly).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/micro/bench_main.h"
#include "benchmark/benchmark.h"
#include "server/guard/guard.h"

namespace lufd {
namespace {

GuardLimits Limits(int rules) {
  GuardLimits limits;
  if (rules == 0) return limits;
  limits.lookups_per_second = 10'000'000;
  limits.burst = 10'000'000;
  if (rules == 1) return limits;
  limits.distinct_numbers_per_day = 1000;
  limits.misses_per_day = 1000;
  limits.scan_threshold = 50;
  limits.signatures_per_second = 1000;
  return limits;
}

// Arg: 0 = no limits, 1 = rate only, 2 = every rule.
void BM_AdmitReport(benchmark::State& state) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  const GuardLimits limits = Limits(static_cast<int>(state.range(0)));
  std::vector<std::string> items;
  for (int i = 0; i < 100; ++i) {
    items.push_back(absl::StrCat("+1202555", 1000 + 37 * i % 9000));
  }
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  int64_t i = 0;
  for (auto _ : state) {
    const absl::Time now = t0 + absl::Microseconds(i);
    Guard::Admission a =
        guard.Admit(key, limits, items[static_cast<size_t>(i % 100)], now);
    if (a.status.ok()) guard.Report(key, a, true, now);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AdmitReport)->ArgName("rules")->Arg(0)->Arg(1)->Arg(2);

// Arg: 0 = refused by the rate, 1 = refused while blocked.
void BM_Refusal(benchmark::State& state) {
  const bool blocked = state.range(0) != 0;
  GuardOptions options;
  options.offence_denials = blocked ? 10 : 1'000'000'000;
  Guard guard(options);
  const GuardKey key = GuardKey::Org("flooder");
  GuardLimits limits;
  limits.lookups_per_second = 1;
  limits.burst = 1;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 20; ++i) {
    Guard::Admission a = guard.Admit(key, limits, "+1", t0);
    if (a.status.ok()) guard.Report(key, a, true, t0);
  }
  int64_t refused = 0;
  for (auto _ : state) {
    refused += !guard.Admit(key, limits, "+1", t0).status.ok();
  }
  if (refused != state.iterations()) state.SkipWithError("admitted");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Refusal)->ArgName("blocked")->Arg(0)->Arg(1);

}  // namespace
}  // namespace lufd

// Without deadlock detection on the measured locks, as lufd runs.
int main(int argc, char** argv) {
  return lufd::bench::RunBenchmarksWithoutDeadlockDetection(argc, argv);
}
