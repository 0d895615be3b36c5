/* Constrained sampling for structured output: only tokens whose bytes keep
 * the output a valid prefix of the JSON document, and that leave enough of
 * the token budget to close it, may be sampled. */
#ifndef LM_JSON_GUIDE_H
#define LM_JSON_GUIDE_H

#include "localm.h"

typedef struct lm_json_guide lm_json_guide;

/* Compiles the params' response format for the model's vocabulary
 * (LM_E_OPTION for a bad schema or a max_tokens too small to close it,
 * LM_E_UNSUPPORTED when a byte JSON needs has no single-byte token). */
lm_status lm_json_guide_new(const lm_model *model, const lm_generate_params *params,
                            lm_json_guide **out, lm_error *err);
void lm_json_guide_free(lm_json_guide *guide);

/* Samples the next token. tokens_left counts this one. The sampler sees the
 * raw logits first; only when its pick is not allowed are the others masked
 * and the draw repeated. */
lm_status lm_json_guide_sample(lm_json_guide *guide, lm_sampler *sampler, const float *logits,
                               int32_t tokens_left, int32_t *token, lm_error *err);
void lm_json_guide_accept(lm_json_guide *guide, int32_t token);
/* The fewest tokens that can still complete the document. */
int32_t lm_json_guide_tokens_needed(const lm_json_guide *guide);
/* The document is complete and no byte may follow. */
int lm_json_guide_closed(const lm_json_guide *guide);

#endif
