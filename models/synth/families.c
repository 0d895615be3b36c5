/* The model families beyond llama and qwen2 (gemma, gemma2, gemma3, phi3,
 * gpt2, mpt, bloom): their extra metadata and their tensor lists, with the
 * names and shapes llama.cpp loads. The weights follow weights.c's plan
 * (each token's successor wins, the layers move every other logit), with
 * layer gains relative to the residual stream each family starts from. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "synth.h"

typedef enum { FAM_GEMMA, FAM_GEMMA2, FAM_GEMMA3, FAM_PHI3, FAM_GPT2, FAM_MPT, FAM_BLOOM, FAM_NONE } family;

static const char *const family_names[] = {"gemma", "gemma2", "gemma3", "phi3", "gpt2", "mpt", "bloom"};

/* Small enough that the 32-step parity runs cross it; Gemma 3 1B's own
 * (512) for its benchmark shape. */
static uint32_t sliding_window(const synth_model *m) {
    return strcmp(m->shape.name, "gemma3-1b") == 0 ? 512 : 8;
}

static family family_of(const char *arch) {
    for (int f = 0; f < FAM_NONE; f++)
        if (strcmp(arch, family_names[f]) == 0) return (family)f;
    return FAM_NONE;
}

static int is_gemma(family f) { return f == FAM_GEMMA || f == FAM_GEMMA2 || f == FAM_GEMMA3; }
static int uses_layernorm(family f) { return f == FAM_GPT2 || f == FAM_MPT || f == FAM_BLOOM; }

int synth_family_known(const char *arch) { return family_of(arch) != FAM_NONE; }

/* gemma and gemma2 always use the embedding as the output matrix:
 * llama.cpp rejects their files with an output.weight. */
int synth_family_tied(const char *arch) {
    family f = family_of(arch);
    return f == FAM_GEMMA || f == FAM_GEMMA2;
}

/* Gemma 3 1B's heads are 256 wide whatever n_embd / n_head is. */
static int head_dim(const synth_model *m) {
    return strcmp(m->shape.name, "gemma3-1b") == 0 ? 256 : m->shape.n_embd / m->shape.n_head;
}

/* The LayerNorm families have no grouped-query attention. */
static int n_head_kv(const synth_model *m) {
    return uses_layernorm(family_of(m->arch)) ? m->shape.n_head : m->shape.n_head_kv;
}

static const char *key(const synth_model *m, const char *suffix) {
    static char k[128];
    snprintf(k, sizeof k, "%s.%s", m->arch, suffix);
    return k;
}

lm_status synth_family_metadata(gguf_writer *w, const synth_model *m, lm_error *err) {
    family f = family_of(m->arch);
    lm_status s = LM_OK;
    if (f == FAM_NONE) return LM_OK;
    const uint32_t hd = (uint32_t)head_dim(m);
    if ((s = gguf_set_u32(w, key(m, "attention.head_count_kv"), (uint32_t)n_head_kv(m), err)) ||
        (s = gguf_set_u32(w, key(m, "rope.dimension_count"), hd, err)))
        return s;
    if (is_gemma(f) && ((s = gguf_set_u32(w, key(m, "attention.key_length"), hd, err)) ||
                        (s = gguf_set_u32(w, key(m, "attention.value_length"), hd, err))))
        return s;
    /* Gemma 3's global layers use a base of 1e6, its local ones 1e4. */
    if (f == FAM_GEMMA3 && (s = gguf_set_f32(w, key(m, "rope.freq_base"), 1e6f, err))) return s;
    if ((f == FAM_GEMMA2 || f == FAM_GEMMA3) &&
        (s = gguf_set_u32(w, key(m, "attention.sliding_window"), sliding_window(m), err)))
        return s;
    /* Gemma 2 caps attention scores at 50, beyond what these models reach:
     * a cap of 3 makes the test see it. */
    if (f == FAM_GEMMA2 && ((s = gguf_set_f32(w, key(m, "attn_logit_softcapping"), 3.0f, err)) ||
                            (s = gguf_set_f32(w, key(m, "final_logit_softcapping"), 30.0f, err))))
        return s;
    /* LongRoPE: an original context below the 512 of the parity runs, so
     * that both sides pick the long factors, and a cos/sin scale like
     * Phi-3.5's (1.19). */
    if (f == FAM_PHI3 && m->rope_freqs &&
        ((s = gguf_set_str(w, key(m, "rope.scaling.type"), "longrope", err)) ||
         (s = gguf_set_u32(w, key(m, "rope.scaling.original_context_length"), 256, err)) ||
         (s = gguf_set_f32(w, key(m, "rope.scaling.attn_factor"), 1.2f, err))))
        return s;
    if (uses_layernorm(f) && (s = gguf_set_f32(w, key(m, "attention.layer_norm_epsilon"), 1e-5f, err)))
        return s;
    if ((f == FAM_MPT || f == FAM_BLOOM) && (s = gguf_set_f32(w, key(m, "attention.max_alibi_bias"), 8.0f, err)))
        return s;
    /* mpt may clamp q, k and v; at 3 a few percent of values are clipped. */
    if (f == FAM_MPT && (s = gguf_set_f32(w, key(m, "attention.clamp_kqv"), 3.0f, err))) return s;
    return LM_OK;
}

