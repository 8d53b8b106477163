#include "client/spki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace lufd::client {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

absl::StatusOr<std::unique_ptr<X509, X509Free>> ParseFirstCert(
    absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::ResourceExhaustedError("BIO_new_mem_buf failed");
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError("no PEM certificate found");
  }
  return cert;
}

}  // namespace

absl::StatusOr<std::string> SpkiSha256FromPem(absl::string_view pem) {
  auto cert = ParseFirstCert(pem);
  if (!cert.ok()) return cert.status();
  // X509_get_X509_PUBKEY + i2d gives exactly the DER SubjectPublicKeyInfo as
  // it appears in the certificate (same bytes as i2d_PUBKEY of the key).
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(cert->get());
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(pub, &der);
  if (len <= 0 || der == nullptr) {
    return absl::InvalidArgumentError("cannot encode the public key");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

absl::StatusOr<std::vector<std::string>> SanUrisFromPem(absl::string_view pem) {
  auto cert = ParseFirstCert(pem);
  if (!cert.ok()) return cert.status();
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string msg = absl::StrCat(path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::string> SpkiSha256FromCertFile(const std::string& path) {
  auto pem = ReadSmallFile(path);
  if (!pem.ok()) return pem.status();
  auto spki = SpkiSha256FromPem(*pem);
  if (!spki.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", spki.status().message()));
  }
  return spki;
}

}  // namespace lufd::client
