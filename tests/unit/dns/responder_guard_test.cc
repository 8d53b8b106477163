// The Responder's guard stage (Admit / Refuse / Settle): who is charged,
// what a refused client gets on the wire (REFUSED + Extended DNS Error for
// peers and TCP, the RRL slip for anonymous UDP), the signing budget, and
// that the apex and repeated numbers cost no budget.
// The project's headers (and through them <optional>) must come before
// ldns's C headers, which break <optional>'s operator<=>.
// clang-format off
#include "server/dns/responder.h"
#include <ldns/ldns.h>
// clang-format on

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/dns/dnssec.h"
#include "server/dns/rrsig.h"
#include "server/guard/guard.h"
#include "server/ops/config.h"
#include "tests/unit/testing/client_address.h"
#include "tests/unit/testing/objects.h"

namespace lufd::dns {
namespace {

using lufd::v1::RegistryObject;
using testing::V4;

constexpr char kReg[] = "iana-en:reg";
constexpr char kPeer[] = "iana-en:peer";

RegistryObject OrgObj(const std::string& id, bool peer,
                      const lufd::v1::Quota& quota = {}) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  o.mutable_org()->add_roles(peer ? lufd::v1::ORG_ROLE_PEER
                                  : lufd::v1::ORG_ROLE_REGISTRANT);
  *o.mutable_org()->mutable_quota() = quota;
  return o;
}

void Add(RegistryView::Builder* b, const RegistryObject& o) {
  b->Add(KindOf(o), KeyOf(o), o);
}

// +12025556666 (one NAPTR, public) and the range +1202666xxxx.
std::shared_ptr<const RegistryView> BuildView(const lufd::v1::Quota& quota) {
  RegistryView::Builder b;
  Add(&b, OrgObj(kReg, false));
  Add(&b, OrgObj(kPeer, true, quota));
  Add(&b, testing::DestGroup("dg", kReg));
  RegistryObject naptr;
  auto* r = naptr.mutable_sed_record();
  r->set_id("n1");
  r->set_registrant_id(kReg);
  r->set_in_service(true);
  r->set_ttl(600);
  r->mutable_naptr()->set_order(10);
  r->mutable_naptr()->set_preference(10);
  r->mutable_naptr()->set_flags("u");
  r->mutable_naptr()->set_services("E2U+sip");
  r->mutable_naptr()->set_regexp("!^.*$!sip:a@example.net!");
  r->mutable_naptr()->set_replacement(".");
  Add(&b, naptr);
  Add(&b, testing::Group("g", kReg, {"dg"}, {"n1"}, true));
  using K = lufd::v1::IdentifierKind;
  Add(&b, testing::Ident(K::IDENTIFIER_KIND_TN, "+12025556666", kReg, {"dg"}));
  Add(&b, testing::Ident(K::IDENTIFIER_KIND_TN_RANGE, "+12026660000", kReg,
                         {"dg"}, "+12026669999"));
  return std::move(b).Build(1);
}

// The ENUM name of an E.164 number under e164.arpa.
std::string Enum(absl::string_view e164) {
  std::string name;
  for (size_t i = e164.size(); i > 1; --i) {
    absl::StrAppend(&name, e164.substr(i - 1, 1), ".");
  }
  return name + "e164.arpa.";
}

void Put16(std::vector<uint8_t>* p, uint16_t v) {
  p->push_back(static_cast<uint8_t>(v >> 8));
  p->push_back(static_cast<uint8_t>(v & 0xff));
}

std::vector<uint8_t> Query(const std::string& name, bool do_bit = false,
                           bool edns = true, uint16_t type = kTypeNAPTR) {
  std::vector<uint8_t> p;
  Put16(&p, 0x4242);
  Put16(&p, kFlagRD);
  Put16(&p, 1);
  Put16(&p, 0);
  Put16(&p, 0);
  Put16(&p, edns ? 1 : 0);
  auto wire = NameFromText(name);
  EXPECT_TRUE(wire.has_value()) << name;
  p.insert(p.end(), wire->begin(), wire->end());
  Put16(&p, type);
  Put16(&p, kClassIN);
  if (edns) {
    p.push_back(0);
    Put16(&p, kTypeOPT);
    Put16(&p, 1232);
    p.push_back(0);
    p.push_back(0);
    Put16(&p, do_bit ? kEdnsFlagDO : 0);
    Put16(&p, 0);
  }
  return p;
}

struct Reply {
  bool sent = false;
  uint16_t rcode = 0;
  bool tc = false;
  uint16_t answers = 0;
  int ede = -1;  // Extended DNS Error info code, -1 when none.
  std::string ede_text;
};

Reply Read(const std::vector<uint8_t>& raw) {
  Reply r;
  if (raw.empty()) return r;
  r.sent = true;
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&p, raw.data(), raw.size()), LDNS_STATUS_OK);
  if (p == nullptr) return r;
  r.rcode = ldns_pkt_get_rcode(p);
  r.tc = ldns_pkt_tc(p);
  r.answers = ldns_pkt_ancount(p);
  if (const ldns_rdf* data = ldns_pkt_edns_data(p); data != nullptr) {
    const uint8_t* d = ldns_rdf_data(data);
    const size_t n = ldns_rdf_size(data);
    if (n >= 6 && ((d[0] << 8) | d[1]) == kEdnsOptionEde) {
      const size_t len = (d[2] << 8) | d[3];
      r.ede = (d[4] << 8) | d[5];
      r.ede_text.assign(reinterpret_cast<const char*>(d + 6),
                        std::min(n, 4 + len) - 6);
    }
  }
  ldns_pkt_free(p);
  return r;
}

