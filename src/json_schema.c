/* Compiles a JSON schema (parsed with cJSON) into js_schema's node tree.
 * Every problem names the keyword and its path in the schema. */
#include "json_schema.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* The largest magnitude a generated number can have (15 digits). */
#define JS_NUMBER_LIMIT 999999999999999.0

typedef struct compiler {
    js_schema *s;
    lm_error *err;
    char path[256];
} compiler;

static const char *const annotations[] = {
    "title", "description", "default", "examples", "$schema", "$comment",
};

/* type first, enum and const last (compile() relies on it). */
static const char *const supported[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    "minLength", "maxLength", "minimum", "maximum", "enum", "const",
};

static int in_list(const char *key, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i])) return 1;
    return 0;
}

static lm_status fail_at(compiler *c, const char *fmt, const char *what) {
    return lm_fail(c->err, LM_E_OPTION, "response_format schema at %s: %s%.64s",
                   c->path[0] ? c->path : "/", fmt, what);
}

static lm_status fail_keyword(compiler *c, const char *key, const char *problem) {
    return lm_fail(c->err, LM_E_OPTION, "response_format schema at %s: \"%.64s\" %s",
                   c->path[0] ? c->path : "/", key, problem);
}

int32_t js_saturate(int64_t bytes) {
    return bytes > JS_BYTES_LIMIT ? JS_BYTES_LIMIT : (int32_t)bytes;
}

/* ---- building the tree ----------------------------------------------------- */

static int32_t new_node(compiler *c, js_kind kind) {
    js_schema *s = c->s;
    if (s->n_nodes >= JS_MAX_NODES) {
        fail_at(c, "the schema is too big (more than 512 nodes)", "");
        return -1;
    }
    js_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->child = -1;
    return s->n_nodes++;
}

/* Copies text (NUL-terminated) into the schema; its offset or -1. */
static int32_t add_text(compiler *c, const char *text, size_t len) {
    js_schema *s = c->s;
    if (len + 1 > (size_t)(JS_MAX_TEXT - s->text_len)) {
        fail_at(c, "the schema's keys and values are too long (more than 32768 bytes)", "");
        return -1;
    }
    int32_t at = s->text_len;
    memcpy(s->text + at, text, len);
    s->text[at + len] = 0;
    s->text_len += (int32_t)len + 1;
    return at;
}

/* A literal node from compact JSON texts. */
static int32_t literal_node(compiler *c, const char *const *texts, int n) {
    int32_t id = new_node(c, JS_LITERALS);
    if (id < 0) return -1;
    js_node *node = &c->s->nodes[id];
    node->first = c->s->n_literals;
    node->min_bytes = INT32_MAX;
    for (int i = 0; i < n; i++) {
        if (c->s->n_literals >= JS_MAX_LITERALS) return fail_at(c, "the schema has more than 512 enum values", ""), -1;
        int32_t len = (int32_t)strlen(texts[i]);
        int32_t at = add_text(c, texts[i], (size_t)len);
        if (at < 0) return -1;
        c->s->literals[c->s->n_literals++] = at;
        node->count++;
        if (len < node->min_bytes) node->min_bytes = len;
    }
    return id;
}

/* The nodes any-values are made of; an any-value's containers hold any-values. */
static lm_status add_any_nodes(compiler *c) {
    js_schema *s = c->s;
    static const char *const bools[] = {"true", "false"}, *const nulls[] = {"null"};
    if ((s->any = new_node(c, JS_ANY)) < 0 || (s->any_object = new_node(c, JS_FREE_OBJECT)) < 0 ||
        (s->any_array = new_node(c, JS_ARRAY)) < 0 || (s->any_string = new_node(c, JS_STRING)) < 0 ||
        (s->any_number = new_node(c, JS_NUMBER)) < 0 || (s->any_bool = literal_node(c, bools, 2)) < 0 ||
        (s->any_null = literal_node(c, nulls, 1)) < 0)
        return LM_E_OPTION; /* cannot happen in a fresh table, kept for safety */
    s->nodes[s->any].min_bytes = 1;
    s->nodes[s->any_object] = (js_node){.kind = JS_FREE_OBJECT, .max = JS_DEFAULT_MAX_KEYS,
                                        .child = s->any, .min_bytes = 2};
    s->nodes[s->any_array] = (js_node){.kind = JS_ARRAY, .max = JS_DEFAULT_MAX_ITEMS,
                                       .child = s->any, .min_bytes = 2};
    s->nodes[s->any_string] = (js_node){.kind = JS_STRING, .max = JS_DEFAULT_MAX_CHARS,
                                        .child = -1, .min_bytes = 2};
    s->nodes[s->any_number] = (js_node){.kind = JS_NUMBER, .child = -1, .min_bytes = 1};
    return LM_OK;
}

