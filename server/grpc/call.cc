#include "server/grpc/call.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace lufd {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status CheckCallAlive(const CallInfo& call) {
  if (call.context != nullptr && call.context->IsCancelled()) {
    return absl::CancelledError("call cancelled");
  }
  if (absl::Now() >= call.deadline) {
    return absl::DeadlineExceededError("deadline exceeded");
  }
  return absl::OkStatus();
}

int TransportMaxMessageBytes(uint64_t max_message_bytes) {
  constexpr uint64_t kCap = uint64_t{256} << 20;
  constexpr uint64_t kIntMax = std::numeric_limits<int>::max();
  const uint64_t transport =
      std::max(std::min(max_message_bytes * 4, kCap), max_message_bytes);
  return static_cast<int>(std::min(transport, kIntMax));
}

absl::Status RpcRunner::CheckRequestSize(
    const google::protobuf::MessageLite& request) const {
  const size_t size = request.ByteSizeLong();
  if (size <= max_message_bytes_) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("request is ", size, " bytes; the limit is ",
                   max_message_bytes_, " (grpc.max_message_bytes)"));
}

grpc::Status RpcRunner::RunImpl(
    const char* method, grpc::ServerContext* context,
    const google::protobuf::MessageLite* request,
    std::initializer_list<lufd::v1::Role> roles, bool cap_deadline,
    absl::FunctionRef<absl::Status(const CallInfo&)> body) {
  const absl::Time start = absl::Now();
  CallInfo call;
  call.context = context;
  call.deadline = cap_deadline ? start + max_deadline_ : absl::InfiniteFuture();
  const auto client_deadline = context->deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    call.deadline = std::min(call.deadline, absl::FromChrono(client_deadline));
  }

  absl::Status status;
  absl::StatusOr<Identity> identity =
      auth_->Authenticate(*context->auth_context());
  if (!identity.ok()) {
    status = identity.status();
  } else {
    call.identity = *std::move(identity);
    status = RequireRole(call.identity, roles);
    // After authentication and the role check, so a caller learns the limit
    // only for a method it may call.
    if (status.ok() && request != nullptr) status = CheckRequestSize(*request);
    if (status.ok()) status = body(call);
  }

  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  const std::string who =
      call.identity.anonymous() ? "-" : call.identity.AuditName();
  if (status.code() == absl::StatusCode::kUnauthenticated ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    spdlog::info("denied {} peer={} caller={} code={} msg=\"{}\"", method,
                 context->peer(), who, absl::StatusCodeToString(status.code()),
                 std::string(status.message()));
  } else {
    spdlog::debug("rpc {} caller={} code={} latency_ms={:.3f}", method, who,
                  absl::StatusCodeToString(status.code()), ms);
  }
  return ToGrpcStatus(status);
}

}  // namespace lufd
