#!/usr/bin/env bash
# Shell twin of pg_harness.h for bash integration tests. Source it, then:
#   url=$(pg_start "$dir")   # initdb + start on a free 127.0.0.1 port
#   ...                      # use "$url" (postgresql://postgres@127.0.0.1:P/postgres)
#   pg_stop "$dir"           # stop (fast) and delete the cluster
# DIR must not exist yet or be empty; it is created. As root, the server runs
# as the `postgres` user. Every wait is bounded. Tests run without fsync and
# with synchronous_commit=off; PG_EXTRA_OPTS (e.g. "-c fsync=on -c
# synchronous_commit=on", later settings win) gives a benchmark the real
# thing: with synchronous_commit=off a commit reaches a streaming standby
# only at the next WAL writer flush (wal_writer_delay, 200 ms).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_as() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

_pg_free_port() {
  python3 - <<'PY' 2>/dev/null && return 0
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
  # Fallback without python: a random high port.
  echo $(( 20000 + RANDOM % 30000 ))
}

# _pg_start_on_free_port DIR OPTIONS: starts the cluster in DIR/data on a
# free loopback port (5 tries: another process may take the port first);
# writes DIR/port and prints the URL.
_pg_start_on_free_port() {
  local dir=$1 opts=$2 attempt port
  for attempt in 1 2 3 4 5; do
    port=$(_pg_free_port)
    if _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $opts" \
        start >>"$dir/pg_ctl.log" 2>&1; then
      echo "$port" >"$dir/port"
      echo "postgresql://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  cat "$dir/server.log" >&2
  return 1
}

pg_start() {
  local dir=$1
  [ -n "$dir" ] || { echo "pg_start DIR" >&2; return 2; }
  mkdir -p "$dir" || return 1
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  _pg_as "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
    -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; return 1; }
  _pg_start_on_free_port "$dir" \
    "-c fsync=off -c synchronous_commit=off ${PG_EXTRA_OPTS:-}"
}

pg_stop() {
  local dir=$1
  [ -d "$dir/data" ] || return 0
  _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
    >>"$dir/pg_ctl.log" 2>&1 ||
    _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$dir"
}

# A streaming hot standby of the cluster in PRIMARY_DIR (started by pg_start):
#   url=$(pg_start_standby "$primary_dir" "$dir")
# pg_basebackup -R -X stream writes standby.signal and primary_conninfo, so
# the standby follows the primary by streaming replication at once. Stop it
# with pg_stop "$dir"; promote it with pg_promote "$dir".
pg_start_standby() {
  local primary=$1 dir=$2
  [ -n "$primary" ] && [ -n "$dir" ] || {
    echo "pg_start_standby PRIMARY_DIR DIR" >&2; return 2; }
  local pport
  pport=$(cat "$primary/port") || return 1
  mkdir -p "$dir" || return 1
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  _pg_as timeout 120 "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" \
    -U postgres -D "$dir/data" -R -X stream --no-sync \
    >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; return 1; }
  _pg_start_on_free_port "$dir" "-c hot_standby=on"
}

# Promote a standby started by pg_start_standby; waits until it accepts
# writes (bounded).
pg_promote() {
  local dir=$1
  _pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 60 promote \
    >>"$dir/pg_ctl.log" 2>&1
}

# Kill a cluster's postmaster at once (SIGKILL, as a crash), keeping its
# files; pg_stop still removes the directory later.
pg_kill() {
  local dir=$1 pid
  pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  return 0
}
