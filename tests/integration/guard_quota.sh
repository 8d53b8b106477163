#!/usr/bin/env bash
# The guard end to end on real processes: an admin gives peer SSP1's org a
# quota with `lufctl org add ... --lookups-per-second 1 --burst 3`; SSP1's
# lookups (each its own lufctl process) are refused with RESOURCE_EXHAUSTED
# once the burst is spent, the refusal names the limit and is in the denial
# audit, and SSP3 (no quota: the generous default) and the admin are not
# limited.
IT_NAME="guard_quota"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

store_url sqlite
start_lufd "$url"
provision_rfc7878 provision
provision_rfc7878 accept
TN=+12025556666

run_ctl peer-ssp1 lookup "$TN"
expect_ok "ssp1 looks up before any quota"

run_ctl admin org add iana-en:111 --name SSP1 --role peer --role registrar \
  --lookups-per-second 1 --burst 3
expect_ok "admin sets SSP1's quota (1/s, burst 3)"

ok=0
denied=0
start=$(date +%s.%N)
for ((i = 0; i < 12; i++)); do
  run_ctl peer-ssp1 lookup "$TN"
  if ((rc == 0)); then
    ((ok += 1))
  elif grep -q "RESOURCE_EXHAUSTED\|rate limit" <<<"$out"; then
    ((denied += 1))
    last_denial="$out"
  else
    echo "$out" >&2
    fail "lookup $i failed otherwise (exit $rc)"
  fi
done
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%d", e-s+1}')
it_log "ssp1: $ok answered, $denied refused in ~${elapsed}s"
((denied >= 1)) || fail "no lookup refused after the burst ($ok answered)"
((ok <= 3 + elapsed)) || fail "$ok answered in ${elapsed}s: more than burst + rate"
out="$last_denial"
expect_contains "lookup rate limit of org iana-en:111" "refusal names the limit"
expect_contains "retry after" "refusal says when to retry"

for ((i = 0; i < 12; i++)); do
  run_ctl peer-ssp3 lookup "$TN"
  grep -q "RESOURCE_EXHAUSTED\|rate limit" <<<"$out" && fail "ssp3 limited"
  run_ctl admin lookup "$TN"
  ((rc == 0)) || { echo "$out" >&2; fail "admin lookup $i refused"; }
done
pass "ssp3 (default quota) and admin not limited"

sleep 6  # The denial audit is flushed every 5 s.
run_ctl admin --output json audit --denied --limit 100
expect_ok "audit --denied"
expect_contains "guard: lookup rate limit" "refusals in the denial audit"

it_done
