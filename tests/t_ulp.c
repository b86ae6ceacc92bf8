/* tests/t_ulp.c: core/ulp.c, the error measure of SPEC A4.
 * Known pairs (1 ulp at several magnitudes and formats, 0, 0.5 at a tie, the power-of-two
 * boundary read from the pair, x near 0, subnormals, x = 0), the class table, and random
 * (y, hi, lo) triples against MPFR: ulp_F exactly, err_abs and err_ulp to 2^-52 relative. */
#include <float.h>
#include <math.h>
#include <mpfr.h>

#include "lp_format.h"
#include "lp_ulp.h"
#include "lpt.h"

#define DNAN ((double)NAN)       /* NAN and INFINITY are float constants */
#define DINF ((double)INFINITY)

static lp_dd dd(double hi, double lo)
{
    lp_dd x = {hi, lo};
    return x;
}

static const char *cls_name(lp_cmp_class c)
{
    switch (c) {
    case LP_CMP_NUMBER: return "NUMBER";
    case LP_CMP_SAME_SPECIAL: return "SAME_SPECIAL";
    case LP_CMP_MISMATCH: return "MISMATCH";
    }
    return "?";
}

/* lp_ulp_of(x, f) == want exactly. */
static void check_ulp_of(lp_dd x, lp_format f, double want)
{
    const double got = lp_ulp_of(x, f);
    lpt_check(got == want, "lp_ulp_of(hi=%a lo=%a, %s) = %a, want %a", x.hi, x.lo,
              lp_format_name(f), got, want);
}

/* A NUMBER comparison with the expected figures (exact unless tol > 0: relative tolerance). */
static void check_err(double y, lp_dd x, lp_format f, double want_ulp, double want_abs,
                      double tol)
{
    const double ref = lp_round_to(x.hi + x.lo, f);
    const lp_err_measure m = lp_ulp_error(y, x, ref, f);
    const int ok = m.cls == LP_CMP_NUMBER &&
                   (tol == 0 ? m.err_ulp == want_ulp && m.err_abs == want_abs
                             : fabs(m.err_ulp - want_ulp) <= tol * want_ulp &&
                                   fabs(m.err_abs - want_abs) <= tol * want_abs);
    if (!lpt_check(ok, "lp_ulp_error(y=%a, x=%a%+a, %s)", y, x.hi, x.lo, lp_format_name(f)))
        lpt_note("want NUMBER err_ulp=%a (%.17g) err_abs=%a  got %s err_ulp=%a (%.17g) "
                 "err_abs=%a",
                 want_ulp, want_ulp, want_abs, cls_name(m.cls), m.err_ulp, m.err_ulp, m.err_abs);
}

static void check_class(double y, lp_dd x, double ref, lp_format f, lp_cmp_class want)
{
    const lp_err_measure m = lp_ulp_error(y, x, ref, f);
    lpt_check(m.cls == want && (want == LP_CMP_NUMBER || (m.err_ulp == 0 && m.err_abs == 0)),
              "lp_ulp_error(y=%a, x=%a%+a, ref=%a, %s): %s err_ulp=%g err_abs=%g, want %s", y,
              x.hi, x.lo, ref, lp_format_name(f), cls_name(m.cls), m.err_ulp, m.err_abs,
              cls_name(want));
}

