#include "server/dns/keymanager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/private_file.h"
#include "common/status_macros.h"
#include "server/core/identity.h"
#include "server/dns/wire.h"
#include "server/ops/config.h"
#include "spdlog/spdlog.h"

// ldns/common.h #defines bool/true/false unless stdbool.h came first.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

namespace lufd::dns {
namespace {

using lufd::v1::DnsKey;
using lufd::v1::DnsKeyRole;
using lufd::v1::DnsKeyState;

constexpr DnsKeyRole kCsk = lufd::v1::DNS_KEY_ROLE_CSK;
constexpr DnsKeyRole kKsk = lufd::v1::DNS_KEY_ROLE_KSK;
constexpr DnsKeyRole kZsk = lufd::v1::DNS_KEY_ROLE_ZSK;
constexpr DnsKeyState kPublished = lufd::v1::DNS_KEY_STATE_PUBLISHED;
constexpr DnsKeyState kActive = lufd::v1::DNS_KEY_STATE_ACTIVE;
constexpr DnsKeyState kRetired = lufd::v1::DNS_KEY_STATE_RETIRED;
constexpr DnsKeyState kRemoved = lufd::v1::DNS_KEY_STATE_REMOVED;

// Who the audit trail names for key objects lufd writes by itself.
Identity SystemIdentity() {
  return Identity{"", "lufd-keymanager", lufd::v1::ROLE_ADMIN};
}

bool IsSep(DnsKeyRole role) { return role == kCsk || role == kKsk; }
bool SignsZone(DnsKeyRole role) { return role == kCsk || role == kZsk; }
bool IsPublishedState(DnsKeyState s) {
  return s == kPublished || s == kActive || s == kRetired;
}

std::string NormalizeZoneName(const std::string& zone) {
  std::string z = absl::AsciiStrToLower(zone);
  if (z.empty() || z.back() != '.') z.push_back('.');
  return z;
}

// "K<zone>+<alg>+<tag>.pem" as BIND and ldns name key files; the root zone
// keeps its "." so the name never starts with "K+". (Start checks the modes
// of the files named so: common/private_file.h kDnssecKeyFilePrefix.)
std::string KeyFileName(const std::string& zone_name, uint32_t algorithm,
                        uint32_t tag) {
  std::string z = zone_name;
  if (z.size() > 1 && z.back() == '.') z.pop_back();
  return absl::StrFormat("K%s+%03d+%05d.pem", z, algorithm, tag);
}

// A presentation line from wire parts, printed by ldns ("owner TTL IN TYPE
// rdata"), without the trailing newline.
std::string PresentationLine(const std::string& owner_wire, uint16_t type,
                             uint32_t ttl, const std::string& rdata) {
  std::string wire = owner_wire;
  AppendRrTail(&wire, type, kClassIN, ttl, rdata);
  ldns_rr* rr = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&rr, reinterpret_cast<const uint8_t*>(wire.data()),
                   wire.size(), &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
    return "";
  }
  char* text = ldns_rr2str(rr);
  ldns_rr_free(rr);
  if (text == nullptr) return "";
  std::string out(text);
  free(text);  // NOLINT: allocated by ldns with malloc.
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  return out;
}

// The key directory's instance id (multi-signer: which instance owns a
// ZSK): "instance-id" in key_dir, 16 hex digits, created on first use.
// One key_dir is one instance; a copied key_dir would make two processes
// the same owner.
constexpr char kInstanceIdFile[] = "instance-id";

absl::StatusOr<std::string> LoadOrCreateInstanceId(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kInstanceIdFile);
  for (int attempt = 0; attempt < 2; ++attempt) {
    FILE* f = fopen(path.c_str(), "re");
    if (f != nullptr) {
      char buf[64] = {};
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      std::string id(buf, n);
      while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
        id.pop_back();
      }
      bool hex = !id.empty() && id.size() <= 32;
      for (char c : id) hex &= absl::ascii_isxdigit(c) != 0;
      if (!hex) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": not an instance id (hex digits)"));
      }
      return absl::AsciiStrToLower(id);
    }
    if (errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", strerror(errno)));
    }
    std::random_device rd;
    const uint64_t v = (uint64_t{rd()} << 32) ^ rd();
    const std::string id = absl::StrFormat("%016x", v);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;  // Another process made it: read it.
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", strerror(errno)));
    }
    const std::string line = id + "\n";
    const bool ok = write(fd, line.data(), line.size()) ==
                    static_cast<ssize_t>(line.size());
    close(fd);
    if (!ok) {
      unlink(path.c_str());
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": could not write the instance id"));
    }
    spdlog::info("dnssec: this instance's id is {} ({})", id, path);
    return id;
  }
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": could not read or create"));
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

