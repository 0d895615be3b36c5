/* Greedy generation on the real stories260K model reproduces the reference
 * implementation's continuations exactly (../shared/golden). */
#include <cjson/cJSON.h>
#include <string.h>

#include "check.h"
#include "localm.h"

typedef struct text_buf {
    char data[4096];
    size_t len;
} text_buf;

static int collect(void *user, const lm_piece *piece) {
    text_buf *b = user;
    if (b->len + piece->len < sizeof b->data) {
        memcpy(b->data + b->len, piece->text, piece->len);
        b->len += piece->len;
    }
    return 0;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) == (size_t)n) s[n] = 0;
    fclose(f);
    return s;
}

static void run_case(lm_context *ctx, const char *prompt, int n_predict, const char *expected) {
    lm_generate_params params = lm_generate_params_default();
    params.sampling.temperature = 0;
    params.max_tokens = n_predict;
    params.add_bos = 1;
    text_buf out = {.len = 0};
    lm_error err;
    lm_context_reset(ctx);
    lm_status s = lm_generate(ctx, prompt, &params, collect, &out, NULL, &err);
    out.data[out.len] = 0;
    CHECK(s == LM_OK, "generate '%s': %s", prompt, err.message);
    CHECK(strcmp(out.data, expected) == 0, "prompt '%s'\n got:      %s\n expected: %s", prompt, out.data, expected);
}

int main(void) {
    const char *shared = check_shared_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/stories260K-greedy.json", shared);
    char *text = read_text(path);
    cJSON *golden = text ? cJSON_Parse(text) : NULL;
    CHECK(golden != NULL, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    lm_model *model = NULL;
    lm_context *ctx = NULL;
    lm_error err;
    CHECK(lm_model_load_file(path, NULL, &model, &err) == LM_OK, "load: %s", err.message);
    if (model) CHECK(lm_context_new(model, 0, &ctx, &err) == LM_OK, "context: %s", err.message);
    const cJSON *c;
    int threads[] = {1, 2};
    for (int t = 0; golden && ctx && t < 2; t++) {
        /* A build without threads (the single-thread wasm module) runs 1 only. */
        if (lm_context_set_threads(ctx, threads[t], &err) != LM_OK) {
            printf("skipping %d threads: %s\n", threads[t], err.message);
            continue;
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(golden, "cases")) {
            run_case(ctx, cJSON_GetObjectItem(c, "prompt")->valuestring,
                     cJSON_GetObjectItem(c, "n_predict")->valueint,
                     cJSON_GetObjectItem(c, "expected_continuation")->valuestring);
        }
    }
    lm_context_free(ctx);
    lm_model_free(model);
    cJSON_Delete(golden);
    free(text);
    return check_done();
}
