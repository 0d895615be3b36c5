/* Tokenizers against llama.cpp's reference token ids: for every
 * ../shared/vocab/ggml-vocab-*.gguf with .inp/.out, each test string is
 * tokenized like test-tokenizer-0 does (no BOS, special tokens not parsed)
 * and compared with its line of ids. Also round trips and hostile inputs. */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gguf.h"
#include "gguf_write.h"
#include "pretok.h"
#include "vocab.h"

typedef struct buffer {
    char *data;
    size_t size;
} buffer;

static int read_file(const char *path, buffer *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    b->data = NULL;
    b->size = 0;
    size_t cap = 0, n;
    char chunk[1 << 16];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->size + n + 1 > cap) {
            cap = (b->size + n + 1) * 2;
            b->data = realloc(b->data, cap);
        }
        memcpy(b->data + b->size, chunk, n);
        b->size += n;
    }
    fclose(f);
    if (!b->data) b->data = calloc(1, 1);
    b->data[b->size] = 0;
    return 1;
}

/* Next test string of an .inp file: they are separated by this line. */
static int next_input(const buffer *inp, size_t *pos, const char **s, size_t *n) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    if (*pos >= inp->size) return 0;
    const char *start = inp->data + *pos;
    const char *end = strstr(start, sep);
    *s = start;
    *n = end ? (size_t)(end - start) : inp->size - *pos;
    *pos += *n + (end ? sizeof sep - 1 : 0);
    return 1;
}

static int next_line(const buffer *out, size_t *pos, const char **s, size_t *n) {
    if (*pos >= out->size) return 0;
    const char *start = out->data + *pos, *end = memchr(start, '\n', out->size - *pos);
    *s = start;
    *n = end ? (size_t)(end - start) : out->size - *pos;
    *pos += *n + (end ? 1 : 0);
    return 1;
}

static int parse_ids(const char *s, size_t n, int32_t *ids, int max) {
    int count = 0;
    char *line = strndup(s, n), *p = line, *end;
    for (long v = strtol(p, &end, 10); end != p && count < max; v = strtol(p, &end, 10)) {
        ids[count++] = (int32_t)v;
        p = end;
    }
    free(line);
    return count;
}

