/* Structured output: schema compilation (every error path), the byte-level
 * matcher for each node kind, closing lengths, and random walks that must
 * always end in a complete document within their byte budget. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_constrain.h"
#include "json_guide.h"
#include "json_schema.h"
#include "rng.h"

static js_schema schema;

/* CHECK that also says whether it held, to stop a loop. */
static int check_ok(int cond, const char *what, const char *message) {
    CHECK(cond, "%s: %s", what, message);
    return cond;
}

static lm_status compile(const char *json, lm_error *err) {
    memset(err, 0, sizeof *err);
    return json ? js_compile_schema(&schema, json, err) : js_compile_json_object(&schema, err);
}

/* Does the whole text match (complete) / stay a valid prefix? */
static int matches(const char *text) {
    jc_state st;
    jc_init(&st, &schema, 0);
    return jc_advance(&st, text, strlen(text)) && jc_complete(&st);
}

static int prefix_ok(const char *text) {
    jc_state st;
    jc_init(&st, &schema, 0);
    return jc_advance(&st, text, strlen(text));
}

static void expect_schema(const char *json) {
    lm_error err;
    CHECK(compile(json, &err) == LM_OK, "%s: %s", json ? json : "json_object", err.message);
}

static void accept_all(const char *const *texts) {
    for (; *texts; texts++) CHECK(matches(*texts), "should match: %s", *texts);
}

static void reject_all(const char *const *texts) {
    for (; *texts; texts++) CHECK(!matches(*texts), "should not match: %s", *texts);
}

static void test_objects(void) {
    expect_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"ab\":{\"type\":\"boolean\"},"
                  "\"c\":{\"type\":\"string\"}},\"required\":[\"c\"]}");
    accept_all((const char *const[]){"{\"c\":\"\"}", "{\"a\":1,\"c\":\"x\"}", "{\"ab\":true,\"c\":\"x\"}",
                                     "{\"a\":-2,\"ab\":false,\"c\":\"\"}", NULL});
    reject_all((const char *const[]){"{}", "{\"a\":1}", "{\"c\":\"x\",\"a\":1}", "{\"c\":\"x\",}", "{ \"c\":\"x\"}",
                                     "{\"c\":\"x\"} ", "{\"d\":1,\"c\":\"\"}", "{\"c\":\"x\",\"c\":\"x\"}", NULL});
    CHECK(prefix_ok("{\"a"), "a key prefix shared by two properties");
    expect_schema("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"null\"}}}");
    accept_all((const char *const[]){"{}", "{\"x\":null}", NULL});
    expect_schema("{\"type\":\"object\"}"); /* no properties: any keys and values */
    accept_all((const char *const[]){"{}", "{\"k\":[1,{\"z\":null}],\"\":\"v\"}", NULL});
    expect_schema("{\"type\":\"object\",\"additionalProperties\":false}");
    accept_all((const char *const[]){"{}", NULL});
    reject_all((const char *const[]){"{\"k\":1}", NULL});
}

static void test_arrays(void) {
    expect_schema("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":3}");
    accept_all((const char *const[]){"[0]", "[1,-2,30]", NULL});
    reject_all((const char *const[]){"[]", "[1,2,3,4]", "[1,]", "[1.5]", "[ 1]", "[01]", NULL});
    expect_schema("{\"type\":\"array\",\"maxItems\":0}");
    accept_all((const char *const[]){"[]", NULL});
    reject_all((const char *const[]){"[1]", NULL});
    expect_schema("{\"type\":\"array\"}"); /* any items, at most the default count */
    accept_all((const char *const[]){"[]", "[\"a\",1,true,null,[],{}]", NULL});
    reject_all((const char *const[]){"[1,2,3,4,5,6,7,8,9]", NULL});
}

