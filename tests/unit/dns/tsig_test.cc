// TSIG (RFC 8945) verification and signing, checked against ldns (an
// independent implementation): ldns-signed queries verify here, and our
// signed responses verify in ldns. Plus every failure outcome.
#include "server/dns/tsig.h"

// ldns/common.h #defines bool/true/false unless stdbool.h came first.
#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/dns/wire.h"
#include "tests/unit/testing/tsig_keys.h"

namespace lufd::dns {
namespace {

constexpr uint64_t kNow = 1790000000;
constexpr const char* kSecret = testing::kPeerKeySecret;

std::string Wire(const char* text) { return *NameFromText(text); }

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(raw.data()),
                      static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// A NAPTR query for 6.6.e164.arpa. with id 0x1234, RD.
std::vector<uint8_t> Query() {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  const std::string name = Wire("6.6.e164.arpa.");
  q.insert(q.end(), name.begin(), name.end());
  q.insert(q.end(), {0, 35, 0, 1});
  return q;
}

struct Signed {
  std::vector<uint8_t> packet;
  std::string mac;
  ParsedQuery parsed;
};

Signed SignedQuery(std::string_view key, std::string_view secret,
                   uint64_t when) {
  Signed s;
  s.packet = Query();
  const size_t size = s.packet.size();
  s.packet.resize(size + 200);
  const size_t n =
      SignQuery(s.packet.data(), size, s.packet.size(),
                Wire(std::string(key).c_str()), secret, when, &s.mac);
  EXPECT_GT(n, size);
  s.packet.resize(n);
  EXPECT_EQ(ParseQuery(s.packet, &s.parsed), ParseResult::kOk);
  EXPECT_TRUE(s.parsed.has_tsig);
  return s;
}

// Verifies `packet` at kNow after a test edited it, parsing it afresh so
// that the TSIG is found where the edit left it; nullopt when it no longer
// parses (which fails any expected status).
std::optional<TsigStatus> ReparseAndVerify(const std::vector<uint8_t>& packet) {
  ParsedQuery parsed;
  if (ParseQuery(packet, &parsed) != ParseResult::kOk) return std::nullopt;
  return VerifyQueryTsig(packet, parsed, testing::PeerKeyLookup(), kNow).status;
}

uint16_t Rcode(const uint8_t* p) { return p[3] & 0x0f; }
uint16_t Arcount(const uint8_t* p) {
  return static_cast<uint16_t>((p[10] << 8) | p[11]);
}

TEST(TsigTest, GoodQueryGivesTheKeysIdentity) {
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  TsigState st =
      VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(), kNow + 10);
  ASSERT_EQ(st.status, TsigStatus::kOk);
  EXPECT_EQ(st.identity.org_id, "iana-en:111");
  EXPECT_EQ(st.identity.credential_id, "cred-peer");
  EXPECT_EQ(st.request_mac, s.mac);
}

TEST(TsigTest, KeyNameCaseDoesNotMatter) {
  Signed s = SignedQuery("PEER-Key.", kSecret, kNow);
  EXPECT_EQ(VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(), kNow)
                .status,
            TsigStatus::kOk);
}

TEST(TsigTest, NoTsigIsNone) {
  std::vector<uint8_t> q = Query();
  ParsedQuery parsed;
  ASSERT_EQ(ParseQuery(q, &parsed), ParseResult::kOk);
  TsigState st = VerifyQueryTsig(q, parsed, testing::PeerKeyLookup(), kNow);
  EXPECT_EQ(st.status, TsigStatus::kNone);
  EXPECT_TRUE(st.identity.anonymous());
}

TEST(TsigTest, FailuresNeverCarryAnIdentity) {
  struct Case {
    const char* key;
    const char* secret;
    uint64_t skew;
    TsigStatus want;
  } cases[] = {
      {"other-key.", kSecret, 0, TsigStatus::kBadKey},
      {"peer-key.", "a different secret of some size!", 0, TsigStatus::kBadSig},
      {"peer-key.", kSecret, 301, TsigStatus::kBadTime},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    Signed s = SignedQuery(c.key, c.secret, kNow);
    TsigState st = VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(),
                                   kNow + c.skew);
    EXPECT_EQ(st.status, c.want);
    EXPECT_TRUE(st.identity.anonymous());
  }
  // 300 s of skew is still inside the fudge, either way.
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  EXPECT_EQ(
      VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(), kNow + 300)
          .status,
      TsigStatus::kOk);
  EXPECT_EQ(
      VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(), kNow - 300)
          .status,
      TsigStatus::kOk);
}

