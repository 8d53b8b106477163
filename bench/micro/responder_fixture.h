// The responder the in-process DNS answer benchmarks serve
// (responder_bench, guard_cost): one zone with one public number, a range,
// a prefix and a hidden number, one CSK, a stored sign-ahead signature, and
// optionally the guard stage. Header-only, moved out of responder_bench.cc
// so that guard_cost measures exactly what BM_Respond* measures.
#ifndef LUFD_BENCH_MICRO_RESPONDER_FIXTURE_H_
#define LUFD_BENCH_MICRO_RESPONDER_FIXTURE_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "bench/micro/dns_fixture.h"
#include "server/dns/processor.h"
#include "server/dns/rdata.h"
#include "server/dns/responder.h"
#include "server/dns/rrsig.h"
#include "server/dns/signer.h"
#include "server/guard/guard.h"
#include "server/ops/config.h"
#include "server/ops/request_counters.h"

namespace lufd::bench {

inline constexpr char kHit[] =
    "6.6.6.6.5.5.5.2.0.2.1.e164.arpa.";  // +12025556666
inline constexpr char kMiss[] =
    "1.1.1.1.5.5.5.2.0.2.1.e164.arpa.";  // Not there.
// An empty non-terminal above +12025556666 (public), and the name above the
// hidden +12025550000 only (anonymous: as absent as kMiss).
inline constexpr char kEnt[] = "5.5.5.2.0.2.1.e164.arpa.";
inline constexpr char kAboveHidden[] = "0.0.0.5.5.5.2.0.2.1.e164.arpa.";

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
        *key.private_key, key.key_tag, apex, owner, dns::kTypeNAPTR, 300,
        rdatas, *dns::DnssecTiming::FromConfig(ConfigDefaults().dns().dnssec()),
        absl::Now());
    if (!sig.ok()) std::abort();
    stored.Insert(
        dns::SignatureKey(owner, dns::kTypeNAPTR,
                          dns::RrsetHash(dns::kTypeNAPTR, 300, rdatas),
                          key.key_tag),
        *sig);
  }

  // Parse + respond; the answer's size.
  size_t Answer(const std::vector<uint8_t>& packet, std::vector<uint8_t>* out,
                const dns::ClientAddress& client = {},
                const Identity& viewer = Identity{}) {
    dns::ParsedQuery pq;
    dns::ParseResult pr = dns::ParseQuery(absl::MakeConstSpan(packet), &pq);
    return responder->Respond(
        pq, pr, viewer, dns::Transport::kUdp, client, out->data(),
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

  // The metrics' request counters on (lookups and misses per class and
  // org), as LufdServer sets them: their cost per query.
  void EnableCounters() {
    counters = std::make_unique<RequestCounters>();
    responder->set_counters(counters.get());
  }
  std::unique_ptr<RequestCounters> counters;
};

}  // namespace lufd::bench

#endif  // LUFD_BENCH_MICRO_RESPONDER_FIXTURE_H_
