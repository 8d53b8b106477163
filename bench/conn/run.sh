#!/usr/bin/env bash
# bench/conn/run.sh: issue 10's connection benchmark. One lufd (SQLite,
# BENCH_COUNT numbers, DNS + DoT with client certificates, the guard on at
# limits nobody reaches) is attacked by bench/conn/hold.py, which holds
# BENCH_CONN_IDLE (2000) idle TCP and BENCH_CONN_HALF_OPEN (500) half-open
# TLS connections (a ClientHello, then nothing) from BENCH_CONN_SOURCES (64)
# source addresses 127.0.200+.x, re-opening what lufd closes (up to 500/s):
#   grpc  against the gRPC port, while bench/lookup_load (peer-ssp1, two
#         connections opened before the attack) looks up at 500/s open loop,
#         and `lufctl admin health` opens a new connection 4 times a second;
#   dns   against DNS TCP (idle) and DoT (half-open), while probe.py opens
#         a new TCP connection for one query 50 times a second (anonymous,
#         127.0.199.1) and a new DoT connection with peer-ssp1's client
#         certificate 20 times a second (127.0.199.2).
# Each scenario first runs the same legitimate clients without the attack
# (baseline). recovery: a second lufd under prlimit --nofile=1024 whose
# descriptors 900 idle gRPC + 400 idle DNS TCP connections exhaust for 8 s;
# then the time to the first gRPC call and DNS TCP answer after release.
# Records answered shares, p99, lufd's thread count and CPU, and
# what the attacker kept open, to $BENCH_WORK/conn/results.env, and writes
# $BENCH_WORK/conn/RESULTS.md (render.sh). Targets (issue 10): legitimate
# clients >= 99.9 % answered during the attack.
#
#   ninja -C build -j2 lufd lufctl gen_numbers lookup_load
#   LUFD_BUILD=build bench/conn/run.sh
#
# Environment: LUFD_BUILD, BENCH_WORK (default /tmp/lufd-bench-conn),
# BENCH_COUNT (default 10000), BENCH_CONN_SECONDS (attack length, 20),
# BENCH_CONN_SCENARIOS ("grpc dns recovery"), BENCH_CONN_IDLE, BENCH_CONN_HALF_OPEN,
# BENCH_CONN_SOURCES. Loopback only; every process is ours, stopped by PID.
BENCH_WORK="${BENCH_WORK:-/tmp/lufd-bench-conn}"
BENCH_COUNT="${BENCH_COUNT:-10000}"
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bench_init
ensure_csv
C="$BENCH_WORK/conn"
LOGS="$C/logs"
rm -rf "$C"
mkdir -p "$LOGS" "$C/keys"
chmod 700 "$C/keys"
RESULTS_ENV="$C/results.env"
: >"$RESULTS_ENV"
SECONDS_ATTACK="${BENCH_CONN_SECONDS:-20}"
IDLE="${BENCH_CONN_IDLE:-2000}"
HALF="${BENCH_CONN_HALF_OPEN:-500}"
SOURCES="${BENCH_CONN_SOURCES:-64}"
# The clients share CPU 1: the legitimate ones run at a higher priority
# than the attacker (whose CPU, in the world, is not on lufd's machine), so
# that their latency is lufd's and not the attacker script's.
legit=(nice -n -10 "${pin_client[@]}")
attacker=(nice -n 5 "${pin_client[@]}")
HOLD="$SOURCE_DIR/bench/conn/hold.py"
PROBE="$SOURCE_DIR/bench/conn/probe.py"
for t in python3 kdig; do command -v "$t" >/dev/null || bdie "$t missing"; done

record run_started "$(date -u +%FT%TZ)"
record run_commit "$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
record load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
record numbers "$BENCH_COUNT"
record attack "$IDLE idle TCP + $HALF half-open TLS from $SOURCES addresses, ${SECONDS_ATTACK}s, re-opened up to 500/s"

DNS_PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
DOT_PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
cat >"$C/lufd.yaml" <<YAML
$(bench_grpc_yaml)
store:
  url: "sqlite:$C/registry.db"
  migrate_on_start: true
