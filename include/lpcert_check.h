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

/* ---- audit: the gap between two sources of per-token log-probs (SPEC A9, `lpcert audit`) ----
 * Two pipelines (an inference engine's rollout and a trainer, say) report log-probs a and b of the
 * same tokens, [B, T_s] each. Over the counted tokens (label not ignore_index and mask 1, with the
 * shift of the tokens problem), the audit reports the distribution of the gap a - b at three
 * levels (tokens; per sequence, the sum and the mean of the counted tokens) and, when the logits
 * each side saw are given, splits every token's gap exactly into
 *     a - b = (a - exact(La)) + (exact(La) - exact(Lb)) + (exact(Lb) - b)
 * (final_op_a, logits, final_op_b; exact() is lp_ref_compute with that side's semantics: its
 * temperature and lp_sampling). Definitions of every figure: README.md, "Auditing a
 * rollout-vs-trainer gap", and the report lp_audit_markdown writes. */

#define LP_AUDIT_MAX_BANDS 16    /* ratio bands, the default [0.9, 1.1] included */
#define LP_AUDIT_HIST_EMIN (-60) /* histogram bins: |x| = 0, then binades 2^e, e in [EMIN, EMAX] */
#define LP_AUDIT_HIST_EMAX 7
#define LP_AUDIT_HIST_BINS (2 + LP_AUDIT_HIST_EMAX - LP_AUDIT_HIST_EMIN)

/* One source: its per-token log-probs and, optionally, the problem of the logits it saw. */
typedef struct lp_audit_side {
    const char *name;            /* how reports and errors name it ("a.npy"); NULL: "a" or "b" */
    lp_format fmt;               /* of logp */
    const void *logp;            /* [B * T_s] elements of fmt (f16, bf16: bit patterns) */
    /* The logits this side saw and its semantics (temperature, sampling), bound to the same
     * labels, mask, shift and ignore_index as the tokens problem; NULL: not given. */
    const lp_problem *logits;
} lp_audit_side;

typedef struct lp_audit_options {
    /* Ratio bands [lo, hi] besides the default [0.9, 1.1] (0 <= lo < hi, hi may be +inf);
     * a band equal to an earlier one is kept once. */
    int nbands;
    double band_lo[LP_AUDIT_MAX_BANDS - 1], band_hi[LP_AUDIT_MAX_BANDS - 1];
    int threads;                 /* of the exact reference; 0: one per CPU */
} lp_audit_options;
#define LP_AUDIT_OPTIONS_INIT { 0, {0}, {0}, 0 }

typedef enum lp_audit_level {
    LP_AUDIT_TOKENS = 0,         /* x = a_t - b_t per counted token */
    LP_AUDIT_SEQ_SUM = 1,        /* x = sum_t a_t - sum_t b_t per sequence with a counted token */
    LP_AUDIT_SEQ_MEAN = 2        /* x = (sum_t a_t - sum_t b_t) / n_b, the same sequences */
} lp_audit_level;
#define LP_AUDIT_NLEVELS 3

/* The figures of one level over its n values x (exact rationals: a and b are taken exactly as
 * stored). Every double is the correctly rounded (RNE, binary64) value of the exact figure. */
typedef struct lp_audit_figures {
    int64_t count;               /* n */
    double mean_abs_delta;       /* (1/n) sum |x| */
    double max_abs_delta;        /* max |x| */
    double mean_delta;           /* (1/n) sum x (the bias: a above b when positive) */
    double k3_kl;                /* (1/n) sum (r - 1 - log r), r = exp(-x) = exp(b - a) */
    int64_t max_b, max_t;        /* where max |x| is first reached (max_t -1 for sequences) */
    int nbands;
    double band_lo[LP_AUDIT_MAX_BANDS], band_hi[LP_AUDIT_MAX_BANDS];   /* [0]: 0.9, 1.1 */
    int64_t out_of_band[LP_AUDIT_MAX_BANDS];   /* values with exp(x) < lo or exp(x) > hi */
    double out_of_band_frac[LP_AUDIT_MAX_BANDS];   /* out_of_band / n (NaN when n = 0) */
} lp_audit_figures;

