/* Binds a parsed GGUF to the llama/qwen2 graph: reads hyper-parameters,
 * finds every tensor, and checks each shape and type against what the
 * architecture needs before anything is evaluated. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"

typedef struct binder {
    lm_model *model;
    lm_error *err;
    char prefix[40]; /* "llama." */
} binder;

static const gguf_tensor *find_tensor(const lm_model *m, const char *name) {
    for (int i = 0; i < m->n_parts; i++) {
        const gguf_tensor *t = gguf_find_tensor(&m->files[i], name);
        if (t) return t;
    }
    return NULL;
}

static lm_status get_u32(binder *b, const char *suffix, int required, int32_t *out) {
    char key[96];
    uint32_t v;
    snprintf(key, sizeof key, "%s%s", b->prefix, suffix);
    int r = gguf_get_u32(&b->model->files[0], key, &v);
    if (r == 0 && !required) return LM_OK;
    if (r == 0) return lm_fail(b->err, LM_E_FORMAT, "model metadata lacks required key '%s'", key);
    if (r < 0 || v > INT32_MAX)
        return lm_fail(b->err, LM_E_FORMAT, "model metadata key '%s' is not a valid integer", key);
    *out = (int32_t)v;
    return LM_OK;
}

static lm_status get_f32(binder *b, const char *suffix, float *out) {
    char key[96];
    snprintf(key, sizeof key, "%s%s", b->prefix, suffix);
    int r = gguf_get_f32(&b->model->files[0], key, out);
    if (r < 0 || (r > 0 && !isfinite(*out)))
        return lm_fail(b->err, LM_E_FORMAT, "model metadata key '%s' is not a valid number", key);
    return LM_OK;
}

static lm_status read_arch(binder *b) {
    lm_hparams *hp = &b->model->hp;
    gguf_str arch;
    if (gguf_get_str(&b->model->files[0], "general.architecture", &arch) != 1)
        return lm_fail(b->err, LM_E_FORMAT, "model metadata lacks general.architecture");
    snprintf(hp->arch_name, sizeof hp->arch_name, "%.*s", (int)(arch.len > 31 ? 31 : arch.len), arch.ptr);
    if (gguf_str_eq(arch, "llama")) hp->arch = LM_ARCH_LLAMA;
    else if (gguf_str_eq(arch, "qwen2")) hp->arch = LM_ARCH_QWEN2;
    else
        return lm_fail(b->err, LM_E_UNSUPPORTED,
                       "unsupported architecture '%s' (supported: llama, qwen2)", hp->arch_name);
    snprintf(b->prefix, sizeof b->prefix, "%s.", hp->arch_name);
    hp->rope_neox = hp->arch == LM_ARCH_QWEN2;
    return LM_OK;
}

static lm_status read_rope_scaling(binder *b) {
    lm_hparams *hp = &b->model->hp;
    char key[96];
    gguf_str type;
    float factor = 0;
    lm_status s;
    hp->rope_freq_scale = 1.0f;
    snprintf(key, sizeof key, "%srope.scaling.type", b->prefix);
    int has_type = gguf_get_str(&b->model->files[0], key, &type) == 1;
    if ((s = get_f32(b, "rope.scaling.factor", &factor)) != LM_OK) return s;
    if (has_type && !gguf_str_eq(type, "none") && !gguf_str_eq(type, "linear"))
        return lm_fail(b->err, LM_E_UNSUPPORTED, "unsupported RoPE scaling '%.*s' (supported: none, linear)",
                       (int)(type.len > 32 ? 32 : type.len), type.ptr);
    if (factor <= 0 && (s = get_f32(b, "rope.scale_linear", &factor)) != LM_OK) return s;
    if (factor > 0) hp->rope_freq_scale = 1.0f / factor;
    return LM_OK;
}

