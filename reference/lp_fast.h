/* reference/lp_fast.h: the certified double-precision fast path of the exact engine (fast.c). */
#ifndef LP_FAST_H
#define LP_FAST_H

#include <mpfr.h>
#include <stdint.h>

#include "lpcert.h"

/* An enclosure of logp: p + clo <= logp <= p + chi (p a double, clo <= chi; p NaN when absent),
 * and lo <= logp <= hi in plain doubles (lo <= p + clo, hi >= p + chi). r64: RN_64(logp) when the
 * exact MPFR ends it came from round alike (normal range only), else NaN: the pair in doubles
 * cannot say "a midpoint minus 2^-300", the MPFR ends can. */
typedef struct lp_fast_enc { double p, clo, chi, lo, hi, r64; } lp_fast_enc;

/* An enclosure of logp for one row of V logits in fmt scoring label, from the tier-1
 * double evaluation and its a-priori bound (fast.c). Returns 1 when computed; 0 when the row is
 * outside the fast path's domain (tau outside [2^-900, 2^900], V >= 2^31, a NaN, +inf or all -inf
 * row, a -inf label, |D/tau| > 2^1000):
 * the caller then classifies and evaluates the row with the MPFR path. */
int lp_fast_row(lp_fast_enc *e, const void *row, lp_format fmt, int64_t V, int64_t label,
                double tau);

/* Tier 2 (fast_dd.c): the same enclosure from a double-double evaluation, about 2^-97 wide
 * relative (decides f64); tau = 1 only, |max|, |x_y| < 2^1000, otherwise as lp_fast_row. */
int lp_fast_row_dd(lp_fast_enc *e, const void *row, lp_format fmt, int64_t V, int64_t label,
                   double tau);

/* Tier 3 (fast_td.c): lo <= logp <= hi (MPFR, reset to 2300 bits; both initialised by the
 * caller) from a triple-double evaluation of the sum, about 2^-125.8 wide relative: decides the
 * canonical double-double and every format with lp_decide (ziv.c). tau in [2^-900, 2^900],
 * |max|, |x_y| < 2^1000, some term other than the max kept; otherwise returns 0 as lp_fast_row. */
int lp_fast_row_td(mpfr_t lo, mpfr_t hi, const void *row, lp_format fmt, int64_t V, int64_t label,
                   double tau);

/* The pair form of a finite MPFR enclosure [lo, hi]: p = RN(lo), p + clo <= lo, p + chi >= hi. */
void lp_fast_enc_mpfr(lp_fast_enc *out, const mpfr_t lo, const mpfr_t hi);

/* The enclosure of the sum of k enclosures given as triples (p, clo, chi) at trip[3 i], divided
 * by n when n > 1; 0 when not finite (or out of memory). MPFR, one directed rounding per end. */
int lp_fast_sum_pairs(lp_fast_enc *out, const double *trip, int64_t k, int64_t n);

/* Decides, for every format f with bit (1u << f) set in want, the rounding of every real in the
 * enclosure e, into out. Returns 1 when all of them are decided. Other members are left alone. */
int lp_fast_decide(lp_value *out, const lp_fast_enc *e, unsigned want);
/* An enclosure from plain ends (p absent). */
static inline lp_fast_enc lp_fast_enc_ends(double lo, double hi)
{
    lp_fast_enc e = {__builtin_nan(""), 0, 0, lo, hi, __builtin_nan("")};
    return e;
}

/* The outward enclosure of the sum of the k enclosures [lo[i*stride], hi[i*stride]] (every
 * hi <= 0, so every term has one sign): *slo <= sum lo, *shi >= sum hi. */
void lp_fast_sum(double *slo, double *shi, const double *lo, const double *hi, int64_t k,
                 int64_t stride);

/* Outward quotient of [lo, hi] by the count n (1 <= n <= 2^53). */
void lp_fast_div(double *qlo, double *qhi, double lo, double hi, int64_t n);

/* The kernels, exposed for tests/t_fast.c: lp_fast_log1p(t), 0 <= t < 2^32, relative error
 * <= 32 u (+ 2^-1070); lp_fast_exp(y), -700 <= y < 0, relative error <= 13 u (step 2 without the
 * rounding of y); 0 for y < -700 and for y = 0 (left out of T). */
double lp_fast_log1p(double t);
/* Tier 1 takes the histogram path (fast.c, step 3') for bf16 and f16 rows of at least this many
 * logits (default 16384); tests and fz_fast lower it to cover that path on short rows. Set it
 * only while no computation runs. */
extern int lp_fast_hist_min_v;
double lp_fast_exp(double y);
/* Tier 2's exp for -700 <= y < 0: hi + *lo = exp(y) within 20.2 u^2 relative (+2^-1073). */
double lp_fast_exp_dd(double y, double *lo);
/* Tier 2's terms one by one, for the gradient (fast_dd.c, grad_fast.c): for n (a multiple of 8)
 * widened logits x, eh[i] + el[i] = exp((x_i - m)/tau) within 20.2 u^2 relative plus 2^-1073,
 * |el| <= 2^-53 eh, where it is at least 2^-1009; (0, 0) and small[i] = 1 where the term is left
 * out (below 2^-1009, -inf included); (1, 0) at x_i = m. tau in [2^-900, 2^900], |m| < 2^1000. */
void lp_fast_exp_terms(const double *x, int n, double m, double tau, double *eh, double *el,
                       unsigned char *small);
/* Tier 3's exp for -600 <= y < 0: hi + *mid + *lo = exp(y) within 2^-126.9 relative (+2^-1074). */
double lp_fast_exp_td(double y, double *mid, double *lo);

#endif
