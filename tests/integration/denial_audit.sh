#!/usr/bin/env bash
# The denial audit against a real lufd (sqlite, CRL configured):
#   - a registrar's refused write (SSP1's registrar over SSP2's number) and a
#     revoked certificate's calls show up in `lufctl audit --denied` with
#     who (org/credential; spki:<hex> and subject for the revoked cert),
#     what (method, object) and why, table and --json, --actor filter;
#   - only admins may read it;
#   - a flood of ~2,000 calls from the revoked certificate writes at most a
#     handful of log lines, the next line says how many were suppressed,
#     the denials table stays under audit.denials_max_rows, and the server
#     keeps answering legitimate calls during the flood.
IT_NAME=denial_audit
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

MAX_ROWS=7
LUFD_CRL_FILE="$PKI/crl.pem"
LUFD_CONFIG_TAIL="audit:
  denials_max_rows: $MAX_ROWS
  denials_flush_interval: \"200ms\""
start_lufd "sqlite:$T/registry.db"
"$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
  --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" \
  >"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "provisioning failed"; }

TN=+12025556666
REVOKED_SPKI="$(openssl x509 -in "$PKI/revoked.pem" -noout -pubkey |
  openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)"

# The refusals to be audited.
run_ctl registrar-ssp1 number add "$TN" --registrant iana-en:222 --dg dg-ssp2
expect_fail_with PERMISSION_DENIED "registrar-ssp1 overwriting ssp2's TN"
run_ctl revoked lookup "$TN"
expect_fail_with 'UNAUTHENTICATED' "revoked certificate refused"
# The side doors (health, reflection) record their refusals the same way.
run_ctl revoked health
expect_fail_with 'UNAUTHENTICATED' "revoked certificate refused on health"
# A batch whose second operation is refused: the audit names it.
cat >"$T/batch.json" <<JSON
[{"put": {"destGroup": {"id": "dg-ssp1-new", "registrantId": "iana-en:111"}}},
 {"put": {"identifier": {"kind": "IDENTIFIER_KIND_TN", "value": "$TN",
   "registrantId": "iana-en:222", "destGroupIds": ["dg-ssp2"]}}}]
JSON
run_ctl registrar-ssp1 batch "$T/batch.json"
expect_fail_with PERMISSION_DENIED "registrar-ssp1's batch touching ssp2's TN"
# An import of another SSP's numbers: one row with the count and the first
# failing objects, and the real reason of the first.
{
  echo "tn,registrant,dest_groups"
  echo "+12025550011,iana-en:222,dg-ssp2"
  echo "+12025550012,iana-en:222,dg-ssp2"
  echo "+12025550013,iana-en:222,dg-ssp2"
} >"$T/theirs.csv"
run_ctl registrar-ssp1 import "$T/theirs.csv"
expect_fail_with PERMISSION_DENIED "registrar-ssp1 importing ssp2's numbers"

# Only admins read the denial audit.
run_ctl registrar-ssp1 audit --denied
expect_fail_with PERMISSION_DENIED "a registrar may not read the denial audit"
run_ctl peer-ssp1 audit --denied
expect_fail_with PERMISSION_DENIED "a peer may not read the denial audit"

run_ctl admin --output json audit --denied --limit 100
expect_ok "admin reads the denial audit (json)"
echo "$out" >"$T/denied.json"
python3 - "$T/denied.json" "$TN" "$REVOKED_SPKI" <<'PY' || fail "denial rows (see above)"
import json, sys
rows = json.load(open(sys.argv[1]))
tn, spki = sys.argv[2], sys.argv[3]
def find(pred, what):
    hits = [r for r in rows if pred(r)]
    if not hits:
        print("no row for", what, "in", json.dumps(rows, indent=1), file=sys.stderr)
        sys.exit(1)
    return hits[0]
w = find(lambda r: r.get("actor") == "iana-en:111/cred-registrar-ssp1"
         and r.get("method") == "Put", "the registrar's Put")
assert tn in w.get("object", ""), w
assert w.get("code") == 7, w              # PERMISSION_DENIED
assert w.get("reason"), w                 # why
assert w.get("peer", "").startswith("ipv4:127.0.0.1"), w
assert int(w.get("count", "0")) >= 1, w
b = find(lambda r: r.get("actor") == "iana-en:111/cred-registrar-ssp1"
         and r.get("method") == "Batch", "the registrar's Batch")
assert b.get("object", "").startswith("operation 1 of 2: identifier"), b
assert tn in b.get("object", ""), b
i = find(lambda r: r.get("actor") == "iana-en:111/cred-registrar-ssp1"
         and r.get("method") == "Import", "the registrar's Import")
assert i.get("object", "").startswith(
    "import: 3 failing objects; first: object 0, object 1, object 2"), i
assert i.get("reason", "").startswith("object 0: "), i
assert i.get("code") == 7, i
r = find(lambda r: r.get("actor") == "spki:" + spki
         and r.get("method") == "Lookup", "the revoked certificate")
