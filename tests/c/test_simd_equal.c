/* Holds the SIMD kernels the build links (kernels_x86.c natively, via ctest;
 * kernels_wasm.c through tests/wasm/test_simd_equal.c and run-c-tests.sh)
 * equal to the scalar reference (kernels_scalar.c, included here under
 * renamed symbols) on random weights of every type, token counts
 * 1..LM_MAX_BATCH, odd row counts, ragged row ranges and strided outputs.
 * Both see the same quantized activation values, so the only difference
 * allowed is float summation order. Natively the activation blocks must
 * also be bit-identical (every native kernel file keeps kernels_act.h's
 * formats; SIMD128 stores its own widened layout). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "model.h" /* LM_MAX_BATCH */
#include "quant.h"

#include "../wasm/scalar_reference.h"

static uint32_t rng = 12345;
static uint32_t next_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}
static float next_float(void) { return (float)(next_u32() >> 8) / (float)(1 << 24) * 2.0f - 1.0f; }

/* Byte offsets of the half-float fields of each block type: random bytes
 * elsewhere are valid blocks, random halves could be inf/NaN. */
static void fix_halves(lm_type t, uint8_t *blk) {
    static const struct { lm_type t; int off[2]; } fields[] = {
        {LM_TYPE_Q4_0, {0, -1}}, {LM_TYPE_Q4_1, {0, 2}}, {LM_TYPE_Q5_0, {0, -1}}, {LM_TYPE_Q5_1, {0, 2}},
        {LM_TYPE_Q8_0, {0, -1}}, {LM_TYPE_Q2_K, {80, 82}}, {LM_TYPE_Q3_K, {108, -1}},
        {LM_TYPE_Q4_K, {0, 2}}, {LM_TYPE_Q5_K, {0, 2}}, {LM_TYPE_Q6_K, {208, -1}},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].t != t) continue;
        for (int k = 0; k < 2; k++) {
            if (fields[i].off[k] < 0) continue;
            uint16_t h = lm_f32_to_f16(next_float() * 0.01f);
            memcpy(blk + fields[i].off[k], &h, 2);
        }
    }
}

static void random_rows(lm_type t, uint8_t *w, int64_t rows, int64_t n) {
    const lm_type_traits *tt = lm_type_info(t);
    size_t rb = lm_row_bytes(t, n);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = w + r * rb;
        if (t == LM_TYPE_F32 || t == LM_TYPE_F16 || t == LM_TYPE_BF16) {
            for (int64_t i = 0; i < n; i++) {
                float f = next_float();
                uint16_t h = t == LM_TYPE_F16 ? lm_f32_to_f16(f) : lm_f32_to_bf16(f);
                if (t == LM_TYPE_F32) memcpy(row + 4 * i, &f, 4);
                else memcpy(row + 2 * i, &h, 2);
            }
            continue;
        }
        for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)next_u32();
        for (int64_t b = 0; b < n / tt->block_size; b++) fix_halves(t, row + b * tt->block_bytes);
    }
}

/* Sum of |w| |x| over a row of dequantized weights: the scale of the
 * rounding error allowed. */
static double magnitude(const float *wf, const float *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += fabs((double)wf[i] * x[i]);
    return m;
}

