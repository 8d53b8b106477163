// `lufctl zone export|import`: the registry as an RFC 1035 zone file (as one
// viewer sees it, optionally signed), and NAPTRs of a zone file loaded as
// TNs. The zone text itself is client/zone_file.h's job.
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands/command.h"
#include "client/commands/import.h"
#include "client/spki.h"
#include "client/zone_file.h"
#include "common/status_macros.h"
#include "server/core/keys.h"
#include "server/core/view.h"

namespace lufd::client::cli {
namespace {

using lufd::Identity;
using lufd::KeyOf;
using lufd::KindOf;
using lufd::RegistryView;
using lufd::v1::RegistryObject;

struct ZoneExportFlags {
  std::string zone, view = "anonymous", key_dir, output_file;
  std::vector<std::string> ns, ns_addresses;
  bool signed_zone = false;

  void Register(CLI::App* c) {
    AddZoneFlag(c, &zone, "Zone apex, e.g. e164.arpa.");
    c->add_option("--view", view,
                  "anonymous (default: public SED only), admin, or "
                  "a peer org id");
    c->add_option("--ns", ns, "NS target (repeatable; default ns1.<zone>)");
    c->add_option("--ns-address", ns_addresses,
                  "Glue A/AAAA for the NS targets inside the zone "
                  "(repeatable)");
    c->add_flag("--signed", signed_zone,
                "Sign with the zone's ACTIVE keys (full NSEC chain)");
    c->add_option("--key-dir", key_dir,
                  "Directory holding the keys' private files");
    AddOutFileFlag(c, &output_file);
  }
};

absl::StatusOr<Identity> ViewerFor(const std::string& view) {
  if (view.empty() || view == "anonymous") return Identity{};
  if (view == "admin") {
    return Identity{"", "lufctl-export", lufd::v1::ROLE_ADMIN};
  }
  if (view.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "--view must be anonymous, admin or an org id (namespace:value)");
  }
  return Identity{view, "lufctl-export", lufd::v1::ROLE_PEER};
}

absl::Status ZoneExport(Context& ctx, const ZoneExportFlags& a) {
  ZoneExportOptions opts;
  auto zone = CanonicalDomainName(a.zone);
  if (!zone.ok()) return zone.status();
  opts.zone = *zone;
  opts.ns = a.ns;
  opts.ns_addresses = a.ns_addresses;
  auto viewer = ViewerFor(a.view);
  if (!viewer.ok()) return viewer.status();
  opts.viewer = *viewer;
  if (a.signed_zone && a.key_dir.empty()) {
    return absl::InvalidArgumentError("--signed needs --key-dir");
  }
  // The SOA serial is the registry serial. Read before the export, so a
  // write racing the export gives a newer serial to the next export.
  lufd::v1::ServerInfo info;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::GetServerInfo,
                            lufd::v1::ServerInfoRequest(), &info));
  const uint64_t serial = std::max(info.store_serial(), info.serial());
  opts.serial = static_cast<uint32_t>(serial);  // RFC 1982 arithmetic.
  if (opts.serial == 0) opts.serial = 1;

  lufd::v1::ExportRequest req;  // All kinds: the view needs every object.
  RegistryView::Builder builder;
  std::vector<lufd::v1::DnsKey> keys;
  RETURN_IF_ERROR(ReadAdminStream(ctx, &AdminStub::Export, req,
                                  [&](const RegistryObject& obj) {
                                    if (obj.has_dns_key()) {
                                      keys.push_back(obj.dns_key());
                                    } else {
                                      builder.Add(KindOf(obj), KeyOf(obj), obj);
                                    }
                                    return true;
                                  }));
  auto view = std::move(builder).Build(serial);
  auto result = BuildZoneText(*view, opts);
  if (!result.ok()) return result.status();
  std::string text = std::move(result->text);
  size_t signers = 0;
  if (a.signed_zone) {
    ZoneSignOptions sign;
    sign.key_dir = a.key_dir;
    sign.dnskey_ttl = opts.ttl;
    for (const auto& k : keys) {
      if (k.state() == lufd::v1::DNS_KEY_STATE_ACTIVE &&
          CanonicalDomainName(k.zone()).value_or("") == *zone) {
        ++signers;
      }
    }
    auto signed_text = SignZoneText(text, *zone, keys, sign);
    if (!signed_text.ok()) return signed_text.status();
    text = *std::move(signed_text);
  }
  for (const auto& w : result->warnings) {
    ctx.err << "lufctl: warning: " << w << "\n";
  }
  if (a.output_file.empty() || a.output_file == "-") {
    ctx.out << text;
  } else {
    std::ofstream file(a.output_file, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write ", a.output_file));
    }
    file << text;
    file.close();
    if (!file) return absl::DataLossError("write failed");
  }
  ctx.err << absl::StrFormat(
      "zone %s serial %d (view %s): %d numbers, %d wildcards (+%d under empty "
      "non-terminals), %d records%s%s\n",
      *zone, opts.serial, a.view, result->numbers, result->wildcards,
      result->ent_wildcards, result->records,
      a.signed_zone ? absl::StrCat(", signed with ", signers, " key(s)") : "",
      result->warnings.empty()
          ? ""
          : absl::StrCat(", ", result->warnings.size(), " warning(s)"));
  return absl::OkStatus();
}

