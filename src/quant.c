/* Scalar reference conversions between float and the GGUF block formats.
 * Dequantization is bit-exact with ggml's dequantize_row_*; quantization
 * follows ggml's quantize_row_*_ref searches step by step (same float
 * operations in the same order) so that the bytes match in normal cases. */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- half and bfloat16 ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float lm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, bits = (uint32_t)(h & 0x7FFF) << 13;
    if (bits >= 0x0F800000) return bits_f32(sign | 0x7F800000 | bits); /* inf, NaN payload */
    /* A subnormal half is its mantissa times 2^-24, a normal float. Made from
     * the integer, not by rescaling a subnormal float: x86 does arithmetic
     * on subnormal floats on a slow path, and K-quant super-block scales are
     * often subnormal halves (Q4_K's d is about a block's largest weight /
     * 945); wasm K-quant kernels ran at 40% speed on such weights. */
    if (bits < 0x00800000) return bits_f32(sign | f32_bits((float)(bits >> 13) * 0x1p-24f));
    /* A normal half: the exponent rebiased from 15 to 127. */
    return bits_f32(sign | (bits + (112u << 23)));
}

/* Drops the low `shift` bits of m, rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, int shift) {
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return r + (rem > half || (rem == half && (r & 1)));
}

uint16_t lm_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFF;
    if (ax > 0x7F800000) return sign | 0x7E00 | ((ax >> 13) & 0x3FF); /* NaN, made quiet */
    if (ax >= 0x477FF000) return sign | 0x7C00; /* 65520 and up round to inf */
    if (ax >= 0x38800000) /* normal half: rebias the exponent; a carry may bump it */
        return sign | (uint16_t)shift_round_even(ax - (112u << 23), 13);
    if (ax <= 0x33000000) return sign; /* at most half the smallest subnormal */
    /* Subnormal half: units of 2^-24; rounding up to 0x400 gives the smallest normal. */
    uint32_t e = ax >> 23, m = (ax & 0x7FFFFF) | 0x800000;
    return sign | (uint16_t)shift_round_even(m, (int)(126 - e));
}

float lm_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t lm_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 0x40); /* keep NaN quiet */
    return (uint16_t)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

/* ---- block levels (shared by dequantization and the scalar kernels) ---- */

static void levels_q4_0(const lm_block_q4_0 *b, lm_levels *o) {
    o->n = o->sub = LM_QK;
    o->scale[0] = lm_f16_to_f32(b->d);
    o->min[0] = 0;
    for (int j = 0; j < LM_QK / 2; j++) {
        o->q[j] = (int8_t)((b->qs[j] & 0xF) - 8);
        o->q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
    }
}

static void levels_q4_1(const lm_block_q4_1 *b, lm_levels *o) {
    o->n = o->sub = LM_QK;
    o->scale[0] = lm_f16_to_f32(b->d);
    o->min[0] = -lm_f16_to_f32(b->m);
    for (int j = 0; j < LM_QK / 2; j++) {
        o->q[j] = (int8_t)(b->qs[j] & 0xF);
        o->q[j + 16] = (int8_t)(b->qs[j] >> 4);
    }
}

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The unsigned 5-bit levels of Q5_0/Q5_1: bit j of qh tops element j. */
static void levels_5bit(const uint8_t *qs, const uint8_t *qh4, int offset, lm_levels *o) {
    uint32_t qh = load_le32(qh4);
    for (int j = 0; j < LM_QK / 2; j++) {
        int hi0 = (int)((qh >> j) & 1), hi1 = (int)((qh >> (j + 16)) & 1);
        o->q[j] = (int8_t)(((qs[j] & 0xF) | hi0 << 4) - offset);
        o->q[j + 16] = (int8_t)(((qs[j] >> 4) | hi1 << 4) - offset);
    }
}

static void levels_q5_0(const lm_block_q5_0 *b, lm_levels *o) {
    o->n = o->sub = LM_QK;
    o->scale[0] = lm_f16_to_f32(b->d);
    o->min[0] = 0;
    levels_5bit(b->qs, b->qh, 16, o);
}