assert r.get("reason") == "certificate revoked", r
assert r.get("code") == 16, r             # UNAUTHENTICATED
assert "CN=" in r.get("subject", ""), r
h = find(lambda r: r.get("actor") == "spki:" + spki
         and "grpc.health.v1.Health" in r.get("method", ""),
         "the revoked certificate's health check")
assert h.get("code") == 16, h
PY
pass "refused write and revoked certificate audited with who/what/why"

run_ctl admin audit --denied --actor "spki:$REVOKED_SPKI"
expect_ok "admin reads the denial audit (table, --actor)"
echo "$out" >&2
expect_contains "certificate revoked" "table shows why"
expect_contains "UNAUTHENTICATED" "table shows the code"
grep -qF "cred-registrar-ssp1" <<<"$out" && fail "--actor filter let another actor through"
pass "--actor filters"

# --- The flood ---------------------------------------------------------------
log_mark="$(wc -l <"$T/lufd.log")"
flood_start="$(date +%s.%N)"
if [[ -x "${LOOKUP_LOAD_BIN:-}" ]]; then
  # ~2,000 calls in 2 s over 4 connections, open loop.
  "$LOOKUP_LOAD_BIN" --target "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/revoked.pem" --key "$PKI/revoked.key" \
    --channels 4 --concurrency 64 --rate 1000 --duration_s 2 --warmup_s 0 \
    --query "$TN" >"$T/flood.out" 2>&1 &
else
  # Without the bench tools: lufctl in a loop (slower, fewer calls).
  ( for ((i = 0; i < 300; i++)); do ctl revoked lookup "$TN" >/dev/null 2>&1 || true; done ) &
fi
flood_pid=$!
_IT_PIDS+=("$flood_pid")
# Legitimate calls keep being answered during the flood.
for ((i = 0; i < 5; i++)); do
  run_ctl peer-ssp1 lookup "$TN"
  expect_ok "legit lookup $i during the flood"
  expect_contains "ssp2.example.com" "legit lookup $i answered"
done
wait "$flood_pid" || true
flood_s="$(echo "$(date +%s.%N) - $flood_start" | bc)"
cat "$T/flood.out" 2>/dev/null | tail -n 3 >&2 || true
calls="$(sed -n 's/^RESULT .* errors=\([0-9]*\).*/\1/p' "$T/flood.out" 2>/dev/null || true)"
it_log "flood: ${calls:-?} refused calls in ${flood_s}s"

# One more refused call after a pause: its line reports the suppressed ones.
sleep 1.5
run_ctl revoked lookup "$TN"
expect_fail_with 'UNAUTHENTICATED' "revoked certificate still refused"
sleep 0.3
tail -n +"$((log_mark + 1))" "$T/lufd.log" >"$T/flood.log"
lines="$(grep -c "caller=spki:$REVOKED_SPKI" "$T/flood.log" || true)"
# Suppressed lines are reported by the caller's next line, or by the
# periodic summary (every 10 s, all callers; only this one floods here).
suppressed="$( { sed -n 's/.*caller=spki:'"$REVOKED_SPKI"'.*(suppressed \([0-9]*\) similar lines).*/\1/p' \
  "$T/flood.log"; sed -n 's/.*suppressed \([0-9]*\) denied-call log lines.*/\1/p' "$T/flood.log"
  echo 0; } | paste -sd+ | bc)"
it_log "flood: $lines log lines for the revoked certificate, ${suppressed:-0} suppressed"
# Burst 5 + 1 line/s over a ~5 s span.
((lines <= 15)) || { tail -n 20 "$T/flood.log" >&2; fail "$lines denied-call log lines for one flooder"; }
((${suppressed:-0} >= 100)) ||
  { tail -n 20 "$T/flood.log" >&2; fail "no line reports the suppressed lines (${suppressed:-0})"; }
if [[ -n "$calls" ]]; then
  ((calls >= 1000)) || fail "the flood made only $calls calls"
  # Every refused call is either a line or counted in a suppressed count.
  ((lines + suppressed >= calls)) || fail "lines ($lines) + suppressed ($suppressed) < calls ($calls)"
fi
pass "flood log bounded: $lines lines, $suppressed suppressed"

# The table stays under its bound, and the flood's count is in the audit.
sleep 0.5
rows="$(sqlite3 "$T/registry.db" 'SELECT count(*) FROM denials')"
((rows <= MAX_ROWS)) || fail "denials table has $rows rows (max $MAX_ROWS)"
flood_count="$(sqlite3 "$T/registry.db" \
  "SELECT coalesce(sum(count), 0) FROM denials WHERE actor = 'spki:$REVOKED_SPKI'")"
it_log "denials table: $rows rows; revoked-cert rows kept count $flood_count"
((flood_count >= 100)) || fail "the flood is not in the denial audit ($flood_count)"
pass "denials table bounded ($rows <= $MAX_ROWS rows)"

run_ctl peer-ssp1 lookup "$TN"
expect_ok "server still serving after the flood"
it_done
