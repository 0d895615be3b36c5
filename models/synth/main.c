/* localm-synth --arch llama|qwen2 --shape NAME --type TYPE [--vocab V.gguf]
 *              [--seed N] [--tied] [--rope-freqs] -o OUT.gguf
 *
 * Writes a synthetic model llama.cpp loads: real architecture metadata and
 * tensor names, the tokenizer of a vocabulary-only GGUF, and deterministic
 * weights (see weights.c) in the requested file type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "synth.h"

static const synth_shape shapes[] = {
    {"tiny", 256, 2, 4, 2, 768, 512},
    {"smollm2-135m", 576, 30, 9, 3, 1536, 2048},
    {"smollm2-360m", 960, 32, 15, 5, 2560, 2048},
    {"qwen2.5-0.5b", 896, 24, 14, 2, 4864, 32768},
    {"tiny6", 256, 6, 4, 2, 768, 512}, /* gemma3: one global layer in six */
    {"gemma3-1b", 1152, 26, 4, 1, 6912, 32768},
};

#define DEFAULT_VOCAB "/work/shared/vocab/ggml-vocab-gpt-2.gguf"

typedef struct options {
    const char *arch, *shape, *type, *vocab, *out;
    uint64_t seed;
    int tied, rope_freqs;
} options;

static void usage(FILE *fp) {
    fprintf(fp,
            "usage: localm-synth --arch ARCH --shape NAME --type TYPE [--vocab VOCAB.gguf]\n"
            "                    [--seed N] [--tied] [--rope-freqs] -o OUT.gguf\n"
            "  shapes: tiny tiny6 smollm2-135m smollm2-360m qwen2.5-0.5b gemma3-1b\n"
            "  types:  %s\n"
            "  --vocab      tokenizer source (default %s)\n"
            "  --tied       no output.weight: the embedding doubles as the output matrix\n"
            "  --rope-freqs llama-3 style rope_freqs.weight (llama), LongRoPE factors (phi3)\n",
            lm_ftype_names(), DEFAULT_VOCAB);
}

static int fail(const char *fmt, const char *arg) {
    fputs("error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* The option taking a value that flag names, or NULL. */
static const char **value_slot(options *o, const char *flag) {
    if (strcmp(flag, "--arch") == 0) return &o->arch;
    if (strcmp(flag, "--shape") == 0) return &o->shape;
    if (strcmp(flag, "--type") == 0) return &o->type;
    if (strcmp(flag, "--vocab") == 0) return &o->vocab;
    if (strcmp(flag, "-o") == 0 || strcmp(flag, "--output") == 0) return &o->out;
    return NULL;
}

static int parse_seed(const char *v, uint64_t *seed) {
    char *end;
    errno = 0;
    *seed = strtoull(v, &end, 10);
    return !errno && !*end && *v && *v != '-';
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.arch = "llama", .vocab = DEFAULT_VOCAB, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = value_slot(o, a);
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--tied") == 0) {
            o->tied = 1;
        } else if (strcmp(a, "--rope-freqs") == 0) {
            o->rope_freqs = 1;
        } else if (!slot && strcmp(a, "--seed") != 0) {
            return fail("unknown option %s (see --help)", a);
        } else if (i + 1 >= argc) {
            return fail("option %s needs a value", a);
        } else if (slot) {
            *slot = argv[++i];
        } else if (!parse_seed(argv[++i], &o->seed)) {
            return fail("--seed '%s' is not a non-negative integer", argv[i]);
        }
    }
    if (!o->shape || !o->type || !o->out) return fail("%s", "--shape, --type and -o are required (see --help)");
    if (strcmp(o->arch, "llama") != 0 && strcmp(o->arch, "qwen2") != 0 && !synth_family_known(o->arch))
        return fail("unknown --arch '%s' (llama, qwen2, gemma, gemma2, gemma3, phi3, gpt2, mpt, bloom)", o->arch);
    if (o->rope_freqs && strcmp(o->arch, "llama") != 0 && strcmp(o->arch, "phi3") != 0)
        return fail("%s", "--rope-freqs is for --arch llama or phi3");
    return 0;
}

static const synth_shape *find_shape(const char *name) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, name) == 0) return &shapes[i];
    return NULL;
}

/* The vocabulary's size and token types (NULL when it has none, or when
 * they are not int32). */
