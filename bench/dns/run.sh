#!/usr/bin/env bash
# bench/dns/run.sh [N]: the DNS benchmark. lufd (online signing, covering
# denial, the guard on at limits nobody reaches) against Knot DNS pre-signed
# (NSEC3) and Knot mod-onlinesign (and, on request, NSD pre-signed with
# ldns-signzone -n, NSEC3), all serving the same N numbers (default
# $BENCH_DNS_COUNT or 1M, the issue-sized run) of e164.arpa., one at a time,
# each pinned to CPU 0 with one serving worker, dnsperf pinned to CPU 1 with
# the DO bit.
#
# It answers issue 9's "Denial speed" in one command: lufd's 90/10 mix max
# QPS against Knot pre-signed's, and lufd's all-misses random flood against
# one core's P-256 signing rate (`openssl speed ecdsap256` on CPU 0, same
# run), plus for the flood: the distinct covering subtrees (E, C) it touched
# (bench/dns/covering_subtrees.py) and the signature cache hit rate lufd
# logs, from a fresh lufd process per denial mode (covering, compact for
# comparison, and covering's worst case q-deep). lufd is measured once its
# sign-ahead has settled after the import (lufd_settle), as Knot is once
# signed. The default set takes ~10-12 min at 1M on a quiet 2-core machine
# (Knot's load+sign is ~3 min of it), 20 min at load 10;
# BENCH_DNS_COUNT=100000 is the quick run (~3 min).
#
# Usage: LUFD_BUILD=build bench/dns/run.sh [N]
#        bench/dns/run.sh --render-only [N]   (rewrite the tables only)
#        bench/dns/run.sh --prepare [N]   (only the data set and NSD's
#                                          pre-signed zone, both cached)
# Build first: ninja -C $LUFD_BUILD lufd lufctl gen_dns_data
#              (signer_bench too for sign-test)
#
# Environment (all optional):
#   BENCH_DNS_WORK     work dir root (default /tmp/lufd-bench-dns); data and
#                      results live in $BENCH_DNS_WORK/n$N
#   BENCH_DNS_COUNT    N when no argument is given (default 1000000)
#   BENCH_DNS_SERVERS  which servers, in order (default
#                      "knot-signed knot-online lufd"; also "nsd" (its
#                      ldns-signzone pre-signing takes ~25 min at 1M, cached
#                      per data set) and "sign-test" (the in-process
#                      sign-ahead throughput, bench/micro/signer_bench))
#   BENCH_DNS_FLOOD_MODES  the fresh-process flood runs after lufd's
#                      measured runs (default "covering compact deep";
#                      "" = none): covering and compact = that denial mode
#                      on q-miss then q-mix; deep = covering on q-deep,
#                      covering's worst case (one digit below every
#                      existing number: a subtree (E, C) per query)
#   BENCH_DNS_RATE     the fixed offered rate (queries/s) for CPU per answer
#                      and latency (default 40000; every fast peer sustains it)
#   BENCH_DNS_SECONDS  length of each dnsperf run (default 10)
#   BENCH_DNS_READY_S  bound on time-to-serving (default 900)
#   DNSPERF_CLIENTS / DNSPERF_OUTSTANDING  dnsperf -c / -q (4 / 200)
#   BENCH_DNS_PROFILE  servers to profile with perf after measuring
#                      (default "lufd"; "" = none)
#   BENCH_DNS_APPEND=1 keep earlier results of this N (re-run one server)
#   BENCH_DNS_LUFD_REUSE=1  lufd serves the previous run's registry and
#                      signatures again (no import)
#   BENCH_DNS_RESIGN_THREADS  lufd re-signs everything from scratch with
#                      these thread counts (default "" = skip; "1 2" as in
#                      the 2026-11-27 run; broken since: lufd's signer
#                      checkpoint says the deleted signatures are still
#                      there, so it does not re-sign; bench/dns/notes-denial.md)
#   BENCH_NO_PIN=1     do not pin (bench/lib.sh)
#
# Per server: start -> poll `dig +dnssec` for the sample NAPTR every 50 ms ->
# time to serving; check the positive answer (NAPTR + RRSIG) and a denial
# (NSEC/NSEC3 + RRSIGs); a 5 s unlimited run with per-second QPS (first
# second vs the rest); then on q-mix (90 % hits / 10 % misses) and q-miss
# (100 % misses): an unlimited run (max QPS) and a run at BENCH_DNS_RATE
# (server CPU per 1,000 answers from utime+stime in /proc/PID/stat of the
# whole process tree, dnsperf's average latency and its stddev). Peak RSS =
# VmHWM. A run with > 1 % responses other than NOERROR/NXDOMAIN fails the
# bench (exit 1) and is marked in the table.
#
# Results: $DNS_WORK/results.env (KEY=VALUE), bench/dns/results-<date>.md,
# and the DNS section of bench/RESULTS.md (replaced between markers).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$BENCH_DIR/dns/lib.sh"

