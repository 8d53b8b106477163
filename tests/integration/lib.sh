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
#     was run and its output on failure;
#   - DNS (bottom of this file): LUFD_CONFIG_TAIL + lufd_dns_yaml for a
#     dns: section, it_free_dns_port, enum_name, dns_dig/wait_dns,
#     start_unbound (a validating unbound we start, stub zone to lufd, the
#     zone's DS as trust anchor), expect_dns, provision_public_sample, and
#     key helpers over `lufctl key ...` (lufd_ds, lufd_keys) and dig
#     (ds_from_dnskeys, served_key_tags).
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
# LUFD_STORE_EXTRA: extra lines for the store: section, two-space indented
# ("  primary_url: \"postgresql://...\"").
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
${LUFD_STORE_EXTRA:-}
log:
  level: "info"
${LUFD_CONFIG_TAIL:-}
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

# it_need_tools TOOL...: skips the test (exit 77) unless every TOOL is on
# PATH, so a machine without the DNS clients reports SKIP, not a failure.
it_need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
  done
}

# --- DNS helpers (lufd's DNS front door, unbound, dig) ----------------------
# Optional extra top-level YAML appended by write_config (e.g. a dns:
# section from lufd_dns_yaml). Empty = the config is exactly as before.
LUFD_CONFIG_TAIL="${LUFD_CONFIG_TAIL:-}"

# it_free_dns_port: a 127.0.0.1 port free for both UDP and TCP just now (a
# DNS listener needs both). Same race caveat as it_free_port: callers retry
# a start that fails to bind.
it_free_dns_port() {
  local p
  p="$(timeout 10 python3 -c 'import socket
for _ in range(50):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break' 2>/dev/null)" || true
  [[ "$p" =~ ^[0-9]+$ ]] || fail "no free 127.0.0.1 UDP+TCP port found"
  echo "$p"
}

