// ChangeFollower implementation: one thread that polls Store::ReadChanges
// and publishes RegistryView::Apply results. See follower.h.
#include "server/core/follower.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace lufd {
namespace {

// Entries per ReadChanges call; a full page means "more may be waiting", so
// the thread polls again at once instead of sleeping.
constexpr uint32_t kPageSize = 10000;
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

absl::StatusOr<std::shared_ptr<const RegistryView>> LoadView(Store* store) {
  RegistryView::Builder builder;
  ASSIGN_OR_RETURN(
      uint64_t serial,
      store->LoadSnapshot([&](lufd::v1::ObjectKind kind, absl::string_view key,
                              const lufd::v1::RegistryObject& object) {
        builder.Add(kind, key, object);
      }));
  return std::move(builder).Build(serial);
}

// The change log holds a credential's TSIG secret only as its fingerprint
// (Store::RedactForChangeLog), but the view must hold the secret (DNS
// verifies TSIG with it). Puts it back into each such `after` from the first
// source whose secret has the logged fingerprint: a change earlier in this
// page, the current view (the secret did not change: disable, enable, a new
// description) or the objects table (Store::ReadObject). The result is the
// object exactly as the objects table stored it at that serial. When none
// matches, the secret was rotated again since: the credential stays without
// a secret (no TSIG with it) until that later change, in this page or a
// following one, is applied; never does a view get a secret it did not have.
absl::Status RestoreSecrets(Store* store, const RegistryView& current,
                            std::vector<lufd::v1::Change>* changes) {
  absl::flat_hash_map<std::string, std::string> restored;  // key -> secret
  auto matches = [](const std::string& secret, const std::string& logged) {
    lufd::v1::RegistryObject probe;
    probe.mutable_credential()->set_tsig_secret(secret);
    return RedactForChangeLog(&probe) &&
           probe.credential().tsig_secret_sha256() == logged;
  };
  for (lufd::v1::Change& change : *changes) {
    if (!change.has_after() || !change.after().has_credential()) continue;
    lufd::v1::Credential* cred = change.mutable_after()->mutable_credential();
    if (cred->tsig_secret_sha256().empty() || !cred->tsig_secret().empty()) {
      continue;
    }
    const std::string logged = cred->tsig_secret_sha256();
    std::optional<std::string> secret;
    if (auto it = restored.find(change.key());
        it != restored.end() && matches(it->second, logged)) {
      secret = it->second;
    }
    if (!secret.has_value()) {
      auto seen = current.Get(change.kind(), change.key());
      if (seen.has_value() && seen->has_credential() &&
          matches(seen->credential().tsig_secret(), logged)) {
        secret = seen->credential().tsig_secret();
      }
    }
    if (!secret.has_value()) {
      ASSIGN_OR_RETURN(auto stored,
                       store->ReadObject(change.kind(), change.key()));
      if (stored.has_value() && stored->has_credential() &&
          matches(stored->credential().tsig_secret(), logged)) {
        secret = stored->credential().tsig_secret();
      }
    }
    if (!secret.has_value()) continue;
    cred->set_tsig_secret(*secret);
    cred->clear_tsig_secret_sha256();
    restored[change.key()] = *std::move(secret);
  }
  return absl::OkStatus();
}

}  // namespace

TxnMark MarkOf(const lufd::v1::Change& change) {
  return TxnMark{change.serial(), change.time_unix_micros(), change.actor(),
                 change.client_txn_id()};
}

std::optional<std::string> GapReason(uint64_t view_serial,
                                     uint64_t first_new_serial) {
  if (first_new_serial == view_serial + 1) return std::nullopt;
  return absl::StrCat("the change log goes on at serial ", first_new_serial,
                      " after the view's serial ", view_serial,
                      " (serials are dense)");
}

std::optional<std::string> HistoryReason(uint64_t view_serial,
                                         const std::optional<TxnMark>& applied,
                                         const std::optional<TxnMark>& stored) {
  if (view_serial == 0) return std::nullopt;
  if (!stored.has_value()) {
    return absl::StrCat("the store has no serial ", view_serial,
                        " (the view's): its latest is older");
  }
  if (applied.has_value() && !(*applied == *stored)) {
    return absl::StrCat("the store's transaction at serial ", view_serial,
                        " is not the one the view applied (by ", stored->actor,
                        " instead of ", applied->actor,
                        "): its history diverged");
  }
  return std::nullopt;
}

namespace {

class FollowerImpl final : public ChangeFollower {
 public:
  FollowerImpl(Store* store, ViewHolder* views, absl::Duration poll_interval,
               absl::Duration rewind_check_interval)
      : store_(store),
        views_(views),
        poll_interval_(poll_interval),
        rewind_check_interval_(rewind_check_interval) {
    if (poll_interval_ <= absl::ZeroDuration()) {
      poll_interval_ = absl::Milliseconds(50);
    }
  }

