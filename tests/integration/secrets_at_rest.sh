#!/usr/bin/env bash
# Secrets at rest, against real lufd processes (issue 8 §3):
#  - lufd creating its SQLite registry makes registry.db, -wal and -shm 0600
#    even under umask 022 (they hold TSIG secrets); an existing 0644 one is
#    refused with the fix;
#  - a TSIG credential added and rotated twice: `lufctl audit` (the Admin
#    Audit RPC) shows three distinct fingerprints and no secret (base64 or
#    hex), nor does any change_log row; TSIG works with the latest secret,
#    and only with it, on the instance that wrote it AND on a second lufd on
#    the same database that learned the credential from the change log;
#  - a key dir others may write, a TLS key or a DNSSEC private key others
#    may read are refused by `lufd --check-config` and by the start, naming
#    the path, the mode and the fix.
# Usage: secrets_at_rest.sh [sqlite|postgres] (the file-mode checks of the
# SQLite files run only with sqlite).
BACKEND="${1:-sqlite}"
IT_NAME="secrets_at_rest.$BACKEND"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools dig sha256sum base64 od
umask 022  # What a shell usually gives: files 0644 unless lufd says otherwise.

ZONE=e164.arpa.
DB="$T/registry.db"
store_url "$BACKEND"
URL="$url"
mode_of() { stat -c %a "$1"; }

# run_lufd ARGS...: lufd in the foreground (it fails fast here); $out, $rc.
run_lufd() {
  set +e
  out="$(timeout 30 "$LUFD_BIN" "$@" 2>&1)"
  rc=$?
  set -e
}

DNS_PORT="$(it_free_dns_port)"
dns_tail() {  # PORT
  printf 'dns:\n  listen:\n    - "127.0.0.1:%s"\n  workers: 1\n  zones:\n    - name: "%s"\n  dnssec:\n    enabled: false\n' "$1" "$ZONE"
}
LUFD_CONFIG_TAIL="$(dns_tail "$DNS_PORT")"

# --- lufd creates its SQLite files 0600 -----------------------------------------
if [[ "$BACKEND" == sqlite ]]; then
write_config "$T/first.yaml" "sqlite:$DB" 0
"$LUFD_BIN" --config "$T/first.yaml" --port-file "$T/first.port" \
  >>"$T/lufd-first.log" 2>&1 &
pid=$!
_IT_PIDS+=("$pid")
for ((i = 0; i < 300; i++)); do
  [[ -s "$T/first.port" ]] && break
  it_alive "$pid" || fail "lufd exited creating its database"
  sleep 0.1
done
[[ -s "$T/first.port" ]] || fail "lufd did not start"
for f in "$DB" "$DB-wal" "$DB-shm"; do
  [[ -e "$f" ]] || fail "$f missing while lufd runs"
  [[ "$(mode_of "$f")" == 600 ]] || { ls -l "$T" >&2; fail "$f has mode $(mode_of "$f"), want 600"; }
done
pass "lufd created registry.db, -wal and -shm with mode 0600 (umask 022)"
_it_stop_pid "$pid"

# An older lufd left the database 0644: refused, with the fix.
chmod 644 "$DB"
run_lufd --config "$T/first.yaml"
((rc != 0)) && grep -qF "$DB has mode 0644" <<<"$out" && grep -qF "chmod 600 $DB" <<<"$out" ||
  { echo "$out" >&2; fail "no clear refusal of a 0644 registry.db"; }
pass "a registry.db readable by others is refused, with the fix"
chmod 600 "$DB"
fi

# --- TSIG rotation: audit carries fingerprints, TSIG follows the rotation -------
start_lufd "$URL"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || fail "lufd does not answer DNS"
provision_rfc7878 provision

