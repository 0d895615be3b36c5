/* The WebAssembly SIMD128 kernels (emcc -msimd128; plain SIMD128, relaxed
 * SIMD does not validate in current engines). Same results as
 * kernels_scalar.c up to float summation order.
 *
 * Design (see docs/kernels.md for the measurements behind it):
 * - Activations are quantized to the same values as the shared kernels_act.h
 *   quantizer, then stored widened to int16 in the lane order the weight
 *   decoders below produce, so a decoded weight vector and its activation
 *   vector line up with no shuffle and wasm_i32x4_dot_i16x8 does the
 *   multiply-adds.
 * - Nibbles and bit fields are decoded with 16-bit shifts on u16 lanes
 *   (V8 emulates 8-bit shifts): a 16-byte load L gives the low nibbles of the
 *   even bytes (L & 15), the high nibbles of the even bytes ((L >> 4) & 15),
 *   then those of the odd bytes ((L >> 8) & 15, L >> 12).
 * - Constant offsets (-8 of Q4_0, -16 of Q5_0, -32 of Q6_K, -4 of Q3_K) and
 *   mins are not applied per weight: they are corrected once per block with
 *   the activation block sums.
 * - K-quant sub-block scales are decoded once per super-block and multiplied
 *   into the int16 weights, so a whole super-block accumulates into one
 *   int32 vector per row and token; it is converted to float once.
 * - A tile of R rows x T tokens decodes each weight block once for the T
 *   tokens (prompt evaluation) and loads each activation once for the R
 *   rows. Integer dots are summed across lanes only where a float scale
 *   must be applied: per block of the 32-block types (two rows' or four
 *   tokens' sums at once), per super-block of the K-quants.
 * Weights are GGUF blocks as stored (no repacking). */
#include "kernels.h"
#include "kernels_tiles.h"

#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "quant.h"

#define INLINE static inline __attribute__((always_inline))

/* ---- activation layouts ---- */

/* 32 values of a 32-block type. The int16 lanes hold, in order, elements
 * 0,2,..,14 | 16,18,..,30 | 1,3,..,15 | 17,19,..,31: the order of the Q4_0
 * nibble decoder (and of the others, which follow it); for the Q4/Q5 types
 * the last 16 lanes are stored minus 256 times the first 16 (see
 * nibble_pairs). off is added to the integer dot: lane 0 holds -8 * sum(q)
 * for Q4_0, -16 * sum(q) for Q5_0, 0 otherwise, the other lanes 0. dsum =
 * d * sum(q) multiplies the Q4_1/Q5_1 min. */
typedef struct {
    int16_t q[32];
    int32_t off[4];
    float d, dsum, pad[2];
} act32;
_Static_assert(sizeof(act32) == 96, "act32 must be 96 bytes");

/* 256 values of a K-quant type: eight chunks of 32 in the order of the
 * chunk decoders, bsum[g] = sum of elements 16 g .. 16 g + 15 (natural
 * order). */
typedef struct {
    int16_t q[256];
    int16_t bsum[16];
    float d, pad[3];
} act256;
_Static_assert(sizeof(act256) == 560, "act256 must be 560 bytes");

static int is_float_type(lm_type t) {
    return t == LM_TYPE_F32 || t == LM_TYPE_F16 || t == LM_TYPE_BF16;
}

size_t lm_act_row_bytes(lm_type wtype, int64_t n) {
    const lm_type_traits *tt = lm_type_info(wtype);
    if (!tt || !tt->supported) return 0;
    if (is_float_type(wtype)) return (size_t)n * sizeof(float);
    if (tt->block_size == LM_QK_K) return (size_t)(n / LM_QK_K) * sizeof(act256);
    return (size_t)(n / LM_QK) * sizeof(act32);
}

/* ---- small helpers ---- */

/* Halves to floats: interleaving with zero puts each half in the top of a
 * 32-bit lane (sign at bit 31); an arithmetic shift by 3 moves exponent and
 * mantissa to their float places, the mask drops the sign's copies, and
 * 2^112 rebiases the exponent (exact for normals and subnormals; inf/NaN
 * come out as large finite numbers). bfloat16 is the top half already.
 * A subnormal half passes through a subnormal float, which x86 multiplies
 * on a slow path; the other ways measured cost Q4_0 and F16 kernels 10-40%
 * on every block, and the 32-block types' scales are rarely that small.
 * The K-quants' super-block scales often are: they go through
 * lm_f16_to_f32, once per 256 weights. */
INLINE v128_t top_halves_to_f32(lm_type t, v128_t top) {
    if (t == LM_TYPE_BF16) return top;
    v128_t bits = wasm_v128_and(wasm_i32x4_shr(top, 3), wasm_i32x4_splat((int32_t)0x8FFFE000));
    return wasm_f32x4_mul(bits, wasm_f32x4_splat(0x1p112f));
}

/* The halves at p, p + stride, ... (R of them, R <= 4) as the floats of
 * lanes 0..R-1: one conversion for the scales of an R-row tile. */
INLINE v128_t halves_to_f32x4(const uint8_t *p, size_t stride, int R) {
    v128_t h = wasm_i16x8_splat(0);
    if (R > 0) h = wasm_v128_load16_lane(p, h, 0);
    if (R > 1) h = wasm_v128_load16_lane(p + stride, h, 1);
    if (R > 2) h = wasm_v128_load16_lane(p + 2 * stride, h, 2);
    if (R > 3) h = wasm_v128_load16_lane(p + 3 * stride, h, 3);
    return top_halves_to_f32(LM_TYPE_F16, wasm_i16x8_shuffle(wasm_i16x8_splat(0), h, 0, 8, 1, 9, 2, 10, 3, 11));
}

/* The half at p in every lane as a float: a 16-bit splat puts it in the
 * top of every 32-bit lane. */
INLINE v128_t half_splat_f32(const uint8_t *p) {
    return top_halves_to_f32(LM_TYPE_F16, wasm_v128_load16_splat(p));
}

/* The halves at p and p + stride as the floats of lanes 0-1 and 2-3. */
INLINE v128_t half_pairs_f32(const uint8_t *p, size_t stride) {
    v128_t a = wasm_v128_load16_splat(p), b = wasm_v128_load16_splat(p + stride);
    return top_halves_to_f32(LM_TYPE_F16, wasm_i16x8_shuffle(a, b, 0, 1, 2, 3, 12, 13, 14, 15));
}

/* Lane i of v in every lane (i is a constant once inlined into a tile). */
INLINE v128_t splat_lane(v128_t v, int i) {
    switch (i) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
    }
}

