/* impl/lp_grad.h: the built-in backward kernels (gradients of SPEC A8) under test, and their
 * contracts. A registry of its own beside the forward kernels of lp_impl.h.
 *
 * A backward kernel computes, for every logits row of a problem, the gradient of a reduction R
 * (token, sum, mean, token_mean: lp_reduction of lpcert.h) of the counted tokens' logp with
 * respect to the stored logits: g_i = w (delta_iy - p_i) / tau, w = 1, 1, 1/n_b, 1/sum_b n_b.
 * Rows that score nothing (not counted, the last row under shift next) are +0 everywhere.
 * (The sign is that of d logp / d x; a cross-entropy kernel returns the negation, exactly.)
 * Names follow the forward grammar with a grad_ prefix:
 *
 *     grad_<family>_<storage>[_acc<bits>][_<variant>]   grad_softmax_f32, grad_accurate_f32_acc64,
 *                                                        grad_softmax_bf16_acc32_pbf16 (a bug)
 *
 * Families (impl/grad.c opens with the algorithms and the proofs):
 *   softmax   g_i = RN_out(RN(RN(delta_iy - p_i) * c)), p_i = RN(e_i / S), the plain kernel:
 *             PyTorch's log_softmax / cross_entropy backward, Liger's and most fused kernels.
 *             CONTRACT in units of the largest possible |g_i|, w / tau (scale-relative, SPEC A8):
 *             no ULP bound can exist, the label element 1 - p_y loses every digit as p_y -> 1.
 *   pbf16     the KNOWN BUG CLASS (Liger-Kernel #1329, #1341, #1419; TransformerEngine #3193):
 *             the softmax rounded to bf16 before the one-hot is subtracted: for p_y >= 1 - 2^-9
 *             the label element is exactly 0 (100 % relative error). Kept as a measured example;
 *             its proved bound is scale-relative too (about 2^-8 w/tau: what a test with an
 *             absolute tolerance sees, and why such tests pass it).
 *   accurate  the label element as the compensated sum of the other p_i (never 1 - p_y), the
 *             others -p_i from a compensated softmax: CONTRACT relative to |g_i| (so a ULP bound),
 *             plus absolute terms at the underflow threshold.
 * Outputs are values of the kernel's output format widened exactly to double. The library never
 * prints and never exits. */
#ifndef LP_GRAD_H
#define LP_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values are stable: append, never renumber. */
typedef enum lp_gfamily { LP_GF_SOFTMAX = 0, LP_GF_PBF16 = 1, LP_GF_ACCURATE = 2 } lp_gfamily;

typedef struct lp_gkernel {
    const char *name;
    lp_gfamily family;
    lp_format storage;      /* logits it reads (and any format it widens exactly) */
    lp_format acc;          /* format every row operation is rounded to */
    lp_format out;          /* format of the gradient it writes */
    int known_bug;          /* 1: a known bug class, kept as a measured example */
    const char *models;     /* one line: the real code it stands for */
} lp_gkernel;

size_t lp_gkernel_count(void);
const lp_gkernel *lp_gkernel_at(size_t i);           /* NULL past the end */
const lp_gkernel *lp_gkernel_find(const char *name); /* NULL if unknown */
int lp_gkernel_accepts(const lp_gkernel *k, lp_format fmt);
const char *lp_gfamily_name(lp_gfamily f);           /* "softmax", "pbf16", "accurate" */
/* The contract in words (static strings): the bound to first order and its unit; the domain. */
const char *lp_gkernel_bound_text(const lp_gkernel *k);
const char *lp_gkernel_domain_text(const lp_gkernel *k);

/* The divisor of reduction red for each sequence: div[b] = 1 (token, sum), n_b (mean), sum_b n_b
 * (token_mean); 0 where nothing of b counts. pb must have passed lp_problem_check. */
void lp_grad_divisors(int64_t *div, const lp_problem *pb, lp_reduction red);

/* One row: g[0..V-1] := the kernel's gradient of logp(label) (0 <= label < V) divided by divisor
 * (>= 1), values of k->out widened. */
lp_status lp_gkernel_row(double *g, const lp_gkernel *k, const void *row, lp_format fmt, int64_t V,
                         int64_t label, double temperature, int64_t divisor, lp_error *err);

/* Receives row (b, t) of [B, T, V]: V values of k->out widened; rows in row-major order, every row
 * (those that score nothing are +0). Return non-zero to stop (lp_gkernel_run returns LP_ERR_IO with
 * the message the sink wrote). */
typedef int (*lp_gkernel_sink)(void *user, int64_t b, int64_t t, const double *g, int64_t V,
                               lp_error *err);

/* Runs k on the whole problem for reduction red, streaming row by row (memory: one row). Validation
 * as lp_problem_check; logits k does not accept: LP_ERR_USAGE. */
lp_status lp_gkernel_run(const lp_gkernel *k, const lp_problem *pb, lp_reduction red,
                         lp_gkernel_sink sink, void *user, lp_error *err);

/* ---- contracts -------------------------------------------------------------------------------
 * The promise for one counted row: every element's |g_hat_i - g_i| <= rel |g_i| + scale * c + abs,
 * c = 1 / (divisor * tau) the exact scale w / tau, g_i the exact gradient. A special row (a NaN or
 * +inf logit, or no finite logit) promises NaN in every element. Outside the domain (a tempered
 * logit or the scale that overflows the accumulation format, a sum that may overflow, c below its
 * normal range) nothing is promised. */
typedef struct lp_gpromise {
    int special;             /* 1: every element NaN */
    int in_domain;           /* 0: no promise (anything allowed), counted apart */
    double rel, scale, abs;
} lp_gpromise;

lp_gpromise lp_gkernel_promise_row(const lp_gkernel *k, const void *row, lp_format fmt, int64_t V,
                                   int64_t label, double temperature, int64_t divisor);

/* The bound of promise p for an element whose exact value is x (a double-double's hi suffices: the
 * bound is inflated by 2^-30), at scale c = 1 / (divisor * tau). */
double lp_gpromise_bound(const lp_gpromise *p, double x, double c);

/* Holds one element: got (the kernel's value, widened) against the exact ref; counted 0 for a row
 * that scores nothing (then got must be +0). Returns 1 if the promise holds; *ratio (may be NULL)
 * := |got - x| / bound for numbers in domain, else 0. */
int lp_gkernel_judge(const lp_gpromise *p, int counted, double got, const lp_value *ref, double c,
                     double *ratio);

#ifdef __cplusplus
}
#endif
#endif
