/* The byte-level JSON matcher (see json_constrain.h). Each frame is one open
 * value; a step on the top frame takes the byte, refuses it, opens a child,
 * or ends the frame without taking it (a number or literal that the byte
 * cannot extend), after which the parent sees the byte. */
#include "json_constrain.h"

#include <math.h>
#include <string.h>

enum {
    P_START, /* before the value's first byte */
    P_OPEN,  /* after { or [ */
    P_KEY,   /* inside a property's `"name":` */
    P_VALUE, /* a child value is open */
    P_AFTER, /* after a member: , or the closing bracket */
    P_NEXT,  /* after a comma */
    P_IN_KEY, P_COLON, /* free objects: the key string is open, then : */
    P_CHARS,
    N_SIGN, N_ZERO, N_INT, N_DOT, N_FRAC,
    P_LIT,
};

typedef enum { R_REJECT, R_TAKEN, R_TAKEN_DONE, R_ENDED, R_DESCEND } step_result;

static const js_node *node_of(const jc_state *st, const jc_frame *f) {
    return &st->schema->nodes[f->node];
}

static jc_frame *top(jc_state *st) {
    return &st->frames[st->depth - 1];
}

static int32_t clamp_bytes(int64_t n) {
    return js_saturate(n < 0 ? 0 : n);
}

/* ---- numbers ----------------------------------------------------------------- */

static int is_digit(unsigned char b) {
    return b >= '0' && b <= '9';
}

/* The magnitude range [*a, *b] the bounds allow for the frame's sign. */
static void magnitude_range(const js_node *n, const jc_frame *f, double *a, double *b) {
    double lo = n->has_minimum ? n->minimum : -INFINITY, hi = n->has_maximum ? n->maximum : INFINITY;
    *a = f->neg ? -hi : lo;
    *b = f->neg ? -lo : hi;
    if (*a < 0) *a = 0;
}

static double value_of(const jc_frame *f) {
    double scale = pow(10.0, f->frac_digits);
    return (f->int_value * scale + f->frac_value) / scale;
}

/* Digits to append to an integer part of d digits (value v) before it can
 * land in [a, b] (d = 0: the digit count of the whole integer part): the
 * smallest k whose range of integer parts holds an integer in [a, b]
 * (integers_only) or a number below its next integer that is; -1 if none. */
static int int_digits_needed(double v, int d, int leading_zero, double a, double b, int integers_only) {
    const int kmax = leading_zero ? 0 : JS_MAX_INT_DIGITS - d;
    double p = 1.0; /* 10^k */
    for (int k = 0; k <= kmax; k++, p *= 10.0) {
        if (!d && !k) continue;
        const double lo = d ? v * p : k == 1 ? 0 : p / 10, hi = d ? lo + p - 1 : p - 1;
        if (lo > b) return -1;
        if ((integers_only ? hi : hi + 1 - 1e-6) < a) continue;
        if (!integers_only || ceil(fmax(a, lo)) <= floor(fmin(b, hi))) return k;
    }
    return -1;
}

static int number_completable(const jc_state *st, const jc_frame *f) {
    if (f->phase != N_ZERO && f->phase != N_INT && f->phase != N_FRAC) return 0;
    double a, b, v = value_of(f);
    magnitude_range(node_of(st, f), f, &a, &b);
    return v >= a && v <= b;
}

/* Could the number still end inside its bounds? */
static int number_possible(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    if (!n->has_minimum && !n->has_maximum) return 1;
    double a, b;
    magnitude_range(n, f, &a, &b);
    if (b < a) return 0;
    int ints = n->kind == JS_INTEGER;
    switch (f->phase) {
    case N_SIGN: return int_digits_needed(0, 0, 0, a, b, ints) >= 0;
    case N_ZERO: case N_INT:
        return int_digits_needed(f->int_value, f->count, f->phase == N_ZERO, a, b, ints) >= 0;
    default: { /* N_DOT, N_FRAC */
        double x = value_of(f), room = f->frac_digits < JS_MAX_FRAC_DIGITS ? pow(10.0, -f->frac_digits) - 1e-6 : 0;
        return x <= b && x + room >= a;
    }
    }
}

/* Bytes still needed (exact for integers, an upper bound that shrinks with
 * every byte otherwise). */
