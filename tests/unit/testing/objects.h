// Builders of registry objects and operations that mean the same in every
// unit test: destination groups, SED groups, identifiers, offers, holdings,
// put/delete operations, and the identities of callers by role.
// Objects whose test meaning differs from file to file (orgs, credentials,
// NAPTR records with file-specific defaults) stay in their test files.
#ifndef LUFD_TESTS_UNIT_TESTING_OBJECTS_H_
#define LUFD_TESTS_UNIT_TESTING_OBJECTS_H_

#include <string>
#include <utility>
#include <vector>

#include "lufd/v1/admin.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"

namespace lufd::testing {

inline lufd::v1::RegistryObject DestGroup(const std::string& id,
                                          const std::string& registrant) {
  lufd::v1::RegistryObject o;
  o.mutable_dest_group()->set_id(id);
  o.mutable_dest_group()->set_registrant_id(registrant);
  return o;
}

// An in-service SED group serving `records` (by id, in that order, with no
// per-record priority) to the numbers of `dest_groups`.
inline lufd::v1::RegistryObject Group(const std::string& id,
                                      const std::string& registrant,
                                      std::vector<std::string> dest_groups,
                                      std::vector<std::string> records,
                                      bool is_public = false) {
  lufd::v1::RegistryObject o;
  auto* g = o.mutable_sed_group();
  g->set_id(id);
  g->set_registrant_id(registrant);
  g->set_in_service(true);
  g->set_public_(is_public);
  for (auto& d : dest_groups) g->add_dest_group_ids(d);
  for (auto& r : records) g->add_records()->set_record_id(r);
  return o;
}

inline lufd::v1::RegistryObject Ident(lufd::v1::IdentifierKind kind,
                                      const std::string& value,
                                      const std::string& registrant,
                                      std::vector<std::string> dest_groups,
                                      const std::string& range_end = "") {
  lufd::v1::RegistryObject o;
  auto* i = o.mutable_identifier();
  i->set_kind(kind);
  i->set_value(value);
  i->set_range_end(range_end);
  i->set_registrant_id(registrant);
  for (auto& d : dest_groups) i->add_dest_group_ids(d);
  return o;
}

inline lufd::v1::RegistryObject Tn(const std::string& value,
                                   const std::string& registrant,
                                   std::vector<std::string> dest_groups) {
  return Ident(lufd::v1::IDENTIFIER_KIND_TN, value, registrant,
               std::move(dest_groups));
}

inline lufd::v1::RegistryObject Offer(
    const std::string& group, const std::string& peer,
    lufd::v1::OfferStatus status = lufd::v1::OFFER_STATUS_UNSPECIFIED) {
  lufd::v1::RegistryObject o;
  o.mutable_offer()->set_sed_group_id(group);
  o.mutable_offer()->set_peer_org_id(peer);
  o.mutable_offer()->set_status(status);
  return o;
}

inline lufd::v1::Operation PutOp(lufd::v1::RegistryObject o) {
  lufd::v1::Operation op;
  *op.mutable_put() = std::move(o);
  return op;
}

inline lufd::v1::Operation DelOp(lufd::v1::ObjectKind kind,
                                 const std::string& key) {
  lufd::v1::Operation op;
  op.mutable_delete_()->set_kind(kind);
  op.mutable_delete_()->set_key(key);
  return op;
}

// A block of the number space allocated to `registrant` (registry.proto
// Holding); `ported` asks for a port.
inline lufd::v1::RegistryObject Holding(lufd::v1::IdentifierKind kind,
                                        const std::string& value,
                                        const std::string& registrant,
                                        const std::string& range_end = "",
                                        bool ported = false) {
  lufd::v1::RegistryObject o;
  auto* h = o.mutable_holding();
  h->set_kind(kind);
  h->set_value(value);
  h->set_range_end(range_end);
  h->set_registrant_id(registrant);
  h->set_ported(ported);
  return o;
}

// Callers of the write path, by role.
inline Identity Admin() {
  return Identity{"iana-en:admin", "admin-cred", lufd::v1::ROLE_ADMIN};
}
inline Identity Registrar(const std::string& org) {
  return Identity{org, "cred-" + org, lufd::v1::ROLE_REGISTRAR};
}
inline Identity Peer(const std::string& org) {
  return Identity{org, "cred-" + org, lufd::v1::ROLE_PEER};
}

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_OBJECTS_H_
