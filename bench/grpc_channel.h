// MakeMtlsChannel: the mTLS channel of the gRPC benchmark and test clients
// (bench/lookup_load, tests/support/idle_streams): the client certificate
// and CA from PEM files, and a channel of its own. gRPC would otherwise
// share one connection among channels with equal arguments, so each gets a
// private subchannel pool and a distinct id argument: N channels are N
// TCP+TLS connections, as N peers would open. Exits (status 2) when a PEM
// file cannot be read. Header-only.
#ifndef LUFD_BENCH_GRPC_CHANNEL_H_
#define LUFD_BENCH_GRPC_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "bench/bench_util.h"

namespace lufd::bench {

struct MtlsFiles {
  std::string ca, cert, key;  // PEM paths.
  std::string server_name;    // TLS name override; empty: none.
};

// `args` may carry more settings; the TLS and pool ones are added here.
inline std::shared_ptr<grpc::Channel> MakeMtlsChannel(
    const char* program, const std::string& target, const MtlsFiles& files,
    int id, grpc::ChannelArguments args = {}) {
  grpc::SslCredentialsOptions ssl;
  if (!ReadFile(files.ca, &ssl.pem_root_certs) ||
      !ReadFile(files.cert, &ssl.pem_cert_chain) ||
      !ReadFile(files.key, &ssl.pem_private_key)) {
    std::fprintf(stderr, "%s: cannot read --ca/--cert/--key\n", program);
    std::exit(2);
  }
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("lufd.bench.channel_id", id);
  if (!files.server_name.empty()) {
    args.SetSslTargetNameOverride(files.server_name);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_GRPC_CHANNEL_H_
