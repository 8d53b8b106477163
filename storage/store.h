// Store: the one seam between lufd and its database.
//
// The Store is a transactional object store with a change log. Registry
// objects are kept whole (serialized lufd.v1.RegistryObject) under
// (kind, key); every committed transaction appends its changes to the change
// log and gets the next serial, in the same database transaction, so the
// objects and the log can never disagree. Nothing else is a source of truth:
// lookups read an in-memory view that a ChangeFollower builds from the log.
//
// The domain rules (validation, authorization, cascades) live above this seam
// in server/core/registry.h and are written once for every backend. They read
// a view at serial S and commit with expected_serial = S; Commit fails with
// ABORTED if another writer committed in between, and the caller retries on a
// fresher view. Writes are therefore serializable, and no backend needs more
// than the few operations below.
//
// DNSSEC signatures made ahead are derived data beside the registry, behind
// their own seam (signature_table.h) that Signatures() hands out.
//
// Implementations: memory (tests), SQLite (default, WAL, one file) and
// PostgreSQL (libpqxx). All statements are prepared/parameterized.
// Thread-safety: every method may be called from any thread concurrently.
// Errors: absl::Status; no exception crosses this seam.
#ifndef LUFD_STORAGE_STORE_H_
#define LUFD_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lufd/v1/registry.pb.h"
#include "storage/signature_table.h"

namespace lufd {

// One object write inside a commit. `after` unset means delete.
struct Mutation {
  lufd::v1::ObjectKind kind = lufd::v1::OBJECT_KIND_UNSPECIFIED;
  std::string key;
  std::optional<lufd::v1::RegistryObject> before;  // For the audit trail.
  std::optional<lufd::v1::RegistryObject> after;
};

struct CommitRequest {
  // The serial the caller's reads were made at; Commit fails with ABORTED if
  // the store's latest serial differs. nullopt = no check (bulk tools).
  std::optional<uint64_t> expected_serial;
  std::string actor;
  std::string client_txn_id;
  std::vector<Mutation> mutations;
};

struct MigrationInfo {
  uint32_t version = 0;
  std::string name;
  std::string checksum;  // SHA-256 hex of the SQL text.
  bool applied = false;
  std::string applied_at;  // Empty when pending.
};

struct AuditQuery {
  uint64_t after_serial = 0;
  uint32_t limit = 1000;
  std::string key;    // Exact match when non-empty.
  std::string actor;  // Exact match when non-empty.
};

// One row of the denial audit (server/core/denial_audit.h): refused calls,
// aggregated by (actor, subject, peer, method, object, reason, code) over a
// flush window. Every string is bounded by the recorder before it gets here.
struct DenialRecord {
  uint64_t id = 0;  // Assigned by the store; ignored by AppendDenials.
  int64_t first_unix_micros = 0;
  int64_t last_unix_micros = 0;
  std::string actor;    // "org/credential", or "spki:<hex>" when unknown.
  std::string subject;  // Certificate subject of an unauthenticated caller.
  std::string peer;     // Peer address, without the port.
  std::string method;   // RPC method ("Put"), or "*" for a summary row.
  std::string object;   // Kind and key, or operation index; may be empty.
  std::string reason;   // The real reason (core/denial.h), not the reply.
  int32_t code = 0;     // absl::StatusCode; 0 for a summary row.
  uint64_t count = 0;   // Denials this row stands for.
};

struct DenialQuery {
  uint32_t limit = 100;  // Newest first.
  std::string actor;     // Exact match when non-empty.
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens a store by URL: "sqlite:/path/file.db", "memory:",
  // "postgresql://..." (or "postgres://..."). Does not migrate.
  static absl::StatusOr<std::unique_ptr<Store>> Open(absl::string_view url);

  // "sqlite" | "postgres" | "memory".
  virtual std::string Backend() const = 0;

  // Applies all pending migrations (embedded SQL, see migrations/). A file
  // whose checksum differs from the applied one is FAILED_PRECONDITION.
  virtual absl::Status Migrate() = 0;
  virtual absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() = 0;

