/* The GGUF writer: a file with every value type and several tensors reads
 * back identically through gguf_parse; kv pairs copy between files; writes
 * that fail leave nothing behind; the tensor-type policy follows llama.cpp. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"

static uint8_t *read_whole(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static const float f32_data[2 * 3] = {1, -2, 3.5f, 0, 1e-3f, -7};
static uint8_t q8_data[4 * 34]; /* 4 rows of one Q8_0 block */

/* A gguf_row_fn: row r of a tensor whose element i of row r is 10r + i. */
static void counting_row(void *user, int64_t r, float *out, float *scratch) {
    int64_t n = *(const int64_t *)user;
    for (int64_t i = 0; i < n; i++) out[i] = (float)(10 * r + i);
}

static const int64_t c_ne[3] = {5, 1, 3};

static gguf_writer *build_writer(void) {
    gguf_writer *w = gguf_writer_new();
    lm_error err = {0};
    static const int32_t ints[] = {1, -2, 3};
    static const float floats[] = {0.5f, -1.5f};
    static const uint8_t bools[] = {1, 0, 1};
    static const char *const strs[] = {"alpha", "", "g\xc3\xa9nial"};
    int ok = 1;
    ok &= gguf_set_u8(w, "t.u8", 200, &err) == LM_OK;
    ok &= gguf_set_i8(w, "t.i8", -100, &err) == LM_OK;
    ok &= gguf_set_u16(w, "t.u16", 60000, &err) == LM_OK;
    ok &= gguf_set_i16(w, "t.i16", -30000, &err) == LM_OK;
    ok &= gguf_set_u32(w, "t.u32", 4000000000u, &err) == LM_OK;
    ok &= gguf_set_i32(w, "t.i32", -2000000000, &err) == LM_OK;
    ok &= gguf_set_u64(w, "t.u64", 1ull << 40, &err) == LM_OK;
    ok &= gguf_set_i64(w, "t.i64", -(1ll << 40), &err) == LM_OK;
    ok &= gguf_set_f32(w, "t.f32", 0.25f, &err) == LM_OK;
    ok &= gguf_set_f64(w, "t.f64", -1.0 / 3, &err) == LM_OK;
    ok &= gguf_set_bool(w, "t.bool", 1, &err) == LM_OK;
    ok &= gguf_set_str(w, "t.str", "placeholder", &err) == LM_OK;
    ok &= gguf_set_str(w, "t.str", "hello", &err) == LM_OK; /* replaces */
    ok &= gguf_set_arr(w, "t.arr_i32", GGUF_INT32, ints, 3, &err) == LM_OK;
    ok &= gguf_set_arr(w, "t.arr_f32", GGUF_FLOAT32, floats, 2, &err) == LM_OK;
    ok &= gguf_set_arr(w, "t.arr_bool", GGUF_BOOL, bools, 3, &err) == LM_OK;
    ok &= gguf_set_arr(w, "t.arr_empty", GGUF_UINT64, NULL, 0, &err) == LM_OK;
    ok &= gguf_set_str_arr(w, "t.arr_str", strs, 3, &err) == LM_OK;
    for (size_t i = 0; i < sizeof q8_data; i++) q8_data[i] = (uint8_t)(i * 13);
    ok &= gguf_add_tensor(w, "a.f32", LM_TYPE_F32, 2, (int64_t[]){3, 2}, f32_data, &err) == LM_OK;
    ok &= gguf_add_tensor(w, "b.q8", LM_TYPE_Q8_0, 2, (int64_t[]){32, 4}, q8_data, &err) == LM_OK;
    ok &= gguf_add_tensor_rows(w, "c.f16", LM_TYPE_F16, 3, c_ne, counting_row, (void *)&c_ne[0],
                               &err) == LM_OK;
    CHECK(ok, "building the writer: %s", err.message);
    return w;
}

