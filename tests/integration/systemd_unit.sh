#!/usr/bin/env bash
# docker/lufd.service passes `systemd-analyze verify` without a single
# warning (the unit's /usr/local/bin/lufd replaced by the built binary, which
# verify requires to exist), and keeps the settings the deployment relies
# on: Type=notify, ExecReload via SIGHUP, the hardening options. Skipped
# (77) only when systemd-analyze is absent (tools/install-deps.sh installs
# it: package systemd).
set -euo pipefail
: "${SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
UNIT="$SOURCE_DIR/docker/lufd.service"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (package systemd)" >&2
  exit 77
fi
[[ -x "${LUFD_BIN:-}" ]] || { echo "SKIP: lufd not built" >&2; exit 77; }
fail() { echo "FAIL [systemd_unit]: $*" >&2; exit 1; }
T="$(mktemp -d "${TMPDIR:-/tmp}/lufd-it-systemd_unit.XXXXXX")"
trap 'rm -rf "$T"' EXIT

sed "s|/usr/local/bin/lufd|$LUFD_BIN|g" "$UNIT" >"$T/lufd.service"
set +e
out="$(timeout 60 systemd-analyze verify "$T/lufd.service" 2>&1)"
rc=$?
set -e
if ((rc != 0)) || [[ -n "$out" ]]; then
  echo "$out" >&2
  fail "systemd-analyze verify: exit $rc, output above"
fi

# The checker itself notices a broken unit (else the pass above means
# nothing): an unknown key and a bad boolean.
sed -e 's/^NoNewPrivileges=yes/NoNewPrivileges=maybe/' \
  -e 's/^\[Service\]/[Service]\nNoSuchSetting=1/' "$T/lufd.service" \
  >"$T/broken.service"
out="$(timeout 60 systemd-analyze verify "$T/broken.service" 2>&1 || true)"
grep -q "NoSuchSetting" <<<"$out" || fail "verify did not flag an unknown key"
grep -q "boolean" <<<"$out" || fail "verify did not flag a bad boolean"

# shellcheck disable=SC2016  # $MAINPID is literal unit text.
for line in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' \
  'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
  'PrivateTmp=yes' 'StateDirectory=lufd' 'User=lufd' \
  'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' \
  'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'LimitNOFILE=65536' \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  'SystemCallFilter=@system-service' 'WatchdogSec=30s'; do
  grep -qxF "$line" "$UNIT" || fail "docker/lufd.service lacks: $line"
done
# What systemd would run must be a config lufd accepts the flags of.
grep -q '^ExecStart=/usr/local/bin/lufd --config /etc/lufd/lufd.yaml$' "$UNIT" ||
  fail "unexpected ExecStart"
echo "systemd_unit: PASS ($(systemd-analyze --version | head -n 1))"
