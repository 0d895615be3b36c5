/* localm embed: print the unit-length mean-pooled embedding of a text as a
 * JSON array (full float precision, so other tools can compare exactly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int cmd_embed(int argc, char **argv) {
    const char *path = NULL, *text = NULL;
    long n_threads = 1, n_ctx = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            if (!cli_parse_int("-t", argv[++i], 1, 64, &n_threads)) return 1;
        } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            if (!cli_parse_int("-c", argv[++i], 1, 1 << 20, &n_ctx)) return 1;
        } else if (argv[i][0] == '-' && argv[i][1] && !text) return cli_error("unknown option '%s'", argv[i]);
        else if (!text) text = argv[i];
        else return cli_error("unexpected argument '%s'", argv[i]);
    }
    if (!text) return cli_error("no text given");
    lm_model *model;
    lm_context *ctx;
    if (cli_load(path, (int32_t)n_ctx, (int)n_threads, &model, &ctx)) return 1;
    const int32_t d = lm_n_embd(model);
    float *vec = malloc((size_t)d * sizeof *vec);
    lm_error err;
    int status = 0;
    if (!vec) status = cli_error("out of memory for %d floats", d);
    else if (lm_embed(ctx, text, strlen(text), vec, d, &err) != LM_OK) status = cli_fail(&err);
    else {
        putchar('[');
        for (int32_t i = 0; i < d; i++) printf("%s%.9g", i ? ", " : "", vec[i]);
        puts("]");
    }
    free(vec);
    lm_context_free(ctx);
    lm_model_free(model);
    return status;
}
