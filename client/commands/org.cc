// `lufctl org add|get|list|del`: organizations and their quotas.
#include <iterator>
#include <string>
#include <vector>

#include "client/commands/command.h"
#include "server/guard/guard_rule.h"  // Header-only: the rule names.

namespace lufd::client::cli {
namespace {

using lufd::v1::RegistryObject;

struct OrgAddFlags {
  std::string id, name, registrar;
  std::vector<std::string> roles;
  bool disabled = false;
  uint32_t lookups_per_second = 0, burst = 0, distinct_per_day = 0,
           miss_cost = 0, scan_threshold = 0, misses_per_day = 0,
           signatures_per_second = 0;
  std::vector<std::string> dry_run_rules;
  bool dry_run = false;

  void Register(CLI::App* c) {
    c->add_option("id,--id", id, "Org id, namespace:value")->required();
    c->add_option("--name", name, "Display name");
    c->add_option("--role", roles, "Org role (repeatable)")
        ->check(CLI::IsMember({"registrant", "registrar", "peer"}));
    c->add_option("--registrar", registrar,
                  "Registrar org that provisions for this registrant");
    c->add_flag("--disabled", disabled, "Disable the org");
    c->add_option("--lookups-per-second", lookups_per_second,
                  "Token-bucket rate (0 = default)");
    c->add_option("--burst", burst, "Bucket depth (0 = default)");
    c->add_option("--distinct-per-day", distinct_per_day,
                  "Distinct numbers disclosed per day");
    c->add_option("--miss-cost", miss_cost, "Tokens a not-found answer costs");
    c->add_option("--scan-threshold", scan_threshold,
                  "Scan detector: distinct misses or near-sequential "
                  "numbers under one number prefix per scan window (0 = "
                  "default; for numbers capped at 100 misses / 99 "
                  "near-sequential, a prefix holds 100)");
    c->add_option("--misses-per-day", misses_per_day,
                  "Miss budget: answers without SED per 24 h (0 = default)");
    c->add_option("--signatures-per-second", signatures_per_second,
                  "Online DNSSEC signatures per second (0 = default)");
    c->add_option("--dry-run-rule", dry_run_rules,
                  "Put one guard rule in dry run (repeatable)")
        ->check(CLI::IsMember(std::vector<std::string>(
            std::begin(kGuardRuleNames), std::end(kGuardRuleNames))));
    c->add_flag("--dry-run", dry_run,
                "Every rule counts and logs but never denies");
  }
};

absl::Status OrgAdd(Context& ctx, const OrgAddFlags& f) {
  RegistryObject obj;
  auto* org = obj.mutable_org();
  org->set_id(f.id);
  org->set_name(f.name);
  for (const auto& r : f.roles) {
    if (r == "registrant") org->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
    if (r == "registrar") org->add_roles(lufd::v1::ORG_ROLE_REGISTRAR);
    if (r == "peer") org->add_roles(lufd::v1::ORG_ROLE_PEER);
  }
  org->set_registrar_id(f.registrar);
  org->set_disabled(f.disabled);
  auto* q = org->mutable_quota();
  q->set_lookups_per_second(f.lookups_per_second);
  q->set_burst(f.burst);
  q->set_distinct_numbers_per_day(f.distinct_per_day);
  q->set_miss_cost(f.miss_cost);
  q->set_scan_threshold(f.scan_threshold);
  q->set_misses_per_day(f.misses_per_day);
  q->set_signatures_per_second(f.signatures_per_second);
  for (const std::string& rule : f.dry_run_rules) q->add_dry_run_rules(rule);
  q->set_dry_run(f.dry_run);
  return Put(ctx, obj);
}

}  // namespace

std::vector<Command> OrgCommands() {
  return {Cmd<OrgAddFlags>(
      "org", "add",
      "org add --id NS:ID [--name N] [--role registrant|registrar|peer]... "
      "[--registrar ORG] [--disabled] [quota flags]",
      "Create or replace an organization (and its anti-harvesting quota).",
      OrgAdd)};
}

}  // namespace lufd::client::cli
