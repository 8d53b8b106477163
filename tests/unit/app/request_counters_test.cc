// RequestCounters (server/ops/request_counters.h): the class counts, the
// per-org slots and their cap, and the collector's families
// (server/app/metrics.h) built from them.
#include "server/ops/request_counters.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/app/metrics.h"

namespace lufd {
namespace {

constexpr size_t kGrpc = static_cast<size_t>(Door::kGrpc);
constexpr size_t kDns = static_cast<size_t>(Door::kDns);
constexpr size_t kPeer = static_cast<size_t>(IdentityClass::kPeer);
constexpr size_t kAnon = static_cast<size_t>(IdentityClass::kAnonymous);
constexpr size_t kAdmin = static_cast<size_t>(IdentityClass::kAdmin);

TEST(ClassifyIdentityTest, Classes) {
  EXPECT_EQ(ClassifyIdentity(true, false), IdentityClass::kAnonymous);
  EXPECT_EQ(ClassifyIdentity(false, true), IdentityClass::kAdmin);
  EXPECT_EQ(ClassifyIdentity(false, false), IdentityClass::kPeer);
  EXPECT_STREQ(IdentityClassName(IdentityClass::kPeer), "peer");
  EXPECT_STREQ(DoorName(Door::kDns), "dns");
}

TEST(RequestCountersTest, CountsPerDoorClassAndOrg) {
  RequestCounters c;
  c.Lookup(Door::kGrpc, IdentityClass::kPeer, "iana-en:111", true);
  c.Lookup(Door::kGrpc, IdentityClass::kPeer, "iana-en:111", false);
  c.Lookup(Door::kDns, IdentityClass::kPeer, "iana-en:222", true);
  c.Lookup(Door::kDns, IdentityClass::kAnonymous, "", false);
  c.Lookup(Door::kGrpc, IdentityClass::kAdmin, "iana-en:1", true);
  c.Denial(Door::kGrpc, IdentityClass::kPeer, "iana-en:111",
           absl::StatusCode::kResourceExhausted);
  c.Denial(Door::kGrpc, IdentityClass::kAnonymous, "",
           absl::StatusCode::kUnauthenticated);
  c.Denial(Door::kDns, IdentityClass::kAnonymous, "",
           absl::StatusCode::kAborted);  // Not a listed code: OTHER.
  c.Block(IdentityClass::kPeer, "iana-en:111");
  c.Block(IdentityClass::kAnonymous, "");

  const RequestCounters::Snapshot s = c.Read();
  EXPECT_EQ(s.by_class[kGrpc][kPeer].lookups, 2u);
  EXPECT_EQ(s.by_class[kGrpc][kPeer].misses, 1u);
  EXPECT_EQ(s.by_class[kDns][kPeer].lookups, 1u);
  EXPECT_EQ(s.by_class[kDns][kAnon].misses, 1u);
  EXPECT_EQ(s.by_class[kGrpc][kAdmin].lookups, 1u);
  EXPECT_EQ(s.by_class[kGrpc][kPeer].denials[4], 1u);  // RESOURCE_EXHAUSTED
  EXPECT_EQ(RequestCounters::CodeLabel(4), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(s.by_class[kGrpc][kAnon].denials[0], 1u);  // UNAUTHENTICATED
  EXPECT_EQ(s.by_class[kDns][kAnon].denials[RequestCounters::kCodeSlots - 1],
            1u);
  EXPECT_EQ(RequestCounters::CodeLabel(RequestCounters::kCodeSlots - 1),
            "OTHER");
  EXPECT_EQ(s.blocks[kPeer], 1u);
  EXPECT_EQ(s.blocks[kAnon], 1u);

  // Peers only (not the admin), sorted by org.
  ASSERT_EQ(s.orgs.size(), 2u);
  EXPECT_EQ(s.orgs[0].org, "iana-en:111");
  EXPECT_EQ(s.orgs[0].lookups[kGrpc], 2u);
  EXPECT_EQ(s.orgs[0].misses[kGrpc], 1u);
  EXPECT_EQ(s.orgs[0].denials[kGrpc], 1u);
  EXPECT_EQ(s.orgs[0].blocks, 1u);
  EXPECT_EQ(s.orgs[1].org, "iana-en:222");
  EXPECT_EQ(s.orgs[1].lookups[kDns], 1u);
}

TEST(RequestCountersTest, OrgsBeyondTheCapShareOther) {
  RequestCounters c(/*max_orgs=*/2);
  for (int i = 0; i < 5; ++i) {
    c.Lookup(Door::kGrpc, IdentityClass::kPeer, "org:" + std::to_string(i),
             true);
  }
  // A known org keeps its own slot after the cap is reached.
  c.Lookup(Door::kGrpc, IdentityClass::kPeer, "org:0", true);
  const RequestCounters::Snapshot s = c.Read();
  ASSERT_EQ(s.orgs.size(), 3u);
  EXPECT_EQ(s.orgs[0].org, "org:0");
  EXPECT_EQ(s.orgs[0].lookups[kGrpc], 2u);
  EXPECT_EQ(s.orgs[1].org, "org:1");
  EXPECT_EQ(s.orgs[2].org, "_other");
  EXPECT_EQ(s.orgs[2].lookups[kGrpc], 3u);
  EXPECT_EQ(s.by_class[kGrpc][kPeer].lookups, 6u);
}

// Two instances in one process (tests run several servers): the per-thread
// cache of the last org must not hand one instance the other's slot.
TEST(RequestCountersTest, InstancesDoNotShareSlots) {
  RequestCounters a;
  RequestCounters b;
  a.Lookup(Door::kDns, IdentityClass::kPeer, "org:x", true);
  b.Lookup(Door::kDns, IdentityClass::kPeer, "org:x", true);
  b.Lookup(Door::kDns, IdentityClass::kPeer, "org:x", true);
  EXPECT_EQ(a.Read().orgs.at(0).lookups[kDns], 1u);
  EXPECT_EQ(b.Read().orgs.at(0).lookups[kDns], 2u);
}

TEST(RequestCountersTest, ConcurrentCountsAreExact) {
  RequestCounters c(/*max_orgs=*/3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 10000; ++i) {
        c.Lookup(Door::kDns, IdentityClass::kPeer,
                 "org:" + std::to_string((i + t) % 5), i % 2 == 0);
      }
    });
  }
  for (auto& t : threads) t.join();
  const RequestCounters::Snapshot s = c.Read();
  EXPECT_EQ(s.by_class[kDns][kPeer].lookups, 40000u);
  EXPECT_EQ(s.by_class[kDns][kPeer].misses, 20000u);
  uint64_t total = 0;
  for (const auto& org : s.orgs) total += org.lookups[kDns];
  EXPECT_EQ(total, 40000u);
  EXPECT_EQ(s.orgs.size(), 4u);  // 3 + "_other".
}

