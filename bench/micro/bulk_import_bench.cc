// bulk_import_bench: the registry's share of a bulk import, in process.
// LUFD_BENCH_TNS number puts (default 200k; smaller runs under callgrind),
// each with one inline NAPTR: validation alone (ValidateAndNormalize, one
// thread), and the whole batch through Registry::Execute on the memory
// Store. LUFD_BENCH_NON_TERMINAL=1 makes the last number's NAPTR
// non-terminal (the cost of one chain check over a destination group that
// holds every number of the batch). Moved from the disabled unit tests
// BulkImportBench.DISABLED_*; run by bench/micro.sh.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/micro/bench_env.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/text_format.h"
#include "server/core/identity.h"
#include "server/core/normalize.h"
#include "server/core/registry.h"
#include "server/core/validate.h"
#include "tests/unit/testing/memory_registry.h"

namespace lufd::bench {
namespace {

// A put of number +4930<10000000 + i> with one inline NAPTR to
// sip:<number>@ssp2.example.com.
lufd::v1::Operation TnPut(int i) {
  static const auto* const kTemplate = [] {
    auto* op = new lufd::v1::Operation;
    if (!google::protobuf::TextFormat::ParseFromString(
            R"pb(put {
                   identifier {
                     kind: IDENTIFIER_KIND_TN
                     registrant_id: "iana-en:bulk"
                     dest_group_ids: "dg"
                     records {
                       in_service: true
                       naptr {
                         order: 10
                         preference: 10
                         flags: "u"
                         services: "E2U+sip"
                       }
                     }
                   }
                 })pb",
            op)) {
      std::abort();
    }
    return op;
  }();
  lufd::v1::Operation op = *kTemplate;
  auto* id = op.mutable_put()->mutable_identifier();
  const std::string number = "+4930" + std::to_string(10000000 + i);
  id->set_value(number);
  id->mutable_records(0)->mutable_naptr()->set_regexp("!^.*$!sip:" + number +
                                                      "@ssp2.example.com!");
  return op;
}

std::vector<lufd::v1::Operation> TnPuts(int n) {
  std::vector<lufd::v1::Operation> ops;
  ops.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ops.push_back(TnPut(i));
  return ops;
}

void BM_ValidateOnly(benchmark::State& state) {
  const int n = EnvCount("LUFD_BENCH_TNS", 200000);
  const std::vector<lufd::v1::Operation> ops = TnPuts(n);
  for (auto _ : state) {
    for (const auto& op : ops) {
      lufd::v1::RegistryObject o = op.put();
      if (!ValidateAndNormalize(&o).ok()) {
        state.SkipWithError("validation failed");
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["tns"] = n;
}
BENCHMARK(BM_ValidateOnly)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_ExecuteTnPuts(benchmark::State& state) {
  const int n = EnvCount("LUFD_BENCH_TNS", 200000);
  for (auto _ : state) {
    state.PauseTiming();
    testing::MemoryRegistry mem;
    if (!mem.Open().ok()) {
      state.SkipWithError("memory registry did not open");
      return;
    }
    Registry& registry = *mem.registry;
    const Identity admin{"iana-en:admin", "c", lufd::v1::ROLE_ADMIN};
    std::vector<lufd::v1::Operation> ops(3);
    ops[0].mutable_put()->mutable_org()->set_id("iana-en:bulk");
    ops[0].mutable_put()->mutable_org()->set_name("bulk");
    ops[1].mutable_put()->mutable_dest_group()->set_id("dg");
    ops[1].mutable_put()->mutable_dest_group()->set_registrant_id(
        "iana-en:bulk");
    auto* g = ops[2].mutable_put()->mutable_sed_group();
    g->set_id("g");
    g->set_registrant_id("iana-en:bulk");
    g->set_in_service(true);
    g->set_public_(true);
    g->add_dest_group_ids("dg");
    if (!registry.Execute(admin, ops, "seed").ok()) {
      state.SkipWithError("seed failed");
      return;
    }
    ops = TnPuts(n);
    if (std::getenv("LUFD_BENCH_NON_TERMINAL") != nullptr) {
      // The last TN sends clients on to the first.
      auto* naptr = ops.back()
                        .mutable_put()
                        ->mutable_identifier()
                        ->mutable_records(0)
                        ->mutable_naptr();
      naptr->clear_flags();
      naptr->clear_regexp();
      naptr->set_replacement(
          E164ToEnumDomain("+4930" + std::to_string(10000000)));
    }
    state.ResumeTiming();
    auto r = registry.Execute(admin, ops, "bulk");
    state.PauseTiming();
    if (!r.ok() || r->changes() != static_cast<uint32_t>(n)) {
      state.SkipWithError("Execute did not put every TN");
      return;
    }
    mem.Close();  // Teardown outside the timing.
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["tns"] = n;
}
BENCHMARK(BM_ExecuteTnPuts)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lufd::bench

BENCHMARK_MAIN();
