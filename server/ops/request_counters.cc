#include "server/ops/request_counters.h"

#include <algorithm>
#include <utility>

namespace lufd {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

std::atomic<uint64_t> next_id{1};

}  // namespace

const char* DoorName(Door door) { return door == Door::kGrpc ? "grpc" : "dns"; }

const char* IdentityClassName(IdentityClass c) {
  switch (c) {
    case IdentityClass::kPeer:
      return "peer";
    case IdentityClass::kAdmin:
      return "admin";
    case IdentityClass::kAnonymous:
      return "anonymous";
  }
  return "anonymous";
}

IdentityClass ClassifyIdentity(bool anonymous, bool admin) {
  if (anonymous) return IdentityClass::kAnonymous;
  return admin ? IdentityClass::kAdmin : IdentityClass::kPeer;
}

RequestCounters::RequestCounters() : RequestCounters(kMaxOrgs) {}

RequestCounters::RequestCounters(size_t max_orgs)
    : max_orgs_(max_orgs), id_(next_id.fetch_add(1)) {}

RequestCounters::~RequestCounters() = default;

size_t RequestCounters::CodeSlot(absl::StatusCode code) {
  for (size_t i = 0; i < kDenialCodes.size(); ++i) {
    if (kDenialCodes[i] == code) return i;
  }
  return kDenialCodes.size();
}

std::string RequestCounters::CodeLabel(size_t i) {
  if (i >= kDenialCodes.size()) return "OTHER";
  return absl::StatusCodeToString(kDenialCodes[i]);
}

RequestCounters::OrgSlot* RequestCounters::SlotFor(absl::string_view org) {
  // Peers send their queries in runs: the last org this thread counted for
  // is found without a lock. `id_` tells instances apart (tests run several
  // servers in one process).
  struct Last {
    uint64_t owner = 0;
    std::string org;
    OrgSlot* slot = nullptr;
  };
  thread_local Last last;
  if (last.owner == id_ && last.org == org) return last.slot;
  OrgSlot* slot = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = orgs_.find(org); it != orgs_.end()) slot = it->second.get();
  }
  if (slot == nullptr) {
    absl::MutexLock lock(&mu_);
    if (auto it = orgs_.find(org); it != orgs_.end()) {
      slot = it->second.get();
    } else if (orgs_.size() < max_orgs_) {
      auto made = std::make_unique<OrgSlot>();
      slot = made.get();
      orgs_.emplace(std::string(org), std::move(made));
    } else {
      other_used_.store(true, kRelaxed);
      slot = &other_;
    }
  }
  last.owner = id_;
  last.org.assign(org.data(), org.size());
  last.slot = slot;
  return slot;
}

void RequestCounters::Lookup(Door door, IdentityClass c, absl::string_view org,
                             bool hit) {
  const size_t d = static_cast<size_t>(door);
  ClassSlot& slot = classes_[d][static_cast<size_t>(c)];
  slot.lookups.fetch_add(1, kRelaxed);
  if (!hit) slot.misses.fetch_add(1, kRelaxed);
  if (c != IdentityClass::kPeer || org.empty()) return;
  OrgSlot* o = SlotFor(org);
  o->lookups[d].fetch_add(1, kRelaxed);
  if (!hit) o->misses[d].fetch_add(1, kRelaxed);
}

void RequestCounters::Denial(Door door, IdentityClass c, absl::string_view org,
                             absl::StatusCode code) {
  const size_t d = static_cast<size_t>(door);
  classes_[d][static_cast<size_t>(c)].denials[CodeSlot(code)].fetch_add(
      1, kRelaxed);
  if (c != IdentityClass::kPeer || org.empty()) return;
  SlotFor(org)->denials[d].fetch_add(1, kRelaxed);
}

void RequestCounters::Block(IdentityClass c, absl::string_view org) {
  blocks_[static_cast<size_t>(c)].fetch_add(1, kRelaxed);
  if (c != IdentityClass::kPeer || org.empty()) return;
  SlotFor(org)->blocks.fetch_add(1, kRelaxed);
}

RequestCounters::Snapshot RequestCounters::Read() const {
  Snapshot out;
  for (size_t d = 0; d < kDoorCount; ++d) {
    for (size_t c = 0; c < kIdentityClassCount; ++c) {
      const ClassSlot& from = classes_[d][c];
      ClassCounts& to = out.by_class[d][c];
      to.lookups = from.lookups.load(kRelaxed);
      to.misses = from.misses.load(kRelaxed);
      for (size_t i = 0; i < kCodeSlots; ++i) {
        to.denials[i] = from.denials[i].load(kRelaxed);
      }
    }
  }
  for (size_t c = 0; c < kIdentityClassCount; ++c) {
    out.blocks[c] = blocks_[c].load(kRelaxed);
  }
  auto copy = [](absl::string_view name, const OrgSlot& from) {
    OrgCounts to;
    to.org = std::string(name);
    for (size_t d = 0; d < kDoorCount; ++d) {
      to.lookups[d] = from.lookups[d].load(kRelaxed);
      to.misses[d] = from.misses[d].load(kRelaxed);
      to.denials[d] = from.denials[d].load(kRelaxed);
    }
    to.blocks = from.blocks.load(kRelaxed);
    return to;
  };
  {
    absl::ReaderMutexLock lock(&mu_);
    out.orgs.reserve(orgs_.size() + 1);
    for (const auto& [name, slot] : orgs_)
      out.orgs.push_back(copy(name, *slot));
  }
  std::sort(
      out.orgs.begin(), out.orgs.end(),
      [](const OrgCounts& a, const OrgCounts& b) { return a.org < b.org; });
  if (other_used_.load(kRelaxed)) out.orgs.push_back(copy(kOtherOrg, other_));
  return out;
}

}  // namespace lufd
