#!/usr/bin/env bash
# startup.sh: (c) time-to-serving and memory with 1M numbers loaded.
#
#   1. RSS of lufd serving an empty registry (only the orgs, credential,
#      destination group and SED group that import.sh provisions): a fresh
#      SQLite DB, provisioned, then lufd restarted and measured once healthy.
#   2. lufd on the 1M-number SQLite DB from import.sh: the time from exec to
#      the first successful (found) Lookup, polled every 20 ms by
#      `lookup_load --wait_ok_s` (its own start-up and TLS handshake count
#      against lufd, so the number is pessimistic); then VmRSS and VmHWM 1 s
#      later. Repeated BENCH_STARTUP_RUNS times (default 2; the DB file is
#      in the page cache, as on a restart).
#   bytes/number = (RSS_1M - RSS_empty) * 1024 / count.
# Targets: time-to-serving <= 5 s; <= 200 bytes/number.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init_1m
runs="${BENCH_STARTUP_RUNS:-2}"

# 1. Empty registry.
EMPTY="$BENCH_WORK/registry-empty.db"
rm -f "$EMPTY" "$EMPTY-wal" "$EMPTY-shm"
db_init "sqlite:$EMPTY"
start_lufd startup-empty "sqlite:$EMPTY"
wait_healthy || true
provision
stop_pid "$LUFD_PID"
start_lufd startup-empty "sqlite:$EMPTY"
wait_healthy || true
# One lookup (a miss) so the lookup path has allocated what it allocates.
wait_lookup_ok "+493000000000" 2 >/dev/null 2>&1 || true
sleep 1
rss_empty="$(rss_kb "$LUFD_PID")"
record startup_empty_rss_kb "$rss_empty"
stop_pid "$LUFD_PID"

# 2. 1M numbers.
first_tn="$(head -n 1 "$NUMS")"
worst=0
for ((run = 1; run <= runs; run++)); do
  start_lufd startup-1m "sqlite:$DB"
  out="$(wait_lookup_ok "$first_tn" 120)" || bdie "lufd not serving: $out"
  t1="$(now_s)"
  tts="$(elapsed "$LUFD_T0" "$t1")"
  record "startup_1m_run${run}_s" "$tts"
  worst="$(awk -v a="$worst" -v b="$tts" 'BEGIN{print (b>a)?b:a}')"
  sleep 1
  rss="$(rss_kb "$LUFD_PID")"
  record "startup_1m_run${run}_rss_kb" "$rss"
  record "startup_1m_run${run}_hwm_kb" "$(hwm_kb "$LUFD_PID")"
  stop_pid "$LUFD_PID"
done
record startup_1m_worst_s "$worst"
record startup_1m_rss_kb "$rss"
record startup_bytes_per_number "$(awk -v a="$rss" -v b="$rss_empty" -v n="$BENCH_COUNT" 'BEGIN{printf "%.0f", (a-b)*1024/n}')"
