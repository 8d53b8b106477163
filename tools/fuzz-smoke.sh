#!/usr/bin/env bash
# fuzz-smoke.sh: build every libFuzzer target (tests/fuzz/*_fuzz.cc) with
# clang and LUFD_FUZZ=ON, run each for a short, fixed time from a copy of its
# seed corpus, and fail if any of them finds a crash, leak, timeout, OOM or
# UBSan report (halt_on_error). Leaks inside libraries we cannot fix are
# suppressed by tools/lsan.supp, which says why for each.
#
# usage: tools/fuzz-smoke.sh [-t SECONDS] [-b BUILD_DIR] [-j JOBS] [NAME...]
#   -t  seconds per fuzzer (default 20; env FUZZ_SECONDS)
#   -b  build directory, dedicated to this clang build
#       (default $BUILD_DIR or /tmp/lufd-fuzz-build)
#   -j  ninja parallelism (default 2)
#   NAME  only these fuzzers (e.g. naptr_fuzz); default: all
# Crash inputs are kept under $BUILD_DIR/fuzz-artifacts/ and named in the
# output; add them to tests/fuzz/corpus/<name>/ once fixed so every ctest
# run replays them. Exit status: 0 all clean, 1 a fuzzer failed, 2 usage or
# build error.
set -euo pipefail

seconds="${FUZZ_SECONDS:-20}"
build_dir="${BUILD_DIR:-/tmp/lufd-fuzz-build}"
jobs=2
while getopts "t:b:j:h" opt; do
  case "$opt" in
    t) seconds="$OPTARG" ;;
    b) build_dir="$OPTARG" ;;
    j) jobs="$OPTARG" ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz-smoke: -t needs a positive number of seconds" >&2
  exit 2
fi

src_dir="$(cd "$(dirname "$0")/.." && pwd)"
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz-smoke: $tool not found" >&2; exit 2; }
done

# A build dir configured with another compiler cannot be switched to clang.
if [ -f "$build_dir/CMakeCache.txt" ] &&
   ! grep -q '^CMAKE_CXX_COMPILER:.*clang++' "$build_dir/CMakeCache.txt"; then
  echo "fuzz-smoke: $build_dir was configured with another compiler;" \
       "use a dedicated -b BUILD_DIR" >&2
  exit 2
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S "$src_dir" -B "$build_dir" -G Ninja \
  -DLUFD_FUZZ=ON -DLUFD_BENCH=OFF "${launcher[@]}" >/dev/null || {
  echo "fuzz-smoke: configure failed" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
  fuzzers=("$@")
else
  fuzzers=()
  for f in "$src_dir"/tests/fuzz/*_fuzz.cc; do
    [ -e "$f" ] && fuzzers+=("$(basename "$f" .cc)")
  done
fi
if [ "${#fuzzers[@]}" -eq 0 ]; then
  echo "fuzz-smoke: no fuzzers found" >&2
  exit 2
fi

echo "fuzz-smoke: building ${fuzzers[*]} in $build_dir"
ninja -C "$build_dir" -j "$jobs" "${fuzzers[@]}" || {
  echo "fuzz-smoke: build failed" >&2; exit 2; }

artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/lufd-fuzz-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failed=()
for name in "${fuzzers[@]}"; do
  bin="$build_dir/tests/fuzz/$name"
  corpus="$work/$name"
  mkdir -p "$corpus"
  # Fuzz a copy: libFuzzer adds inputs to its corpus dir, and the repo's
  # seed corpus should only change on purpose.
  if [ -d "$src_dir/tests/fuzz/corpus/$name" ]; then
    cp -R "$src_dir/tests/fuzz/corpus/$name/." "$corpus/"
  fi
  log="$work/$name.log"
  echo "fuzz-smoke: $name for ${seconds}s"
  rc=0
  # The outer timeout only guards against a hang libFuzzer cannot stop.
  timeout --kill-after=10 "$((seconds * 2 + 60))" \
    env LSAN_OPTIONS="suppressions=$src_dir/tools/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
      "$corpus" >"$log" 2>&1 || rc=$?
  grep -E '^(Done|stat::number_of_executed_units)' "$log" | sed "s/^/  /" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz-smoke: $name FAILED (exit $rc); last lines:" >&2
    tail -n 25 "$log" >&2
    ls -1 "$artifacts"/"$name"-* 2>/dev/null | sed 's/^/  artifact: /' >&2 || true
    failed+=("$name")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-smoke: OK (${fuzzers[*]})"
