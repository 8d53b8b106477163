// LufdClient: the small C++ client library lufctl is built on. It owns one
// mTLS gRPC channel to a lufd server and the AdminService / LookupService
// stubs on it, plus a grpc.health.v1 Check done as a generic (bytes) call so
// that no health.proto descriptors are compiled in (Debian ships none, and a
// private copy could clash with a server library in the same binary).
//
// Errors are absl::Status; grpc::Status codes map 1:1 (absl codes are the
// gRPC codes). Thread-safety: a LufdClient may be shared by threads; each
// call makes its own grpc::ClientContext via NewContext().
#ifndef LUFD_CLIENT_CLIENT_H_
#define LUFD_CLIENT_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "lufd/v1/lookup.grpc.pb.h"

namespace lufd::client {

struct ConnectionOptions {
  std::string server = "127.0.0.1:50051";  // host:port
  std::string cert_file;                   // Client certificate chain (PEM).
  std::string key_file;                    // Its private key (PEM).
  std::string ca_file;      // Roots that verify the server (PEM).
  std::string server_name;  // TLS target name override; empty = from host.
  absl::Duration timeout = absl::Seconds(30);  // Unary RPC deadline.
};

absl::Status FromGrpc(const grpc::Status& status);

class LufdClient {
 public:
  // Reads the PEM files and creates the channel (connects lazily; the first
  // RPC fails with UNAVAILABLE when the server cannot be reached).
  static absl::StatusOr<std::unique_ptr<LufdClient>> Connect(
      const ConnectionOptions& options);

  lufd::v1::AdminService::StubInterface* admin() { return admin_.get(); }
  lufd::v1::LookupService::StubInterface* lookup() { return lookup_.get(); }

  // A context with the unary deadline (unary=true) or none (streams, which
  // may legitimately run for minutes).
  std::unique_ptr<grpc::ClientContext> NewContext(bool unary = true) const;

  // The primary's lufd endpoint the server named in the trailing metadata
  // `lufd-primary-endpoint` of the last call it refused with
  // FAILED_PRECONDITION (a write on a read-only standby), or "" when none
  // did. Seen on every call of this client, streams included.
  std::string primary_hint() const;

  // grpc.health.v1.Health/Check; returns the ServingStatus name
  // ("SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN").
  absl::StatusOr<std::string> CheckHealth(const std::string& service);

 private:
  class PrimaryHintInterceptor;
  class PrimaryHintFactory;
  LufdClient() = default;
  ConnectionOptions options_;
  // Written by the interceptor (any gRPC thread), read by primary_hint().
  mutable absl::Mutex hint_mu_;
  std::string primary_hint_ ABSL_GUARDED_BY(hint_mu_);
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<lufd::v1::AdminService::StubInterface> admin_;
  std::unique_ptr<lufd::v1::LookupService::StubInterface> lookup_;
};

}  // namespace lufd::client

#endif  // LUFD_CLIENT_CLIENT_H_
