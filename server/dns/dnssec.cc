#include "server/dns/dnssec.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/private_file.h"
#include "server/dns/bytes.h"

namespace lufd::dns {
namespace {

// The most recent OpenSSL error as text, and the queue cleared, so a later
// failure does not report a stale error.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(runtime/int)
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Lowercases the uncompressed wire name starting at (*s)[pos] in place and
// returns the offset just past it, or npos when it is not a well-formed
// uncompressed name inside the string (then nothing is guaranteed about
// which labels were lowercased; callers fall back to the original).
size_t LowercaseNameAt(std::string* s, size_t pos) {
  size_t total = 0;
  while (pos < s->size()) {
    uint8_t len = static_cast<uint8_t>((*s)[pos]);
    if (len > 63) return std::string::npos;  // Compression is not allowed.
    total += len + 1;
    if (total > 255) return std::string::npos;
    if (len == 0) return pos + 1;
    if (pos + 1 + len > s->size()) return std::string::npos;
    for (size_t i = pos + 1; i <= pos + len; ++i) (*s)[i] = AsciiLower((*s)[i]);
    pos += 1 + len;
  }
  return std::string::npos;
}

// Skips a <character-string> at pos; npos on truncation.
size_t SkipCharString(const std::string& s, size_t pos) {
  if (pos >= s.size()) return std::string::npos;
  size_t end = pos + 1 + static_cast<uint8_t>(s[pos]);
  return end > s.size() ? std::string::npos : end;
}

std::string LowerWireName(std::string_view name) {
  std::string out(name);
  // Labels' length octets are <= 63, never in 'A'..'Z' (65..90), so a
  // byte-wise lowercase of the whole name is exact.
  for (char& c : out) c = AsciiLower(c);
  return out;
}

size_t WireLabelCount(std::string_view name) {
  size_t n = 0, pos = 0;
  while (pos < name.size() && name[pos] != 0) {
    pos += 1 + static_cast<uint8_t>(name[pos]);
    ++n;
  }
  return n;
}

// The rightmost `labels` labels of a wire name.
std::string_view RightmostLabels(std::string_view name, size_t labels) {
  size_t total = WireLabelCount(name);
  size_t pos = 0;
  for (size_t i = 0; i + labels < total && pos < name.size(); ++i) {
    pos += 1 + static_cast<uint8_t>(name[pos]);
  }
  return name.substr(std::min(pos, name.size()));
}

bool IsP256(EVP_PKEY* pkey) {
  if (!EVP_PKEY_is_a(pkey, "EC")) return false;
  char group[64];
  size_t len = 0;
  if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                      sizeof(group), &len)) {
    return false;
  }
  return std::string_view(group, len) == "prime256v1" ||
         std::string_view(group, len) == "P-256";
}

}  // namespace

struct SigningKey::Impl {
  EVP_PKEY* pkey = nullptr;
  // A signing context initialized once (EVP_DigestSignInit fetches the
  // provider's algorithms every time, ~15 % of a P-256 signature); Sign()
  // copies it. Only ever read after construction, so concurrent Sign()
  // calls may copy it at the same time. Null if the init failed: Sign()
  // then initializes a fresh context itself.
  EVP_MD_CTX* sign_template = nullptr;
  // P-256 signs a digest with EVP_PKEY_sign on a context initialized once
  // and reused (what `openssl speed` measures): no context copy per
  // signature. Contexts are not thread-safe, so each Sign() borrows one.
  absl::Mutex pool_mu;
  std::vector<EVP_PKEY_CTX*> pool ABSL_GUARDED_BY(pool_mu);
  ~Impl() {
    EVP_MD_CTX_free(sign_template);
    absl::MutexLock lock(&pool_mu);
    for (EVP_PKEY_CTX* ctx : pool) EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
  }
  void InitTemplate(uint8_t algorithm) {
    sign_template = EVP_MD_CTX_new();
    if (sign_template == nullptr) return;
    const EVP_MD* md = algorithm == kAlgEd25519 ? nullptr : EVP_sha256();
    if (EVP_DigestSignInit(sign_template, nullptr, md, nullptr, pkey) != 1) {
      ERR_clear_error();
      EVP_MD_CTX_free(sign_template);
      sign_template = nullptr;
    }
  }
  // A context ready for EVP_PKEY_sign, or null (OpenSSL out of memory).
  EVP_PKEY_CTX* Borrow() {
    {
      absl::MutexLock lock(&pool_mu);
      if (!pool.empty()) {
        EVP_PKEY_CTX* ctx = pool.back();
        pool.pop_back();
        return ctx;
      }
    }
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
    if (ctx != nullptr && EVP_PKEY_sign_init(ctx) != 1) {
      EVP_PKEY_CTX_free(ctx);
      ctx = nullptr;
    }
    if (ctx == nullptr) ERR_clear_error();
    return ctx;
  }
  void Return(EVP_PKEY_CTX* ctx) {
    absl::MutexLock lock(&pool_mu);
    if (pool.size() < 64) {
      pool.push_back(ctx);
      return;
    }
    EVP_PKEY_CTX_free(ctx);
  }
};

