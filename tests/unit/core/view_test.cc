// RegistryView: build, apply, resolution rules, visibility, ordering,
// referrers, credential lookup and copy-on-write isolation.
#include "server/core/view.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "tests/unit/testing/objects.h"

// Counts this thread's allocations while `counting` is set (the allocation
// test of HasVisibleIdentifiersBelow); otherwise the default behaviour.
namespace {
thread_local bool counting = false;
thread_local size_t allocations = 0;
}  // namespace
void* operator new(size_t n) {
  if (counting) ++allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
// The nothrow forms too: a free() here of memory from the toolchain's (or
// ASan's) nothrow new would be an alloc-dealloc mismatch (std::stable_sort's
// temporary buffer uses it).
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace lufd {
namespace {

using lufd::v1::Change;
using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;
using testing::DestGroup;
using ::testing::ElementsAre;
using testing::Ident;
using ::testing::IsEmpty;
using testing::Offer;
using ::testing::Pair;
using testing::Tn;
using ::testing::UnorderedElementsAre;

RegistryObject Org(const std::string& id, bool disabled = false) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  o.mutable_org()->set_disabled(disabled);
  return o;
}

lufd::v1::SedRecord NaptrRec(uint32_t order, uint32_t pref,
                             const std::string& target, uint32_t ttl = 0) {
  lufd::v1::SedRecord r;
  r.set_ttl(ttl);
  r.set_in_service(true);
  auto* n = r.mutable_naptr();
  n->set_order(order);
  n->set_preference(pref);
  n->set_flags("u");
  n->set_services("E2U+sip");
  n->set_regexp("!^.*$!sip:" + target + "!");
  return r;
}

RegistryObject Record(const std::string& id, const std::string& reg,
                      lufd::v1::SedRecord r) {
  r.set_id(id);
  r.set_registrant_id(reg);
  RegistryObject o;
  *o.mutable_sed_record() = r;
  return o;
}

RegistryObject UriRecord(const std::string& id, const std::string& reg,
                         uint32_t prio, uint32_t weight) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(reg);
  r->set_in_service(true);
  r->mutable_uri()->set_priority(prio);
  r->mutable_uri()->set_weight(weight);
  r->mutable_uri()->set_target("sip:" + id + "@example.net");
  return o;
}

RegistryObject NsRecord(const std::string& id, const std::string& reg) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(reg);
  r->set_in_service(true);
  r->mutable_ns()->set_host("ns." + id + ".example.");
  return o;
}

// Unlike testing::Group, records get rising priorities and the group's
// service flag and priority are parameters: the view's ordering tests need
// them.
RegistryObject Group(const std::string& id, const std::string& reg,
                     std::vector<std::string> dgs,
                     std::vector<std::string> records, bool is_public = false,
                     bool in_service = true, uint32_t priority = 0) {
  RegistryObject o;
  auto* g = o.mutable_sed_group();
  g->set_id(id);
  g->set_registrant_id(reg);
  for (auto& d : dgs) g->add_dest_group_ids(d);
  uint32_t p = 0;
  for (auto& r : records) {
    auto* ref = g->add_records();
    ref->set_record_id(r);
    ref->set_priority(p++);
  }
  g->set_public_(is_public);
  g->set_in_service(in_service);
  g->set_priority(priority);
  return o;
}

RegistryObject Cred(const std::string& id, const std::string& org,
                    const std::string& spki, const std::string& san,
                    bool disabled = false) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id(id);
  c->set_org_id(org);
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_spki_sha256(spki);
  c->set_san_uri(san);
  c->set_disabled(disabled);
  return o;
}

Identity Peer(const std::string& org) {
  return Identity{org, "c-" + org, lufd::v1::ROLE_PEER};
}
Identity Admin() { return Identity{"admin", "c-admin", lufd::v1::ROLE_ADMIN}; }
Identity Anonymous() { return Identity{}; }

// Builds a view from objects, and makes changes for Apply.
class ViewTest : public ::testing::Test {
 protected:
  std::shared_ptr<const RegistryView> Build(
      const std::vector<RegistryObject>& objects, uint64_t serial = 1) {
    RegistryView::Builder builder;
    for (const auto& o : objects) builder.Add(KindOf(o), KeyOf(o), o);
    return std::move(builder).Build(serial);
  }

  static Change Put(uint64_t serial, const RegistryObject& o) {
    Change c;
    c.set_serial(serial);
    c.set_kind(KindOf(o));
    c.set_key(KeyOf(o));
    *c.mutable_after() = o;
    return c;
  }
  static Change Del(uint64_t serial, ObjectKind kind, const std::string& key) {
    Change c;
    c.set_serial(serial);
    c.set_kind(kind);
    c.set_key(key);
    c.set_deleted(true);
    return c;
  }

  static std::vector<std::string> Targets(const Resolution& r) {
    std::vector<std::string> out;
    for (const auto& a : r.records) {
      if (a.has_naptr()) out.push_back(a.naptr().regexp());
      if (a.has_uri()) out.push_back(a.uri().target());
      if (a.has_ns()) out.push_back(a.ns().host());
    }
    return out;
  }

  // A base registry: org "reg" owns dest group dg with a public group "pub"
  // holding record r1.
  std::vector<RegistryObject> Base() {
    return {Org("reg"),
            Org("peer1"),
            Org("peer2"),
            DestGroup("dg", "reg"),
            Record("r1", "reg", NaptrRec(10, 10, "base")),
            Group("pub", "reg", {"dg"}, {"r1"}, /*is_public=*/true)};
  }
};

