/* Vocabulary loading from GGUF metadata, special-token splitting and the
 * token <-> text entry points. The tokenizers proper are in vocab_spm.c and
 * vocab_bpe.c; the BPE pre-tokenizers in pretok.c. */
#include "vocab.h"

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "vocab_impl.h"

#define KEY(name) "tokenizer.ggml." name

/* ---- hashing ---------------------------------------------------------- */

uint32_t vocab_hash(const char *s, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int index_map_init(index_map *m, uint32_t n) {
    uint32_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots ? 0 : -1;
}

int32_t vocab_find(const lm_vocab *v, const char *s, size_t n) {
    for (uint32_t i = vocab_hash(s, n, VOCAB_HASH_SEED) & v->text_map.mask;;
         i = (i + 1) & v->text_map.mask) {
        uint32_t slot = v->text_map.slots[i];
        if (!slot) return -1;
        uint32_t id = slot - 1;
        if (v->text.len[id] == n && memcmp(v->text.data + v->text.off[id], s, n) == 0)
            return (int32_t)id;
    }
}

int32_t vocab_merge_rank(const lm_vocab *v, const char *a, size_t na, const char *b, size_t nb) {
    uint32_t h = vocab_hash(b, nb, vocab_hash(" ", 1, vocab_hash(a, na, VOCAB_HASH_SEED)));
    for (uint32_t i = h & v->merge_map.mask;; i = (i + 1) & v->merge_map.mask) {
        uint32_t slot = v->merge_map.slots[i];
        if (!slot) return -1;
        uint32_t r = slot - 1;
        const char *m = v->merges.data + v->merges.off[r];
        if (v->merge_split[r] == na && v->merges.len[r] == na + 1 + nb && memcmp(m, a, na) == 0 &&
            memcmp(m + na + 1, b, nb) == 0)
            return (int32_t)r;
    }
}

int token_list_push(token_list *l, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        int32_t *ids = lm_realloc_array(l->ids, cap, sizeof *ids);
        if (!ids) return -1;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return 0;
}

/* ---- loading ---------------------------------------------------------- */

/* Copies a GGUF string array into a string_list. */
static lm_status load_strings(const gguf_file *f, const char *key, string_list *out,
                              uint32_t *n_out, lm_error *err) {
    const uint8_t *first;
    uint64_t n;
    int rc = gguf_get_arr(f, key, GGUF_STRING, &first, &n);
    if (rc == 0) return lm_fail(err, LM_E_FORMAT, "%s is missing", key);
    if (rc < 0) return lm_fail(err, LM_E_FORMAT, "%s must be an array of strings", key);
    /* the hash tables hold at most 2^31 slots at a load of one half */
    if (n > (1u << 30)) return lm_fail(err, LM_E_FORMAT, "%s has too many entries (%llu)", key,
                                       (unsigned long long)n);
    uint64_t total = 0;
    const uint8_t *p = first;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        p = gguf_next_str(p, &s);
        total += s.len + 1;
    }
    if (total >= UINT32_MAX) return lm_fail(err, LM_E_FORMAT, "%s is too large", key);
    out->data = malloc(total ? total : 1);
    out->off = malloc((n ? n : 1) * sizeof *out->off);
    out->len = malloc((n ? n : 1) * sizeof *out->len);
    if (!out->data || !out->off || !out->len)
        return lm_fail(err, LM_E_MEMORY, "out of memory reading %s", key);
    uint32_t pos = 0;
    p = first;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s;
        p = gguf_next_str(p, &s);
        memcpy(out->data + pos, s.ptr, s.len);
        out->data[pos + s.len] = 0;
        out->off[i] = pos;
        out->len[i] = (uint32_t)s.len;
        pos += (uint32_t)s.len + 1;
    }
    *n_out = (uint32_t)n;
    return LM_OK;
}

static void free_strings(string_list *s) {
    free(s->data);
    free(s->off);
    free(s->len);
}

