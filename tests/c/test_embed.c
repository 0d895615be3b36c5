/* lm_embed on a tiny llama built in memory and on stories260K: unit length,
 * deterministic, pooled over every batch of a long text like a token-by-token
 * reference, the direction the LM head multiplies, and clean errors for a
 * short output, a text longer than the context and an empty text. The
 * stories260K part is skipped (with a message) when ../shared is absent. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "context.h"
#include "gguf_builder.h"
#include "tiny_llama.h"
#include "localm.h"

enum { CTX = 160 };


static float output_weight[VOCAB][EMBD]; /* kept to check the LM head's direction */

static lm_status load_tiny(lm_model **m, lm_error *err) {
    gb b = {0};
    gb_header(&b, 3, N_TENSORS, 11);
    gb_kv_str(&b, "general.architecture", "llama");
    add_vocab(&b);
    gb_kv_u32(&b, "llama.embedding_length", EMBD);
    gb_kv_u32(&b, "llama.block_count", 1);
    gb_kv_u32(&b, "llama.feed_forward_length", FF);
    gb_kv_u32(&b, "llama.attention.head_count", 2);
    gb_kv_u32(&b, "llama.attention.head_count_kv", 1);
    gb_kv_u32(&b, "llama.context_length", CTX);
    uint64_t offset = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const uint64_t ne[2] = {tensors[i].cols, tensors[i].rows};
        gb_tensor_info(&b, tensors[i].name, ne[1] == 1 ? 1 : 2, ne, 0, offset);
        offset += (ne[0] * ne[1] * 4 + 31) / 32 * 32;
    }
    gb_align(&b, 32);
    const size_t data_start = b.len;
    uint64_t state = 11;
    for (uint64_t i = 0; i < offset / 4; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        gb_f32(&b, (float)((int)(state >> 40) % 2001 - 1000) / 500.0f);
    }
    /* output.weight follows token_embd (256 bytes) and output_norm (32). */
    memcpy(output_weight, b.data + data_start + 288, sizeof output_weight);
    void *parts[1] = {b.data};
    size_t sizes[1] = {b.len};
    return lm_model_load_buffers(parts, sizes, 1, NULL, m, err);
}

