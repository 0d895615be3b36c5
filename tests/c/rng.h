/* A small deterministic random source for tests (xorshift32): the same
 * numbers natively and in wasm, so measured error bounds stay valid. */
#ifndef LM_TEST_RNG_H
#define LM_TEST_RNG_H

#include <stdint.h>

static uint32_t rng_state = 12345;

static inline uint32_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static inline float rng_uniform(void) { return (float)((rng_next() >> 8) * (1.0 / 16777216.0)); }

/* Roughly normal: the sum of four uniforms, centered, unit variance. */
static inline float rng_normal(void) {
    return (rng_uniform() + rng_uniform() + rng_uniform() + rng_uniform() - 2.0f) * 1.7320508f;
}

#endif
