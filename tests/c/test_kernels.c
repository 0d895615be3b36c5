/* Holds a kernels implementation (whichever the build links) to plain
 * double-precision references, through the kernels.h interface only, so
 * the same test judges the scalar reference and every SIMD file.
 *
 * lm_gemm, for every supported weight type, n_cols 256/512/1536, 1..5 and 9 tokens
 * and partial row ranges, against the double dot of the dequantized weights
 * with the activations:
 * - activations that are integers |k| <= 127 times 2^-6 with a +-127 in every
 *   32 values: every 8-bit activation format with scale max|x| / 127 holds
 *   them exactly, so only float rounding remains:
 *   |y - ref| <= 1e-5 * sum |w x| (observed: below 1e-6);
 * - random activations: the quantization adds at most half a step of
 *   max|x| / 127 per value: |y - ref| <= sum |w| * max|x| / 254 + 1e-5 * sum |w x|.
 * Rows outside [r0, r1) and the stride gaps must stay untouched. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "kernels.h"
#include "quant.h"


enum { N_ROWS = 9, MAX_TOK = 9, MAX_COLS = 1536 };
static const float SENTINEL = -12345.0f;

typedef struct {
    lm_type type;
    int64_t n_cols;
    size_t row_bytes;
    uint8_t *w;     /* quantized rows */
    double *wf;     /* dequantized rows */
} weights;

static weights make_weights(lm_type type, int64_t n_cols) {
    weights m = {type, n_cols, lm_row_bytes(type, n_cols), NULL, NULL};
    float *row = malloc((size_t)n_cols * sizeof(float));
    m.w = malloc(m.row_bytes * N_ROWS);
    m.wf = malloc((size_t)(n_cols * N_ROWS) * sizeof(double));
    for (int r = 0; r < N_ROWS; r++) {
        /* rows of different magnitudes and a mean offset, for the min types */
        float gain = 0.02f * (float)(r + 1), mean = (r % 3 - 1) * 0.01f;
        for (int64_t i = 0; i < n_cols; i++) row[i] = mean + gain * rng_normal();
        lm_quantize_row(type, row, m.w + r * m.row_bytes, n_cols);
        lm_dequantize_row(type, m.w + r * m.row_bytes, row, n_cols);
        for (int64_t i = 0; i < n_cols; i++) m.wf[r * n_cols + i] = row[i];
    }
    free(row);
    return m;
}

static void fill_exact_activations(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(rng_next() % 255) - 127;
        if (i % 32 == 5) k = (rng_next() & 1) ? 127 : -127;
        x[i] = ldexpf((float)k, -6);
    }
}

static void fill_random_activations(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 3.0f * rng_normal();
}

/* Runs lm_gemm on rows [r0, r1) of all tokens and checks every output. */
static int check_gemm(const weights *m, const float *x, int n_tok, int exact, int64_t r0, int64_t r1) {
    const int64_t stride = N_ROWS + 3;
    size_t act_bytes = lm_act_row_bytes(m->type, m->n_cols);
    uint8_t *xq = malloc(act_bytes * (size_t)n_tok);
    float y[MAX_TOK * (N_ROWS + 3)];
    for (int t = 0; t < n_tok; t++) lm_quantize_act(m->type, x + t * m->n_cols, xq + (size_t)t * act_bytes, m->n_cols);
    for (int i = 0; i < n_tok * stride; i++) y[i] = SENTINEL;
    lm_gemm(m->type, m->n_cols, m->w, m->row_bytes, xq, n_tok, y, stride, r0, r1);
    free(xq);

    int bad = 0;
    for (int t = 0; t < n_tok; t++) {
        const float *xt = x + t * m->n_cols;
        double xmax = 0;
        for (int64_t i = 0; i < m->n_cols; i++) xmax = fmax(xmax, fabs(xt[i]));
        for (int64_t r = 0; r < stride; r++) {
            float got = y[t * stride + r];
            if (r < r0 || r >= r1) {
                if (got != SENTINEL) {
                    bad++;
                    fprintf(stderr, "  row %ld of token %d written outside [%ld, %ld)\n", (long)r, t, (long)r0, (long)r1);
                }
                continue;
            }
            const double *w = m->wf + r * m->n_cols;
            double ref = 0, abs_wx = 0, abs_w = 0;
            for (int64_t i = 0; i < m->n_cols; i++) {
                ref += w[i] * xt[i];
                abs_wx += fabs(w[i] * xt[i]);
                abs_w += fabs(w[i]);
            }
            double tol = 1e-5 * abs_wx + (exact ? 0 : abs_w * xmax / 254);
            if (!(fabs(got - ref) <= tol)) {
                bad++;
                fprintf(stderr, "  %s n_cols %ld token %d row %ld: got %.7g, want %.7g (tol %.3g)\n",
                        lm_type_info(m->type)->name, (long)m->n_cols, t, (long)r, got, ref, tol);
            }
        }
    }
    return bad;
}

