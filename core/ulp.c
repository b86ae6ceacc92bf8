/* core/ulp.c: the error measure of SPEC A4: class, ULP error and absolute error of a candidate.
 * CONTRACT  x = hi + lo with |lo| <= ulp(hi)/2 (the reference's double-double); y and ref_f are
 *           values of format F widened to double. Class from (y, ref_f): both NaN or equal
 *           infinities -> SAME_SPECIAL; any other NaN or infinity -> MISMATCH; both errors are 0
 *           in these two classes. Otherwise NUMBER with err_abs = |y - x|, err_ulp =
 *           err_abs / ulp_F(x). -0 against +0 is a NUMBER with error 0.
 * ULP       ulp_F(x) = 2^(max(k, emin) - p + 1), k = floor(log2|x|) read from the pair: the
 *           exponent of hi, less one when |hi| is a power of two and lo is nonzero of the other
 *           sign (then |hi| - ulp(hi)/2 <= |x| < |hi|). Exact: a power of two in [2^-1074, 2^971].
 *           A zero lo never lowers k, so a dd {2^j, -0} counts as 2^j (as it must for x = -2^j,
 *           whose lo is +0); the only x misjudged are those within 2^-1075 of a power of two
 *           2^j >= 2^-1022 from below, where the pair itself cannot tell the side.
 * ERROR of the measure itself (u = 2^-53), against the pair's value hi + lo:
 *   (1) TwoSum(y, -hi) = (s, t) (lp_two_sum, core/lp_dd.h) with s + t = y - hi exactly (in
 *       round-to-nearest, subnormals included, whenever s and t come out finite).
 *   (2) d = RN(s + RN(t - lo)).  If y - hi is exact (t = 0), d is one rounding of y - hi - lo:
 *       relative error <= u. Otherwise Sterbenz fails for (y, hi), so |s| >= |hi|/2, hence
 *       |t| <= u|s| and |lo| <= 2u|s|: the second term is <= 3u|s| and rounding it costs at most
 *       3u^2|s|, so |d - (y - hi - lo)| <= u|d| + 4u^2|d|. There is never cancellation beyond the
 *       single final rounding.
 *   (3) err_abs = |d|: relative error <= u(1 + 4u) (about 2^-53); err_ulp = err_abs / 2^j is an
 *       exact scaling, unless the quotient is below 2^-1022 (then off by < 2^-1074 ulp) or
 *       above DBL_MAX (then +inf).
 *   (4) If y - hi overflows (only f64; then |y|, |hi| >= 2^969), the computation is repeated on
 *       y/4, hi/4, lo/4 (exact but for a subnormal lo, whose loss is < 2^-2000 relative):
 *       err_ulp stays finite and accurate; err_abs is then RN of a value >= 2^1024: +inf.
 *   Against the exact x, the reference's pair adds |hi + lo - x| <= 2^-104|x| + 2^-1074
 *   (lpcert.h), i.e. at most 2^(p-104) ulp_F(x): 2^-51 ulp for f64, 2^-80 for f32, 2^-93 for
 *   f16, 2^-96 for bf16 (where x is a normal double; below 2^-1022 the pair is just RN(x), off
 *   by up to 2^-1075). So a reported e means the true figure is e(1 +- 2^-53(1 + 2^-50)) +-
 *   2^(p-104). Consequence: a correctly rounded f64 candidate for an x within 2^-51 ulp of a
 *   midpoint (a hard case) may show 0.5 + 2^-51 ulp; correct rounding is decided by y == ref_f,
 *   never by err_ulp <= 0.5. Exact ties are dyadic, their pair is exact, and they show 0.5.
 * EVIDENCE  tests/t_ulp.c: known pairs, class table, and random (y, hi, lo) against MPFR.
 */
#include "lp_ulp.h"

#include <math.h>

#include "lp_core.h"
#include "lp_dd.h"
#include "lp_format.h"

#define F64_EXP_MASK 0x7ff0000000000000u
#define F64_FRAC_MASK 0x000fffffffffffffu

/* 2^k for -1074 <= k <= 1023, from its bits. */
static double pow2(int k)
{
    if (k >= -1022) return lp_f64_bits((uint64_t)(k + 1023) << 52);
    return lp_f64_bits(UINT64_C(1) << (k + 1074));
}

/* floor(log2|a|) for a finite nonzero double a (subnormals included). */
static int exponent_of(double a)
{
    const uint64_t u = lp_bits_f64(a);
    const int biased = (int)((u & F64_EXP_MASK) >> 52);
    if (biased != 0) return biased - 1023;
    uint64_t frac = u & F64_FRAC_MASK;
    int k = -1075;
    while (frac) {
        frac >>= 1;
        k++;
    }
    return k;
}

static int is_pow2(double a)
{
    const uint64_t u = lp_bits_f64(a);
    const uint64_t frac = u & F64_FRAC_MASK;
    if (u & F64_EXP_MASK) return frac == 0;
    return frac != 0 && (frac & (frac - 1)) == 0;
}

double lp_ulp_of(lp_dd x, lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    if (!fi || isnan(x.hi) || isnan(x.lo)) return (double)NAN;
    if (isinf(x.hi)) return (double)INFINITY;
    int k = fi->emin;
    if (x.hi != 0) {
        k = exponent_of(x.hi);
        if (is_pow2(x.hi) && x.lo != 0 && ((x.lo < 0) != (x.hi < 0))) k--;
    } else if (x.lo != 0 && isfinite(x.lo)) {
        k = exponent_of(x.lo);               /* not a normalised pair; read it as lo alone */
    }
    if (k < fi->emin) k = fi->emin;
    return pow2(k - fi->prec + 1);
}

/* y - (hi + lo) by (2) of the opening comment. */
static double diff_dd(double y, double hi, double lo, int *finite)
{
    double s, t;
    lp_two_sum(y, -hi, &s, &t);
    *finite = isfinite(s) && isfinite(t);
    return s + (t - lo);
}

lp_err_measure lp_ulp_error(double y, lp_dd x, double ref_f, lp_format f)
{
    lp_err_measure r = {LP_CMP_NUMBER, 0.0, 0.0};
    const int y_nan = isnan(y), ref_nan = isnan(ref_f);
    if (y_nan || ref_nan) {
        r.cls = y_nan && ref_nan ? LP_CMP_SAME_SPECIAL : LP_CMP_MISMATCH;
        return r;
    }
    const int y_inf = isinf(y), ref_inf = isinf(ref_f);
    if (y_inf || ref_inf) {
        r.cls = y_inf && ref_inf && (y > 0) == (ref_f > 0) ? LP_CMP_SAME_SPECIAL : LP_CMP_MISMATCH;
        return r;
    }

    const double ulp = lp_ulp_of(x, f);
    int finite;
    const double d = diff_dd(y, x.hi, x.lo, &finite);
    if (finite || !isfinite(x.hi) || !isfinite(x.lo)) {
        r.err_abs = fabs(d);
        r.err_ulp = r.err_abs / ulp;
        return r;
    }
    /* (4): y - hi overflowed; both are >= 2^969 in magnitude, so /4 is exact for them. */
    const double d4 = fabs(diff_dd(y * 0.25, x.hi * 0.25, x.lo * 0.25, &finite));
    r.err_abs = d4 * 4.0;
    r.err_ulp = (d4 / ulp) * 4.0;
    return r;
}
