/* Half/bfloat16 conversions, the GGUF block layouts (hand-built blocks with
 * known values), quantize -> dequantize error bounds for every supported
 * type, and the type table. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "quant.h"


static int f16_is_nan(uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x3FF); }

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_f16(void) {
    /* Every half survives the round trip through float; NaNs stay NaN with their sign. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lm_f16_to_f32((uint16_t)h);
        uint16_t back = lm_f32_to_f16(f);
        if (f16_is_nan((uint16_t)h) ? !(isnan(f) && f16_is_nan(back) && (back & 0x8000) == (h & 0x8000))
                                    : back != h)
            bad++;
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);

    CHECK(lm_f16_to_f32(0x3C00) == 1.0f, "0x3C00");
    CHECK(lm_f16_to_f32(0xC000) == -2.0f, "0xC000");
    CHECK(lm_f16_to_f32(0x7BFF) == 65504.0f, "max half");
    CHECK(lm_f16_to_f32(0x0001) == ldexpf(1, -24), "smallest subnormal");
    CHECK(lm_f16_to_f32(0x03FF) == ldexpf(1023, -24), "largest subnormal");
    CHECK(lm_f16_to_f32(0x0400) == ldexpf(1, -14), "smallest normal");
    CHECK(isinf(lm_f16_to_f32(0xFC00)) && lm_f16_to_f32(0xFC00) < 0, "-inf");
    CHECK(signbit(lm_f16_to_f32(0x8000)) && lm_f16_to_f32(0x8000) == 0, "-0");

    struct { float f; uint16_t h; } known[] = {
        {1.0f, 0x3C00}, {-2.0f, 0xC000}, {0.1f, 0x2E66}, {65504.0f, 0x7BFF},
        {65519.0f, 0x7BFF}, {65520.0f, 0x7C00}, {1e10f, 0x7C00}, {-INFINITY, 0xFC00},
        {1.0f + 0x1p-11f, 0x3C00},       /* tie: stays even */
        {1.0f + 0x3p-11f, 0x3C02},       /* tie: rounds up to even */
        {0x1p-25f, 0x0000},              /* half the smallest subnormal ties to 0 */
        {0x1.000002p-25f, 0x0001},
        {0x3p-25f, 0x0002},              /* 1.5 subnormal units tie to 2 */
        {0x1p-14f * (1 - 0x1p-12f), 0x0400}, /* rounds up into the normals */
        {1e-10f, 0x0000}, {-0.0f, 0x8000},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        CHECK(lm_f32_to_f16(known[i].f) == known[i].h, "f32_to_f16(%a) = 0x%04x, want 0x%04x", known[i].f,
              lm_f32_to_f16(known[i].f), known[i].h);
    CHECK(f16_is_nan(lm_f32_to_f16(NAN)), "NaN");
    CHECK(f16_is_nan(lm_f32_to_f16(bits_f32(0x7F800001))), "signaling NaN with a low payload stays NaN");

    /* Random floats in range: the nearest half, ties to even. */
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        /* exponents from 2^-27 (below the subnormals) to 2^15 */
        uint32_t r = rng_next();
        float f = bits_f32((r & 0x807FFFFF) | (100 + (r >> 23) % 43) << 23);
        if (!(fabsf(f) < 65504.0f)) continue;
        uint16_t h = lm_f32_to_f16(f);
        double err = fabs((double)lm_f16_to_f32(h) - f);
        for (int step = -1; step <= 1; step += 2) {
            uint16_t nb = (uint16_t)(h + step);
            if ((nb & 0x7FFF) >= 0x7C00 || (nb & 0x8000) != (h & 0x8000)) continue;
            double err_nb = fabs((double)lm_f16_to_f32(nb) - f);
            if (err_nb < err || (err_nb == err && (h & 1))) bad++;
        }
    }
    CHECK(bad == 0, "%d random floats not rounded to the nearest even half", bad);
}

