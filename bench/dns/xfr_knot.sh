#!/usr/bin/env bash
# bench/dns/xfr_knot.sh [N] [CHANGES]: zone transfer out (dns.xfr) to a
# Knot 3.2 secondary with N public numbers (default 100000) in e164.arpa.:
#   - how long lufd takes to rebuild the public contents (its log line
#     "dns.xfr: public contents ... rebuilt in", or the debug line);
#   - Knot's first AXFR (its log: seconds, messages, bytes);
#   - CHANGES (default 20) single-number additions, one at a time: the time
#     from `lufctl number add` returning to Knot answering the new number
#     (NOTIFY -> IXFR), polled every 10 ms; min / p50 / max;
#   - lufd's resident memory at the end.
# Prints MEASURE lines. Loopback only; uses tests/integration/lib.sh.
# Usage: LUFD_BIN=build/server/app/lufd LUFCTL_BIN=build/client/lufctl \
#          bench/dns/xfr_knot.sh [N] [CHANGES]
N="${1:-100000}"
CHANGES="${2:-20}"
IT_NAME=xfr_bench
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/lib.sh"
it_init
it_need_tools kdig knotd
ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
KNOT_PORT="$(it_free_dns_port)"
SECRET="$(head -c 32 /dev/urandom | base64 -w0)"
XFR_YAML="  xfr:
    allow_tsig: [\"xfr-key.\"]
    notify: [\"127.0.0.1:$KNOT_PORT\"]"
# BENCH_XFR_OFF=1: the same lufd and data without dns.xfr, for its memory
# alone (no Knot, no changes).
[[ "${BENCH_XFR_OFF:-0}" == 1 ]] && XFR_YAML=""
LUFD_CONFIG_TAIL="$(LUFD_DNS_ZONE_YAML='      ns: ["ns1.example.net."]' \
  lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")
$XFR_YAML"
start_lufd "sqlite:$T/registry.db"
provision_rfc7878 provision
run_ctl admin credential add cred-xfr --org iana-en:333 --role peer \
  --tsig-name xfr-key. --tsig-secret "$SECRET"
expect_ok "xfr-key."
run_ctl registrar-ssp2 dg add dg-pub --registrant iana-en:222
expect_ok "dg-pub"
run_ctl registrar-ssp2 record add rec-pub --registrant iana-en:222 --ttl 3600 \
  --naptr '10 100 "u" "E2U+sip" "!^.*$!sip:info@public.example.com!" ""'
expect_ok "rec-pub"
run_ctl registrar-ssp2 sedgroup add sg-pub --registrant iana-en:222 --dg dg-pub \
  --record rec-pub --public --in-service
expect_ok "sg-pub"
{
  echo "tn,registrant,dest_groups"
  for ((i = 0; i < N; i++)); do printf '+1303%07d,iana-en:222,dg-pub\n' "$i"; done
} >"$T/bulk.csv"
t0=$(date +%s.%N)
run_ctl registrar-ssp2 import "$T/bulk.csv"
expect_ok "import of $N numbers"
it_log "imported $N numbers in $(echo "$(date +%s.%N) - $t0" | bc) s"
if [[ "${BENCH_XFR_OFF:-0}" == 1 ]]; then
  sleep 5
  echo "MEASURE xfr-off N=$N lufd $(grep VmRSS "/proc/$LUFD_PID/status" | tr -s ' \t' ' ')"
  it_done
  exit 0
fi
# Let the rebuild of the new contents settle.
for ((i = 0; i < 600; i++)); do
  grep -q "rebuilt in" "$T/lufd.log" && break
  sleep 0.1
done
sleep 2

write_knot_secondary_conf "$KNOT_PORT" "$DNS_PORT" "$ZONE" "$SECRET"
knotd -c "$T/knot/knot.conf" >"$T/knot/knotd.out" 2>&1 &
_IT_PIDS+=("$!")
for ((i = 0; i < 1200; i++)); do
  grep -q "AXFR, incoming.*finished" "$T/knot/knot.log" 2>/dev/null && break
  sleep 0.1
done
grep "AXFR, incoming.*finished" "$T/knot/knot.log" >&2 || fail "no AXFR at Knot"
axfr="$(grep -o 'finished, [0-9.]* seconds, [0-9]* messages, [0-9]* bytes' "$T/knot/knot.log" | head -n 1)"
rebuild="$(grep -o 'rebuilt in [^ ]*' "$T/lufd.log" | tail -n 1 || true)"
echo "MEASURE xfr N=$N lufd public contents ${rebuild:-rebuilt in <100ms (debug log)}"
echo "MEASURE xfr N=$N Knot first AXFR: $axfr"

lat=()
for ((c = 0; c < CHANGES; c++)); do
  tn="+1303999$(printf '%04d' "$c")"
  name="$(enum_name "$tn" "$ZONE")"
  run_ctl registrar-ssp2 number add "$tn" --registrant iana-en:222 --dg dg-pub
  expect_ok "number add $tn"
  t0=$(date +%s%N)
  ok=0
  for ((i = 0; i < 3000; i++)); do  # 30 s
    if kdig @127.0.0.1 -p "$KNOT_PORT" +short +norec +time=1 +retry=0 "$name" NAPTR 2>/dev/null |
      grep -q public; then
      ok=1
      break
    fi
    sleep 0.01
  done
  ((ok)) || fail "change $c ($tn) never reached Knot"
  lat+=($((($(date +%s%N) - t0) / 1000000)))
done
sorted="$(printf '%s\n' "${lat[@]}" | sort -n)"
n=${#lat[@]}
echo "MEASURE xfr N=$N change->Knot answers (ms, $n changes): min $(head -n 1 <<<"$sorted") p50 $(sed -n "$(((n + 1) / 2))p" <<<"$sorted") max $(tail -n 1 <<<"$sorted")"
echo "MEASURE xfr N=$N lufd $(grep VmRSS "/proc/$LUFD_PID/status" | tr -s ' \t' ' ')"
ixfr="$(grep -c 'IXFR, incoming.*finished' "$T/knot/knot.log" || true)"
echo "MEASURE xfr N=$N Knot IXFRs finished: $ixfr"
it_done
