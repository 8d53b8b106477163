// Authorization: every rule about who may call, read, write and see what,
// in one place. Callers (the RPC runner, the admin service, the registry's
// write plan, the view's resolution) ask; they hold no rules of their own.
//
// 1. Which role may call which RPC (AuthorizeRpc; the table is authz.cc's
//    kRpcRoles, one row per Lookup/Admin method):
//      Lookup, BatchLookup                          PEER, ADMIN
//      Put, Delete, Batch, Accept/RejectOffer, Get,
//      List, Export, Import, Audit, GetServerInfo   REGISTRAR, ADMIN
//      GenerateDnsKey, RolloverDnsKey, GetDs        ADMIN
//    A method missing from the table is refused (fail closed).
//    gRPC's health and reflection services have their own small table
//    (SideDoorRoleTable): health for every role, reflection for ADMIN.
// 2. Which registry object the caller may read and write (AccessRules):
//    ADMIN may do anything. A REGISTRAR (with an org) "manages" its own org
//    and every org whose registrar_id is its org; it may read and write the
//    registrant-owned objects (identifier, dest group, SED record, SED
//    group) of orgs it manages, read and write offers of SED groups it
//    manages, read (and accept/reject) offers made to orgs it manages, read
//    its own org and its registrants and write only the latter (never their
//    registrar_id, roles or quota), and read but never write the
//    credentials of orgs it manages. Credentials, DNS keys and holdings are
//    written by ADMIN only (a registrar reads its registrants' holdings).
//    PEER reads and writes nothing through Admin.
//    Number space (holdings, registry.proto Holding): a REGISTRAR may put or
//    delete a TN, range or prefix identifier for registrant R only when the
//    innermost holding containing all of it is R's (CheckNumberSpace);
//    ADMIN, the allocating authority, is not limited by holdings.
//    One fixed refusal (no oracle): for anyone but ADMIN, writing, deleting
//    or reading an object the caller may not see or own, or an identifier
//    outside its holdings, fails with PermissionDenied() (same code, same
//    text) whether or not the object exists; the true reason rides along
//    as a denial reason (denial.h). The registry applies that. Residual:
//    ids of orgs, groups, records and RN/URI identifiers are global, so a
//    put of a taken id is refused while a fresh one succeeds.
// 3. Redaction: secrets only admins may read back (Credential.tsig_secret,
//    which would let a registrar sign DNS queries as its peers). Every path
//    that hands an object or a change image to a caller redacts.
// 4. Visibility in resolution (Lookup and DNS answers): a SED group is
//    visible to a viewer when the viewer is ADMIN, the group is public, or
//    (not anonymous) the group is the viewer org's own, or an offer of it to
//    the viewer's org was accepted. SedGroupVisible is inline and allocation
//    free: view.cc calls it on the DNS hot path and caches group answers
//    per (view, thread, viewer class), so visibility may depend on nothing
//    but AppendViewerClass's key.
//
// Rules 2 and 3 judge against the registry state they are given: a
// RegistryView for reads (ViewAccess), or a write batch's view plus its
// pending writes (AccessRules over the batch's ObjectLookup). A caller
// that streams one view must judge against that same view.
// Thread-safety: AccessRules and ViewAccess are per call, single-threaded
// (they cache looked-up objects); the free functions are thread-safe.
#ifndef LUFD_SERVER_CORE_AUTHZ_H_
#define LUFD_SERVER_CORE_AUTHZ_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"
#include "server/core/view.h"

namespace lufd {

// ---- 1. RPC roles ----------------------------------------------------------

// One row of the RPC role table.
struct RpcRule {
  const char* service;  // Full proto service name, "lufd.v1.AdminService".
  const char* method;   // Method name, "Put" (unique across the services).
  bool peer;
  bool registrar;
  bool admin;
};

// The whole table (for tests and docs).
absl::Span<const RpcRule> RpcRoleTable();

// OK when the caller's role may call `method` (a name from the table);
// PERMISSION_DENIED "role ROLE_X may not call this method" otherwise.
absl::Status AuthorizeRpc(const Identity& caller, absl::string_view method);

// The side-door table: gRPC's health (every role) and reflection (ADMIN
// only) methods, which run outside RpcRunner and are judged by SideDoorGuard
// (server/grpc/side_doors.h).
absl::Span<const RpcRule> SideDoorRoleTable();

// OK when the caller's role may call `service`/`method` of the side-door
// table; PERMISSION_DENIED otherwise (also for a method the table lacks).
absl::Status AuthorizeSideDoorRpc(const Identity& caller,
                                  absl::string_view service,
                                  absl::string_view method);

// ---- 2. Object access ------------------------------------------------------

// The registry state the rules consult: orgs (who manages whom) and SED
// groups (who owns an offer's group). Find returns the object as the judged
// state has it, or nullptr; the pointer stays valid while the rules are in
// use (until the object is next written, for a write batch).
class ObjectLookup {
 public:
  virtual const lufd::v1::RegistryObject* Find(lufd::v1::ObjectKind kind,
                                               const std::string& key) = 0;

 protected:
  ~ObjectLookup() = default;
};

// The fixed refusal: PERMISSION_DENIED "permission denied", naming nobody's
// data and the same for every refused write or read.
absl::Status PermissionDenied();
// The fixed refusal with `reason` attached for the denial audit (denial.h).
absl::Status Refused(absl::string_view reason);

// Whether a batch's report may say WHICH of its objects were refused for
// permission. A put over an object someone else owns is refused while a put
// of a new key is not, so for anyone but an admin a per-object list would
// tell which keys exist (up to 1,000 per batch, with nothing written). Only
// the count is reported to them.
inline bool MaySeeWhichWritesAreRefused(const Identity& caller) {
  return caller.role == lufd::v1::ROLE_ADMIN;
}

class AccessRules {
 public:
  // `actor` and `lookup` must outlive the rules.
  AccessRules(const Identity& actor, ObjectLookup* lookup)
      : actor_(actor), lookup_(lookup) {}

