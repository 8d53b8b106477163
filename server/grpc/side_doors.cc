#include "server/grpc/side_doors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/authz.h"

namespace lufd {
SideDoorGuard::SideDoorGuard(Authenticator* auth,
                             std::vector<std::string> served_side_doors,
                             RpcRunner* denials)
    : auth_(auth), served_(std::move(served_side_doors)), denials_(denials) {}

absl::Status SideDoorGuard::Check(absl::string_view path,
                                  const grpc::AuthContext& context,
                                  Identity* caller) {
  // "/pkg.Service/Method"
  absl::string_view service, method;
  absl::string_view rest = path;
  if (absl::ConsumePrefix(&rest, "/")) {
    const size_t slash = rest.find('/');
    if (slash != absl::string_view::npos) {
      service = rest.substr(0, slash);
      method = rest.substr(slash + 1);
    }
  }
  for (const RpcRule& rule : RpcRoleTable()) {
    if (service == rule.service && method == rule.method) {
      return absl::OkStatus();  // RpcRunner's to judge.
    }
  }
  absl::StatusOr<Identity> identity = auth_->Authenticate(context);
  if (!identity.ok()) return identity.status();
  if (caller != nullptr) *caller = *identity;
  if (std::find(served_.begin(), served_.end(), service) == served_.end()) {
    return absl::OkStatus();  // Not served: gRPC answers UNIMPLEMENTED.
  }
  // A method the side-door table does not name is refused (fail closed).
  return AuthorizeSideDoorRpc(*identity, service, method);
}

grpc::Status SideDoorGuard::Process(const InputMetadata& auth_metadata,
                                    grpc::AuthContext* context,
                                    OutputMetadata* /*consumed*/,
                                    OutputMetadata* /*response*/) {
  absl::string_view path;
  auto it = auth_metadata.find(":path");
  if (it != auth_metadata.end()) {
    path = absl::string_view(it->second.data(), it->second.size());
  }
  Identity caller;
  const absl::Status status = Check(path, *context, &caller);
  if (status.ok()) return grpc::Status::OK;
  // The path is the client's: escaped and cut short for the log and the
  // denial audit, which bound and rate-limit the rest (call.h).
  if (denials_ != nullptr) {
    denials_->RecordDenial(status, caller, /*peer=*/"",
                           absl::CHexEscape(path.substr(0, 200)), absl::Now());
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace lufd
