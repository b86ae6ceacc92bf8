/* include/lpcert_check.h: the public verdict engine of lpcert (the library behind `lpcert check`
 * and `lpcert certify`): compare a kernel's outputs, given in memory or as a candidate file, with
 * the exact reference, and judge them against bounds; read the verdict, the figures of each group
 * (case class and output), and write the table, JSON and certificate reports; run a certification
 * of a plugin or built-in kernel. Definitions (README.md, "Bounds and semantics"):
 *   value     one counted token's logp, or one sequence's sum or mean (positions that do not count
 *             are never compared); its error is SPEC A4's measure in the candidate's format.
 *   group     the values of one class (a problem's cls, e.g. "normal/f32") and one output.
 *   max ulp, max abs: over values of class NUMBER; median ulp: numpy's median (mean of the two
 *             middle values) over NUMBER and same-special values (the latter count 0).
 *   bounds    a NUMBER value passes when err_ulp <= max_ulp or err_abs <= max_abs (each only when
 *             given); a class mismatch (NaN vs number, inf vs finite) always fails; with a
 *             baseline, per group: max_cand_ulp <= factor * max_base_ulp + 2^-20.
 *   default   with no bound given (no max_ulp, max_abs, baseline) and no_default_bound 0: per
 *             group max_cand_ulp <= max(4 * max_base_ulp, 2) + 2^-20, the baseline twopass_f64
 *             for f64 values and twopass_f32 for the others (SPEC A5, docs/SPEC.md);
 *             no_default_bound 1: classes only.
 * Nothing here prints (the writers render to the FILE or path given) or exits; errors come back
 * as lp_status with a one-line lp_error, as in lpcert.h. */
#ifndef LPCERT_CHECK_H
#define LPCERT_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lpcert.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lp_output { LP_OUT_TOKEN = 0, LP_OUT_SUM = 1, LP_OUT_MEAN = 2 } lp_output;
#define LP_NOUTPUTS 3

typedef struct lp_check_options {
    double max_ulp[LP_NOUTPUTS];   /* < 0: not given (token, sum, mean) */
    double max_abs[LP_NOUTPUTS];   /* < 0: not given */
    const char *baseline;          /* a built-in kernel for the baseline-relative bound, or NULL */
    double factor;                 /* of the baseline bound; <= 0: 1 when a baseline is given */
    int masking;                   /* 0 spec (a NaN leak fails), 1 mul (DPO's logp * mask) */
    int empty_mean;                /* 0 each problem's own policy, 1 NaN, 2 zero */
    int threads;                   /* reference threads, 0: one per CPU */
    int no_default_bound;          /* 1: with no bound given, classes only (no default bound) */
} lp_check_options;
#define LP_CHECK_OPTIONS_INIT { {-1, -1, -1}, {-1, -1, -1}, NULL, -1, 0, 0, 0, 0 }

/* A candidate's outputs on one problem, each an array of fmt (f16, bf16: uint16_t bit patterns),
 * NULL when not given: logp [B * T_s] (row-major, T_s scored positions), sum [B], mean [B]. */
typedef struct lp_candidate { lp_format fmt; const void *logp, *sum, *mean; } lp_candidate;

typedef struct lp_check lp_check;   /* opaque: a run of comparisons and its verdict */

/* A new run with these options (NULL: LP_CHECK_OPTIONS_INIT). LP_ERR_USAGE for an unknown
 * baseline kernel or a factor without a baseline. */
lp_status lp_check_new(lp_check **out, const lp_check_options *opt, lp_error *err);
void lp_check_free(lp_check *c);    /* NULL is a no-op */
/* Compares cand with the exact reference on pb (ref: the reference's result on pb, or NULL to
 * compute it here). name names the problem in reports; cls its group (NULL: name). */
lp_status lp_check_problem(lp_check *c, const char *name, const char *cls, const lp_problem *pb,
                           const lp_ref_result *ref, const lp_candidate *cand, lp_error *err);
/* The route of `lpcert check --logits` for a run of exactly one problem: cand is judged from the
 * fast reference's enclosures with the median settled within this problem (check/judge.c), the
 * reference computed here; the verdict, figures and reports equal lp_check_problem's (and the
 * all-MPFR route's) but for the JSON's and certificate's "judge" counts, at a fraction of the
 * cost on long rows. c must be new from lp_check_new (LP_ERR_USAGE otherwise); after this call
 * (unless it failed on its arguments, which leaves c new) no problem, suite or certification may
 * be added to c (LP_ERR_USAGE). name, cls as for lp_check_problem. */
lp_status lp_check_one(lp_check *c, const char *name, const char *cls, const lp_problem *pb,
                       const lp_candidate *cand, lp_error *err);
int lp_check_failed(const lp_check *c);          /* 1: fails (nothing compared fails), 0: passes */
void lp_check_write_table(FILE *f, lp_check *c); /* the text report of `lpcert check` */

/* The exit status of `lpcert check` and `lpcert certify`: with s == LP_OK, 0 when c passes and 1
 * when it fails; for an error status s from any call, 2 (usage, input, I/O) or 1 (out of memory,
 * internal); c may then be NULL. */
int lp_check_exit_code(const lp_check *c, lp_status s);

/* ---- figures per group ---- */

