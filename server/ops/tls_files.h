// Checks of the PEM files a TLS listener is configured with: that the
// certificate and key parse and belong together, and that a CA bundle holds
// a certificate. ValidateConfig runs them (so `lufd --check-config` finds a
// bad file) and so do the listeners when they load the files at start-up.
//
// Stateless; thread-safe. Errors are INVALID_ARGUMENT naming `field` (the
// config path of the TLS block, e.g. "grpc.tls").
#ifndef LUFD_SERVER_OPS_TLS_FILES_H_
#define LUFD_SERVER_OPS_TLS_FILES_H_

#include <string>

#include "absl/status/status.h"

namespace lufd {

// The first certificate of `cert_file` and the private key in `key_file`
// parse and match.
absl::Status CheckTlsKeyPair(const std::string& field,
                             const std::string& cert_file,
                             const std::string& key_file);

// `ca_file` holds at least one PEM certificate.
absl::Status CheckCaBundle(const std::string& field,
                           const std::string& ca_file);

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_TLS_FILES_H_