static void check_gemm(lm_type t, int64_t n, int64_t rows, int n_tok, int64_t r0, int64_t r1) {
    size_t rb = lm_row_bytes(t, n);
    uint8_t *wbuf = malloc(rows * rb + 1), *w = wbuf + 1; /* an odd address: GGUF allows alignment 1 */
    float *x = malloc((size_t)(n * n_tok) * sizeof *x), *wf = malloc((size_t)(n * rows) * sizeof *wf);
    random_rows(t, w, rows, n);
    for (int64_t r = 0; r < rows; r++) lm_dequantize_row(t, w + r * rb, wf + r * n, n);
    for (int64_t i = 0; i < n * n_tok; i++) x[i] = next_float() * (i % 7 == 0 ? 4.0f : 1.0f);
    size_t arb = lm_act_row_bytes(t, n), srb = scalar_act_row_bytes(t, n);
    uint8_t *xa = malloc(arb * n_tok + 1), *xs = malloc(srb * n_tok + 1);
    for (int k = 0; k < n_tok; k++) {
        lm_quantize_act(t, x + k * n, xa + k * arb, n);
        scalar_quantize_act(t, x + k * n, xs + k * srb, n);
    }
#ifndef __EMSCRIPTEN__
    CHECK(arb == srb && memcmp(xa, xs, srb * n_tok) == 0, "%s n=%lld n_tok=%d: activation blocks differ from scalar",
          lm_type_info(t)->name, (long long)n, n_tok);
#endif
    int64_t ys = rows + 3;
    float *y = malloc((size_t)(ys * n_tok) * sizeof *y), *ref = malloc((size_t)(ys * n_tok) * sizeof *ref);
    for (int64_t i = 0; i < ys * n_tok; i++) y[i] = ref[i] = -7.0f;
    lm_gemm(t, n, w, rb, xa, n_tok, y, ys, r0, r1);
    scalar_gemm(t, n, w, rb, xs, n_tok, ref, ys, r0, r1);
    int bad = 0;
    for (int k = 0; k < n_tok && !bad; k++) {
        for (int64_t r = 0; r < ys && !bad; r++) {
            float a = y[k * ys + r], b = ref[k * ys + r];
            double tol = r >= r0 && r < r1 ? 1e-5 * magnitude(wf + r * n, x + k * n, n) + 1e-6 : 0;
            if (!(fabs((double)a - b) <= tol)) {
                bad = 1;
                CHECK(0, "%s n=%lld rows=[%lld,%lld) n_tok=%d: y[tok %d][row %lld] = %g, scalar %g",
                      lm_type_info(t)->name, (long long)n, (long long)r0, (long long)r1, n_tok, k, (long long)r,
                      a, b);
            }
        }
    }
    if (!bad) CHECK(1, "%s", "");
    free(wbuf), free(x), free(wf), free(xa), free(xs), free(y), free(ref);
}

/* Half subnormals, signed zeros and the largest halves: each row alone, so
 * that a wrong conversion is not lost in the tolerance of a larger sum. */
static void check_f16_specials(void) {
    static const uint16_t rows[][8] = {{0x0001, 0x8001, 0x03FF, 0x83FF, 0x0200, 0x0000, 0x8000, 0x0010},
                                       {0x0400, 0x8400, 0x7BFF, 0xFBFF, 0x3C00, 0xBC00, 0x3555, 0x7BFE}};
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y, ref;
    for (int r = 0; r < 2; r++) {
        lm_gemm(LM_TYPE_F16, 8, rows[r], sizeof rows[r], x, 1, &y, 1, 0, 1);
        scalar_gemm(LM_TYPE_F16, 8, rows[r], sizeof rows[r], x, 1, &ref, 1, 0, 1);
        double mag = 0;
        for (int i = 0; i < 8; i++) mag += fabs(lm_f16_to_f32(rows[r][i]) * x[i]);
        CHECK(fabs((double)y - ref) <= 1e-6 * mag, "F16 specials row %d: %g, scalar %g", r, y, ref);
    }
}

/* n rows of hd floats, as one attention head's keys and values: scores
 * within summation-order rounding, the value mix bit-identical. */
