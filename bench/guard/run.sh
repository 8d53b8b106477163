#!/usr/bin/env bash
# bench/guard/run.sh: the guard's benchmarks (issue 9, "Benchmarks"), one
# command; builds nothing. Scenarios (BENCH_GUARD_SCENARIOS, default
# "cost flood harvest"), against lufd (gRPC + DNS on 127.0.0.1, one DNS
# worker, online DNSSEC P-256, covering denial) serving BENCH_GUARD_COUNT
# (default 100000) numbers from bench/gen_numbers, in a public SED group
# also offered to the peers. The store (BENCH_GUARD_STORE): "sqlite"
# (default; one file, migrated, imported and signed ahead once per COUNT
# and reused) or "postgres" (a throw-away PostgreSQL 15 cluster in
# $BENCH_WORK/guard/pg via tests/support/pg-harness.sh, set up on every
# run, deleted at exit). cost and flood use one lufd:
#
#  cost     guard.enabled true (every identity far under generous limits)
#           vs false, alternating on/off/on/off (BENCH_GUARD_ROUNDS pairs,
#           default 3), each a fresh lufd: lookup_load closed loop (gRPC,
#           peer-ssp1) then dnsperf on a 90 % hit / 10 % miss NAPTR mix with
#           DO. Ratio = mean(on) / mean(off); target >= 0.95.
#  flood    dns_flood --mode=flood: random-miss NAPTR (DO) from 64 UDP
#           sources 127.0.x.1 as fast as one core can; meanwhile an
#           identified peer (DoT with peer-ssp1's client certificate,
#           dns_flood --mode=dot --dot_rate 1000, hits; or TSIG over
#           BENCH_GUARD_PEER_MODE=tcp|udp with dnsperf -y) and an
#           anonymous resolver on 127.0.200.1 (dns_flood --mode=legit,
#           1,000 q/s of hits, TCP retry on TC=1). Per-second answered
#           shares, lufd's CPU and its signatures made on demand (the
#           responder line lufd logs at stop). Targets: peer >= 99.9 %,
#           resolver >= 99 % from second 2. Also once with the guard off
#           (BENCH_GUARD_FLOOD_OFF=0 skips that) for comparison.
#  harvest  BENCH_GUARD_REPLICAS lufd (1 or 2; default 2 on postgres, 1 on
#           sqlite) on the one store, each with a DoT listener (client
#           certificate optional) and, on postgres, guard.shared: true
#           (the disclosure budget leased from the store, ledger_sync.h).
#           Org iana-en:333 (one identity on every door: certificate
#           peer-ssp3 = TSIG key harv-key.) with distinct_numbers_per_day
#           10,000 scans the numbers in order at full speed over four doors
#           at once, one quarter of the list each: unary Lookup
#           (lookup_load --sequential), BatchLookup (lookup_load --batch
#           100), DoT (dns_flood --mode=dot, one pass) and TSIG DNS
#           (dnsperf -y, one pass). With two replicas the first three
#           alternate between A and B (per call, per stream, per query) and
#           TSIG DNS goes to B (dnsperf takes one server);
#           BENCH_GUARD_HARVEST_ALTERNATE=0 fixes unary and TSIG on A,
#           BatchLookup and DoT on B. With one replica, all on A. Meanwhile peer-ssp1 looks up at 1,000/s
#           (open loop) on replica A, after a baseline run alone. Distinct
#           numbers the harvester got answered with SED (lookup_load
#           distinct_found, dnsperf NOERROR over distinct names, dns_flood
#           distinct_naptr), per door and in total, <= 1.05 x 10,000, next
#           to guard.h's bound (budget + R x chunk, about budget + 3 x R x
#           chunk across window edges) and the leases granted in the store;
#           legitimate peer >= 99.9 % answered, p99 <= 2 ms. Run twice, each
#           with fresh lufd and (postgres) the lease table emptied: with the
#           guard's defaults (the offence rule blocks the harvester after
#           1,000 refusals; lease waits are no offence, so once the shared
#           budget is spent), then, unless BENCH_GUARD_HARVEST_NOBLOCK=0,
#           with offence_denials out of reach, so only the disclosure budget
#           holds it (results harvest_noblock_*).
#
# Usage: LUFD_BUILD=build bench/guard/run.sh
#        BENCH_GUARD_STORE=postgres BENCH_GUARD_SCENARIOS=harvest bench/guard/run.sh
#        bench/guard/run.sh --render-only    (rewrite RESULTS.md only)
# Build first: ninja -C $LUFD_BUILD lufd lufctl gen_numbers lookup_load dns_flood null_server
# Environment: LUFD_BUILD, BENCH_WORK (default /tmp/lufd-bench; this bench
# uses $BENCH_WORK/guard), BENCH_NO_PIN (bench/lib.sh: lufd on CPU 0, load
# generators on CPU 1), BENCH_GUARD_COUNT, BENCH_GUARD_SCENARIOS,
# BENCH_GUARD_STORE, BENCH_GUARD_REPLICAS and BENCH_GUARD_HARVEST_ALTERNATE
# (harvest only),
# BENCH_GUARD_S (seconds per cost run, default 10), BENCH_GUARD_FLOOD_S
# (default 15), BENCH_GUARD_HARVEST_S (default 15), BENCH_GUARD_HARVEST_YAML
# (lines added to the harvest's guard: section), BENCH_GUARD_HARVEST_NOBLOCK,
# BENCH_GUARD_ANON_RATE
# (anonymous lookups/s per prefix in the flood run, default 1100, with
# miss_cost 4: the resolver's 1,000/s of hits must fit, a flooding /24
# sending misses at more than 275/s must not), BENCH_GUARD_FLOOD_MAX_QPS (0 = unbounded).
# Results: $BENCH_WORK/guard/results.env, logs/ and commands.txt there, and
# bench/guard/RESULTS.md when all three scenarios ran (else
# $BENCH_WORK/guard/RESULTS.md; bench/guard/render.sh can take the harvest
# from a second run's results). Not run by ctest/CI.
BENCH_WORK="${BENCH_WORK:-/tmp/lufd-bench}"
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=bench/dns/lib.sh
source "$BENCH_DIR/dns/lib.sh"

