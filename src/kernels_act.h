/* Activation formats of the kernels (internal, not GGUF) and their
 * quantizers, shared by every kernels_*.c so that all implementations see
 * the same quantized activations.
 *
 * - 32-block weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): lm_act_q8_32 per 32
 *   values; sum is the sum of q, for the -8/-16 offsets and the Q4_1/Q5_1 mins.
 * - K-quant weights: lm_act_q8_256 per 256 values; bsums[i] is the sum of
 *   q[16 i .. 16 i + 15], for the Q3_K/Q6_K offsets and the Q2_K/Q4_K/Q5_K mins.
 * - F32/F16/BF16 weights: plain floats.
 * Values are x ~ d * q with d = max|x| / 127 and q rounded to nearest, ties to
 * even; so integers up to 127 times a power of two (with one value at 127 in
 * every block) are represented exactly. */
#ifndef LM_KERNELS_ACT_H
#define LM_KERNELS_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

typedef struct {
    float d;
    int32_t sum;
    int8_t q[32];
} lm_act_q8_32;
_Static_assert(sizeof(lm_act_q8_32) == 40, "lm_act_q8_32 must be 40 bytes");

typedef struct {
    float d;
    int16_t bsums[16];
    int8_t q[256];
} lm_act_q8_256;
_Static_assert(sizeof(lm_act_q8_256) == 292, "lm_act_q8_256 must be 292 bytes");

/* Rounds |f| <= 127 to nearest, ties to even: 1.5 * 2^23 pushes the
 * fraction out of the mantissa. */
static inline int lm_act_round(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

/* Quantizes n values to q with one scale; returns d. Non-finite inputs give
 * a meaningless but in-range result (no trap, no UB). */
static inline float lm_act_quantize_q8(const float *x, int8_t *q, int n) {
    float amax = 0;
    for (int i = 0; i < n; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    float d = amax / 127, id = d > 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        int l = lm_act_round(x[i] * id);
        q[i] = (int8_t)(l < -127 ? -127 : l > 127 ? 127 : l);
    }
    return d;
}

static inline void lm_act_quantize_block32(const float *x, lm_act_q8_32 *a) {
    a->d = lm_act_quantize_q8(x, a->q, 32);
    a->sum = 0;
    for (int i = 0; i < 32; i++) a->sum += a->q[i];
}

static inline void lm_act_quantize_block256(const float *x, lm_act_q8_256 *a) {
    a->d = lm_act_quantize_q8(x, a->q, 256);
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int i = 0; i < 16; i++) s += a->q[16 * j + i];
        a->bsums[j] = (int16_t)s;
    }
}

static inline int lm_act_is_float(lm_type t) {
    return t == LM_TYPE_F32 || t == LM_TYPE_F16 || t == LM_TYPE_BF16;
}

/* lm_act_row_bytes and lm_quantize_act for the kernel files that use the
 * formats above as they are (scalar, x86). Unknown types, n <= 0: nothing. */
static inline size_t lm_act_row_bytes_q8(lm_type wtype, int64_t n) {
    const lm_type_traits *tt = lm_type_info(wtype);
    if (!tt || !tt->supported || n <= 0) return 0;
    if (lm_act_is_float(wtype)) return (size_t)n * sizeof(float);
    if (tt->block_size == LM_QK_K) return (size_t)(n / LM_QK_K) * sizeof(lm_act_q8_256);
    return (size_t)(n / LM_QK) * sizeof(lm_act_q8_32);
}

static inline void lm_quantize_act_q8(lm_type wtype, const float *x, void *xq, int64_t n) {
    const lm_type_traits *tt = lm_type_info(wtype);
    if (!tt || !tt->supported || n <= 0) return;
    if (lm_act_is_float(wtype)) {
        memcpy(xq, x, (size_t)n * sizeof(float));
    } else if (tt->block_size == LM_QK_K) {
        for (int64_t b = 0; b < n / LM_QK_K; b++) lm_act_quantize_block256(x + b * LM_QK_K, (lm_act_q8_256 *)xq + b);
    } else {
        for (int64_t b = 0; b < n / LM_QK; b++) lm_act_quantize_block32(x + b * LM_QK, (lm_act_q8_32 *)xq + b);
    }
}

#endif
