// `lufctl audit`: the change log, which is the audit trail.
#include <string>
#include <vector>

#include "client/commands/command.h"
#include "common/status_macros.h"

namespace lufd::client::cli {
namespace {

struct AuditFlags {
  uint64_t after_serial = 0;
  uint32_t limit = 0;
  std::string key, actor;

  void Register(CLI::App* c) {
    c->add_option("--after-serial", after_serial, "Changes after this serial");
    c->add_option("--key", key, "Only this object key");
    c->add_option("--actor", actor, "Only this actor (org/cred)");
    c->add_option("--limit", limit, "At most N (0 = server default)");
  }
};

absl::Status Audit(Context& ctx, const AuditFlags& f) {
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
      "audit", "", "audit [--after-serial N] [--key K] [--actor A] [--limit N]",
      "Show the change log (audit trail).", Audit);
}

}  // namespace lufd::client::cli
