/* Tensor element types, numbered as GGUF numbers them (ggml_type). */
#ifndef LM_TYPES_H
#define LM_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LM_TYPE_F32 = 0,
    LM_TYPE_F16 = 1,
    LM_TYPE_Q4_0 = 2,
    LM_TYPE_Q4_1 = 3,
    LM_TYPE_Q5_0 = 6,
    LM_TYPE_Q5_1 = 7,
    LM_TYPE_Q8_0 = 8,
    LM_TYPE_Q8_1 = 9,
    LM_TYPE_Q2_K = 10,
    LM_TYPE_Q3_K = 11,
    LM_TYPE_Q4_K = 12,
    LM_TYPE_Q5_K = 13,
    LM_TYPE_Q6_K = 14,
    LM_TYPE_Q8_K = 15,
    LM_TYPE_BF16 = 30,
    LM_TYPE_COUNT = 40
} lm_type;

typedef struct lm_type_traits {
    const char *name;     /* "Q4_K", or NULL for an id GGUF never used */
    int64_t block_size;   /* elements per block */
    size_t block_bytes;   /* bytes per block */
    int supported;        /* do we have kernels for it? */
} lm_type_traits;

/* Traits of a GGUF type id, or NULL when the id is unknown. Types we only
 * know the size of (IQ*, I8...) have supported == 0: a file using them still
 * parses, and loading it as a model names the type. */
const lm_type_traits *lm_type_info(uint32_t type);

/* Looks a type up by name ("q4_k" or "Q4_K"); -1 when unknown. */
int lm_type_from_name(const char *name);

/* Bytes of a row of n elements (n a multiple of the block size). */
size_t lm_row_bytes(lm_type type, int64_t n);

#endif
