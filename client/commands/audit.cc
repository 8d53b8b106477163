// `lufctl audit`: the change log, which is the audit trail; with --denied,
// the denial audit (refused calls, server/core/denial_audit.h).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/commands/command.h"
#include "common/status_macros.h"

namespace lufd::client::cli {
namespace {

struct AuditFlags {
  uint64_t after_serial = 0;
  uint32_t limit = 0;
  std::string key, actor;
  bool denied = false;

  void Register(CLI::App* c) {
    c->add_flag("--denied", denied,
                "Show the denial audit (refused calls; admin only) instead; "
                "takes --actor and --limit");
    c->add_option("--after-serial", after_serial, "Changes after this serial");
    c->add_option("--key", key, "Only this object key");
    c->add_option("--actor", actor, "Only this actor (org/cred)");
    c->add_option("--limit", limit, "At most N (0 = server default)");
  }
};

absl::Status Denied(Context& ctx, const AuditFlags& f) {
  if (f.after_serial != 0 || !f.key.empty()) {
    return absl::InvalidArgumentError(
        "--denied takes --actor and --limit, not --after-serial or --key");
  }
  lufd::v1::ListDenialsRequest req;
  req.set_limit(f.limit);
  req.set_actor(f.actor);
  lufd::v1::ListDenialsResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::ListDenials, req, &resp));
  std::vector<lufd::v1::Denial> rows(resp.denials().begin(),
                                     resp.denials().end());
  if (ctx.json()) {
    PrintJsonArray(ctx.out, rows,
                   [](const lufd::v1::Denial& d) { return ToJson(d); });
    return absl::OkStatus();
  }
  Table table({"last", "first", "count", "code", "actor", "peer", "method",
               "object", "reason"});
  for (const lufd::v1::Denial& d : rows) {
    table.AddRow({MicrosText(d.last_unix_micros()),
                  MicrosText(d.first_unix_micros()), absl::StrCat(d.count()),
                  d.code() == 0 ? "-"
                                : absl::StatusCodeToString(
                                      static_cast<absl::StatusCode>(d.code())),
                  d.subject().empty()
                      ? d.actor()
                      : absl::StrCat(d.actor(), " (", d.subject(), ")"),
                  d.peer(), d.method(), d.object(), d.reason()});
  }
  ctx.out << table.Render();
  if (resp.memory_only()) {
    ctx.out << "(kept in memory only: the server's store is read-only)\n";
  }
  return absl::OkStatus();
}

absl::Status Audit(Context& ctx, const AuditFlags& f) {
  if (f.denied) return Denied(ctx, f);
  lufd::v1::AuditRequest req;
  req.set_after_serial(f.after_serial);
  req.set_limit(f.limit);
  req.set_key(f.key);
  req.set_actor(f.actor);
  std::vector<lufd::v1::Change> changes;
  RETURN_IF_ERROR(ReadAdminStream(ctx, &AdminStub::Audit, req,
                                  [&](const lufd::v1::Change& change) {
                                    changes.push_back(change);
                                    return true;
                                  }));
  if (ctx.json()) {
    PrintJsonArray(ctx.out, changes,
                   [](const lufd::v1::Change& c) { return ToJson(c); });
  } else {
    Table table(ChangeHeaders());
    for (const auto& ch : changes) table.AddRow(ChangeRow(ch));
    ctx.out << table.Render();
  }
  return absl::OkStatus();
}

}  // namespace

Command AuditCommand() {
  return Cmd<AuditFlags>(
      "audit", "",
      "audit [--denied] [--after-serial N] [--key K] [--actor A] [--limit N]",
      "Show the change log (audit trail), or with --denied the denial audit: "
      "refused calls (who, what, why, code, repeat count), newest first.",
      Audit);
}

}  // namespace lufd::client::cli
