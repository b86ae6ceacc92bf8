/* reference/ziv.c: the exact reference. Correctly rounded logp, sums, means and token mean by
 * MPFR enclosures and a Ziv loop (SPEC A2, B2).
 *
 * CONTRACT  For every scored token, sequence and batch: the RNE rounding of the exact real value
 *           to f64, f32, f16 and bf16 (IEEE gradual underflow, overflow to infinity), and the
 *           double-double (hi, lo), canonical: hi = RN(x), lo = RN(x - hi), both decided exactly
 *           (so |hi + lo - x| <= 2^-53 |x - hi| <= 2^-107 |x| where lo is normal, + 2^-1075 where
 *           it is subnormal: inside the public 2^-104 |x| + 2^-1074; an exact x gives lo = x - hi
 *           exactly). A function of x alone, so that every tier can reproduce it bit for bit.
 *           Special values as SPEC A3. Never a wrong bit: an undecided value after
 *           LP_ZIV_MAX_PREC bits is an LP_ERR_INTERNAL error, not a guess.
 *
 * METHOD    For a row x[0..V-1] with label y, m = max x, j = the first index of m, tau > 0:
 *               logp = D - log1p(T),   D = (x_y - m)/tau <= 0,   T = sum_{i != j} exp((x_i - m)/tau).
 *           The split keeps relative accuracy where logp is close to 0 (p close to 1): log1p(T) is
 *           computed from T itself, never from 1 + T, and D - log1p(T) adds two non-positive terms,
 *           so no cancellation anywhere. Every step is done twice at working precision w with MPFR's
 *           directed roundings (RNDD for the lower end, RNDU for the upper end):
 *             d_i  = x_i - m, then / tau           (exact when the ternary says so: one exp below)
 *             e_i  = exp(d_i)                      RNDD; the upper end is nextabove(e_i) if inexact
 *             T    = sum e_i                       RNDD / RNDU accumulations (all terms positive)
 *             L    = log1p(T)                      RNDD / RNDU (log1p is increasing)
 *             logp = D - L                         RNDD with (D_lo, L_hi), RNDU with (D_hi, L_lo)
 *           Each operation is monotone in its inputs over the domain used (exp, log1p increasing;
 *           division by tau > 0 keeps order; subtraction of L reverses it, hence the pairing), so
 *           [lo, hi] contains the exact value. The width is about (V + 4) 2^-w relative: w = prec +
 *           ceil(log2(V + 1)) + 8 bits makes it below 2^-prec.
 *
 * STRICTNESS Outside the exact cases the exact value lies strictly inside (lo, hi): L_lo < L
 *           because log1p of a non-zero dyadic is transcendental, so RNDD is inexact, or T_lo = 0
 *           while T > 0; likewise L_hi > L. This matters when exp(d_i) underflows MPFR's own
 *           exponent range (|d_i| > 3e18, possible with f32/f64/bf16 logits): then T_lo = 0 and
 *           L_lo = 0 for every precision, and a D that is a rounding boundary (a midpoint, or 0 for
 *           a tiny negative logp that must round to -0) could never be decided by closed bounds.
 *           The ends are therefore rounded as open bounds (round_open): lo + eps and hi - eps.
 *
 * DECISION  For each format, round_open(lo, +) and round_open(hi, -) must give the same bits; then
 *           every real in (lo, hi) rounds to them (rounding is monotone). The dd low part is decided
 *           the same way: x - hi64 lies strictly inside (lo - hi64, hi - hi64) (differences rounded
 *           outward), and RN_64 of both open ends must agree. Otherwise prec doubles, from
 *           LP_ZIV_PREC0 up to LP_ZIV_MAX_PREC.
 *
 * TERMINATION (SPEC A2) The only dyadic logp is 0, from a row whose only finite logit is at the
 *           label; it is detected before the loop. Every other logp, sum, mean and token mean is
 *           irrational (Lindemann-Weierstrass: e^L = 1 + T is a sum of exponentials of distinct
 *           rationals with positive coefficients, so L is irrational; a product of such sums is
 *           again one, so sums are too), hence not a rounding boundary, and the loop ends. The cap
 *           turns an adversarially hard case into an error, never an endless loop.
 *           The dd low part RN(x - hi64): x - hi64 is 0 only when x is a double, i.e. only for the
 *           exact zero above; otherwise x - hi64 = (D - hi64) - L with L > 0. When L lies in MPFR's
 *           exponent range x is irrational, so is x - hi64, hence it is no rounding boundary (all
 *           are dyadic) and a narrow enough enclosure decides it, as for the other roundings. When
 *           every exp(d_i) underflows MPFR's range (gaps past 3e18), the enclosure tends to the
 *           open (D - hi64 - 2^(emin), D - hi64) as the precision grows (D = (x_y - m)/tau has a
 *           finite binary or periodic expansion, so it is exact or its bounds converge to it): an
 *           interval this short holds no rounding boundary in its interior, and the open ends
 *           are never boundaries that matter (STRICTNESS), so it is decided too. Sums, means and
 *           the token mean: the same with N / tau - sum L_i (SUMS, split_enclose). tests/t_fast.c
 *           and fuzz/fz_fast.c hold the huge-gap cases.
 *
 * SAMPLING  (SPEC A7, reference/sample.c) A row with a kept set (r->filt) leaves out the logits
 *           below r->thr, as -inf ones are (the same real as A1 on the masked row: the max is always
 *           kept, the label is checked first); a row with softcap (r->cap) has d_i = (c tanh(x_i / c)
 *           - c tanh(m / c)) / tau and D likewise, enclosed by lp_cap_enclose (one tanh, its error
 *           bounded explicitly) and one exp per term; the working precision gains log2(c / tau)
 *           bits for the absolute error of the d_i. STRICTNESS holds as is (L's ends are RNDD / RNDU
 *           of log1p of a positive dyadic, or 0). TERMINATION with softcap rests on Schanuel's
 *           conjecture, not on a theorem: at the cap the loop fails with LP_ERR_INTERNAL, as for any
 *           undecided value; split_enclose does not apply (the D_i are transcendental).
 * SUMS      A sequence sum is the sum of the counted token values: its enclosure is the correctly
 *           rounded (mpfr_sum, one rounding) sum of the token lower ends, RNDD, and of the upper
 *           ends, RNDU; the mean divides both by n > 0 outward; the token mean sums the sequence
 *           enclosures and divides by the total count. Strictness carries over. When a sum or mean
 *           is undecided every token of the sequence (or batch) is recomputed at doubled precision.
 *           From 4 prec0 on, an undecided sum is also enclosed in its two parts (batch.c
 *           split_enclose): N / tau - sum L_i, N = sum (x_y,i - m_i) exact (lp_row_gap), so that a
 *           sum of non-dyadic D_i = (x_y,i - m_i) / tau that is itself a dyadic rounding boundary
 *           is seen exactly; strictness then decides it, even when every L_i has underflowed
 *           MPFR's exponent range (found by fuzzing: bf16, tau = 3, gaps of 3e18).
 */