static lm_status load_tokens(const gguf_file *f, lm_vocab *v, lm_error *err) {
    uint32_t n;
    lm_status st = load_strings(f, KEY("tokens"), &v->text, &n, err);
    if (st != LM_OK) return st;
    if (n == 0) return lm_fail(err, LM_E_FORMAT, KEY("tokens") " is empty");
    v->n_tokens = (int32_t)n;
    if (index_map_init(&v->text_map, n) != 0)
        return lm_fail(err, LM_E_MEMORY, "out of memory for the token table");
    for (uint32_t id = 0; id < n; id++) {
        const char *s = v->text.data + v->text.off[id];
        size_t len = v->text.len[id];
        if (len == 0) continue; /* an empty token can never be matched */
        uint32_t i = vocab_hash(s, len, VOCAB_HASH_SEED) & v->text_map.mask;
        for (; v->text_map.slots[i]; i = (i + 1) & v->text_map.mask) {
            uint32_t other = v->text_map.slots[i] - 1;
            if (v->text.len[other] == len && memcmp(v->text.data + v->text.off[other], s, len) == 0)
                return lm_fail(err, LM_E_FORMAT, KEY("tokens") " has '%s' twice (ids %u and %u)", s,
                               other, id);
        }
        v->text_map.slots[i] = id + 1;
    }
    return LM_OK;
}

static lm_status load_scores(const gguf_file *f, lm_vocab *v, lm_error *err) {
    v->scores = calloc((size_t)v->n_tokens, sizeof *v->scores);
    if (!v->scores) return lm_fail(err, LM_E_MEMORY, "out of memory for token scores");
    const uint8_t *first;
    uint64_t n;
    gguf_type t = GGUF_FLOAT32;
    int rc = gguf_get_arr(f, KEY("scores"), t, &first, &n);
    if (rc < 0) rc = gguf_get_arr(f, KEY("scores"), t = GGUF_INT32, &first, &n);
    if (rc == 0) return LM_OK;
    if (rc < 0) return lm_fail(err, LM_E_FORMAT, KEY("scores") " must be an array of float32");
    if (n != (uint64_t)v->n_tokens)
        return lm_fail(err, LM_E_FORMAT, KEY("scores") " has %llu entries for %d tokens",
                       (unsigned long long)n, v->n_tokens);
    for (uint64_t i = 0; i < n; i++) v->scores[i] = (float)gguf_arr_f64(t, first, i);
    return LM_OK;
}

static lm_status load_token_types(const gguf_file *f, lm_vocab *v, lm_error *err) {
    static const uint8_t attr_of_type[] = {
        [TOKEN_TYPE_UNDEFINED] = 0, [TOKEN_TYPE_NORMAL] = ATTR_NORMAL,
        [TOKEN_TYPE_UNKNOWN] = ATTR_UNKNOWN, [TOKEN_TYPE_CONTROL] = ATTR_CONTROL,
        [TOKEN_TYPE_USER_DEFINED] = ATTR_USER_DEFINED, [TOKEN_TYPE_UNUSED] = ATTR_UNUSED,
        [TOKEN_TYPE_BYTE] = ATTR_BYTE,
    };
    v->attr = malloc((size_t)v->n_tokens);
    if (!v->attr) return lm_fail(err, LM_E_MEMORY, "out of memory for token types");
    memset(v->attr, ATTR_NORMAL, (size_t)v->n_tokens);
    const uint8_t *first;
    uint64_t n;
    int rc = gguf_get_arr(f, KEY("token_type"), GGUF_INT32, &first, &n);
    if (rc == 0) return LM_OK;
    if (rc < 0) return lm_fail(err, LM_E_FORMAT, KEY("token_type") " must be an array of int32");
    if (n != (uint64_t)v->n_tokens)
        return lm_fail(err, LM_E_FORMAT, KEY("token_type") " has %llu entries for %d tokens",
                       (unsigned long long)n, v->n_tokens);
    for (uint64_t i = 0; i < n; i++) {
        int64_t t = gguf_arr_i64(GGUF_INT32, first, i);
        if (t < 0 || t > TOKEN_TYPE_BYTE)
            return lm_fail(err, LM_E_FORMAT, KEY("token_type") "[%llu] = %lld is not a token type",
                           (unsigned long long)i, (long long)t);
        v->attr[i] = attr_of_type[t];
    }
    return LM_OK;
}

