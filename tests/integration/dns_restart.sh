#!/usr/bin/env bash
# Restarting lufd with online DNSSEC on a registry it has signed ahead
# (SQLite):
#   1. the signer's pass signs the TNs and records its checkpoint (the
#      signer_checkpoint table, migration 0004) at the registry's serial;
#   2. after a restart the stored signatures serve at once (a TN's NAPTR
#      comes with its RRSIG) and the instance that takes the signer lease
#      finds the checkpoint and skips its start-up walk;
#   3. with the checkpoint row deleted, the next start walks the registry
#      again and writes a new checkpoint.
IT_NAME=dns_restart
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools dig sqlite3

ZONE=e164.arpa.
DB="$T/registry.db"
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")"
SKIPPED="no start-up sign-ahead walk"

sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$1" 2>/dev/null || true; }
checkpoint_serial() { sql "SELECT serial FROM signer_checkpoint"; }
latest_serial() { sql "SELECT latest_serial FROM registry_state"; }
skips() { grep -c "$SKIPPED" "$T/lufd.log" || true; }

# wait_checkpoint SECONDS: until the checkpoint covers the latest serial.
wait_checkpoint() {
  local t0=$SECONDS c l
  while ((SECONDS - t0 < $1)); do
    c="$(checkpoint_serial)"
    l="$(latest_serial)"
    [[ -n "$c" && "$c" == "$l" ]] && return 0
    sleep 0.2
  done
  tail -n 30 "$T/lufd.log" >&2
  fail "no checkpoint at serial '$l' within $1 s (checkpoint: '$c')"
}

start_dns() {
  start_lufd "sqlite:$DB"
  wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "lufd does not answer DNS"; }
}

# 1. Sign ahead, checkpoint.
start_dns
provision_public_sample
wait_checkpoint 60
pass "checkpoint at serial $(checkpoint_serial) after the first pass"
[[ "$(skips)" == 0 ]] || fail "the first start skipped a walk it never made"
sigs="$(sql "SELECT count(*) FROM dnssec_signatures")"
[[ "$sigs" =~ ^[0-9]+$ && "$sigs" -gt 0 ]] || fail "no signatures stored ($sigs)"
pass "$sigs signatures stored"

# 2. Restart: signed answers at once, no walk.
stop_lufd
start_dns
TN_NAME="$(enum_name +12025556666 "$ZONE")"
dns_dig "$DNS_PORT" +dnssec "$TN_NAME" NAPTR
[[ "$(dig_status)" == NOERROR ]] && grep -q "RRSIG[[:space:]]*NAPTR" <<<"$dout" || {
  echo "$dout" >&2; fail "no signed NAPTR for $TN_NAME after the restart"; }
pass "signed NAPTR served after the restart"
t0=$SECONDS
until [[ "$(skips)" == 1 ]]; do
  ((SECONDS - t0 < 30)) || { tail -n 30 "$T/lufd.log" >&2; fail "the restart walked the registry again"; }
  sleep 0.2
done
pass "the restart found the checkpoint and skipped its walk"

# 3. Without the checkpoint the next start walks (and writes a new one).
stop_lufd
sql "DELETE FROM signer_checkpoint"
[[ -z "$(checkpoint_serial)" ]] || fail "checkpoint row not deleted"
start_dns
wait_checkpoint 60
[[ "$(skips)" == 1 ]] || fail "a start without a checkpoint skipped its walk"
pass "without a checkpoint the start walked and wrote a new one"

stop_lufd
it_done
