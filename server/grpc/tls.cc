#include "server/grpc/tls.h"

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cmath>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "server/ops/config_values.h"
#include "server/ops/tls_files.h"

namespace lufd {
namespace {

// gRPC 1.51 pins every server SSL_CTX to "TLS 1.2 minimum" and offers no
// setter. OpenSSL's process-wide system_default settings are applied to each
// new SSL_CTX before gRPC's min-version call, and the protocol exclusion they
// set (SSL_OP_NO_TLSv1_2) survives it; so TLS 1.2 and below are refused.
// Loaded from memory, after OpenSSL's own config, so the distribution's
// config cannot override it; CipherString keeps Debian's security level.
absl::Status RequireTls13ProcessWide() {
  static constexpr char kPolicy[] =
      "lufd = lufd_init\n"
      "[lufd_init]\nssl_conf = lufd_ssl\n"
      "[lufd_ssl]\nsystem_default = lufd_tls\n"
      "[lufd_tls]\nMinProtocol = TLSv1.3\nProtocol = -TLSv1.2\n"
      "CipherString = DEFAULT:@SECLEVEL=2\n";
  static absl::Status* result = [] {
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    CONF* conf = NCONF_new(nullptr);
    BIO* bio = BIO_new_mem_buf(kPolicy, -1);
    long error_line = 0;
    bool ok = conf != nullptr && bio != nullptr &&
              NCONF_load_bio(conf, bio, &error_line) > 0 &&
              CONF_modules_load(conf, "lufd", 0) > 0;
    BIO_free(bio);
    NCONF_free(conf);
    ERR_clear_error();
    return new absl::Status(
        ok ? absl::OkStatus()
           : absl::InternalError("could not restrict TLS to version 1.3"));
  }();
  return *result;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const lufd::v1::TlsConfig& tls) {
  if (absl::Status s =
          CheckTlsKeyPair("grpc.tls", tls.cert_file(), tls.key_file());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCaBundle("grpc.tls", tls.client_ca_file());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RequireTls13ProcessWide(); !s.ok()) return s;
  absl::StatusOr<absl::Duration> reload =
      ParseConfigDuration(tls.reload_interval());
  if (!reload.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grpc.tls.reload_interval: ", reload.status().message()));
  }
  const double seconds = std::ceil(absl::ToDoubleSeconds(*reload));
  const unsigned int refresh =
      seconds < 1 ? 1u : static_cast<unsigned int>(seconds);
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          tls.key_file(), tls.cert_file(), tls.client_ca_file(), refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  return creds;
}

}  // namespace lufd
