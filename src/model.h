/* A loaded model: hyper-parameters and weight views bound from GGUF tensors.
 * Weights stay in the file's bytes (mmap natively, the wasm heap in the
 * browser) in their quantized form; only 1-D vectors (norms, biases, rope
 * frequency factors) are converted to owned f32 arrays. */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "gguf.h"
#include "localm.h"
#include "types.h"
#include "vocab.h"

typedef enum {
    LM_ARCH_LLAMA, LM_ARCH_QWEN2, LM_ARCH_GEMMA, LM_ARCH_GEMMA2, LM_ARCH_GEMMA3,
    LM_ARCH_PHI3, LM_ARCH_GPT2, LM_ARCH_MPT, LM_ARCH_BLOOM,
} lm_arch;

typedef enum { LM_NORM_RMS, LM_NORM_LAYER } lm_norm_kind; /* LayerNorm: mean removed, optional bias */

typedef enum {
    LM_FFN_SWIGLU, /* down(silu(gate) * up) */
    LM_FFN_GEGLU,  /* down(gelu(gate) * up) */
    LM_FFN_GELU,   /* down(gelu(up)), no gate */
} lm_ffn_kind;

typedef enum { LM_POS_ROPE, LM_POS_LEARNED, LM_POS_ALIBI } lm_pos_kind;

/* A weight matrix of `rows` outputs by `cols` inputs, row-major as GGUF
 * stores it (ne[0] = cols). */
typedef struct lm_matrix {
    lm_type type;
    int64_t rows, cols;
    const void *data;
    size_t row_bytes;
} lm_matrix;

/* Optional vectors are NULL when the architecture has none. A fused QKV
 * (wqkv.data set) replaces wq/wk/wv; a fused up (fused_up) holds the gate
 * rows first, then the up rows. */
typedef struct lm_layer {
    float *attn_norm, *attn_norm_b, *ffn_norm, *ffn_norm_b;
    float *attn_post_norm, *ffn_post_norm; /* gemma2/3: normed branch outputs */
    float *q_norm, *k_norm;                /* per-head RMSNorm of q and k */
    float *bq, *bk, *bv, *bqkv, *bo, *b_up, *b_down;
    lm_matrix wq, wk, wv, wqkv, wo;
    lm_matrix w_gate, w_up, w_down;
    int fused_up;
    int swa; /* attends to the last n_swa positions only, with the swa RoPE */
} lm_layer;

typedef struct lm_hparams {
    lm_arch arch;
    char arch_name[32];
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float norm_eps;
    float rope_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    int rope_neox;         /* rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1) */
    /* What differs between families (set by lm_arch_bind_hparams). */
    lm_norm_kind norm;
    lm_ffn_kind ffn;
    lm_pos_kind pos;
    float embd_scale;      /* token embeddings are multiplied by this (1: none) */
    float attn_scale;      /* q.k multiplier (1/sqrt(head_dim) unless the family says) */
    float attn_softcap;    /* scores -> cap * tanh(scores / cap); 0: none */
    float final_softcap;   /* same on the logits */
    float alibi_bias_max;  /* ALiBi slopes' maximum bias */
    float clamp_kqv;       /* mpt: fused q/k/v values clamped to +-this; 0: none */
    int32_t n_swa;         /* sliding window of the layers marked swa; 0: none */
    int32_t swa_pattern;   /* every swa_pattern-th layer is global (0: none) */
    float rope_base_swa, rope_freq_scale_swa; /* RoPE of sliding-window layers */
    int32_t n_ctx_orig;    /* phi3: context the short rope factors are for */
    float rope_attn_factor;/* cos/sin multiplier (rope.scaling.attn_factor) */
} lm_hparams;

/* Where the model's bytes live and how to give them back. */
typedef struct lm_part {
    void *data;
    size_t size;
    int mapped; /* 1: munmap, 0: free */
} lm_part;

struct lm_model {
    lm_hparams hp;
    int n_parts;
    lm_part *parts;
    gguf_file *files; /* one per part; metadata comes from files[0] */
    lm_matrix tok_embd, output, pos_embd;
    float *tok_embd_norm, *tok_embd_norm_b; /* bloom: LayerNorm right after the embedding */
    float *output_norm, *output_norm_b;
    float *rope_freqs; /* n_rot/2 frequency divisors, or NULL */
    float *rope_long, *rope_short; /* phi3: rope_freqs for contexts beyond / within n_ctx_orig */
    lm_layer *layers;
    lm_vocab *vocab;
    lm_chat_style chat_style;
    int chat_style_known;
    int32_t n_ctx_default;
    int vocab_only;
    uint64_t weight_bytes;
    char *info_json;
};

/* How model.c and arch.c bind metadata and tensors. */
typedef struct lm_binder {
    lm_model *model;
    lm_error *err;
    char prefix[40]; /* "llama." */
} lm_binder;

lm_status lm_bind_u32(lm_binder *b, const char *suffix, int required, int32_t *out);
lm_status lm_bind_f32(lm_binder *b, const char *suffix, float *out);
/* A cols x rows matrix / an n-vector named name; absent is an error only
 * when required. */
lm_status lm_bind_matrix(lm_binder *b, const char *name, int64_t cols, int64_t rows, int required,
                         lm_matrix *out);
lm_status lm_bind_vector(lm_binder *b, const char *name, int64_t n, int required, float **out);

/* arch.c: which family general.architecture names (LM_E_UNSUPPORTED
 * naming it otherwise), its hyper-parameters beyond the common ones, and
 * its tensors. */
lm_status lm_arch_from_name(lm_binder *b);
lm_status lm_arch_bind_hparams(lm_binder *b);
lm_status lm_arch_bind_layer(lm_binder *b, int il, lm_layer *l);
lm_status lm_arch_bind_globals(lm_binder *b);
/* For info: the family's display name, and up to max feature names
 * ("sliding-window", "softcap", ...) of a bound model; returns how many. */
const char *lm_arch_family(lm_arch arch);
int lm_arch_features(const lm_model *m, const char **names, int max);

/* Binds hyper-parameters, tensors and the vocabulary. parts/files are
 * already parsed; the model takes them over (freed by lm_model_free). */
lm_status lm_model_bind(lm_model *model, const lm_load_params *params, lm_error *err);

/* Frees the f32 vectors bind made and sets them NULL (idempotent). */
void lm_model_free_vectors(lm_model *m);

/* Bytes a context of n_ctx tokens needs beyond the weights (KV cache and
 * scratch buffers). */
uint64_t lm_context_bytes(const lm_hparams *hp, int32_t n_ctx);

/* Largest batch of prompt tokens evaluated in one pass. */
#define LM_MAX_BATCH 64

#endif
