/* tests/t_reference.c: the exact engine: SPEC A3 rule by rule, the exact case, hand-checked
 * values against direct MPFR evaluations at 4096 bits, the open-bound cases where exp underflows
 * MPFR's exponent range, the invariance properties (exact shift, permutation, temperature), and
 * the mapped-file entry point (lp_ref_compute_mapped). */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_mapped.h"
#include "lp_tensor.h"
#include "lpt.h"

static const char *fmt_names[] = {"f64", "f32", "f16", "bf16"};

/* Bits of value v's format-f field, widened to u64 for printing and comparing. */
static uint64_t vbits(const lp_value *v, int f)
{
    switch (f) {
    case LP_F64: return lp_bits_f64(v->f64);
    case LP_F32: return lp_bits_f32(v->f32);
    case LP_F16: return v->f16;
    default: return v->bf16;
    }
}

static double vwide(const lp_value *v, int f)
{
    switch (f) {
    case LP_F64: return v->f64;
    case LP_F32: return (double)v->f32;
    case LP_F16: return lp_f16_to_f64(v->f16);
    default: return lp_bf16_to_f64(v->bf16);
    }
}

/* The exact value of the last expect_from_mpfr, for the dd bound; NULL: compare dd bit for bit. */
static mpfr_ptr exact_x;

/* |hi + lo - x| <= 2^-104 |x| + 2^-1074, the dd contract of lpcert.h. */
static int dd_within(const lp_dd *d, mpfr_srcptr x)
{
    if (!isfinite(d->hi)) return 0;
    mpfr_t e, bnd;
    mpfr_inits2(4200, e, bnd, (mpfr_ptr)0);
    mpfr_sub_d(e, x, d->hi, MPFR_RNDN);
    mpfr_sub_d(e, e, d->lo, MPFR_RNDN);
    mpfr_abs(e, e, MPFR_RNDN);
    mpfr_abs(bnd, x, MPFR_RNDN);
    mpfr_mul_2si(bnd, bnd, -104, MPFR_RNDN);
    mpfr_add_d(bnd, bnd, 0x1p-1074, MPFR_RNDN);
    int ok = mpfr_lessequal_p(e, bnd);
    mpfr_clears(e, bnd, (mpfr_ptr)0);
    return ok;
}

/* Every format of got equals want, bit for bit; the dd too, or within its bound of exact_x. */
static int same_value(const char *what, const lp_value *got, const lp_value *want)
{
    int ok = 1;
    for (int f = 0; f < LP_NFORMATS; f++) {
        if (vbits(got, f) == vbits(want, f)) continue;
        ok = 0;
        char g[64], w[64];
        lp_format_hexdec(g, sizeof g, vwide(got, f), (lp_format)f);
        lp_format_hexdec(w, sizeof w, vwide(want, f), (lp_format)f);
        lpt_check(0, "%s %s: want %s got %s", what, fmt_names[f], w, g);
    }
    int dd_ok = exact_x ? lp_bits_f64(got->dd.hi) == lp_bits_f64(want->dd.hi) &&
                              dd_within(&got->dd, exact_x)
                        : lp_bits_f64(got->dd.lo) == lp_bits_f64(want->dd.lo) &&
                              lp_bits_f64(got->dd.hi) == lp_bits_f64(want->dd.hi);
    exact_x = NULL;
    if (!dd_ok) {
        ok = 0;
        lpt_check(0, "%s dd: want (%a, %a) got (%a, %a)", what, want->dd.hi, want->dd.lo,
                  got->dd.hi, got->dd.lo);
    }
    if (ok) lpt_check(1, "%s", what);
    return ok;
}

/* The expected lp_value of an exact real held by MPFR at high precision (4096 bits: a rounding
 * boundary within 2^-4000 relative of a tested value would mislead this, none is near). */
