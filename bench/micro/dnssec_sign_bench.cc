// dnssec_sign_bench: signing speed on one core, raw EVP_DigestSign over the
// exact signed data of a 2-NAPTR RRset against SignRrset of that RRset (what
// SignRrset adds: canonical form, sorting, RRSIG RDATA). One pair per
// algorithm lufd signs with (13 = ECDSA P-256, 15 = Ed25519).
//
// Rates are per CPU-second of the benchmark thread (Google Benchmark divides
// items by CPU time unless told otherwise): the machine is shared, and wall
// time would measure the neighbours. Moved from the disabled unit test
// DnssecAlgTest.DISABLED_SignSpeed; run by bench/micro.sh.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/dns/dnssec.h"
#include "server/dns/wire.h"

namespace lufd::dns {
namespace {

struct Fixture {
  std::unique_ptr<SigningKey> key;
  EVP_PKEY* pkey = nullptr;  // The same key, for the raw EVP calls.
  std::string owner;
  std::vector<std::string> naptrs;
  RrsigFields fields;
  std::string data;  // The bytes SignRrset signs for this RRset (~200).

  explicit Fixture(uint8_t alg) {
    auto k = SigningKey::Generate(alg);
    if (!k.ok()) return;
    key = std::move(*k);
    const std::string pem = key->ToPem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    owner = *NameFromText("6.6.6.6.5.5.5.2.0.2.1.e164.arpa.");
    naptrs = {
        NaptrRdata(100, 10, "u", "E2U+sip",
                   "!^.*$!sip:+12025556666@example.com!", ""),
        NaptrRdata(100, 20, "u", "E2U+pstn:tel", "!^(.*)$!tel:\\1;npdi!", "")};
    // Type covered, algorithm, labels, original TTL, expiration, inception,
    // key tag, signer.
    fields = {kTypeNAPTR, alg, 13, 300, 2, 1, 1, *NameFromText("e164.arpa.")};
    // RRSIG fields + signer, then per RR: owner, type/class/TTL/length, RDATA.
    data.assign(18 + 11, 'x');
    for (const auto& n : naptrs) data += owner + std::string(10, 'y') + n;
  }
  ~Fixture() { EVP_PKEY_free(pkey); }
};

void BM_RawEvpDigestSign(benchmark::State& state) {
  const auto alg = static_cast<uint8_t>(state.range(0));
  Fixture f(alg);
  if (f.pkey == nullptr) {
    state.SkipWithError("key generation failed");
    return;
  }
  const EVP_MD* md = alg == kAlgEd25519 ? nullptr : EVP_sha256();
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[80];
    size_t len = sizeof(sig);
    EVP_DigestSignInit(ctx, nullptr, md, nullptr, f.pkey);
    EVP_DigestSign(ctx, sig, &len,
                   reinterpret_cast<const unsigned char*>(f.data.data()),
                   f.data.size());
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SignRrset(benchmark::State& state) {
  Fixture f(static_cast<uint8_t>(state.range(0)));
  if (f.key == nullptr) {
    state.SkipWithError("key generation failed");
    return;
  }
  for (auto _ : state) {
    auto r = SignRrset(*f.key, f.fields, f.owner, kClassIN, f.naptrs);
    if (!r.ok()) {
      state.SkipWithError("SignRrset failed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// Alternating repetitions, as the unit test's alternating rounds did: the
// best of each is the least disturbed one on a shared machine.
BENCHMARK(BM_RawEvpDigestSign)
    ->Arg(kAlgEcdsaP256Sha256)
    ->Arg(kAlgEd25519)
    ->MinTime(1.0)
    ->Repetitions(3);
BENCHMARK(BM_SignRrset)
    ->Arg(kAlgEcdsaP256Sha256)
    ->Arg(kAlgEd25519)
    ->MinTime(1.0)
    ->Repetitions(3);

}  // namespace
}  // namespace lufd::dns

BENCHMARK_MAIN();
