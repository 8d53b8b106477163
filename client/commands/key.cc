// `lufctl key generate|list|ds|rollover|retire`: the DNSSEC keys of the DNS
// zones. Keys are made and rolled on the server (private keys stay in its
// key directory); lufctl asks and prints. `retire` takes a ZSK out of
// service (an instance leaving a multi-signer setup, docs/dns.md "Several
// instances"): it writes the key object's state, as any admin write.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/commands/command.h"
#include "client/zone_file.h"
#include "common/status_macros.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::RegistryObject;

absl::StatusOr<lufd::v1::DnsKeyRole> ParseKeyRole(const std::string& role) {
  if (role.empty() || role == "csk") return lufd::v1::DNS_KEY_ROLE_CSK;
  if (role == "ksk") return lufd::v1::DNS_KEY_ROLE_KSK;
  if (role == "zsk") return lufd::v1::DNS_KEY_ROLE_ZSK;
  return absl::InvalidArgumentError("--role must be csk, ksk or zsk");
}

// `--role csk|ksk|zsk`.
CLI::Option* AddKeyRoleFlag(CLI::App* c, std::string* role,
                            const std::string& help) {
  return c->add_option("--role", *role, help)
      ->check(CLI::IsMember({"csk", "ksk", "zsk"}));
}

absl::Status PrintKeys(Context& ctx, const lufd::v1::DnsKeyResponse& resp) {
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  std::vector<RegistryObject> objects;
  for (const auto& k : resp.keys()) {
    RegistryObject o;
    *o.mutable_dns_key() = k;
    objects.push_back(std::move(o));
  }
  PrintObjects(ctx, lufd::v1::OBJECT_KIND_DNS_KEY, objects);
  ctx.out << "serial " << resp.serial() << "\n";
  return absl::OkStatus();
}

struct KeyGenerateFlags {
  std::string zone, role;
  uint32_t algorithm = 13;
  bool activate = false;

  void Register(CLI::App* c) {
    AddZoneFlag(c, &zone, "Zone apex, e.g. e164.arpa.");
    AddKeyRoleFlag(c, &role, "csk (default), ksk or zsk");
    c->add_option("--algorithm", algorithm,
                  "13 = ECDSA P-256 (default), 15 = Ed25519")
        ->check(CLI::IsMember({13, 15}));
    c->add_flag("--activate", activate,
                "ACTIVE at once (a zone's first key) instead of "
                "PUBLISHED");
  }
};
struct KeyRolloverFlags {
  std::string zone, role;
  bool ds_published = false;

  void Register(CLI::App* c) {
    AddZoneFlag(c, &zone, "Zone apex");
    AddKeyRoleFlag(c, &role, "zsk, ksk or csk")->required();
    c->add_flag("--ds-published", ds_published,
                "The parent now serves the new key's DS");
  }
};
struct KeyRetireFlags {
  std::string zone;
  uint32_t tag = 0;
  bool force = false;

  void Register(CLI::App* c) {
    AddZoneFlag(c, &zone, "Zone apex");
    c->add_option("--tag", tag, "Key tag of the ZSK to retire")
        ->required()
        ->check(CLI::Range(0, 65535));
    c->add_flag("--force", force,
                "Even when no other active zone-signing key would remain");
  }
};
struct KeyDsFlags {
  std::string zone;

  void Register(CLI::App* c) { AddZoneFlag(c, &zone, "Zone apex"); }
};

absl::Status KeyGenerate(Context& ctx, const KeyGenerateFlags& f) {
  lufd::v1::GenerateDnsKeyRequest req;
  ASSIGN_OR_RETURN(*req.mutable_zone(), CanonicalDomainName(f.zone));
  ASSIGN_OR_RETURN(auto role, ParseKeyRole(f.role));
  req.set_role(role);
  req.set_algorithm(f.algorithm);
  req.set_activate(f.activate);
  lufd::v1::DnsKeyResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::GenerateDnsKey, req, &resp));
  return PrintKeys(ctx, resp);
}

absl::Status KeyRollover(Context& ctx, const KeyRolloverFlags& f) {
  lufd::v1::RolloverDnsKeyRequest req;
  ASSIGN_OR_RETURN(const std::string zone, CanonicalDomainName(f.zone));
  ASSIGN_OR_RETURN(auto role, ParseKeyRole(f.role));
  req.set_zone(zone);
  req.set_role(role);
  req.set_ds_published(f.ds_published);
  lufd::v1::DnsKeyResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::RolloverDnsKey, req, &resp));
  RETURN_IF_ERROR(PrintKeys(ctx, resp));
  if (ctx.json()) return absl::OkStatus();
  for (const auto& k : resp.keys()) {
    if (k.ds_pending()) {
      ctx.out << "\nKey " << k.key_tag() << " waits for its DS at the parent:"
              << " publish the DS from 'lufctl key ds --zone " << zone
              << "', wait for the parent's DS TTL, then run 'lufctl key "
                 "rollover --zone "
              << zone << " --role " << (f.role.empty() ? "csk" : f.role)
              << " --ds-published'.\n";
      break;
    }
  }
  return absl::OkStatus();
}

