// Local database commands of lufctl (`db migrate|status|bootstrap`). These
// open the Store directly (no server), e.g. to create the schema and the
// first admin credential before lufd can authenticate anyone. When lufctl is
// built without lufd_storage/lufd_core they fail with UNIMPLEMENTED.
// Blocking; not thread-safe with respect to the output stream.
#ifndef LUFD_CLIENT_LOCAL_DB_H_
#define LUFD_CLIENT_LOCAL_DB_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "client/output.h"

namespace lufd::client {

absl::Status DbMigrate(const std::string& store_url, OutputFormat format,
                       std::ostream& out);
absl::Status DbStatus(const std::string& store_url, OutputFormat format,
                      std::ostream& out);

struct BootstrapOptions {
  std::string store_url;
  std::string org_id;
  std::string org_name;
  std::string cert_file;  // The first admin's certificate (PEM).
  std::string san_uri;    // Optional: also require this SAN URI.
  std::string credential_id = "bootstrap-admin";
};
// Creates (upserts) the org with role registrar and an ADMIN credential
// pinned to the certificate's SPKI, as the local admin, in one transaction.
absl::Status DbBootstrap(const BootstrapOptions& options, OutputFormat format,
                         std::ostream& out);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_LOCAL_DB_H_
