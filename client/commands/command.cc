#include "client/commands/command.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace lufd::client::cli {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

absl::StatusOr<LufdClient*> Context::Client() {
  if (!client_) {
    ConnectionOptions conn = g.conn;
    conn.timeout = absl::Seconds(g.timeout_seconds);
    auto c = LufdClient::Connect(conn);
    if (!c.ok()) return c.status();
    client_ = *std::move(c);
  }
  return client_.get();
}

// ---------------------------------------------------------------- rows

void AddIdFlag(CLI::App* app, std::string* id, const std::string& what) {
  app->add_option("id,--id", *id, what)->required();
}

void AddRegistrantFlag(CLI::App* app, std::string* registrant) {
  app->add_option("--registrant", *registrant, "Registrant org id")->required();
}

void AddZoneFlag(CLI::App* app, std::string* zone, const std::string& help) {
  app->add_option("--zone", *zone, help)->required();
}

void AddInServiceFlag(CLI::App* app, bool* in_service) {
  app->add_flag("--in-service,!--out-of-service", *in_service,
                "In service (default) or not");
}

void AddOutFileFlag(CLI::App* app, std::string* file) {
  app->add_option("-o,--out", *file, "Output file (- = stdout)");
}

void AddListFlags(CLI::App* app, ListFlags* flags, bool by_registrant) {
  if (by_registrant) {
    app->add_option("--registrant", flags->registrant, "Only this registrant");
  }
  app->add_option("--limit", flags->limit, "At most N (0 = all)");
}

namespace {

Command GetCommand(const std::string& noun, ObjectKind kind,
                   const std::string& what, const std::string& id_help) {
  return Cmd<IdFlags>(
      noun, "get", noun + " get ID", absl::StrCat("Show one ", what, "."),
      [id_help](CLI::App* c, IdFlags* f) { AddIdFlag(c, &f->id, id_help); },
      [kind](Context& ctx, const IdFlags& f) { return Get(ctx, kind, f.id); });
}

Command DelCommand(const std::string& noun, ObjectKind kind,
                   const std::string& help, const std::string& id_help) {
  return Cmd<IdFlags>(
      noun, "del", noun + " del ID", help,
      [id_help](CLI::App* c, IdFlags* f) { AddIdFlag(c, &f->id, id_help); },
      [kind](Context& ctx, const IdFlags& f) {
        return Delete(ctx, kind, f.id);
      });
}

Command ListCommand(const std::string& noun, ObjectKind kind,
                    const std::string& help, bool by_registrant) {
  return Cmd<ListFlags>(
      noun, "list",
      absl::StrCat(noun, " list ", by_registrant ? "[--registrant ORG] " : "",
                   "[--limit N]"),
      help,
      [by_registrant](CLI::App* c, ListFlags* f) {
        AddListFlags(c, f, by_registrant);
      },
      [kind](Context& ctx, const ListFlags& f) { return List(ctx, kind, f); });
}

}  // namespace

Command ListWhereCommand(
    const std::string& noun, ObjectKind kind, const std::string& help,
    const std::string& flag, const std::string& metavar,
    const std::string& flag_help, std::string (*field)(const RegistryObject&),
    absl::StatusOr<std::string> (*normalize)(absl::string_view)) {
  struct Flags {
    std::string want;
    ListFlags list;
  };
  return Cmd<Flags>(
      noun, "list",
      absl::StrCat(noun, " list [", flag, " ", metavar, "] [--limit N]"), help,
      [flag, flag_help](CLI::App* c, Flags* f) {
        c->add_option(flag, f->want, flag_help);
        AddListFlags(c, &f->list, false);
      },
      [kind, field, normalize](Context& ctx, const Flags& f) -> absl::Status {
        if (f.want.empty()) return List(ctx, kind, f.list);
        std::string want = f.want;
        if (normalize != nullptr) {
          ASSIGN_OR_RETURN(want, normalize(f.want));
        }
        return List(ctx, kind, f.list,
                    [&](const RegistryObject& o) { return field(o) == want; });
      });
}

Command OneArgCommand(
    const std::string& noun, const std::string& metavar,
    const std::string& help, const std::string& arg,
    const std::string& arg_help,
    std::function<absl::Status(Context&, const std::string&)> run) {
  return Cmd<std::string>(
      noun, "", absl::StrCat(noun, " ", metavar), help,
      [arg, arg_help](CLI::App* c, std::string* value) {
        c->add_option(arg, *value, arg_help)->required();
      },
      std::move(run));
}

Noun ObjectNoun(const ObjectNounSpec& spec) {
  std::vector<Command> own = spec.own();
  Noun noun{spec.name, spec.help, {}};
  noun.commands.push_back(std::move(own[0]));  // add
  noun.commands.push_back(
      GetCommand(spec.name, spec.kind, spec.what, spec.id_help));
  noun.commands.push_back(
      DelCommand(spec.name, spec.kind, spec.del_help, spec.id_help));
  if (spec.list_help != nullptr) {
    noun.commands.push_back(ListCommand(spec.name, spec.kind, spec.list_help,
                                        spec.list_by_registrant));
  }
  for (size_t i = 1; i < own.size(); ++i) {
    noun.commands.push_back(std::move(own[i]));
  }
  return noun;
}

