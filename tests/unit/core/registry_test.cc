// Registry (write path) on the memory Store with a live follower: batches,
// rollback, authorization, cascades, offers, the RFC 7878 §10 example,
// hostile strings, bulk import and concurrent writers.
#include "server/core/registry.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/core/normalize.h"
#include "storage/store.h"
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
using ::testing::ElementsAre;
using testing::Group;
using ::testing::HasSubstr;
using testing::Holding;
using testing::Ident;
using ::testing::IsEmpty;
using testing::Offer;
using testing::Peer;
using testing::PutOp;
using testing::Registrar;
using ::testing::StartsWith;
using testing::Tn;

constexpr char kSpki[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

RegistryObject Org(const std::string& id, const std::string& registrar = "",
                   std::vector<lufd::v1::OrgRole> roles = {}) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name("Org " + id);
  o.mutable_org()->set_registrar_id(registrar);
  for (auto r : roles) o.mutable_org()->add_roles(r);
  return o;
}
RegistryObject Cred(const std::string& id, const std::string& org) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id(id);
  c->set_org_id(org);
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_spki_sha256(kSpki);
  return o;
}
RegistryObject Naptr(const std::string& id, const std::string& reg,
                     const std::string& target, uint32_t order = 10) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(reg);
  r->set_in_service(true);
  auto* n = r->mutable_naptr();
  n->set_order(order);
  n->set_preference(10);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!" + target + "!");
  return o;
}

Operation AcceptOp(const std::string& group, const std::string& peer) {
  Operation op;
  op.mutable_accept_offer()->set_sed_group_id(group);
  op.mutable_accept_offer()->set_peer_org_id(peer);
  return op;
}
Operation RejectOp(const std::string& group, const std::string& peer) {
  Operation op;
  op.mutable_reject_offer()->set_sed_group_id(group);
  op.mutable_reject_offer()->set_peer_org_id(peer);
  return op;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status opened = mem_.Open();
    ASSERT_TRUE(opened.ok()) << opened;
  }

  absl::StatusOr<lufd::v1::WriteResponse> Run(
      const Identity& who, const std::vector<Operation>& ops) {
    auto response = mem_.registry->Execute(who, ops, "txn-1");
    // Execute waits for its own write only 2 s (read-your-writes, bounded);
    // under ASan a 20,000-change batch applies slower than that, and these
    // tests check what the view holds, not how fast it gets there.
    if (response.ok()) {
      EXPECT_TRUE(mem_.views.WaitForSerial(response->serial(),
                                           absl::Seconds(120)));
    }
    return response;
  }
  absl::Status Do(const Identity& who, const std::vector<Operation>& ops) {
    return Run(who, ops).status();
  }
  absl::Status Put(const Identity& who, const RegistryObject& o) {
    return Do(who, {PutOp(o)});
  }

  std::optional<RegistryObject> Get(ObjectKind kind, const std::string& key) {
    return mem_.views.Current()->Get(kind, key);
  }
  bool Sees(const std::string& number, const Identity& who) {
    return mem_.views.Current()->ResolveNumber(number, who).found;
  }
  uint64_t StoreSerial() { return *mem_.store->LatestSerial(); }
  // authz.h's read rule against the current view.
  bool CanRead(const Identity& who, const RegistryObject& o) {
    return ViewAccess(*mem_.views.Current(), who).CanRead(o);
  }

  // Registrar "iana-en:rar1" with registrants ra and (own) rar1; registrar
  // rar2 with registrant rb.
  void SeedRegistrars() {
    ASSERT_TRUE(
        Do(Admin(),
           {PutOp(Org("iana-en:rar1", "", {lufd::v1::ORG_ROLE_REGISTRAR})),
            PutOp(Org("iana-en:rar2", "", {lufd::v1::ORG_ROLE_REGISTRAR})),
            PutOp(Org("iana-en:ra", "iana-en:rar1",
                      {lufd::v1::ORG_ROLE_REGISTRANT})),
            PutOp(Org("iana-en:rb", "iana-en:rar2",
                      {lufd::v1::ORG_ROLE_REGISTRANT})),
            PutOp(DestGroup("dg-b", "iana-en:rb")),
            // Registrars provision numbers only inside holdings (issue 8).
            PutOp(Holding(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+4930",
                          "iana-en:ra")),
            PutOp(Holding(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202555",
                          "iana-en:ra"))})
            .ok());
  }

  testing::MemoryRegistry mem_;
};

TEST_F(RegistryTest, PutIsVisibleAtOnceAndAudited) {
  auto r = Run(Admin(),
               {PutOp(Org("iana-en:1")), PutOp(DestGroup("dg", "iana-en:1")),
                PutOp(Tn("+1-202-555-6666", "iana-en:1", {"dg"}))});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->serial(), 1u);
  EXPECT_EQ(r->changes(), 3u);
  EXPECT_EQ(mem_.views.Current()->serial(), 1u);  // Read-your-writes.
  auto tn = Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666");
  ASSERT_TRUE(tn.has_value());  // Normalized on the way in.
  auto got = mem_.registry->Get(Admin(), lufd::v1::OBJECT_KIND_IDENTIFIER,
                                "tn:+12025556666");
  ASSERT_TRUE(got.ok());
  auto audit = mem_.store->Audit(AuditQuery{});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[0].actor(), "iana-en:admin/admin-cred");
  EXPECT_EQ((*audit)[0].client_txn_id(), "txn-1");
  // Upserting the identical object writes nothing.
  auto again = Run(Admin(), {PutOp(Org("iana-en:1"))});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->changes(), 0u);
  EXPECT_EQ(StoreSerial(), 1u);
}