TEST(TsigTest, TamperedMessageIsBadSig) {
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  s.packet[13] ^= 0x01;  // A label byte of the question ("6" -> "7").
  EXPECT_EQ(ReparseAndVerify(s.packet), TsigStatus::kBadSig);
}

TEST(TsigTest, TruncatedMacIsBadSig) {
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  // Rewrite MAC size 32 -> 16 and drop 16 bytes: a well-formed TSIG with a
  // truncated MAC, which we do not accept.
  const size_t tsig = s.parsed.tsig_offset;
  const size_t rdata = tsig + Wire("peer-key.").size() + 10;
  const size_t mac_size_at = rdata + 13 + 6 + 2;
  ASSERT_EQ(s.packet[mac_size_at + 1], 32);
  s.packet[mac_size_at + 1] = 16;
  s.packet.erase(s.packet.begin() + mac_size_at + 2 + 16,
                 s.packet.begin() + mac_size_at + 2 + 32);
  const size_t rdlen_at = rdata - 2;
  const uint16_t rdlen = static_cast<uint16_t>(
      ((s.packet[rdlen_at] << 8) | s.packet[rdlen_at + 1]) - 16);
  s.packet[rdlen_at] = static_cast<uint8_t>(rdlen >> 8);
  s.packet[rdlen_at + 1] = static_cast<uint8_t>(rdlen & 0xff);
  EXPECT_EQ(ReparseAndVerify(s.packet), TsigStatus::kBadSig);
}

TEST(TsigTest, MalformedRecordIsFormErr) {
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  ParsedQuery parsed = s.parsed;
  // Claim the TSIG starts inside the question.
  parsed.tsig_offset = 14;
  EXPECT_EQ(
      VerifyQueryTsig(s.packet, parsed, testing::PeerKeyLookup(), kNow).status,
      TsigStatus::kFormErr);
}

TEST(TsigTest, SignedResponseVerifies) {
  Signed s = SignedQuery("peer-key.", kSecret, kNow);
  TsigState st =
      VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(), kNow);
  ASSERT_EQ(st.status, TsigStatus::kOk);
  std::vector<uint8_t> buf(512);
  ResponseWriter w(buf.data(), buf.size() - TsigReserve(st));
  ASSERT_TRUE(w.Start(s.parsed, kFlagQR | kFlagAA, kRcodeNoError));
  const size_t n = SignResponse(st, buf.data(), w.size(), buf.size(), kNow);
  ASSERT_GT(n, w.size());
  EXPECT_LE(n - w.size(), TsigReserve(st));
  EXPECT_EQ(Arcount(buf.data()), 1);
  uint16_t error = 99;
  EXPECT_TRUE(VerifyResponseTsig(absl::MakeConstSpan(buf.data(), n), kSecret,
                                 s.mac, &error));
  EXPECT_EQ(error, 0);
  EXPECT_FALSE(VerifyResponseTsig(absl::MakeConstSpan(buf.data(), n),
                                  "wrong secret", s.mac, &error));
  // Does not fit: nothing written.
  EXPECT_EQ(SignResponse(st, buf.data(), w.size(), w.size() + 10, kNow), 0u);
}