INLINE float hsum_f32x4(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* Sum of the four lane products of 4 decoded int16 vectors and an
 * activation chunk of 32 int16. */
INLINE v128_t dot32(const v128_t w[4], const int16_t *a) {
    v128_t s0 = wasm_i32x4_dot_i16x8(w[0], wasm_v128_load(a));
    v128_t s1 = wasm_i32x4_dot_i16x8(w[1], wasm_v128_load(a + 8));
    v128_t s2 = wasm_i32x4_dot_i16x8(w[2], wasm_v128_load(a + 16));
    v128_t s3 = wasm_i32x4_dot_i16x8(w[3], wasm_v128_load(a + 24));
    return wasm_i32x4_add(wasm_i32x4_add(s0, s1), wasm_i32x4_add(s2, s3));
}

/* The four nibble vectors of 16 bytes (lane order: see the file comment). */
INLINE void nibbles(const uint8_t *p, v128_t v[4]) {
    v128_t l = wasm_v128_load(p), m = wasm_i16x8_splat(0x0F);
    v[0] = wasm_v128_and(l, m);
    v[1] = wasm_v128_and(wasm_u16x8_shr(l, 4), m);
    v[2] = wasm_v128_and(wasm_u16x8_shr(l, 8), m);
    v[3] = wasm_u16x8_shr(l, 12);
}

/* Lane i of the result is the sum of the lanes of the i-th argument. */
INLINE v128_t sum_lanes4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* ---- activation quantization ---- */

/* The same values as lm_act_quantize_q8 (kernels_act.h), 8 at a time as
 * int16: d = max|x| / 127, q = x / d rounded to nearest, ties to even. */
INLINE float act_scale(const float *x, int n, v128_t *id) {
    v128_t m = wasm_f32x4_splat(0);
    for (int i = 0; i < n; i += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + i)));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    float d = wasm_f32x4_extract_lane(m, 0) / 127;
    *id = wasm_f32x4_splat(d > 0 ? 1.0f / d : 0.0f);
    return d;
}

INLINE v128_t quantize8(const float *x, v128_t id) {
    v128_t a = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x), id)));
    v128_t b = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + 4), id)));
    v128_t q = wasm_i16x8_narrow_i32x4(a, b);
    return wasm_i16x8_max(wasm_i16x8_min(q, wasm_i16x8_splat(127)), wasm_i16x8_splat(-127));
}

/* Stores 32 quantized values in decoder order: the even then odd elements
 * of the 16 at lo, interleaved with those of the 16 at hi (lo[0..1] and
 * hi[0..1] are 8 values each): base+{0,2,..}, hi+{0,2,..}, base+{1,3,..},
 * hi+{1,3,..}. */
INLINE void store_chunk(int16_t *dst, const v128_t lo[2], const v128_t hi[2]) {
    wasm_v128_store(dst, wasm_i16x8_shuffle(lo[0], lo[1], 0, 2, 4, 6, 8, 10, 12, 14));
    wasm_v128_store(dst + 8, wasm_i16x8_shuffle(hi[0], hi[1], 0, 2, 4, 6, 8, 10, 12, 14));
    wasm_v128_store(dst + 16, wasm_i16x8_shuffle(lo[0], lo[1], 1, 3, 5, 7, 9, 11, 13, 15));
    wasm_v128_store(dst + 24, wasm_i16x8_shuffle(hi[0], hi[1], 1, 3, 5, 7, 9, 11, 13, 15));
}

static void quantize_act32(lm_type t, const float *x, act32 *a) {
    v128_t id, q[4];
    a->d = act_scale(x, 32, &id);
    for (int k = 0; k < 4; k++) q[k] = quantize8(x + 8 * k, id);
    store_chunk(a->q, q, q + 2);
    if (t != LM_TYPE_Q8_0) /* the nibble decoders' pair lanes: see nibble_pairs */
        for (int k = 0; k < 16; k += 8)
            wasm_v128_store(a->q + 16 + k, wasm_i16x8_sub(wasm_v128_load(a->q + 16 + k),
                                                          wasm_i16x8_shl(wasm_v128_load(a->q + k), 8)));
    v128_t s = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(wasm_i16x8_add(q[0], q[1]), wasm_i16x8_add(q[2], q[3])));
    int sum = wasm_i32x4_extract_lane(sum_lanes4(s, s, s, s), 0);
    int offset = t == LM_TYPE_Q4_0 ? 8 : t == LM_TYPE_Q5_0 ? 16 : 0;
    a->off[0] = -offset * sum;
    a->off[1] = a->off[2] = a->off[3] = 0;
    a->dsum = a->d * (float)sum;
    a->pad[0] = a->pad[1] = 0;
}

/* K-quant chunks c cover elements base + {0..15} and base + hi + {0..15}:
 * Q6_K chunk 4 n + 2 b + h has base 128 n + 32 b + 16 h and hi 64, the
 * others chunk 2 j + h base 64 j + 16 h and hi 32 (see the decoders). */
static void quantize_act256(lm_type t, const float *x, act256 *a) {
    v128_t id, q[32];
    a->d = act_scale(x, 256, &id);
    for (int k = 0; k < 32; k++) q[k] = quantize8(x + 8 * k, id);
    for (int c = 0; c < 8; c++) {
        int base = t == LM_TYPE_Q6_K ? 128 * (c >> 2) + 32 * ((c >> 1) & 1) + 16 * (c & 1)
                                     : 64 * (c >> 1) + 16 * (c & 1);
        int hi = t == LM_TYPE_Q6_K ? 64 : 32;
        store_chunk(a->q + 32 * c, q + base / 8, q + (base + hi) / 8);
    }
    v128_t g[16];
    for (int k = 0; k < 16; k++) g[k] = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(q[2 * k], q[2 * k + 1]));
    for (int k = 0; k < 16; k += 8)
        wasm_v128_store(a->bsum + k, wasm_i16x8_narrow_i32x4(sum_lanes4(g[k], g[k + 1], g[k + 2], g[k + 3]),
                                                             sum_lanes4(g[k + 4], g[k + 5], g[k + 6], g[k + 7])));
    a->pad[0] = a->pad[1] = a->pad[2] = 0;
}

void lm_quantize_act(lm_type wtype, const float *x, void *xq, int64_t n) {
    const lm_type_traits *tt = lm_type_info(wtype);
    if (!tt || !tt->supported) return;
    if (is_float_type(wtype)) {
        memcpy(xq, x, (size_t)n * sizeof(float));
    } else if (tt->block_size == LM_QK_K) {
        for (int64_t b = 0; b < n / LM_QK_K; b++) quantize_act256(wtype, x + b * LM_QK_K, (act256 *)xq + b);
    } else {
        for (int64_t b = 0; b < n / LM_QK; b++) quantize_act32(wtype, x + b * LM_QK, (act32 *)xq + b);
    }
}

/* ---- 32-block weights: decode to 4 int16 vectors ---- */