G="$BENCH_WORK/guard"
RESULTS_ENV="$G/results.env"
CMDS="$G/commands.txt"
LOGS="$G/logs"
OUT_MD="$BENCH_DIR/guard/RESULTS.md"
COUNT="${BENCH_GUARD_COUNT:-100000}"
SCENARIOS="${BENCH_GUARD_SCENARIOS:-cost flood harvest}"
SECS="${BENCH_GUARD_S:-10}"
FLOOD_S="${BENCH_GUARD_FLOOD_S:-15}"
HARVEST_S="${BENCH_GUARD_HARVEST_S:-15}"
ROUNDS="${BENCH_GUARD_ROUNDS:-3}"
ANON_RATE="${BENCH_GUARD_ANON_RATE:-1100}"
BUDGET=10000
APEX="e164.arpa."
STORE="${BENCH_GUARD_STORE:-sqlite}"
[[ "$STORE" == sqlite || "$STORE" == postgres ]] ||
  { echo "BENCH_GUARD_STORE must be sqlite or postgres" >&2; exit 2; }
if [[ "$STORE" == postgres ]]; then
  REPLICAS="${BENCH_GUARD_REPLICAS:-2}"
else
  REPLICAS="${BENCH_GUARD_REPLICAS:-1}"
fi
[[ "$REPLICAS" == 1 || "$REPLICAS" == 2 ]] ||
  { echo "BENCH_GUARD_REPLICAS must be 1 or 2" >&2; exit 2; }
BATCH=100

render() { "$BENCH_DIR/guard/render.sh" "$RESULTS_ENV" "$CMDS" >"$OUT_MD"; }
if [[ "${1:-}" == --render-only ]]; then
  render
  exit 0
fi
# A run of only some scenarios would leave the committed RESULTS.md with
# empty tables: it writes $G/RESULTS.md instead (render.sh can merge a
# harvest-only run into a full run's tables).
for s in cost flood harvest; do
  [[ " $SCENARIOS " == *" $s "* ]] || OUT_MD="$G/RESULTS.md"
done

mkdir -p "$G" "$LOGS"
chmod 755 "$BENCH_WORK" "$G"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
_bench_pinning
# BENCH_GUARD_NICE=N (e.g. -10; needs root): run lufd and the generators at
# that nice level, and the legitimate clients (the peers and the resolver,
# which in reality sit on other machines than the attacker) 5 lower still,
# so that a shared machine's other work (builds) distorts less.
legit_pre=()
if [[ -n "${BENCH_GUARD_NICE:-}" ]]; then
  pin_server=(nice -n "$BENCH_GUARD_NICE" "${pin_server[@]}")
  pin_client=(nice -n "$BENCH_GUARD_NICE" "${pin_client[@]}")
  legit_pre=(nice -n "$((BENCH_GUARD_NICE - 5))")
fi
tools=(dnsperf dig sqlite3 taskset)
[[ "$STORE" == postgres ]] && tools+=(psql)
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || bdie "$t not installed"
done
LUFD_BIN="$(find_bin lufd)"
LUFCTL_BIN="$(find_bin lufctl)"
GEN_BIN="$(find_bin gen_numbers)"
LOAD_BIN="$(find_bin lookup_load)"
NULL_BIN="$(find_bin null_server)"
FLOOD_BIN="$(find_bin dns_flood)"
PKI="$G/pki"
"$SOURCE_DIR/tools/dev-pki.sh" --quiet "$PKI"
rm -f "$RESULTS_ENV" "$CMDS"
record run_started "$(date -u +%FT%TZ)"
record run_commit "$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SOURCE_DIR" diff --quiet HEAD -- 2>/dev/null || echo ' (+ uncommitted changes)')"
record load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
record cpus "$(nproc)"
record pinning "${pin_server[*]:-none} (lufd) / ${pin_client[*]:-none} (generators)"
record count "$COUNT"
record store "$STORE"
# cmd ARGS...: log the exact command line to commands.txt.
cmd() { echo "$*" >>"$CMDS"; }

# ------------------------------------------------------------------ data
BENCH_COUNT="$COUNT"
ensure_csv  # $CSV, $NUMS in $BENCH_WORK (bench/lib.sh)
cmd "$GEN_BIN --count $COUNT --subscriber_digits 7 --registrant iana-en:222 --dest_groups dg-bench --out $CSV (and --numbers_only --out $NUMS)"
D="$G/data-$COUNT"
mkdir -p "$D"
# qname NUMBER-FILE: ENUM names (RFC 6116) of "+digits" lines.
qnames() {
  awk -v apex="$APEX" '{ d = $1; sub(/^\+/, "", d); n = "";
    for (i = length(d); i >= 1; i--) n = n substr(d, i, 1) ".";
    print n apex " NAPTR" }' "$1"
}
if [[ ! -s "$D/q-mix.txt" ]]; then
  qnames "$NUMS" >"$D/hits.txt"
  shuf --random-source=<(yes) "$D/hits.txt" >"$D/hits-shuf.txt"
  # Misses: random 11-digit numbers under +1 that are not in the registry
  # (gen_numbers' blocks are sparse; a collision would only be a hit).
  awk -v n=$((COUNT * 2)) 'BEGIN { srand(9); for (i = 0; i < n; i++)
    printf "+1%010d\n", int(rand() * 1e10) }' | grep -vxF -f "$NUMS" |
    qnames /dev/stdin >"$D/misses.txt"
  # 90/10: nine hits, then one miss, repeated.
  awk 'NR == FNR { m[FNR] = $0; nm = FNR; next }
    { print; if (FNR % 9 == 0) { k++; print m[(k - 1) % nm + 1] } }' \
    "$D/misses.txt" "$D/hits-shuf.txt" >"$D/q-mix.txt"
  head -n $((COUNT / 2)) "$NUMS" >"$D/nums-first-half.txt"
  tail -n +$((COUNT / 2 + 1)) "$NUMS" | qnames /dev/stdin >"$D/q-second-half.txt"
