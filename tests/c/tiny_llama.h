/* The tensors and the SentencePiece vocabulary of a one-layer llama with
 * 8-wide embeddings, for tests that build their model with gguf_builder.h. */
#ifndef TINY_LLAMA_H
#define TINY_LLAMA_H

#include "gguf_builder.h"

enum { EMBD = 8, FF = 16, VOCAB = 8 };

typedef struct tensor_spec {
    const char *name;
    uint64_t cols, rows;
} tensor_spec;

static const tensor_spec tensors[] = {
    {"token_embd.weight", EMBD, VOCAB},      {"output_norm.weight", EMBD, 1},
    {"output.weight", EMBD, VOCAB},          {"blk.0.attn_norm.weight", EMBD, 1},
    {"blk.0.attn_q.weight", EMBD, EMBD},     {"blk.0.attn_k.weight", EMBD, EMBD / 2},
    {"blk.0.attn_v.weight", EMBD, EMBD / 2}, {"blk.0.attn_output.weight", EMBD, EMBD},
    {"blk.0.ffn_norm.weight", EMBD, 1},      {"blk.0.ffn_gate.weight", EMBD, FF},
    {"blk.0.ffn_up.weight", EMBD, FF},       {"blk.0.ffn_down.weight", FF, EMBD},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

/* <unk> <s> </s>, then "▁", "a", "b", "▁a", "▁b". */
static void add_vocab(gb *b) {
    static const char *const pieces[VOCAB] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b",
                                              "\xe2\x96\x81" "a", "\xe2\x96\x81" "b"};
    static const int32_t types[VOCAB] = {2, 3, 3, 1, 1, 1, 1, 1};
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_array(b, "tokenizer.ggml.tokens", 8, VOCAB);
    for (int i = 0; i < VOCAB; i++) gb_str(b, pieces[i]);
    gb_kv_array(b, "tokenizer.ggml.scores", 6, VOCAB);
    for (int i = 0; i < VOCAB; i++) gb_f32(b, (float)-i);
    gb_kv_array(b, "tokenizer.ggml.token_type", 5, VOCAB);
    for (int i = 0; i < VOCAB; i++) gb_bytes(b, &types[i], 4);
}

#endif
