#include "server/grpc/auth.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/core/denial_audit.h"
#include "spdlog/spdlog.h"

namespace lufd {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

// Identifies one version of a file cheaply, without reading it.
struct FileStamp {
  bool exists = false;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StatFile(const std::string& path) {
  FileStamp stamp;
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return stamp;
  stamp.exists = true;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return stamp;
}

// Reads every PEM object of one type from `path`. Fails only when the file
// cannot be opened; trailing garbage ends the list.
template <typename T, typename Reader, typename Deleter>
absl::Status ReadPemFile(const std::string& path, Reader reader,
                         std::vector<std::unique_ptr<T, Deleter>>* out) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  // Bounded by the file size: every iteration consumes one PEM block.
  while (T* item = reader(bio, nullptr, nullptr, nullptr)) {
    out->emplace_back(item);
  }
  ERR_clear_error();  // The final read fails with "no start line".
  BIO_free(bio);
  return absl::OkStatus();
}

absl::Time Asn1ToTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

absl::StatusOr<X509Ptr> ParsePem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("out of memory");
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("peer certificate is not valid PEM");
  }
  return X509Ptr(cert);
}

absl::StatusOr<PeerCertInfo> Inspect(X509* cert) {
  PeerCertInfo info;
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (len <= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError("peer certificate has no public key");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  info.spki_sha256 = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));

  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      const ASN1_STRING* s = name->d.uniformResourceIdentifier;
      info.san_uris.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
  }
  return info;
}

// The subject for the denial audit: RFC 2253 with everything outside
// printable ASCII escaped (a certificate is the caller's text), bounded.
std::string SubjectText(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(
      bio, X509_get_subject_name(cert), 0,
      XN_FLAG_RFC2253 | ASN1_STRFLGS_ESC_MSB | ASN1_STRFLGS_ESC_CTRL);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(std::max(0L, std::min(len, 256L))));
  BIO_free(bio);
  ERR_clear_error();
  return out;
}

// Bound on cached certificates; the cache is dropped whole when exceeded
// (a re-parse is cheap, and the bound only matters under cert churn).
constexpr size_t kMaxCachedCerts = 4096;

}  // namespace

struct Authenticator::CrlState {
  uint64_t generation = 0;
  FileStamp ca_stamp;
  FileStamp crl_stamp;
  std::vector<X509Ptr> cas;
  std::vector<CrlPtr> crls;
};

struct Authenticator::CertEntry {
  X509Ptr cert;
  PeerCertInfo info;
  // Who a refusal names in the denial audit (core/denial_audit.h).
  std::string denial_actor;    // "spki:<hex>"
  std::string denial_subject;  // RFC 2253, non-ASCII and controls escaped.
  // Revocation verdict, guarded by the Authenticator's cache_mu_.
  uint64_t crl_generation = 0;
  absl::Time crl_valid_until = absl::InfinitePast();
  absl::Status crl_status;
};

absl::StatusOr<PeerCertInfo> InspectCertificatePem(absl::string_view pem) {
  absl::StatusOr<X509Ptr> cert = ParsePem(pem);
  if (!cert.ok()) return cert.status();
  return Inspect(cert->get());
}

Authenticator::Authenticator(ViewHolder* views, Options options)
    : views_(views), options_(std::move(options)) {}

Authenticator::~Authenticator() = default;

std::shared_ptr<const Authenticator::CrlState>
Authenticator::CurrentCrlState() {
  if (options_.crl_file.empty()) return nullptr;
  absl::MutexLock lock(&crl_mu_);
  const absl::Time now = absl::Now();
  if (crl_state_ != nullptr &&
      now - last_crl_check_ < options_.recheck_interval) {
    return crl_state_;
  }
  last_crl_check_ = now;
  FileStamp ca_stamp = StatFile(options_.client_ca_file);
  FileStamp crl_stamp = StatFile(options_.crl_file);
  if (crl_state_ != nullptr && crl_state_->ca_stamp == ca_stamp &&
      crl_state_->crl_stamp == crl_stamp) {
    return crl_state_;
  }
  auto state = std::make_shared<CrlState>();
  state->generation = crl_state_ == nullptr ? 1 : crl_state_->generation + 1;
  state->ca_stamp = ca_stamp;
  state->crl_stamp = crl_stamp;
  absl::Status ca_status = ReadPemFile<X509>(options_.client_ca_file,
                                             PEM_read_bio_X509, &state->cas);
  absl::Status crl_status = ReadPemFile<X509_CRL>(
      options_.crl_file, PEM_read_bio_X509_CRL, &state->crls);
  if (!ca_status.ok() || !crl_status.ok()) {
    // Fail closed: with no CRLs every certificate is denied until the files
    // are readable again.
    state->crls.clear();
    spdlog::warn("revocation files unreadable ({}); denying all clients",
                 (ca_status.ok() ? crl_status : ca_status).ToString());
  } else {
    spdlog::info("loaded {} CRL(s) from {} (generation {})", state->crls.size(),
                 options_.crl_file, state->generation);
  }
  crl_state_ = std::move(state);
  return crl_state_;
}