// A ZSK `instance_id` owns that signs or will: PUBLISHED or ACTIVE.
bool IsOwnZskLive(const DnsKey& k, const std::string& instance_id) {
  return !instance_id.empty() && k.owner() == instance_id && k.role() == kZsk &&
         (k.state() == kPublished || k.state() == kActive);
}

}  // namespace

struct KeyManager::State {
  lufd::v1::DnssecConfig config;
  std::vector<ManagedZone> zones;
  Registry* registry = nullptr;
  const ViewHolder* views = nullptr;
  KeyRing* ring = nullptr;
  KeyManagerOptions options;
  uint8_t algorithm = kAlgEcdsaP256Sha256;
  bool ksk_zsk = false;
  absl::Duration zsk_lifetime;
  absl::Duration publish_safety;
  absl::Duration retire_safety;
  absl::Duration purge_keys;  // Zero: never delete key files.

  // Serializes every write and ring rebuild of this instance.
  mutable absl::Mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const SigningKey>>
      private_keys ABSL_GUARDED_BY(mu);
  absl::flat_hash_set<std::string> warned_files ABSL_GUARDED_BY(mu);
  // Key files this instance has purged (or found gone): looked at once.
  absl::flat_hash_set<std::string> purged_files ABSL_GUARDED_BY(mu);
  // Purging is a matter of days: looked at once a minute, not every tick.
  absl::Time next_purge_check ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  std::string ring_fingerprint ABSL_GUARDED_BY(mu);
  bool ring_published ABSL_GUARDED_BY(mu) = false;
  uint64_t ring_serial ABSL_GUARDED_BY(mu) = 0;
  bool missing_private ABSL_GUARDED_BY(mu) = false;
  absl::Time last_missing_check ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  // Multi-signer (ksk-zsk with a key_dir): this instance's id and host
  // name, stamped on the ZSKs it owns. Empty until EnsureInstanceId.
  std::string instance_id ABSL_GUARDED_BY(mu);
  std::string host ABSL_GUARDED_BY(mu);
  // A non-signer whose own-key write failed (e.g. its store is a read-only
  // standby) tries again only after this (real time), not every tick.
  absl::Time own_retry_after ABSL_GUARDED_BY(mu) = absl::InfinitePast();

  absl::Mutex stop_mu;
  bool stop ABSL_GUARDED_BY(stop_mu) = false;
  std::thread thread;

  absl::Time Now() const { return options.now ? options.now() : absl::Now(); }
  bool IsSigner() const { return !options.is_signer || options.is_signer(); }
  // Whether this instance keeps a ZSK of its own (docs/dns.md "Several
  // instances"): the ksk-zsk scheme, a key_dir to keep it in.
  bool MultiSigner() const { return ksk_zsk && !config.key_dir().empty(); }

