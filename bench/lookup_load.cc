// lookup_load: an mTLS gRPC load generator for lufd.v1.LookupService.Lookup.
//
// It opens --channels persistent channels, each with its own
// ChannelArguments and GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL=1 (plus a distinct
// channel-id argument), so each really is a separate TCP+TLS connection, as
// separate peer SSPs would be. --target may list several servers
// (replicas): channel i connects to the (i mod n)-th. Calls use the async
// API: every --threads thread owns one CompletionQueue and a share of the
// channels, the concurrency and the rate; a thread takes its channels in
// turn, so with one thread consecutive calls alternate between replicas.
//
// Two disciplines:
//  - closed loop (--rate=0): --concurrency calls are kept in flight; each
//    completion issues the next. Measures peak throughput.
//  - open loop (--rate=R): calls are issued on a fixed schedule of R/s
//    regardless of completions (up to --concurrency in flight; beyond that a
//    scheduled call is counted as "skipped"). Latency is measured from the
//    *scheduled* send time, so a stalled server is not hidden by the
//    generator waiting for it (no coordinated omission).
// Numbers are drawn uniformly at random from --numbers (one per line, or a
// CSV whose first column is the number; a "tn" header is skipped).
// The first --warmup_s seconds are not measured; the run is bounded by
// --duration_s (at most 600).
//
// --batch=N (N > 0) uses BatchLookup instead: closed loop, --concurrency
// threads (at most 256), thread i starting on channel i % --channels and
// taking the next channel for each batch, each batch N requests on one
// stream (request_id = its position in the batch), then reading the
// answers; a stream the server ends early (e.g.
// RESOURCE_EXHAUSTED once the caller is over a limit) counts one error of
// that code, and the answers before it still count. Latency is per batch,
// sent counts requests; "batches" is the number of streams.
//
// --wait_ok_s=T is the one-shot mode for time-to-serving: it retries one
// Lookup every 20 ms (fast reconnect backoff) until it succeeds (and is
// found, with --expect_found) or T seconds pass; exit status 0 on success.
//
// Output: human-readable lines, then one machine-readable line
//   RESULT key=value ...
// that the bench scripts parse. Single process; not a library.

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "bench/grpc_channel.h"
#include "lufd/v1/lookup.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "Server host:port, or several comma-separated (replicas): channel "
          "i connects to the (i mod n)-th, and calls take the channels in "
          "turn, so consecutive calls alternate between the targets.");
ABSL_FLAG(std::string, ca, "", "CA bundle that signed the server cert (PEM).");
ABSL_FLAG(std::string, cert, "", "Client certificate chain (PEM).");
ABSL_FLAG(std::string, key, "", "Client private key (PEM).");
ABSL_FLAG(std::string, server_name, "",
          "TLS name to verify instead of the target host (optional).");
ABSL_FLAG(int, channels, 4, "Separate connections.");
ABSL_FLAG(int, threads, 1, "Completion-queue threads.");
ABSL_FLAG(int, concurrency, 64, "Max calls in flight (all channels).");
ABSL_FLAG(double, rate, 0, "Calls/s, open loop; 0 = closed loop (max).");
ABSL_FLAG(double, duration_s, 10, "Measured seconds (<= 600).");
ABSL_FLAG(double, warmup_s, 1, "Unmeasured seconds before the measurement.");
ABSL_FLAG(int, deadline_ms, 5000, "Per-call deadline.");
ABSL_FLAG(std::string, numbers, "", "File of numbers (or CSV, first column).");
ABSL_FLAG(std::string, query, "+493012345678",
          "The query when --numbers is not given.");
ABSL_FLAG(bool, expect_found, false,
          "Count found=false as failure (and require it in --wait_ok_s).");
ABSL_FLAG(double, wait_ok_s, 0,
          "One-shot mode: retry one Lookup until OK, at most this long.");
ABSL_FLAG(int, server_pid, 0,
          "If set, report this process's CPU use during the measurement.");
ABSL_FLAG(uint64_t, seed, 42, "Random seed for number selection.");
ABSL_FLAG(bool, sequential, false,
          "Ask the --numbers in file order (shared by all threads, wrapping "
          "at the end) instead of at random: a harvester's scan.");