ZoneKey MakeCsk() {
  auto key = SigningKey::Generate(kAlgEcdsaP256Sha256);
  EXPECT_TRUE(key.ok()) << key.status();
  ZoneKey zk;
  zk.private_key = std::shared_ptr<const SigningKey>(std::move(*key));
  zk.dnskey_rdata = DnskeyRdata(kDnskeyFlagsKsk, kAlgEcdsaP256Sha256,
                                zk.private_key->public_key());
  zk.key_tag = KeyTag(zk.dnskey_rdata);
  zk.info.set_zone("e164.arpa.");
  zk.info.set_role(lufd::v1::DNS_KEY_ROLE_CSK);
  zk.info.set_algorithm(kAlgEcdsaP256Sha256);
  zk.info.set_flags(kDnskeyFlagsKsk);
  zk.info.set_key_tag(zk.key_tag);
  zk.info.set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
  return zk;
}

const Identity kPeerId{kPeer, "tsig-key", lufd::v1::ROLE_PEER};
const Identity kAdminId{"iana-en:admin", "", lufd::v1::ROLE_ADMIN};

class ResponderGuardTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeResponder("compact"); }

  // `denial`: dns.dnssec.denial ("compact": one online NSEC signature per
  // new miss; "covering": the covering NSECs, signed once per subtree).
  void MakeResponder(const std::string& denial) {
    views_.Publish(BuildView(quota_));
    const ZoneKey csk = MakeCsk();
    auto zk = std::make_shared<ZoneKeys>();
    zk->zone_wire = std::string(
        "\x04"
        "e164\x04"
        "arpa\x00",
        11);
    zk->published = {csk};
    zk->dnskey_signers = {csk};
    zk->zone_signers = {csk};
    keys_.Publish({zk});
    lufd::v1::DnsConfig dns;
    dns.add_zones()->set_name("e164.arpa.");
    dns.mutable_dnssec()->set_denial(denial);
    ApplyDnsDefaults(&dns);
    auto r = Responder::Create(dns, &views_, &keys_, &store_, &lru_);
    ASSERT_TRUE(r.ok()) << r.status();
    responder_ = std::move(*r);
    guard_config_ = ConfigDefaults().guard();
  }

  // Applies guard_config_ (with options from it) to a fresh guard.
  void Enable() {
    guard_ = std::make_unique<Guard>(GuardOptions::FromConfig(guard_config_));
    responder_->set_guard(guard_.get(), guard_config_, nullptr);
  }
  void SetQuota(const lufd::v1::Quota& quota) {
    quota_ = quota;
    views_.Publish(BuildView(quota_));
  }

  Reply Ask(const std::vector<uint8_t>& packet, const Identity& viewer,
            Transport t, const ClientAddress& client) {
    ParsedQuery pq;
    ParseResult pr = ParseQuery(absl::MakeConstSpan(packet), &pq);
    std::vector<uint8_t> out(65535);
    const size_t limit = ResponseLimit(
        pq, t, t == Transport::kUdp ? responder_->max_udp_payload() : 65535);
    out.resize(
        responder_->Respond(pq, pr, viewer, t, client, out.data(), limit));
    return Read(out);
  }
  Reply AnonUdp(const std::string& name, const ClientAddress& from,
                bool do_bit = false) {
    return Ask(Query(name, do_bit), Identity{}, Transport::kUdp, from);
  }

  lufd::v1::Quota quota_;
  ViewHolder views_;
  KeyRing keys_;
  SignatureCache store_;
  SignatureLru lru_{1000};
  std::unique_ptr<Responder> responder_;
  lufd::v1::GuardConfig guard_config_;
  std::unique_ptr<Guard> guard_;
};

