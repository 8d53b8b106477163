// Zone files: export of a small registry view (TNs, prefixes, ranges as
// wildcards, copies under empty non-terminals), the checks of real zone
// tools on it (kzonecheck, and ldns-verify-zone / kzonecheck --dnssec on the
// signed output; skipped when a tool is not installed), the import parser's
// line-numbered errors, and the export -> import round trip giving the same
// answers.
#include "client/zone_file.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/core/view.h"

// After gmock: ldns's headers define macros that confuse its templates.
#include <ldns/ldns.h>

namespace lufd::client {
namespace {

using lufd::v1::RegistryObject;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kZone[] = "e164.arpa.";

lufd::v1::SedRecord Naptr(uint32_t order, const std::string& regexp,
                          uint32_t ttl = 300) {
  lufd::v1::SedRecord r;
  r.set_ttl(ttl);
  r.set_in_service(true);
  auto* n = r.mutable_naptr();
  n->set_order(order);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp(regexp);
  return r;
}

RegistryObject Identifier(lufd::v1::IdentifierKind kind,
                          const std::string& value,
                          const std::string& end = "") {
  RegistryObject o;
  auto* id = o.mutable_identifier();
  id->set_kind(kind);
  id->set_value(value);
  id->set_range_end(end);
  id->set_registrant_id("iana-en:1");
  id->add_dest_group_ids("dg1");
  return o;
}

// org iana-en:1, dg1, and a public in-service SED group on dg1 without
// records of its own: the identifiers' inline NAPTRs are then visible to
// everyone.
std::vector<RegistryObject> Scaffolding() {
  std::vector<RegistryObject> out;
  RegistryObject org;
  org.mutable_org()->set_id("iana-en:1");
  org.mutable_org()->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
  out.push_back(org);
  RegistryObject dg;
  dg.mutable_dest_group()->set_id("dg1");
  dg.mutable_dest_group()->set_registrant_id("iana-en:1");
  out.push_back(dg);
  RegistryObject sg;
  sg.mutable_sed_group()->set_id("sg1");
  sg.mutable_sed_group()->set_registrant_id("iana-en:1");
  sg.mutable_sed_group()->add_dest_group_ids("dg1");
  sg.mutable_sed_group()->set_in_service(true);
  sg.mutable_sed_group()->set_public_(true);
  out.push_back(sg);
  return out;
}

std::shared_ptr<const RegistryView> MakeView(
    const std::vector<RegistryObject>& objects) {
  RegistryView::Builder b;
  for (const auto& o : objects) b.Add(KindOf(o), KeyOf(o), o);
  return std::move(b).Build(42);
}

std::vector<RegistryObject> SampleRegistry() {
  auto objs = Scaffolding();
  auto tn = Identifier(lufd::v1::IDENTIFIER_KIND_TN, "+12025556666");
  *tn.mutable_identifier()->add_records() =
      Naptr(100, R"(!^(.*)$!sip:\1@ssp2.example!)");
  *tn.mutable_identifier()->add_records() =
      Naptr(200, "!^.*$!sip:\"quoted\"@x.example!", 60);
  objs.push_back(tn);
  auto prefix = Identifier(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777");
  *prefix.mutable_identifier()->add_records() =
      Naptr(100, "!^.*$!sip:prefix@x.example!");
  objs.push_back(prefix);
  // A TN under the prefix: 7.7.7.2.0.2.1 and below become names, so the
  // prefix's wildcard needs copies at the empty non-terminals in between.
  auto under = Identifier(lufd::v1::IDENTIFIER_KIND_TN, "+12027770001");
  *under.mutable_identifier()->add_records() =
      Naptr(100, "!^.*$!sip:under@x.example!");
  objs.push_back(under);
  // One decimal block, and a ragged range.
  auto block = Identifier(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
                          "+12026669999");
  *block.mutable_identifier()->add_records() =
      Naptr(100, "!^.*$!sip:block@x.example!");
  objs.push_back(block);
  auto ragged =
      Identifier(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+4930123", "+4930456");
  *ragged.mutable_identifier()->add_records() =
      Naptr(100, "!^.*$!sip:ragged@x.example!");
  objs.push_back(ragged);
  return objs;
}

std::string TempDir() {
  char tmpl[] = "/tmp/zone-file-test-XXXXXX";
  char* d = mkdtemp(tmpl);
  return d ? std::string(d) : std::string();
}

bool Have(const char* tool) {
  return std::system(
             absl::StrCat("command -v ", tool, " >/dev/null 2>&1").c_str()) ==
         0;
}

int RunTool(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// One TTL per RRset in DNS (RFC 2181 section 5.2): the export writes the
// smallest, so compare answers with that applied.
std::vector<std::string> AnswerTexts(const Resolution& r) {
  uint32_t ttl = UINT32_MAX;
  for (const auto& a : r.records) ttl = std::min(ttl, a.ttl());
  std::vector<std::string> out;
  for (auto a : r.records) {
    a.set_ttl(ttl);
    out.push_back(a.ShortDebugString());
  }
  return out;
}

TEST(ZoneFileTest, ExportWritesApexNumbersAndWildcards) {
  auto view = MakeView(SampleRegistry());
  ZoneExportOptions opts;
  opts.serial = 42;
  auto r = BuildZoneText(*view, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string& t = r->text;
  EXPECT_THAT(t, HasSubstr("e164.arpa. 3600 IN SOA ns1.e164.arpa. "
                           "hostmaster.e164.arpa. 42 3600 600 1209600 300\n"));
  EXPECT_THAT(t, HasSubstr("e164.arpa. 3600 IN NS ns1.e164.arpa.\n"));
  // One TTL per RRset (the smallest); backslashes and quotes escaped.
  EXPECT_THAT(t, HasSubstr("6.6.6.6.5.5.5.2.0.2.1.e164.arpa. 60 IN NAPTR 100 "
                           "10 \"u\" \"E2U+sip\" "
                           "\"!^(.*)$!sip:\\\\1@ssp2.example!\" .\n"));
  EXPECT_THAT(t, HasSubstr("\"!^.*$!sip:\\\"quoted\\\"@x.example!\""));
  EXPECT_THAT(t, HasSubstr("*.7.7.7.2.0.2.1.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("*.6.6.6.2.0.2.1.e164.arpa. 300 IN NAPTR"));
  // Copies of the prefix wildcard at 0.7.7.7..., 0.0.7.7.7... and
  // 0.0.0.7.7.7... (the empty non-terminals above +12027770001).
  EXPECT_THAT(t, HasSubstr("*.0.7.7.7.2.0.2.1.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("*.0.0.0.7.7.7.2.0.2.1.e164.arpa. 300 IN NAPTR"));
  EXPECT_EQ(r->ent_wildcards, 3u);
  // +4930123..+4930456: 123..129 singles, *.13..*.19, *.2, *.3, *.40..*.44,
  // 450..456 singles.
  EXPECT_THAT(t, HasSubstr("3.2.1.0.3.9.4.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("*.3.1.0.3.9.4.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("*.2.0.3.9.4.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("*.4.4.0.3.9.4.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, HasSubstr("6.5.4.0.3.9.4.e164.arpa. 300 IN NAPTR"));
  EXPECT_THAT(t, Not(HasSubstr("7.5.4.0.3.9.4.e164.arpa.")));
  EXPECT_THAT(t, Not(HasSubstr("2.2.1.0.3.9.4.e164.arpa.")));
  EXPECT_EQ(r->numbers, 2u + 7u + 7u);
  // ns1.e164.arpa. is in the zone and has no address.
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_THAT(r->warnings[0], HasSubstr("--ns-address"));
}

lufd::v1::RegistryObject HoldingOf(lufd::v1::IdentifierKind kind,
                                   const std::string& value,
                                   const std::string& registrant,
                                   const std::string& end = "",
                                   bool ported = false) {
  RegistryObject o;
  auto* h = o.mutable_holding();
  h->set_kind(kind);
  h->set_value(value);
  h->set_range_end(end);
  h->set_registrant_id(registrant);
  h->set_ported(ported);
  return o;
}

// Issue 8 holdings: after a port, lufd answers a number only from its new
// holder's identifiers. The export must not publish the old holder's
// prefix or range as a wildcard over numbers lufd no longer answers from
// it (it did: the wildcard kept routing the ported prefix to the old
// holder in every zone served from the export).
TEST(ZoneFileTest, ExportSkipsIdentifiersOfAFormerHolder) {
  auto objs = SampleRegistry();
  RegistryObject org2;
  org2.mutable_org()->set_id("iana-en:2");
  org2.mutable_org()->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
  objs.push_back(org2);
  // iana-en:1 holds the range; the prefix +1202777 was ported to
  // iana-en:2, which has not provisioned it yet; a TN was ported out of
  // the range.
  objs.push_back(HoldingOf(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
                           "iana-en:1", "+12026669999"));
  objs.push_back(HoldingOf(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777",
                           "iana-en:2", "", /*ported=*/true));
  objs.push_back(HoldingOf(lufd::v1::IDENTIFIER_KIND_TN, "+12026661234",
                           "iana-en:2", "", /*ported=*/true));
  auto view = MakeView(objs);
  ASSERT_FALSE(view->ResolveNumber("+12027770002", Identity{}).found);
  ASSERT_FALSE(view->ResolveNumber("+12026661234", Identity{}).found);
  ASSERT_TRUE(view->ResolveNumber("+12026661235", Identity{}).found);
  auto r = BuildZoneText(*view, ZoneExportOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->text, Not(HasSubstr("sip:prefix@x.example")));
  EXPECT_THAT(r->text, Not(HasSubstr("sip:under@x.example")));
  EXPECT_THAT(r->text, HasSubstr("*.6.6.6.2.0.2.1.e164.arpa."));
  // A DNS wildcard cannot leave out the ported TN: the export says so.
  bool warned = false;
  for (const auto& w : r->warnings) {
    warned |= absl::StrContains(w, "tn:+12026661234");
  }
  EXPECT_TRUE(warned) << absl::StrJoin(r->warnings, "\n");
}

TEST(ZoneFileTest, AnonymousSeesOnlyPublicGroups) {
  auto objs = SampleRegistry();
  for (auto& o : objs) {
    if (o.has_sed_group()) o.mutable_sed_group()->set_public_(false);
  }
  auto view = MakeView(objs);
  auto r = BuildZoneText(*view, ZoneExportOptions());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->text, Not(HasSubstr("NAPTR")));
  ZoneExportOptions admin;
  admin.viewer = Identity{"", "t", lufd::v1::ROLE_ADMIN};
  r = BuildZoneText(*view, admin);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->text, HasSubstr("NAPTR"));
}

TEST(ZoneFileTest, KzonecheckAcceptsExport) {
  if (!Have("kzonecheck")) GTEST_SKIP() << "kzonecheck not installed";
  ZoneExportOptions opts;
  opts.ns = {"ns1.e164.arpa.", "ns.example.net."};
  opts.ns_addresses = {"192.0.2.53", "2001:db8::53"};
  auto r = BuildZoneText(*MakeView(SampleRegistry()), opts);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->text, HasSubstr("ns1.e164.arpa. 3600 IN A 192.0.2.53\n"));
  EXPECT_THAT(r->text, HasSubstr("ns1.e164.arpa. 3600 IN AAAA 2001:db8::53\n"));
  EXPECT_THAT(r->text, Not(HasSubstr("ns.example.net. 3600 IN A")));
  std::string dir = TempDir();
  std::ofstream(dir + "/z") << r->text;
  EXPECT_EQ(RunTool(absl::StrCat("kzonecheck -o e164.arpa. ", dir, "/z")), 0)
      << r->text;
  std::filesystem::remove_all(dir);
}

// Resolution of a few numbers in the original registry and in one rebuilt
// from the exported zone file alone.
TEST(ZoneFileTest, RoundTripGivesTheSameAnswers) {
  auto original = MakeView(SampleRegistry());
  ZoneExportOptions opts;
  opts.ns_addresses = {"192.0.2.53"};
  auto r = BuildZoneText(*original, opts);
  ASSERT_TRUE(r.ok());
  ZoneImportOptions io;
  io.registrant = "iana-en:1";
  io.dest_groups = {"dg1"};
  ZoneImport parsed = ParseZoneImport(r->text, io);
  ASSERT_TRUE(parsed.ok()) << parsed.errors()[0].line << ": "
                           << parsed.errors()[0].message;
  EXPECT_EQ(parsed.ignored(), 3u);  // SOA, NS, glue A.
  auto objs = Scaffolding();
  for (const auto& e : parsed.entries()) {
    RegistryObject o;
    *o.mutable_identifier() = e.identifier;
    objs.push_back(o);
  }
  auto rebuilt = MakeView(objs);
  const Identity anon;
  for (const char* n :
       {"+12025556666", "+12027771234", "+12027770001", "+12027770002",
        "+12026661234", "+4930123", "+4930200", "+4930399", "+4930448",
        "+4930456", "+4930457", "+4930122", "+12025550000"}) {
    EXPECT_EQ(AnswerTexts(original->ResolveNumber(n, anon)),
              AnswerTexts(rebuilt->ResolveNumber(n, anon)))
        << n;
  }
  EXPECT_FALSE(rebuilt->ResolveNumber("+4930300", anon).records.empty());
}

TEST(ZoneFileTest, ImportReportsEveryBadLine) {
  const std::string text =
      "$ORIGIN e164.arpa.\n"
      "$TTL 300\n"
      "@ IN SOA ns1 hostmaster 1 3600 600 1209600 300\n"
      "6.6.6.6.5.5.5.2.0.2.1 IN NAPTR 100 10 \"u\" \"E2U+sip\" "
      "\"!^.*$!sip:a@b!\" .\n"
      "www IN A 192.0.2.1\n"
      "; a comment\n"
      "7.6.6.6.5.5.5.2.0.2.1 IN TXT \"x\"\n"
      "x.1 IN NAPTR 1 1 \"u\" \"E2U+sip\" \"!^.*$!a!\" .\n"
      "8.6.6.6.5.5.5.2.0.2.1 IN NAPTR broken\n"
      "example.com. IN NAPTR 1 1 \"u\" \"E2U+sip\" \"!^.*$!a!\" .\n"
      "6.6.6.6.5.5.5.2.0.2.1 IN NAPTR 200 10 \"u\" \"E2U+sip\" "
      "\"!^.*$!sip:b@b!\" .\n";
  ZoneImportOptions io;
  io.registrant = "o";
  ZoneImport z = ParseZoneImport(text, io);
  ASSERT_EQ(z.errors().size(), 5u);
  EXPECT_EQ(z.errors()[0].line, 5u);
  EXPECT_THAT(z.errors()[0].message, HasSubstr("type A"));
  EXPECT_EQ(z.errors()[1].line, 7u);
  EXPECT_THAT(z.errors()[1].message, HasSubstr("type TXT"));
  EXPECT_EQ(z.errors()[2].line, 8u);
  EXPECT_EQ(z.errors()[3].line, 9u);
  EXPECT_EQ(z.errors()[4].line, 10u);
  EXPECT_THAT(z.errors()[4].message, HasSubstr("not a number under"));
  // The good owner's two NAPTRs are one TN.
  ASSERT_EQ(z.entries().size(), 1u);
  EXPECT_EQ(z.entries()[0].identifier.value(), "+12025556666");
  EXPECT_EQ(z.entries()[0].identifier.records_size(), 2);
  EXPECT_EQ(z.entries()[0].identifier.records(0).ttl(), 300u);

  EXPECT_THAT(ParseZoneImport("$INCLUDE /etc/passwd\n", io).errors()[0].message,
              HasSubstr("$INCLUDE"));
  EXPECT_TRUE(ParseZoneImport("", io).ok());
  EXPECT_TRUE(ParseZoneImport("; only a comment", io).ok());
}

// Found by zone_import_fuzz: ldns keeps "TYPE927360" as a type number that
// does not fit 16 bits (and no ldns_rr_type value); a CERT with algorithm 0
// leaks inside ldns (suppressed in tools/lsan.supp) but must still be an
// error on its line.
TEST(ZoneFileTest, ImportRejectsOutOfRangeTypesAndBadCertLines) {
  ZoneImportOptions io;
  io.registrant = "o";
  ZoneImport z = ParseZoneImport(
      "$ORIGIN e164.arpa.\n"
      "1 300 IN TYPE927360 \\# 0\n"
      "2 300 IN CERT 0 0 0 AA==\n"
      "6.6.6.6.5.5.5.2.0.2.1 300 IN NAPTR 100 10 \"u\" \"E2U+sip\" "
      "\"!^.*$!sip:a@b!\" .\n",
      io);
  ASSERT_EQ(z.errors().size(), 2u);
  EXPECT_EQ(z.errors()[0].line, 2u);
  EXPECT_EQ(z.errors()[1].line, 3u);
  EXPECT_EQ(z.entries().size(), 1u);
}

// ------------------------------------------------------------------ signing

struct TestKey {
  lufd::v1::DnsKey info;
};

// A key pair as lufd would keep it: PKCS#8 PEM in key_dir, the DNSKEY public
// key and tag in the registry object.
TestKey MakeKey(const std::string& dir, const std::string& file, int alg,
                uint32_t flags, lufd::v1::DnsKeyState state) {
  EVP_PKEY* pkey = alg == 13
                       ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(pkey, nullptr);
  FILE* f = fopen((dir + "/" + file).c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  ldns_key* k = ldns_key_new();
  ldns_key_set_algorithm(
      k, alg == 13 ? LDNS_SIGN_ECDSAP256SHA256 : LDNS_SIGN_ED25519);
  ldns_key_set_evp_key(k, pkey);
  ldns_key_set_flags(k, static_cast<uint16_t>(flags));
  ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(kZone));
  ldns_rr* rr = ldns_key2rr(k);
  TestKey out;
  out.info.set_zone(kZone);
  out.info.set_algorithm(static_cast<uint32_t>(alg));
  out.info.set_flags(flags);
  out.info.set_role(flags == 257 ? lufd::v1::DNS_KEY_ROLE_CSK
                                 : lufd::v1::DNS_KEY_ROLE_ZSK);
  out.info.set_state(state);
  out.info.set_private_file(file);
  ldns_rdf* pub = ldns_rr_rdf(rr, 3);
  out.info.set_public_key(std::string(
      reinterpret_cast<const char*>(ldns_rdf_data(pub)), ldns_rdf_size(pub)));
  out.info.set_key_tag(ldns_calc_keytag(rr));
  ldns_rr_free(rr);
  ldns_key_deep_free(k);
  return out;
}

class ZoneSignTest : public ::testing::TestWithParam<int> {};

TEST_P(ZoneSignTest, SignedExportVerifies) {
  const int alg = GetParam();
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::vector<lufd::v1::DnsKey> keys = {
      MakeKey(dir, "ksk.pem", alg, 257, lufd::v1::DNS_KEY_STATE_ACTIVE).info,
      MakeKey(dir, "zsk.pem", alg, 256, lufd::v1::DNS_KEY_STATE_ACTIVE).info,
      MakeKey(dir, "next.pem", alg, 256, lufd::v1::DNS_KEY_STATE_PUBLISHED)
          .info};
  ZoneExportOptions opts;
  opts.ns = {"ns.example.net."};
  auto r = BuildZoneText(*MakeView(SampleRegistry()), opts);
  ASSERT_TRUE(r.ok());
  ZoneSignOptions so;
  so.key_dir = dir;
  auto signed_text = SignZoneText(r->text, kZone, keys, so);
  ASSERT_TRUE(signed_text.ok()) << signed_text.status();
  EXPECT_THAT(*signed_text, HasSubstr("RRSIG"));
  EXPECT_THAT(*signed_text, HasSubstr("NSEC"));
  int dnskeys = 0;
  for (absl::string_view line : absl::StrSplit(*signed_text, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() > 3 && f[3] == "DNSKEY") ++dnskeys;
  }
  EXPECT_EQ(dnskeys, 3);
  const std::string file = dir + "/signed";
  std::ofstream(file) << *signed_text;
  if (Have("ldns-verify-zone")) {
    EXPECT_EQ(RunTool(absl::StrCat("ldns-verify-zone ", file, " >/dev/null")),
              0);
  }
  if (Have("kzonecheck")) {
    EXPECT_EQ(
        RunTool(absl::StrCat("kzonecheck --dnssec on -o e164.arpa. ", file)),
        0);
  }

  // A private file that is not the registry's key is refused.
  auto wrong = keys;
  wrong[1].set_private_file("ksk.pem");
  EXPECT_FALSE(SignZoneText(r->text, kZone, wrong, so).ok());
  // No active key: nothing to sign with.
  auto none = keys;
  for (auto& k : none) k.set_state(lufd::v1::DNS_KEY_STATE_PUBLISHED);
  EXPECT_EQ(SignZoneText(r->text, kZone, none, so).status().code(),
            absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ZoneSignTest, ::testing::Values(13, 15));

}  // namespace
}  // namespace lufd::client