render_only=0
prepare_only=0
if [[ "${1:-}" == --render-only ]]; then
  render_only=1
  shift
elif [[ "${1:-}" == --prepare ]]; then
  prepare_only=1
  shift
fi
N="${1:-${BENCH_DNS_COUNT:-1000000}}"
[[ "$N" =~ ^[0-9]+$ ]] || bdie "usage: $0 [--render-only] [N]"
DNS_WORK="${BENCH_DNS_WORK:-/tmp/lufd-bench-dns}/n$N"
# bench/lib.sh's helpers (provisioning's _p logs to $BENCH_WORK) write here
# too: this script creates DNS_WORK, and must not depend on a directory
# only the other benchmarks create (/tmp/lufd-bench by default).
BENCH_WORK="$DNS_WORK"
DATA="$DNS_WORK/data"
RESULTS_ENV="$DNS_WORK/results.env"
SERVERS="${BENCH_DNS_SERVERS:-knot-signed knot-online lufd}"
RATE="${BENCH_DNS_RATE:-40000}"
SECS="${BENCH_DNS_SECONDS:-10}"
READY_S="${BENCH_DNS_READY_S:-900}"
APEX="e164.arpa."
FAILED=0

if ((render_only == 0)); then
mkdir -p "$DNS_WORK/logs" "$DATA"
chmod 755 "$DNS_WORK"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
_bench_pinning
need=(dnsperf dig knotd keymgr taskset python3 sqlite3 openssl)
[[ " $SERVERS " == *" nsd "* ]] && need+=(nsd ldns-signzone ldns-keygen)
for t in "${need[@]}"; do
  command -v "$t" >/dev/null || bdie "$t not installed (tools/install-deps.sh)"
done
GEN_DNS_BIN="$(find_bin gen_dns_data)"
# BENCH_DNS_APPEND=1 keeps the earlier results of this N (later values win),
# e.g. to re-run only lufd after the peers.
[[ "${BENCH_DNS_APPEND:-0}" == 1 ]] || rm -f "$RESULTS_ENV" "$DNS_WORK/commands.txt"
record count "$N"
record run_started "$(date -u +%FT%TZ)"
record run_commit "$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
record load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
record rate "$RATE"
record seconds "$SECS"

# ------------------------------------------------------------------ data
# Query pool: 4x N lines (at least 4M), so that no run of one server asks
# a name that an earlier run of the same server asked (see run_dnsperf): a
# repeated miss would be answered from lufd's on-demand signature cache,
# which a harvester's fresh names never are.
QUERIES="${BENCH_DNS_QUERIES:-$((N * 4 > 4000000 ? N * 4 : 4000000))}"
if [[ ! -s "$DATA/sample.env" ]] ||
  [[ "$(wc -l <"$DATA/q-miss.txt")" -lt "$QUERIES" ]]; then
  blog "generating $N numbers and $QUERIES queries into $DATA"
  "$GEN_DNS_BIN" --count "$N" --queries "$QUERIES" --out_dir "$DATA" ||
    bdie "gen_dns_data failed"
fi
echo "$GEN_DNS_BIN --count $N --queries $QUERIES --out_dir $DATA" >>"$DNS_WORK/commands.txt"
# shellcheck source=/dev/null
source "$DATA/sample.env"
record data_naptrs "$DATA_NAPTRS"
record data_blocks "$DATA_BLOCKS"
record data_zone_bytes "$(stat -c %s "$DATA/zone.db")"

# One core's signing speed (issue 9: the all-misses flood >= 3x of it),
# pinned like the servers.
echo "${pin_server[*]} openssl speed -seconds 3 ecdsap256" >>"$DNS_WORK/commands.txt"
record openssl_load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
sp="$("${pin_server[@]}" timeout 60 openssl speed -seconds 3 ecdsap256 2>/dev/null |
  awk '/256 bits ecdsa \(nistp256\)/ { print $(NF-1) }' | tail -n 1)"
record openssl_ecdsap256_sign_per_s "${sp:-n/a}"

# ------------------------------------------------------------- measuring

# measured_run KIND QFILE [dnsperf args]: within measure(), the dnsperf run
# $name-$set-KIND on QFILE with the server tree's CPU ticks around it;
# records its load before, qps, lost and err; sets f (the report), answered,
# err, c0 and c1 (for fmt_cpu).
measured_run() {
  local kind="$1" qfile="$2"
  shift 2
  record "${name}_${set}_load_before_$kind" "$(cut -d' ' -f1-3 /proc/loadavg)"
  # Where in QFILE the run starts (1-based; covering_subtrees.py).
  record "${name}_${set}_${kind}_first_line" \
    "$(( ${QUERY_OFFSET[$qfile]:-0} % $(wc -l <"$qfile") + 1 ))"
  c0="$(tree_cpu_ticks "$pid")"
  run_dnsperf "$name-$set-$kind" "$port" "$qfile" "$SECS" "$@"
  c1="$(tree_cpu_ticks "$pid")"
  f="$DNS_WORK/logs/$name-$set-$kind.dnsperf"
  answered="$(dp "$f" completed)"
  err="$(dp "$f" err)"
  record "${name}_${set}_${kind}_qps" "$(dp "$f" qps)"
  record "${name}_${set}_${kind}_lost" "$(dp "$f" lost)"
  record "${name}_${set}_${kind}_err" "$err"
  record "${name}_${set}_${kind}_sent" "$(dp "$f" sent)"
}
# fmt_cpu FORMAT: server CPU microseconds per answer of the last
# measured_run, printf-formatted ("n/a" when nothing was answered).
fmt_cpu() {
  awk -v a="$c0" -v b="$c1" -v n="$answered" -v t="$(getconf CLK_TCK)" -v f="$1" \
    'BEGIN{ if (n > 0) printf f, (b-a)/t*1e6/n; else print "n/a" }'
}

