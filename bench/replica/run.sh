#!/usr/bin/env bash
# bench/replica/run.sh: the replicated topology of issue 11, measured.
#
#   PostgreSQL primary P + a streaming hot standby S (pg_basebackup -R -X
#   stream, tests/support/pg-harness.sh); lufd A on P, lufd B on S with
#   store.primary_url = P. Both serve gRPC and signed DNS for e164.arpa.
#
#   1. Propagation: BENCH_REPLICA_CHANGES (1000) TNs Put through A, one after
#      another; for each, the time until A and B answer it over gRPC and over
#      DNS with its RRSIG (bench/replica/propagation.cc). Targets: p99 <=
#      500 ms, p50 <= 100 ms over every replica.
#   2. Scale-out: closed-loop gRPC lookups/s (lookup_load) against A alone,
#      then against A and B at once (two generators), same client settings.
#   3. Failover: a lookup stream on B (gRPC, open loop, and DNS) runs while P
#      is killed (SIGKILL) and S promoted (pg_ctl promote, as an operator's
#      automation would); measures the time from the kill to the first
#      successful write on B, and the lookups that failed meanwhile.
#
# Results: KEY=VALUE lines in $BENCH_WORK/results.env and a copy in
# bench/replica/results-<date>.env. Every process is ours, stopped by PID;
# every wait is bounded. Knobs: BENCH_REPLICA_CHANGES, BENCH_REPLICA_SECS
# (scale-out seconds per run, 10), BENCH_REPLICA_NUMBERS (10000).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
BENCH_WORK="${BENCH_WORK:-/tmp/lufd-bench}/replica"
RESULTS_ENV="$BENCH_WORK/results.env"
mkdir -p "$BENCH_WORK"
: >"$RESULTS_ENV"
BENCH_COUNT="${BENCH_REPLICA_NUMBERS:-10000}"
bench_init
ensure_csv
PROP_BIN="$(find_bin propagation)"
changes="${BENCH_REPLICA_CHANGES:-1000}"
secs="${BENCH_REPLICA_SECS:-10}"
keys_mode="${BENCH_REPLICA_KEYS:-own}"
scheme=ksk-zsk
[[ "$keys_mode" == copy ]] && scheme=csk
command -v dnsperf >/dev/null || bdie "dnsperf missing (apt-get install dnsperf)"

free_udp_tcp_port() {
  python3 - <<'PY'
import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); s.close()
PY
}

# replica_yaml NAME STORE_URL PRIMARY_URL DNS_PORT KEY_DIR: a lufd config.
# The guard is off here: the probe's polling for numbers that do not exist
# yet is exactly what the guard's miss budgets punish, and this bench
# measures replication, not the guard.
replica_yaml() {
  local name="$1" url="$2" primary="$3" dport="$4" keydir="$5"
  cat >"$BENCH_WORK/$name.yaml" <<EOF
$(bench_grpc_yaml)
store:
  url: "$url"
  primary_url: "$primary"
  migrate_on_start: false
log:
  level: "warn"
guard:
  enabled: false
dns:
  listen:
    - "127.0.0.1:$dport"
  workers: 1
  zones:
    - name: "e164.arpa."
  dnssec:
    enabled: true
    key_dir: "$keydir"
    auto_generate: true
    scheme: "$scheme"
    publish_safety: "2s"
    retire_safety: "2s"
EOF
}

# 0. Topology.
source "$SOURCE_DIR/tests/support/pg-harness.sh"
_BENCH_PG_DIRS+=("$BENCH_WORK/pg-primary" "$BENCH_WORK/pg-standby")
rm -rf "$BENCH_WORK/pg-primary" "$BENCH_WORK/pg-standby" "$BENCH_WORK"/keys-*
# A primary as in production: fsync on, synchronous_commit on (the tests'
# harness turns both off; with synchronous_commit=off a commit would reach the
# standby only at the WAL writer's next flush, up to 200 ms later).
P_URL="$(PG_EXTRA_OPTS="-c fsync=on -c synchronous_commit=on" \
  pg_start "$BENCH_WORK/pg-primary")" || bdie "primary did not start"
db_init "$P_URL"
S_URL="$(pg_start_standby "$BENCH_WORK/pg-primary" "$BENCH_WORK/pg-standby")" ||
  bdie "standby did not start"
blog "primary $P_URL, standby $S_URL"