static lm_status read_hparams(binder *b) {
    lm_hparams *hp = &b->model->hp;
    lm_status s;
    if ((s = read_arch(b)) != LM_OK) return s;
    hp->n_ctx_train = 2048;
    hp->norm_eps = 1e-5f;
    hp->rope_base = 10000.0f;
    if ((s = get_u32(b, "embedding_length", 1, &hp->n_embd)) != LM_OK ||
        (s = get_u32(b, "block_count", 1, &hp->n_layer)) != LM_OK ||
        (s = get_u32(b, "feed_forward_length", 1, &hp->n_ff)) != LM_OK ||
        (s = get_u32(b, "attention.head_count", 1, &hp->n_head)) != LM_OK ||
        (s = get_u32(b, "context_length", 0, &hp->n_ctx_train)) != LM_OK)
        return s;
    hp->n_head_kv = hp->n_head;
    if ((s = get_u32(b, "attention.head_count_kv", 0, &hp->n_head_kv)) != LM_OK) return s;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_head <= 0 ||
        hp->n_head_kv <= 0 || hp->n_ctx_train <= 0 || hp->n_layer > 4096 || hp->n_head > 4096)
        return lm_fail(b->err, LM_E_FORMAT, "model hyper-parameters out of range (n_embd %d, layers %d, "
                       "ffn %d, heads %d/%d, context %d)", hp->n_embd, hp->n_layer, hp->n_ff,
                       hp->n_head, hp->n_head_kv, hp->n_ctx_train);
    if (hp->n_embd % hp->n_head != 0 || hp->n_head % hp->n_head_kv != 0)
        return lm_fail(b->err, LM_E_FORMAT, "head counts %d/%d do not divide n_embd %d",
                       hp->n_head, hp->n_head_kv, hp->n_embd);
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_rot = hp->head_dim;
    if ((s = get_u32(b, "rope.dimension_count", 0, &hp->n_rot)) != LM_OK) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return lm_fail(b->err, LM_E_FORMAT, "rope.dimension_count %d does not fit head size %d",
                       hp->n_rot, hp->head_dim);
    if ((s = get_f32(b, "attention.layer_norm_rms_epsilon", &hp->norm_eps)) != LM_OK ||
        (s = get_f32(b, "rope.freq_base", &hp->rope_base)) != LM_OK)
        return s;
    if (hp->norm_eps < 0 || hp->rope_base <= 0)
        return lm_fail(b->err, LM_E_FORMAT, "invalid norm epsilon %g or rope base %g", hp->norm_eps,
                       hp->rope_base);
    return read_rope_scaling(b);
}

/* Finds a tensor and checks its shape: ne0 columns by ne1 rows (ne1 = 1 for
 * vectors). */
static lm_status find_checked(binder *b, const char *name, int64_t ne0, int64_t ne1, int required,
                              const gguf_tensor **out) {
    const gguf_tensor *t = find_tensor(b->model, name);
    *out = t;
    if (!t) return required ? lm_fail(b->err, LM_E_FORMAT, "model lacks tensor '%s'", name) : LM_OK;
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return lm_fail(b->err, LM_E_FORMAT,
                       "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    const lm_type_traits *tt = lm_type_info(t->type);
    if (!tt->supported)
        return lm_fail(b->err, LM_E_UNSUPPORTED, "tensor '%s' uses type %s, which localm does not run",
                       name, tt->name);
    return LM_OK;
}

static lm_status bind_matrix(binder *b, const char *name, int64_t cols, int64_t rows, int required,
                             lm_matrix *out) {
    const gguf_tensor *t;
    lm_status s = find_checked(b, name, cols, rows, required, &t);
    if (s != LM_OK || !t) return s;
    *out = (lm_matrix){t->type, rows, cols, t->data, lm_row_bytes(t->type, cols)};
    b->model->weight_bytes += t->nbytes;
    return LM_OK;
}

/* 1-D tensors are small: convert them to f32 whatever their stored type. */
static lm_status bind_vector(binder *b, const char *name, int64_t n, int required, float **out) {
    const gguf_tensor *t;
    *out = NULL;
    lm_status s = find_checked(b, name, n, 1, required, &t);
    if (s != LM_OK || !t) return s;
    if (!(*out = malloc((size_t)n * sizeof(float))))
        return lm_fail(b->err, LM_E_MEMORY, "out of memory for tensor '%s'", name);
    lm_dequantize_row(t->type, t->data, *out, n);
    b->model->weight_bytes += t->nbytes;
    return LM_OK;
}

static lm_status bind_layer(binder *b, int i, lm_layer *l) {
    const lm_hparams *hp = &b->model->hp;
    const int64_t d = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim,
                  kv_dim = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    const int biased = hp->arch == LM_ARCH_QWEN2;
    char name[96];
    lm_status s;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d.%s", i, suffix), name)
    if ((s = bind_vector(b, NAME("attn_norm.weight"), d, 1, &l->attn_norm)) != LM_OK ||
        (s = bind_vector(b, NAME("ffn_norm.weight"), d, 1, &l->ffn_norm)) != LM_OK ||
        (s = bind_matrix(b, NAME("attn_q.weight"), d, q_dim, 1, &l->wq)) != LM_OK ||
        (s = bind_matrix(b, NAME("attn_k.weight"), d, kv_dim, 1, &l->wk)) != LM_OK ||
        (s = bind_matrix(b, NAME("attn_v.weight"), d, kv_dim, 1, &l->wv)) != LM_OK ||
        (s = bind_matrix(b, NAME("attn_output.weight"), q_dim, d, 1, &l->wo)) != LM_OK ||
        (s = bind_matrix(b, NAME("ffn_gate.weight"), d, ff, 1, &l->w_gate)) != LM_OK ||
        (s = bind_matrix(b, NAME("ffn_up.weight"), d, ff, 1, &l->w_up)) != LM_OK ||
        (s = bind_matrix(b, NAME("ffn_down.weight"), ff, d, 1, &l->w_down)) != LM_OK ||
        (s = bind_vector(b, NAME("attn_q.bias"), q_dim, biased, &l->bq)) != LM_OK ||
        (s = bind_vector(b, NAME("attn_k.bias"), kv_dim, biased, &l->bk)) != LM_OK ||
        (s = bind_vector(b, NAME("attn_v.bias"), kv_dim, biased, &l->bv)) != LM_OK)
        return s;
#undef NAME
    return LM_OK;
}

static lm_status bind_tensors(binder *b) {
    lm_model *m = b->model;
    const lm_hparams *hp = &m->hp;
    lm_status s;
    if ((s = bind_matrix(b, "token_embd.weight", hp->n_embd, hp->n_vocab, 1, &m->tok_embd)) != LM_OK ||
        (s = bind_vector(b, "output_norm.weight", hp->n_embd, 1, &m->output_norm)) != LM_OK ||
        (s = bind_matrix(b, "output.weight", hp->n_embd, hp->n_vocab, 0, &m->output)) != LM_OK ||
        (s = bind_vector(b, "rope_freqs.weight", hp->n_rot / 2, 0, &m->rope_freqs)) != LM_OK)
        return s;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if (!(m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers)))
        return lm_fail(b->err, LM_E_MEMORY, "out of memory for %d layers", hp->n_layer);
    for (int i = 0; i < hp->n_layer; i++)
        if ((s = bind_layer(b, i, &m->layers[i])) != LM_OK) return s;
    return LM_OK;
}

