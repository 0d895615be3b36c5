/* Sampler: greedy and its ties (also greedy's own pass over hostile logits
 * against a plain reference), determinism per seed, the empirical
 * distribution against softmax, what top-k / top-p / min-p exclude, the
 * penalties' arithmetic and the reported log-probability. */
#include "check.h"
#include "localm.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define N_DRAWS 100000

/* Test logits from a fixed LCG, so they are the same on every platform. */
static void fill_logits(float *logits, int n, uint32_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        logits[i] = (float)(seed >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
    }
}

static lm_sampling_params plain_params(float temperature) {
    lm_sampling_params p = lm_sampling_params_default();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

static void softmax(const float *logits, int n, float temperature, double *out) {
    double max = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
    for (int i = 0; i < n; i++) sum += out[i] = exp((logits[i] - max) / temperature);
    for (int i = 0; i < n; i++) out[i] /= sum;
}

/* Frequencies of n_draws draws from the same logits. */
static void draw_n(const lm_sampling_params *p, const float *logits, int n, int n_draws, double *freq) {
    lm_sampler *s = lm_sampler_new(p, n);
    memset(freq, 0, (size_t)n * sizeof *freq);
    for (int i = 0; i < n_draws; i++) {
        int32_t t = lm_sampler_sample(s, logits, NULL);
        if (t >= 0 && t < n) freq[t] += 1.0 / n_draws;
    }
    lm_sampler_free(s);
}

static void draw_frequencies(const lm_sampling_params *p, const float *logits, int n, double *freq) {
    draw_n(p, logits, n, N_DRAWS, freq);
}

static int32_t sample_once(const lm_sampling_params *p, const float *logits, int n,
                           const int32_t *history, int n_history) {
    lm_sampler *s = lm_sampler_new(p, n);
    for (int i = 0; i < n_history; i++) lm_sampler_accept(s, history[i]);
    int32_t t = lm_sampler_sample(s, logits, NULL);
    lm_sampler_free(s);
    return t;
}

static void test_defaults(void) {
    lm_sampling_params p = lm_sampling_params_default();
    CHECK(p.temperature == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f,
          "truncation defaults");
    CHECK(p.repeat_penalty == 1.0f && p.repeat_last_n == 64 && p.frequency_penalty == 0.0f &&
          p.presence_penalty == 0.0f && p.seed == 0, "penalty defaults");
}

static void test_greedy(void) {
    float logits[8] = {0.5f, 1.0f, -2.0f, 3.0f, 2.9f, -INFINITY, 0.0f, 3.0f};
    lm_sampling_params p = plain_params(0.0f);
    CHECK(sample_once(&p, logits, 8, NULL, 0) == 3, "greedy takes the lowest id of a tie");
    p.temperature = -1.0f;
    CHECK(sample_once(&p, logits, 8, NULL, 0) == 3, "negative temperature is greedy");
    logits[3] = NAN;
    CHECK(sample_once(&p, logits, 8, NULL, 0) == 7, "a NaN logit is never chosen");
    logits[1] = INFINITY;
    CHECK(sample_once(&p, logits, 8, NULL, 0) == 1, "+inf is the largest logit");

    float masked[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    p = plain_params(1.0f);
    CHECK(sample_once(&p, masked, 4, NULL, 0) == 0, "all masked: token 0, no crash");
}

static void test_top_k_one_is_greedy(void) {
    enum { N = 1000 };
    static float logits[N];
    lm_sampling_params greedy = plain_params(0.0f);
    lm_sampling_params top1 = lm_sampling_params_default();
    top1.top_k = 1;
    top1.temperature = 1.5f;
    int same = 1;
    for (uint32_t round = 0; round < 50; round++) {
        fill_logits(logits, N, round);
        logits[round * 7] = logits[round * 11] = 9.0f; /* a tie at the top */
        top1.seed = round;
        if (sample_once(&greedy, logits, N, NULL, 0) != sample_once(&top1, logits, N, NULL, 0)) same = 0;
    }
    CHECK(same, "top_k=1 picks what greedy picks, ties included");
}

/* Greedy as the header comment of sampler.c defines it: NaN is -inf, +inf
 * is FLT_MAX, the lowest id among the highest. */
static int32_t reference_argmax(const float *logits, int n) {
    int32_t best = 0;
    float best_logit = -INFINITY;
    for (int i = 0; i < n; i++) {
        const float l = isnan(logits[i]) ? -INFINITY : logits[i] > FLT_MAX ? FLT_MAX : logits[i];
        if (i == 0 || l > best_logit) {
            best = i;
            best_logit = l;
        }
    }
    return best;
}

/* Greedy without penalties goes over the logits in lanes (token i in lane
 * i % 64 of the implementation): ties within a lane and across lanes, NaN,
 * -inf, +inf next to FLT_MAX, vocabularies shorter than a lane and not a
 * multiple of it. Each case also against top_k = 1, which ranks candidates. */
static void test_greedy_fast_path(void) {
    enum { V = 50257 };
    static float logits[V];
    const lm_sampling_params greedy = plain_params(0.0f);
    lm_sampling_params top1 = plain_params(1.0f);
    top1.top_k = 1;
    struct { int n, a, b; float va, vb; const char *what; } ties[] = {
        {200, 70, 6, 3.0f, 3.0f, "a tie in one lane"},
        {200, 130, 5, 2.0f, 2.0f, "a tie across lanes, the higher id in the lower lane"},
        {200, 9, 4, FLT_MAX, INFINITY, "+inf ties with FLT_MAX"},
        {200, 4, 9, FLT_MAX, INFINITY, "FLT_MAX ties with +inf"},
        {3, 2, 1, 1.0f, 1.0f, "three tokens"},
        {V, V - 1, V - 2, 0.5f, 0.5f, "the last tokens of a large vocabulary"},
    };
    for (size_t t = 0; t < sizeof ties / sizeof ties[0]; t++) {
        for (int i = 0; i < ties[t].n; i++) logits[i] = -1.0f;
        logits[ties[t].a] = ties[t].va;
        logits[ties[t].b] = ties[t].vb;
        const int32_t want = ties[t].a < ties[t].b ? ties[t].a : ties[t].b;
        CHECK(sample_once(&greedy, logits, ties[t].n, NULL, 0) == want, "%s: greedy", ties[t].what);
        CHECK(sample_once(&top1, logits, ties[t].n, NULL, 0) == want, "%s: top_k=1", ties[t].what);
    }

    const float masked[3][5] = {
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
        {NAN, NAN, NAN, NAN, NAN},
        {NAN, -INFINITY, NAN, -INFINITY, -INFINITY},
    };
    for (int m = 0; m < 3; m++) CHECK(sample_once(&greedy, masked[m], 5, NULL, 0) == 0, "all masked (%d): token 0", m);
    const float nan_first[4] = {NAN, -INFINITY, -3.0f, NAN};
    CHECK(sample_once(&greedy, nan_first, 4, NULL, 0) == 2, "the one finite logit among NaN and -inf");

    /* Above fill_logits' [-4, 4): rounds 0-3 plant ties at the top, 4-7 also
     * NaN and -inf, 8-11 also +inf and FLT_MAX. */
    const float planted[3][4] = {{4.0f, 4.0f, 4.0f, 4.0f}, {NAN, -INFINITY, 4.0f, 4.0f},
                                 {NAN, -INFINITY, INFINITY, FLT_MAX}};
    int same = 1, same_top1 = 1;
    uint32_t seed = 5;
    for (int round = 0; round < 12; round++) {
        const int n = round % 2 ? V : 1000 + round * 131;
        fill_logits(logits, n, (uint32_t)round);
        for (int k = 0; k < 40; k++) {
            seed = seed * 1664525u + 1013904223u;
            logits[(seed >> 8) % (uint32_t)n] = planted[round / 4][k % 4];
        }
        const int32_t want = reference_argmax(logits, n);
        if (sample_once(&greedy, logits, n, NULL, 0) != want) same = 0;
        if (sample_once(&top1, logits, n, NULL, 0) != want) same_top1 = 0;
    }
    CHECK(same, "greedy matches the reference on random logits with ties, NaN, -inf, +inf");
    CHECK(same_top1, "top_k=1 matches the reference on the same logits");
}

static void sample_sequence(const lm_sampling_params *p, const float *logits, int n,
                            int32_t *out, int len) {
    lm_sampler *s = lm_sampler_new(p, n);
    for (int i = 0; i < len; i++) out[i] = lm_sampler_sample(s, logits, NULL);
    lm_sampler_free(s);
}

static void test_seeds(void) {
    enum { N = 500, LEN = 32 };
    static float logits[N];
    fill_logits(logits, N, 7);
    lm_sampling_params p = lm_sampling_params_default();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.min_p = 0.0f;
    int32_t a[LEN], b[LEN], c[LEN];
    p.seed = 1234;
    sample_sequence(&p, logits, N, a, LEN);
    sample_sequence(&p, logits, N, b, LEN);
    p.seed = 1235;
    sample_sequence(&p, logits, N, c, LEN);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed, same tokens");
    CHECK(memcmp(a, c, sizeof a) != 0, "different seed, different tokens");

    /* The exact stream for seed 42, so native and wasm32 builds can be held
     * to the same tokens (with identical logits). */
    static const int32_t expected[16] = {
        19, 27, 327, 124, 489, 171, 214, 131, 178, 431, 276, 382, 130, 460, 46, 276,
    };
    p.seed = 42;
    sample_sequence(&p, logits, N, a, 16);
    int match = memcmp(a, expected, sizeof expected) == 0;
    CHECK(match, "seed 42 stream matches the recorded one");
    if (!match) {
        for (int i = 0; i < 16; i++) fprintf(stderr, "%d, ", a[i]);
        fputc('\n', stderr);
    }

    lm_sampler *s = lm_sampler_new(&p, N);
    int32_t first = lm_sampler_sample(s, logits, NULL);
    lm_sampler_sample(s, logits, NULL);
    lm_sampler_reset(s);
    CHECK(lm_sampler_sample(s, logits, NULL) == first, "reset re-seeds");
    lm_sampler_free(s);
}

static double max_abs_diff(const double *a, const double *b, int n) {
    double d = 0.0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void test_distribution(void) {
    enum { N = 6 };
    const float logits[N] = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 2.0f};
    double freq[N], want[N];
    lm_sampling_params p = plain_params(1.0f);
    p.seed = 99;
    draw_frequencies(&p, logits, N, freq);
    softmax(logits, N, 1.0f, want);
    /* The standard deviation of a frequency is at most 0.5/sqrt(N_DRAWS) ~ 0.0016. */
    CHECK(max_abs_diff(freq, want, N) < 0.006, "frequencies match softmax (diff %g)",
          max_abs_diff(freq, want, N));

    p.temperature = 0.5f;
    draw_frequencies(&p, logits, N, freq);
    softmax(logits, N, 0.5f, want);
    CHECK(max_abs_diff(freq, want, N) < 0.006, "frequencies match softmax at T=0.5 (diff %g)",
          max_abs_diff(freq, want, N));
}

static void test_truncation(void) {
    enum { N = 5 };
    /* Probabilities 0.5, 0.25, 0.15, 0.07, 0.03 in a shuffled order. */
    const float logits[N] = {logf(0.15f), logf(0.5f), logf(0.03f), logf(0.25f), logf(0.07f)};
    double freq[N];
    lm_sampling_params p = plain_params(1.0f);

    p.top_k = 2;
    draw_frequencies(&p, logits, N, freq);
    CHECK(freq[0] == 0 && freq[2] == 0 && freq[4] == 0, "top_k=2 keeps only the two best");
    CHECK(fabs(freq[1] - 0.5 / 0.75) < 0.006, "top_k renormalizes (%g)", freq[1]);

    p.top_k = 0;
    p.top_p = 0.85f; /* 0.5 + 0.25 < 0.85 <= 0.5 + 0.25 + 0.15 */
    draw_frequencies(&p, logits, N, freq);
    CHECK(freq[2] == 0 && freq[4] == 0 && freq[0] > 0, "top_p keeps the token that crosses it");
    CHECK(fabs(freq[1] - 0.5 / 0.9) < 0.006, "top_p renormalizes (%g)", freq[1]);
    p.top_p = 0.0f;
    draw_frequencies(&p, logits, N, freq);
    CHECK(freq[0] == 0 && freq[2] == 0 && freq[3] == 0 && freq[4] == 0, "top_p=0 keeps the best token only");

    p.top_p = 1.0f;
    p.min_p = 0.2f; /* threshold 0.1: 0.07 and 0.03 go */
    draw_frequencies(&p, logits, N, freq);
    CHECK(freq[2] == 0 && freq[4] == 0 && freq[0] > 0, "min_p drops tokens below min_p * best");
    CHECK(fabs(freq[0] - 0.15 / 0.9) < 0.006, "min_p renormalizes (%g)", freq[0]);

    /* Order of the chain: top_p and min_p see the untempered distribution. */
    p.min_p = 0.0f;
    p.top_p = 0.85f;
    p.temperature = 100.0f;
    draw_frequencies(&p, logits, N, freq);
    CHECK(freq[2] == 0 && freq[4] == 0, "temperature comes after top_p");
    CHECK(fabs(freq[0] - 1.0 / 3) < 0.01, "high temperature flattens what is left (%g)", freq[0]);
}

typedef struct {
    float logit;
    int id;
} ranked;

static int by_rank(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id - y->id;
}

/* A flat distribution, so top_p needs most of the vocabulary (more than the
 * sampler's first partial selections of 64 and 512): exactly the tokens of
 * the reference prefix are drawn, as often as the renormalized softmax says. */
static void test_top_p_wide(void) {
    enum { N = 800, DRAWS = 15000 };
    static float logits[N];
    static double freq[N], want[N];
    static ranked order[N];
    fill_logits(logits, N, 3);
    for (int i = 0; i < N; i++) logits[i] *= 0.25f;
    softmax(logits, N, 1.0f, want);
    for (int i = 0; i < N; i++) order[i] = (ranked){logits[i], i};
    qsort(order, N, sizeof order[0], by_rank);
    double cum = 0.0;
    int kept = 0;
    while (kept < N && cum < 0.9) cum += want[order[kept++].id];
    for (int i = kept; i < N; i++) want[order[i].id] = 0.0;
    for (int i = 0; i < N; i++) want[i] /= cum;

    lm_sampling_params p = plain_params(1.0f);
    p.top_p = 0.9f;
    draw_n(&p, logits, N, DRAWS, freq);
    int missing = 0, outside = 0;
    for (int i = 0; i < kept; i++) missing += freq[order[i].id] == 0.0; /* ~25 draws expected each */
    for (int i = kept; i < N; i++) outside += freq[order[i].id] > 0.0;
    CHECK(kept > 512 && missing == 0 && outside == 0,
          "top_p over %d of %d tokens: %d of them never drawn, %d others drawn", kept, N, missing, outside);
    CHECK(max_abs_diff(freq, want, N) < 0.002, "wide top_p follows the renormalized softmax (diff %g)",
          max_abs_diff(freq, want, N));
}

static void test_penalties(void) {
    const float logits[4] = {2.0f, 1.9f, -1.0f, -1.05f};
    const int32_t once[1] = {0};
    const int32_t twice[2] = {0, 0};
    lm_sampling_params p = plain_params(0.0f);

    p.repeat_penalty = 1.1f; /* 2 / 1.1 = 1.82 < 1.9 */
    CHECK(sample_once(&p, logits, 4, once, 1) == 1, "repeat penalty divides a positive logit");
    p.repeat_penalty = 1.04f; /* 2 / 1.04 = 1.92 > 1.9 */
    CHECK(sample_once(&p, logits, 4, twice, 2) == 0, "repeat penalty ignores the count");

    const float negative[3] = {-1.0f, -1.05f, -9.0f};
    p.repeat_penalty = 1.1f; /* -1 * 1.1 = -1.1 < -1.05 */
    CHECK(sample_once(&p, negative, 3, once, 1) == 1, "repeat penalty multiplies a negative logit");
    p.repeat_penalty = 1.04f; /* -1.04 > -1.05 */
    CHECK(sample_once(&p, negative, 3, once, 1) == 0, "repeat penalty 1.04 is not enough");
    p.repeat_penalty = 1.0f;

    p.frequency_penalty = 0.06f; /* 2 - 2 * 0.06 = 1.88 */
    CHECK(sample_once(&p, logits, 4, twice, 2) == 1, "frequency penalty scales with the count");
    CHECK(sample_once(&p, logits, 4, once, 1) == 0, "one occurrence: 1.94 still wins");
    p.frequency_penalty = 0.0f;

    p.presence_penalty = 0.15f; /* 1.85 */
    CHECK(sample_once(&p, logits, 4, once, 1) == 1, "presence penalty");
    p.presence_penalty = 0.07f; /* 1.93 whatever the count */
    CHECK(sample_once(&p, logits, 4, twice, 2) == 0, "presence penalty ignores the count");

    p.presence_penalty = 0.15f;
    p.repeat_last_n = 2;
    const int32_t evicted[3] = {0, 2, 3};
    CHECK(sample_once(&p, logits, 4, evicted, 3) == 0, "tokens older than repeat_last_n are not penalized");
    const int32_t hostile[3] = {-1, 4, 1 << 30};
    CHECK(sample_once(&p, logits, 4, hostile, 3) == 0, "out-of-range accepted tokens are ignored");
    p.repeat_last_n = 0;
    CHECK(sample_once(&p, logits, 4, once, 1) == 0, "repeat_last_n=0 turns penalties off");

    p.repeat_last_n = 64;
    p.repeat_penalty = 0.5f; /* rewards repetition: 1.9 / 0.5 = 3.8 */
    const int32_t one[1] = {1};
    CHECK(sample_once(&p, logits, 4, one, 1) == 1, "repeat penalty below 1 raises the logit");
}

static void test_logprob(void) {
    const float logits[3] = {1.0f, 2.0f, 3.0f};
    const double want = 3.0 - log(exp(1.0) + exp(2.0) + exp(3.0));
    lm_sampling_params p = plain_params(0.0f);
    p.presence_penalty = 5.0f;
    lm_sampler *s = lm_sampler_new(&p, 3);
    float lp = 0.0f;
    CHECK(lm_sampler_sample(s, logits, &lp) == 2, "greedy picks 2");
    CHECK(fabs(lp - want) < 1e-6, "logprob %g, want %g", lp, want);
    lm_sampler_accept(s, 2);
    CHECK(lm_sampler_sample(s, logits, &lp) == 1, "the penalty moves the choice to 1");
    CHECK(fabs(lp - (want - 1.0)) < 1e-6, "logprob ignores penalties: %g", lp);
    lm_sampler_free(s);
}

static void test_hostile(void) {
    const float logits[2] = {0.0f, 1.0f};
    float lp = 0.0f;
    CHECK(lm_sampler_new(NULL, 0) == NULL, "n_vocab 0 is refused");
    CHECK(lm_sampler_new(NULL, -5) == NULL, "negative n_vocab is refused");
    CHECK(lm_sampler_sample(NULL, logits, &lp) == -1 && lp == -INFINITY, "NULL sampler");
    lm_sampler *s = lm_sampler_new(NULL, 2);
    CHECK(s != NULL, "NULL params mean the defaults");
    CHECK(lm_sampler_sample(s, NULL, NULL) == -1, "NULL logits");
    lm_sampler_accept(s, 99);
    lm_sampler_accept(NULL, 0);
    lm_sampler_reset(NULL);
    lm_sampler_free(s);
    lm_sampler_free(NULL);
}

int main(void) {
    test_defaults();
    test_greedy();
    test_top_k_one_is_greedy();
    test_greedy_fast_path();
    test_seeds();
    test_distribution();
    test_truncation();
    test_top_p_wide();
    test_penalties();
    test_logprob();
    test_hostile();
    return check_done();
}
