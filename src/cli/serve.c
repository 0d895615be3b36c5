/* localm serve: the native core as an OpenAI-compatible HTTP server
 * (libmicrohttpd, one thread per connection, one generation at a time).
 * Loopback only unless --public: a model server on the network is a choice
 * the user makes explicitly; so is letting web pages of another origin call
 * it (--cors ORIGIN). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cli.h"
#include "commands.h"
#include "serve_chat.h"

#define MAX_BODY (1u << 20) /* bigger requests get 413 */

typedef struct serve_args {
    const char *model, *host, *log_path, *cors;
    long port, n_ctx, n_threads;
    int public;
} serve_args;

typedef struct server {
    serve_state state;
    const char *cors; /* the origin browsers may call from, or NULL */
    FILE *log; /* --log: one JSON line per request, body included */
    pthread_mutex_t log_lock;
    pthread_mutex_t flight_lock; /* guards in_flight */
    pthread_cond_t drained;
    int in_flight; /* requests begun and not yet completed */
} server;

#define DRAIN_SECONDS 5 /* how long stopping waits for answers under way */

/* What arrives of one request; the body is kept NUL-terminated. */
typedef struct request {
    char *body;
    size_t len, cap;
    int too_large;
} request;

static int parse_args(int argc, char **argv, serve_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(flag, "--public")) a->public = 1;
        else if (!value) return cli_error("option '%s' needs a value", flag), 0;
        else if (i++, !strcmp(flag, "-m")) a->model = value;
        else if (!strcmp(flag, "--host")) a->host = value;
        else if (!strcmp(flag, "--log")) a->log_path = value;
        else if (!strcmp(flag, "--cors")) a->cors = value;
        else if (!strcmp(flag, "--port")) {
            if (!cli_parse_int(flag, value, 0, 65535, &a->port)) return 0;
        } else if (!strcmp(flag, "-c")) {
            if (!cli_parse_int(flag, value, 0, 1 << 20, &a->n_ctx)) return 0;
        } else if (!strcmp(flag, "-t")) {
            if (!cli_parse_int(flag, value, 1, 64, &a->n_threads)) return 0;
        } else return cli_error("unknown option '%s'", flag), 0;
    }
    return 1;
}

/* Fills addr from --host ("localhost", an IPv4 or an IPv6 address) and
 * refuses a non-loopback one without --public. */
static int resolve_host(const serve_args *a, struct sockaddr_storage *addr, int *ipv6) {
    const char *host = strcmp(a->host, "localhost") ? a->host : "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    int loopback;
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)a->port);
        loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        *ipv6 = 0;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)a->port);
        loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
        *ipv6 = 1;
    } else {
        return cli_error("--host expects localhost or an IPv4 or IPv6 address, got '%s'", a->host), 0;
    }
    if (!loopback && !a->public)
        return cli_error("refusing to listen on %s, which is not a loopback address (add --public to serve the network)",
                         a->host), 0;
    return 1;
}

/* ---- request log ----------------------------------------------------------- */

static void log_request(server *sv, const char *method, const char *url, unsigned status, const request *r) {
    fprintf(stderr, "%s %s %u\n", method, url, status);
    if (!sv->log) return;
    cJSON *line = cJSON_CreateObject();
    cJSON_AddNumberToObject(line, "time", (double)time(NULL));
    cJSON_AddStringToObject(line, "method", method);
    cJSON_AddStringToObject(line, "path", url);
    cJSON_AddNumberToObject(line, "status", status);
    cJSON_AddStringToObject(line, "body", r->body ? r->body : "");
    if (r->too_large) cJSON_AddTrueToObject(line, "body_truncated");
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!text) return;
    pthread_mutex_lock(&sv->log_lock);
    fprintf(sv->log, "%s\n", text);
    fflush(sv->log);
    pthread_mutex_unlock(&sv->log_lock);
    free(text);
}

/* ---- HTTP ------------------------------------------------------------------- */

/* Keeps at most MAX_BODY bytes; the rest is read and dropped. */
static int append_body(request *r, const char *data, size_t n) {
    if (r->len + n > MAX_BODY) {
        r->too_large = 1;
        n = MAX_BODY - r->len;
    }
    if (!lm_append_bytes(&r->body, &r->len, &r->cap, data, n, 1)) return 0;
    r->body[r->len] = 0;
    return 1;
}

/* A CORS preflight: what a page of the --cors origin may send. */
static serve_reply preflight(void) {
    serve_reply r = {MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), 204};
    if (r.response) {
        MHD_add_response_header(r.response, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r.response, "Access-Control-Allow-Headers", "Content-Type, Authorization");
        MHD_add_response_header(r.response, "Access-Control-Max-Age", "600");
    }
    return r;
}

static serve_reply route(server *sv, const char *url, const char *method, const request *r) {
    const int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (sv->cors && !strcmp(method, "OPTIONS")) return preflight();
    if (r->too_large) return serve_error(413, "request_too_large", "the request body exceeds %u bytes", MAX_BODY);
    if (!strcmp(url, "/v1/models"))
        return get ? serve_models(&sv->state) : serve_error(405, "method_not_allowed", "%s /v1/models: use GET", method);
    if (!strcmp(url, "/v1/chat/completions"))
        return post ? serve_chat(&sv->state, r->body ? r->body : "", r->len)
                    : serve_error(405, "method_not_allowed", "%s /v1/chat/completions: use POST", method);
    return serve_error(404, "not_found", "no endpoint at %.200s (try /v1/models or /v1/chat/completions)", url);
}