# enum_name E164 APEX: the ENUM domain of a number (RFC 6116 section 2.4),
# e.g. enum_name +12025556666 e164.arpa. -> 6.6.6.6.5.5.5.2.0.2.1.e164.arpa.
enum_name() {
  local d="${1#+}" apex="$2" out="" i
  for ((i = ${#d} - 1; i >= 0; i--)); do out+="${d:i:1}."; done
  echo "$out$apex"
}

# lufd_dns_yaml PORT ZONE KEYDIR [ALG [SCHEME [DNSSEC-YAML]]]: a dns: section
# for LUFD_CONFIG_TAIL: UDP+TCP on 127.0.0.1:PORT, one zone, online DNSSEC
# with keys generated at start into KEYDIR. DNSSEC-YAML: extra lines for
# the dnssec: block, indented by four spaces ("    zsk_lifetime: \"20s\"").
# LUFD_DNS_ZONE_YAML: extra lines for the zone entry (six spaces).
lufd_dns_yaml() {
  local port="$1" zone="$2" keydir="$3" alg="${4:-13}" scheme="${5:-csk}"
  local extra="${6:-}"
  cat <<EOT
dns:
  listen:
    - "127.0.0.1:$port"
  workers: 1
  zones:
    - name: "$zone"
      ttl: ${LUFD_DNS_ZONE_TTL:-3600}
      soa_minimum: ${LUFD_DNS_SOA_MINIMUM:-300}
${LUFD_DNS_ZONE_YAML:-}
  dnssec:
    enabled: true
    key_dir: "$keydir"
    algorithm: $alg
    scheme: "$scheme"
    auto_generate: true
$extra
EOT
}

# dns_dig SERVER-PORT ARGS...: dig at 127.0.0.1:PORT, bounded (3 s per try,
# 2 tries), never failing the script; output in $dout, exit in $drc.
dns_dig() {
  local port="$1"
  shift
  set +e
  dout="$(timeout 20 dig @127.0.0.1 -p "$port" +time=3 +tries=2 "$@" 2>&1)"
  drc=$?
  set -e
}

# dig_status / dig_flags: the rcode ("NOERROR") and header flags ("qr rd ra
# ad") of the last dns_dig.
dig_status() { sed -n 's/.*status: \([A-Z0-9]*\),.*/\1/p' <<<"$dout" | head -n 1; }
dig_flags() { sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' <<<"$dout" | head -n 1; }
# dig_answer_count: ANSWER count of the last dns_dig.
dig_answer_count() { sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p' <<<"$dout" | head -n 1; }

# wait_dns PORT NAME TYPE [SECONDS]: waits (default 30 s) until 127.0.0.1:PORT
# answers a query for NAME/TYPE with any rcode but SERVFAIL/REFUSED
# (i.e. it is up and serving the zone). Returns 1 on timeout.
wait_dns() {
  local port="$1" name="$2" type="$3" secs="${4:-30}" t0=$SECONDS s
  while ((SECONDS - t0 < secs)); do
    set +e
    dout="$(timeout 5 dig @127.0.0.1 -p "$port" +time=1 +tries=1 "$name" "$type" 2>&1)"
    set -e
    s="$(dig_status)"
    [[ -n "$s" && "$s" != SERVFAIL && "$s" != REFUSED ]] && return 0
    sleep 0.2
  done
  return 1
}

# start_unbound NAME ZONE AUTH_PORT ANCHOR... : a validating unbound (Debian's,
# a process we start: -d -c $T/unbound-NAME.conf, log $T/unbound-NAME.log) on
# a free 127.0.0.1 port, with ZONE stubbed to 127.0.0.1@AUTH_PORT and each
# ANCHOR (a DS or DNSKEY zone-file line) as a trust anchor for it. Nothing
# else is resolvable (no root hints are ever used: only the stub is asked).
# UNBOUND_EXTRA: extra server: lines (two-space indent). Sets
# UNBOUND_PORT and UNBOUND_PID (also in _IT_PIDS, stopped on exit).
# Waits until it answers (30 s), retrying a start that lost its port.
start_unbound() {
  local name="$1" zone="$2" auth_port="$3" conf attempt i a
  shift 3
  conf="$T/unbound-$name.conf"
  for ((attempt = 1; attempt <= 3; attempt++)); do
    UNBOUND_PORT="$(it_free_dns_port)"
    {
      cat <<EOT
server:
  interface: 127.0.0.1
  port: $UNBOUND_PORT
  do-ip6: no
  username: ""
  chroot: ""
  directory: "$T"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  log-servfail: yes
  num-threads: 1
  outgoing-range: 64
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  prefetch: no
  prefetch-key: no
  val-permissive-mode: no
$(for a in "$@"; do printf '  trust-anchor: "%s"\n' "$a"; done)
${UNBOUND_EXTRA:-}
stub-zone:
  name: "$zone"
  stub-addr: 127.0.0.1@$auth_port
remote-control:
  control-enable: no
EOT
    } >"$conf"
    echo "=== start $(date +%T.%N) port $UNBOUND_PORT" >>"$T/unbound-$name.log"
    unbound -d -c "$conf" >>"$T/unbound-$name.log" 2>&1 &
    UNBOUND_PID=$!
    _IT_PIDS+=("$UNBOUND_PID")
    for ((i = 0; i < 300; i++)); do  # 30 s
      it_alive "$UNBOUND_PID" || break
      # localhost is one of unbound's built-in local zones: answered at once.
      if timeout 5 dig @127.0.0.1 -p "$UNBOUND_PORT" +time=1 +tries=1 \
        localhost. A 2>/dev/null | grep -q 'status: NOERROR'; then
        it_log "unbound '$name' pid $UNBOUND_PID on 127.0.0.1:$UNBOUND_PORT (stub $zone -> :$auth_port)"
        return 0
      fi
      sleep 0.1
    done
    _it_stop_pid "$UNBOUND_PID"
    it_log "unbound '$name' did not come up on port $UNBOUND_PORT (attempt $attempt)"
    tail -n 20 "$T/unbound-$name.log" >&2
  done
  fail "unbound '$name' did not start"
}

# expect_dns PORT DESC RCODE AD NAME TYPE [DIG-ARGS...]: asks 127.0.0.1:PORT
# (an unbound from start_unbound, usually) with +dnssec and checks the rcode
# and whether the AD flag is set (AD = yes|no|any). Prints the answer on
# failure.
expect_dns() {
  local port="$1" desc="$2" want="$3" ad="$4" name="$5" type="$6" got flags
  shift 6
  dns_dig "$port" +dnssec "$name" "$type" "$@"
  got="$(dig_status)"
  if [[ "$got" == SERVFAIL && "$want" != SERVFAIL ]]; then
    # One retry: on a loaded machine a resolver may give up on a slow
    # upstream. Validation failures are not excused by this: tests grep
    # the resolver's log for them at the end.
    it_log "$desc: SERVFAIL; asking once more"
    sleep 1
    dns_dig "$port" +dnssec "$name" "$type" "$@"
    got="$(dig_status)"
  fi
  flags=" $(dig_flags) "
  if [[ "$got" != "$want" ]]; then
    echo "$dout" >&2
    fail "$desc: rcode ${got:-none (dig exit $drc)}, want $want"
  fi
  case "$ad" in
    yes) [[ "$flags" == *" ad "* ]] || { echo "$dout" >&2; fail "$desc: AD flag not set (not secure)"; } ;;
    no) [[ "$flags" != *" ad "* ]] || { echo "$dout" >&2; fail "$desc: AD flag set"; } ;;
  esac
  pass "$desc ($got, flags:$flags)"
}

# store_url BACKEND: sets url to a fresh store of BACKEND (sqlite: a file in
# $T; postgres: a private cluster, pg_start_cluster); fails on anything else.
store_url() {
  case "$1" in
    sqlite) url="sqlite:$T/registry.db" ;;
    postgres) pg_start_cluster; url="$PG_URL" ;;
    *) fail "unknown backend $1" ;;
  esac
}

