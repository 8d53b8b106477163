#!/usr/bin/env bash
# The Prometheus endpoint (metrics.listen, server/app/metrics.h) on a real
# lufd (SQLite, DNS with online DNSSEC, the RFC 7878 sample + a public SED
# group): lookups over gRPC (a peer: hit and miss) and DNS (anonymous: hit
# and miss; a TSIG peer: hit), a refused RPC, then GET /metrics:
#   - every metric docs/metrics.md lists is exposed, with the documented
#     TYPE, and nothing named lufd_* is exposed that the doc does not list;
#   - the counters moved by exactly what was done (per door, identity
#     class, peer org, denial code, DNS RCODE), and the view/store gauges,
#     the store latency histogram and readiness read sensibly;
#   - `lufd --check-config` rejects a metrics.listen that is not an
#     address literal with a port.
IT_NAME=metrics
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools dig curl jq

ZONE=e164.arpa.
DOC="$SOURCE_DIR/docs/metrics.md"
[[ -f "$DOC" ]] || fail "docs/metrics.md is missing"

# --- check-config ----------------------------------------------------------------
for bad in "localhost:9153" "127.0.0.1" "127.0.0.1:99999"; do
  LUFD_CONFIG_TAIL="$(printf 'metrics:\n  listen: "%s"\n' "$bad")" \
    write_config "$T/bad.yaml" "sqlite:$T/unused.db" 0
  set +e
  out="$("$LUFD_BIN" --check-config "$T/bad.yaml" 2>&1)"
  rc=$?
  set -e
  ((rc != 0)) || fail "--check-config accepted metrics.listen \"$bad\""
  grep -q "^metrics.listen:" <<<"$out" ||
    { echo "$out" >&2; fail "--check-config does not name metrics.listen"; }
done
pass "--check-config rejects bad metrics.listen values, naming the field"

# --- start ------------------------------------------------------------------------
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")
metrics:
  listen: \"127.0.0.1:0\""
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || fail "lufd does not answer DNS"
MPORT="$(sed -n 's/.*metrics: serving http:.* (port \([0-9]*\)).*/\1/p' "$T/lufd.log" | tail -n 1)"
[[ "$MPORT" =~ ^[0-9]+$ && "$MPORT" != 0 ]] ||
  fail "no 'metrics: serving' line with the bound port in the log"
pass "metrics endpoint on 127.0.0.1:$MPORT"

# scrape FILE: GET /metrics into FILE.
scrape() {
  curl -sS --max-time 10 -o "$1" "http://127.0.0.1:$MPORT/metrics" ||
    fail "GET /metrics failed"
}
# metric FILE 'name{labels}' (or 'name'): its value, or "absent".
metric() {
  local v
  v="$(awk -v k="$2" '$1 == k { print $2; exit }' "$1")"
  echo "${v:-absent}"
}
# delta NAME-WITH-LABELS: value in after.txt minus value in before.txt
# (an absent series counts as 0 before, and fails after).
delta() {
  local a b
  a="$(metric "$T/after.txt" "$1")"
  b="$(metric "$T/before.txt" "$1")"
  [[ "$a" != absent ]] || { grep "^${1%%\{*}" "$T/after.txt" >&2; fail "$1 is not exposed"; }
  [[ "$b" != absent ]] || b=0
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%d\n", a - b }'
}
expect_delta() {
  local got
  got="$(delta "$1")"
  [[ "$got" == "$2" ]] || fail "$1 moved by $got, want $2"
  pass "$1 +$2"
}
expect_delta_at_least() {
  local got
  got="$(delta "$1")"
  ((got >= $2)) || fail "$1 moved by $got, want at least $2"
  pass "$1 +$got (>= $2)"
}

provision_public_sample
add_tsig_peers
TN=+12025556666
MISS=+12025550000
# Wait until the sign-ahead signer's signature of the public TN serves from
# the stored cache, so the DNSSEC counters below are deterministic.
TN_NAME="$(enum_name "$TN" "$ZONE")"
for ((i = 0; i < 200; i++)); do  # ~30 s
  dns_dig "$DNS_PORT" "$TN_NAME" NAPTR +dnssec
  scrape "$T/m.txt"
  v="$(metric "$T/m.txt" 'lufd_dnssec_signature_cache_hits_total{cache="stored"}')"
  [[ "$v" != absent && "$v" != 0 ]] && break
  sleep 0.1
done
[[ "$v" != absent && "$v" != 0 ]] || fail "the signed-ahead signature of $TN never served"
v="$(metric "$T/m.txt" 'lufd_dnssec_signatures_total{kind="sign_ahead"}')"
[[ "$v" != absent && "$v" != 0 ]] || fail "lufd_dnssec_signatures_total{kind=\"sign_ahead\"} is $v"

