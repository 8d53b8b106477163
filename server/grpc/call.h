// RpcRunner: the fixed prologue/epilogue of every lufd RPC handler.
//
// Each handler body runs inside RpcRunner::Run, which
//   1. authenticates the caller from its client certificate (auth.h),
//   2. checks the caller's role against the method's row of the RPC role
//      table (server/core/authz.h: AuthorizeRpc),
//   3. rejects a request larger than grpc.max_message_bytes with
//      INVALID_ARGUMENT (streamed messages: CheckRequestSize per message).
//      gRPC's own receive limit is set higher (TransportMaxMessageBytes), so
//      that the policy answer is INVALID_ARGUMENT, as the API promises,
//      rather than gRPC's RESOURCE_EXHAUSTED; a message beyond the transport
//      limit still gets RESOURCE_EXHAUSTED from gRPC before any handler runs,
//   4. computes the effective deadline: for unary calls the client's, capped
//      at grpc.max_deadline (also when the client sent none), so long loops
//      in the body stop in time (CheckCallAlive below). Streaming calls keep
//      the client's deadline (a large import or export may rightly take
//      longer than max_deadline) but may not sit waiting on the client
//      (ReadFromClient/WriteToClient) for longer than max_deadline at a
//      time: a watchdog thread cancels such a stream (the client sees
//      CANCELLED), so an idle client cannot pin a server thread forever,
//   5. counts the call against its caller's org (grpc.max_calls_per_identity,
//      call_limit.h): a call beyond the cap ends at once with
//      RESOURCE_EXHAUSTED "too many calls in progress for <org>",
//   6. runs the body, maps its absl::Status onto grpc::Status (the codes are
//      the same numbers) and logs: method, caller, code, latency at debug;
//      authentication/authorization denials at info, rate-limited per
//      caller (LogLimiter: 5 at once, then 1 a second each; the next line
//      written says how many were suppressed, and a summary line every 10 s
//      counts those no later line reported),
//   7. records every denial (IsDenial: the final status of every RPC) in the
//      denial audit (server/core/denial_audit.h), when one is set.
// Run/RunStream do all of it around a body that runs on the calling thread
// (the synchronous AdminService). Callback handlers, whose body is spread
// over reactions (LookupService's BatchLookup), use the same steps split in
// two: Begin (1-5) and End (the rest).
// Thread-safe; `auth` must outlive the runner.
#ifndef LUFD_SERVER_GRPC_CALL_H_
#define LUFD_SERVER_GRPC_CALL_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/denial_audit.h"
#include "server/core/identity.h"
#include "server/grpc/auth.h"
#include "server/grpc/call_limit.h"
#include "server/ops/log_limiter.h"
#include "server/ops/request_counters.h"

namespace lufd {

grpc::Status ToGrpcStatus(const absl::Status& status);

// How long a streaming call has been waiting on its client; watched by the
// RpcRunner's idle watchdog.
struct StreamActivity {
  explicit StreamActivity(grpc::ServerContextBase* ctx) : context(ctx) {}
  grpc::ServerContextBase* const context;
  // absl::GetCurrentTimeNanos() when the handler started waiting on the
  // client; 0 while it is not waiting (working or done).
  std::atomic<int64_t> waiting_since_ns{0};
  bool timed_out = false;  // Set (once) by the watchdog, under its mutex.

  // Around every read or write that waits on the client.
  void StartWaiting() {
    waiting_since_ns.store(absl::GetCurrentTimeNanos(),
                           std::memory_order_relaxed);
  }
  void StopWaiting() { waiting_since_ns.store(0, std::memory_order_relaxed); }
};

// What a handler body gets.
struct CallInfo {
  Identity identity;
  absl::Time deadline;  // Effective deadline (client's, capped).
  // The sync or the callback API's context.
  grpc::ServerContextBase* context = nullptr;
  StreamActivity* activity = nullptr;  // Streaming calls only.
};

// One call between RpcRunner::Begin and RpcRunner::End. Not movable once
// begun (the runner's watchdog and call count refer to it).
class RunningCall {
 public:
  RunningCall() = default;
  RunningCall(const RunningCall&) = delete;
  RunningCall& operator=(const RunningCall&) = delete;

