// What every lufctl command is made of, shared by the per-noun files in
// client/commands/ (org.cc, identifier.cc, import.cc, ...) and the entry
// point client/commands.cc.
//
// A command is one row: `<noun> <verb>` (or a lone noun such as `import`),
// its synopsis and help line, and a `bind` function. `bind` gives the
// command its own options struct (`OrgAddFlags`, `ImportFlags`, ...),
// registers the command's flags on the CLI11 subcommand bound to that
// struct's fields, and returns the handler that runs with it. So each
// command sees only its own options, and the parse state lives exactly as
// long as one RunLufctl call (the table itself is immutable).
//
// The RPC helpers (Put, Delete, Get, List, ...) talk to lufd through the
// Context's lazily dialled client and print in the caller's --output format.
// Not thread-safe: a Context serves one command on one thread.
#ifndef LUFD_CLIENT_COMMANDS_COMMAND_H_
#define LUFD_CLIENT_COMMANDS_COMMAND_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/client.h"
#include "client/output.h"
#include "lufd/v1/admin.grpc.pb.h"
#include "lufd/v1/admin.pb.h"
#include "lufd/v1/registry.pb.h"

namespace lufd::client::cli {

// The options before (or after) the command: connection, output, deadline.
struct GlobalOptions {
  ConnectionOptions conn;
  std::string output = "table";
  double timeout_seconds = 30;
  std::string txn_id;
};

// What a handler runs with besides its own flags: the global options, the
// output streams and the server connection, dialled on first use (commands
// that fail validation, or work on a local database, never dial).
class Context {
 public:
  Context(const GlobalOptions& g, std::ostream& out, std::ostream& err)
      : g(g), out(out), err(err) {}

  const GlobalOptions& g;
  std::ostream& out;
  std::ostream& err;

  OutputFormat format() const {
    return g.output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }
  bool json() const { return format() == OutputFormat::kJson; }

  absl::StatusOr<LufdClient*> Client();
  // The primary endpoint a refused write named (LufdClient::primary_hint),
  // or "" (also when never dialled).
  std::string primary_hint() const {
    return client_ ? client_->primary_hint() : std::string();
  }

 private:
  std::unique_ptr<LufdClient> client_;
};

using Handler = std::function<absl::Status(Context&)>;

struct Command {
  std::string noun;
  std::string verb;  // Empty for single-word commands (import, lookup, ...).
  std::string synopsis;
  std::string help;
  // Registers the flags on the command's subcommand, bound to a fresh
  // options struct, and returns the handler that runs with those options.
  std::function<Handler(CLI::App*)> bind;
};

// A row whose options are a `Flags` struct: `flags` registers them on the
// subcommand, `run` gets them once parsed.
template <typename Flags>
Command Cmd(std::string noun, std::string verb, std::string synopsis,
            std::string help, std::function<void(CLI::App*, Flags*)> flags,
            std::function<absl::Status(Context&, const Flags&)> run) {
  return Command{
      std::move(noun), std::move(verb), std::move(synopsis), std::move(help),
      [flags = std::move(flags), run = std::move(run)](CLI::App* app) {
        auto parsed = std::make_shared<Flags>();
        flags(app, parsed.get());
        return Handler(
            [parsed, run](Context& ctx) { return run(ctx, *parsed); });
      }};
}

// The same for a `Flags` struct that registers its own flags, bound to its
// fields: `void Register(CLI::App*)`.
template <typename Flags>
Command Cmd(std::string noun, std::string verb, std::string synopsis,
            std::string help,
            std::function<absl::Status(Context&, const Flags&)> run) {
  return Cmd<Flags>(
      std::move(noun), std::move(verb), std::move(synopsis), std::move(help),
      [](CLI::App* app, Flags* flags) { flags->Register(app); },
      std::move(run));
}

// A noun and its verbs (`org add|get|list|del`), or one single-word command
// (`import`: one row with an empty verb, and no noun help).
struct Noun {
  std::string name;
  std::string help;  // `lufctl --help` line of the noun.
  std::vector<Command> commands;
};

// A noun whose objects are found by id (org, credential, dg, record,
// sedgroup): its own commands, `add` first, and the generic `get ID`,
// `del ID` and `list` rows, which go right after `add`.
struct ObjectNounSpec {
  const char* name;
  const char* help;
  lufd::v1::ObjectKind kind;
  const char* what;       // "organization": "Show one organization."
  const char* id_help;    // "Org id"
  const char* del_help;   // The whole help line of `del`.
  const char* list_help;  // nullptr: the noun's own commands have `list`.
  bool list_by_registrant;
  std::vector<Command> (*own)();
};
Noun ObjectNoun(const ObjectNounSpec& spec);

// The table's parts, one per file in client/commands/; client/commands.cc
// puts them in help order.
std::vector<Command> OrgCommands();
std::vector<Command> CredentialCommands();
std::vector<Noun> IdentifierNouns();  // number, range, prefix, rn, uri.
Noun HoldingNoun();                   // holding add|get|del|list.
Command PortCommand();                // port BLOCK --to ORG.
std::vector<Command> DestGroupCommands();
std::vector<Command> RecordCommands();
std::vector<Command> SedGroupCommands();
Noun OfferNoun();
Noun KeyNoun();
Noun GuardNoun();  // guard status|explain|unblock.
Noun ZoneNoun();
Command BatchCommand();
Command ImportCommand();
Command ExportCommand();
Command AuditCommand();
Command LookupCommand();
Command HealthCommand();
Command InfoCommand();
Noun DbNoun();

// ---------------------------------------------------------------- rows
// Rows that several nouns share the shape of.

// The object id, positional or `--id`, required.
void AddIdFlag(CLI::App* app, std::string* id, const std::string& what);

struct IdFlags {
  std::string id;
};
struct ListFlags {
  std::string registrant;  // Only with a `--registrant` flag.
  uint32_t limit = 0;
};

// Flags several commands share: one spelling and one help line each.
// `--registrant ORG`, required: the org that owns what is written.
void AddRegistrantFlag(CLI::App* app, std::string* registrant);
// `--zone Z`, required: a zone apex.
void AddZoneFlag(CLI::App* app, std::string* zone, const std::string& help);
// `--in-service` (default) / `--out-of-service`.
void AddInServiceFlag(CLI::App* app, bool* in_service);
// `-o FILE`, `--out FILE`: where to write (`-` or none: stdout).
void AddOutFileFlag(CLI::App* app, std::string* file);

// `[--registrant ORG] [--limit N]` (the registrant filter only when
// `by_registrant`), shared by every list.
void AddListFlags(CLI::App* app, ListFlags* flags, bool by_registrant);

// `<noun> list [<flag> V] [--limit N]`: the objects whose `field` is V
// (normalized by `normalize`, when given), or all without the flag;
// filtered client-side.
Command ListWhereCommand(
    const std::string& noun, lufd::v1::ObjectKind kind, const std::string& help,
    const std::string& flag, const std::string& metavar,
    const std::string& flag_help,
    std::string (*field)(const lufd::v1::RegistryObject&),
    absl::StatusOr<std::string> (*normalize)(absl::string_view) = nullptr);

// `<noun> ARG`: a single-word command whose one argument is positional and
// required (`batch FILE`, `lookup QUERY`).
Command OneArgCommand(
    const std::string& noun, const std::string& metavar,
    const std::string& help, const std::string& arg,
    const std::string& arg_help,
    std::function<absl::Status(Context&, const std::string&)> run);

// ---------------------------------------------------------------- RPCs

using AdminStub = lufd::v1::AdminService::StubInterface;

// One unary Admin call: dial (once), call with the --timeout deadline, map
// the status.
template <typename Request, typename Response>
absl::Status CallAdmin(Context& ctx,
                       grpc::Status (AdminStub::*rpc)(grpc::ClientContext*,
                                                      const Request&,
                                                      Response*),
                       const Request& req, Response* resp) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  auto c = (*client)->NewContext();
  return FromGrpc(((*client)->admin()->*rpc)(c.get(), req, resp));
}

