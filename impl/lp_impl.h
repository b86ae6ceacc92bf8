/* impl/lp_impl.h: the built-in fixed-width kernels under test and their contracts.
 *
 * A kernel is a registry entry: a row family (naive, twopass, online, lse, accurate), the storage
 * format of the logits it reads, the format it accumulates in, the format of its outputs, and its
 * conventions (masking, empty mean, out-of-range labels, +inf rows, sequence reduction, mean,
 * temperature). Names follow the grammar
 *
 *     <family>_<storage>[_acc<bits>][_<variant>]      twopass_f32, twopass_bf16_acc16,
 *                                                      twopass_f32_mulmask, lse_bf16_acc32, ...
 *
 * (_acc<bits> only for f16/bf16 storage: acc32 computes in f32 and rounds the outputs to the
 * storage format; acc16 rounds every operation to the storage format.)
 *
 * Every kernel promises a bound (its CONTRACT, proved in the comment that opens impl/<family>.c and
 * impl/reduce.c): lp_kernel_promise_* turn the exact reference value and the row into the outcome
 * the contract allows (a number within an absolute bound of the exact value, or a declared special
 * class), and lp_kernel_judge holds a kernel's output to it. Tests, fuzzers, `lpcert check
 * --vs-baseline` and `lpcert report` all go through these functions.
 *
 * Outputs are values of the kernel's output format widened exactly to double.
 * The library never prints and never exits.
 */
#ifndef LP_IMPL_H
#define LP_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- what a kernel is -------------------------------------------------------------------------
 * Enum values are stable: append, never renumber. */

typedef enum lp_kfamily {
    LP_KF_NAIVE = 0,     /* log(sum exp(x_i)) without a max shift: overflows on large logits */
    LP_KF_TWOPASS = 1,   /* max, then sum exp(x_i - m): the common framework kernel */
    LP_KF_ONLINE = 2,    /* one pass, running max and rescaled sum (flash-style) */
    LP_KF_LSE = 3,       /* x_y - logsumexp(x), logsumexp = m + log(sum exp(x_i - m)) (TRL) */
    LP_KF_ACCURATE = 4   /* (x_y - m) - log1p(non-max mass), exact shifts, compensated sums */
} lp_kfamily;
#define LP_NKFAMILIES 5

typedef enum lp_kmask {
    LP_KMASK_ASSIGN = 0, /* masked tokens are set to 0: whatever their rows hold, nothing leaks */
    LP_KMASK_MUL = 1     /* sum of logp * mask over all positions, the label of a masked position
                          * replaced by 0 when out of range (DPO reference code): NaN, +inf or a
                          * -inf at that dummy label in a masked row make the sum NaN (0*inf) */
} lp_kmask;

typedef enum lp_koob {
    LP_KOOB_ERROR = 0,   /* a label outside [0, V) that is not ignore_index: LP_ERR_INPUT (A3) */
    LP_KOOB_ZERO = 1     /* such a label silently gives logp = 0, counted (flash-attn) */
} lp_koob;

typedef enum lp_kinf {
    LP_KINF_NAN = 0,     /* a row holding +inf gives NaN (SPEC A3 rule 1) */
    LP_KINF_LOGINF = 1   /* log of an infinite sum: -inf for a finite label, NaN for a +inf one */
} lp_kinf;

typedef enum lp_kreduce {
    LP_KRED_SEQ = 0,      /* left to right in the accumulation format */
    LP_KRED_PAIRWISE = 1, /* recursive halving in the accumulation format */
    LP_KRED_KAHAN = 2,    /* Neumaier's compensated sum in the accumulation format */
    LP_KRED_F64 = 3       /* left to right in f64, rounded once to the output format */
} lp_kreduce;

typedef enum lp_kmean {
    LP_KMEAN_DIV = 0,     /* mean = sum / n, sum already rounded to the output format */
    LP_KMEAN_RUNNING = 1  /* mu += (y - mu) / k over the counted tokens; a -inf token followed by
                           * any other gives (y + inf)/k = +inf, -inf + inf = NaN: the mean is NaN
                           * (or -inf) where the exact mean is -inf */
} lp_kmean;

typedef enum lp_ktemp {
    LP_KTEMP_DIV = 0,      /* each logit divided by tau in the accumulation format (acc16: as a
                            * bf16/f16 tensor op does, x / RN_f32(tau) in f32 then rounded) */
    LP_KTEMP_MULINV = 1,   /* each logit times RN(1/tau) */
    LP_KTEMP_STORAGE = 2,  /* logits divided in place in the storage format (x / tau computed in f32,
                            * rounded to f16/bf16) before the kernel runs, as some trainers do */
    LP_KTEMP_SHIFTDIV = 3  /* the exact difference x_i - m divided by tau (accurate family) */
} lp_ktemp;

