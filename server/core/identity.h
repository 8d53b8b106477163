// Who is asking: the org and role a verified client certificate maps to
// (see server/grpc/auth.h), or an anonymous DNS client.
#ifndef LUFD_SERVER_CORE_IDENTITY_H_
#define LUFD_SERVER_CORE_IDENTITY_H_

#include <string>

#include "lufd/v1/registry.pb.h"

namespace lufd {

struct Identity {
  std::string org_id;         // Empty for anonymous.
  std::string credential_id;  // Empty for anonymous / local tools.
  lufd::v1::Role role = lufd::v1::ROLE_UNSPECIFIED;

  bool anonymous() const { return org_id.empty(); }
  bool is_admin() const { return role == lufd::v1::ROLE_ADMIN; }
  // "org/credential" as written to the audit trail.
  std::string AuditName() const {
    if (anonymous()) return credential_id.empty() ? "anonymous" : credential_id;
    return org_id + "/" + credential_id;
  }
  static Identity LocalAdmin() {  // lufctl talking to the database directly.
    return Identity{"", "lufctl-local", lufd::v1::ROLE_ADMIN};
  }
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_IDENTITY_H_