TEST_F(ResponderGuardTest, AnonymousUdpOverTheRateGetsTheSlip) {
  guard_config_.mutable_anonymous()->set_lookups_per_second(1);
  guard_config_.mutable_anonymous()->set_burst(4);
  guard_config_.mutable_anonymous()->set_miss_cost(1);
  guard_config_.set_slip(2);
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  for (int i = 0; i < 4; ++i) {
    Reply r = AnonUdp(Enum("+12025556666"), from);
    ASSERT_TRUE(r.sent) << i;
    EXPECT_EQ(r.rcode, kRcodeNoError);
    EXPECT_EQ(r.answers, 1);
  }
  // Over the rate: of every two refusals one is TC=1 (no answer), the
  // other is dropped.
  int slipped = 0, dropped = 0;
  for (int i = 0; i < 10; ++i) {
    Reply r = AnonUdp(Enum("+12025556666"), from);
    if (!r.sent) {
      ++dropped;
      continue;
    }
    ++slipped;
    EXPECT_TRUE(r.tc);
    EXPECT_EQ(r.answers, 0);
  }
  EXPECT_EQ(slipped, 5);
  EXPECT_EQ(dropped, 5);
  EXPECT_EQ(responder_->stats().guard_slipped.load(), 5u);
  EXPECT_EQ(responder_->stats().guard_dropped.load(), 5u);
  // Another address in the same /24 shares the budget over UDP...
  EXPECT_FALSE(AnonUdp(Enum("+12025556666"), V4(127, 0, 9, 200)).answers);
  // ...another /24 has its own.
  EXPECT_EQ(AnonUdp(Enum("+12025556666"), V4(127, 0, 10, 1)).answers, 1);
  auto counters = guard_->Counters(*GuardKey::Parse("127.0.9.0/24"));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->denied[static_cast<int>(GuardRule::kRate)], 11u);
}

// The per-thread key cache (SourceKey, 256 slots): interleaved sources,
// more than the slots, colliding, over UDP (/24) and TCP (/32) each get
// their own identity's charge.
TEST_F(ResponderGuardTest, InterleavedSourcesAreEachChargedToTheirPrefix) {
  Enable();
  constexpr int kPrefixes = 300;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < kPrefixes; ++i) {
      for (uint8_t host : {uint8_t{1}, uint8_t{2}}) {
        const ClientAddress from =
            V4(10, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), host);
        ASSERT_EQ(AnonUdp(Enum("+12025556666"), from).answers, 1) << i;
      }
    }
    ASSERT_EQ(Ask(Query(Enum("+12025556666")), Identity{}, Transport::kTcp,
                  V4(10, 0, 7, 1))
                  .answers,
              1);
  }
  for (int i = 0; i < kPrefixes; ++i) {
    auto counters = guard_->Counters(
        *GuardKey::Parse(absl::StrCat("10.", i >> 8, ".", i & 255, ".0/24")));
    ASSERT_TRUE(counters.has_value()) << i;
    EXPECT_EQ(counters->admitted, 4u) << i;
    EXPECT_EQ(counters->hits, 4u) << i;
  }
  auto tcp = guard_->Counters(*GuardKey::Parse("10.0.7.1/32"));
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->admitted, 2u);
}

