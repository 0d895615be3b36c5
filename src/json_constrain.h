/* An incremental byte-level matcher of compact JSON against a compiled
 * schema: a stack of frames (no recursion on the input, no allocation).
 * Output is compact (no optional whitespace), object properties come in the
 * schema's order, strings hold no escapes, numbers at most 15 integer and 6
 * fraction digits and no exponent; with the bounds of js_schema this makes
 * every output finite. */
#ifndef LM_JSON_CONSTRAIN_H
#define LM_JSON_CONSTRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "json_schema.h"

#define JC_MAX_FRAMES 48

typedef struct jc_frame {
    int32_t node;
    int32_t phase;
    int32_t count;   /* items, properties, characters or digits so far */
    int32_t pos;     /* bytes of a key or literal matched */
    int32_t chosen;  /* object: the property whose value is open */
    uint64_t live;   /* keys or literals still matching */
    int32_t base;    /* closing bytes of the frames below once this one completes */
    int32_t tail;    /* closing bytes of this frame once its open child completes */
    /* numbers */
    int neg, frac_digits;
    double int_value, frac_value;
    /* strings: the rest of a multi-byte character */
    int utf8_need;
    unsigned char utf8_lo, utf8_hi;
} jc_frame;

typedef struct jc_state {
    const js_schema *schema;
    int depth;      /* frames in use */
    int closed;     /* the root value is complete and nothing may follow */
    int ascii_only; /* strings hold ASCII only (multi-byte characters cannot be spelled) */
    jc_frame frames[JC_MAX_FRAMES];
} jc_state;

void jc_init(jc_state *st, const js_schema *schema, int ascii_only);
void jc_copy(jc_state *dst, const jc_state *src);
/* Feeds bytes; 0 (state unspecified) when they leave the valid prefixes. */
int jc_advance(jc_state *st, const char *bytes, size_t n);
/* Would these bytes keep the output a valid prefix? (st is unchanged.) */
int jc_accepts(const jc_state *st, const char *bytes, size_t n);
/* The output so far is a complete document (more bytes may still extend a
 * top-level number or literal unless closed is set). */
int jc_complete(const jc_state *st);
/* The fewest bytes that complete the document. */
int32_t jc_closing_len(const jc_state *st);

#endif
