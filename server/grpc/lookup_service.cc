#include "server/grpc/lookup_service.h"

#include "absl/strings/str_cat.h"
#include "server/core/normalize.h"

namespace lufd {

absl::Status LookupServiceImpl::Answer(
    const Identity& identity, const lufd::v1::LookupRequest& request,
    const absl::StatusOr<LookupQuery>& query, const RegistryView& view,
    lufd::v1::LookupResponse* response) const {
  response->set_request_id(request.request_id());
  if (!query.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed query: ", query.status().message()));
  }
  response->set_serial(view.serial());
  Resolution resolution = query->kind == LookupQuery::Kind::kNumber
                              ? view.ResolveNumber(query->value, identity)
                              : view.ResolveUri(query->value, identity);
  if (!resolution.found) {
    return absl::NotFoundError("no SED for this query");
  }
  response->set_found(true);
  response->set_normalized(
      resolution.normalized.empty() ? query->value : resolution.normalized);
  if (query->kind == LookupQuery::Kind::kNumber) {
    response->set_domain(E164ToEnumDomain(response->normalized(), apex_));
  }
  for (lufd::v1::SedAnswer& answer : resolution.records) {
    *response->add_records() = std::move(answer);
  }
  return absl::OkStatus();
}

absl::Status LookupServiceImpl::GuardedAnswer(
    const CallInfo& call, const lufd::v1::LookupRequest& request,
    lufd::v1::LookupResponse* response) const {
  absl::Status status = GuardedAnswerUncounted(call, request, response);
  // Answered: found, or NOT_FOUND (absent and invisible alike). Refusals
  // are counted by RpcRunner, a malformed query as its INVALID_ARGUMENT.
  if (counters_ != nullptr &&
      (status.ok() || status.code() == absl::StatusCode::kNotFound)) {
    const Identity& identity = call.identity;
    counters_->Lookup(
        Door::kGrpc,
        ClassifyIdentity(identity.anonymous(), identity.is_admin()),
        identity.org_id, status.ok());
  }
  return status;
}

absl::Status LookupServiceImpl::GuardedAnswerUncounted(
    const CallInfo& call, const lufd::v1::LookupRequest& request,
    lufd::v1::LookupResponse* response) const {
  const absl::StatusOr<LookupQuery> query = ParseLookupQuery(request.query());
  std::shared_ptr<const RegistryView> view = views_->Current();
  const Identity& identity = call.identity;
  if (guard_ == nullptr || identity.is_admin() || identity.anonymous()) {
    return Answer(identity, request, query, *view, response);
  }
  const GuardLimits& peer_default = peer_default_->Current()->peer;
  GuardLimits limits = peer_default;
  if (std::optional<lufd::v1::RegistryObject> org =
          view->Get(lufd::v1::OBJECT_KIND_ORG, identity.org_id);
      org.has_value()) {
    limits = EffectiveLimits(org->org().quota(), peer_default);
  }
  const GuardKey key = GuardKey::Org(identity.org_id);
  // A malformed query is charged like a miss (item "": never disclosed).
  Guard::Admission admission = guard_->Admit(
      key, limits, query.ok() ? absl::string_view(query->value) : "",
      absl::Now());
  if (!admission.status.ok()) {
    if (call.context != nullptr) {
      call.context->AddTrailingMetadata(
          "retry-after-ms",
          absl::StrCat(absl::ToInt64Milliseconds(
              absl::Ceil(admission.retry_after, absl::Milliseconds(1)))));
    }
    return admission.status;
  }
  absl::Status status = Answer(identity, request, query, *view, response);
  // Only "answered with SED or not": NOT_FOUND is the same for a number
  // that does not exist and one the caller may not see.
  guard_->Report(key, admission, status.ok(), absl::Now());
  return status;
}

grpc::ServerUnaryReactor* LookupServiceImpl::Lookup(
    grpc::CallbackServerContext* context,
    const lufd::v1::LookupRequest* request,
    lufd::v1::LookupResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(
      runner_->Run("Lookup", context, *request, [&](const CallInfo& call) {
        absl::Status status = GuardedAnswer(call, *request, response);
        if (!status.ok()) response->Clear();
        return status;
      }));
  return reactor;
}

// One BatchLookup stream. One request is read, answered and written before
// the next is read, so at most one request per stream is in flight on the
// server; HTTP/2 flow control pushes back on a client that sends faster than
// it reads. Exactly one read or write is outstanding until Finish, so every
// end (client done, client gone, watchdog's cancel) arrives as a completion.
class LookupServiceImpl::BatchLookupReactor final
    : public grpc::ServerBidiReactor<lufd::v1::LookupRequest,
                                     lufd::v1::LookupResponse> {
 public:
  BatchLookupReactor(const LookupServiceImpl* service,
                     grpc::CallbackServerContext* context)
      : service_(service), runner_(service->runner_) {
    absl::Status begun =
        runner_->Begin("BatchLookup", context,
                       /*request=*/nullptr, /*stream=*/true, &call_);
    if (!begun.ok()) {
      End(std::move(begun));
      return;
    }
    Read();
  }

  void OnReadDone(bool ok) override {
    Waited();
    // Not ok: the client closed its side (or the stream was cancelled,
    // which End reports).
    if (!ok) return End(absl::OkStatus());
    // An oversized query ends the stream (like a unary call's
    // INVALID_ARGUMENT) rather than getting a per-item error: it is a
    // client bug, not a bad number.
    if (absl::Status size = runner_->CheckRequestSize(request_); !size.ok()) {
      return End(std::move(size));
    }
    if (absl::Status alive = CheckCallAlive(call_.info()); !alive.ok()) {
      return End(std::move(alive));
    }
    response_.Clear();
    absl::Status status =
        service_->GuardedAnswer(call_.info(), request_, &response_);
    // Over a limit: the stream ends (the audit records it once).
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      return End(std::move(status));
    }
    if (!status.ok()) {
      const uint64_t serial = response_.serial();
      response_.Clear();
      response_.set_request_id(request_.request_id());
      response_.set_serial(serial);
      if (status.code() == absl::StatusCode::kInvalidArgument) {
        response_.set_error(std::string(status.message()));
      }
    }
    Waiting();
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    Waited();
    if (!ok) return End(absl::CancelledError("client stopped reading"));
    Read();
  }

  void OnDone() override { delete this; }

 private:
  void Read() {
    Waiting();
    StartRead(&request_);
  }
  // The watchdog's view: waiting on the client between the start of a read
  // or write and its completion (ClientWait for the sync handlers).
  void Waiting() {
    if (StreamActivity* activity = call_.info().activity) {
      activity->StartWaiting();
    }
  }
  void Waited() {
    if (StreamActivity* activity = call_.info().activity) {
      activity->StopWaiting();
    }
  }
  void End(absl::Status status) {
    Finish(runner_->End(&call_, std::move(status)));
  }

  const LookupServiceImpl* const service_;
  RpcRunner* const runner_;
  RunningCall call_;
  lufd::v1::LookupRequest request_;
  lufd::v1::LookupResponse response_;
};

grpc::ServerBidiReactor<lufd::v1::LookupRequest, lufd::v1::LookupResponse>*
LookupServiceImpl::BatchLookup(grpc::CallbackServerContext* context) {
  return new BatchLookupReactor(this, context);
}

}  // namespace lufd
