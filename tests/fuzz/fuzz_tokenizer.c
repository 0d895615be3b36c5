/* libFuzzer target: the tokenizers. The first input byte picks a vocabulary
 * (a small built-in SentencePiece one, then every ggml-vocab-*.gguf of the
 * shared directory), the second the flags, the rest is the text. Every id
 * produced must be in range and detokenize. Where the tokenizer is lossless
 * (strict UTF-8 in, every byte of it has a token, no unknown, control or
 * user-defined token out, and for SentencePiece no U+2581 in the text) the
 * pieces must give the text back exactly.
 *
 * The shared directory is $LM_SHARED_DIR, else LM_DEFAULT_SHARED_DIR (set at
 * build time to the repository's ../shared); without it only the built-in
 * vocabulary is fuzzed. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <utf8proc.h>

#include "fuzz_shared.h"
#include "vocab_impl.h"

typedef struct loaded_vocab {
    gguf_file file; /* the vocabulary points into its bytes */
    lm_vocab *vocab;
    uint8_t has_byte[256]; /* a byte with no token of its own is dropped, as in llama.cpp */
} loaded_vocab;

static loaded_vocab vocabs[FUZZ_MAX_VOCABS];
static int n_vocabs;

static void add_vocab(const uint8_t *data, size_t size, const char *what) {
    loaded_vocab *lv = &vocabs[n_vocabs];
    lm_error err;
    if (gguf_parse(&lv->file, data, size, &err) != LM_OK || lm_vocab_load(&lv->file, &lv->vocab, &err) != LM_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", what, err.message);
        exit(1);
    }
    const lm_vocab *v = lv->vocab;
    for (int b = 0; b < 256; b++) {
        char enc[4];
        lv->has_byte[b] = v->type == VOCAB_SPM
                              ? v->byte_token[b] >= 0
                              : vocab_find(v, enc, pretok_encode_utf8(v->byte_cp[b], enc)) >= 0;
    }
    n_vocabs++;
}

/* Maps a file for the life of the process. */
static void add_vocab_file(const char *path) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    void *data = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0)
        data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd >= 0) close(fd);
    if (data == MAP_FAILED) {
        fprintf(stderr, "fuzz_tokenizer: cannot map %s\n", path);
        exit(1);
    }
    add_vocab(data, (size_t)st.st_size, path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    gb builtin = {0}; /* its bytes live as long as the process */
    fuzz_builtin_vocab(&builtin);
    add_vocab(builtin.data, builtin.len, "the built-in vocabulary");
    char *paths[FUZZ_MAX_VOCABS - 1];
    const int n = fuzz_shared_vocabs(fuzz_shared_dir(), paths, FUZZ_MAX_VOCABS - 1);
    if (n == 0) fprintf(stderr, "fuzz_tokenizer: no shared vocabularies in %s: only the built-in one\n", fuzz_shared_dir());
    for (int i = 0; i < n; i++) {
        add_vocab_file(paths[i]);
        free(paths[i]);
    }
    return 0;
}

static int is_strict_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (used <= 0) return 0;
        i += (size_t)used;
    }
    return 1;
}

static int contains(const uint8_t *s, size_t n, const char *needle) {
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* What detokenizing must give back, or -1 when the tokenizer may lose
 * information on this text. */
static long expected_round_trip(const loaded_vocab *lv, const int32_t *ids, int32_t n, const uint8_t *text,
                                size_t len) {
    const lm_vocab *v = lv->vocab;
    for (int32_t i = 0; i < n; i++)
        if (!(v->attr[ids[i]] & (ATTR_NORMAL | ATTR_BYTE))) return -1;
    for (size_t i = 0; i < len; i++)
        if (!lv->has_byte[text[i]]) return -1;
    /* Both split text into UTF-8 characters first: invalid sequences are
     * regrouped (SentencePiece) or replaced (BPE), as llama.cpp does. */
    if (!is_strict_utf8(text, len)) return -1;
    if (v->type == VOCAB_BPE) return (long)len;
    if (contains(text, len, "\xe2\x96\x81")) return -1;
    return (long)len + (v->add_space_prefix && len > 0);
}

static void check_tokens(const loaded_vocab *lv, const int32_t *ids, int32_t n, const uint8_t *text, size_t len,
                         int add_bos) {
    const lm_vocab *v = lv->vocab;
    size_t cap = 16 * (size_t)n + 16, out_len = 0;
    char *out = malloc(cap);
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= lm_vocab_size(v)) __builtin_trap();
        int32_t need = lm_vocab_token_to_piece(v, ids[i], NULL, 0);
        if (need > 0) __builtin_trap(); /* a non-empty piece never fits in 0 bytes */
        if ((size_t)-need > cap - out_len) {
            cap = (cap + (size_t)-need) * 2;
            out = realloc(out, cap);
        }
        if (lm_vocab_token_to_piece(v, ids[i], out + out_len, (int32_t)(cap - out_len)) != -need) __builtin_trap();
        out_len += (size_t)-need;
    }
    long expected = add_bos ? -1 : expected_round_trip(lv, ids, n, text, len);
    if (expected >= 0) {
        size_t skip = (size_t)expected > len; /* the SentencePiece space prefix */
        if (out_len != (size_t)expected || (skip && out[0] != ' ') || memcmp(out + skip, text, len) != 0) {
            fprintf(stderr, "round trip lost text: %zu bytes in, %zu out\n", len, out_len);
            __builtin_trap();
        }
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const loaded_vocab *lv = &vocabs[data[0] % n_vocabs];
    const lm_vocab *v = lv->vocab;
    const int parse_special = data[1] & 1, add_bos = (data[1] >> 1) & 1;
    const uint8_t *text = data + 2;
    const size_t len = size - 2;
    /* An exact-size copy: reads past the text are caught. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);

    int32_t n = lm_vocab_tokenize(v, copy, len, add_bos, parse_special, NULL, 0);
    if (n > 0 || n == -INT32_MAX) __builtin_trap(); /* no room: minus the count */
    int32_t *ids = malloc(((size_t)-n + 1) * sizeof *ids);
    if (-n > 0 && lm_vocab_tokenize(v, copy, len, add_bos, parse_special, ids, -n - 1) != n) __builtin_trap();
    if (lm_vocab_tokenize(v, copy, len, add_bos, parse_special, ids, -n) != -n) __builtin_trap();
    check_tokens(lv, ids, -n, text, len, add_bos);
    free(ids);
    free(copy);
    return 0;
}
