#!/usr/bin/env bash
# bench/kernels/run.sh [--simd-only] [--memory] [type...]: builds the kernel micro-benchmark with
# emcc (-O3 -msimd128, the flags of the wasm build) and runs it in Node.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NODE_PATH=/usr/share/nodejs  # Debian's emcc looks for its node modules here
OUT=build/wasm-bench
mkdir -p "$OUT"
emcc -O3 -msimd128 -std=gnu11 -Isrc -sENVIRONMENT=node -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB \
    bench/kernels/bench_kernels.c src/types.c src/error.c src/quant.c "${LM_WASM_KERNELS:-src/kernels_wasm.c}" -o "$OUT/bench_kernels.js"
mv "$OUT/bench_kernels.js" "$OUT/bench_kernels.cjs"  # package.json makes .js files ES modules
# Node 20's fetch() cannot load the .wasm from a file path.
node --no-experimental-fetch "$OUT/bench_kernels.cjs" "$@"