TEST_F(ResponderGuardTest, SlipZeroDropsAndSlipOneAlwaysTruncates) {
  guard_config_.mutable_anonymous()->set_lookups_per_second(1);
  guard_config_.mutable_anonymous()->set_burst(1);
  guard_config_.set_slip(0);
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  EXPECT_TRUE(AnonUdp(Enum("+12025556666"), from).sent);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(AnonUdp(Enum("+12025556666"), from).sent);
  }
  guard_config_.set_slip(1);
  Enable();
  EXPECT_TRUE(AnonUdp(Enum("+12025556666"), from).sent);
  for (int i = 0; i < 4; ++i) {
    Reply r = AnonUdp(Enum("+12025556666"), from);
    EXPECT_TRUE(r.sent && r.tc);
  }
}

// A config reload (UpdateGuardLimits) changes the class defaults from the
// next query on, for anonymous clients and for a peer whose limits the
// per-thread cache already holds, without a new guard.
TEST_F(ResponderGuardTest, UpdateGuardLimitsAppliesToTheNextQuery) {
  Enable();  // The defaults: 10000/s, burst 20000, slip 2.
  const std::vector<uint8_t> q = Query(Enum("+12025556666"));
  const ClientAddress a = V4(127, 0, 9, 1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Ask(q, kPeerId, Transport::kTcp, a).answers, 1) << i;
    ASSERT_EQ(AnonUdp(Enum("+12025556666"), a).answers, 1) << i;
  }
  lufd::v1::GuardConfig tight = guard_config_;
  tight.mutable_peer()->set_lookups_per_second(1);
  tight.mutable_peer()->set_burst(1);
  tight.mutable_anonymous()->set_lookups_per_second(1);
  tight.mutable_anonymous()->set_burst(1);
  tight.set_slip(0);
  responder_->UpdateGuardLimits(tight);
  // The peer's bucket is cut to the new burst (1): one more answer, then
  // REFUSED.
  EXPECT_EQ(Ask(q, kPeerId, Transport::kTcp, a).answers, 1);
  Reply refused = Ask(q, kPeerId, Transport::kTcp, a);
  ASSERT_TRUE(refused.sent);
  EXPECT_EQ(refused.rcode, kRcodeRefused);
  // Anonymous UDP: the same, and slip 0 drops instead of truncating.
  EXPECT_EQ(AnonUdp(Enum("+12025556666"), a).answers, 1);
  EXPECT_FALSE(AnonUdp(Enum("+12025556666"), a).sent);
  // Another /24 starts with the burst in force: 1 while tight...
  EXPECT_EQ(AnonUdp(Enum("+12025556666"), V4(127, 0, 10, 1)).answers, 1);
  EXPECT_FALSE(AnonUdp(Enum("+12025556666"), V4(127, 0, 10, 1)).sent);
  // ...20000 again once the generous limits are back. (A drained bucket
  // refills at the rate, not at once: no clock passes in this test.)
  responder_->UpdateGuardLimits(guard_config_);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(AnonUdp(Enum("+12025556666"), V4(127, 0, 11, 1)).answers, 1) << i;
  }
}

TEST_F(ResponderGuardTest, AnonymousTcpIsChargedPerAddressAndRefusedWithEde) {
  guard_config_.mutable_anonymous()->set_lookups_per_second(1);
  guard_config_.mutable_anonymous()->set_burst(2);
  guard_config_.mutable_anonymous()->set_miss_cost(1);
  Enable();
  const std::vector<uint8_t> q = Query(Enum("+12025556666"));
  const ClientAddress a = V4(127, 0, 9, 1);
  EXPECT_EQ(Ask(q, Identity{}, Transport::kTcp, a).answers, 1);
  EXPECT_EQ(Ask(q, Identity{}, Transport::kTcp, a).answers, 1);
  Reply r = Ask(q, Identity{}, Transport::kTcp, a);
  ASSERT_TRUE(r.sent);
  EXPECT_EQ(r.rcode, kRcodeRefused);
  EXPECT_FALSE(r.tc);
  EXPECT_EQ(r.ede, kEdeProhibited);
  EXPECT_NE(r.ede_text.find("rate limit"), std::string::npos) << r.ede_text;
  // TCP proves the address: a neighbour in the same /24 is not charged
  // for it (the slip sends a resolver that shares a flooder's /24 here).
  EXPECT_EQ(Ask(q, Identity{}, Transport::kTcp, V4(127, 0, 9, 2)).answers, 1);
  // Without EDNS there is no room for an EDE: plain REFUSED.
  r = Ask(Query(Enum("+12025556666"), false, /*edns=*/false), Identity{},
          Transport::kTcp, a);
  EXPECT_EQ(r.rcode, kRcodeRefused);
  EXPECT_EQ(r.ede, -1);
}

