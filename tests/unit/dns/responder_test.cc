// Responder: one wire-level test per response case. Queries are built by
// hand, parsed with ParseQuery, answered by Respond and read back with
// ldns_wire2pkt; RRSIGs are verified with ldns against the DNSKEY RRset the
// responder itself serves.
#include "server/dns/responder.h"

#include <ldns/ldns.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/dns/dnssec.h"
#include "server/dns/rdata.h"
#include "server/dns/rrsig.h"
#include "server/dns/signer.h"
#include "server/ops/config.h"
#include "tests/unit/testing/objects.h"

namespace lufd::dns {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

constexpr char kReg[] = "iana-en:reg";
constexpr char kPeer[] = "iana-en:peer";

// ------------------------------------------------------------ the registry

struct NaptrVec {
  uint32_t order, pref;
  std::string flags, services, regexp, replacement;
};

// RFC 6116 section 4.1 (for +441632960083).
const std::vector<NaptrVec>& Rfc6116() {
  static const auto* v = new std::vector<NaptrVec>{
      {10, 100, "u", "E2U+sip", "!^.*$!sip:info@example.com!", "."},
      {10, 101, "u", "E2U+h323", "!^.*$!h323:info@example.com!", "."},
      {10, 102, "u", "E2U+msg", "!^.*$!mailto:info@example.com!", "."},
  };
  return *v;
}
// RFC 4769 section 4 style (npdi/rn of RFC 4694), for +12155551212.
const std::vector<NaptrVec>& Rfc4769() {
  static const auto* v = new std::vector<NaptrVec>{
      {100, 10, "u", "E2U+pstn:tel",
       "!^.*$!tel:+1-215-555-1212;npdi;rn=+1-215-555-1000!", "."},
      {100, 20, "u", "E2U+pstn:sip",
       "!^.*$!sip:+1-215-555-1212;npdi;rn=+1-215-555-1000@gw.example.com;"
       "user=phone!",
       "."},
  };
  return *v;
}

RegistryObject OrgObj(const std::string& id, bool peer) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  o.mutable_org()->add_roles(peer ? lufd::v1::ORG_ROLE_PEER
                                  : lufd::v1::ORG_ROLE_REGISTRANT);
  return o;
}
// The builders below are the shared ones (tests/unit/testing/objects.h)
// with this file's registrant and a single destination group.
RegistryObject DestGroupObj(const std::string& id) {
  return testing::DestGroup(id, kReg);
}
RegistryObject NaptrObj(const std::string& id, const NaptrVec& v,
                        uint32_t ttl) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(kReg);
  r->set_in_service(true);
  r->set_ttl(ttl);
  auto* n = r->mutable_naptr();
  n->set_order(v.order);
  n->set_preference(v.pref);
  n->set_flags(v.flags);
  n->set_services(v.services);
  n->set_regexp(v.regexp);
  n->set_replacement(v.replacement);
  return o;
}
RegistryObject UriObj(const std::string& id, const std::string& target) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(kReg);
  r->set_in_service(true);
  r->set_ttl(900);
  r->mutable_uri()->set_priority(10);
  r->mutable_uri()->set_weight(1);
  r->mutable_uri()->set_target(target);
  return o;
}
RegistryObject GroupObj(const std::string& id, const std::string& dg,
                        const std::vector<std::string>& records, bool pub) {
  return testing::Group(id, kReg, {dg}, records, pub);
}
RegistryObject IdObj(lufd::v1::IdentifierKind kind, const std::string& value,
                     const std::string& dg, const std::string& end = "") {
  return testing::Ident(kind, value, kReg, {dg}, end);
}
RegistryObject OfferObj(const std::string& group, const std::string& peer) {
  return testing::Offer(group, peer, lufd::v1::OFFER_STATUS_ACCEPTED);
}

void Add(RegistryView::Builder* b, const RegistryObject& o) {
  b->Add(KindOf(o), KeyOf(o), o);
}

// Numbers:
//   +441632960083  RFC 6116 NAPTRs (public)
//   +12155551212   RFC 4769-style NAPTRs (public)
//   +12025556666   two NAPTRs, TTL 600 and 300, plus a URI (public)
//   +12025550000   only on a private group offered to kPeer
//   +1202666xxxx   range on the public group, +1202777 prefix too
//   +1202555       is then an empty non-terminal
// `with_hidden` = false leaves +12025550000 out entirely.
std::shared_ptr<const RegistryView> BuildView(uint64_t serial,
                                              bool with_hidden = true,
                                              int big = 0) {
  RegistryView::Builder b;
  Add(&b, OrgObj(kReg, false));
  Add(&b, OrgObj(kPeer, true));
  for (const char* dg :
       {"dg-6116", "dg-4769", "dg-main", "dg-hidden", "dg-big"}) {
    Add(&b, DestGroupObj(dg));
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < Rfc6116().size(); ++i) {
    std::string id = "r6116-" + std::to_string(i);
    Add(&b, NaptrObj(id, Rfc6116()[i], 3600));
    ids.push_back(id);
  }
  Add(&b, GroupObj("g6116", "dg-6116", ids, true));
  ids.clear();
  for (size_t i = 0; i < Rfc4769().size(); ++i) {
    std::string id = "r4769-" + std::to_string(i);
    Add(&b, NaptrObj(id, Rfc4769()[i], 3600));
    ids.push_back(id);
  }
  Add(&b, GroupObj("g4769", "dg-4769", ids, true));
  Add(&b,
      NaptrObj("main-1",
               {10, 10, "u", "E2U+sip", "!^.*$!sip:a@example.net!", "."}, 600));
  Add(&b,
      NaptrObj("main-2",
               {20, 10, "u", "E2U+sip", "!^.*$!sip:b@example.net!", "."}, 300));
  Add(&b, UriObj("main-uri", "sip:a@example.net"));
  Add(&b, GroupObj("gmain", "dg-main", {"main-1", "main-2", "main-uri"}, true));
  Add(&b,
      NaptrObj("hidden-1",
               {10, 10, "u", "E2U+sip", "!^.*$!sip:h@example.net!", "."}, 600));
  Add(&b, GroupObj("ghidden", "dg-hidden", {"hidden-1"}, false));
  Add(&b, OfferObj("ghidden", kPeer));
  ids.clear();
  for (int i = 0; i < big; ++i) {
    std::string id = "big-" + std::to_string(i);
    Add(&b, NaptrObj(id,
                     {static_cast<uint32_t>(i), 10, "u", "E2U+sip",
                      "!^.*$!sip:someone-with-a-long-name-" +
                          std::to_string(i) + "@example.net!",
                      "."},
                     600));
    ids.push_back(id);
  }
  if (big > 0) Add(&b, GroupObj("gbig", "dg-big", ids, true));

  using K = lufd::v1::IdentifierKind;
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+441632960083", "dg-6116"));
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+12155551212", "dg-4769"));
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+12025556666", "dg-main"));
  if (with_hidden) {
    Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+12025550000", "dg-hidden"));
  }
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN_RANGE, "+12026660000", "dg-main",
                "+12026669999"));
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN_PREFIX, "+1202777", "dg-main"));
  if (big > 0) Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+19995550000", "dg-big"));
  return std::move(b).Build(serial);
}

// ------------------------------------------------------------ queries

struct Q {
  std::string name;
  uint16_t type = kTypeNAPTR;
  bool edns = true;
  bool do_bit = false;
  bool co = false;
  uint16_t payload = 1232;
  uint8_t version = 0;
  uint16_t klass = kClassIN;
  uint16_t flags = kFlagRD;
  uint16_t id = 0x4242;
};

void Put16(std::vector<uint8_t>* p, uint16_t v) {
  p->push_back(static_cast<uint8_t>(v >> 8));
  p->push_back(static_cast<uint8_t>(v & 0xff));
}

std::vector<uint8_t> Build(const Q& q) {
  std::vector<uint8_t> p;
  Put16(&p, q.id);
  Put16(&p, q.flags);
  Put16(&p, 1);
  Put16(&p, 0);
  Put16(&p, 0);
  Put16(&p, q.edns ? 1 : 0);
  auto wire = NameFromText(q.name);
  EXPECT_TRUE(wire.has_value()) << q.name;
  p.insert(p.end(), wire->begin(), wire->end());
  Put16(&p, q.type);
  Put16(&p, q.klass);
  if (q.edns) {
    p.push_back(0);
    Put16(&p, kTypeOPT);
    Put16(&p, q.payload);
    p.push_back(0);
    p.push_back(q.version);
    Put16(&p, static_cast<uint16_t>((q.do_bit ? kEdnsFlagDO : 0) |
                                    (q.co ? kEdnsFlagCO : 0)));
    Put16(&p, 0);
  }
  return p;
}

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktDeleter>;
struct ListDeleter {
  void operator()(ldns_rr_list* l) const { ldns_rr_list_deep_free(l); }
};
using List = std::unique_ptr<ldns_rr_list, ListDeleter>;

