# shellcheck shell=bash
# bench/dns/lib.sh: helpers of the DNS benchmark (bench/dns/run.sh): the
# server launchers for Knot (pre-signed NSEC3 and mod-onlinesign), NSD
# (ldns-signzone pre-signed) and lufd, readiness by dig, the dnsperf runner
# and the /proc readers. Source it after bench/lib.sh.
#
# Every server runs in the foreground as a child of this shell, pinned with
# taskset to CPU 0 (one serving worker), in its own root-owned temp dir under
# $DNS_WORK; it is stopped only by its PID (stop_pid). Every wait is bounded.

# free_port: a 127.0.0.1 port free for both TCP and UDP just now.
free_port() {
  timeout 10 python3 -c '
import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); continue
    t.close(); u.close(); print(p); break
'
}

# tree_pids PID: PID and all its descendants (NSD forks xfrd and a server
# child; the numbers of every process in the tree are summed or maxed).
tree_pids() {
  local p c
  for p in "$@"; do
    [[ -d /proc/$p ]] || continue
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
  done
}

# tree_cpu_ticks PID: utime+stime (clock ticks) summed over the tree.
tree_cpu_ticks() {
  local p sum=0 t
  for p in $(tree_pids "$1"); do
    t="$(awk '{sub(/.*\) /, ""); print $12+$13}' "/proc/$p/stat" 2>/dev/null || echo 0)"
    sum=$((sum + t))
  done
  echo "$sum"
}

# tree_hwm_kb PID: the largest VmHWM in the tree (NSD's forked server child
# shares the zone with its parent copy-on-write, so a sum would count it
# twice).
tree_hwm_kb() {
  local p m=0 v
  for p in $(tree_pids "$1"); do
    v="$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)"
    ((v > m)) && m=$v
  done
  echo "$m"
}

# dig_q PORT NAME TYPE [dig opts...]: one query with DO, bounded.
dig_q() {
  local port="$1" name="$2" type="$3"
  shift 3
  timeout 5 dig @127.0.0.1 -p "$port" +dnssec +tries=1 +time=1 +norecurse \
    "$@" "$name" "$type" 2>/dev/null
}

# positive_ok PORT: the sample number's NAPTR RRset (SAMPLE_NAPTRS records)
# comes with an RRSIG over it.
positive_ok() {
  local out
  out="$(dig_q "$1" "$SAMPLE_NAME" NAPTR +noall +answer +comments)" || return 1
  grep -q 'status: NOERROR' <<<"$out" || return 1
  [[ "$(grep -cE '^[^;].*[[:space:]]IN[[:space:]]+NAPTR[[:space:]]' <<<"$out")" == "$SAMPLE_NAPTRS" ]] ||
    return 1
  grep -qE 'RRSIG[[:space:]]+NAPTR' <<<"$out"
}

# denial_ok PORT: a non-existent number is denied with NSEC or NSEC3 records
# and their RRSIGs (and a signed SOA) in the authority section.
denial_ok() {
  local out
  out="$(dig_q "$1" "$MISSING_NAME" NAPTR +noall +authority +comments)" || return 1
  grep -qE 'status: (NXDOMAIN|NOERROR)' <<<"$out" || return 1
  grep -qE '^[^;].*[[:space:]]IN[[:space:]]+NSEC3?[[:space:]]' <<<"$out" || return 1
  grep -qE 'RRSIG[[:space:]]+NSEC3?[[:space:]]' <<<"$out" || return 1
  grep -qE 'RRSIG[[:space:]]+SOA[[:space:]]' <<<"$out"
}

