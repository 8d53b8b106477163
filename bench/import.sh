#!/usr/bin/env bash
# import.sh: (a) time `lufctl import` of BENCH_COUNT (1M) numbers, each with
# its own NAPTR, through a running lufd into SQLite and into PostgreSQL.
#
# Usage: bench/import.sh [sqlite|postgres|both]   (default both)
#
# For each backend: a fresh database (PostgreSQL: a private cluster from
# tests/support/pg-harness.sh), `lufctl db migrate` + `db bootstrap` (admin
# = dev PKI admin.pem), lufd on a free 127.0.0.1 port, provisioning of the
# orgs / destination group / SED group (bench/lib.sh provision), then the
# timed `lufctl import` of the CSV from bench/gen_numbers, then one lookup
# as the peer to check the data is served. The SQLite database is kept as
# $BENCH_WORK/registry-1m.db for lookup.sh and startup.sh.
# Targets: SQLite <= 20 s, PostgreSQL <= 30 s. BENCH_SQLITE_PARAMS (e.g.
# "?synchronous=normal") is appended to the SQLite URL.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
which="${1:-both}"
bench_init
ensure_csv
first_tn="$(head -n 1 "$NUMS")"
last_tn="$(tail -n 1 "$NUMS")"

# import_into NAME URL: one timed import; records import_NAME_s etc.
import_into() {
  local name="$1" url="$2" t0 t1 secs out
  db_init "$url"
  start_lufd "import-$name" "$url"
  wait_healthy || true
  provision
  blog "importing $BENCH_COUNT numbers into $name ($url)"
  local cpu0 tf="$BENCH_WORK/import-$name.time"
  cpu0="$(cpu_s "$LUFD_PID")"
  t0="$(now_s)"
  # /usr/bin/time: lufctl's own CPU and peak RSS ("user sys maxrss_kb").
  if ! out="$(/usr/bin/time -o "$tf" -f '%U %S %M' \
    "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" --ca "$PKI/ca.pem" \
    --cert "$PKI/admin.pem" --key "$PKI/admin.key" --timeout 600 \
    import "$CSV" ${BENCH_IMPORT_FLAGS:-} 2>&1)"; then
    echo "$out" | tail -n 20 >&2
    record "import_${name}_s" "FAILED"
    stop_pid "$LUFD_PID"
    return 1
  fi
  t1="$(now_s)"
  secs="$(elapsed "$t0" "$t1")"
  echo "$out" | tail -n 3 >&2
  record "import_${name}_s" "$secs"
  record "import_${name}_rate" "$(awk -v n="$BENCH_COUNT" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')"
  record "import_${name}_lufd_cpu_s" "$(awk -v a="$cpu0" -v b="$(cpu_s "$LUFD_PID")" 'BEGIN{printf "%.2f", b-a}')"
  record "import_${name}_lufctl_cpu_s" "$(awk '{printf "%.2f", $1+$2}' "$tf")"
  record "import_${name}_lufctl_maxrss_kb" "$(awk '{print $3}' "$tf")"
  record "import_${name}_lufd_rss_kb" "$(rss_kb "$LUFD_PID")"
  record "import_${name}_lufd_hwm_kb" "$(hwm_kb "$LUFD_PID")"
  # The data must be served, not only written.
  local r1 r2
  r1="$(wait_lookup_ok "$first_tn" 30 || true)"
  r2="$(wait_lookup_ok "$last_tn" 30 || true)"
  if [[ "$(rfield "$r1" wait_ok)" == 1 && "$(rfield "$r2" wait_ok)" == 1 ]]; then
    record "import_${name}_verified" "yes"
  else
    record "import_${name}_verified" "NO ($r1 / $r2)"
  fi
  stop_pid "$LUFD_PID"
}

if [[ "$which" == sqlite || "$which" == both ]]; then
  db="$BENCH_WORK/registry-1m.db"
  rm -f "$db" "$db-wal" "$db-shm"
  import_into sqlite "sqlite:$db${BENCH_SQLITE_PARAMS:-}"
  record "sqlite_db_bytes" "$(du -cb "$db"* | tail -n 1 | cut -f1)"
fi
if [[ "$which" == postgres || "$which" == both ]]; then
  rm -rf "$BENCH_WORK/pg"
  pg_start_bench "$BENCH_WORK/pg"
  import_into postgres "$PG_URL"
  pg_stop "$BENCH_WORK/pg" >/dev/null 2>&1 || true
fi
