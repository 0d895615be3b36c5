/* Generation options from JSON: every key, null as "keep", and every error
 * path (each names the key and leaves the params untouched). */
#include "check.h"
#include "localm.h"

#include <string.h>

static lm_generate_params parsed; /* the last successful parse */

static int parse_ok(const char *json) {
    lm_error err = {0};
    parsed = lm_generate_params_default();
    lm_status st = lm_generate_params_from_json(json, &parsed, &err);
    if (st != LM_OK) fprintf(stderr, "  %s -> %s: %s\n", json, lm_status_name(st), err.message);
    return st == LM_OK;
}

/* The parse fails with LM_E_OPTION, the message contains `needle`, and the
 * params are exactly as before. */
static int parse_fails(const char *json, const char *needle) {
    lm_error err = {0};
    lm_generate_params before = lm_generate_params_default();
    before.max_tokens = 7;
    strcpy(before.stop[0], "keep");
    before.n_stop = 1;
    lm_generate_params p = before;
    lm_status st = lm_generate_params_from_json(json, &p, &err);
    int ok = st == LM_E_OPTION && err.code == LM_E_OPTION && strstr(err.message, needle) &&
             memcmp(&p, &before, sizeof p) == 0;
    if (!ok) fprintf(stderr, "  %s -> %s: \"%s\" (wanted \"%s\")\n", json, lm_status_name(st), err.message, needle);
    return ok;
}

static void test_defaults(void) {
    lm_generate_params p = lm_generate_params_default();
    lm_sampling_params s = lm_sampling_params_default();
    CHECK(memcmp(&p.sampling, &s, sizeof s) == 0, "sampling defaults");
    CHECK(p.max_tokens == 256 && p.add_bos == -1 && p.ignore_eos == 0 && p.n_stop == 0, "generation defaults");
    CHECK(parse_ok("{}") && memcmp(&parsed, &p, sizeof p) == 0, "{} changes nothing");
    CHECK(parse_ok(NULL) && memcmp(&parsed, &p, sizeof p) == 0, "NULL changes nothing");
}

static void test_every_key(void) {
    CHECK(parse_ok("{\"max_tokens\": 64, \"temperature\": 0.2, \"top_k\": 7, \"top_p\": 0.5,"
                   " \"min_p\": 0.1, \"repeat_penalty\": 1.3, \"repeat_last_n\": 128,"
                   " \"frequency_penalty\": -0.5, \"presence_penalty\": 1.5, \"seed\": 9007199254740991,"
                   " \"stop\": [\"\\n\\n\", \"User:\"], \"ignore_eos\": true, \"add_bos\": false}"),
          "all keys parse");
    const lm_sampling_params *s = &parsed.sampling;
    CHECK(parsed.max_tokens == 64, "max_tokens");
    CHECK(s->temperature == 0.2f, "temperature");
    CHECK(s->top_k == 7, "top_k");
    CHECK(s->top_p == 0.5f, "top_p");
    CHECK(s->min_p == 0.1f, "min_p");
    CHECK(s->repeat_penalty == 1.3f, "repeat_penalty");
    CHECK(s->repeat_last_n == 128, "repeat_last_n");
    CHECK(s->frequency_penalty == -0.5f, "frequency_penalty");
    CHECK(s->presence_penalty == 1.5f, "presence_penalty");
    CHECK(s->seed == 9007199254740991ull, "seed");
    CHECK(parsed.n_stop == 2 && strcmp(parsed.stop[0], "\n\n") == 0 && strcmp(parsed.stop[1], "User:") == 0,
          "stop array");
    CHECK(parsed.ignore_eos == 1, "ignore_eos");
    CHECK(parsed.add_bos == 0, "add_bos false");

    CHECK(parse_ok("{\"add_bos\": true, \"ignore_eos\": false}") && parsed.add_bos == 1 && parsed.ignore_eos == 0,
          "booleans the other way");
    CHECK(parse_ok("{\"stop\": \"###\"}") && parsed.n_stop == 1 && strcmp(parsed.stop[0], "###") == 0,
          "stop as one string");
    CHECK(parse_ok("{\"stop\": []}") && parsed.n_stop == 0, "empty stop array");
    CHECK(parse_ok("{\"stop\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]}") && parsed.n_stop == LM_MAX_STOP,
          "LM_MAX_STOP stop strings");
    CHECK(parse_ok("{\"stop\": \"012345678901234567890123456789012345678901234567890123456789012\"}") &&
          strlen(parsed.stop[0]) == 63, "a 63-byte stop string");
    CHECK(parse_ok("{\"temperature\": 0, \"top_p\": 1, \"min_p\": 0, \"top_k\": 0, \"max_tokens\": 0}"),
          "range edges");
    CHECK(parse_ok("{\"max_tokens\": 1e2}") && parsed.max_tokens == 100, "an integer written with an exponent");
    CHECK(parse_ok("{\"max_tokens\": 5, \"max_tokens\": 6}") && parsed.max_tokens == 6, "the last duplicate wins");
    CHECK(parse_ok(" \n{ \"seed\" : 0 }\t") && parsed.sampling.seed == 0, "whitespace around the object");
}