/* Merges are "left right"; the first space after the first byte splits. */
static lm_status load_merges(const gguf_file *f, lm_vocab *v, lm_error *err) {
    lm_status st = load_strings(f, KEY("merges"), &v->merges, &v->n_merges, err);
    if (st != LM_OK) return st;
    v->merge_split = malloc((v->n_merges ? v->n_merges : 1) * sizeof *v->merge_split);
    if (!v->merge_split || index_map_init(&v->merge_map, v->n_merges) != 0)
        return lm_fail(err, LM_E_MEMORY, "out of memory for the merge table");
    for (uint32_t r = 0; r < v->n_merges; r++) {
        const char *m = v->merges.data + v->merges.off[r];
        uint32_t len = v->merges.len[r];
        const char *sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
        if (!sp || sp + 1 == m + len)
            return lm_fail(err, LM_E_FORMAT, KEY("merges") "[%u] = '%s' is not two tokens", r, m);
        v->merge_split[r] = (uint32_t)(sp - m);
        uint32_t i = vocab_hash(m, len, VOCAB_HASH_SEED) & v->merge_map.mask;
        int duplicate = 0;
        for (; v->merge_map.slots[i] && !duplicate; i = (i + 1) & v->merge_map.mask) {
            uint32_t o = v->merge_map.slots[i] - 1;
            duplicate = v->merges.len[o] == len && v->merge_split[o] == v->merge_split[r] &&
                        memcmp(v->merges.data + v->merges.off[o], m, len) == 0;
        }
        if (!duplicate) v->merge_map.slots[i] = r + 1; /* the first rank wins */
    }
    return LM_OK;
}

/* An optional token id: absent keeps *id (the type's default). */
static lm_status load_id(const gguf_file *f, const lm_vocab *v, const char *key, int32_t *id,
                         lm_error *err) {
    uint32_t u;
    int rc = gguf_get_u32(f, key, &u);
    if (rc < 0) return lm_fail(err, LM_E_FORMAT, "%s must be an unsigned integer", key);
    if (rc == 0) {
        if (*id >= v->n_tokens) *id = -1;
        return LM_OK;
    }
    /* Converters write -1 (as uint32) for "no such token": like llama.cpp,
     * an id outside the vocabulary keeps the type's default (or none). */
    if (u < (uint32_t)v->n_tokens) *id = (int32_t)u;
    else if (*id >= v->n_tokens) *id = -1;
    return LM_OK;
}

static lm_status load_flag(const gguf_file *f, const char *key, int *flag, lm_error *err) {
    int rc = gguf_get_bool(f, key, flag);
    return rc < 0 ? lm_fail(err, LM_E_FORMAT, "%s must be a bool", key) : LM_OK;
}