TEST_F(ViewTest, EmptyView) {
  auto v = RegistryView::Empty();
  EXPECT_EQ(v->serial(), 0u);
  EXPECT_EQ(v->Count(lufd::v1::OBJECT_KIND_ORG), 0u);
  EXPECT_FALSE(v->ResolveNumber("+12025556666", Admin()).found);
  EXPECT_FALSE(v->Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+1").has_value());
}

TEST_F(ViewTest, BuildGetCountForEach) {
  auto objects = Base();
  objects.push_back(Tn("+12025556666", "reg", {"dg"}));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777", "reg", {"dg"}));
  auto v = Build(objects, 7);
  EXPECT_EQ(v->serial(), 7u);
  EXPECT_EQ(v->Count(lufd::v1::OBJECT_KIND_ORG), 3u);
  EXPECT_EQ(v->Count(lufd::v1::OBJECT_KIND_IDENTIFIER), 2u);
  auto tn = v->Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666");
  ASSERT_TRUE(tn.has_value());
  EXPECT_EQ(tn->identifier().value(), "+12025556666");
  EXPECT_EQ(tn->identifier().kind(), lufd::v1::IDENTIFIER_KIND_TN);
  EXPECT_EQ(tn->identifier().registrant_id(), "reg");
  EXPECT_THAT(tn->identifier().dest_group_ids(), ElementsAre("dg"));

  std::vector<std::string> keys;
  v->ForEach(lufd::v1::OBJECT_KIND_IDENTIFIER,
             [&](absl::string_view key, const RegistryObject& o) {
               EXPECT_EQ(KeyOf(o), key);
               keys.emplace_back(key);
               return true;
             });
  EXPECT_THAT(keys, UnorderedElementsAre("tn:+12025556666", "prefix:+1202777"));
  int visited = 0;
  v->ForEach(lufd::v1::OBJECT_KIND_ORG, [&](absl::string_view, const auto&) {
    ++visited;
    return false;  // Stops early.
  });
  EXPECT_EQ(visited, 1);
}

TEST_F(ViewTest, SpecificityTnThenNarrowestRangeThenLongestPrefix) {
  auto objects = Base();
  for (const char* dg : {"dg-tn", "dg-wide", "dg-narrow", "dg-p3", "dg-p6"}) {
    objects.push_back(DestGroup(dg, "reg"));
    objects.push_back(
        Record(std::string("rec-") + dg, "reg", NaptrRec(1, 1, dg)));
    objects.push_back(Group(std::string("g-") + dg, "reg", {dg},
                            {std::string("rec-") + dg}, true));
  }
  objects.push_back(Tn("+12025550001", "reg", {"dg-tn"}));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12025550000",
                          "reg", {"dg-wide"}, "+12025559999"));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12025550000",
                          "reg", {"dg-narrow"}, "+12025550099"));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+120", "reg", {"dg-p3"}));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+120255", "reg", {"dg-p6"}));
  auto v = Build(objects);
  auto target = [&](const std::string& n) {
    auto r = v->ResolveNumber(n, Anonymous());
    EXPECT_EQ(r.normalized, n);
    return r.found ? Targets(r).at(0) : std::string("none");
  };
  EXPECT_EQ(target("+12025550001"), "!^.*$!sip:dg-tn!");
  EXPECT_EQ(target("+12025550002"), "!^.*$!sip:dg-narrow!");
  EXPECT_EQ(target("+12025550100"), "!^.*$!sip:dg-wide!");
  EXPECT_EQ(target("+12025559999"), "!^.*$!sip:dg-wide!");
  EXPECT_EQ(target("+1202555"), "!^.*$!sip:dg-p6!");  // Shorter: no range.
  EXPECT_EQ(target("+120255600000"), "!^.*$!sip:dg-p6!");
  EXPECT_EQ(target("+12030000000"), "!^.*$!sip:dg-p3!");
  EXPECT_EQ(target("+13030000000"), "none");
  EXPECT_EQ(target("12025550001"), "none");  // Not normalized.
}

TEST_F(ViewTest, OverlappingRangesPickNarrowest) {
  auto objects = Base();
  objects.push_back(DestGroup("dg2", "reg"));
  objects.push_back(Record("r2", "reg", NaptrRec(1, 1, "narrow")));
  objects.push_back(Group("g2", "reg", {"dg2"}, {"r2"}, true));
  // A wide range that starts early, a narrow one in the middle, and a
  // disjoint one after it: the scan must skip past the disjoint one.
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+15550000000",
                          "reg", {"dg"}, "+15559999999"));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+15551000000",
                          "reg", {"dg2"}, "+15551000999"));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+15551000500",
                          "reg", {"dg"}, "+15551000501"));
  auto v = Build(objects);
  EXPECT_THAT(Targets(v->ResolveNumber("+15551000700", Anonymous())),
              ElementsAre("!^.*$!sip:narrow!"));
  EXPECT_THAT(Targets(v->ResolveNumber("+15552000000", Anonymous())),
              ElementsAre("!^.*$!sip:base!"));
}

TEST_F(ViewTest, VisibilityMatrix) {
  auto objects = Base();
  objects.push_back(Org("owner"));
  objects.push_back(Org("stranger"));
  objects.push_back(DestGroup("odg", "owner"));
  objects.push_back(Record("orec", "owner", NaptrRec(1, 1, "private")));
  objects.push_back(Group("priv", "owner", {"odg"}, {"orec"}));
  objects.push_back(Tn("+4930123456", "owner", {"odg"}));
  objects.push_back(Offer("priv", "peer1", lufd::v1::OFFER_STATUS_ACCEPTED));
  objects.push_back(Offer("priv", "peer2", lufd::v1::OFFER_STATUS_PENDING));
  objects.push_back(Org("peer3"));
  objects.push_back(Offer("priv", "peer3", lufd::v1::OFFER_STATUS_REJECTED));
  auto v = Build(objects);
  auto sees = [&](const Identity& who) {
    return v->ResolveNumber("+4930123456", who).found;
  };
  EXPECT_TRUE(sees(Admin()));
  EXPECT_TRUE(sees(Peer("owner")));
  EXPECT_TRUE(sees(Peer("peer1")));      // Accepted.
  EXPECT_FALSE(sees(Peer("peer2")));     // Pending.
  EXPECT_FALSE(sees(Peer("peer3")));     // Rejected.
  EXPECT_FALSE(sees(Peer("stranger")));  // Unrelated.
  EXPECT_FALSE(sees(Anonymous()));
  // Not visible looks exactly like not found.
  auto hidden = v->ResolveNumber("+4930123456", Peer("stranger"));
  auto missing = v->ResolveNumber("+4930999999", Peer("stranger"));
  EXPECT_EQ(hidden.found, missing.found);
  EXPECT_EQ(hidden.records.size(), missing.records.size());

  // Public: everyone including anonymous.
  auto v2 = Build(Base());
  auto v3 = *v2->Apply({Put(2, Tn("+111", "reg", {"dg"}))});
  for (const auto& who :
       {Admin(), Peer("peer1"), Peer("nobody"), Anonymous()}) {
    EXPECT_TRUE(v3->ResolveNumber("+111", who).found) << who.org_id;
  }
}

TEST_F(ViewTest, OutOfServiceGroupsAndRecordsAreSkipped) {
  auto objects = Base();
  objects.push_back(Record("r2", "reg", NaptrRec(5, 5, "second")));
  auto off = NaptrRec(1, 1, "off");
  off.set_in_service(false);
  objects.push_back(Record("r3", "reg", off));
  objects.push_back(Group("g-off", "reg", {"dg"}, {"r2"}, true,
                          /*in_service=*/false));
  objects.push_back(Group("g-on", "reg", {"dg"}, {"r3"}, true));
  objects.push_back(Tn("+111", "reg", {"dg"}));
  auto v = Build(objects);
  EXPECT_THAT(Targets(v->ResolveNumber("+111", Admin())),
              ElementsAre("!^.*$!sip:base!"));
}