static void expect_from_mpfr(lp_value *v, mpfr_t x)
{
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    double r[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++) {
        const lp_format_info *fi = lp_format_get((lp_format)f);
        mpfr_t t;
        mpfr_init2(t, fi->prec);
        int inex = mpfr_set(t, x, MPFR_RNDN); /* in the wide range: x may be outside the format's */
        mpfr_set_emin(fi->emin - fi->prec + 2);
        mpfr_set_emax(fi->emax + 1);
        inex = mpfr_check_range(t, inex, MPFR_RNDN);
        inex = mpfr_subnormalize(t, inex, MPFR_RNDN);
        r[f] = mpfr_get_d(t, MPFR_RNDN);
        mpfr_set_emin(emin);
        mpfr_set_emax(emax);
        mpfr_clear(t);
    }
    v->f64 = r[LP_F64];
    v->f32 = (float)r[LP_F32];
    v->f16 = lp_f16_from_f64(r[LP_F16]);
    v->bf16 = lp_bf16_from_f64(r[LP_BF16]);
    mpfr_t d;
    mpfr_init2(d, mpfr_get_prec(x));
    mpfr_sub_d(d, x, r[LP_F64], MPFR_RNDN);
    v->dd.hi = r[LP_F64];
    v->dd.lo = mpfr_get_d(d, MPFR_RNDN);
    mpfr_clear(d);
    exact_x = x; /* the next same_value checks the dd against x */
}

static void special(lp_value *v, double x)
{
    v->f64 = x;
    v->f32 = (float)x;
    v->f16 = lp_f16_from_f64(x);
    v->bf16 = lp_bf16_from_f64(x);
    v->dd.hi = x;
    v->dd.lo = isnan(x) ? x : 0.0;
}

static lp_value ref_row64(const double *row, int64_t V, int64_t y, double tau)
{
    lp_value v;
    lp_error err = {LP_OK, ""};
    memset(&v, 0xa5, sizeof v);
    if (!lpt_check(lp_ref_row(&v, row, LP_F64, V, y, tau, &err) == LP_OK, "lp_ref_row: %s", err.msg))
        memset(&v, 0, sizeof v);
    return v;
}

/* SPEC A3, one case per rule, and its precedence. */
static void check_special_rows(void)
{
    const double inf = HUGE_VAL, nan = lp_f64_bits(0x7ff8000000000000u);
    lp_value want_nan, want_ninf, want_zero;
    special(&want_nan, nan);
    special(&want_ninf, -inf);
    special(&want_zero, 0.0);
    double r1[] = {0.5, nan, 1.0};                 /* rule 1: NaN */
    same_value("A3.1 NaN in row", (lp_value[]){ref_row64(r1, 3, 0, 1.0)}, &want_nan);
    double r1b[] = {0.5, inf, 1.0};                /* rule 1: +inf */
    same_value("A3.1 +inf in row", (lp_value[]){ref_row64(r1b, 3, 1, 1.0)}, &want_nan);
    double r1c[] = {-inf, nan, -inf};              /* rule 1 before rule 3 */
    same_value("A3.1 precedes A3.3", (lp_value[]){ref_row64(r1c, 3, 0, 1.0)}, &want_nan);
    double r2[] = {-inf, -inf, -inf};              /* rule 2: all -inf */
    same_value("A3.2 all -inf", (lp_value[]){ref_row64(r2, 3, 1, 1.0)}, &want_nan);
    double r3[] = {2.0, -inf, 1.0};                /* rule 3: label -inf */
    same_value("A3.3 label -inf", (lp_value[]){ref_row64(r3, 3, 1, 1.0)}, &want_ninf);
    double r4[] = {-inf, 3.25, -inf};              /* A2: the only finite logit, at the label */
    same_value("A2 exact zero", (lp_value[]){ref_row64(r4, 3, 1, 0.7)}, &want_zero);
    double r5[] = {-7.0};                          /* V = 1 */
    same_value("A2 V=1", (lp_value[]){ref_row64(r5, 1, 0, 1.0)}, &want_zero);
    double r6[] = {-inf};
    same_value("A3.2 V=1 -inf", (lp_value[]){ref_row64(r6, 1, 0, 1.0)}, &want_nan);
    double r7[] = {1e308, -1e308, 1.7e308};        /* huge but finite: a number, not NaN */
    lp_value v = ref_row64(r7, 3, 1, 1.0);
    lpt_check(isinf(v.f64) && v.f64 < 0 && isinf(v.dd.hi), "huge row: want f64 -inf (overflow of "
              "-2.7e308), got %a", v.f64);
}

/* Hand-checked values: -log V for V equal logits, -log 2, and peaked rows; each against MPFR
 * evaluated directly (log of the sum, not the engine's log1p split). */
