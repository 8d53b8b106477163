// A Registry on a "memory:" Store with a live ChangeFollower, the write
// path that unit tests provision through. Header-only so that every unit
// test binary can use it without another library target.
#ifndef LUFD_TESTS_UNIT_TESTING_MEMORY_REGISTRY_H_
#define LUFD_TESTS_UNIT_TESTING_MEMORY_REGISTRY_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/follower.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd::testing {

// Members are declared in dependency order so that the default destruction
// (registry, follower, views, store) never leaves one pointing at a dead
// other.
struct MemoryRegistry {
  // The poll interval is an hour so that every read-your-writes in a test
  // comes from the registry's nudge, not from polling luck.
  absl::Status Open() {
    auto opened = Store::Open("memory:");
    if (!opened.ok()) return opened.status();
    store = *std::move(opened);
    auto started = ChangeFollower::Start(store.get(), &views, absl::Hours(1));
    if (!started.ok()) return started.status();
    follower = *std::move(started);
    registry = std::make_unique<Registry>(store.get(), &views,
                                          [this] { follower->Nudge(); });
    return absl::OkStatus();
  }

  // For fixtures that must be done with the store before TearDown returns
  // (e.g. before removing files that outlive it); same order as destruction.
  void Close() {
    registry.reset();
    follower.reset();
    store.reset();
  }

  std::unique_ptr<Store> store;
  ViewHolder views;
  std::unique_ptr<ChangeFollower> follower;
  std::unique_ptr<Registry> registry;
};

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_MEMORY_REGISTRY_H_