# provision_rfc7878 [STAGE]: tools/rfc7878-scenario.sh (all stages, or only
# STAGE) against the running lufd; its output is appended to
# $T/provision.log, shown when it fails.
provision_rfc7878() {
  "$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
    --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" ${1:+--stage "$1"} \
    >>"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "provisioning failed${1:+ ($1)}"; }
}

# provision_public_sample: the RFC 7878 example (tools/rfc7878-scenario.sh,
# provision stage) plus what anonymous DNS may see: SED group sg-public
# (public, in service) on dg-ssp2 with the same NAPTR, so TN +12025556666,
# the range +12026660000..+12026669999 and the prefix +1202777 are answered
# to anyone; and TN +120255566667 below +12025556666 (so that +1202555666,
# between them and the apex, is an empty non-terminal). Needs a running
# lufd (start_lufd).
provision_public_sample() {
  provision_rfc7878 provision
  run_ctl registrar-ssp2 sedgroup add sg-public --registrant iana-en:222 \
    --dg dg-ssp2 --record rec-ssp2-sip --public --in-service
  expect_ok "public SED group sg-public"
  run_ctl registrar-ssp2 number add +120255566667 --registrant iana-en:222 \
    --dg dg-ssp2
  expect_ok "TN +120255566667 below +12025556666"
}

# lufd_ds ZONE: prints the DS lines `lufctl key ds` gives for ZONE (one per
# KSK/CSK), failing the test when there are none.
lufd_ds() {
  run_ctl admin key ds --zone "$1"
  expect_ok "lufctl key ds --zone $1"
  local ds
  ds="$(grep -E "^[^;]*[[:space:]]DS[[:space:]]+[0-9]+[[:space:]]" <<<"$out" || true)"
  [[ -n "$ds" ]] || { echo "$out" >&2; fail "lufctl key ds printed no DS line for $1"; }
  echo "$ds"
}

# ds_from_dnskeys PORT ZONE: DS (SHA-256) lines computed by ldns-key2ds from
# the SEP (flags 257) DNSKEYs that 127.0.0.1:PORT serves for ZONE, sorted.
ds_from_dnskeys() {
  local port="$1" zone="$2" f k
  dns_dig "$port" +norec +dnssec "$zone" DNSKEY
  f="$T/dnskeys.$$"
  grep -E "^[^;]+[[:space:]]DNSKEY[[:space:]]+257[[:space:]]" <<<"$dout" >"$f" || true
  [[ -s "$f" ]] || { echo "$dout" >&2; fail "no SEP DNSKEY served for $zone"; }
  while read -r k; do
    echo "$k" >"$f.1"
    ldns-key2ds -n -2 "$f.1"
  done <"$f"
  rm -f "$f" "$f.1"
}

# ds_key_id DS-LINE: "tag alg digest" (lowercase digest), for comparing DS
# lines from different tools (TTL, case and spacing differ).
ds_key_id() {
  awk '{for (i = 1; i <= NF; i++) if ($i == "DS") {
          d = ""; for (j = i + 4; j <= NF; j++) d = d $j
          print $(i + 1), $(i + 2), $(i + 3), tolower(d); exit }}' <<<"$1"
}

# corrupt_ds DS-LINE: the same DS with the last digest digit changed, an
# anchor that matches no key (for the validation-is-on check).
corrupt_ds() {
  local ds="$1" last="${1: -1}"
  if [[ "$last" == 0 ]]; then echo "${ds%?}1"; else echo "${ds%?}0"; fi
}

# lufd_keys ZONE: the zone's DNSSEC keys from `lufctl --output json key list
# --zone ZONE`, one "ROLE STATE TAG DS_PENDING" line each (e.g. "ZSK ACTIVE
# 12345 false").
lufd_keys() {
  run_ctl admin --output json key list --zone "$1"
  expect_ok "lufctl key list --zone $1"
  jq -r '.[] | (.dnsKey // .) |
    "\((.role // "") | sub("DNS_KEY_ROLE_"; "")) \((.state // "") | sub("DNS_KEY_STATE_"; "")) \(.keyTag // 0) \(.dsPending // false)"' \
    <<<"$out" || { echo "$out" >&2; fail "lufctl key list: not the expected JSON"; }
}