static void check_known_values(void)
{
    mpfr_t x, t;
    mpfr_inits2(4096, x, t, (mpfr_ptr)0);
    static const int64_t Vs[] = {2, 3, 10, 1000, 32000, 50257, 128256};
    for (size_t k = 0; k < sizeof Vs / sizeof Vs[0]; k++) {
        int64_t V = Vs[k];
        double *row = malloc((size_t)V * sizeof *row);
        for (int64_t i = 0; i < V; i++) row[i] = -1.5;
        mpfr_set_si(x, V, MPFR_RNDN);
        mpfr_log(x, x, MPFR_RNDN);
        mpfr_neg(x, x, MPFR_RNDN);
        lp_value want, got = ref_row64(row, V, V / 2, 1.0);
        expect_from_mpfr(&want, x);
        char what[64];
        snprintf(what, sizeof what, "-log V, V=%lld", (long long)V);
        same_value(what, &got, &want);
        free(row);
    }
    lpt_check(lp_bits_f64(ref_row64((double[]){0, 0}, 2, 0, 1.0).f64) == 0xbfe62e42fefa39efu,
              "-log 2 in f64 is -0x1.62e42fefa39efp-1");
    lpt_check(lp_bits_f32(ref_row64((double[]){0, 0}, 2, 0, 1.0).f32) == 0xbf317218u,
              "-log 2 in f32 is 0xbf317218");

    /* peaked rows: x = (0, -d), label 0: logp = -log(1 + e^-d), down to 1e-300 */
    static const double ds[] = {1, 10, 27.6, 50, 100, 300, 700, 745.5, 1000};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        mpfr_set_d(t, -ds[k], MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_add_ui(x, t, 1, MPFR_RNDN);
        mpfr_log(x, x, MPFR_RNDN);
        mpfr_neg(x, x, MPFR_RNDN);
        lp_value want, got = ref_row64((double[]){0, -ds[k]}, 2, 0, 1.0);
        expect_from_mpfr(&want, x);
        char what[64];
        snprintf(what, sizeof what, "peaked row d=%g", ds[k]);
        same_value(what, &got, &want);
        /* the label far below: logp = -d - log(1 + e^-d) */
        mpfr_sub_d(x, x, ds[k], MPFR_RNDN);
        got = ref_row64((double[]){0, -ds[k]}, 2, 1, 1.0);
        expect_from_mpfr(&want, x);
        snprintf(what, sizeof what, "label far below d=%g", ds[k]);
        same_value(what, &got, &want);
    }
    mpfr_clears(x, t, (mpfr_ptr)0);
}

/* exp(d) below MPFR's own exponent range (|d| > 3e18): the open-bound rule decides. */
static void check_open_bounds(void)
{
    lp_value want;
    /* label at the max, the rest underflows everything: logp = -tiny -> -0 everywhere. */
    special(&want, -0.0);
    want.dd.lo = -0.0;
    same_value("underflow to -0", (lp_value[]){ref_row64((double[]){0, -1e300}, 2, 0, 1.0)}, &want);
    /* D = -(2^100 + 2^76) is an f32 midpoint; the exact logp is D - tiny: it rounds away from the
     * tie, to -(2^100 + 2^77). Closed bounds would round D to even (-2^100) or never decide. */
    double D = -(0x1p100 + 0x1p76);
    lp_value v = ref_row64((double[]){0, D}, 2, 1, 1.0);
    lpt_check(v.f32 == -(0x1p100f + 0x1p77f), "f32 midpoint beyond MPFR underflow: want %a got %a",
              -(0x1p100 + 0x1p77), (double)v.f32);
    lpt_check(v.f64 == D, "f64 of D - tiny: want %a got %a", D, v.f64);
    lpt_check(fabs(v.dd.lo) <= 0x1p-4 * 0x1p-100 * 0x1p100, "dd.lo of D - tiny: want |lo| <= 2^-104 |D|, "
              "got %a", v.dd.lo);
}

/* Properties on random rows: logp <= 0; adding an exact constant to the row, permuting it, or
 * dividing it by a power of two versus the same temperature, leave every bit unchanged. */
