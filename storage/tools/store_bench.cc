// Measures a bulk Commit and a LoadSnapshot on any store URL:
//   lufd_store_bench <url> [mutations]
// The store is migrated first; objects are ~100-byte NAPTR identifiers.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/store.h"

// CPU seconds (user + system) used by this process so far: on a shared
// machine wall time mostly measures the neighbours.
static double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <store-url> [mutations]\n", argv[0]);
    return 2;
  }
  const size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000000;
  auto store = lufd::Store::Open(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  if (auto s = (*store)->Migrate(); !s.ok()) {
    std::fprintf(stderr, "migrate: %s\n", s.ToString().c_str());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  lufd::CommitRequest req;
  req.actor = "bench";
  req.mutations.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    lufd::Mutation m;
    m.kind = lufd::v1::OBJECT_KIND_IDENTIFIER;
    const std::string tn = absl::StrCat("+4420", 10000000 + i);
    m.key = absl::StrCat("tn:", tn);
    lufd::v1::RegistryObject o;
    auto* id = o.mutable_identifier();
    id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
    id->set_value(tn);
    id->set_registrant_id("iana-en:32473");
    id->add_dest_group_ids("dg-london");
    auto* naptr = id->add_records()->mutable_naptr();
    naptr->set_order(10);
    naptr->set_preference(100);
    naptr->set_flags("u");
    naptr->set_services("E2U+sip");
    naptr->set_regexp(absl::StrCat("!^.*$!sip:", tn, "@example.net!"));
    m.after = std::move(o);
    req.mutations.push_back(std::move(m));
  }
  auto t0 = Clock::now();
  double c0 = CpuSeconds();
  auto serial = (*store)->Commit(req);
  auto t1 = Clock::now();
  if (!serial.ok()) {
    std::fprintf(stderr, "commit: %s\n", serial.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "commit %zu mutations: %.2f s wall, %.2f s client CPU (serial %llu)\n", n,
      std::chrono::duration<double>(t1 - t0).count(), CpuSeconds() - c0,
      static_cast<unsigned long long>(*serial));
  size_t count = 0;
  t0 = Clock::now();
  c0 = CpuSeconds();
  auto snap =
      (*store)->LoadSnapshot([&](lufd::v1::ObjectKind, absl::string_view,
                                 const lufd::v1::RegistryObject&) { ++count; });
  t1 = Clock::now();
  if (!snap.ok()) {
    std::fprintf(stderr, "snapshot: %s\n", snap.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "load snapshot of %zu objects: %.2f s wall, %.2f s client CPU (serial "
      "%llu)\n",
      count, std::chrono::duration<double>(t1 - t0).count(), CpuSeconds() - c0,
      static_cast<unsigned long long>(*snap));
  return 0;
}