namespace {

// SHA-256 of `data` with a per-thread context and a fetched algorithm: the
// one-shot SHA256() fetches the algorithm on every call.
bool Sha256(std::string_view data, unsigned char digest[SHA256_DIGEST_LENGTH]) {
  struct Ctx {
    EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(sha256);
    }
  };
  thread_local Ctx c;
  unsigned int len = 0;
  const bool ok = c.sha256 != nullptr && c.ctx != nullptr &&
                  EVP_DigestInit_ex2(c.ctx, c.sha256, nullptr) == 1 &&
                  EVP_DigestUpdate(c.ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(c.ctx, digest, &len) == 1 &&
                  len == SHA256_DIGEST_LENGTH;
  if (!ok) ERR_clear_error();
  return ok;
}

// The canonical forms of `rdatas`, sorted, duplicates removed (RFC 4034
// section 6.3): what an RRSIG covers and what RrsetHash hashes. In
// per-thread scratch (the hit path hashes on every answer), valid until
// this thread's next call.
absl::Span<const std::string> CanonicalRrset(
    uint16_t type, absl::Span<const std::string> rdatas) {
  thread_local std::vector<std::string> canon;
  if (canon.size() < rdatas.size()) canon.resize(rdatas.size());
  for (size_t i = 0; i < rdatas.size(); ++i) {
    CanonicalRdataInto(type, rdatas[i], &canon[i]);
  }
  auto end = canon.begin() + static_cast<ptrdiff_t>(rdatas.size());
  std::sort(canon.begin(), end);
  end = std::unique(canon.begin(), end);
  return absl::MakeConstSpan(canon.data(),
                             static_cast<size_t>(end - canon.begin()));
}

// RFC 6605 section 4: r and s as 32-byte big-endian integers, not DER.
absl::StatusOr<std::string> RawEcdsaSignature(const unsigned char* sig,
                                              size_t sig_len) {
  const unsigned char* p = sig;
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> esig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig_len)));  // NOLINT
  if (esig == nullptr) {
    return absl::InternalError(absl::StrCat("ECDSA DER: ", OpenSslError()));
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(esig.get(), &r, &s);
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, 32) != 32 || BN_bn2binpad(s, o + 32, 32) != 32) {
    return absl::InternalError("ECDSA r/s too long");
  }
  return out;
}

}  // namespace

SigningKey::SigningKey(uint8_t algorithm, std::unique_ptr<Impl> impl)
    : algorithm_(algorithm), impl_(std::move(impl)) {}

SigningKey::~SigningKey() = default;