static void levels_q5_1(const lm_block_q5_1 *b, lm_levels *o) {
    o->n = o->sub = LM_QK;
    o->scale[0] = lm_f16_to_f32(b->d);
    o->min[0] = -lm_f16_to_f32(b->m);
    levels_5bit(b->qs, b->qh, 0, o);
}

static void levels_q8_0(const lm_block_q8_0 *b, lm_levels *o) {
    o->n = o->sub = LM_QK;
    o->scale[0] = lm_f16_to_f32(b->d);
    o->min[0] = 0;
    memcpy(o->q, b->qs, LM_QK);
}

/* Q2_K and Q3_K keep 2 bits per element: in each half of 128 elements,
 * group g (0..3) of 32 takes bit pair g of the half's 32 bytes. */
static void unpack_2bit(const uint8_t *qs, int8_t *q) {
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++) q[128 * h + 32 * g + l] = (int8_t)((qs[32 * h + l] >> (2 * g)) & 3);
}

static void levels_q2_K(const lm_block_q2_K *b, lm_levels *o) {
    float d = lm_f16_to_f32(b->d), dmin = lm_f16_to_f32(b->dmin);
    o->n = LM_QK_K;
    o->sub = 16;
    for (int j = 0; j < 16; j++) {
        o->scale[j] = d * (b->scales[j] & 0xF);
        o->min[j] = dmin * (b->scales[j] >> 4);
    }
    unpack_2bit(b->qs, o->q);
}

static void levels_q3_K(const lm_block_q3_K *b, lm_levels *o) {
    float d = lm_f16_to_f32(b->d);
    o->n = LM_QK_K;
    o->sub = 16;
    for (int j = 0; j < 16; j++) {
        o->scale[j] = d * lm_scale_q3_k(j, b->scales);
        o->min[j] = 0;
    }
    unpack_2bit(b->qs, o->q);
    /* Group g of 32 elements has its third bit in bit g of hmask[0..31];
     * a clear bit means "minus 4". */
    for (int g = 0; g < 8; g++)
        for (int l = 0; l < 32; l++)
            if (!((b->hmask[l] >> g) & 1)) o->q[32 * g + l] -= 4;
}

/* Q4_K and Q5_K: each 64 elements use 32 bytes of nibbles, the first 32
 * elements in the low nibbles and the next 32 in the high ones. */
static void unpack_nibbles_k(const uint8_t *qs, int8_t *q) {
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
}

static void scales_mins_k4(const uint8_t *packed, float d, float dmin, lm_levels *o) {
    o->n = LM_QK_K;
    o->sub = 32;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        lm_scale_min_k4(j, packed, &sc, &m);
        o->scale[j] = d * sc;
        o->min[j] = dmin * m;
    }
}

static void levels_q4_K(const lm_block_q4_K *b, lm_levels *o) {
    scales_mins_k4(b->scales, lm_f16_to_f32(b->d), lm_f16_to_f32(b->dmin), o);
    unpack_nibbles_k(b->qs, o->q);
}

static void levels_q5_K(const lm_block_q5_K *b, lm_levels *o) {
    scales_mins_k4(b->scales, lm_f16_to_f32(b->d), lm_f16_to_f32(b->dmin), o);
    unpack_nibbles_k(b->qs, o->q);
    /* Group g of 32 elements has its fifth bit in bit g of qh[0..31]. */
    for (int g = 0; g < 8; g++)
        for (int l = 0; l < 32; l++) o->q[32 * g + l] |= (int8_t)(((b->qh[l] >> g) & 1) << 4);
}

