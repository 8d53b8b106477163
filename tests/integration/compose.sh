#!/usr/bin/env bash
# The container deployment files, checked without a container engine:
#   - docker/compose.replicated.yaml (PostgreSQL primary + streaming standby,
#     a lufd on each, a Knot secondary) and docker/compose.yaml (one lufd +
#     PostgreSQL) pass `docker-compose config` and have the services the
#     topology needs;
#   - docker/knot.conf passes `knotc conf-check`;
#   - every lufd config in docker/ passes `lufd --check-config` (with the
#     /etc/lufd/pki and /var/lib/lufd paths pointed at a dev PKI and a temp
#     dir), and the standby's sets store.primary_url and
#     grpc.primary_endpoint;
#   - the PostgreSQL scripts parse (bash -n) and the standby's clones with
#     pg_basebackup -R -X stream;
#   - the Dockerfile runs tini as PID 1 and has the lufctl HEALTHCHECK.
# Skipped (77) when docker-compose is missing (tools/install-deps.sh
# installs it).
IT_NAME="compose"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! command -v docker-compose >/dev/null; then
  echo "SKIP: docker-compose not installed (package docker-compose)" >&2
  exit 77
fi
it_init
D="$SOURCE_DIR/docker"

for f in compose.replicated.yaml compose.yaml; do
  set +e
  out="$(cd "$D" && timeout 60 docker-compose -f "$f" config 2>&1)"
  rc=$?
  set -e
  ((rc == 0)) || { echo "$out" >&2; fail "docker-compose config $f"; }
  printf '%s\n' "$out" >"$T/$f.resolved"
done
services="$(cd "$D" && docker-compose -f compose.replicated.yaml config --services | sort | tr '\n' ' ')"
[[ "$services" == "knot lufd-primary lufd-standby pg-primary pg-standby " ]] ||
  fail "compose.replicated.yaml services: $services"
grep -q "image: cznic/knot" "$T/compose.replicated.yaml.resolved" ||
  fail "the Knot secondary is not cznic/knot"
grep -q "image: postgres:15" "$T/compose.replicated.yaml.resolved" ||
  fail "PostgreSQL is not 15"
pass "docker-compose config: both compose files valid ($services)"

# A broken file is noticed (the check above is not vacuous).
# (In a copy of docker/: relative paths resolve the same.)
cp -r "$D" "$T/docker"
sed -i 's/ipv4_address: 172.30.53.30/ipv4_adress: 172.30.53.30/' \
  "$T/docker/compose.replicated.yaml"
set +e
(cd "$T/docker" && docker-compose -f compose.replicated.yaml config -q) \
  >/dev/null 2>&1
rc=$?
set -e
((rc != 0)) || fail "docker-compose config accepted a misspelt option"

if command -v knotc >/dev/null; then
  knotc -c "$D/knot.conf" conf-check >"$T/knotc.out" 2>&1 ||
    { cat "$T/knotc.out" >&2; fail "knotc conf-check docker/knot.conf"; }
  grep -q "domain: e164.arpa." "$D/knot.conf" || fail "knot.conf: no e164.arpa."
  pass "knot.conf valid"
else
  it_log "knotc not installed: knot.conf not checked"
fi

mkdir -p "$T/state"
for f in lufd.yaml lufd-postgres.yaml lufd-primary.yaml lufd-standby.yaml; do
  sed -e "s|/etc/lufd/pki|$PKI|g" -e "s|/var/lib/lufd|$T/state|g" \
    "$D/$f" >"$T/$f"
  set +e
  out="$("$LUFD_BIN" --check-config "$T/$f" 2>&1)"
  rc=$?
  set -e
  ((rc == 0)) || { echo "$out" >&2; fail "lufd --check-config docker/$f"; }
done
grep -q '^  primary_url: "postgresql://lufd:lufd@pg-primary:5432/lufd"' \
  "$D/lufd-standby.yaml" || fail "standby config lacks store.primary_url"
grep -q '^  primary_endpoint: "lufd-primary:50051"' "$D/lufd-standby.yaml" ||
  fail "standby config lacks grpc.primary_endpoint"
pass "lufd configs in docker/ pass --check-config"

bash -n "$D/pg/primary-init.sh" && bash -n "$D/pg/standby-entrypoint.sh" ||
  fail "PostgreSQL scripts do not parse"
grep -q "pg_basebackup .*-R -X stream" "$D/pg/standby-entrypoint.sh" ||
  fail "standby does not clone with pg_basebackup -R -X stream"
grep -q "REPLICATION LOGIN" "$D/pg/primary-init.sh" ||
  fail "primary has no replication role"

grep -q '^ENTRYPOINT \["/usr/bin/tini", "--", "lufd"\]' "$D/Dockerfile" ||
  fail "Dockerfile: tini is not PID 1"
grep -q '^HEALTHCHECK ' "$D/Dockerfile" && grep -q 'CMD \["lufctl", "health"\]' "$D/Dockerfile" ||
  fail "Dockerfile: no lufctl health HEALTHCHECK"
grep -q '^USER lufd' "$D/Dockerfile" || fail "Dockerfile: not non-root"
pass "Dockerfile: non-root, tini, HEALTHCHECK"

it_done
