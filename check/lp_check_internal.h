/* check/lp_check_internal.h: what `lpcert check` and `lpcert certify` share: the options (bounds and the
 * semantics certified), candidate outputs, the comparison with the exact reference (eval.c),
 * its diagnoses (diag.c), the report (report.c), hashes (hash.c), suite and
 * candidate files (input.c), kernels run in-process (kernel.c, builtin.c) and
 * batch invariance (batch.c).
 *
 * Definitions (the report and README.md, "Bounds and semantics", state the same):
 *   value     one counted token's logp, or one sequence's sum or mean. Tokens that do not count
 *             (masked, ignore_index) are never compared.
 *   measure   lp_ulp_error (SPEC A4) of the candidate y, in its own format F, against the
 *             reference's double-double and its correctly rounded value in F.
 *   group     the values of one case class (family/logits-dtype, e.g. normal/f32) and one output.
 *   max ulp, max abs: over the values of class NUMBER; median ulp: over NUMBER and SAME_SPECIAL
 *             values (the latter count 0, "exact"), numpy's median (mean of the two middle values).
 *   absolute bounds: a NUMBER value passes when err_ulp <= K (--max-ulp) or err_abs <= E
 *             (--max-abs), each only when given; a class mismatch always fails.
 *   baseline: b = the baseline kernel's value, rounded to F when F is narrower than the
 *             baseline's output format; its measure in F. Over the values of a group where the
 *             baseline is not a class mismatch: max_cand_ulp <= factor * max_base_ulp + 2^-20.
 *   default bound (SPEC A5, docs/SPEC.md): when no bound is given (no --max-ulp, --max-abs,
 *             --vs-baseline) and not --no-default-bound, the baseline rule against the
 *             project's plain kernel of each value's format F (twopass_f64 when F is f64,
 *             twopass_f32 otherwise: ck_default_baseline) with factor CK_DEFAULT_FACTOR and a
 *             floor: max_cand_ulp <= max(4 * max_base_ulp, 2) + 2^-20. */
#ifndef LP_CHECK_CORE_H
#define LP_CHECK_CORE_H

#include <stdint.h>
#include <stdio.h>

#include "lp_core.h"
#include "lp_tensor.h"
#include "lp_ulp.h"
#include "lpcert_plugin.h"

enum { CK_TOKEN = 0, CK_SUM = 1, CK_MEAN = 2, CK_NOUT = 3 };
const char *ck_output_name(int out);   /* "token", "sum", "mean" */
const char *ck_tensor_name(int out);   /* "logp", "sum", "mean": the candidate's tensor names */

typedef enum ck_masking { CK_MASKING_SPEC = 0, CK_MASKING_MUL = 1 } ck_masking;
typedef enum ck_empty { CK_EMPTY_CASE = 0, CK_EMPTY_NAN = 1, CK_EMPTY_ZERO = 2 } ck_empty;
typedef enum ck_batch { CK_BATCH_REQUIRE = 0, CK_BATCH_REPORT = 1, CK_BATCH_OFF = 2 } ck_batch;
/* --batch-invariance require|report|off (certify, fuzz): 1 and *out set, 0 for another word. */
int ck_batch_parse(ck_batch *out, const char *v);

#define CK_REL_SLACK 0x1p-20   /* ulp added to the baseline-relative bound (see above) */
#define CK_DEFAULT_FACTOR 4.0  /* of the default bound (SPEC A5 argues the figures) */
#define CK_DEFAULT_FLOOR 2.0   /* ulp: the default bound is never below it */
/* The baseline of the default bound for a candidate value of format f. */
const char *ck_default_baseline(lp_format f);

