// KeyManager on a memory store: first keys, files 0600, a second instance
// loading the same keys, the automatic ZSK pre-publication roll and the
// KSK/CSK roll with its manual DS step, driven by a fake clock.
#include "server/dns/keymanager.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/registry.h"
#include "server/ops/config.h"
#include "storage/store.h"
#include "tests/unit/testing/eventually.h"
#include "tests/unit/testing/memory_registry.h"

// ldns/common.h #defines bool/true/false unless stdbool.h came first.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

namespace lufd::dns {
namespace {

using ::lufd::testing::Eventually;
using lufd::v1::DnsKey;

const std::string kZoneWire(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

std::string TempDir() {
  char tmpl[] = "/tmp/lufd-keymanager-test-XXXXXX";
  char* d = mkdtemp(tmpl);
  return d == nullptr ? "" : d;
}

class KeyManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status opened = mem_.Open();
    ASSERT_TRUE(opened.ok()) << opened;
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty());
    now_ = absl::ToUnixSeconds(absl::FromCivil(
        absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone()));
  }
  void TearDown() override {
    managers_.clear();
    std::error_code ec;
    for (const std::string& d : dirs_) std::filesystem::remove_all(d, ec);
    std::filesystem::remove_all(dir_, ec);
  }

  lufd::v1::DnssecConfig Config(const std::string& scheme = "csk",
                                uint32_t alg = 13) {
    lufd::v1::DnssecConfig c = ConfigDefaults().dns().dnssec();
    c.set_enabled(true);
    c.set_key_dir(dir_);
    c.set_algorithm(alg);
    c.set_scheme(scheme);
    c.set_zsk_lifetime("30d");
    c.set_publish_safety("1h");
    c.set_retire_safety("2h");
    c.set_auto_generate(true);
    return c;
  }

  KeyManager* Make(const lufd::v1::DnssecConfig& config, KeyRing* ring,
                   std::atomic<bool>* signer = nullptr) {
    KeyManagerOptions o;
    o.now = [this] { return absl::FromUnixSeconds(now_.load()); };
    if (signer != nullptr) o.is_signer = [signer] { return signer->load(); };
    o.poll_interval = absl::Milliseconds(10);
    auto km =
        KeyManager::Create(config, {ManagedZone{kZoneWire, "E164.arpa", 3600}},
                           mem_.registry.get(), &mem_.views, ring, o);
    EXPECT_TRUE(km.ok()) << km.status();
    if (!km.ok()) return nullptr;
    managers_.push_back(*std::move(km));
    return managers_.back().get();
  }

  std::vector<DnsKey> RegistryKeys() {
    std::vector<DnsKey> out;
    mem_.views.Current()->ForEach(
        lufd::v1::OBJECT_KIND_DNS_KEY,
        [&](absl::string_view, const lufd::v1::RegistryObject& o) {
          out.push_back(o.dns_key());
          return true;
        });
    return out;
  }

  static std::vector<uint16_t> Tags(const std::vector<ZoneKey>& keys) {
    std::vector<uint16_t> t;
    for (const ZoneKey& k : keys) t.push_back(k.key_tag);
    std::sort(t.begin(), t.end());
    return t;
  }
  static bool Contains(const std::vector<ZoneKey>& keys, uint16_t tag) {
    for (const ZoneKey& k : keys) {
      if (k.key_tag == tag) return true;
    }
    return false;
  }

  // Signs an RRset with the zone's current zone signer, as the responder
  // would, and checks the signature's key is really that DNSKEY. Returns
  // the key tag in the RRSIG.
  static uint16_t SignWithCurrent(const ZoneKeys& zk) {
    EXPECT_TRUE(zk.CanSign());
    if (!zk.CanSign()) return 0;
    const ZoneKey& k = zk.zone_signers.front();
    EXPECT_EQ(k.private_key->public_key(), k.info.public_key());
    RrsigFields f;
    f.type_covered = 6;
    f.algorithm = static_cast<uint8_t>(k.info.algorithm());
    f.labels = 2;
    f.original_ttl = 3600;
    f.key_tag = k.key_tag;
    f.signer_wire = kZoneWire;
    auto sig = SignRrset(*k.private_key, f, kZoneWire, 1, {std::string("x")});
    EXPECT_TRUE(sig.ok());
    return k.key_tag;
  }

  void Advance(absl::Duration d) { now_ += absl::ToInt64Seconds(d); }

  testing::MemoryRegistry mem_;
  std::string dir_;
  std::vector<std::string> dirs_;
  std::atomic<int64_t> now_{0};
  std::vector<std::unique_ptr<KeyManager>> managers_;
};

