/* Helpers shared by the CLI subcommands. */
#ifndef LM_CLI_H
#define LM_CLI_H

#include "localm.h"

/* Prints "error: <message>" to stderr and returns exit status 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a failed lm_* call. */
int cli_fail(const lm_error *err);

/* Parses a number option's value; 0 and an error message when malformed. */
int cli_parse_int(const char *flag, const char *value, long min, long max, long *out);
int cli_parse_float(const char *flag, const char *value, float *out);

/* Loads a model given by -m, with a context of n_ctx tokens (0: default)
 * evaluated by n_threads threads. */
int cli_load(const char *path, int32_t n_ctx, int n_threads, lm_model **model, lm_context **ctx);
/* Loads only the tokenizer of a GGUF (vocabulary-only files work too). */
int cli_load_vocab(const char *path, lm_model **model);

#endif
