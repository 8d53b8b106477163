#!/usr/bin/env bash
# Readiness (store.max_view_lag, server/app/readiness.h) against a real
# PostgreSQL that stops answering: a lufd with max_view_lag 1s on a private
# cluster; then every process of the cluster is stopped with SIGSTOP (the
# server hangs: connections stay open, nothing answers, the follower's read
# never returns).
#   - `lufctl health` exits non-zero (NOT_SERVING) within a few seconds, for
#     "" and for each service name, and /metrics says lufd_ready 0 with a
#     growing lufd_view_lag_seconds;
#   - lookups still answer from the last view meanwhile (readiness refuses
#     nothing);
#   - after SIGCONT, health is SERVING again (exit 0), a change committed
#     before the stop is visible, and the log has both transitions.
IT_NAME=health_lag
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools curl

_STOPPED_PG=()
# Resume whatever we stopped, whatever happens (the cluster must be able to
# stop at cleanup).
pg_resume() {
  local pid
  for pid in "${_STOPPED_PG[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
  _STOPPED_PG=()
}
trap 'rc=$?; pg_resume; (exit $rc); it_cleanup' EXIT

store_url postgres
LUFD_CONFIG_TAIL="$(printf 'metrics:\n  listen: "127.0.0.1:0"\n')"
# store.max_view_lag belongs in the store: section write_config writes (a
# second store: key in the tail would be a YAML error): add it there.
eval "_lib_write_config() $(declare -f write_config | tail -n +2)"
write_config() {
  _lib_write_config "$@"
  sed -i 's/^  migrate_on_start: true$/  migrate_on_start: true\n  max_view_lag: "1s"/' "$1"
  grep -q 'max_view_lag: "1s"' "$1" || fail "could not set store.max_view_lag"
}
start_lufd "$url"
run_ctl admin health
expect_ok "lufd with max_view_lag 1s is SERVING"
MPORT="$(sed -n 's/.*metrics: serving http:.* (port \([0-9]*\)).*/\1/p' "$T/lufd.log" | tail -n 1)"
[[ "$MPORT" =~ ^[0-9]+$ ]] || fail "no metrics port in the log"
metric() {
  curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
    awk -v k="$1" '$1 == k { print $2; exit }'
}
[[ "$(metric lufd_ready)" == 1 ]] || fail "lufd_ready is not 1 at start"
# On a primary the replication lag gauge (PostgreSQL only; the follower
# asks about once a second) is there and 0.
for ((i = 0; i < 50; i++)); do
  rlag="$(metric lufd_replication_lag_seconds)"
  [[ -n "$rlag" ]] && break
  sleep 0.1
done
[[ "$rlag" == 0 ]] || fail "lufd_replication_lag_seconds is '$rlag' on a primary, want 0"

provision_rfc7878
run_ctl peer-ssp1 lookup +12025556666
expect_ok "lookup before the stop"

serial_before="$(metric lufd_view_serial)"

# --- stop every process of the cluster ------------------------------------------
postmaster="$(head -n 1 "$T/pg/data/postmaster.pid")"
[[ "$postmaster" =~ ^[0-9]+$ ]] || fail "no postmaster pid"
mapfile -t children < <(pgrep -P "$postmaster" || true)
((${#children[@]} > 0)) || fail "the postmaster has no child processes"
_STOPPED_PG=("$postmaster" "${children[@]}")
kill -STOP "${_STOPPED_PG[@]}"
stopped_at=$SECONDS
it_log "SIGSTOPped PostgreSQL: ${_STOPPED_PG[*]}"

# NOT_SERVING within max_view_lag + the monitor's period (+ slack).
for ((i = 0; i < 100; i++)); do
  run_ctl admin health
  ((rc != 0)) && break
  sleep 0.1
done
((rc != 0)) || fail "lufctl health still exits 0 after 10 s with the database stopped"
it_log "health: exit $rc after $((SECONDS - stopped_at)) s: $out"
grep -q "NOT_SERVING" <<<"$out" || { echo "$out" >&2; fail "lufctl health does not say NOT_SERVING"; }
for service in lufd.v1.LookupService lufd.v1.AdminService; do
  run_ctl admin health --service "$service"
  ((rc != 0)) || fail "health --service $service exits 0 while the view lags"
done
pass "lufctl health exits non-zero (\"\" and per service) while PostgreSQL hangs"
[[ "$(metric lufd_ready)" == 0 ]] || fail "lufd_ready is not 0 while not ready"
lag="$(metric lufd_view_lag_seconds)"
awk -v l="$lag" 'BEGIN { exit !(l > 1) }' || fail "lufd_view_lag_seconds $lag, want > 1"
pass "lufd_ready 0, lufd_view_lag_seconds $lag"
grep -q "health: NOT_SERVING: " "$T/lufd.log" || fail "no 'health: NOT_SERVING' log line"

# Lookups are answered from the last view meanwhile.
run_ctl peer-ssp1 lookup +12025556666
expect_ok "lookup while not ready"

# --- resume ------------------------------------------------------------------------
pg_resume
for ((i = 0; i < 150; i++)); do  # 15 s: the follower's backoff is <= 5 s
  run_ctl admin health
  ((rc == 0)) && break
  sleep 0.1
done
expect_ok "lufctl health exits 0 again after SIGCONT"
run_ctl admin health --service lufd.v1.LookupService
expect_ok "LookupService SERVING again"
[[ "$(metric lufd_ready)" == 1 ]] || fail "lufd_ready is not 1 after the resume"
grep -q "health: SERVING again" "$T/lufd.log" || fail "no 'health: SERVING again' log line"
# The follower reads again: a new change reaches the view.
run_ctl admin org add iana-en:999 --name "After" --role peer
expect_ok "a write after the resume"
for ((i = 0; i < 50; i++)); do
  s="$(metric lufd_view_serial)"
  ((s > serial_before)) && break
  sleep 0.1
done
((s > serial_before)) || fail "lufd_view_serial did not move after the resume ($s)"
pass "SERVING again; the view follows (serial $serial_before -> $s)"

it_done