// One server-streaming Admin call, without a deadline (a stream may
// legitimately run for minutes). `on_item` returns false once it has
// enough: the stream is then cancelled and that is not an error.
template <typename Request, typename Item, typename OnItem>
absl::Status ReadAdminStream(
    Context& ctx,
    std::unique_ptr<grpc::ClientReaderInterface<Item>> (AdminStub::*rpc)(
        grpc::ClientContext*, const Request&),
    const Request& req, OnItem on_item) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  auto c = (*client)->NewContext(false);
  auto reader = ((*client)->admin()->*rpc)(c.get(), req);
  Item item;
  bool cancelled = false;
  while (reader->Read(&item)) {
    if (!on_item(item)) {
      // Enough: stop the server streaming the rest (it may be millions).
      c->TryCancel();
      cancelled = true;
      break;
    }
  }
  absl::Status st = FromGrpc(reader->Finish());
  if (cancelled && absl::IsCancelled(st)) return absl::OkStatus();
  return st;
}

// `[` items as JSON, one a line, `]`; `json` maps an item to its JSON.
template <typename T, typename ToJsonFn>
void PrintJsonArray(std::ostream& out, const std::vector<T>& items,
                    ToJsonFn json) {
  out << "[";
  for (size_t i = 0; i < items.size(); ++i) {
    out << (i ? ",\n" : "\n") << json(items[i]);
  }
  out << (items.empty() ? "]\n" : "\n]\n");
}

// "ok: serial N, M change(s)" or the WriteResponse as JSON.
absl::Status PrintWrite(Context& ctx, const lufd::v1::WriteResponse& resp);
absl::Status Put(Context& ctx, const lufd::v1::RegistryObject& object);
absl::Status Delete(Context& ctx, lufd::v1::ObjectKind kind,
                    const std::string& key);
absl::StatusOr<lufd::v1::RegistryObject> GetObject(Context& ctx,
                                                   lufd::v1::ObjectKind kind,
                                                   const std::string& key);
// Get and print one object (TSIG secrets redacted).
absl::Status Get(Context& ctx, lufd::v1::ObjectKind kind,
                 const std::string& key);
// Objects as a table (one row each) or a JSON array, secrets redacted.
void PrintObjects(Context& ctx, lufd::v1::ObjectKind kind,
                  const std::vector<lufd::v1::RegistryObject>& objects);
// Streams the objects of `kind` (of `list.registrant`, when set) and prints
// those `keep` accepts, at most `list.limit` (0 = all).
absl::Status List(
    Context& ctx, lufd::v1::ObjectKind kind, const ListFlags& list,
    const std::function<bool(const lufd::v1::RegistryObject&)>& keep = nullptr);

// A NAPTR given as one string: "order pref flags services regexp
// replacement", tokens separated by blanks, double quotes group (with \" and
// \\ escapes); "." or "" as replacement means none. Same order as a zone
// file NAPTR. Used by identifiers (inline records) and `record add`.
absl::StatusOr<lufd::v1::NaptrRecord> ParseNaptrSpec(absl::string_view spec);

}  // namespace lufd::client::cli

#endif  // LUFD_CLIENT_COMMANDS_COMMAND_H_
