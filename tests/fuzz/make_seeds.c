/* make_seeds OUT_DIR: writes the seed corpora of the fuzz targets into
 * OUT_DIR/{gguf,model,tokenizer,options}: tiny synthetic models in every
 * weight type the runtime runs (both architectures, tied embeddings, rope
 * frequencies), the built-in vocabulary, JSON options and chat messages and,
 * when the shared directory exists, its model, prefixes of its vocabularies
 * and the test strings of its .inp files. Seeds are regenerated on each run,
 * so nothing large is stored in git. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat.h"
#include "error.h"
#include "fuzz_shared.h"
#include "gguf_write.h"

static const char *out_dir;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void write_seed(const char *target, const char *name, const void *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n || fclose(fp) != 0) die(path, strerror(errno));
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || n < 0 || fread(data, 1, (size_t)n, fp) != (size_t)n) die(path, "cannot read");
    fclose(fp);
    *size = (size_t)n;
    return data;
}

/* ---- synthetic models ------------------------------------------------ */

typedef struct model_spec {
    const char *name, *arch;
    int64_t n_embd, n_ff, n_layer;
    const lm_type *types; /* matrices take these types in turn */
    int n_types;
    int tied, rope_freqs;
} model_spec;

/* Small deterministic weights, different per tensor and row. */
static void weight_row(void *user, int64_t row, float *out, float *scratch) {
    const int64_t *spec = user; /* {salt, n} */
    uint64_t state = (uint64_t)spec[0] * 7919u + (uint64_t)row * 104729u + 1;
    for (int64_t i = 0; i < spec[1]; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (float)((int)(state >> 41) % 2001 - 1000) / 4000.0f;
    }
}

static void ones_row(void *user, int64_t row, float *out, float *scratch) {
    for (int64_t i = 0; i < *(const int64_t *)user; i++) out[i] = 1.0f;
}

typedef struct writer_state {
    gguf_writer *w;
    const model_spec *spec;
    int next_type;
    int64_t salts[64][2];
    int n_salts;
    lm_error err;
} writer_state;

static void add_matrix(writer_state *s, const char *name, int64_t cols, int64_t rows) {
    int64_t *salt = s->salts[s->n_salts++];
    salt[0] = s->n_salts;
    salt[1] = cols;
    const lm_type type = s->spec->types[s->next_type++ % s->spec->n_types];
    const int64_t ne[2] = {cols, rows};
    if (gguf_add_tensor_rows(s->w, name, type, 2, ne, weight_row, salt, &s->err) != LM_OK)
        die(name, s->err.message);
}

static void add_vector(writer_state *s, const char *name, int64_t n) {
    int64_t *len = s->salts[s->n_salts++];
    len[0] = n;
    if (gguf_add_tensor_rows(s->w, name, LM_TYPE_F32, 1, &n, ones_row, len, &s->err) != LM_OK)
        die(name, s->err.message);
}

static void set_hparams(writer_state *s, const char *arch) {
    const model_spec *m = s->spec;
    char key[64];
    const struct { const char *suffix; uint32_t value; } hp[] = {
        {"embedding_length", (uint32_t)m->n_embd}, {"block_count", (uint32_t)m->n_layer}, {"feed_forward_length", (uint32_t)m->n_ff},
        {"attention.head_count", 4}, {"attention.head_count_kv", 2}, {"context_length", 64},
    };
    if (gguf_set_str(s->w, "general.architecture", arch, &s->err) != LM_OK) die(m->name, s->err.message);
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, hp[i].suffix);
        if (gguf_set_u32(s->w, key, hp[i].value, &s->err) != LM_OK) die(key, s->err.message);
    }
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (gguf_set_f32(s->w, key, 1e-5f, &s->err) != LM_OK) die(key, s->err.message);
}

