/* localm tokenize: print the token ids of a text as a JSON array. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL;
    int add_bos = -1, special = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--no-bos")) add_bos = 0;
        else if (!strcmp(argv[i], "--special")) special = 1;
        else if (argv[i][0] == '-' && argv[i][1] && !text) return cli_error("unknown option '%s'", argv[i]);
        else if (!text) text = argv[i];
        else return cli_error("unexpected argument '%s'", argv[i]);
    }
    if (!text) return cli_error("no text given");
    lm_model *model;
    if (cli_load_vocab(path, &model)) return 1;
    if (add_bos < 0) add_bos = lm_add_bos_default(model);
    const size_t len = strlen(text);
    int32_t n = lm_tokenize(model, text, len, add_bos, special, NULL, 0);
    if (n == -INT32_MAX) {
        lm_model_free(model);
        return cli_error("out of memory tokenizing the text");
    }
    int32_t *ids = malloc(((size_t)(n < 0 ? -n : n) + 1) * sizeof *ids);
    if (!ids) {
        lm_model_free(model);
        return cli_error("out of memory");
    }
    n = lm_tokenize(model, text, len, add_bos, special, ids, n < 0 ? -n : n);
    putchar('[');
    for (int32_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
    puts("]");
    free(ids);
    lm_model_free(model);
    return 0;
}