  absl::Status EnsureInstanceId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!instance_id.empty() || !MultiSigner()) return absl::OkStatus();
    absl::StatusOr<std::string> id = LoadOrCreateInstanceId(config.key_dir());
    if (!id.ok()) return id.status();
    instance_id = *std::move(id);
    host = HostName();
    return absl::OkStatus();
  }

  const ManagedZone* FindZone(const std::string& zone) const {
    std::string name = NormalizeZoneName(zone);
    for (const ManagedZone& z : zones) {
      if (z.name == name) return &z;
    }
    return nullptr;
  }

  // Every DNS_KEY object of the zone (all states), by key tag.
  std::vector<DnsKey> KeysOf(const RegistryView& view,
                             const std::string& zone_name) const {
    std::vector<DnsKey> keys;
    view.ForEach(lufd::v1::OBJECT_KIND_DNS_KEY,
                 [&](absl::string_view, const lufd::v1::RegistryObject& o) {
                   if (o.has_dns_key() && o.dns_key().zone() == zone_name) {
                     keys.push_back(o.dns_key());
                   }
                   return true;
                 });
    std::sort(keys.begin(), keys.end(), [](const DnsKey& a, const DnsKey& b) {
      return a.key_tag() < b.key_tag();
    });
    return keys;
  }

  // A fresh key written to the key directory (not yet in the registry).
  // The tag differs from every key the zone ever had (RFC 4034 tags are
  // not unique; registry keys and file names are by tag).
  absl::StatusOr<DnsKey> NewKey(const ManagedZone& zone, DnsKeyRole role,
                                uint8_t algorithm, DnsKeyState state,
                                absl::Time now,
                                const std::vector<DnsKey>& existing,
                                std::vector<std::string>* written,
                                bool owned = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (config.key_dir().empty()) {
      return absl::FailedPreconditionError(
          "dns.dnssec.key_dir is not configured: cannot create keys");
    }
    uint16_t flags = IsSep(role) ? kDnskeyFlagsKsk : kDnskeyFlagsZsk;
    for (int attempt = 0; attempt < 20; ++attempt) {
      absl::StatusOr<std::unique_ptr<SigningKey>> key =
          SigningKey::Generate(algorithm);
      if (!key.ok()) return key.status();
      std::string rdata = DnskeyRdata(flags, algorithm, (*key)->public_key());
      uint16_t tag = KeyTag(rdata);
      bool clash = false;
      for (const DnsKey& k : existing) clash |= (k.key_tag() == tag);
      std::string file = KeyFileName(zone.name, algorithm, tag);
      std::string path = absl::StrCat(config.key_dir(), "/", file);
      if (clash) continue;
      absl::Status st = (*key)->WritePemFile(path);
      if (st.code() == absl::StatusCode::kAlreadyExists) continue;  // Stale.
      if (!st.ok()) return st;
      written->push_back(path);
      private_keys[file] = std::shared_ptr<const SigningKey>(std::move(*key));
      DnsKey k;
      k.set_zone(zone.name);
      k.set_role(role);
      k.set_algorithm(algorithm);
      k.set_key_tag(tag);
      k.set_flags(flags);
      k.set_public_key(private_keys[file]->public_key());
      k.set_state(state);
      k.set_private_file(file);
      int64_t t = absl::ToUnixSeconds(now);
      k.set_created_unix(t);
      k.set_published_unix(t);
      if (state == kActive) k.set_active_unix(t);
      if (owned) {
        k.set_owner(instance_id);
        k.set_owner_host(host);
      }
      return k;
    }
    return absl::InternalError("could not find an unused key tag");
  }

  // Writes the keys in one registry transaction. On failure the private
  // files created for them are removed again.
  absl::StatusOr<uint64_t> Commit(const std::vector<DnsKey>& keys,
                                  const std::vector<std::string>& written)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<lufd::v1::Operation> ops;
    for (const DnsKey& k : keys) {
      *ops.emplace_back().mutable_put()->mutable_dns_key() = k;
    }
    absl::StatusOr<lufd::v1::WriteResponse> r =
        registry->Execute(SystemIdentity(), ops, "");
    if (!r.ok()) {
      for (const std::string& path : written) {
        unlink(path.c_str());
        std::string file = path.substr(path.rfind('/') + 1);
        private_keys.erase(file);
      }
      return r.status();
    }
    return r->serial();
  }

  // The private key of `k` if this instance has it (cached), or null.
  std::shared_ptr<const SigningKey> PrivateKey(const DnsKey& k)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (config.key_dir().empty() || k.private_file().empty()) return nullptr;
    auto it = private_keys.find(k.private_file());
    std::shared_ptr<const SigningKey> key;
    if (it != private_keys.end()) {
      key = it->second;
    } else {
      std::string path = absl::StrCat(config.key_dir(), "/", k.private_file());
      absl::StatusOr<std::unique_ptr<SigningKey>> loaded =
          SigningKey::LoadFile(static_cast<uint8_t>(k.algorithm()), path);
      if (!loaded.ok()) {
        if (warned_files.insert(k.private_file()).second) {
          spdlog::warn(
              "dnssec: key {} tag {} of {} is published but not used to sign "
              "here: {}",
              k.private_file(), k.key_tag(), k.zone(),
              loaded.status().ToString());
        }
        return nullptr;
      }
      key = std::shared_ptr<const SigningKey>(std::move(*loaded));
      private_keys[k.private_file()] = key;
    }
    if (key->algorithm() != k.algorithm() ||
        key->public_key() != k.public_key()) {
      if (warned_files.insert(k.private_file()).second) {
        spdlog::error(
            "dnssec: {} does not hold the private half of key tag {} of {}; "
            "not signing with it",
            k.private_file(), k.key_tag(), k.zone());
      }
      return nullptr;
    }
    return key;
  }

  // Rebuilds the ring from `view`; publishes only when something changed
  // (the signer re-signs on a new ring generation).
  void RebuildRing(const RegistryView& view) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::shared_ptr<const ZoneKeys>> out;
    std::string fingerprint;
    bool missing = false;
    for (const ManagedZone& zone : zones) {
      auto zk = std::make_shared<ZoneKeys>();
      zk->zone_wire = zone.wire;
      for (const DnsKey& k : KeysOf(view, zone.name)) {
        if (!IsPublishedState(k.state())) continue;
        ZoneKey z;
        z.info = k;
        z.dnskey_rdata =
            DnskeyRdata(static_cast<uint16_t>(k.flags()),
                        static_cast<uint8_t>(k.algorithm()), k.public_key());
        z.key_tag = KeyTag(z.dnskey_rdata);
        z.private_key = PrivateKey(k);
        missing |= (z.private_key == nullptr);
        absl::StrAppend(&fingerprint, k.SerializeAsString().size(), ":",
                        k.SerializeAsString(), z.private_key ? "+" : "-");
        if (z.private_key != nullptr) {
          // Every published SEP key signs the DNSKEY RRset: a new KSK/CSK
          // before its DS is at the parent and an old one until it is
          // removed, so whichever DS a resolver holds validates.
          if (IsSep(k.role())) zk->dnskey_signers.push_back(z);
          if (SignsZone(k.role()) && k.state() == kActive) {
            zk->zone_signers.push_back(z);
          }
        }
        zk->published.push_back(std::move(z));
      }
      // The newest active signer first: that is the one signers use.
      auto newest_first = [](const ZoneKey& a, const ZoneKey& b) {
        return a.info.active_unix() > b.info.active_unix();
      };
      std::stable_sort(zk->zone_signers.begin(), zk->zone_signers.end(),
                       newest_first);
      std::stable_sort(zk->dnskey_signers.begin(), zk->dnskey_signers.end(),
                       newest_first);
      absl::StrAppend(&fingerprint, "|");
      out.push_back(std::move(zk));
    }
    missing_private = missing;
    ring_serial = view.serial();
    if (ring_published && fingerprint == ring_fingerprint) return;
    ring_fingerprint = std::move(fingerprint);
    ring_published = true;
    ring->Publish(std::move(out));
  }

  void RebuildNow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::shared_ptr<const RegistryView> view = views->Current();
    if (view != nullptr) RebuildRing(*view);
  }

  // The ZSK rolls of one group of ZSKs (`mine`: the shared ones, or the
  // ones this instance owns): a scheduled successor whose time came becomes
  // ACTIVE and retires the group's other ACTIVE ZSKs; else, when the
  // group's newest ACTIVE ZSK is due (zsk_lifetime - publish_safety), a
  // successor is pre-published. Appends to `changed` / `written`.
  absl::Status RollZsks(const ManagedZone& zone,
                        const std::vector<DnsKey>& keys,
                        const std::function<bool(const DnsKey&)>& mine,
                        bool owned, absl::Time now,
                        std::vector<DnsKey>* changed,
                        std::vector<std::string>* written)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const int64_t t = absl::ToUnixSeconds(now);
    const DnsKey* due = nullptr;
    for (const DnsKey& k : keys) {
      if (k.role() == kZsk && mine(k) && k.state() == kPublished &&
          !k.ds_pending() && k.active_unix() != 0 &&
          absl::FromUnixSeconds(k.active_unix()) <= now &&
          (due == nullptr || k.active_unix() > due->active_unix())) {
        due = &k;
      }
    }
    if (due != nullptr) {
      for (const DnsKey& k : keys) {
        if (k.role() == kZsk && mine(k) && k.state() == kActive) {
          DnsKey c = k;
          c.set_state(kRetired);
          c.set_retired_unix(t);
          changed->push_back(std::move(c));
        }
      }
      DnsKey c = *due;
      c.set_state(kActive);
      c.set_active_unix(t);
      changed->push_back(std::move(c));
      return absl::OkStatus();
    }
    if (zsk_lifetime <= absl::ZeroDuration()) return absl::OkStatus();
    // Pre-publish a successor when the newest active ZSK is due.
    const DnsKey* newest = nullptr;
    bool successor = false;
    for (const DnsKey& k : keys) {
      if (k.role() != kZsk || !mine(k)) continue;
      if (k.state() == kPublished && k.active_unix() != 0) successor = true;
      if (k.state() == kActive &&
          (newest == nullptr || k.active_unix() > newest->active_unix())) {
        newest = &k;
      }
    }
    if (newest == nullptr || successor ||
        absl::FromUnixSeconds(newest->active_unix()) + zsk_lifetime -
                publish_safety >
            now) {
      return absl::OkStatus();
    }
    absl::StatusOr<DnsKey> k =
        NewKey(zone, kZsk, static_cast<uint8_t>(newest->algorithm()),
               kPublished, now, keys, written, owned);
    if (!k.ok()) return k.status();
    k->set_active_unix(absl::ToUnixSeconds(now + publish_safety));
    spdlog::info(
        "dnssec: {} ZSK {} due for rollover; pre-published successor {} "
        "(active from {})",
        zone.name, newest->key_tag(), k->key_tag(), k->active_unix());
    changed->push_back(*std::move(k));
    return absl::OkStatus();
  }

  // True when a ZSK or CSK that signs now or is scheduled to (ACTIVE, or
  // PUBLISHED with an activation time) has its private key here.
  bool HasUsableZoneKey(const std::vector<DnsKey>& keys)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const DnsKey& k : keys) {
      if (!SignsZone(k.role())) continue;
      const bool live = k.state() == kActive ||
                        (k.state() == kPublished && k.active_unix() != 0);
      if (live && PrivateKey(k) != nullptr) return true;
    }
    return false;
  }

  // First keys, due transitions and automatic ZSK rolls of one zone. The
  // signer (`signer`: the sign-ahead lease holder) creates the first keys,
  // removes retired keys and rolls the shared keys; every multi-signer
  // instance brings in and rolls its own ZSK.
  absl::Status Maintain(const RegistryView& view, const ManagedZone& zone,
                        absl::Time now, bool signer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<DnsKey> keys = KeysOf(view, zone.name);
    std::vector<DnsKey> changed;
    std::vector<std::string> written;
    int64_t t = absl::ToUnixSeconds(now);
    bool any_live = false;
    bool live_sep = false;
    for (const DnsKey& k : keys) {
      any_live |= IsPublishedState(k.state());
      live_sep |= IsSep(k.role()) && IsPublishedState(k.state());
    }
    const std::string me = instance_id;
    auto shared = [](const DnsKey& k) { return k.owner().empty(); };
    auto own = [&me](const DnsKey& k) {
      return !me.empty() && k.owner() == me;
    };
    absl::Status status;
    if (!any_live) {
      if (!signer || !config.auto_generate()) return absl::OkStatus();
      std::vector<DnsKeyRole> roles = ksk_zsk
                                          ? std::vector<DnsKeyRole>{kKsk, kZsk}
                                          : std::vector<DnsKeyRole>{kCsk};
      for (DnsKeyRole role : roles) {
        std::vector<DnsKey> all = keys;
        all.insert(all.end(), changed.begin(), changed.end());
        // With nothing published yet there is nothing to pre-publish
        // for: the first ZSK is this instance's and signs at once.
        absl::StatusOr<DnsKey> k =
            NewKey(zone, role, algorithm, kActive, now, all, &written,
                   /*owned=*/role == kZsk && !me.empty());
        if (!k.ok()) {
          for (const std::string& p : written) unlink(p.c_str());
          return k.status();
        }
        changed.push_back(*std::move(k));
      }
      spdlog::info("dnssec: generated the first keys of {} ({})", zone.name,
                   ksk_zsk ? "ksk-zsk" : "csk");
    } else {
      if (signer) {
        // RETIRED -> REMOVED after retire_safety, whoever owns the key (a
        // retired instance may be gone for good).
        for (const DnsKey& k : keys) {
          if (k.state() == kRetired &&
              absl::FromUnixSeconds(k.retired_unix()) + retire_safety <= now) {
            DnsKey c = k;
            c.set_state(kRemoved);
            c.set_removed_unix(t);
            changed.push_back(std::move(c));
          }
        }
        status = RollZsks(zone, keys, shared, /*owned=*/false, now, &changed,
                          &written);
      }
      if (status.ok() && !me.empty()) {
        bool own_live = false;
        for (const DnsKey& k : keys) own_live |= IsOwnZskLive(k, me);
        if (own_live) {
          status = RollZsks(zone, keys, own, /*owned=*/true, now, &changed,
                            &written);
        } else if (live_sep && config.auto_generate() &&
                   !HasUsableZoneKey(keys)) {
          // Joining: this instance's own ZSK, pre-published so that
          // resolvers have it in their DNSKEY RRset before it signs.
          std::vector<DnsKey> all = keys;
          all.insert(all.end(), changed.begin(), changed.end());
          absl::StatusOr<DnsKey> k = NewKey(zone, kZsk, algorithm, kPublished,
                                            now, all, &written, /*owned=*/true);
          if (!k.ok()) {
            status = k.status();
          } else {
            k->set_active_unix(absl::ToUnixSeconds(now + publish_safety));
            spdlog::info(
                "dnssec: {} has no zone-signing key here: pre-published this "
                "instance's own ZSK {} (owner {}, active from {})",
                zone.name, k->key_tag(), me, k->active_unix());
            changed.push_back(*std::move(k));
          }
        }
      }
    }
    if (!status.ok()) {
      for (const std::string& p : written) unlink(p.c_str());
      return status;
    }
    if (changed.empty()) return absl::OkStatus();
    absl::StatusOr<uint64_t> serial = Commit(changed, written);
    if (!serial.ok()) return serial.status();
    for (const DnsKey& k : changed) {
      spdlog::info("dnssec: {} {} key {} is now {}", zone.name,
                   lufd::v1::DnsKeyRole_Name(k.role()), k.key_tag(),
                   lufd::v1::DnsKeyState_Name(k.state()));
    }
    return absl::OkStatus();
  }

  void Run() {
    for (;;) {
      {
        absl::MutexLock l(&stop_mu);
        stop_mu.AwaitWithTimeout(absl::Condition(&stop), options.poll_interval);
        if (stop) return;
      }
      absl::Status st = TickOnce();
      if (!st.ok()) {
        spdlog::warn("dnssec: key maintenance: {}", st.ToString());
      }
    }
  }

  absl::Status TickOnce() {
    absl::MutexLock l(&mu);
    std::shared_ptr<const RegistryView> view = views->Current();
    if (view == nullptr) return absl::UnavailableError("no view yet");
    absl::Status status = EnsureInstanceId();
    const bool signer = IsSigner();
    if (signer || (!instance_id.empty() && absl::Now() >= own_retry_after)) {
      absl::Time now = Now();
      for (const ManagedZone& zone : zones) {
        absl::Status st = Maintain(*view, zone, now, signer);
        if (!st.ok() && !signer) {
          // Not fatal, not even at start: this instance serves the stored
          // signatures meanwhile (e.g. its store is a read-only standby).
          own_retry_after = absl::Now() + absl::Seconds(10);
          spdlog::warn(
              "dnssec: {}: this instance's own ZSK: {}; trying again in 10 s",
              zone.name, st.ToString());
          st = absl::OkStatus();
        }
        if (!st.ok() && status.ok()) {
          status = absl::Status(st.code(),
                                absl::StrCat(zone.name, ": ", st.message()));
        }
        // Commits wait for the view (read-your-writes): take the new one.
        std::shared_ptr<const RegistryView> after = views->Current();
        if (after != nullptr) view = after;
      }
    }
    absl::Time real_now = absl::Now();
    bool retry_missing =
        missing_private && real_now - last_missing_check >= absl::Seconds(5);
    if (!ring_published || view->serial() != ring_serial || retry_missing) {
      if (retry_missing) last_missing_check = real_now;
      RebuildRing(*view);
    }
    PurgeRemovedKeyFiles(*view, Now());
    return status;
  }

  // Deletes the private key file of every key REMOVED more than purge_keys
  // ago, as BIND's purge-keys does: a removed key never signs again, and
  // key material nobody needs can only leak. Every instance purges its own
  // key_dir; a file a published key still names is never touched.
  void PurgeRemovedKeyFiles(const RegistryView& view, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (purge_keys <= absl::ZeroDuration() || config.key_dir().empty() ||
        now < next_purge_check) {
      return;
    }
    next_purge_check = now + absl::Minutes(1);
    for (const ManagedZone& zone : zones) {
      const std::vector<DnsKey> keys = KeysOf(view, zone.name);
      for (const DnsKey& k : keys) {
        const std::string& file = k.private_file();
        if (k.state() != kRemoved || file.empty() ||
            absl::FromUnixSeconds(k.removed_unix()) + purge_keys > now ||
            purged_files.contains(file)) {
          continue;
        }
        bool in_use = false;
        for (const DnsKey& other : keys) {
          in_use |=
              IsPublishedState(other.state()) && other.private_file() == file;
        }
        if (in_use) continue;
        purged_files.insert(file);
        private_keys.erase(file);
        // Registry data names the file: only a plain name inside key_dir.
        if (file.find('/') != std::string::npos || file[0] == '.') {
          spdlog::warn("dnssec: not purging key file \"{}\": not a plain name",
                       file);
          continue;
        }
        const std::string path = absl::StrCat(config.key_dir(), "/", file);
        if (unlink(path.c_str()) == 0) {
          spdlog::info(
              "dnssec: deleted {}, the private key of {} key tag {} (removed "
              "{} ago)",
              path, k.zone(), k.key_tag(),
              absl::FormatDuration(now -
                                   absl::FromUnixSeconds(k.removed_unix())));
        } else if (errno != ENOENT) {
          spdlog::warn("dnssec: could not delete {}: {}", path,
                       strerror(errno));
        }
      }
    }
  }
};

