/* impl/lp_impl_internal.h: what the kernel files share: the arithmetic of an accumulation format,
 * the error constants of a kernel's context, the row features its bound is a function of, and the
 * per-family entry points.
 *
 * ARITHMETIC  Every kernel is written once over doubles; each operation's exact result is rounded
 * to the accumulation format by lp_rn. For f64 that is the double operation itself. For f32,
 * f16 and bf16 the double operation rounds once to 53 bits, then lp_rn rounds to the format:
 * for +, -, *, / of two values of a format with p <= 24 bits this double rounding equals the single
 * correct rounding (53 >= 2p + 2: S. A. Figueroa, "When is double rounding innocuous?", SIGNUM
 * Newsletter 30(3), 1995), so the code computes exactly what native f32 arithmetic, or f16/bf16
 * arithmetic with every operation rounded, computes. exp, log and log1p are the system libm's, in
 * the format's own precision: exp/log/log1p for f64, expf/logf/log1pf for f32; for f16/bf16 the
 * f32 function's result rounded to the half format (a second rounding, accounted for in the
 * constants below). */
#ifndef LP_IMPL_INTERNAL_H
#define LP_IMPL_INTERNAL_H

#include <math.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_impl.h"

static inline double lp_nan(void) { return lp_f64_bits(0x7ff8000000000000u); }

/* x (a double) rounded to nearest-even in format f, returned widened. */
static inline double lp_rn(lp_format f, double x)
{
    switch (f) {
    case LP_F64: return x;
    case LP_F32: return (double)(float)x;   /* IEEE conversion (C Annex F): RNE, overflow to inf */
    default: return lp_round_to(x, f);
    }
}

typedef struct lp_kctx {
    const lp_kernel *k;
    lp_format acc, out;
    double tau;              /* the problem's temperature */
    int temp_on;             /* tau != 1: the kernel divides; tau == 1: it does nothing */
    int temp_ok;             /* tau_k is usable: finite and > 0 (RN_f32(tau) may be 0 or inf), and
                              * for MULINV a normal number of acc; else outside every domain */
    double tau_k;            /* tau as the kernel uses it: DIV f64/f32: tau; DIV acc16 and STORAGE:
                              * RN_f32(tau); MULINV: RN_acc(1/tau); SHIFTDIV: as DIV */
    /* error model (arith.c derives each from the format and LP_LIBM_*_ULP) */
    double u;                /* unit roundoff of acc, 2^-p */
    double eps_exp, alpha_exp;     /* EXP(d) = e^d (1 + eta) + beta, |eta| <= eps, |beta| <= alpha */
    double eps_log, eps_log1p, alpha_log1p;
    double alpha_a;          /* half the subnormal quantum of acc: a rounded product's absolute error */
    double lambda_a;         /* smallest normal of acc */
    double ln_omega_a;       /* log of the largest finite value of acc */
    double ln_omega_t;       /* the same for the format the tempered logits are held in (storage
                              * for LP_KTEMP_STORAGE, else acc) */
    double u_out, alpha_out; /* the final rounding acc -> out; both 0 when out == acc */
    double cT, eT, aT;       /* temperature: tempered logit = (1 + dc) x/tau + xi, |dc| <= cT,
                              * |xi| <= eT (1 + cT)|x/tau| + aT (SHIFTDIV: eT, aT relative to the
                              * shifted value); all 0 when tau == 1 */
    double *x, *z;           /* scratch rows of V doubles */
    int64_t cap;
} lp_kctx;

/* V = 0: constants only (for bounds), no scratch rows. */
lp_status lp_kctx_init(lp_kctx *c, const lp_kernel *k, double tau, int64_t V, lp_error *err);
void lp_kctx_free(lp_kctx *c);

static inline double k_add(const lp_kctx *c, double a, double b) { return lp_rn(c->acc, a + b); }
static inline double k_sub(const lp_kctx *c, double a, double b) { return lp_rn(c->acc, a - b); }
static inline double k_mul(const lp_kctx *c, double a, double b) { return lp_rn(c->acc, a * b); }
static inline double k_div(const lp_kctx *c, double a, double b) { return lp_rn(c->acc, a / b); }