ZoneKey MakeKey(uint16_t flags, lufd::v1::DnsKeyRole role,
                uint8_t alg = kAlgEcdsaP256Sha256) {
  auto key = SigningKey::Generate(alg);
  EXPECT_TRUE(key.ok()) << key.status();
  ZoneKey zk;
  zk.private_key = std::shared_ptr<const SigningKey>(std::move(*key));
  zk.dnskey_rdata = DnskeyRdata(flags, alg, zk.private_key->public_key());
  zk.key_tag = KeyTag(zk.dnskey_rdata);
  zk.info.set_zone("e164.arpa.");
  zk.info.set_role(role);
  zk.info.set_algorithm(alg);
  zk.info.set_flags(flags);
  zk.info.set_key_tag(zk.key_tag);
  zk.info.set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
  return zk;
}

const std::string kApex(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

// Signature timing from the config defaults (server/ops/config.cc).
DnssecTiming DefaultTiming() {
  return *DnssecTiming::FromConfig(ConfigDefaults().dns().dnssec());
}

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    views_.Publish(BuildView(7));
    csk_ = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_CSK);
    PublishKeys({csk_}, {csk_}, {csk_});
    auto* z = config_.add_zones();
    z->set_name("E164.arpa.");
    z->set_soa_minimum(120);
    auto* p = config_.add_zones();
    p->set_name("private.example.");
    p->set_private_(true);
    // The cases below pin compact denial; CoveringResponderTest covers the
    // default.
    config_.mutable_dnssec()->set_denial("compact");
    MakeResponder();
  }

  void MakeResponder() {
    lufd::v1::DnsConfig config = config_;
    ApplyDnsDefaults(&config);
    auto r = Responder::Create(config, &views_, &keys_, &store_, &lru_);
    ASSERT_TRUE(r.ok()) << r.status();
    responder_ = std::move(*r);
  }

  void PublishKeys(std::vector<ZoneKey> published,
                   std::vector<ZoneKey> dnskey_signers,
                   std::vector<ZoneKey> zone_signers) {
    auto zk = std::make_shared<ZoneKeys>();
    zk->zone_wire = kApex;
    zk->published = std::move(published);
    zk->dnskey_signers = std::move(dnskey_signers);
    zk->zone_signers = std::move(zone_signers);
    keys_.Publish({zk});
  }

  // Raw response bytes.
  std::vector<uint8_t> Raw(const Q& q, const Identity& viewer = Identity{},
                           Transport t = Transport::kUdp,
                           size_t capacity = 65535) {
    std::vector<uint8_t> packet = Build(q);
    return RawPacket(packet, viewer, t, capacity);
  }
  std::vector<uint8_t> RawPacket(const std::vector<uint8_t>& packet,
                                 const Identity& viewer = Identity{},
                                 Transport t = Transport::kUdp,
                                 size_t capacity = 65535) {
    ParsedQuery pq;
    ParseResult pr = ParseQuery(absl::MakeConstSpan(packet), &pq);
    std::vector<uint8_t> out(capacity);
    size_t n = responder_->Respond(pq, pr, viewer, t, ClientAddress{},
                                   out.data(), Limit(pq, t, capacity));
    out.resize(n);
    return out;
  }
  // The limit DnsServer::Process passes: a UDP listener's buffer is
  // max_udp_payload bytes.
  size_t Limit(const ParsedQuery& pq, Transport t, size_t capacity) const {
    if (t == Transport::kUdp) {
      capacity = std::min<size_t>(capacity, responder_->max_udp_payload());
    }
    return ResponseLimit(pq, t, capacity);
  }
  Pkt Parse(const std::vector<uint8_t>& raw) {
    ldns_pkt* p = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&p, raw.data(), raw.size()), LDNS_STATUS_OK);
    return Pkt(p);
  }
  Pkt Ask(const Q& q, const Identity& viewer = Identity{},
          Transport t = Transport::kUdp) {
    auto raw = Raw(q, viewer, t);
    EXPECT_FALSE(raw.empty());
    if (raw.empty()) return nullptr;
    return Parse(raw);
  }

  // The DNSKEY RRset as served.
  List ServedKeys() {
    Q q{"e164.arpa.", kTypeDNSKEY};
    q.do_bit = true;
    Pkt p = Ask(q);
    List keys(ldns_rr_list_new());
    ldns_rr_list* an = ldns_pkt_answer(p.get());
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(an, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY) {
        ldns_rr_list_push_rr(keys.get(), ldns_rr_clone(rr));
      }
    }
    return keys;
  }

  // Puts in store_ what the signer would have stored for +12025556666's
  // NAPTR RRset (as BuildView provisions it), signed by `key`, so a query
  // for it is a sign-ahead hit. Returns the signature, stored only if ok.
  absl::StatusOr<CompactRrsig> StoreSignAheadSignature(const ZoneKey& key) {
    const std::string owner = EnumOwner("+12025556666", kApex);
    const std::vector<std::string> rdatas{
        NaptrRdata(10, 10, "u", "E2U+sip", "!^.*$!sip:a@example.net!",
                   std::string(1, '\0')),
        NaptrRdata(20, 10, "u", "E2U+sip", "!^.*$!sip:b@example.net!",
                   std::string(1, '\0'))};
    auto sig = MakeRrsig(*key.private_key, key.key_tag, kApex, owner,
                         kTypeNAPTR, 300, rdatas, DefaultTiming(), absl::Now());
    if (sig.ok()) {
      store_.Insert(
          SignatureKey(owner, kTypeNAPTR, RrsetHash(kTypeNAPTR, 300, rdatas),
                       key.key_tag),
          *sig);
    }
    return sig;
  }

  // Verifies every RRSIG of `section` over its RRset there; returns how
  // many verified. Fails the test for a bad one.
  int VerifySection(ldns_rr_list* section) {
    List keys = ServedKeys();
    int verified = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(section); ++i) {
      ldns_rr* sig = ldns_rr_list_rr(section, i);
      if (ldns_rr_get_type(sig) != LDNS_RR_TYPE_RRSIG) continue;
      ldns_rr_type covered = ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig));
      List rrset(ldns_rr_list_new());
      for (size_t j = 0; j < ldns_rr_list_rr_count(section); ++j) {
        ldns_rr* rr = ldns_rr_list_rr(section, j);
        if (ldns_rr_get_type(rr) == covered) {
          ldns_rr_list_push_rr(rrset.get(), ldns_rr_clone(rr));
        }
      }
      ldns_rr_list* good = ldns_rr_list_new();
      ldns_status s =
          ldns_verify_rrsig_keylist(rrset.get(), sig, keys.get(), good);
      ldns_rr_list_free(good);
      EXPECT_EQ(s, LDNS_STATUS_OK)
          << "type " << covered << ": " << ldns_get_errorstr_by_id(s);
      if (s == LDNS_STATUS_OK) ++verified;
    }
    return verified;
  }

  static size_t Count(ldns_rr_list* l, ldns_rr_type t) {
    size_t n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) {
      if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t) ++n;
    }
    return n;
  }
  static ldns_rr* First(ldns_rr_list* l, ldns_rr_type t) {
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) {
      if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t) {
        return ldns_rr_list_rr(l, i);
      }
    }
    return nullptr;
  }
  static std::string RdataWire(ldns_rr* rr) {
    ldns_buffer* buf = ldns_buffer_new(512);
    EXPECT_EQ(ldns_rr_rdata2buffer_wire(buf, rr), LDNS_STATUS_OK);
    std::string out(reinterpret_cast<const char*>(ldns_buffer_begin(buf)),
                    ldns_buffer_position(buf));
    ldns_buffer_free(buf);
    return out;
  }
  static std::string Text(const ldns_rdf* rdf) {
    char* s = ldns_rdf2str(rdf);
    std::string out(s);
    free(s);
    return out;
  }

  lufd::v1::DnsConfig config_;
  ViewHolder views_;
  KeyRing keys_;
  SignatureCache store_;
  SignatureLru lru_{1000};
  ZoneKey csk_;
  std::unique_ptr<Responder> responder_;
};

const Identity kPeerId{kPeer, "", lufd::v1::ROLE_PEER};

// ------------------------------------------------------------ apex

