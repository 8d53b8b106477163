// Zone transfer out (server/dns/xfr.h): the public snapshot of a view, the
// IXFR difference and journal, the splitting of a transfer into messages,
// the TSIG chain over those messages (checked with ldns, an independent
// implementation, RFC 8945 section 5.3.1), the IXFR query's SOA, and the
// XfrService's access rules and answers, also through DnsServer::Process.
#include "server/dns/xfr.h"

#include <openssl/evp.h>
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
// ldns/common.h #defines bool/true/false unless stdbool.h came first.
#include <ldns/ldns.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/dns/bytes.h"
#include "server/dns/server.h"
#include "server/dns/wire.h"
#include "server/ops/config.h"
#include "tests/unit/testing/objects.h"
#include "tests/unit/testing/tsig_keys.h"

namespace lufd::dns {
namespace {

using lufd::v1::RegistryObject;

constexpr char kReg[] = "iana-en:reg";
constexpr char kPeer[] = "iana-en:111";
constexpr const char* kSecret = testing::kPeerKeySecret;

std::string Wire(const char* text) {
  return LowercaseName(*NameFromText(text));
}

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(raw.data()),
                      static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

RegistryObject Org(const std::string& id, lufd::v1::OrgRole role) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  o.mutable_org()->add_roles(role);
  return o;
}

RegistryObject Naptr(const std::string& id, const std::string& host,
                     uint32_t ttl = 600) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(kReg);
  r->set_in_service(true);
  r->set_ttl(ttl);
  auto* n = r->mutable_naptr();
  n->set_order(10);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!sip:info@" + host + "!");
  n->set_replacement(".");
  return o;
}

void Add(RegistryView::Builder* b, const RegistryObject& o) {
  b->Add(KindOf(o), KeyOf(o), o);
}

// Public: dg-pub (sg-pub, NAPTR to public.example.com) with the TNs in
// `public_tns` and the prefix +1202777. Peer-only: +12025550000 on dg-peer,
// whose sg-peer (NAPTR to peer.example.com) is offered to kPeer only.
std::shared_ptr<const RegistryView> View(
    uint64_t serial, const std::vector<std::string>& public_tns,
    uint32_t public_ttl = 600) {
  RegistryView::Builder b;
  Add(&b, Org(kReg, lufd::v1::ORG_ROLE_REGISTRANT));
  Add(&b, Org(kPeer, lufd::v1::ORG_ROLE_PEER));
  Add(&b, testing::DestGroup("dg-pub", kReg));
  Add(&b, testing::DestGroup("dg-peer", kReg));
  Add(&b, Naptr("rec-pub", "public.example.com", public_ttl));
  Add(&b, Naptr("rec-peer", "peer.example.com"));
  Add(&b, testing::Group("sg-pub", kReg, {"dg-pub"}, {"rec-pub"}, true));
  Add(&b, testing::Group("sg-peer", kReg, {"dg-peer"}, {"rec-peer"}, false));
  Add(&b, testing::Offer("sg-peer", kPeer, lufd::v1::OFFER_STATUS_ACCEPTED));
  for (const std::string& tn : public_tns) {
    Add(&b, testing::Tn(tn, kReg, {"dg-pub"}));
  }
  Add(&b, testing::Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777", kReg,
                         {"dg-pub"}));
  Add(&b, testing::Tn("+12025550000", kReg, {"dg-peer"}));
  return std::move(b).Build(serial);
}

lufd::v1::DnsConfig Config() {
  lufd::v1::DnsConfig c;
  auto* z = c.add_zones();
  z->set_name("e164.arpa.");
  z->add_ns("ns1.example.net.");
  auto* p = c.add_zones();
  p->set_name("priv.enum.");
  p->set_private_(true);
  c.mutable_xfr()->add_allow_tsig("peer-key.");
  c.mutable_xfr()->add_allow_dot_orgs("iana-en:333");
  ApplyDnsDefaults(&c);
  return c;
}

bool HasOwner(const ZoneSnapshot& s, const char* owner) {
  const std::string w = Wire(owner);
  return std::any_of(s.records.begin(), s.records.end(),
                     [&](const ZoneRecord& r) { return r.owner == w; });
}

