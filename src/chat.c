/* Chat templates. We do not run Jinja: the style is recognized from marker
 * strings in tokenizer.chat_template, and each style's output is reproduced
 * by hand from the models' published templates (Hugging Face
 * tokenizer_config.json), with the generation prompt added:
 *
 *   chatml  <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
 *   llama3  {bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|> ...
 *   zephyr  <|{role}|>\n{content}</s>\n ... <|assistant|>\n
 *   phi3    <|{role}|>\n{content}<|end|>\n ... <|assistant|>\n
 *   gemma   {bos}<start_of_turn>{user|model}\n{system\n\n}{content|trim}<end_of_turn>\n ...
 *   llama2  {bos}[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>{bos}[INST] ...
 */
#include "chat.h"
#include "error.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT } chat_role;

static const char *const role_names[] = {"system", "user", "assistant"};

typedef struct {
    chat_role role;
    const char *content;
} chat_message;

/* ---- detection --------------------------------------------------------- */

lm_chat_style lm_chat_detect(const char *template_text, int *known) {
    /* First match wins; Phi-3 before Zephyr since both write <|user|>. */
    static const struct {
        const char *marker, *also;
        lm_chat_style style;
    } rules[] = {
        {"<|im_start|>", NULL, LM_CHAT_CHATML},
        {"<|start_header_id|>", NULL, LM_CHAT_LLAMA3},
        {"<start_of_turn>", NULL, LM_CHAT_GEMMA},
        {"[INST]", NULL, LM_CHAT_LLAMA2},
        {"<|assistant|>", "<|end|>", LM_CHAT_PHI3},
        {"<|user|>", NULL, LM_CHAT_ZEPHYR},
    };
    for (size_t i = 0; template_text && i < sizeof rules / sizeof rules[0]; i++) {
        if (strstr(template_text, rules[i].marker) &&
            (!rules[i].also || strstr(template_text, rules[i].also))) {
            if (known) *known = 1;
            return rules[i].style;
        }
    }
    if (known) *known = 0;
    return LM_CHAT_CHATML;
}

const char *lm_chat_style_name(lm_chat_style style) {
    switch (style) {
    case LM_CHAT_CHATML: return "chatml";
    case LM_CHAT_LLAMA3: return "llama3";
    case LM_CHAT_LLAMA2: return "llama2";
    case LM_CHAT_ZEPHYR: return "zephyr";
    case LM_CHAT_PHI3: return "phi3";
    case LM_CHAT_GEMMA: return "gemma";
    }
    return "unknown";
}

/* ---- output text -------------------------------------------------------- */

/* A growing string; after a failed allocation it stays failed. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} text;

static void put_n(text *t, const char *s, size_t n) {
    if (t->failed) return;
    if (n >= SIZE_MAX / 2 - t->len) {
        t->failed = 1;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *data = realloc(t->data, cap);
        if (!data) {
            t->failed = 1;
            return;
        }
        t->data = data;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

static void put(text *t, const char *s) { put_n(t, s, strlen(s)); }

/* Bytes of the whitespace character at s (0 if it is not one), as Python's
 * str.isspace() sees it: the templates' trim and strip() are Python's. */
static size_t space_len(const unsigned char *s, size_t n) {
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20))) return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (n >= 3) {
        unsigned c = (unsigned)s[0] << 16 | (unsigned)s[1] << 8 | s[2];
        if (c == 0xe19a80 /* U+1680 */ || (c >= 0xe28080 && c <= 0xe2808a) /* U+2000..200A */ ||
            c == 0xe280a8 || c == 0xe280a9 || c == 0xe280af /* U+2028 2029 202F */ ||
            c == 0xe2819f /* U+205F */ || c == 0xe38080 /* U+3000 */)
            return 3;
    }
    return 0;
}

