/* Byte-level BPE the way llama.cpp's llm_tokenizer_bpe does it: pre-tokenize
 * into words, spell each word's bytes in GPT-2's printable byte alphabet,
 * merge adjacent symbols by merge rank (lowest first), then look the symbols
 * up as tokens. */
#include <stdlib.h>
#include <string.h>

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

typedef struct symbol {
    size_t start, n;
    long prev, next;
} symbol;

typedef struct bigram {
    long left, right;
    int32_t rank;
    size_t left_n, right_n; /* the symbols' sizes when the pair was seen */
} bigram;

typedef struct heap {
    bigram *items;
    size_t n, cap;
} heap;

/* Lowest rank first; on a tie, the leftmost pair. */
static int bigram_before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(heap *h, bigram g) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *items = realloc(h->items, cap * sizeof *items);
        if (!items) return -1;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && bigram_before(&g, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = g;
    return 0;
}

static bigram heap_pop(heap *h) {
    bigram top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->items[c + 1], &h->items[c])) c++;
        if (!bigram_before(&h->items[c], &last)) break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n) h->items[i] = last;
    return top;
}

/* Scratch reused across the words of one call. */
typedef struct bpe_work {
    char *enc;
    size_t enc_cap;
    symbol *sym;
    size_t sym_cap;
    heap h;
} bpe_work;

static int try_bigram(const lm_vocab *v, const char *s, const symbol *sym, long l, long r, heap *h) {
    if (l < 0 || r < 0) return 0;
    int32_t rank = vocab_merge_rank(v, s + sym[l].start, sym[l].n, s + sym[r].start, sym[r].n);
    if (rank < 0) return 0;
    bigram g = {l, r, rank, sym[l].n, sym[r].n};
    return heap_push(h, g);
}

/* The word's bytes in the byte alphabet (each byte becomes 1 or 2 bytes). */
static int encode_word(const lm_vocab *v, const char *w, size_t n, bpe_work *k, size_t *out_n) {
    if (n * 2 > k->enc_cap) {
        char *enc = realloc(k->enc, n * 2);
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
    if (n > k->sym_cap) {
        symbol *sym = realloc(k->sym, n * sizeof *sym);
        if (!sym) return -1;
        k->sym = sym;
        k->sym_cap = n;
    }
    symbol *sym = k->sym;
    long count = 0;
    for (size_t off = 0; off < n; count++) {
        uint32_t cp;
        size_t len = pretok_decode_utf8((const unsigned char *)s + off, n - off, &cp);
        if (!len) len = 1;
        sym[count] = (symbol){off, len, count - 1, off + len == n ? -1 : count + 1};
        off += len;
    }
    heap *h = &k->h;
    h->n = 0;
    int rc = 0;
    for (long i = 1; rc == 0 && i < count; i++) rc = try_bigram(v, s, sym, i - 1, i, h);
    while (rc == 0 && h->n) {
        bigram g = heap_pop(h);
        symbol *l = &sym[g.left], *r = &sym[g.right];
        if (l->n != g.left_n || r->n != g.right_n || r->n == 0 || l->next != g.right) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = g.left;
        rc = try_bigram(v, s, sym, l->prev, g.left, h);
        if (rc == 0) rc = try_bigram(v, s, sym, g.left, l->next, h);
    }
    for (long i = 0; rc == 0 && count > 0 && i != -1; i = sym[i].next)
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
    free(k.sym);
    free(k.h.items);
    return rc;
}
