/* report/lp_report.h: what the files of `lpcert report` share (cmd_report.c drives them).
 *
 *   cases.c  the cases: the committed corpus (vectors/corpus, one file per family), the generated families
 *                   of the standard suite, and the report's own families (near_zero, pair_exh)
 *   run.c    the exact reference once per case, every selected kernel against it (the
 *                   comparison is check's: ck_run_case), histograms and error against logp
 *   sweep.c  sum versus mean against sequence length, and the DPO margin
 *   svg.c    the figures, written as SVG directly
 *   md.c     docs/ACCURACY.md (tables and the prose derived from the figures)
 *   json.c   the JSON file with every figure
 *
 * Everything written is a function of the options (seed, selections, --quick) only: no time, no
 * path, no thread count; threads only split independent kernels.
 */
#ifndef LP_REPORT_H
#define LP_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "lp_buf.h"
#include "lp_check_internal.h"
#include "lp_impl.h"
#include "lp_suite.h"

/* ---- cases ------------------------------------------------------------------------------------ */

typedef struct rp_case {
    char name[128];        /* "<family>/<dtype>/<k>" */
    char family[64];       /* "normal", "corpus.peaked", "near_zero", ... */
    char cls[96];          /* "<family>/<dtype>": the group of check's comparison */
    int exhaustive;        /* the case enumerates every input of a small domain (tokens) */
    lp_problem pb;
    lp_case own;           /* the owned arrays (corpus and report families; pb points into
                            * own.logits, own.labels, own.mask); empty for the suite's cases */
    lp_ref_result ref;     /* the exact reference, computed once */
} rp_case;

typedef struct rp_cases {
    rp_case *v;
    size_t n, cap;
    lp_case_list suite;    /* the generated families, owning their arrays */
    int64_t tokens, logits; /* scored tokens and logits read by the reference */
} rp_cases;

typedef struct rp_options {
    const char *out_dir, *json, *corpus;
    const char *kernels, *families;   /* comma-separated globs, NULL: all */
    uint64_t seed;
    int threads, quick;
} rp_options;

/* Builds the selected cases (corpus, suite, report families), in a fixed order. */
lp_status rp_cases_build(rp_cases *cs, const rp_options *o, lp_error *err);
void rp_cases_free(rp_cases *cs);
/* 1 if name matches one glob of the comma-separated list (NULL: everything matches). */
int rp_list_match(const char *list, const char *name);
/* Every family name the report knows, for --help and --families checks. */
int rp_family_known(const char *glob, const rp_options *o);
extern const char rp_exhaustive_domain[];   /* the domain of the exhaustive family, in words */

/* ---- per-kernel results ----------------------------------------------------------------------- */

#define RP_NLBINS 44        /* |logp| bins: 10^(-40 + k) .. 10^(-39 + k), k = 0..42, then +inf */
#define RP_LBIN_LO (-40)
#define RP_NHBINS 40        /* err_ulp bins: 0, then (2^(k-11), 2^(k-10)] for k = 1..38, then more */
#define RP_HBIN_LO (-10)

typedef struct rp_lbin {
    int64_t n;
    double max_ulp, max_abs, max_rel;
} rp_lbin;

typedef struct rp_stat {      /* one output of one kernel over a set of values */
    int64_t n, n_num, n_mismatch, n_leak;
    double max_ulp, p50, p99, max_abs;
    int exhaustive;
} rp_stat;

typedef struct rp_kernel {
    const lp_kernel *k;
    ck_run run;              /* check's comparison: groups per class and output, conventions */
    int64_t cases, kernel_errors;
    char first_error[256];
    rp_lbin lbins[LP_NFORMATS][RP_NLBINS];   /* tokens, per logits dtype */
    int64_t hist[LP_NFORMATS][CK_NOUT][RP_NHBINS];
    rp_stat tot[LP_NFORMATS][CK_NOUT];       /* over every family of one dtype */
    rp_stat typ[LP_NFORMATS][CK_NOUT];       /* the same but the overflow families */
    rp_stat ovf[LP_NFORMATS][CK_NOUT];       /* the overflow families alone */
    rp_stat all[CK_NOUT];                    /* over every case of the standard suite */
    rp_stat *gstat;                          /* [run.ng]: per group of run (class x output) */
} rp_kernel;

