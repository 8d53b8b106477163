#!/usr/bin/env bash
# DNSSEC key rollovers in lufd while a validating unbound (started by this
# test, the zone's DS as trust anchor, stub zone to lufd) keeps asking:
# every answer — a TN's NAPTR, NODATA, a fresh non-existent number each
# round (a new on-demand signature by whatever key signs now) and the
# DNSKEY RRset — must stay secure (AD) throughout.
#   1. automatic ZSK roll by pre-publication (zsk_lifetime 30s,
#      publish_safety 3s, retire_safety 3s, DNSKEY TTL 2s): seen from lufd's
#      DNSKEY RRset as before (one ZSK), during (two ZSKs published) and
#      after (one ZSK, a new one; the old one is REMOVED in `key list`);
#   2. manual ZSK roll (`lufctl key rollover --role zsk`): a new ZSK is
#      published, then signs; the one it replaces leaves the RRset;
#   3. KSK roll (`lufctl key rollover --role ksk`): the new KSK waits with
#      ds_pending, `lufctl key ds` lists both DS; an unbound anchored on both
#      DS validates; `--ds-published` completes it: the old KSK leaves the
#      RRset, and an unbound anchored on the new DS alone validates.
# unbound caps every cached TTL at 4 s so it keeps re-fetching and
# re-validating; the safety margins (3 s) exceed the DNSKEY TTL (2 s), as a
# real deployment's must. Every wait is bounded.
IT_NAME=dns_rollover
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_DNS_ZONE_TTL=2 LUFD_DNS_SOA_MINIMUM=2
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys" 13 ksk-zsk \
  '    zsk_lifetime: "30s"
    publish_safety: "3s"
    retire_safety: "3s"')"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "lufd does not answer DNS"; }
provision_public_sample

TN_NAME="$(enum_name +12025556666 "$ZONE")"
ZSK0="$(served_key_tags "$DNS_PORT" "$ZONE" ZSK)"
KSK0="$(served_key_tags "$DNS_PORT" "$ZONE" KSK)"
[[ "$ZSK0" =~ ^[0-9]+$ && "$KSK0" =~ ^[0-9]+$ ]] ||
  fail "want one KSK and one ZSK at start, got KSK '$KSK0' ZSK '$ZSK0'"
pass "start: KSK $KSK0, ZSK $ZSK0"
DS0="$(lufd_ds "$ZONE")"

UNBOUND_EXTRA='  cache-max-ttl: 4
  cache-max-negative-ttl: 2'
start_unbound old "$ZONE" "$DNS_PORT" "$DS0"
U_OLD="$UNBOUND_PORT"

ROUNDS=0
MISS=0
# secure_round PORT WHAT: one round of queries through the unbound on PORT,
# each of which must be answered and secure (AD).
secure_round() {
  local port="$1" what="$2" n s f
  ROUNDS=$((ROUNDS + 1))
  MISS=$(((MISS + 1) % 10000))
  n="$(enum_name "+1202555$(printf %04d "$MISS")" "$ZONE")"
  local -a q=("$TN_NAME NAPTR" "$TN_NAME TXT" "$n NAPTR" "$ZONE DNSKEY" "$ZONE SOA")
  for s in "${q[@]}"; do
    # shellcheck disable=SC2086  # name and type
    dns_dig "$port" +dnssec $s
    if [[ "$(dig_status)" == SERVFAIL ]]; then
      # Once more, as in expect_dns: a slow upstream on a loaded machine.
      # Validation failures are caught from unbound's logs at the end.
      it_log "$what: '$s' SERVFAIL; asking once more"
      sleep 1
      # shellcheck disable=SC2086
      dns_dig "$port" +dnssec $s
    fi
    f=" $(dig_flags) "
    if [[ "$(dig_status)" != NOERROR && "$(dig_status)" != NXDOMAIN ]] ||
      [[ "$f" != *" ad "* ]]; then
      echo "$dout" >&2
      lufd_keys "$ZONE" >&2 || true
      fail "$what: '$s' not secure in round $ROUNDS (status $(dig_status), flags:$f)"
    fi
  done
}

# --- 1. automatic ZSK roll ----------------------------------------------------
secure_round "$U_OLD" "before the ZSK roll"
pass "before the roll: secure (ZSK $ZSK0)"
seen_both="" ZSK1=""
t0=$SECONDS
while ((SECONDS - t0 < 90)); do
  tags="$(served_key_tags "$DNS_PORT" "$ZONE" ZSK)"
  if [[ "$tags" == *" "* ]]; then
    [[ -z "$seen_both" ]] && it_log "during the roll: ZSKs published: $tags"
    seen_both="$tags"
  elif [[ -n "$tags" && "$tags" != "$ZSK0" ]]; then
    ZSK1="$tags"
    break
  fi
  secure_round "$U_OLD" "ZSK roll (ZSKs served: $tags)"
  sleep 0.5
done
[[ -n "$seen_both" ]] || fail "never saw two ZSKs published (pre-publication) within 90 s"
[[ -n "$ZSK1" ]] || fail "the ZSK did not roll within 90 s (still $tags)"
pass "automatic ZSK roll $ZSK0 -> $ZSK1 (both published: $seen_both), $ROUNDS secure rounds"
# Some rounds after the old ZSK left the RRset: signatures by it must be gone.
t0=$SECONDS
while ((SECONDS - t0 < 4)); do
  secure_round "$U_OLD" "after the ZSK roll"
  sleep 0.5
done
keys="$(lufd_keys "$ZONE")"
grep -qx "ZSK REMOVED $ZSK0 false" <<<"$keys" ||
  { echo "$keys" >&2; fail "old ZSK $ZSK0 is not REMOVED in key list"; }
