/* The tile dispatch of the SIMD kernel files: each weight type's tile
 * functions in a table, and lm_gemm's walk over rows and tokens with them.
 * Only the tiles themselves are instruction-set code. */
#ifndef LM_KERNELS_TILES_H
#define LM_KERNELS_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* One tile: rows w (wrb bytes apart), activation rows x (xrb bytes apart),
 * results y[t * ys + r]. n is the row length in elements. */
typedef void tile_fn(int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x, size_t xrb, float *y, int64_t ys);

/* One token: gemv (gemv_rows rows) and its 1-row tail gemv1; prompts: gemm
 * (gemm_rows x gemm_tokens) and its 1-row tail gemm1. */
typedef struct {
    tile_fn *gemv, *gemv1, *gemm, *gemm1;
    int gemv_rows, gemm_rows, gemm_tokens;
} tiles;

/* Defines tiles_of(type) from TILE_SET(name), the including file's tiles
 * value for a type name (q4_0 ... bf16). */
#define LM_DEFINE_TILES_OF(TILE_SET)                                                                          \
    static const tiles *tiles_of(lm_type t) {                                                                 \
        static const tiles q4_0 = TILE_SET(q4_0), q4_1 = TILE_SET(q4_1), q5_0 = TILE_SET(q5_0),              \
                           q5_1 = TILE_SET(q5_1), q8_0 = TILE_SET(q8_0), q2_k = TILE_SET(q2_k),              \
                           q3_k = TILE_SET(q3_k), q4_k = TILE_SET(q4_k), q5_k = TILE_SET(q5_k),              \
                           q6_k = TILE_SET(q6_k), f32 = TILE_SET(f32), f16 = TILE_SET(f16),                  \
                           bf16 = TILE_SET(bf16);                                                             \
        switch (t) {                                                                                          \
        case LM_TYPE_Q4_0: return &q4_0;                                                                      \
        case LM_TYPE_Q4_1: return &q4_1;                                                                      \
        case LM_TYPE_Q5_0: return &q5_0;                                                                      \
        case LM_TYPE_Q5_1: return &q5_1;                                                                      \
        case LM_TYPE_Q8_0: return &q8_0;                                                                      \
        case LM_TYPE_Q2_K: return &q2_k;                                                                      \
        case LM_TYPE_Q3_K: return &q3_k;                                                                      \
        case LM_TYPE_Q4_K: return &q4_k;                                                                      \
        case LM_TYPE_Q5_K: return &q5_k;                                                                      \
        case LM_TYPE_Q6_K: return &q6_k;                                                                      \
        case LM_TYPE_F32: return &f32;                                                                        \
        case LM_TYPE_F16: return &f16;                                                                        \
        case LM_TYPE_BF16: return &bf16;                                                                      \
        default: return NULL;                                                                                 \
        }                                                                                                     \
    }

/* Rows r0..r1 for the tokens of x with an R-row tile and its 1-row tail. */
static inline void run_tiles(tile_fn *tile, tile_fn *tile1, int R, int64_t n, const uint8_t *w, size_t wrb,
                             const uint8_t *x, size_t xrb, float *y, int64_t ys, int64_t r0, int64_t r1) {
    int64_t r = r0;
    for (; r + R <= r1; r += R) tile(n, w + r * wrb, wrb, x, xrb, y + r, ys);
    for (; r < r1; r++) tile1(n, w + r * wrb, wrb, x, xrb, y + r, ys);
}

/* lm_gemm with a type's tiles (xrb: lm_act_row_bytes of a row). Token tiles
 * read each weight row from memory once: a band of 32 rows stays in cache
 * while all token tiles go past it; leftover tokens go one at a time. */
static inline void tiles_gemm(const tiles *ts, int64_t n_cols, const uint8_t *w, size_t w_row_bytes,
                              const uint8_t *x, size_t xrb, int n_tok, float *y, int64_t y_stride,
                              int64_t r0, int64_t r1) {
    const int T = ts->gemm_tokens;
    int t = 0;
    if (n_tok >= T) {
        const int64_t band = 32;
        for (int64_t rb = r0; rb < r1; rb += band) {
            int64_t re = rb + band < r1 ? rb + band : r1;
            for (t = 0; t + T <= n_tok; t += T)
                run_tiles(ts->gemm, ts->gemm1, ts->gemm_rows, n_cols, w, w_row_bytes, x + t * xrb, xrb,
                          y + t * y_stride, y_stride, rb, re);
        }
    }
    for (; t < n_tok; t++)
        run_tiles(ts->gemv, ts->gemv1, ts->gemv_rows, n_cols, w, w_row_bytes, x + t * xrb, xrb,
                  y + t * y_stride, y_stride, r0, r1);
}

#endif
