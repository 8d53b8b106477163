// RegistryView resolution takes the same path for an identifier the viewer
// may not see as for one that does not exist (issue 8 §2, timing oracle).
// Pinned without timing anything: the per-thread ResolveWork counters
// (view.h) count the probes, scans and visibility decisions each
// resolution makes, and both cases must count exactly the same.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/keys.h"
#include "server/core/view.h"
#include "tests/unit/testing/objects.h"

namespace lufd {
namespace {

using lufd::v1::RegistryObject;
using testing::DestGroup;
using testing::Group;
using testing::Ident;
using testing::Offer;
using testing::Tn;

RegistryObject Org(const std::string& id) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  return o;
}

RegistryObject Naptr(const std::string& id, const std::string& registrant) {
  RegistryObject o;
  auto* r = o.mutable_sed_record();
  r->set_id(id);
  r->set_registrant_id(registrant);
  r->set_in_service(true);
  r->mutable_naptr()->set_order(10);
  r->mutable_naptr()->set_preference(10);
  r->mutable_naptr()->set_flags("u");
  r->mutable_naptr()->set_services("E2U+sip");
  r->mutable_naptr()->set_regexp("!^.*$!sip:" + id + "@example.com!");
  return o;
}

Identity Peer(const std::string& org) {
  return Identity{org, "c-" + org, lufd::v1::ROLE_PEER};
}

ResolveWork Minus(const ResolveWork& a, const ResolveWork& b) {
  return ResolveWork{a.tn_probes - b.tn_probes,
                     a.tn_decodes - b.tn_decodes,
                     a.range_searches - b.range_searches,
                     a.prefix_probes - b.prefix_probes,
                     a.uri_probes - b.uri_probes,
                     a.group_evaluations - b.group_evaluations};
}

std::string Describe(const ResolveWork& w) {
  return "tn_probes=" + std::to_string(w.tn_probes) +
         " tn_decodes=" + std::to_string(w.tn_decodes) +
         " range_searches=" + std::to_string(w.range_searches) +
         " prefix_probes=" + std::to_string(w.prefix_probes) +
         " uri_probes=" + std::to_string(w.uri_probes) +
         " group_evaluations=" + std::to_string(w.group_evaluations);
}

class ViewSamePathTest : public ::testing::Test {
 protected:
  // SSP2 ("ssp2") holds a TN with an inline NAPTR, a range, a prefix and a
  // URI on dg2, whose only SED group is offered to (and accepted by) ssp1.
  // A public prefix of another length (+44) makes the prefix probes count.
  void SetUp() override {
    RegistryView::Builder b;
    std::vector<RegistryObject> objects = {
        Org("ssp1"),
        Org("ssp2"),
        Org("ssp3"),
        DestGroup("dg2", "ssp2"),
        DestGroup("dg-pub", "ssp2"),
        Naptr("r2", "ssp2"),
        Naptr("r-pub", "ssp2"),
        Group("g2", "ssp2", {"dg2"}, {"r2"}),
        Group("g-pub", "ssp2", {"dg-pub"}, {"r-pub"}, /*is_public=*/true),
        Offer("g2", "ssp1", lufd::v1::OFFER_STATUS_ACCEPTED),
        Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000", "ssp2",
              {"dg2"}, "+12026669999"),
        Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777", "ssp2", {"dg2"}),
        Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+44", "ssp2", {"dg-pub"}),
        Ident(lufd::v1::IDENTIFIER_KIND_URI, "sip:alice@ssp2.example.com",
              "ssp2", {"dg2"})};
    RegistryObject tn = Tn("+12025556666", "ssp2", {"dg2"});
    *tn.mutable_identifier()->add_records() = Naptr("inline", "").sed_record();
    objects.push_back(tn);
    for (const auto& o : objects) b.Add(KindOf(o), KeyOf(o), o);
    view_ = std::move(b).Build(1);
  }

