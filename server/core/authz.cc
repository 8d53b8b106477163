#include "server/core/authz.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/core/denial.h"
#include "server/core/keys.h"

namespace lufd {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

constexpr char kLookup[] = "lufd.v1.LookupService";
constexpr char kAdmin[] = "lufd.v1.AdminService";

// Who may call which RPC. One row per method of LookupService and
// AdminService (authz_test checks the table against the proto services).
// clang-format off
constexpr RpcRule kRpcRoles[] = {
    // service  method            PEER   REGISTRAR  ADMIN
    {kLookup, "Lookup",           true,  false,     true},
    {kLookup, "BatchLookup",      true,  false,     true},
    {kAdmin,  "Put",              false, true,      true},
    {kAdmin,  "Delete",           false, true,      true},
    {kAdmin,  "Batch",            false, true,      true},
    {kAdmin,  "AcceptOffer",      false, true,      true},
    {kAdmin,  "RejectOffer",      false, true,      true},
    {kAdmin,  "Get",              false, true,      true},
    {kAdmin,  "List",             false, true,      true},
    {kAdmin,  "Export",           false, true,      true},
    {kAdmin,  "Import",           false, true,      true},
    {kAdmin,  "Audit",            false, true,      true},
    {kAdmin,  "GetServerInfo",    false, true,      true},
    // DNSSEC keys are the zone operator's: other roles learn nothing about
    // the zones, not even whether DNS is on.
    {kAdmin,  "GenerateDnsKey",   false, false,     true},
    {kAdmin,  "RolloverDnsKey",   false, false,     true},
    {kAdmin,  "GetDs",            false, false,     true},
    // The denial audit names other orgs' certificates and refusals.
    {kAdmin,  "ListDenials",      false, false,     true},
    // The guard's state names other orgs and source prefixes.
    {kAdmin,  "GuardStatus",      false, false,     true},
    {kAdmin,  "ExplainGuard",     false, false,     true},
    {kAdmin,  "Unblock",          false, false,     true},
};
// clang-format on

bool RoleAllowed(const RpcRule& rule, lufd::v1::Role role) {
  switch (role) {
    case lufd::v1::ROLE_PEER:
      return rule.peer;
    case lufd::v1::ROLE_REGISTRAR:
      return rule.registrar;
    case lufd::v1::ROLE_ADMIN:
      return rule.admin;
    default:
      return false;
  }
}

}  // namespace

absl::Span<const RpcRule> RpcRoleTable() { return kRpcRoles; }

absl::Status AuthorizeRpc(const Identity& caller, absl::string_view method) {
  for (const RpcRule& rule : kRpcRoles) {
    if (method == rule.method && RoleAllowed(rule, caller.role)) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "role ", lufd::v1::Role_Name(caller.role), " may not call this method"));
}

// The gRPC library services lufd serves beside its own (health,
// reflection): judged by SideDoorGuard (server/grpc/side_doors.h), which
// authenticates the caller first. Health tells nothing beyond "up"; the
// reflection schema describes AdminService, so only admins may read it.
// clang-format off
constexpr RpcRule kSideDoorRoles[] = {
    // service                                    method                  PEER   REGISTRAR  ADMIN
    {"grpc.health.v1.Health",                     "Check",                true,  true,      true},
    {"grpc.health.v1.Health",                     "Watch",                true,  true,      true},
    {"grpc.reflection.v1alpha.ServerReflection",  "ServerReflectionInfo", false, false,     true},
};
// clang-format on

absl::Span<const RpcRule> SideDoorRoleTable() { return kSideDoorRoles; }

absl::Status AuthorizeSideDoorRpc(const Identity& caller,
                                  absl::string_view service,
                                  absl::string_view method) {
  for (const RpcRule& rule : kSideDoorRoles) {
    if (service == rule.service && method == rule.method) {
      if (RoleAllowed(rule, caller.role)) return absl::OkStatus();
      return absl::PermissionDeniedError(
          absl::StrCat("role ", lufd::v1::Role_Name(caller.role),
                       " may not call this method"));
    }
  }
  return absl::PermissionDeniedError("method not allowed");
}

absl::Status PermissionDenied() {
  return absl::PermissionDeniedError("permission denied");
}

absl::Status Refused(absl::string_view reason) {
  return WithDenialReason(PermissionDenied(), reason);
}

bool AccessRules::IsRegistrar() const {
  return actor_.role == lufd::v1::ROLE_REGISTRAR && !actor_.org_id.empty();
}

bool AccessRules::Manages(const std::string& org_id) {
  if (actor_.is_admin()) return true;
  if (!IsRegistrar() || org_id.empty()) return false;
  if (org_id == actor_.org_id) return true;
  const RegistryObject* org = lookup_->Find(lufd::v1::OBJECT_KIND_ORG, org_id);
  return org != nullptr && org->org().registrar_id() == actor_.org_id;
}

bool AccessRules::CanRead(const RegistryObject& o) {
  if (ReadsEverything()) return true;
  if (!IsRegistrar()) return false;
  switch (o.object_case()) {
    case RegistryObject::kOrg:
      return o.org().id() == actor_.org_id ||
             o.org().registrar_id() == actor_.org_id;
    case RegistryObject::kCredential:
      return Manages(o.credential().org_id());
    case RegistryObject::kOffer: {
      if (Manages(o.offer().peer_org_id())) return true;
      const RegistryObject* group = lookup_->Find(
          lufd::v1::OBJECT_KIND_SED_GROUP, o.offer().sed_group_id());
      return group != nullptr && Manages(OwnerOf(*group));
    }
    default: {
      std::string owner = OwnerOf(o);
      return !owner.empty() && Manages(owner);
    }
  }
}