static void test_strings(void) {
    expect_schema("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}");
    accept_all((const char *const[]){"\"ab\"", "\"abc\"", "\"\xc3\xa9t\xc3\xa9\"", "\"\xf0\x9f\x98\x80!\"", NULL});
    reject_all((const char *const[]){"\"a\"", "\"abcd\"", "\"a\\\"b\"", "\"a\nb\"", "\"\xc0\xafx\"",
                                     "\"\xed\xa0\x80x\"", "\"\x80xy\"", "\"\xf4\x90\x80\x80x\"", "ab", NULL});
    jc_state st;
    jc_init(&st, &schema, 1);
    CHECK(!jc_advance(&st, "\"\xc3\xa9", 3), "ascii_only refuses multi-byte characters");
    expect_schema("{\"type\":\"string\"}");
    char longest[JS_DEFAULT_MAX_CHARS + 3];
    memset(longest, 'x', sizeof longest);
    longest[0] = longest[JS_DEFAULT_MAX_CHARS + 1] = '"';
    longest[JS_DEFAULT_MAX_CHARS + 2] = 0;
    CHECK(matches(longest), "a string of the default cap");
    CHECK(!prefix_ok("\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), "past the default cap");
}

static void test_numbers(void) {
    expect_schema("{\"type\":\"number\"}");
    accept_all((const char *const[]){"0", "-0", "12.5", "-3.000001", "999999999999999", NULL});
    reject_all((const char *const[]){"01", "1.", "-", ".5", "1e5", "1.1234567", "+1", "9999999999999999", NULL});
    expect_schema("{\"type\":\"integer\",\"minimum\":10,\"maximum\":250}");
    accept_all((const char *const[]){"10", "99", "250", NULL});
    reject_all((const char *const[]){"9", "251", "-10", "10.5", "1000", NULL});
    CHECK(!prefix_ok("0") && !prefix_ok("-") && prefix_ok("3") && !prefix_ok("300"), "bounds checked on prefixes");
    expect_schema("{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":-0.25}");
    accept_all((const char *const[]){"-1.5", "-0.25", "-1", "-0.3", NULL});
    reject_all((const char *const[]){"0", "-2", "-1.6", "-0.2", NULL});
}

static void test_literals(void) {
    expect_schema("{\"enum\":[\"red\",\"green\",1,10,true,null,\"a\\\"b\"]}");
    accept_all((const char *const[]){"\"red\"", "\"green\"", "1", "10", "true", "null", "\"a\\\"b\"", NULL});
    reject_all((const char *const[]){"\"blue\"", "11", "false", "\"re\"", NULL});
    expect_schema("{\"const\":\"fixed\"}");
    accept_all((const char *const[]){"\"fixed\"", NULL});
    reject_all((const char *const[]){"\"fixe\"", NULL});
    expect_schema("{\"type\":\"boolean\"}");
    accept_all((const char *const[]){"true", "false", NULL});
    reject_all((const char *const[]){"null", "tru", NULL});
}

static void test_unions(void) {
    expect_schema("{\"type\":[\"string\",\"null\"],\"maxLength\":2}");
    accept_all((const char *const[]){"null", "\"ab\"", NULL});
    reject_all((const char *const[]){"\"abc\"", "1", "nul", NULL});
    expect_schema("{\"type\":[\"object\",\"array\",\"integer\",\"boolean\"],\"properties\":{\"a\":{\"type\":\"null\"}},"
                  "\"required\":[\"a\"],\"items\":{\"type\":\"integer\"},\"maximum\":5}");
    accept_all((const char *const[]){"{\"a\":null}", "[1,2]", "5", "-7", "true", "false", NULL});
    reject_all((const char *const[]){"{}", "[true]", "6", "1.5", "null", "\"x\"", NULL});
    expect_schema("{\"type\":[\"null\",\"number\"],\"enum\":[null,1.5]}");
    accept_all((const char *const[]){"null", "1.5", NULL});
    jc_state st;
    jc_init(&st, &schema, 0);
    CHECK(jc_closing_len(&st) == 3, "the shortest member: %d", jc_closing_len(&st));
}

static void test_json_object(void) {
    expect_schema(NULL);
    accept_all((const char *const[]){"{}", "{\"a\":{\"b\":[1,2.5,\"x\",false]}}", NULL});
    reject_all((const char *const[]){"[]", "\"x\"", "1", "{\"a\":}", "{\"a\" :1}", NULL});
    CHECK(!prefix_ok("{\"a\":[[[[1]]]]}"), "any-values nest at most %d containers", JS_ANY_DEPTH);
    CHECK(prefix_ok("{\"a\":[[[1]]]}"), "three nested containers inside the object");
}

/* The bytes that keep the state valid, in a random order. */
static int accepted_bytes(const jc_state *st, unsigned char *out) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        const char byte = (char)b;
        if (jc_accepts(st, &byte, 1)) out[n++] = (unsigned char)b;
    }
    return n;
}