static int valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = u[i] < 0x80 ? 1 : (u[i] >> 5) == 6 ? 2 : (u[i] >> 4) == 14 ? 3 : (u[i] >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((u[i + k] & 0xC0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

/* Concatenated pieces of ids; returns the length. */
static size_t detokenize(const lm_vocab *v, const int32_t *ids, int n, char *out, size_t cap) {
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        int32_t k = lm_vocab_token_to_piece(v, ids[i], out + m, (int32_t)(cap - m));
        if (k < 0) return (size_t)-1;
        m += (size_t)k;
    }
    return m;
}

static void print_ids(const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "  %s:", label);
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

/* Returns 1 when every line matched. */
static int check_vocab(const char *dir, const char *name) {
    char path[1400];
    buffer gg, inp, out;
    snprintf(path, sizeof path, "%.1024s/%.255s", dir, name);
    if (!read_file(path, &gg)) return 0;
    snprintf(path, sizeof path, "%.1024s/%.255s.inp", dir, name);
    if (!read_file(path, &inp)) { free(gg.data); return -1; }
    snprintf(path, sizeof path, "%.1024s/%.255s.out", dir, name);
    if (!read_file(path, &out)) { free(gg.data); free(inp.data); return -1; }

    gguf_file f;
    lm_error err = {0};
    lm_vocab *v = NULL;
    lm_status st = gguf_parse(&f, (const uint8_t *)gg.data, gg.size, &err);
    if (st == LM_OK) st = lm_vocab_load(&f, &v, &err);
    CHECK(st == LM_OK, "%s: %s", name, err.message);
    int total = 0, matched = 0, round_trips = 0, round_trip_ok = 0;
    size_t ip = 0, op = 0;
    const char *s, *line;
    size_t n, ln;
    enum { MAX_IDS = 4096 };
    static int32_t want[MAX_IDS], got[MAX_IDS];
    static char text[MAX_IDS * 16];
    while (v && next_input(&inp, &ip, &s, &n)) {
        if (!next_line(&out, &op, &line, &ln)) {
            CHECK(0, "%s: .out has fewer lines than .inp has tests", name);
            break;
        }
        int nw = parse_ids(line, ln, want, MAX_IDS);
        int32_t ng = lm_vocab_tokenize(v, s, n, 0, 0, got, MAX_IDS);
        total++;
        int ok = ng == nw && memcmp(got, want, (size_t)nw * sizeof *got) == 0;
        matched += ok;
        CHECK(ok, "%s: test %d '%.*s' differs", name, total, (int)n, s);
        if (!ok) {
            print_ids("want", want, nw);
            print_ids("got ", got, ng > 0 ? ng : 0);
        }
        /* too small a buffer gives minus the count */
        if (ng > 0) CHECK(lm_vocab_tokenize(v, s, n, 0, 0, got, ng - 1) == -ng, "%s: short buffer", name);
        /* decoding the reference ids gives back the text (SentencePiece adds
         * one leading space) */
        if (ok && valid_utf8(s, n)) {
            size_t m = detokenize(v, got, ng, text, sizeof text);
            const char *t = text;
            if (m != (size_t)-1 && m > 0 && lm_vocab_add_bos(v) && text[0] == ' ' && n && s[0] != ' ') t++, m--;
            else if (m != (size_t)-1 && m > n && text[0] == ' ') t++, m--;
            round_trips++;
            round_trip_ok += m == n && memcmp(t, s, n) == 0;
            CHECK(m == n && memcmp(t, s, n) == 0, "%s: '%.*s' decodes to '%.*s'", name, (int)n, s,
                  (int)(m == (size_t)-1 ? 0 : m), t);
        }
    }
    printf("%-32s %d/%d lines match, %d/%d round trips\n", name, matched, total, round_trip_ok,
           round_trips);
    lm_vocab_free(v);
    if (st == LM_OK) gguf_release(&f);
    free(gg.data);
    free(inp.data);
    free(out.data);
    return v && matched == total;
}

/* Inputs no caller should send, on a real vocabulary. */
static void check_hostile(const char *dir, const char *name) {
    char path[1400];
    buffer gg;
    snprintf(path, sizeof path, "%.1024s/%.255s", dir, name);
    if (!read_file(path, &gg)) return;
    gguf_file f;
    lm_error err = {0};
    lm_vocab *v = NULL;
    if (gguf_parse(&f, (const uint8_t *)gg.data, gg.size, &err) != LM_OK ||
        lm_vocab_load(&f, &v, &err) != LM_OK) {
        CHECK(0, "%s: %s", name, err.message);
        free(gg.data);
        return;
    }
    int32_t ids[256];
    char piece[64];
    int32_t n_vocab = lm_vocab_size(v);

    CHECK(lm_vocab_tokenize(v, "", 0, 0, 0, ids, 256) == 0, "%s: empty text gives no tokens", name);
    CHECK(lm_vocab_tokenize(v, NULL, 0, 0, 0, ids, 256) == 0, "%s: NULL text", name);
    if (lm_vocab_bos(v) >= 0)
        CHECK(lm_vocab_tokenize(v, "", 0, 1, 0, ids, 256) == 1 && ids[0] == lm_vocab_bos(v),
              "%s: empty text with BOS", name);
    CHECK(lm_vocab_tokenize(v, "hello", 5, 0, 0, NULL, 0) < 0, "%s: NULL output counts", name);

    static const char bad[] = "\xff\xfe a\xc3 \xe2\x82 \xf0\x9f\x98 \xc0\xaf \xed\xa0\x80 \x80\x80\x00z";
    int32_t n = lm_vocab_tokenize(v, bad, sizeof bad - 1, 0, 0, ids, 256);
    CHECK(n > 0, "%s: invalid UTF-8 still tokenizes (%d)", name, n);
    for (int32_t i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < n_vocab, "%s: id %d", name, ids[i]);

    CHECK(lm_vocab_token_to_piece(v, n_vocab, piece, sizeof piece) == 0, "%s: id past the end", name);
    CHECK(lm_vocab_token_to_piece(v, INT32_MAX, piece, sizeof piece) == 0, "%s: huge id", name);
    CHECK(lm_vocab_token_to_piece(v, -1, piece, sizeof piece) == 0, "%s: negative id", name);
    CHECK(lm_vocab_token_text(v, -5) == NULL && lm_vocab_token_text(v, n_vocab) == NULL,
          "%s: token_text out of range", name);
    /* a piece longer than the buffer gives minus its size */
    n = lm_vocab_tokenize(v, " Hello", 6, 0, 0, ids, 256);
    CHECK(n >= 1, "%s: ' Hello' tokenizes", name);
    int32_t len = lm_vocab_token_to_piece(v, ids[n - 1], piece, sizeof piece);
    CHECK(len > 1, "%s: piece of 'Hello' (%d)", name, len);
    if (len > 1) CHECK(lm_vocab_token_to_piece(v, ids[n - 1], piece, 1) == -len, "%s: short piece buffer", name);
    if (lm_vocab_eos(v) >= 0) {
        CHECK(lm_vocab_is_eog(v, lm_vocab_eos(v)), "%s: EOS ends generation", name);
        CHECK(lm_vocab_token_to_piece(v, lm_vocab_eos(v), piece, sizeof piece) == 0 ||
                  lm_vocab_token_text(v, lm_vocab_eos(v)) != NULL,
              "%s: EOS piece", name);
    }
    CHECK(!lm_vocab_is_eog(v, -1) && !lm_vocab_is_eog(v, n_vocab), "%s: is_eog out of range", name);

    /* a long run of one character stays linear-ish and exact in count */
    size_t big = 200000;
    char *long_text = malloc(big);
    memset(long_text, '!', big);
    n = lm_vocab_tokenize(v, long_text, big, 0, 0, NULL, 0);
    CHECK(n < 0, "%s: long text needs %d tokens", name, -n);
    free(long_text);

    lm_vocab_free(v);
    gguf_release(&f);
    free(gg.data);
}


/* ---- small vocabularies written with the GGUF writer ----------------- */

enum { SPM_BASE = 3 + 256 }; /* <unk> <s> </s> then the 256 byte tokens */

typedef void (*tweak_fn)(gguf_writer *w);

/* Loads a vocabulary from metadata that tweak may change or complete. */
static lm_status load_synthetic(const char *model, tweak_fn tweak, lm_vocab **v, lm_error *err) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_tokenizer_%ld.gguf", (long)getpid());
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "tokenizer.ggml.model", model, err);
    if (tweak) tweak(w);
    lm_status st = gguf_write_file(w, path, err);
    gguf_writer_free(w);
    gguf_mapped m;
    if (st == LM_OK) st = gguf_map_file(path, &m, err);
    *v = NULL;
    if (st == LM_OK) {
        st = lm_vocab_load(&m.file, v, err);
        gguf_unmap_file(&m);
    }
    remove(path);
    return st;
}