# measure NAME PID PORT: everything after the server is serving.
measure() {
  local name="$1" pid="$2" port="$3" set qf c0 c1 err answered f
  if positive_ok "$port" && denial_ok "$port"; then
    record "${name}_valid" yes
  else
    record "${name}_valid" NO
    dig_q "$port" "$SAMPLE_NAME" NAPTR >"$DNS_WORK/logs/$name.invalid-positive" || true
    dig_q "$port" "$MISSING_NAME" NAPTR >"$DNS_WORK/logs/$name.invalid-denial" || true
    blog "$name: answers are not signed as expected; not measured"
    FAILED=1
    return 1
  fi
  # Full speed from the start? Three unlimited 1-second q-mix runs right
  # after the first signed answer (dnsperf -S output has no reliable first
  # interval, so separate runs; each re-reads the query file first).
  local i series=""
  for i in 1 2 3; do
    run_dnsperf "$name-first$i" "$port" "$DATA/q-mix.txt" 1
    series+="$(fmt_qps "$(dp "$DNS_WORK/logs/$name-first$i.dnsperf" qps)") "
  done
  record "${name}_first_seconds_qps" "${series% }"
  for set in mix miss; do
    qf="$DATA/q-$set.txt"
    measured_run max "$qf"
    record "${name}_${set}_max_cpu_us_per_answer" "$(fmt_cpu %.1f)"
    check_errors "$name $set max" "$answered" "$err"

    measured_run rate "$qf" -Q "$RATE"
    # CPU µs per answer = CPU ms per 1,000 answers.
    record "${name}_${set}_rate_cpu_ms_per_1k" "$(fmt_cpu %.2f)"
    record "${name}_${set}_rate_lat_avg_us" \
      "$(awk -v v="$(dp "$f" lat_avg_s)" 'BEGIN{printf "%.0f", v*1e6}')"
    record "${name}_${set}_rate_lat_sd_us" \
      "$(awk -v v="$(dp "$f" lat_sd_s)" 'BEGIN{printf "%.0f", v*1e6}')"
    record "${name}_${set}_rate_lat_max_us" \
      "$(awk -v v="$(dp "$f" lat_max_s)" 'BEGIN{printf "%.0f", v*1e6}')"
    check_errors "$name $set rate" "$answered" "$err"
  done
  record "${name}_hwm_kb" "$(tree_hwm_kb "$pid")"
  profile "$name" "$pid" "$port"
}

# profile NAME PID PORT: for the servers in BENCH_DNS_PROFILE (default
# lufd), a 5 s `perf record -e cpu-clock -g` of the server under an
# unlimited dnsperf on each query set (after the measured runs, so it does
# not distort them); the flat top of `perf report` goes to
# logs/NAME-perf-SET.txt. Skipped without a working perf.
profile() {
  local name="$1" pid="$2" port="$3" set dp_pid
  [[ " ${BENCH_DNS_PROFILE-lufd} " == *" $name "* ]] || return 0
  command -v perf >/dev/null || return 0
  for set in mix miss; do
    run_dnsperf "$name-$set-perf" "$port" "$DATA/q-$set.txt" 7 &
    dp_pid=$!
    sleep 1
    timeout 30 perf record -q -e cpu-clock -F 999 -g -p "$pid" \
      -o "$DNS_WORK/logs/$name-perf-$set.data" -- sleep 5 >/dev/null 2>&1 || true
    wait "$dp_pid" || true
    {
      timeout 120 perf report -i "$DNS_WORK/logs/$name-perf-$set.data" --stdio \
        --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep . | head -n 12
      echo
      timeout 120 perf report -i "$DNS_WORK/logs/$name-perf-$set.data" --stdio \
        --no-children --percent-limit 0.7 --sort dso,symbol -g none 2>/dev/null |
        grep -v '^#' | grep . | cut -c1-150 | sed 's/ *$//' | head -n 40
      # Inclusive (self + callees): which stage of the query path the
      # cycles belong to (parse, view lookups, covering, signing, send).
      echo
      echo "inclusive (--children), symbols >= 3 %:"
      timeout 120 perf report -i "$DNS_WORK/logs/$name-perf-$set.data" --stdio \
        --children --percent-limit 3 --sort symbol -g none 2>/dev/null |
        grep -v '^#' | grep . | cut -c1-150 | sed 's/ *$//' | head -n 45
    } >"$DNS_WORK/logs/$name-perf-$set.txt" || true
    echo "perf record -e cpu-clock -F 999 -g -p <$name pid> -- sleep 5 (under unlimited dnsperf, q-$set)" >>"$DNS_WORK/commands.txt"
  done
}