#include <math.h>
#include <mpfr.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_internal.h"

#define LP_ZIV_PREC0 128            /* enclosure width 2^-128: decides f64 and its dd almost always */
#define LP_ZIV_MAX_PREC (1L << 16)  /* 10 doublings; reached only by adversarial cases */

/* ---------------------------------------------------------------------------------------------
 * MPFR global state: saved and restored at every entry point. */

void lp_mpfr_enter(lp_mpfr_state *st)
{
    st->emin = mpfr_get_emin();
    st->emax = mpfr_get_emax();
    st->flags = mpfr_flags_save();
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
}

void lp_mpfr_leave(const lp_mpfr_state *st)
{
    mpfr_set_emin(st->emin);
    mpfr_set_emax(st->emax);
    mpfr_flags_restore(st->flags, MPFR_FLAGS_ALL);
}

int lp_mpfr_keep_cache = 0;

void lp_mpfr_release_cache(void)
{
    if (!lp_mpfr_keep_cache) mpfr_free_cache();
}

/* ---------------------------------------------------------------------------------------------
 * Rounding into a format by emulating it in MPFR: precision p, then the format's exponent range
 * (MPFR's convention, significand in [1/2, 1): emin_mpfr = emin_ieee - p + 2, emax_mpfr =
 * emax_ieee + 1), mpfr_check_range and mpfr_subnormalize fed the ternary value, which avoids
 * double rounding in the subnormal range. The result is a value of the format, returned as a
 * double (exact: every format is a subset of f64). */

