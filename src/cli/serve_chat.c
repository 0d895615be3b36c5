/* localm serve: the OpenAI-compatible endpoints. A chat completion request is
 * checked, formatted with the model's chat template, and generated either in
 * one piece or as server-sent events, one chunk per released piece of text. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "error.h"
#include "serve_chat.h"

/* ---- responses ------------------------------------------------------------ */

static serve_reply reply_text(unsigned status, char *text, const char *content_type) {
    serve_reply r = {NULL, status};
    if (!text) return r;
    r.response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r.response) free(text);
    else MHD_add_response_header(r.response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return r;
}

/* Takes ownership of body. */
static serve_reply reply_json(unsigned status, cJSON *body) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    return reply_text(status, text, "application/json");
}

static cJSON *error_json(unsigned status, const char *code, const char *message) {
    cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", status < 500 ? "invalid_request_error" : "server_error");
    cJSON_AddStringToObject(e, "code", code);
    return root;
}

serve_reply serve_error(unsigned status, const char *code, const char *fmt, ...) {
    char message[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return reply_json(status, error_json(status, code, message));
}

/* Problems with the request are the client's (400); the rest are ours. */
static unsigned http_status(lm_status code) {
    switch (code) {
    case LM_E_OPTION: case LM_E_TEMPLATE: case LM_E_ARGUMENT: case LM_E_CONTEXT_FULL: return 400;
    case LM_E_ABORTED: return 503;
    default: return 500;
    }
}

static serve_reply reply_failure(const lm_error *err) {
    return serve_error(http_status(err->code), lm_status_name(err->code), "%s", err->message);
}

serve_reply serve_models(serve_state *s) {
    cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToArray(data, m);
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddStringToObject(m, "id", s->model_id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)time(NULL));
    cJSON_AddStringToObject(m, "owned_by", "localm");
    /* Extension: what a client needs to budget its prompts. */
    cJSON *ext = cJSON_AddObjectToObject(m, "localm");
    cJSON_AddNumberToObject(ext, "n_ctx", lm_context_size(s->ctx));
    cJSON_AddNumberToObject(ext, "n_vocab", lm_n_vocab(s->model));
    return reply_json(200, root);
}

/* ---- the request ------------------------------------------------------------ */

typedef struct chat_request {
    char *prompt; /* messages formatted with the chat template */
    lm_generate_params gen;
    int stream;
} chat_request;

/* Request fields handed to lm_generate_params_from_json as they are (top_k,
 * min_p, repeat_penalty and ignore_eos are extensions; response_format takes
 * OpenAI's json_object and json_schema shapes). */
static const char *const sampling_fields[] = {
    "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop",
    "frequency_penalty", "presence_penalty", "repeat_penalty", "ignore_eos", "response_format",
};

static int is_sampling_field(const char *key) {
    for (size_t i = 0; i < sizeof sampling_fields / sizeof sampling_fields[0]; i++)
        if (!strcmp(key, sampling_fields[i])) return 1;
    return 0;
}

/* Sorts the request's fields: sampling options into opts, the rest checked
 * here. Null means "not given", as OpenAI clients send it. */
static lm_status sort_fields(const cJSON *root, cJSON *opts, chat_request *req, lm_error *err) {
    for (const cJSON *f = root->child; f; f = f->next) {
        const char *key = f->string;
        if (cJSON_IsNull(f) || !strcmp(key, "messages") || !strcmp(key, "model") || !strcmp(key, "user") ||
            !strcmp(key, "stream_options"))
            continue;
        if (!strcmp(key, "stream")) {
            if (!cJSON_IsBool(f)) return lm_fail(err, LM_E_OPTION, "option \"stream\": expected true or false");
            req->stream = cJSON_IsTrue(f);
        } else if (!strcmp(key, "n")) {
            if (!cJSON_IsNumber(f) || f->valuedouble != 1)
                return lm_fail(err, LM_E_OPTION, "option \"n\": only 1 choice is supported");
        } else if (is_sampling_field(key) || !strcmp(key, "max_completion_tokens")) {
            const char *name = strcmp(key, "max_completion_tokens") ? key : "max_tokens";
            cJSON_DeleteItemFromObjectCaseSensitive(opts, name);
            cJSON_AddItemToObject(opts, name, cJSON_Duplicate(f, 1));
        } else {
            return lm_fail(err, LM_E_OPTION, "unknown field \"%.64s\"", key);
        }
    }
    return LM_OK;
}

