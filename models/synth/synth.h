/* localm-synth: deterministic synthetic models with llama.cpp's llama and
 * qwen2 layouts, for parity tests and benchmarks of real model shapes. */
#ifndef LM_SYNTH_H
#define LM_SYNTH_H

#include <stdint.h>

#include "gguf_write.h"

typedef struct synth_shape {
    const char *name;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
} synth_shape;

typedef struct synth_model {
    const char *arch; /* "llama" or "qwen2" */
    synth_shape shape;
    int64_t n_vocab;
    uint64_t seed;
    int tied;        /* no output.weight: the embedding is the output matrix */
    int rope_freqs;  /* llama-3 style rope_freqs.weight */
    float freq_base;
    /* pred[r]: the token whose most likely successor is token r, or -1. */
    int32_t *pred;
} synth_model;

/* Chooses each token's successor among the normal tokens (token_type 1, or
 * all when the vocabulary has no types), so that generation never reaches an
 * end-of-generation or control token. token_types may be NULL. */
int synth_plan_successors(synth_model *m, const int32_t *token_types);

typedef struct synth_weights synth_weights;

/* Adds every tensor of the model, with data generated and quantized to the
 * type ft picks for it while the file is written. *out holds the tensors'
 * descriptions, which must outlive gguf_write_file. */
lm_status synth_add_tensors(gguf_writer *w, const synth_model *m, const lm_ftype *ft,
                            synth_weights **out, lm_error *err);
void synth_weights_free(synth_weights *sw);

#endif
