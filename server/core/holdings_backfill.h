// The holdings backfill: the data step that lets a registry written before
// holdings existed keep working under the number-space rule (authz.h).
//
// Registrars may provision TN/range/prefix identifiers only inside their
// registrants' holdings, so a registry upgraded with identifiers and no
// holdings needs them. BackfillHoldings reads one snapshot of the Store
// and, when the registry has number-space identifiers but no holding at
// all, commits in ONE transaction (actor "migration", change-logged like
// every write) a holding for each identifier not already inside a holding
// of its own registrant: outer blocks first, so a registrant's TNs inside
// its own range or prefix need none. An identifier lying inside another
// registrant's block (a hijack that was possible before holdings, or a
// real port) becomes a ported holding and is listed in `review` for an
// admin to confirm or undo. Identifiers that overlap a holding partly
// (holdings nest or are disjoint) get none and are listed in `skipped`.
// Resolution answers exactly as before for laminar data.
//
// Idempotent: once any holding exists it does nothing, so lufd (at start)
// and `lufctl db migrate` both run it. Cost: one pass over the snapshot;
// O(n^2) only in the number of range/prefix identifiers (TNs go through a
// view index). Not thread-safe against itself; safe against concurrent
// writers (the commit expects the snapshot's serial and fails ABORTED
// otherwise, to be retried by the next start).
#ifndef LUFD_SERVER_CORE_HOLDINGS_BACKFILL_H_
#define LUFD_SERVER_CORE_HOLDINGS_BACKFILL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace lufd {

inline constexpr char kBackfillActor[] = "migration";

struct HoldingsBackfill {
  bool ran = false;     // False: holdings existed, or nothing to hold.
  uint64_t serial = 0;  // Of the commit, when one was made.
  size_t created = 0;
  // "<identifier key> of <registrant> lies inside a holding of <other>:
  // made a ported holding", one line per hijack candidate.
  std::vector<std::string> review;
  // Identifiers left without a holding of their own (partial overlaps).
  std::vector<std::string> skipped;
};

absl::StatusOr<HoldingsBackfill> BackfillHoldings(Store* store);

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_HOLDINGS_BACKFILL_H_