// ------------------------------------------------------------ snapshot

TEST(XfrSnapshotTest, HoldsThePublicViewOnlyAndNoSoa) {
  auto view = View(0x100000007, {"+12025556666"});
  absl::StatusOr<ZoneSnapshot> s =
      BuildPublicSnapshot(*view, Config().zones(0));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->serial, 7u);  // The view's serial mod 2^32, as the SOA.
  EXPECT_TRUE(std::is_sorted(s->records.begin(), s->records.end()));
  EXPECT_TRUE(HasOwner(*s, "6.6.6.6.5.5.5.2.0.2.1.e164.arpa."));
  EXPECT_TRUE(HasOwner(*s, "*.7.7.7.2.0.2.1.e164.arpa."));  // The prefix.
  EXPECT_FALSE(HasOwner(*s, "0.0.0.0.5.5.5.2.0.2.1.e164.arpa."));  // Peer's.
  size_t ns = 0;
  for (const ZoneRecord& r : s->records) {
    EXPECT_NE(r.type, kTypeSOA);
    if (r.type == kTypeNS) ++ns;
    EXPECT_EQ(r.rdata.find("peer.example.com"), std::string::npos);
  }
  EXPECT_EQ(ns, 1u);
}

// ------------------------------------------------------------ diff, journal

ZoneSnapshot Snap(uint64_t serial, const std::vector<std::string>& tns,
                  uint32_t ttl = 600) {
  absl::StatusOr<ZoneSnapshot> s =
      BuildPublicSnapshot(*View(serial, tns, ttl), Config().zones(0));
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(XfrDiffTest, AddedDeletedAndTtlChange) {
  const ZoneSnapshot a = Snap(10, {"+12025556666", "+12025556667"});
  const ZoneSnapshot b = Snap(11, {"+12025556666", "+12025556668"});
  ZoneDiff d = DiffSnapshots(a, b);
  EXPECT_EQ(d.from_serial, 10u);
  EXPECT_EQ(d.to_serial, 11u);
  ASSERT_EQ(d.deleted.size(), 1u);
  EXPECT_EQ(d.deleted[0].owner, Wire("7.6.6.6.5.5.5.2.0.2.1.e164.arpa."));
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].owner, Wire("8.6.6.6.5.5.5.2.0.2.1.e164.arpa."));

  // A peer-only change moves the serial and nothing else.
  const ZoneSnapshot same = Snap(12, {"+12025556666", "+12025556668"});
  d = DiffSnapshots(b, same);
  EXPECT_TRUE(d.deleted.empty());
  EXPECT_TRUE(d.added.empty());

  // A TTL change is a deletion plus an addition of every record it touches.
  const ZoneSnapshot ttl = Snap(13, {"+12025556666", "+12025556668"}, 60);
  d = DiffSnapshots(same, ttl);
  EXPECT_EQ(d.deleted.size(), d.added.size());
  EXPECT_GE(d.added.size(), 3u);  // Two TNs and the prefix's wildcard.
  for (const ZoneRecord& r : d.added) EXPECT_EQ(r.ttl, 60u);
}

TEST(XfrJournalTest, SinceGivesTheChainOrNothing) {
  XfrJournal j(100, 1000000);
  EXPECT_EQ(j.current(), nullptr);
  EXPECT_FALSE(j.Since(10).has_value());
  j.Push(std::make_shared<ZoneSnapshot>(Snap(10, {"+12025556666"})));
  j.Push(std::make_shared<ZoneSnapshot>(Snap(11, {"+12025556667"})));
  j.Push(std::make_shared<ZoneSnapshot>(Snap(12, {"+12025556668"})));
  EXPECT_EQ(j.current()->serial, 12u);
  auto from10 = j.Since(10);
  ASSERT_TRUE(from10.has_value());
  ASSERT_EQ(from10->size(), 2u);
  EXPECT_EQ((*from10)[0]->from_serial, 10u);
  EXPECT_EQ((*from10)[1]->to_serial, 12u);
  ASSERT_TRUE(j.Since(11).has_value());
  EXPECT_EQ(j.Since(11)->size(), 1u);
  ASSERT_TRUE(j.Since(12).has_value());
  EXPECT_TRUE(j.Since(12)->empty());
  EXPECT_FALSE(j.Since(9).has_value());
  // The same serial again changes nothing in the history.
  j.Push(std::make_shared<ZoneSnapshot>(Snap(12, {"+12025556668"})));
  EXPECT_EQ(j.diff_count(), 2u);
}