static double round_fmt(const mpfr_t x, lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    mpfr_t r;
    mpfr_init2(r, fi->prec);
    int inex = mpfr_set(r, x, MPFR_RNDN);
    mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    mpfr_set_emin(fi->emin - fi->prec + 2);
    mpfr_set_emax(fi->emax + 1);
    inex = mpfr_check_range(r, inex, MPFR_RNDN);
    mpfr_subnormalize(r, inex, MPFR_RNDN);
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
    double v = mpfr_get_d(r, MPFR_RNDN);
    mpfr_clear(r);
    return v;
}

/* The rounding of x + dir*eps, eps > 0 infinitesimal (an open end of an enclosure).
 * Proof that one step at precision P = prec(x) + 2 >= 56 gives it: every rounding boundary of the
 * four formats (a value, a midpoint, the overflow threshold) has at most 54 significant bits, so
 * boundaries near x (exponent >= E - 1, E the exponent of x) are multiples of 2^(E - 55), and so
 * is x (P > 55). The neighbour t of x at precision P is at distance 2^(E - P) or 2^(E - 1 - P),
 * less than 2^(E - 55): no boundary lies in (x, t] or [t, x), so t rounds as x + dir*eps. */
static double round_open(const mpfr_t x, int dir, lp_format f)
{
    if (mpfr_zero_p(x)) return dir > 0 ? 0.0 : -0.0;
    mpfr_t t;
    mpfr_init2(t, mpfr_get_prec(x) + 2 > 56 ? mpfr_get_prec(x) + 2 : 56);
    mpfr_set(t, x, MPFR_RNDN); /* exact: more precision */
    if (dir > 0)
        mpfr_nextabove(t);
    else
        mpfr_nextbelow(t);
    double v = round_fmt(t, f);
    mpfr_clear(t);
    return v;
}

static double nan_f64(void) { return lp_f64_bits(0x7ff8000000000000u); }

static void value_from_f64(lp_value *out, double v)
{
    out->f64 = v;
    out->f32 = lp_f32_from_f64(v);
    out->f16 = lp_f16_from_f64(v);
    out->bf16 = lp_bf16_from_f64(v);
    out->dd.hi = v;
    out->dd.lo = isnan(v) ? v : 0.0;
}

void lp_value_special(lp_value *out, lp_tok_class cls)
{
    switch (cls) {
    case LP_TOK_NAN: value_from_f64(out, nan_f64()); break;
    case LP_TOK_NEGINF: value_from_f64(out, -HUGE_VAL); break;
    default: value_from_f64(out, 0.0); break; /* exact zero */
    }
}

