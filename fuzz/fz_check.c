/* fuzz/fz_check.c: the harnesses' own view of a problem (see fz_check.h). */
#include "fz_check.h"

#include <math.h>
#include <stdio.h>

#include "lp_core.h"
#include "lp_format.h"

int64_t lp_fz_ts(const lp_fz_problem *p)
{
    const int64_t T = p->pb.shape.T;
    return p->pb.shift == LP_SHIFT_NONE ? T : T - 1;
}

int64_t lp_fz_label_t(const lp_fz_problem *p, int64_t ts)
{
    return p->pb.shift == LP_SHIFT_NONE ? ts : ts + 1;
}

size_t lp_fz_row0(const lp_fz_problem *p, int64_t b, int64_t ts)
{
    return (size_t)((b * p->pb.shape.T + ts) * p->pb.shape.V);
}

int lp_fz_counted(const lp_fz_problem *p, int64_t b, int64_t ts)
{
    const size_t i = (size_t)(b * p->pb.shape.T + lp_fz_label_t(p, ts));
    return lp_fz_label(p, i) != p->pb.ignore_index && (!p->mask || p->mask[i] == 1);
}

lp_fz_class lp_fz_row_class(const lp_fz_problem *p, int64_t b, int64_t ts, int64_t y)
{
    const size_t row0 = lp_fz_row0(p, b, ts);
    int64_t n_finite = 0, at = -1;
    for (int64_t i = 0; i < p->pb.shape.V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (isnan(x) || x == HUGE_VAL) return LP_FZ_NAN;
        if (x != -HUGE_VAL) {
            n_finite++;
            at = i;
        }
    }
    if (n_finite == 0) return LP_FZ_NAN;
    if (lp_fz_value(p, row0 + (size_t)y) == -HUGE_VAL) return LP_FZ_NEGINF;
    return n_finite == 1 && at == y ? LP_FZ_ZERO : LP_FZ_NUM;
}

int lp_fz_bad_label(const lp_fz_problem *p, int64_t *b, int64_t *t, int64_t *lab)
{
    const int64_t B = p->pb.shape.B, T = p->pb.shape.T, V = p->pb.shape.V, Ts = lp_fz_ts(p);
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t ts = 0; ts < Ts; ts++) {
            int64_t tt = lp_fz_label_t(p, ts), y = lp_fz_label(p, (size_t)(bb * T + tt));
            if (y != p->pb.ignore_index && (y < 0 || y >= V)) {
                *b = bb;
                *t = tt;
                *lab = y;
                return 1;
            }
        }
    return 0;
}

uint64_t lp_fz_bits_in(const lp_value *v, lp_format f)
{
    switch (f) {
    case LP_F64: return lp_bits_f64(v->f64);
    case LP_F32: return lp_bits_f32(v->f32);
    case LP_F16: return v->f16;
    case LP_BF16: return v->bf16;
    }
    return 0;
}

uint64_t lp_fz_qnan(lp_format f)
{
    static const uint64_t q[LP_NFORMATS] = {UINT64_C(0x7ff8000000000000), 0x7fc00000u, 0x7e00u,
                                            0x7fc0u};
    return q[f];
}

/* RNE(x) = N 2^q with q = max(floor(log2|x|), emin) - p + 1 and N = RNE(x / 2^q), an integer
 * of at most p + 1 bits; then overflow where |N 2^q| exceeds the format's max. */
double lp_fz_round(const mpfr_t x, lp_format f)
{
    if (mpfr_nan_p(x)) return lp_f64_bits(UINT64_C(0x7ff8000000000000));
    if (mpfr_inf_p(x)) return mpfr_sgn(x) > 0 ? HUGE_VAL : -HUGE_VAL;
    if (mpfr_zero_p(x)) return mpfr_signbit(x) ? -0.0 : 0.0;
    const lp_format_info *fi = lp_format_get(f);
    const int neg = mpfr_sgn(x) < 0;
    long k = (long)mpfr_get_exp(x) - 1;   /* MPFR: |x| in [2^(e-1), 2^e) */
    if (k > fi->emax) return neg ? -HUGE_VAL : HUGE_VAL;
    if (k < fi->emin) k = fi->emin;
    const long q = k - fi->prec + 1;
    mpfr_prec_t pn = mpfr_get_prec(x) > 64 ? mpfr_get_prec(x) + 2 : 66;
    mpfr_t n;
    mpfr_init2(n, pn);
    mpfr_mul_2si(n, x, -q, MPFR_RNDN);    /* exact: more precision, a power of two */
    mpfr_rint(n, n, MPFR_RNDN);           /* nearest integer, ties to even; exact in pn bits */
    double N = mpfr_get_d(n, MPFR_RNDN);  /* |N| <= 2^p <= 2^53: exact */
    mpfr_clear(n);
    double v = ldexp(N, (int)q);          /* exact: q >= emin - p + 1 >= -1074 */
    const double maxf = ldexp(2.0 - ldexp(1.0, 1 - fi->prec), fi->emax);
    if (fabs(v) > maxf) v = neg ? -HUGE_VAL : HUGE_VAL;
    if (v == 0) v = neg ? -0.0 : 0.0;
    return v;
}

int lp_fz_same_value(const lp_value *a, const lp_value *b, const char **what)
{
    static const char *names[LP_NFORMATS] = {"f64", "f32", "f16", "bf16"};
    for (int f = 0; f < LP_NFORMATS; f++)
        if (lp_fz_bits_in(a, (lp_format)f) != lp_fz_bits_in(b, (lp_format)f)) {
            *what = names[f];
            return 0;
        }
    *what = "dd.hi";
    if (lp_bits_f64(a->dd.hi) != lp_bits_f64(b->dd.hi)) return 0;
    *what = "dd.lo";
    if (isnan(a->dd.lo) || isnan(b->dd.lo)) return isnan(a->dd.lo) && isnan(b->dd.lo);
    if (!isfinite(a->dd.hi)) return a->dd.lo == 0 && b->dd.lo == 0;
    /* each within 2^-104|x| + 2^-1074 of x, |x| <= |hi|(1 + 2^-52): the two within twice that */
    const double spread = ldexp(fabs(a->dd.hi), -102) + ldexp(1.0, -1072);
    return fabs(a->dd.lo - b->dd.lo) <= spread;
}

void lp_fz_value_str(char *buf, size_t cap, const lp_value *v)
{
    snprintf(buf, cap, "f64 0x%016llx (%.17g) f32 0x%08x f16 0x%04x bf16 0x%04x dd (%a, %a)",
             (unsigned long long)lp_bits_f64(v->f64), v->f64, (unsigned)lp_bits_f32(v->f32),
             (unsigned)v->f16, (unsigned)v->bf16, v->dd.hi, v->dd.lo);
}
