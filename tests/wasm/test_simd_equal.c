/* The SIMD128 build of the kernel equality test: tests/c/test_simd_equal.c,
 * built by run-c-tests.sh against kernels_wasm.c. */
#include "../c/test_simd_equal.c"
