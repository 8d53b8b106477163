# shellcheck shell=bash
# lib.sh: shared helpers for the lufd benchmark scripts (import.sh,
# lookup.sh, startup.sh, micro.sh, run-all.sh, dns/run.sh). Source it; then
# call bench_init (micro.sh needs only the paths and record).
#
# Environment:
#   LUFD_BUILD    build dir holding lufd, lufctl and the bench programs
#                 (default /tmp/build-bench; binaries are searched below it)
#   BENCH_WORK    persistent work dir: PKI, CSV, the 1M-number SQLite DB and
#                 results.env (default /tmp/lufd-bench)
#   BENCH_COUNT   numbers to import (default 1000000)
#   BENCH_NO_PIN  set to 1 to not pin server/generator with taskset
#
# Results are appended as KEY=VALUE lines to $BENCH_WORK/results.env (later
# lines win), which run-all.sh turns into bench/RESULTS.md.
# Processes are stopped only by the PIDs these scripts started; every wait
# is bounded.

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$BENCH_DIR/.." && pwd)"
LUFD_BUILD="${LUFD_BUILD:-/tmp/build-bench}"
BENCH_WORK="${BENCH_WORK:-/tmp/lufd-bench}"
BENCH_COUNT="${BENCH_COUNT:-1000000}"
RESULTS_ENV="$BENCH_WORK/results.env"
_BENCH_PIDS=()
_BENCH_PG_DIRS=()

blog() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }
bdie() { blog "FATAL: $*"; exit 1; }

# find_bin NAME: the executable NAME below $LUFD_BUILD.
find_bin() {
  local f
  f="$(find "$LUFD_BUILD" -type f -name "$1" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1)"
  [[ -n "$f" ]] || bdie "$1 not built under $LUFD_BUILD (ninja -C $LUFD_BUILD $1)"
  echo "$f"
}

# record KEY VALUE: append a result.
record() {
  echo "$1=$2" >>"$RESULTS_ENV"
  blog "result $1=$2"
}

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

# Pinning: server on CPU 0, load generator on CPU 1 (when there are >= 2).
pin_server=()
pin_client=()
_bench_pinning() {
  if [[ "${BENCH_NO_PIN:-0}" != 1 ]] && command -v taskset >/dev/null &&
    (($(nproc) >= 2)); then
    pin_server=(taskset -c 0)
    pin_client=(taskset -c 1)
  fi
}

bench_cleanup() {
  local rc=$? pid d i
  set +e
  for pid in "${_BENCH_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for d in "${_BENCH_PG_DIRS[@]}"; do
    pg_stop "$d" >/dev/null 2>&1
  done
  exit "$rc"
}

bench_init() {
  mkdir -p "$BENCH_WORK"
  chmod 755 "$BENCH_WORK"  # the postgres user must reach its cluster dir
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  LUFD_BIN="$(find_bin lufd)"
  LUFCTL_BIN="$(find_bin lufctl)"
  GEN_BIN="$(find_bin gen_numbers)"
  LOAD_BIN="$(find_bin lookup_load)"
  NULL_BIN="$(find_bin null_server)"
  PKI="$BENCH_WORK/pki"
  "$SOURCE_DIR/tools/dev-pki.sh" --quiet "$PKI"
  _bench_pinning
}

# stop_pid PID: TERM, wait up to 10 s, then KILL. Only our own PIDs.
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# The CSV of numbers (and the plain number list for the load generator).
ensure_csv() {
  CSV="$BENCH_WORK/numbers-$BENCH_COUNT.csv"
  NUMS="$BENCH_WORK/numbers-$BENCH_COUNT.txt"
  # 7 subscriber digits hold ~2.5M numbers in sparse blocks; more need 8.
  local digits=7
  ((BENCH_COUNT <= 2500000)) || digits=8
  if [[ ! -s "$CSV" || ! -s "$NUMS" ]]; then
    "$GEN_BIN" --count "$BENCH_COUNT" --subscriber_digits "$digits" \
      --registrant iana-en:222 --dest_groups dg-bench --out "$CSV" ||
      bdie "gen_numbers failed"
    "$GEN_BIN" --count "$BENCH_COUNT" --subscriber_digits "$digits" \
      --numbers_only --out "$NUMS" || bdie "gen_numbers failed"
  fi
}