/* Decides every rounding of the real strictly inside (lo, hi). Returns 1 if all are decided. */
int lp_decide(lp_value *out, const mpfr_t lo, const mpfr_t hi)
{
    double v[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++) {
        double a = round_open(lo, +1, (lp_format)f), b = round_open(hi, -1, (lp_format)f);
        if (lp_bits_f64(a) != lp_bits_f64(b)) return 0;
        v[f] = a;
    }
    out->f64 = v[LP_F64];
    out->f32 = (float)v[LP_F32];
    out->f16 = lp_f16_from_f64(v[LP_F16]);
    out->bf16 = lp_bf16_from_f64(v[LP_BF16]);
    out->dd.hi = v[LP_F64];
    out->dd.lo = 0.0;
    if (isinf(v[LP_F64])) return 1;
    /* dd.lo = RN(x - hi64), canonical (DECISION): x - hi64 lies strictly inside
     * (lo - hi64, hi - hi64); both differences are exact at p + 64 bits when they are small (lo,
     * hi within a few ulps of hi64), and rounded outward otherwise, which keeps the enclosure. */
    mpfr_prec_t p = mpfr_get_prec(lo) > mpfr_get_prec(hi) ? mpfr_get_prec(lo) : mpfr_get_prec(hi);
    mpfr_t dlo, dhi;
    mpfr_inits2(p + 64, dlo, dhi, (mpfr_ptr)0);
    mpfr_sub_d(dlo, lo, v[LP_F64], MPFR_RNDD);
    mpfr_sub_d(dhi, hi, v[LP_F64], MPFR_RNDU);
    double a = round_open(dlo, +1, LP_F64), b = round_open(dhi, -1, LP_F64);
    int ok = lp_bits_f64(a) == lp_bits_f64(b);
    if (ok) out->dd.lo = a;
    mpfr_clears(dlo, dhi, (mpfr_ptr)0);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * One row. */

lp_tok_class lp_row_scan(lp_row *r)
{
    int any_finite = 0, n_finite = 0;
    double m = -HUGE_VAL;
    int64_t j = -1;
    for (int64_t i = 0; i < r->V; i++) {
        double x = lp_load_f64(r->data, r->fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) return LP_TOK_NAN;   /* A3 rule 1 */
        if (x == -HUGE_VAL) continue;
        any_finite = 1;
        if (r->filt && x < r->thr) continue;                  /* A7: filtered out */
        n_finite++;
        if (x > m) {
            m = x;
            j = i;
        }
    }
    if (!any_finite) return LP_TOK_NAN;                        /* A3 rule 2 */
    double xy = lp_load_f64(r->data, r->fmt, (size_t)r->label);
    if (xy == -HUGE_VAL) return LP_TOK_NEGINF;                 /* A3 rule 3 */
    if (r->filt && xy < r->thr) return LP_TOK_NEGINF;          /* A7: the label was filtered out */
    r->m = m;
    r->j = j;
    r->xy = xy;
    if (n_finite == 1) return LP_TOK_ZERO;   /* A2: the only finite logit; A7: the only one kept */
    return LP_TOK_NUM;
}

static mpfr_prec_t working_prec(mpfr_prec_t prec, const lp_row *r)
{
    mpfr_prec_t w = prec + 8;
    for (int64_t v = r->V + 1; v > 1; v = (v + 1) / 2) w++;
    if (r->cap) { /* SOFTCAP: the absolute error of each d_i is about (c / tau) 2^-w */
        int g = ilogb(r->cap) - ilogb(r->tau) + 2;
        w += g < 1 ? 1 : g > 2200 ? 2200 : g;
    }
    return w;
}

/* SOFTCAP: lo <= c tanh(x / c) <= hi (x finite, c > 0; lo, hi at their own precisions, p the
 * larger). One tanh: a = RN_{p+64}(x / c), |a - x / c| <= 2^(E(a) - p - 65) (E: MPFR's exponent,
 * |a| < 2^E(a)); t = RN_p(tanh a), |t - tanh a| <= 2^(E(t) - p - 1); tanh is 1-Lipschitz, so
 * |t - tanh(x / c)| <= delta = 2^(E(t) - p - 1) + 2^(E(a) - p - 64) (delta rounded up). Then
 * [t - delta, t + delta] times c > 0, outward. */
void lp_cap_enclose(mpfr_t lo, mpfr_t hi, double x, double c)
{
    if (x == 0) {
        mpfr_set_zero(lo, 1);
        mpfr_set_zero(hi, 1);
        return;
    }
    const mpfr_prec_t p = mpfr_get_prec(lo) > mpfr_get_prec(hi) ? mpfr_get_prec(lo) : mpfr_get_prec(hi);
    mpfr_t a, t, d, d2;
    mpfr_init2(a, p + 64);
    mpfr_init2(t, p);
    mpfr_inits2(64, d, d2, (mpfr_ptr)0);
    mpfr_set_d(a, x, MPFR_RNDN); /* exact */
    mpfr_div_d(a, a, c, MPFR_RNDN);
    mpfr_tanh(t, a, MPFR_RNDN);
    mpfr_set_ui_2exp(d, 1, mpfr_get_exp(t) - p - 1, MPFR_RNDN);  /* exact: a power of two */
    mpfr_set_ui_2exp(d2, 1, mpfr_get_exp(a) - p - 64, MPFR_RNDN);
    mpfr_add(d, d, d2, MPFR_RNDU);
    mpfr_sub(lo, t, d, MPFR_RNDD);
    mpfr_add(hi, t, d, MPFR_RNDU);
    mpfr_mul_d(lo, lo, c, MPFR_RNDD);
    mpfr_mul_d(hi, hi, c, MPFR_RNDU);
    mpfr_clears(a, t, d, d2, (mpfr_ptr)0);
}

/* SOFTCAP: dlo <= (c tanh(x / c) - c tanh(m / c)) / tau <= dhi, given mlo, mhi enclosing
 * c tanh(m / c); t: scratch at the precision of dlo. */
void lp_cap_diff(mpfr_t dlo, mpfr_t dhi, mpfr_t t, double x, const mpfr_t mlo, const mpfr_t mhi,
                 double c, double tau)
{
    lp_cap_enclose(dlo, t, x, c);
    mpfr_sub(dlo, dlo, mhi, MPFR_RNDD);
    mpfr_sub(dhi, t, mlo, MPFR_RNDU);
    if (tau != 1.0) {
        mpfr_div_d(dlo, dlo, tau, MPFR_RNDD);
        mpfr_div_d(dhi, dhi, tau, MPFR_RNDU);
    }
}

/* llo, lhi (reset to the working precision of prec and V) enclose L = log1p(T) of a LP_TOK_NUM
 * row, T = sum of exp((x_i - m) / tau) over i != j. */
void lp_row_log1p_enclose(mpfr_t llo, mpfr_t lhi, const lp_row *r, mpfr_prec_t prec)
{
    const mpfr_prec_t w = working_prec(prec, r);
    const double tau = r->tau;
    mpfr_t dlo, dhi, e, m, mclo, mchi;
    mpfr_inits2(w, dlo, dhi, e, (mpfr_ptr)0);
    mpfr_set_prec(llo, w);
    mpfr_set_prec(lhi, w);
    mpfr_init2(m, 64);
    mpfr_set_d(m, r->m, MPFR_RNDN); /* exact */
    mpfr_set_zero(llo, 1);
    mpfr_set_zero(lhi, 1);
    if (r->cap) {
        mpfr_inits2(w, mclo, mchi, (mpfr_ptr)0);
        lp_cap_enclose(mclo, mchi, r->m, r->cap);
    }
    for (int64_t i = 0; i < r->V; i++) {
        if (i == r->j) continue;
        double x = lp_load_f64(r->data, r->fmt, (size_t)i);
        if (x == -HUGE_VAL) continue; /* exp(-inf) = 0: vocabulary masking */
        if (r->filt && x < r->thr) continue; /* A7: not kept */
        if (x == r->m) {              /* a tie for the max: exp(0) = 1 exactly */
            mpfr_add_ui(llo, llo, 1, MPFR_RNDD);
            mpfr_add_ui(lhi, lhi, 1, MPFR_RNDU);
            continue;
        }
        if (r->cap) {
            /* exp(d) for d in [dlo, dhi]: e = RD(exp(dlo)) below; above, exp(dhi) = exp(dlo)
             * exp(dhi - dlo) <= succ(e) (1 + 2 (dhi - dlo)) while dhi - dlo <= 1 (e^v <= 1 + 2v
             * on [0, 1]): one exp per term */
            lp_cap_diff(dlo, dhi, e, x, mclo, mchi, r->cap, tau);
            mpfr_exp(e, dlo, MPFR_RNDD);
            mpfr_add(llo, llo, e, MPFR_RNDD);
            mpfr_sub(dlo, dhi, dlo, MPFR_RNDU);
            if (mpfr_cmp_ui(dlo, 1) <= 0) {
                mpfr_nextabove(e);
                mpfr_mul_2ui(dlo, dlo, 1, MPFR_RNDU);
                mpfr_add_ui(dlo, dlo, 1, MPFR_RNDU);
                mpfr_mul(e, e, dlo, MPFR_RNDU);
            } else {
                mpfr_exp(e, dhi, MPFR_RNDU);
            }
            mpfr_add(lhi, lhi, e, MPFR_RNDU);
            continue;
        }
        int exact = mpfr_d_sub(dlo, x, m, MPFR_RNDD) == 0;
        if (tau != 1.0) exact = (mpfr_div_d(dlo, dlo, tau, MPFR_RNDD) == 0) && exact;
        if (exact) {
            int inex = mpfr_exp(e, dlo, MPFR_RNDD);
            mpfr_add(llo, llo, e, MPFR_RNDD);
            if (inex) mpfr_nextabove(e);
            mpfr_add(lhi, lhi, e, MPFR_RNDU);
        } else {
            mpfr_d_sub(dhi, x, m, MPFR_RNDU);
            if (tau != 1.0) mpfr_div_d(dhi, dhi, tau, MPFR_RNDU);
            mpfr_exp(e, dlo, MPFR_RNDD);
            mpfr_add(llo, llo, e, MPFR_RNDD);
            mpfr_exp(e, dhi, MPFR_RNDU);
            mpfr_add(lhi, lhi, e, MPFR_RNDU);
        }
    }
    mpfr_log1p(llo, llo, MPFR_RNDD);
    mpfr_log1p(lhi, lhi, MPFR_RNDU);
    mpfr_clears(dlo, dhi, e, m, (mpfr_ptr)0);
    if (r->cap) mpfr_clears(mclo, mchi, (mpfr_ptr)0);
}

/* g (reset to LP_GAP_PREC bits) = x_y - m exactly: both are doubles, whose difference needs at
 * most 1024 + 1074 + 1 bits. */
void lp_row_gap(mpfr_t g, const lp_row *r)
{
    mpfr_set_prec(g, LP_GAP_PREC);
    mpfr_set_d(g, r->xy, MPFR_RNDN);
    int inex = mpfr_sub_d(g, g, r->m, MPFR_RNDN);
    LP_ASSERT(inex == 0);
}

/* lo, hi (any precision; reset here) enclose logp of a LP_TOK_NUM row with width < 2^-prec |logp|. */
void lp_row_enclose(mpfr_t lo, mpfr_t hi, const lp_row *r, mpfr_prec_t prec)
{
    const mpfr_prec_t w = working_prec(prec, r);
    const double tau = r->tau;
    mpfr_t tlo, thi, dlo, dhi, m;
    mpfr_inits2(w, tlo, thi, dlo, dhi, (mpfr_ptr)0);
    mpfr_init2(m, 64);
    mpfr_set_d(m, r->m, MPFR_RNDN); /* exact */
    lp_row_log1p_enclose(tlo, thi, r, prec); /* L = log1p(T) */
    /* D = (x_y - m) / tau, or with softcap (c tanh(x_y / c) - c tanh(m / c)) / tau. */
    if (r->xy == r->m) {
        mpfr_set_zero(dlo, 1);
        mpfr_set_zero(dhi, 1);
    } else if (r->cap) {
        mpfr_t mclo, mchi, t;
        mpfr_inits2(w, mclo, mchi, t, (mpfr_ptr)0);
        lp_cap_enclose(mclo, mchi, r->m, r->cap);
        lp_cap_diff(dlo, dhi, t, r->xy, mclo, mchi, r->cap, tau);
        mpfr_clears(mclo, mchi, t, (mpfr_ptr)0);
    } else {
        mpfr_d_sub(dlo, r->xy, m, MPFR_RNDD);
        mpfr_d_sub(dhi, r->xy, m, MPFR_RNDU);
        if (tau != 1.0) {
            mpfr_div_d(dlo, dlo, tau, MPFR_RNDD);
            mpfr_div_d(dhi, dhi, tau, MPFR_RNDU);
        }
    }
    mpfr_set_prec(lo, w);
    mpfr_set_prec(hi, w);
    mpfr_sub(lo, dlo, thi, MPFR_RNDD);
    mpfr_sub(hi, dhi, tlo, MPFR_RNDU);
    mpfr_clears(tlo, thi, dlo, dhi, m, (mpfr_ptr)0);
}

/* The Ziv loop on one LP_TOK_NUM row from precision *prec; on success *prec is the precision
 * whose enclosure (left in lo, hi) decided every rounding. */
lp_status lp_row_decide(lp_value *out, mpfr_t lo, mpfr_t hi, const lp_row *r, mpfr_prec_t *prec,
                        lp_ref_stats *stats, lp_error *err)
{
    for (;;) {
        lp_row_enclose(lo, hi, r, *prec);
        if (*prec > stats->max_prec) stats->max_prec = *prec;
        if (lp_decide(out, lo, hi)) return LP_OK;
        if (*prec >= LP_ZIV_MAX_PREC)
            return lp_fail(err, LP_ERR_INTERNAL,
                           "ziv: logp undecided at %ld bits (V=%lld, label %lld): please report",
                           (long)*prec, (long long)r->V, (long long)r->label);
        *prec *= 2;
        stats->retries++;
    }
}

mpfr_prec_t lp_ziv_prec0(void) { return LP_ZIV_PREC0; }
mpfr_prec_t lp_ziv_max_prec(void) { return LP_ZIV_MAX_PREC; }

lp_status lp_ref_row(lp_value *out, const void *row, lp_format fmt, int64_t V, int64_t label,
                     double temperature, lp_error *err)
{
    if ((unsigned)fmt >= LP_NFORMATS || V < 1 || label < 0 || label >= V || !row)
        return lp_fail(err, LP_ERR_USAGE, "lp_ref_row: bad arguments (format %d, V %lld, label %lld)",
                       (int)fmt, (long long)V, (long long)label);
    if (!(temperature > 0) || isinf(temperature))
        return lp_fail(err, LP_ERR_USAGE, "lp_ref_row: temperature %g is not positive and finite",
                       temperature);
    lp_row r = {row, fmt, V, label, temperature, 0, 0, 0, 0, 0, 0};
    lp_mpfr_state st;
    lp_mpfr_enter(&st);
    lp_ref_stats stats = {0, 0, 0, 0, 0, 0, 0};
    lp_ref_slot sl;
    sl.prec = 0;
    lp_tok_class cls;
    lp_fast_enc enc;
    /* Every output is wanted, the double-double too: tier 3 (fast_td.c), then the Ziv loop, as
     * lp_ref_compute does with its default options. */
    lp_status s = lp_ref_token(out, &cls, &enc, &sl, &r, LP_REF_ALL, lp_ref_fast_on(LP_REF_ALL, 0),
                               lp_ref_td_on(LP_REF_ALL, 0), &stats, err);
    if (sl.prec) mpfr_clears(sl.lo, sl.hi, (mpfr_ptr)0);
    lp_mpfr_leave(&st);
    return s;
}
