// KeyAdmin: the DNSSEC key operations an admin may ask for (generate, roll,
// read the DS), as the gRPC AdminService sees them. The DNS front door's
// KeyManager (server/dns/keymanager.h) implements it; the composition root
// (server/app) hands it to the service, so server/grpc never includes the
// DNS code. Implementations are thread-safe.
#ifndef LUFD_SERVER_CORE_KEY_ADMIN_H_
#define LUFD_SERVER_CORE_KEY_ADMIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lufd/v1/registry.pb.h"

namespace lufd {

// Keys created or changed by one call, and the registry serial that holds
// them.
struct KeyChange {
  std::vector<lufd::v1::DnsKey> keys;
  uint64_t serial = 0;
};

// DS and DNSKEY presentation lines ("e164.arpa.\t3600\tIN\tDS\t12345 13 2
// ABCD..."), one per KSK/CSK that is PUBLISHED or ACTIVE.
struct DsLines {
  std::vector<std::string> ds;
  std::vector<std::string> dnskey;
};

class KeyAdmin {
 public:
  virtual ~KeyAdmin() = default;

  // True when `zone` (presentation, case-insensitive, trailing dot
  // optional) is a zone this instance serves.
  virtual bool ServesZone(const std::string& zone) const = 0;
  // NOT_FOUND when `zone` is not served; INVALID_ARGUMENT for a bad role or
  // algorithm (0 = configured default; role UNSPECIFIED = CSK).
  virtual absl::StatusOr<KeyChange> Generate(const std::string& zone,
                                             lufd::v1::DnsKeyRole role,
                                             uint32_t algorithm,
                                             bool activate) = 0;
  // FAILED_PRECONDITION when there is no active key of that role, a roll of
  // it is already under way (ds_published=false), or no successor waits for
  // its DS (ds_published=true).
  virtual absl::StatusOr<KeyChange> Rollover(const std::string& zone,
                                             lufd::v1::DnsKeyRole role,
                                             bool ds_published) = 0;
  virtual absl::StatusOr<DsLines> GetDs(const std::string& zone) const = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_KEY_ADMIN_H_
