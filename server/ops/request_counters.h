// RequestCounters: what the front doors decided about each request, counted
// for the metrics endpoint (server/app/metrics.h): lookups answered, of
// those the misses (no SED: absent and invisible alike), refusals
// (denials) and blocks imposed, per door (gRPC, DNS) and identity class
// (peer, admin, anonymous), and per peer org.
//
// The counts are recorded where the decisions are made, once each:
//   lookups/misses - LookupServiceImpl::GuardedAnswer (gRPC) and
//                    Responder::Settle (DNS, names below a zone's apex),
//   denials        - RpcRunner::RecordDenial (every refused RPC, side doors
//                    included) and Responder::Refuse (the DNS guard stage),
//   blocks         - Guard::Offence (a block imposed and enforced).
//
// Cheap on the hot path: a class count is one relaxed atomic increment in a
// fixed array. A peer org's counts live in a slot that is created once and
// never freed; each thread remembers the last org it counted for, so a run
// of queries from one org takes no lock, and switching orgs takes a shared
// (reader) lock. The number of org slots is capped (kMaxOrgs): orgs beyond
// the cap share one slot, reported as org "_other", so the metric's label
// cardinality is bounded whatever the registry holds. Only identified
// non-admin callers (peers and registrars, "peer" class) get an org slot;
// their org ids come from verified credentials, i.e. registered orgs.
//
// Thread-safe. Reading (Snapshot) is for the scraper: it takes the org lock
// once and reads the atomics without stopping the writers.
#ifndef LUFD_SERVER_OPS_REQUEST_COUNTERS_H_
#define LUFD_SERVER_OPS_REQUEST_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace lufd {

enum class Door : uint8_t { kGrpc = 0, kDns = 1 };
inline constexpr size_t kDoorCount = 2;
const char* DoorName(Door door);  // "grpc", "dns"

enum class IdentityClass : uint8_t { kPeer = 0, kAdmin = 1, kAnonymous = 2 };
inline constexpr size_t kIdentityClassCount = 3;
const char* IdentityClassName(IdentityClass c);  // "peer", "admin", ...
// Anonymous callers have no org; admins are kAdmin; every other identified
// caller (role peer or registrar) is kPeer.
IdentityClass ClassifyIdentity(bool anonymous, bool admin);

class RequestCounters {
 public:
  // Distinct org slots before the rest share "_other".
  static constexpr size_t kMaxOrgs = 500;
  static constexpr absl::string_view kOtherOrg = "_other";

  RequestCounters();
  explicit RequestCounters(size_t max_orgs);
  ~RequestCounters();
  RequestCounters(const RequestCounters&) = delete;
  RequestCounters& operator=(const RequestCounters&) = delete;

  // A lookup answered (`hit`: with SED). `org` is used for kPeer only.
  void Lookup(Door door, IdentityClass c, absl::string_view org, bool hit);
  // A request refused with `code` (a gRPC/absl code; the DNS guard's
  // refusals are RESOURCE_EXHAUSTED).
  void Denial(Door door, IdentityClass c, absl::string_view org,
              absl::StatusCode code);
  // A block imposed on an identity (the guard's escalation ladder).
  void Block(IdentityClass c, absl::string_view org);

  // The denial codes counted by code; any other code counts as "OTHER".
  static constexpr std::array<absl::StatusCode, 5> kDenialCodes = {
      absl::StatusCode::kUnauthenticated, absl::StatusCode::kPermissionDenied,
      absl::StatusCode::kInvalidArgument, absl::StatusCode::kFailedPrecondition,
      absl::StatusCode::kResourceExhausted};
  static constexpr size_t kCodeSlots = kDenialCodes.size() + 1;  // + other

  struct ClassCounts {
    uint64_t lookups = 0;
    uint64_t misses = 0;
    uint64_t denials[kCodeSlots] = {};  // Indexed like kDenialCodes, other.
  };
  struct OrgCounts {
    std::string org;
    uint64_t lookups[kDoorCount] = {};
    uint64_t misses[kDoorCount] = {};
    uint64_t denials[kDoorCount] = {};
    uint64_t blocks = 0;
  };
  struct Snapshot {
    ClassCounts by_class[kDoorCount][kIdentityClassCount];
    uint64_t blocks[kIdentityClassCount] = {};
    std::vector<OrgCounts> orgs;  // Sorted by org id; "_other" if used.
  };
  Snapshot Read() const;
  // The label of the denial code slot `i` ("RESOURCE_EXHAUSTED", "OTHER").
  static std::string CodeLabel(size_t i);

 private:
  struct OrgSlot {
    std::atomic<uint64_t> lookups[kDoorCount] = {};
    std::atomic<uint64_t> misses[kDoorCount] = {};
    std::atomic<uint64_t> denials[kDoorCount] = {};
    std::atomic<uint64_t> blocks{0};
  };
  struct ClassSlot {
    std::atomic<uint64_t> lookups{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> denials[kCodeSlots] = {};
  };

  // The org's slot (created on first use), or the shared one beyond the
  // cap. Never null.
  OrgSlot* SlotFor(absl::string_view org);
  static size_t CodeSlot(absl::StatusCode code);

  const size_t max_orgs_;
  const uint64_t id_;  // Unique per instance: the per-thread cache's tag.
  ClassSlot classes_[kDoorCount][kIdentityClassCount];
  std::atomic<uint64_t> blocks_[kIdentityClassCount] = {};
  OrgSlot other_;
  std::atomic<bool> other_used_{false};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<OrgSlot>> orgs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_REQUEST_COUNTERS_H_
