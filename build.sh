#!/usr/bin/env bash
# ./build.sh [native|wasm|all]: the native CLI and tests (CMake, build/native)
# and the WebAssembly distributable (Emscripten, web/dist). Both are
# incremental: objects are rebuilt only when their sources or headers changed.
set -euo pipefail
cd "$(dirname "$0")"

JOBS=$(nproc 2>/dev/null || echo 2)
WASM_OBJ=build/wasm
DIST=web/dist
export NODE_PATH=/usr/share/nodejs  # Debian's emcc looks for its node modules here

# The core flags, the SIMD kernels and the exported bridge functions.
# One thread: wasm threads need a cross-origin isolated page.
WASM_CFLAGS=(-O3 -msimd128 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Isrc
             -DUTF8PROC_STATIC -DNDEBUG -DLM_NO_THREADS)
WASM_LDFLAGS=(-O3 -msimd128
    -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createLocalmCore
    -sENVIRONMENT=web,worker,node
    -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB
    -sDYNAMIC_EXECUTION=0  # no eval/new Function: CSP needs only 'wasm-unsafe-eval'
    -sFILESYSTEM=0
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0  # no process-wide handlers in Node
    -sEXPORTED_FUNCTIONS=_malloc,_free
    -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8)

build_native() {
    cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build/native -j"$JOBS"
}

wasm_sources() {
    local f
    for f in src/*.c; do
        case "$f" in src/kernels_*.c) ;; *) echo "$f" ;; esac
    done
    if [ -f src/kernels_wasm.c ]; then echo src/kernels_wasm.c; else echo src/kernels_scalar.c; fi
    ls src/wasm/*.c
    find .deps -maxdepth 2 \( -path '.deps/cjson-*/cJSON.c' -o -path '.deps/utf8proc-*/utf8proc.c' \)
}

# Newer than the object: the source itself, any core header, or this script.
stale() {
    local obj=$1 src=$2
    [ ! -f "$obj" ] && return 0
    [ "$src" -nt "$obj" ] && return 0
    [ -n "$(find src -maxdepth 1 -name "*.h" -newer "$obj" -print -quit)" ] && return 0
    [ build.sh -nt "$obj" ]
}

build_wasm() {
    local sources objs=() pids=() src obj deps_inc=()
    mapfile -t sources < <(wasm_sources)
    local cjson_dir utf8proc_dir
    cjson_dir=$(find .deps -maxdepth 1 -type d -name 'cjson-*' -print -quit 2>/dev/null)
    utf8proc_dir=$(find .deps -maxdepth 1 -type d -name 'utf8proc-*' -print -quit 2>/dev/null)
    if [ -z "$cjson_dir" ] || [ -z "$utf8proc_dir" ]; then
        echo "build.sh: cJSON/utf8proc sources missing in .deps/: run scripts/setup.sh" >&2
        exit 1
    fi
    # The core includes <cjson/cJSON.h> as installed by libcjson-dev.
    mkdir -p "$WASM_OBJ/include/cjson" "$DIST"
    cp -p "$cjson_dir/cJSON.h" "$WASM_OBJ/include/cjson/"
    deps_inc=(-I"$WASM_OBJ/include" -I"$cjson_dir" -I"$utf8proc_dir")
    for src in "${sources[@]}"; do
        obj="$WASM_OBJ/$(basename "${src%.c}").o"
        objs+=("$obj")
        if stale "$obj" "$src"; then
            echo "emcc $src"
            emcc "${WASM_CFLAGS[@]}" "${deps_inc[@]}" -c "$src" -o "$obj" &
            pids+=($!)
            # Keep at most JOBS compilers running.
            if [ "${#pids[@]}" -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid"; done

    local out="$DIST/localm-core.js" relink=0
    [ -f "$out" ] || relink=1
    for obj in "${objs[@]}"; do [ "$obj" -nt "$out" ] && relink=1; done
    if [ "$relink" -eq 1 ]; then
        echo "emcc -o $out"
        emcc "${WASM_LDFLAGS[@]}" "${objs[@]}" -o "$out"
        check_no_eval "$out"
    fi
    cp web/src/*.js web/src/*.d.ts "$DIST/"
}

# The page's CSP allows 'wasm-unsafe-eval' only: the glue must not build code
# from strings.
check_no_eval() {
    if grep -nE '\beval\(|new Function\(' "$1" >&2; then
        echo "build.sh: $1 uses eval/new Function (see above)" >&2
        exit 1
    fi
}

case "${1:-all}" in
    native) build_native ;;
    wasm) build_wasm ;;
    all) build_native; build_wasm ;;
    *) echo "usage: ./build.sh [native|wasm|all]" >&2; exit 2 ;;
esac
