/* Byte-level BPE the way llama.cpp's llm_tokenizer_bpe does it: pre-tokenize
 * into words, spell each word's bytes in GPT-2's printable byte alphabet,
 * merge adjacent symbols by merge rank (lowest first), then look the symbols
 * up as tokens. */
#include <stdlib.h>

#include "alloc.h"
#include "vocab_impl.h"

/* Bytes that are printable stand for themselves; the other 68 are given
 * the code points 256.. in byte order. */
static int is_printable_byte(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

void bpe_byte_alphabet(uint16_t cp_of_byte[256]) {
    uint16_t next = 256;
    for (unsigned b = 0; b < 256; b++) cp_of_byte[b] = is_printable_byte(b) ? (uint16_t)b : next++;
}

static int pair_rank(const lm_vocab *v, const char *a, size_t na, const char *b, size_t nb,
                     double *rank) {
    int32_t r = vocab_merge_rank(v, a, na, b, nb);
    *rank = r;
    return r >= 0;
}

/* Scratch reused across the words of one call. */
typedef struct bpe_work {
    char *enc;
    size_t enc_cap;
    merge_work merge;
} bpe_work;

/* The word's bytes in the byte alphabet (each byte becomes 1 or 2 bytes). */
static int encode_word(const lm_vocab *v, const char *w, size_t n, bpe_work *k, size_t *out_n) {
    if (n > k->enc_cap / 2) {
        char *enc = lm_realloc_array(k->enc, n, 2);
        if (!enc) return -1;
        k->enc = enc;
        k->enc_cap = n * 2;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += pretok_encode_utf8(v->byte_cp[(uint8_t)w[i]], k->enc + m);
    *out_n = m;
    return 0;
}

/* A symbol that is no token is spelled with one-byte tokens where they
 * exist, as llama.cpp does. */
static int emit_symbol(const lm_vocab *v, const char *s, size_t n, token_list *out) {
    int32_t id = vocab_find(v, s, n);
    if (id >= 0) return token_list_push(out, id);
    for (size_t i = 0; i < n; i++) {
        id = v->byte_token[(unsigned char)s[i]];
        if (id >= 0 && token_list_push(out, id) != 0) return -1;
    }
    return 0;
}

static int merge_word(const lm_vocab *v, const char *s, size_t n, bpe_work *k, token_list *out) {
    if (v->pre.ignore_merges) {
        int32_t id = vocab_find(v, s, n);
        if (id >= 0) return token_list_push(out, id);
    }
    int rc = merge_symbols(v, s, n, pair_rank, &k->merge);
    const merge_symbol *sym = k->merge.sym;
    for (long i = 0; rc == 0 && n > 0 && i != -1; i = sym[i].next)
        rc = emit_symbol(v, s + sym[i].start, sym[i].n, out);
    return rc;
}

int bpe_tokenize(const lm_vocab *v, const char *text, size_t len, pretok_words *words,
                 token_list *out) {
    if (pretok_split(v->pre.type, text, len, words) != 0) return -1;
    bpe_work k = {0};
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; rc == 0 && i < words->n_words; i++) {
        size_t n;
        rc = encode_word(v, words->bytes + start, words->ends[i] - start, &k, &n);
        if (rc == 0) rc = merge_word(v, k.enc, n, &k, out);
        start = words->ends[i];
    }
    free(k.enc);
    merge_work_free(&k.merge);
    return rc;
}
