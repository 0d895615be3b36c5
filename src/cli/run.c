/* localm run: generate a continuation of a prompt (or a chat reply). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct run_args {
    const char *model, *prompt, *dump_path;
    int chat;
    long n_ctx, n_threads;
    lm_generate_params gen;
} run_args;

static int parse_sampling_flag(run_args *a, const char *flag, const char *value) {
    lm_sampling_params *s = &a->gen.sampling;
    long n;
    if (!strcmp(flag, "--temp")) return cli_parse_float(flag, value, &s->temperature);
    if (!strcmp(flag, "--top-p")) return cli_parse_float(flag, value, &s->top_p);
    if (!strcmp(flag, "--min-p")) return cli_parse_float(flag, value, &s->min_p);
    if (!strcmp(flag, "--repeat-penalty")) return cli_parse_float(flag, value, &s->repeat_penalty);
    if (!strcmp(flag, "--top-k"))
        return cli_parse_int(flag, value, 0, 1 << 30, &n) && (s->top_k = (int32_t)n, 1);
    if (!strcmp(flag, "--seed"))
        return cli_parse_int(flag, value, 0, 0x7fffffffL, &n) && (s->seed = (uint64_t)n, 1);
    if (!strcmp(flag, "-n"))
        return cli_parse_int(flag, value, 0, 1 << 30, &n) && (a->gen.max_tokens = (int32_t)n, 1);
    cli_error("unknown option '%s'", flag);
    return 0;
}

/* --response-format JSON (a response_format value) and --json-schema FILE
 * go through the options parser like --config. */
static int set_response_format(run_args *a, const char *format_json) {
    lm_error err;
    size_t len = strlen(format_json) + 32;
    char *options = malloc(len);
    if (!options) return cli_error("out of memory"), 0;
    snprintf(options, len, "{\"response_format\":%s}", format_json);
    lm_status s = lm_generate_params_from_json(options, &a->gen, &err);
    free(options);
    return s == LM_OK || (cli_fail(&err), 0);
}

static int set_json_schema(run_args *a, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error("cannot read '%s'", path), 0;
    static char schema[LM_MAX_SCHEMA + 64];
    const char *prefix = "{\"type\":\"json_schema\",\"schema\":";
    size_t at = strlen(prefix);
    memcpy(schema, prefix, at);
    at += fread(schema + at, 1, sizeof schema - at - 2, f);
    const int too_long = !feof(f);
    fclose(f);
    if (too_long) return cli_error("'%s' is longer than a schema may be (%d bytes)", path, LM_MAX_SCHEMA), 0;
    memcpy(schema + at, "}", 2);
    return set_response_format(a, schema);
}

static int parse_args(int argc, char **argv, run_args *a) {
    lm_error err;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(flag, "--no-bos")) a->gen.add_bos = 0;
        else if (!strcmp(flag, "--chat")) a->chat = 1;
        else if (!value) return cli_error("option '%s' needs a value", flag), 0;
        else if (i++, !strcmp(flag, "-m")) a->model = value;
        else if (!strcmp(flag, "-p")) a->prompt = value;
        else if (!strcmp(flag, "--dump-logits")) a->dump_path = value;
        else if (!strcmp(flag, "-c")) {
            if (!cli_parse_int(flag, value, 0, 1 << 20, &a->n_ctx)) return 0;
        } else if (!strcmp(flag, "-t")) {
            if (!cli_parse_int(flag, value, 1, 64, &a->n_threads)) return 0;
        } else if (!strcmp(flag, "--response-format")) {
            if (!set_response_format(a, value)) return 0;
        } else if (!strcmp(flag, "--json-schema")) {
            if (!set_json_schema(a, value)) return 0;
        } else if (!strcmp(flag, "--config")) {
            if (lm_generate_params_from_json(value, &a->gen, &err) != LM_OK) return cli_fail(&err), 0;
        } else if (!parse_sampling_flag(a, flag, value)) return 0;
    }
    if (!a->prompt) return cli_error("no prompt given (-p PROMPT)"), 0;
    return 1;
}

/* --dump-logits: the ten highest raw logits at each step and the picked
 * token's log-probability, for parity tests. */
