#!/usr/bin/env bash
# Runs every test suite in order (native C tests, Node tests of the wasm
# build, browser tests) even when one fails, then prints a summary and exits
# non-zero if any failed. Expects ./build.sh to have run (npm test does both).
set -uo pipefail
cd "$(dirname "$0")/.."

names=()
results=()

run_suite() {
    local name=$1
    shift
    echo "=== $name: $*"
    local start=$SECONDS
    "$@"
    local status=$?
    names+=("$name")
    results+=("$([ "$status" -eq 0 ] && echo ok || echo "FAILED (exit $status)") in $((SECONDS - start)) s")
}

run_suite "native (ctest)" ctest --test-dir build/native --output-on-failure -j"$(nproc 2>/dev/null || echo 2)"
run_suite "node (wasm)" node --test tests/js/
run_suite "browser (chromium)" node --test tests/browser/

echo
echo "=== summary"
failed=0
for i in "${!names[@]}"; do
    printf '  %-20s %s\n' "${names[$i]}" "${results[$i]}"
    case "${results[$i]}" in ok*) ;; *) failed=1 ;; esac
done
exit "$failed"
