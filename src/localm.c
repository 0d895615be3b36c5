/* The public API's model side: loading from files or memory (split GGUF as
 * one model), metadata as JSON, and the tokenizer and chat entry points. */
#include "localm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef __EMSCRIPTEN__
#include <sys/mman.h>
#endif

#include "error.h"
#include "model.h"

#define LM_MAX_PARTS 256

lm_load_params lm_load_params_default(void) { return (lm_load_params){0, 0, 0}; }

static void release_part(lm_part *p) {
#ifndef __EMSCRIPTEN__
    if (p->mapped) {
        munmap(p->data, p->size);
        return;
    }
#endif
    free(p->data);
}

void lm_model_free(lm_model *m) {
    if (!m) return;
    lm_model_free_vectors(m);
    free(m->layers);
    lm_vocab_free(m->vocab);
    for (int i = 0; i < m->n_parts; i++) {
        if (m->files) gguf_release(&m->files[i]);
        release_part(&m->parts[i]);
    }
    free(m->files);
    free(m->parts);
    free(m->info_json);
    free(m);
}

/* Checks that parts 2..n belong with part 1 (split.count / split.no). */
static lm_status check_split(const lm_model *m, lm_error *err) {
    uint32_t count = 1;
    if (gguf_get_u32(&m->files[0], "split.count", &count) < 0)
        return lm_fail(err, LM_E_FORMAT, "split.count is not an integer");
    if (m->n_parts == 1 && count <= 1) return LM_OK;
    if (count != (uint32_t)m->n_parts)
        return lm_fail(err, LM_E_FORMAT, "the model is split into %u files but %d were given", count,
                       m->n_parts);
    for (int i = 0; i < m->n_parts; i++) {
        uint32_t no;
        if (gguf_get_u32(&m->files[i], "split.no", &no) != 1 || no != (uint32_t)i)
            return lm_fail(err, LM_E_FORMAT, "part %d of the split model is out of order or foreign", i + 1);
    }
    return LM_OK;
}

/* Takes over parts[0..n): on any failure they are released with the model. */
static lm_status load_parts(lm_model *m, const lm_load_params *params, lm_model **out, lm_error *err) {
    lm_load_params defaults = lm_load_params_default();
    lm_status s = LM_OK;
    if (!params) params = &defaults;
    if (!(m->files = calloc((size_t)m->n_parts, sizeof *m->files)))
        s = lm_fail(err, LM_E_MEMORY, "out of memory");
    for (int i = 0; s == LM_OK && i < m->n_parts; i++) {
        s = gguf_parse(&m->files[i], m->parts[i].data, m->parts[i].size, err);
        if (s != LM_OK && m->n_parts > 1 && err) {
            char inner[sizeof err->message];
            memcpy(inner, err->message, sizeof inner);
            snprintf(err->message, sizeof err->message, "part %d: %.480s", i + 1, inner);
        }
    }
    if (s == LM_OK) s = check_split(m, err);
    if (s == LM_OK) s = lm_model_bind(m, params, err);
    if (s != LM_OK) {
        lm_model_free(m);
        return s;
    }
    *out = m;
    return LM_OK;
}

static lm_model *new_model(int n_parts) {
    lm_model *m = calloc(1, sizeof *m);
    if (m && !(m->parts = calloc((size_t)n_parts, sizeof *m->parts))) {
        free(m);
        return NULL;
    }
    if (m) m->n_parts = n_parts;
    return m;
}

lm_status lm_model_load_buffers(void **parts, const size_t *sizes, int n_parts,
                                const lm_load_params *params, lm_model **out, lm_error *err) {
    lm_model *m = NULL;
    if (out) *out = NULL;
    if (!out || !parts || !sizes || n_parts <= 0 || n_parts > LM_MAX_PARTS ||
        !(m = new_model(n_parts))) {
        for (int i = 0; parts && i < n_parts && i < LM_MAX_PARTS; i++) free(parts[i]);
        return lm_fail(err, m ? LM_E_ARGUMENT : LM_E_MEMORY, "invalid model buffers");
    }
    for (int i = 0; i < n_parts; i++) m->parts[i] = (lm_part){parts[i], sizes[i], 0};
    return load_parts(m, params, out, err);
}

