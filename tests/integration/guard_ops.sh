#!/usr/bin/env bash
# Operators see and lift the guard's decisions, end to end on real
# processes: peer SSP1's org gets a disclosure budget of one number a day;
# its lookups of other numbers are refused over gRPC, `lufctl guard status`
# lists it and `lufctl guard explain` shows the refusal; three refusals
# (guard.offence_denials) are an offence that blocks it for an hour
# (guard.block_ladder ["1h"]), so even the number it may see is refused;
# `lufctl guard unblock` lifts the block (logged with the admin's identity)
# and the next lookup succeeds.
IT_NAME="guard_ops"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

LUFD_CONFIG_TAIL='guard:
  enabled: true
  offence_denials: 3
  block_ladder: ["1h"]'
store_url sqlite
start_lufd "$url"
provision_rfc7878 provision
provision_rfc7878 accept
TN=+12025556666
ORG=iana-en:111

run_ctl admin guard status
expect_ok "guard status with nothing refused yet"

run_ctl admin org add "$ORG" --name SSP1 --role peer --role registrar \
  --distinct-per-day 1
expect_ok "admin gives SSP1 a disclosure budget of one number a day"

run_ctl peer-ssp1 lookup "$TN"
expect_ok "ssp1 learns its one number"

run_ctl peer-ssp1 lookup +12025550001
expect_fail_with "RESOURCE_EXHAUSTED" "a second number is refused"

run_ctl peer-ssp1 guard status
expect_fail_with "PERMISSION_DENIED" "a peer may not read the guard's state"

run_ctl admin guard status
expect_ok "guard status"
expect_contains "org $ORG" "status lists the refused org"
run_ctl admin guard explain "org $ORG"
expect_ok "guard explain"
expect_contains "identity:       org $ORG" "explain names the identity"
expect_contains "disclosure 1/day" "explain shows the limit"
expect_contains "state:          not blocked" "not blocked after one refusal"
grep -qE "^disclosure +enforced +1 " <<<"$out" ||
  { echo "$out" >&2; fail "explain does not count the disclosure refusal"; }
pass "explain counts the refusal per rule"
grep -q "^last denial: .*20" <<<"$out" ||
  { echo "$out" >&2; fail "explain lacks the last denial"; }
pass "explain shows the last denial"
run_ctl admin --output json guard explain "$ORG"
expect_ok "guard explain --output json (bare org id)"
expect_contains "\"identity\":\"org $ORG\"" "json names the identity"

for n in 2 3; do
  run_ctl peer-ssp1 lookup "+1202555000$n"
  expect_fail_with "RESOURCE_EXHAUSTED" "refusal $n"
done
run_ctl peer-ssp1 lookup "$TN"
expect_fail_with "RESOURCE_EXHAUSTED" "blocked: even its own number is refused"
it_log "block refusal: $out"

run_ctl admin guard explain "org $ORG"
expect_ok "guard explain while blocked"
expect_contains "blocked until" "explain shows the block and its end"
expect_contains " left)" "explain counts the block's time left"
run_ctl admin --output json guard explain "org $ORG"
expect_ok "guard explain --output json while blocked"
# The server's clock travels with the identity: lufctl counts the time left
# on it, not on its own (possibly skewed) clock.
expect_contains '"nowUnixMicros"' "explain carries the server's clock"
run_ctl admin guard status
expect_contains "blocked until" "status shows the block"

run_ctl admin guard unblock "org $ORG"
expect_ok "guard unblock"
expect_contains "unblocked org $ORG" "unblock says it lifted the block"
grep -q "unblocked org $ORG" "$T/lufd.log" ||
  fail "the unblock is not in lufd's log"
grep "unblocked org $ORG" "$T/lufd.log" | grep -q "iana-en:0/" ||
  fail "the unblock log line does not name the admin"
pass "the unblock is logged with the admin's identity"

run_ctl peer-ssp1 lookup "$TN"
expect_ok "after unblock ssp1's lookup succeeds"

run_ctl admin guard unblock "$ORG"
expect_ok "second unblock"
expect_contains "nothing to lift" "nothing left to lift"

run_ctl admin guard explain "prefix 192.0.2.0/24"
expect_fail_with "NOT_FOUND" "an untracked identity"
run_ctl admin guard explain "prefix 300.0.0.0/24"
expect_fail_with "INVALID_ARGUMENT" "a malformed identity"

it_done