TEST_F(KeyManagerTest, AutoGeneratesOneCskWithA0600File) {
  KeyRing ring;
  KeyManager* km = Make(Config(), &ring);
  ASSERT_NE(km, nullptr);
  ASSERT_TRUE(km->Start().ok());
  auto zk = ring.Get(kZoneWire);
  ASSERT_NE(zk, nullptr);
  ASSERT_EQ(zk->published.size(), 1u);
  EXPECT_EQ(zk->dnskey_signers.size(), 1u);
  EXPECT_EQ(zk->zone_signers.size(), 1u);
  const DnsKey& info = zk->published[0].info;
  EXPECT_EQ(info.role(), lufd::v1::DNS_KEY_ROLE_CSK);
  EXPECT_EQ(info.state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  EXPECT_EQ(info.flags(), 257u);
  EXPECT_EQ(info.algorithm(), 13u);
  EXPECT_EQ(info.zone(), "e164.arpa.");
  EXPECT_EQ(zk->published[0].key_tag, info.key_tag());
  char name[64];
  snprintf(name, sizeof(name), "Ke164.arpa+013+%05u.pem", info.key_tag());
  EXPECT_EQ(info.private_file(), name);
  struct stat sb;
  ASSERT_EQ(stat((dir_ + "/" + name).c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  EXPECT_EQ(RegistryKeys().size(), 1u);
  SignWithCurrent(*zk);
  // Ticks with nothing due change nothing (no new ring generation either).
  uint64_t gen = ring.generation();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(km->Tick().ok());
  EXPECT_EQ(ring.generation(), gen);
  EXPECT_EQ(RegistryKeys().size(), 1u);
  km->Stop();
  km->Stop();  // Idempotent.
}

TEST_F(KeyManagerTest, AutoGeneratesKskAndZskEd25519) {
  KeyRing ring;
  KeyManager* km = Make(Config("ksk-zsk", 15), &ring);
  ASSERT_TRUE(km->Start().ok());
  auto zk = ring.Get(kZoneWire);
  ASSERT_NE(zk, nullptr);
  EXPECT_EQ(zk->published.size(), 2u);
  ASSERT_EQ(zk->dnskey_signers.size(), 1u);
  ASSERT_EQ(zk->zone_signers.size(), 1u);
  EXPECT_EQ(zk->dnskey_signers[0].info.role(), lufd::v1::DNS_KEY_ROLE_KSK);
  EXPECT_EQ(zk->dnskey_signers[0].info.flags(), 257u);
  EXPECT_EQ(zk->zone_signers[0].info.role(), lufd::v1::DNS_KEY_ROLE_ZSK);
  EXPECT_EQ(zk->zone_signers[0].info.flags(), 256u);
  EXPECT_EQ(zk->zone_signers[0].info.algorithm(), 15u);
  SignWithCurrent(*zk);
}

TEST_F(KeyManagerTest, SecondInstanceLoadsTheSameKeys) {
  KeyRing ring1, ring2;
  KeyManager* km1 = Make(Config("ksk-zsk"), &ring1);
  ASSERT_TRUE(km1->Start().ok());
  KeyManager* km2 = Make(Config("ksk-zsk"), &ring2);
  ASSERT_TRUE(km2->Start().ok());
  auto a = ring1.Get(kZoneWire);
  auto b = ring2.Get(kZoneWire);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Tags(a->published), Tags(b->published));
  EXPECT_EQ(Tags(a->zone_signers), Tags(b->zone_signers));
  EXPECT_EQ(Tags(a->dnskey_signers), Tags(b->dnskey_signers));
  EXPECT_TRUE(b->CanSign());
  EXPECT_EQ(RegistryKeys().size(), 2u);  // Nothing generated twice.
  EXPECT_EQ(b->zone_signers[0].private_key->public_key(),
            a->zone_signers[0].private_key->public_key());
}

TEST_F(KeyManagerTest, ZskRollsByPrePublication) {
  KeyRing ring;
  KeyManager* km = Make(Config("ksk-zsk"), &ring);
  ASSERT_TRUE(km->Start().ok());
  km->Stop();  // Step by hand from here.
  auto zk = ring.Get(kZoneWire);
  ASSERT_NE(zk, nullptr);
  const uint16_t ksk = zk->dnskey_signers[0].key_tag;
  const uint16_t old_zsk = SignWithCurrent(*zk);
  uint16_t last_signed = old_zsk;
  auto step = [&](absl::Duration d) {
    Advance(d);
    ASSERT_TRUE(km->Tick().ok());
    zk = ring.Get(kZoneWire);
    // Whatever was signed a moment before still validates: its key is in
    // the DNSKEY RRset.
    EXPECT_TRUE(Contains(zk->published, last_signed)) << last_signed;
    EXPECT_TRUE(Contains(zk->dnskey_signers, ksk));
    last_signed = SignWithCurrent(*zk);
  };
  // Not yet due: 30d - 1h - 1s after activation.
  step(absl::Hours(24 * 30) - absl::Hours(1) - absl::Seconds(1));
  EXPECT_EQ(zk->published.size(), 2u);
  EXPECT_EQ(last_signed, old_zsk);
  // Due: a successor is pre-published, the old ZSK still signs.
  step(absl::Seconds(1));
  ASSERT_EQ(zk->published.size(), 3u);
  EXPECT_EQ(last_signed, old_zsk);
  uint16_t new_zsk = 0;
  for (const ZoneKey& k : zk->published) {
    if (k.key_tag != old_zsk && k.key_tag != ksk) new_zsk = k.key_tag;
  }
  ASSERT_NE(new_zsk, 0);
  for (const ZoneKey& k : zk->published) {
    if (k.key_tag == new_zsk) {
      EXPECT_EQ(k.info.state(), lufd::v1::DNS_KEY_STATE_PUBLISHED);
      EXPECT_EQ(k.info.role(), lufd::v1::DNS_KEY_ROLE_ZSK);
    }
  }
  // A manual roll now would be a second one: refused.
  EXPECT_EQ(km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, false)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // Half-way through publish_safety: nothing changes.
  step(absl::Minutes(30));
  EXPECT_EQ(last_signed, old_zsk);
  // publish_safety over: the new ZSK signs, the old one is RETIRED but
  // still published.
  step(absl::Minutes(30));
  EXPECT_EQ(last_signed, new_zsk);
  EXPECT_EQ(zk->published.size(), 3u);
  for (const ZoneKey& k : zk->published) {
    if (k.key_tag == old_zsk) {
      EXPECT_EQ(k.info.state(), lufd::v1::DNS_KEY_STATE_RETIRED);
    }
  }
  EXPECT_FALSE(Contains(zk->zone_signers, old_zsk));
  step(absl::Hours(1));
  EXPECT_TRUE(Contains(zk->published, old_zsk));
  // retire_safety (2h) over: the old ZSK is REMOVED from the RRset.
  step(absl::Hours(1));
  EXPECT_FALSE(Contains(zk->published, old_zsk));
  EXPECT_EQ(zk->published.size(), 2u);
  EXPECT_EQ(last_signed, new_zsk);
  // Kept in the registry for the audit trail.
  int removed = 0;
  for (const DnsKey& k : RegistryKeys()) {
    if (k.state() == lufd::v1::DNS_KEY_STATE_REMOVED) {
      ++removed;
      EXPECT_EQ(k.key_tag(), old_zsk);
      EXPECT_NE(k.removed_unix(), 0);
      EXPECT_NE(k.retired_unix(), 0);
    }
  }
  EXPECT_EQ(removed, 1);
  // And the next roll starts 30 days after the new key's activation.
  step(absl::Hours(24 * 30) - absl::Hours(1) - absl::Hours(2));
  EXPECT_EQ(zk->published.size(), 3u);
}

TEST_F(KeyManagerTest, ManualZskRollover) {
  KeyRing ring;
  KeyManager* km = Make(Config("ksk-zsk"), &ring);
  ASSERT_TRUE(km->Tick().ok());
  auto zk = ring.Get(kZoneWire);
  uint16_t old_zsk = zk->zone_signers[0].key_tag;
  auto r = km->Rollover("E164.ARPA", lufd::v1::DNS_KEY_ROLE_ZSK, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->keys.size(), 1u);
  EXPECT_GT(r->serial, 0u);
  EXPECT_EQ(r->keys[0].state(), lufd::v1::DNS_KEY_STATE_PUBLISHED);
  EXPECT_EQ(ring.Get(kZoneWire)->published.size(), 3u);
  Advance(absl::Hours(1));
  ASSERT_TRUE(km->Tick().ok());
  zk = ring.Get(kZoneWire);
  EXPECT_EQ(zk->zone_signers[0].key_tag, r->keys[0].key_tag());
  EXPECT_TRUE(Contains(zk->published, old_zsk));
  EXPECT_EQ(km->Rollover("e164.arpa", lufd::v1::DNS_KEY_ROLE_ZSK, true)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyManagerTest, CskRollWaitsForTheDs) {
  KeyRing ring;
  KeyManager* km = Make(Config("csk"), &ring);
  ASSERT_TRUE(km->Tick().ok());
  auto zk = ring.Get(kZoneWire);
  const uint16_t old_csk = SignWithCurrent(*zk);
  EXPECT_EQ(km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, true)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_KSK, false)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);  // No active KSK.
  auto r = km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->keys.size(), 1u);
  const uint16_t new_csk = static_cast<uint16_t>(r->keys[0].key_tag());
  EXPECT_TRUE(r->keys[0].ds_pending());
  EXPECT_EQ(r->keys[0].state(), lufd::v1::DNS_KEY_STATE_PUBLISHED);
  zk = ring.Get(kZoneWire);
  EXPECT_EQ(zk->published.size(), 2u);
  // Double-KSK: both sign the DNSKEY RRset, only the old one the zone.
  EXPECT_EQ(Tags(zk->dnskey_signers).size(), 2u);
  EXPECT_EQ(SignWithCurrent(*zk), old_csk);
  auto ds = km->GetDs("e164.arpa.");
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds->ds.size(), 2u);
  EXPECT_EQ(ds->dnskey.size(), 2u);
  // A second start is refused while one waits.
  EXPECT_EQ(km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, false)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // Time alone never completes it.
  for (int i = 0; i < 5; ++i) {
    Advance(absl::Hours(24 * 40));
    ASSERT_TRUE(km->Tick().ok());
  }
  zk = ring.Get(kZoneWire);
  EXPECT_EQ(SignWithCurrent(*zk), old_csk);
  EXPECT_EQ(zk->published.size(), 2u);
  // The operator confirms the DS: the new key signs, the old one is
  // retired but keeps signing the DNSKEY RRset.
  auto done = km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, true);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->keys.size(), 2u);
  zk = ring.Get(kZoneWire);
  EXPECT_EQ(SignWithCurrent(*zk), new_csk);
  EXPECT_TRUE(Contains(zk->dnskey_signers, old_csk));
  EXPECT_TRUE(Contains(zk->published, old_csk));
  ds = km->GetDs("e164.arpa.");
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(ds->ds.size(), 1u);
  EXPECT_NE(ds->ds[0].find(absl::StrCat("\tDS\t", new_csk, " 13 2 ")),
            std::string::npos)
      << ds->ds[0];
  Advance(absl::Hours(2));
  ASSERT_TRUE(km->Tick().ok());
  zk = ring.Get(kZoneWire);
  EXPECT_FALSE(Contains(zk->published, old_csk));
  EXPECT_FALSE(Contains(zk->dnskey_signers, old_csk));
  EXPECT_EQ(SignWithCurrent(*zk), new_csk);
}