/* Strips leading and trailing whitespace from what was written since mark. */
static void strip_since(text *t, size_t mark) {
    if (t->failed) return;
    const unsigned char *s = (const unsigned char *)t->data;
    size_t start = mark, end = t->len, k;
    while (start < end && (k = space_len(s + start, end - start)) > 0) start += k;
    while (end > start) {
        size_t c = end - 1; /* back to the first byte of the last character */
        while (c > start && end - c < 3 && (s[c] & 0xc0) == 0x80) c--;
        if (space_len(s + c, end - c) != end - c) break;
        end = c;
    }
    memmove(t->data + mark, t->data + start, end - start);
    t->len = mark + (end - start);
    t->data[t->len] = '\0';
}

static void put_content(text *t, const char *content, int trim) {
    size_t mark = t->len;
    put(t, content);
    if (trim) strip_since(t, mark);
}

/* ---- messages ----------------------------------------------------------- */

static lm_status parse_role(const cJSON *item, int index, chat_role *role, lm_error *err) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(item, "role");
    if (!cJSON_IsString(r))
        return lm_fail(err, LM_E_TEMPLATE, "messages[%d]: \"role\" is missing or not a string", index);
    for (int i = 0; i < 3; i++) {
        if (strcmp(r->valuestring, role_names[i]) == 0) {
            *role = (chat_role)i;
            return LM_OK;
        }
    }
    return lm_fail(err, LM_E_TEMPLATE, "messages[%d]: role \"%.32s\" is not \"system\", \"user\" or \"assistant\"",
                   index, r->valuestring);
}

/* Checks the JSON and lists the messages (pointing into root). */
static lm_status parse_messages(const cJSON *root, chat_message **out, int *n_out, lm_error *err) {
    if (!cJSON_IsArray(root))
        return lm_fail(err, LM_E_TEMPLATE, "messages: expected a JSON array of {\"role\", \"content\"} objects");
    int n = cJSON_GetArraySize(root);
    if (n == 0) return lm_fail(err, LM_E_TEMPLATE, "messages: the array is empty");
    chat_message *m = calloc((size_t)n, sizeof *m);
    if (!m) return lm_fail(err, LM_E_MEMORY, "messages: out of memory for %d messages", n);
    int i = 0;
    lm_status st = LM_OK;
    for (const cJSON *item = root->child; item && st == LM_OK; item = item->next, i++) {
        if (!cJSON_IsObject(item)) {
            st = lm_fail(err, LM_E_TEMPLATE, "messages[%d]: expected an object with \"role\" and \"content\"", i);
            break;
        }
        st = parse_role(item, i, &m[i].role, err);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        if (st == LM_OK && !cJSON_IsString(content))
            st = lm_fail(err, LM_E_TEMPLATE, "messages[%d]: \"content\" is missing or not a string", i);
        if (st == LM_OK) m[i].content = content->valuestring;
    }
    if (st != LM_OK) {
        free(m);
        return st;
    }
    *out = m;
    *n_out = n;
    return LM_OK;
}

/* Llama-2 and Gemma raise an exception unless the turns go user, assistant,
 * user... after an optional first system message (we also refuse a system
 * message anywhere else, which their templates would drop or mislabel). */
static lm_status check_alternation(lm_chat_style style, const chat_message *m, int n, lm_error *err) {
    int first = m[0].role == ROLE_SYSTEM;
    for (int i = first; i < n; i++) {
        chat_role want = (i - first) % 2 == 0 ? ROLE_USER : ROLE_ASSISTANT;
        if (m[i].role != want)
            return lm_fail(err, LM_E_TEMPLATE,
                           "messages[%d]: %s needs roles alternating user/assistant after an optional "
                           "first system message; expected %s, got %s",
                           i, lm_chat_style_name(style), role_names[want], role_names[m[i].role]);
    }
    return LM_OK;
}

/* ---- formatting --------------------------------------------------------- */

/* The styles where every message is one turn: open role close content end. */
typedef struct {
    int bos_first;              /* the text starts with the BOS text */
    const char *open, *close;   /* around the role name */
    const char *end;            /* after the content */
    int trim;                   /* content | trim */
    const char *assistant_name;
    int fold_system;            /* a first system message prefixes the first turn */
} turn_format;

