#include "storage/postgres/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

// Serializes concurrent Migrate() calls from several instances.
constexpr int64_t kMigrateLockKey = 0x6c7566640002;
// Serializes PutSignatures, so seqs become visible in increasing order
// (a poller's after_seq never skips a row committed late).
constexpr int64_t kSignaturesPutLockKey = 0x6c7566640004;
// The first key of guard lease locks (pg_advisory_xact_lock(int4, int4),
// the second key being hashtext(identity)): "lu".
constexpr int32_t kGuardLeaseLockClass = 0x6c75;
constexpr size_t kMaxIdleConnections = 4;
// Rows per FETCH while streaming a snapshot.
constexpr int kFetchRows = 20000;

absl::Status ReadOnlyStandbyError() { return ReadOnlyStoreError(); }

// Maps a libpqxx/std exception to a Status. Called only from catch blocks.
absl::Status MapException(absl::string_view what) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(
        absl::StrCat("postgres: ", what, ": ", e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnavailableError(absl::StrCat(
        "postgres: ", what, ": commit outcome unknown: ", e.what()));
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    std::string msg = absl::StrCat("postgres: ", what, ": ", e.what());
    if (state == "25006") return ReadOnlyStandbyError();
    if (absl::StartsWith(state, "23") || absl::StartsWith(state, "22")) {
      return absl::InvalidArgumentError(msg);
    }
    if (state == "40001" || state == "40P01") return absl::AbortedError(msg);
    if (absl::StartsWith(state, "08") || absl::StartsWith(state, "53") ||
        absl::StartsWith(state, "57P")) {
      return absl::UnavailableError(msg);
    }
    return absl::InternalError(msg);
  } catch (const pqxx::transaction_rollback& e) {
    return absl::AbortedError(absl::StrCat("postgres: ", what, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("postgres: ", what, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat("postgres: ", what, ": unknown exception"));
  }
}

// True when the exception being handled is an error the server reported.
bool ServerReportedError() {
  try {
    throw;
  } catch (const pqxx::sql_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

// "\x" + lowercase hex: bytea's hex input form, safe through COPY text.
std::string ByteaHex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.resize(2 + 2 * bytes.size());
  out[0] = '\\';
  out[1] = 'x';
  char* p = out.data() + 2;
  for (unsigned char c : bytes) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
  return out;
}

absl::string_view FieldView(const pqxx::field& f) {
  return absl::string_view(f.c_str(), f.size());
}

absl::Status ParseBytea(const pqxx::field& f, absl::string_view what,
                        lufd::v1::RegistryObject* out) {
  pqxx::binarystring bs(f);
  return storage_internal::ParseObject(
      absl::string_view(reinterpret_cast<const char*>(bs.data()), bs.size()),
      what, out);
}

absl::Status RowToChange(const pqxx::row& r, Change* c) {
  c->set_serial(r[0].as<uint64_t>());
  c->set_seq(r[1].as<uint32_t>());
  c->set_time_unix_micros(r[2].as<int64_t>());
  c->set_actor(std::string(FieldView(r[3])));
  c->set_client_txn_id(std::string(FieldView(r[4])));
  c->set_kind(static_cast<lufd::v1::ObjectKind>(r[5].as<int>()));
  c->set_key(std::string(FieldView(r[6])));
  c->set_deleted(r[7].as<bool>());
  if (!r[8].is_null()) {
    RETURN_IF_ERROR(ParseBytea(r[8], c->key(), c->mutable_before()));
  }
  if (!r[9].is_null()) {
    RETURN_IF_ERROR(ParseBytea(r[9], c->key(), c->mutable_after()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Change>> ResultToChanges(const pqxx::result& res) {
  std::vector<Change> out;
  out.reserve(res.size());
  for (const pqxx::row& r : res) {
    Change c;
    RETURN_IF_ERROR(RowToChange(r, &c));
    out.push_back(std::move(c));
  }
  return out;
}

// A session advisory lock held on a connection owned by the lease. The
// backend pid is remembered: should libpq ever reconnect, the new session
// does not hold the lock, and Valid() must say so.
class PostgresSignerLease : public SignerLease {
 public:
  PostgresSignerLease(std::unique_ptr<pqxx::connection> conn, int pid)
      : conn_(std::move(conn)), pid_(pid) {}
  ~PostgresSignerLease() override {
    // Closing the session releases the lock; no explicit unlock needed.
    try {
      conn_.reset();
    } catch (...) {
    }
  }

  bool Valid() override {
    absl::MutexLock lock(&mu_);
    if (lost_) return false;
    try {
      pqxx::nontransaction w(*conn_);
      lost_ = w.exec1("SELECT pg_backend_pid()")[0].as<int>() != pid_;
    } catch (...) {
      lost_ = true;
    }
    return !lost_;
  }

 private:
  absl::Mutex mu_;
  std::unique_ptr<pqxx::connection> conn_ ABSL_GUARDED_BY(mu_);
  const int pid_;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
};

// The Store and its SignatureTable share the connection pool.
class PostgresStore : public Store, public SignatureTable {
 public:
  explicit PostgresStore(std::string conninfo)
      : conninfo_(std::move(conninfo)) {}

  absl::Status Init() {
    ASSIGN_OR_RETURN(files_, MigrationsFor("postgres"));
    // Connect now so a bad URL fails at Open, not at first use.
    ASSIGN_OR_RETURN(auto c, Acquire());
    Release(std::move(c));
    return absl::OkStatus();
  }

  std::string Backend() const override { return "postgres"; }

  absl::Status Migrate() override {
    return Run<bool>(
               "migrate",
               [&](pqxx::connection& c) -> absl::StatusOr<bool> {
                 {
                   pqxx::work w(c);
                   if (w.exec1("SELECT pg_is_in_recovery()")[0].as<bool>()) {
                     return ReadOnlyStandbyError();
                   }
                   w.exec_params("SELECT pg_advisory_xact_lock($1)",
                                 kMigrateLockKey);
                   w.exec(
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                       " checksum TEXT NOT NULL, applied_at TEXT NOT NULL)");
                   auto applied = ReadApplied(w);
                   w.commit();
                   RETURN_IF_ERROR(
                       CompareWithApplied(files_, applied).status());
                 }
                 for (const MigrationFile& f : files_) {
                   pqxx::work w(c);
                   w.exec_params("SELECT pg_advisory_xact_lock($1)",
                                 kMigrateLockKey);
                   // Re-read under the lock: another instance may have applied
                   // it.
                   auto r = w.exec_params(
                       "SELECT 1 FROM schema_migrations WHERE version = $1",
                       static_cast<int>(f.version));
                   if (!r.empty()) continue;
                   try {
                     w.exec(f.sql);
                     if (f.name == storage_internal::kScrubSecretsMigration) {
                       RETURN_IF_ERROR(ScrubChangeLogSecrets(w));
                     }
                   } catch (...) {
                     absl::Status s = MapException("migration");
                     return absl::Status(
                         s.code(),
                         absl::StrCat("applying ", f.path, ": ", s.message()));
                   }
                   const std::string at = absl::FormatTime(
                       absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
                   w.exec_params(
                       "INSERT INTO schema_migrations (version, name, "
                       "checksum, "
                       "applied_at) VALUES ($1, $2, $3, $4)",
                       static_cast<int>(f.version), f.name, f.checksum, at);
                   w.commit();
                 }
                 schema_ready_.store(false);
                 RETURN_IF_ERROR(CheckSchema(c));
                 return true;
               })
        .status();
  }

  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override {
    return Run<std::vector<MigrationInfo>>(
        "migration status",
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<MigrationInfo>> {
          pqxx::read_transaction w(c);
          return CompareWithApplied(files_, ReadAppliedIfExists(w));
        });
  }

  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    RETURN_IF_ERROR(storage_internal::ValidateRequest(request));
    return Run<uint64_t>(
        "commit", [&](pqxx::connection& c) { return CommitTxn(c, request); });
  }

  absl::StatusOr<uint64_t> LatestSerial() override {
    return Run<uint64_t>("latest serial",
                         [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
                           RETURN_IF_ERROR(CheckSchema(c));
                           pqxx::read_transaction w(c);
                           return ReadLatest(w);
                         });
  }

  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                               const lufd::v1::RegistryObject&)>& fn) override {
    return Run<uint64_t>(
        "load snapshot", [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
          RETURN_IF_ERROR(CheckSchema(c));
          // One REPEATABLE READ transaction: serial and rows agree.
          pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
          const uint64_t serial = ReadLatest(w);
          w.exec(
              "DECLARE lufd_snapshot NO SCROLL CURSOR FOR "
              "SELECT kind, key, data FROM objects");
          const std::string fetch =
              absl::StrCat("FETCH ", kFetchRows, " FROM lufd_snapshot");
          lufd::v1::RegistryObject obj;
          // Bounded: each round consumes rows of a finite snapshot.
          for (;;) {
            pqxx::result res = w.exec(fetch);
            if (res.empty()) break;
            for (const pqxx::row& r : res) {
              absl::string_view key = FieldView(r[1]);
              pqxx::binarystring bs(r[2]);
              RETURN_IF_ERROR(storage_internal::ParseObjectReusing(
                  absl::string_view(reinterpret_cast<const char*>(bs.data()),
                                    bs.size()),
                  key, &obj));
              fn(static_cast<lufd::v1::ObjectKind>(r[0].as<int>()), key, obj);
            }
          }
          w.commit();
          return serial;
        });
  }

  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override {
    return Run<std::optional<lufd::v1::RegistryObject>>(
        "read object",
        [&](pqxx::connection& c)
            -> absl::StatusOr<std::optional<lufd::v1::RegistryObject>> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          pqxx::result res = w.exec_params(
              "SELECT data FROM objects WHERE kind = $1 AND key = $2",
              static_cast<int>(kind), std::string(key));
          w.commit();
          std::optional<lufd::v1::RegistryObject> out;
          if (!res.empty()) {
            RETURN_IF_ERROR(ParseBytea(res[0][0], key, &out.emplace()));
          }
          return out;
        });
  }

  absl::StatusOr<std::vector<Change>> ReadChanges(
      uint64_t after_serial, uint32_t max_changes) override {
    return Run<std::vector<Change>>(
        "read changes",
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<Change>> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          const int64_t after = static_cast<int64_t>(after_serial);
          // The serial of the max_changes-th entry bounds the answer; the
          // whole of that transaction is included.
          auto b = w.exec_params(
              "SELECT serial FROM change_log WHERE serial > $1 "
              "ORDER BY serial, seq LIMIT 1 OFFSET $2",
              after, std::max<int64_t>(max_changes, 1) - 1);
          int64_t upto = b.empty() ? std::numeric_limits<int64_t>::max()
                                   : b[0][0].as<int64_t>();
          // Through a cursor: one big transaction would otherwise sit in
          // memory twice (hex text result + protos).
          w.exec_params(
              "DECLARE lufd_changes NO SCROLL CURSOR FOR "
              "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
              "deleted, before, after FROM change_log "
              "WHERE serial > $1 AND serial <= $2 ORDER BY serial, seq",
              after, upto);
          const std::string fetch =
              absl::StrCat("FETCH ", kFetchRows, " FROM lufd_changes");
          std::vector<Change> out;
          // Bounded: the cursor covers a finite range of committed rows.
          for (;;) {
            pqxx::result res = w.exec(fetch);
            if (res.empty()) break;
            for (const pqxx::row& r : res) {
              RETURN_IF_ERROR(RowToChange(r, &out.emplace_back()));
            }
          }
          w.commit();
          return out;
        });
  }

  absl::StatusOr<std::vector<Change>> Audit(const AuditQuery& q) override {
    return Run<std::vector<Change>>(
        "audit",
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<Change>> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          const int64_t after = static_cast<int64_t>(q.after_serial);
          const int64_t limit =
              q.limit == 0 ? storage_internal::kDefaultAuditLimit : q.limit;
          constexpr char kCols[] =
              "SELECT serial, seq, time_us, actor, client_txn_id, kind, key, "
              "deleted, before, after FROM change_log ";
          // One fixed statement per filter combination (chosen, never built
          // from input) so each can use its index.
          pqxx::result res;
          if (!q.key.empty() && !q.actor.empty()) {
            res = w.exec_params(
                absl::StrCat(kCols,
                             "WHERE serial > $1 AND key = $2 AND actor = $3 "
                             "ORDER BY serial, seq LIMIT $4"),
                after, q.key, q.actor, limit);
          } else if (!q.key.empty()) {
            res = w.exec_params(absl::StrCat(kCols,
                                             "WHERE serial > $1 AND key = $2 "
                                             "ORDER BY serial, seq LIMIT $3"),
                                after, q.key, limit);
          } else if (!q.actor.empty()) {
            res = w.exec_params(absl::StrCat(kCols,
                                             "WHERE serial > $1 AND actor = $2 "
                                             "ORDER BY serial, seq LIMIT $3"),
                                after, q.actor, limit);
          } else {
            res = w.exec_params(
                absl::StrCat(kCols,
                             "WHERE serial > $1 ORDER BY serial, seq LIMIT $2"),
                after, limit);
          }
          w.commit();
          return ResultToChanges(res);
        });
  }

  SignatureTable* Signatures() override { return this; }

  // --- SignatureTable ---

  absl::Status PutSignatures(
      const std::vector<StoredSignature>& signatures) override {
    std::vector<const StoredSignature*> rows =
        storage_internal::LastSignatureWins(signatures);
    if (rows.empty()) return absl::OkStatus();
    return Run<bool>("put signatures",
                     [&](pqxx::connection& c) -> absl::StatusOr<bool> {
                       RETURN_IF_ERROR(CheckSchema(c));
                       RETURN_IF_ERROR(PutSignaturesTxn(c, rows));
                       return true;
                     })
        .status();
  }

  absl::StatusOr<uint64_t> ScanSignatures(
      uint64_t after_seq,
      const std::function<void(const StoredSignature&)>& fn) override {
    return Run<uint64_t>(
        "scan signatures",
        [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          // A cursor: the rows stream in bounded batches, never one result
          // of a million rows. The bound is a number, formatted here.
          w.exec(absl::StrCat(
              "DECLARE lufd_signatures NO SCROLL CURSOR FOR "
              "SELECT seq, owner, type_covered, rrset_hash, key_tag, rrsig, "
              "expiration FROM dnssec_signatures WHERE seq > ",
              after_seq, " ORDER BY seq"));
          const std::string fetch =
              absl::StrCat("FETCH ", kFetchRows, " FROM lufd_signatures");
          StoredSignature row;
          uint64_t last = after_seq;
          // Bounded: each round consumes rows of a finite snapshot.
          for (;;) {
            pqxx::result res = w.exec(fetch);
            if (res.empty()) break;
            for (const pqxx::row& r : res) {
              row.seq = r[0].as<uint64_t>();
              pqxx::binarystring owner(r[1]);
              row.owner.assign(reinterpret_cast<const char*>(owner.data()),
                               owner.size());
              row.type_covered = static_cast<uint16_t>(r[2].as<int>());
              row.rrset_hash = static_cast<uint64_t>(r[3].as<int64_t>());
              row.key_tag = static_cast<uint16_t>(r[4].as<int>());
              pqxx::binarystring rrsig(r[5]);
              row.rrsig_rdata.assign(
                  reinterpret_cast<const char*>(rrsig.data()), rrsig.size());
              row.expiration_unix = r[6].as<int64_t>();
              fn(row);
              last = row.seq;
            }
          }
          w.commit();
          return last;
        });
  }

  absl::StatusOr<uint64_t> DeleteSignaturesExpiringBefore(
      int64_t unix_time) override {
    return Run<uint64_t>(
        "delete signatures",
        [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::work w(c);
          pqxx::result res = w.exec_params(
              "DELETE FROM dnssec_signatures WHERE expiration < $1", unix_time);
          w.commit();
          return static_cast<uint64_t>(res.affected_rows());
        });
  }

  absl::StatusOr<std::unique_ptr<SignerLease>> TryAcquireSignerLease()
      override {
    try {
      // Its own connection, never pooled: the lock lives with the session.
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      pqxx::nontransaction w(*conn);
      pqxx::row r =
          w.exec_params1("SELECT pg_try_advisory_lock($1), pg_backend_pid()",
                         kPostgresSignerLeaseKey);
      if (!r[0].as<bool>()) return std::unique_ptr<SignerLease>();
      const int pid = r[1].as<int>();
      w.commit();
      return std::unique_ptr<SignerLease>(
          std::make_unique<PostgresSignerLease>(std::move(conn), pid));
    } catch (...) {
      return MapException("signer lease");
    }
  }

  absl::StatusOr<std::optional<SignerCheckpoint>> ReadSignerCheckpoint()
      override {
    return Run<std::optional<SignerCheckpoint>>(
        "read signer checkpoint",
        [&](pqxx::connection& c)
            -> absl::StatusOr<std::optional<SignerCheckpoint>> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          pqxx::result res = w.exec(
              "SELECT serial, full_pass_unix, signer_keys "
              "FROM signer_checkpoint WHERE id = 1");
          w.commit();
          std::optional<SignerCheckpoint> out;
          if (!res.empty()) {
            out.emplace();
            out->serial = static_cast<uint64_t>(res[0][0].as<int64_t>());
            out->full_pass_unix = res[0][1].as<int64_t>();
            out->keys = std::string(FieldView(res[0][2]));
          }
          return out;
        });
  }

  absl::Status WriteSignerCheckpoint(const SignerCheckpoint& cp) override {
    return Run<bool>(
               "write signer checkpoint",
               [&](pqxx::connection& c) -> absl::StatusOr<bool> {
                 RETURN_IF_ERROR(CheckSchema(c));
                 pqxx::work w(c);
                 w.exec_params(
                     "INSERT INTO signer_checkpoint (id, serial, "
                     "full_pass_unix, signer_keys) VALUES (1, $1, $2, $3) "
                     "ON CONFLICT (id) DO UPDATE SET serial = "
                     "EXCLUDED.serial, full_pass_unix = "
                     "EXCLUDED.full_pass_unix, signer_keys = "
                     "EXCLUDED.signer_keys",
                     static_cast<int64_t>(cp.serial), cp.full_pass_unix,
                     cp.keys);
                 w.commit();
                 return true;
               })
        .status();
  }

  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override {
    return Run<bool>(
               "append denials",
               [&](pqxx::connection& c) -> absl::StatusOr<bool> {
                 RETURN_IF_ERROR(CheckSchema(c));
                 pqxx::work w(c);
                 for (const DenialRecord& d : records) {
                   w.exec_params(
                       "INSERT INTO denials (first_us, last_us, actor, "
                       "subject, peer, method, object, reason, code, count) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                       d.first_unix_micros, d.last_unix_micros, d.actor,
                       d.subject, d.peer, d.method, d.object, d.reason, d.code,
                       static_cast<int64_t>(d.count));
                 }
                 if (max_rows == 0) {
                   w.exec("DELETE FROM denials");
                 } else {
                   // Keeps the newest max_rows rows.
                   w.exec_params(
                       "DELETE FROM denials WHERE id < (SELECT id FROM "
                       "denials ORDER BY id DESC LIMIT 1 OFFSET $1)",
                       static_cast<int64_t>(
                           std::min<uint64_t>(max_rows - 1, INT64_MAX)));
                 }
                 w.commit();
                 return true;
               })
        .status();
  }

  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& q) override {
    return Run<std::vector<DenialRecord>>(
        "read denials",
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<DenialRecord>> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::read_transaction w(c);
          constexpr char kCols[] =
              "SELECT id, first_us, last_us, actor, subject, peer, method, "
              "object, reason, code, count FROM denials ";
          pqxx::result res =
              q.actor.empty()
                  ? w.exec_params(
                        absl::StrCat(kCols, "ORDER BY id DESC LIMIT $1"),
                        static_cast<int64_t>(q.limit))
                  : w.exec_params(absl::StrCat(kCols,
                                               "WHERE actor = $2 ORDER BY id "
                                               "DESC LIMIT $1"),
                                  static_cast<int64_t>(q.limit), q.actor);
          w.commit();
          std::vector<DenialRecord> out;
          for (const pqxx::row& r : res) {
            DenialRecord& d = out.emplace_back();
            d.id = r[0].as<uint64_t>();
            d.first_unix_micros = r[1].as<int64_t>();
            d.last_unix_micros = r[2].as<int64_t>();
            d.actor = r[3].as<std::string>();
            d.subject = r[4].as<std::string>();
            d.peer = r[5].as<std::string>();
            d.method = r[6].as<std::string>();
            d.object = r[7].as<std::string>();
            d.reason = r[8].as<std::string>();
            d.code = r[9].as<int32_t>();
            d.count = r[10].as<uint64_t>();
          }
          return out;
        });
  }

  // One transaction per grant, serialized per identity by a transaction
  // advisory lock (two-int4 keys: a space apart from the bigint keys above),
  // so concurrent instances never grant more than the budget per window.
  absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string& identity,
                                            uint32_t want, uint32_t budget,
                                            absl::Duration window,
                                            absl::Time now) override {
    const int64_t now_us = absl::ToUnixMicros(now);
    const int64_t since_us = absl::ToUnixMicros(now - window);
    return Run<uint32_t>(
        "lease guard budget",
        [&](pqxx::connection& c) -> absl::StatusOr<uint32_t> {
          RETURN_IF_ERROR(CheckSchema(c));
          pqxx::work w(c);
          w.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                        kGuardLeaseLockClass, identity);
          w.exec_params(
              "DELETE FROM guard_leases WHERE identity = $1 AND "
              "granted_at_us <= $2",
              identity, since_us);
          const int64_t granted =
              w.exec_params1(
                   "SELECT COALESCE(SUM(count), 0)::BIGINT FROM guard_leases "
                   "WHERE identity = $1",
                   identity)[0]
                  .as<int64_t>();
          const int64_t left = std::max<int64_t>(0, int64_t{budget} - granted);
          const uint32_t n =
              static_cast<uint32_t>(std::min<int64_t>(int64_t{want}, left));
          if (n > 0) {
            w.exec_params(
                "INSERT INTO guard_leases (identity, granted_at_us, count) "
                "VALUES ($1, $2, $3)",
                identity, now_us, static_cast<int64_t>(n));
          }
          w.commit();
          return n;
        });
  }

  absl::StatusOr<absl::Duration> ReplicationLag() override {
    return Run<absl::Duration>("replication lag", [&](pqxx::connection& c) {
      pqxx::nontransaction w(c);
      const double seconds =
          w.exec1(
               "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
               "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM "
               "pg_last_wal_replay_lsn() THEN 0 "
               "ELSE COALESCE(EXTRACT(EPOCH FROM now() - "
               "pg_last_xact_replay_timestamp()), 0) END::float8")[0]
              .as<double>();
      return absl::StatusOr<absl::Duration>(
          absl::Seconds(seconds < 0 ? 0 : seconds));
    });
  }

  absl::StatusOr<bool> IsReadOnly() override {
    return Run<bool>("is read only", [&](pqxx::connection& c) {
      pqxx::nontransaction w(c);
      return absl::StatusOr<bool>(
          w.exec1("SELECT pg_is_in_recovery()")[0].as<bool>());
    });
  }

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire() {
    {
      absl::MutexLock lock(&pool_mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    try {
      return std::make_unique<pqxx::connection>(conninfo_);
    } catch (...) {
      return MapException("connect");
    }
  }

  void Release(std::unique_ptr<pqxx::connection> c) {
    if (!c->is_open()) return;
    absl::MutexLock lock(&pool_mu_);
    if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(c));
  }

  // Runs `f` on a pooled connection; no exception leaves this function.
  template <typename T, typename F>
  absl::StatusOr<T> Run(absl::string_view what, F&& f) {
    ASSIGN_OR_RETURN(auto c, Acquire());
    absl::StatusOr<T> out;
    bool healthy = true;
    try {
      out = f(*c);
    } catch (...) {
      out = MapException(what);
      // Only an error the server reported leaves the protocol in step (the
      // transaction object has rolled back); anything else may have left the
      // connection mid-COPY or broken, so it is dropped, not pooled.
      healthy = ServerReportedError();
    }
    if (healthy) Release(std::move(c));
    return out;
  }

  static std::vector<MigrationInfo> ReadApplied(pqxx::transaction_base& w) {
    std::vector<MigrationInfo> out;
    auto res = w.exec(
        "SELECT version, name, checksum, applied_at FROM schema_migrations "
        "ORDER BY version");
    for (const pqxx::row& r : res) {
      MigrationInfo m;
      m.version = r[0].as<uint32_t>();
      m.name = r[1].as<std::string>();
      m.checksum = r[2].as<std::string>();
      m.applied_at = r[3].as<std::string>();
      m.applied = true;
      out.push_back(std::move(m));
    }
    return out;
  }

  static std::vector<MigrationInfo> ReadAppliedIfExists(
      pqxx::transaction_base& w) {
    auto t = w.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!t[0].as<bool>()) return {};
    return ReadApplied(w);
  }

  // Throws on database errors (callers run inside Run()).
  absl::Status CheckSchema(pqxx::connection& c) {
    if (schema_ready_.load(std::memory_order_acquire)) return absl::OkStatus();
    std::vector<MigrationInfo> applied;
    {
      pqxx::read_transaction w(c);
      applied = ReadAppliedIfExists(w);
      w.commit();
    }
    ASSIGN_OR_RETURN(auto status, CompareWithApplied(files_, applied));
    for (const MigrationInfo& m : status) {
      if (!m.applied) return NotMigratedError();
    }
    schema_ready_.store(true, std::memory_order_release);
    return absl::OkStatus();
  }

  // The data step of migration kScrubSecretsMigration, inside its
  // transaction: rewrites every credential image of the change log that
  // still carries a TSIG secret (written before Commit redacted them).
  // Throws on database errors (the caller catches).
  static absl::Status ScrubChangeLogSecrets(pqxx::transaction_base& w) {
    pqxx::result res = w.exec_params(
        "SELECT serial, seq, key, before, after FROM change_log "
        "WHERE kind = $1",
        static_cast<int>(lufd::v1::OBJECT_KIND_CREDENTIAL));
    for (const pqxx::row& r : res) {
      const std::string key(FieldView(r[2]));
      std::optional<std::string> images[2];
      for (int i = 0; i < 2; ++i) {
        if (r[3 + i].is_null()) continue;
        pqxx::binarystring bs(r[3 + i]);
        ASSIGN_OR_RETURN(
            images[i],
            storage_internal::ScrubChangeLogBlob(
                absl::string_view(reinterpret_cast<const char*>(bs.data()),
                                  bs.size()),
                key));
      }
      // bytea goes in its hex text form.
      if (images[0].has_value()) {
        w.exec_params(
            "UPDATE change_log SET before = $3::bytea "
            "WHERE serial = $1 AND seq = $2",
            r[0].as<int64_t>(), r[1].as<int64_t>(), ByteaHex(*images[0]));
      }
      if (images[1].has_value()) {
        w.exec_params(
            "UPDATE change_log SET after = $3::bytea "
            "WHERE serial = $1 AND seq = $2",
            r[0].as<int64_t>(), r[1].as<int64_t>(), ByteaHex(*images[1]));
      }
    }
    return absl::OkStatus();
  }

  static uint64_t ReadLatest(pqxx::transaction_base& w) {
    return w.exec1("SELECT latest_serial FROM registry_state WHERE id = 1")[0]
        .as<uint64_t>();
  }

  absl::StatusOr<uint64_t> CommitTxn(pqxx::connection& c,
                                     const CommitRequest& req) {
    RETURN_IF_ERROR(CheckSchema(c));
    pqxx::work w(c);
    if (w.exec1("SELECT pg_is_in_recovery()")[0].as<bool>()) {
      return ReadOnlyStandbyError();
    }
    // Serializes commits across every lufd instance on this database.
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kPostgresCommitLockKey);
    const uint64_t latest =
        w.exec1(
             "SELECT latest_serial FROM registry_state WHERE id = 1 "
             "FOR UPDATE")[0]
            .as<uint64_t>();
    if (req.expected_serial.has_value() && *req.expected_serial != latest) {
      return absl::AbortedError(absl::StrCat(
          "expected serial ", *req.expected_serial, ", store is at ", latest));
    }
    if (req.mutations.empty()) return latest;
    const uint64_t serial = latest + 1;
    const int64_t now = storage_internal::NowMicros();
    const int64_t serial_i = static_cast<int64_t>(serial);

    // A key written twice in one commit: last write wins, which one
    // INSERT .. ON CONFLICT cannot express, so that (rare) case takes the
    // DISTINCT ON path below.
    bool duplicates = false;
    bool any_put = false, any_delete = false;
    for (const Mutation& m : req.mutations) {
      (m.after.has_value() ? any_put : any_delete) = true;
    }
    {
      absl::flat_hash_set<std::pair<int, absl::string_view>> seen;
      seen.reserve(req.mutations.size());
      for (const Mutation& m : req.mutations) {
        if (!seen.insert({static_cast<int>(m.kind), m.key}).second) {
          duplicates = true;
          break;
        }
      }
    }

    {
      // COPY the change log in one stream; bytea goes as "\x<hex>" (the
      // stream escapes the backslash), NULL as a null pointer.
      pqxx::stream_to copy(
          w, "change_log",
          std::vector<std::string>{"serial", "seq", "time_us", "actor",
                                   "client_txn_id", "kind", "key", "deleted",
                                   "before", "after"});
      std::string before, after;
      lufd::v1::RegistryObject scratch;
      for (size_t i = 0; i < req.mutations.size(); ++i) {
        const Mutation& m = req.mutations[i];
        // The log never holds a secret (common.h); the objects rows below
        // are copied from the log, so a redacted one is fixed up after.
        before =
            m.before.has_value()
                ? ByteaHex(storage_internal::SerializeObject(
                      storage_internal::ChangeLogImage(*m.before, &scratch)))
                : std::string();
        after = m.after.has_value()
                    ? ByteaHex(storage_internal::SerializeObject(
                          storage_internal::ChangeLogImage(*m.after, &scratch)))
                    : std::string();
        copy << std::make_tuple(serial_i, static_cast<int64_t>(i), now,
                                req.actor, req.client_txn_id,
                                static_cast<int>(m.kind), m.key,
                                !m.after.has_value(),
                                m.before.has_value() ? before.c_str() : nullptr,
                                m.after.has_value() ? after.c_str() : nullptr);
      }
      copy.complete();
    }

    if (!duplicates && any_put) {
      // UPDATE the keys that exist, then plain-INSERT the rest: measured
      // faster than INSERT .. ON CONFLICT's per-row speculative insertion.
      // No other writer can interleave (we hold the commit lock).
      w.exec_params(
          "UPDATE objects o SET data = l.after, serial = l.serial "
          "FROM change_log l WHERE l.serial = $1 AND NOT l.deleted "
          "AND o.kind = l.kind AND o.key = l.key",
          serial_i);
      w.exec_params(
          "INSERT INTO objects (kind, key, data, serial) "
          "SELECT l.kind, l.key, l.after, l.serial FROM change_log l "
          "WHERE l.serial = $1 AND NOT l.deleted AND NOT EXISTS "
          "(SELECT 1 FROM objects o WHERE o.kind = l.kind AND o.key = l.key)",
          serial_i);
    }
    if (!duplicates && any_delete) {
      w.exec_params(
          "DELETE FROM objects o USING change_log l "
          "WHERE l.serial = $1 AND l.deleted "
          "AND o.kind = l.kind AND o.key = l.key",
          serial_i);
    }
    if (duplicates) {
      w.exec_params(
          "INSERT INTO objects (kind, key, data, serial) "
          "SELECT kind, key, after, serial FROM ("
          " SELECT DISTINCT ON (kind, key) kind, key, after, serial, deleted"
          " FROM change_log WHERE serial = $1 ORDER BY kind, key, seq DESC"
          ") last WHERE NOT deleted "
          "ON CONFLICT (kind, key) DO UPDATE "
          "SET data = EXCLUDED.data, serial = EXCLUDED.serial",
          serial_i);
      w.exec_params(
          "DELETE FROM objects o USING ("
          " SELECT DISTINCT ON (kind, key) kind, key, deleted"
          " FROM change_log WHERE serial = $1 ORDER BY kind, key, seq DESC"
          ") last WHERE last.deleted AND o.kind = last.kind "
          "AND o.key = last.key",
          serial_i);
    }
    // The objects rows were copied from the (redacted) log: put back the
    // secret of every key whose last write carries one. Credentials are
    // few, so one statement each.
    auto carries_secret = [](const Mutation& m) {
      return m.after.has_value() && m.after->has_credential() &&
             !m.after->credential().tsig_secret().empty();
    };
    absl::flat_hash_map<std::pair<int, absl::string_view>, size_t> last_write;
    for (const Mutation& m : req.mutations) {
      if (carries_secret(m)) last_write[{static_cast<int>(m.kind), m.key}] = 0;
    }
    if (!last_write.empty()) {
      for (size_t i = 0; i < req.mutations.size(); ++i) {
        const Mutation& m = req.mutations[i];
        auto it = last_write.find({static_cast<int>(m.kind), m.key});
        if (it != last_write.end()) it->second = i;
      }
      for (const auto& [k, i] : last_write) {
        const Mutation& m = req.mutations[i];
        if (!carries_secret(m)) continue;  // A later write decided.
        w.exec_params(
            "UPDATE objects SET data = $3::bytea WHERE kind = $1 AND key = $2",
            k.first, m.key,
            ByteaHex(storage_internal::SerializeObject(*m.after)));
      }
    }
    w.exec_params("UPDATE registry_state SET latest_serial = $1 WHERE id = 1",
                  serial_i);
    w.commit();
    return serial;
  }

  // Throws on database errors (callers run inside Run()). COPY into a
  // temporary table, then one INSERT .. ON CONFLICT: a few round trips for
  // any number of rows (duplicates were removed by LastSignatureWins, so no
  // row is hit twice by the upsert).
  absl::Status PutSignaturesTxn(
      pqxx::connection& c, const std::vector<const StoredSignature*>& rows) {
    pqxx::work w(c);
    if (w.exec1("SELECT pg_is_in_recovery()")[0].as<bool>()) {
      return ReadOnlyStandbyError();
    }
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kSignaturesPutLockKey);
    w.exec(
        "CREATE TEMP TABLE lufd_signature_load (owner BYTEA, type_covered "
        "INTEGER, rrset_hash BIGINT, key_tag INTEGER, rrsig BYTEA, "
        "expiration BIGINT) ON COMMIT DROP");
    {
      pqxx::stream_to copy(
          w, "lufd_signature_load",
          std::vector<std::string>{"owner", "type_covered", "rrset_hash",
                                   "key_tag", "rrsig", "expiration"});
      for (const StoredSignature* row : rows) {
        copy << std::make_tuple(
            ByteaHex(row->owner), static_cast<int>(row->type_covered),
            static_cast<int64_t>(row->rrset_hash),
            static_cast<int>(row->key_tag), ByteaHex(row->rrsig_rdata),
            row->expiration_unix);
      }
      copy.complete();
    }
    w.exec(
        "INSERT INTO dnssec_signatures (owner, type_covered, rrset_hash, "
        "key_tag, rrsig, expiration, seq) "
        "SELECT owner, type_covered, rrset_hash, key_tag, rrsig, expiration, "
        "nextval('dnssec_signatures_seq_gen') FROM lufd_signature_load "
        "ON CONFLICT (owner, type_covered, rrset_hash, key_tag) DO UPDATE "
        "SET rrsig = EXCLUDED.rrsig, expiration = EXCLUDED.expiration, "
        "seq = EXCLUDED.seq");
    w.commit();
    return absl::OkStatus();
  }

  const std::string conninfo_;
  std::vector<MigrationFile> files_;
  std::atomic<bool> schema_ready_{false};

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_
      ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(
    absl::string_view conninfo) {
  auto store = std::make_unique<PostgresStore>(std::string(conninfo));
  RETURN_IF_ERROR(store->Init());
  return store;
}

}  // namespace lufd
