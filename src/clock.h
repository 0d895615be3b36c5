/* Milliseconds on a monotonic clock, for timing stretches of work: the
 * generation's stats, the benchmark, the thread pool's spin budget. */
#ifndef LM_CLOCK_H
#define LM_CLOCK_H

#include <time.h>

static inline double lm_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#endif
