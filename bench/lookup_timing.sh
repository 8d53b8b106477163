#!/usr/bin/env bash
# lookup_timing.sh: is a number that exists but is invisible to the caller
# distinguishable by Lookup latency from one that does not exist? (the
# timing oracle of issue 8). One command:
#
#   bench/lookup_timing.sh            # builds into ./build, runs, prints
#                                     # the results file's path
#
#   1. builds lufd, lufctl, lookup_timing and lookup_timing_view (cmake +
#      ninja in $LUFD_BUILD, default <repo>/build);
#   2. makes the dev PKI (tools/dev-pki.sh) and a fresh SQLite registry in
#      $BENCH_WORK (default /tmp/lufd-timing): SSP2 (iana-en:222) holds
#      $TIMING_TNS TNs +12025000000.. (each with an inline NAPTR), the range
#      +12026660000..+12026669999, the prefix +1202777 and 64 URIs, all on
#      one destination group whose SED group is offered to and accepted by
#      SSP1 only;
#   3. starts lufd (mTLS, loopback, kernel-chosen port) and, as peer-ssp3
#      (SSP3, which sees none of it), times $TIMING_SAMPLES Lookups of
#      invisible and of nonexistent queries for each kind (tn, range,
#      prefix, uri), interleaved in random order (bench/lookup_timing.cc);
#   4. runs the same comparison in process on the view
#      (bench/micro/lookup_timing_view.cc), where sub-microsecond
#      differences are visible: with a pool of 4096 distinct queries per
#      class (a harvester probing each candidate about once: caches cold,
#      so touching existing data shows) and of 16 (everything cached: what
#      remains is the code path).
# Results: p10/p50/p90/p99 of both classes and the AUC = P(invisible call
# slower than nonexistent call); 0.5 = indistinguishable, target <= 0.55
# (and >= 0.45). Written to bench/results/lookup_timing-<commit>.txt
# (override: TIMING_OUT).
# Knobs: TIMING_TNS (20000), TIMING_SAMPLES (5000 per class and kind),
# TIMING_VIEW_SAMPLES (50000), BENCH_NO_PIN=1 (no taskset pinning),
# TIMING_NO_BUILD=1 (use what $LUFD_BUILD holds), TIMING_LUFD_BIN and
# TIMING_VIEW_BIN (other builds of lufd / lookup_timing_view, e.g. of an
# older commit, for before/after; TIMING_LABEL then names the results).
# Only processes this script started are stopped, by PID; waits are bounded.
BENCH_WORK="${BENCH_WORK:-/tmp/lufd-timing}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUFD_BUILD="${LUFD_BUILD:-$SRC/build}"
source "$SRC/bench/lib.sh"

tns="${TIMING_TNS:-20000}"
samples="${TIMING_SAMPLES:-5000}"
view_samples="${TIMING_VIEW_SAMPLES:-50000}"
commit="$(git -C "$SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git -C "$SOURCE_DIR" diff --quiet HEAD -- server 2>/dev/null; then
  commit="$commit-dirty"
fi
commit="${TIMING_LABEL:-$commit}"
mkdir -p "$SOURCE_DIR/bench/results"
out="${TIMING_OUT:-$SOURCE_DIR/bench/results/lookup_timing-$commit.txt}"

if [[ "${TIMING_NO_BUILD:-0}" != 1 ]]; then
  blog "building in $LUFD_BUILD"
  if [[ ! -f "$LUFD_BUILD/build.ninja" ]]; then
    cmake -S "$SOURCE_DIR" -B "$LUFD_BUILD" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || bdie "cmake failed"
  fi
  ninja -C "$LUFD_BUILD" -j2 server/app/lufd client/lufctl \
    bench/lookup_timing bench/lookup_timing_view >/dev/null ||
    bdie "build failed"
fi

rm -rf "$BENCH_WORK/timing.db" "$BENCH_WORK/timing.db-wal" \
  "$BENCH_WORK/timing.db-shm"
mkdir -p "$BENCH_WORK"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
LUFD_BIN="${TIMING_LUFD_BIN:-$(find_bin lufd)}"
LUFCTL_BIN="$(find_bin lufctl)"
TIMING_BIN="$(find_bin lookup_timing)"
VIEW_BIN="${TIMING_VIEW_BIN:-$(find_bin lookup_timing_view)}"
PKI="$BENCH_WORK/pki"
"$SOURCE_DIR/tools/dev-pki.sh" --quiet "$PKI"
_bench_pinning

DB="$BENCH_WORK/timing.db"
db_init "sqlite:$DB"
start_lufd timing-lufd "sqlite:$DB" "${pin_server[@]}"
wait_healthy || bdie "lufd not healthy"

