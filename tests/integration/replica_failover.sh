#!/usr/bin/env bash
# Replication on PostgreSQL streaming replication, for real (docs/
# replication.md): a PostgreSQL 15 primary and a streaming hot standby
# (pg_basebackup -R -X stream), lufd A on the primary, lufd B on the standby
# with store.primary_url = the primary, and lufd C on the standby without
# it (grpc.primary_endpoint = A).
#  1. A write through B is forwarded to the primary, B reads it back at
#     once (read-your-writes) and A gets it through its change log.
#  2. A write through C is refused (FAILED_PRECONDITION naming A's
#     endpoint); lufctl follows the lufd-primary-endpoint metadata once, to
#     A, and the write lands.
#  3. The primary is killed (SIGKILL): gRPC Lookup and DNS queries on B go
#     on being answered, with no failure at all (bounded loop).
#  4. The standby is promoted (pg_ctl promote): a write through the same B
#     (no restart) succeeds within $PROMOTE_WITHIN s, at serial
#     previous + 1 (no gap, no duplicate).
#  5. The database moves back in time: B's standby is replaced by one
#     rebuilt from an older base backup; B rebuilds its view from it
#     (warning logged) instead of serving a mix.
IT_NAME="replica_failover"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools dig psql

PROMOTE_WITHIN="${PROMOTE_WITHIN:-15}"
FAILOVER_QUERIES="${FAILOVER_QUERIES:-30}"
ZONE="e164.arpa."
NUMBER="+12025556666"

pg_start_cluster
PRIMARY_URL="$PG_URL"
start_lufd "$PRIMARY_URL"
PORT_A="$LUFD_PORT"
provision_public_sample
provision_rfc7878 accept

# The streaming standby of the provisioned primary.
_IT_PG_DIRS+=("$T/pg-standby")
STANDBY_URL="$(pg_start_standby "$T/pg" "$T/pg-standby")" ||
  fail "could not start the standby"
it_log "standby at $STANDBY_URL"
psql_at() { timeout 20 psql "$1" -Atc "$2" 2>&1; }
[[ "$(psql_at "$STANDBY_URL" "SELECT pg_is_in_recovery()")" == t ]] ||
  fail "the standby is not in recovery"

# B: on the standby, forwarding to the primary, with a DNS front door
# (unsigned: DNSSEC on replicas is the multi-signer work's).
DNS_B="$(it_free_dns_port)"
LUFD_STORE_EXTRA="  primary_url: \"$PRIMARY_URL\"" \
  LUFD_CONFIG_TAIL="dns:
  listen:
    - \"127.0.0.1:$DNS_B\"
  workers: 1
  zones:
    - name: \"$ZONE\"
  dnssec:
    enabled: false" \
  start_lufd "$STANDBY_URL"
PORT_B="$LUFD_PORT"
PID_B="$LUFD_PID"
wait_dns "$DNS_B" "$(enum_name "$NUMBER" "$ZONE")" NAPTR ||
  fail "B's DNS did not come up"
grep -q "not migrating" "$T/lufd.log" ||
  fail "B did not see its store is a standby (see $T/lufd.log)"

# --- 1. forwarded write, read-your-writes on B, visible on A --------------
LUFD_PORT="$PORT_B"
run_ctl admin org add iana-en:501 --name "Written via B" --role registrant
expect_ok "write through B (standby + primary_url)"
LUFD_PORT="$PORT_B" run_ctl admin org get iana-en:501
expect_ok "B reads its own write at once"
expect_contains "Written via B" "B's view has the forwarded write"
found=0
for ((i = 0; i < 100; i++)); do
  LUFD_PORT="$PORT_A" run_ctl admin org get iana-en:501
  if ((rc == 0)); then found=1; break; fi
  sleep 0.1
done
((found)) || fail "A never saw the write made through B"
pass "A sees the write made through B"

# --- 2. no primary_url: refused, lufctl follows the endpoint --------------
LUFD_CONFIG_TAIL="" LUFD_STORE_EXTRA="" \
  start_lufd "$STANDBY_URL" "  primary_endpoint: \"127.0.0.1:$PORT_A\""
