// LookupService: the peer-facing read API. Answers from the current
// RegistryView (never the database) for the authenticated caller's identity.
// Not-found and not-visible are the same NOT_FOUND, so the API is no oracle.
// Roles: PEER and ADMIN, per server/core/authz.h's RPC table (a registrar
// that also peers has a separate peer credential); what each caller sees is
// the view's resolution, which applies authz.h's visibility rule. Thread-safe;
// pointers must outlive the service.
#ifndef LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_
#define LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_

#include <string>

#include "lufd/v1/lookup.grpc.pb.h"
#include "server/core/view.h"
#include "server/grpc/call.h"

namespace lufd {

class LookupServiceImpl final : public lufd::v1::LookupService::Service {
 public:
  LookupServiceImpl(ViewHolder* views, RpcRunner* runner,
                    std::string enum_apex = "e164.arpa.")
      : views_(views), runner_(runner), apex_(std::move(enum_apex)) {}

  grpc::Status Lookup(grpc::ServerContext* context,
                      const lufd::v1::LookupRequest* request,
                      lufd::v1::LookupResponse* response) override;
  grpc::Status BatchLookup(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<lufd::v1::LookupResponse,
                               lufd::v1::LookupRequest>* stream) override;

 private:
  // Fills `response` for one query; the status is INVALID_ARGUMENT for a
  // malformed query and NOT_FOUND for no visible SED.
  absl::Status Answer(const Identity& identity,
                      const lufd::v1::LookupRequest& request,
                      lufd::v1::LookupResponse* response) const;

  ViewHolder* const views_;
  RpcRunner* const runner_;
  const std::string apex_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_
