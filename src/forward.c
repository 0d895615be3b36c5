/* The forward pass of llama-style decoders (llama, qwen2), readable top to
 * bottom: embed, then per layer RMSNorm -> attention with RoPE and a KV cache
 * -> residual -> RMSNorm -> SwiGLU feed-forward -> residual, then the final
 * norm and the output projection. Prompt tokens go through in batches so
 * every weight matrix is read once per batch, not once per token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "kernels.h"
#include "quant.h"
#include "threadpool.h"

static size_t widest_act_row(const lm_model *m) {
    const lm_matrix *all[] = {&m->output};
    size_t widest = lm_act_row_bytes(all[0]->type, all[0]->cols);
    for (int i = 0; i < m->hp.n_layer; i++) {
        const lm_layer *l = &m->layers[i];
        const lm_matrix *mats[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++) {
            size_t bytes = lm_act_row_bytes(mats[j]->type, mats[j]->cols);
            if (bytes > widest) widest = bytes;
        }
    }
    return widest;
}

lm_status lm_context_new(lm_model *model, int32_t n_ctx, lm_context **out, lm_error *err) {
    *out = NULL;
    if (!model) return lm_fail(err, LM_E_ARGUMENT, "no model");
    if (model->vocab_only) return lm_fail(err, LM_E_ARGUMENT, "the model was loaded vocabulary-only");
    const lm_hparams *hp = &model->hp;
    if (n_ctx <= 0) n_ctx = model->n_ctx_default;
    if (n_ctx > 1 << 20) return lm_fail(err, LM_E_ARGUMENT, "context size %d is too large", n_ctx);
    lm_context *c = calloc(1, sizeof *c);
    if (!c) return lm_fail(err, LM_E_MEMORY, "out of memory for a context");
    const size_t B = LM_MAX_BATCH, d = hp->n_embd, kv = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t cache = (size_t)hp->n_layer * n_ctx * kv;
    c->model = model;
    c->n_ctx = n_ctx;
    c->k_cache = malloc(cache * sizeof(float));
    c->v_cache = malloc(cache * sizeof(float));
    c->x = malloc(B * d * sizeof(float));
    c->xb = malloc(B * d * sizeof(float));
    c->q = malloc(B * d * sizeof(float));
    c->k = malloc(B * kv * sizeof(float));
    c->v = malloc(B * kv * sizeof(float));
    c->att = malloc(B * d * sizeof(float));
    c->gate = malloc(B * hp->n_ff * sizeof(float));
    c->up = malloc(B * hp->n_ff * sizeof(float));
    c->rope = malloc(B * hp->n_rot * sizeof(float));
    c->scores = malloc((size_t)n_ctx * LM_MAX_THREADS * sizeof(float));
    c->act = malloc(B * widest_act_row(model));
    c->logits = calloc((size_t)hp->n_vocab, sizeof(float));
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att ||
        !c->gate || !c->up || !c->rope || !c->scores || !c->act || !c->logits) {
        lm_context_free(c);
        return lm_fail(err, LM_E_MEMORY, "out of memory for a context of %d tokens (%.1f MiB)", n_ctx,
                       lm_context_bytes(hp, n_ctx) / 1048576.0);
    }
    *out = c;
    return LM_OK;
}

void lm_context_free(lm_context *c) {
    if (!c) return;
    lm_pool_free(c->pool);
    void *bufs[] = {c->k_cache, c->v_cache, c->x, c->xb, c->q, c->k, c->v, c->att,
                    c->gate, c->up, c->rope, c->scores, c->act, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

void lm_context_reset(lm_context *c) { c->pos = 0; }
int32_t lm_context_pos(const lm_context *c) { return c->pos; }
int32_t lm_context_size(const lm_context *c) { return c->n_ctx; }

lm_status lm_context_set_threads(lm_context *c, int n_threads, lm_error *err) {
    if (n_threads < 1 || n_threads > LM_MAX_THREADS)
        return lm_fail(err, LM_E_ARGUMENT, "thread count %d is outside 1..%d", n_threads, LM_MAX_THREADS);
    if (n_threads == lm_pool_size(c->pool)) return LM_OK;
    lm_pool *pool = n_threads > 1 ? lm_pool_new(n_threads) : NULL;
    if (n_threads > 1 && !pool)
        return lm_fail(err, LM_E_MEMORY, "cannot start %d threads", n_threads);
    lm_pool_free(c->pool);
    c->pool = pool;
    return LM_OK;
}

int lm_context_threads(const lm_context *c) { return lm_pool_size(c->pool); }
const float *lm_logits(const lm_context *c) { return c->logits; }

/* out[t][r] = W row r . in[t] for n tokens; in rows are W->cols long. */
static void quantize_input(lm_context *c, const lm_matrix *w, const float *in, int n) {
    const size_t stride = lm_act_row_bytes(w->type, w->cols);
    for (int t = 0; t < n; t++)
        lm_quantize_act(w->type, in + (size_t)t * w->cols, (char *)c->act + t * stride, w->cols);
}

