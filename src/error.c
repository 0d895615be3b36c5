#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const status_names[LM_E_COUNT] = {
    [LM_OK] = "OK",
    [LM_E_ARGUMENT] = "E_ARGUMENT",
    [LM_E_IO] = "E_IO",
    [LM_E_FORMAT] = "E_FORMAT",
    [LM_E_UNSUPPORTED] = "E_UNSUPPORTED",
    [LM_E_MEMORY] = "E_MEMORY",
    [LM_E_OPTION] = "E_OPTION",
    [LM_E_CONTEXT_FULL] = "E_CONTEXT_FULL",
    [LM_E_ABORTED] = "E_ABORTED",
    [LM_E_TEMPLATE] = "E_TEMPLATE",
};

const char *lm_status_name(lm_status status) {
    if ((unsigned)status >= LM_E_COUNT) return "E_UNKNOWN";
    return status_names[status];
}

lm_status lm_fail(lm_error *err, lm_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