TEST_F(KeyManagerTest, GetDsLinesMatchLdns) {
  KeyRing ring;
  KeyManager* km = Make(Config("ksk-zsk"), &ring);
  ASSERT_TRUE(km->Tick().ok());
  auto ds = km->GetDs("e164.arpa");
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(ds->ds.size(), 1u);  // KSK only, not the ZSK.
  ASSERT_EQ(ds->dnskey.size(), 1u);
  EXPECT_EQ(ds->ds[0].rfind("e164.arpa.\t3600\tIN\tDS\t", 0), 0u) << ds->ds[0];
  ldns_rr* dnskey = nullptr;
  ldns_rr* ours = nullptr;
  ASSERT_EQ(
      ldns_rr_new_frm_str(&dnskey, ds->dnskey[0].c_str(), 0, nullptr, nullptr),
      LDNS_STATUS_OK)
      << ds->dnskey[0];
  ASSERT_EQ(ldns_rr_new_frm_str(&ours, ds->ds[0].c_str(), 0, nullptr, nullptr),
            LDNS_STATUS_OK);
  ldns_rr* theirs = ldns_key_rr2ds(dnskey, LDNS_SHA256);
  ASSERT_NE(theirs, nullptr);
  EXPECT_EQ(ldns_rr_compare(ours, theirs), 0);
  EXPECT_EQ(ldns_calc_keytag(dnskey),
            ring.Get(kZoneWire)->dnskey_signers[0].key_tag);
  ldns_rr_free(theirs);
  ldns_rr_free(ours);
  ldns_rr_free(dnskey);
  EXPECT_EQ(km->GetDs("example.com.").status().code(),
            absl::StatusCode::kNotFound);
}

