/* Tokenizers read from GGUF metadata: SentencePiece (scores, byte fallback)
 * and byte-level BPE (merges) with the pre-tokenizer named by
 * tokenizer.ggml.pre. */
#ifndef LM_VOCAB_H
#define LM_VOCAB_H

#include <stdint.h>
#include <stddef.h>

#include "gguf.h"

typedef struct lm_vocab lm_vocab;

lm_status lm_vocab_load(const gguf_file *f, lm_vocab **out, lm_error *err);
void lm_vocab_free(lm_vocab *v);

int32_t lm_vocab_size(const lm_vocab *v);
int32_t lm_vocab_bos(const lm_vocab *v);      /* -1 if none */
int32_t lm_vocab_eos(const lm_vocab *v);      /* -1 if none */
int lm_vocab_add_bos(const lm_vocab *v);      /* tokenizer.ggml.add_bos_token, or the type's default */
int lm_vocab_is_eog(const lm_vocab *v, int32_t token); /* EOS, EOT, EOM... */

/* Same contract as lm_tokenize in localm.h; -INT32_MAX when memory runs out
 * or the count would not fit an int32_t. */
int32_t lm_vocab_tokenize(const lm_vocab *v, const char *text, size_t len,
                          int add_bos, int parse_special, int32_t *out,
                          int32_t max);
/* Same contract as lm_token_to_piece (an id out of range gives 0 bytes).
 * Control tokens (BOS, EOS...) give no
 * bytes; byte tokens (<0x0A>) give their byte; BPE pieces are un-mapped from
 * the GPT-2 byte alphabet; SentencePiece's U+2581 becomes a space. */
int32_t lm_vocab_token_to_piece(const lm_vocab *v, int32_t token, char *buf,
                                int32_t size);
/* The text of a token as stored (for special tokens in chat templates). */
const char *lm_vocab_token_text(const lm_vocab *v, int32_t token);

#endif