static void levels_q6_K(const lm_block_q6_K *b, lm_levels *o) {
    float d = lm_f16_to_f32(b->d);
    o->n = LM_QK_K;
    o->sub = 16;
    for (int j = 0; j < 16; j++) {
        o->scale[j] = d * b->scales[j];
        o->min[j] = 0;
    }
    /* Each half of 128 elements: 64 bytes of ql and 32 of qh. Group g of 32
     * takes its low 4 bits from ql[32 * (g & 1) + l] (low nibble for g < 2,
     * high for g >= 2) and its top 2 bits from bit pair g of qh[l]. */
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int8_t *q = o->q + 128 * h;
        for (int l = 0; l < 32; l++) {
            q[l] = (int8_t)(((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32);
            q[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
            q[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

/* Blocks are copied through this aligned union: inside a mapped file or a
 * caller's buffer a block may sit at any address. */
typedef union {
    lm_block_q4_0 q4_0;
    lm_block_q4_1 q4_1;
    lm_block_q5_0 q5_0;
    lm_block_q5_1 q5_1;
    lm_block_q8_0 q8_0;
    lm_block_q2_K q2_K;
    lm_block_q3_K q3_K;
    lm_block_q4_K q4_K;
    lm_block_q5_K q5_K;
    lm_block_q6_K q6_K;
} any_block;

int lm_block_levels(lm_type type, const void *block, lm_levels *out) {
    any_block b;
    const lm_type_traits *tt = lm_type_info(type);
    if (!tt || tt->block_bytes > sizeof b) return 0;
    memcpy(&b, block, tt->block_bytes);
    switch (type) {
    case LM_TYPE_Q4_0: levels_q4_0(&b.q4_0, out); return 1;
    case LM_TYPE_Q4_1: levels_q4_1(&b.q4_1, out); return 1;
    case LM_TYPE_Q5_0: levels_q5_0(&b.q5_0, out); return 1;
    case LM_TYPE_Q5_1: levels_q5_1(&b.q5_1, out); return 1;
    case LM_TYPE_Q8_0: levels_q8_0(&b.q8_0, out); return 1;
    case LM_TYPE_Q2_K: levels_q2_K(&b.q2_K, out); return 1;
    case LM_TYPE_Q3_K: levels_q3_K(&b.q3_K, out); return 1;
    case LM_TYPE_Q4_K: levels_q4_K(&b.q4_K, out); return 1;
    case LM_TYPE_Q5_K: levels_q5_K(&b.q5_K, out); return 1;
    case LM_TYPE_Q6_K: levels_q6_K(&b.q6_K, out); return 1;
    default: return 0;
    }
}

void lm_dequantize_row(lm_type type, const void *src, float *dst, int64_t n) {
    const lm_type_traits *tt = lm_type_info(type);
    if (!tt || !tt->supported || n <= 0) return;
    if (type == LM_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    const uint8_t *p = src; /* may be unaligned inside a GGUF mapping */
    if (type == LM_TYPE_F16) {
        for (int64_t i = 0; i < n; i++) dst[i] = lm_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return;
    }
    if (type == LM_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) dst[i] = lm_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return;
    }
    lm_levels lv;
    for (int64_t b = 0; b < n / tt->block_size; b++) {
        lm_block_levels(type, p + b * tt->block_bytes, &lv);
        for (int i = 0; i < lv.n; i++)
            dst[b * lv.n + i] = lv.scale[i / lv.sub] * lv.q[i] - lv.min[i / lv.sub];
    }
}

/* ---- quantization helpers ---- */

#define GROUP_MAX_EPS 1e-15f

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Round to nearest, ties to even, for |f| < 2^22: adding 1.5 * 2^23 leaves
 * the rounded integer in the low mantissa bits. Defined (if meaningless) for
 * any input, so hostile floats cannot trap. */
static int nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

/* Truncation of v toward zero clamped to [lo, hi] (lo >= 0); unlike a plain
 * cast it stays defined for NaN and huge values. */
static int trunc_clamp(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)v;
}

/* The value of largest magnitude, sign kept. */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (amax < fabsf(x[i])) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    return max;
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- 32-blocks: one scale (and min) from the extremes ---- */

static void quantize_q4_0(const float *x, lm_block_q4_0 *y) {
    float d = signed_absmax(x, LM_QK) / -8; /* the extreme maps to level 0 exactly */
    float id = d ? 1.0f / d : 0.0f;
    y->d = lm_f32_to_f16(d);
    for (int j = 0; j < LM_QK / 2; j++) {
        int lo = trunc_clamp(x[j] * id + 8.5f, 0, 15);
        int hi = trunc_clamp(x[j + 16] * id + 8.5f, 0, 15);
        y->qs[j] = (uint8_t)(lo | hi << 4);
    }
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int i = 0; i < n; i++) {
        if (x[i] < *mn) *mn = x[i];
        if (x[i] > *mx) *mx = x[i];
    }
}

static void quantize_q4_1(const float *x, lm_block_q4_1 *y) {
    float mn, mx;
    min_max(x, LM_QK, &mn, &mx);
    float d = (mx - mn) / 15, id = d ? 1.0f / d : 0.0f;
    y->d = lm_f32_to_f16(d);
    y->m = lm_f32_to_f16(mn);
    for (int j = 0; j < LM_QK / 2; j++) {
        int lo = trunc_clamp((x[j] - mn) * id + 0.5f, 0, 15);
        int hi = trunc_clamp((x[j + 16] - mn) * id + 0.5f, 0, 15);
        y->qs[j] = (uint8_t)(lo | hi << 4);
    }
}

/* Packs unsigned 5-bit levels: nibbles in qs, fifth bits in qh. */
static void pack_5bit(const int *l, uint8_t *qs, uint8_t *qh4) {
    uint32_t qh = 0;
    for (int j = 0; j < LM_QK / 2; j++) {
        qs[j] = (uint8_t)((l[j] & 0xF) | (l[j + 16] & 0xF) << 4);
        qh |= (uint32_t)(l[j] >> 4) << j | (uint32_t)(l[j + 16] >> 4) << (j + 16);
    }
    put_le32(qh4, qh);
}

static void quantize_q5_0(const float *x, lm_block_q5_0 *y) {
    float d = signed_absmax(x, LM_QK) / -16, id = d ? 1.0f / d : 0.0f;
    int l[LM_QK];
    y->d = lm_f32_to_f16(d);
    for (int j = 0; j < LM_QK; j++) l[j] = trunc_clamp(x[j] * id + 16.5f, 0, 31);
    pack_5bit(l, y->qs, y->qh);
}

static void quantize_q5_1(const float *x, lm_block_q5_1 *y) {
    float mn, mx;
    min_max(x, LM_QK, &mn, &mx);
    float d = (mx - mn) / 31, id = d ? 1.0f / d : 0.0f;
    int l[LM_QK];
    y->d = lm_f32_to_f16(d);
    y->m = lm_f32_to_f16(mn);
    for (int j = 0; j < LM_QK; j++) l[j] = trunc_clamp((x[j] - mn) * id + 0.5f, 0, 31);
    pack_5bit(l, y->qs, y->qh);
}

static void quantize_q8_0(const float *x, lm_block_q8_0 *y) {
    float d = fabsf(signed_absmax(x, LM_QK)) / 127, id = d ? 1.0f / d : 0.0f;
    y->d = lm_f32_to_f16(d);
    /* roundf (ties away from zero) as ggml does; |x * id| <= 127 */
    for (int j = 0; j < LM_QK; j++) y->qs[j] = (int8_t)imax(-127, imin(127, (int)roundf(x[j] * id)));
}

/* ---- K-quant searches (ggml's make_qx_quants / make_q3_quants /
 * make_qkx2_quants) ---- */

/* The symmetric level of x at inverse scale iscale, in [-nmax, nmax). */
static int symmetric_level(float x, float iscale, int nmax) {
    return imax(-nmax, imin(nmax - 1, nearest_int(iscale * x)));
}

/* Least-squares sums of x against its levels, weighted by x^2. */
static void symmetric_sums(int n, int nmax, const float *x, float iscale, float *sumlx, float *suml2) {
    *sumlx = *suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = symmetric_level(x[i], iscale, nmax);
        float w = x[i] * x[i];
        *sumlx += w * x[i] * l;
        *suml2 += w * l * l;
    }
}

/* The first guess of both searches below: levels at iscale -nmax / max, with
 * their sums. Returns 0, with L zeroed, for a group of (near) zeros. */
static int symmetric_first_guess(int n, int nmax, const float *x, int8_t *L, float *max,
                                 float *sumlx, float *suml2) {
    *max = signed_absmax(x, n);
    if (fabsf(*max) < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0;
    }
    float iscale = -nmax / *max;
    symmetric_sums(n, nmax, x, iscale, sumlx, suml2);
    for (int i = 0; i < n; i++) L[i] = (int8_t)symmetric_level(x[i], iscale, nmax);
    return 1;
}

/* Symmetric levels in [-nmax, nmax) weighted by x^2: tries inverse scales
 * (nmax + 0.1 k) / max for k in -9..9 and keeps the least-squares best.
 * Returns the scale; L gets the levels plus nmax. */
static float search_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!symmetric_first_guess(n, nmax, x, L, &max, &sumlx, &suml2)) return 0.f;
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        float iscale = -(nmax + 0.1f * k) / max;
        symmetric_sums(n, nmax, x, iscale, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + symmetric_level(x[i], iscale, nmax));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Symmetric levels in [-nmax, nmax) weighted by x^2, improved one element
 * at a time for up to 5 rounds. Returns the scale; L gets levels plus nmax. */
static float search_q3(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!symmetric_first_guess(n, nmax, x, L, &max, &sumlx, &suml2)) return 0.f;
    for (int round = 0; round < 5; round++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int nl = imax(-nmax, imin(nmax - 1, nearest_int(x[i] * sl2 / slx)));
            if (nl == L[i]) continue;
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

typedef struct {
    float rmin, rdelta; /* candidate level counts nmax + rmin + rdelta * step */
    int nstep;
    int use_mad;        /* weigh absolute rather than squared errors */
} search_params;

/* Levels in [0, nmax] with a scale and a min <= 0 (x ~ scale * L + min),
 * trying nstep + 1 level counts and refitting scale and min by weighted least
 * squares. Returns the scale and *neg_min = -min. */
static float search_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *neg_min, search_params p) {
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    uint8_t Laux[32];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *neg_min = -mn;
        return 0.f;
    }
    float iscale = nmax / (mx - mn), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)imax(0, imin(nmax, nearest_int(iscale * (x[i] - mn))));
        float diff = scale * L[i] + mn - x[i];
        best_error += w[i] * (p.use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= p.nstep; is++) {
        iscale = (p.rmin + p.rdelta * is + nmax) / (mx - mn);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - mn))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            err += w[i] * (p.use_mad ? fabsf(diff) : diff * diff);
        }
        if (err < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = err;
            scale = this_scale;
            mn = this_min;
        }
    }
    *neg_min = -mn;
    return scale;
}

