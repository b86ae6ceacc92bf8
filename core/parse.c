/* core/parse.c: whole-string number parsing, for options and file metadata. */
#include <errno.h>
#include <math.h>

#include "lp_core.h"

int lp_parse_int64(int64_t *out, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

int lp_parse_double(double *out, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return 0;
    /* strtod reports ERANGE for subnormal results too: those are values (--top-p 1e-320); only a
     * non-zero number below the least subnormal, read as 0, is refused */
    if (errno && !(errno == ERANGE && v != 0)) return 0;
    *out = v;
    return 1;
}
