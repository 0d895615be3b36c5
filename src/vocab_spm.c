/* SentencePiece (BPE with scores) the way llama.cpp's llm_tokenizer_spm does
 * it: spaces become U+2581, adjacent pieces join while their concatenation
 * is a token (best score first), and what is left over and is no token is
 * spelled in byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "vocab_impl.h"

static int pair_score(const lm_vocab *v, const char *a, size_t na, const char *b, size_t nb,
                      double *rank) {
    (void)b; /* the symbols are adjacent: a[0 .. na+nb) is their concatenation */
    int32_t id = vocab_find(v, a, na + nb);
    if (id < 0) return 0;
    *rank = -(double)v->scores[id];
    return 1;
}

/* Spaces become U+2581, with one in front when asked. */
static char *escape_spaces(const char *text, size_t len, int space_prefix, size_t *out_len) {
    size_t spaces = space_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    if (len > ((size_t)-1 - 3) / 3) return NULL;
    char *s = malloc(len + spaces * 2 + 1);
    if (!s) return NULL;
    size_t n = 0;
    if (space_prefix) {
        memcpy(s, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = text[i];
        }
    }
    *out_len = n;
    return s;
}

static int emit_piece(const lm_vocab *v, const char *s, size_t n, token_list *out) {
    int32_t id = vocab_find(v, s, n);
    if (id >= 0) return token_list_push(out, id);
    for (size_t i = 0; i < n; i++) {
        id = v->byte_token[(unsigned char)s[i]];
        if (id < 0) id = v->unk;
        if (id >= 0 && token_list_push(out, id) != 0) return -1;
    }
    return 0;
}

int spm_tokenize(const lm_vocab *v, const char *text, size_t len, int space_prefix,
                 token_list *out) {
    size_t n;
    char *s = escape_spaces(text, len, space_prefix, &n);
    if (!s) return -1;
    merge_work w = {0};
    int rc = merge_symbols(v, s, n, pair_score, &w);
    for (long i = 0; rc == 0 && n > 0 && i != -1; i = w.sym[i].next)
        rc = emit_piece(v, s + w.sym[i].start, w.sym[i].n, out);
    merge_work_free(&w);
    free(s);
    return rc;
}
