# shellcheck shell=bash
# lib.sh: shared harness for lufd's bash integration tests (real processes).
#
# Source it from a test script, then call it_init. It gives each test:
#   - a private temp dir $T (removed on exit; LUFD_IT_KEEP=1 keeps it), with
#     a fresh dev PKI in $PKI (tools/dev-pki.sh);
#   - cleanup on exit that stops only the processes this test started (by
#     PID) and the PostgreSQL cluster it started, if any;
#   - start_lufd STORE_URL [GRPC-YAML]: lufd on a kernel-chosen 127.0.0.1
#     port, waited for until `lufctl health` answers; $LUFD_PORT, $LUFD_PID;
#   - it_free_port: a currently free 127.0.0.1 port, for fixed-port programs;
#   - ctl WHO ARGS...: lufctl with WHO's certificate from $PKI ("none" = no
#     client certificate); out/rc captured by run_ctl;
#   - pg_start_cluster: starts a private PostgreSQL cluster (tests/support/
#     pg-harness.sh) and sets $PG_URL;
#   - small assertions (expect_rc0, expect_fail_with, ...) that print what
#     was run and its output on failure.
#
# Environment (set by tests/integration/CMakeLists.txt): LUFD_BIN,
# LUFCTL_BIN, SOURCE_DIR. A test exits 77 (ctest SKIP) only when a binary is
# missing. All waits are bounded; only 127.0.0.1 is used.
# Not thread-safe by design: one test script = one process tree.

set -euo pipefail

_IT_PIDS=()
_IT_PG_DIRS=()
IT_NAME="${IT_NAME:-$(basename "$0" .sh)}"

it_log() { echo "[$IT_NAME $(date +%H:%M:%S)] $*" >&2; }

it_cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${_IT_PIDS[@]}"; do
    _it_stop_pid "$pid"
  done
  local d
  for d in "${_IT_PG_DIRS[@]}"; do
    pg_stop "$d" >/dev/null 2>&1
  done
  if ((rc != 0)) && [[ -n "${T:-}" ]]; then
    # Show the server log of a failed test: it is usually the explanation.
    local f
    for f in "$T"/lufd*.log; do
      [[ -f "$f" ]] || continue
      echo "----- tail of $f -----" >&2
      tail -n 40 "$f" >&2
    done
  fi
  if [[ -n "${T:-}" && "${LUFD_IT_KEEP:-0}" != 1 ]]; then
    rm -rf "$T"
  elif [[ -n "${T:-}" ]]; then
    it_log "keeping $T"
  fi
  exit "$rc"
}

