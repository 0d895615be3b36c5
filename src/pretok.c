#include "pretok.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "alloc.h"

/* Code point classes, as llama.cpp's regexes see them. */
enum { C_WS = 1, C_L = 2, C_N = 4, C_P = 8, C_S = 16, C_M = 32 };

/* ---- names ------------------------------------------------------------ */

/* tokenizer.ggml.pre names llama.cpp maps to these regexes, with the flags
 * it sets for them. */
static const struct {
    const char *name;
    pretok_type type;
    int ignore_merges, add_bos;
} pretok_names[] = {
    {"default", PRETOK_DEFAULT, 0, 0},
    {"llama3", PRETOK_LLAMA3, 1, 1},
    {"llama-v3", PRETOK_LLAMA3, 1, 1},
    {"llama-bpe", PRETOK_LLAMA3, 1, 1},
    {"falcon3", PRETOK_LLAMA3, 1, 1},
    {"falcon-h1", PRETOK_LLAMA3, 1, 1},
    {"pixtral", PRETOK_LLAMA3, 1, 1},
    {"midm-2.0", PRETOK_LLAMA3, 1, 1},
    {"lfm2", PRETOK_LLAMA3, 1, 1},
    {"dbrx", PRETOK_LLAMA3, 0, 0},
    {"smaug-bpe", PRETOK_LLAMA3, 0, 0},
    {"qwen2", PRETOK_QWEN2, 0, 0},
    {"deepseek-r1-qwen", PRETOK_QWEN2, 0, 0},
    {"stablelm2", PRETOK_QWEN2, 0, 0},
    {"megrez", PRETOK_QWEN2, 0, 0},
    {"hunyuan", PRETOK_QWEN2, 0, 0},
    {"gpt-2", PRETOK_GPT2, 0, 0},
    {"gpt-neox", PRETOK_GPT2, 0, 0},
    {"mpt", PRETOK_GPT2, 0, 0},
    {"olmo", PRETOK_GPT2, 0, 0},
    {"phi-2", PRETOK_GPT2, 0, 0},
    {"jais", PRETOK_GPT2, 0, 0},
    {"exaone4", PRETOK_GPT2, 0, 0},
    {"trillion", PRETOK_GPT2, 0, 0},
    {"granite-docling", PRETOK_GPT2, 0, 0},
    {"gigachat", PRETOK_GPT2, 0, 0},
    {"mellum", PRETOK_GPT2, 0, 0},
    {"a.x-4.0", PRETOK_GPT2, 0, 0},
    {"starcoder", PRETOK_STARCODER, 0, 0},
    {"refact", PRETOK_STARCODER, 0, 0},
    {"smollm", PRETOK_STARCODER, 0, 0},
    {"command-r", PRETOK_STARCODER, 0, 0},
    {"codeshell", PRETOK_STARCODER, 0, 0},
    {"exaone", PRETOK_STARCODER, 0, 0},
    {"minerva-7b", PRETOK_STARCODER, 0, 0},
    {"falcon", PRETOK_FALCON, 0, 0},
    {"deepseek-llm", PRETOK_DEEPSEEK_LLM, 0, 0},
    {"deepseek-coder", PRETOK_DEEPSEEK_CODER, 0, 0},
};

int pretok_from_name(const char *name, size_t len, pretok_info *out) {
    for (size_t i = 0; i < sizeof pretok_names / sizeof pretok_names[0]; i++) {
        if (strlen(pretok_names[i].name) == len && memcmp(pretok_names[i].name, name, len) == 0) {
            out->type = pretok_names[i].type;
            out->ignore_merges = pretok_names[i].ignore_merges;
            out->add_bos = pretok_names[i].add_bos;
            return 1;
        }
    }
    return 0;
}

/* ---- code points ------------------------------------------------------ */

size_t pretok_decode_utf8(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char b = s[0];
    size_t len = b < 0x80 ? 1 : b < 0xC0 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    uint32_t c = len == 1 ? b : (uint32_t)(b & (0x7F >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c > 0x10FFFF) return 0;
    *cp = c;
    return len;
}

size_t pretok_encode_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* llama.cpp's whitespace set: Unicode White_Space. */
static int is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static uint8_t classify(uint32_t c) {
    uint8_t k = is_space(c) ? C_WS : 0;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return k | C_L;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return k | C_N;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return k | C_P;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
        return k | C_S;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        return k | C_M;
    default:
        return k;
    }
}

/* ---- character classes of the simple regexes -------------------------- */

typedef struct range { uint32_t lo, hi; } range;