/* Vectors 0 and 1 of the 32-block nibble decoders hold element pairs: lane
 * i of vector 0 is e(2i) + 256 e(2i + 1), of vector 1 e(16 + 2i) + 256
 * e(17 + 2i) (the bytes as they are, one mask fewer each), vectors 2 and 3
 * the odd elements alone. The activation vectors 2 and 3 are stored minus
 * 256 times vectors 0 and 1, which cancels the 256 e(odd) terms:
 * w0.a0 + w2.(a2 - 256 a0) = e(even).a0 + e(odd).a2. No overflow: |e| <= 31,
 * |a2 - 256 a0| <= 32639, int32 sums. */
INLINE void nibble_pairs(v128_t x, v128_t y, v128_t v[4]) {
    v[0] = x;
    v[1] = y;
    v[2] = wasm_u16x8_shr(x, 8);
    v[3] = wasm_u16x8_shr(y, 8);
}

/* Q4: elements 0..15 are the low nibbles of the 16 bytes, 16..31 the high. */
INLINE void nibbles4(const uint8_t *qs, v128_t v[4]) {
    v128_t l = wasm_v128_load(qs), nib = wasm_i8x16_splat(0x0F);
    nibble_pairs(wasm_v128_and(l, nib), wasm_v128_and(wasm_u16x8_shr(l, 4), nib), v);
}

/* Byte k of fifth_bits[b] is 16 if bit k of b is set, else 0: the fifth
 * bits of 8 Q5 elements from one qh byte, as bytes. */
#define FIFTH(b) ((b)&1ull) << 4 | ((b) >> 1 & 1ull) << 12 | ((b) >> 2 & 1ull) << 20 | ((b) >> 3 & 1ull) << 28 | \
                 ((b) >> 4 & 1ull) << 36 | ((b) >> 5 & 1ull) << 44 | ((b) >> 6 & 1ull) << 52 | ((b) >> 7 & 1ull) << 60
#define FIFTH4(b) FIFTH(b), FIFTH(b + 1), FIFTH(b + 2), FIFTH(b + 3)
#define FIFTH16(b) FIFTH4(b), FIFTH4(b + 4), FIFTH4(b + 8), FIFTH4(b + 12)
#define FIFTH64(b) FIFTH16(b), FIFTH16(b + 16), FIFTH16(b + 32), FIFTH16(b + 48)
static const uint64_t fifth_bits[256] = {FIFTH64(0), FIFTH64(64), FIFTH64(128), FIFTH64(192)};
#undef FIFTH64
#undef FIFTH16
#undef FIFTH4
#undef FIFTH

/* Two qh bytes' fifth bits as 16 bytes: a table load and a lane insert,
 * where spreading bits with vector operations (swizzle, and, eq, and) takes
 * four operations. */
INLINE v128_t fifth_bytes(const uint8_t *qh) {
    return wasm_v128_load64_lane(&fifth_bits[qh[1]], wasm_v128_load64_zero(&fifth_bits[qh[0]]), 1);
}

/* Q5: the nibbles with the fifth bits of the 32-bit qh (bit j is bit 4 of
 * element j), merged at byte level. */
INLINE void nibbles5(const uint8_t *qs, const uint8_t *qh, v128_t v[4]) {
    v128_t l = wasm_v128_load(qs), nib = wasm_i8x16_splat(0x0F);
    nibble_pairs(wasm_v128_or(wasm_v128_and(l, nib), fifth_bytes(qh)),
                 wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l, 4), nib), fifth_bytes(qh + 2)), v);
}

INLINE void decode_q4_0(const uint8_t *p, v128_t w[4]) {
    nibbles4(((const lm_block_q4_0 *)p)->qs, w); /* the -8 is in the activation's off */
}

INLINE void decode_q4_1(const uint8_t *p, v128_t w[4]) {
    nibbles4(((const lm_block_q4_1 *)p)->qs, w);
}

INLINE void decode_q5_0(const uint8_t *p, v128_t w[4]) {
    const lm_block_q5_0 *b = (const lm_block_q5_0 *)p;
    nibbles5(b->qs, b->qh, w); /* the -16 is in the activation's off */
}

INLINE void decode_q5_1(const uint8_t *p, v128_t w[4]) {
    const lm_block_q5_1 *b = (const lm_block_q5_1 *)p;
    nibbles5(b->qs, b->qh, w);
}

/* Sign-extended even bytes are (L << 8) >> 8, odd bytes L >> 8. */
INLINE void decode_q8_0(const uint8_t *p, v128_t w[4]) {
    const lm_block_q8_0 *b = (const lm_block_q8_0 *)p;
    v128_t lo = wasm_v128_load(b->qs), hi = wasm_v128_load(b->qs + 16);
    w[0] = wasm_i16x8_shr(wasm_i16x8_shl(lo, 8), 8);
    w[1] = wasm_i16x8_shr(wasm_i16x8_shl(hi, 8), 8);
    w[2] = wasm_i16x8_shr(lo, 8);
    w[3] = wasm_i16x8_shr(hi, 8);
}

/* The tiles read each block's half d (then half m for Q4_1/Q5_1) where it
 * starts, and convert several at once. */
typedef void decode32_fn(const uint8_t *p, v128_t w[4]);

/* R rows x four tokens (prompt tiles): each row's dots with the four tokens
 * are summed across lanes into one vector (lane t = token t). */
INLINE void tile32_tokens4(decode32_fn decode, size_t bbytes, int has_off, int has_min, int R, int64_t nb, const uint8_t *w,
                           size_t wrb, const act32 *x, int64_t xrb, float *y, int64_t ys) {
    v128_t acc[4];
    for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0);
    for (int64_t b = 0; b < nb; b++) {
        const act32 *a[4] = {x + b, x + xrb + b, x + 2 * xrb + b, x + 3 * xrb + b};
        v128_t da = wasm_f32x4_make(a[0]->d, a[1]->d, a[2]->d, a[3]->d);
        const v128_t dw = halves_to_f32x4(w + b * bbytes, wrb, R);
        const v128_t mw = has_min ? halves_to_f32x4(w + b * bbytes + 2, wrb, R) : dw;
        for (int r = 0; r < R; r++) {
            v128_t wv[4];
            decode(w + r * wrb + b * bbytes, wv);
            v128_t q = sum_lanes4(dot32(wv, a[0]->q), dot32(wv, a[1]->q), dot32(wv, a[2]->q), dot32(wv, a[3]->q));
            if (has_off) q = wasm_i32x4_add(q, wasm_i32x4_make(a[0]->off[0], a[1]->off[0], a[2]->off[0], a[3]->off[0]));
            v128_t s = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), da);
            acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(s, splat_lane(dw, r)));
            if (has_min) {
                v128_t dsum = wasm_f32x4_make(a[0]->dsum, a[1]->dsum, a[2]->dsum, a[3]->dsum);
                acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_mul(dsum, splat_lane(mw, r)));
            }
        }
    }
    for (int r = 0; r < R; r++) {
        float v[4];
        wasm_v128_store(v, acc[r]);
        for (int t = 0; t < 4; t++) y[t * ys + r] = v[t];
    }
}