typedef struct ck_options {
    double max_ulp[CK_NOUT];   /* < 0: not given */
    double max_abs[CK_NOUT];
    const char *baseline;      /* kernel name, or NULL */
    double factor;             /* of the baseline, or of the default bound */
    int no_default;            /* --no-default-bound: with no bound given, classes only */
    int default_bound;         /* set by ck_options_finish: no bound given, the default applies */
    ck_masking masking;        /* spec: leaks fail; mul: DPO semantics, a leak is the expected NaN */
    ck_empty empty;            /* case: each case's policy; nan / zero: that convention everywhere */
    ck_batch batch;            /* certify only */
    int threads;               /* reference threads (0: one per CPU) */
    int slow;                  /* --slow: judge every value from the all-MPFR double-double */
} ck_options;
void ck_options_init(ck_options *o);
/* Parses one option of the common set (--max-ulp, --max-abs, --vs-baseline, --factor, --masking,
 * --empty-mean, --threads). Returns 0 if a is not one of them; else 1, with err (never NULL)
 * LP_OK, or LP_ERR_USAGE and the message (v consumed either way). */
int ck_options_parse(ck_options *o, const char *a, const char *v, lp_error *err);
/* The common options without a value (--no-default-bound): 1 and set if a is one, else 0. */
int ck_options_flag(ck_options *o, const char *a);
/* Checks the combination (LP_ERR_USAGE and a message when it is wrong) and decides the default
 * bound (default_bound, factor) when no bound is given. */
lp_status ck_options_finish(ck_options *o, lp_error *err);
extern const char ck_options_help[];   /* the common options, for --help */
/* 1 when a baseline-relative bound applies (--vs-baseline, or the default bound). */
int ck_rel_active(const ck_options *o);
/* The bound applied, in one line for verdicts: "default bound: ...", "bound given: ...", or
 * "no bound (--no-default-bound): ...". */
void ck_options_bound_text(char *buf, size_t n, const ck_options *o);

/* One output of a candidate (or of the baseline): n values of format fmt widened to double. */
typedef struct ck_array {
    int present;
    lp_format fmt;
    int64_t n;
    double *v;
} ck_array;
typedef struct ck_outputs {
    ck_array a[CK_NOUT];
    const char *kernel[CK_NOUT];   /* a baseline's: the kernel that computed each (static), else NULL */
} ck_outputs;
void ck_outputs_free(ck_outputs *o);   /* frees the arrays, leaves the struct zeroed */

/* ---- the comparison (eval.c) ---- */

typedef struct ck_repro {      /* one value, everything needed to reproduce it */
    int set;
    char case_name[128];
    int out;
    int64_t b, ts, t_label, label, V, count;  /* ts, t_label, label: -1 for sums and means */
    lp_format fmt;
    double y, ref_f;           /* candidate and correctly rounded reference, widened */
    lp_dd dd;                  /* the reference's high-precision value */
    lp_err_measure m;
    char note[200];
    int64_t jref;              /* internal: the judge's value index while its case is judged, else -1 */
} ck_repro;

typedef struct ck_group {
    char cls[96];
    int out;
    unsigned fmts;             /* candidate formats seen, bit (1 << fmt) */
    int64_t n, n_cr, n_mismatch, n_leak, n_over;
    int processed;             /* the values come from problems with SPEC A7 sampling parameters */
    int64_t n_keptset;         /* class mismatches that are kept-set disagreements: a processed
                                * token -inf where the reference is finite, or the reverse */
    double max_ulp, max_abs;
    uint64_t max_steps;        /* representable steps between y and the correctly rounded value */
    double *ulps;              /* err_ulp of every NUMBER / SAME_SPECIAL value, for the median */
    int ulps_sorted;           /* ulps is sorted (by ck_group_median) and nothing was added since */
    size_t nulps, capulps;
    ck_repro worst;            /* the first mismatch, else the largest err_ulp */
    /* baseline-relative */
    int64_t rel_n, rel_base_mismatch;
    double rel_cand_max, rel_base_max;
    const char *rel_kernel;    /* the baseline kernel of these values (static; NULL: none) */
    ck_repro rel_worst;
} ck_group;

