/* Structured output on top of the sampler: the token pieces are read once
 * per generation, and each step either takes the sampler's pick (when the
 * matcher accepts it) or masks every token it refuses and samples again. */
#include "json_guide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_constrain.h"

#define PIECE_MAX 256

struct lm_json_guide {
    js_schema schema;
    jc_state state, scratch;
    int allow_eog;
    int32_t n_vocab;
    int32_t *offset;      /* token t's bytes: pieces[offset[t] .. offset[t + 1]) */
    char *pieces;
    unsigned char *eog;   /* end-of-generation tokens */
    float *masked;        /* logits with refused tokens at -inf */
};

void lm_json_guide_free(lm_json_guide *g) {
    if (!g) return;
    free(g->offset);
    free(g->pieces);
    free(g->eog);
    free(g->masked);
    free(g);
}

/* Every token's bytes in one buffer; single[b]: some token is just byte b. */
static lm_status read_pieces(lm_json_guide *g, const lm_model *m, unsigned char single[256], lm_error *err) {
    size_t cap = (size_t)g->n_vocab * 8 + PIECE_MAX, used = 0;
    g->offset = malloc(((size_t)g->n_vocab + 1) * sizeof *g->offset);
    g->pieces = malloc(cap);
    g->eog = calloc((size_t)g->n_vocab, 1);
    g->masked = malloc((size_t)g->n_vocab * sizeof *g->masked);
    if (!g->offset || !g->pieces || !g->eog || !g->masked) return lm_fail(err, LM_E_MEMORY, "out of memory");
    for (int32_t t = 0; t < g->n_vocab; t++) {
        if (cap - used < PIECE_MAX) {
            char *grown = realloc(g->pieces, cap * 2);
            if (!grown) return lm_fail(err, LM_E_MEMORY, "out of memory");
            g->pieces = grown;
            cap *= 2;
        }
        g->offset[t] = (int32_t)used;
        g->eog[t] = (unsigned char)lm_token_is_eog(m, t);
        int32_t n = g->eog[t] ? 0 : lm_token_to_piece(m, t, g->pieces + used, PIECE_MAX);
        if (n < 0) n = 0; /* longer than any real token: never allowed */
        if (n == 1) single[(unsigned char)g->pieces[used]] = 1;
        used += (size_t)n;
    }
    g->offset[g->n_vocab] = (int32_t)used;
    return LM_OK;
}

/* The bytes that may be needed to close any document: JSON's punctuation
 * and digits, and every key and literal of the schema. Multi-byte
 * characters in strings are allowed only when their bytes can be spelled. */
static lm_status check_spellable(lm_json_guide *g, const unsigned char single[256], lm_error *err) {
    static const char punctuation[] = "{}[],:\"-.0123456789";
    for (const char *p = punctuation; *p; p++)
        if (!single[(unsigned char)*p])
            return lm_fail(err, LM_E_UNSUPPORTED, "JSON output: the vocabulary has no single-byte token for '%c'", *p);
    for (int32_t i = 0; i < g->schema.text_len; i++) {
        unsigned char b = (unsigned char)g->schema.text[i];
        if (b && !single[b])
            return lm_fail(err, LM_E_UNSUPPORTED, "JSON output: the vocabulary has no single-byte token for byte 0x%02X", b);
    }
    int ascii_only = 0;
    for (int b = 0x80; b <= 0xF4; b++) ascii_only |= !single[b];
    jc_init(&g->state, &g->schema, ascii_only);
    return LM_OK;
}

