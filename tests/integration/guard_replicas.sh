#!/usr/bin/env bash
# The disclosure budget shared across replicas (guard.h "shared",
# server/guard/ledger_sync.h): ONE PostgreSQL, TWO lufd instances on it.
# Peer SSP1's org gets distinct_numbers_per_day N; SSP1 looks up 3N distinct
# numbers of the range +12026660000.. (all answered with SED when allowed),
# alternating between the two instances. Together they must answer at most
# N + 2 x chunk distinct numbers (chunk = max(1, N / 100)), and at least
# N - slack (leases arrive while the lookups go on). Without the shared
# budget each instance would answer N (2N in total). Prints the measured
# overshoot.
IT_NAME="guard_replicas"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

N="${GUARD_REPLICAS_N:-200}"
CHUNK=$((N / 100 > 0 ? N / 100 : 1))
SLACK=$((2 * CHUNK))

store_url postgres
start_lufd "$url"
PORT_A="$LUFD_PORT"
PID_A="$LUFD_PID"
provision_rfc7878 provision
provision_rfc7878 accept
BOOTSTRAP=0 start_lufd "$url"
PORT_B="$LUFD_PORT"
PID_B="$LUFD_PID"
[[ "$PORT_A" != "$PORT_B" ]] || fail "both instances on one port"
grep -q "disclosure and miss budgets shared" "$T/lufd.log" ||
  fail "lufd did not turn the shared budget on (see $T/lufd.log)"

LUFD_PORT="$PORT_A"
run_ctl admin org add iana-en:111 --name SSP1 --role peer --role registrar \
  --distinct-per-day "$N"
expect_ok "admin sets SSP1's disclosure budget ($N per day)"
# The quota reaches instance B through the change log.
for ((i = 0; i < 100; i++)); do
  LUFD_PORT="$PORT_B" run_ctl admin --output json org get iana-en:111
  grep -q "distinct" <<<"$out" && break
  sleep 0.1
done

answered=0
answered_a=0
answered_b=0
refused=0
for ((i = 0; i < 3 * N; i++)); do
  number=$(printf "+1202666%04d" "$i")
  if ((i % 2 == 0)); then LUFD_PORT="$PORT_A"; else LUFD_PORT="$PORT_B"; fi
  run_ctl peer-ssp1 lookup "$number"
  if ((rc == 0)); then
    ((answered += 1))
    if ((i % 2 == 0)); then ((answered_a += 1)); else ((answered_b += 1)); fi
  elif grep -q "disclosure budget" <<<"$out"; then
    ((refused += 1))
    last_denial="$out"
  else
    echo "$out" >&2
    fail "lookup of $number failed otherwise (exit $rc)"
  fi
done
overshoot=$((answered - N))
it_log "N=$N chunk=$CHUNK: $answered distinct numbers answered" \
  "(A $answered_a, B $answered_b), $refused refused;" \
  "overshoot $overshoot (bound 2 x chunk = $((2 * CHUNK)))"
echo "guard_replicas: N=$N chunk=$CHUNK answered=$answered overshoot=$overshoot"
((answered <= N + 2 * CHUNK)) ||
  fail "$answered answered: more than N + 2 x chunk = $((N + 2 * CHUNK))"
((answered >= N - SLACK)) ||
  fail "$answered answered: fewer than N - $SLACK (leases did not arrive?)"
((answered_a > 0 && answered_b > 0)) || fail "one instance answered nothing"
out="$last_denial"
expect_contains "shared by all replicas" "the refusal says the budget is shared"

# The grants are in the database, not in either process.
grants=$(psql "$PG_URL" -Atc \
  "SELECT COALESCE(SUM(count), 0) FROM guard_leases WHERE identity = 'org iana-en:111'" 2>&1) ||
  fail "psql: $grants"
it_log "granted in the database: $grants"
((grants <= N)) || fail "the store granted $grants > N"
((grants >= N - SLACK)) || fail "the store granted only $grants"

it_done
