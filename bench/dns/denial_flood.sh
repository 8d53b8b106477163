#!/usr/bin/env bash
# bench/dns/denial_flood.sh [N] [SECONDS]: what a random-miss flood costs
# lufd in each denial mode (dns.dnssec.denial). For each of covering and
# compact: a fresh lufd (sample registry, one DNS worker, CSK P-256) gets
# SECONDS (default 10) of dnsperf at max rate over N (default 1000000) distinct
# random 11-digit numbers under +1 (NAPTR, DO bit; nearly all misses); then
# lufd is stopped and its responder counters (dns: responder: ... line)
# give signatures made per NXDOMAIN. Prints one MEASURE line per mode.
# (N large enough that no name repeats within SECONDS: every miss is fresh.)
# Measured 2026-12-07 (2 shared cores, dnsperf and lufd unpinned, 1M, 8 s):
# covering 61,003 q/s with 86 signatures in all (0.0002 per miss); compact
# 13,637 q/s with one signature per miss.
# Usage: LUFD_BIN=build/server/app/lufd LUFCTL_BIN=build/client/lufctl \
#          bench/dns/denial_flood.sh [N] [SECONDS]
N="${1:-1000000}"
SECS="${2:-10}"
IT_NAME=denial_flood
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/lib.sh"
it_init
command -v dnsperf >/dev/null || fail "dnsperf not installed"
ZONE=e164.arpa.
python3 - "$N" >"$T/queries" <<'PY'
import random, sys
random.seed(4470)
seen = set()
n = int(sys.argv[1])
while len(seen) < n:
    seen.add("1%010d" % random.randrange(10**10))
for d in seen:
    print(".".join(reversed(d)) + ".e164.arpa. NAPTR")
PY
for mode in covering compact; do
  rm -rf "$T/keys"
  mkdir -m 700 "$T/keys"
  _IT_BOOTSTRAPPED=""  # A fresh registry per mode.
  DNS_PORT="$(it_free_dns_port)"
  LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys" 13 csk \
    "    denial: \"$mode\"")
# The guard runs with limits no one reaches (its defaults would hold one
# anonymous /24 -- all of dnsperf -- to 200 queries/s).
guard:
  anonymous:
    lookups_per_second: 100000000
    burst: 100000000
    signatures_per_second: 100000000
    signing_burst: 100000000"
  start_lufd "sqlite:$T/registry-$mode.db"
  wait_dns "$DNS_PORT" "$ZONE" SOA 30 || fail "lufd does not answer DNS"
  provision_public_sample
  out="$(dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$T/queries" -D -l "$SECS" \
    -c 4 -q 200 2>&1)"
  qps="$(awk '/Queries per second/ {print $4}' <<<"$out")"
  sent="$(awk '/Queries completed/ {print $3}' <<<"$out")"
  stop_lufd
  line="$(grep -h "dns: responder:" "$T/lufd.log" | tail -n 1)"
  nx="$(sed -n 's/.*nxdomain \([0-9]*\).*/\1/p' <<<"$line")"
  signed="$(sed -n 's/.*signed on demand \([0-9]*\).*/\1/p' <<<"$line")"
  echo "MEASURE denial=$mode: dnsperf ${SECS}s max rate, $N random misses: completed $sent, ${qps} q/s; nxdomain $nx, signed on demand $signed ($(awk -v s="$signed" -v n="$nx" 'BEGIN {printf "%.4f", n ? s / n : 0}') signatures per miss)"
  grep -h "dns: responder:" "$T/lufd.log" | tail -n 1
  : >"$T/lufd.log"
done
it_done