/* Requantizes n values against the stored (rounded) scale d and min dm,
 * as ggml does once the block scales are final. d == 0 keeps the levels. */
static void requantize_min(const float *x, int n, float d, float dm, int nmax, uint8_t *L) {
    if (!d) return;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)imax(0, imin(nmax, nearest_int((x[i] + dm) / d)));
}

static void requantize_symmetric(const float *x, int n, float d, int nmax, int8_t *L) {
    if (!d) return;
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, nearest_int(x[i] / d))));
}

/* 2-bit packing of Q2_K/Q3_K (see unpack_2bit). */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < LM_QK_K; h += 128)
        for (int l = 0; l < 32; l++)
            qs[h / 4 + l] = (uint8_t)(L[h + l] | L[h + l + 32] << 2 | L[h + l + 64] << 4 | L[h + l + 96] << 6);
}

/* ---- K-quants ---- */

static void quantize_q2_K(const float *x, lm_block_q2_K *y) {
    uint8_t L[LM_QK_K];
    float w[16], scales[16], mins[16], max_scale = 0, max_min = 0;
    const search_params p = {-0.5f, 0.1f, 15, 1};
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        scales[j] = search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], p);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    /* Scales and mins are 4-bit multiples of d and dmin. */
    float iscale = max_scale > 0 ? 15.f / max_scale : 0, imin_ = max_min > 0 ? 15.f / max_min : 0;
    for (int j = 0; j < 16; j++) {
        int ls = imax(0, imin(15, nearest_int(iscale * scales[j])));
        int lm = imax(0, imin(15, nearest_int(imin_ * mins[j])));
        y->scales[j] = (uint8_t)(ls | lm << 4);
    }
    y->d = lm_f32_to_f16(max_scale > 0 ? max_scale / 15.f : 0.f);
    y->dmin = lm_f32_to_f16(max_min > 0 ? max_min / 15.f : 0.f);
    float d = lm_f16_to_f32(y->d), dmin = lm_f16_to_f32(y->dmin);
    for (int j = 0; j < 16; j++)
        requantize_min(x + 16 * j, 16, d * (y->scales[j] & 0xF), dmin * (y->scales[j] >> 4), 3, L + 16 * j);
    pack_2bit(L, y->qs);
}

