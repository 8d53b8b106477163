// Measures a bulk Commit and a LoadSnapshot on any store URL:
//   lufd_store_bench <url> [mutations]
// The store is migrated first; objects are ~100-byte NAPTR identifiers.
// With a third argument "signatures" it measures PutSignatures and a full
// ScanSignatures of that many rows instead (ENUM owner names of 11 digits,
// ~100-byte ECDSA P-256 RRSIG RDATA, as the signer makes them).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

// One PutSignatures of n rows, then ScanSignatures from 0.
static int BenchSignatures(lufd::SignatureTable& store, size_t n) {
  using Clock = std::chrono::steady_clock;
  std::vector<lufd::StoredSignature> rows;
  rows.reserve(n);
  const std::string rdata(100, 'r');
  for (size_t i = 0; i < n; ++i) {
    lufd::StoredSignature s;
    // "<digits reversed>.e164.arpa." in wire form.
    const std::string digits = absl::StrCat(44201000000 + i);
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
      s.owner.push_back('\x01');
      s.owner.push_back(*it);
    }
    s.owner.append(
        std::string("\x04"
                    "e164\x04"
                    "arpa\x00",
                    11));
    s.type_covered = 35;  // NAPTR.
    s.rrset_hash = 0x9e3779b97f4a7c15ull * (i + 1);
    s.key_tag = 12345;
    s.rrsig_rdata = rdata;
    s.expiration_unix = 1800000000 + static_cast<int64_t>(i % 86400);
    rows.push_back(std::move(s));
  }
  auto t0 = Clock::now();
  double c0 = CpuSeconds();
  if (auto s = store.PutSignatures(rows); !s.ok()) {
    std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
    return 1;
  }
  auto t1 = Clock::now();
  std::printf("put %zu signatures: %.2f s wall, %.2f s client CPU\n", n,
              std::chrono::duration<double>(t1 - t0).count(),
              CpuSeconds() - c0);
  rows.clear();
  rows.shrink_to_fit();
  size_t count = 0, bytes = 0;
  t0 = Clock::now();
  c0 = CpuSeconds();
  auto last = store.ScanSignatures(0, [&](const lufd::StoredSignature& s) {
    ++count;
    bytes += s.owner.size() + s.rrsig_rdata.size();
  });
  t1 = Clock::now();
  if (!last.ok()) {
    std::fprintf(stderr, "scan: %s\n", last.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "scan %zu signatures (%zu bytes): %.2f s wall, %.2f s client CPU (last "
      "seq %llu)\n",
      count, bytes, std::chrono::duration<double>(t1 - t0).count(),
      CpuSeconds() - c0, static_cast<unsigned long long>(*last));
  return 0;
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
  if (argc > 3 && std::string(argv[3]) == "signatures") {
    return BenchSignatures(*(*store)->Signatures(), n);
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
