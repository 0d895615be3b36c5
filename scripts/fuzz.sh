#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS_PER_TARGET]  (default 60)
#
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan) into
# build/fuzz/, makes their seed corpora (synthetic GGUFs and JSON, plus the
# models and vocabularies of ../shared when it exists) and runs each target
# for the given time, two at a time. Prints one result line per target and
# exits non-zero on any finding, naming the file that reproduces it:
#   build/fuzz/fuzz_TARGET build/fuzz/crashes/TARGET-crash-...
# Corpora grow across runs in build/fuzz/corpus/ (never committed).
# Env: LM_SHARED_DIR (default ../shared), FUZZ_JOBS (targets at once, 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
JOBS=${FUZZ_JOBS:-2}
OUT=build/fuzz
TARGETS=(gguf model tokenizer options)
SHARED=${LM_SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
export LM_SHARED_DIR=$SHARED

case $SECONDS_PER_TARGET in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2;; esac

# libFuzzer's runtime is Debian's libclang-rt-14-dev: install it when a
# fuzzer cannot be linked.
can_link_fuzzer() {
    local dir
    dir=$(mktemp -d)
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$dir/t.c"
    command -v clang >/dev/null && clang -fsanitize=fuzzer,address,undefined "$dir/t.c" -o "$dir/t" 2>/dev/null
    local ok=$?
    rm -rf "$dir"
    return $ok
}
if ! can_link_fuzzer; then
    echo "fuzz: installing clang and libclang-rt-14-dev (libFuzzer runtime)"
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-rt-14-dev clang
fi

mkdir -p "$OUT/obj" "$OUT/crashes" "$OUT/logs"
CFLAGS=(-g -O1 -std=gnu11 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -Isrc -Itests/c -Itests/fuzz "-DLM_DEFAULT_SHARED_DIR=\"$SHARED\"")
LIBS=(-lcjson -lutf8proc -lm -lpthread)

# The core, once, with coverage instrumentation for the fuzzers. An object
# is rebuilt when its source, any header or this script (the flags) is newer.
CORE=()
for src in src/*.c; do
    case $src in src/kernels_*.c) [ "$src" = src/kernels_scalar.c ] || continue;; esac
    CORE+=("$src")
done
newest_input=$(ls -t src/*.h tests/c/*.h tests/fuzz/*.h scripts/fuzz.sh | head -1)
# The arithmetic kernels branch on sizes only, never on the input's bytes:
# coverage feedback there would only slow every run down.
build_object() {
    local src=$1 obj=$OUT/obj/$(basename "${1%.c}").o coverage=-fsanitize=fuzzer-no-link
    case $src in src/kernels_scalar.c|src/quant.c) coverage=;; esac
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_input" -nt "$obj" ]; then
        clang "${CFLAGS[@]}" $coverage -c "$src" -o "$obj"
    fi
}
echo "fuzz: building the harnesses into $OUT/"
pids=()
for src in "${CORE[@]}"; do
    build_object "$src" & pids+=($!)
    if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
OBJS=()
for src in "${CORE[@]}"; do OBJS+=("$OUT/obj/$(basename "${src%.c}").o"); done
for t in "${TARGETS[@]}"; do
    clang "${CFLAGS[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "${OBJS[@]}" "${LIBS[@]}" -o "$OUT/fuzz_$t"
done
clang "${CFLAGS[@]}" tests/fuzz/make_seeds.c "${OBJS[@]}" "${LIBS[@]}" -o "$OUT/make_seeds"

if [ ! -d "$SHARED" ]; then
    echo "fuzz: SKIP shared-data seeds: $SHARED is absent (synthetic seeds only)"
fi
rm -rf "$OUT/seeds"
"$OUT/make_seeds" "$OUT/seeds"

# Big enough for the stories model whole; the reader and loader cut it.
max_len() { case $1 in gguf|model) echo 1300000;; *) echo 65536;; esac; }

run_target() {
    local t=$1 corpus=$OUT/corpus/$1
    mkdir -p "$corpus"
    "$OUT/fuzz_$t" "$corpus" "$OUT/seeds/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
        -timeout=10 -max_len="$(max_len "$t")" -artifact_prefix="$OUT/crashes/$t-" -print_final_stats=1 \
        >"$OUT/logs/$t.log" 2>&1
}

echo "fuzz: running ${TARGETS[*]} for ${SECONDS_PER_TARGET}s each, $JOBS at a time"
declare -A STATUS
pending=("${TARGETS[@]}")
while [ ${#pending[@]} -gt 0 ]; do
    batch=("${pending[@]:0:$JOBS}")
    pending=("${pending[@]:$JOBS}")
    pids=()
    for t in "${batch[@]}"; do
        rm -f "$OUT/crashes/$t-"*
        run_target "$t" & pids+=($!)
    done
    for i in "${!batch[@]}"; do
        if wait "${pids[$i]}"; then STATUS[${batch[$i]}]=0; else STATUS[${batch[$i]}]=1; fi
    done
done

failed=0
for t in "${TARGETS[@]}"; do
    log=$OUT/logs/$t.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "$OUT/corpus/$t" -type f | wc -l)
    if [ "${STATUS[$t]}" -eq 0 ]; then
        echo "fuzz_$t: OK: ${runs:-?} runs in ${SECONDS_PER_TARGET}s, corpus $corpus inputs"
    else
        failed=1
        crash=$(ls "$OUT/crashes/$t-"* 2>/dev/null | head -1)
        echo "fuzz_$t: FINDING: $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log" || echo 'see the log')"
        echo "  input: ${crash:-none written}; reproduce: $OUT/fuzz_$t ${crash:-<input>}; log: $log"
    fi
done
exit $failed
