#!/usr/bin/env bash
# Multi-signer DNSSEC (docs/dns.md "Several instances (multi-signer)"): ONE
# PostgreSQL, TWO lufd on it, each with its own key_dir.
#   A starts first: it holds the sign-ahead lease, creates the zone's KSK and
#     its own ZSK (scheme ksk-zsk).
#   B starts with an empty key_dir and no KSK: it pre-publishes its own ZSK
#     (PUBLISHED, owned by B), which becomes ACTIVE publish_safety (3 s)
#     later. B's key_dir never holds the KSK or A's ZSK.
#   Both serve the same DNSKEY RRset (KSK + both ZSKs), signed by the KSK:
#     A signs it itself, B serves the RRSIG A stored.
#   Through one validating unbound per instance and through delv against
#     each instance directly, with the ONE DS of the zone as trust anchor:
#     positive NAPTR (signed ahead by A's ZSK), NODATA, NXDOMAIN, an empty
#     non-terminal and the apex RRsets are secure. B's denials are signed
#     by B's own ZSK, A's by A's.
#   B leaves: stopped, `lufctl key retire` on its ZSK -> RETIRED -> REMOVED
#     (retire_safety 3 s) by A; A's DNSKEY RRset is back to KSK + A's ZSK,
#     re-signed, and still validates.
# DNSKEY TTL 2 s, so the short safety margins still exceed it.
# With the argument "standby" (integration.dns_multisigner.standby), B runs
# on a streaming hot standby of A's PostgreSQL with store.primary_url: its
# own ZSK is created through write forwarding, and everything above must
# hold the same (the topology of docs/replication.md).
IT_NAME=dns_multisigner
MODE="${1:-shared}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_need_tools unbound dig jq
it_init

ZONE=e164.arpa.
store_url postgres
mkdir -m 700 "$T/keys-a" "$T/keys-b"
LUFD_DNS_ZONE_TTL=2 LUFD_DNS_SOA_MINIMUM=2
DNSSEC_YAML='    publish_safety: "3s"
    retire_safety: "3s"'

# --- A: the KSK holder ---------------------------------------------------------
DNS_A="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_A" "$ZONE" "$T/keys-a" 13 ksk-zsk "$DNSSEC_YAML")"
start_lufd "$url"
PORT_A="$LUFD_PORT"
wait_dns "$DNS_A" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "A does not answer DNS"; }
provision_public_sample
KSK="$(served_key_tags "$DNS_A" "$ZONE" KSK)"
ZSK_A="$(served_key_tags "$DNS_A" "$ZONE" ZSK)"
[[ "$KSK" =~ ^[0-9]+$ && "$ZSK_A" =~ ^[0-9]+$ ]] ||
  fail "A: want one KSK and one ZSK, got KSK '$KSK' ZSK '$ZSK_A'"
DS="$(lufd_ds "$ZONE")"
(($(wc -l <<<"$DS") == 1)) || fail "want one DS, got: $DS"
pass "A: KSK $KSK, ZSK $ZSK_A; DS $DS"

# --- B: no KSK, its own key_dir ------------------------------------------------
DNS_B="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_B" "$ZONE" "$T/keys-b" 13 ksk-zsk "$DNSSEC_YAML")"
if [[ "$MODE" == standby ]]; then
  IT_NAME=dns_multisigner.standby
  _IT_PG_DIRS+=("$T/pg-standby")
  STANDBY_URL="$(pg_start_standby "$T/pg" "$T/pg-standby")" ||
    fail "could not start the standby"
  LUFD_STORE_EXTRA="  primary_url: \"$url\"" BOOTSTRAP=0 start_lufd "$STANDBY_URL"
  grep -q "writes are forwarded to store.primary_url" "$T/lufd.log" ||
    fail "B does not know its store is a standby (see $T/lufd.log)"
else
  BOOTSTRAP=0 start_lufd "$url"
fi
PID_B="$LUFD_PID"
LUFD_PORT="$PORT_A"
wait_dns "$DNS_B" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "B does not answer DNS"; }

