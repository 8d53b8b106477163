#include "server/ops/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "common/private_file.h"

namespace lufd {

absl::Status CheckTlsKeyPair(const std::string& field,
                             const std::string& cert_file,
                             const std::string& key_file) {
  // Before reading it: a key others may read is refused, never used
  // (common/private_file.h).
  if (absl::Status s = CheckSecretFile(field + ".key_file", key_file);
      !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  BIO* cert_bio = BIO_new_file(cert_file.c_str(), "r");
  X509* cert = cert_bio ? PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr)
                        : nullptr;
  if (cert_bio) BIO_free(cert_bio);
  BIO* key_bio = BIO_new_file(key_file.c_str(), "r");
  EVP_PKEY* key =
      key_bio ? PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr)
              : nullptr;
  if (key_bio) BIO_free(key_bio);
  absl::Status status;
  if (cert == nullptr) {
    status = absl::InvalidArgumentError(
        absl::StrCat(field, ".cert_file: no PEM certificate in ", cert_file));
  } else if (key == nullptr) {
    status = absl::InvalidArgumentError(
        absl::StrCat(field, ".key_file: no PEM private key in ", key_file));
  } else if (X509_check_private_key(cert, key) != 1) {
    status = absl::InvalidArgumentError(absl::StrCat(
        field, ".key_file: does not match the certificate in cert_file"));
  }
  ERR_clear_error();
  X509_free(cert);
  EVP_PKEY_free(key);
  return status;
}

absl::Status CheckCaBundle(const std::string& field,
                           const std::string& ca_file) {
  BIO* bio = BIO_new_file(ca_file.c_str(), "r");
  X509* cert =
      bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  if (bio) BIO_free(bio);
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".client_ca_file: no PEM certificate in ", ca_file));
  }
  X509_free(cert);
  return absl::OkStatus();
}

}  // namespace lufd
