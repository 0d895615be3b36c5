/* Array allocation that refuses sizes which would wrap size_t: on wasm32 a
 * long hostile prompt can make count * size exceed 4 GiB, and a wrapped
 * product would allocate a tiny block and overflow it. */
#ifndef LM_ALLOC_H
#define LM_ALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void *lm_realloc_array(void *p, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return realloc(p, count * size);
}

/* Appends n bytes to a buffer that doubles as it grows, keeping `spare`
 * bytes free after them (1 for a terminating NUL). Returns 0, with the
 * buffer unchanged, when memory runs out. */
static inline int lm_append_bytes(char **buf, size_t *len, size_t *cap, const void *data, size_t n, size_t spare) {
    if (n > SIZE_MAX / 4 - *len - spare) return 0;
    if (*len + n + spare > *cap) {
        const size_t grown_cap = (*len + n + spare) * 2;
        char *grown = realloc(*buf, grown_cap);
        if (!grown) return 0;
        *buf = grown;
        *cap = grown_cap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return 1;
}

#endif