static void check_properties(int n)
{
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    enum { VMAX = 64 };
    double row[VMAX], row2[VMAX];
    for (int it = 0; it < n; it++) {
        int64_t V = 1 + (int64_t)(lpt_rng_next(&rng) % VMAX), y = (int64_t)(lpt_rng_next(&rng) % (uint64_t)V);
        double scale = ldexp(1.0, (int)(lpt_rng_next(&rng) % 12) - 4);
        for (int64_t i = 0; i < V; i++) /* multiples of 2^-20 below 2^12: shifts stay exact */
            row[i] = ldexp(floor(lpt_rng_normal(&rng) * scale * 0x1p20), -20);
        if (lpt_rng_next(&rng) % 4 == 0) row[lpt_rng_next(&rng) % (uint64_t)V] = -HUGE_VAL;
        lp_value a = ref_row64(row, V, y, 1.0);
        lpt_check(!(a.f64 > 0) && !(a.dd.hi > 0), "it=%d V=%lld y=%lld: logp %a > 0", it,
                  (long long)V, (long long)y, a.f64);
        double c = ldexp(floor(lpt_rng_normal(&rng) * 0x1p10), -4);
        for (int64_t i = 0; i < V; i++) row2[i] = row[i] + c;
        char what[96];
        snprintf(what, sizeof what, "shift it=%d V=%lld y=%lld c=%a", it, (long long)V,
                 (long long)y, c);
        same_value(what, (lp_value[]){ref_row64(row2, V, y, 1.0)}, &a);
        int64_t rot = (int64_t)(lpt_rng_next(&rng) % (uint64_t)V); /* reverse then rotate */
        for (int64_t i = 0; i < V; i++) row2[(V - 1 - i + rot) % V] = row[i];
        snprintf(what, sizeof what, "permutation it=%d V=%lld y=%lld", it, (long long)V, (long long)y);
        same_value(what, (lp_value[]){ref_row64(row2, V, (V - 1 - y + rot) % V, 1.0)}, &a);
        for (int64_t i = 0; i < V; i++) row2[i] = row[i] * 4.0;
        snprintf(what, sizeof what, "temperature 4 it=%d V=%lld y=%lld", it, (long long)V, (long long)y);
        same_value(what, (lp_value[]){ref_row64(row2, V, y, 4.0)}, &a);
    }
}

