#include "storage/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/private_file.h"
#include "common/status_macros.h"
#include "storage/common.h"
#include "storage/migrate.h"

namespace lufd {
namespace {

using lufd::v1::Change;
using storage_internal::CompareWithApplied;
using storage_internal::MigrationFile;
using storage_internal::MigrationsFor;
using storage_internal::NotMigratedError;

// How long a writer waits for another process's write transaction.
constexpr int kBusyTimeoutMs = 10000;
// Idle reader connections kept open.
constexpr size_t kMaxIdleReaders = 4;

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat("sqlite: ", what, ": ",
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::UnavailableError(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// One connection plus its prepared statements (kept for the connection's
// life; SQLite re-prepares them itself after a schema change).
class Conn {
 public:
  explicit Conn(sqlite3* db) : db_(db) {}
  ~Conn() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  sqlite3* db() const { return db_; }

  // Returns a reset statement for `sql` (a string literal: the cache is keyed
  // by its address, so input can never reach the SQL text).
  absl::StatusOr<sqlite3_stmt*> Prepare(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    stmts_.emplace(sql, stmt);
    return stmt;
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return SqliteError(nullptr, rc, msg);
    }
    return absl::OkStatus();
  }

  // Rolls back whatever transaction an error path left open.
  void RollbackIfOpen() {
    if (!sqlite3_get_autocommit(db_)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

 private:
  sqlite3* db_;
  absl::flat_hash_map<const char*, sqlite3_stmt*> stmts_;
};

// Bind helpers. SQLITE_STATIC: every bound buffer outlives the step.
void BindText(sqlite3_stmt* s, int i, absl::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  // data() of an empty string is non-null, so this binds an empty blob, not
  // NULL.
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
absl::string_view ColumnText(sqlite3_stmt* s, int i) {
  const char* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? absl::string_view(p, sqlite3_column_bytes(s, i))
           : absl::string_view();
}
absl::string_view ColumnBlob(sqlite3_stmt* s, int i) {
  const char* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  return p ? absl::string_view(p, sqlite3_column_bytes(s, i))
           : absl::string_view();
}

// Steps a statement that returns no rows.
absl::Status StepDone(Conn* c, sqlite3_stmt* s, absl::string_view what) {
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, what);
  return absl::OkStatus();
}

absl::Status RowToChange(sqlite3_stmt* s, Change* c) {
  c->set_serial(static_cast<uint64_t>(sqlite3_column_int64(s, 0)));
  c->set_seq(static_cast<uint32_t>(sqlite3_column_int64(s, 1)));
  c->set_time_unix_micros(sqlite3_column_int64(s, 2));
  c->set_actor(std::string(ColumnText(s, 3)));
  c->set_client_txn_id(std::string(ColumnText(s, 4)));
  c->set_kind(static_cast<lufd::v1::ObjectKind>(sqlite3_column_int(s, 5)));
  c->set_key(std::string(ColumnText(s, 6)));
  c->set_deleted(sqlite3_column_int(s, 7) != 0);
  if (sqlite3_column_type(s, 8) != SQLITE_NULL) {
    RETURN_IF_ERROR(storage_internal::ParseObject(ColumnBlob(s, 8), c->key(),
                                                  c->mutable_before()));
  }
  if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
    RETURN_IF_ERROR(storage_internal::ParseObject(ColumnBlob(s, 9), c->key(),
                                                  c->mutable_after()));
  }
  return absl::OkStatus();
}

// The Store and its SignatureTable share the connections: one writer (so
// signature puts and registry commits serialize in process as SQLite would
// anyway) and the reader pool.
class SqliteStore : public Store, public SignatureTable {
 public:
  SqliteStore(std::string path, SqliteSync sync)
      : path_(std::move(path)), sync_(sync) {}

  absl::Status Init() {
    ASSIGN_OR_RETURN(auto files, MigrationsFor("sqlite"));
    files_ = std::move(files);
    ASSIGN_OR_RETURN(auto w, OpenConn(kWriterCacheKib));
    // WAL persists in the file; set it once from the writer.
    RETURN_IF_ERROR(w->Exec("PRAGMA journal_mode=WAL"));
    absl::MutexLock lock(&write_mu_);
    writer_ = std::move(w);
    return absl::OkStatus();
  }

  std::string Backend() const override { return "sqlite"; }

  absl::Status Migrate() override {
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    ASSIGN_OR_RETURN(auto applied, ReadApplied(c, /*create=*/true));
    RETURN_IF_ERROR(CompareWithApplied(files_, applied).status());
    for (const MigrationFile& f : files_) {
      absl::Status s = ApplyOne(c, f);
      c->RollbackIfOpen();
      if (!s.ok()) {
        return absl::Status(
            s.code(), absl::StrCat("applying ", f.path, ": ", s.message()));
      }
    }
    schema_ready_.store(false);
    return CheckSchema(c);
  }

  // What SQLite reports on a connection (see SqliteSynchronous).
  absl::StatusOr<std::string> Synchronous() {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    ASSIGN_OR_RETURN(sqlite3_stmt * s, r->Prepare("PRAGMA synchronous"));
    std::string out = "unknown";
    if (sqlite3_step(s) == SQLITE_ROW) {
      switch (sqlite3_column_int(s, 0)) {
        case 0:
          out = "off";
          break;
        case 1:
          out = "normal";
          break;
        case 2:
          out = "full";
          break;
        case 3:
          out = "extra";
          break;
      }
    }
    sqlite3_reset(s);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    auto applied = ReadApplied(r.get(), /*create=*/false);
    if (!applied.ok()) return applied.status();
    auto out = CompareWithApplied(files_, *applied);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    RETURN_IF_ERROR(storage_internal::ValidateRequest(request));
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    auto result = CommitLocked(c, request);
    c->RollbackIfOpen();
    return result;
  }

  absl::StatusOr<uint64_t> LatestSerial() override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ReadLatest(r.get());
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                               const lufd::v1::RegistryObject&)>& fn) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    // One read transaction: the serial and the rows come from one WAL
    // snapshot.
    RETURN_IF_ERROR(r->Exec("BEGIN"));
    auto out = LoadSnapshotTxn(r.get(), fn);
    r->RollbackIfOpen();
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<std::vector<Change>> ReadChanges(
      uint64_t after_serial, uint32_t max_changes) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ReadChangesImpl(r.get(), after_serial, max_changes);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<std::vector<Change>> Audit(const AuditQuery& query) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = AuditImpl(r.get(), query);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<bool> IsReadOnly() override { return false; }

  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ReadObjectImpl(r.get(), kind, key);
    ReleaseReader(std::move(r));
    return out;
  }