log:
  level: "info"
dns:
  listen: ["127.0.0.1:$DNS_PORT"]
  workers: 1
  dot:
    listen: "127.0.0.1:$DOT_PORT"
    client_cert: "optional"
    tls:
      cert_file: "$PKI/server.pem"
      key_file: "$PKI/server.key"
      client_ca_file: "$PKI/ca.pem"
  zones:
    - name: "e164.arpa."
  dnssec:
    key_dir: "$C/keys"
guard:
  enabled: true
  peer: { lookups_per_second: 100000000, burst: 100000000 }
  anonymous: { lookups_per_second: 100000000, burst: 100000000, signatures_per_second: 100000000, signing_burst: 100000000 }
YAML
timeout 300 "$LUFCTL_BIN" db migrate --store "sqlite:$C/registry.db" >/dev/null
timeout 60 "$LUFCTL_BIN" db bootstrap --store "sqlite:$C/registry.db" --org iana-en:0 \
  --name "Registry Admin" --cert-file "$PKI/admin.pem" >/dev/null
launch_lufd conn "$C/lufd.yaml" "$C/lufd.port" "$LOGS/lufd.log" "${pin_server[@]}"
wait_healthy || bdie "lufd not healthy"
provision
ctl admin import "$CSV" >"$LOGS/import.out" 2>&1 || bdie "import failed"
ctl peer-ssp1 lookup "$(head -n 1 "$NUMS")" >/dev/null 2>&1 ||
  wait_lookup_ok "$(head -n 1 "$NUMS")" 30 >/dev/null || bdie "no lookups"
record lufd_threads_idle "$(awk '/^Threads:/{print $2}' "/proc/$LUFD_PID/status")"

threads() { awk '/^Threads:/{print $2}' "/proc/$LUFD_PID/status" 2>/dev/null || echo 0; }
# sample_threads FILE SECONDS: lufd's thread count every 0.5 s.
sample_threads() {
  local f="$1" n=$(($2 * 2)) i
  for ((i = 0; i < n; i++)); do threads >>"$f"; sleep 0.5; done
}
max_of() { sort -n "$1" | tail -n 1; }

# grpc_legit TAG SECONDS: lookup_load at 500/s + lufctl health every 0.25 s.
grpc_legit() {
  local tag="$1" s="$2" ok=0 n=0 i
  "${legit[@]}" "$LOAD_BIN" --target "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" --numbers "$NUMS" \
    --rate 500 --channels 2 --concurrency 200 --duration_s "$s" --warmup_s 1 \
    --server_pid "$LUFD_PID" >"$LOGS/$tag-load.out" 2>&1 &
  local load_pid=$!
  _BENCH_PIDS+=("$load_pid")
  sleep 1
  for ((i = 0; i < (s - 2) * 4; i++)); do
    n=$((n + 1))
    timeout 5 "${legit[@]}" "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
      --cert "$PKI/admin.pem" --key "$PKI/admin.key" --timeout 4 health \
      >/dev/null 2>&1 && ok=$((ok + 1))
    sleep 0.25
  done
  wait "$load_pid" || true
  local lg
  lg="$(grep '^RESULT' "$LOGS/$tag-load.out" || echo RESULT)"
  record "${tag}_lookup_answered_pct" "$(awk -v o="$(rfield "$lg" ok)" -v e="$(rfield "$lg" errors)" -v k="$(rfield "$lg" skipped)" 'BEGIN{t=o+e+k; printf "%.2f", t ? 100*o/t : 0}')"
  record "${tag}_lookup_p99_us" "$(rfield "$lg" p99_us)"
  record "${tag}_lookup_errors" "$(rfield "$lg" error_codes)"
  record "${tag}_new_conn_ok" "$ok/$n"
}