/* One row x one token: matrix-vector products and the tails. The scales
 * are converted as splats (vector operations; a scalar conversion, move and
 * splat take more instructions); the Q4_1/Q5_1 min goes to lane 0 only. */
INLINE void tile32_one(decode32_fn decode, size_t bbytes, int has_off, int has_min, int64_t nb, const uint8_t *w,
                       const act32 *x, float *y) {
    v128_t acc = wasm_f32x4_splat(0);
    const act32 *a = x, *end = x + nb;
    for (const uint8_t *p = w; a < end; a++, p += bbytes) {
        v128_t wv[4];
        decode(p, wv);
        v128_t q = dot32(wv, a->q);
        if (has_off) q = wasm_i32x4_add(q, wasm_v128_load(a->off));
        v128_t s = wasm_f32x4_mul(half_splat_f32(p), wasm_v128_load32_splat(&a->d));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), s));
        if (has_min)
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(half_splat_f32(p + 2), wasm_v128_load32_zero(&a->dsum)));
    }
    *y = hsum_f32x4(acc);
}

/* Two rows x one token (matrix-vector products), lanes 0-1 row 0 and 2-3
 * row 1: one conversion and one scale vector for both rows' blocks, one
 * accumulator. */
INLINE void tile32_rows2(decode32_fn decode, size_t bbytes, int has_off, int has_min, int64_t nb, const uint8_t *w,
                         size_t wrb, const act32 *x, float *y) {
    v128_t acc = wasm_f32x4_splat(0);
    const act32 *a = x, *end = x + nb;
    for (const uint8_t *p = w; a < end; a++, p += bbytes) {
        v128_t wv[4];
        decode(p, wv);
        v128_t q0 = dot32(wv, a->q);
        decode(p + wrb, wv);
        v128_t q1 = dot32(wv, a->q);
        v128_t s = wasm_i32x4_add(wasm_i32x4_shuffle(q0, q1, 0, 1, 4, 5), wasm_i32x4_shuffle(q0, q1, 2, 3, 6, 7));
        if (has_off) {
            v128_t off = wasm_v128_load(a->off);
            s = wasm_i32x4_add(s, wasm_i32x4_shuffle(off, off, 0, 1, 0, 1));
        }
        v128_t f = wasm_f32x4_mul(half_pairs_f32(p, wrb), wasm_v128_load32_splat(&a->d));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), f));
        if (has_min)
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(half_pairs_f32(p + 2, wrb), wasm_f32x4_make(a->dsum, 0, a->dsum, 0)));
    }
    acc = wasm_f32x4_add(acc, wasm_i32x4_shuffle(acc, acc, 1, 0, 3, 2));
    y[0] = wasm_f32x4_extract_lane(acc, 0);
    y[1] = wasm_f32x4_extract_lane(acc, 2);
}

/* Two rows' blocks interleaved read two streams from memory; past a few
 * cache lines apart the hardware prefetcher loses the second one (measured:
 * 2-row tiles twice slower at 864-1632 bytes per row, 10% faster at 324-396,
 * 576-column Q4_0/Q5_0), so longer rows go one at a time. */
enum { ROWS2_MAX_BYTES = 512 };

INLINE void tile32(decode32_fn decode, size_t bbytes, int has_off, int has_min, int R, int T, int64_t nb,
                   const uint8_t *w, size_t wrb, const act32 *x, int64_t xrb, float *y, int64_t ys) {
    if (T == 4) tile32_tokens4(decode, bbytes, has_off, has_min, R, nb, w, wrb, x, xrb, y, ys);
    else if (R == 2 && wrb <= ROWS2_MAX_BYTES) tile32_rows2(decode, bbytes, has_off, has_min, nb, w, wrb, x, y);
    else
        for (int r = 0; r < R; r++) tile32_one(decode, bbytes, has_off, has_min, nb, w + r * wrb, x, y + r);
}

/* ---- K-quant weights ---- */

/* A super-block's scales, decoded once: chunk c's vectors 0 and 2 are
 * multiplied by s[lo], vectors 1 and 3 by s[lo + step] (chunk_scale_lo,
 * chunk_scale_step). Its
 * value is d * sum(s * q * a) - dm * sum(mins * bsum), times the activation
 * d; mins has one int16 per group of 16 elements. */
typedef struct {
    int16_t s[16];
    v128_t mins[2];
    float d, dm;
} kscales;

INLINE void prescale(v128_t w[4], const int16_t *lo, const int16_t *hi) {
    v128_t l = wasm_v128_load16_splat(lo), h = wasm_v128_load16_splat(hi);
    w[0] = wasm_i16x8_mul(w[0], l);
    w[1] = wasm_i16x8_mul(w[1], h);
    w[2] = wasm_i16x8_mul(w[2], l);
    w[3] = wasm_i16x8_mul(w[3], h);
}

INLINE uint32_t load_u32(const uint8_t *p) {
    uint32_t u;
    memcpy(&u, p, sizeof u);
    return u;
}

/* Q2_K: byte g = 4-bit scale | 4-bit min << 4 of group g. */
INLINE void scales_q2_k(const uint8_t *p, kscales *o) {
    const lm_block_q2_K *b = (const lm_block_q2_K *)p;
    v128_t raw = wasm_v128_load(b->scales);
    v128_t lo = wasm_u16x8_extend_low_u8x16(raw), hi = wasm_u16x8_extend_high_u8x16(raw), m = wasm_i16x8_splat(0xF);
    wasm_v128_store(o->s, wasm_v128_and(lo, m));
    wasm_v128_store(o->s + 8, wasm_v128_and(hi, m));
    o->mins[0] = wasm_u16x8_shr(lo, 4);
    o->mins[1] = wasm_u16x8_shr(hi, 4);
    o->d = lm_f16_to_f32(b->d);
    o->dm = lm_f16_to_f32(b->dmin);
}

/* Q3_K: 16 signed 6-bit scales, four per 32-bit word: low nibbles from
 * bytes 0..7 (low halves first), two high bits from bytes 8..11. */
