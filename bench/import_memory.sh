#!/usr/bin/env bash
# import_memory.sh: lufd's memory during `lufctl import`, one command.
#
# Usage: bench/import_memory.sh [COUNT...]   (default: 1000000 10000000)
#
# For each COUNT: a fresh SQLite database, lufd started and provisioned
# (bench/lib.sh), its steady-state RSS taken once provisioning is done,
# then `lufctl import` of COUNT generated numbers with the default flags
# (plus $BENCH_IMPORT_FLAGS), bounded by $BENCH_IMPORT_TIMEOUT seconds
# (default 1500; then lufctl is interrupted and reports what it committed,
# in import-mem-COUNT.out). Recorded per COUNT, in $BENCH_WORK/import-memory.txt and
# results.env:
#   import_mem_<COUNT>_steady_kb  VmRSS before the import
#   import_mem_<COUNT>_peak_kb    VmHWM (peak RSS) after the import
#   import_mem_<COUNT>_above_kb   peak - steady (target: <= 1 GB for 1M)
#   import_mem_<COUNT>_after_kb   VmRSS once the import is served
#   import_mem_<COUNT>_s          wall time, or FAILED / TIMEOUT
# RSS is the number to trust on a shared machine; times are noisy.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
counts=("$@")
((${#counts[@]})) || counts=(1000000 10000000)
bench_init
OUT="$BENCH_WORK/import-memory.txt"
limit="${BENCH_IMPORT_TIMEOUT:-1500}"

measure() {
  local n="$1" db="$BENCH_WORK/import-mem.db" t0 t1 rc steady peak
  BENCH_COUNT="$n" ensure_csv
  rm -f "$db" "$db-wal" "$db-shm"
  db_init "sqlite:$db"
  start_lufd_ready "import-mem-$n" "sqlite:$db"
  provision
  sleep 1
  steady="$(rss_kb "$LUFD_PID")"
  blog "importing $n numbers (steady RSS $steady kB, bound $limit s)"
  t0="$(now_s)"
  rc=0
  # At the bound lufctl gets SIGINT (Ctrl-C): it stops after the batch being
  # committed and says how far it got.
  timeout -s INT -k 120 "$limit" "$LUFCTL_BIN" --server "127.0.0.1:$LUFD_PORT" \
    --ca "$PKI/ca.pem" --cert "$PKI/admin.pem" --key "$PKI/admin.key" \
    --timeout "$limit" import "$CSV" ${BENCH_IMPORT_FLAGS:-} \
    >"$BENCH_WORK/import-mem-$n.out" 2>&1 || rc=$?
  t1="$(now_s)"
  peak="$(hwm_kb "$LUFD_PID")"
  tail -n 5 "$BENCH_WORK/import-mem-$n.out" >&2
  record "import_mem_${n}_steady_kb" "$steady"
  record "import_mem_${n}_peak_kb" "$peak"
  record "import_mem_${n}_above_kb" "$((peak - steady))"
  if ((rc == 124)); then
    record "import_mem_${n}_s" "TIMEOUT"
  elif ((rc != 0)); then
    record "import_mem_${n}_s" "FAILED"
  else
    record "import_mem_${n}_s" "$(elapsed "$t0" "$t1")"
  fi
  record "import_mem_${n}_after_kb" "$(rss_kb "$LUFD_PID")"
  {
    echo "$(date -u +%FT%TZ) count=$n flags='${BENCH_IMPORT_FLAGS:-}'" \
      "steady_kb=$steady peak_kb=$peak above_kb=$((peak - steady))" \
      "after_kb=$(rss_kb "$LUFD_PID") rc=$rc seconds=$(elapsed "$t0" "$t1")"
  } >>"$OUT"
  stop_pid "$LUFD_PID"
  rm -f "$db" "$db-wal" "$db-shm"
}

for n in "${counts[@]}"; do
  measure "$n" || true
done
blog "results in $OUT"
