#!/usr/bin/env bash
# Crash consistency of a bulk import (the batch is one database transaction
# with its change-log entries):
#   1. import set A (200k TNs) cleanly and time it (D ms); all are served;
#   2. import the disjoint set B (200k) and kill -9 lufd at a random moment
#      between D/2 and 1.1*D, i.e. while the stream is ending or the commit
#      is running; restart: B holds 0 or 200k TNs, never a part, and A is
#      intact;
#   3. import B again without a crash; both sets survive a clean restart;
#   4. import set C in batches of 20k and kill -9 lufd half-way: what lufctl
#      says was committed ("committed K of N", "unconfirmed: objects K+1-U")
#      is what the restarted registry holds (K <= count <= U, whole batches,
#      U - K at most two batches).
# Steps 1-3 use --batch-size 0 (the whole file is one atomic batch).
# Usage: crash_import.sh [sqlite|postgres] [COUNT]
IT_NAME="crash_import-${1:-sqlite}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

N="${2:-200000}"
store_url "${1:-sqlite}"
start_lufd "$url"
provision_rfc7878

# +1303 5xx xxxx (set A) and +1303 6xx xxxx (set B): outside every scenario
# identifier.
make_csv() {  # FILE DIGIT
  {
    echo "tn,registrant,dest_groups"
    seq -f "+1303$2%06g,iana-en:222,dg-ssp2" 0 $((N - 1))
  } >"$1"
}
make_csv "$T/a.csv" 5
make_csv "$T/b.csv" 6
make_csv "$T/c.csv" 7
pass "wrote 3 x $N TNs"

# wait_view: until the served view has the store's latest serial (60 s max).
# Import returns once committed; read-your-writes waits only a bounded time
# for the view, and applying 200k changes can take longer than that (seen on
# PostgreSQL: ~5 s), while export reads the view.
wait_view() {
  local i o
  for ((i = 0; i < 120; i++)); do
    o="$(ctl admin --output json info 2>&1)" || fail "info failed: $o"
    if [[ "$(jq -r '.serial // "0"' <<<"$o")" == "$(jq -r '.storeSerial // "0"' <<<"$o")" ]]; then
      return 0
    fi
    sleep 0.5
  done
  fail "view did not reach the store serial within 60 s: $o"
}

# export_counts: one export; sets A_COUNT and B_COUNT (TNs of each set).
export_counts() {
  local f="$T/export.csv"
  wait_view
  ctl admin export --format csv >"$f" 2>"$T/export.err" ||
    { cat "$T/export.err" >&2; fail "export failed"; }
  A_COUNT="$(grep -c '^"\{0,1\}+13035' "$f" || true)"
  B_COUNT="$(grep -c '^"\{0,1\}+13036' "$f" || true)"
  C_COUNT="$(grep -c '^"\{0,1\}+13037' "$f" || true)"
}

