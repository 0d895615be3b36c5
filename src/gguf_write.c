#include "gguf_write.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "quant.h"
#include "threadpool.h"

/* A metadata pair, kept serialized: value holds the bytes that follow the
 * key in the file (type id, then the value or array header and elements). */
typedef struct writer_kv {
    char *key;
    uint8_t *value;
    size_t value_len;
} writer_kv;

typedef struct writer_tensor {
    char *name;
    lm_type type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    uint64_t offset; /* from the start of the data section, set when writing */
    const void *data;
    gguf_row_fn row;
    void *user;
} writer_tensor;

struct gguf_writer {
    writer_kv *kv;
    size_t n_kv, cap_kv;
    writer_tensor *tensors;
    size_t n_tensors, cap_tensors;
    int n_threads;
};

/* llama.cpp's GGML_MAX_NAME is 64 bytes including the terminating NUL. */
#define MAX_TENSOR_NAME 63

gguf_writer *gguf_writer_new(void) {
    gguf_writer *w = calloc(1, sizeof(gguf_writer));
    if (w) gguf_writer_set_threads(w, 0);
    return w;
}

void gguf_writer_set_threads(gguf_writer *w, int n_threads) {
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    w->n_threads = n_threads < 1 ? 1 : n_threads > 64 ? 64 : n_threads;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].value);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w);
}

/* strdup is POSIX, not C11. */
static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}

/* Grows *items (of size elem) so that one more fits. */
static int grow(void **items, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 1;
    size_t new_cap = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, new_cap * elem);
    if (!p) return 0;
    *items = p;
    *cap = new_cap;
    return 1;
}

/* ---- metadata --------------------------------------------------------- */

/* Stores key = the serialized value (takes ownership of value). */
static lm_status put_kv(gguf_writer *w, const char *key, uint8_t *value, size_t len,
                        lm_error *err) {
    if (!key || !*key) {
        free(value);
        return lm_fail(err, LM_E_ARGUMENT, "GGUF metadata key must be a non-empty string");
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].value);
            w->kv[i].value = value;
            w->kv[i].value_len = len;
            return LM_OK;
        }
    }
    char *k = copy_str(key);
    if (!k || !grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) {
        free(k);
        free(value);
        return lm_fail(err, LM_E_MEMORY, "out of memory adding GGUF key '%s'", key);
    }
    w->kv[w->n_kv++] = (writer_kv){k, value, len};
    return LM_OK;
}

/* Serializes type id + header (header_len bytes) + payload into one buffer. */
static lm_status put_value(gguf_writer *w, const char *key, gguf_type type,
                           const void *header, size_t header_len,
                           const void *payload, size_t payload_len, lm_error *err) {
    uint32_t t = type;
    size_t len = 4 + header_len + payload_len;
    uint8_t *buf = malloc(len);
    if (!buf) return lm_fail(err, LM_E_MEMORY, "out of memory for GGUF key '%s' (%zu bytes)", key, len);
    memcpy(buf, &t, 4);
    if (header_len) memcpy(buf + 4, header, header_len);
    if (payload_len) memcpy(buf + 4 + header_len, payload, payload_len);
    return put_kv(w, key, buf, len, err);
}

static lm_status set_scalar(gguf_writer *w, const char *key, gguf_type type, const void *v,
                            lm_error *err) {
    return put_value(w, key, type, NULL, 0, v, gguf_type_size(type), err);
}

