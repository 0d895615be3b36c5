/* Deterministic synthetic weights.
 *
 * Random weights alone give logits whose top two are often a hair apart, so
 * two correct implementations that round differently pick different greedy
 * tokens. Here every token t has a successor s(t) whose output row contains
 * a multiple of t's embedding: since the residual stream stays dominated by
 * the embedding, s(t) wins by several logits (at least 6 in the tiny
 * parity models), while the layers still move the other logits a lot
 * (doubling the rope base shifts the top 10 by up to 1.4), so a wrong
 * attention, rope or FFN shows up in the top-10 logits. Attention is made
 * fairly sharp (q and k scaled up) so that positions matter.
 *
 * Every row comes from its own PRNG stream keyed by (seed, tensor, row):
 * rows are generated while the file is written, on several threads, in any
 * order, and a model is never held whole in memory. Values are uniform with
 * the wanted standard deviation (cheaper than Gaussian; the shape does not
 * matter here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "synth.h"

/* Logit scales (see above): the spread of random logits, and the margin the
 * successor's logit reaches. */
#define NOISE_LOGIT 1.5f
#define SUCCESSOR_LOGIT 20.0f
/* Together the layers add about this fraction of the embedding's norm to
 * the residual stream. */
#define LAYERS_GAIN 0.7f

typedef struct synth_tensor {
    const synth_model *m;
    char name[64];
    synth_weight_kind kind;
    float scale;
    lm_type type;
    uint32_t n_dims;
    int64_t ne[2];
} synth_tensor;

struct synth_weights {
    synth_tensor *t;
    int n, cap;
};

/* ---- PRNG: splitmix64 streams ------------------------------------------ */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t stream_seed(uint64_t seed, const char *name, int64_t row) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the tensor name */
    for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    return mix64(seed ^ mix64(h ^ mix64((uint64_t)row)));
}

