/* tests/t_sample.c: sampling semantics (SPEC A7) in the exact reference.
 *
 * What is checked, every value bit for bit (each format and the dd), with a reproducer (the row,
 * the label, the parameters, both values in hex and decimal) on failure:
 *   - the rules one by one on hand-made rows: top-k ties at the k-th value all kept; top-p tie
 *     invariance and the most probable token always kept; a label outside the kept set is -inf
 *     and makes its sequence's sum and mean -inf; the only token kept gives +0; min-p at its
 *     boundary; NaN rows stay NaN (A3 first);
 *   - sharp boundaries: top_p and min_p set to the doubles just below and just above the exact
 *     mass (or ratio) at which a token leaves the kept set: only exact decisions get both right;
 *   - without softcap, the processed value is A1's plain value of the row whose filtered-out
 *     logits are -inf (the same real): lp_ref_compute on the sampled problem equals
 *     lp_ref_compute on the masked problem for every token, sum, mean and the token mean, the
 *     kept set coming from an independent evaluation here (each rule as A7 words it, one token
 *     at a time, sums of exponentials at 3000 bits);
 *   - with softcap (logits of +-100, c = 30 and 50, alone and with the filters): the value against
 *     a direct MPFR evaluation at 3000 bits of z_y - log sum_K exp(z_i), z = c tanh(x / c) / tau;
 *   - no parameter set (or only ones that keep everything) gives A1's bits; the slow route, the
 *     fast route and a single-row call agree; invalid parameters are one-line usage errors that
 *     name the parameter; lp_ref_kept gives the kept set.
 * LPCERT_LEVEL=2 runs more random rows. */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>

#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_judge.h"
#include "lpt.h"

static const char *fmt_names[] = {"f64", "f32", "f16", "bf16"};

static uint64_t vbits(const lp_value *v, int f)
{
    switch (f) {
    case LP_F64: return lp_bits_f64(v->f64);
    case LP_F32: return lp_bits_f32(v->f32);
    case LP_F16: return v->f16;
    default: return v->bf16;
    }
}

static double vwide(const lp_value *v, int f) { return lp_value_wide(v, (lp_format)f); }

/* The reproducer of the current case: printed under a failure. */
static char g_case[1536];

static void set_case(const double *row, lp_format fmt, int64_t V, int64_t y, double tau,
                     const lp_sampling *s)
{
    int n = snprintf(g_case, sizeof g_case, "fmt %s V %lld label %lld tau %a softcap %a top_k %lld "
                     "top_p %a min_p %a row [", fmt_names[fmt], (long long)V, (long long)y, tau,
                     s ? s->softcap : 0.0, s ? (long long)s->top_k : 0LL, s ? s->top_p : 0.0,
                     s ? s->min_p : 0.0);
    for (int64_t i = 0; i < V && n > 0 && (size_t)n < sizeof g_case - 40; i++)
        n += snprintf(g_case + n, sizeof g_case - (size_t)n, "%s%a", i ? ", " : "", row[i]);
    if (n > 0 && (size_t)n < sizeof g_case - 2) snprintf(g_case + n, sizeof g_case - (size_t)n, "]");
}