fi
# The harvester's four doors: the number list in quarters, in order.
if [[ ! -s "$D/q-q4.txt" ]]; then
  q=$(((COUNT + 3) / 4))
  split -d -a 1 -l "$q" "$NUMS" "$D/nums-q"
  for i in 1 2 3 4; do mv "$D/nums-q$((i - 1))" "$D/nums-q$i.txt"; done
  qnames "$D/nums-q3.txt" >"$D/q-q3.txt"
  qnames "$D/nums-q4.txt" >"$D/q-q4.txt"
fi
record mix_lines "$(wc -l <"$D/q-mix.txt")"

# --------------------------------------------------------------- lufd

DB="$G/registry-$COUNT.db"
KEYS="$G/keys-$COUNT"
STORE_URL="sqlite:$DB"
[[ "$STORE" == postgres ]] && KEYS="$G/keys-pg"
DNS_PORT=""
DOT_PORT=""  # Set: conf adds a DoT listener (client certificate optional).
TSIG_PEER_SECRET="$(head -c 32 /dev/urandom | base64 -w0)"
TSIG_HARV_SECRET="$(head -c 32 /dev/urandom | base64 -w0)"

# conf NAME GUARD-YAML: $G/NAME.yaml (gRPC on a kernel-chosen port, DNS on
# $DNS_PORT, DoT on $DOT_PORT when set, the store $STORE_URL, the guard
# section given).
conf() {
  local dot=""
  [[ -n "$DOT_PORT" ]] && dot="  dot:
    listen: \"127.0.0.1:$DOT_PORT\"
    client_cert: \"optional\"
    tls:
      cert_file: \"$PKI/server.pem\"
      key_file: \"$PKI/server.key\"
      client_ca_file: \"$PKI/ca.pem\""
  cat >"$G/$1.yaml" <<EOF
$(bench_grpc_yaml)
store:
  url: "$STORE_URL"
  migrate_on_start: false
log:
  level: "info"
dns:
  listen: ["127.0.0.1:$DNS_PORT"]
  workers: 1
$dot
  zones:
    - name: "$APEX"
  dnssec:
    key_dir: "$KEYS"
    algorithm: 13
$2
EOF
}
# Every identity far under its limits (cost runs).
GENEROUS="guard:
  enabled: true
  peer: { lookups_per_second: 100000000, burst: 100000000 }
  anonymous: { lookups_per_second: 100000000, burst: 100000000, signatures_per_second: 100000000, signing_burst: 100000000 }"
GUARD_OFF="guard:
  enabled: false"

# start NAME: lufd with $G/NAME.yaml on CPU 0 (bench/lib.sh launch_lufd:
# LUFD_PID, LUFD_PORT); waits (bounded) until gRPC answers a lookup and DNS
# answers the apex SOA.
start() {
  local name="$1" i
  : >"$LOGS/$name.log"
  cmd "${pin_server[*]} $LUFD_BIN --config $G/$name.yaml --port-file $G/$name.port"
  launch_lufd "$name" "$G/$name.yaml" "$G/$name.port" "$LOGS/$name.log" \
    "${pin_server[@]}"
  wait_healthy || bdie "lufd ($name) not healthy"
  for ((i = 0; i < 300; i++)); do
    dig @127.0.0.1 -p "$DNS_PORT" +time=1 +tries=1 +short SOA "$APEX" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  bdie "lufd ($name) does not answer DNS"
}
stop() {
  stop_pid "$LUFD_PID"
}
# responder NAME KEY: record lufd's "dns: responder:" counters (at stop).
responder() {
  local line
  line="$(grep -h 'dns: responder:' "$LOGS/$1.log" | tail -n 1)"
  record "$2_signed_on_demand" "$(sed -n 's/.*signed on demand \([0-9]*\).*/\1/p' <<<"$line")"
  record "$2_responder" "\"${line#*dns: responder: }\""
  line="$(grep -h 'dns: stopped;' "$LOGS/$1.log" | tail -n 1)"
  record "$2_dns_server" "\"${line#*dns: stopped; }\""
}