TEST_F(ResponderGuardTest, PeerDisclosureBudgetRefusesNewNumbersOnly) {
  lufd::v1::Quota quota;
  quota.set_distinct_numbers_per_day(2);
  SetQuota(quota);
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  auto ask = [&](const std::string& e164) {
    return Ask(Query(Enum(e164)), kPeerId, Transport::kUdp, from);
  };
  EXPECT_EQ(ask("+12025556666").answers, 1);
  EXPECT_EQ(ask("+12026660001").answers, 1);
  // A third distinct number: the peer is identified (TSIG), so it gets
  // REFUSED with an Extended DNS Error even over UDP, never a slip.
  Reply r = ask("+12026660002");
  EXPECT_EQ(r.rcode, kRcodeRefused);
  EXPECT_EQ(r.ede, kEdeProhibited);
  EXPECT_NE(r.ede_text.find("disclosure budget"), std::string::npos);
  // The numbers already disclosed stay free, all day.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(ask("+12025556666").answers, 1);
    EXPECT_EQ(ask("+12026660001").answers, 1);
  }
  // The org is charged, whatever the source address.
  auto counters = guard_->Counters(GuardKey::Org(kPeer));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->denied[static_cast<int>(GuardRule::kDisclosure)], 1u);
  EXPECT_EQ(counters->hits, 42u);
  // The apex is public: SOA and DNSKEY cost no disclosure.
  Reply soa = Ask(Query("e164.arpa.", false, true, kTypeSOA), kPeerId,
                  Transport::kUdp, from);
  EXPECT_EQ(soa.rcode, kRcodeNoError);
  EXPECT_EQ(soa.answers, 1);
}

TEST_F(ResponderGuardTest, BlockedPeerGetsEdeBlocked) {
  lufd::v1::Quota quota;
  quota.set_lookups_per_second(1);
  quota.set_burst(1);
  SetQuota(quota);
  guard_config_.set_offence_denials(3);
  guard_config_.clear_block_ladder();
  guard_config_.add_block_ladder("1h");
  Enable();
  const std::vector<uint8_t> q = Query(Enum("+12025556666"));
  const ClientAddress from = V4(127, 0, 9, 1);
  EXPECT_EQ(Ask(q, kPeerId, Transport::kUdp, from).answers, 1);
  for (int i = 0; i < 3; ++i) {
    Reply r = Ask(q, kPeerId, Transport::kUdp, from);
    EXPECT_EQ(r.rcode, kRcodeRefused);
    EXPECT_EQ(r.ede, kEdeProhibited) << i;
  }
  // Three refusals are an offence: blocked for an hour.
  Reply r = Ask(q, kPeerId, Transport::kUdp, from);
  EXPECT_EQ(r.rcode, kRcodeRefused);
  EXPECT_EQ(r.ede, kEdeBlocked);
  EXPECT_NE(r.ede_text.find("blocked"), std::string::npos) << r.ede_text;
  ASSERT_TRUE(guard_->Unblock(GuardKey::Org(kPeer), absl::Now()));
  // Unblocked, and the bucket has had time to refill a token? Not within
  // this test's microseconds: the rate still refuses, but not as a block.
  r = Ask(q, kPeerId, Transport::kUdp, from);
  EXPECT_NE(r.ede, kEdeBlocked);
}

