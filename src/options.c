/* Generation options from JSON (what the JS layer sends). Each key is
 * checked for type and range against one table; any problem names the key
 * and what was expected, and leaves the caller's params untouched. */
#include "error.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

lm_generate_params lm_generate_params_default(void) {
    lm_generate_params p;
    memset(&p, 0, sizeof p);
    p.sampling = lm_sampling_params_default();
    p.max_tokens = 256;
    p.add_bos = -1;
    return p;
}

typedef enum { OPT_INT32, OPT_FLOAT, OPT_SEED, OPT_BOOL, OPT_STOP, OPT_FORMAT } option_kind;

typedef struct {
    const char *key;
    option_kind kind;
    size_t offset;     /* of the field in lm_generate_params */
    double min, max;   /* inclusive bounds for numbers */
    int min_exclusive; /* min itself is refused */
    const char *expected;
} option_spec;

#define FIELD(f) offsetof(lm_generate_params, f)
#define STOP_SIZE ((int)sizeof(((lm_generate_params *)0)->stop[0]))

static const option_spec option_specs[] = {
    {"max_tokens", OPT_INT32, FIELD(max_tokens), 0, INT32_MAX, 0, "an integer >= 0"},
    {"temperature", OPT_FLOAT, FIELD(sampling.temperature), 0, FLT_MAX, 0, "a number >= 0 (0: greedy)"},
    {"top_k", OPT_INT32, FIELD(sampling.top_k), 0, INT32_MAX, 0, "an integer >= 0 (0: off)"},
    {"top_p", OPT_FLOAT, FIELD(sampling.top_p), 0, 1, 0, "a number from 0 to 1 (1: off)"},
    {"min_p", OPT_FLOAT, FIELD(sampling.min_p), 0, 1, 0, "a number from 0 to 1 (0: off)"},
    {"repeat_penalty", OPT_FLOAT, FIELD(sampling.repeat_penalty), 0, FLT_MAX, 1, "a number > 0 (1: off)"},
    /* Bounded so a hostile value cannot make the sampler allocate gigabytes. */
    {"repeat_last_n", OPT_INT32, FIELD(sampling.repeat_last_n), 0, 65536, 0, "an integer from 0 to 65536"},
    {"frequency_penalty", OPT_FLOAT, FIELD(sampling.frequency_penalty), -2, 2, 0, "a number from -2 to 2"},
    {"presence_penalty", OPT_FLOAT, FIELD(sampling.presence_penalty), -2, 2, 0, "a number from -2 to 2"},
    /* JS numbers are exact up to 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
    {"seed", OPT_SEED, FIELD(sampling.seed), 0, 9007199254740991.0, 0, "an integer from 0 to 2^53-1"},
    {"stop", OPT_STOP, FIELD(stop), 0, 0, 0, "a string or an array of at most 8 strings of 1 to 63 bytes"},
    {"ignore_eos", OPT_BOOL, FIELD(ignore_eos), 0, 0, 0, "true or false"},
    {"add_bos", OPT_BOOL, FIELD(add_bos), 0, 0, 0, "true or false"},
    {"response_format", OPT_FORMAT, FIELD(response_format), 0, 0, 0,
     "{\"type\": \"text\"}, {\"type\": \"json_object\"} or {\"type\": \"json_schema\", \"schema\": {...}}"},
};

#define N_OPTIONS ((int)(sizeof option_specs / sizeof option_specs[0]))

static const char *json_type_name(const cJSON *item) {
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "null";
}

static lm_status expected_got_type(const option_spec *o, const cJSON *item, lm_error *err) {
    return lm_fail(err, LM_E_OPTION, "option \"%s\": expected %s, got %s", o->key,
                   o->expected, json_type_name(item));
}

static lm_status parse_number(const option_spec *o, const cJSON *item, void *field, lm_error *err) {
    if (!cJSON_IsNumber(item)) return expected_got_type(o, item, err);
    double v = item->valuedouble;
    int integral = o->kind != OPT_FLOAT;
    int in_range = isfinite(v) && v <= o->max && (o->min_exclusive ? v > o->min : v >= o->min);
    if (!in_range || (integral && v != floor(v)))
        return lm_fail(err, LM_E_OPTION, "option \"%s\": expected %s, got %.15g", o->key, o->expected, v);
    switch (o->kind) {
    case OPT_INT32: *(int32_t *)field = (int32_t)v; break;
    case OPT_SEED: *(uint64_t *)field = (uint64_t)v; break;
    default: *(float *)field = (float)v; break;
    }
    return LM_OK;
}

static lm_status parse_stop_string(const option_spec *o, const cJSON *item, int index,
                                   lm_generate_params *p, lm_error *err) {
    char where[32] = "";
    if (index >= 0) snprintf(where, sizeof where, "[%d]", index);
    if (!cJSON_IsString(item))
        return lm_fail(err, LM_E_OPTION, "option \"%s\"%s: expected %s, got %s", o->key, where,
                       index >= 0 ? "a string" : o->expected, json_type_name(item));
    size_t len = strlen(item->valuestring);
    if (len == 0 || len >= (size_t)STOP_SIZE)
        return lm_fail(err, LM_E_OPTION, "option \"%s\"%s: expected a string of 1 to %d bytes, got %zu bytes",
                       o->key, where, STOP_SIZE - 1, len);
    memcpy(p->stop[p->n_stop++], item->valuestring, len + 1);
    return LM_OK;
}

/* "stop" replaces the stop strings: one string, or an array of them. */
static lm_status parse_stop(const option_spec *o, const cJSON *item, lm_generate_params *p,
                            lm_error *err) {
    memset(p->stop, 0, sizeof p->stop);
    p->n_stop = 0;
    if (!cJSON_IsArray(item)) return parse_stop_string(o, item, -1, p, err);
    int n = cJSON_GetArraySize(item);
    if (n > LM_MAX_STOP)
        return lm_fail(err, LM_E_OPTION, "option \"%s\": expected %s, got an array of %d", o->key,
                       o->expected, n);
    int index = 0;
    for (const cJSON *s = item->child; s; s = s->next, index++) {
        lm_status st = parse_stop_string(o, s, index, p, err);
        if (st != LM_OK) return st;
    }
    return LM_OK;
}

/* The schema of {"type": "json_schema", "json_schema": {"schema": ...}}
 * (OpenAI's shape) or {"type": "json_schema", "schema": ...}, stored as
 * compact text; lm_generation_start compiles it. */
static lm_status parse_schema(const cJSON *format, lm_generate_params *p, lm_error *err) {
    const cJSON *wrapper = cJSON_GetObjectItemCaseSensitive(format, "json_schema");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(wrapper ? wrapper : format, "schema");
    if (wrapper && !cJSON_IsObject(wrapper))
        return lm_fail(err, LM_E_OPTION, "option \"response_format\": \"json_schema\" must be an object");
    if (!cJSON_IsObject(schema))
        return lm_fail(err, LM_E_OPTION, "option \"response_format\": json_schema needs a \"schema\" object");
    char *text = cJSON_PrintUnformatted(schema);
    if (!text) return lm_fail(err, LM_E_MEMORY, "out of memory printing the response_format schema");
    size_t len = strlen(text);
    lm_status st = LM_OK;
    if (len >= sizeof p->response_schema)
        st = lm_fail(err, LM_E_OPTION, "option \"response_format\": the schema is %zu bytes, at most %zu are supported",
                     len, sizeof p->response_schema - 1);
    else
        memcpy(p->response_schema, text, len + 1);
    cJSON_free(text);
    return st;
}

static lm_status parse_format(const option_spec *o, const cJSON *item, lm_generate_params *p, lm_error *err) {
    static const char *const keys[] = {"type", "json_schema", "schema"};
    static const char *const types[] = {"text", "json_object", "json_schema"};
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
    if (!cJSON_IsObject(item) || !cJSON_IsString(type)) return expected_got_type(o, item, err);
    for (const cJSON *k = item->child; k; k = k->next) {
        int known = 0;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) known |= !strcmp(k->string, keys[i]);
        if (!known) return lm_fail(err, LM_E_OPTION, "option \"%s\": unknown key \"%.64s\"", o->key, k->string);
    }
    for (int i = 0; i < (int)(sizeof types / sizeof *types); i++) {
        if (strcmp(type->valuestring, types[i])) continue;
        p->response_format = i;
        p->response_schema[0] = 0;
        return i == LM_FORMAT_JSON_SCHEMA ? parse_schema(item, p, err) : LM_OK;
    }
    return lm_fail(err, LM_E_OPTION, "option \"%s\": unknown type \"%.64s\" (known: text, json_object, json_schema)",
                   o->key, type->valuestring);
}