/* Random documents under a byte budget: the walk must never get stuck, must
 * close within the budget and must parse. */
static void random_walks(const char *json, int slack, int walks) {
    expect_schema(json);
    rng_state = 7;
    for (int w = 0; w < walks; w++) {
        jc_state st, next;
        jc_init(&st, &schema, w & 1);
        const int32_t budget = jc_closing_len(&st) + slack;
        char doc[4096];
        int len = 0;
        while (!st.closed && len < budget) {
            unsigned char options[256];
            int n = accepted_bytes(&st, options), taken = 0;
            if (jc_complete(&st) && (n == 0 || rng_next() % 4 == 0)) break;
            for (int tries = 0; tries < 64 && !taken && n; tries++) {
                const char b = (char)options[rng_next() % (uint32_t)n];
                jc_copy(&next, &st);
                if (jc_advance(&next, &b, 1) && jc_closing_len(&next) <= budget - len - 1) {
                    st = next;
                    doc[len++] = b;
                    taken = 1;
                }
            }
            for (int i = 0; i < n && !taken; i++) { /* some byte must fit the budget */
                const char b = (char)options[i];
                jc_copy(&next, &st);
                if (jc_advance(&next, &b, 1) && jc_closing_len(&next) <= budget - len - 1) {
                    st = next;
                    doc[len++] = b;
                    taken = 1;
                }
            }
            if (!taken) break;
        }
        doc[len] = 0;
        CHECK(jc_complete(&st), "walk %d of %s got stuck after: %s", w, json ? json : "json_object", doc);
        CHECK(len <= budget, "walk %d used %d bytes of %d", w, len, budget);
        cJSON *parsed = cJSON_Parse(doc);
        CHECK(parsed != NULL, "walk %d does not parse: %s", w, doc);
        cJSON_Delete(parsed);
    }
}

static void test_walks(void) {
    static const char *const schemas[] = {
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"bb\",3]},\"minItems\":2,\"maxItems\":4},"
        "\"n\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":200},\"f\":{\"type\":\"number\",\"minimum\":10.5,\"maximum\":10.7},"
        "\"opt\":{\"type\":\"boolean\"},\"inner\":{\"type\":\"object\",\"properties\":{\"z\":{\"type\":\"null\"}},\"required\":[\"z\"]}},"
        "\"required\":[\"name\",\"tags\",\"n\",\"f\",\"inner\"]}",
        "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":3},\"minItems\":3}",
        "{\"type\":\"number\",\"minimum\":-0.7,\"maximum\":-0.5}",
        "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":[\"array\",\"null\",\"string\"],\"minItems\":3,\"minLength\":2}},"
        "\"required\":[\"v\"]}",
        "{}",
        NULL,
    };
    for (int i = 0; i < 6; i++) {
        random_walks(schemas[i], 0, 20);  /* exactly the shortest budget */
        random_walks(schemas[i], 40, 40);
    }
}