bool AccessRules::CanReadChange(const lufd::v1::Change& change) {
  return ReadsEverything() || (change.has_after() && CanRead(change.after())) ||
         (change.has_before() && CanRead(change.before()));
}

void AccessRules::DropUnreadableImages(lufd::v1::Change* change) {
  if (ReadsEverything()) return;
  if (change->has_before() && !CanRead(change->before())) {
    change->clear_before();
  }
  if (change->has_after() && !CanRead(change->after())) change->clear_after();
}

bool AccessRules::CanWrite(const RegistryObject& o) {
  if (actor_.is_admin()) return true;
  switch (o.object_case()) {
    case RegistryObject::kOrg:
      return IsRegistrar() && o.org().registrar_id() == actor_.org_id;
    case RegistryObject::kCredential:
    case RegistryObject::kHolding:
      return false;
    case RegistryObject::kOffer: {
      const RegistryObject* group = lookup_->Find(
          lufd::v1::OBJECT_KIND_SED_GROUP, o.offer().sed_group_id());
      return group != nullptr && Manages(OwnerOf(*group));
    }
    default:
      return Manages(OwnerOf(o));
  }
}

bool AccessRules::MayPutKind(ObjectKind kind) const {
  switch (kind) {
    case lufd::v1::OBJECT_KIND_CREDENTIAL:
    // Zone signing keys are the operator's: no registrar may publish a
    // DNSKEY for the zone everyone's numbers live in.
    case lufd::v1::OBJECT_KIND_DNS_KEY:
    // The number space is allocated by the registry operator.
    case lufd::v1::OBJECT_KIND_HOLDING:
      return actor_.is_admin();
    default:
      return MayWrite();
  }
}

bool AccessRules::CanPutOwned(const RegistryObject& object,
                              const RegistryObject* existing) {
  return Manages(OwnerOf(object)) &&
         (existing == nullptr || Manages(OwnerOf(*existing)));
}

absl::Status AccessRules::CheckOrgPut(const lufd::v1::Org& org,
                                      const RegistryObject* existing) {
  if (actor_.is_admin()) return absl::OkStatus();
  // A registrar may create an org only as its own registrant, and update
  // only its registrants, never their registrar, roles or quota (which
  // would let it escape its scope or raise its own budget).
  if (org.registrar_id() != actor_.org_id) return PermissionDenied();
  if (existing != nullptr) {
    const auto& old = existing->org();
    if (old.registrar_id() != actor_.org_id) return PermissionDenied();
    if (old.roles().size() != org.roles().size() ||
        !std::equal(old.roles().begin(), old.roles().end(),
                    org.roles().begin()) ||
        old.quota().SerializeAsString() != org.quota().SerializeAsString()) {
      return PermissionDenied();
    }
    return absl::OkStatus();
  }
  for (int role : org.roles()) {
    if (role != lufd::v1::ORG_ROLE_REGISTRANT &&
        role != lufd::v1::ORG_ROLE_PEER) {
      return PermissionDenied();
    }
  }
  if (org.has_quota() && org.quota().SerializeAsString() !=
                             lufd::v1::Quota().SerializeAsString()) {
    return PermissionDenied();
  }
  return absl::OkStatus();
}

bool AccessRules::CanReference(const RegistryObject& object) {
  return Manages(OwnerOf(object));
}

bool AccessRules::CanDecide(const lufd::v1::Offer& offer) {
  return Manages(offer.peer_org_id());
}

absl::Status AccessRules::CheckNumberSpace(const std::string& registrant,
                                           const lufd::v1::Holding* innermost) {
  if (actor_.is_admin()) return absl::OkStatus();
  if (innermost == nullptr) {
    return Refused("the identifier lies outside every holding");
  }
  if (innermost->registrant_id() != registrant) {
    return Refused(
        absl::StrCat("the innermost holding containing the "
                     "identifier is held by org ",
                     innermost->registrant_id(), ", not by ", registrant));
  }
  if (!Manages(innermost->registrant_id())) {
    return Refused(absl::StrCat("the identifier lies in a holding of org ",
                                innermost->registrant_id(),
                                ", which the caller does not manage"));
  }
  return absl::OkStatus();
}

const RegistryObject* ViewAccess::Find(ObjectKind kind,
                                       const std::string& key) {
  auto [it, inserted] = found_.try_emplace(std::make_pair(kind, key));
  if (inserted) {
    if (auto o = view_.Get(kind, key)) {
      it->second = std::make_unique<RegistryObject>(*std::move(o));
    }
  }
  return it->second.get();
}

bool NeedsRedaction(const Identity& reader, const RegistryObject& object) {
  return !reader.is_admin() && object.has_credential() &&
         !object.credential().tsig_secret().empty();
}

void RedactSecrets(const Identity& reader, RegistryObject* object) {
  if (NeedsRedaction(reader, *object)) {
    object->mutable_credential()->clear_tsig_secret();
  }
}

void RedactSecrets(const Identity& reader, lufd::v1::Change* change) {
  if (change->has_before()) RedactSecrets(reader, change->mutable_before());
  if (change->has_after()) RedactSecrets(reader, change->mutable_after());
}

}  // namespace lufd