static void test_bf16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lm_bf16_to_f32((uint16_t)h);
        uint16_t back = lm_f32_to_bf16(f);
        if (isnan(f) ? !isnan(lm_bf16_to_f32(back)) : back != h) bad++;
    }
    CHECK(bad == 0, "%d bfloat16 values do not round-trip", bad);
    CHECK(lm_f32_to_bf16(1.0f) == 0x3F80, "1.0");
    CHECK(lm_f32_to_bf16(1.0f + 0x1p-8f) == 0x3F80, "tie stays even");
    CHECK(lm_f32_to_bf16(1.0f + 0x3p-8f) == 0x3F82, "tie rounds up to even");
    CHECK(lm_f32_to_bf16(1.0f + 0x1.8p-8f) == 0x3F81, "above half rounds up");
    CHECK(lm_f32_to_bf16(bits_f32(0x7F7FFFFF)) == 0x7F80, "FLT_MAX rounds to inf");
    uint16_t n = lm_f32_to_bf16(bits_f32(0x7F800001));
    CHECK(isnan(lm_bf16_to_f32(n)) && (n & 0x40), "signaling NaN becomes quiet NaN (0x%04x)", n);
}

/* ---- hand-built blocks: expected values written in ggml's loop order ---- */

static void test_q4_0_layout(void) {
    lm_block_q4_0 b;
    b.d = 0x3800; /* 0.5 */
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    lm_dequantize_row(LM_TYPE_Q4_0, &b, y, 32);
    int bad = 0;
    for (int j = 0; j < 16; j++) {
        bad += y[j] != (j - 8) * 0.5f;
        bad += y[j + 16] != (7 - j) * 0.5f;
    }
    CHECK(bad == 0, "Q4_0 hand-built block: %d wrong values", bad);
}

static void test_q8_0_layout(void) {
    lm_block_q8_0 b;
    b.d = 0x3400; /* 0.25 */
    for (int j = 0; j < 32; j++) b.qs[j] = (int8_t)(j * 8 - 128);
    float y[32];
    lm_dequantize_row(LM_TYPE_Q8_0, &b, y, 32);
    int bad = 0;
    for (int j = 0; j < 32; j++) bad += y[j] != (j * 8 - 128) * 0.25f;
    CHECK(bad == 0, "Q8_0 hand-built block: %d wrong values", bad);
}

static void test_q4_K_layout(void) {
    lm_block_q4_K b;
    b.d = 0x3C00;    /* 1.0 */
    b.dmin = 0x3800; /* 0.5 */
    /* Scales/mins worked out by hand from the packing: sub-blocks 0..3 in the
     * low 6 bits of bytes 0..3 (scales) and 4..7 (mins); 4..7 take a nibble
     * of bytes 8..11 and two high bits from the top of bytes 0..7. */
    const uint8_t packed[12] = {0x41, 0x02, 0x03, 0x04, 0x05, 0x06, 0xC7, 0x08, 0x21, 0x43, 0x65, 0x87};
    const int sc[8] = {1, 2, 3, 4, 17, 3, 5, 7};
    const int mn[8] = {5, 6, 7, 8, 2, 4, 54, 8};
    memcpy(b.scales, packed, 12);
    for (int i = 0; i < 128; i++) b.qs[i] = (uint8_t)((i % 16) | (15 - i % 16) << 4);
    float y[256];
    lm_dequantize_row(LM_TYPE_Q4_K, &b, y, 256);
    int bad = 0;
    for (int c = 0; c < 4; c++) /* each 64 values: low nibbles, then high nibbles */
        for (int l = 0; l < 32; l++) {
            uint8_t q = b.qs[32 * c + l];
            bad += y[64 * c + l] != 1.0f * sc[2 * c] * (q & 0xF) - 0.5f * mn[2 * c];
            bad += y[64 * c + 32 + l] != 1.0f * sc[2 * c + 1] * (q >> 4) - 0.5f * mn[2 * c + 1];
        }
    CHECK(bad == 0, "Q4_K hand-built block: %d wrong values", bad);
}

static void test_q6_K_layout(void) {
    lm_block_q6_K b;
    b.d = 0x3800; /* 0.5 */
    for (int j = 0; j < 16; j++) b.scales[j] = (int8_t)(j - 8);
    for (int i = 0; i < 128; i++) b.ql[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 64; i++) b.qh[i] = (uint8_t)(0xE4 ^ i);
    float y[256];
    lm_dequantize_row(LM_TYPE_Q6_K, &b, y, 256);
    int bad = 0;
    for (int h = 0; h < 2; h++) /* each 128 values: 64 bytes of ql, 32 of qh */
        for (int l = 0; l < 32; l++) {
            const uint8_t *ql = b.ql + 64 * h, *qh = b.qh + 32 * h;
            const int8_t *s = b.scales + 8 * h;
            int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            int is = l / 16;
            bad += y[128 * h + l] != 0.5f * s[is] * q1;
            bad += y[128 * h + l + 32] != 0.5f * s[is + 2] * q2;
            bad += y[128 * h + l + 64] != 0.5f * s[is + 4] * q3;
            bad += y[128 * h + l + 96] != 0.5f * s[is + 6] * q4;
        }
    CHECK(bad == 0, "Q6_K hand-built block: %d wrong values", bad);
}

