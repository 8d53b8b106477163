// GuardRule: the rules the guard (guard.h) can refuse a request by, and
// their names as config, Quota and lufctl spell them. Header-only and free
// of link dependencies, so the config checks (server/ops), the registry's
// validation (server/core) and lufctl check names against this one table.
#ifndef LUFD_SERVER_GUARD_GUARD_RULE_H_
#define LUFD_SERVER_GUARD_GUARD_RULE_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace lufd {

// Each rule can be put in dry run on its own (GuardLimits::dry_run_rules;
// config `dry_run_rules`, Quota `dry_run_rules`): its refusals are then
// counted and logged, never enforced.
enum class GuardRule : uint8_t {
  kRate = 0,        // Token bucket (lookups_per_second, burst, miss_cost).
  kDisclosure = 1,  // Distinct numbers answered with SED per 24 h.
  kMisses = 2,      // Answers without SED per 24 h (miss budget).
  kScan = 3,        // Scan detector: one detection is one offence.
  kBlock = 4,       // Blocked after repeated offences (escalating).
  kSigning = 5,     // Online signatures per second (DNS only).
};
inline constexpr int kGuardRuleCount = 6;
// Indexed by GuardRule.
inline constexpr absl::string_view kGuardRuleNames[kGuardRuleCount] = {
    "rate", "disclosure", "misses", "scan", "block", "signing"};

inline absl::string_view GuardRuleName(GuardRule rule) {
  const int i = static_cast<int>(rule);
  return i >= 0 && i < kGuardRuleCount ? kGuardRuleNames[i] : "unknown";
}
inline std::optional<GuardRule> ParseGuardRule(absl::string_view name) {
  for (int i = 0; i < kGuardRuleCount; ++i) {
    if (kGuardRuleNames[i] == name) return static_cast<GuardRule>(i);
  }
  return std::nullopt;
}
// 1 << rule, for GuardLimits::dry_run_rules.
constexpr uint32_t GuardRuleBit(GuardRule rule) {
  return uint32_t{1} << static_cast<int>(rule);
}
inline constexpr uint32_t kAllGuardRules = (1u << kGuardRuleCount) - 1;

}  // namespace lufd

#endif  // LUFD_SERVER_GUARD_GUARD_RULE_H_