typedef struct rp_kernels {
    rp_kernel *v;
    size_t n;
} rp_kernels;

lp_status rp_kernels_select(rp_kernels *ks, const char *globs, lp_error *err);
void rp_kernels_free(rp_kernels *ks);
/* The exact reference of every case, then every kernel on every case it reads. */
lp_status rp_run_reference(rp_cases *cs, const rp_options *o, lp_error *err);
lp_status rp_run_kernels(rp_kernels *ks, const rp_cases *cs, const rp_options *o, lp_error *err);
/* Statistics of a group of check's run (sorts its values). */
void rp_group_stat(rp_stat *st, ck_group *g);
int rp_hist_bin(double err_ulp);               /* the histogram bin of one error */
double rp_hist_edge(int bin);                  /* upper edge of a bin, in ulp */
/* The families whose logits overflow the format on purpose (NULL-terminated), kept apart from
 * the typical figures of the main table; 1 if fam is one of them. */
extern const char *const rp_overflow_families[];
int rp_family_overflow(const char *fam);
const char *rp_masking_key(const ck_run *r);   /* "assign", "mul", "inconsistent", "undetermined" */
const char *rp_empty_key(const ck_run *r);     /* "nan", "zero", "case", "mixed", "undetermined" */

/* Runs fn(ctx, i) for i in [0, n) on up to threads threads (0: one per CPU). Each i is done once,
 * by one thread; the caller must make results independent of which thread did what. */
lp_status rp_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t i), void *ctx,
                      lp_error *err);

/* ---- sum versus mean -------------------------------------------------------------------------- */

#define RP_MAXLEN 40

typedef struct rp_sweep_pt {   /* one kernel, one length */
    double sum_ulp, mean_ulp, sum_ulp50, mean_ulp50;  /* max and median over sequences */
    double sum_abs, mean_abs, sum_rel, mean_rel;      /* max over sequences */
    double msum_abs, mmean_abs;                       /* DPO margin errors, max over quads */
    double msum_rel, mmean_rel;                       /* median over quads of |err| / |margin| */
    double msum_abs50, mmean_abs50;                   /* median over quads */
    double margin_sum, margin_mean;                   /* median |exact margin| */
} rp_sweep_pt;

typedef struct rp_sweep_k {
    const lp_kernel *k;
    rp_sweep_pt pt[RP_MAXLEN];
    int64_t nonfinite;       /* sequences where the kernel's sum or mean was not a number */
} rp_sweep_k;

typedef struct rp_sweep {
    int nlen;
    int64_t len[RP_MAXLEN];
    int64_t B, V, quads;     /* sequences per length (4 per DPO quad), vocabulary */
    double mean_logp;        /* mean exact logp over every sweep token */
    rp_sweep_k *k;
    size_t nk;
    int64_t tokens;
} rp_sweep;

/* Kernels of the sweep: among the selected ones, twopass and accurate with default conventions. */
lp_status rp_sweep_run(rp_sweep *sw, const rp_kernels *ks, const rp_options *o, lp_error *err);
void rp_sweep_free(rp_sweep *sw);
const rp_sweep_k *rp_sweep_find(const rp_sweep *sw, const char *kernel);

/* ---- output ----------------------------------------------------------------------------------- */

/* ---- processed log-probs (processed.c) ------------------------------------------------------- */

/* The kernels of impl/lp_pkernel.h on generated rows with sampling parameters, against the exact
 * reference: ulps and kept-set disagreements per kernel, logits format and parameter set. Run
 * when the family selection matches "processed" (or is empty). */
typedef struct rp_processed rp_processed;
lp_status rp_processed_run(rp_processed **out, const rp_options *o, lp_error *err);
void rp_processed_free(rp_processed *p);

/* ---- gradients (gradient.c) ------------------------------------------------------------------ */