TEST_F(RegistryTest, BatchStopsAtFirstErrorAndWritesNothing) {
  auto r = Run(Admin(),
               {PutOp(Org("iana-en:1")), PutOp(DestGroup("dg", "iana-en:1")),
                PutOp(Tn("+12025556666", "iana-en:1", {"nope"})),
                PutOp(Org("iana-en:2"))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 2: "));
  EXPECT_EQ(StoreSerial(), 0u);
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_ORG, "iana-en:1"));

  r = Run(Admin(), {PutOp(Org("iana-en:1")), PutOp(Tn("+0", "iana-en:1", {}))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 1: "));
  r = Run(Admin(), {DelOp(lufd::v1::OBJECT_KIND_ORG, "iana-en:none")});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 0: "));
  r = Run(Admin(), {Operation()});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreSerial(), 0u);
}

// Import asks for every failing operation of a batch (issue 7): server-only
// errors (unknown dest group, bad services, another registrar's objects)
// are all named, and the batch is still all or nothing.
TEST_F(RegistryTest, EveryFailingOperationIsReported) {
  SeedRegistrars();
  RegistryObject bad_services = Tn("+12025550002", "iana-en:ra", {});
  auto* naptr =
      bad_services.mutable_identifier()->add_records()->mutable_naptr();
  naptr->set_order(10);
  naptr->set_preference(10);
  naptr->set_flags("u");
  naptr->set_services("not a service");
  naptr->set_regexp("!^.*$!sip:x@y!");
  std::vector<Operation> ops = {
      PutOp(DestGroup("dg-a", "iana-en:ra")),
      PutOp(Tn("+12025550001", "iana-en:ra", {"dg-a"})),
      PutOp(bad_services),
      PutOp(Tn("+12025550003", "iana-en:ra", {"dg-nope"})),
      PutOp(Tn("+12025550004", "iana-en:ra", {"dg-a"})),
      PutOp(Tn("+12025550005", "iana-en:rb", {"dg-b"})),  // Not rar1's.
  };
  BatchErrors errors;
  ExecuteOptions options;
  options.errors = &errors;
  auto r = mem_.registry->Execute(Registrar("iana-en:rar1"), ops, "t", options);
  ASSERT_FALSE(r.ok());
  // The status is the first failure, as without `errors`.
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 2: "));
  ASSERT_EQ(errors.total, 3u);
  ASSERT_EQ(errors.kept.size(), 3u);
  EXPECT_EQ(errors.kept[0].index, 2u);
  EXPECT_EQ(errors.kept[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(errors.kept[1].index, 3u);
  EXPECT_EQ(errors.kept[1].status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(errors.kept[1].status.message()),
              HasSubstr("dg-nope"));
  EXPECT_EQ(errors.kept[2].index, 5u);
  EXPECT_EQ(errors.kept[2].status.code(), absl::StatusCode::kPermissionDenied);
  // Nothing of the batch was written.
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-a"));
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025550001"));

  // Bounded: counted all, kept the first (lowest index) few.
  BatchErrors few(2);
  options.errors = &few;
  r = mem_.registry->Execute(Registrar("iana-en:rar1"), ops, "t", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(few.total, 3u);
  ASSERT_EQ(few.kept.size(), 2u);
  EXPECT_EQ(few.kept[0].index, 2u);
  EXPECT_EQ(few.kept[1].index, 3u);
}

// `import --check`: the whole plan runs, authorization included, and
// nothing is committed.
TEST_F(RegistryTest, ValidateOnlyRunsEverythingAndCommitsNothing) {
  SeedRegistrars();
  const uint64_t before = StoreSerial();
  ExecuteOptions options;
  options.validate_only = true;
  auto r = mem_.registry->Execute(
      Registrar("iana-en:rar1"),
      {PutOp(DestGroup("dg-a", "iana-en:ra")),
       PutOp(Tn("+12025550001", "iana-en:ra", {"dg-a"}))},
      "t", options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes(), 2u);
  EXPECT_EQ(r->serial(), before);
  EXPECT_EQ(StoreSerial(), before);
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-a"));

  // Authorization is part of the dry run.
  r = mem_.registry->Execute(
      Registrar("iana-en:rar1"),
      {PutOp(Tn("+12025550005", "iana-en:rb", {"dg-b"}))}, "t", options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StoreSerial(), before);

  // A stream of batches: the second sees what the first would write;
  // failures carry stream indices.
  auto validation = mem_.registry->StartValidation(Registrar("iana-en:rar1"));
  BatchErrors errors;
  validation->Add({PutOp(DestGroup("dg-a", "iana-en:ra"))}, 0, &errors);
  validation->Add({PutOp(Tn("+12025550001", "iana-en:ra", {"dg-a"})),
                   PutOp(Tn("+12025550002", "iana-en:ra", {"dg-nope"}))},
                  1, &errors);
  validation->Finish(&errors);
  ASSERT_EQ(errors.total, 1u);
  EXPECT_EQ(errors.kept[0].index, 2u);
  EXPECT_EQ(validation->changes(), 2u);  // dg-a and one TN: not the bad put.
  EXPECT_EQ(StoreSerial(), before);
}

TEST_F(RegistryTest, ReferencesMustExist) {
  EXPECT_EQ(Put(Admin(), DestGroup("dg", "iana-en:ghost")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Put(Admin(), Cred("c", "iana-en:ghost")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Put(Admin(), Org("iana-en:x", "iana-en:ghost")).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(Put(Admin(), Org("iana-en:1")).ok());
  EXPECT_EQ(Put(Admin(), Group("g", "iana-en:1", {}, {"rec"})).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Put(Admin(), Group("g", "iana-en:1", {"dg"}, {})).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Put(Admin(), Offer("g", "iana-en:1")).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(Put(Admin(), Group("g", "iana-en:1", {}, {})).ok());
  EXPECT_EQ(Put(Admin(), Offer("g", "iana-en:ghost")).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RegistryTest, RegistrarAuthorization) {
  SeedRegistrars();
  const Identity rar1 = Registrar("iana-en:rar1");
  // Own registrant and own org: allowed.
  EXPECT_TRUE(Put(rar1, DestGroup("dg-a", "iana-en:ra")).ok());
  EXPECT_TRUE(Put(rar1, DestGroup("dg-own", "iana-en:rar1")).ok());
  EXPECT_TRUE(Put(rar1, Tn("+4930111", "iana-en:ra", {"dg-a"})).ok());
  // Someone else's registrant.
  absl::Status s = Put(rar1, DestGroup("dg-x", "iana-en:rb"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), StartsWith("operation 0: "));
  EXPECT_FALSE(absl::StrContains(s.message(), "rb"));
  // Taking over an existing key of someone else's.
  EXPECT_EQ(Put(rar1, DestGroup("dg-b", "iana-en:ra")).code(),
            absl::StatusCode::kPermissionDenied);
  // Referring to someone else's dest group looks like it does not exist.
  EXPECT_EQ(Put(rar1, Tn("+4930112", "iana-en:ra", {"dg-b"})).code(),
            absl::StatusCode::kNotFound);
  // Deleting and reading someone else's: the fixed refusal, as for an id
  // that does not exist (no oracle; issue 8).
  EXPECT_EQ(Do(rar1, {DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-b")}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-b")
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-a").ok());
  EXPECT_TRUE(
      mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_ORG, "iana-en:ra").ok());
  // Credentials: never.
  EXPECT_EQ(Put(rar1, Cred("c1", "iana-en:ra")).code(),
            absl::StatusCode::kPermissionDenied);
  // Orgs: new registrants under itself only, no escaping via registrar/roles.
  EXPECT_TRUE(Put(rar1, Org("iana-en:ra2", "iana-en:rar1",
                            {lufd::v1::ORG_ROLE_REGISTRANT}))
                  .ok());
  EXPECT_EQ(Put(rar1, Org("iana-en:rc", "iana-en:rar2")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(rar1, Org("iana-en:rd", "")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(rar1, Org("iana-en:re", "iana-en:rar1",
                          {lufd::v1::ORG_ROLE_REGISTRAR}))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(rar1, Org("iana-en:ra", "iana-en:rar2",
                          {lufd::v1::ORG_ROLE_REGISTRANT}))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(rar1, Org("iana-en:ra", "iana-en:rar1",
                          {lufd::v1::ORG_ROLE_REGISTRANT,
                           lufd::v1::ORG_ROLE_REGISTRAR}))
                .code(),
            absl::StatusCode::kPermissionDenied);
  auto renamed =
      Org("iana-en:ra", "iana-en:rar1", {lufd::v1::ORG_ROLE_REGISTRANT});
  renamed.mutable_org()->set_name("Renamed");
  EXPECT_TRUE(Put(rar1, renamed).ok());
  EXPECT_EQ(
      Put(rar1, Org("iana-en:rar1", "", {lufd::v1::ORG_ROLE_REGISTRAR})).code(),
      absl::StatusCode::kPermissionDenied);
  // Peers and role-less callers write nothing.
  EXPECT_EQ(Put(Peer("iana-en:ra"), DestGroup("dg-p", "iana-en:ra")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(Identity{}, DestGroup("dg-p", "iana-en:ra")).code(),
            absl::StatusCode::kPermissionDenied);
  // A whole batch fails on the first denied operation.
  uint64_t before = StoreSerial();
  EXPECT_EQ(Do(rar1, {PutOp(DestGroup("dg-a2", "iana-en:ra")),
                      PutOp(DestGroup("dg-x", "iana-en:rb"))})
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StoreSerial(), before);
  // CanRead.
  EXPECT_TRUE(CanRead(rar1, DestGroup("x", "iana-en:ra")));
  EXPECT_FALSE(CanRead(rar1, DestGroup("x", "iana-en:rb")));
  EXPECT_FALSE(CanRead(Peer("iana-en:ra"), DestGroup("x", "iana-en:ra")));
  EXPECT_TRUE(CanRead(Admin(), DestGroup("x", "iana-en:rb")));
}

TEST_F(RegistryTest, RegistrarCanBuildARegistrantInOneBatch) {
  SeedRegistrars();
  const Identity rar1 = Registrar("iana-en:rar1");
  // Since holdings (issue 8), the numbers must be allocated to the new
  // registrant by an admin first, so the org comes in its own batch.
  ASSERT_TRUE(Put(rar1, Org("iana-en:new", "iana-en:rar1",
                            {lufd::v1::ORG_ROLE_REGISTRANT}))
                  .ok());
  ASSERT_TRUE(Put(Admin(), Holding(lufd::v1::IDENTIFIER_KIND_TN, "+4940222",
                                   "iana-en:new"))
                  .ok());
  auto r =
      Run(rar1, {PutOp(DestGroup("dg-new", "iana-en:new")),
                 PutOp(Naptr("rec-new", "iana-en:new", "sip:new@x")),
                 PutOp(Group("g-new", "iana-en:new", {"dg-new"}, {"rec-new"})),
                 PutOp(Tn("+4940222", "iana-en:new", {"dg-new"}))});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes(), 4u);
  EXPECT_TRUE(Sees("+4940222", Peer("iana-en:new")));
}

TEST_F(RegistryTest, Cascades) {
  const std::string o = "iana-en:owner", p = "iana-en:peer";
  ASSERT_TRUE(
      Do(Admin(), {PutOp(Org(o)), PutOp(Org(p)), PutOp(Cred("c-o", o)),
                   PutOp(Cred("c-p", p)), PutOp(DestGroup("dg1", o)),
                   PutOp(DestGroup("dg2", o)), PutOp(Naptr("r1", o, "sip:a@x")),
                   PutOp(Naptr("r2", o, "sip:b@x")),
                   PutOp(Group("g1", o, {"dg1", "dg2"}, {"r1", "r2"})),
                   PutOp(Group("g2", o, {"dg2"}, {})),
                   PutOp(Tn("+111", o, {"dg1", "dg2"})), PutOp(Offer("g1", p)),
                   PutOp(Offer("g2", p))})
          .ok());
  // Record -> removed from groups.
  ASSERT_TRUE(
      Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_SED_RECORD, "r1")}).ok());
  auto g1 = Get(lufd::v1::OBJECT_KIND_SED_GROUP, "g1");
  ASSERT_TRUE(g1);
  ASSERT_EQ(g1->sed_group().records_size(), 1);
  EXPECT_EQ(g1->sed_group().records(0).record_id(), "r2");
  // Dest group -> removed from identifiers and groups.
  auto r = Run(Admin(), {DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg1")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes(), 3u);  // dg1, the TN, g1.
  EXPECT_THAT(Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+111")
                  ->identifier()
                  .dest_group_ids(),
              ElementsAre("dg2"));
  EXPECT_THAT(
      Get(lufd::v1::OBJECT_KIND_SED_GROUP, "g1")->sed_group().dest_group_ids(),
      ElementsAre("dg2"));
  // Group -> its offers.
  ASSERT_TRUE(Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_SED_GROUP, "g2")}).ok());
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_OFFER, "g2|iana-en:peer"));
  EXPECT_TRUE(Get(lufd::v1::OBJECT_KIND_OFFER, "g1|iana-en:peer"));
  // Peer org -> its credentials and the offers to it.
  ASSERT_TRUE(Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_ORG, p)}).ok());
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_CREDENTIAL, "c-p"));
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_OFFER, "g1|iana-en:peer"));
  // Registrant org -> everything it owns.
  ASSERT_TRUE(Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_ORG, o)}).ok());
  auto view = mem_.views.Current();
  for (auto kind :
       {lufd::v1::OBJECT_KIND_ORG, lufd::v1::OBJECT_KIND_CREDENTIAL,
        lufd::v1::OBJECT_KIND_IDENTIFIER, lufd::v1::OBJECT_KIND_DEST_GROUP,
        lufd::v1::OBJECT_KIND_SED_RECORD, lufd::v1::OBJECT_KIND_SED_GROUP,
        lufd::v1::OBJECT_KIND_OFFER}) {
    EXPECT_EQ(view->Count(kind), 0u) << KindName(kind);
  }
}

