// Object keys: how each registry object is named in the Store, the view and
// the change log. Keys are derived from the object, never chosen by callers.
//   org, credential, dest group, SED record, SED group: their id
//   identifier: "tn:+12025556666", "range:+12026660000-+12026669999",
//               "prefix:+1202777", "rn:<digits>", "uri:<uri>"
//   offer:      "<sed_group_id>|<peer_org_id>"
//   DNS key:    "<zone>/<key_tag>", e.g. "e164.arpa./12345"
//   holding:    as the identifier of the same block ("range:+A-+B", ...)
// Pure functions, thread-safe. Keys are only meaningful for objects that
// passed ValidateAndNormalize (validate.h), which forbids '|' in ids.
#ifndef LUFD_SERVER_CORE_KEYS_H_
#define LUFD_SERVER_CORE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"

namespace lufd {

lufd::v1::ObjectKind KindOf(const lufd::v1::RegistryObject& object);
std::string KeyOf(const lufd::v1::RegistryObject& object);
std::string IdentifierKey(const lufd::v1::PublicIdentifier& identifier);
std::string OfferKey(absl::string_view sed_group_id,
                     absl::string_view peer_org_id);
std::string DnsKeyKey(absl::string_view zone, uint32_t key_tag);
// "org", "credential", "identifier", "dest-group", "sed-record", "sed-group",
// "offer", "dns-key", "holding"; and back (case-insensitive, also accepts
// the enum name).
absl::string_view KindName(lufd::v1::ObjectKind kind);
bool ParseKindName(absl::string_view name, lufd::v1::ObjectKind* kind);
// The registrant that owns the object, for authorization ("" for orgs,
// credentials, offers and DNS keys, which are authorized by other rules; a
// holding's owner is its registrant).
std::string OwnerOf(const lufd::v1::RegistryObject& object);

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_KEYS_H_
