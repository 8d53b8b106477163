// Registry: the write path. Validates, authorizes and expands (cascades)
// SPPF operations against the current view, then commits them through the
// Store in one transaction.
//
// Rules:
//  - Add = upsert. Objects are validated/normalized (validate.h) and their
//    references must exist (in the view or earlier in the same batch).
//  - A batch stops at the first failing operation and nothing of it is
//    written (RFC 7878 §7.2.5.1); the error message starts with
//    "operation <index>: ".
//  - Authorization: the rules are authz.h's AccessRules, judged against
//    the batch's view plus its own pending writes. Failures are
//    PERMISSION_DENIED with a message that names no other org's data;
//    reading (or deleting, or referring to) an object the caller may not
//    see is NOT_FOUND. Get redacts secrets (authz.h) by itself.
//  - Delete cascades: org -> its credentials, its registrants' objects,
//    offers to it; destination group -> removed from identifiers and SED
//    groups; SED record -> removed from SED groups; SED group -> its offers.
//  - Non-terminal NAPTRs (no flags) that send clients on into e164.arpa may
//    not form a chain longer than 5 hops or a loop (RFC 6116 §5.1; checked
//    on the whole batch, INVALID_ARGUMENT; see WritePlan::CheckChains for what
//    the check sees).
//  - Offers: putting an Offer creates it PENDING (status in the request is
//    ignored); AcceptOffer/RejectOffer set the status.
//  - Commit uses expected_serial = view serial; on ABORTED it waits for the
//    follower and retries (bounded). After a commit it waits (bounded) until
//    the view reaches the new serial: read-your-writes for the caller.
// Thread-safe.
#ifndef LUFD_SERVER_CORE_REGISTRY_H_
#define LUFD_SERVER_CORE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lufd/v1/admin.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/authz.h"
#include "server/core/identity.h"
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd {

class Registry {
 public:
  // `nudge` (may be empty) is called after each commit so the follower
  // polls at once. Pointers must outlive the Registry.
  Registry(Store* store, ViewHolder* views, std::function<void()> nudge);

  absl::StatusOr<lufd::v1::WriteResponse> Execute(
      const Identity& actor, const std::vector<lufd::v1::Operation>& operations,
      const std::string& client_txn_id);

  // NOT_FOUND if absent or not visible to the actor.
  absl::StatusOr<lufd::v1::RegistryObject> Get(const Identity& actor,
                                               lufd::v1::ObjectKind kind,
                                               const std::string& key) const;

 private:
  Store* store_;
  ViewHolder* views_;
  std::function<void()> nudge_;
  // Serializes this instance's batches (evaluate, commit, wait for the
  // view), so that local writers never conflict with each other; ABORTED
  // retries are left for writers in other processes.
  absl::Mutex write_mu_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_REGISTRY_H_
