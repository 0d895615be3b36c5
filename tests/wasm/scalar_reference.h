/* The scalar reference kernels (src/kernels_scalar.c) compiled a second time
 * under scalar_* names, beside whichever kernels file the build links, so a
 * test or benchmark can hold the SIMD kernels against them directly. */
#ifndef LM_SCALAR_REFERENCE_H
#define LM_SCALAR_REFERENCE_H

#include "kernels.h"

#define lm_act_row_bytes scalar_act_row_bytes
#define lm_quantize_act scalar_quantize_act
#define lm_gemm scalar_gemm
#define lm_dot_f32 scalar_dot_f32
#define lm_dot_rows_f32 scalar_dot_rows_f32
#define lm_mix_rows_f32 scalar_mix_rows_f32
#define lm_rmsnorm scalar_rmsnorm
#define lm_softmax scalar_softmax
#undef LM_KERNELS_H /* declare the renamed functions too */
#include "kernels.h"
#include "../../src/kernels_scalar.c"
#undef lm_act_row_bytes
#undef lm_quantize_act
#undef lm_gemm
#undef lm_dot_f32
#undef lm_dot_rows_f32
#undef lm_mix_rows_f32
#undef lm_rmsnorm
#undef lm_softmax

#endif
