#!/usr/bin/env bash
# lookup.sh: (b) Lookup throughput and latency over mTLS.
#
#   1. null_server (bench/null_server.cc: same mTLS, fixed answer, no work)
#      at closed-loop peak: the ceiling of gRPC + TLS + generator here;
#   2. lufd serving the 1M-number SQLite registry from import.sh, at
#      closed-loop peak (random numbers from the 1M, all found);
#   3. lufd open loop at half its peak: p99 latency;
#   4. null_server open loop at the same rate, for comparison.
# The server is pinned to CPU 0 and the generator to CPU 1 (taskset), unless
# BENCH_NO_PIN=1. Each run lasts BENCH_LOOKUP_S (default 15) measured
# seconds after 2 s warmup; lookup_load reports both sides' CPU use.
# Knobs: BENCH_CHANNELS (8), BENCH_CONCURRENCY (64), BENCH_THREADS (1),
# BENCH_NULL_MODE (sync | callback; default sync).
# Targets: lufd peak / null peak >= 0.7; p99 at half peak <= 2 ms.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_1m
secs="${BENCH_LOOKUP_S:-15}"
channels="${BENCH_CHANNELS:-8}"
conc="${BENCH_CONCURRENCY:-64}"
threads="${BENCH_THREADS:-1}"
null_mode="${BENCH_NULL_MODE:-sync}"

# load PID [extra lookup_load flags...]: prints the RESULT line.
load() {
  run_lookup_load "$BENCH_WORK/lookup.log" "$@" --numbers "$NUMS" \
    --threads "$threads" --expect_found
}

# record_run PREFIX RESULT-LINE
record_run() {
  local k
  for k in rps p50_us p90_us p99_us p999_us errors skipped client_cpu server_cpu; do
    record "$1_$k" "$(rfield "$2" "$k")"
  done
}

echo "=== lookup.sh $(date -u +%FT%TZ)" >>"$BENCH_WORK/lookup.log"

# 1. null_server peak.
start_null_server "$null_mode"
blog "null_server ($null_mode) peak, $secs s"
r="$(load "$NULL_PID")"
record_run lookup_null_peak "$r"
null_rps="$(rfield "$r" rps)"

# 2. lufd peak on the 1M registry.
start_lufd lookup-lufd "sqlite:$DB" "${pin_server[@]}"
out="$(wait_lookup_ok "$(head -n 1 "$NUMS")" 120)" || bdie "lufd not serving: $out"
PORT="$LUFD_PORT"
blog "lufd peak, $secs s"
r="$(load "$LUFD_PID")"
record_run lookup_lufd_peak "$r"
lufd_rps="$(rfield "$r" rps)"
record lookup_ratio_lufd_null "$(awk -v a="$lufd_rps" -v b="$null_rps" 'BEGIN{printf "%.2f", (b>0)?a/b:0}')"
# Lookups per second per busy server core: the ratio independent of whether
# the generator or the server saturated first.
record lookup_null_per_core "$(awk -v r="$null_rps" -v c="$(grep '^lookup_null_peak_server_cpu=' "$RESULTS_ENV" | tail -n1 | cut -d= -f2)" 'BEGIN{printf "%.0f", (c>0)?r/c:0}')"
record lookup_lufd_per_core "$(awk -v r="$lufd_rps" -v c="$(rfield "$r" server_cpu)" 'BEGIN{printf "%.0f", (c>0)?r/c:0}')"

# 3. lufd at half its peak, open loop.
half="$(awk -v a="$lufd_rps" 'BEGIN{printf "%.0f", a/2}')"
record lookup_half_rate "$half"
if ((half > 0)); then
  blog "lufd open loop at $half/s, $secs s"
  r="$(load "$LUFD_PID" --rate "$half" --concurrency 1000)"
  record_run lookup_lufd_half "$r"
fi
record lookup_lufd_rss_kb "$(rss_kb "$LUFD_PID")"
stop_pid "$LUFD_PID"

# 4. null_server at the same rate.
PORT="$(tr -dc 0-9 <"$BENCH_WORK/null.port")"
if ((half > 0)); then
  blog "null_server open loop at $half/s, $secs s"
  r="$(load "$NULL_PID" --rate "$half" --concurrency 1000)"
  record_run lookup_null_half "$r"
fi
stop_pid "$NULL_PID"
