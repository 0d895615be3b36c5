/* Model loading and generation on a tiny llama built in memory: a valid file
 * runs; each broken field (missing key, foreign architecture, wrong shape,
 * unsupported type, missing tensor, over budget) is a clean error naming it;
 * context-full, stop strings and bad token ids behave as documented. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "gguf_builder.h"
#include "tiny_llama.h"
#include "localm.h"

enum { CTX = 16 };

typedef struct breakage {
    const char *drop_key;     /* metadata key left out */
    const char *arch;         /* general.architecture, default llama */
    const char *drop_tensor;  /* tensor left out */
    const char *odd_tensor;   /* tensor given odd_type / odd_rows */
    uint32_t odd_type;
    uint64_t odd_rows;
    uint32_t head_count;      /* 0: 2 */
    uint32_t split_count;     /* 0: not split */
} breakage;


static int count_keys(const breakage *k) {
    static const char *const keys[] = {"llama.embedding_length", "llama.block_count",
                                       "llama.feed_forward_length", "llama.attention.head_count",
                                       "llama.attention.head_count_kv", "llama.context_length"};
    int n = 1 + 4 + (k->split_count ? 1 : 0); /* architecture, vocabulary, split */
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) n += !k->drop_key || strcmp(k->drop_key, keys[i]);
    return n;
}

static void add_hparam(gb *b, const breakage *k, const char *key, uint32_t value) {
    if (!k->drop_key || strcmp(k->drop_key, key)) gb_kv_u32(b, key, value);
}

static void build_model(gb *b, const breakage *k) {
    int n_tensors = 0;
    for (size_t i = 0; i < N_TENSORS; i++) n_tensors += !k->drop_tensor || strcmp(k->drop_tensor, tensors[i].name);
    gb_header(b, 3, (uint64_t)n_tensors, (uint64_t)count_keys(k));
    gb_kv_str(b, "general.architecture", k->arch ? k->arch : "llama");
    add_vocab(b);
    if (k->split_count) gb_kv_u32(b, "split.count", k->split_count);
    add_hparam(b, k, "llama.embedding_length", EMBD);
    add_hparam(b, k, "llama.block_count", 1);
    add_hparam(b, k, "llama.feed_forward_length", FF);
    add_hparam(b, k, "llama.attention.head_count", k->head_count ? k->head_count : 2);
    add_hparam(b, k, "llama.attention.head_count_kv", 1);
    add_hparam(b, k, "llama.context_length", CTX);
    uint64_t offset = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const tensor_spec *t = &tensors[i];
        if (k->drop_tensor && !strcmp(k->drop_tensor, t->name)) continue;
        const int odd = k->odd_tensor && !strcmp(k->odd_tensor, t->name);
        const uint64_t ne[2] = {t->cols, odd && k->odd_rows ? k->odd_rows : t->rows};
        gb_tensor_info(b, t->name, ne[1] == 1 ? 1 : 2, ne, odd ? k->odd_type : 0, offset);
        offset += (ne[0] * ne[1] * 4 + 31) / 32 * 32;
    }
    gb_align(b, 32);
    uint64_t state = 7;
    for (uint64_t i = 0; i < offset / 4; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        gb_f32(b, (float)((int)(state >> 40) % 2001 - 1000) / 500.0f);
    }
}

/* Loads the model through the buffer API, which takes ownership. */
static lm_status load(const breakage *k, const lm_load_params *p, lm_model **m, lm_error *err) {
    gb b = {0};
    build_model(&b, k);
    void *parts[1] = {b.data};
    size_t sizes[1] = {b.len};
    return lm_model_load_buffers(parts, sizes, 1, p, m, err);
}

static void expect_error(const char *what, const breakage *k, lm_status code, const char *part) {
    lm_model *m = NULL;
    lm_error err = {0};
    lm_status s = load(k, NULL, &m, &err);
    CHECK(s == code, "%s: got %s (%s)", what, lm_status_name(s), err.message);
    CHECK(strstr(err.message, part) != NULL, "%s: message '%s' lacks '%s'", what, err.message, part);
    CHECK(m == NULL, "%s: no model on failure", what);
    lm_model_free(m);
}