TEST_F(ResponderTest, ApexSoaWithSerialAndFlags) {
  Q q{"e164.arpa.", kTypeSOA};
  q.flags = kFlagRD | kFlagCD;
  Pkt p = Ask(q);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_qr(p.get()));
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
  EXPECT_TRUE(ldns_pkt_rd(p.get()));
  EXPECT_TRUE(ldns_pkt_cd(p.get()));
  EXPECT_FALSE(ldns_pkt_ra(p.get()));
  EXPECT_FALSE(ldns_pkt_tc(p.get()));
  EXPECT_EQ(ldns_pkt_id(p.get()), 0x4242);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(an), 1u);  // No RRSIG without DO.
  ldns_rr* soa = ldns_rr_list_rr(an, 0);
  EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rr_ttl(soa), 3600u);
  EXPECT_EQ(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 7u);  // Serial.
  EXPECT_EQ(Text(ldns_rr_rdf(soa, 0)), "ns1.e164.arpa.");
  EXPECT_EQ(Text(ldns_rr_rdf(soa, 1)), "hostmaster.e164.arpa.");
  EXPECT_EQ(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), 120u);
  EXPECT_EQ(ldns_pkt_edns_udp_size(p.get()), 1232);
  EXPECT_FALSE(ldns_pkt_edns_do(p.get()));

  // A new view: the SOA serial follows it.
  views_.Publish(BuildView(0x100000009ULL));
  p = Ask(q);
  soa = ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0);
  EXPECT_EQ(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 9u);  // mod 2^32.
}

TEST_F(ResponderTest, ApexRrsetsSignedWithDo) {
  for (uint16_t type : {kTypeSOA, kTypeNS, kTypeDNSKEY}) {
    Q q{"e164.arpa.", type};
    q.do_bit = true;
    Pkt p = Ask(q);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(ldns_pkt_edns_do(p.get()));
    ldns_rr_list* an = ldns_pkt_answer(p.get());
    EXPECT_EQ(Count(an, static_cast<ldns_rr_type>(type)), 1u) << type;
    EXPECT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u) << type;
    EXPECT_EQ(VerifySection(an), 1) << type;
  }
}

TEST_F(ResponderTest, KskZskSchemeSignsDnskeyWithKskOnly) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey zsk = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  PublishKeys({ksk, zsk}, {ksk}, {zsk});
  Q q{"e164.arpa.", kTypeDNSKEY};
  q.do_bit = true;
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  EXPECT_EQ(Count(an, LDNS_RR_TYPE_DNSKEY), 2u);
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            ksk.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
  Q n{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  n.do_bit = true;
  p = Ask(n);
  an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            zsk.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
}

TEST_F(ResponderTest, ApexNodataAndAnyAndUnsignedNodata) {
  Q q{"e164.arpa.", kTypeNAPTR};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  ldns_rr_list* ns = ldns_pkt_authority(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(ns), 1u);
  EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(ns, 0)), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ns, 0)), 120u);  // min(3600, 120).

  Q any{"e164.arpa.", kTypeANY};
  p = Ask(any);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(an), 1u);  // RFC 8482: one RRset.
  EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(an, 0)), LDNS_RR_TYPE_SOA);
}

TEST_F(ResponderTest, ApexNodataCompactDenialBitmap) {
  Q q{"e164.arpa.", kTypeA};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  ldns_rr_list* ns = ldns_pkt_authority(p.get());
  ldns_rr* nsec = First(ns, LDNS_RR_TYPE_NSEC);
  ASSERT_NE(nsec, nullptr);
  ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
  for (ldns_rr_type t : {LDNS_RR_TYPE_SOA, LDNS_RR_TYPE_NS, LDNS_RR_TYPE_RRSIG,
                         LDNS_RR_TYPE_NSEC, LDNS_RR_TYPE_DNSKEY}) {
    EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, t)) << t;
  }
  EXPECT_FALSE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_A));
  EXPECT_FALSE(
      ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
  EXPECT_EQ(ldns_rr_ttl(nsec), 120u);
  EXPECT_EQ(VerifySection(ns), 2);  // SOA and NSEC.
}

// ------------------------------------------------------------ numbers

std::string ExpectedNaptrRdata(const NaptrVec& v) {
  return NaptrRdata(static_cast<uint16_t>(v.order),
                    static_cast<uint16_t>(v.pref), v.flags, v.services,
                    v.regexp, std::string(1, '\0'));
}

TEST_F(ResponderTest, Rfc6116ExampleServedByteExact) {
  Q q{"3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa."};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_aa(p.get()));
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(an), Rfc6116().size());
  for (size_t i = 0; i < Rfc6116().size(); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(an, i);
    EXPECT_EQ(ldns_rr_get_type(rr), LDNS_RR_TYPE_NAPTR);
    EXPECT_EQ(ldns_rr_ttl(rr), 3600u);
    EXPECT_EQ(RdataWire(rr), ExpectedNaptrRdata(Rfc6116()[i])) << i;
  }
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_authority(p.get())), 0u);
}

TEST_F(ResponderTest, Rfc4769ExampleServedByteExactAndSigned) {
  Q q{"2.1.2.1.5.5.5.5.1.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_NAPTR), Rfc4769().size());
  for (size_t i = 0; i < Rfc4769().size(); ++i) {
    EXPECT_EQ(RdataWire(ldns_rr_list_rr(an, i)),
              ExpectedNaptrRdata(Rfc4769()[i]));
  }
  EXPECT_EQ(VerifySection(an), 1);
}

TEST_F(ResponderTest, NaptrTtlIsMinimumAndOrderKept) {
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(an), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(an, i)), 300u);
  }
  EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(ldns_rr_list_rr(an, 0), 0)), 10);
  EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rdf(ldns_rr_list_rr(an, 1), 0)), 20);
}

TEST_F(ResponderTest, UriRecordsForUriQuery) {
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa.", kTypeURI};
  q.do_bit = true;
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, static_cast<ldns_rr_type>(256)), 1u);
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(an, 0)), 900u);
  EXPECT_EQ(RdataWire(ldns_rr_list_rr(an, 0)),
            UriRdata(10, 1, "sip:a@example.net"));
  EXPECT_EQ(VerifySection(an), 1);
}

TEST_F(ResponderTest, AnyAtNumberAnswersTheNaptrRrsetOnly) {
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa.", kTypeANY};
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  EXPECT_EQ(ldns_rr_list_rr_count(an), 2u);
  EXPECT_EQ(Count(an, LDNS_RR_TYPE_NAPTR), 2u);
}

TEST_F(ResponderTest, RangeAndPrefixAreSynthesized) {
  for (const char* name :
       {"1.2.3.4.6.6.6.2.0.2.1.e164.arpa.", "9.9.9.9.7.7.7.2.0.2.1.e164.arpa.",
        "7.7.7.2.0.2.1.e164.arpa."}) {
    Q q{name};
    q.do_bit = true;
    Pkt p = Ask(q);
    ldns_rr_list* an = ldns_pkt_answer(p.get());
    EXPECT_EQ(Count(an, LDNS_RR_TYPE_NAPTR), 2u) << name;
    EXPECT_EQ(VerifySection(an), 1) << name;
  }
  // Signed on demand once, then from the LRU.
  uint64_t before = responder_->stats().sig_lru_hits.load();
  Q q{"1.2.3.4.6.6.6.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Ask(q);
  EXPECT_EQ(responder_->stats().sig_lru_hits.load(), before + 1);
}

TEST_F(ResponderTest, NodataAtNumberForOtherType) {
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa.", kTypeA};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  ldns_rr_list* ns = ldns_pkt_authority(p.get());
  ASSERT_EQ(ldns_rr_list_rr_count(ns), 1u);
  ldns_rr* soa = ldns_rr_list_rr(ns, 0);
  EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rr_ttl(soa), 120u);
  EXPECT_EQ(Text(ldns_rr_owner(soa)), "e164.arpa.");

  q.do_bit = true;
  p = Ask(q);
  ns = ldns_pkt_authority(p.get());
  ldns_rr* nsec = First(ns, LDNS_RR_TYPE_NSEC);
  ASSERT_NE(nsec, nullptr);
  ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NAPTR));
  EXPECT_TRUE(
      ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(256)));
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_RRSIG));
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NSEC));
  EXPECT_FALSE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_A));
  EXPECT_FALSE(
      ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
  EXPECT_EQ(VerifySection(ns), 2);
}

TEST_F(ResponderTest, EmptyNonTerminalIsNodata) {
  Q q{"5.5.5.2.0.2.1.e164.arpa."};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  q.do_bit = true;
  p = Ask(q);
  ldns_rr* nsec = First(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC);
  ASSERT_NE(nsec, nullptr);
  ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_RRSIG));
  EXPECT_FALSE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NAPTR));
  EXPECT_FALSE(
      ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
}

TEST_F(ResponderTest, NonexistentNumberNxdomainWithoutDo) {
  for (const char* name : {"1.1.1.1.5.5.5.2.0.2.1.e164.arpa.", "x.1.e164.arpa.",
                           "10.e164.arpa."}) {
    Q q{name};
    Pkt p = Ask(q);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN) << name;
    EXPECT_TRUE(ldns_pkt_aa(p.get()));
    ldns_rr_list* ns = ldns_pkt_authority(p.get());
    ASSERT_EQ(ldns_rr_list_rr_count(ns), 1u);
    EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(ns, 0)), LDNS_RR_TYPE_SOA);
    EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ns, 0)), 120u);
  }
}

