#!/usr/bin/env bash
# lufd's denials cannot be walked. With 50 numbers provisioned (visible to
# anonymous DNS through a public SED group):
#   1. ldns-walk on the zone, from the apex and from a provisioned number
#      (-s), bounded by a timeout: it learns no number — no name with a
#      digit label (no number, no empty non-terminal) is in its output;
#   2. by hand, straight from lufd (dig +dnssec +norec): for 20 random
#      non-existent numbers, 20 numbers right next to provisioned ones and an
#      empty non-terminal, the denial's NSEC is owned by the query name and
#      its next name is "\000.<qname>" (RFC 9824 compact denial), never
#      another existing name; a non-existent name's bitmap has NXNAME
#      (type 128) and a NODATA bitmap has the types that exist.
#      Covering mode (the default; argument "compact" for the other): a
#      non-existent name gets NXDOMAIN and two NSECs whose owner and next
#      names are <label>.E for the qname's own ancestor E, with a first
#      label that is never a single digit (so they name no number the query
#      did not), never an existing name, and no existing name in between.
# Usage: dns_walk.sh [covering|compact]
# ldns-walk can only ask port 53, so the test re-runs itself in a private
# network namespace (unshare -rn: its own loopback, where lufd may listen on
# 127.0.0.1:53 without touching the machine's port 53). Where namespaces
# are not allowed, lufd gets a free port and only the ldns-walk step is
# skipped (said loudly in the log); part 2 always runs.
MODE="${1:-covering}"
IT_NAME="dns_walk-$MODE"
if [[ -z "${LUFD_IT_NETNS:-}" ]] && command -v unshare >/dev/null &&
  unshare -rn true 2>/dev/null; then
  LUFD_IT_NETNS=1 exec unshare -rn bash "${BASH_SOURCE[0]}" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ -n "${LUFD_IT_NETNS:-}" ]]; then
  ip link set lo up || fail "cannot bring up loopback in the network namespace"
fi
it_init

ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
if [[ -n "${LUFD_IT_NETNS:-}" ]]; then
  DNS_PORT=53
  it_log "private network namespace: lufd DNS on 127.0.0.1:53"
else
  DNS_PORT="$(it_free_dns_port)"
  it_log "NOTICE: no private network namespace (unshare -rn not allowed): the ldns-walk step is SKIPPED"
fi
case "$MODE" in covering | compact) ;; *) fail "unknown mode $MODE" ;; esac
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys" 13 csk \
  "    denial: \"$MODE\"")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "lufd does not answer DNS"; }
provision_public_sample