lm_status gguf_set_u8(gguf_writer *w, const char *key, uint8_t v, lm_error *err) { return set_scalar(w, key, GGUF_UINT8, &v, err); }
lm_status gguf_set_i8(gguf_writer *w, const char *key, int8_t v, lm_error *err) { return set_scalar(w, key, GGUF_INT8, &v, err); }
lm_status gguf_set_u16(gguf_writer *w, const char *key, uint16_t v, lm_error *err) { return set_scalar(w, key, GGUF_UINT16, &v, err); }
lm_status gguf_set_i16(gguf_writer *w, const char *key, int16_t v, lm_error *err) { return set_scalar(w, key, GGUF_INT16, &v, err); }
lm_status gguf_set_u32(gguf_writer *w, const char *key, uint32_t v, lm_error *err) { return set_scalar(w, key, GGUF_UINT32, &v, err); }
lm_status gguf_set_i32(gguf_writer *w, const char *key, int32_t v, lm_error *err) { return set_scalar(w, key, GGUF_INT32, &v, err); }
lm_status gguf_set_u64(gguf_writer *w, const char *key, uint64_t v, lm_error *err) { return set_scalar(w, key, GGUF_UINT64, &v, err); }
lm_status gguf_set_i64(gguf_writer *w, const char *key, int64_t v, lm_error *err) { return set_scalar(w, key, GGUF_INT64, &v, err); }
lm_status gguf_set_f32(gguf_writer *w, const char *key, float v, lm_error *err) { return set_scalar(w, key, GGUF_FLOAT32, &v, err); }
lm_status gguf_set_f64(gguf_writer *w, const char *key, double v, lm_error *err) { return set_scalar(w, key, GGUF_FLOAT64, &v, err); }

lm_status gguf_set_bool(gguf_writer *w, const char *key, int v, lm_error *err) {
    uint8_t b = v != 0;
    return set_scalar(w, key, GGUF_BOOL, &b, err);
}

lm_status gguf_set_str(gguf_writer *w, const char *key, const char *v, lm_error *err) {
    uint64_t len = strlen(v);
    return put_value(w, key, GGUF_STRING, &len, 8, v, len, err);
}

/* The array header: element type and count. */
static void arr_header(uint8_t out[12], gguf_type elem, uint64_t n) {
    uint32_t e = elem;
    memcpy(out, &e, 4);
    memcpy(out + 4, &n, 8);
}

lm_status gguf_set_arr(gguf_writer *w, const char *key, gguf_type elem, const void *data,
                       uint64_t n, lm_error *err) {
    size_t size = elem < GGUF_TYPE_COUNT ? gguf_type_size(elem) : 0;
    if (size == 0)
        return lm_fail(err, LM_E_ARGUMENT, "GGUF key '%s': gguf_set_arr takes numeric elements, not type %d",
                       key, (int)elem);
    if (n > SIZE_MAX / size)
        return lm_fail(err, LM_E_ARGUMENT, "GGUF key '%s': array of %llu elements is too large", key,
                       (unsigned long long)n);
    uint8_t header[12];
    arr_header(header, elem, n);
    return put_value(w, key, GGUF_ARRAY, header, sizeof header, data, (size_t)(n * size), err);
}

lm_status gguf_set_str_arr(gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                           lm_error *err) {
    size_t len = 12;
    for (uint64_t i = 0; i < n; i++) len += 8 + strlen(v[i]);
    uint8_t *payload = malloc(len);
    if (!payload) return lm_fail(err, LM_E_MEMORY, "out of memory for GGUF key '%s' (%zu bytes)", key, len);
    arr_header(payload, GGUF_STRING, n);
    uint8_t *p = payload + 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l = strlen(v[i]);
        memcpy(p, &l, 8);
        memcpy(p + 8, v[i], l);
        p += 8 + l;
    }
    lm_status s = put_value(w, key, GGUF_ARRAY, NULL, 0, payload, len, err);
    free(payload);
    return s;
}

/* Bytes of a parsed value starting at kv->value (for arrays: the elements). */
static size_t parsed_value_len(const gguf_kv *kv) {
    gguf_type t = kv->type == GGUF_ARRAY ? kv->arr_type : kv->type;
    uint64_t n = kv->type == GGUF_ARRAY ? kv->arr_n : 1;
    if (t != GGUF_STRING) return (size_t)(n * gguf_type_size(t));
    const uint8_t *p = kv->value;
    gguf_str s;
    for (uint64_t i = 0; i < n; i++) p = gguf_next_str(p, &s);
    return (size_t)(p - kv->value);
}