namespace {

// Wraps a private key of the right algorithm and extracts its DNSKEY public
// key field; takes ownership of pkey in every case.
absl::StatusOr<std::string> PublicKeyField(uint8_t algorithm, EVP_PKEY* pkey) {
  if (algorithm == kAlgEcdsaP256Sha256) {
    if (!IsP256(pkey)) {
      return absl::InvalidArgumentError("key is not an ECDSA P-256 key");
    }
    unsigned char buf[65];
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(
            pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof(buf), &len) ||
        len != 65 || buf[0] != 0x04) {
      return absl::InternalError(
          absl::StrCat("P-256 public key: ", OpenSslError()));
    }
    // RFC 6605 section 4: the uncompressed point without its 0x04 prefix.
    return std::string(reinterpret_cast<char*>(buf) + 1, 64);
  }
  if (algorithm == kAlgEd25519) {
    if (!EVP_PKEY_is_a(pkey, "ED25519")) {
      return absl::InvalidArgumentError("key is not an Ed25519 key");
    }
    unsigned char buf[32];
    size_t len = sizeof(buf);
    if (!EVP_PKEY_get_raw_public_key(pkey, buf, &len) || len != 32) {
      return absl::InternalError(
          absl::StrCat("Ed25519 public key: ", OpenSslError()));
    }
    return std::string(reinterpret_cast<char*>(buf), 32);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported DNSSEC algorithm ", algorithm));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::Generate(
    uint8_t algorithm) {
  EVP_PKEY* pkey = nullptr;
  if (algorithm == kAlgEcdsaP256Sha256) {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else if (algorithm == kAlgEd25519) {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported DNSSEC algorithm ", algorithm));
  }
  if (pkey == nullptr) {
    return absl::InternalError(absl::StrCat("keygen: ", OpenSslError()));
  }
  return Adopt(algorithm, pkey);
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::Adopt(uint8_t algorithm,
                                                              EVP_PKEY* pkey) {
  auto impl = std::make_unique<Impl>();
  impl->pkey = pkey;
  absl::StatusOr<std::string> pub = PublicKeyField(algorithm, pkey);
  if (!pub.ok()) return pub.status();
  impl->InitTemplate(algorithm);
  std::unique_ptr<SigningKey> key(new SigningKey(algorithm, std::move(impl)));
  key->public_key_ = *std::move(pub);
  return key;
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::FromPem(
    uint8_t algorithm, std::string_view pem) {
  if (algorithm != kAlgEcdsaP256Sha256 && algorithm != kAlgEd25519) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported DNSSEC algorithm ", algorithm));
  }
  std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                           const_cast<char*>(""));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM private key: ", OpenSslError()));
  }
  return Adopt(algorithm, pkey);
}

absl::StatusOr<std::unique_ptr<SigningKey>> SigningKey::LoadFile(
    uint8_t algorithm, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = absl::StrCat(path, ": ", strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg)
                         : absl::PermissionDeniedError(msg);
  }
  // The mode of the file we read, not of whatever the path names later.
  if (absl::Status st = CheckSecretFd("DNSSEC private key", path, fd);
      !st.ok()) {
    close(fd);
    return st;
  }
  std::string pem;
  char buf[4096];
  for (int i = 0; i < 64; ++i) {  // A PEM key is < 1 KB; 256 KB is plenty.
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat(path, ": ", strerror(err)));
    }
    if (n == 0) break;
    pem.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  absl::StatusOr<std::unique_ptr<SigningKey>> key = FromPem(algorithm, pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

std::string SigningKey::ToPem() const {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return "";
  if (!PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey, nullptr, nullptr,
                                     0, nullptr, nullptr)) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  return std::string(data, static_cast<size_t>(len));
}

absl::Status SigningKey::WritePemFile(const std::string& path) const {
  std::string pem = ToPem();
  if (pem.empty()) return absl::InternalError("PEM encoding failed");
  // O_EXCL: a key file is never replaced, so a name clash cannot destroy
  // the private half of a key that the registry still publishes.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    OPENSSL_cleanse(pem.data(), pem.size());
    std::string msg = absl::StrCat(path, ": ", strerror(err));
    return err == EEXIST ? absl::AlreadyExistsError(msg)
                         : absl::InternalError(msg);
  }
  // The umask may only have removed bits; make the mode exact anyway.
  absl::Status status;
  if (fchmod(fd, 0600) != 0) {
    status =
        absl::InternalError(absl::StrCat(path, ": fchmod: ", strerror(errno)));
  }
  size_t done = 0;
  for (int i = 0; status.ok() && done < pem.size() && i < 1000; ++i) {
    ssize_t n = write(fd, pem.data() + done, pem.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status =
          absl::InternalError(absl::StrCat(path, ": write: ", strerror(errno)));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (status.ok() && done != pem.size()) {
    status = absl::InternalError(absl::StrCat(path, ": short write"));
  }
  // The registry will name this file as soon as we return: make it durable.
  if (status.ok() && fsync(fd) != 0) {
    status =
        absl::InternalError(absl::StrCat(path, ": fsync: ", strerror(errno)));
  }
  if (close(fd) != 0 && status.ok()) {
    status =
        absl::InternalError(absl::StrCat(path, ": close: ", strerror(errno)));
  }
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!status.ok()) unlink(path.c_str());
  return status;
}

