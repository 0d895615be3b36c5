/* A persistent pool of worker threads for splitting matrix rows. Decoding
 * one token dispatches five small jobs per layer, so workers spin briefly
 * before sleeping: a condition-variable wake per job would cost more than
 * the job, and the dispatcher wakes sleepers only when there are any. Without thread support (LM_NO_THREADS) the caller does it all. */
#ifndef LM_THREADPOOL_H
#define LM_THREADPOOL_H

typedef struct lm_pool lm_pool;

/* fn runs once on every thread: ith in [0, nth); the caller is thread 0. */
typedef void (*lm_task_fn)(void *arg, int ith, int nth);

/* n_threads counts the caller. Returns NULL when threads cannot start; the
 * other functions accept NULL and then run everything on the caller. */
lm_pool *lm_pool_new(int n_threads);
void lm_pool_free(lm_pool *pool);
int lm_pool_size(const lm_pool *pool);
void lm_pool_run(lm_pool *pool, lm_task_fn fn, void *arg);

/* The part [*begin, *end) of [0, n) that thread ith of nth handles, in
 * multiples of `align` so kernels keep whole row groups. */
void lm_split_range(long n, int ith, int nth, long align, long *begin, long *end);

#endif
