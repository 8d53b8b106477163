#!/usr/bin/env bash
# Covering denial (dns.dnssec.denial, server/dns/covering.h) through real
# validators. lufd serves the sample registry; a validating unbound (stub
# to lufd through a counting UDP relay, so the test sees every query that
# reaches lufd) and delv (when installed) check:
#   - positive NAPTR, NODATA (TXT at a TN), an empty non-terminal -> secure;
#   - non-existent names -> secure NXDOMAIN (covering mode) or secure
#     NOERROR/NXDOMAIN (compact mode): a miss under an ENT, C = '0' at the
#     apex, a digit below an existing number, a non-digit label below a
#     number, an RFC 8145 key-tag query (_ta-XXXX.<apex> NULL);
#   - flood absorption: unbound with `aggressive-nsec: yes` gets one
#     NXDOMAIN under the empty subtree 1.5.5.5.2.0.2.1.<apex> and is then
#     asked N more random names below it. Covering mode: lufd must see
#     fewer than N/10 of them, both with unbound's other defaults and with
#     QNAME minimisation and RFC 8020 off (RFC 8198 alone: unbound answers
#     from the cached covering NSECs). Compact mode: every one reaches lufd
#     (checked as a sanity check of the relay's count). Two more unbounds
#     without aggressive-nsec are measured only (MEASURE lines), and lufd's
#     responder counters at stop (signatures made vs cache hits).
#   - unbound logged no validation failure.
# Usage: covering_denial.sh covering|compact [N]   (N default 200)
MODE="${1:-covering}"
FLOOD="${2:-200}"
IT_NAME="covering_denial-$MODE"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
case "$MODE" in covering | compact) ;; *) fail "unknown mode $MODE" ;; esac
ZONE=e164.arpa.

mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys" 13 csk \
  "    denial: \"$MODE\"")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "lufd does not answer DNS"; }
provision_public_sample
DS="$(lufd_ds "$ZONE")"

# The denial shape straight from lufd.
MISS="$(enum_name +120255510 "$ZONE")"  # Under the ENT +1202555, C = 1.
dns_dig "$DNS_PORT" +norec +dnssec "$MISS" NAPTR
nsecs="$(awk '$4 == "NSEC" && $1 !~ /^;/ {print $1, $5}' <<<"$dout")"
if [[ "$MODE" == covering ]]; then
  [[ "$(dig_status)" == NXDOMAIN ]] || { echo "$dout" >&2; fail "covering: rcode $(dig_status)"; }
  want="0\\000.5.5.5.2.0.2.1.$ZONE 1\\000.5.5.5.2.0.2.1.$ZONE
\\000.5.5.5.2.0.2.1.$ZONE *\\000.5.5.5.2.0.2.1.$ZONE"
  [[ "$nsecs" == "$want" ]] || { echo "$dout" >&2; fail "covering NSECs: got [$nsecs] want [$want]"; }
  pass "lufd: NXDOMAIN with the covering NSECs of (E, C) = (5.5.5.2.0.2.1, 1)"