INLINE void scales_q3_k(const uint8_t *p, kscales *o) {
    const lm_block_q3_K *b = (const lm_block_q3_K *)p;
    uint32_t w0 = load_u32(b->scales), w1 = load_u32(b->scales + 4), w2 = load_u32(b->scales + 8);
    const uint32_t nib = 0x0F0F0F0F, two = 0x03030303;
    v128_t raw = wasm_i32x4_make((int32_t)((w0 & nib) | (w2 & two) << 4),
                                 (int32_t)((w1 & nib) | ((w2 >> 2) & two) << 4),
                                 (int32_t)(((w0 >> 4) & nib) | ((w2 >> 4) & two) << 4),
                                 (int32_t)(((w1 >> 4) & nib) | ((w2 >> 6) & two) << 4));
    v128_t k32 = wasm_i16x8_splat(32);
    o->mins[0] = wasm_i16x8_sub(wasm_u16x8_extend_low_u8x16(raw), k32); /* the -4 offset: 4 d * sum(s * bsum) */
    o->mins[1] = wasm_i16x8_sub(wasm_u16x8_extend_high_u8x16(raw), k32);
    wasm_v128_store(o->s, o->mins[0]);
    wasm_v128_store(o->s + 8, o->mins[1]);
    o->d = lm_f16_to_f32(b->d);
    o->dm = 4 * o->d;
}

/* Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins. Bytes 0..3 hold
 * scales 0..3 and bytes 4..7 mins 0..3 in their low 6 bits; bytes 8..11 the
 * low nibbles of scales (low half) and mins (high half) 4..7, whose two high
 * bits sit on top of bytes 0..3 (scales) and 4..7 (mins). */
INLINE void scales_k4(const uint8_t *scales, uint16_t d, uint16_t dmin, kscales *o) {
    uint32_t w0 = load_u32(scales), w1 = load_u32(scales + 4), w2 = load_u32(scales + 8);
    const uint32_t six = 0x3F3F3F3F, nib = 0x0F0F0F0F, two = 0x03030303;
    v128_t raw = wasm_i32x4_make((int32_t)(w0 & six), (int32_t)((w2 & nib) | ((w0 >> 6) & two) << 4),
                                 (int32_t)(w1 & six), (int32_t)(((w2 >> 4) & nib) | ((w1 >> 6) & two) << 4));
    v128_t sc = wasm_u16x8_extend_low_u8x16(raw), mn = wasm_u16x8_extend_high_u8x16(raw);
    wasm_v128_store(o->s, sc);
    o->mins[0] = wasm_i16x8_shuffle(mn, mn, 0, 0, 1, 1, 2, 2, 3, 3); /* per group of 16 */
    o->mins[1] = wasm_i16x8_shuffle(mn, mn, 4, 4, 5, 5, 6, 6, 7, 7);
    o->d = lm_f16_to_f32(d);
    o->dm = lm_f16_to_f32(dmin);
}

INLINE void scales_q4_k(const uint8_t *p, kscales *o) {
    const lm_block_q4_K *b = (const lm_block_q4_K *)p;
    scales_k4(b->scales, b->d, b->dmin, o);
}

INLINE void scales_q5_k(const uint8_t *p, kscales *o) {
    const lm_block_q5_K *b = (const lm_block_q5_K *)p;
    scales_k4(b->scales, b->d, b->dmin, o);
}

/* Q6_K: signed 8-bit scale per group of 16. */
INLINE void scales_q6_k(const uint8_t *p, kscales *o) {
    const lm_block_q6_K *b = (const lm_block_q6_K *)p;
    v128_t raw = wasm_v128_load(b->scales);
    o->mins[0] = wasm_i16x8_extend_low_i8x16(raw); /* the -32 offset: 32 d * sum(s * bsum) */
    o->mins[1] = wasm_i16x8_extend_high_i8x16(raw);
    wasm_v128_store(o->s, o->mins[0]);
    wasm_v128_store(o->s + 8, o->mins[1]);
    o->d = lm_f16_to_f32(b->d);
    o->dm = 32 * o->d;
}

/* Which s[] scale chunk c's low (vectors 0, 2) and high (1, 3) halves use:
 * Q4_K/Q5_K chunks 2 j + h are sub-blocks 2 j and 2 j + 1; Q6_K chunks
 * 4 n + 2 b + h are groups 8 n + 2 b + h and + 4; Q2_K/Q3_K chunks
 * 4 n + 2 jp + h are groups 8 n + 4 jp + h and + 2. */
INLINE int chunk_scale_lo(lm_type t, int c) {
    if (t == LM_TYPE_Q4_K || t == LM_TYPE_Q5_K) return 2 * (c >> 1);
    if (t == LM_TYPE_Q6_K) return 8 * (c >> 2) + (c & 3);
    return 8 * (c >> 2) + 4 * ((c >> 1) & 1) + (c & 1);
}

INLINE int chunk_scale_step(lm_type t) {
    return t == LM_TYPE_Q4_K || t == LM_TYPE_Q5_K ? 1 : t == LM_TYPE_Q6_K ? 4 : 2;
}

/* Two vectors of 16 byte-sized weights split into the int16 lanes of the
 * decoders' order: lo's even bytes, hi's even bytes, lo's odd, hi's odd.
 * Merging a weight's bits while they are bytes takes half the operations
 * of merging them per int16 lane. */
INLINE void split_bytes(v128_t lo, v128_t hi, v128_t w[4]) {
    const v128_t low = wasm_i16x8_splat(0x00FF);
    w[0] = wasm_v128_and(lo, low);
    w[1] = wasm_v128_and(hi, low);
    w[2] = wasm_u16x8_shr(lo, 8);
    w[3] = wasm_u16x8_shr(hi, 8);
}

/* The low and high nibbles of 16 bytes, each or-ed with its high bits
 * (bytes already in place), split as above. */
INLINE void nibbles_with(const uint8_t *p, v128_t lo_bits, v128_t hi_bits, v128_t w[4]) {
    const v128_t nib = wasm_i16x8_splat(0x0F0F);
    v128_t l = wasm_v128_load(p);
    split_bytes(wasm_v128_or(wasm_v128_and(l, nib), lo_bits),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l, 4), nib), hi_bits), w);
}

/* Crumbs (2 bits) j0 = 2 jp and j0 + 1 of 16 bytes, even then odd bytes. */
INLINE void crumbs(const uint8_t *p, int jp, v128_t w[4]) {
    v128_t l = wasm_u16x8_shr(wasm_v128_load(p), 4 * jp), m = wasm_i16x8_splat(3);
    w[0] = wasm_v128_and(l, m);
    w[1] = wasm_v128_and(wasm_u16x8_shr(l, 2), m);
    w[2] = wasm_v128_and(wasm_u16x8_shr(l, 8), m);
    w[3] = wasm_v128_and(wasm_u16x8_shr(l, 10), m);
}

INLINE void chunk_q2_k(const uint8_t *p, int c, v128_t w[4]) {
    const lm_block_q2_K *b = (const lm_block_q2_K *)p;
    crumbs(b->qs + 32 * (c >> 2) + 16 * (c & 1), (c >> 1) & 1, w);
}

