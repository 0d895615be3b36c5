/* Chat templates: the style is detected from tokenizer.chat_template (a Jinja
 * text we do not execute) and messages are formatted by our own code. */
#ifndef LM_CHAT_H
#define LM_CHAT_H

#include "localm.h"

typedef enum {
    LM_CHAT_CHATML,
    LM_CHAT_LLAMA3,
    LM_CHAT_LLAMA2,
    LM_CHAT_ZEPHYR,
    LM_CHAT_PHI3,
    LM_CHAT_GEMMA,
} lm_chat_style;

/* Detects the style; *known is 0 when nothing matched (ChatML is returned:
 * the caller warns). template_text may be NULL. */
lm_chat_style lm_chat_detect(const char *template_text, int *known);
const char *lm_chat_style_name(lm_chat_style style);

/* Formats a JSON array of {"role","content"} messages, ending with the
 * assistant's turn opened. bos_text is the model's BOS token text (some
 * styles spell it out; "" when none). *out is malloc'd. */
lm_status lm_chat_apply(lm_chat_style style, const char *bos_text,
                        const char *messages_json, char **out, lm_error *err);

#endif
