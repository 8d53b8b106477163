// Tests for server/core/validate.h: RFC 6116 / RFC 3402 / RFC 4769 NAPTR
// vectors, other SED records and every registry object kind.
#include "server/core/validate.h"

#include <regex.h>

#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/unsafe_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"

namespace lufd {
namespace {

using lufd::v1::NaptrRecord;
using lufd::v1::RegistryObject;
using lufd::v1::SedRecord;
using ::testing::HasSubstr;

NaptrRecord Naptr(const std::string& flags, const std::string& services,
                  const std::string& regexp,
                  const std::string& replacement = "", uint32_t order = 10,
                  uint32_t pref = 100) {
  NaptrRecord n;
  n.set_order(order);
  n.set_preference(pref);
  n.set_flags(flags);
  n.set_services(services);
  n.set_regexp(regexp);
  n.set_replacement(replacement);
  return n;
}

absl::Status Terminal(const std::string& regexp,
                      const std::string& services = "E2U+sip") {
  return ValidateNaptr(Naptr("u", services, regexp));
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(ValidateNaptrTest, Rfc6116Examples) {
  // RFC 6116 §4 (and RFC 3761 §4.1) example zone.
  EXPECT_TRUE(Terminal("!^.*$!sip:info@example.com!").ok());
  EXPECT_TRUE(
      Terminal("!^.*$!mailto:info@example.com!", "E2U+email:mailto").ok());
  EXPECT_TRUE(Terminal("!^.*$!mailto:info@example.com!", "E2U+msg").ok());
  EXPECT_TRUE(Terminal("!^.*$!h323:info@example.com!", "E2U+h323").ok());
  EXPECT_TRUE(ValidateNaptr(Naptr("u", "E2U+sip", "!^.*$!sip:info@example.com!",
                                  ".", 10, 100))
                  .ok());
}

TEST(ValidateNaptrTest, Rfc4769Examples) {
  // RFC 4769 §4 style: PSTN enumservice with number portability data.
  EXPECT_TRUE(Terminal("!^(.*)$!tel:\\1;npdi!", "E2U+pstn:tel").ok());
  EXPECT_TRUE(
      Terminal("!^(.*)$!sip:\\1;npdi@example.com;user=phone!", "E2U+pstn:sip")
          .ok());
  EXPECT_TRUE(Terminal("!^.*$!tel:+1-215-555-1234;npdi;rn=+1-215-555-0000!",
                       "E2U+pstn:tel")
                  .ok());
  EXPECT_TRUE(Terminal("!(^.*$)!sip:\\1@example.com!").ok());
  EXPECT_TRUE(Terminal("!^\\+1(.*)$!sip:\\1@example.com!").ok());
  EXPECT_TRUE(
      Terminal("!^\\+1([0-9]{3})([0-9]{7})$!sip:\\1\\2@gw.example!").ok());
}

TEST(ValidateNaptrTest, ServicesSyntax) {
  EXPECT_TRUE(Terminal("!^.*$!tel:+12025556666!", "E2U+voice:tel").ok());
  EXPECT_TRUE(Terminal("!^.*$!sip:a@b!", "e2u+sip").ok());
  EXPECT_TRUE(Terminal("!^.*$!sip:a@b!", "E2U+sip+voice:tel").ok());
  EXPECT_TRUE(Terminal("!^.*$!sip:a@b!", "E2U+voice:tel:x-1").ok());
  for (const char* bad :
       {"", "E2U", "E2U+", "sip", "E2U+sip+", "E2U++sip",
        "E2U+voice:", "E2U+:tel", "E2U+s ip", "E2U+sip_x", "SIP+D2U",
        "E2U+abcdefghijklmnopqrstuvwxyz0123456789"}) {
    absl::Status s = Terminal("!^.*$!sip:a@b!", bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_THAT(Msg(s), HasSubstr("naptr.services")) << bad;
  }
  EXPECT_FALSE(Terminal("!^.*$!sip:a@b!", "E2U+" + std::string(260, 'a')).ok());
}

TEST(ValidateNaptrTest, Delimiters) {
  EXPECT_TRUE(Terminal("/^.*$/sip:info@example.com/").ok());
  EXPECT_TRUE(Terminal("#^.*$#sip:info@example.com#").ok());
  // Escaped delimiters inside ERE and replacement do not count.
  EXPECT_TRUE(Terminal("!^\\!?.*$!sip:a\\!b@example.com!").ok());
  EXPECT_TRUE(
      Terminal("/^.*$/http:\\/\\/example.com\\/x/", "E2U+web:http").ok());

  absl::Status s = Terminal("!^.*$!sip:info@example.com");
  EXPECT_THAT(Msg(s), HasSubstr("naptr.regexp: expected exactly 3 delimiters"));
  s = Terminal("!^.*$!sip:info@example.com!!");
  EXPECT_THAT(Msg(s), HasSubstr("expected exactly 3 delimiters"));
  s = Terminal("!^.*$!sip:a!b@example.com!");
  EXPECT_THAT(Msg(s), HasSubstr("expected exactly 3 delimiters"));
  EXPECT_FALSE(Terminal("!").ok());
  EXPECT_FALSE(Terminal("!!").ok());
  // Forbidden delimiters: digits, 'i', backslash.
  EXPECT_FALSE(Terminal("1^.*$1sip:a@b1").ok());
  EXPECT_FALSE(Terminal("0^.*$0sip:a@b0").ok());
  EXPECT_FALSE(Terminal("i^.*$isip:a@bi").ok());
  EXPECT_FALSE(Terminal("\\^.*$\\sip:a@b\\").ok());
  EXPECT_FALSE(Terminal("!^.*$!sip:a@b\\").ok());  // Unfinished escape.
}

TEST(ValidateNaptrTest, CaseInsensitiveFlagRefused) {
  absl::Status s = Terminal("!^.*$!sip:info@example.com!i");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Msg(s), HasSubstr("'i' flag"));
  EXPECT_FALSE(Terminal("!^.*$!sip:info@example.com!x").ok());
}

TEST(ValidateNaptrTest, EreMustCompile) {
  absl::Status s = Terminal("!^(.*$!sip:a@b!");
  EXPECT_THAT(Msg(s), HasSubstr("ERE does not compile"));
  EXPECT_FALSE(Terminal("!^[0-9$!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a{2,1}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!!sip:a@b!").ok());  // Empty ERE.
  EXPECT_FALSE(Terminal("!^.*$!!").ok());     // Empty replacement.
  EXPECT_TRUE(Terminal("!^[[:digit:]+]*$!sip:a@b!").ok());
  // A delimiter inside a bracket expression still ends the ERE (RFC 3402
  // has no bracket exception), so this ERE is "^[]": must not crash.
  EXPECT_FALSE(Terminal("!^[]!]*$!sip:a@b!").ok());
}

TEST(ValidateNaptrTest, UnescapedPlusRefused) {
  absl::Status s = Terminal("!^+1(.*)$!sip:\\1@example.com!");
  EXPECT_THAT(Msg(s), HasSubstr("\\+"));
  EXPECT_FALSE(Terminal("!+1!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!(+1)!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!^1|+2!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!^[+]1.*$!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!^\\+?1[0-9]+$!sip:a@b!").ok());
}

TEST(ValidateNaptrTest, IntervalBlowUpRefused) {
  EXPECT_FALSE(Terminal("!((a{255}){255}){255}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a{1000}!sip:a@b!").ok());
  // Found by naptr_fuzz: a run of '+' made glibc's regcomp exhaust memory.
  EXPECT_THAT(Msg(Terminal("!x" + std::string(60, '+') + "!sip:a@b!")),
              HasSubstr("stacked repetition"));
  EXPECT_FALSE(Terminal("!a+*!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a{2}{3}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a*?!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!(a+)+!sip:a@b!").ok());
  // Found by naptr_fuzz: 70 empty branches under {255} took regcomp 2 GB,
  // 60 under {21,} minutes. Empty branches are undefined in POSIX EREs.
  EXPECT_THAT(Msg(Terminal("!(," + std::string(70, '|') + "){255}!sip:a@b!")),
              HasSubstr("empty alternative"));
  EXPECT_FALSE(Terminal("!(a|)!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!(|a)!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a|!sip:a@b!").ok());
  // Every branch counts toward the expansion cap.
  EXPECT_THAT(Msg(Terminal("!(a|b|c|d|e|f|g|h|i|j|k){255}!sip:a@b!")),
              HasSubstr("too large"));
  EXPECT_TRUE(Terminal("!^\\+1(202|301|415)[0-9]{7}$!sip:a@b!").ok());
  // Found by naptr_fuzz: glibc reads "{,n}" as "{0,n}" and expands it.
  EXPECT_FALSE(Terminal("!a{,25025}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a{,00025025}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!a{99999999999999999999}!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!(a{,100}){,100}!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!^\\+1[0-9]{,3}$!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!^\\+1[0-9]{3}[0-9]{3}[0-9]{4}$!sip:a@b!").ok());
  // Sequential intervals add up; only nesting multiplies.
  EXPECT_TRUE(Terminal("!^\\+[0-9]{15}[0-9]{15}[0-9]{15}$!sip:a@b!").ok());
  EXPECT_TRUE(Terminal("!^\\+(([0-9]{2}){3}){4}$!sip:a@b!").ok());
  EXPECT_FALSE(Terminal("!((((a{9}){9}){9}){9})!sip:a@b!").ok());
}

TEST(ValidateNaptrTest, BackReferences) {
  EXPECT_TRUE(Terminal("!^(.)(.)(.)(.)(.)(.)(.)(.)(.)$!sip:\\9@x!").ok());
  absl::Status s = Terminal("!^.*$!sip:\\1@example.com!");
  EXPECT_THAT(Msg(s), HasSubstr("back-reference \\1"));
  EXPECT_FALSE(Terminal("!^(.*)$!sip:\\2@example.com!").ok());
  EXPECT_FALSE(Terminal("!^(.*)$!sip:\\0@example.com!").ok());
  EXPECT_TRUE(Terminal("!^(.*)$!sip:\\\\@example.com!").ok());
}

// ERE verdicts are cached per thread (CompileEre in validate.cc). Over many
// generated EREs, valid and not, the verdict of a repeat (cached) must equal
// the first (compiled) one, and both must agree with regcomp called here
// directly: compile failure, and the group count as seen through which
// back-references are accepted.
TEST(ValidateNaptrTest, CachedEreVerdictsMatchRegcomp) {
  const std::vector<std::string> tokens = {
      "^",  "$",     ".",     "*",           "(",
      ")",  "[0-9]", "\\+",   "+",           "?",
      "|",  "{2}",   "{1,3}", "a",           "1",
      "[",  "]",     "\\",    "(.*)",        "^\\+?[0-9]*(.*)$",
      "{",  "[^]",   "\\(",   "[[:digit:]]", "[[:bogus:]]",
      "\\1"};
  std::vector<std::string> eres = {"^.*$",   "^(.*)$",     "^\\+?[0-9]*(.*)$",
                                   "(^.*$)", "^\\+1(.*)$", "^(.*$"};
  std::mt19937 rng(6116);
  for (int i = 0; i < 3000; ++i) {
    std::string ere;
    const int n = 1 + static_cast<int>(rng() % 7);
    for (int t = 0; t < n; ++t) ere += tokens[rng() % tokens.size()];
    eres.push_back(ere);
  }
  int compiled_ok = 0;
  for (const std::string& ere : eres) {
    SCOPED_TRACE(ere);
    regex_t direct;
    const int rc = regcomp(&direct, ere.c_str(), REG_EXTENDED);
    size_t groups = 0;
    if (rc == 0) {
      groups = direct.re_nsub;
      regfree(&direct);
      ++compiled_ok;
    }
    for (int backref = 0; backref <= 3; ++backref) {
      // '/' delimiter: never inside the generated EREs.
      const std::string regexp =
          "/" + ere +
          "/sip:" + (backref > 0 ? "\\" + std::to_string(backref) : "x") +
          "@a.example/";
      const absl::Status first = Terminal(regexp);
      const absl::Status again = Terminal(regexp);
      EXPECT_EQ(first, again);
      if (rc != 0) {
        EXPECT_FALSE(first.ok());
        continue;
      }
      EXPECT_THAT(Msg(first), ::testing::Not(HasSubstr("does not compile")));
      if (absl::StrContains(Msg(first), "back-reference") || first.ok()) {
        EXPECT_EQ(first.ok(), static_cast<size_t>(backref) <= groups);
      }
    }
  }
  EXPECT_GT(compiled_ok, 300);  // Both verdicts well represented.
  EXPECT_LT(compiled_ok, static_cast<int>(eres.size()) - 300);
}

TEST(ValidateNaptrTest, TerminalNeedsUri) {
  EXPECT_FALSE(Terminal("!^.*$!info@example.com!").ok());
  EXPECT_TRUE(Terminal("!^(.*)$!\\1!").ok());  // Cannot know; accepted.
  // 'U' with a replacement instead of a regexp.
  EXPECT_FALSE(
      ValidateNaptr(Naptr("u", "E2U+sip", "", "sip.example.com.")).ok());
}

TEST(ValidateNaptrTest, RegexpXorReplacement) {
  absl::Status s = ValidateNaptr(Naptr("u", "E2U+sip", "", ""));
  EXPECT_THAT(Msg(s), HasSubstr("exactly one of regexp and replacement"));
  s = ValidateNaptr(Naptr("u", "E2U+sip", "", "."));
  EXPECT_FALSE(s.ok());  // "." counts as empty.
  s = ValidateNaptr(
      Naptr("u", "E2U+sip", "!^.*$!sip:a@b!", "next.example.com."));
  EXPECT_THAT(Msg(s), HasSubstr("exactly one of regexp and replacement"));
}

TEST(ValidateNaptrTest, NonTerminal) {
  // RFC 6116 non-terminal rule: no flags, no regexp, a domain to query next.
  EXPECT_TRUE(ValidateNaptr(Naptr("", "", "", "4.4.e164.example.net.")).ok());
  EXPECT_TRUE(
      ValidateNaptr(Naptr("", "E2U+sip", "", "_sip._udp.example.com.")).ok());
  absl::Status s = ValidateNaptr(Naptr("", "", "", "example.com"));
  EXPECT_THAT(Msg(s), HasSubstr("naptr.replacement"));
  EXPECT_FALSE(ValidateNaptr(Naptr("", "", "", "exa mple.com.")).ok());
  EXPECT_FALSE(ValidateNaptr(Naptr("", "", "", "a..b.")).ok());
  EXPECT_FALSE(
      ValidateNaptr(Naptr("", "", "", std::string(64, 'a') + ".com.")).ok());
  EXPECT_FALSE(ValidateNaptr(Naptr("", "bogus", "", "example.com.")).ok());
}

TEST(ValidateNaptrTest, FlagsAndNumbers) {
  EXPECT_TRUE(ValidateNaptr(Naptr("U", "E2U+sip", "!^.*$!sip:a@b!")).ok());
  EXPECT_TRUE(ValidateNaptr(Naptr("UP", "E2U+sip", "!^.*$!sip:a@b!")).ok());
  EXPECT_FALSE(ValidateNaptr(Naptr("US", "E2U+sip", "!^.*$!sip:a@b!")).ok());
  EXPECT_FALSE(ValidateNaptr(Naptr("uu", "E2U+sip", "!^.*$!sip:a@b!")).ok());
  EXPECT_FALSE(ValidateNaptr(Naptr("u!", "E2U+sip", "!^.*$!sip:a@b!")).ok());
  absl::Status s =
      ValidateNaptr(Naptr("u", "E2U+sip", "!^.*$!sip:a@b!", "", 65536));
  EXPECT_THAT(Msg(s), HasSubstr("naptr.order"));
  s = ValidateNaptr(Naptr("u", "E2U+sip", "!^.*$!sip:a@b!", "", 1, 70000));
  EXPECT_THAT(Msg(s), HasSubstr("naptr.preference"));
  EXPECT_TRUE(
      ValidateNaptr(Naptr("u", "E2U+sip", "!^.*$!sip:a@b!", "", 65535, 65535))
          .ok());
}

TEST(ValidateNaptrTest, Lengths) {
  std::string long_uri = "!^.*$!sip:" + std::string(250, 'a') + "@b!";
  EXPECT_GT(long_uri.size(), 255u);
  EXPECT_FALSE(Terminal(long_uri).ok());
  std::string ok_uri = "!^.*$!sip:" + std::string(230, 'a') + "@b!";
  EXPECT_LE(ok_uri.size(), 255u);
  EXPECT_TRUE(Terminal(ok_uri).ok());
  EXPECT_FALSE(Terminal("!^.*$!sip:a\n@b!").ok());
}

TEST(ValidateSedRecordTest, UriNsTtl) {
  SedRecord r;
  EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("rdata"));
  r.mutable_uri()->set_target("sip:alice@example.com");
  r.mutable_uri()->set_priority(10);
  r.mutable_uri()->set_weight(1);
  r.set_ttl(3600);
  EXPECT_TRUE(ValidateSedRecord(r).ok());
  r.set_ttl(2147483647u);
  EXPECT_TRUE(ValidateSedRecord(r).ok());
  r.set_ttl(2147483648u);
  EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("ttl"));
  r.set_ttl(60);
  r.mutable_uri()->set_weight(65536);
  EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("uri.weight"));
  r.mutable_uri()->set_weight(0);
  r.mutable_uri()->set_priority(65536);
  EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("uri.priority"));
  r.mutable_uri()->set_priority(0);
  r.mutable_uri()->set_target("sip:" + std::string(2045, 'a'));
  EXPECT_FALSE(ValidateSedRecord(r).ok());
  r.mutable_uri()->set_target("sip:" + std::string(2044, 'a'));
  EXPECT_TRUE(ValidateSedRecord(r).ok());
  for (const char* bad : {"", "no-scheme", "sip:a b", ":x", "1ab:x"}) {
    r.mutable_uri()->set_target(bad);
    EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("uri.target")) << bad;
  }

  r.mutable_ns()->set_host("ns1.example.com.");
  EXPECT_TRUE(ValidateSedRecord(r).ok());
  r.mutable_ns()->set_host("ns1.example.com");
  EXPECT_TRUE(ValidateSedRecord(r).ok());
  for (const char* bad : {"", ".", "ns_1.example.com", "-ns.example.com",
                          "ns..example.com", "ns 1.example.com"}) {
    r.mutable_ns()->set_host(bad);
    EXPECT_THAT(Msg(ValidateSedRecord(r)), HasSubstr("ns.host")) << bad;
  }
}