static float norm_of(const float *v, int32_t n) {
    double ss = 0;
    for (int32_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    return (float)sqrt(ss);
}

static float max_abs_diff(const float *a, const float *b, int32_t n) {
    float worst = 0;
    for (int32_t i = 0; i < n; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
    return worst;
}

/* The reference: one token per lm_eval, pooled by the same hook. */
static void sum_rows(void *user, const float *rows, int n) {
    float *sum = user;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < EMBD; i++) sum[i] += rows[t * EMBD + i];
}

static void reference_embedding(lm_context *c, const char *text, float *out) {
    int32_t tokens[CTX];
    const int32_t n = lm_tokenize(c->model, text, strlen(text), lm_add_bos_default(c->model), 0, tokens, CTX);
    memset(out, 0, EMBD * sizeof *out);
    lm_context_reset(c);
    c->on_hidden = sum_rows;
    c->on_hidden_user = out;
    for (int32_t i = 0; i < n; i++) lm_eval(c, tokens + i, 1, NULL);
    c->on_hidden = NULL;
    lm_context_reset(c);
    const float len = norm_of(out, EMBD);
    for (int i = 0; i < EMBD; i++) out[i] /= len;
}

/* " a b a b ..." of n words: with BOS, n + 1 tokens. */
static void words(char *text, int n) {
    text[0] = '\0';
    for (int i = 0; i < n; i++) strcat(text, i % 3 ? " b" : " a");
}

static void test_tiny_pooling(lm_context *c) {
    static char text[4 * CTX];
    float got[EMBD], want[EMBD];
    lm_error err = {0};
    words(text, 100); /* two batches of LM_MAX_BATCH */
    CHECK(lm_embed(c, text, strlen(text), got, EMBD, &err) == LM_OK, "long text: %s", err.message);
    reference_embedding(c, text, want);
    CHECK(max_abs_diff(got, want, EMBD) < 1e-5f, "batched vs token by token: %g", max_abs_diff(got, want, EMBD));
    CHECK(fabsf(norm_of(got, EMBD) - 1.0f) < 1e-5f, "unit length: %g", norm_of(got, EMBD));
    CHECK(lm_context_pos(c) == 0, "the context is left reset (pos %d)", lm_context_pos(c));
}

/* BOS alone: the embedding is the normed hidden state the LM head turns
 * into the logits, so W . embedding is the logits scaled by a positive number. */
static void test_tiny_head_direction(lm_context *c) {
    float emb[EMBD], head[VOCAB];
    lm_error err = {0};
    CHECK(lm_embed(c, "", 0, emb, EMBD, &err) == LM_OK, "empty text embeds BOS: %s", err.message);
    const int32_t bos = lm_token_bos(c->model);
    CHECK(lm_eval(c, &bos, 1, &err) == LM_OK, "eval BOS: %s", err.message);
    const float *logits = lm_logits(c);
    for (int r = 0; r < VOCAB; r++) {
        head[r] = 0;
        for (int i = 0; i < EMBD; i++) head[r] += output_weight[r][i] * emb[i];
    }
    const float scale = norm_of(logits, VOCAB) / norm_of(head, VOCAB);
    float worst = 0;
    for (int r = 0; r < VOCAB; r++) worst = fmaxf(worst, fabsf(head[r] * scale - logits[r]));
    CHECK(worst < 1e-4f * norm_of(logits, VOCAB), "W . embedding is not along the logits (off by %g)", worst);
    lm_context_reset(c);
}

static void test_errors(lm_context *c, int32_t d, int32_t n_ctx, const char *long_text) {
    float small[4];
    lm_error err = {0};
    CHECK(lm_embed(c, "a", 1, small, d - 1, &err) == LM_E_ARGUMENT, "n_out too small: %s", err.message);
    char both[64];
    snprintf(both, sizeof both, "holds %d floats but the model's embeddings have %d", d - 1, d);
    CHECK(strstr(err.message, both) != NULL, "names both sizes: %s", err.message);
    float *out = calloc((size_t)d, sizeof *out);
    lm_status s = lm_embed(c, long_text, strlen(long_text), out, d, &err);
    char ctx_size[64];
    snprintf(ctx_size, sizeof ctx_size, "but the context holds %d", n_ctx);
    CHECK(s == LM_E_CONTEXT_FULL && strstr(err.message, ctx_size), "too long: %s %s", lm_status_name(s), err.message);
    CHECK(lm_embed(c, NULL, 3, out, d, &err) == LM_E_ARGUMENT, "NULL text with a length");
    CHECK(lm_embed(c, "a", 1, NULL, d, &err) == LM_E_ARGUMENT, "NULL output");
    free(out);
}

static void test_tiny(void) {
    lm_model *m = NULL;
    lm_context *c = NULL;
    lm_error err = {0};
    CHECK(load_tiny(&m, &err) == LM_OK, "tiny model: %s", err.message);
    if (!m) return;
    CHECK(lm_n_embd(m) == EMBD, "n_embd %d", lm_n_embd(m));
    CHECK(lm_context_new(m, 0, &c, &err) == LM_OK, "context: %s", err.message);
    if (c) {
        test_tiny_pooling(c);
        test_tiny_head_direction(c);
        static char too_long[4 * CTX];
        words(too_long, CTX); /* CTX + 1 tokens */
        test_errors(c, EMBD, CTX, too_long);
    }
    lm_context_free(c);
    lm_model_free(m);
}

static float dot(const float *a, const float *b, int32_t n) {
    double s = 0;
    for (int32_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

static void test_stories(const char *shared) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    lm_model *m = NULL;
    lm_context *c = NULL;
    lm_error err = {0};
    CHECK(lm_model_load_file(path, NULL, &m, &err) == LM_OK, "stories260K: %s", err.message);
    if (!m || lm_context_new(m, 0, &c, &err) != LM_OK) {
        CHECK(0, "stories260K context: %s", err.message);
        lm_model_free(m);
        return;
    }
    const int32_t d = lm_n_embd(m);
    float *a = malloc((size_t)d * sizeof *a), *b = malloc((size_t)d * sizeof *b);
    const char *text = "Once upon a time, there was a little girl named Lily.";
    CHECK(lm_embed(c, text, strlen(text), a, d, &err) == LM_OK, "embed: %s", err.message);
    CHECK(fabsf(norm_of(a, d) - 1.0f) < 1e-5f, "unit length: %g", norm_of(a, d));
    /* Deterministic, also after the context held something else. */
    CHECK(lm_eval(c, (const int32_t[]){1, 400, 401}, 3, &err) == LM_OK, "eval: %s", err.message);
    CHECK(lm_embed(c, text, strlen(text), b, d, &err) == LM_OK, "embed again: %s", err.message);
    CHECK(memcmp(a, b, (size_t)d * sizeof *a) == 0, "the same text gives the same bits");
    if (lm_context_set_threads(c, 2, &err) == LM_OK) { /* not in single-threaded wasm */
        CHECK(lm_embed(c, text, strlen(text), b, d, &err) == LM_OK, "embed on 2 threads: %s", err.message);
        CHECK(max_abs_diff(a, b, d) < 1e-5f, "2 threads agree: %g", max_abs_diff(a, b, d));
    }
    CHECK(lm_embed(c, "", 0, b, d, &err) == LM_OK && fabsf(norm_of(b, d) - 1.0f) < 1e-5f, "empty: %s", err.message);
    CHECK(dot(a, b, d) < 0.9999f, "the empty text differs from a sentence");
    const int32_t n_ctx = lm_context_size(c);
    char *long_text = malloc((size_t)n_ctx * 4 + 1);
    long_text[0] = '\0';
    for (int32_t i = 0; i < n_ctx; i++) strcat(long_text, " cat");
    test_errors(c, d, n_ctx, long_text);
    free(long_text);
    free(a);
    free(b);
    lm_context_free(c);
    lm_model_free(m);
}

int main(void) {
    test_tiny();
    /* Without ../shared the tiny model's checks still count. */
    const char *shared = getenv("LM_SHARED_DIR");
    struct stat st;
    if (shared && stat(shared, &st) == 0 && S_ISDIR(st.st_mode)) test_stories(shared);
    else printf("SKIP stories260K checks: ../shared is absent (LM_SHARED_DIR=%s)\n", shared ? shared : "(unset)");
    return check_done();
}