keys="$(lufd_keys "$ZONE")"
ZSK_B="$(awk -v a="$ZSK_A" '$1 == "ZSK" && $3 != a && ($2 == "PUBLISHED" || $2 == "ACTIVE") {print $3}' <<<"$keys")"
[[ "$ZSK_B" =~ ^[0-9]+$ ]] || { echo "$keys" >&2; fail "B published no ZSK of its own"; }
run_ctl admin --output json key list --zone "$ZONE"
expect_ok "key list --zone $ZONE (json)"
zsk_b_json="$(jq -c --argjson t "$ZSK_B" '.[] | (.dnsKey // .) | select(.keyTag == $t)' <<<"$out")"
owner_b="$(jq -r '.owner // ""' <<<"$zsk_b_json")"
[[ -n "$owner_b" && "$owner_b" == "$(tr -d '\n' <"$T/keys-b/instance-id")" ]] ||
  { echo "$zsk_b_json" >&2; fail "B's ZSK is not marked with B's instance id"; }
active_b="$(jq -r '.activeUnix // "0" | tonumber' <<<"$zsk_b_json")"
published_b="$(jq -r '.publishedUnix // "0" | tonumber' <<<"$zsk_b_json")"
# Scheduled at publication + 3 s; set to the real activation time (a tick
# later) once ACTIVE.
((active_b - published_b >= 3 && active_b - published_b <= 4)) ||
  { echo "$zsk_b_json" >&2; fail "B's ZSK: active - published = $((active_b - published_b)), want publish_safety 3"; }
pass "B pre-published its own ZSK $ZSK_B (owner $owner_b, active 3 s after publication)"

# B's key_dir: its own key only.
b_files="$(ls "$T/keys-b")"
b_keys="$(grep -c '^K' <<<"$b_files" || true)"
[[ "$b_keys" == 1 ]] && grep -q "+$(printf %05d "$ZSK_B").pem\$" <<<"$b_files" ||
  { echo "$b_files" >&2; fail "B's key_dir should hold exactly B's ZSK"; }
pass "B's key_dir holds only its ZSK (no KSK, nothing of A's)"

# The ZSK becomes ACTIVE (B drives its own key) within a few seconds.
for ((i = 0; i < 100; i++)); do
  keys="$(lufd_keys "$ZONE")"
  grep -qx "ZSK ACTIVE $ZSK_B false" <<<"$keys" && break
  sleep 0.2
done
grep -qx "ZSK ACTIVE $ZSK_B false" <<<"$keys" || { echo "$keys" >&2; fail "B's ZSK never became ACTIVE"; }
grep -qx "ZSK ACTIVE $ZSK_A false" <<<"$keys" || { echo "$keys" >&2; fail "A's ZSK is no longer ACTIVE"; }
pass "B's ZSK $ZSK_B is ACTIVE; A's ZSK $ZSK_A still is"

# Both serve KSK + both ZSKs, signed by the KSK (B: the RRSIG A stored).
want_zsks="$(printf '%s\n%s\n' "$ZSK_A" "$ZSK_B" | sort -n | tr '\n' ' ' | sed 's/ $//')"
for port in "$DNS_A" "$DNS_B"; do
  ok=0
  for ((i = 0; i < 100; i++)); do
    if [[ "$(served_key_tags "$port" "$ZONE" ZSK)" == "$want_zsks" &&
      "$(served_key_tags "$port" "$ZONE" KSK)" == "$KSK" ]]; then
      dns_dig "$port" +norec +dnssec "$ZONE" DNSKEY
      if awk -v k="$KSK" '$4 == "RRSIG" && $5 == "DNSKEY" && $11 == k {f = 1} END {exit !f}' <<<"$dout"; then
        ok=1
        break
      fi
    fi
    sleep 0.2
  done
  ((ok)) || { echo "$dout" >&2; fail "127.0.0.1:$port does not serve DNSKEY {$KSK; $want_zsks} signed by $KSK"; }
done
pass "A and B serve DNSKEY {KSK $KSK; ZSKs $want_zsks}, RRSIG by the KSK"
dns_dig "$DNS_B" +norec +dnssec "$ZONE" DNSKEY
size="$(sed -n 's/.*MSG SIZE *rcvd: \([0-9]*\).*/\1/p' <<<"$dout")"
it_log "DNSKEY response (1 KSK + 2 ZSKs + RRSIG + OPT): $size bytes"
echo "dns_multisigner: dnskey_response_bytes=$size"

