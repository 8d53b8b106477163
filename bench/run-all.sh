#!/usr/bin/env bash
# run-all.sh: runs the three benchmarks (a) import.sh, (b) lookup.sh,
# (c) startup.sh (plus view_memory when built), the in-process benchmarks
# (micro.sh, Google Benchmark programs in bench/micro), optionally (BENCH_DNS=1)
# the DNS benchmark bench/dns/run.sh, and rewrites
# bench/RESULTS.md from their results ($BENCH_WORK/results.env).
#
# Usage: LUFD_BUILD=/tmp/build-bench bench/run-all.sh [--render-only]
# (--render-only rewrites RESULTS.md from the existing results.env.)
# Build first: ninja -C $LUFD_BUILD lufd lufctl gen_numbers lookup_load \
#   null_server view_memory bench_micro
# A failing step is recorded as FAILED and the others still run. Hand-written
# analysis in bench/results-notes.md is appended to RESULTS.md verbatim.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$BENCH_WORK"
if [[ "${1:-}" != --render-only ]]; then
rm -f "$RESULTS_ENV"
record load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
record run_started "$(date -u +%FT%TZ)"
record run_commit "$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SOURCE_DIR" diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes in the tree)')"

"$BENCH_DIR/import.sh" both || record import_step FAILED
if vm="$(find "$LUFD_BUILD" -type f -name view_memory -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)" && [[ -n "$vm" ]]; then
  r="$("$vm" --count "$BENCH_COUNT" | grep '^RESULT')" || record view_memory_step FAILED
  record view_bytes_per_number "$(rfield "$r" bytes_per_number)"
  record view_build_s "$(rfield "$r" build_s)"
  record view_resolve_per_s "$(rfield "$r" resolve_per_s)"
fi
"$BENCH_DIR/lookup.sh" || record lookup_step FAILED
"$BENCH_DIR/startup.sh" || record startup_step FAILED
# The in-process benchmarks (bench/micro, when built: ninja bench_micro).
"$BENCH_DIR/micro.sh" || record micro_step FAILED
# Optional (BENCH_DNS=1): the DNS benchmark against Knot and NSD; it writes
# bench/dns/results-<date>.md, which is appended below.
if [[ "${BENCH_DNS:-0}" == 1 ]]; then
  "$BENCH_DIR/dns/run.sh" "$BENCH_COUNT" || record dns_step FAILED
fi
record run_finished "$(date -u +%FT%TZ)"
record load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
fi

# get KEY: the last value recorded for KEY, or "n/a".
get() {
  local v
  v="$(grep "^$1=" "$RESULTS_ENV" | tail -n 1 | cut -d= -f2-)"
  echo "${v:-n/a}"
}
# verdict VALUE OP LIMIT: PASS/MISS for numeric values.
verdict() {
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN{
    if (v !~ /^[0-9.]+$/) { print "—"; exit }
    ok = (op == "<=") ? (v+0 <= l+0) : (v+0 >= l+0);
    print ok ? "PASS" : "MISS" }'
}

commit="$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
n="$BENCH_COUNT"
half_p99_ms="$(awk -v u="$(get lookup_lufd_half_p99_us)" 'BEGIN{ if (u ~ /^[0-9.]+$/) printf "%.2f", u/1000; else print "n/a" }')"

