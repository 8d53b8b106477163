// `lufctl lookup QUERY`, `health` and `info`: what the server answers and
// how it is, seen from this client's identity.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/commands/command.h"
#include "common/status_macros.h"
#include "common/unsafe_text.h"

namespace lufd::client::cli {
namespace {

absl::Status Lookup(Context& ctx, const std::string& query) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::LookupRequest req;
  req.set_query(query);
  lufd::v1::LookupResponse resp;
  auto c = (*client)->NewContext();
  grpc::Status st = (*client)->lookup()->Lookup(c.get(), req, &resp);
  // No oracle: NOT_FOUND and found=false are the same answer to the user.
  if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
      (st.ok() && !resp.found())) {
    return absl::NotFoundError("not found");
  }
  if (!st.ok()) return FromGrpc(st);
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  ctx.out << EscapeUnsafeText(resp.normalized()) << "  "
          << EscapeUnsafeText(resp.domain()) << "  serial " << resp.serial()
          << "\n";
  Table table({"ttl", "rdata"});
  for (const auto& r : resp.records()) {
    table.AddRow({absl::StrCat(r.ttl()), SedAnswerText(r)});
  }
  ctx.out << table.Render();
  return absl::OkStatus();
}

struct HealthFlags {
  std::string service;

  void Register(CLI::App* c) {
    c->add_option("--service", service, "Service name (default '')");
  }
};

absl::Status Health(Context& ctx, const HealthFlags& f) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  auto status = (*client)->CheckHealth(f.service);
  if (!status.ok()) return status.status();
  if (ctx.json()) {
    ctx.out << "{\"status\":\"" << *status << "\"}\n";
  } else {
    ctx.out << *status << "\n";
  }
  if (*status != "SERVING") {
    return absl::UnavailableError(absl::StrCat("server is ", *status));
  }
  return absl::OkStatus();
}

struct NoFlags {};

absl::Status Info(Context& ctx, const NoFlags&) {
  lufd::v1::ServerInfo info;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::GetServerInfo,
                            lufd::v1::ServerInfoRequest(), &info));
  if (ctx.json()) {
    ctx.out << ToJson(info) << "\n";
    return absl::OkStatus();
  }
  Table table({"field", "value"});
  table.AddRow({"version", info.version()});
  table.AddRow({"serial", absl::StrCat(info.serial())});
  table.AddRow({"store_serial", absl::StrCat(info.store_serial())});
  table.AddRow({"store_backend", info.store_backend()});
  table.AddRow({"schema_version", absl::StrCat(info.schema_version())});
  table.AddRow({"started",
                absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                 absl::FromUnixSeconds(info.start_time_unix()),
                                 absl::UTCTimeZone())});
  table.AddRow({"caller_org", info.caller_org_id()});
  table.AddRow({"caller_role", lufd::v1::Role_Name(info.caller_role())});
  ctx.out << table.Render();
  return absl::OkStatus();
}

}  // namespace

Command LookupCommand() {
  return OneArgCommand(
      "lookup", "QUERY",
      "Look up the SED visible to this client for a number or URI.", "query",
      "E.164 number, tel: or sip: URI", Lookup);
}

Command HealthCommand() {
  return Cmd<HealthFlags>("health", "", "health [--service NAME]",
                          "grpc.health.v1 Check; exit 0 only when SERVING.",
                          Health);
}

Command InfoCommand() {
  return Cmd<NoFlags>(
      "info", "", "info", "Show server version, serials and caller identity.",
      [](CLI::App*, NoFlags*) {}, Info);
}

}  // namespace lufd::client::cli
