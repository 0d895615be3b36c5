/* The functions the JS worker calls (Emscripten build only).
 *
 * A session holds one model, its context and at most one running generation.
 * Results that are more than one number live in the session (or in static
 * storage for errors) and JS reads them from the wasm heap before its next
 * call; options and structured results cross as JSON strings so the JS side
 * stays a thin wrapper. Every function returning a status leaves the error in
 * lmw_error_code()/lmw_error_message(). */
#include <emscripten.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "localm.h"

typedef struct lmw_session {
    lm_model *model;
    lm_context *ctx;
    lm_generation *gen;
    int32_t *tokens;   /* result of the last lmw_tokenize */
    char *text;        /* result of the last lmw_detokenize */
    float *embedding;  /* result of the last lmw_embed: lm_n_embd floats */
    char stats_json[512];
} lmw_session;

/* One generation step as JS reads it: fixed 32-bit fields, see worker.js. */
typedef struct lmw_step {
    int32_t done;
    int32_t token;
    float logprob;
    const char *text;
    int32_t len;
    float entropy;
} lmw_step;

_Static_assert(sizeof(lmw_step) == 24, "worker.js reads lmw_step as six 32-bit fields");

static lm_error last_error;
static lmw_step step;

/* Passes a status through; success clears last_error, so JS never reads a
 * stale message. */
static lm_status remember(lm_status status) {
    if (status == LM_OK) last_error.code = LM_OK, last_error.message[0] = '\0';
    return status;
}

EMSCRIPTEN_KEEPALIVE int lmw_error_code(void) { return last_error.code; }
EMSCRIPTEN_KEEPALIVE const char *lmw_error_message(void) { return last_error.message; }
EMSCRIPTEN_KEEPALIVE const char *lmw_status_name(int status) { return lm_status_name((lm_status)status); }

/* parts[i] were malloc'd by JS and are owned by the model from here on, also
 * when loading fails. n_ctx 0: the model's default. budget: the bytes the
 * weights, KV cache and scratch may take (what the heap had free before the
 * parts were allocated; a double because JS numbers cross as such). */
EMSCRIPTEN_KEEPALIVE lmw_session *lmw_load(void **parts, const size_t *sizes, int n_parts,
                                           int32_t n_ctx, double budget) {
    lm_load_params params = lm_load_params_default();
    params.n_ctx = n_ctx;
    params.memory_budget = budget > 0 ? (uint64_t)budget : 0;
    lm_model *model = NULL;
    if (remember(lm_model_load_buffers(parts, sizes, n_parts, &params, &model, &last_error)) != LM_OK)
        return NULL;
    lmw_session *s = calloc(1, sizeof *s);
    if (!s) {
        lm_model_free(model);
        lm_fail(&last_error, LM_E_MEMORY, "out of memory allocating the session");
        return NULL;
    }
    s->model = model;
    s->embedding = malloc((size_t)lm_n_embd(model) * sizeof *s->embedding);
    if (!s->embedding) lm_fail(&last_error, LM_E_MEMORY, "out of memory for an embedding");
    if (!s->embedding || remember(lm_context_new(model, 0, &s->ctx, &last_error)) != LM_OK) {
        lm_model_free(model);
        free(s->embedding);
        free(s);
        return NULL;
    }
    return s;
}

EMSCRIPTEN_KEEPALIVE void lmw_generate_free(lmw_session *s) {
    lm_generation_free(s->gen);
    s->gen = NULL;
}

EMSCRIPTEN_KEEPALIVE void lmw_free(lmw_session *s) {
    if (!s) return;
    lmw_generate_free(s);
    lm_context_free(s->ctx);
    lm_model_free(s->model);
    free(s->tokens);
    free(s->text);
    free(s->embedding);
    free(s);
}

EMSCRIPTEN_KEEPALIVE const char *lmw_info(lmw_session *s) { return lm_model_info_json(s->model); }
EMSCRIPTEN_KEEPALIVE int32_t lmw_context_size(lmw_session *s) { return lm_context_size(s->ctx); }

/* Only the threaded build (web/dist/mt/) can start more than one. */
EMSCRIPTEN_KEEPALIVE int lmw_set_threads(lmw_session *s, int n_threads) {
    return remember(lm_context_set_threads(s->ctx, n_threads, &last_error));
}

/* Returns the token count (the ids are at lmw_tokens), -1 on error.
 * add_bos -1: the model's default. */
EMSCRIPTEN_KEEPALIVE int32_t lmw_tokenize(lmw_session *s, const char *text, int32_t len,
                                          int add_bos, int parse_special) {
    if (add_bos < 0) add_bos = lm_add_bos_default(s->model);
    int32_t n = lm_tokenize(s->model, text, (size_t)len, add_bos, parse_special, NULL, 0);
    if (n < 0) n = -n;
    int32_t *tokens = malloc(((size_t)n + 1) * sizeof *tokens);
    if (!tokens) return lm_fail(&last_error, LM_E_MEMORY, "out of memory tokenizing %d bytes", len), -1;
    free(s->tokens);
    s->tokens = tokens;
    return lm_tokenize(s->model, text, (size_t)len, add_bos, parse_special, tokens, n);
}

