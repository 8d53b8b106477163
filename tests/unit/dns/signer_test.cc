// SignAheadSigner: a pass signs every TN's RRset once per distinct content
// (anonymous and peer views), writes the Store and the local
// SignatureCache, skips what is fresh, re-signs what expires soon and what
// a new ZSK lacks; LoadAll brings them into another instance; the thread
// takes the lease and follows new view serials. Plus the duration parser.
#include "server/dns/signer.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/dns/dnssec.h"
#include "server/dns/rdata.h"
#include "server/dns/responder.h"
#include "server/dns/rrsig.h"
#include "server/dns/wire.h"
#include "server/ops/config.h"
#include "storage/memory/memory_store.h"
#include "storage/write_router.h"
#include "tests/unit/testing/eventually.h"
#include "tests/unit/testing/objects.h"
#include "tests/unit/testing/standby_store.h"

namespace lufd::dns {
namespace {

using ::lufd::testing::Eventually;
using lufd::v1::RegistryObject;

constexpr char kReg[] = "iana-en:reg";
constexpr char kPeer[] = "iana-en:peer";
const std::string kApex(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

void Add(RegistryView::Builder* b, const RegistryObject& o) {
  b->Add(KindOf(o), KeyOf(o), o);
}

RegistryObject Org(const std::string& id, bool peer) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->add_roles(peer ? lufd::v1::ORG_ROLE_PEER
                                  : lufd::v1::ORG_ROLE_REGISTRANT);
  return o;
}
// Dg, Group and Tn are the shared builders (tests/unit/testing/objects.h)
// with this file's registrant and a single destination group.
RegistryObject Dg(const std::string& id) {
  return testing::DestGroup(id, kReg);
}
RegistryObject Naptr(const std::string& id, const std::string& target) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(kReg);
  r->set_in_service(true);
  r->set_ttl(600);
  auto* n = r->mutable_naptr();
  n->set_order(10);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!sip:" + target + "!");
  n->set_replacement(".");
  return o;
}
RegistryObject Group(const std::string& id, const std::string& dg,
                     const std::vector<std::string>& records, bool pub) {
  return testing::Group(id, kReg, {dg}, records, pub);
}
RegistryObject Tn(const std::string& e164, const std::string& dg) {
  return testing::Tn(e164, kReg, {dg});
}

// `n` public TNs +1202555xxxx sharing one RRset per block of 100 numbers
// (as real blocks do), one TN on a private group offered to the peer, and
// a range (never signed ahead).
std::vector<RegistryObject> Objects(int n, int extra = 0) {
  std::vector<RegistryObject> b;
  auto Add = [](std::vector<RegistryObject>* b, RegistryObject o) {
    b->push_back(std::move(o));
  };
  Add(&b, Org(kReg, false));
  Add(&b, Org(kPeer, true));
  const int blocks = (n + 99) / 100;
  for (int k = 0; k < blocks; ++k) {
    std::string s = std::to_string(k);
    Add(&b, Dg("dg" + s));
    Add(&b, Naptr("r" + s, "block" + s + "@example.net"));
    Add(&b, Group("g" + s, "dg" + s, {"r" + s}, true));
  }
  char buf[32];
  for (int i = 0; i < n + extra; ++i) {
    std::snprintf(buf, sizeof(buf), "+1202%07d", i);
    Add(&b, Tn(buf, "dg" + std::to_string(std::min(i, n - 1) / 100)));
  }
  Add(&b, Dg("dg-hidden"));
  Add(&b, Naptr("r-hidden", "hidden@example.net"));
  Add(&b, Group("g-hidden", "dg-hidden", {"r-hidden"}, false));
  RegistryObject offer;
  offer.mutable_offer()->set_sed_group_id("g-hidden");
  offer.mutable_offer()->set_peer_org_id(kPeer);
  offer.mutable_offer()->set_status(lufd::v1::OFFER_STATUS_ACCEPTED);
  Add(&b, offer);
  Add(&b, Tn("+19990000000", "dg-hidden"));
  RegistryObject range;
  auto* id = range.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
  id->set_value("+13330000000");
  id->set_range_end("+13339999999");
  id->set_registrant_id(kReg);
  id->add_dest_group_ids("dg0");
  Add(&b, range);
  return b;
}

std::shared_ptr<const RegistryView> MakeView(uint64_t serial, int n,
                                             int extra = 0) {
  RegistryView::Builder b;
  for (const RegistryObject& o : Objects(n, extra)) Add(&b, o);
  return std::move(b).Build(serial);
}

// Commits the objects (upserts) and returns the new serial.
uint64_t CommitObjects(Store* store, const std::vector<RegistryObject>& objs) {
  CommitRequest req;
  for (const RegistryObject& o : objs) {
    req.mutations.push_back(Mutation{KindOf(o), KeyOf(o), std::nullopt, o});
  }
  auto serial = store->Commit(req);
  EXPECT_TRUE(serial.ok()) << serial.status();
  return serial.ok() ? *serial : 0;
}

ZoneKey MakeKey(uint16_t flags, lufd::v1::DnsKeyRole role) {
  auto key = SigningKey::Generate(kAlgEcdsaP256Sha256);
  EXPECT_TRUE(key.ok()) << key.status();
  ZoneKey zk;
  zk.private_key = std::shared_ptr<const SigningKey>(std::move(*key));
  zk.dnskey_rdata =
      DnskeyRdata(flags, kAlgEcdsaP256Sha256, zk.private_key->public_key());
  zk.key_tag = KeyTag(zk.dnskey_rdata);
  zk.info.set_role(role);
  zk.info.set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
  return zk;
}

// Signature rows (the signer's checkpoint is not one).
size_t StoredRows(Store* store) {
  size_t rows = 0;
  auto seq = store->Signatures()->ScanSignatures(
      0, [&](const StoredSignature&) { ++rows; });
  EXPECT_TRUE(seq.ok()) << seq.status();
  return rows;
}

bool HasCheckpoint(Store* store) {
  auto checkpoint = store->Signatures()->ReadSignerCheckpoint();
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.status();
  return checkpoint.ok() && checkpoint->has_value();
}

class SignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open("memory:");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate().ok());
    views_.Publish(MakeView(5, 250));
    csk_ = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_CSK);
    Keys({csk_});
    config_ = ConfigDefaults().dns().dnssec();
    config_.set_sign_threads(2);
  }

  void Keys(std::vector<ZoneKey> signers) {
    auto zk = std::make_shared<ZoneKeys>();
    zk->zone_wire = kApex;
    zk->published = signers;
    zk->dnskey_signers = signers;
    zk->zone_signers = signers;
    keys_.Publish({zk});
  }

  std::unique_ptr<SignAheadSigner> MakeSigner(SignatureCache* sigs) {
    auto s = SignAheadSigner::Create(config_, {kApex}, store_.get(), &views_,
                                     &keys_, sigs);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  lufd::v1::DnssecConfig config_;
  std::unique_ptr<Store> store_;
  ViewHolder views_;
  KeyRing keys_;
  ZoneKey csk_;
};