# cpu_s PID: user+system CPU seconds a process has used so far.
cpu_s() {
  awk -v t="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12+$13)/t}' "/proc/$1/stat" 2>/dev/null || echo 0
}
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# lufctl with WHO's certificate against the lufd on $LUFD_PORT.
ctl() {
  local who="$1"
  shift
  timeout 600 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/$who.pem" --key "$PKI/$who.key" "$@"
}

# db_init URL: migrate and register admin.pem as the registry admin.
db_init() {
  timeout 300 "$LUFCTL_BIN" db migrate --store "$1" >/dev/null
  timeout 60 "$LUFCTL_BIN" db bootstrap --store "$1" --org iana-en:0 \
    --name "Registry Admin" --cert-file "$PKI/admin.pem" >/dev/null
}

# bench_grpc_yaml: the grpc: section of every benchmarked lufd's config
# (kernel-chosen port, the dev PKI in $PKI), one place for all benches.
# BENCH_GRPC_EXTRA: more lines for it, indented by two spaces. The load
# client is one identity standing for many peers: like the guard's limits
# (start_lufd), grpc.max_calls_per_identity is out of its way, unless
# BENCH_GRPC_CALLS_PER_IDENTITY says otherwise (the harvest: one real peer).
bench_grpc_yaml() {
  cat <<EOF
grpc:
  listen: "127.0.0.1:0"
  max_calls_per_identity: ${BENCH_GRPC_CALLS_PER_IDENTITY:-100000}
  tls:
    cert_file: "$PKI/server.pem"
    key_file: "$PKI/server.key"
    client_ca_file: "$PKI/ca.pem"
${BENCH_GRPC_EXTRA:-}
EOF
}

# start_null_server MODE: bench/null_server (sync | callback) on a
# kernel-chosen port, pinned like a server; sets NULL_PID and PORT.
start_null_server() {
  local i
  rm -f "$BENCH_WORK/null.port"
  "${pin_server[@]}" "$NULL_BIN" --cert "$PKI/server.pem" --key "$PKI/server.key" \
    --client_ca "$PKI/ca.pem" --mode "$1" \
    --port_file "$BENCH_WORK/null.port" --max_seconds 900 \
    >>"$BENCH_WORK/null.log" 2>&1 &
  NULL_PID=$!
  _BENCH_PIDS+=("$NULL_PID")
  for ((i = 0; i < 500; i++)); do
    [[ -s "$BENCH_WORK/null.port" ]] && break
    sleep 0.01
  done
  PORT="$(tr -dc 0-9 <"$BENCH_WORK/null.port")"
  [[ -n "$PORT" ]] || bdie "null_server did not start"
}

# start_lufd NAME URL [PIN...]: lufd on a kernel-chosen port with log
# $BENCH_WORK/NAME.log; sets LUFD_PID, LUFD_PORT and LUFD_T0 (exec time).
# Waits (<= 120 s) for the port file only: callers decide what "ready" is.
start_lufd() {
  local name="$1" url="$2" i
  shift 2
  cat >"$BENCH_WORK/$name.yaml" <<EOF
$(bench_grpc_yaml)
store:
  url: "$url"
  migrate_on_start: false
log:
  level: "warn"
# The guard runs, with every peer under its limits (the default 10000/s
# would throttle a peak-throughput run).
guard:
  peer:
    lookups_per_second: 100000000
    burst: 100000000
EOF
  launch_lufd "$name" "$BENCH_WORK/$name.yaml" "$BENCH_WORK/$name.port" \
    "$BENCH_WORK/$name.log" "$@"
}

# launch_lufd NAME CONFIG PORT_FILE LOG [PIN...]: lufd (behind the PIN
# command, if any) with CONFIG, its output appended to LOG; sets LUFD_PID
# (killed by bench_cleanup), LUFD_PORT and LUFD_T0 (exec time). Waits
# (<= 120 s) for the port file only; fatal when lufd exits first.
launch_lufd() {
  local name="$1" config="$2" port_file="$3" log="$4" i
  shift 4
  rm -f "$port_file"
  LUFD_T0="$(now_s)"
  "$@" "$LUFD_BIN" --config "$config" --port-file "$port_file" \
    >>"$log" 2>&1 &
  LUFD_PID=$!
  _BENCH_PIDS+=("$LUFD_PID")
  LUFD_PORT=""
  for ((i = 0; i < 12000; i++)); do  # 120 s
    kill -0 "$LUFD_PID" 2>/dev/null || {
      tail -n 20 "$log" >&2; bdie "lufd ($name) exited"; }
    if [[ -s "$port_file" ]]; then
      LUFD_PORT="$(tr -dc 0-9 <"$port_file")"
      [[ -n "$LUFD_PORT" ]] && return 0
    fi
    sleep 0.01
  done
  bdie "lufd ($name) wrote no port file within 120 s"
}

