/* cli/util.c: error lines, repeated options, number parsing and value printing shared by the
 * subcommands. */
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

void lp_cli_hex(char *buf, size_t n, const lp_value *v, lp_format f)
{
    switch (f) {
    case LP_F64: snprintf(buf, n, "0x%016llx", (unsigned long long)lp_bits_f64(v->f64)); break;
    case LP_F32: snprintf(buf, n, "0x%08lx", (unsigned long)lp_bits_f32(v->f32)); break;
    case LP_F16: snprintf(buf, n, "0x%04x", (unsigned)v->f16); break;
    default: snprintf(buf, n, "0x%04x", (unsigned)v->bf16); break;
    }
}
