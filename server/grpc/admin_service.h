// AdminService: provisioning over gRPC, mapped onto the core Registry
// (server/core/registry.h), which owns validation and cascades. Who may call
// which method and read what is server/core/authz.h's; this layer applies it
// (List/Export/Audit filter and redact what they stream, judged against the
// view they stream) and adds Import batching and server info. The DNSSEC key
// RPCs (GenerateDnsKey, RolloverDnsKey, GetDs) are ADMIN only and go to the DNS
// front door's key manager through the KeyAdmin interface (set_key_admin;
// FAILED_PRECONDITION "DNS not configured" while there is none). ListDenials
// (ADMIN only) reads the denial audit (set_denial_recorder); refused writes
// and Import refusals attach the object they name (WithDenialObject) for it.
// GuardStatus, ExplainGuard and Unblock (ADMIN only) read and lift the
// guard's decisions (set_guard; FAILED_PRECONDITION while there is none).
// Thread-safe; pointers must outlive the service.
#ifndef LUFD_SERVER_GRPC_ADMIN_SERVICE_H_
#define LUFD_SERVER_GRPC_ADMIN_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "server/core/authz.h"
#include "server/core/denial_audit.h"
#include "server/core/key_admin.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/grpc/call.h"
#include "server/guard/guard.h"
#include "storage/store.h"

namespace lufd {
class AdminServiceImpl final : public lufd::v1::AdminService::Service {
 public:
  struct Options {
    std::string version;
    absl::Time start_time;
    // Objects per Import batch (one transaction); more is RESOURCE_EXHAUSTED.
    size_t max_import_batch = 2'000'000;
  };

  AdminServiceImpl(Registry* registry, ViewHolder* views, Store* store,
                   RpcRunner* runner, Options options)
      : registry_(registry),
        views_(views),
        store_(store),
        runner_(runner),
        options_(std::move(options)) {}

  grpc::Status Put(grpc::ServerContext* context,
                   const lufd::v1::PutRequest* request,
                   lufd::v1::WriteResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context,
                      const lufd::v1::DeleteRequest* request,
                      lufd::v1::WriteResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context,
                   const lufd::v1::GetRequest* request,
                   lufd::v1::RegistryObject* response) override;
  grpc::Status List(
      grpc::ServerContext* context, const lufd::v1::ListRequest* request,
      grpc::ServerWriter<lufd::v1::RegistryObject>* writer) override;
  grpc::Status Batch(grpc::ServerContext* context,
                     const lufd::v1::BatchRequest* request,
                     lufd::v1::WriteResponse* response) override;
  grpc::Status AcceptOffer(grpc::ServerContext* context,
                           const lufd::v1::OfferDecision* request,
                           lufd::v1::WriteResponse* response) override;
  grpc::Status RejectOffer(grpc::ServerContext* context,
                           const lufd::v1::OfferDecision* request,
                           lufd::v1::WriteResponse* response) override;
  grpc::Status Import(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<lufd::v1::ImportProgress, lufd::v1::ImportChunk>*
          stream) override;
  grpc::Status Export(
      grpc::ServerContext* context, const lufd::v1::ExportRequest* request,
      grpc::ServerWriter<lufd::v1::RegistryObject>* writer) override;
  grpc::Status Audit(grpc::ServerContext* context,
                     const lufd::v1::AuditRequest* request,
                     grpc::ServerWriter<lufd::v1::Change>* writer) override;
  grpc::Status GetServerInfo(grpc::ServerContext* context,
                             const lufd::v1::ServerInfoRequest* request,
                             lufd::v1::ServerInfo* response) override;
  grpc::Status GenerateDnsKey(grpc::ServerContext* context,
                              const lufd::v1::GenerateDnsKeyRequest* request,
                              lufd::v1::DnsKeyResponse* response) override;
  grpc::Status RolloverDnsKey(grpc::ServerContext* context,
                              const lufd::v1::RolloverDnsKeyRequest* request,
                              lufd::v1::DnsKeyResponse* response) override;
  grpc::Status GetDs(grpc::ServerContext* context,
                     const lufd::v1::GetDsRequest* request,
                     lufd::v1::GetDsResponse* response) override;
  grpc::Status ListDenials(grpc::ServerContext* context,
                           const lufd::v1::ListDenialsRequest* request,
                           lufd::v1::ListDenialsResponse* response) override;
  grpc::Status GuardStatus(grpc::ServerContext* context,
                           const lufd::v1::GuardStatusRequest* request,
                           lufd::v1::GuardStatusResponse* response) override;
  grpc::Status ExplainGuard(grpc::ServerContext* context,
                            const lufd::v1::ExplainGuardRequest* request,
                            lufd::v1::GuardIdentity* response) override;
  grpc::Status Unblock(grpc::ServerContext* context,
                       const lufd::v1::UnblockRequest* request,
                       lufd::v1::UnblockResponse* response) override;

  // The denial audit ListDenials reads (null: FAILED_PRECONDITION). It must
  // outlive the service or be reset to null first.
  void set_denial_recorder(DenialRecorder* recorder) {
    denials_.store(recorder);
  }

  // The DNS front door's key manager (null = DNS not configured). May be set
  // at any time; it must outlive the service or be reset to null first.
  void set_key_admin(KeyAdmin* key_admin) { key_admin_.store(key_admin); }

  // The guard the lookup front doors charge (null = guard disabled:
  // the guard RPCs answer FAILED_PRECONDITION). Same lifetime rule.
  void set_guard(Guard* guard) { guard_.store(guard); }

 private:
  grpc::Status RunWrite(const char* method, grpc::ServerContext* context,
                        const google::protobuf::MessageLite& request,
                        std::vector<lufd::v1::Operation> operations,
                        const std::string& client_txn_id,
                        lufd::v1::WriteResponse* response);
  // Streams every object of `kind` the caller may read (optionally only
  // those owned by `registrant_id`), at most `limit` (0 = all).
  // What the caller may read is judged against `snapshot`'s view, the one
  // streamed.
  absl::Status StreamKind(const CallInfo& call, ViewAccess& snapshot,
                          lufd::v1::ObjectKind kind,
                          const std::string& registrant_id, uint32_t limit,
                          uint64_t* sent,
                          grpc::ServerWriter<lufd::v1::RegistryObject>* writer);

  Registry* const registry_;
  ViewHolder* const views_;
  Store* const store_;
  RpcRunner* const runner_;
  const Options options_;
  std::atomic<KeyAdmin*> key_admin_{nullptr};
  std::atomic<DenialRecorder*> denials_{nullptr};
  std::atomic<Guard*> guard_{nullptr};
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_ADMIN_SERVICE_H_
