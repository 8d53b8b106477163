#!/usr/bin/env bash
# test.sh: the whole check, as CI runs it (.ci/run execs this script).
#
# Stages (each timed; a failing stage does not hide the later ones, except
# that tests are not run without a build):
#   deps     tools/install-deps.sh (skip with LUFD_SKIP_DEPS=1)
#   build    configure + build everything in ./build-test (RelWithDebInfo,
#            Ninja, ccache)
#   ctest    ctest --output-on-failure -j2 in ./build-test: unit tests, the
#            Store conformance suite (incl. a real PostgreSQL the tests start
#            themselves) and the integration tests (real lufd + lufctl)
#   fuzz     tools/fuzz-smoke.sh, if present: clang libFuzzer build in
#            ./build-fuzz, FUZZ_SECONDS per fuzzer (default 15)
#   asan     ASan+UBSan build in ./build-asan (-DLUFD_SANITIZE=ON) running the
#            tests labelled `unit`; LUFD_TEST_ASAN=1 (default) / 0. Skipped,
#            with a notice, when the run has already used more than
#            LUFD_TEST_ASAN_START_BEFORE seconds (default 1320), so that the
#            whole run stays within 40 minutes on 2 cores.
#
# Environment: JOBS (default 2), LUFD_SKIP_DEPS, LUFD_TEST_BUILD_DIR,
# LUFD_TEST_FUZZ=1 (default) / 0, LUFD_TEST_ASAN,
# LUFD_TEST_ASAN_START_BEFORE, FUZZ_SECONDS, CTEST_ARGS (extra ctest args).
# Prints one summary line per stage and a final PASS/FAIL line; exits
# non-zero on any failure.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
jobs="${JOBS:-2}"
# Build directory of the main stage (LUFD_TEST_BUILD_DIR, default ./build-test).
build_test="${LUFD_TEST_BUILD_DIR:-build-test}"
asan="${LUFD_TEST_ASAN:-1}"
asan_start_before="${LUFD_TEST_ASAN_START_BEFORE:-1320}"
export FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
start_all=$SECONDS

declare -a SUMMARY=()
failed=0

# Each stage's output is also kept here, so the tail of a failed stage can
# be repeated after the summary: CI keeps only the end of a long log.
stage_logs="$(mktemp -d "${TMPDIR:-/tmp}/lufd-test-stages.XXXXXX")"
trap 'rm -rf "$stage_logs"' EXIT
declare -a FAILED_STAGES=()

# stage NAME COMMAND...: runs and records the result.
stage() {
  local name="$1" t0=$SECONDS rc
  shift
  printf '\n========== %s ==========\n' "$name"
  "$@" 2>&1 | tee "$stage_logs/$name.log"
  rc=${PIPESTATUS[0]}
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then
    SUMMARY+=("$(printf '%-6s PASS  %4ds' "$name" "$dt")")
  else
    SUMMARY+=("$(printf '%-6s FAIL  %4ds  (exit %d)' "$name" "$dt" "$rc")")
    FAILED_STAGES+=("$name")
    failed=1
  fi
  return "$rc"
}
skip() { SUMMARY+=("$(printf '%-6s SKIP         %s' "$1" "$2")"); }

configure() {  # builddir extra-cmake-args...
  local dir="$1"
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@"
}

do_build() {
  configure "$build_test" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    ninja -C "$build_test" -j"$jobs"
}

do_ctest() {
  # --no-tests=error: an empty test list is a broken build, not a pass.
  # shellcheck disable=SC2086
  (cd "$build_test" && ctest --output-on-failure --no-tests=error -j"$jobs" \
    --timeout 900 ${CTEST_ARGS:-})
}

do_fuzz() { tools/fuzz-smoke.sh -t "$FUZZ_SECONDS" -b "$PWD/build-fuzz" -j "$jobs"; }

do_asan() {
  # Debug (-O0): compiles markedly faster than -O2 and the unit tests are
  # short, so the stage fits the remaining time budget.
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DLUFD_SANITIZE=ON \
    -DLUFD_BENCH=OFF || return 1
  # Build only what the `unit`-labelled tests run (their executables, the
  # fuzz replays, and lufd for the --check-config tests): the integration
  # binaries are not run under ASan, so building them would only cost time.
  local -a targets=(core_unit_tests client_unit_tests grpc_config_test
    grpc_config_agree_test storage_unit_test dns_unit_tests lufd lufctl)
  # Every *_unit_tests executable too (a new unit-test directory, like
  # server/guard's, is then covered without editing this list).
  mapfile -t -O "${#targets[@]}" targets < <(ninja -C build-asan -t targets all |
    sed -n 's/^\([a-z_]*\(_fuzz_replay\|_unit_tests\)\): .*/\1/p' |
    grep -v '^cmake_' | sort -u)
  ninja -C build-asan -j"$jobs" "${targets[@]}" || return 1
  # Prefer the `unit` label; if no test carries it, run everything except the
  # integration tests, the conformance suite and anything needing PostgreSQL
  # (real processes and a database add minutes under ASan, little coverage).
  local -a select=(-L '^unit$')
  local n
  n="$(cd build-asan && ctest -N -L '^unit$' 2>/dev/null | sed -n 's/^Total Tests: //p')"
  if [[ -z "$n" || "$n" == 0 ]]; then
    echo "asan: no test is labelled 'unit'; running all but integration/conformance/postgres"
    select=(-LE 'integration|conformance|postgres' -E '^integration\.|[Cc]onformance|[Pp]ostgres')
  fi
  # halt_on_error/abort_on_error make any ASan/UBSan finding fail the test.
  (cd build-asan &&
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
      LSAN_OPTIONS="suppressions=$PWD/../tools/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
      ctest --output-on-failure --no-tests=error -j"$jobs" --timeout 900 "${select[@]}")
}

if [[ "${LUFD_SKIP_DEPS:-0}" == 1 ]]; then
  skip deps "LUFD_SKIP_DEPS=1"
else
  stage deps tools/install-deps.sh
fi

if stage build do_build; then
  stage ctest do_ctest
else
  skip ctest "build failed"
fi

if [[ "${LUFD_TEST_FUZZ:-1}" != 1 ]]; then
  skip fuzz "LUFD_TEST_FUZZ=${LUFD_TEST_FUZZ}"
elif [[ -x tools/fuzz-smoke.sh ]]; then
  stage fuzz do_fuzz
else
  skip fuzz "tools/fuzz-smoke.sh not present"
fi

if [[ "$asan" != 1 ]]; then
  skip asan "LUFD_TEST_ASAN=$asan"
elif ((SECONDS - start_all > asan_start_before)); then
  skip asan "time budget: $((SECONDS - start_all)) s used > ${asan_start_before} s"
else
  stage asan do_asan
fi

total=$((SECONDS - start_all))
for name in "${FAILED_STAGES[@]}"; do
  # The lines that say why: failures and sanitizer/fuzzer reports first,
  # then the stage's last lines.
  printf '\n========== %s failed: why ==========\n' "$name"
  grep -E 'FAILED|Failed|\*\*\*|ERROR|error:|==[0-9]+==|SUMMARY|artifact:|deadly|Timeout|out-of-memory' \
    "$stage_logs/$name.log" | head -n 40
  printf -- '---------- last lines of %s ----------\n' "$name"
  tail -n 30 "$stage_logs/$name.log"
done
printf '\n========== summary ==========\n'
printf '  %s\n' "${SUMMARY[@]}"
if ((failed)); then
  echo "test.sh: FAIL in ${total}s (see the stage output above)"
  exit 1
fi
echo "test.sh: PASS in ${total}s"
