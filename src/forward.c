/* The forward pass of every supported decoder, readable top to bottom:
 * embed, then per layer norm -> attention with RoPE (or ALiBi) and a KV
 * cache -> residual -> norm -> feed-forward -> residual, then the final norm
 * and the output projection. The families differ in small steps along the
 * way (see lm_hparams and lm_layer: what is NULL or 0 is skipped). Prompt
 * tokens go through in batches so every weight matrix is read once per
 * batch, not once per token. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "kernels.h"
#include "quant.h"
#include "threadpool.h"

/* Widest quantized activation row of the output and every layer matrix, or
 * (shared_only) of the matrices that share a product dispatch with q or
 * gate and may have their own type: they get buffers of their own. */
static size_t widest_act_row(const lm_model *m, int shared_only) {
    size_t widest = shared_only ? 0 : lm_act_row_bytes(m->output.type, m->output.cols);
    for (int i = 0; i < m->hp.n_layer; i++) {
        const lm_layer *l = &m->layers[i];
        const lm_matrix *mats[] = {&l->wk, &l->wv, &l->w_up, &l->wq, &l->wqkv, &l->wo, &l->w_gate, &l->w_down};
        const size_t count = shared_only ? 3 : sizeof mats / sizeof mats[0];
        for (size_t j = 0; j < count; j++) {
            size_t bytes = lm_act_row_bytes(mats[j]->type, mats[j]->cols);
            if (bytes > widest) widest = bytes;
        }
    }
    return widest;
}

/* phi3 picks its long-context rope factors when the context outgrows the
 * original one, as llama.cpp does. */
static const float *pick_rope_factors(const lm_model *m, int32_t n_ctx) {
    if (m->rope_long || m->rope_short)
        return n_ctx > m->hp.n_ctx_orig && m->rope_long ? m->rope_long : m->rope_short;
    return m->rope_freqs;
}

lm_status lm_context_new(lm_model *model, int32_t n_ctx, lm_context **out, lm_error *err) {
    *out = NULL;
    if (!model) return lm_fail(err, LM_E_ARGUMENT, "no model");
    if (model->vocab_only) return lm_fail(err, LM_E_ARGUMENT, "the model was loaded vocabulary-only");
    const lm_hparams *hp = &model->hp;
    if (n_ctx <= 0) n_ctx = model->n_ctx_default;
    if (n_ctx > 1 << 20) return lm_fail(err, LM_E_ARGUMENT, "context size %d is too large", n_ctx);
    if (model->pos_embd.data && n_ctx > model->pos_embd.rows)
        return lm_fail(err, LM_E_ARGUMENT, "context size %d exceeds the %lld positions the model learned",
                       n_ctx, (long long)model->pos_embd.rows);
    lm_context *c = calloc(1, sizeof *c);
    if (!c) return lm_fail(err, LM_E_MEMORY, "out of memory for a context");
    const size_t B = LM_MAX_BATCH, d = hp->n_embd, kv = (size_t)hp->n_head_kv * hp->head_dim,
                 q_dim = (size_t)hp->n_head * hp->head_dim;
    const size_t cache = (size_t)hp->n_layer * n_ctx * kv;
    c->model = model;
    c->n_ctx = n_ctx;
    c->k_cache = malloc(cache * sizeof(float));
    c->v_cache = malloc(cache * sizeof(float));
    c->x = malloc(B * d * sizeof(float));
    c->xb = malloc(B * d * sizeof(float));
    c->q = malloc(B * q_dim * sizeof(float));
    c->k = malloc(B * kv * sizeof(float));
    c->v = malloc(B * kv * sizeof(float));
    c->att = malloc(B * q_dim * sizeof(float));
    c->gate = malloc(B * hp->n_ff * sizeof(float));
    c->up = malloc(B * hp->n_ff * sizeof(float));
    c->rope = malloc(B * hp->n_rot * sizeof(float));
    const int own_swa_rope = hp->n_swa && (hp->rope_base_swa != hp->rope_base ||
                                           hp->rope_freq_scale_swa != hp->rope_freq_scale);
    c->rope_swa = own_swa_rope ? malloc(B * hp->n_rot * sizeof(float)) : NULL;
    c->rope_factors = pick_rope_factors(model, n_ctx);
    c->scores = malloc((size_t)n_ctx * LM_MAX_THREADS * sizeof(float));
    c->act[0] = malloc(B * widest_act_row(model, 0));
    for (int i = 1; i < 3; i++) c->act[i] = malloc(B * widest_act_row(model, 1));
    c->logits = calloc((size_t)hp->n_vocab, sizeof(float));
    c->gelu = hp->ffn != LM_FFN_SWIGLU ? malloc(65536 * sizeof *c->gelu) : NULL;
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->k || !c->v || !c->att ||
        !c->gate || !c->up || !c->rope || (own_swa_rope && !c->rope_swa) || !c->scores || !c->act[0] ||
        !c->act[1] || !c->act[2] || !c->logits || (hp->ffn != LM_FFN_SWIGLU && !c->gelu)) {
        lm_context_free(c);
        return lm_fail(err, LM_E_MEMORY, "out of memory for a context of %d tokens (%.1f MiB)", n_ctx,
                       lm_context_bytes(hp, n_ctx) / 1048576.0);
    }
    if (c->gelu) lm_gelu_table(c->gelu);
    *out = c;
    return LM_OK;
}

