#include "gguf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "types.h"

/* A bounds-checked cursor over the file. Every read goes through it, so no
 * value from the file can move it past the end. */
typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    lm_error *err;
} cursor;

static const char *const type_names[GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

static const size_t type_sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

size_t gguf_type_size(gguf_type t) { return (unsigned)t < GGUF_TYPE_COUNT ? type_sizes[t] : 0; }

const char *gguf_type_name(gguf_type t) {
    return (unsigned)t < GGUF_TYPE_COUNT ? type_names[t] : "unknown";
}

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos) {
        lm_fail(c->err, LM_E_FORMAT,
                "GGUF truncated: %s needs %llu bytes at offset %zu but the file has %zu",
                what, (unsigned long long)n, c->pos, c->size);
        return 0;
    }
    return 1;
}

static int read_bytes(cursor *c, void *out, size_t n, const char *what) {
    if (!need(c, n, what)) return 0;
    memcpy(out, c->base + c->pos, n);
    c->pos += n;
    return 1;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) { return read_bytes(c, v, 4, what); }
static int read_u64(cursor *c, uint64_t *v, const char *what) { return read_bytes(c, v, 8, what); }

static int read_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    if (!read_u64(c, &len, what) || !need(c, len, what)) return 0;
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return 1;
}

/* Skips over one value of type t, checking that it lies inside the file. */
static int skip_value(cursor *c, gguf_type t, const char *key) {
    if (t == GGUF_STRING) {
        gguf_str s;
        return read_str(c, &s, key);
    }
    if (t == GGUF_ARRAY) {
        lm_fail(c->err, LM_E_UNSUPPORTED, "GGUF key '%s': nested arrays are not supported", key);
        return 0;
    }
    return need(c, type_sizes[t], key) && (c->pos += type_sizes[t], 1);
}

static int read_kv(cursor *c, gguf_kv *kv, uint64_t index) {
    uint32_t type;
    char key[96];
    snprintf(key, sizeof key, "metadata key #%llu", (unsigned long long)index);
    if (!read_str(c, &kv->key, key)) return 0;
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr);
    if (!read_u32(c, &type, key)) return 0;
    if (type >= GGUF_TYPE_COUNT) {
        lm_fail(c->err, LM_E_FORMAT, "GGUF key '%s' has unknown value type %u", key, type);
        return 0;
    }
    kv->type = type;
    kv->value = c->base + c->pos;
    if (type != GGUF_ARRAY) return skip_value(c, type, key);

    uint32_t elem;
    if (!read_u32(c, &elem, key) || !read_u64(c, &kv->arr_n, key)) return 0;
    if (elem >= GGUF_TYPE_COUNT) {
        lm_fail(c->err, LM_E_FORMAT, "GGUF key '%s' is an array of unknown type %u", key, elem);
        return 0;
    }
    kv->arr_type = elem;
    kv->value = c->base + c->pos;
    if (elem != GGUF_STRING && elem != GGUF_ARRAY) {
        /* Divide rather than multiply: a hostile count must not overflow. */
        if (kv->arr_n > (c->size - c->pos) / type_sizes[elem])
            return need(c, UINT64_MAX, key);
        c->pos += kv->arr_n * type_sizes[elem];
        return 1;
    }
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (!skip_value(c, elem, key)) return 0;
    return 1;
}

static int compare_strs(const void *a, const void *b) {
    const gguf_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sorting keeps this O(n log n): a hostile file may hold millions of names. */
static lm_status check_unique(const gguf_str *names, size_t stride, uint64_t n, const char *what,
                              lm_error *err) {
    if (n < 2) return LM_OK;
    gguf_str *sorted = malloc(n * sizeof *sorted);
    if (!sorted) return lm_fail(err, LM_E_MEMORY, "out of memory checking %s names", what);
    for (uint64_t i = 0; i < n; i++)
        sorted[i] = *(const gguf_str *)((const char *)names + i * stride);
    qsort(sorted, n, sizeof *sorted, compare_strs);
    lm_status status = LM_OK;
    for (uint64_t i = 1; i < n && status == LM_OK; i++)
        if (compare_strs(&sorted[i - 1], &sorted[i]) == 0)
            status = lm_fail(err, LM_E_FORMAT, "GGUF %s '%.*s' appears twice", what,
                             (int)(sorted[i].len > 80 ? 80 : sorted[i].len), sorted[i].ptr);
    free(sorted);
    return status;
}

static lm_status read_metadata(cursor *c, gguf_file *f) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (!read_kv(c, &f->kv[i], i)) return c->err->code;
    return check_unique(&f->kv[0].key, sizeof f->kv[0], f->n_kv, "key", c->err);
}