typedef struct gemm_job {
    const lm_matrix *w;
    const void *act;
    int n;
    float *out;
} gemm_job;

/* Rows are split in groups of 16 so SIMD kernels keep whole row blocks. */
static void gemm_task(void *arg, int ith, int nth) {
    const gemm_job *j = arg;
    long r0, r1;
    lm_split_range((long)j->w->rows, ith, nth, 16, &r0, &r1);
    if (r0 < r1)
        lm_gemm(j->w->type, j->w->cols, j->w->data, j->w->row_bytes, j->act, j->n, j->out, j->w->rows, r0, r1);
}

static void multiply(lm_context *c, const lm_matrix *w, int n, float *out) {
    gemm_job job = {w, c->act, n, out};
    lm_pool_run(c->pool, gemm_task, &job);
}

static void matmul(lm_context *c, const lm_matrix *w, const float *in, int n, float *out) {
    quantize_input(c, w, in, n);
    multiply(c, w, n, out);
}

static void add_bias(float *y, const float *bias, int n, int64_t dim) {
    if (!bias) return;
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < dim; i++) y[t * dim + i] += bias[i];
}

/* cos/sin pairs of every rotated dimension pair, per token of the batch.
 * Like ggml, the angle is built by repeated multiplication in float so that
 * we rotate by the same angles as llama.cpp does. */
static void rope_angles(lm_context *c, int32_t pos0, int n) {
    const lm_model *m = c->model;
    const int n_rot = m->hp.n_rot;
    const float theta_scale = powf(m->hp.rope_base, -2.0f / n_rot);
    for (int t = 0; t < n; t++) {
        float theta = (float)(pos0 + t);
        float *cs = c->rope + (size_t)t * n_rot;
        for (int i = 0; i < n_rot / 2; i++) {
            float angle = theta * m->hp.rope_freq_scale;
            if (m->rope_freqs) angle /= m->rope_freqs[i];
            cs[2 * i] = cosf(angle);
            cs[2 * i + 1] = sinf(angle);
            theta *= theta_scale;
        }
    }
}

static void rope_rotate(const lm_hparams *hp, const float *cs, float *head) {
    const int half = hp->n_rot / 2;
    for (int i = 0; i < half; i++) {
        const int a = hp->rope_neox ? i : 2 * i, b = hp->rope_neox ? i + half : 2 * i + 1;
        const float x0 = head[a], x1 = head[b];
        head[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
        head[b] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
    }
}

static void apply_rope(lm_context *c, int n) {
    const lm_hparams *hp = &c->model->hp;
    for (int t = 0; t < n; t++) {
        const float *cs = c->rope + (size_t)t * hp->n_rot;
        for (int h = 0; h < hp->n_head; h++) rope_rotate(hp, cs, c->q + ((size_t)t * hp->n_head + h) * hp->head_dim);
        for (int h = 0; h < hp->n_head_kv; h++) rope_rotate(hp, cs, c->k + ((size_t)t * hp->n_head_kv + h) * hp->head_dim);
    }
}

typedef struct attend_job {
    lm_context *c;
    int layer, n;
    int32_t pos0;
} attend_job;

/* One query head of one token over every cached position up to its own
 * (causal), with grouped KV heads. */
static void attend_head(lm_context *c, int layer, int32_t last, const float *qh, int kv_head, float *scores,
                        float *out) {
    const lm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim;
    const size_t kv_dim = (size_t)hp->n_head_kv * hd, kv_off = (size_t)kv_head * hd;
    const float *kc = c->k_cache + (size_t)layer * c->n_ctx * kv_dim + kv_off;
    const float *vc = c->v_cache + (size_t)layer * c->n_ctx * kv_dim + kv_off;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int32_t j = 0; j <= last; j++) scores[j] = lm_dot_f32(qh, kc + j * kv_dim, hd) * scale;
    lm_softmax(scores, last + 1);
    memset(out, 0, hd * sizeof(float));
    for (int32_t j = 0; j <= last; j++) lm_axpy_f32(out, vc + j * kv_dim, scores[j], hd);
}

/* Threads take whole (token, head) pairs. */
static void attend_task(void *arg, int ith, int nth) {
    const attend_job *j = arg;
    lm_context *c = j->c;
    const lm_hparams *hp = &c->model->hp;
    const int group = hp->n_head / hp->n_head_kv;
    float *scores = c->scores + (size_t)ith * c->n_ctx;
    long begin, end;
    lm_split_range((long)j->n * hp->n_head, ith, nth, 1, &begin, &end);
    for (long i = begin; i < end; i++) {
        const int t = (int)(i / hp->n_head), h = (int)(i % hp->n_head);
        const size_t at = ((size_t)t * hp->n_head + h) * hp->head_dim;
        attend_head(c, j->layer, j->pos0 + t, c->q + at, h / group, scores, c->att + at);
    }
}