TEST_F(ResponderTest, NonexistentNumberCompactDenial) {
  Q q{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  EXPECT_FALSE(ldns_pkt_edns_z(p.get()) & kEdnsFlagCO);
  ldns_rr_list* ns = ldns_pkt_authority(p.get());
  EXPECT_EQ(Count(ns, LDNS_RR_TYPE_SOA), 1u);
  EXPECT_EQ(Count(ns, LDNS_RR_TYPE_NSEC), 1u);
  EXPECT_EQ(Count(ns, LDNS_RR_TYPE_RRSIG), 2u);
  ldns_rr* nsec = First(ns, LDNS_RR_TYPE_NSEC);
  EXPECT_EQ(Text(ldns_rr_owner(nsec)), "1.1.1.1.5.5.5.2.0.2.1.e164.arpa.");
  EXPECT_EQ(Text(ldns_rr_rdf(nsec, 0)),
            "\\000.1.1.1.1.5.5.5.2.0.2.1.e164.arpa.");
  ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_RRSIG));
  EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NSEC));
  EXPECT_TRUE(
      ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
  EXPECT_FALSE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NAPTR));
  EXPECT_EQ(ldns_rr_ttl(nsec), 120u);
  EXPECT_EQ(VerifySection(ns), 2);

  // The same miss again: its NSEC signature comes from the LRU.
  uint64_t signed_before = responder_->stats().signed_on_demand.load();
  Ask(q);
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), signed_before);

  // CO restores NXDOMAIN and is echoed.
  q.co = true;
  p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(ldns_pkt_edns_z(p.get()) & kEdnsFlagCO);
  EXPECT_EQ(Count(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC), 1u);
}

TEST_F(ResponderTest, InvisibleLooksExactlyLikeNotFound) {
  // +12025550000 exists only on a group offered to the peer.
  Q q{"0.0.0.0.5.5.5.2.0.2.1.e164.arpa."};
  Pkt peer = Ask(q, kPeerId);
  EXPECT_EQ(Count(ldns_pkt_answer(peer.get()), LDNS_RR_TYPE_NAPTR), 1u);

  std::vector<uint8_t> hidden = Raw(q);
  std::vector<uint8_t> hidden_a = Raw(Q{q.name, kTypeA});
  views_.Publish(BuildView(7, /*with_hidden=*/false));
  // Same serial: the SOA is unchanged, so the bytes must be too.
  MakeResponder();
  std::vector<uint8_t> absent = Raw(q);
  std::vector<uint8_t> absent_a = Raw(Q{q.name, kTypeA});
  EXPECT_EQ(hidden, absent);
  EXPECT_EQ(hidden_a, absent_a);
  Pkt p = Parse(absent);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(ResponderTest, MixedCaseIsEchoedAndOwnersPointAtTheQuestion) {
  Q q{"3.8.0.0.6.9.2.3.6.1.4.4.E164.ArPa."};
  std::vector<uint8_t> raw = Raw(q);
  std::vector<uint8_t> query = Build(q);
  ASSERT_GT(raw.size(), query.size());
  // Header aside, the question is byte-identical.
  const size_t qlen = query.size() - 11;  // All but the OPT RR.
  EXPECT_TRUE(
      std::equal(query.begin() + 12, query.begin() + qlen, raw.begin() + 12));
  // The first answer's owner is a pointer to the question name.
  EXPECT_EQ(raw[qlen], 0xc0);
  EXPECT_EQ(raw[qlen + 1], 0x0c);
  Pkt p = Parse(raw);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 3u);

  Q miss{"1.1.1.1.5.5.5.2.0.2.1.E164.ARPA.", kTypeNAPTR};
  miss.do_bit = true;
  p = Ask(miss);
  EXPECT_EQ(VerifySection(ldns_pkt_authority(p.get())), 2);
}

// ------------------------------------------------------------ refusals

TEST_F(ResponderTest, OutsideEveryApexIsRefused) {
  Pkt p = Ask(Q{"www.example.com.", kTypeA});
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_REFUSED);
  EXPECT_FALSE(ldns_pkt_aa(p.get()));
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  p = Ask(Q{"arpa.", kTypeSOA});
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_REFUSED);
}

TEST_F(ResponderTest, PrivateZoneRefusesAnonymousOnly) {
  Q q{"private.example.", kTypeSOA};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_REFUSED);
  p = Ask(q, kPeerId);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_SOA), 1u);
  // Numbers under the private apex resolve for the peer.
  p = Ask(Q{"0.0.0.0.5.5.5.2.0.2.1.private.example."}, kPeerId);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_NAPTR), 1u);
}

TEST_F(ResponderTest, ClassChaosRefused) {
  Q q{"e164.arpa.", kTypeSOA};
  q.klass = kClassCH;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_REFUSED);
}

TEST_F(ResponderTest, NxnameQueryIsFormerr) {
  Pkt p = Ask(Q{"1.e164.arpa.", kTypeNXNAME});
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_qdcount(p.get()), 1);
}

TEST_F(ResponderTest, TransfersRefused) {
  for (uint16_t t : {kTypeAXFR, kTypeIXFR}) {
    Pkt p = Ask(Q{"e164.arpa.", t}, Identity{}, Transport::kTcp);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_REFUSED);
  }
}

TEST_F(ResponderTest, UnknownOpcodeNotImp) {
  Q q{"e164.arpa.", kTypeSOA};
  q.flags = static_cast<uint16_t>(4 << 11);  // NOTIFY.
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_get_opcode(p.get()), LDNS_PACKET_NOTIFY);
}

TEST_F(ResponderTest, MalformedIsFormerrAndGarbageDropped) {
  std::vector<uint8_t> packet = Build(Q{"e164.arpa.", kTypeSOA});
  packet.resize(packet.size() - 13);  // Cut into the question.
  std::vector<uint8_t> raw = RawPacket(packet);
  ASSERT_GE(raw.size(), 12u);
  Pkt p = Parse(raw);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_id(p.get()), 0x4242);
  EXPECT_TRUE(RawPacket({1, 2, 3}).empty());
}

TEST_F(ResponderTest, EdnsVersionOneIsBadvers) {
  Q q{"e164.arpa.", kTypeSOA};
  q.version = 1;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), 0);  // Low bits of 16.
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(p.get()), 1);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
  EXPECT_EQ(ldns_pkt_edns_version(p.get()), 0);
}

// ------------------------------------------------------------ per-viewer
// existence (issue 8): whether a name is an empty non-terminal or absent is
// decided from what the asker may see.

constexpr char kSsp1[] = "iana-en:111";  // Offered the group, accepted.
constexpr char kSsp3[] = "iana-en:333";  // Offered nothing.

// Issue 8's shape: +12025556666, the range +12026660000..+12026669999 and
// the prefix +1202777 on SED group "gssp1", offered only to SSP1 (accepted),
// next to public +441632960083. `with_offered` = false leaves the three
// identifiers out: the registry as everyone but SSP1 and the owner should
// perceive it.
std::shared_ptr<const RegistryView> BuildOfferedView(uint64_t serial,
                                                     bool with_offered) {
  RegistryView::Builder b;
  Add(&b, OrgObj(kReg, false));
  Add(&b, OrgObj(kSsp1, true));
  Add(&b, OrgObj(kSsp3, true));
  Add(&b, DestGroupObj("dg-6116"));
  Add(&b, DestGroupObj("dg-ssp1"));
  Add(&b, NaptrObj("r6116-0", Rfc6116()[0], 3600));
  Add(&b, GroupObj("g6116", "dg-6116", {"r6116-0"}, true));
  Add(&b, NaptrObj("ssp1-1",
                   {10, 10, "u", "E2U+sip", "!^.*$!sip:ssp1@example.net!", "."},
                   600));
  Add(&b, GroupObj("gssp1", "dg-ssp1", {"ssp1-1"}, false));
  Add(&b, OfferObj("gssp1", kSsp1));
  using K = lufd::v1::IdentifierKind;
  Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+441632960083", "dg-6116"));
  if (with_offered) {
    Add(&b, IdObj(K::IDENTIFIER_KIND_TN, "+12025556666", "dg-ssp1"));
    Add(&b, IdObj(K::IDENTIFIER_KIND_TN_RANGE, "+12026660000", "dg-ssp1",
                  "+12026669999"));
    Add(&b, IdObj(K::IDENTIFIER_KIND_TN_PREFIX, "+1202777", "dg-ssp1"));
  }
  return std::move(b).Build(serial);
}

struct Viewer {
  const char* what;
  Identity identity;
  Transport transport;
};