static lm_status parse_option(const option_spec *o, const cJSON *item, lm_generate_params *p,
                              lm_error *err) {
    void *field = (char *)p + o->offset;
    switch (o->kind) {
    case OPT_BOOL:
        if (!cJSON_IsBool(item)) return expected_got_type(o, item, err);
        *(int *)field = cJSON_IsTrue(item);
        return LM_OK;
    case OPT_STOP:
        return parse_stop(o, item, p, err);
    case OPT_FORMAT:
        return parse_format(o, item, p, err);
    default:
        return parse_number(o, item, field, err);
    }
}

static lm_status unknown_key(const char *key, lm_error *err) {
    char known[256] = "";
    size_t used = 0;
    for (int i = 0; i < N_OPTIONS && used < sizeof known; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                 option_specs[i].key);
    return lm_fail(err, LM_E_OPTION, "unknown option \"%.64s\" (known: %s)", key, known);
}

lm_status lm_generate_params_from_json(const char *json, lm_generate_params *params,
                                       lm_error *err) {
    if (!params) return lm_fail(err, LM_E_ARGUMENT, "options: params is NULL");
    if (!json) return LM_OK; /* no options: keep everything */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        long at = end && end >= json ? (long)(end - json) : 0;
        return lm_fail(err, LM_E_OPTION, "options: malformed JSON at byte %ld", at);
    }
    lm_status st = LM_OK;
    lm_generate_params p = *params;
    if (!cJSON_IsObject(root)) {
        st = lm_fail(err, LM_E_OPTION, "options: expected a JSON object, got %s", json_type_name(root));
        goto done;
    }
    for (const cJSON *item = root->child; item && st == LM_OK; item = item->next) {
        const option_spec *o = NULL;
        for (int i = 0; i < N_OPTIONS && !o; i++)
            if (strcmp(item->string, option_specs[i].key) == 0) o = &option_specs[i];
        if (!o) st = unknown_key(item->string, err);
        else if (!cJSON_IsNull(item)) st = parse_option(o, item, &p, err); /* null: keep */
    }
    if (st == LM_OK) *params = p;
done:
    cJSON_Delete(root);
    return st;
}