TN_NAME="$(enum_name +12025556666 "$ZONE")"
ENT_NAME="$(enum_name +1202555666 "$ZONE")"
MISS_NAME="$(enum_name +12025550000 "$ZONE")"

# rrsig_tags PORT NAME TYPE COVERED: key tags of the RRSIGs over COVERED in
# lufd's answer for NAME/TYPE, sorted.
rrsig_tags() {
  dns_dig "$1" +norec +dnssec "$2" "$3"
  awk -v c="$4" '$4 == "RRSIG" && $5 == c {print $11}' <<<"$dout" | sort -nu | tr '\n' ' ' |
    sed 's/ $//'
}
# The positive RRset: signed ahead by the lease holder (A) with its ZSK and
# served as stored by both; B signs nothing for it.
[[ "$(rrsig_tags "$DNS_A" "$TN_NAME" NAPTR NAPTR)" == "$ZSK_A" ]] || { echo "$dout" >&2; fail "A: NAPTR not signed by $ZSK_A"; }
[[ "$(rrsig_tags "$DNS_B" "$TN_NAME" NAPTR NAPTR)" == "$ZSK_A" ]] || { echo "$dout" >&2; fail "B: NAPTR not served with A's stored RRSIG ($ZSK_A)"; }
# Online answers: each instance's own ZSK.
[[ "$(rrsig_tags "$DNS_A" "$MISS_NAME" NAPTR NSEC)" == "$ZSK_A" ]] || { echo "$dout" >&2; fail "A: denial not signed by $ZSK_A"; }
[[ "$(rrsig_tags "$DNS_B" "$MISS_NAME" NAPTR NSEC)" == "$ZSK_B" ]] || { echo "$dout" >&2; fail "B: denial not signed by its own $ZSK_B"; }
pass "NAPTR signed ahead by $ZSK_A on both; denials: A by $ZSK_A, B by $ZSK_B"

# --- validation: unbound and delv against each instance, one DS -----------
cat >"$T/anchors.conf" <<EOT
trust-anchors { $(awk '{for (i = 1; i <= NF; i++) if ($i == "DS") {
  d = ""; for (j = i + 4; j <= NF; j++) d = d $j
  printf "%s static-ds %s %s %s \"%s\";", $1, $(i + 1), $(i + 2), $(i + 3), d; exit }}' <<<"$DS") };
EOT
HAVE_DELV=0
command -v delv >/dev/null && HAVE_DELV=1
((HAVE_DELV)) || it_log "NOTICE: delv not installed: only unbound validates"
delv_check() {  # port desc rcode name type
  ((HAVE_DELV)) || return 0
  local o
  set +e
  o="$(timeout 20 delv @127.0.0.1 -p "$1" -a "$T/anchors.conf" "+root=$ZONE" "$4" "$5" 2>&1)"
  set -e
  case "$3" in
    NOERROR) grep -qE '^; fully validated|^; negative response, fully validated' <<<"$o" ;;
    NXDOMAIN) grep -qE '^; negative response, fully validated' <<<"$o" && grep -qi 'NXDOMAIN' <<<"$o" ;;
  esac || { echo "$o" >&2; fail "delv @$1: $2"; }
  pass "delv @$1: $2 ($3, fully validated)"
}
UNBOUND_EXTRA='  cache-max-ttl: 4
  cache-max-negative-ttl: 2'
validate_instance() {  # name dns-port
  local name="$1" port="$2" u
  start_unbound "$name" "$ZONE" "$port" "$DS"
  u="$UNBOUND_PORT"
  U_LAST="$u"
  expect_dns "$u" "$name: TN NAPTR secure" NOERROR yes "$TN_NAME" NAPTR
  grep -qF '@ssp2.example.com!' <<<"$dout" || { echo "$dout" >&2; fail "$name: NAPTR missing"; }
  expect_dns "$u" "$name: NODATA (TXT at the TN) secure" NOERROR yes "$TN_NAME" TXT
  expect_dns "$u" "$name: NXDOMAIN secure" NXDOMAIN yes "$MISS_NAME" NAPTR
  expect_dns "$u" "$name: empty non-terminal secure" NOERROR yes "$ENT_NAME" NAPTR
  expect_dns "$u" "$name: DNSKEY secure" NOERROR yes "$ZONE" DNSKEY
  expect_dns "$u" "$name: SOA secure" NOERROR yes "$ZONE" SOA
  delv_check "$port" "$name: TN NAPTR" NOERROR "$TN_NAME" NAPTR
  delv_check "$port" "$name: NODATA" NOERROR "$TN_NAME" TXT
  delv_check "$port" "$name: NXDOMAIN" NXDOMAIN "$MISS_NAME" NAPTR
  delv_check "$port" "$name: DNSKEY" NOERROR "$ZONE" DNSKEY
  if grep -E 'validation failure|bogus' "$T/unbound-$name.log" >&2; then
    fail "unbound '$name' logged validation failures (above)"
  fi
}
validate_instance via-a "$DNS_A"
validate_instance via-b "$DNS_B"