TEST(XfrJournalTest, BoundedAndRestartedWhenASerialComesBack) {
  XfrJournal j(2, 1000000);
  for (uint64_t s = 10; s <= 13; ++s) {
    j.Push(std::make_shared<ZoneSnapshot>(
        Snap(s, {"+1202555666" + std::to_string(s % 10)})));
  }
  EXPECT_EQ(j.diff_count(), 2u);
  EXPECT_FALSE(j.Since(10).has_value());  // Dropped: the oldest went first.
  EXPECT_TRUE(j.Since(11).has_value());

  XfrJournal few(100, 3);  // At most 3 records over all differences.
  few.Push(std::make_shared<ZoneSnapshot>(Snap(10, {"+12025556660"})));
  few.Push(std::make_shared<ZoneSnapshot>(Snap(11, {"+12025556661"})));
  few.Push(std::make_shared<ZoneSnapshot>(Snap(12, {"+12025556662"})));
  EXPECT_EQ(few.diff_count(), 1u);
  EXPECT_FALSE(few.Since(10).has_value());

  // The registry moved back in time (a rebuilt replica): serial 11 again,
  // with other contents. The history through the old 11 must not be used.
  XfrJournal back(100, 1000000);
  back.Push(std::make_shared<ZoneSnapshot>(Snap(10, {"+12025556660"})));
  back.Push(std::make_shared<ZoneSnapshot>(Snap(11, {"+12025556661"})));
  back.Push(std::make_shared<ZoneSnapshot>(Snap(12, {"+12025556662"})));
  back.Push(std::make_shared<ZoneSnapshot>(Snap(11, {"+12025556669"})));
  EXPECT_FALSE(back.Since(10).has_value());
  EXPECT_FALSE(back.Since(12).has_value());
  ASSERT_TRUE(back.Since(11).has_value());
}

std::string Soa(uint32_t serial) {
  std::string rr = Wire("e164.arpa.");
  AppendRrTail(&rr, kTypeSOA, kClassIN, 3600,
               SoaRdata(Wire("ns1.example.net."), Wire("h.e164.arpa."), serial,
                        1, 2, 3, 4));
  return rr;
}

uint32_t SoaSerialOf(const std::string& rr) {
  // owner (e164.arpa.: 11) + 10, then the two names, then the serial.
  const size_t rdata = Wire("e164.arpa.").size() + 10;
  const size_t serial_at =
      rdata + Wire("ns1.example.net.").size() + Wire("h.e164.arpa.").size();
  return Get32(reinterpret_cast<const uint8_t*>(rr.data()) + serial_at);
}

bool IsSoa(const std::string& rr) {
  const size_t at = Wire("e164.arpa.").size();
  return rr.size() > at + 2 && rr.compare(0, at, Wire("e164.arpa.")) == 0 &&
         Get16(reinterpret_cast<const uint8_t*>(rr.data()) + at) == kTypeSOA;
}

