/* The scalar reference kernels: plain C, simple enough to be obviously
 * correct. Every other kernels_*.c must produce the same results (up to float
 * summation order); tests/c/test_kernels.c holds them to it.
 *
 * Quantized products decode each weight block into integer levels and
 * per-sub-block scales/mins (lm_block_levels, the same decoder dequantization
 * uses), take integer dots with the Q8 activations, and correct for the mins
 * with the activation block sums. The levels are already signed (Q4_0's -8,
 * Q6_K's -32...), which in integers equals subtracting offset x block sum
 * the way the SIMD kernels do. Activation rows (xq) are the caller's
 * lm_quantize_act output in a 4-byte aligned buffer. */
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "kernels_act.h"
#include "quant.h"

enum { TOKEN_TILE = 8 }; /* tokens sharing one decoded weight block */

size_t lm_act_row_bytes(lm_type wtype, int64_t n) { return lm_act_row_bytes_q8(wtype, n); }

/* The shared scalar quantizer: a small share of the time, and every kernel
 * file's blocks must be bit-identical. */
void lm_quantize_act(lm_type wtype, const float *x, void *xq, int64_t n) { lm_quantize_act_q8(wtype, x, xq, n); }

/* ---- float weights ---- */

enum { FLOAT_CHUNK = 256 }; /* weights converted to f32 at a time */

/* Each chunk of a row is converted once (lm_dequantize_row reads any
 * alignment) and dotted with every token. */
static void gemm_float(lm_type wtype, int64_t n_cols, const uint8_t *w, size_t w_row_bytes,
                       const float *x, int n_tok, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const size_t elem_bytes = lm_type_info(wtype)->block_bytes;
    float chunk[FLOAT_CHUNK];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * w_row_bytes;
        for (int t = 0; t < n_tok; t++) y[t * y_stride + r] = 0;
        for (int64_t c = 0; c < n_cols; c += FLOAT_CHUNK) {
            int64_t len = n_cols - c < FLOAT_CHUNK ? n_cols - c : FLOAT_CHUNK;
            lm_dequantize_row(wtype, row + c * elem_bytes, chunk, len);
            for (int t = 0; t < n_tok; t++) y[t * y_stride + r] += lm_dot_f32(chunk, x + t * n_cols + c, len);
        }
    }
}

/* ---- quantized weights ---- */

static float dot_block32(const lm_levels *lv, const lm_act_q8_32 *a) {
    int32_t isum = 0;
    for (int i = 0; i < LM_QK; i++) isum += lv->q[i] * a->q[i];
    return a->d * (lv->scale[0] * (float)isum - lv->min[0] * (float)a->sum);
}

/* Sub-blocks are 16 or 32 values: their activation sum is one or two bsums. */
static float dot_block256(const lm_levels *lv, const lm_act_q8_256 *a) {
    float sum = 0;
    for (int s = 0; s < LM_QK_K / lv->sub; s++) {
        int32_t isum = 0, asum = 0;
        for (int i = s * lv->sub; i < (s + 1) * lv->sub; i++) isum += lv->q[i] * a->q[i];
        for (int j = s * lv->sub / 16; j < (s + 1) * lv->sub / 16; j++) asum += a->bsums[j];
        sum += lv->scale[s] * (float)isum - lv->min[s] * (float)asum;
    }
    return a->d * sum;
}

static void gemm_quant(lm_type wtype, int64_t n_cols, const uint8_t *w, size_t w_row_bytes,
                       const uint8_t *xq, int n_tok, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const lm_type_traits *tt = lm_type_info(wtype);
    const int64_t nb = n_cols / tt->block_size;
    const size_t act_bytes = lm_act_row_bytes(wtype, n_cols);
    const int k_quant = tt->block_size == LM_QK_K;
    lm_levels lv;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * w_row_bytes;
        for (int t0 = 0; t0 < n_tok; t0 += TOKEN_TILE) {
            int nt = n_tok - t0 < TOKEN_TILE ? n_tok - t0 : TOKEN_TILE;
            float acc[TOKEN_TILE] = {0};
            for (int64_t b = 0; b < nb; b++) {
                lm_block_levels(wtype, row + b * tt->block_bytes, &lv);
                for (int t = 0; t < nt; t++) {
                    const uint8_t *xt = xq + (size_t)(t0 + t) * act_bytes;
                    acc[t] += k_quant ? dot_block256(&lv, (const lm_act_q8_256 *)xt + b)
                                      : dot_block32(&lv, (const lm_act_q8_32 *)xt + b);
                }
            }
            for (int t = 0; t < nt; t++) y[(t0 + t) * y_stride + r] = acc[t];
        }
    }
}

void lm_gemm(lm_type wtype, int64_t n_cols, const void *w, size_t w_row_bytes,
             const void *xq, int n_tok, float *y, int64_t y_stride,
             int64_t r0, int64_t r1) {
    const lm_type_traits *tt = lm_type_info(wtype);
    if (!tt || !tt->supported) return;
    if (lm_act_is_float(wtype))
        gemm_float(wtype, n_cols, w, w_row_bytes, xq, n_tok, y, y_stride, r0, r1);
    else
        gemm_quant(wtype, n_cols, w, w_row_bytes, xq, n_tok, y, y_stride, r0, r1);
}

/* ---- float vector helpers ---- */

float lm_dot_f32(const float *a, const float *b, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void lm_dot_rows_f32(const float *rows, int64_t n_rows, const float *x, int64_t n, float *out) {
    for (int64_t r = 0; r < n_rows; r++) out[r] = lm_dot_f32(rows + r * n, x, n);
}

void lm_mix_rows_f32(float *out, const float *rows, const float *w, int64_t n_rows, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = 0;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t i = 0; i < n; i++) out[i] += w[r] * rows[r * n + i];
}

/* out may alias x. w == NULL means unit weights. */
void lm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    if (n <= 0) return;
    float ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

/* Subtracting the max keeps every exp() in (0, 1]. */
void lm_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    float max = x[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; i++) x[i] /= sum;
}