# The registry: migrated, bootstrapped, provisioned, imported and signed
# ahead once per COUNT (reused by later runs).
# With BENCH_GUARD_STORE=postgres: a throw-away PostgreSQL 15 cluster in
# $G/pg (tests/support/pg-harness.sh: initdb, a free loopback port, the
# unix socket in that directory; stopped and deleted at exit), set up on
# every run.
setup_registry() {
  DNS_PORT="$(free_port)"
  if [[ "$STORE" == postgres ]]; then
    rm -rf "$G/pg"
    pg_start_bench "$G/pg"
    STORE_URL="$PG_URL"
    record registry "PostgreSQL 15 cluster in $G/pg (fresh)"
    cmd "tests/support/pg-harness.sh pg_start $G/pg -> $PG_URL"
  elif [[ -s "$DB" && -s "$G/registry-$COUNT.ready" ]]; then
    record registry "reused $DB"
    return 0
  fi
  rm -rf "$KEYS"
  [[ "$STORE" == sqlite ]] && rm -rf "$DB"*
  mkdir -p "$KEYS"
  chmod 700 "$KEYS"
  db_init "$STORE_URL"
  conf setup "$GENEROUS"
  start setup
  _p org add --id iana-en:111 --name SSP1 --role peer --role registrar
  _p org add --id iana-en:222 --name SSP2 --role registrant --role registrar \
    --role peer
  _p org add --id iana-en:333 --name Harvester --role peer \
    --distinct-per-day "$BUDGET"
  _p credential add --id cred-peer-ssp1 --org iana-en:111 --role peer \
    --san-uri urn:lufd:peer:ssp1
  _p credential add --id cred-peer-ssp3 --org iana-en:333 --role peer \
    --san-uri urn:lufd:peer:ssp3
  _p dg add --id dg-bench --registrant iana-en:222
  _p record add --id rec-bench --registrant iana-en:222 --type naptr \
    --ttl 3600 --order 200 --preference 10 --flags u --services E2U+sip \
    --regexp '!^(.*)$!sip:\1@ssp2.example.com!'
  # Public: anonymous DNS sees the numbers too (flood, cost mix).
  _p sedgroup add --id sg-bench --registrant iana-en:222 --dg dg-bench \
    --record rec-bench --public
  cmd "lufctl (admin): org add iana-en:111 (peer), iana-en:222 (registrant), iana-en:333 --role peer --distinct-per-day $BUDGET; credential add peer SAN ssp1/ssp3; dg add dg-bench; record add rec-bench; sedgroup add sg-bench --public"
  local t0 t1
  t0="$(now_s)"
  cmd "lufctl (admin) --timeout 600 import $CSV"
  ctl admin --timeout 600 import "$CSV" >"$LOGS/import.out" 2>&1 ||
    { tail -n 20 "$LOGS/import.out" >&2; bdie "import failed"; }
  t1="$(now_s)"
  record import_s "$(elapsed "$t0" "$t1")"
  # Bounded wait for sign-ahead of every number (signature table rows).
  local n table end=$(($(date +%s) + 600))
  while (($(date +%s) < end)); do
    if [[ "$STORE" == postgres ]]; then
      table="$(psql "$STORE_URL" -Atc "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%signature%' LIMIT 1" 2>/dev/null || true)"
      [[ -n "$table" ]] && n="$(psql "$STORE_URL" -Atc "SELECT count(*) FROM $table" 2>/dev/null || echo 0)"
    else
      table="$(sqlite3 -readonly "$DB" ".timeout 2000" "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%signature%' LIMIT 1" 2>/dev/null || true)"
      [[ -n "$table" ]] && n="$(sqlite3 -readonly "$DB" ".timeout 2000" "SELECT count(*) FROM $table" 2>/dev/null || echo 0)"
    fi
    [[ "${n:-0}" =~ ^[0-9]+$ ]] && ((n >= COUNT)) && break
    sleep 1
  done
  record sign_ahead_rows "${n:-0}"
  record sign_ahead_s "$(elapsed "$t1" "$(now_s)")"
  stop
  [[ "$STORE" == sqlite ]] && date -u +%FT%TZ >"$G/registry-$COUNT.ready"
  return 0
}

# TSIG keys are credentials (stored); set them on every start of the
# scenarios that use them (idempotent "add" replaces).
add_tsig() {
  _p credential add --id cred-tsig-ssp1 --org iana-en:111 --role peer \
    --tsig-name ssp1-key. --tsig-secret "$TSIG_PEER_SECRET"
  _p credential add --id cred-tsig-harv --org iana-en:333 --role peer \
    --tsig-name harv-key. --tsig-secret "$TSIG_HARV_SECRET"
  cmd "lufctl (admin): credential add cred-tsig-ssp1 --org iana-en:111 --tsig-name ssp1-key.; credential add cred-tsig-harv --org iana-en:333 --tsig-name harv-key. (fresh random secrets)"
}

load_pre=()
# load WHO TAG [flags...]: lookup_load as WHO (a dev-PKI peer cert) against
# the running lufd, pinned to the client CPU; prints the RESULT line.
load() {
  local who="$1" tag="$2"
  shift 2
  local c=("${load_pre[@]}" "${pin_client[@]}" "$LOAD_BIN"
    --target "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" --cert "$PKI/$who.pem" --key "$PKI/$who.key"
    --server_pid "$LUFD_PID" "$@")
  cmd "${c[*]}"
  "${c[@]}" >"$LOGS/$tag.load" 2>&1 || true
  grep '^RESULT' "$LOGS/$tag.load" || echo "RESULT rps=0"
}
# dnsperf_run TAG [args...]: dnsperf against the running lufd's DNS port
# with DO; report in logs/TAG.dnsperf. Pinned when dp_pin is set.
dp_pin=()
dnsperf_run() {
  local tag="$1"
  shift
  local c=("${dp_pin[@]}" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -D -t 2
    -O "suppress=timeouts,unexpected" "$@")
  cmd "${c[*]}"
  timeout 700 "${c[@]}" >"$LOGS/$tag.dnsperf" 2>&1 || true
}
# rcode FILE NAME: the count of one response code in a dnsperf report.
rcode() {
  sed -n "s/.*Response codes:.*$2 \([0-9]*\) .*/\1/p" "$1" | head -n 1 |
    grep . || echo 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0) ? a / b : 0}'; }
mean() { awk '{s += $1; n++} END {printf "%.0f", n ? s / n : 0}'; }