static void quantize_q3_K(const float *x, lm_block_q3_K *y) {
    int8_t L[LM_QK_K];
    float scales[16];
    for (int j = 0; j < 16; j++) scales[j] = search_q3(16, 4, x + 16 * j, L + 16 * j);
    float max_scale = signed_absmax(scales, 16);
    memset(y->scales, 0, sizeof y->scales);
    if (max_scale) {
        /* 6-bit signed scales: low nibbles in bytes 0..7, high bit pairs in 8..11 */
        float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; j++) {
            int l = imax(-32, imin(31, nearest_int(iscale * scales[j]))) + 32;
            y->scales[j % 8] |= (uint8_t)((l & 0xF) << (j < 8 ? 0 : 4));
            y->scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        y->d = lm_f32_to_f16(1 / iscale);
    } else {
        y->d = lm_f32_to_f16(0.f);
    }
    float d = lm_f16_to_f32(y->d);
    for (int j = 0; j < 16; j++) requantize_symmetric(x + 16 * j, 16, d * lm_scale_q3_k(j, y->scales), 4, L + 16 * j);
    /* Levels 4..7 set the hmask bit and keep 0..3 in the 2-bit array. */
    memset(y->hmask, 0, sizeof y->hmask);
    uint8_t low[LM_QK_K];
    for (int e = 0; e < LM_QK_K; e++) {
        if (L[e] > 3) y->hmask[e % 32] |= (uint8_t)(1 << (e / 32));
        low[e] = (uint8_t)(L[e] & 3);
    }
    pack_2bit(low, y->qs);
}

