#!/usr/bin/env bash
# The RFC 7878 section 10 scenario end to end, on real processes:
# provision with lufctl over mTLS (tools/rfc7878-scenario.sh), then check
# what each peer may see through gRPC Lookup:
#   - SSP1 before it accepts SSP2's offer: not found;
#   - SSP1 after accepting: the NAPTR, for the TN, a number inside the range
#     and a number under the prefix;
#   - SSP3 (a peer nothing was offered to): not found, and the answer is
#     indistinguishable from the one for an unknown number (no oracle).
# Usage: rfc7878_scenario.sh sqlite|postgres
IT_NAME="rfc7878_scenario-${1:-sqlite}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

backend="${1:-sqlite}"
store_url "$backend"
start_lufd "$url"
provision_rfc7878 provision
pass "scenario provisioned"

TN=+12025556666
IN_RANGE=+12026661234
UNDER_PREFIX=+12027771234
UNKNOWN=+12025550000
# Table output shows the regexp in zone-file presentation (\\1), so match
# the unescaped tail here and the exact value in the JSON check below.
SIP='@ssp2.example.com!'

# A lookup that should find nothing: non-zero exit with NOT_FOUND, or a
# successful exit that says found=false (BatchLookup style).
expect_not_found() {
  local desc="$1"
  if ((rc == 0)) && ! grep -qiE 'not[ _]found|"found": *false' <<<"$out"; then
    echo "$out" >&2
    fail "$desc: expected not found"
  fi
  if ((rc != 0)) && ! grep -qiE 'not[ _]found' <<<"$out"; then
    echo "$out" >&2
    fail "$desc: failed, but not with NOT_FOUND (exit $rc)"
  fi
  grep -qF "ssp2.example.com" <<<"$out" && { echo "$out" >&2; fail "$desc: leaked SED"; }
  pass "$desc"
}

expect_naptr() {
  local desc="$1"
  expect_ok "$desc"
  expect_contains "$SIP" "$desc: NAPTR regexp"
  expect_contains "E2U+sip" "$desc: NAPTR service"
}

for n in $TN $IN_RANGE $UNDER_PREFIX; do
  run_ctl peer-ssp1 lookup "$n"
  expect_not_found "ssp1 before accept: $n"
done

provision_rfc7878 accept
pass "offer accepted by registrar-ssp1"

for n in $TN $IN_RANGE $UNDER_PREFIX; do
  run_ctl peer-ssp1 lookup "$n"
  expect_naptr "ssp1 after accept: $n"
done
# Any RFC 6116 form of the number works.
run_ctl peer-ssp1 lookup "tel:+1-202-555-6666"
expect_naptr "ssp1 after accept: tel: URI form"
run_ctl peer-ssp1 --output json lookup "$TN"
expect_naptr "ssp1 after accept (json)"
got="$(jq -r '.records[0].naptr.regexp' <<<"$out")"
[[ "$got" == '!^(.*)$!sip:\1@ssp2.example.com!' ]] ||
  fail "NAPTR regexp not returned verbatim: $got"
pass "NAPTR regexp verbatim in JSON"

# SSP2 owns the group, so it sees its own SED.
run_ctl peer-ssp2 lookup "$TN"
expect_naptr "ssp2 sees its own SED"

# No oracle: the unrelated peer gets for a provisioned number exactly what
# anyone gets for an unknown one (modulo the number itself).
mask() {  # text number: replace the number and its ENUM domain by N
  local digits="${2#+}" rev
  rev="$(echo "$digits" | rev | sed 's/./&./g')"
  sed -e "s/${2//+/\\+}/N/g" -e "s/$digits/N/g" -e "s/$rev/N./g" <<<"$1"
}
run_ctl peer-ssp3 lookup "$TN"
expect_not_found "ssp3 (nothing offered) on provisioned TN"
rc_known=$rc
out_known="$(mask "$out" "$TN")"
run_ctl peer-ssp3 lookup "$UNKNOWN"
expect_not_found "ssp3 on unknown number"
rc_unknown=$rc
out_unknown="$(mask "$out" "$UNKNOWN")"
[[ $rc_known == "$rc_unknown" && "$out_known" == "$out_unknown" ]] || {
  printf 'provisioned: rc=%s %s\nunknown:     rc=%s %s\n' \
    "$rc_known" "$out_known" "$rc_unknown" "$out_unknown" >&2
  fail "not-visible and not-found answers differ"
}
pass "not visible == not found for ssp3"
run_ctl peer-ssp3 lookup "$IN_RANGE"
expect_not_found "ssp3 on range number"

# A restart rebuilds the view from the store: answers survive.
stop_lufd
start_lufd "$url"
run_ctl peer-ssp1 lookup "$IN_RANGE"
expect_naptr "ssp1 after restart"
run_ctl peer-ssp3 lookup "$TN"
expect_not_found "ssp3 after restart"

it_done