else
  [[ "$(dig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "compact: rcode $(dig_status)"; }
  pass "lufd: compact denial (NOERROR, NSEC at the name)"
fi

# A UDP relay in front of lufd that writes every query name it forwards.
cat >"$T/relay.py" <<'PY'
import select, socket, sys
listen_port, upstream_port, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
down.bind(("127.0.0.1", listen_port))
up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
up.connect(("127.0.0.1", upstream_port))
pending = {}
log = open(log_path, "a", buffering=1)
def qname(p):
    labels, pos = [], 12
    while pos < len(p) and p[pos] != 0:
        n = p[pos]
        labels.append(p[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    return ".".join(labels) + "."
while True:
    r, _, _ = select.select([down, up], [], [])
    if down in r:
        p, addr = down.recvfrom(65535)
        if len(p) >= 12:
            pending[p[:2]] = addr
            log.write(qname(p).lower() + "\n")
            up.send(p)
    if up in r:
        p = up.recv(65535)
        addr = pending.pop(p[:2], None)
        if addr:
            down.sendto(p, addr)
PY
RELAY_PORT="$(it_free_dns_port)"
python3 "$T/relay.py" "$RELAY_PORT" "$DNS_PORT" "$T/relay.log" &
_IT_PIDS+=("$!")
wait_dns "$RELAY_PORT" "$ZONE" SOA 10 || fail "relay does not forward"

# --- validation through unbound and delv ------------------------------------
UNBOUND_EXTRA="  aggressive-nsec: yes"
start_unbound good "$ZONE" "$RELAY_PORT" "$DS"
U="$UNBOUND_PORT"
miss_rcode=NXDOMAIN
[[ "$MODE" == compact ]] && miss_rcode=NOERROR  # unbound 1.17: RFC 9824 as NODATA.

cat >"$T/anchors.conf" <<EOT
trust-anchors { $(awk '{for (i = 1; i <= NF; i++) if ($i == "DS") {
  d = ""; for (j = i + 4; j <= NF; j++) d = d $j
  printf "%s static-ds %s %s %s \"%s\";", $1, $(i + 1), $(i + 2), $(i + 3), d; exit }}' <<<"$DS") };
EOT
HAVE_DELV=0
command -v delv >/dev/null && HAVE_DELV=1
((HAVE_DELV)) || it_log "NOTICE: delv not installed: only unbound validates"
delv_check() {  # desc rcode name type
  ((HAVE_DELV)) || return 0
  local o
  set +e
  o="$(timeout 20 delv @127.0.0.1 -p "$DNS_PORT" -a "$T/anchors.conf" "+root=$ZONE" "$3" "$4" 2>&1)"
  set -e
  case "$2" in
    NOERROR) grep -qE '^; fully validated|^; negative response, fully validated' <<<"$o" ;;
    NXDOMAIN) grep -qE '^; negative response, fully validated' <<<"$o" && grep -qi 'NXDOMAIN' <<<"$o" ;;
  esac || { echo "$o" >&2; fail "delv: $1"; }
  pass "delv: $1 ($2, fully validated)"
}
check() {  # desc rcode name type
  expect_dns "$U" "unbound: $1" "$2" yes "$3" "$4"
  delv_check "$1" "$2" "$3" "$4"
}

check "positive NAPTR" NOERROR "$(enum_name +12025556666 "$ZONE")" NAPTR
check "NODATA (TXT at a TN)" NOERROR "$(enum_name +12025556666 "$ZONE")" TXT
check "empty non-terminal" NOERROR "$(enum_name +1202555666 "$ZONE")" NAPTR
check "miss under an ENT" "$miss_rcode" "$(enum_name +12025557 "$ZONE")" NAPTR
check "C = 0 at the apex" "$miss_rcode" "$(enum_name +05 "$ZONE")" NAPTR
check "digit below a number" "$miss_rcode" "$(enum_name +1202555666671 "$ZONE")" NAPTR
check "non-digit label below a number" "$miss_rcode" "_sip._udp.$(enum_name +12025556666 "$ZONE")" NAPTR
check "RFC 8145 key-tag query" "$miss_rcode" "_ta-4f66.$ZONE" NULL
check "C = 9 at the apex" "$miss_rcode" "$(enum_name +91 "$ZONE")" NAPTR

# --- flood absorption ---------------------------------------------------------
SUB="1.5.5.5.2.0.2.1.$ZONE"
# flood DESC PORT ASSERT: one miss under $SUB, then $FLOOD distinct random
# names below it through the unbound at PORT; counts what reached lufd.
# ASSERT=yes: covering mode must keep it under FLOOD/10.
flood() {
  local desc="$1" port="$2" assert="$3" before after reached name sent=0
  local -A seen=()
  expect_dns "$port" "$desc: first miss under $SUB" "$miss_rcode" yes "3.2.$SUB" NAPTR
  before="$(grep -c "$SUB\$" "$T/relay.log" || true)"
  while ((sent < FLOOD)); do
    name="$((RANDOM % 10)).$((RANDOM % 10)).$((RANDOM % 10)).$((RANDOM % 10)).$SUB"
    [[ -n "${seen[$name]:-}" ]] && continue
    seen[$name]=1
    dns_dig "$port" +dnssec "$name" NAPTR
    [[ "$(dig_status)" == "$miss_rcode" ]] || { echo "$dout" >&2; fail "$desc: flood name $name: rcode $(dig_status)"; }
    sent=$((sent + 1))
  done
  after="$(grep -c "$SUB\$" "$T/relay.log" || true)"
  reached=$((after - before))
  it_log "MEASURE mode=$MODE unbound=[$desc]: $FLOOD random names under $SUB -> $reached queries reached lufd"
  [[ "$assert" == yes ]] || return 0
  if [[ "$MODE" == covering ]]; then
    ((reached * 10 < FLOOD)) || fail "$desc: $reached of $FLOOD flood names reached lufd (want < $((FLOOD / 10)))"
    pass "$desc: unbound absorbed the flood ($reached of $FLOOD reached lufd)"
  else
    ((reached >= FLOOD)) || fail "$desc: only $reached of $FLOOD reached lufd: is the relay counting?"
    pass "$desc: every flood name reached lufd ($reached of $FLOOD)"
  fi
}
# The unbound above: aggressive-nsec on, otherwise defaults (QNAME
# minimisation, harden-below-nxdomain: RFC 8020 helps too).
flood "aggressive-nsec, defaults" "$U" yes
# RFC 8198 alone: no QNAME minimisation, no RFC 8020 cut-off; only the
# cached covering NSECs can answer.
UNBOUND_EXTRA="  aggressive-nsec: yes
  qname-minimisation: no
  harden-below-nxdomain: no"
start_unbound nsec-only "$ZONE" "$RELAY_PORT" "$DS"
flood "aggressive-nsec only (no qname-min, no RFC 8020)" "$UNBOUND_PORT" yes
# Neither (measurement only): every name reaches lufd in both modes.
UNBOUND_EXTRA="  aggressive-nsec: no
  qname-minimisation: no
  harden-below-nxdomain: no"
start_unbound plain "$ZONE" "$RELAY_PORT" "$DS"
flood "no aggressive-nsec, no qname-min, no RFC 8020" "$UNBOUND_PORT" no
# RFC 8020 and QNAME minimisation without RFC 8198 (measurement only).
UNBOUND_EXTRA="  aggressive-nsec: no"
start_unbound rfc8020 "$ZONE" "$RELAY_PORT" "$DS"
flood "no aggressive-nsec, defaults" "$UNBOUND_PORT" no

stop_lufd
grep -h "dns: responder:" "$T/lufd.log" | tail -n 1 | sed "s/^/MEASURE mode=$MODE /" >&2 || true
for f in "$T"/unbound-*.log; do
  if grep -E 'validation failure|bogus' "$f" >&2; then
    fail "unbound logged validation failures ($f, above)"
  fi
done
pass "no validation failures logged by any unbound"
it_done