static void check_known(void)
{
    /* 1 ulp away, several magnitudes and formats, both sides and signs */
    check_err(1.0 + 0x1p-52, dd(1.0, 0), LP_F64, 1.0, 0x1p-52, 0);
    check_err(-0x1.8p100 - 0x1p48, dd(-0x1.8p100, 0), LP_F64, 1.0, 0x1p48, 0);
    check_err(0x1p-1000 * 1.5, dd(0x1p-1000 * 1.5 + 0x1p-1052, 0), LP_F64, 1.0, 0x1p-1052, 0);
    check_err(3.0 + 0x1p-22, dd(3.0, 0), LP_F32, 1.0, 0x1p-22, 0);
    check_err(-3.0 - 0x1p-22, dd(-3.0, 0), LP_F32, 1.0, 0x1p-22, 0);
    check_err(0x1.5p-80, dd(0x1.5p-80 + 0x1p-103, 0), LP_F32, 1.0, 0x1p-103, 0);
    check_err(1000.5, dd(1000.0, 0), LP_F16, 1.0, 0.5, 0);
    check_err(-0.25 + 0x1p-12, dd(-0.25, 0), LP_F16, 1.0, 0x1p-12, 0);
    check_err(60000.0 + 32, dd(60000.0, 0), LP_F16, 1.0, 32.0, 0);
    check_err(1.0 + 0x1p-7, dd(1.0, 0), LP_BF16, 1.0, 0x1p-7, 0);
    check_err(0x1p100 * 1.5, dd(0x1p100 * 1.5 - 0x1p93, 0), LP_BF16, 1.0, 0x1p93, 0);
    /* the ulp is the exact value's: below 1 the spacing is half as wide */
    check_err(1.0 - 0x1p-53, dd(1.0, 0), LP_F64, 0.5, 0x1p-53, 0);
    check_err(1.0, dd(1.0 - 0x1p-53, 0), LP_F64, 1.0, 0x1p-53, 0);
    /* exact match */
    check_err(0.1, dd(0.1, 0), LP_F64, 0, 0, 0);
    check_err(-1.5, dd(-1.5, 0), LP_F16, 0, 0, 0);
    check_err(0x1p-149, dd(0x1p-149, 0), LP_F32, 0, 0, 0);
    /* 0.5 ulp at a tie: x the midpoint of 1 and 1 + 2^-10 (f16), either neighbour */
    check_err(1.0, dd(1.0 + 0x1p-11, 0), LP_F16, 0.5, 0x1p-11, 0);
    check_err(1.0 + 0x1p-10, dd(1.0 + 0x1p-11, 0), LP_F16, 0.5, 0x1p-11, 0);
    /* a tie carried in lo: x = 1 + 2^-53 + 2^-100, halfway plus a little (f64) */
    check_err(1.0, dd(1.0, 0x1p-53 + 0x1p-100), LP_F64, 0.5 + 0x1p-48, 0x1p-53 + 0x1p-100, 0);
    check_err(1.0, dd(1.0 + 0x1p-24, -0x1p-60), LP_F32, 0.5 - 0x1p-37, 0x1p-24 - 0x1p-60, 0);
}

/* x just below 2^k given as hi = 2^k, lo < 0: floor(log2|x|) = k - 1, the smaller ulp. */
static void check_pow2_boundary(void)
{
    check_ulp_of(dd(2.0, -0x1p-60), LP_F32, 0x1p-23);
    check_ulp_of(dd(2.0, 0x1p-60), LP_F32, 0x1p-22);
    check_ulp_of(dd(2.0, 0.0), LP_F32, 0x1p-22);
    check_ulp_of(dd(2.0, -0.0), LP_F32, 0x1p-22);       /* a zero lo never lowers it */
    check_ulp_of(dd(-2.0, 0x1p-60), LP_F32, 0x1p-23);
    check_ulp_of(dd(-2.0, -0x1p-60), LP_F32, 0x1p-22);
    check_ulp_of(dd(-2.0, 0.0), LP_F32, 0x1p-22);       /* the lo of x = -2 exactly is +0 */
    check_ulp_of(dd(1.0, -0x1p-54), LP_F64, 0x1p-53);
    check_ulp_of(dd(0x1p-1021, -0x1p-1074), LP_F64, 0x1p-1074);     /* down to emin */
    check_ulp_of(dd(0x1p-1021, 0x1p-1074), LP_F64, 0x1p-1073);
    check_ulp_of(dd(0x1p-14, -0x1p-70), LP_F16, 0x1p-24);           /* same, f16 */
    check_ulp_of(dd(0x1p-13, -0x1p-70), LP_F16, 0x1p-24);           /* floor = -14: normal */
    check_ulp_of(dd(0x1p-13, 0), LP_F16, 0x1p-23);
    check_ulp_of(dd(0x1.8p1, -0x1p-60), LP_F32, 0x1p-22);           /* not a power of two */
    /* the errors follow: y = 2 is 2^-37 ulp away, y = 2 - 2^-23 nearly 1 ulp */
    check_err(2.0, dd(2.0, -0x1p-60), LP_F32, 0x1p-37, 0x1p-60, 0);
    check_err(2.0 - 0x1p-23, dd(2.0, -0x1p-60), LP_F32, 1.0 - 0x1p-37, 0x1p-23 - 0x1p-60, 0);
    check_err(-2.0 + 0x1p-23, dd(-2.0, 0x1p-60), LP_F32, 1.0 - 0x1p-37, 0x1p-23 - 0x1p-60, 0);
}