static inline double k_exp(const lp_kctx *c, double x)
{
    switch (c->acc) {
    case LP_F64: return exp(x);
    case LP_F32: return (double)expf((float)x);
    default: return lp_round_to((double)expf((float)x), c->acc);
    }
}

static inline double k_log(const lp_kctx *c, double x)
{
    switch (c->acc) {
    case LP_F64: return log(x);
    case LP_F32: return (double)logf((float)x);
    default: return lp_round_to((double)logf((float)x), c->acc);
    }
}

static inline double k_log1p(const lp_kctx *c, double x)
{
    switch (c->acc) {
    case LP_F64: return log1p(x);
    case LP_F32: return (double)log1pf((float)x);
    default: return lp_round_to((double)log1pf((float)x), c->acc);
    }
}

/* Neumaier's compensated addition of x into (s, comp), every operation rounded to f: the branch
 * makes the FastTwoSum exact, so comp accumulates the exact rounding errors (ORO's Sum2). */
static inline void lp_neumaier_add(lp_format f, double *s, double *comp, double x)
{
    const double t = lp_rn(f, *s + x);
    const double e = fabs(*s) >= fabs(x) ? lp_rn(f, lp_rn(f, *s - t) + x)
                                         : lp_rn(f, lp_rn(f, x - t) + *s);
    *comp = lp_rn(f, *comp + e);
    *s = t;
}

/* The tempered row z_i of the per-element modes (DIV, MULINV, STORAGE): c->z, or x itself when
 * tau == 1 or the mode is SHIFTDIV (the family divides itself). */
const double *lp_ktemper(lp_kctx *c, const double *x, int64_t V);

/* Row functions: x holds the V logits widened to double; returns logp in the accumulation format
 * (lse: see lse.c for its intermediate rounding to the output format). */
double lp_row_naive(lp_kctx *c, const double *x, int64_t V, int64_t y);
double lp_row_twopass(lp_kctx *c, const double *x, int64_t V, int64_t y);
double lp_row_online(lp_kctx *c, const double *x, int64_t V, int64_t y);
double lp_row_lse(lp_kctx *c, const double *x, int64_t V, int64_t y);
double lp_row_accurate(lp_kctx *c, const double *x, int64_t V, int64_t y);

/* twopass.c's direct path: the same value as lp_row_twopass, bit for bit, from the stored row
 * (fmt) itself, where lp_twopass_direct_ok(c, fmt) says so (twopass family, acc f64, or acc f32
 * on f32/f16/bf16 logits; tau == 1 or the DIV/MULINV modes). Uses c->z as scratch. */
int lp_twopass_direct_ok(const lp_kctx *c, lp_format fmt);
double lp_row_twopass_direct(lp_kctx *c, const void *row, lp_format fmt, int64_t V, int64_t y);

/* The family's row function and bound, by c->k->family (registry.c). */
double lp_family_row(lp_kctx *c, const double *x, int64_t V, int64_t y);

/* ---- bounds ---------------------------------------------------------------------------------- */

/* What a token bound is a function of: the row (its finite logits), tau and the exact logp.
 * Every field is an upper bound of the quantity it names (computed in double, then inflated). */
typedef struct lp_kfeat {
    int64_t n;               /* finite logits */
    int64_t resc;            /* strict increases of the running max after the first finite logit,
                              * in index order (the online family's rescales) */
    double D;                /* |x_y - m| / tau */
    double L;                /* log(sum_i exp((x_i - m)/tau)) = (x_y - m)/tau - logp, >= 0 */
    double P;                /* |logp| */
    double W;                /* max over finite i of |x_i| / tau */
    double Wy;               /* |x_y| / tau */
    double mT, mT_lo;        /* m / tau (signed): an upper and a lower bound */
    double G;                /* max over finite i != j (j the first argmax) of |x_i - m| / tau */
    double Gtau;             /* the same before the division: max |x_i - m| */
} lp_kfeat;