TEST(XfrRecordsTest, AxfrAndIxfrSequences) {
  XfrJournal j(100, 1000000);
  j.Push(std::make_shared<ZoneSnapshot>(Snap(10, {"+12025556660"})));
  j.Push(std::make_shared<ZoneSnapshot>(Snap(11, {"+12025556661"})));
  j.Push(std::make_shared<ZoneSnapshot>(
      Snap(12, {"+12025556661", "+12025556662"})));
  const ZoneSnapshot& cur = *j.current();

  std::vector<std::string> axfr = AxfrRecords(cur, Soa);
  ASSERT_EQ(axfr.size(), cur.records.size() + 2);
  EXPECT_TRUE(IsSoa(axfr.front()) && IsSoa(axfr.back()));
  EXPECT_EQ(SoaSerialOf(axfr.front()), 12u);

  // SOA 12 | SOA 10, -6660, SOA 11, +6661 | SOA 11, SOA 12, +6662 | SOA 12.
  std::vector<std::string> ixfr = IxfrRecords(cur, *j.Since(10), Soa);
  std::vector<uint32_t> soas;
  std::vector<size_t> at;
  for (size_t i = 0; i < ixfr.size(); ++i) {
    if (IsSoa(ixfr[i])) {
      soas.push_back(SoaSerialOf(ixfr[i]));
      at.push_back(i);
    }
  }
  EXPECT_EQ(soas, (std::vector<uint32_t>{12, 10, 11, 11, 12, 12}));
  EXPECT_EQ(at, (std::vector<size_t>{0, 1, 3, 5, 6, 8}));
  EXPECT_EQ(ixfr[2], DiffSnapshots(Snap(10, {"+12025556660"}),
                                   Snap(11, {"+12025556661"}))
                         .deleted[0]
                         .Wire());

  // Up to date: the SOA alone.
  std::vector<std::string> none = IxfrRecords(cur, {}, Soa);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(SoaSerialOf(none[0]), 12u);

  EXPECT_TRUE(SerialNewer(13, 12));
  EXPECT_FALSE(SerialNewer(12, 12));
  EXPECT_FALSE(SerialNewer(11, 12));
  EXPECT_TRUE(SerialNewer(1, 0xfffffff0u));  // Wrapped.
}

// ------------------------------------------------------------ messages

// `n` distinct NAPTR records of ~100 bytes each.
std::vector<std::string> Records(int n) {
  std::vector<std::string> rrs;
  for (int i = 0; i < n; ++i) {
    ZoneRecord r;
    r.owner = Wire(("1." + std::to_string(i) + ".e164.arpa.").c_str());
    r.type = kTypeNAPTR;
    r.ttl = 600;
    r.rdata = NaptrRdata(10, 10, "u", "E2U+sip",
                         "!^.*$!sip:someone-" + std::to_string(i) +
                             "@a-rather-long-domain.example.com!",
                         std::string(1, '\0'));
    rrs.push_back(r.Wire());
  }
  return rrs;
}

TEST(XfrPackTest, SplitsAtTheLimitWithTheQuestionInTheFirstOnly) {
  const std::vector<std::string> rrs = Records(100);
  const std::string qname = *NameFromText("E164.arpa.");
  absl::StatusOr<std::vector<std::string>> msgs =
      PackXfrMessages(0xbeef, qname, kTypeAXFR, rrs, 1000);
  ASSERT_TRUE(msgs.ok()) << msgs.status();
  ASSERT_GT(msgs->size(), 5u);
  size_t total = 0;
  std::string concatenated;
  for (size_t i = 0; i < msgs->size(); ++i) {
    const std::string& m = (*msgs)[i];
    ASSERT_LE(m.size(), 1000u);
    const auto* p = reinterpret_cast<const uint8_t*>(m.data());
    EXPECT_EQ(Get16(p), 0xbeef);
    EXPECT_EQ(Get16(p + 2), kFlagQR | kFlagAA);
    EXPECT_EQ(Get16(p + 4), i == 0 ? 1 : 0);
    EXPECT_EQ(Get16(p + 8), 0);
    EXPECT_EQ(Get16(p + 10), 0);
    const uint16_t an = Get16(p + 6);
    EXPECT_GT(an, 0);
    total += an;
    // Each message parses on its own (ldns), with `an` answers.
    ldns_pkt* pkt = nullptr;
    ASSERT_EQ(ldns_wire2pkt(&pkt, p, m.size()), LDNS_STATUS_OK) << i;
    EXPECT_EQ(ldns_pkt_ancount(pkt), an);
    ldns_pkt_free(pkt);
    const size_t body = kHeaderSize + (i == 0 ? qname.size() + 4 : 0);
    concatenated.append(m, body, std::string::npos);
    // Not split before it had to be: the next record did not fit.
    if (i + 1 < msgs->size()) {
      EXPECT_GT(m.size() + rrs[total].size(), 1000u);
    }
  }
  EXPECT_EQ(total, rrs.size());
  std::string all;
  for (const std::string& r : rrs) all += r;
  EXPECT_EQ(concatenated, all);  // Every record once, in order.
  // The question echoes the query's name as sent.
  EXPECT_EQ((*msgs)[0].compare(kHeaderSize, qname.size(), qname), 0);

  // One message when it all fits; a record larger than a message: error.
  msgs = PackXfrMessages(1, qname, kTypeAXFR, rrs, 65535);
  ASSERT_TRUE(msgs.ok());
  EXPECT_EQ(msgs->size(), 1u);
  EXPECT_FALSE(PackXfrMessages(1, qname, kTypeAXFR, rrs, 100).ok());
}