static int32_t number_rest(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    if (f->phase == P_START) return n->min_bytes;
    if (number_completable(st, f)) return 0;
    if (!n->has_minimum && !n->has_maximum) return 1; /* after '-' or '.' */
    if (f->phase == N_DOT || f->phase == N_FRAC) return JS_MAX_FRAC_DIGITS - f->frac_digits;
    double a, b;
    magnitude_range(n, f, &a, &b);
    int d = f->phase == N_SIGN ? 0 : f->count, zero = f->phase == N_ZERO;
    int k = int_digits_needed(f->int_value, d, zero, a, b, 1);
    if (k >= 0) return k;
    k = int_digits_needed(f->int_value, d, zero, a, b, 0);
    return (k > 0 ? k : 0) + 1 + JS_MAX_FRAC_DIGITS;
}

/* Applies byte b to a copy and keeps it if the bounds can still be met. */
static step_result number_try(const jc_state *st, jc_frame *f, jc_frame next) {
    if (!number_possible(st, &next)) return R_REJECT;
    *f = next;
    return R_TAKEN;
}

static step_result number_step(const jc_state *st, jc_frame *f, unsigned char b) {
    jc_frame next = *f;
    const int fraction_ok = node_of(st, f)->kind == JS_NUMBER;
    const int d = b - '0';
    switch (f->phase) {
    case P_START:
        if (b == '-') {
            next.neg = 1;
            next.phase = N_SIGN;
            return number_try(st, f, next);
        }
        /* fall through */
    case N_SIGN:
        if (!is_digit(b)) return R_REJECT;
        next.phase = d ? N_INT : N_ZERO;
        next.int_value = d;
        next.count = 1;
        return number_try(st, f, next);
    case N_INT:
        if (is_digit(b) && f->count < JS_MAX_INT_DIGITS) {
            next.int_value = f->int_value * 10 + d;
            next.count++;
            return number_try(st, f, next);
        }
        /* fall through */
    case N_ZERO:
        if (b == '.' && fraction_ok) {
            next.phase = N_DOT;
            return number_try(st, f, next);
        }
        return number_completable(st, f) ? R_ENDED : R_REJECT;
    case N_DOT: case N_FRAC:
        if (is_digit(b) && f->frac_digits < JS_MAX_FRAC_DIGITS) {
            next.phase = N_FRAC;
            next.frac_value = f->frac_value * 10 + d;
            next.frac_digits++;
            return number_try(st, f, next);
        }
        return number_completable(st, f) ? R_ENDED : R_REJECT;
    default:
        return R_REJECT;
    }
}

/* ---- literals ------------------------------------------------------------------ */

static const char *literal_text(const jc_state *st, const js_node *n, int i) {
    return st->schema->text + st->schema->literals[n->first + i];
}

static int literal_completable(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    if (f->phase != P_LIT) return 0;
    for (int i = 0; i < n->count; i++)
        if ((f->live >> i & 1) && (int32_t)strlen(literal_text(st, n, i)) == f->pos) return 1;
    return 0;
}

static int32_t literal_rest(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    if (f->phase == P_START) return n->min_bytes;
    int32_t best = JS_BYTES_LIMIT;
    for (int i = 0; i < n->count; i++) {
        int32_t left = (int32_t)strlen(literal_text(st, n, i)) - f->pos;
        if ((f->live >> i & 1) && left < best) best = left;
    }
    return best;
}

static step_result literal_step(const jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    if (f->phase == P_START) {
        f->phase = P_LIT;
        f->live = n->count >= 64 ? ~0ull : (1ull << n->count) - 1;
    }
    uint64_t live = 0;
    int longer = 0;
    for (int i = 0; i < n->count; i++) {
        const char *text = literal_text(st, n, i);
        if ((f->live >> i & 1) && (int32_t)strlen(text) > f->pos && (unsigned char)text[f->pos] == b) {
            live |= 1ull << i;
            longer |= (int32_t)strlen(text) > f->pos + 1;
        }
    }
    if (!live) return literal_completable(st, f) ? R_ENDED : R_REJECT;
    f->live = live;
    f->pos++;
    return longer ? R_TAKEN : R_TAKEN_DONE;
}

/* ---- strings --------------------------------------------------------------------- */