grep -qx "ZSK ACTIVE $ZSK1 false" <<<"$keys" ||
  { echo "$keys" >&2; fail "new ZSK $ZSK1 is not ACTIVE in key list"; }
pass "after the roll: secure; key list: ZSK $ZSK0 REMOVED, $ZSK1 ACTIVE"

# --- 2. manual ZSK roll ---------------------------------------------------------
# The automatic schedule may roll again meanwhile (30 s); what must hold is
# that a new ZSK appears (published) at once and the current one leaves.
run_ctl admin key rollover --zone "$ZONE" --role zsk
expect_ok "lufctl key rollover --zone $ZONE --role zsk"
keys="$(lufd_keys "$ZONE")"
grep -qE '^ZSK PUBLISHED [0-9]+ false$' <<<"$keys" ||
  { echo "$keys" >&2; fail "no PUBLISHED ZSK after the manual rollover"; }
cur="$(served_key_tags "$DNS_PORT" "$ZONE" ZSK)"
gone=""
t0=$SECONDS
while ((SECONDS - t0 < 60)); do
  secure_round "$U_OLD" "manual ZSK roll"
  tags="$(served_key_tags "$DNS_PORT" "$ZONE" ZSK)"
  if [[ " $tags " != *" $ZSK1 "* ]]; then
    gone="$tags"
    break
  fi
  sleep 0.5
done
[[ -n "$gone" ]] || fail "manual ZSK roll: ZSK $ZSK1 still served after 60 s ($tags)"
pass "manual ZSK roll: $ZSK1 retired and removed (served: $gone; right after the command: $cur)"

# --- 3. KSK roll with the manual DS step -----------------------------------------
run_ctl admin key rollover --zone "$ZONE" --role ksk
expect_ok "lufctl key rollover --zone $ZONE --role ksk"
keys="$(lufd_keys "$ZONE")"
KSK1="$(awk '$1 == "KSK" && $4 == "true" {print $3}' <<<"$keys")"
[[ "$KSK1" =~ ^[0-9]+$ ]] || { echo "$keys" >&2; fail "no KSK with ds_pending after key rollover --role ksk"; }
pass "new KSK $KSK1 waits for the DS (ds_pending)"
DS_BOTH="$(lufd_ds "$ZONE")"
(($(wc -l <<<"$DS_BOTH") == 2)) || fail "key ds during the KSK roll: want 2 DS, got: $DS_BOTH"
for k in "$KSK0" "$KSK1"; do
  grep -qE "[[:space:]]DS[[:space:]]+${k}[[:space:]]" <<<"$DS_BOTH" ||
    fail "key ds does not list both KSKs ($KSK0, $KSK1): $DS_BOTH"
done
pass "key ds lists both DS"
DS1="$(grep -E "[[:space:]]DS[[:space:]]+${KSK1}[[:space:]]" <<<"$DS_BOTH")"
# The new KSK is published (so the parent may point at it) before it signs.
t0=$SECONDS
until [[ " $(served_key_tags "$DNS_PORT" "$ZONE" KSK) " == *" $KSK1 "* ]]; do
  ((SECONDS - t0 < 30)) || fail "new KSK $KSK1 not published within 30 s"
  sleep 0.5
done
mapfile -t both_ds <<<"$DS_BOTH"
start_unbound both "$ZONE" "$DNS_PORT" "${both_ds[@]}"
U_BOTH="$UNBOUND_PORT"
secure_round "$U_BOTH" "KSK roll, ds pending, anchors: both DS"
secure_round "$U_OLD" "KSK roll, ds pending, anchor: old DS"
pass "KSK roll pending: secure with both DS and with the old DS"

run_ctl admin key rollover --zone "$ZONE" --role ksk --ds-published
expect_ok "lufctl key rollover --zone $ZONE --role ksk --ds-published"
done_ksk=""
t0=$SECONDS
while ((SECONDS - t0 < 60)); do
  secure_round "$U_BOTH" "KSK roll after ds-published, anchors: both DS"
  tags="$(served_key_tags "$DNS_PORT" "$ZONE" KSK)"
  if [[ "$tags" == "$KSK1" ]]; then
    done_ksk=1
    break
  fi
  sleep 0.5
done
[[ -n "$done_ksk" ]] || fail "KSK roll: old KSK $KSK0 still served 60 s after --ds-published ($tags)"
keys="$(lufd_keys "$ZONE")"
grep -qx "KSK ACTIVE $KSK1 false" <<<"$keys" ||
  { echo "$keys" >&2; fail "new KSK $KSK1 is not ACTIVE (ds_pending cleared) in key list"; }
pass "KSK roll complete: $KSK0 -> $KSK1"
DS_NEW="$(lufd_ds "$ZONE")"
[[ "$(ds_key_id "$DS_NEW")" == "$(ds_key_id "$DS1")" ]] ||
  fail "after the KSK roll key ds should list only the new DS: $DS_NEW"
start_unbound new "$ZONE" "$DNS_PORT" "$DS_NEW"
secure_round "$UNBOUND_PORT" "after the KSK roll, anchor: new DS only"
secure_round "$U_BOTH" "after the KSK roll, anchors: both DS"
pass "after the KSK roll: secure with the new DS alone and with both"

for f in "$T"/unbound-*.log; do
  if grep -E 'validation failure' "$f" >&2; then
    fail "$(basename "$f"): validation failures logged (above)"
  fi
done
pass "no validation failure logged by any unbound ($ROUNDS secure rounds)"
it_done