static void count_in_flight(server *sv, int delta) {
    pthread_mutex_lock(&sv->flight_lock);
    if ((sv->in_flight += delta) == 0) pthread_cond_broadcast(&sv->drained);
    pthread_mutex_unlock(&sv->flight_lock);
}

/* Lets answers under way finish (a generation ends at its next token once
 * stopping is set) before the daemon closes every connection. */
static void drain(server *sv) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += DRAIN_SECONDS;
    pthread_mutex_lock(&sv->flight_lock);
    while (sv->in_flight > 0 && pthread_cond_timedwait(&sv->drained, &sv->flight_lock, &deadline) == 0) {}
    pthread_mutex_unlock(&sv->flight_lock);
}

/* Called once when the headers arrive, once per part of the body, and once
 * more when the body is complete: then the request is answered. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    server *sv = cls;
    request *r = *con_cls;
    if (!r) {
        if (!(*con_cls = calloc(1, sizeof *r))) return MHD_NO;
        count_in_flight(sv, +1);
        return MHD_YES;
    }
    if (*upload_size) {
        const int ok = append_body(r, upload, *upload_size);
        *upload_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    serve_reply reply = route(sv, url, method, r);
    log_request(sv, method, url, reply.status, r);
    if (!reply.response) return MHD_NO;
    if (sv->cors) MHD_add_response_header(reply.response, "Access-Control-Allow-Origin", sv->cors);
    if (reply.status == 405)
        MHD_add_response_header(reply.response, MHD_HTTP_HEADER_ALLOW,
                                strcmp(url, "/v1/models") ? "POST" : "GET");
    const enum MHD_Result queued = MHD_queue_response(conn, reply.status, reply.response);
    MHD_destroy_response(reply.response);
    return queued;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
    request *r = *con_cls;
    if (!r) return;
    free(r->body);
    free(r);
    *con_cls = NULL;
    count_in_flight(cls, -1);
}

static struct MHD_Daemon *start_daemon(server *sv, const struct sockaddr_storage *addr, int ipv6) {
    const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                           (ipv6 ? MHD_USE_IPv6 : 0) | MHD_USE_ERROR_LOG;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, sv,
                            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, sv,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_END);
}

/* Serves until SIGINT or SIGTERM (blocked in every thread, taken here). */
static int serve_until_signal(server *sv, const serve_args *a, const struct sockaddr_storage *addr, int ipv6) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = start_daemon(sv, addr, ipv6);
    if (!d) return cli_error("cannot listen on %s port %ld (in use, or not an address of this machine?)", a->host, a->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, ipv6 ? "listening on http://[%s]:%u\n" : "listening on http://%s:%u\n", a->host,
            info ? info->port : (unsigned)a->port);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "stopping on signal %d\n", sig);
    /* Running generations end at their next token; waiting requests give up. */
    atomic_store(&sv->state.stopping, 1);
    pthread_mutex_lock(&sv->state.lock);
    pthread_cond_broadcast(&sv->state.idle);
    pthread_mutex_unlock(&sv->state.lock);
    drain(sv);
    MHD_stop_daemon(d);
    return 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int cmd_serve(int argc, char **argv) {
    serve_args a = {.host = "127.0.0.1", .port = 8080, .n_threads = 1};
    struct sockaddr_storage addr;
    int ipv6;
    if (!parse_args(argc, argv, &a) || !resolve_host(&a, &addr, &ipv6)) return 1;
    if (!a.model) return cli_error("no model given (-m MODEL)");
    server sv = {.state = {.model_id = base_name(a.model)}, .cors = a.cors};
    if (a.log_path && !(sv.log = fopen(a.log_path, "a"))) return cli_error("cannot write the log '%s'", a.log_path);
    if (cli_load(a.model, (int32_t)a.n_ctx, (int)a.n_threads, &sv.state.model, &sv.state.ctx)) {
        if (sv.log) fclose(sv.log);
        return 1;
    }
    int known;
    const char *style = lm_chat_template_name(sv.state.model, &known);
    fprintf(stderr, "chat template: %s%s\n", style, known ? "" : " (the model's template is not recognised)");
    pthread_mutex_init(&sv.state.lock, NULL);
    pthread_cond_init(&sv.state.idle, NULL);
    pthread_mutex_init(&sv.log_lock, NULL);
    pthread_mutex_init(&sv.flight_lock, NULL);
    pthread_cond_init(&sv.drained, NULL);
    const int status = serve_until_signal(&sv, &a, &addr, ipv6);
    pthread_cond_destroy(&sv.drained);
    pthread_mutex_destroy(&sv.flight_lock);
    pthread_mutex_destroy(&sv.log_lock);
    pthread_cond_destroy(&sv.state.idle);
    pthread_mutex_destroy(&sv.state.lock);
    lm_context_free(sv.state.ctx);
    lm_model_free(sv.state.model);
    if (sv.log) fclose(sv.log);
    return status;
}