enum {
    CK_D_LEAK,            /* sum NaN from a masked row */
    CK_D_EMPTY,           /* empty-sequence mean against the policy */
    CK_D_SHIFT_NONE,      /* tokens match row t scoring labels[t] */
    CK_D_SHIFT_LATE,      /* tokens match logits[:, 1:] against labels[:, 1:] */
    CK_D_SHIFT_NEXT,      /* shift-none case computed with shift next */
    CK_D_NO_TEMP,         /* temperature not applied */
    CK_D_TEMP_MUL,        /* logits multiplied by tau */
    CK_D_OVERFLOW,        /* -inf where the value is finite: the row's range overflows a format */
    CK_D_FAITHFUL,        /* not correctly rounded, but within one step (faithful) */
    CK_D_BATCH,           /* batch invariance broken */
    CK_D_KERNEL_ERR,      /* the kernel returned an error */
    CK_D_SKIP,            /* a case the kernel cannot take */
    CK_D_NO_BASELINE,     /* the baseline cannot run a case */
    CK_D_NOTE,            /* transformations applied, informational */
    CK_ND
};

typedef struct ck_diag {
    int64_t n;
    char example[400];
    char fix[240];             /* a fix naming this example's specifics; "" for the kind's own */
} ck_diag;

/* Which tier decided what, for the JSON and the certificate (judge.c). values: values judged
 * with a fast reference; enclosure: settled from the reference's own enclosure (tier 1, tier 2 or
 * the MPFR fallback of the fast reference); tier2: tokens re-enclosed by tier 2 to settle them;
 * mpfr_tokens / mpfr_seqs: tokens and sequences recomputed by the all-MPFR route. */
typedef struct ck_judge_stats {
    int64_t values, enclosure, tier2, mpfr_tokens, mpfr_seqs;
    int used;                  /* the enclosure-based judge ran */
} ck_judge_stats;

/* What ck_diagnose_case decides a case's case-level diagnoses from (diag.c): the counts of its
 * overflow and mistake tests, summed over the case's sequences. A run judging rows of one case
 * (ck_run.rows: a shard of its sequences, check/shard.c) keeps these counts instead of deciding,
 * and the merge decides once from the sums: the 90% rule and "N of M explained" read the whole
 * case. */
#define CK_NHYP 5
typedef struct ck_case_tally {
    int set;                   /* counts were added */
    char name[128];            /* the case */
    int applies[CK_NHYP];      /* the mistake applies to the case (shift, temperature) */
    int64_t wrong_tok, wrong_sum, match_tok[CK_NHYP], match_sum[CK_NHYP];
    int64_t ovf_n, ovf_explained;   /* -inf values where the reference is finite; explained */
    char ovf_first[420], ovf_fix[240];   /* the first explained one (sequence order) and its fix */
} ck_case_tally;

typedef struct ck_run {
    ck_options opt;
    ck_group *g;
    size_t ng, capg;
    int64_t cases, values;
    /* conventions */
    int64_t hazard_seqs, leaked_seqs;                    /* masking */
    int64_t empty_seqs, empty_nan, empty_zero, empty_other, empty_as_policy;
    int64_t empty_policy_nan, empty_policy_zero;          /* what the cases asked */
    /* batch invariance (certify) */
    int64_t batch_checks, batch_fail;
    ck_diag d[CK_ND];
    /* The enclosure-based judge (judge.c): set by a route around ck_judge / ck_run_case when its
     * reference came from ck_ref_compute with enclosures (NULL: values judged from ref's dd). */
    const struct lp_ref_enc *renc;
    int one_case;              /* the route judges exactly one case (the median is settled in it) */
    ck_judge_stats js;
    /* Rows of one case (a shard of its sequences, check/shard.c): b0 is added to every sequence
     * index the run reports; with rows set, ck_run_case adds the case's diagnosis counts to tally
     * and leaves the decision to ck_diagnose_decide (the merge). */
    int64_t b0;
    int rows;
    ck_case_tally tally;
    /* Gradients (certify of a kernel with a backward entry): one judge per reduction, owned by the
     * run (created on first use by ck_run_grad, freed by ck_run_free); NULL where none ran. */
    struct lp_grad_check *grad[4];
} ck_run;

