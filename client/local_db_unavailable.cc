// Built when lufd_storage or lufd_core is not part of the build: the local
// `db` commands then say so instead of pretending to work.
#include "client/local_db.h"

namespace lufd::client {
namespace {
absl::Status Unavailable() {
  return absl::UnimplementedError(
      "this lufctl was built without lufd_storage/lufd_core; local db "
      "commands are unavailable");
}
}  // namespace

absl::Status DbMigrate(const std::string&, OutputFormat, std::ostream&) {
  return Unavailable();
}
absl::Status DbStatus(const std::string&, OutputFormat, std::ostream&) {
  return Unavailable();
}
absl::Status DbBootstrap(const BootstrapOptions&, OutputFormat, std::ostream&) {
  return Unavailable();
}

}  // namespace lufd::client