# check_errors WHAT COMPLETED ERRORS: > 1 % error responses fail the bench.
check_errors() {
  if awk -v d="$2" -v e="$3" 'BEGIN{ exit !(d == 0 || e * 100 > d) }'; then
    blog "$1: $3 error responses of $2 (> 1 %)"
    record "errors_${1// /_}" "$3/$2"
    FAILED=1
  fi
}

# serve NAME PORT: wait for signed answers, measure, stop.
serve_and_measure() {
  local name="$1" port="$2" tts
  QUERY_OFFSET=()  # Each server starts at the top of the query files.
  if tts="$(wait_signed "$SERVER_PID" "$port" "$READY_S")"; then
    record "${name}_tts_s" "$tts"
    record "${name}_rss_at_ready_kb" "$(tree_hwm_kb "$SERVER_PID")"
    measure "$name" "$SERVER_PID" "$port" || true
  else
    record "${name}_tts_s" FAILED
    tail -n 20 "$DNS_WORK/logs/$name.log" >&2 || true
    FAILED=1
  fi
  stop_pid "$SERVER_PID"
}

# ----------------------------------------------------------------- peers

bench_knot_signed() {
  local d="$DNS_WORK/knot-signed" port
  rm -rf "$d"
  port="$(free_port)"
  write_knot_conf "$d" "$port" "    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0" "    dnssec-signing: on
    dnssec-policy: bench" ""
  start_server knot-signed knotd -c "$d/knot.conf"
  serve_and_measure knot-signed "$port"
}

bench_knot_online() {
  local d="$DNS_WORK/knot-online" port
  rm -rf "$d"
  port="$(free_port)"
  write_knot_conf "$d" "$port" "" "    module: mod-onlinesign/bench" \
    ""
  # mod-onlinesign refers to the policy, so its section follows it.
  sed -i '/^zone:/i mod-onlinesign:\n  - id: bench\n    policy: bench\n' \
    "$d/knot.conf"
  start_server knot-online knotd -c "$d/knot.conf"
  serve_and_measure knot-online "$port"
}

# nsd_presign: ldns-signzone of the data set's zone (NSEC3, 0 iterations,
# no salt, one ECDSA P-256 key), done once per data set (cached in $DATA)
# and timed on CPU 0.
nsd_presign() {
  local key t0 t1
  if [[ ! -s "$DATA/zone.nsec3.signed" ]]; then
    rm -f "$DATA"/K*
    key="$(cd "$DATA" && ldns-keygen -a ECDSAP256SHA256 -k "$APEX")"
    t0="$(now_s)"
    local cmd=("${pin_server[@]}" /usr/bin/time -f '%e %U %S %M'
      -o "$DATA/ldns-signzone.time" ldns-signzone -n -t 0 -o "$APEX"
      -f "$DATA/zone.nsec3.signed.tmp" "$DATA/zone.db" "$DATA/$key")
    echo "${cmd[*]}" >>"$DNS_WORK/commands.txt"
    (cd "$DATA" && timeout 3600 "${cmd[@]}") ||
      { record nsd_sign_s FAILED; FAILED=1; return 1; }
    mv "$DATA/zone.nsec3.signed.tmp" "$DATA/zone.nsec3.signed"
    t1="$(now_s)"
    echo "nsd_sign_s=$(elapsed "$t0" "$t1")" >"$DATA/sign.env"
    echo "nsd_sign_maxrss_kb=$(awk '{print $4}' "$DATA/ldns-signzone.time")" >>"$DATA/sign.env"
    echo "nsd_sign_load=$(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%T)" >>"$DATA/sign.env"
  fi
}

bench_nsd() {
  local d="$DNS_WORK/nsd" port
  rm -rf "$d"
  mkdir -p "$d"
  nsd_presign || return 1
  record nsd_sign_s "$(grep nsd_sign_s= "$DATA/sign.env" | cut -d= -f2)"
  record nsd_sign_maxrss_kb "$(grep nsd_sign_maxrss_kb= "$DATA/sign.env" | cut -d= -f2)"
  record nsd_sign_load "$(grep nsd_sign_load= "$DATA/sign.env" | cut -d= -f2)"
  record nsd_sign_cpu_s "$(awk '{printf "%.1f", $2+$3}' "$DATA/ldns-signzone.time")"
  port="$(free_port)"
  cat >"$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$port
    do-ip6: no
    server-count: 1
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    verbosity: 1
    rrl-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: "$APEX"
    zonefile: "$DATA/zone.nsec3.signed"
EOF
  start_server nsd nsd -d -c "$d/nsd.conf"
  serve_and_measure nsd "$port"
}