KeyManager::KeyManager(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

KeyManager::~KeyManager() { Stop(); }

absl::StatusOr<std::unique_ptr<KeyManager>> KeyManager::Create(
    const lufd::v1::DnssecConfig& config, std::vector<ManagedZone> zones,
    Registry* registry, const ViewHolder* views, KeyRing* ring,
    KeyManagerOptions options) {
  if (registry == nullptr || views == nullptr || ring == nullptr) {
    return absl::InvalidArgumentError("KeyManager needs registry, views, ring");
  }
  auto s = std::make_unique<State>();
  s->config = config;
  s->registry = registry;
  s->views = views;
  s->ring = ring;
  s->options = std::move(options);
  for (ManagedZone& z : zones) {
    z.name = NormalizeZoneName(z.name);
    z.wire = absl::AsciiStrToLower(z.wire);
  }
  s->zones = std::move(zones);
  RETURN_IF_ERROR(ValidateDnssecConfig(config));
  s->algorithm = static_cast<uint8_t>(config.algorithm());
  s->ksk_zsk = config.scheme() == "ksk-zsk";
  s->zsk_lifetime = ConfigDuration(config.zsk_lifetime());
  s->publish_safety = ConfigDuration(config.publish_safety());
  s->retire_safety = ConfigDuration(config.retire_safety());
  s->purge_keys = ConfigDuration(config.purge_keys());
  return std::unique_ptr<KeyManager>(new KeyManager(std::move(s)));
}

absl::Status KeyManager::Start() {
  const std::string& dir = state_->config.key_dir();
  if (!dir.empty()) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("dns.dnssec.key_dir ", dir, ": ", strerror(errno)));
    }
    struct stat sb;
    if (stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("dns.dnssec.key_dir ", dir, " is not a directory"));
    }
    // Refused, never repaired: a key others could read may be compromised
    // (common/private_file.h).
    RETURN_IF_ERROR(CheckSecretDir("dns.dnssec.key_dir", dir,
                                   kDnssecKeyFilePrefix, kDnssecKeyFileSuffix));
  } else {
    spdlog::warn(
        "dnssec: no key_dir configured; keys are published but this instance "
        "cannot sign or create keys");
  }
  absl::Status st = Tick();
  if (!st.ok()) return st;
  {
    absl::MutexLock l(&state_->stop_mu);
    if (state_->thread.joinable()) return absl::OkStatus();
    state_->stop = false;
  }
  state_->thread = std::thread([s = state_.get()] { s->Run(); });
  return absl::OkStatus();
}

