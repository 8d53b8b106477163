#!/usr/bin/env bash
# Hostile and malformed input against a real lufd:
#   - SQL-injection (and quoting/format) strings in every free-text field
#     are stored and exported verbatim, and the registry keeps working;
#     identifier-like fields either reject them (INVALID_ARGUMENT) or store
#     them verbatim, never anything else;
#   - a CSV import with malformed lines reports every bad line number and
#     imports nothing (serial unchanged);
#   - an oversized request fails cleanly and the server keeps serving.
# Usage: bad_input.sh [sqlite|postgres]
IT_NAME="bad_input-${1:-sqlite}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

store_url "${1:-sqlite}"
# 64 KiB message cap so "oversized" is cheap to produce.
start_lufd "$url" '  max_message_bytes: 65536'
provision_rfc7878

serial() {  # the store's latest serial, from `lufctl info`
  local o
  o="$(ctl admin --output json info 2>&1)" || fail "lufctl info failed: $o"
  jq -r '.storeSerial // .store_serial // .serial' <<<"$o"
}

HOSTILE=(
  "'; DROP TABLE objects; --"
  "Robert'); DROP TABLE changes;--"
  "\" OR \"1\"=\"1"
  "1' OR '1'='1' /*"
  "x\\' UNION SELECT * FROM pg_shadow --"
  "%s%s%n%x \$(id) \`id\` \\\\ \\n"
  "ünïcødé ☎ +1-202-555-0100 <script>alert(1)</script>"
)

i=0
for h in "${HOSTILE[@]}"; do
  i=$((i + 1))
  org="iana-en:9${i}"
  run_ctl admin org add "$org" --name "$h" --role registrant --registrar iana-en:222
  expect_ok "org with hostile name #$i"
  run_ctl admin credential add "cred-hostile-$i" --org "$org" --role peer \
    --san-uri "urn:lufd:peer:hostile$i" --description "$h"
  expect_ok "credential with hostile description #$i"
  # Free text comes back byte for byte.
  run_ctl admin --output json org get "$org"
  expect_ok "get org #$i"
  got="$(jq -r '.org.name // .name' <<<"$out")"
  [[ "$got" == "$h" ]] || fail "org name #$i changed: stored '$h', got '$got'"
  run_ctl admin --output json credential get "cred-hostile-$i"
  expect_ok "get credential #$i"
  got="$(jq -r '.credential.description // .description' <<<"$out")"
  [[ "$got" == "$h" ]] || fail "description #$i changed: '$h' -> '$got'"
  # An id made of the hostile string: rejected as invalid, or kept verbatim.
  run_ctl registrar-ssp2 dg add "dg-$h" --registrant iana-en:222
  if ((rc == 0)); then
    run_ctl admin --output json dg get "dg-$h"
    expect_ok "hostile dg id #$i readable"
    got="$(jq -r '.destGroup.id // .dest_group.id // .id' <<<"$out")"
    [[ "$got" == "dg-$h" ]] || fail "dg id #$i changed: 'dg-$h' -> '$got'"
  else
    expect_fail_with INVALID_ARGUMENT "hostile dg id #$i rejected as invalid"
  fi
done

# Export carries the strings verbatim too.
run_ctl admin export --format json
expect_ok "export"
for h in "${HOSTILE[@]}"; do
  # The export is JSON lines; `.. | strings` lists every string value, and
  # each hostile string must be one of them exactly.
  jq -r '.. | strings' <<<"$out" | grep -qxF -- "$h" ||
    fail "export lacks hostile string verbatim: $h"
done
pass "export carries all hostile strings verbatim"

# Nothing was dropped: the scenario still answers.
run_ctl peer-ssp1 lookup +12025556666
expect_ok "lookup after hostile input"
expect_contains "ssp2.example.com" "lookup still returns the NAPTR"

