/* core/lp_dd.h: the error-free transformations of double arithmetic (TwoSum, Fast2Sum) and the
 * double-double addition built on them: the one definition of each, used by reference/fast.c
 * (Sum2 over block sums, log1p, the TwoSum of D and of p), reference/fast_dd.c (tier 2's
 * double-double sums and exp), core/ulp.c (y - (hi + lo)) and report/sweep.c (exact margins).
 *
 * CONDITIONS, for every function here: binary64 operands and operations (FLT_EVAL_METHOD == 0:
 *   SSE2 on x86-64, never x87 extended precision), rounding to nearest even (the default mode),
 *   no overflow in any operation (an infinite s makes e NaN), and the operations exactly as
 *   written: the project builds with -ffp-contract=off and never with -ffast-math (reassociation
 *   would fold e to 0). Underflow does no harm: a sum or difference of doubles that is subnormal
 *   is exact, so TwoSum and Fast2Sum stay exact with subnormal operands and results.
 *
 * NOT HERE, on purpose: impl/accurate.c two_diff and impl/lp_impl_internal.h lp_neumaier_add round
 *   every operation to the kernel's accumulation format through a context (f16, bf16, f32 as well
 *   as f64): different algorithms, whose errors are what impl/ measures. fuzz/fz_reference.c
 *   row_shiftable is an exactness test written out in the harness, which stays independent of
 *   the code it checks.
 *
 * REFERENCES [1] D. E. Knuth, TAOCP vol. 2, 3rd ed., sec. 4.2.2, Theorem B (TwoSum).
 *            [2] T. J. Dekker, A floating-point technique for extending the available precision,
 *                Numer. Math. 18 (1971) (Fast2Sum).
 *            [3] M. Joldes, J.-M. Muller, V. Popescu, Tight and rigorous error bounds for basic
 *                building blocks of double-word arithmetic, ACM TOMS 44 (2017), Algorithm 5
 *                (SloppyDWPlusDW).
 */
#ifndef LP_DD_H
#define LP_DD_H

#include "lpcert.h"

/* TwoSum (Knuth [1], 6 operations, no condition on the operands): *s = RN(a + b) and
 * *s + *e = a + b exactly, |*e| <= ulp(*s)/2 <= u |*s| (u = 2^-53). */
static inline void lp_two_sum(double a, double b, double *s, double *e)
{
    const double sum = a + b, bb = sum - a;
    *e = (a - (sum - bb)) + (b - bb);
    *s = sum;
}

/* Fast2Sum (Dekker [2], 3 operations). PRECONDITION |a| >= |b| (or a = 0; more generally the
 * exponent of a at least that of b). Then *s = RN(a + b) and *s + *e = a + b exactly. Without the
 * precondition *e is not the error: use lp_two_sum. */
static inline void lp_fast_two_sum(double a, double b, double *s, double *e)
{
    const double sum = a + b;
    *e = b - (sum - a);
    *s = sum;
}

/* The sum of two double-doubles a = a.hi + a.lo, b = b.hi + b.lo (|a.lo| <= u |a.hi|, likewise
 * b): SloppyDWPlusDW ([3], Algorithm 5): (s, e) = TwoSum(a.hi, b.hi), l = RN(RN(a.lo + b.lo) + e),
 * result Fast2Sum(s, l). ERROR for operands of one sign: the result is (a + b)(1 + d) with
 * |d| <= 3.0002 u^2 (the two roundings of l err by at most u |a.lo + b.lo| + u (2 + u) u
 * (|a.hi| + |b.hi|); proof in reference/fast_dd.c, step (5)), plus 2^-1074 absolute where a low
 * part is subnormal, and again |lo| <= u |hi| (so Fast2Sum's precondition holds: |l| <= 3u |s|).
 * For operands of opposite signs no relative bound holds (the high parts may cancel, leaving the
 * roundings of l uncompensated, and Fast2Sum's precondition may then fail): report/sweep.c's DPO
 * margins, differences of sums, take it as an approximation and claim no bound from it. */
static inline lp_dd lp_dd_add(lp_dd a, lp_dd b)
{
    double s, e;
    lp_two_sum(a.hi, b.hi, &s, &e);
    lp_dd r;
    lp_fast_two_sum(s, (a.lo + b.lo) + e, &r.hi, &r.lo);
    return r;
}

#endif