ABSL_FLAG(int, batch, 0,
          "Requests per BatchLookup stream; 0 = unary Lookup. Closed loop "
          "only (--rate must be 0).");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "Keep absl::Mutex deadlock detection on. Debian's Abseil is built "
          "without NDEBUG, so it is on by default and makes every lock (gRPC "
          "uses absl::Mutex) ~2.5x dearer; the generator turns it off.");

namespace {

using Clock = std::chrono::steady_clock;
using lufd::bench::NowNs;  // On Clock.

gpr_timespec ToGpr(int64_t steady_ns) {
  // CompletionQueue deadlines use the system clock; convert via the offset.
  auto delta = std::chrono::nanoseconds(steady_ns - NowNs());
  auto sys = std::chrono::system_clock::now() + delta;
  return grpc::TimePoint<std::chrono::system_clock::time_point>(sys).raw_time();
}

using lufd::bench::ReadFile;

std::vector<std::string> LoadNumbers(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::string first = line.substr(0, line.find(','));
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) {
      first.pop_back();
    }
    if (first.empty() || first == "tn") continue;
    out.push_back(std::move(first));
  }
  return out;
}

// Process CPU seconds (user+system) of a pid, from /proc/PID/stat.
double ProcCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string s((std::istreambuf_iterator<char>(in)),
                std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream rest(s.substr(p + 2));
  std::string field;
  // Fields after ")": state(3) ... utime is field 14, stime 15 (1-based).
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

std::shared_ptr<grpc::Channel> MakeChannel(int id, bool fast_reconnect) {
  grpc::ChannelArguments args;
  if (fast_reconnect) {
    // Time-to-serving polls a server that is not listening yet; gRPC's
    // default 1 s (growing) reconnect backoff would dominate the result.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
  }
  // Several targets (replicas): channel i connects to target i % n.
  std::vector<std::string> targets =
      absl::StrSplit(absl::GetFlag(FLAGS_target), ',', absl::SkipEmpty());
  if (targets.empty()) targets.push_back(absl::GetFlag(FLAGS_target));
  return lufd::bench::MakeMtlsChannel(
      "lookup_load", targets[id % targets.size()],
      {absl::GetFlag(FLAGS_ca), absl::GetFlag(FLAGS_cert),
       absl::GetFlag(FLAGS_key), absl::GetFlag(FLAGS_server_name)},
      id, std::move(args));
}

struct Call {
  grpc::ClientContext ctx;
  lufd::v1::LookupResponse resp;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<lufd::v1::LookupResponse>>
      rpc;
  int64_t scheduled_ns = 0;  // Latency origin.
  size_t number = 0;         // Index into the numbers.
};

struct WorkerResult {
  std::vector<int64_t> latencies_ns;  // OK calls scheduled in the window.
  uint64_t ok_in_window = 0;          // OK completions inside the window.
  uint64_t found = 0, not_found = 0, skipped = 0, sent = 0, batches = 0;
  // Every number answered found (any time, not only in the window): what a
  // harvester learned.
  absl::flat_hash_set<size_t> found_numbers;
  std::map<int, uint64_t> errors;  // By gRPC status code.
  std::string first_error;
};

struct Plan {
  int64_t start_ns, measure_ns, end_ns;
  double rate;  // Per worker; 0 = closed loop.
  int concurrency;
  int deadline_ms;
};

class Worker {
 public:
  Worker(std::vector<std::unique_ptr<lufd::v1::LookupService::Stub>> stubs,
         const std::vector<std::string>* numbers, uint64_t seed, Plan plan,
         std::atomic<uint64_t>* sequence)
      : stubs_(std::move(stubs)),
        numbers_(numbers),
        rng_(seed),
        plan_(plan),
        sequence_(sequence) {}

  void Run() {
    if (plan_.rate > 0) {
      RunOpen();
    } else {
      RunClosed();
    }
    Drain();
  }

  WorkerResult& result() { return result_; }

 private:
  void Issue(int64_t scheduled_ns) {
    auto* call = new Call;
    call->scheduled_ns = scheduled_ns;
    call->ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(plan_.deadline_ms));
    lufd::v1::LookupRequest req;
    call->number =
        (sequence_ != nullptr ? sequence_->fetch_add(1) : pick_(rng_)) %
        numbers_->size();
    req.set_query((*numbers_)[call->number]);
    auto& stub = stubs_[next_stub_++ % stubs_.size()];
    call->rpc = stub->PrepareAsyncLookup(&call->ctx, req, &cq_);
    call->rpc->StartCall();
    call->rpc->Finish(&call->resp, &call->status, call);
    ++in_flight_;
    ++result_.sent;
  }

  void Complete(Call* call) {
    --in_flight_;
    const int64_t now = NowNs();
    if (call->status.ok()) {
      if (call->resp.found()) result_.found_numbers.insert(call->number);
      if (now >= plan_.measure_ns && now <= plan_.end_ns) {
        ++result_.ok_in_window;
      }
      if (call->scheduled_ns >= plan_.measure_ns &&
          call->scheduled_ns < plan_.end_ns) {
        result_.latencies_ns.push_back(now - call->scheduled_ns);
        (call->resp.found() ? result_.found : result_.not_found)++;
      }
    } else {
      ++result_.errors[call->status.error_code()];
      if (result_.first_error.empty()) {
        result_.first_error = absl::StrCat(call->status.error_code(), ": ",
                                           call->status.error_message());
      }
    }
    delete call;
  }

  void RunClosed() {
    for (int i = 0; i < plan_.concurrency; ++i) Issue(NowNs());
    // Bounded by end_ns: every Next waits at most until the end.
    while (in_flight_ > 0) {
      void* tag;
      bool ok;
      auto st = cq_.AsyncNext(&tag, &ok, ToGpr(plan_.end_ns));
      if (st != grpc::CompletionQueue::GOT_EVENT) break;
      Complete(static_cast<Call*>(tag));
      const int64_t now = NowNs();
      if (now < plan_.end_ns) Issue(now);
    }
  }

  // The schedule is kept by a thread of its own that sleeps with the
  // kernel's timer (tens of µs late at most), while this thread takes the
  // completions. Pacing with AsyncNext's deadline instead woke up to a
  // millisecond late (gRPC core keeps time in milliseconds), and since
  // latency counts from the scheduled time, that lateness alone was a p99 of
  // ~1.5-2.3 ms against a server doing no work at all.
  void RunOpen() {
    std::atomic<bool> issuing{true};
    std::thread pacer([&] {
      const double interval_ns = 1e9 / plan_.rate;
      for (uint64_t k = 0;; ++k) {
        const int64_t next =
            plan_.start_ns + static_cast<int64_t>(k * interval_ns);
        if (next >= plan_.end_ns) break;
        const int64_t now = NowNs();
        if (next > now) absl::SleepFor(absl::Nanoseconds(next - now));
        if (in_flight_.load() < plan_.concurrency) {
          Issue(next);
        } else {
          ++result_.skipped;
        }
      }
      issuing.store(false);
    });
    // Until the pacer is done; Drain() then waits for what is in flight.
    while (issuing.load() || NowNs() < plan_.end_ns) {
      void* tag;
      bool ok;
      auto st = cq_.AsyncNext(
          &tag, &ok,
          ToGpr(std::min(NowNs() + 100'000'000, plan_.end_ns + 1'000'000)));
      if (st == grpc::CompletionQueue::SHUTDOWN) break;
      if (st == grpc::CompletionQueue::GOT_EVENT) {
        Complete(static_cast<Call*>(tag));
      }
    }
    pacer.join();
  }

  // Wait (bounded by the call deadline) for calls still in flight.
  void Drain() {
    const int64_t limit =
        NowNs() + (plan_.deadline_ms + 1000) * int64_t{1000000};
    while (in_flight_ > 0) {
      void* tag;
      bool ok;
      if (cq_.AsyncNext(&tag, &ok, ToGpr(limit)) !=
          grpc::CompletionQueue::GOT_EVENT) {
        break;
      }
      Complete(static_cast<Call*>(tag));
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    // After Shutdown, Next returns false once the queue is empty; calls that
    // never completed (leak on a hung server) are abandoned with the process.
    for (int i = 0; i < 1000000 && cq_.Next(&tag, &ok); ++i) {
      delete static_cast<Call*>(tag);
    }
  }

  std::vector<std::unique_ptr<lufd::v1::LookupService::Stub>> stubs_;
  const std::vector<std::string>* numbers_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> pick_;
  Plan plan_;
  grpc::CompletionQueue cq_;
  size_t next_stub_ = 0;
  // Open loop: the pacer issues, this thread completes.
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t>* sequence_;  // Null: random picks.
  WorkerResult result_;
};

// --batch: one synchronous BatchLookup stream at a time per thread (the
// harvester's door; no open loop, so the simple blocking API will do).
class BatchWorker {
 public:
  BatchWorker(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
              size_t first_channel, const std::vector<std::string>* numbers,
              uint64_t seed, Plan plan, int batch,
              std::atomic<uint64_t>* sequence)
      : next_stub_(first_channel),
        numbers_(numbers),
        rng_(seed),
        plan_(plan),
        batch_(batch),
        sequence_(sequence) {
    for (const auto& c : channels) {
      stubs_.push_back(lufd::v1::LookupService::NewStub(c));
    }
  }

  void Run() {
    while (NowNs() < plan_.end_ns) OneBatch();
  }
  WorkerResult& result() { return result_; }

 private:
  void OneBatch() {
    const int64_t t0 = NowNs();
    std::vector<size_t> index(batch_);
    const uint64_t first =
        sequence_ != nullptr ? sequence_->fetch_add(batch_) : 0;
    for (int i = 0; i < batch_; ++i) {
      index[i] =
          (sequence_ != nullptr ? first + i : pick_(rng_)) % numbers_->size();
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(plan_.deadline_ms));
    // Each batch on the next channel: with several --target replicas,
    // consecutive batches alternate between them.
    auto stream = stubs_[next_stub_++ % stubs_.size()]->BatchLookup(&ctx);
    lufd::v1::LookupRequest req;
    for (int i = 0; i < batch_; ++i) {
      req.set_query((*numbers_)[index[i]]);
      req.set_request_id(std::to_string(i));
      ++result_.sent;
      if (!stream->Write(req)) break;  // The server ended the stream.
    }
    stream->WritesDone();
    ++result_.batches;
    const bool in_window = t0 >= plan_.measure_ns && t0 < plan_.end_ns;
    lufd::v1::LookupResponse resp;
    while (stream->Read(&resp)) {
      int i = -1;
      if (!absl::SimpleAtoi(resp.request_id(), &i) || i < 0 || i >= batch_) {
        continue;
      }
      if (resp.found()) result_.found_numbers.insert(index[i]);
      if (in_window) {
        ++result_.ok_in_window;
        (resp.found() ? result_.found : result_.not_found)++;
      }
    }
    grpc::Status status = stream->Finish();
    if (status.ok()) {
      if (in_window) result_.latencies_ns.push_back(NowNs() - t0);
      return;
    }
    ++result_.errors[status.error_code()];
    if (result_.first_error.empty()) {
      result_.first_error =
          absl::StrCat(status.error_code(), ": ", status.error_message());
    }
  }

  std::vector<std::unique_ptr<lufd::v1::LookupService::Stub>> stubs_;
  size_t next_stub_;
  const std::vector<std::string>* numbers_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> pick_;
  Plan plan_;
  const int batch_;
  std::atomic<uint64_t>* sequence_;  // Null: random picks.
  WorkerResult result_;
};

int WaitOk(const std::vector<std::string>& numbers) {
  const int64_t start = NowNs();
  const int64_t limit =
      start + static_cast<int64_t>(absl::GetFlag(FLAGS_wait_ok_s) * 1e9);
  auto channel = MakeChannel(0, /*fast_reconnect=*/true);
  auto stub = lufd::v1::LookupService::NewStub(channel);
  std::string last = "no attempt";
  // Bounded by the deadline; each attempt takes at most 500 ms + 20 ms.
  for (int attempt = 1; NowNs() < limit; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(500));
    // Wait for a connection within this attempt rather than fail at once
    // while the channel is still in backoff.
    ctx.set_wait_for_ready(true);
    lufd::v1::LookupRequest req;
    req.set_query(numbers[0]);
    lufd::v1::LookupResponse resp;
    grpc::Status st = stub->Lookup(&ctx, req, &resp);
    if (st.ok() && (resp.found() || !absl::GetFlag(FLAGS_expect_found))) {
      std::printf("RESULT wait_ok=1 attempts=%d elapsed_s=%.3f found=%d\n",
                  attempt, (NowNs() - start) / 1e9, resp.found() ? 1 : 0);
      return 0;
    }
    last = st.ok() ? "OK but found=false"
                   : absl::StrCat(st.error_code(), ": ", st.error_message());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("RESULT wait_ok=0 elapsed_s=%.3f last=\"%s\"\n",
              (NowNs() - start) / 1e9, last.c_str());
  return 1;
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * (sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;  // microseconds
}

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(
      argc, argv, "mTLS gRPC load generator for lufd.v1.LookupService.Lookup.",
      FLAGS_mutex_deadlock_detection);

  std::vector<std::string> numbers;
  if (!absl::GetFlag(FLAGS_numbers).empty()) {
    numbers = LoadNumbers(absl::GetFlag(FLAGS_numbers));
  } else {
    numbers.push_back(absl::GetFlag(FLAGS_query));
  }
  if (numbers.empty()) {
    std::fprintf(stderr, "lookup_load: no numbers in %s\n",
                 absl::GetFlag(FLAGS_numbers).c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_wait_ok_s) > 0) return WaitOk(numbers);

  const int n_channels = std::max(1, absl::GetFlag(FLAGS_channels));
  const int n_threads =
      std::max(1, std::min(absl::GetFlag(FLAGS_threads), n_channels));
  const int concurrency = std::max(n_threads, absl::GetFlag(FLAGS_concurrency));
  const double rate = absl::GetFlag(FLAGS_rate);
  const double duration_s =
      std::min(600.0, std::max(0.1, absl::GetFlag(FLAGS_duration_s)));
  const double warmup_s = std::max(0.0, absl::GetFlag(FLAGS_warmup_s));

  // Connect every channel before the clock starts.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n_channels; ++i) {
    channels.push_back(MakeChannel(i, /*fast_reconnect=*/false));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10))) {
      std::fprintf(stderr, "lookup_load: channel %d did not connect to %s\n", i,
                   absl::GetFlag(FLAGS_target).c_str());
      return 1;
    }
  }

  const int64_t start = NowNs() + 20'000'000;  // Let all threads start.
  Plan plan{start,
            start + static_cast<int64_t>(warmup_s * 1e9),
            start + static_cast<int64_t>((warmup_s + duration_s) * 1e9),
            rate / n_threads,
            0,
            absl::GetFlag(FLAGS_deadline_ms)};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<BatchWorker>> batch_workers;
  std::atomic<uint64_t> sequence{0};
  std::atomic<uint64_t>* seq =
      absl::GetFlag(FLAGS_sequential) ? &sequence : nullptr;
  const int batch = absl::GetFlag(FLAGS_batch);
  if (batch > 0 && rate > 0) {
    std::fprintf(stderr, "lookup_load: --batch is closed loop (--rate=0)\n");
    return 2;
  }
  for (int t = 0; batch > 0 && t < std::min(concurrency, 256); ++t) {
    batch_workers.push_back(std::make_unique<BatchWorker>(
        channels, t % n_channels, &numbers, absl::GetFlag(FLAGS_seed) + t, plan,
        batch, seq));
  }
  for (int t = 0; batch == 0 && t < n_threads; ++t) {
    std::vector<std::unique_ptr<lufd::v1::LookupService::Stub>> stubs;
    for (int c = t; c < n_channels; c += n_threads) {
      stubs.push_back(lufd::v1::LookupService::NewStub(channels[c]));
    }
    Plan p = plan;
    p.concurrency = concurrency / n_threads + (t < concurrency % n_threads);
    workers.push_back(std::make_unique<Worker>(
        std::move(stubs), &numbers, absl::GetFlag(FLAGS_seed) + t, p, seq));
  }

  // CPU use during the measured window only: sample at its edges.
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  double self_cpu0 = 0, server_cpu0 = 0, self_cpu1 = 0, server_cpu1 = 0;
  std::thread sampler([&] {
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(plan.measure_ns - NowNs()));
    self_cpu0 = SelfCpuSeconds();
    if (server_pid > 0) server_cpu0 = ProcCpuSeconds(server_pid);
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(plan.end_ns - NowNs()));
    self_cpu1 = SelfCpuSeconds();
    if (server_pid > 0) server_cpu1 = ProcCpuSeconds(server_pid);
  });
  std::this_thread::sleep_until(
      Clock::time_point(std::chrono::nanoseconds(start)));
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& w : batch_workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();
  sampler.join();

  WorkerResult all;
  std::vector<WorkerResult*> results;
  for (auto& w : workers) results.push_back(&w->result());
  for (auto& w : batch_workers) results.push_back(&w->result());
  for (WorkerResult* rp : results) {
    WorkerResult& r = *rp;
    all.batches += r.batches;
    all.latencies_ns.insert(all.latencies_ns.end(), r.latencies_ns.begin(),
                            r.latencies_ns.end());
    all.ok_in_window += r.ok_in_window;
    all.found += r.found;
    all.not_found += r.not_found;
    all.skipped += r.skipped;
    all.sent += r.sent;
    all.found_numbers.insert(r.found_numbers.begin(), r.found_numbers.end());
    for (auto& [code, n] : r.errors) all.errors[code] += n;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  std::sort(all.latencies_ns.begin(), all.latencies_ns.end());
  uint64_t errors = 0;
  std::string error_codes;
  for (auto& [code, n] : all.errors) {
    errors += n;
    absl::StrAppend(&error_codes, error_codes.empty() ? "" : ",", code, ":", n);
  }
  const double rps = all.ok_in_window / duration_s;
  const auto& l = all.latencies_ns;
  const double client_cpu = (self_cpu1 - self_cpu0) / duration_s;
  const double server_cpu =
      server_pid > 0 ? (server_cpu1 - server_cpu0) / duration_s : -1;

  std::printf(
      "target %s, %d channels, %d threads, concurrency %d, %s\n",
      absl::GetFlag(FLAGS_target).c_str(), n_channels, n_threads, concurrency,
      rate > 0 ? absl::StrFormat("open loop at %.0f/s", rate).c_str()
      : batch > 0
          ? absl::StrFormat("closed loop, BatchLookup of %d", batch).c_str()
          : "closed loop");
  std::printf("measured %.1f s after %.1f s warmup: %" PRIu64
              " OK (%.0f lookups/s), %" PRIu64 " errors, %" PRIu64
              " skipped, %" PRIu64 " found, %" PRIu64 " not found\n",
              duration_s, warmup_s, all.ok_in_window, rps, errors, all.skipped,
              all.found, all.not_found);
  std::printf("latency us: p50 %.0f  p90 %.0f  p99 %.0f  p999 %.0f  max %.0f\n",
              Percentile(l, 0.5), Percentile(l, 0.9), Percentile(l, 0.99),
              Percentile(l, 0.999), l.empty() ? 0.0 : l.back() / 1000.0);
  std::printf(
      "cpu (cores busy): client %.2f, server %s\n", client_cpu,
      server_pid > 0 ? absl::StrFormat("%.2f", server_cpu).c_str() : "n/a");
  if (!all.first_error.empty()) {
    std::printf("first error: %s\n", all.first_error.c_str());
  }
  std::printf(
      "RESULT rps=%.0f ok=%" PRIu64 " errors=%" PRIu64
      " error_codes=%s"
      " skipped=%" PRIu64 " found=%" PRIu64 " not_found=%" PRIu64
      " p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f"
      " client_cpu=%.2f server_cpu=%.2f rate=%.0f channels=%d concurrency=%d"
      " duration_s=%.1f sent=%" PRIu64
      " distinct_found=%zu batch=%d"
      " batches=%" PRIu64 "\n",
      rps, all.ok_in_window, errors,
      error_codes.empty() ? "-" : error_codes.c_str(), all.skipped, all.found,
      all.not_found, Percentile(l, 0.5), Percentile(l, 0.9),
      Percentile(l, 0.99), Percentile(l, 0.999),
      l.empty() ? 0.0 : l.back() / 1000.0, client_cpu, server_cpu, rate,
      n_channels, concurrency, duration_s, all.sent, all.found_numbers.size(),
      batch, all.batches);
  const bool missing = absl::GetFlag(FLAGS_expect_found) && all.not_found > 0;
  return (errors == 0 && !missing && all.ok_in_window > 0) ? 0 : 1;
}
