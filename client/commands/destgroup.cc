// `lufctl dg add|get|del|list`: destination groups, which tie identifiers
// to the SED groups that answer for them.
#include <string>

#include "client/commands/command.h"

namespace lufd::client::cli {
namespace {

struct DestGroupAddFlags {
  std::string id, registrant;

  void Register(CLI::App* c) {
    AddIdFlag(c, &id, "Destination group id");
    AddRegistrantFlag(c, &registrant);
  }
};

absl::Status DestGroupAdd(Context& ctx, const DestGroupAddFlags& f) {
  lufd::v1::RegistryObject obj;
  obj.mutable_dest_group()->set_id(f.id);
  obj.mutable_dest_group()->set_registrant_id(f.registrant);
  return Put(ctx, obj);
}

}  // namespace

std::vector<Command> DestGroupCommands() {
  return {Cmd<DestGroupAddFlags>("dg", "add", "dg add --id ID --registrant ORG",
                                 "Create or replace a destination group.",
                                 DestGroupAdd)};
}

}  // namespace lufd::client::cli
