#!/usr/bin/env bash
# SIGHUP reload on a real lufd (server/ops/reload.h):
#   1. log.level info -> debug and guard.peer.lookups_per_second/burst
#      10000/20000 -> 1/2 in the file, plus grpc.max_threads (restart-only):
#      after SIGHUP the per-RPC debug lines appear, peer SSP1 (no Quota of
#      its own, so the class default) is refused RESOURCE_EXHAUSTED after its
#      burst, and max_threads is logged "not applied, restart needed";
#   2. a config that does not validate: rejected whole (logged), lufd keeps
#      serving with the config in force (SSP1 still limited);
#   3. the original file again: SSP1 is answered again, debug lines stop.
IT_NAME="reload"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

LUFD_CONFIG_TAIL='guard:
  peer:
    lookups_per_second: 10000
    burst: 20000'
store_url sqlite
start_lufd "$url"
provision_rfc7878 provision
provision_rfc7878 accept
TN=+12025556666
CONF="$T/lufd.yaml"
cp "$CONF" "$T/lufd.yaml.orig"

# reload_and_wait N: sends SIGHUP and waits (bounded) until the log has N
# "SIGHUP: reloading" lines each followed by its outcome.
reloads=0
reload_and_wait() {
  local i
  reloads=$((reloads + 1))
  kill -HUP "$LUFD_PID"
  for ((i = 0; i < 100; i++)); do  # 10 s
    local n
    n=$(grep -c "reload done\|reload rejected" "$T/lufd.log" || true)
    ((n >= reloads)) && return 0
    it_alive "$LUFD_PID" || fail "lufd exited on SIGHUP"
    sleep 0.1
  done
  fail "reload $reloads: no outcome logged within 10 s"
}

# lookups WHO N: N lookups; sets $ok and $denied.
lookups() {
  local who="$1" n="$2" i
  ok=0
  denied=0
  for ((i = 0; i < n; i++)); do
    run_ctl "$who" lookup "$TN"
    if ((rc == 0)); then
      ((ok += 1))
    elif grep -q "RESOURCE_EXHAUSTED\|rate limit" <<<"$out"; then
      ((denied += 1))
    else
      echo "$out" >&2
      fail "$who lookup $i failed otherwise (exit $rc)"
    fi
  done
}

lookups peer-ssp1 6
((denied == 0)) || fail "ssp1 refused before the reload ($denied of 6)"
grep -q "rpc Lookup caller=" "$T/lufd.log" &&
  fail "debug lines at level info"
pass "before: ssp1 not limited, no debug lines"

# 1. Live changes and one restart-only change.
sed -e 's/level: "info"/level: "debug"/' \
  -e 's/lookups_per_second: 10000/lookups_per_second: 1/' \
  -e 's/burst: 20000/burst: 2/' \
  -e 's/^  listen: \(.*\)$/  listen: \1\n  max_threads: 100/' \
  "$T/lufd.yaml.orig" >"$CONF"
reload_and_wait
for line in \
  'reload: log.level: "info" -> "debug": applied' \
  'reload: guard.peer.lookups_per_second: 10000 -> 1: applied' \
  'reload: guard.peer.burst: 20000 -> 2: applied' \
  'reload: grpc.max_threads: 256 -> 100: not applied, restart needed'; do
  grep -qF "$line" "$T/lufd.log" || fail "log lacks: $line"
done
pass "reload logged field by field (applied / not applied)"

lookups peer-ssp1 8
it_log "after reload: ssp1 $ok answered, $denied refused"
((denied >= 1)) || fail "the new guard.peer limit was not applied ($ok answered)"
grep -q "rpc Lookup caller=" "$T/lufd.log" ||
  fail "no debug lines after log.level debug"
pass "guard limit and log level applied live"

# 2. An invalid file: rejected, the running config stays.
printf 'grpc:\n  listen: "127.0.0.1:0"\n  no_such_field: 1\n' >"$CONF"
reload_and_wait
grep -q "reload rejected, the running configuration stays" "$T/lufd.log" ||
  fail "invalid config not reported"
grep -q "no_such_field" "$T/lufd.log" || fail "the error does not name the field"
run_ctl admin health
expect_ok "lufd serves after a rejected reload"
lookups peer-ssp1 6
((denied >= 1)) || fail "the limit in force was lost with the rejected file"
pass "bad config rejected whole, lufd keeps serving with the old one"

# 3. The original file: limits and level back.
cp "$T/lufd.yaml.orig" "$CONF"
reload_and_wait
grep -qF 'reload: guard.peer.lookups_per_second: 1 -> 10000: applied' \
  "$T/lufd.log" || fail "limit not restored"
sleep 1  # SSP1's bucket refills (at 10000/s now).
lookups peer-ssp1 6
((denied == 0)) || fail "ssp1 still refused after the limit was restored"
before=$(grep -c "rpc Lookup caller=" "$T/lufd.log")
lookups peer-ssp1 2
after=$(grep -c "rpc Lookup caller=" "$T/lufd.log")
((after == before)) || fail "debug lines still written at level info"
pass "original config restored live"

it_done