typedef enum lp_audit_part {
    LP_AUDIT_FINAL_OP_A = 0,     /* a - exact(La)              (La given) */
    LP_AUDIT_LOGITS = 1,         /* exact(La) - exact(Lb)      (both given) */
    LP_AUDIT_FINAL_OP_B = 2,     /* exact(Lb) - b              (Lb given) */
    LP_AUDIT_A_VS_EXACT_B = 3,   /* a - exact(Lb): final_op_a and logits together (Lb only) */
    LP_AUDIT_EXACT_A_VS_B = 4    /* exact(La) - b: logits and final_op_b together (La only) */
} lp_audit_part;
#define LP_AUDIT_NPARTS 5

/* One part of the split over the counted tokens. The exact values are known to the reference's
 * double-double (lpcert.h: within 2^-104 |x| + 2^-1074), so each part is computed exactly from
 * those pairs, and each figure is the correctly rounded figure of these parts; it differs from
 * the figure of the exact parts by at most dd_bound (figures over |part|: max, mean, p99). */
/* A part's figures over the sequences (max_b: the sequence where max_abs is first reached;
 * dd_bound: as the token's, times max n_b for sums). */
typedef struct lp_audit_split_seq {
    int64_t n, max_b;
    double max_abs, mean_abs, mean, p99_abs, dd_bound;
} lp_audit_split_seq;

typedef struct lp_audit_split {
    int present;
    const char *key;             /* "final_op_a", "logits", "final_op_b", "final_op_a_and_logits",
                                  * "logits_and_final_op_b" */
    const char *formula;         /* "a - exact(La)", ... */
    int64_t n;
    double max_abs, mean_abs, mean, p99_abs;  /* p99: nearest rank, the ceil(0.99 n)-th smallest */
    double dd_bound;
    int64_t max_b, max_t;
    int64_t hist[LP_AUDIT_HIST_BINS];  /* [0]: |part| = 0; [1 + e - EMIN]: RN|part| in
                                        * [2^e, 2^(e+1)), e clamped to [EMIN, EMAX] */
    /* The part per sequence with a counted token: the sum of its tokens' parts (seq[0]) and that
     * sum over n_b (seq[1]). */
    lp_audit_split_seq seq[2];
} lp_audit_split;

typedef struct lp_audit lp_audit;   /* opaque: one audit's figures */

/* Audits a against b over the counted tokens of tokens (its labels, mask, shift, ignore_index and
 * shape.B, shape.T; its logits and shape.V are not read and may be NULL / 0). Input errors
 * (LP_ERR_INPUT, one line naming b, t and the value): a or b NaN or infinite at a counted token;
 * a side's logits problem of another B, T, shift, ignore_index or counted set than tokens; an
 * exact value that is not finite at a counted token (a NaN row, a label outside the kept set).
 * Parameters are checked as lp_problem_check does (LP_ERR_USAGE). */
lp_status lp_audit_run(lp_audit **out, const lp_problem *tokens, const lp_audit_side *a,
                       const lp_audit_side *b, const lp_audit_options *opt, lp_error *err);
void lp_audit_free(lp_audit *au);   /* NULL is a no-op */
void lp_audit_figures_get(const lp_audit *au, lp_audit_level lev, lp_audit_figures *out);
/* The part's figures; out->present 0 where the split does not give it. */
void lp_audit_split_get(const lp_audit *au, lp_audit_part part, lp_audit_split *out);
/* The part with the largest mean_abs among those present (ties: the first), or -1 without logits. */
int lp_audit_dominant(const lp_audit *au);
/* The Markdown report (figures, their definitions, the verdict line), malloc'd into *text. */
lp_status lp_audit_markdown(char **text, const lp_audit *au, lp_error *err);
/* The JSON report (README.md: tokens.*, sequences.sum.*, sequences.mean.*, split.*), written to
 * path.tmp and renamed. */