typedef struct lp_kernel {
    const char *name;
    lp_kfamily family;
    lp_format storage;      /* logits it reads (lp_kernel_accepts: and any format it widens exactly) */
    lp_format acc;          /* format every row operation is rounded to */
    lp_format out;          /* format of every output (token, sum, mean) */
    lp_kmask mask;
    lp_empty_mean empty_mean; /* the kernel's own policy: fixed, whatever the problem says */
    lp_koob oob;
    lp_kinf inf_row;
    lp_kreduce reduce;
    lp_kmean mean;
    lp_ktemp temp;
    const char *models;     /* one line: the real code it stands for */
} lp_kernel;

size_t lp_kernel_count(void);
const lp_kernel *lp_kernel_at(size_t i);           /* NULL past the end */
const lp_kernel *lp_kernel_find(const char *name); /* NULL if unknown */

/* 1 if the kernel can read logits stored in fmt: fmt is its storage format or one it widens
 * exactly (f64 kernels read all four, f32 kernels read f32, f16 and bf16). */
int lp_kernel_accepts(const lp_kernel *k, lp_format fmt);

const char *lp_kfamily_name(lp_kfamily f);        /* "naive", "twopass", ... */
const char *lp_kmask_name(lp_kmask m);            /* "assign", "mul" */
const char *lp_koob_name(lp_koob o);              /* "error", "zero" */
const char *lp_kinf_name(lp_kinf i);              /* "nan", "loginf" */
const char *lp_kreduce_name(lp_kreduce r);        /* "seq", "pairwise", "kahan", "f64" */
const char *lp_kmean_name(lp_kmean m);            /* "div", "running" */
const char *lp_ktemp_name(lp_ktemp t);            /* "div", "mulinv", "storage", "shiftdiv" */

/* The contract in words: the token bound's closed form to first order, and the domain where it
 * holds. Static strings. Symbols: u = 2^-p of acc; k_exp, k_log, k_log1p = LP_LIBM_*_ULP; n the
 * row's finite logits; D = |x_y - max|/tau; L = D - |logp| in [0, ln n]; P = |logp|; M = |max|/tau;
 * r = rescales of the running max (<= n - 1). Every kernel adds u_out (P + err) + alpha_out where
 * out != acc (_acc32 halves), and for tau != 1 the temperature term of impl/arith.c. The exact
 * bound a checker uses is lp_kernel_promise_row's (never above lp_kernel_bound_worst). */
const char *lp_kernel_bound_text(const lp_kernel *k);
const char *lp_kernel_domain_text(const lp_kernel *k);

/* The error bounds assumed of the system libm, in ulps of the exact result (SPEC A4's ulp,
 * subnormal results included). tests/t_impl_libm.c measures them against MPFR and fails if a
 * measured error exceeds them. exp(0) = 1, log(1) = 0 and log1p(0) = 0 exactly are assumed too. */
#define LP_LIBM_EXP_ULP 1.0     /* exp, expf */
#define LP_LIBM_LOG_ULP 1.0     /* log, logf */
#define LP_LIBM_LOG1P_ULP 2.0   /* log1p, log1pf */

/* ---- running a kernel ------------------------------------------------------------------------- */

typedef struct lp_kresult {
    int64_t B, Ts;           /* scored positions per sequence, as lp_ref_result */
    double *logp;            /* [B*Ts] the kernel's per-token output; at a position that does not
                              * count: +0 (assign) or logp(dummy label) * 0 (mul) */
    uint8_t *counted;        /* [B*Ts] */
    double *sum, *mean;      /* [B] */
    int64_t *count;          /* [B] */
    double token_mean;       /* the kernel's reduction over all counted tokens of the batch / count */
} lp_kresult;

/* Runs kernel k on a whole problem. Validation as lp_problem_check (out-of-range labels are an
 * input error unless k->oob is LP_KOOB_ZERO); logits in a format k does not accept: LP_ERR_USAGE.
 * On error nothing is allocated. */
lp_status lp_kernel_run(lp_kresult *res, const lp_kernel *k, const lp_problem *pb, lp_error *err);
void lp_kresult_free(lp_kresult *res);   /* NULL members are fine */

/* One row: *out = the kernel's logp of label (0 <= label < V) in its output format. */
lp_status lp_kernel_row(double *out, const lp_kernel *k, const void *row, lp_format fmt, int64_t V,
                        int64_t label, double temperature, lp_error *err);

/* ---- contracts -------------------------------------------------------------------------------- */

/* Outcomes a contract may allow, as bits. */
#define LP_KALLOW_NUM 1u     /* a number y with |y - x| <= abs, x the exact value; y may be an
                              * infinity of x's sign only where |x| + abs reaches the output
                              * format's overflow threshold (abs = +inf allows any number) */
