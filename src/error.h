/* Internal error helpers shared by every module of the core. */
#ifndef LM_ERROR_H
#define LM_ERROR_H

#include "localm.h"

/* Sets err (when not NULL) and returns code, so callers can write
 * `return lm_fail(err, LM_E_FORMAT, "...", ...);`. */
lm_status lm_fail(lm_error *err, lm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