lp_status lp_audit_write_json(const lp_audit *au, const char *path, lp_error *err);
/* A band's key as the reports write it: "lo,hi", each the shortest decimal that reads back as the
 * binary64 value ("0.9,1.1", "0.5,inf"). */
void lp_audit_band_key(char *buf, size_t n, double lo, double hi);

/* ---- gradients (SPEC A8): `lpcert check --grad` ----
 * A candidate gradient [B, T, V] of a reduction (token, sum, mean, token_mean) in one format,
 * compared per element with the exact gradient streamed by lp_grad_compute (bounded memory).
 * Measures per element of a counted row (check/grad.c says each exactly): ulp (SPEC A4), abs,
 * rel = err / |g|, row_rel = err / max_j |g_j| (the conditioning-aware measure of A8), scale_rel =
 * err tau / w. Rows that score nothing must be +0 (a NaN there is a NaN leak). An element passes
 * when one of the bounds given holds; with none, the default bound (check/grad.c: per group max
 * scale_rel <= max(4 x the plain softmax kernel's, 2 u_F)), or with no_default_bound classes,
 * leaks and empty rows only. */
typedef struct lp_grad_check_options {
    lp_reduction reduction;
    double max_ulp, max_abs, max_row_rel;   /* < 0: not given */
    int negate;          /* 1: the candidate is the gradient of -R (a loss): compared negated */
    int threads;         /* reference threads, 0: one per CPU */
    int slow;            /* 1: the reference's MPFR path only */
    int no_default_bound; /* 1: with no bound given, classes only (no default bound) */
} lp_grad_check_options;
#define LP_GRAD_CHECK_OPTIONS_INIT { LP_RED_TOKEN, -1, -1, -1, 0, 0, 0, 0 }

#define LP_GRAD_NMEASURES 5   /* ulp, abs, rel, row_rel, scale_rel */

typedef struct lp_grad_measure {
    int64_t n;
    double max, p50, p99;     /* numpy's linear percentiles; NaN when n = 0 */
    int exact;                /* 0: p50, p99 are the upper edges of 1/16-binade histogram bins */
} lp_grad_measure;

typedef struct lp_grad_check_group {
    const char *cls;          /* valid until the next call on the run */
    unsigned formats;
    int64_t rows, counted_rows, elements, correctly_rounded;
    int64_t class_mismatches, nan_leaks, empty_nonzero, over_bound;
    lp_grad_measure m[LP_GRAD_NMEASURES];
    double default_bound;     /* the default bound on max scale_rel; -1 when it does not apply */
    double base_max_scale_rel; /* its baseline's max scale_rel; -1 when it does not apply */
    int failed;
} lp_grad_check_group;

typedef struct lp_grad_check lp_grad_check;

lp_status lp_grad_check_new(lp_grad_check **out, const lp_grad_check_options *opt, lp_error *err);
void lp_grad_check_free(lp_grad_check *c);
/* A header line for the reports (inputs, candidate); at most 12 kept. */
void lp_grad_check_note(lp_grad_check *c, const char *line);
/* Compares grad ([B, T, V] of fmt, row-major; f16/bf16 as bit patterns) with the exact gradient
 * of the run's reduction on pb; cls names its group (NULL: name). */
lp_status lp_grad_check_problem(lp_grad_check *c, const char *name, const char *cls,
                                const lp_problem *pb, lp_format fmt, const void *grad,
                                lp_error *err);
int lp_grad_check_failed(const lp_grad_check *c);
size_t lp_grad_check_group_count(const lp_grad_check *c);
lp_status lp_grad_check_group_get(lp_grad_check *c, size_t i, lp_grad_check_group *out,
                                  lp_error *err);
void lp_grad_check_write_table(FILE *f, lp_grad_check *c);
lp_status lp_grad_check_write_json(lp_grad_check *c, const char *path, lp_error *err);
lp_status lp_grad_check_write_certificate(lp_grad_check *c, const char *path, lp_error *err);

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