#define LP_KALLOW_NAN 2u
#define LP_KALLOW_NEGINF 4u
#define LP_KALLOW_ZERO 8u    /* +0 or -0 exactly */
#define LP_KALLOW_ANY 15u

typedef struct lp_kpromise {
    unsigned allow;          /* LP_KALLOW_* */
    double abs;              /* with LP_KALLOW_NUM: the absolute bound; else 0 */
    int in_domain;           /* 0: the value lies outside the kernel's declared domain: no promise
                              * (allow = LP_KALLOW_ANY); counted apart by checkers */
} lp_kpromise;

/* The promise for one token: the row (V logits of fmt), its label, tau, and the reference's exact
 * value of that token (lp_ref_row). The row's A3 class decides the special outcomes by the
 * kernel's declared conventions; a finite row gets the bound of impl/<family>.c. A label outside
 * [0, V) (ref unused, may be NULL) gets ZERO under LP_KOOB_ZERO, no promise otherwise. */
lp_kpromise lp_kernel_promise_row(const lp_kernel *k, const void *row, lp_format fmt, int64_t V,
                                  int64_t label, double temperature, const lp_value *ref);

/* Promises for everything lp_kernel_run writes, given the reference on the same problem.
 * tok[i] for a position that does not count is what the kernel writes there (assign: ZERO; mul:
 * ZERO, or NAN where the row with its dummy label is special). mean and token_mean of an empty
 * sequence follow k->empty_mean, not the problem's policy. */
typedef struct lp_kpromises {
    int64_t B, Ts;
    lp_kpromise *tok;        /* [B*Ts] */
    lp_kpromise *sum, *mean; /* [B] */
    lp_kpromise token_mean;
} lp_kpromises;

lp_status lp_kernel_promise(lp_kpromises *out, const lp_kernel *k, const lp_problem *pb,
                            const lp_ref_result *ref, lp_error *err);
void lp_kpromises_free(lp_kpromises *p);

/* The worst case of the token bound over every row with n finite logits, |logp| = logp_abs and
 * max |x_i| / tau = xmax (a closed form in n, |logp| and xmax; the row-aware promise never exceeds
 * it). Returns +inf where that worst case leaves the domain. For the report's "bound vs V" plots. */
double lp_kernel_bound_worst(const lp_kernel *k, int64_t n, double logp_abs, double xmax,
                             double temperature);

/* ---- judging ---------------------------------------------------------------------------------- */

typedef struct lp_kverdict {
    int ok;                  /* the outcome is one the promise allows */
    double err_abs;          /* |y - x| when both are finite numbers (under LP_KALLOW_NUM); else 0 */
    double ratio;            /* err_abs / abs under LP_KALLOW_NUM (0 if both are 0); else 0 */
    double err_ulp;          /* err_abs in ulps of x in the output format (SPEC A4); else 0 */
} lp_kverdict;

/* Holds y (a value of format out, widened) to promise p; x is the exact value (the reference's
 * double-double; ignored unless the promise allows NUM). */
lp_kverdict lp_kernel_judge(const lp_kpromise *p, double y, lp_dd x, lp_format out);

/* Everything at once: runs k on pb, computes its promises from ref (lp_ref_compute on pb), judges
 * every output, and calls visit (if non-NULL) for each judged value, failures and passes alike. */
typedef enum lp_kwhat { LP_KW_TOKEN = 0, LP_KW_SUM = 1, LP_KW_MEAN = 2, LP_KW_TOKEN_MEAN = 3 } lp_kwhat;

typedef struct lp_kjudged {
    const lp_kernel *k;
    lp_kwhat what;
    int64_t b, ts;           /* ts: -1 for sums and means; b: -1 for the token mean */
    int counted;             /* tokens: whether it counts; others: 1 */
    double got;              /* the kernel's value (its output format, widened) */
    const lp_value *ref;     /* the reference's value (NaN for a token that does not count) */
    lp_kpromise promise;
    lp_kverdict verdict;
} lp_kjudged;

typedef struct lp_kstats {
    int64_t judged, failed, outside_domain;
    double worst_ratio[4];   /* per lp_kwhat, over values judged in domain under LP_KALLOW_NUM */
} lp_kstats;

typedef void (*lp_kvisit)(void *ctx, const lp_kjudged *j);

/* stats is accumulated into (initialise it to zeros). */
lp_status lp_kernel_check(lp_kstats *stats, const lp_kernel *k, const lp_problem *pb,
                          const lp_ref_result *ref, lp_kvisit visit, void *ctx, lp_error *err);

#ifdef __cplusplus
}
#endif
#endif
