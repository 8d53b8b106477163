// DNSSEC primitives: keys (ECDSA P-256 = algorithm 13, Ed25519 = 15), the
// DNSKEY/DS/key tag arithmetic and RRset signing (RFC 4034, 6605, 8080).
//
// Signing goes straight to OpenSSL's EVP interface: it is the denial hot
// path (one fresh signature per NXDOMAIN/NODATA miss), and ldns adds 25-30 %
// on top of the same OpenSSL calls (../shared/notes/toolchain-facts.md).
// Tests verify every signature with ldns_verify, an independent
// implementation.
#ifndef LUFD_SERVER_DNS_DNSSEC_H_
#define LUFD_SERVER_DNS_DNSSEC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

// OpenSSL's EVP_PKEY, declared here so this header stays free of OpenSSL.
struct evp_pkey_st;

namespace lufd::dns {

inline constexpr uint8_t kAlgEcdsaP256Sha256 = 13;
inline constexpr uint8_t kAlgEd25519 = 15;
inline constexpr uint16_t kDnskeyFlagsZsk = 256;
inline constexpr uint16_t kDnskeyFlagsKsk = 257;  // Zone key + SEP.

// A private key that signs. Thread-safe: Sign() may run concurrently.
class SigningKey {
 public:
  static absl::StatusOr<std::unique_ptr<SigningKey>> Generate(
      uint8_t algorithm);
  // PKCS#8 PEM as written by WritePem.
  static absl::StatusOr<std::unique_ptr<SigningKey>> FromPem(
      uint8_t algorithm, std::string_view pem);
  static absl::StatusOr<std::unique_ptr<SigningKey>> LoadFile(
      uint8_t algorithm, const std::string& path);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  uint8_t algorithm() const { return algorithm_; }
  // The DNSKEY public key field: 64 bytes X||Y (P-256) or 32 bytes (Ed25519).
  const std::string& public_key() const { return public_key_; }
  std::string ToPem() const;
  // Writes the PEM with mode 0600 (created exclusively; never overwrites).
  absl::Status WritePemFile(const std::string& path) const;

  // DNSSEC signature over `data`: r||s (64 bytes) for P-256, 64 bytes for
  // Ed25519.
  absl::StatusOr<std::string> Sign(std::string_view data) const;

 private:
  struct Impl;
  SigningKey(uint8_t algorithm, std::unique_ptr<Impl> impl);
  // Takes ownership of `pkey` (generated or read from PEM) and derives the
  // public key field and the signing template.
  static absl::StatusOr<std::unique_ptr<SigningKey>> Adopt(uint8_t algorithm,
                                                           evp_pkey_st* pkey);
  uint8_t algorithm_;
  std::string public_key_;
  std::unique_ptr<Impl> impl_;
};

// DNSKEY RDATA: flags, protocol 3, algorithm, public key.
std::string DnskeyRdata(uint16_t flags, uint8_t algorithm,
                        std::string_view public_key);
// RFC 4034 appendix B over a DNSKEY RDATA.
uint16_t KeyTag(std::string_view dnskey_rdata);
// DS RDATA with digest type 2 (SHA-256, RFC 4509).
std::string DsRdataSha256(std::string_view owner_wire,
                          std::string_view dnskey_rdata);

// The fixed fields of an RRSIG (RFC 4034 section 3.1).
struct RrsigFields {
  uint16_t type_covered = 0;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;  // Seconds since the epoch, mod 2^32.
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  std::string signer_wire;  // Lowercase, uncompressed.
};

// Canonical form of an RDATA (RFC 4034 section 6.2 with RFC 6840 section
// 5.1): domain names embedded in NS, SOA, NAPTR (replacement) ... RDATA
// lowercased. Other types are returned unchanged.
std::string CanonicalRdata(uint16_t type, std::string_view rdata);
// The same into `out`, reusing its capacity (hot paths).
void CanonicalRdataInto(uint16_t type, std::string_view rdata,
                        std::string* out);

// Signs an RRset: builds RRSIG RDATA (fields + signer) || canonical RRs
// (owner lowercased, rdatas canonicalized and sorted, TTL = original_ttl)
// and returns the whole RRSIG RDATA including the signature.
absl::StatusOr<std::string> SignRrset(const SigningKey& key,
                                      const RrsigFields& fields,
                                      std::string_view owner_wire,
                                      uint16_t klass,
                                      absl::Span<const std::string> rdatas);

// 64-bit content hash of an RRset (type, TTL, canonical sorted rdatas):
// equal RRsets hash equal whatever the record order. Keys signatures.
uint64_t RrsetHash(uint16_t type, uint32_t ttl,
                   absl::Span<const std::string> rdatas);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_DNSSEC_H_