static void spm_tokens(gguf_writer *w) {
    static char bytes[256][8];
    static const char *extra[] = {"\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab",
                                  "\xE2\x96\x81" "ab", "<|im_start|>", "<tag>"};
    const char *tokens[SPM_BASE + 8] = {"<unk>", "<s>", "</s>"};
    float scores[SPM_BASE + 8] = {0};
    int32_t types[SPM_BASE + 8] = {2, 3, 3};
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tokens[3 + b] = bytes[b];
        types[3 + b] = 6;
    }
    for (int i = 0; i < 8; i++) {
        tokens[SPM_BASE + i] = extra[i];
        scores[SPM_BASE + i] = (float)-i;
        types[SPM_BASE + i] = i == 6 ? 3 : i == 7 ? 4 : 1;
    }
    scores[SPM_BASE + 5] = 10; /* "▁ab" beats "▁a" + "b" */
    lm_error err;
    gguf_set_str_arr(w, "tokenizer.ggml.tokens", tokens, SPM_BASE + 8, &err);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, SPM_BASE + 8, &err);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, SPM_BASE + 8, &err);
}

static int tokens_are(const lm_vocab *v, const char *text, int parse_special, const int32_t *want, int n) {
    int32_t got[64];
    int32_t k = lm_vocab_tokenize(v, text, strlen(text), 0, parse_special, got, 64);
    if (k == n && memcmp(got, want, (size_t)n * sizeof *got) == 0) return 1;
    fprintf(stderr, "'%s':", text);
    print_ids("got", got, k > 0 ? k : 0);
    return 0;
}

