// `lufctl db migrate|status|bootstrap`: the local database, opened directly
// (no server); the work is client/local_db.h's.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "client/local_db.h"

namespace lufd::client::cli {
namespace {

void AddStoreFlag(CLI::App* c, std::string* store) {
  c->add_option("--store", *store, "sqlite:/path.db or postgresql://...")
      ->required();
}

struct StoreFlags {
  std::string store;

  void Register(CLI::App* c) { AddStoreFlag(c, &store); }
};

// `db <verb> --store URL`, run by `fn` (local_db.h).
Command StoreCommand(const char* verb, const char* help,
                     absl::Status (*fn)(const std::string&, OutputFormat,
                                        std::ostream&)) {
  return Cmd<StoreFlags>("db", verb, absl::StrCat("db ", verb, " --store URL"),
                         help, [fn](Context& ctx, const StoreFlags& f) {
                           return fn(f.store, ctx.format(), ctx.out);
                         });
}

}  // namespace

Noun DbNoun() {
  return {
      "db",
      "Local database (schema, bootstrap)",
      {StoreCommand(
           "migrate",
           "Apply pending schema migrations to a store (local, no server).",
           DbMigrate),
       StoreCommand("status",
                    "Show migrations: version, name, checksum, applied_at.",
                    DbStatus),
       // The options struct is local_db.h's own BootstrapOptions.
       Cmd<BootstrapOptions>(
           "db", "bootstrap",
           "db bootstrap --store URL --org ID --name NAME --cert-file "
           "admin.pem [--san-uri URI] [--credential-id ID]",
           "Create the first org and ADMIN credential directly in the store.",
           [](CLI::App* c, BootstrapOptions* o) {
             AddStoreFlag(c, &o->store_url);
             c->add_option("--org", o->org_id, "Org id, namespace:value")
                 ->required();
             c->add_option("--name", o->org_name, "Org name")->required();
             c->add_option("--cert-file", o->cert_file, "Admin certificate PEM")
                 ->required();
             c->add_option("--san-uri", o->san_uri,
                           "Also require this SAN URI");
             c->add_option("--credential-id", o->credential_id,
                           "Credential id (default bootstrap-admin)");
           },
           [](Context& ctx, const BootstrapOptions& o) {
             return DbBootstrap(o, ctx.format(), ctx.out);
           })}};
}

}  // namespace lufd::client::cli