/* Natively the file is mapped, so the weights are paged in on demand and
 * shared with the page cache; in wasm there is no mmap and it is read. */
static lm_status map_file(const char *path, lm_part *part, lm_error *err) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0) return lm_fail(err, LM_E_IO, "cannot open '%s'", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lm_fail(err, LM_E_IO, "'%s' is not a regular file", path);
    }
    part->size = (size_t)st.st_size;
    part->data = NULL;
#ifndef __EMSCRIPTEN__
    if (part->size > 0) {
        part->data = mmap(NULL, part->size, PROT_READ, MAP_PRIVATE, fd, 0);
        part->mapped = part->data != MAP_FAILED;
        if (!part->mapped) part->data = NULL;
    }
#endif
    if (!part->data) {
        part->data = malloc(part->size ? part->size : 1);
        size_t got = 0;
        while (part->data && got < part->size) {
            ssize_t r = read(fd, (char *)part->data + got, part->size - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (!part->data || got != part->size) {
            const lm_status code = part->data ? LM_E_IO : LM_E_MEMORY;
            free(part->data);
            part->data = NULL;
            close(fd);
            return lm_fail(err, code, "cannot read '%s'", path);
        }
    }
    close(fd);
    return LM_OK;
}

/* "model-00001-of-00003.gguf" -> the number of parts (3), or 1. */
static int split_count_from_name(const char *path, size_t *number_at) {
    const char *p = strstr(path, "-00001-of-");
    int count;
    if (!p || sscanf(p + 10, "%5d.gguf", &count) != 1 || count < 2 || count > LM_MAX_PARTS) return 1;
    *number_at = (size_t)(p - path) + 1;
    return count;
}

lm_status lm_model_load_file(const char *path, const lm_load_params *params, lm_model **out,
                             lm_error *err) {
    size_t number_at = 0;
    if (out) *out = NULL;
    if (!path || !out) return lm_fail(err, LM_E_ARGUMENT, "no model path");
    const int n_parts = split_count_from_name(path, &number_at);
    lm_model *m = new_model(n_parts);
    if (!m) return lm_fail(err, LM_E_MEMORY, "out of memory");
    char *name = strdup(path);
    lm_status s = name ? LM_OK : lm_fail(err, LM_E_MEMORY, "out of memory");
    for (int i = 0; s == LM_OK && i < n_parts; i++) {
        if (n_parts > 1) {
            char digits[12];
            snprintf(digits, sizeof digits, "%05d", (i + 1) % 100000);
            memcpy(name + number_at, digits, 5);
        }
        s = map_file(name, &m->parts[i], err);
    }
    free(name);
    if (s != LM_OK) {
        lm_model_free(m);
        return s;
    }
    return load_parts(m, params, out, err);
}

int32_t lm_n_vocab(const lm_model *m) { return m->hp.n_vocab; }
int32_t lm_n_ctx_train(const lm_model *m) { return m->hp.n_ctx_train; }
int32_t lm_token_bos(const lm_model *m) { return lm_vocab_bos(m->vocab); }
int32_t lm_token_eos(const lm_model *m) { return lm_vocab_eos(m->vocab); }
int lm_add_bos_default(const lm_model *m) { return lm_vocab_add_bos(m->vocab); }
int lm_token_is_eog(const lm_model *m, int32_t token) { return lm_vocab_is_eog(m->vocab, token); }

int32_t lm_tokenize(const lm_model *m, const char *text, size_t len, int add_bos, int parse_special,
                    int32_t *out, int32_t max) {
    return lm_vocab_tokenize(m->vocab, text, len, add_bos, parse_special, out, max);
}

int32_t lm_token_to_piece(const lm_model *m, int32_t token, char *buf, int32_t size) {
    return lm_vocab_token_to_piece(m->vocab, token, buf, size);
}

const char *lm_chat_template_name(const lm_model *m, int *known) {
    if (known) *known = m->chat_style_known;
    return lm_chat_style_name(m->chat_style);
}

lm_status lm_chat_format(const lm_model *m, const char *messages_json, char **out, lm_error *err) {
    const int32_t bos = lm_vocab_bos(m->vocab);
    const char *bos_text = bos >= 0 ? lm_vocab_token_text(m->vocab, bos) : "";
    return lm_chat_apply(m->chat_style, bos_text ? bos_text : "", messages_json, out, err);
}
