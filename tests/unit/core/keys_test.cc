// Tests for server/core/keys.h.
#include "server/core/keys.h"

#include "gtest/gtest.h"

namespace lufd {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

TEST(KeysTest, IdentifierKeys) {
  lufd::v1::PublicIdentifier id;
  id.set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id.set_value("+12025556666");
  EXPECT_EQ(IdentifierKey(id), "tn:+12025556666");
  id.set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
  id.set_value("+12026660000");
  id.set_range_end("+12026669999");
  EXPECT_EQ(IdentifierKey(id), "range:+12026660000-+12026669999");
  id.clear_range_end();
  id.set_kind(lufd::v1::IDENTIFIER_KIND_TN_PREFIX);
  id.set_value("+1202777");
  EXPECT_EQ(IdentifierKey(id), "prefix:+1202777");
  id.set_kind(lufd::v1::IDENTIFIER_KIND_RN);
  id.set_value("2025550000");
  EXPECT_EQ(IdentifierKey(id), "rn:2025550000");
  id.set_kind(lufd::v1::IDENTIFIER_KIND_URI);
  id.set_value("sip:alice@example.com");
  EXPECT_EQ(IdentifierKey(id), "uri:sip:alice@example.com");
}

TEST(KeysTest, KeyAndKindOfEveryObject) {
  RegistryObject o;
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_UNSPECIFIED);
  EXPECT_EQ(KeyOf(o), "");

  o.mutable_org()->set_id("iana-en:32473");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_ORG);
  EXPECT_EQ(KeyOf(o), "iana-en:32473");
  EXPECT_EQ(OwnerOf(o), "");

  o.mutable_credential()->set_id("cred-1");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_CREDENTIAL);
  EXPECT_EQ(KeyOf(o), "cred-1");

  o.mutable_identifier()->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  o.mutable_identifier()->set_value("+12025556666");
  o.mutable_identifier()->set_registrant_id("iana-en:1");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_IDENTIFIER);
  EXPECT_EQ(KeyOf(o), "tn:+12025556666");
  EXPECT_EQ(OwnerOf(o), "iana-en:1");

  o.mutable_dest_group()->set_id("dg1");
  o.mutable_dest_group()->set_registrant_id("iana-en:2");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_DEST_GROUP);
  EXPECT_EQ(KeyOf(o), "dg1");
  EXPECT_EQ(OwnerOf(o), "iana-en:2");

  o.mutable_sed_record()->set_id("rec1");
  o.mutable_sed_record()->set_registrant_id("iana-en:3");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_SED_RECORD);
  EXPECT_EQ(KeyOf(o), "rec1");
  EXPECT_EQ(OwnerOf(o), "iana-en:3");

  o.mutable_sed_group()->set_id("sg1");
  o.mutable_sed_group()->set_registrant_id("iana-en:4");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_SED_GROUP);
  EXPECT_EQ(KeyOf(o), "sg1");
  EXPECT_EQ(OwnerOf(o), "iana-en:4");

  o.mutable_offer()->set_sed_group_id("sg1");
  o.mutable_offer()->set_peer_org_id("iana-en:5");
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_OFFER);
  EXPECT_EQ(KeyOf(o), "sg1|iana-en:5");
  EXPECT_EQ(KeyOf(o), OfferKey("sg1", "iana-en:5"));
  EXPECT_EQ(OwnerOf(o), "");

  o.mutable_dns_key()->set_zone("e164.arpa.");
  o.mutable_dns_key()->set_key_tag(12345);
  EXPECT_EQ(KindOf(o), lufd::v1::OBJECT_KIND_DNS_KEY);
  EXPECT_EQ(KeyOf(o), "e164.arpa./12345");
  EXPECT_EQ(KeyOf(o), DnsKeyKey("e164.arpa.", 12345));
  EXPECT_EQ(OwnerOf(o), "");
}

TEST(KeysTest, KindNamesRoundTrip) {
  for (int k = lufd::v1::OBJECT_KIND_ORG; k <= lufd::v1::OBJECT_KIND_DNS_KEY;
       ++k) {
    auto kind = static_cast<ObjectKind>(k);
    ObjectKind parsed = lufd::v1::OBJECT_KIND_UNSPECIFIED;
    ASSERT_TRUE(ParseKindName(KindName(kind), &parsed)) << KindName(kind);
    EXPECT_EQ(parsed, kind);
    ASSERT_TRUE(ParseKindName(lufd::v1::ObjectKind_Name(kind), &parsed));
    EXPECT_EQ(parsed, kind);
  }
  EXPECT_EQ(KindName(lufd::v1::OBJECT_KIND_DEST_GROUP), "dest-group");
  EXPECT_EQ(KindName(lufd::v1::OBJECT_KIND_DNS_KEY), "dns-key");
  EXPECT_EQ(KindName(lufd::v1::OBJECT_KIND_SED_RECORD), "sed-record");
}

TEST(KeysTest, ParseKindNameVariants) {
  ObjectKind k;
  EXPECT_TRUE(ParseKindName("DEST-GROUP", &k));
  EXPECT_EQ(k, lufd::v1::OBJECT_KIND_DEST_GROUP);
  EXPECT_TRUE(ParseKindName("sed_group", &k));
  EXPECT_EQ(k, lufd::v1::OBJECT_KIND_SED_GROUP);
  EXPECT_TRUE(ParseKindName("Org", &k));
  EXPECT_EQ(k, lufd::v1::OBJECT_KIND_ORG);
  EXPECT_FALSE(ParseKindName("", &k));
  EXPECT_FALSE(ParseKindName("unspecified", &k));
  EXPECT_FALSE(ParseKindName("OBJECT_KIND_UNSPECIFIED", &k));
  EXPECT_FALSE(ParseKindName("orgs", &k));
  EXPECT_FALSE(ParseKindName("number", &k));
}

}  // namespace
}  // namespace lufd