lp_status ck_run_init(ck_run *r, const ck_options *opt, lp_error *err);
void ck_run_free(ck_run *r);
/* Compares one case. cls: its class ("normal/f32"); ref: lp_ref_compute on pb (or a suite's
 * expected values); base: the baseline's outputs on pb, or NULL. */
/* Judges one case's candidate outputs as every route does: the baseline's outputs when the run has
 * a baseline or the default bound (ck_run_baseline), then ck_run_case; the formats seen are or-ed
 * into fm (bit 1 << fmt per output), for ck_cand_text. */
lp_status ck_judge(ck_run *r, const char *name, const char *cls, const lp_problem *pb,
                   const lp_ref_result *ref, const ck_outputs *cand, unsigned fm[CK_NOUT],
                   lp_error *err);
lp_status ck_run_case(ck_run *r, const char *name, const char *cls, const lp_problem *pb,
                      const lp_ref_result *ref, const ck_outputs *cand, const ck_outputs *base,
                      lp_error *err);
/* The baseline outputs for cand on pb under r's bound: --vs-baseline's kernel, or with the default
 * bound each output's plain kernel (ck_default_baseline of its format); *have 0 (base empty) when
 * no baseline applies or it cannot read pb (then a CK_D_NO_BASELINE diagnosis names the case). */
lp_status ck_run_baseline(ck_run *r, ck_outputs *base, const char *name, const lp_problem *pb,
                          const ck_outputs *cand, int *have, lp_error *err);
void ck_run_diag(ck_run *r, int kind, const char *fmt, ...) LP_PRINTF(3, 4);
int ck_run_failed(const ck_run *r);        /* nothing compared counts as a failure */
/* The gradient judge of reduction red (created with r's bounds: max_ulp and max_abs of the token
 * output, when given), or NULL with err set. */
struct lp_grad_check *ck_run_grad(ck_run *r, lp_reduction red, lp_error *err);
/* check/grad.c for the reports of a run holding gradients: 1 when one fails; elements compared; the
 * text table; the JSON object; the certificate's rows. */
int ck_grad_failed(const struct lp_grad_check *c);
int64_t ck_grad_elements(const struct lp_grad_check *c);
struct cJSON *ck_grad_json(struct lp_grad_check *c);
/* JSON numbers of every report of check/ (report.c): the shortest of %.15g, %.16g, %.17g that
 * reads back as v; ck_json_num adds it (NaN as null, infinities as strings), ck_json_hex the bit
 * pattern of v in format f. */
const char *ck_shortest(char *buf, size_t n, double v);
void ck_json_num(struct cJSON *o, const char *k, double v);
void ck_json_hex(struct cJSON *o, const char *k, double v, lp_format f);
void ck_grad_cert_rows(FILE *f, struct lp_grad_check *c);
int ck_run_any_failure(const ck_run *r);   /* a failing group, batch failure or kernel error */
int ck_group_failed(const ck_run *r, const ck_group *g);
int ck_group_rel_failed(const ck_run *r, const ck_group *g);
/* Whether the relative bound covers a value whose baseline measures bm (SPEC A5): a baseline
 * that is a number; under the default bound any baseline (never "classes only"). */
int ck_rel_covers(const ck_options *o, const lp_err_measure *bm);
/* The values of g where the baseline gave a number (rel_base_max is over these). */
int64_t ck_group_base_numbers(const ck_run *r, const ck_group *g);
/* The baseline-relative bound of g in ulp, without the 2^-20 slack: factor * max_base_ulp, and
 * at least CK_DEFAULT_FLOOR under the default bound. */
double ck_group_rel_bound(const ck_run *r, const ck_group *g);
double ck_group_median(ck_group *g);   /* sorts g->ulps once (the table, JSON and certificate ask) */

/* ---- diagnoses (diag.c) ---- */