// --- CountNonTerminalChain -------------------------------------------------

NaptrLookupFn FromMap(const std::map<std::string, std::string>& next) {
  return [next](const std::string& domain) {
    std::vector<NaptrRecord> out;
    auto it = next.find(domain);
    if (it != next.end()) out.push_back(Naptr("", "", "", it->second));
    out.push_back(Naptr("u", "E2U+sip", "!^.*$!sip:a@b!"));
    return out;
  };
}

TEST(CountNonTerminalChainTest, CountsHops) {
  EXPECT_EQ(*CountNonTerminalChain("a.", FromMap({})), 0);
  EXPECT_EQ(*CountNonTerminalChain("a.", FromMap({{"a", "b."}, {"b", "c."}})),
            2);
  std::map<std::string, std::string> five = {{"d0", "d1."},
                                             {"d1", "d2."},
                                             {"d2", "d3."},
                                             {"d3", "d4."},
                                             {"d4", "d5."}};
  EXPECT_EQ(*CountNonTerminalChain("D0.", FromMap(five)), 5);
  five["d5"] = "d6.";
  absl::StatusOr<int> r = CountNonTerminalChain("d0.", FromMap(five));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("longer than 5"));
}

TEST(CountNonTerminalChainTest, DetectsLoops) {
  auto r = CountNonTerminalChain("a.", FromMap({{"a", "b."}, {"b", "A."}}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("loop"));
  r = CountNonTerminalChain("a", FromMap({{"a", "a."}}));
  EXPECT_FALSE(r.ok());
}

TEST(CountNonTerminalChainTest, WideFanOutIsBounded) {
  int calls = 0;
  NaptrLookupFn wide = [&calls](const std::string& domain) {
    ++calls;
    std::vector<NaptrRecord> out;
    if (domain.size() < 12) {
      for (int i = 0; i < 10; ++i) {
        out.push_back(Naptr("", "", "", domain + std::to_string(i) + "."));
      }
    }
    return out;
  };
  EXPECT_FALSE(CountNonTerminalChain("x", wide).ok());
  EXPECT_LE(calls, 300);
}

// --- ValidateAndNormalize --------------------------------------------------

RegistryObject Tn(const std::string& value) {
  RegistryObject o;
  auto* id = o.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id->set_value(value);
  id->set_registrant_id("iana-en:1");
  id->add_dest_group_ids("dg1");
  return o;
}

TEST(ValidateAndNormalizeTest, EmptyObject) {
  RegistryObject o;
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  EXPECT_FALSE(ValidateAndNormalize(nullptr).ok());
}

TEST(ValidateAndNormalizeTest, Org) {
  RegistryObject o;
  auto* org = o.mutable_org();
  org->set_id("iana-en:32473");
  org->set_name("Example Carrier");
  org->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
  org->set_registrar_id("iana-en:1");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  for (const char* bad : {"", "32473", ":32473", "iana-en:", "iana en:1",
                          "iana-en:a|b", "ia/na:1"}) {
    org->set_id(bad);
    EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("org.id")) << bad;
  }
  org->set_id("x:" + std::string(126, 'a'));
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  org->set_id("x:" + std::string(127, 'a'));
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  org->set_id("iana-en:32473");
  org->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("org.roles[1]"));
  org->clear_roles();
  org->add_roles(static_cast<lufd::v1::OrgRole>(99));
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  org->clear_roles();
  org->set_registrar_id("nocolon");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("org.registrar_id"));
  org->set_registrar_id("");
  org->set_name("bad\x01name");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("org.name"));
  org->set_name("SSP");
  // A misspelt dry-run rule would leave the rule enforced unnoticed.
  org->mutable_quota()->add_dry_run_rules("scan");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  org->mutable_quota()->add_dry_run_rules("Disclosure");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("org.quota.dry_run_rules[1]"));
}

