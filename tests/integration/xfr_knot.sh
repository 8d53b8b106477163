#!/usr/bin/env bash
# Zone transfer out to a real Knot DNS secondary (dns.xfr, server/dns/xfr.h).
#   lufd: zone e164.arpa., dns.xfr.allow_tsig [xfr-key.] (a registry TSIG
#   credential), dns.xfr.notify [Knot]. Knot 3.2 (knotd we start, temp
#   config): secondary of e164.arpa. with master lufd over TSIG xfr-key.,
#   NOTIFY accepted from lufd with that key.
#   - Knot gets the zone by AXFR: the public number answers at Knot, and
#     Knot signs the unsigned transfer itself (dnssec-signing: on);
#   - a public change in lufd -> NOTIFY -> Knot's IXFR (incremental, per
#     Knot's log) -> kdig @knot answers the new number;
#   - the peer-only numbers (SED group offered to SSP1 only; one more added
#     after the first transfer) are never transferred: not at Knot, not in
#     an AXFR by the allowed key, and SSP1's own TSIG view at lufd does see
#     them (so they exist);
#   - refused: AXFR without TSIG (REFUSED), with a wrong secret for the key
#     (NOTAUTH, BADSIG), with a valid key not in allow_tsig (REFUSED), and
#     IXFR over UDP;
#   - XoT (dns.xfr.allow_dot_orgs [iana-en:333]): kdig +tls with SSP3's
#     client certificate gets the public view; SSP1's certificate or none:
#     REFUSED.
IT_NAME=xfr_knot
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig kdig knotd
ZONE=e164.arpa.

mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
KNOT_PORT="$(it_free_dns_port)"
XFR_SECRET="$(head -c 32 /dev/urandom | base64 -w0)"
# The zone's NS outside the zone: no glue needed at the secondary.
LUFD_DNS_ZONE_YAML='      ns: ["ns1.example.net.", "ns2.example.net."]'
DOT_PORT="$(it_free_port)"
LUFD_CONFIG_TAIL="$(LUFD_DNS_ZONE_YAML="$LUFD_DNS_ZONE_YAML" lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")
  xfr:
    allow_tsig: [\"xfr-key.\"]
    notify: [\"127.0.0.1:$KNOT_PORT\"]
    allow_dot_orgs: [\"iana-en:333\"]
  dot:
    listen: \"127.0.0.1:$DOT_PORT\"
    client_cert: \"optional\"
    tls:
      cert_file: \"$PKI/server.pem\"
      key_file: \"$PKI/server.key\"
      client_ca_file: \"$PKI/ca.pem\""
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "lufd does not answer DNS"; }

# --- registry data ------------------------------------------------------------
provision_rfc7878  # sg-ssp2 on dg-ssp2 (+12025556666, range, prefix): offered to SSP1 only
add_tsig_peers     # ssp1-key. (SSP1), ssp3-key. (SSP3): valid keys, not allowed to transfer
run_ctl admin credential add cred-xfr-knot --org iana-en:333 --role peer \
  --tsig-name xfr-key. --tsig-secret "$XFR_SECRET"
expect_ok "TSIG credential xfr-key."
run_ctl registrar-ssp2 dg add dg-pub --registrant iana-en:222
expect_ok "dg-pub"
run_ctl registrar-ssp2 record add rec-pub --registrant iana-en:222 --ttl 3600 \
  --naptr '10 100 "u" "E2U+sip" "!^.*$!sip:info@public.example.com!" ""'
expect_ok "rec-pub"
run_ctl registrar-ssp2 sedgroup add sg-pub --registrant iana-en:222 --dg dg-pub \
  --record rec-pub --public --in-service
expect_ok "sg-pub (public)"
run_ctl registrar-ssp2 number add +12025550100 --registrant iana-en:222 --dg dg-pub
expect_ok "public TN +12025550100"

# 1,500 more public numbers: the zone no longer fits one message, so the
# transfers below are multi-message streams, each message TSIG-signed.
{
  echo "tn,registrant,dest_groups"
  for ((i = 0; i < 1500; i++)); do echo "+1303555$((1000 + i)),iana-en:222,dg-pub"; done
} >"$T/bulk.csv"
run_ctl registrar-ssp2 import "$T/bulk.csv"
expect_ok "1,500 public TNs imported"

PUB1="$(enum_name +12025550100 "$ZONE")"
PUB2="$(enum_name +12025550101 "$ZONE")"
PEER1="$(enum_name +12025556666 "$ZONE")"
PEER2="$(enum_name +12025550200 "$ZONE")"

# The peer-only number exists: SSP1's TSIG view at lufd sees it.
for ((i = 0; i < 50; i++)); do
  dns_dig "$DNS_PORT" +norec -y "hmac-sha256:ssp1-key.:$SECRET1" "$PEER1" NAPTR
  grep -q 'ssp2\.example\.com' <<<"$dout" && break
  sleep 0.1
done
grep -q 'ssp2\.example\.com' <<<"$dout" || { echo "$dout" >&2; fail "SSP1 does not see the peer-only number"; }
pass "peer-only number +12025556666 is visible to SSP1 at lufd"

# --- refusals -----------------------------------------------------------------
# kx ARGS...: kdig at lufd; $dout, $drc.
kx() {
  set +e
  dout="$(timeout 20 kdig @127.0.0.1 -p "$DNS_PORT" +time=3 +retry=0 "$@" 2>&1)"
  drc=$?
  set -e
}
kstatus() { sed -n 's/.*status: \([A-Z0-9]*\).*/\1/p' <<<"$dout" | head -n 1; }
leaks() { grep -qE 'ssp2\.example\.com|public\.example\.com' <<<"$dout"; }

kx -t AXFR "$ZONE"
grep -q 'REFUSED' <<<"$dout" && ! leaks || { echo "$dout" >&2; fail "AXFR without TSIG: want REFUSED"; }
pass "AXFR without TSIG: REFUSED"
WRONG="$(head -c 32 /dev/urandom | base64 -w0)"
kx -y "hmac-sha256:xfr-key.:$WRONG" -t AXFR "$ZONE"
grep -qE 'NOTAUTH|BADSIG' <<<"$dout" && ! leaks || { echo "$dout" >&2; fail "AXFR with a wrong secret: want NOTAUTH/BADSIG"; }
pass "AXFR with a wrong secret: NOTAUTH (BADSIG)"
kx -y "hmac-sha256:ssp1-key.:$SECRET1" -t AXFR "$ZONE"
grep -q 'REFUSED' <<<"$dout" && ! leaks || { echo "$dout" >&2; fail "AXFR with a key not in allow_tsig: want REFUSED"; }
pass "AXFR with a valid key not in dns.xfr.allow_tsig: REFUSED"
# (dig and kdig send AXFR over TCP whatever they are told; IXFR may go over
# UDP.)
kx +notcp -y "hmac-sha256:xfr-key.:$XFR_SECRET" -t IXFR=1 "$ZONE"
grep -q 'REFUSED' <<<"$dout" && ! leaks || { echo "$dout" >&2; fail "IXFR over UDP: want REFUSED"; }
pass "IXFR over UDP: REFUSED (transfers only over TCP/DoT)"

# The allowed key: the public view only, every message verified by kdig.
kx -y "hmac-sha256:xfr-key.:$XFR_SECRET" -t AXFR "$ZONE"
grep -q 'public\.example\.com' <<<"$dout" || { echo "$dout" >&2; fail "AXFR with xfr-key.: no public record"; }
grep -q 'ssp2\.example\.com' <<<"$dout" && { echo "$dout" >&2; fail "AXFR with xfr-key.: peer-only data transferred"; }
grep -qiE 'tsig.*(fail|invalid|bad)|BADSIG|verification' <<<"$dout" && { echo "$dout" >&2; fail "AXFR with xfr-key.: kdig could not verify TSIG"; }
msgs="$(sed -n 's/.*(\([0-9]*\) messages.*/\1/p' <<<"$dout" | head -n 1)"
[[ -n "$msgs" && "$msgs" -ge 2 ]] || { echo "$dout" | tail -n 5 >&2; fail "AXFR with xfr-key.: want several messages, got '$msgs'"; }
pass "AXFR with xfr-key.: public view only, $msgs messages, TSIG verified by kdig"

# --- XoT (RFC 9103: DoT with a client certificate of an allowed org) -----------
kdig_tls "$DOT_PORT" +tls-certfile="$PKI/peer-ssp3.pem" +tls-keyfile="$PKI/peer-ssp3.key" -t AXFR "$ZONE"
grep -q 'public\.example\.com' <<<"$dout" && ! grep -q 'ssp2\.example\.com' <<<"$dout" ||
  { echo "$dout" | tail -n 20 >&2; fail "XoT with SSP3's certificate (allowed org): want the public view"; }
pass "XoT: AXFR over DoT with a client certificate of an allowed org (public view only)"
kdig_tls "$DOT_PORT" +tls-certfile="$PKI/peer-ssp1.pem" +tls-keyfile="$PKI/peer-ssp1.key" -t AXFR "$ZONE"
grep -q 'REFUSED' <<<"$dout" && ! leaks || { echo "$dout" | tail -n 20 >&2; fail "XoT with SSP1's certificate: want REFUSED"; }
kdig_tls "$DOT_PORT" -t AXFR "$ZONE"
grep -q 'REFUSED' <<<"$dout" && ! leaks || { echo "$dout" | tail -n 20 >&2; fail "XoT without a certificate: want REFUSED"; }
pass "XoT: REFUSED with a certificate of another org and without one"

# --- Knot secondary -----------------------------------------------------------
write_knot_secondary_conf "$KNOT_PORT" "$DNS_PORT" "$ZONE" "$XFR_SECRET" "    dnssec-signing: on"
knotd -c "$T/knot/knot.conf" >"$T/knot/knotd.out" 2>&1 &
KNOT_PID=$!
_IT_PIDS+=("$KNOT_PID")

# at_knot NAME TYPE: dig at Knot; $dout.
at_knot() { dns_dig "$KNOT_PORT" +norec "$@"; }
# wait_knot DESC CMD...: retries CMD (which reads $dout after at_knot) for 20 s.
wait_knot() {
  local desc="$1" i
  shift
  for ((i = 0; i < 100; i++)); do
    it_alive "$KNOT_PID" || { cat "$T/knot/knotd.out" "$T/knot/knot.log" >&2; fail "knotd exited"; }
    "$@" && return 0
    sleep 0.2
  done
  echo "$dout" >&2
  tail -n 30 "$T/knot/knot.log" >&2
  fail "$desc"
}
has_pub1() { at_knot "$PUB1" NAPTR; grep -q 'public\.example\.com' <<<"$dout"; }
wait_knot "Knot never served the public number (AXFR from lufd)" has_pub1
grep -qiE 'AXFR, incoming.*(finished|started)' "$T/knot/knot.log" ||
  { tail -n 30 "$T/knot/knot.log" >&2; fail "Knot's log shows no AXFR from lufd"; }
pass "Knot got the zone by AXFR: $PUB1 answers at Knot"
# The transfer is unsigned (docs/dns.md); the secondary signs it itself.
at_knot +dnssec "$PUB1" NAPTR
grep -qE 'RRSIG[[:space:]]+NAPTR' <<<"$dout" || { echo "$dout" >&2; fail "Knot did not sign the transferred zone"; }
pass "Knot signs the transferred (unsigned) zone itself: RRSIG over the NAPTR at Knot"

serial_at() { dns_dig "$1" +norec +short "$ZONE" SOA; awk '{print $3}' <<<"$dout"; }
S1="$(serial_at "$KNOT_PORT")"

# A public change and a peer-only change: NOTIFY -> IXFR.
run_ctl registrar-ssp2 number add +12025550101 --registrant iana-en:222 --dg dg-pub
expect_ok "public TN +12025550101"
run_ctl registrar-ssp2 number add +12025550200 --registrant iana-en:222 --dg dg-ssp2
expect_ok "peer-only TN +12025550200"
has_pub2() { at_knot "$PUB2" NAPTR; grep -q 'public\.example\.com' <<<"$dout"; }
wait_knot "Knot never served the new public number (NOTIFY + IXFR)" has_pub2
pass "a change in lufd reached Knot: $PUB2 answers at Knot"
grep -qiE 'notify.*(received|incoming)|incoming.*notify' "$T/knot/knot.log" ||
  { tail -n 30 "$T/knot/knot.log" >&2; fail "Knot's log shows no NOTIFY"; }
grep -qiE 'IXFR, incoming.*finished' "$T/knot/knot.log" ||
  { tail -n 40 "$T/knot/knot.log" >&2; fail "Knot's log shows no finished IXFR"; }
# (Knot signs the zone, so the serial it serves may run ahead of lufd's;
# the serials of the transfers are in lufd's log.)
grep -q "dns.xfr: IXFR (incremental from [0-9]*) of $ZONE" "$T/lufd.log" ||
  { grep 'dns.xfr' "$T/lufd.log" >&2; fail "lufd sent no incremental IXFR"; }
S2="$(serial_at "$KNOT_PORT")"
[[ -n "$S1" && -n "$S2" && "$S2" != "$S1" ]] || fail "Knot's serial did not change ($S1 -> $S2)"
pass "NOTIFY from lufd, then IXFR (serial $S1 -> $S2 at Knot)"

# Knot's serial catches up with lufd's (the peer-only change moved it too).
# Knot has transferred lufd's current serial (the peer-only change moved it
# too): its last IXFR reached that serial.
LUFD_SERIAL="$(serial_at "$DNS_PORT")"
knot_has_lufds_serial() {
  grep -q "dns.xfr: IXFR (incremental from [0-9]*) of $ZONE serial $LUFD_SERIAL to xfr-key" "$T/lufd.log"
}
wait_knot "Knot never transferred lufd's serial $LUFD_SERIAL" knot_has_lufds_serial
sleep 0.5  # Knot applies what it received.

for n in "$PEER1" "$PEER2"; do
  at_knot "$n" NAPTR
  grep -q 'ssp2\.example\.com' <<<"$dout" && { echo "$dout" >&2; fail "peer-only $n transferred to Knot"; }
  [[ "$(dig_status)" == NXDOMAIN ]] || { echo "$dout" >&2; fail "Knot: $n: want NXDOMAIN"; }
done
kx -y "hmac-sha256:xfr-key.:$XFR_SECRET" -t AXFR "$ZONE"
grep -qE 'ssp2\.example\.com|6\.6\.6\.6\.5\.5\.5|0\.0\.2\.0\.5\.5\.5' <<<"$dout" &&
  { echo "$dout" >&2; fail "peer-only data in the AXFR"; }
pass "peer-only numbers never transferred (NXDOMAIN at Knot, absent from AXFR)"

it_done