static void test_closing_len(void) {
    expect_schema("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"minLength\":2},"
                  "\"b\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2}},\"required\":[\"a\",\"b\"]}");
    jc_state st;
    jc_init(&st, &schema, 0);
    const char *shortest = "{\"a\":\"xx\",\"b\":[0,0]}";
    CHECK(jc_closing_len(&st) == (int32_t)strlen(shortest), "initial closing %d", jc_closing_len(&st));
    for (size_t i = 0; i < strlen(shortest); i++) {
        CHECK(jc_closing_len(&st) == (int32_t)(strlen(shortest) - i), "closing at byte %zu: %d", i, jc_closing_len(&st));
        jc_advance(&st, shortest + i, 1);
    }
    CHECK(st.closed && jc_closing_len(&st) == 0, "closed at the end");
    expect_schema(NULL);
    jc_init(&st, &schema, 0);
    jc_advance(&st, "{\"k\":[{\"x\":\"ab", 14);
    CHECK(jc_closing_len(&st) == 4, "closing \"}]} is 4 bytes, got %d", jc_closing_len(&st));
}

static void expect_error(const char *json, lm_status code, const char *needle) {
    lm_error err;
    lm_status s = compile(json, &err);
    CHECK(s == code, "%.80s: status %d, message %s", json, s, err.message);
    CHECK(strstr(err.message, needle) != NULL, "%.80s: message \"%s\" lacks \"%s\"", json, err.message, needle);
}

static void test_errors(void) {
    expect_error("{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"x\"}}}}",
                 LM_E_OPTION, "response_format schema at /properties/tags/items: \"pattern\" is not supported");
    expect_error("{\"$ref\":\"#/x\"}", LM_E_OPTION, "at /: \"$ref\" is not supported");
    expect_error("{\"oneOf\":[]}", LM_E_OPTION, "\"oneOf\" is not supported");
    expect_error("{\"type\":[\"string\",\"string\"]}", LM_E_OPTION, "\"type\" lists a type twice: string");
    expect_error("{\"type\":[\"number\",\"integer\"]}", LM_E_OPTION, "lists both number and integer");
    expect_error("{\"type\":[]}", LM_E_OPTION, "\"type\" must not be an empty list");
    expect_error("{\"type\":[\"string\",1]}", LM_E_OPTION, "\"type\" must be a type name or a list of them");
    expect_error("{\"type\":[\"string\",\"null\"],\"minItems\":1}", LM_E_OPTION, "\"minItems\" needs \"type\": \"array\"");
    expect_error("{\"type\":[\"string\",\"null\"],\"enum\":[1]}", LM_E_OPTION, "another type");
    expect_error("{\"type\":\"date\"}", LM_E_OPTION, "unknown \"type\": date");
    expect_error("{\"type\":3}", LM_E_OPTION, "\"type\" must be a type name");
    expect_error("{\"enum\":[]}", LM_E_OPTION, "\"enum\" must be a non-empty array");
    expect_error("{\"enum\":[{\"a\":1}]}", LM_E_OPTION, "values must be strings, numbers, booleans or null");
    expect_error("{\"type\":\"string\",\"enum\":[1]}", LM_E_OPTION, "another type");
    expect_error("{\"type\":\"string\",\"enum\":[\"a\"],\"minLength\":3}", LM_E_OPTION,
                 "\"minLength\" cannot be used with \"enum\" or \"const\"");
    expect_error("{\"enum\":[1],\"const\":1}", LM_E_OPTION, "\"const\" cannot be used with \"enum\"");
    expect_error("{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", LM_E_OPTION, "\"minItems\" is larger than maxItems");
    expect_error("{\"type\":\"string\",\"maxLength\":-1}", LM_E_OPTION, "\"maxLength\" must be an integer from 0 to 4096");
    expect_error("{\"type\":\"string\",\"maxLength\":1.5}", LM_E_OPTION, "\"maxLength\" must be an integer");
    expect_error("{\"type\":\"string\",\"minItems\":1}", LM_E_OPTION, "\"minItems\" needs \"type\": \"array\"");
    expect_error("{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"b\"]}", LM_E_OPTION,
                 "required property is not in \"properties\": b");
    expect_error("{\"type\":\"object\",\"properties\":{},\"required\":[1]}", LM_E_OPTION, "\"required\" must be an array");
    expect_error("{\"type\":\"object\",\"required\":\"a\"}", LM_E_OPTION, "\"required\" must be an array");
    expect_error("{\"type\":\"object\",\"required\":[\"a\"]}", LM_E_OPTION, "required property is not in \"properties\": a");
    expect_error("{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":true}", LM_E_OPTION,
                 "\"additionalProperties\" true is not supported");
    expect_error("{\"type\":\"object\",\"additionalProperties\":{}}", LM_E_OPTION, "must be true or false");
    expect_error("{\"type\":\"object\",\"properties\":[]}", LM_E_OPTION, "\"properties\" must be an object");
    expect_error("{\"type\":\"integer\",\"minimum\":1.2,\"maximum\":1.8}", LM_E_OPTION, "no integer");
    expect_error("{\"type\":\"number\",\"minimum\":\"1\"}", LM_E_OPTION, "\"minimum\" must be a number");
    expect_error("{\"type\":\"number\",\"minimum\":1e20}", LM_E_OPTION, "no number");
    expect_error("{\"properties\":{\"a\":\"b\"},\"type\":\"object\"}", LM_E_OPTION, "at /properties/a: a schema must be an object");
    expect_error("false", LM_E_OPTION, "accepts nothing");
    expect_error("{\"type\":", LM_E_OPTION, "malformed JSON");
    expect_error("[]", LM_E_OPTION, "a schema must be an object");
}