typedef struct layer_plan {
    synth_weights *sw;
    const synth_model *m;
    family f;
    int il;
    int64_t n, q_dim, kv_dim, ff;
    float in_std, gain;
    int ok;
} layer_plan;

static void add(layer_plan *p, const char *suffix, synth_weight_kind kind, float scale, int64_t ne0, int64_t ne1) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s", p->il, suffix);
    p->ok = p->ok && synth_describe(p->sw, p->m, name, kind, scale, ne0, ne1);
}

/* attn_norm or ffn_norm ("attn" / "ffn"), with a bias for LayerNorm. */
static void add_norm(layer_plan *p, const char *which) {
    char name[32];
    snprintf(name, sizeof name, "%s_norm.weight", which);
    add(p, name, SYNTH_W_NORM, 0, p->n, 0);
    if (!uses_layernorm(p->f)) return;
    snprintf(name, sizeof name, "%s_norm.bias", which);
    add(p, name, SYNTH_W_RANDOM, 0.1f, p->n, 0);
}

static void add_attention(layer_plan *p) {
    const int fused = p->f == FAM_PHI3 || uses_layernorm(p->f);
    add_norm(p, "attn");
    /* q·k/√head_dim gets a standard deviation of about 4: fairly sharp. */
    if (fused) {
        add(p, "attn_qkv.weight", SYNTH_W_RANDOM, 1.7f * p->in_std, p->n, p->q_dim + 2 * p->kv_dim);
        if (p->f != FAM_PHI3 && p->f != FAM_MPT)
            add(p, "attn_qkv.bias", SYNTH_W_RANDOM, 0.2f, p->q_dim + 2 * p->kv_dim, 0);
    } else {
        add(p, "attn_q.weight", SYNTH_W_RANDOM, 2.0f * p->in_std, p->n, p->q_dim);
        add(p, "attn_k.weight", SYNTH_W_RANDOM, 2.0f * p->in_std, p->n, p->kv_dim);
        add(p, "attn_v.weight", SYNTH_W_RANDOM, p->in_std, p->n, p->kv_dim);
    }
    if (p->f == FAM_GEMMA3) {
        add(p, "attn_q_norm.weight", SYNTH_W_NORM, 0, p->q_dim / p->m->shape.n_head, 0);
        add(p, "attn_k_norm.weight", SYNTH_W_NORM, 0, p->q_dim / p->m->shape.n_head, 0);
    }
    /* With a post-norm the norm's gains set the branch's size instead. */
    const int post = p->f == FAM_GEMMA2 || p->f == FAM_GEMMA3;
    add(p, "attn_output.weight", SYNTH_W_RANDOM, post ? p->in_std : 2.0f * p->gain / sqrtf((float)p->q_dim),
        p->q_dim, p->n);
    if (p->f == FAM_GPT2 || p->f == FAM_BLOOM) add(p, "attn_output.bias", SYNTH_W_RANDOM, 0.1f * p->gain, p->n, 0);
    if (post) add(p, "post_attention_norm.weight", SYNTH_W_RANDOM, p->gain, p->n, 0);
}