TEST(ValidateAndNormalizeTest, Credential) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id("peer-a-1");
  c->set_org_id("iana-en:2");
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_san_uri("spiffe://example.org/peer-a");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());

  std::string upper(64, 'A');
  c->set_spki_sha256(upper);
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(c->spki_sha256(), std::string(64, 'a'));
  c->clear_san_uri();
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());

  c->set_spki_sha256(std::string(63, 'a'));
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("spki_sha256"));
  c->set_spki_sha256(std::string(63, 'a') + "g");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("spki_sha256"));
  c->clear_spki_sha256();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("san_uri"));
  c->set_san_uri("not a uri");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("credential.san_uri"));
  c->set_san_uri("spiffe://example.org/x");
  c->set_role(lufd::v1::ROLE_UNSPECIFIED);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("credential.role"));
  c->set_role(lufd::v1::ROLE_ADMIN);
  c->set_org_id("");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("credential.org_id"));
}

TEST(ValidateAndNormalizeTest, CredentialTsig) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id("peer-a-dns");
  c->set_org_id("iana-en:2");
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_tsig_key_name("SSP1-Key");
  c->set_tsig_secret(std::string(32, 'k'));
  // TSIG alone is enough; the name and algorithm are normalized.
  ASSERT_TRUE(ValidateAndNormalize(&o).ok()) << ValidateAndNormalize(&o);
  EXPECT_EQ(c->tsig_key_name(), "ssp1-key.");
  EXPECT_EQ(c->tsig_algorithm(), "hmac-sha256");
  c->set_tsig_algorithm("HMAC-SHA256.");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(c->tsig_algorithm(), "hmac-sha256");
  c->set_tsig_algorithm("hmac-md5");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("credential.tsig_algorithm"));
  c->set_tsig_algorithm("hmac-sha256");
  c->set_tsig_secret(std::string(15, 'k'));
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("credential.tsig_secret"));
  c->set_tsig_secret(std::string(65, 'k'));
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("credential.tsig_secret"));
  c->set_tsig_secret(std::string(16, 'k'));
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  c->set_tsig_secret(std::string(64, 'k'));
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  for (const char* bad : {"a..b.", "bad name.", ".", "x/y."}) {
    c->set_tsig_key_name(bad);
    EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
                HasSubstr("credential.tsig_key_name"))
        << bad;
  }
  // A secret without a name is a mistake, not something to ignore.
  c->clear_tsig_key_name();
  c->set_san_uri("spiffe://example.org/peer-a");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("credential.tsig_key_name"));
  c->clear_san_uri();
  c->clear_tsig_secret();
  c->clear_tsig_algorithm();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("tsig_key_name"));
}