static void test_limits(void) {
    char deep[2048] = "", *p = deep;
    for (int i = 0; i < 20; i++) p += sprintf(p, "{\"type\":\"array\",\"items\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < 20; i++) *p++ = '}';
    *p = 0;
    expect_error(deep, LM_E_OPTION, "deeper than 16 levels");

    static char wide[200000];
    p = wide + sprintf(wide, "{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < 65; i++) p += sprintf(p, "%s\"p%d\":{}", i ? "," : "", i);
    strcpy(p, "}}");
    expect_error(wide, LM_E_OPTION, "more than 64 properties");

    /* Objects of 60 properties: too many properties, or nodes, overall. */
    for (int arrays = 0; arrays < 2; arrays++) {
        p = wide + sprintf(wide, "{\"type\":\"object\",\"properties\":{");
        for (int o = 0; o < 9; o++) {
            p += sprintf(p, "%s\"o%d\":{\"type\":\"object\",\"properties\":{", o ? "," : "", o);
            for (int i = 0; i < 60; i++)
                p += sprintf(p, arrays ? "%s\"p%d\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"
                                       : "%s\"p%d\":{\"type\":\"string\"}", i ? "," : "", i);
            p += sprintf(p, "}}");
        }
        strcpy(p, "}}");
        expect_error(wide, LM_E_OPTION, arrays ? "the schema is too big (more than 512 nodes)" : "more than 512 properties");
    }

    p = wide + sprintf(wide, "{\"enum\":[");
    for (int i = 0; i < 65; i++) p += sprintf(p, "%s%d", i ? "," : "", i);
    strcpy(p, "]}");
    expect_error(wide, LM_E_OPTION, "more than 64 values");

    p = wide + sprintf(wide, "{\"type\":\"object\",\"properties\":{");
    for (int i = 0; i < 40; i++) {
        p += sprintf(p, "%s\"", i ? "," : "");
        memset(p, 'k', 250);
        p += 250;
        p += sprintf(p, "%d\":{\"enum\":[\"", i);
        memset(p, 'v', 900);
        p += 900;
        p += sprintf(p, "\"]}");
    }
    strcpy(p, "}}");
    expect_error(wide, LM_E_OPTION, "too long");

    /* Arrays of arrays with large minItems: lengths saturate, no overflow. */
    expect_schema("{\"type\":\"array\",\"minItems\":4096,\"items\":{\"type\":\"array\",\"minItems\":4096,"
                  "\"items\":{\"type\":\"array\",\"minItems\":4096,\"items\":{\"type\":\"string\",\"minLength\":4096}}}}");
    jc_state st;
    jc_init(&st, &schema, 0);
    CHECK(jc_closing_len(&st) == JS_BYTES_LIMIT, "saturated closing length %d", jc_closing_len(&st));
}

/* Random bytes against random prefixes: never a crash, state stays sane. */
static void test_hostile_bytes(void) {
    expect_schema(NULL);
    rng_state = 11;
    for (int round = 0; round < 2000; round++) {
        jc_state st;
        jc_init(&st, &schema, 0);
        for (int i = 0; i < 64; i++) {
            char b = rng_next() % 8 == 0 ? (char)rng_next() : "{}[]\",:a1-.tn"[rng_next() % 13];
            jc_state next;
            jc_copy(&next, &st);
            if (jc_advance(&next, &b, 1)) st = next;
        }
        CHECK(st.depth >= 0 && st.depth <= JC_MAX_FRAMES, "depth %d", st.depth);
        CHECK(jc_closing_len(&st) >= 0, "closing length");
    }
}

static void test_options(void) {
    lm_generate_params p = lm_generate_params_default();
    lm_error err = {0};
    CHECK(p.response_format == LM_FORMAT_TEXT, "text by default");
    CHECK(lm_generate_params_from_json("{\"response_format\":{\"type\":\"json_object\"}}", &p, &err) == LM_OK &&
          p.response_format == LM_FORMAT_JSON_OBJECT, "json_object: %s", err.message);
    CHECK(lm_generate_params_from_json("{\"response_format\":{\"type\":\"json_schema\",\"schema\":{\"type\": \"string\"}}}",
                                       &p, &err) == LM_OK && p.response_format == LM_FORMAT_JSON_SCHEMA &&
          !strcmp(p.response_schema, "{\"type\":\"string\"}"), "short shape: %s", p.response_schema);
    CHECK(lm_generate_params_from_json("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\","
                                       "\"strict\":true,\"schema\":{\"enum\":[1]}}}}", &p, &err) == LM_OK &&
          !strcmp(p.response_schema, "{\"enum\":[1]}"), "OpenAI's shape: %s", p.response_schema);
    CHECK(lm_generate_params_from_json("{\"response_format\":{\"type\":\"text\"}}", &p, &err) == LM_OK &&
          p.response_format == LM_FORMAT_TEXT && !p.response_schema[0], "back to text");
    static const char *const bad[][2] = {
        {"{\"response_format\":\"json\"}", "expected {\"type\": \"text\"}"},
        {"{\"response_format\":{}}", "expected {\"type\""},
        {"{\"response_format\":{\"type\":\"xml\"}}", "unknown type \"xml\""},
        {"{\"response_format\":{\"type\":\"json_object\",\"x\":1}}", "unknown key \"x\""},
        {"{\"response_format\":{\"type\":\"json_schema\"}}", "needs a \"schema\" object"},
        {"{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":3}}", "\"json_schema\" must be an object"},
        {"{\"response_format\":{\"type\":\"json_schema\",\"schema\":[]}}", "needs a \"schema\" object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lm_generate_params q = lm_generate_params_default();
        lm_status st = lm_generate_params_from_json(bad[i][0], &q, &err);
        CHECK(st == LM_E_OPTION && strstr(err.message, bad[i][1]) && q.response_format == LM_FORMAT_TEXT,
              "%s: %s", bad[i][0], err.message);
    }
    static char huge[LM_MAX_SCHEMA + 200];
    int n = sprintf(huge, "{\"response_format\":{\"type\":\"json_schema\",\"schema\":{\"description\":\"");
    memset(huge + n, 'x', LM_MAX_SCHEMA);
    strcpy(huge + n + LM_MAX_SCHEMA, "\"}}}");
    CHECK(lm_generate_params_from_json(huge, &p, &err) == LM_E_OPTION && strstr(err.message, "at most 16383"),
          "a schema too long: %s", err.message);
}