import_as_ssp2() {  # FILE LOG [BATCH]: lufctl import as SSP2's registrar
  timeout 600 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/registrar-ssp2.pem" --key "$PKI/registrar-ssp2.key" \
    import "$1" --batch-size "${3:-0}" >"$2" 2>&1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. Clean import of A, timed.
t0="$(now_ms)"
import_as_ssp2 "$T/a.csv" "$T/import-a.log" || { cat "$T/import-a.log" >&2; fail "import of set A failed"; }
d_ms=$(($(now_ms) - t0))
pass "imported set A ($N TNs) in $d_ms ms"
export_counts
[[ "$A_COUNT" == "$N" ]] || fail "set A has $A_COUNT TNs after its import"
run_ctl peer-ssp1 lookup "+13035$(printf '%06d' $((N / 2)))"
expect_ok "an imported TN is served"
expect_contains "ssp2.example.com" "imported TN carries dg-ssp2's SED"

# 2. Import B and kill lufd -9 in the window where it commits.
# KILL_AFTER_MS overrides the random moment.
kill_after_ms="${KILL_AFTER_MS:-$((d_ms / 2 + (RANDOM * 32768 + RANDOM) % (d_ms * 6 / 10 + 1)))}"
set +e
import_as_ssp2 "$T/b.csv" "$T/import-b.log" &
imp=$!
set -e
_IT_PIDS+=("$imp")
sleep "$((kill_after_ms / 1000)).$(printf '%03d' $((kill_after_ms % 1000)))"
finished=0
it_alive "$imp" || finished=1
kill9_lufd
pass "killed lufd -9 ${kill_after_ms} ms into the import of set B (clean import took $d_ms ms)"
set +e
wait "$imp"
irc=$?
set -e
it_log "interrupted import exited $irc (finished before the kill: $finished)"

start_lufd "$url"
export_counts
c="$B_COUNT"
[[ "$c" == 0 || "$c" == "$N" ]] || fail "after kill -9: set B has $c TNs, expected 0 or $N"
pass "after kill -9 and restart: set B has $c TNs (all or nothing)"
if ((irc == 0)) && [[ "$c" != "$N" ]]; then
  fail "lufctl reported the import of B as done, but it was lost"
fi
[[ "$A_COUNT" == "$N" ]] || fail "set A damaged by the crash: $A_COUNT TNs"
pass "set A intact after the crash"
run_ctl peer-ssp1 lookup +12025556666
expect_ok "scenario intact after the crash"

# 3. B again, without a crash; everything survives a clean restart.
import_as_ssp2 "$T/b.csv" "$T/import-b2.log" || { cat "$T/import-b2.log" >&2; fail "re-import of set B failed"; }
export_counts
[[ "$B_COUNT" == "$N" ]] || fail "set B has $B_COUNT TNs after the re-import"
pass "re-import of set B complete"
stop_lufd
start_lufd "$url"
export_counts
[[ "$A_COUNT" == "$N" && "$B_COUNT" == "$N" ]] ||
  fail "TNs lost across a clean restart: A $A_COUNT, B $B_COUNT"
pass "both sets ($N + $N TNs) present after a restart"

# 4. C in batches, lufd killed half-way: lufctl's report must be the truth.
B=20000
t0="$(now_ms)"
set +e
import_as_ssp2 "$T/c.csv" "$T/import-c.log" "$B" &
imp=$!
set -e
_IT_PIDS+=("$imp")
kill_after_ms="${KILL_AFTER_MS_C:-$((d_ms / 2))}"
sleep "$((kill_after_ms / 1000)).$(printf '%03d' $((kill_after_ms % 1000)))"
kill9_lufd
set +e
wait "$imp"
irc=$?
set -e
it_log "batched import killed after ${kill_after_ms} ms exited $irc: $(tr '\n' '|' <"$T/import-c.log" | tail -c 600)"
if ((irc == 0)); then
  k="$N"; u="$N"
elif grep -q "nothing was committed" "$T/import-c.log"; then
  k=0; u=0
else
  k="$(grep -o 'committed [0-9]* of' "$T/import-c.log" | head -n 1 | tr -dc 0-9)"
  [[ -n "$k" ]] || fail "interrupted batched import did not say what was committed"
  u="$k"
fi
if grep -q "unconfirmed: objects" "$T/import-c.log"; then
  u="$(grep -o 'unconfirmed: objects [0-9]*-[0-9]*' "$T/import-c.log" | sed 's/.*-//')"
fi
# lufctl keeps at most two batches unconfirmed in flight.
((u - k <= 2 * B)) || fail "lufctl left $k..$u in doubt: more than two batches"
start_lufd "$url"
export_counts
((C_COUNT >= k && C_COUNT <= u)) ||
  fail "lufctl said committed $k (unconfirmed up to $u), the registry has $C_COUNT"
((C_COUNT % B == 0 || C_COUNT == N)) || fail "set C has a partial batch: $C_COUNT"
pass "killed batched import: lufctl said committed $k (up to $u), registry has $C_COUNT"

it_done