/* ---- keywords ---------------------------------------------------------------- */

static lm_status check_keywords(compiler *c, const cJSON *schema) {
    for (const cJSON *k = schema->child; k; k = k->next) {
        if (in_list(k->string, annotations, sizeof annotations / sizeof *annotations)) continue;
        if (!in_list(k->string, supported, sizeof supported / sizeof *supported))
            return fail_keyword(c, k->string, "is not supported");
    }
    return LM_OK;
}

/* A non-negative integer keyword, or def when absent. */
static lm_status count_keyword(compiler *c, const cJSON *schema, const char *key, int32_t def,
                               int32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
    *out = def;
    if (!v) return LM_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4096 || v->valuedouble != floor(v->valuedouble))
        return fail_keyword(c, key, "must be an integer from 0 to 4096");
    *out = (int32_t)v->valuedouble;
    return LM_OK;
}

static lm_status bound_keyword(compiler *c, const cJSON *schema, const char *key, int *has, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
    *has = v != NULL;
    if (!v) return LM_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return fail_keyword(c, key, "must be a number");
    *out = v->valuedouble;
    return LM_OK;
}

/* "type" as a set of bits, in the order of type_names. */
enum { T_OBJECT = 1, T_ARRAY = 2, T_STRING = 4, T_NUMBER = 8, T_INTEGER = 16, T_BOOLEAN = 32, T_NULL = 64 };
static const char *const type_names[] = {"object", "array", "string", "number", "integer", "boolean", "null"};
#define N_TYPES 7

static lm_status add_type(compiler *c, const cJSON *name, unsigned *types) {
    if (!cJSON_IsString(name)) return fail_keyword(c, "type", "must be a type name or a list of them");
    for (int i = 0; i < N_TYPES; i++) {
        if (strcmp(name->valuestring, type_names[i])) continue;
        if (*types & 1u << i) return fail_at(c, "\"type\" lists a type twice: ", name->valuestring);
        *types |= 1u << i;
        return LM_OK;
    }
    return fail_at(c, "unknown \"type\": ", name->valuestring);
}

/* 0 when the schema gives no type. */
static lm_status parse_types(compiler *c, const cJSON *schema, unsigned *types) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type");
    *types = 0;
    if (!t) return LM_OK;
    if (!cJSON_IsArray(t)) return add_type(c, t, types);
    if (!t->child) return fail_keyword(c, "type", "must not be an empty list");
    for (const cJSON *name = t->child; name; name = name->next)
        if (add_type(c, name, types) != LM_OK) return LM_E_OPTION;
    /* Both start with a digit or '-': which one a number is would be ambiguous. */
    if ((*types & T_NUMBER) && (*types & T_INTEGER))
        return fail_keyword(c, "type", "lists both number and integer (number alone accepts integers)");
    return LM_OK;
}

/* Keywords that only make sense for some types. */
static lm_status check_applies(compiler *c, const cJSON *schema, unsigned types) {
    static const struct { const char *key, *type; unsigned bits; } owners[] = {
        {"properties", "object", T_OBJECT}, {"required", "object", T_OBJECT},
        {"additionalProperties", "object", T_OBJECT},
        {"items", "array", T_ARRAY}, {"minItems", "array", T_ARRAY}, {"maxItems", "array", T_ARRAY},
        {"minLength", "string", T_STRING}, {"maxLength", "string", T_STRING},
        {"minimum", "number", T_NUMBER | T_INTEGER}, {"maximum", "number", T_NUMBER | T_INTEGER},
    };
    for (size_t i = 0; i < sizeof owners / sizeof *owners; i++) {
        if (!cJSON_GetObjectItemCaseSensitive(schema, owners[i].key) || (types & owners[i].bits)) continue;
        char problem[96];
        snprintf(problem, sizeof problem, "needs \"type\": \"%s\"", owners[i].type);
        return fail_keyword(c, owners[i].key, problem);
    }
    return LM_OK;
}

/* ---- nodes by type -------------------------------------------------------------- */

static int32_t compile(compiler *c, const cJSON *schema, int depth);

/* Appends /name to the path for the duration of a child's compilation. */
static size_t push_path(compiler *c, const char *a, const char *b) {
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof c->path - len, "/%s%s%s", a, b ? "/" : "", b ? b : "");
    return len;
}