PORT_C="$LUFD_PORT"
LUFD_PORT="$PORT_C"
run_ctl admin org add iana-en:502 --name "Written via C" --role registrant
expect_ok "write through C (standby, no primary_url) lands via lufctl's retry"
expect_contains "FAILED_PRECONDITION" "C refused the write"
expect_contains "127.0.0.1:$PORT_A" "the refusal names A's endpoint"
expect_contains "grpc.primary_endpoint" "the refusal says where it came from"
expect_contains "retrying once at 127.0.0.1:$PORT_A" "lufctl followed it"
LUFD_PORT="$PORT_A" run_ctl admin org get iana-en:502
expect_ok "the write through C is on the primary"
# The same for an import (a bidi stream): refused, followed, committed.
printf 'tn,registrant,dest_groups\n+12025550011,iana-en:222,dg-ssp2\n' \
  >"$T/import.csv"
LUFD_PORT="$PORT_C" run_ctl registrar-ssp2 import "$T/import.csv"
expect_ok "an import through C lands via lufctl's retry"
expect_contains "retrying once at 127.0.0.1:$PORT_A" "lufctl followed it"
LUFD_PORT="$PORT_A" run_ctl admin number get +12025550011
expect_ok "the imported number is on the primary"
stop_lufd  # C

# --- 3. kill the primary: B goes on answering ------------------------------
# B's standby must hold everything before the kill (the harness runs the
# primary with synchronous_commit=off).
serial_before=""
for ((i = 0; i < 100; i++)); do
  p="$(psql_at "$PRIMARY_URL" "SELECT latest_serial FROM registry_state")"
  s="$(psql_at "$STANDBY_URL" "SELECT latest_serial FROM registry_state")"
  if [[ "$p" =~ ^[0-9]+$ && "$p" == "$s" ]]; then serial_before="$p"; break; fi
  sleep 0.1
done
[[ -n "$serial_before" ]] || fail "the standby did not catch up ($p vs $s)"
it_log "serial before the failover: $serial_before"

LUFD_PORT="$PORT_B" run_ctl peer-ssp1 lookup +12026660001
expect_ok "peer lookup on B before the kill"
lookup_before="$out"
dns_dig "$DNS_B" "$(enum_name "$NUMBER" "$ZONE")" NAPTR
[[ "$(dig_status)" == NOERROR && "$(dig_answer_count)" != 0 ]] ||
  { echo "$dout" >&2; fail "B's DNS does not answer $NUMBER before the kill"; }

pg_kill "$T/pg"
it_log "primary killed"
grpc_failures=0
dns_failures=0
for ((i = 0; i < FAILOVER_QUERIES; i++)); do
  LUFD_PORT="$PORT_B" run_ctl peer-ssp1 lookup +12026660001
  if ((rc != 0)) || [[ "$out" != "$lookup_before" ]]; then
    ((grpc_failures += 1))
    it_log "lookup $i failed: $out"
  fi
  dns_dig "$DNS_B" "$(enum_name "$NUMBER" "$ZONE")" NAPTR
  if [[ "$(dig_status)" != NOERROR || "$(dig_answer_count)" == 0 ]]; then
    ((dns_failures += 1))
    it_log "DNS query $i failed: $(dig_status)"
  fi
done
it_log "after the kill: $FAILOVER_QUERIES gRPC lookups ($grpc_failures" \
  "failed), $FAILOVER_QUERIES DNS queries ($dns_failures failed)"
((grpc_failures == 0)) || fail "$grpc_failures gRPC lookups failed on B"
((dns_failures == 0)) || fail "$dns_failures DNS queries failed on B"
pass "B answered every lookup with the primary dead"
# Writes meanwhile fail (the primary is gone), without breaking B.
LUFD_PORT="$PORT_B" run_ctl admin org add iana-en:503 --name "Lost" \
  --role registrant
((rc != 0)) || fail "a write succeeded with the primary dead and no promotion"