/* UTF-8 lead byte: how many continuation bytes follow and the range of the
 * first one (no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_lead(unsigned char b, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) return 1;
    if (b == 0xE0) return *lo = 0xA0, 2;
    if (b == 0xED) return *hi = 0x9F, 2;
    if (b >= 0xE1 && b <= 0xEF) return 2;
    if (b == 0xF0) return *lo = 0x90, 3;
    if (b == 0xF4) return *hi = 0x8F, 3;
    if (b >= 0xF1 && b <= 0xF3) return 3;
    return 0;
}

static step_result string_step(const jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    if (f->phase == P_START) {
        if (b != '"') return R_REJECT;
        f->phase = P_CHARS;
        return R_TAKEN;
    }
    if (f->utf8_need) {
        if (b < f->utf8_lo || b > f->utf8_hi) return R_REJECT;
        f->utf8_need--;
        f->utf8_lo = 0x80;
        f->utf8_hi = 0xBF;
        return R_TAKEN;
    }
    if (b == '"') return f->count >= n->min ? R_TAKEN_DONE : R_REJECT;
    if (b < 0x20 || b == '\\' || f->count >= n->max) return R_REJECT;
    if (b >= 0x80 && (st->ascii_only || !(f->utf8_need = utf8_lead(b, &f->utf8_lo, &f->utf8_hi))))
        return R_REJECT;
    f->count++;
    return R_TAKEN;
}

/* ---- containers -------------------------------------------------------------------- */

static const js_prop *prop_of(const jc_state *st, const js_node *n, int i) {
    return &st->schema->props[n->first + i];
}

static int32_t tail_from(const jc_state *st, const js_node *n, int i) {
    return i < n->count ? prop_of(st, n, i)->tail_from : 0;
}

static int32_t own_rest(const jc_state *st, const jc_frame *f);

