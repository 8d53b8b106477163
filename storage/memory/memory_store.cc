#include "storage/memory/memory_store.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "storage/common.h"

namespace lufd {

using lufd::v1::Change;
using storage_internal::kDefaultAuditLimit;

absl::Status MemoryStore::Migrate() { return absl::OkStatus(); }

absl::StatusOr<std::vector<MigrationInfo>> MemoryStore::MigrationStatus() {
  return std::vector<MigrationInfo>{};
}

absl::StatusOr<uint64_t> MemoryStore::Commit(const CommitRequest& request) {
  if (read_only_.load()) return ReadOnlyStoreError();
  if (absl::Status s = storage_internal::ValidateRequest(request); !s.ok()) {
    return s;
  }
  // The SQL schemas CHECK these; checking them all before touching state is
  // how this backend stays all-or-nothing.
  for (size_t i = 0; i < request.mutations.size(); ++i) {
    const Mutation& m = request.mutations[i];
    if (static_cast<int>(m.kind) <= 0 || m.key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mutation ", i, ": kind must be set and key non-empty"));
    }
  }
  absl::MutexLock lock(&mu_);
  if (request.expected_serial.has_value() &&
      *request.expected_serial != latest_serial_) {
    return absl::AbortedError(absl::StrCat("expected serial ",
                                           *request.expected_serial,
                                           ", store is at ", latest_serial_));
  }
  if (request.mutations.empty()) return latest_serial_;
  const uint64_t serial = latest_serial_ + 1;
  const int64_t now = storage_internal::NowMicros();
  log_.reserve(log_.size() + request.mutations.size());
  uint32_t seq = 0;
  for (const Mutation& m : request.mutations) {
    Change c;
    c.set_serial(serial);
    c.set_seq(seq++);
    c.set_time_unix_micros(now);
    c.set_actor(request.actor);
    c.set_client_txn_id(request.client_txn_id);
    c.set_kind(m.kind);
    c.set_key(m.key);
    c.set_deleted(!m.after.has_value());
    if (m.before.has_value()) {
      *c.mutable_before() = *m.before;
      RedactForChangeLog(c.mutable_before());
    }
    ObjectKey k(static_cast<int>(m.kind), m.key);
    if (m.after.has_value()) {
      *c.mutable_after() = *m.after;
      RedactForChangeLog(c.mutable_after());
      objects_[k] = *m.after;
    } else {
      objects_.erase(k);
    }
    log_.push_back(std::move(c));
  }
  latest_serial_ = serial;
  return serial;
}

absl::StatusOr<uint64_t> MemoryStore::LatestSerial() {
  absl::MutexLock lock(&mu_);
  return latest_serial_;
}

absl::StatusOr<uint64_t> MemoryStore::LoadSnapshot(
    const std::function<void(lufd::v1::ObjectKind, absl::string_view,
                             const lufd::v1::RegistryObject&)>& fn) {
  absl::MutexLock lock(&mu_);
  for (const auto& [k, obj] : objects_) {
    fn(static_cast<lufd::v1::ObjectKind>(k.first), k.second, obj);
  }
  return latest_serial_;
}

absl::StatusOr<std::optional<lufd::v1::RegistryObject>> MemoryStore::ReadObject(
    lufd::v1::ObjectKind kind, absl::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(ObjectKey(static_cast<int>(kind), std::string(key)));
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<Change>> MemoryStore::ReadChanges(
    uint64_t after_serial, uint32_t max_changes) {
  absl::MutexLock lock(&mu_);
  std::vector<Change> out;
  auto it = std::upper_bound(
      log_.begin(), log_.end(), after_serial,
      [](uint64_t s, const Change& c) { return s < c.serial(); });
  const size_t limit = std::max<uint32_t>(max_changes, 1);
  for (; it != log_.end(); ++it) {
    // Stop at a transaction boundary once the budget is spent.
    if (out.size() >= limit && it->serial() != out.back().serial()) break;
    out.push_back(*it);
  }
  return out;
}

absl::StatusOr<std::vector<Change>> MemoryStore::Audit(
    const AuditQuery& query) {
  absl::MutexLock lock(&mu_);
  std::vector<Change> out;
  const uint32_t limit = query.limit == 0 ? kDefaultAuditLimit : query.limit;
  auto it = std::upper_bound(
      log_.begin(), log_.end(), query.after_serial,
      [](uint64_t s, const Change& c) { return s < c.serial(); });
  for (; it != log_.end() && out.size() < limit; ++it) {
    if (!query.key.empty() && it->key() != query.key) continue;
    if (!query.actor.empty() && it->actor() != query.actor) continue;
    out.push_back(*it);
  }
  return out;
}

absl::Status MemoryStore::PutSignatures(
    const std::vector<StoredSignature>& signatures) {
  if (read_only_.load()) return ReadOnlyStoreError();
  std::vector<const StoredSignature*> rows =
      storage_internal::LastSignatureWins(signatures);
  absl::MutexLock lock(&mu_);
  for (const StoredSignature* row : rows) {
    SignatureKey key(row->owner, row->type_covered, row->rrset_hash,
                     row->key_tag);
    uint64_t& seq = signature_seq_[key];
    if (seq != 0) signatures_.erase(seq);
    seq = ++last_signature_seq_;
    StoredSignature& stored = signatures_[seq];
    stored = *row;
    stored.seq = seq;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemoryStore::ScanSignatures(
    uint64_t after_seq, const std::function<void(const StoredSignature&)>& fn) {
  absl::MutexLock lock(&mu_);
  uint64_t last = after_seq;
  for (auto it = signatures_.upper_bound(after_seq); it != signatures_.end();
       ++it) {
    fn(it->second);
    last = it->first;
  }
  return last;
}

absl::StatusOr<uint64_t> MemoryStore::DeleteSignaturesExpiringBefore(
    int64_t unix_time) {
  if (read_only_.load()) return ReadOnlyStoreError();
  absl::MutexLock lock(&mu_);
  uint64_t deleted = 0;
  for (auto it = signatures_.begin(); it != signatures_.end();) {
    const StoredSignature& s = it->second;
    if (s.expiration_unix >= unix_time) {
      ++it;
      continue;
    }
    signature_seq_.erase(
        SignatureKey(s.owner, s.type_covered, s.rrset_hash, s.key_tag));
    it = signatures_.erase(it);
    ++deleted;
  }
  return deleted;
}

absl::StatusOr<std::unique_ptr<SignerLease>>
MemoryStore::TryAcquireSignerLease() {
  return storage_internal::TryAcquireLocalSignerLease(
      absl::StrCat("memory:", instance_id_));
}

absl::StatusOr<std::optional<SignerCheckpoint>>
MemoryStore::ReadSignerCheckpoint() {
  absl::MutexLock lock(&mu_);
  return checkpoint_;
}

absl::Status MemoryStore::WriteSignerCheckpoint(
    const SignerCheckpoint& checkpoint) {
  if (read_only_.load()) return ReadOnlyStoreError();
  absl::MutexLock lock(&mu_);
  checkpoint_ = checkpoint;
  return absl::OkStatus();
}

absl::Status MemoryStore::AppendDenials(
    const std::vector<DenialRecord>& records, uint64_t max_rows) {
  if (read_only_.load()) return ReadOnlyStoreError();
  absl::MutexLock lock(&mu_);
  for (const DenialRecord& r : records) {
    denials_.push_back(r);
    denials_.back().id = ++last_denial_id_;
  }
  while (denials_.size() > max_rows) denials_.pop_front();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DenialRecord>> MemoryStore::ReadDenials(
    const DenialQuery& query) {
  absl::MutexLock lock(&mu_);
  std::vector<DenialRecord> out;
  for (auto it = denials_.rbegin();
       it != denials_.rend() && out.size() < query.limit; ++it) {
    if (!query.actor.empty() && it->actor != query.actor) continue;
    out.push_back(*it);
  }
  return out;
}

absl::StatusOr<uint32_t> MemoryStore::LeaseGuardBudget(
    const std::string& identity, uint32_t want, uint32_t budget,
    absl::Duration window, absl::Time now) {
  if (read_only_.load()) return ReadOnlyStoreError();
  absl::MutexLock lock(&mu_);
  auto& grants = guard_grants_[identity];
  uint64_t granted = 0;
  while (!grants.empty() && grants.front().first <= now - window) {
    grants.pop_front();
  }
  for (const auto& [when, count] : grants) granted += count;
  const uint32_t n = static_cast<uint32_t>(
      std::min<uint64_t>(want, budget > granted ? budget - granted : 0));
  if (n > 0) grants.emplace_back(now, n);
  if (grants.empty()) guard_grants_.erase(identity);
  return n;
}

uint64_t MemoryStore::NextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace lufd