# A second instance on the same database, started before the credential
# exists: the credential reaches its view only through the change log.
DNS_PORT2="$(it_free_dns_port)"
LUFD_CONFIG_TAIL="$(dns_tail "$DNS_PORT2")" write_config "$T/second.yaml" "$URL" 0
"$LUFD_BIN" --config "$T/second.yaml" --port-file "$T/second.port" \
  >>"$T/lufd-second.log" 2>&1 &
PID2=$!
_IT_PIDS+=("$PID2")
wait_dns "$DNS_PORT2" "$ZONE" SOA 30 || fail "the second lufd does not answer DNS"

A="$(head -c 32 /dev/urandom | base64 -w0)"
B="$(head -c 32 /dev/urandom | base64 -w0)"
C="$(head -c 32 /dev/urandom | base64 -w0)"
fp() { base64 -d <<<"$1" | sha256sum | cut -c1-16; }
hex_of() { base64 -d <<<"$1" | od -An -tx1 | tr -d ' \n'; }
TN_NAME="$(enum_name +12025556666 "$ZONE")"

# tsig_ok PORT SECRET: a query signed with SECRET is answered (any answer
# but NOTAUTH) and the answer signed and verified by dig (retried while the
# follower catches up); tsig_bad PORT SECRET: NOTAUTH/BADSIG.
tsig_ok() {
  for ((i = 0; i < 50; i++)); do
    dns_dig "$1" +norec -y "hmac-sha256:ssp1-key.:$2" "$TN_NAME" NAPTR
    [[ "$(dig_status)" =~ ^(NOERROR|NXDOMAIN)$ ]] && grep -qE '^ssp1-key\.[[:space:]].*TSIG' <<<"$dout" &&
      ! grep -qiE "couldn't verify|verify failure" <<<"$dout" && return 0
    sleep 0.1
  done
  echo "$dout" >&2
  return 1
}
tsig_bad() {
  for ((i = 0; i < 50; i++)); do
    dns_dig "$1" +norec -y "hmac-sha256:ssp1-key.:$2" "$TN_NAME" NAPTR
    [[ "$(dig_status)" == NOTAUTH ]] && grep -q BADSIG <<<"$dout" && return 0
    sleep 0.1
  done
  echo "$dout" >&2
  return 1
}

prev=""
for s in "$A" "$B" "$C"; do
  run_ctl admin credential add cred-tsig-ssp1 --org iana-en:111 --role peer \
    --tsig-name ssp1-key. --tsig-secret "$s"
  expect_ok "TSIG credential with the secret of fingerprint $(fp "$s")"
  for port in "$DNS_PORT" "$DNS_PORT2"; do
    tsig_ok "$port" "$s" || fail "TSIG with the current secret fails on :$port"
    if [[ -n "$prev" ]]; then
      tsig_bad "$port" "$prev" || fail "TSIG with the replaced secret still works on :$port"
    fi
  done
  prev="$s"
done
pass "TSIG follows the add and two rotations on both instances (the second learned it from the log)"

run_ctl admin --output json audit
expect_ok "lufctl audit (Admin Audit RPC)"
audit="$out"
for s in "$A" "$B" "$C"; do
  hex="$(hex_of "$s")"
  for form in "$s" "$hex" "${hex^^}"; do
    grep -qF -- "$form" <<<"$audit" && fail "audit carries a TSIG secret ($form)"
  done
  grep -qF "\"$(fp "$s")\"" <<<"$audit" ||
    { echo "$audit" >&2; fail "audit lacks the fingerprint $(fp "$s")"; }
done
distinct="$(grep -oE '"tsigSecretSha256": ?"[0-9a-f]{16}"' <<<"$audit" |
  grep -oE '[0-9a-f]{16}' | sort -u | wc -l)"
