/* SentencePiece (BPE with scores) the way llama.cpp's llm_tokenizer_spm does
 * it: split into UTF-8 characters, repeatedly merge the adjacent pair whose
 * concatenation is the best-scoring token, and spell what is left over in
 * byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "vocab_impl.h"

typedef struct symbol {
    size_t start, n;   /* bytes of the escaped text */
    long prev, next;
} symbol;

typedef struct bigram {
    long left, right;
    float score;
    size_t size;
} bigram;

typedef struct heap {
    bigram *items;
    size_t n, cap;
} heap;

/* Best score first; on a tie, the leftmost pair. */
static int bigram_before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
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

static int try_bigram(const lm_vocab *v, const char *s, const symbol *sym, long l, long r, heap *h) {
    if (l < 0 || r < 0) return 0;
    size_t size = sym[l].n + sym[r].n;
    int32_t id = vocab_find(v, s + sym[l].start, size);
    if (id < 0) return 0;
    bigram g = {l, r, v->scores[id], size};
    return heap_push(h, g);
}

/* Spaces become U+2581, with one in front when asked. */
static char *escape_spaces(const char *text, size_t len, int space_prefix, size_t *out_len) {
    size_t spaces = space_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    if (len > ((size_t)-1 - 1) / 3) return NULL;
    char *s = malloc(len + spaces * 2 + 1);
    if (!s) return NULL;
    size_t n = 0;
    if (space_prefix) { memcpy(s, "\xE2\x96\x81", 3); n = 3; }
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

/* Length of the UTF-8 character a lead byte starts (1 for stray bytes). */
static size_t utf8_len(unsigned char c) {
    static const unsigned char lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

static int emit_symbol(const lm_vocab *v, const char *s, const symbol *sym, token_list *out) {
    int32_t id = vocab_find(v, s + sym->start, sym->n);
    if (id >= 0) return token_list_push(out, id);
    for (size_t i = 0; i < sym->n; i++) {
        id = v->byte_token[(unsigned char)s[sym->start + i]];
        if (id < 0) id = v->unk;
        if (id >= 0 && token_list_push(out, id) != 0) return -1;
    }
    return 0;
}

static int merge_and_emit(const lm_vocab *v, const char *s, size_t n, token_list *out) {
    symbol *sym = malloc((n ? n : 1) * sizeof *sym);
    heap h = {0};
    int rc = sym ? 0 : -1;
    long count = 0;
    for (size_t off = 0; rc == 0 && off < n; count++) {
        size_t len = utf8_len((unsigned char)s[off]);
        if (len > n - off) len = n - off;
        sym[count] = (symbol){off, len, count - 1, off + len == n ? -1 : count + 1};
        off += len;
    }
    for (long i = 1; rc == 0 && i < count; i++) rc = try_bigram(v, s, sym, i - 1, i, &h);

    while (rc == 0 && h.n) {
        bigram g = heap_pop(&h);
        symbol *l = &sym[g.left], *r = &sym[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = g.left;
        rc = try_bigram(v, s, sym, l->prev, g.left, &h);
        if (rc == 0) rc = try_bigram(v, s, sym, g.left, l->next, &h);
    }
    for (long i = 0; rc == 0 && count > 0 && i != -1; i = sym[i].next)
        rc = emit_symbol(v, s, &sym[i], out);
    free(h.items);
    free(sym);
    return rc;
}

int spm_tokenize(const lm_vocab *v, const char *text, size_t len, int space_prefix,
                 token_list *out) {
    size_t n;
    char *s = escape_spaces(text, len, space_prefix, &n);
    if (!s) return -1;
    int rc = merge_and_emit(v, s, n, out);
    free(s);
    return rc;
}