// A key dir others may write (they could remove or plant keys) is refused
// at start with the path, the mode and the fix; nothing is generated.
TEST_F(KeyManagerTest, StartRefusesAKeyDirOthersMayWrite) {
  for (mode_t bad : {0777, 0770, 0703}) {
    ASSERT_EQ(chmod(dir_.c_str(), bad), 0);
    KeyRing ring;
    KeyManager* km = Make(Config(), &ring);
    ASSERT_NE(km, nullptr);
    absl::Status st = km->Start();
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << bad;
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", bad);
    EXPECT_NE(st.message().find(absl::StrCat("dns.dnssec.key_dir ", dir_,
                                             " has mode ", mode)),
              std::string::npos)
        << st;
    EXPECT_NE(st.message().find("chmod 700 " + dir_), std::string::npos) << st;
    EXPECT_TRUE(RegistryKeys().empty());
  }
  ASSERT_EQ(chmod(dir_.c_str(), 0750), 0);  // Not writable by others: fine.
  KeyRing ring;
  KeyManager* km = Make(Config(), &ring);
  ASSERT_TRUE(km->Start().ok());
  EXPECT_TRUE(ring.Get(kZoneWire)->CanSign());
}

// A private key file others may read is refused at start (as ssh does),
// not repaired: it may already have been read, and the operator must know.
TEST_F(KeyManagerTest, StartRefusesAPrivateKeyOthersMayRead) {
  KeyRing ring1;
  KeyManager* km1 = Make(Config(), &ring1);
  ASSERT_TRUE(km1->Start().ok());
  km1->Stop();
  const std::vector<DnsKey> keys = RegistryKeys();
  ASSERT_EQ(keys.size(), 1u);
  const std::string file = dir_ + "/" + keys[0].private_file();
  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  KeyRing ring2;
  KeyManager* km2 = Make(Config(), &ring2);
  absl::Status st = km2->Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(file + " has mode 0644"), std::string::npos)
      << st;
  EXPECT_NE(st.message().find("chmod 600 " + file), std::string::npos) << st;
  // The fix works.
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  KeyRing ring3;
  KeyManager* km3 = Make(Config(), &ring3);
  ASSERT_TRUE(km3->Start().ok());
  EXPECT_TRUE(ring3.Get(kZoneWire)->CanSign());
  EXPECT_EQ(RegistryKeys().size(), 1u);
}

