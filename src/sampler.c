/* Token sampling in llama.cpp's common order: repetition penalties, then
 * either greedy argmax or top-k, top-p, min-p, temperature and a random draw.
 *
 * The same seed must give the same tokens natively and in wasm32, so every
 * step that decides the token uses only IEEE + - * / (correctly rounded on
 * every platform), our own exp and PRNG, and orders candidates by (logit
 * desc, id asc): a total order, so no sort can break ties differently. */
#include "localm.h"

#include "confidence.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float logit;
    int32_t id;
} candidate;

struct lm_sampler {
    lm_sampling_params params;
    int32_t n_vocab;
    candidate *cand;        /* n_vocab entries, rebuilt for every token */
    int32_t *history;       /* ring of the last history_cap accepted tokens */
    int32_t history_cap;    /* 0 when no penalty is active */
    int32_t history_len;
    int32_t history_head;   /* where the next accepted token goes */
    int32_t *counts;        /* occurrences of each token in the ring */
    uint64_t rng;
};

lm_sampling_params lm_sampling_params_default(void) {
    lm_sampling_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = 0,
    };
    return p;
}

/* ---- portable arithmetic ---------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood): one 64-bit state, full period, and the
 * same stream on every platform, unlike rand(). */
static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t *state) {
    return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* exp(x) for x <= 0. libm's exp may differ in the last bit between glibc
 * (which picks an FMA variant on some CPUs) and Emscripten's musl, and one
 * bit can flip a draw; this one uses only + - * / and a truncating
 * conversion, which are exact or correctly rounded everywhere. Relative error < 3e-10, far below what
 * sampling can notice; below e^-708 it returns 0. */
static double exp_nonpositive(double x) {
    static const double inv_factorial[9] = {
        1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    };
    if (!(x > -708.0)) return 0.0; /* also NaN */
    if (x > 0.0) x = 0.0;
    /* x = k ln2 + r with |r| <= ln2/2 (the conversion truncates toward 0,
     * i.e. rounds x/ln2 - 0.5 up); ln2 split in two (Cody-Waite) so
     * k * LN2_HI is exact. */
    int k = (int)(x * 1.4426950408889634 - 0.5);
    double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = inv_factorial[8];
    for (int n = 7; n >= 0; n--) p = p * r + inv_factorial[n];
    /* 2^k built from its bits: k >= -1022, a normal double. */
    union { uint64_t bits; double value; } scale = {.bits = (uint64_t)(k + 1023) << 52};
    return p * scale.value;
}

/* NaN would break the ordering and +inf the softmax: a NaN logit can never
 * be drawn, +inf is the largest float. -inf stays (a masked token). */
static float clean_logit(float x) {
    if (isnan(x)) return -INFINITY;
    if (x > FLT_MAX) return FLT_MAX;
    return x;
}

/* ---- lifecycle --------------------------------------------------------- */

static int penalties_active(const lm_sampling_params *p) {
    int repeat = p->repeat_penalty > 0.0f && p->repeat_penalty != 1.0f && isfinite(p->repeat_penalty);
    int frequency = p->frequency_penalty != 0.0f && isfinite(p->frequency_penalty);
    int presence = p->presence_penalty != 0.0f && isfinite(p->presence_penalty);
    return p->repeat_last_n > 0 && (repeat || frequency || presence);
}

lm_sampler *lm_sampler_new(const lm_sampling_params *params, int32_t n_vocab) {
    if (n_vocab <= 0) return NULL;
    lm_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->params = params ? *params : lm_sampling_params_default();
    s->n_vocab = n_vocab;
    s->cand = calloc((size_t)n_vocab, sizeof *s->cand);
    if (penalties_active(&s->params)) {
        s->history_cap = s->params.repeat_last_n;
        s->history = calloc((size_t)s->history_cap, sizeof *s->history);
        s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    }
    if (!s->cand || (s->history_cap && (!s->history || !s->counts))) {
        lm_sampler_free(s);
        return NULL;
    }
    s->rng = s->params.seed;
    return s;
}

void lm_sampler_free(lm_sampler *sampler) {
    if (!sampler) return;
    free(sampler->cand);
    free(sampler->history);
    free(sampler->counts);
    free(sampler);
}

void lm_sampler_reset(lm_sampler *sampler) {
    if (!sampler) return;
    if (sampler->counts) memset(sampler->counts, 0, (size_t)sampler->n_vocab * sizeof *sampler->counts);
    sampler->history_len = 0;
    sampler->history_head = 0;
    sampler->rng = sampler->params.seed;
}

void lm_sampler_accept(lm_sampler *sampler, int32_t token) {
    if (!sampler || sampler->history_cap == 0) return;
    if (token < 0 || token >= sampler->n_vocab) return;
    int32_t *slot = &sampler->history[sampler->history_head];
    if (sampler->history_len == sampler->history_cap) {
        sampler->counts[*slot]--; /* the oldest token leaves the window */
    } else {
        sampler->history_len++;
    }
    *slot = token;
    sampler->counts[token]++;
    sampler->history_head = (sampler->history_head + 1) % sampler->history_cap;
}

/* ---- the chain --------------------------------------------------------- */

/* Repeat penalty as in CTRL / llama.cpp (divide positive logits, multiply
 * negative ones), then OpenAI's frequency and presence penalties:
 * logit -= count * frequency + (count > 0) * presence. Each token in the
 * window is penalized once: its count is negated while it is done. */
static void apply_penalties(lm_sampler *s) {
    const lm_sampling_params *p = &s->params;
    for (int32_t i = 0; i < s->history_len; i++) {
        int32_t t = s->history[i];
        int32_t count = s->counts[t];
        if (count <= 0) continue;
        float logit = s->cand[t].logit;
        if (p->repeat_penalty > 0.0f && isfinite(p->repeat_penalty))
            logit = logit <= 0.0f ? logit * p->repeat_penalty : logit / p->repeat_penalty;
        if (isfinite(p->frequency_penalty)) logit -= (float)count * p->frequency_penalty;
        if (isfinite(p->presence_penalty)) logit -= p->presence_penalty;
        s->cand[t].logit = clean_logit(logit);
        s->counts[t] = -count;
    }
    for (int32_t i = 0; i < s->history_len; i++) {
        int32_t t = s->history[i];
        if (s->counts[t] < 0) s->counts[t] = -s->counts[t];
    }
}

/* The candidates' total order: higher logit first, then lower id. */
static int ranks_before(const candidate *a, const candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Lowest id among the highest logits. */
static int32_t argmax(const candidate *c, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (ranks_before(&c[i], &c[best])) best = i;
    return c[best].id;
}

static void swap(candidate *a, candidate *b) {
    candidate t = *a;
    *a = *b;
    *b = t;
}

/* Heap whose root is the worst-ranked of its n entries. */
static void sift_down(candidate *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t worst = i, left = 2 * i + 1, right = left + 1;
        if (left < n && ranks_before(&h[worst], &h[left])) worst = left;
        if (right < n && ranks_before(&h[worst], &h[right])) worst = right;
        if (worst == i) return;
        swap(&h[i], &h[worst]);
        i = worst;
    }
}

/* Moves the k best candidates to the front, best first, in O(n log k):
 * a heap of the k best seen so far, then heapsort of those k. The others
 * stay behind them in some order. */
static void keep_top_k(candidate *c, int32_t n, int32_t k) {
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (ranks_before(&c[i], &c[0])) {
            swap(&c[0], &c[i]); /* a swap keeps c a permutation for a retry */
            sift_down(c, k, 0);
        }
    }
    for (int32_t end = k - 1; end > 0; end--) {
        swap(&c[0], &c[end]);
        sift_down(c, end, 0);
    }
}

