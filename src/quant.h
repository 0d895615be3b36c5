/* Quantized block formats, bit-compatible with GGUF (ggml), and the scalar
 * reference conversions between them and float. */
#ifndef LM_QUANT_H
#define LM_QUANT_H

#include <stdint.h>

#include "types.h"

#define LM_QK 32         /* elements per block of the 32-block types */
#define LM_QK_K 256      /* elements per K-quant super-block */
#define LM_K_SCALE_SIZE 12

/* Half floats are stored as raw bits: C11 has no portable 16-bit float. */
typedef uint16_t lm_half;

/* Element j is the low nibble of qs[j], element j + 16 the high nibble. */
typedef struct {
    lm_half d;
    uint8_t qs[LM_QK / 2];
} lm_block_q4_0;
_Static_assert(sizeof(lm_block_q4_0) == 18, "Q4_0 block must be 18 bytes");

typedef struct {
    lm_half d, m;
    uint8_t qs[LM_QK / 2];
} lm_block_q4_1;
_Static_assert(sizeof(lm_block_q4_1) == 20, "Q4_1 block must be 20 bytes");

/* Like Q4_0, plus bit j of the little-endian qh is the fifth bit of element j. */
typedef struct {
    lm_half d;
    uint8_t qh[4];
    uint8_t qs[LM_QK / 2];
} lm_block_q5_0;
_Static_assert(sizeof(lm_block_q5_0) == 22, "Q5_0 block must be 22 bytes");

typedef struct {
    lm_half d, m;
    uint8_t qh[4];
    uint8_t qs[LM_QK / 2];
} lm_block_q5_1;
_Static_assert(sizeof(lm_block_q5_1) == 24, "Q5_1 block must be 24 bytes");

typedef struct {
    lm_half d;
    int8_t qs[LM_QK];
} lm_block_q8_0;
_Static_assert(sizeof(lm_block_q8_0) == 34, "Q8_0 block must be 34 bytes");

/* 16 sub-blocks of 16: scales[j] = 4-bit scale | 4-bit min << 4. */
typedef struct {
    uint8_t scales[LM_QK_K / 16];
    uint8_t qs[LM_QK_K / 4];
    lm_half d, dmin;
} lm_block_q2_K;
_Static_assert(sizeof(lm_block_q2_K) == 84, "Q2_K block must be 84 bytes");

/* 16 sub-blocks of 16 with 6-bit scales (offset 32) packed in 12 bytes. */
typedef struct {
    uint8_t hmask[LM_QK_K / 8];
    uint8_t qs[LM_QK_K / 4];
    uint8_t scales[LM_K_SCALE_SIZE];
    lm_half d;
} lm_block_q3_K;
_Static_assert(sizeof(lm_block_q3_K) == 110, "Q3_K block must be 110 bytes");

/* 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes. */
typedef struct {
    lm_half d, dmin;
    uint8_t scales[LM_K_SCALE_SIZE];
    uint8_t qs[LM_QK_K / 2];
} lm_block_q4_K;
_Static_assert(sizeof(lm_block_q4_K) == 144, "Q4_K block must be 144 bytes");

typedef struct {
    lm_half d, dmin;
    uint8_t scales[LM_K_SCALE_SIZE];
    uint8_t qh[LM_QK_K / 8];
    uint8_t qs[LM_QK_K / 2];
} lm_block_q5_K;
_Static_assert(sizeof(lm_block_q5_K) == 176, "Q5_K block must be 176 bytes");

/* 16 sub-blocks of 16 with signed 8-bit scales. */
typedef struct {
    uint8_t ql[LM_QK_K / 2];
    uint8_t qh[LM_QK_K / 4];
    int8_t scales[LM_QK_K / 16];
    lm_half d;
} lm_block_q6_K;
_Static_assert(sizeof(lm_block_q6_K) == 210, "Q6_K block must be 210 bytes");

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block: the
 * first four sit in the low 6 bits of bytes 0..7, the last four are split
 * into a low nibble in bytes 8..11 and two high bits on top of bytes 0..7. */
static inline void lm_scale_min_k4(int j, const uint8_t *s, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* The signed 6-bit scale of sub-block j (0..15) of a Q3_K block: the low
 * nibble comes from bytes 0..7 (low nibbles first, then high), the two high
 * bits from bytes 8..11 (byte 8 + j % 4, bit pair j / 4). */
static inline int lm_scale_q3_k(int j, const uint8_t *s) {
    int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* One quantized block taken apart: element i is
 *   scale[i / sub] * q[i] - min[i / sub]
 * evaluated in float exactly as ggml's dequantize_row_* does, so dequantizing
 * through it is bit-exact and the kernels can dot the integer levels q. */
typedef struct {
    int n;                   /* elements: 32 or 256 */
    int sub;                 /* elements per sub-block: 16 or 32 */
    int8_t q[LM_QK_K];       /* integer levels (signed offsets already applied
                              * for the symmetric types) */
    float scale[LM_QK_K / 16];
    float min[LM_QK_K / 16]; /* 0 for the symmetric types */
} lm_levels;

/* Decodes one block of a quantized type (Q4_0..Q6_K) at any address;
 * returns 0 for a type that has no levels (float types, unsupported ids). */
int lm_block_levels(lm_type type, const void *block, lm_levels *out);

float lm_f16_to_f32(uint16_t h);
uint16_t lm_f32_to_f16(float f); /* round to nearest even, like ggml */
float lm_bf16_to_f32(uint16_t h);
uint16_t lm_f32_to_bf16(float f);

/* Every supported type: n a multiple of the block size; src/dst may be at
 * any address. These are void: callers check lm_type_info(type)->supported
 * first; an unsupported type leaves dst untouched. */
void lm_dequantize_row(lm_type type, const void *src, float *dst, int64_t n);
/* Reference quantizers producing the same bytes as ggml's *_ref functions
 * (for the writer, `localm quantize` and the synthetic-model generator). */
void lm_quantize_row(lm_type type, const float *src, void *dst, int64_t n);

#endif