TEST_F(ViewTest, OrderingTtlAndDedup) {
  auto objects = Base();
  objects.push_back(Record("n1", "reg", NaptrRec(20, 5, "n20-5", 60)));
  objects.push_back(Record("n2", "reg", NaptrRec(10, 20, "n10-20")));
  objects.push_back(Record("n3", "reg", NaptrRec(10, 5, "n10-5")));
  objects.push_back(Record("dup", "reg", NaptrRec(10, 5, "n10-5")));
  objects.push_back(UriRecord("u2", "reg", 2, 1));
  objects.push_back(UriRecord("u1", "reg", 1, 7));
  objects.push_back(NsRecord("ns", "reg"));
  objects.push_back(Group("g1", "reg", {"dg"}, {"ns", "u2", "n1", "n2"}, true));
  objects.push_back(Group("g2", "reg", {"dg"}, {"u1", "n3", "dup"}, true));
  objects.push_back(Tn("+111", "reg", {"dg"}));
  auto v = Build(objects);
  auto r = v->ResolveNumber("+111", Anonymous());
  EXPECT_THAT(Targets(r), ElementsAre("!^.*$!sip:n10-5!", "!^.*$!sip:base!",
                                      "!^.*$!sip:n10-20!", "!^.*$!sip:n20-5!",
                                      "sip:u1@example.net",
                                      "sip:u2@example.net", "ns.ns.example."));
  ASSERT_EQ(r.records.size(), 7u);
  EXPECT_EQ(r.records[0].ttl(), 3600u);  // Default.
  EXPECT_EQ(r.records[3].ttl(), 60u);
}

TEST_F(ViewTest, InlineRecordsOnlyWithAVisibleGroup) {
  auto objects = Base();
  objects.push_back(Org("owner"));
  objects.push_back(DestGroup("odg", "owner"));
  objects.push_back(Group("priv", "owner", {"odg"}, {}));
  auto tn = Tn("+222", "owner", {"odg"});
  *tn.mutable_identifier()->add_records() = NaptrRec(1, 1, "inline");
  objects.push_back(tn);
  auto tn2 = Tn("+333", "reg", {"dg"});
  *tn2.mutable_identifier()->add_records() = NaptrRec(50, 1, "inline2");
  objects.push_back(tn2);
  auto v = Build(objects);
  EXPECT_THAT(Targets(v->ResolveNumber("+222", Peer("owner"))),
              ElementsAre("!^.*$!sip:inline!"));
  EXPECT_FALSE(v->ResolveNumber("+222", Peer("peer1")).found);
  EXPECT_THAT(Targets(v->ResolveNumber("+333", Anonymous())),
              ElementsAre("!^.*$!sip:base!", "!^.*$!sip:inline2!"));
}

// The group part of an answer is cached per (view, thread, destination
// groups, viewer class): a newer view, another viewer or another set of
// destination groups must never get an older or foreign answer.
TEST_F(ViewTest, GroupAnswersAreNotReusedAcrossViewsOrViewers) {
  auto objects = Base();
  objects.push_back(Org("owner"));
  objects.push_back(DestGroup("odg", "owner"));
  objects.push_back(Record("orec", "owner", NaptrRec(1, 1, "private")));
  objects.push_back(Group("priv", "owner", {"odg"}, {"orec"}));
  objects.push_back(Tn("+4930123456", "owner", {"odg"}));
  objects.push_back(Tn("+4930123457", "owner", {"odg", "dg"}));
  objects.push_back(Offer("priv", "peer1", lufd::v1::OFFER_STATUS_PENDING));
  auto v1 = Build(objects);
  std::vector<RecordRef> refs;
  EXPECT_FALSE(v1->ResolveNumberRefs("+4930123456", Peer("peer1"), &refs));
  EXPECT_TRUE(refs.empty());
  EXPECT_TRUE(v1->ResolveNumberRefs("+4930123456", Peer("owner"), &refs));
  // Same viewer class, other destination groups: the public group shows.
  EXPECT_TRUE(v1->ResolveNumberRefs("+4930123457", Peer("peer1"), &refs));
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].record->naptr().regexp(), "!^.*$!sip:base!");

  // The offer is accepted in the next view: peer1 now sees it.
  auto v2 = *v1->Apply(
      {Put(2, Offer("priv", "peer1", lufd::v1::OFFER_STATUS_ACCEPTED))});
  EXPECT_TRUE(v2->ResolveNumberRefs("+4930123456", Peer("peer1"), &refs));
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].record->naptr().regexp(), "!^.*$!sip:private!");
  EXPECT_EQ(refs[0].ttl, 3600u);
  // The old view still answers as it did.
  EXPECT_FALSE(v1->ResolveNumberRefs("+4930123456", Peer("peer1"), &refs));
  EXPECT_FALSE(v2->ResolveNumberRefs("+4930123456", Peer("peer2"), &refs));
}

// ResolveNumberRefs is ResolveNumber without the copies: same records, same
// order, same TTLs, duplicates (group vs inline) dropped alike.
TEST_F(ViewTest, RefsMatchTheCopyingResolution) {
  auto objects = Base();
  objects.push_back(Record("n2", "reg", NaptrRec(10, 20, "n10-20", 60)));
  objects.push_back(UriRecord("u1", "reg", 1, 7));
  objects.push_back(Group("g2", "reg", {"dg"}, {"u1", "n2"}, true, true, 5));
  auto tn = Tn("+111", "reg", {"dg"});
  *tn.mutable_identifier()->add_records() = NaptrRec(10, 10, "base");  // Dup.
  *tn.mutable_identifier()->add_records() = NaptrRec(10, 15, "inline");
  *tn.mutable_identifier()->add_records() = NaptrRec(10, 15, "inline");
  objects.push_back(tn);
  auto v = Build(objects);
  for (const Identity& who : {Anonymous(), Admin(), Peer("peer1")}) {
    Resolution copied = v->ResolveNumber("+111", who);
    std::vector<RecordRef> refs;
    ASSERT_TRUE(v->ResolveNumberRefs("+111", who, &refs));
    ASSERT_EQ(refs.size(), copied.records.size());
    for (size_t i = 0; i < refs.size(); ++i) {
      EXPECT_EQ(refs[i].ttl, copied.records[i].ttl()) << i;
      EXPECT_EQ(refs[i].record->naptr().SerializeAsString(),
                copied.records[i].naptr().SerializeAsString())
          << i;
      EXPECT_EQ(refs[i].record->uri().SerializeAsString(),
                copied.records[i].uri().SerializeAsString())
          << i;
    }
  }
  EXPECT_THAT(Targets(v->ResolveNumber("+111", Anonymous())),
              ElementsAre("!^.*$!sip:base!", "!^.*$!sip:inline!",
                          "!^.*$!sip:n10-20!", "sip:u1@example.net"));
}