static void test_gemm(lm_type type) {
    static const int64_t sizes[] = {256, 512, 1536};
    static float x[MAX_TOK * MAX_COLS];
    const char *name = lm_type_info(type)->name;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        weights m = make_weights(type, n);
        /* 1..5 tokens, and 9 to cross any tile of up to 8 tokens */
        for (int n_tok = 1; n_tok <= MAX_TOK; n_tok = n_tok == 5 ? 9 : n_tok + 1) {
            for (int exact = 0; exact <= 1; exact++) {
                if (exact) fill_exact_activations(x, n * n_tok);
                else fill_random_activations(x, n * n_tok);
                int bad = check_gemm(&m, x, n_tok, exact, 0, N_ROWS);
                bad += check_gemm(&m, x, n_tok, exact, 2, 7);
                bad += check_gemm(&m, x, n_tok, exact, N_ROWS - 1, N_ROWS);
                bad += check_gemm(&m, x, n_tok, exact, 4, 4);
                CHECK(bad == 0, "%s gemm, n_cols %ld, %d tokens, %s activations: %d bad outputs", name, (long)n,
                      n_tok, exact ? "exact" : "random", bad);
            }
        }
        free(m.w);
        free(m.wf);
    }
}

/* Lengths that are not multiples of any vector width, for the SIMD tails. */
static const int64_t vec_sizes[] = {1, 3, 7, 16, 33, 64, 255, 1537};

static void fill(float *v, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) v[i] = scale * rng_normal();
}

/* At most n roundings of partial sums, in any summation order. */
static double sum_tolerance(int64_t n, double abs_sum) { return (double)(n + 1) * FLT_EPSILON * abs_sum; }

static void test_dot(void) {
    static float a[2048], b[2048];
    for (size_t s = 0; s < sizeof vec_sizes / sizeof vec_sizes[0]; s++) {
        int64_t n = vec_sizes[s];
        fill(a, n, 1.0f);
        fill(b, n, 2.0f);
        double ref = 0, abs_ab = 0;
        for (int64_t i = 0; i < n; i++) {
            ref += (double)a[i] * b[i];
            abs_ab += fabs((double)a[i] * b[i]);
        }
        float got = lm_dot_f32(a, b, n);
        CHECK(fabs(got - ref) <= sum_tolerance(n, abs_ab), "dot n=%ld: %.8g vs %.8g", (long)n, got, ref);
    }
}

/* An attention head's rows: vec_sizes positions of hd floats. */
static void test_attention_rows(void) {
    static float rows[1537 * 64], x[64], w[1537], out[1537 + 1];
    static const int64_t head_dims[] = {8, 64, 6};
    for (size_t s = 0; s < sizeof vec_sizes / sizeof vec_sizes[0]; s++)
        for (size_t d = 0; d < sizeof head_dims / sizeof head_dims[0]; d++) {
            const int64_t n = vec_sizes[s], hd = head_dims[d];
            fill(rows, n * hd, 1.0f);
            fill(x, hd, 1.0f);
            fill(w, n, 0.5f);
            out[n] = SENTINEL;
            lm_dot_rows_f32(rows, n, x, hd, out);
            int bad = 0;
            for (int64_t r = 0; r < n; r++) {
                double ref = 0, abs_sum = 0;
                for (int64_t i = 0; i < hd; i++) {
                    ref += (double)rows[r * hd + i] * x[i];
                    abs_sum += fabs((double)rows[r * hd + i] * x[i]);
                }
                bad += !(fabs(out[r] - ref) <= sum_tolerance(hd, abs_sum));
            }
            CHECK(bad == 0 && out[n] == SENTINEL, "dot_rows n=%ld hd=%ld: %d bad values", (long)n, (long)hd, bad);
            out[hd] = SENTINEL;
            lm_mix_rows_f32(out, rows, w, n, hd);
            bad = 0;
            for (int64_t i = 0; i < hd; i++) {
                double ref = 0, abs_sum = 0;
                for (int64_t r = 0; r < n; r++) {
                    ref += (double)w[r] * rows[r * hd + i];
                    abs_sum += fabs((double)w[r] * rows[r * hd + i]);
                }
                bad += !(fabs(out[i] - ref) <= sum_tolerance(n, abs_sum));
            }
            CHECK(bad == 0 && out[hd] == SENTINEL, "mix_rows n=%ld hd=%ld: %d bad values", (long)n, (long)hd, bad);
        }
}

