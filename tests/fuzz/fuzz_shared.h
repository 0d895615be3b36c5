/* What the tokenizer harness and the seed maker must agree on: the built-in
 * vocabulary and the order of the shared vocabularies (input byte 0 of the
 * tokenizer target picks one of them). */
#ifndef LM_FUZZ_SHARED_H
#define LM_FUZZ_SHARED_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_builder.h"

#ifndef LM_DEFAULT_SHARED_DIR
#define LM_DEFAULT_SHARED_DIR "../shared"
#endif

enum { FUZZ_MAX_VOCABS = 32 };

/* $LM_SHARED_DIR, else the repository's ../shared as seen at build time. */
static const char *fuzz_shared_dir(void) {
    const char *dir = getenv("LM_SHARED_DIR");
    return dir && *dir ? dir : LM_DEFAULT_SHARED_DIR;
}

/* A vocabulary-only GGUF: SentencePiece with byte fallback (all 256 byte
 * tokens), a control token and a user-defined one. */
static void fuzz_builtin_vocab(gb *b) {
    static const char *const words[] = {"<unk>", "<s>", "</s>", "<|im_start|>", "<user>", "\xe2\x96\x81",
                                        "a", "b", "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab"};
    static const uint32_t word_types[] = {2, 3, 3, 3, 4, 1, 1, 1, 1, 1, 1};
    enum { N_WORDS = sizeof words / sizeof words[0], N = N_WORDS + 256 };
    gb_header(b, 3, 0, 5);
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    gb_kv_array(b, "tokenizer.ggml.tokens", 8 /* string */, N);
    for (int i = 0; i < N_WORDS; i++) gb_str(b, words[i]);
    for (int i = 0; i < 256; i++) {
        char byte[8];
        snprintf(byte, sizeof byte, "<0x%02X>", i);
        gb_str(b, byte);
    }
    gb_kv_array(b, "tokenizer.ggml.scores", 6 /* float32 */, N);
    for (int i = 0; i < N; i++) gb_f32(b, (float)-i);
    gb_kv_array(b, "tokenizer.ggml.token_type", 5 /* int32 */, N);
    for (int i = 0; i < N; i++) gb_u32(b, i < N_WORDS ? word_types[i] : 6 /* byte */);
}

static int fuzz_by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Paths of dir/vocab/ggml-vocab-*.gguf in name order (malloc'd); 0 when the
 * directory is absent. */
static int fuzz_shared_vocabs(const char *dir, char **paths, int max) {
    char path[4096];
    int n = 0;
    snprintf(path, sizeof path, "%s/vocab", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    for (struct dirent *e; n < max && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "ggml-vocab-", 11) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        snprintf(path, sizeof path, "%s/vocab/%s", dir, e->d_name);
        paths[n++] = strdup(path);
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof *paths, fuzz_by_name);
    return n;
}

#endif
