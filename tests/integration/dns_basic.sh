#!/usr/bin/env bash
# lufd's DNS front door with real clients (dig, kdig, bash sockets) against a
# real lufd (SQLite, dev PKI, zone e164.arpa., a CSK of algorithm 13
# generated at start into a temp key dir), provisioned with lufctl:
#   - `lufd --check-config` names the field of every bad dns setting;
#   - apex SOA/NS/DNSKEY (AA, signed); a TN with 2 NAPTRs in a public SED
#     group (+dnssec: RRSIG, AA); a range and a prefix (synthesized, signed);
#   - NODATA (TXT at a TN), empty non-terminal, non-existent number (compact
#     denial, configured here; the default covering denial has its own test,
#     covering_denial.sh: NOERROR + NSEC at the name with NXNAME; the CO flag restores
#     NXDOMAIN; no DO: plain NXDOMAIN);
#   - REFUSED outside the apex, NOTIMP for opcode STATUS, ANY (RFC 8482),
#     BADVERS for EDNS version 1, FORMERR for an explicit NXNAME query;
#   - TC over UDP with a 512-byte buffer and dig's automatic TCP retry;
#   - the query's case echoed; IPv6 (::1); TCP pipelining (several framed
#     queries in one write, each answered) and dig/kdig +keepopen;
#   - garbage, truncated and compression-loop packets over UDP and TCP,
#     after which a good query still answers.
IT_NAME=dns_basic
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig kdig
ZONE=e164.arpa.

# --- check-config names the dns fields ----------------------------------------
# A valid grpc/store part (write_config's) so that only dns fields fail.
bad_dns="$(cat <<EOF
dns:
  listen: ["nohost:53", "[::1]:70000"]
  dot:
    listen: "127.0.0.1:0"
    client_cert: "maybe"
  zones:
    - name: "e164.arpa"
    - name: "e164.arpa"
  dnssec:
    algorithm: 8
    scheme: "nsec3"
    signature_validity: "2 weeks"
    denial: "black-lies"
  tcp_idle_timeout: "0s"
EOF
)"
LUFD_CONFIG_TAIL="$bad_dns" write_config "$T/bad.yaml" "sqlite:$T/unused.db" 0
set +e
out="$("$LUFD_BIN" --check-config "$T/bad.yaml" 2>&1)"
rc=$?
set -e
((rc != 0)) || fail "--check-config accepted a bad dns section"
for field in 'dns.listen\[0\]:' 'dns.listen\[1\]:' 'dns.dot.client_cert:' \
  'dns.dot.tls.cert_file: required' 'dns.zones\[0\].name:' \
  'dns.zones\[1\].name:' 'dns.dnssec.algorithm:' 'dns.dnssec.scheme:' \
  'dns.dnssec.signature_validity:' 'dns.dnssec.key_dir: required' \
  'dns.dnssec.denial:' \
  'dns.tcp_idle_timeout:'; do
  grep -qE "^$field" <<<"$out" || { echo "$out" >&2; fail "--check-config does not name $field"; }
done
pass "--check-config rejects a bad dns section, naming each field"

# --- start ----------------------------------------------------------------------
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(cat <<EOF
dns:
  listen:
    - "127.0.0.1:$DNS_PORT"
    - "[::1]:$DNS_PORT"
  workers: 2
  tcp_idle_timeout: "2s"
  zones:
    - name: "$ZONE"
  dnssec:
    key_dir: "$T/keys"
    algorithm: 13
    scheme: "csk"
    denial: "compact"
EOF
)"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || {
  echo "$dout" >&2
  fail "lufd does not answer DNS on 127.0.0.1:$DNS_PORT"
}
grep -q "dns: serving e164.arpa. on 127.0.0.1:$DNS_PORT" "$T/lufd.log" ||
  fail "no 'dns: serving' line in the log"
pass "lufd serves DNS on 127.0.0.1:$DNS_PORT"

provision_public_sample
"$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
  --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" --stage accept \
  >>"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "offer accept failed"; }
# A second NAPTR in the public group: the TN answers with 2.
run_ctl registrar-ssp2 record add rec-ssp2-sips --registrant iana-en:222 \
  --ttl 3600 --naptr '20 100 "u" "E2U+sips" "!^(.*)$!sips:\1@ssp2.example.com!" ""'
