#!/usr/bin/env bash
# Idle streams cannot take lufd's threads (issue 10): one peer opens 1,000
# BatchLookup streams, answers one query on each and then idles.
#   - LookupService is on gRPC's callback API: an idle stream holds no
#     thread. lufd's thread count (/proc/PID/status Threads:) while the
#     streams are held must stay under grpc.max_threads (16 here, the cap on
#     the synchronous AdminService/health/reflection pool) + 40 (lufd's own
#     threads and gRPC's pollers and executors: about 20 at rest).
#     Main's synchronous LookupService took a thread per stream (300 idle
#     streams: 19 -> 318 threads).
#   - grpc.max_calls_per_identity (900 here): the peer's streams beyond it
#     end at once with RESOURCE_EXHAUSTED; so does its next Lookup. Another
#     peer's Lookup is served meanwhile.
#   - Once the streams go, the peer is served again.
IT_NAME=grpc_threads
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
[[ -n "${IDLE_STREAMS_BIN:-}" && -x "${IDLE_STREAMS_BIN}" ]] || {
  echo "SKIP: IDLE_STREAMS_BIN not built (${IDLE_STREAMS_BIN:-unset})" >&2
  exit 77
}

MAX_THREADS=16
OVERHEAD=40
BOUND=$((MAX_THREADS + OVERHEAD))
STREAMS=1000
CAP=900
LUFD_CONFIG_TAIL="audit:
  denials_flush_interval: \"200ms\""
start_lufd "sqlite:$T/registry.db" "  max_threads: $MAX_THREADS
  max_calls_per_identity: $CAP
  max_concurrent_streams: 100
  max_deadline: \"120s\""
"$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
  --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" \
  >"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "provisioning failed"; }
TN=+12025556666

threads() { awk '/^Threads:/ {print $2}' "/proc/$LUFD_PID/status"; }
before="$(threads)"
it_log "lufd threads before: $before"

# The streams are held until we close the fifo (idle_streams' stdin).
mkfifo "$T/hold"
"$IDLE_STREAMS_BIN" --target "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
  --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" --query "$TN" \
  --streams "$STREAMS" --channels 20 --settle_s 60 --hold_s 100 \
  --hold_stdin <"$T/hold" >"$T/idle.out" 2>"$T/idle.err" &
IDLE_PID=$!
_IT_PIDS+=("$IDLE_PID")
exec 9>"$T/hold"

for ((i = 0; i < 700; i++)); do  # 70 s
  grep -q '^SETTLED' "$T/idle.out" && break
  it_alive "$IDLE_PID" || break
  sleep 0.1
done
settled="$(grep '^SETTLED' "$T/idle.out" || true)"
[[ -n "$settled" ]] || { cat "$T/idle.err" >&2; fail "idle_streams did not settle"; }
it_log "$settled"

# Held: sample the thread count for a while (the maximum counts).
max=0
for ((i = 0; i < 20; i++)); do
  n="$(threads)"
  ((n > max)) && max=$n
  sleep 0.1
done
it_log "lufd threads with $STREAMS idle streams: max $max (before $before, bound $BOUND)"
((max <= BOUND)) || fail "lufd has $max threads with $STREAMS idle streams (bound $BOUND)"
pass "threads bounded: $max <= $BOUND"

# The cap: exactly CAP open, the rest RESOURCE_EXHAUSTED.
[[ "$settled" == *" open=$CAP "* || "$settled" == *" open=$CAP" ]] ||
  fail "expected $CAP open streams: $settled"
[[ "$settled" == *"RESOURCE_EXHAUSTED=$((STREAMS - CAP))"* ]] ||
  fail "expected $((STREAMS - CAP)) RESOURCE_EXHAUSTED streams: $settled"
pass "per-identity cap: $CAP open, $((STREAMS - CAP)) RESOURCE_EXHAUSTED"

run_ctl peer-ssp1 lookup "$TN"
expect_fail_with 'RESOURCE_EXHAUSTED|too many calls in progress' \
  "peer-ssp1 at its cap: Lookup refused"
grep -q 'too many calls in progress' <<<"$out" ||
  fail "refusal does not say why: $out"
run_ctl peer-ssp2 lookup "$TN"
expect_ok "another peer (peer-ssp2) is served meanwhile"
# The refusals are in the denial audit (flushed every 200 ms here).
for ((i = 0; i < 50; i++)); do  # 5 s
  run_ctl admin audit --denied
  ((rc == 0)) && grep -q 'too many calls in progress' <<<"$out" && break
  sleep 0.1
done
expect_contains 'too many calls in progress' "refusals in the denial audit"

# Release the streams: the peer is served again, threads go back.
exec 9>&-
wait "$IDLE_PID" || fail "idle_streams failed"
it_log "$(grep '^HELD' "$T/idle.out")"
for ((i = 0; i < 100; i++)); do  # 10 s
  run_ctl peer-ssp1 lookup "$TN"
  ((rc == 0)) && break
  sleep 0.1
done
expect_ok "peer-ssp1 served again after its streams ended"
it_log "lufd threads after: $(threads)"
it_done