TEST_F(RegistryTest, CascadeSeesEarlierOperationsOfTheBatch) {
  ASSERT_TRUE(Put(Admin(), Org("iana-en:1")).ok());
  ASSERT_TRUE(Do(Admin(), {PutOp(DestGroup("dg", "iana-en:1")),
                           PutOp(Tn("+111", "iana-en:1", {"dg"})),
                           PutOp(Group("g", "iana-en:1", {"dg"}, {})),
                           DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg")})
                  .ok());
  EXPECT_THAT(Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+111")
                  ->identifier()
                  .dest_group_ids(),
              IsEmpty());
  EXPECT_THAT(
      Get(lufd::v1::OBJECT_KIND_SED_GROUP, "g")->sed_group().dest_group_ids(),
      IsEmpty());
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg"));
  // Created and deleted in one batch: nothing is written for it.
  auto r = Run(Admin(), {PutOp(DestGroup("tmp", "iana-en:1")),
                         DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, "tmp")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes(), 0u);
}

TEST_F(RegistryTest, RegistrarOfOthersCannotBeDeleted) {
  SeedRegistrars();
  EXPECT_EQ(
      Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_ORG, "iana-en:rar1")}).code(),
      absl::StatusCode::kFailedPrecondition);
  // A registrar may delete its registrant, not itself.
  ASSERT_TRUE(
      Put(Registrar("iana-en:rar1"), DestGroup("dg-a", "iana-en:ra")).ok());
  EXPECT_EQ(Do(Registrar("iana-en:rar1"),
               {DelOp(lufd::v1::OBJECT_KIND_ORG, "iana-en:rar1")})
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Do(Registrar("iana-en:rar1"),
                 {DelOp(lufd::v1::OBJECT_KIND_ORG, "iana-en:ra")})
                  .ok());
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-a"));
}