// The names of the matrix: above the TN (the example first), above
// the range, above the prefix, above all three, and the identifiers
// themselves.
const std::vector<std::string>& OfferedNames() {
  static const auto* names = new std::vector<std::string>{
      "6.6.6.5.5.5.2.0.2.1.e164.arpa.",    // Above +12025556666.
      "5.5.5.2.0.2.1.e164.arpa.",          // Above the TN only.
      "6.6.6.2.0.2.1.e164.arpa.",          // Above the range.
      "6.6.6.6.2.0.2.1.e164.arpa.",        // Inside the range's block.
      "9.9.9.6.6.6.2.0.2.1.e164.arpa.",    // Just above its last numbers.
      "7.7.2.0.2.1.e164.arpa.",            // Above the prefix.
      "2.0.2.1.e164.arpa.",                // Above all three.
      "1.e164.arpa.",                      //
      "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.",  // The TN.
      "0.0.0.0.6.6.6.2.0.2.1.e164.arpa.",  // In the range.
      "7.7.7.2.0.2.1.e164.arpa.",          // The prefix.
      "1.2.3.4.7.7.7.2.0.2.1.e164.arpa.",  // Under the prefix.
  };
  return *names;
}

// Every way of asking that shows a denial's shape: no EDNS, EDNS, DO,
// DO+CO, other types, a 512-byte buffer.
std::vector<Q> DenialQueries(const std::string& name) {
  std::vector<Q> qs;
  Q plain{name};
  plain.edns = false;
  qs.push_back(plain);
  qs.push_back(Q{name});
  for (uint16_t type : {kTypeNAPTR, kTypeA, kTypeDS, kTypeANY, kTypeURI}) {
    Q q{name, type};
    q.do_bit = true;
    qs.push_back(q);
  }
  Q co{name};
  co.do_bit = true;
  co.co = true;
  qs.push_back(co);
  Q small{name};
  small.do_bit = true;
  small.payload = 512;
  qs.push_back(small);
  return qs;
}

TEST_F(ResponderTest, NamesAboveInvisibleDataAnswerLikeNamesAboveNothing) {
  const std::vector<Viewer> viewers = {
      {"anonymous UDP", Identity{}, Transport::kUdp},
      {"anonymous TCP", Identity{}, Transport::kTcp},
      {"TSIG SSP3", Identity{kSsp3, "cred-tsig-ssp3", lufd::v1::ROLE_PEER},
       Transport::kUdp},
      {"DoT SSP3", Identity{kSsp3, "cred-peer-ssp3", lufd::v1::ROLE_PEER},
       Transport::kTls},
  };
  // Same serial in both registries: same SOA, same apex signatures; the
  // denial NSECs' signatures come from the shared LRU when their RDATA is
  // the same. So equal answers are equal bytes (but the ID, kept too).
  // Signed (compact denial), then unsigned (no keys: plain NXDOMAIN).
  for (const bool is_signed : {true, false}) {
    SCOPED_TRACE(is_signed ? "signed zone" : "unsigned zone");
    if (!is_signed) keys_.Publish({});
    views_.Publish(BuildOfferedView(9, /*with_offered=*/true));
    std::vector<std::vector<uint8_t>> hidden;
    for (const Viewer& v : viewers) {
      for (const std::string& name : OfferedNames()) {
        for (const Q& q : DenialQueries(name)) {
          hidden.push_back(Raw(q, v.identity, v.transport));
        }
      }
    }
    views_.Publish(BuildOfferedView(9, /*with_offered=*/false));
    size_t i = 0;
    for (const Viewer& v : viewers) {
      for (const std::string& name : OfferedNames()) {
        for (const Q& q : DenialQueries(name)) {
          SCOPED_TRACE(absl::StrCat(v.what, " ", name, " type ", q.type,
                                    q.edns ? "" : " no EDNS",
                                    q.do_bit ? " DO" : "", q.co ? " CO" : "",
                                    " payload ", q.payload));
          const std::vector<uint8_t> absent = Raw(q, v.identity, v.transport);
          ASSERT_FALSE(absent.empty());
          EXPECT_EQ(hidden[i++], absent);
          // And "absent" is a denial: NXDOMAIN, or compact denial's NOERROR
          // with NXNAME in the NSEC bitmap.
          Pkt p = Parse(absent);
          EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
          if (!is_signed || !q.do_bit || q.co) {
            EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
          } else if (q.payload > 512) {
            ldns_rr* nsec =
                First(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC);
            ASSERT_NE(nsec, nullptr);
            EXPECT_TRUE(ldns_nsec_bitmap_covers_type(
                ldns_rr_rdf(nsec, 1), static_cast<ldns_rr_type>(128)));
          }
        }
      }
    }
  }
}

TEST_F(ResponderTest, NamesAboveVisibleDataStayEmptyNonTerminals) {
  // SSP1 (offered, accepted) and the owner see the three identifiers: the
  // names above them are empty non-terminals (RFC 8020 resolvers must not
  // cut them off), over TSIG (UDP) and DoT alike.
  const std::vector<Viewer> viewers = {
      {"TSIG SSP1", Identity{kSsp1, "cred-tsig-ssp1", lufd::v1::ROLE_PEER},
       Transport::kUdp},
      {"DoT SSP1", Identity{kSsp1, "cred-peer-ssp1", lufd::v1::ROLE_PEER},
       Transport::kTls},
      {"owner", Identity{kReg, "cred-reg", lufd::v1::ROLE_PEER},
       Transport::kUdp},
  };
  views_.Publish(BuildOfferedView(9, /*with_offered=*/true));
  for (const Viewer& v : viewers) {
    for (const char* name :
         {"6.6.6.5.5.5.2.0.2.1.e164.arpa.", "5.5.5.2.0.2.1.e164.arpa.",
          "6.6.6.2.0.2.1.e164.arpa.", "6.6.6.6.2.0.2.1.e164.arpa.",
          "9.9.9.6.6.6.2.0.2.1.e164.arpa.", "7.7.2.0.2.1.e164.arpa.",
          "2.0.2.1.e164.arpa."}) {
      SCOPED_TRACE(absl::StrCat(v.what, " ", name));
      Q q{name};
      Pkt p = Ask(q, v.identity, v.transport);
      EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
      EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
      q.do_bit = true;
      q.co = true;  // NXDOMAIN would come back as such.
      p = Ask(q, v.identity, v.transport);
      EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
      ldns_rr* nsec = First(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC);
      ASSERT_NE(nsec, nullptr);
      ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
      EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_RRSIG));
      EXPECT_FALSE(
          ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
      EXPECT_EQ(VerifySection(ldns_pkt_authority(p.get())), 2);
    }
    // The number itself answers.
    Pkt p = Ask(Q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."}, v.identity, v.transport);
    EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_NAPTR), 1u)
        << v.what;
  }
  // The same names are absent for SSP1 once the data is gone (the test
  // tells ENT from NXDOMAIN).
  views_.Publish(BuildOfferedView(10, /*with_offered=*/false));
  Pkt p = Ask(Q{"6.6.6.5.5.5.2.0.2.1.e164.arpa."}, viewers[0].identity);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
}

TEST_F(ResponderTest, ExistenceFollowsOffersAndGroupsAtOnce) {
  // An offer accepted, a group made public, a group taken out of service:
  // no identifier changes, yet who sees the ENT changes with the view.
  views_.Publish(BuildOfferedView(9, /*with_offered=*/true));
  const Identity ssp3{kSsp3, "cred-tsig-ssp3", lufd::v1::ROLE_PEER};
  const Q q{"6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  auto rcode = [&](const Identity& who) {
    Pkt p = Ask(q, who);
    return ldns_pkt_get_rcode(p.get());
  };
  EXPECT_EQ(rcode(ssp3), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(rcode(Identity{}), LDNS_RCODE_NXDOMAIN);
  auto change = [&](uint64_t serial, const RegistryObject& o) {
    lufd::v1::Change c;
    c.set_serial(serial);
    c.set_kind(KindOf(o));
    c.set_key(KeyOf(o));
    *c.mutable_after() = o;
    auto next = views_.Current()->Apply({c});
    ASSERT_TRUE(next.ok()) << next.status();
    views_.Publish(*next);
  };
  change(10, OfferObj("gssp1", kSsp3));
  EXPECT_EQ(rcode(ssp3), LDNS_RCODE_NOERROR);
  EXPECT_EQ(rcode(Identity{}), LDNS_RCODE_NXDOMAIN);
  change(11, GroupObj("gssp1", "dg-ssp1", {"ssp1-1"}, /*pub=*/true));
  EXPECT_EQ(rcode(Identity{}), LDNS_RCODE_NOERROR);
  RegistryObject idle = GroupObj("gssp1", "dg-ssp1", {"ssp1-1"}, true);
  idle.mutable_sed_group()->set_in_service(false);
  change(12, idle);
  EXPECT_EQ(rcode(Identity{}), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(rcode(ssp3), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(rcode(Identity{kSsp1, "c", lufd::v1::ROLE_PEER}),
            LDNS_RCODE_NXDOMAIN);
}

// ------------------------------------------------------------ sizes

TEST_F(ResponderTest, TruncatesWhenTheAnswerDoesNotFit) {
  views_.Publish(BuildView(8, true, /*big=*/12));
  Q q{"0.0.0.0.5.5.5.9.9.9.1.e164.arpa."};
  q.payload = 512;
  q.do_bit = true;
  std::vector<uint8_t> raw = Raw(q);
  ASSERT_FALSE(raw.empty());
  EXPECT_LE(raw.size(), 512u);
  Pkt p = Parse(raw);
  EXPECT_TRUE(ldns_pkt_tc(p.get()));
  EXPECT_EQ(ldns_pkt_ancount(p.get()), 0);
  EXPECT_EQ(ldns_pkt_qdcount(p.get()), 1);
  EXPECT_TRUE(ldns_pkt_edns(p.get()));  // OPT kept.
  EXPECT_TRUE(ldns_pkt_edns_do(p.get()));

  // No EDNS: 512 as well.
  Q plain{q.name};
  plain.edns = false;
  raw = Raw(plain);
  EXPECT_LE(raw.size(), 512u);
  EXPECT_TRUE(ldns_pkt_tc(Parse(raw).get()));

  // The same over TCP fits whole.
  p = Ask(q, Identity{}, Transport::kTcp);
  EXPECT_FALSE(ldns_pkt_tc(p.get()));
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_NAPTR), 12u);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);

  // A large EDNS buffer is capped at our own max_udp_payload (1232).
  q.payload = 4096;
  raw = Raw(q);
  EXPECT_LE(raw.size(), 1232u);
}

