// Object keys (see keys.h). Pure functions over the proto; thread-safe.
#include "server/core/keys.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/core/holdings.h"

namespace lufd {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

ObjectKind KindOf(const RegistryObject& object) {
  switch (object.object_case()) {
    case RegistryObject::kOrg:
      return lufd::v1::OBJECT_KIND_ORG;
    case RegistryObject::kCredential:
      return lufd::v1::OBJECT_KIND_CREDENTIAL;
    case RegistryObject::kIdentifier:
      return lufd::v1::OBJECT_KIND_IDENTIFIER;
    case RegistryObject::kDestGroup:
      return lufd::v1::OBJECT_KIND_DEST_GROUP;
    case RegistryObject::kSedRecord:
      return lufd::v1::OBJECT_KIND_SED_RECORD;
    case RegistryObject::kSedGroup:
      return lufd::v1::OBJECT_KIND_SED_GROUP;
    case RegistryObject::kOffer:
      return lufd::v1::OBJECT_KIND_OFFER;
    case RegistryObject::kDnsKey:
      return lufd::v1::OBJECT_KIND_DNS_KEY;
    case RegistryObject::kHolding:
      return lufd::v1::OBJECT_KIND_HOLDING;
    case RegistryObject::OBJECT_NOT_SET:
      break;
  }
  return lufd::v1::OBJECT_KIND_UNSPECIFIED;
}

std::string IdentifierKey(const lufd::v1::PublicIdentifier& identifier) {
  switch (identifier.kind()) {
    case lufd::v1::IDENTIFIER_KIND_TN:
      return absl::StrCat("tn:", identifier.value());
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE:
      return absl::StrCat("range:", identifier.value(), "-",
                          identifier.range_end());
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX:
      return absl::StrCat("prefix:", identifier.value());
    case lufd::v1::IDENTIFIER_KIND_RN:
      return absl::StrCat("rn:", identifier.value());
    case lufd::v1::IDENTIFIER_KIND_URI:
      return absl::StrCat("uri:", identifier.value());
    default:
      break;
  }
  // Validation rejects an unspecified kind before anything is stored; the
  // key still has to be distinct from every valid one.
  return absl::StrCat("unspecified:", identifier.value());
}

std::string OfferKey(absl::string_view sed_group_id,
                     absl::string_view peer_org_id) {
  // '|' is forbidden in ids (validate.cc), so the split is unambiguous.
  return absl::StrCat(sed_group_id, "|", peer_org_id);
}

std::string DnsKeyKey(absl::string_view zone, uint32_t key_tag) {
  // Zones are stored lowercase and absolute (validate.cc), and '/' cannot
  // occur in a valid domain name, so the split is unambiguous.
  return absl::StrCat(zone, "/", key_tag);
}

std::string KeyOf(const RegistryObject& object) {
  switch (object.object_case()) {
    case RegistryObject::kOrg:
      return object.org().id();
    case RegistryObject::kCredential:
      return object.credential().id();
    case RegistryObject::kIdentifier:
      return IdentifierKey(object.identifier());
    case RegistryObject::kDestGroup:
      return object.dest_group().id();
    case RegistryObject::kSedRecord:
      return object.sed_record().id();
    case RegistryObject::kSedGroup:
      return object.sed_group().id();
    case RegistryObject::kOffer:
      return OfferKey(object.offer().sed_group_id(),
                      object.offer().peer_org_id());
    case RegistryObject::kDnsKey:
      return DnsKeyKey(object.dns_key().zone(), object.dns_key().key_tag());
    case RegistryObject::kHolding:
      return HoldingKey(object.holding());
    case RegistryObject::OBJECT_NOT_SET:
      break;
  }
  return "";
}

absl::string_view KindName(ObjectKind kind) {
  switch (kind) {
    case lufd::v1::OBJECT_KIND_ORG:
      return "org";
    case lufd::v1::OBJECT_KIND_CREDENTIAL:
      return "credential";
    case lufd::v1::OBJECT_KIND_IDENTIFIER:
      return "identifier";
    case lufd::v1::OBJECT_KIND_DEST_GROUP:
      return "dest-group";
    case lufd::v1::OBJECT_KIND_SED_RECORD:
      return "sed-record";
    case lufd::v1::OBJECT_KIND_SED_GROUP:
      return "sed-group";
    case lufd::v1::OBJECT_KIND_OFFER:
      return "offer";
    case lufd::v1::OBJECT_KIND_DNS_KEY:
      return "dns-key";
    case lufd::v1::OBJECT_KIND_HOLDING:
      return "holding";
    default:
      break;
  }
  return "unspecified";
}

bool ParseKindName(absl::string_view name, ObjectKind* kind) {
  // Accept "dest-group", "dest_group", "DEST_GROUP" and
  // "OBJECT_KIND_DEST_GROUP": CLI users and YAML files spell it all ways.
  std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  absl::StrReplaceAll({{"_", "-"}}, &n);
  if (absl::StartsWith(n, "object-kind-")) n.erase(0, 12);
  for (int k = lufd::v1::OBJECT_KIND_ORG; k <= lufd::v1::OBJECT_KIND_HOLDING;
       ++k) {
    auto candidate = static_cast<ObjectKind>(k);
    if (n == KindName(candidate)) {
      if (kind != nullptr) *kind = candidate;
      return true;
    }
  }
  return false;
}

std::string OwnerOf(const RegistryObject& object) {
  switch (object.object_case()) {
    case RegistryObject::kIdentifier:
      return object.identifier().registrant_id();
    case RegistryObject::kDestGroup:
      return object.dest_group().registrant_id();
    case RegistryObject::kSedRecord:
      return object.sed_record().registrant_id();
    case RegistryObject::kSedGroup:
      return object.sed_group().registrant_id();
    case RegistryObject::kHolding:
      return object.holding().registrant_id();
    default:
      break;
  }
  return "";
}

}  // namespace lufd