# wait_healthy: bounded (60 s) wait until the lufd on $LUFD_PORT answers
# `lufctl admin health`; callers decide what to do if it never does.
wait_healthy() {
  local i
  for ((i = 0; i < 600; i++)); do
    ctl admin health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# bench_init_1m: bench_init, the CSV, and DB = the 1M-number SQLite registry
# that import.sh sqlite leaves behind (fatal when it is missing).
bench_init_1m() {
  bench_init
  ensure_csv
  DB="$BENCH_WORK/registry-1m.db"
  [[ -s "$DB" ]] || bdie "$DB missing: run bench/import.sh sqlite first"
}

# start_lufd_ready NAME URL: start_lufd, then wait_healthy.
start_lufd_ready() {
  start_lufd "$@"
  wait_healthy
}

# wait_lookup_ok QUERY [SECONDS]: one-shot lookups as peer-ssp1 until one is
# found (bounded); prints the lookup_load RESULT line.
wait_lookup_ok() {
  "$LOAD_BIN" --target "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" \
    --query "$1" --expect_found --wait_ok_s "${2:-60}"
}

# provision: orgs, the peer credential, the destination group and a SED
# group offered to and accepted for the peer, so every imported number is
# visible to peer-ssp1 (iana-en:111). Numbers' registrant is iana-en:222.
provision() {
  _p org add --id iana-en:111 --name SSP1 --role peer --role registrar
  _p org add --id iana-en:222 --name SSP2 --role registrant \
    --role registrar --role peer
  _p credential add --id cred-peer-ssp1 --org iana-en:111 \
    --role peer --san-uri urn:lufd:peer:ssp1
  _p dg add --id dg-bench --registrant iana-en:222
  _p record add --id rec-bench --registrant iana-en:222 --type naptr \
    --ttl 3600 --order 200 --preference 10 --flags u --services E2U+sip \
    --regexp '!^(.*)$!sip:\1@ssp2.example.com!'
  _p sedgroup add --id sg-bench --registrant iana-en:222 \
    --dg dg-bench --record rec-bench --in-service
  _p offer add --sedgroup sg-bench --peer iana-en:111
  _p offer accept --sedgroup sg-bench --peer iana-en:111
}
# _p ARGS...: one provisioning command as admin; fatal on failure.
_p() {
  ctl admin "$@" >>"$BENCH_WORK/provision.log" 2>&1 || {
    tail -n 5 "$BENCH_WORK/provision.log" >&2; bdie "provisioning failed: $*"; }
}

# run_lookup_load LOG PID [lookup_load flags...]: bench/lookup_load as
# peer-ssp1 against 127.0.0.1:$PORT (pinned like a client), --channels
# $channels --concurrency $conc --duration_s $secs after 2 s warmup, CPU of
# server PID; its output appended to LOG; prints the RESULT line.
run_lookup_load() {
  local log="$1" pid="$2"
  shift 2
  "${pin_client[@]}" "$LOAD_BIN" --target "127.0.0.1:$PORT" \
    --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" \
    --channels "$channels" --concurrency "$conc" --duration_s "$secs" \
    --warmup_s 2 --server_pid "$pid" "$@" | tee -a "$log" |
    grep '^RESULT' || true
}

# RESULT line field: rfield "RESULT a=1 b=2" b -> 2
rfield() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1==k{print $2}'; }

# pg_start_bench DIR: a private PostgreSQL cluster via the storage harness
# (pg_start DIR prints a URL); sets PG_URL. Call it directly, not in $(...),
# so the cleanup list survives.
pg_start_bench() {
  local harness="$SOURCE_DIR/tests/support/pg-harness.sh"
  [[ -f "$harness" ]] || bdie "tests/support/pg-harness.sh is missing"
  # shellcheck source=/dev/null
  source "$harness"
  _BENCH_PG_DIRS+=("$1")
  PG_URL="$(pg_start "$1")" || bdie "pg_start failed"
}
