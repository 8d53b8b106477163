#include "server/grpc/call.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/core/authz.h"
#include "spdlog/spdlog.h"
#include "storage/write_router.h"

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

namespace {

class MalformedRequestInterceptor final
    : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method()),
        // Only these have their one request parsed before the handler; for
        // the others a missing message is also the end of the stream.
        single_request_(
            info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY ||
            info->type() ==
                grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (single_request_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
    }
    if (unparsed_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        (methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL ||
         methods->GetSendStatus().error_code() ==
             grpc::StatusCode::UNIMPLEMENTED)) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("request could not be parsed as ", method_,
                       "'s request message (malformed protobuf, or a string "
                       "field that is not valid UTF-8)")));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  const bool single_request_;
  bool unparsed_ = false;
};

class MalformedRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MalformedRequestInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMalformedRequestInterceptorFactory() {
  return std::make_unique<MalformedRequestInterceptorFactory>();
}

// One thread per runner (not per stream) that cancels streams whose handler
// has been waiting on the client for longer than the limit, and calls
// `tick` once a period (outside its lock).
class RpcRunner::IdleWatchdog {
 public:
  IdleWatchdog(absl::Duration limit, std::function<void()> tick)
      : limit_ns_(absl::ToInt64Nanoseconds(limit)),
        tick_(std::move(tick)),
        // A stream is cancelled between limit and limit + period.
        period_(
            std::clamp(limit / 4, absl::Milliseconds(10), absl::Seconds(1))),
        thread_([this] { Loop(); }) {}
  ~IdleWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  void Add(StreamActivity* activity) {
    absl::MutexLock lock(&mu_);
    active_.insert(activity);
  }
  // Whether the watchdog cancelled the stream.
  bool Remove(StreamActivity* activity) {
    absl::MutexLock lock(&mu_);
    active_.erase(activity);
    return activity->timed_out;
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_), period_);
      if (stop_) break;
      mu_.Unlock();
      tick_();
      mu_.Lock();
      if (stop_) break;
      const int64_t now = absl::GetCurrentTimeNanos();
      for (StreamActivity* activity : active_) {
        const int64_t since =
            activity->waiting_since_ns.load(std::memory_order_relaxed);
        if (since == 0 || activity->timed_out || now - since <= limit_ns_) {
          continue;
        }
        activity->timed_out = true;
        // Fails the blocked Read/Write; the handler returns and Remove()s
        // the activity (under mu_, so the context outlives this call).
        activity->context->TryCancel();
      }
    }
  }

  const int64_t limit_ns_;
  const std::function<void()> tick_;
  const absl::Duration period_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<StreamActivity*> active_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Last: started once the members above exist.
};

RpcRunner::RpcRunner(Authenticator* auth, absl::Duration max_deadline,
                     uint64_t max_message_bytes,
                     uint32_t max_calls_per_identity)
    : auth_(auth),
      max_deadline_(max_deadline),
      max_message_bytes_(max_message_bytes),
      calls_(max_calls_per_identity),
      watchdog_(std::make_unique<IdleWatchdog>(
          max_deadline, [this] { SummarizeSuppressedLines(); })) {}

void RpcRunner::SummarizeSuppressedLines() {
  // A flood that stops leaves suppressed lines no later line reports: say
  // how many, at most once per kSummaryPeriod.
  constexpr absl::Duration kSummaryPeriod = absl::Seconds(10);
  const absl::Time now = absl::Now();
  if (now - last_summary_ < kSummaryPeriod) return;
  last_summary_ = now;
  const uint64_t n = denied_log_.TakeSuppressed();
  if (n > 0) {
    spdlog::info("suppressed {} denied-call log lines (rate limit per caller)",
                 n);
  }
}

RpcRunner::~RpcRunner() = default;

