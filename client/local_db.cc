// Local `db` commands: the Store opened directly, writes through
// lufd::Registry as the local admin (same validation, keys and audit trail
// as a write through lufd itself).
#include "client/local_db.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/output.h"
#include "client/spki.h"
#include "lufd/v1/admin.pb.h"
#include "server/core/follower.h"
#include "server/core/holdings_backfill.h"
#include "server/core/identity.h"
#include "server/core/keys.h"
#include "server/core/registry.h"
#include "server/core/validate.h"
#include "server/core/view.h"
#include "storage/store.h"

namespace lufd::client {
namespace {

std::string JsonEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status PrintMigrations(Store* store, OutputFormat format,
                             std::ostream& out) {
  auto migrations = store->MigrationStatus();
  if (!migrations.ok()) return migrations.status();
  if (format == OutputFormat::kJson) {
    out << "[";
    for (size_t i = 0; i < migrations->size(); ++i) {
      const MigrationInfo& m = (*migrations)[i];
      out << (i ? ",\n" : "\n")
          << absl::StrCat("{\"version\":", m.version, ",\"name\":\"",
                          JsonEscape(m.name), "\",\"checksum\":\"", m.checksum,
                          "\",\"applied\":", m.applied ? "true" : "false",
                          ",\"appliedAt\":\"", JsonEscape(m.applied_at), "\"}");
    }
    out << (migrations->empty() ? "]\n" : "\n]\n");
    return absl::OkStatus();
  }
  Table table({"version", "name", "checksum", "applied_at"});
  for (const MigrationInfo& m : *migrations) {
    table.AddRow({absl::StrCat(m.version), m.name, m.checksum,
                  m.applied ? m.applied_at : "pending"});
  }
  out << table.Render();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  auto store = Store::Open(url);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("open ", url, ": ", store.status().message()));
  }
  return store;
}

}  // namespace

absl::Status DbMigrate(const std::string& store_url, OutputFormat format,
                       std::ostream& out) {
  auto store = OpenStore(store_url);
  if (!store.ok()) return store.status();
  absl::Status st = (*store)->Migrate();
  if (!st.ok()) return st;
  // The data step of holdings (server/core/holdings_backfill.h): a no-op
  // once the registry has any holding.
  absl::StatusOr<HoldingsBackfill> backfill = BackfillHoldings(store->get());
  if (!backfill.ok()) return backfill.status();
  if (backfill->ran && format != OutputFormat::kJson) {
    out << "holdings backfill: " << backfill->created
        << " holding(s) created\n";
    for (const std::string& line : backfill->review) {
      out << "  review: " << line << "\n";
    }
    for (const std::string& line : backfill->skipped) {
      out << "  no holding: " << line << "\n";
    }
  }
  return PrintMigrations(store->get(), format, out);
}

absl::Status DbStatus(const std::string& store_url, OutputFormat format,
                      std::ostream& out) {
  auto store = OpenStore(store_url);
  if (!store.ok()) return store.status();
  return PrintMigrations(store->get(), format, out);
}

absl::Status DbBootstrap(const BootstrapOptions& options, OutputFormat format,
                         std::ostream& out) {
  auto spki = SpkiSha256FromCertFile(options.cert_file);
  if (!spki.ok()) return spki.status();
  auto store = OpenStore(options.store_url);
  if (!store.ok()) return store.status();

  // Refuse a half-created schema rather than migrating implicitly: schema
  // changes are an explicit operator step (`db migrate`).
  auto migrations = (*store)->MigrationStatus();
  if (!migrations.ok()) return migrations.status();
  for (const MigrationInfo& m : *migrations) {
    if (!m.applied) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", m.version, " (", m.name,
          ") is pending; run `lufctl db migrate --store URL` first"));
    }
  }

  ViewHolder views;
  auto follower =
      ChangeFollower::Start(store->get(), &views, absl::Milliseconds(20));
  if (!follower.ok()) return follower.status();
  ChangeFollower* f = follower->get();
  Registry registry(store->get(), &views, [f] { f->Nudge(); });

  // Keep an existing org (its quota, other roles) and only make sure it is a
  // registrar; a re-run is then harmless.
  lufd::v1::RegistryObject org_obj;
  auto existing =
      views.Current()->Get(lufd::v1::OBJECT_KIND_ORG, options.org_id);
  if (existing.has_value() && existing->has_org()) org_obj = *existing;
  lufd::v1::Org* org = org_obj.mutable_org();
  org->set_id(options.org_id);
  if (!options.org_name.empty()) org->set_name(options.org_name);
  bool has_registrar = false;
  for (int r : org->roles()) {
    has_registrar = has_registrar || r == lufd::v1::ORG_ROLE_REGISTRAR;
  }
  if (!has_registrar) org->add_roles(lufd::v1::ORG_ROLE_REGISTRAR);
  org->set_disabled(false);

  lufd::v1::RegistryObject cred_obj;
  lufd::v1::Credential* cred = cred_obj.mutable_credential();
  cred->set_id(options.credential_id);
  cred->set_org_id(options.org_id);
  cred->set_role(lufd::v1::ROLE_ADMIN);
  cred->set_spki_sha256(*spki);
  cred->set_san_uri(options.san_uri);
  cred->set_description("created by lufctl db bootstrap");

  std::vector<lufd::v1::Operation> ops(2);
  for (auto* obj : {&org_obj, &cred_obj}) {
    absl::Status st = ValidateAndNormalize(obj);
    if (!st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat(KindName(KindOf(*obj)), " ", KeyOf(*obj),
                                       ": ", st.message()));
    }
  }
  *ops[0].mutable_put() = org_obj;
  *ops[1].mutable_put() = cred_obj;
  auto resp = registry.Execute(Identity::LocalAdmin(), ops, "db-bootstrap");
  if (!resp.ok()) return resp.status();

  if (format == OutputFormat::kJson) {
    out << absl::StrCat(
        "{\"org\":\"", JsonEscape(options.org_id), "\",\"credential\":\"",
        JsonEscape(options.credential_id), "\",\"spkiSha256\":\"", *spki,
        "\",\"serial\":\"", resp->serial(), "\"}\n");
  } else {
    out << "bootstrapped org " << options.org_id << " with ADMIN credential "
        << options.credential_id << " (spki_sha256 " << *spki << "), serial "
        << resp->serial() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace lufd::client
