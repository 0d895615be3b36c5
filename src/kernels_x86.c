/* The x86-64 AVX2 kernels (built with -mavx2 -mfma -mf16c: any x86-64-v3
 * CPU; CMakeLists.txt picks them only when the build machine has those).
 * Same results as kernels_scalar.c up to float summation order; products
 * of float weights and the block scales accumulate with fused multiply-adds
 * (one rounding fewer than the scalar code, well inside the equality tests'
 * tolerances). lm_mix_rows_f32 stays unfused: it is bit-identical to scalar.
 *
 * Design:
 * - Activations are the scalar kernels' formats, quantized by the same
 *   kernels_act.h functions, so the blocks are bit-identical.
 * - Integer dots use _mm256_maddubs_epi16 (unsigned x signed bytes, pairs
 *   summed into int16) then _mm256_madd_epi16. Unsigned weight levels (Q4/Q5
 *   nibbles, Q6_K's 6 bits) go in as they are; their constant offsets (-8,
 *   -16, -32) are taken off once per block with the activation sums. Signed
 *   levels (Q8_0, the generic path) use the sign trick: |w| times a carrying
 *   w's sign. No pair sum saturates: |w| <= 128, |a| <= 127.
 * - K-quant sub-block scales multiply the int16 pair sums in
 *   _mm256_madd_epi16, so a super-block accumulates into one int32 vector
 *   per row and token, converted to float once.
 * - A tile of R rows x T tokens decodes each weight block once for its T
 *   tokens; each row and token has its own 8-lane float accumulator, summed
 *   across lanes once at the end.
 * - Q2_K and Q3_K decode with lm_block_levels (the scalar decoder) and take
 *   AVX2 integer dots.
 * Weights are GGUF blocks as stored (no repacking). */
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels_act.h"
#include "kernels_tiles.h"
#include "quant.h"

#define INLINE static inline __attribute__((always_inline))

enum { MAX_ROWS = 2, MAX_TOKENS = 8 }; /* largest tiles: 2 x 4, 1 x 8 */

size_t lm_act_row_bytes(lm_type wtype, int64_t n) { return lm_act_row_bytes_q8(wtype, n); }

/* The shared scalar quantizer: a small share of the time, and every kernel
 * file's blocks must be bit-identical. */
void lm_quantize_act(lm_type wtype, const float *x, void *xq, int64_t n) { lm_quantize_act_q8(wtype, x, xq, n); }

/* ---- small helpers ---- */

INLINE float hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Blocks may sit at any address (GGUF allows an alignment of 1), so their
 * fields are read through byte offsets, never through a block pointer. */
#define FIELD(p, blk, member) ((p) + offsetof(blk, member))

INLINE float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

/* int32 lanes summing to the dot of 32 unsigned bytes u and signed bytes s. */
INLINE __m256i dot_u8_s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* The same for two signed vectors: |w| times a with w's sign. */
INLINE __m256i dot_s8_s8(__m256i w, __m256i a) {
    return dot_u8_s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

/* Byte mask picking int16 lane j of a 128-bit lane, for _mm256_shuffle_epi8. */
INLINE __m128i pick16(int j) { return _mm_set1_epi16((short)((2 * j + 1) << 8 | 2 * j)); }

/* ---- 32-block weights: 32 levels in element order, scale d, min m ---- */

typedef struct {
    __m256i q; /* unsigned levels, or signed for Q8_0 */
    float d, m;
} wblock32;

/* Elements 0..15 are the low nibbles of the 16 bytes, 16..31 the high. */
INLINE __m256i nibbles32(const uint8_t *qs) {
    __m128i l = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(l, 4), l), _mm256_set1_epi8(0x0F));
}

/* 16 in byte j where bit j of Q5's little-endian 32-bit qh is set: byte j
 * gets qh's byte j / 8, then its bit j % 8 is tested. */
INLINE __m256i fifth_bits(const uint8_t *qh) {
    int32_t bits;
    memcpy(&bits, qh, sizeof bits);
    const __m256i byte_of = _mm256_set_m128i(_mm_set_epi64x(0x0303030303030303, 0x0202020202020202),
                                             _mm_set_epi64x(0x0101010101010101, 0));
    const __m256i bit_of = _mm256_set1_epi64x((int64_t)0x8040201008040201);
    __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(bits), byte_of), bit_of);
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit_of), _mm256_set1_epi8(16));
}

