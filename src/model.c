/* Binds a parsed GGUF to the graph: reads the hyper-parameters every family
 * shares, finds every tensor (arch.c says which), and checks each shape and
 * type before anything is evaluated. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "quant.h"

static const gguf_tensor *find_tensor(const lm_model *m, const char *name) {
    for (int i = 0; i < m->n_parts; i++) {
        const gguf_tensor *t = gguf_find_tensor(&m->files[i], name);
        if (t) return t;
    }
    return NULL;
}

lm_status lm_bind_u32(lm_binder *b, const char *suffix, int required, int32_t *out) {
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

lm_status lm_bind_f32(lm_binder *b, const char *suffix, float *out) {
    char key[96];
    snprintf(key, sizeof key, "%s%s", b->prefix, suffix);
    int r = gguf_get_f32(&b->model->files[0], key, out);
    if (r < 0 || (r > 0 && !isfinite(*out)))
        return lm_fail(b->err, LM_E_FORMAT, "model metadata key '%s' is not a valid number", key);
    return LM_OK;
}

static lm_status read_rope_scaling(lm_binder *b) {
    lm_hparams *hp = &b->model->hp;
    char key[96];
    gguf_str type;
    float factor = 0;
    lm_status s;
    hp->rope_freq_scale = 1.0f;
    hp->rope_attn_factor = 1.0f; /* llama.cpp scales cos/sin by it (phi3 LongRoPE sets it) */
    if ((s = lm_bind_f32(b, "rope.scaling.attn_factor", &hp->rope_attn_factor)) != LM_OK) return s;
    snprintf(key, sizeof key, "%srope.scaling.type", b->prefix);
    int has_type = gguf_get_str(&b->model->files[0], key, &type) == 1;
    if ((s = lm_bind_f32(b, "rope.scaling.factor", &factor)) != LM_OK) return s;
    /* phi3's LongRoPE is its rope_factors tensors, bound by arch.c. */
    if (has_type && !gguf_str_eq(type, "none") && !gguf_str_eq(type, "linear") &&
        !(hp->arch == LM_ARCH_PHI3 && gguf_str_eq(type, "longrope")))
        return lm_fail(b->err, LM_E_UNSUPPORTED, "unsupported RoPE scaling '%.*s' (supported: none, linear)",
                       (int)(type.len > 32 ? 32 : type.len), type.ptr);
    if (has_type && gguf_str_eq(type, "longrope")) return LM_OK;
    if (factor <= 0 && (s = lm_bind_f32(b, "rope.scale_linear", &factor)) != LM_OK) return s;
    if (factor > 0) hp->rope_freq_scale = 1.0f / factor;
    return LM_OK;
}

/* Head size: attention.key_length when given (gemma's heads are wider than
 * n_embd / n_head), which value_length must then equal. */
static lm_status read_head_dim(lm_binder *b) {
    lm_hparams *hp = &b->model->hp;
    int32_t k = 0, v = 0;
    lm_status s;
    if ((s = lm_bind_u32(b, "attention.key_length", 0, &k)) != LM_OK ||
        (s = lm_bind_u32(b, "attention.value_length", 0, &v)) != LM_OK)
        return s;
    if (k > 0 || v > 0) {
        if (k <= 0 || (v > 0 && v != k) || k > 4096)
            return lm_fail(b->err, LM_E_UNSUPPORTED, "attention key length %d and value length %d differ "
                           "or are out of range", k, v);
        hp->head_dim = k;
        return LM_OK;
    }
    if (hp->n_embd % hp->n_head != 0)
        return lm_fail(b->err, LM_E_FORMAT, "%d heads do not divide n_embd %d", hp->n_head, hp->n_embd);
    hp->head_dim = hp->n_embd / hp->n_head;
    return LM_OK;
}

static lm_status read_hparams(lm_binder *b) {
    lm_hparams *hp = &b->model->hp;
    lm_status s;
    if ((s = lm_arch_from_name(b)) != LM_OK) return s;
    hp->n_ctx_train = 2048;
    hp->norm_eps = 1e-5f;
    hp->rope_base = 10000.0f;
    if ((s = lm_bind_u32(b, "embedding_length", 1, &hp->n_embd)) != LM_OK ||
        (s = lm_bind_u32(b, "block_count", 1, &hp->n_layer)) != LM_OK ||
        (s = lm_bind_u32(b, "feed_forward_length", 1, &hp->n_ff)) != LM_OK ||
        (s = lm_bind_u32(b, "attention.head_count", 1, &hp->n_head)) != LM_OK ||
        (s = lm_bind_u32(b, "context_length", 0, &hp->n_ctx_train)) != LM_OK)
        return s;
    hp->n_head_kv = hp->n_head;
    if ((s = lm_bind_u32(b, "attention.head_count_kv", 0, &hp->n_head_kv)) != LM_OK) return s;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_head <= 0 ||
        hp->n_head_kv <= 0 || hp->n_ctx_train <= 0 || hp->n_layer > 4096 || hp->n_head > 4096 ||
        hp->n_embd > (1 << 20) || hp->n_ff > (1 << 22))
        return lm_fail(b->err, LM_E_FORMAT, "model hyper-parameters out of range (n_embd %d, layers %d, "
                       "ffn %d, heads %d/%d, context %d)", hp->n_embd, hp->n_layer, hp->n_ff,
                       hp->n_head, hp->n_head_kv, hp->n_ctx_train);
    if (hp->n_head % hp->n_head_kv != 0)
        return lm_fail(b->err, LM_E_FORMAT, "head count %d is not a multiple of the KV head count %d",
                       hp->n_head, hp->n_head_kv);
    if ((s = read_head_dim(b)) != LM_OK) return s;
    hp->n_rot = hp->head_dim;
    if ((s = lm_bind_u32(b, "rope.dimension_count", 0, &hp->n_rot)) != LM_OK) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return lm_fail(b->err, LM_E_FORMAT, "rope.dimension_count %d does not fit head size %d",
                       hp->n_rot, hp->head_dim);
    if ((s = lm_bind_f32(b, "attention.layer_norm_rms_epsilon", &hp->norm_eps)) != LM_OK ||
        (s = lm_bind_f32(b, "attention.layer_norm_epsilon", &hp->norm_eps)) != LM_OK ||
        (s = lm_bind_f32(b, "rope.freq_base", &hp->rope_base)) != LM_OK)
        return s;
    if (hp->norm_eps < 0 || hp->rope_base <= 0)
        return lm_fail(b->err, LM_E_FORMAT, "invalid norm epsilon %g or rope base %g", hp->norm_eps,
                       hp->rope_base);
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = 1.0f;
    if ((s = read_rope_scaling(b)) != LM_OK) return s;
    hp->rope_base_swa = hp->rope_base;
    hp->rope_freq_scale_swa = hp->rope_freq_scale;
    return lm_arch_bind_hparams(b);
}