# ------------------------------------------------------------------ cost
scenario_cost() {
  local r mode res q c0 c1 cores
  for ((r = 1; r <= ROUNDS; r++)); do
    for mode in on off; do
      if [[ $mode == on ]]; then conf "cost-$mode-$r" "$GENEROUS"; else
        conf "cost-$mode-$r" "$GUARD_OFF"; fi
      start "cost-$mode-$r"
      res="$(load peer-ssp1 "cost-$mode-$r" --numbers "$NUMS" --channels 8 \
        --concurrency 64 --duration_s "$SECS" --warmup_s 2 --expect_found)"
      record "cost_${mode}_${r}_lookup_rps" "$(rfield "$res" rps)"
      record "cost_${mode}_${r}_lookup_p99_us" "$(rfield "$res" p99_us)"
      record "cost_${mode}_${r}_lookup_errors" "$(rfield "$res" errors)"
      record "cost_${mode}_${r}_lookup_server_cpu" "$(rfield "$res" server_cpu)"
      # Per busy server core: on a shared machine lufd rarely gets its
      # whole core, so throughput per CPU-second is the steadier figure.
      record "cost_${mode}_${r}_lookup_per_core" "$(ratio "$(rfield "$res" rps)" "$(rfield "$res" server_cpu)" | cut -d. -f1)"
      c0="$(tree_cpu_ticks "$LUFD_PID")"
      dp_pin=("${pin_client[@]}")
      dnsperf_run "cost-$mode-$r" -d "$D/q-mix.txt" -l "$SECS" -c 4 -q 200
      dp_pin=()
      c1="$(tree_cpu_ticks "$LUFD_PID")"
      cores="$(awk -v a="$c0" -v b="$c1" -v h="$(getconf CLK_TCK)" -v s="$SECS" 'BEGIN{printf "%.2f", (b-a)/h/s}')"
      q="$(dp "$LOGS/cost-$mode-$r.dnsperf" qps | cut -d. -f1)"
      record "cost_${mode}_${r}_dns_qps" "$q"
      record "cost_${mode}_${r}_dns_server_cpu" "$cores"
      record "cost_${mode}_${r}_dns_per_core" "$(ratio "${q:-0}" "$cores" | cut -d. -f1)"
      record "cost_${mode}_${r}_dns_err" "$(dp "$LOGS/cost-$mode-$r.dnsperf" err)"
      stop
    done
  done
  # Means over the rounds, and on/off ratios of the means.
  local m k a b
  for k in lookup_rps lookup_per_core dns_qps dns_per_core; do
    for m in on off; do
      grep -E "^cost_${m}_[0-9]+_${k}=" "$RESULTS_ENV" | cut -d= -f2 | mean \
        >"$G/.mean"
      record "cost_${k}_${m}_mean" "$(cat "$G/.mean")"
    done
    a="$(grep "^cost_${k}_on_mean=" "$RESULTS_ENV" | tail -n 1 | cut -d= -f2)"
    b="$(grep "^cost_${k}_off_mean=" "$RESULTS_ENV" | tail -n 1 | cut -d= -f2)"
    record "cost_${k}_ratio" "$(ratio "$a" "$b")"
  done
}

# ----------------------------------------------------------------- flood
# flood_run TAG GUARD-YAML [noflood]: with "noflood", only the peer and
# the resolver (the same machine's baseline).
flood_run() {
  local tag="$1" c0 c1 fl lg dp_pid fl_pid lg_pid noflood="${3:-}"
  local DOT_PORT=""  # conf adds the DoT listener when set.
  [[ "${BENCH_GUARD_PEER_MODE:-dot}" == dot ]] && DOT_PORT="$(free_port)"
  conf "$tag" "$2"
  start "$tag"
  add_tsig
  c0="$(tree_cpu_ticks "$LUFD_PID")"
  local fc=("${pin_client[@]}" "$FLOOD_BIN" --mode flood --port "$DNS_PORT"
    --sources 64 --duration_s "$FLOOD_S"
    --max_qps "${BENCH_GUARD_FLOOD_MAX_QPS:-0}")
  local lc=("${legit_pre[@]}" "$FLOOD_BIN" --mode legit --port "$DNS_PORT"
    --legit_source 127.0.200.1 --names "$D/hits-shuf.txt" --rate 1000
    --duration_s "$FLOOD_S" --timeout_ms 1000)
  cmd "${fc[*]}"
  cmd "${lc[*]}"
  if [[ -z "$noflood" ]]; then
    "${fc[@]}" >"$LOGS/$tag-flood.out" 2>&1 &
  else
    echo "RESULT qps=0 sent=0 responses=0 tc=0 refused=0 noerror=0 nxdomain=0" >"$LOGS/$tag-flood.out"
    sleep 0 &
  fi
  fl_pid=$!
  _BENCH_PIDS+=("$fl_pid")
  "${lc[@]}" >"$LOGS/$tag-legit.out" 2>&1 &
  lg_pid=$!
  _BENCH_PIDS+=("$lg_pid")
  # The identified peer at 1,000 q/s of hits: DoT with peer-ssp1's client
  # certificate by default (BENCH_GUARD_PEER_MODE=dot), or TSIG over
  # tcp|udp (dnsperf -y).
  local peer_mode="${BENCH_GUARD_PEER_MODE:-dot}"
  record "${tag}_peer_mode" "$peer_mode"
  if [[ "$peer_mode" == dot ]]; then
    local pc=("${legit_pre[@]}" "$FLOOD_BIN" --mode dot --port "$DOT_PORT"
      --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key"
      --server_name localhost --names "$D/hits.txt" --dot_rate 1000
      --dot_window 100 --duration_s "$FLOOD_S")
    cmd "${pc[*]}"
    "${pc[@]}" >"$LOGS/$tag-peer.out" 2>&1 &
  else
    dp_pin=("${legit_pre[@]}")
    dnsperf_run "$tag-peer" -m "$peer_mode" -y "hmac-sha256:ssp1-key.:$TSIG_PEER_SECRET" \
      -d "$D/hits.txt" -l "$FLOOD_S" -Q 1000 -c 1 -q 100 &
    dp_pin=()
  fi
  dp_pid=$!
  wait "$fl_pid" || true
  wait "$lg_pid" || true
  wait "$dp_pid" || true
  c1="$(tree_cpu_ticks "$LUFD_PID")"
  record "${tag}_lufd_cpu_cores" "$(awk -v a="$c0" -v b="$c1" -v h="$(getconf CLK_TCK)" -v s="$FLOOD_S" 'BEGIN{printf "%.2f", (b-a)/h/s}')"
  ctl admin guard status --limit 5 >"$LOGS/$tag-guard-status.txt" 2>&1 || true
  stop
  fl="$(grep '^RESULT' "$LOGS/$tag-flood.out" || echo RESULT)"
  lg="$(grep '^RESULT' "$LOGS/$tag-legit.out" || echo RESULT)"
  local k
  for k in qps sent responses tc refused noerror nxdomain; do
    record "${tag}_flood_$k" "$(rfield "$fl" "$k")"
  done
  for k in answered_pct answered_pct_from_s2 min_second_pct_from_s2 tc tcp_answered refused; do
    record "${tag}_legit_$k" "$(rfield "$lg" "$k")"
  done
  record "${tag}_legit_seconds" "\"$(grep '^second' "$LOGS/$tag-legit.out" | tr -d '(' | awk '{printf "%s%.1f", (NR>1?" ":""), $7 + 0}' | tr -d '(')\""
  local f="$LOGS/$tag-peer.dnsperf" sent comp noerror pr
  if [[ "$peer_mode" == dot ]]; then
    pr="$(grep '^RESULT' "$LOGS/$tag-peer.out" || echo RESULT)"
    sent="$(rfield "$pr" sent)"
    comp="$(rfield "$pr" responses)"
    noerror="$(rfield "$pr" noerror)"
  else
    sent="$(dp "$f" sent)"
    comp="$(dp "$f" completed)"
    noerror="$(rcode "$f" NOERROR)"
  fi
  record "${tag}_peer_sent" "$sent"
  record "${tag}_peer_noerror" "$noerror"
  record "${tag}_peer_answered_pct" "$(awk -v s="$sent" -v n="$noerror" 'BEGIN{printf "%.2f", s ? 100 * n / s : 0}')"
  record "${tag}_peer_completed" "$comp"
  responder "$tag" "$tag"
  record "${tag}_blocked_prefixes" "$(grep -c 'guard: blocked prefix' "$LOGS/$tag.log" || true)"
}
scenario_flood() {
  local yaml="guard:
  enabled: true
  anonymous: { lookups_per_second: $ANON_RATE, burst: $ANON_RATE, miss_cost: 4 }"
  flood_run flood_base "$yaml" noflood
  record flood_guard_yaml "\"anonymous lookups_per_second $ANON_RATE burst $ANON_RATE miss_cost 4; everything else default (server/ops/config.cc: signatures_per_second 100, signing_burst 200, slip 2, offence_denials 1000, block ladder 1m/10m/1h/24h)\""
  flood_run flood_on "$yaml"
  [[ "${BENCH_GUARD_FLOOD_OFF:-1}" == 1 ]] && flood_run flood_off "$GUARD_OFF"
  return 0
}

