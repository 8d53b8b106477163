// MemoryStore: the Store seam kept in process memory ("memory:").
//
// Same semantics as the SQL backends (serials, expected_serial checks,
// all-or-nothing commits, whole-transaction change paging, audit filters), so
// unit tests of everything above the seam run fast and without files. It has
// no schema: it is born migrated, Migrate() is a no-op and MigrationStatus()
// lists nothing. Data lives as long as the object. It is its own
// SignatureTable (Signatures() returns this).
// Thread-safety: every method may be called concurrently; one mutex guards
// all state. LoadSnapshot calls `fn` with the mutex held, so `fn` must not
// call back into the store.
#ifndef LUFD_STORAGE_MEMORY_MEMORY_STORE_H_
#define LUFD_STORAGE_MEMORY_MEMORY_STORE_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/signature_table.h"
#include "storage/store.h"

namespace lufd {

class MemoryStore : public Store, public SignatureTable {
 public:
  MemoryStore() = default;

  std::string Backend() const override { return "memory"; }
  absl::Status Migrate() override;
  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override;
  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override;
  absl::StatusOr<uint64_t> LatestSerial() override;
  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view key,
                               const lufd::v1::RegistryObject&)>& fn) override;
  absl::StatusOr<std::vector<lufd::v1::Change>> ReadChanges(
      uint64_t after_serial, uint32_t max_changes) override;
  absl::StatusOr<std::vector<lufd::v1::Change>> Audit(
      const AuditQuery& query) override;
  absl::StatusOr<bool> IsReadOnly() override { return read_only_.load(); }
  // Tests: behave like a PostgreSQL hot standby (true) or a primary: while
  // read-only, every write fails with ReadOnlyStoreError(); reads and the
  // signer lease work (advisory locks work on a standby too).
  void SetReadOnlyForTest(bool read_only) { read_only_.store(read_only); }
  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override;
  SignatureTable* Signatures() override { return this; }
  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override;
  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& query) override;
  absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string& identity,
                                            uint32_t want, uint32_t budget,
                                            absl::Duration window,
                                            absl::Time now) override;

  // SignatureTable.
  absl::Status PutSignatures(
      const std::vector<StoredSignature>& signatures) override;
  absl::StatusOr<uint64_t> ScanSignatures(
      uint64_t after_seq,
      const std::function<void(const StoredSignature&)>& fn) override;
  absl::StatusOr<uint64_t> DeleteSignaturesExpiringBefore(
      int64_t unix_time) override;
  // One lease per MemoryStore object (each is its own database).
  absl::StatusOr<std::unique_ptr<SignerLease>> TryAcquireSignerLease() override;
  absl::StatusOr<std::optional<SignerCheckpoint>> ReadSignerCheckpoint()
      override;
  absl::Status WriteSignerCheckpoint(
      const SignerCheckpoint& checkpoint) override;

 private:
  std::atomic<bool> read_only_{false};
  using SignatureKey = std::tuple<std::string, uint16_t, uint64_t, uint16_t>;

  using ObjectKey = std::pair<int, std::string>;

  mutable absl::Mutex mu_;
  uint64_t latest_serial_ ABSL_GUARDED_BY(mu_) = 0;
  // Ordered like the SQL primary key, so snapshots iterate the same way.
  absl::btree_map<ObjectKey, lufd::v1::RegistryObject> objects_
      ABSL_GUARDED_BY(mu_);
  // In (serial, seq) order by construction.
  std::vector<lufd::v1::Change> log_ ABSL_GUARDED_BY(mu_);
  // Signatures by seq (the scan order), and each row's seq by identity.
  absl::btree_map<uint64_t, StoredSignature> signatures_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<SignatureKey, uint64_t> signature_seq_ ABSL_GUARDED_BY(mu_);
  uint64_t last_signature_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<SignerCheckpoint> checkpoint_ ABSL_GUARDED_BY(mu_);
  // The denial table, oldest first.
  std::deque<DenialRecord> denials_ ABSL_GUARDED_BY(mu_);
  uint64_t last_denial_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Guard budget grants per identity, oldest first: (when, count).
  absl::flat_hash_map<std::string, std::deque<std::pair<absl::Time, uint32_t>>>
      guard_grants_ ABSL_GUARDED_BY(mu_);
  // Names this store's signer lease (addresses may be reused).
  const uint64_t instance_id_ = NextInstanceId();
  static uint64_t NextInstanceId();
};

}  // namespace lufd

#endif  // LUFD_STORAGE_MEMORY_MEMORY_STORE_H_