TEST_F(RegistryTest, OffersAreDecidedByThePeerSide) {
  SeedRegistrars();
  const Identity rar1 = Registrar("iana-en:rar1"),
                 rar2 = Registrar("iana-en:rar2");
  ASSERT_TRUE(
      Put(Admin(), Org("iana-en:stranger", "", {lufd::v1::ORG_ROLE_REGISTRAR}))
          .ok());
  ASSERT_TRUE(Do(rar1, {PutOp(DestGroup("dg-a", "iana-en:ra")),
                        PutOp(Naptr("rec-a", "iana-en:ra", "sip:a@x")),
                        PutOp(Group("g-a", "iana-en:ra", {"dg-a"}, {"rec-a"})),
                        PutOp(Tn("+4930333", "iana-en:ra", {"dg-a"})),
                        // Status in the request is ignored.
                        PutOp(Offer("g-a", "iana-en:rb",
                                    lufd::v1::OFFER_STATUS_ACCEPTED))})
                  .ok());
  EXPECT_EQ(
      Get(lufd::v1::OBJECT_KIND_OFFER, "g-a|iana-en:rb")->offer().status(),
      lufd::v1::OFFER_STATUS_PENDING);
  EXPECT_FALSE(Sees("+4930333", Peer("iana-en:rb")));
  // The offering side cannot accept on the peer's behalf.
  EXPECT_EQ(Do(rar1, {AcceptOp("g-a", "iana-en:rb")}).code(),
            absl::StatusCode::kPermissionDenied);
  // An unrelated registrar does not even learn the offer exists: the same
  // fixed refusal as for an offer that does not exist (issue 8).
  EXPECT_EQ(
      Do(Registrar("iana-en:stranger"), {AcceptOp("g-a", "iana-en:rb")}).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Do(rar2, {AcceptOp("g-a", "iana-en:nobody")}).code(),
            absl::StatusCode::kPermissionDenied);
  // The peer's registrar accepts.
  ASSERT_TRUE(Do(rar2, {AcceptOp("g-a", "iana-en:rb")}).ok());
  EXPECT_TRUE(Sees("+4930333", Peer("iana-en:rb")));
  // Re-putting the offer keeps the decision.
  ASSERT_TRUE(Put(rar1, Offer("g-a", "iana-en:rb")).ok());
  EXPECT_TRUE(Sees("+4930333", Peer("iana-en:rb")));
  ASSERT_TRUE(Do(rar2, {RejectOp("g-a", "iana-en:rb")}).ok());
  EXPECT_EQ(
      Get(lufd::v1::OBJECT_KIND_OFFER, "g-a|iana-en:rb")->offer().status(),
      lufd::v1::OFFER_STATUS_REJECTED);
  EXPECT_FALSE(Sees("+4930333", Peer("iana-en:rb")));
  // The offering registrar may withdraw it.
  EXPECT_EQ(
      Do(rar2, {DelOp(lufd::v1::OBJECT_KIND_OFFER, "g-a|iana-en:rb")}).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      Do(rar1, {DelOp(lufd::v1::OBJECT_KIND_OFFER, "g-a|iana-en:rb")}).ok());
}