TEST_F(KeyManagerTest, MissingPrivateFileIsPublishedButNotASigner) {
  KeyRing ring1, ring2;
  KeyManager* km1 = Make(Config(), &ring1);
  ASSERT_TRUE(km1->Tick().ok());
  std::string other = TempDir();
  dirs_.push_back(other);
  lufd::v1::DnssecConfig c = Config();
  c.set_key_dir(other);
  std::atomic<bool> signer{false};  // Not the signer: must not generate.
  KeyManager* km2 = Make(c, &ring2, &signer);
  ASSERT_TRUE(km2->Start().ok());
  auto zk = ring2.Get(kZoneWire);
  ASSERT_NE(zk, nullptr);
  EXPECT_EQ(zk->published.size(), 1u);
  EXPECT_FALSE(zk->CanSign());
  EXPECT_TRUE(zk->dnskey_signers.empty());
  EXPECT_EQ(zk->published[0].private_key, nullptr);
  // A file holding some other key is not used either.
  auto wrong = SigningKey::Generate(13);
  ASSERT_TRUE(wrong.ok());
  ASSERT_TRUE(
      (*wrong)
          ->WritePemFile(other + "/" + zk->published[0].info.private_file())
          .ok());
  KeyRing ring3;
  KeyManager* km3 = Make(c, &ring3, &signer);
  ASSERT_TRUE(km3->Tick().ok());
  EXPECT_FALSE(ring3.Get(kZoneWire)->CanSign());
  EXPECT_EQ(RegistryKeys().size(), 1u);
}

TEST_F(KeyManagerTest, NotTheSignerGeneratesNothingUntilElected) {
  KeyRing ring;
  std::atomic<bool> signer{false};
  KeyManager* km = Make(Config(), &ring, &signer);
  ASSERT_TRUE(km->Start().ok());
  auto zk = ring.Get(kZoneWire);
  ASSERT_NE(zk, nullptr);
  EXPECT_TRUE(zk->published.empty());
  EXPECT_TRUE(RegistryKeys().empty());
  signer = true;
  // The background thread (10 ms poll) generates the keys.
  EXPECT_TRUE(Eventually([&] {
    zk = ring.Get(kZoneWire);
    return zk != nullptr && zk->CanSign();
  }));
  EXPECT_TRUE(ring.Get(kZoneWire)->CanSign());
  km->Stop();
}

// ------------------------------------------------------------ multi-signer