/* hmask bit 4 n + j of byte l is the third bit (value 4) of element
 * 128 n + 32 j + l. */
INLINE void chunk_q3_k(const uint8_t *p, int c, v128_t w[4]) {
    const lm_block_q3_K *b = (const lm_block_q3_K *)p;
    int n = c >> 2, jp = (c >> 1) & 1, h = c & 1;
    const v128_t three = wasm_i16x8_splat(0x0303), four = wasm_i16x8_splat(0x0404);
    v128_t l = wasm_u16x8_shr(wasm_v128_load(b->qs + 32 * n + 16 * h), 4 * jp);
    v128_t hm = wasm_u16x8_shr(wasm_v128_load(b->hmask + 16 * h), 4 * n + 2 * jp);
    split_bytes(wasm_v128_or(wasm_v128_and(l, three), wasm_v128_and(wasm_i16x8_shl(hm, 2), four)),
                wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l, 2), three), wasm_v128_and(wasm_i16x8_shl(hm, 1), four)), w);
}

INLINE void chunk_q4_k(const uint8_t *p, int c, v128_t w[4]) {
    const lm_block_q4_K *b = (const lm_block_q4_K *)p;
    nibbles(b->qs + 16 * c, w);
}

/* qh bit 2 j (low nibbles) and 2 j + 1 (high) of byte l is the fifth bit of
 * elements 64 j + l and 64 j + 32 + l. */
INLINE void chunk_q5_k(const uint8_t *p, int c, v128_t w[4]) {
    const lm_block_q5_K *b = (const lm_block_q5_K *)p;
    v128_t qh = wasm_u16x8_shr(wasm_v128_load(b->qh + 16 * (c & 1)), 2 * (c >> 1)), b4 = wasm_i16x8_splat(0x1010);
    nibbles_with(b->qs + 16 * c, wasm_v128_and(wasm_i16x8_shl(qh, 4), b4), wasm_v128_and(wasm_i16x8_shl(qh, 3), b4), w);
}

/* qh byte l of 128-half n holds bits 4-5 of elements 128 n + l (2 bits at
 * 0), + 32 (at 2), + 64 (at 4), + 96 (at 6); ql half b = 0 holds the first
 * and third, b = 1 the second and fourth. */
INLINE void chunk_q6_k(const uint8_t *p, int c, v128_t w[4]) {
    const lm_block_q6_K *b = (const lm_block_q6_K *)p;
    int n = c >> 2, hb = (c >> 1) & 1, h = c & 1;
    v128_t qh = wasm_u16x8_shr(wasm_v128_load(b->qh + 32 * n + 16 * h), 2 * hb), two = wasm_i16x8_splat(0x3030);
    nibbles_with(b->ql + 64 * n + 32 * hb + 16 * h, wasm_v128_and(wasm_i16x8_shl(qh, 4), two),
                 wasm_v128_and(qh, two), w);
}

/* Ends a chunk for V8. TurboFan computes each value as late as its uses
 * allow: integer dots only summed at the end of a super-block sank there,
 * keeping a whole unrolled super-block's decoded vectors live (hundreds of
 * spills). Storing the n running sums makes them needed here (V8 keeps
 * loads after an earlier store; the barrier keeps clang from moving loads
 * across it), so each chunk's dots are done before the next chunk's loads. */
INLINE void chunk_fence(const v128_t *sums, int n) {
    volatile v128_t sink[16];
    for (int i = 0; i < n; i++) sink[i] = sums[i];
    __asm__ volatile("" ::: "memory");
}

typedef void kscales_fn(const uint8_t *p, kscales *o);
typedef void kchunk_fn(const uint8_t *p, int c, v128_t w[4]);

/* The value of one super-block from its integer dot isum (the scales
 * applied) and its scales' mins, times the activation's d. */
INLINE v128_t kblock_value(const kscales *ks, v128_t isum, const act256 *a) {
    v128_t msum = wasm_i32x4_add(wasm_i32x4_dot_i16x8(ks->mins[0], wasm_v128_load(a->bsum)),
                                 wasm_i32x4_dot_i16x8(ks->mins[1], wasm_v128_load(a->bsum + 8)));
    return wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(ks->d * a->d)),
                          wasm_f32x4_mul(wasm_f32x4_convert_i32x4(msum), wasm_f32x4_splat(ks->dm * a->d)));
}

/* One token, R rows. A decoded chunk meets a single activation row here, so
 * multiplying its weights by their scales (prescale) would cost as much as
 * the dots: instead the dots of a chunk pair's scale groups are summed
 * unscaled into the four lanes of one vector (lo and hi of chunk c, then of
 * c + 1), which is multiplied by those groups' scales. The pair loop is
 * not unrolled: TurboFan loaded an unrolled super-block's weights at its top
 * and spilled hundreds of vectors (see chunk_fence); one pair per iteration
 * fits the registers, at the price of variable shift counts. */
INLINE void tile256_gemv(lm_type type, kscales_fn scales, kchunk_fn chunk, size_t bbytes, int R, int64_t nb,
                         const uint8_t *w, size_t wrb, const act256 *x, float *y) {
    const int st = chunk_scale_step(type);
    v128_t acc[4];
    for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0);
    for (int64_t b = 0; b < nb; b++) {
        const act256 *a = x + b;
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * wrb + b * bbytes;
            kscales ks;
            scales(p, &ks);
            int16_t ps[16]; /* the scales of each pair's four lanes */
            for (int c = 0; c < 8; c += 2) {
                int g0 = chunk_scale_lo(type, c), g1 = chunk_scale_lo(type, c + 1);
                ps[2 * c] = ks.s[g0], ps[2 * c + 1] = ks.s[g1];
                ps[2 * c + 2] = ks.s[g0 + st], ps[2 * c + 3] = ks.s[g1 + st];
            }
            v128_t isum = wasm_i32x4_splat(0);
#pragma clang loop unroll(disable)
            for (int c = 0; c < 8; c += 2) {
                v128_t q[4], lo[2], hi[2];
                for (int k = 0; k < 2; k++) {
                    const int16_t *ac = a->q + 32 * (c + k);
                    chunk(p, c + k, q);
                    lo[k] = wasm_i32x4_add(wasm_i32x4_dot_i16x8(q[0], wasm_v128_load(ac)),
                                           wasm_i32x4_dot_i16x8(q[2], wasm_v128_load(ac + 16)));
                    hi[k] = wasm_i32x4_add(wasm_i32x4_dot_i16x8(q[1], wasm_v128_load(ac + 8)),
                                           wasm_i32x4_dot_i16x8(q[3], wasm_v128_load(ac + 24)));
                }
                isum = wasm_i32x4_add(isum, wasm_i32x4_mul(sum_lanes4(lo[0], lo[1], hi[0], hi[1]),
                                                           wasm_i32x4_load16x4(ps + 2 * c)));
            }
            acc[r] = wasm_f32x4_add(acc[r], kblock_value(&ks, isum, a));
        }
    }
    for (int r = 0; r < R; r++) y[r] = hsum_f32x4(acc[r]);
}