absl::StatusOr<std::string> SigningKey::Sign(std::string_view data) const {
  unsigned char sig[80];  // DER ECDSA P-256 is at most 72 bytes.
  size_t sig_len = sizeof(sig);
  if (algorithm_ == kAlgEcdsaP256Sha256) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    EVP_PKEY_CTX* pctx = nullptr;
    if (Sha256(data, digest) && (pctx = impl_->Borrow()) != nullptr) {
      const bool ok =
          EVP_PKEY_sign(pctx, sig, &sig_len, digest, sizeof(digest)) == 1;
      impl_->Return(pctx);
      if (!ok) {
        return absl::InternalError(
            absl::StrCat("EVP_PKEY_sign: ", OpenSslError()));
      }
      return RawEcdsaSignature(sig, sig_len);
    }
    sig_len = sizeof(sig);  // Out of memory: the generic path below.
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return absl::ResourceExhaustedError("EVP_MD_CTX_new");
  if (impl_->sign_template == nullptr ||
      EVP_MD_CTX_copy_ex(ctx.get(), impl_->sign_template) != 1) {
    ERR_clear_error();
    // Ed25519 is a one-shot "pure" signature: no separate digest (RFC 8080).
    const EVP_MD* md = algorithm_ == kAlgEd25519 ? nullptr : EVP_sha256();
    if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, impl_->pkey) != 1) {
      return absl::InternalError(
          absl::StrCat("EVP_DigestSignInit: ", OpenSslError()));
    }
  }
  if (EVP_DigestSign(ctx.get(), sig, &sig_len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("EVP_DigestSign: ", OpenSslError()));
  }
  if (algorithm_ == kAlgEd25519) {
    if (sig_len != 64) return absl::InternalError("Ed25519 signature size");
    return std::string(reinterpret_cast<char*>(sig), sig_len);
  }
  return RawEcdsaSignature(sig, sig_len);
}

std::string DnskeyRdata(uint16_t flags, uint8_t algorithm,
                        std::string_view public_key) {
  std::string out;
  out.reserve(4 + public_key.size());
  Append16(&out, flags);
  out.push_back(3);  // Protocol (RFC 4034 section 2.1.2).
  out.push_back(static_cast<char>(algorithm));
  out.append(public_key);
  return out;
}

uint16_t KeyTag(std::string_view rdata) {
  uint32_t ac = 0;
  for (size_t i = 0; i < rdata.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(rdata[i]);
    ac += (i & 1) ? b : static_cast<uint32_t>(b) << 8;
  }
  ac += (ac >> 16) & 0xffff;
  return static_cast<uint16_t>(ac & 0xffff);
}

std::string DsRdataSha256(std::string_view owner_wire,
                          std::string_view dnskey_rdata) {
  // RFC 4034 section 5.1.4: digest = H(canonical owner | DNSKEY RDATA).
  std::string owner = LowerWireName(owner_wire);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, owner.data(), owner.size());
  EVP_DigestUpdate(ctx, dnskey_rdata.data(), dnskey_rdata.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  std::string out;
  out.reserve(4 + SHA256_DIGEST_LENGTH);
  Append16(&out, KeyTag(dnskey_rdata));
  out.push_back(dnskey_rdata.size() > 3 ? dnskey_rdata[3] : 0);  // Algorithm.
  out.push_back(2);  // Digest type SHA-256.
  out.append(reinterpret_cast<char*>(digest), SHA256_DIGEST_LENGTH);
  return out;
}

void CanonicalRdataInto(uint16_t type, std::string_view rdata,
                        std::string* out) {
  // RFC 4034 section 6.2 item 3 as corrected by RFC 6840 section 5.1: names
  // in RRSIG RDATA are lowercased, names in NSEC RDATA are not. Types that
  // lufd never serves (MD, MF, MB, MG, MR, MINFO, SIG, PX, NXT, A6) stay as
  // they are.
  size_t name_at = 0;
  int names = 1;
  switch (type) {
    case 2:   // NS
    case 5:   // CNAME
    case 12:  // PTR
    case 39:  // DNAME
      name_at = 0;
      break;
    case 6:  // SOA: MNAME, RNAME.
      name_at = 0;
      names = 2;
      break;
    case 15:  // MX
    case 18:  // AFSDB
    case 21:  // RT
    case 36:  // KX
      name_at = 2;
      break;
    case 17:  // RP: mbox, txt.
      name_at = 0;
      names = 2;
      break;
    case 33:  // SRV
      name_at = 6;
      break;
    case 46:  // RRSIG: signer after 18 fixed octets.
      name_at = 18;
      break;
    case 35: {  // NAPTR: order, preference, 3 strings, replacement.
      out->assign(rdata);
      size_t pos = 4;
      for (int i = 0; i < 3 && pos != std::string::npos; ++i) {
        pos = SkipCharString(*out, pos);
      }
      if (pos == std::string::npos ||
          LowercaseNameAt(out, pos) == std::string::npos) {
        out->assign(rdata);
      }
      return;
    }
    default:
      out->assign(rdata);
      return;
  }
  out->assign(rdata);
  size_t pos = name_at;
  for (int i = 0; i < names; ++i) {
    pos = LowercaseNameAt(out, pos);
    if (pos == std::string::npos) {
      out->assign(rdata);
      return;
    }
  }
}

