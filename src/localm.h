/* localm public C API.
 *
 * Every function that can fail returns an lm_status and, when given an
 * lm_error, fills it with a message that names the problem and where it was
 * found. Nothing here aborts the process on bad input.
 */
#ifndef LOCALM_H
#define LOCALM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LM_OK = 0,
    LM_E_ARGUMENT,     /* the caller passed something invalid */
    LM_E_IO,           /* a file could not be opened or read */
    LM_E_FORMAT,       /* the bytes are not a valid GGUF (truncated, corrupt, hostile) */
    LM_E_UNSUPPORTED,  /* a valid GGUF using an architecture or tensor type we do not run */
    LM_E_MEMORY,       /* allocation failed or the model exceeds the memory budget */
    LM_E_OPTION,       /* malformed options (JSON or values out of range) */
    LM_E_CONTEXT_FULL, /* the prompt plus generation does not fit the context */
    LM_E_ABORTED,      /* the caller asked to stop */
    LM_E_TEMPLATE,     /* a chat message list could not be formatted */
    LM_E_COUNT
} lm_status;

/* "E_FORMAT", "E_MEMORY", ...: the names the JS layer puts in Error.code. */
const char *lm_status_name(lm_status status);

typedef struct lm_error {
    lm_status code;
    char message[512];
} lm_error;

typedef struct lm_model lm_model;
typedef struct lm_context lm_context;
typedef struct lm_sampler lm_sampler;

/* ---- loading ---------------------------------------------------------- */

typedef struct lm_load_params {
    /* Refuse models whose weights + KV cache + scratch exceed this many bytes
     * (0: no budget beyond what the platform can address). */
    uint64_t memory_budget;
    /* Context size used for the memory estimate and by lm_context_new when it
     * is given 0 (0: the model's trained context, capped at 4096). */
    int32_t n_ctx;
    /* Load only the tokenizer (and metadata): for vocabulary-only GGUF files
     * and tools that never evaluate. Such a model cannot make a context. */
    int vocab_only;
} lm_load_params;

lm_load_params lm_load_params_default(void);

/* Maps (natively) or reads the file. The model keeps the mapping. */
lm_status lm_model_load_file(const char *path, const lm_load_params *params,
                             lm_model **out, lm_error *err);

/* Loads from memory the caller allocated with malloc. The model takes
 * ownership of each part and frees them in lm_model_free, also on failure.
 * Several parts are the files of one split GGUF, in order. */
lm_status lm_model_load_buffers(void **parts, const size_t *sizes, int n_parts,
                                const lm_load_params *params, lm_model **out,
                                lm_error *err);

void lm_model_free(lm_model *model);

/* Metadata, hyper-parameters and tensor summary as a JSON object. The string
 * is owned by the model. */
const char *lm_model_info_json(lm_model *model);

int32_t lm_n_vocab(const lm_model *model);
int32_t lm_n_ctx_train(const lm_model *model);
int32_t lm_token_bos(const lm_model *model); /* -1 when the model has none */
int32_t lm_token_eos(const lm_model *model);
int lm_add_bos_default(const lm_model *model); /* does the model ask for BOS? */
int lm_token_is_eog(const lm_model *model, int32_t token); /* EOS, EOT, ... */

/* ---- tokenizer -------------------------------------------------------- */

/* Writes at most max tokens. Returns the number of tokens, or, when max is too
 * small, minus the number needed (-INT32_MAX: out of memory or too many). parse_special: text like "<|im_start|>"
 * becomes its special token instead of being spelled out. */
int32_t lm_tokenize(const lm_model *model, const char *text, size_t len,
                    int add_bos, int parse_special, int32_t *out, int32_t max);

/* The raw bytes of one token (may be part of a UTF-8 character). Returns the
 * byte count, or minus the needed size when size is too small. */
int32_t lm_token_to_piece(const lm_model *model, int32_t token, char *buf,
                          int32_t size);

/* ---- evaluation ------------------------------------------------------- */

/* n_ctx 0: the load params' context size. */
lm_status lm_context_new(lm_model *model, int32_t n_ctx, lm_context **out,
                         lm_error *err);
void lm_context_free(lm_context *ctx);
void lm_context_reset(lm_context *ctx);   /* forget every evaluated token */
int32_t lm_context_pos(const lm_context *ctx);
int32_t lm_context_size(const lm_context *ctx);
/* Threads that split each matrix product and the attention heads (1: none). */
lm_status lm_context_set_threads(lm_context *ctx, int n_threads, lm_error *err);
int lm_context_threads(const lm_context *ctx);

/* Appends tokens to the context (batched prompt evaluation) and computes the
 * logits of the last one. LM_E_CONTEXT_FULL when they do not fit: nothing is
 * evaluated then. */
lm_status lm_eval(lm_context *ctx, const int32_t *tokens, int32_t n,
                  lm_error *err);
const float *lm_logits(const lm_context *ctx); /* n_vocab floats */

/* ---- embeddings ------------------------------------------------------- */

/* The length of the vectors lm_embed writes. */
int32_t lm_n_embd(const lm_model *model);

/* Embeds text (tokenized with the model's default BOS, no special tokens):
 * the mean over its tokens of the final hidden states after the output norm,
 * scaled to unit length. out holds n_out >= lm_n_embd floats. Empty text
 * embeds the BOS token alone (LM_E_ARGUMENT when the model has none); text
 * longer than the context is LM_E_CONTEXT_FULL, never truncated. The context
 * is reset before and left reset after, so it forgets what it held. */