# --- 4. promote: the same B writes, serial + 1 -----------------------------
t0=$(date +%s.%N)
pg_promote "$T/pg-standby" || fail "pg_ctl promote failed"
it_log "standby promoted"
written=0
for ((i = 0; i < PROMOTE_WITHIN * 5; i++)); do
  LUFD_PORT="$PORT_B" run_ctl admin org add iana-en:504 \
    --name "After failover" --role registrant
  if ((rc == 0)); then written=1; break; fi
  sleep 0.2
done
t1=$(date +%s.%N)
((written)) || fail "no write succeeded on B within $PROMOTE_WITHIN s: $out"
elapsed="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
serial_after="$(sed -n 's/.*serial \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)"
it_log "first write after promotion: ${elapsed} s after pg_ctl promote," \
  "serial $serial_after"
echo "replica_failover: promote_to_write_s=$elapsed serial_before=$serial_before serial_after=$serial_after"
[[ "$serial_after" == "$((serial_before + 1))" ]] ||
  fail "serial after failover is $serial_after, want $((serial_before + 1))"
LUFD_PORT="$PORT_B" run_ctl admin org get iana-en:504
expect_ok "B reads the write made after the failover"
[[ "$(psql_at "$STANDBY_URL" "SELECT count(*) FROM change_log WHERE serial = $serial_after")" -ge 1 ]] ||
  fail "the promoted database has no change at serial $serial_after"
grep -q "accepts writes now (promoted)" "$T/lufd.log" ||
  fail "B did not log the promotion"
pass "B writes after the promotion, no restart, serial $serial_before -> $serial_after"

# --- 5. the database moves back in time --------------------------------
# A base backup of the promoted database now, then more writes; B's database
# is then replaced by that backup (a replica rebuilt from an older backup).
mkdir -p "$T/backup" && chmod 700 "$T/backup"
[[ "$(id -u)" != 0 ]] || chown postgres: "$T/backup"
_pg_as timeout 60 "$PG_BIN/pg_basebackup" -h 127.0.0.1 \
  -p "$(cat "$T/pg-standby/port")" -U postgres -D "$T/backup/data" \
  -X stream --no-sync >"$T/backup.log" 2>&1 ||
  { cat "$T/backup.log" >&2; fail "pg_basebackup of the promoted database"; }
old_serial="$serial_after"
for n in 505 506 507; do
  LUFD_PORT="$PORT_B" run_ctl admin org add "iana-en:$n" --name "Newer $n" \
    --role registrant
  expect_ok "write $n after the backup"
done
LUFD_PORT="$PORT_B" run_ctl admin org get iana-en:507
expect_ok "B has the newer writes"
# Swap the database under B: stop it, put the older backup in its place,
# start it on the same port.
port_b_db="$(cat "$T/pg-standby/port")"
_pg_as "$PG_BIN/pg_ctl" -D "$T/pg-standby/data" -m fast -w -t 60 stop \
  >>"$T/pg-standby/pg_ctl.log" 2>&1 || fail "stopping B's database"
rm -rf "$T/pg-standby/data"
mv "$T/backup/data" "$T/pg-standby/data"
_pg_as "$PG_BIN/pg_ctl" -D "$T/pg-standby/data" -l "$T/pg-standby/server.log" \
  -w -t 60 -o "-p $port_b_db -k $T/pg-standby -c listen_addresses=127.0.0.1" \
  start >>"$T/pg-standby/pg_ctl.log" 2>&1 || fail "starting the older database"
rebuilt=0
for ((i = 0; i < 100; i++)); do
  if grep -q "moved back in time" "$T/lufd.log"; then
    LUFD_PORT="$PORT_B" run_ctl admin org get iana-en:507
    if ((rc != 0)); then rebuilt=1; break; fi
  fi
  sleep 0.1
done
((rebuilt)) || fail "B did not rebuild its view from the older database"
LUFD_PORT="$PORT_B" run_ctl admin org get iana-en:504
expect_ok "B's rebuilt view still has what the older database holds"
LUFD_PORT="$PORT_B" run_ctl admin info
it_log "B after the rewind: $(grep -i serial <<<"$out" | tr '\n' ' ')"
it_alive "$PID_B" || fail "B died"
pass "B rebuilt its view at serial $old_serial from the older database"

it_done
