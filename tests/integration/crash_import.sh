#!/usr/bin/env bash
# Crash consistency of a bulk import: stream 200k TNs in one batch, kill -9
# lufd in the middle, restart it; the registry must hold all of them or none
# (the batch commits in one database transaction with its change-log entry).
# Then import again without a crash: all 200k are there and served.
# Usage: crash_import.sh [sqlite|postgres] [COUNT]
IT_NAME="crash_import-${1:-sqlite}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

N="${2:-200000}"
case "${1:-sqlite}" in
  sqlite) url="sqlite:$T/registry.db" ;;
  postgres) pg_start_cluster; url="$PG_URL" ;;
  *) fail "unknown backend $1" ;;
esac
start_lufd "$url"
"$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
  --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" \
  >"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "provisioning failed"; }

# +1303 5xx xxxx: outside every scenario identifier.
csv="$T/numbers.csv"
{
  echo "tn,registrant,dest_groups"
  seq -f '+13035%06g,iana-en:222,dg-ssp2' 0 $((N - 1))
} >"$csv"
pass "wrote $N TNs to $csv"

count_tns() {  # prints the number of +13035xxxxxx TNs the server exports
  local f="$T/export.csv"
  ctl admin export --format csv >"$f" 2>"$T/export.err" ||
    { cat "$T/export.err" >&2; fail "export failed"; }
  grep -c '^"\{0,1\}+13035' "$f" || true
}

# Import in the background (lufctl sends the whole file as one atomic batch
# by default) and kill lufd mid-way. lufctl reports progress only on a tty,
# so "mid-way" is a time: KILL_AFTER_MS (default: random 300-1500 ms, which
# on this 2-core VM lands while the stream or the commit is running).
kill_after_ms="${KILL_AFTER_MS:-$((300 + RANDOM % 1200))}"
set +e
timeout 600 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
  --cert "$PKI/registrar-ssp2.pem" --key "$PKI/registrar-ssp2.key" \
  import "$csv" >"$T/import1.log" 2>&1 &
imp=$!
set -e
_IT_PIDS+=("$imp")
sleep "$((kill_after_ms / 1000)).$(printf '%03d' $((kill_after_ms % 1000)))"
if ! it_alive "$imp"; then
  it_log "warning: the import finished within ${kill_after_ms} ms, before the kill"
fi
kill9_lufd
pass "killed lufd -9 ${kill_after_ms} ms into the import"
set +e
wait "$imp"
irc=$?
set -e
it_log "interrupted import exited $irc"

start_lufd "$url"
c="$(count_tns)"
[[ "$c" == 0 || "$c" == "$N" ]] || fail "after kill -9: $c TNs, expected 0 or $N"
pass "after kill -9 and restart: $c TNs (all or nothing)"
run_ctl peer-ssp1 lookup +12025556666
expect_ok "scenario intact after the crash"

# The import completes without a crash.
set +e
out="$(ctl registrar-ssp2 import "$csv" 2>&1)"
rc=$?
set -e
expect_ok "re-import of $N TNs"
c="$(count_tns)"
[[ "$c" == "$N" ]] || fail "after the import: $c TNs, expected $N"
pass "all $N TNs present"
run_ctl peer-ssp1 lookup +13035123456
expect_ok "an imported TN is served"
expect_contains "ssp2.example.com" "imported TN carries dg-ssp2's SED"

# And they survive a clean restart.
stop_lufd
start_lufd "$url"
[[ "$(count_tns)" == "$N" ]] || fail "TNs lost across restart"
pass "all $N TNs present after a restart"

it_done