/* A whole problem: sums and means against MPFR, the masks, the empty policy, shift modes. */
static void check_problem(void)
{
    enum { B = 3, T = 5, V = 4 };
    double logits[B * T * V];
    int64_t labels[B * T];
    uint8_t mask[B * T];
    for (int i = 0; i < B * T * V; i++) logits[i] = (double)((i * 7) % 11) * 0.25;
    for (int i = 0; i < B * T; i++) {
        labels[i] = (i * 3) % V;
        mask[i] = 1;
    }
    labels[1 * T + 2] = -100;                             /* b=1: one ignored */
    for (int t = 0; t < T; t++) mask[2 * T + t] = 0;      /* b=2: all masked */
    logits[(2 * T + 1) * V + 0] = -HUGE_VAL;              /* the dummy-label trap, masked: no effect */
    logits[(2 * T + 2) * V + 3] = lp_f64_bits(0x7ff8000000000000u); /* masked NaN: no effect */
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){B, T, V};
    pb.fmt = LP_F64;
    pb.logits = logits;
    pb.labels = labels;
    pb.mask = mask;
    for (int em = 0; em < 2; em++) {
        pb.empty_mean = (lp_empty_mean)em;
        lp_ref_result res;
        lp_error err = {LP_OK, ""};
        if (!lpt_check(lp_ref_compute(&res, &pb, &err) == LP_OK, "lp_ref_compute: %s", err.msg)) return;
        lpt_check(res.Ts == T - 1 && res.count[0] == 4 && res.count[1] == 3 && res.count[2] == 0,
                  "counts: Ts=%lld counts %lld %lld %lld", (long long)res.Ts, (long long)res.count[0],
                  (long long)res.count[1], (long long)res.count[2]);
        mpfr_t x, tot, s;
        mpfr_inits2(4096, x, tot, s, (mpfr_ptr)0);
        mpfr_set_zero(tot, 1);
        for (int b = 0; b < 2; b++) {
            mpfr_set_zero(s, 1);
            for (int ts = 0; ts < T - 1; ts++) {
                int64_t y = labels[b * T + ts + 1];
                if (y == -100) continue;
                const double *row = logits + (b * T + ts) * V;
                mpfr_set_zero(x, 1);   /* x = log sum exp(row) - row[y], subtracted from s */
                mpfr_t e;
                mpfr_init2(e, 4096);
                for (int i = 0; i < V; i++) {
                    mpfr_set_d(e, row[i], MPFR_RNDN);
                    mpfr_exp(e, e, MPFR_RNDN);
                    mpfr_add(x, x, e, MPFR_RNDN);
                }
                mpfr_clear(e);
                mpfr_log(x, x, MPFR_RNDN);
                mpfr_sub_d(x, x, row[y], MPFR_RNDN);
                mpfr_sub(s, s, x, MPFR_RNDN);
                lp_value want;
                mpfr_neg(x, x, MPFR_RNDN);
                expect_from_mpfr(&want, x);
                char what[64];
                snprintf(what, sizeof what, "problem token b=%d t=%d", b, ts);
                same_value(what, &res.logp[b * (T - 1) + ts], &want);
            }
            lp_value want;
            expect_from_mpfr(&want, s);
            char what[64];
            snprintf(what, sizeof what, "problem sum b=%d", b);
            same_value(what, &res.sum[b], &want);
            mpfr_add(tot, tot, s, MPFR_RNDN);
            mpfr_div_ui(s, s, (unsigned long)res.count[b], MPFR_RNDN);
            expect_from_mpfr(&want, s);
            snprintf(what, sizeof what, "problem mean b=%d", b);
            same_value(what, &res.mean[b], &want);
        }
        lp_value want;
        mpfr_div_ui(tot, tot, 7, MPFR_RNDN);
        expect_from_mpfr(&want, tot);
        same_value("problem token_mean", &res.token_mean, &want);
        special(&want, 0.0);
        same_value("all-masked sum is +0", &res.sum[2], &want);
        special(&want, em == LP_EMPTY_NAN ? lp_f64_bits(0x7ff8000000000000u) : 0.0);
        same_value(em == LP_EMPTY_NAN ? "empty mean nan" : "empty mean zero", &res.mean[2], &want);
        lpt_check(res.counted[1 * (T - 1) + 1] == 0 && isnan(res.logp[1 * (T - 1) + 1].f64),
                  "ignored token: counted 0 and NaN");
        mpfr_clears(x, tot, s, (mpfr_ptr)0);
        lp_ref_result_free(&res);
    }
    /* an out-of-range label is an input error even where masked; the error names b, t, value */
    labels[2 * T + 3] = V;
    lp_ref_result res;
    lp_error err = {LP_OK, ""};
    lp_status s = lp_ref_compute(&res, &pb, &err);
    lpt_check(s == LP_ERR_INPUT && strstr(err.msg, "b=2,t=3") && strstr(err.msg, "label 4"),
              "masked out-of-range label: status %s msg '%s'", lp_status_name(s), err.msg);
    /* with shift next, labels[b, 0] is never scored and never checked */
    labels[2 * T + 3] = 0;
    labels[0] = 99999;
    s = lp_ref_compute(&res, &pb, &err);
    lpt_check(s == LP_OK, "labels[0,0] unchecked under shift next: %s", err.msg);
    lp_ref_result_free(&res);
    pb.shift = LP_SHIFT_NONE;
    s = lp_ref_compute(&res, &pb, &err);
    lpt_check(s == LP_ERR_INPUT && strstr(err.msg, "b=0,t=0"), "labels[0,0] checked under shift "
              "none: %s '%s'", lp_status_name(s), err.msg);
}

/* A counted NaN or -inf token makes the sum NaN or -inf; a counted masked-free sequence of exact
 * zeros sums to +0. */
static void check_reduction_classes(void)
{
    const double inf = HUGE_VAL;
    double logits[] = {0, 1, /* t0 */ -inf, 2, /* t1 */ 5, -inf, /* t2 */ 1, 1};
    int64_t labels[] = {0, 0, 0, 0};
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, 4, 2};
    pb.fmt = LP_F64;
    pb.logits = logits;
    pb.labels = labels;
    pb.shift = LP_SHIFT_NONE;
    lp_ref_result res;
    lp_error err;
    if (!lpt_check(lp_ref_compute(&res, &pb, &err) == LP_OK, "classes: %s", err.msg)) return;
    lpt_check(isinf(res.sum[0].f64) && res.sum[0].f64 < 0 && isinf(res.mean[0].f64),
              "counted -inf token: sum %a mean %a", res.sum[0].f64, res.mean[0].f64);
    lpt_check(res.logp[2].f64 == 0 && !signbit(res.logp[2].f64), "exact zero token is +0");
    lp_ref_result_free(&res);
    logits[3] = lp_f64_bits(0x7ff8000000000000u);
    if (!lpt_check(lp_ref_compute(&res, &pb, &err) == LP_OK, "classes: %s", err.msg)) return;
    lpt_check(isnan(res.sum[0].f64) && isnan(res.token_mean.f64), "counted NaN beats -inf: sum %a",
              res.sum[0].f64);
    lp_ref_result_free(&res);
    double ones[] = {3, -inf, -inf, 3};
    int64_t lab2[] = {0, 1};
    pb.shape = (lp_shape){1, 2, 2};
    pb.logits = ones;
    pb.labels = lab2;
    if (!lpt_check(lp_ref_compute(&res, &pb, &err) == LP_OK, "classes: %s", err.msg)) return;
    lpt_check(lp_bits_f64(res.sum[0].f64) == 0 && lp_bits_f64(res.mean[0].f64) == 0 &&
              res.token_mean.f64 == 0 && !signbit(res.token_mean.f64),
              "all-exact sum is +0: %a", res.sum[0].f64);
    lp_ref_result_free(&res);
}