static lm_status read_alignment(gguf_file *f, lm_error *err) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    if (!kv) return LM_OK;
    uint32_t a;
    if (kv->type != GGUF_UINT32)
        return lm_fail(err, LM_E_FORMAT, "GGUF general.alignment must be uint32, not %s",
                       gguf_type_name(kv->type));
    memcpy(&a, kv->value, 4);
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
        return lm_fail(err, LM_E_FORMAT, "GGUF general.alignment %u is not a power of two up to 1 MiB", a);
    f->alignment = a;
    return LM_OK;
}

static lm_status check_shape(gguf_tensor *t, lm_error *err) {
    const lm_type_traits *tt = lm_type_info(t->type);
    const int name_len = (int)(t->name.len > 80 ? 80 : t->name.len);
    if (!tt)
        return lm_fail(err, LM_E_UNSUPPORTED, "tensor '%.*s' has unknown type id %u", name_len,
                       t->name.ptr, t->type);
    int64_t count = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->ne[d] <= 0)
            return lm_fail(err, LM_E_FORMAT, "tensor '%.*s' has dimension %u of size %lld",
                           name_len, t->name.ptr, d, (long long)t->ne[d]);
        if (count > INT64_MAX / t->ne[d])
            return lm_fail(err, LM_E_FORMAT, "tensor '%.*s' element count overflows", name_len,
                           t->name.ptr);
        count *= t->ne[d];
    }
    if (t->ne[0] % tt->block_size != 0)
        return lm_fail(err, LM_E_FORMAT,
                       "tensor '%.*s': row length %lld is not a multiple of the %s block size %lld",
                       name_len, t->name.ptr, (long long)t->ne[0], tt->name,
                       (long long)tt->block_size);
    uint64_t blocks = (uint64_t)(count / tt->block_size);
    if (blocks > UINT64_MAX / tt->block_bytes)
        return lm_fail(err, LM_E_FORMAT, "tensor '%.*s' byte size overflows", name_len, t->name.ptr);
    t->nbytes = blocks * tt->block_bytes;
    return LM_OK;
}

static lm_status read_tensor_info(cursor *c, gguf_tensor *t, uint64_t index) {
    char what[64];
    snprintf(what, sizeof what, "tensor info #%llu", (unsigned long long)index);
    if (!read_str(c, &t->name, what) || !read_u32(c, &t->n_dims, what))
        return c->err->code;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return lm_fail(c->err, LM_E_FORMAT, "tensor '%.*s' has %u dimensions (1 to 4 allowed)",
                       (int)(t->name.len > 80 ? 80 : t->name.len), t->name.ptr, t->n_dims);
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (!read_u64(c, &ne, what)) return c->err->code;
        t->ne[d] = ne > INT64_MAX ? -1 : (int64_t)ne;
    }
    if (!read_u32(c, &t->type, what) || !read_u64(c, &t->offset, what))
        return c->err->code;
    return check_shape(t, c->err);
}

static int compare_offsets(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensors must be aligned, inside the file and must not overlap. */
static lm_status place_tensors(gguf_file *f, lm_error *err) {
    const uint64_t data_size = f->size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        const int name_len = (int)(t->name.len > 80 ? 80 : t->name.len);
        if (t->offset % f->alignment != 0)
            return lm_fail(err, LM_E_FORMAT, "tensor '%.*s' offset %llu is not aligned to %llu",
                           name_len, t->name.ptr, (unsigned long long)t->offset,
                           (unsigned long long)f->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return lm_fail(err, LM_E_FORMAT,
                           "tensor '%.*s' (%llu bytes at data offset %llu) lies beyond the end of the "
                           "file (%llu data bytes): truncated download?",
                           name_len, t->name.ptr, (unsigned long long)t->nbytes,
                           (unsigned long long)t->offset, (unsigned long long)data_size);
        t->data = f->data + f->data_offset + t->offset;
    }
    if (f->n_tensors < 2) return LM_OK;
    gguf_tensor **order = malloc(f->n_tensors * sizeof *order);
    if (!order) return lm_fail(err, LM_E_MEMORY, "out of memory sorting %llu tensors",
                               (unsigned long long)f->n_tensors);
    for (uint64_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, f->n_tensors, sizeof *order, compare_offsets);
    lm_status status = LM_OK;
    for (uint64_t i = 1; i < f->n_tensors && status == LM_OK; i++)
        if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset)
            status = lm_fail(err, LM_E_FORMAT, "tensors '%.*s' and '%.*s' overlap",
                             (int)(order[i - 1]->name.len > 80 ? 80 : order[i - 1]->name.len),
                             order[i - 1]->name.ptr,
                             (int)(order[i]->name.len > 80 ? 80 : order[i]->name.len),
                             order[i]->name.ptr);
    free(order);
    return status;
}