// RFC 7878 §10: SSP2 provisions a TN, a range and a prefix on a destination
// group whose NAPTR SED group is offered to SSP1.
TEST_F(RegistryTest, Rfc7878Section10Scenario) {
  const std::string ssp1 = "iana-en:111", ssp2 = "iana-en:222",
                    ssp3 = "iana-en:333";
  ASSERT_TRUE(
      Do(Admin(),
         {PutOp(Org(ssp1, "",
                    {lufd::v1::ORG_ROLE_PEER, lufd::v1::ORG_ROLE_REGISTRAR})),
          PutOp(Org(
              ssp2, "",
              {lufd::v1::ORG_ROLE_REGISTRANT, lufd::v1::ORG_ROLE_REGISTRAR})),
          PutOp(Org(ssp3, "", {lufd::v1::ORG_ROLE_PEER}))})
          .ok());
  // Since holdings (issue 8) a registrar provisions numbers only inside
  // its registrant's holdings: the registry allocates SSP2's blocks first.
  ASSERT_TRUE(Do(Admin(), {PutOp(Holding(lufd::v1::IDENTIFIER_KIND_TN,
                                         "+12025556666", ssp2)),
                           PutOp(Holding(lufd::v1::IDENTIFIER_KIND_TN_RANGE,
                                         "+12026660000", ssp2, "+12026669999")),
                           PutOp(Holding(lufd::v1::IDENTIFIER_KIND_TN_PREFIX,
                                         "+1202777", ssp2))})
                  .ok());
  const Identity ssp2_rar = Registrar(ssp2);
  auto r =
      Run(ssp2_rar,
          {PutOp(DestGroup("DESTGRP_SSP2_1", ssp2)),
           PutOp(Naptr("NAPTR_SSP2_1", ssp2, "sip:ssp2@sbe2.ssp2.example.com")),
           PutOp(Group("SED_SSP2_SBE2", ssp2, {"DESTGRP_SSP2_1"},
                       {"NAPTR_SSP2_1"})),
           PutOp(Tn("+12025556666", ssp2, {"DESTGRP_SSP2_1"})),
           PutOp(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000", ssp2,
                       {"DESTGRP_SSP2_1"}, "+12026669999")),
           PutOp(Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777", ssp2,
                       {"DESTGRP_SSP2_1"})),
           PutOp(Offer("SED_SSP2_SBE2", ssp1))});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> numbers = {"+12025556666", "+12026661234",
                                            "+12027770001"};
  for (const auto& n : numbers) {
    EXPECT_TRUE(Sees(n, Peer(ssp2))) << n;   // Owner.
    EXPECT_FALSE(Sees(n, Peer(ssp1))) << n;  // Offered, not yet accepted.
    EXPECT_FALSE(Sees(n, Peer(ssp3))) << n;
    EXPECT_FALSE(Sees(n, Identity{})) << n;
  }
  ASSERT_TRUE(Do(Registrar(ssp1), {AcceptOp("SED_SSP2_SBE2", ssp1)}).ok());
  for (const auto& n : numbers) {
    auto res = mem_.views.Current()->ResolveNumber(n, Peer(ssp1));
    ASSERT_TRUE(res.found) << n;
    ASSERT_EQ(res.records.size(), 1u);
    EXPECT_EQ(res.records[0].naptr().regexp(),
              "!^.*$!sip:ssp2@sbe2.ssp2.example.com!");
    EXPECT_EQ(res.records[0].ttl(), 3600u);
    EXPECT_FALSE(Sees(n, Peer(ssp3))) << n;  // An unrelated peer: never.
    EXPECT_FALSE(Sees(n, Identity{})) << n;
  }
  EXPECT_FALSE(Sees("+12028880000", Peer(ssp1)));
}

TEST_F(RegistryTest, HostileStringsRoundTripVerbatim) {
  const std::string org = "x-inj:';DROP_TABLE_objects;--\"";
  const std::string name = "Robert'); DROP TABLE orgs;-- \"quoted\" \\ %_ *";
  const std::string id = "dg';DELETE_FROM_changes;--\"\\";
  RegistryObject o = Org(org);
  o.mutable_org()->set_name(name);
  RegistryObject cred = Cred("c';--", org);
  cred.mutable_credential()->set_description("' OR '1'='1'; --");
  cred.mutable_credential()->set_san_uri("spiffe://x/';DROP");
  RegistryObject uri = Ident(lufd::v1::IDENTIFIER_KIND_URI,
                             "sip:o'brien;--@example.com", org, {id});
  RegistryObject rec = Naptr("rec'\"", org, "sip:o'hara@x.example");
  absl::Status s = Do(
      Admin(), {PutOp(o), PutOp(cred), PutOp(DestGroup(id, org)), PutOp(uri),
                PutOp(rec), PutOp(Group("g\"", org, {id}, {"rec'\""}, true))});
  ASSERT_TRUE(s.ok()) << s;
  auto got = Get(lufd::v1::OBJECT_KIND_ORG, org);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->org().name(), name);
  auto c = Get(lufd::v1::OBJECT_KIND_CREDENTIAL, "c';--");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->credential().description(), "' OR '1'='1'; --");
  EXPECT_EQ(c->credential().san_uri(), "spiffe://x/';DROP");
  EXPECT_TRUE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, id));
  auto res = mem_.views.Current()->ResolveUri("sip:o'brien;--@example.com",
                                              Identity{});
  ASSERT_TRUE(res.found);
  EXPECT_EQ(res.records[0].naptr().regexp(), "!^.*$!sip:o'hara@x.example!");
  // And what the store logged is the same bytes.
  auto audit = mem_.store->Audit(AuditQuery{});
  ASSERT_TRUE(audit.ok());
  bool found_name = false;
  for (const auto& ch : *audit) {
    if (ch.key() == org) found_name = ch.after().org().name() == name;
  }
  EXPECT_TRUE(found_name);
}

