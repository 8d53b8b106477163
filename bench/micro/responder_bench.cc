// responder_bench: per-query cost of the common DNS answer paths, parse +
// respond, on one thread, with no sockets: a sign-ahead hit served from the
// SignatureCache, the same name unsigned, a miss whose denial comes from
// the on-demand LRU, the same miss unsigned, and a fresh miss signed on
// demand every time. Moved from the disabled unit test
// ResponderTest.DISABLED_HotPathThroughput; run by bench/micro.sh.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "bench/micro/bench_main.h"
#include "bench/micro/dns_fixture.h"
#include "benchmark/benchmark.h"
#include "server/dns/processor.h"
#include "server/dns/rdata.h"
#include "server/dns/responder.h"
#include "server/dns/rrsig.h"
#include "server/dns/signer.h"
#include "server/guard/guard.h"
#include "server/ops/config.h"

namespace lufd::bench {
namespace {

using dns::kTypeNAPTR;

constexpr char kHit[] = "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.";   // +12025556666
constexpr char kMiss[] = "1.1.1.1.5.5.5.2.0.2.1.e164.arpa.";  // Not there.
// An empty non-terminal above +12025556666 (public), and the name above the
// hidden +12025550000 only (anonymous: as absent as kMiss).
constexpr char kEnt[] = "5.5.5.2.0.2.1.e164.arpa.";
constexpr char kAboveHidden[] = "0.0.0.5.5.5.2.0.2.1.e164.arpa.";

// One zone (e164.arpa.) with +12025556666 (two NAPTRs, TTL 600 and 300,
// and a URI), a range and a prefix on the same group, one hidden number;
// one CSK; a stored sign-ahead signature for +12025556666's NAPTR RRset.
struct Served {
  ViewHolder views;
  dns::KeyRing keys;
  dns::SignatureCache stored;
  dns::SignatureLru lru{1000};
  std::unique_ptr<dns::Responder> responder;

  // `holdings`: the numbers also lie in holdings of their registrant (a
  // TN, the range and the prefix, inside a +1202 prefix holding, plus
  // 1,000 unrelated TN holdings), so resolution pays for the holder lookup
  // (view.h HolderOf) as a registry after the holdings backfill does.
  explicit Served(bool holdings = false) {
    ViewBuilder b;
    if (holdings) {
      auto hold = [&](lufd::v1::IdentifierKind kind, const std::string& value,
                      const std::string& end = "") {
        lufd::v1::RegistryObject o;
        o.mutable_holding()->set_kind(kind);
        o.mutable_holding()->set_value(value);
        o.mutable_holding()->set_range_end(end);
        o.mutable_holding()->set_registrant_id(kRegistrant);
        b.Add(o);
      };
      using K = lufd::v1::IdentifierKind;
      hold(K::IDENTIFIER_KIND_TN_PREFIX, "+1202");
      hold(K::IDENTIFIER_KIND_TN, "+12025556666");
      hold(K::IDENTIFIER_KIND_TN_RANGE, "+12026660000", "+12026669999");
      hold(K::IDENTIFIER_KIND_TN_PREFIX, "+1202777");
      for (int i = 0; i < 1000; ++i) {
        hold(K::IDENTIFIER_KIND_TN, absl::StrCat("+4930", 1000000 + i));
      }
    }
    b.Add(NaptrObject("main-1", "sip:a@example.net", 600, 10));
    b.Add(NaptrObject("main-2", "sip:b@example.net", 300, 20));
    lufd::v1::RegistryObject uri;
    auto* r = uri.mutable_sed_record();
    r->set_id("main-uri");
    r->set_registrant_id(kRegistrant);
    r->set_in_service(true);
    r->set_ttl(900);
    r->mutable_uri()->set_priority(10);
    r->mutable_uri()->set_weight(1);
    r->mutable_uri()->set_target("sip:a@example.net");
    b.Add(uri);
    b.PublicGroup("dg-main", {"main-1", "main-2", "main-uri"});
    using K = lufd::v1::IdentifierKind;
    b.Add(testing::Tn("+12025556666", kRegistrant, {"dg-main"}));
    b.Add(testing::Ident(K::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
                         kRegistrant, {"dg-main"}, "+12026669999"));
    b.Add(testing::Ident(K::IDENTIFIER_KIND_TN_PREFIX, "+1202777", kRegistrant,
                         {"dg-main"}));
    b.HiddenNumber("+12025550000");
    views.Publish(std::move(b).Build(7));
    auto zone = SingleCskZone();
    keys.Publish({zone});
    lufd::v1::DnsConfig config;
    config.add_zones()->set_name("e164.arpa.");
    config.mutable_zones(0)->set_soa_minimum(120);
    ApplyDnsDefaults(&config);
    auto created = dns::Responder::Create(config, &views, &keys, &stored, &lru);
    if (!created.ok()) std::abort();
    responder = std::move(*created);
    // What the signer would have stored for +12025556666's NAPTR RRset.
    const dns::ZoneKey& key = zone->zone_signers[0];
    const std::string apex = ApexWire();
    const std::string owner = dns::EnumOwner("+12025556666", apex);
    const std::vector<std::string> rdatas{
        dns::NaptrRdata(10, 10, "u", "E2U+sip", "!^.*$!sip:a@example.net!", ""),
        dns::NaptrRdata(20, 10, "u", "E2U+sip", "!^.*$!sip:b@example.net!",
                        "")};
    auto sig = dns::MakeRrsig(
        *key.private_key, key.key_tag, apex, owner, kTypeNAPTR, 300, rdatas,
        *dns::DnssecTiming::FromConfig(ConfigDefaults().dns().dnssec()),
        absl::Now());
    if (!sig.ok()) std::abort();
    stored.Insert(
        dns::SignatureKey(owner, kTypeNAPTR,
                          dns::RrsetHash(kTypeNAPTR, 300, rdatas), key.key_tag),
        *sig);
  }

