/* Builds GGUF bytes field by field in memory, so tests can write valid files
 * and then break exactly one field of them. */
#ifndef LM_GGUF_BUILDER_H
#define LM_GGUF_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gb {
    uint8_t *data;
    size_t len, cap;
} gb;

static inline void gb_bytes(gb *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void gb_u32(gb *b, uint32_t v) { gb_bytes(b, &v, 4); }
static inline void gb_u64(gb *b, uint64_t v) { gb_bytes(b, &v, 8); }
static inline void gb_f32(gb *b, float v) { gb_bytes(b, &v, 4); }
static inline void gb_str(gb *b, const char *s) {
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}
static inline void gb_header(gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}
static inline void gb_kv_u32(gb *b, const char *key, uint32_t v) {
    gb_str(b, key);
    gb_u32(b, 4); /* GGUF_UINT32 */
    gb_u32(b, v);
}
static inline void gb_kv_f32(gb *b, const char *key, float v) {
    gb_str(b, key);
    gb_u32(b, 6); /* GGUF_FLOAT32 */
    gb_f32(b, v);
}
static inline void gb_kv_str(gb *b, const char *key, const char *v) {
    gb_str(b, key);
    gb_u32(b, 8); /* GGUF_STRING */
    gb_str(b, v);
}
/* An array key: the caller appends n elements of elem_type next. */
static inline void gb_kv_array(gb *b, const char *key, uint32_t elem_type, uint64_t n) {
    gb_str(b, key);
    gb_u32(b, 9); /* GGUF_ARRAY */
    gb_u32(b, elem_type);
    gb_u64(b, n);
}
static inline void gb_tensor_info(gb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                           uint64_t offset) {
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}
static inline void gb_align(gb *b, size_t alignment) {
    static const uint8_t zero[64];
    while (b->len % alignment) gb_bytes(b, zero, 1);
}

#endif
