#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail(const lm_error *err) {
    return cli_error("%s (%s)", err->message, lm_status_name(err->code));
}

int cli_parse_int(const char *flag, const char *value, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || end == value || *end || v < min || v > max) {
        cli_error("%s expects an integer from %ld to %ld, got '%s'", flag, min, max, value ? value : "");
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_float(const char *flag, const char *value, float *out) {
    char *end;
    float v = value ? strtof(value, &end) : 0;
    if (!value || end == value || *end || !isfinite(v)) {
        cli_error("%s expects a number, got '%s'", flag, value ? value : "");
        return 0;
    }
    *out = v;
    return 1;
}

int cli_load_vocab(const char *path, lm_model **model) {
    lm_error err;
    lm_load_params params = lm_load_params_default();
    params.vocab_only = 1;
    if (!path) return cli_error("no model given (-m MODEL)");
    return lm_model_load_file(path, &params, model, &err) == LM_OK ? 0 : cli_fail(&err);
}

int cli_load(const char *path, int32_t n_ctx, int n_threads, lm_model **model, lm_context **ctx) {
    lm_error err;
    lm_load_params params = lm_load_params_default();
    params.n_ctx = n_ctx;
    if (!path) return cli_error("no model given (-m MODEL)");
    if (lm_model_load_file(path, &params, model, &err) != LM_OK) return cli_fail(&err);
    if (ctx && lm_context_new(*model, 0, ctx, &err) != LM_OK) {
        lm_model_free(*model);
        return cli_fail(&err);
    }
    if (ctx && lm_context_set_threads(*ctx, n_threads, &err) != LM_OK) {
        lm_context_free(*ctx);
        lm_model_free(*model);
        return cli_fail(&err);
    }
    return 0;
}