/* Results are bit-identical for 1, 2 and 5 threads (SPEC A6), on a problem with every class. */
static void check_threads(void)
{
    enum { B = 4, T = 70, V = 9 };
    static double logits[B * T * V];
    static int64_t labels[B * T];
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed() ^ 0x7472u);
    for (int i = 0; i < B * T * V; i++) logits[i] = lpt_rng_normal(&rng) * 4;
    for (int i = 0; i < B * T; i++) labels[i] = (int64_t)(lpt_rng_next(&rng) % V);
    logits[5 * V + 2] = -HUGE_VAL;
    logits[(T + 3) * V + 1] = HUGE_VAL;
    labels[2 * T + 7] = -100;
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){B, T, V};
    pb.fmt = LP_F64;
    pb.logits = logits;
    pb.labels = labels;
    lp_ref_result r1, rn;
    lp_error err;
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 1;
    if (!lpt_check(lp_ref_compute_opts(&r1, &pb, &o, &err) == LP_OK, "threads=1: %s", err.msg)) return;
    for (int th = 2; th <= 5; th += 3) {
        o.threads = th;
        if (!lpt_check(lp_ref_compute_opts(&rn, &pb, &o, &err) == LP_OK, "threads=%d: %s", th, err.msg))
            continue;
        lpt_check(memcmp(r1.logp, rn.logp, sizeof *r1.logp * (size_t)(B * (T - 1))) == 0 &&
                  memcmp(r1.sum, rn.sum, sizeof *r1.sum * B) == 0 &&
                  memcmp(r1.mean, rn.mean, sizeof *r1.mean * B) == 0 &&
                  memcmp(&r1.token_mean, &rn.token_mean, sizeof r1.token_mean) == 0,
                  "threads=%d: results differ from threads=1", th);
        lp_ref_result_free(&rn);
    }
    lp_ref_result_free(&r1);
}

static int same_result(const lp_ref_result *a, const lp_ref_result *b)
{
    const size_t n = (size_t)(a->B * a->Ts), B = (size_t)a->B;
    return a->B == b->B && a->Ts == b->Ts && memcmp(a->logp, b->logp, n * sizeof *a->logp) == 0 &&
           memcmp(a->sum, b->sum, B * sizeof *a->sum) == 0 &&
           memcmp(a->mean, b->mean, B * sizeof *a->mean) == 0 &&
           memcmp(&a->token_mean, &b->token_mean, sizeof a->token_mean) == 0;
}

/* lp_ref_compute_mapped (reference/lp_ref_mapped.h, `lpcert ref`'s path): on logits in a file
 * mapping (released chunk by chunk) the results of lp_ref_compute_opts; on a file parsed from the
 * caller's buffer nothing is released: the buffer is left intact (MADV_DONTNEED would zero it). */
