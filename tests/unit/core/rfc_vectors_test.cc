// RFC test vectors resolved end to end: provisioned through Registry::Execute
// (memory Store, live follower), read back through RegistryView::
// ResolveNumber. Fields must come back byte-exact and in (order, preference)
// order whatever order they were provisioned in, because ENUM clients act on
// them verbatim (RFC 6116 §3.2: the regexp is applied as stored).
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/normalize.h"
#include "server/core/registry.h"
#include "storage/store.h"
#include "tests/unit/testing/memory_registry.h"
#include "tests/unit/testing/objects.h"

namespace lufd {
namespace {

using lufd::v1::NaptrRecord;
using lufd::v1::Operation;
using lufd::v1::RegistryObject;
using testing::PutOp;

constexpr char kOrg[] = "iana-en:rfc";

struct Vector {
  uint32_t order;
  uint32_t preference;
  std::string flags;
  std::string services;
  std::string regexp;
  std::string replacement;
};

NaptrRecord ToNaptr(const Vector& v) {
  NaptrRecord n;
  n.set_order(v.order);
  n.set_preference(v.preference);
  n.set_flags(v.flags);
  n.set_services(v.services);
  n.set_regexp(v.regexp);
  n.set_replacement(v.replacement);
  return n;
}

Identity Admin() {
  return Identity{"iana-en:admin", "admin-cred", lufd::v1::ROLE_ADMIN};
}
Identity SomePeer() {
  return Identity{"iana-en:peer", "cred-peer", lufd::v1::ROLE_PEER};
}

// RFC 6116 §4.1, for +441632960083.
const std::vector<Vector>& Rfc6116Example() {
  static const auto* v = new std::vector<Vector>{
      {10, 100, "u", "E2U+sip", "!^.*$!sip:info@example.com!", "."},
      {10, 101, "u", "E2U+h323", "!^.*$!h323:info@example.com!", "."},
      {10, 102, "u", "E2U+email:mailto", "!^.*$!mailto:info@example.com!", "."},
  };
  return *v;
}

// RFC 4769 §4 style number-portability records (the npdi/rn tel URI
// parameters of RFC 4694): not copied from the RFC text, shaped like it.
const std::vector<Vector>& Rfc4769Style() {
  static const auto* v = new std::vector<Vector>{
      {100, 10, "u", "E2U+pstn:tel",
       "!^.*$!tel:+1-215-555-1212;npdi;rn=+1-215-555-1000!", "."},
      {100, 20, "u", "E2U+pstn:sip",
       "!^.*$!sip:+1-215-555-1212;npdi;rn=+1-215-555-1000@gw.example.com;"
       "user=phone!",
       "."},
  };
  return *v;
}

class RfcVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status opened = mem_.Open();
    ASSERT_TRUE(opened.ok()) << opened;
    RegistryObject org;
    org.mutable_org()->set_id(kOrg);
    org.mutable_org()->set_name("RFC vectors");
    auto seeded = mem_.registry->Execute(
        Admin(), {PutOp(org), PutOp(testing::DestGroup("dg", kOrg))}, "seed");
    ASSERT_TRUE(seeded.ok()) << seeded.status();
  }

