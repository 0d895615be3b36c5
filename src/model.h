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

typedef enum { LM_ARCH_LLAMA, LM_ARCH_QWEN2 } lm_arch;

/* A weight matrix of `rows` outputs by `cols` inputs, row-major as GGUF
 * stores it (ne[0] = cols). */
typedef struct lm_matrix {
    lm_type type;
    int64_t rows, cols;
    const void *data;
    size_t row_bytes;
} lm_matrix;

typedef struct lm_layer {
    float *attn_norm, *ffn_norm;
    float *bq, *bk, *bv; /* qwen2 only, else NULL */
    lm_matrix wq, wk, wv, wo;
    lm_matrix w_gate, w_up, w_down;
} lm_layer;

typedef struct lm_hparams {
    lm_arch arch;
    char arch_name[32];
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float norm_eps;
    float rope_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    int rope_neox;         /* rotate (i, i + n_rot/2) pairs instead of (2i, 2i+1) */
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
    lm_matrix tok_embd, output;
    float *output_norm;
    float *rope_freqs; /* n_rot/2 frequency divisors, or NULL */
    lm_layer *layers;
    lm_vocab *vocab;
    lm_chat_style chat_style;
    int chat_style_known;
    int32_t n_ctx_default;
    int vocab_only;
    uint64_t weight_bytes;
    char *info_json;
};

/* Binds hyper-parameters, tensors and the vocabulary. parts/files are
 * already parsed; the model takes them over (freed by lm_model_free). */
lm_status lm_model_bind(lm_model *model, const lm_load_params *params, lm_error *err);

/* Bytes a context of n_ctx tokens needs beyond the weights (KV cache and
 * scratch buffers). */
uint64_t lm_context_bytes(const lm_hparams *hp, int32_t n_ctx);

/* Largest batch of prompt tokens evaluated in one pass. */
#define LM_MAX_BATCH 64

#endif