/* Uniform in [-1, 1). */
static float next_sym(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ull;
    return (float)(mix64(*state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* n values of standard deviation std (uniform on ±std·√3). */
static void random_row(uint64_t seed, const char *name, int64_t row, float std, float *out, int64_t n) {
    uint64_t s = stream_seed(seed, name, row);
    float a = std * 1.7320508f;
    for (int64_t i = 0; i < n; i++) out[i] = a * next_sym(&s);
}

/* ---- successors --------------------------------------------------------- */

int synth_plan_successors(synth_model *m, const int32_t *token_types) {
    int64_t n = m->n_vocab, n_normal = 0;
    int32_t *normal = malloc((size_t)n * sizeof *normal);
    m->pred = malloc((size_t)n * sizeof *m->pred);
    if (!normal || !m->pred) {
        free(normal);
        return 0;
    }
    for (int64_t t = 0; t < n; t++) {
        m->pred[t] = -1;
        if (!token_types || token_types[t] == 1) normal[n_normal++] = (int32_t)t;
    }
    /* A random cycle through the normal tokens: shuffle them, then each
     * one's successor is the next in the shuffled order. */
    uint64_t s = stream_seed(m->seed, "successors", 0);
    for (int64_t i = n_normal - 1; i > 0; i--) {
        s += 0x9e3779b97f4a7c15ull;
        int64_t j = (int64_t)(mix64(s) % (uint64_t)(i + 1));
        int32_t tmp = normal[i];
        normal[i] = normal[j];
        normal[j] = tmp;
    }
    for (int64_t i = 0; i < n_normal; i++) m->pred[normal[(i + 1) % n_normal]] = normal[i];
    free(normal);
    return n_normal > 0;
}

/* The embedding's standard deviation. Untied, 1 (the output matrix sets the
 * logit scale); tied, the embedding is the output matrix too, and this keeps
 * its logits in the same range: each token then predicts itself. */
float synth_embd_std(const synth_model *m) {
    return m->tied ? NOISE_LOGIT / sqrtf((float)m->shape.n_embd) : 1.0f;
}

/* ---- rows --------------------------------------------------------------- */

/* llama-3's rope factors: 1 for short wavelengths, `factor` for long ones,
 * a smooth blend between (factor 8, low 1, high 4, original context 8192). */
static void rope_factors(const synth_model *m, float *out, int64_t n) {
    const double factor = 8, low = 1, high = 4, old_ctx = 8192;
    const int head_dim = m->shape.n_embd / m->shape.n_head;
    for (int64_t i = 0; i < n; i++) {
        double freq = pow(m->freq_base, -2.0 * (double)i / head_dim);
        double wavelen = 2 * 3.14159265358979323846 / freq;
        if (wavelen < old_ctx / high) {
            out[i] = 1;
        } else if (wavelen > old_ctx / low) {
            out[i] = (float)factor;
        } else {
            double smooth = (old_ctx / wavelen - low) / (high - low);
            out[i] = (float)(1 / ((1 - smooth) / factor + smooth));
        }
    }
}

static void output_row(const synth_tensor *t, int64_t row, float *out, float *tmp) {
    const synth_model *m = t->m;
    int64_t n = t->ne[0];
    random_row(m->seed, t->name, row, NOISE_LOGIT / sqrtf((float)n), out, n);
    int32_t pred = m->pred[row];
    if (pred < 0) return;
    /* The embedding row has norm ~√n and the normed residual too, with a
     * cosine of ~0.8 between them. */
    random_row(m->seed, "token_embd.weight", pred, synth_embd_std(m), tmp, n); /* untied: 1 */
    float c = SUCCESSOR_LOGIT / (0.8f * (float)n);
    for (int64_t i = 0; i < n; i++) out[i] += c * tmp[i];
}

/* A gguf_row_fn: row `row` of tensor user as floats. */
static void make_row(void *user, int64_t row, float *out, float *scratch) {
    const synth_tensor *t = user;
    int64_t n = t->ne[0];
    switch (t->kind) {
    case SYNTH_W_EMBD: random_row(t->m->seed, t->name, row, synth_embd_std(t->m), out, n); break;
    case SYNTH_W_NORM:
        random_row(t->m->seed, t->name, row, 0.05f, out, n);
        for (int64_t i = 0; i < n; i++) out[i] += 1.0f;
        break;
    case SYNTH_W_RANDOM: random_row(t->m->seed, t->name, row, t->scale, out, n); break;
    case SYNTH_W_OUTPUT: output_row(t, row, out, scratch); break;
    case SYNTH_W_ROPE_FREQS: rope_factors(t->m, out, n); break;
    }
}

/* ---- the tensor list ---------------------------------------------------- */

static synth_tensor *push(synth_weights *sw) {
    if (sw->n == sw->cap) {
        int cap = sw->cap ? sw->cap * 2 : 64;
        synth_tensor *p = realloc(sw->t, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        sw->t = p;
        sw->cap = cap;
    }
    return &sw->t[sw->n++];
}

/* Describes one tensor; its type is picked once the whole list is known. */
int synth_describe(synth_weights *sw, const synth_model *m, const char *name, synth_weight_kind kind,
                   float scale, int64_t ne0, int64_t ne1) {
    synth_tensor *t = push(sw);
    if (!t) return 0;
    *t = (synth_tensor){.m = m, .kind = kind, .scale = scale, .n_dims = ne1 ? 2 : 1, .ne = {ne0, ne1 ? ne1 : 1}};
    snprintf(t->name, sizeof t->name, "%s", name);
    return 1;
}

static int describe_layer(synth_weights *sw, const synth_model *m, int il) {
    const synth_shape *s = &m->shape;
    int64_t n = s->n_embd, n_kv = (int64_t)s->n_embd / s->n_head * s->n_head_kv, ff = s->n_ff;
    float in_std = 1.0f / sqrtf((float)n);
    /* Relative to the embedding, which the residual stream starts from. */
    float gain = LAYERS_GAIN * synth_embd_std(m) / sqrtf(2.0f * s->n_layer);
    int ok = 1;
    char name[64];
#define LAYER_TENSOR(suffix, kind, scale, ne0, ne1)                     \
    (snprintf(name, sizeof name, "blk.%d.%s", il, suffix),              \
     ok = ok && synth_describe(sw, m, name, kind, scale, ne0, ne1))
    LAYER_TENSOR("attn_norm.weight", SYNTH_W_NORM, 0, n, 0);
    /* q·k/√head_dim gets a standard deviation of about 4: fairly sharp. */
    LAYER_TENSOR("attn_q.weight", SYNTH_W_RANDOM, 2.0f * in_std, n, n);
    LAYER_TENSOR("attn_k.weight", SYNTH_W_RANDOM, 2.0f * in_std, n, n_kv);
    LAYER_TENSOR("attn_v.weight", SYNTH_W_RANDOM, in_std, n, n_kv);
    if (strcmp(m->arch, "qwen2") == 0) {
        LAYER_TENSOR("attn_q.bias", SYNTH_W_RANDOM, 0.2f, n, 0);
        LAYER_TENSOR("attn_k.bias", SYNTH_W_RANDOM, 0.2f, n_kv, 0);
        LAYER_TENSOR("attn_v.bias", SYNTH_W_RANDOM, 0.2f, n_kv, 0);
    }
    LAYER_TENSOR("attn_output.weight", SYNTH_W_RANDOM, 2.0f * gain * in_std, n, n);
    LAYER_TENSOR("ffn_norm.weight", SYNTH_W_NORM, 0, n, 0);
    LAYER_TENSOR("ffn_gate.weight", SYNTH_W_RANDOM, in_std, n, ff);
    LAYER_TENSOR("ffn_up.weight", SYNTH_W_RANDOM, in_std, n, ff);
    /* silu(gate)·up has an RMS of about 0.5. */
    LAYER_TENSOR("ffn_down.weight", SYNTH_W_RANDOM, 2.0f * gain / sqrtf((float)ff), ff, n);
#undef LAYER_TENSOR
    return ok;
}

static int describe_model(synth_weights *sw, const synth_model *m) {
    const synth_shape *s = &m->shape;
    if (synth_family_known(m->arch)) return synth_family_describe(sw, m);
    int ok = synth_describe(sw, m, "token_embd.weight", SYNTH_W_EMBD, 0, s->n_embd, m->n_vocab);
    if (m->rope_freqs)
        ok = ok && synth_describe(sw, m, "rope_freqs.weight", SYNTH_W_ROPE_FREQS, 0, s->n_embd / s->n_head / 2, 0);
    for (int il = 0; il < s->n_layer && ok; il++) ok = describe_layer(sw, m, il);
    ok = ok && synth_describe(sw, m, "output_norm.weight", SYNTH_W_NORM, 0, s->n_embd, 0);
    if (!m->tied) ok = ok && synth_describe(sw, m, "output.weight", SYNTH_W_OUTPUT, 0, s->n_embd, m->n_vocab);
    return ok;
}

lm_status synth_add_tensors(gguf_writer *w, const synth_model *m, const lm_ftype *ft,
                            synth_weights **out, lm_error *err) {
    synth_weights *sw = calloc(1, sizeof *sw);
    *out = sw;
    if (!sw || !describe_model(sw, m)) return lm_fail(err, LM_E_MEMORY, "out of memory describing tensors");
    for (int i = 0; i < sw->n; i++) {
        synth_tensor *t = &sw->t[i];
        t->type = lm_pick_tensor_type(ft, t->name, t->n_dims, t->ne, m->shape.n_layer, !m->tied);
        lm_status s = gguf_add_tensor_rows(w, t->name, t->type, t->n_dims, t->ne, make_row, t, err);
        if (s != LM_OK) return s;
    }
    return LM_OK;
}

void synth_weights_free(synth_weights *sw) {
    if (!sw) return;
    free(sw->t);
    free(sw);
}