/* 1 if the non-counted scored row (b, ts) could make a multiply-masked sum NaN: it holds NaN or
 * +inf, is all -inf, or is -inf at its label (when in [0, V)) or at the dummy label 0; what names
 * the row as sequence b0 + b (b0: ck_run.b0). */
int ck_row_hazard(const lp_problem *pb, int64_t b, int64_t ts, int64_t b0, char *what, size_t cap);
/* Tries the usual mistakes (wrong shift, temperature ignored or multiplied) on a case whose values
 * differ from the reference, and records the ones that explain the candidate. */
void ck_diagnose_case(ck_run *r, const char *name, const lp_problem *pb, const lp_ref_result *ref,
                      const ck_outputs *cand, const uint8_t *wrong_tok, const uint8_t *wrong_sum);
/* ck_diagnose_case in two steps: the counts of a case (or of rows of it: sequences reported as
 * r->b0 + b) added into t, and the decision from a case's summed counts. */
void ck_diagnose_tally(ck_case_tally *t, const ck_run *r, const char *name, const lp_problem *pb,
                       const lp_ref_result *ref, const ck_outputs *cand, const uint8_t *wrong_tok,
                       const uint8_t *wrong_sum);
void ck_diagnose_decide(ck_run *r, const ck_case_tally *t);
/* b's counts added to a's; b holds later sequences of the same case (its first example counts
 * only where a has none). */
void ck_case_tally_add(ck_case_tally *a, const ck_case_tally *b);
/* Whether a value is "wrong" for the diagnoses: a class mismatch, or err_ulp > 64 and err_abs >
 * 2^-10 max(1, |x_hi|) (x_hi: the reference's f64). NaN candidates are not (class diagnoses). */
int ck_is_wrong(double y, const lp_err_measure *m, double x_hi);
/* Representable steps between two finite values of format f (widened to double). */
uint64_t ck_format_steps(double a, double b, lp_format f);

/* ---- report (report.c) ---- */

typedef struct ck_file {
    const char *role;          /* "suite", "candidate", "logits", "plugin", ... */
    const char *path;
    char sha256[65];
} ck_file;

typedef struct ck_header {
    const char *command;       /* "check" or "certify" */
    const char *suite;         /* one line describing the suite */
    const char *candidate;     /* one line describing the candidate */
    ck_file files[8];
    int nfiles;
    char extra[8][160];        /* further "key: value" lines (seed, seconds, kernel...) */
    int nextra;
    const char *repro;         /* the command that reruns this report (shell-quoted), or NULL */
    int repro_cases;           /* 1: repro takes --cases 'NAME' to rerun one case */
    int failures_only;         /* the table lists the failing groups only */
} ck_header;

/* "what: outputs logp (f32), sum (f64)": the candidate line of the header, from the formats each
 * output came in (fm as ck_judge fills it). */
void ck_cand_text(char *buf, size_t n, const char *what, const unsigned fm[CK_NOUT]);
struct ck_suite;
/* "path: N cases matching GLOB, from GENERATOR, seed S": the suite line of the header. */
void ck_suite_text(char *buf, size_t n, const struct ck_suite *su, const char *path,
                   const char *glob);
/* Lists path (copied into store, which must hold it) under role in h with its SHA-256; a path
 * already listed, or a ninth file, is left out. */
lp_status ck_header_add_file(ck_header *h, const char *role, const char *path, char *store,
                             lp_error *err);
void ck_report_table(FILE *f, ck_run *r, const ck_header *h);
/* The command line argv[1..argc) of `lpcert CMD` rebuilt, shell-quoted, for h->repro: without the
 * options that only choose outputs (--json, --certificate, --save-candidate, --quiet,
 * --failures-only) or cases (--cases; certify's --seconds becomes --seconds 0). */
void ck_repro_command(char *buf, size_t n, const char *cmd, int argc, char **argv);
/* One line naming r's first failure (a group's worst value: got, want, error, bound; else a
 * batch-invariance change or a kernel error); "" when ck_run_any_failure(r) is 0. */
