// null_server: a do-nothing lufd.v1.LookupService for the lookup benchmark.
//
// It terminates mTLS exactly like lufd (TLS server certificate, client
// certificate required and verified against a CA bundle) and answers every
// Lookup with one fixed LookupResponse about the size of a real one-NAPTR
// answer (only request_id is echoed). Whatever lookup_load reaches against
// it is the ceiling set by gRPC, TLS and the load generator on this machine;
// lufd's rate divided by this one is the share of that ceiling lufd keeps.
//
// --mode=sync uses the synchronous server (gRPC's thread pool, the model most
// services use); --mode=callback the callback API (reactor per call). Runs
// until SIGINT/SIGTERM or --max_seconds, then shuts down gracefully.

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"
#include "lufd/v1/lookup.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "host:port to listen on (port 0 = pick a free one).");
ABSL_FLAG(std::string, cert, "", "Server certificate chain (PEM).");
ABSL_FLAG(std::string, key, "", "Server private key (PEM).");
ABSL_FLAG(std::string, client_ca, "", "CA bundle for client certificates.");
ABSL_FLAG(std::string, mode, "sync", "sync | callback");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written here once serving.");
ABSL_FLAG(int, max_seconds, 900, "Exit after this long even if not signalled.");
ABSL_FLAG(bool, mutex_deadlock_detection, true,
          "Leave absl::Mutex deadlock detection as Debian's Abseil sets it "
          "(on: built without NDEBUG), like lufd; false shows what turning "
          "it off would gain.");

namespace {

using lufd::bench::ReadFile;

// A typical one-NAPTR answer for a +4930 number.
lufd::v1::LookupResponse FixedResponse() {
  lufd::v1::LookupResponse r;
  r.set_found(true);
  r.set_normalized("+493012345678");
  r.set_domain("8.7.6.5.4.3.2.1.0.3.9.4.e164.arpa.");
  r.set_serial(1000003);
  lufd::v1::SedAnswer* a = r.add_records();
  a->set_ttl(3600);
  lufd::v1::NaptrRecord* n = a->mutable_naptr();
  n->set_order(100);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!sip:+493012345678@ssp2.example.com!");
  return r;
}

class SyncLookup final : public lufd::v1::LookupService::Service {
 public:
  grpc::Status Lookup(grpc::ServerContext*, const lufd::v1::LookupRequest* req,
                      lufd::v1::LookupResponse* resp) override {
    *resp = fixed_;
    resp->set_request_id(req->request_id());
    return grpc::Status::OK;
  }

 private:
  const lufd::v1::LookupResponse fixed_ = FixedResponse();
};

class CallbackLookup final : public lufd::v1::LookupService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext* ctx,
                                   const lufd::v1::LookupRequest* req,
                                   lufd::v1::LookupResponse* resp) override {
    *resp = fixed_;
    resp->set_request_id(req->request_id());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const lufd::v1::LookupResponse fixed_ = FixedResponse();
};

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(argc, argv,
                           "Do-nothing mTLS LookupService (benchmark).",
                           FLAGS_mutex_deadlock_detection);

  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadFile(absl::GetFlag(FLAGS_key), &pair.private_key) ||
      !ReadFile(absl::GetFlag(FLAGS_cert), &pair.cert_chain) ||
      !ReadFile(absl::GetFlag(FLAGS_client_ca), &ssl.pem_root_certs)) {
    std::fprintf(stderr, "null_server: cannot read --cert/--key/--client_ca\n");
    return 2;
  }
  ssl.pem_key_cert_pairs.push_back(pair);

  // Block the shutdown signals before gRPC starts threads so only sigwait
  // below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  SyncLookup sync_service;
  CallbackLookup callback_service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen),
                           grpc::SslServerCredentials(ssl), &port);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "sync") {
    builder.RegisterService(&sync_service);
  } else if (mode == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    std::fprintf(stderr, "null_server: --mode must be sync or callback\n");
    return 2;
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "null_server: cannot listen on %s\n",
                 absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  std::fprintf(stderr, "null_server: serving (%s) on port %d\n", mode.c_str(),
               port);
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    // Write then rename, so a poller never reads a half-written file.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }

  timespec timeout{absl::GetFlag(FLAGS_max_seconds), 0};
  int sig = sigtimedwait(&sigs, nullptr, &timeout);
  std::fprintf(stderr, "null_server: %s, shutting down\n",
               sig > 0 ? "signalled" : "max_seconds reached");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