expect_ok "second NAPTR record"
run_ctl registrar-ssp2 sedgroup add sg-public --registrant iana-en:222 \
  --dg dg-ssp2 --record rec-ssp2-sip --record rec-ssp2-sips --public --in-service
expect_ok "sg-public with 2 records"
# A TN whose answer does not fit 512 bytes (for TC): 8 long NAPTRs.
run_ctl registrar-ssp2 dg add dg-big --registrant iana-en:222
expect_ok "dg-big"
big_refs=()
for i in 1 2 3 4 5 6 7 8; do
  run_ctl registrar-ssp2 record add "rec-big-$i" --registrant iana-en:222 \
    --ttl 3600 --naptr "$((10 + i)) 100 \"u\" \"E2U+sip\" \"!^(.*)\$!sip:\\1@a-rather-long-host-name-number-$i.sip.ssp2.example.com!\" \"\""
  expect_ok "big record $i"
  big_refs+=(--record "rec-big-$i")
done
run_ctl registrar-ssp2 sedgroup add sg-big --registrant iana-en:222 \
  --dg dg-big "${big_refs[@]}" --public --in-service
expect_ok "sg-big"
run_ctl registrar-ssp2 number add +12025550100 --registrant iana-en:222 --dg dg-big
expect_ok "TN +12025550100 on dg-big"
# A record written without --ttl: DNS serves it with the registry default,
# and `lufctl record get` shows that TTL, not 0.
run_ctl registrar-ssp2 record add rec-no-ttl --registrant iana-en:222 \
  --naptr '10 100 "u" "E2U+sip" "!^(.*)$!sip:\1@no-ttl.ssp2.example.com!" ""'
expect_ok "record without --ttl"
run_ctl registrar-ssp2 record get rec-no-ttl
expect_ok "record get rec-no-ttl"
grep -qE '^rec-no-ttl[[:space:]]+iana-en:222[[:space:]]+3600 \(default\)[[:space:]]' <<<"$out" ||
  { echo "$out" >&2; fail "record get: want TTL '3600 (default)'"; }
run_ctl registrar-ssp2 dg add dg-no-ttl --registrant iana-en:222
expect_ok "dg-no-ttl"
run_ctl registrar-ssp2 sedgroup add sg-no-ttl --registrant iana-en:222 \
  --dg dg-no-ttl --record rec-no-ttl --public --in-service
expect_ok "sg-no-ttl"
run_ctl registrar-ssp2 number add +12025550101 --registrant iana-en:222 --dg dg-no-ttl
expect_ok "TN +12025550101 on dg-no-ttl"

TN_NAME="$(enum_name +12025556666 "$ZONE")"
BIG_NAME="$(enum_name +12025550100 "$ZONE")"
RANGE_NAME="$(enum_name +12026661234 "$ZONE")"
PREFIX_NAME="$(enum_name +12027771234 "$ZONE")"
ENT_NAME="$(enum_name +1202555666 "$ZONE")"
MISS_NAME="$(enum_name +12025550000 "$ZONE")"

# expect_rr DESC RCODE ANSWER-REGEX-OR-"" ARGS...: dig at lufd, check the rcode
# and that the output has (or with "!" prefix, lacks) a line matching REGEX.
expect_rr() {
  local desc="$1" want="$2" re="$3"
  shift 3
  dns_dig "$DNS_PORT" +norec "$@"
  local got
  got="$(dig_status)"
  [[ "$got" == "$want" ]] || { echo "$dout" >&2; fail "$desc: rcode ${got:-none (dig exit $drc)}, want $want"; }
  if [[ -n "$re" ]]; then
    if [[ "$re" == !* ]]; then
      ! grep -qE -- "${re#!}" <<<"$dout" || { echo "$dout" >&2; fail "$desc: unexpected /${re#!}/"; }
    else
      grep -qE -- "$re" <<<"$dout" || { echo "$dout" >&2; fail "$desc: no line matching /$re/"; }
    fi
  fi
  pass "$desc ($got)"
}
expect_aa() {
  [[ " $(dig_flags) " == *" aa "* ]] || { echo "$dout" >&2; fail "$1: AA not set"; }
}