static void check_synthetic_spm(void) {
    lm_vocab *v;
    lm_error err = {0};
    CHECK(load_synthetic("llama", spm_tokens, &v, &err) == LM_OK, "SPM: %s", err.message);
    if (!v) return;
    const int32_t sp = SPM_BASE, b = SPM_BASE + 2, sp_a = SPM_BASE + 3, sp_ab = SPM_BASE + 5;
    const int32_t im_start = SPM_BASE + 6, tag = SPM_BASE + 7;
    CHECK(tokens_are(v, "ab", 0, (int32_t[]){sp_ab}, 1), "SPM: prefix space and best merge");
    CHECK(tokens_are(v, "ab b", 0, (int32_t[]){sp_ab, sp, b}, 3), "SPM: spaces become U+2581");
    CHECK(tokens_are(v, "\xC3\xA9", 0, (int32_t[]){sp, 3 + 0xC3, 3 + 0xA9}, 3), "SPM: byte fallback");
    /* control tokens are text unless parse_special; user-defined ones always match */
    /* text after a special token gets the prefix space again */
    CHECK(tokens_are(v, "<tag>a", 0, (int32_t[]){tag, sp_a}, 2), "SPM: user-defined token");
    CHECK(tokens_are(v, "<|im_start|>a", 1, (int32_t[]){im_start, sp_a}, 2), "SPM: control token");
    int32_t ids[64];
    CHECK(lm_vocab_tokenize(v, "<|im_start|>", 12, 0, 0, ids, 64) > 1 && ids[0] != im_start,
          "SPM: control token spelled out without parse_special");
    char piece[16];
    CHECK(lm_vocab_token_to_piece(v, sp_ab, piece, sizeof piece) == 3 && memcmp(piece, " ab", 3) == 0,
          "SPM: U+2581 decodes to a space");
    CHECK(lm_vocab_token_to_piece(v, 3 + 0x0A, piece, sizeof piece) == 1 && piece[0] == '\n',
          "SPM: byte token decodes to its byte");
    CHECK(lm_vocab_token_to_piece(v, 1, piece, sizeof piece) == 0, "SPM: BOS has no bytes");
    CHECK(lm_vocab_token_to_piece(v, tag, piece, sizeof piece) == 5, "SPM: user-defined piece");
    CHECK(lm_vocab_bos(v) == 1 && lm_vocab_eos(v) == 2 && lm_vocab_add_bos(v), "SPM: defaults");
    CHECK(lm_vocab_tokenize(v, "a", 1, 1, 0, ids, 64) == 2 && ids[0] == 1, "SPM: BOS added");
    lm_vocab_free(v);
}

static void bpe_tokens(gguf_writer *w) {
    /* "Ġ" is U+0120, GPT-2's stand-in for the space byte */
    static const char *tokens[] = {"a", "b", "ab", "\xC4\xA0", "\xC4\xA0" "ab", "<|endoftext|>", "\xC3\xA9"};
    static const char *merges[] = {"a b", "\xC4\xA0 ab"};
    int32_t types[] = {1, 1, 1, 1, 1, 3, 1};
    lm_error err;
    gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2", &err);
    gguf_set_str_arr(w, "tokenizer.ggml.tokens", tokens, 7, &err);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, 7, &err);
    gguf_set_str_arr(w, "tokenizer.ggml.merges", merges, 2, &err);
    gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 5, &err);
}