static int32_t compile_child(compiler *c, const cJSON *schema, int depth, const char *a, const char *b) {
    size_t len = push_path(c, a, b);
    int32_t id = compile(c, schema, depth);
    if (id >= 0) c->path[len] = 0; /* on failure the message already holds the path */
    return id;
}

static int is_required(const cJSON *required, const char *name) {
    for (const cJSON *r = required ? required->child : NULL; r; r = r->next)
        if (cJSON_IsString(r) && !strcmp(r->valuestring, name)) return 1;
    return 0;
}

static lm_status check_required(compiler *c, const cJSON *required, const cJSON *props) {
    if (!required) return LM_OK;
    if (!cJSON_IsArray(required)) return fail_keyword(c, "required", "must be an array of property names");
    for (const cJSON *r = required->child; r; r = r->next) {
        if (!cJSON_IsString(r)) return fail_keyword(c, "required", "must be an array of property names");
        if (!cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return fail_at(c, "required property is not in \"properties\": ", r->valuestring);
    }
    return LM_OK;
}

/* The compact text of a property name followed by a colon. */
static int32_t key_text(compiler *c, const char *name, int32_t *len) {
    cJSON *str = cJSON_CreateString(name);
    char *quoted = str ? cJSON_PrintUnformatted(str) : NULL;
    cJSON_Delete(str);
    if (!quoted) return fail_at(c, "out of memory", ""), -1;
    char buf[300];
    int n = snprintf(buf, sizeof buf, "%s:", quoted);
    cJSON_free(quoted);
    if (n < 0 || n >= (int)sizeof buf) return fail_at(c, "a property name is longer than 256 bytes", ""), -1;
    *len = n;
    return add_text(c, buf, (size_t)n);
}

static int32_t compile_object(compiler *c, const cJSON *schema, int depth) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    if (extra && !cJSON_IsBool(extra)) return fail_keyword(c, "additionalProperties", "must be true or false (schemas are not supported)"), -1;
    if (props && !cJSON_IsObject(props)) return fail_keyword(c, "properties", "must be an object"), -1;
    if (check_required(c, required, props) != LM_OK) return -1;
    if (!props) {
        if (cJSON_IsFalse(extra)) return literal_node(c, (const char *const[]){"{}"}, 1);
        return c->s->any_object;
    }
    if (cJSON_IsTrue(extra)) return fail_keyword(c, "additionalProperties", "true is not supported with \"properties\""), -1;
    int n = cJSON_GetArraySize(props);
    if (n > JS_MAX_CHOICES) return fail_at(c, "an object has more than 64 properties", ""), -1;
    if (c->s->n_props + n > JS_MAX_PROPS) return fail_at(c, "the schema has more than 512 properties", ""), -1;
    int32_t id = new_node(c, JS_OBJECT);
    if (id < 0) return -1;
    int32_t first = c->s->n_props;
    c->s->n_props += n;
    int i = 0;
    for (const cJSON *p = props->child; p; p = p->next, i++) {
        js_prop *prop = &c->s->props[first + i];
        prop->key = key_text(c, p->string, &prop->key_len);
        if (prop->key < 0 || (prop->node = compile_child(c, p, depth + 1, "properties", p->string)) < 0) return -1;
        prop->required = is_required(required, p->string);
    }
    int64_t tail = 0;
    for (i = n - 1; i >= 0; i--) {
        js_prop *prop = &c->s->props[first + i];
        if (prop->required) tail = js_saturate(tail + 1 + prop->key_len + c->s->nodes[prop->node].min_bytes);
        prop->tail_from = (int32_t)tail;
    }
    c->s->nodes[id] = (js_node){.kind = JS_OBJECT, .first = first, .count = n, .child = -1,
                                .min_bytes = (int32_t)(tail ? tail + 1 : 2)}; /* first needs no comma */
    return id;
}

static int32_t compile_array(compiler *c, const cJSON *schema, int depth) {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
    int32_t min, max;
    if (count_keyword(c, schema, "minItems", 0, &min) != LM_OK) return -1;
    if (count_keyword(c, schema, "maxItems", min > JS_DEFAULT_MAX_ITEMS ? min : JS_DEFAULT_MAX_ITEMS, &max) != LM_OK) return -1;
    if (min > max) return fail_keyword(c, "minItems", "is larger than maxItems"), -1;
    int32_t child = items ? compile_child(c, items, depth + 1, "items", NULL) : c->s->any;
    if (child < 0) return -1;
    int32_t id = new_node(c, JS_ARRAY);
    if (id < 0) return -1;
    int64_t each = c->s->nodes[child].min_bytes;
    c->s->nodes[id] = (js_node){.kind = JS_ARRAY, .min = min, .max = max, .child = child,
                                .min_bytes = js_saturate(2 + min * each + (min ? min - 1 : 0))};
    return id;
}