# --- names, types and labels against docs/metrics.md -------------------------------
# The doc's table rows: | `name` | type | labels | meaning |
mapfile -t documented < <(sed -n 's/^| `\(lufd_[a-z_]*\)` | \([a-z]*\) |.*/\1 \2/p' "$DOC")
((${#documented[@]} >= 20)) || fail "docs/metrics.md lists only ${#documented[@]} metrics"
# Rows marked "(PostgreSQL only)" are absent here (SQLite).
mapfile -t pg_only < <(sed -n 's/^| `\(lufd_[a-z_]*\)` | [a-z]* |[^|]*| (PostgreSQL only).*/\1/p' "$DOC")
# Lookups in arrays, not `printf | grep -q`: under pipefail, grep -q's early
# exit can SIGPIPE printf and fail the pipeline on a match.
declare -A doc_type=() skip=()
for row in "${documented[@]}"; do doc_type["${row% *}"]="${row#* }"; done
for name in "${pg_only[@]}"; do skip["$name"]=1; done
for name in "${!doc_type[@]}"; do
  [[ -n "${skip[$name]:-}" ]] && continue
  type="${doc_type[$name]}"
  grep -q "^# TYPE $name $type\$" "$T/m.txt" ||
    { grep "^# TYPE $name " "$T/m.txt" >&2; fail "$name: no '# TYPE $name $type' in /metrics"; }
done
while read -r _ _ name type; do
  [[ "${doc_type[$name]:-}" == "$type" ]] ||
    fail "/metrics exposes $name ($type), which docs/metrics.md does not list"
done < <(grep '^# TYPE lufd_' "$T/m.txt")
pass "all ${#documented[@]} documented metrics exposed with their types, none undocumented"
# The sample dashboard queries documented metrics only.
DASH="$SOURCE_DIR/docs/grafana-lufd.json"
jq -e '.panels | length > 10' "$DASH" >/dev/null || fail "docs/grafana-lufd.json is not a dashboard"
while read -r name; do
  base="${name%_bucket}"
  [[ -n "${doc_type[$base]:-}" ]] ||
    fail "docs/grafana-lufd.json uses $name, which docs/metrics.md does not list"
done < <(grep -o 'lufd_[a-z_]*' "$DASH" | sort -u | grep -v '^lufd_overview$')
pass "the dashboard uses documented metrics only"
# Label sets as documented.
for series in 'lufd_lookups_total{class="peer",door="grpc"}' \
  'lufd_lookups_total{class="anonymous",door="dns"}' \
  'lufd_denials_total{class="peer",code="PERMISSION_DENIED",door="grpc"}' \
  'lufd_blocks_total{class="anonymous"}' \
  'lufd_dns_responses_total{rcode="NXDOMAIN"}' \
  'lufd_dnssec_signature_cache_hits_total{cache="stored"}' \
  'lufd_store_poll_duration_seconds_bucket{le="+Inf"}' \
  'lufd_ready' 'lufd_view_serial'; do
  [[ "$(metric "$T/m.txt" "$series")" != absent ]] ||
    { grep "^${series%%\{*}" "$T/m.txt" >&2; fail "series $series is not exposed"; }
done
pass "documented label sets present"

# --- traffic ------------------------------------------------------------------------
scrape "$T/before.txt"
run_ctl peer-ssp1 lookup "$TN"
expect_ok "gRPC lookup $TN as SSP1 (hit)"
run_ctl peer-ssp1 lookup "$MISS"
((rc != 0)) || fail "gRPC lookup $MISS found something"
run_ctl peer-ssp1 org list
((rc != 0)) || fail "a peer listed orgs"
dns_dig "$DNS_PORT" "$TN_NAME" NAPTR +dnssec
[[ "$(dig_status)" == NOERROR && "$(dig_answer_count)" -ge 2 ]] ||
  { echo "$dout" >&2; fail "DNS NAPTR $TN"; }
dns_dig "$DNS_PORT" "$(enum_name "$MISS" "$ZONE")" NAPTR
[[ "$(dig_status)" == NXDOMAIN ]] || { echo "$dout" >&2; fail "DNS NAPTR $MISS: want NXDOMAIN"; }
dns_dig "$DNS_PORT" "$(enum_name "$MISS" "$ZONE")" NAPTR +dnssec
dns_dig "$DNS_PORT" example.org. A
[[ "$(dig_status)" == REFUSED ]] || { echo "$dout" >&2; fail "DNS outside the zone: want REFUSED"; }
dns_dig "$DNS_PORT" "$TN_NAME" NAPTR -y "hmac-sha256:ssp1-key.:$SECRET1"
[[ "$(dig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "TSIG DNS NAPTR $TN"; }
scrape "$T/after.txt"

expect_delta 'lufd_lookups_total{class="peer",door="grpc"}' 2
expect_delta 'lufd_lookup_misses_total{class="peer",door="grpc"}' 1
expect_delta 'lufd_peer_lookups_total{door="grpc",org="iana-en:111"}' 2
expect_delta 'lufd_peer_lookup_misses_total{door="grpc",org="iana-en:111"}' 1
expect_delta 'lufd_denials_total{class="peer",code="PERMISSION_DENIED",door="grpc"}' 1
expect_delta 'lufd_peer_denials_total{door="grpc",org="iana-en:111"}' 1
expect_delta 'lufd_lookups_total{class="anonymous",door="dns"}' 3
expect_delta 'lufd_lookup_misses_total{class="anonymous",door="dns"}' 2
expect_delta 'lufd_lookups_total{class="peer",door="dns"}' 1
expect_delta 'lufd_peer_lookups_total{door="dns",org="iana-en:111"}' 1
expect_delta 'lufd_lookups_total{class="admin",door="grpc"}' 0
expect_delta 'lufd_dns_responses_total{rcode="NOERROR"}' 2
expect_delta 'lufd_dns_responses_total{rcode="NXDOMAIN"}' 2
expect_delta 'lufd_dns_responses_total{rcode="REFUSED"}' 1
expect_delta 'lufd_dns_queries_total{transport="udp"}' 5
# The positive RRset was signed ahead: served from the stored cache; the
# DO denial is signed online (and then sits in the LRU).
expect_delta_at_least 'lufd_dnssec_signature_cache_hits_total{cache="stored"}' 1
expect_delta_at_least 'lufd_dnssec_signatures_total{kind="online"}' 1
expect_delta_at_least 'lufd_dnssec_signature_cache_misses_total' 1

# --- view, store, readiness ------------------------------------------------------------
serial="$(metric "$T/after.txt" lufd_view_serial)"
store_serial="$(metric "$T/after.txt" lufd_store_serial)"
((serial > 10)) || fail "lufd_view_serial $serial after provisioning"
((store_serial >= serial)) || fail "lufd_store_serial $store_serial < view $serial"
[[ "$(metric "$T/after.txt" lufd_ready)" == 1 ]] || fail "lufd_ready is not 1"
[[ "$(metric "$T/after.txt" lufd_store_up)" == 1 ]] || fail "lufd_store_up is not 1"
lag="$(metric "$T/after.txt" lufd_view_lag_seconds)"
awk -v l="$lag" 'BEGIN { exit !(l >= 0 && l < 5) }' || fail "lufd_view_lag_seconds $lag"
polls="$(metric "$T/after.txt" lufd_store_poll_duration_seconds_count)"
inf="$(metric "$T/after.txt" 'lufd_store_poll_duration_seconds_bucket{le="+Inf"}')"
((polls > 0 && polls == inf)) || fail "poll histogram: count $polls, +Inf bucket $inf"
pass "view serial $serial, store serial $store_serial, lag ${lag}s, $polls polls, ready"

# A commit moves the view serial (the follower applies it).
run_ctl admin org add iana-en:999 --name "Metrics Org" --role peer
expect_ok "org add"
for ((i = 0; i < 50; i++)); do
  scrape "$T/m2.txt"
  (($(metric "$T/m2.txt" lufd_view_serial) > serial)) && break
  sleep 0.1
done
(($(metric "$T/m2.txt" lufd_view_serial) > serial)) || fail "lufd_view_serial did not move after a commit"
pass "lufd_view_serial follows commits"

# A second lufd whose metrics port is taken refuses to start, naming it
# (no DNS section: its port is taken too; the SQLite file is shared).
LUFD_CONFIG_TAIL="$(printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$MPORT")" \
  write_config "$T/second.yaml" "sqlite:$T/registry.db" 0
set +e
out="$(timeout 30 "$LUFD_BIN" --config "$T/second.yaml" 2>&1)"
rc=$?
set -e
((rc != 0 && rc != 124)) || { echo "$out" >&2; fail "a lufd on a taken metrics port did not fail at start (exit $rc)"; }
grep -q "metrics.listen: cannot listen on 127.0.0.1:$MPORT" <<<"$out" ||
  { echo "$out" >&2; fail "the start-up error does not name metrics.listen"; }
pass "a taken metrics port fails the start, naming metrics.listen"

it_done
