#!/usr/bin/env bash
# bench/dns/render.sh RESULTS_ENV [COMMANDS_TXT]: turns the KEY=VALUE results
# of bench/dns/run.sh into markdown. The full N=1M run (or any run with
# BENCH_DNS_TO_RESULTS=1) goes to bench/dns/results-<date>.md and the DNS
# section of bench/RESULTS.md (between the DNS markers, replaced; the gRPC sections and
# the notes are left alone); other runs to results-<date>-n<N>.md next to
# RESULTS_ENV. Safe to re-run.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="$1"
CMDS="${2:-}"
[[ -s "$ENV_FILE" ]] || { echo "render.sh: $ENV_FILE missing" >&2; exit 1; }

get() {
  local v
  v="$(grep "^$1=" "$ENV_FILE" | tail -n 1 | cut -d= -f2-)"
  echo "${v:-n/a}"
}
# first KEY: the first value recorded (runs appended with BENCH_DNS_APPEND).
first() {
  local v
  v="$(grep "^$1=" "$ENV_FILE" | head -n 1 | cut -d= -f2-)"
  echo "${v:-n/a}"
}
isnum() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# ratio A B: A/B to 2 decimals, or n/a.
ratio() {
  if isnum "$1" && isnum "$2" && [[ "$2" != 0 && "$2" != 0.0 ]]; then
    awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'
  else
    echo "n/a"
  fi
}
# verdict VALUE OP LIMIT
verdict() {
  if isnum "$1" && isnum "$3"; then
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN{
      ok = (op == "<=") ? (v+0 <= l+0) : (v+0 >= l+0); print ok ? "PASS" : "MISS" }'
  else
    echo "—"
  fi
}
fmt0() { if isnum "$1"; then awk -v v="$1" 'BEGIN{printf "%.0f", v}'; else echo "$1"; fi; }
mb() { if isnum "$1"; then awk -v v="$1" 'BEGIN{printf "%.0f", v/1024}'; else echo "$1"; fi; }

N="$(get count)"
date_s="$(first run_started | cut -c1-10)"
servers="knot-signed knot-online nsd lufd"
declare -A label=(
  [knot-signed]="Knot 3.2 pre-signed (NSEC3, signed by knotd)"
  [knot-online]="Knot 3.2 mod-onlinesign"
  [nsd]="NSD 4.6 pre-signed (ldns-signzone -n, NSEC3)"
  [lufd]="lufd (online signing, covering denial, guard on)"
)
rate="$(get rate)"

errs() {
  local s="$1" out="" k v
  for k in mix_max mix_rate miss_max miss_rate; do
    v="$(get "${s}_${k}_err")"
    [[ "$v" != n/a && "$v" != 0 ]] && out+="${k}:${v} "
  done
  echo "${out:-0}"
}
achieved() {
  echo "$(fmt0 "$(get "${1}_mix_rate_qps")") / $(fmt0 "$(get "${1}_miss_rate_qps")")"
}
bpn() {
  local h
  h="$(get "${1}_hwm_kb")"
  if isnum "$h" && isnum "$N"; then
    awk -v h="$h" -v n="$N" 'BEGIN{printf "%.0f", h*1024/n}'
  else
    echo n/a
  fi
}