TEST_F(SignerTest, PassSignsEachDistinctRrsetOnceAndSkipsFreshOnes) {
  SignatureCache sigs;
  auto signer = MakeSigner(&sigs);
  auto made = signer->SignPassForTest();
  ASSERT_TRUE(made.ok()) << made.status();
  // 250 public TNs (each owner is its own RRset owner: 250 signatures; the
  // anonymous and peer views give the same content, deduped) + the hidden
  // TN for the peer.
  EXPECT_EQ(*made, 251u);
  EXPECT_EQ(sigs.size(), 251u);
  EXPECT_EQ(StoredRows(store_.get()), 251u);
  made = signer->SignPassForTest();
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 0u);
  EXPECT_EQ(signer->stats().passes.load(), 2u);
}

TEST_F(SignerTest, ResponderServesSignedAheadAnswersWithoutSigning) {
  SignatureCache sigs;
  auto signer = MakeSigner(&sigs);
  ASSERT_TRUE(signer->SignPassForTest().ok());

  // A fresh instance: loads the Store's signatures, then answers.
  SignatureCache replica;
  auto other = MakeSigner(&replica);
  ASSERT_TRUE(other->LoadAll().ok());
  EXPECT_EQ(replica.size(), 251u);
  SignatureLru lru(100);
  lufd::v1::DnsConfig dns;
  dns.add_zones()->set_name("e164.arpa.");
  ApplyDnsDefaults(&dns);
  auto responder = Responder::Create(dns, &views_, &keys_, &replica, &lru);
  ASSERT_TRUE(responder.ok()) << responder.status();
  for (const char* name : {"7.7.0.0.0.0.0.2.0.2.1.e164.arpa.",
                           "0.0.0.0.0.0.0.9.9.9.1.e164.arpa."}) {
    std::vector<uint8_t> q{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    auto wire = NameFromText(name);
    q.insert(q.end(), wire->begin(), wire->end());
    for (uint8_t b : {0, 35, 0, 1, 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0}) {
      q.push_back(b);
    }
    ParsedQuery pq;
    ParseResult pr = ParseQuery(absl::MakeConstSpan(q), &pq);
    std::vector<uint8_t> out(4096);
    Identity viewer;
    if (std::string(name).find("9.9.9") != std::string::npos) {
      viewer = Identity{kPeer, "", lufd::v1::ROLE_PEER};
    }
    size_t n =
        (*responder)
            ->Respond(pq, pr, viewer, Transport::kUdp, ClientAddress{},
                      out.data(),
                      ResponseLimit(
                          pq, Transport::kUdp,
                          std::min<size_t>(out.size(),
                                           (*responder)->max_udp_payload())));
    EXPECT_GT(n, 0u);
  }
  EXPECT_EQ((*responder)->stats().sig_store_hits.load(), 2u);
  EXPECT_EQ((*responder)->stats().signed_on_demand.load(), 0u);
}

TEST_F(SignerTest, ResignsWhatExpiresSoonAndSignsForANewZsk) {
  SignatureCache sigs;
  auto signer = MakeSigner(&sigs);
  ASSERT_TRUE(signer->SignPassForTest().ok());
  // One signature about to expire (inside refresh_before): re-signed.
  std::string owner = EnumOwner("+12020000003", kApex);
  std::string rd;
  RegistryObject r = Naptr("r0", "block0@example.net");
  ASSERT_TRUE(NaptrRdataFrom(r.sed_record().naptr(), &rd));
  std::vector<std::string> rdatas{rd};
  uint64_t key = SignatureKey(owner, kTypeNAPTR,
                              RrsetHash(kTypeNAPTR, 600, rdatas), csk_.key_tag);
  ASSERT_TRUE(sigs.Find(key).has_value());
  SignatureCache expiring;
  DnssecTiming short_timing =
      *DnssecTiming::FromConfig(ConfigDefaults().dns().dnssec());
  short_timing.validity = absl::Hours(30);
  short_timing.jitter = absl::ZeroDuration();
  auto soon = MakeRrsig(*csk_.private_key, csk_.key_tag, kApex, owner,
                        kTypeNAPTR, 600, rdatas, short_timing, absl::Now());
  ASSERT_TRUE(soon.ok());
  SignatureCache fresh_sigs;
  auto signer2 = MakeSigner(&fresh_sigs);
  fresh_sigs.Insert(key, *soon);
  auto made = signer2->SignPassForTest();
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 251u);  // Everything (empty cache) incl. the expiring one.
  EXPECT_GT(fresh_sigs.Find(key)->expiration, soon->expiration);

  // A new ACTIVE ZSK: every RRset gets a signature by it.
  ZoneKey zsk = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  Keys({csk_, zsk});
  made = signer->SignPassForTest();
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 251u);
  EXPECT_EQ(sigs.size(), 502u);
}