  ~FollowerImpl() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      wake_.Signal();
    }
    if (thread_.joinable()) thread_.join();
  }

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void Nudge() override {
    absl::MutexLock lock(&mu_);
    nudged_ = true;
    wake_.Signal();
  }

  absl::Status health() const override {
    absl::MutexLock lock(&mu_);
    return state_.health;
  }

  FollowerState state() const override {
    absl::MutexLock lock(&mu_);
    return state_;
  }

  const LatencyHistogram& poll_latency() const override {
    return poll_latency_;
  }

  // The snapshot the first view came from: caught up as of `loaded_at`.
  void SetLoaded(uint64_t serial, absl::Time loaded_at) {
    absl::MutexLock lock(&mu_);
    state_.view_serial = serial;
    state_.store_serial = serial;
    state_.caught_up_at = loaded_at;
  }

  uint64_t rewinds() const override { return rewinds_.load(); }

 private:
  void Run() {
    absl::Duration wait = poll_interval_;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        // Bounded wait: wakes on Nudge/stop, or after the poll interval
        // (longer after errors).
        if (!stop_ && !nudged_) wake_.WaitWithTimeout(&mu_, wait);
        if (stop_) return;
        nudged_ = false;
      }
      bool more = false;
      const absl::Time started = absl::Now();
      Progress progress;
      absl::Status status = PollOnce(&more, &progress);
      {
        absl::MutexLock lock(&mu_);
        state_.health = status;
        ++state_.polls;
        if (status.ok()) {
          state_.failing_since = absl::InfinitePast();
          state_.view_serial = progress.view_serial;
          state_.store_serial =
              std::max(progress.store_serial, progress.view_serial);
          if (progress.view_serial >= progress.store_serial) {
            state_.caught_up_at = started;
          }
          if (progress.reloaded) ++state_.reloads;
          if (progress.replication_lag.has_value()) {
            state_.replication_lag = progress.replication_lag;
          }
        } else {
          ++state_.poll_errors;
          if (state_.failing_since == absl::InfinitePast()) {
            state_.failing_since = started;
          }
        }
        if (more && status.ok()) nudged_ = true;  // Drain without sleeping.
      }
      wait = status.ok()
                 ? poll_interval_
                 : std::min(std::max(wait * 2, poll_interval_), kMaxBackoff);
    }
  }

  // What one successful poll saw.
  struct Progress {
    uint64_t view_serial = 0;   // Published (or kept) by the poll.
    uint64_t store_serial = 0;  // The store's latest serial, as seen.
    bool reloaded = false;
    std::optional<absl::Duration> replication_lag;  // When asked this poll.
  };

  // Replaces the view with a fresh snapshot of the store because `why`.
  absl::Status Rebuild(const std::string& why, uint64_t view_serial) {
    spdlog::warn(
        "follower: the store moved back in time ({}); rebuilding the view "
        "(serial {}) from a fresh snapshot",
        why, view_serial);
    auto reloaded = LoadView(store_);
    if (!reloaded.ok()) {
      return absl::Status(reloaded.status().code(),
                          absl::StrCat("rebuilding the view (", why,
                                       "): ", reloaded.status().message()));
    }
    spdlog::warn("follower: view rebuilt at serial {} (was {})",
                 (*reloaded)->serial(), view_serial);
    applied_.reset();  // Learnt again at the next check.
    rewinds_.fetch_add(1);
    views_->Publish(*std::move(reloaded));
    return absl::OkStatus();
  }

  // The periodic half of rewind detection: is the store's transaction at
  // the view's serial still the one the view applied? Sets *rebuilt.
  absl::Status CheckHistory(uint64_t view_serial, bool* rebuilt) {
    if (view_serial == 0) return absl::OkStatus();
    AuditQuery q;
    q.after_serial = view_serial - 1;
    q.limit = 1;
    auto at = store_->Audit(q);
    if (!at.ok()) {
      return absl::Status(at.status().code(),
                          absl::StrCat("reading back serial ", view_serial,
                                       ": ", at.status().message()));
    }
    std::optional<TxnMark> stored;
    if (!at->empty() && (*at)[0].serial() == view_serial) {
      stored = MarkOf((*at)[0]);
    }
    if (std::optional<std::string> why =
            HistoryReason(view_serial, applied_, stored);
        why.has_value()) {
      *rebuilt = true;
      return Rebuild(*why, view_serial);
    }
    // A view loaded from a snapshot learns its last transaction here.
    if (!applied_.has_value()) applied_ = stored;
    return absl::OkStatus();
  }

  // After Rebuild(): the poll reports the fresh view as a reload.
  void MarkRebuilt(Progress* progress) {
    progress->view_serial = views_->Current()->serial();
    progress->store_serial = progress->view_serial;
    progress->reloaded = true;
  }

  // Reads one page of changes and publishes the next view. On any error the
  // current view stays published.
  absl::Status PollOnce(bool* more, Progress* progress) {
    std::shared_ptr<const RegistryView> current = views_->Current();
    progress->view_serial = current->serial();
    progress->store_serial = current->serial();
    const absl::Time now = absl::Now();
    if (now >= next_history_check_) {
      next_history_check_ = now + rewind_check_interval_;
      if (asks_replication_lag_) {
        absl::StatusOr<absl::Duration> lag = store_->ReplicationLag();
        if (absl::IsUnimplemented(lag.status())) {
          asks_replication_lag_ = false;  // This store does not replicate.
        } else if (lag.ok()) {
          progress->replication_lag = *lag;
        }
      }
      bool rebuilt = false;
      RETURN_IF_ERROR(CheckHistory(current->serial(), &rebuilt));
      if (rebuilt) {
        MarkRebuilt(progress);
        return absl::OkStatus();
      }
    }
    const absl::Time read_start = absl::Now();
    auto changes = store_->ReadChanges(current->serial(), kPageSize);
    poll_latency_.Observe(absl::Now() - read_start);
    if (!changes.ok()) {
      return absl::Status(
          changes.status().code(),
          absl::StrCat("reading the change log after serial ",
                       current->serial(), ": ", changes.status().message()));
    }
    if (changes->empty()) return absl::OkStatus();
    if (std::optional<std::string> why =
            GapReason(current->serial(), changes->front().serial());
        why.has_value()) {
      RETURN_IF_ERROR(Rebuild(*why, current->serial()));
      MarkRebuilt(progress);
      return absl::OkStatus();
    }
    *more = changes->size() >= kPageSize;
    progress->store_serial = changes->back().serial();
    if (*more) {
      // A backlog: how far behind is worth one more query (the lag metric).
      if (auto latest = store_->LatestSerial(); latest.ok()) {
        progress->store_serial = std::max(progress->store_serial, *latest);
      }
    }
    const TxnMark last = MarkOf(changes->back());
    if (absl::Status st = RestoreSecrets(store_, *current, &*changes);
        !st.ok()) {
      return absl::Status(
          st.code(),
          absl::StrCat("reading a credential's TSIG secret: ", st.message()));
    }
    auto next = current->Apply(*changes);
    if (!next.ok()) {
      // The log and our view disagree (should not happen): rebuild from a
      // snapshot rather than serve a view that can never catch up.
      auto reloaded = LoadView(store_);
      if (!reloaded.ok()) {
        return absl::Status(
            reloaded.status().code(),
            absl::StrCat(
                "applying changes failed (", next.status().message(),
                ") and reloading failed: ", reloaded.status().message()));
      }
      progress->view_serial = (*reloaded)->serial();
      progress->store_serial = progress->view_serial;
      progress->reloaded = true;
      applied_.reset();
      views_->Publish(*std::move(reloaded));
      return absl::OkStatus();
    }
    progress->view_serial = (*next)->serial();
    applied_ = last;
    views_->Publish(*std::move(next));
    return absl::OkStatus();
  }

  Store* const store_;
  ViewHolder* const views_;
  absl::Duration poll_interval_;
  const absl::Duration rewind_check_interval_;
  // Only the follower thread touches these two.
  bool asks_replication_lag_ = true;  // Until the store says it cannot.
  std::optional<TxnMark> applied_;  // The view's last transaction, if known.
  absl::Time next_history_check_ = absl::InfinitePast();
  std::atomic<uint64_t> rewinds_{0};
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;
  FollowerState state_ ABSL_GUARDED_BY(mu_);
  LatencyHistogram poll_latency_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeFollower>> ChangeFollower::Start(
    Store* store, ViewHolder* views, absl::Duration poll_interval,
    absl::Duration rewind_check_interval) {
  if (store == nullptr || views == nullptr) {
    return absl::InvalidArgumentError("follower needs a store and a view");
  }
  const absl::Time load_start = absl::Now();
  ASSIGN_OR_RETURN(auto view, LoadView(store));
  const uint64_t serial = view->serial();
  views->Publish(std::move(view));
  // Building the first view parsed every stored object into temporaries;
  // glibc keeps the freed heap resident unless asked. Returning it here once
  // keeps the steady-state footprint to what the view itself holds.
  malloc_trim(0);
  auto follower = std::make_unique<FollowerImpl>(store, views, poll_interval,
                                                 rewind_check_interval);
  follower->SetLoaded(serial, load_start);
  follower->StartThread();
  return std::unique_ptr<ChangeFollower>(std::move(follower));
}

}  // namespace lufd
