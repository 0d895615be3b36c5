/* localm quantize IN OUT TYPE: rewrites a GGUF with its weight matrices in
 * another type, picking each tensor's type as llama.cpp's quantizer does
 * (lm_pick_tensor_type). Every conversion goes through float: the writer
 * quantizes rows this file dequantizes; tensors that keep their type are
 * copied as is. OUT may be IN: the writer renames a finished temporary file
 * over it, and the mapping of IN stays valid until then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "error.h"
#include "gguf_write.h"
#include "quant.h"

static void usage(FILE *fp) {
    fprintf(fp, "usage: localm quantize IN.gguf OUT.gguf TYPE\n  types: %s\n", lm_ftype_names());
}

/* A gguf_row_fn: row r of the source tensor, dequantized. */
static void source_row(void *user, int64_t r, float *out, float *scratch) {
    const gguf_tensor *t = user;
    lm_dequantize_row(t->type, t->data + (size_t)r * lm_row_bytes(t->type, t->ne[0]), out, t->ne[0]);
}

/* The number of blocks: {arch}.block_count, else one past the highest
 * blk.N. in the tensor names. */
static int count_layers(const gguf_file *f) {
    gguf_str arch;
    uint32_t n;
    char key[128];
    if (gguf_get_str(f, "general.architecture", &arch) == 1 && arch.len < 64) {
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        if (gguf_get_u32(f, key, &n) == 1 && n < 100000) return (int)n;
    }
    int n_layer = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        int il;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)f->tensors[i].name.len, f->tensors[i].name.ptr);
        if (sscanf(name, "blk.%d.", &il) == 1 && il >= n_layer && il < 100000) n_layer = il + 1;
    }
    return n_layer;
}

/* Picks every tensor's type and adds it to the writer. */
static lm_status add_tensors(gguf_writer *w, const gguf_file *f, const lm_ftype *ft, lm_error *err) {
    int n_layer = count_layers(f);
    int has_output = gguf_find_tensor(f, "output.weight") != NULL;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[64];
        if (t->name.len >= sizeof name)
            return lm_fail(err, LM_E_UNSUPPORTED, "tensor name of %llu bytes is too long",
                           (unsigned long long)t->name.len);
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = 0;
        const lm_type_traits *tt = lm_type_info(t->type);
        if (!tt || !tt->supported)
            return lm_fail(err, LM_E_UNSUPPORTED, "tensor %s has type %s, which localm cannot convert",
                           name, tt ? tt->name : "(unknown)");
        lm_type type = lm_pick_tensor_type(ft, name, t->n_dims, t->ne, n_layer, has_output);
        lm_status s = type == t->type
                          ? gguf_add_tensor(w, name, type, t->n_dims, t->ne, t->data, err)
                          : gguf_add_tensor_rows(w, name, type, t->n_dims, t->ne, source_row,
                                                 (void *)t, err);
        if (s != LM_OK) return s;
    }
    return LM_OK;
}

static lm_status quantize_file(const char *in, const char *out, const lm_ftype *ft, lm_error *err) {
    gguf_mapped src;
    lm_status s = gguf_map_file(in, &src, err);
    if (s != LM_OK) return s;
    uint32_t n_split;
    if (gguf_get_u32(&src.file, "split.count", &n_split) == 1 && n_split > 1) {
        gguf_unmap_file(&src);
        return lm_fail(err, LM_E_UNSUPPORTED, "%s is one part of a split model; merge it first", in);
    }
    gguf_writer *w = gguf_writer_new();
    if (!w) s = lm_fail(err, LM_E_MEMORY, "out of memory");
    if (s == LM_OK) s = gguf_copy_kv_prefix(w, &src.file, "", err);
    if (s == LM_OK) s = gguf_set_u32(w, "general.file_type", ft->file_type, err);
    if (s == LM_OK) s = gguf_set_u32(w, "general.quantization_version", 2, err);
    if (s == LM_OK) s = add_tensors(w, &src.file, ft, err);
    if (s == LM_OK) s = gguf_write_file(w, out, err);
    gguf_writer_free(w);
    gguf_unmap_file(&src);
    return s;
}

int cmd_quantize(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 4) {
        usage(stderr);
        return cli_error("quantize takes IN OUT TYPE (%d argument%s given)", argc - 1, argc == 2 ? "" : "s");
    }
    const lm_ftype *ft = lm_ftype_from_name(argv[3]);
    if (!ft) return cli_error("unknown type '%s' (one of: %s)", argv[3], lm_ftype_names());
    lm_error err = {0};
    if (quantize_file(argv[1], argv[2], ft, &err) != LM_OK) return cli_fail(&err);
    return 0;
}
