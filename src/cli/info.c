/* localm info: the model's metadata and hyper-parameters as JSON. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else return cli_error("unexpected argument '%s'", argv[i]);
    }
    lm_model *model;
    if (cli_load(path, 0, 1, &model, NULL)) return 1;
    puts(lm_model_info_json(model));
    lm_model_free(model);
    return 0;
}
