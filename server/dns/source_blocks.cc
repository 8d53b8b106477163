#include "server/dns/source_blocks.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace lufd::dns {
namespace {

std::atomic<uint64_t> next_id{1};

}  // namespace

// A thread's copy of one SourceBlocks' list (the last one it asked: in
// lufd there is one). The entries are shared, so counts land in the list.
struct SourceBlocks::ThreadCopy {
  uint64_t owner = 0;
  uint64_t version = 0;
  absl::Time refreshed = absl::InfinitePast();
  Map entries;
};

SourceBlocks::SourceBlocks(int v4_bits, int v6_bits, DenialRecorder* denials)
    : v4_bits_(v4_bits),
      v6_bits_(v6_bits),
      denials_(denials),
      id_(next_id.fetch_add(1)) {}

SourceBlocks::~SourceBlocks() {
  absl::MutexLock lock(&mu_);
  for (auto& [prefix, entry] : entries_) RecordDrops(*entry, absl::Now());
}

SourceBlocks::Prefix SourceBlocks::PrefixOf(const ClientAddress& client) const {
  Prefix p;
  p.size = client.size;
  MaskAddress(client.bytes, client.size, client.size == 4 ? v4_bits_ : v6_bits_,
              p.bytes);
  return p;
}

void SourceBlocks::Block(const ClientAddress& client, absl::Time until,
                         const GuardKey& key, absl::Time now) {
  if (client.size == 0 || until <= now) return;
  const Prefix prefix = PrefixOf(client);
  const int64_t until_micros = absl::ToUnixMicros(until);
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(prefix); it != entries_.end()) {
    std::atomic<int64_t>& u = it->second->until_micros;
    if (u.load(std::memory_order_relaxed) < until_micros) {
      u.store(until_micros, std::memory_order_relaxed);
    }
    return;
  }
  // Ended blocks leave first (their drops go to the audit), so the bound
  // counts live ones; at most once per second, because when the list is
  // full every refusal of an unlisted blocked prefix comes here.
  if (now >= next_prune_) {
    next_prune_ = now + absl::Seconds(1);
    Prune(now);
  }
  if (entries_.size() >= kMaxEntries) return;
  auto entry = std::make_shared<Entry>();
  entry->until_micros.store(until_micros, std::memory_order_relaxed);
  entry->actor = key.Describe();
  entry->peer = key.id;
  entries_.emplace(prefix, std::move(entry));
  size_.store(entries_.size(), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_release);
}

void SourceBlocks::Prune(absl::Time now) {
  const int64_t now_micros = absl::ToUnixMicros(now);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second->until_micros.load(std::memory_order_relaxed) <=
        now_micros) {
      RecordDrops(*it->second, now);
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  size_.store(entries_.size(), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_release);
}

void SourceBlocks::Lift(const ClientAddress& client, absl::Time now) {
  if (empty() || client.size == 0) return;
  const Prefix prefix = PrefixOf(client);
  // The common case (a prefix that is not listed) takes no lock.
  if (Find(prefix, now) == nullptr) return;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(prefix);
  if (it == entries_.end()) return;
  RecordDrops(*it->second, now);
  entries_.erase(it);
  size_.store(entries_.size(), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_release);
  // This thread sees it at once; the others at their next refresh.
  if (ThreadCopy& copy = ThisThreadCopy(); copy.owner == id_) {
    copy.entries.erase(prefix);
  }
}

SourceBlocks::ThreadCopy& SourceBlocks::ThisThreadCopy() {
  thread_local ThreadCopy copy;
  return copy;
}

SourceBlocks::Entry* SourceBlocks::Find(const Prefix& prefix, absl::Time now) {
  ThreadCopy& copy = ThisThreadCopy();
  const uint64_t version = version_.load(std::memory_order_acquire);
  if (copy.owner != id_ ||
      (copy.version != version && now - copy.refreshed >= kRefreshInterval)) {
    absl::MutexLock lock(&mu_);
    copy.entries = entries_;
    copy.owner = id_;
    copy.version = version_.load(std::memory_order_relaxed);
    copy.refreshed = now;
  }
  auto it = copy.entries.find(prefix);
  return it == copy.entries.end() ? nullptr : it->second.get();
}

bool SourceBlocks::ShouldDrop(const ClientAddress& client, absl::Time now) {
  if (empty() || client.size == 0) return false;
  Entry* found = Find(PrefixOf(client), now);
  if (found == nullptr) return false;
  Entry& entry = *found;
  if (entry.until_micros.load(std::memory_order_relaxed) <=
      absl::ToUnixMicros(now)) {
    return false;
  }
  if (entry.seen.fetch_add(1, std::memory_order_relaxed) % kPassEvery == 0) {
    // This one goes to the guard; the drops before it go to the audit now,
    // so a long block shows up there while it lasts.
    RecordDrops(entry, now);
    return false;
  }
  entry.unrecorded.fetch_add(1, std::memory_order_relaxed);
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void SourceBlocks::RecordDrops(Entry& entry, absl::Time now) {
  const uint64_t n = entry.unrecorded.exchange(0, std::memory_order_relaxed);
  if (n == 0 || denials_ == nullptr) return;
  DenialRecord record;
  record.actor = entry.actor;
  record.peer = entry.peer;
  record.method = "dns/udp";
  record.reason = "guard: blocked; datagrams dropped before parsing";
  record.code = static_cast<int32_t>(absl::StatusCode::kResourceExhausted);
  record.count = n;
  denials_->Record(std::move(record), now);
}

}  // namespace lufd::dns