# wait_signed PID PORT SECONDS: polls (every 50 ms, bounded) until the sample
# NAPTR is answered with its RRSIG; prints the seconds since $SERVER_T0.
wait_signed() {
  local pid="$1" port="$2" limit="$3" t_end
  t_end=$(awk -v a="$(now_s)" -v l="$limit" 'BEGIN{printf "%.0f", a+l}')
  while (($(date +%s) < t_end)); do
    kill -0 "$pid" 2>/dev/null || { blog "server $pid exited"; return 1; }
    if positive_ok "$port"; then
      elapsed "$SERVER_T0" "$(now_s)"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# run_dnsperf TAG PORT QFILE SECONDS [extra dnsperf args]: one pinned dnsperf
# run with the DO bit; output in $DNS_WORK/logs/TAG.dnsperf. Prints nothing.
# run_dnsperf TAG PORT QFILE SECS [dnsperf args]: one dnsperf run, report
# in logs/TAG.dnsperf. Successive runs on the same QFILE continue where the
# previous one stopped (QUERY_OFFSET[QFILE] += queries sent; reset per
# server by serve_and_measure), through a copy of the file starting there,
# so no run re-asks names an earlier run of the same server asked until
# the pool wraps.
declare -A QUERY_OFFSET=()
run_dnsperf() {
  local tag="$1" port="$2" qfile="$3" secs="$4"
  shift 4
  local off="${QUERY_OFFSET[$qfile]:-0}" lines run_file="$qfile"
  if ((off > 0)); then
    lines="$(wc -l <"$qfile")"
    off=$((off % lines))
    run_file="$DNS_WORK/q-run-$tag.txt"
    { tail -n "+$((off + 1))" "$qfile"; head -n "$off" "$qfile"; } >"$run_file"
  fi
  local cmd=("${pin_client[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$run_file"
    -D -l "$secs" -T 1 -c "${DNSPERF_CLIENTS:-4}"
    -q "${DNSPERF_OUTSTANDING:-200}" -t 2 -O suppress=timeouts,unexpected "$@")
  echo "${cmd[*]}  # from line $((off + 1)) of $(basename "$qfile")" >>"$DNS_WORK/commands.txt"
  local rc=0
  timeout $((secs + 60)) "${cmd[@]}" >"$DNS_WORK/logs/$tag.dnsperf" 2>&1 || rc=$?
  local sent
  sent="$(dp "$DNS_WORK/logs/$tag.dnsperf" sent)"
  QUERY_OFFSET[$qfile]=$((off + ${sent:-0}))
  [[ "$run_file" == "$qfile" ]] || rm -f "$run_file"
  return "$rc"
}

# dp FILE KEY: a number from a dnsperf report.
#   qps, sent, completed, lost, lat_avg_s, lat_sd_s, lat_max_s, ok (NOERROR +
#   NXDOMAIN responses), err (every other rcode).
dp() {
  awk -v k="$2" '
    /Queries sent:/ { sent = $3 }
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Average Latency/ { lat = $4; max = $8; sub(/\)/, "", max) }
    /Latency StdDev/ { sd = $4 }
    /Response codes:/ {
      line = $0; sub(/.*Response codes: */, "", line)
      n = split(line, parts, ",")
      for (i = 1; i <= n; i++) {
        split(parts[i], f, " "); c = f[1]; v = f[2] + 0
        if (c == "NOERROR" || c == "NXDOMAIN") ok += v; else err += v
      }
    }
    END {
      res["qps"] = qps; res["sent"] = sent; res["completed"] = done; res["lost"] = lost
      res["lat_avg_s"] = lat; res["lat_sd_s"] = sd; res["lat_max_s"] = max
      res["ok"] = ok + 0; res["err"] = err + 0
      print res[k]
    }' "$1"
}

# fmt_qps VALUE: rounded to an integer ("n/a" when empty).
fmt_qps() {
  if [[ "$1" =~ ^[0-9.]+$ ]]; then awk -v v="$1" 'BEGIN{printf "%.0f", v}'; else echo n/a; fi
}

# ---------------------------------------------------------------- servers

# Knot: one knotd with a private rundir/storage; POLICY_EXTRA and ZONE_EXTRA
# are appended to the policy and zone sections.
write_knot_conf() {
  local dir="$1" port="$2" policy_extra="$3" zone_extra="$4" module="$5"
  mkdir -p "$dir/run" "$dir/db"
  cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: 127.0.0.1@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$dir/db"
control:
    listen: "$dir/run/knot.sock"
log:
  - target: stderr
    any: info
$module
policy:
  - id: bench
    algorithm: ecdsap256sha256
    single-type-signing: on
    signing-threads: ${KNOT_SIGNING_THREADS:-1}
$policy_extra
zone:
  - domain: $APEX
    file: "$dir/zone.db"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
$zone_extra
EOF
  cp "$DATA/zone.db" "$dir/zone.db"
}

# start_server NAME CMD...: runs CMD pinned to CPU 0 in the background; sets
# SERVER_PID and SERVER_T0. The command line goes to commands.txt.
start_server() {
  local name="$1"
  shift
  echo "${pin_server[*]} $*" >>"$DNS_WORK/commands.txt"
  SERVER_T0="$(now_s)"
  "${pin_server[@]}" "$@" >>"$DNS_WORK/logs/$name.log" 2>&1 &
  SERVER_PID=$!
  _BENCH_PIDS+=("$SERVER_PID")
}
