// idle_streams (a test and bench client): opens many BatchLookup streams from
// one identity and keeps them idle, to see what idle streams cost a server (its
// threads) and how many it admits (grpc.max_calls_per_identity).
//
// Each stream sends one query and waits for its answer (so the server has
// begun it), then sends nothing more. Once every stream is either answered
// (idle, open) or ended by the server, it prints
//   SETTLED streams=N open=A <CODE>=n ...
// (codes of the streams the server ended), holds the open streams for
// --hold_s seconds (or until stdin reaches EOF with --hold_stdin), prints
//   HELD open=A <CODE>=n ...
// (what the server ended while held: with grpc.max_deadline shorter than the
// hold, the idle bound ends them all), cancels what is left and exits 0.
// One completion-queue thread drives every stream.
#include <grpcpp/grpcpp.h>
#include <sys/select.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/grpc_channel.h"
#include "lufd/v1/lookup.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server host:port.");
ABSL_FLAG(std::string, ca, "", "CA bundle that signed the server cert (PEM).");
ABSL_FLAG(std::string, cert, "", "Client certificate chain (PEM).");
ABSL_FLAG(std::string, key, "", "Client private key (PEM).");
ABSL_FLAG(std::string, server_name, "", "TLS name override (optional).");
ABSL_FLAG(int, streams, 1000, "BatchLookup streams to open.");
ABSL_FLAG(int, channels, 20,
          "Connections (streams are spread over them; keep streams/channels "
          "under the server's grpc.max_concurrent_streams).");
ABSL_FLAG(std::string, query, "+12025556666", "The one query per stream.");
ABSL_FLAG(double, settle_s, 60, "Give up waiting for the streams after this.");
ABSL_FLAG(double, hold_s, 10, "Hold the open streams this long.");
ABSL_FLAG(bool, hold_stdin, false,
          "Hold until stdin reaches EOF (at most --hold_s) instead.");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "Keep Abseil's mutex deadlock detection on.");

namespace {

enum class Op { kStart, kWrite, kRead, kFinish };

struct Stream;
struct Tag {
  Stream* stream;
  Op op;
};

struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<lufd::v1::LookupRequest,
                                                lufd::v1::LookupResponse>>
      call;
  lufd::v1::LookupRequest request;
  lufd::v1::LookupResponse response;
  grpc::Status status;
  Tag start{this, Op::kStart}, write{this, Op::kWrite}, read{this, Op::kRead},
      finish{this, Op::kFinish};
  bool answered = false;
  bool finished = false;
};

class Tally {
 public:
  void Answered() {
    absl::MutexLock lock(&mu_);
    ++open_;
  }
  void Finished(const Stream& s) {
    absl::MutexLock lock(&mu_);
    if (s.answered) --open_;
    ++ended_[s.status.error_code()];
    ++done_;
  }
  int settled() const {
    absl::MutexLock lock(&mu_);
    return open_ + done_;
  }
  int done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  std::string Line(const char* what, int streams) const {
    absl::MutexLock lock(&mu_);
    std::string line =
        absl::StrCat(what, " streams=", streams, " open=", open_);
    for (const auto& [code, n] : ended_) {
      absl::StrAppend(&line, " ", CodeName(code), "=", n);
    }
    return line;
  }

 private:
  static std::string CodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::OK:
        return "OK";
      case grpc::StatusCode::CANCELLED:
        return "CANCELLED";
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
      case grpc::StatusCode::UNAVAILABLE:
        return "UNAVAILABLE";
      case grpc::StatusCode::UNAUTHENTICATED:
        return "UNAUTHENTICATED";
      case grpc::StatusCode::PERMISSION_DENIED:
        return "PERMISSION_DENIED";
      default:
        return absl::StrCat("CODE_", static_cast<int>(code));
    }
  }
  mutable absl::Mutex mu_;
  int open_ = 0;
  int done_ = 0;
  std::map<grpc::StatusCode, int> ended_;
};

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(argc, argv,
                           "idle_streams: hold many idle BatchLookup streams",
                           FLAGS_mutex_deadlock_detection);
  const int n = absl::GetFlag(FLAGS_streams);
  const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
  std::vector<std::unique_ptr<lufd::v1::LookupService::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    stubs.push_back(
        lufd::v1::LookupService::NewStub(lufd::bench::MakeMtlsChannel(
            "idle_streams", absl::GetFlag(FLAGS_target),
            {absl::GetFlag(FLAGS_ca), absl::GetFlag(FLAGS_cert),
             absl::GetFlag(FLAGS_key), absl::GetFlag(FLAGS_server_name)},
            i)));
  }

  grpc::CompletionQueue cq;
  Tally tally;
  std::vector<std::unique_ptr<Stream>> streams;
  streams.reserve(n);
  std::atomic<int> finished{0};
  std::thread worker([&] {
    void* got;
    bool ok;
    while (cq.Next(&got, &ok)) {
      Tag* tag = static_cast<Tag*>(got);
      Stream* s = tag->stream;
      switch (tag->op) {
        case Op::kStart:
          if (ok) {
            s->call->Write(s->request, &s->write);
          } else {
            s->call->Finish(&s->status, &s->finish);
          }
          break;
        case Op::kWrite:
          if (ok) {
            s->call->Read(&s->response, &s->read);
          } else {
            s->call->Finish(&s->status, &s->finish);
          }
          break;
        case Op::kRead:
          if (ok && !s->answered) {
            s->answered = true;
            tally.Answered();
            // Wait for more (there is none): fails when the stream ends.
            s->call->Read(&s->response, &s->read);
          } else if (ok) {
            s->call->Read(&s->response, &s->read);
          } else {
            s->call->Finish(&s->status, &s->finish);
          }
          break;
        case Op::kFinish:
          s->finished = true;
          tally.Finished(*s);
          finished.fetch_add(1);
          break;
      }
    }
  });

  for (int i = 0; i < n; ++i) {
    auto s = std::make_unique<Stream>();
    s->request.set_query(absl::GetFlag(FLAGS_query));
    s->request.set_request_id(absl::StrCat(i));
    s->call = stubs[i % channels]->PrepareAsyncBatchLookup(&s->context, &cq);
    s->call->StartCall(&s->start);
    streams.push_back(std::move(s));
  }

  const absl::Time settle_by =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_settle_s));
  while (tally.settled() < n && absl::Now() < settle_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::printf("%s\n", tally.Line("SETTLED", n).c_str());
  std::fflush(stdout);

  const absl::Time hold_until =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_hold_s));
  if (absl::GetFlag(FLAGS_hold_stdin)) {
    // Until the caller closes our stdin (it has measured what it wanted).
    while (absl::Now() < hold_until) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(0, &fds);
      timeval tv{0, 50 * 1000};
      if (select(1, &fds, nullptr, nullptr, &tv) > 0) {
        char c;
        if (read(0, &c, 1) <= 0) break;
      }
    }
  } else {
    absl::SleepFor(hold_until - absl::Now());
  }
  std::printf("%s\n", tally.Line("HELD", n).c_str());
  std::fflush(stdout);

  for (auto& s : streams) s->context.TryCancel();
  const absl::Time drain_by = absl::Now() + absl::Seconds(10);
  while (finished.load() < n && absl::Now() < drain_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  cq.Shutdown();
  worker.join();
  return 0;
}