void lm_context_free(lm_context *c) {
    if (!c) return;
    lm_pool_free(c->pool);
    void *bufs[] = {c->k_cache, c->v_cache, c->x, c->xb, c->q, c->k, c->v, c->att, c->gate,
                    c->up, c->rope, c->rope_swa, c->scores, c->act[0], c->act[1], c->act[2], c->logits, c->gelu};
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

/* Work items [0, total) of one dispatch, in one contiguous share per
 * thread. A thread takes the items of its own share in order, so the data
 * they read streams from memory as one run, then what is left of the
 * others' shares. A thread that the system deschedules (two threads on two
 * cores share them with the browser) or that got the heavier items then
 * holds nobody up for more than one item. */
typedef struct shares {
    int64_t total;
    int nth;
    atomic_long next[LM_MAX_THREADS]; /* thread i's next item within its share */
} shares;

static int64_t share_begin(const shares *s, int ith) { return s->total * ith / s->nth; }

static void shares_init(shares *s, int64_t total, int nth) {
    s->total = total;
    s->nth = nth;
    for (int i = 0; i < nth; i++) atomic_init(&s->next[i], share_begin(s, i));
}

/* The next item for thread ith, or -1 when all are taken. *owners counts
 * the shares ith has emptied: start it at 0. */
static int64_t take_item(shares *s, int ith, int *owners) {
    for (; *owners < s->nth; ++*owners) {
        const int owner = (ith + *owners) % s->nth;
        const int64_t i = atomic_fetch_add_explicit(&s->next[owner], 1, memory_order_relaxed);
        if (i < share_begin(s, owner + 1)) return i;
    }
    return -1;
}

/* Matrix products go to the thread pool in groups that share an input (q, k
 * and v; gate and up), one dispatch per group: decoding a token is a few
 * hundred small products, and each dispatch costs a wake-up and a wait. */

/* Rows [from, from + rows) of w times the quantized batch act, into
 * out[t * rows + r]. A fused matrix (wqkv, gate+up) is several products. */
typedef struct product {
    const lm_matrix *w;
    int64_t from, rows;
    const void *act;
    float *out;
} product;

typedef struct gemm_job {
    product p[3];
    int n_products, n;
    lm_context *c;
    const lm_layer *ffn; /* set: the products are gate (p[0]) and up, then activated */
    int64_t chunk;       /* rows per chunk, a multiple of 16 so SIMD kernels keep whole row blocks */
    shares chunks;       /* of all products in turn */
} gemm_job;

static product whole(const lm_matrix *w, float *out) { return (product){w, 0, w->rows, NULL, out}; }

static void activate(lm_context *c, const lm_layer *l, int n, int64_t i0, int64_t i1);

static void product_rows(const gemm_job *j, const product *p, int64_t r0, int64_t r1) {
    lm_gemm(p->w->type, p->w->cols, (const char *)p->w->data + p->from * p->w->row_bytes, p->w->row_bytes, p->act,
            j->n, p->out, p->rows, r0, r1);
}

static int64_t chunks_of(const gemm_job *j, const product *p) { return (p->rows + j->chunk - 1) / j->chunk; }

/* The products whose rows the chunks walk: for the feed-forward only gate,
 * whose chunks run the same rows of up along. */
static int walked_products(const gemm_job *j) { return j->ffn ? 1 : j->n_products; }

/* Chunk c runs through the products in turn; for the feed-forward, a chunk
 * is the same rows of gate and up, activated right away. */
static void run_chunk(const gemm_job *j, int64_t c) {
    int i = 0;
    for (; i + 1 < walked_products(j) && c >= chunks_of(j, &j->p[i]); i++) c -= chunks_of(j, &j->p[i]);
    const int64_t r0 = c * j->chunk, r1 = r0 + j->chunk < j->p[i].rows ? r0 + j->chunk : j->p[i].rows;
    if (!j->ffn) {
        product_rows(j, &j->p[i], r0, r1);
        return;
    }
    for (int k = 0; k < j->n_products; k++) product_rows(j, &j->p[k], r0, r1);
    activate(j->c, j->ffn, j->n, r0, r1);
}

static void gemm_task(void *arg, int ith, int nth) {
    gemm_job *j = arg;
    int owners = 0;
    for (int64_t c; (c = take_item(&j->chunks, ith, &owners)) >= 0;) run_chunk(j, c);
}

/* For a batch, about 8 chunks per thread, for one token 4: few enough that
 * taking one costs nothing next to its rows, enough that the others can take
 * over a late thread's work. One thread takes whole products. */
static int64_t chunk_rows(const gemm_job *job, int n_threads) {
    const int per_thread = job->n >= 4 ? 8 : 4;
    int64_t rows = 0;
    for (int i = 0; i < walked_products(job); i++)
        rows = n_threads > 1 ? rows + job->p[i].rows : (job->p[i].rows > rows ? job->p[i].rows : rows);
    if (n_threads > 1) rows = (rows + per_thread * n_threads - 1) / (per_thread * n_threads);
    return rows < 16 ? 16 : (rows + 15) / 16 * 16;
}

/* The rows of a batch quantized for the products that need an activation
 * format of their own: items are (product, token) pairs. */
typedef struct quantize_job {
    const float *in;
    const product *todo[3];
    int n_todo, n;
    shares rows;
} quantize_job;

static void quantize_task(void *arg, int ith, int nth) {
    quantize_job *q = arg;
    int owners = 0;
    for (int64_t i; (i = take_item(&q->rows, ith, &owners)) >= 0;) {
        const product *p = q->todo[i / q->n];
        const int t = (int)(i % q->n);
        const size_t stride = lm_act_row_bytes(p->w->type, p->w->cols);
        lm_quantize_act(p->w->type, q->in + (size_t)t * p->w->cols, (char *)p->act + t * stride, p->w->cols);
    }
}

/* Quantizes the batch `in` once per weight type of the products (into
 * c->act[i]) and runs them in one dispatch. A prompt batch's rows are
 * quantized on the threads too, in a dispatch of their own: on the caller
 * alone they took 4% of a prefill on two threads. One token's row is not
 * worth a dispatch. */
static void multiply(lm_context *c, gemm_job *job, const float *in) {
    const int nth = lm_pool_size(c->pool);
    quantize_job q = {.in = in, .n = job->n};
    for (int i = 0; i < job->n_products; i++) {
        product *p = &job->p[i];
        for (int k = 0; k < i && !p->act; k++)
            if (job->p[k].w->type == p->w->type) p->act = job->p[k].act;
        if (p->act) continue;
        p->act = c->act[i];
        q.todo[q.n_todo++] = p;
    }
    const int spread = job->n >= 4 && nth > 1;
    shares_init(&q.rows, (int64_t)q.n_todo * job->n, spread ? nth : 1);
    if (spread) lm_pool_run(c->pool, quantize_task, &q);
    else quantize_task(&q, 0, 1);
    job->c = c;
    job->chunk = chunk_rows(job, nth);
    int64_t n_chunks = 0;
    for (int i = 0; i < walked_products(job); i++) n_chunks += chunks_of(job, &job->p[i]);
    shares_init(&job->chunks, n_chunks, nth);
    lm_pool_run(c->pool, gemm_task, job);
}

static void matmul(lm_context *c, const lm_matrix *w, const float *in, int n, float *out) {
    gemm_job job = {.p = {whole(w, out)}, .n_products = 1, .n = n};
    multiply(c, &job, in);
}

static void add_bias(float *y, const float *bias, int n, int64_t dim) {
    if (!bias) return;
    for (int t = 0; t < n; t++)
        for (int64_t i = 0; i < dim; i++) y[t * dim + i] += bias[i];
}

/* cos/sin pairs of every rotated dimension pair, per token of the batch.
 * Like ggml, the angle is built by repeated multiplication in float so that
 * we rotate by the same angles as llama.cpp does. */
static void rope_angles(lm_context *c, float *table, float base, float freq_scale, int32_t pos0, int n) {
    const lm_hparams *hp = &c->model->hp;
    const int n_rot = hp->n_rot;
    const float theta_scale = powf(base, -2.0f / n_rot), mscale = hp->rope_attn_factor > 0 ? hp->rope_attn_factor : 1.0f;
    for (int t = 0; t < n; t++) {
        float theta = (float)(pos0 + t);
        float *cs = table + (size_t)t * n_rot;
        for (int i = 0; i < n_rot / 2; i++) {
            float angle = theta * freq_scale;
            if (c->rope_factors) angle /= c->rope_factors[i];
            cs[2 * i] = cosf(angle) * mscale;
            cs[2 * i + 1] = sinf(angle) * mscale;
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

static void apply_rope(lm_context *c, const float *table, int n) {
    const lm_hparams *hp = &c->model->hp;
    for (int t = 0; t < n; t++) {
        const float *cs = table + (size_t)t * hp->n_rot;
        for (int h = 0; h < hp->n_head; h++) rope_rotate(hp, cs, c->q + ((size_t)t * hp->n_head + h) * hp->head_dim);
        for (int h = 0; h < hp->n_head_kv; h++) rope_rotate(hp, cs, c->k + ((size_t)t * hp->n_head_kv + h) * hp->head_dim);
    }
}

typedef struct attend_job {
    lm_context *c;
    const lm_layer *l;
    int layer, n;
    int32_t pos0;
    shares pairs; /* (head, token) pairs, head-major */
} attend_job;

/* Keys (v = 0) or values (v = 1) of one KV head of a layer: n_ctx rows of
 * head_dim. */
static float *kv_rows(const lm_context *c, int v, int layer, int kv_head) {
    const lm_hparams *hp = &c->model->hp;
    const size_t at = ((size_t)layer * hp->n_head_kv + kv_head) * c->n_ctx * hp->head_dim;
    return (v ? c->v_cache : c->k_cache) + at;
}

/* One query head of one token over the cached positions it sees: every one
 * up to its own (causal), or only the last n_swa on sliding-window layers.
 * Scores may be soft-capped (gemma2) or biased by distance (ALiBi). */
static void attend_head(lm_context *c, const attend_job *j, int32_t last, const float *qh, int h,
                        float *scores, float *out) {
    const lm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim, kv_head = h / (hp->n_head / hp->n_head_kv);
    const int32_t first = j->l->swa && last >= hp->n_swa ? last - hp->n_swa + 1 : 0, n_pos = last - first + 1;
    const float *kc = kv_rows(c, 0, j->layer, kv_head) + (size_t)first * hd;
    const float *vc = kv_rows(c, 1, j->layer, kv_head) + (size_t)first * hd;
    const float scale = hp->attn_scale, cap = hp->attn_softcap;
    const float slope = hp->pos == LM_POS_ALIBI ? lm_alibi_slope(h, hp->n_head, hp->alibi_bias_max) : 0.0f;
    lm_dot_rows_f32(kc, n_pos, qh, hd, scores);
    for (int32_t i = 0; i < n_pos; i++) {
        float score = scores[i] * scale;
        if (cap > 0) score = cap * tanhf(score * (1.0f / cap));
        scores[i] = score - slope * (float)(n_pos - 1 - i);
    }
    lm_softmax(scores, n_pos);
    lm_mix_rows_f32(out, vc, scores, n_pos, hd);
}

/* Pairs go head by head, so the query heads that share a KV head come one
 * after another and mostly on one thread, which then finds those keys and
 * values in its cache. Within a head, later tokens of a prompt see more
 * positions; the sharing of items evens that out. */
static void attend_task(void *arg, int ith, int nth) {
    attend_job *j = arg;
    lm_context *c = j->c;
    const lm_hparams *hp = &c->model->hp;
    float *scores = c->scores + (size_t)ith * c->n_ctx;
    int owners = 0;
    for (int64_t i; (i = take_item(&j->pairs, ith, &owners)) >= 0;) {
        const int h = (int)(i / j->n), t = (int)(i % j->n);
        const size_t at = ((size_t)t * hp->n_head + h) * hp->head_dim;
        attend_head(c, j, j->pos0 + t, c->q + at, h, scores, c->att + at);
    }
}

static void attend(lm_context *c, const lm_layer *l, int layer, int32_t pos0, int n) {
    attend_job job = {.c = c, .l = l, .layer = layer, .n = n, .pos0 = pos0};
    shares_init(&job.pairs, (int64_t)n * c->model->hp.n_head, lm_pool_size(c->pool));
    lm_pool_run(c->pool, attend_task, &job);
}

static void store_kv(lm_context *c, int layer, int32_t pos0, int n) {
    const lm_hparams *hp = &c->model->hp;
    const size_t hd = hp->head_dim, row = hd * sizeof(float);
    for (int h = 0; h < hp->n_head_kv; h++) {
        float *kc = kv_rows(c, 0, layer, h) + (size_t)pos0 * hd, *vc = kv_rows(c, 1, layer, h) + (size_t)pos0 * hd;
        for (int t = 0; t < n; t++) {
            memcpy(kc + t * hd, c->k + ((size_t)t * hp->n_head_kv + h) * hd, row);
            memcpy(vc + t * hd, c->v + ((size_t)t * hp->n_head_kv + h) * hd, row);
        }
    }
}

/* The family's norm (RMSNorm, or LayerNorm with an optional bias) of n
 * rows of d values; out may be x. */
static void norm_rows(const lm_hparams *hp, float *out, const float *x, const float *w, const float *b, int n,
                      int64_t d) {
    for (int t = 0; t < n; t++) {
        if (hp->norm == LM_NORM_LAYER) lm_layernorm(out + t * d, x + t * d, w, b, d, hp->norm_eps);
        else lm_rmsnorm(out + t * d, x + t * d, w, d, hp->norm_eps);
    }
}

static void add_rows(float *x, const float *y, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] += y[i];
}

static void clamp_rows(float *x, size_t count, float limit) {
    for (size_t i = 0; i < count; i++) x[i] = x[i] < -limit ? -limit : x[i] > limit ? limit : x[i];
}

/* q, k and v of the normed batch in c->xb, biases added. */
static void project_qkv(lm_context *c, const lm_layer *l, int n) {
    const lm_hparams *hp = &c->model->hp;
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    gemm_job job = {.p = {whole(&l->wq, c->q), whole(&l->wk, c->k), whole(&l->wv, c->v)}, .n_products = 3, .n = n};
    const float *bq = l->bq, *bk = l->bk, *bv = l->bv;
    if (l->wqkv.data) {
        job.p[0] = (product){&l->wqkv, 0, q_dim, NULL, c->q};
        job.p[1] = (product){&l->wqkv, q_dim, kv_dim, NULL, c->k};
        job.p[2] = (product){&l->wqkv, q_dim + kv_dim, kv_dim, NULL, c->v};
        if (l->bqkv) bq = l->bqkv, bk = l->bqkv + q_dim, bv = l->bqkv + q_dim + kv_dim;
    }
    multiply(c, &job, c->xb);
    add_bias(c->q, bq, n, q_dim);
    add_bias(c->k, bk, n, kv_dim);
    add_bias(c->v, bv, n, kv_dim);
    if (hp->clamp_kqv > 0) {
        clamp_rows(c->q, (size_t)n * q_dim, hp->clamp_kqv);
        clamp_rows(c->k, (size_t)n * kv_dim, hp->clamp_kqv);
        clamp_rows(c->v, (size_t)n * kv_dim, hp->clamp_kqv);
    }
}

/* gemma3: RMSNorm of every q and k head before RoPE. */
static void norm_heads(const lm_hparams *hp, float *x, const float *w, size_t n_heads) {
    for (size_t h = 0; h < n_heads; h++) lm_rmsnorm(x + h * hp->head_dim, x + h * hp->head_dim, w, hp->head_dim, hp->norm_eps);
}

static void attention_block(lm_context *c, const lm_layer *l, int layer, int32_t pos0, int n) {
    const lm_hparams *hp = &c->model->hp;
    norm_rows(hp, c->xb, c->x, l->attn_norm, l->attn_norm_b, n, hp->n_embd);
    project_qkv(c, l, n);
    if (l->q_norm) norm_heads(hp, c->q, l->q_norm, (size_t)n * hp->n_head);
    if (l->k_norm) norm_heads(hp, c->k, l->k_norm, (size_t)n * hp->n_head_kv);
    if (hp->pos == LM_POS_ROPE) apply_rope(c, l->swa && c->rope_swa ? c->rope_swa : c->rope, n);
    store_kv(c, layer, pos0, n);
    attend(c, l, layer, pos0, n);
    matmul(c, &l->wo, c->att, n, c->xb);
    add_bias(c->xb, l->bo, n, hp->n_embd);
    if (l->attn_post_norm) norm_rows(hp, c->xb, c->xb, l->attn_post_norm, NULL, n, hp->n_embd);
    add_rows(c->x, c->xb, (size_t)n * hp->n_embd);
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

/* Columns [i0, i1) of the n rows of hidden activations in c->gate: the
 * product (biased) through GELU, or gated by the up product. Runs on the
 * thread that computed those columns. */
static void activate(lm_context *c, const lm_layer *l, int n, int64_t i0, int64_t i1) {
    const lm_hparams *hp = &c->model->hp;
    for (int t = 0; t < n; t++) {
        float *g = c->gate + (size_t)t * hp->n_ff;
        const float *u = c->up + (size_t)t * hp->n_ff;
        if (hp->ffn == LM_FFN_GELU)
            for (int64_t i = i0; i < i1; i++) g[i] = lm_gelu(c->gelu, g[i] + (l->b_up ? l->b_up[i] : 0.0f));
        else if (hp->ffn == LM_FFN_GEGLU)
            for (int64_t i = i0; i < i1; i++) g[i] = lm_gelu(c->gelu, g[i]) * u[i];
        else
            for (int64_t i = i0; i < i1; i++) g[i] = silu(g[i]) * u[i];
    }
}

/* The hidden activations of the normed batch in c->xb, into c->gate. */
static void ffn_hidden(lm_context *c, const lm_layer *l, int n) {
    const int64_t n_ff = c->model->hp.n_ff;
    gemm_job job = {.p = {whole(&l->w_gate, c->gate), whole(&l->w_up, c->up)}, .n_products = 2, .n = n, .ffn = l};
    if (c->model->hp.ffn == LM_FFN_GELU) {
        job.p[0] = whole(&l->w_up, c->gate);
        job.n_products = 1;
    } else if (l->fused_up) {
        job.p[0] = (product){&l->w_up, 0, n_ff, NULL, c->gate};
        job.p[1] = (product){&l->w_up, n_ff, n_ff, NULL, c->up};
    }
    multiply(c, &job, c->xb);
}

static void ffn_block(lm_context *c, const lm_layer *l, int n) {
    const lm_hparams *hp = &c->model->hp;
    norm_rows(hp, c->xb, c->x, l->ffn_norm, l->ffn_norm_b, n, hp->n_embd);
    ffn_hidden(c, l, n);
    matmul(c, &l->w_down, c->gate, n, c->xb);
    add_bias(c->xb, l->b_down, n, hp->n_embd);
    if (l->ffn_post_norm) norm_rows(hp, c->xb, c->xb, l->ffn_post_norm, NULL, n, hp->n_embd);
    add_rows(c->x, c->xb, (size_t)n * hp->n_embd);
}

/* Token embeddings, scaled (gemma), plus learned positions (gpt2), normed
 * (bloom). */
static void embed(lm_context *c, const int32_t *tokens, int32_t pos0, int n) {
    const lm_model *m = c->model;
    const lm_matrix *e = &m->tok_embd, *p = &m->pos_embd;
    const int64_t d = e->cols;
    for (int t = 0; t < n; t++) {
        float *x = c->x + (size_t)t * d;
        lm_dequantize_row(e->type, (const char *)e->data + (size_t)tokens[t] * e->row_bytes, x, d);
        if (m->hp.embd_scale != 1.0f)
            for (int64_t i = 0; i < d; i++) x[i] *= m->hp.embd_scale;
        if (p->data) {
            lm_dequantize_row(p->type, (const char *)p->data + (size_t)(pos0 + t) * p->row_bytes, c->xb, d);
            add_rows(x, c->xb, (size_t)d);
        }
    }
    if (m->tok_embd_norm) norm_rows(&m->hp, c->x, c->x, m->tok_embd_norm, m->tok_embd_norm_b, n, d);
}

static void output_logits(lm_context *c, const float *x) {
    const lm_model *m = c->model;
    const lm_hparams *hp = &m->hp;
    norm_rows(hp, c->xb, x, m->output_norm, m->output_norm_b, 1, hp->n_embd);
    matmul(c, &m->output, c->xb, 1, c->logits);
    if (hp->final_softcap > 0)
        for (int32_t i = 0; i < hp->n_vocab; i++)
            c->logits[i] = hp->final_softcap * tanhf(c->logits[i] * (1.0f / hp->final_softcap));
}

/* The vectors the LM head would multiply, for every token of the batch. */
static void emit_hidden(lm_context *c, int n) {
    const lm_model *m = c->model;
    norm_rows(&m->hp, c->xb, c->x, m->output_norm, m->output_norm_b, n, m->hp.n_embd);
    c->on_hidden(c->on_hidden_user, c->xb, n);
}

static void forward_batch(lm_context *c, const int32_t *tokens, int n, int want_logits) {
    const lm_model *m = c->model;
    const lm_hparams *hp = &m->hp;
    embed(c, tokens, c->pos, n);
    if (hp->pos == LM_POS_ROPE) rope_angles(c, c->rope, hp->rope_base, hp->rope_freq_scale, c->pos, n);
    if (c->rope_swa) rope_angles(c, c->rope_swa, hp->rope_base_swa, hp->rope_freq_scale_swa, c->pos, n);
    for (int i = 0; i < hp->n_layer; i++) {
        attention_block(c, &m->layers[i], i, c->pos, n);
        ffn_block(c, &m->layers[i], n);
    }
    c->pos += n;
    if (c->on_hidden) emit_hidden(c, n);
    if (want_logits) output_logits(c, c->x + (size_t)(n - 1) * hp->n_embd);
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
