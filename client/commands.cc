// The lufctl entry point: the command table assembled from the per-noun
// files in client/commands/, parsed with CLI11, and the chosen row run.
#include "client/commands.h"

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/commands/command.h"
#include "common/unsafe_text.h"

namespace lufd::client {
namespace {

using cli::Command;
using cli::Noun;
using cli::ObjectNoun;

// The nouns whose objects are found by id: their own commands come from
// client/commands/<noun>.cc, `get`, `del` and `list` from this table.
// name, noun help, kind, what `get` shows one of, id help, `del` help,
// `list` help (none: the noun has its own), list by registrant, own commands.
// Who: before the identifiers.
constexpr cli::ObjectNounSpec kPartyNouns[] = {
    {"org", "Organizations (registrants, registrars, peers)",
     lufd::v1::OBJECT_KIND_ORG, "organization", "Org id",
     "Delete an organization and everything it owns (cascade).",
     "List organizations.", false, cli::OrgCommands},
    {"credential", "Client certificate and TSIG identities",
     lufd::v1::OBJECT_KIND_CREDENTIAL, "credential", "Credential id",
     "Delete a credential.", nullptr, false, cli::CredentialCommands},
};
// What the identifiers resolve to: after them.
constexpr cli::ObjectNounSpec kSedNouns[] = {
    {"dg", "Destination groups", lufd::v1::OBJECT_KIND_DEST_GROUP,
     "destination group", "Destination group id",
     "Delete a destination group (removed from identifiers and SED groups).",
     "List destination groups.", true, cli::DestGroupCommands},
    {"record", "SED records (NAPTR, URI, NS)", lufd::v1::OBJECT_KIND_SED_RECORD,
     "SED record", "Record id",
     "Delete a SED record (removed from SED groups).", "List SED records.",
     true, cli::RecordCommands},
    {"sedgroup", "SED groups", lufd::v1::OBJECT_KIND_SED_GROUP, "SED group",
     "SED group id", "Delete a SED group and its offers.", "List SED groups.",
     true, cli::SedGroupCommands},
};

// The table, in help order.
const std::vector<Noun>& Nouns() {
  static const auto* kNouns = [] {
    auto* nouns = new std::vector<Noun>;
    for (const auto& spec : kPartyNouns) nouns->push_back(ObjectNoun(spec));
    for (auto& n : cli::IdentifierNouns()) nouns->push_back(std::move(n));
    nouns->push_back(cli::HoldingNoun());
    {
      Command port = cli::PortCommand();
      std::string name = port.noun;
      nouns->push_back(Noun{std::move(name), "", {std::move(port)}});
    }
    for (const auto& spec : kSedNouns) nouns->push_back(ObjectNoun(spec));
    for (auto* part : {cli::OfferNoun, cli::KeyNoun, cli::ZoneNoun}) {
      nouns->push_back(part());
    }
    for (auto* single :
         {cli::BatchCommand, cli::ImportCommand, cli::ExportCommand,
          cli::AuditCommand, cli::LookupCommand, cli::HealthCommand,
          cli::InfoCommand}) {
      Command c = single();
      std::string name = c.noun;
      nouns->push_back(Noun{std::move(name), "", {std::move(c)}});
    }
    nouns->push_back(cli::GuardNoun());
    nouns->push_back(cli::DbNoun());
    return nouns;
  }();
  return *kNouns;
}

std::string CommandsFooter() {
  std::string out = "\nCommands:\n";
  for (const auto& noun : Nouns()) {
    for (const auto& c : noun.commands) {
      absl::StrAppend(&out, "  ", c.synopsis, "\n      ", c.help, "\n");
    }
  }
  absl::StrAppend(&out,
                  "\nEnvironment: LUFCTL_SERVER, LUFCTL_CERT, LUFCTL_KEY, "
                  "LUFCTL_CA, LUFCTL_SERVER_NAME.\n"
                  "Exit status: 0 ok, 1 operation failed, 2 usage error.");
  return out;
}

// The first word that is not a global option or its value: the noun.
std::string FirstWord(int argc, const char* const* argv) {
  static const char* kValued[] = {"--server",  "--cert",        "--key",
                                  "--ca",      "--server-name", "--output",
                                  "--timeout", "--txn-id"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "-")) {
      for (const char* v : kValued) {
        if (arg == v) ++i;  // Its value follows.
      }
      continue;
    }
    return std::string(arg);
  }
  return "";
}