# The signer needs a moment after provisioning; positive answers are signed
# on demand meanwhile, so no waiting is needed for RRSIGs to appear.
expect_rr "apex SOA" NOERROR "^$ZONE[[:space:]].*SOA" "$ZONE" SOA
expect_aa "apex SOA"
expect_rr "apex NS" NOERROR "^$ZONE[[:space:]].*NS[[:space:]]" "$ZONE" NS
expect_rr "apex DNSKEY signed" NOERROR "RRSIG[[:space:]]+DNSKEY[[:space:]]+13 " +dnssec "$ZONE" DNSKEY

expect_rr "TN NAPTR +dnssec" NOERROR "RRSIG[[:space:]]+NAPTR[[:space:]]+13 " +dnssec "$TN_NAME" NAPTR
expect_aa "TN NAPTR"
n="$(grep -cE "^$TN_NAME[[:space:]].*IN[[:space:]]+NAPTR[[:space:]]" <<<"$dout" || true)"
((n == 2)) || { echo "$dout" >&2; fail "TN: want 2 NAPTRs, got $n"; }
grep -q 'E2U+sips' <<<"$dout" || { echo "$dout" >&2; fail "TN: second NAPTR missing"; }
pass "TN NAPTR: 2 records, RRSIG, AA"
NO_TTL_NAME="$(enum_name +12025550101 "$ZONE")"
expect_rr "record without --ttl is served with TTL 3600" NOERROR \
  "^$NO_TTL_NAME[[:space:]]+3600[[:space:]]+IN[[:space:]]+NAPTR" "$NO_TTL_NAME" NAPTR
expect_rr "range NAPTR synthesized" NOERROR "^$RANGE_NAME[[:space:]].*NAPTR.*ssp2.example.com" +dnssec "$RANGE_NAME" NAPTR
grep -qE "RRSIG[[:space:]]+NAPTR" <<<"$dout" || { echo "$dout" >&2; fail "range: no RRSIG"; }
expect_rr "prefix NAPTR synthesized" NOERROR "^$PREFIX_NAME[[:space:]].*NAPTR.*ssp2.example.com" +dnssec "$PREFIX_NAME" NAPTR
grep -qE "RRSIG[[:space:]]+NAPTR" <<<"$dout" || { echo "$dout" >&2; fail "prefix: no RRSIG"; }

expect_rr "NODATA: TXT at a TN" NOERROR "^$ZONE[[:space:]].*SOA" "$TN_NAME" TXT
[[ "$(dig_answer_count)" == 0 ]] || { echo "$dout" >&2; fail "NODATA has answers"; }
grep -qE "^$ZONE[[:space:]]+300[[:space:]]+IN[[:space:]]+SOA" <<<"$dout" ||
  { echo "$dout" >&2; fail "NODATA: SOA TTL is not the SOA minimum (300)"; }
expect_rr "empty non-terminal" NOERROR "" "$ENT_NAME" NAPTR
[[ "$(dig_answer_count)" == 0 ]] || { echo "$dout" >&2; fail "ENT has answers"; }

expect_rr "non-existent, no DO: NXDOMAIN" NXDOMAIN "^$ZONE[[:space:]].*SOA" "$MISS_NAME" NAPTR
expect_rr "non-existent +dnssec: compact denial" NOERROR \
  "^$MISS_NAME[[:space:]].*NSEC[[:space:]]+.*(NXNAME|TYPE128)" +dnssec "$MISS_NAME" NAPTR
grep -qE "RRSIG[[:space:]]+NSEC[[:space:]]" <<<"$dout" || { echo "$dout" >&2; fail "compact denial: NSEC not signed"; }
expect_rr "explicit NXNAME query: FORMERR" FORMERR "" "$MISS_NAME" TYPE128

expect_rr "outside the apex: REFUSED" REFUSED "" example.com. A
expect_rr "opcode STATUS: NOTIMP" NOTIMP "" +opcode=status "$ZONE" SOA
expect_rr "ANY (RFC 8482)" NOERROR "" "$TN_NAME" ANY
types="$(awk -v n="$TN_NAME" '$1 == n && $3 == "IN" {print $4}' <<<"$dout" | sort -u | wc -l)"
((types <= 1)) || { echo "$dout" >&2; fail "ANY answered with $types RR types (RFC 8482: one)"; }
expect_rr "EDNS version 1: BADVERS" BADVERS "" +edns=1 +noednsnegotiation "$ZONE" SOA

