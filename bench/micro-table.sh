#!/usr/bin/env bash
# micro-table.sh RESULTS_ENV: the in-process benchmark results (the micro_*
# lines bench/micro.sh recorded) as a Markdown section, on stdout. Used by
# micro.sh (summary.md) and run-all.sh (bench/RESULTS.md).
set -euo pipefail
env_file="$1"
get() {
  local v
  v="$(grep "^$1=" "$env_file" 2>/dev/null | tail -n 1 | cut -d= -f2-)"
  echo "${v:-n/a}"
}
cat <<EOF2
## In-process benchmarks (bench/micro.sh)

$(get micro_started) .. $(get micro_finished); load before $(get micro_load_before),
after $(get micro_load_after). Google Benchmark programs in \`bench/micro/\`;
raw JSON in \`\$BENCH_WORK/micro/\`. Rates of single-thread benchmarks are
per CPU-second of the benchmark thread (best of the repetitions).

| program | what | result |
|---|---|---|
| dnssec_sign_bench | ECDSA P-256 (13): raw EVP_DigestSign / SignRrset of 2 NAPTRs (per CPU-s) | $(get micro_sign_alg13_raw_per_cpu_s) / $(get micro_sign_alg13_rrset_per_cpu_s) ($(get micro_sign_alg13_rrset_pct_of_raw) % of raw) |
| dnssec_sign_bench | Ed25519 (15): raw EVP_DigestSign / SignRrset of 2 NAPTRs (per CPU-s) | $(get micro_sign_alg15_raw_per_cpu_s) / $(get micro_sign_alg15_rrset_per_cpu_s) ($(get micro_sign_alg15_rrset_pct_of_raw) % of raw) |
| responder_bench | signed hit, signature from the SignatureCache (q/s, µs/q, B/answer) | $(get micro_respond_signed_hit_qps), $(get micro_respond_signed_hit_us), $(get micro_respond_signed_hit_bytes) |
| responder_bench | unsigned hit | $(get micro_respond_unsigned_hit_qps), $(get micro_respond_unsigned_hit_us), $(get micro_respond_unsigned_hit_bytes) |
| responder_bench | signed miss, denial from the LRU | $(get micro_respond_signed_miss_lru_qps), $(get micro_respond_signed_miss_lru_us), $(get micro_respond_signed_miss_lru_bytes) |
| responder_bench | unsigned miss | $(get micro_respond_unsigned_miss_qps), $(get micro_respond_unsigned_miss_us), $(get micro_respond_unsigned_miss_bytes) |
| responder_bench | fresh miss, signed on demand (q/s, µs/q) | $(get micro_respond_fresh_signed_miss_qps), $(get micro_respond_fresh_signed_miss_us) |
| signer_bench | sign-ahead pass, $(get micro_sign_n) numbers, 1 thread: s, signatures, /s wall, /CPU-s | $(get micro_sign_ahead_1t_s), $(get micro_sign_ahead_1t_sigs), $(get micro_sign_ahead_1t_per_s), $(get micro_sign_ahead_1t_per_cpu_s) |
| signer_bench | the same, 2 threads | $(get micro_sign_ahead_2t_s), $(get micro_sign_ahead_2t_sigs), $(get micro_sign_ahead_2t_per_s), $(get micro_sign_ahead_2t_per_cpu_s) |
| sigcache_bench | SignatureCache bytes per entry at 1M (RSS growth) | $(get micro_sigcache_bytes_per_entry) |
| bulk_import_bench | $(get micro_bulk_tns) number puts: validation alone / Registry::Execute (µs per number) | $(get micro_validate_us_per_tn) / $(get micro_execute_us_per_tn) |

Failed or missing programs: $(grep -E '^micro_[a-z_]*bench=' "$env_file" 2>/dev/null | cut -d= -f1,2 | tr '\n' ' ' || true)
EOF2
