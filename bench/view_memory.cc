// view_memory: builds a RegistryView of N telephone numbers in-process and
// reports the resident memory it costs per number, the build time and the
// single-thread ResolveNumber rate. A quick signal on the view's data layout
// that needs no server, database or TLS.
//
// The registry mirrors the import benchmark: one registrant org, one peer
// org, one destination group, one public in-service SED group with one NAPTR,
// and N TN identifiers in blocks of 10k under +4930, each with an inline
// per-number NAPTR "!^.*$!sip:<tn>@ssp2.example.com!".
//
// RSS is read from /proc/self/status (VmRSS) after malloc_trim, before and
// after the build; the builder is consumed by Build(), so what remains is
// the view itself.

#include <malloc.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"
#include "server/core/keys.h"
#include "server/core/view.h"

ABSL_FLAG(uint64_t, count, 1000000, "Numbers in the view.");
ABSL_FLAG(double, resolve_s, 1.0, "Seconds of ResolveNumber timing.");

namespace {

using lufd::v1::RegistryObject;

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double Seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string Tn(uint64_t i) {
  // 100 blocks of 10k, spread over +4930 0000000..9999999.
  uint64_t block = (i / 10000) * 37 % 1000;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "+4930%07" PRIu64, block * 10000 + i % 10000);
  return buf;
}

void Add(lufd::RegistryView::Builder& b, const RegistryObject& o) {
  b.Add(lufd::KindOf(o), lufd::KeyOf(o), o);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("RSS per number of an in-memory RegistryView.");
  absl::ParseCommandLine(argc, argv);
  const uint64_t n = absl::GetFlag(FLAGS_count);

  // Warm up the allocator and protobuf's descriptors first so they are not
  // charged to the view.
  { auto empty = lufd::RegistryView::Empty(); }
  malloc_trim(0);
  const long rss0 = RssKb();

  auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const lufd::RegistryView> view;
  {
    lufd::RegistryView::Builder b;
    RegistryObject o;
    auto* org = o.mutable_org();
    org->set_id("bench:registrant");
    org->set_name("Bench registrant");
    org->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
    Add(b, o);
    o.Clear();
    org = o.mutable_org();
    org->set_id("bench:peer");
    org->add_roles(lufd::v1::ORG_ROLE_PEER);
    Add(b, o);
    o.Clear();
    o.mutable_dest_group()->set_id("bench-dg");
    o.mutable_dest_group()->set_registrant_id("bench:registrant");
    Add(b, o);
    o.Clear();
    auto* rec = o.mutable_sed_record();
    rec->set_id("bench-rec");
    rec->set_registrant_id("bench:registrant");
    rec->set_ttl(3600);
    rec->set_in_service(true);
    rec->mutable_naptr()->set_order(200);
    rec->mutable_naptr()->set_preference(10);
    rec->mutable_naptr()->set_flags("u");
    rec->mutable_naptr()->set_services("E2U+sip");
    rec->mutable_naptr()->set_regexp("!^.*$!sip:\\1@ssp2.example.com!");
    Add(b, o);
    o.Clear();
    auto* g = o.mutable_sed_group();
    g->set_id("bench-sg");
    g->set_registrant_id("bench:registrant");
    g->add_dest_group_ids("bench-dg");
    g->add_records()->set_record_id("bench-rec");
    g->set_in_service(true);
    g->set_public_(true);
    Add(b, o);

    for (uint64_t i = 0; i < n; ++i) {
      o.Clear();
      auto* id = o.mutable_identifier();
      const std::string tn = Tn(i);
      id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
      id->set_value(tn);
      id->set_registrant_id("bench:registrant");
      id->add_dest_group_ids("bench-dg");
      auto* r = id->add_records();
      r->set_ttl(3600);
      r->set_in_service(true);
      auto* naptr = r->mutable_naptr();
      naptr->set_order(100);
      naptr->set_preference(10);
      naptr->set_flags("u");
      naptr->set_services("E2U+sip");
      naptr->set_regexp(absl::StrCat("!^.*$!sip:", tn, "@ssp2.example.com!"));
      Add(b, o);
    }
    auto t1 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "added %" PRIu64 " objects in %.2f s\n", n + 5,
                 Seconds(t0, t1));
    view = std::move(b).Build(1);
  }
  auto t2 = std::chrono::steady_clock::now();
  malloc_trim(0);
  const long rss1 = RssKb();
  const double bytes_per = n ? (rss1 - rss0) * 1024.0 / n : 0;

  // Single-thread resolve rate over random numbers (all present).
  lufd::Identity peer{"bench:peer", "bench-cred", lufd::v1::ROLE_PEER};
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> pick(0, n ? n - 1 : 0);
  const double resolve_s = absl::GetFlag(FLAGS_resolve_s);
  uint64_t resolved = 0, found = 0;
  auto r0 = std::chrono::steady_clock::now();
  auto r1 = r0;
  // Bounded by resolve_s (and by a hard count cap).
  while (n > 0 && Seconds(r0, r1) < resolve_s && resolved < 100000000) {
    for (int k = 0; k < 1000; ++k) {
      lufd::Resolution res = view->ResolveNumber(Tn(pick(rng)), peer);
      found += res.found;
      ++resolved;
    }
    r1 = std::chrono::steady_clock::now();
  }
  const double resolve_rate = resolved / std::max(1e-9, Seconds(r0, r1));

  // Apply of one change at a time (a new TN each, views chained), as the
  // follower publishes a single write: its cost must not grow with n.
  const int applies = n > 0 ? 2000 : 0;
  auto a0 = std::chrono::steady_clock::now();
  {
    std::shared_ptr<const lufd::RegistryView> next = view;
    lufd::v1::Change change;
    for (int k = 0; k < applies; ++k) {
      change.set_serial(2 + k);
      change.set_kind(lufd::v1::OBJECT_KIND_IDENTIFIER);
      auto* id = change.mutable_after()->mutable_identifier();
      id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
      id->set_value(absl::StrCat("+4931", 1000000 + k * 7919 % 9000000));
      id->set_registrant_id("bench:registrant");
      id->clear_dest_group_ids();
      id->add_dest_group_ids("bench-dg");
      change.set_key(lufd::KeyOf(change.after()));
      auto applied = next->Apply({change});
      if (!applied.ok()) return 1;
      next = *std::move(applied);
    }
  }
  const double apply_us =
      applies > 0
          ? Seconds(a0, std::chrono::steady_clock::now()) * 1e6 / applies
          : 0;
  std::printf("APPLY one TN per Apply: %.1f us/apply over %d\n", apply_us,
              applies);

  std::printf(
      "view of %" PRIu64
      " numbers: build %.2f s, RSS %ld -> %ld kB, "
      "%.0f bytes/number; ResolveNumber %.0f/s (1 thread), found %" PRIu64
      "/%" PRIu64 "\n",
      n, Seconds(t0, t2), rss0, rss1, bytes_per, resolve_rate, found, resolved);
  std::printf("RESULT count=%" PRIu64
              " build_s=%.2f rss0_kb=%ld rss1_kb=%ld "
              "bytes_per_number=%.0f resolve_per_s=%.0f found=%" PRIu64
              " resolved=%" PRIu64 "\n",
              n, Seconds(t0, t2), rss0, rss1, bytes_per, resolve_rate, found,
              resolved);
  return (n == 0 || found == resolved) ? 0 : 1;
}
