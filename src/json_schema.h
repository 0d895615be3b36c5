/* JSON schemas compiled into a plain tree of nodes for constrained output
 * (json_constrain.h walks it byte by byte).
 *
 * Supported: type (one, or a list such as ["string", "null"]), object (properties in order, required; additional
 * properties are refused, and an object without "properties" takes any keys
 * and values), array (items, minItems, maxItems), string (minLength,
 * maxLength in characters), number and integer (minimum, maximum, enforced),
 * boolean, null, enum and const of strings, numbers, booleans and null, and
 * {} (any value). Annotations (title, description, default, examples,
 * $schema, $comment) are ignored; any other keyword is an LM_E_OPTION error
 * naming it and its path. */
#ifndef LM_JSON_SCHEMA_H
#define LM_JSON_SCHEMA_H

#include <stdint.h>

#include "localm.h"

#define JS_MAX_NODES 512
#define JS_MAX_PROPS 512      /* properties over all objects */
#define JS_MAX_LITERALS 512   /* enum values over all enums */
#define JS_MAX_TEXT 32768     /* bytes of keys and literals */
#define JS_MAX_DEPTH 16       /* nesting of the schema */
#define JS_MAX_CHOICES 64     /* properties of one object, values of one enum */
#define JS_ANY_DEPTH 4        /* containers nested in an any-value */

/* Bounds that keep every output finite when the schema sets none. */
#define JS_DEFAULT_MAX_CHARS 48
#define JS_DEFAULT_MAX_ITEMS 8
#define JS_DEFAULT_MAX_KEYS 8
#define JS_MAX_INT_DIGITS 15  /* exact in a double */
#define JS_MAX_FRAC_DIGITS 6
#define JS_BYTES_LIMIT (1 << 30) /* shortest lengths saturate here */

typedef enum {
    JS_ANY,         /* any JSON value (decided by its first byte) */
    JS_OBJECT,      /* the listed properties, in order */
    JS_FREE_OBJECT, /* any keys (strings), any values */
    JS_ARRAY,
    JS_STRING,
    JS_NUMBER,
    JS_INTEGER,
    JS_LITERALS,    /* one of a few fixed texts: enum, const, true/false, null */
    JS_UNION,       /* "type": [...]: members start with different bytes */
} js_kind;

typedef struct js_node {
    js_kind kind;
    int32_t min, max;       /* string: characters; array, free object: items */
    int32_t first, count;   /* object: props[first..]; literals: literals[first..]; union: members[first..] */
    int32_t child;          /* array items / free object values: a node index */
    int has_minimum, has_maximum;
    double minimum, maximum; /* numbers */
    int32_t min_bytes;      /* the shortest text this node accepts */
} js_node;

typedef struct js_prop {
    int32_t key;      /* offset in text of `"name":` */
    int32_t key_len;
    int32_t node;
    int required;
    int32_t tail_from; /* bytes the required properties from this one on add, commas included */
} js_prop;

typedef struct js_schema {
    js_node nodes[JS_MAX_NODES];
    js_prop props[JS_MAX_PROPS];
    int32_t literals[JS_MAX_LITERALS]; /* offsets in text, NUL-terminated */
    int32_t members[JS_MAX_NODES];     /* node indices */
    char text[JS_MAX_TEXT];
    int32_t n_nodes, n_props, n_literals, n_members, text_len;
    int32_t root;
    /* Built-in nodes for any-values. */
    int32_t any, any_object, any_array, any_string, any_number, any_bool, any_null;
} js_schema;

/* bytes clamped to JS_BYTES_LIMIT */
int32_t js_saturate(int64_t bytes);

/* json_object: any value whose top level is an object. */
lm_status js_compile_json_object(js_schema *s, lm_error *err);
/* schema_json: the schema itself (an object), as text. */
lm_status js_compile_schema(js_schema *s, const char *schema_json, lm_error *err);

#endif
