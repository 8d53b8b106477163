// lookup_timing: the timing oracle of lufd.v1.LookupService.Lookup over
// mTLS, as a harvester would measure it (bench/lookup_timing.sh drives it).
//
// --queries names a file of lines "KIND CLASS QUERY" (CLASS is invisible or
// nonexistent; KIND is a label such as tn, range, prefix, uri). For each
// KIND, --samples calls of each class are interleaved in random order (to
// cancel drift), after --warmup untimed calls; every call is a blocking
// unary Lookup on one persistent channel, timed alone with the steady clock.
// Every call must answer NOT_FOUND (the caller sees neither class); any
// other answer is counted and makes the exit status 1.
// Output: one line per KIND with both distributions' p10/p50/p90/p99 (µs)
// and the AUC (bench/timing_stats.h): P(invisible slower than
// nonexistent), 0.5 = indistinguishable. Loopback only in the scripts;
// every loop is bounded by the flags.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/timing_stats.h"
#include "lufd/v1/lookup.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server host:port.");
ABSL_FLAG(std::string, ca, "", "CA bundle that signed the server cert (PEM).");
ABSL_FLAG(std::string, cert, "", "Client certificate (PEM).");
ABSL_FLAG(std::string, key, "", "Client private key (PEM).");
ABSL_FLAG(std::string, queries, "", "File of 'KIND CLASS QUERY' lines.");
ABSL_FLAG(int, samples, 2000, "Timed calls per class and kind (1..100000).");
ABSL_FLAG(int, warmup, 500, "Untimed calls per kind first (0..100000).");
ABSL_FLAG(int, seed, 1, "Random seed (call order).");
ABSL_FLAG(std::string, out, "", "Also append the result lines to this file.");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "Keep Abseil's mutex deadlock detection on.");

namespace {

struct Pools {
  std::vector<std::string> invisible, nonexistent;
};

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(
      argc, argv,
      "lookup_timing: invisible vs nonexistent Lookup latency over mTLS",
      FLAGS_mutex_deadlock_detection);
  const int samples = std::clamp(absl::GetFlag(FLAGS_samples), 1, 100000);
  const int warmup = std::clamp(absl::GetFlag(FLAGS_warmup), 0, 100000);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));

  std::map<std::string, Pools> kinds;
  std::vector<std::string> kind_order;
  {
    std::ifstream in(absl::GetFlag(FLAGS_queries));
    if (!in) {
      std::fprintf(stderr, "lookup_timing: cannot read --queries\n");
      return 2;
    }
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string kind, cls, query;
      if (!(fields >> kind >> cls >> query)) continue;
      if (!kinds.count(kind)) kind_order.push_back(kind);
      Pools& p = kinds[kind];
      (cls == "invisible" ? p.invisible : p.nonexistent).push_back(query);
    }
  }

  grpc::SslCredentialsOptions ssl;
  if (!lufd::bench::ReadFile(absl::GetFlag(FLAGS_ca), &ssl.pem_root_certs) ||
      !lufd::bench::ReadFile(absl::GetFlag(FLAGS_cert), &ssl.pem_cert_chain) ||
      !lufd::bench::ReadFile(absl::GetFlag(FLAGS_key), &ssl.pem_private_key)) {
    std::fprintf(stderr, "lookup_timing: cannot read --ca/--cert/--key\n");
    return 2;
  }
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_target),
                                     grpc::SslCredentials(ssl));
  auto stub = lufd::v1::LookupService::NewStub(channel);

  size_t unexpected = 0;
  std::string first_unexpected;
  // One Lookup; its latency in nanoseconds.
  auto call = [&](const std::string& query) -> int64_t {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    lufd::v1::LookupRequest req;
    req.set_query(query);
    lufd::v1::LookupResponse resp;
    const auto t0 = std::chrono::steady_clock::now();
    grpc::Status status = stub->Lookup(&ctx, req, &resp);
    const auto t1 = std::chrono::steady_clock::now();
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      if (unexpected++ == 0) {
        first_unexpected = absl::StrCat(query, ": code ", status.error_code(),
                                        " ", status.error_message());
      }
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
        .count();
  };

  std::vector<std::string> lines;
  for (const std::string& name : kind_order) {
    Pools& p = kinds[name];
    if (p.invisible.empty() || p.nonexistent.empty()) {
      std::fprintf(stderr, "lookup_timing: kind %s lacks a class\n",
                   name.c_str());
      return 2;
    }
    for (int i = 0; i < warmup; ++i) {
      call(i % 2 ? p.nonexistent[i % p.nonexistent.size()]
                 : p.invisible[i % p.invisible.size()]);
    }
    std::vector<uint8_t> order(2 * static_cast<size_t>(samples), 0);
    std::fill(order.begin() + samples, order.end(), 1);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> t_invisible, t_nonexistent;
    size_t next[2] = {0, 0};
    for (uint8_t cls : order) {
      const auto& pool = cls ? p.nonexistent : p.invisible;
      const int64_t ns = call(pool[next[cls]++ % pool.size()]);
      (cls ? t_nonexistent : t_invisible).push_back(ns);
    }
    lines.push_back(lufd::bench::CompareLine(
        absl::StrCat("grpc kind=", name), "invisible", &t_invisible,
        "nonexistent", &t_nonexistent, 1000.0, "us"));
  }
  lufd::bench::PrintLines(lines, absl::GetFlag(FLAGS_out));
  if (unexpected != 0) {
    std::fprintf(stderr, "lookup_timing: %zu calls not NOT_FOUND; first: %s\n",
                 unexpected, first_unexpected.c_str());
    return 1;
  }
  return 0;
}
