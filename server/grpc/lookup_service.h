// LookupService: the peer-facing read API. Answers from the current
// RegistryView (never the database) for the authenticated caller's identity.
// Not-found and not-visible are the same NOT_FOUND, so the API is no oracle.
// Roles: PEER and ADMIN, per server/core/authz.h's RPC table (a registrar
// that also peers has a separate peer credential); what each caller sees is
// the view's resolution, which applies authz.h's visibility rule.
// The guard stage (server/guard/guard.h, when set): every non-admin lookup
// is admitted by the guard for the caller's org before it is resolved, and
// its outcome (answered with SED or not) reported after; a refusal is
// RESOURCE_EXHAUSTED naming the limit, with a `retry-after-ms` trailer
// (BatchLookup: the stream ends with it; answers already sent stand).
// Callback API (gRPC's CallbackService): Lookup answers inline on the gRPC
// thread that received the request (resolution and the guard never block),
// and a BatchLookup stream is a reactor that holds no thread while it waits
// on its client; RpcRunner's Begin/End give both the prologue/epilogue the
// synchronous AdminService gets from RpcRunner::Run, and its idle watchdog
// still ends a BatchLookup stream that waits on its client for longer than
// grpc.max_deadline.
// Thread-safe; pointers must outlive the service.
#ifndef LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_
#define LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_

#include <memory>
#include <string>

#include "lufd/v1/lookup.grpc.pb.h"
#include "server/core/normalize.h"
#include "server/core/view.h"
#include "server/grpc/call.h"
#include "server/guard/guard.h"
#include "server/guard/guard_policy.h"
#include "server/ops/request_counters.h"

namespace lufd {

class LookupServiceImpl final
    : public lufd::v1::LookupService::CallbackService {
 public:
  LookupServiceImpl(ViewHolder* views, RpcRunner* runner,
                    std::string enum_apex = "e164.arpa.")
      : views_(views), runner_(runner), apex_(std::move(enum_apex)) {}

  // Enables the guard stage (null: off). `peer_default` applies to orgs
  // whose Quota leaves a field 0. Call before serving.
  // Where answered lookups (found or NOT_FOUND) are counted for the
  // metrics; null = nowhere. Set before serving; must outlive the service.
  void set_counters(RequestCounters* counters) { counters_ = counters; }
  void set_guard(Guard* guard, GuardLimits peer_default) {
    guard_ = guard;
    GuardPolicy policy;
    policy.peer = peer_default;
    peer_default_ = std::make_unique<GuardPolicyHolder>(std::move(policy));
  }
  // A new `peer_default` while serving (config reload); the next call
  // uses it. Does nothing before set_guard().
  void UpdatePeerDefault(GuardLimits peer_default) {
    if (peer_default_ == nullptr) return;
    GuardPolicy policy;
    policy.peer = peer_default;
    peer_default_->Set(std::move(policy));
  }

  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext* context,
                                   const lufd::v1::LookupRequest* request,
                                   lufd::v1::LookupResponse* response) override;
  grpc::ServerBidiReactor<lufd::v1::LookupRequest, lufd::v1::LookupResponse>*
  BatchLookup(grpc::CallbackServerContext* context) override;

 private:
  class BatchLookupReactor;

  // Fills `response` for one query; the status is INVALID_ARGUMENT for a
  // malformed query and NOT_FOUND for no visible SED.
  absl::Status Answer(const Identity& identity,
                      const lufd::v1::LookupRequest& request,
                      const absl::StatusOr<LookupQuery>& query,
                      const RegistryView& view,
                      lufd::v1::LookupResponse* response) const;
  // Answer() behind the guard stage, counted (set_counters).
  absl::Status GuardedAnswer(const CallInfo& call,
                             const lufd::v1::LookupRequest& request,
                             lufd::v1::LookupResponse* response) const;
  absl::Status GuardedAnswerUncounted(const CallInfo& call,
                                      const lufd::v1::LookupRequest& request,
                                      lufd::v1::LookupResponse* response) const;

  ViewHolder* const views_;
  RpcRunner* const runner_;
  const std::string apex_;
  Guard* guard_ = nullptr;
  RequestCounters* counters_ = nullptr;
  // Only its `peer` is used. Set by set_guard, before serving.
  std::unique_ptr<GuardPolicyHolder> peer_default_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_LOOKUP_SERVICE_H_