absl::Status Authenticator::CheckRevocation(const CrlState& state,
                                            const CertEntry& entry,
                                            absl::Time* valid_until) {
  const absl::Time now = absl::Now();
  // Negative verdicts are re-examined soon: a CRL may become valid.
  *valid_until = now + absl::Seconds(1);
  X509* cert = entry.cert.get();
  X509* issuer = nullptr;
  for (const X509Ptr& ca : state.cas) {
    if (X509_check_issued(ca.get(), cert) == X509_V_OK) {
      issuer = ca.get();
      break;
    }
  }
  if (issuer == nullptr) {
    return absl::UnauthenticatedError("no valid CRL for issuer");
  }
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  bool have_valid_crl = false;
  absl::Time earliest_next_update = absl::InfiniteFuture();
  for (const CrlPtr& crl : state.crls) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                      X509_get_subject_name(issuer)) != 0) {
      continue;
    }
    if (issuer_key == nullptr || X509_CRL_verify(crl.get(), issuer_key) != 1) {
      ERR_clear_error();
      continue;  // Not signed by this issuer: worthless.
    }
    const absl::Time last_update =
        Asn1ToTime(X509_CRL_get0_lastUpdate(crl.get()));
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
    const absl::Time next_update =
        next == nullptr ? absl::InfiniteFuture() : Asn1ToTime(next);
    if (last_update > now || next_update <= now) continue;
    have_valid_crl = true;
    earliest_next_update = std::min(earliest_next_update, next_update);
    X509_REVOKED* revoked = nullptr;
    if (X509_CRL_get0_by_cert(crl.get(), &revoked, cert) == 1) {
      // Stays revoked for as long as this CRL generation is loaded.
      *valid_until = absl::InfiniteFuture();
      return absl::UnauthenticatedError("certificate revoked");
    }
  }
  if (!have_valid_crl) {
    return absl::UnauthenticatedError("no valid CRL for issuer");
  }
  *valid_until = earliest_next_update;
  return absl::OkStatus();
}

absl::StatusOr<Identity> Authenticator::Authenticate(
    const grpc::AuthContext& context) {
  std::vector<grpc::string_ref> pems =
      context.FindPropertyValues("x509_pem_cert");
  if (pems.empty()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  return AuthenticatePem(absl::string_view(pems[0].data(), pems[0].size()));
}

absl::StatusOr<Identity> Authenticator::AuthenticatePem(absl::string_view pem) {
  std::shared_ptr<CertEntry> entry;
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(pem);
    if (it != cache_.end()) entry = it->second;
  }
  if (entry == nullptr) {
    absl::StatusOr<X509Ptr> cert = ParsePem(pem);
    if (!cert.ok()) return absl::UnauthenticatedError(cert.status().message());
    absl::StatusOr<PeerCertInfo> info = Inspect(cert->get());
    if (!info.ok()) return absl::UnauthenticatedError(info.status().message());
    entry = std::make_shared<CertEntry>();
    entry->cert = *std::move(cert);
    entry->info = *std::move(info);
    entry->denial_actor = absl::StrCat("spki:", entry->info.spki_sha256);
    entry->denial_subject = SubjectText(entry->cert.get());
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() >= kMaxCachedCerts) cache_.clear();
    cache_.emplace(std::string(pem), entry);
  }

  if (std::shared_ptr<const CrlState> crl = CurrentCrlState()) {
    const absl::Time now = absl::Now();
    absl::Status verdict;
    bool cached = false;
    {
      absl::MutexLock lock(&cache_mu_);
      if (entry->crl_generation == crl->generation &&
          now < entry->crl_valid_until) {
        verdict = entry->crl_status;
        cached = true;
      }
    }
    if (!cached) {
      absl::Time valid_until;
      verdict = CheckRevocation(*crl, *entry, &valid_until);
      absl::MutexLock lock(&cache_mu_);
      entry->crl_generation = crl->generation;
      entry->crl_valid_until = valid_until;
      entry->crl_status = verdict;
    }
    if (!verdict.ok()) {
      return WithDenialActor(verdict, entry->denial_actor,
                             entry->denial_subject);
    }
  }

  std::optional<lufd::v1::Credential> credential =
      views_->Current()->FindCredential(entry->info.spki_sha256,
                                        entry->info.san_uris);
  if (!credential.has_value()) {
    return WithDenialActor(
        absl::UnauthenticatedError("client certificate is not registered"),
        entry->denial_actor, entry->denial_subject);
  }
  return Identity{credential->org_id(), credential->id(), credential->role()};
}

}  // namespace lufd
