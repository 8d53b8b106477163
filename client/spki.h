// SPKI pinning helper: the SHA-256 of a certificate's DER-encoded
// SubjectPublicKeyInfo, in lowercase hex -- the value a Credential's
// spki_sha256 holds and the server computes from a verified client
// certificate. Equivalent to
//   openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum
// Also extracts SAN URIs, so `lufctl credential add --cert-file` can show
// what the server will see. Stateless and thread-safe.
#ifndef LUFD_CLIENT_SPKI_H_
#define LUFD_CLIENT_SPKI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lufd::client {

// From the first certificate in a PEM text. INVALID_ARGUMENT if none.
absl::StatusOr<std::string> SpkiSha256FromPem(absl::string_view pem);
absl::StatusOr<std::string> SpkiSha256FromCertFile(const std::string& path);

// The URI entries of the first certificate's subjectAltName, in order.
absl::StatusOr<std::vector<std::string>> SanUrisFromPem(absl::string_view pem);

// Reads a whole (small) file, e.g. a PEM.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_SPKI_H_