static void write_model(const model_spec *m, const gguf_file *vocab, int64_t n_vocab) {
    writer_state s = {.w = gguf_writer_new(), .spec = m};
    if (!s.w) die(m->name, "out of memory");
    gguf_writer_set_threads(s.w, 1);
    set_hparams(&s, m->arch);
    if (gguf_copy_kv_prefix(s.w, vocab, "tokenizer.", &s.err) != LM_OK) die(m->name, s.err.message);
    const int64_t d = m->n_embd, kv = d / 2, biased = strcmp(m->arch, "qwen2") == 0;
    add_matrix(&s, "token_embd.weight", d, n_vocab);
    add_vector(&s, "output_norm.weight", d);
    if (!m->tied) add_matrix(&s, "output.weight", d, n_vocab);
    if (m->rope_freqs) add_vector(&s, "rope_freqs.weight", d / 4 / 2);
    for (int layer = 0; layer < m->n_layer; layer++) {
        char name[64];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d.%s", layer, suffix), name)
        add_vector(&s, NAME("attn_norm.weight"), d);
        add_vector(&s, NAME("ffn_norm.weight"), d);
        add_matrix(&s, NAME("attn_q.weight"), d, d);
        add_matrix(&s, NAME("attn_k.weight"), d, kv);
        add_matrix(&s, NAME("attn_v.weight"), d, kv);
        add_matrix(&s, NAME("attn_output.weight"), d, d);
        add_matrix(&s, NAME("ffn_gate.weight"), d, m->n_ff);
        add_matrix(&s, NAME("ffn_up.weight"), d, m->n_ff);
        add_matrix(&s, NAME("ffn_down.weight"), m->n_ff, d);
        if (biased) {
            add_vector(&s, NAME("attn_q.bias"), d);
            add_vector(&s, NAME("attn_k.bias"), kv);
            add_vector(&s, NAME("attn_v.bias"), kv);
        }
#undef NAME
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model/%s.gguf", out_dir, m->name);
    if (gguf_write_file(s.w, path, &s.err) != LM_OK) die(path, s.err.message);
    gguf_writer_free(s.w);
}

static void write_models(void) {
    static const lm_type blocks[] = {LM_TYPE_F32, LM_TYPE_F16, LM_TYPE_BF16, LM_TYPE_Q4_0,
                                     LM_TYPE_Q4_1, LM_TYPE_Q5_0, LM_TYPE_Q5_1, LM_TYPE_Q8_0};
    static const lm_type k_quants[] = {LM_TYPE_Q2_K, LM_TYPE_Q3_K, LM_TYPE_Q4_K, LM_TYPE_Q5_K, LM_TYPE_Q6_K};
    static const lm_type q8[] = {LM_TYPE_Q8_0};
    const model_spec specs[] = {
        {"llama-blocks", "llama", 32, 64, 2, blocks, 8, 0, 1},
        {"qwen2-tied-q8", "qwen2", 32, 32, 2, q8, 1, 1, 0},
        {"llama-k-quants", "llama", 256, 256, 1, k_quants, 5, 1, 0},
    };
    gb b = {0};
    fuzz_builtin_vocab(&b);
    write_seed("gguf", "vocab-builtin.gguf", b.data, b.len);
    gguf_file vocab;
    lm_error err;
    if (gguf_parse(&vocab, b.data, b.len, &err) != LM_OK) die("built-in vocabulary", err.message);
    uint64_t n_vocab;
    const uint8_t *first;
    gguf_get_arr(&vocab, "tokenizer.ggml.tokens", GGUF_STRING, &first, &n_vocab);
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) write_model(&specs[i], &vocab, (int64_t)n_vocab);
    gguf_release(&vocab);
    free(b.data);
}

/* The reader's seeds: each model whole and cut short at a few points. */
static void copy_models_to_gguf(const char *const *names, int n) {
    static const size_t cuts[] = {64, 512, 4096};
    for (int i = 0; i < n; i++) {
        char path[4096], name[256];
        size_t size;
        snprintf(path, sizeof path, "%s/model/%s", out_dir, names[i]);
        uint8_t *data = read_file(path, &size);
        if (!data) die(path, strerror(errno));
        if (size <= 256 << 10) write_seed("gguf", names[i], data, size);
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0] && cuts[c] < size; c++) {
            snprintf(name, sizeof name, "%s.prefix%zu", names[i], cuts[c]);
            write_seed("gguf", name, data, cuts[c]);
        }
        free(data);
    }
}

/* ---- shared data ----------------------------------------------------- */

/* The stories model and a prefix of each vocabulary (its header, keys and
 * the start of its token list: the whole files are megabytes). */
static void add_shared_files(const char *dir, char **vocabs, int n_vocabs) {
    char path[4096];
    size_t size;
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    uint8_t *data = read_file(path, &size);
    if (data) {
        write_seed("model", "stories260K.gguf", data, size);
        write_seed("gguf", "stories260K.gguf.prefix65536", data, size < 65536 ? size : 65536);
        free(data);
    }
    for (int i = 0; i < n_vocabs; i++) {
        if (!(data = read_file(vocabs[i], &size))) die(vocabs[i], strerror(errno));
        const char *base = strrchr(vocabs[i], '/') + 1;
        char name[256];
        snprintf(name, sizeof name, "%s.prefix16384", base);
        write_seed("gguf", name, data, size < 16384 ? size : 16384);
        free(data);
    }
}

/* ---- text seeds ------------------------------------------------------ */

static const char *const handwritten_texts[] = {
    "Hello world", " Hello  World!\n", "ab \xe2\x96\x81" "ab", "<s>a</s><|im_start|>user\n<user>b",
    "123456789 3.14 1,000", "\xff\xfe\xc3\x28 \xed\xa0\x80 \xf0\x9f\x98\x80", "\t\n\r \xc2\xa0",
    "def f(x):\n    return x**2  # comment", "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c",
    "'s 't 're 've 'm 'll 'd", "",
};

static void write_text_seed(int vocab, int flags, const char *text, size_t len, int index) {
    char name[64];
    uint8_t *seed = malloc(len + 2);
    seed[0] = (uint8_t)vocab;
    seed[1] = (uint8_t)flags;
    memcpy(seed + 2, text, len);
    snprintf(name, sizeof name, "v%02d-%03d", vocab, index);
    write_seed("tokenizer", name, seed, len + 2);
    free(seed);
}

/* The .inp files hold test strings separated by a marker line; every
 * vocabulary gets every string (flags vary with the string). */
