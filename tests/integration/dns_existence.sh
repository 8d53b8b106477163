#!/usr/bin/env bash
# Per-viewer existence in DNS (issue 8), against a real lufd provisioned with
# the RFC 7878 scenario: SSP2's TN +12025556666, range
# +12026660000..+12026669999 and prefix +1202777 are served only through
# sg-ssp2, offered to SSP1 (accepted); nothing is public, nothing is offered
# to SSP3. Signed zone e164.arpa. (compact denial, RFC 9824).
#   For anonymous UDP (dig), TSIG SSP3 (dig -y) and DoT SSP3 (kdig +tls with
#   SSP3's client certificate): each name above the TN (the issue's
#   6.6.6.5.5.5.2.0.2.1.e164.arpa. first), the range and the prefix answers
#   exactly like a name at the same depth above nothing (rcode, flags,
#   sections, SOA and NSEC with its bitmap, RRSIG key/labels/TTLs, response
#   size), with and without DNSSEC, with CO, for NAPTR and DS.
#   For SSP1 over TSIG and over DoT: the same names are empty non-terminals
#   (NOERROR, NSEC bitmap without NXNAME) and the number answers, while the
#   names above nothing are NXNAME: validating resolvers keep resolving.
IT_NAME=dns_existence
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig kdig
ZONE=e164.arpa.

mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
DOT_PORT="$(it_free_port)"
# Compact denial: the shapes compared below are its NSEC bitmaps (covering
# denial's per-viewer E is covered by covering_denial.sh and the unit tests).
LUFD_CONFIG_TAIL="$(LUFD_DNSSEC_YAML='    denial: "compact"' lufd_dot_yaml "$DNS_PORT" "$DOT_PORT" "$T/keys" "$ZONE")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || {
  echo "$dout" >&2
  fail "lufd does not answer DNS on 127.0.0.1:$DNS_PORT"
}
pass "lufd serves DNS on :$DNS_PORT and DoT on :$DOT_PORT"

provision_rfc7878
add_tsig_peers
TN_NAME="$(enum_name +12025556666 "$ZONE")"

# ask VIEWER ARGS...: the query as VIEWER (anon | tsig1 | tsig3 | dot1 |
# dot3); $dout.
ask() {
  local who="$1"
  shift
  case "$who" in
    anon) dns_dig "$DNS_PORT" +norec "$@" ;;
    tsig1) dns_dig "$DNS_PORT" +norec -y "hmac-sha256:ssp1-key.:$SECRET1" "$@" ;;
    tsig3) dns_dig "$DNS_PORT" +norec -y "hmac-sha256:ssp3-key.:$SECRET3" "$@" ;;
    dot1 | dot3)
      kdig_tls "$DOT_PORT" +tls-certfile="$PKI/peer-ssp${who#dot}.pem" \
        +tls-keyfile="$PKI/peer-ssp${who#dot}.key" "$@"
      ;;
  esac
}
status() { sed -n 's/.*status: \([A-Z0-9]*\)[,;].*/\1/p' <<<"$dout" | head -n 1; }

# shape QNAME: the last answer with the query name replaced by QNAME, and
# what differs between two equal answers dropped: the ID, timings, the
# server line, TSIG records, RRSIG validity times and signature bytes.
shape() {
  local q="${1%.}"
  q="${q//./\\.}"
  sed -E -e "s/${q}\\.?/QNAME./g" -e 's/id: [0-9]+//' \
    -e '/Query time|WHEN:|SERVER:|^;; From |^;; Time |DiG |^;; Got answer|TSIG|^$/d' <<<"$dout" |
    awk '$4 == "RRSIG" { print $1, $2, $3, $4, $5, $6, $7, $8, $11, $12; next } { print }'
}

# answered: the last answer has a NAPTR in its answer section.
answered() { sed -n '/ANSWER SECTION/,$p' <<<"$dout" | grep -qE '[[:space:]]NAPTR[[:space:]]'; }
# Waits until SSP1's view has the offer (the follower polls).
for ((i = 0; i < 50; i++)); do
  ask tsig1 "$TN_NAME" NAPTR
  answered && break
  sleep 0.1
