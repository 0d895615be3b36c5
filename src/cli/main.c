/* localm: the native command line over the same core the browser runs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"run", cmd_run, "run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
                     "      [--repeat-penalty R] [--seed S] [--config JSON] [--no-bos] [--chat] [-c CTX] [-t THREADS]\n"
                     "      [--response-format JSON] [--json-schema FILE]\n"
                     "      [--dump-logits FILE]"},
    {"tokenize", cmd_tokenize, "tokenize -m MODEL [--no-bos] [--special] TEXT"},
    {"embed", cmd_embed, "embed -m MODEL [-t THREADS] [-c CTX] TEXT"},
    {"info", cmd_info, "info -m MODEL"},
    {"bench", cmd_bench, "bench -m MODEL [-p 128] [-n 64] [-t THREADS] [-r REPS]"},
    {"quantize", cmd_quantize, "quantize IN.gguf OUT.gguf TYPE"},
    {"serve", cmd_serve, "serve -m MODEL [--host 127.0.0.1] [--port 8080] [--public] [--cors ORIGIN] [-c CTX] [-t THREADS]\n"
                         "      [--log FILE]"},
};

static int usage(FILE *to) {
    fputs("usage: localm COMMAND [OPTIONS]\n", to);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(to, "  localm %s\n", commands[i].usage);
    return to == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) return usage(stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    return usage(stderr);
}