# it_alive PID: the process exists and has not exited. (kill -0 is not
# enough: an exited child stays a zombie, which kill -0 still reports, until
# it is waited for.)
it_alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# Sends TERM, waits up to 10 s, then KILL. Only for PIDs we started.
_it_stop_pid() {
  local pid="$1" i
  if ! it_alive "$pid"; then
    wait "$pid" 2>/dev/null
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    it_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  it_log "pid $pid ignored TERM for 10 s; killing"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

it_init() {
  : "${SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
  local b
  for b in LUFD_BIN LUFCTL_BIN; do
    if [[ -z "${!b:-}" || ! -x "${!b}" ]]; then
      echo "SKIP: $b not built (${!b:-unset})" >&2
      exit 77
    fi
  done
  T="$(mktemp -d "${TMPDIR:-/tmp}/lufd-it-$IT_NAME.XXXXXX")"
  chmod 755 "$T"  # the postgres user must reach its cluster dir below $T
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  PKI="$T/pki"
  "$SOURCE_DIR/tools/dev-pki.sh" --quiet "$PKI"
  it_log "temp dir $T"
}

# write_config FILE STORE_URL PORT [GRPC-YAML]: GRPC-YAML is extra lines for
# the grpc: section, indented by two spaces ("  max_message_bytes: 65536").
write_config() {
  local file="$1" url="$2" port="$3" extra="${4:-}" crl=""
  # LUFD_CRL_FILE (optional): a CRL for the client CA, enforced fail-closed.
  if [[ -n "${LUFD_CRL_FILE:-}" ]]; then
    crl="    crl_file: \"$LUFD_CRL_FILE\""
  fi
  cat >"$file" <<EOF
grpc:
  listen: "127.0.0.1:$port"
$extra
  tls:
    cert_file: "$PKI/server.pem"
    key_file: "$PKI/server.key"
    client_ca_file: "$PKI/ca.pem"
$crl
store:
  url: "$url"
  migrate_on_start: true
log:
  level: "info"
EOF
}

# ctl WHO ARGS...: lufctl against the running lufd as WHO (a cert name in
# $PKI, or "none" for no client certificate).
ctl() {
  local who="$1"
  shift
  local -a auth=(--ca "$PKI/ca.pem")
  if [[ "$who" != none ]]; then
    auth+=(--cert "$PKI/$who.pem" --key "$PKI/$who.key")
  fi
  timeout 60 "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" "${auth[@]}" "$@"
}

# run_ctl WHO ARGS...: like ctl but never fails; sets $out (stdout+stderr)
# and $rc.
run_ctl() {
  set +e
  out="$(ctl "$@" 2>&1)"
  rc=$?
  set -e
}

# Local (no server) database commands.
db_migrate() { timeout 120 "$LUFCTL_BIN" db migrate --store "$1"; }
db_bootstrap_admin() {
  timeout 60 "$LUFCTL_BIN" db bootstrap --store "$1" --org iana-en:0 \
    --name "Registry Admin" --cert-file "$PKI/admin.pem"
}

# start_lufd STORE_URL [GRPC-YAML]: starts lufd (log $T/lufd.log,
# appended across restarts) on 127.0.0.1 port 0 (the kernel picks a free
# port; lufd reports it with --port-file, so there is no port race) and waits
# until it answers health as admin. Migrates the store and bootstraps the
# admin credential first, once per test, unless BOOTSTRAP=0.
start_lufd() {
  local url="$1" extra="${2:-}" i
  LUFD_URL="$url"
  if [[ "${BOOTSTRAP:-1}" != 0 && -z "${_IT_BOOTSTRAPPED:-}" ]]; then
    db_migrate "$url" >>"$T/lufctl-db.log" 2>&1 || {
      cat "$T/lufctl-db.log" >&2; fail "lufctl db migrate failed"; }
    db_bootstrap_admin "$url" >>"$T/lufctl-db.log" 2>&1 || {
      cat "$T/lufctl-db.log" >&2; fail "lufctl db bootstrap failed"; }
    _IT_BOOTSTRAPPED=1
  fi
  write_config "$T/lufd.yaml" "$url" 0 "$extra"
  rm -f "$T/lufd.port"
  echo "=== start $(date +%T.%N)" >>"$T/lufd.log"
  "$LUFD_BIN" --config "$T/lufd.yaml" --port-file "$T/lufd.port" \
    >>"$T/lufd.log" 2>&1 &
  LUFD_PID=$!
  _IT_PIDS+=("$LUFD_PID")
  LUFD_PORT=""
  for ((i = 0; i < 300; i++)); do  # 30 s
    if ! it_alive "$LUFD_PID"; then
      wait "$LUFD_PID" 2>/dev/null || true
      tail -n 30 "$T/lufd.log" >&2
      fail "lufd exited during start-up"
    fi
    if [[ -z "$LUFD_PORT" && -s "$T/lufd.port" ]]; then
      LUFD_PORT="$(tr -dc 0-9 <"$T/lufd.port")"
    fi
    if [[ -n "$LUFD_PORT" ]] && ctl admin health >/dev/null 2>&1; then
      it_log "lufd pid $LUFD_PID up on 127.0.0.1:$LUFD_PORT ($url)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$T/lufd.log" >&2
  fail "lufd did not become healthy within 30 s"
}

stop_lufd() { _it_stop_pid "$LUFD_PID"; }

# it_free_port: prints a 127.0.0.1 TCP port that was free just now (the
# kernel picks it for a socket bound to port 0, which is then closed). For
# programs that take a fixed port; lufd itself should get port 0 and
# --port-file (start_lufd), which has no race.
it_free_port() {
  local p
  if p="$(timeout 10 python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null)" && [[ "$p" =~ ^[0-9]+$ ]]; then
    echo "$p"
    return 0
  fi
  local i
  for ((i = 0; i < 50; i++)); do  # no python3: probe random ports with ss
    p=$((20000 + RANDOM % 30000))
    if [[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]; then
      echo "$p"
      return 0
    fi
  done
  fail "no free 127.0.0.1 port found"
}

kill9_lufd() {
  kill -KILL "$LUFD_PID" 2>/dev/null || true
  wait "$LUFD_PID" 2>/dev/null || true
}

# pg_start_cluster: a private PostgreSQL cluster under $T/pg, stopped and
# removed on exit; sets $PG_URL. Call it directly, not in $(...): the cleanup
# list must be updated in this shell.
pg_start_cluster() {
  local harness="$SOURCE_DIR/tests/support/pg-harness.sh"
  [[ -f "$harness" ]] || fail "tests/support/pg-harness.sh is missing"
  # shellcheck source=/dev/null
  source "$harness"
  _IT_PG_DIRS+=("$T/pg")
  PG_URL="$(pg_start "$T/pg")" || fail "could not start PostgreSQL (see above)"
  it_log "PostgreSQL at $PG_URL"
}

# --- assertions --------------------------------------------------------------

fail() {
  echo "FAIL [$IT_NAME]: $*" >&2
  exit 1
}

pass() { it_log "ok: $*"; }

# expect_ok DESC: the last run_ctl succeeded.
expect_ok() {
  ((rc == 0)) || { echo "$out" >&2; fail "$1 (exit $rc)"; }
  pass "$1"
}

# expect_fail_with CODE_REGEX DESC: the last run_ctl failed with output
# matching CODE_REGEX (e.g. PERMISSION_DENIED).
expect_fail_with() {
  local re="$1" desc="$2"
  if ((rc == 0)); then
    echo "$out" >&2
    fail "$desc: expected failure matching /$re/, but it succeeded"
  fi
  if ! grep -qE "$re" <<<"$out"; then
    echo "$out" >&2
    fail "$desc: failed (exit $rc) but output does not match /$re/"
  fi
  pass "$desc"
}

# expect_contains FIXED-STRING DESC: the last run_ctl output contains it.
expect_contains() {
  grep -qF -- "$1" <<<"$out" || { echo "$out" >&2; fail "$2: output lacks '$1'"; }
  pass "$2"
}

it_done() { it_log "PASS"; }