lm_status lm_embed(lm_context *ctx, const char *text, size_t len, float *out,
                   int32_t n_out, lm_error *err);

/* ---- sampling --------------------------------------------------------- */

typedef struct lm_sampling_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int32_t repeat_last_n;   /* how many recent tokens the penalties see */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    uint64_t seed;
} lm_sampling_params;

lm_sampling_params lm_sampling_params_default(void);

lm_sampler *lm_sampler_new(const lm_sampling_params *params, int32_t n_vocab);
void lm_sampler_free(lm_sampler *sampler);
void lm_sampler_reset(lm_sampler *sampler); /* forget history, re-seed */
/* Picks a token; logprob (optional) receives its log-probability under the
 * model's unmodified distribution. */
int32_t lm_sampler_sample(lm_sampler *sampler, const float *logits,
                          float *logprob);
void lm_sampler_accept(lm_sampler *sampler, int32_t token);

/* ---- generation ------------------------------------------------------- */

#define LM_MAX_STOP 8
#define LM_MAX_SCHEMA 16384

/* Structured output: sampling is constrained so the text is compact JSON
 * (an object, or a value matching a JSON schema; see README). */
typedef enum {
    LM_FORMAT_TEXT,
    LM_FORMAT_JSON_OBJECT,
    LM_FORMAT_JSON_SCHEMA,
} lm_response_format;

typedef struct lm_generate_params {
    lm_sampling_params sampling;
    int32_t max_tokens;           /* generated tokens at most */
    int add_bos;                  /* -1: the model's default */
    int ignore_eos;
    int n_stop;
    char stop[LM_MAX_STOP][64];   /* generation ends before any of these */
    int response_format;          /* lm_response_format */
    char response_schema[LM_MAX_SCHEMA]; /* LM_FORMAT_JSON_SCHEMA: the schema as JSON text */
} lm_generate_params;

lm_generate_params lm_generate_params_default(void);

/* Parses options such as {"max_tokens": 64, "temperature": 0.2, "top_k": 40}
 * on top of *params. Unknown keys, wrong types and out-of-range values are
 * LM_E_OPTION errors that name the key. */
lm_status lm_generate_params_from_json(const char *json, lm_generate_params *params,
                                       lm_error *err);

typedef struct lm_generate_stats {
    int32_t prompt_tokens;
    double prompt_ms;
    int32_t gen_tokens;
    double gen_ms;
    int stopped_by; /* 0 max_tokens, 1 end-of-generation token, 2 stop string, 3 aborted,
                     4 the context is full (the text so far is kept) */
    /* Confidence over the generated tokens (log-probabilities under the
     * model's unmodified distribution); with none: 0, 0, 0 and 1. */
    float mean_logprob;
    float min_logprob;
    float low_confidence_share; /* tokens with probability < LM_LOW_CONFIDENCE_PROB */
    float perplexity;           /* exp(-mean_logprob) */
} lm_generate_stats;

#define LM_LOW_CONFIDENCE_PROB 0.5f

/* One step of generation: text is a complete piece (never a split UTF-8
 * character; text held back while it may be the start of a stop string is
 * released with a later piece). */
typedef struct lm_piece {
    int32_t token;
    const char *text; /* owned by the generation, valid until the next call */
    size_t len;
    float logprob;    /* log-probability of the token under the model */
    float entropy;    /* entropy in nats of the model's distribution at this step */
} lm_piece;

typedef struct lm_generation lm_generation;

/* Tokenizes the prompt and evaluates it after what the context holds. */
lm_status lm_generation_start(lm_context *ctx, const char *prompt,
                              const lm_generate_params *params,
                              lm_generation **out, lm_error *err);
/* Samples the next token. *done becomes 1 (with a possibly empty final piece)
 * when max_tokens, an end-of-generation token or a stop string ends it. The
 * caller may free the generation at any step: that is how abort works. */
lm_status lm_generation_next(lm_generation *gen, lm_piece *piece, int *done,
                             lm_error *err);
void lm_generation_stats(const lm_generation *gen, lm_generate_stats *stats);
void lm_generation_free(lm_generation *gen);

/* The loop above with a callback. Return non-zero from it to stop
 * (lm_generate then returns LM_E_ABORTED). */
typedef int (*lm_piece_fn)(void *user, const lm_piece *piece);

lm_status lm_generate(lm_context *ctx, const char *prompt,
                      const lm_generate_params *params, lm_piece_fn on_piece,
                      void *user, lm_generate_stats *stats, lm_error *err);

/* ---- chat ------------------------------------------------------------- */

/* The chat style detected from tokenizer.chat_template ("chatml", "llama3",
 * ...); *known is 0 when the template was not recognised and ChatML is used. */
const char *lm_chat_template_name(const lm_model *model, int *known);

/* Formats [{"role": "...", "content": "..."}, ...] (JSON) with the model's
 * chat template, ending with the assistant's turn opened. *out is malloc'd. */
lm_status lm_chat_format(const lm_model *model, const char *messages_json,
                         char **out, lm_error *err);

#ifdef __cplusplus
}
#endif
#endif