/* R rows x T tokens (prompts): each decoded chunk is multiplied by its
 * scales once and then meets the T tokens. */
INLINE void tile256_tokens(lm_type type, kscales_fn scales, kchunk_fn chunk, size_t bbytes, int R, int T, int64_t nb,
                           const uint8_t *w, size_t wrb, const act256 *x, int64_t xrb, float *y, int64_t ys) {
    v128_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = wasm_f32x4_splat(0);
    for (int64_t b = 0; b < nb; b++) {
        kscales ks[4];
        v128_t isum[4][4];
        for (int r = 0; r < R; r++) {
            scales(w + r * wrb + b * bbytes, &ks[r]);
            for (int t = 0; t < T; t++) isum[r][t] = wasm_i32x4_splat(0);
        }
        /* Unrolled: the decoders' shift counts become constants. */
#pragma clang loop unroll(full)
        for (int c = 0; c < 8; c++) {
            for (int r = 0; r < R; r++) {
                v128_t q[4];
                chunk(w + r * wrb + b * bbytes, c, q);
                const int16_t *lo = ks[r].s + chunk_scale_lo(type, c);
                prescale(q, lo, lo + chunk_scale_step(type));
                for (int t = 0; t < T; t++)
                    isum[r][t] = wasm_i32x4_add(isum[r][t], dot32(q, x[t * xrb + b].q + 32 * c));
            }
            chunk_fence(&isum[0][0], 4 * R);
        }
        for (int r = 0; r < R; r++) {
            for (int t = 0; t < T; t++)
                acc[r][t] = wasm_f32x4_add(acc[r][t], kblock_value(&ks[r], isum[r][t], x + t * xrb + b));
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) y[t * ys + r] = hsum_f32x4(acc[r][t]);
}

INLINE void tile256(lm_type type, kscales_fn scales, kchunk_fn chunk, size_t bbytes, int R, int T, int64_t nb,
                    const uint8_t *w, size_t wrb, const act256 *x, int64_t xrb, float *y, int64_t ys) {
    if (T == 1) tile256_gemv(type, scales, chunk, bbytes, R, nb, w, wrb, x, y);
    else tile256_tokens(type, scales, chunk, bbytes, R, T, nb, w, wrb, x, xrb, y, ys);
}

/* ---- float weights: 8 columns at a time, scalar tail ---- */

INLINE void load8_f32(lm_type t, const uint8_t *row, int64_t i, v128_t out[2]) {
    if (t == LM_TYPE_F32) {
        out[0] = wasm_v128_load(row + 4 * i);
        out[1] = wasm_v128_load(row + 4 * i + 16);
        return;
    }
    v128_t h = wasm_v128_load(row + 2 * i), zero = wasm_i16x8_splat(0);
    out[0] = top_halves_to_f32(t, wasm_i16x8_shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11));
    out[1] = top_halves_to_f32(t, wasm_i16x8_shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15));
}

INLINE float load1_f32(lm_type t, const uint8_t *row, int64_t i) {
    if (t == LM_TYPE_F32) {
        float f;
        memcpy(&f, row + 4 * i, sizeof f);
        return f;
    }
    uint16_t h = (uint16_t)(row[2 * i] | row[2 * i + 1] << 8);
    return t == LM_TYPE_F16 ? lm_f16_to_f32(h) : lm_bf16_to_f32(h);
}

INLINE void tile_float(lm_type type, int R, int T, int64_t n, const uint8_t *w, size_t wrb,
                       const float *x, int64_t xrb, float *y, int64_t ys) {
    v128_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = wasm_f32x4_splat(0);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int r = 0; r < R; r++) {
            v128_t wv[2];
            load8_f32(type, w + r * wrb, i, wv);
            for (int t = 0; t < T; t++) {
                const float *xt = x + t * xrb + i;
                v128_t p = wasm_f32x4_add(wasm_f32x4_mul(wv[0], wasm_v128_load(xt)),
                                          wasm_f32x4_mul(wv[1], wasm_v128_load(xt + 4)));
                acc[r][t] = wasm_f32x4_add(acc[r][t], p);
            }
        }
    }
    for (int r = 0; r < R; r++) {
        for (int t = 0; t < T; t++) {
            float s = hsum_f32x4(acc[r][t]);
            for (int64_t k = i; k < n; k++) s += load1_f32(type, w + r * wrb, k) * x[t * xrb + k];
            y[t * ys + r] = s;
        }
    }
}

/* ---- tiles per type ---- */

/* Tile shapes, measured (bench/kernels): for one token, the Q4/Q5 types do
 * best two rows at a time (up to ROWS2_MAX_BYTES per row), Q8_0 and the
 * K-quants one (four decoded rows spill; one row is one sequential stream
 * from memory), floats 4 rows at a time; for prompts, 4 rows x 4 tokens
 * summed across tokens for the 32-block types, one row x 4 tokens for the
 * others. */
enum { GEMM_TOKENS = 4 };


#define TILES32(name, blk, has_off, has_min, gemv_rows)                                                     \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,       \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile32(decode_##name, sizeof(blk), has_off, has_min, R, T, n / LM_QK, w, wrb, (const act32 *)x,              \
               (int64_t)(xrb / sizeof(act32)), y, ys);                                                      \
    }                                                                                                       \
    TILE_VARIANTS(name, gemv_rows, 4)

#define TILESK(name, blk, type)                                                                             \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,       \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile256(type, scales_##name, chunk_##name, sizeof(blk), R, T, n / LM_QK_K, w, wrb,                 \
                (const act256 *)x, (int64_t)(xrb / sizeof(act256)), y, ys);                                 \
    }                                                                                                       \
    TILE_VARIANTS(name, 1, 1)

#define TILESF(name, type)                                                                                  \
    INLINE void name##_tile(int R, int T, int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x,       \
                            size_t xrb, float *y, int64_t ys) {                                             \
        tile_float(type, R, T, n, w, wrb, (const float *)x, (int64_t)(xrb / sizeof(float)), y, ys);         \
    }                                                                                                       \
    TILE_VARIANTS(name, 4, 1)

/* Each variant inlines the generic tile with constant R and T, so the loops
 * over rows and tokens unroll and the accumulators live in registers. */