namespace {

// Marks a side-door stream as waiting on its client between the start of
// each read and its completion, for the runner's idle watchdog.
class SideDoorIdleInterceptor final : public grpc::experimental::Interceptor {
 public:
  using Watch = absl::AnyInvocable<void(StreamActivity*, bool add)>;
  SideDoorIdleInterceptor(grpc::experimental::ServerRpcInfo* info, Watch* watch)
      : activity_(info->server_context()), watch_(watch) {}
  ~SideDoorIdleInterceptor() override { Unwatch(); }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_CANCEL)) {
      methods->Proceed();  // Its batch has no messages to ask about.
      return;
    }
    // gRPC marks no hook point when a read starts (PRE_RECV_MESSAGE is for
    // hijacking clients only), but the batch that starts one already holds
    // its destination: a receive buffer outside POST_RECV_MESSAGE.
    const bool read_done = methods->QueryInterceptionHookPoint(
        InterceptionHookPoints::POST_RECV_MESSAGE);
    if (!read_done && methods->GetRecvMessage() != nullptr) {
      if (!watched_) {
        (*watch_)(&activity_, true);
        watched_ = true;
      }
      activity_.StartWaiting();
    }
    if (read_done) activity_.StopWaiting();
    // The handler is done: stop watching while the context is alive.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Unwatch();
    }
    methods->Proceed();
  }

 private:
  void Unwatch() {
    if (!watched_) return;
    (*watch_)(&activity_, false);
    watched_ = false;
  }

  StreamActivity activity_;
  Watch* const watch_;
  bool watched_ = false;
};

class SideDoorIdleInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit SideDoorIdleInterceptorFactory(SideDoorIdleInterceptor::Watch watch)
      : watch_(std::move(watch)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    if (info->type() != Type::CLIENT_STREAMING &&
        info->type() != Type::BIDI_STREAMING) {
      return nullptr;
    }
    absl::string_view path = info->method();
    for (const RpcRule& rule : RpcRoleTable()) {
      // RpcRunner's own streams mark their waits themselves.
      if (path == absl::StrCat("/", rule.service, "/", rule.method)) {
        return nullptr;
      }
    }
    return new SideDoorIdleInterceptor(info, &watch_);
  }

 private:
  SideDoorIdleInterceptor::Watch watch_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcRunner::MakeSideDoorIdleInterceptorFactory() {
  IdleWatchdog* watchdog = watchdog_.get();
  return std::make_unique<SideDoorIdleInterceptorFactory>(
      [watchdog](StreamActivity* activity, bool add) {
        if (add) {
          watchdog->Add(activity);
        } else {
          watchdog->Remove(activity);
        }
      });
}

absl::Status RpcRunner::CheckRequestSize(
    const google::protobuf::MessageLite& request) const {
  const size_t size = request.ByteSizeLong();
  if (size <= max_message_bytes_) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("request is ", size, " bytes; the limit is ",
                   max_message_bytes_, " (grpc.max_message_bytes)"));
}

void RpcRunner::RecordDenial(const absl::Status& status, const Identity& caller,
                             const std::string& peer, absl::string_view method,
                             absl::Time now) {
  DenialRecord denial = MakeDenialRecord(
      status, caller.anonymous() ? "" : caller.AuditName(), peer, method);
  LogDenial(denial, status, peer, now);
  if (RequestCounters* counters = counters_.load(std::memory_order_relaxed)) {
    counters->Denial(Door::kGrpc,
                     ClassifyIdentity(caller.anonymous(), caller.is_admin()),
                     caller.org_id, status.code());
  }
  if (DenialRecorder* recorder = denials_.load()) {
    recorder->Record(std::move(denial), now);
  }
}