/* Near 0 the ULP is tiny: a small absolute error is a huge ULP error. */
static void check_near_zero(void)
{
    /* x = -1e-30; f32 ulp there is 2^(-100-23) */
    const lp_dd x = dd(-1e-30, 0);
    check_ulp_of(x, LP_F32, 0x1p-123);
    const lp_err_measure m = lp_ulp_error(0.0, x, lp_round_to(-1e-30, LP_F32), LP_F32);
    lpt_check(m.cls == LP_CMP_NUMBER && m.err_abs == 1e-30 && m.err_ulp == 1e-30 * 0x1p123 &&
                  m.err_ulp > 1e7,
              "x=-1e-30 y=0 (f32): err_abs=%g err_ulp=%g, want 1e-30 and 1e-30*2^123 = %g",
              m.err_abs, m.err_ulp, 1e-30 * 0x1p123);
    /* f64: logp = -1e-300 computed as 0 is 1e-300 absolute and ~2^50 ulp */
    check_ulp_of(dd(-1e-300, 0), LP_F64, 0x1p-1049);
    check_err(0.0, dd(-1e-300, 0), LP_F64, 1e-300 * 0x1p1000 * 0x1p49, 1e-300, 0);
    /* f16 and bf16: -1e-30 is below f16's range (its ulp there is the subnormal 2^-24), not
     * below bf16's */
    check_err(-0.0, dd(-1e-30, 0), LP_F16, 1e-30 * 0x1p24, 1e-30, 0);
    check_ulp_of(dd(-1e-30, 0), LP_BF16, 0x1p-107);
}

static void check_subnormal(void)
{
    check_ulp_of(dd(0x1p-20, 0), LP_F16, 0x1p-24);
    check_err(0x1p-20 + 0x1p-24, dd(0x1p-20, 0), LP_F16, 1.0, 0x1p-24, 0);
    check_ulp_of(dd(0x1p-130, 0), LP_BF16, 0x1p-133);
    check_err(0x1p-130 - 0x1p-133, dd(0x1p-130, 0), LP_BF16, 1.0, 0x1p-133, 0);
    check_ulp_of(dd(1e-40, 0), LP_F32, 0x1p-149);
    check_err(0x1p-149, dd(0x1p-150, 0), LP_F32, 0.5, 0x1p-150, 0);
    check_ulp_of(dd(DBL_TRUE_MIN, 0), LP_F64, DBL_TRUE_MIN);
    check_ulp_of(dd(0x1.8p-1030, 0), LP_F64, DBL_TRUE_MIN);
    check_err(3 * DBL_TRUE_MIN, dd(DBL_TRUE_MIN, 0), LP_F64, 2.0, 2 * DBL_TRUE_MIN, 0);
    /* the smallest normal: the normal ulp and the subnormal one coincide */
    check_ulp_of(dd(0x1p-14, 0), LP_F16, 0x1p-24);
    check_ulp_of(dd(0x1p-126, 0), LP_F32, 0x1p-149);
    check_ulp_of(dd(0x1p-125, 0), LP_F32, 0x1p-148);
}

