#!/usr/bin/env bash
# grpc_threads.sh: issue 10's gRPC numbers, one command.
#
#   1. closed-loop peak lookups/s of bench/null_server --mode callback (same
#      mTLS, fixed answer, no work) and of lufd (LookupService on the
#      callback API), with the same client (bench/lookup_load, as
#      lookup.sh: BENCH_CHANNELS 8, BENCH_CONCURRENCY 64); target lufd/null
#      >= 0.7;
#   2. server CPU per lookup at a fixed rate (BENCH_FIXED_RATE, default
#      5000/s, open loop) for both: the load client is itself near one core
#      at peak, so the peak ratio alone can hide the server's cost;
#   3. lufd's thread count (/proc/PID/status) at rest and with 300 idle
#      BatchLookup streams from one peer (tests/support/idle_streams), for
#      this build and, when BENCH_LUFD_BEFORE names another lufd binary
#      (e.g. main's), for that one too, with its peak and CPU per lookup
#      (1, 2): the before/after.
# The registry is small (one provisioned number, looked up by every call):
# this measures the RPC path, not the view (lookup.sh does the 1M registry).
# lufd runs with grpc.max_calls_per_identity out of the way (bench/lib.sh)
# so that neither the load nor the 300 streams meet the per-identity cap.
# Server pinned to CPU 0, client to CPU 1 (BENCH_NO_PIN=1: not pinned).
# Run only on a quiet machine (`uptime` load < 2): the script warns
# otherwise. Results: KEY=VALUE lines appended to $BENCH_WORK/results.env
# and the whole run's summary in $BENCH_WORK/grpc_threads.txt (printed at
# the end).
# Knobs: LUFD_BUILD (build dir), BENCH_WORK, BENCH_LOOKUP_S (15),
# BENCH_FIXED_RATE (5000), BENCH_IDLE_STREAMS (300), BENCH_LUFD_BEFORE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
IDLE_BIN="$(find_bin idle_streams)"
secs="${BENCH_LOOKUP_S:-15}"
rate="${BENCH_FIXED_RATE:-5000}"
idle="${BENCH_IDLE_STREAMS:-300}"
channels="${BENCH_CHANNELS:-8}"
conc="${BENCH_CONCURRENCY:-64}"
SUMMARY="$BENCH_WORK/grpc_threads.txt"
TN=+493012345678
load1="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load1" 'BEGIN{exit !(l >= 2)}'; then
  blog "WARNING: load average $load1 >= 2: numbers will be noisy"
fi
{
  echo "# grpc_threads.sh $(date -u +%FT%TZ) commit $(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo ?)"
  echo "# load average at start: $load1; $(nproc) CPUs; pinned: ${pin_server[*]:-no}"
} >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY" >&2; }

threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }

# load PID [extra lookup_load flags...]: the RESULT line.
load() {
  run_lookup_load "$BENCH_WORK/grpc_threads.log" "$@" --query "$TN"
}
cpu_us() {  # RESULT-LINE: server CPU microseconds per lookup
  awk -v c="$(rfield "$1" server_cpu)" -v r="$(rfield "$1" rps)" \
    'BEGIN{printf "%.1f", (r>0)?c*1e6/r:0}'
}

# A lufd (binary $1) on a fresh small registry; sets LUFD_PID, PORT.
DB="$BENCH_WORK/grpc-threads.db"
start_small_lufd() {
  local bin="$1" name="$2"
  rm -f "$DB" "$DB"-wal "$DB"-shm
  db_init "sqlite:$DB"
  BENCH_GRPC_EXTRA='  max_deadline: "120s"' LUFD_BIN="$bin" \
    start_lufd "$name" "sqlite:$DB" "${pin_server[@]}"
  wait_healthy || bdie "$name not healthy"
  provision
  _p number add "$TN" --registrant iana-en:222 --dg dg-bench
  local out
  out="$(wait_lookup_ok "$TN" 60)" || bdie "$name not serving: $out"
  PORT="$LUFD_PORT"
}

