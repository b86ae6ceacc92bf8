/* cli/cli.h: what the subcommands share: exit codes, option values, printing results. */
#ifndef LP_CLI_H
#define LP_CLI_H

#include <stdio.h>

#include "lp_core.h"

enum { LP_EXIT_OK = 0, LP_EXIT_FAIL = 1, LP_EXIT_USAGE = 2 };

int lp_cmd_ref(int argc, char **argv);
int lp_cmd_demo(int argc, char **argv);
int lp_cmd_gen(int argc, char **argv);
int lp_cmd_check(int argc, char **argv);
int lp_cmd_certify(int argc, char **argv);
int lp_cmd_report(int argc, char **argv);
int lp_cmd_fuzz(int argc, char **argv);
int lp_cmd_kernels(int argc, char **argv);
int lp_cmd_audit(int argc, char **argv);
int lp_cmd_merge(int argc, char **argv);
/* The built-in kernels, one line each (lpcert kernels; --kernel list, --vs-baseline list). */
int lp_cli_kernels_print(FILE *f);

/* Prints "lpcert <cmd>: <msg>" on stderr and returns the exit code for the status. */
int lp_cli_fail(const char *cmd, const lp_error *err);
int lp_cli_usage(const char *cmd, const char *fmt, ...) LP_PRINTF(2, 3);

/* The options of one value seen so far, so that a repeated one is a usage error and never
 * silently replaces the first (options that take a list accumulate instead, and say so). */
typedef struct lp_cli_seen {
    const char *opt[32];
    int n;
} lp_cli_seen;


/* The argument walker every command's parser uses (opts.c). Each call gives the next argument:
 * 1 with *a a flag (an option of flags, *v NULL), a positional argument (at most npos_max of them,
 * *v NULL), or an option and its value *v; 0 at the end; -1 after printing a usage error (*rc its
 * exit code): an unexpected argument, an option without its value, or an option given twice that
 * is not in repeatable (options accumulate or are refused, never silently replaced). */
typedef struct lp_cli_args {
    const char *cmd;
    int argc;
    char **argv;
    const char *const *flags;        /* options without a value, NULL-terminated */
    const char *const *repeatable;   /* options that may be given more than once, NULL-terminated */
    int npos_max;
    int i, npos;
    lp_cli_seen seen;
} lp_cli_args;
#define LP_CLI_ARGS(cmd, argc, argv, flags, repeatable, npos_max) \
    { (cmd), (argc), (argv), (flags), (repeatable), (npos_max), 1, 0, {{NULL}, 0} }
int lp_cli_next(lp_cli_args *p, const char **a, const char **v, int *rc);
/* 1 if a is --help or -h. */
int lp_cli_is_help(const char *a);

/* The option parser shared by the judging commands (opts.c): the common options of check/
 * (--max-ulp, --max-abs, --vs-baseline, ...) and --seconds/--seed. Each returns 0 if a is not
 * one of its options, else 1 with *rc LP_EXIT_OK or the exit code of a usage error (printed). */
struct ck_options;
int lp_cli_opt_common(struct ck_options *o, const char *cmd, const char *a, const char *v, int *rc);
int lp_cli_opt_seconds_seed(double *seconds, uint64_t *seed, const char *cmd, const char *a,
                            const char *v, int *rc);
/* The common options without a value (--no-default-bound): 1 if a is one (and set), else 0. */
int lp_cli_opt_flag(struct ck_options *o, const char *a);
/* Checks the combination of the common options: LP_EXIT_OK or a usage error's code (printed). */
int lp_cli_opt_finish(struct ck_options *o, const char *cmd);

/* --softcap C, --top-k K, --top-p P, --min-p Q (SPEC A7) into s: 0 if a is not one of them, else
 * 1 with *rc LP_EXIT_OK or a usage error's code (printed: the value is checked as lp_problem_check
 * does). */
int lp_cli_opt_sampling(lp_sampling *s, const char *cmd, const char *a, const char *v, int *rc);
/* The parameters that s sets as ", softcap 30, top_p 0.9" ("" when none: text stays as before). */
void lp_cli_sampling_text(char *buf, size_t cap, const lp_sampling *s);
#define LP_CLI_SAMPLING_USAGE "[--softcap C] [--top-k K] [--top-p P] [--min-p Q]"

/* A result's value in format f as "0x<bits>" */
void lp_cli_hex(char *buf, size_t n, const lp_value *v, lp_format f);

#endif