// A blocked anonymous UDP prefix is dropped before any work, except one
// datagram in SourceBlocks::kPassEvery, which the guard still refuses (and
// slips); another prefix, a TSIG peer in the same /24 and TCP from it are
// untouched; an unblock reaches the dropped prefix through the next
// datagram that passes.
TEST_F(ResponderGuardTest, BlockedAnonymousPrefixIsDroppedBeforeTheGuard) {
  auto* anon = guard_config_.mutable_anonymous();
  anon->set_lookups_per_second(1);
  anon->set_burst(1);
  guard_config_.set_offence_denials(3);
  guard_config_.clear_block_ladder();
  guard_config_.add_block_ladder("1h");
  guard_config_.set_slip(1);  // Every refusal the guard sees: TC=1.
  Enable();
  const std::string name = Enum("+12025556666");
  const ClientAddress flooder = V4(127, 0, 9, 1);
  EXPECT_EQ(AnonUdp(name, flooder).answers, 1);
  for (int i = 0; i < 4; ++i) AnonUdp(name, flooder);  // 3 denials, 1 block.
  const GuardKey prefix = *GuardKey::Parse("127.0.9.0/24");
  ASSERT_TRUE(guard_->Explain(prefix, absl::Now())->blocked(absl::Now()));
  const uint64_t block_denials_before =
      guard_->Counters(prefix)->denied[static_cast<int>(GuardRule::kBlock)];

  // 320 more datagrams from anywhere in the /24: 20 reach the guard (each
  // a TC=1 slip), 300 are dropped unanswered.
  int sent = 0;
  for (int i = 0; i < 320; ++i) {
    Reply r = AnonUdp(name, V4(127, 0, 9, static_cast<uint8_t>(i % 250)));
    if (r.sent) {
      ++sent;
      EXPECT_TRUE(r.tc);
    }
  }
  EXPECT_EQ(sent, 320 / static_cast<int>(SourceBlocks::kPassEvery));
  EXPECT_EQ(responder_->stats().guard_blocked_dropped.load(), 300u);
  EXPECT_EQ(
      guard_->Counters(prefix)->denied[static_cast<int>(GuardRule::kBlock)],
      block_denials_before + 20);

  // Not dropped: another /24, a TSIG peer and TCP from the blocked /24.
  EXPECT_EQ(AnonUdp(name, V4(127, 0, 10, 1)).answers, 1);
  EXPECT_EQ(Ask(Query(name), kPeerId, Transport::kUdp, flooder).answers, 1);
  EXPECT_EQ(Ask(Query(name), Identity{}, Transport::kTcp, flooder).answers, 1);
  EXPECT_EQ(responder_->stats().guard_blocked_dropped.load(), 300u);
  // A query with a bogus TSIG record (DnsServer answers those itself) from
  // the blocked /24 is dropped the same way.
  int unanswered = 0;
  for (int i = 0; i < 32; ++i) {
    unanswered += responder_->DropUnansweredUdp(V4(127, 0, 9, 77)) ? 1 : 0;
  }
  EXPECT_EQ(unanswered, 30);
  EXPECT_FALSE(responder_->DropUnansweredUdp(V4(127, 0, 10, 1)));

  // An admin lifts the block: at most kPassEvery - 1 more drops, then the
  // guard decides each datagram again (here: over the rate, so TC=1). Two
  // refusals only: a third would be an offence again (offence_denials 3)
  // and block the /24 anew.
  ASSERT_TRUE(guard_->Unblock(prefix, absl::Now()));
  int dropped_after = 0;
  for (int i = 0; i < static_cast<int>(SourceBlocks::kPassEvery); ++i) {
    if (AnonUdp(name, flooder).sent) break;
    ++dropped_after;
  }
  EXPECT_LT(dropped_after, static_cast<int>(SourceBlocks::kPassEvery));
  const uint64_t dropped = responder_->stats().guard_blocked_dropped.load();
  Reply again = AnonUdp(name, V4(127, 0, 9, 200));
  EXPECT_TRUE(again.sent && again.tc);
  EXPECT_EQ(responder_->stats().guard_blocked_dropped.load(), dropped);
}

