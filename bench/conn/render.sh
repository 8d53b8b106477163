#!/usr/bin/env bash
# render.sh RESULTS-ENV: bench/conn/run.sh's results as a Markdown table
# (stdout). KEY=VALUE lines, later lines win.
set -euo pipefail
env_file="$1"
v() { awk -F= -v k="$1" '$1==k{sub(/^[^=]*=/, ""); val=$0} END{gsub(/^"|"$/, "", val); print (val == "" ? "-" : val)}' "$env_file"; }
cat <<MD
# Connection benchmark (bench/conn/run.sh)

Run $(v run_started) .. $(v run_finished), commit $(v run_commit), load before $(v load_before), after $(v load_after).
Attack: $(v attack). lufd threads when idle: $(v lufd_threads_idle).

## gRPC

| | lookups answered % (500/s, 2 open connections) | lookup p99 us | errors | new connections (lufctl health, 4/s) ok |
|---|---|---|---|---|
| baseline | $(v grpc_base_lookup_answered_pct) | $(v grpc_base_lookup_p99_us) | $(v grpc_base_lookup_errors) | $(v grpc_base_new_conn_ok) |
| under attack | **$(v grpc_attack_lookup_answered_pct)** (target >= 99.9) | $(v grpc_attack_lookup_p99_us) | $(v grpc_attack_lookup_errors) | **$(v grpc_attack_new_conn_ok)** |

Attacker: opened $(v grpc_attack_attacker_opened), closed by lufd $(v grpc_attack_attacker_closed_by_server), fewest held open from its second 2 on $(v grpc_attack_attacker_min_open_from_s2), open at its end $(v grpc_attack_attacker_open_at_end). lufd: at most $(v grpc_attack_lufd_threads_max) threads during the attack, $(v grpc_after_lufd_threads) six seconds after it, $(v grpc_attack_lufd_cpu_s) CPU-s over it.

## DNS TCP and DoT

| | TCP, new connection per query (50/s), answered % | TCP p99 ms | DoT with client certificate, new connection per query (20/s), answered % | DoT p99 ms |
|---|---|---|---|---|
| baseline | $(v dns_base_tcp_answered_pct) | $(v dns_base_tcp_p99_ms) | $(v dns_base_dot_answered_pct) | $(v dns_base_dot_p99_ms) |
| under attack | **$(v dns_attack_tcp_answered_pct)** (target >= 99.9) | $(v dns_attack_tcp_p99_ms) | **$(v dns_attack_dot_answered_pct)** (target >= 99.9) | $(v dns_attack_dot_p99_ms) |

Attacker: opened $(v dns_attack_attacker_opened), closed by lufd $(v dns_attack_attacker_closed_by_server), fewest held open from its second 2 on $(v dns_attack_attacker_min_open_from_s2). lufd: at most $(v dns_attack_lufd_threads_max) threads, $(v dns_attack_lufd_cpu_s) CPU-s over the attack. lufd's DNS counters at stop: $(v lufd_dns_stop_line).

## Descriptor exhaustion (prlimit --nofile=1024:1024)

900 idle gRPC + 400 idle DNS TCP connections held for 8 s (fewest held: gRPC $(v recovery_grpc_held), DNS $(v recovery_dns_held)), then released. lufd alive after: $(v recovery_lufd_alive); its CPU during the pressure: $(v recovery_lufd_cpu_s_under_pressure) s in 8 s; log lines about descriptors: $(v recovery_emfile_log_lines).

| first success after release, on a new connection | seconds |
|---|---|
| gRPC (lufctl health) | **$(v recovery_grpc_first_ok_s)** (target <= 1) |
| DNS TCP (dig +tcp) | **$(v recovery_dns_tcp_first_ok_s)** (target <= 1) |
MD
