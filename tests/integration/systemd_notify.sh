#!/usr/bin/env bash
# lufd speaks systemd's notification protocol (server/ops/sd_notify.h) to a
# unix datagram socket this test owns, as systemd's own would be
# ($NOTIFY_SOCKET): READY=1 once serving, RELOADING=1 then READY=1 around a
# SIGHUP, STOPPING=1 on SIGTERM, in that order; and WATCHDOG=1 pings when
# $WATCHDOG_USEC is set.
IT_NAME="systemd_notify"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
command -v python3 >/dev/null || fail "python3 missing (tools/install-deps.sh)"

SOCK="$T/notify.sock"
MSGS="$T/notify.log"
# The receiver: one line per datagram (newlines inside shown as '|'),
# bounded to 60 s.
python3 - "$SOCK" "$MSGS" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.0)
end = time.time() + 60
with open(sys.argv[2], "a", buffering=1) as out:
    while time.time() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        out.write(data.decode().replace("\n", "|") + "\n")
PY
_IT_PIDS+=("$!")
for ((i = 0; i < 50; i++)); do
  [[ -S $SOCK ]] && break
  sleep 0.1
done
[[ -S $SOCK ]] || fail "receiver socket not created"
: >"$MSGS"

# wait_msg PATTERN COUNT: until COUNT lines match (bounded, 10 s).
wait_msg() {
  local i
  for ((i = 0; i < 100; i++)); do
    (($(grep -c "$1" "$MSGS" || true) >= $2)) && return 0
    sleep 0.1
  done
  echo "--- notifications:" >&2
  cat "$MSGS" >&2
  fail "no $2 x '$1' notification within 10 s"
}

store_url sqlite
# WatchdogSec=2s as systemd would pass it: pings every second.
NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=2000000 start_lufd "$url"
wait_msg '^READY=1' 1
grep -q "^READY=1|STATUS=serving on 127.0.0.1:$LUFD_PORT" "$MSGS" ||
  fail "READY=1 without the status line: $(cat "$MSGS")"
pass "READY=1 once serving"
wait_msg '^WATCHDOG=1$' 2
pass "WATCHDOG=1 pings"

kill -HUP "$LUFD_PID"
wait_msg '^RELOADING=1|MONOTONIC_USEC=[0-9]*$' 1
wait_msg '^READY=1$' 1
pass "RELOADING=1 then READY=1 around SIGHUP"

kill -TERM "$LUFD_PID"
wait_msg '^STOPPING=1$' 1
for ((i = 0; i < 100; i++)); do
  it_alive "$LUFD_PID" || break
  sleep 0.1
done
it_alive "$LUFD_PID" && fail "lufd did not exit on SIGTERM"
# The order: READY, (WATCHDOG...), RELOADING, READY, (WATCHDOG...), STOPPING.
order=$(grep -v '^WATCHDOG=1$' "$MSGS" | sed 's/|.*//' | tr '\n' ' ')
[[ "$order" == "READY=1 RELOADING=1 READY=1 STOPPING=1 " ]] ||
  fail "notifications out of order: $order"
pass "STOPPING=1 on SIGTERM; order $order"

it_done