  const Identity& actor() const { return actor_; }

  // A registrar credential bound to an org.
  bool IsRegistrar() const;
  // May the actor write at all? (ADMIN or registrar; PEER never.)
  bool MayWrite() const { return actor_.is_admin() || IsRegistrar(); }
  // May the actor act for org `org_id`? ADMIN: any; registrar: its own org
  // and the orgs whose registrar_id is its org.
  bool Manages(const std::string& org_id);

  // Does the actor read every object (so readers need not filter)?
  bool ReadsEverything() const { return actor_.is_admin(); }
  // May the actor read (Get, List, Export, Audit) this object?
  bool CanRead(const lufd::v1::RegistryObject& object);
  // May the actor see this change (one of its images is readable)?
  bool CanReadChange(const lufd::v1::Change& change);
  // Clears the images of a readable change that the actor may not read: a
  // change can cross registrants (a holder replacing a former holder's
  // identifier in its holding), and neither side may read the other's.
  void DropUnreadableImages(lufd::v1::Change* change);
  // May the actor delete this existing object?
  bool CanWrite(const lufd::v1::RegistryObject& existing);
  // May a put of this kind come from the actor at all? (Credentials and DNS
  // keys are ADMIN only.)
  bool MayPutKind(lufd::v1::ObjectKind kind) const;
  // May the actor put this registrant-owned object, over `existing`
  // (nullptr when new)? It must manage both registrants.
  bool CanPutOwned(const lufd::v1::RegistryObject& object,
                   const lufd::v1::RegistryObject* existing);
  // May the actor put this org over `existing` (nullptr when new)? See the
  // header comment: a registrar creates only its own registrants, with the
  // registrant/peer roles and no quota, and never changes their
  // registrar_id, roles or quota. OK or PERMISSION_DENIED.
  absl::Status CheckOrgPut(const lufd::v1::Org& org,
                           const lufd::v1::RegistryObject* existing);
  // May a new object refer to this registrant-owned one (a dest group, SED
  // record or SED group)? Not readable is reported as not found.
  bool CanReference(const lufd::v1::RegistryObject& object);
  // May the actor accept or reject this offer? (The receiving side: the
  // peer org or its registrar.)
  bool CanDecide(const lufd::v1::Offer& offer);
  // May the actor provision (put or delete) a TN/range/prefix identifier
  // of `registrant`, given `innermost`, the innermost holding containing
  // all of it (nullptr when none)? ADMIN: always. Otherwise the holding
  // must be the registrant's and the actor must manage it. OK or the
  // fixed refusal.
  absl::Status CheckNumberSpace(const std::string& registrant,
                                const lufd::v1::Holding* innermost);

 private:
  const Identity& actor_;
  ObjectLookup* const lookup_;
};

// AccessRules judged against one RegistryView. Keeps the objects it looked
// up, so a stream of checks (an export) pays for each org/group once.
class ViewAccess final : private ObjectLookup {
 public:
  // `view` and `actor` must outlive this.
  ViewAccess(const RegistryView& view, const Identity& actor)
      : view_(view), rules_(actor, this) {}
  ViewAccess(const ViewAccess&) = delete;
  ViewAccess& operator=(const ViewAccess&) = delete;

  bool CanRead(const lufd::v1::RegistryObject& object) {
    return rules_.CanRead(object);
  }
  bool CanReadChange(const lufd::v1::Change& change) {
    return rules_.CanReadChange(change);
  }
  AccessRules& rules() { return rules_; }
  const RegistryView& view() const { return view_; }

 private:
  const lufd::v1::RegistryObject* Find(lufd::v1::ObjectKind kind,
                                       const std::string& key) override;

  const RegistryView& view_;
  AccessRules rules_;
  absl::flat_hash_map<std::pair<lufd::v1::ObjectKind, std::string>,
                      std::unique_ptr<lufd::v1::RegistryObject>>
      found_;  // nullptr = absent.
};

// ---- 3. Redaction ----------------------------------------------------------

bool NeedsRedaction(const Identity& reader,
                    const lufd::v1::RegistryObject& object);
void RedactSecrets(const Identity& reader, lufd::v1::RegistryObject* object);
void RedactSecrets(const Identity& reader, lufd::v1::Change* change);

// ---- 4. Visibility in resolution (hot path: inline) ------------------------

// May `viewer` see SED `group` when resolving? `accepted_offer()` answers
// whether an offer of the group to viewer.org_id was accepted; it is called
// only when the other rules do not decide (it costs a lookup).
template <typename AcceptedOfferFn>
inline bool SedGroupVisible(const lufd::v1::SedGroup& group,
                            const Identity& viewer,
                            AcceptedOfferFn&& accepted_offer) {
  if (viewer.is_admin() || group.public_()) return true;
  if (viewer.anonymous()) return false;
  if (group.registrant_id() == viewer.org_id) return true;
  return accepted_offer();
}

// Appends the part of `viewer` that visibility depends on (admin,
// anonymous, or the org): viewers with the same class see the same groups,
// so resolution may cache by it.
inline void AppendViewerClass(const Identity& viewer, std::string* key) {
  if (viewer.is_admin()) {
    key->push_back('A');
  } else if (viewer.anonymous()) {
    key->push_back('-');
  } else {
    key->push_back('O');
    key->append(viewer.org_id);
  }
}

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_AUTHZ_H_