void ck_report_first_failure(char *buf, size_t n, const ck_run *r);
lp_status ck_report_json(const char *path, ck_run *r, const ck_header *h, lp_error *err);
lp_status ck_report_certificate(const char *path, ck_run *r, const ck_header *h, lp_error *err);

/* ---- hashes (hash.c) ---- */

lp_status ck_sha256_file(char hex[65], const char *path, lp_error *err);
typedef struct ck_sha ck_sha;   /* incremental, for content digests */
ck_sha *ck_sha_new(void);
void ck_sha_update(ck_sha *s, const void *p, size_t n);
void ck_sha_final(ck_sha *s, char hex[65]);   /* frees s */

/* ---- suite and candidate files (input.c) ---- */

typedef struct ck_case {
    char name[128];
    char family[64];
    char cls[96];              /* family/dtype */
    lp_problem pb;             /* points into the suite's mapping (and mask_own) */
    uint8_t *mask_own;         /* the mask as 0/1 bytes */
    int has_expected;
} ck_case;

typedef struct ck_suite {
    const char *path;
    lp_tfile *f;
    ck_case *c;
    size_t n;
} ck_suite;

/* Opens a suite (lpcert gen output, or any file of case/<name>/logits, labels [, mask] with
 * parameters in __metadata__); keeps the cases whose names match the glob (NULL: all). */
lp_status ck_suite_open(ck_suite *s, const char *path, const char *glob, lp_error *err);
void ck_suite_close(ck_suite *s);
/* The reference of case i: its expected values from the suite, or computed when the suite holds
 * none (or recompute is set). */
lp_status ck_suite_ref(lp_ref_result *ref, const ck_suite *s, size_t i, int recompute, int threads,
                       lp_error *err);

/* Binds a mask tensor ([B, T], U8/BOOL/I64/I32 of 0 and 1) into a malloc'd byte array. */
/* Reads one candidate output tensor t (F64/F32/F16/BF16, or a .npy '<u2' read as bf16) into arr,
 * checking it against the shape want (ndim 1 or 2); what names it in errors, hint is appended. */
lp_status ck_output_load(ck_array *arr, const lp_tensor *t, int ndim, const int64_t *want,
                         int lenient_b1, const char *what, const char *hint, lp_error *err);
/* Checks every tensor of a candidate file against the suite (names, dtypes, shapes; every kept
 * case present) before anything is compared; then loads case i's outputs. */
lp_status ck_candidate_validate(const lp_tfile *cf, const char *cpath, const ck_suite *s,
                                lp_error *err);
lp_status ck_candidate_load(ck_outputs *o, const lp_tfile *cf, const char *cpath,
                            const ck_suite *s, size_t i, lp_error *err);
int ck_glob_match(const char *glob, const char *name);
/* The files route (`lpcert check SUITE CANDIDATE`, lp_check_suite_compare): every case of su
 * judged into r against candidate file cf (validated), its formats or-ed into fm (ck_judge);
 * progress (NULL: none) gets (i, n) before case i. */
lp_status ck_suite_compare(ck_run *r, const ck_suite *su, const lp_tfile *cf, const char *cand_path,
                           int recompute, unsigned fm[CK_NOUT], void (*progress)(size_t, size_t),
                           lp_error *err);

/* ---- kernels run in-process: plugins and built-ins (kernel.c, builtin.c) ---- */

typedef struct ck_kernel {
    const lp_plugin *p;
    void *dl;                  /* dlopen handle, NULL for a built-in */
    char spec[512];            /* as given on the command line */
    char path[512];            /* the library file, "" for a built-in */
    char symbol[128];
    void *builtin_state;
} ck_kernel;

/* The lp_problem a plugin's problem describes (labels int64, as the ABI passes them); borrowed. */
lp_problem ck_problem_of_plugin(const lp_plugin_problem *pp);
lp_status ck_kernel_open_plugin(ck_kernel *k, const char *spec, lp_error *err);
/* A kernel given as a description in memory (lp_check_certify_kernel), checked as a plugin's is;
 * p must outlive k. */