// ------------------------------------------------------------ TSIG chain

struct SignedXfrQuery {
  ldns_pkt* pkt = nullptr;  // Owns; freed by the test.
  std::vector<uint8_t> wire;
  ParsedQuery parsed;
  TsigState state;
};

// An AXFR (or IXFR from `ixfr_serial`) query for e164.arpa. signed by ldns
// with peer-key., verified by our VerifyQueryTsig.
SignedXfrQuery SignedQuery(uint16_t qtype, uint32_t ixfr_serial = 0) {
  SignedXfrQuery q;
  ldns_rdf* name = ldns_dname_new_frm_str("e164.arpa.");
  q.pkt = ldns_pkt_query_new(name, static_cast<ldns_rr_type>(qtype),
                             LDNS_RR_CLASS_IN, 0);
  ldns_pkt_set_id(q.pkt, 0x4242);
  if (qtype == kTypeIXFR) {
    ldns_rr* soa = nullptr;
    const std::string text =
        "e164.arpa. 3600 IN SOA ns1.example.net. h.e164.arpa. " +
        std::to_string(ixfr_serial) + " 1 2 3 4";
    EXPECT_EQ(ldns_rr_new_frm_str(&soa, text.c_str(), 0, nullptr, nullptr),
              LDNS_STATUS_OK);
    ldns_pkt_push_rr(q.pkt, LDNS_SECTION_AUTHORITY, soa);
  }
  const std::string b64 = Base64(kSecret);
  EXPECT_EQ(ldns_pkt_tsig_sign(q.pkt, "peer-key.", b64.c_str(), 300,
                               "hmac-sha256.", nullptr),
            LDNS_STATUS_OK);
  uint8_t* wire = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, q.pkt, &size), LDNS_STATUS_OK);
  q.wire.assign(wire, wire + size);
  free(wire);
  EXPECT_EQ(ParseQuery(q.wire, &q.parsed), ParseResult::kOk);
  q.state = VerifyQueryTsig(q.wire, q.parsed, testing::PeerKeyLookup(),
                            static_cast<uint64_t>(time(nullptr)));
  EXPECT_EQ(q.state.status, TsigStatus::kOk);
  return q;
}

// Verifies a stream of signed messages the way a secondary does: the first
// against the query's MAC with every TSIG variable, each later one against
// the previous message's MAC with the timers only. Returns how many
// verified before the first failure.
size_t VerifyChain(ldns_pkt* query, const std::vector<std::string>& msgs,
                   const std::string& secret) {
  const std::string b64 = Base64(secret);
  ldns_rdf* mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(query), 3));
  size_t ok = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(msgs[i].data());
    ldns_pkt* pkt = nullptr;
    if (ldns_wire2pkt(&pkt, p, msgs[i].size()) != LDNS_STATUS_OK) break;
    const bool good = ldns_pkt_tsig_verify_next(
        pkt, p, msgs[i].size(), "peer-key.", b64.c_str(), mac, i == 0 ? 0 : 1);
    if (good) {
      ldns_rdf_deep_free(mac);
      mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(pkt), 3));
    }
    ldns_pkt_free(pkt);
    if (!good) break;
    ++ok;
  }
  ldns_rdf_deep_free(mac);
  return ok;
}