static void test_null_keeps(void) {
    lm_generate_params p = lm_generate_params_default();
    CHECK(parse_ok("{\"max_tokens\": null, \"temperature\": null, \"top_k\": null, \"top_p\": null,"
                   " \"min_p\": null, \"repeat_penalty\": null, \"repeat_last_n\": null,"
                   " \"frequency_penalty\": null, \"presence_penalty\": null, \"seed\": null,"
                   " \"stop\": null, \"ignore_eos\": null, \"add_bos\": null}") &&
          memcmp(&parsed, &p, sizeof p) == 0, "null keeps every default");

    lm_error err = {0};
    p.sampling.temperature = 0.3f;
    strcpy(p.stop[0], "x");
    p.n_stop = 1;
    CHECK(lm_generate_params_from_json("{\"temperature\": null, \"top_k\": 3}", &p, &err) == LM_OK &&
          p.sampling.temperature == 0.3f && p.sampling.top_k == 3 && p.n_stop == 1,
          "options apply on top of the caller's params");
}

static void test_errors(void) {
    CHECK(parse_fails("", "malformed JSON"), "empty text");
    CHECK(parse_fails("{\"max_tokens\": 5", "malformed JSON"), "truncated object");
    CHECK(parse_fails("{\"max_tokens\": 5} x", "malformed JSON"), "trailing garbage");
    CHECK(parse_fails("{max_tokens: 5}", "malformed JSON"), "unquoted key");
    CHECK(parse_fails("[1, 2]", "expected a JSON object, got an array"), "array");
    CHECK(parse_fails("42", "expected a JSON object, got a number"), "number");
    CHECK(parse_fails("null", "expected a JSON object, got null"), "null document");
    CHECK(parse_fails("{\"temprature\": 1}", "unknown option \"temprature\""), "typo");
    CHECK(parse_fails("{\"Temperature\": 1}", "unknown option \"Temperature\""), "keys are case-sensitive");
    CHECK(parse_fails("{\"temperature\": 1, \"bogus\": 1}", "known: max_tokens"), "lists the known keys");

    CHECK(parse_fails("{\"max_tokens\": \"64\"}", "\"max_tokens\": expected an integer >= 0, got a string"), "string");
    CHECK(parse_fails("{\"max_tokens\": -1}", "\"max_tokens\": expected an integer >= 0, got -1"), "negative");
    CHECK(parse_fails("{\"max_tokens\": 1.5}", "\"max_tokens\": expected an integer"), "fraction");
    CHECK(parse_fails("{\"max_tokens\": 2147483648}", "\"max_tokens\""), "beyond int32");
    CHECK(parse_fails("{\"max_tokens\": 1e400}", "\"max_tokens\""), "infinite");
    CHECK(parse_fails("{\"max_tokens\": true}", "got a boolean"), "bool for int");
    CHECK(parse_fails("{\"temperature\": -0.1}", "\"temperature\": expected a number >= 0"), "negative temperature");
    CHECK(parse_fails("{\"temperature\": 1e39}", "\"temperature\""), "temperature beyond float");
    CHECK(parse_fails("{\"temperature\": -1e400}", "\"temperature\""), "-inf temperature");
    CHECK(parse_fails("{\"temperature\": [1]}", "got an array"), "array for number");
    CHECK(parse_fails("{\"top_k\": -1}", "\"top_k\": expected an integer >= 0"), "negative top_k");
    CHECK(parse_fails("{\"top_k\": 4.2}", "\"top_k\""), "fractional top_k");
    CHECK(parse_fails("{\"top_p\": 1.01}", "\"top_p\": expected a number from 0 to 1"), "top_p > 1");
    CHECK(parse_fails("{\"top_p\": -0.01}", "\"top_p\""), "top_p < 0");
    CHECK(parse_fails("{\"min_p\": 2}", "\"min_p\""), "min_p > 1");
    CHECK(parse_fails("{\"min_p\": {}}", "\"min_p\": expected a number from 0 to 1 (0: off), got an object"),
          "object for number");
    CHECK(parse_fails("{\"repeat_penalty\": 0}", "\"repeat_penalty\": expected a number > 0"), "zero penalty");
    CHECK(parse_fails("{\"repeat_penalty\": -1}", "\"repeat_penalty\""), "negative penalty");
    CHECK(parse_fails("{\"repeat_last_n\": -1}", "\"repeat_last_n\": expected an integer from 0 to 65536"), "-1");
    CHECK(parse_fails("{\"repeat_last_n\": 65537}", "\"repeat_last_n\""), "huge window");
    CHECK(parse_fails("{\"frequency_penalty\": 2.5}", "\"frequency_penalty\": expected a number from -2 to 2"),
          "frequency_penalty range");
    CHECK(parse_fails("{\"presence_penalty\": -3}", "\"presence_penalty\""), "presence_penalty range");
    CHECK(parse_fails("{\"presence_penalty\": \"high\"}", "got a string"), "string penalty");
    CHECK(parse_fails("{\"seed\": -1}", "\"seed\": expected an integer from 0 to 2^53-1"), "negative seed");
    CHECK(parse_fails("{\"seed\": 9007199254740993}", "\"seed\""), "seed beyond 2^53");
    CHECK(parse_fails("{\"seed\": 0.5}", "\"seed\""), "fractional seed");
    CHECK(parse_fails("{\"seed\": \"42\"}", "got a string"), "string seed");
    CHECK(parse_fails("{\"ignore_eos\": 1}", "\"ignore_eos\": expected true or false, got a number"), "number bool");
    CHECK(parse_fails("{\"add_bos\": \"true\"}", "\"add_bos\": expected true or false, got a string"), "string bool");
    CHECK(parse_fails("{\"stop\": 5}", "\"stop\": expected a string or an array"), "number stop");
    CHECK(parse_fails("{\"stop\": \"\"}", "\"stop\": expected a string of 1 to 63 bytes, got 0 bytes"), "empty stop");
    CHECK(parse_fails("{\"stop\": \"0123456789012345678901234567890123456789012345678901234567890123\"}",
                      "got 64 bytes"), "64-byte stop");
    CHECK(parse_fails("{\"stop\": [\"a\", 3]}", "\"stop\"[1]: expected a string, got a number"), "number in stop array");
    CHECK(parse_fails("{\"stop\": [\"a\", \"\"]}", "\"stop\"[1]: expected a string of 1 to 63 bytes"), "empty in array");
    CHECK(parse_fails("{\"stop\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", "got an array of 9"),
          "too many stop strings");
    CHECK(parse_fails("{\"stop\": [[\"a\"]]}", "got an array"), "nested array");
    CHECK(parse_fails("{\"max_tokens\": 10, \"top_p\": 7}", "\"top_p\""), "a later error keeps the earlier keys out");

    lm_error err = {0};
    CHECK(lm_generate_params_from_json("{}", NULL, &err) == LM_E_ARGUMENT, "NULL params");
    lm_generate_params p = lm_generate_params_default();
    CHECK(lm_generate_params_from_json("{\"bad\": 1}", &p, NULL) == LM_E_OPTION, "NULL err is allowed");
}

int main(void) {
    test_defaults();
    test_every_key();
    test_null_keeps();
    test_errors();
    return check_done();
}