# ------------------------------------------------------------------ lufd
# lufd_conf FILE DB DNSPORT KEYDIR: a config with the DNS front door, denial
# $LUFD_DENIAL (default covering, lufd's default), and the guard on (its
# default) at limits nobody reaches, as bench/guard/run.sh's cost scenario:
# its anonymous defaults (200 lookups/s and 100 signatures/s per /24) would
# hold dnsperf, one source address, to a few hundred answers per second.
lufd_conf() {
  cat >"$1" <<EOF
$(bench_grpc_yaml)
store:
  url: "sqlite:$2"
  migrate_on_start: false
log:
  level: "info"
dns:
  listen: ["127.0.0.1:$3"]
  workers: 1
  zones:
    - name: "$APEX"
  dnssec:
    key_dir: "$4"
    algorithm: 13
    sign_threads: ${LUFD_SIGN_THREADS:-1}
    denial: "${LUFD_DENIAL:-covering}"
guard:
  enabled: true
  peer: { lookups_per_second: 100000000, burst: 100000000 }
  anonymous: { lookups_per_second: 100000000, burst: 100000000, signatures_per_second: 100000000, signing_burst: 100000000 }
EOF
}

# start_lufd_dns NAME CONF: lufd pinned to CPU 0; sets SERVER_PID/T0 and
# LUFD_PORT (gRPC, from the port file; bounded wait).
start_lufd_dns() {
  local name="$1" conf="$2" i
  rm -f "$conf.port"
  start_server "$name" "$LUFD_BIN" --config "$conf" --port-file "$conf.port"
  LUFD_PID="$SERVER_PID"
  LUFD_PORT=""
  for ((i = 0; i < 12000; i++)); do  # 120 s
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    if [[ -s "$conf.port" ]]; then
      LUFD_PORT="$(tr -dc 0-9 <"$conf.port")"
      [[ -n "$LUFD_PORT" ]] && return 0
    fi
    sleep 0.01
  done
  return 1
}