static float max_logit(const candidate *c, int32_t n) {
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (c[i].logit > m) m = c[i].logit;
    return m;
}

/* Unnormalized softmax weight of a logit at temperature t. */
static double weight(float logit, float max, double t) {
    return exp_nonpositive(((double)logit - max) / t);
}

static double sum_weights(const candidate *c, int32_t n, float max, double t) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += weight(c[i].logit, max, t);
    return sum;
}

/* Length of the prefix of c[0..n) whose weights reach target, 0 if none. */
static int32_t prefix_reaching(const candidate *c, int32_t n, float max, double target) {
    double cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += weight(c[i].logit, max, 1.0);
        if (cum >= target) return i + 1;
    }
    return 0;
}

/* Keeps the smallest best-first prefix whose probability reaches top_p.
 * Unsorted candidates are not sorted whole: a best-first prefix of 64, 512,
 * 4096... tokens is selected until it holds the mass, which for a real
 * model's peaked distribution is the first one. */
static int32_t keep_top_p(candidate *c, int32_t n, float top_p, int sorted) {
    float max = max_logit(c, n);
    double target = (double)top_p * sum_weights(c, n, max, 1.0);
    int32_t k = sorted ? n : 64;
    for (;;) {
        if (k > n) k = n;
        if (!sorted) keep_top_k(c, n, k);
        int32_t kept = prefix_reaching(c, k, max, target);
        if (kept) return kept;
        if (k == n) return n; /* rounding kept the total just out of reach */
        k = k > n / 8 ? n : k * 8;
    }
}

