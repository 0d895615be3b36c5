/* localm bench: prefill and decode speed on a model, as one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clock.h"
#include "commands.h"

/* Token ids spread over the vocabulary: speed does not depend on them. */
static void fill_tokens(int32_t *tokens, int n, int32_t n_vocab) {
    for (int i = 0; i < n; i++) tokens[i] = (int32_t)((i * 7919L + 13) % n_vocab);
}

static int run_once(lm_context *ctx, const int32_t *tokens, int n_prompt, int n_gen, double *prefill,
                    double *decode) {
    lm_error err;
    lm_context_reset(ctx);
    double t0 = lm_monotonic_ms();
    if (lm_eval(ctx, tokens, n_prompt, &err) != LM_OK) return cli_fail(&err);
    double t1 = lm_monotonic_ms();
    for (int i = 0; i < n_gen; i++)
        if (lm_eval(ctx, &tokens[n_prompt + i], 1, &err) != LM_OK) return cli_fail(&err);
    double t2 = lm_monotonic_ms();
    *prefill = n_prompt * 1e3 / (t1 - t0);
    *decode = n_gen * 1e3 / (t2 - t1);
    return 0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    const char *path = NULL;
    long n_prompt = 128, n_gen = 64, threads = 1, reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[++i] : NULL;
        int ok = !strcmp(flag, "-m") ? (path = value) != NULL
                 : !strcmp(flag, "-p") ? cli_parse_int(flag, value, 1, 1 << 16, &n_prompt)
                 : !strcmp(flag, "-n") ? cli_parse_int(flag, value, 1, 1 << 16, &n_gen)
                 : !strcmp(flag, "-t") ? cli_parse_int(flag, value, 1, 256, &threads)
                 : !strcmp(flag, "-r") ? cli_parse_int(flag, value, 1, 1000, &reps)
                 : (cli_error("unknown option '%s'", flag), 0);
        if (!ok) return 1;
    }
    lm_model *model;
    lm_context *ctx;
    if (cli_load(path, (int32_t)(n_prompt + n_gen), (int)threads, &model, &ctx)) return 1;
    int32_t *tokens = malloc((size_t)(n_prompt + n_gen) * sizeof *tokens);
    double *prefill = malloc((size_t)reps * sizeof *prefill), *decode = malloc((size_t)reps * sizeof *decode);
    int status = tokens && prefill && decode ? 0 : cli_error("out of memory");
    if (!status) fill_tokens(tokens, (int)(n_prompt + n_gen), lm_n_vocab(model));
    for (long r = 0; !status && r < reps; r++)
        status = run_once(ctx, tokens, (int)n_prompt, (int)n_gen, &prefill[r], &decode[r]);
    if (!status) {
        qsort(prefill, (size_t)reps, sizeof *prefill, compare_doubles);
        qsort(decode, (size_t)reps, sizeof *decode, compare_doubles);
        printf("{\"model\":\"%s\",\"threads\":%ld,\"prefill_tokens\":%ld,\"decode_tokens\":%ld,"
               "\"repetitions\":%ld,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}\n",
               path, threads, n_prompt, n_gen, reps, prefill[reps / 2], decode[reps / 2]);
    }
    free(tokens), free(prefill), free(decode);
    lm_context_free(ctx);
    lm_model_free(model);
    return status;
}