  const CallInfo& info() const { return info_; }

 private:
  friend class RpcRunner;
  CallInfo info_;
  const char* method_ = "";
  absl::Time start_;
  bool counted_ = false;  // Holds a CallLimiter slot of info_.identity.
  std::unique_ptr<StreamActivity> activity_;  // Streams: watched while set.
};

// Marks the handler of a streaming call as waiting on its client for the
// scope (a blocking Read or Write). No-op for unary calls.
class ClientWait {
 public:
  explicit ClientWait(const CallInfo& call) : activity_(call.activity) {
    if (activity_ != nullptr) activity_->StartWaiting();
  }
  ~ClientWait() {
    if (activity_ != nullptr) activity_->StopWaiting();
  }
  ClientWait(const ClientWait&) = delete;
  ClientWait& operator=(const ClientWait&) = delete;

 private:
  StreamActivity* const activity_;
};

// stream->Read / Write under ClientWait: what every streaming handler uses,
// so an idle client is bounded by grpc.max_deadline.
template <typename Stream, typename Message>
bool ReadFromClient(const CallInfo& call, Stream* stream, Message* message) {
  ClientWait wait(call);
  return stream->Read(message);
}
template <typename Stream, typename Message>
bool WriteToClient(const CallInfo& call, Stream* stream,
                   const Message& message) {
  ClientWait wait(call);
  return stream->Write(message);
}

// DEADLINE_EXCEEDED once `call.deadline` passed, CANCELLED if the client
// went away; OK otherwise. For loops in streaming/batch handlers.
absl::Status CheckCallAlive(const CallInfo& call);

// gRPC's receive limit for a grpc.max_message_bytes policy: 4x the policy,
// at most 256 MiB (and never below the policy). The headroom lets requests
// between the two limits reach RpcRunner and get INVALID_ARGUMENT.
int TransportMaxMessageBytes(uint64_t max_message_bytes);

// Makes the server's answer to a request it cannot parse (garbage bytes, or
// a proto3 string field that is not valid UTF-8) INVALID_ARGUMENT "request
// could not be parsed as <method>'s request: ...". gRPC 1.51's sync server
// parses a unary or server-streaming request before any handler runs and
// answers INTERNAL with an empty message when that fails (its callback
// server, UNIMPLEMENTED with an empty message); this interceptor
// sees the failed parse (POST_RECV_MESSAGE without a message) and rewrites
// that status as it is sent. Install it on the ServerBuilder
// (experimental().SetInterceptorCreators). Client-streaming and bidi calls
// (BatchLookup, Import) are not covered: for them gRPC reports a failed
// parse to the handler exactly like the end of the stream.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMalformedRequestInterceptorFactory();

class RpcRunner {
 public:
  // `max_calls_per_identity`: grpc.max_calls_per_identity (0: no cap).
  RpcRunner(Authenticator* auth, absl::Duration max_deadline,
            uint64_t max_message_bytes, uint32_t max_calls_per_identity = 0);
  ~RpcRunner();
  RpcRunner(const RpcRunner&) = delete;
  RpcRunner& operator=(const RpcRunner&) = delete;

  // Unary calls: the deadline is capped at max_deadline. `request` is
  // size-checked before the body runs.
  grpc::Status Run(const char* method, grpc::ServerContextBase* context,
                   const google::protobuf::MessageLite& request,
                   absl::FunctionRef<absl::Status(const CallInfo&)> body) {
    return RunImpl(method, context, &request, /*cap_deadline=*/true, body);
  }
  // Streaming calls: a long export or import is legitimate, so only the
  // client's own deadline (if any) applies. `request` is the server-streaming
  // request (nullptr for client/bidi streams, whose bodies call
  // CheckRequestSize on every message they read).
  grpc::Status RunStream(
      const char* method, grpc::ServerContextBase* context,
      const google::protobuf::MessageLite* request,
      absl::FunctionRef<absl::Status(const CallInfo&)> body) {
    return RunImpl(method, context, request, /*cap_deadline=*/false, body);
  }