static int in_ranges(const range *r, size_t n, uint32_t c) {
    for (size_t i = 0; i < n; i++)
        if (c >= r[i].lo && c <= r[i].hi) return 1;
    return 0;
}

/* DeepSeek LLM's letter class, from its tokenizer.json. */
static const range ds_letters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static const range ds_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F},
    {0x3000, 0x3002},
};

static const range cjk[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

#define N_RANGES(r) (sizeof r / sizeof r[0])

/* Classes written as literal ranges see non-ASCII whitespace as a vertical
 * tab (llama.cpp substitutes it before matching), so it is never in them. */
static int literal(uint32_t c, uint8_t k) { return !(c > 0x7F && (k & C_WS)); }

static int cls_crlf(uint32_t c, uint8_t k) { (void)k; return c == '\r' || c == '\n'; }
static int cls_space(uint32_t c, uint8_t k) { (void)c; return k & C_WS; }
static int cls_letter(uint32_t c, uint8_t k) { (void)c; return k & C_L; }
static int cls_number(uint32_t c, uint8_t k) { (void)c; return k & C_N; }
static int cls_punct(uint32_t c, uint8_t k) { (void)c; return k & C_P; }
static int cls_digit(uint32_t c, uint8_t k) { (void)k; return c >= '0' && c <= '9'; }
static int cls_punct_default(uint32_t c, uint8_t k) {
    return (k & C_P) || (c < 0x80 && c && strchr("$+<=>^~|", (int)c));
}
static int cls_punct_falcon(uint32_t c, uint8_t k) {
    return (k & C_P) || (c < 0x80 && c && strchr("$+<=>^~|`", (int)c));
}
static int cls_ds_letter(uint32_t c, uint8_t k) {
    return literal(c, k) && in_ranges(ds_letters, N_RANGES(ds_letters), c);
}
static int cls_ds_punct(uint32_t c, uint8_t k) {
    return literal(c, k) && in_ranges(ds_punct, N_RANGES(ds_punct), c);
}
static int cls_cjk(uint32_t c, uint8_t k) { return literal(c, k) && in_ranges(cjk, N_RANGES(cjk), c); }

/* One regex of the form \s?C{min,max} (max 0: unbounded), optionally
 * anchored at the end of the piece. */
typedef struct class_regex {
    int (*in)(uint32_t c, uint8_t k);
    uint8_t opt_space, min, max, at_end;
} class_regex;

/* ---- splitting -------------------------------------------------------- */

typedef struct piece_out {
    size_t *lens;
    size_t n;
} piece_out;

static void emit(piece_out *o, size_t len) {
    if (len) o->lens[o->n++] = len;
}

/* Leftmost match of r at or after pos in [pos, e): its end, or 0 (with *skip
 * telling where the next attempt may start). */
static size_t class_match_at(const class_regex *r, const pretok_words *w, size_t pos, size_t e,
                             size_t *skip) {
    size_t s = pos;
    if (r->opt_space && (w->cls[s] & C_WS) && s + 1 < e && r->in(w->cps[s + 1], w->cls[s + 1])) s++;
    size_t run = 0;
    while (s + run < e && (r->max == 0 || run < r->max) && r->in(w->cps[s + run], w->cls[s + run]))
        run++;
    if (run >= r->min && run > 0 && (!r->at_end || s + run == e)) return s + run;
    /* no match can start inside a run that was too short or not at the end */
    *skip = run ? s + run : pos + 1;
    return 0;
}

static void split_class(const class_regex *r, const pretok_words *w, size_t b, size_t e,
                        piece_out *o) {
    size_t pos = b, gap = b;
    while (pos < e) {
        size_t skip = pos + 1, end = class_match_at(r, w, pos, e, &skip);
        if (end) {
            emit(o, pos - gap);
            emit(o, end - pos);
            pos = gap = end;
        } else {
            pos = skip;
        }
    }
    emit(o, e - gap);
}

static int is_contraction(const pretok_words *w, size_t pos, size_t e, int any_case, size_t *end) {
    if (w->cps[pos] != '\'' || pos + 1 >= e) return 0;
    uint32_t a = w->cps[pos + 1], b = pos + 2 < e ? w->cps[pos + 2] : 0;
    if (any_case) {
        if (a < 0x80) a = (uint32_t)(a >= 'A' && a <= 'Z' ? a + 32 : a);
        if (b < 0x80) b = (uint32_t)(b >= 'A' && b <= 'Z' ? b + 32 : b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') { *end = pos + 2; return 1; }
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
        *end = pos + 3;
        return 1;
    }
    return 0;
}

/* Whitespace at pos: \s+(?!\S) keeps the last space for the next word. */
static size_t space_run_end(const pretok_words *w, size_t pos, size_t e) {
    size_t n = 0;
    while (pos + n < e && (w->cls[pos + n] & C_WS)) n++;
    if (n > 1 && pos + n < e) return pos + n - 1;
    return n ? pos + n : pos + 1;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(const pretok_words *w, size_t b, size_t e, piece_out *o) {
    size_t pos = b;
    while (pos < e) {
        size_t end, p = pos + (w->cps[pos] == ' ' && pos + 1 < e);
        uint8_t k = w->cls[p];
        if (is_contraction(w, pos, e, 0, &end)) {
        } else if (k & (C_L | C_N)) {
            uint8_t want = k & C_L ? C_L : C_N;
            end = p;
            while (end < e && (w->cls[end] & want)) end++;
        } else if (!(k & C_WS)) {
            end = p;
            while (end < e && !(w->cls[end] & (C_WS | C_L | C_N))) end++;
        } else {
            end = space_run_end(w, pos, e);
        }
        emit(o, end - pos);
        pos = end;
    }
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+   (D = max_digits) */
static void split_llama3(const pretok_words *w, size_t b, size_t e, size_t max_digits,
                         piece_out *o) {
    size_t pos = b;
    while (pos < e) {
        uint32_t c = w->cps[pos];
        uint8_t k = w->cls[pos];
        size_t end;
        if (is_contraction(w, pos, e, 1, &end)) {
            emit(o, end - pos);
            pos = end;
            continue;
        }
        if (c != '\r' && c != '\n' && !(k & C_N) &&
            ((k & C_L) || (pos + 1 < e && (w->cls[pos + 1] & C_L)))) {
            end = pos + 1;
            while (end < e && (w->cls[end] & C_L)) end++;
        } else if (k & C_N) {
            end = pos;
            while (end < e && end - pos < max_digits && (w->cls[end] & C_N)) end++;
        } else if (!(w->cls[pos + (c == ' ' && pos + 1 < e)] & (C_WS | C_L | C_N))) {
            end = pos + (c == ' ');
            while (end < e && !(w->cls[end] & (C_WS | C_L | C_N))) end++;
            while (end < e && (w->cps[end] == '\r' || w->cps[end] == '\n')) end++;
        } else {
            size_t n = 0, last_nl = 0;
            while (pos + n < e && (w->cls[pos + n] & C_WS)) {
                if (w->cps[pos + n] == '\r' || w->cps[pos + n] == '\n') last_nl = pos + n + 1;
                n++;
            }
            end = last_nl ? last_nl : space_run_end(w, pos, e);
        }
        emit(o, end - pos);
        pos = end;
    }
}

/* ---- pre-tokenizer types ---------------------------------------------- */

enum { PASS_CLASS, PASS_GPT2, PASS_LLAMA3, PASS_QWEN2 };

typedef struct pass {
    int kind;
    class_regex re;
} pass;

#define CLASS(fn, sp, lo, hi, end) {PASS_CLASS, {fn, sp, lo, hi, end}}
#define CUSTOM(kind) {kind, {0, 0, 0, 0, 0}}

static const pass passes_default[] = {
    CLASS(cls_punct_default, 0, 1, 0, 0), CUSTOM(PASS_GPT2),
    CLASS(cls_number, 0, 1, 0, 0), CLASS(cls_digit, 0, 3, 3, 0),
};
static const pass passes_gpt2[] = {CUSTOM(PASS_GPT2)};
static const pass passes_llama3[] = {CUSTOM(PASS_LLAMA3)};
static const pass passes_qwen2[] = {CUSTOM(PASS_QWEN2)};
static const pass passes_starcoder[] = {CLASS(cls_number, 0, 1, 1, 0), CUSTOM(PASS_GPT2)};
static const pass passes_falcon[] = {
    CLASS(cls_punct_falcon, 0, 1, 0, 0), CUSTOM(PASS_GPT2), CLASS(cls_digit, 0, 3, 3, 0),
};
static const pass passes_deepseek_llm[] = {
    CLASS(cls_crlf, 0, 1, 1, 0), CLASS(cls_ds_letter, 1, 1, 0, 0),
    CLASS(cls_ds_punct, 1, 1, 0, 0), CLASS(cls_space, 0, 1, 0, 1),
    CLASS(cls_cjk, 0, 1, 0, 0), CLASS(cls_number, 0, 1, 0, 0),
};
static const pass passes_deepseek_coder[] = {
    CLASS(cls_crlf, 0, 1, 1, 0), CLASS(cls_letter, 1, 1, 0, 0), CLASS(cls_punct, 1, 1, 0, 0),
    CLASS(cls_cjk, 0, 1, 0, 0), CLASS(cls_number, 0, 1, 1, 0),
};

static const struct { const pass *p; size_t n; } passes_of[] = {
    [PRETOK_DEFAULT] = {passes_default, N_RANGES(passes_default)},
    [PRETOK_GPT2] = {passes_gpt2, 1},
    [PRETOK_LLAMA3] = {passes_llama3, 1},
    [PRETOK_QWEN2] = {passes_qwen2, 1},
    [PRETOK_STARCODER] = {passes_starcoder, N_RANGES(passes_starcoder)},
    [PRETOK_FALCON] = {passes_falcon, N_RANGES(passes_falcon)},
    [PRETOK_DEEPSEEK_LLM] = {passes_deepseek_llm, N_RANGES(passes_deepseek_llm)},
    [PRETOK_DEEPSEEK_CODER] = {passes_deepseek_coder, N_RANGES(passes_deepseek_coder)},
};

static void run_pass(const pass *p, const pretok_words *w, size_t b, size_t e, piece_out *o) {
    switch (p->kind) {
    case PASS_GPT2: split_gpt2(w, b, e, o); break;
    case PASS_LLAMA3: split_llama3(w, b, e, 3, o); break;
    case PASS_QWEN2: split_llama3(w, b, e, 1, o); break;
    default: split_class(&p->re, w, b, e, o); break;
    }
}

static int reserve(pretok_words *w, size_t n_cps, size_t n_bytes) {
    if (n_cps + 1 > w->cap) {
        size_t cap = n_cps + 1;
        uint32_t *cps = lm_realloc_array(w->cps, cap, sizeof *cps);
        if (cps) w->cps = cps;
        uint8_t *cls = realloc(w->cls, cap);
        if (cls) w->cls = cls;
        size_t *lens = lm_realloc_array(w->lens, cap, sizeof *lens);
        if (lens) w->lens = lens;
        size_t *next = lm_realloc_array(w->lens_next, cap, sizeof *next);
        if (next) w->lens_next = next;
        size_t *ends = lm_realloc_array(w->ends, cap, sizeof *ends);
        if (ends) w->ends = ends;
        if (!cps || !cls || !lens || !next || !ends) return -1;
        w->cap = cap;
    }
    char *bytes = n_bytes < SIZE_MAX ? realloc(w->bytes, n_bytes + 1) : NULL;
    if (!bytes) return -1;
    w->bytes = bytes;
    return 0;
}

/* Decodes text into code points (invalid bytes become U+FFFD) and the
 * canonical UTF-8 the words are cut from. */
static int decode_text(const char *text, size_t len, pretok_words *w, size_t *n_cps) {
    /* at most one code point per byte, each re-encoded in at most 3 bytes per input byte */
    if (len > ((size_t)-1) / 4 - 1 || reserve(w, len, len * 3) != 0) return -1;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, nb = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t used = pretok_decode_utf8(s + i, len - i, &cp);
        if (!used) {
            cp = 0xFFFD;
            used = 1;
        }
        i += used;
        w->cps[n] = cp;
        w->cls[n] = classify(cp);
        n++;
        nb += pretok_encode_utf8(cp, w->bytes + nb);
    }
    w->n_bytes = nb;
    *n_cps = n;
    return 0;
}

int pretok_split(pretok_type type, const char *text, size_t len, pretok_words *w) {
    size_t n_cps;
    w->n_words = 0;
    if (decode_text(text, len, w, &n_cps) != 0) return -1;
    if (n_cps == 0) return 0;

    piece_out cur = {w->lens, 0};
    emit(&cur, n_cps);
    for (size_t i = 0; i < passes_of[type].n; i++) {
        piece_out next = {w->lens_next, 0};
        size_t b = 0;
        for (size_t j = 0; j < cur.n; j++) {
            run_pass(&passes_of[type].p[i], w, b, b + cur.lens[j], &next);
            b += cur.lens[j];
        }
        w->lens_next = cur.lens;
        w->lens = next.lens;
        cur = next;
    }

    /* code point lengths to byte offsets in the re-encoded text */
    size_t cp = 0, byte = 0;
    char tmp[4];
    for (size_t j = 0; j < cur.n; j++) {
        for (size_t k = 0; k < cur.lens[j]; k++) byte += pretok_encode_utf8(w->cps[cp++], tmp);
        w->ends[w->n_words++] = byte;
    }
    return 0;
}

void pretok_words_free(pretok_words *w) {
    free(w->bytes);
    free(w->ends);
    free(w->cps);
    free(w->cls);
    free(w->lens);
    free(w->lens_next);
    memset(w, 0, sizeof *w);
}
