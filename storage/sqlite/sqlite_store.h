// SqliteStore: the Store seam on one SQLite file ("sqlite:/path/file.db").
//
// WAL journal. synchronous=FULL by default: a commit that returned is on
// disk (the WAL is fsynced at each commit), as PostgreSQL's default
// synchronous_commit promises. "sqlite:/path?synchronous=normal" trades that
// for fewer fsyncs: a commit is still atomic across crashes and kill -9,
// but the last ones may be lost on power failure (never half-applied). Writers
// are serialized twice: in process by a mutex around the single writer
// connection, across processes by BEGIN IMMEDIATE with a busy timeout, so
// several lufd/lufctl processes may share a file. Readers use a small pool of
// connections; WAL lets them read a consistent snapshot while a commit runs.
// Every statement is prepared once per connection and reused. The store is
// also its own SignatureTable (Signatures() returns it), sharing the writer
// and the reader pool.
// Thread-safety: every method may be called concurrently.
#ifndef LUFD_STORAGE_SQLITE_SQLITE_STORE_H_
#define LUFD_STORAGE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"

namespace lufd {

// How a commit reaches the disk (PRAGMA synchronous in WAL mode).
enum class SqliteSync { kFull, kNormal };

// Opens (creating if missing) the SQLite database at `path`. Does not
// migrate; every data method fails with FAILED_PRECONDITION until Migrate().
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    absl::string_view path, SqliteSync sync = SqliteSync::kFull);

// The synchronous level SQLite reports on a connection of `store` ("full",
// "normal", ...); an error when `store` is not a SQLite store.
absl::StatusOr<std::string> SqliteSynchronous(Store* store);

}  // namespace lufd

#endif  // LUFD_STORAGE_SQLITE_SQLITE_STORE_H_
