/* Chat templates: each style is detected from a snippet of a real
 * tokenizer.chat_template and formats a conversation exactly as the model's
 * Jinja template renders it (with the generation prompt); bad message lists
 * are LM_E_TEMPLATE errors naming the message. */
#include "chat.h"
#include "check.h"

#include <string.h>

static const char conversation[] =
    "[{\"role\": \"system\", \"content\": \"You are helpful.\"},"
    " {\"role\": \"user\", \"content\": \"Hello\"},"
    " {\"role\": \"assistant\", \"content\": \"Hi there\"},"
    " {\"role\": \"user\", \"content\": \"How are you?\"}]";

/* Whitespace around the contents, to see which styles trim. */
static const char spaced[] =
    "[{\"role\": \"user\", \"content\": \" Hello \\n\"},"
    " {\"role\": \"assistant\", \"content\": \"\\tHi\\u3000\"},"
    " {\"role\": \"user\", \"content\": \"\\u00a0Bye\\r\\n\"}]";

static int formats_as(lm_chat_style style, const char *bos, const char *json, const char *want) {
    char *out = NULL;
    lm_error err = {0};
    lm_status st = lm_chat_apply(style, bos, json, &out, &err);
    int ok = st == LM_OK && out && strcmp(out, want) == 0;
    if (!ok) fprintf(stderr, "  %s: %s %s\n  got  \"%s\"\n  want \"%s\"\n", lm_chat_style_name(style),
                     lm_status_name(st), err.message, out ? out : "(null)", want);
    free(out);
    return ok;
}

static int fails_with(lm_chat_style style, const char *json, lm_status code, const char *needle) {
    char *out = (char *)"untouched";
    lm_error err = {0};
    lm_status st = lm_chat_apply(style, "<s>", json, &out, &err);
    int ok = st == code && err.code == code && out == NULL && strstr(err.message, needle);
    if (!ok) fprintf(stderr, "  %s -> %s \"%s\" (wanted \"%s\")\n", json ? json : "(null)", lm_status_name(st),
                     err.message, needle);
    return ok;
}

static int detects(const char *tmpl, lm_chat_style want) {
    int known = -1;
    lm_chat_style got = lm_chat_detect(tmpl, &known);
    if (got != want || known != 1)
        fprintf(stderr, "  detected %s (known %d), want %s\n", lm_chat_style_name(got), known,
                lm_chat_style_name(want));
    return got == want && known == 1;
}