typedef struct lp_check_group {
    const char *cls;               /* valid until the next call on the run */
    lp_output output;
    lp_format format;              /* the candidate's format (the lowest seen; see formats) */
    unsigned formats;              /* every candidate format seen, bits (1u << fmt) */
    int64_t n;                     /* values compared */
    int64_t correctly_rounded;     /* values equal (same bits) to the correctly rounded one */
    double max_ulp, max_abs;       /* over NUMBER values; 0 when there is none */
    double median_ulp;             /* NaN when no value is a number or same special */
    int64_t class_mismatches, nan_leaks, over_bound;
    double base_max_ulp;           /* with a baseline (or the default bound): its max ulp; else NaN */
    int failed;                    /* 1 when the group fails (class, bound or baseline) */
} lp_check_group;

size_t lp_check_group_count(const lp_check *c);
/* Figures of group i (0 <= i < lp_check_group_count), in the order of the table. */
lp_status lp_check_group_get(lp_check *c, size_t i, lp_check_group *out, lp_error *err);
int64_t lp_check_values(const lp_check *c);   /* values compared in all */

/* ---- reports: files are written to PATH.tmp and renamed, never partial ---- */

lp_status lp_check_write_json(lp_check *c, const char *path, lp_error *err);
lp_status lp_check_write_certificate(lp_check *c, const char *path, lp_error *err);

/* ---- files: a suite (lpcert gen) and a candidate file of outputs per case ---- */

typedef struct lp_check_suite lp_check_suite;   /* opaque: an open suite file */

/* Opens a suite file, keeping the cases whose names match glob ("normal,neginf/f32/..."; NULL:
 * all). */
lp_status lp_check_suite_open(lp_check_suite **out, const char *path, const char *glob,
                              lp_error *err);
void lp_check_suite_free(lp_check_suite *s);   /* NULL is a no-op */
size_t lp_check_suite_count(const lp_check_suite *s);
/* Compares the candidate file (case/<name>/logp, sum, mean; validated whole before anything is
 * compared) with every kept case of s, as `lpcert check SUITE CANDIDATE` does; recompute: compute
 * the reference instead of reading the suite's expected values. */
lp_status lp_check_suite_compare(lp_check *c, const lp_check_suite *s, const char *candidate_path,
                                 int recompute, lp_error *err);

/* ---- certify: a kernel on the standard suite and random problems (`lpcert certify`) ---- */

typedef struct lp_certify_options {
    const char *plugin;            /* "LIB.so[:SYMBOL]" (include/lpcert_plugin.h), or NULL */
    const char *kernel;            /* a built-in kernel ("twopass_f32"), or NULL: give one */
    const char *suite;             /* a suite file instead of the standard suite, or NULL */
    const char *cases;             /* only the cases matching these globs, or NULL */
    double seconds;                /* random problems after the suite for about this long */
    uint64_t seed;                 /* of the standard suite and the random problems */
    int batch_invariance;          /* 0 require, 1 report only, 2 off */
    /* progress(user, i, n) before suite case i of n; progress(user, 0, -1) when the random
     * problems start and progress(user, k, -1) after the k-th; NULL for none */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
} lp_certify_options;
#define LP_CERTIFY_OPTIONS_INIT { NULL, NULL, NULL, NULL, 10, 0x5eed, 0, NULL, NULL }

/* Runs the certification into c (a new run from lp_check_new: its bounds and semantics apply);
 * the reports then are those of `lpcert certify`. */
lp_status lp_check_certify(lp_check *c, const lp_certify_options *opt, lp_error *err);

/* The same with the kernel given in memory: a description as a plugin's entry function returns
 * (lpcert_plugin.h, checked the same way; it must stay valid during the call), opt->plugin and
 * opt->kernel NULL. The route of kernels that live in another language's runtime: a Python
 * callable behind a ctypes function pointer (python/lpcert) serves as run. */
struct lp_plugin;
lp_status lp_check_certify_kernel(lp_check *c, const struct lp_plugin *kernel,
                                  const lp_certify_options *opt, lp_error *err);

/* ---- sharding over several machines (README.md, "Sharding over a cluster") ---- */

/* lp_check_suite_compare on shard i of n only (1 <= i <= n): the cases floor((i-1) k / n) to
 * floor(i k / n) - 1 of the k kept cases of s; c must be new. */
lp_status lp_check_suite_compare_shard(lp_check *c, const lp_check_suite *s,
                                       const char *candidate_path, int recompute, int shard_i,
                                       int shard_n, lp_error *err);
/* Writes the partial result of a run of lp_check_suite_compare_shard to path (through path.tmp):
 * the shard's whole run (counts, maxima, worst values, every value's error), N, I and a SHA-256
 * of what all shards must share (inputs, options, candidate). */
lp_status lp_check_write_partial(lp_check *c, const char *path, lp_error *err);
/* A new run holding the merge of the n partial files (of lp_check_write_partial or of `lpcert
 * check|certify --shard`, any order): its verdict, groups and reports are those of the unsharded
 * run, byte for byte. LP_ERR_INPUT naming the file for a missing, duplicated or foreign shard or a
 * file that is not a partial. Nothing may be added to the merged run. */
lp_status lp_check_merge(lp_check **out, const char *const *paths, size_t n, lp_error *err);

#ifdef __cplusplus
}
#endif
#endif