static uint8_t pattern(int i, int mul, int add) { return (uint8_t)(i * mul + add); }

static void test_q5_0_layout(void) {
    lm_block_q5_0 b;
    b.d = 0x3800; /* 0.5 */
    const uint32_t qh = 0x9A3C5E71u;
    for (int i = 0; i < 4; i++) b.qh[i] = (uint8_t)(qh >> (8 * i)); /* little-endian */
    for (int j = 0; j < 16; j++) b.qs[j] = pattern(j, 73, 11);
    float y[32];
    lm_dequantize_row(LM_TYPE_Q5_0, &b, y, 32);
    int bad = 0;
    for (int j = 0; j < 16; j++) {
        int x0 = ((b.qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - 16;
        int x1 = ((b.qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
        bad += y[j] != x0 * 0.5f;
        bad += y[j + 16] != x1 * 0.5f;
    }
    CHECK(bad == 0, "Q5_0 hand-built block: %d wrong values", bad);
}

static void test_q2_K_layout(void) {
    lm_block_q2_K b;
    b.d = 0x3C00;    /* 1.0 */
    b.dmin = 0x3400; /* 0.25 */
    for (int j = 0; j < 16; j++) b.scales[j] = pattern(j, 37, 3);
    for (int i = 0; i < 64; i++) b.qs[i] = pattern(i, 73, 11);
    float y[256], *out = y;
    lm_dequantize_row(LM_TYPE_Q2_K, &b, y, 256);
    int bad = 0, is = 0;
    const uint8_t *q = b.qs;
    for (int n = 0; n < 256; n += 128, q += 32) /* per 128: 4 shifts x 2 sub-blocks of 16 */
        for (int shift = 0; shift < 8; shift += 2)
            for (int half = 0; half < 2; half++, is++) {
                float dl = 1.0f * (b.scales[is] & 0xF), ml = 0.25f * (b.scales[is] >> 4);
                for (int l = 0; l < 16; l++) bad += *out++ != dl * ((q[l + 16 * half] >> shift) & 3) - ml;
            }
    CHECK(bad == 0, "Q2_K hand-built block: %d wrong values", bad);
}

static void test_q3_K_layout(void) {
    lm_block_q3_K b;
    b.d = 0x3800; /* 0.5 */
    /* 6-bit scales worked out by hand: low nibbles from bytes 0..7 (low
     * halves for 0..7, high halves for 8..15), bit pair j / 4 of byte
     * 8 + j % 4 on top, minus 32. */
    const uint8_t packed[12] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 0xE4, 0x1B, 0x00, 0xFF};
    const int sc[16] = {-32, 18, -28, 22, -8, 10, -20, 30, 1, -13, -27, 23, 25, -21, -19, 31};
    memcpy(b.scales, packed, 12);
    for (int i = 0; i < 64; i++) b.qs[i] = pattern(i, 73, 11);
    for (int i = 0; i < 32; i++) b.hmask[i] = pattern(i, 29, 5);
    float y[256], *out = y;
    lm_dequantize_row(LM_TYPE_Q3_K, &b, y, 256);
    int bad = 0, is = 0;
    uint8_t m = 1; /* hmask bit: one per group of 32, across both halves */
    const uint8_t *q = b.qs;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m <<= 1)
            for (int half = 0; half < 2; half++, is++) {
                float dl = 0.5f * sc[is];
                for (int l = 0; l < 16; l++) {
                    int k = l + 16 * half;
                    bad += *out++ != dl * (((q[k] >> shift) & 3) - ((b.hmask[k] & m) ? 0 : 4));
                }
            }
    CHECK(bad == 0, "Q3_K hand-built block: %d wrong values", bad);
}

static void test_q5_K_layout(void) {
    lm_block_q5_K b;
    b.d = 0x3800;    /* 0.5 */
    b.dmin = 0x3C00; /* 1.0 */
    /* same packed scales as the Q4_K test */
    const uint8_t packed[12] = {0x41, 0x02, 0x03, 0x04, 0x05, 0x06, 0xC7, 0x08, 0x21, 0x43, 0x65, 0x87};
    const int sc[8] = {1, 2, 3, 4, 17, 3, 5, 7};
    const int mn[8] = {5, 6, 7, 8, 2, 4, 54, 8};
    memcpy(b.scales, packed, 12);
    for (int i = 0; i < 128; i++) b.qs[i] = pattern(i, 73, 11);
    for (int i = 0; i < 32; i++) b.qh[i] = pattern(i, 29, 5);
    float y[256];
    lm_dequantize_row(LM_TYPE_Q5_K, &b, y, 256);
    int bad = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int c = 0; c < 4; c++, u1 <<= 2, u2 <<= 2) /* each 64: low nibbles + bit, high nibbles + bit */
        for (int l = 0; l < 32; l++) {
            uint8_t q = b.qs[32 * c + l], h = b.qh[l];
            bad += y[64 * c + l] != 0.5f * sc[2 * c] * ((q & 0xF) + (h & u1 ? 16 : 0)) - 1.0f * mn[2 * c];
            bad += y[64 * c + 32 + l] != 0.5f * sc[2 * c + 1] * ((q >> 4) + (h & u2 ? 16 : 0)) - 1.0f * mn[2 * c + 1];
        }
    CHECK(bad == 0, "Q5_K hand-built block: %d wrong values", bad);
}

/* ---- quantize -> dequantize ---- */

/* Bounds on the RMS error relative to the RMS of the (near-normal) data;
 * measured values are 80-90% of these. For Q8_0, for example, the step is
 * max|x| / 127 ~ 2.1 / 127 and a uniform rounding error gives 0.0048. */
static const struct { lm_type type; double max_rel_rmse; } error_bounds[] = {
    {LM_TYPE_F32, 0},      {LM_TYPE_F16, 0.0004}, {LM_TYPE_BF16, 0.002}, {LM_TYPE_Q8_0, 0.006},
    {LM_TYPE_Q6_K, 0.02},  {LM_TYPE_Q5_K, 0.04},  {LM_TYPE_Q5_1, 0.043}, {LM_TYPE_Q5_0, 0.048},
    {LM_TYPE_Q4_K, 0.08},  {LM_TYPE_Q4_1, 0.09},  {LM_TYPE_Q4_0, 0.095}, {LM_TYPE_Q3_K, 0.17},
    {LM_TYPE_Q2_K, 0.33},
};

enum { N_VALUES = 8 * 1024 };

static double rel_rms_error(const float *x, const float *y, int n) {
    double err2 = 0, sig2 = 0;
    for (int i = 0; i < n; i++) {
        err2 += (double)(y[i] - x[i]) * (y[i] - x[i]);
        sig2 += (double)x[i] * x[i];
    }
    return sqrt(err2 / sig2);
}

static double round_trip(lm_type type, const float *x, float *y, int n) {
    static uint8_t q[N_VALUES * 4];
    lm_quantize_row(type, x, q, n);
    lm_dequantize_row(type, q, y, n);
    return rel_rms_error(x, y, n);
}

static void test_round_trip(lm_type type, double bound) {
    static float x[N_VALUES], y[N_VALUES];
    const char *name = lm_type_info(type)->name;
    for (int i = 0; i < N_VALUES; i++) x[i] = rng_normal();
    double rel = round_trip(type, x, y, N_VALUES);
    CHECK(rel <= bound, "%s: relative RMS error %.5f > %.5f", name, rel, bound);
    printf("%-5s relative RMS error %.5f (bound %.5f)\n", name, rel, bound);

    /* Small values (scales near the bottom of the half range) and a block
     * with an outlier, which must itself come back closely. */
    for (int i = 0; i < 256; i++) x[i] = 0.01f * rng_normal();
    rel = round_trip(type, x, y, 256);
    CHECK(rel <= 1.5 * bound, "%s: small values: relative RMS error %.5f", name, rel);
    for (int i = 0; i < 256; i++) x[i] = rng_normal();
    x[77] = 40.0f;
    round_trip(type, x, y, 256);
    CHECK(fabs(y[77] - 40.0) <= 40.0 * bound, "%s: outlier 40 came back as %g", name, y[77]);

    /* Blocks at odd addresses (inside a mapped file) give the same bytes
     * and values. */
    static uint8_t aligned[512 * 4], odd[512 * 4 + 1];
    static float y_odd[512];
    lm_quantize_row(type, x, aligned, 512);
    lm_quantize_row(type, x, odd + 1, 512);
    lm_dequantize_row(type, odd + 1, y_odd, 512);
    lm_dequantize_row(type, aligned, y, 512);
    CHECK(memcmp(aligned, odd + 1, lm_row_bytes(type, 512)) == 0 && memcmp(y, y_odd, sizeof y_odd) == 0,
          "%s: unaligned blocks differ", name);

    /* Zeros come back exactly, a constant block closely, never NaN. */
    memset(x, 0, 256 * sizeof(float));
    round_trip(type, x, y, 256);
    int zeros = 1;
    for (int i = 0; i < 256; i++) zeros &= y[i] == 0;
    CHECK(zeros, "%s: zeros do not come back as zeros", name);
    for (int i = 0; i < 256; i++) x[i] = 0.75f;
    rel = round_trip(type, x, y, 256);
    CHECK(rel <= bound, "%s: constant block relative error %g", name, rel);
}

static void test_types(void) {
    const lm_type_traits *tt = lm_type_info(LM_TYPE_Q4_K);
    CHECK(tt && tt->block_size == 256 && tt->block_bytes == sizeof(lm_block_q4_K) && tt->supported, "Q4_K traits");
    CHECK(lm_type_info(LM_TYPE_Q4_0)->block_bytes == sizeof(lm_block_q4_0), "Q4_0 bytes");
    CHECK(lm_type_info(LM_TYPE_Q4_1)->block_bytes == sizeof(lm_block_q4_1), "Q4_1 bytes");
    CHECK(lm_type_info(LM_TYPE_Q5_0)->block_bytes == sizeof(lm_block_q5_0), "Q5_0 bytes");
    CHECK(lm_type_info(LM_TYPE_Q5_1)->block_bytes == sizeof(lm_block_q5_1), "Q5_1 bytes");
    CHECK(lm_type_info(LM_TYPE_Q8_0)->block_bytes == sizeof(lm_block_q8_0), "Q8_0 bytes");
    CHECK(lm_type_info(LM_TYPE_Q2_K)->block_bytes == sizeof(lm_block_q2_K), "Q2_K bytes");
    CHECK(lm_type_info(LM_TYPE_Q3_K)->block_bytes == sizeof(lm_block_q3_K), "Q3_K bytes");
    CHECK(lm_type_info(LM_TYPE_Q5_K)->block_bytes == sizeof(lm_block_q5_K), "Q5_K bytes");
    CHECK(lm_type_info(LM_TYPE_Q6_K)->block_bytes == sizeof(lm_block_q6_K), "Q6_K bytes");
    CHECK(lm_type_info(4) == NULL && lm_type_info(LM_TYPE_COUNT) == NULL && lm_type_info(0xFFFFFFFFu) == NULL,
          "unknown ids have no traits");
    CHECK(!lm_type_info(LM_TYPE_Q8_K)->supported, "Q8_K is size-only");
    CHECK(lm_row_bytes(LM_TYPE_Q4_0, 64) == 36, "Q4_0 row of 64");
    CHECK(lm_row_bytes(LM_TYPE_Q6_K, 512) == 420, "Q6_K row of 512");
    CHECK(lm_row_bytes(LM_TYPE_F16, 7) == 14, "F16 row of 7");
    CHECK(lm_type_from_name("q4_k") == LM_TYPE_Q4_K && lm_type_from_name("BF16") == LM_TYPE_BF16, "names");
    CHECK(lm_type_from_name("q4_9") == -1, "unknown name");

    /* An unsupported type leaves the output alone (callers check first). */
    float y[32] = {0};
    uint8_t junk[64] = {1};
    lm_dequantize_row(LM_TYPE_Q8_K, junk, y, 32);
    lm_dequantize_row((lm_type)4, junk, y, 32);
    CHECK(y[0] == 0, "unsupported type wrote output");
}

int main(void) {
    test_f16();
    test_bf16();
    test_q4_0_layout();
    test_q8_0_layout();
    test_q4_K_layout();
    test_q6_K_layout();
    test_q5_0_layout();
    test_q2_K_layout();
    test_q3_K_layout();
    test_q5_K_layout();
    for (size_t i = 0; i < sizeof error_bounds / sizeof error_bounds[0]; i++)
        test_round_trip(error_bounds[i].type, error_bounds[i].max_rel_rmse);
    test_types();
    return check_done();
}
