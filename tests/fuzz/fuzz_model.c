/* libFuzzer target: a whole model load from arbitrary bytes under a small
 * memory budget, then, when it loads, a short generation. Whatever shapes,
 * types and hyper-parameters the loader accepts must be safe for the forward
 * pass (on one or two threads), the sampler and the detokenizer to use. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "localm.h"

enum { FUZZ_CTX = 8 };

static int count_piece(void *user, const lm_piece *piece) {
    *(size_t *)user += piece->len;
    return 0;
}

/* The input's last byte also picks the sampling settings and the thread
 * count (in a model file it is at most one weight or padding byte). */
static lm_generate_params params_from_knob(uint8_t knob) {
    lm_generate_params p = lm_generate_params_default();
    p.max_tokens = 3;
    p.sampling.seed = 1;
    p.sampling.temperature = knob & 1 ? 0.0f : 0.9f;
    p.sampling.top_k = knob & 2 ? 3 : 0;
    p.sampling.top_p = knob & 4 ? 0.5f : 1.0f;
    p.sampling.min_p = knob & 8 ? 0.1f : 0.0f;
    p.sampling.repeat_penalty = knob & 16 ? 1.3f : 1.0f;
    p.sampling.presence_penalty = knob & 16 ? 0.5f : 0.0f;
    if (knob & 32) { /* a stop string makes generation hold text back */
        p.n_stop = 1;
        strcpy(p.stop[0], "b");
    }
    return p;
}

static void run_model(lm_model *m, uint8_t knob) {
    lm_context *ctx;
    lm_error err;
    if (lm_context_new(m, FUZZ_CTX, &ctx, &err) != LM_OK) return;
    if (knob & 64) lm_context_set_threads(ctx, 2, &err);
    /* The first and last ids, then one past the end, which must be refused. */
    const int32_t n_vocab = lm_n_vocab(m);
    const int32_t tokens[] = {0, n_vocab - 1};
    if (lm_eval(ctx, tokens, 2, &err) == LM_OK && lm_logits(ctx) == NULL) __builtin_trap();
    const int32_t past_end = n_vocab;
    if (lm_eval(ctx, &past_end, 1, &err) != LM_E_ARGUMENT) __builtin_trap();

    lm_context_reset(ctx);
    const lm_generate_params p = params_from_knob(knob);
    size_t bytes = 0;
    lm_generate(ctx, "ab \xe2\x96\x81<s>", &p, count_piece, &bytes, NULL, &err);
    lm_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    void *part = malloc(size ? size : 1); /* the model takes ownership */
    if (!part) return 0;
    memcpy(part, data, size);
    lm_load_params params = lm_load_params_default();
    params.memory_budget = 64u << 20;
    params.n_ctx = FUZZ_CTX;
    lm_model *m = NULL;
    lm_error err = {0};
    lm_status s = lm_model_load_buffers(&part, &size, 1, &params, &m, &err);
    if (s != LM_OK) {
        if (m != NULL || err.message[0] == 0) __builtin_trap(); /* failures are clean and named */
        return 0;
    }
    if (lm_model_info_json(m) == NULL) __builtin_trap();
    run_model(m, size ? data[size - 1] : 0);
    lm_model_free(m);
    return 0;
}
