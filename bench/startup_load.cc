// startup_load: the two bulk loads of a lufd start-up, in-process and timed
// on their own (no gRPC, DNS or TLS):
//   1. the first registry view (Store::LoadSnapshot into a
//      RegistryView::Builder, as ChangeFollower::Start does), and
//   2. the stored DNSSEC signatures (SignatureTable::ScanSignatures into a
//      SignatureCache, as SignAheadSigner::LoadAll does).
// Prints wall and CPU seconds (user + system) of each, --runs times (the
// database file stays in the page cache after the first). CPU time is the
// number to compare on a shared machine: wall time there mostly measures
// the neighbours.
//
//   startup_load --url sqlite:/path/registry.db [--runs 3]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/core/view.h"
#include "server/dns/sigcache.h"
#include "storage/store.h"

ABSL_FLAG(std::string, url, "", "Store URL (sqlite:..., postgresql://...).");
ABSL_FLAG(int, runs, 3, "How many times to load each.");

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Wall and CPU seconds since construction.
struct Timer {
  std::chrono::steady_clock::time_point wall0 =
      std::chrono::steady_clock::now();
  double cpu0 = CpuSeconds();
  void Print(const char* what, size_t count) const {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0)
            .count();
    std::printf("%-10s %9zu objects  wall %6.3f s  cpu %6.3f s\n", what, count,
                wall, CpuSeconds() - cpu0);
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Times lufd's start-up loads from a store.");
  absl::ParseCommandLine(argc, argv);
  auto store = lufd::Store::Open(absl::GetFlag(FLAGS_url));
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  for (int run = 0; run < absl::GetFlag(FLAGS_runs); ++run) {
    {
      Timer t;
      size_t n = 0;
      lufd::RegistryView::Builder builder;
      auto serial = (*store)->LoadSnapshot(
          [&](lufd::v1::ObjectKind kind, absl::string_view key,
              const lufd::v1::RegistryObject& object) {
            builder.Add(kind, key, object);
            ++n;
          });
      if (!serial.ok()) {
        std::fprintf(stderr, "%s\n", serial.status().ToString().c_str());
        return 1;
      }
      auto view = std::move(builder).Build(*serial);
      t.Print("view", n);
    }  // The view's destruction is not timed.
    {
      Timer t;
      lufd::dns::SignatureCache signatures;
      absl::StatusOr<uint64_t> seq = 0;
      signatures.InsertMany([&](lufd::dns::SignatureCache::AddFn add) {
        seq = (*store)->Signatures()->ScanSignatures(
            0, [&](const lufd::StoredSignature& s) {
              uint16_t covered = 0;
              auto compact =
                  lufd::dns::CompactFromRdata(s.rrsig_rdata, &covered);
              if (!compact) return;
              add(lufd::dns::SignatureKey(s.owner, covered, s.rrset_hash,
                                          s.key_tag),
                  *compact);
            });
      });
      if (!seq.ok()) {
        std::fprintf(stderr, "%s\n", seq.status().ToString().c_str());
        return 1;
      }
      t.Print("signatures", signatures.size());
    }
  }
  return 0;
}
