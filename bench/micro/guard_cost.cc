// guard_cost: a fixed number of anonymous DNS queries, a 90/10 mix of a
// signed hit and a signed miss (NAPTR, DO; the shape of bench/guard/run.sh's
// cost mix), answered by the responder of responder_bench (parse + respond,
// no sockets), with the guard stage on or off. Meant to run under
// `valgrind --tool=callgrind --toggle-collect=*GuardCostMeasured*`, which
// counts the instructions of the measured loop only (deterministic, unlike
// wall clock on a shared machine); bench/micro/guard_cost.sh runs both modes
// and prints instructions per query.
//
// Usage: guard_cost on|off [queries (default 100000)] [sources (default 1)]
// `sources`: anonymous clients from that many /24 prefixes in turn
// (dnsperf in the cost run sends from one address: 1).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bench/micro/responder_fixture.h"

namespace lufd::bench {

struct Mix {
  Served* served = nullptr;
  std::vector<std::vector<uint8_t>> packets;  // 9 hits, then 1 miss.
  std::vector<dns::ClientAddress> clients;
  std::vector<uint8_t> out = std::vector<uint8_t>(65535);
};

// Not inlined, so that callgrind can toggle collection on the caller.
__attribute__((noinline)) size_t Run(Mix& mix, size_t begin, size_t queries) {
  size_t bytes = 0;
  for (size_t i = begin; i < begin + queries; ++i) {
    bytes += mix.served->Answer(mix.packets[i % mix.packets.size()], &mix.out,
                                mix.clients[i % mix.clients.size()]);
  }
  return bytes;
}

// What callgrind measures: everything below this frame.
__attribute__((noinline)) size_t GuardCostMeasured(Mix& mix, size_t begin,
                                                   size_t queries) {
  return Run(mix, begin, queries);
}

}  // namespace lufd::bench

int main(int argc, char** argv) {
  using namespace lufd::bench;
  // As lufd's main does (no deadlock detection on the guard's Mutexes).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "on" && mode != "off") {
    std::fprintf(stderr, "usage: %s on|off [queries] [sources]\n", argv[0]);
    return 2;
  }
  const size_t queries = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  const size_t sources = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1;
  if (queries == 0 || sources == 0 || sources > 65536) return 2;

  Served served;
  if (mode == "on") served.EnableGuard();
  Mix mix;
  mix.served = &served;
  for (int i = 0; i < 10; ++i) {
    mix.packets.push_back(QueryPacket(i < 9 ? kHit : kMiss, /*do_bit=*/true));
  }
  mix.clients.resize(sources);
  for (size_t i = 0; i < sources; ++i) {
    mix.clients[i].size = 4;
    mix.clients[i].bytes[0] = 127;
    mix.clients[i].bytes[1] = static_cast<uint8_t>(i >> 8);
    mix.clients[i].bytes[2] = static_cast<uint8_t>(i);
    mix.clients[i].bytes[3] = 1;
  }
  // Warm up outside the measured frame: the denial LRU, the per-thread
  // caches, one guard identity per source.
  size_t bytes = Run(mix, 0, 10 * sources + 100);
  bytes += GuardCostMeasured(mix, 0, queries);
  // Every answer was written (a refusal would be 0 or a short REFUSED).
  std::printf("mode=%s queries=%zu sources=%zu bytes=%zu\n", mode.c_str(),
              queries, sources, bytes);
  return 0;
}