static void check_zero(void)
{
    check_ulp_of(dd(0, 0), LP_F64, 0x1p-1074);
    check_ulp_of(dd(0, 0), LP_F32, 0x1p-149);
    check_ulp_of(dd(0, 0), LP_F16, 0x1p-24);
    check_ulp_of(dd(0, 0), LP_BF16, 0x1p-133);
    check_ulp_of(dd(-0.0, 0), LP_F16, 0x1p-24);
    check_err(0.0, dd(0, 0), LP_F32, 0, 0, 0);
    check_err(0x1p-24, dd(0, 0), LP_F16, 1.0, 0x1p-24, 0);
    check_err(-0x1p-133, dd(0, 0), LP_BF16, 1.0, 0x1p-133, 0);
    /* -0 against +0 (and the other way) is a number with error 0, not a mismatch */
    check_class(-0.0, dd(0, 0), 0.0, LP_F32, LP_CMP_NUMBER);
    check_err(-0.0, dd(0, 0), LP_F32, 0, 0, 0);
    check_err(0.0, dd(-0.0, 0), LP_F64, 0, 0, 0);
}

static void check_classes(void)
{
    const lp_dd x1 = dd(-1.5, 0), xn = dd(DNAN, DNAN), xi = dd(DINF, 0);
    for (int f = 0; f < LP_NFORMATS; f++) {
        const lp_format F = (lp_format)f;
        check_class(DNAN, xn, DNAN, F, LP_CMP_SAME_SPECIAL);
        check_class(-DNAN, xn, DNAN, F, LP_CMP_SAME_SPECIAL);
        check_class(DINF, xi, DINF, F, LP_CMP_SAME_SPECIAL);
        check_class(-DINF, dd(-DINF, 0), -DINF, F, LP_CMP_SAME_SPECIAL);
        check_class(-DINF, xi, DINF, F, LP_CMP_MISMATCH);
        check_class(DINF, dd(-DINF, 0), -DINF, F, LP_CMP_MISMATCH);
        check_class(DNAN, x1, -1.5, F, LP_CMP_MISMATCH);
        check_class(-1.5, xn, DNAN, F, LP_CMP_MISMATCH);
        check_class(DNAN, xi, DINF, F, LP_CMP_MISMATCH);
        check_class(DINF, xn, DNAN, F, LP_CMP_MISMATCH);
        check_class(-DINF, x1, -1.5, F, LP_CMP_MISMATCH);
        check_class(-1.5, dd(-DINF, 0), -DINF, F, LP_CMP_MISMATCH);
        check_class(0.0, dd(0, 0), 0.0, F, LP_CMP_NUMBER);
    }
    /* the exact value is finite but rounds to inf in f32: a candidate inf is right */
    const lp_dd big = dd(3.5e38, 0);
    const double ref32 = lp_round_to(3.5e38, LP_F32);
    lpt_check(isinf(ref32), "3.5e38 rounds to inf in f32");
    check_class(DINF, big, ref32, LP_F32, LP_CMP_SAME_SPECIAL);
    check_class((double)(double)FLT_MAX, big, ref32, LP_F32, LP_CMP_MISMATCH);
    check_class(-DINF, big, ref32, LP_F32, LP_CMP_MISMATCH);
    /* ... and in f64 the same x is a number: the candidate inf is then a mismatch */
    check_class(DINF, big, 3.5e38, LP_F64, LP_CMP_MISMATCH);
    /* f16: 65520 ties to inf; 65519 does not */
    check_class(DINF, dd(65520.0, 0), lp_round_to(65520.0, LP_F16), LP_F16,
                LP_CMP_SAME_SPECIAL);
    check_class(DINF, dd(65519.0, 0), lp_round_to(65519.0, LP_F16), LP_F16,
                LP_CMP_MISMATCH);
    check_err(65504.0, dd(65519.0, 0), LP_F16, 15.0 / 32, 15.0, 0);
}