  SignatureTable* Signatures() override { return this; }

  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override {
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    absl::Status s = AppendDenialsLocked(c, records, max_rows);
    c->RollbackIfOpen();
    return s;
  }

  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& q) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ReadDenialsImpl(r.get(), q);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string& identity,
                                            uint32_t want, uint32_t budget,
                                            absl::Duration window,
                                            absl::Time now) override {
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    absl::StatusOr<uint32_t> n =
        LeaseGuardBudgetLocked(c, identity, want, budget, window, now);
    c->RollbackIfOpen();
    return n;
  }

  // --- SignatureTable ---

  absl::Status PutSignatures(
      const std::vector<StoredSignature>& signatures) override {
    std::vector<const StoredSignature*> rows =
        storage_internal::LastSignatureWins(signatures);
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    absl::Status s = PutSignaturesLocked(c, rows);
    c->RollbackIfOpen();
    return s;
  }

  absl::StatusOr<uint64_t> ScanSignatures(
      uint64_t after_seq,
      const std::function<void(const StoredSignature&)>& fn) override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ScanSignaturesImpl(r.get(), after_seq, fn);
    ReleaseReader(std::move(r));
    return out;
  }

  absl::StatusOr<uint64_t> DeleteSignaturesExpiringBefore(
      int64_t unix_time) override {
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    ASSIGN_OR_RETURN(sqlite3_stmt * s,
                     c->Prepare("DELETE FROM dnssec_signatures "
                                "WHERE expiration < ?1"));
    sqlite3_bind_int64(s, 1, unix_time);
    absl::Status st = StepDone(c, s, "delete signatures");
    sqlite3_reset(s);
    RETURN_IF_ERROR(st);
    return static_cast<uint64_t>(sqlite3_changes64(c->db()));
  }

  absl::StatusOr<std::unique_ptr<SignerLease>> TryAcquireSignerLease()
      override {
    // One writer host per SQLite file: the lease is per process and per
    // file, whatever path spelling or Store object names it.
    std::error_code ec;
    std::filesystem::path canonical =
        std::filesystem::weakly_canonical(path_, ec);
    return storage_internal::TryAcquireLocalSignerLease(
        absl::StrCat("sqlite:", ec ? path_ : canonical.string()));
  }

  absl::StatusOr<std::optional<SignerCheckpoint>> ReadSignerCheckpoint()
      override {
    ASSIGN_OR_RETURN(auto r, AcquireReader());
    RETURN_IF_ERROR(CheckSchema(r.get()));
    auto out = ReadCheckpointImpl(r.get());
    ReleaseReader(std::move(r));
    return out;
  }

  absl::Status WriteSignerCheckpoint(const SignerCheckpoint& cp) override {
    absl::MutexLock lock(&write_mu_);
    Conn* c = writer_.get();
    RETURN_IF_ERROR(CheckSchema(c));
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("INSERT INTO signer_checkpoint (id, serial, "
                   "full_pass_unix, signer_keys) VALUES (1, ?1, ?2, ?3) "
                   "ON CONFLICT (id) DO UPDATE SET serial = excluded.serial, "
                   "full_pass_unix = excluded.full_pass_unix, "
                   "signer_keys = excluded.signer_keys"));
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(cp.serial));
    sqlite3_bind_int64(s, 2, cp.full_pass_unix);
    BindText(s, 3, cp.keys);
    absl::Status st = StepDone(c, s, "write signer checkpoint");
    sqlite3_reset(s);
    return st;
  }

 private:
  // Page cache sizes, in KiB. The writer's large cache keeps bulk index
  // building off the disk. Readers only scan (snapshot, change log, audit)
  // and lookups never reach the database, so a large reader cache would only
  // hold pages that a start-up scan filled while the caller built its view
  // from them, interleaved with it on the heap: 64 MiB resident for the life
  // of the process (about 60 bytes per number at 1M).
  static constexpr int kWriterCacheKib = 65536;
  static constexpr int kReaderCacheKib = 2048;

  absl::StatusOr<std::unique_ptr<Conn>> OpenConn(int cache_kib) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(
        path_.c_str(), &db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        nullptr);
    auto conn = std::make_unique<Conn>(db);
    if (rc != SQLITE_OK) {
      return SqliteError(db, rc, absl::StrCat("open ", path_));
    }
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    // FULL: durable at commit. NORMAL: crash-safe in WAL mode (atomic,
    // possibly not durable on power loss). See sqlite_store.h.
    const std::string pragmas = absl::StrCat(
        "PRAGMA synchronous=", sync_ == SqliteSync::kFull ? "FULL" : "NORMAL",
        "; PRAGMA cache_size=-", cache_kib,
        "; PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY");
    RETURN_IF_ERROR(conn->Exec(pragmas.c_str()));
    return conn;
  }

  absl::StatusOr<std::unique_ptr<Conn>> AcquireReader() {
    {
      absl::MutexLock lock(&pool_mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return OpenConn(kReaderCacheKib);
  }

  void ReleaseReader(std::unique_ptr<Conn> c) {
    c->RollbackIfOpen();
    absl::MutexLock lock(&pool_mu_);
    if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(c));
  }

  // Reads schema_migrations; with create=false a missing table is an empty
  // list.
  absl::StatusOr<std::vector<MigrationInfo>> ReadApplied(Conn* c, bool create) {
    if (create) {
      RETURN_IF_ERROR(
          c->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                  " checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"));
    } else {
      ASSIGN_OR_RETURN(sqlite3_stmt * s,
                       c->Prepare("SELECT count(*) FROM sqlite_master WHERE "
                                  "type='table' AND name='schema_migrations'"));
      int rc = sqlite3_step(s);
      if (rc != SQLITE_ROW) return SqliteError(c->db(), rc, "read schema");
      bool exists = sqlite3_column_int(s, 0) > 0;
      sqlite3_reset(s);
      if (!exists) return std::vector<MigrationInfo>{};
    }
    // Not cached: the table may not have existed when the connection opened.
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(
        c->db(),
        "SELECT version, name, checksum, applied_at FROM schema_migrations "
        "ORDER BY version",
        -1, &s, nullptr);
    if (rc != SQLITE_OK) return SqliteError(c->db(), rc, "read migrations");
    std::vector<MigrationInfo> out;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      MigrationInfo m;
      m.version = static_cast<uint32_t>(sqlite3_column_int64(s, 0));
      m.name = std::string(ColumnText(s, 1));
      m.checksum = std::string(ColumnText(s, 2));
      m.applied_at = std::string(ColumnText(s, 3));
      m.applied = true;
      out.push_back(std::move(m));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, "read migrations");
    return out;
  }

  absl::Status ApplyOne(Conn* c, const MigrationFile& f) {
    RETURN_IF_ERROR(c->Exec("BEGIN IMMEDIATE"));
    // Re-read under the write lock: another process may have applied it.
    ASSIGN_OR_RETURN(auto applied, ReadApplied(c, /*create=*/false));
    for (const MigrationInfo& a : applied) {
      if (a.version == f.version) return c->Exec("ROLLBACK");
    }
    RETURN_IF_ERROR(c->Exec(f.sql.c_str()));
    if (f.name == storage_internal::kScrubSecretsMigration) {
      RETURN_IF_ERROR(ScrubChangeLogSecrets(c));
    }
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("INSERT INTO schema_migrations (version, name, checksum, "
                   "applied_at) VALUES (?1, ?2, ?3, ?4)"));
    const std::string at =
        absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
    sqlite3_bind_int64(s, 1, f.version);
    BindText(s, 2, f.name);
    BindText(s, 3, f.checksum);
    BindText(s, 4, at);
    RETURN_IF_ERROR(StepDone(c, s, "record migration"));
    return c->Exec("COMMIT");
  }

  // Cheap after the first success: the schema never goes backwards.
  absl::Status CheckSchema(Conn* c) {
    if (schema_ready_.load(std::memory_order_acquire)) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto applied, ReadApplied(c, /*create=*/false));
    ASSIGN_OR_RETURN(auto status, CompareWithApplied(files_, applied));
    for (const MigrationInfo& m : status) {
      if (!m.applied) return NotMigratedError();
    }
    schema_ready_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> ReadLatest(Conn* c) {
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("SELECT latest_serial FROM registry_state WHERE id = 1"));
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) return SqliteError(c->db(), rc, "read serial");
    uint64_t v = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
    return v;
  }

  absl::StatusOr<uint64_t> CommitLocked(Conn* c, const CommitRequest& req) {
    RETURN_IF_ERROR(c->Exec("BEGIN IMMEDIATE"));
    ASSIGN_OR_RETURN(uint64_t latest, ReadLatest(c));
    if (req.expected_serial.has_value() && *req.expected_serial != latest) {
      return absl::AbortedError(absl::StrCat(
          "expected serial ", *req.expected_serial, ", store is at ", latest));
    }
    if (req.mutations.empty()) return latest;
    const uint64_t serial = latest + 1;
    const int64_t now = storage_internal::NowMicros();
    ASSIGN_OR_RETURN(
        sqlite3_stmt * log,
        c->Prepare("INSERT INTO change_log (serial, seq, time_us, actor, "
                   "client_txn_id, kind, key, deleted, before, after) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    ASSIGN_OR_RETURN(
        sqlite3_stmt * put,
        c->Prepare("INSERT INTO objects (kind, key, data, serial) "
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, key) DO UPDATE "
                   "SET data = excluded.data, serial = excluded.serial"));
    ASSIGN_OR_RETURN(
        sqlite3_stmt * del,
        c->Prepare("DELETE FROM objects WHERE kind = ?1 AND key = ?2"));
    // The constant columns are bound once; bindings survive sqlite3_reset.
    sqlite3_bind_int64(log, 1, static_cast<int64_t>(serial));
    sqlite3_bind_int64(log, 3, now);
    BindText(log, 4, req.actor);
    BindText(log, 5, req.client_txn_id);
    sqlite3_bind_int64(put, 4, static_cast<int64_t>(serial));
    std::string before, after, logged_after;
    lufd::v1::RegistryObject scratch;
    for (size_t i = 0; i < req.mutations.size(); ++i) {
      const Mutation& m = req.mutations[i];
      const int kind = static_cast<int>(m.kind);
      sqlite3_reset(log);
      sqlite3_bind_int64(log, 2, static_cast<int64_t>(i));
      sqlite3_bind_int(log, 6, kind);
      BindText(log, 7, m.key);
      sqlite3_bind_int(log, 8, m.after.has_value() ? 0 : 1);
      if (m.before.has_value()) {
        storage_internal::SerializeObjectTo(
            storage_internal::ChangeLogImage(*m.before, &scratch), &before);
        BindBlob(log, 9, before);
      } else {
        sqlite3_bind_null(log, 9);
      }
      if (m.after.has_value()) {
        storage_internal::SerializeObjectTo(*m.after, &after);
        const lufd::v1::RegistryObject& image =
            storage_internal::ChangeLogImage(*m.after, &scratch);
        if (&image == &*m.after) {
          BindBlob(log, 10, after);
        } else {
          // The objects row keeps the secret; the log gets the fingerprint.
          storage_internal::SerializeObjectTo(image, &logged_after);
          BindBlob(log, 10, logged_after);
        }
      } else {
        sqlite3_bind_null(log, 10);
      }
      int rc = sqlite3_step(log);
      if (rc != SQLITE_DONE) {
        return SqliteError(c->db(), rc, absl::StrCat("mutation ", i));
      }
      sqlite3_stmt* obj = m.after.has_value() ? put : del;
      sqlite3_reset(obj);
      sqlite3_bind_int(obj, 1, kind);
      BindText(obj, 2, m.key);
      if (m.after.has_value()) BindBlob(obj, 3, after);
      rc = sqlite3_step(obj);
      if (rc != SQLITE_DONE) {
        return SqliteError(c->db(), rc, absl::StrCat("mutation ", i));
      }
    }
    sqlite3_reset(log);
    sqlite3_reset(put);
    sqlite3_reset(del);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * st,
        c->Prepare(
            "UPDATE registry_state SET latest_serial = ?1 WHERE id = 1"));
    sqlite3_bind_int64(st, 1, static_cast<int64_t>(serial));
    RETURN_IF_ERROR(StepDone(c, st, "update serial"));
    RETURN_IF_ERROR(c->Exec("COMMIT"));
    return serial;
  }

  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObjectImpl(
      Conn* c, lufd::v1::ObjectKind kind, absl::string_view key) {
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("SELECT data FROM objects WHERE kind = ?1 AND key = ?2"));
    sqlite3_bind_int(s, 1, static_cast<int>(kind));
    BindText(s, 2, key);
    int rc = sqlite3_step(s);
    std::optional<lufd::v1::RegistryObject> out;
    absl::Status st;
    if (rc == SQLITE_ROW) {
      st = storage_internal::ParseObject(ColumnBlob(s, 0), key, &out.emplace());
    } else if (rc != SQLITE_DONE) {
      st = SqliteError(c->db(), rc, "read object");
    }
    sqlite3_reset(s);
    RETURN_IF_ERROR(st);
    return out;
  }

  // The data step of migration kScrubSecretsMigration, inside its
  // transaction: rewrites every credential image of the change log that
  // still carries a TSIG secret (written before Commit redacted them).
  absl::Status ScrubChangeLogSecrets(Conn* c) {
    ASSIGN_OR_RETURN(sqlite3_stmt * sel,
                     c->Prepare("SELECT serial, seq, key, before, after FROM "
                                "change_log WHERE kind = ?1"));
    sqlite3_bind_int(sel, 1, lufd::v1::OBJECT_KIND_CREDENTIAL);
    struct Row {
      int64_t serial, seq;
      std::optional<std::string> before, after;
    };
    std::vector<Row> rows;
    int rc;
    absl::Status st;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW && st.ok()) {
      Row row{
          sqlite3_column_int64(sel, 0), sqlite3_column_int64(sel, 1), {}, {}};
      const std::string key(ColumnText(sel, 2));
      for (int col : {3, 4}) {
        if (sqlite3_column_type(sel, col) == SQLITE_NULL) continue;
        auto scrubbed =
            storage_internal::ScrubChangeLogBlob(ColumnBlob(sel, col), key);
        if (!scrubbed.ok()) {
          st = scrubbed.status();
          break;
        }
        (col == 3 ? row.before : row.after) = *std::move(scrubbed);
      }
      if (row.before.has_value() || row.after.has_value()) {
        rows.push_back(std::move(row));
      }
    }
    if (st.ok() && rc != SQLITE_DONE) st = SqliteError(c->db(), rc, "scrub");
    sqlite3_reset(sel);
    RETURN_IF_ERROR(st);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * upd,
        c->Prepare(
            "UPDATE change_log SET before = coalesce(?3, before), "
            "after = coalesce(?4, after) WHERE serial = ?1 AND seq = ?2"));
    for (const Row& row : rows) {
      sqlite3_reset(upd);
      sqlite3_bind_int64(upd, 1, row.serial);
      sqlite3_bind_int64(upd, 2, row.seq);
      if (row.before.has_value()) {
        BindBlob(upd, 3, *row.before);
      } else {
        sqlite3_bind_null(upd, 3);
      }
      if (row.after.has_value()) {
        BindBlob(upd, 4, *row.after);
      } else {
        sqlite3_bind_null(upd, 4);
      }
      st = StepDone(c, upd, "scrub change log");
      if (!st.ok()) break;
    }
    sqlite3_reset(upd);
    return st;
  }

  absl::StatusOr<uint64_t> LoadSnapshotTxn(
      Conn* c, const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                                        const lufd::v1::RegistryObject&)>& fn) {
    ASSIGN_OR_RETURN(uint64_t serial, ReadLatest(c));
    ASSIGN_OR_RETURN(sqlite3_stmt * s,
                     c->Prepare("SELECT kind, key, data FROM objects"));
    lufd::v1::RegistryObject obj;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      absl::string_view key = ColumnText(s, 1);
      absl::Status st =
          storage_internal::ParseObjectReusing(ColumnBlob(s, 2), key, &obj);
      if (!st.ok()) {
        sqlite3_reset(s);
        return st;
      }
      fn(static_cast<lufd::v1::ObjectKind>(sqlite3_column_int(s, 0)), key, obj);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, "load snapshot");
    return serial;
  }

  // seq comes from signature_state inside this write transaction, so it
  // is never reused even after the highest rows were deleted (a poller's
  // after_seq would skip a reused one). INSERT OR REPLACE: a row that
  // exists under the same identity is deleted and re-inserted under its new
  // seq (seq is the rowid, see migration 0003).
  absl::Status PutSignaturesLocked(
      Conn* c, const std::vector<const StoredSignature*>& rows) {
    if (rows.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(c->Exec("BEGIN IMMEDIATE"));
    ASSIGN_OR_RETURN(
        sqlite3_stmt * get,
        c->Prepare("SELECT last_seq FROM signature_state WHERE id = 1"));
    int rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) return SqliteError(c->db(), rc, "read last seq");
    int64_t seq = sqlite3_column_int64(get, 0);
    sqlite3_reset(get);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * put,
        c->Prepare("INSERT OR REPLACE INTO dnssec_signatures (seq, owner, "
                   "type_covered, rrset_hash, key_tag, rrsig, expiration) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    for (const StoredSignature* row : rows) {
      sqlite3_reset(put);
      sqlite3_bind_int64(put, 1, ++seq);
      BindBlob(put, 2, row->owner);
      sqlite3_bind_int(put, 3, row->type_covered);
      sqlite3_bind_int64(put, 4, static_cast<int64_t>(row->rrset_hash));
      sqlite3_bind_int(put, 5, row->key_tag);
      BindBlob(put, 6, row->rrsig_rdata);
      sqlite3_bind_int64(put, 7, row->expiration_unix);
      rc = sqlite3_step(put);
      if (rc != SQLITE_DONE) {
        sqlite3_reset(put);
        return SqliteError(c->db(), rc, "put signature");
      }
    }
    sqlite3_reset(put);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * set,
        c->Prepare("UPDATE signature_state SET last_seq = ?1 WHERE id = 1"));
    sqlite3_bind_int64(set, 1, seq);
    RETURN_IF_ERROR(StepDone(c, set, "update last seq"));
    return c->Exec("COMMIT");
  }

  absl::StatusOr<uint64_t> ScanSignaturesImpl(
      Conn* c, uint64_t after_seq,
      const std::function<void(const StoredSignature&)>& fn) {
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("SELECT seq, owner, type_covered, rrset_hash, key_tag, "
                   "rrsig, expiration FROM dnssec_signatures WHERE seq > ?1 "
                   "ORDER BY seq"));
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(after_seq));
    // One row object, its buffers reused: a start-up scan of 1M rows
    // allocates almost nothing.
    StoredSignature row;
    uint64_t last = after_seq;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      row.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      absl::string_view owner = ColumnBlob(s, 1);
      row.owner.assign(owner.data(), owner.size());
      row.type_covered = static_cast<uint16_t>(sqlite3_column_int(s, 2));
      row.rrset_hash = static_cast<uint64_t>(sqlite3_column_int64(s, 3));
      row.key_tag = static_cast<uint16_t>(sqlite3_column_int(s, 4));
      absl::string_view rrsig = ColumnBlob(s, 5);
      row.rrsig_rdata.assign(rrsig.data(), rrsig.size());
      row.expiration_unix = sqlite3_column_int64(s, 6);
      fn(row);
      last = row.seq;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, "scan signatures");
    return last;
  }

  absl::StatusOr<std::optional<SignerCheckpoint>> ReadCheckpointImpl(Conn* c) {
    ASSIGN_OR_RETURN(sqlite3_stmt * s,
                     c->Prepare("SELECT serial, full_pass_unix, signer_keys "
                                "FROM signer_checkpoint WHERE id = 1"));
    std::optional<SignerCheckpoint> out;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      out.emplace();
      out->serial = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      out->full_pass_unix = sqlite3_column_int64(s, 1);
      out->keys = std::string(ColumnText(s, 2));
      rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      return SqliteError(c->db(), rc, "read signer checkpoint");
    }
    return out;
  }

  static absl::StatusOr<std::vector<Change>> CollectChanges(Conn* c,
                                                            sqlite3_stmt* s) {
    std::vector<Change> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      Change ch;
      absl::Status st = RowToChange(s, &ch);
      if (!st.ok()) {
        sqlite3_reset(s);
        return st;
      }
      out.push_back(std::move(ch));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, "read changes");
    return out;
  }

  absl::StatusOr<std::vector<Change>> ReadChangesImpl(Conn* c,
                                                      uint64_t after_serial,
                                                      uint32_t max_changes) {
    // Find the serial of the max_changes-th entry; everything up to the end
    // of that transaction is returned (whole transactions only).
    ASSIGN_OR_RETURN(sqlite3_stmt * bound,
                     c->Prepare("SELECT serial FROM change_log WHERE serial > "
                                "?1 ORDER BY serial, seq LIMIT 1 OFFSET ?2"));
    const int64_t after = static_cast<int64_t>(after_serial);
    sqlite3_bind_int64(bound, 1, after);
    sqlite3_bind_int64(bound, 2, std::max<int64_t>(max_changes, 1) - 1);
    int64_t upto = std::numeric_limits<int64_t>::max();
    int rc = sqlite3_step(bound);
    if (rc == SQLITE_ROW) {
      upto = sqlite3_column_int64(bound, 0);
    } else if (rc != SQLITE_DONE) {
      sqlite3_reset(bound);
      return SqliteError(c->db(), rc, "read changes");
    }
    sqlite3_reset(bound);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * s,
        c->Prepare("SELECT serial, seq, time_us, actor, client_txn_id, kind, "
                   "key, deleted, before, after FROM change_log "
                   "WHERE serial > ?1 AND serial <= ?2 ORDER BY serial, seq"));
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, upto);
    return CollectChanges(c, s);
  }

  absl::StatusOr<std::vector<Change>> AuditImpl(Conn* c, const AuditQuery& q) {
    // One fixed statement per filter combination keeps each one indexable;
    // the text is chosen, never built from input.
    const char* sql;
    if (!q.key.empty() && !q.actor.empty()) {
      sql =
          "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
          "deleted, before, after FROM change_log WHERE serial > ?1 AND "
          "key = ?2 AND actor = ?3 ORDER BY serial, seq LIMIT ?4";
    } else if (!q.key.empty()) {
      sql =
          "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
          "deleted, before, after FROM change_log WHERE serial > ?1 AND "
          "key = ?2 ORDER BY serial, seq LIMIT ?4";
    } else if (!q.actor.empty()) {
      sql =
          "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
          "deleted, before, after FROM change_log WHERE serial > ?1 AND "
          "actor = ?3 ORDER BY serial, seq LIMIT ?4";
    } else {
      sql =
          "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
          "deleted, before, after FROM change_log WHERE serial > ?1 "
          "ORDER BY serial, seq LIMIT ?4";
    }
    ASSIGN_OR_RETURN(sqlite3_stmt * s, c->Prepare(sql));
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(q.after_serial));
    if (!q.key.empty()) BindText(s, 2, q.key);
    if (!q.actor.empty()) BindText(s, 3, q.actor);
    sqlite3_bind_int64(
        s, 4, q.limit == 0 ? storage_internal::kDefaultAuditLimit : q.limit);
    return CollectChanges(c, s);
  }

  absl::Status AppendDenialsLocked(Conn* c,
                                   const std::vector<DenialRecord>& records,
                                   uint64_t max_rows) {
    RETURN_IF_ERROR(c->Exec("BEGIN IMMEDIATE"));
    for (const DenialRecord& d : records) {
      ASSIGN_OR_RETURN(
          sqlite3_stmt * s,
          c->Prepare("INSERT INTO denials (first_us, last_us, actor, subject, "
                     "peer, method, object, reason, code, count) VALUES "
                     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
      sqlite3_bind_int64(s, 1, d.first_unix_micros);
      sqlite3_bind_int64(s, 2, d.last_unix_micros);
      BindText(s, 3, d.actor);
      BindText(s, 4, d.subject);
      BindText(s, 5, d.peer);
      BindText(s, 6, d.method);
      BindText(s, 7, d.object);
      BindText(s, 8, d.reason);
      sqlite3_bind_int(s, 9, d.code);
      sqlite3_bind_int64(s, 10, static_cast<int64_t>(d.count));
      absl::Status st = StepDone(c, s, "insert denial");
      sqlite3_reset(s);
      RETURN_IF_ERROR(st);
    }
    if (max_rows == 0) {
      RETURN_IF_ERROR(c->Exec("DELETE FROM denials"));
    } else {
      // Keeps the newest max_rows rows (the subquery is NULL, deleting
      // nothing, while there are fewer).
      ASSIGN_OR_RETURN(sqlite3_stmt * t,
                       c->Prepare("DELETE FROM denials WHERE id < (SELECT id "
                                  "FROM denials ORDER BY id DESC LIMIT 1 "
                                  "OFFSET ?1)"));
      sqlite3_bind_int64(
          t, 1,
          static_cast<int64_t>(std::min<uint64_t>(max_rows - 1, INT64_MAX)));
      absl::Status st = StepDone(c, t, "trim denials");
      sqlite3_reset(t);
      RETURN_IF_ERROR(st);
    }
    return c->Exec("COMMIT");
  }

  // BEGIN IMMEDIATE takes the database's write lock first, so grants from
  // several processes on one file serialize like PostgreSQL's.
  absl::StatusOr<uint32_t> LeaseGuardBudgetLocked(
      Conn* c, const std::string& identity, uint32_t want, uint32_t budget,
      absl::Duration window, absl::Time now) {
    const int64_t now_us = absl::ToUnixMicros(now);
    const int64_t since_us = absl::ToUnixMicros(now - window);
    RETURN_IF_ERROR(c->Exec("BEGIN IMMEDIATE"));
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * d,
                       c->Prepare("DELETE FROM guard_leases WHERE identity = "
                                  "?1 AND granted_at_us <= ?2"));
      BindText(d, 1, identity);
      sqlite3_bind_int64(d, 2, since_us);
      absl::Status st = StepDone(c, d, "trim guard leases");
      sqlite3_reset(d);
      RETURN_IF_ERROR(st);
    }
    int64_t granted = 0;
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * q,
                       c->Prepare("SELECT COALESCE(SUM(count), 0) FROM "
                                  "guard_leases WHERE identity = ?1"));
      BindText(q, 1, identity);
      const int rc = sqlite3_step(q);
      if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return SqliteError(c->db(), rc, "sum guard leases");
      }
      granted = sqlite3_column_int64(q, 0);
      sqlite3_reset(q);
    }
    const int64_t left = std::max<int64_t>(0, int64_t{budget} - granted);
    const uint32_t n =
        static_cast<uint32_t>(std::min<int64_t>(int64_t{want}, left));
    if (n > 0) {
      ASSIGN_OR_RETURN(sqlite3_stmt * i,
                       c->Prepare("INSERT INTO guard_leases (identity, "
                                  "granted_at_us, count) VALUES (?1, ?2, ?3)"));
      BindText(i, 1, identity);
      sqlite3_bind_int64(i, 2, now_us);
      sqlite3_bind_int64(i, 3, n);
      absl::Status st = StepDone(c, i, "insert guard lease");
      sqlite3_reset(i);
      RETURN_IF_ERROR(st);
    }
    RETURN_IF_ERROR(c->Exec("COMMIT"));
    return n;
  }

  absl::StatusOr<std::vector<DenialRecord>> ReadDenialsImpl(
      Conn* c, const DenialQuery& q) {
    const char* sql =
        q.actor.empty()
            ? "SELECT id, first_us, last_us, actor, subject, peer, method, "
              "object, reason, code, count FROM denials ORDER BY id DESC "
              "LIMIT ?1"
            : "SELECT id, first_us, last_us, actor, subject, peer, method, "
              "object, reason, code, count FROM denials WHERE actor = ?2 "
              "ORDER BY id DESC LIMIT ?1";
    ASSIGN_OR_RETURN(sqlite3_stmt * s, c->Prepare(sql));
    sqlite3_bind_int64(s, 1, q.limit);
    if (!q.actor.empty()) BindText(s, 2, q.actor);
    std::vector<DenialRecord> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      DenialRecord& d = out.emplace_back();
      d.id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
      d.first_unix_micros = sqlite3_column_int64(s, 1);
      d.last_unix_micros = sqlite3_column_int64(s, 2);
      d.actor = std::string(ColumnText(s, 3));
      d.subject = std::string(ColumnText(s, 4));
      d.peer = std::string(ColumnText(s, 5));
      d.method = std::string(ColumnText(s, 6));
      d.object = std::string(ColumnText(s, 7));
      d.reason = std::string(ColumnText(s, 8));
      d.code = sqlite3_column_int(s, 9);
      d.count = static_cast<uint64_t>(sqlite3_column_int64(s, 10));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return SqliteError(c->db(), rc, "read denials");
    return out;
  }

  const std::string path_;
  const SqliteSync sync_;
  std::vector<MigrationFile> files_;
  std::atomic<bool> schema_ready_{false};

  absl::Mutex write_mu_;
  std::unique_ptr<Conn> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace

namespace {

// The database holds TSIG secrets: create it 0600 ourselves (SQLite would
// create it 0644 & ~umask, and gives the -wal, -shm and -journal files the
// database file's mode), and refuse an existing one, or a leftover sibling,
// that group or others may read (common/private_file.h).
absl::Status PrepareDatabaseFile(const std::string& path) {
  if (path == ":memory:") return absl::OkStatus();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // The umask may only have removed bits; make the mode exact anyway.
    const int rc = fchmod(fd, 0600);
    const int err = errno;
    close(fd);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("sqlite: chmod 600 ", path, ": ", strerror(err)));
    }
    return absl::OkStatus();
  }
  // Anything but EEXIST (a missing directory, no permission): SQLite's
  // open reports it in its own words.
  if (errno != EEXIST) return absl::OkStatus();
  RETURN_IF_ERROR(CheckSecretFile("SQLite database", path));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    absl::Status s =
        CheckSecretFile("SQLite database file", absl::StrCat(path, suffix));
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(absl::string_view path,
                                                       SqliteSync sync) {
  if (path.empty()) {
    return absl::InvalidArgumentError("sqlite: empty database path");
  }
  RETURN_IF_ERROR(PrepareDatabaseFile(std::string(path)));
  auto store = std::make_unique<SqliteStore>(std::string(path), sync);
  RETURN_IF_ERROR(store->Init());
  return store;
}

absl::StatusOr<std::string> SqliteSynchronous(Store* store) {
  auto* sqlite = dynamic_cast<SqliteStore*>(store);
  if (sqlite == nullptr) {
    return absl::InvalidArgumentError("not a SQLite store");
  }
  return sqlite->Synchronous();
}

}  // namespace lufd