lm_status lm_json_guide_new(const lm_model *model, const lm_generate_params *params, lm_json_guide **out,
                            lm_error *err) {
    *out = NULL;
    lm_json_guide *g = calloc(1, sizeof *g);
    if (!g) return lm_fail(err, LM_E_MEMORY, "out of memory");
    g->n_vocab = lm_n_vocab(model);
    g->allow_eog = !params->ignore_eos;
    unsigned char single[256] = {0};
    lm_status s;
    if (params->response_format != LM_FORMAT_JSON_OBJECT && params->response_format != LM_FORMAT_JSON_SCHEMA) {
        s = lm_fail(err, LM_E_ARGUMENT, "unknown response_format %d", params->response_format);
    } else if (params->response_format == LM_FORMAT_JSON_OBJECT) {
        s = js_compile_json_object(&g->schema, err);
    } else if (!memchr(params->response_schema, 0, sizeof params->response_schema)) {
        s = lm_fail(err, LM_E_OPTION, "response_format schema is not terminated");
    } else {
        s = js_compile_schema(&g->schema, params->response_schema, err);
    }
    if (s == LM_OK) s = read_pieces(g, model, single, err);
    if (s == LM_OK) s = check_spellable(g, single, err);
    if (s == LM_OK && lm_json_guide_tokens_needed(g) > params->max_tokens)
        s = lm_fail(err, LM_E_OPTION, "max_tokens %d is too small for this schema: it needs at least %d",
                    params->max_tokens, lm_json_guide_tokens_needed(g));
    if (s != LM_OK) {
        lm_json_guide_free(g);
        return s;
    }
    *out = g;
    return LM_OK;
}

static const char *piece_of(const lm_json_guide *g, int32_t t, size_t *len) {
    *len = (size_t)(g->offset[t + 1] - g->offset[t]);
    return g->pieces + g->offset[t];
}

/* May token t come next, leaving tokens_left - 1 tokens to close? */
static int allowed(lm_json_guide *g, int32_t t, int32_t tokens_left) {
    if (t < 0 || t >= g->n_vocab) return 0;
    if (g->eog[t]) return g->allow_eog && jc_complete(&g->state);
    size_t len;
    const char *bytes = piece_of(g, t, &len);
    if (len == 0) return 0; /* control tokens never appear inside */
    jc_copy(&g->scratch, &g->state);
    return jc_advance(&g->scratch, bytes, len) && jc_closing_len(&g->scratch) <= tokens_left - 1;
}

/* Refused tokens at -inf; how many remain. The first byte sorts out most. */
static int32_t mask(lm_json_guide *g, const float *logits, int32_t tokens_left) {
    unsigned char first_ok[256];
    for (int b = 0; b < 256; b++) {
        const char byte = (char)b;
        first_ok[b] = (unsigned char)jc_accepts(&g->state, &byte, 1);
    }
    int32_t n_allowed = 0;
    for (int32_t t = 0; t < g->n_vocab; t++) {
        size_t len;
        const char *bytes = piece_of(g, t, &len);
        const int ok = (len == 0 || first_ok[(unsigned char)bytes[0]]) && allowed(g, t, tokens_left);
        g->masked[t] = ok ? logits[t] : -INFINITY;
        n_allowed += ok && logits[t] > -INFINITY; /* NaN too: never drawn */
    }
    return n_allowed;
}

lm_status lm_json_guide_sample(lm_json_guide *g, lm_sampler *sampler, const float *logits, int32_t tokens_left,
                               int32_t *token, lm_error *err) {
    *token = lm_sampler_sample(sampler, logits, NULL);
    if (allowed(g, *token, tokens_left)) return LM_OK;
    if (mask(g, logits, tokens_left) == 0)
        return lm_fail(err, LM_E_UNSUPPORTED, "JSON output: no token of the vocabulary can continue the document");
    *token = lm_sampler_sample(sampler, g->masked, NULL);
    return LM_OK;
}

void lm_json_guide_accept(lm_json_guide *g, int32_t token) {
    size_t len;
    if (token < 0 || token >= g->n_vocab || g->eog[token]) return;
    const char *bytes = piece_of(g, token, &len);
    jc_advance(&g->state, bytes, len);
}

int32_t lm_json_guide_tokens_needed(const lm_json_guide *g) {
    return jc_closing_len(&g->state); /* every byte it needs is one token */
}

int lm_json_guide_closed(const lm_json_guide *g) {
    if (g->state.closed) return 1;
    if (!jc_complete(&g->state)) return 0;
    for (int b = 0; b < 256; b++) { /* a top-level number or literal that cannot grow */
        const char byte = (char)b;
        if (jc_accepts(&g->state, &byte, 1)) return 0;
    }
    return 1;
}