mkdir -m 700 -p "$BENCH_WORK/keys-a" "$BENCH_WORK/keys-b"
DNS_A="$(free_udp_tcp_port)"
replica_yaml lufd-a "$P_URL" "" "$DNS_A" "$BENCH_WORK/keys-a"
launch_lufd lufd-a "$BENCH_WORK/lufd-a.yaml" "$BENCH_WORK/lufd-a.port" \
  "$BENCH_WORK/lufd-a.log"
PID_A="$LUFD_PID"; PORT_A="$LUFD_PORT"
wait_healthy || bdie "lufd A not healthy"
provision
_p sedgroup add --id sg-public --registrant iana-en:222 --dg dg-bench \
  --record rec-bench --public --in-service
blog "importing $BENCH_COUNT numbers through A"
ctl admin import "$CSV" >>"$BENCH_WORK/provision.log" 2>&1 || bdie "import failed"

for ((i = 0; i < 300; i++)); do
  compgen -G "$BENCH_WORK/keys-a/K*.pem" >/dev/null && break
  sleep 0.1
done
compgen -G "$BENCH_WORK/keys-a/K*.pem" >/dev/null || bdie "no keys in A's key_dir"
# BENCH_REPLICA_KEYS=own (default): the multi-signer model, B creates its
# own ZSK (forwarded to the primary) in an empty key_dir and A, holding the
# KSK, signs the DNSKEY RRset; =copy: one CSK, copied to B (0600).
if [[ "$keys_mode" == copy ]]; then
  cp -p "$BENCH_WORK"/keys-a/K*.pem "$BENCH_WORK/keys-b/"
fi
DNS_B="$(free_udp_tcp_port)"
replica_yaml lufd-b "$S_URL" "$P_URL" "$DNS_B" "$BENCH_WORK/keys-b"
launch_lufd lufd-b "$BENCH_WORK/lufd-b.yaml" "$BENCH_WORK/lufd-b.port" \
  "$BENCH_WORK/lufd-b.log"
PID_B="$LUFD_PID"; PORT_B="$LUFD_PORT"
LUFD_PORT="$PORT_B" wait_healthy || bdie "lufd B not healthy"
LUFD_PORT="$PORT_A"
first="$(head -n 1 "$NUMS")"
LUFD_PORT="$PORT_B" wait_lookup_ok "$first" 120 >/dev/null ||
  bdie "B never answered $first"
if [[ "$keys_mode" == own ]]; then
  # B's own ZSK must be ACTIVE (publish_safety after B published it) before
  # B's online answers validate.
  n=0
  for ((i = 0; i < 300; i++)); do
    n="$(ctl admin --output json key list --zone e164.arpa. 2>/dev/null |
      jq '[.[] | (.dnsKey // .) | select(.state == "DNS_KEY_STATE_ACTIVE")] | length' 2>/dev/null || echo 0)"
    ((n >= 3)) && break
    sleep 0.1
  done
  ((n >= 3)) || bdie "B's own ZSK did not become ACTIVE: $(ctl admin --output json key list --zone e164.arpa. 2>&1)"
  compgen -G "$BENCH_WORK/keys-b/K*.pem" >/dev/null || bdie "B holds no key of its own"
fi
record replica_keys "$keys_mode"

record replica_pg_primary "$P_URL"
record replica_pg_standby "$S_URL"
record replica_commit "$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"

# 1. Propagation.
blog "propagation: $changes changes through A, read on A and B (gRPC + DNS)"
"$PROP_BIN" --writer "127.0.0.1:$PORT_A" \
  --grpc "127.0.0.1:$PORT_A,127.0.0.1:$PORT_B" \
  --dns "127.0.0.1:$DNS_A,127.0.0.1:$DNS_B" \
  --ca "$PKI/ca.pem" --admin_cert "$PKI/admin.pem" --admin_key "$PKI/admin.key" \
  --peer_cert "$PKI/peer-ssp1.pem" --peer_key "$PKI/peer-ssp1.key" \
  --count "$changes" --prefix +1202888 >"$BENCH_WORK/propagation.out" 2>&1 || true
cat "$BENCH_WORK/propagation.out" >&2
while read -r line; do
  [[ "$line" == RESULT* ]] || continue
  t="$(rfield "$line" target | tr ':.' '__')"
  for k in n p50_ms p99_ms max_ms failed; do
    record "prop_${t}_$k" "$(rfield "$line" "$k")"
  done
done <"$BENCH_WORK/propagation.out"