static void attend(lm_context *c, int layer, int32_t pos0, int n) {
    attend_job job = {c, layer, n, pos0};
    lm_pool_run(c->pool, attend_task, &job);
}

static void store_kv(lm_context *c, int layer, int32_t pos0, int n) {
    const lm_hparams *hp = &c->model->hp;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t at = ((size_t)layer * c->n_ctx + pos0) * kv_dim;
    memcpy(c->k_cache + at, c->k, n * kv_dim * sizeof(float));
    memcpy(c->v_cache + at, c->v, n * kv_dim * sizeof(float));
}

static void rmsnorm_rows(float *out, const float *x, const float *w, int n, int64_t d, float eps) {
    for (int t = 0; t < n; t++) lm_rmsnorm(out + t * d, x + t * d, w, d, eps);
}

static void add_rows(float *x, const float *y, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] += y[i];
}

static void attention_block(lm_context *c, const lm_layer *l, int layer, int32_t pos0, int n) {
    const lm_hparams *hp = &c->model->hp;
    rmsnorm_rows(c->xb, c->x, l->attn_norm, n, hp->n_embd, hp->norm_eps);
    quantize_input(c, &l->wq, c->xb, n);
    multiply(c, &l->wq, n, c->q);
    if (l->wk.type != l->wq.type) quantize_input(c, &l->wk, c->xb, n);
    multiply(c, &l->wk, n, c->k);
    if (l->wv.type != l->wk.type) quantize_input(c, &l->wv, c->xb, n);
    multiply(c, &l->wv, n, c->v);
    add_bias(c->q, l->bq, n, l->wq.rows);
    add_bias(c->k, l->bk, n, l->wk.rows);
    add_bias(c->v, l->bv, n, l->wv.rows);
    apply_rope(c, n);
    store_kv(c, layer, pos0, n);
    attend(c, layer, pos0, n);
    matmul(c, &l->wo, c->att, n, c->xb);
    add_rows(c->x, c->xb, (size_t)n * hp->n_embd);
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

static void ffn_block(lm_context *c, const lm_layer *l, int n) {
    const lm_hparams *hp = &c->model->hp;
    rmsnorm_rows(c->xb, c->x, l->ffn_norm, n, hp->n_embd, hp->norm_eps);
    quantize_input(c, &l->w_gate, c->xb, n);
    multiply(c, &l->w_gate, n, c->gate);
    if (l->w_up.type != l->w_gate.type) quantize_input(c, &l->w_up, c->xb, n);
    multiply(c, &l->w_up, n, c->up);
    const size_t count = (size_t)n * hp->n_ff;
    for (size_t i = 0; i < count; i++) c->gate[i] = silu(c->gate[i]) * c->up[i];
    matmul(c, &l->w_down, c->gate, n, c->xb);
    add_rows(c->x, c->xb, (size_t)n * hp->n_embd);
}

static void embed(lm_context *c, const int32_t *tokens, int n) {
    const lm_matrix *e = &c->model->tok_embd;
    for (int t = 0; t < n; t++)
        lm_dequantize_row(e->type, (const char *)e->data + (size_t)tokens[t] * e->row_bytes,
                          c->x + (size_t)t * e->cols, e->cols);
}

static void forward_batch(lm_context *c, const int32_t *tokens, int n, int want_logits) {
    const lm_model *m = c->model;
    const int64_t d = m->hp.n_embd;
    embed(c, tokens, n);
    rope_angles(c, c->pos, n);
    for (int i = 0; i < m->hp.n_layer; i++) {
        attention_block(c, &m->layers[i], i, c->pos, n);
        ffn_block(c, &m->layers[i], n);
    }
    c->pos += n;
    if (!want_logits) return;
    lm_rmsnorm(c->xb, c->x + (size_t)(n - 1) * d, m->output_norm, d, m->hp.norm_eps);
    matmul(c, &m->output, c->xb, 1, c->logits);
}

lm_status lm_eval(lm_context *c, const int32_t *tokens, int32_t n, lm_error *err) {
    if (!c || (!tokens && n > 0) || n < 0) return lm_fail(err, LM_E_ARGUMENT, "invalid lm_eval arguments");
    if (n > c->n_ctx - c->pos)
        return lm_fail(err, LM_E_CONTEXT_FULL,
                       "context full: %d tokens held + %d new exceed the context size %d", c->pos, n,
                       c->n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->model->hp.n_vocab)
            return lm_fail(err, LM_E_ARGUMENT, "token id %d out of range [0, %d)", tokens[i],
                           c->model->hp.n_vocab);
    for (int32_t i = 0; i < n; i += LM_MAX_BATCH) {
        const int nb = n - i < LM_MAX_BATCH ? n - i : LM_MAX_BATCH;
        forward_batch(c, tokens + i, nb, i + nb == n);
    }
    return LM_OK;
}