static int32_t compile_string(compiler *c, const cJSON *schema) {
    int32_t min, max;
    if (count_keyword(c, schema, "minLength", 0, &min) != LM_OK) return -1;
    if (count_keyword(c, schema, "maxLength", min > JS_DEFAULT_MAX_CHARS ? min : JS_DEFAULT_MAX_CHARS, &max) != LM_OK) return -1;
    if (min > max) return fail_keyword(c, "minLength", "is larger than maxLength"), -1;
    int32_t id = new_node(c, JS_STRING);
    if (id < 0) return -1;
    c->s->nodes[id] = (js_node){.kind = JS_STRING, .min = min, .max = max, .child = -1, .min_bytes = 2 + min};
    return id;
}

static int32_t digits_of(double v) {
    int32_t n = 1;
    for (; v >= 10.0; v /= 10.0) n++;
    return n;
}

/* Bounds are kept when they exclude something a 15-digit number can say;
 * the shortest text is exact for integers and an upper bound otherwise. */
static int32_t compile_number(compiler *c, const cJSON *schema, js_kind kind) {
    js_node n = {.kind = kind, .child = -1, .min_bytes = 1};
    if (bound_keyword(c, schema, "minimum", &n.has_minimum, &n.minimum) != LM_OK ||
        bound_keyword(c, schema, "maximum", &n.has_maximum, &n.maximum) != LM_OK)
        return -1;
    if (n.has_minimum && n.minimum < -JS_NUMBER_LIMIT) n.has_minimum = 0;
    if (n.has_maximum && n.maximum > JS_NUMBER_LIMIT) n.has_maximum = 0;
    double lo = n.has_minimum ? n.minimum : -JS_NUMBER_LIMIT, hi = n.has_maximum ? n.maximum : JS_NUMBER_LIMIT;
    double step = kind == JS_INTEGER ? 1.0 : 1e-6;
    if (ceil(lo / step) > floor(hi / step) || lo > JS_NUMBER_LIMIT || hi < -JS_NUMBER_LIMIT)
        return fail_at(c, kind == JS_INTEGER ? "no integer of at most 15 digits lies between minimum and maximum"
                                             : "no number of at most 6 decimals lies between minimum and maximum", ""), -1;
    if (ceil(lo) <= floor(hi)) {
        double nearest = lo > 0 ? ceil(lo) : hi < 0 ? -floor(hi) : 0; /* the integer closest to 0 */
        n.min_bytes = digits_of(nearest) + (hi < 0 ? 1 : 0);
    } else {
        n.min_bytes = (lo < 0 ? 1 : 0) + digits_of(fabs(floor(lo))) + 1 + JS_MAX_FRAC_DIGITS;
    }
    int32_t id = new_node(c, kind);
    if (id >= 0) c->s->nodes[id] = n;
    return id;
}

/* The type bit of a literal value (0: not a literal). */
static unsigned literal_type(const cJSON *v) {
    if (cJSON_IsString(v)) return T_STRING;
    if (cJSON_IsBool(v)) return T_BOOLEAN;
    if (cJSON_IsNull(v)) return T_NULL;
    if (cJSON_IsNumber(v)) return v->valuedouble == floor(v->valuedouble) ? T_INTEGER : T_NUMBER;
    return 0;
}

/* enum / const: each value's compact text; the type, when given, must agree. */
static int32_t compile_literals(compiler *c, const cJSON *schema, unsigned types) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(schema, "const");
    const char *key = list ? "enum" : "const";
    if (list && one) return fail_keyword(c, "const", "cannot be used with \"enum\""), -1;
    if (list && (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0))
        return fail_keyword(c, "enum", "must be a non-empty array"), -1;
    int n = list ? cJSON_GetArraySize(list) : 1;
    if (n > JS_MAX_CHOICES) return fail_keyword(c, "enum", "has more than 64 values"), -1;
    char *texts[JS_MAX_CHOICES] = {0};
    int32_t id = -1, i = 0;
    for (const cJSON *v = list ? list->child : one; i < n; v = v->next, i++) {
        const unsigned vt = literal_type(v);
        const int agrees = vt && (!types || (types & vt) || (vt == T_INTEGER && (types & T_NUMBER)));
        if (!agrees) {
            fail_keyword(c, key, vt ? "has a value of another type than \"type\""
                                    : "values must be strings, numbers, booleans or null");
            goto done;
        }
        if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
            fail_keyword(c, key, "has a number JSON cannot write");
            goto done;
        }
        if (!(texts[i] = cJSON_PrintUnformatted(v))) {
            fail_at(c, "out of memory", "");
            goto done;
        }
    }
    id = literal_node(c, (const char *const *)texts, n);