// ------------------------------------------------------------ signatures

TEST_F(ResponderTest, SignAheadSignatureIsServedFromTheStore) {
  auto sig = StoreSignAheadSignature(csk_);
  ASSERT_TRUE(sig.ok()) << sig.status();
  uint64_t hits = responder_->stats().sig_store_hits.load();
  uint64_t made = responder_->stats().signed_on_demand.load();
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(responder_->stats().sig_store_hits.load(), hits + 1);
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), made);
  ldns_rr* rrsig = First(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_RRSIG);
  ASSERT_NE(rrsig, nullptr);
  EXPECT_EQ(RdataWire(rrsig), RdataFromCompact(*sig, kTypeNAPTR, kApex));
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);
}

TEST_F(ResponderTest, RetiredZskSignatureBridgesARoll) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey old_zsk = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  ZoneKey new_zsk = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  old_zsk.info.set_state(lufd::v1::DNS_KEY_STATE_RETIRED);
  auto sig = StoreSignAheadSignature(old_zsk);
  ASSERT_TRUE(sig.ok());
  PublishKeys({ksk, old_zsk, new_zsk}, {ksk}, {new_zsk});
  uint64_t made = responder_->stats().signed_on_demand.load();
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            old_zsk.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), made);
  // Without it, the new ZSK signs on demand.
  Q other{"2.1.2.1.5.5.5.5.1.2.1.e164.arpa."};
  other.do_bit = true;
  p = Ask(other);
  an = ldns_pkt_answer(p.get());
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            new_zsk.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
}

TEST_F(ResponderTest, ZoneWithoutKeysAnswersUnsigned) {
  keys_.Publish({});
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_NAPTR), 2u);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_RRSIG), 0u);
  Q miss{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  miss.do_bit = true;
  p = Ask(miss);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(Count(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC), 0u);
  Q dnskey{"e164.arpa.", kTypeDNSKEY};
  p = Ask(dnskey);
  EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
}

TEST_F(ResponderTest, KeyRollChangesTheDnskeyRrset) {
  ZoneKey next =
      MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_CSK, kAlgEd25519);
  PublishKeys({csk_, next}, {next}, {next});
  Q q{"e164.arpa.", kTypeDNSKEY};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_DNSKEY), 2u);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);
  Q n{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  n.do_bit = true;
  p = Ask(n);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);
}

// ------------------------------------------------------------ multi-signer

// Another instance's view of `k`: published here, private key elsewhere.
ZoneKey PublicOnly(ZoneKey k) {
  k.private_key = nullptr;
  return k;
}

// What the KSK holder's signer stores for the DNSKEY RRset of `published`
// (signer.h SignDnskeyRrsets), put into `store`.
void StoreDnskeySig(SignatureCache* store, const ZoneKey& ksk,
                    const std::vector<ZoneKey>& published) {
  std::vector<std::string> rdatas;
  for (const ZoneKey& k : published) rdatas.push_back(k.dnskey_rdata);
  auto sig = MakeRrsig(*ksk.private_key, ksk.key_tag, kApex, kApex, kTypeDNSKEY,
                       3600, rdatas, DefaultTiming(), absl::Now());
  ASSERT_TRUE(sig.ok()) << sig.status();
  store->Insert(SignatureKey(kApex, kTypeDNSKEY,
                             RrsetHash(kTypeDNSKEY, 3600, rdatas), ksk.key_tag),
                *sig);
}

// Instance B of a multi-signer zone: no KSK here, its own ZSK active, A's
// ZSK published without its private key. DNSKEY is served with the KSK
// holder's stored RRSIG, a positive answer with A's signed-ahead signature
// (no signing here), a denial signed by B's own ZSK; all validate against
// the one DNSKEY RRset.
TEST_F(ResponderTest, MultiSignerReplicaServesStoredAndOwnSignatures) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey zsk_a = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  ZoneKey zsk_b = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  std::vector<ZoneKey> set{PublicOnly(ksk), PublicOnly(zsk_a), zsk_b};
  StoreDnskeySig(&store_, ksk, set);
  ASSERT_TRUE(StoreSignAheadSignature(zsk_a).ok());
  PublishKeys(set, {}, {zsk_b});

  Q dk{"e164.arpa.", kTypeDNSKEY};
  dk.do_bit = true;
  Pkt p = Ask(dk);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  EXPECT_EQ(Count(an, LDNS_RR_TYPE_DNSKEY), 3u);
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            ksk.key_tag);
  EXPECT_EQ(VerifySection(an), 1);

  const uint64_t made = responder_->stats().signed_on_demand.load();
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  p = Ask(q);
  an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            zsk_a.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), made);

  Q miss{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  miss.do_bit = true;
  p = Ask(miss);
  ldns_rr_list* ns = ldns_pkt_authority(p.get());
  EXPECT_EQ(VerifySection(ns), 2);  // SOA and NSEC.
  for (size_t i = 0; i < ldns_rr_list_rr_count(ns); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(ns, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG) continue;
    EXPECT_EQ(ldns_rdf2native_int16(ldns_rr_rrsig_keytag(rr)), zsk_b.key_tag);
  }
}

// Before its own ZSK is ACTIVE (pre-publication) an instance signs nothing,
// but still serves what others signed ahead.
TEST_F(ResponderTest, JoiningInstanceServesOthersSignaturesOnly) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey zsk_a = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  ZoneKey zsk_b = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  zsk_b.info.set_state(lufd::v1::DNS_KEY_STATE_PUBLISHED);
  std::vector<ZoneKey> set{PublicOnly(ksk), PublicOnly(zsk_a), zsk_b};
  StoreDnskeySig(&store_, ksk, set);
  ASSERT_TRUE(StoreSignAheadSignature(zsk_a).ok());
  PublishKeys(set, {}, {});
  const uint64_t made = responder_->stats().signed_on_demand.load();
  Q q{"6.6.6.6.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  ldns_rr_list* an = ldns_pkt_answer(p.get());
  ASSERT_EQ(Count(an, LDNS_RR_TYPE_RRSIG), 1u);
  EXPECT_EQ(ldns_rdf2native_int16(
                ldns_rr_rrsig_keytag(First(an, LDNS_RR_TYPE_RRSIG))),
            zsk_a.key_tag);
  EXPECT_EQ(VerifySection(an), 1);
  // Not signed ahead: nothing here can sign it.
  Q other{"2.1.2.1.5.5.5.5.1.2.1.e164.arpa."};
  other.do_bit = true;
  p = Ask(other);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_RRSIG), 0u);
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), made);
}

