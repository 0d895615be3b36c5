/* Pre-tokenizers for byte-level BPE: split text into words the way the
 * regexes of llama.cpp's pre-tokenizer types do, with a hand-written matcher
 * per regex over code points classified by utf8proc. */
#ifndef LM_PRETOK_H
#define LM_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PRETOK_DEFAULT,        /* "default" or missing */
    PRETOK_GPT2,           /* gpt-2, mpt, olmo, phi-2, gpt-neox... */
    PRETOK_LLAMA3,         /* llama-bpe: digits in groups of up to three */
    PRETOK_QWEN2,          /* llama3's regex with single digits */
    PRETOK_STARCODER,      /* starcoder, refact, smollm: single digits, then gpt-2 */
    PRETOK_FALCON,
    PRETOK_DEEPSEEK_LLM,
    PRETOK_DEEPSEEK_CODER,
} pretok_type;

typedef struct pretok_info {
    pretok_type type;
    int ignore_merges;   /* a word that is a whole token skips the merges */
    int add_bos;         /* the type's default for tokenizer.ggml.add_bos_token */
} pretok_info;

/* Resolves a tokenizer.ggml.pre name; 0 when it is unknown. */
int pretok_from_name(const char *name, size_t len, pretok_info *out);

/* The words of one text. bytes holds the text re-encoded as UTF-8 (an
 * invalid byte becomes U+FFFD, as in llama.cpp); word i is
 * bytes[ends[i-1] .. ends[i]). The arrays are reused across calls. */
typedef struct pretok_words {
    char *bytes;
    size_t n_bytes;
    size_t *ends;
    size_t n_words;
    /* scratch, one entry per code point */
    uint32_t *cps;
    uint8_t *cls;
    size_t *lens, *lens_next;
    size_t cap;
} pretok_words;

/* 0 on success, -1 when memory runs out. */
int pretok_split(pretok_type type, const char *text, size_t len, pretok_words *w);
void pretok_words_free(pretok_words *w);

/* Decodes one code point the way llama.cpp does (lenient about overlong
 * forms and surrogates); returns the bytes consumed, or 0 for an invalid
 * sequence. */
size_t pretok_decode_utf8(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out (4 bytes of room); returns the length. */
size_t pretok_encode_utf8(uint32_t cp, char *out);

#endif