/* OpenAI clients may send content as [{"type": "text", "text": ...}, ...]:
 * the texts are joined so the chat template sees one string. */
static lm_status join_content_parts(cJSON *messages, lm_error *err) {
    int i = 0;
    for (cJSON *m = messages->child; m; m = m->next, i++) {
        cJSON *parts = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsArray(parts)) continue;
        size_t len = 1;
        int j = 0;
        for (cJSON *p = parts->child; p; p = p->next, j++) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
                return lm_fail(err, LM_E_OPTION, "messages[%d].content[%d]: only {\"type\": \"text\", \"text\"} parts are supported", i, j);
            len += strlen(text->valuestring);
        }
        char *joined = malloc(len);
        if (!joined) return lm_fail(err, LM_E_MEMORY, "out of memory joining messages[%d].content", i);
        size_t at = 0;
        for (cJSON *p = parts->child; p; p = p->next) {
            const char *text = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
            const size_t n = strlen(text);
            memcpy(joined + at, text, n);
            at += n;
        }
        joined[at] = 0;
        cJSON *str = cJSON_CreateString(joined);
        free(joined);
        if (!str) return lm_fail(err, LM_E_MEMORY, "out of memory joining messages[%d].content", i);
        cJSON_ReplaceItemInObjectCaseSensitive(m, "content", str);
    }
    return LM_OK;
}

static lm_status parse_request(serve_state *s, const char *body, size_t len, chat_request *req,
                               lm_error *err) {
    cJSON *root = cJSON_ParseWithLength(body, len), *opts = cJSON_CreateObject();
    char *opts_text = NULL, *messages_text = NULL;
    lm_status st = LM_OK;
    req->gen = lm_generate_params_default();
    if (!opts) st = lm_fail(err, LM_E_MEMORY, "out of memory");
    else if (!root) st = lm_fail(err, LM_E_OPTION, "the request body is not valid JSON");
    else if (!cJSON_IsObject(root)) st = lm_fail(err, LM_E_OPTION, "the request body is not a JSON object");
    else if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "messages")))
        st = lm_fail(err, LM_E_OPTION, "\"messages\" is missing or not an array");
    if (st == LM_OK) st = sort_fields(root, opts, req, err);
    if (st == LM_OK) st = join_content_parts(cJSON_GetObjectItemCaseSensitive(root, "messages"), err);
    if (st == LM_OK && !(opts_text = cJSON_PrintUnformatted(opts))) st = lm_fail(err, LM_E_MEMORY, "out of memory");
    if (st == LM_OK) st = lm_generate_params_from_json(opts_text, &req->gen, err);
    if (st == LM_OK && !(messages_text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "messages"))))
        st = lm_fail(err, LM_E_MEMORY, "out of memory");
    if (st == LM_OK) st = lm_chat_format(s->model, messages_text, &req->prompt, err);
    free(messages_text);
    free(opts_text);
    cJSON_Delete(opts);
    cJSON_Delete(root);
    return st;
}

/* ---- one generation at a time ------------------------------------------------ */

/* Waits until the context is free; 0 when the server is stopping instead. */
static int acquire(serve_state *s, unsigned long *id) {
    pthread_mutex_lock(&s->lock);
    while (s->busy && !atomic_load(&s->stopping)) pthread_cond_wait(&s->idle, &s->lock);
    const int got = !atomic_load(&s->stopping);
    if (got) {
        s->busy = 1;
        *id = ++s->next_id;
    }
    pthread_mutex_unlock(&s->lock);
    return got;
}

