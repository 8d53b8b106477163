#!/usr/bin/env bash
# grpc_conn_flood.sh: a legitimate client against a gRPC door held by
# attackers (issue 10), default lufd config (max_connections 1000, per
# source 64, handshake 5 s): 2,000 idle TCP connections from 40 sources and
# 500 half-open TLS ones (an unfinished ClientHello) from 10 sources, then
# 100 sequential `lufctl health` calls from 127.0.0.1 (each a new process,
# TCP + mTLS handshake + RPC). Prints the attackers' view, lufd's
# descriptors and threads, the legitimate calls' success count and latency
# (p50/p99/max, including lufctl's process start), and lufd's stop line.
#
# Usage: LUFD_BIN=build/server/app/lufd LUFCTL_BIN=build/client/lufctl \
#          bench/grpc_conn_flood.sh
# Loopback only; uses tests/integration/lib.sh for the temp dir and PKI.
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"
it_init
start_lufd "sqlite:$T/registry.db"
HOLD="$SOURCE_DIR/tests/integration/hold_conns.py"
python3 $HOLD --port $LUFD_PORT --sources 127.0.5.1-40 --per-source 50 --status $T/idle.json --stop-file $T/stop --max-seconds 60 &
_IT_PIDS+=($!)
python3 $HOLD --port $LUFD_PORT --sources 127.0.6.1-10 --per-source 50 --partial-tls --status $T/tls.json --stop-file $T/stop --max-seconds 60 &
_IT_PIDS+=($!)
for f in idle tls; do for i in $(seq 300); do [[ -s $T/$f.json ]] && break; sleep 0.1; done; done
sleep 0.5
echo "idle: $(cut -c1-100 $T/idle.json)"; echo "tls: $(cut -c1-100 $T/tls.json)"
echo "lufd fds: $(ls /proc/$LUFD_PID/fd | wc -l), threads: $(ls /proc/$LUFD_PID/task | wc -l)"
ok=0; fail=0; lat=()
for i in $(seq 100); do
  t0=$(date +%s%N)
  if ctl admin health >/dev/null 2>&1; then ok=$((ok+1)); else fail=$((fail+1)); fi
  lat+=($((($(date +%s%N)-t0)/1000)))
done
printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END{printf "lufctl health (process start + TLS + RPC) us: p50 %d p99 %d max %d\n", a[int(NR*0.5)], a[int(NR*0.99)], a[NR]}'
echo "legit: ok $ok fail $fail"
touch $T/stop; sleep 0.5
stop_lufd
grep "acceptor stopped" $T/lufd.log
