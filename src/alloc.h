/* Array allocation that refuses sizes which would wrap size_t: on wasm32 a
 * long hostile prompt can make count * size exceed 4 GiB, and a wrapped
 * product would allocate a tiny block and overflow it. */
#ifndef LM_ALLOC_H
#define LM_ALLOC_H

#include <stdint.h>
#include <stdlib.h>

static inline void *lm_realloc_array(void *p, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return realloc(p, count * size);
}

#endif
