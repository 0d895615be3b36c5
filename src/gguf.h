/* GGUF reader: parses the header, metadata and tensor table of a file held in
 * memory and hands out zero-copy views into it. Every count, length, offset
 * and shape is checked against the buffer before use, so a hostile file ends
 * in an LM_E_FORMAT (or LM_E_UNSUPPORTED) error, never a wild read. */
#ifndef LM_GGUF_H
#define LM_GGUF_H

#include <stdint.h>
#include <stddef.h>

#include "localm.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef enum {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

/* A string inside the file: not NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    gguf_type type;
    gguf_type arr_type;   /* element type when type == GGUF_ARRAY */
    uint64_t arr_n;       /* element count when type == GGUF_ARRAY */
    const uint8_t *value; /* scalar bytes; a string's length prefix; an array's first element */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* unused dims are 1; ne[0] is the contiguous one */
    uint32_t type;             /* lm_type id */
    uint64_t offset;           /* from the start of the data section */
    uint64_t nbytes;
    const uint8_t *data;
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *data;
    size_t size;
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
} gguf_file;

/* Parses data[0..size). The file keeps pointers into data, which must outlive
 * it. On failure *f is left empty (gguf_release is still safe). */
lm_status gguf_parse(gguf_file *f, const uint8_t *data, size_t size, lm_error *err);
void gguf_release(gguf_file *f);

size_t gguf_type_size(gguf_type t); /* 0 for STRING and ARRAY */
const char *gguf_type_name(gguf_type t);

int gguf_str_eq(gguf_str s, const char *cstr);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: 1 found and converted, 0 absent, -1 present with a type that
 * does not convert (or an integer out of range). */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array of the given element type; *n receives its length. */
int gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem,
                 const uint8_t **first, uint64_t *n);

/* Reads the length-prefixed string at p (already validated by gguf_parse) and
 * returns the position after it: walks string arrays. */
const uint8_t *gguf_next_str(const uint8_t *p, gguf_str *out);

/* Reads element i of a numeric array as a double / int64. */
double gguf_arr_f64(gguf_type elem, const uint8_t *first, uint64_t i);
int64_t gguf_arr_i64(gguf_type elem, const uint8_t *first, uint64_t i);

#endif
