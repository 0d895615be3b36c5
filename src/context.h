/* An evaluation context: the KV cache and the scratch buffers of one
 * sequence, allocated once so that evaluating tokens never allocates. */
#ifndef LM_CONTEXT_H
#define LM_CONTEXT_H

#include "model.h"
#include "threadpool.h"

#define LM_MAX_THREADS 64

struct lm_context {
    lm_model *model;
    int32_t n_ctx;
    int32_t pos;          /* tokens held in the KV cache */
    float *k_cache;       /* [n_layer][n_head_kv][n_ctx][head_dim]: a head's keys are one run */
    float *v_cache;
    /* Scratch for a batch of up to LM_MAX_BATCH tokens. */
    float *x;             /* residual stream [batch][n_embd] */
    float *xb;            /* normed input, branch output [batch][max(n_embd, q_dim)] */
    float *q;             /* [batch][q_dim] */
    float *k, *v;         /* [batch][kv_dim] */
    float *att;           /* attention output [batch][q_dim] */
    float *gate, *up;     /* [batch][n_ff] */
    float *rope;          /* cos/sin pairs [batch][n_rot] */
    float *rope_swa;      /* the same for sliding-window layers' own base, or NULL */
    const float *rope_factors; /* frequency divisors in use, or NULL */
    float *scores;        /* [LM_MAX_THREADS][n_ctx] */
    void *act[3];         /* quantized activations of the widest batch; [1] and [2] for k and v or
                             up when their weight type differs from q's or gate's */
    float *logits;        /* [n_vocab] */
    uint16_t *gelu;       /* GELU of every f16 input (lm_gelu_table), or NULL */
    lm_pool *pool;        /* NULL: single-threaded */
    /* When set, receives the final-normed hidden state of every evaluated
     * token (n rows of n_embd per batch, in c->xb) before the logits are
     * computed: lm_embed pools them. NULL on the normal path. */
    void (*on_hidden)(void *user, const float *rows, int n);
    void *on_hidden_user;
};

/* ops_act.c */
void lm_gelu_table(uint16_t *table); /* 65536 entries */
float lm_gelu(const uint16_t *table, float x);
void lm_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps);
float lm_alibi_slope(int h, int n_head, float max_bias);

#endif
