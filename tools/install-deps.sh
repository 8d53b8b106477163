#!/usr/bin/env bash
# Debian 12 build/test dependencies for lufd. Engineers append to the list.
set -euo pipefail
apt-get install -y --no-install-recommends \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
  libsqlite3-dev libpqxx-dev libssl-dev libldns-dev libabsl-dev \
  libgtest-dev libgmock-dev googletest pkg-config cmake ninja-build ccache \
  ldnsutils libcli11-dev libyaml-cpp-dev postgresql-15 openssl \
  libspdlog-dev