blog "provisioning ($tns TNs)"
: >"$BENCH_WORK/provision.log"
_p org add --id iana-en:111 --name SSP1 --role peer
_p org add --id iana-en:222 --name SSP2 --role registrant --role peer
_p org add --id iana-en:333 --name SSP3 --role peer
_p credential add --id cred-peer-ssp1 --org iana-en:111 --role peer \
  --san-uri urn:lufd:peer:ssp1
_p credential add --id cred-peer-ssp3 --org iana-en:333 --role peer \
  --san-uri urn:lufd:peer:ssp3
_p dg add --id dg-ssp2 --registrant iana-en:222
_p record add --id rec-ssp2 --registrant iana-en:222 --type naptr \
  --ttl 3600 --order 100 --preference 10 --flags u --services E2U+sip \
  --regexp '!^(.*)$!sip:\1@ssp2.example.com!'
_p sedgroup add --id sg-ssp2 --registrant iana-en:222 --dg dg-ssp2 \
  --record rec-ssp2 --in-service
_p offer add --sedgroup sg-ssp2 --peer iana-en:111
_p offer accept --sedgroup sg-ssp2 --peer iana-en:111
awk -v n="$tns" 'BEGIN {
  print "tn,registrant,dest_groups,ttl,order,preference,flags,services,regexp,replacement"
  for (i = 0; i < n; i++)
    printf "+12025%06d,iana-en:222,dg-ssp2,3600,100,10,u,E2U+sip,!^.*$!sip:%06d@ssp2.example.com!,\n", i, i
}' >"$BENCH_WORK/tns.csv"
_p import "$BENCH_WORK/tns.csv"
_p range add --start +12026660000 --end +12026669999 --registrant iana-en:222 \
  --dg dg-ssp2
_p prefix add +1202777 --registrant iana-en:222 --dg dg-ssp2
for ((i = 0; i < 64; i++)); do
  _p uri add "sip:user$i@ssp2.example.com" --registrant iana-en:222 --dg dg-ssp2
done

# The registry is as intended: SSP1 sees SSP2's numbers, SSP3 does not.
as_peer() {
  local who="$1"
  shift
  timeout 30 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/$who.pem" --key "$PKI/$who.key" "$@"
}
for q in +12025000001 +12026661234 +12027771234 sip:user1@ssp2.example.com; do
  as_peer peer-ssp1 lookup "$q" >/dev/null 2>&1 ||
    bdie "SSP1 does not see $q"
  if as_peer peer-ssp3 lookup "$q" >/dev/null 2>&1; then
    bdie "SSP3 sees $q"
  fi
done

# Queries: distinct random invisible and nonexistent ones (same length;
# nothing is provisioned under +1203) per kind.
awk -v n="$tns" -v seed="${TIMING_SEED:-1}" 'BEGIN {
  srand(seed)
  for (i = 0; i < 4096; i++) {
    printf "tn invisible +12025%06d\n", int(rand() * n)
    printf "range invisible +1202666%04d\n", int(rand() * 10000)
    printf "prefix invisible +1202777%04d\n", int(rand() * 10000)
    printf "uri invisible sip:user%d@ssp2.example.com\n", int(rand() * 64)
    for (k = 0; k < 3; k++)
      printf "%s nonexistent +1203%07d\n", (k == 0 ? "tn" : k == 1 ? "range" : "prefix"), int(rand() * 10000000)
    printf "uri nonexistent sip:nobody%d@ssp2.example.com\n", int(rand() * 64)
  }
}' >"$BENCH_WORK/queries.txt"

{
  echo "# lookup_timing.sh $(date -u +%FT%TZ) commit=$commit tns=$tns"
  echo "# AUC = P(invisible slower than nonexistent); 0.5 = indistinguishable; target <= 0.55"
} >>"$out"
blog "gRPC over mTLS as peer-ssp3: $samples calls per class and kind"
"${pin_client[@]}" "$TIMING_BIN" --target "127.0.0.1:$LUFD_PORT" \
  --ca "$PKI/ca.pem" --cert "$PKI/peer-ssp3.pem" --key "$PKI/peer-ssp3.key" \
  --queries "$BENCH_WORK/queries.txt" --samples "$samples" --out "$out" ||
  bdie "lookup_timing failed"
stop_pid "$LUFD_PID"

blog "in process on the view: $view_samples calls per class and kind"
for pool in 4096 16; do
  "${pin_server[@]}" "$VIEW_BIN" --samples "$view_samples" --pool "$pool" \
    --out "$out" || bdie "lookup_timing_view failed"
done
echo "results: $out"