lp_status ck_kernel_open_given(ck_kernel *k, const lp_plugin *p, lp_error *err);
void ck_kernel_close(ck_kernel *k);
/* Runs k on pb. *skip is set (to a static reason) when k cannot take pb; *kfail to 1 with the
 * kernel's message in kmsg when it returns an error; both leave out empty. Transformations k's
 * capabilities require are applied (see lpcert_plugin.h). */
lp_status ck_kernel_run(const ck_kernel *k, const lp_problem *pb, ck_outputs *out,
                        const char **skip, int *kfail, char *kmsg, size_t kmsg_size, lp_error *err);
/* The problem as k sees it for the purpose of diagnoses: pb with the labels k is given (mask
 * folded into labels without LP_PLUGIN_CAP_MASK, ignore_index -100 without _IGNORE_INDEX), same
 * shape and shift; the reference is the same. *labels_own (and the view) are freed by the caller
 * with free(); a view of pb itself when nothing changes. */
/* Runs k's backward entry (ABI 2) on pb for reduction red: *grad = the gradient [B, T, V] of pb
 * (the caller frees it) in *gfmt; *skip a reason when the kernel has no backward entry, not that
 * reduction, or not pb's format or temperature; *kfail with kmsg when the kernel returned an error. */
lp_status ck_kernel_backward(const ck_kernel *k, const lp_problem *pb, lp_reduction red,
                             void **grad, lp_format *gfmt, const char **skip, int *kfail,
                             char *kmsg, size_t kmsg_size, lp_error *err);
lp_status ck_kernel_view(lp_problem *view, int64_t **labels_own, const ck_kernel *k,
                         const lp_problem *pb, lp_error *err);
/* Runs k on pb and judges it into r as certify does (ck_kernel_run, the reference given_ref or
 * lp_ref_compute when NULL, the baseline, ck_kernel_view, ck_run_case, ck_batch_check with bseed
 * unless r->opt.batch is off). *ran: 1 judged, 0 skipped (recorded as CK_D_SKIP), -1 the kernel
 * returned an error (recorded as CK_D_KERNEL_ERR). */
lp_status ck_kernel_judge(ck_run *r, const ck_kernel *k, const char *name, const char *cls,
                          const lp_problem *pb, const lp_ref_result *given_ref, uint64_t bseed,
                          int *ran, lp_error *err);
/* Batch invariance of k on pb (full: its outputs on the whole batch): sequences alone and in a
 * larger batch at another position. Records checks and failures in r. */
lp_status ck_batch_check(ck_run *r, const ck_kernel *k, const char *name, const lp_problem *pb,
                         const ck_outputs *full, uint64_t seed, lp_error *err);

/* Built-in kernels (impl/, when built): */
int ck_builtin_available(void);
/* The baseline's outputs on pb: *ok 0 (and out empty) when it cannot read pb's logits. f64
 * logits are rounded to f32 first for an f32 kernel (as logits.float() does). */
lp_status ck_baseline_run(ck_outputs *out, const char *name, const lp_problem *pb, int *ok,
                          const char **why, lp_error *err);
int ck_builtin_known(const char *name);
/* Wraps a built-in kernel in the plugin ABI (for `certify --kernel`). */
lp_status ck_kernel_open_builtin(ck_kernel *k, const char *name, lp_error *err);
void ck_builtin_close(ck_kernel *k);

/* ---- the enclosure-based judge (judge.c) ---- */

struct lp_ref_enc;
/* One value as the judge sees it: the candidate y and the baseline bv (has_base) in format F
 * against the reference value want (its dd exact when level == 2 or exact is set); m and bm are
 * the exact measures where mex / bex, otherwise the low ends of intervals guaranteed to hold the
 * measure the all-MPFR route gives (ulo = m.err_ulp, alo = m.err_abs; uhi, ahi, buhi the high
 * ends). */
