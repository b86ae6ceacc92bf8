/* cli/util.c: error lines, number parsing and value printing shared by the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "cli.h"
#include "lp_format.h"
#include "lp_tensor.h"

int lp_cli_fail(const char *cmd, const lp_error *err)
{
    fprintf(stderr, "lpcert %s: %s\n", cmd, err->msg);
    return err->status == LP_ERR_INTERNAL || err->status == LP_ERR_NOMEM ? LP_EXIT_FAIL : LP_EXIT_USAGE;
}

int lp_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lpcert %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see lpcert %s --help)\n", cmd);
    va_end(ap);
    return LP_EXIT_USAGE;
}

int lp_cli_int64(int64_t *out, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

int lp_cli_double(double *out, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

void lp_cli_hex(char *buf, size_t n, const lp_value *v, lp_format f)
{
    switch (f) {
    case LP_F64: snprintf(buf, n, "0x%016llx", (unsigned long long)lp_bits_f64(v->f64)); break;
    case LP_F32: snprintf(buf, n, "0x%08lx", (unsigned long)lp_bits_f32(v->f32)); break;
    case LP_F16: snprintf(buf, n, "0x%04x", (unsigned)v->f16); break;
    default: snprintf(buf, n, "0x%04x", (unsigned)v->bf16); break;
    }
}

/* A mask tensor (U8, BOOL, I64 or I32 of 0 and 1) as bytes; *out is the caller's to free. */
lp_status lp_cli_mask_bytes(uint8_t **out, const lp_tensor *t, const char *what, lp_error *err)
{
    if (t->dtype != LP_DT_U8 && t->dtype != LP_DT_BOOL && t->dtype != LP_DT_I64 &&
        t->dtype != LP_DT_I32)
        return lp_fail(err, LP_ERR_INPUT, "%s: mask dtype %s is not U8, BOOL, I64 or I32", what,
                       lp_dtype_name(t->dtype));
    const int esz = lp_dtype_size(t->dtype);
    uint8_t *m = malloc(t->numel ? (size_t)t->numel : 1);
    if (!m) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", what);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = 0;
        const char *p = (const char *)t->data + (size_t)i * (size_t)esz;
        if (esz == 8) memcpy(&v, p, 8);
        else if (esz == 4) { int32_t v32; memcpy(&v32, p, 4); v = v32; }
        else v = *(const uint8_t *)p;
        if (v != 0 && v != 1) {
            free(m);
            if (t->ndim == 2)
                return lp_fail(err, LP_ERR_INPUT, "%s: mask[b=%lld,t=%lld] is %lld, not 0 or 1", what,
                               (long long)(i / t->dims[1]), (long long)(i % t->dims[1]), (long long)v);
            return lp_fail(err, LP_ERR_INPUT, "%s: mask[t=%lld] is %lld, not 0 or 1", what,
                           (long long)i, (long long)v);
        }
        m[i] = (uint8_t)v;
    }
    *out = m;
    return LP_OK;
}