void AddGlobalOptions(CLI::App& app, cli::GlobalOptions& g) {
  app.add_option("--server", g.conn.server, "lufd address host:port")
      ->envname("LUFCTL_SERVER")
      ->capture_default_str();
  app.add_option("--cert", g.conn.cert_file, "Client certificate PEM")
      ->envname("LUFCTL_CERT");
  app.add_option("--key", g.conn.key_file, "Client private key PEM")
      ->envname("LUFCTL_KEY");
  app.add_option("--ca", g.conn.ca_file, "CA bundle PEM for the server")
      ->envname("LUFCTL_CA");
  app.add_option("--server-name", g.conn.server_name,
                 "TLS target name override")
      ->envname("LUFCTL_SERVER_NAME");
  app.add_option("--output", g.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds, "RPC deadline in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--txn-id", g.txn_id, "Client transaction id (audit)");
}

}  // namespace

std::vector<CommandInfo> CommandTable() {
  std::vector<CommandInfo> out;
  for (const auto& noun : Nouns()) {
    for (const auto& c : noun.commands) {
      out.push_back(CommandInfo{c.noun, c.verb, c.synopsis, c.help});
    }
  }
  return out;
}

int RunLufctl(int argc, const char* const* argv, std::ostream& out,
              std::ostream& err) {
  cli::GlobalOptions g;
  CLI::App app{
      "lufctl: admin CLI for lufd, the ENUM/SPEERMINT Look-Up "
      "Function registry",
      "lufctl"};
  app.require_subcommand(1);
  // Global options may also follow the command (`org list --output json`);
  // subcommands inherit this setting when they are created.
  app.fallthrough(true);
  AddGlobalOptions(app, g);

  // Each leaf's handler, bound to that leaf's own parsed options.
  std::vector<std::pair<CLI::App*, cli::Handler>> leaves;
  for (const auto& noun : Nouns()) {
    CLI::App* parent = &app;
    if (noun.commands.size() != 1 || !noun.commands[0].verb.empty()) {
      parent = app.add_subcommand(noun.name, noun.help);
      parent->require_subcommand(1);
    }
    for (const auto& cmd : noun.commands) {
      CLI::App* leaf = parent->add_subcommand(
          cmd.verb.empty() ? cmd.noun : cmd.verb, cmd.help);
      // CLI11 2.1 has no per-command usage line; the synopsis goes in the
      // description so `lufctl <noun> <verb> --help` shows it.
      leaf->description(absl::StrCat(
          cmd.help, "\nUsage: lufctl [global options] ", cmd.synopsis));
      leaves.emplace_back(leaf, cmd.bind(leaf));
    }
  }

  // Set last: subcommands copy the parent's footer when they are created.
  app.footer(CommandsFooter());

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    std::string word = FirstWord(argc, argv);
    bool known = false;
    for (const auto& noun : Nouns()) known = known || word == noun.name;
    if (!word.empty() && !known) {
      err << "lufctl: usage: unknown command '" << word << "'\n"
          << "Run 'lufctl --help' for the command list.\n";
      return 2;
    }
    err << "lufctl: usage: " << e.what() << "\n"
        << "Run 'lufctl --help' for the command list.\n";
    return 2;
  }

  const cli::Handler* selected = nullptr;
  for (const auto& [leaf, handler] : leaves) {
    if (leaf->parsed()) selected = &handler;
  }
  if (selected == nullptr) {
    err << "lufctl: usage: no command given\n";
    return 2;
  }
  cli::Context ctx(g, out, err);
  absl::Status st = (*selected)(ctx);
  if (absl::IsFailedPrecondition(st) && !ctx.primary_hint().empty()) {
    // A write refused by a lufd on a read-only standby, which named the
    // primary's lufd: follow it, once, with the same credentials (the
    // refused call wrote nothing).
    cli::GlobalOptions at_primary = g;
    at_primary.conn.server = ctx.primary_hint();
    err << "lufctl: note: " << EscapeUnsafeText(g.conn.server) << " said "
        << absl::StatusCodeToString(st.code()) << ": "
        << EscapeUnsafeText(st.message()) << "; retrying once at "
        << EscapeUnsafeText(at_primary.conn.server) << "\n";
    cli::Context again(at_primary, out, err);
    st = (*selected)(again);
  }
  if (!st.ok()) {
    // Messages may echo server data: escaped line by line (common/
    // unsafe_text.h), keeping the line breaks of multi-line messages.
    std::vector<std::string> lines = absl::StrSplit(st.message(), '\n');
    for (std::string& line : lines) line = EscapeUnsafeText(line);
    err << "lufctl: " << absl::StatusCodeToString(st.code()) << ": "
        << absl::StrJoin(lines, "\n") << "\n";
    return 1;
  }
  return 0;
}

}  // namespace lufd::client
