#!/usr/bin/env bash
# Holdings (issue 8 §1) against a real lufd + lufctl: the registry (admin)
# allocates number blocks; SSP1's registrar cannot hijack SSP2's numbers
# with a more specific identifier (TN in SSP2's range, prefix in SSP2's
# prefix, range in SSP2's range), and gets the same fixed refusal for an
# existing and an absent number; an admin ports +12026661234 to SSP1, after
# which SSP2's range stops answering for it at once and SSP1's TN answers.
IT_NAME=holdings
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

start_lufd "sqlite:$T/registry.db"
provision_rfc7878
N=+12026661234

# SSP1 becomes a registrant too (the scenario has it as peer + registrar),
# with a public SED group of its own and a block of its own.
run_ctl admin org add iana-en:111 --name SSP1 --role peer --role registrar \
  --role registrant
expect_ok "SSP1 is a registrant"
run_ctl admin holding add '+4420*' --registrant iana-en:111
expect_ok "admin allocates +4420* to SSP1"
run_ctl registrar-ssp1 dg add dg-ssp1 --registrant iana-en:111
expect_ok "dg-ssp1"
run_ctl registrar-ssp1 record add rec-ssp1 --registrant iana-en:111 --ttl 60 \
  --naptr '10 100 "u" "E2U+sip" "!^.*$!sip:hijack@ssp1.example.com!" ""'
expect_ok "rec-ssp1"
run_ctl registrar-ssp1 sedgroup add sg-ssp1 --registrant iana-en:111 \
  --dg dg-ssp1 --record rec-ssp1 --public --in-service
expect_ok "public sg-ssp1"

# The three hijacks, and the same refusal for an existing and absent TN.
run_ctl registrar-ssp1 number add "$N" --registrant iana-en:111 --dg dg-ssp1
expect_fail_with PERMISSION_DENIED "TN inside SSP2's range refused"
refusal_tn="$out"
run_ctl registrar-ssp1 prefix add +12027771 --registrant iana-en:111 --dg dg-ssp1
expect_fail_with PERMISSION_DENIED "prefix inside SSP2's prefix refused"
run_ctl registrar-ssp1 range add +12026661000 +12026661999 \
  --registrant iana-en:111 --dg dg-ssp1
expect_fail_with PERMISSION_DENIED "range inside SSP2's range refused"
run_ctl registrar-ssp1 number del +12025556666
expect_fail_with PERMISSION_DENIED "deleting SSP2's TN refused"
existing="$out"
run_ctl registrar-ssp1 number del +12025556667
expect_fail_with PERMISSION_DENIED "deleting an absent TN refused"
[[ "$out" == "$existing" ]] || fail "refusals differ: '$existing' vs '$out'"
pass "existing and absent numbers get the same refusal"
run_ctl registrar-ssp1 number add +442079460148 --registrant iana-en:111 --dg dg-ssp1
expect_ok "SSP1 provisions inside its own holding"

run_ctl peer-ssp3 lookup "$N"  # SSP2's SED is not offered to SSP3.
grep -qF "hijack@ssp1" <<<"$out" && fail "hijack answered"
pass "the hijack does not answer"
run_ctl admin lookup "$N"
expect_contains "ssp2.example.com" "SSP2's range answers before the port"

# The port: an audited admin act.
run_ctl registrar-ssp1 port "$N" --to iana-en:111
expect_fail_with PERMISSION_DENIED "registrars cannot port"
run_ctl admin port "$N" --to iana-en:111
expect_ok "admin ports $N to SSP1"
run_ctl admin holding get "$N"
expect_ok "holding get"
expect_contains "iana-en:222" "ported from SSP2"
run_ctl admin lookup "$N"
grep -qF "ssp2.example.com" <<<"$out" && fail "SSP2's range still answers $N"
pass "SSP2's range no longer answers the ported number"
run_ctl admin lookup +12026661235
expect_contains "ssp2.example.com" "the rest of SSP2's range still answers"
run_ctl registrar-ssp1 number add "$N" --registrant iana-en:111 --dg dg-ssp1
expect_ok "SSP1 provisions the ported number"
run_ctl peer-ssp3 lookup "$N"
expect_contains "hijack@ssp1.example.com" "the ported number answers from SSP1"
run_ctl registrar-ssp2 number add "$N" --registrant iana-en:222 --dg dg-ssp2
expect_fail_with PERMISSION_DENIED "SSP2 can no longer provision it"
run_ctl admin audit --key "tn:$N"
expect_ok "audit of the port"
stop_lufd

# Upgrade: a registry written without holdings (admins are not limited by
# them) gets them from `lufctl db migrate`; the TN SSP1 had nested in SSP2's
# range (a hijack possible before holdings) is listed for review.
OLD="sqlite:$T/old.db"
_IT_BOOTSTRAPPED=
start_lufd "$OLD"
run_ctl admin org add iana-en:222 --name SSP2 --role registrant
expect_ok "old: SSP2"
run_ctl admin org add iana-en:111 --name SSP1 --role registrant
expect_ok "old: SSP1"
run_ctl admin range add +12026660000 +12026669999 --registrant iana-en:222
expect_ok "old: SSP2's range"
run_ctl admin number add "$N" --registrant iana-en:111
expect_ok "old: SSP1's TN inside it"
stop_lufd
out="$(db_migrate "$OLD" 2>&1)" || { echo "$out" >&2; fail "db migrate"; }
expect_contains "2 holding(s) created" "db migrate backfills holdings"
expect_contains "review: tn:$N of iana-en:111 lies inside a holding of iana-en:222" \
  "the nested TN is listed for review"
out="$(db_migrate "$OLD" 2>&1)" || { echo "$out" >&2; fail "db migrate again"; }
grep -qF "holdings backfill" <<<"$out" && fail "backfill ran twice"
start_lufd "$OLD"
run_ctl admin holding list
expect_contains "iana-en:222" "SSP2 holds its range after the upgrade"
stop_lufd
it_done