/* err_abs when y and hi differ by many orders, or cancel. */
static void check_accuracy(void)
{
    /* y far above x: the result is y to within its own rounding */
    check_err(0x1p60, dd(1.0, 0x1p-60), LP_F64, 0x1p112, 0x1p60, 0);  /* RN(2^60 - 1 - ...) */
    check_err(1.0, dd(1e-20, 1e-37), LP_F64, 0x1p119 * (1.0 - 1e-20), 1.0 - 1e-20, 0x1p-52);
    check_err(1.0, dd(-1e-20, -1e-37), LP_F32, 0x1p90 * (1.0 + 1e-20), 1.0 + 1e-20, 0x1p-52);
    /* x far above y: the small y must not be lost in the ulp of hi */
    check_err(1e-20, dd(1.0, 0), LP_F64, 0x1p52 * (1.0 - 1e-20), 1.0 - 1e-20, 0x1p-52);
    /* cancellation: y equals hi, the whole error is lo */
    check_err(1.0 + 0x1p-52, dd(1.0 + 0x1p-52, -0x1p-106), LP_F64, 0x1p-54, 0x1p-106, 0);
    check_err(1.0, dd(1.0 + 0x1p-52, -0x1p-54), LP_F64, 0.75, 3 * 0x1p-54, 0);
    check_err(-1e300, dd(-1e300, -0x1p940), LP_F64, 0x1p940 / 0x1p944, 0x1p940, 0);
    /* y - hi overflows (f64 only): err_ulp stays exact, err_abs is inf */
    const lp_err_measure m = lp_ulp_error(DBL_MAX, dd(-DBL_MAX, 0), -DBL_MAX, LP_F64);
    lpt_check(m.cls == LP_CMP_NUMBER && isinf(m.err_abs) && m.err_ulp == 0x1p54 - 2,
              "y=DBL_MAX x=-DBL_MAX: err_ulp=%a err_abs=%g, want 0x1p54-2 and inf", m.err_ulp,
              m.err_abs);
    /* |y - x| = 2^1024 - 2^970; its quarter ties to 2^1022 (ties to even), 2^106 ulp of 2^918 */
    const lp_err_measure m2 = lp_ulp_error(DBL_MAX, dd(-0x1p970, 0), -0x1p970, LP_F64);
    lpt_check(m2.cls == LP_CMP_NUMBER && isinf(m2.err_abs) && m2.err_ulp == 0x1p106,
              "y=DBL_MAX x=-2^970: err_ulp=%a err_abs=%g, want 0x1p106 and inf", m2.err_ulp,
              m2.err_abs);
}

/* ---- random triples against MPFR ------------------------------------------------------------ */

static double rand_double(lpt_rng *rng, int emin, int emax)
{
    const uint64_t r = lpt_rng_next(rng);
    const int e = emin + (int)(r % (uint64_t)(emax - emin + 1));
    const double m = 1.0 + (double)(lpt_rng_next(rng) >> 12) * 0x1p-52;
    const double v = ldexp(m, e);
    return (r >> 63) ? -v : v;
}

/* got is within 2^-53 (1 + 2^-48) of the exact e, relative: the bound of ulp.c's (3), which the
 * plain RN(RN(y - hi) - lo) (up to 2^-52) does not meet. Both infinite also passes. */
static int near_exact(double got, const mpfr_t e, mpfr_t t1, mpfr_t t2)
{
    if (isinf(got)) return mpfr_get_d(e, MPFR_RNDN) == got;
    mpfr_sub_d(t1, e, got, MPFR_RNDN);          /* exact at 2400 bits */
    mpfr_abs(t1, t1, MPFR_RNDN);
    mpfr_mul_d(t2, e, 1.0 + 0x1p-48, MPFR_RNDN);
    mpfr_abs(t2, t2, MPFR_RNDN);
    mpfr_mul_2si(t2, t2, -53, MPFR_RNDN);
    return mpfr_lessequal_p(t1, t2);
}