static void test_broken_models(void) {
    expect_error("missing key", &(breakage){.drop_key = "llama.embedding_length"}, LM_E_FORMAT,
                 "lacks required key 'llama.embedding_length'");
    expect_error("foreign architecture", &(breakage){.arch = "gptj"}, LM_E_UNSUPPORTED,
                 "unsupported architecture 'gptj'");
    expect_error("missing tensor", &(breakage){.drop_tensor = "blk.0.ffn_up.weight"}, LM_E_FORMAT,
                 "lacks tensor 'blk.0.ffn_up.weight'");
    expect_error("wrong shape", &(breakage){.odd_tensor = "blk.0.attn_k.weight", .odd_rows = 3}, LM_E_FORMAT,
                 "'blk.0.attn_k.weight' has shape [8, 3");
    expect_error("unsupported type", &(breakage){.odd_tensor = "blk.0.attn_q.weight", .odd_type = 24},
                 LM_E_UNSUPPORTED, "uses type I8");
    expect_error("heads do not divide", &(breakage){.head_count = 3}, LM_E_FORMAT, "do not divide");
    expect_error("split count mismatch", &(breakage){.split_count = 3}, LM_E_FORMAT, "split into 3 files");
}

static void test_memory_budget(void) {
    lm_load_params p = lm_load_params_default();
    p.memory_budget = 1024;
    lm_model *m = NULL;
    lm_error err;
    lm_status s = load(&(breakage){0}, &p, &m, &err);
    CHECK(s == LM_E_MEMORY && strstr(err.message, "model needs"), "budget: %s", err.message);
    lm_model_free(m);
}

static int count_pieces(void *user, const lm_piece *piece) {
    (*(int *)user)++;
    return 0;
}

static void test_generation(lm_model *m) {
    lm_context *ctx;
    lm_error err;
    CHECK(lm_context_new(m, 0, &ctx, &err) == LM_OK, "context: %s", err.message);
    CHECK(lm_context_size(ctx) == CTX, "context defaults to the trained size");
    lm_generate_params p = lm_generate_params_default();
    p.sampling.temperature = 0;
    p.max_tokens = 5;
    int pieces = 0;
    lm_generate_stats st;
    CHECK(lm_generate(ctx, "ab", &p, count_pieces, &pieces, &st, &err) == LM_OK, "generate: %s", err.message);
    CHECK(st.prompt_tokens >= 2 && st.gen_tokens >= 1 && st.gen_tokens <= 5, "stats %d %d", st.prompt_tokens,
          st.gen_tokens);

    /* Generating up to the end of the context stops there, keeping the text;
     * evaluating past it is a clean E_CONTEXT_FULL, never a write past the cache. */
    p.max_tokens = 100;
    p.ignore_eos = 1;
    lm_status s = lm_generate(ctx, "a", &p, NULL, NULL, &st, &err);
    CHECK(s == LM_OK && st.stopped_by == 4, "context full ends generation: %s (stopped_by %d)", lm_status_name(s),
          st.stopped_by);
    CHECK(lm_context_pos(ctx) == CTX, "the context is full (%d)", lm_context_pos(ctx));
    int32_t token = 1;
    CHECK(lm_eval(ctx, &token, 1, &err) == LM_E_CONTEXT_FULL, "eval when full");

    lm_context_reset(ctx);
    token = VOCAB;
    CHECK(lm_eval(ctx, &token, 1, &err) == LM_E_ARGUMENT && strstr(err.message, "out of range"), "bad token id");
    token = -1;
    CHECK(lm_eval(ctx, &token, 1, &err) == LM_E_ARGUMENT, "negative token id");

    p.max_tokens = 0;
    pieces = 0;
    CHECK(lm_generate(ctx, "a", &p, count_pieces, &pieces, &st, &err) == LM_OK && st.gen_tokens == 0,
          "max_tokens 0 generates nothing");

    const float *logits = lm_logits(ctx);
    int finite = 1;
    for (int i = 0; i < VOCAB; i++) finite &= isfinite(logits[i]) != 0;
    CHECK(finite, "logits are finite");
    lm_context_free(ctx);
}

static void test_info(lm_model *m) {
    const char *info = lm_model_info_json(m);
    CHECK(strstr(info, "\"architecture\":\"llama\"") != NULL, "info: %s", info);
    CHECK(strstr(info, "\"n_embd\":8") != NULL, "info hparams");
}

int main(void) {
    lm_model *m = NULL;
    lm_error err;
    CHECK(load(&(breakage){0}, NULL, &m, &err) == LM_OK, "valid tiny model: %s", err.message);
    if (m) {
        test_generation(m);
        test_info(m);
    }
    lm_model_free(m);
    test_broken_models();
    test_memory_budget();
    return check_done();
}
