/* Sentence embeddings from a decoder: the final-normed hidden state of every
 * token (what the LM head would multiply), averaged over the text and scaled
 * to unit length, so that the cosine of two texts is a plain dot product. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"

int32_t lm_n_embd(const lm_model *model) { return model->hp.n_embd; }

typedef struct pool_sum {
    float *sum;
    int32_t n_embd;
} pool_sum;

static void add_hidden(void *user, const float *rows, int n) {
    const pool_sum *p = user;
    for (int t = 0; t < n; t++)
        for (int32_t i = 0; i < p->n_embd; i++) p->sum[i] += rows[(size_t)t * p->n_embd + i];
}

/* The text's tokens with the model's default BOS, malloc'd into *out. */
static lm_status embed_tokens(lm_context *c, const char *text, size_t len, int32_t **out, int32_t *n_out,
                              lm_error *err) {
    const lm_model *m = c->model;
    const int32_t need = lm_tokenize(m, text, len, lm_add_bos_default(m), 0, NULL, 0);
    if (need == -INT32_MAX) return lm_fail(err, LM_E_MEMORY, "out of memory tokenizing %zu bytes", len);
    int32_t n = need < 0 ? -need : need;
    if (n > c->n_ctx)
        return lm_fail(err, LM_E_CONTEXT_FULL, "the text is %d tokens but the context holds %d", n, c->n_ctx);
    int32_t *tokens = malloc(((size_t)n + 1) * sizeof *tokens);
    if (!tokens) return lm_fail(err, LM_E_MEMORY, "out of memory for %d tokens", n);
    n = lm_tokenize(m, text, len, lm_add_bos_default(m), 0, tokens, n);
    if (n == 0 && lm_token_bos(m) >= 0) tokens[n++] = lm_token_bos(m);
    if (n <= 0) {
        free(tokens);
        return lm_fail(err, LM_E_ARGUMENT, "the text is empty and the model has no BOS token to embed");
    }
    *out = tokens;
    *n_out = n;
    return LM_OK;
}

static void normalize(float *v, int32_t n) {
    double ss = 0;
    for (int32_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    const float scale = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int32_t i = 0; i < n; i++) v[i] *= scale;
}

lm_status lm_embed(lm_context *c, const char *text, size_t len, float *out, int32_t n_out, lm_error *err) {
    if (!c || (!text && len > 0) || !out) return lm_fail(err, LM_E_ARGUMENT, "invalid lm_embed arguments");
    const int32_t d = c->model->hp.n_embd;
    if (n_out < d)
        return lm_fail(err, LM_E_ARGUMENT, "the output holds %d floats but the model's embeddings have %d", n_out, d);
    int32_t *tokens = NULL, n = 0;
    lm_status s = embed_tokens(c, text ? text : "", len, &tokens, &n, err);
    if (s != LM_OK) return s;
    memset(out, 0, (size_t)d * sizeof *out);
    pool_sum sum = {out, d};
    lm_context_reset(c);
    c->on_hidden = add_hidden;
    c->on_hidden_user = &sum;
    s = lm_eval(c, tokens, n, err);
    c->on_hidden = NULL;
    c->on_hidden_user = NULL;
    lm_context_reset(c);
    free(tokens);
    if (s != LM_OK) return s;
    normalize(out, d); /* the mean's 1/n cancels out here */
    return LM_OK;
}