TEST_F(RegistryTest, BulkImportInOneBatch) {
  ASSERT_TRUE(
      Do(Admin(),
         {PutOp(Org("iana-en:bulk")), PutOp(DestGroup("dg", "iana-en:bulk")),
          PutOp(Naptr("r", "iana-en:bulk", "sip:x@y")),
          PutOp(Group("g", "iana-en:bulk", {"dg"}, {"r"}, true))})
          .ok());
  // Holdings need the registrant role.
  ASSERT_TRUE(
      Put(Admin(), Org("iana-en:bulk", "", {lufd::v1::ORG_ROLE_REGISTRANT}))
          .ok());
  ASSERT_TRUE(Put(Admin(), Holding(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1555",
                                   "iana-en:bulk"))
                  .ok());
  constexpr int kCount = 20000;
  std::vector<Operation> ops;
  ops.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    ops.push_back(PutOp(
        Tn("+1555" + std::to_string(1000000 + i), "iana-en:bulk", {"dg"})));
  }
  absl::Time start = absl::Now();
  auto r = Run(Registrar("iana-en:bulk"), ops);
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes(), static_cast<uint32_t>(kCount));
  EXPECT_EQ(mem_.views.Current()->Count(lufd::v1::OBJECT_KIND_IDENTIFIER),
            static_cast<size_t>(kCount));
  EXPECT_TRUE(Sees("+15551019999", Identity{}));
  EXPECT_LT(took, absl::Seconds(20));  // Generous: a shared CI machine.
  std::printf("bulk: %d TN puts (validate, commit, apply) in %s\n", kCount,
              absl::FormatDuration(took).c_str());
  // Deleting the dest group rewrites every TN in one batch.
  r = Run(Admin(), {DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changes(), static_cast<uint32_t>(kCount + 2));
  EXPECT_FALSE(Sees("+15551019999", Admin()));
}

TEST_F(RegistryTest, ConcurrentWritersRetryOnConflict) {
  ASSERT_TRUE(Put(Admin(), Org("iana-en:1")).ok());
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "dg-" + std::to_string(t) + "-" + std::to_string(i);
        absl::Status s = Put(Admin(), DestGroup(id, "iana-en:1"));
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << s;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem_.views.Current()->Count(lufd::v1::OBJECT_KIND_DEST_GROUP),
            static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(StoreSerial(), 1u + kThreads * kEach);
}

TEST_F(RegistryTest, RetriesWhenAnotherWriterCommittedFirst) {
  ASSERT_TRUE(Put(Admin(), Org("iana-en:1")).ok());
  // Another instance commits straight to the store; our follower polls
  // hourly and is not nudged, so our view is stale and the first commit
  // attempt gets ABORTED.
  CommitRequest other;
  other.actor = "other-instance";
  Mutation m;
  m.kind = lufd::v1::OBJECT_KIND_DEST_GROUP;
  m.key = "dg-other";
  m.after = DestGroup("dg-other", "iana-en:1");
  other.mutations.push_back(m);
  ASSERT_TRUE(mem_.store->Commit(other).ok());
  EXPECT_EQ(mem_.views.Current()->serial(), 1u);

  auto r = Run(Admin(), {PutOp(Tn("+111", "iana-en:1", {"dg-other"}))});
  ASSERT_TRUE(r.ok()) << r.status();  // Re-evaluated on the fresher view.
  EXPECT_EQ(r->serial(), 3u);
  EXPECT_EQ(mem_.views.Current()->serial(), 3u);

  // An unrelated write by the other instance: the batch is valid on the
  // stale view, the commit is ABORTED (expected serial 3, store at 4), and
  // the retry on the fresher view succeeds.
  other.mutations[0].key = "dg-other2";
  other.mutations[0].after = DestGroup("dg-other2", "iana-en:1");
  ASSERT_TRUE(mem_.store->Commit(other).ok());
  r = Run(Admin(), {PutOp(DestGroup("dg-mine", "iana-en:1"))});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->serial(), 5u);
  EXPECT_TRUE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-other2"));
  EXPECT_TRUE(Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-mine"));
}

// --- RFC 6116 non-terminal chain limit, enforced at write time ---------------

std::string ChainNumber(int i) { return "+4930100000" + std::to_string(i); }

// A NAPTR without flags that sends clients on to `domain`.
lufd::v1::SedRecord NonTerminal(const std::string& domain) {
  lufd::v1::SedRecord r;
  r.set_in_service(true);
  auto* n = r.mutable_naptr();
  n->set_order(10);
  n->set_preference(10);
  n->set_services("E2U+sip");
  n->set_replacement(domain);
  return r;
}

// TN ChainNumber(i) on "dg", pointing on to ChainNumber(next), or terminal
// when next < 0.
RegistryObject ChainTn(int i, int next) {
  RegistryObject o = Tn(ChainNumber(i), "iana-en:1", {"dg"});
  if (next >= 0) {
    *o.mutable_identifier()->add_records() =
        NonTerminal(E164ToEnumDomain(ChainNumber(next)));
  } else {
    *o.mutable_identifier()->add_records() =
        Naptr("", "", "sip:end@example.com").sed_record();
  }
  return o;
}

class NonTerminalChainTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    // An empty public group on "dg": inline records are served with it.
    ASSERT_TRUE(Do(Admin(), {PutOp(Org("iana-en:1")),
                             PutOp(DestGroup("dg", "iana-en:1")),
                             PutOp(Group("carrier", "iana-en:1", {"dg"}, {},
                                         /*is_public=*/true))})
                    .ok());
  }
  // Ops for the chain first -> ... -> last (each number points to the
  // next; `last` is terminal), head first.
  static std::vector<Operation> Chain(int first, int last) {
    std::vector<Operation> ops;
    for (int i = first; i < last; ++i) ops.push_back(PutOp(ChainTn(i, i + 1)));
    ops.push_back(PutOp(ChainTn(last, -1)));
    return ops;
  }
};

TEST_F(NonTerminalChainTest, FiveHopsAreAccepted) {
  auto r = Run(Admin(), Chain(0, 5));
  ASSERT_TRUE(r.ok()) << r.status();
  auto head = mem_.views.Current()->ResolveNumber(ChainNumber(0), Admin());
  ASSERT_EQ(head.records.size(), 1u);
  EXPECT_EQ(head.records[0].naptr().replacement(),
            E164ToEnumDomain(ChainNumber(1)));
}

