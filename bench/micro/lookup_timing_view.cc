// lookup_timing_view: the timing oracle of RegistryView resolution, in
// process (no network, no gRPC: where a difference of a few hundred
// nanoseconds is visible at all).
//
// A registry whose TNs, range, prefix and URIs belong to SSP2 and are
// offered only to SSP1 is resolved by SSP3, for which every one of them is
// invisible, and for numbers/URIs that do not exist at all. For each
// identifier kind the two kinds of query are interleaved in random order
// (to cancel drift), each call timed alone with the steady clock, after one
// untimed warm-up pass. Output: one line per kind with both distributions'
// p10/p50/p90/p99 (ns) and the AUC (bench/timing_stats.h): P(invisible
// slower than nonexistent); 0.5 = indistinguishable. Target <= 0.55 (and
// >= 0.45: faster is as much of a tell as slower). A "view-reference" line
// per kind gives, for scale, what SSP1 (who sees them) pays for the same
// queries.
// Single process, single thread; every loop is bounded by the flags.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/timing_stats.h"
#include "server/core/identity.h"
#include "server/core/keys.h"
#include "server/core/view.h"

ABSL_FLAG(int, tns, 100000, "TNs in the registry (all invisible to SSP3).");
ABSL_FLAG(int, samples, 20000,
          "Timed calls per class (invisible, nonexistent) and kind.");
ABSL_FLAG(int, seed, 1, "Random seed (query order).");
ABSL_FLAG(int, pool, 4096,
          "Distinct queries per class and kind (1..4096): 4096 = a harvester "
          "probing each candidate about once (cold caches); a small pool "
          "keeps everything in cache, so what remains is the code path.");
ABSL_FLAG(std::string, out, "", "Also append the result lines to this file.");