static void check_random(lpt_rng *rng, long n)
{
    static const int P[4] = {53, 24, 11, 8}, EMIN[4] = {-1022, -126, -14, -126};
    static const int RMIN[4] = {-1000, -160, -30, -140}, RMAX[4] = {1000, 127, 15, 127};
    long n_done = 0;
    mpfr_exp_t emin0 = mpfr_get_emin(), emax0 = mpfr_get_emax();
    mpfr_flags_t flags0 = mpfr_flags_save();
    mpfr_t X, D, U, T1, T2, Q;
    mpfr_inits2(2400, X, D, U, T1, T2, Q, (mpfr_ptr)0);
    long bad_ulp = 0;
    for (long i = 0; i < n; i++) {
        const lp_format f = (lp_format)(lpt_rng_next(rng) % 4);
        const uint64_t kind = lpt_rng_next(rng) % 8;
        /* h across the range of f; lo a valid tail (|lo| <= ulp(h)/2), zero, or, for kind 2,
         * h a power of two and lo of the other sign */
        double h = kind == 0 ? 0.0 : rand_double(rng, RMIN[f], RMAX[f]);
        double lo = 0;
        if (h != 0 && kind == 2) {
            h = copysign(ldexp(1.0, ilogb(h)), h);
            lo = -copysign(ldexp(1.0, ilogb(h) - 54 - (int)(i % 40)), h);
        } else if (h != 0 && kind != 1) {
            lo = (2 * lpt_rng_unif(rng) - 1) * ldexp(1.0, ilogb(h) - 53);
        }
        const lp_dd x = dd(h, lo);
        const double ref = lp_round_to(h + lo, f);
        if (isinf(ref)) continue;
        /* y: a few F ulps from x, or anywhere in the range */
        double y;
        if (kind >= 5) y = lp_round_to(rand_double(rng, RMIN[f], RMAX[f]), f);
        else y = lp_round_to(ref + (double)((int)(lpt_rng_next(rng) % 9) - 4) * lp_ulp_of(x, f), f);
        if (isinf(y)) continue;
        n_done++;

        mpfr_set_d(X, h, MPFR_RNDN);
        mpfr_add_d(X, X, lo, MPFR_RNDN);            /* exact at 2400 bits */
        mpfr_d_sub(D, y, X, MPFR_RNDN);             /* exact */
        mpfr_abs(D, D, MPFR_RNDN);
        /* ulp_F(x) = 2^(max(floor(log2|x|), emin) - p + 1) */
        long k = EMIN[f];
        if (!mpfr_zero_p(X) && (long)mpfr_get_exp(X) - 1 > k) k = (long)mpfr_get_exp(X) - 1;
        mpfr_set_ui_2exp(U, 1, k - P[f] + 1, MPFR_RNDN);
        const double want_ulp_of = mpfr_get_d(U, MPFR_RNDN);
        const double want_abs = mpfr_get_d(D, MPFR_RNDN);
        mpfr_div(Q, D, U, MPFR_RNDN);               /* exact: U is a power of two */
        const double want_err = mpfr_get_d(Q, MPFR_RNDN);

        const lp_err_measure m = lp_ulp_error(y, x, lp_round_to(h + lo, f), f);
        const double got_ulp_of = lp_ulp_of(x, f);
        const int ok = m.cls == LP_CMP_NUMBER && got_ulp_of == want_ulp_of &&
                       near_exact(m.err_abs, D, T1, T2) && near_exact(m.err_ulp, Q, T1, T2);
        bad_ulp += got_ulp_of != want_ulp_of;
        if (!lpt_check(ok, "random %ld: y=%a x=%a%+a %s", i, y, h, lo, lp_format_name(f)))
            lpt_note("want ulp=%a err_abs=%a err_ulp=%a  got %s ulp=%a err_abs=%a err_ulp=%a",
                     want_ulp_of, want_abs, want_err, cls_name(m.cls), got_ulp_of, m.err_abs,
                     m.err_ulp);
    }
    mpfr_clears(X, D, U, T1, T2, Q, (mpfr_ptr)0);
    mpfr_set_emin(emin0);
    mpfr_set_emax(emax0);
    mpfr_flags_restore(flags0, MPFR_FLAGS_ALL);
    lpt_check(bad_ulp == 0, "lp_ulp_of disagreed with MPFR %ld times", bad_ulp);
    lpt_check(n_done > n / 2, "random: only %ld of %ld triples were usable", n_done, n);
}

int main(void)
{
    lpt_begin("t_ulp");
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    check_known();
    check_pow2_boundary();
    check_near_zero();
    check_subnormal();
    check_zero();
    check_classes();
    check_accuracy();
    check_random(&rng, lpt_level() >= 2 ? 10000000 : 200000);
    return lpt_end();
}