bench_lufd() {
  local d="$DNS_WORK/lufd" port db conf i t0 t1
  LUFD_BIN="$(find_bin lufd)"
  LUFCTL_BIN="$(find_bin lufctl)"
  PKI="$DNS_WORK/pki"
  "$SOURCE_DIR/tools/dev-pki.sh" --quiet "$PKI"
  db="$d/registry.db"
  conf="$d/lufd.yaml"
  # BENCH_DNS_LUFD_REUSE=1: serve the registry, keys and signatures of the
  # previous run of this N again (no import, no sign-ahead wait), e.g. to
  # re-measure serving on a quieter machine.
  if [[ "${BENCH_DNS_LUFD_REUSE:-0}" == 1 && -s "$db" && -s "$conf" ]]; then
    port="$(grep -o '127.0.0.1:[0-9]*"\]' "$conf" | tr -dc 0-9:. | cut -d: -f2)"
    record lufd_reused "yes (registry, keys and signatures of the previous run)"
    start_lufd_dns lufd "$conf" || { record lufd_tts_s FAILED; FAILED=1; return 1; }
    serve_and_measure lufd "$port"
    lufd_after_measure
    return 0
  fi
  rm -rf "$d"
  mkdir -p "$d/keys"
  chmod 700 "$d/keys"
  port="$(free_port)"
  lufd_conf "$conf" "$db" "$port" "$d/keys"
  db_init "sqlite:$db"
  echo "lufctl db migrate --store sqlite:$db; lufctl db bootstrap --store sqlite:$db --org iana-en:0 --name 'Registry Admin' --cert-file $PKI/admin.pem" >>"$DNS_WORK/commands.txt"
  # Import through a running lufd, as bench/import.sh does; with the DNS
  # section on, lufd signs the NAPTR RRsets ahead as they are written.
  start_lufd_dns lufd-import "$conf" || { record lufd_import_s FAILED; FAILED=1; return 1; }
  wait_healthy || true
  provision_public
  t0="$(now_s)"
  local cmd=("$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem"
    --cert "$PKI/admin.pem" --key "$PKI/admin.key" --timeout 600 import
    "$DATA/numbers.csv")
  echo "${cmd[*]}" >>"$DNS_WORK/commands.txt"
  if ! timeout 900 "${cmd[@]}" >"$DNS_WORK/logs/lufd-import.out" 2>&1; then
    tail -n 20 "$DNS_WORK/logs/lufd-import.out" >&2
    record lufd_import_s FAILED
    FAILED=1
    stop_pid "$SERVER_PID"
    return 1
  fi
  t1="$(now_s)"
  record lufd_import_s "$(elapsed "$t0" "$t1")"
  # First signed answer after the import returned, then the sign-ahead of
  # every imported RRset (bounded waits).
  SERVER_T0="$t1"
  if tts="$(wait_signed "$SERVER_PID" "$port" 60)"; then
    record lufd_import_first_signed_s "$tts"
  fi
  wait_sign_ahead_done "$db" "$t0"
  record lufd_import_hwm_kb "$(tree_hwm_kb "$SERVER_PID")"
  stop_pid "$SERVER_PID"
  lufd_settle "$conf" "$db"
  # The measured start: a restart on the stored registry and signatures.
  start_lufd_dns lufd "$conf" || { record lufd_tts_s FAILED; FAILED=1; return 1; }
  serve_and_measure lufd "$port"
  lufd_after_measure
  # Signing all N RRsets ahead from scratch, on one core (1 signer thread)
  # and on two (2 threads, not pinned): the Store's signatures deleted while
  # lufd is stopped, then the time from exec until they are all back.
  local threads pin_save=("${pin_server[@]}")
  for threads in ${BENCH_DNS_RESIGN_THREADS-}; do
    [[ -n "${SIG_TABLE:-}" ]] || break
    # The checkpoint too: it says which serial the stored signatures
    # cover, and with it in place lufd would skip its start-up walk.
    sqlite3 "$db" ".timeout 5000" "DELETE FROM $SIG_TABLE; DELETE FROM signer_checkpoint" ||
      { record "lufd_sign_${threads}t_s" "FAILED (delete)"; break; }
    LUFD_SIGN_THREADS=$threads lufd_conf "$d/sign$threads.yaml" "$db" \
      "$(free_port)" "$d/keys"
    if ((threads == 2)); then
      pin_server=()
      [[ ${#pin_save[@]} -gt 0 ]] && pin_server=(taskset -c 0,1)
    fi
    start_lufd_dns "lufd-sign$threads" "$d/sign$threads.yaml" ||
      { record "lufd_sign_${threads}t_s" FAILED; pin_server=("${pin_save[@]}"); break; }
    pin_server=("${pin_save[@]}")
    SIGN_KEY="lufd_sign_${threads}t_s" wait_sign_ahead_done "$db" "$SERVER_T0"
    record "lufd_sign_${threads}t_cpu_s" \
      "$(awk -v t="$(tree_cpu_ticks "$SERVER_PID")" -v h="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t/h}')"
    stop_pid "$SERVER_PID"
  done
}

# lufd_settle CONF DB: the first start after the import backfills a holding
# per number (a new serial), and its sign-ahead then walks the registry in
# the background, on the same pinned core as the DNS worker, for a minute
# or more at 1M (it signs nothing). The peers are measured once signed, so
# lufd is too: a start that waits (bounded, READY_S) until the signer's
# checkpoint covers the registry's latest serial, then stops. Records
# lufd_settle_s (exec to covered).
lufd_settle() {
  local conf="$1" db="$2" end cp latest
  start_lufd_dns lufd-settle "$conf" || { record lufd_settle_s FAILED; return 0; }
  end=$(($(date +%s) + READY_S))
  while (($(date +%s) < end)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    cp="$(sqlite3 -readonly "$db" ".timeout 2000" "SELECT serial FROM signer_checkpoint WHERE id = 1" 2>/dev/null || true)"
    latest="$(sqlite3 -readonly "$db" ".timeout 2000" "SELECT latest_serial FROM registry_state WHERE id = 1" 2>/dev/null || true)"
    if [[ "$cp" =~ ^[0-9]+$ && "$latest" =~ ^[0-9]+$ ]] && ((cp >= latest)) &&
      grep -q "dns: serving" "$DNS_WORK/logs/lufd-settle.log" 2>/dev/null; then
      record lufd_settle_s "$(elapsed "$SERVER_T0" "$(now_s)")"
      record lufd_settle_serial "$cp"
      stop_pid "$SERVER_PID"
      return 0
    fi
    sleep 0.5
  done
  record lufd_settle_s "n/a (checkpoint ${cp:-none}, latest ${latest:-none})"
  stop_pid "$SERVER_PID"
}

# responder_counters NAME: the "dns: responder:" line lufd logs when it
# stops (server/dns/frontend.cc), as NAME_responder_* results, and the
# on-demand signature cache's hit rate: LRU hits / (LRU hits + signatures
# made on demand). In an all-miss run every signature lookup is a denial's
# (covering: one or two NSECs per (E, C); compact: one NSEC per name).
responder_counters() {
  local name="$1" line k v hits made
  line="$(grep -h "dns: responder:" "$DNS_WORK/logs/$name.log" | tail -n 1)"
  [[ -n "$line" ]] || { record "${name}_responder" "n/a (no responder line)"; return 0; }
  record "${name}_responder" "${line#*dns: responder: }"
  for k in queries nxdomain covering nodata "signed on demand" "signature lru hits" "store hits"; do
    v="$(grep -oE "$k \(?[0-9]+" <<<"$line" | head -n 1 | tr -dc 0-9)"
    record "${name}_responder_${k// /_}" "${v:-n/a}"
  done
  hits="$(grep -oE 'signature lru hits [0-9]+' <<<"$line" | tr -dc 0-9)"
  made="$(grep -oE 'signed on demand [0-9]+' <<<"$line" | tr -dc 0-9)"
  record "${name}_sig_cache_hit_rate" \
    "$(awk -v h="${hits:-0}" -v m="${made:-0}" 'BEGIN{ if (h + m > 0) printf "%.5f", h/(h+m); else print "n/a" }')"
}

# subtrees NAME SET KIND: distinct covering subtrees (E, C) the run
# NAME-SET-KIND touched (bench/dns/covering_subtrees.py over exactly the
# query lines dnsperf sent), as NAME_SET_KIND_subtrees_*.
subtrees() {
  local name="$1" set="$2" kind="$3" first sent out k
  first="$(grep "^${name}_${set}_${kind}_first_line=" "$RESULTS_ENV" | tail -n 1 | cut -d= -f2)"
  sent="$(grep "^${name}_${set}_${kind}_sent=" "$RESULTS_ENV" | tail -n 1 | cut -d= -f2)"
  [[ "$first" =~ ^[0-9]+$ && "$sent" =~ ^[0-9]+$ ]] || return 0
  echo "python3 bench/dns/covering_subtrees.py $DATA/numbers.csv $DATA/q-$set.txt $first $sent" >>"$DNS_WORK/commands.txt"
  out="$(timeout 300 python3 "$BENCH_DIR/dns/covering_subtrees.py" \
    "$DATA/numbers.csv" "$DATA/q-$set.txt" "$first" "$sent" "$APEX")" || return 0
  for k in queries hits subtrees max_per_subtree depth_min depth_max; do
    record "${name}_${set}_${kind}_subtrees_$k" "$(rfield "$out" "$k")"
  done
}

# lufd_after_measure: the measured lufd's responder counters (cumulative over
# all its runs), the subtrees its all-miss max run touched, then one fresh
# lufd per BENCH_DNS_FLOOD_MODES (lufd_flood).
lufd_after_measure() {
  responder_counters lufd
  subtrees lufd miss max
  local mode
  for mode in ${BENCH_DNS_FLOOD_MODES-covering compact deep}; do
    record "lufd-${mode}_started" "$(date -u +%T)"
    case "$mode" in
      deep)
        if [[ ! -s "$DATA/q-deep.txt" ]]; then
          echo "python3 bench/dns/covering_subtrees.py --deep $DATA/numbers.csv $DATA/q-deep.txt" >>"$DNS_WORK/commands.txt"
          timeout 300 python3 "$BENCH_DIR/dns/covering_subtrees.py" --deep \
            "$DATA/numbers.csv" "$DATA/q-deep.txt.tmp" "$APEX" &&
            mv "$DATA/q-deep.txt.tmp" "$DATA/q-deep.txt"
        fi
        lufd_flood deep covering deep || true
        ;;
      *) lufd_flood "$mode" "$mode" "miss mix" || true ;;
    esac
  done
}

# lufd_flood TAG MODE SETS: a fresh lufd process (results lufd-TAG_*) on
# the measured registry, keys and stored signatures (cold on-demand cache)
# with dns.dnssec.denial MODE: one unlimited run per query set of SETS (q-SET;
# miss = the flood, names no earlier lufd run asked: QUERY_OFFSET carries
# on), then stopped; its responder line then counts exactly these runs (plus
# a few digs), so the cache hit rate is this process's own.
lufd_flood() {
  local d="$DNS_WORK/lufd" name="lufd-$1" mode="$2" sets="$3" set kind=max
  local conf="$d/$1.yaml" c0 c1 answered err f port pid tts
  port="$(free_port)"
  LUFD_DENIAL="$mode" lufd_conf "$conf" "$d/registry.db" "$port" "$d/keys"
  : >"$DNS_WORK/logs/$name.log"
  start_lufd_dns "$name" "$conf" ||
    { record "${name}_tts_s" FAILED; FAILED=1; return 1; }
  pid="$SERVER_PID"
  if ! tts="$(wait_signed "$pid" "$port" "$READY_S")" || ! denial_ok "$port"; then
    record "${name}_tts_s" FAILED
    dig_q "$port" "$MISSING_NAME" NAPTR >"$DNS_WORK/logs/$name.invalid-denial" || true
    FAILED=1
    stop_pid "$pid"
    return 1
  fi
  record "${name}_tts_s" "$tts"
  for set in $sets; do
    [[ -s "$DATA/q-$set.txt" ]] || { record "${name}_${set}" "n/a (no q-$set.txt)"; continue; }
    measured_run max "$DATA/q-$set.txt"
    record "${name}_${set}_max_cpu_us_per_answer" "$(fmt_cpu %.1f)"
    check_errors "$name $set max" "$answered" "$err"
  done
  stop_pid "$pid"
  responder_counters "$name"
  for set in $sets; do
    [[ "$set" == mix ]] || subtrees "$name" "$set" max
  done
}

# wait_sign_ahead_done DB T0: bounded (READY_S) wait until sign-ahead has
# stored a signature for every number: the row count of the Store's
# signature table (whatever table of the SQLite file is named like
# "%signature%") reaches DATA_NUMBERS and stays put for 2 s (the time
# recorded is when it got there). Records $SIGN_KEY (default
# lufd_sign_ahead_s), seconds since T0, and the row count; sets SIG_TABLE.
wait_sign_ahead_done() {
  local db="$1" t0="$2" key="${SIGN_KEY:-lufd_sign_ahead_s}" end table n
  local last=-1 stable_since=""
  end=$(($(date +%s) + READY_S))
  while (($(date +%s) < end)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    table="$(sqlite3 -readonly "$db" ".timeout 2000" \
      "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%signature%' LIMIT 1" 2>/dev/null || true)"
    if [[ -n "$table" ]]; then
      n="$(sqlite3 -readonly "$db" ".timeout 2000" "SELECT count(*) FROM $table" 2>/dev/null || echo -1)"
      if [[ "$n" =~ ^[0-9]+$ ]] && ((n >= DATA_NUMBERS)); then
        if [[ "$n" == "$last" ]]; then
          if [[ -n "$stable_since" ]] &&
            awk -v a="$stable_since" -v b="$(now_s)" 'BEGIN{exit !(b-a >= 2)}'; then
            record "$key" "$(elapsed "$t0" "$stable_since")"
            record "${key%_s}_signatures" "$n"
            SIG_TABLE="$table"
            return 0
          fi
        else
          stable_since="$(now_s)"
        fi
      fi
      last="$n"
    fi
    sleep 0.2
  done
  record "$key" "n/a (signature table ${table:-missing}, rows ${last})"
}

# provision_public: the registrant org, its destination group and an
# in-service PUBLIC SED group without records, so every number's inline
# NAPTRs are visible to anonymous DNS (registry.proto PublicIdentifier).
provision_public() {
  echo "lufctl (as admin): org add --id iana-en:222 --name SSP2 --role registrant --role registrar; dg add --id dg-bench --registrant iana-en:222; sedgroup add --id sg-bench --registrant iana-en:222 --dg dg-bench --public" >>"$DNS_WORK/commands.txt"
  # No peer role: the signer signs once per viewer class (anonymous + each
  # peer org), and this bench queries anonymously.
  _p org add --id iana-en:222 --name SSP2 --role registrant --role registrar
  _p dg add --id dg-bench --registrant iana-en:222
  _p sedgroup add --id sg-bench --registrant iana-en:222 --dg dg-bench \
    --public
}

# Signing ahead in-process, without the rest of lufd: bench/micro's
# signer_bench (N numbers, 1 then 2 signer threads, not pinned) when it is
# built. BENCH_DNS_SIGN_TEST=0 skips it.
sign_ahead_test() {
  local bin json r
  [[ "${BENCH_DNS_SIGN_TEST:-1}" == 1 ]] || return 0
  bin="$(find "$LUFD_BUILD" -type f -name signer_bench -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1)"
  [[ -n "$bin" ]] || { record sign_test "n/a (signer_bench not built)"; return 0; }
  json="$DNS_WORK/logs/sign-ahead-test.json"
  echo "LUFD_SIGN_BENCH_N=$N $bin --benchmark_out=$json --benchmark_out_format=json" >>"$DNS_WORK/commands.txt"
  record sign_test_load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
  LUFD_SIGN_BENCH_N=$N timeout 900 "$bin" --benchmark_out="$json" \
    --benchmark_out_format=json >"$DNS_WORK/logs/sign-ahead-test.log" 2>&1 ||
    { record sign_test FAILED; tail -n 20 "$DNS_WORK/logs/sign-ahead-test.log" >&2; return 0; }
  # "1000000 sigs in 40.1 s (24938/s wall, 12000/CPU-s)"
  for t in 1 2; do
    r="$(jq -r --arg t "$t" '.benchmarks[] | select(.name | test("threads:" + $t + "/")) |
      "\(.signatures | floor) sigs in \(.real_time * 10 | round / 10) s (\(.sigs_per_s | round)/s wall, \(.sigs_per_cpu_s | round)/CPU-s)"' "$json")"
    record "sign_test_${t}t" "${r:-n/a}"
  done
}

if ((prepare_only)); then
  nsd_presign
  blog "prepared $DATA"
  exit 0
fi

for s in $SERVERS; do
  record "${s}_started" "$(date -u +%T)"
  record "${s}_load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
  case "$s" in
    knot-signed) bench_knot_signed || true ;;
    knot-online) bench_knot_online || true ;;
    nsd) bench_nsd || true ;;
    lufd) bench_lufd || true ;;
    sign-test) sign_ahead_test || true ;;
    *) bdie "unknown server $s" ;;
  esac
done
record run_finished "$(date -u +%FT%TZ)"
record load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
record failed "$FAILED"
fi  # render_only

"$BENCH_DIR/dns/render.sh" "$RESULTS_ENV" "$DNS_WORK/commands.txt"
[[ "$(grep '^failed=' "$RESULTS_ENV" | tail -n 1 | cut -d= -f2)" == 0 ]]
