/* Quantized block formats, bit-compatible with GGUF (ggml), and the scalar
 * reference conversions between them and float. */
#ifndef LM_QUANT_H
#define LM_QUANT_H

#include <stdint.h>

#include "types.h"

/* Block structs with static size asserts live here (added with quant.c). */

float lm_f16_to_f32(uint16_t h);
uint16_t lm_f32_to_f16(float f); /* round to nearest even, like ggml */
float lm_bf16_to_f32(uint16_t h);
uint16_t lm_f32_to_bf16(float f);

/* Every supported type: n a multiple of the block size. */
void lm_dequantize_row(lm_type type, const void *src, float *dst, int64_t n);
/* Reference quantizers producing the same bytes as ggml's *_ref functions
 * (for the writer, `localm quantize` and the synthetic-model generator). */
void lm_quantize_row(lm_type type, const float *src, void *dst, int64_t n);

#endif
