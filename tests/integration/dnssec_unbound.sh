#!/usr/bin/env bash
# lufd's DNS answers validated by a real resolver: Debian's unbound, started
# by this test with the zone's DS (from `lufctl key ds`) as its only trust
# anchor and a stub zone pointing at lufd on loopback. Through unbound:
#   - a TN's NAPTR, a number inside a range and one under a prefix (both
#     synthesized and signed on demand) -> NOERROR, answer, AD;
#   - NODATA (TXT at the TN) -> NOERROR, no answer, AD;
#   - a non-existent number -> secure denial: by default covering denial
#     (NXDOMAIN, AD); with compact denial (RFC 9824: NOERROR + NSEC at the
#     name with NXNAME in the bitmap) unbound 1.17, which predates RFC 9824,
#     validates it as a secure NODATA, as the RFC intends: NOERROR, AD. Both
#     are accepted here; covering_denial.sh checks each mode's rcode;
#   - an empty non-terminal (+1202555666, between +12025556666's children
#     and the apex) -> NOERROR, no answer, AD;
#   - a second unbound whose anchor is that DS with a wrong digest ->
#     SERVFAIL for the same names (proves that validation is really on).
# Also, straight from lufd: the DS that lufctl prints matches the DNSKEYs
# lufd serves (ldns-key2ds), and the DNSKEY RRset has the scheme's keys.
# Usage: dnssec_unbound.sh csk13|kskzsk15
#   csk13     one CSK, ECDSA P-256 (algorithm 13), the default config
#   kskzsk15  KSK + ZSK, Ed25519 (algorithm 15)
IT_NAME="dnssec_unbound-${1:-csk13}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

case "${1:-csk13}" in
  csk13) ALG=13 SCHEME=csk ;;
  kskzsk15) ALG=15 SCHEME=ksk-zsk ;;
  *) fail "unknown variant $1 (csk13|kskzsk15)" ;;
esac
ZONE=e164.arpa.

mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys" "$ALG" "$SCHEME")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || {
  echo "$dout" >&2
  fail "lufd does not answer DNS on 127.0.0.1:$DNS_PORT"
}
pass "lufd answers DNS on 127.0.0.1:$DNS_PORT"
provision_public_sample

TN_NAME="$(enum_name +12025556666 "$ZONE")"
RANGE_NAME="$(enum_name +12026661234 "$ZONE")"
PREFIX_NAME="$(enum_name +12027771234 "$ZONE")"
LONG_NAME="$(enum_name +120255566667 "$ZONE")"
ENT_NAME="$(enum_name +1202555666 "$ZONE")"
MISS_NAME="$(enum_name +12025550000 "$ZONE")"

# --- straight from lufd: keys, DS, signatures -------------------------------
dns_dig "$DNS_PORT" +norec +dnssec "$ZONE" DNSKEY
keys="$(grep -E '^[^;]+[[:space:]]DNSKEY[[:space:]]' <<<"$dout" || true)"
nsep="$(grep -cE "DNSKEY[[:space:]]+257[[:space:]]+3[[:space:]]+${ALG}[[:space:]]" <<<"$keys" || true)"
nzsk="$(grep -cE "DNSKEY[[:space:]]+256[[:space:]]+3[[:space:]]+${ALG}[[:space:]]" <<<"$keys" || true)"
if [[ "$SCHEME" == csk ]]; then
  ((nsep == 1 && nzsk == 0)) || { echo "$dout" >&2; fail "CSK: want one 257 key of alg $ALG, got $nsep SEP + $nzsk ZSK"; }
else
  ((nsep == 1 && nzsk == 1)) || { echo "$dout" >&2; fail "KSK+ZSK: want one 257 and one 256 key of alg $ALG, got $nsep + $nzsk"; }
fi
grep -qE "RRSIG[[:space:]]+DNSKEY[[:space:]]+${ALG}[[:space:]]" <<<"$dout" ||
  { echo "$dout" >&2; fail "DNSKEY RRset not signed with algorithm $ALG"; }
pass "DNSKEY RRset: $nsep SEP + $nzsk ZSK keys, algorithm $ALG, signed"

