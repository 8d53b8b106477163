// signer_bench: sign-ahead throughput in process, without the rest of lufd.
// A registry of LUFD_SIGN_BENCH_N numbers (default 1M) in blocks of 100
// sharing a NAPTR (as real blocks do) plus one number only a peer sees;
// one full SignAheadSigner pass (SignPassForTest: no lease, no checkpoint)
// into a fresh memory Store, with 1 and with 2 signer threads.
//
// Counters: signatures made, signatures per wall second and per CPU-second
// of the whole process (all signer threads; on a busy machine wall time
// says little, CPU time per signature does). Moved from the disabled unit
// test SignerTest.DISABLED_SignAheadThroughput; run by bench/micro.sh and,
// with the DNS benchmark's N, by bench/dns/run.sh (sign-test).
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/micro/dns_fixture.h"
#include "benchmark/benchmark.h"
#include "server/dns/sigcache.h"
#include "server/dns/signer.h"
#include "server/ops/config.h"
#include "storage/store.h"

namespace lufd::bench {
namespace {

double ProcessCpuSeconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// `n` public numbers +1202xxxxxxx, one NAPTR per block of 100, and one
// hidden number; built once and shared by both thread counts.
const ViewHolder& Views(int n) {
  static const ViewHolder* views = [n] {
    const absl::Time t0 = absl::Now();
    ViewBuilder b;
    for (int k = 0; k < (n + 99) / 100; ++k) {
      const std::string s = std::to_string(k);
      b.Add(NaptrObject("r" + s, "sip:block" + s + "@example.net", 600));
      b.PublicGroup("dg" + s, {"r" + s});
    }
    char number[32];
    for (int i = 0; i < n; ++i) {
      std::snprintf(number, sizeof(number), "+1202%07d", i);
      b.Add(testing::Tn(number, kRegistrant, {"dg" + std::to_string(i / 100)}));
    }
    b.HiddenNumber("+19990000000");
    auto* holder = new ViewHolder();
    holder->Publish(std::move(b).Build(9));
    std::fprintf(stderr, "view of %d TNs built in %.1f s\n", n,
                 absl::ToDoubleSeconds(absl::Now() - t0));
    return holder;
  }();
  return *views;
}

void BM_SignAheadPass(benchmark::State& state) {
  const int n = EnvCount("LUFD_SIGN_BENCH_N", 1000000);
  const ViewHolder& views = Views(n);
  dns::KeyRing keys;
  keys.Publish({SingleCskZone()});
  lufd::v1::DnssecConfig config = ConfigDefaults().dns().dnssec();
  config.set_sign_threads(static_cast<uint32_t>(state.range(0)));
  uint64_t made = 0;
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = Store::Open("memory:");
    dns::SignatureCache sigs;
    auto signer = dns::SignAheadSigner::Create(
        config, {ApexWire()}, store.ok() ? store->get() : nullptr, &views,
        &keys, &sigs);
    if (!store.ok() || !signer.ok()) {
      state.SkipWithError("setup failed");
      break;
    }
    const double cpu0 = ProcessCpuSeconds();
    state.ResumeTiming();
    auto pass = (*signer)->SignPassForTest();
    state.PauseTiming();
    cpu += ProcessCpuSeconds() - cpu0;
    if (!pass.ok()) {
      state.SkipWithError(pass.status().ToString().c_str());
      break;
    }
    made += *pass;
    signer->reset();  // Its threads and memory go outside the timing.
    state.ResumeTiming();
  }
  state.counters["numbers"] = n;
  state.counters["signatures"] = benchmark::Counter(
      static_cast<double>(made), benchmark::Counter::kAvgIterations);
  state.counters["sigs_per_s"] = benchmark::Counter(
      static_cast<double>(made), benchmark::Counter::kIsRate);
  state.counters["sigs_per_cpu_s"] =
      cpu > 0 ? static_cast<double>(made) / cpu : 0.0;
  state.counters["cpu_s"] =
      benchmark::Counter(cpu, benchmark::Counter::kAvgIterations);
}

// One pass each (minutes of CPU at 1M); wall time is the measure, rates
// are per wall second (UseRealTime) and, separately, per CPU-second.
BENCHMARK(BM_SignAheadPass)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace lufd::bench

BENCHMARK_MAIN();
