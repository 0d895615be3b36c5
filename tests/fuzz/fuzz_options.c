/* libFuzzer target: the JSON the JS layer passes through. The first byte
 * picks generation options (even; a response_format schema is compiled and
 * closed) or chat messages in one of the template
 * styles (odd); the rest, NUL-terminated, is the JSON. The same text is also
 * run through chat-template detection, which reads the model's Jinja text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "json_constrain.h"

static js_schema schema;

/* A schema that compiles must always be closable: from the start, some
 * byte keeps the document within its shortest length, until it completes. */
static void fuzz_schema(const char *text) {
    lm_error err = {0};
    if (js_compile_schema(&schema, text, &err) != LM_OK) {
        if (err.code != LM_E_OPTION || err.message[0] == 0) __builtin_trap();
        return;
    }
    jc_state st, next;
    jc_init(&st, &schema, 0);
    const int32_t budget = jc_closing_len(&st);
    if (budget > 4096) return;
    for (int32_t used = 0; !jc_complete(&st); used++) {
        int moved = 0;
        for (int b = 0; b < 256 && !moved; b++) {
            const char byte = (char)b;
            jc_copy(&next, &st);
            if (jc_advance(&next, &byte, 1) && jc_closing_len(&next) <= budget - used - 1) {
                st = next;
                moved = 1;
            }
        }
        if (!moved) __builtin_trap();
    }
}

static void fuzz_generate_options(const char *json) {
    lm_generate_params before = lm_generate_params_default(), p = before;
    lm_error err = {0};
    if (lm_generate_params_from_json(json, &p, &err) != LM_OK) {
        /* A refused option names itself and leaves the params as they were. */
        if (err.code != LM_E_OPTION || err.message[0] == 0 || memcmp(&p, &before, sizeof p) != 0)
            __builtin_trap();
        return;
    }
    if (p.n_stop < 0 || p.n_stop > LM_MAX_STOP || p.max_tokens < 0 || p.sampling.repeat_last_n < 0)
        __builtin_trap();
    for (int i = 0; i < p.n_stop; i++)
        if (memchr(p.stop[i], 0, sizeof p.stop[i]) == NULL || p.stop[i][0] == 0) __builtin_trap();
    if (p.response_format == LM_FORMAT_JSON_SCHEMA) fuzz_schema(p.response_schema);
}

static void fuzz_chat(unsigned style, const char *json) {
    char *out = NULL;
    lm_error err = {0};
    lm_status s = lm_chat_apply((lm_chat_style)style, "<s>", json, &out, &err);
    if (s == LM_OK ? out == NULL : (out != NULL || err.message[0] == 0)) __builtin_trap();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size); /* the JSON after the selector byte, NUL-terminated */
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    if (data[0] % 2 == 0) fuzz_generate_options(text);
    else fuzz_chat((data[0] >> 1) % (LM_CHAT_GEMMA + 1), text);
    int known;
    if ((unsigned)lm_chat_detect(text, &known) > LM_CHAT_GEMMA) __builtin_trap();
    free(text);
    return 0;
}