static lm_status read_vocab(const gguf_file *v, const char *path, int64_t *n_vocab,
                            int32_t **types, lm_error *err) {
    const uint8_t *first;
    uint64_t n;
    if (gguf_get_arr(v, "tokenizer.ggml.tokens", GGUF_STRING, &first, &n) != 1 || n == 0 || n > INT32_MAX)
        return lm_fail(err, LM_E_FORMAT, "%s has no tokenizer.ggml.tokens string array", path);
    *n_vocab = (int64_t)n;
    *types = NULL;
    uint64_t nt;
    if (gguf_get_arr(v, "tokenizer.ggml.token_type", GGUF_INT32, &first, &nt) == 1 && nt == n) {
        *types = malloc((size_t)n * sizeof **types);
        if (!*types) return lm_fail(err, LM_E_MEMORY, "out of memory reading token types");
        for (uint64_t i = 0; i < n; i++) (*types)[i] = (int32_t)gguf_arr_i64(GGUF_INT32, first, i);
    }
    return LM_OK;
}

/* "{arch}.suffix" */
static const char *arch_key(const synth_model *m, const char *suffix) {
    static char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    return key;
}

static lm_status set_metadata(gguf_writer *w, const synth_model *m, const lm_ftype *ft, lm_error *err) {
    const synth_shape *s = &m->shape;
    char name[128];
    snprintf(name, sizeof name, "synthetic %s %s %s", m->arch, s->name, ft->name);
    int is_llama = strcmp(m->arch, "llama") == 0;
    lm_status st;
    if ((st = gguf_set_str(w, "general.architecture", m->arch, err)) ||
        (st = gguf_set_str(w, "general.name", name, err)) ||
        (st = gguf_set_u32(w, "general.file_type", ft->file_type, err)) ||
        (st = gguf_set_u32(w, "general.quantization_version", 2, err)) ||
        (st = gguf_set_u64(w, "general.seed", m->seed, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "context_length"), (uint32_t)s->n_ctx, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "embedding_length"), (uint32_t)s->n_embd, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "block_count"), (uint32_t)s->n_layer, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "feed_forward_length"), (uint32_t)s->n_ff, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "attention.head_count"), (uint32_t)s->n_head, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "attention.head_count_kv"), (uint32_t)s->n_head_kv, err)) ||
        (st = gguf_set_f32(w, arch_key(m, "attention.layer_norm_rms_epsilon"), is_llama ? 1e-5f : 1e-6f, err)) ||
        (st = gguf_set_f32(w, arch_key(m, "rope.freq_base"), m->freq_base, err)) ||
        (st = gguf_set_u32(w, arch_key(m, "rope.dimension_count"), (uint32_t)(s->n_embd / s->n_head), err)) ||
        (st = gguf_set_u32(w, arch_key(m, "vocab_size"), (uint32_t)m->n_vocab, err)))
        return st;
    return LM_OK;
}

static int run(const options *o) {
    lm_error err = {0};
    const synth_shape *shape = find_shape(o->shape);
    const lm_ftype *ft = lm_ftype_from_name(o->type);
    if (!shape) return fail("unknown --shape '%s' (see --help)", o->shape);
    if (!ft) return fail("unknown --type '%s' (see --help)", o->type);

    synth_model m = {.arch = o->arch, .shape = *shape, .seed = o->seed,
                     .tied = o->tied || synth_family_tied(o->arch),
                     .rope_freqs = o->rope_freqs};
    /* llama 3 pairs rope_freqs with a 500000 base; Qwen2 uses 1e6. */
    m.freq_base = strcmp(o->arch, "qwen2") == 0 ? 1e6f : o->rope_freqs ? 5e5f : 1e4f;

    gguf_mapped vocab = {0};
    int32_t *types = NULL;
    gguf_writer *w = gguf_writer_new();
    synth_weights *sw = NULL;
    lm_status s = w ? LM_OK : lm_fail(&err, LM_E_MEMORY, "out of memory");
    if (s == LM_OK) s = gguf_map_file(o->vocab, &vocab, &err);
    if (s == LM_OK) s = read_vocab(&vocab.file, o->vocab, &m.n_vocab, &types, &err);
    if (s == LM_OK && !synth_plan_successors(&m, types))
        s = lm_fail(&err, LM_E_MEMORY, "out of memory (or no normal tokens in %s)", o->vocab);
    if (s == LM_OK) s = set_metadata(w, &m, ft, &err);
    if (s == LM_OK) s = synth_family_metadata(w, &m, &err);
    if (s == LM_OK) s = gguf_copy_kv_prefix(w, &vocab.file, "tokenizer.", &err);
    if (s == LM_OK) s = synth_add_tensors(w, &m, ft, &sw, &err);
    if (s == LM_OK) s = gguf_write_file(w, o->out, &err);
    synth_weights_free(sw);
    gguf_writer_free(w);
    gguf_unmap_file(&vocab);
    free(types);
    free(m.pred);
    if (s != LM_OK) return fail("%s", err.message);
    return 0;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o)) return 1;
    return run(&o);
}
