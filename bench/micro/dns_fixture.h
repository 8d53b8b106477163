// The registry and key set the in-process DNS benchmarks (signer_bench,
// responder_bench) serve: registry objects with the shapes lufd's numbers
// have in production (blocks of numbers sharing a NAPTR, a private group
// offered to a peer), a generated zone key published in a KeyRing, and a
// hand-built query packet. Header-only; every function builds fresh values
// and keeps no state, so it is safe from any thread.
#ifndef LUFD_BENCH_MICRO_DNS_FIXTURE_H_
#define LUFD_BENCH_MICRO_DNS_FIXTURE_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/substitute.h"
#include "bench/micro/bench_env.h"
#include "google/protobuf/text_format.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/keys.h"
#include "server/core/view.h"
#include "server/dns/dnssec.h"
#include "server/dns/keyring.h"
#include "server/dns/wire.h"
#include "tests/unit/testing/objects.h"

namespace lufd::bench {

inline constexpr char kRegistrant[] = "iana-en:reg";
inline constexpr char kPeer[] = "iana-en:peer";

// The apex every benchmark zone uses, lowercase wire.
inline std::string ApexWire() { return *dns::NameFromText("e164.arpa."); }

// A registry object from protobuf text format; aborts on a typo (these are
// constants of the benchmark, not input).
inline lufd::v1::RegistryObject FromText(const std::string& text) {
  lufd::v1::RegistryObject o;
  if (!google::protobuf::TextFormat::ParseFromString(text, &o)) std::abort();
  return o;
}

inline lufd::v1::RegistryObject OrgObject(const std::string& id, bool peer) {
  return FromText(
      absl::Substitute(R"pb(org { id: "$0" roles: $1 })pb", id,
                       peer ? "ORG_ROLE_PEER" : "ORG_ROLE_REGISTRANT"));
}

// An in-service NAPTR record "!^.*$!<target>!" of kRegistrant.
inline lufd::v1::RegistryObject NaptrObject(const std::string& id,
                                            const std::string& target,
                                            uint32_t ttl, uint32_t order = 10) {
  return FromText(absl::Substitute(
      R"pb(sed_record {
             id: "$0"
             registrant_id: "$1"
             in_service: true
             ttl: $2
             naptr {
               order: $3
               preference: 10
               flags: "u"
               services: "E2U+sip"
               regexp: "!^.*$$!$4!"
               replacement: "."
             }
           })pb",
      id, kRegistrant, ttl, order, target));
}

// Accumulates objects into a RegistryView.
class ViewBuilder {
 public:
  ViewBuilder() {
    Add(OrgObject(kRegistrant, false));
    Add(OrgObject(kPeer, true));
  }
  void Add(const lufd::v1::RegistryObject& o) {
    builder_.Add(KindOf(o), KeyOf(o), o);
  }
  // A public group `name` serving `records` to the numbers of dest group
  // `name`.
  void PublicGroup(const std::string& name,
                   const std::vector<std::string>& records) {
    Add(testing::DestGroup(name, kRegistrant));
    Add(testing::Group(name, kRegistrant, {name}, records, true));
  }
  // One number only kPeer sees: a private group offered to it, so the
  // signer has a peer viewer class besides the anonymous one.
  void HiddenNumber(const std::string& e164) {
    Add(testing::DestGroup("dg-hidden", kRegistrant));
    Add(NaptrObject("r-hidden", "sip:hidden@example.net", 600));
    Add(testing::Group("g-hidden", kRegistrant, {"dg-hidden"}, {"r-hidden"},
                       false));
    Add(testing::Offer("g-hidden", kPeer, lufd::v1::OFFER_STATUS_ACCEPTED));
    Add(testing::Tn(e164, kRegistrant, {"dg-hidden"}));
  }
  std::shared_ptr<const RegistryView> Build(uint64_t serial) && {
    return std::move(builder_).Build(serial);
  }

 private:
  RegistryView::Builder builder_;
};

// A freshly generated active CSK (ECDSA P-256), the only key of the zone.
inline std::shared_ptr<const dns::ZoneKeys> SingleCskZone() {
  auto key = dns::SigningKey::Generate(dns::kAlgEcdsaP256Sha256);
  if (!key.ok()) std::abort();
  dns::ZoneKey zk;
  zk.private_key = std::shared_ptr<const dns::SigningKey>(std::move(*key));
  zk.dnskey_rdata =
      dns::DnskeyRdata(dns::kDnskeyFlagsKsk, dns::kAlgEcdsaP256Sha256,
                       zk.private_key->public_key());
  zk.key_tag = dns::KeyTag(zk.dnskey_rdata);
  zk.info.set_zone("e164.arpa.");
  zk.info.set_role(lufd::v1::DNS_KEY_ROLE_CSK);
  zk.info.set_algorithm(dns::kAlgEcdsaP256Sha256);
  zk.info.set_flags(dns::kDnskeyFlagsKsk);
  zk.info.set_key_tag(zk.key_tag);
  zk.info.set_state(lufd::v1::DNS_KEY_STATE_ACTIVE);
  auto zone = std::make_shared<dns::ZoneKeys>();
  zone->zone_wire = ApexWire();
  zone->published = {zk};
  zone->dnskey_signers = {zk};
  zone->zone_signers = {zk};
  return zone;
}

// A NAPTR query for `name` (presentation form) with EDNS (1232 bytes) and
// the DO bit as given.
inline std::vector<uint8_t> QueryPacket(const std::string& name, bool do_bit) {
  std::vector<uint8_t> p;
  auto put16 = [&p](uint16_t v) {
    p.push_back(static_cast<uint8_t>(v >> 8));
    p.push_back(static_cast<uint8_t>(v & 0xff));
  };
  for (uint16_t v : {uint16_t{0x4242}, dns::kFlagRD, uint16_t{1}, uint16_t{0},
                     uint16_t{0}, uint16_t{1}}) {
    put16(v);
  }
  const std::string wire = *dns::NameFromText(name);
  p.insert(p.end(), wire.begin(), wire.end());
  put16(dns::kTypeNAPTR);
  put16(dns::kClassIN);
  p.push_back(0);  // OPT: root owner, type, payload, rcode/version, flags.
  put16(dns::kTypeOPT);
  put16(1232);
  p.push_back(0);
  p.push_back(0);
  put16(do_bit ? dns::kEdnsFlagDO : 0);
  put16(0);
  return p;
}

}  // namespace lufd::bench

#endif  // LUFD_BENCH_MICRO_DNS_FIXTURE_H_