/* The guide on a real vocabulary with random logits: whatever the model
 * prefers, the text parses and closes within max_tokens. */
static void guide_runs(const lm_model *m, int format, const char *schema_json, int32_t max_tokens, int runs) {
    lm_generate_params gp = lm_generate_params_default();
    gp.max_tokens = max_tokens;
    gp.response_format = format;
    if (schema_json) snprintf(gp.response_schema, sizeof gp.response_schema, "%s", schema_json);
    const int32_t n_vocab = lm_n_vocab(m);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    static char text[1 << 16];
    for (int run = 0; run < runs && logits; run++) {
        lm_json_guide *g;
        lm_error err = {0};
        lm_sampling_params sp = lm_sampling_params_default();
        sp.seed = (uint64_t)run;
        sp.temperature = 1.5f;
        if (!check_ok(lm_json_guide_new(m, &gp, &g, &err) == LM_OK, "guide", err.message)) break;
        lm_sampler *sampler = lm_sampler_new(&sp, n_vocab);
        size_t len = 0;
        for (int32_t step = 0; step < max_tokens && !lm_json_guide_closed(g); step++) {
            for (int32_t t = 0; t < n_vocab; t++) logits[t] = 3.0f * rng_normal();
            int32_t token;
            if (!check_ok(lm_json_guide_sample(g, sampler, logits, max_tokens - step, &token, &err) == LM_OK, "sample",
                          err.message))
                break;
            if (lm_token_is_eog(m, token)) break;
            lm_json_guide_accept(g, token);
            int32_t n = lm_token_to_piece(m, token, text + len, (int32_t)(sizeof text - len - 1));
            len += n > 0 ? (size_t)n : 0;
        }
        text[len] = 0;
        cJSON *parsed = cJSON_Parse(text);
        CHECK(cJSON_IsObject(parsed) && (!schema_json || cJSON_GetObjectItemCaseSensitive(parsed, "tags")),
              "run %d, max_tokens %d: %s", run, max_tokens, text);
        cJSON_Delete(parsed);
        lm_sampler_free(sampler);
        lm_json_guide_free(g);
    }
    free(logits);
}

