// StandbyStore: a Store that forwards every call to another Store (the
// "database" it is on), which tests may switch at any time, and which can be
// made to behave like a read-only PostgreSQL hot standby of it: reads go
// through, writes fail with ReadOnlyStoreError() and IsReadOnly() is true.
// Two StandbyStores on one MemoryStore are a primary and a standby with no
// replication lag; switching the target to another MemoryStore is a
// database that moved back in time (or diverged). Counts commits and
// IsReadOnly() calls. Thread-safe (the target and flags are atomics; the
// targets must outlive the wrapper). Header-only, tests only.
#ifndef LUFD_TESTS_UNIT_TESTING_STANDBY_STORE_H_
#define LUFD_TESTS_UNIT_TESTING_STANDBY_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.h"

namespace lufd::testing {

class StandbyStore : public Store {
 public:
  StandbyStore(Store* target, bool read_only)
      : target_(target), read_only_(read_only) {}

  void set_target(Store* target) { target_.store(target); }
  void set_read_only(bool read_only) { read_only_.store(read_only); }
  // A database that is down: Commit, LatestSerial, IsReadOnly and
  // LeaseGuardBudget fail with UNAVAILABLE.
  void set_down(bool down) { down_.store(down); }
  int commits() const { return commits_.load(); }
  int read_only_checks() const { return read_only_checks_.load(); }

  std::string Backend() const override { return t()->Backend(); }
  absl::Status Migrate() override {
    if (read_only_) return ReadOnlyStoreError();
    return t()->Migrate();
  }
  absl::StatusOr<std::vector<MigrationInfo>> MigrationStatus() override {
    return t()->MigrationStatus();
  }
  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    if (down_) return Down();
    if (read_only_) return ReadOnlyStoreError();
    ++commits_;
    return t()->Commit(request);
  }
  absl::StatusOr<uint64_t> LatestSerial() override {
    if (down_) return Down();
    return t()->LatestSerial();
  }
  absl::StatusOr<uint64_t> LoadSnapshot(
      const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                               const lufd::v1::RegistryObject&)>& fn) override {
    return t()->LoadSnapshot(fn);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> ReadChanges(
      uint64_t after, uint32_t max) override {
    return t()->ReadChanges(after, max);
  }
  absl::StatusOr<std::vector<lufd::v1::Change>> Audit(
      const AuditQuery& query) override {
    return t()->Audit(query);
  }
  absl::Status AppendDenials(const std::vector<DenialRecord>& records,
                             uint64_t max_rows) override {
    if (read_only_) return ReadOnlyStoreError();
    return t()->AppendDenials(records, max_rows);
  }
  absl::StatusOr<std::vector<DenialRecord>> ReadDenials(
      const DenialQuery& query) override {
    return t()->ReadDenials(query);
  }
  absl::StatusOr<bool> IsReadOnly() override {
    ++read_only_checks_;
    if (down_) return Down();
    return read_only_.load();
  }
  absl::StatusOr<uint32_t> LeaseGuardBudget(const std::string& identity,
                                            uint32_t want, uint32_t budget,
                                            absl::Duration window,
                                            absl::Time now) override {
    if (down_) return Down();
    if (read_only_) return ReadOnlyStoreError();
    return t()->LeaseGuardBudget(identity, want, budget, window, now);
  }
  absl::StatusOr<std::optional<lufd::v1::RegistryObject>> ReadObject(
      lufd::v1::ObjectKind kind, absl::string_view key) override {
    return t()->ReadObject(kind, key);
  }
  SignatureTable* Signatures() override { return t()->Signatures(); }

 private:
  static absl::Status Down() {
    return absl::UnavailableError("server closed the connection");
  }
  Store* t() const { return target_.load(); }
  std::atomic<Store*> target_;
  std::atomic<bool> read_only_;
  std::atomic<bool> down_{false};
  std::atomic<int> commits_{0};
  std::atomic<int> read_only_checks_{0};
};

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_STANDBY_STORE_H_