EMSCRIPTEN_KEEPALIVE const int32_t *lmw_tokens(lmw_session *s) { return s->tokens; }

/* Concatenates the pieces of ids into lmw_text; returns the byte count, -1 on error. */
EMSCRIPTEN_KEEPALIVE int32_t lmw_detokenize(lmw_session *s, const int32_t *ids, int32_t n) {
    int32_t n_vocab = lm_n_vocab(s->model);
    size_t cap = 256, len = 0;
    char *text = malloc(cap);
    for (int32_t i = 0; text && i < n;) {
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            free(text);
            return lm_fail(&last_error, LM_E_ARGUMENT, "token id %d at index %d is outside the vocabulary (0..%d)",
                           ids[i], i, n_vocab - 1), -1;
        }
        int32_t got = lm_token_to_piece(s->model, ids[i], text + len, (int32_t)(cap - len));
        if (got >= 0) {
            len += (size_t)got;
            i++;
            continue;
        }
        cap = cap * 2 + (size_t)-got; /* then retry the same token */
        char *grown = realloc(text, cap);
        if (!grown) free(text);
        text = grown;
    }
    if (!text) return lm_fail(&last_error, LM_E_MEMORY, "out of memory detokenizing %d tokens", n), -1;
    free(s->text);
    s->text = text;
    return (int32_t)len;
}

EMSCRIPTEN_KEEPALIVE const char *lmw_text(lmw_session *s) { return s->text; }

/* Starts a generation from an empty context: every generate() call in JS is
 * independent of the previous one. */
EMSCRIPTEN_KEEPALIVE int lmw_generate_start(lmw_session *s, const char *prompt,
                                            const char *options_json) {
    lmw_generate_free(s);
    lm_generate_params params = lm_generate_params_default();
    if (remember(lm_generate_params_from_json(options_json, &params, &last_error)) != LM_OK)
        return last_error.code;
    lm_context_reset(s->ctx);
    return remember(lm_generation_start(s->ctx, prompt, &params, &s->gen, &last_error));
}

/* The next piece, or NULL on error (the generation is then over). */
EMSCRIPTEN_KEEPALIVE const lmw_step *lmw_generate_next(lmw_session *s) {
    if (!s->gen) {
        lm_fail(&last_error, LM_E_ARGUMENT, "no generation is running");
        return NULL;
    }
    lm_piece piece = {0};
    int done = 0;
    if (remember(lm_generation_next(s->gen, &piece, &done, &last_error)) != LM_OK) return NULL;
    step.done = done;
    step.token = piece.token;
    step.logprob = piece.logprob;
    step.text = piece.text;
    step.len = (int32_t)piece.len;
    step.entropy = piece.entropy;
    return &step;
}

EMSCRIPTEN_KEEPALIVE const char *lmw_generate_stats(lmw_session *s) {
    lm_generate_stats st = {0};
    if (s->gen) lm_generation_stats(s->gen, &st);
    snprintf(s->stats_json, sizeof s->stats_json,
             "{\"prompt_tokens\":%d,\"prompt_ms\":%.3f,\"gen_tokens\":%d,\"gen_ms\":%.3f,\"stopped_by\":%d,"
             "\"mean_logprob\":%.6g,\"min_logprob\":%.6g,\"low_confidence_share\":%.6g,\"perplexity\":%.6g}",
             st.prompt_tokens, st.prompt_ms, st.gen_tokens, st.gen_ms, st.stopped_by, st.mean_logprob,
             st.min_logprob, st.low_confidence_share, st.perplexity);
    return s->stats_json;
}

EMSCRIPTEN_KEEPALIVE int32_t lmw_n_embd(lmw_session *s) { return lm_n_embd(s->model); }

/* The embedding of text (lmw_n_embd floats, valid until the next call), or
 * NULL on error. It resets the context, so a running generation ends. */
EMSCRIPTEN_KEEPALIVE const float *lmw_embed(lmw_session *s, const char *text, int32_t len) {
    lmw_generate_free(s);
    if (len < 0) return lm_fail(&last_error, LM_E_ARGUMENT, "negative text length %d", len), NULL;
    if (remember(lm_embed(s->ctx, text, (size_t)len, s->embedding, lm_n_embd(s->model), &last_error)) != LM_OK)
        return NULL;
    return s->embedding;
}

/* The formatted prompt (malloc'd: JS frees it), NULL on error. */
EMSCRIPTEN_KEEPALIVE char *lmw_chat_format(lmw_session *s, const char *messages_json) {
    char *out = NULL;
    if (remember(lm_chat_format(s->model, messages_json, &out, &last_error)) != LM_OK) return NULL;
    return out;
}