class MultiSignerTest : public KeyManagerTest {
 protected:
  // A: the signer, with the zone's KSK and its own first ZSK (dir_).
  // B: another instance with its own, empty key_dir, not the signer.
  void SetUpInstances() {
    a_ = Make(Config("ksk-zsk"), &ring_a_);
    ASSERT_NE(a_, nullptr);
    ASSERT_TRUE(a_->Tick().ok());
    dir_b_ = TempDir();
    dirs_.push_back(dir_b_);
    lufd::v1::DnssecConfig cb = Config("ksk-zsk");
    cb.set_key_dir(dir_b_);
    b_ = Make(cb, &ring_b_, &b_signer_);
    ASSERT_NE(b_, nullptr);
  }
  static std::string ReadId(const std::string& dir) {
    FILE* f = fopen((dir + "/instance-id").c_str(), "r");
    if (f == nullptr) return "";
    char buf[64] = {};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    std::string id(buf, n);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
  std::vector<DnsKey> KeysOwnedBy(const std::string& id) {
    std::vector<DnsKey> out;
    for (const DnsKey& k : RegistryKeys()) {
      if (k.owner() == id) out.push_back(k);
    }
    return out;
  }
  std::optional<DnsKey> Key(uint32_t tag) {
    for (const DnsKey& k : RegistryKeys()) {
      if (k.key_tag() == tag) return k;
    }
    return std::nullopt;
  }
  std::vector<std::string> Files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  KeyRing ring_a_, ring_b_;
  KeyManager* a_ = nullptr;
  KeyManager* b_ = nullptr;
  std::string dir_b_;
  std::atomic<bool> b_signer_{false};
};

TEST_F(MultiSignerTest, InstanceWithoutAZskPrePublishesItsOwn) {
  SetUpInstances();
  const std::string id_a = ReadId(dir_);
  ASSERT_EQ(id_a.size(), 16u);
  struct stat sb;
  ASSERT_EQ(stat((dir_ + "/instance-id").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
  auto za = ring_a_.Get(kZoneWire);
  ASSERT_EQ(za->zone_signers.size(), 1u);
  const DnsKey zsk_a = za->zone_signers[0].info;
  EXPECT_EQ(zsk_a.owner(), id_a);  // The first ZSK is the signer's own.
  EXPECT_EQ(zsk_a.state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  EXPECT_TRUE(KeysOwnedBy("").size() == 1u);  // The KSK: shared.

  ASSERT_TRUE(b_->Tick().ok());
  const std::string id_b = ReadId(dir_b_);
  ASSERT_EQ(id_b.size(), 16u);
  EXPECT_NE(id_b, id_a);
  std::vector<DnsKey> own = KeysOwnedBy(id_b);
  ASSERT_EQ(own.size(), 1u);
  const DnsKey zsk_b = own[0];
  EXPECT_EQ(zsk_b.role(), lufd::v1::DNS_KEY_ROLE_ZSK);
  EXPECT_EQ(zsk_b.state(), lufd::v1::DNS_KEY_STATE_PUBLISHED);
  EXPECT_EQ(zsk_b.active_unix(), now_.load() + 3600);  // publish_safety.
  EXPECT_FALSE(zsk_b.owner_host().empty());
  // B's key_dir holds B's key only: no KSK, nothing of A's.
  EXPECT_EQ(Files(dir_b_),
            (std::vector<std::string>{zsk_b.private_file(), "instance-id"}));
  auto zb = ring_b_.Get(kZoneWire);
  EXPECT_EQ(zb->published.size(), 3u);
  EXPECT_TRUE(zb->dnskey_signers.empty());
  EXPECT_TRUE(zb->zone_signers.empty());  // Pre-publication: not yet.
  // A publishes it too, but never signs with it.
  ASSERT_TRUE(a_->Tick().ok());
  za = ring_a_.Get(kZoneWire);
  EXPECT_EQ(za->published.size(), 3u);
  EXPECT_EQ(Tags(za->zone_signers),
            (std::vector<uint16_t>{static_cast<uint16_t>(zsk_a.key_tag())}));

  Advance(absl::Minutes(30));
  ASSERT_TRUE(b_->Tick().ok());
  EXPECT_TRUE(ring_b_.Get(kZoneWire)->zone_signers.empty());
  // publish_safety over: B's own ZSK signs on B; A's ZSK is untouched.
  Advance(absl::Minutes(30));
  ASSERT_TRUE(b_->Tick().ok());
  zb = ring_b_.Get(kZoneWire);
  ASSERT_EQ(zb->zone_signers.size(), 1u);
  EXPECT_EQ(zb->zone_signers[0].key_tag, zsk_b.key_tag());
  SignWithCurrent(*zb);
  EXPECT_EQ(Key(zsk_b.key_tag())->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  EXPECT_EQ(Key(zsk_a.key_tag())->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  ASSERT_TRUE(a_->Tick().ok());
  EXPECT_EQ(Tags(ring_a_.Get(kZoneWire)->zone_signers),
            (std::vector<uint16_t>{static_cast<uint16_t>(zsk_a.key_tag())}));
  // Steady state: more ticks generate nothing.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(a_->Tick().ok());
    ASSERT_TRUE(b_->Tick().ok());
  }
  EXPECT_EQ(RegistryKeys().size(), 3u);
}

// The id file is what makes a key this instance's: one that is not an id
// is reported, never replaced, and no own key is made without it.
TEST_F(MultiSignerTest, AnUnreadableInstanceIdIsAnErrorNotANewId) {
  a_ = Make(Config("ksk-zsk"), &ring_a_);
  ASSERT_TRUE(a_->Tick().ok());
  std::string dir_b = TempDir();
  dirs_.push_back(dir_b);
  {
    FILE* f = fopen((dir_b + "/instance-id").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("not an id\n", f);
    fclose(f);
  }
  lufd::v1::DnssecConfig cb = Config("ksk-zsk");
  cb.set_key_dir(dir_b);
  KeyManager* b = Make(cb, &ring_b_, &b_signer_);
  absl::Status st = b->Tick();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("instance-id"), absl::string_view::npos) << st;
  EXPECT_EQ(ReadId(dir_b), "not an id");
  EXPECT_EQ(RegistryKeys().size(), 2u);  // A's KSK and ZSK only.
}

TEST_F(MultiSignerTest, NoKskYetMeansNoOwnZsk) {
  // B alone (A never started): nothing to join, and B is not the signer.
  std::string dir_b = TempDir();
  dirs_.push_back(dir_b);
  lufd::v1::DnssecConfig cb = Config("ksk-zsk");
  cb.set_key_dir(dir_b);
  std::atomic<bool> signer{false};
  KeyRing ring;
  KeyManager* b = Make(cb, &ring, &signer);
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_TRUE(RegistryKeys().empty());
}

TEST_F(MultiSignerTest, EachInstanceRollsOnlyItsOwnZsk) {
  SetUpInstances();
  ASSERT_TRUE(b_->Tick().ok());
  const uint32_t zsk_a = ring_a_.Get(kZoneWire)->zone_signers[0].key_tag;
  const std::string id_a = ReadId(dir_);
  const std::string id_b = ReadId(dir_b_);
  const uint32_t zsk_b = KeysOwnedBy(id_b)[0].key_tag();
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());  // B's ZSK: ACTIVE (t0 + 1h).
  // A's ZSK (active since t0) is due at t0 + 30d - 1h: A pre-publishes
  // its successor; B's (due an hour later) is left alone.
  Advance(absl::Hours(24 * 30) - absl::Hours(2));
  ASSERT_TRUE(a_->Tick().ok());
  ASSERT_TRUE(b_->Tick().ok());
  EXPECT_EQ(KeysOwnedBy(id_a).size(), 2u);
  EXPECT_EQ(KeysOwnedBy(id_b).size(), 1u);
  // The successor signs on A; B's ZSK is not retired with A's.
  Advance(absl::Hours(1));
  ASSERT_TRUE(a_->Tick().ok());
  EXPECT_EQ(Key(zsk_a)->state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  EXPECT_EQ(Key(zsk_b)->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  // Now B's is due: B pre-publishes its own successor.
  ASSERT_TRUE(b_->Tick().ok());
  std::vector<DnsKey> own_b = KeysOwnedBy(id_b);
  ASSERT_EQ(own_b.size(), 2u);
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());
  EXPECT_EQ(Key(zsk_b)->state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  for (const DnsKey& k : KeysOwnedBy(id_a)) {
    if (k.key_tag() != zsk_a) {
      EXPECT_EQ(Key(k.key_tag())->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
    }
  }
  // The signer removes both retired keys after retire_safety (2h), B's
  // included: B does not remove keys.
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());
  EXPECT_EQ(Key(zsk_a)->state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  ASSERT_TRUE(a_->Tick().ok());
  EXPECT_EQ(Key(zsk_a)->state(), lufd::v1::DNS_KEY_STATE_REMOVED);
  EXPECT_EQ(Key(zsk_b)->state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  Advance(absl::Hours(1));
  ASSERT_TRUE(a_->Tick().ok());
  EXPECT_EQ(Key(zsk_b)->state(), lufd::v1::DNS_KEY_STATE_REMOVED);
}

TEST_F(MultiSignerTest, ManualZskRollOnAnInstanceRollsItsOwn) {
  SetUpInstances();
  ASSERT_TRUE(b_->Tick().ok());
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());
  const uint32_t zsk_a = ring_a_.Get(kZoneWire)->zone_signers[0].key_tag;
  const std::string id_b = ReadId(dir_b_);
  const uint32_t zsk_b = KeysOwnedBy(id_b)[0].key_tag();
  auto r = b_->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->keys.size(), 1u);
  EXPECT_EQ(r->keys[0].owner(), id_b);
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());
  EXPECT_EQ(Key(zsk_b)->state(), lufd::v1::DNS_KEY_STATE_RETIRED);
  EXPECT_EQ(Key(r->keys[0].key_tag())->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
  EXPECT_EQ(Key(zsk_a)->state(), lufd::v1::DNS_KEY_STATE_ACTIVE);
}

// An instance leaves: the operator retires its ZSK (`lufctl key retire`
// writes the state as here); the signer removes it after retire_safety.
TEST_F(MultiSignerTest, RetiredZskOfALeftInstanceIsRemovedByTheSigner) {
  SetUpInstances();
  ASSERT_TRUE(b_->Tick().ok());
  Advance(absl::Hours(1));
  ASSERT_TRUE(b_->Tick().ok());
  b_->Stop();
  const std::string id_b = ReadId(dir_b_);
  DnsKey k = KeysOwnedBy(id_b)[0];
  k.set_state(lufd::v1::DNS_KEY_STATE_RETIRED);
  k.set_retired_unix(now_.load());
  lufd::v1::Operation op;
  *op.mutable_put()->mutable_dns_key() = k;
  auto w = mem_.registry->Execute(Identity{"", "admin", lufd::v1::ROLE_ADMIN},
                                  {op}, "");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(a_->Tick().ok());
  auto za = ring_a_.Get(kZoneWire);
  EXPECT_EQ(za->published.size(), 3u);  // Still published (retire_safety).
  Advance(absl::Hours(2));
  ASSERT_TRUE(a_->Tick().ok());
  EXPECT_EQ(Key(k.key_tag())->state(), lufd::v1::DNS_KEY_STATE_REMOVED);
  EXPECT_EQ(ring_a_.Get(kZoneWire)->published.size(), 2u);
}

TEST_F(KeyManagerTest, GenerateChecksItsArguments) {
  KeyRing ring;
  lufd::v1::DnssecConfig c = Config();
  c.set_auto_generate(false);
  KeyManager* km = Make(c, &ring);
  ASSERT_TRUE(km->Tick().ok());
  EXPECT_TRUE(RegistryKeys().empty());
  EXPECT_EQ(km->Generate("example.com.", lufd::v1::DNS_KEY_ROLE_CSK, 13, true)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(km->Generate("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, 8, true)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto g =
      km->Generate("e164.arpa.", lufd::v1::DNS_KEY_ROLE_UNSPECIFIED, 0, false);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->keys[0].role(), lufd::v1::DNS_KEY_ROLE_CSK);
  EXPECT_EQ(g->keys[0].state(), lufd::v1::DNS_KEY_STATE_PUBLISHED);
  auto zk = ring.Get(kZoneWire);
  EXPECT_EQ(zk->published.size(), 1u);
  EXPECT_FALSE(zk->CanSign());
  auto a = km->Generate("e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, 15, true);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(ring.Get(kZoneWire)->CanSign());
  EXPECT_EQ(ring.Get(kZoneWire)->zone_signers[0].info.algorithm(), 15u);

  // No key directory: nothing can be created.
  lufd::v1::DnssecConfig nodir = Config();
  nodir.clear_key_dir();
  nodir.set_auto_generate(false);
  KeyRing ring2;
  KeyManager* km2 = Make(nodir, &ring2);
  EXPECT_EQ(km2->Generate("e164.arpa.", lufd::v1::DNS_KEY_ROLE_CSK, 13, true)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyManagerTest, CreateRejectsBadConfig) {
  KeyRing ring;
  auto bad = [&](lufd::v1::DnssecConfig c) {
    return !KeyManager::Create(c, {ManagedZone{kZoneWire, "e164.arpa.", 3600}},
                               mem_.registry.get(), &mem_.views, &ring)
                .ok();
  };
  lufd::v1::DnssecConfig c = Config();
  c.set_algorithm(8);
  EXPECT_TRUE(bad(c));
  c = Config("double-signature");
  EXPECT_TRUE(bad(c));
  c = Config();
  c.set_zsk_lifetime("forever");
  EXPECT_TRUE(bad(c));
  c = Config();
  c.set_zsk_lifetime("30m");  // Shorter than publish_safety.
  EXPECT_TRUE(bad(c));
  c = Config();
  c.set_zsk_lifetime("0");  // Never roll.
  EXPECT_FALSE(bad(c));
  EXPECT_FALSE(bad(ConfigDefaults().dns().dnssec()));  // Defaults.
}

// KeyManagerDurationTest.ParsesDays moved to tests/unit/grpc/config_test.cc
// (ConfigDurationTest): the key manager parses with the config's parser.

// A removed key's private key file is deleted purge_keys after removal, and
// not before; "0" keeps it. The key's record stays in the registry.
class KeyPurgeTest : public KeyManagerTest,
                     public ::testing::WithParamInterface<const char*> {};

TEST_P(KeyPurgeTest, RemovedKeyFilesArePurgedAfterPurgeKeys) {
  const std::string purge = GetParam();
  {
    KeyRing ring;
    lufd::v1::DnssecConfig config = Config("ksk-zsk");
    config.set_purge_keys(purge);
    KeyManager* km = Make(config, &ring);
    ASSERT_TRUE(km->Start().ok());
    km->Stop();  // Step by hand from here.
    const uint16_t old_zsk = ring.Get(kZoneWire)->zone_signers[0].key_tag;
    std::string old_file;
    for (const DnsKey& k : RegistryKeys()) {
      if (k.key_tag() == old_zsk) old_file = dir_ + "/" + k.private_file();
    }
    ASSERT_TRUE(std::filesystem::exists(old_file)) << old_file;
    ASSERT_TRUE(
        km->Rollover("e164.arpa.", lufd::v1::DNS_KEY_ROLE_ZSK, false).ok());
    // publish_safety (1h): the successor signs; retire_safety (2h): the old
    // ZSK is REMOVED. Its file stays until purge_keys has passed.
    for (absl::Duration d : {absl::Hours(1), absl::Hours(2)}) {
      Advance(d);
      ASSERT_TRUE(km->Tick().ok());
    }
    bool removed = false;
    for (const DnsKey& k : RegistryKeys()) {
      removed |= k.key_tag() == old_zsk &&
                 k.state() == lufd::v1::DNS_KEY_STATE_REMOVED;
    }
    ASSERT_TRUE(removed);
    EXPECT_TRUE(std::filesystem::exists(old_file));
    Advance(absl::Hours(23));
    ASSERT_TRUE(km->Tick().ok());
    EXPECT_TRUE(std::filesystem::exists(old_file));
    Advance(absl::Hours(1));
    ASSERT_TRUE(km->Tick().ok());
    EXPECT_EQ(std::filesystem::exists(old_file), purge == "0");
    // The keys in use keep their files.
    for (const ZoneKey& k : ring.Get(kZoneWire)->published) {
      EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + k.info.private_file()))
          << k.key_tag;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PurgeOrKeep, KeyPurgeTest,
                         ::testing::Values("1d", "0"));

TEST_F(KeyManagerTest, CreateRejectsABadPurgeKeysDuration) {
  KeyRing ring;
  lufd::v1::DnssecConfig config = Config();
  config.set_purge_keys("soon");
  auto km =
      KeyManager::Create(config, {ManagedZone{kZoneWire, "E164.arpa", 3600}},
                         mem_.registry.get(), &mem_.views, &ring, {});
  ASSERT_FALSE(km.ok());
  EXPECT_NE(km.status().message().find("purge_keys"), std::string::npos)
      << km.status();
}

}  // namespace
}  // namespace lufd::dns