static void check_attention_rows(int n) {
    static const int head_dims[] = {8, 64, 80, 128, 6};
    for (size_t d = 0; d < sizeof head_dims / sizeof head_dims[0]; d++) {
        const int hd = head_dims[d];
        float rows[70 * 128], x[128], w[70], o1[128], o2[128];
        for (int i = 0; i < n * hd; i++) rows[i] = next_float() * 2;
        for (int i = 0; i < hd; i++) x[i] = next_float();
        for (int i = 0; i < n; i++) w[i] = next_float() + 1.0f;
        lm_dot_rows_f32(rows, n, x, hd, o1);
        scalar_dot_rows_f32(rows, n, x, hd, o2);
        int ok = 1;
        for (int r = 0; r < n; r++) ok &= fabsf(o1[r] - o2[r]) <= 1e-5f * hd;
        CHECK(ok, "dot_rows n=%d hd=%d", n, hd);
        lm_mix_rows_f32(o1, rows, w, n, hd);
        scalar_mix_rows_f32(o2, rows, w, n, hd);
        CHECK(memcmp(o1, o2, hd * sizeof(float)) == 0, "mix_rows n=%d hd=%d", n, hd);
    }
}

static void check_vector_helpers(void) {
    for (int n = 0; n < 70; n += 3) {
        float a[70], b[70], o1[70], o2[70];
        for (int i = 0; i < n; i++) a[i] = next_float() * 3, b[i] = next_float();
        float d1 = lm_dot_f32(a, b, n), d2 = scalar_dot_f32(a, b, n);
        CHECK(fabsf(d1 - d2) <= 1e-5f * n + 1e-6f, "dot n=%d: %g vs %g", n, d1, d2);
        check_attention_rows(n);
        lm_rmsnorm(o1, a, b, n, 1e-5f);
        scalar_rmsnorm(o2, a, b, n, 1e-5f);
        int ok = 1;
        for (int i = 0; i < n; i++) ok &= fabsf(o1[i] - o2[i]) <= 1e-5f * (fabsf(o2[i]) + 1e-3f);
        CHECK(ok, "rmsnorm n=%d", n);
        memcpy(o1, a, sizeof a);
        memcpy(o2, a, sizeof a);
        lm_rmsnorm(o1, o1, NULL, n, 1e-5f); /* in place, unit weights */
        scalar_rmsnorm(o2, o2, NULL, n, 1e-5f);
        for (int i = 0; i < n; i++) ok &= fabsf(o1[i] - o2[i]) <= 1e-5f * (fabsf(o2[i]) + 1e-3f);
        CHECK(ok, "rmsnorm in place n=%d", n);
        memcpy(o1, a, sizeof a);
        memcpy(o2, a, sizeof a);
        lm_softmax(o1, n);
        scalar_softmax(o2, n);
        for (int i = 0; i < n; i++) ok &= fabsf(o1[i] - o2[i]) <= 1e-6f;
        CHECK(ok, "softmax n=%d", n);
    }
}

int main(void) {
    static const lm_type types[] = {LM_TYPE_F32, LM_TYPE_F16, LM_TYPE_BF16, LM_TYPE_Q4_0, LM_TYPE_Q4_1,
                                    LM_TYPE_Q5_0, LM_TYPE_Q5_1, LM_TYPE_Q8_0, LM_TYPE_Q2_K, LM_TYPE_Q3_K,
                                    LM_TYPE_Q4_K, LM_TYPE_Q5_K, LM_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        lm_type t = types[i];
        int64_t bs = lm_type_info(t)->block_size;
        int64_t n = bs == 1 ? 67 : bs == 32 ? 96 : 512;
        for (int n_tok = 1; n_tok <= LM_MAX_BATCH; n_tok++) {
            check_gemm(t, n, 11, n_tok, 0, 11);
            check_gemm(t, n, 11, n_tok, 3, 10);
        }
        check_gemm(t, n, 37, 5, 0, 37); /* row tiles and a ragged tail past one band of rows */
        check_gemm(t, n, 37, 8, 9, 36);
        check_gemm(t, bs == 256 ? 256 : 64, 5, 1, 0, 5);
        check_gemm(t, bs == 256 ? 1536 : 576, 9, 13, 1, 9);
        check_gemm(t, bs == 256 ? 2048 : 1536, 7, 1, 0, 7); /* long rows (the wasm 2-row tiles go row by row) */
    }
    check_f16_specials();
    check_vector_helpers();
    return check_done();
}