INLINE void decode_q4_0(const uint8_t *p, wblock32 *o) {
    o->q = nibbles32(FIELD(p, lm_block_q4_0, qs));
    o->d = half_at(FIELD(p, lm_block_q4_0, d));
    o->m = 0;
}

INLINE void decode_q4_1(const uint8_t *p, wblock32 *o) {
    o->q = nibbles32(FIELD(p, lm_block_q4_1, qs));
    o->d = half_at(FIELD(p, lm_block_q4_1, d));
    o->m = half_at(FIELD(p, lm_block_q4_1, m));
}

INLINE void decode_q5_0(const uint8_t *p, wblock32 *o) {
    o->q = _mm256_or_si256(nibbles32(FIELD(p, lm_block_q5_0, qs)), fifth_bits(FIELD(p, lm_block_q5_0, qh)));
    o->d = half_at(FIELD(p, lm_block_q5_0, d));
    o->m = 0;
}

INLINE void decode_q5_1(const uint8_t *p, wblock32 *o) {
    o->q = _mm256_or_si256(nibbles32(FIELD(p, lm_block_q5_1, qs)), fifth_bits(FIELD(p, lm_block_q5_1, qh)));
    o->d = half_at(FIELD(p, lm_block_q5_1, d));
    o->m = half_at(FIELD(p, lm_block_q5_1, m));
}

INLINE void decode_q8_0(const uint8_t *p, wblock32 *o) {
    o->q = load32(FIELD(p, lm_block_q8_0, qs));
    o->d = half_at(FIELD(p, lm_block_q8_0, d));
    o->m = 0;
}

typedef void decode32_fn(const uint8_t *p, wblock32 *o);

/* offset: the constant subtracted from every unsigned level (8 for Q4_0, 16
 * for Q5_0); has_min: value = d * q + m (Q4_1, Q5_1); is_signed: Q8_0. */
INLINE void tile32(decode32_fn decode, size_t bbytes, int offset, int has_min, int is_signed, int R, int T,
                   int64_t nb, const uint8_t *w, size_t wrb, const lm_act_q8_32 *x, int64_t xrb, float *y,
                   int64_t ys) {
    __m256 acc[MAX_ROWS][MAX_TOKENS];
    float mins[MAX_ROWS][MAX_TOKENS];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps(), mins[r][t] = 0;
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < R; r++) {
            wblock32 wb;
            decode(w + r * wrb + b * bbytes, &wb);
            __m256i u = is_signed ? _mm256_sign_epi8(wb.q, wb.q) : wb.q;
            for (int t = 0; t < T; t++) {
                const lm_act_q8_32 *a = x + t * xrb + b;
                __m256i av = load32(a->q);
                __m256i isum = dot_u8_s8(u, is_signed ? _mm256_sign_epi8(av, wb.q) : av);
                if (offset) isum = _mm256_add_epi32(isum, _mm256_setr_epi32(-offset * a->sum, 0, 0, 0, 0, 0, 0, 0));
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(wb.d * a->d), acc[r][t]);
                if (has_min) mins[r][t] += wb.m * (a->d * (float)a->sum);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ys + r] = hsum_f32x8(acc[r][t]) + mins[r][t];
}

/* ---- K-quant weights ---- */

/* A super-block's scales, decoded once per row: its value is
 * d * sum(scale * q * a) - dmin * sum(mins * bsums), times the activation d. */
typedef struct {
    float d, dmin;
    __m256i mins;      /* int16 per group of 16 elements, dotted with the bsums */
    __m256i scales[2]; /* int16 sub-block scales, the same in both 128-bit lanes */
} kblock;

/* Chunk c (0..3) of a super-block: elements 64 c .. 64 c + 63 as two vectors
 * of unsigned levels and their int16 scale vectors. */
typedef void kblock_fn(const uint8_t *p, kblock *o);
typedef void kchunk_fn(const uint8_t *p, const kblock *k, int c, __m256i q[2], __m256i s[2]);

/* Q4_K and Q5_K start alike: d, dmin, then the 12 bytes of 6-bit scales and
 * mins of the 8 sub-blocks. */
