#!/usr/bin/env bash
# `lufctl zone export|import` against real lufd processes and real zone tools:
#   1. lufd A (SQLite, a dns: section with online DNSSEC and keys generated
#      at start into a key dir) gets the public RFC 7878 sample
#      (provision_public_sample: a TN, a range, a prefix, a TN below a TN);
#   2. `zone export` of the anonymous view is accepted by kzonecheck;
#   3. `zone export --signed --key-dir` with lufd's own keys is accepted by
#      ldns-verify-zone and `kzonecheck --dnssec on` (skipped, and said so,
#      when lufd A has no ACTIVE key: a build without the DNS key manager);
#   4. lufd B, an empty registry with only the registrant org, loads the
#      unsigned file with `zone import` (it creates the destination and the
#      public SED group), and its own export has exactly the same records.
# Every wait is bounded.
IT_NAME=zone_file
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools kzonecheck ldns-verify-zone

ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")"
start_lufd "sqlite:$T/a.db"
provision_public_sample

# The records of a zone file, comparable across servers: no comments, no
# SOA (the serials differ), sorted.
records() { grep -v -e '^;' -e '^\$' -e ' SOA ' "$1" | sort; }

# 2. Unsigned export.
run_ctl admin zone export --zone "$ZONE" --ns ns1.e164.arpa. \
  --ns-address 127.0.0.1 -o "$T/a.zone"
expect_ok "zone export"
grep -q ' IN NAPTR ' "$T/a.zone" || { cat "$T/a.zone" >&2; fail "export has no NAPTR"; }
grep -q "^$(enum_name +12025556666 "$ZONE") " "$T/a.zone" ||
  { cat "$T/a.zone" >&2; fail "export lacks +12025556666"; }
grep -q '^\*\.' "$T/a.zone" || { cat "$T/a.zone" >&2; fail "export has no wildcard"; }
kz="$(kzonecheck -o "$ZONE" "$T/a.zone" 2>&1)" ||
  { echo "$kz" >&2; cat "$T/a.zone" >&2; fail "kzonecheck rejects the export"; }
pass "kzonecheck accepts the unsigned export ($(grep -c ' IN NAPTR ' "$T/a.zone") NAPTRs)"

# 3. Signed export with lufd's keys (generated at start: wait, bounded).
active=""
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
  run_ctl admin --output json key list --zone "$ZONE"
  if ((rc == 0)) && grep -q 'DNS_KEY_STATE_ACTIVE' <<<"$out"; then
    active=1
    break
  fi
  sleep 0.2
done
if [[ -n "$active" ]]; then
  run_ctl admin zone export --zone "$ZONE" --ns ns1.e164.arpa. \
    --ns-address 127.0.0.1 --signed --key-dir "$T/keys" -o "$T/s.zone"
  expect_ok "signed zone export"
  grep -q 'RRSIG' "$T/s.zone" || fail "signed export has no RRSIG"
  v="$(ldns-verify-zone "$T/s.zone" 2>&1)" ||
    { echo "$v" >&2; fail "ldns-verify-zone rejects the signed export"; }
  kz="$(kzonecheck --dnssec on -o "$ZONE" "$T/s.zone" 2>&1)" ||
    { echo "$kz" >&2; fail "kzonecheck --dnssec on rejects the signed export"; }
  pass "ldns-verify-zone and kzonecheck --dnssec on accept the signed export"
else
  it_log "SKIPPED part 3: lufd has no ACTIVE key for $ZONE (key list: $out)"
fi

# 4. Import into an empty registry (a second lufd, no DNS section).
A_PORT="$LUFD_PORT"
LUFD_CONFIG_TAIL=""
_IT_BOOTSTRAPPED=""
start_lufd "sqlite:$T/b.db"
[[ "$LUFD_PORT" != "$A_PORT" ]] || fail "second lufd on the same port"
run_ctl admin org add iana-en:222 --name SSP2 --role registrant
expect_ok "registrant org in B"
run_ctl admin zone import "$T/a.zone" --zone "$ZONE" --check \
  --registrant iana-en:222
expect_ok "zone import --check"
run_ctl admin zone import "$T/a.zone" --zone "$ZONE" --registrant iana-en:222 \
  --dest-group dg-import --sed-group sg-import --public
expect_ok "zone import"
expect_contains "imported" "zone import summary"
run_ctl admin zone export --zone "$ZONE" --ns ns1.e164.arpa. \
  --ns-address 127.0.0.1 -o "$T/b.zone"
expect_ok "zone export from B"
if ! diff <(records "$T/a.zone") <(records "$T/b.zone") >"$T/diff" 2>&1; then
  cat "$T/diff" >&2
  fail "B's export differs from A's"
fi
pass "export -> import -> export gives the same $(records "$T/b.zone" | wc -l) records"

# A bad line names its line and sends nothing.
printf 'www.%s 60 IN TXT "x"\n' "$ZONE" >>"$T/a.zone"
run_ctl admin zone import "$T/a.zone" --zone "$ZONE" --registrant iana-en:222
expect_fail_with INVALID_ARGUMENT "zone import of a file with a TXT record"
expect_contains "$(wc -l <"$T/a.zone"): type TXT" "the error names the line"
it_done
