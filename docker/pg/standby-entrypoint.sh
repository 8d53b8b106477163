#!/bin/bash
# PostgreSQL streaming hot standby of docker/compose.replicated.yaml: on an
# empty data directory, clone the primary with
#   pg_basebackup -R -X stream
# (-R writes primary_conninfo and standby.signal, so the server starts as a
# hot standby streaming from the primary; -C -S: a replication slot, so the
# primary keeps the WAL the standby has not received yet), then run postgres
# through the image's own entrypoint. Runs as the postgres user.
set -euo pipefail
: "${PRIMARY_HOST:?}" "${REPLICATION_PASSWORD:?}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  export PGPASSWORD="$REPLICATION_PASSWORD"
  for ((i = 0; i < 120; i++)); do  # The primary's first start: up to 2 min.
    pg_isready -h "$PRIMARY_HOST" -p 5432 -q && break
    sleep 1
  done
  rm -rf "${PGDATA:?}"/*
  pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" \
    -R -X stream -C -S standby1 -c fast
  chmod 0700 "$PGDATA"
fi
exec docker-entrypoint.sh postgres -c hot_standby=on