TEST(XfrTsigTest, EveryMessageIsSignedAndTheChainVerifiesInLdns) {
  SignedXfrQuery q = SignedQuery(kTypeAXFR);
  const size_t reserve = TsigReserve(q.state);
  absl::StatusOr<std::vector<std::string>> msgs = PackXfrMessages(
      q.parsed.id, q.parsed.qname, kTypeAXFR, Records(60), 1500 - reserve);
  ASSERT_TRUE(msgs.ok());
  ASSERT_GE(msgs->size(), 4u);
  TsigStreamSigner signer(q.state);
  const uint64_t now = static_cast<uint64_t>(time(nullptr));
  for (std::string& m : *msgs) {
    const size_t n = m.size();
    m.resize(n + reserve);
    const size_t s =
        signer.Sign(reinterpret_cast<uint8_t*>(m.data()), n, m.size(), now);
    ASSERT_GT(s, n);
    m.resize(s);
    EXPECT_LE(m.size(), 1500u);
  }
  EXPECT_EQ(VerifyChain(q.pkt, *msgs, kSecret), msgs->size());
  // Another secret verifies nothing; a dropped or reordered message breaks
  // the chain right there.
  EXPECT_EQ(VerifyChain(q.pkt, *msgs, "another secret, also 32 bytes.."), 0u);
  std::vector<std::string> dropped = *msgs;
  dropped.erase(dropped.begin() + 1);
  EXPECT_EQ(VerifyChain(q.pkt, dropped, kSecret), 1u);
  std::vector<std::string> swapped = *msgs;
  std::swap(swapped[1], swapped[2]);
  EXPECT_EQ(VerifyChain(q.pkt, swapped, kSecret), 1u);
  ldns_pkt_free(q.pkt);
}

// ------------------------------------------------------------ IXFR query

TEST(XfrQueryTest, IxfrCarriesTheClientSerial) {
  SignedXfrQuery q = SignedQuery(kTypeIXFR, 4000000000u);
  EXPECT_TRUE(q.parsed.has_ixfr_serial);
  EXPECT_EQ(q.parsed.ixfr_serial, 4000000000u);
  EXPECT_TRUE(q.parsed.has_tsig);
  ldns_pkt_free(q.pkt);

  // Authority records in anything but IXFR, or a non-SOA one: FORMERR.
  auto build = [](uint16_t qtype, uint16_t auth_type) {
    std::vector<uint8_t> p = {0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0};
    const std::string apex = Wire("e164.arpa.");
    p.insert(p.end(), apex.begin(), apex.end());
    p.insert(p.end(), {static_cast<uint8_t>(qtype >> 8),
                       static_cast<uint8_t>(qtype), 0, 1});
    std::string rdata = SoaRdata(Wire("a."), Wire("b."), 77, 1, 2, 3, 4);
    p.insert(p.end(), {0xc0, 12, static_cast<uint8_t>(auth_type >> 8),
                       static_cast<uint8_t>(auth_type), 0, 1, 0, 0, 0, 0, 0,
                       static_cast<uint8_t>(rdata.size())});
    p.insert(p.end(), rdata.begin(), rdata.end());
    return p;
  };
  ParsedQuery parsed;
  EXPECT_EQ(ParseQuery(build(kTypeIXFR, kTypeSOA), &parsed), ParseResult::kOk);
  EXPECT_EQ(parsed.ixfr_serial, 77u);
  EXPECT_EQ(ParseQuery(build(kTypeAXFR, kTypeSOA), &parsed),
            ParseResult::kFormErr);
  EXPECT_EQ(ParseQuery(build(kTypeNAPTR, kTypeSOA), &parsed),
            ParseResult::kFormErr);
  EXPECT_EQ(ParseQuery(build(kTypeIXFR, kTypeNS), &parsed),
            ParseResult::kFormErr);
  std::vector<uint8_t> cut = build(kTypeIXFR, kTypeSOA);
  cut.resize(cut.size() - 1);
  EXPECT_EQ(ParseQuery(cut, &parsed), ParseResult::kFormErr);
}

// ------------------------------------------------------------ service

class XfrServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    views_.Publish(View(10, {"+12025556666"}));
    auto s = XfrService::Create(Config(), &views_, testing::PeerKeyLookup());
    ASSERT_TRUE(s.ok()) << s.status();
    xfr_ = *std::move(s);
    xfr_->Refresh();
  }
  std::vector<std::string> Ask(uint16_t qtype, std::string_view key,
                               const char* zone = "e164.arpa.",
                               std::optional<uint32_t> serial = std::nullopt,
                               Transport transport = Transport::kTcp,
                               const char* org = kPeer) {
    ParsedQuery q;
    q.id = 7;
    q.qname = *NameFromText(zone);
    q.qname_lower = LowercaseName(q.qname);
    q.qtype = qtype;
    q.qclass = kClassIN;
    q.has_question = true;
    if (serial.has_value()) {
      q.has_ixfr_serial = true;
      q.ixfr_serial = *serial;
    }
    Identity viewer;
    if (org != nullptr) viewer.org_id = org;
    return xfr_->Transfer(q, viewer, key, transport, 65000);
  }
  static uint16_t Rcode(const std::vector<std::string>& m) {
    return m.empty() ? 0xffff : static_cast<uint16_t>(m[0][3] & 0x0f);
  }
  static std::string All(const std::vector<std::string>& m) {
    std::string s;
    for (const auto& x : m) s += x;
    return s;
  }
  ViewHolder views_;
  std::unique_ptr<XfrService> xfr_;
};

TEST_F(XfrServiceTest, OnlyTheAllowedKeyGetsTheZone) {
  const std::string key = Wire("peer-key.");
  std::vector<std::string> m = Ask(kTypeAXFR, key);
  EXPECT_EQ(Rcode(m), kRcodeNoError);
  EXPECT_NE(All(m).find("public.example.com"), std::string::npos);
  EXPECT_EQ(All(m).find("peer.example.com"), std::string::npos);

  m = Ask(kTypeAXFR, "", "e164.arpa.", std::nullopt, Transport::kTcp,
          nullptr);  // No TSIG.
  EXPECT_EQ(Rcode(m), kRcodeRefused);
  EXPECT_EQ(All(m).find("public.example.com"), std::string::npos);
  m = Ask(kTypeAXFR, Wire("other-key."));  // Verified, but not allowed.
  EXPECT_EQ(Rcode(m), kRcodeRefused);
  m = Ask(kTypeAXFR, key, "7.7.7.2.0.2.1.e164.arpa.");  // Not an apex.
  EXPECT_EQ(Rcode(m), kRcodeNotAuth);
  m = Ask(kTypeAXFR, key, "example.org.");
  EXPECT_EQ(Rcode(m), kRcodeNotAuth);
  m = Ask(kTypeAXFR, key, "priv.enum.");  // Private: nothing is public.
  EXPECT_EQ(Rcode(m), kRcodeRefused);
  EXPECT_EQ(xfr_->stats().refused.load(), 5u);
}

TEST_F(XfrServiceTest, XotNeedsDotAndAnAllowedOrg) {
  // DoT client certificate of iana-en:333 (allow_dot_orgs), no TSIG.
  std::vector<std::string> m = Ask(kTypeAXFR, "", "e164.arpa.", std::nullopt,
                                   Transport::kTls, "iana-en:333");
  EXPECT_EQ(Rcode(m), kRcodeNoError);
  EXPECT_NE(All(m).find("public.example.com"), std::string::npos);
  EXPECT_EQ(All(m).find("peer.example.com"), std::string::npos);
  // The same identity over plain TCP (which cannot prove it), another org
  // over DoT, and an anonymous DoT client: REFUSED.
  EXPECT_EQ(Rcode(Ask(kTypeAXFR, "", "e164.arpa.", std::nullopt,
                      Transport::kTcp, "iana-en:333")),
            kRcodeRefused);
  EXPECT_EQ(Rcode(Ask(kTypeAXFR, "", "e164.arpa.", std::nullopt,
                      Transport::kTls, kPeer)),
            kRcodeRefused);
  EXPECT_EQ(Rcode(Ask(kTypeAXFR, "", "e164.arpa.", std::nullopt,
                      Transport::kTls, nullptr)),
            kRcodeRefused);
}