/* Opens a child value on top of f (whose phase says what follows it). */
static int push(jc_state *st, int32_t node) {
    if (st->depth >= JC_MAX_FRAMES) return 0;
    jc_frame *parent = st->depth ? top(st) : NULL;
    if (parent) parent->tail = own_rest(st, parent);
    jc_frame *f = &st->frames[st->depth++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->phase = P_START;
    f->base = parent ? clamp_bytes((int64_t)parent->base + parent->tail) : 0;
    return 1;
}

/* Keys that may come next: the properties from next up to the first
 * required one (the ones skipped are optional). */
static uint64_t key_candidates(const jc_state *st, const js_node *n, int next) {
    uint64_t live = 0;
    for (int i = next; i < n->count; i++) {
        live |= 1ull << i;
        if (prop_of(st, n, i)->required) break;
    }
    return live;
}

static step_result key_step(jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    uint64_t live = 0;
    for (int i = 0; i < n->count; i++) {
        const js_prop *p = prop_of(st, n, i);
        if ((f->live >> i & 1) && p->key_len > f->pos && (unsigned char)st->schema->text[p->key + f->pos] == b)
            live |= 1ull << i;
    }
    if (!live) return R_REJECT;
    f->live = live;
    f->pos++;
    for (int i = 0; i < n->count; i++) {
        if ((live >> i & 1) && prop_of(st, n, i)->key_len == f->pos) { /* keys end in ':', so one at most */
            f->chosen = i;
            f->phase = P_VALUE;
            return push(st, prop_of(st, n, i)->node) ? R_TAKEN : R_REJECT;
        }
    }
    return R_TAKEN;
}

static void start_key(jc_state *st, jc_frame *f) {
    f->phase = P_KEY;
    f->pos = 0;
    f->live = key_candidates(st, node_of(st, f), f->count);
}

/* count is the index of the first property not yet considered. */
/* A container's first byte: its opening bracket. */
static step_result open_step(jc_frame *f, unsigned char b, unsigned char bracket) {
    if (b != bracket) return R_REJECT;
    f->phase = P_OPEN;
    return R_TAKEN;
}

static step_result object_step(jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    switch (f->phase) {
    case P_START:
        return open_step(f, b, '{');
    case P_OPEN:
    case P_AFTER:
        if (b == '}') return tail_from(st, n, f->count) ? R_REJECT : R_TAKEN_DONE;
        if (f->phase == P_AFTER) {
            if (b != ',' || f->count >= n->count) return R_REJECT;
            start_key(st, f);
            return R_TAKEN;
        }
        start_key(st, f);
        return key_step(st, f, b);
    case P_KEY:
        return key_step(st, f, b);
    default:
        return R_REJECT;
    }
}

static step_result free_object_step(jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    switch (f->phase) {
    case P_START:
        return open_step(f, b, '{');
    case P_OPEN:
    case P_NEXT:
        if (b == '}' && f->phase == P_OPEN) return R_TAKEN_DONE;
        if (b != '"') return R_REJECT;
        f->phase = P_IN_KEY;
        return push(st, st->schema->any_string) ? R_DESCEND : R_REJECT;
    case P_COLON:
        if (b != ':') return R_REJECT;
        f->phase = P_VALUE;
        return push(st, n->child) ? R_TAKEN : R_REJECT;
    case P_AFTER:
        if (b == '}') return R_TAKEN_DONE;
        if (b != ',' || f->count >= n->max) return R_REJECT;
        f->phase = P_NEXT;
        return R_TAKEN;
    default:
        return R_REJECT;
    }
}

static step_result array_step(jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    switch (f->phase) {
    case P_START:
        return open_step(f, b, '[');
    case P_OPEN:
        if (b == ']' && n->min == 0) return R_TAKEN_DONE;
        if (n->max == 0) return R_REJECT;
        f->phase = P_VALUE;
        return push(st, n->child) ? R_DESCEND : R_REJECT;
    case P_AFTER:
        if (b == ']' && f->count >= n->min) return R_TAKEN_DONE;
        if (b != ',' || f->count >= n->max) return R_REJECT;
        f->phase = P_NEXT;
        return R_TAKEN;
    case P_NEXT:
        f->phase = P_VALUE;
        return push(st, n->child) ? R_DESCEND : R_REJECT;
    default:
        return R_REJECT;
    }
}

/* Containers an any-value may still open (JS_ANY_DEPTH in all). */
static int any_container_allowed(const jc_state *st) {
    int open = 0;
    for (int i = 0; i < st->depth; i++)
        open += st->frames[i].node == st->schema->any_object || st->frames[i].node == st->schema->any_array;
    return open < JS_ANY_DEPTH;
}

/* An any-value becomes the kind its first byte starts. */
static int32_t any_kind(const jc_state *st, unsigned char b) {
    const js_schema *s = st->schema;
    if (b == '{' || b == '[') return any_container_allowed(st) ? (b == '{' ? s->any_object : s->any_array) : -1;
    if (b == '"') return s->any_string;
    if (b == '-' || is_digit(b)) return s->any_number;
    if (b == 't' || b == 'f') return s->any_bool;
    if (b == 'n') return s->any_null;
    return -1;
}

/* Can a value of this node start with b? */
static int starts_with(const jc_state *st, const js_node *n, unsigned char b) {
    switch (n->kind) {
    case JS_OBJECT: case JS_FREE_OBJECT: return b == '{';
    case JS_ARRAY: return b == '[';
    case JS_STRING: return b == '"';
    case JS_NUMBER: case JS_INTEGER: return b == '-' || is_digit(b);
    case JS_LITERALS:
        for (int i = 0; i < n->count; i++)
            if ((unsigned char)literal_text(st, n, i)[0] == b) return 1;
        return 0;
    default: return 0;
    }
}

/* The member of a union its first byte starts (the types' first bytes differ). */
static int32_t union_member(const jc_state *st, const js_node *n, unsigned char b) {
    for (int i = 0; i < n->count; i++) {
        const int32_t member = st->schema->members[n->first + i];
        if (starts_with(st, &st->schema->nodes[member], b)) return member;
    }
    return -1;
}

static step_result step(jc_state *st, jc_frame *f, unsigned char b) {
    const js_node *n = node_of(st, f);
    if (n->kind == JS_ANY || n->kind == JS_UNION) {
        const int32_t member = n->kind == JS_ANY ? any_kind(st, b) : union_member(st, n, b);
        if (member < 0) return R_REJECT;
        f->node = member;
    }
    switch (node_of(st, f)->kind) {
    case JS_OBJECT: return object_step(st, f, b);
    case JS_FREE_OBJECT: return free_object_step(st, f, b);
    case JS_ARRAY: return array_step(st, f, b);
    case JS_STRING: return string_step(st, f, b);
    case JS_NUMBER: case JS_INTEGER: return number_step(st, f, b);
    case JS_LITERALS: return literal_step(st, f, b);
    default: return R_REJECT;
    }
}

/* The top frame is complete: the parent moves past it. */
static void pop(jc_state *st) {
    if (--st->depth == 0) {
        st->closed = 1;
        return;
    }
    jc_frame *p = top(st);
    const js_kind kind = node_of(st, p)->kind;
    if (kind == JS_FREE_OBJECT && p->phase == P_IN_KEY) {
        p->phase = P_COLON;
        return;
    }
    p->count = kind == JS_OBJECT ? p->chosen + 1 : p->count + 1;
    p->phase = P_AFTER;
}

static int feed(jc_state *st, unsigned char b) {
    for (;;) {
        if (st->closed || st->depth == 0) return 0;
        switch (step(st, top(st), b)) {
        case R_REJECT: return 0;
        case R_TAKEN: return 1;
        case R_TAKEN_DONE: pop(st); return 1;
        case R_ENDED: pop(st); break;
        case R_DESCEND: break;
        }
    }
}

/* ---- closing lengths ----------------------------------------------------------------- */

static int64_t items_left(const js_node *n, int32_t done, int64_t each) {
    return done < n->min ? (int64_t)(n->min - done) * (1 + each) : 0;
}

static int32_t object_rest(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    switch (f->phase) {
    case P_START: return n->min_bytes;
    case P_OPEN: return tail_from(st, n, 0) ? tail_from(st, n, 0) : 1; /* no comma before the first */
    case P_AFTER: return clamp_bytes((int64_t)tail_from(st, n, f->count) + 1);
    case P_VALUE: return clamp_bytes((int64_t)tail_from(st, n, f->chosen + 1) + 1);
    default: { /* P_KEY */
        int64_t best = JS_BYTES_LIMIT;
        for (int i = 0; i < n->count; i++) {
            const js_prop *p = prop_of(st, n, i);
            int64_t need = (int64_t)p->key_len - f->pos + st->schema->nodes[p->node].min_bytes +
                           tail_from(st, n, i + 1) + 1;
            if ((f->live >> i & 1) && need < best) best = need;
        }
        return clamp_bytes(best);
    }
    }
}

static int32_t own_rest(const jc_state *st, const jc_frame *f) {
    const js_node *n = node_of(st, f);
    int64_t each = n->child >= 0 ? st->schema->nodes[n->child].min_bytes : 0;
    switch (n->kind) {
    case JS_OBJECT: return object_rest(st, f);
    case JS_FREE_OBJECT:
        switch (f->phase) {
        case P_START: return 2;
        case P_OPEN: case P_VALUE: case P_AFTER: return 1;
        case P_NEXT: return 5; /* "": then a digit and } */
        default: return 3;     /* P_IN_KEY, P_COLON: ':', a digit, '}' */
        }
    case JS_ARRAY:
        switch (f->phase) {
        case P_START: return n->min_bytes;
        case P_OPEN: return n->min ? clamp_bytes(items_left(n, 0, each)) : 1;
        case P_VALUE: return clamp_bytes(items_left(n, f->count + 1, each) + 1);
        case P_NEXT: return clamp_bytes(each + items_left(n, f->count + 1, each) + 1);
        default: return clamp_bytes(items_left(n, f->count, each) + 1);
        }
    case JS_STRING:
        if (f->phase == P_START) return n->min_bytes;
        return clamp_bytes((int64_t)f->utf8_need + (f->count < n->min ? n->min - f->count : 0) + 1);
    case JS_NUMBER: case JS_INTEGER: return number_rest(st, f);
    case JS_LITERALS: return literal_rest(st, f);
    default: return n->min_bytes;
    }
}

/* ---- the API --------------------------------------------------------------------------- */

void jc_init(jc_state *st, const js_schema *schema, int ascii_only) {
    st->schema = schema;
    st->depth = 0;
    st->closed = 0;
    st->ascii_only = ascii_only;
    push(st, schema->root);
}

void jc_copy(jc_state *dst, const jc_state *src) {
    memcpy(dst, src, offsetof(jc_state, frames) + (size_t)src->depth * sizeof src->frames[0]);
}

int jc_advance(jc_state *st, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!feed(st, (unsigned char)bytes[i])) return 0;
    return 1;
}

int jc_accepts(const jc_state *st, const char *bytes, size_t n) {
    jc_state scratch;
    jc_copy(&scratch, st);
    return jc_advance(&scratch, bytes, n);
}

static int frame_completable(const jc_state *st, const jc_frame *f) {
    js_kind kind = node_of(st, f)->kind;
    if (kind == JS_NUMBER || kind == JS_INTEGER) return number_completable(st, f);
    if (kind == JS_LITERALS) return literal_completable(st, f);
    return 0;
}

int jc_complete(const jc_state *st) {
    return st->closed || (st->depth == 1 && frame_completable(st, &st->frames[0]));
}

int32_t jc_closing_len(const jc_state *st) {
    if (st->closed) return 0;
    const jc_frame *f = &st->frames[st->depth - 1];
    return clamp_bytes((int64_t)own_rest(st, f) + f->base);
}