# served_key_tags PORT ZONE ROLE: the key tags of the DNSKEYs that
# 127.0.0.1:PORT serves for ZONE with ROLE KSK (flags 257) or ZSK (256),
# sorted, space-separated (dig +multiline names them "; KSK; ... key id = N").
served_key_tags() {
  dns_dig "$1" +norec +multiline "$2" DNSKEY
  sed -n "s/.*; $3; .*key id = \\([0-9]*\\).*/\\1/p" <<<"$dout" | sort -n | tr '\n' ' ' |
    sed 's/ $//'
}

# lufd_dot_yaml DNS_PORT DOT_PORT KEYDIR ZONE...: a dns: section for
# LUFD_CONFIG_TAIL: UDP+TCP on 127.0.0.1:DNS_PORT, DoT on 127.0.0.1:DOT_PORT
# with the dev PKI (client certificate optional, CRL), online DNSSEC with
# keys in KEYDIR, and one zone per ZONE ("priv.enum.:private" for a private
# zone).
# (LUFD_DNSSEC_YAML: extra lines for its dnssec: block, four spaces.)
lufd_dot_yaml() {
  local port="$1" dot_port="$2" keydir="$3" z
  shift 3
  cat <<YAML
dns:
  listen:
    - "127.0.0.1:$port"
  workers: 1
  dot:
    listen: "127.0.0.1:$dot_port"
    client_cert: "optional"
    tls:
      cert_file: "$PKI/server.pem"
      key_file: "$PKI/server.key"
      client_ca_file: "$PKI/ca.pem"
      crl_file: "$PKI/crl.pem"
  zones:
YAML
  for z in "$@"; do
    echo "    - name: \"${z%:private}\""
    [[ "$z" == *:private ]] && echo "      private: true"
  done
  cat <<YAML
  dnssec:
    key_dir: "$keydir"
${LUFD_DNSSEC_YAML:-}
YAML
}

# kdig_tls PORT ARGS...: kdig over TLS to lufd's DoT port on 127.0.0.1,
# trusting the dev CA; $dout, $drc.
kdig_tls() {
  local port="$1"
  shift
  set +e
  dout="$(timeout 20 kdig @127.0.0.1 -p "$port" +tls +tls-ca="$PKI/ca.pem" \
    +tls-hostname=localhost +norec +time=3 +retry=0 "$@" 2>&1)"
  drc=$?
  set -e
}

# add_tsig_peers: after provision_rfc7878, TSIG credentials cred-tsig-ssp1
# (key ssp1-key., SSP1 iana-en:111) and cred-tsig-ssp3 (key ssp3-key., SSP3
# iana-en:333), role peer, with fresh random secrets in $SECRET1, $SECRET3.
add_tsig_peers() {
  SECRET1="$(head -c 32 /dev/urandom | base64 -w0)"
  SECRET3="$(head -c 32 /dev/urandom | base64 -w0)"
  run_ctl admin credential add cred-tsig-ssp1 --org iana-en:111 --role peer \
    --tsig-name ssp1-key. --tsig-secret "$SECRET1"
  expect_ok "TSIG credential for SSP1"
  run_ctl admin credential add cred-tsig-ssp3 --org iana-en:333 --role peer \
    --tsig-name ssp3-key. --tsig-secret "$SECRET3"
  expect_ok "TSIG credential for SSP3"
}

# write_knot_secondary_conf KNOT_PORT LUFD_DNS_PORT ZONE SECRET [ZONE_LINES]:
# $T/knot/knot.conf for a Knot secondary on 127.0.0.1:KNOT_PORT that takes
# ZONE from lufd on 127.0.0.1:LUFD_DNS_PORT by zone transfer with the TSIG
# key xfr-key. (hmac-sha256, SECRET) and accepts lufd's NOTIFY signed with
# it. ZONE_LINES (indented four spaces) are added to the zone entry, e.g.
# "    dnssec-signing: on". Log in $T/knot/knot.log.
write_knot_secondary_conf() {
  local knot_port="$1" dns_port="$2" zone="$3" secret="$4" zone_lines="${5:-}"
  mkdir -p "$T/knot/db"
  cat >"$T/knot/knot.conf" <<EOF
server:
  listen: 127.0.0.1@$knot_port
  rundir: "$T/knot"
log:
  - target: "$T/knot/knot.log"
    any: info
database:
  storage: "$T/knot/db"
key:
  - id: xfr-key.
    algorithm: hmac-sha256
    secret: $secret
remote:
  - id: lufd
    address: 127.0.0.1@$dns_port
    key: xfr-key.
acl:
  - id: notify-from-lufd
    address: 127.0.0.1
    key: xfr-key.
    action: notify
template:
  - id: default
    storage: "$T/knot"
    zonefile-load: none
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: $zone
    master: lufd
    acl: notify-from-lufd
${zone_lines}
EOF
}
