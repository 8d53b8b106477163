#include "server/grpc/side_doors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/authz.h"

namespace lufd {
namespace {

// "/pkg.Service/Method" -> service and method (empty when malformed).
void SplitPath(absl::string_view path, absl::string_view* service,
               absl::string_view* method) {
  absl::string_view rest = path;
  if (absl::ConsumePrefix(&rest, "/")) {
    const size_t slash = rest.find('/');
    if (slash != absl::string_view::npos) {
      *service = rest.substr(0, slash);
      *method = rest.substr(slash + 1);
    }
  }
}

bool InRoleTable(absl::string_view service, absl::string_view method) {
  for (const RpcRule& rule : RpcRoleTable()) {
    if (service == rule.service && method == rule.method) return true;
  }
  return false;
}

bool Served(const std::vector<std::string>& served, absl::string_view service) {
  return std::find(served.begin(), served.end(), service) != served.end();
}

// The CallLimiter key of a side-door call: its peer certificate (empty when
// there is none).
std::string SlotKey(const grpc::AuthContext& context) {
  std::vector<grpc::string_ref> pem =
      context.FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return "";
  return absl::StrCat("side-door cert ", absl::string_view(pem.front().data(),
                                                           pem.front().size()));
}

}  // namespace

SideDoorGuard::SideDoorGuard(Authenticator* auth,
                             std::vector<std::string> served_side_doors,
                             RpcRunner* denials)
    : auth_(auth), served_(std::move(served_side_doors)), denials_(denials) {}

absl::Status SideDoorGuard::Check(absl::string_view path,
                                  const grpc::AuthContext& context,
                                  Identity* caller) {
  absl::string_view service, method;
  SplitPath(path, &service, &method);
  if (InRoleTable(service, method)) return absl::OkStatus();  // RpcRunner's.
  absl::StatusOr<Identity> identity = auth_->Authenticate(context);
  if (!identity.ok()) return identity.status();
  if (caller != nullptr) *caller = *identity;
  if (!Served(served_, service)) {
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
  absl::Status status = Check(path, *context, &caller);
  absl::string_view service, method;
  SplitPath(path, &service, &method);
  // Admitted to a served side door: one of its certificate's calls in
  // progress (the slot interceptor gives it back).
  if (status.ok() && denials_ != nullptr && Served(served_, service)) {
    status = denials_->call_limiter()->Acquire(SlotKey(*context),
                                               caller.AuditName());
  }
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

namespace {

class SideDoorSlotInterceptor final : public grpc::experimental::Interceptor {
 public:
  SideDoorSlotInterceptor(CallLimiter* calls, grpc::ServerContextBase* context)
      : calls_(calls), context_(context) {}
  ~SideDoorSlotInterceptor() override {
    if (!key_.empty()) calls_->Release(key_);
  }
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // The call's AuthContext is not there yet when gRPC creates the
    // interceptor: its first hook finds the key.
    if (!looked_up_) {
      looked_up_ = true;
      if (std::shared_ptr<const grpc::AuthContext> auth =
              context_->auth_context()) {
        key_ = SlotKey(*auth);
      }
    }
    methods->Proceed();
  }

 private:
  CallLimiter* const calls_;
  grpc::ServerContextBase* const context_;
  bool looked_up_ = false;
  std::string key_;
};

class SideDoorSlotInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  SideDoorSlotInterceptorFactory(CallLimiter* calls,
                                 std::vector<std::string> served)
      : calls_(calls), served_(std::move(served)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    absl::string_view service, method;
    SplitPath(info->method(), &service, &method);
    // A call gets here only once the guard admitted it: for a served side
    // door, that took a slot.
    if (!Served(served_, service) || InRoleTable(service, method)) {
      return nullptr;
    }
    return new SideDoorSlotInterceptor(calls_, info->server_context());
  }

 private:
  CallLimiter* const calls_;
  const std::vector<std::string> served_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeSideDoorSlotInterceptorFactory(RpcRunner* runner,
                                   std::vector<std::string> served_side_doors) {
  return std::make_unique<SideDoorSlotInterceptorFactory>(
      runner->call_limiter(), std::move(served_side_doors));
}

}  // namespace lufd
