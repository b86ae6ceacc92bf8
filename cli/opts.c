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

/* LP_EXIT_OK the first time option a is given; a usage error's code (printed) the second time. */
static int lp_cli_once(lp_cli_seen *s, const char *cmd, const char *a)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->opt[i], a) == 0) return lp_cli_usage(cmd, "%s given more than once", a);
    if (s->n < (int)(sizeof s->opt / sizeof s->opt[0])) s->opt[s->n++] = a;
    return LP_EXIT_OK;
}

static int in_list(const char *const *list, const char *a)
{
    for (; list && *list; list++)
        if (strcmp(*list, a) == 0) return 1;
    return 0;
}

int lp_cli_is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

int lp_cli_next(lp_cli_args *p, const char **a, const char **v, int *rc)
{
    *rc = LP_EXIT_OK;
    if (p->i >= p->argc) return 0;
    const char *x = p->argv[p->i++];
    *a = x;
    *v = NULL;
    if (lp_cli_is_help(x) || in_list(p->flags, x)) return 1;
    if (strncmp(x, "--", 2) != 0) {
        if (p->npos < p->npos_max) {
            p->npos++;
            return 1;
        }
        *rc = lp_cli_usage(p->cmd, "unexpected argument '%s'", x);
        return -1;
    }
    if (p->i >= p->argc) {
        *rc = lp_cli_usage(p->cmd, "option %s needs a value", x);
        return -1;
    }
    *v = p->argv[p->i++];
    if (!in_list(p->repeatable, x) && (*rc = lp_cli_once(&p->seen, p->cmd, x)) != LP_EXIT_OK)
        return -1;
    return 1;
}


int lp_cli_opt_sampling(lp_sampling *s, const char *cmd, const char *a, const char *v, int *rc)
{
    *rc = LP_EXIT_OK;
    double *d = strcmp(a, "--softcap") == 0 ? &s->softcap
              : strcmp(a, "--top-p") == 0   ? &s->top_p
              : strcmp(a, "--min-p") == 0   ? &s->min_p : NULL;
    if (d) {
        if (!lp_parse_double(d, v)) *rc = lp_cli_usage(cmd, "%s: '%s' is not a number", a, v);
    } else if (strcmp(a, "--top-k") == 0) {
        if (!lp_parse_int64(&s->top_k, v)) *rc = lp_cli_usage(cmd, "--top-k: '%s' is not an integer", v);
    } else {
        return 0;
    }
    lp_error e;
    if (*rc == LP_EXIT_OK && lp_sampling_check(s, &e) != LP_OK) /* "problem: top_p ... is not in" */
        *rc = lp_cli_usage(cmd, "%s: %s", a, strncmp(e.msg, "problem: ", 9) == 0 ? e.msg + 9 : e.msg);
    return 1;
}

/* The parameters set, each double as the shortest decimal that reads back as itself (%g printed
 * top_p 1 - 2^-53 as "top_p 1", the value that keeps every token). */
void lp_cli_sampling_text(char *buf, size_t cap, const lp_sampling *s)
{
    size_t n = 0;
    char v[40];
    buf[0] = 0;
    if (s->softcap != 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ", softcap %s", ck_shortest(v, sizeof v, s->softcap));
    if (s->top_k != 0 && n < cap) n += (size_t)snprintf(buf + n, cap - n, ", top_k %lld", (long long)s->top_k);
    if (s->top_p != 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ", top_p %s", ck_shortest(v, sizeof v, s->top_p));
    if (s->min_p != 0 && n < cap) snprintf(buf + n, cap - n, ", min_p %s", ck_shortest(v, sizeof v, s->min_p));
}
