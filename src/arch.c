/* What each model family adds to the common decoder: its hyper-parameter
 * keys and defaults, and which tensors each layer has. The semantics follow
 * llama.cpp (src/llama-model.cpp and the per-family graphs in src/models)
 * so that the same GGUF gives the same logits. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model.h"

static const struct {
    const char *name;
    lm_arch arch;
} families[] = {
    {"llama", LM_ARCH_LLAMA}, {"qwen2", LM_ARCH_QWEN2}, {"gemma", LM_ARCH_GEMMA},
    {"gemma2", LM_ARCH_GEMMA2}, {"gemma3", LM_ARCH_GEMMA3}, {"phi3", LM_ARCH_PHI3},
    {"gpt2", LM_ARCH_GPT2}, {"mpt", LM_ARCH_MPT}, {"bloom", LM_ARCH_BLOOM},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

lm_status lm_arch_from_name(lm_binder *b) {
    lm_hparams *hp = &b->model->hp;
    gguf_str arch;
    if (gguf_get_str(&b->model->files[0], "general.architecture", &arch) != 1)
        return lm_fail(b->err, LM_E_FORMAT, "model metadata lacks general.architecture");
    snprintf(hp->arch_name, sizeof hp->arch_name, "%.*s", (int)(arch.len > 31 ? 31 : arch.len), arch.ptr);
    snprintf(b->prefix, sizeof b->prefix, "%s.", hp->arch_name);
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (gguf_str_eq(arch, families[i].name)) {
            hp->arch = families[i].arch;
            return LM_OK;
        }
    char list[160] = "";
    for (size_t i = 0; i < N_FAMILIES; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", families[i].name);
    return lm_fail(b->err, LM_E_UNSUPPORTED, "unsupported architecture '%s' (supported: %s)", hp->arch_name,
                   list);
}

static int is_gemma(lm_arch a) { return a == LM_ARCH_GEMMA || a == LM_ARCH_GEMMA2 || a == LM_ARCH_GEMMA3; }
static int uses_alibi(lm_arch a) { return a == LM_ARCH_MPT || a == LM_ARCH_BLOOM; }
static int uses_layernorm(lm_arch a) { return a == LM_ARCH_GPT2 || uses_alibi(a); }
/* gpt2 and bloom have a bias on every norm and matrix (mpt's are optional). */
static int has_biases(lm_arch a) { return a == LM_ARCH_GPT2 || a == LM_ARCH_BLOOM; }

/* Gemma 2 and 3 scale queries by 1/sqrt(n_embd / n_head) in their 27B
 * models (recognised, as llama.cpp does, by the layer count), else by
 * 1/sqrt(head_dim). */
static float gemma_attn_scale(const lm_hparams *hp, int layers_27b) {
    const int per_head = hp->n_layer == layers_27b ? hp->n_embd / hp->n_head : hp->head_dim;
    return 1.0f / sqrtf((float)per_head);
}

static lm_status bind_sliding_window(lm_binder *b, int pattern, int32_t default_window) {
    lm_hparams *hp = &b->model->hp;
    lm_status s;
    hp->n_swa = default_window;
    hp->swa_pattern = pattern;
    if ((s = lm_bind_u32(b, "attention.sliding_window", default_window == 0, &hp->n_swa)) != LM_OK) return s;
    if (hp->n_swa <= 0) return lm_fail(b->err, LM_E_FORMAT, "sliding window %d is not positive", hp->n_swa);
    return LM_OK;
}