#define TILE_VARIANT(name, suffix, R, T)                                                                    \
    static void name##_##suffix(int64_t n, const uint8_t *w, size_t wrb, const uint8_t *x, size_t xrb,    \
                                float *y, int64_t ys) {                                                     \
        name##_tile(R, T, n, w, wrb, x, xrb, y, ys);                                                        \
    }
#define TILE_VARIANTS(name, gemv_rows, gemm_rows)                                                           \
    TILE_VARIANT(name, gemv, gemv_rows, 1)                                                                  \
    TILE_VARIANT(name, gemv1, 1, 1)                                                                         \
    TILE_VARIANT(name, gemm, gemm_rows, GEMM_TOKENS)                                                        \
    TILE_VARIANT(name, gemm1, 1, GEMM_TOKENS)                                                               \
    enum { name##_gemv_rows = gemv_rows, name##_gemm_rows = gemm_rows };

TILES32(q4_0, lm_block_q4_0, 1, 0, 2)
TILES32(q4_1, lm_block_q4_1, 0, 1, 2)
TILES32(q5_0, lm_block_q5_0, 1, 0, 2)
TILES32(q5_1, lm_block_q5_1, 0, 1, 2)
TILES32(q8_0, lm_block_q8_0, 0, 0, 1)
TILESK(q2_k, lm_block_q2_K, LM_TYPE_Q2_K)
TILESK(q3_k, lm_block_q3_K, LM_TYPE_Q3_K)
TILESK(q4_k, lm_block_q4_K, LM_TYPE_Q4_K)
TILESK(q5_k, lm_block_q5_K, LM_TYPE_Q5_K)
TILESK(q6_k, lm_block_q6_K, LM_TYPE_Q6_K)
TILESF(f32, LM_TYPE_F32)
TILESF(f16, LM_TYPE_F16)
TILESF(bf16, LM_TYPE_BF16)

#define TILE_SET(name) {name##_gemv, name##_gemv1, name##_gemm, name##_gemm1, name##_gemv_rows, name##_gemm_rows, GEMM_TOKENS}
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
    v128_t s0 = wasm_f32x4_splat(0), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    }
    float sum = hsum_f32x4(wasm_f32x4_add(s0, s1));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* Four rows at a time: each chunk of x is loaded once for the four, and
 * their four sums leave their lanes together, in one transpose. */
void lm_dot_rows_f32(const float *rows, int64_t n_rows, const float *x, int64_t n, float *out) {
    int64_t r = 0;
    for (; n % 4 == 0 && r + 4 <= n_rows; r += 4) {
        const float *row = rows + r * n;
        v128_t s[4] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0)};
        for (int64_t i = 0; i < n; i += 4) {
            const v128_t xv = wasm_v128_load(x + i);
            for (int k = 0; k < 4; k++) s[k] = wasm_f32x4_add(s[k], wasm_f32x4_mul(wasm_v128_load(row + k * n + i), xv));
        }
        /* Pairs of lanes first: [s0 01, s1 01, s0 23, s1 23] and the same for s2, s3. */
        const v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(s[0], s[1], 0, 4, 2, 6), wasm_i32x4_shuffle(s[0], s[1], 1, 5, 3, 7));
        const v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(s[2], s[3], 0, 4, 2, 6), wasm_i32x4_shuffle(s[2], s[3], 1, 5, 3, 7));
        wasm_v128_store(out + r, wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5),
                                                wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7)));
    }
    for (; r < n_rows; r++) out[r] = lm_dot_f32(rows + r * n, x, n);
}

/* Eight output vectors stay in registers across all rows, so out is written
 * once; multiply then add in row order, as the scalar code rounds. */
void lm_mix_rows_f32(float *out, const float *rows, const float *w, int64_t n_rows, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v128_t acc[8];
        for (int k = 0; k < 8; k++) acc[k] = wasm_f32x4_splat(0);
        for (int64_t r = 0; r < n_rows; r++) {
            const v128_t wv = wasm_f32x4_splat(w[r]);
            for (int k = 0; k < 8; k++)
                acc[k] = wasm_f32x4_add(acc[k], wasm_f32x4_mul(wv, wasm_v128_load(rows + r * n + i + 4 * k)));
        }
        for (int k = 0; k < 8; k++) wasm_v128_store(out + i + 4 * k, acc[k]);
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
    v128_t sv = wasm_f32x4_splat(scale);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_f32x4_mul(wasm_v128_load(x + i), sv);
        wasm_v128_store(out + i, w ? wasm_f32x4_mul(v, wasm_v128_load(w + i)) : v);
    }
    for (; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

/* e^x for x <= 0, four at a time, within a few ulp of expf: x = k ln2 + r
 * with |r| <= ln2 / 2 (ln2 in two parts so k ln2 is exact), e^r from a
 * degree-7 Taylor-like polynomial (Cephes' coefficients), then 2^k put
 * straight into the exponent bits. Below -87 (2^k would leave the normal
 * floats) the result is 0, as for a masked -inf. */
INLINE v128_t exp_nonpositive_f32x4(v128_t x) {
    const v128_t underflow = wasm_f32x4_lt(x, wasm_f32x4_splat(-87.0f));
    x = wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.0f));
    const v128_t k = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504f)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(k, wasm_f32x4_splat(0.693359375f)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(k, wasm_f32x4_splat(-2.12194440e-4f)));
    static const float coef[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    v128_t p = wasm_f32x4_splat(coef[0]);
    for (int i = 1; i < 6; i++) p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(coef[i]));
    p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.0f));
    const v128_t two_k = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(k), wasm_i32x4_splat(127)), 23);
    return wasm_v128_andnot(wasm_f32x4_mul(p, two_k), underflow);
}

/* Subtracting the max keeps every exp() in (0, 1]. */
void lm_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    v128_t mv = wasm_f32x4_splat(x[0]);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) mv = wasm_f32x4_pmax(mv, wasm_v128_load(x + i));
    mv = wasm_f32x4_pmax(mv, wasm_i32x4_shuffle(mv, mv, 2, 3, 0, 1));
    mv = wasm_f32x4_pmax(mv, wasm_i32x4_shuffle(mv, mv, 1, 0, 3, 2));
    float max = wasm_f32x4_extract_lane(mv, 0);
    for (; i < n; i++)
        if (x[i] > max) max = x[i];
    v128_t sums = wasm_f32x4_splat(0);
    mv = wasm_f32x4_splat(max);
    for (i = 0; i + 4 <= n; i += 4) {
        const v128_t e = exp_nonpositive_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), mv));
        wasm_v128_store(x + i, e);
        sums = wasm_f32x4_add(sums, e);
    }
    float sum = hsum_f32x4(sums);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    v128_t sv = wasm_f32x4_splat(sum);
    for (i = 0; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_div(wasm_v128_load(x + i), sv));
    for (; i < n; i++) x[i] /= sum;
}
