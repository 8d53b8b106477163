#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 checkout to a running lufd with the
# RFC 7878 section 10 example registry, in one command.
#
#   1. installs the build dependencies (tools/install-deps.sh; needs root or
#      sudo, and is a no-op when everything is installed);
#   2. builds lufd and lufctl in ./build (Release, Ninja, ccache);
#   3. creates a development PKI in ./run/pki (tools/dev-pki.sh);
#   4. writes ./run/lufd.yaml (SQLite registry ./run/registry.db, gRPC on
#      127.0.0.1:50051 with mTLS, the DNS front door for e164.arpa. on
#      127.0.0.1:8053 UDP+TCP with online DNSSEC: a CSK, ECDSA P-256,
#      generated at first start into ./run/keys), migrates the database and
#      registers run/pki/admin.pem as the registry admin;
#   5. starts lufd in the background (pid in run/lufd.pid, log run/lufd.log)
#      and waits until it is healthy and answers DNS;
#   6. provisions the example (tools/rfc7878-scenario.sh) over mTLS, plus
#      one number that anonymous DNS may see (+12025550100, in a public SED
#      group);
#   7. prints how to query it (one copy-pasteable lufctl line, run from the
#      repository root; one dig line for DNS with DNSSEC; the zone's DS for
#      a validating resolver) and how to stop it, with the actual paths.
#
# Re-running is safe: the PKI and the database are reused, the example is
# re-provisioned (upserts), and lufd is restarted. Only the lufd this script
# started for the same run directory is stopped: the pid in run/lufd.pid
# must still be a lufd whose command line is `--config run/lufd.yaml`.
# Environment: LUFD_PORT (default 50051), LUFD_DNS_PORT (default 8053; when
# that port is taken and LUFD_DNS_PORT is unset, a free one is picked and
# printed), JOBS (build parallelism, default:
# number of CPUs), LUFD_SKIP_DEPS=1 to skip step 1, LUFD_BUILD_DIR (default
# ./build; an already configured directory keeps its build type),
# LUFD_RUN_DIR (default ./run: PKI, config, database, pid file and log).
# Relative directories are relative to the repository root.
# tests/integration/quickstart.sh (ctest integration.quickstart) runs it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
port="${LUFD_PORT:-50051}"
jobs="${JOBS:-$(nproc)}"
run="${LUFD_RUN_DIR:-run}"
[[ "$run" == /* ]] || run="$root/$run"
while [[ "$run" == ?*/ ]]; do run="${run%/}"; done
pki="$run/pki"