[[ "$distinct" == 3 ]] || { echo "$audit" >&2; fail "want 3 distinct fingerprints in the audit, got $distinct"; }
pass "audit: no secret (base64 or hex), $distinct distinct fingerprints instead"
if [[ "$BACKEND" == sqlite ]] && command -v sqlite3 >/dev/null; then
  for s in "$A" "$B" "$C"; do
    hex="$(hex_of "$s")"
    found="$(sqlite3 "$DB" "SELECT count(*) FROM change_log WHERE instr(lower(hex(coalesce(before, x''))), '$hex') > 0 OR instr(lower(hex(coalesce(after, x''))), '$hex') > 0")"
    [[ "$found" == 0 ]] || fail "$found change_log rows hold a secret"
  done
  pass "no change_log row holds a secret's bytes"
fi
if [[ "$BACKEND" == sqlite ]]; then
  for f in "$DB" "$DB-wal" "$DB-shm"; do
    [[ "$(mode_of "$f")" == 600 ]] || fail "$f has mode $(mode_of "$f") after use"
  done
fi
it_alive "$LUFD_PID" && it_alive "$PID2" || fail "a lufd died"
stop_lufd
_it_stop_pid "$PID2"

# --- key dir, TLS key and DNSSEC key modes --------------------------------------
mkdir -m 700 "$T/keys"
chmod 777 "$T/keys"
LUFD_CONFIG_TAIL="$(lufd_dns_yaml "$DNS_PORT" "$ZONE" "$T/keys")"
write_config "$T/keys.yaml" "$URL" 0
run_lufd --check-config "$T/keys.yaml"
((rc == 1)) && grep -qF "$T/keys has mode 0777" <<<"$out" && grep -qF "chmod 700 $T/keys" <<<"$out" ||
  { echo "$out" >&2; fail "--check-config accepts a 0777 key dir"; }
run_lufd --config "$T/keys.yaml"
((rc != 0)) && grep -qF "$T/keys has mode 0777" <<<"$out" ||
  { echo "$out" >&2; fail "lufd starts with a 0777 key dir"; }
pass "a key dir others may write: refused by --check-config and at start"
chmod 700 "$T/keys"

cp "$PKI/server.key" "$T/loose.key"
chmod 644 "$T/loose.key"
sed "s|$PKI/server.key|$T/loose.key|" "$T/keys.yaml" >"$T/loose.yaml"
run_lufd --check-config "$T/loose.yaml"
((rc == 1)) && grep -qF "grpc.tls.key_file $T/loose.key has mode 0644" <<<"$out" &&
  grep -qF "chmod 600 $T/loose.key" <<<"$out" ||
  { echo "$out" >&2; fail "--check-config accepts a 0644 TLS key"; }
run_lufd --config "$T/loose.yaml"
((rc != 0)) && grep -qF "$T/loose.key has mode 0644" <<<"$out" ||
  { echo "$out" >&2; fail "lufd starts with a 0644 TLS key"; }
pass "a TLS key others may read: refused by --check-config and at start"

# A DNSSEC private key lufd made (0600), loosened afterwards: refused.
run_lufd --check-config "$T/keys.yaml"
((rc == 0)) || { echo "$out" >&2; fail "the fixed config does not check"; }
start_lufd "$URL"
wait_dns "$DNS_PORT" "$ZONE" DNSKEY 30 || fail "lufd with DNSSEC does not answer"
stop_lufd
keyfile="$(ls "$T/keys"/K*.pem | head -n 1)"
[[ -n "$keyfile" && "$(mode_of "$keyfile")" == 600 ]] || fail "lufd's key file ${keyfile:-none} is not 0600"
chmod 644 "$keyfile"
run_lufd --config "$T/keys.yaml"
((rc != 0)) && grep -qF "$keyfile has mode 0644" <<<"$out" && grep -qF "chmod 600 $keyfile" <<<"$out" ||
  { echo "$out" >&2; fail "lufd starts with a 0644 DNSSEC private key"; }
run_lufd --check-config "$T/keys.yaml"
((rc == 1)) && grep -qF "$keyfile has mode 0644" <<<"$out" ||
  { echo "$out" >&2; fail "--check-config accepts a 0644 DNSSEC private key"; }
pass "a DNSSEC private key others may read: refused by --check-config and at start"
it_done