_Static_assert(offsetof(lm_block_q5_K, d) == offsetof(lm_block_q4_K, d) &&
                   offsetof(lm_block_q5_K, dmin) == offsetof(lm_block_q4_K, dmin) &&
                   offsetof(lm_block_q5_K, scales) == offsetof(lm_block_q4_K, scales),
               "Q4_K and Q5_K share their scale fields");

/* Bytes 0..3 hold scales 0..3, bytes 4..7 mins 0..3 (low 6 bits each);
 * scales and mins 4..7 take their low nibbles from bytes 8..11 and their top
 * two bits from the top of bytes 0..3 and 4..7 (lm_scale_min_k4, four at a
 * time). */
INLINE void scales_q4_k(const uint8_t *p, kblock *o) {
    uint32_t u[3], sm[4];
    memcpy(u, FIELD(p, lm_block_q4_K, scales), sizeof u);
    sm[0] = u[0] & 0x3F3F3F3F;
    sm[1] = (u[2] & 0x0F0F0F0F) | (u[0] >> 6 & 0x03030303) << 4;
    sm[2] = u[1] & 0x3F3F3F3F;
    sm[3] = (u[2] >> 4 & 0x0F0F0F0F) | (u[1] >> 6 & 0x03030303) << 4;
    __m128i v = _mm_loadu_si128((const __m128i *)sm); /* 8 scales, 8 mins */
    __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(v, 8));
    o->d = half_at(FIELD(p, lm_block_q4_K, d));
    o->dmin = half_at(FIELD(p, lm_block_q4_K, dmin));
    o->mins = _mm256_set_m128i(_mm_unpackhi_epi16(mins, mins), _mm_unpacklo_epi16(mins, mins));
    o->scales[0] = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(v));
}

#define scales_q5_k scales_q4_k

/* 32 bytes of nibbles: sub-block 2 c in the low nibbles, 2 c + 1 in the high. */
INLINE void nibble_chunk(const uint8_t *qs, const kblock *k, int c, __m256i q[2], __m256i s[2]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i v = load32(qs + 32 * c);
    q[0] = _mm256_and_si256(v, m4);
    q[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    s[0] = _mm256_shuffle_epi8(k->scales[0], _mm256_broadcastsi128_si256(pick16(2 * c)));
    s[1] = _mm256_shuffle_epi8(k->scales[0], _mm256_broadcastsi128_si256(pick16(2 * c + 1)));
}

INLINE void chunk_q4_k(const uint8_t *p, const kblock *k, int c, __m256i q[2], __m256i s[2]) {
    nibble_chunk(FIELD(p, lm_block_q4_K, qs), k, c, q, s);
}

/* Bit 2 c of qh byte l is the fifth bit of element 64 c + l, bit 2 c + 1
 * that of element 64 c + 32 + l. */
INLINE void chunk_q5_k(const uint8_t *p, const kblock *k, int c, __m256i q[2], __m256i s[2]) {
    const __m256i one = _mm256_set1_epi8(1);
    __m256i qh = load32(FIELD(p, lm_block_q5_K, qh));
    nibble_chunk(FIELD(p, lm_block_q5_K, qs), k, c, q, s);
    q[0] = _mm256_or_si256(q[0], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
    q[1] = _mm256_or_si256(q[1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
}

/* Signed scales per 16 elements; the -32 of every level is a "min" of 32
 * times the scale, taken off with the bsums. */
INLINE void scales_q6_k(const uint8_t *p, kblock *o) {
    __m128i sc = _mm_loadu_si128((const __m128i *)FIELD(p, lm_block_q6_K, scales));
    o->d = o->dmin = half_at(FIELD(p, lm_block_q6_K, d));
    o->mins = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5);
    o->scales[0] = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc));
    o->scales[1] = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(sc, 8)));
}

/* Half h = c / 2 covers elements 128 h .. 128 h + 127 from ql bytes 64 h ..
 * 64 h + 63 (two 32-byte runs A, B) and qh bytes 32 h .. 32 h + 31: element
 * 128 h + l is A's low nibble with qh bits 0-1, + 32 B's low nibble with
 * bits 2-3, + 64 A's high nibble with bits 4-5, + 96 B's high nibble with
 * bits 6-7. Groups of 16 keep their own scale: the low 128-bit lane of a
 * vector takes the first, the high lane the second. 16-bit shifts move bits
 * across bytes only where the masks drop them. */
