// `lufctl record add|get|del|list`: standalone SED records (NAPTR, URI, NS)
// that SED groups reference.
#include <string>
#include <vector>

#include "client/commands/command.h"

namespace lufd::client::cli {
namespace {

struct RecordAddFlags {
  std::string id, registrant;
  std::string type = "naptr";
  uint32_t ttl = 0;  // 0: the registry's default (see `record get`).
  bool in_service = true;
  // NAPTR, as separate flags or one --naptr string.
  uint32_t order = 0, preference = 0;
  std::string flags, services, regexp, replacement;
  std::vector<std::string> naptrs;
  // URI.
  uint32_t priority = 0, weight = 0;
  std::string target;
  // NS.
  std::string host;

  void Register(CLI::App* c) {
    AddIdFlag(c, &id, "Record id");
    AddRegistrantFlag(c, &registrant);
    c->add_option("--type", type, "Record type")
        ->check(CLI::IsMember({"naptr", "uri", "ns"}));
    c->add_option("--ttl", ttl, "TTL in seconds");
    AddInServiceFlag(c, &in_service);
    c->add_option("--order", order, "NAPTR order");
    c->add_option("--preference", preference, "NAPTR preference");
    c->add_option("--flags", flags, "NAPTR flags, e.g. u");
    c->add_option("--services", services, "NAPTR services, e.g. E2U+sip");
    c->add_option("--regexp", regexp, "NAPTR regexp, !^.*$!uri!");
    c->add_option("--replacement", replacement, "NAPTR replacement domain");
    c->add_option("--priority", priority, "URI priority");
    c->add_option("--weight", weight, "URI weight");
    c->add_option("--target", target, "URI target");
    c->add_option("--host", host, "NS host name");
    c->add_option("--naptr", naptrs,
                  "Whole NAPTR \"order pref flags services regexp "
                  "replacement\" instead of the separate flags");
  }
};

absl::Status RecordAdd(Context& ctx, const RecordAddFlags& f) {
  lufd::v1::RegistryObject obj;
  auto* rec = obj.mutable_sed_record();
  rec->set_id(f.id);
  rec->set_registrant_id(f.registrant);
  rec->set_ttl(f.ttl);
  rec->set_in_service(f.in_service);
  if (!f.naptrs.empty()) {
    if (f.naptrs.size() > 1 || f.type != "naptr") {
      return absl::InvalidArgumentError(
          "a record holds one NAPTR; give --naptr once");
    }
    auto n = ParseNaptrSpec(f.naptrs[0]);
    if (!n.ok()) return n.status();
    *rec->mutable_naptr() = *n;
  } else if (f.type == "naptr") {
    auto* n = rec->mutable_naptr();
    n->set_order(f.order);
    n->set_preference(f.preference);
    n->set_flags(f.flags);
    n->set_services(f.services);
    n->set_regexp(f.regexp);
    n->set_replacement(f.replacement == "." ? "" : f.replacement);
  } else if (f.type == "uri") {
    auto* u = rec->mutable_uri();
    u->set_priority(f.priority);
    u->set_weight(f.weight);
    if (f.target.empty()) return absl::InvalidArgumentError("need --target");
    u->set_target(f.target);
  } else {
    if (f.host.empty()) return absl::InvalidArgumentError("need --host");
    rec->mutable_ns()->set_host(f.host);
  }
  return Put(ctx, obj);
}

}  // namespace

std::vector<Command> RecordCommands() {
  return {Cmd<RecordAddFlags>(
      "record", "add",
      "record add --id ID --registrant ORG --type naptr|uri|ns [--ttl S] "
      "[--out-of-service] (naptr: --order --preference --flags --services "
      "--regexp|--replacement; uri: --priority --weight --target; ns: "
      "--host)",
      "Create or replace a standalone SED record.", RecordAdd)};
}

}  // namespace lufd::client::cli
