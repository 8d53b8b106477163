#!/bin/bash
# PostgreSQL primary of docker/compose.replicated.yaml: run once by the
# postgres image's entrypoint (/docker-entrypoint-initdb.d) on an empty data
# directory. Creates the replication role the standby's pg_basebackup and
# walreceiver use, and lets it connect for replication from the compose
# network. PG15 defaults already stream (wal_level=replica,
# max_wal_senders=10).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
