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
//  - Authorization: ADMIN may do anything. REGISTRAR may write objects whose
//    registrant is its own org or an org whose registrar_id is its org, and
//    may accept/reject offers made to those orgs; it may not write orgs other
//    than its registrants' (never their registrar_id/roles to escape), nor
//    credentials or DNS keys. PEER may write nothing. Failures are
//    PERMISSION_DENIED with a message that names no other org's data; reading
//    an object the caller may not see is NOT_FOUND.
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
#include "server/core/identity.h"
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd {

// Secrets only admins may read back (today: Credential.tsig_secret, which
// a registrar could otherwise use to sign DNS queries as its peers). Get()
// redacts by itself; every other path that hands objects or change images
// to a caller (List, Export, Audit) must call these.
bool NeedsRedaction(const Identity& reader,
                    const lufd::v1::RegistryObject& object);
void RedactSecrets(const Identity& reader, lufd::v1::RegistryObject* object);
void RedactSecrets(const Identity& reader, lufd::v1::Change* change);

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

  // May the actor read/export this object? (admin: all; registrar: its own
  // and its registrants'; peer: nothing through Admin). Objects handed out
  // must also go through RedactSecrets.
  bool CanRead(const Identity& actor,
               const lufd::v1::RegistryObject& object) const;

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