// The DNSKEY RRset changes (an instance's ZSK joins) before the KSK
// holder's signature over the new one arrives: the last signed RRset is
// served meanwhile, then the new one with its signature.
TEST_F(ResponderTest, DnskeyChangeServesTheLastSignedRrsetUntilResigned) {
  ZoneKey ksk = MakeKey(kDnskeyFlagsKsk, lufd::v1::DNS_KEY_ROLE_KSK);
  ZoneKey zsk_a = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  ZoneKey zsk_b = MakeKey(kDnskeyFlagsZsk, lufd::v1::DNS_KEY_ROLE_ZSK);
  std::vector<ZoneKey> before{PublicOnly(ksk), zsk_a};
  StoreDnskeySig(&store_, ksk, before);
  PublishKeys(before, {}, {zsk_a});
  Q dk{"e164.arpa.", kTypeDNSKEY};
  dk.do_bit = true;
  Pkt p = Ask(dk);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_DNSKEY), 2u);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);

  std::vector<ZoneKey> after{PublicOnly(ksk), zsk_a, PublicOnly(zsk_b)};
  PublishKeys(after, {}, {zsk_a});
  p = Ask(dk);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_DNSKEY), 2u);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);

  StoreDnskeySig(&store_, ksk, after);
  MakeResponder();  // What the next rebuild (a second later) sees.
  p = Ask(dk);
  EXPECT_EQ(Count(ldns_pkt_answer(p.get()), LDNS_RR_TYPE_DNSKEY), 3u);
  EXPECT_EQ(VerifySection(ldns_pkt_answer(p.get())), 1);
}

TEST_F(ResponderTest, CreateRejectsBadZones) {
  lufd::v1::DnsConfig bad;
  bad.add_zones()->set_name("");
  ApplyDnsDefaults(&bad);
  EXPECT_FALSE(Responder::Create(bad, &views_, &keys_, &store_, &lru_).ok());
  lufd::v1::DnsConfig dup;
  dup.add_zones()->set_name("e164.arpa.");
  dup.add_zones()->set_name("E164.ARPA");
  ApplyDnsDefaults(&dup);
  EXPECT_FALSE(Responder::Create(dup, &views_, &keys_, &store_, &lru_).ok());
  lufd::v1::DnsConfig badns;
  auto* z = badns.add_zones();
  z->set_name("e164.arpa.");
  z->add_ns("bad..name.");
  ApplyDnsDefaults(&badns);
  EXPECT_FALSE(Responder::Create(badns, &views_, &keys_, &store_, &lru_).ok());
  std::vector<std::string> want{kApex, std::string("\x07"
                                                   "private\x07"
                                                   "example\x00",
                                                   17)};
  EXPECT_EQ(responder_->zone_names(), want);
}

// ------------------------------------------------------------ covering

// The default denial: NXDOMAIN + SOA + the covering NSECs of covering.h.
class CoveringResponderTest : public ResponderTest {
 protected:
  void SetUp() override {
    ResponderTest::SetUp();
    config_.mutable_dnssec()->clear_denial();  // The default.
    MakeResponder();
  }

  // Asks `qname` with DO and checks a covering NXDOMAIN: SOA, then the
  // NSECs in `nsecs` (owner, next) in that order, each followed by its
  // RRSIG; bitmaps RRSIG NSEC only; negative TTL; every RRSIG verifies;
  // the first NSEC covers the qname and the last covers *.<e>.
  void ExpectCovering(
      const std::string& qname, const std::string& e,
      const std::vector<std::pair<std::string, std::string>>& nsecs,
      const Identity& viewer = Identity{}, uint16_t type = kTypeNAPTR) {
    SCOPED_TRACE(qname);
    Q q{qname, type};
    q.do_bit = true;
    Pkt p = Ask(q, viewer);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
    EXPECT_EQ(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())), 0u);
    ldns_rr_list* ns = ldns_pkt_authority(p.get());
    ASSERT_EQ(ldns_rr_list_rr_count(ns), 2 + 2 * nsecs.size());
    EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(ns, 0)), LDNS_RR_TYPE_SOA);
    for (size_t i = 0; i < nsecs.size(); ++i) {
      ldns_rr* nsec = ldns_rr_list_rr(ns, 2 + 2 * i);
      ldns_rr* sig = ldns_rr_list_rr(ns, 3 + 2 * i);
      ASSERT_EQ(ldns_rr_get_type(nsec), LDNS_RR_TYPE_NSEC);
      ASSERT_EQ(ldns_rr_get_type(sig), LDNS_RR_TYPE_RRSIG);
      EXPECT_EQ(Text(ldns_rr_owner(nsec)), nsecs[i].first);
      EXPECT_EQ(Text(ldns_rr_rdf(nsec, 0)), nsecs[i].second);
      EXPECT_EQ(Text(ldns_rr_owner(sig)), nsecs[i].first);
      EXPECT_EQ(ldns_rr_ttl(nsec), 120u);
      ldns_rdf* bitmap = ldns_rr_rdf(nsec, 1);
      EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_RRSIG));
      EXPECT_TRUE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NSEC));
      EXPECT_FALSE(
          ldns_nsec_bitmap_covers_type(bitmap, static_cast<ldns_rr_type>(128)));
      EXPECT_FALSE(ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NAPTR));
      // Each NSEC's RRSIG verifies over it alone (they are separate RRsets).
      List one(ldns_rr_list_new());
      ldns_rr_list_push_rr(one.get(), ldns_rr_clone(nsec));
      ldns_rr_list_push_rr(one.get(), ldns_rr_clone(sig));
      EXPECT_EQ(VerifySection(one.get()), 1);
    }
    EXPECT_EQ(Count(ns, LDNS_RR_TYPE_RRSIG), 1 + nsecs.size());
    ldns_rdf* qn = nullptr;
    ASSERT_EQ(ldns_str2rdf_dname(&qn, qname.c_str()), LDNS_STATUS_OK);
    ldns_dname2canonical(qn);
    EXPECT_TRUE(ldns_nsec_covers_name(ldns_rr_list_rr(ns, 2), qn));
    ldns_rdf_deep_free(qn);
    ldns_rdf* wc = nullptr;
    ASSERT_EQ(ldns_str2rdf_dname(&wc, ("*." + e).c_str()), LDNS_STATUS_OK);
    EXPECT_TRUE(
        ldns_nsec_covers_name(ldns_rr_list_rr(ns, 2 * nsecs.size()), wc));
    ldns_rdf_deep_free(wc);
  }
};

const char kEnt[] = "5.5.5.2.0.2.1.e164.arpa.";

TEST_F(CoveringResponderTest, NxdomainCoversTheEmptySubtreeAndTheWildcard) {
  ExpectCovering(
      "1.1.1.1.5.5.5.2.0.2.1.e164.arpa.", kEnt,
      {{"0\\000.5.5.5.2.0.2.1.e164.arpa.", "1\\000.5.5.5.2.0.2.1.e164.arpa."},
       {"\\000.5.5.5.2.0.2.1.e164.arpa.", "*\\000.5.5.5.2.0.2.1.e164.arpa."}});
  EXPECT_EQ(responder_->stats().covering_denials.load(), 1u);
  // CO changes nothing: covering denial is NXDOMAIN anyway.
  Q q{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  q.co = true;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(Count(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC), 2u);
}

TEST_F(CoveringResponderTest, DigitZeroAndTheApex) {
  ExpectCovering("0.e164.arpa.", "e164.arpa.",
                 {{"*\\000.e164.arpa.", "0\\000.e164.arpa."},
                  {"\\000.e164.arpa.", "*\\000.e164.arpa."}});
  ExpectCovering("3.2.1.9.e164.arpa.", "e164.arpa.",
                 {{"8\\000.e164.arpa.", "9\\000.e164.arpa."},
                  {"\\000.e164.arpa.", "*\\000.e164.arpa."}});
}

TEST_F(CoveringResponderTest, NonDigitLabelsShareOneRange) {
  std::string max_label;
  for (int i = 0; i < 63; ++i) max_label += "\\255";
  // RFC 8145 key-tag query.
  ExpectCovering("_ta-4f66.e164.arpa.", "e164.arpa.",
                 {{"9\\000.e164.arpa.", max_label + ".e164.arpa."},
                  {"\\000.e164.arpa.", "*\\000.e164.arpa."}},
                 Identity{}, /*type=NULL*/ 10);
  // Below an existing number.
  const std::string n = "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.";
  ExpectCovering(
      "_sip._udp." + n, n,
      {{"9\\000." + n, max_label + "." + n}, {"\\000." + n, "*\\000." + n}});
  // Below a number only a range or a prefix synthesizes.
  const std::string r = "1.0.0.0.6.6.6.2.0.2.1.e164.arpa.";
  ExpectCovering(
      "x." + r, r,
      {{"9\\000." + r, max_label + "." + r}, {"\\000." + r, "*\\000." + r}});
  // A label between \000 and *\000 (the wildcard itself, literally): one
  // NSEC covers both.
  ExpectCovering("\\*.e164.arpa.", "e164.arpa.",
                 {{"\\000.e164.arpa.", "*\\000.e164.arpa."}});
}

// The closest-encloser walk asks the below-index first at each level and
// resolves a number only where nothing is below: a miss seven levels under
// the apex costs as many TN probes as one at the apex (one for the qname,
// one for the missing level), not one more per level it walks through.
// Counted with the thread's ResolveWork (the responder answers on the
// calling thread), so no timing.
TEST_F(CoveringResponderTest,
       EncloserWalkResolvesNumbersOnlyWhereNothingIsBelow) {
  auto tn_probes_for = [&](const std::string& qname) {
    Q q{qname};
    q.do_bit = true;
    const ResolveWork before = ThisThreadResolveWork();
    Pkt p = Ask(q);
    EXPECT_NE(p, nullptr);
    if (p != nullptr) {
      EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN) << qname;
      EXPECT_EQ(Count(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC), 2u);
    }
    return ThisThreadResolveWork().tn_probes - before.tn_probes;
  };
  // E = +1202555 (an empty non-terminal 7 digits down), C = 1.
  const uint64_t deep = tn_probes_for("1.1.1.1.5.5.5.2.0.2.1.e164.arpa.");
  // E = the apex, C = 9.
  const uint64_t shallow = tn_probes_for("3.2.1.9.e164.arpa.");
  EXPECT_GT(shallow, 0u);
  EXPECT_EQ(deep, shallow);
}