{
  cat <<EOF2
# lufd benchmark results

Written by \`bench/run-all.sh\` (do not edit by hand; notes go in
\`bench/results-notes.md\`, appended below).

| | |
|---|---|
| date | $(get run_started) .. $(get run_finished) |
| machine | $(nproc) CPUs, $cpu, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(uname -r) |
| commit | $(get run_commit) |
| load average | before $(get load_before), after $(get load_after) (shared machine: other builds ran concurrently) |
| numbers | $n (gen_numbers: blocks of 10k under +4930, one NAPTR each) |
| pinning | server CPU 0, generator CPU 1 ($( [[ "${BENCH_NO_PIN:-0}" == 1 ]] && echo off || echo taskset)) |

## Results

| # | metric | measured | target | |
|---|---|---|---|---|
| a | \`lufctl import\` $n TNs into SQLite (s) | $(get import_sqlite_s) ($(get import_sqlite_rate)/s, served: $(get import_sqlite_verified); lufd CPU $(get import_sqlite_lufd_cpu_s) s, peak RSS $(get import_sqlite_lufd_hwm_kb) kB) | ≤ 20 | $(verdict "$(get import_sqlite_s)" "<=" 20) |
| a | \`lufctl import\` $n TNs into PostgreSQL (s) | $(get import_postgres_s) ($(get import_postgres_rate)/s, served: $(get import_postgres_verified); lufd CPU $(get import_postgres_lufd_cpu_s) s, peak RSS $(get import_postgres_lufd_hwm_kb) kB) | ≤ 30 | $(verdict "$(get import_postgres_s)" "<=" 30) |
| b | null_server peak (lookups/s) | $(get lookup_null_peak_rps) (p99 $(get lookup_null_peak_p99_us) µs; CPU server $(get lookup_null_peak_server_cpu), client $(get lookup_null_peak_client_cpu)) | — | |
| b | lufd peak, $n TNs (lookups/s) | $(get lookup_lufd_peak_rps) (p99 $(get lookup_lufd_peak_p99_us) µs; CPU server $(get lookup_lufd_peak_server_cpu), client $(get lookup_lufd_peak_client_cpu); errors $(get lookup_lufd_peak_errors)) | — | |
| b | lufd / null peak | $(get lookup_ratio_lufd_null) | ≥ 0.7 | $(verdict "$(get lookup_ratio_lufd_null)" ">=" 0.7) |
| b | lookups per busy server core: lufd / null | $(get lookup_lufd_per_core) / $(get lookup_null_per_core) | — | |
| b | lufd p99 at half peak ($(get lookup_half_rate)/s, open loop) (ms) | $half_p99_ms (p50 $(get lookup_lufd_half_p50_us) µs, p999 $(get lookup_lufd_half_p999_us) µs, achieved $(get lookup_lufd_half_rps)/s) | ≤ 2 | $(verdict "$half_p99_ms" "<=" 2) |
| b | null_server at the same rate: p99 (µs) | $(get lookup_null_half_p99_us) (p50 $(get lookup_null_half_p50_us)) | — | |
| c | time from exec to first found Lookup, $n TNs (s, worst of runs) | $(get startup_1m_worst_s) (runs: $(get startup_1m_run1_s), $(get startup_1m_run2_s)) | ≤ 5 | $(verdict "$(get startup_1m_worst_s)" "<=" 5) |
| c | lufd VmRSS: empty registry / $n TNs (kB) | $(get startup_empty_rss_kb) / $(get startup_1m_rss_kb) (VmHWM $(get startup_1m_run1_hwm_kb)) | — | |
| c | bytes per number, (RSS_1M − RSS_empty) / $n | $(get startup_bytes_per_number) | ≤ 200 | $(verdict "$(get startup_bytes_per_number)" "<=" 200) |
| c | in-process RegistryView (view_memory): bytes/number, build s, ResolveNumber/s | $(get view_bytes_per_number), $(get view_build_s), $(get view_resolve_per_s) | — | |

Failed steps: $(grep -E '_step=FAILED|=FAILED' "$RESULTS_ENV" | cut -d= -f1 | tr '\n' ' ' || true)

## Commands

\`\`\`sh
cmake -S . -B /tmp/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
ninja -C /tmp/build-bench -j2 lufd lufctl gen_numbers lookup_load null_server view_memory bench_micro
LUFD_BUILD=/tmp/build-bench bench/run-all.sh        # or one step:
bench/import.sh [sqlite|postgres|both]               # (a)
bench/lookup.sh                                      # (b), needs import.sh sqlite
bench/startup.sh                                     # (c), needs import.sh sqlite
/tmp/build-bench/bench/view_memory --count $n
LUFD_BUILD=/tmp/build-bench bench/micro.sh           # in-process benchmarks
\`\`\`

What the scripts run (see the scripts for details):

- (a) \`gen_numbers --count $n --registrant iana-en:222 --dest_groups dg-bench --out numbers.csv\`;
  \`lufctl db migrate\` + \`db bootstrap\`; lufd; orgs / dg / SED group / accepted offer via lufctl;
  timed: \`lufctl --server 127.0.0.1:PORT --ca ca.pem --cert admin.pem --key admin.key import numbers.csv\`.
- (b) \`taskset -c 0 null_server --mode ${BENCH_NULL_MODE:-sync}\` / \`taskset -c 0 lufd\`;
  \`taskset -c 1 lookup_load --channels ${BENCH_CHANNELS:-8} --concurrency ${BENCH_CONCURRENCY:-64} --threads ${BENCH_THREADS:-1} --duration_s ${BENCH_LOOKUP_S:-15} --warmup_s 2 --numbers numbers.txt --expect_found\`
  (peak: closed loop; half: \`--rate <peak/2> --concurrency 1000\`, latency from the scheduled send time).
- (c) \`lufd --config ...\` then \`lookup_load --wait_ok_s 120 --expect_found --query <first TN>\`; VmRSS from /proc/PID/status 1 s later.

Raw values: \`$RESULTS_ENV\`; program output: \`$BENCH_WORK/*.log\`.

\`\`\`
$(cat "$RESULTS_ENV")
\`\`\`
EOF2
  echo
  "$BENCH_DIR/micro-table.sh" "$RESULTS_ENV"
  if [[ -f "$BENCH_DIR/results-notes.md" ]]; then
    echo
    cat "$BENCH_DIR/results-notes.md"
  fi
  # The DNS section (bench/dns/run.sh): the newest full-size results file.
  dns_latest="$(ls -1 "$BENCH_DIR"/dns/results-????-??-??.md 2>/dev/null | tail -n 1)"
  if [[ -n "$dns_latest" ]]; then
    echo
    cat "$dns_latest"
  fi
} >"$BENCH_DIR/RESULTS.md"
blog "wrote $BENCH_DIR/RESULTS.md"