lm_status gguf_copy_kv(gguf_writer *w, const gguf_kv *kv, lm_error *err) {
    if (!kv) return lm_fail(err, LM_E_ARGUMENT, "no GGUF key/value pair to copy");
    char key[256];
    if (kv->key.len >= sizeof key)
        return lm_fail(err, LM_E_UNSUPPORTED, "GGUF key of %llu bytes is too long to copy",
                       (unsigned long long)kv->key.len);
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_ARRAY)
        return lm_fail(err, LM_E_UNSUPPORTED, "GGUF key '%s': nested arrays cannot be copied", key);
    uint8_t header[12];
    size_t header_len = 0;
    if (kv->type == GGUF_ARRAY) {
        arr_header(header, kv->arr_type, kv->arr_n);
        header_len = sizeof header;
    }
    return put_value(w, key, kv->type, header, header_len, kv->value, parsed_value_len(kv), err);
}

lm_status gguf_copy_kv_prefix(gguf_writer *w, const gguf_file *src, const char *prefix,
                              lm_error *err) {
    size_t plen = strlen(prefix);
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *kv = &src->kv[i];
        if (kv->key.len < plen || memcmp(kv->key.ptr, prefix, plen) != 0) continue;
        lm_status s = gguf_copy_kv(w, kv, err);
        if (s != LM_OK) return s;
    }
    return LM_OK;
}

/* ---- tensors ---------------------------------------------------------- */

static lm_status check_tensor(const gguf_writer *w, const char *name, lm_type type,
                              uint32_t n_dims, const int64_t *ne, uint64_t *nbytes,
                              lm_error *err) {
    if (!name || !*name || strlen(name) > MAX_TENSOR_NAME)
        return lm_fail(err, LM_E_ARGUMENT, "tensor name '%s' must have 1 to %d bytes",
                       name ? name : "(null)", MAX_TENSOR_NAME);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return lm_fail(err, LM_E_ARGUMENT, "tensor '%s' added twice", name);
    const lm_type_traits *tt = lm_type_info(type);
    if (!tt) return lm_fail(err, LM_E_ARGUMENT, "tensor '%s': unknown type id %d", name, (int)type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return lm_fail(err, LM_E_ARGUMENT, "tensor '%s': %u dimensions (1 to %d allowed)", name,
                       n_dims, GGUF_MAX_DIMS);
    uint64_t count = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || (uint64_t)ne[d] > (UINT64_MAX >> 8) / count)
            return lm_fail(err, LM_E_ARGUMENT, "tensor '%s': dimension %u is %lld", name, d,
                           (long long)ne[d]);
        count *= (uint64_t)ne[d];
    }
    if (ne[0] % tt->block_size != 0)
        return lm_fail(err, LM_E_ARGUMENT, "tensor '%s': row of %lld elements is not a multiple of %s's block size %lld",
                       name, (long long)ne[0], tt->name, (long long)tt->block_size);
    *nbytes = count / tt->block_size * tt->block_bytes;
    return LM_OK;
}

static lm_status add_tensor(gguf_writer *w, writer_tensor t, const int64_t *ne, lm_error *err) {
    lm_status s = check_tensor(w, t.name, t.type, t.n_dims, ne, &t.nbytes, err);
    if (s != LM_OK) return s;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < t.n_dims ? ne[d] : 1;
    t.name = copy_str(t.name);
    if (!t.name || !grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors)) {
        free(t.name);
        return lm_fail(err, LM_E_MEMORY, "out of memory adding a tensor");
    }
    w->tensors[w->n_tensors++] = t;
    return LM_OK;
}