static void test_detect(void) {
    CHECK(detects("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                  " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                  "{{ '<|im_start|>assistant\\n' }}{% endif %}", LM_CHAT_CHATML), "ChatML (Qwen)");
    CHECK(detects("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                  "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim"
                  " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                  "{{ content }}{% endfor %}", LM_CHAT_LLAMA3), "Llama-3");
    CHECK(detects("{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
                  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}",
                  LM_CHAT_LLAMA2), "Llama-2");
    CHECK(detects("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                  "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}", LM_CHAT_LLAMA2),
          "Mistral's [INST] is formatted as Llama-2");
    CHECK(detects("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
                  "message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
                  "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% endfor %}",
                  LM_CHAT_ZEPHYR), "Zephyr");
    CHECK(detects("{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + "
                  "message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + "
                  "message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}"
                  "{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}", LM_CHAT_PHI3), "Phi-3");
    CHECK(detects("{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + "
                  "message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
                  "{{ '<|assistant|>\\n' }}{% endif %}", LM_CHAT_PHI3), "Phi-3-small (no literal <|user|>)");
    CHECK(detects("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
                  "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
                  "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
                  "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
                  LM_CHAT_GEMMA), "Gemma");

    int known = -1;
    CHECK(lm_chat_detect("{{ messages | tojson }}", &known) == LM_CHAT_CHATML && known == 0,
          "unknown template: ChatML, known=0");
    known = -1;
    CHECK(lm_chat_detect(NULL, &known) == LM_CHAT_CHATML && known == 0, "no template: ChatML, known=0");
    CHECK(lm_chat_detect("", NULL) == LM_CHAT_CHATML, "known may be NULL");
    CHECK(strcmp(lm_chat_style_name(LM_CHAT_GEMMA), "gemma") == 0 &&
          strcmp(lm_chat_style_name((lm_chat_style)99), "unknown") == 0, "style names");
}

static void test_format(void) {
    CHECK(formats_as(LM_CHAT_CHATML, "<s>", conversation,
                     "<|im_start|>system\nYou are helpful.<|im_end|>\n"
                     "<|im_start|>user\nHello<|im_end|>\n"
                     "<|im_start|>assistant\nHi there<|im_end|>\n"
                     "<|im_start|>user\nHow are you?<|im_end|>\n"
                     "<|im_start|>assistant\n"), "ChatML");
    CHECK(formats_as(LM_CHAT_LLAMA3, "<|begin_of_text|>", conversation,
                     "<|begin_of_text|>"
                     "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                     "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                     "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n"), "Llama-3");
    CHECK(formats_as(LM_CHAT_LLAMA2, "<s>", conversation,
                     "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello [/INST] Hi there </s>"
                     "<s>[INST] How are you? [/INST]"), "Llama-2 folds the system prompt into the first [INST]");
    CHECK(formats_as(LM_CHAT_ZEPHYR, "<s>", conversation,
                     "<|system|>\nYou are helpful.</s>\n<|user|>\nHello</s>\n"
                     "<|assistant|>\nHi there</s>\n<|user|>\nHow are you?</s>\n<|assistant|>\n"), "Zephyr");
    CHECK(formats_as(LM_CHAT_PHI3, "<s>", conversation,
                     "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello<|end|>\n"
                     "<|assistant|>\nHi there<|end|>\n<|user|>\nHow are you?<|end|>\n<|assistant|>\n"), "Phi-3");
    CHECK(formats_as(LM_CHAT_GEMMA, "<bos>", conversation,
                     "<bos><start_of_turn>user\nYou are helpful.\n\nHello<end_of_turn>\n"
                     "<start_of_turn>model\nHi there<end_of_turn>\n"
                     "<start_of_turn>user\nHow are you?<end_of_turn>\n"
                     "<start_of_turn>model\n"), "Gemma: system folded into the first user turn, model role");

    const char *one = "[{\"role\": \"user\", \"content\": \"Hi\"}]";
    CHECK(formats_as(LM_CHAT_GEMMA, "<bos>", one,
                     "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"), "Gemma, one turn");
    CHECK(formats_as(LM_CHAT_LLAMA2, "<s>", one, "<s>[INST] Hi [/INST]"), "Llama-2, no system");
    CHECK(formats_as(LM_CHAT_LLAMA3, NULL, one,
                     "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n"), "NULL bos_text is empty");
    CHECK(formats_as(LM_CHAT_CHATML, "", "[{\"role\": \"assistant\", \"content\": \"\"}]",
                     "<|im_start|>assistant\n<|im_end|>\n<|im_start|>assistant\n"), "ChatML takes any order");
}

static void test_trim(void) {
    CHECK(formats_as(LM_CHAT_CHATML, "", spaced,
                     "<|im_start|>user\n Hello \n<|im_end|>\n<|im_start|>assistant\n\tHi\xe3\x80\x80<|im_end|>\n"
                     "<|im_start|>user\n\xc2\xa0" "Bye\r\n<|im_end|>\n<|im_start|>assistant\n"),
          "ChatML keeps the content as is");
    CHECK(formats_as(LM_CHAT_LLAMA3, "B", spaced,
                     "B<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\nHi<|eot_id|>"
                     "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n"),
          "Llama-3 trims, Unicode spaces included");
    CHECK(formats_as(LM_CHAT_LLAMA2, "<s>", spaced, "<s>[INST] Hello [/INST] Hi </s><s>[INST] Bye [/INST]"),
          "Llama-2 strips");
    CHECK(formats_as(LM_CHAT_GEMMA, "", spaced,
                     "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi<end_of_turn>\n"
                     "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"), "Gemma trims");
    /* strip() applies to the system block and the content together. */
    CHECK(formats_as(LM_CHAT_LLAMA2, "<s>",
                     "[{\"role\": \"system\", \"content\": \" S \"}, {\"role\": \"user\", \"content\": \"  \"}]",
                     "<s>[INST] <<SYS>>\n S \n<</SYS>> [/INST]"), "Llama-2 strips the combined first turn");
    CHECK(formats_as(LM_CHAT_LLAMA3, "", "[{\"role\": \"user\", \"content\": \" \\u2003 \"}]",
                     "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n"), "all-whitespace content trims to nothing");
    CHECK(formats_as(LM_CHAT_LLAMA3, "", "[{\"role\": \"user\", \"content\": \"\\u00e9\\u4e00\"}]",
                     "<|start_header_id|>user<|end_header_id|>\n\n\xc3\xa9\xe4\xb8\x80<|eot_id|>"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n"), "multi-byte letters are not spaces");
}

static void test_errors(void) {
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\"", LM_E_TEMPLATE, "malformed JSON"), "truncated");
    CHECK(fails_with(LM_CHAT_CHATML, "[] x", LM_E_TEMPLATE, "malformed JSON"), "trailing garbage");
    CHECK(fails_with(LM_CHAT_CHATML, "{\"role\": \"user\", \"content\": \"hi\"}", LM_E_TEMPLATE,
                     "expected a JSON array"), "an object instead of an array");
    CHECK(fails_with(LM_CHAT_CHATML, "[]", LM_E_TEMPLATE, "empty"), "empty array");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\", \"content\": \"a\"}, \"hi\"]", LM_E_TEMPLATE,
                     "messages[1]: expected an object"), "string element");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"content\": \"a\"}]", LM_E_TEMPLATE, "messages[0]: \"role\" is missing"),
          "missing role");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": 1, \"content\": \"a\"}]", LM_E_TEMPLATE,
                     "messages[0]: \"role\" is missing or not a string"), "numeric role");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"tool\", \"content\": \"b\"}]",
                     LM_E_TEMPLATE, "messages[1]: role \"tool\" is not"), "unknown role");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"User\", \"content\": \"a\"}]", LM_E_TEMPLATE, "role \"User\""),
          "roles are case-sensitive");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\"}]", LM_E_TEMPLATE, "messages[0]: \"content\" is missing"),
          "missing content");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\", \"content\": null}]", LM_E_TEMPLATE,
                     "\"content\" is missing or not a string"), "null content");
    CHECK(fails_with(LM_CHAT_CHATML, "[{\"role\": \"user\", \"content\": [\"a\"]}]", LM_E_TEMPLATE,
                     "\"content\" is missing or not a string"), "array content");

    const char *two_users = "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]";
    CHECK(fails_with(LM_CHAT_LLAMA2, two_users, LM_E_TEMPLATE, "messages[1]: llama2 needs roles alternating"),
          "Llama-2 alternation");
    CHECK(fails_with(LM_CHAT_GEMMA, two_users, LM_E_TEMPLATE, "messages[1]: gemma needs roles alternating"),
          "Gemma alternation");
    CHECK(formats_as(LM_CHAT_PHI3, "", two_users, "<|user|>\na<|end|>\n<|user|>\nb<|end|>\n<|assistant|>\n"),
          "Phi-3 does not require alternation");
    CHECK(fails_with(LM_CHAT_GEMMA, "[{\"role\": \"assistant\", \"content\": \"a\"}]", LM_E_TEMPLATE,
                     "expected user, got assistant"), "Gemma starting with the assistant");
    CHECK(fails_with(LM_CHAT_GEMMA,
                     "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"system\", \"content\": \"b\"}]",
                     LM_E_TEMPLATE, "messages[1]"), "Gemma system message after the first");
    CHECK(fails_with(LM_CHAT_LLAMA2,
                     "[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]",
                     LM_E_TEMPLATE, "messages[1]: llama2 needs the last message to be the user's"),
          "Llama-2 cannot open the assistant's turn after an assistant message");
    CHECK(fails_with(LM_CHAT_LLAMA2, "[{\"role\": \"system\", \"content\": \"a\"}]", LM_E_TEMPLATE,
                     "last message to be the user's"), "Llama-2 with only a system message");

    CHECK(fails_with(LM_CHAT_CHATML, NULL, LM_E_ARGUMENT, "messages is NULL"), "NULL messages");
    CHECK(fails_with((lm_chat_style)42, "[]", LM_E_ARGUMENT, "unknown style"), "bad style");
    CHECK(lm_chat_apply(LM_CHAT_CHATML, "", "[]", NULL, NULL) == LM_E_ARGUMENT, "NULL out");
}

int main(void) {
    test_detect();
    test_format();
    test_trim();
    test_errors();
    return check_done();
}
