#include "server/core/denial_audit.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/denial.h"

namespace lufd {
namespace {

// At most kMaxFieldBytes of `s`, cut at a UTF-8 boundary, with control
// bytes replaced: these strings come from callers and end up in a table an
// admin reads on a terminal.
std::string Clip(absl::string_view s) {
  size_t end = s.size();
  if (end > kMaxFieldBytes) {
    end = kMaxFieldBytes;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
      --end;
    }
  }
  std::string out(s.substr(0, end));
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (end < s.size()) out += "...";
  return out;
}

constexpr absl::string_view kSep("\0", 1);

std::string AggregationKey(const DenialRecord& d) {
  return absl::StrCat(d.actor, kSep, d.subject, kSep, d.peer, kSep, d.method,
                      kSep, d.object, kSep, d.reason, kSep, d.code);
}

}  // namespace

bool IsDenial(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

absl::Status WithDenialActor(absl::Status refusal, absl::string_view actor,
                             absl::string_view subject) {
  if (refusal.ok()) return refusal;
  refusal.SetPayload(kDenialActorUrl, absl::Cord(actor));
  if (!subject.empty())
    refusal.SetPayload(kDenialSubjectUrl, absl::Cord(subject));
  return refusal;
}

absl::Status WithDenialObject(absl::Status refusal, absl::string_view object) {
  if (!refusal.ok()) refusal.SetPayload(kDenialObjectUrl, absl::Cord(object));
  return refusal;
}

std::optional<std::string> DenialPayload(const absl::Status& status,
                                         absl::string_view url) {
  absl::optional<absl::Cord> p = status.GetPayload(url);
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

DenialRecord MakeDenialRecord(const absl::Status& status,
                              absl::string_view actor, absl::string_view peer,
                              absl::string_view method) {
  DenialRecord d;
  d.actor =
      actor.empty()
          ? DenialPayload(status, kDenialActorUrl).value_or("unauthenticated")
          : std::string(actor);
  d.subject = DenialPayload(status, kDenialSubjectUrl).value_or("");
  d.peer = PeerWithoutPort(peer);
  d.method = std::string(method);
  d.object = DenialPayload(status, kDenialObjectUrl).value_or("");
  d.reason = DenialReason(status).value_or(std::string(status.message()));
  d.code = static_cast<int32_t>(status.code());
  return d;
}

std::string PeerWithoutPort(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  const size_t bracket = peer.rfind(']');
  // "ipv4:1.2.3.4:5" has two colons; "unix:/path" one (keep it whole).
  if (colon == absl::string_view::npos || peer.find(':') == colon ||
      (bracket != absl::string_view::npos && colon < bracket)) {
    return std::string(peer);
  }
  return std::string(peer.substr(0, colon));
}

DenialRecorder::DenialRecorder(Store* store, Options options)
    : store_(store), options_(options), memory_(*Store::Open("memory:")) {
  memory_only_ = store_ == nullptr;
  if (store_ != nullptr) {
    absl::StatusOr<bool> read_only = store_->IsReadOnly();
    memory_only_ = read_only.ok() && *read_only;
  }
  if (options_.background_flush) thread_ = std::thread([this] { Loop(); });
}

DenialRecorder::~DenialRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  Flush().IgnoreError();  // Best effort; the process is going away.
}

void DenialRecorder::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.flush_interval);
    if (stop_) break;
    mu_.Unlock();
    // A failed flush is counted (stats) and retried at the next interval.
    Flush().IgnoreError();
    mu_.Lock();
  }
}

void DenialRecorder::Record(DenialRecord d, absl::Time now) {
  d.actor = Clip(d.actor);
  d.subject = Clip(d.subject);
  d.peer = Clip(d.peer);
  d.method = Clip(d.method);
  d.object = Clip(d.object);
  d.reason = Clip(d.reason);
  d.first_unix_micros = d.last_unix_micros = absl::ToUnixMicros(now);
  d.count = std::max<uint64_t>(d.count, 1);
  absl::MutexLock lock(&mu_);
  stats_.recorded += d.count;
  MergeLocked(std::move(d));
}

void DenialRecorder::MergeLocked(DenialRecord d) {
  std::string key = AggregationKey(d);
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    DenialRecord& e = it->second;
    e.count += d.count;
    e.first_unix_micros = std::min(e.first_unix_micros, d.first_unix_micros);
    e.last_unix_micros = std::max(e.last_unix_micros, d.last_unix_micros);
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    if (dropped_ == 0) dropped_first_us_ = d.first_unix_micros;
    dropped_ += d.count;
    dropped_last_us_ = std::max(dropped_last_us_, d.last_unix_micros);
    stats_.not_itemized += d.count;
    return;
  }
  pending_.emplace(std::move(key), std::move(d));
}

absl::Status DenialRecorder::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<DenialRecord> rows;
  bool memory_only;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty() && dropped_ == 0) return absl::OkStatus();
    rows.reserve(pending_.size() + 1);
    for (auto& [key, d] : pending_) rows.push_back(std::move(d));
    pending_.clear();
    if (dropped_ > 0) {
      DenialRecord summary;
      summary.first_unix_micros = dropped_first_us_;
      summary.last_unix_micros = dropped_last_us_;
      summary.actor = "*";
      summary.method = "*";
      summary.reason = absl::StrCat(
          dropped_, " denials not itemized: more than ", options_.max_pending,
          " distinct denials in one flush window");
      summary.count = dropped_;
      rows.push_back(std::move(summary));
      dropped_ = 0;
      dropped_first_us_ = dropped_last_us_ = 0;
    }
    memory_only = memory_only_;
  }
  // Oldest first, so ids follow time.
  std::sort(rows.begin(), rows.end(),
            [](const DenialRecord& a, const DenialRecord& b) {
              return a.first_unix_micros < b.first_unix_micros;
            });
  absl::Status status = (memory_only ? memory_.get() : store_)
                            ->AppendDenials(rows, options_.max_rows);
  if (absl::IsFailedPrecondition(status) && !memory_only) {
    // The database turned out to be (or became) a standby: keep the audit
    // in memory from now on.
    status = memory_->AppendDenials(rows, options_.max_rows);
    absl::MutexLock lock(&mu_);
    memory_only_ = true;
    ++stats_.flush_failures;
  }
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    stats_.rows_flushed += rows.size();
    return status;
  }
  ++stats_.flush_failures;
  // Try again at the next flush, still bounded by max_pending.
  for (DenialRecord& d : rows) {
    if (d.method == "*" && d.code == 0) {
      if (dropped_ == 0) dropped_first_us_ = d.first_unix_micros;
      dropped_ += d.count;
      dropped_last_us_ = std::max(dropped_last_us_, d.last_unix_micros);
      continue;
    }
    MergeLocked(std::move(d));
  }
  return status;
}

absl::StatusOr<std::vector<DenialRecord>> DenialRecorder::List(
    const DenialQuery& query) {
  absl::Status flushed = Flush();
  if (memory_only()) return memory_->ReadDenials(query);
  if (!flushed.ok()) return flushed;
  return store_->ReadDenials(query);
}

bool DenialRecorder::memory_only() const {
  absl::MutexLock lock(&mu_);
  return memory_only_;
}

DenialRecorder::Stats DenialRecorder::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace lufd
