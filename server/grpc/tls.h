// Server TLS credentials for lufd's gRPC port: mutual TLS with client
// certificates REQUIRED and verified against the client CA bundle, and the
// server key/cert and CA bundle re-read from disk while running
// (FileWatcherCertificateProvider), so rotation needs no restart.
//
// TLS version: TLS 1.3 only. gRPC 1.51's API has no set_min_tls_version, so
// MakeServerCredentials installs an OpenSSL process-wide policy that excludes
// TLS 1.2 and older from every SSL context the process creates (this also
// applies to lufd's libpq connections, which PostgreSQL 15 serves over 1.3). Revocation is NOT delegated to gRPC
// (its CRL directory support fails open and is read once); the per-RPC
// Authenticator (auth.h) enforces it fail-closed.
//
// Stateless functions; the returned credentials own the file watcher.
#ifndef LUFD_SERVER_GRPC_TLS_H_
#define LUFD_SERVER_GRPC_TLS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "lufd/v1/config.pb.h"

namespace lufd {

// Checks that the files parse (cert chain, matching key, CA bundle) so a bad
// file is a clear start-up error rather than failing handshakes, then builds
// the watching credentials. `tls.reload_interval` must be a valid duration
// (rounded up to whole seconds, at least 1).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const lufd::v1::TlsConfig& tls);

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_TLS_H_
