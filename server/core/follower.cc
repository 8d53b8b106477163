// ChangeFollower implementation: one thread that polls Store::ReadChanges
// and publishes RegistryView::Apply results. See follower.h.
#include "server/core/follower.h"

#include <malloc.h>

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

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

class FollowerImpl final : public ChangeFollower {
 public:
  FollowerImpl(Store* store, ViewHolder* views, absl::Duration poll_interval)
      : store_(store), views_(views), poll_interval_(poll_interval) {
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
    return health_;
  }

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
      absl::Status status = PollOnce(&more);
      {
        absl::MutexLock lock(&mu_);
        health_ = status;
        if (more && status.ok()) nudged_ = true;  // Drain without sleeping.
      }
      wait = status.ok()
                 ? poll_interval_
                 : std::min(std::max(wait * 2, poll_interval_), kMaxBackoff);
    }
  }

  // Reads one page of changes and publishes the next view. On any error the
  // current view stays published.
  absl::Status PollOnce(bool* more) {
    std::shared_ptr<const RegistryView> current = views_->Current();
    auto changes = store_->ReadChanges(current->serial(), kPageSize);
    if (!changes.ok()) {
      return absl::Status(
          changes.status().code(),
          absl::StrCat("reading the change log after serial ",
                       current->serial(), ": ", changes.status().message()));
    }
    if (changes->empty()) return absl::OkStatus();
    *more = changes->size() >= kPageSize;
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
      views_->Publish(*std::move(reloaded));
      return absl::OkStatus();
    }
    views_->Publish(*std::move(next));
    return absl::OkStatus();
  }

  Store* const store_;
  ViewHolder* const views_;
  absl::Duration poll_interval_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status health_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<ChangeFollower>> ChangeFollower::Start(
    Store* store, ViewHolder* views, absl::Duration poll_interval) {
  if (store == nullptr || views == nullptr) {
    return absl::InvalidArgumentError("follower needs a store and a view");
  }
  ASSIGN_OR_RETURN(auto view, LoadView(store));
  views->Publish(std::move(view));
  // Building the first view parsed every stored object into temporaries;
  // glibc keeps the freed heap resident unless asked. Returning it here once
  // keeps the steady-state footprint to what the view itself holds.
  malloc_trim(0);
  auto follower = std::make_unique<FollowerImpl>(store, views, poll_interval);
  follower->StartThread();
  return std::unique_ptr<ChangeFollower>(std::move(follower));
}

}  // namespace lufd
