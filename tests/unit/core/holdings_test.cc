// Holdings (issue 8 §1, §2 "the write path"): the number space is owned.
// A registrar provisions TN/range/prefix identifiers only inside blocks
// held by its registrants; nesting a more specific identifier into another
// SSP's block (the LF-I "incorrect destinations" hijack) is refused; a port
// carves a block out and answers from its new holder at once; anything a
// registrar may not see gets one fixed refusal whether or not it exists;
// the backfill gives an old registry its holdings.
#include "server/core/holdings.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/denial.h"
#include "server/core/holdings_backfill.h"
#include "server/core/registry.h"
#include "tests/unit/testing/memory_registry.h"
#include "tests/unit/testing/objects.h"

namespace lufd {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::Operation;
using lufd::v1::RegistryObject;
using testing::Admin;
using testing::DelOp;
using testing::DestGroup;
using testing::Group;
using ::testing::HasSubstr;
using testing::Ident;
using testing::PutOp;
using testing::Registrar;
using testing::Tn;

constexpr char kRar1[] = "iana-en:rar1";  // Registrar of ssp1.
constexpr char kRar2[] = "iana-en:rar2";  // Registrar of ssp2.
constexpr char kSsp1[] = "iana-en:ssp1";
constexpr char kSsp2[] = "iana-en:ssp2";

RegistryObject Org(const std::string& id, const std::string& registrar,
                   std::vector<lufd::v1::OrgRole> roles) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name("Org " + id);
  o.mutable_org()->set_registrar_id(registrar);
  for (auto r : roles) o.mutable_org()->add_roles(r);
  return o;
}

RegistryObject Naptr(const std::string& id, const std::string& registrant,
                     const std::string& target) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(registrant);
  r->set_in_service(true);
  auto* n = r->mutable_naptr();
  n->set_order(10);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!" + target + "!");
  return o;
}

// A holding of `block` ("+TN", "+A..+B", "+P*"), as lufctl writes it.
RegistryObject Hold(const std::string& block, const std::string& registrant,
                    bool port = false) {
  using K = lufd::v1::IdentifierKind;
  if (size_t dots = block.find(".."); dots != std::string::npos) {
    return testing::Holding(K::IDENTIFIER_KIND_TN_RANGE, block.substr(0, dots),
                            registrant, block.substr(dots + 2), port);
  }
  if (block.back() == '*') {
    return testing::Holding(K::IDENTIFIER_KIND_TN_PREFIX,
                            block.substr(0, block.size() - 1), registrant, "",
                            port);
  }
  return testing::Holding(K::IDENTIFIER_KIND_TN, block, registrant, "", port);
}

RegistryObject Range(const std::string& first, const std::string& last,
                     const std::string& registrant,
                     std::vector<std::string> dgs) {
  return Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, first, registrant,
               std::move(dgs), last);
}
RegistryObject Prefix(const std::string& p, const std::string& registrant,
                      std::vector<std::string> dgs) {
  return Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, p, registrant,
               std::move(dgs));
}

class HoldingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status opened = mem_.Open();
    ASSERT_TRUE(opened.ok()) << opened;
  }

  absl::Status Do(const Identity& who, const std::vector<Operation>& ops) {
    return mem_.registry->Execute(who, ops, "t").status();
  }
  absl::Status Put(const Identity& who, const RegistryObject& o) {
    return Do(who, {PutOp(o)});
  }
  absl::Status Del(const Identity& who, ObjectKind kind,
                   const std::string& key) {
    return Do(who, {DelOp(kind, key)});
  }
  // The regexp of the first record anonymous DNS would get, or "".
  std::string Answer(const std::string& number) {
    Resolution r = mem_.views.Current()->ResolveNumber(number, Identity{});
    return r.found ? r.records[0].naptr().regexp() : "";
  }

  // Two SSPs, each a registrant with its own registrar, each with a public
  // SED group. SSP2 holds (and has provisioned, as in RFC 7878 §10) the
  // range +12026660000..+12026669999, the prefix +1202777 and the TN
  // +12025556666; SSP1 holds the prefix +1203.
  void Seed() {
    ASSERT_TRUE(
        Do(Admin(),
           {PutOp(Org(kRar1, "", {lufd::v1::ORG_ROLE_REGISTRAR})),
            PutOp(Org(kRar2, "", {lufd::v1::ORG_ROLE_REGISTRAR})),
            PutOp(Org(kSsp1, kRar1, {lufd::v1::ORG_ROLE_REGISTRANT})),
            PutOp(Org(kSsp2, kRar2, {lufd::v1::ORG_ROLE_REGISTRANT})),
            PutOp(Hold("+12026660000..+12026669999", kSsp2)),
            PutOp(Hold("+1202777*", kSsp2)), PutOp(Hold("+12025556666", kSsp2)),
            PutOp(Hold("+1203*", kSsp1))})
            .ok());
    for (const auto& [org, rar, n] :
         {std::tuple(kSsp1, kRar1, "1"), std::tuple(kSsp2, kRar2, "2")}) {
      absl::Status s =
          Do(Registrar(rar),
             {PutOp(DestGroup(absl::StrCat("dg", n), org)),
              PutOp(Naptr(absl::StrCat("rec", n), org,
                          absl::StrCat("sip:ssp", n, "@example.com"))),
              PutOp(Group(absl::StrCat("grp", n), org, {absl::StrCat("dg", n)},
                          {absl::StrCat("rec", n)}, /*is_public=*/true))});
      ASSERT_TRUE(s.ok()) << s;
    }
    absl::Status s =
        Do(Registrar(kRar2),
           {PutOp(Range("+12026660000", "+12026669999", kSsp2, {"dg2"})),
            PutOp(Prefix("+1202777", kSsp2, {"dg2"})),
            PutOp(Tn("+12025556666", kSsp2, {"dg2"}))});
    ASSERT_TRUE(s.ok()) << s;
  }

  testing::MemoryRegistry mem_;
};

const char kSsp1Answer[] = "!^.*$!sip:ssp1@example.com!";
const char kSsp2Answer[] = "!^.*$!sip:ssp2@example.com!";

