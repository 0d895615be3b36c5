/* lm_model_info_json: what `localm info` and LocalLM.info() show. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

/* Long values (token lists, templates) are summarised, not dumped. */
static cJSON *kv_to_json(const gguf_kv *kv) {
    if (kv->type == GGUF_ARRAY) {
        char summary[64];
        snprintf(summary, sizeof summary, "[%s x %llu]", gguf_type_name(kv->arr_type),
                 (unsigned long long)kv->arr_n);
        return cJSON_CreateString(summary);
    }
    if (kv->type == GGUF_STRING) {
        gguf_str s;
        gguf_next_str(kv->value, &s);
        const size_t shown = s.len > 512 ? 512 : s.len;
        char *text = malloc(shown + 1);
        if (!text) return NULL;
        snprintf(text, shown + 1, "%.*s", (int)shown, s.ptr);
        cJSON *item = cJSON_CreateString(text);
        free(text);
        return item;
    }
    if (kv->type == GGUF_BOOL) return cJSON_CreateBool(kv->value[0]);
    return cJSON_CreateNumber(gguf_arr_f64(kv->type, kv->value, 0));
}

static cJSON *metadata_json(const gguf_file *f) {
    cJSON *meta = cJSON_CreateObject();
    for (uint64_t i = 0; meta && i < f->n_kv; i++) {
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(f->kv[i].key.len > 255 ? 255 : f->kv[i].key.len),
                 f->kv[i].key.ptr);
        cJSON_AddItemToObject(meta, key, kv_to_json(&f->kv[i]));
    }
    return meta;
}

static cJSON *tensor_types_json(const lm_model *m) {
    uint64_t counts[LM_TYPE_COUNT] = {0};
    for (int p = 0; p < m->n_parts; p++)
        for (uint64_t i = 0; i < m->files[p].n_tensors; i++) counts[m->files[p].tensors[i].type]++;
    cJSON *types = cJSON_CreateObject();
    for (int t = 0; types && t < LM_TYPE_COUNT; t++)
        if (counts[t]) cJSON_AddNumberToObject(types, lm_type_info(t)->name, (double)counts[t]);
    return types;
}

static cJSON *hparams_json(const lm_model *m) {
    const lm_hparams *hp = &m->hp;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n_vocab", hp->n_vocab);
    cJSON_AddNumberToObject(o, "n_embd", hp->n_embd);
    cJSON_AddNumberToObject(o, "n_layer", hp->n_layer);
    cJSON_AddNumberToObject(o, "n_head", hp->n_head);
    cJSON_AddNumberToObject(o, "n_head_kv", hp->n_head_kv);
    cJSON_AddNumberToObject(o, "head_dim", hp->head_dim);
    cJSON_AddNumberToObject(o, "n_ff", hp->n_ff);
    cJSON_AddNumberToObject(o, "n_ctx_train", hp->n_ctx_train);
    cJSON_AddNumberToObject(o, "n_rot", hp->n_rot);
    cJSON_AddNumberToObject(o, "rope_freq_base", hp->rope_base);
    cJSON_AddNumberToObject(o, "rope_freq_scale", hp->rope_freq_scale);
    cJSON_AddStringToObject(o, "rope_type", hp->rope_neox ? "neox" : "normal");
    cJSON_AddNumberToObject(o, "norm_eps", hp->norm_eps);
    cJSON_AddStringToObject(o, "norm", hp->norm == LM_NORM_LAYER ? "layernorm" : "rmsnorm");
    cJSON_AddStringToObject(o, "positions", hp->pos == LM_POS_ALIBI ? "alibi"
                                            : hp->pos == LM_POS_LEARNED ? "learned" : "rope");
    if (hp->n_swa) {
        cJSON_AddNumberToObject(o, "sliding_window", hp->n_swa);
        cJSON_AddNumberToObject(o, "sliding_window_pattern", hp->swa_pattern);
        cJSON_AddNumberToObject(o, "rope_freq_base_swa", hp->rope_base_swa);
    }
    if (hp->attn_softcap > 0) cJSON_AddNumberToObject(o, "attn_softcap", hp->attn_softcap);
    if (hp->final_softcap > 0) cJSON_AddNumberToObject(o, "final_softcap", hp->final_softcap);
    if (hp->pos == LM_POS_ALIBI) cJSON_AddNumberToObject(o, "max_alibi_bias", hp->alibi_bias_max);
    if (hp->embd_scale != 1.0f) cJSON_AddNumberToObject(o, "embedding_scale", hp->embd_scale);
    return o;
}

const char *lm_model_info_json(lm_model *m) {
    if (m->info_json) return m->info_json;
    cJSON *root = cJSON_CreateObject();
    if (!root) return "{}";
    cJSON_AddStringToObject(root, "architecture", m->hp.arch_name);
    cJSON_AddBoolToObject(root, "vocab_only", m->vocab_only);
    if (!m->vocab_only) {
        const char *features[16];
        const int n = lm_arch_features(m, features, 16);
        cJSON_AddStringToObject(root, "family", lm_arch_family(m->hp.arch));
        cJSON_AddItemToObject(root, "features", cJSON_CreateStringArray(features, n));
        cJSON_AddItemToObject(root, "hparams", hparams_json(m));
    }
    cJSON_AddNumberToObject(root, "weight_bytes", (double)m->weight_bytes);
    cJSON_AddNumberToObject(root, "context_bytes", (double)lm_context_bytes(&m->hp, m->n_ctx_default));
    cJSON_AddNumberToObject(root, "n_ctx", m->n_ctx_default);
    cJSON_AddNumberToObject(root, "gguf_version", m->files[0].version);
    cJSON_AddNumberToObject(root, "parts", m->n_parts);
    cJSON_AddStringToObject(root, "chat_template", lm_chat_style_name(m->chat_style));
    cJSON_AddBoolToObject(root, "chat_template_known", m->chat_style_known);
    cJSON_AddNumberToObject(root, "bos", lm_vocab_bos(m->vocab));
    cJSON_AddNumberToObject(root, "eos", lm_vocab_eos(m->vocab));
    cJSON_AddBoolToObject(root, "add_bos", lm_vocab_add_bos(m->vocab));
    cJSON_AddItemToObject(root, "tensor_types", tensor_types_json(m));
    cJSON_AddItemToObject(root, "metadata", metadata_json(&m->files[0]));
    m->info_json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return m->info_json ? m->info_json : "{}";
}