static lm_status load_type(const gguf_file *f, lm_vocab *v, lm_error *err) {
    gguf_str model, pre;
    int rc = gguf_get_str(f, KEY("model"), &model);
    if (rc <= 0) return lm_fail(err, LM_E_FORMAT, KEY("model") " is %s", rc ? "not a string" : "missing");
    if (gguf_str_eq(model, "llama")) {
        v->type = VOCAB_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_bos = 1;
        v->add_space_prefix = 1;
        return LM_OK;
    }
    if (!gguf_str_eq(model, "gpt2"))
        return lm_fail(err, LM_E_UNSUPPORTED, KEY("model") " '%.*s' is not supported (llama, gpt2)",
                       (int)(model.len > 64 ? 64 : model.len), model.ptr);
    v->type = VOCAB_BPE;
    rc = gguf_get_str(f, KEY("pre"), &pre);
    if (rc < 0) return lm_fail(err, LM_E_FORMAT, KEY("pre") " must be a string");
    if (rc == 0) pre = (gguf_str){"default", 7};
    if (!pretok_from_name(pre.ptr, (size_t)pre.len, &v->pre))
        return lm_fail(err, LM_E_UNSUPPORTED, KEY("pre") " '%.*s' is not a supported pre-tokenizer",
                       (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
    v->add_bos = v->pre.add_bos;
    return LM_OK;
}

static lm_status load_specials(const gguf_file *f, lm_vocab *v, lm_error *err) {
    static const struct { const char *key; size_t field; } ids[] = {
        {KEY("bos_token_id"), offsetof(lm_vocab, bos)},
        {KEY("eos_token_id"), offsetof(lm_vocab, eos)},
        {KEY("eot_token_id"), offsetof(lm_vocab, eot)},
        {KEY("eom_token_id"), offsetof(lm_vocab, eom)},
        {KEY("unknown_token_id"), offsetof(lm_vocab, unk)},
        {KEY("padding_token_id"), offsetof(lm_vocab, pad)},
    };
    lm_status st = LM_OK;
    for (size_t i = 0; st == LM_OK && i < sizeof ids / sizeof ids[0]; i++)
        st = load_id(f, v, ids[i].key, (int32_t *)((char *)v + ids[i].field), err);
    if (st == LM_OK) st = load_flag(f, KEY("add_bos_token"), &v->add_bos, err);
    if (st == LM_OK) st = load_flag(f, KEY("add_eos_token"), &v->add_eos, err);
    if (st == LM_OK) st = load_flag(f, KEY("add_space_prefix"), &v->add_space_prefix, err);
    if (st != LM_OK) return st;
    if (v->add_bos && v->bos < 0)
        return lm_fail(err, LM_E_FORMAT, KEY("add_bos_token") " is true but there is no BOS token");
    if (v->add_eos && v->eos < 0)
        return lm_fail(err, LM_E_FORMAT, KEY("add_eos_token") " is true but there is no EOS token");
    return LM_OK;
}

/* End-of-generation tokens: EOS, EOT, EOM and the usual end-of-turn texts
 * (as llama.cpp recognizes them; they become control tokens). */
static void mark_eog(lm_vocab *v) {
    static const char *const texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
        ("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"), /* DeepSeek */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t id = vocab_find(v, texts[i], strlen(texts[i]));
        if (id >= 0) v->attr[id] |= ATTR_EOG | ATTR_CONTROL;
    }
    int32_t ids[] = {v->eos, v->eot, v->eom};
    for (size_t i = 0; i < 3; i++)
        if (ids[i] >= 0) v->attr[ids[i]] |= ATTR_EOG;
}

typedef struct special_entry { uint32_t len; int32_t id; } special_entry;

static int by_length_desc(const void *a, const void *b) {
    const special_entry *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Special tokens are searched in the raw text longest first. */
static lm_status collect_specials(lm_vocab *v, lm_error *err) {
    special_entry *e = malloc((size_t)v->n_tokens * sizeof *e);
    v->special = malloc((size_t)v->n_tokens * sizeof *v->special);
    if (!e || !v->special) {
        free(e);
        return lm_fail(err, LM_E_MEMORY, "out of memory for special tokens");
    }
    int32_t n = 0;
    for (int32_t id = 0; id < v->n_tokens; id++)
        if ((v->attr[id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) && v->text.len[id])
            e[n++] = (special_entry){v->text.len[id], id};
    qsort(e, (size_t)n, sizeof *e, by_length_desc);
    for (int32_t i = 0; i < n; i++) v->special[i] = e[i].id;
    v->n_special = n;
    free(e);
    return LM_OK;
}

/* Phi-3's special tokens swallow the whitespace after them (llama.cpp keys
 * this on the model name). */
static void phi3_rstrip(const gguf_file *f, lm_vocab *v) {
    gguf_str name;
    char lower[128];
    if (gguf_get_str(f, "general.name", &name) != 1) return;
    size_t n = name.len < sizeof lower - 1 ? (size_t)name.len : sizeof lower - 1;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name.ptr[i]);
    lower[n] = 0;
    if (!strstr(lower, "phi-3") && !strstr(lower, "phi3")) return;
    for (int32_t i = 0; i < v->n_special; i++) v->attr[v->special[i]] |= ATTR_RSTRIP;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    int32_t id = vocab_find(v, "</s>", 4);
    if (id >= 0) v->attr[id] |= ATTR_RSTRIP;
    for (size_t i = 0; i < 3; i++)
        if ((id = vocab_find(v, keep[i], strlen(keep[i]))) >= 0) v->attr[id] &= ~ATTR_RSTRIP;
}

static void find_byte_tokens(lm_vocab *v) {
    if (v->type == VOCAB_BPE) bpe_byte_alphabet(v->byte_cp);
    for (int b = 0; b < 256; b++) {
        char hex[7], one = (char)b;
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = v->type == VOCAB_SPM ? vocab_find(v, hex, 6) : -1;
        v->byte_token[b] = id >= 0 ? id : vocab_find(v, &one, 1);
    }
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The bytes of a normal token: U+2581 is a space (SPM); the GPT-2 byte
 * alphabet maps back to bytes (BPE; other code points stay as they are). */
static size_t decode_piece(const lm_vocab *v, const int *byte_of_cp, const char *s, size_t n,
                           char *out) {
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = pretok_decode_utf8((const unsigned char *)s + i, n - i, &cp);
        if (!len) {
            out[m++] = s[i++];
            continue;
        }
        if (v->type == VOCAB_SPM && cp == 0x2581) {
            out[m++] = ' ';
        } else if (v->type == VOCAB_BPE && cp < 512 && byte_of_cp[cp] >= 0) {
            out[m++] = (char)byte_of_cp[cp];
        } else {
            memcpy(out + m, s + i, len);
            m += len;
        }
        i += len;
    }
    return m;
}

static lm_status build_pieces(lm_vocab *v, lm_error *err) {
    int byte_of_cp[512];
    for (int i = 0; i < 512; i++) byte_of_cp[i] = -1;
    if (v->type == VOCAB_BPE)
        for (int b = 0; b < 256; b++) byte_of_cp[v->byte_cp[b]] = b;
    size_t total = v->text.off[v->n_tokens - 1] + v->text.len[v->n_tokens - 1] + 1;
    string_list *p = &v->piece;
    p->data = malloc(total);
    p->off = malloc((size_t)v->n_tokens * sizeof *p->off);
    p->len = malloc((size_t)v->n_tokens * sizeof *p->len);
    if (!p->data || !p->off || !p->len) return lm_fail(err, LM_E_MEMORY, "out of memory for token pieces");
    uint32_t pos = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        const char *s = v->text.data + v->text.off[id];
        size_t n = v->text.len[id], m = 0;
        uint8_t a = v->attr[id];
        if (a & (ATTR_CONTROL | ATTR_UNKNOWN)) {
            m = 0;
        } else if (a & ATTR_USER_DEFINED) {
            memcpy(p->data + pos, s, n);
            m = n;
        } else if (a & ATTR_BYTE) {
            int hi = n == 6 ? hex_digit(s[3]) : -1, lo = n == 6 ? hex_digit(s[4]) : -1;
            if (memcmp(s, "<0x", n < 3 ? n : 3) != 0 || hi < 0 || lo < 0 || s[5] != '>')
                return lm_fail(err, LM_E_FORMAT, "byte token %d is '%s', not <0xXX>", id, s);
            p->data[pos] = (char)(hi * 16 + lo);
            m = 1;
        } else if (a & ATTR_NORMAL) {
            m = decode_piece(v, byte_of_cp, s, n, p->data + pos);
        }
        p->off[id] = pos;
        p->len[id] = (uint32_t)m;
        pos += (uint32_t)m;
    }
    return LM_OK;
}

lm_status lm_vocab_load(const gguf_file *f, lm_vocab **out, lm_error *err) {
    *out = NULL;
    lm_vocab *v = calloc(1, sizeof *v);
    if (!v) return lm_fail(err, LM_E_MEMORY, "out of memory for the vocabulary");
    v->bos = v->eos = v->eot = v->eom = v->unk = v->pad = -1;
    lm_status st = load_type(f, v, err);
    if (st == LM_OK) st = load_tokens(f, v, err);
    if (st == LM_OK) st = load_scores(f, v, err);
    if (st == LM_OK) st = load_token_types(f, v, err);
    if (st == LM_OK && v->type == VOCAB_BPE) st = load_merges(f, v, err);
    if (st == LM_OK) st = load_specials(f, v, err);
    if (st == LM_OK) {
        mark_eog(v);
        st = collect_specials(v, err);
    }
    if (st == LM_OK) {
        phi3_rstrip(f, v);
        find_byte_tokens(v);
        st = build_pieces(v, err);
    }
    if (st != LM_OK) {
        lm_vocab_free(v);
        return st;
    }
    *out = v;
    return LM_OK;
}

void lm_vocab_free(lm_vocab *v) {
    if (!v) return;
    free_strings(&v->text);
    free_strings(&v->piece);
    free_strings(&v->merges);
    free(v->merge_split);
    free(v->merge_map.slots);
    free(v->text_map.slots);
    free(v->scores);
    free(v->attr);
    free(v->special);
    free(v);
}

/* ---- accessors -------------------------------------------------------- */

int32_t lm_vocab_size(const lm_vocab *v) { return v->n_tokens; }
int32_t lm_vocab_bos(const lm_vocab *v) { return v->bos; }
int32_t lm_vocab_eos(const lm_vocab *v) { return v->eos; }
int lm_vocab_add_bos(const lm_vocab *v) { return v->add_bos; }

int lm_vocab_is_eog(const lm_vocab *v, int32_t token) {
    return token >= 0 && token < v->n_tokens && (v->attr[token] & ATTR_EOG);
}

const char *lm_vocab_token_text(const lm_vocab *v, int32_t token) {
    if (token < 0 || token >= v->n_tokens) return NULL;
    return v->text.data + v->text.off[token];
}

int32_t lm_vocab_token_to_piece(const lm_vocab *v, int32_t token, char *buf, int32_t size) {
    if (token < 0 || token >= v->n_tokens) return 0;
    int32_t n = (int32_t)v->piece.len[token];
    if (size < n || (n && !buf)) return -n;
    if (n) memcpy(buf, v->piece.data + v->piece.off[token], (size_t)n);
    return n;
}

/* ---- tokenizing ------------------------------------------------------- */

/* A run of raw text or one special token. */
typedef struct fragment {
    int32_t token; /* -1: text[off .. off+len) */
    size_t off, len;
} fragment;

typedef struct fragment_list {
    fragment *f;
    size_t n, cap;
} fragment_list;

static int fragment_push(fragment_list *l, int32_t token, size_t off, size_t len) {
    if (token < 0 && len == 0) return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fragment *f = lm_realloc_array(l->f, cap, sizeof *f);
        if (!f) return -1;
        l->f = f;
        l->cap = cap;
    }
    l->f[l->n++] = (fragment){token, off, len};
    return 0;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m) {
    for (const char *end = hay + n; (size_t)(end - hay) >= m;) {
        const char *p = memchr(hay, needle[0], (size_t)(end - hay) - m + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
        hay = p + 1;
    }
    return NULL;
}

static int contains_token(const fragment_list *l, const char *text, const char *t, size_t tn) {
    for (size_t i = 0; i < l->n; i++)
        if (l->f[i].token < 0 && find_bytes(text + l->f[i].off, l->f[i].len, t, tn)) return 1;
    return 0;
}

/* Cuts every text fragment at each occurrence of special token id. */
static int split_on_token(const lm_vocab *v, int32_t id, const char *text, fragment_list *l,
                          fragment_list *tmp) {
    const char *t = v->text.data + v->text.off[id];
    size_t tn = v->text.len[id];
    tmp->n = 0;
    for (size_t i = 0; i < l->n; i++) {
        fragment fr = l->f[i];
        if (fr.token >= 0) {
            if (fragment_push(tmp, fr.token, 0, 0) != 0) return -1;
            continue;
        }
        size_t pos = fr.off, end = fr.off + fr.len;
        const char *m;
        while ((m = find_bytes(text + pos, end - pos, t, tn)) != NULL) {
            size_t at = (size_t)(m - text);
            if (fragment_push(tmp, -1, pos, at - pos) != 0 || fragment_push(tmp, id, 0, 0) != 0)
                return -1;
            pos = at + tn;
            if (v->attr[id] & ATTR_RSTRIP)
                while (pos < end && isspace((unsigned char)text[pos])) pos++;
        }
        if (fragment_push(tmp, -1, pos, end - pos) != 0) return -1;
    }
    fragment_list swap = *l;
    *l = *tmp;
    *tmp = swap;
    return 0;
}

/* Special tokens first, as llama.cpp does: each in turn, longest first, cuts
 * the remaining text. Without parse_special only user-defined ones count. */
static int partition(const lm_vocab *v, const char *text, size_t len, int parse_special,
                     fragment_list *l) {
    if (fragment_push(l, -1, 0, len) != 0) return -1;
    unsigned char present[256] = {0};
    for (size_t i = 0; i < len; i++) present[(unsigned char)text[i]] = 1;
    fragment_list tmp = {0};
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < v->n_special; i++) {
        int32_t id = v->special[i];
        const char *t = v->text.data + v->text.off[id];
        if (!parse_special && (v->attr[id] & (ATTR_CONTROL | ATTR_UNKNOWN))) continue;
        if (!present[(unsigned char)t[0]] || !contains_token(l, text, t, v->text.len[id])) continue;
        rc = split_on_token(v, id, text, l, &tmp);
    }
    free(tmp.f);
    return rc;
}