void KeyManager::Stop() {
  {
    absl::MutexLock l(&state_->stop_mu);
    state_->stop = true;
  }
  if (state_->thread.joinable()) state_->thread.join();
}

absl::Status KeyManager::Tick() { return state_->TickOnce(); }

const ManagedZone* KeyManager::FindZone(const std::string& zone) const {
  return state_->FindZone(zone);
}

namespace {

// Checks the zone an admin call names (`z`: FindZone's answer for it) and
// its key role (UNSPECIFIED = CSK): NOT_FOUND for a zone this instance does
// not serve, INVALID_ARGUMENT for a role that is not CSK, KSK or ZSK.
absl::Status CheckZoneAndRole(const ManagedZone* z, const std::string& zone,
                              DnsKeyRole* role) {
  if (z == nullptr) {
    return absl::NotFoundError(absl::StrCat("zone ", zone, " is not served"));
  }
  if (*role == lufd::v1::DNS_KEY_ROLE_UNSPECIFIED) *role = kCsk;
  if (*role != kCsk && *role != kKsk && *role != kZsk) {
    return absl::InvalidArgumentError("role: csk, ksk or zsk");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KeyChange> KeyManager::Generate(const std::string& zone,
                                               DnsKeyRole role,
                                               uint32_t algorithm,
                                               bool activate) {
  State& s = *state_;
  const ManagedZone* z = s.FindZone(zone);
  if (absl::Status c = CheckZoneAndRole(z, zone, &role); !c.ok()) return c;
  if (algorithm == 0) algorithm = s.algorithm;
  if (algorithm != kAlgEcdsaP256Sha256 && algorithm != kAlgEd25519) {
    return absl::InvalidArgumentError(
        "algorithm: 13 (ECDSAP256SHA256) or 15 (ED25519)");
  }
  absl::MutexLock l(&s.mu);
  std::shared_ptr<const RegistryView> view = s.views->Current();
  std::vector<DnsKey> keys = s.KeysOf(*view, z->name);
  std::vector<std::string> written;
  absl::StatusOr<DnsKey> k =
      s.NewKey(*z, role, static_cast<uint8_t>(algorithm),
               activate ? kActive : kPublished, s.Now(), keys, &written);
  if (!k.ok()) return k.status();
  absl::StatusOr<uint64_t> serial = s.Commit({*k}, written);
  if (!serial.ok()) return serial.status();
  s.RebuildNow();
  spdlog::info("dnssec: generated {} key {} for {} ({})",
               lufd::v1::DnsKeyRole_Name(role), k->key_tag(), z->name,
               lufd::v1::DnsKeyState_Name(k->state()));
  KeyChange out;
  out.keys.push_back(*std::move(k));
  out.serial = *serial;
  return out;
}

absl::StatusOr<KeyChange> KeyManager::Rollover(const std::string& zone,
                                               DnsKeyRole role,
                                               bool ds_published) {
  State& s = *state_;
  const ManagedZone* z = s.FindZone(zone);
  if (absl::Status c = CheckZoneAndRole(z, zone, &role); !c.ok()) return c;
  if (role == kZsk && ds_published) {
    return absl::InvalidArgumentError(
        "ds_published applies to KSK and CSK rollovers only");
  }
  absl::MutexLock l(&s.mu);
  std::shared_ptr<const RegistryView> view = s.views->Current();
  std::vector<DnsKey> keys = s.KeysOf(*view, z->name);
  absl::Time now = s.Now();
  int64_t t = absl::ToUnixSeconds(now);
  // Multi-signer: a ZSK roll asked of an instance that owns an active ZSK
  // rolls that one (the successor is its own too); else the shared ZSKs
  // roll as before. Other instances' ZSKs are theirs to roll.
  if (absl::Status st = s.EnsureInstanceId(); !st.ok()) return st;
  const std::string me = s.instance_id;
  bool own_active = false;
  for (const DnsKey& k : keys) {
    own_active |= role == kZsk && !me.empty() && k.owner() == me &&
                  k.role() == kZsk && k.state() == kActive;
  }
  const std::string group = own_active ? me : "";
  const DnsKey* active = nullptr;
  const DnsKey* successor = nullptr;
  for (const DnsKey& k : keys) {
    if (k.role() != role) continue;
    if (role == kZsk && k.owner() != group) continue;
    if (k.state() == kActive &&
        (active == nullptr || k.active_unix() > active->active_unix())) {
      active = &k;
    }
    bool waiting = role == kZsk ? k.active_unix() != 0 : k.ds_pending();
    if (k.state() == kPublished && waiting) successor = &k;
  }
  std::vector<DnsKey> changed;
  std::vector<std::string> written;
  const std::string role_name =
      absl::AsciiStrToLower(lufd::v1::DnsKeyRole_Name(role).substr(13));
  if (!ds_published) {
    if (active == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(z->name, " has no active ", role_name, " to roll"));
    }
    if (successor != nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a ", role_name, " rollover of ", z->name,
          " is already under way (new key ", successor->key_tag(), ")",
          role == kZsk ? ""
                       : "; confirm with ds_published once the parent "
                         "has its DS"));
    }
    absl::StatusOr<DnsKey> k =
        s.NewKey(*z, role, static_cast<uint8_t>(active->algorithm()),
                 kPublished, now, keys, &written, /*owned=*/own_active);
    if (!k.ok()) return k.status();
    if (role == kZsk) {
      k->set_active_unix(absl::ToUnixSeconds(now + s.publish_safety));
    } else {
      k->set_ds_pending(true);
    }
    changed.push_back(*std::move(k));
  } else {
    if (successor == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("no ", role_name, " of ", z->name,
                       " waits for its DS; start the rollover first"));
    }
    DnsKey next = *successor;
    next.set_state(kActive);
    next.set_ds_pending(false);
    next.set_active_unix(t);
    for (const DnsKey& k : keys) {
      if (k.role() == role && k.state() == kActive &&
          (role != kZsk || k.owner() == group)) {
        DnsKey c = k;
        c.set_state(kRetired);
        c.set_retired_unix(t);
        changed.push_back(std::move(c));
      }
    }
    changed.push_back(std::move(next));
  }
  absl::StatusOr<uint64_t> serial = s.Commit(changed, written);
  if (!serial.ok()) return serial.status();
  s.RebuildNow();
  for (const DnsKey& k : changed) {
    spdlog::info("dnssec: rollover of {} {}: key {} is now {}{}", z->name,
                 role_name, k.key_tag(), lufd::v1::DnsKeyState_Name(k.state()),
                 k.ds_pending() ? " (waiting for the DS)" : "");
  }
  KeyChange out;
  out.keys = std::move(changed);
  out.serial = *serial;
  return out;
}

absl::StatusOr<DsLines> KeyManager::GetDs(const std::string& zone) const {
  const State& s = *state_;
  const ManagedZone* z = s.FindZone(zone);
  if (z == nullptr) {
    return absl::NotFoundError(absl::StrCat("zone ", zone, " is not served"));
  }
  std::shared_ptr<const RegistryView> view = s.views->Current();
  DsLines out;
  if (view == nullptr) return out;
  for (const DnsKey& k : s.KeysOf(*view, z->name)) {
    if (!IsSep(k.role())) continue;
    if (k.state() != kPublished && k.state() != kActive) continue;
    std::string rdata =
        DnskeyRdata(static_cast<uint16_t>(k.flags()),
                    static_cast<uint8_t>(k.algorithm()), k.public_key());
    out.ds.push_back(PresentationLine(z->wire, 43, z->dnskey_ttl,
                                      DsRdataSha256(z->wire, rdata)));
    out.dnskey.push_back(PresentationLine(z->wire, 48, z->dnskey_ttl, rdata));
  }
  return out;
}

}  // namespace lufd::dns
