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
int lp_cmd_fuzz(int argc, char **argv);      /* built when fuzz/ is there (LP_HAVE_FZ) */

/* Prints "lpcert <cmd>: <msg>" on stderr and returns the exit code for the status. */
int lp_cli_fail(const char *cmd, const lp_error *err);
int lp_cli_usage(const char *cmd, const char *fmt, ...) LP_PRINTF(2, 3);

/* Parses a whole decimal integer / a finite double; 1 on success. */
int lp_cli_int64(int64_t *out, const char *s);
int lp_cli_double(double *out, const char *s);

struct lp_tensor;
lp_status lp_cli_mask_bytes(uint8_t **out, const struct lp_tensor *t, const char *what, lp_error *err);

/* A result's value in format f as "0x<bits>" */
void lp_cli_hex(char *buf, size_t n, const lp_value *v, lp_format f);

/* Adds the reference results r to a safetensors writer under names "<prefix>logp.f64", ...,
 * "<prefix>counted", "<prefix>sum.<fmt>", "<prefix>count", "<prefix>token_mean.<fmt>" (the layout
 * of `lpcert ref`). The column arrays live in *keep until lp_cli_ref_cols_free, after the writer
 * has finished. */
typedef struct lp_ref_cols lp_ref_cols;
struct lp_twriter;
lp_status lp_cli_ref_tensors(struct lp_twriter *w, const char *prefix, const lp_ref_result *r,
                             lp_ref_cols **keep, lp_error *err);
void lp_cli_ref_cols_free(lp_ref_cols *keep);   /* NULL is a no-op */

#endif
