// The authorization rules (server/core/authz.h) as tables: role x object
// ownership x operation, the RPC role table against the proto services, and
// the resolution visibility predicate.
#include "server/core/authz.h"

#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "tests/unit/testing/objects.h"

namespace lufd {
namespace {

using lufd::v1::RegistryObject;
using testing::DestGroup;
using testing::Group;
using testing::Offer;

RegistryObject Org(const std::string& id, const std::string& registrar) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_registrar_id(registrar);
  return o;
}

RegistryObject Credential(const std::string& id, const std::string& org) {
  RegistryObject o;
  o.mutable_credential()->set_id(id);
  o.mutable_credential()->set_org_id(org);
  o.mutable_credential()->set_role(lufd::v1::ROLE_PEER);
  o.mutable_credential()->set_tsig_secret("c2VjcmV0");
  return o;
}

RegistryObject DnsKey() {
  RegistryObject o;
  o.mutable_dns_key()->set_zone("e164.arpa.");
  o.mutable_dns_key()->set_key_tag(1);
  return o;
}

// rar1 is the registrar of ra; rar2 of rb. sg-ra is offered to rb, sg-rb to
// ra, and sg-rb also to rc (nothing of rar1's).
std::vector<RegistryObject> Registry() {
  return {Org("iana-en:rar1", ""),
          Org("iana-en:rar2", ""),
          Org("iana-en:ra", "iana-en:rar1"),
          Org("iana-en:rb", "iana-en:rar2"),
          Org("iana-en:rc", "iana-en:rar2"),
          Credential("cred-ra", "iana-en:ra"),
          Credential("cred-rb", "iana-en:rb"),
          DestGroup("dg-ra", "iana-en:ra"),
          DestGroup("dg-rb", "iana-en:rb"),
          Group("sg-ra", "iana-en:ra", {"dg-ra"}, {}),
          Group("sg-rb", "iana-en:rb", {"dg-rb"}, {}),
          Offer("sg-ra", "iana-en:rb"),
          Offer("sg-rb", "iana-en:ra"),
          Offer("sg-rb", "iana-en:rc"),
          DnsKey()};
}

class AuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegistryView::Builder builder;
    for (const RegistryObject& o : Registry()) {
      builder.Add(KindOf(o), KeyOf(o), o);
    }
    view_ = std::move(builder).Build(1);
  }
  RegistryObject Object(lufd::v1::ObjectKind kind, const std::string& key) {
    std::optional<RegistryObject> o = view_->Get(kind, key);
    EXPECT_TRUE(o.has_value()) << key;
    return o.value_or(RegistryObject());
  }

  std::shared_ptr<const RegistryView> view_;
};

const Identity kAdmin{"iana-en:admin", "a1", lufd::v1::ROLE_ADMIN};
const Identity kRar1{"iana-en:rar1", "r1", lufd::v1::ROLE_REGISTRAR};
const Identity kPeerRa{"iana-en:ra", "p1", lufd::v1::ROLE_PEER};
const Identity kOrglessRegistrar{"", "r0", lufd::v1::ROLE_REGISTRAR};
const Identity kAnonymous{};

