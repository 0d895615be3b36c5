/* GGUF v3 writer: collects metadata and tensors, then writes the file in one
 * go to a temporary name and renames it, so that a failed write never leaves
 * a half file under the final name.
 *
 * Also the tensor-type policy shared by `localm quantize` and localm-synth:
 * which type each tensor of a model gets for a requested file type. */
#ifndef LM_GGUF_WRITE_H
#define LM_GGUF_WRITE_H

#include <stdint.h>

#include "gguf.h"
#include "localm.h"
#include "types.h"

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void); /* NULL when out of memory */
void gguf_writer_free(gguf_writer *w);

/* Setting a key that is already set replaces its value in place (the key
 * keeps its position). Keys must be non-empty. */
lm_status gguf_set_u8(gguf_writer *w, const char *key, uint8_t v, lm_error *err);
lm_status gguf_set_i8(gguf_writer *w, const char *key, int8_t v, lm_error *err);
lm_status gguf_set_u16(gguf_writer *w, const char *key, uint16_t v, lm_error *err);
lm_status gguf_set_i16(gguf_writer *w, const char *key, int16_t v, lm_error *err);
lm_status gguf_set_u32(gguf_writer *w, const char *key, uint32_t v, lm_error *err);
lm_status gguf_set_i32(gguf_writer *w, const char *key, int32_t v, lm_error *err);
lm_status gguf_set_u64(gguf_writer *w, const char *key, uint64_t v, lm_error *err);
lm_status gguf_set_i64(gguf_writer *w, const char *key, int64_t v, lm_error *err);
lm_status gguf_set_f32(gguf_writer *w, const char *key, float v, lm_error *err);
lm_status gguf_set_f64(gguf_writer *w, const char *key, double v, lm_error *err);
lm_status gguf_set_bool(gguf_writer *w, const char *key, int v, lm_error *err);
lm_status gguf_set_str(gguf_writer *w, const char *key, const char *v, lm_error *err);
/* An array of n numbers (or bools) of type elem, packed little-endian as in
 * memory. */
lm_status gguf_set_arr(gguf_writer *w, const char *key, gguf_type elem,
                       const void *data, uint64_t n, lm_error *err);
lm_status gguf_set_str_arr(gguf_writer *w, const char *key, const char *const *v,
                           uint64_t n, lm_error *err);

/* Copies one key/value pair of a file gguf_parse accepted (any type, arrays
 * included); kv points into that file, which must still be mapped. */
lm_status gguf_copy_kv(gguf_writer *w, const gguf_kv *kv, lm_error *err);
/* Copies every pair whose key starts with prefix ("" copies all). */
lm_status gguf_copy_kv_prefix(gguf_writer *w, const gguf_file *src,
                              const char *prefix, lm_error *err);

/* Tensor data comes either from memory that must stay valid until
 * gguf_write_file returns, or from a row function: the writer asks it for
 * each row as floats (ne[0] of them, into out; scratch is ne[0] more floats
 * it may use) and quantizes the rows to the tensor's type, on several
 * threads at once, while the file is written (so a model never has to be
 * held in memory whole). ne[0] is the contiguous dimension and must be a
 * multiple of the type's block size. */
typedef void (*gguf_row_fn)(void *user, int64_t row, float *out, float *scratch);

lm_status gguf_add_tensor(gguf_writer *w, const char *name, lm_type type,
                          uint32_t n_dims, const int64_t *ne, const void *data,
                          lm_error *err);
lm_status gguf_add_tensor_rows(gguf_writer *w, const char *name, lm_type type,
                               uint32_t n_dims, const int64_t *ne, gguf_row_fn row,
                               void *user, lm_error *err);

/* Threads for row tensors (default: the online CPUs). */
void gguf_writer_set_threads(gguf_writer *w, int n_threads);

/* Writes everything to path (via path.tmp-PID, renamed on success). The
 * alignment is general.alignment when set (a power-of-two uint32), else 32. */
lm_status gguf_write_file(gguf_writer *w, const char *path, lm_error *err);

/* ---- reading the input of a tool ------------------------------------ */

/* Maps a whole file read-only and parses it as GGUF (for localm quantize and
 * localm-synth's --vocab). gguf_unmap_file releases both; safe on a zeroed or
 * failed mapping. */
typedef struct gguf_mapped {
    void *data;
    size_t size;
    gguf_file file;
} gguf_mapped;

lm_status gguf_map_file(const char *path, gguf_mapped *out, lm_error *err);
void gguf_unmap_file(gguf_mapped *m);

/* ---- tensor-type policy --------------------------------------------- */

/* A requested file type: a single tensor type, or the Q4_K_M mix. */
typedef struct lm_ftype {
    const char *name;   /* "Q4_K_M" */
    lm_type base;       /* the type most matrices get */
    int q4_k_m;         /* the Q4_K_M mix: Q6_K for output and some attn_v/ffn_down */
    uint32_t file_type; /* llama.cpp's general.file_type (llama_ftype) */
} lm_ftype;

/* Looks a file type up by name, case-insensitively: F32 F16 BF16 Q8_0 Q4_0
 * Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M. NULL when unknown. */
const lm_ftype *lm_ftype_from_name(const char *name);
/* The accepted names, space-separated, for usage messages. */
const char *lm_ftype_names(void);

/* The type a tensor gets in a model of file type ft, as llama.cpp's
 * quantizer picks it: 1-D tensors (norms, biases, rope_freqs) stay F32;
 * matrices get ft->base, with the Q4_K_M rules; a matrix whose rows do not
 * fit the type's block size falls back (Q4_K->Q5_0, Q5_K->Q5_1,
 * Q6_K->Q8_0, Q2_K/Q3_K->Q4_0, then F16). n_layer is the model's block
 * count; has_output says whether output.weight exists (without it
 * token_embd.weight is the output matrix and is treated as such). */
lm_type lm_pick_tensor_type(const lm_ftype *ft, const char *name, uint32_t n_dims,
                            const int64_t *ne, int n_layer, int has_output);

#endif