# --- TC and TCP retry -----------------------------------------------------------
expect_rr "big answer over UDP/512: TC" NOERROR "" +ignore +bufsize=512 +dnssec "$BIG_NAME" NAPTR
[[ " $(dig_flags) " == *" tc "* ]] || { echo "$dout" >&2; fail "no TC on a 512-byte buffer"; }
expect_rr "big answer: dig retries over TCP" NOERROR "" +bufsize=512 +dnssec "$BIG_NAME" NAPTR
n="$(grep -cE "^$BIG_NAME[[:space:]].*IN[[:space:]]+NAPTR" <<<"$dout" || true)"
((n == 8)) || { echo "$dout" >&2; fail "TCP retry: want 8 NAPTRs, got $n"; }
grep -q "(TCP)" <<<"$dout" || { echo "$dout" >&2; fail "dig did not retry over TCP"; }
pass "TCP retry: 8 NAPTRs"

# --- case, IPv6, TCP ------------------------------------------------------------
MIXED="$(sed 's/e164\.arpa\./E164.ArPa./' <<<"$TN_NAME")"
expect_rr "mixed-case query" NOERROR "^$MIXED[[:space:]].*NAPTR" "$MIXED" NAPTR
grep -qF ";$MIXED" <<<"$dout" || { echo "$dout" >&2; fail "question case not echoed"; }

set +e
dout="$(timeout 20 dig @::1 -p "$DNS_PORT" +time=3 +tries=2 +norec "$TN_NAME" NAPTR 2>&1)"
set -e
[[ "$(dig_status)" == NOERROR ]] && grep -qE "^$TN_NAME[[:space:]].*NAPTR" <<<"$dout" ||
  { echo "$dout" >&2; fail "IPv6 ::1 UDP"; }
