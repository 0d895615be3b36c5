/* Confidence figures of a generation: the entropy of the model's distribution
 * at each step and a summary of the sampled tokens' log-probabilities, which
 * tell a caller when a small local model is guessing. */
#ifndef LM_CONFIDENCE_H
#define LM_CONFIDENCE_H

#include "localm.h"

/* The log-probability of token and the entropy in nats of the full softmax of
 * the raw logits (NaN counts as -inf, +inf as FLT_MAX, like the sampler), in
 * float arithmetic summed in double: ~1e-6 relative. logprob may be NULL.
 * When no logit is above -inf or token is out of range, *logprob is -inf and
 * *entropy 0. */
void lm_confidence_step(const float *logits, int32_t n, int32_t token, float *logprob,
                        float *entropy);

/* Running summary of the sampled tokens' log-probabilities. */
typedef struct lm_confidence_sum {
    double logprob_sum;
    float min_logprob;
    int32_t n_tokens;
    int32_t n_low; /* tokens with probability < LM_LOW_CONFIDENCE_PROB */
} lm_confidence_sum;

void lm_confidence_add(lm_confidence_sum *sum, float logprob);
/* Fills the confidence fields of stats (see lm_generate_stats). */
void lm_confidence_summarize(const lm_confidence_sum *sum, lm_generate_stats *stats);

#endif
