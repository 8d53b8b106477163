#!/usr/bin/env bash
# bench/micro/guard_cost.sh: instructions per query the guard stage adds on
# the anonymous 90/10 hit/miss NAPTR mix with DO (bench/micro/guard_cost.cc),
# counted by callgrind (deterministic; wall clock on a shared machine is
# not). Prints Ir per query with the guard off and on, and the ratio.
# Usage: LUFD_BUILD=build bench/micro/guard_cost.sh [queries] [sources]
# (ninja -C build guard_cost first; needs valgrind).
set -euo pipefail
BUILD="${LUFD_BUILD:-build}"
Q="${1:-20000}"
SOURCES="${2:-1}"
BIN="$BUILD/bench/guard_cost"
[[ -x "$BIN" ]] || { echo "no $BIN: ninja -C $BUILD guard_cost" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
declare -A IR
for mode in off on; do
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$mode" \
    --toggle-collect='*GuardCostMeasured*' "$BIN" "$mode" "$Q" "$SOURCES" \
    >"$TMP/out.$mode" 2>"$TMP/err.$mode"
  IR[$mode]="$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$TMP/err.$mode")"
done
# The same answers either way (the guard refused nothing).
cmp -s <(sed 's/mode=[a-z]*//' "$TMP/out.off") <(sed 's/mode=[a-z]*//' "$TMP/out.on") ||
  { echo "answers differ between guard off and on:" >&2; cat "$TMP"/out.* >&2; exit 1; }
awk -v off="${IR[off]}" -v on="${IR[on]}" -v q="$Q" -v src="$SOURCES" 'BEGIN {
  printf "queries %d, sources %d: Ir/query guard off %.1f, on %.1f, added %.1f (%.2f %%)\n",
    q, src, off / q, on / q, (on - off) / q, 100 * (on - off) / off }'
if [[ -n "${GUARD_COST_KEEP:-}" ]]; then
  cp "$TMP/cg.off" "$TMP/cg.on" "$GUARD_COST_KEEP/"
fi