static void release_context(serve_state *s) {
    pthread_mutex_lock(&s->lock);
    s->busy = 0;
    pthread_cond_signal(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* A completion under way: the fields every chunk and the final object share. */
typedef struct completion {
    serve_state *s;
    lm_generation *gen;
    char id[40];
    double created;
    int finished;      /* the last piece came out */
    int context_full;  /* generation ran out of context: finish_reason "length" */
} completion;

/* The next piece; a full context ends generation like max_tokens does. */
static lm_status next_piece(completion *c, lm_piece *piece, lm_error *err) {
    int done = 0;
    if (atomic_load(&c->s->stopping)) return lm_fail(err, LM_E_ABORTED, "the server is shutting down");
    lm_status st = lm_generation_next(c->gen, piece, &done, err);
    if (st == LM_E_CONTEXT_FULL) {
        *piece = (lm_piece){-1, "", 0, 0.0f, 0.0f};
        c->context_full = 1;
        st = LM_OK;
        done = 1;
    }
    c->finished = done;
    return st;
}

static cJSON *completion_json(const completion *c, const char *object) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", c->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", c->created);
    cJSON_AddStringToObject(root, "model", c->s->model_id);
    return root;
}

static const char *finish_reason(const completion *c, const lm_generate_stats *st) {
    return !c->context_full && (st->stopped_by == 1 || st->stopped_by == 2) ? "stop" : "length";
}