TEST_F(SignerTest, ThreadTakesTheLeaseAndFollowsNewSerials) {
  SignatureCache sigs;
  auto signer = MakeSigner(&sigs);
  ASSERT_TRUE(signer->LoadAll().ok());
  signer->Start();
  EXPECT_TRUE(Eventually([&] { return signer->stats().passes.load() >= 1; }));
  EXPECT_TRUE(signer->IsSigner());
  // 251 RRsets + the DNSKEY RRset (the CSK's private key is here).
  EXPECT_EQ(sigs.size(), 252u);
  views_.Publish(MakeView(6, 250, /*extra=*/3));
  EXPECT_TRUE(Eventually([&] { return sigs.size() >= 255u; }));
  EXPECT_EQ(StoredRows(store_.get()), 255u);

  // A second instance on the same store: not the signer, but it polls the
  // signatures in.
  SignatureCache replica;
  auto other = MakeSigner(&replica);
  other->Start();
  EXPECT_TRUE(Eventually([&] { return replica.size() >= 255u; }));
  EXPECT_FALSE(other->IsSigner());
  other->Stop();
  signer->Stop();
  EXPECT_FALSE(signer->IsSigner());
}

// Multi-signer: the instance with the KSK stores an RRSIG over the DNSKEY
// RRset, once per RRset content, lease or not; an instance without the KSK
// loads it under the key its responder looks for.
TEST_F(SignerTest, DnskeyRrsetIsSignedAheadForInstancesWithoutTheKsk) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey zsk = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  auto publish = [&](KeyRing* ring, std::vector<ZoneKey> published,
                     std::vector<ZoneKey> ksks, std::vector<ZoneKey> zsks) {
    auto zk = std::make_shared<ZoneKeys>();
    zk->zone_wire = kApex;
    zk->published = std::move(published);
    zk->dnskey_signers = std::move(ksks);
    zk->zone_signers = std::move(zsks);
    ring->Publish({zk});
  };
  publish(&keys_, {ksk, zsk}, {ksk}, {zsk});
  SignatureCache sigs;
  auto s = SignAheadSigner::Create(config_, {kApex}, store_.get(), &views_,
                                   &keys_, &sigs, {600});
  ASSERT_TRUE(s.ok()) << s.status();
  auto made = (*s)->SignDnskeyRrsets(absl::Now());
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(*made, 1u);
  made = (*s)->SignDnskeyRrsets(absl::Now());
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 0u);  // Fresh: not signed again.
  EXPECT_EQ(StoredRows(store_.get()), 1u);

  // Another instance's ZSK joins the RRset: signed again.
  ZoneKey other = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  ZoneKey other_public = other;
  other_public.private_key = nullptr;
  publish(&keys_, {ksk, zsk, other_public}, {ksk}, {zsk});
  made = (*s)->SignDnskeyRrsets(absl::Now());
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 1u);
  EXPECT_EQ(StoredRows(store_.get()), 2u);

  // The other instance: no KSK private key, so it signs no DNSKEY RRset,
  // and finds the stored one by (apex, DNSKEY, RRset hash, KSK tag).
  ZoneKey ksk_public = ksk;
  ksk_public.private_key = nullptr;
  ZoneKey zsk_public = zsk;
  zsk_public.private_key = nullptr;
  KeyRing ring_b;
  publish(&ring_b, {ksk_public, zsk_public, other}, {}, {other});
  SignatureCache sigs_b;
  auto b = SignAheadSigner::Create(config_, {kApex}, store_.get(), &views_,
                                   &ring_b, &sigs_b, {600});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->LoadAll().ok());
  made = (*b)->SignDnskeyRrsets(absl::Now());
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, 0u);
  std::vector<std::string> rdatas{ksk.dnskey_rdata, zsk.dnskey_rdata,
                                  other.dnskey_rdata};
  auto sig = sigs_b.Find(SignatureKey(
      kApex, kTypeDNSKEY, RrsetHash(kTypeDNSKEY, 600, rdatas), ksk.key_tag));
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->key_tag, ksk.key_tag);
}

