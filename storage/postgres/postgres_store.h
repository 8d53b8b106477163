// PostgresStore: the Store seam on PostgreSQL via libpqxx
// ("postgresql://user@host:port/db", "postgres://...", or a libpq keyword
// string with a "postgres:" prefix: "postgres:host=/run/pg dbname=lufd").
//
// Commits from any number of lufd instances serialize on a transaction-scoped
// advisory lock taken first thing in the commit transaction; the latest
// serial row is then read, checked and bumped in the same transaction. Bulk
// commits stream the change log with COPY and derive the object rows from it
// with one INSERT .. SELECT, so 1M mutations cost a few round trips, not 1M.
// Snapshots read in one REPEATABLE READ transaction through a cursor.
// Signatures (derived data, outside the change log) are bulk-upserted from
// a COPY into a temporary table and scanned through a cursor; the signer
// lease is a session advisory lock on a connection of its own; the store is
// its own SignatureTable (Signatures() returns it). A hot
// standby answers reads; writes there fail with FAILED_PRECONDITION.
// Connections come from a small pool; every libpqxx exception is caught here
// and mapped to a Status (UNAVAILABLE for connection trouble).
// Thread-safety: every method may be called concurrently.
#ifndef LUFD_STORAGE_POSTGRES_POSTGRES_STORE_H_
#define LUFD_STORAGE_POSTGRES_POSTGRES_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"

namespace lufd {

// `conninfo` is handed to libpq as is (URI or keyword string). Connects once
// to fail fast on a bad address; does not migrate.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(
    absl::string_view conninfo);

// The advisory-lock key commits take (pg_advisory_xact_lock(bigint)). Other
// code that must exclude commits may take it too.
inline constexpr int64_t kPostgresCommitLockKey = 0x6c7566640001;  // "lufd"1
// The signer lease: a session advisory lock (pg_try_advisory_lock) held by
// a connection the lease owns, so it goes away with that session.
inline constexpr int64_t kPostgresSignerLeaseKey = 0x6c7566640003;

}  // namespace lufd

#endif  // LUFD_STORAGE_POSTGRES_POSTGRES_STORE_H_