std::string CanonicalRdata(uint16_t type, std::string_view rdata) {
  std::string out;
  CanonicalRdataInto(type, rdata, &out);
  return out;
}

absl::StatusOr<std::string> SignRrset(const SigningKey& key,
                                      const RrsigFields& fields,
                                      std::string_view owner_wire,
                                      uint16_t klass,
                                      absl::Span<const std::string> rdatas) {
  if (rdatas.empty()) return absl::InvalidArgumentError("empty RRset");
  if (fields.algorithm != key.algorithm()) {
    return absl::InvalidArgumentError("RRSIG algorithm differs from the key's");
  }
  // RRSIG RDATA up to and including the signer (RFC 4034 section 3.1.8.1).
  std::string rrsig;
  rrsig.reserve(18 + fields.signer_wire.size() + 64);
  Append16(&rrsig, fields.type_covered);
  rrsig.push_back(static_cast<char>(fields.algorithm));
  rrsig.push_back(static_cast<char>(fields.labels));
  Append32(&rrsig, fields.original_ttl);
  Append32(&rrsig, fields.expiration);
  Append32(&rrsig, fields.inception);
  Append16(&rrsig, fields.key_tag);
  size_t signer_at = rrsig.size();
  rrsig.append(fields.signer_wire);
  for (size_t i = signer_at; i < rrsig.size(); ++i) {
    rrsig[i] = AsciiLower(rrsig[i]);
  }

  // Owner: lowercase; a wildcard expansion signs as "*.<closest labels>"
  // (RFC 4035 section 5.3.2) when the labels field is below the count.
  std::string owner;
  size_t owner_labels = WireLabelCount(owner_wire);
  bool starts_wild =
      owner_wire.size() >= 2 && owner_wire[0] == 1 && owner_wire[1] == '*';
  if (starts_wild) --owner_labels;
  if (fields.labels < owner_labels) {
    owner.append("\001*");
    owner.append(RightmostLabels(owner_wire, fields.labels));
  } else {
    owner.append(owner_wire);
  }
  for (char& c : owner) c = AsciiLower(c);

  const absl::Span<const std::string> canon =
      CanonicalRrset(fields.type_covered, rdatas);

  std::string data;
  size_t size = rrsig.size();
  for (const std::string& r : canon) size += owner.size() + 10 + r.size();
  data.reserve(size);
  data.append(rrsig);
  for (const std::string& r : canon) {
    if (r.size() > 0xffff) return absl::InvalidArgumentError("RDATA too long");
    data.append(owner);
    Append16(&data, fields.type_covered);
    Append16(&data, klass);
    Append32(&data, fields.original_ttl);
    Append16(&data, static_cast<uint16_t>(r.size()));
    data.append(r);
  }
  absl::StatusOr<std::string> sig = key.Sign(data);
  if (!sig.ok()) return sig.status();
  rrsig.append(*sig);
  return rrsig;
}

uint64_t RrsetHash(uint16_t type, uint32_t ttl,
                   absl::Span<const std::string> rdatas) {
  // SHA-256 truncated to 64 bits: a fixed, documented function, so hashes
  // stored with signatures stay valid across processes, restarts and
  // versions (absl::Hash is seeded per process). It runs on every answer,
  // so it works in per-thread scratch: no allocation once warm.
  thread_local std::string data;
  data.clear();
  Append16(&data, type);
  Append32(&data, ttl);
  for (const std::string& r : CanonicalRrset(type, rdatas)) {
    Append32(&data, static_cast<uint32_t>(r.size()));
    data.append(r);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  if (!Sha256(data, digest)) {
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           digest);
  }
  uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | digest[i];
  return h;
}

}  // namespace lufd::dns
