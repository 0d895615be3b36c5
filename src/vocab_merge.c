/* The merge loop SentencePiece and BPE share: split a string into UTF-8
 * characters, then keep joining the adjacent pair that ranks first (lowest
 * rank, then leftmost) until no pair joins. A priority queue of candidate
 * pairs keeps it O(n log n); a pair whose symbols changed since it was
 * queued is skipped when it comes up. */
#include <stdlib.h>

#include "alloc.h"
#include "vocab_impl.h"

typedef struct bigram {
    long left, right;
    double rank;
    size_t left_n, right_n; /* the symbols' sizes when the pair was queued */
} bigram;

static int bigram_before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(merge_work *w, bigram g) {
    if (w->n_heap == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
        bigram *items = lm_realloc_array(w->heap, cap, sizeof *items);
        if (!items) return -1;
        w->heap = items;
        w->heap_cap = cap;
    }
    bigram *h = w->heap;
    size_t i = w->n_heap++;
    while (i > 0 && bigram_before(&g, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = g;
    return 0;
}

static bigram heap_pop(merge_work *w) {
    bigram *h = w->heap, top = h[0], last = h[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_before(&h[c + 1], &h[c])) c++;
        if (!bigram_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

static int try_pair(const lm_vocab *v, const char *s, merge_work *w, pair_rank_fn rank, long l, long r) {
    if (l < 0 || r < 0) return 0;
    const merge_symbol *a = &w->sym[l], *b = &w->sym[r];
    bigram g = {l, r, 0, a->n, b->n};
    if (!rank(v, s + a->start, a->n, s + b->start, b->n, &g.rank)) return 0;
    return heap_push(w, g);
}

/* Length of the UTF-8 character a lead byte starts (1 for a stray byte). */
static size_t utf8_len(unsigned char c) {
    static const unsigned char lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

int merge_symbols(const lm_vocab *v, const char *s, size_t n, pair_rank_fn rank, merge_work *w) {
    if (n > w->sym_cap) {
        merge_symbol *sym = lm_realloc_array(w->sym, n, sizeof *sym);
        if (!sym) return -1;
        w->sym = sym;
        w->sym_cap = n;
    }
    merge_symbol *sym = w->sym;
    long count = 0;
    for (size_t off = 0; off < n; count++) {
        size_t len = utf8_len((unsigned char)s[off]);
        if (len > n - off) len = n - off;
        sym[count] = (merge_symbol){off, len, count - 1, off + len == n ? -1 : count + 1};
        off += len;
    }
    w->n_heap = 0;
    int rc = 0;
    for (long i = 1; rc == 0 && i < count; i++) rc = try_pair(v, s, w, rank, i - 1, i);
    while (rc == 0 && w->n_heap) {
        bigram g = heap_pop(w);
        merge_symbol *l = &sym[g.left], *r = &sym[g.right];
        if (l->n != g.left_n || r->n != g.right_n || l->next != g.right) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = g.left;
        rc = try_pair(v, s, w, rank, l->prev, g.left);
        if (rc == 0) rc = try_pair(v, s, w, rank, g.left, l->next);
    }
    return rc;
}

void merge_work_free(merge_work *w) {
    free(w->sym);
    free(w->heap);
}