static void write_tokenizer_seeds(char **vocabs, int n_vocabs) {
    static const char marker[] = "\n__ggml_vocab_test__\n";
    char *inp = NULL;
    size_t inp_len = 0;
    for (int i = 0; i < n_vocabs && !inp; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s.inp", vocabs[i]);
        inp = (char *)read_file(path, &inp_len);
    }
    const int n_hand = (int)(sizeof handwritten_texts / sizeof handwritten_texts[0]);
    for (int v = 0; v <= n_vocabs; v++) {
        int index = 0;
        for (int i = 0; i < n_hand; i++, index++)
            write_text_seed(v, index % 4, handwritten_texts[i], strlen(handwritten_texts[i]), index);
        for (char *p = inp, *end = inp ? inp + inp_len : NULL; p && p < end; index++) {
            char *next = memmem(p, (size_t)(end - p), marker, sizeof marker - 1);
            size_t len = next ? (size_t)(next - p) : (size_t)(end - p);
            write_text_seed(v, index % 4, p, len, index);
            p = next ? next + sizeof marker - 1 : NULL;
        }
    }
    free(inp);
}

static void write_options_seeds(void) {
    static const char *const options[] = {
        "{}", "null", "[1,2]",
        "{\"max_tokens\": 64, \"temperature\": 0.2, \"top_k\": 40, \"top_p\": 0.9, \"min_p\": 0.05,"
        " \"repeat_penalty\": 1.1, \"repeat_last_n\": 64, \"frequency_penalty\": 0.5,"
        " \"presence_penalty\": -0.5, \"seed\": 42, \"stop\": [\"\\n\\n\", \"User:\"],"
        " \"ignore_eos\": true, \"add_bos\": false}",
        "{\"stop\": \"</s>\", \"seed\": 9007199254740991, \"temperature\": null}",
        "{\"max_tokens\": -1, \"top_p\": 1e400, \"unknown\": 1}",
        "{\"response_format\": {\"type\": \"json_schema\", \"schema\": {\"type\": \"object\", \"properties\": {"
        "\"a\": {\"type\": \"array\", \"items\": {\"enum\": [1, \"x\", null]}, \"minItems\": 1, \"maxItems\": 3},"
        " \"n\": {\"type\": \"number\", \"minimum\": -2.5, \"maximum\": 7}, \"s\": {\"type\": \"string\", \"maxLength\": 4},"
        " \"o\": {\"type\": \"object\"}, \"b\": {\"type\": \"boolean\"}, \"i\": {\"type\": \"integer\", \"minimum\": 10},"
        " \"u\": {\"type\": [\"string\", \"null\", \"array\"], \"minItems\": 2}},"
        " \"required\": [\"a\", \"n\"]}}}",
        "{\"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"const\": \"k\"}}}}",
    };
    static const char *const chats[] = {
        "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
        " {\"role\": \"assistant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"\\u00e9\\n\"}]",
        "[{\"role\": \"user\", \"content\": \"<|im_start|>x\"}]", "[]", "{\"role\": \"user\"}",
        "{% for message in messages %}<|im_start|>{{ message['role'] }}{% endfor %}",
        "<|start_header_id|>user<|end_header_id|> [INST] <<SYS>> <|user|> <start_of_turn> <|assistant|>",
    };
    char name[32], seed[1024];
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        snprintf(seed, sizeof seed, "%c%s", 0, options[i]);
        snprintf(name, sizeof name, "options-%zu", i);
        write_seed("options", name, seed, 1 + strlen(options[i]));
    }
    for (size_t i = 0; i < sizeof chats / sizeof chats[0]; i++)
        for (int style = 0; style <= LM_CHAT_GEMMA; style++) {
            snprintf(seed, sizeof seed, "%c%s", 2 * style + 1, chats[i]);
            snprintf(name, sizeof name, "chat-%zu-%d", i, style);
            write_seed("options", name, seed, 1 + strlen(chats[i]));
        }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT_DIR (shared data from $LM_SHARED_DIR or %s)\n", LM_DEFAULT_SHARED_DIR);
        return 2;
    }
    out_dir = argv[1];
    static const char *const targets[] = {"", "/gguf", "/model", "/tokenizer", "/options"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s", out_dir, targets[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, strerror(errno));
    }
    write_models();
    static const char *const models[] = {"llama-blocks.gguf", "qwen2-tied-q8.gguf", "llama-k-quants.gguf"};
    copy_models_to_gguf(models, 3);
    char *vocabs[FUZZ_MAX_VOCABS];
    const int n_vocabs = fuzz_shared_vocabs(fuzz_shared_dir(), vocabs, FUZZ_MAX_VOCABS - 1);
    if (n_vocabs == 0)
        printf("make_seeds: %s is absent: no shared-data seeds (synthetic ones only)\n", fuzz_shared_dir());
    else
        add_shared_files(fuzz_shared_dir(), vocabs, n_vocabs);
    write_tokenizer_seeds(vocabs, n_vocabs);
    write_options_seeds();
    for (int i = 0; i < n_vocabs; i++) free(vocabs[i]);
    return 0;
}
