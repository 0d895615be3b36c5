/* localm serve: the state the HTTP plumbing (serve.c) shares with the
 * OpenAI-compatible endpoints (serve_chat.c). */
#ifndef LM_SERVE_CHAT_H
#define LM_SERVE_CHAT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "localm.h"

typedef struct serve_state {
    lm_model *model;
    lm_context *ctx;    /* one context: one generation at a time */
    const char *model_id;
    pthread_mutex_t lock; /* guards busy and next_id */
    pthread_cond_t idle;
    int busy;
    unsigned long next_id;
    atomic_int stopping; /* SIGINT/SIGTERM: generations end, waiters give up */
} serve_state;

/* A response ready to queue (NULL when out of memory) and its status. */
typedef struct serve_reply {
    struct MHD_Response *response;
    unsigned status;
} serve_reply;

/* {"error": {"message", "type", "code"}} as OpenAI's API reports errors. */
serve_reply serve_error(unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

serve_reply serve_models(serve_state *s);                                  /* GET /v1/models */
serve_reply serve_chat(serve_state *s, const char *body, size_t len);      /* POST /v1/chat/completions */

#endif