// A restart on signatures that already cover the registry does not walk
// it again (seconds of CPU at 1M numbers, taken from serving); a change to
// TNs only is signed by looking at those TNs; any other change walks all.
TEST_F(SignerTest, RestartSkipsTheWalkAndChangedTnsAreSignedAlone) {
  const uint64_t serial = CommitObjects(store_.get(), Objects(250));
  ASSERT_GT(serial, 0u);
  views_.Publish(MakeView(serial, 250));
  {
    SignatureCache sigs;
    auto first = MakeSigner(&sigs);
    ASSERT_TRUE(first->LoadAll().ok());
    first->Start();
    EXPECT_TRUE(Eventually([&] { return HasCheckpoint(store_.get()); }));
    EXPECT_EQ(first->stats().passes.load(), 1u);
    EXPECT_EQ(first->stats().start_passes_skipped.load(), 0u);
    first->Stop();
  }
  SignatureCache sigs;
  auto second = MakeSigner(&sigs);
  ASSERT_TRUE(second->LoadAll().ok());
  // 251 RRsets + DNSKEY; the checkpoint is not a signature.
  EXPECT_EQ(sigs.size(), 252u);
  second->Start();
  EXPECT_TRUE(Eventually(
      [&] { return second->stats().start_passes_skipped.load() >= 1; }));
  EXPECT_EQ(second->stats().passes.load(), 0u);

  // A new TN, through the Store's change log as the follower sees it.
  const uint64_t before = views_.Current()->serial();
  CommitObjects(store_.get(), {Tn("+12029999999", "dg0")});
  auto changes = store_->ReadChanges(before, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  auto next = views_.Current()->Apply(*changes);
  ASSERT_TRUE(next.ok()) << next.status();
  views_.Publish(*next);
  EXPECT_TRUE(Eventually([&] { return sigs.size() >= 253u; }));
  // The pass counts itself after its signatures are in: wait for it.
  EXPECT_TRUE(Eventually(
      [&] { return second->stats().incremental_passes.load() >= 1; }));
  EXPECT_EQ(second->stats().passes.load(), 0u);

  // A changed record changes the RRsets of many TNs: a full walk.
  const uint64_t before2 = views_.Current()->serial();
  CommitObjects(store_.get(), {Naptr("r0", "moved@example.net")});
  changes = store_->ReadChanges(before2, 100);
  ASSERT_TRUE(changes.ok()) << changes.status();
  next = views_.Current()->Apply(*changes);
  ASSERT_TRUE(next.ok()) << next.status();
  views_.Publish(*next);
  EXPECT_TRUE(Eventually([&] { return second->stats().passes.load() >= 1; }));
  EXPECT_TRUE(Eventually([&] { return sigs.size() >= 253u + 101u; }));
  second->Stop();
}

// A pass cut short by Stop() stores what it signed but no checkpoint: the
// next start must walk again. (With 20k RRsets in batches of 10k, Stop()
// comes once the first batch is stored, while the second is being signed.)
TEST_F(SignerTest, StoppedPassLeavesNoCheckpoint) {
  views_.Publish(MakeView(5, 20000));
  SignatureCache sigs;
  auto signer = MakeSigner(&sigs);
  ASSERT_TRUE(signer->LoadAll().ok());
  signer->Start();
  ASSERT_TRUE(Eventually([&] { return signer->IsSigner(); }));
  // Under way: the first batch is stored, the rest is not yet. (One
  // signature is the DNSKEY RRset's, made first.)
  ASSERT_TRUE(
      Eventually([&] { return signer->stats().signed_total.load() > 1; }));
  signer->Stop();
  const size_t rows = StoredRows(store_.get());
  if (rows < 20002u) {  // 20001 RRsets + DNSKEY.
    EXPECT_FALSE(HasCheckpoint(store_.get())) << rows << " rows";
  } else {
    EXPECT_TRUE(HasCheckpoint(store_.get()));  // It was quick after all.
  }
}

// The duration grammar itself is tested with the parser
// (tests/unit/grpc/config_test.cc, ConfigDurationTest).
TEST(SignerTimingTest, Durations) {
  lufd::v1::DnssecConfig c = ConfigDefaults().dns().dnssec();
  auto t = DnssecTiming::FromConfig(c);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->validity, absl::Hours(14 * 24));
  EXPECT_EQ(t->refresh_before, absl::Hours(5 * 24));
  c.set_signature_validity("2d");
  EXPECT_FALSE(DnssecTiming::FromConfig(c).ok());  // 5d + 12h >= 2d.
  c.set_jitter("bogus");
  EXPECT_FALSE(DnssecTiming::FromConfig(c).ok());
}

