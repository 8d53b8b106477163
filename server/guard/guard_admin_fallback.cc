// TEMPORARY (branch `ops` only; drop at merge): minimal stand-ins for the
// Guard's operator API (Explain/Snapshot/Unblock) while branch `core`
// implements them, so lufd links and the admin RPCs can be exercised. They
// see only the public API: Explain knows the counters and the disclosure
// window, Snapshot lists nothing, Unblock lifts nothing.
#include "server/guard/guard.h"

namespace lufd {

std::optional<GuardIdentityStatus> Guard::Explain(const GuardKey& key,
                                                  absl::Time now) const {
  std::optional<GuardCounters> counters = Counters(key);
  if (!counters.has_value()) return std::nullopt;
  GuardIdentityStatus status;
  status.key = key;
  status.counters = *counters;
  status.disclosed_in_window = DisclosedInWindow(key, now);
  return status;
}

std::vector<GuardIdentityStatus> Guard::Snapshot(absl::Time, size_t,
                                                 bool) const {
  return {};
}

bool Guard::Unblock(const GuardKey&, absl::Time) { return false; }

}  // namespace lufd