const prometheus::MetricFamily* FindFamily(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

double Value(const prometheus::MetricFamily& f,
             const std::vector<prometheus::ClientMetric::Label>& labels) {
  for (const auto& m : f.metric) {
    bool all = true;
    for (const auto& want : labels) {
      bool found = false;
      for (const auto& l : m.label) found = found || l == want;
      all = all && found;
    }
    if (all) {
      return f.type == prometheus::MetricType::Counter ? m.counter.value
                                                       : m.gauge.value;
    }
  }
  return -1;
}

TEST(LufdCollectorTest, RequestFamiliesAndLabels) {
  RequestCounters c;
  c.Lookup(Door::kGrpc, IdentityClass::kPeer, "iana-en:111", false);
  c.Denial(Door::kDns, IdentityClass::kAnonymous, "",
           absl::StatusCode::kResourceExhausted);
  MetricsSources sources;
  sources.version = "9.9.9";
  sources.counters = &c;
  LufdCollector collector(sources);
  const auto families = collector.CollectAt(absl::UnixEpoch());

  const auto* info = FindFamily(families, "lufd_build_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(Value(*info, {{"version", "9.9.9"}}), 1);
  const auto* lookups = FindFamily(families, "lufd_lookups_total");
  ASSERT_NE(lookups, nullptr);
  EXPECT_EQ(lookups->type, prometheus::MetricType::Counter);
  EXPECT_EQ(Value(*lookups, {{"door", "grpc"}, {"class", "peer"}}), 1);
  EXPECT_EQ(Value(*lookups, {{"door", "dns"}, {"class", "anonymous"}}), 0);
  const auto* misses = FindFamily(families, "lufd_lookup_misses_total");
  ASSERT_NE(misses, nullptr);
  EXPECT_EQ(Value(*misses, {{"door", "grpc"}, {"class", "peer"}}), 1);
  const auto* denials = FindFamily(families, "lufd_denials_total");
  ASSERT_NE(denials, nullptr);
  EXPECT_EQ(Value(*denials, {{"door", "dns"},
                             {"class", "anonymous"},
                             {"code", "RESOURCE_EXHAUSTED"}}),
            1);
  const auto* peer = FindFamily(families, "lufd_peer_lookup_misses_total");
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(Value(*peer, {{"org", "iana-en:111"}, {"door", "grpc"}}), 1);
  // No follower, DNS or guard: their families are absent, not zero.
  EXPECT_EQ(FindFamily(families, "lufd_view_serial"), nullptr);
  EXPECT_EQ(FindFamily(families, "lufd_dns_responses_total"), nullptr);
}

}  // namespace
}  // namespace lufd