void RpcRunner::LogDenial(const DenialRecord& denial,
                          const absl::Status& status, const std::string& peer,
                          absl::Time now) {
  // Authentication and authorization denials at info (validation errors
  // are the caller's typos: debug), at most a few lines a second per
  // caller; a flooder's lines are counted, and the next line says so.
  const bool info = status.code() == absl::StatusCode::kUnauthenticated ||
                    status.code() == absl::StatusCode::kPermissionDenied;
  if (!info && !spdlog::should_log(spdlog::level::debug)) return;
  uint64_t suppressed = 0;
  if (!denied_log_.Admit(absl::StrCat(denial.actor, " ", denial.peer), now,
                         &suppressed)) {
    return;
  }
  spdlog::log(info ? spdlog::level::info : spdlog::level::debug,
              "denied {} peer={} caller={} code={} msg=\"{}\"{}", denial.method,
              peer, denial.actor, absl::StatusCodeToString(status.code()),
              std::string(status.message()),
              suppressed == 0 ? std::string()
                              : absl::StrCat(" (suppressed ", suppressed,
                                             " similar lines)"));
}

grpc::Status RpcRunner::RunImpl(
    const char* method, grpc::ServerContextBase* context,
    const google::protobuf::MessageLite* request, bool cap_deadline,
    absl::FunctionRef<absl::Status(const CallInfo&)> body) {
  RunningCall call;
  absl::Status status =
      Begin(method, context, request, /*stream=*/!cap_deadline, &call);
  if (status.ok()) status = body(call.info());
  return End(&call, std::move(status));
}

absl::Status RpcRunner::Begin(const char* method,
                              grpc::ServerContextBase* context,
                              const google::protobuf::MessageLite* request,
                              bool stream, RunningCall* call) {
  call->method_ = method;
  call->start_ = absl::Now();
  CallInfo& info = call->info_;
  info.context = context;
  info.deadline =
      stream ? absl::InfiniteFuture() : call->start_ + max_deadline_;
  const auto client_deadline = context->deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    info.deadline = std::min(info.deadline, absl::FromChrono(client_deadline));
  }

  absl::StatusOr<Identity> identity =
      auth_->Authenticate(*context->auth_context());
  if (!identity.ok()) return identity.status();
  info.identity = *std::move(identity);
  RETURN_IF_ERROR(AuthorizeRpc(info.identity, method));
  // After authentication and the role check, so a caller learns the limit
  // only for a method it may call.
  if (request != nullptr) RETURN_IF_ERROR(CheckRequestSize(*request));
  // Last: a call refused above holds no slot.
  RETURN_IF_ERROR(calls_.Acquire(info.identity.org_id));
  call->counted_ = true;
  if (stream) {
    call->activity_ = std::make_unique<StreamActivity>(context);
    info.activity = call->activity_.get();
    watchdog_->Add(info.activity);
  }
  return absl::OkStatus();
}

grpc::Status RpcRunner::End(RunningCall* call, absl::Status status) {
  CallInfo& info = call->info_;
  if (call->activity_ != nullptr) {
    if (watchdog_->Remove(call->activity_.get())) {
      // The client sees CANCELLED (the stream was reset); this is for the
      // log line.
      status = absl::DeadlineExceededError(
          absl::StrCat("stream waited on the client for longer than "
                       "grpc.max_deadline (",
                       absl::FormatDuration(max_deadline_), ")"));
    }
    info.activity = nullptr;
    call->activity_.reset();
  }
  if (call->counted_) {
    calls_.Release(info.identity.org_id);
    call->counted_ = false;
  }

  const absl::Time end = absl::Now();
  if (IsDenial(status.code())) {
    RecordDenial(status, info.identity, info.context->peer(), call->method_,
                 end);
  } else {
    spdlog::debug("rpc {} caller={} code={} latency_ms={:.3f}", call->method_,
                  info.identity.anonymous() ? "-" : info.identity.AuditName(),
                  absl::StatusCodeToString(status.code()),
                  absl::ToDoubleMilliseconds(end - call->start_));
  }
  // A write refused on a read-only standby names the primary's lufd; the
  // endpoint also goes in the trailing metadata, which lufctl follows.
  if (std::optional<std::string> primary = PrimaryEndpointOf(status);
      primary.has_value() && info.context != nullptr) {
    info.context->AddTrailingMetadata(kPrimaryEndpointMetadata, *primary);
  }
  return ToGrpcStatus(status);
}

}  // namespace lufd
