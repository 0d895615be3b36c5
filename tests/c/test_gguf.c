/* Hostile GGUF input: one table row per broken field, each with the error
 * code and the words its message must contain; then every truncation and
 * thousands of random corruptions of a valid file, which must all end in a
 * clean error (run under ASan/UBSan in the sanitizer build). */
#include <string.h>

#include "check.h"
#include "gguf.h"
#include "gguf_builder.h"
#include "localm.h"

/* A small valid GGUF: two metadata keys and two F32 tensors. */
static void valid_file(gb *b) {
    const uint64_t ne_a[2] = {8, 2}, ne_b[1] = {8};
    gb_header(b, 3, 2, 2);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_u32(b, "general.alignment", 32);
    gb_tensor_info(b, "a", 2, ne_a, 0, 0);
    gb_tensor_info(b, "b", 1, ne_b, 0, 64);
    gb_align(b, 32);
    for (int i = 0; i < 16 + 8; i++) gb_f32(b, (float)i);
}

/* Builds a file whose single tensor has the given fields. */
static void one_tensor(gb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                       size_t data_bytes) {
    gb_header(b, 3, 1, 0);
    gb_tensor_info(b, "t", n_dims, ne, type, offset);
    gb_align(b, 32);
    for (size_t i = 0; i < data_bytes; i++) gb_bytes(b, "\0", 1);
}

static void bad_magic(gb *b) { valid_file(b); memcpy(b->data, "GGUG", 4); }
static void version_1(gb *b) { gb_header(b, 1, 0, 0); }
static void version_big_endian(gb *b) { gb_header(b, 0x03000000, 0, 0); }
static void too_short(gb *b) { gb_bytes(b, "GGUF", 4); }
static void kv_count_huge(gb *b) { gb_header(b, 3, 0, 1ull << 60); gb_u64(b, 0); }
static void tensor_count_huge(gb *b) { gb_header(b, 3, 1ull << 40, 0); gb_u64(b, 0); }
static void key_length_beyond_file(gb *b) { gb_header(b, 3, 0, 1); gb_u64(b, 1ull << 40); gb_u32(b, 0); }
static void string_value_beyond_file(gb *b) {
    gb_header(b, 3, 0, 1);
    gb_str(b, "k");
    gb_u32(b, 8);
    gb_u64(b, 1000);
    gb_bytes(b, "short", 5);
}
static void unknown_value_type(gb *b) { gb_header(b, 3, 0, 1); gb_str(b, "k"); gb_u32(b, 99); gb_u32(b, 0); }
static void array_count_beyond_file(gb *b) {
    gb_header(b, 3, 0, 1);
    gb_str(b, "k");
    gb_u32(b, 9);
    gb_u32(b, 4);
    gb_u64(b, 1ull << 61);
    gb_u32(b, 0);
}
static void nested_array(gb *b) {
    gb_header(b, 3, 0, 1);
    gb_str(b, "k");
    gb_u32(b, 9);
    gb_u32(b, 9);
    gb_u64(b, 1);
    gb_u64(b, 0);
}
static void duplicate_key(gb *b) { gb_header(b, 3, 0, 2); gb_kv_u32(b, "k", 1); gb_kv_u32(b, "k", 2); }
static void alignment_not_power_of_two(gb *b) { gb_header(b, 3, 0, 1); gb_kv_u32(b, "general.alignment", 24); }
static void alignment_wrong_type(gb *b) { gb_header(b, 3, 0, 1); gb_kv_f32(b, "general.alignment", 32); }
static void too_many_dims(gb *b) { const uint64_t ne[5] = {1, 1, 1, 1, 1}; one_tensor(b, 5, ne, 0, 0, 4); }
static void zero_dims(gb *b) { one_tensor(b, 0, NULL, 0, 0, 4); }
static void zero_size_dim(gb *b) { const uint64_t ne[2] = {4, 0}; one_tensor(b, 2, ne, 0, 0, 16); }
static void negative_dim(gb *b) { const uint64_t ne[1] = {UINT64_MAX}; one_tensor(b, 1, ne, 0, 0, 4); }
static void element_overflow(gb *b) { const uint64_t ne[3] = {1ull << 32, 1ull << 32, 4}; one_tensor(b, 3, ne, 0, 0, 4); }
static void byte_overflow(gb *b) { const uint64_t ne[2] = {1ull << 31, 1ull << 31}; one_tensor(b, 2, ne, 0, 0, 4); }
static void unknown_tensor_type(gb *b) { const uint64_t ne[1] = {4}; one_tensor(b, 1, ne, 77, 0, 16); }
static void row_not_whole_blocks(gb *b) { const uint64_t ne[1] = {40}; one_tensor(b, 1, ne, 8, 0, 64); }
static void offset_misaligned(gb *b) { const uint64_t ne[1] = {4}; one_tensor(b, 1, ne, 0, 4, 64); }
static void data_beyond_file(gb *b) { const uint64_t ne[1] = {64}; one_tensor(b, 1, ne, 0, 0, 100); }
static void offset_beyond_file(gb *b) { const uint64_t ne[1] = {4}; one_tensor(b, 1, ne, 0, 1ull << 62, 16); }
static void overlapping_tensors(gb *b) {
    const uint64_t ne[1] = {16};
    gb_header(b, 3, 2, 0);
    gb_tensor_info(b, "a", 1, ne, 0, 0);
    gb_tensor_info(b, "b", 1, ne, 0, 32);
    gb_align(b, 32);
    for (int i = 0; i < 32; i++) gb_f32(b, 0);
}
static void duplicate_tensor_name(gb *b) {
    const uint64_t ne[1] = {8};
    gb_header(b, 3, 2, 0);
    gb_tensor_info(b, "a", 1, ne, 0, 0);
    gb_tensor_info(b, "a", 1, ne, 0, 32);
    gb_align(b, 32);
    for (int i = 0; i < 16; i++) gb_f32(b, 0);
}
static void tensor_info_truncated(gb *b) {
    gb_header(b, 3, 1, 0);
    gb_u64(b, 40); /* the name claims 40 bytes; 30 follow */
    for (int i = 0; i < 30; i++) gb_bytes(b, "x", 1);
}

