/* tests/t_impl_libm.c: the system libm's exp, log and log1p (f64 and f32) against MPFR, held to the
 * bounds the kernels' error analyses assume (LP_LIBM_*_ULP in impl/lp_impl.h), and the exact values
 * they rely on (exp(0) = 1, log(1) = 0, log1p(0) = 0, exp(-inf) = 0).
 * The ulp is SPEC A4's: 2^(max(e, emin) - p + 1) for the exact value in [2^e, 2^(e+1)), so a
 * subnormal result is measured in the subnormal quantum. Sampled, not exhaustive: the figures
 * printed are lower bounds of the true maxima (glibc documents expf 0.502, logf 0.82, exp 0.511,
 * log 0.519 ulp for its current implementations; log1p/log1pf about 1 ulp). */
#include <math.h>
#include <mpfr.h>

#include "lp_impl.h"
#include "lpt.h"

typedef enum fn { F_EXP, F_LOG, F_LOG1P } fn;

typedef struct meas {
    double max_ulp, worst_x;
    int64_t n;
} meas;

static mpfr_t t, d;   /* 256-bit scratch, initialised once in main */

/* |y - f(x)| in ulps of f(x) in a format of precision p and minimum exponent emin. */
static double ulp_err(fn f, double x, double y, int p, int emin)
{
    const mpfr_flags_t flags = mpfr_flags_save();
    mpfr_set_d(t, x, MPFR_RNDN);
    switch (f) {
    case F_EXP: mpfr_exp(t, t, MPFR_RNDN); break;
    case F_LOG: mpfr_log(t, t, MPFR_RNDN); break;
    case F_LOG1P: mpfr_log1p(t, t, MPFR_RNDN); break;
    }
    double err;
    if (isinf(y) || mpfr_inf_p(t) || mpfr_zero_p(t)) {
        err = (mpfr_zero_p(t) && y == 0) || (mpfr_inf_p(t) && isinf(y)) ? 0.0 : HUGE_VAL;
        if (mpfr_zero_p(t) && y != 0 && isfinite(y)) err = fabs(y) / ldexp(1.0, emin - p + 1);
    } else {
        mpfr_sub_d(d, t, y, MPFR_RNDN);
        long e = mpfr_get_exp(t) - 1;       /* |t| in [2^e, 2^(e+1)) */
        if (e < emin) e = emin;
        mpfr_abs(d, d, MPFR_RNDN);
        mpfr_mul_2si(d, d, -(e - p + 1), MPFR_RNDN);
        err = mpfr_get_d(d, MPFR_RNDU);
    }
    mpfr_flags_restore(flags, MPFR_FLAGS_ALL);
    return err;
}

static void measure(meas *m, fn f, int is_f32, double x)
{
    double y;
    if (is_f32) {
        const float xf = (float)x;
        x = (double)xf;
        y = f == F_EXP ? (double)expf(xf) : f == F_LOG ? (double)logf(xf) : (double)log1pf(xf);
    } else {
        y = f == F_EXP ? exp(x) : f == F_LOG ? log(x) : log1p(x);
    }
    const double e = is_f32 ? ulp_err(f, x, y, 24, -126) : ulp_err(f, x, y, 53, -1022);
    m->n++;
    if (e > m->max_ulp) {
        m->max_ulp = e;
        m->worst_x = x;
    }
}

/* A random double in [lo, hi). */
static double unif(lpt_rng *r, double lo, double hi) { return lo + (hi - lo) * lpt_rng_unif(r); }

/* A random positive finite value of the format from its bit pattern (subnormals included). */
static double random_positive(lpt_rng *r, int is_f32)
{
    for (;;) {
        const uint64_t b = lpt_rng_next(r);
        const double v = is_f32 ? (double)lp_f32_bits((uint32_t)(b >> 33))
                                : lp_f64_bits(b >> 1);
        if (isfinite(v) && v > 0) return v;
    }
}

