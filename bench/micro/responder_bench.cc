// responder_bench: per-query cost of the common DNS answer paths, parse +
// respond, on one thread, with no sockets: a sign-ahead hit served from the
// SignatureCache, the same name unsigned, a miss whose denial comes from
// the on-demand LRU, the same miss unsigned, and a fresh miss signed on
// demand every time. Moved from the disabled unit test
// ResponderTest.DISABLED_HotPathThroughput; run by bench/micro.sh.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "bench/micro/bench_main.h"
#include "bench/micro/dns_fixture.h"
#include "bench/micro/responder_fixture.h"
#include "benchmark/benchmark.h"
#include "server/dns/processor.h"
#include "server/dns/rdata.h"
#include "server/dns/responder.h"
#include "server/dns/rrsig.h"
#include "server/dns/signer.h"
#include "server/guard/guard.h"
#include "server/ops/config.h"

namespace lufd::bench {
namespace {

Served& Shared(bool holdings = false, bool guarded = false,
               bool counted = false) {
  static Served* served = new Served(false);
  static Served* with_holdings = new Served(true);
  static Served* with_guard = [] {
    auto* s = new Served(false);
    s->EnableGuard();
    return s;
  }();
  static Served* with_counters = [] {
    auto* s = new Served(false);
    s->EnableCounters();
    return s;
  }();
  if (counted) return *with_counters;
  if (guarded) return *with_guard;
  return holdings ? *with_holdings : *served;
}

// The same query over and over: args (0 = hit, 1 = miss; DO bit; 1 = the
// numbers lie in holdings).
void BM_Respond(benchmark::State& state) {
  Served& s = Shared(state.range(2) != 0);
  const std::vector<uint8_t> packet =
      QueryPacket(state.range(0) == 0 ? kHit : kMiss, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  size_t bytes = 0;
  for (auto _ : state) {
    bytes += s.Answer(packet, &out);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_answer"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
// BM_Respond's first four cases with the guard stage on (anonymous clients
// from 64 /24 prefixes in turn, none over a limit): the guard's cost.
void BM_RespondGuarded(benchmark::State& state) {
  Served& s = Shared(false, /*guarded=*/true);
  const std::vector<uint8_t> packet =
      QueryPacket(state.range(0) == 0 ? kHit : kMiss, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  std::vector<dns::ClientAddress> clients(64);
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i].size = 4;
    clients[i].bytes[0] = 127;
    clients[i].bytes[2] = static_cast<uint8_t>(i);
    clients[i].bytes[3] = 1;
  }
  size_t bytes = 0, i = 0;
  for (auto _ : state) {
    bytes += s.Answer(packet, &out, clients[i++ % clients.size()]);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_answer"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
// BM_Respond's first four cases with the metrics' request counters on
// (server/ops/request_counters.h): their cost per query, for an anonymous
// asker (class counts) and a peer org (class + per-org counts; the org's
// view is the anonymous one here: no SED is offered to it).
void BM_RespondCounted(benchmark::State& state) {
  Served& s = Shared(false, false, /*counted=*/true);
  const std::vector<uint8_t> packet =
      QueryPacket(state.range(0) == 0 ? kHit : kMiss, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  Identity viewer;
  if (state.range(2) != 0) {
    viewer.org_id = "iana-en:111";
    viewer.credential_id = "cred-peer";
    viewer.role = lufd::v1::ROLE_PEER;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    bytes += s.Answer(packet, &out, {}, viewer);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_answer"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RespondCounted)
    ->ArgNames({"miss", "do", "peer"})
    ->Args({0, 1, 0})
    ->Args({0, 0, 0})
    ->Args({1, 1, 0})
    ->Args({1, 0, 0})
    ->Args({0, 0, 1})
    ->Args({1, 0, 1});

BENCHMARK(BM_RespondGuarded)
    ->ArgNames({"miss", "do"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, 0});

BENCHMARK(BM_Respond)
    ->ArgNames({"miss", "do", "holdings"})
    ->Args({0, 1, 0})  // Signed hit, signature from the SignatureCache.
    ->Args({0, 0, 0})  // Unsigned hit.
    ->Args({1, 1, 0})  // Signed miss, denial signatures from the LRU.
    ->Args({1, 0, 0})  // Unsigned miss.
    ->Args({0, 1, 1})  // The same four with holdings.
    ->Args({0, 0, 1})
    ->Args({1, 1, 1})
    ->Args({1, 0, 1});

// Denials that ask whether something is below the name: args (0 = an
// empty non-terminal, 1 = the name above a number hidden from the
// anonymous asker; DO bit).
void BM_RespondAbove(benchmark::State& state) {
  Served& s = Shared();
  const std::vector<uint8_t> packet = QueryPacket(
      state.range(0) == 0 ? kEnt : kAboveHidden, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Answer(packet, &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondAbove)
    ->ArgNames({"hidden", "do"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1});

// Misses on names never asked before (10,000 of them, 10x the LRU): every
// denial is signed on demand.
void BM_RespondFreshSignedMiss(benchmark::State& state) {
  Served& s = Shared();
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < 10000; ++i) {
    packets.push_back(QueryPacket(
        absl::StrCat(i % 10, ".", (i / 10) % 10, ".", (i / 100) % 10, ".",
                     (i / 1000) % 10, ".9.9.9.9.5.4.3.2.1.e164.arpa."),
        true));
  }
  std::vector<uint8_t> out(65535);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Answer(packets[i++ % packets.size()], &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondFreshSignedMiss)->Iterations(5000);

}  // namespace
}  // namespace lufd::bench

// Without deadlock detection on the measured locks, as lufd runs.
int main(int argc, char** argv) {
  return lufd::bench::RunBenchmarksWithoutDeadlockDetection(argc, argv);
}