TEST_F(CoveringResponderTest, SignedOncePerSubtreeThenFromTheCache) {
  auto signed_now = [&] { return responder_->stats().signed_on_demand.load(); };
  const uint64_t before = signed_now();
  Q q{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  q.do_bit = true;
  Ask(q);
  EXPECT_EQ(signed_now(), before + 2);
  // Any name under the same empty subtree 1.<E>: no more signing.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string name = "1.5.5.5.2.0.2.1.e164.arpa.";
    for (int d = 0; d < 1 + static_cast<int>(rng() % 4); ++d) {
      name = std::string(1, static_cast<char>('0' + rng() % 10)) + "." + name;
    }
    Q r{name};
    r.do_bit = true;
    Pkt p = Ask(r);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  }
  EXPECT_EQ(signed_now(), before + 2);
  // Another subtree under the same E: only its own NSEC is new.
  Q other{"3.5.5.5.2.0.2.1.e164.arpa."};
  other.do_bit = true;
  Ask(other);
  EXPECT_EQ(signed_now(), before + 3);
  // Compact denial signs once per name.
  config_.mutable_dnssec()->set_denial("compact");
  MakeResponder();
  const uint64_t compact_before = signed_now();
  for (int i = 0; i < 20; ++i) {
    Q r{absl::StrCat(i % 10, ".", i / 10, ".1.5.5.5.2.0.2.1.e164.arpa.")};
    r.do_bit = true;
    Ask(r);
  }
  EXPECT_EQ(signed_now(), compact_before + 20);
}

TEST_F(CoveringResponderTest, ExistenceIsTheViewersAndInvisibleIsAbsent) {
  // +12025550000 is on a group offered to the peer only.
  const std::string q = "1.0.0.0.0.5.5.5.2.0.2.1.e164.arpa.";
  const std::string n = "0.0.0.0.5.5.5.2.0.2.1.e164.arpa.";
  ExpectCovering(
      q, n, {{"0\\000." + n, "1\\000." + n}, {"\\000." + n, "*\\000." + n}},
      kPeerId);
  const std::vector<std::pair<std::string, std::string>> anon = {
      {"*\\000.5.5.5.2.0.2.1.e164.arpa.", "0\\000.5.5.5.2.0.2.1.e164.arpa."},
      {"\\000.5.5.5.2.0.2.1.e164.arpa.", "*\\000.5.5.5.2.0.2.1.e164.arpa."}};
  ExpectCovering(q, kEnt, anon);
  // Without the hidden number at all: the same names.
  views_.Publish(BuildView(7, /*with_hidden=*/false));
  MakeResponder();
  ExpectCovering(q, kEnt, anon);
}

TEST_F(CoveringResponderTest, ANewNumberInTheSubtreeChangesTheProof) {
  // No invalidation step: (E, C) come from the current view on every query,
  // so once +12025550000 exists (for the peer) its cached "0.<ENT> is
  // empty" NSEC is never served again; the proof moves below it.
  views_.Publish(BuildView(7, /*with_hidden=*/false));
  MakeResponder();
  const std::string q = "1.0.0.0.0.5.5.5.2.0.2.1.e164.arpa.";
  ExpectCovering(
      q, kEnt,
      {{"*\\000.5.5.5.2.0.2.1.e164.arpa.", "0\\000.5.5.5.2.0.2.1.e164.arpa."},
       {"\\000.5.5.5.2.0.2.1.e164.arpa.", "*\\000.5.5.5.2.0.2.1.e164.arpa."}},
      kPeerId);
  views_.Publish(BuildView(8, /*with_hidden=*/true));
  const std::string n = "0.0.0.0.5.5.5.2.0.2.1.e164.arpa.";
  ExpectCovering(
      q, n, {{"0\\000." + n, "1\\000." + n}, {"\\000." + n, "*\\000." + n}},
      kPeerId);
}

TEST_F(CoveringResponderTest, NodataAndEmptyNonTerminalsAsInCompactMode) {
  for (const char* name : {"6.6.6.6.5.5.5.2.0.2.1.e164.arpa.", kEnt}) {
    SCOPED_TRACE(name);
    Q q{name, kTypeA};
    q.do_bit = true;
    Pkt p = Ask(q);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
    ldns_rr_list* ns = ldns_pkt_authority(p.get());
    ldns_rr* nsec = First(ns, LDNS_RR_TYPE_NSEC);
    ASSERT_NE(nsec, nullptr);
    EXPECT_EQ(Text(ldns_rr_owner(nsec)), name);
    EXPECT_EQ(Text(ldns_rr_rdf(nsec, 0)), std::string("\\000.") + name);
    EXPECT_FALSE(ldns_nsec_bitmap_covers_type(ldns_rr_rdf(nsec, 1),
                                              static_cast<ldns_rr_type>(128)));
    EXPECT_EQ(VerifySection(ns), 2);
  }
  EXPECT_EQ(responder_->stats().covering_denials.load(), 0u);
}

TEST_F(CoveringResponderTest, LabelsWithoutARuleFallBackToCompact) {
  for (const char* name :
       {"\\000.e164.arpa.", "5\\000.e164.arpa.", "*\\000.2.1.e164.arpa."}) {
    SCOPED_TRACE(name);
    Q q{name};
    q.do_bit = true;
    Pkt p = Ask(q);
    EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
    ldns_rr_list* ns = ldns_pkt_authority(p.get());
    ASSERT_EQ(Count(ns, LDNS_RR_TYPE_NSEC), 1u);
    EXPECT_EQ(Text(ldns_rr_owner(First(ns, LDNS_RR_TYPE_NSEC))), name);
    EXPECT_EQ(VerifySection(ns), 2);
  }
  EXPECT_EQ(responder_->stats().covering_denials.load(), 0u);
}

TEST_F(CoveringResponderTest, AnotherZoneBelowEFallsBackToCompact) {
  // A zone served here below the apex: a range under the apex could cover
  // its names, so misses whose E is above it get compact denial.
  config_.add_zones()->set_name("x.9.e164.arpa.");
  MakeResponder();
  Q q{"3.e164.arpa."};
  q.do_bit = true;
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(Count(ldns_pkt_authority(p.get()), LDNS_RR_TYPE_NSEC), 1u);
  EXPECT_EQ(responder_->stats().covering_denials.load(), 0u);
  // Under an existing number (no zone below it): covering as usual.
  ExpectCovering("1.6.6.6.6.5.5.5.2.0.2.1.e164.arpa.",
                 "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.",
                 {{"0\\000.6.6.6.6.5.5.5.2.0.2.1.e164.arpa.",
                   "1\\000.6.6.6.6.5.5.5.2.0.2.1.e164.arpa."},
                  {"\\000.6.6.6.6.5.5.5.2.0.2.1.e164.arpa.",
                   "*\\000.6.6.6.6.5.5.5.2.0.2.1.e164.arpa."}});
}

TEST_F(CoveringResponderTest, WithoutDoPlainNxdomain) {
  Q q{"1.1.1.1.5.5.5.2.0.2.1.e164.arpa."};
  Pkt p = Ask(q);
  EXPECT_EQ(ldns_pkt_get_rcode(p.get()), LDNS_RCODE_NXDOMAIN);
  ASSERT_EQ(ldns_rr_list_rr_count(ldns_pkt_authority(p.get())), 1u);
}

TEST_F(CoveringResponderTest, UnknownDenialModeIsRejected) {
  lufd::v1::DnsConfig config = config_;
  config.mutable_dnssec()->set_denial("black-lies");
  ApplyDnsDefaults(&config);
  EXPECT_FALSE(Responder::Create(config, &views_, &keys_, &store_, &lru_).ok());
  EXPECT_FALSE(ValidateDnssecConfig(config.dnssec()).ok());
  config.mutable_dnssec()->set_denial("compact");
  EXPECT_TRUE(ValidateDnssecConfig(config.dnssec()).ok());
  EXPECT_EQ(ConfigDefaults().dns().dnssec().denial(), "covering");
}

}  // namespace
}  // namespace lufd::dns