/* The backward kernels of impl/lp_grad.h on generated cases in every logits format they read, for
 * every reduction, judged by check's gradient engine (lp_grad_check), and the label element's
 * relative error against 1 - p_y. Run when the family selection matches "gradients" (or is
 * empty). */
typedef struct rp_gradient rp_gradient;
lp_status rp_gradient_run(rp_gradient **out, const rp_options *o, lp_error *err);
void rp_gradient_free(rp_gradient *p);

typedef struct rp_report {
    const rp_options *o;
    rp_cases *cs;
    rp_kernels *ks;
    rp_sweep *sw;
    rp_processed *pk;        /* NULL: no section */
    rp_gradient *gr;         /* NULL: no section */
} rp_report;



/* A line plot. dash: 0 solid, k > 0 the k-th dash pattern; marker: 0 none, k > 0 the k-th
 * (hollow) marker shape; points with y <= 0 on a log axis are left out. An unnamed series belongs
 * to the legend entry of the named one before it; the legend says where an entry coincides with
 * an earlier one. */
typedef struct rp_series {
    const char *name;
    int color, dash, marker;
    int n;
    const double *x, *y;
} rp_series;

typedef struct rp_plot {
    const char *title, *xlabel, *ylabel;
    int logx, logy;          /* 0 linear, 2 or 10: log axis, ticks at powers of that base */
    double xmin, xmax, ymin, ymax;   /* ranges; equal bounds: from the data */
    const rp_series *s;
    int ns;
    const char *note;        /* one line under the title, or NULL */
    double ycap, yfloor;     /* > 0: the y axis ends at most at ycap, starts at least at yfloor;
                              * points beyond are marked by arrows and counted under the legend */
} rp_plot;

/* Writes the plot as an SVG document to path (atomically). */
lp_status rp_svg_write(const char *path, const rp_plot *p, lp_error *err);

/* A growing string: core/lp_buf.h's, under the report's short names (free with lp_text_free).
 * Files are written with lp_write_file_atomic (core/lp_file.h). */
typedef lp_text rp_buf;
#define rp_printf lp_text_printf

/* 1 if k is the plain member of its family: "<family>_<storage>" or "<family>_<storage>_accNN". */
int rp_kernel_base(const lp_kernel *k);
/* 1 if the cases of class cls enumerate their domain exhaustively. */
int rp_class_exhaustive(const rp_cases *cs, const char *cls);

/* JSON numbers of the report (json.c): a figure to 6 significant digits, a count exactly. */
struct cJSON;
struct cJSON *rp_json_fig(double v);
struct cJSON *rp_json_count(int64_t n);

/* The section of ACCURACY.md and the "processed" object of the JSON (root: a cJSON object). */
void rp_processed_markdown(rp_buf *b, const rp_report *r);
void rp_processed_json(void *root, const rp_report *r);
/* The gradient section of ACCURACY.md, the "gradients" object of the JSON, figures/grad_label.svg. */
void rp_gradient_markdown(rp_buf *b, const rp_report *r);
void rp_gradient_json(void *root, const rp_report *r);
lp_status rp_gradient_figure(const rp_report *r, lp_error *err);
lp_status rp_figures_write(const rp_report *r, lp_error *err);
lp_status rp_families_write(const rp_report *r, lp_error *err);
/* The prose of ACCURACY.md (prose.c), derived from the figures. */
void rp_prose_paragraph(rp_buf *b, const rp_report *r);   /* "In one paragraph", at the top */
void rp_prose_conclusions(rp_buf *b, const rp_report *r);
void rp_prose_method(rp_buf *b, const rp_report *r);
void rp_prose_sweep(rp_buf *b, const rp_report *r);
void rp_prose_dpo(rp_buf *b, const rp_report *r);
void rp_prose_near_zero(rp_buf *b, const rp_report *r);
void rp_prose_summary(FILE *f, const rp_report *r);
lp_status rp_markdown_write(const rp_report *r, lp_error *err);
lp_status rp_json_write(const rp_report *r, lp_error *err);
/* The short summary table of ./run. */
void rp_summary_print(FILE *f, const rp_report *r);


#endif
