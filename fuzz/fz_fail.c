/* fuzz/fz_fail.c: the harnesses' failure report (fz_decode.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fz_decode.h"

void lp_fz_fail(const char *harness, const lp_fz_problem *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", harness);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (p) lp_fz_dump(stderr, p);
    fflush(stderr);
    abort();
}