/* Every format and the dd of got equal want's, bit for bit. */
static int same_value(const char *what, const lp_value *got, const lp_value *want)
{
    int ok = 1;
    for (int f = 0; f < LP_NFORMATS; f++) {
        if (vbits(got, f) == vbits(want, f)) continue;
        char g[64], w[64];
        lp_format_hexdec(g, sizeof g, vwide(got, f), (lp_format)f);
        lp_format_hexdec(w, sizeof w, vwide(want, f), (lp_format)f);
        if (ok) lpt_check(0, "%s %s: want %s got %s", what, fmt_names[f], w, g);
        else lpt_note("%s: want %s got %s", fmt_names[f], w, g);
        ok = 0;
    }
    if (lp_bits_f64(got->dd.hi) != lp_bits_f64(want->dd.hi) ||
        lp_bits_f64(got->dd.lo) != lp_bits_f64(want->dd.lo)) {
        if (ok) lpt_check(0, "%s dd: want (%a, %a) got (%a, %a)", what, want->dd.hi, want->dd.lo,
                          got->dd.hi, got->dd.lo);
        else lpt_note("dd: want (%a, %a) got (%a, %a)", want->dd.hi, want->dd.lo, got->dd.hi,
                      got->dd.lo);
        ok = 0;
    }
    if (ok) lpt_check(1, "%s", what);
    else lpt_note("case: %s", g_case);
    return ok;
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

/* The expected lp_value of an exact real held at 3000 bits (a rounding boundary within 2^-2900
 * relative of a tested value would mislead this; none is near, and the test would then fail,
 * not pass wrongly, unless the engine erred the same way). */
static void expect_from_mpfr(lp_value *v, mpfr_t x)
{
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    double r[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++) {
        const lp_format_info *fi = lp_format_get((lp_format)f);
        mpfr_t t;
        mpfr_init2(t, fi->prec);
        int inex = mpfr_set(t, x, MPFR_RNDN);
        mpfr_set_emin(fi->emin - fi->prec + 2);
        mpfr_set_emax(fi->emax + 1);
        inex = mpfr_check_range(t, inex, MPFR_RNDN);
        mpfr_subnormalize(t, inex, MPFR_RNDN);
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
}

#define HP 3000

/* z_i of A7 at HP bits: c tanh(x / c) / tau, or x / tau. */
static void z_of(mpfr_t z, double x, double cap, double tau)
{
    mpfr_set_d(z, x, MPFR_RNDN);
    if (cap != 0) {
        mpfr_div_d(z, z, cap, MPFR_RNDN);
        mpfr_tanh(z, z, MPFR_RNDN);
        mpfr_mul_d(z, z, cap, MPFR_RNDN);
    }
    mpfr_div_d(z, z, tau, MPFR_RNDN);
}

/* The kept set of A7 by its words, one token at a time, at HP bits (finite rows, V <= 64).
 * Returns the smallest distance met between a decided quantity and its threshold (log2), so that
 * a caller can skip a case too close to call at HP bits (never met in practice). */
static double kept_by_words(uint8_t *kept, const double *row, int64_t V, double tau,
                            const lp_sampling *s)
{
    mpfr_t z[64], S, A, t, zmax;
    double margin = 0;
    for (int64_t i = 0; i < V; i++) {
        mpfr_init2(z[i], HP);
        if (row[i] != -HUGE_VAL) z_of(z[i], row[i], s->softcap, tau);
        kept[i] = row[i] != -HUGE_VAL;
    }
    mpfr_inits2(HP, S, A, t, zmax, (mpfr_ptr)0);
    /* 3. top_k: z_i >= the k-th largest (with multiplicity) */
    if (s->top_k > 0) {
        for (int64_t i = 0; i < V; i++) {
            if (!kept[i]) continue;
            int64_t above = 0; /* tokens strictly larger */
            for (int64_t j = 0; j < V; j++)
                if (row[j] != -HUGE_VAL && mpfr_greater_p(z[j], z[i])) above++;
            if (above >= s->top_k) kept[i] = 2; /* the k-th largest is strictly above z_i */
        }
        for (int64_t i = 0; i < V; i++) kept[i] = kept[i] == 1;
    }
    /* 4. top_p on the renormalised distribution of what 3 kept */
    if (s->top_p > 0) {
        mpfr_set_zero(S, 1);
        for (int64_t j = 0; j < V; j++)
            if (kept[j]) {
                mpfr_exp(t, z[j], MPFR_RNDN);
                mpfr_add(S, S, t, MPFR_RNDN);
            }
        uint8_t k2[64];
        for (int64_t i = 0; i < V; i++) {
            k2[i] = 0;
            if (!kept[i]) continue;
            mpfr_set_zero(A, 1);
            for (int64_t j = 0; j < V; j++)
                if (kept[j] && mpfr_greater_p(z[j], z[i])) {
                    mpfr_exp(t, z[j], MPFR_RNDN);
                    mpfr_add(A, A, t, MPFR_RNDN);
                }
            mpfr_div(A, A, S, MPFR_RNDN);        /* the mass strictly more probable than i */
            mpfr_sub_d(t, A, s->top_p, MPFR_RNDN);
            if (!mpfr_zero_p(t)) {
                double m = (double)mpfr_get_exp(t);
                if (m < margin) margin = m;
            }
            k2[i] = mpfr_cmp_d(A, s->top_p) < 0;
        }
        for (int64_t i = 0; i < V; i++) kept[i] = k2[i];
    }
    /* 5. min_p: p_i >= q p_max on what 3-4 kept */
    if (s->min_p > 0) {
        int have = 0;
        for (int64_t j = 0; j < V; j++)
            if (kept[j] && (!have || mpfr_greater_p(z[j], zmax))) {
                mpfr_set(zmax, z[j], MPFR_RNDN);
                have = 1;
            }
        for (int64_t i = 0; i < V; i++) {
            if (!kept[i]) continue;
            mpfr_sub(t, z[i], zmax, MPFR_RNDN);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_sub_d(t, t, s->min_p, MPFR_RNDN);
            if (!mpfr_zero_p(t) && mpfr_cmp(z[i], zmax) != 0) {
                double m = (double)mpfr_get_exp(t);
                if (m < margin) margin = m;
            }
            kept[i] = mpfr_sgn(t) >= 0;
        }
    }
    for (int64_t i = 0; i < V; i++) mpfr_clear(z[i]);
    mpfr_clears(S, A, t, zmax, (mpfr_ptr)0);
    return margin;
}

/* z_y - log sum_K exp(z_i) at HP bits into x (finite label in K, some token in K). */
static void processed_mpfr(mpfr_t x, const double *row, const uint8_t *kept, int64_t V, int64_t y,
                           double tau, double cap)
{
    mpfr_t S, t;
    mpfr_inits2(HP, S, t, (mpfr_ptr)0);
    mpfr_set_zero(S, 1);
    for (int64_t i = 0; i < V; i++)
        if (kept[i]) {
            z_of(t, row[i], cap, tau);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_add(S, S, t, MPFR_RNDN);
        }
    mpfr_log(S, S, MPFR_RNDN);
    z_of(t, row[y], cap, tau);
    mpfr_sub(x, t, S, MPFR_RNDN);
    mpfr_clears(S, t, (mpfr_ptr)0);
}

/* Row r (doubles exactly representable in fmt) stored in fmt. */
static void *store_row(const double *row, int64_t n, lp_format fmt)
{
    void *p = malloc((size_t)n * (size_t)lp_format_get(fmt)->bytes);
    for (int64_t i = 0; i < n; i++) lp_store_f64(p, fmt, (size_t)i, row[i]);
    return p;
}

static lp_value row_sampled(const double *row, lp_format fmt, int64_t V, int64_t y, double tau,
                            const lp_sampling *s)
{
    lp_value v;
    lp_error err = {LP_OK, ""};
    memset(&v, 0xa5, sizeof v);
    void *p = store_row(row, V, fmt);
    set_case(row, fmt, V, y, tau, s);
    if (!lpt_check(lp_ref_row_sampled(&v, p, fmt, V, y, tau, s, &err) == LP_OK,
                   "lp_ref_row_sampled: %s (%s)", err.msg, g_case))
        memset(&v, 0, sizeof v);
    free(p);
    return v;
}

/* A1's value of the row with the tokens not kept at -inf. */
static lp_value row_masked(const double *row, const uint8_t *kept, lp_format fmt, int64_t V,
                           int64_t y, double tau)
{
    double m[64];
    for (int64_t i = 0; i < V; i++) m[i] = kept[i] ? row[i] : -HUGE_VAL;
    lp_value v;
    lp_error err = {LP_OK, ""};
    void *p = store_row(m, V, fmt);
    if (!lpt_check(lp_ref_row(&v, p, fmt, V, y, tau, &err) == LP_OK, "lp_ref_row: %s", err.msg))
        memset(&v, 0, sizeof v);
    free(p);
    return v;
}

static lp_sampling samp(double cap, int64_t k, double p, double q)
{
    lp_sampling s = {cap, k, p, q};
    return s;
}

/* One hand-made row: the value against an expected one (exp_neginf / exp_zero), or, when neither,
 * against A1's value of the row masked to the kept set given. */
static void one(const char *what, const double *row, int64_t V, int64_t y, double tau,
                lp_sampling s, const uint8_t *kept, int special_v)
{
    for (int f = 0; f < LP_NFORMATS; f++) {
        const lp_format fmt = (lp_format)f;
        lp_value got = row_sampled(row, fmt, V, y, tau, &s), want;
        char name[200];
        snprintf(name, sizeof name, "%s [%s]", what, fmt_names[f]);
        if (special_v == 1) special(&want, -HUGE_VAL);
        else if (special_v == 2) special(&want, 0.0);
        else if (special_v == 3) special(&want, (double)NAN);
        else want = row_masked(row, kept, fmt, V, y, tau);
        same_value(name, &got, &want);
        /* the kept set itself */
        if (special_v == 3) continue;
        uint8_t k[64];
        lp_error err = {LP_OK, ""};
        void *p = store_row(row, V, fmt);
        if (lpt_check(lp_ref_kept(k, p, fmt, V, tau, &s, &err) == LP_OK, "lp_ref_kept: %s", err.msg)) {
            int same = 1;
            for (int64_t i = 0; i < V; i++) same &= k[i] == kept[i];
            if (!lpt_check(same, "%s [%s]: lp_ref_kept differs from the expected set", what,
                           fmt_names[f]))
                for (int64_t i = 0; i < V; i++)
                    lpt_note("token %lld: %a kept %d want %d (%s)", (long long)i, row[i], k[i],
                             kept[i], g_case);
        }
        free(p);
    }
}

static void check_rules(void)
{
    /* top-k: ties at the k-th value are all kept */
    const double r1[6] = {5, 3, 3, 3, 1, -HUGE_VAL};
    const uint8_t k1[6] = {1, 1, 1, 1, 0, 0};
    one("top_k 2, ties at the 2nd value kept", r1, 6, 2, 1.0, samp(0, 2, 0, 0), k1, 0);
    one("top_k 4, ties at the 4th value kept", r1, 6, 0, 1.0, samp(0, 4, 0, 0), k1, 0);
    one("top_k 2, label below the threshold: -inf", r1, 6, 4, 1.0, samp(0, 2, 0, 0), k1, 1);
    const uint8_t k1b[6] = {1, 0, 0, 0, 0, 0};
    one("top_k 1, the only token kept: +0", r1, 6, 0, 1.0, samp(0, 1, 0, 0), k1b, 2);
    const uint8_t k1c[6] = {1, 1, 1, 1, 1, 0};
    one("top_k 5 = the finite count: all kept", r1, 6, 4, 0.5, samp(0, 5, 0, 0), k1c, 0);
    one("top_k 100 > V: all kept", r1, 6, 4, 0.5, samp(0, 100, 0, 0), k1c, 0);
    /* top-p: ties are invariant, the top token always survives */
    const double r2[5] = {2, 2, 2, 0, -1};
    const uint8_t k2[5] = {1, 1, 1, 0, 0};
    one("top_p 0x1p-1074, tied top tokens all kept", r2, 5, 1, 1.0, samp(0, 0, 0x1p-1074, 0), k2, 0);
    one("top_p 0.5, tied top tokens all kept", r2, 5, 2, 1.0, samp(0, 0, 0.5, 0), k2, 0);
    one("top_p 0.5, label below: -inf", r2, 5, 3, 1.0, samp(0, 0, 0.5, 0), k2, 1);
    const double r3[4] = {10, 0, -1, -2};
    const uint8_t k3[4] = {1, 0, 0, 0};
    one("top_p 0x1p-1074, the most probable alone: +0", r3, 4, 0, 1.0, samp(0, 0, 0x1p-1074, 0), k3, 2);
    one("top_p 0.99, top mass 0.99994: +0", r3, 4, 0, 1.0, samp(0, 0, 0.99, 0), k3, 2);
    const uint8_t k3b[4] = {1, 1, 1, 1};
    one("top_p 1: every token kept", r3, 4, 3, 1.0, samp(0, 0, 1.0, 0), k3b, 0);
    /* min-p: p_i >= q p_max, equality kept */
    const double r4[4] = {1, 1, 0.5, -3};
    const uint8_t k4[4] = {1, 1, 0, 0};
    one("min_p 1: the tied maxima kept", r4, 4, 1, 1.0, samp(0, 0, 0, 1.0), k4, 0);
    one("min_p 1: label below the max: -inf", r4, 4, 2, 1.0, samp(0, 0, 0, 1.0), k4, 1);
    const uint8_t k4b[4] = {1, 1, 1, 0};
    one("min_p 0.5: e^-0.5 = 0.607 kept", r4, 4, 2, 1.0, samp(0, 0, 0, 0.5), k4b, 0);
    one("min_p 0.5, tau 0.5: e^-1 = 0.368 out", r4, 4, 2, 0.5, samp(0, 0, 0, 0.5), k4, 1);
    /* order: top_p on what top_k kept (renormalised), min_p on what both kept */
    const double r5[5] = {1, 0, 0, -5, -5};
    /* top_k 3 keeps {1, 0, 0}: p(1) = e/(e + 2) = 0.576 < 0.6, so the zeros stay under top_p 0.6,
     * while on the whole row p(1) = e/(e + 2 + 2e^-5) is smaller still; with top_k 1 first only 1 */
    const uint8_t k5[5] = {1, 1, 1, 0, 0};
    one("top_k 3 then top_p 0.6", r5, 5, 1, 1.0, samp(0, 3, 0.6, 0), k5, 0);
    const uint8_t k5b[5] = {1, 0, 0, 0, 0};
    one("top_k 3 then top_p 0.5: the top alone", r5, 5, 0, 1.0, samp(0, 3, 0.5, 0), k5b, 2);
    one("top_k 3, top_p 0.9, min_p 0.4: e^-1 = 0.37 out", r5, 5, 1, 1.0, samp(0, 3, 0.9, 0.4), k5b, 1);
    /* A3 first: a NaN or +inf row is NaN whatever is kept; -inf logits are never kept */
    const double r6[4] = {1, NAN, 0, 2};
    one("NaN row stays NaN under top_k 1", r6, 4, 0, 1.0, samp(0, 1, 0, 0), k3, 3);
    const double r7[4] = {1, HUGE_VAL, 0, 2};
    one("+inf row stays NaN under softcap", r7, 4, 0, 1.0, samp(30, 0, 0, 0), k3, 3);
    const double r8[3] = {-HUGE_VAL, 0, 1};
    const uint8_t k8[3] = {0, 1, 1};
    one("label at -inf stays -inf", r8, 3, 0, 1.0, samp(0, 0, 0.99, 0), k8, 1);
}

/* top_p and min_p one double either side of the exact boundary. */
static void check_boundaries(void)
{
    const double row[5] = {3, 1.5, 1.5, -0.25, -7};
    const double taus[3] = {1.0, 0.7, 2.5};
    for (int ti = 0; ti < 3; ti++) {
        const double tau = taus[ti];
        mpfr_t S, a, t;
        mpfr_inits2(HP, S, a, t, (mpfr_ptr)0);
        mpfr_set_zero(S, 1);
        for (int i = 0; i < 5; i++) {
            z_of(t, row[i], 0, tau);
            mpfr_exp(t, t, MPFR_RNDN);
            mpfr_add(S, S, t, MPFR_RNDN);
        }
        /* the mass above the 1.5's: p(3) */
        z_of(t, row[0], 0, tau);
        mpfr_exp(a, t, MPFR_RNDN);
        mpfr_div(a, a, S, MPFR_RNDN);
        const double pd = mpfr_get_d(a, MPFR_RNDD), pu = mpfr_get_d(a, MPFR_RNDU);
        const uint8_t top[5] = {1, 0, 0, 0, 0}, two[5] = {1, 1, 1, 0, 0};
        char w[160];
        snprintf(w, sizeof w, "top_p RD(p_max) = %a, tau %g: the 1.5's out", pd, tau);
        one(w, row, 5, 0, tau, samp(0, 0, pd, 0), top, 2);
        snprintf(w, sizeof w, "top_p RU(p_max) = %a, tau %g: the 1.5's kept", pu, tau);
        one(w, row, 5, 2, tau, samp(0, 0, pu, 0), two, 0);
        /* the mass above -0.25: p(3) + 2 p(1.5) */
        z_of(t, row[1], 0, tau);
        mpfr_exp(t, t, MPFR_RNDN);
        mpfr_mul_ui(t, t, 2, MPFR_RNDN);
        mpfr_div(t, t, S, MPFR_RNDN);
        mpfr_add(a, a, t, MPFR_RNDN);
        const double qd = mpfr_get_d(a, MPFR_RNDD), qu = mpfr_get_d(a, MPFR_RNDU);
        const uint8_t three[5] = {1, 1, 1, 1, 0};
        snprintf(w, sizeof w, "top_p RD(p_max + 2 p_1.5) = %a, tau %g: -0.25 out", qd, tau);
        one(w, row, 5, 3, tau, samp(0, 0, qd, 0), two, 1);
        snprintf(w, sizeof w, "top_p RU(p_max + 2 p_1.5) = %a, tau %g: -0.25 kept", qu, tau);
        one(w, row, 5, 3, tau, samp(0, 0, qu, 0), three, 0);
        /* min_p at p(1.5) / p(3) = e^{-1.5 / tau} */
        mpfr_set_d(t, -1.5, MPFR_RNDN);
        mpfr_div_d(t, t, tau, MPFR_RNDN);
        mpfr_exp(t, t, MPFR_RNDN);
        const double md = mpfr_get_d(t, MPFR_RNDD), mu = mpfr_get_d(t, MPFR_RNDU);
        snprintf(w, sizeof w, "min_p RD(e^{-1.5/tau}) = %a, tau %g: the 1.5's kept", md, tau);
        one(w, row, 5, 1, tau, samp(0, 0, 0, md), two, 0);
        snprintf(w, sizeof w, "min_p RU(e^{-1.5/tau}) = %a, tau %g: the 1.5's out", mu, tau);
        one(w, row, 5, 1, tau, samp(0, 0, 0, mu), top, 1);
        mpfr_clears(S, a, t, (mpfr_ptr)0);
    }
}

/* softcap over logits of +-100, alone and with the filters, against direct MPFR. */
static void check_softcap(void)
{
    const double row[8] = {100, -100, 99.5, 0, -99, 50, 30, 100};
    const double caps[2] = {30, 50};
    const lp_sampling extra[4] = {{0, 0, 0, 0}, {0, 3, 0, 0}, {0, 0, 0.9, 0}, {0, 4, 0.95, 0.2}};
    for (int ci = 0; ci < 2; ci++)
        for (int e = 0; e < 4; e++)
            for (int f = 0; f < LP_NFORMATS; f++) {
                const lp_format fmt = (lp_format)f;
                double r[8];
                for (int i = 0; i < 8; i++) r[i] = lp_round_to(row[i], fmt);
                lp_sampling s = extra[e];
                s.softcap = caps[ci];
                for (double tau = 1.0; tau <= 2.0; tau += 0.75)
                    for (int64_t y = 0; y < 8; y++) {
                        uint8_t kept[8];
                        kept_by_words(kept, r, 8, tau, &s);
                        lp_value got = row_sampled(r, fmt, 8, y, tau, &s), want;
                        int nk = 0;
                        for (int i = 0; i < 8; i++) nk += kept[i];
                        if (!kept[y]) special(&want, -HUGE_VAL);
                        else if (nk == 1) special(&want, 0.0);
                        else {
                            mpfr_t x;
                            mpfr_init2(x, HP);
                            processed_mpfr(x, r, kept, 8, y, tau, s.softcap);
                            expect_from_mpfr(&want, x);
                            mpfr_clear(x);
                        }
                        char w[120];
                        snprintf(w, sizeof w, "softcap %g (+-100 logits) case %d, tau %g, label %lld",
                                 caps[ci], e, tau, (long long)y);
                        same_value(w, &got, &want);
                    }
            }
}

/* No parameter, or parameters that keep everything: A1's bits. */
static void check_identity(void)
{
    const double row[6] = {0.25, -1, 7, 7, -HUGE_VAL, 3};
    const lp_sampling keep_all[4] = {{0, 0, 0, 0}, {0, 5, 0, 0}, {0, 0, 1.0, 0}, {0, 100, 1.0, 0x1p-1074}};
    const uint8_t all[6] = {1, 1, 1, 1, 0, 1};
    for (int k = 0; k < 4; k++)
        for (int64_t y = 0; y < 6; y++) {
            if (y == 4) continue;
            char w[80];
            snprintf(w, sizeof w, "keep-all parameters %d, label %lld", k, (long long)y);
            one(w, row, 6, y, 0.75, keep_all[k], all, 0);
        }
    lp_value a, b;
    lp_error err;
    const double r2[3] = {1, 2, 3};
    lp_ref_row(&a, r2, LP_F64, 3, 0, 1.0, &err);
    lp_ref_row_sampled(&b, r2, LP_F64, 3, 0, 1.0, NULL, &err);
    set_case(r2, LP_F64, 3, 0, 1.0, NULL);
    same_value("lp_ref_row_sampled(NULL) is lp_ref_row", &b, &a);
}

/* Invalid parameters: one-line usage errors naming the parameter. */
static void check_validation(void)
{
    const struct { lp_sampling s; const char *name; } bad[] = {
        {{-1, 0, 0, 0}, "softcap"}, {{HUGE_VAL, 0, 0, 0}, "softcap"}, {{NAN, 0, 0, 0}, "softcap"},
        {{0, -2, 0, 0}, "top_k"}, {{0, 0, 1.5, 0}, "top_p"}, {{0, 0, -0.1, 0}, "top_p"},
        {{0, 0, NAN, 0}, "top_p"}, {{0, 0, 0, 1.0000001}, "min_p"}, {{0, 0, 0, -1}, "min_p"},
    };
    double logits[4] = {0, 1, 2, 3};
    int64_t labels[2] = {0, 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){1, 2, 2};
        pb.fmt = LP_F64;
        pb.logits = logits;
        pb.labels = labels;
        pb.sampling = bad[i].s;
        lp_error err = {LP_OK, ""};
        lp_ref_result r;
        lp_status s = lp_ref_compute(&r, &pb, &err);
        lpt_check(s == LP_ERR_USAGE && strstr(err.msg, bad[i].name) && !strchr(err.msg, '\n'),
                  "invalid %s (softcap %g top_k %lld top_p %g min_p %g): status %d '%s'",
                  bad[i].name, bad[i].s.softcap, (long long)bad[i].s.top_k, bad[i].s.top_p,
                  bad[i].s.min_p, (int)s, err.msg);
        lp_value v;
        s = lp_ref_row_sampled(&v, logits, LP_F64, 2, 0, 1.0, &bad[i].s, &err);
        lpt_check(s == LP_ERR_USAGE && strstr(err.msg, bad[i].name) != NULL,
                  "lp_ref_row_sampled: invalid %s accepted: status %d '%s'", bad[i].name, (int)s,
                  err.msg);
    }
}

static int same_result(const char *what, const lp_ref_result *a, const lp_ref_result *b)
{
    int ok = 1;
    char w[160];
    for (int64_t i = 0; i < a->B * a->Ts; i++) {
        if (!a->counted[i]) continue;
        snprintf(w, sizeof w, "%s: token %lld", what, (long long)i);
        ok &= same_value(w, &a->logp[i], &b->logp[i]);
    }
    for (int64_t bb = 0; bb < a->B; bb++) {
        snprintf(w, sizeof w, "%s: sum of sequence %lld", what, (long long)bb);
        ok &= same_value(w, &a->sum[bb], &b->sum[bb]);
        snprintf(w, sizeof w, "%s: mean of sequence %lld", what, (long long)bb);
        ok &= same_value(w, &a->mean[bb], &b->mean[bb]);
    }
    snprintf(w, sizeof w, "%s: token mean", what);
    ok &= same_value(w, &a->token_mean, &b->token_mean);
    return ok;
}

/* Random problems with many ties (small integers and halves in every format): the sampled problem
 * against the masked problem (A1) on every output, the kept sets from kept_by_words; slow = fast
 * = one row at a time; with softcap, tokens against direct MPFR. */
static void check_random(int n)
{
    lpt_rng g;
    lpt_rng_init(&g, lpt_seed() ^ 0x5a3b1e);
    enum { B = 3, T = 5, VMAX = 12 };
    for (int it = 0; it < n; it++) {
        const lp_format fmt = (lp_format)(lpt_rng_next(&g) % 4);
        const int64_t V = 2 + (int64_t)(lpt_rng_next(&g) % (VMAX - 1));
        const double taus[4] = {1.0, 0.5, 0.7, 3.0};
        const double tau = taus[lpt_rng_next(&g) % 4];
        lp_sampling s = {0, 0, 0, 0};
        const unsigned which = (unsigned)(lpt_rng_next(&g) % 15) + 1;
        if (which & 1) s.top_k = 1 + (int64_t)(lpt_rng_next(&g) % (uint64_t)V);
        if (which & 2) {
            const double ps[6] = {0.1, 0.5, 0.8, 0.9, 0.95, 1.0};
            s.top_p = ps[lpt_rng_next(&g) % 6];
        }
        if (which & 4) {
            const double qs[5] = {0.01, 0.05, 0.1, 0.3, 1.0};
            s.min_p = qs[lpt_rng_next(&g) % 5];
        }
        const int capped = (which & 8) != 0;
        if (capped) s.softcap = lpt_rng_next(&g) % 2 ? 30.0 : 5.0;
        double *x = malloc(sizeof(double) * B * T * VMAX), *xm = malloc(sizeof(double) * B * T * VMAX);
        int64_t lab[B * T];
        uint8_t mask[B * T];
        const int spread = 1 + (int)(lpt_rng_next(&g) % 8);
        for (int64_t i = 0; i < B * T * V; i++) {
            const uint64_t u = lpt_rng_next(&g);
            x[i] = (double)((int)(u % (uint64_t)(2 * spread + 1)) - spread) * (u >> 40 & 1 ? 0.5 : 1.0);
            if (capped && (u >> 41) % 9 == 0) x[i] = (u >> 42 & 1) ? 100.0 : -96.0;
            if ((u >> 45) % 23 == 0) x[i] = -HUGE_VAL;
        }
        for (int64_t i = 0; i < B * T; i++) {
            lab[i] = (int64_t)(lpt_rng_next(&g) % (uint64_t)V);
            mask[i] = lpt_rng_next(&g) % 7 != 0;
        }
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = fmt;
        void *xs = store_row(x, B * T * V, fmt);
        pb.logits = xs;
        pb.labels = lab;
        pb.mask = mask;
        pb.temperature = tau;
        pb.sampling = s;
        pb.shift = lpt_rng_next(&g) % 2 ? LP_SHIFT_NEXT : LP_SHIFT_NONE;
        const int64_t Ts = lp_problem_ts(&pb);
        /* the masked problem and the softcap expectations */
        int close = 0;
        lp_value *want_cap = calloc((size_t)(B * Ts) + 1, sizeof *want_cap);
        memcpy(xm, x, sizeof(double) * (size_t)(B * T * V));
        for (int64_t b = 0; b < B; b++)
            for (int64_t ts = 0; ts < Ts; ts++) {
                const double *row = x + (b * T + ts) * V;
                int finite = 1;
                for (int64_t i = 0; i < V; i++) finite &= !isnan(row[i]) && row[i] != HUGE_VAL;
                int anyf = 0;
                for (int64_t i = 0; i < V; i++) anyf |= row[i] != -HUGE_VAL;
                if (!anyf) special(&want_cap[b * Ts + ts], (double)NAN); /* A3 rule 2 */
                if (!finite || !anyf) continue;
                uint8_t kept[VMAX];
                if (kept_by_words(kept, row, V, tau, &s) < -2900) close = 1;
                for (int64_t i = 0; i < V; i++)
                    if (!kept[i]) xm[(b * T + ts) * V + i] = -HUGE_VAL;
                if (capped) {
                    const int64_t t = pb.shift == LP_SHIFT_NEXT ? ts + 1 : ts, y = lab[b * T + t];
                    int nk = 0;
                    for (int64_t i = 0; i < V; i++) nk += kept[i];
                    lp_value *w = &want_cap[b * Ts + ts];
                    if (row[y] == -HUGE_VAL || !kept[y]) special(w, -HUGE_VAL);
                    else if (nk == 1) special(w, 0.0);
                    else {
                        mpfr_t v;
                        mpfr_init2(v, HP);
                        processed_mpfr(v, row, kept, V, y, tau, s.softcap);
                        expect_from_mpfr(w, v);
                        mpfr_clear(v);
                    }
                }
            }
        snprintf(g_case, sizeof g_case, "random problem %d (seed %#llx): fmt %s V %lld tau %a "
                 "shift %s softcap %a top_k %lld top_p %a min_p %a", it,
                 (unsigned long long)lpt_seed(), fmt_names[fmt], (long long)V, tau,
                 pb.shift == LP_SHIFT_NEXT ? "next" : "none", s.softcap, (long long)s.top_k,
                 s.top_p, s.min_p);
        lp_ref_result rs, rf, rm;
        lp_error err = {LP_OK, ""};
        lp_ref_options slow = LP_REF_OPTIONS_INIT, fast = LP_REF_OPTIONS_INIT;
        slow.slow = 1;
        slow.threads = 1;
        fast.formats = 0xf; /* tiers 1 and 2 when the row is plain */
        fast.threads = 2;
        if (close) {
            lpt_check(1, "skipped: a decision within 2^-2900 of its threshold (%s)", g_case);
        } else if (lpt_check(lp_ref_compute_opts(&rs, &pb, &slow, &err) == LP_OK, "slow: %s (%s)",
                             err.msg, g_case)) {
            char w[1800];
            if (lp_ref_compute(&rf, &pb, &err) == LP_OK) {
                snprintf(w, sizeof w, "default vs slow, %s", g_case);
                same_result(w, &rf, &rs);
                lp_ref_result_free(&rf);
            } else {
                lpt_check(0, "default: %s (%s)", err.msg, g_case);
            }
            if (lp_ref_compute_opts(&rf, &pb, &fast, &err) == LP_OK) {
                for (int64_t i = 0; i < B * Ts; i++) {
                    if (!rs.counted[i]) continue;
                    lp_value a = rf.logp[i], c = rs.logp[i];
                    a.dd = c.dd; /* not wanted */
                    snprintf(w, sizeof w, "formats f64..bf16 vs slow, token %lld, %s", (long long)i, g_case);
                    same_value(w, &a, &c);
                }
                lp_ref_result_free(&rf);
            } else {
                lpt_check(0, "fast: %s (%s)", err.msg, g_case);
            }
            if (!capped) {
                lp_problem pm = pb;
                void *xms = store_row(xm, B * T * V, fmt);
                pm.logits = xms;
                pm.sampling = (lp_sampling){0, 0, 0, 0};
                if (lpt_check(lp_ref_compute(&rm, &pm, &err) == LP_OK, "masked: %s", err.msg)) {
                    snprintf(w, sizeof w, "sampled vs masked (A1), %s", g_case);
                    same_result(w, &rs, &rm);
                    lp_ref_result_free(&rm);
                }
                free(xms);
            } else {
                for (int64_t i = 0; i < B * Ts; i++) {
                    if (!rs.counted[i]) continue;
                    const double *row = x + i / Ts * T * V + i % Ts * V;
                    int ok = 1;
                    for (int64_t j = 0; j < V; j++) ok &= !isnan(row[j]) && row[j] != HUGE_VAL;
                    if (!ok) continue;
                    snprintf(w, sizeof w, "softcap vs MPFR, token %lld, %s", (long long)i, g_case);
                    same_value(w, &rs.logp[i], &want_cap[i]);
                }
            }
            /* one row at a time */
            for (int64_t i = 0; i < B * Ts; i++) {
                if (!rs.counted[i]) continue;
                const int64_t b = i / Ts, ts = i % Ts, t = pb.shift == LP_SHIFT_NEXT ? ts + 1 : ts;
                lp_value v;
                if (lp_ref_row_sampled(&v, (const char *)xs + (size_t)((b * T + ts) * V) *
                                                              (size_t)lp_format_get(fmt)->bytes,
                                       fmt, V, lab[b * T + t], tau, &s, &err) != LP_OK) {
                    lpt_check(0, "lp_ref_row_sampled: %s (%s)", err.msg, g_case);
                    continue;
                }
                snprintf(w, sizeof w, "lp_ref_row_sampled vs compute, token %lld, %s", (long long)i, g_case);
                same_value(w, &v, &rs.logp[i]);
            }
            /* a filtered-out counted label makes its sum and mean -inf (NaN first) */
            for (int64_t b = 0; b < B; b++) {
                int neginf = 0, nan = 0;
                for (int64_t ts = 0; ts < Ts; ts++) {
                    const lp_value *v = &rs.logp[b * Ts + ts];
                    if (!rs.counted[b * Ts + ts]) continue;
                    nan |= isnan(v->f64);
                    neginf |= v->f64 == -HUGE_VAL;
                }
                if (neginf && !nan)
                    lpt_check(rs.sum[b].f64 == -HUGE_VAL && rs.mean[b].f64 == -HUGE_VAL,
                              "sequence %lld with a filtered-out label: sum %a mean %a, want -inf "
                              "(%s)", (long long)b, rs.sum[b].f64, rs.mean[b].f64, g_case);
            }
            lp_ref_result_free(&rs);
        }
        free(want_cap);
        free(xs);
        free(x);
        free(xm);
    }
}

/* Larger rows (V up to 5000, nuclei from one token to thousands: the candidate sets of sample.c's
 * FAST grow past 256 and 1024 values), every format: the default route (double decisions, tiers
 * on the masked rows) equals the slow route (MPFR decisions, the Ziv loop) on every output. */
static void check_fast_vs_slow(int n)
{
    lpt_rng g;
    lpt_rng_init(&g, lpt_seed() ^ 0xfa57);
    for (int it = 0; it < n; it++) {
        const lp_format fmt = (lp_format)(it % 4);
        const int64_t B = 2, T = 3, V = 500 + (int64_t)(lpt_rng_next(&g) % 4500);
        const double sigma = it % 3 == 0 ? 0.05 : it % 3 == 1 ? 1.0 : 6.0;
        const double taus[3] = {1.0, 0.6, 1.7};
        double *x = malloc(sizeof(double) * (size_t)(B * T * V));
        int64_t lab[6];
        for (int64_t i = 0; i < B * T * V; i++) x[i] = lp_round_to(sigma * lpt_rng_normal(&g), fmt);
        for (int i = 0; i < 6; i++) lab[i] = (int64_t)(lpt_rng_next(&g) % (uint64_t)V);
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = fmt;
        void *xs = store_row(x, B * T * V, fmt);
        pb.logits = xs;
        pb.labels = lab;
        pb.shift = LP_SHIFT_NONE;
        pb.temperature = taus[it % 3];
        const double ps[5] = {0.5, 0.9, 0.99, 0.999, 1.0}, qs[4] = {0, 0.001, 0.02, 0.3};
        pb.sampling.top_p = ps[lpt_rng_next(&g) % 5];
        pb.sampling.min_p = qs[lpt_rng_next(&g) % 4];
        pb.sampling.top_k = lpt_rng_next(&g) % 3 == 0 ? 1 + (int64_t)(lpt_rng_next(&g) % (uint64_t)V) : 0;
        snprintf(g_case, sizeof g_case, "fast vs slow %d (seed %#llx): fmt %s V %lld sigma %g tau %a "
                 "top_k %lld top_p %a min_p %a", it, (unsigned long long)lpt_seed(), fmt_names[fmt],
                 (long long)V, sigma, pb.temperature, (long long)pb.sampling.top_k,
                 pb.sampling.top_p, pb.sampling.min_p);
        lp_ref_result a, b;
        lp_error err = {LP_OK, ""};
        lp_ref_options slow = LP_REF_OPTIONS_INIT, o4 = LP_REF_OPTIONS_INIT;
        slow.slow = 1;
        o4.formats = 0xf;
        if (lpt_check(lp_ref_compute_opts(&a, &pb, &slow, &err) == LP_OK, "slow: %s (%s)", err.msg,
                      g_case)) {
            if (lpt_check(lp_ref_compute(&b, &pb, &err) == LP_OK, "default: %s (%s)", err.msg, g_case)) {
                same_result(g_case, &b, &a);
                lp_ref_result_free(&b);
            }
            if (lpt_check(lp_ref_compute_opts(&b, &pb, &o4, &err) == LP_OK, "f64..bf16: %s", err.msg)) {
                for (int64_t i = 0; i < B * T; i++) {
                    lp_value c = b.logp[i];
                    c.dd = a.logp[i].dd;
                    same_value("f64..bf16 (tiers 1, 2) vs slow", &c, &a.logp[i]);
                }
                lp_ref_result_free(&b);
            }
            for (int64_t i = 0; i < B * T; i++) { /* the judge's tier 2 encloses the value */
                lp_fast_enc e;
                if (!lp_ref_tier2_token(&e, &pb, i / T, i % T) || !isfinite(a.logp[i].f64) ||
                    !isfinite(e.p))
                    continue;
                mpfr_t xv, l, h;
                mpfr_inits2(300, xv, l, h, (mpfr_ptr)0);
                mpfr_set_d(xv, a.logp[i].dd.hi, MPFR_RNDN);
                mpfr_add_d(xv, xv, a.logp[i].dd.lo, MPFR_RNDN); /* exact */
                mpfr_set_d(l, e.p, MPFR_RNDN);
                mpfr_add_d(l, l, e.clo, MPFR_RNDN);
                mpfr_set_d(h, e.p, MPFR_RNDN);
                mpfr_add_d(h, h, e.chi, MPFR_RNDN);
                /* the dd is within 2^-104 |x| of the exact value: widen by that */
                mpfr_t w;
                mpfr_init2(w, 300);
                mpfr_abs(w, xv, MPFR_RNDN);
                mpfr_mul_2si(w, w, -100, MPFR_RNDN);
                mpfr_sub(l, l, w, MPFR_RNDN);
                mpfr_add(h, h, w, MPFR_RNDN);
                lpt_check(mpfr_lessequal_p(l, xv) && mpfr_lessequal_p(xv, h),
                          "tier 2 (judge) enclosure p %a + [%a, %a] misses the value (%a, %a), token "
                          "%lld (%s)", e.p, e.clo, e.chi, a.logp[i].dd.hi, a.logp[i].dd.lo,
                          (long long)i, g_case);
                mpfr_clears(xv, l, h, w, (mpfr_ptr)0);
            }
            for (int64_t i = 0; i < B * T; i++) { /* lp_ref_kept agrees with the values */
                uint8_t *k = malloc((size_t)V);
                if (lp_ref_kept(k, (const char *)xs + (size_t)(i * V) * (size_t)lp_format_get(fmt)->bytes,
                                fmt, V, pb.temperature, &pb.sampling, &err) == LP_OK)
                    lpt_check((k[lab[i]] != 0) == (a.logp[i].f64 != -HUGE_VAL),
                              "lp_ref_kept[label] %d but logp %a (%s)", k[lab[i]], a.logp[i].f64, g_case);
                free(k);
            }
            lp_ref_result_free(&a);
        }
        free(xs);
        free(x);
    }
}

/* The problem-level rules on a fixed case: sum and mean -inf from a filtered-out label, +0 from
 * the only token kept, and the exact zero's bits. */
static void check_sequences(void)
{
    /* B = 2, T = 3, V = 4, shift none, top_k 1 */
    const double x[2 * 3 * 4] = {5, 1, 1, 0,   2, 3, 1, 0,   0, 0, 9, 1,
                                 5, 1, 1, 0,   2, 3, 1, 0,   0, 0, 9, 1};
    const int64_t lab[6] = {0, 1, 2, 0, 1, 1};
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){2, 3, 4};
    pb.fmt = LP_F64;
    pb.logits = x;
    pb.labels = lab;
    pb.shift = LP_SHIFT_NONE;
    pb.sampling.top_k = 1;
    lp_ref_result r;
    lp_error err = {LP_OK, ""};
    snprintf(g_case, sizeof g_case, "B 2 T 3 V 4 f64 shift none top_k 1, labels {0,1,2},{0,1,1}");
    if (!lpt_check(lp_ref_compute(&r, &pb, &err) == LP_OK, "compute: %s", err.msg)) return;
    lp_value zero, ninf;
    special(&zero, 0.0);
    special(&ninf, -HUGE_VAL);
    same_value("only token kept: +0 (b 0)", &r.sum[0], &zero);
    same_value("only token kept: mean +0 (b 0)", &r.mean[0], &zero);
    same_value("label filtered out: -inf", &r.logp[5], &ninf);
    same_value("sum with a filtered-out label: -inf", &r.sum[1], &ninf);
    same_value("mean with a filtered-out label: -inf", &r.mean[1], &ninf);
    same_value("token mean with a filtered-out label: -inf", &r.token_mean, &ninf);
    lpt_check(lp_bits_f64(r.logp[0].f64) == 0 && lp_bits_f64(r.logp[0].dd.lo) == 0,
              "only token kept: +0 bits, got %a (%s)", r.logp[0].f64, g_case);
    lp_ref_result_free(&r);
}

int main(void)
{
    lpt_begin("t_sample");
    check_rules();
    check_boundaries();
    check_softcap();
    check_identity();
    check_validation();
    check_sequences();
    check_random(lpt_level() == 1 ? 150 : 3000);
    check_fast_vs_slow(lpt_level() == 1 ? 24 : 400);
    mpfr_free_cache();
    mpfr_flags_clear(MPFR_FLAGS_ALL); /* the flags this test's own MPFR evaluations raised */
    return lpt_end();
}
