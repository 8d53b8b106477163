#!/usr/bin/env bash
# Bidi and invisible characters (issue 8 §4), against a real lufd and lufctl:
#   - an org name holding U+202E (RIGHT-TO-LEFT OVERRIDE) is refused with
#     INVALID_ARGUMENT naming the field and the code point, and so is a
#     credential description holding U+200B;
#   - an org name stored before the server refused them (written straight
#     into the SQLite store while lufd is stopped) is listed by
#     `lufctl org list`, as a table and as JSON, with the character escaped
#     (\u202e), never raw.
IT_NAME=unsafe_text
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools python3

RLO=$'\u202e'
ZWSP=$'\u200b'
DB="$T/registry.db"
start_lufd "sqlite:$DB"

run_ctl admin org add iana-en:778 --name "Carrier ${RLO}enO" --role peer
expect_fail_with 'INVALID_ARGUMENT: (operation 0: )?org.name: contains U\+202E' "org name with U+202E refused"
run_ctl admin org add iana-en:777 --name "Carrier ABC" --role peer
expect_ok "plain org name"
run_ctl admin credential add cred-x --org iana-en:777 --role peer \
  --san-uri urn:lufd:peer:x --description "hello${ZWSP}world"
expect_fail_with 'credential.description: contains U\+200B' "description with U+200B refused"

# An org stored before the fix: the same-length swap "ABC" -> U+202E (3
# bytes in UTF-8) keeps the stored protobuf valid.
stop_lufd
python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT kind, key, data FROM objects WHERE key = 'iana-en:777'").fetchall()
assert len(rows) == 1, rows
kind, key, data = rows[0]
new = bytes(data).replace(b"ABC", "\u202e".encode())
assert new != bytes(data)
db.execute("UPDATE objects SET data = ? WHERE kind = ? AND key = ?", (new, kind, key))
db.commit()
PY
start_lufd "sqlite:$DB"

# no_raw DESC: $out holds none of the refused characters' UTF-8 bytes.
no_raw() {
  python3 -c '
import sys
data = sys.stdin.buffer.read()
bad = [c for c in (0x202A,0x202B,0x202C,0x202D,0x202E,0x2066,0x2067,0x2068,0x2069,0x200B,0x200E,0x200F,0xFEFF)
       if chr(c).encode() in data]
sys.exit(1 if bad else 0)' <<<"$out" || { echo "$out" >&2; fail "$1: raw bidi/invisible character in lufctl output"; }
}
run_ctl admin org list
expect_ok "org list"
no_raw "org list"
expect_contains 'Carrier \u202e' "org list shows the escaped name"
run_ctl admin org list --output json
expect_ok "org list --output json"
no_raw "org list --output json"
python3 -c '
import json, sys
names = [o.get("org", {}).get("name") for o in json.load(sys.stdin)]
sys.exit(0 if "Carrier \u202e" in names else 1)' <<<"$out" ||
  { echo "$out" >&2; fail "org list --output json: the escaped name does not decode to the stored one"; }
pass "org list escapes a stored U+202E (table and JSON)"

it_alive "$LUFD_PID" || fail "lufd died"
it_done