# dns_legit TAG SECONDS: probe.py over TCP (50/s) and DoT with a client
# certificate (20/s), new connection per query.
dns_legit() {
  local tag="$1" s="$2"
  "${legit[@]}" python3 "$PROBE" --port "$DNS_PORT" --source 127.0.199.1 --rate 50 \
    --duration_s "$s" >"$LOGS/$tag-tcp.out" 2>&1 &
  local p1=$!
  "${legit[@]}" python3 "$PROBE" --port "$DOT_PORT" --source 127.0.199.2 --rate 20 \
    --duration_s "$s" --tls --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp1.pem" \
    --key "$PKI/peer-ssp1.key" >"$LOGS/$tag-dot.out" 2>&1 &
  local p2=$!
  _BENCH_PIDS+=("$p1" "$p2")
  wait "$p1" || true
  wait "$p2" || true
  local r k
  for k in tcp dot; do
    r="$(grep '^RESULT' "$LOGS/$tag-$k.out" || echo RESULT)"
    record "${tag}_${k}_answered_pct" "$(rfield "$r" answered_pct)"
    record "${tag}_${k}_p99_ms" "$(rfield "$r" p99_ms)"
  done
}

# attack TAG PORT TLS_PORT: hold.py for SECONDS_ATTACK + 4 s in the
# background; sets ATTACK_PID.
attack() {
  "${attacker[@]}" python3 "$HOLD" --port "$2" --tls_port "$3" --idle "$IDLE" \
    --half_open "$HALF" --sources "$SOURCES" --duration_s "$((SECONDS_ATTACK + 4))" \
    >"$LOGS/$1-hold.out" 2>&1 &
  ATTACK_PID=$!
  _BENCH_PIDS+=("$ATTACK_PID")
}
attack_done() {  # TAG
  wait "$ATTACK_PID" || true
  local r
  r="$(grep '^RESULT' "$LOGS/$1-hold.out" || echo RESULT)"
  record "${1}_attacker_opened" "$(rfield "$r" opened)"
  record "${1}_attacker_closed_by_server" "$(rfield "$r" closed_by_server)"
  record "${1}_attacker_min_open_from_s2" "$(rfield "$r" min_open_from_s2)"
  record "${1}_attacker_open_at_end" "$(rfield "$r" open_at_end)"
}

# baseline_then_attack NAME LEGIT_FN PORT TLS_PORT: LEGIT_FN NAME_base for
# 10 s, then the attack on PORT (idle) and TLS_PORT (half-open) with
# LEGIT_FN NAME_attack running through it, lufd's threads sampled and its
# CPU counted.
baseline_then_attack() {
  local name="$1" legit_fn="$2" c0 st
  blog "$name: baseline"
  "$legit_fn" "${name}_base" 10
  blog "$name: attack"
  c0="$(cpu_s "$LUFD_PID")"
  attack "${name}_attack" "$3" "$4"
  sleep 3
  sample_threads "$C/$name-threads" "$SECONDS_ATTACK" &
  st=$!
  "$legit_fn" "${name}_attack" "$SECONDS_ATTACK"
  wait "$st" || true
  record "${name}_attack_lufd_threads_max" "$(max_of "$C/$name-threads")"
  record "${name}_attack_lufd_cpu_s" "$(awk -v a="$c0" -v b="$(cpu_s "$LUFD_PID")" 'BEGIN{printf "%.1f", b-a}')"
  attack_done "${name}_attack"
}

