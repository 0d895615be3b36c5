/* Confidence figures: entropy and logprob agree with a direct two-pass
 * computation in double (also over a 50257-token vocabulary) and with the
 * sampler's logprob; hostile logits (NaN, -inf, +inf, huge) give finite
 * figures; the summary of a generation matches its pieces. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "confidence.h"

enum { N = 1000 };

static void two_pass(const float *l, int n, int token, double *logprob, double *entropy) {
    double max = -INFINITY, sum = 0, h = 0;
    for (int i = 0; i < n; i++) if (l[i] > max) max = l[i];
    for (int i = 0; i < n; i++) sum += exp(l[i] - max);
    for (int i = 0; i < n; i++) {
        const double p = exp(l[i] - max) / sum;
        if (p > 0) h -= p * log(p);
    }
    *logprob = l[token] - max - log(sum);
    *entropy = h;
}

static void check_against_sampler(void) {
    float logits[N];
    srand(1);
    for (int round = 0; round < 20; round++) {
        /* Offsets up to 950 exercise the rescaling of the running sums. */
        for (int i = 0; i < N; i++) logits[i] = (float)(rand() % 20000) / 1000.0f - 10.0f + round * 50.0f;
        lm_sampling_params sp = lm_sampling_params_default();
        sp.temperature = round % 2 ? 0.8f : 0.0f;
        sp.seed = (uint64_t)round;
        lm_sampler *s = lm_sampler_new(&sp, N);
        float sampler_lp, lp, h;
        const int32_t token = lm_sampler_sample(s, logits, &sampler_lp);
        lm_sampler_free(s);
        lm_confidence_step(logits, N, token, &lp, &h);
        double want_lp, want_h;
        two_pass(logits, N, token, &want_lp, &want_h);
        CHECK(fabsf(lp - sampler_lp) < 1e-5f, "round %d: logprob %g, sampler says %g", round, lp, sampler_lp);
        CHECK(fabs(lp - want_lp) < 1e-5, "round %d: logprob %g, two passes say %g", round, lp, want_lp);
        CHECK(fabs(h - want_h) < 1e-4, "round %d: entropy %g, two passes say %g", round, h, want_h);
    }
}

/* The two-pass reference in double over the logits that are not NaN or -inf. */
static void reference(const float *l, int n, int token, double *logprob, double *entropy) {
    double max = -INFINITY, sum = 0, a = 0;
    for (int i = 0; i < n; i++) if (l[i] > max) max = l[i]; /* NaN never compares greater */
    for (int i = 0; i < n; i++) {
        if (isnan(l[i]) || l[i] == -INFINITY) continue;
        const double d = l[i] - max, w = exp(d);
        sum += w;
        a += w * d;
    }
    *logprob = l[token] - max - log(sum);
    *entropy = log(sum) - a / sum;
}

/* A vocabulary the size of GPT-2's / SmolLM2's (not a multiple of any block)
 * with logits spread over 1 to 60 nats, some rounds with NaN and -inf among
 * them. The sums are kept to ~1e-6 relative, which moves logprob and
 * entropy by ~1e-6; on top of that each figure is rounded to float, so the
 * tolerance is 1e-6 + 2^-23 of the value. */
static void check_large_vocab(void) {
    enum { V = 50257 };
    static float logits[V];
    uint32_t seed = 11;
    int worst_round = -1;
    double worst = 0.0;
    for (int round = 0; round < 24; round++) {
        const float spread = round % 3 == 0 ? 1.0f : round % 3 == 1 ? 12.0f : 60.0f;
        for (int i = 0; i < V; i++) {
            seed = seed * 1664525u + 1013904223u;
            logits[i] = ((float)(seed >> 8) / (float)(1u << 24) - 0.5f) * spread + (float)(round * 37 - 400);
            if (round % 4 == 3 && i % 97 == 0) logits[i] = i % 2 ? NAN : -INFINITY;
        }
        int top = 0;
        for (int i = 1; i < V; i++) if (logits[i] > logits[top]) top = i;
        int other = (int)(seed % (V - 1));
        if (other % 97 == 0) other++; /* not a NaN or -inf */
        const int tokens[2] = {top, other};
        for (int t = 0; t < 2; t++) {
            float lp, h;
            double want_lp, want_h;
            lm_confidence_step(logits, V, tokens[t], &lp, &h);
            reference(logits, V, tokens[t], &want_lp, &want_h);
            const double err = fmax(fabs(lp - want_lp) - 1.2e-7 * fabs(want_lp), fabs(h - want_h) - 1.2e-7 * want_h);
            if (err > worst) {
                worst = err;
                worst_round = round;
            }
        }
    }
    CHECK(worst <= 1e-6, "50257 logits: off by %g beyond float rounding in round %d", worst, worst_round);
}

