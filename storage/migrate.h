// Migration helpers shared by the SQL backends.
//
// The SQL files under migrations/<backend>/NNNN_name.sql are embedded into
// the binary at build time (embed_migrations.cmake generates the table that
// EmbeddedMigrationFiles() returns). MigrationsFor() turns that table into the
// ordered list one backend applies, each with the SHA-256 of its text, and
// CompareWithApplied() checks what a database recorded against it: a file
// changed after it was applied, or a database newer than this binary, is
// FAILED_PRECONDITION. Backends own the transactions; this file owns none.
// Thread-safety: all functions are pure and may be called concurrently.
#ifndef LUFD_STORAGE_MIGRATE_H_
#define LUFD_STORAGE_MIGRATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"

namespace lufd::storage_internal {

// One embedded file: `backend` is its directory under migrations/.
struct EmbeddedFile {
  const char* backend;
  const char* filename;
  absl::string_view sql;
};

// Defined in the generated embedded_migrations.cc.
const std::vector<EmbeddedFile>& EmbeddedMigrationFiles();

struct MigrationFile {
  uint32_t version = 0;
  std::string name;  // "init" for 0001_init.sql.
  std::string path;  // "migrations/sqlite/0001_init.sql", for messages.
  std::string sql;
  std::string checksum;  // Lowercase hex SHA-256 of sql.
};

// Lowercase hex SHA-256.
std::string Sha256Hex(absl::string_view data);

// The migrations of one backend ("sqlite", "postgres"), ordered by version.
// INTERNAL if a file name is not NNNN_name.sql or a version repeats (a build
// problem, never a runtime one).
absl::StatusOr<std::vector<MigrationFile>> MigrationsFor(
    absl::string_view backend);

// Merges the files with what the database recorded (`applied`: version, name,
// checksum, applied_at) into the MigrationStatus() answer. FAILED_PRECONDITION
// naming the file when an applied checksum differs, or when the database has
// a version this binary does not know.
absl::StatusOr<std::vector<MigrationInfo>> CompareWithApplied(
    const std::vector<MigrationFile>& files,
    const std::vector<MigrationInfo>& applied);

// The status every backend returns when used before Migrate().
absl::Status NotMigratedError();

}  // namespace lufd::storage_internal

#endif  // LUFD_STORAGE_MIGRATE_H_