static void check_mapped(void)
{
    enum { B = 4, T = 200, V = 300 }; /* 4 chunks of 218 tokens, 960 KB of logits */
    float *logits = malloc(sizeof *logits * B * T * V);
    int64_t *labels = malloc(sizeof *labels * B * T);
    char path[] = "/tmp/t_reference_XXXXXX";
    const int fd = mkstemp(path);
    if (!lpt_check(logits && labels && fd >= 0, "check_mapped: no memory or temporary file")) {
        free(logits);
        free(labels);
        return;
    }
    close(fd);
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed() ^ 0x6d6170u);
    for (int i = 0; i < B * T * V; i++) logits[i] = (float)(lpt_rng_normal(&rng) * 3);
    for (int i = 0; i < B * T; i++) labels[i] = (int64_t)(lpt_rng_next(&rng) % V);
    lp_error err = {LP_OK, ""};
    lp_twriter *w = NULL;
    const int64_t dims[3] = {B, T, V};
    lp_status st = lp_twriter_new(&w, path, &err);
    if (st == LP_OK) st = lp_twriter_add(w, "logits", LP_DT_F32, 3, dims, logits, &err);
    if (st == LP_OK) st = lp_twriter_finish(w, &err);
    else lp_twriter_abort(w);
    lp_tfile *f = NULL, *g = NULL;
    if (st == LP_OK) st = lp_tfile_open(&f, path, &err);
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = malloc(2u << 20), *copy = malloc(2u << 20);
    const size_t nb = fp && buf ? fread(buf, 1, 2u << 20, fp) : 0;
    if (fp) fclose(fp);
    if (copy && nb) memcpy(copy, buf, nb);
    if (st == LP_OK) st = lp_tfile_parse(&g, buf, nb, "buffer", &err);
    if (lpt_check(st == LP_OK && copy, "check_mapped: %s", err.msg)) {
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = LP_F32;
        pb.labels = labels;
        lp_ref_options o = LP_REF_OPTIONS_INIT;
        o.threads = 2;
        o.formats = (1u << LP_F64) | (1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16);
        lp_ref_result r0, r1, r2;
        pb.logits = logits;
        st = lp_ref_compute_opts(&r0, &pb, &o, &err);
        if (lpt_check(st == LP_OK, "check_mapped: opts: %s", err.msg)) {
            pb.logits = lp_tfile_find(f, "logits")->data;
            st = lp_ref_compute_mapped(&r1, &pb, &o, f, &err);
            if (lpt_check(st == LP_OK, "check_mapped: mapped: %s", err.msg)) {
                lpt_check(same_result(&r0, &r1), "check_mapped: mapped file: results differ");
                lp_ref_result_free(&r1);
            }
            pb.logits = lp_tfile_find(g, "logits")->data;
            st = lp_ref_compute_mapped(&r2, &pb, &o, g, &err);
            if (lpt_check(st == LP_OK, "check_mapped: buffer: %s", err.msg)) {
                lpt_check(same_result(&r0, &r2) && memcmp(buf, copy, nb) == 0,
                          "check_mapped: a caller's buffer was released or results differ");
                lp_ref_result_free(&r2);
            }
            lp_ref_result_free(&r0);
        }
    }
    lp_tfile_close(f);
    lp_tfile_close(g);
    remove(path);
    free(buf);
    free(copy);
    free(logits);
    free(labels);
}

/* The engine saves and restores MPFR's exponent range and flags at every entry point. */
static void check_state_restored(void)
{
    mpfr_set_emin(-5000);
    mpfr_set_emax(5000);
    mpfr_flags_clear(MPFR_FLAGS_ALL);
    mpfr_flags_set(MPFR_FLAGS_ERANGE);
    double row[] = {0.5, -1e300, 3.0};
    lp_value v;
    lp_error err;
    lp_ref_row(&v, row, LP_F64, 3, 1, 0.7, &err);
    int64_t labels[] = {0, 2};
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, 2, 3};
    pb.fmt = LP_F64;
    pb.logits = (double[]){0.5, -1e300, 3.0, 1, 2, 3};
    pb.labels = labels;
    lp_ref_result res;
    lp_ref_compute(&res, &pb, &err);
    lp_ref_result_free(&res);
    lpt_check(mpfr_get_emin() == -5000 && mpfr_get_emax() == 5000 &&
              mpfr_flags_save() == MPFR_FLAGS_ERANGE,
              "MPFR state not restored: emin %ld emax %ld flags %x", (long)mpfr_get_emin(),
              (long)mpfr_get_emax(), (unsigned)mpfr_flags_save());
    mpfr_set_emin(MPFR_EMIN_DEFAULT);
    mpfr_set_emax(MPFR_EMAX_DEFAULT);
}

int main(void)
{
    lpt_begin("t_reference");
    check_special_rows();
    check_known_values();
    check_open_bounds();
    check_problem();
    check_reduction_classes();
    check_threads();
    check_mapped();
    check_properties(lpt_level() == 1 ? 300 : 20000);
    mpfr_flags_clear(MPFR_FLAGS_ALL); /* the flags this test's own MPFR evaluations raised */
    check_state_restored();
    mpfr_flags_clear(MPFR_FLAGS_ALL);
    return lpt_end();
}