DS="$(lufd_ds "$ZONE")"
(($(wc -l <<<"$DS") == 1)) || fail "want one DS for a fresh zone, got: $DS"
[[ "$(ds_key_id "$DS" | awk '{print $2, $3}')" == "$ALG 2" ]] ||
  fail "DS is not algorithm $ALG / digest type 2 (SHA-256): $DS"
served="$(ds_from_dnskeys "$DNS_PORT" "$ZONE")"
[[ "$(ds_key_id "$DS")" == "$(ds_key_id "$served")" ]] || {
  printf 'lufctl: %s\nserved: %s\n' "$DS" "$served" >&2
  fail "lufctl key ds does not match the served SEP DNSKEY"
}
pass "lufctl key ds matches the served DNSKEY: $DS"

dns_dig "$DNS_PORT" +norec +dnssec "$TN_NAME" NAPTR
grep -qE "RRSIG[[:space:]]+NAPTR[[:space:]]+${ALG}[[:space:]]" <<<"$dout" ||
  { echo "$dout" >&2; fail "NAPTR answer from lufd has no RRSIG of algorithm $ALG"; }
pass "lufd's NAPTR answer carries its RRSIG"

# --- through a validating unbound -------------------------------------------
start_unbound good "$ZONE" "$DNS_PORT" "$DS"
U="$UNBOUND_PORT"

positive() {  # desc name
  expect_dns "$U" "$1" NOERROR yes "$2" NAPTR
  grep -qF '@ssp2.example.com!' <<<"$dout" || { echo "$dout" >&2; fail "$1: NAPTR missing"; }
}
negative() {  # desc name type: secure NODATA (or NXDOMAIN), no answer
  dns_dig "$U" +dnssec "$2" "$3"
  local s
  s="$(dig_status)"
  case "$s" in
    NOERROR | NXDOMAIN) expect_dns "$U" "$1" "$s" yes "$2" "$3" ;;
    *) echo "$dout" >&2; fail "$1: rcode ${s:-none}, want NOERROR or NXDOMAIN" ;;
  esac
  [[ "$(dig_answer_count)" == 0 ]] || { echo "$dout" >&2; fail "$1: answer is not empty"; }
}

positive "TN NAPTR secure" "$TN_NAME"
positive "range NAPTR secure (synthesized)" "$RANGE_NAME"
positive "prefix NAPTR secure (synthesized)" "$PREFIX_NAME"
positive "TN below a TN secure" "$LONG_NAME"
negative "NODATA (TXT at the TN) secure" "$TN_NAME" TXT
negative "NODATA (AAAA at the TN) secure" "$TN_NAME" AAAA
negative "non-existent number secure" "$MISS_NAME" NAPTR
negative "non-existent number, other type, secure" "$MISS_NAME" TXT
negative "empty non-terminal secure" "$ENT_NAME" NAPTR
expect_dns "$U" "apex SOA secure" NOERROR yes "$ZONE" SOA
expect_dns "$U" "apex NS secure" NOERROR yes "$ZONE" NS
# Again, now from unbound's cache, and once more for a second miss (a new
# on-demand signature): still secure.
positive "TN NAPTR secure (cached)" "$TN_NAME"
negative "second non-existent number secure" "$(enum_name +12025550001 "$ZONE")" NAPTR
if grep -E 'validation failure|bogus' "$T/unbound-good.log" >&2; then
  fail "unbound logged validation failures for the good anchor (above)"
fi
pass "no validation failures logged by unbound"

# --- a wrong anchor fails: validation is really on ---------------------------
start_unbound bad "$ZONE" "$DNS_PORT" "$(corrupt_ds "$DS")"
expect_dns "$UNBOUND_PORT" "wrong anchor: NAPTR is bogus" SERVFAIL no "$TN_NAME" NAPTR
expect_dns "$UNBOUND_PORT" "wrong anchor: denial is bogus" SERVFAIL no "$MISS_NAME" NAPTR
grep -q 'validation failure' "$T/unbound-bad.log" ||
  fail "unbound with the wrong anchor logged no validation failure"
pass "unbound logged the validation failure for the wrong anchor"

it_done
