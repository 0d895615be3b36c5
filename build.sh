#!/usr/bin/env bash
# ./build.sh [native|wasm|all]: the native CLI and tests (CMake, build/native)
# and the WebAssembly distributable (Emscripten, web/dist). Both are
# incremental: objects are rebuilt only when their sources or headers changed.
set -euo pipefail
cd "$(dirname "$0")"

JOBS=$(nproc 2>/dev/null || echo 2)
DIST=web/dist
export NODE_PATH=/usr/share/nodejs  # Debian's emcc looks for its node modules here

# Two builds of the core: single-threaded (web/dist, browsers and Node) and
# threaded (web/dist/mt, browsers only: wasm threads need SharedArrayBuffer,
# so a cross-origin isolated page). The worker picks one at load time.
WASM_CFLAGS=(-O3 -msimd128 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Isrc
             -DUTF8PROC_STATIC -DNDEBUG)
WASM_LDFLAGS=(-O3 -msimd128
    -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createLocalmCore
    -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB
    -sDYNAMIC_EXECUTION=0  # no eval/new Function: CSP needs only 'wasm-unsafe-eval'
    -sFILESYSTEM=0
    -sEXPORTED_FUNCTIONS=_malloc,_free
    -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8)
SINGLE_CFLAGS=(-DLM_NO_THREADS)
SINGLE_LDFLAGS=(-sENVIRONMENT=web,worker,node
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0)  # no process-wide handlers in Node
# Threads must exist before the core asks for them (a Worker cannot start
# while the core spins waiting for it): MAX_THREADS in worker.js is this + 1.
THREADED_CFLAGS=(-pthread)
THREADED_LDFLAGS=(-pthread -sENVIRONMENT=web,worker -sPTHREAD_POOL_SIZE=7 -Wno-pthreads-mem-growth)

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
    find -H .deps -maxdepth 2 \( -path '.deps/cjson-*/cJSON.c' -o -path '.deps/utf8proc-*/utf8proc.c' \)
}

# Newer than the object: the source itself, any core header, or this script.
stale() {
    local obj=$1 src=$2
    [ ! -f "$obj" ] && return 0
    [ "$src" -nt "$obj" ] && return 0
    [ -n "$(find src -maxdepth 1 -name "*.h" -newer "$obj" -print -quit)" ] && return 0
    [ build.sh -nt "$obj" ]
}

# build_wasm_variant OBJ_DIR OUT_DIR CFLAGS_ARRAY LDFLAGS_ARRAY
build_wasm_variant() {
    local obj_dir=$1 out_dir=$2
    local -n cflags=$3 ldflags=$4
    local sources objs=() pids=() src obj
    mapfile -t sources < <(wasm_sources)
    mkdir -p "$obj_dir" "$out_dir"
    for src in "${sources[@]}"; do
        obj="$obj_dir/$(basename "${src%.c}").o"
        objs+=("$obj")
        if stale "$obj" "$src"; then
            echo "emcc $src -> $obj_dir"
            emcc "${WASM_CFLAGS[@]}" "${cflags[@]}" "${deps_inc[@]}" -c "$src" -o "$obj" &
            pids+=($!)
            # Keep at most JOBS compilers running.
            if [ "${#pids[@]}" -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid"; done

    local out="$out_dir/localm-core.js" relink=0
    [ -f "$out" ] || relink=1
    for obj in "${objs[@]}"; do [ "$obj" -nt "$out" ] && relink=1; done
    if [ "$relink" -eq 1 ]; then
        echo "emcc -o $out"
        emcc "${WASM_LDFLAGS[@]}" "${ldflags[@]}" "${objs[@]}" -o "$out"
        check_no_eval "$out_dir"/localm-core*.js
    fi
}

build_wasm() {
    local cjson_dir utf8proc_dir deps_inc
    cjson_dir=$(find -H .deps -maxdepth 1 -type d -name 'cjson-*' -print -quit 2>/dev/null)
    utf8proc_dir=$(find -H .deps -maxdepth 1 -type d -name 'utf8proc-*' -print -quit 2>/dev/null)
    if [ -z "$cjson_dir" ] || [ -z "$utf8proc_dir" ]; then
        echo "build.sh: cJSON/utf8proc sources missing in .deps/: run scripts/setup.sh" >&2
        exit 1
    fi
    # The core includes <cjson/cJSON.h> as installed by libcjson-dev.
    mkdir -p build/wasm/include/cjson
    cp -p "$cjson_dir/cJSON.h" build/wasm/include/cjson/
    deps_inc=(-Ibuild/wasm/include -I"$cjson_dir" -I"$utf8proc_dir")
    build_wasm_variant build/wasm build/wasm/out SINGLE_CFLAGS SINGLE_LDFLAGS
    build_wasm_variant build/wasm-mt build/wasm-mt/out THREADED_CFLAGS THREADED_LDFLAGS
    publish_dist
}

# Assembles web/dist beside it and swaps it in, so a page or test running
# during a rebuild never sees the glue of one build with the wasm of another.
publish_dist() {
    local next="$DIST.next" old="$DIST.old"
    rm -rf "$next" "$old"
    mkdir -p "$next/mt"
    cp -p build/wasm/out/localm-core.* "$next/"
    cp -p build/wasm-mt/out/localm-core.* "$next/mt/"
    cp -p web/src/*.js web/src/*.d.ts "$next/"
    list_dist_files "$next"
    [ -d "$DIST" ] && mv "$DIST" "$old"
    mv "$next" "$DIST"
    rm -rf "$old"
}

# files.json: what the service worker keeps for offline use, so a new module
# file cannot be forgotten there.
list_dist_files() {
    (cd "$1" && find . -type f ! -name files.json ! -name '*.d.ts' | sort | sed 's|^\./|dist/|') |
        node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim().split("\n"))))' \
        > "$1/files.json"
}

# The page's CSP allows 'wasm-unsafe-eval' only: the glue must not build code
# from strings.
check_no_eval() {
    if grep -nE '\beval\(|new Function\(' "$@" >&2; then
        echo "build.sh: the wasm glue uses eval/new Function (see above)" >&2
        exit 1
    fi
}

case "${1:-all}" in
    native) build_native ;;
    wasm) build_wasm ;;
    all) build_native; build_wasm ;;
    *) echo "usage: ./build.sh [native|wasm|all]" >&2; exit 2 ;;
esac