TEST(SignerTimingTest, MakeRrsigWindowAndJitter) {
  auto key = SigningKey::Generate(kAlgEcdsaP256Sha256);
  ASSERT_TRUE(key.ok());
  DnssecTiming t = *DnssecTiming::FromConfig(ConfigDefaults().dns().dnssec());
  absl::Time now = absl::FromUnixSeconds(1800000000);
  std::vector<std::string> rdatas{"x"};
  for (int i = 0; i < 20; ++i) {
    auto sig =
        MakeRrsig(**key, 1, kApex, kApex, kTypeNAPTR, 60, rdatas, t, now);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(sig->inception, 1800000000u - 3600u);
    EXPECT_LE(sig->expiration, 1800000000u + 14 * 86400u);
    EXPECT_GE(sig->expiration, 1800000000u + 14 * 86400u - 12 * 3600u);
    EXPECT_EQ(sig->labels, 2);
    EXPECT_EQ(sig->original_ttl, 60u);
  }
}

// The signer lease on a read-only standby (storage/write_router.h): none
// without a primary (advisory locks work on a standby, but nothing signed
// could be stored), taken once the standby is promoted, with no restart.
TEST_F(SignerTest, StandbyTakesNoLeaseUntilPromoted) {
  MemoryStore db;
  ::lufd::testing::StandbyStore local(&db, /*read_only=*/true);
  WriteRouter::Options options;
  options.recheck_interval = absl::ZeroDuration();
  WriteRouter router(&local, nullptr, options);
  SignatureCache sigs;
  auto s =
      SignAheadSigner::Create(config_, {kApex}, &local, &views_, &keys_, &sigs);
  ASSERT_TRUE(s.ok()) << s.status();
  auto signer = std::move(*s);
  signer->set_write_router(&router);
  ASSERT_TRUE(signer->LoadAll().ok());
  signer->Start();
  // The signer's first round asked the router, which asked the store.
  ASSERT_TRUE(Eventually([&] { return local.read_only_checks() >= 1; }));
  EXPECT_FALSE(signer->IsSigner());
  local.set_read_only(false);  // pg_ctl promote.
  EXPECT_TRUE(Eventually([&] { return signer->stats().passes.load() >= 1; }));
  EXPECT_TRUE(signer->IsSigner());
  EXPECT_EQ(StoredRows(&db), 252u);  // + the DNSKEY RRset.
  signer->Stop();
}