done
answered || { echo "$dout" >&2; fail "TSIG SSP1 does not get +12025556666's NAPTR"; }

# name-above-data name-above-nothing (same depth): TN, range, prefix.
PAIRS=(
  "6.6.6.5.5.5.2.0.2.1.$ZONE 6.6.6.4.4.4.2.0.2.1.$ZONE"
  "5.5.5.2.0.2.1.$ZONE 4.4.4.2.0.2.1.$ZONE"
  "6.6.6.2.0.2.1.$ZONE 8.8.8.2.0.2.1.$ZONE"
  "6.6.6.6.2.0.2.1.$ZONE 8.8.8.8.2.0.2.1.$ZONE"
  "7.7.2.0.2.1.$ZONE 8.8.2.0.2.1.$ZONE"
  "2.0.2.1.$ZONE 3.0.2.1.$ZONE"
)
VARIANTS=("NAPTR" "NAPTR +dnssec" "NAPTR +dnssec +bufsize=512" "DS +dnssec")

for who in anon tsig3 dot3; do
  for pair in "${PAIRS[@]}"; do
    read -r above nothing <<<"$pair"
    for v in "${VARIANTS[@]}"; do
      # shellcheck disable=SC2086
      ask "$who" "$above" $v
      a="$(shape "$above")"
      # shellcheck disable=SC2086
      ask "$who" "$nothing" $v
      b="$(shape "$nothing")"
      [[ -n "$a" && "$a" == "$b" ]] || {
        diff <(echo "$a") <(echo "$b") >&2 || true
        fail "$who: $above ($v) does not answer like $nothing"
      }
      [[ "$v" == *dnssec* ]] || grep -q NXDOMAIN <<<"$a" ||
        { echo "$a" >&2; fail "$who: $above ($v) is not NXDOMAIN"; }
    done
  done
  it_log "$who, the issue's name with +dnssec, as compared:"$'\n'"$(ask "$who" "6.6.6.5.5.5.2.0.2.1.$ZONE" NAPTR +dnssec && shape "6.6.6.5.5.5.2.0.2.1.$ZONE")"
  pass "$who: names above the TN, range and prefix answer like names above nothing"
done
# The compact-denial bitmap, spelled out for the issue's example.
ask anon "6.6.6.5.5.5.2.0.2.1.$ZONE" NAPTR +dnssec
grep -qE '[[:space:]]NSEC[[:space:]].*(NXNAME|TYPE128)' <<<"$dout" ||
  { echo "$dout" >&2; fail "anonymous: the issue's name has no NXNAME in its NSEC bitmap"; }
pass "anonymous: 6.6.6.5.5.5.2.0.2.1.$ZONE is NXNAME, as in a registry without the number"

for who in tsig1 dot1; do
  for pair in "${PAIRS[@]}"; do
    read -r above nothing <<<"$pair"
    ask "$who" "$above" NAPTR +dnssec
    [[ "$(status)" == NOERROR ]] && grep -qE '[[:space:]]NSEC[[:space:]]' <<<"$dout" &&
      ! grep -qE '[[:space:]]NSEC[[:space:]].*(NXNAME|TYPE128)' <<<"$dout" ||
      { echo "$dout" >&2; fail "$who: $above is not an empty non-terminal"; }
    ask "$who" "$nothing" NAPTR +dnssec
    grep -qE '[[:space:]]NSEC[[:space:]].*(NXNAME|TYPE128)' <<<"$dout" ||
      { echo "$dout" >&2; fail "$who: $nothing is not NXNAME"; }
  done
  ask "$who" "$TN_NAME" NAPTR
  answered || { echo "$dout" >&2; fail "$who: no NAPTR for +12025556666"; }
  pass "$who: names above its offered TN, range and prefix are empty non-terminals"
done

it_alive "$LUFD_PID" || fail "lufd died"
it_done
