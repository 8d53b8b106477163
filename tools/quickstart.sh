#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 checkout to a running lufd with the
# RFC 7878 section 10 example registry, in one command.
#
#   1. installs the build dependencies (tools/install-deps.sh; needs root or
#      sudo, and is a no-op when everything is installed);
#   2. builds lufd and lufctl in ./build (Release, Ninja, ccache);
#   3. creates a development PKI in ./run/pki (tools/dev-pki.sh);
#   4. writes ./run/lufd.yaml (SQLite registry ./run/registry.db, gRPC on
#      127.0.0.1:50051 with mTLS), migrates the database and registers
#      run/pki/admin.pem as the registry admin;
#   5. starts lufd in the background (pid in run/lufd.pid, log run/lufd.log)
#      and waits until it is healthy;
#   6. provisions the example (tools/rfc7878-scenario.sh) over mTLS;
#   7. prints how to query it (one copy-pasteable lufctl line, run from the
#      repository root) and how to stop it, with the actual paths.
#
# Re-running is safe: the PKI and the database are reused, the example is
# re-provisioned (upserts), and lufd is restarted. Only the lufd this script
# started for the same run directory is stopped: the pid in run/lufd.pid
# must still be a lufd whose command line is `--config run/lufd.yaml`.
# Environment: LUFD_PORT (default 50051), JOBS (build parallelism, default:
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
echo "lufd pid $pid is serving"

step "Provisioning the RFC 7878 section 10 example"
tools/rfc7878-scenario.sh --lufctl "$LUFCTL" --server "127.0.0.1:$port" --pki "$pki"
ctl admin info || true

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
($p/peer-ssp3.*) sees nothing: nothing was offered to it.
Admin commands use $p/admin.pem/.key the same way (try: org list,
audit, info).

Log: $(rel "$run/lufd.log")    Config: $(rel "$run/lufd.yaml")    Registry: $(rel "$run/registry.db")
Stop it:  kill \$(cat $(rel "$run/lufd.pid"))
EOF
