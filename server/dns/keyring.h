// The DNSSEC keys each zone answers and signs with, as of the current view:
// DNS_KEY objects in the registry (public halves and states) joined with the
// private keys found in the key directory. Rebuilt by KeyManager when a
// DNS_KEY object changes; readers take a snapshot without locking.
#ifndef LUFD_SERVER_DNS_KEYRING_H_
#define LUFD_SERVER_DNS_KEYRING_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "lufd/v1/registry.pb.h"
#include "server/dns/dnssec.h"

namespace lufd::dns {

struct ZoneKey {
  lufd::v1::DnsKey info;               // From the registry.
  std::string dnskey_rdata;            // DnskeyRdata(flags, alg, pub).
  uint16_t key_tag = 0;
  std::shared_ptr<const SigningKey> private_key;  // Null when not on disk here.
};

struct ZoneKeys {
  std::string zone_wire;  // Lowercase apex.
  // DNSKEY RRset content: PUBLISHED, ACTIVE and RETIRED keys.
  std::vector<ZoneKey> published;
  // Keys that sign the DNSKEY RRset (ACTIVE KSKs and CSKs) and everything
  // else (ACTIVE ZSKs and CSKs), with their private keys loaded.
  std::vector<ZoneKey> dnskey_signers;
  std::vector<ZoneKey> zone_signers;
  bool CanSign() const { return !zone_signers.empty(); }
};

class KeyRing {
 public:
  // Keys of a zone (lowercase wire apex), or null when DNSSEC is off for it.
  std::shared_ptr<const ZoneKeys> Get(const std::string& zone_wire) const;
  void Publish(std::vector<std::shared_ptr<const ZoneKeys>> zones);
  uint64_t generation() const { return generation_.load(); }

 private:
  std::atomic<std::shared_ptr<const std::vector<std::shared_ptr<const ZoneKeys>>>>
      zones_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_KEYRING_H_