step() { printf '\n==> %s\n' "$*"; }
die() { echo "quickstart: $*" >&2; exit 1; }
# rel PATH: PATH relative to the repository root when it is below it (the
# printed commands are run from there), else absolute; shell-quoted.
rel() {
  local p="$1"
  [[ "$p" == "$root"/* ]] && p="${p#"$root"/}"
  printf '%q' "$p"
}

if [[ "${LUFD_SKIP_DEPS:-0}" != 1 ]]; then
  step "Installing dependencies (tools/install-deps.sh)"
  tools/install-deps.sh
fi

build="${LUFD_BUILD_DIR:-build}"
step "Building lufd and lufctl in $build"
build_type=()
[[ -f "$build/CMakeCache.txt" ]] || build_type=(-DCMAKE_BUILD_TYPE=Release)
cmake -S . -B "$build" -G Ninja "${build_type[@]}" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
ninja -C "$build" -j"$jobs" lufd lufctl
find_bin() {
  local f
  f="$(find "$build" -type f -name "$1" -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)"
  [[ -n "$f" ]] || die "built $1 not found under $build"
  [[ "$f" == /* ]] || f="$root/$f"
  echo "$f"
}
LUFD="$(find_bin lufd)"
LUFCTL="$(find_bin lufctl)"

step "Development PKI in $(rel "$pki")"
mkdir -p "$run"
tools/dev-pki.sh --quiet "$pki"
echo "CA, server and client certificates in $pki (see tools/dev-pki.sh)"

# our_lufd PID: PID is a lufd this script started for this run directory
# (its command line has `--config $run/lufd.yaml`), not a reused pid.
our_lufd() {
  local pid="$1" i
  local -a argv=()
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == lufd ]] || return 1
  mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
  for ((i = 1; i + 1 < ${#argv[@]}; i++)); do
    [[ "${argv[i]}" == --config && "${argv[i + 1]}" == "$run/lufd.yaml" ]] &&
      return 0
  done
  return 1
}

# Stop a lufd this script started earlier (by its pid file only, and only if
# that pid is still that lufd).
if [[ -f "$run/lufd.pid" ]]; then
  old="$(tr -dc 0-9 <"$run/lufd.pid")"
  if [[ -n "$old" ]] && kill -0 "$old" 2>/dev/null && ! our_lufd "$old"; then
    echo "pid $old in $(rel "$run/lufd.pid") is not this run directory's lufd; not stopping it"
  elif [[ -n "$old" ]] && kill -0 "$old" 2>/dev/null; then
    step "Stopping the previous lufd (pid $old)"
    kill "$old"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$old" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$old" 2>/dev/null && die "lufd pid $old did not stop within 10 s"
  fi
  rm -f "$run/lufd.pid"
fi
if [[ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]; then
  die "port $port is in use by another process; set LUFD_PORT=<free port>"
fi
# dns_port_busy PORT: something listens on PORT (UDP or TCP).
dns_port_busy() { [[ -n "$(ss -Htuln "sport = :$1" 2>/dev/null)" ]]; }
dns_port="${LUFD_DNS_PORT:-8053}"
if dns_port_busy "$dns_port"; then
  [[ -z "${LUFD_DNS_PORT:-}" ]] ||
    die "DNS port $dns_port is in use by another process; set LUFD_DNS_PORT=<free port>"
  for ((i = 0; i < 50; i++)); do
    dns_port=$((20000 + RANDOM % 30000))
    dns_port_busy "$dns_port" || break
  done
  dns_port_busy "$dns_port" && die "no free DNS port found; set LUFD_DNS_PORT=<free port>"
  echo "DNS port 8053 is taken; using $dns_port (set LUFD_DNS_PORT to choose)"
fi
zone="e164.arpa."
mkdir -p "$run/keys"
chmod 700 "$run/keys"

step "Configuration $(rel "$run/lufd.yaml")"
store="sqlite:$run/registry.db"
cat >"$run/lufd.yaml" <<EOF
# Written by tools/quickstart.sh. Reference: README.md "Configuration".
grpc:
  listen: "127.0.0.1:$port"
  tls:
    cert_file: "$pki/server.pem"
    key_file: "$pki/server.key"
    client_ca_file: "$pki/ca.pem"
    crl_file: "$pki/crl.pem"
store:
  url: "$store"
  migrate_on_start: true
log:
  level: "info"
# The DNS front door (README.md "DNS"): anonymous queries see the public SED
# groups; the CSK is generated into keys/ at the first start.
dns:
  listen:
    - "127.0.0.1:$dns_port"
  zones:
    - name: "$zone"
  dnssec:
    key_dir: "$run/keys"
    algorithm: 13
    scheme: "csk"
EOF
cat "$run/lufd.yaml"

step "Database: migrate and register the admin certificate"
"$LUFCTL" db migrate --store "$store"
if ! out="$("$LUFCTL" db bootstrap --store "$store" --org iana-en:0 \
  --name "Registry Admin" --cert-file "$pki/admin.pem" 2>&1)"; then
  # A re-run finds the admin already registered; anything else is an error.
  grep -qiE 'already|exists' <<<"$out" || { echo "$out" >&2; die "bootstrap failed"; }
  echo "admin already bootstrapped"
else
  echo "$out"
fi

step "Starting lufd on 127.0.0.1:$port"
nohup "$LUFD" --config "$run/lufd.yaml" >>"$run/lufd.log" 2>&1 &
echo $! >"$run/lufd.pid"
pid="$(cat "$run/lufd.pid")"
ctl() {
  "$LUFCTL" --server "127.0.0.1:$port" --ca "$pki/ca.pem" \
    --cert "$pki/$1.pem" --key "$pki/$1.key" "${@:2}"
}
healthy=0
for ((i = 0; i < 300; i++)); do  # 30 s
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)"
  if [[ "$state" == Z || "$state" == X ]]; then  # exited (zombie) or gone
    tail -n 30 "$run/lufd.log" >&2
    die "lufd exited; see $(rel "$run/lufd.log")"
  fi
  if ctl admin health >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 0.1
done
((healthy)) || { tail -n 30 "$run/lufd.log" >&2; die "lufd not healthy after 30 s; see $(rel "$run/lufd.log")"; }
dns_up=0
for ((i = 0; i < 150; i++)); do  # 30 s
  if timeout 5 dig @127.0.0.1 -p "$dns_port" +time=1 +tries=1 "$zone" SOA 2>/dev/null |
    grep -q 'status: NOERROR'; then
    dns_up=1
    break
  fi
  sleep 0.2
done
((dns_up)) || { tail -n 30 "$run/lufd.log" >&2; die "lufd does not answer DNS on 127.0.0.1:$dns_port after 30 s; see $(rel "$run/lufd.log")"; }
echo "lufd pid $pid is serving (gRPC 127.0.0.1:$port, DNS 127.0.0.1:$dns_port)"

step "Provisioning the RFC 7878 section 10 example"
tools/rfc7878-scenario.sh --lufctl "$LUFCTL" --server "127.0.0.1:$port" --pki "$pki"

step "Provisioning a number anonymous DNS may see (+12025550100, public SED group)"
# Its own destination group, so the RFC 7878 example above keeps its
# semantics (SSP3 sees none of it); upserts, so re-runs are safe.
ctl registrar-ssp2 dg add dg-ssp2-public --registrant iana-en:222
ctl registrar-ssp2 number add +12025550100 --registrant iana-en:222 \
  --dg dg-ssp2-public
ctl registrar-ssp2 record add rec-ssp2-public --registrant iana-en:222 \
  --ttl 3600 --naptr '10 100 "u" "E2U+sip" "!^(.*)$!sip:\1@public.ssp2.example.com!" ""'
ctl registrar-ssp2 sedgroup add sg-ssp2-public --registrant iana-en:222 \
  --dg dg-ssp2-public --record rec-ssp2-public --public --in-service
ctl admin info || true
if ! ds="$(ctl admin key ds --zone "$zone" 2>&1)"; then
  echo "$ds" >&2
  die "lufctl key ds failed"
fi

p="$(rel "$pki")"
cat <<EOF

==> Ready. lufd (pid $pid) serves the example registry on 127.0.0.1:$port.

Look up a number as peer SSP1 (mTLS with its certificate), from the
repository root:

  $(rel "$LUFCTL") --server 127.0.0.1:$port --ca $p/ca.pem --cert $p/peer-ssp1.pem --key $p/peer-ssp1.key lookup +12025556666

(or set LUFCTL_SERVER, LUFCTL_CA, LUFCTL_CERT and LUFCTL_KEY instead of the
flags; add --output json for JSON).
Also provisioned: the range +12026660000..+12026669999 and the prefix
+1202777 (try +12026661234, +12027771234). SSP3's certificate
($p/peer-ssp3.*) sees none of it: nothing was offered to it (it, like
anyone, sees only the public +12025550100).
Admin commands use $p/admin.pem/.key the same way (try: org list,
audit, info, key list --zone $zone).

Ask the DNS front door (anonymous: public SED groups only), with DNSSEC:

  dig @127.0.0.1 -p $dns_port +dnssec NAPTR 0.0.1.0.5.5.5.2.0.2.1.$zone

The zone's DS, for a validating resolver's trust anchor or the parent
zone (from: $(rel "$LUFCTL") --server 127.0.0.1:$port --ca $p/ca.pem --cert $p/admin.pem --key $p/admin.key key ds --zone $zone):

$ds

Log: $(rel "$run/lufd.log")    Config: $(rel "$run/lufd.yaml")    Registry: $(rel "$run/registry.db")
Stop it:  kill \$(cat $(rel "$run/lufd.pid"))
EOF