static void check_synthetic_bpe(void) {
    lm_vocab *v;
    lm_error err = {0};
    CHECK(load_synthetic("gpt2", bpe_tokens, &v, &err) == LM_OK, "BPE: %s", err.message);
    if (!v) return;
    CHECK(tokens_are(v, "ab ab", 0, (int32_t[]){2, 4}, 2), "BPE: merges by rank");
    CHECK(tokens_are(v, "ba", 0, (int32_t[]){1, 0}, 2), "BPE: no merge for b a");
    CHECK(tokens_are(v, "<|endoftext|>", 1, (int32_t[]){5}, 1), "BPE: special token");
    char piece[16];
    CHECK(lm_vocab_token_to_piece(v, 4, piece, sizeof piece) == 3 && memcmp(piece, " ab", 3) == 0,
          "BPE: byte alphabet decodes");
    /* "é" is two bytes; its token text is their two stand-ins "Ã" "©" */
    CHECK(lm_vocab_token_to_piece(v, 6, piece, sizeof piece) == 1 && (unsigned char)piece[0] == 0xE9,
          "BPE: stand-ins give raw bytes");
    CHECK(lm_vocab_is_eog(v, 5) && lm_vocab_bos(v) == -1 && !lm_vocab_add_bos(v), "BPE: specials");
    lm_vocab_free(v);
}

/* Each broken file must fail with this status and a message naming key. */
static void expect_failure(const char *model, tweak_fn tweak, lm_status want, const char *key) {
    lm_vocab *v;
    lm_error err = {0};
    lm_status st = load_synthetic(model, tweak, &v, &err);
    CHECK(st == want && strstr(err.message, key), "expected %s naming '%s', got %s: %s",
          lm_status_name(want), key, lm_status_name(st), err.message);
    lm_vocab_free(v);
}

static void bad_pre(gguf_writer *w) { bpe_tokens(w); gguf_set_str(w, "tokenizer.ggml.pre", "klingon", NULL); }
static void bad_scores(gguf_writer *w) {
    spm_tokens(w);
    float s[3] = {0};
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, s, 3, NULL);
}
static void bad_type(gguf_writer *w) {
    spm_tokens(w);
    int32_t t[SPM_BASE + 8] = {0};
    t[7] = 9;
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, t, SPM_BASE + 8, NULL);
}
static void bad_bos(gguf_writer *w) { spm_tokens(w); gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1u << 30, NULL); }
static void bad_eos_type(gguf_writer *w) { spm_tokens(w); gguf_set_str(w, "tokenizer.ggml.eos_token_id", "2", NULL); }
static void bad_merge(gguf_writer *w) {
    bpe_tokens(w);
    const char *m[] = {"a b", "ab"};
    gguf_set_str_arr(w, "tokenizer.ggml.merges", m, 2, NULL);
}
static void no_merges(gguf_writer *w) {
    const char *t[] = {"a"};
    gguf_set_str_arr(w, "tokenizer.ggml.tokens", t, 1, NULL);
}
static void duplicate_token(gguf_writer *w) {
    const char *t[] = {"a", "b", "a"};
    gguf_set_str_arr(w, "tokenizer.ggml.tokens", t, 3, NULL);
}
static void tokens_not_strings(gguf_writer *w) {
    int32_t t[] = {1, 2};
    gguf_set_arr(w, "tokenizer.ggml.tokens", GGUF_INT32, t, 2, NULL);
}
static void bos_wanted(gguf_writer *w) { bpe_tokens(w); gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 1, NULL); }
static void bad_byte_token(gguf_writer *w) {
    const char *t[] = {"<unk>", "<s>", "</s>", "<0xZZ>"};
    int32_t types[] = {2, 3, 3, 6};
    gguf_set_str_arr(w, "tokenizer.ggml.tokens", t, 4, NULL);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, 4, NULL);
}

static void check_broken_metadata(void) {
    /* an id out of range (converters write -1 for none) keeps the default */
    lm_vocab *v;
    lm_error err = {0};
    CHECK(load_synthetic("llama", bad_bos, &v, &err) == LM_OK && lm_vocab_bos(v) == 1,
          "out-of-range BOS id: %s", err.message);
    lm_vocab_free(v);

    expect_failure("bert", spm_tokens, LM_E_UNSUPPORTED, "bert");
    expect_failure("gpt2", bad_pre, LM_E_UNSUPPORTED, "klingon");
    expect_failure("llama", NULL, LM_E_FORMAT, "tokenizer.ggml.tokens");
    expect_failure("llama", tokens_not_strings, LM_E_FORMAT, "tokenizer.ggml.tokens");
    expect_failure("llama", duplicate_token, LM_E_FORMAT, "tokenizer.ggml.tokens");
    expect_failure("llama", bad_scores, LM_E_FORMAT, "tokenizer.ggml.scores");
    expect_failure("llama", bad_type, LM_E_FORMAT, "tokenizer.ggml.token_type");
    expect_failure("llama", bad_eos_type, LM_E_FORMAT, "tokenizer.ggml.eos_token_id");
    expect_failure("llama", bad_byte_token, LM_E_FORMAT, "<0xZZ>");
    expect_failure("gpt2", bad_merge, LM_E_FORMAT, "tokenizer.ggml.merges");
    expect_failure("gpt2", no_merges, LM_E_FORMAT, "tokenizer.ggml.merges");
    expect_failure("gpt2", bos_wanted, LM_E_FORMAT, "tokenizer.ggml.add_bos_token");
}