RegistryObject DnsKeyObject() {
  RegistryObject o;
  auto* k = o.mutable_dns_key();
  k->set_zone("E164.Arpa.");
  k->set_role(lufd::v1::DNS_KEY_ROLE_CSK);
  k->set_algorithm(13);
  k->set_key_tag(12345);
  k->set_flags(257);
  k->set_public_key(std::string(64, 'p'));
  k->set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
  k->set_private_file("Ke164.arpa.+013+12345.private");
  return o;
}

TEST(ValidateAndNormalizeTest, DnsKey) {
  RegistryObject o = DnsKeyObject();
  ASSERT_TRUE(ValidateAndNormalize(&o).ok()) << ValidateAndNormalize(&o);
  EXPECT_EQ(o.dns_key().zone(), "e164.arpa.");
  o.mutable_dns_key()->set_zone("e164.arpa");  // Made absolute.
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.dns_key().zone(), "e164.arpa.");

  auto fails = [](void (*edit)(lufd::v1::DnsKey*), const char* field) {
    RegistryObject bad = DnsKeyObject();
    edit(bad.mutable_dns_key());
    EXPECT_THAT(Msg(ValidateAndNormalize(&bad)), HasSubstr(field));
  };
  fails([](lufd::v1::DnsKey* k) { k->set_zone(""); }, "dns_key.zone");
  fails([](lufd::v1::DnsKey* k) { k->set_zone("a..b."); }, "dns_key.zone");
  fails(
      [](lufd::v1::DnsKey* k) {
        k->set_role(lufd::v1::DNS_KEY_ROLE_UNSPECIFIED);
      },
      "dns_key.role");
  fails([](lufd::v1::DnsKey* k) { k->set_algorithm(8); }, "dns_key.algorithm");
  fails([](lufd::v1::DnsKey* k) { k->set_public_key(std::string(32, 'p')); },
        "dns_key.public_key");
  fails([](lufd::v1::DnsKey* k) { k->set_flags(256); }, "dns_key.flags");
  fails([](lufd::v1::DnsKey* k) { k->set_role(lufd::v1::DNS_KEY_ROLE_ZSK); },
        "dns_key.flags");
  fails([](lufd::v1::DnsKey* k) { k->set_key_tag(65536); }, "dns_key.key_tag");
  fails(
      [](lufd::v1::DnsKey* k) {
        k->set_state(static_cast<lufd::v1::DnsKeyState>(42));
      },
      "dns_key.state");
  fails([](lufd::v1::DnsKey* k) { k->set_private_file("../etc/passwd"); },
        "dns_key.private_file");
  fails([](lufd::v1::DnsKey* k) { k->set_private_file("dir/key.private"); },
        "dns_key.private_file");
  fails([](lufd::v1::DnsKey* k) { k->set_private_file(".."); },
        "dns_key.private_file");

  // Ed25519 ZSK: 32-byte key, flags defaulted from the role.
  o = DnsKeyObject();
  auto* k = o.mutable_dns_key();
  k->set_algorithm(15);
  k->set_public_key(std::string(32, 'p'));
  k->set_role(lufd::v1::DNS_KEY_ROLE_ZSK);
  k->set_flags(0);
  ASSERT_TRUE(ValidateAndNormalize(&o).ok()) << ValidateAndNormalize(&o);
  EXPECT_EQ(k->flags(), 256u);
  EXPECT_EQ(KeyOf(o), "e164.arpa./12345");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_DNS_KEY);
}