lm_status gguf_add_tensor(gguf_writer *w, const char *name, lm_type type, uint32_t n_dims,
                          const int64_t *ne, const void *data, lm_error *err) {
    writer_tensor t = {.name = (char *)name, .type = type, .n_dims = n_dims, .data = data};
    return add_tensor(w, t, ne, err);
}

lm_status gguf_add_tensor_rows(gguf_writer *w, const char *name, lm_type type, uint32_t n_dims,
                               const int64_t *ne, gguf_row_fn row, void *user, lm_error *err) {
    if (!lm_type_info(type) || !lm_type_info(type)->supported)
        return lm_fail(err, LM_E_ARGUMENT, "tensor '%s': cannot quantize to type id %d", name, (int)type);
    writer_tensor t = {.name = (char *)name, .type = type, .n_dims = n_dims, .row = row, .user = user};
    return add_tensor(w, t, ne, err);
}

/* ---- writing ---------------------------------------------------------- */

typedef struct out_file {
    FILE *fp;
    const char *path; /* the temporary path, for messages */
    uint64_t pos;
    lm_error *err;
} out_file;

static lm_status put(out_file *o, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, o->fp) != n)
        return lm_fail(o->err, LM_E_IO, "cannot write %s: write failed at byte %llu: %s", o->path,
                       (unsigned long long)o->pos, strerror(errno));
    o->pos += n;
    return LM_OK;
}

static lm_status put_u32(out_file *o, uint32_t v) { return put(o, &v, 4); }
static lm_status put_u64(out_file *o, uint64_t v) { return put(o, &v, 8); }

static lm_status put_padding(out_file *o, uint64_t alignment) {
    static const uint8_t zeros[64];
    uint64_t pad = (alignment - o->pos % alignment) % alignment;
    while (pad) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        lm_status s = put(o, zeros, n);
        if (s != LM_OK) return s;
        pad -= n;
    }
    return LM_OK;
}

static lm_status writer_alignment(const gguf_writer *w, uint64_t *alignment, lm_error *err) {
    *alignment = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        uint32_t type, a = 0;
        memcpy(&type, w->kv[i].value, 4);
        if (type == GGUF_UINT32) memcpy(&a, w->kv[i].value + 4, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return lm_fail(err, LM_E_ARGUMENT, "general.alignment must be a power-of-two uint32");
        *alignment = a;
    }
    return LM_OK;
}

/* Header, metadata and tensor infos, assigning each tensor its offset. */
static lm_status put_header(out_file *o, gguf_writer *w, uint64_t alignment) {
    lm_status s;
    if ((s = put(o, GGUF_MAGIC, 4)) || (s = put_u32(o, 3)) ||
        (s = put_u64(o, w->n_tensors)) || (s = put_u64(o, w->n_kv)))
        return s;
    for (size_t i = 0; i < w->n_kv; i++) {
        const writer_kv *kv = &w->kv[i];
        if ((s = put_u64(o, strlen(kv->key))) || (s = put(o, kv->key, strlen(kv->key))) ||
            (s = put(o, kv->value, kv->value_len)))
            return s;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        writer_tensor *t = &w->tensors[i];
        t->offset = offset;
        offset += (t->nbytes + alignment - 1) / alignment * alignment;
        if ((s = put_u64(o, strlen(t->name))) || (s = put(o, t->name, strlen(t->name))) ||
            (s = put_u32(o, t->n_dims)))
            return s;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if ((s = put_u64(o, (uint64_t)t->ne[d]))) return s;
        if ((s = put_u32(o, t->type)) || (s = put_u64(o, t->offset))) return s;
    }
    return put_padding(o, alignment);
}

/* Rows of one tensor converted by the thread pool into dst. */
typedef struct rows_job {
    const writer_tensor *t;
    uint8_t *dst;
    float *bufs;       /* 2 * ne[0] floats per thread */
    atomic_long next;  /* rows taken so far */
} rows_job;