uint64_t lm_context_bytes(const lm_hparams *hp, int32_t n_ctx) {
    const uint64_t kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim;
    const uint64_t kv = 2ull * hp->n_layer * (uint64_t)n_ctx * kv_dim * sizeof(float);
    const uint64_t widest = (uint64_t)(hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd);
    const uint64_t scratch = (uint64_t)LM_MAX_BATCH * (6 * widest + 2 * kv_dim) * sizeof(float) +
                             (uint64_t)hp->n_vocab * sizeof(float) * 2 +
                             (uint64_t)hp->n_head * n_ctx * sizeof(float);
    return kv + scratch;
}

static lm_status check_memory(lm_model *m, const lm_load_params *params, lm_error *err) {
    const uint64_t need = m->weight_bytes + lm_context_bytes(&m->hp, m->n_ctx_default);
    uint64_t budget = params->memory_budget;
    if (sizeof(void *) == 4) {
        const uint64_t addressable = 4ull << 30;
        if (!budget || budget > addressable) budget = addressable;
    }
    if (budget && need > budget)
        return lm_fail(err, LM_E_MEMORY,
                       "model needs %.1f MiB (weights %.1f MiB + context of %d tokens %.1f MiB) but only "
                       "%.1f MiB are available",
                       need / 1048576.0, m->weight_bytes / 1048576.0, m->n_ctx_default,
                       lm_context_bytes(&m->hp, m->n_ctx_default) / 1048576.0, budget / 1048576.0);
    return LM_OK;
}

static void detect_chat_style(lm_model *m) {
    gguf_str tmpl;
    char *text = NULL;
    if (gguf_get_str(&m->files[0], "tokenizer.chat_template", &tmpl) == 1 &&
        (text = malloc(tmpl.len + 1))) {
        memcpy(text, tmpl.ptr, tmpl.len);
        text[tmpl.len] = 0;
    }
    m->chat_style = lm_chat_detect(text, &m->chat_style_known);
    free(text);
}

lm_status lm_model_bind(lm_model *m, const lm_load_params *params, lm_error *err) {
    binder b = {m, err, ""};
    lm_status s;
    m->vocab_only = params->vocab_only;
    if (!m->vocab_only && (s = read_hparams(&b)) != LM_OK) return s;
    if ((s = lm_vocab_load(&m->files[0], &m->vocab, err)) != LM_OK) return s;
    m->hp.n_vocab = lm_vocab_size(m->vocab);
    detect_chat_style(m);
    if (m->vocab_only) return LM_OK;
    if ((s = bind_tensors(&b)) != LM_OK) return s;
    m->n_ctx_default = params->n_ctx > 0 ? params->n_ctx
                       : (m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096);
    return check_memory(m, params, err);
}