INLINE void chunk_q6_k(const uint8_t *p, const kblock *k, int c, __m256i q[2], __m256i s[2]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    const uint8_t *ql = FIELD(p, lm_block_q6_K, ql) + 64 * (c >> 1);
    int upper = c & 1;
    __m256i ql_a = load32(ql), ql_b = load32(ql + 32), qh = load32(FIELD(p, lm_block_q6_K, qh) + 32 * (c >> 1));
    if (upper) {
        q[0] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), m4), _mm256_and_si256(qh, m2));
        q[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2));
    } else {
        q[0] = _mm256_or_si256(_mm256_and_si256(ql_a, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2));
        q[1] = _mm256_or_si256(_mm256_and_si256(ql_b, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2));
    }
    int g = 4 * upper; /* group of 16 within the half, over 2 for the lanes */
    s[0] = _mm256_shuffle_epi8(k->scales[c >> 1], _mm256_set_m128i(pick16(g + 1), pick16(g)));
    s[1] = _mm256_shuffle_epi8(k->scales[c >> 1], _mm256_set_m128i(pick16(g + 3), pick16(g + 2)));
}

INLINE void tile256(kblock_fn scales, kchunk_fn chunk, size_t bbytes, int R, int T, int64_t nb, const uint8_t *w,
                    size_t wrb, const lm_act_q8_256 *x, int64_t xrb, float *y, int64_t ys) {
    __m256 acc[MAX_ROWS][MAX_TOKENS];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * wrb + b * bbytes;
            kblock k;
            scales(p, &k);
            __m256i isum[MAX_TOKENS];
            for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                __m256i q[2], s[2];
                chunk(p, &k, c, q, s);
                for (int t = 0; t < T; t++) {
                    const int8_t *aq = x[t * xrb + b].q + 64 * c;
                    __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[0], load32(aq)), s[0]);
                    __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[1], load32(aq + 32)), s[1]);
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(p0, p1));
                }
            }
            for (int t = 0; t < T; t++) {
                const lm_act_q8_256 *a = x + t * xrb + b;
                __m256i msum = _mm256_madd_epi16(k.mins, load32(a->bsums));
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(k.d * a->d), acc[r][t]);
                acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(k.dmin * a->d), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ys + r] = hsum_f32x8(acc[r][t]);
}

/* ---- other K-quants: lm_block_levels, then integer dots ---- */

/* The 16 dots of the 16-element groups of 256 signed levels q with a. Each
 * 32-element dot leaves group 2 k in lanes 0..3, group 2 k + 1 in lanes
 * 4..7; two horizontal adds over four of them give groups 0, 2, 4, 6 | 1, 3,
 * 5, 7, which the permute puts in order. */
INLINE void group_dots(const int8_t *q, const int8_t *a, int32_t out[16]) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int h = 0; h < 2; h++) {
        __m256i d[4];
        for (int k = 0; k < 4; k++) d[k] = dot_s8_s8(load32(q + 128 * h + 32 * k), load32(a + 128 * h + 32 * k));
        __m256i g = _mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]), _mm256_hadd_epi32(d[2], d[3]));
        _mm256_storeu_si256((__m256i *)(out + 8 * h), _mm256_permutevar8x32_epi32(g, order));
    }
}

/* The scalar kernels' sub-block sums (dot_block256) on the group dots. */
INLINE float levels_dot(const lm_levels *lv, const lm_act_q8_256 *a) {
    int32_t g[16];
    group_dots(lv->q, a->q, g);
    const int per = lv->sub / 16; /* groups per sub-block */
    float sum = 0;
    for (int s = 0; s < LM_QK_K / lv->sub; s++) {
        int32_t isum = 0, asum = 0;
        for (int j = s * per; j < (s + 1) * per; j++) isum += g[j], asum += a->bsums[j];
        sum += lv->scale[s] * (float)isum - lv->min[s] * (float)asum;
    }
    return a->d * sum;
}