TEST(ValidateAndNormalizeTest, TnIsNormalized) {
  RegistryObject o = Tn("+1-202-555-6666");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.identifier().value(), "+12025556666");
  o = Tn("tel:+1-202-555-6666");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.identifier().value(), "+12025556666");
  o = Tn("2025556666");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("identifier.value"));
  o = Tn("+12025556666");
  o.mutable_identifier()->set_range_end("+12025556667");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("range_end"));
}

TEST(ValidateAndNormalizeTest, IdentifierNeedsRegistrantAndKind) {
  RegistryObject o = Tn("+12025556666");
  o.mutable_identifier()->clear_registrant_id();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("identifier.registrant_id"));
  o = Tn("+12025556666");
  o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_UNSPECIFIED);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("identifier.kind"));
  o = Tn("+12025556666");
  o.mutable_identifier()->add_dest_group_ids("dg1");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("identifier.dest_group_ids[1]"));
  o = Tn("+12025556666");
  o.mutable_identifier()->add_dest_group_ids("a|b");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
}

TEST(ValidateAndNormalizeTest, RangeAndPrefix) {
  RegistryObject o = Tn("+1-202-666-0000");
  auto* id = o.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
  id->set_range_end("+1 202 666 9999");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(id->value(), "+12026660000");
  EXPECT_EQ(id->range_end(), "+12026669999");
  id->set_range_end("+12026660000");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());  // One-number range.
  id->set_range_end("+1202665999");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("as many digits"));
  id->set_range_end("+12026659999");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("below the range"));
  id->clear_range_end();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("range_end"));

  o = Tn("+1-202-777");
  o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN_PREFIX);
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.identifier().value(), "+1202777");
  o.mutable_identifier()->set_value("1202");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
}