static lm_status read_header(cursor *c, gguf_file *f) {
    char magic[4];
    if (c->size < 4 + 4 + 8 + 8)
        return lm_fail(c->err, LM_E_FORMAT, "not a GGUF file: only %zu bytes", c->size);
    read_bytes(c, magic, 4, "magic");
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return lm_fail(c->err, LM_E_FORMAT, "not a GGUF file: bad magic %02x %02x %02x %02x",
                       (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    read_u32(c, &f->version, "version");
    if (f->version == 1)
        return lm_fail(c->err, LM_E_UNSUPPORTED, "GGUF version 1 is obsolete: convert the model again");
    if (f->version != 2 && f->version != 3)
        return lm_fail(c->err, LM_E_UNSUPPORTED, "unsupported GGUF version %u%s", f->version,
                       f->version > 0xffff ? " (a big-endian file?)" : "");
    read_u64(c, &f->n_tensors, "tensor count");
    read_u64(c, &f->n_kv, "metadata count");
    /* Each key/value takes at least 12 bytes and each tensor info 28: larger
     * counts cannot fit, and refusing them early bounds the allocations. */
    if (f->n_kv > (c->size - c->pos) / 12)
        return lm_fail(c->err, LM_E_FORMAT, "GGUF claims %llu metadata entries, more than the file can hold",
                       (unsigned long long)f->n_kv);
    if (f->n_tensors > (c->size - c->pos) / 28)
        return lm_fail(c->err, LM_E_FORMAT, "GGUF claims %llu tensors, more than the file can hold",
                       (unsigned long long)f->n_tensors);
    return LM_OK;
}

static lm_status parse(gguf_file *f, cursor *c) {
    lm_status s = read_header(c, f);
    if (s != LM_OK) return s;
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return lm_fail(c->err, LM_E_MEMORY, "out of memory reading GGUF tables");
    if ((s = read_metadata(c, f)) != LM_OK || (s = read_alignment(f, c->err)) != LM_OK) return s;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if ((s = read_tensor_info(c, &f->tensors[i], i)) != LM_OK) return s;
    if ((s = check_unique(&f->tensors[0].name, sizeof f->tensors[0], f->n_tensors, "tensor name", c->err)) != LM_OK)
        return s;
    uint64_t pad = (f->alignment - c->pos % f->alignment) % f->alignment;
    f->data_offset = c->pos + pad;
    if (f->data_offset > f->size) {
        if (f->n_tensors == 0) {
            f->data_offset = f->size;
            return LM_OK;
        }
        return lm_fail(c->err, LM_E_FORMAT, "GGUF truncated before its tensor data");
    }
    return place_tensors(f, c->err);
}

lm_status gguf_parse(gguf_file *f, const uint8_t *data, size_t size, lm_error *err) {
    lm_error local;
    memset(f, 0, sizeof *f);
    if (!data) return lm_fail(err, LM_E_ARGUMENT, "no GGUF data");
    f->data = data;
    f->size = size;
    cursor c = {data, size, 0, err ? err : &local};
    lm_status s = parse(f, &c);
    if (s != LM_OK) gguf_release(f);
    return s;
}

void gguf_release(gguf_file *f) {
    free(f->kv);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

int gguf_str_eq(gguf_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int64_t gguf_arr_i64(gguf_type elem, const uint8_t *first, uint64_t i) {
    const uint8_t *p = first + i * type_sizes[elem];
    switch (elem) {
    case GGUF_UINT8: case GGUF_BOOL: return *p;
    case GGUF_INT8: return (int8_t)*p;
    case GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); return v > INT64_MAX ? INT64_MAX : (int64_t)v; }
    case GGUF_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return (int64_t)gguf_arr_f64(elem, first, i);
    }
}

double gguf_arr_f64(gguf_type elem, const uint8_t *first, uint64_t i) {
    const uint8_t *p = first + i * type_sizes[elem];
    if (elem == GGUF_FLOAT32) { float v; memcpy(&v, p, 4); return v; }
    if (elem == GGUF_FLOAT64) { double v; memcpy(&v, p, 8); return v; }
    return (double)gguf_arr_i64(elem, first, i);
}

static int is_integer(gguf_type t) {
    return t <= GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (!is_integer(kv->type)) return -1;
    int64_t v = gguf_arr_i64(kv->type, kv->value, 0);
    if (v < 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 1;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_FLOAT32 && kv->type != GGUF_FLOAT64 && !is_integer(kv->type)) return -1;
    *out = (float)gguf_arr_f64(kv->type, kv->value, 0);
    return 1;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_BOOL) return -1;
    *out = kv->value[0] != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING) return -1;
    gguf_next_str(kv->value, out);
    return 1;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem, const uint8_t **first,
                 uint64_t *n) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_ARRAY || kv->arr_type != elem) return -1;
    *first = kv->value;
    *n = kv->arr_n;
    return 1;
}

const uint8_t *gguf_next_str(const uint8_t *p, gguf_str *out) {
    memcpy(&out->len, p, 8);
    out->ptr = (const char *)p + 8;
    return p + 8 + out->len;
}