TEST_F(XfrServiceTest, IxfrFromTheJournalElseTheWholeZone) {
  const std::string key = Wire("peer-key.");
  views_.Publish(View(11, {"+12025556666", "+12025556667"}));
  // No Refresh(): Transfer brings a small zone up to date itself.
  std::vector<std::string> m = Ask(kTypeIXFR, key, "e164.arpa.", 10);
  ASSERT_EQ(Rcode(m), kRcodeNoError);
  EXPECT_EQ(xfr_->stats().ixfr.load(), 1u);
  ldns_pkt* pkt = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&pkt, reinterpret_cast<const uint8_t*>(m[0].data()),
                          m[0].size()),
            LDNS_STATUS_OK);
  // SOA 11, SOA 10, SOA 11, the added NAPTR, SOA 11.
  ASSERT_EQ(ldns_pkt_ancount(pkt), 5u);
  const ldns_rr_list* an = ldns_pkt_answer(pkt);
  EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(an, 3)), LDNS_RR_TYPE_NAPTR);
  char* owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(an, 3)));
  EXPECT_STREQ(owner, "7.6.6.6.5.5.5.2.0.2.1.e164.arpa.");
  free(owner);
  ldns_pkt_free(pkt);

  m = Ask(kTypeIXFR, key, "e164.arpa.", 11);  // Current: the SOA alone.
  ASSERT_EQ(Rcode(m), kRcodeNoError);
  EXPECT_EQ(Get16(reinterpret_cast<const uint8_t*>(m[0].data()) + 6), 1);
  m = Ask(kTypeIXFR, key, "e164.arpa.", 3);  // Not in the history: AXFR-style.
  ASSERT_EQ(Rcode(m), kRcodeNoError);
  EXPECT_EQ(xfr_->stats().ixfr_as_axfr.load(), 1u);
  EXPECT_NE(All(m).find("public.example.com"), std::string::npos);
}

TEST(XfrServerTest, ProcessStreamsSignedMessagesOverTcpOnly) {
  ViewHolder views;
  std::vector<std::string> tns;
  for (int i = 0; i < 2000; ++i)
    tns.push_back("+1303555" + std::to_string(1000 + i));
  views.Publish(View(10, tns));
  auto xfr = XfrService::Create(Config(), &views, testing::PeerKeyLookup());
  ASSERT_TRUE(xfr.ok());
  (*xfr)->Refresh();
  class Refuser : public QueryProcessor {
    size_t Respond(const ParsedQuery& q, ParseResult, const Identity&,
                   Transport, const ClientAddress&, uint8_t* out,
                   size_t limit) override {
      ResponseWriter w(out, limit);
      if (!w.Start(q, kFlagQR, kRcodeRefused)) return 0;
      return w.size();
    }
  } refuser;
  DnsServer::Options o;
  o.listen = {"127.0.0.1:0"};
  o.workers = 1;
  o.xfr = xfr->get();
  auto server =
      DnsServer::Start(o, &refuser, testing::PeerKeyLookup(), nullptr);
  ASSERT_TRUE(server.ok()) << server.status();

  SignedXfrQuery q = SignedQuery(kTypeAXFR);
  std::vector<uint8_t> out(65535);
  std::string stream;
  EXPECT_EQ(
      (*server)->Process(q.wire, Transport::kTcp, Identity(), ClientAddress(),
                         out.data(), out.size(), nullptr, &stream),
      0u);
  // Split the stream at its length prefixes.
  std::vector<std::string> msgs;
  for (size_t at = 0; at + 2 <= stream.size();) {
    const size_t len =
        Get16(reinterpret_cast<const uint8_t*>(stream.data()) + at);
    ASSERT_LE(at + 2 + len, stream.size());
    msgs.push_back(stream.substr(at + 2, len));
    at += 2 + len;
  }
  ASSERT_GE(msgs.size(), 2u);  // 2000 numbers do not fit one message.
  EXPECT_EQ(VerifyChain(q.pkt, msgs, kSecret), msgs.size());
  size_t answers = 0;
  for (const std::string& m : msgs) {
    answers += Get16(reinterpret_cast<const uint8_t*>(m.data()) + 6);
  }
  EXPECT_GE(answers, 2000u + 2);

  // Over UDP the same query goes to the QueryProcessor.
  stream.clear();
  const size_t n =
      (*server)->Process(q.wire, Transport::kUdp, Identity(), ClientAddress(),
                         out.data(), 1232, nullptr, &stream);
  EXPECT_TRUE(stream.empty());
  ASSERT_GT(n, kHeaderSize);
  EXPECT_EQ(out[3] & 0x0f, kRcodeRefused);
  ldns_pkt_free(q.pkt);
}

}  // namespace
}  // namespace lufd::dns