static void check_scalars(const gguf_file *f) {
    const gguf_kv *kv;
    uint32_t u32;
    CHECK(f->version == 3 && f->n_kv == 17 && f->n_tensors == 3, "counts %llu kv %llu tensors",
          (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors);
    kv = gguf_find_kv(f, "t.u8");
    CHECK(kv && kv->type == GGUF_UINT8 && kv->value[0] == 200, "u8");
    kv = gguf_find_kv(f, "t.i8");
    CHECK(kv && kv->type == GGUF_INT8 && (int8_t)kv->value[0] == -100, "i8");
    kv = gguf_find_kv(f, "t.u16");
    CHECK(kv && kv->type == GGUF_UINT16 && gguf_arr_i64(GGUF_UINT16, kv->value, 0) == 60000, "u16");
    kv = gguf_find_kv(f, "t.i16");
    CHECK(kv && kv->type == GGUF_INT16 && gguf_arr_i64(GGUF_INT16, kv->value, 0) == -30000, "i16");
    CHECK(gguf_get_u32(f, "t.u32", &u32) == 1 && u32 == 4000000000u, "u32");
    kv = gguf_find_kv(f, "t.i32");
    CHECK(kv && kv->type == GGUF_INT32 && gguf_arr_i64(GGUF_INT32, kv->value, 0) == -2000000000, "i32");
    kv = gguf_find_kv(f, "t.u64");
    CHECK(kv && kv->type == GGUF_UINT64 && gguf_arr_i64(GGUF_UINT64, kv->value, 0) == 1ll << 40, "u64");
    kv = gguf_find_kv(f, "t.i64");
    CHECK(kv && kv->type == GGUF_INT64 && gguf_arr_i64(GGUF_INT64, kv->value, 0) == -(1ll << 40), "i64");
    float f32;
    CHECK(gguf_get_f32(f, "t.f32", &f32) == 1 && f32 == 0.25f, "f32");
    kv = gguf_find_kv(f, "t.f64");
    CHECK(kv && kv->type == GGUF_FLOAT64 && gguf_arr_f64(GGUF_FLOAT64, kv->value, 0) == -1.0 / 3, "f64");
    int b;
    CHECK(gguf_get_bool(f, "t.bool", &b) == 1 && b == 1, "bool");
    gguf_str s;
    CHECK(gguf_get_str(f, "t.str", &s) == 1 && gguf_str_eq(s, "hello"), "str replaced in place");
    CHECK(gguf_str_eq(f->kv[11].key, "t.str"), "a replaced key keeps its position");
}

static void check_arrays(const gguf_file *f) {
    const uint8_t *first;
    uint64_t n;
    CHECK(gguf_get_arr(f, "t.arr_i32", GGUF_INT32, &first, &n) == 1 && n == 3 &&
              gguf_arr_i64(GGUF_INT32, first, 1) == -2, "i32 array");
    CHECK(gguf_get_arr(f, "t.arr_f32", GGUF_FLOAT32, &first, &n) == 1 && n == 2 &&
              gguf_arr_f64(GGUF_FLOAT32, first, 1) == -1.5, "f32 array");
    CHECK(gguf_get_arr(f, "t.arr_bool", GGUF_BOOL, &first, &n) == 1 && n == 3 && first[2] == 1,
          "bool array");
    CHECK(gguf_get_arr(f, "t.arr_empty", GGUF_UINT64, &first, &n) == 1 && n == 0, "empty array");
    CHECK(gguf_get_arr(f, "t.arr_str", GGUF_STRING, &first, &n) == 1 && n == 3, "string array");
    gguf_str s[3];
    for (int i = 0; i < 3 && n == 3; i++) first = gguf_next_str(first, &s[i]);
    CHECK(n == 3 && gguf_str_eq(s[0], "alpha") && s[1].len == 0 && gguf_str_eq(s[2], "g\xc3\xa9nial"),
          "string array elements");
}

static void check_tensors(const gguf_file *f) {
    const gguf_tensor *t = gguf_find_tensor(f, "a.f32");
    CHECK(t && t->type == LM_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 3 && t->ne[1] == 2 &&
              t->nbytes == sizeof f32_data && memcmp(t->data, f32_data, sizeof f32_data) == 0,
          "f32 tensor");
    t = gguf_find_tensor(f, "b.q8");
    CHECK(t && t->type == LM_TYPE_Q8_0 && t->ne[0] == 32 && t->ne[1] == 4 &&
              t->nbytes == sizeof q8_data && memcmp(t->data, q8_data, sizeof q8_data) == 0,
          "q8_0 tensor");
    t = gguf_find_tensor(f, "c.f16");
    int ok = t && t->type == LM_TYPE_F16 && t->n_dims == 3 && t->ne[2] == 3 && t->nbytes == 30;
    for (int64_t i = 0; ok && i < 15; i++)
        ok = lm_f16_to_f32((uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8)) == (float)(10 * (i / 5) + i % 5);
    CHECK(ok, "f16 tensor made of rows");
    for (uint64_t i = 0; i < f->n_tensors; i++)
        CHECK((f->data_offset + f->tensors[i].offset) % 32 == 0, "tensor %llu aligned",
              (unsigned long long)i);
}

static void test_round_trip(const char *path, const char *copy_path) {
    gguf_writer *w = build_writer();
    lm_error err = {0};
    CHECK(gguf_write_file(w, path, &err) == LM_OK, "write: %s", err.message);
    gguf_writer_free(w);

    size_t size;
    uint8_t *bytes = read_whole(path, &size);
    gguf_file f = {0};
    CHECK(bytes && gguf_parse(&f, bytes, size, &err) == LM_OK, "parse: %s", err.message);
    if (f.n_kv) {
        check_scalars(&f);
        check_arrays(&f);
        check_tensors(&f);
    }

    /* Copying every pair gives back the same metadata bytes. */
    gguf_writer *c = gguf_writer_new();
    CHECK(gguf_copy_kv_prefix(c, &f, "t.arr", &err) == LM_OK, "copy prefix: %s", err.message);
    CHECK(gguf_copy_kv(c, gguf_find_kv(&f, "t.str"), &err) == LM_OK, "copy: %s", err.message);
    CHECK(gguf_copy_kv(c, gguf_find_kv(&f, "t.absent"), &err) == LM_E_ARGUMENT, "copy of an absent key");
    CHECK(gguf_write_file(c, copy_path, &err) == LM_OK, "write copy: %s", err.message);
    gguf_writer_free(c);
    size_t csize;
    uint8_t *cbytes = read_whole(copy_path, &csize);
    gguf_file g = {0};
    CHECK(cbytes && gguf_parse(&g, cbytes, csize, &err) == LM_OK, "parse copy: %s", err.message);
    CHECK(g.n_kv == 6 && g.n_tensors == 0, "copy has %llu kv", (unsigned long long)g.n_kv);
    if (g.n_kv == 6) check_arrays(&g);
    gguf_str s;
    CHECK(gguf_get_str(&g, "t.str", &s) == 1 && gguf_str_eq(s, "hello"), "copied string");
    gguf_release(&g);
    gguf_release(&f);
    free(cbytes);
    free(bytes);
}

static void test_failures(const char *dir) {
    gguf_writer *w = build_writer();
    lm_error err = {0};
    CHECK(gguf_write_file(w, "/nonexistent-dir/x.gguf", &err) == LM_E_IO &&
              strstr(err.message, "/nonexistent-dir/x.gguf"), "unwritable path: %s", err.message);

    /* A disk that fills up mid-write: a file size limit makes write fail. */
    char path[4096];
    snprintf(path, sizeof path, "%s/test_gguf_write_fail.gguf", dir);
    remove(path);
    struct rlimit old_limit, limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    limit = old_limit;
    limit.rlim_cur = 100;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0, "setrlimit");
    CHECK(gguf_write_file(w, path, &err) == LM_E_IO && strstr(err.message, "cannot write"),
          "a write that fails: %s", err.message);
    setrlimit(RLIMIT_FSIZE, &old_limit);
    CHECK(!file_exists(path), "a failed write leaves no file");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    CHECK(!file_exists(tmp), "a failed write leaves no temporary file");
    CHECK(gguf_write_file(w, path, &err) == LM_OK, "the same write without the limit: %s", err.message);
    CHECK(file_exists(path) && !file_exists(tmp), "written under the final name only");
    remove(path);

    CHECK(gguf_add_tensor(w, "a.f32", LM_TYPE_F32, 1, (int64_t[]){1}, f32_data, &err) == LM_E_ARGUMENT,
          "duplicate tensor name");
    CHECK(gguf_add_tensor(w, "e", LM_TYPE_Q4_0, 1, (int64_t[]){33}, q8_data, &err) == LM_E_ARGUMENT &&
              strstr(err.message, "block size"), "row not a multiple of the block: %s", err.message);
    CHECK(gguf_add_tensor(w, "f", LM_TYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, f32_data, &err) == LM_E_ARGUMENT,
          "too many dims");
    CHECK(gguf_add_tensor(w, "g", LM_TYPE_F32, 2, (int64_t[]){4, 0}, f32_data, &err) == LM_E_ARGUMENT,
          "zero dim");
    CHECK(gguf_add_tensor(w, "h", (lm_type)5, 1, (int64_t[]){4}, f32_data, &err) == LM_E_ARGUMENT,
          "unknown type id");
    CHECK(gguf_set_u32(w, "", 1, &err) == LM_E_ARGUMENT, "empty key");
    CHECK(gguf_set_arr(w, "k", GGUF_STRING, NULL, 0, &err) == LM_E_ARGUMENT, "string elements via set_arr");
    CHECK(gguf_add_tensor_rows(w, "i", LM_TYPE_Q8_1, 1, (int64_t[]){32}, counting_row, NULL, &err) == LM_E_ARGUMENT,
          "rows of a type we cannot quantize to");
    CHECK(gguf_set_u16(w, "general.alignment", 64, &err) == LM_OK &&
              gguf_write_file(w, path, &err) == LM_E_ARGUMENT, "non-u32 alignment: %s", err.message);
    gguf_writer_free(w);
}

