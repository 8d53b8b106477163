#!/usr/bin/env bash
# install-deps.sh: installs every Debian 12 (bookworm) package needed to
# build, test and run lufd. Idempotent: apt-get skips what is installed.
#
# Runs as root, or through sudo otherwise. It never starts the PostgreSQL
# system service: tests and quickstart run their own clusters, so the
# package's default cluster is neither needed nor wanted (a policy-rc.d
# keeps invoke-rc.d from starting services during the install).
#
# To add a dependency: append one line to PACKAGES (one package per line, so
# parallel additions merge without conflicts).
set -euo pipefail

PACKAGES=(
  build-essential
  cmake
  ninja-build
  ccache
  pkg-config
  git
  ca-certificates
  libgrpc++-dev
  protobuf-compiler-grpc
  libprotobuf-dev
  protobuf-compiler
  libsqlite3-dev
  sqlite3
  libpqxx-dev
  libpq-dev
  libssl-dev
  openssl
  libldns-dev
  ldnsutils
  libabsl-dev
  libgtest-dev
  libgmock-dev
  googletest
  libbenchmark-dev
  libcli11-dev
  libyaml-cpp-dev
  libspdlog-dev
  prometheus-cpp-dev
  postgresql-15
  dnsutils
  clang
  libclang-rt-14-dev
  procps
  iproute2
  python3
  systemd
  docker-compose
  jq
  knot
  knot-dnsutils
  knot-dnssecutils
  nsd
  unbound
  dnsperf
)

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "install-deps.sh: not root and no sudo; install as root: ${PACKAGES[*]}" >&2
  exit 1
fi

# Fast path: nothing to do when every package is already installed.
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "install-deps.sh: installing ${#missing[@]} package(s): ${missing[*]}"

# Keep services (postgresql) from being started by package scripts, but only
# if no policy-rc.d exists already (e.g. in Docker images) and restore after.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  added_policy=1
fi
cleanup() { ((added_policy)) && "${SUDO[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "install-deps.sh: done"
