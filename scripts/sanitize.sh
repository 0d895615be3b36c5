#!/usr/bin/env bash
# scripts/sanitize.sh: builds the whole project natively with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer (build/asan), runs the C
# unit tests there (ctest), then the native CLI's contract tests against the
# sanitized binary (all but the long tokenizer sweep). Any sanitizer report
# aborts the process, so it fails the test that ran it; leaks count too.
# Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
BUILD=build/asan

# Reports abort (a signal the tests notice) instead of exiting with 1.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1

echo "=== sanitize: building $BUILD (clang, -DLM_SANITIZE=ON)"
CC=clang cmake -S . -B "$BUILD" -DLM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$BUILD" -j"$JOBS" >"$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log"; exit 1; }

status=0
echo "=== sanitize: C unit tests (ctest)"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" || status=1

echo "=== sanitize: CLI contract tests against $BUILD/localm"
LOCALM_CLI=$PWD/$BUILD/localm node --test --test-name-pattern='golden|info|bench|bad input' \
    tests/cli/cli.test.mjs || status=1

[ "$status" -eq 0 ] && echo "sanitize: OK" || echo "sanitize: FAILED"
exit "$status"