static void test_type_policy(void) {
    const lm_ftype *q4km = lm_ftype_from_name("q4_k_m");
    CHECK(q4km && q4km->file_type == 15, "Q4_K_M is llama_ftype 15");
    CHECK(!lm_ftype_from_name("Q7_0"), "unknown ftype");
    const int64_t wide[2] = {512, 512}, narrow[2] = {576, 576}, odd[2] = {40, 8};
    CHECK(lm_pick_tensor_type(q4km, "blk.0.attn_norm.weight", 1, wide, 8, 1) == LM_TYPE_F32, "norm stays F32");
    CHECK(lm_pick_tensor_type(q4km, "output.weight", 2, wide, 8, 1) == LM_TYPE_Q6_K, "output Q6_K");
    CHECK(lm_pick_tensor_type(q4km, "token_embd.weight", 2, wide, 8, 1) == LM_TYPE_Q4_K, "embd Q4_K");
    CHECK(lm_pick_tensor_type(q4km, "token_embd.weight", 2, wide, 8, 0) == LM_TYPE_Q6_K, "tied embd Q6_K");
    /* use_more_bits(i, 8): layers 0 and 7, and 3 and 6 ((i - 1) % 3 == 2). */
    int more[8];
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", i);
        more[i] = lm_pick_tensor_type(q4km, name, 2, wide, 8, 1) == LM_TYPE_Q6_K;
    }
    CHECK(more[0] && !more[1] && !more[2] && more[3] && !more[4] && !more[5] && more[6] && more[7],
          "use_more_bits layers");
    CHECK(lm_pick_tensor_type(q4km, "blk.1.attn_q.weight", 2, narrow, 8, 1) == LM_TYPE_Q5_0, "Q4_K falls back to Q5_0");
    CHECK(lm_pick_tensor_type(q4km, "output.weight", 2, narrow, 8, 1) == LM_TYPE_Q8_0, "Q6_K falls back to Q8_0");
    CHECK(lm_pick_tensor_type(lm_ftype_from_name("Q5_K"), "x.weight", 2, narrow, 8, 1) == LM_TYPE_Q5_1, "Q5_K -> Q5_1");
    CHECK(lm_pick_tensor_type(lm_ftype_from_name("Q2_K"), "x.weight", 2, narrow, 8, 1) == LM_TYPE_Q4_0, "Q2_K -> Q4_0");
    CHECK(lm_pick_tensor_type(lm_ftype_from_name("Q3_K"), "x.weight", 2, odd, 8, 1) == LM_TYPE_F16, "then F16");
    CHECK(lm_pick_tensor_type(lm_ftype_from_name("Q8_0"), "x.weight", 2, odd, 8, 1) == LM_TYPE_F16, "Q8_0 -> F16");
    CHECK(lm_pick_tensor_type(lm_ftype_from_name("BF16"), "x.weight", 2, odd, 8, 1) == LM_TYPE_BF16, "BF16 any row");
}

int main(void) {
    const char *dir = getenv("LM_BUILD_DIR");
    if (!dir) dir = ".";
    char path[4096], copy_path[4096];
    snprintf(path, sizeof path, "%s/test_gguf_write.gguf", dir);
    snprintf(copy_path, sizeof copy_path, "%s/test_gguf_write_copy.gguf", dir);
    test_round_trip(path, copy_path);
    test_failures(dir);
    test_type_policy();
    remove(path);
    remove(copy_path);
    return check_done();
}