# 50 distinct numbers in one block (+1303555xxxx), as CSV for lufctl import.
declare -A PROVISIONED=()
NUMBERS=()
while ((${#NUMBERS[@]} < 50)); do
  n="+1303555$(printf %04d $((RANDOM % 10000)))"
  [[ -n "${PROVISIONED[$n]:-}" ]] && continue
  PROVISIONED[$n]=1
  NUMBERS+=("$n")
done
{
  echo "tn,registrant,dest_groups"
  for n in "${NUMBERS[@]}"; do echo "$n,iana-en:222,dg-ssp2"; done
} >"$T/numbers.csv"
run_ctl registrar-ssp2 import "$T/numbers.csv"
expect_ok "import of 50 numbers"
# All provisioned names (these and the sample's TNs), lowercase.
NAMES=()
for n in "${NUMBERS[@]}" +12025556666 +120255566667; do
  NAMES+=("$(enum_name "$n" "$ZONE")")
done
dns_dig "$DNS_PORT" +norec +dnssec "${NAMES[0]}" NAPTR
[[ "$(dig_status)" == NOERROR && "$(dig_answer_count)" != 0 ]] ||
  { echo "$dout" >&2; fail "imported number ${NUMBERS[0]} is not answered anonymously"; }
pass "imported numbers are answered anonymously (${NAMES[0]})"

# leaks FILE [KNOWN]: prints names in FILE that reveal a number: any
# provisioned name, or any name below the apex with a digit label. KNOWN
# (literal text) is what the walker was given (its -s start name, as it
# derives its first query from it): removed first, it is not learned.
leaks() {
  local f="$1" known="${2:-}" text name
  text="$(<"$f")"
  [[ -z "$known" ]] || text="${text//"$known"/KNOWN.}"
  for name in "${NAMES[@]}"; do grep -iF -- "$name" <<<"$text" || true; done
  # A one-digit label: after a label separator (not inside "\000").
  grep -ioE "(^|[[:space:].])[0-9]\\.[^[:space:]]*${ZONE//./\\.}" <<<"$text" || true
}

# --- 1. ldns-walk ----------------------------------------------------------------
walk() {  # desc known ldns-walk-args... (known: see leaks)
  local desc="$1" known="$2" f="$T/walk.$RANDOM.out" wrc l
  shift 2
  set +e
  # stdbuf: keep what it printed when the timeout stops it (it loops on
  # compact denial's "\000." successors until a name is too long).
  timeout -k 5 10 stdbuf -oL ldns-walk "$@" >"$f" 2>&1
  wrc=$?
  set -e
  it_log "$desc: ldns-walk exit $wrc, $(wc -l <"$f") lines; head:"
  head -c 400 "$f" | cat -v >&2
  echo >&2
  grep -q 'No DNSSEC data received' "$f" && fail "$desc: ldns-walk saw no DNSSEC data"
  grep -qiF "$ZONE" "$f" || fail "$desc: ldns-walk output does not name the zone (did it reach lufd?)"
  l="$(leaks "$f" "$known" | sort -u | head -n 5)"
  [[ -z "$l" ]] || fail "$desc: ldns-walk learned names: $l"
  pass "$desc: ldns-walk learned no number"
}
if [[ -n "${LUFD_IT_NETNS:-}" ]]; then
  walk "walk from the apex" "" @127.0.0.1 "$ZONE"
  # ldns-walk -s N first asks for N with "\000" appended to its first label
  # ("8.9.3..." -> "8\000.9.3..."); names built on that are its own.
  walk "walk from a provisioned number" "${NAMES[0]%%.*}\\000.${NAMES[0]#*.}" \
    -s "${NAMES[0]}" @127.0.0.1 "$ZONE"
fi

# --- 2. NSEC next names by hand ------------------------------------------------------
# check_denial DESC QNAME QTYPE NXNAME(yes|no): lufd's NOERROR denial for
# QNAME/QTYPE has exactly one NSEC, at QNAME, next name \000.QNAME.
check_denial() {
  local desc="$1" qname="$2" qtype="$3" nx="$4" nsec owner next want rest
  dns_dig "$DNS_PORT" +norec +dnssec "$qname" "$qtype"
  [[ "$(dig_answer_count)" == 0 ]] || { echo "$dout" >&2; fail "$desc: answer section not empty"; }
  nsec="$(awk '$4 == "NSEC" && $1 !~ /^;/' <<<"$dout")"
  (($(grep -c . <<<"$nsec") == 1)) || { echo "$dout" >&2; fail "$desc: want one NSEC, got: $nsec"; }
  read -r owner _ _ _ next rest <<<"$nsec"
  want="\\000.$qname"
  [[ "${owner,,}" == "${qname,,}" ]] || { echo "$dout" >&2; fail "$desc: NSEC owner $owner, want $qname"; }
  [[ "${next,,}" == "${want,,}" ]] || { echo "$dout" >&2; fail "$desc: NSEC next name $next, want $want"; }
  local n
  for n in "${NAMES[@]}"; do
    [[ "${next,,}" != "${n,,}" ]] || fail "$desc: NSEC next name is the existing $n"
  done
  if [[ "$nx" == yes ]]; then
    [[ " $rest " == *" NXNAME "* || " $rest " == *" TYPE128 "* ]] ||
      { echo "$dout" >&2; fail "$desc: bitmap lacks NXNAME: $rest"; }
  else
    [[ " $rest " != *" NXNAME "* && " $rest " != *" TYPE128 "* ]] ||
      { echo "$dout" >&2; fail "$desc: NODATA bitmap has NXNAME: $rest"; }
  fi
  [[ " $rest " != *" $qtype "* ]] || { echo "$dout" >&2; fail "$desc: bitmap has the asked type $qtype: $rest"; }
  grep -qE "RRSIG[[:space:]]+NSEC[[:space:]]" <<<"$dout" || { echo "$dout" >&2; fail "$desc: NSEC not signed"; }
  [[ "$(dig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "$desc: rcode $(dig_status), want NOERROR (compact denial)"; }
}

# check_covering DESC QNAME: covering mode's NXDOMAIN for QNAME: two NSECs
# (or one), each owner/next <label>.E with E an ancestor of QNAME and label
# not a single digit; no existing name is an owner, a next name or inside a
# range (compared in canonical order by ldns-compare... by python below).
check_covering() {
  local desc="$1" qname="$2" nsec owner next line e label
  dns_dig "$DNS_PORT" +norec +dnssec "$qname" NAPTR
  [[ "$(dig_status)" == NXDOMAIN ]] || { echo "$dout" >&2; fail "$desc: rcode $(dig_status), want NXDOMAIN (covering)"; }
  nsec="$(awk '$4 == "NSEC" && $1 !~ /^;/ {print $1, $5}' <<<"$dout")"
  (($(grep -c . <<<"$nsec") >= 1)) || { echo "$dout" >&2; fail "$desc: no NSEC"; }
  (($(grep -cE "RRSIG[[:space:]]+NSEC[[:space:]]" <<<"$dout") == $(grep -c . <<<"$nsec"))) ||
    { echo "$dout" >&2; fail "$desc: not every NSEC is signed"; }
  while read -r owner next; do
    for name in "$owner" "$next"; do
      label="${name%%.*}" e="${name#*.}"
      [[ ".${qname,,}" == *".${e,,}" ]] || { echo "$dout" >&2; fail "$desc: $name is not below an ancestor of the qname"; }
      [[ ! "$label" =~ ^[0-9]$ ]] || { echo "$dout" >&2; fail "$desc: $name names a number"; }
    done
    printf '%s %s\n' "$owner" "$next" >>"$T/ranges"
  done <<<"$nsec"
}

if [[ "$MODE" == covering ]]; then
  : >"$T/ranges"
  checked=0
  for ((i = 0; checked < 20 && i < 200; i++)); do
    n="+1$((200 + RANDOM % 800))$(printf %03d $((RANDOM % 1000)))$(printf %04d $((RANDOM % 10000)))"
    [[ -n "${PROVISIONED[$n]:-}" || "$n" == +1202555666* || "$n" == +1202666* || "$n" == +1202777* ]] && continue
    check_covering "random miss $n" "$(enum_name "$n" "$ZONE")"
    checked=$((checked + 1))
  done
  checked=0
  for n in "${NUMBERS[@]}"; do
    m="+$((${n#+} + 1))"
    [[ -n "${PROVISIONED[$m]:-}" ]] && continue
    check_covering "neighbour miss $m (after $n)" "$(enum_name "$m" "$ZONE")"
    checked=$((checked + 1))
    ((checked < 20)) || break
  done
  # No existing name (nor the sample's, nor an ENT above one) is an NSEC
  # owner, a next name, or inside a range: canonical order (RFC 4034 6.1).
  printf '%s\n' "${NAMES[@]}" >"$T/existing"
  for n in "${NUMBERS[@]}"; do
    d="${n#+}"
    for ((k = 1; k < ${#d}; k++)); do enum_name "+${d:0:k}" "$ZONE"; done
  done >>"$T/existing"
  python3 - "$T/ranges" "$T/existing" <<'PY' || fail "a covering NSEC spans or names an existing name"
import re, sys
def labels(text):
    out = []
    for lab in re.findall(r'(?:[^.\\]|\\.)+', text.rstrip(".")):
        b = re.sub(rb'\\(\d{3})', lambda m: bytes([int(m.group(1))]),
                   re.sub(rb'\\([^0-9])', rb'\1', lab.encode('latin-1')))
        out.append(b.lower())
    return list(reversed(out))
ranges = [l.split() for l in open(sys.argv[1]) if l.strip()]
existing = [l.strip() for l in open(sys.argv[2]) if l.strip()]
bad = 0
for o, n in ranges:
    lo, hi = labels(o), labels(n)
    for x in existing:
        k = labels(x)
        if k == lo or k == hi or lo < k < hi:
            print("covered or named:", x, "by", o, n); bad += 1
print(len(ranges), "NSEC ranges checked against", len(existing), "existing names")
sys.exit(1 if bad else 0)
PY
  pass "covering: 40 misses, NSEC names only below the qname's ancestors, never a number, no existing name spanned"
  check_denial "NODATA at a TN" "${NAMES[0]}" TXT no
  check_denial "empty non-terminal" "$(enum_name +1202555666 "$ZONE")" NAPTR no
  check_denial "ENT of the imported block" "$(enum_name +1303555 "$ZONE")" NAPTR no
  pass "NODATA and ENT denials: NSEC at the name, next \\000.<qname>, no NXNAME"
  it_done
  exit 0
fi

checked=0
for ((i = 0; checked < 20 && i < 200; i++)); do
  n="+1$((200 + RANDOM % 800))$(printf %03d $((RANDOM % 1000)))$(printf %04d $((RANDOM % 10000)))"
  [[ -n "${PROVISIONED[$n]:-}" || "$n" == +1202555666* || "$n" == +1202666* || "$n" == +1202777* ]] && continue
  check_denial "random miss $n" "$(enum_name "$n" "$ZONE")" NAPTR yes
  checked=$((checked + 1))
done
((checked == 20)) || fail "only $checked random misses checked"
pass "20 random misses: NSEC at the name, next \\000.<qname>, NXNAME"

checked=0
for n in "${NUMBERS[@]}"; do
  m="+$((${n#+} + 1))"
  [[ -n "${PROVISIONED[$m]:-}" ]] && continue
  check_denial "neighbour miss $m (after $n)" "$(enum_name "$m" "$ZONE")" NAPTR yes
  checked=$((checked + 1))
  ((checked < 20)) || break
done
pass "$checked misses next to provisioned numbers: next name never an existing one"

check_denial "NODATA at a TN" "${NAMES[0]}" TXT no
check_denial "empty non-terminal" "$(enum_name +1202555666 "$ZONE")" NAPTR no
check_denial "ENT of the imported block" "$(enum_name +1303555 "$ZONE")" NAPTR no
pass "NODATA and ENT denials: NSEC at the name, next \\000.<qname>, no NXNAME"

it_done