INLINE void tile_levels(lm_type type, size_t bbytes, int T, int64_t nb, const uint8_t *w, const lm_act_q8_256 *x,
                        int64_t xrb, float *y, int64_t ys) {
    float acc[MAX_TOKENS] = {0};
    lm_levels lv;
    for (int64_t b = 0; b < nb; b++) {
        lm_block_levels(type, w + b * bbytes, &lv);
        for (int t = 0; t < T; t++) acc[t] += levels_dot(&lv, x + t * xrb + b);
    }
    for (int t = 0; t < T; t++) y[t * ys] = acc[t];
}

/* ---- float weights: 8 columns at a time, scalar tail ---- */

INLINE __m256 load8_f32(lm_type t, const uint8_t *row, int64_t i) {
    if (t == LM_TYPE_F32) return _mm256_loadu_ps((const float *)row + i);
    __m128i h = _mm_loadu_si128((const __m128i *)(row + 2 * i));
    if (t == LM_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); /* bfloat16: the top half */
}

INLINE float load1_f32(lm_type t, const uint8_t *row, int64_t i) {
    if (t == LM_TYPE_F32) {
        float f;
        memcpy(&f, row + 4 * i, sizeof f);
        return f;
    }
    uint16_t h = (uint16_t)(row[2 * i] | row[2 * i + 1] << 8);
    return t == LM_TYPE_F16 ? _cvtsh_ss(h) : lm_bf16_to_f32(h);
}

INLINE void tile_float(lm_type type, int R, int T, int64_t n, const uint8_t *w, size_t wrb, const float *x,
                       int64_t xrb, float *y, int64_t ys) {
    __m256 acc[MAX_ROWS][MAX_TOKENS];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int r = 0; r < R; r++) {
            __m256 wv = load8_f32(type, w + r * wrb, i);
            for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + t * xrb + i), acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int t = 0; t < T; t++) {
            float s = hsum_f32x8(acc[r][t]);
            for (int64_t k = i; k < n; k++) s += load1_f32(type, w + r * wrb, k) * x[t * xrb + k];
            y[t * ys + r] = s;
        }
    }
}

/* ---- tiles per type ---- */

/* Tile shapes (measured with localm bench on SmolLM2-135M shapes): one token
 * goes one row at a time, 1.3-2x faster than 4 or 8 rows sharing each
 * activation load (the activations stay in L1; the weights stream from
 * memory in order). Prompts go in tiles of 2 rows x 4 tokens, or 1 row x 8
 * tokens where decoding costs more than the dots (Q5's fifth bits,
 * K-quants); their accumulators fill the 16 registers. */

#define TILES32(name, blk, offset, has_min, is_signed, gemm_rows, gemm_tokens)                              \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,        \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile32(decode_##name, sizeof(blk), offset, has_min, is_signed, R, T, n / LM_QK, w, wrb,             \
               (const lm_act_q8_32 *)x, (int64_t)(xrb / sizeof(lm_act_q8_32)), y, ys);                      \
    }                                                                                                       \
    TILE_VARIANTS(name, gemm_rows, gemm_tokens)

#define TILESK(name, blk)                                                                                   \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,        \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile256(scales_##name, chunk_##name, sizeof(blk), R, T, n / LM_QK_K, w, wrb, (const lm_act_q8_256 *)x, \
                (int64_t)(xrb / sizeof(lm_act_q8_256)), y, ys);                                             \
    }                                                                                                       \
    TILE_VARIANTS(name, 1, 8)

/* One row at a time: the decoder is scalar, wider tiles gain nothing. */
#define TILESL(name, blk, type)                                                                             \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,        \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile_levels(type, sizeof(blk), T, n / LM_QK_K, w, (const lm_act_q8_256 *)x,                         \
                    (int64_t)(xrb / sizeof(lm_act_q8_256)), y, ys);                                         \
    }                                                                                                       \
    TILE_VARIANTS(name, 1, 4)

#define TILESF(name, type)                                                                                  \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,        \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile_float(type, R, T, n, w, wrb, (const float *)x, (int64_t)(xrb / sizeof(float)), y, ys);         \
    }                                                                                                       \
    TILE_VARIANTS(name, 2, 4)

/* Each variant inlines the generic tile with constant R and T, so the loops
 * over rows and tokens unroll and the accumulators live in registers. */