/* Finds a tensor and checks its shape: ne0 columns by ne1 rows (ne1 = 1 for
 * vectors). */
static lm_status find_checked(lm_binder *b, const char *name, int64_t ne0, int64_t ne1, int required,
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

lm_status lm_bind_matrix(lm_binder *b, const char *name, int64_t cols, int64_t rows, int required,
                         lm_matrix *out) {
    const gguf_tensor *t;
    lm_status s = find_checked(b, name, cols, rows, required, &t);
    if (s != LM_OK || !t) return s;
    *out = (lm_matrix){t->type, rows, cols, t->data, lm_row_bytes(t->type, cols)};
    b->model->weight_bytes += t->nbytes;
    return LM_OK;
}

/* 1-D tensors are small: convert them to f32 whatever their stored type. */
lm_status lm_bind_vector(lm_binder *b, const char *name, int64_t n, int required, float **out) {
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

static lm_status bind_tensors(lm_binder *b) {
    lm_model *m = b->model;
    const lm_hparams *hp = &m->hp;
    lm_status s;
    if ((s = lm_bind_matrix(b, "token_embd.weight", hp->n_embd, hp->n_vocab, 1, &m->tok_embd)) != LM_OK ||
        (s = lm_bind_vector(b, "output_norm.weight", hp->n_embd, 1, &m->output_norm)) != LM_OK ||
        (s = lm_bind_matrix(b, "output.weight", hp->n_embd, hp->n_vocab, 0, &m->output)) != LM_OK ||
        (s = lm_arch_bind_globals(b)) != LM_OK)
        return s;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    if (!(m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers)))
        return lm_fail(b->err, LM_E_MEMORY, "out of memory for %d layers", hp->n_layer);
    for (int i = 0; i < hp->n_layer; i++)
        if ((s = lm_arch_bind_layer(b, i, &m->layers[i])) != LM_OK) return s;
    return LM_OK;
}

void lm_model_free_vectors(lm_model *m) {
    if (m->layers)
        for (int i = 0; i < m->hp.n_layer; i++) {
            lm_layer *l = &m->layers[i];
            float **vecs[] = {&l->attn_norm, &l->attn_norm_b, &l->ffn_norm, &l->ffn_norm_b,
                              &l->attn_post_norm, &l->ffn_post_norm, &l->q_norm, &l->k_norm,
                              &l->bq, &l->bk, &l->bv, &l->bqkv, &l->bo, &l->b_up, &l->b_down};
            for (size_t j = 0; j < sizeof vecs / sizeof vecs[0]; j++) free(*vecs[j]), *vecs[j] = NULL;
        }
    float **globals[] = {&m->tok_embd_norm, &m->tok_embd_norm_b, &m->output_norm, &m->output_norm_b,
                         &m->rope_freqs, &m->rope_long, &m->rope_short};
    for (size_t j = 0; j < sizeof globals / sizeof globals[0]; j++) free(*globals[j]), *globals[j] = NULL;
}

uint64_t lm_context_bytes(const lm_hparams *hp, int32_t n_ctx) {
    const uint64_t kv_dim = (uint64_t)hp->n_head_kv * hp->head_dim, q_dim = (uint64_t)hp->n_head * hp->head_dim;
    const uint64_t kv = 2ull * hp->n_layer * (uint64_t)n_ctx * kv_dim * sizeof(float);
    uint64_t widest = (uint64_t)(hp->n_ff > hp->n_embd ? hp->n_ff : hp->n_embd);
    if (q_dim > widest) widest = q_dim;
    /* x, xb, q, att, gate, up, plus up to three quantized copies of a batch. */
    const uint64_t scratch = (uint64_t)LM_MAX_BATCH * (8 * widest + 4 * kv_dim) * sizeof(float) +
                             (uint64_t)hp->n_vocab * sizeof(float) * 2 +
                             (uint64_t)hp->n_head * n_ctx * sizeof(float) +
                             (hp->ffn != LM_FFN_SWIGLU ? 65536 * sizeof(uint16_t) : 0); /* GELU table */
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
    lm_binder b = {m, err, ""};
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
