// Store::Open: picks the backend from the URL scheme.
#include "storage/store.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/memory/memory_store.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace lufd {

absl::StatusOr<std::unique_ptr<Store>> Store::Open(absl::string_view url) {
  if (url == "memory:") return std::make_unique<MemoryStore>();
  if (absl::StartsWith(url, "sqlite:")) {
    absl::string_view path = url.substr(7);
    // Accept "sqlite:///abs/path" too, as URL-minded operators write it.
    if (absl::StartsWith(path, "//")) path.remove_prefix(2);
    // One parameter: "?synchronous=full" (the default) or "=normal".
    SqliteSync sync = SqliteSync::kFull;
    if (const size_t q = path.find('?'); q != absl::string_view::npos) {
      const absl::string_view param = path.substr(q + 1);
      path = path.substr(0, q);
      if (param == "synchronous=normal") {
        sync = SqliteSync::kNormal;
      } else if (param != "synchronous=full") {
        return absl::InvalidArgumentError(
            absl::StrCat("sqlite: unknown URL parameter \"", param,
                         "\" (want synchronous=full or synchronous=normal)"));
      }
    }
    return OpenSqliteStore(path, sync);
  }
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return OpenPostgresStore(url);
  }
  if (absl::StartsWith(url, "postgres:")) {
    // "postgres:host=... dbname=...": a libpq keyword string.
    return OpenPostgresStore(url.substr(9));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown store URL \"", url,
                   "\"; expected memory:, sqlite:/path, postgresql://... or "
                   "postgres://..."));
}

absl::StatusOr<uint32_t> Store::LeaseGuardBudget(const std::string&, uint32_t,
                                                 uint32_t, absl::Duration,
                                                 absl::Time) {
  return absl::UnimplementedError("this store keeps no shared guard budget");
}

namespace {
constexpr absl::string_view kReadOnlyStoreUrl =
    "type.lufd.example/lufd.ReadOnlyStore";
}  // namespace

absl::Status ReadOnlyStoreError() {
  absl::Status s =
      absl::FailedPreconditionError("store is a read-only standby");
  s.SetPayload(kReadOnlyStoreUrl, absl::Cord("1"));
  return s;
}

bool IsReadOnlyStoreError(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) &&
         status.GetPayload(kReadOnlyStoreUrl).has_value();
}

}  // namespace lufd