struct ZoneImportFlags : StreamFlags {
  std::string value;  // The zone file.
  std::string zone, registrant, sed_group;
  std::vector<std::string> dgs;
  bool is_public = false, check_only = false;

  void Register(CLI::App* c) {
    c->add_option("file", value, "Zone file")->required();
    AddZoneFlag(c, &zone, "Zone apex (the file's origin)");
    AddRegistrantFlag(c, &registrant);
    c->add_option("--dest-group,--dg", dgs,
                  "Destination group of every number (repeatable; "
                  "created when missing)");
    c->add_option("--sed-group", sed_group,
                  "SED group on those destination groups, created "
                  "(in service) when missing, so the NAPTRs resolve");
    c->add_flag("--public", is_public,
                "A created SED group is public (anonymous DNS sees it)");
    c->add_flag("--check", check_only,
                "Only parse and check the file; send nothing");
    AddBatchFlags(c, this);
    c->add_flag("--no-wait", no_wait,
                "Return once committed, without waiting for the "
                "view");
  }
};

absl::Status ZoneImportCmd(Context& ctx, const ZoneImportFlags& a) {
  auto zone = CanonicalDomainName(a.zone);
  if (!zone.ok()) return zone.status();
  auto text = ReadSmallFile(a.value);
  if (!text.ok()) return text.status();
  ZoneImportOptions opts;
  opts.zone = *zone;
  opts.registrant = a.registrant;
  opts.dest_groups = a.dgs;
  ZoneImport parsed = ParseZoneImport(*text, opts);
  if (!parsed.ok()) return ReportBadLines(ctx, a.value, parsed.errors());
  if (a.dgs.empty()) {
    ctx.err << "lufctl: warning: no --dest-group: the imported numbers "
               "resolve to nothing until they are attached to one\n";
  }
  if (a.check_only) {
    ctx.out << a.value << ": " << parsed.entries().size() << " numbers, "
            << parsed.record_count() << " NAPTR records, " << parsed.ignored()
            << " records ignored (SOA, NS, DNSSEC), OK\n";
    return absl::OkStatus();
  }
  // Scaffolding that does not exist yet is created in the same import (the
  // same atomic batch unless --batch-size splits it); existing objects are
  // never replaced.
  std::vector<RegistryObject> preamble;
  for (const auto& dg : a.dgs) {
    auto got = GetObject(ctx, lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
    if (got.ok()) continue;
    if (!absl::IsNotFound(got.status())) return got.status();
    RegistryObject o;
    o.mutable_dest_group()->set_id(dg);
    o.mutable_dest_group()->set_registrant_id(a.registrant);
    preamble.push_back(std::move(o));
  }
  if (!a.sed_group.empty()) {
    auto got = GetObject(ctx, lufd::v1::OBJECT_KIND_SED_GROUP, a.sed_group);
    if (got.ok()) {
      for (const auto& dg : a.dgs) {
        const auto& ids = got->sed_group().dest_group_ids();
        if (std::find(ids.begin(), ids.end(), dg) == ids.end()) {
          ctx.err << "lufctl: warning: existing SED group " << a.sed_group
                  << " is not on destination group " << dg
                  << " (left unchanged)\n";
        }
      }
    } else if (absl::IsNotFound(got.status())) {
      RegistryObject o;
      auto* g = o.mutable_sed_group();
      g->set_id(a.sed_group);
      g->set_registrant_id(a.registrant);
      for (const auto& dg : a.dgs) g->add_dest_group_ids(dg);
      g->set_in_service(true);
      g->set_public_(a.is_public);
      preamble.push_back(std::move(o));
    } else {
      return got.status();
    }
  }
  ZoneImportSource source(parsed, std::move(preamble));
  return StreamImport(ctx, source, "objects", a);
}

}  // namespace

Noun ZoneNoun() {
  return {
      "zone",
      "DNS zone files (export, import)",
      {Cmd<ZoneExportFlags>(
           "zone", "export",
           "zone export --zone Z [--view anonymous|admin|ORG] [--ns NAME]... "
           "[--ns-address IP]... [--signed --key-dir DIR] [-o FILE]",
           "Write the registry as an RFC 1035 zone file as one viewer sees "
           "it (prefixes and ranges as wildcards), optionally DNSSEC-signed.",
           ZoneExport),
       Cmd<ZoneImportFlags>(
           "zone", "import",
           "zone import FILE --zone Z --registrant ORG [--dest-group DG]... "
           "[--sed-group SG [--public]] [--check] [--batch-size N]",
           "Load the NAPTR records of a zone file as TNs (wildcards as "
           "prefixes), in atomic batches of --batch-size (default 50000; "
           "0 = the whole file, all or nothing).",
           ZoneImportCmd)}};
}

}  // namespace lufd::client::cli