  // The work of one resolution (ResolveNumber or ResolveUri), which must
  // find nothing for `viewer`.
  ResolveWork WorkOf(const std::string& query, const Identity& viewer) {
    const ResolveWork before = ThisThreadResolveWork();
    const bool uri = query.rfind("sip:", 0) == 0;
    Resolution r = uri ? view_->ResolveUri(query, viewer)
                       : view_->ResolveNumber(query, viewer);
    EXPECT_FALSE(r.found) << query;
    return Minus(ThisThreadResolveWork(), before);
  }

  // The same for the DNS path (ResolveNumberRefs).
  ResolveWork RefsWorkOf(const std::string& query, const Identity& viewer) {
    const ResolveWork before = ThisThreadResolveWork();
    std::vector<RecordRef> refs;
    EXPECT_FALSE(view_->ResolveNumberRefs(query, viewer, &refs)) << query;
    return Minus(ThisThreadResolveWork(), before);
  }

  std::shared_ptr<const RegistryView> view_;
};

// (invisible to ssp3 and anonymous, nonexistent) pairs, same length.
const std::vector<std::pair<std::string, std::string>>& Pairs() {
  static const auto* pairs =
      new std::vector<std::pair<std::string, std::string>>{
          {"+12025556666", "+12035556666"},  // TN
          {"+12026661234", "+12036661234"},  // range
          {"+12027771234", "+12037771234"},  // prefix
          {"+1202777", "+1203777"},          // the prefix itself
          {"sip:alice@ssp2.example.com", "sip:alice@ssp9.example.com"}};
  return *pairs;
}

TEST_F(ViewSamePathTest, TheOwnersPeerSeesThem) {
  for (const auto& [invisible, missing] : Pairs()) {
    const bool uri = invisible.rfind("sip:", 0) == 0;
    EXPECT_TRUE((uri ? view_->ResolveUri(invisible, Peer("ssp1"))
                     : view_->ResolveNumber(invisible, Peer("ssp1")))
                    .found)
        << invisible;
  }
}

TEST_F(ViewSamePathTest, InvisibleCostsWhatNonexistentCosts) {
  for (const Identity& viewer : {Peer("ssp3"), Identity{}}) {
    for (const auto& [invisible, missing] : Pairs()) {
      // Twice each: the first call may fill per-thread caches; the counts
      // must not depend on that either.
      for (int round = 0; round < 2; ++round) {
        const ResolveWork a = WorkOf(invisible, viewer);
        const ResolveWork b = WorkOf(missing, viewer);
        EXPECT_EQ(a, b) << invisible << ": " << Describe(a) << "\n"
                        << missing << ": " << Describe(b);
        EXPECT_EQ(a.group_evaluations, 1u) << invisible << ": " << Describe(a);
        if (invisible[0] == '+') {
          const ResolveWork ra = RefsWorkOf(invisible, viewer);
          const ResolveWork rb = RefsWorkOf(missing, viewer);
          EXPECT_EQ(ra, rb) << invisible << ": " << Describe(ra) << "\n"
                            << missing << ": " << Describe(rb);
        }
      }
    }
  }
}

// Number resolution probes every prefix length present, whatever it finds
// (a hit on the longest must not skip the shorter ones): the count is the
// same for numbers under a TN, a range, a prefix or nothing.
TEST_F(ViewSamePathTest, PrefixProbesDoNotStopAtAHit) {
  const ResolveWork tn = WorkOf("+12025556666", Peer("ssp3"));
  EXPECT_EQ(tn.tn_probes, 1u);
  EXPECT_EQ(tn.tn_decodes, 1u);
  EXPECT_EQ(tn.range_searches, 1u);
  EXPECT_EQ(tn.prefix_probes, 2u) << Describe(tn);  // Lengths 7 and 2.
  EXPECT_EQ(WorkOf("+4", Peer("ssp3")).prefix_probes, 0u);
}

}  // namespace
}  // namespace lufd