# idle_threads NAME: lufd's threads at rest and with $idle idle streams.
idle_threads() {
  local name="$1" rest held max=0 n i
  rest="$(threads "$LUFD_PID")"
  rm -f "$BENCH_WORK/hold"
  mkfifo "$BENCH_WORK/hold"
  "$IDLE_BIN" --target "127.0.0.1:$PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key" --query "$TN" \
    --streams "$idle" --channels $(((idle + 49) / 50)) --settle_s 60 \
    --hold_s 100 --hold_stdin <"$BENCH_WORK/hold" \
    >"$BENCH_WORK/idle.out" 2>>"$BENCH_WORK/grpc_threads.log" &
  local idle_pid=$!
  _BENCH_PIDS+=("$idle_pid")
  exec 8>"$BENCH_WORK/hold"
  for ((i = 0; i < 700; i++)); do
    grep -q '^SETTLED' "$BENCH_WORK/idle.out" && break
    sleep 0.1
  done
  for ((i = 0; i < 20; i++)); do
    n="$(threads "$LUFD_PID")"
    ((n > max)) && max=$n
    sleep 0.1
  done
  exec 8>&-
  wait "$idle_pid" || true
  held="$(grep '^SETTLED' "$BENCH_WORK/idle.out" || echo 'SETTLED ?')"
  record "grpc_threads_${name}_rest" "$rest"
  record "grpc_threads_${name}_idle${idle}" "$max"
  say "$name: threads at rest $rest, with $idle idle streams $max ($held)"
}

# 1+2. null_server (callback).
start_null_server callback
blog "null_server (callback) peak, $secs s"
null_peak="$(load "$NULL_PID")"
blog "null_server at $rate/s, $secs s"
null_fixed="$(load "$NULL_PID" --rate "$rate" --concurrency 1000)"
stop_pid "$NULL_PID"

# lufd, this build.
start_small_lufd "$LUFD_BIN" grpc-threads-after
blog "lufd peak, $secs s"
lufd_peak="$(load "$LUFD_PID")"
blog "lufd at $rate/s, $secs s"
lufd_fixed="$(load "$LUFD_PID" --rate "$rate" --concurrency 1000)"
idle_threads after
stop_pid "$LUFD_PID"

null_rps="$(rfield "$null_peak" rps)"
lufd_rps="$(rfield "$lufd_peak" rps)"
ratio="$(awk -v a="$lufd_rps" -v b="$null_rps" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
record grpc_null_callback_peak_rps "$null_rps"
record grpc_lufd_callback_peak_rps "$lufd_rps"
record grpc_ratio_lufd_null_callback "$ratio"
record grpc_null_callback_cpu_us_per_lookup "$(cpu_us "$null_fixed")"
record grpc_lufd_callback_cpu_us_per_lookup "$(cpu_us "$lufd_fixed")"
say "null_server --mode callback peak: $null_peak"
say "lufd (callback Lookup) peak:      $lufd_peak"
say "lufd/null peak ratio: $ratio (target >= 0.7)"
say "at $rate/s: null_server $(cpu_us "$null_fixed") us CPU/lookup ($null_fixed)"
say "at $rate/s: lufd        $(cpu_us "$lufd_fixed") us CPU/lookup ($lufd_fixed)"

# 3. Before: another lufd binary (e.g. main's), the same idle streams.
if [[ -n "${BENCH_LUFD_BEFORE:-}" ]]; then
  [[ -x "$BENCH_LUFD_BEFORE" ]] || bdie "BENCH_LUFD_BEFORE not executable"
  start_small_lufd "$BENCH_LUFD_BEFORE" grpc-threads-before
  blog "lufd (before) peak, $secs s"
  before_peak="$(load "$LUFD_PID")"
  blog "lufd (before) at $rate/s, $secs s"
  before_fixed="$(load "$LUFD_PID" --rate "$rate" --concurrency 1000)"
  record grpc_lufd_before_peak_rps "$(rfield "$before_peak" rps)"
  record grpc_lufd_before_cpu_us_per_lookup "$(cpu_us "$before_fixed")"
  say "lufd (before) peak:               $before_peak"
  say "at $rate/s: lufd (before) $(cpu_us "$before_fixed") us CPU/lookup ($before_fixed)"
  idle_threads before
  stop_pid "$LUFD_PID"
fi
blog "summary in $SUMMARY"
cat "$SUMMARY"