static void dump_top_logits(FILE *f, int step, const lm_piece *piece, const float *logits, int32_t n_vocab) {
    enum { TOP = 10 };
    int32_t best[TOP];
    int found = 0;
    for (int32_t id = 0; id < n_vocab; id++) {
        int at = found < TOP ? found++ : TOP;
        while (at > 0 && logits[id] > logits[best[at - 1]]) {
            if (at < TOP) best[at] = best[at - 1];
            at--;
        }
        if (at < TOP) best[at] = id;
    }
    fprintf(f, "{\"step\":%d,\"token\":%d,\"logprob\":%.6g,\"top\":[", step, piece->token, piece->logprob);
    for (int i = 0; i < found; i++) fprintf(f, "%s[%d,%.6g]", i ? "," : "", best[i], logits[best[i]]);
    fputs("]}\n", f);
}

static char *chat_prompt(lm_model *model, const char *user_text, lm_error *err) {
    char *messages = NULL, *prompt = NULL;
    int known;
    const char *style = lm_chat_template_name(model, &known);
    if (!known) fprintf(stderr, "warning: the model's chat template is not recognised; using %s\n", style);
    /* Builds [{"role":"user","content":...}] with the text JSON-escaped. */
    size_t cap = strlen(user_text) * 6 + 64, n = 0;
    if (!(messages = malloc(cap))) return NULL;
    n += (size_t)sprintf(messages, "[{\"role\":\"user\",\"content\":\"");
    for (const unsigned char *p = (const unsigned char *)user_text; *p; p++) {
        if (*p == '"' || *p == '\\') n += (size_t)sprintf(messages + n, "\\%c", *p);
        else if (*p < 0x20) n += (size_t)sprintf(messages + n, "\\u%04x", *p);
        else messages[n++] = (char)*p;
    }
    strcpy(messages + n, "\"}]");
    if (lm_chat_format(model, messages, &prompt, err) != LM_OK) prompt = NULL;
    free(messages);
    return prompt;
}

static int generate(lm_context *ctx, lm_model *model, const char *prompt, const run_args *a) {
    lm_error err;
    lm_generation *g;
    FILE *dump = NULL;
    if (a->dump_path && !(dump = fopen(a->dump_path, "w")))
        return cli_error("cannot write '%s'", a->dump_path);
    lm_status s = lm_generation_start(ctx, prompt, &a->gen, &g, &err);
    for (int done = 0, step = 0; s == LM_OK && !done; step++) {
        lm_piece piece;
        s = lm_generation_next(g, &piece, &done, &err);
        if (s != LM_OK) break;
        if (dump && piece.token >= 0) dump_top_logits(dump, step, &piece, lm_logits(ctx), lm_n_vocab(model));
        fwrite(piece.text, 1, piece.len, stdout);
        fflush(stdout);
    }
    if (dump) fclose(dump);
    if (s != LM_OK) {
        lm_generation_free(g);
        return cli_fail(&err);
    }
    lm_generate_stats st;
    lm_generation_stats(g, &st);
    lm_generation_free(g);
    fprintf(stderr, "\nprompt: %d tokens in %.1f ms (%.1f tok/s); generated: %d tokens in %.1f ms (%.1f tok/s)\n",
            st.prompt_tokens, st.prompt_ms, st.prompt_ms > 0 ? st.prompt_tokens * 1e3 / st.prompt_ms : 0,
            st.gen_tokens, st.gen_ms, st.gen_ms > 0 ? st.gen_tokens * 1e3 / st.gen_ms : 0);
    if (st.stopped_by == 4)
        fprintf(stderr, "stopped early: the context of %d tokens is full (use -c for a larger one)\n",
                lm_context_size(ctx));
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_args a = {0};
    lm_model *model;
    lm_context *ctx;
    lm_error err;
    a.gen = lm_generate_params_default();
    a.n_threads = 1;
    if (!parse_args(argc, argv, &a)) return 1;
    if (cli_load(a.model, (int32_t)a.n_ctx, (int)a.n_threads, &model, &ctx)) return 1;
    char *chat = a.chat ? chat_prompt(model, a.prompt, &err) : NULL;
    int status = a.chat && !chat ? cli_fail(&err) : generate(ctx, model, chat ? chat : a.prompt, &a);
    free(chat);
    lm_context_free(ctx);
    lm_model_free(model);
    return status;
}