lm_status lm_arch_bind_hparams(lm_binder *b) {
    lm_hparams *hp = &b->model->hp;
    const lm_arch a = hp->arch;
    lm_status s;
    hp->rope_neox = a == LM_ARCH_QWEN2 || is_gemma(a) || a == LM_ARCH_PHI3;
    hp->norm = uses_layernorm(a) ? LM_NORM_LAYER : LM_NORM_RMS;
    hp->ffn = is_gemma(a) ? LM_FFN_GEGLU : uses_layernorm(a) ? LM_FFN_GELU : LM_FFN_SWIGLU;
    hp->pos = a == LM_ARCH_GPT2 ? LM_POS_LEARNED : uses_alibi(a) ? LM_POS_ALIBI : LM_POS_ROPE;
    if (is_gemma(a)) hp->embd_scale = sqrtf((float)hp->n_embd);
    if (a == LM_ARCH_GEMMA2) {
        hp->attn_softcap = 50.0f;
        hp->final_softcap = 30.0f;
        if ((s = bind_sliding_window(b, 2, 4096)) != LM_OK ||
            (s = lm_bind_f32(b, "attn_logit_softcapping", &hp->attn_softcap)) != LM_OK ||
            (s = lm_bind_f32(b, "final_logit_softcapping", &hp->final_softcap)) != LM_OK)
            return s;
        if (hp->attn_softcap <= 0 || hp->final_softcap <= 0)
            return lm_fail(b->err, LM_E_FORMAT, "soft-capping values %g/%g are not positive", hp->attn_softcap,
                           hp->final_softcap);
        hp->attn_scale = gemma_attn_scale(hp, 46);
    }
    if (a == LM_ARCH_GEMMA3) {
        if ((s = bind_sliding_window(b, 6, 0)) != LM_OK) return s;
        hp->rope_base_swa = 10000.0f; /* local layers: fixed base, no scaling */
        hp->rope_freq_scale_swa = 1.0f;
        hp->attn_scale = gemma_attn_scale(hp, 62);
    }
    if (a == LM_ARCH_PHI3) {
        /* llama.cpp ignores phi3's sliding window (its converters mislabel
         * it), so we do too: every layer is global. */
        hp->n_ctx_orig = hp->n_ctx_train;
        if ((s = lm_bind_u32(b, "rope.scaling.original_context_length", 0, &hp->n_ctx_orig)) != LM_OK) return s;
    }
    if (uses_alibi(a)) {
        hp->alibi_bias_max = 8.0f;
        if ((s = lm_bind_f32(b, "attention.max_alibi_bias", &hp->alibi_bias_max)) != LM_OK ||
            (a == LM_ARCH_MPT && (s = lm_bind_f32(b, "attention.clamp_kqv", &hp->clamp_kqv)) != LM_OK))
            return s;
    }
    return LM_OK;
}

lm_status lm_arch_bind_globals(lm_binder *b) {
    lm_model *m = b->model;
    const lm_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd;
    lm_status s;
    if (hp->norm == LM_NORM_LAYER &&
        (s = lm_bind_vector(b, "output_norm.bias", d, has_biases(hp->arch), &m->output_norm_b)) != LM_OK)
        return s;
    if (hp->arch == LM_ARCH_BLOOM &&
        ((s = lm_bind_vector(b, "token_embd_norm.weight", d, 1, &m->tok_embd_norm)) != LM_OK ||
         (s = lm_bind_vector(b, "token_embd_norm.bias", d, 1, &m->tok_embd_norm_b)) != LM_OK))
        return s;
    if (hp->pos == LM_POS_LEARNED &&
        (s = lm_bind_matrix(b, "position_embd.weight", d, hp->n_ctx_train, 1, &m->pos_embd)) != LM_OK)
        return s;
    if (hp->arch == LM_ARCH_PHI3) {
        if ((s = lm_bind_vector(b, "rope_factors_long.weight", hp->n_rot / 2, 0, &m->rope_long)) != LM_OK) return s;
        return lm_bind_vector(b, "rope_factors_short.weight", hp->n_rot / 2, 0, &m->rope_short);
    }
    if (hp->pos == LM_POS_ROPE)
        return lm_bind_vector(b, "rope_freqs.weight", hp->n_rot / 2, 0, &m->rope_freqs);
    return LM_OK;
}

/* The name of layer il's tensor `suffix`, in the caller's buffer `name`. */
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)

/* Q, K and V: three matrices, or one fused [q; k; v] (phi3 may have either,
 * the LayerNorm families always fuse them). */