/* usage and the localm extension (confidence) of a finished completion. */
static void add_summary(cJSON *root, const lm_generate_stats *st) {
    cJSON *usage = cJSON_AddObjectToObject(root, "usage"), *ext = cJSON_AddObjectToObject(root, "localm");
    cJSON_AddNumberToObject(usage, "prompt_tokens", st->prompt_tokens);
    cJSON_AddNumberToObject(usage, "completion_tokens", st->gen_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", st->prompt_tokens + st->gen_tokens);
    cJSON_AddNumberToObject(ext, "mean_logprob", st->mean_logprob);
    cJSON_AddNumberToObject(ext, "min_logprob", st->min_logprob);
    cJSON_AddNumberToObject(ext, "low_confidence_share", st->low_confidence_share);
    cJSON_AddNumberToObject(ext, "low_confidence_threshold", LM_LOW_CONFIDENCE_PROB);
    cJSON_AddNumberToObject(ext, "perplexity", st->perplexity);
    cJSON_AddNumberToObject(ext, "prompt_ms", st->prompt_ms);
    cJSON_AddNumberToObject(ext, "gen_ms", st->gen_ms);
}

/* Starts generating the request's prompt in the shared context. */
static lm_status start(serve_state *s, const chat_request *req, completion *c, lm_error *err) {
    unsigned long id;
    if (!acquire(s, &id)) return lm_fail(err, LM_E_ABORTED, "the server is shutting down");
    c->s = s;
    c->created = (double)time(NULL);
    snprintf(c->id, sizeof c->id, "chatcmpl-%lx%lx", (unsigned long)c->created, id);
    lm_context_reset(s->ctx);
    lm_status st = lm_generation_start(s->ctx, req->prompt, &req->gen, &c->gen, err);
    if (st != LM_OK) release_context(s);
    return st;
}

static void finish_completion(completion *c) {
    lm_generation_free(c->gen);
    release_context(c->s);
}

/* ---- the whole answer at once ------------------------------------------------ */

static serve_reply complete_all(completion *c) {
    lm_error err;
    lm_status st = LM_OK;
    size_t len = 0, cap = 256;
    char *text = malloc(cap);
    if (!text) st = lm_fail(&err, LM_E_MEMORY, "out of memory");
    while (st == LM_OK && !c->finished) {
        lm_piece piece;
        st = next_piece(c, &piece, &err);
        if (st == LM_OK && len + piece.len + 1 > cap) {
            char *grown = realloc(text, cap = (len + piece.len + 1) * 2);
            if (!grown) st = lm_fail(&err, LM_E_MEMORY, "out of memory for the answer");
            else text = grown;
        }
        if (st == LM_OK) memcpy(text + len, piece.text, piece.len), len += piece.len;
    }
    lm_generate_stats stats;
    lm_generation_stats(c->gen, &stats);
    finish_completion(c);
    if (st != LM_OK) {
        free(text);
        return reply_failure(&err);
    }
    text[len] = 0;
    cJSON *root = completion_json(c, "chat.completion"), *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *choice = cJSON_CreateObject(), *message = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddStringToObject(message, "role", "assistant");
    cJSON_AddStringToObject(message, "content", text);
    cJSON_AddStringToObject(choice, "finish_reason", finish_reason(c, &stats));
    add_summary(root, &stats);
    free(text);
    return reply_json(200, root);
}

/* ---- server-sent events ------------------------------------------------------ */

typedef struct stream {
    completion c;
    int started;  /* the role chunk went out */
    int ended;    /* the last event and "data: [DONE]" are queued */
    char *buf;    /* events not yet handed to the connection */
    size_t len, sent, cap;
} stream;

static int queue_bytes(stream *st, const char *bytes, size_t n) {
    return lm_append_bytes(&st->buf, &st->len, &st->cap, bytes, n, 0);
}

/* Queues "data: <json>\n\n"; takes ownership of event. */
static int queue_event(stream *st, cJSON *event) {
    char *json = event ? cJSON_PrintUnformatted(event) : NULL;
    cJSON_Delete(event);
    const int ok = json && queue_bytes(st, "data: ", 6) && queue_bytes(st, json, strlen(json)) &&
                   queue_bytes(st, "\n\n", 2);
    free(json);
    return ok;
}

/* The last event: an error or the final chunk, then the end marker. */
static int queue_last(stream *st, cJSON *event) {
    static const char done[] = "data: [DONE]\n\n";
    st->ended = 1;
    return queue_event(st, event) && queue_bytes(st, done, sizeof done - 1);
}

/* A chat.completion.chunk with one choice whose delta is role or content. */
static cJSON *chunk(const completion *c, const char *field, const char *value, size_t len) {
    cJSON *root = completion_json(c, "chat.completion.chunk"), *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *choice = cJSON_CreateObject(), *delta = cJSON_AddObjectToObject(choice, "delta");
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    if (field) {
        char *copy = strndup(value, len);
        cJSON_AddStringToObject(delta, field, copy ? copy : "");
        free(copy);
    }
    cJSON_AddNullToObject(choice, "finish_reason");
    return root;
}

/* Generates the next piece and queues its events; 0 when out of memory. */
static int stream_step(stream *st) {
    completion *c = &st->c;
    if (!st->started) return st->started = 1, queue_event(st, chunk(c, "role", "assistant", 9));
    lm_error err;
    lm_piece piece;
    if (next_piece(c, &piece, &err) != LM_OK)
        return queue_last(st, error_json(http_status(err.code), lm_status_name(err.code), err.message));
    if (piece.len > 0 && !queue_event(st, chunk(c, "content", piece.text, piece.len))) return 0;
    if (!c->finished) return 1;
    lm_generate_stats stats;
    lm_generation_stats(c->gen, &stats);
    cJSON *last = chunk(c, NULL, NULL, 0);
    cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last, "choices"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(choice, "finish_reason", cJSON_CreateString(finish_reason(c, &stats)));
    add_summary(last, &stats);
    return queue_last(st, last);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max) {
    stream *st = cls;
    while (st->sent == st->len) {
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        st->len = st->sent = 0;
        if (!stream_step(st)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    const size_t n = st->len - st->sent < max ? st->len - st->sent : max;
    memcpy(out, st->buf + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

/* Runs when the response is done or the client went away. */
static void free_stream(void *cls) {
    stream *st = cls;
    finish_completion(&st->c);
    free(st->buf);
    free(st);
}

static serve_reply complete_streaming(const completion *c) {
    serve_reply r = {NULL, 200};
    stream *st = calloc(1, sizeof *st);
    if (st) {
        st->c = *c;
        r.response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, st, free_stream);
    }
    if (!r.response) {
        completion copy = *c;
        free(st);
        finish_completion(&copy);
        return r;
    }
    MHD_add_response_header(r.response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r.response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return r;
}

serve_reply serve_chat(serve_state *s, const char *body, size_t len) {
    chat_request req = {0};
    completion c = {0};
    lm_error err;
    lm_status st = parse_request(s, body, len, &req, &err);
    if (st == LM_OK) st = start(s, &req, &c, &err);
    free(req.prompt);
    if (st != LM_OK) return reply_failure(&err);
    return req.stream ? complete_streaming(&c) : complete_all(&c);
}