TEST(TsigTest, ErrorResponses) {
  struct Case {
    const char* key;
    const char* secret;
    uint64_t skew;
    uint16_t tsig_error;
    bool signed_response;
  } cases[] = {
      {"other-key.", kSecret, 0, kRcodeBadKey, false},
      {"peer-key.", "a different secret of some size!", 0, kRcodeBadSig, false},
      {"peer-key.", kSecret, 1000, kRcodeBadTime, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tsig_error);
    Signed s = SignedQuery(c.key, c.secret, kNow);
    TsigState st = VerifyQueryTsig(s.packet, s.parsed, testing::PeerKeyLookup(),
                                   kNow + c.skew);
    std::vector<uint8_t> buf(512);
    const size_t n = WriteTsigErrorResponse(s.parsed, st, buf.data(),
                                            buf.size(), kNow + c.skew);
    ASSERT_GT(n, kHeaderSize);
    EXPECT_EQ(buf[0], 0x12);
    EXPECT_EQ(buf[1], 0x34);
    EXPECT_EQ(Rcode(buf.data()), kRcodeNotAuth);
    EXPECT_EQ(buf[7], 0);  // ANCOUNT: nothing answered.
    EXPECT_EQ(Arcount(buf.data()), 1);
    uint16_t error = 0;
    EXPECT_EQ(VerifyResponseTsig(absl::MakeConstSpan(buf.data(), n), kSecret,
                                 s.mac, &error),
              c.signed_response);
    EXPECT_EQ(error, c.tsig_error);
  }
}

// --- Interoperability with ldns ---------------------------------------------

TEST(TsigLdnsTest, LdnsSignedQueryVerifiesHere) {
  ldns_pkt* pkt = nullptr;
  ASSERT_EQ(
      ldns_pkt_query_new_frm_str(&pkt, "6.6.e164.arpa.", LDNS_RR_TYPE_NAPTR,
                                 LDNS_RR_CLASS_IN, LDNS_RD),
      LDNS_STATUS_OK);
  ldns_pkt_set_id(pkt, 4242);
  const std::string b64 = Base64(kSecret);
  ASSERT_EQ(ldns_pkt_tsig_sign(pkt, "peer-key.", b64.c_str(), 300,
                               "hmac-sha256.", nullptr),
            LDNS_STATUS_OK);
  uint8_t* wire = nullptr;
  size_t size = 0;
  ASSERT_EQ(ldns_pkt2wire(&wire, pkt, &size), LDNS_STATUS_OK);
  std::vector<uint8_t> packet(wire, wire + size);
  free(wire);
  ParsedQuery parsed;
  ASSERT_EQ(ParseQuery(packet, &parsed), ParseResult::kOk);
  ASSERT_TRUE(parsed.has_tsig);
  const uint64_t now = static_cast<uint64_t>(time(nullptr));
  TsigState st = VerifyQueryTsig(packet, parsed, testing::PeerKeyLookup(), now);
  ASSERT_EQ(st.status, TsigStatus::kOk);

  // Our signed response verifies in ldns against the query's MAC.
  std::vector<uint8_t> buf(512);
  ResponseWriter w(buf.data(), buf.size() - TsigReserve(st));
  ASSERT_TRUE(w.Start(parsed, kFlagQR | kFlagAA, kRcodeNoError));
  const size_t n = SignResponse(st, buf.data(), w.size(), buf.size(), now);
  ASSERT_GT(n, 0u);
  ldns_pkt* resp = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&resp, buf.data(), n), LDNS_STATUS_OK);
  ldns_rr* query_tsig = ldns_pkt_tsig(pkt);
  ASSERT_NE(query_tsig, nullptr);
  EXPECT_TRUE(ldns_pkt_tsig_verify(resp, buf.data(), n, "peer-key.",
                                   b64.c_str(), ldns_rr_rdf(query_tsig, 3)));
  const std::string wrong = Base64("another secret, also 32 bytes..");
  EXPECT_FALSE(ldns_pkt_tsig_verify(resp, buf.data(), n, "peer-key.",
                                    wrong.c_str(), ldns_rr_rdf(query_tsig, 3)));
  ldns_pkt_free(resp);
  ldns_pkt_free(pkt);
}

TEST(TsigLdnsTest, OurSignedQueryVerifiesInLdns) {
  Signed s =
      SignedQuery("peer-key.", kSecret, static_cast<uint64_t>(time(nullptr)));
  ldns_pkt* pkt = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&pkt, s.packet.data(), s.packet.size()),
            LDNS_STATUS_OK);
  const std::string b64 = Base64(kSecret);
  EXPECT_TRUE(ldns_pkt_tsig_verify(pkt, s.packet.data(), s.packet.size(),
                                   "peer-key.", b64.c_str(), nullptr));
  ldns_pkt_free(pkt);
}

}  // namespace
}  // namespace lufd::dns