static void run(fn f, int is_f32, double bound, int64_t n, const char *name)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ (uint64_t)(f * 2 + is_f32) * 0x9e3779b97f4a7c15u);
    meas m = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        double x;
        const int kind = (int)(i % 4);
        if (f == F_EXP) {
            /* the kernels' arguments: shifted logits d <= 0, down to where exp underflows, and
             * the unshifted (naive) ones up to overflow */
            const double lo = is_f32 ? -104.0 : -746.0, hi = is_f32 ? 88.72 : 709.78;
            x = kind == 0 ? unif(&r, lo, 0) : kind == 1 ? unif(&r, lo, hi)
              : kind == 2 ? -ldexp(lpt_rng_unif(&r), -(int)(lpt_rng_next(&r) % 60))
                          : unif(&r, -20, 0);
        } else if (f == F_LOG) {
            /* sums of exp: [1, n]; and every positive value */
            x = kind == 0 ? random_positive(&r, is_f32) : kind == 1 ? unif(&r, 1, 4096)
              : kind == 2 ? 1 + ldexp(lpt_rng_unif(&r), -(int)(lpt_rng_next(&r) % 40))
                          : unif(&r, 0.5, 2);
        } else {
            /* the non-max mass T >= 0: tiny to n */
            x = kind == 0 ? random_positive(&r, is_f32) : kind == 1 ? unif(&r, 0, 4096)
              : kind == 2 ? ldexp(lpt_rng_unif(&r), -(int)(lpt_rng_next(&r) % 150))
                          : unif(&r, 0, 2);
        }
        measure(&m, f, is_f32, x);
    }
    lpt_check(m.max_ulp <= bound, "%s: max error %.4f ulp at x = %a exceeds the %.2f ulp the "
              "kernels' analyses assume (impl/lp_impl.h)", name, m.max_ulp, m.worst_x, bound);
    printf("  %-7s %9lld samples  max %.4f ulp (assumed %.1f)  at x = %a\n", name,
           (long long)m.n, m.max_ulp, bound, m.worst_x);
}

static void check_exact_values(void)
{
    lpt_check(expf(0.0f) == 1.0f && exp(0.0) == 1.0, "exp(0) = 1 exactly");
    lpt_check(logf(1.0f) == 0.0f && log(1.0) == 0.0, "log(1) = 0 exactly");
    lpt_check(log1pf(0.0f) == 0.0f && log1p(0.0) == 0.0, "log1p(0) = 0 exactly");
    lpt_check(expf(-HUGE_VALF) == 0.0f && exp(-HUGE_VAL) == 0.0, "exp(-inf) = 0");
    lpt_check(isnan(expf(lp_f32_bits(0x7fc00000u))) && isnan(exp(lp_f64_bits(0x7ff8000000000000u))),
              "exp(NaN) = NaN");
    lpt_check(logf(0.0f) == -HUGE_VALF && log(0.0) == -HUGE_VAL, "log(0) = -inf");
    lpt_check(logf(HUGE_VALF) == HUGE_VALF && log(HUGE_VAL) == HUGE_VAL, "log(inf) = inf");
}

int main(void)
{
    lpt_begin("t_impl_libm");
    mpfr_inits2(256, t, d, (mpfr_ptr)0);
    check_exact_values();
    const int64_t n = lpt_level() >= 2 ? 4000000 : 120000;
    run(F_EXP, 1, LP_LIBM_EXP_ULP, n, "expf");
    run(F_LOG, 1, LP_LIBM_LOG_ULP, n, "logf");
    run(F_LOG1P, 1, LP_LIBM_LOG1P_ULP, n, "log1pf");
    run(F_EXP, 0, LP_LIBM_EXP_ULP, n, "exp");
    run(F_LOG, 0, LP_LIBM_LOG_ULP, n, "log");
    run(F_LOG1P, 0, LP_LIBM_LOG1P_ULP, n, "log1p");
    mpfr_clears(t, d, (mpfr_ptr)0);
    mpfr_free_cache();
    return lpt_end();
}