/* Keeps (in order) the tokens at least min_p times as likely as the best,
 * and always the best ones, whatever min_p is. */
static int32_t keep_min_p(candidate *c, int32_t n, float min_p) {
    float max = max_logit(c, n);
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++)
        if (c[i].logit == max || weight(c[i].logit, max, 1.0) >= min_p) c[kept++] = c[i];
    return kept;
}

/* Draws from the softmax at the temperature, in the candidates' order. */
static int32_t draw(lm_sampler *s, const candidate *c, int32_t n) {
    float max = max_logit(c, n);
    double t = s->params.temperature;
    double total = sum_weights(c, n, max, t);
    double target = rng_uniform(&s->rng) * total, cum = 0.0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        double w = weight(c[i].logit, max, t);
        if (w <= 0.0) continue;
        cum += w;
        last = i;
        if (cum > target) return c[i].id;
    }
    return c[last].id; /* only when rounding left target == total */
}

static int32_t choose(lm_sampler *s, const float *logits) {
    const lm_sampling_params *p = &s->params;
    candidate *c = s->cand;
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) {
        c[i].logit = clean_logit(logits[i]);
        c[i].id = i;
    }
    if (s->history_len > 0) apply_penalties(s);
    /* Greedy also when every token is masked: no distribution to draw from. */
    if (!(p->temperature > 0.0f) || max_logit(c, n) == -INFINITY) return argmax(c, n);
    int sorted = 0;
    if (p->top_k > 0 && p->top_k < n) {
        keep_top_k(c, n, p->top_k);
        n = p->top_k;
        sorted = 1;
    }
    if (p->top_p < 1.0f) n = keep_top_p(c, n, p->top_p, sorted);
    if (p->min_p > 0.0f) n = keep_min_p(c, n, p->min_p);
    return draw(s, c, n);
}

enum { ARGMAX_LANES = 64 };

/* What argmax picks, straight from the logits: greedy without penalties
 * needs no candidate array. Lane j keeps the best of logits j,
 * j + ARGMAX_LANES, ... (the first of equals: only a greater one replaces
 * it), an element-wise loop that gcc and clang vectorize; then the lanes'
 * bests are ranked. Comparisons only, so exact everywhere. */
static int32_t argmax_logits(const float *logits, int32_t n) {
    float best[ARGMAX_LANES];
    int32_t id[ARGMAX_LANES];
    for (int32_t j = 0; j < ARGMAX_LANES; j++) {
        best[j] = -INFINITY;
        id[j] = j; /* all masked: token 0, as argmax gives */
    }
    for (int32_t start = 0; start < n; start += ARGMAX_LANES) {
        const int32_t len = n - start < ARGMAX_LANES ? n - start : ARGMAX_LANES;
        for (int32_t j = 0; j < len; j++) {
            /* clean_logit(l) > clean_logit(best[j]) without cleaning, which
             * would make gcc branch: NaN is never greater, and a best at
             * FLT_MAX (or +inf) is never beaten. */
            const float l = logits[start + j];
            const int better = (l > best[j]) & (best[j] < FLT_MAX);
            best[j] = better ? l : best[j];
            id[j] = better ? start + j : id[j];
        }
    }
    candidate top = {clean_logit(best[0]), id[0]};
    for (int32_t j = 1; j < ARGMAX_LANES; j++) {
        const candidate lane = {clean_logit(best[j]), id[j]};
        if (ranks_before(&lane, &top)) top = lane;
    }
    return top.id;
}

int32_t lm_sampler_sample(lm_sampler *sampler, const float *logits, float *logprob) {
    if (!sampler || !logits) {
        if (logprob) *logprob = -INFINITY;
        return -1;
    }
    const int greedy = !(sampler->params.temperature > 0.0f) && sampler->history_len == 0;
    const int32_t token = greedy ? argmax_logits(logits, sampler->n_vocab) : choose(sampler, logits);
    if (logprob) {
        float entropy;
        lm_confidence_step(logits, sampler->n_vocab, token, logprob, &entropy);
    }
    return token;
}
