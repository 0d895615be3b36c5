#include "confidence.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

/* Both passes go over the logits in blocks with element-wise loops into
 * block-sized buffers, then reduce the buffers as trees: loops that gcc and
 * clang vectorize (SSE natively, SIMD128 in wasm) without -ffast-math, which
 * they would not do for a float running max or sum (and gcc turns float
 * partial sums kept in lanes into in-order scalar adds). The float sums of
 * a block then move into double: pairwise over 256 terms their rounding
 * stays near 1e-7 relative, and 50k logits cost only ~400 double adds. */
enum { BLOCK = 256 };

/* Keeps a when b is NaN. Written a < b (not b > a) for clang to make it one
 * f32x4.pmax in wasm rather than a compare and a bitselect. */
static float max_f(float a, float b) { return a < b ? b : a; }

static float tree_max(float *v) {
    for (int len = BLOCK / 2; len > 0; len /= 2)
        for (int j = 0; j < len; j++) v[j] = max_f(v[j], v[j + len]);
    return v[0];
}

/* Down to 8 lanes as a tree, then in double. */
static double tree_sum(float *v) {
    for (int len = BLOCK / 2; len >= 8; len /= 2)
        for (int j = 0; j < len; j++) v[j] += v[j + len];
    double sum = 0.0;
    for (int j = 0; j < 8; j++) sum += v[j];
    return sum;
}

/* The largest logit as the sampler ranks them: NaN never counts, +inf counts
 * as FLT_MAX; -inf when n is 0 or every logit is NaN or -inf. */
static float logit_max(const float *logits, int32_t n) {
    float m[BLOCK];
    for (int j = 0; j < BLOCK; j++) m[j] = -INFINITY;
    for (int32_t start = 0; start < n; start += BLOCK) {
        const int32_t len = n - start < BLOCK ? n - start : BLOCK;
        for (int32_t j = 0; j < len; j++) m[j] = max_f(m[j], logits[start + j]);
    }
    const float max = tree_max(m);
    return max > FLT_MAX ? FLT_MAX : max;
}

/* exp(d) for d in [EXP_FLOOR, 0], in float arithmetic: d = k ln2 + r with
 * |r| <= ln2/2, a degree-6 Taylor polynomial for e^r (relative error
 * < 3e-7) and 2^k built from the bits of k. k is rounded to nearest by
 * adding 1.5 * 2^23 (where a float's ulp is 1), which leaves k + 0x4B400000
 * in the sum's bits: shifted left by 23, those make the exponent field of
 * 2^k (the high part overflows away). At EXP_FLOOR k is -127 and 2^k comes
 * out 0: terms below ~e^-87.7 of the largest (which weighs 1) vanish
 * instead of leaving the normal floats. */
#define EXP_FLOOR -88.0f

static float exp_floor_to_zero(float d) {
    union { float value; uint32_t bits; } sum = {.value = d * 1.44269504f + 12582912.0f};
    const float k = sum.value - 12582912.0f;
    const float r = (d - k * 0.693359375f) - k * -2.12194440e-4f; /* ln2 split: k * high part is exact */
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { uint32_t bits; float value; } scale = {.bits = (sum.bits + 127u) << 23};
    return p * scale.value;
}

/* d[j] = l - max for the len logits of a block, clamped to [EXP_FLOOR, 0]:
 * NaN and -inf go to the floor and weigh 0, +inf (only there when max is
 * FLT_MAX) goes to 0 as FLT_MAX would; the floor also pads the block. This
 * loop is apart from the exp: fused, gcc specializes the exp for the constant
 * floor and leaves a branch over float arithmetic, which it does not vectorize. */
static void clamp_block(const float *logits, int32_t len, float max, float *d) {
    for (int32_t j = 0; j < len; j++) {
        const float diff = logits[j] - max;
        const float above_floor = max_f(EXP_FLOOR, diff);
        d[j] = above_floor > 0.0f ? 0.0f : above_floor;
    }
    for (int32_t j = len; j < BLOCK; j++) d[j] = EXP_FLOOR;
}

/* s = sum of exp(l - max) and a = sum of exp(l - max) * (l - max); then
 * log p(token) = (l_token - max) - log s and H = log s - a / s. */
void lm_confidence_step(const float *logits, int32_t n, int32_t token, float *logprob,
                        float *entropy) {
    const float max = logit_max(logits, n);
    if (max == -INFINITY || token < 0 || token >= n) {
        if (logprob) *logprob = -INFINITY;
        *entropy = 0.0f;
        return;
    }
    double s = 0.0, a = 0.0;
    float d[BLOCK], w[BLOCK];
    for (int32_t start = 0; start < n; start += BLOCK) {
        clamp_block(logits + start, n - start < BLOCK ? n - start : BLOCK, max, d);
        for (int j = 0; j < BLOCK; j++) {
            w[j] = exp_floor_to_zero(d[j]);
            d[j] *= w[j];
        }
        s += tree_sum(w);
        a += tree_sum(d);
    }
    const float t = logits[token];
    const double lt = isnan(t) ? -INFINITY : t > FLT_MAX ? FLT_MAX : t;
    const double log_s = log(s);
    if (logprob) *logprob = (float)((lt - max) - log_s);
    const double h = log_s - a / s;
    *entropy = (float)(h > 0.0 ? h : 0.0); /* rounding can dip below 0 when one token has it all */
}

void lm_confidence_add(lm_confidence_sum *sum, float logprob) {
    if (sum->n_tokens == 0 || logprob < sum->min_logprob) sum->min_logprob = logprob;
    sum->logprob_sum += logprob;
    sum->n_tokens++;
    if (!(logprob >= logf(LM_LOW_CONFIDENCE_PROB))) sum->n_low++;
}

void lm_confidence_summarize(const lm_confidence_sum *sum, lm_generate_stats *stats) {
    if (sum->n_tokens == 0) {
        stats->mean_logprob = stats->min_logprob = stats->low_confidence_share = 0.0f;
        stats->perplexity = 1.0f;
        return;
    }
    const double mean = sum->logprob_sum / sum->n_tokens;
    stats->mean_logprob = (float)mean;
    stats->min_logprob = sum->min_logprob;
    stats->low_confidence_share = (float)sum->n_low / (float)sum->n_tokens;
    stats->perplexity = (float)exp(-mean);
}