/* Threads take rows one at a time (see lm_task_fn). */
static void convert_rows(void *arg, int ith, int nth) {
    rows_job *job = arg;
    const writer_tensor *t = job->t;
    int64_t n = t->ne[0];
    size_t row_bytes = lm_row_bytes(t->type, n);
    float *out = job->bufs + (size_t)ith * 2 * (size_t)n;
    const long rows = (long)(t->ne[1] * t->ne[2] * t->ne[3]);
    for (long r; (r = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed)) < rows;) {
        t->row(t->user, r, out, out + n);
        lm_quantize_row(t->type, out, job->dst + (size_t)r * row_bytes, n);
    }
}

static lm_status put_tensor_data(out_file *o, gguf_writer *w, uint64_t alignment) {
    size_t max_bytes = 0, max_row = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        if (!t->row) continue;
        if (t->nbytes > max_bytes) max_bytes = t->nbytes;
        if ((size_t)t->ne[0] > max_row) max_row = (size_t)t->ne[0];
    }
    lm_pool *pool = max_bytes && w->n_threads > 1 ? lm_pool_new(w->n_threads) : NULL;
    int nth = lm_pool_size(pool);
    rows_job job = {0};
    job.dst = max_bytes ? malloc(max_bytes) : NULL;
    job.bufs = max_bytes ? malloc((size_t)nth * 2 * max_row * sizeof(float)) : NULL;
    lm_status s = LM_OK;
    if (max_bytes && (!job.dst || !job.bufs))
        s = lm_fail(o->err, LM_E_MEMORY, "out of memory for a %zu-byte tensor buffer", max_bytes);
    for (size_t i = 0; i < w->n_tensors && s == LM_OK; i++) {
        const writer_tensor *t = &w->tensors[i];
        const void *data = t->data;
        if (t->row) {
            job.t = t;
            atomic_store(&job.next, 0);
            lm_pool_run(pool, convert_rows, &job);
            data = job.dst;
        }
        s = put(o, data, t->nbytes);
        if (s == LM_OK) s = put_padding(o, alignment);
    }
    free(job.dst);
    free(job.bufs);
    lm_pool_free(pool);
    return s;
}

lm_status gguf_write_file(gguf_writer *w, const char *path, lm_error *err) {
    uint64_t alignment;
    lm_status s = writer_alignment(w, &alignment, err);
    if (s != LM_OK) return s;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return lm_fail(err, LM_E_ARGUMENT, "output path is too long");
    out_file o = {fopen(tmp, "wb"), tmp, 0, err};
    if (!o.fp) return lm_fail(err, LM_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    s = put_header(&o, w, alignment);
    if (s == LM_OK) s = put_tensor_data(&o, w, alignment);
    if (fclose(o.fp) != 0 && s == LM_OK)
        s = lm_fail(err, LM_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (s == LM_OK && rename(tmp, path) != 0)
        s = lm_fail(err, LM_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != LM_OK) remove(tmp);
    return s;
}

/* ---- reading the input of a tool -------------------------------------- */

lm_status gguf_map_file(const char *path, gguf_mapped *out, lm_error *err) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lm_fail(err, LM_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    lm_status s = LM_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = lm_fail(err, LM_E_IO, "%s is not a regular file", path);
    } else if (st.st_size == 0) {
        s = lm_fail(err, LM_E_FORMAT, "%s is empty", path);
    } else {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            s = lm_fail(err, LM_E_IO, "cannot map %s: %s", path, strerror(errno));
        } else {
            out->data = p;
            out->size = (size_t)st.st_size;
        }
    }
    close(fd);
    if (s == LM_OK && (s = gguf_parse(&out->file, out->data, out->size, err)) != LM_OK && err) {
        char why[sizeof err->message];
        memcpy(why, err->message, sizeof why);
        lm_fail(err, s, "%s: %s", path, why);
    }
    if (s != LM_OK) gguf_unmap_file(out);
    return s;
}