#define TILE_VARIANT(name, suffix, R, T)                                                                    \
    static void name##_##suffix(int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x, size_t xrb,      \
                                float *y, int64_t ys) {                                                     \
        name##_tile(R, T, n, w, wrb, x, xrb, y, ys);                                                        \
    }
#define TILE_VARIANTS(name, gemm_rows, gemm_tokens)                                                         \
    TILE_VARIANT(name, gemv, 1, 1)                                                                          \
    TILE_VARIANT(name, gemm, gemm_rows, gemm_tokens)                                                        \
    TILE_VARIANT(name, gemm1, 1, gemm_tokens)                                                               \
    enum { name##_gemm_rows = gemm_rows, name##_gemm_tokens = gemm_tokens };

TILES32(q4_0, lm_block_q4_0, 8, 0, 0, 2, 4)
TILES32(q4_1, lm_block_q4_1, 0, 1, 0, 2, 4)
TILES32(q5_0, lm_block_q5_0, 16, 0, 0, 1, 8)
TILES32(q5_1, lm_block_q5_1, 0, 1, 0, 1, 8)
TILES32(q8_0, lm_block_q8_0, 0, 0, 1, 2, 4)
TILESK(q4_k, lm_block_q4_K)
TILESK(q5_k, lm_block_q5_K)
TILESK(q6_k, lm_block_q6_K)
TILESL(q2_k, lm_block_q2_K, LM_TYPE_Q2_K)
TILESL(q3_k, lm_block_q3_K, LM_TYPE_Q3_K)
TILESF(f32, LM_TYPE_F32)
TILESF(f16, LM_TYPE_F16)
TILESF(bf16, LM_TYPE_BF16)

/* One token goes one row at a time (gemv doubles as its own tail). */
#define TILE_SET(name) {name##_gemv, name##_gemv, name##_gemm, name##_gemm1, 1, name##_gemm_rows, name##_gemm_tokens}
LM_DEFINE_TILES_OF(TILE_SET)

void lm_gemm(lm_type wtype, int64_t n_cols, const void *w, size_t w_row_bytes,
             const void *xq, int n_tok, float *y, int64_t y_stride,
             int64_t r0, int64_t r1) {
    const tiles *ts = tiles_of(wtype);
    if (!ts || n_tok <= 0 || r1 <= r0) return;
    tiles_gemm(ts, n_cols, w, w_row_bytes, xq, lm_act_row_bytes(wtype, n_cols), n_tok, y, y_stride, r0, r1);
}

/* ---- float vector helpers ---- */

float lm_dot_f32(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float sum = hsum_f32x8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void lm_dot_rows_f32(const float *rows, int64_t n_rows, const float *x, int64_t n, float *out) {
    for (int64_t r = 0; r < n_rows; r++) out[r] = lm_dot_f32(rows + r * n, x, n);
}

/* Multiply then add, as the scalar code rounds. Four output vectors stay in
 * registers across all rows. */
void lm_mix_rows_f32(float *out, const float *rows, const float *w, int64_t n_rows, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int64_t r = 0; r < n_rows; r++) {
            const __m256 wv = _mm256_set1_ps(w[r]);
            for (int k = 0; k < 4; k++)
                acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(wv, _mm256_loadu_ps(rows + r * n + i + 8 * k)));
        }
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(out + i + 8 * k, acc[k]);
    }
    for (; i < n; i++) {
        float sum = 0;
        for (int64_t r = 0; r < n_rows; r++) sum += w[r] * rows[r * n + i];
        out[i] = sum;
    }
}

/* out may alias x. w == NULL means unit weights. */
void lm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    if (n <= 0) return;
    float scale = 1.0f / sqrtf(lm_dot_f32(x, x, n) / (float)n + eps);
    __m256 sv = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sv);
        _mm256_storeu_ps(out + i, w ? _mm256_mul_ps(v, _mm256_loadu_ps(w + i)) : v);
    }
    for (; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

/* Subtracting the max keeps every exp() in (0, 1]; expf stays scalar. */
void lm_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    __m256 mv = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float max = _mm_cvtss_f32(m), sum = 0;
    for (; i < n; i++)
        if (x[i] > max) max = x[i];
    for (i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    __m256 sv = _mm256_set1_ps(sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), sv));
    for (; i < n; i++) x[i] /= sum;
}
