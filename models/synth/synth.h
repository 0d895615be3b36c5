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
    const char *arch; /* "llama", "qwen2" or a family of families.c */
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

typedef enum {
    SYNTH_W_EMBD,       /* token_embd: std 1 */
    SYNTH_W_NORM,       /* RMS norm gains: near 1 */
    SYNTH_W_RANDOM,     /* matrices and biases: std = scale */
    SYNTH_W_OUTPUT,     /* noise plus the successor structure */
    SYNTH_W_ROPE_FREQS, /* llama-3 rope factors */
} synth_weight_kind;

/* Describes one ne0 x ne1 tensor (ne1 = 0: a vector); 0 when out of memory. */
int synth_describe(synth_weights *sw, const synth_model *m, const char *name, synth_weight_kind kind,
                   float scale, int64_t ne0, int64_t ne1);
/* The embedding's standard deviation (depends on tied). */
float synth_embd_std(const synth_model *m);

/* families.c: gemma, gemma2, gemma3, phi3, gpt2, mpt, bloom. */
int synth_family_known(const char *arch);
int synth_family_tied(const char *arch); /* the family has no output.weight */
lm_status synth_family_metadata(gguf_writer *w, const synth_model *m, lm_error *err);
int synth_family_describe(synth_weights *sw, const synth_model *m);

/* Adds every tensor of the model, with data generated and quantized to the
 * type ft picks for it while the file is written. *out holds the tensors'
 * descriptions, which must outlive gguf_write_file. */
lm_status synth_add_tensors(gguf_writer *w, const synth_model *m, const lm_ftype *ft,
                            synth_weights **out, lm_error *err);
void synth_weights_free(synth_weights *sw);

#endif
