// Tests for server/core/normalize.h: RFC 6116 §3.1-3.2 vectors and the
// ways people and peers write numbers.
#include "server/core/normalize.h"

#include <string>

#include "gtest/gtest.h"

namespace lufd {
namespace {

std::string Norm(const std::string& in) {
  auto r = NormalizeE164(in);
  return r.ok() ? *r : "ERR";
}

TEST(NormalizeE164Test, Rfc6116Example) {
  // RFC 6116 §3.2 (the number used through §3.2's worked example).
  EXPECT_EQ(Norm("+44-20-7946-0148"), "+442079460148");
  EXPECT_EQ(E164ToEnumDomain("+442079460148"),
            "8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa.");
}

TEST(NormalizeE164Test, AcceptsVisualSeparators) {
  EXPECT_EQ(Norm("+44 (20) 7946.0148"), "+442079460148");
  EXPECT_EQ(Norm("  +1 202 555 6666  "), "+12025556666");
  EXPECT_EQ(Norm("+1-202-555-6666"), "+12025556666");
  EXPECT_EQ(Norm("+1"), "+1");
}

TEST(NormalizeE164Test, TelUris) {
  EXPECT_EQ(Norm("tel:+44-20-7946-0148"), "+442079460148");
  EXPECT_EQ(Norm("TEL:+1-202-555-6666"), "+12025556666");
  // RFC 3966 parameters of a global number are dropped.
  EXPECT_EQ(Norm("tel:+1-202-555-6666;ext=1234"), "+12025556666");
  EXPECT_EQ(Norm("tel:+1-202-555-6666;npdi;rn=+1-202-555-0000"),
            "+12025556666");
  EXPECT_EQ(Norm("tel:+1-202-555-6666;phone-context=example.com"),
            "+12025556666");
  // A local number has no E.164 form.
  EXPECT_EQ(Norm("tel:7042;phone-context=example.com"), "ERR");
  EXPECT_EQ(Norm("tel:"), "ERR");
}

TEST(NormalizeE164Test, FifteenDigitsMax) {
  EXPECT_EQ(Norm("+123456789012345"), "+123456789012345");
  EXPECT_EQ(Norm("+1234567890123456"), "ERR");
  EXPECT_EQ(Norm("+1-2345-6789-0123-45"), "+123456789012345");
}

TEST(NormalizeE164Test, Rejects) {
  EXPECT_EQ(Norm(""), "ERR");
  EXPECT_EQ(Norm("   "), "ERR");
  EXPECT_EQ(Norm("+"), "ERR");
  EXPECT_EQ(Norm("+-()"), "ERR");
  EXPECT_EQ(Norm("442079460148"), "ERR");    // No '+'.
  EXPECT_EQ(Norm("+0442079460148"), "ERR");  // Country code starts with 0.
  EXPECT_EQ(Norm("++442079460148"), "ERR");
  EXPECT_EQ(Norm("+44a2079460148"), "ERR");
  EXPECT_EQ(Norm("+44/2079460148"), "ERR");
  EXPECT_EQ(Norm("+4420794601\n48"), "ERR");  // Control character.
  EXPECT_EQ(Norm(std::string("+4420\0"
                             "79",
                             7)),
            "ERR");
  EXPECT_EQ(Norm("+44" + std::string(300, ' ')), "ERR");  // > 256 bytes.
  EXPECT_EQ(Norm("sip:+12025556666@example.com;user=phone"), "ERR");
}

TEST(NormalizeE164Test, ErrorsAreInvalidArgument) {
  auto r = NormalizeE164("12345");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find('+'), absl::string_view::npos);
}

TEST(NormalizeE164PrefixTest, Prefixes) {
  EXPECT_EQ(*NormalizeE164Prefix("+1202777"), "+1202777");
  EXPECT_EQ(*NormalizeE164Prefix("+1-202-777"), "+1202777");
  EXPECT_EQ(*NormalizeE164Prefix("+4"), "+4");
  EXPECT_FALSE(NormalizeE164Prefix("+").ok());
  EXPECT_FALSE(NormalizeE164Prefix("1202").ok());
  EXPECT_FALSE(NormalizeE164Prefix("+0").ok());
  EXPECT_FALSE(NormalizeE164Prefix("+1234567890123456").ok());
  EXPECT_FALSE(NormalizeE164Prefix("tel:+1202").ok());
  EXPECT_FALSE(NormalizeE164Prefix("").ok());
}

TEST(EnumDomainTest, ToDomainWithApex) {
  EXPECT_EQ(E164ToEnumDomain("+12025556666", "e164.example."),
            "6.6.6.6.5.5.5.2.0.2.1.e164.example.");
  EXPECT_EQ(E164ToEnumDomain("+1", "e164.arpa."), "1.e164.arpa.");
  EXPECT_EQ(E164ToEnumDomain("+12", ".e164.arpa."), "2.1.e164.arpa.");
}

TEST(EnumDomainTest, FromDomain) {
  EXPECT_EQ(*EnumDomainToE164("8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa."),
            "+442079460148");
  // Case-insensitive, trailing dot optional on either side.
  EXPECT_EQ(*EnumDomainToE164("8.4.1.0.6.4.9.7.0.2.4.4.E164.ARPA"),
            "+442079460148");
  EXPECT_EQ(
      *EnumDomainToE164("6.6.6.6.5.5.5.2.0.2.1.e164.example.", "E164.Example"),
      "+12025556666");
  EXPECT_EQ(*EnumDomainToE164("1.e164.arpa."), "+1");
}

TEST(EnumDomainTest, RoundTrip) {
  for (const char* n :
       {"+1", "+12025556666", "+442079460148", "+123456789012345", "+999"}) {
    auto back = EnumDomainToE164(E164ToEnumDomain(n));
    ASSERT_TRUE(back.ok()) << n << ": " << back.status();
    EXPECT_EQ(*back, n);
  }
}

TEST(EnumDomainTest, FromDomainRejects) {
  EXPECT_FALSE(EnumDomainToE164("e164.arpa.").ok());
  EXPECT_FALSE(EnumDomainToE164("1.e164.arpa.x.").ok());
  EXPECT_FALSE(EnumDomainToE164("1.xe164.arpa.").ok());    // Label boundary.
  EXPECT_FALSE(EnumDomainToE164("12.1.e164.arpa.").ok());  // Not one digit.
  EXPECT_FALSE(EnumDomainToE164("a.1.e164.arpa.").ok());
  EXPECT_FALSE(EnumDomainToE164("1..2.e164.arpa.").ok());
  EXPECT_FALSE(EnumDomainToE164(".1.e164.arpa.").ok());
  EXPECT_FALSE(EnumDomainToE164("0.e164.arpa.").ok());  // CC 0.
  EXPECT_FALSE(
      EnumDomainToE164("6.5.4.3.2.1.0.9.8.7.6.5.4.3.2.1.e164.arpa.").ok());
  EXPECT_FALSE(EnumDomainToE164("1.2.example.com.").ok());
  EXPECT_FALSE(EnumDomainToE164("").ok());
}

// ParseLookupQuery(input) succeeds with `kind` and `value`.
void ExpectQuery(const std::string& input, LookupQuery::Kind kind,
                 const std::string& value) {
  auto q = ParseLookupQuery(input);
  ASSERT_TRUE(q.ok()) << input << ": " << q.status();
  EXPECT_EQ(q->kind, kind) << input;
  EXPECT_EQ(q->value, value) << input;
}

constexpr auto kNumber = LookupQuery::Kind::kNumber;
constexpr auto kUri = LookupQuery::Kind::kUri;

TEST(ParseLookupQueryTest, Numbers) {
  ExpectQuery("+1-202-555-6666", kNumber, "+12025556666");
  ExpectQuery("tel:+1-202-555-6666;npdi", kNumber, "+12025556666");
}

TEST(ParseLookupQueryTest, SipUserPhone) {
  ExpectQuery("sip:+1-202-555-6666@example.com;user=phone", kNumber,
              "+12025556666");
  ExpectQuery("SIPS:+44-20-7946-0148;npdi@example.com;User=Phone", kNumber,
              "+442079460148");
  ExpectQuery("sip:+12025556666@example.com;transport=tcp;user=phone?subject=x",
              kNumber, "+12025556666");

  // user=phone with a local number: not an E.164 query.
  EXPECT_FALSE(ParseLookupQuery("sip:5556666@example.com;user=phone").ok());
}

TEST(ParseLookupQueryTest, OtherUrisAsGiven) {
  ExpectQuery("  sip:alice@example.com  ", kUri, "sip:alice@example.com");

  // user=phone in a header, not a URI parameter, does not count.
  auto q = ParseLookupQuery("sip:+12025556666@example.com?x=1;user=phone");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->kind, kUri);

  ExpectQuery("mailto:info@example.com", kUri, "mailto:info@example.com");
}

TEST(ParseLookupQueryTest, Rejects) {
  EXPECT_FALSE(ParseLookupQuery("").ok());
  EXPECT_FALSE(ParseLookupQuery("  ").ok());
  EXPECT_FALSE(ParseLookupQuery("hello").ok());
  EXPECT_FALSE(ParseLookupQuery("2025556666").ok());
  EXPECT_FALSE(ParseLookupQuery("sip:alice @example.com").ok());
  EXPECT_FALSE(ParseLookupQuery("sip:alice@example.com\r\n").ok());
  EXPECT_FALSE(ParseLookupQuery("sip:" + std::string(300, 'a')).ok());
  EXPECT_FALSE(ParseLookupQuery("tel:5556666").ok());
}

}  // namespace
}  // namespace lufd