# A change provisioned through A reaches B signed: by A's stored signature
# once it is there, by B's own ZSK (on demand) if B is asked before.
run_ctl registrar-ssp2 number add +12025558888 --registrant iana-en:222 --dg dg-ssp2
expect_ok "TN +12025558888"
NEW_NAME="$(enum_name +12025558888 "$ZONE")"
for ((i = 0; i < 100; i++)); do
  tags="$(rrsig_tags "$DNS_B" "$NEW_NAME" NAPTR NAPTR)"
  [[ "$tags" == "$ZSK_A" || "$tags" == "$ZSK_B" ]] && break
  sleep 0.1
done
[[ "$tags" == "$ZSK_A" || "$tags" == "$ZSK_B" ]] ||
  { echo "$dout" >&2; fail "B does not serve the new TN signed (RRSIG tags '$tags')"; }
expect_dns "$U_LAST" "via-b: new TN secure" NOERROR yes "$NEW_NAME" NAPTR
pass "a TN added through A is served by B, signed by ZSK $tags"

# --- B leaves ------------------------------------------------------------------
_it_stop_pid "$PID_B"
run_ctl admin key retire --zone "$ZONE" --tag "$KSK"
[[ "$rc" != 0 ]] || fail "key retire accepted a KSK"
run_ctl admin key retire --zone "$ZONE" --tag "$ZSK_B"
expect_ok "lufctl key retire --zone $ZONE --tag $ZSK_B"
for ((i = 0; i < 100; i++)); do
  keys="$(lufd_keys "$ZONE")"
  grep -qx "ZSK REMOVED $ZSK_B false" <<<"$keys" && break
  sleep 0.2
done
grep -qx "ZSK REMOVED $ZSK_B false" <<<"$keys" || { echo "$keys" >&2; fail "B's ZSK was not REMOVED"; }
pass "B's ZSK $ZSK_B: RETIRED -> REMOVED (by A, after retire_safety)"
for ((i = 0; i < 50; i++)); do
  [[ "$(served_key_tags "$DNS_A" "$ZONE" ZSK)" == "$ZSK_A" ]] && break
  sleep 0.2
done
[[ "$(served_key_tags "$DNS_A" "$ZONE" ZSK)" == "$ZSK_A" ]] || { echo "$dout" >&2; fail "A still serves B's ZSK"; }
start_unbound after "$ZONE" "$DNS_A" "$DS"
expect_dns "$UNBOUND_PORT" "after B left: DNSKEY secure" NOERROR yes "$ZONE" DNSKEY
expect_dns "$UNBOUND_PORT" "after B left: NXDOMAIN secure" NXDOMAIN yes "$(enum_name +12025550001 "$ZONE")" NAPTR
pass "A serves KSK + its ZSK again, and it validates"
run_ctl admin key retire --zone "$ZONE" --tag "$ZSK_A"
[[ "$rc" != 0 ]] && grep -q "last active" <<<"$out" ||
  { echo "$out" >&2; fail "key retire of the last active ZSK was not refused"; }
pass "key retire refuses the zone's last active ZSK"

# Never, at any point: B's key_dir with another instance's key.
b_files="$(ls "$T/keys-b")"
[[ "$(grep -c '^K' <<<"$b_files" || true)" == 1 ]] ||
  { echo "$b_files" >&2; fail "B's key_dir holds keys other than its own"; }
if grep -E 'validation failure|bogus' "$T"/unbound-*.log >&2; then
  fail "an unbound logged validation failures (above)"
fi
it_done
