/* The vocabulary's internals, shared by vocab.c and the two tokenizers
 * (vocab_spm.c, vocab_bpe.c). */
#ifndef LM_VOCAB_IMPL_H
#define LM_VOCAB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "pretok.h"
#include "vocab.h"

enum { VOCAB_SPM, VOCAB_BPE };

/* tokenizer.ggml.token_type values */
enum {
    TOKEN_TYPE_UNDEFINED = 0, TOKEN_TYPE_NORMAL = 1, TOKEN_TYPE_UNKNOWN = 2, TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4, TOKEN_TYPE_UNUSED = 5, TOKEN_TYPE_BYTE = 6,
};

/* Per-token attribute bits. */
enum {
    ATTR_NORMAL = 1, ATTR_UNKNOWN = 2, ATTR_CONTROL = 4, ATTR_USER_DEFINED = 8, ATTR_UNUSED = 16,
    ATTR_BYTE = 32, ATTR_EOG = 64, ATTR_RSTRIP = 128,
};

/* Open-addressing hash table of indices (slot = index + 1, 0 = empty); the
 * keys live elsewhere, so lookups are written per table. */
typedef struct index_map {
    uint32_t *slots;
    uint32_t mask;
} index_map;

/* Strings packed in one buffer, each NUL-terminated. */
typedef struct string_list {
    char *data;
    uint32_t *off;
    uint32_t *len;
} string_list;

struct lm_vocab {
    int type;
    int32_t n_tokens;
    string_list text;     /* as stored in the GGUF */
    string_list piece;    /* the bytes token_to_piece gives */
    float *scores;
    uint8_t *attr;
    index_map text_map;

    uint32_t n_merges;
    string_list merges;   /* "left right" */
    uint32_t *merge_split; /* length of left */
    index_map merge_map;

    int32_t bos, eos, eot, eom, unk, pad;
    int add_bos, add_eos, add_space_prefix;
    pretok_info pre;

    int32_t *special;     /* control, user-defined and unknown tokens, longest first */
    int32_t n_special;
    int32_t byte_token[256]; /* SPM: <0xXX> fallback; BPE: one-byte token */
    uint16_t byte_cp[256];   /* BPE: GPT-2 byte alphabet */
};

uint32_t vocab_hash(const char *s, size_t n, uint32_t h);
#define VOCAB_HASH_SEED 2166136261u

/* Token id of exactly these bytes, or -1. */
int32_t vocab_find(const lm_vocab *v, const char *s, size_t n);
/* Rank of the merge (a, b), or -1. */
int32_t vocab_merge_rank(const lm_vocab *v, const char *a, size_t na, const char *b, size_t nb);

/* Growable token list. push fails (-1) only when memory runs out. */
typedef struct token_list {
    int32_t *ids;
    size_t n, cap;
} token_list;

int token_list_push(token_list *l, int32_t id);

/* The merge loop shared by both tokenizers (vocab_merge.c). */
typedef struct merge_symbol {
    size_t start, n;   /* bytes of the string being merged; n 0 once joined */
    long prev, next;
} merge_symbol;

/* Whether a and b join, and if so with which rank (lower joins first). */
typedef int (*pair_rank_fn)(const lm_vocab *v, const char *a, size_t na, const char *b,
                            size_t nb, double *rank);

typedef struct merge_work {
    merge_symbol *sym;
    size_t sym_cap;
    struct bigram *heap;
    size_t n_heap, heap_cap;
} merge_work;

/* Merges s[0..n): when n > 0 the result chains from sym[0] through .next.
 * 0, or -1 when memory runs out. The work buffers are reused. */
int merge_symbols(const lm_vocab *v, const char *s, size_t n, pair_rank_fn rank, merge_work *w);
void merge_work_free(merge_work *w);

/* Tokenize one run of plain text (no special tokens), appending to out;
 * 0 or -1 when memory runs out. */
int spm_tokenize(const lm_vocab *v, const char *text, size_t len, int space_prefix,
                 token_list *out);
int bpe_tokenize(const lm_vocab *v, const char *text, size_t len, pretok_words *words,
                 token_list *out);

/* GPT-2's byte-to-unicode map: the code point standing for each byte. */
void bpe_byte_alphabet(uint16_t cp_of_byte[256]);

#endif