static lm_status bind_qkv(lm_binder *b, int il, lm_layer *l) {
    const lm_hparams *hp = &b->model->hp;
    const int64_t d = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim,
                  kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const lm_arch a = hp->arch;
    const int fused_only = uses_layernorm(a), qkv_bias = has_biases(a);
    char name[96];
    lm_status s;
    if (fused_only || a == LM_ARCH_PHI3) {
        if ((s = lm_bind_matrix(b, NAME("attn_qkv.weight"), d, q_dim + 2 * kv_dim, fused_only, &l->wqkv)) != LM_OK ||
            (s = lm_bind_vector(b, NAME("attn_qkv.bias"), q_dim + 2 * kv_dim, qkv_bias, &l->bqkv)) != LM_OK)
            return s;
        if (l->wqkv.data) return LM_OK;
    }
    const int biased = a == LM_ARCH_QWEN2;
    if ((s = lm_bind_matrix(b, NAME("attn_q.weight"), d, q_dim, 1, &l->wq)) != LM_OK ||
        (s = lm_bind_matrix(b, NAME("attn_k.weight"), d, kv_dim, 1, &l->wk)) != LM_OK ||
        (s = lm_bind_matrix(b, NAME("attn_v.weight"), d, kv_dim, 1, &l->wv)) != LM_OK ||
        (s = lm_bind_vector(b, NAME("attn_q.bias"), q_dim, biased, &l->bq)) != LM_OK ||
        (s = lm_bind_vector(b, NAME("attn_k.bias"), kv_dim, biased, &l->bk)) != LM_OK ||
        (s = lm_bind_vector(b, NAME("attn_v.bias"), kv_dim, biased, &l->bv)) != LM_OK)
        return s;
    return LM_OK;
}

static lm_status bind_ffn(lm_binder *b, int il, lm_layer *l) {
    const lm_hparams *hp = &b->model->hp;
    const int64_t d = hp->n_embd, ff = hp->n_ff;
    const int biases = has_biases(hp->arch);
    char name[96];
    lm_status s;
    if (hp->arch == LM_ARCH_PHI3) { /* gate and up in one matrix, gate rows first */
        l->fused_up = 1;
        if ((s = lm_bind_matrix(b, NAME("ffn_up.weight"), d, 2 * ff, 1, &l->w_up)) != LM_OK) return s;
    } else if ((s = lm_bind_matrix(b, NAME("ffn_up.weight"), d, ff, 1, &l->w_up)) != LM_OK) {
        return s;
    }
    if (hp->ffn != LM_FFN_GELU && !l->fused_up &&
        (s = lm_bind_matrix(b, NAME("ffn_gate.weight"), d, ff, 1, &l->w_gate)) != LM_OK)
        return s;
    if ((s = lm_bind_matrix(b, NAME("ffn_down.weight"), ff, d, 1, &l->w_down)) != LM_OK) return s;
    if (!uses_layernorm(hp->arch)) return LM_OK;
    if ((s = lm_bind_vector(b, NAME("ffn_up.bias"), ff, biases, &l->b_up)) != LM_OK ||
        (s = lm_bind_vector(b, NAME("ffn_down.bias"), d, biases, &l->b_down)) != LM_OK)
        return s;
    return LM_OK;
}

static lm_status bind_norms(lm_binder *b, int il, lm_layer *l) {
    const lm_hparams *hp = &b->model->hp;
    const int64_t d = hp->n_embd;
    const int gemma23 = hp->arch == LM_ARCH_GEMMA2 || hp->arch == LM_ARCH_GEMMA3;
    const int norm_bias = has_biases(hp->arch);
    char name[96];
    lm_status s;
    if ((s = lm_bind_vector(b, NAME("attn_norm.weight"), d, 1, &l->attn_norm)) != LM_OK ||
        (s = lm_bind_vector(b, NAME("ffn_norm.weight"), d, 1, &l->ffn_norm)) != LM_OK ||
        (gemma23 && (s = lm_bind_vector(b, NAME("post_attention_norm.weight"), d, 1, &l->attn_post_norm)) != LM_OK) ||
        (gemma23 && (s = lm_bind_vector(b, NAME("post_ffw_norm.weight"), d, 1, &l->ffn_post_norm)) != LM_OK))
        return s;
    if (hp->norm == LM_NORM_LAYER &&
        ((s = lm_bind_vector(b, NAME("attn_norm.bias"), d, norm_bias, &l->attn_norm_b)) != LM_OK ||
         (s = lm_bind_vector(b, NAME("ffn_norm.bias"), d, norm_bias, &l->ffn_norm_b)) != LM_OK))
        return s;
    if (hp->arch == LM_ARCH_GEMMA3 &&
        ((s = lm_bind_vector(b, NAME("attn_q_norm.weight"), hp->head_dim, 1, &l->q_norm)) != LM_OK ||
         (s = lm_bind_vector(b, NAME("attn_k_norm.weight"), hp->head_dim, 1, &l->k_norm)) != LM_OK))
        return s;
    if (hp->arch == LM_ARCH_MPT && gguf_find_tensor(&b->model->files[0], NAME("attn_q_norm.weight")))
        return lm_fail(b->err, LM_E_UNSUPPORTED, "mpt with q/k LayerNorm ('%s') is not supported", name);
    return LM_OK;
}