// ---------------------------------------------------------------- RPCs

absl::Status PrintWrite(Context& ctx, const lufd::v1::WriteResponse& resp) {
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
  } else {
    ctx.out << "ok: serial " << resp.serial() << ", " << resp.changes()
            << " change(s)\n";
  }
  return absl::OkStatus();
}

absl::Status Put(Context& ctx, const RegistryObject& object) {
  lufd::v1::PutRequest req;
  *req.mutable_object() = object;
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::Put, req, &resp));
  return PrintWrite(ctx, resp);
}

absl::Status Delete(Context& ctx, ObjectKind kind, const std::string& key) {
  lufd::v1::DeleteRequest req;
  req.mutable_ref()->set_kind(kind);
  req.mutable_ref()->set_key(key);
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::Delete, req, &resp));
  return PrintWrite(ctx, resp);
}

absl::StatusOr<RegistryObject> GetObject(Context& ctx, ObjectKind kind,
                                         const std::string& key) {
  lufd::v1::GetRequest req;
  req.mutable_ref()->set_kind(kind);
  req.mutable_ref()->set_key(key);
  RegistryObject obj;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::Get, req, &obj));
  return obj;
}

namespace {

// TSIG secrets are shown once, when generated, and never again: get/list
// print that a credential has one, not what it is.
RegistryObject Redacted(const RegistryObject& object) {
  RegistryObject out = object;
  if (out.has_credential()) out.mutable_credential()->clear_tsig_secret();
  return out;
}

}  // namespace

void PrintObjects(Context& ctx, ObjectKind kind,
                  const std::vector<RegistryObject>& objects) {
  if (ctx.json()) {
    PrintJsonArray(ctx.out, objects,
                   [](const RegistryObject& o) { return ToJson(Redacted(o)); });
    return;
  }
  Table table(ObjectHeaders(kind));
  for (const auto& o : objects) table.AddRow(ObjectRow(o));
  ctx.out << table.Render();
}

absl::Status Get(Context& ctx, ObjectKind kind, const std::string& key) {
  auto obj = GetObject(ctx, kind, key);
  if (!obj.ok()) return obj.status();
  if (ctx.json()) {
    ctx.out << ToJson(Redacted(*obj)) << "\n";
    return absl::OkStatus();
  }
  PrintObjects(ctx, kind, {*obj});
  return absl::OkStatus();
}

absl::Status List(Context& ctx, ObjectKind kind, const ListFlags& list,
                  const std::function<bool(const RegistryObject&)>& keep) {
  lufd::v1::ListRequest req;
  req.set_kind(kind);
  req.set_registrant_id(list.registrant);
  // A client-side filter needs the unfiltered stream; apply the limit here.
  if (!keep) req.set_limit(list.limit);
  std::vector<RegistryObject> objects;
  RETURN_IF_ERROR(ReadAdminStream(
      ctx, &AdminStub::List, req, [&](const RegistryObject& obj) {
        if (keep && !keep(obj)) return true;
        objects.push_back(obj);
        return list.limit == 0 || objects.size() < list.limit;
      }));
  PrintObjects(ctx, kind, objects);
  return absl::OkStatus();
}

absl::StatusOr<lufd::v1::NaptrRecord> ParseNaptrSpec(absl::string_view spec) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && absl::ascii_isspace(spec[i])) ++i;
    if (i >= spec.size()) break;
    std::string tok;
    if (spec[i] == '"') {
      ++i;
      bool closed = false;
      while (i < spec.size()) {
        char c = spec[i++];
        // Only \" and \\ are escapes: a regexp's \1 must pass through.
        if (c == '\\' && i < spec.size() &&
            (spec[i] == '"' || spec[i] == '\\')) {
          tok.push_back(spec[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          tok.push_back(c);
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("--naptr '", spec, "': unterminated quote"));
      }
    } else {
      while (i < spec.size() && !absl::ascii_isspace(spec[i])) {
        tok.push_back(spec[i++]);
      }
    }
    tokens.push_back(std::move(tok));
  }
  if (tokens.size() == 5) tokens.push_back(".");
  if (tokens.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--naptr '", spec,
        "': need \"order preference flags services regexp replacement\""));
  }
  lufd::v1::NaptrRecord n;
  uint32_t order = 0, pref = 0;
  if (!absl::SimpleAtoi(tokens[0], &order) || order > 65535 ||
      !absl::SimpleAtoi(tokens[1], &pref) || pref > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--naptr '", spec, "': order and preference must be 0..65535"));
  }
  n.set_order(order);
  n.set_preference(pref);
  n.set_flags(tokens[2]);
  n.set_services(tokens[3]);
  n.set_regexp(tokens[4]);
  if (tokens[5] != ".") n.set_replacement(tokens[5]);
  return n;
}

}  // namespace lufd::client::cli