TEST_F(NonTerminalChainTest, SixHopsInOneBatchAreRejected) {
  // Head first: the head's own put cannot see the rest yet, so the check
  // must run on the whole batch.
  uint64_t before = StoreSerial();
  auto r = Run(Admin(), Chain(0, 6));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 0: "));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("non-terminal chain longer than 5 hops"));
  EXPECT_EQ(StoreSerial(), before);
  // Tail first is the same chain.
  std::vector<Operation> reversed = Chain(0, 6);
  std::reverse(reversed.begin(), reversed.end());
  r = Run(Admin(), reversed);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("non-terminal chain longer than 5 hops"));
  EXPECT_EQ(StoreSerial(), before);
}

TEST_F(NonTerminalChainTest, SixthHopAddedAtTheHeadLaterIsRejected) {
  ASSERT_TRUE(Do(Admin(), Chain(1, 6)).ok());  // 5 hops: fine.
  auto r = Run(Admin(), {PutOp(Org("iana-en:1")), PutOp(ChainTn(0, 1))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 1: "));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("longer than 5 hops"));
  // A standalone SED record pointing at the chain's head is one more hop.
  RegistryObject rec = Naptr("nt", "iana-en:1", "unused");
  *rec.mutable_sed_record()->mutable_naptr() =
      NonTerminal(E164ToEnumDomain(ChainNumber(1))).naptr();
  EXPECT_THAT(std::string(Put(Admin(), rec).message()),
              HasSubstr("longer than 5 hops"));
  // One hop shorter is fine both ways.
  *rec.mutable_sed_record()->mutable_naptr() =
      NonTerminal(E164ToEnumDomain(ChainNumber(2))).naptr();
  EXPECT_TRUE(Put(Admin(), rec).ok());
  EXPECT_TRUE(Put(Admin(), ChainTn(7, 2)).ok());
}

TEST_F(NonTerminalChainTest, LoopsAreRejected) {
  auto r = Run(Admin(), {PutOp(ChainTn(0, 1)), PutOp(ChainTn(1, 2)),
                         PutOp(ChainTn(2, 0))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 0: "));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("loop"));
  // A number pointing at itself.
  EXPECT_THAT(std::string(Put(Admin(), ChainTn(3, 3)).message()),
              HasSubstr("loop"));
  // Closing a loop over existing data, through a standalone record in a
  // group: 1 -> 2 exists; a record served at 2 sends clients back to 1.
  ASSERT_TRUE(Do(Admin(), {PutOp(ChainTn(1, 2)), PutOp(ChainTn(2, -1))}).ok());
  RegistryObject back = Naptr("back", "iana-en:1", "unused");
  *back.mutable_sed_record()->mutable_naptr() =
      NonTerminal(E164ToEnumDomain(ChainNumber(1))).naptr();
  r = Run(Admin(), {PutOp(DestGroup("dg2", "iana-en:1")), PutOp(back),
                    PutOp(Group("g2", "iana-en:1", {"dg2"}, {"back"})),
                    PutOp(Tn(ChainNumber(2), "iana-en:1", {"dg2"}))});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("loop"));
  EXPECT_THAT(std::string(r.status().message()), StartsWith("operation 1: "));
}

TEST_F(NonTerminalChainTest, ChecksSeeGroupsAsTheBatchLeavesThem) {
  // 1..6 would be six hops, but the batch first takes the only group off
  // "dg", so no inline record is served and there is no chain at all.
  std::vector<Operation> ops = {
      PutOp(DestGroup("dg-other", "iana-en:1")),
      PutOp(Group("carrier", "iana-en:1", {"dg-other"}, {}, true))};
  for (const Operation& op : Chain(0, 6)) ops.push_back(op);
  EXPECT_TRUE(Do(Admin(), ops).ok());
  // Putting the group back on "dg" is not a NAPTR write and is not checked
  // (CheckChains documents this); a put of any chain TN is, through the
  // group as this batch leaves it.
  EXPECT_THAT(
      std::string(
          Do(Admin(), {PutOp(Group("carrier", "iana-en:1", {"dg"}, {}, true)),
                       PutOp(ChainTn(0, 1))})
              .message()),
      HasSubstr("longer than 5 hops"));
}

TEST_F(NonTerminalChainTest, TargetsOutsideE164ArpaAreNotFollowed) {
  RegistryObject o = Tn(ChainNumber(0), "iana-en:1", {"dg"});
  *o.mutable_identifier()->add_records() = NonTerminal("enum.example.com.");
  EXPECT_TRUE(Put(Admin(), o).ok());
}

RegistryObject DnsKeyObj(uint32_t tag) {
  RegistryObject o;
  auto* k = o.mutable_dns_key();
  k->set_zone("E164.arpa.");
  k->set_role(lufd::v1::DNS_KEY_ROLE_ZSK);
  k->set_algorithm(15);
  k->set_key_tag(tag);
  k->set_public_key(std::string(32, 'p'));
  k->set_state(lufd::v1::DNS_KEY_STATE_PUBLISHED);
  k->set_private_file("zsk.private");
  return o;
}

TEST_F(RegistryTest, DnsKeysAreAdminOnly) {
  SeedRegistrars();
  const Identity rar1 = Registrar("iana-en:rar1");
  EXPECT_EQ(Put(rar1, DnsKeyObj(1)).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Put(Peer("iana-en:ra"), DnsKeyObj(1)).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(Put(Admin(), DnsKeyObj(1)).ok());
  auto key = Get(lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./1");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->dns_key().flags(), 256u);
  // A registrar can neither see nor delete it (the fixed refusal, issue 8).
  EXPECT_EQ(
      mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./1")
          .status()
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(CanRead(rar1, *key));
  EXPECT_EQ(
      Do(rar1, {DelOp(lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./1")}).code(),
      absl::StatusCode::kPermissionDenied);
  RegistryObject bad = DnsKeyObj(2);
  bad.mutable_dns_key()->set_algorithm(13);  // 32-byte key: wrong size.
  EXPECT_EQ(Put(Admin(), bad).code(), absl::StatusCode::kInvalidArgument);
  // Multi-signer owner: an instance id (hex) and a displayable host name.
  RegistryObject owned = DnsKeyObj(3);
  owned.mutable_dns_key()->set_owner("0123456789abcdef");
  owned.mutable_dns_key()->set_owner_host("lufd-b.example.net");
  EXPECT_TRUE(Put(Admin(), owned).ok());
  owned.mutable_dns_key()->set_owner("not hex");
  EXPECT_EQ(Put(Admin(), owned).code(), absl::StatusCode::kInvalidArgument);
  owned.mutable_dns_key()->set_owner("0123456789abcdef");
  owned.mutable_dns_key()->set_owner_host("host\nname");
  EXPECT_EQ(Put(Admin(), owned).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./1")}).ok());
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./1"));
}

RegistryObject TsigCred(const std::string& id, const std::string& org,
                        const std::string& name) {
  RegistryObject o = Cred(id, org);
  auto* c = o.mutable_credential();
  c->clear_spki_sha256();
  c->set_tsig_key_name(name);
  c->set_tsig_secret(std::string(32, 's'));
  return o;
}

TEST_F(RegistryTest, TsigKeyNamesAreUnique) {
  SeedRegistrars();
  ASSERT_TRUE(Put(Admin(), TsigCred("t1", "iana-en:ra", "Peer-Key")).ok());
  EXPECT_EQ(mem_.views.Current()->FindTsigCredential("peer-key.")->id(), "t1");
  // Same name (any spelling) on another credential.
  absl::Status s = Put(Admin(), TsigCred("t2", "iana-en:rb", "peer-key."));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"t1\""));
  // Re-putting the holder is fine; so is a name freed earlier in a batch.
  EXPECT_TRUE(Put(Admin(), TsigCred("t1", "iana-en:ra", "peer-key.")).ok());
  EXPECT_TRUE(Do(Admin(), {PutOp(TsigCred("t1", "iana-en:ra", "other-key.")),
                           PutOp(TsigCred("t2", "iana-en:rb", "peer-key."))})
                  .ok());
  // Two credentials claiming one new name in one batch.
  s = Do(Admin(), {PutOp(TsigCred("t3", "iana-en:ra", "new-key.")),
                   PutOp(TsigCred("t4", "iana-en:rb", "new-key."))});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(Get(lufd::v1::OBJECT_KIND_CREDENTIAL, "t3"));
  // A disabled holder still owns its name.
  RegistryObject off = TsigCred("t1", "iana-en:ra", "other-key.");
  off.mutable_credential()->set_disabled(true);
  ASSERT_TRUE(Put(Admin(), off).ok());
  EXPECT_FALSE(mem_.views.Current()->FindTsigCredential("other-key."));
  EXPECT_EQ(Put(Admin(), TsigCred("t5", "iana-en:rb", "other-key.")).code(),
            absl::StatusCode::kAlreadyExists);
  // Registrars may not write credentials at all.
  EXPECT_EQ(
      Put(Registrar("iana-en:rar1"), TsigCred("t6", "iana-en:ra", "x.")).code(),
      absl::StatusCode::kPermissionDenied);
}

TEST_F(RegistryTest, ErrorsQuoteAtMostAHundredBytesOfAKey) {
  const std::string key(64 * 1024, 'k');
  absl::Status got =
      mem_.registry->Get(Admin(), lufd::v1::OBJECT_KIND_DEST_GROUP, key)
          .status();
  EXPECT_EQ(got.code(), absl::StatusCode::kNotFound);
  EXPECT_LT(got.message().size(), 200u);
  absl::Status del =
      Do(Admin(), {DelOp(lufd::v1::OBJECT_KIND_DEST_GROUP, key)});
  EXPECT_EQ(del.code(), absl::StatusCode::kNotFound);
  EXPECT_LT(del.message().size(), 200u);
  // A missing org named by a put (ids are capped by validation, so a
  // 100-byte one is the longest that gets this far).
  absl::Status missing_org =
      Put(Admin(), DestGroup("dg-q", "iana-en:" + std::string(90, 'x')));
  EXPECT_EQ(missing_org.code(), absl::StatusCode::kNotFound) << missing_org;
  EXPECT_LT(missing_org.message().size(), 200u);
}

TEST_F(RegistryTest, ClientTxnIdIsValidatedBeforeAnythingIsWritten) {
  const uint64_t before = StoreSerial();
  auto written = mem_.registry->Execute(Admin(), {PutOp(Org("iana-en:q1"))},
                                        "line one\nline two");
  EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument);
  written = mem_.registry->Execute(Admin(), {PutOp(Org("iana-en:q1"))},
                                   std::string(129, 't'));
  EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreSerial(), before);
  EXPECT_TRUE(
      mem_.registry
          ->Execute(Admin(), {PutOp(Org("iana-en:q1"))}, std::string(128, 't'))
          .ok());
}

TEST_F(RegistryTest, TsigSecretsAreRedactedForNonAdmins) {
  SeedRegistrars();
  ASSERT_TRUE(Put(Admin(), TsigCred("t1", "iana-en:ra", "peer-key.")).ok());
  auto admin =
      mem_.registry->Get(Admin(), lufd::v1::OBJECT_KIND_CREDENTIAL, "t1");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->credential().tsig_secret(), std::string(32, 's'));
  const Identity rar1 = Registrar("iana-en:rar1");
  auto mine = mem_.registry->Get(rar1, lufd::v1::OBJECT_KIND_CREDENTIAL, "t1");
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->credential().tsig_key_name(), "peer-key.");
  EXPECT_TRUE(mine->credential().tsig_secret().empty());
  RegistryObject o = *admin;
  EXPECT_TRUE(NeedsRedaction(rar1, o));
  EXPECT_FALSE(NeedsRedaction(Admin(), o));
  lufd::v1::Change change;
  *change.mutable_before() = o;
  *change.mutable_after() = o;
  RedactSecrets(rar1, &change);
  EXPECT_TRUE(change.before().credential().tsig_secret().empty());
  EXPECT_TRUE(change.after().credential().tsig_secret().empty());
}

}  // namespace
}  // namespace lufd