done:
    for (int k = 0; k < n; k++) cJSON_free(texts[k]);
    return id;
}

static int32_t compile_typed(compiler *c, const cJSON *schema, unsigned type, int depth) {
    switch (type) {
    case T_OBJECT: return compile_object(c, schema, depth);
    case T_ARRAY: return compile_array(c, schema, depth);
    case T_STRING: return compile_string(c, schema);
    case T_NUMBER: return compile_number(c, schema, JS_NUMBER);
    case T_INTEGER: return compile_number(c, schema, JS_INTEGER);
    case T_BOOLEAN: return c->s->any_bool;
    default: return c->s->any_null;
    }
}

/* Several types: one member each; their first bytes tell them apart. */
static int32_t compile_union(compiler *c, const cJSON *schema, unsigned types, int depth) {
    int32_t members[N_TYPES], n = 0, min_bytes = JS_BYTES_LIMIT;
    for (int i = 0; i < N_TYPES; i++) {
        if (!(types & 1u << i)) continue;
        if ((members[n] = compile_typed(c, schema, 1u << i, depth)) < 0) return -1;
        if (c->s->nodes[members[n]].min_bytes < min_bytes) min_bytes = c->s->nodes[members[n]].min_bytes;
        n++;
    }
    int32_t id = new_node(c, JS_UNION);
    if (id < 0) return -1;
    if (c->s->n_members + n > JS_MAX_NODES) return fail_at(c, "the schema is too big (more than 512 nodes)", ""), -1;
    c->s->nodes[id] = (js_node){.kind = JS_UNION, .first = c->s->n_members, .count = n, .child = -1,
                                .min_bytes = min_bytes};
    memcpy(c->s->members + c->s->n_members, members, (size_t)n * sizeof *members);
    c->s->n_members += n;
    return id;
}

static int32_t compile(compiler *c, const cJSON *schema, int depth) {
    if (depth > JS_MAX_DEPTH) return fail_at(c, "the schema nests deeper than 16 levels", ""), -1;
    if (cJSON_IsBool(schema))
        return cJSON_IsTrue(schema) ? c->s->any : (fail_at(c, "the schema false accepts nothing", ""), -1);
    if (!cJSON_IsObject(schema)) return fail_at(c, "a schema must be an object", ""), -1;
    if (check_keywords(c, schema) != LM_OK) return -1;
    unsigned types;
    if (parse_types(c, schema, &types) != LM_OK || check_applies(c, schema, types) != LM_OK) return -1;
    if (cJSON_GetObjectItemCaseSensitive(schema, "enum") || cJSON_GetObjectItemCaseSensitive(schema, "const")) {
        /* The listed values are the whole answer: other constraints could contradict them. */
        for (size_t i = 1; i < sizeof supported / sizeof *supported - 2; i++)
            if (cJSON_GetObjectItemCaseSensitive(schema, supported[i]))
                return fail_keyword(c, supported[i], "cannot be used with \"enum\" or \"const\""), -1;
        return compile_literals(c, schema, types);
    }
    if (!types) return c->s->any;
    return (types & (types - 1)) ? compile_union(c, schema, types, depth) : compile_typed(c, schema, types, depth);
}

/* ---- entry points ------------------------------------------------------------- */

static lm_status start(compiler *c, js_schema *s, lm_error *err) {
    memset(c, 0, sizeof *c);
    c->s = s;
    c->err = err;
    s->n_nodes = s->n_props = s->n_literals = s->n_members = s->text_len = 0;
    return add_any_nodes(c);
}

lm_status js_compile_json_object(js_schema *s, lm_error *err) {
    compiler c;
    lm_status st = start(&c, s, err);
    s->root = s->any_object;
    return st;
}

lm_status js_compile_schema(js_schema *s, const char *schema_json, lm_error *err) {
    compiler c;
    lm_status st = start(&c, s, err);
    if (st != LM_OK) return st;
    cJSON *root = cJSON_Parse(schema_json);
    if (!root) return lm_fail(err, LM_E_OPTION, "response_format schema: malformed JSON");
    s->root = compile(&c, root, 0);
    cJSON_Delete(root);
    return s->root < 0 ? LM_E_OPTION : LM_OK;
}