  // Atomically applies the mutations and appends them to the change log with
  // one new serial (returned). Empty mutations: no-op, returns latest serial.
  // ABORTED on expected_serial mismatch; FAILED_PRECONDITION when the
  // database is a read-only standby.
  virtual absl::StatusOr<uint64_t> Commit(const CommitRequest& request) = 0;

  // Latest committed serial (0 for an empty registry).
  virtual absl::StatusOr<uint64_t> LatestSerial() = 0;

  // Calls `fn` for every object, from one consistent snapshot, and returns
  // the serial of that snapshot. Used to build the first view at start-up.
  virtual absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view key,
                               const lufd::v1::RegistryObject&)>& fn) = 0;

  // Change-log entries with serial > after_serial, in (serial, seq) order,
  // whole transactions only, at least one transaction even if it has more
  // than max_changes entries.
  virtual absl::StatusOr<std::vector<lufd::v1::Change>> ReadChanges(
      uint64_t after_serial, uint32_t max_changes) = 0;

  // The audit trail: the change log, filtered. Like ReadChanges, it holds
  // no secret: a credential's tsig_secret appears as tsig_secret_sha256.
  // Commit stores before/after images that way whatever the caller gives.
  virtual absl::StatusOr<std::vector<lufd::v1::Change>> Audit(
      const AuditQuery& query) = 0;

  // The denial audit table: appends `records` in one transaction, then
  // deletes the oldest rows beyond `max_rows`, in the same transaction: the
  // table never holds more than max_rows rows once the call returns.
  // FAILED_PRECONDITION on a read-only standby.
  virtual absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                                     uint64_t max_rows) = 0;
  // Denial rows, newest (highest id) first.
  virtual absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& query) = 0;

  // True when writes are impossible here (PostgreSQL hot standby).
  virtual absl::StatusOr<bool> IsReadOnly() = 0;

  // How far this database trails the primary it replicates from: on a
  // PostgreSQL hot standby, the age of the last transaction it replayed
  // while WAL it received is still waiting to be replayed; zero when it has
  // replayed everything it received, and on a primary. (A standby whose
  // primary is gone has nothing left to replay: zero, not "unknown".)
  // UNIMPLEMENTED for stores without replication.
  virtual absl::StatusOr<absl::Duration> ReplicationLag() {
    return absl::UnimplementedError("this store does not replicate");
  }

  // The guard's shared disclosure budget (server/guard/ledger_sync.h):
  // atomically grants min(want, budget - slots granted to `identity` in the
  // window (now - window, now]) slots (0 when spent), records the grant at
  // `now`, and forgets grants that left the window. Every lufd instance on
  // the database asks here, so the grants in any window never exceed
  // `budget`. FAILED_PRECONDITION on a read-only standby. The default
  // (stores without a shared table) is UNIMPLEMENTED: count locally.
  virtual absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string& identity,
                                                    uint32_t want,
                                                    uint32_t budget,
                                                    absl::Duration window,
                                                    absl::Time now);

  // The object stored under (kind, key) now (at the latest serial), or
  // nullopt when there is none. The change log never carries a secret (a
  // credential's TSIG secret is logged as its fingerprint, common.h), so a
  // follower applying such a change reads the secret back here.
  virtual absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) = 0;

  // The DNSSEC signatures made ahead, the signer lease and its checkpoint
  // (signature_table.h), on this store's database and connections. Owned by
  // the Store: valid for the Store's lifetime, never null.
  virtual SignatureTable* Signatures() = 0;
};

// How the change log (and so ReadChanges and Audit) holds `object`: a
// credential's tsig_secret replaced by tsig_secret_sha256, the first 16 hex
// digits of its SHA-256. True when `object` changed (it carried a secret).
// Commit applies it to every before/after image, in every backend.
bool RedactForChangeLog(lufd::v1::RegistryObject* object);

// The error every write on a read-only standby fails with:
// FAILED_PRECONDITION "store is a read-only standby", marked with a payload
// so that callers (storage/write_router.h) tell it from the other
// FAILED_PRECONDITIONs (schema not migrated, ...).
absl::Status ReadOnlyStoreError();
bool IsReadOnlyStoreError(const absl::Status& status);

}  // namespace lufd

#endif  // LUFD_STORAGE_STORE_H_
