#include "threadpool.h"

#include <limits.h>
#include <stdlib.h>

#ifndef LM_NO_THREADS
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "clock.h"

/* A worker spins this long for the next job before it sleeps: longer than
 * the gaps within a token (norms, one row quantized) and between tokens
 * (sampling, the page's message round trip), for a wake from sleep costs
 * tens of microseconds. With a fixed 20000 spins instead, a worker slept
 * before one decode job in five natively and one in twelve in wasm. Time,
 * not a count, because a spin's cost varies by machine. */
#define SPIN_MS 2.0
/* Spins between two reads of the clock, which in wasm is a call to JS. */
#define SPINS_PER_CLOCK 1024
/* The caller spins this many times for late workers before yielding its
 * core: a yield is a system call, microseconds in a VM. */
#define SPINS_BEFORE_YIELD 100000

struct lm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation; /* bumped once per job */
    atomic_int joined;      /* workers that joined the current job; negative once closed */
    atomic_int finished;    /* of those, the ones done with it */
    atomic_int stopping;
    atomic_int sleepers;    /* workers waiting on the condition variable */
    lm_task_fn fn;
    void *arg;
};

/* joined after the caller closed a job: far below zero for any number of
 * late workers. */
#define JOB_CLOSED (INT_MIN / 2)

typedef struct worker_arg {
    lm_pool *pool;
    int ith;
} worker_arg;

/* Waits for the generation to move past seen: spin first, then sleep. */
static unsigned wait_for_job(lm_pool *p, unsigned seen) {
    const double sleep_at = lm_monotonic_ms() + SPIN_MS;
    for (int i = 1;; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        if (i % SPINS_PER_CLOCK == 0 && lm_monotonic_ms() > sleep_at) break;
    }
    /* Counting ourselves before checking the generation (both sequentially
     * consistent) means a dispatcher that saw no sleepers bumped the
     * generation early enough for the check to see it. */
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->lock);
    return g;
}

static void *worker_main(void *raw) {
    worker_arg *w = raw;
    lm_pool *p = w->pool;
    const int ith = w->ith;
    free(w);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stopping)) return NULL;
        /* Too late: the caller closed the job, having done all of it. */
        if (atomic_fetch_add(&p->joined, 1) < 0) continue;
        p->fn(p->arg, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

static void stop_workers(lm_pool *p, int started) {
    atomic_store(&p->stopping, 1);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < started; i++) pthread_join(p->threads[i], NULL);
}

lm_pool *lm_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    lm_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    int started = 0;
    for (; p->threads && started < n_threads - 1; started++) {
        worker_arg *w = malloc(sizeof *w);
        if (!w) break;
        *w = (worker_arg){p, started + 1};
        if (pthread_create(&p->threads[started], NULL, worker_main, w) != 0) {
            free(w);
            break;
        }
    }
    if (!p->threads || started < n_threads - 1) {
        stop_workers(p, started);
        lm_pool_free(p);
        return NULL;
    }
    return p;
}

void lm_pool_free(lm_pool *p) {
    if (!p) return;
    if (!atomic_load(&p->stopping)) stop_workers(p, p->n_threads - 1);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int lm_pool_size(const lm_pool *p) { return p ? p->n_threads : 1; }

void lm_pool_run(lm_pool *p, lm_task_fn fn, void *arg) {
    if (!p || p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->finished, 0);
    atomic_store(&p->joined, 0);
    atomic_fetch_add(&p->generation, 1);
    /* Spinning workers see the new generation by themselves: the lock and
     * the broadcast are only for sleeping ones. */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    fn(arg, 0, p->n_threads);
    /* Wait only for the workers that joined: one that is asleep or off its
     * core joins late or not at all, and the work it would have taken was
     * claimed by the others (see lm_task_fn). */
    const int joined = atomic_exchange(&p->joined, JOB_CLOSED);
    for (int spins = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < joined;)
        if (spins < SPINS_BEFORE_YIELD) spins++;
        else sched_yield();
}

#else /* LM_NO_THREADS */

lm_pool *lm_pool_new(int n_threads) { return NULL; }
void lm_pool_free(lm_pool *p) {}
int lm_pool_size(const lm_pool *p) { return 1; }
void lm_pool_run(lm_pool *p, lm_task_fn fn, void *arg) { fn(arg, 0, 1); }

#endif