static void add_ffn(layer_plan *p) {
    const int post = p->f == FAM_GEMMA2 || p->f == FAM_GEMMA3;
    add_norm(p, "ffn");
    if (p->f == FAM_PHI3) {
        add(p, "ffn_up.weight", SYNTH_W_RANDOM, p->in_std, p->n, 2 * p->ff);
    } else {
        if (!uses_layernorm(p->f)) add(p, "ffn_gate.weight", SYNTH_W_RANDOM, p->in_std, p->n, p->ff);
        add(p, "ffn_up.weight", SYNTH_W_RANDOM, p->in_std, p->n, p->ff);
    }
    if (p->f == FAM_GPT2 || p->f == FAM_BLOOM) add(p, "ffn_up.bias", SYNTH_W_RANDOM, 0.2f, p->ff, 0);
    /* The hidden activations have an RMS of about 0.5. */
    add(p, "ffn_down.weight", SYNTH_W_RANDOM, post ? 2.0f / sqrtf((float)p->ff) : 2.0f * p->gain / sqrtf((float)p->ff),
        p->ff, p->n);
    if (p->f == FAM_GPT2 || p->f == FAM_BLOOM) add(p, "ffn_down.bias", SYNTH_W_RANDOM, 0.1f * p->gain, p->n, 0);
    if (post) add(p, "post_ffw_norm.weight", SYNTH_W_RANDOM, p->gain, p->n, 0);
}

int synth_family_describe(synth_weights *sw, const synth_model *m) {
    family f = family_of(m->arch);
    const synth_shape *s = &m->shape;
    const int64_t n = s->n_embd;
    /* gemma multiplies embeddings by sqrt(n_embd) before the first layer. */
    const float residual = synth_embd_std(m) * (is_gemma(f) ? sqrtf((float)n) : 1.0f);
    layer_plan p = {.sw = sw, .m = m, .f = f, .n = n, .q_dim = (int64_t)s->n_head * head_dim(m),
                    .kv_dim = (int64_t)n_head_kv(m) * head_dim(m), .ff = s->n_ff,
                    .in_std = 1.0f / sqrtf((float)n), .gain = 0.7f * residual / sqrtf(2.0f * s->n_layer), .ok = 1};
    p.ok = synth_describe(sw, m, "token_embd.weight", SYNTH_W_EMBD, 0, n, m->n_vocab);
    if (f == FAM_GPT2) p.ok = p.ok && synth_describe(sw, m, "position_embd.weight", SYNTH_W_RANDOM, 0.3f, n, s->n_ctx);
    if (f == FAM_BLOOM) {
        p.ok = p.ok && synth_describe(sw, m, "token_embd_norm.weight", SYNTH_W_NORM, 0, n, 0);
        p.ok = p.ok && synth_describe(sw, m, "token_embd_norm.bias", SYNTH_W_RANDOM, 0.1f, n, 0);
    }
    if (f == FAM_PHI3 && m->rope_freqs) { /* distinct long and short factors */
        p.ok = p.ok && synth_describe(sw, m, "rope_factors_long.weight", SYNTH_W_ROPE_FREQS, 0, head_dim(m) / 2, 0);
        p.ok = p.ok && synth_describe(sw, m, "rope_factors_short.weight", SYNTH_W_NORM, 0, head_dim(m) / 2, 0);
    }
    for (p.il = 0; p.il < s->n_layer && p.ok; p.il++) {
        add_attention(&p);
        add_ffn(&p);
    }
    p.ok = p.ok && synth_describe(sw, m, "output_norm.weight", SYNTH_W_NORM, 0, n, 0);
    if (uses_layernorm(f)) p.ok = p.ok && synth_describe(sw, m, "output_norm.bias", SYNTH_W_RANDOM, 0.1f, n, 0);
    if (!m->tied) p.ok = p.ok && synth_describe(sw, m, "output.weight", SYNTH_W_OUTPUT, 0, n, m->n_vocab);
    return p.ok;
}
