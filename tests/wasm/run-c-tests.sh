#!/usr/bin/env bash
# tests/wasm/run-c-tests.sh [test.c ...]: builds each C test with emcc against
# the whole core (src/*.c, cJSON, utf8proc) with the SIMD128 kernels
# (src/kernels_wasm.c), runs it in Node and prints its "N passed, N failed"
# line. Exits non-zero if a test fails (exit 77, skipped, is not a failure).
# Default: tests/c/test_kernels.c, tests/c/test_quant.c,
# tests/wasm/test_simd_equal.c. LM_WASM_KERNELS names another kernel file to
# test (e.g. src/kernels_scalar.c). Tests see the real file system and
# LM_SHARED_DIR (default ../shared).
set -uo pipefail
cd "$(dirname "$0")/../.."
export NODE_PATH=/usr/share/nodejs  # Debian's emcc looks for its node modules here

OUT=build/wasm-tests
KERNELS=${LM_WASM_KERNELS:-src/kernels_wasm.c}
CFLAGS=(-O3 -msimd128 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Isrc -Itests/c -DLM_NO_THREADS
        -DUTF8PROC_STATIC)
LDFLAGS=(-O3 -msimd128 -sENVIRONMENT=node -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB
         --pre-js tests/wasm/env.pre.js)

if [ "$#" -eq 0 ]; then
    set -- tests/c/test_kernels.c tests/c/test_quant.c tests/wasm/test_simd_equal.c
fi

cjson_dir=$(find -H .deps -maxdepth 1 -type d -name 'cjson-*' -print -quit 2>/dev/null)
utf8proc_dir=$(find -H .deps -maxdepth 1 -type d -name 'utf8proc-*' -print -quit 2>/dev/null)
if [ -z "$cjson_dir" ] || [ -z "$utf8proc_dir" ]; then
    echo "run-c-tests.sh: cJSON/utf8proc sources missing in .deps/: run scripts/setup.sh" >&2
    exit 1
fi
# The core includes <cjson/cJSON.h> as installed by libcjson-dev.
mkdir -p "$OUT/obj" "$OUT/include/cjson"
cp -p "$cjson_dir/cJSON.h" "$OUT/include/cjson/"
CFLAGS+=(-I"$OUT/include" -I"$cjson_dir" -I"$utf8proc_dir")

# The core once, rebuilt when its source or any core header is newer.
objs=()
for src in $(ls src/*.c | grep -v '^src/kernels_') "$KERNELS" "$cjson_dir/cJSON.c" "$utf8proc_dir/utf8proc.c"; do
    obj="$OUT/obj/$(basename "${src%.c}").o"
    objs+=("$obj")
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -maxdepth 1 -name '*.h' -newer "$obj" -print -quit)" ]; then
        emcc "${CFLAGS[@]}" -c "$src" -o "$obj" || { echo "core: BUILD FAILED ($src)"; exit 1; }
    fi
done

failed=0
for src in "$@"; do
    name=$(basename "${src%.c}")
    if [ ! -f "$src" ]; then
        echo "$name: MISSING ($src)"
        failed=1
        continue
    fi
    # .cjs: the repository's package.json makes .js files ES modules.
    if ! { emcc "${CFLAGS[@]}" "${LDFLAGS[@]}" "$src" "${objs[@]}" -o "$OUT/$name.js" &&
           mv "$OUT/$name.js" "$OUT/$name.cjs"; }; then
        echo "$name: BUILD FAILED"
        failed=1
        continue
    fi
    # Node 20's fetch() cannot load the .wasm from a file path.
    output=$(LM_SHARED_DIR="${LM_SHARED_DIR:-$(cd .. && pwd)/shared}" LM_BUILD_DIR="$OUT" \
             node --no-experimental-fetch "$OUT/$name.cjs" 2>&1)
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