/* Q4_K/Q5_K: 8 sub-blocks of 32 with weights |x| + rms, scales and mins
 * stored as 6-bit multiples of d and dmin. Leaves levels in L. */
static void quantize_k4_scales(const float *x, int nmax, search_params p, lm_half *dh,
                               lm_half *dminh, uint8_t *packed, uint8_t *L) {
    float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = search_scale_min(32, nmax, xs, w, L + 32 * j, &mins[j], p);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(packed, 0, LM_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        int ls = imax(0, imin(63, nearest_int(inv_scale * scales[j])));
        int lm = imax(0, imin(63, nearest_int(inv_min * mins[j])));
        if (j < 4) {
            packed[j] = (uint8_t)ls;
            packed[j + 4] = (uint8_t)lm;
        } else {
            packed[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
            packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
            packed[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dh = lm_f32_to_f16(max_scale / 63.f);
    *dminh = lm_f32_to_f16(max_min / 63.f);
    float d = lm_f16_to_f32(*dh), dmin = lm_f16_to_f32(*dminh);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        lm_scale_min_k4(j, packed, &sc, &m);
        requantize_min(x + 32 * j, 32, d * sc, dmin * m, nmax, L + 32 * j);
    }
}

static void quantize_q4_K(const float *x, lm_block_q4_K *y) {
    uint8_t L[LM_QK_K];
    const search_params p = {-1.f, 0.1f, 20, 0};
    quantize_k4_scales(x, 15, p, &y->d, &y->dmin, y->scales, L);
    for (int e = 0; e < LM_QK_K; e += 64)
        for (int l = 0; l < 32; l++) y->qs[e / 2 + l] = (uint8_t)(L[e + l] | L[e + l + 32] << 4);
}

static void quantize_q5_K(const float *x, lm_block_q5_K *y) {
    uint8_t L[LM_QK_K];
    const search_params p = {-0.5f, 0.1f, 15, 0};
    quantize_k4_scales(x, 31, p, &y->d, &y->dmin, y->scales, L);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < LM_QK_K; e++)
        if (L[e] > 15) y->qh[e % 32] |= (uint8_t)(1 << (e / 32));
    for (int e = 0; e < LM_QK_K; e += 64)
        for (int l = 0; l < 32; l++) y->qs[e / 2 + l] = (uint8_t)((L[e + l] & 0xF) | (L[e + l + 32] & 0xF) << 4);
}

static void quantize_q6_K(const float *x, lm_block_q6_K *y) {
    int8_t L[LM_QK_K];
    float scales[16];
    for (int j = 0; j < 16; j++) scales[j] = search_symmetric(16, 32, x + 16 * j, L + 16 * j);
    float max_scale = signed_absmax(scales, 16);
    if (fabsf(max_scale) < GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = lm_f32_to_f16(1 / iscale);
    for (int j = 0; j < 16; j++) y->scales[j] = (int8_t)imax(-128, imin(127, nearest_int(iscale * scales[j])));
    float d = lm_f16_to_f32(y->d);
    for (int j = 0; j < 16; j++) requantize_symmetric(x + 16 * j, 16, d * y->scales[j], 32, L + 16 * j);
    /* Inverse of levels_q6_K: group k of 32 in each half -> ql nibble and qh pair. */
    memset(y->ql, 0, sizeof y->ql);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < LM_QK_K; e++) {
        int half = e / 128, k = (e % 128) / 32, l = e % 32;
        y->ql[64 * half + 32 * (k & 1) + l] |= (uint8_t)((L[e] & 0xF) << (k < 2 ? 0 : 4));
        y->qh[32 * half + l] |= (uint8_t)((L[e] >> 4) << (2 * k));
    }
}

void lm_quantize_row(lm_type type, const float *src, void *dst, int64_t n) {
    const lm_type_traits *tt = lm_type_info(type);
    if (!tt || !tt->supported || n <= 0) return;
    uint8_t *out = dst;
    if (type == LM_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    if (type == LM_TYPE_F16 || type == LM_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = type == LM_TYPE_F16 ? lm_f32_to_f16(src[i]) : lm_f32_to_bf16(src[i]);
            out[2 * i] = (uint8_t)h;
            out[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return;
    }
    any_block y;
    for (int64_t b = 0; b < n / tt->block_size; b++) {
        const float *x = src + b * tt->block_size;
        switch (type) {
        case LM_TYPE_Q4_0: quantize_q4_0(x, &y.q4_0); break;
        case LM_TYPE_Q4_1: quantize_q4_1(x, &y.q4_1); break;
        case LM_TYPE_Q5_0: quantize_q5_0(x, &y.q5_0); break;
        case LM_TYPE_Q5_1: quantize_q5_1(x, &y.q5_1); break;
        case LM_TYPE_Q8_0: quantize_q8_0(x, &y.q8_0); break;
        case LM_TYPE_Q2_K: quantize_q2_K(x, &y.q2_K); break;
        case LM_TYPE_Q3_K: quantize_q3_K(x, &y.q3_K); break;
        case LM_TYPE_Q4_K: quantize_q4_K(x, &y.q4_K); break;
        case LM_TYPE_Q5_K: quantize_q5_K(x, &y.q5_K); break;
        case LM_TYPE_Q6_K: quantize_q6_K(x, &y.q6_K); break;
        default: return;
        }
        memcpy(out + b * tt->block_bytes, &y, tt->block_bytes);
    }
}
