#!/usr/bin/env bash
# micro.sh: the in-process benchmarks of bench/micro (Google Benchmark
# programs; no servers, no sockets), one after the other:
#   dnssec_sign_bench  raw EVP_DigestSign vs SignRrset, P-256 and Ed25519
#   responder_bench    parse + respond per query: hit/miss, signed/unsigned,
#                      fresh misses signed on demand
#   signer_bench       one sign-ahead pass over LUFD_SIGN_BENCH_N numbers
#                      (default $BENCH_COUNT), 1 and 2 signer threads
#   sigcache_bench     SignatureCache bytes per entry at 1M entries
#   bulk_import_bench  LUFD_BENCH_TNS (default 200000) number puts: validation
#                      alone and Registry::Execute on the memory Store
#   guard_bench        the guard's Admit + Report per lookup (no limits, rate
#                      only, every rule) and a flooder's refusal
#
# Usage: LUFD_BUILD=/tmp/build-bench bench/micro.sh [--quick]
#   --quick: small sizes (10k numbers to sign, 20k puts) to check the
#   programs run; the numbers then mean little.
# Build first: ninja -C $LUFD_BUILD bench_micro (needs libbenchmark-dev).
#
# Results: $BENCH_WORK/micro/<program>.json (Google Benchmark JSON) and
# .log, the summary table $BENCH_WORK/micro/summary.md (also printed), and
# micro_* KEY=VALUE lines in $BENCH_WORK/results.env, which run-all.sh
# renders into bench/RESULTS.md. A program that fails is recorded as
# FAILED and the others still run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ "${1:-}" == --quick ]]; then
  export LUFD_SIGN_BENCH_N="${LUFD_SIGN_BENCH_N:-10000}"
  export LUFD_BENCH_TNS="${LUFD_BENCH_TNS:-20000}"
fi
export LUFD_SIGN_BENCH_N="${LUFD_SIGN_BENCH_N:-$BENCH_COUNT}"
export LUFD_BENCH_TNS="${LUFD_BENCH_TNS:-200000}"
command -v jq >/dev/null || bdie "jq not installed (tools/install-deps.sh)"
MICRO="$BENCH_WORK/micro"
mkdir -p "$MICRO"

# bm PROGRAM NAME_REGEX FIELD: FIELD of the benchmark runs whose name
# matches, best (largest) of the repetitions, rounded; "n/a" if none.
bm() {
  jq -r --arg re "$2" --arg f "$3" '
    [.benchmarks[] | select(.run_type == "iteration" and (.name | test($re)))
     | .[$f] | numbers] | if length == 0 then "n/a" else (max | if . >= 100 then round else . * 100 | round / 100 end) end
  ' "$MICRO/$1.json" 2>/dev/null || echo n/a
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.1f", 100*a/b; else print "n/a" }'; }
per_us() { awk -v r="$1" 'BEGIN{ if (r+0 > 0) printf "%.2f", 1e6/r; else print "n/a" }'; }

record micro_started "$(date -u +%FT%TZ)"
record micro_load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
record micro_sign_n "$LUFD_SIGN_BENCH_N"
record micro_bulk_tns "$LUFD_BENCH_TNS"
for p in dnssec_sign_bench responder_bench signer_bench sigcache_bench \
  bulk_import_bench guard_bench; do
  bin="$(find "$LUFD_BUILD" -type f -name "$p" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1)"
  if [[ -z "$bin" ]]; then
    record "micro_${p}" "n/a (not built: ninja -C $LUFD_BUILD bench_micro)"
    continue
  fi
  blog "running $p"
  rm -f "$MICRO/$p.json"
  timeout 1800 "$bin" --benchmark_out="$MICRO/$p.json" \
    --benchmark_out_format=json >"$MICRO/$p.log" 2>&1 ||
    { record "micro_${p}" FAILED; tail -n 20 "$MICRO/$p.log" >&2; }
done

for alg in 13 15; do
  raw="$(bm dnssec_sign_bench "^BM_RawEvpDigestSign/$alg/" items_per_second)"
  ours="$(bm dnssec_sign_bench "^BM_SignRrset/$alg/" items_per_second)"
  record "micro_sign_alg${alg}_raw_per_cpu_s" "$raw"
  record "micro_sign_alg${alg}_rrset_per_cpu_s" "$ours"
  record "micro_sign_alg${alg}_rrset_pct_of_raw" "$(ratio "$ours" "$raw")"
done
for c in "signed_hit miss:0/do:1" "unsigned_hit miss:0/do:0" \
  "signed_miss_lru miss:1/do:1" "unsigned_miss miss:1/do:0"; do
  key="${c%% *}"
  q="$(bm responder_bench "^BM_Respond/${c#* }\$" items_per_second)"
  record "micro_respond_${key}_qps" "$q"
  record "micro_respond_${key}_us" "$(per_us "$q")"
  record "micro_respond_${key}_bytes" "$(bm responder_bench "^BM_Respond/${c#* }\$" bytes_per_answer)"
done
q="$(bm responder_bench '^BM_RespondFreshSignedMiss' items_per_second)"
record micro_respond_fresh_signed_miss_qps "$q"
record micro_respond_fresh_signed_miss_us "$(per_us "$q")"
for t in 1 2; do
  record "micro_sign_ahead_${t}t_s" "$(bm signer_bench "threads:$t/" real_time)"
  record "micro_sign_ahead_${t}t_sigs" "$(bm signer_bench "threads:$t/" signatures)"
  record "micro_sign_ahead_${t}t_per_s" "$(bm signer_bench "threads:$t/" sigs_per_s)"
  record "micro_sign_ahead_${t}t_per_cpu_s" "$(bm signer_bench "threads:$t/" sigs_per_cpu_s)"
done
record micro_sigcache_bytes_per_entry "$(bm sigcache_bench '^BM_SignatureCacheFill' bytes_per_entry)"
record micro_validate_us_per_tn "$(per_us "$(bm bulk_import_bench '^BM_ValidateOnly' items_per_second)")"
record micro_execute_us_per_tn "$(per_us "$(bm bulk_import_bench '^BM_ExecuteTnPuts' items_per_second)")"
record micro_finished "$(date -u +%FT%TZ)"
record micro_load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# micro_table: the summary as a Markdown table, from results.env (also used
# by run-all.sh for bench/RESULTS.md).
"$BENCH_DIR/micro-table.sh" "$RESULTS_ENV" | tee "$MICRO/summary.md"
blog "wrote $MICRO/summary.md and $MICRO/*.json"