// With store.primary_url the lease, the signatures and the checkpoint go to
// the primary's table, not the standby's.
TEST_F(SignerTest, StandbyWithPrimarySignsIntoThePrimary) {
  MemoryStore standby_db, primary_db;
  ::lufd::testing::StandbyStore local(&standby_db, /*read_only=*/true);
  WriteRouter router(
      &local,
      [&]() -> absl::StatusOr<std::unique_ptr<Store>> {
        return std::unique_ptr<Store>(
            std::make_unique<::lufd::testing::StandbyStore>(&primary_db,
                                                            false));
      },
      WriteRouter::Options());
  SignatureCache sigs;
  auto s =
      SignAheadSigner::Create(config_, {kApex}, &local, &views_, &keys_, &sigs);
  ASSERT_TRUE(s.ok()) << s.status();
  auto signer = std::move(*s);
  signer->set_write_router(&router);
  ASSERT_TRUE(signer->LoadAll().ok());
  signer->Start();
  EXPECT_TRUE(Eventually([&] { return signer->stats().passes.load() >= 1; }));
  EXPECT_TRUE(signer->IsSigner());
  EXPECT_EQ(StoredRows(&primary_db), 252u);  // + the DNSKEY RRset.
  EXPECT_EQ(StoredRows(&standby_db), 0u);
  EXPECT_TRUE(HasCheckpoint(&primary_db));
  signer->Stop();
}

}  // namespace
}  // namespace lufd::dns