TEST_F(ViewTest, UriIdentifiers) {
  auto objects = Base();
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_URI,
                          "sip:alice@example.com", "reg", {"dg"}));
  auto v = Build(objects);
  auto r = v->ResolveUri("sip:alice@example.com", Peer("peer1"));
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.normalized, "sip:alice@example.com");
  EXPECT_FALSE(v->ResolveUri("sip:bob@example.com", Admin()).found);
}

TEST_F(ViewTest, Referrers) {
  auto objects = Base();
  objects.push_back(Tn("+111", "reg", {"dg"}));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202", "reg", {"dg"}));
  objects.push_back(Offer("pub", "peer1", lufd::v1::OFFER_STATUS_PENDING));
  objects.push_back(Cred("c1", "peer1", "ab", ""));
  objects.push_back(Org("sub"));
  objects.back().mutable_org()->set_registrar_id("reg");
  auto v = Build(objects);
  using V = std::vector<std::pair<ObjectKind, std::string>>;
  EXPECT_THAT(v->Referrers(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg"),
              UnorderedElementsAre(
                  Pair(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+111"),
                  Pair(lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202"),
                  Pair(lufd::v1::OBJECT_KIND_SED_GROUP, "pub")));
  EXPECT_THAT(v->Referrers(lufd::v1::OBJECT_KIND_SED_RECORD, "r1"),
              ElementsAre(Pair(lufd::v1::OBJECT_KIND_SED_GROUP, "pub")));
  EXPECT_THAT(v->Referrers(lufd::v1::OBJECT_KIND_SED_GROUP, "pub"),
              ElementsAre(Pair(lufd::v1::OBJECT_KIND_OFFER, "pub|peer1")));
  EXPECT_THAT(
      v->Referrers(lufd::v1::OBJECT_KIND_ORG, "peer1"),
      UnorderedElementsAre(Pair(lufd::v1::OBJECT_KIND_CREDENTIAL, "c1"),
                           Pair(lufd::v1::OBJECT_KIND_OFFER, "pub|peer1")));
  EXPECT_THAT(v->Referrers(lufd::v1::OBJECT_KIND_ORG, "reg"),
              UnorderedElementsAre(
                  Pair(lufd::v1::OBJECT_KIND_ORG, "sub"),
                  Pair(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg"),
                  Pair(lufd::v1::OBJECT_KIND_SED_RECORD, "r1"),
                  Pair(lufd::v1::OBJECT_KIND_SED_GROUP, "pub"),
                  Pair(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+111"),
                  Pair(lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202")));
  EXPECT_EQ(v->Referrers(lufd::v1::OBJECT_KIND_ORG, "nobody"), V{});

  // Index entries follow updates and deletes.
  auto v2 = *v->Apply({Put(2, Tn("+111", "reg", {})),
                       Del(2, lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+1202"),
                       Del(2, lufd::v1::OBJECT_KIND_OFFER, "pub|peer1")});
  EXPECT_THAT(v2->Referrers(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg"),
              ElementsAre(Pair(lufd::v1::OBJECT_KIND_SED_GROUP, "pub")));
  EXPECT_THAT(v2->Referrers(lufd::v1::OBJECT_KIND_SED_GROUP, "pub"), IsEmpty());
}

TEST_F(ViewTest, SedGroupsOnListsGroupsOnlyAndFollowsUpdates) {
  auto objects = Base();
  objects.push_back(Tn("+111", "reg", {"dg"}));  // Not listed: a group view.
  auto v = Build(objects);
  EXPECT_THAT(v->SedGroupsOn("dg"), ElementsAre("pub"));
  EXPECT_THAT(v->SedGroupsOn("nowhere"), IsEmpty());
  auto v2 = *v->Apply({Del(2, lufd::v1::OBJECT_KIND_SED_GROUP, "pub")});
  EXPECT_THAT(v2->SedGroupsOn("dg"), IsEmpty());
}

TEST_F(ViewTest, FindCredential) {
  auto v = Build({Org("o1"), Org("off", /*disabled=*/true),
                  Cred("spki-only", "o1", "AAAA", ""),
                  Cred("san-only", "o1", "", "spiffe://o1/san"),
                  Cred("both", "o1", "bbbb", "spiffe://o1/both"),
                  Cred("dis", "o1", "cccc", "", /*disabled=*/true),
                  Cred("orgoff", "off", "dddd", ""),
                  Cred("orphan", "gone", "eeee", "")});
  auto id = [&](const std::string& spki, std::vector<std::string> sans) {
    auto c = v->FindCredential(spki, sans);
    return c ? c->id() : std::string("none");
  };
  EXPECT_EQ(id("aaaa", {}), "spki-only");  // Case-insensitive hex.
  EXPECT_EQ(id("ffff", {"spiffe://o1/san"}), "san-only");
  EXPECT_EQ(id("", {"x", "spiffe://o1/san"}), "san-only");
  EXPECT_EQ(id("bbbb", {"spiffe://o1/both"}), "both");
  EXPECT_EQ(id("bbbb", {}), "none");                    // SAN missing.
  EXPECT_EQ(id("ffff", {"spiffe://o1/both"}), "none");  // SPKI mismatch.
  EXPECT_EQ(id("cccc", {}), "none");                    // Disabled credential.
  EXPECT_EQ(id("dddd", {}), "none");                    // Disabled org.
  EXPECT_EQ(id("eeee", {}), "none");                    // Org missing.
  EXPECT_EQ(id("", {}), "none");
}

TEST_F(ViewTest, ApplyIsCopyOnWrite) {
  auto objects = Base();
  for (int i = 0; i < 5000; ++i) {
    objects.push_back(Tn("+1555" + std::to_string(1000000 + i), "reg", {"dg"}));
  }
  auto v1 = Build(objects, 10);
  auto v2 =
      *v1->Apply({Put(11, Tn("+19999", "reg", {"dg"})),
                  Del(11, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+15551000000"),
                  Put(12, Group("pub", "reg", {"dg"}, {"r1"}, false))});
  EXPECT_EQ(v2->serial(), 12u);
  // The old view is unchanged.
  EXPECT_EQ(v1->serial(), 10u);
  EXPECT_EQ(v1->Count(lufd::v1::OBJECT_KIND_IDENTIFIER), 5000u);
  EXPECT_TRUE(v1->ResolveNumber("+15551000000", Anonymous()).found);
  EXPECT_FALSE(v1->ResolveNumber("+19999", Anonymous()).found);
  EXPECT_EQ(v1->Referrers(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg").size(),
            5001u);
  // The new one has the changes; the group is no longer public.
  EXPECT_EQ(v2->Count(lufd::v1::OBJECT_KIND_IDENTIFIER), 5000u);
  EXPECT_FALSE(v2->Get(lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+15551000000"));
  EXPECT_FALSE(v2->ResolveNumber("+15551000001", Anonymous()).found);
  EXPECT_TRUE(v2->ResolveNumber("+15551000001", Peer("reg")).found);
  EXPECT_TRUE(v2->ResolveNumber("+19999", Admin()).found);
  EXPECT_EQ(v2->Referrers(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg").size(),
            5001u);
  // And a third view from v1 again does not see v2's changes.
  auto v3 = *v1->Apply({Del(11, lufd::v1::OBJECT_KIND_DEST_GROUP, "dg")});
  EXPECT_TRUE(v2->Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg").has_value());
  EXPECT_FALSE(v3->Get(lufd::v1::OBJECT_KIND_DEST_GROUP, "dg").has_value());
}

TEST_F(ViewTest, ApplyRangesAndPrefixes) {
  auto v1 = Build(Base());
  auto range = Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000", "reg",
                     {"dg"}, "+12026669999");
  auto v2 = *v1->Apply({Put(2, range)});
  EXPECT_TRUE(v2->ResolveNumber("+12026661234", Anonymous()).found);
  EXPECT_FALSE(v1->ResolveNumber("+12026661234", Anonymous()).found);
  auto v3 =
      *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_IDENTIFIER, KeyOf(range))});
  EXPECT_FALSE(v3->ResolveNumber("+12026661234", Anonymous()).found);
  EXPECT_TRUE(v2->ResolveNumber("+12026661234", Anonymous()).found);
}

TEST_F(ViewTest, ApplyRejectsMalformedChanges) {
  auto v = Build(Base(), 5);
  EXPECT_EQ(v->Apply({Put(5, Org("x"))}).status().code(),
            absl::StatusCode::kInternal);  // Not after the view's serial.
  Change bad = Put(6, Org("x"));
  bad.set_kind(lufd::v1::OBJECT_KIND_DEST_GROUP);
  EXPECT_EQ(v->Apply({bad}).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(v->Apply({Put(7, Org("x")), Put(6, Org("y"))}).status().code(),
            absl::StatusCode::kInternal);
  auto same = v->Apply({});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)->serial(), 5u);
}

TEST_F(ViewTest, HasIdentifiersBelowTns) {
  auto objects = Base();
  objects.push_back(Tn("+12025556666", "reg", {"dg"}));
  objects.push_back(Tn("+12025556667", "reg", {"dg"}));
  auto v = Build(objects);
  for (const char* name :
       {"+", "+1", "+12", "+1202", "+120255", "+1202555666"}) {
    EXPECT_TRUE(v->HasIdentifiersBelow(name)) << name;
  }
  // The TN itself, longer names, siblings and malformed input are not.
  for (const char* name : {"+12025556666", "+120255566660", "+1203", "+2",
                           "1202", "+12a", "", "+1202555666612345"}) {
    EXPECT_FALSE(v->HasIdentifiersBelow(name)) << name;
  }
  // Deleting one of two siblings keeps the chain; deleting both clears it
  // up to the apex, and the old view is unchanged.
  auto v2 =
      *v->Apply({Del(2, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666")});
  EXPECT_TRUE(v2->HasIdentifiersBelow("+1202555666"));
  auto v3 =
      *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556667")});
  for (const char* name : {"+", "+1", "+1202555666"}) {
    EXPECT_FALSE(v3->HasIdentifiersBelow(name)) << name;
    EXPECT_TRUE(v->HasIdentifiersBelow(name)) << name;
  }
  // Re-putting an existing TN (an update) does not double count.
  auto v4 =
      *v->Apply({Put(2, Tn("+12025556666", "reg", {})),
                 Del(3, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556666"),
                 Del(4, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+12025556667")});
  EXPECT_FALSE(v4->HasIdentifiersBelow("+1202"));
  EXPECT_FALSE(v4->HasIdentifiersBelow("+"));
}

TEST_F(ViewTest, HasIdentifiersBelowNestedTnAndPrefix) {
  // A TN that is itself a prefix of another TN, and a prefix identifier.
  auto objects = Base();
  objects.push_back(Tn("+4930", "reg", {"dg"}));
  objects.push_back(Tn("+493012", "reg", {"dg"}));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+4471", "reg", {"dg"}));
  auto v = Build(objects);
  EXPECT_TRUE(v->HasIdentifiersBelow("+4930"));
  EXPECT_TRUE(v->HasIdentifiersBelow("+49301"));
  EXPECT_TRUE(v->HasIdentifiersBelow("+447"));
  EXPECT_TRUE(v->HasIdentifiersBelow("+44"));
  EXPECT_FALSE(v->HasIdentifiersBelow("+4471"));   // The prefix itself.
  EXPECT_FALSE(v->HasIdentifiersBelow("+44712"));  // Covered, not below.
  // Removing the longer TN: +4930 is still a TN, so +493 still has one.
  auto v2 = *v->Apply({Del(2, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+493012")});
  EXPECT_FALSE(v2->HasIdentifiersBelow("+4930"));
  EXPECT_TRUE(v2->HasIdentifiersBelow("+493"));
  auto v3 =
      *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:+4930"),
                  Del(4, lufd::v1::OBJECT_KIND_IDENTIFIER, "prefix:+4471")});
  EXPECT_FALSE(v3->HasIdentifiersBelow("+4"));
  EXPECT_FALSE(v3->HasIdentifiersBelow("+"));
  auto v4 = *v3->Apply({Put(5, Tn("+4930", "reg", {"dg"}))});
  EXPECT_TRUE(v4->HasIdentifiersBelow("+"));
  EXPECT_TRUE(v4->HasIdentifiersBelow("+493"));
}

TEST_F(ViewTest, HasIdentifiersBelowRanges) {
  auto range = Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026661500", "reg",
                     {"dg"}, "+12026673499");
  auto v = Build(Base());
  EXPECT_FALSE(v->HasIdentifiersBelow("+1202666"));
  auto v2 = *v->Apply({Put(2, range)});
  // End points' prefixes, and names between them that are no end point's.
  for (const char* name :
       {"+", "+1", "+120266", "+1202666", "+12026661", "+120266615", "+1202667",
        "+120266734", "+12026669", "+1202666999"}) {
    EXPECT_TRUE(v2->HasIdentifiersBelow(name)) << name;
  }
  for (const char* name : {"+12026660", "+120266614", "+120266735", "+1202668",
                           "+12026661500", "+1203"}) {
    EXPECT_FALSE(v2->HasIdentifiersBelow(name)) << name;
  }
  auto v3 =
      *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_IDENTIFIER, KeyOf(range))});
  EXPECT_FALSE(v3->HasIdentifiersBelow("+1202666"));
  EXPECT_FALSE(v3->HasIdentifiersBelow("+"));
}

// Per-viewer existence (issue 8): for every viewer, a name has visible
// identifiers below it exactly when HasIdentifiersBelow holds for it in a
// registry holding only the identifiers that this viewer resolves to
// something. So a name above data the viewer may not see is as empty as a
// name above nothing, and a name above data it may see is still an empty
// non-terminal. Random TNs, ranges and prefixes on destination groups whose
// SED groups are public, owned, offered (accepted or pending), out of
// service, or without in-service records, some with records of their own;
// then the same after changes to offers, groups, records and identifiers.
TEST_F(ViewTest, VisibleIdentifiersBelowAreThoseOfTheViewersOwnRegistry) {
  using lufd::v1::IdentifierKind;
  auto out_of_service = [](RegistryObject o) {
    o.mutable_sed_record()->set_in_service(false);
    return o;
  };
  const std::vector<RegistryObject> base = {
      Org("reg"),
      Org("peer1"),
      Org("peer2"),
      Record("r1", "reg", NaptrRec(10, 10, "base")),
      out_of_service(Record("rout", "reg", NaptrRec(10, 10, "out"))),
      DestGroup("dg0", "reg"),
      DestGroup("dg1", "reg"),
      DestGroup("dg2", "reg"),
      DestGroup("dg3", "reg"),
      DestGroup("dg4", "reg"),
      DestGroup("dg5", "reg"),
      Group("pub", "reg", {"dg0"}, {"r1"}, /*is_public=*/true),
      Group("off1", "reg", {"dg1"}, {"r1"}),
      Offer("off1", "peer1", lufd::v1::OFFER_STATUS_ACCEPTED),
      Group("off2", "reg", {"dg2"}, {"r1"}),
      Offer("off2", "peer2", lufd::v1::OFFER_STATUS_PENDING),
      Group("idle", "reg", {"dg3"}, {"r1"}, /*is_public=*/true,
            /*in_service=*/false),
      Group("empty", "reg", {"dg4"}, {"rout"}, /*is_public=*/true),
  };  // dg5 has no SED group.
  const std::vector<Identity> viewers = {Anonymous(), Peer("peer1"),
                                         Peer("peer2"), Peer("reg"), Admin()};

  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % n); };
    auto digits = [&](int n) {
      std::string d;
      for (int i = 0; i < n; ++i) d.push_back(static_cast<char>('0' + pick(3)));
      return d;
    };
    // key -> object: the registry as the model sees it.
    std::map<std::string, RegistryObject> objects;
    for (const auto& o : base) objects[KeyOf(o)] = o;
    std::vector<std::string> names = {"+"};
    for (int i = 0; i < 30; ++i) {
      std::vector<std::string> dgs;
      for (int n = 1 + pick(2); n > 0; --n) {
        dgs.push_back(absl::StrCat("dg", pick(6)));
      }
      RegistryObject o;
      const std::string value = "+1" + digits(3 + pick(4));
      switch (pick(3)) {
        case 0:
          o = Tn(value, "reg", dgs);
          break;
        case 1:
          o = Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, value, "reg", dgs);
          break;
        default: {
          const std::string tail = std::string(2 + pick(3), '0');
          std::string end = value + tail;
          end.back() = static_cast<char>('1' + pick(9));
          end[end.size() - 2] = static_cast<char>('0' + pick(10));
          o = Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, value + tail, "reg",
                    dgs, end);
          break;
        }
      }
      if (pick(4) == 0) {
        auto rec = NaptrRec(5, 5, "own");
        rec.set_in_service(pick(2) == 0);
        *o.mutable_identifier()->add_records() = rec;
      }
      objects[KeyOf(o)] = o;
      const auto& id = o.identifier();
      for (const std::string& v : {id.value(), id.range_end()}) {
        for (size_t len = 2; len <= v.size(); ++len) {
          names.push_back(v.substr(0, len));
          std::string sibling = v.substr(0, len);
          sibling.back() =
              static_cast<char>('0' + (sibling.back() - '0' + 5) % 10);
          names.push_back(sibling);
        }
      }
    }

    // Checks the view made from `objects` (built, and `applied`).
    auto check = [&](const RegistryView& applied, const std::string& step) {
      SCOPED_TRACE(step);
      std::vector<RegistryObject> all, others;
      for (const auto& [key, o] : objects) {
        all.push_back(o);
        if (!o.has_identifier()) others.push_back(o);
      }
      auto built = Build(all);
      for (const Identity& viewer : viewers) {
        SCOPED_TRACE(viewer.anonymous() ? "anonymous" : viewer.org_id);
        // The viewer's own registry: the identifiers it resolves, each
        // judged alone (no more specific identifier shadowing it).
        std::vector<RegistryObject> own;
        for (const auto& [key, o] : objects) {
          if (o.has_identifier()) {
            std::vector<RegistryObject> alone = others;
            alone.push_back(o);
            if (!Build(alone)
                     ->ResolveNumber(o.identifier().value(), viewer)
                     .found) {
              continue;
            }
          }
          own.push_back(o);
        }
        auto mine = Build(own);
        for (const auto& name : names) {
          const bool want = mine->HasIdentifiersBelow(name);
          EXPECT_EQ(built->HasVisibleIdentifiersBelow(name, viewer), want)
              << name;
          EXPECT_EQ(applied.HasVisibleIdentifiersBelow(name, viewer), want)
              << name;
          EXPECT_EQ(mine->HasVisibleIdentifiersBelow(name, viewer), want)
              << name;
        }
      }
    };
    std::vector<RegistryObject> all;
    for (const auto& [key, o] : objects) all.push_back(o);
    auto view = Build(all);
    check(*view, "built");

    // Changes, each applied to the running view and to the model.
    uint64_t serial = 2;
    auto apply = [&](const RegistryObject& o, const std::string& step) {
      objects[KeyOf(o)] = o;
      view = *view->Apply({Put(serial++, o)});
      check(*view, step);
    };
    apply(Offer("off2", "peer2", lufd::v1::OFFER_STATUS_ACCEPTED),
          "offer to peer2 accepted");
    apply(Group("pub", "reg", {"dg0"}, {"r1"}, true, /*in_service=*/false),
          "public group out of service");
    apply(Group("idle", "reg", {"dg3"}, {"r1"}, true, /*in_service=*/true),
          "idle group in service");
    apply(Offer("off1", "peer1", lufd::v1::OFFER_STATUS_REJECTED),
          "offer to peer1 rejected");
    apply(Group("off2", "reg", {"dg2", "dg5"}, {"r1"}), "group on dg5 too");
    apply(out_of_service(Record("r1", "reg", NaptrRec(10, 10, "base"))),
          "record out of service");
    // An identifier moved to other groups, then one removed.
    for (auto& [key, o] : objects) {
      if (!o.has_identifier()) continue;
      RegistryObject moved = o;
      moved.mutable_identifier()->clear_dest_group_ids();
      moved.mutable_identifier()->add_dest_group_ids("dg3");
      apply(moved, "identifier moved");
      break;
    }
    for (auto it = objects.begin(); it != objects.end(); ++it) {
      if (!it->second.has_identifier()) continue;
      const std::string key = it->first;
      objects.erase(it);
      view =
          *view->Apply({Del(serial++, lufd::v1::OBJECT_KIND_IDENTIFIER, key)});
      check(*view, "identifier removed");
      break;
    }
  }
}

// The DNS denial path asks HasVisibleIdentifiersBelow on every miss: once
// the thread's per-view memo is warm it allocates nothing, for any viewer.
TEST_F(ViewTest, HasVisibleIdentifiersBelowDoesNotAllocateOnceWarm) {
  auto objects = Base();
  objects.push_back(DestGroup("dg1", "reg"));
  objects.push_back(Group("off", "reg", {"dg1"}, {"r1"}));
  objects.push_back(Offer("off", "peer1", lufd::v1::OFFER_STATUS_ACCEPTED));
  objects.push_back(Tn("+12025556666", "reg", {"dg1"}));
  objects.push_back(Tn("+12025550000", "reg", {"dg"}));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
                          "reg", {"dg1"}, "+12026669999"));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777", "reg", {"dg1"}));
  auto v = Build(objects);
  const std::vector<Identity> viewers = {Anonymous(), Peer("peer1"),
                                         Peer("peer2"), Admin()};
  const std::vector<std::string> names = {"+",         "+1202",   "+1202555666",
                                          "+12026666", "+120277", "+1202888"};
  auto ask_all = [&] {
    size_t seen = 0;
    for (const Identity& viewer : viewers) {
      for (const std::string& name : names) {
        seen += v->HasVisibleIdentifiersBelow(name, viewer) ? 1 : 0;
      }
    }
    return seen;
  };
  const size_t warm = ask_all();
  allocations = 0;
  counting = true;
  const size_t again = ask_all();
  counting = false;
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(again, warm);
  EXPECT_GT(warm, 0u);
}

RegistryObject TsigCred(const std::string& id, const std::string& org,
                        const std::string& key_name, bool disabled = false) {
  RegistryObject o;
  auto* c = o.mutable_credential();
  c->set_id(id);
  c->set_org_id(org);
  c->set_role(lufd::v1::ROLE_PEER);
  c->set_tsig_key_name(key_name);
  c->set_tsig_algorithm("hmac-sha256");
  c->set_tsig_secret(std::string(32, 'k'));
  c->set_disabled(disabled);
  return o;
}

TEST_F(ViewTest, FindTsigCredential) {
  auto v = Build({Org("o1"), Org("off", /*disabled=*/true),
                  TsigCred("t1", "o1", "ssp1-key."),
                  TsigCred("dis", "o1", "dis-key.", /*disabled=*/true),
                  TsigCred("orgoff", "off", "off-key."),
                  TsigCred("orphan", "gone", "orphan-key.")});
  auto id = [](const std::shared_ptr<const RegistryView>& view,
               absl::string_view name) {
    auto c = view->FindTsigCredential(name);
    return c ? c->id() : std::string("none");
  };
  EXPECT_EQ(id(v, "ssp1-key."), "t1");
  EXPECT_EQ(v->FindTsigCredential("ssp1-key.")->tsig_secret(),
            std::string(32, 'k'));
  EXPECT_EQ(id(v, "ssp1-key"), "none");  // Exact (normalized) form only.
  EXPECT_EQ(id(v, "dis-key."), "none");
  EXPECT_EQ(id(v, "off-key."), "none");
  EXPECT_EQ(id(v, "orphan-key."), "none");
  EXPECT_EQ(id(v, ""), "none");
  EXPECT_THAT(v->CredentialsWithTsigKey("dis-key."), ElementsAre("dis"));
  // Renaming moves the index entry; deleting removes it.
  auto v2 = *v->Apply({Put(2, TsigCred("t1", "o1", "new-key."))});
  EXPECT_EQ(id(v2, "ssp1-key."), "none");
  EXPECT_EQ(id(v2, "new-key."), "t1");
  EXPECT_EQ(id(v, "ssp1-key."), "t1");
  auto v3 = *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_CREDENTIAL, "t1")});
  EXPECT_EQ(id(v3, "new-key."), "none");
  EXPECT_THAT(v3->CredentialsWithTsigKey("new-key."), IsEmpty());
  // A TSIG-only credential never matches a certificate.
  EXPECT_FALSE(v->FindCredential("", {}).has_value());
}

TEST_F(ViewTest, DnsKeysAreObjectsButNotIdentifiers) {
  RegistryObject key;
  auto* k = key.mutable_dns_key();
  k->set_zone("e164.arpa.");
  k->set_key_tag(12345);
  k->set_role(lufd::v1::DNS_KEY_ROLE_CSK);
  k->set_algorithm(13);
  k->set_flags(257);
  k->set_public_key(std::string(64, 'p'));
  auto v = Build(Base());
  auto v2 = *v->Apply({Put(2, key)});
  EXPECT_EQ(v2->Count(lufd::v1::OBJECT_KIND_DNS_KEY), 1u);
  auto got = v2->Get(lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./12345");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->dns_key().public_key(), std::string(64, 'p'));
  int seen = 0;
  v2->ForEach(lufd::v1::OBJECT_KIND_DNS_KEY,
              [&](absl::string_view k, const RegistryObject&) {
                EXPECT_EQ(k, "e164.arpa./12345");
                ++seen;
                return true;
              });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(v2->Count(lufd::v1::OBJECT_KIND_IDENTIFIER), 0u);
  EXPECT_FALSE(v2->HasIdentifiersBelow("+"));
  auto v3 =
      *v2->Apply({Del(3, lufd::v1::OBJECT_KIND_DNS_KEY, "e164.arpa./12345")});
  EXPECT_EQ(v3->Count(lufd::v1::OBJECT_KIND_DNS_KEY), 0u);
}

// Everything a view answers about identifiers, as comparable values.
struct IdentifierState {
  std::vector<std::pair<std::string, std::string>> objects;  // key, bytes
  std::vector<std::pair<ObjectKind, std::string>> dg_refs, org_refs;
  std::vector<std::string> below;
  std::vector<std::vector<std::string>> answers;
  bool operator==(const IdentifierState&) const = default;
};

IdentifierState StateOf(const RegistryView& view,
                        const std::vector<std::string>& numbers) {
  IdentifierState st;
  view.ForEach(lufd::v1::OBJECT_KIND_IDENTIFIER, [&](absl::string_view key,
                                                     const RegistryObject& o) {
    st.objects.emplace_back(std::string(key), o.SerializeAsString());
    return true;
  });
  std::sort(st.objects.begin(), st.objects.end());
  for (const char* dg : {"dg", "dg2"}) {
    auto refs = view.Referrers(lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
    std::sort(refs.begin(), refs.end());
    st.dg_refs.insert(st.dg_refs.end(), refs.begin(), refs.end());
  }
  st.org_refs = view.Referrers(lufd::v1::OBJECT_KIND_ORG, "reg");
  std::sort(st.org_refs.begin(), st.org_refs.end());
  for (const auto& n : numbers) {
    for (size_t len = 1; len <= n.size(); ++len) {
      if (view.HasIdentifiersBelow(n.substr(0, len))) {
        st.below.push_back(n.substr(0, len));
      }
      if (view.HasVisibleIdentifiersBelow(n.substr(0, len), Anonymous())) {
        st.below.push_back("anonymous " + n.substr(0, len));
      }
    }
    Resolution r = view.ResolveNumber(n, Identity{});
    std::vector<std::string> a;
    for (const auto& rec : r.records) a.push_back(rec.SerializeAsString());
    st.answers.push_back(std::move(a));
  }
  return st;
}

// Builder loads TNs in bulk: the view must equal one made by applying the
// same objects one by one, before and after further changes (including a
// TN added twice, where the last one wins, and enough TNs to reshard).
TEST_F(ViewTest, BulkBuiltTnsEqualAppliedOnes) {
  std::vector<RegistryObject> objects = Base();
  objects.push_back(DestGroup("dg2", "reg"));
  objects.push_back(
      Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+4420", "reg", {"dg"}));
  objects.push_back(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+4430000000",
                          "reg", {"dg2"}, "+4430000099"));
  std::vector<std::string> numbers;
  for (int i = 0; i < 20000; ++i) {
    // Spread over blocks and lengths, not in order.
    const int j = (i * 7919) % 20000;
    std::string n = absl::StrCat("+44", 20 + j % 3, 1000000 + j * 37);
    if (j % 5 == 0) n.pop_back();
    RegistryObject tn =
        Tn(n, j % 4 == 0 ? "" : "reg",
           j % 3 == 0 ? std::vector<std::string>{"dg", "dg2"}
                      : std::vector<std::string>{j % 2 ? "dg" : "dg2"});
    *tn.mutable_identifier()->add_records() =
        NaptrRec(10, j % 7, absl::StrCat("n", j));
    objects.push_back(tn);
    numbers.push_back(n);
  }
  // A TN added again with other groups and registrant: the last one wins.
  objects.push_back(Tn(numbers[5], "", {"dg2"}));
  objects.push_back(Tn(numbers[6], "reg", {"dg", "dg"}));
  numbers.push_back("+4420");
  numbers.push_back("+4430000050");
  numbers.push_back("+99");

  auto built = Build(objects, 1);
  std::vector<Change> changes;
  uint64_t serial = 1;
  for (const auto& o : objects) changes.push_back(Put(serial++, o));
  auto applied = *RegistryView::Empty()->Apply(changes);
  EXPECT_EQ(built->Count(lufd::v1::OBJECT_KIND_IDENTIFIER),
            applied->Count(lufd::v1::OBJECT_KIND_IDENTIFIER));
  EXPECT_EQ(built->Count(lufd::v1::OBJECT_KIND_IDENTIFIER), 20002u);
  const IdentifierState want = StateOf(*applied, numbers);
  EXPECT_TRUE(StateOf(*built, numbers) == want);
  EXPECT_FALSE(want.dg_refs.empty());
  EXPECT_FALSE(want.below.empty());

  // The same changes on both: a TN removed, one moved, one new.
  std::vector<Change> more = {
      Del(serial, lufd::v1::OBJECT_KIND_IDENTIFIER, "tn:" + numbers[1]),
      Put(serial + 1, Tn(numbers[2], "", {"dg2"})),
      Put(serial + 2, Tn("+4421999", "reg", {"dg"}))};
  numbers.push_back("+4421999");
  auto built2 = built->Apply(more);
  auto applied2 = applied->Apply(more);
  ASSERT_TRUE(built2.ok()) << built2.status();
  ASSERT_TRUE(applied2.ok()) << applied2.status();
  const IdentifierState want2 = StateOf(**applied2, numbers);
  EXPECT_TRUE(StateOf(**built2, numbers) == want2);
  EXPECT_FALSE(want2 == want);
  // The base views are unchanged (copy-on-write).
  EXPECT_TRUE(StateOf(*built, numbers) == StateOf(*applied, numbers));
}

TEST(ViewHolderTest, PublishAndWait) {
  ViewHolder holder;
  EXPECT_EQ(holder.Current()->serial(), 0u);
  EXPECT_TRUE(holder.WaitForSerial(0, absl::ZeroDuration()));
  EXPECT_FALSE(holder.WaitForSerial(3, absl::Milliseconds(10)));
  RegistryView::Builder builder;
  holder.Publish(std::move(builder).Build(3));
  EXPECT_EQ(holder.Current()->serial(), 3u);
  EXPECT_TRUE(holder.WaitForSerial(3, absl::Milliseconds(10)));
}

}  // namespace
}  // namespace lufd