typedef struct ck_jval {
    int out, leak, diag_only, exact, level, mex, bex, has_base, mark;
    int64_t b, ts, i;
    lp_format F;
    double y, bv, ref_f;
    lp_value want;
    lp_err_measure m, bm;
    double uhi, ahi, buhi;
    double xl, xh;             /* the reference value lies in [xl, xh] */
    double p, clo, chi;        /* and in p + [clo, chi] (p NaN: none) */
    int wrong;                 /* ck_is_wrong of the reference value (diagnoses), once decided */
} ck_jval;

typedef struct ck_jcase {
    ck_jval *v;
    int64_t n;
    size_t cap;
    const lp_problem *pb;
    const lp_ref_result *ref;
    const struct lp_ref_enc *enc;
    const char *cls;           /* the case's class: its groups */
} ck_jcase;

/* Adds one value; want the reference value for it (after the overrides of the semantics), exact
 * when its dd holds (special values and overrides) or the token/sequence is not enclosed. */
lp_status ck_jcase_add(ck_jcase *c, int out, int64_t b, int64_t ts, int64_t i, const lp_value *want,
                       int exact, double y, lp_format F, int has_base, double bv, int diag_only,
                       lp_error *err);
/* Phase 1 (intervals) and phase 2 (refinement of every value that could change an output of r:
 * judge.c, RULES) of the values of one case. */
lp_status ck_jcase_settle(ck_run *r, ck_jcase *c, lp_error *err);
/* After the values were accumulated: the double-double of every repro that points at one of
 * c's values (the all-MPFR route's), and jref cleared. */
lp_status ck_jcase_patch(ck_run *r, ck_jcase *c, lp_error *err);
void ck_jcase_free(ck_jcase *c);
/* Tests and fz_judge set it: ck_jcase_patch then recomputes every value by the all-MPFR route and
 * asserts that each interval holds the exact measure and each exact one equals it (LP_ASSERT). */
extern int ck_judge_verify;
int ck_repro_rank(const ck_repro *w, const ck_options *o);
int ck_within_bounds(const ck_options *o, int out, const lp_err_measure *m);

/* The reference for judging cand on pb under r's options: with r->opt.slow every output from the
 * all-MPFR route (enc zeroed); otherwise the formats of cand's outputs from the fast tiers, with
 * their enclosures in enc (free both with ck_ref_free). */
lp_status ck_ref_compute(lp_ref_result *ref, struct lp_ref_enc *enc, const ck_run *r,
                         const lp_problem *pb, const ck_outputs *cand, lp_error *err);
void ck_ref_free(lp_ref_result *ref, struct lp_ref_enc *enc);
/* The route of one case alone (`lpcert check --logits`, lp_check_one): r, new from ck_run_init,
 * is marked one_case (RULES (f): its median is settled within this case, so no other case may be
 * judged into r after it), the reference comes from ck_ref_compute with its enclosures, and cand
 * is judged from them by ck_judge (name, cls, fm as there). The reports equal those of the
 * all-MPFR route (r->opt.slow) byte for byte. */
lp_status ck_judge_single(ck_run *r, const char *name, const char *cls, const lp_problem *pb,
                          const ck_outputs *cand, unsigned fm[CK_NOUT], lp_error *err);
/* The options of a public run (check/api.c); tests set slow there to compare with --slow. */
struct lp_check;
ck_options *ck_check_options(struct lp_check *c);

/* check/grad.c: judges a candidate gradient of case name against the expected gradients a suite
 * stores (lpcert gen --grad R: case/<name>/expected/grad.{f64,f32,f16,bf16,lo}, metadata
 * case/<name>/grad_of) when they are there for the run's reduction (*used = 1); *used = 0 (and
 * nothing judged) otherwise. */
struct lp_grad_check;
lp_status ck_grad_check_stored(struct lp_grad_check *c, const lp_tfile *suite, const char *name,
                               const char *cls, const lp_problem *pb, lp_format fmt,
                               const void *grad, int *used, lp_error *err);

#endif