  // Parse + respond; the answer's size.
  size_t Answer(const std::vector<uint8_t>& packet, std::vector<uint8_t>* out,
                const dns::ClientAddress& client = {}) {
    dns::ParsedQuery pq;
    dns::ParseResult pr = dns::ParseQuery(absl::MakeConstSpan(packet), &pq);
    return responder->Respond(
        pq, pr, Identity{}, dns::Transport::kUdp, client, out->data(),
        dns::ResponseLimit(pq, dns::Transport::kUdp, out->size()));
  }

  // The guard stage on, with limits no query here reaches (its cost, not
  // its refusals, is measured).
  void EnableGuard() {
    lufd::v1::GuardConfig config = ConfigDefaults().guard();
    auto* anon = config.mutable_anonymous();
    anon->set_lookups_per_second(1000000000);
    anon->set_burst(1000000000);
    anon->set_signatures_per_second(1000000000);
    anon->set_signing_burst(1000000000);
    guard = std::make_unique<Guard>(GuardOptions::FromConfig(config));
    responder->set_guard(guard.get(), config, nullptr);
  }
  std::unique_ptr<Guard> guard;
};

Served& Shared(bool holdings = false, bool guarded = false) {
  static Served* served = new Served(false);
  static Served* with_holdings = new Served(true);
  static Served* with_guard = [] {
    auto* s = new Served(false);
    s->EnableGuard();
    return s;
  }();
  if (guarded) return *with_guard;
  return holdings ? *with_holdings : *served;
}

// The same query over and over: args (0 = hit, 1 = miss; DO bit; 1 = the
// numbers lie in holdings).
void BM_Respond(benchmark::State& state) {
  Served& s = Shared(state.range(2) != 0);
  const std::vector<uint8_t> packet =
      QueryPacket(state.range(0) == 0 ? kHit : kMiss, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  size_t bytes = 0;
  for (auto _ : state) {
    bytes += s.Answer(packet, &out);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_answer"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
// BM_Respond's first four cases with the guard stage on (anonymous clients
// from 64 /24 prefixes in turn, none over a limit): the guard's cost.
void BM_RespondGuarded(benchmark::State& state) {
  Served& s = Shared(false, /*guarded=*/true);
  const std::vector<uint8_t> packet =
      QueryPacket(state.range(0) == 0 ? kHit : kMiss, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  std::vector<dns::ClientAddress> clients(64);
  for (size_t i = 0; i < clients.size(); ++i) {
    clients[i].size = 4;
    clients[i].bytes[0] = 127;
    clients[i].bytes[2] = static_cast<uint8_t>(i);
    clients[i].bytes[3] = 1;
  }
  size_t bytes = 0, i = 0;
  for (auto _ : state) {
    bytes += s.Answer(packet, &out, clients[i++ % clients.size()]);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_answer"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RespondGuarded)
    ->ArgNames({"miss", "do"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, 0});

BENCHMARK(BM_Respond)
    ->ArgNames({"miss", "do", "holdings"})
    ->Args({0, 1, 0})  // Signed hit, signature from the SignatureCache.
    ->Args({0, 0, 0})  // Unsigned hit.
    ->Args({1, 1, 0})  // Signed miss, denial signatures from the LRU.
    ->Args({1, 0, 0})  // Unsigned miss.
    ->Args({0, 1, 1})  // The same four with holdings.
    ->Args({0, 0, 1})
    ->Args({1, 1, 1})
    ->Args({1, 0, 1});

// Denials that ask whether something is below the name: args (0 = an
// empty non-terminal, 1 = the name above a number hidden from the
// anonymous asker; DO bit).
void BM_RespondAbove(benchmark::State& state) {
  Served& s = Shared();
  const std::vector<uint8_t> packet = QueryPacket(
      state.range(0) == 0 ? kEnt : kAboveHidden, state.range(1) != 0);
  std::vector<uint8_t> out(65535);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Answer(packet, &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondAbove)
    ->ArgNames({"hidden", "do"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1});

// Misses on names never asked before (10,000 of them, 10x the LRU): every
// denial is signed on demand.
void BM_RespondFreshSignedMiss(benchmark::State& state) {
  Served& s = Shared();
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < 10000; ++i) {
    packets.push_back(QueryPacket(
        absl::StrCat(i % 10, ".", (i / 10) % 10, ".", (i / 100) % 10, ".",
                     (i / 1000) % 10, ".9.9.9.9.5.4.3.2.1.e164.arpa."),
        true));
  }
  std::vector<uint8_t> out(65535);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Answer(packets[i++ % packets.size()], &out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RespondFreshSignedMiss)->Iterations(5000);

}  // namespace
}  // namespace lufd::bench

// Without deadlock detection on the measured locks, as lufd runs.
int main(int argc, char** argv) {
  return lufd::bench::RunBenchmarksWithoutDeadlockDetection(argc, argv);
}