TEST(ValidateAndNormalizeTest, RnAndUri) {
  RegistryObject o = Tn("202-555-0000");
  o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_RN);
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.identifier().value(), "2025550000");
  o.mutable_identifier()->set_value("1234567890123456");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  o.mutable_identifier()->set_value("12a");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  o.mutable_identifier()->set_value("");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());

  o = Tn(" sip:alice@example.com ");
  o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_URI);
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(o.identifier().value(), "sip:alice@example.com");
  o.mutable_identifier()->set_value("sip:al ice@example.com");
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
  o.mutable_identifier()->set_value("sip:" + std::string(2100, 'a'));
  EXPECT_FALSE(ValidateAndNormalize(&o).ok());
}

TEST(ValidateAndNormalizeTest, InlineRecordsAreValidated) {
  RegistryObject o = Tn("+12025556666");
  SedRecord* r = o.mutable_identifier()->add_records();
  *r->mutable_naptr() = Naptr("u", "E2U+sip", "!^.*$!sip:a@example.com!");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  *r->mutable_naptr() = Naptr("u", "E2U+sip", "!^.*$!sip:a@example.com");
  absl::Status s = ValidateAndNormalize(&o);
  EXPECT_THAT(Msg(s), HasSubstr("identifier.records[0].naptr.regexp: "
                                "expected exactly 3 delimiters"));
}

