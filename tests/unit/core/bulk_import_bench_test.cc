// Bulk import timing, run on demand (disabled by default: it takes seconds
// and its numbers only mean something on an idle machine):
//   core_unit_tests --gtest_also_run_disabled_tests \
//       --gtest_filter='BulkImportBench.*'
// 200k TN puts, each with one inline NAPTR, through Registry::Execute on the
// memory Store; also the validation share alone. LUFD_BENCH_NON_TERMINAL=1
// makes the last TN's NAPTR non-terminal (the cost of one chain check).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/normalize.h"
#include "server/core/registry.h"
#include "server/core/validate.h"
#include "tests/unit/testing/memory_registry.h"

namespace lufd {
namespace {

// LUFD_BENCH_TNS overrides the count (smaller runs under callgrind).
const int kTns = [] {
  const char* env = std::getenv("LUFD_BENCH_TNS");
  return env != nullptr ? std::atoi(env) : 200000;
}();

lufd::v1::Operation TnPut(int i) {
  lufd::v1::Operation op;
  auto* id = op.mutable_put()->mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  std::string number = "+4930" + std::to_string(10000000 + i);
  id->set_value(number);
  id->set_registrant_id("iana-en:bulk");
  id->add_dest_group_ids("dg");
  auto* r = id->add_records();
  r->set_in_service(true);
  auto* n = r->mutable_naptr();
  n->set_order(10);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!sip:" + number + "@ssp2.example.com!");
  return op;
}

TEST(BulkImportBench, DISABLED_ValidateOnly) {
  std::vector<lufd::v1::Operation> ops;
  for (int i = 0; i < kTns; ++i) ops.push_back(TnPut(i));
  absl::Time start = absl::Now();
  for (const auto& op : ops) {
    lufd::v1::RegistryObject o = op.put();
    ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  }
  absl::Duration d = absl::Now() - start;
  std::printf("validate %d TNs (1 thread): %.0f ms, %.2f us/TN\n", kTns,
              absl::ToDoubleMilliseconds(d),
              absl::ToDoubleMicroseconds(d) / kTns);
}

TEST(BulkImportBench, DISABLED_Execute200kTns) {
  testing::MemoryRegistry mem;
  ASSERT_TRUE(mem.Open().ok());
  Registry& registry = *mem.registry;
  Identity admin{"iana-en:admin", "c", lufd::v1::ROLE_ADMIN};
  std::vector<lufd::v1::Operation> ops(3);
  ops[0].mutable_put()->mutable_org()->set_id("iana-en:bulk");
  ops[0].mutable_put()->mutable_org()->set_name("bulk");
  ops[1].mutable_put()->mutable_dest_group()->set_id("dg");
  ops[1].mutable_put()->mutable_dest_group()->set_registrant_id("iana-en:bulk");
  auto* g = ops[2].mutable_put()->mutable_sed_group();
  g->set_id("g");
  g->set_registrant_id("iana-en:bulk");
  g->set_in_service(true);
  g->set_public_(true);
  g->add_dest_group_ids("dg");
  ASSERT_TRUE(registry.Execute(admin, ops, "seed").ok());
  ops.clear();
  for (int i = 0; i < kTns; ++i) ops.push_back(TnPut(i));
  if (std::getenv("LUFD_BENCH_NON_TERMINAL") != nullptr) {
    // The last TN sends clients on to the first: one chain check over a
    // destination group holding every TN of the batch.
    auto* n = ops.back()
                  .mutable_put()
                  ->mutable_identifier()
                  ->mutable_records(0)
                  ->mutable_naptr();
    n->clear_flags();
    n->clear_regexp();
    n->set_replacement(E164ToEnumDomain("+4930" + std::to_string(10000000)));
  }
  absl::Time start = absl::Now();
  auto r = registry.Execute(admin, ops, "bulk");
  absl::Duration d = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes(), static_cast<uint32_t>(kTns));
  std::printf("Execute %d TN puts: %.0f ms, %.2f us/TN\n", kTns,
              absl::ToDoubleMilliseconds(d),
              absl::ToDoubleMicroseconds(d) / kTns);
}

}  // namespace
}  // namespace lufd