namespace {

using lufd::v1::RegistryObject;

constexpr char kSsp1[] = "iana-en:111";
constexpr char kSsp2[] = "iana-en:222";
constexpr char kSsp3[] = "iana-en:333";

RegistryObject Org(const std::string& id) {
  RegistryObject o;
  o.mutable_org()->set_id(id);
  o.mutable_org()->set_name(id);
  return o;
}

RegistryObject Ident(lufd::v1::IdentifierKind kind, const std::string& value,
                     const std::string& range_end = "") {
  RegistryObject o;
  auto* i = o.mutable_identifier();
  i->set_kind(kind);
  i->set_value(value);
  i->set_range_end(range_end);
  i->set_registrant_id(kSsp2);
  i->add_dest_group_ids("dg-ssp2");
  return o;
}

// SSP2's registry: dest group dg-ssp2 with one NAPTR, served by a SED group
// offered to (and accepted by) SSP1 only; `tns` TNs +12025000000.., the
// range +12026660000..+12026669999, the prefix +1202777 and 4096 URIs, all
// on dg-ssp2; each TN has an inline NAPTR.
std::shared_ptr<const lufd::RegistryView> BuildRegistry(int tns) {
  lufd::RegistryView::Builder b;
  auto add = [&](const RegistryObject& o) {
    b.Add(lufd::KindOf(o), lufd::KeyOf(o), o);
  };
  for (const char* org : {kSsp1, kSsp2, kSsp3}) add(Org(org));
  RegistryObject dg;
  dg.mutable_dest_group()->set_id("dg-ssp2");
  dg.mutable_dest_group()->set_registrant_id(kSsp2);
  add(dg);
  RegistryObject rec;
  auto* r = rec.mutable_sed_record();
  r->set_id("rec-ssp2");
  r->set_registrant_id(kSsp2);
  r->set_in_service(true);
  r->set_ttl(3600);
  r->mutable_naptr()->set_order(100);
  r->mutable_naptr()->set_preference(10);
  r->mutable_naptr()->set_flags("u");
  r->mutable_naptr()->set_services("E2U+sip");
  r->mutable_naptr()->set_regexp("!^(.*)$!sip:\\1@ssp2.example.com!");
  add(rec);
  RegistryObject sg;
  auto* g = sg.mutable_sed_group();
  g->set_id("sg-ssp2");
  g->set_registrant_id(kSsp2);
  g->set_in_service(true);
  g->add_dest_group_ids("dg-ssp2");
  g->add_records()->set_record_id("rec-ssp2");
  add(sg);
  RegistryObject offer;
  offer.mutable_offer()->set_sed_group_id("sg-ssp2");
  offer.mutable_offer()->set_peer_org_id(kSsp1);
  offer.mutable_offer()->set_status(lufd::v1::OFFER_STATUS_ACCEPTED);
  add(offer);
  for (int i = 0; i < tns; ++i) {
    // Each with an inline NAPTR, as bench/lookup_timing.sh imports them.
    RegistryObject tn =
        Ident(lufd::v1::IDENTIFIER_KIND_TN, absl::StrFormat("+12025%06d", i));
    auto* naptr = tn.mutable_identifier()->add_records();
    naptr->set_in_service(true);
    naptr->set_ttl(3600);
    naptr->mutable_naptr()->set_order(100);
    naptr->mutable_naptr()->set_preference(10);
    naptr->mutable_naptr()->set_flags("u");
    naptr->mutable_naptr()->set_services("E2U+sip");
    naptr->mutable_naptr()->set_regexp(
        absl::StrFormat("!^.*$!sip:%06d@ssp2.example.com!", i));
    add(tn);
  }
  add(Ident(lufd::v1::IDENTIFIER_KIND_TN_RANGE, "+12026660000",
            "+12026669999"));
  add(Ident(lufd::v1::IDENTIFIER_KIND_TN_PREFIX, "+1202777"));
  for (int i = 0; i < 4096; ++i) {
    add(Ident(lufd::v1::IDENTIFIER_KIND_URI,
              absl::StrCat("sip:user", i, "@ssp2.example.com")));
  }
  return std::move(b).Build(1);
}

struct Kind {
  const char* name = "";
  std::vector<std::string> invisible;    // Exist; SSP3 may not see them.
  std::vector<std::string> nonexistent;  // Exist nowhere.
  bool uri = false;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "lookup_timing_view: invisible vs nonexistent resolution latency, in "
      "process");
  absl::ParseCommandLine(argc, argv);
  const int tns = std::clamp(absl::GetFlag(FLAGS_tns), 1, 999999);
  const int samples = std::clamp(absl::GetFlag(FLAGS_samples), 100, 10000000);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));

  auto view = BuildRegistry(tns);
  const lufd::Identity ssp3{kSsp3, "cred-peer-ssp3", lufd::v1::ROLE_PEER};
  const lufd::Identity ssp1{kSsp1, "cred-peer-ssp1", lufd::v1::ROLE_PEER};
  if (!view->ResolveNumber("+12025000000", ssp1).found ||
      !view->ResolveNumber("+12026665555", ssp1).found ||
      !view->ResolveNumber("+12027771234", ssp1).found ||
      view->ResolveNumber("+12025000000", ssp3).found) {
    std::fprintf(stderr, "lookup_timing_view: registry not as intended\n");
    return 1;
  }

  // --pool queries of each class per kind, drawn with replacement.
  const int pool = std::clamp(absl::GetFlag(FLAGS_pool), 1, 4096);
  std::vector<Kind> kinds(4);
  kinds[0].name = "tn";
  kinds[1].name = "range";
  kinds[2].name = "prefix";
  kinds[3].name = "uri";
  kinds[3].uri = true;
  for (int i = 0; i < pool; ++i) {
    kinds[0].invisible.push_back(
        absl::StrFormat("+12025%06d", static_cast<int>(rng() % tns)));
    kinds[1].invisible.push_back(
        absl::StrFormat("+1202666%04d", static_cast<int>(rng() % 10000)));
    kinds[2].invisible.push_back(
        absl::StrFormat("+1202777%04d", static_cast<int>(rng() % 10000)));
    kinds[3].invisible.push_back(
        absl::StrCat("sip:user", rng() % 4096, "@ssp2.example.com"));
    // Same length (11 digits), where nothing is provisioned.
    const std::string absent =
        absl::StrFormat("+1203%07d", static_cast<int>(rng() % 10000000));
    for (int k = 0; k < 3; ++k) kinds[k].nonexistent.push_back(absent);
    kinds[3].nonexistent.push_back(
        absl::StrCat("sip:nobody", rng() % 4096, "@ssp2.example.com"));
  }

  std::vector<std::string> lines;
  for (Kind& kind : kinds) {
    // The order: `samples` of each class, shuffled.
    std::vector<uint8_t> order(2 * static_cast<size_t>(samples), 0);
    std::fill(order.begin() + samples, order.end(), 1);
    std::shuffle(order.begin(), order.end(), rng);
    // Times every query of `order` for `viewer` (after an untimed warm-up
    // pass) into `by_class[0]` (pool `invisible`) and `by_class[1]`
    // (`nonexistent`); keeps a call only when found() is what `want_found`
    // says for its class. Returns how many calls found something.
    auto time_calls = [&](const lufd::Identity& viewer,
                          const bool want_found[2],
                          std::vector<int64_t> by_class[2]) {
      size_t found = 0;
      for (int pass = 0; pass < 2; ++pass) {  // 0: warm-up, untimed.
        for (size_t i = 0; i < order.size(); ++i) {
          const auto& pool = order[i] ? kind.nonexistent : kind.invisible;
          const std::string& q = pool[i % pool.size()];
          const auto t0 = std::chrono::steady_clock::now();
          lufd::Resolution r = kind.uri ? view->ResolveUri(q, viewer)
                                        : view->ResolveNumber(q, viewer);
          const auto t1 = std::chrono::steady_clock::now();
          found += r.found;
          if (pass == 0 || r.found != want_found[order[i]]) continue;
          by_class[order[i]].push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
                  .count());
        }
      }
      return found;
    };
    std::vector<int64_t> hidden[2];  // SSP3: invisible, nonexistent.
    const bool nothing_found[2] = {false, false};
    if (size_t found = time_calls(ssp3, nothing_found, hidden); found != 0) {
      std::fprintf(stderr, "lookup_timing_view: SSP3 saw %zu answers\n", found);
      return 1;
    }
    // For reference (not an oracle: a found answer is one): what the
    // same queries cost SSP1, who sees them, against the nonexistent ones.
    std::vector<int64_t> seen[2];
    const bool invisible_found[2] = {true, false};
    time_calls(ssp1, invisible_found, seen);
    lines.push_back(lufd::bench::CompareLine(
        absl::StrCat("view-reference kind=", kind.name, " tns=", tns,
                     " pool=", pool, " viewer=ssp1"),
        "visible", &seen[0], "nonexistent", &seen[1], 1.0, "ns"));
    lines.push_back(lufd::bench::CompareLine(
        absl::StrCat("view kind=", kind.name, " tns=", tns, " pool=", pool),
        "invisible", &hidden[0], "nonexistent", &hidden[1], 1.0, "ns"));
  }
  lufd::bench::PrintLines(lines, absl::GetFlag(FLAGS_out));
  return 0;
}
