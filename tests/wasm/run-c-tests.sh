#!/usr/bin/env bash
# tests/wasm/run-c-tests.sh [test.c ...]: builds each C test with emcc against
# the core sources and the SIMD128 kernels (src/kernels_wasm.c), runs it in
# Node and prints its "N passed, N failed" line. Exits non-zero if a test
# fails (exit 77, skipped, is not a failure). Default: tests/c/test_kernels.c,
# tests/c/test_quant.c and tests/wasm/test_simd_equal.c. LM_WASM_KERNELS
# names another kernel file to test (e.g. src/kernels_scalar.c).
set -uo pipefail
cd "$(dirname "$0")/../.."
export NODE_PATH=/usr/share/nodejs  # Debian's emcc looks for its node modules here

OUT=build/wasm-tests
mkdir -p "$OUT"
CORE=(src/types.c src/error.c src/quant.c "${LM_WASM_KERNELS:-src/kernels_wasm.c}")
CFLAGS=(-O3 -msimd128 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Isrc -Itests/c
        -sENVIRONMENT=node -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB)

if [ "$#" -eq 0 ]; then
    set -- tests/c/test_kernels.c tests/c/test_quant.c tests/wasm/test_simd_equal.c
fi

failed=0
for src in "$@"; do
    name=$(basename "${src%.c}")
    if [ ! -f "$src" ]; then
        echo "$name: MISSING ($src)"
        failed=1
        continue
    fi
    if ! { emcc "${CFLAGS[@]}" "$src" "${CORE[@]}" -o "$OUT/$name.js" && mv "$OUT/$name.js" "$OUT/$name.cjs"; }; then
        echo "$name: BUILD FAILED"
        failed=1
        continue
    fi
    # Node 20's fetch() cannot load the .wasm from a file path; .cjs because
    # the repository's package.json makes .js files ES modules.
    output=$(LM_SHARED_DIR="${LM_SHARED_DIR:-$(cd .. && pwd)/shared}" node --no-experimental-fetch "$OUT/$name.cjs" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$output" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ "$rc" -eq 77 ]; then
        echo "$name: skipped"
    elif [ "$rc" -ne 0 ]; then
        printf '%s\n' "$output" | grep -v -E '^[0-9]+ passed' | head -40
        echo "$name: FAILED (exit $rc) ${summary}"
        failed=1
    else
        echo "$name: ${summary:-ok}"
    fi
done
exit "$failed"
