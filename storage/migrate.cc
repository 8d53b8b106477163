#include "storage/migrate.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lufd::storage_internal {

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest is one-shot and thread-safe; it cannot fail for SHA-256 on
  // in-memory input short of allocation failure.
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    absl::StrAppendFormat(&hex, "%02x", digest[i]);
  }
  return hex;
}

absl::StatusOr<std::vector<MigrationFile>> MigrationsFor(
    absl::string_view backend) {
  std::vector<MigrationFile> out;
  for (const EmbeddedFile& f : EmbeddedMigrationFiles()) {
    if (backend != f.backend) continue;
    absl::string_view fn = f.filename;
    const std::string path = absl::StrCat("migrations/", f.backend, "/", fn);
    // NNNN_name.sql: at least one digit, an underscore, a name.
    size_t underscore = fn.find('_');
    if (underscore == absl::string_view::npos || underscore == 0 ||
        !absl::EndsWith(fn, ".sql") || underscore + 1 >= fn.size() - 4) {
      return absl::InternalError(
          absl::StrCat("migration file name is not NNNN_name.sql: ", path));
    }
    MigrationFile m;
    if (!absl::SimpleAtoi(fn.substr(0, underscore), &m.version) ||
        m.version == 0) {
      return absl::InternalError(
          absl::StrCat("migration file has no valid version: ", path));
    }
    m.name =
        std::string(fn.substr(underscore + 1, fn.size() - 4 - underscore - 1));
    m.path = path;
    m.sql = std::string(f.sql);
    m.checksum = Sha256Hex(m.sql);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const MigrationFile& a, const MigrationFile& b) {
              return a.version < b.version;
            });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return absl::InternalError(
          absl::StrCat("two migrations with version ", out[i].version, ": ",
                       out[i - 1].path, ", ", out[i].path));
    }
  }
  return out;
}

absl::StatusOr<std::vector<MigrationInfo>> CompareWithApplied(
    const std::vector<MigrationFile>& files,
    const std::vector<MigrationInfo>& applied) {
  std::vector<MigrationInfo> out;
  for (const MigrationFile& f : files) {
    MigrationInfo info;
    info.version = f.version;
    info.name = f.name;
    info.checksum = f.checksum;
    for (const MigrationInfo& a : applied) {
      if (a.version != f.version) continue;
      if (a.checksum != f.checksum) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "migration %s was changed after it was applied (applied checksum "
            "%s, file checksum %s); restore the file or repair the database",
            f.path, a.checksum, f.checksum));
      }
      info.applied = true;
      info.applied_at = a.applied_at;
    }
    out.push_back(std::move(info));
  }
  for (const MigrationInfo& a : applied) {
    bool known = std::any_of(files.begin(), files.end(), [&](const auto& f) {
      return f.version == a.version;
    });
    if (!known) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "database has migration %04d_%s which this binary does not know; "
          "it was migrated by a newer lufd",
          a.version, a.name));
    }
  }
  return out;
}

absl::Status NotMigratedError() {
  return absl::FailedPreconditionError(
      "schema not migrated; run lufctl db migrate");
}

}  // namespace lufd::storage_internal
