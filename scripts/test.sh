#!/usr/bin/env bash
# Runs every test suite in order (native C tests, CLI contract, wasm kernels,
# Node tests of the wasm build, browser tests, sanitizers, fuzzers) even when
# one fails, then prints a summary and exits non-zero if any failed. Expects
# ./build.sh to have run (npm test does both).
#
# Tests may skip only for a missing ../shared (or when they are opt-in, like
# the 6 GB hostile test). In CI (CI=true) any other skip
# (a missing build, node-llama-cpp, Chromium...) fails the run, so a broken
# install step cannot pass as green.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
LOG_DIR=build/test-logs
mkdir -p "$LOG_DIR"

names=()
results=()

run_suite() {
    local name=$1 log="$LOG_DIR/$(echo "$1" | tr -c 'a-z0-9' '_').log"
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    if [ "$status" -eq 0 ] && [ "${CI:-}" = true ] && unexpected_skips "$log"; then status=77; fi
    names+=("$name")
    results+=("$([ "$status" -eq 0 ] && echo ok || echo "FAILED (exit $status)") in $((SECONDS - start)) s")
}

# Lists skips whose reason is not the absence of ../shared; true if any.
unexpected_skips() {
    local skips
    skips=$(grep -E '# SKIP|^SKIP' "$1" | grep -v -i -e 'shared' -e 'does not match pattern' -e 'opt-in' || true)
    [ -z "$skips" ] && return 1
    echo "CI: tests skipped for a reason other than a missing ../shared:" >&2
    echo "$skips" >&2
    return 0
}

node_tests() {
    node --test --test-reporter=tap "$@"
}

run_suite "native (ctest)" ctest --test-dir build/native --output-on-failure
run_suite "cli" node_tests tests/cli/
run_suite "wasm C tests" bash tests/wasm/run-c-tests.sh tests/c/test_kernels.c tests/c/test_quant.c \
    tests/wasm/test_simd_equal.c tests/c/test_golden.c tests/c/test_model.c tests/c/test_embed.c
run_suite "node (wasm)" node_tests tests/js/
run_suite "browser (chromium)" node_tests tests/browser/
run_suite "sanitizers" bash scripts/sanitize.sh
run_suite "fuzz (${FUZZ_SECONDS}s each)" bash scripts/fuzz.sh "$FUZZ_SECONDS"

echo
echo "=== summary"
failed=0
passed_count=0
for i in "${!names[@]}"; do
    printf '  %-22s %s\n' "${names[$i]}" "${results[$i]}"
    case "${results[$i]}" in ok*) passed_count=$((passed_count + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
echo "suites: $passed_count passed, $failed failed"
[ "$failed" -eq 0 ]