static void test_guide(void) {
    const char *dir = getenv("LM_SHARED_DIR");
    static const char *const vocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf"};
    const char *schema_json = "{\"type\":\"object\",\"properties\":{\"who\":{\"type\":\"string\",\"maxLength\":6},"
                              "\"n\":{\"type\":\"number\",\"minimum\":-1,\"maximum\":1},\"tags\":{\"type\":\"array\","
                              "\"items\":{\"enum\":[\"x\",\"yy\",null]},\"minItems\":2}},\"required\":[\"who\",\"n\",\"tags\"]}";
    for (int v = 0; v < 2; v++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/vocab/%s", dir ? dir : "../shared", vocabs[v]);
        lm_load_params lp = lm_load_params_default();
        lp.vocab_only = 1;
        lm_model *m;
        lm_error err = {0};
        if (lm_model_load_file(path, &lp, &m, &err) != LM_OK) {
            fprintf(stderr, "SKIP guide tests: ../shared is absent (%s)\n", err.message);
            return;
        }
        /* {"who":"","n":0,"tags":["x","x"]}: 33 bytes, so 33 tokens at least. */
        lm_generate_params gp = lm_generate_params_default();
        gp.max_tokens = 32;
        gp.response_format = LM_FORMAT_JSON_SCHEMA;
        strcpy(gp.response_schema, schema_json);
        lm_json_guide *g = NULL;
        CHECK(lm_json_guide_new(m, &gp, &g, &err) == LM_E_OPTION && strstr(err.message, "needs at least 33"),
              "too small a budget: %s", err.message);
        lm_json_guide_free(g);
        guide_runs(m, LM_FORMAT_JSON_SCHEMA, schema_json, 33, 4);
        guide_runs(m, LM_FORMAT_JSON_SCHEMA, schema_json, 60, 4);
        guide_runs(m, LM_FORMAT_JSON_OBJECT, NULL, 40, 4);
        lm_model_free(m);
    }
}

int main(void) {
    test_options();
    test_objects();
    test_arrays();
    test_strings();
    test_numbers();
    test_literals();
    test_unions();
    test_json_object();
    test_closing_len();
    test_walks();
    test_errors();
    test_limits();
    test_hostile_bytes();
    test_guide();
    return check_done();
}