  // Run's steps for a body that does not run in one piece (a callback
  // reactor). Begin does steps 1-5 (`stream`: RunStream's deadline and idle
  // watchdog, with call->info().activity set; else Run's); when it returns
  // OK the body may run, and End must be called exactly once (also when
  // Begin failed: End logs and audits the refusal) with the body's status,
  // before the context goes away. End returns what the client gets.
  absl::Status Begin(const char* method, grpc::ServerContextBase* context,
                     const google::protobuf::MessageLite* request, bool stream,
                     RunningCall* call);
  grpc::Status End(RunningCall* call, absl::Status status);

  // The per-identity call counts, shared with the side doors
  // (side_doors.h).
  CallLimiter* call_limiter() { return &calls_; }

  // Where denials are recorded (null: nowhere). Set before serving, or at
  // any time; the recorder must outlive the runner or be reset first.
  void set_denial_recorder(DenialRecorder* recorder) {
    denials_.store(recorder);
  }

  // Where refused calls are counted for the metrics, by door, identity
  // class and code (null: nowhere); same lifetime rule as the recorder.
  void set_request_counters(RequestCounters* counters) {
    counters_.store(counters);
  }

  // The same idle bound for the streams RpcRunner does not run: a
  // client-streaming or bidi call of a method outside the RPC role table
  // (gRPC's reflection, a sync bidi stream that holds a server thread while
  // it waits on its client) is cancelled once it has waited on its client
  // for longer than max_deadline. Install on the ServerBuilder
  // (experimental().SetInterceptorCreators); the runner must outlive the
  // server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeSideDoorIdleInterceptorFactory();

  // Records a refused call (denial audit, if a recorder is set) and writes
  // its rate-limited log line: what RunImpl does with every RPC's denial,
  // for the calls it does not run (side_doors.h), at `now`. `caller` is
  // anonymous when authentication failed; `peer` may be empty when unknown.
  void RecordDenial(const absl::Status& status, const Identity& caller,
                    const std::string& peer, absl::string_view method,
                    absl::Time now);

  // INVALID_ARGUMENT "request is N bytes; the limit is M
  // (grpc.max_message_bytes)" when `request` is over the policy limit.
  absl::Status CheckRequestSize(
      const google::protobuf::MessageLite& request) const;

 private:
  grpc::Status RunImpl(const char* method, grpc::ServerContextBase* context,
                       const google::protobuf::MessageLite* request,
                       bool cap_deadline,
                       absl::FunctionRef<absl::Status(const CallInfo&)> body);

  class IdleWatchdog;

  // Logs (at most every 10 s) how many denied-call lines were suppressed
  // and not yet reported by a later line. Watchdog thread only.
  void SummarizeSuppressedLines();
  // The rate-limited log line of a denial.
  void LogDenial(const DenialRecord& denial, const absl::Status& status,
                 const std::string& peer, absl::Time now);

  Authenticator* const auth_;
  const absl::Duration max_deadline_;
  const uint64_t max_message_bytes_;
  // Denied-call log lines, per caller. Before the watchdog, whose thread
  // summarizes it.
  LogLimiter denied_log_;
  absl::Time last_summary_ = absl::Now();  // Watchdog thread only.
  std::atomic<DenialRecorder*> denials_{nullptr};
  std::atomic<RequestCounters*> counters_{nullptr};
  CallLimiter calls_;
  const std::unique_ptr<IdleWatchdog> watchdog_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_CALL_H_
