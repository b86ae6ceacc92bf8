/* core/error.c: one-line errors and status names. */
#include <stdarg.h>

#include "lp_core.h"

lp_status lp_fail(lp_error *err, lp_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *lp_status_name(lp_status s)
{
    switch (s) {
    case LP_OK: return "LP_OK";
    case LP_ERR_USAGE: return "LP_ERR_USAGE";
    case LP_ERR_INPUT: return "LP_ERR_INPUT";
    case LP_ERR_IO: return "LP_ERR_IO";
    case LP_ERR_NOMEM: return "LP_ERR_NOMEM";
    case LP_ERR_INTERNAL: return "LP_ERR_INTERNAL";
    }
    return "LP_ERR_UNKNOWN";
}
