// SideDoorGuard: the identity check for the gRPC methods lufd serves but did
// not write, health (grpc.health.v1.Health) and reflection
// (grpc.reflection.v1alpha.ServerReflection), and for any path no service
// serves.
//
// lufd's own methods (lufd.v1.*) run inside RpcRunner (call.h), which
// authenticates, authorizes and bounds them. Health and reflection are
// gRPC's library services: their handlers never pass through RpcRunner, so
// without this guard a revoked, unregistered or disabled certificate could
// open reflection streams (each holds a sync-server thread) and every peer
// could read the AdminService schema.
//
// The guard is a gRPC AuthMetadataProcessor installed on the server
// credentials. gRPC runs it for every call, after the TLS handshake and
// before the call is matched to a handler, so a refused call never takes a
// server thread. For any path that is not a method of lufd's RPC role table
// (authz.h) it
//   1. authenticates the peer certificate exactly as RpcRunner does
//      (Authenticator: certificate -> credential -> org, CRL fail-closed,
//      disabled credential or org denied): UNAUTHENTICATED otherwise;
//   2. for a method of a served side-door service, checks the caller's role
//      against the RPC role table (server/core/authz.h: health for every
//      role, reflection for ADMIN only): PERMISSION_DENIED otherwise.
// A side-door service that is not served (reflection when
// grpc.reflection is false) is left to gRPC, which answers UNIMPLEMENTED to
// an authenticated caller.
//   3. counts the call against grpc.max_calls_per_identity, per client
//      certificate (RpcRunner's CallLimiter, when the guard has a runner;
//      the key is the certificate, which the end of the call can find
//      again, whatever happened to its credential meanwhile):
//      RESOURCE_EXHAUSTED "too many calls in progress for <org/credential>"
//      beyond it. MakeSideDoorSlotInterceptorFactory gives the slot back
//      when the call ends; it must be installed on the server.
// The methods of the RPC role table pass untouched: RpcRunner judges (and
// logs) them.
//
// Thread-safe (Process runs on gRPC's threads, concurrently); `auth` must
// outlive the guard.
#ifndef LUFD_SERVER_GRPC_SIDE_DOORS_H_
#define LUFD_SERVER_GRPC_SIDE_DOORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/core/identity.h"
#include "server/grpc/auth.h"
#include "server/grpc/call.h"

namespace lufd {

// Full service names of gRPC's library services lufd may serve.
inline constexpr char kHealthService[] = "grpc.health.v1.Health";
inline constexpr char kReflectionService[] =
    "grpc.reflection.v1alpha.ServerReflection";

class SideDoorGuard final : public grpc::AuthMetadataProcessor {
 public:
  // `served_side_doors`: the side-door services this server registers
  // (kHealthService, and kReflectionService when reflection is on).
  // `denials` (may be null) records and logs every refusal, rate-limited,
  // as for every RPC; it must outlive the guard.
  SideDoorGuard(Authenticator* auth, std::vector<std::string> served_side_doors,
                RpcRunner* denials = nullptr);

  // The verdict for a call of `path` ("/pkg.Service/Method") by the peer of
  // `context`; `caller` (optional) gets the identity once authenticated.
  // Counts nothing (Process does).
  absl::Status Check(absl::string_view path, const grpc::AuthContext& context,
                     Identity* caller = nullptr);

  // Inline: the check is a cache lookup (see auth.h), and a blocking
  // processor would run on a thread pool that grows under a flood.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  Authenticator* const auth_;
  const std::vector<std::string> served_;
  RpcRunner* const denials_;
};

// Gives back the call slot (3. above) of every side-door call `runner`'s
// SideDoorGuard with `served_side_doors` admitted, when the call ends (gRPC
// destroys a call's interceptors with it). Install on the ServerBuilder
// (experimental().SetInterceptorCreators); the runner must outlive the
// server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeSideDoorSlotInterceptorFactory(RpcRunner* runner,
                                   std::vector<std::string> served_side_doors);

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_SIDE_DOORS_H_