static int tokenize_fragments(const lm_vocab *v, const char *text, const fragment_list *l,
                              token_list *out) {
    pretok_words words = {0};
    int rc = 0, prev_special = 1;
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        const fragment *fr = &l->f[i];
        if (fr->token >= 0) {
            rc = token_list_push(out, fr->token);
            prev_special = 1;
        } else if (v->type == VOCAB_SPM) {
            /* SentencePiece puts a space before text that starts the input or
             * follows a special token */
            rc = spm_tokenize(v, text + fr->off, fr->len, v->add_space_prefix && prev_special, out);
            prev_special = 0;
        } else {
            rc = bpe_tokenize(v, text + fr->off, fr->len, &words, out);
        }
    }
    pretok_words_free(&words);
    return rc;
}

int32_t lm_vocab_tokenize(const lm_vocab *v, const char *text, size_t len, int add_bos,
                          int parse_special, int32_t *out, int32_t max) {
    if (!text) len = 0;
    token_list toks = {0};
    fragment_list frags = {0};
    int rc = 0;
    if (add_bos && v->bos >= 0) rc = token_list_push(&toks, v->bos);
    if (rc == 0 && len) rc = partition(v, text, len, parse_special, &frags);
    if (rc == 0) rc = tokenize_fragments(v, text, &frags, &toks);
    free(frags.f);
    int32_t result;
    if (rc != 0 || toks.n > INT32_MAX) {
        result = -INT32_MAX; /* more than can be given (and safe to negate) */
    } else if (!out || max < (int32_t)toks.n) {
        result = -(int32_t)toks.n;
    } else {
        if (toks.n) memcpy(out, toks.ids, toks.n * sizeof *out);
        result = (int32_t)toks.n;
    }
    free(toks.ids);
    return result;
}
