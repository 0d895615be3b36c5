/* Element-wise operations of the model families beyond llama's, rounded
 * like ggml's CPU backend where that is visible in the logits. */
#include <math.h>

#include "context.h"
#include "quant.h"

/* ggml evaluates GELU (tanh approximation) through a table indexed by the
 * input rounded to f16 and holding f16 results, and passes |x| >= 10
 * through: we build the same table (65536 entries) and read it the same way,
 * which is also cheaper than a tanhf per value. */
void lm_gelu_table(uint16_t *table) {
    for (uint32_t i = 0; i < 65536; i++) {
        const float x = lm_f16_to_f32((uint16_t)i);
        table[i] = lm_f32_to_f16(0.5f * x * (1.0f + tanhf(0.79788456080286535588f * x * (1.0f + 0.044715f * x * x))));
    }
}

float lm_gelu(const uint16_t *table, float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return lm_f16_to_f32(table[lm_f32_to_f16(x)]);
}

/* (x - mean) / sqrt(var + eps) * w + b, sums in double as ggml does. */
void lm_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const float mean = (float)(sum / n);
    double var = 0;
    for (int64_t i = 0; i < n; i++) {
        out[i] = x[i] - mean;
        var += (double)out[i] * out[i];
    }
    const float scale = 1.0f / sqrtf((float)(var / n) + eps);
    for (int64_t i = 0; i < n; i++) out[i] = out[i] * scale * w[i] + (b ? b[i] : 0.0f);
}

/* ALiBi: head h's bias per position of distance is -slope. Heads beyond
 * the largest power of two below n_head interleave a second geometric
 * series, as in the ALiBi paper and ggml's soft_max. */
float lm_alibi_slope(int h, int n_head, float max_bias) {
    const int n_pow2 = 1 << (int)floor(log2((double)n_head));
    const float m0 = powf(2.0f, -max_bias / n_pow2), m1 = powf(2.0f, -(max_bias / 2.0f) / n_pow2);
    return h < n_pow2 ? powf(m0, (float)(h + 1)) : powf(m1, (float)(2 * (h - n_pow2) + 1));
}