static const struct hostile_case {
    const char *name;
    void (*build)(gb *b);
    lm_status code;
    const char *message_part;
} cases[] = {
    {"bad magic", bad_magic, LM_E_FORMAT, "bad magic"},
    {"file shorter than a header", too_short, LM_E_FORMAT, "only 4 bytes"},
    {"version 1", version_1, LM_E_UNSUPPORTED, "version 1"},
    {"big-endian version", version_big_endian, LM_E_UNSUPPORTED, "big-endian"},
    {"metadata count beyond the file", kv_count_huge, LM_E_FORMAT, "metadata entries"},
    {"tensor count beyond the file", tensor_count_huge, LM_E_FORMAT, "tensors, more than"},
    {"key length beyond the file", key_length_beyond_file, LM_E_FORMAT, "truncated"},
    {"string value beyond the file", string_value_beyond_file, LM_E_FORMAT, "truncated"},
    {"unknown value type", unknown_value_type, LM_E_FORMAT, "unknown value type 99"},
    {"array count beyond the file", array_count_beyond_file, LM_E_FORMAT, "truncated"},
    {"nested array", nested_array, LM_E_UNSUPPORTED, "nested arrays"},
    {"duplicate key", duplicate_key, LM_E_FORMAT, "key 'k' appears twice"},
    {"alignment not a power of two", alignment_not_power_of_two, LM_E_FORMAT, "power of two"},
    {"alignment of the wrong type", alignment_wrong_type, LM_E_FORMAT, "must be uint32"},
    {"five dimensions", too_many_dims, LM_E_FORMAT, "5 dimensions"},
    {"zero dimensions", zero_dims, LM_E_FORMAT, "0 dimensions"},
    {"dimension of size 0", zero_size_dim, LM_E_FORMAT, "dimension 1 of size 0"},
    {"dimension past int64", negative_dim, LM_E_FORMAT, "of size -1"},
    {"element count overflow", element_overflow, LM_E_FORMAT, "element count overflows"},
    {"byte size overflow", byte_overflow, LM_E_FORMAT, "byte size overflows"},
    {"unknown tensor type", unknown_tensor_type, LM_E_UNSUPPORTED, "unknown type id 77"},
    {"row not whole blocks", row_not_whole_blocks, LM_E_FORMAT, "not a multiple of the Q8_0 block size"},
    {"misaligned tensor offset", offset_misaligned, LM_E_FORMAT, "not aligned"},
    {"tensor data beyond the file", data_beyond_file, LM_E_FORMAT, "beyond the end"},
    {"tensor offset beyond the file", offset_beyond_file, LM_E_FORMAT, "beyond the end"},
    {"overlapping tensors", overlapping_tensors, LM_E_FORMAT, "overlap"},
    {"duplicate tensor name", duplicate_tensor_name, LM_E_FORMAT, "tensor name 'a' appears twice"},
    {"tensor info truncated", tensor_info_truncated, LM_E_FORMAT, "truncated"},
};

