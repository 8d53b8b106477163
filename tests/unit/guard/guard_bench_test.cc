// Not a test: the cost of Admit() + Report() on the hot path, printed, never
// asserted (run with --gtest_also_run_disabled_tests --gtest_filter=*Bench*).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/guard/guard.h"

namespace lufd {
namespace {

double NanosPerLookup(const GuardLimits& limits, int numbers) {
  Guard guard;
  const GuardKey key = GuardKey::Org("iana-en:1");
  std::vector<std::string> items;
  for (int i = 0; i < numbers; ++i) {
    items.push_back(absl::StrCat("+1202555", 1000 + 37 * i % 9000));
  }
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  constexpr int kLookups = 2'000'000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    const absl::Time now = t0 + absl::Microseconds(i);
    Guard::Admission a =
        guard.Admit(key, limits, items[static_cast<size_t>(i % numbers)], now);
    if (a.status.ok()) guard.Report(key, a, true, now);
  }
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() /
         kLookups;
}

// A flooder's refusals: rate-limited, and blocked.
double NanosPerRefusal(bool blocked) {
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
  constexpr int kLookups = 500'000;
  int refused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kLookups; ++i) {
    refused += !guard.Admit(key, limits, "+1", t0).status.ok();
  }
  const auto end = std::chrono::steady_clock::now();
  EXPECT_EQ(refused, kLookups);
  return std::chrono::duration<double, std::nano>(end - start).count() /
         kLookups;
}

TEST(GuardBench, DISABLED_AdmitReport) {
  GuardLimits rate;
  rate.lookups_per_second = 10'000'000;
  rate.burst = 10'000'000;
  GuardLimits all = rate;
  all.distinct_numbers_per_day = 1000;
  all.misses_per_day = 1000;
  all.scan_threshold = 50;
  all.signatures_per_second = 1000;
  std::printf("no limits:  %.0f ns per Admit+Report\n",
              NanosPerLookup(GuardLimits(), 100));
  std::printf("rate only:  %.0f ns per Admit+Report\n",
              NanosPerLookup(rate, 100));
  std::printf("all rules:  %.0f ns per Admit+Report (100 numbers)\n",
              NanosPerLookup(all, 100));
  std::printf("refused by the rate:  %.0f ns per Admit\n",
              NanosPerRefusal(false));
  std::printf("refused by a block:   %.0f ns per Admit\n",
              NanosPerRefusal(true));
}

}  // namespace
}  // namespace lufd
