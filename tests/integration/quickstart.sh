#!/usr/bin/env bash
# The README's first command, tools/quickstart.sh, end to end, so that it
# cannot rot silently. It runs the script the way a user would (without the
# package step), into a private run directory on a free port, and uses what
# it prints:
#   1. quickstart; the `lufctl ... lookup +12025556666` line it prints, run
#      as printed from the repository root, returns SSP2's NAPTR;
#   2. quickstart again (re-run safety): it stops the first lufd (and only
#      it), starts a new one, and the newly printed lookup line works again;
#   3. the printed stop command (`kill $(cat RUN/lufd.pid)`) stops lufd;
#   4. a process named lufd that is not this run directory's lufd (a decoy
#      whose pid is put in the pid file) survives a third quickstart run,
#      which still succeeds.
# After every run, the printed `dig ... +dnssec NAPTR <name>` line, run as
# printed, gets the public number's NAPTR with its RRSIG from lufd's DNS
# front door, and the printed DS matches the DNSKEY lufd serves.
# Environment (set by tests/integration/CMakeLists.txt): LUFD_BUILD_DIR (the
# ctest build directory: quickstart only re-checks that lufd and lufctl
# are up to date there), SOURCE_DIR, LUFD_BIN, LUFCTL_BIN.
IT_NAME=quickstart
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if [[ -z "${LUFD_BUILD_DIR:-}" || ! -f "$LUFD_BUILD_DIR/CMakeCache.txt" ]]; then
  echo "SKIP: LUFD_BUILD_DIR is not a configured build directory (${LUFD_BUILD_DIR:-unset})" >&2
  exit 77
fi

T="$(mktemp -d "${TMPDIR:-/tmp}/lufd-it-$IT_NAME.XXXXXX")"
RUN="$T/run"  # does not exist yet: quickstart creates it
QRUN="$(printf '%q' "$RUN")"  # as quickstart prints it (shell-quoted)
TN=+12025556666
_QS_PIDS=()   # lufd pids read from the pid file (started by quickstart)

# qs_lufd PID: PID is alive and is a lufd started for $RUN (its command line
# names $RUN/lufd.yaml). Checked again before every kill.
qs_lufd() {
  local pid="$1"
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] && it_alive "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == lufd ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$RUN/lufd.yaml"
}

