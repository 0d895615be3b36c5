/* libFuzzer target: the GGUF reader on arbitrary bytes. When a file parses,
 * every value and every tensor byte it hands out is read, so a view that
 * points outside the input is caught by ASan rather than trusted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static volatile uint64_t sink;

static uint64_t touch(const uint8_t *p, uint64_t n) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) sum += p[i];
    return sum;
}

static uint64_t touch_str(gguf_str s) { return s.len + touch((const uint8_t *)s.ptr, s.len); }

static uint64_t touch_kv(const gguf_kv *kv) {
    uint64_t sum = touch_str(kv->key);
    if (kv->type == GGUF_STRING) {
        gguf_str s;
        gguf_next_str(kv->value, &s);
        return sum + touch_str(s);
    }
    if (kv->type != GGUF_ARRAY) return sum + touch(kv->value, gguf_type_size(kv->type));
    if (kv->arr_type == GGUF_STRING) {
        const uint8_t *p = kv->value;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            gguf_str s;
            p = gguf_next_str(p, &s);
            sum += touch_str(s);
        }
        return sum;
    }
    /* gguf_arr_i64 is for integer elements only: a float may not fit. */
    const int integral = kv->arr_type != GGUF_FLOAT32 && kv->arr_type != GGUF_FLOAT64;
    for (uint64_t i = 0; i < kv->arr_n; i++)
        sum += integral ? (uint64_t)gguf_arr_i64(kv->arr_type, kv->value, i)
                        : (uint64_t)(gguf_arr_f64(kv->arr_type, kv->value, i) != 0);
    return sum;
}

/* The typed getters on the keys the loader asks for, whatever their type. */
static uint64_t touch_getters(const gguf_file *f) {
    static const char *const keys[] = {"general.architecture", "general.alignment", "llama.block_count",
                                       "llama.rope.freq_base", "tokenizer.ggml.tokens",
                                       "tokenizer.ggml.add_bos_token", "split.count"};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint32_t u;
        float x;
        int b;
        gguf_str s;
        const uint8_t *first;
        uint64_t n;
        sum += (uint64_t)gguf_get_u32(f, keys[i], &u) + (uint64_t)gguf_get_f32(f, keys[i], &x) +
               (uint64_t)gguf_get_bool(f, keys[i], &b) + (uint64_t)gguf_get_str(f, keys[i], &s) +
               (uint64_t)gguf_get_arr(f, keys[i], GGUF_STRING, &first, &n);
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private copy sized exactly, so reads one past the end are caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    gguf_file f;
    lm_error err = {0};
    if (gguf_parse(&f, copy, size, &err) == LM_OK) {
        uint64_t sum = touch_getters(&f);
        for (uint64_t i = 0; i < f.n_kv; i++) sum += touch_kv(&f.kv[i]);
        for (uint64_t i = 0; i < f.n_tensors; i++) {
            const gguf_tensor *t = &f.tensors[i];
            sum += touch_str(t->name) + touch(t->data, t->nbytes);
        }
        sum += gguf_find_tensor(&f, "token_embd.weight") != NULL;
        sink = sum;
    } else if (err.message[0] == 0 || err.code == LM_OK) {
        __builtin_trap(); /* every failure must name its problem */
    }
    gguf_release(&f);
    free(copy);
    return 0;
}