TEST(ValidateAndNormalizeTest, SedRecord) {
  RegistryObject o;
  SedRecord* r = o.mutable_sed_record();
  r->set_id("rec-1");
  r->set_registrant_id("iana-en:1");
  r->set_ttl(300);
  *r->mutable_naptr() = Naptr("", "", "", "next.example.com");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(r->naptr().replacement(), "next.example.com.");  // Absolute.
  r->mutable_ns()->set_host("ns1.example.com");
  ASSERT_TRUE(ValidateAndNormalize(&o).ok());
  EXPECT_EQ(r->ns().host(), "ns1.example.com.");
  r->clear_id();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("sed_record.id"));
  r->set_id("rec-1");
  r->clear_registrant_id();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("sed_record.registrant_id"));
  r->set_registrant_id("iana-en:1");
  r->set_ttl(0x80000000u);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("sed_record.ttl"));
  r->set_ttl(1);
  *r->mutable_naptr() = Naptr("u", "E2U+sip", "!^.*$!sip:x@y!i");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("sed_record.naptr.regexp"));
}

TEST(ValidateAndNormalizeTest, DestAndSedGroups) {
  RegistryObject o;
  o.mutable_dest_group()->set_id("dg1");
  o.mutable_dest_group()->set_registrant_id("iana-en:1");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  o.mutable_dest_group()->clear_registrant_id();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("dest_group.registrant_id"));

  auto* g = o.mutable_sed_group();
  g->set_id("sg1");
  g->set_registrant_id("iana-en:1");
  g->add_dest_group_ids("dg1");
  auto* ref = g->add_records();
  ref->set_record_id("rec-1");
  ref->set_priority(10);
  g->set_priority(1);
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  ref->set_priority(70000);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("sed_group.records[0].priority"));
  ref->set_priority(1);
  g->add_records()->set_record_id("rec-1");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("duplicate record"));
  g->mutable_records()->RemoveLast();
  g->add_records()->set_record_id("");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("sed_group.records[1].record_id"));
  g->mutable_records()->RemoveLast();
  g->set_priority(65536);
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("sed_group.priority"));
  g->set_priority(0);
  g->clear_registrant_id();
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
              HasSubstr("sed_group.registrant_id"));
}

TEST(ValidateAndNormalizeTest, Offer) {
  RegistryObject o;
  o.mutable_offer()->set_sed_group_id("sg1");
  o.mutable_offer()->set_peer_org_id("iana-en:9");
  EXPECT_TRUE(ValidateAndNormalize(&o).ok());
  o.mutable_offer()->set_peer_org_id("peer");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("offer.peer_org_id"));
  o.mutable_offer()->set_peer_org_id("iana-en:9");
  o.mutable_offer()->set_sed_group_id("s|g");
  EXPECT_THAT(Msg(ValidateAndNormalize(&o)), HasSubstr("offer.sed_group_id"));
}

// ---- Display-safe text (issue 8 §4: bidi and invisible characters) ---------

