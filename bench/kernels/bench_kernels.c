/* Micro-benchmark of the matrix kernels: GMAC/s (multiply-adds per second)
 * of lm_gemm per weight type, SIMD128 (kernels_wasm.c, linked) against the
 * scalar reference (kernels_scalar.c, included under renamed symbols), for
 * matrix-vector products at SmolLM2-135M shapes and for token batches.
 * Weights are random valid blocks; one thread. Run through run.sh.
 * --memory cycles through copies of each matrix filling 64 MiB, so weights
 * come from memory as in a model instead of staying in cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>

#include "kernels.h"
#include "quant.h"

#include "../../tests/wasm/scalar_reference.h"

typedef size_t act_bytes_fn(lm_type, int64_t);
typedef void quantize_fn(lm_type, const float *, void *, int64_t);
typedef void gemm_fn(lm_type, int64_t, const void *, size_t, const void *, int, float *, int64_t, int64_t, int64_t);

/* Process CPU seconds: the machine is shared, wall time counts the others. */
EM_JS(double, now, (void), {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
});

static float frand(void) { return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f; }

/* Random weights through the reference quantizer: realistic blocks. */
static uint8_t *random_weights(lm_type t, int64_t rows, int64_t n, int copies) {
    size_t rb = lm_row_bytes(t, n);
    uint8_t *w = malloc(rows * rb * copies);
    float *f = malloc(n * sizeof *f);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++) f[i] = frand();
        lm_quantize_row(t, f, w + r * rb, n);
    }
    free(f);
    for (int c = 1; c < copies; c++) memcpy(w + c * rows * rb, w, rows * rb);
    return w;
}

/* Best of 5 timed runs of at least 0.05 s each, in GMAC/s; each product
 * takes the next of `copies` copies of the matrix. */
static double measure(gemm_fn gemm, act_bytes_fn act_bytes, quantize_fn quantize, lm_type t, const uint8_t *w,
                      int copies, int64_t rows, int64_t n, int n_tok) {
    size_t arb = act_bytes(t, n);
    uint8_t *xq = malloc(arb * n_tok);
    float *x = malloc(n * sizeof *x), *y = malloc(rows * n_tok * sizeof *y);
    for (int k = 0; k < n_tok; k++) {
        for (int64_t i = 0; i < n; i++) x[i] = frand();
        quantize(t, x, xq + k * arb, n);
    }
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        int iters = 0;
        double t0 = now(), el;
        do {
            gemm(t, n, w + (size_t)(iters % copies) * rows * lm_row_bytes(t, n), lm_row_bytes(t, n), xq, n_tok, y,
                 rows, 0, rows);
            iters++;
        } while ((el = now() - t0) < 0.05);
        double g = (double)rows * n * n_tok * iters / el / 1e9;
        if (g > best) best = g;
    }
    free(xq), free(x), free(y);
    return best;
}

int main(int argc, char **argv) {
    static const lm_type types[] = {LM_TYPE_Q8_0, LM_TYPE_Q4_0, LM_TYPE_Q4_1, LM_TYPE_Q5_0, LM_TYPE_Q5_1,
                                    LM_TYPE_Q2_K, LM_TYPE_Q3_K, LM_TYPE_Q4_K, LM_TYPE_Q5_K, LM_TYPE_Q6_K,
                                    LM_TYPE_F16, LM_TYPE_BF16, LM_TYPE_F32};
    /* rows x columns: ffn_up (1536 x 576; K-quants need 256 | columns, so
     * 2048 x 512 stands in), ffn_down (576 x 1536). */
    static const struct { int64_t rows, n, rows_k, n_k; } shapes[] = {{1536, 576, 2048, 512}, {576, 1536, 576, 1536}};
    static const int batches[] = {1, 8, 32, 64, 128};
    int scalar = 1, memory = 0; /* --simd-only, --memory, then optional type names */
    for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argv++, argc--) {
        if (strcmp(argv[1], "--simd-only") == 0) scalar = 0;
        else if (strcmp(argv[1], "--memory") == 0) memory = 1;
    }
    printf("GMAC/s, one thread%s\n", scalar ? "; SIMD (scalar)" : "");
    printf("%-5s %-10s", "type", "shape");
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) printf(" %8s%-3d      ", "tok=", batches[b]);
    printf("\n");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        lm_type t = types[i];
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++) wanted |= lm_type_from_name(argv[a]) == (int)t;
        if (!wanted) continue;
        int k_quant = lm_type_info(t)->block_size == 256;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int64_t rows = k_quant ? shapes[s].rows_k : shapes[s].rows, n = k_quant ? shapes[s].n_k : shapes[s].n;
            const size_t bytes = rows * lm_row_bytes(t, n);
            const int copies = memory ? (int)((64u << 20) / bytes + 1) : 1;
            uint8_t *w = random_weights(t, rows, n, copies);
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)rows, (long long)n);
            printf("%-5s %-10s", lm_type_info(t)->name, shape);
            for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
                double g = measure(lm_gemm, lm_act_row_bytes, lm_quantize_act, t, w, copies, rows, n, batches[b]);
                if (scalar) {
                    double gs = measure(scalar_gemm, scalar_act_row_bytes, scalar_quantize_act, t, w, copies, rows, n,
                                        batches[b]);
                    printf(" %6.2f (%5.2f)", g, gs);
                } else {
                    printf(" %6.2f        ", g);
                }
                fflush(stdout);
            }
            printf("\n");
            free(w);
        }
    }
    return 0;
}