  // Provisions `vectors` as standalone SED records on a public group, in
  // the order of `permutation`, and a TN for `e164` on the group's dest
  // group.
  void ProvisionAsGroup(const std::string& tag, const std::string& e164,
                        const std::vector<Vector>& vectors,
                        const std::vector<int>& permutation) {
    std::vector<Operation> ops;
    std::vector<std::string> record_ids;
    for (int i : permutation) {
      RegistryObject rec;
      auto* r = rec.mutable_sed_record();
      r->set_id(tag + "-" + std::to_string(i));
      r->set_registrant_id(kOrg);
      r->set_in_service(true);
      *r->mutable_naptr() = ToNaptr(vectors[i]);
      ops.push_back(PutOp(rec));
      record_ids.push_back(r->id());
    }
    ops.push_back(PutOp(testing::Group("group-" + tag, kOrg, {"dg"},
                                       std::move(record_ids),
                                       /*is_public=*/true)));
    ops.push_back(PutOp(testing::Tn(e164, kOrg, {"dg"})));
    auto r = mem_.registry->Execute(Admin(), ops, tag);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // The NAPTRs answered for the number behind an ENUM domain.
  std::vector<NaptrRecord> ResolveDomain(const std::string& domain,
                                         const Identity& viewer) {
    auto e164 = EnumDomainToE164(domain);
    EXPECT_TRUE(e164.ok()) << e164.status();
    if (!e164.ok()) return {};
    Resolution res = mem_.views.Current()->ResolveNumber(*e164, viewer);
    std::vector<NaptrRecord> out;
    for (const auto& a : res.records) {
      EXPECT_TRUE(a.has_naptr());
      out.push_back(a.naptr());
    }
    return out;
  }

  // Byte-exact comparison, field by field, in the expected order.
  static void ExpectExactly(const std::vector<NaptrRecord>& got,
                            const std::vector<Vector>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(got[i].order(), want[i].order);
      EXPECT_EQ(got[i].preference(), want[i].preference);
      EXPECT_EQ(got[i].flags(), want[i].flags);
      EXPECT_EQ(got[i].services(), want[i].services);
      EXPECT_EQ(got[i].regexp(), want[i].regexp);
      EXPECT_EQ(got[i].replacement(), want[i].replacement);
    }
  }

  testing::MemoryRegistry mem_;
};

TEST_F(RfcVectorsTest, Rfc6116Section41DomainOfTheExampleNumber) {
  EXPECT_EQ(E164ToEnumDomain("+441632960083"),
            "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa.");
  EXPECT_EQ(*EnumDomainToE164("3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa."),
            "+441632960083");
}

TEST_F(RfcVectorsTest, Rfc6116Section41ExampleResolvesInPreferenceOrder) {
  // Provisioned last-first-middle: the answer order must come from (order,
  // preference), not from provisioning order.
  ProvisionAsGroup("rfc6116", "+441632960083", Rfc6116Example(), {2, 0, 1});
  const std::string domain = E164ToEnumDomain("+441632960083");
  ExpectExactly(ResolveDomain(domain, Admin()), Rfc6116Example());
  // The group is public: any peer gets the same answer.
  ExpectExactly(ResolveDomain(domain, SomePeer()), Rfc6116Example());
}

TEST_F(RfcVectorsTest, Rfc6116Section41ExampleAsInlineRecords) {
  // The same vectors inline on the TN (records without ids), reversed, with
  // an empty public group on the dest group so that they are served.
  RegistryObject group = testing::Group("inline-carrier", kOrg, {"dg"}, {},
                                        /*is_public=*/true);
  RegistryObject tn = testing::Tn("+44 1632 960083", kOrg, {"dg"});
  auto* id = tn.mutable_identifier();
  for (int i : {2, 1, 0}) {
    auto* r = id->add_records();
    r->set_in_service(true);
    *r->mutable_naptr() = ToNaptr(Rfc6116Example()[i]);
  }
  auto r = mem_.registry->Execute(Admin(), {PutOp(group), PutOp(tn)}, "inline");
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectExactly(ResolveDomain("3.8.0.0.6.9.2.3.6.1.4.4.E164.ARPA.", Admin()),
                Rfc6116Example());
}

TEST_F(RfcVectorsTest, Rfc4769StyleNumberPortabilityRecords) {
  ProvisionAsGroup("np", "+12155551212", Rfc4769Style(), {1, 0});
  ExpectExactly(ResolveDomain(E164ToEnumDomain("+12155551212"), Admin()),
                Rfc4769Style());
}

TEST_F(RfcVectorsTest, BackreferenceRegexpRoundTripsVerbatim) {
  // "\\1" here is one backslash then '1': the bytes a zone file writes as
  // "\\1" and a client substitutes with the whole AUS.
  const std::vector<Vector> backref = {
      {10, 100, "u", "E2U+sip", "!^(.*)$!sip:\\1@ssp2.example.com!", "."}};
  ASSERT_EQ(backref[0].regexp.find("\\1"), 12u);
  ProvisionAsGroup("backref", "+493012345678", backref, {0});
  ExpectExactly(ResolveDomain(E164ToEnumDomain("+493012345678"), Admin()),
                backref);
}

}  // namespace
}  // namespace lufd
