// Authenticator: maps the verified client certificate of a gRPC call to an
// Identity (org, credential, role), per RPC, and enforces revocation.
//
// The TLS layer (tls.h) has already verified the chain against the client
// CA bundle. Here, for every call:
//   1. the peer certificate (auth_context "x509_pem_cert") is parsed; its
//      SPKI SHA-256 (lowercase hex over the DER SubjectPublicKeyInfo) and SAN
//      URIs are computed;
//   2. if a CRL file is configured, revocation is checked fail-closed: the
//      certificate's issuer (from the client CA bundle) must have a CRL in
//      the file that it signed and that has not expired, else
//      UNAUTHENTICATED "no valid CRL for issuer"; a listed serial is
//      UNAUTHENTICATED "certificate revoked". gRPC 1.51's own CRL support
//      fails open and never reloads, so it is not used;
//   3. the credential is looked up in the *current* view, so disabling a
//      credential (or its org) denies the very next RPC.
// Parsing and CRL results are cached per certificate (keyed by the PEM text
// and the CRL generation), so the hot path is one hash lookup plus the view
// lookup. The CRL and CA files are re-read when their mtime/size/inode
// change, checked at most once per `recheck_interval`. If the files cannot be
// read the CRL set becomes empty, which denies (fail-closed).
//
// Limitation: the issuer must be in the client CA bundle itself (a client
// chain through an intermediate not in the bundle is denied when a CRL file
// is configured).
//
// Thread-safe; all methods may be called concurrently. `views` must outlive
// the Authenticator.
#ifndef LUFD_SERVER_GRPC_AUTH_H_
#define LUFD_SERVER_GRPC_AUTH_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"
#include "server/core/view.h"

namespace lufd {

// What the server needs from a client certificate.
struct PeerCertInfo {
  std::string spki_sha256;            // Lowercase hex.
  std::vector<std::string> san_uris;  // In certificate order.
};

// Parses one PEM certificate; INVALID_ARGUMENT when it is not one.
absl::StatusOr<PeerCertInfo> InspectCertificatePem(absl::string_view pem);

class Authenticator {
 public:
  struct Options {
    std::string client_ca_file;  // Needed to find CRL issuers.
    std::string crl_file;        // Empty: no revocation checking.
    absl::Duration recheck_interval = absl::Seconds(1);
  };

  Authenticator(ViewHolder* views, Options options);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // The caller's identity, or UNAUTHENTICATED with a message that names no
  // registry data.
  absl::StatusOr<Identity> Authenticate(const grpc::AuthContext& context);
  // Same, from the peer certificate's PEM text (used by tests and by
  // Authenticate).
  absl::StatusOr<Identity> AuthenticatePem(absl::string_view pem);

 private:
  struct CrlState;
  struct CertEntry;

  // Returns the current CRL state, reloading it if the files changed and
  // recheck_interval has passed since the last check.
  std::shared_ptr<const CrlState> CurrentCrlState();
  static absl::Status CheckRevocation(const CrlState& state,
                                      const CertEntry& cert,
                                      absl::Time* valid_until);

  ViewHolder* const views_;
  const Options options_;

  absl::Mutex crl_mu_;
  std::shared_ptr<const CrlState> crl_state_ ABSL_GUARDED_BY(crl_mu_);
  absl::Time last_crl_check_ ABSL_GUARDED_BY(crl_mu_) = absl::InfinitePast();

  absl::Mutex cache_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<CertEntry>> cache_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace lufd

#endif  // LUFD_SERVER_GRPC_AUTH_H_
