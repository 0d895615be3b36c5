/* The one kernel interface. Each instruction set implements all of it in its
 * own file (kernels_scalar.c is the reference; kernels_wasm.c uses SIMD128);
 * the build picks one at compile time. Tests hold every implementation equal
 * to the scalar reference. */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Activations are quantized once per matrix product into the format that the
 * weight type multiplies with (Q8 per 32 values for the 32-blocks, Q8 per 256
 * with block sums for K-quants, plain f32 for float weights). */
size_t lm_act_row_bytes(lm_type wtype, int64_t n);
void lm_quantize_act(lm_type wtype, const float *x, void *xq, int64_t n);

/* For t in [0, n_tok) and r in [r0, r1):
 *   y[t * y_stride + r] = dot(row r of W, activation row t)
 * W rows are w_row_bytes apart; activation rows are lm_act_row_bytes apart
 * and start 4-byte aligned (malloc'd buffers are).
 * The row range lets a thread pool split the work. */
void lm_gemm(lm_type wtype, int64_t n_cols, const void *w, size_t w_row_bytes,
             const void *xq, int n_tok, float *y, int64_t y_stride,
             int64_t r0, int64_t r1);

/* Float vector helpers used by the forward pass. */
float lm_dot_f32(const float *a, const float *b, int64_t n);
/* Attention over one head's contiguous rows of n floats (keys, values):
 * out[r] = dot(row r, x) for r in [0, n_rows), and
 * out = sum over r of w[r] * row r, added in row order from zero. */
void lm_dot_rows_f32(const float *rows, int64_t n_rows, const float *x, int64_t n, float *out);
void lm_mix_rows_f32(float *out, const float *rows, const float *w, int64_t n_rows, int64_t n);
void lm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void lm_softmax(float *x, int64_t n);

#endif
