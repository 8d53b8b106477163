// WriteRouter: see write_router.h.
#include "storage/write_router.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace lufd {

std::optional<std::string> PrimaryEndpointOf(const absl::Status& status) {
  absl::optional<absl::Cord> p = status.GetPayload(kPrimaryEndpointUrl);
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

WriteRouter::WriteRouter(Store* local, Opener open_primary, Options options)
    : local_(local),
      open_primary_(std::move(open_primary)),
      options_(std::move(options)) {}

absl::Status WriteRouter::Refusal() const {
  if (options_.primary_endpoint.empty()) {
    return absl::FailedPreconditionError(
        "store is a read-only standby and no store.primary_url is set; send "
        "writes to the primary's lufd (grpc.primary_endpoint is not set "
        "either)");
  }
  absl::Status s = absl::FailedPreconditionError(absl::StrCat(
      "store is a read-only standby; send writes to the primary's lufd at ",
      options_.primary_endpoint, " (grpc.primary_endpoint)"));
  s.SetPayload(kPrimaryEndpointUrl, absl::Cord(options_.primary_endpoint));
  return s;
}

bool WriteRouter::local_read_only() const {
  absl::MutexLock lock(&mu_);
  return read_only_;
}

bool WriteRouter::LocalReadOnlyLocked(absl::Time now) {
  // A writable local store is not asked again: a commit there that finds
  // it read-only (a demoted primary) tells Report.
  const bool due =
      !checked_ || recheck_now_ ||
      (read_only_ && now - checked_at_ >= options_.recheck_interval);
  if (!due) return read_only_;
  absl::StatusOr<bool> ro = local_->IsReadOnly();
  checked_at_ = now;
  recheck_now_ = false;
  if (!ro.ok()) {
    // The local database is unreachable: keep the last answer (unknown =
    // writable; the commit itself will fail with the real error).
    return read_only_;
  }
  if (checked_ && read_only_ && !*ro) {
    spdlog::warn(
        "store: the local database accepts writes now (promoted); writes, "
        "the signer lease and the guard's shared budget go to it");
  } else if (*ro && (!checked_ || !read_only_)) {
    spdlog::warn("store: the local database is a read-only standby; writes {}",
                 open_primary_ ? "are forwarded to store.primary_url"
                               : "are refused (no store.primary_url)");
  }
  checked_ = true;
  read_only_ = *ro;
  return read_only_;
}

absl::StatusOr<Store*> WriteRouter::ForWrite() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock();
  switch (Decide(LocalReadOnlyLocked(now), has_primary())) {
    case Target::kLocal:
      return local_;
    case Target::kRefuse:
      return Refusal();
    case Target::kPrimary:
      break;
  }
  if (primary_ == nullptr) {
    if (now < next_open_) return open_error_;
    absl::StatusOr<std::unique_ptr<Store>> opened = open_primary_();
    if (!opened.ok()) {
      next_open_ = now + options_.reopen_interval;
      open_error_ = absl::UnavailableError(
          absl::StrCat("store is a read-only standby and the primary "
                       "(store.primary_url) cannot be reached: ",
                       opened.status().message()));
      return open_error_;
    }
    primary_ = *std::move(opened);
    spdlog::info("store: writes are forwarded to store.primary_url ({})",
                 primary_->Backend());
  }
  return primary_.get();
}

void WriteRouter::Report(Store* store, const absl::Status& status) {
  if (status.ok()) return;
  absl::MutexLock lock(&mu_);
  if (store == local_) {
    if (IsReadOnlyStoreError(status)) {
      if (!read_only_) {
        spdlog::warn("store: the local database became a read-only standby");
      }
      checked_ = true;
      read_only_ = true;
      checked_at_ = options_.clock();
    }
    return;
  }
  // The primary failed (down, or demoted itself): the local store may have
  // been promoted in the meantime; ask it on the next write.
  recheck_now_ = true;
}

}  // namespace lufd