static void check_edge_cases(void) {
    float logits[N], lp, h;
    for (int i = 0; i < N; i++) logits[i] = 3.0f;
    lm_confidence_step(logits, N, 7, &lp, &h);
    CHECK(fabsf(h - logf(N)) < 1e-4f && fabsf(lp + logf(N)) < 1e-4f, "uniform: entropy %g, logprob %g", h, lp);
    for (int i = 0; i < N; i++) logits[i] = i == 5 ? 1.0f : (i % 2 ? NAN : -INFINITY);
    lm_confidence_step(logits, N, 5, &lp, &h);
    CHECK(h == 0.0f && lp == 0.0f, "one finite logit: entropy %g, logprob %g", h, lp);
    lm_confidence_step(logits, N, 6, &lp, &h);
    CHECK(lp == -INFINITY, "a NaN logit has logprob %g", lp);
    lm_confidence_step(logits, N, N, &lp, &h);
    CHECK(lp == -INFINITY && h == 0.0f, "token out of range: logprob %g, entropy %g", lp, h);
    logits[5] = NAN;
    lm_confidence_step(logits, N, 5, NULL, &h);
    CHECK(h == 0.0f, "all NaN: entropy %g", h);
    logits[0] = INFINITY;
    logits[1] = INFINITY;
    lm_confidence_step(logits, N, 0, &lp, &h);
    CHECK(fabsf(lp + logf(2)) < 1e-6f && fabsf(h - logf(2)) < 1e-6f, "two +inf: logprob %g, entropy %g", lp, h);
    logits[1] = FLT_MAX; /* ties with +inf */
    lm_confidence_step(logits, N, 1, &lp, &h);
    CHECK(fabsf(lp + logf(2)) < 1e-6f && fabsf(h - logf(2)) < 1e-6f, "+inf and FLT_MAX: logprob %g, entropy %g", lp, h);

    for (int i = 0; i < N; i++) logits[i] = (float)(i % 10) - 5.0f;
    logits[3] = INFINITY;
    lm_confidence_step(logits, N, 3, &lp, &h);
    CHECK(lp == 0.0f && h == 0.0f, "one +inf among finite logits has it all: logprob %g, entropy %g", lp, h);
    lm_confidence_step(logits, N, 4, &lp, &h);
    CHECK(isfinite(lp) && lp < -1e38f, "a finite logit next to +inf: logprob %g", lp);
    logits[3] = -FLT_MAX;
    logits[7] = FLT_MAX;
    lm_confidence_step(logits, N, 3, &lp, &h);
    CHECK(lp < -3e38f && h == 0.0f, "-FLT_MAX next to FLT_MAX: logprob %g, entropy %g", lp, h);

    const float one[1] = {-7.5f};
    lm_confidence_step(one, 1, 0, &lp, &h);
    CHECK(lp == 0.0f && h == 0.0f, "one logit: logprob %g, entropy %g", lp, h);
    lm_confidence_step(one, 0, 0, &lp, &h);
    CHECK(lp == -INFINITY && h == 0.0f, "no logits: logprob %g, entropy %g", lp, h);
}

static void check_summary(void) {
    lm_confidence_sum sum = {0};
    lm_generate_stats st = {0};
    lm_confidence_summarize(&sum, &st);
    CHECK(st.perplexity == 1.0f && st.mean_logprob == 0.0f && st.low_confidence_share == 0.0f, "empty summary");
    const float p[4] = {0.9f, 0.4f, 0.8f, 0.1f};
    for (int i = 0; i < 4; i++) lm_confidence_add(&sum, logf(p[i]));
    lm_confidence_summarize(&sum, &st);
    CHECK(fabsf(st.min_logprob - logf(0.1f)) < 1e-6f, "min %g", st.min_logprob);
    CHECK(fabsf(st.low_confidence_share - 0.5f) < 1e-6f, "low share %g", st.low_confidence_share);
    CHECK(fabsf(st.mean_logprob - logf(0.9f * 0.4f * 0.8f * 0.1f) / 4) < 1e-5f, "mean %g", st.mean_logprob);
    CHECK(fabsf(st.perplexity - expf(-st.mean_logprob)) < 1e-4f, "perplexity %g", st.perplexity);
}

typedef struct collected {
    double logprob_sum;
    float min_logprob;
    int n, n_low, entropy_ok;
} collected;

static int collect(void *user, const lm_piece *piece) {
    collected *c = user;
    c->logprob_sum += piece->logprob;
    if (c->n == 0 || piece->logprob < c->min_logprob) c->min_logprob = piece->logprob;
    c->n_low += piece->logprob < logf(LM_LOW_CONFIDENCE_PROB);
    c->entropy_ok &= piece->entropy > 0.0f && isfinite(piece->entropy);
    c->n++;
    return 0;
}

/* On stories260K: every piece has an entropy, the summary matches the pieces. */
static void check_generation(const char *shared) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    lm_load_params lp = lm_load_params_default();
    lm_model *model;
    lm_context *ctx;
    lm_error err;
    if (lm_model_load_file(path, &lp, &model, &err) != LM_OK || lm_context_new(model, 0, &ctx, &err) != LM_OK) {
        CHECK(0, "loading %s: %s", path, err.message);
        return;
    }
    lm_generate_params gp = lm_generate_params_default();
    gp.max_tokens = 40;
    gp.ignore_eos = 1;
    gp.sampling.seed = 3;
    collected c = {.entropy_ok = 1};
    lm_generate_stats st;
    CHECK(lm_generate(ctx, "Once upon a time", &gp, collect, &c, &st, &err) == LM_OK, "generate: %s", err.message);
    CHECK(c.n == 40 && st.gen_tokens == 40, "%d pieces, %d tokens", c.n, st.gen_tokens);
    CHECK(c.entropy_ok, "every piece has a positive finite entropy");
    CHECK(fabsf(st.mean_logprob - (float)(c.logprob_sum / c.n)) < 1e-5f, "mean %g vs %g", st.mean_logprob, c.logprob_sum / c.n);
    CHECK(st.min_logprob == c.min_logprob, "min %g vs %g", st.min_logprob, c.min_logprob);
    CHECK(fabsf(st.low_confidence_share - (float)c.n_low / c.n) < 1e-6f, "low share %g", st.low_confidence_share);
    CHECK(st.perplexity >= 1.0f, "perplexity %g", st.perplexity);
    lm_context_free(ctx);
    lm_model_free(model);
}

int main(void) {
    check_against_sampler();
    check_large_vocab();
    check_edge_cases();
    check_summary();
    check_generation(check_shared_dir());
    return check_done();
}
