/* A persistent pool of worker threads for splitting matrix rows. Decoding
 * one token dispatches five small jobs per layer, so workers spin a while
 * before sleeping: a condition-variable wake per job would cost more than
 * the job, and the dispatcher wakes sleepers only when there are any. Without thread support (LM_NO_THREADS) the caller does it all. */
#ifndef LM_THREADPOOL_H
#define LM_THREADPOOL_H

typedef struct lm_pool lm_pool;

/* fn runs on the caller (thread 0) and on each worker that joins the job
 * before the caller has finished its own call: ith in [0, nth), a worker
 * possibly more than once. So fn claims its work as it goes (an atomic
 * counter), never a fixed share per ith: the caller may end up doing all of
 * it. ith only names per-thread scratch space. */
typedef void (*lm_task_fn)(void *arg, int ith, int nth);

/* n_threads counts the caller. Returns NULL when threads cannot start; the
 * other functions accept NULL and then run everything on the caller. */
lm_pool *lm_pool_new(int n_threads);
void lm_pool_free(lm_pool *pool);
int lm_pool_size(const lm_pool *pool);
void lm_pool_run(lm_pool *pool, lm_task_fn fn, void *arg);

#endif