# --- malformed CSV: every bad line reported, nothing imported ---------------
before="$(serial)"
{
  echo "tn,registrant,dest_groups"
  echo "+12025550001,iana-en:222,dg-ssp2"        # line 2: good
  echo "12025550002,iana-en:222,dg-ssp2"         # line 3: no '+'
  echo "+12025550003,iana-en:222,dg-ssp2"        # line 4: good
  echo "+1202555000x,iana-en:222,dg-ssp2"        # line 5: not digits
  echo "+1202555000400000000,iana-en:222,dg-ssp2"  # line 6: > 15 digits
  echo "+12025550005,iana-en:222"                # line 7: missing column
  echo "\"+12025550006,iana-en:222,dg-ssp2"      # line 8: unterminated quote
} >"$T/bad.csv"
run_ctl registrar-ssp2 import "$T/bad.csv"
((rc != 0)) || { echo "$out" >&2; fail "malformed CSV was accepted"; }
# lufctl reports "FILE:LINE: reason" for each bad line.
for line in 3 5 6 7 8; do
  grep -qF "bad.csv:$line:" <<<"$out" ||
    { echo "$out" >&2; fail "bad CSV line $line not reported"; }
done
for line in 2 4; do
  if grep -qF "bad.csv:$line:" <<<"$out"; then
    echo "$out" >&2
    fail "good CSV line $line reported as bad"
  fi
done
pass "malformed CSV: lines 3 5 6 7 8 reported"
after="$(serial)"
[[ "$before" == "$after" ]] || fail "serial moved from $before to $after: something was imported"
run_ctl admin number get +12025550001
((rc != 0)) || fail "good line of a rejected CSV was imported"
pass "malformed CSV: nothing imported (serial $after)"

# A CSV with the server-side error only (unknown destination group): the
# whole batch is rolled back too.
{
  echo "tn,registrant,dest_groups"
  echo "+12025550011,iana-en:222,dg-ssp2"
  echo "+12025550012,iana-en:222,dg-does-not-exist"
} >"$T/bad-ref.csv"
run_ctl registrar-ssp2 import "$T/bad-ref.csv"
((rc != 0)) || { echo "$out" >&2; fail "CSV with unknown dest group accepted"; }
[[ "$(serial)" == "$before" ]] || fail "serial moved after a failed import"
pass "CSV with an unknown reference: rejected, nothing imported"

# Every line only lufd can judge is named (issue 7), by import and by the
# dry run of --check, which writes nothing either.
{
  echo "tn,registrant,dest_groups"
  echo "+12025550011,iana-en:222,dg-ssp2"
  echo "+12025550012,iana-en:222,dg-does-not-exist"
  echo "+12025550013,iana-en:222,dg-ssp2"
  echo "+12025550014,iana-en:222,dg-nor-this"
} >"$T/bad-refs.csv"
for mode in import check; do
  if [[ "$mode" == check ]]; then
    run_ctl registrar-ssp2 import "$T/bad-refs.csv" --check
  else
    run_ctl registrar-ssp2 import "$T/bad-refs.csv"
  fi
  ((rc != 0)) || { echo "$out" >&2; fail "$mode: CSV with unknown dest groups accepted"; }
  [[ "$out" == *"line 3 (tn +12025550012)"*"dg-does-not-exist"* &&
    "$out" == *"line 5 (tn +12025550014)"*"dg-nor-this"* ]] ||
    { echo "$out" >&2; fail "$mode: not every bad line was named"; }
  [[ "$out" == *"2 failing object(s)"* ]] || { echo "$out" >&2; fail "$mode: no count"; }
  [[ "$(serial)" == "$before" ]] || fail "$mode: serial moved after a failed import"
done
pass "server-side errors: every bad line named, by import and --check"

# --- oversized request ---------------------------------------------------------
big="$(head -c 100000 /dev/zero | tr '\0' 'A')"  # under ARG_MAX per arg (128 KiB)
run_ctl admin org add iana-en:7777 --name "$big" --role peer
# Between the 64 KiB policy and gRPC's 256 KiB transport limit: lufd's own
# INVALID_ARGUMENT, naming the limit (RESOURCE_EXHAUSTED would mean gRPC's
# transport limit answered, i.e. the policy check was bypassed).
expect_fail_with 'INVALID_ARGUMENT.*the limit is 65536 \(grpc\.max_message_bytes\)' "100 kB request over a 64 KiB cap"
it_alive "$LUFD_PID" || fail "lufd died on an oversized request"
run_ctl peer-ssp1 lookup +12025556666
expect_ok "still serving after the oversized request"
# A long-but-legal lookup query is rejected as invalid, not crashed on.
run_ctl peer-ssp1 lookup "+$(head -c 5000 /dev/zero | tr '\0' '1')"
expect_fail_with 'INVALID_ARGUMENT|NOT_FOUND' "5000-digit lookup"
run_ctl admin health
expect_ok "health at the end"

it_done