static const turn_format turn_formats[] = {
    [LM_CHAT_CHATML] = {0, "<|im_start|>", "\n", "<|im_end|>\n", 0, "assistant", 0},
    [LM_CHAT_LLAMA3] = {1, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", 1, "assistant", 0},
    [LM_CHAT_ZEPHYR] = {0, "<|", "|>\n", "</s>\n", 0, "assistant", 0},
    [LM_CHAT_PHI3] = {0, "<|", "|>\n", "<|end|>\n", 0, "assistant", 0},
    [LM_CHAT_GEMMA] = {1, "<start_of_turn>", "\n", "<end_of_turn>\n", 1, "model", 1},
};

static void put_role(text *t, const turn_format *f, chat_role role) {
    put(t, f->open);
    put(t, role == ROLE_ASSISTANT ? f->assistant_name : role_names[role]);
    put(t, f->close);
}

static void format_turns(const turn_format *f, const char *bos, const chat_message *m, int n, text *t) {
    const char *prefix = NULL;
    int i = 0;
    if (f->bos_first) put(t, bos);
    if (f->fold_system && m[0].role == ROLE_SYSTEM) prefix = m[i++].content;
    for (; i < n; i++) {
        put_role(t, f, m[i].role);
        if (prefix) {
            put(t, prefix);
            put(t, "\n\n");
            prefix = NULL;
        }
        put_content(t, m[i].content, f->trim);
        put(t, f->end);
    }
    put_role(t, f, ROLE_ASSISTANT);
}

/* Llama-2 has no generation prompt: the text ends inside the user's turn,
 * after " [/INST]", so the last message must be the user's. The system
 * prompt goes inside the first [INST], and strip() applies to the whole. */
static lm_status format_llama2(const char *bos, const chat_message *m, int n, text *t, lm_error *err) {
    if (m[n - 1].role != ROLE_USER)
        return lm_fail(err, LM_E_TEMPLATE, "messages[%d]: llama2 needs the last message to be the user's, got %s",
                       n - 1, role_names[m[n - 1].role]);
    int first = m[0].role == ROLE_SYSTEM;
    for (int i = first; i < n; i++) {
        size_t mark;
        if (m[i].role == ROLE_USER) {
            put(t, bos);
            put(t, "[INST] ");
            mark = t->len;
            if (first && i == first) {
                put(t, "<<SYS>>\n");
                put(t, m[0].content);
                put(t, "\n<</SYS>>\n\n");
            }
            put(t, m[i].content);
            strip_since(t, mark);
            put(t, " [/INST]");
        } else {
            put(t, " ");
            put_content(t, m[i].content, 1);
            put(t, " </s>");
        }
    }
    return LM_OK;
}

lm_status lm_chat_apply(lm_chat_style style, const char *bos_text, const char *messages_json,
                        char **out, lm_error *err) {
    if (!out) return lm_fail(err, LM_E_ARGUMENT, "chat: out is NULL");
    *out = NULL;
    if ((unsigned)style > LM_CHAT_GEMMA) return lm_fail(err, LM_E_ARGUMENT, "chat: unknown style %d", (int)style);
    if (!messages_json) return lm_fail(err, LM_E_ARGUMENT, "chat: messages is NULL");
    if (!bos_text) bos_text = "";

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(messages_json, &end, 1);
    if (!root) {
        long at = end && end >= messages_json ? (long)(end - messages_json) : 0;
        return lm_fail(err, LM_E_TEMPLATE, "messages: malformed JSON at byte %ld", at);
    }
    chat_message *m = NULL;
    int n = 0;
    text t = {0};
    lm_status st = parse_messages(root, &m, &n, err);
    if (st == LM_OK && (style == LM_CHAT_LLAMA2 || style == LM_CHAT_GEMMA))
        st = check_alternation(style, m, n, err);
    if (st == LM_OK) {
        if (style == LM_CHAT_LLAMA2) st = format_llama2(bos_text, m, n, &t, err);
        else format_turns(&turn_formats[style], bos_text, m, n, &t);
    }
    if (st == LM_OK && t.failed) st = lm_fail(err, LM_E_MEMORY, "chat: out of memory formatting %d messages", n);
    if (st == LM_OK) *out = t.data;
    else free(t.data);
    free(m);
    cJSON_Delete(root);
    return st;
}
