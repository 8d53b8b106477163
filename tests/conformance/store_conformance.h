// The storage conformance suites: parameterized GoogleTest fixtures that
// every backend ("memory", "sqlite", "postgres") must pass, one per seam:
// StoreConformanceTest (storage/store.h; TEST_Ps in
// store_conformance_test.cc) and SignatureTableConformanceTest
// (storage/signature_table.h; signature_table_conformance_test.cc). Each
// test binary instantiates the backends it runs (conformance_local_test:
// memory + sqlite; conformance_postgres_test: postgres, with one PgHarness
// server per process and a fresh database per test).
#ifndef LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_
#define LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "storage/signature_table.h"
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

// The same database per test; the seam under test is store_->Signatures().
class SignatureTableConformanceTest : public StoreConformanceTest {
 protected:
  SignatureTable& table() { return *store_->Signatures(); }

  // Runs SQL on the test's database behind the store's back (SQL backends).
  void ExecSql(const std::string& sql);

  // Brings a fresh database to schema version `version` as a binary of that
  // time would have: the embedded migrations up to it, recorded in
  // schema_migrations. For upgrade tests (SQL backends).
  void MigrateUpTo(uint32_t version);

  // Inserts (owner, rrsig) byte strings into a schema-0003
  // dnssec_signatures table, with seqs 1, 2, ... (SQL backends).
  void InsertSchema3Rows(
      const std::vector<std::pair<std::string, std::string>>& rows);
};

// Secrets at rest (secrets_conformance_test.cc): the objects table keeps a
// credential's TSIG secret, the change log only its fingerprint, and the
// scrub migration fixes old change logs (which needs ExecSql/MigrateUpTo).
class SecretsConformanceTest : public SignatureTableConformanceTest {};

}  // namespace lufd::testing

#endif  // LUFD_TESTS_CONFORMANCE_STORE_CONFORMANCE_H_
