// propagation: how long a provisioned change takes to be answered by every
// lufd replica (bench/replica/run.sh).
//
// For each of --count changes, one after another: Put a new TN through the
// writer's AdminService (--writer), then poll every reader until it answers
// the number: gRPC Lookup as a peer (--grpc, found=true) and DNS NAPTR with
// DO=1 over UDP (--dns, NOERROR with an answer and, with --signed, its
// RRSIG). Latency is measured from the moment the Put was sent, so it
// includes the writer's commit; the time of the Put's reply is reported
// too. Each reader is polled by a thread of its own every --poll_ms; a
// reader that has not answered within --timeout_ms counts as a failure.
//
// Output: one line per reader and one for "all readers" (a change's latency
// is the largest over readers), as
//   RESULT target=NAME n=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. failed=F
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_util.h"
#include "bench/grpc_channel.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "lufd/v1/lookup.grpc.pb.h"

ABSL_FLAG(std::string, writer, "", "host:port of the lufd that takes the writes.");
ABSL_FLAG(std::vector<std::string>, grpc, {},
          "host:port of each lufd polled with gRPC Lookup.");
ABSL_FLAG(std::vector<std::string>, dns, {},
          "host:port of each lufd polled over DNS (UDP).");
ABSL_FLAG(std::string, zone, "e164.arpa.", "ENUM apex of the DNS names.");
ABSL_FLAG(bool, signed_answers, true,
          "A DNS answer counts only with its RRSIG (DO=1).");
ABSL_FLAG(std::string, ca, "", "CA bundle (PEM).");
ABSL_FLAG(std::string, admin_cert, "", "Writer's client certificate (PEM).");
ABSL_FLAG(std::string, admin_key, "", "Writer's client key (PEM).");
ABSL_FLAG(std::string, peer_cert, "", "Reader's client certificate (PEM).");
ABSL_FLAG(std::string, peer_key, "", "Reader's client key (PEM).");
ABSL_FLAG(std::string, server_name, "", "TLS name override; empty: none.");
ABSL_FLAG(std::string, prefix, "+1202888", "Numbers are PREFIX + 4 digits.");
ABSL_FLAG(int, first, 0, "Suffix of the first number.");
ABSL_FLAG(int, count, 1000, "Changes (<= 10000).");
ABSL_FLAG(std::string, registrant, "iana-en:222", "Registrant of the TNs.");
ABSL_FLAG(std::string, dest_group, "dg-bench", "Destination group of the TNs.");
ABSL_FLAG(int, poll_ms, 2, "Poll period per reader.");
ABSL_FLAG(int, timeout_ms, 5000, "A reader slower than this fails the change.");
ABSL_FLAG(int, gap_ms, 10, "Pause between changes.");
ABSL_FLAG(bool, mutex_deadlock_detection, false, "Abseil's deadlock detection.");

namespace {

using lufd::bench::NowNs;

// The ENUM query name of "+<digits>" under `zone` in wire format.
std::string EnumWireName(const std::string& number, const std::string& zone) {
  std::string wire;
  for (auto it = number.rbegin(); it != number.rend(); ++it) {
    if (*it < '0' || *it > '9') continue;
    wire.push_back(1);
    wire.push_back(*it);
  }
  for (absl::string_view label : absl::StrSplit(zone, '.', absl::SkipEmpty())) {
    wire.push_back(static_cast<char>(label.size()));
    wire.append(label.data(), label.size());
  }
  wire.push_back(0);
  return wire;
}

// A NAPTR query with EDNS0 (DO set when `dnssec`).
std::string NaptrQuery(uint16_t id, const std::string& qname, bool dnssec) {
  std::string q;
  auto u16 = [&q](uint16_t v) {
    q.push_back(static_cast<char>(v >> 8));
    q.push_back(static_cast<char>(v & 0xff));
  };
  u16(id);
  u16(0);  // QUERY, no RD.
  u16(1);
  u16(0);
  u16(0);
  u16(1);
  q += qname;
  u16(35);  // NAPTR
  u16(1);   // IN
  q.push_back(0);  // OPT owner: root
  u16(41);
  u16(1232);
  u16(0);  // Extended RCODE, version.
  u16(dnssec ? 0x8000 : 0);
  u16(0);
  return q;
}

class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::string name() const = 0;
  // True when the reader answers `number` now.
  virtual bool Answers(const std::string& number) = 0;
};

class GrpcReader : public Reader {
 public:
  GrpcReader(const std::string& target, const lufd::bench::MtlsFiles& files,
             int id)
      : target_(target),
        stub_(lufd::v1::LookupService::NewStub(lufd::bench::MakeMtlsChannel(
            "propagation", target, files, id))) {}
  std::string name() const override { return "grpc:" + target_; }
  bool Answers(const std::string& number) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(1000));
    lufd::v1::LookupRequest req;
    req.set_query(number);
    lufd::v1::LookupResponse resp;
    grpc::Status s = stub_->Lookup(&ctx, req, &resp);
    return s.ok() && resp.found();
  }

 private:
  std::string target_;
  std::unique_ptr<lufd::v1::LookupService::Stub> stub_;
};