static void test_table(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gb b = {0};
        gguf_file f;
        lm_error err = {0};
        cases[i].build(&b);
        lm_status s = gguf_parse(&f, b.data ? b.data : (const uint8_t *)"", b.len, &err);
        CHECK(s == cases[i].code, "%s: got %s (%s)", cases[i].name, lm_status_name(s), err.message);
        CHECK(strstr(err.message, cases[i].message_part) != NULL, "%s: message '%s' lacks '%s'",
              cases[i].name, err.message, cases[i].message_part);
        gguf_release(&f);
        free(b.data);
    }
}

static void test_valid_file(void) {
    gb b = {0};
    gguf_file f;
    lm_error err;
    valid_file(&b);
    CHECK(gguf_parse(&f, b.data, b.len, &err) == LM_OK, "valid file: %s", err.message);
    const gguf_tensor *t = gguf_find_tensor(&f, "b");
    CHECK(t && t->ne[0] == 8 && t->nbytes == 32, "tensor b");
    float first;
    if (t) memcpy(&first, t->data, 4);
    CHECK(t && first == 16.0f, "tensor b data");
    gguf_str arch;
    CHECK(gguf_get_str(&f, "general.architecture", &arch) == 1 && gguf_str_eq(arch, "llama"), "arch");
    uint32_t u;
    CHECK(gguf_get_u32(&f, "general.architecture", &u) == -1, "string is not an integer");
    CHECK(gguf_get_u32(&f, "missing", &u) == 0, "missing key");
    gguf_release(&f);
    free(b.data);
}

/* Every prefix of a valid file is an error, never a crash. */
static void test_truncations(void) {
    gb b = {0};
    valid_file(&b);
    int failures = 0;
    for (size_t n = 0; n < b.len; n++) {
        gguf_file f;
        lm_error err;
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, b.data, n);
        if (gguf_parse(&f, copy, n, &err) == LM_OK) failures++;
        gguf_release(&f);
        free(copy);
    }
    CHECK(failures == 0, "%d truncated files parsed as valid", failures);
    free(b.data);
}

/* Random byte corruption: any outcome but a crash or hang is acceptable. */
static void test_random_corruption(void) {
    gb b = {0};
    valid_file(&b);
    uint64_t state = 42;
    for (int round = 0; round < 20000; round++) {
        uint8_t *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            copy[(state >> 33) % b.len] ^= (uint8_t)(1u << ((state >> 20) % 8));
        }
        gguf_file f;
        lm_error err;
        if (gguf_parse(&f, copy, b.len, &err) == LM_OK)
            for (uint64_t i = 0; i < f.n_tensors; i++) /* views must be readable */
                for (uint64_t j = 0; j < f.tensors[i].nbytes; j++) state += f.tensors[i].data[j];
        gguf_release(&f);
        free(copy);
    }
    CHECK(1, "random corruption survived");
    free(b.data);
}

int main(void) {
    test_valid_file();
    test_table();
    test_truncations();
    test_random_corruption();
    return check_done();
}