std::string Utf8(int32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// Every free-text or URI field, with a valid object around it: `set` puts
// `text` into the field (the text is embedded in an otherwise valid value).
struct TextField {
  const char* path;
  std::function<RegistryObject(const std::string& text)> make;
};

std::vector<TextField> TextFields() {
  auto org = [](const std::string& t) {
    RegistryObject o;
    o.mutable_org()->set_id("iana-en:1");
    o.mutable_org()->set_name("Carrier " + t + " One");
    return o;
  };
  auto credential = [](const std::string& san, const std::string& desc) {
    RegistryObject o;
    auto* c = o.mutable_credential();
    c->set_id("cred-1");
    c->set_org_id("iana-en:1");
    c->set_role(lufd::v1::ROLE_PEER);
    c->set_san_uri("spiffe://example.org/" + san + "peer");
    c->set_description("desc " + desc + " here");
    return o;
  };
  auto uri_identifier = [](const std::string& t) {
    RegistryObject o = Tn("sip:al" + t + "ice@example.com");
    o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_URI);
    return o;
  };
  auto uri_record = [](const std::string& t) {
    RegistryObject o;
    auto* r = o.mutable_sed_record();
    r->set_id("rec-1");
    r->set_registrant_id("iana-en:1");
    r->mutable_uri()->set_target("sip:al" + t + "ice@example.com");
    return o;
  };
  auto naptr_record = [](const std::string& t) {
    RegistryObject o;
    auto* r = o.mutable_sed_record();
    r->set_id("rec-1");
    r->set_registrant_id("iana-en:1");
    *r->mutable_naptr() =
        Naptr("u", "E2U+sip", "!^.*$!sip:in" + t + "fo@example.com!");
    return o;
  };
  auto dns_key = [](const std::string& t) {
    RegistryObject o = DnsKeyObject();
    o.mutable_dns_key()->set_private_file("K" + t + ".private");
    return o;
  };
  return {
      {"org.name", org},
      {"credential.description",
       [=](const std::string& t) { return credential("", t); }},
      {"credential.san_uri",
       [=](const std::string& t) { return credential(t, ""); }},
      {"identifier.value", uri_identifier},
      {"uri.target", uri_record},
      {"naptr.regexp", naptr_record},
      {"dns_key.private_file", dns_key},
  };
}

TEST(DisplaySafeTextTest, EveryFieldTakesOrdinaryUnicode) {
  for (const TextField& f : TextFields()) {
    for (const std::string& text :
         {std::string("plain"), Utf8(0xE9) + "t" + Utf8(0xE9),  // été
          Utf8(0x6771) + Utf8(0x4EAC),                          // 東京
          Utf8(0x0627) + Utf8(0x0644),  // Arabic letters (RTL, no control)
          Utf8(0x1F600), Utf8(0xA0) + "x"}) {
      RegistryObject o = f.make(text);
      EXPECT_TRUE(ValidateAndNormalize(&o).ok())
          << f.path << " " << EscapeUnsafeText(text) << ": "
          << ValidateAndNormalize(&o);
    }
  }
}

TEST(DisplaySafeTextTest, EveryRefusedCodePointInEveryField) {
  // The issue's ranges plus the ones we chose (common/unsafe_text.h).
  std::vector<int32_t> refused;
  for (int32_t cp = 0x202A; cp <= 0x202E; ++cp) refused.push_back(cp);
  for (int32_t cp = 0x2066; cp <= 0x2069; ++cp) refused.push_back(cp);
  for (int32_t cp = 0x200B; cp <= 0x200F; ++cp) refused.push_back(cp);
  for (int32_t cp = 0x80; cp <= 0x9F; ++cp) refused.push_back(cp);  // C1
  for (int32_t cp : {0xFEFF, 0x061C, 0x2028, 0x2029, 0x180E, 0x2060, 0x2064,
                     0x206A, 0x206F}) {
    refused.push_back(cp);
  }
  for (const TextField& f : TextFields()) {
    for (int32_t cp : refused) {
      RegistryObject o = f.make(Utf8(cp));
      const absl::Status s = ValidateAndNormalize(&o);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
          << f.path << " " << CodePointName(cp);
      // Names the field and the code point: "org.name: contains U+202E (a
      // bidirectional control character)".
      EXPECT_THAT(Msg(s), HasSubstr(absl::StrCat(f.path, ": contains ",
                                                 CodePointName(cp))))
          << Msg(s);
    }
  }
  RegistryObject o = TextFields()[0].make(Utf8(0x202E));
  EXPECT_EQ(Msg(ValidateAndNormalize(&o)),
            "org.name: contains U+202E (a bidirectional control character)");
}

TEST(DisplaySafeTextTest, InvalidUtf8IsRefused) {
  for (const std::string& bad :
       {std::string("\xff"), std::string("\xc0\xaf"),  // overlong '/'
        std::string("\xed\xa0\x80"),                   // surrogate D800
        std::string("\xe2\x80"),                       // truncated
        std::string("\xf4\x90\x80\x80")}) {            // above U+10FFFF
    RegistryObject o = TextFields()[0].make(bad);
    EXPECT_THAT(Msg(ValidateAndNormalize(&o)),
                HasSubstr("org.name: is not valid UTF-8"))
        << EscapeUnsafeText(bad);
  }
}

TEST(DisplaySafeTextTest, EscapeKeepsTextAndEscapesOnlyUnsafe) {
  EXPECT_EQ(EscapeUnsafeText("Carrier " + Utf8(0x202E) + "enO"),
            "Carrier \\u202eenO");
  EXPECT_EQ(EscapeUnsafeText("a\tb\n" + Utf8(0x85) + Utf8(0xFEFF)),
            "a\\u0009b\\u000a\\u0085\\ufeff");
  EXPECT_EQ(EscapeUnsafeText(Utf8(0x6771) + "\xff"), Utf8(0x6771) + "\\xff");
  const std::string fine = "T" + Utf8(0xE9) + "l" + Utf8(0xE9) + "com";
  EXPECT_EQ(EscapeUnsafeText(fine), fine);
  EXPECT_FALSE(HasUnsafeText(fine));
  EXPECT_TRUE(HasUnsafeText(Utf8(0x2066)));
}

}  // namespace
}  // namespace lufd