static void test_rmsnorm(void) {
    static float x[2048], w[2048], out[2048];
    for (size_t s = 0; s < sizeof vec_sizes / sizeof vec_sizes[0]; s++) {
        int64_t n = vec_sizes[s];
        fill(x, n, 3.0f);
        fill(w, n, 1.0f);
        for (int with_w = 0; with_w <= 1; with_w++) {
            const float eps = 1e-5f;
            double ss = 0;
            for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
            double inv = 1.0 / sqrt(ss / (double)n + eps);
            out[n] = SENTINEL;
            lm_rmsnorm(out, x, with_w ? w : NULL, n, eps);
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                double want = x[i] * inv * (with_w ? w[i] : 1.0);
                bad += !(fabs(out[i] - want) <= 1e-5 * fabs(want) + 1e-7);
            }
            CHECK(bad == 0 && out[n] == SENTINEL, "rmsnorm n=%ld w=%d: %d bad values", (long)n, with_w, bad);
        }
        /* in place */
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / (double)n + 1e-6f), first = x[0] * inv;
        lm_rmsnorm(x, x, NULL, n, 1e-6f);
        CHECK(fabs(x[0] - first) <= 1e-5 * fabs(first) + 1e-7, "rmsnorm in place n=%ld", (long)n);
    }
    /* all zeros: finite thanks to eps */
    memset(x, 0, 64 * sizeof(float));
    lm_rmsnorm(out, x, NULL, 64, 1e-5f);
    CHECK(out[0] == 0 && out[63] == 0, "rmsnorm of zeros");
}

static void test_softmax(void) {
    static float x[2048];
    static double ref[2048];
    for (size_t s = 0; s < sizeof vec_sizes / sizeof vec_sizes[0]; s++) {
        int64_t n = vec_sizes[s];
        for (int big = 0; big <= 1; big++) {
            fill(x, n, 4.0f);
            if (big) /* exp() would overflow without subtracting the max */
                for (int64_t i = 0; i < n; i++) x[i] += 1000.0f;
            if (n > 2) x[1] = -INFINITY; /* a masked position */
            double max = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; i++) max = fmax(max, x[i]);
            for (int64_t i = 0; i < n; i++) sum += ref[i] = exp((double)x[i] - max);
            x[n] = SENTINEL;
            lm_softmax(x, n);
            int bad = 0;
            double total = 0;
            for (int64_t i = 0; i < n; i++) {
                double want = ref[i] / sum;
                bad += !(fabs(x[i] - want) <= 1e-5 * want + 1e-7);
                total += x[i];
            }
            CHECK(bad == 0 && x[n] == SENTINEL, "softmax n=%ld big=%d: %d bad values", (long)n, big, bad);
            CHECK(fabs(total - 1) <= 1e-5, "softmax n=%ld sums to %.8f", (long)n, total);
        }
    }
}

int main(void) {
    rng_state = 2463534242u; /* the sequence the tolerances were measured on */
    for (uint32_t t = 0; t < LM_TYPE_COUNT; t++) {
        const lm_type_traits *tt = lm_type_info(t);
        if (tt && tt->supported) test_gemm((lm_type)t);
    }
    test_dot();
    test_attention_rows();
    test_rmsnorm();
    test_softmax();
    return check_done();
}