TEST_F(AuthzTest, ReadAndDeleteByRoleAndOwnership) {
  struct Row {
    lufd::v1::ObjectKind kind;
    const char* key;
    // For admin, registrar rar1, peer ra, an org-less registrar, anonymous.
    bool read[5];
    bool write[5];
  };
  using K = lufd::v1::ObjectKind;
  // clang-format off
  const Row rows[] = {
      // object                  read: A  R1  P  R0  -   write: A  R1  P R0 -
      {K::OBJECT_KIND_ORG, "iana-en:ra", {1, 1, 0, 0, 0}, {1, 1, 0, 0, 0}},
      {K::OBJECT_KIND_ORG, "iana-en:rar1", {1, 1, 0, 0, 0}, {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_ORG, "iana-en:rb", {1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_CREDENTIAL, "cred-ra", {1, 1, 0, 0, 0}, {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_CREDENTIAL, "cred-rb", {1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_DEST_GROUP, "dg-ra", {1, 1, 0, 0, 0}, {1, 1, 0, 0, 0}},
      {K::OBJECT_KIND_DEST_GROUP, "dg-rb", {1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_SED_GROUP, "sg-ra", {1, 1, 0, 0, 0}, {1, 1, 0, 0, 0}},
      {K::OBJECT_KIND_SED_GROUP, "sg-rb", {1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}},
      // Offered by a managed org: read and write.
      {K::OBJECT_KIND_OFFER, "sg-ra|iana-en:rb", {1, 1, 0, 0, 0},
       {1, 1, 0, 0, 0}},
      // Offered to a managed org: read (and decide), not write.
      {K::OBJECT_KIND_OFFER, "sg-rb|iana-en:ra", {1, 1, 0, 0, 0},
       {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_OFFER, "sg-rb|iana-en:rc", {1, 0, 0, 0, 0},
       {1, 0, 0, 0, 0}},
      {K::OBJECT_KIND_DNS_KEY, "e164.arpa./1", {1, 0, 0, 0, 0},
       {1, 0, 0, 0, 0}},
  };
  // clang-format on
  const Identity* actors[] = {&kAdmin, &kRar1, &kPeerRa, &kOrglessRegistrar,
                              &kAnonymous};
  for (const Row& row : rows) {
    RegistryObject object = Object(row.kind, row.key);
    for (int a = 0; a < 5; ++a) {
      ViewAccess access(*view_, *actors[a]);
      EXPECT_EQ(access.CanRead(object), row.read[a])
          << row.key << " read by " << actors[a]->AuditName();
      EXPECT_EQ(access.rules().CanWrite(object), row.write[a])
          << row.key << " written by " << actors[a]->AuditName();
    }
  }
}

TEST_F(AuthzTest, PutRulesByRoleAndOwnership) {
  ViewAccess admin(*view_, kAdmin), rar1(*view_, kRar1), peer(*view_, kPeerRa),
      orgless(*view_, kOrglessRegistrar);
  // Who may write at all, and which kinds.
  EXPECT_TRUE(admin.rules().MayWrite());
  EXPECT_TRUE(rar1.rules().MayWrite());
  EXPECT_FALSE(peer.rules().MayWrite());
  EXPECT_FALSE(orgless.rules().MayWrite());
  for (auto kind :
       {lufd::v1::OBJECT_KIND_CREDENTIAL, lufd::v1::OBJECT_KIND_DNS_KEY}) {
    EXPECT_TRUE(admin.rules().MayPutKind(kind));
    EXPECT_FALSE(rar1.rules().MayPutKind(kind));
  }
  EXPECT_TRUE(rar1.rules().MayPutKind(lufd::v1::OBJECT_KIND_DEST_GROUP));
  EXPECT_FALSE(peer.rules().MayPutKind(lufd::v1::OBJECT_KIND_DEST_GROUP));

  // Registrant-owned objects: both the new and the existing owner managed.
  RegistryObject mine = DestGroup("dg-ra", "iana-en:ra");
  RegistryObject theirs = Object(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg-rb");
  EXPECT_TRUE(rar1.rules().CanPutOwned(mine, nullptr));
  EXPECT_FALSE(rar1.rules().CanPutOwned(mine, &theirs));
  EXPECT_FALSE(rar1.rules().CanPutOwned(theirs, nullptr));
  EXPECT_TRUE(admin.rules().CanPutOwned(theirs, &mine));
  EXPECT_TRUE(rar1.rules().CanReference(mine));
  EXPECT_FALSE(rar1.rules().CanReference(theirs));

  // Orgs: a registrar creates only its own registrants, registrant/peer
  // roles, no quota; it never changes their registrar, roles or quota.
  lufd::v1::Org fresh = Org("iana-en:new", "iana-en:rar1").org();
  fresh.add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
  EXPECT_TRUE(rar1.rules().CheckOrgPut(fresh, nullptr).ok());
  lufd::v1::Org elsewhere = fresh;
  elsewhere.set_registrar_id("iana-en:rar2");
  EXPECT_EQ(rar1.rules().CheckOrgPut(elsewhere, nullptr).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(admin.rules().CheckOrgPut(elsewhere, nullptr).ok());
  lufd::v1::Org promoted = fresh;
  promoted.add_roles(lufd::v1::ORG_ROLE_REGISTRAR);
  EXPECT_EQ(rar1.rules().CheckOrgPut(promoted, nullptr).code(),
            absl::StatusCode::kPermissionDenied);
  lufd::v1::Org with_quota = fresh;
  with_quota.mutable_quota()->set_lookups_per_second(5);
  EXPECT_EQ(rar1.rules().CheckOrgPut(with_quota, nullptr).code(),
            absl::StatusCode::kPermissionDenied);
  RegistryObject ra = Object(lufd::v1::OBJECT_KIND_ORG, "iana-en:ra");
  lufd::v1::Org ra_with_role = ra.org();
  ra_with_role.add_roles(lufd::v1::ORG_ROLE_PEER);
  EXPECT_TRUE(rar1.rules().CheckOrgPut(ra.org(), &ra).ok());
  EXPECT_EQ(rar1.rules().CheckOrgPut(ra_with_role, &ra).code(),
            absl::StatusCode::kPermissionDenied);

  // Offers are decided by the receiving side.
  EXPECT_TRUE(rar1.rules().CanDecide(
      Object(lufd::v1::OBJECT_KIND_OFFER, "sg-rb|iana-en:ra").offer()));
  EXPECT_FALSE(rar1.rules().CanDecide(
      Object(lufd::v1::OBJECT_KIND_OFFER, "sg-ra|iana-en:rb").offer()));
}

TEST_F(AuthzTest, ChangeIsReadableWhenEitherImageIs) {
  lufd::v1::Change moved_in;
  *moved_in.mutable_before() = DestGroup("dg-x", "iana-en:rb");
  *moved_in.mutable_after() = DestGroup("dg-x", "iana-en:ra");
  lufd::v1::Change deleted_mine;
  *deleted_mine.mutable_before() = DestGroup("dg-x", "iana-en:ra");
  lufd::v1::Change theirs;
  *theirs.mutable_after() = DestGroup("dg-x", "iana-en:rb");
  ViewAccess rar1(*view_, kRar1), admin(*view_, kAdmin);
  EXPECT_TRUE(rar1.CanReadChange(moved_in));
  EXPECT_TRUE(rar1.CanReadChange(deleted_mine));
  EXPECT_FALSE(rar1.CanReadChange(theirs));
  EXPECT_TRUE(admin.CanReadChange(theirs));
  EXPECT_TRUE(admin.rules().ReadsEverything());
  EXPECT_FALSE(rar1.rules().ReadsEverything());
  EXPECT_TRUE(admin.CanReadChange(lufd::v1::Change()));
}

TEST_F(AuthzTest, RulesJudgeTheViewTheyAreGiven) {
  // The offer of sg-rb to rc becomes readable to rar1 in a view where rar1
  // is rc's registrar; the old view still says no.
  RegistryView::Builder builder;
  for (RegistryObject o : Registry()) {
    if (o.has_org() && o.org().id() == "iana-en:rc") {
      o.mutable_org()->set_registrar_id("iana-en:rar1");
    }
    builder.Add(KindOf(o), KeyOf(o), o);
  }
  std::shared_ptr<const RegistryView> later = std::move(builder).Build(2);
  RegistryObject offer =
      Object(lufd::v1::OBJECT_KIND_OFFER, "sg-rb|iana-en:rc");
  EXPECT_FALSE(ViewAccess(*view_, kRar1).CanRead(offer));
  EXPECT_TRUE(ViewAccess(*later, kRar1).CanRead(offer));
}

TEST(AuthzRedactionTest, OnlyAdminsReadTsigSecrets) {
  RegistryObject cred = Credential("c", "iana-en:ra");
  EXPECT_FALSE(NeedsRedaction(kAdmin, cred));
  for (const Identity* reader : {&kRar1, &kPeerRa, &kAnonymous}) {
    RegistryObject copy = cred;
    EXPECT_TRUE(NeedsRedaction(*reader, copy));
    RedactSecrets(*reader, &copy);
    EXPECT_TRUE(copy.credential().tsig_secret().empty());
    EXPECT_EQ(copy.credential().id(), "c");
  }
  lufd::v1::Change change;
  *change.mutable_before() = cred;
  *change.mutable_after() = cred;
  RedactSecrets(kRar1, &change);
  EXPECT_TRUE(change.before().credential().tsig_secret().empty());
  EXPECT_TRUE(change.after().credential().tsig_secret().empty());
  EXPECT_FALSE(NeedsRedaction(kRar1, DestGroup("d", "iana-en:ra")));
}

TEST(AuthzRpcTest, TableCoversExactlyTheServiceMethods) {
  std::set<std::string> in_protos;
  for (const char* service :
       {"lufd.v1.LookupService", "lufd.v1.AdminService"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    ASSERT_NE(descriptor, nullptr) << service;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      // Method names are the table's keys: unique across both services.
      EXPECT_TRUE(in_protos.insert(descriptor->method(i)->name()).second)
          << descriptor->method(i)->name();
    }
  }
  std::set<std::string> in_table;
  for (const RpcRule& rule : RpcRoleTable()) {
    EXPECT_TRUE(in_table.insert(rule.method).second) << rule.method;
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            rule.service);
    ASSERT_NE(descriptor, nullptr) << rule.service;
    EXPECT_NE(descriptor->FindMethodByName(rule.method), nullptr)
        << rule.service << "/" << rule.method;
  }
  EXPECT_EQ(in_table, in_protos);
}

TEST(AuthzRpcTest, RolesPerMethod) {
  struct Row {
    const char* method;
    bool peer, registrar, admin;
  };
  // clang-format off
  const Row rows[] = {
      {"Lookup", 1, 0, 1},         {"BatchLookup", 1, 0, 1},
      {"Put", 0, 1, 1},            {"Delete", 0, 1, 1},
      {"Batch", 0, 1, 1},          {"AcceptOffer", 0, 1, 1},
      {"RejectOffer", 0, 1, 1},    {"Get", 0, 1, 1},
      {"List", 0, 1, 1},           {"Export", 0, 1, 1},
      {"Import", 0, 1, 1},         {"Audit", 0, 1, 1},
      {"GetServerInfo", 0, 1, 1},  {"GenerateDnsKey", 0, 0, 1},
      {"RolloverDnsKey", 0, 0, 1}, {"GetDs", 0, 0, 1},
      {"NoSuchMethod", 0, 0, 0},
  };
  // clang-format on
  for (const Row& row : rows) {
    EXPECT_EQ(AuthorizeRpc(kPeerRa, row.method).ok(), row.peer) << row.method;
    EXPECT_EQ(AuthorizeRpc(kRar1, row.method).ok(), row.registrar)
        << row.method;
    EXPECT_EQ(AuthorizeRpc(kAdmin, row.method).ok(), row.admin) << row.method;
    EXPECT_FALSE(AuthorizeRpc(kAnonymous, row.method).ok()) << row.method;
  }
  absl::Status denied = AuthorizeRpc(kPeerRa, "Put");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "role ROLE_PEER may not call this method");
}

TEST(AuthzVisibilityTest, SedGroupVisibility) {
  auto group = [](const std::string& owner, bool is_public) {
    return Group("g", owner, {}, {}, is_public).sed_group();
  };
  const Identity anonymous_with_role{"", "", lufd::v1::ROLE_PEER};
  struct Row {
    const Identity* viewer;
    bool is_public;
    bool accepted;
    bool visible;
  };
  const Row rows[] = {
      {&kAdmin, false, false, true},
      {&kAnonymous, true, false, true},
      {&kAnonymous, false, true, false},
      {&anonymous_with_role, false, true, false},
      {&kPeerRa, false, false, true},  // Its own group (owner ra).
      {&kRar1, false, true, true},
      {&kRar1, false, false, false},
      {&kRar1, true, false, true},
  };
  for (const Row& row : rows) {
    bool asked = false;
    const bool visible =
        SedGroupVisible(group("iana-en:ra", row.is_public), *row.viewer, [&] {
          asked = true;
          return row.accepted;
        });
    EXPECT_EQ(visible, row.visible) << row.viewer->AuditName();
    // The offer lookup is paid only by a non-owner, identified viewer of a
    // private group.
    EXPECT_EQ(asked, !row.viewer->is_admin() && !row.is_public &&
                         !row.viewer->anonymous() &&
                         row.viewer->org_id != "iana-en:ra")
        << row.viewer->AuditName();
  }
  std::string admin, anonymous, ra, rb;
  AppendViewerClass(kAdmin, &admin);
  AppendViewerClass(kAnonymous, &anonymous);
  AppendViewerClass(kPeerRa, &ra);
  AppendViewerClass(Identity{"iana-en:rb", "x", lufd::v1::ROLE_PEER}, &rb);
  EXPECT_EQ(std::set<std::string>({admin, anonymous, ra, rb}).size(), 4u);
}

}  // namespace
}  // namespace lufd
