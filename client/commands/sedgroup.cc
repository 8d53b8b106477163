// `lufctl sedgroup add|get|del|list`: SED groups, records attached to
// destination groups.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "client/commands/command.h"

namespace lufd::client::cli {
namespace {

struct SedGroupAddFlags {
  std::string id, registrant;
  std::vector<std::string> dgs, record_refs;
  bool is_public = false, in_service = true;
  uint32_t priority = 0;

  void Register(CLI::App* c) {
    AddIdFlag(c, &id, "SED group id");
    AddRegistrantFlag(c, &registrant);
    c->add_option("--dg", dgs, "Destination group (repeatable)");
    c->add_option("--record", record_refs,
                  "Record id, optional :priority (repeatable)");
    c->add_flag("--public", is_public,
                "Visible to every authenticated peer and anonymous DNS");
    AddInServiceFlag(c, &in_service);
    c->add_option("--priority", priority, "Lower first among groups");
  }
};

absl::Status SedGroupAdd(Context& ctx, const SedGroupAddFlags& f) {
  lufd::v1::RegistryObject obj;
  auto* g = obj.mutable_sed_group();
  g->set_id(f.id);
  g->set_registrant_id(f.registrant);
  for (const auto& dg : f.dgs) g->add_dest_group_ids(dg);
  for (const auto& ref : f.record_refs) {
    auto* r = g->add_records();
    // ID[:priority]: the part after the last ':' is the priority when it is
    // a number (record ids may themselves contain ':').
    size_t colon = ref.rfind(':');
    uint32_t prio = 0;
    if (colon != std::string::npos &&
        absl::SimpleAtoi(ref.substr(colon + 1), &prio)) {
      r->set_record_id(ref.substr(0, colon));
      r->set_priority(prio);
    } else {
      r->set_record_id(ref);
    }
  }
  g->set_in_service(f.in_service);
  g->set_public_(f.is_public);
  g->set_priority(f.priority);
  return Put(ctx, obj);
}

}  // namespace

std::vector<Command> SedGroupCommands() {
  return {Cmd<SedGroupAddFlags>(
      "sedgroup", "add",
      "sedgroup add --id ID --registrant ORG [--dg DG]... "
      "[--record ID[:PRIORITY]]... [--public] [--out-of-service] "
      "[--priority N]",
      "Create or replace a SED group (records attached to destination "
      "groups).",
      SedGroupAdd)};
}

}  // namespace lufd::client::cli