TEST_F(ResponderGuardTest, SigningBudgetWithholdsOnlineSignatures) {
  auto* anon = guard_config_.mutable_anonymous();
  anon->set_lookups_per_second(100000);
  anon->set_burst(100000);
  anon->set_signatures_per_second(1);
  anon->set_signing_burst(3);
  guard_config_.set_slip(1);
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  // Every random miss under DO costs one online NSEC signature (compact
  // denial): three fit in the burst...
  for (int i = 0; i < 3; ++i) {
    Reply r = AnonUdp(Enum(absl::StrCat("+4930", 1000 + i)), from, true);
    EXPECT_EQ(r.rcode, kRcodeNoError) << i;
    EXPECT_FALSE(r.tc) << i;
  }
  const uint64_t signed_before = responder_->stats().signed_on_demand.load();
  // ...the rest are not signed: the slip sends them to TCP.
  for (int i = 3; i < 13; ++i) {
    Reply r = AnonUdp(Enum(absl::StrCat("+4930", 1000 + i)), from, true);
    EXPECT_TRUE(r.sent && r.tc) << i;
  }
  EXPECT_EQ(responder_->stats().signed_on_demand.load(), signed_before);
  EXPECT_EQ(responder_->stats().guard_signing_denied.load(), 10u);
  // Over TCP (the proven address has its own budget) it is signed.
  Reply tcp =
      Ask(Query(Enum("+49301999"), true), Identity{}, Transport::kTcp, from);
  EXPECT_EQ(tcp.rcode, kRcodeNoError);
  EXPECT_GT(responder_->stats().signed_on_demand.load(), signed_before);
  // Unsigned answers (no DO) cost no signing budget.
  Reply plain = AnonUdp(Enum("+49301500"), from, false);
  EXPECT_TRUE(plain.sent);
  EXPECT_FALSE(plain.tc);
  auto counters = guard_->Counters(*GuardKey::Parse("127.0.9.0/24"));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->denied[static_cast<int>(GuardRule::kSigning)], 10u);
  EXPECT_EQ(counters->signatures, 3u);
}

// Covering denial: a random flood under one empty subtree costs the
// signing budget once (the covering NSECs are cached), so the budget never
// runs out and every query is answered.
TEST_F(ResponderGuardTest, CoveringDenialFloodSpendsTheSigningBudgetOnce) {
  MakeResponder("covering");
  auto* anon = guard_config_.mutable_anonymous();
  anon->set_lookups_per_second(100000);
  anon->set_burst(100000);
  anon->set_signatures_per_second(1);
  anon->set_signing_burst(3);
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  for (int i = 0; i < 50; ++i) {
    Reply r = AnonUdp(Enum(absl::StrCat("+4930", 1000 + i)), from, true);
    EXPECT_EQ(r.rcode, kRcodeNxDomain) << i;
    EXPECT_FALSE(r.tc) << i;
  }
  EXPECT_EQ(responder_->stats().guard_signing_denied.load(), 0u);
  auto counters = guard_->Counters(*GuardKey::Parse("127.0.9.0/24"));
  ASSERT_TRUE(counters.has_value());
  EXPECT_LE(counters->signatures, 3u);
}

TEST_F(ResponderGuardTest, AdminsAreNotChargedAndGuardOffChargesNobody) {
  guard_config_.mutable_peer()->set_lookups_per_second(1);
  guard_config_.mutable_peer()->set_burst(1);
  Enable();
  const std::vector<uint8_t> q = Query(Enum("+12025556666"));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Ask(q, kAdminId, Transport::kUdp, V4(127, 0, 0, 1)).answers, 1);
  }
  EXPECT_EQ(guard_->tracked(), 0u);
  responder_->set_guard(nullptr, guard_config_, nullptr);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Ask(q, kPeerId, Transport::kUdp, V4(127, 0, 0, 1)).answers, 1);
  }
}

TEST_F(ResponderGuardTest, DryRunCountsButAnswers) {
  auto* anon = guard_config_.mutable_anonymous();
  anon->set_lookups_per_second(1);
  anon->set_burst(1);
  anon->add_dry_run_rules("rate");
  Enable();
  const ClientAddress from = V4(127, 0, 9, 1);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(AnonUdp(Enum("+12025556666"), from).answers, 1) << i;
  }
  auto counters = guard_->Counters(*GuardKey::Parse("127.0.9.0/24"));
  ASSERT_TRUE(counters.has_value());
  EXPECT_EQ(counters->denied_total(), 0u);
  EXPECT_GE(counters->dry_run[static_cast<int>(GuardRule::kRate)], 9u);
}

