/* cli/opts.c: the option parsing shared by the judging commands: check/'s common options (parsed
 * by the library, which never prints) turned into usage errors (`--vs-baseline list` prints the
 * built-in kernels), and --seconds/--seed. */
#include <stdlib.h>

#include "cli.h"
#include "lp_check_internal.h"

int lp_cli_opt_common(ck_options *o, const char *cmd, const char *a, const char *v, int *rc)
{
    lp_error e = {LP_OK, ""};
    *rc = LP_EXIT_OK;
    if (strcmp(a, "--vs-baseline") == 0 && strcmp(v, "list") == 0) {
        fflush(stdout);
        exit(lp_cli_kernels_print(stdout));
    }
    if (!ck_options_parse(o, a, v, &e)) return 0;
    if (e.status != LP_OK) *rc = lp_cli_usage(cmd, "%s", e.msg);
    return 1;
}

int lp_cli_opt_flag(ck_options *o, const char *a) { return ck_options_flag(o, a); }

int lp_cli_opt_finish(ck_options *o, const char *cmd)
{
    lp_error e = {LP_OK, ""};
    if (ck_options_finish(o, &e) != LP_OK) return lp_cli_usage(cmd, "%s", e.msg);
    return LP_EXIT_OK;
}

int lp_cli_opt_seconds_seed(double *seconds, uint64_t *seed, const char *cmd, const char *a,
                            const char *v, int *rc)
{
    *rc = LP_EXIT_OK;
    if (strcmp(a, "--seconds") == 0) {
        if (!lp_parse_double(seconds, v) || *seconds < 0 || *seconds > 1e6)
            *rc = lp_cli_usage(cmd, "--seconds: '%s' is not a number in [0, 1e6]", v);
    } else if (strcmp(a, "--seed") == 0) {
        char *end;
        *seed = strtoull(v, &end, 0);
        if (*v == '-' || *end || end == v)
            *rc = lp_cli_usage(cmd, "--seed: '%s' is not a non-negative integer", v);
    } else {
        return 0;
    }
    return 1;
}