for scenario in ${BENCH_CONN_SCENARIOS:-grpc dns recovery}; do
  case "$scenario" in
    grpc)
      baseline_then_attack grpc grpc_legit "$LUFD_PORT" "$LUFD_PORT"
      sleep 6  # What the attack left must go (handshake timeout).
      record grpc_after_lufd_threads "$(threads)"
      ;;
    recovery)
      # A second lufd on the same registry under a 1,024-descriptor limit
      # (soft and hard, so lufd cannot raise it): 900 idle connections to
      # gRPC and 400 to DNS TCP exhaust it for 8 s; then they go, and we
      # time the first successful gRPC call and DNS TCP query on new
      # connections.
      blog "recovery: exhaustion under prlimit --nofile=1024"
      command -v prlimit >/dev/null || bdie "prlimit missing"
      main_pid="$LUFD_PID" main_port="$LUFD_PORT"
      R_DNS="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
      sed -e "s/127.0.0.1:$DNS_PORT/127.0.0.1:$R_DNS/" -e '/^  dot:/,/client_ca_file/d' \
        "$C/lufd.yaml" >"$C/lufd-recovery.yaml"
      launch_lufd recovery "$C/lufd-recovery.yaml" "$C/lufd-recovery.port" \
        "$LOGS/lufd-recovery.log" prlimit --nofile=1024:1024 "${pin_server[@]}"
      wait_healthy || bdie "recovery lufd not healthy"
      c0="$(cpu_s "$LUFD_PID")"
      "${attacker[@]}" python3 "$HOLD" --port "$LUFD_PORT" --idle 900 --sources "$SOURCES" \
        --duration_s 8 --reopen_per_s 0 >"$LOGS/recovery-grpc-hold.out" 2>&1 &
      h1=$!
      "${attacker[@]}" python3 "$HOLD" --port "$R_DNS" --idle 400 --sources "$SOURCES" \
        --duration_s 8 --reopen_per_s 0 >"$LOGS/recovery-dns-hold.out" 2>&1 &
      h2=$!
      _BENCH_PIDS+=("$h1" "$h2")
      wait "$h1" || true
      wait "$h2" || true
      t_release="$(now_s)"
      record recovery_lufd_cpu_s_under_pressure "$(awk -v a="$c0" -v b="$(cpu_s "$LUFD_PID")" 'BEGIN{printf "%.1f", b-a}')"
      record recovery_lufd_alive "$(kill -0 "$LUFD_PID" 2>/dev/null && echo yes || echo no)"
      g_s=FAILED d_s=FAILED
      while (($(date +%s) - ${t_release%.*} < 60)); do
        # DNS first: a failing lufctl waits out its 1 s deadline.
        if [[ "$d_s" == FAILED ]] && dig +tcp +time=1 +tries=1 -p "$R_DNS" @127.0.0.1 \
          e164.arpa. SOA 2>/dev/null | grep -q 'status: NOERROR'; then
          d_s="$(elapsed "$t_release" "$(now_s)")"
        fi
        if [[ "$g_s" == FAILED ]] && timeout 3 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" \
          --ca "$PKI/ca.pem" --cert "$PKI/admin.pem" --key "$PKI/admin.key" \
          --timeout 1 health >/dev/null 2>&1; then
          g_s="$(elapsed "$t_release" "$(now_s)")"
        fi
        [[ "$g_s" != FAILED && "$d_s" != FAILED ]] && break
        sleep 0.05
      done
      record recovery_grpc_first_ok_s "$g_s"
      record recovery_dns_tcp_first_ok_s "$d_s"
      record recovery_grpc_held "$(rfield "$(grep '^RESULT' "$LOGS/recovery-grpc-hold.out" || echo RESULT)" min_open_from_s2)"
      record recovery_dns_held "$(rfield "$(grep '^RESULT' "$LOGS/recovery-dns-hold.out" || echo RESULT)" min_open_from_s2)"
      record recovery_emfile_log_lines "$(grep -c -i 'too many open files\|out of file descriptors' "$LOGS/lufd-recovery.log" || true)"
      stop_pid "$LUFD_PID"
      LUFD_PID="$main_pid" LUFD_PORT="$main_port"
      ;;
    dns)
      baseline_then_attack dns dns_legit "$DNS_PORT" "$DOT_PORT"
      ;;
  esac
done
record load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
stop_pid "$LUFD_PID"
record lufd_dns_stop_line "\"$(grep -h 'dns: stopped' "$LOGS/lufd.log" | tail -n 1 | sed 's/.*dns: stopped; //')\""
record run_finished "$(date -u +%FT%TZ)"
"$SOURCE_DIR/bench/conn/render.sh" "$RESULTS_ENV" >"$C/RESULTS.md"
blog "wrote $C/RESULTS.md"
