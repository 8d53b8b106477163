// The Store conformance suite: one parameterized GoogleTest fixture that
// every backend ("memory", "sqlite", "postgres") must pass. The TEST_Ps live
// in store_conformance_test.cc; each test binary instantiates the backends it
// runs (conformance_local_test: memory + sqlite; conformance_postgres_test:
// postgres, with one PgHarness server per process and a fresh database per
// test).
#ifndef LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_
#define LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/support/pg_harness.h"

namespace lufd::testing {

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  bool IsMemory() const { return GetParam() == "memory"; }
  bool IsPostgres() const { return GetParam() == "postgres"; }

  // A second, independent handle on the same database (not for memory).
  std::unique_ptr<Store> Reopen();

  // Overwrites the recorded checksum of migration `version` behind the
  // store's back, as a hand-edited migration file would look.
  void TamperChecksum(uint32_t version);

  // The suite's PostgreSQL server, started on first use.
  static PgHarness* pg_;

  std::string url_;
  std::string tmpdir_;
  std::unique_ptr<Store> store_;  // Opened, not migrated.
};

}  // namespace lufd::testing

#endif  // LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_