TEST(NumberBlockTest, ContainmentPerLength) {
  auto range = *BlockOf(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
                        "+12026669999");
  auto prefix = *BlockOf(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202666", "");
  auto tn = *BlockOf(lufd::v1::IDENTIFIER_KIND_TN, "+12026661234", "");
  auto longer = *BlockOf(lufd::v1::IDENTIFIER_KIND_TN, "+120266612345", "");
  EXPECT_TRUE(range.Contains(tn));
  EXPECT_FALSE(range.Contains(longer));
  EXPECT_TRUE(prefix.Contains(range));
  EXPECT_TRUE(prefix.Contains(longer));
  EXPECT_FALSE(range.Contains(prefix));
  EXPECT_TRUE(range.Intersects(prefix));
  auto other = *BlockOf(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026665000",
                        "+12026675000");
  EXPECT_TRUE(other.Intersects(range));
  EXPECT_FALSE(other.Contains(range) || range.Contains(other));
  EXPECT_EQ(BlockOfKey("range:+12026660000-+12026669999")->hi, range.hi);
  EXPECT_FALSE(BlockOfKey("uri:sip:x@y").has_value());
}

// The three hijacks of issue 8 §1, by SSP1's registrar with a public SED
// group, and an identifier broader than SSP1's holdings: all refused, and
// SSP2's numbers keep answering with SSP2's NAPTR.
TEST_F(HoldingsTest, HijacksByAMoreSpecificIdentifierAreRefused) {
  Seed();
  const Identity rar1 = Registrar(kRar1);
  const std::vector<RegistryObject> hijacks = {
      Tn("+12026661234", kSsp1, {"dg1"}),   // In SSP2's range.
      Prefix("+12027771", kSsp1, {"dg1"}),  // In SSP2's prefix.
      Range("+12026661000", "+12026661999", kSsp1, {"dg1"}),  // Range.
      Tn("+12025556666", kSsp1, {"dg1"}),  // SSP2's TN itself.
      Prefix("+120", kSsp1, {"dg1"}),      // Covers SSP2's blocks.
      Prefix("+1", kSsp1, {"dg1"}),        // Broader than any holding.
      Tn("+4930111", kSsp1, {"dg1"}),      // Outside every holding.
  };
  for (const RegistryObject& h : hijacks) {
    absl::Status s = Put(rar1, h);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied)
        << h.ShortDebugString();
    EXPECT_EQ(s.message(), "operation 0: permission denied");
    EXPECT_TRUE(DenialReason(s).has_value());  // For the denial audit.
  }
  EXPECT_EQ(Answer("+12026661234"), kSsp2Answer);
  EXPECT_EQ(Answer("+12027771000"), kSsp2Answer);
  EXPECT_EQ(Answer("+12025556666"), kSsp2Answer);
  // SSP2's own registrar may not use its blocks for another registrant.
  EXPECT_EQ(Put(Registrar(kRar2), Tn("+12026661234", kSsp1, {"dg1"})).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(HoldingsTest, RegistrarsWriteInsideTheirOwnHoldings) {
  Seed();
  const Identity rar1 = Registrar(kRar1);
  EXPECT_TRUE(Put(rar1, Tn("+12035550000", kSsp1, {"dg1"})).ok());
  EXPECT_TRUE(
      Put(rar1, Range("+12035551000", "+12035551999", kSsp1, {"dg1"})).ok());
  EXPECT_TRUE(Put(rar1, Prefix("+120355", kSsp1, {"dg1"})).ok());
  EXPECT_TRUE(Put(rar1, Prefix("+1203", kSsp1, {"dg1"})).ok());  // Whole.
  EXPECT_EQ(Answer("+12035550000"), kSsp1Answer);
  EXPECT_TRUE(
      Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12035550000").ok());
  // Absence inside one's own holdings is one's own business.
  EXPECT_EQ(
      Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12035550000").code(),
      absl::StatusCode::kNotFound);
  // RN and URI identifiers are not in the number space.
  EXPECT_TRUE(
      Put(rar1, Ident(lufd::v1::IDENTIFIER_KIND_RN, "12345", kSsp1, {"dg1"}))
          .ok());
}

// A port carves +12026661234 out of SSP2's range: SSP2's range stops
// answering for it at once, and SSP1's TN answers once SSP1 adds it.
TEST_F(HoldingsTest, APortedNumberRoutesToItsNewHolder) {
  Seed();
  ASSERT_EQ(Answer("+12026661234"), kSsp2Answer);
  // Without `port`, an admin cannot put SSP1's block inside SSP2's.
  absl::Status plain = Put(Admin(), Hold("+12026661234", kSsp1));
  EXPECT_EQ(plain.code(), absl::StatusCode::kFailedPrecondition) << plain;
  ASSERT_TRUE(Put(Admin(), Hold("+12026661234", kSsp1, /*port=*/true)).ok());
  auto held = mem_.views.Current()->Get(lufd::v1::OBJECT_KIND_HOLDING,
                                        "tn:+12026661234");
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(held->holding().ported());
  EXPECT_EQ(held->holding().ported_from(), kSsp2);
  EXPECT_GT(held->holding().created_unix(), 0);
  EXPECT_EQ(mem_.views.Current()->HolderOf("+12026661234"), kSsp1);
  EXPECT_EQ(mem_.views.Current()->HoldingsAt("+12026661234").size(), 2u);
  // The old range no longer answers for the ported number, only for the
  // rest of its block.
  EXPECT_EQ(Answer("+12026661234"), "");
  EXPECT_EQ(Answer("+12026661235"), kSsp2Answer);
  // The new holder provisions it; the old one no longer can.
  EXPECT_TRUE(Put(Registrar(kRar1), Tn("+12026661234", kSsp1, {"dg1"})).ok());
  EXPECT_EQ(Answer("+12026661234"), kSsp1Answer);
  EXPECT_EQ(Put(Registrar(kRar2), Tn("+12026661234", kSsp2, {"dg2"})).code(),
            absl::StatusCode::kPermissionDenied);
  // Porting a whole holding reassigns it; nested carve-outs stay.
  ASSERT_TRUE(Put(Admin(), Hold("+1202777*", kSsp1, /*port=*/true)).ok());
  EXPECT_EQ(Answer("+12027770001"), "");  // SSP2's prefix: no longer.
  EXPECT_TRUE(Put(Registrar(kRar1), Prefix("+1202777", kSsp1, {"dg1"})).ok());
  EXPECT_EQ(Answer("+12027770001"), kSsp1Answer);
  // The port is in the audit trail with the admin as actor.
  auto audit = mem_.store->Audit(AuditQuery{});
  ASSERT_TRUE(audit.ok());
  bool seen = false;
  for (const auto& c : *audit) {
    seen |= c.kind() == lufd::v1::OBJECT_KIND_HOLDING &&
            c.key() == "tn:+12026661234" && c.actor() == Admin().AuditName();
  }
  EXPECT_TRUE(seen);
}

// A block ported wholesale keeps its former holder's identifiers (stale:
// they answer nothing). Deleting the holding must not bring them back: the
// block would be held by nobody, where every identifier answers, so the
// former holder's routing would return without any port.
TEST_F(HoldingsTest, DeletingAPortedHoldingDoesNotReviveTheFormerHolder) {
  Seed();
  ASSERT_TRUE(Put(Admin(), Hold("+1202777*", kSsp1, /*port=*/true)).ok());
  ASSERT_EQ(Answer("+12027770001"), "");
  absl::Status gone =
      Del(Admin(), lufd::v1::OBJECT_KIND_HOLDING, "prefix:+1202777");
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition) << gone;
  EXPECT_EQ(Answer("+12027770001"), "");
  // Nor does deleting the new holder's org (its registrar may), which
  // takes its holdings with it.
  gone = Del(Registrar(kRar1), lufd::v1::OBJECT_KIND_ORG, kSsp1);
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition) << gone;
  EXPECT_EQ(Answer("+12027770001"), "");
  // Once the former holder's identifier is gone, both may go.
  ASSERT_TRUE(
      Del(Admin(), lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202777").ok());
  ASSERT_TRUE(Put(Registrar(kRar1), Tn("+12027770005", kSsp1, {"dg1"})).ok());
  EXPECT_TRUE(Del(Registrar(kRar1), lufd::v1::OBJECT_KIND_ORG, kSsp1).ok());
  EXPECT_EQ(Answer("+12027770005"), "");
}

TEST_F(HoldingsTest, HoldingsNestOrAreDisjoint) {
  Seed();
  // Partial overlap.
  EXPECT_EQ(Put(Admin(), Hold("+12026665000..+12026675000", kSsp1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Put(Admin(), Hold("+1202666*", kSsp1)).code(),  // Around SSP2's.
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Put(Admin(), Hold("+120*", kSsp1)).code(),  // Contains SSP2's.
            absl::StatusCode::kFailedPrecondition);
  // The same numbers under another key.
  EXPECT_EQ(Put(Admin(), Hold("+12025556666..+12025556666", kSsp2)).code(),
            absl::StatusCode::kAlreadyExists);
  // Reassigning an existing block needs a port.
  EXPECT_EQ(Put(Admin(), Hold("+12025556666", kSsp1)).code(),
            absl::StatusCode::kFailedPrecondition);
  // Nested in one's own: fine; within one batch too.
  EXPECT_TRUE(Do(Admin(), {PutOp(Hold("+12026661000..+12026661999", kSsp2)),
                           PutOp(Hold("+12026661500", kSsp2))})
                  .ok());
  EXPECT_EQ(Do(Admin(), {PutOp(Hold("+12040000000..+12040000999", kSsp1)),
                         PutOp(Hold("+12040000500..+12040001500", kSsp2))})
                .code(),
            absl::StatusCode::kFailedPrecondition);
  // Registrants only.
  EXPECT_EQ(Put(Admin(), Hold("+4930*", kRar1)).code(),
            absl::StatusCode::kFailedPrecondition);
  // Registrars neither write nor delete holdings.
  EXPECT_EQ(Put(Registrar(kRar1), Hold("+4930*", kSsp1)).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      Del(Registrar(kRar2), lufd::v1::OBJECT_KIND_HOLDING, "prefix:+1202777")
          .code(),
      absl::StatusCode::kPermissionDenied);
  // A registrar reads its registrants' holdings, not others'.
  EXPECT_TRUE(mem_.registry
                  ->Get(Registrar(kRar2), lufd::v1::OBJECT_KIND_HOLDING,
                        "prefix:+1202777")
                  .ok());
  EXPECT_EQ(mem_.registry
                ->Get(Registrar(kRar1), lufd::v1::OBJECT_KIND_HOLDING,
                      "prefix:+1202777")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // A holding with identifiers relying on it stays until they go.
  absl::Status busy =
      Del(Admin(), lufd::v1::OBJECT_KIND_HOLDING, "prefix:+1202777");
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  ASSERT_TRUE(
      Del(Admin(), lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202777").ok());
  EXPECT_TRUE(
      Del(Admin(), lufd::v1::OBJECT_KIND_HOLDING, "prefix:+1202777").ok());
  // Deleting the registrant org takes its holdings with it.
  ASSERT_TRUE(Del(Admin(), lufd::v1::OBJECT_KIND_ORG, kSsp1).ok());
  EXPECT_FALSE(mem_.views.Current()
                   ->Get(lufd::v1::OBJECT_KIND_HOLDING, "prefix:+1203")
                   .has_value());
}

// Issue 8 §2 "the write path": what a registrar is told about objects it
// may not touch does not depend on whether they exist.
TEST_F(HoldingsTest, OneFixedRefusalWhetherOrNotTheObjectExists) {
  Seed();
  const Identity rar1 = Registrar(kRar1);
  auto same = [](const absl::Status& a, const absl::Status& b) {
    EXPECT_EQ(a.code(), absl::StatusCode::kPermissionDenied) << a;
    EXPECT_EQ(a.code(), b.code()) << a << " vs " << b;
    EXPECT_EQ(a.message(), b.message());
  };
  // Identifiers outside one's holdings: existing (SSP2's) and absent.
  same(Put(rar1, Tn("+12025556666", kSsp1, {"dg1"})),
       Put(rar1, Tn("+12025556667", kSsp1, {"dg1"})));
  same(Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666"),
       Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556667"));
  same(Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER,
           "range:+12026660000-+12026669999"),
       Del(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER,
           "range:+12026660000-+12026669998"));
  same(mem_.registry
           ->Get(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666")
           .status(),
       mem_.registry
           ->Get(rar1, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556667")
           .status());
  // Other kinds by id: SSP2's and absent ones.
  for (ObjectKind kind :
       {lufd::v1::OBJECT_KIND_DEST_GROUP, lufd::v1::OBJECT_KIND_SED_RECORD,
        lufd::v1::OBJECT_KIND_SED_GROUP}) {
    const std::string existing =
        kind == lufd::v1::OBJECT_KIND_DEST_GROUP   ? "dg2"
        : kind == lufd::v1::OBJECT_KIND_SED_RECORD ? "rec2"
                                                   : "grp2";
    same(Del(rar1, kind, existing), Del(rar1, kind, "nope"));
    same(mem_.registry->Get(rar1, kind, existing).status(),
         mem_.registry->Get(rar1, kind, "nope").status());
  }
  same(Del(rar1, lufd::v1::OBJECT_KIND_ORG, kSsp2),
       Del(rar1, lufd::v1::OBJECT_KIND_ORG, "iana-en:nobody"));
  same(mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_ORG, kSsp2).status(),
       mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_ORG, "iana-en:nobody")
           .status());
  // Org ids as registrars: a new org naming an existing foreign org or an
  // absent one as its registrar (was NOT_FOUND for the absent one only).
  same(Put(rar1, Org("iana-en:new", kRar2, {lufd::v1::ORG_ROLE_REGISTRANT})),
       Put(rar1, Org("iana-en:new", "iana-en:nobody",
                     {lufd::v1::ORG_ROLE_REGISTRANT})));
  // Org ids as registrants: an existing foreign org and an absent one.
  same(Put(rar1, DestGroup("dg-x", kSsp2)),
       Put(rar1, DestGroup("dg-x", "iana-en:nobody")));
  same(Do(rar1, {DelOp(lufd::v1::OBJECT_KIND_CREDENTIAL, "cred-x")}),
       Do(rar1,
          {DelOp(lufd::v1::OBJECT_KIND_OFFER, "grp2|" + std::string(kSsp1))}));

  // The probe of the issue: 1,000 candidate numbers in one batch, one of
  // which (index 666) exists, and a deliberately invalid last operation.
  // Each candidate is refused the same way, so the answer names the first
  // one whether or not any exists, and nothing is written.
  auto probe = [&](bool with_existing, bool validate_only) {
    std::vector<Operation> ops;
    for (int i = 0; i < 1000; ++i) {
      std::string n = absl::StrCat("+1202555", 6000 + i);
      if (i == 666) n = with_existing ? "+12025556666" : "+12025559999";
      ops.push_back(PutOp(Tn(n, kSsp1, {"dg1"})));
    }
    ops.push_back(PutOp(DestGroup("", kSsp1)));  // Invalid.
    ExecuteOptions options;
    options.validate_only = validate_only;
    return mem_.registry->Execute(rar1, ops, "probe", options).status();
  };
  for (bool validate_only : {false, true}) {
    absl::Status with = probe(true, validate_only);
    absl::Status without = probe(false, validate_only);
    same(with, without);
    EXPECT_EQ(with.message(), "operation 0: permission denied");
  }
  // Every failing operation (import): all 1,000 refused alike.
  for (bool with_existing : {true, false}) {
    std::vector<Operation> ops;
    for (int i = 0; i < 1000; ++i) {
      std::string n = absl::StrCat("+1202555", 6000 + i);
      if (i == 666 && !with_existing) n = "+12025559999";
      ops.push_back(PutOp(Tn(n, kSsp1, {"dg1"})));
    }
    BatchErrors errors;
    ExecuteOptions options;
    options.errors = &errors;
    ASSERT_FALSE(mem_.registry->Execute(rar1, ops, "p", options).ok());
    EXPECT_EQ(errors.total, 1000u);
    for (const auto& e : errors.kept) {
      EXPECT_EQ(e.status.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_EQ(e.status.message(), "permission denied");
    }
  }
}

// The data step for registries written before holdings: one holding per
// outermost identifier of each registrant, nested foreign identifiers
// (yesterday's hijacks) as ported holdings listed for review, and the same
// answers before and after.
TEST_F(HoldingsTest, BackfillGivesAnOldRegistryItsHoldings) {
  ASSERT_TRUE(
      Do(Admin(),
         {PutOp(Org(kRar1, "", {lufd::v1::ORG_ROLE_REGISTRAR})),
          PutOp(Org(kSsp1, kRar1, {lufd::v1::ORG_ROLE_REGISTRANT})),
          PutOp(Org(kSsp2, "", {lufd::v1::ORG_ROLE_REGISTRANT})),
          PutOp(DestGroup("dg1", kSsp1)), PutOp(DestGroup("dg2", kSsp2)),
          PutOp(Naptr("rec1", kSsp1, "sip:ssp1@example.com")),
          PutOp(Naptr("rec2", kSsp2, "sip:ssp2@example.com")),
          PutOp(Group("grp1", kSsp1, {"dg1"}, {"rec1"}, true)),
          PutOp(Group("grp2", kSsp2, {"dg2"}, {"rec2"}, true)),
          PutOp(Range("+12026660000", "+12026669999", kSsp2, {"dg2"})),
          PutOp(Prefix("+1202777", kSsp2, {"dg2"})),
          PutOp(Tn("+12026665555", kSsp2, {"dg2"})),   // In its own range.
          PutOp(Tn("+12026661234", kSsp1, {"dg1"})),   // The hijack.
          PutOp(Prefix("+12027771", kSsp1, {"dg1"})),  // Another.
          PutOp(Tn("+12035550000", kSsp1, {"dg1"}))})
          .ok());
  const std::vector<std::string> numbers = {
      "+12026661234", "+12026661235", "+12026665555", "+12027771000",
      "+12027770001", "+12035550000", "+12035550001"};
  std::vector<std::string> before;
  for (const auto& n : numbers) before.push_back(Answer(n));

  absl::StatusOr<HoldingsBackfill> run = BackfillHoldings(mem_.store.get());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->ran);
  EXPECT_EQ(run->created, 5u);  // Range, prefix, 2 ported, SSP1's TN.
  ASSERT_EQ(run->review.size(), 2u);
  EXPECT_THAT(run->review[0], HasSubstr("prefix:+12027771"));
  EXPECT_THAT(run->review[1], HasSubstr("tn:+12026661234"));
  mem_.follower->Nudge();
  ASSERT_TRUE(mem_.views.WaitForSerial(run->serial, absl::Seconds(5)));
  auto view = mem_.views.Current();
  EXPECT_EQ(view->Count(lufd::v1::OBJECT_KIND_HOLDING), 5u);
  EXPECT_FALSE(
      view->Get(lufd::v1::OBJECT_KIND_HOLDING, "tn:+12026665555").has_value());
  auto ported = view->Get(lufd::v1::OBJECT_KIND_HOLDING, "tn:+12026661234");
  ASSERT_TRUE(ported.has_value());
  EXPECT_TRUE(ported->holding().ported());
  EXPECT_EQ(ported->holding().ported_from(), kSsp2);
  for (size_t i = 0; i < numbers.size(); ++i) {
    EXPECT_EQ(Answer(numbers[i]), before[i]) << numbers[i];
  }
  // Registrars keep working on their numbers.
  EXPECT_TRUE(Put(Registrar(kRar1), Tn("+12035550000", kSsp1, {})).ok());
  // Idempotent: holdings exist now, so nothing more happens.
  run = BackfillHoldings(mem_.store.get());
  ASSERT_TRUE(run.ok());
  EXPECT_FALSE(run->ran);
  EXPECT_EQ(run->created, 0u);
}

}  // namespace
}  // namespace lufd