#define LP_KOUTSIDE (-1.0)   /* a bound function's answer outside the kernel's domain */

/* Family bounds (each proved in the opening comment of its file). LP_KOUTSIDE outside the domain. */
double lp_bound_naive(const lp_kctx *c, const lp_kfeat *f);
double lp_bound_twopass(const lp_kctx *c, const lp_kfeat *f);
double lp_bound_online(const lp_kctx *c, const lp_kfeat *f);
double lp_bound_lse(const lp_kctx *c, const lp_kfeat *f);
double lp_bound_accurate(const lp_kctx *c, const lp_kfeat *f);
double lp_family_bound(const lp_kctx *c, const lp_kfeat *f);

/* twopass.c steps (2)-(5), shared by online and lse: a bound on |log S_hat - log S| for the
 * shifted sum S = sum_i exp(z_i - m) >= 1 of n terms with resc rescales (0 but for online), L an
 * upper bound of log S. LP_KOUTSIDE if S_hat may overflow. */
double lp_shifted_sum_logerr(const lp_kctx *c, int64_t n, int64_t resc, double L);

/* twopass.c steps (1)-(6) and (9), shared by online and lse: the temperature change *dT, the
 * tempered row's features *z, and the returned bound E_L on |L_hat - L| (resc rescales counted
 * when with_resc). LP_KOUTSIDE outside the domain. */
double lp_shifted_log_err(const lp_kctx *c, const lp_kfeat *f, int with_resc, double *dT,
                          lp_kfeat *z);
/* twopass.c's TOTAL from that (online.c: with_resc = 1). */
double lp_bound_shifted(const lp_kctx *c, const lp_kfeat *f, int with_resc);

/* The per-element temperature modes (arith.c): the change of logp from x/tau to the tempered row
 * (*dT), and the features of the tempered row (fz: D, L, P, mT, mT_lo widened accordingly).
 * Returns 0 where a tempered logit may overflow (outside every family's domain). */
int lp_temper_feat(const lp_kctx *c, const lp_kfeat *f, double *dT, lp_kfeat *fz);

/* The overflow threshold of format f: the smallest magnitude that rounds to infinity. */
static inline double lp_overflow_threshold(lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    return ldexp(2.0 - ldexp(1.0, -fi->prec), fi->emax);
}

/* The error of rounding a value of magnitude <= mag carrying error err from acc to out. */
static inline double lp_out_err(const lp_kctx *c, double mag, double err)
{
    return c->u_out > 0 ? c->u_out * (mag + err) + c->alpha_out : 0.0;
}

/* (1 + a)(1 + b) - 1 without the cancellation of computing it that way (1 + 2^-53 is 1). */
static inline double lp_comb(double a, double b) { return a + b + a * b; }

/* Bound evaluation in double: every bound is a sum and product of positive terms, each computed
 * with a relative error below 2^-50; the final answer is inflated by 2^-30 to stay an upper bound. */
static inline double lp_inflate(double b) { return b * (1 + 0x1p-30); }

/* ---- reductions (reduce.c) ------------------------------------------------------------------- */

/* The sequence sum of v[0..npos-1] (values of k->out, widened) by k's reduction, rounded to out. */
double lp_reduce_sum(const lp_kctx *c, const double *v, int64_t npos);
/* The mean by k's mean method: sum_out / n (DIV), or the running mean of the counted v (RUNNING);
 * n = 0 gives k's empty_mean. */
double lp_reduce_mean(const lp_kctx *c, const double *v, const uint8_t *counted, int64_t npos,
                      double sum_out, int64_t n);

/* Bounds for a reduction of n counted terms over npos positions, given sabs = sum |y_t| of the
 * exact token values, tb = sum of their token bounds and tmax = max (|y_t| + bound_t).
 * LP_KOUTSIDE outside the reduction's domain. */
double lp_bound_sum(const lp_kctx *c, double sabs, double tb, int64_t n, int64_t npos);
double lp_bound_mean(const lp_kctx *c, double sabs, double tb, double tmax, int64_t n,
                     int64_t npos);

#endif