lm_status lm_arch_bind_layer(lm_binder *b, int il, lm_layer *l) {
    const lm_hparams *hp = &b->model->hp;
    const int64_t d = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int out_bias = has_biases(hp->arch);
    char name[96];
    lm_status s;
    /* Every swa_pattern-th layer is global, the others slide. */
    l->swa = hp->swa_pattern > 0 && il % hp->swa_pattern < hp->swa_pattern - 1;
    if ((s = bind_norms(b, il, l)) != LM_OK || (s = bind_qkv(b, il, l)) != LM_OK ||
        (s = lm_bind_matrix(b, NAME("attn_output.weight"), q_dim, d, 1, &l->wo)) != LM_OK ||
        (s = bind_ffn(b, il, l)) != LM_OK)
        return s;
    if (uses_layernorm(hp->arch) &&
        (s = lm_bind_vector(b, NAME("attn_output.bias"), d, out_bias, &l->bo)) != LM_OK)
        return s;
#undef NAME
    return LM_OK;
}

const char *lm_arch_family(lm_arch arch) {
    static const char *const labels[] = {
        [LM_ARCH_LLAMA] = "Llama", [LM_ARCH_QWEN2] = "Qwen2", [LM_ARCH_GEMMA] = "Gemma",
        [LM_ARCH_GEMMA2] = "Gemma 2", [LM_ARCH_GEMMA3] = "Gemma 3", [LM_ARCH_PHI3] = "Phi-3",
        [LM_ARCH_GPT2] = "GPT-2", [LM_ARCH_MPT] = "MPT", [LM_ARCH_BLOOM] = "BLOOM",
    };
    return labels[arch];
}

int lm_arch_features(const lm_model *m, const char **names, int max) {
    const lm_hparams *hp = &m->hp;
    const lm_layer *l0 = m->layers;
    const char *all[16];
    int n = 0;
    if (hp->n_swa) all[n++] = "sliding-window";
    if (hp->attn_softcap > 0 || hp->final_softcap > 0) all[n++] = "softcap";
    if (l0 && l0->q_norm) all[n++] = "qk-norm";
    if (l0 && l0->attn_post_norm) all[n++] = "post-norm";
    if (hp->pos == LM_POS_ALIBI) all[n++] = "alibi";
    if (hp->pos == LM_POS_LEARNED) all[n++] = "learned-positions";
    if (l0 && l0->wqkv.data) all[n++] = "fused-qkv";
    if (l0 && l0->fused_up) all[n++] = "fused-gate-up";
    if (hp->embd_scale != 1.0f) all[n++] = "embedding-scale";
    if (hp->norm == LM_NORM_LAYER) all[n++] = "layernorm";
    all[n++] = hp->ffn == LM_FFN_SWIGLU ? "swiglu" : hp->ffn == LM_FFN_GEGLU ? "geglu" : "gelu";
    if (m->rope_long || m->rope_short || m->rope_freqs) all[n++] = "rope-factors";
    if (hp->n_head_kv != hp->n_head) all[n++] = "gqa";
    for (int i = 0; i < n && i < max; i++) names[i] = all[i];
    return n < max ? n : max;
}