// The metrics' request counters (server/ops/request_counters.h): lookups
// below the apex per class (and per peer org), misses, every refusal of the
// guard stage (slipped, dropped, blocked-and-dropped) as RESOURCE_EXHAUSTED,
// and the block the guard imposes after offence_denials refusals.
TEST_F(ResponderGuardTest, RequestCountersCountLookupsDenialsAndBlocks) {
  guard_config_.mutable_anonymous()->set_lookups_per_second(1);
  guard_config_.mutable_anonymous()->set_burst(5);
  guard_config_.mutable_anonymous()->set_miss_cost(1);
  guard_config_.set_offence_denials(3);
  guard_config_.set_slip(2);
  Enable();
  RequestCounters counters;
  responder_->set_counters(&counters);
  guard_->set_counters(&counters);
  constexpr size_t kDns = static_cast<size_t>(Door::kDns);
  constexpr size_t kAnon = static_cast<size_t>(IdentityClass::kAnonymous);
  constexpr size_t kPeerClass = static_cast<size_t>(IdentityClass::kPeer);
  constexpr size_t kAdminClass = static_cast<size_t>(IdentityClass::kAdmin);
  constexpr size_t kExhausted = 4;  // RequestCounters::kDenialCodes[4]
  ASSERT_EQ(RequestCounters::CodeLabel(kExhausted), "RESOURCE_EXHAUSTED");

  const ClientAddress from = V4(127, 0, 7, 1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(AnonUdp(Enum("+12025556666"), from).answers, 1) << i;
  }
  ASSERT_EQ(AnonUdp(Enum("+12025550000"), from).rcode, kRcodeNxDomain);
  // The apex discloses no number: not a lookup.
  ASSERT_EQ(Ask(Query("e164.arpa.", false, true, kTypeSOA), Identity{},
                Transport::kUdp, V4(127, 0, 8, 1))
                .rcode,
            kRcodeNoError);
  RequestCounters::Snapshot s = counters.Read();
  EXPECT_EQ(s.by_class[kDns][kAnon].lookups, 5u);
  EXPECT_EQ(s.by_class[kDns][kAnon].misses, 1u);
  EXPECT_EQ(s.by_class[kDns][kAnon].denials[kExhausted], 0u);

  // Over the rate: three refusals (slipped or dropped), the third an
  // offence that blocks the prefix; then the block drops the next one.
  for (int i = 0; i < 4; ++i) AnonUdp(Enum("+12025556666"), from);
  s = counters.Read();
  EXPECT_EQ(s.by_class[kDns][kAnon].lookups, 5u);
  EXPECT_EQ(s.by_class[kDns][kAnon].denials[kExhausted], 4u);
  EXPECT_EQ(s.blocks[kAnon], 1u);
  EXPECT_EQ(s.blocks[kPeerClass], 0u);

  // A TSIG peer and an admin: their classes; the peer's org too.
  ASSERT_EQ(Ask(Query(Enum("+12025556666")), kPeerId, Transport::kUdp,
                V4(127, 0, 9, 9))
                .answers,
            1);
  Ask(Query(Enum("+12025550000")), kPeerId, Transport::kUdp, V4(127, 0, 9, 9));
  Ask(Query(Enum("+12025556666")), kAdminId, Transport::kUdp, V4(127, 0, 9, 9));
  s = counters.Read();
  EXPECT_EQ(s.by_class[kDns][kPeerClass].lookups, 2u);
  EXPECT_EQ(s.by_class[kDns][kPeerClass].misses, 1u);
  EXPECT_EQ(s.by_class[kDns][kAdminClass].lookups, 1u);
  ASSERT_EQ(s.orgs.size(), 1u);  // Not the admin's org.
  EXPECT_EQ(s.orgs[0].org, kPeer);
  EXPECT_EQ(s.orgs[0].lookups[kDns], 2u);
  EXPECT_EQ(s.orgs[0].misses[kDns], 1u);
}

}  // namespace
}  // namespace lufd::dns