section() {
  cat <<EOF
<!-- BEGIN DNS BENCH -->
## DNS: lufd vs Knot DNS$([[ "$(get nsd_started)" != n/a ]] && echo " and NSD") ($N numbers, $date_s)

Written by \`bench/dns/run.sh $N\` (rendered by \`bench/dns/render.sh\`; do
not edit by hand, notes go in \`bench/results-notes.md\`).

| | |
|---|---|
| run | $(first run_started) .. $(get run_finished), commit $(get run_commit) (servers started at: $(for s in $servers; do [[ "$(get "${s}_started")" != n/a ]] && printf '%s %s; ' "$s" "$(get "${s}_started")"; done)) |
| machine | $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -r) |
| load average | before $(first load_before), after $(get load_after); per server before its start: $(for s in $servers; do [[ "$(get "${s}_load_before")" != n/a ]] && printf '%s %s; ' "$s" "$(get "${s}_load_before")"; done)(per run in the raw values; shared machine) |
| data | $N numbers, $(get data_naptrs) NAPTRs (1-2 per number), $(get data_blocks) blocks of 10k under +4930/+4940/+4989/+1202/+4420; zone file $(mb "$(( $(get data_zone_bytes) / 1024 ))") MB |
| pinning | every server on CPU 0 (one UDP worker), dnsperf on CPU 1 (\`taskset\`) |
| load | \`dnsperf -D\` (DO bit), UDP, $(get seconds) s per run; q-mix = 90 % existing / 10 % non-existing numbers in random order, q-miss = 100 % random non-existing numbers |
| fixed rate | $rate queries/s offered (\`-Q $rate\`) for CPU per answer and latency |
| one core signs | \`openssl speed ecdsap256\`: $(get openssl_ecdsap256_sign_per_s) signatures/s on CPU 0 |

| server | time to serving (s) | peak RSS (MB) | bytes/number | max QPS mix | max QPS miss | CPU per 1,000 answers at $rate/s, mix / miss (ms) | latency at $rate/s, mix: avg ± sd (µs) | latency at $rate/s, miss: avg ± sd (µs) | achieved at $rate/s, mix / miss | error responses |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
  local s
  for s in $servers; do
    [[ "$(get "${s}_started")" == n/a ]] && continue
    echo "| ${label[$s]} | $(get "${s}_tts_s") | $(mb "$(get "${s}_hwm_kb")") | $(bpn "$s") | $(fmt0 "$(get "${s}_mix_max_qps")") | $(fmt0 "$(get "${s}_miss_max_qps")") | $(get "${s}_mix_rate_cpu_ms_per_1k") / $(get "${s}_miss_rate_cpu_ms_per_1k") | $(get "${s}_mix_rate_lat_avg_us") ± $(get "${s}_mix_rate_lat_sd_us") | $(get "${s}_miss_rate_lat_avg_us") ± $(get "${s}_miss_rate_lat_sd_us") | $(achieved "$s") | $(errs "$s") |"
  done
  cat <<EOF

CPU = utime+stime of the server's whole process tree from /proc/PID/stat
around the run, divided by dnsperf's completed queries (ms per 1,000 = µs
per answer). Also at max QPS (µs per answer), mix / miss:
EOF
  for s in $servers; do
    [[ "$(get "${s}_started")" == n/a ]] && continue
    echo "${label[$s]}: $(get "${s}_mix_max_cpu_us_per_answer") / $(get "${s}_miss_max_cpu_us_per_answer");"
  done
  cat <<EOF

Peak RSS = VmHWM (largest process of the tree; NSD's server child shares the
zone with its parent). Time to serving = exec to the first \`dig +dnssec\`
answer with the sample NAPTR RRset and its RRSIG (polled every 50 ms);
it includes Knot's load+sign on one core; NSD's pre-signing by
ldns-signzone took $(get nsd_sign_s) s wall, $(get nsd_sign_cpu_s) s CPU (peak RSS
$(mb "$(get nsd_sign_maxrss_kb)") MB; load then: $(get nsd_sign_load))
before that and is not counted. Full speed from the start: QPS of three
unlimited 1-second q-mix dnsperf runs, back to back right after the first
signed answer (each re-reads the query file, so there are short gaps):
EOF
  for s in $servers; do
    [[ "$(get "${s}_started")" == n/a ]] && continue
    echo "${label[$s]}: $(get "${s}_first_seconds_qps");"
  done
  cat <<EOF

lufd: import of the $N numbers through \`lufctl import\` with the DNS
front door on (lufd on CPU 0, 1 signer thread): $(get lufd_import_s) s; from
the start of the import until the Store held a signature for every number:
$(get lufd_sign_ahead_s) s; peak RSS during import and signing
$(mb "$(get lufd_import_hwm_kb)") MB. Signing all $N RRsets ahead from scratch
(signatures deleted, lufd restarted, exec until all are stored again):
one core (1 thread, CPU 0) $(get lufd_sign_1t_s) s ($(get lufd_sign_1t_cpu_s) s
CPU incl. start-up), two cores (2 threads, CPUs 0-1) $(get lufd_sign_2t_s) s
($(get lufd_sign_2t_cpu_s) s CPU). In-process sign-ahead pass
(\`bench/micro/signer_bench\`, $N numbers, no listeners):
1 thread: $(get sign_test_1t); 2 threads: $(get sign_test_2t).

### lufd / peer ratios (same run)

| lufd / peer | max QPS mix | max QPS miss | CPU per answer mix | CPU per answer miss | peak RSS | time to serving |
|---|---|---|---|---|---|---|
EOF
  for s in knot-signed knot-online nsd; do
    [[ "$(get "${s}_started")" == n/a ]] && continue
    echo "| ${label[$s]} | $(ratio "$(get lufd_mix_max_qps)" "$(get "${s}_mix_max_qps")") | $(ratio "$(get lufd_miss_max_qps)" "$(get "${s}_miss_max_qps")") | $(ratio "$(get lufd_mix_rate_cpu_ms_per_1k)" "$(get "${s}_mix_rate_cpu_ms_per_1k")") | $(ratio "$(get lufd_miss_rate_cpu_ms_per_1k)" "$(get "${s}_miss_rate_cpu_ms_per_1k")") | $(ratio "$(get lufd_hwm_kb)" "$(get "${s}_hwm_kb")") | $(ratio "$(get lufd_tts_s)" "$(get "${s}_tts_s")") |"
  done
  local cpu_r qps_r qps10 miss08 first
  cpu_r="$(ratio "$(get lufd_mix_rate_cpu_ms_per_1k)" "$(get knot-signed_mix_rate_cpu_ms_per_1k)")"
  qps_r="$(ratio "$(get lufd_mix_max_qps)" "$(get knot-signed_mix_max_qps)")"
  qps10="$(ratio "$(get lufd_mix_max_qps)" "$(get knot-online_mix_max_qps)")"
  miss08="$(ratio "$(get lufd_miss_max_qps)" "$(get openssl_ecdsap256_sign_per_s)")"
  denial_section
  cat <<EOF

### Targets (issue 3)

| target | measured | |
|---|---|---|
| mix: lufd CPU per answer ≤ 0.8× Knot pre-signed | ${cpu_r}× | $(verdict "$cpu_r" "<=" 0.8) |
| mix: lufd max QPS ≥ Knot pre-signed | ${qps_r}× | $(verdict "$qps_r" ">=" 1) |
| mix: lufd max QPS ≥ 10× Knot mod-onlinesign | ${qps10}× | $(verdict "$qps10" ">=" 10) |
| all misses: lufd max QPS ≥ 0.8× one core's signatures/s | ${miss08}× ($(fmt0 "$(get lufd_miss_max_qps)") / $(get openssl_ecdsap256_sign_per_s)) | $(verdict "$miss08" ">=" 0.8) |
| peak RSS ≤ 400 bytes per number (every positive signature resident) | $(bpn lufd) | $(verdict "$(bpn lufd)" "<=" 400) |
| signed answers at full speed ≤ 3.5 s after start | $(get lufd_tts_s) s to the first signed answer; per-second QPS $(get lufd_first_seconds_qps) | $(verdict "$(get lufd_tts_s)" "<=" 3.5) (first answer) |

EOF
  if [[ -n "$CMDS" && -s "$CMDS" ]]; then
    echo "### Commands (exact, in order)"
    echo
    echo '```sh'
    echo "bench/dns/run.sh $N   # runs all of the below"
    cat "$CMDS"
    echo '```'
    echo
  fi
  local conf dir pf
  dir="$(dirname "$ENV_FILE")"
  for pf in "$dir"/logs/*-perf-*.txt; do
    [[ -s "$pf" ]] || continue
    echo "<details><summary>profile: $(basename "$pf" .txt) (perf record -e cpu-clock, 5 s under unlimited dnsperf; per DSO, then top symbols)</summary>"
    echo
    echo '```'
    cat "$pf"
    echo '```'
    echo
    echo "</details>"
    echo
  done
  for conf in knot-signed/knot.conf knot-online/knot.conf nsd/nsd.conf lufd/lufd.yaml lufd/covering.yaml lufd/compact.yaml lufd/deep.yaml; do
    [[ -s "$dir/$conf" ]] || continue
    echo "<details><summary>config: $conf</summary>"
    echo
    echo '```yaml'
    cat "$dir/$conf"
    echo '```'
    echo
    echo "</details>"
    echo
  done
  echo "<details><summary>raw values ($ENV_FILE)</summary>"
  echo
  echo '```'
  cat "$ENV_FILE"
  echo '```'
  echo
  echo "</details>"
  echo "<!-- END DNS BENCH -->"
}

# denial_section: issue 9's "Denial speed" targets and the flood's detail:
# per lufd process (the measured one, then a fresh one per denial mode) its
# max QPS on all misses and the 90/10 mix, the covering subtrees (E, C) its
# all-miss run touched and its on-demand signature cache's hit rate.
denial_section() {
  local sp mix_r flood_r s who core_l core_k core_r
  sp="$(get openssl_ecdsap256_sign_per_s)"
  mix_r="$(ratio "$(get lufd_mix_max_qps)" "$(get knot-signed_mix_max_qps)")"
  flood_r="$(ratio "$(get lufd_miss_max_qps)" "$sp")"
  # Per busy core: answers per CPU-second (1e6 / CPU µs per answer at max
  # QPS), against openssl's signatures per (user) CPU-second: what a whole
  # core would give, whatever share of it the shared machine left.
  per_core() {
    if isnum "$1" && [[ "$1" != 0 && "$1" != 0.0 ]]; then
      awk -v u="$1" 'BEGIN{printf "%.0f", 1e6/u}'
    else echo n/a; fi
  }
  core_l="$(per_core "$(get lufd_miss_max_cpu_us_per_answer)")"
  core_k="$(per_core "$(get knot-signed_miss_max_cpu_us_per_answer)")"
  core_r="$(ratio "$core_l" "$sp")"
  cat <<EOF

### Denial speed (issue 9)

| target | measured | |
|---|---|---|
| 90/10 mix: lufd max QPS ≥ Knot pre-signed's | $(fmt0 "$(get lufd_mix_max_qps)") / $(fmt0 "$(get knot-signed_mix_max_qps)") = ${mix_r}× | $(verdict "$mix_r" ">=" 1) |
| all-misses random flood: lufd max QPS ≥ 3 × one core's P-256 signatures/s | $(fmt0 "$(get lufd_miss_max_qps)") / $sp = ${flood_r}× | $(verdict "$flood_r" ">=" 3) |
| the same per busy core: lufd all-miss answers per CPU-second ≥ 3 × signatures per CPU-second | $core_l / $sp = ${core_r}× (Knot pre-signed: $core_k per CPU-second = $(ratio "$core_k" "$sp")×) | $(verdict "$core_r" ">=" 3) |

One core's P-256 signing rate: \`openssl speed -seconds 3 ecdsap256\` pinned
to CPU 0 in this run (load before: $(get openssl_load_before)). lufd's
flood figure is its all-miss max run above (after its mix runs, same
process). Each lufd process below is also listed with a fresh process per
denial mode (same registry and stored signatures, cold on-demand cache):
an unlimited all-miss run on names no earlier lufd run asked, then an
unlimited 90/10 mix run; its counters are the \`dns: responder:\` line it
logs at stop. Subtrees = distinct (E, C) of the all-miss run's names
(closest existing ancestor, first missing label; \`bench/dns/covering_subtrees.py\`
over exactly the lines dnsperf sent): covering signs once per subtree, so
this bounds what a flood of these names can make lufd sign. Cache hit rate
= signature LRU hits / (LRU hits + signatures made on demand).

| lufd process | denial | all-miss max QPS | ÷ signs/s | CPU µs per miss answer | 90/10 mix max QPS | misses in the all-miss run | distinct (E, C) subtrees | most queries on one subtree | E depth (digits) | signed on demand | signature LRU hits | cache hit rate |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
  local q
  for who in lufd lufd-covering lufd-compact lufd-deep; do
    [[ "$(get "${who}_started")" == n/a && "$(get "${who}_tts_s")" == n/a ]] && continue
    local mode="${who#lufd-}" what="fresh process, q-miss then q-mix"
    q=miss
    case "$who" in
      lufd) mode=covering what="the measured one (counters over all its runs)" ;;
      lufd-deep) mode=covering q=deep what="fresh process, q-deep (worst case)" ;;
    esac
    echo "| $what | $mode | $(fmt0 "$(get "${who}_${q}_max_qps")") | $(ratio "$(get "${who}_${q}_max_qps")" "$sp")× | $(get "${who}_${q}_max_cpu_us_per_answer") | $(fmt0 "$(get "${who}_mix_max_qps")") | $(get "${who}_${q}_max_subtrees_queries") | $(get "${who}_${q}_max_subtrees_subtrees") | $(get "${who}_${q}_max_subtrees_max_per_subtree") | $(get "${who}_${q}_max_subtrees_depth_min")-$(get "${who}_${q}_max_subtrees_depth_max") | $(get "${who}_responder_signed_on_demand") | $(get "${who}_responder_signature_lru_hits") | $(get "${who}_sig_cache_hit_rate") |"
  done
  cat <<EOF

q-deep (\`covering_subtrees.py --deep\`): every registered number once, in
random order, with one random digit appended: the closest existing ancestor
is the number itself, so each query is a subtree (E, C) of its own and both
of its NSECs (C.E and *.E) are new: covering's worst case, which no cache
absorbs; only the guard's anonymous signing budget
(\`guard.anonymous.signatures_per_second\`, default 100 per /24) bounds it
(off here: limits nobody reaches).
EOF
}

# Only the full-size run lands in the source tree; smaller (development)
# runs are rendered next to their results.env.
full=0
[[ "$N" == 1000000 || "${BENCH_DNS_TO_RESULTS:-0}" == 1 ]] && full=1
if ((full)); then
  out="$BENCH_DIR/dns/results-${date_s}.md"
else
  out="$(dirname "$ENV_FILE")/results-${date_s}-n$N.md"
fi
section >"$out"
echo "render.sh: wrote $out" >&2
if ((full)); then
  r="$BENCH_DIR/RESULTS.md"
  tmp="$(mktemp)"
  if [[ -f "$r" ]]; then
    # Drop the previous DNS section, keep everything else in place.
    awk '/<!-- BEGIN DNS BENCH -->/{skip=1} !skip{print} /<!-- END DNS BENCH -->/{skip=0}' "$r" >"$tmp"
  fi
  # Trailing blank lines dropped first, so that re-rendering does not add
  # one each time.
  { awk 'NF { while (blank > 0) { print ""; blank-- } print; next } { blank++ }' "$tmp"
    echo; cat "$out"; } >"$r"
  rm -f "$tmp"
  echo "render.sh: updated the DNS section of $r" >&2
fi
