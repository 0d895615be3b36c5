#include "confidence.h"

#include <float.h>
#include <math.h>

/* Online softmax: s = sum of exp(l - max) and a = sum of exp(l - max) * (l - max),
 * both rescaled when a larger logit appears, so the logits are read once.
 * Then log p(token) = (l_token - max) - log s and H = log s - a / s. */
void lm_confidence_step(const float *logits, int32_t n, int32_t token, float *logprob,
                        float *entropy) {
    double max = -INFINITY, s = 0.0, a = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const float x = logits[i];
        if (isnan(x) || x == -INFINITY) continue;
        const double l = x > FLT_MAX ? FLT_MAX : x;
        if (l > max) {
            if (s > 0.0) {
                const double shift = max - l, scale = exp(shift);
                a = scale * (a + s * shift);
                s *= scale;
            }
            max = l;
        }
        const double d = l - max, w = exp(d);
        s += w;
        a += w * d;
    }
    const int valid = s > 0.0 && token >= 0 && token < n;
    if (!valid) {
        if (logprob) *logprob = -INFINITY;
        *entropy = 0.0f;
        return;
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
