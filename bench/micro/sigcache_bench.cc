// sigcache_bench: memory per entry of the SignatureCache (the in-memory copy
// of every signed-ahead RRSIG) at 1M entries, as the growth of the
// process's resident set while filling it; and the cost of an Insert.
// Reported in the DNS benchmark notes. Moved from the disabled unit test
// SigCacheTest.DISABLED_StoreBytesPerEntryAt1M; run by bench/micro.sh.
#include <cstdint>
#include <cstdio>

#include "benchmark/benchmark.h"
#include "server/dns/sigcache.h"

namespace lufd::dns {
namespace {

// Resident bytes of this process (/proc/self/statm).
long ResidentBytes() {  // NOLINT(runtime/int)
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;  // NOLINT(runtime/int)
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4096L;
}

// An ECDSA-sized compact RRSIG expiring at `expiration`.
CompactRrsig Sig(uint32_t expiration) {
  CompactRrsig s{
      expiration,        /*inception=*/1000, /*original_ttl=*/3600,
      /*key_tag=*/12345, /*algorithm=*/13,   /*labels=*/11,         {}};
  s.signature.fill(0xab);
  return s;
}

// 1M Inserts into a fresh cache per iteration; bytes_per_entry is the RSS
// growth over the entries (allocator slack included, as in lufd).
void BM_SignatureCacheFill(benchmark::State& state) {
  const auto n = static_cast<uint64_t>(state.range(0));
  double bytes_per_entry = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const long before = ResidentBytes();  // NOLINT(runtime/int)
    {
      SignatureCache cache;
      state.ResumeTiming();
      for (uint64_t i = 0; i < n; ++i) {
        cache.Insert(SignatureKey("", 35, i, 1), Sig(static_cast<uint32_t>(i)));
      }
      state.PauseTiming();
      bytes_per_entry = static_cast<double>(ResidentBytes() - before) /
                        static_cast<double>(cache.size());
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.counters["entries"] = static_cast<double>(n);
  state.counters["bytes_per_entry"] = bytes_per_entry;
}

BENCHMARK(BM_SignatureCacheFill)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lufd::dns

BENCHMARK_MAIN();