void gguf_unmap_file(gguf_mapped *m) {
    gguf_release(&m->file);
    if (m->data) munmap(m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* ---- tensor-type policy ----------------------------------------------- */

/* file_type values are llama.cpp's llama_ftype; a lone K type is its _S
 * variant (Q2_K has no _S in older files, so it is MOSTLY_Q2_K). */
static const lm_ftype ftypes[] = {
    {"F32", LM_TYPE_F32, 0, 0},     {"F16", LM_TYPE_F16, 0, 1},     {"BF16", LM_TYPE_BF16, 0, 32},
    {"Q8_0", LM_TYPE_Q8_0, 0, 7},   {"Q4_0", LM_TYPE_Q4_0, 0, 2},   {"Q4_1", LM_TYPE_Q4_1, 0, 3},
    {"Q5_0", LM_TYPE_Q5_0, 0, 8},   {"Q5_1", LM_TYPE_Q5_1, 0, 9},   {"Q2_K", LM_TYPE_Q2_K, 0, 10},
    {"Q3_K", LM_TYPE_Q3_K, 0, 11},  {"Q4_K", LM_TYPE_Q4_K, 0, 14},  {"Q5_K", LM_TYPE_Q5_K, 0, 16},
    {"Q6_K", LM_TYPE_Q6_K, 0, 18},  {"Q4_K_M", LM_TYPE_Q4_K, 1, 15},
};

const lm_ftype *lm_ftype_from_name(const char *name) {
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (strcasecmp(ftypes[i].name, name) == 0) return &ftypes[i];
    return NULL;
}

const char *lm_ftype_names(void) {
    return "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M";
}

/* llama.cpp's rule for which layers of a Q4_K_M model get more bits: the
 * first and last eighth, and every third layer in between. */
static int use_more_bits(int i_layer, int n_layer) {
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

static int layer_of(const char *name) {
    int i;
    return sscanf(name, "blk.%d.", &i) == 1 ? i : -1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The Q4_K_M mix, before the block-size fallback. */
static lm_type q4_k_m_type(const char *name, int n_layer, int has_output) {
    int is_output = strcmp(name, "output.weight") == 0 ||
                    (!has_output && strcmp(name, "token_embd.weight") == 0);
    if (is_output) return LM_TYPE_Q6_K;
    int layer = layer_of(name);
    if ((strstr(name, "attn_v.weight") || strstr(name, "ffn_down")) && layer >= 0 &&
        use_more_bits(layer, n_layer))
        return LM_TYPE_Q6_K;
    return LM_TYPE_Q4_K;
}

/* llama.cpp falls back to IQ4_NL for Q2_K/Q3_K; we have no IQ4_NL kernels,
 * so Q4_0 (same block size) takes its place. */
static lm_type fallback_type(lm_type t) {
    switch (t) {
    case LM_TYPE_Q2_K:
    case LM_TYPE_Q3_K: return LM_TYPE_Q4_0;
    case LM_TYPE_Q4_K: return LM_TYPE_Q5_0;
    case LM_TYPE_Q5_K: return LM_TYPE_Q5_1;
    case LM_TYPE_Q6_K: return LM_TYPE_Q8_0;
    default: return LM_TYPE_F16;
    }
}

lm_type lm_pick_tensor_type(const lm_ftype *ft, const char *name, uint32_t n_dims,
                            const int64_t *ne, int n_layer, int has_output) {
    if (n_dims < 2 || !ends_with(name, "weight")) return LM_TYPE_F32;
    lm_type t = ft->q4_k_m ? q4_k_m_type(name, n_layer, has_output) : ft->base;
    const lm_type_traits *tt = lm_type_info(t);
    if (ne[0] % tt->block_size == 0) return t;
    t = fallback_type(t);
    return ne[0] % lm_type_info(t)->block_size == 0 ? t : LM_TYPE_F16;
}