# 2. Scale-out.
channels=8; conc=64
scale_run() {  # PORT PID LOG -> RESULT line
  local PORT="$1"
  run_lookup_load "$3" "$2" --numbers "$NUMS" --expect_found
}
blog "scale-out: A alone, $secs s"
r1="$(scale_run "$PORT_A" "$PID_A" "$BENCH_WORK/scale1.log")"
record scale_1_rps "$(rfield "$r1" rps)"
record scale_1_p99_us "$(rfield "$r1" p99_us)"
blog "scale-out: A and B at once, $secs s"
scale_run "$PORT_A" "$PID_A" "$BENCH_WORK/scale2a.log" >"$BENCH_WORK/scale2a.res" &
ga=$!
scale_run "$PORT_B" "$PID_B" "$BENCH_WORK/scale2b.log" >"$BENCH_WORK/scale2b.res" &
gb=$!
wait "$ga" "$gb" || true
ra="$(cat "$BENCH_WORK/scale2a.res")"; rb="$(cat "$BENCH_WORK/scale2b.res")"
record scale_2_rps_a "$(rfield "$ra" rps)"
record scale_2_rps_b "$(rfield "$rb" rps)"
record scale_2_rps "$(awk -v a="$(rfield "$ra" rps)" -v b="$(rfield "$rb" rps)" 'BEGIN{printf "%.0f", a+b}')"
record scale_cores "$(nproc)"

# 3. Failover: lookups on B throughout; kill P, promote S, write on B.
blog "failover: lookups on B, kill the primary, promote the standby"
fo_secs=20
"$LOAD_BIN" --target "127.0.0.1:$PORT_B" --ca "$PKI/ca.pem" \
  --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" --channels 2 \
  --concurrency 8 --rate 500 --duration_s "$fo_secs" --warmup_s 0 \
  --numbers "$NUMS" --expect_found >"$BENCH_WORK/failover-grpc.log" 2>&1 &
lg=$!
awk 'NR <= 1000 {
  n = $1; gsub(/[^0-9]/, "", n); d = ""
  for (i = length(n); i >= 1; i--) d = d substr(n, i, 1) "."
  print d "e164.arpa. NAPTR" }' "$NUMS" >"$BENCH_WORK/failover-q.txt"
dnsperf -s 127.0.0.1 -p "$DNS_B" -d "$BENCH_WORK/failover-q.txt" -D -l "$fo_secs" \
  -Q 500 -t 2 >"$BENCH_WORK/failover-dns.log" 2>&1 &
ld=$!
sleep 3
t_kill="$(now_s)"
pg_kill "$BENCH_WORK/pg-primary"
pg_promote "$BENCH_WORK/pg-standby" || blog "pg_ctl promote failed"
t_promoted="$(now_s)"
LUFD_PORT="$PORT_B"
t_write=""
for ((i = 0; i < 600; i++)); do  # <= 60 s
  if ctl admin number add "+12028889$(printf %03d "$i")" --registrant iana-en:222 \
      --dg dg-bench >>"$BENCH_WORK/failover-write.log" 2>&1; then
    t_write="$(now_s)"
    break
  fi
  sleep 0.1
done
wait "$lg" || true
wait "$ld" || true
record failover_promote_s "$(elapsed "$t_kill" "$t_promoted")"
record failover_first_write_s "$([[ -n "$t_write" ]] && elapsed "$t_kill" "$t_write" || echo FAILED)"
record failover_write_after_promote_s "$([[ -n "$t_write" ]] && elapsed "$t_promoted" "$t_write" || echo FAILED)"
rg="$(grep '^RESULT' "$BENCH_WORK/failover-grpc.log" || true)"
record failover_grpc_lookups "$(rfield "$rg" ok)"
record failover_grpc_errors "$(rfield "$rg" errors)"
record failover_grpc_rps "$(rfield "$rg" rps)"
record failover_dns_sent "$(awk '/Queries sent:/{print $3}' "$BENCH_WORK/failover-dns.log")"
record failover_dns_lost "$(awk '/Queries lost:/{print $3}' "$BENCH_WORK/failover-dns.log")"
record failover_dns_rcodes "\"$(sed -n 's/.*Response codes: *//p' "$BENCH_WORK/failover-dns.log")\""

out="$SOURCE_DIR/bench/replica/results-$(date -u +%F).env"
cp "$RESULTS_ENV" "$out"
blog "results in $out"