class DnsReader : public Reader {
 public:
  explicit DnsReader(const std::string& target) : target_(target) {
    std::pair<std::string, std::string> hp =
        absl::StrSplit(target, absl::MaxSplits(':', 1));
    int port = 0;
    if (!absl::SimpleAtoi(hp.second, &port)) {
      std::fprintf(stderr, "propagation: bad --dns %s\n", target.c_str());
      std::exit(2);
    }
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, hp.first.c_str(), &addr_.sin_addr);
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr_),
                           sizeof(addr_)) != 0) {
      std::perror("propagation: dns socket");
      std::exit(2);
    }
  }
  ~DnsReader() override { close(fd_); }
  std::string name() const override { return "dns:" + target_; }
  bool Answers(const std::string& number) override {
    const bool dnssec = absl::GetFlag(FLAGS_signed_answers);
    const uint16_t id = ++id_;
    std::string q =
        NaptrQuery(id, EnumWireName(number, absl::GetFlag(FLAGS_zone)), dnssec);
    if (send(fd_, q.data(), q.size(), 0) < 0) return false;
    const int64_t deadline = NowNs() + 500'000'000;
    unsigned char buf[4096];
    while (NowNs() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 12) continue;
      if (((buf[0] << 8) | buf[1]) != id) continue;  // A late reply.
      const int rcode = buf[3] & 0x0f;
      const int ancount = (buf[6] << 8) | buf[7];
      return rcode == 0 && ancount >= (dnssec ? 2 : 1);
    }
    return false;
  }

 private:
  std::string target_;
  sockaddr_in addr_{};
  int fd_ = -1;
  uint16_t id_ = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void Report(const std::string& target, const std::vector<double>& ms,
            int failed) {
  std::printf(
      "RESULT target=%s n=%zu p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f "
      "max_ms=%.1f failed=%d\n",
      target.c_str(), ms.size(), Percentile(ms, 0.5), Percentile(ms, 0.9),
      Percentile(ms, 0.99), ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()),
      failed);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(
      argc, argv,
      "propagation --writer H:P --grpc H:P[,..] --dns H:P[,..] --ca ... "
      "--admin_cert ... --peer_cert ...",
      FLAGS_mutex_deadlock_detection);
  const int count = std::clamp(absl::GetFlag(FLAGS_count), 1, 10000);
  lufd::bench::MtlsFiles admin{absl::GetFlag(FLAGS_ca),
                               absl::GetFlag(FLAGS_admin_cert),
                               absl::GetFlag(FLAGS_admin_key),
                               absl::GetFlag(FLAGS_server_name)};
  lufd::bench::MtlsFiles peer{absl::GetFlag(FLAGS_ca),
                              absl::GetFlag(FLAGS_peer_cert),
                              absl::GetFlag(FLAGS_peer_key),
                              absl::GetFlag(FLAGS_server_name)};
  auto writer = lufd::v1::AdminService::NewStub(lufd::bench::MakeMtlsChannel(
      "propagation", absl::GetFlag(FLAGS_writer), admin, 0));
  std::vector<std::unique_ptr<Reader>> readers;
  int id = 1;
  for (const std::string& t : absl::GetFlag(FLAGS_grpc)) {
    readers.push_back(std::make_unique<GrpcReader>(t, peer, id++));
  }
  for (const std::string& t : absl::GetFlag(FLAGS_dns)) {
    readers.push_back(std::make_unique<DnsReader>(t));
  }
  if (readers.empty()) {
    std::fprintf(stderr, "propagation: no --grpc or --dns reader\n");
    return 2;
  }
  const int poll_ms = std::max(1, absl::GetFlag(FLAGS_poll_ms));
  const int64_t timeout_ns =
      static_cast<int64_t>(absl::GetFlag(FLAGS_timeout_ms)) * 1'000'000;

  std::vector<std::vector<double>> per_reader(readers.size());
  std::vector<int> failed(readers.size(), 0);
  std::vector<double> all, put_ms;
  int all_failed = 0, write_errors = 0;
  for (int i = 0; i < count; ++i) {
    const std::string number = absl::StrFormat(
        "%s%04d", absl::GetFlag(FLAGS_prefix), absl::GetFlag(FLAGS_first) + i);
    lufd::v1::PutRequest put;
    lufd::v1::PublicIdentifier* tn = put.mutable_object()->mutable_identifier();
    tn->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
    tn->set_value(number);
    tn->set_registrant_id(absl::GetFlag(FLAGS_registrant));
    tn->add_dest_group_ids(absl::GetFlag(FLAGS_dest_group));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    lufd::v1::WriteResponse resp;
    const int64_t t0 = NowNs();
    grpc::Status s = writer->Put(&ctx, put, &resp);
    put_ms.push_back((NowNs() - t0) / 1e6);
    if (!s.ok()) {
      ++write_errors;
      std::fprintf(stderr, "propagation: Put %s: %s\n", number.c_str(),
                   s.error_message().c_str());
      if (write_errors > 10) return 1;
      continue;
    }
    std::vector<double> took(readers.size(), -1);
    std::vector<std::thread> pollers;
    for (size_t r = 0; r < readers.size(); ++r) {
      pollers.emplace_back([&, r] {
        while (NowNs() - t0 < timeout_ns) {
          if (readers[r]->Answers(number)) {
            took[r] = (NowNs() - t0) / 1e6;
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
        }
      });
    }
    for (std::thread& t : pollers) t.join();
    double worst = 0;
    bool any_failed = false;
    for (size_t r = 0; r < readers.size(); ++r) {
      if (took[r] < 0) {
        ++failed[r];
        any_failed = true;
      } else {
        per_reader[r].push_back(took[r]);
        worst = std::max(worst, took[r]);
      }
    }
    if (any_failed) {
      ++all_failed;
    } else {
      all.push_back(worst);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(absl::GetFlag(FLAGS_gap_ms)));
  }
  for (size_t r = 0; r < readers.size(); ++r) {
    Report(readers[r]->name(), per_reader[r], failed[r]);
  }
  Report("all", all, all_failed);
  Report("put_reply", put_ms, write_errors);
  return all_failed == 0 && write_errors == 0 ? 0 : 1;
}