// PUBLISHED/ACTIVE ZSK -> RETIRED: it stops signing at once (instances
// re-read their keys with the view) and stays in the DNSKEY RRset for
// retire_safety, after which the signer-lease holder marks it REMOVED.
absl::Status KeyRetire(Context& ctx, const KeyRetireFlags& f) {
  ASSIGN_OR_RETURN(const std::string zone, CanonicalDomainName(f.zone));
  const std::string key = absl::StrCat(zone, "/", f.tag);
  ASSIGN_OR_RETURN(RegistryObject obj,
                   GetObject(ctx, lufd::v1::OBJECT_KIND_DNS_KEY, key));
  lufd::v1::DnsKey k = obj.dns_key();
  if (k.role() != lufd::v1::DNS_KEY_ROLE_ZSK) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", f.tag, " of ", zone,
                     " is not a ZSK: a KSK or CSK is replaced by 'lufctl key "
                     "rollover' (it needs the parent's DS)"));
  }
  if (k.state() != lufd::v1::DNS_KEY_STATE_PUBLISHED &&
      k.state() != lufd::v1::DNS_KEY_STATE_ACTIVE) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", f.tag, " of ", zone, " is already ",
                     lufd::v1::DnsKeyState_Name(k.state()).substr(14)));
  }
  if (!f.force) {
    // The zone must keep something that signs.
    bool other_active = false;
    lufd::v1::ListRequest req;
    req.set_kind(lufd::v1::OBJECT_KIND_DNS_KEY);
    RETURN_IF_ERROR(ReadAdminStream(
        ctx, &AdminStub::List, req, [&](const RegistryObject& o) {
          const auto& d = o.dns_key();
          other_active |= CanonicalDomainName(d.zone()).value_or("") == zone &&
                          d.key_tag() != f.tag &&
                          d.state() == lufd::v1::DNS_KEY_STATE_ACTIVE &&
                          (d.role() == lufd::v1::DNS_KEY_ROLE_ZSK ||
                           d.role() == lufd::v1::DNS_KEY_ROLE_CSK);
          return true;
        }));
    if (!other_active) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key ", f.tag, " is the last active zone-signing key of ", zone,
          "; retiring it leaves nothing to sign (--force to do it anyway)"));
    }
  }
  k.set_state(lufd::v1::DNS_KEY_STATE_RETIRED);
  k.set_retired_unix(absl::ToUnixSeconds(absl::Now()));
  RegistryObject put;
  *put.mutable_dns_key() = k;
  return Put(ctx, put);
}

absl::Status KeyDs(Context& ctx, const KeyDsFlags& f) {
  ASSIGN_OR_RETURN(const std::string zone, CanonicalDomainName(f.zone));
  lufd::v1::GetDsRequest req;
  req.set_zone(zone);
  lufd::v1::GetDsResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::GetDs, req, &resp));
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  if (resp.ds().empty()) {
    return absl::NotFoundError(absl::StrCat(
        "zone ", zone, " has no KSK or CSK (lufctl key generate --zone ", zone,
        " --activate)"));
  }
  ctx.out << "; DS records for the parent zone (SHA-256)\n";
  for (const auto& l : resp.ds()) ctx.out << l << "\n";
  ctx.out << "; DNSKEY trust anchors (e.g. unbound trust-anchor-file)\n";
  for (const auto& l : resp.dnskey()) ctx.out << l << "\n";
  return absl::OkStatus();
}

}  // namespace

Noun KeyNoun() {
  return {
      "key",
      "DNSSEC keys of the DNS zones",
      {Cmd<KeyGenerateFlags>(
           "key", "generate",
           "key generate --zone Z [--role csk|ksk|zsk] [--algorithm 13|15] "
           "[--activate]",
           "Generate a DNSSEC key for a zone on the server (private key in "
           "its key directory, public key and state in the registry).",
           KeyGenerate),
       ListWhereCommand(
           "key", lufd::v1::OBJECT_KIND_DNS_KEY,
           "List DNSSEC keys: zone, tag, role, algorithm, state, times, "
           "ds_pending.",
           "--zone", "Z", "Only this zone's keys",
           [](const RegistryObject& o) {
             return CanonicalDomainName(o.dns_key().zone()).value_or("");
           },
           CanonicalDomainName),
       Cmd<KeyDsFlags>(
           "key", "ds", "key ds --zone Z",
           "Print the zone's DS records (for the parent) and DNSKEY trust "
           "anchors.",
           KeyDs),
       Cmd<KeyRolloverFlags>(
           "key", "rollover",
           "key rollover --zone Z --role zsk|ksk|csk [--ds-published]",
           "Start a key rollover (pre-publication); for KSK/CSK confirm the "
           "new DS at the parent with --ds-published.",
           KeyRollover),
       Cmd<KeyRetireFlags>(
           "key", "retire", "key retire --zone Z --tag T [--force]",
           "Retire a ZSK (e.g. the key of an instance that left): it stops "
           "signing, stays published for retire_safety, then is REMOVED.",
           KeyRetire)}};
}

}  // namespace lufd::client::cli