# --------------------------------------------------------------- harvest
# harvest_grpc_cmd TARGETS NUMBERS [flags...]: hc = the lookup_load command
# of the harvester (peer-ssp3), sequential, against the gRPC target(s)
# given (host:port[,host:port]).
harvest_grpc_cmd() {
  local targets="$1" nums="$2"
  shift 2
  hc=("${pin_client[@]}" "$LOAD_BIN" --target "$targets"
    --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp3.pem" --key "$PKI/peer-ssp3.key"
    --numbers "$nums" --sequential --duration_s "$HARVEST_S" --warmup_s 0 "$@")
}
# harvest_run TAG EXTRA-GUARD-YAML: one harvest with fresh lufd replicas;
# results as TAG_*.
harvest_run() {
  local tag="$1" extra="$2" lg hv pids=() p
  local shared=""
  [[ "$STORE" == postgres ]] && shared="  shared: true"
  local gy="guard:
  enabled: true
$shared
$extra"
  DOT_PORT="$(free_port)"
  # The harvester and the legitimate peer are one org each: lufd's default
  # cap on calls in progress per org (64) applies, as in production.
  BENCH_GRPC_CALLS_PER_IDENTITY="${BENCH_GUARD_CALLS_PER_IDENTITY:-64}" conf "$tag" "$gy"
  start "$tag"
  add_tsig
  # Replica B (BENCH_GUARD_REPLICAS=2): a second lufd on the same store,
  # started after the TSIG keys were stored; with PostgreSQL both lease the
  # harvester's disclosure budget from it (guard.shared, ledger_sync.h).
  local a_pid="$LUFD_PID" a_port="$LUFD_PORT" a_dns="$DNS_PORT" a_dot="$DOT_PORT"
  local b_pid="$LUFD_PID" b_port="$LUFD_PORT" b_dns="$DNS_PORT" b_dot="$DOT_PORT"
  record "${tag}"_replicas "$REPLICAS"
  record "${tag}"_store "$STORE"
  if [[ "$REPLICAS" == 2 ]]; then
    DNS_PORT="$(free_port)"
    DOT_PORT="$(free_port)"
    BENCH_GRPC_CALLS_PER_IDENTITY="${BENCH_GUARD_CALLS_PER_IDENTITY:-64}" conf "$tag-b" "$gy"
    start "$tag-b"
    b_pid="$LUFD_PID" b_port="$LUFD_PORT" b_dns="$DNS_PORT" b_dot="$DOT_PORT"
    LUFD_PID="$a_pid" LUFD_PORT="$a_port" DNS_PORT="$a_dns" DOT_PORT="$a_dot"
    # How many replicas logged that they share the budget (2 on postgres).
    record "${tag}"_shared_replicas "$(cat "$LOGS/$tag.log" "$LOGS/$tag-b.log" |
      grep -c "guard: disclosure and miss budgets shared" || true)"
  fi
  # Baseline on the same lufd: the legitimate peer alone (machine noise).
  load_pre=("${legit_pre[@]}")
  lg="$(load peer-ssp1 "$tag-base" --numbers "$NUMS" --rate 1000 \
    --channels 2 --concurrency 200 --duration_s "$HARVEST_S" --warmup_s 1 \
    --seed 5)"
  load_pre=()
  record "${tag}"_base_answered_pct "$(awk -v f="$(rfield "$lg" found)" -v n="$(rfield "$lg" not_found)" -v s="$HARVEST_S" 'BEGIN{printf "%.2f", 100 * (f + n) / (1000 * s)}')"
  record "${tag}"_base_p99_us "$(rfield "$lg" p99_us)"
  record "${tag}"_base_p999_us "$(rfield "$lg" p999_us)"
  # The floor: the same client at the same rate against null_server (same
  # mTLS, gRPC's synchronous API like lufd, a fixed answer, no work), on
  # lufd's CPU: what gRPC alone costs on this machine at this moment.
  rm -f "$G/null.port"
  "${pin_server[@]}" "$NULL_BIN" --cert "$PKI/server.pem" --key "$PKI/server.key" \
    --client_ca "$PKI/ca.pem" --mode sync --port_file "$G/null.port" \
    --max_seconds 120 >"$LOGS/$tag-null.log" 2>&1 &
  local null_pid=$! i
  _BENCH_PIDS+=("$null_pid")
  for ((i = 0; i < 500; i++)); do
    [[ -s "$G/null.port" ]] && break
    sleep 0.01
  done
  if [[ -s "$G/null.port" ]]; then
    load_pre=("${legit_pre[@]}")
    lg="$(LUFD_PORT="$(tr -dc 0-9 <"$G/null.port")" LUFD_PID="$null_pid" load peer-ssp1 "$tag-null" \
      --numbers "$NUMS" --rate 1000 --channels 2 --concurrency 200 \
      --duration_s "$HARVEST_S" --warmup_s 1 --seed 5)"
    record "${tag}"_null_p99_us "$(rfield "$lg" p99_us)"
    record "${tag}"_null_p999_us "$(rfield "$lg" p999_us)"
    load_pre=()
  fi
  stop_pid "$null_pid"
  # The legitimate peer at 1,000/s, open loop, two connections, replica A.
  local lc=("${legit_pre[@]}" "${pin_client[@]}" "$LOAD_BIN" --target "127.0.0.1:$a_port"
    --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp1.pem" --key "$PKI/peer-ssp1.key"
    --numbers "$NUMS" --rate 1000 --channels 2 --concurrency 200
    --duration_s "$HARVEST_S" --warmup_s 1 --seed 7)
  cmd "${lc[*]}"
  "${lc[@]}" >"$LOGS/$tag-legit.load" 2>&1 &
  pids+=($!)
  # The harvester, all four doors at once, one quarter of the numbers
  # each, in order. With two replicas and BENCH_GUARD_HARVEST_ALTERNATE=1
  # (default): unary Lookup alternates A/B per call, BatchLookup per
  # stream, DoT per query (one connection to each), TSIG DNS (dnsperf: one
  # server) on B. With =0: unary and TSIG on A, BatchLookup and DoT on B.
  # With one replica, all on A.
  local hc ra=A rb=B ru rbt rd rt u_t b_t d_p t_dns
  [[ "$REPLICAS" == 1 ]] && rb=A
  if [[ "$REPLICAS" == 2 && "${BENCH_GUARD_HARVEST_ALTERNATE:-1}" == 1 ]]; then
    u_t="127.0.0.1:$a_port,127.0.0.1:$b_port" b_t="$u_t" d_p="$a_dot,$b_dot"
    t_dns="$b_dns"
    ru="A+B per call" rbt="A+B per stream" rd="A+B per query" rt="$rb"
  else
    u_t="127.0.0.1:$a_port" b_t="127.0.0.1:$b_port" d_p="$b_dot" t_dns="$a_dns"
    ru="$ra" rbt="$rb" rd="$rb" rt="$ra"
  fi
  harvest_grpc_cmd "$u_t" "$D/nums-q1.txt" --channels 4 --concurrency 32
  cmd "${hc[*]}"
  "${hc[@]}" >"$LOGS/$tag-unary.load" 2>&1 &
  pids+=($!)
  harvest_grpc_cmd "$b_t" "$D/nums-q2.txt" --channels 2 --concurrency 4 \
    --batch "$BATCH"
  cmd "${hc[*]}"
  "${hc[@]}" >"$LOGS/$tag-batch.load" 2>&1 &
  pids+=($!)
  local dc=("${pin_client[@]}" "$FLOOD_BIN" --mode dot --dot_ports "$d_p"
    --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp3.pem" --key "$PKI/peer-ssp3.key"
    --server_name localhost --names "$D/q-q4.txt" --dot_window 32
    --duration_s "$HARVEST_S")
  cmd "${dc[*]}"
  "${dc[@]}" >"$LOGS/$tag-dot.out" 2>&1 &
  pids+=($!)
  DNS_PORT="$t_dns" dnsperf_run "$tag-dns" \
    -y "hmac-sha256:harv-key.:$TSIG_HARV_SECRET" \
    -d "$D/q-q3.txt" -n 1 -l "$HARVEST_S" -c 1 -q 50 &
  pids+=($!)
  _BENCH_PIDS+=("${pids[@]}")
  for p in "${pids[@]}"; do wait "$p" || true; done
  ctl admin guard explain iana-en:333 >"$LOGS/$tag-explain.txt" 2>&1 || true
  ctl admin guard status --all >"$LOGS/$tag-guard-status.txt" 2>&1 || true
  # What each replica charged the harvester in its window (an item answered
  # by both is charged on both, guard.h).
  disclosed() { sed -n 's/^window.*disclosed \([0-9]*\).*/\1/p' "$1" | head -n 1; }
  record "${tag}"_disclosed_a "$(disclosed "$LOGS/$tag-explain.txt")"
  if [[ "$b_pid" != "$a_pid" ]]; then
    LUFD_PORT="$b_port" ctl admin guard explain iana-en:333 \
      >"$LOGS/$tag-b-explain.txt" 2>&1 || true
    record "${tag}"_disclosed_b "$(disclosed "$LOGS/$tag-b-explain.txt")"
  fi
  if [[ "$STORE" == postgres ]]; then
    record "${tag}"_leased_total "$(psql "$STORE_URL" -Atc "SELECT COALESCE(SUM(count), 0) FROM guard_leases WHERE identity = 'org iana-en:333'" 2>/dev/null || echo '?')"
  fi
  stop
  [[ "$b_pid" != "$a_pid" ]] && stop_pid "$b_pid"
  lg="$(grep '^RESULT' "$LOGS/$tag-legit.load" || echo RESULT)"
  record "${tag}"_legit_rps "$(rfield "$lg" rps)"
  record "${tag}"_legit_ok "$(rfield "$lg" ok)"
  record "${tag}"_legit_errors "$(rfield "$lg" errors)"
  record "${tag}"_legit_skipped "$(rfield "$lg" skipped)"
  # Answered = calls scheduled in the measured window that succeeded
  # (found or not), over the calls the schedule asked for (rate x time).
  record "${tag}"_legit_answered_pct "$(awk -v f="$(rfield "$lg" found)" -v n="$(rfield "$lg" not_found)" -v s="$HARVEST_S" 'BEGIN{printf "%.2f", 100 * (f + n) / (1000 * s)}')"
  record "${tag}"_legit_p99_us "$(rfield "$lg" p99_us)"
  record "${tag}"_legit_p999_us "$(rfield "$lg" p999_us)"
  # Per door: replica, sent, distinct numbers learned, refusals/errors.
  hv="$(grep '^RESULT' "$LOGS/$tag-unary.load" || echo RESULT)"
  local d_unary d_batch d_dns d_dot
  d_unary="$(rfield "$hv" distinct_found)"
  record "${tag}"_unary_replica "\"$ru\""
  record "${tag}"_unary_sent "$(rfield "$hv" sent)"
  record "${tag}"_unary_distinct "${d_unary:-0}"
  record "${tag}"_unary_errors "$(rfield "$hv" error_codes)"
  hv="$(grep '^RESULT' "$LOGS/$tag-batch.load" || echo RESULT)"
  d_batch="$(rfield "$hv" distinct_found)"
  record "${tag}"_batch_replica "\"$rbt\""
  record "${tag}"_batch_sent "$(rfield "$hv" sent)"
  record "${tag}"_batch_batches "$(rfield "$hv" batches)"
  record "${tag}"_batch_distinct "${d_batch:-0}"
  record "${tag}"_batch_errors "$(rfield "$hv" error_codes)"
  local f="$LOGS/$tag-dns.dnsperf"
  # One pass over distinct names: each NOERROR is one number learned.
  d_dns="$(rcode "$f" NOERROR)"
  record "${tag}"_dns_replica "$rt"
  record "${tag}"_dns_sent "$(dp "$f" sent)"
  record "${tag}"_dns_distinct "$d_dns"
  record "${tag}"_dns_refused "$(rcode "$f" REFUSED)"
  hv="$(grep '^RESULT' "$LOGS/$tag-dot.out" || echo RESULT)"
  d_dot="$(rfield "$hv" distinct_naptr)"
  record "${tag}"_dot_replica "\"$rd\""
  record "${tag}"_dot_sent "$(rfield "$hv" sent)"
  record "${tag}"_dot_distinct "${d_dot:-0}"
  record "${tag}"_dot_refused "$(rfield "$hv" refused)"
  record "${tag}"_dot_lost "$(rfield "$hv" lost)"
  local total=$((${d_unary:-0} + ${d_batch:-0} + ${d_dns:-0} + ${d_dot:-0}))
  record "${tag}"_distinct_total "$total"
  record "${tag}"_budget "$BUDGET"
  record "${tag}"_ratio "$(ratio "$total" "$BUDGET")"
  # guard.h's bound for R instances sharing the budget: budget + R x chunk
  # from a standing start, about budget + 3 x R x chunk across window
  # edges; chunk = clamp(budget x lease_chunk_percent (1) / 100, 1, 1000).
  # Unshared (SQLite), each replica counts the full budget on its own.
  local chunk=$((BUDGET / 100))
  if [[ "$STORE" == postgres ]]; then
    record "${tag}"_chunk "$chunk"
    record "${tag}"_bound_start "$((BUDGET + REPLICAS * chunk))"
    record "${tag}"_bound_worst "$((BUDGET + 3 * REPLICAS * chunk))"
  else
    record "${tag}"_chunk "- (not shared)"
    record "${tag}"_bound_start "$((BUDGET * REPLICAS))"
    record "${tag}"_bound_worst "$((BUDGET * REPLICAS))"
  fi
  DOT_PORT=""
}
scenario_harvest() {
  if [[ "$STORE" == postgres ]]; then
    # Each run is a fresh day for the harvester: the leases granted by an
    # earlier run in this cluster would otherwise count (the replicas'
    # own counts start empty with each lufd).
    psql "$STORE_URL" -qc "DELETE FROM guard_leases" >/dev/null 2>&1 || true
    cmd "psql $STORE_URL -c 'DELETE FROM guard_leases' (before each harvest)"
  fi
  harvest_run harvest "${BENCH_GUARD_HARVEST_YAML:-}"
  [[ "${BENCH_GUARD_HARVEST_NOBLOCK:-1}" == 1 ]] || return 0
  # The same with the offence rule out of reach, so the harvester is held by
  # the (shared) disclosure budget alone rather than blocked after 1,000
  # refusals: this measures the budget's overshoot across replicas.
  [[ "$STORE" == postgres ]] &&
    { psql "$STORE_URL" -qc "DELETE FROM guard_leases" >/dev/null 2>&1 || true; }
  record harvest_noblock_guard_yaml "\"offence_denials: 1000000000 (no block)\""
  harvest_run harvest_noblock "  offence_denials: 1000000000
${BENCH_GUARD_HARVEST_YAML:-}"
}

setup_registry
for s in $SCENARIOS; do
  record "${s}_started" "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  "scenario_$s" || record "${s}_step" FAILED
done
record run_finished "$(date -u +%FT%TZ)"
record load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
render
blog "wrote $OUT_MD"