set +e
dout="$(timeout 20 dig @::1 -p "$DNS_PORT" +tcp +time=3 +tries=2 +norec "$TN_NAME" NAPTR 2>&1)"
set -e
[[ "$(dig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "IPv6 ::1 TCP"; }
pass "IPv6 ::1 over UDP and TCP"

# dig and kdig reuse one TCP connection for several queries.
dns_dig "$DNS_PORT" +tcp +keepopen +norec "$TN_NAME" NAPTR "$RANGE_NAME" NAPTR "$MISS_NAME" NAPTR "$ZONE" SOA
n="$(grep -c 'status: ' <<<"$dout" || true)"
((n == 4)) || { echo "$dout" >&2; fail "dig +keepopen: $n answers of 4"; }
set +e
kout="$(timeout 20 kdig @127.0.0.1 -p "$DNS_PORT" +tcp +keepopen +norec \
  "$TN_NAME" NAPTR "$PREFIX_NAME" NAPTR "$ZONE" SOA 2>&1)"
set -e
n="$(grep -c 'status: NOERROR' <<<"$kout" || true)"
((n == 3)) || { echo "$kout" >&2; fail "kdig +keepopen: $n NOERROR answers of 3"; }
pass "several queries on one TCP connection (dig and kdig +keepopen)"

# A DNS query in wire form: qname_wire (hex escapes) for NAME.
wire_name() {
  local name="${1%.}" label out=""
  local IFS=.
  for label in $name; do out+="$(printf '\\x%02x' "${#label}")$label"; done
  printf '%s\\x00' "$out"
}
# query_bytes ID NAME: printf format string of a NAPTR query, id ID (0-255).
query_bytes() {
  printf '\\x00\\x%02x\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00%s\\x00\\x23\\x00\\x01' "$1" "$(wire_name "$2")"
}
# framed ID NAME: the query with its 2-byte TCP length prefix.
framed() {
  local q len
  q="$(query_bytes "$1" "$2")"
  len="$(printf "$q" | wc -c)"
  printf '\\x%02x\\x%02x%s' $((len >> 8)) $((len & 255)) "$q"
}

# Real pipelining: 5 framed queries in one write; read until lufd closes
# the idle connection (tcp_idle_timeout 2 s), then walk the frames.
pipelined="$T/pipelined.bin"
{
  exec 3<>"/dev/tcp/127.0.0.1/$DNS_PORT"
  printf "$(framed 1 "$TN_NAME")$(framed 2 "$RANGE_NAME")$(framed 3 "$MISS_NAME")$(framed 4 "$PREFIX_NAME")$(framed 5 "$ENT_NAME")" >&3
  timeout 10 cat <&3 >"$pipelined" || true
  exec 3<&- 3>&-
}
mapfile -t bytes < <(od -An -v -tu1 "$pipelined" | tr -s ' ' '\n' | grep -v '^$')
ids=()
off=0
for ((i = 0; i < 10 && off + 4 <= ${#bytes[@]}; i++)); do
  len=$((bytes[off] * 256 + bytes[off + 1]))
  ids+=("${bytes[off + 3]}")
  off=$((off + 2 + len))
done
[[ "$(printf '%s\n' "${ids[@]}" | sort -n | tr '\n' ' ')" == "1 2 3 4 5 " ]] ||
  fail "pipelined: answers for ids '${ids[*]}' (${#bytes[@]} bytes), want 1..5"
((off == ${#bytes[@]})) || fail "pipelined: trailing bytes ($off of ${#bytes[@]})"
pass "5 pipelined queries in one write: 5 answers, then closed when idle"

# The CO flag (RFC 9824): dig 9.18 masks EDNS flag 0x4000 out of +ednsflags,
# so the query is written by hand: OPT with DO|CO (0xc000), then DO alone.
# udp_rcode FORMAT: sends one datagram, prints the response's rcode.
udp_rcode() {
  local -a b
  # One write() per datagram: bash's printf flushes at every 0x0a byte,
  # which would split the packet, so the bytes go through a file and cat.
  printf "$1" >"$T/datagram"
  exec 3<>"/dev/udp/127.0.0.1/$DNS_PORT"
  cat "$T/datagram" >&3
  mapfile -t b < <(timeout 5 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$')
  exec 3<&- 3>&-
  ((${#b[@]} >= 12)) || { echo none; return 0; }
  echo $((b[3] & 15))
}
opt_query() {  # ID NAME EDNS-FLAGS-HEX(4 digits)
  printf '\\x00\\x%02x\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x01%s\\x00\\x23\\x00\\x01\\x00\\x00\\x29\\x04\\xd0\\x00\\x00\\x%s\\x%s\\x00\\x00' \
    "$1" "$(wire_name "$2")" "${3:0:2}" "${3:2:2}"
}
co="$(udp_rcode "$(opt_query 9 "$MISS_NAME" c000)")"
do_only="$(udp_rcode "$(opt_query 10 "$MISS_NAME" 8000)")"
[[ "$co" == 3 && "$do_only" == 0 ]] ||
  fail "CO flag: rcode $co with DO|CO (want 3, NXDOMAIN), $do_only with DO (want 0)"
pass "CO flag restores NXDOMAIN (DO|CO: NXDOMAIN, DO: NOERROR)"

# --- bad input ------------------------------------------------------------------
send_udp() {
  printf "$1" >"$T/datagram"
  cat "$T/datagram" >"/dev/udp/127.0.0.1/$DNS_PORT" 2>/dev/null || true
}
send_udp '\x01'                                              # shorter than a header
send_udp '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'  # question missing
send_udp '\x12\x35\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x23\x00\x01'  # pointer loop
send_udp '\x12\x36\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f\x61\x62'  # label past the end
send_udp "$(head -c 600 /dev/urandom | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')"
# Garbage and a zero-length frame over TCP.
{
  exec 3<>"/dev/tcp/127.0.0.1/$DNS_PORT"
  printf '\x00\x05\xff\xff\xff\xff\xff\x00\x00' >&3 || true
  timeout 5 cat <&3 >/dev/null || true
  exec 3<&- 3>&-
} 2>/dev/null
expect_rr "good query after bad packets" NOERROR "^$TN_NAME[[:space:]].*NAPTR" "$TN_NAME" NAPTR
it_alive "$LUFD_PID" || fail "lufd died"

it_done
