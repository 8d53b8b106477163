// KeyManager: the DNSSEC keys of every configured zone, from birth to
// removal.
//
// Public halves and life-cycle states live in the registry as DNS_KEY
// objects (so every instance publishes the same DNSKEY RRset); private
// halves live in the key directory as "K<zone>+<alg>+<tag>.pem" (PKCS#8,
// mode 0600, never overwritten). KeyManager joins the two into the KeyRing
// that the responder and the signer read: it watches the view (polling the
// ViewHolder's serial) and republishes the ring whenever the zone's key
// objects change. A key whose private file is missing on this instance is
// published but never signs here (a warning is logged).
//
// Life cycle (registry.proto DnsKeyState): PUBLISHED -> ACTIVE -> RETIRED
// -> REMOVED.
//  - ZSKs roll by themselves by pre-publication (RFC 6781 4.1.1.1): when the
//    active ZSK is older than zsk_lifetime - publish_safety, a successor is
//    PUBLISHED; publish_safety later it becomes ACTIVE and the old one
//    RETIRED; retire_safety later the old one is REMOVED.
//  - KSKs and CSKs roll on request with a manual DS step (double-KSK,
//    RFC 6781 4.1.2): Rollover() publishes a successor with ds_pending; it
//    signs the DNSKEY RRset at once (so either DS validates) and GetDs()
//    shows both DS; Rollover(ds_published=true) activates it and retires
//    the old key, which keeps signing the DNSKEY RRset until REMOVED
//    retire_safety later (resolvers may still hold the old DS).
//  - auto_generate: a configured zone without keys gets its first ones
//    (scheme "csk": one ACTIVE CSK; "ksk-zsk": an ACTIVE KSK and ZSK).
// Timed transitions and auto-generation happen only while `is_signer`
// returns true (the sign-ahead election), so two instances never race to
// create keys.
//
// Multi-signer (scheme "ksk-zsk" with a key_dir; docs/dns.md "Several
// instances"): each key_dir is one instance, named by the random id in its
// "instance-id" file. A ZSK carries its owner's id (DnsKey.owner); only the
// owner has its private key. Every instance, signer or not, drives its own
// ZSKs: one that has no usable zone-signing key here (ACTIVE, or PUBLISHED
// with an activation time, with the private key in key_dir) while the zone
// has a published KSK pre-publishes its own ZSK, ACTIVE publish_safety
// later; its own ZSK rolls by pre-publication at zsk_lifetime like a shared
// one. The signer still creates the first keys (the first ZSK is its own),
// rolls the shared (owner-less) ZSKs, and moves every RETIRED key, whoever
// owns it, to REMOVED after retire_safety (`lufctl key retire` retires the
// ZSK of an instance that left). ZSK rolls of one group never retire
// another group's keys.
//
// KeyRing contents per zone: published = PUBLISHED, ACTIVE and RETIRED keys
// (the DNSKEY RRset); dnskey_signers = every published KSK/CSK with its
// private key here; zone_signers = ACTIVE ZSKs/CSKs with their private keys,
// the most recently activated first.
//
// Thread-safe. Generate/Rollover/GetDs may be called from RPC threads
// concurrently with the background thread; writes are serialized. The
// Registry, ViewHolder and KeyRing must outlive the KeyManager.
#ifndef LUFD_SERVER_DNS_KEYMANAGER_H_
#define LUFD_SERVER_DNS_KEYMANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/key_admin.h"
#include "server/core/registry.h"
#include "server/core/view.h"
#include "server/dns/keyring.h"

namespace lufd::dns {

struct ManagedZone {
  std::string wire;  // Lowercase uncompressed wire apex (KeyRing key).
  std::string name;  // Lowercase presentation, trailing dot: "e164.arpa.".
  uint32_t dnskey_ttl = 3600;  // TTL of the DNSKEY/DS lines GetDs prints.
};

struct KeyManagerOptions {
  // The clock of every timed transition; absl::Now when empty. Tests drive
  // a whole rollover with a fake clock.
  std::function<absl::Time()> now;
  // True while this instance is the one that signs (and therefore
  // generates and rolls keys). Always true when empty.
  std::function<bool()> is_signer;
  // How often the background thread looks at the view serial and the
  // clock.
  absl::Duration poll_interval = absl::Milliseconds(100);
};

using ::lufd::DsLines;
using ::lufd::KeyChange;

class KeyManager final : public KeyAdmin {
 public:
  // Checks the config (algorithm 13/15, scheme csk|ksk-zsk, durations,
  // key_dir when signing) without touching the store or the disk.
  static absl::StatusOr<std::unique_ptr<KeyManager>> Create(
      const lufd::v1::DnssecConfig& config, std::vector<ManagedZone> zones,
      Registry* registry, const ViewHolder* views, KeyRing* ring,
      KeyManagerOptions options = {});

  ~KeyManager() override;  // Stop().
  KeyManager(const KeyManager&) = delete;
  KeyManager& operator=(const KeyManager&) = delete;

  // Creates the key directory (0700) if needed, runs one Tick() (so the
  // ring is published and first keys exist before Start returns, when this
  // instance is the signer) and starts the background thread.
  absl::Status Start();
  // Stops the background thread; idempotent.
  void Stop();

  // One round of what the thread does: rebuild the ring if the key objects
  // changed, then (when is_signer) auto-generate and run due transitions.
  // Public so tests can step a fake clock deterministically.
  absl::Status Tick();

  // `zone`: presentation, case-insensitive, trailing dot optional. NOT_FOUND
  // when it is not a configured zone; INVALID_ARGUMENT for a bad role or
  // algorithm (0 = configured default; role UNSPECIFIED = CSK).
  absl::StatusOr<KeyChange> Generate(const std::string& zone,
                                     lufd::v1::DnsKeyRole role,
                                     uint32_t algorithm,
                                     bool activate) override;
  // See the class comment. A ZSK roll on an instance that owns an ACTIVE
  // ZSK rolls that one (multi-signer); else the shared ZSKs.
  // FAILED_PRECONDITION when there is no active key
  // of that role, a roll of it is already under way (ds_published=false),
  // or no successor waits for its DS (ds_published=true).
  absl::StatusOr<KeyChange> Rollover(const std::string& zone,
                                     lufd::v1::DnsKeyRole role,
                                     bool ds_published) override;
  absl::StatusOr<DsLines> GetDs(const std::string& zone) const override;
  bool ServesZone(const std::string& zone) const override {
    return FindZone(zone) != nullptr;
  }

  // The configured zone for a presentation name, or null.
  const ManagedZone* FindZone(const std::string& zone) const;

 private:
  struct State;
  explicit KeyManager(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_KEYMANAGER_H_