/* ---- pre-tokenizers without a reference vocabulary here --------------- */

/* Word lengths in bytes, as Python's regex module splits with llama.cpp's
 * patterns for llama-bpe and qwen2. */
static void check_pretok(void) {
    static const char hello[] = "Hello, y'all! How are you \xF0\x9F\x98\x81 ?\xE6\x88\x91\xE6\x83\xB3"
                                "\xE5\x9C\xA8" "apple\xE5\xB7\xA5\xE4\xBD\x9C" "1314151\xE5\xA4\xA9\xEF\xBD\x9E";
    static const struct {
        pretok_type type;
        const char *text;
        int n;
        size_t lens[24];
    } cases[] = {
        {PRETOK_LLAMA3, hello, 16, {5, 1, 2, 4, 1, 4, 4, 4, 5, 2, 20, 3, 3, 1, 3, 3}},
        {PRETOK_QWEN2, hello, 20, {5, 1, 2, 4, 1, 4, 4, 4, 5, 2, 20, 1, 1, 1, 1, 1, 1, 1, 3, 3}},
        {PRETOK_LLAMA3, "   Hello\n\n  x", 5, {2, 6, 2, 1, 2}},
        {PRETOK_LLAMA3, "I'M 3333333 \xC2\xBD \r\n\t!!", 11, {1, 2, 1, 3, 3, 1, 1, 2, 3, 1, 2}},
        {PRETOK_QWEN2, "I'M 3333333 \xC2\xBD \r\n\t!!", 15, {1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 1, 2}},
        {PRETOK_QWEN2, "\xC2\xA0" "caf\xC3\xA9\xE3\x80\x80\xE4\xB8\xAD\xE6\x96\x87  ", 3, {7, 9, 2}},
    };
    pretok_words w = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ok = pretok_split(cases[i].type, cases[i].text, strlen(cases[i].text), &w) == 0 &&
                 (int)w.n_words == cases[i].n;
        for (size_t k = 0, start = 0; ok && k < w.n_words; start = w.ends[k++])
            ok = w.ends[k] - start == cases[i].lens[k];
        CHECK(ok, "pre-tokenizer %d splits '%s' into %zu words", cases[i].type, cases[i].text, w.n_words);
    }
    /* invalid bytes become U+FFFD, as in llama.cpp */
    CHECK(pretok_split(PRETOK_GPT2, "a\xFF", 2, &w) == 0 && w.n_bytes == 4 &&
              memcmp(w.bytes, "a\xEF\xBF\xBD", 4) == 0, "invalid UTF-8 becomes U+FFFD");
    pretok_words_free(&w);
}

int main(void) {
    check_pretok();
    check_synthetic_spm();
    check_synthetic_bpe();
    check_broken_metadata();
    const char *shared = check_shared_dir();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vocab", shared);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return check_done();
    char names[64][256];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 64) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "ggml-vocab-", 11) == 0 && len > 5 && strcmp(e->d_name + len - 5, ".gguf") == 0)
            snprintf(names[count++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    int all = 0, passed = 0;
    for (int i = 0; i < count; i++) {
        int r = check_vocab(dir, names[i]);
        check_hostile(dir, names[i]);
        if (r < 0) continue; /* no reference ids for this one */
        all++;
        passed += r;
    }
    printf("%d/%d vocabularies match llama.cpp exactly\n", passed, all);
    return check_done();
}