# qs_wait_gone PID: waits up to 15 s for PID to exit.
qs_wait_gone() {
  local i
  for ((i = 0; i < 150; i++)); do
    it_alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# qs_stop PID: TERM (then KILL after 15 s) for a lufd that qs_lufd
# recognises; lufd is not our child (quickstart started it), so no wait.
qs_stop() {
  qs_lufd "$1" || return 0
  kill -TERM "$1" 2>/dev/null || true
  qs_wait_gone "$1" && return 0
  qs_lufd "$1" && kill -KILL "$1" 2>/dev/null
  qs_wait_gone "$1"
}

qs_cleanup() {
  local rc=$? pid f
  set +e
  for pid in "${_QS_PIDS[@]}"; do
    qs_stop "$pid"
  done
  if ((rc != 0)); then
    for f in "$T"/quickstart-*.out "$RUN/lufd.log"; do
      [[ -f "$f" ]] || continue
      echo "----- tail of $f -----" >&2
      tail -n 40 "$f" >&2
    done
  fi
  (exit "$rc")
  it_cleanup  # stops _IT_PIDS (the decoy), removes $T, exits with rc
}
trap qs_cleanup EXIT
trap 'exit 130' INT TERM
it_log "temp dir $T"

# run_quickstart N: runs tools/quickstart.sh (bounded) from outside the
# repository; output in $T/quickstart-N.out ($QS_OUT). Picks another port
# when the chosen one was taken in the meantime. Sets $QS_PID from the pid
# file and checks it is our lufd.
run_quickstart() {
  local n="$1" attempt qrc
  QS_OUT="$T/quickstart-$n.out"
  for ((attempt = 1; attempt <= 3; attempt++)); do
    set +e
    (cd "$T" && LUFD_SKIP_DEPS=1 LUFD_BUILD_DIR="$LUFD_BUILD_DIR" \
      LUFD_RUN_DIR="$RUN" LUFD_PORT="$PORT" LUFD_DNS_PORT="$DNS_PORT" \
      JOBS="${JOBS:-2}" \
      timeout -k 10 600 "$SOURCE_DIR/tools/quickstart.sh") \
      </dev/null >"$QS_OUT" 2>&1
    qrc=$?
    set -e
    if [[ -f "$RUN/lufd.pid" ]]; then
      local p
      p="$(tr -dc 0-9 <"$RUN/lufd.pid")"
      qs_lufd "$p" && _QS_PIDS+=("$p")
    fi
    if ((qrc == 0)) || ! grep -q 'is in use by another process' "$QS_OUT"; then
      break
    fi
    PORT="$(it_free_port)"
    DNS_PORT="$(it_free_dns_port)"
    it_log "port was taken; retrying quickstart run $n on $PORT"
  done
  ((qrc == 0)) || { cat "$QS_OUT" >&2; fail "quickstart run $n failed (exit $qrc)"; }
  QS_PID="$(tr -dc 0-9 <"$RUN/lufd.pid")"
  qs_lufd "$QS_PID" || fail "run $n: pid file $RUN/lufd.pid ($QS_PID) is not a lufd for $RUN"
  grep -qF "lufd (pid $QS_PID) serves the example registry on 127.0.0.1:$PORT" "$QS_OUT" ||
    { cat "$QS_OUT" >&2; fail "run $n: no 'Ready' line naming pid $QS_PID and port $PORT"; }
  pass "quickstart run $n: lufd pid $QS_PID on 127.0.0.1:$PORT"
}

# check_lookup N: the printed lookup line, exactly as printed, run from the
# repository root as the instructions say, returns the NAPTR.
check_lookup() {
  local n="$1" line
  local -a lines=()
  mapfile -t lines < <(grep -E "^ +[^ ]*lufctl .* lookup \\$TN *\$" "$QS_OUT")
  ((${#lines[@]} == 1)) ||
    { cat "$QS_OUT" >&2; fail "run $n: expected one printed lufctl lookup line, found ${#lines[@]}"; }
  line="$(sed 's/^ *//' <<<"${lines[0]}")"
  it_log "printed: $line"
  [[ "$line" == *"--server 127.0.0.1:$PORT "* && "$line" == *"$QRUN/pki/peer-ssp1."* ]] ||
    fail "run $n: the printed lookup does not use port $PORT and $RUN/pki: $line"
  set +e
  # shellcheck disable=SC2034  # out and rc are read by lib.sh's expect_*
  out="$(cd "$SOURCE_DIR" && timeout 60 bash -c "$line" 2>&1)"
  rc=$?
  set -e
  expect_ok "run $n: printed lookup"
  expect_contains "NAPTR" "run $n: printed lookup: NAPTR record"
  expect_contains "E2U+sip" "run $n: printed lookup: NAPTR service"
  expect_contains "@ssp2.example.com!" "run $n: printed lookup: NAPTR regexp"
}

# check_dig N: the printed dig line, exactly as printed, gets the public
# number's NAPTR and its RRSIG (DNSSEC online signing) from lufd; the
# printed DS is the digest of the CSK lufd serves.
check_dig() {
  local n="$1" line ds served
  local -a lines=()
  mapfile -t lines < <(grep -E "^ +dig @127\.0\.0\.1 -p [0-9]+ \+dnssec NAPTR [0-9.]+e164\.arpa\. *\$" "$QS_OUT")
  ((${#lines[@]} == 1)) ||
    { cat "$QS_OUT" >&2; fail "run $n: expected one printed dig line, found ${#lines[@]}"; }
  line="$(sed 's/^ *//' <<<"${lines[0]}")"
  it_log "printed: $line"
  [[ "$line" == *"-p $DNS_PORT "* ]] || fail "run $n: the printed dig does not use DNS port $DNS_PORT: $line"
  set +e
  # shellcheck disable=SC2034  # out and rc are read by lib.sh's expect_*
  out="$(cd "$SOURCE_DIR" && timeout 30 bash -c "$line +time=3 +tries=2" 2>&1)"
  rc=$?
  set -e
  expect_ok "run $n: printed dig"
  expect_contains "status: NOERROR" "run $n: printed dig: NOERROR"
  expect_contains '"E2U+sip"' "run $n: printed dig: NAPTR service"
  expect_contains "@public.ssp2.example.com!" "run $n: printed dig: NAPTR regexp"
  grep -qE 'RRSIG[[:space:]]+NAPTR[[:space:]]+13[[:space:]]' <<<"$out" ||
    { echo "$out" >&2; fail "run $n: printed dig: no RRSIG NAPTR (algorithm 13)"; }
  pass "run $n: printed dig: RRSIG NAPTR"
  ds="$(grep -E '^e164\.arpa\.[[:space:]].*[[:space:]]DS[[:space:]]' "$QS_OUT" || true)"
  (($(grep -c . <<<"$ds") == 1)) || { cat "$QS_OUT" >&2; fail "run $n: expected one printed DS line"; }
  served="$(ds_from_dnskeys "$DNS_PORT" e164.arpa.)"
  [[ "$(ds_key_id "$ds")" == "$(ds_key_id "$served")" ]] ||
    fail "run $n: printed DS ($ds) does not match the served CSK ($served)"
  pass "run $n: printed DS matches the served CSK"
}

PORT="$(it_free_port)"
DNS_PORT="$(it_free_dns_port)"

run_quickstart 1
check_lookup 1
check_dig 1
first="$QS_PID"

run_quickstart 2
grep -qF "Stopping the previous lufd (pid $first)" "$QS_OUT" ||
  { cat "$QS_OUT" >&2; fail "run 2 did not stop the first lufd (pid $first)"; }
qs_wait_gone "$first" || fail "run 2: first lufd (pid $first) still running"
[[ "$QS_PID" != "$first" ]] || fail "run 2: lufd was not restarted (pid $first)"
pass "re-run restarted lufd (pid $first -> $QS_PID)"
check_lookup 2
check_dig 2

# The printed stop command, as printed, from the repository root.
stop="$(sed -n 's/^Stop it: *//p' "$QS_OUT")"
[[ "$stop" == "kill \$(cat $QRUN/lufd.pid)" ]] ||
  fail "unexpected printed stop command: '$stop' (want: kill \$(cat $QRUN/lufd.pid))"
qs_lufd "$QS_PID" || fail "lufd pid $QS_PID is gone before the stop command"
(cd "$SOURCE_DIR" && timeout 10 bash -c "$stop") || fail "printed stop command failed: $stop"
qs_wait_gone "$QS_PID" || fail "lufd pid $QS_PID still running 15 s after: $stop"
pass "printed stop command stopped lufd: $stop"

# A decoy: a process whose name is lufd but that is not this run
# directory's lufd, its pid in the pid file. Quickstart must leave it alone.
mkdir -p "$T/decoy"
ln -s "$(command -v sleep)" "$T/decoy/lufd"
"$T/decoy/lufd" 300 &
decoy=$!
_IT_PIDS+=("$decoy")  # ours: it_cleanup stops it
for ((i = 0; i < 50; i++)); do
  [[ "$(cat "/proc/$decoy/comm" 2>/dev/null)" == lufd ]] && break
  sleep 0.1
done
[[ "$(cat "/proc/$decoy/comm" 2>/dev/null)" == lufd ]] || fail "decoy did not start"
echo "$decoy" >"$RUN/lufd.pid"
run_quickstart 3
it_alive "$decoy" || fail "quickstart killed a process it did not start (decoy pid $decoy)"
grep -qF "pid $decoy in" "$QS_OUT" ||
  { cat "$QS_OUT" >&2; fail "run 3 did not report skipping the decoy pid $decoy"; }
pass "run 3 left the decoy lufd-named process (pid $decoy) alone"
check_lookup 3
check_dig 3

qs_stop "$QS_PID" || fail "lufd pid $QS_PID did not stop"
pass "lufd stopped"
it_done
