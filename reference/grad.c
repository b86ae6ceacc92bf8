/* reference/grad.c: the exact gradient of SPEC A8 (with the sampling parameters of A7: SAMPLING),
 * correctly rounded per element, streamed row by row.
 *
 * CONTRACT  For a counted token with label y, row x[0..V-1] of stored logits, temperature tau and
 *           the reduction's divisor D (1 for token and sum, n_b for mean, sum_b n_b for token_mean;
 *           the weight is 1/D), the gradient of w * logp_y with respect to x is
 *               g_i = -p_i / (tau D)                 (i != y)
 *               g_y = (sum_{i != y} p_i) / (tau D)    (never 1 - p_y)
 *           p the softmax of x / tau. Each g_i is the RNE rounding (gradual underflow, overflow to
 *           infinity) of that exact real to f64, f32, f16 and bf16, and the canonical double-double
 *           (hi = RN(g), lo = RN(g - hi)), as lp_value promises (ziv.c DECISION).
 *           Rows that score nothing (not counted: ignore_index, mask 0; the last row under shift
 *           next) are +0 everywhere.
 * SPECIALS  (precedence as SPEC A3) a NaN or +inf logit in a counted row: NaN in every element;
 *           every logit -inf: NaN in every element (the softmax is 0/0: nothing to differentiate;
 *           SPEC A3 rule 2 gives logp = NaN there, and the gradient follows); an element i != y at
 *           a -inf logit: -0 (it is -p_i, p_i = +0); a label at -inf: p_y = 0, so
 *           g_y = 1 / (tau D) exactly (a rational, rounded exactly: EXACT); a label element that
 *           is exactly 0 (the label the only finite logit): +0; a negative value that underflows:
 *           -0 (the rounding keeps the sign).
 * EXACT     Where every finite z_i = x_i / tau is equal (n of them, i.e. every finite x_i equal),
 *           p_i = 1/n for the finite ones: g_i = -1 / (n tau D), g_y = (n - 1) / (n tau D) (or
 *           1 / (tau D) when the label is at -inf). These rows are detected by a scan before any
 *           precision loop, and the rationals k / (n D tau) (tau a double: the rational is exact)
 *           rounded by decide_rational: the quotient at a working precision w with directed
 *           roundings; when both ends are exact the value is dyadic and rounded as a closed value
 *           (round_fmt_closed: MPFR's RNE with the format's exponent range and subnormalize; this
 *           is where exact ties, e.g. 511/512 in bf16 or 2^-25 in f16, are decided by
 *           round-to-nearest-even), otherwise it is not dyadic, hence no rounding boundary (all
 *           boundaries of the four formats and of the dd are dyadic), and the open enclosure is
 *           narrowed by doubling w until lp_decide (ziv.c) decides it.
 * METHOD    Otherwise (a "numeric" row: at least two distinct finite logits, none NaN or +inf),
 *           with m = max x, d_i = (x_i - m) / tau <= 0, e_i = exp(d_i) in (0, 1]:
 *               S = sum_i e_i >= 1,  R = sum_{i != y} e_i,  |g_i| = e_i / (S tau D),
 *               g_y = R / (S tau D).
 *           At working precision w = prec + ceil(log2(V + 1)) + 8 (as ziv.c) every step is done
 *           with MPFR's directed roundings: d_i RNDD/RNDU (one exp when exact), e_i RNDD and RNDU
 *           (nextabove when inexact), S and R accumulated RNDD / RNDU (positive terms), tau D
 *           exact (at most 53 + 63 bits, held at LP_TD_PREC = 192 bits), the products Slo tau D
 *           RNDD and Shi tau D RNDU, the quotients outward. Every operation is monotone in its
 *           inputs on its domain, so [lo, hi] contains the exact |g_i|; the relative width is
 *           about (V + 6) 2^-w < 2^-prec. The sign is applied last (g_i = -|g_i|, i != y).
 *           S and R are computed once per row and precision (levels kept per row), each element
 *           then costs one exp and two divisions per end.
 * CLAMP     Every |g_i| is strictly below 1/(tau D) in a numeric row (p_i < 1: another finite
 *           term exists; g_y = (1 - p_y)/(tau D) with p_y > 0 for a finite label). The upper end of
 *           |g_i| is therefore clamped to 1/(tau D) rounded up. This matters where p_y (or 1 - p_i)
 *           is below 2^-w relative: R^/S^ then ends at or above 1, and when 1/(tau D) is dyadic (a
 *           rounding boundary, e.g. tau = 2^-20, D = 2^40, g_y = 2^-20 (1 - 2^-10^7)) only the
 *           clamped, open end 1/(tau D) (the exact value lies strictly below it) lets lp_decide
 *           round it down: dd.lo = RN(g - hi) = -0 needs the lower end within 2^-1075 of it, a
 *           few doublings, where 1 - p_y itself would need 10^7 bits (found by tests/t_grad.c).
 * LABEL     The label element is enclosed twice, as R / (S tau D) (relatively accurate where g_y is
 *           small, p_y close to 1) and as (1 - e_y / S) / (tau D) (accurate where it is not), and
 *           the intersection of the two enclosures is taken (both contain g_y). The second form
 *           is what UNDERFLOW needs.
 * STRICTNESS The exact value lies strictly inside (lo, hi): it is irrational (TERMINATION) and the
 *           ends are dyadic, or an end is CLAMP's 1/(tau D), which it lies strictly below. lp_decide
 *           rounds the ends as open bounds (round_open).
 * UNDERFLOW Where some e_i underflows MPFR's exponent range (d_i < -2^62 ln 2, gaps past 3e18 with
 *           f32/f64/bf16 logits), its enclosure is [0, m] (m MPFR's least positive number) at every
 *           precision, so the enclosures of S and R keep an absolute width of about V m: as the
 *           precision grows they tend to [S_n, S_n + V m], S_n the sum of the other terms, not to
 *           a point, and the loop must decide from a limit interval of relative width about
 *           2^-(2^62) that need not shrink to the exact value. It does, because the exact value is
 *           strictly inside the limit and the limit's closed end is the only candidate boundary:
 *           for i != y with e_i in range, |g_i| = e_i / (S tau D) is strictly below
 *           L = e_i / (S_n tau D) (the underflowed terms are > 0): the lower end of g_i tends to
 *           -L from below, an open end, and the upper end to within 2^-(2^62) relative above
 *           g_i; L dyadic (a boundary, e.g. 1/2) is decided as an open end, L irrational as any
 *           value is (TERMINATION). For the label with e_y in range, LABEL's second form does the
 *           same (g_y strictly above (1 - e_y / S_n)/(tau D)); R / S alone would tend to an
 *           interval around R_n / S_n in both directions, e.g. around 1/2 for the f32 row
 *           [2^64, -2^64, 2^64, 0] with the label at 0: undecidable (found by fuzz/fz_grad.c). An
 *           underflowing e_i (i != y), or R with every term underflowing, puts g within V m of 0:
 *           [-(V m)/(tau D), -0] or [0, (V m)/(tau D)], which round as open ends to -0 or +0 in
 *           every format and dd; an underflowing e_y puts g_y within V m relative below
 *           1/(tau D), CLAMP's open end.
 * DECISION  lp_decide (ziv.c): every format's rounding of both open ends must agree, and the dd
 *           low part RN(g - hi) likewise; otherwise prec doubles for that element, from
 *           lp_ziv_prec0() up to lp_ziv_max_prec() (an undecided element there is LP_ERR_INTERNAL,
 *           never a guess).
 * TERMINATION In a numeric row the finite d_i take at least two distinct rational values (x_i - m
 *           is dyadic, tau a double). Suppose g_i = q rational for i != y:
 *           e^{d_i} + q tau D sum_j e^{d_j} = 0. Grouping equal exponents, this is a vanishing
 *           combination of e^{a} over distinct rationals a with rational coefficients, so by
 *           Lindemann-Weierstrass every coefficient vanishes: the coefficient of an exponent
 *           a != d_i (one exists) is q tau D c(a), c(a) >= 1 its multiplicity, so q = 0; then the
 *           coefficient of d_i is 1 != 0: a contradiction. For the label (finite x_y):
 *           g_y = q means (q tau D - 1) S + e^{d_y} = 0; an exponent a != d_y has coefficient
 *           (q tau D - 1) c(a), so q tau D = 1, and then the coefficient of d_y is 1 != 0. So every
 *           element of a numeric row (other than those at -inf, which are -0, and a label at -inf,
 *           rational and handled by EXACT) is irrational, hence no rounding boundary and not an
 *           end of an enclosure, and a narrow enough enclosure decides it: the loop ends. The dd
 *           low part: g - RN(g) is irrational too. The underflow case (STRICTNESS) is decided at
 *           the first precision where it occurs. The cap turns an adversarially hard case into an
 *           error, never an endless loop.
 * FAST PATH Unless the double-double is wanted (LP_REF_DD in lp_ref_options.formats) or slow is
 *           set, reference/grad_fast.c decides the wanted formats of a numeric row first (its own
 *           proof); the elements it leaves undecided come here (lp_grad_row_mpfr with their
 *           indices, lp_grad_stats.fallback). Both are correct roundings of the same real.
 * SAMPLING  (SPEC A7 then A8; lp_grad_row_sampled) The kept set K of a counted row is decided
 *           exactly by reference/sample.c (lp_sample_prepare: K = the finite x_i >= thr), then
 *               g_i = -P_i s_i / (tau D) (i != y),  g_y = P_y s_y / (tau D),
 *           P_i = p_i the softmax of z over K for i in K, P_y = sum_{i in K, i != y} p_i when y is in
 *           K, and P_y = 1 when it is not (A8's formula with p_y = 0, as the oracle
 *           vectors/gen_grad.py writes it); s_i = sech^2(x_i / c) = 1 - tanh^2(x_i / c) with softcap
 *           c (1 without; exactly 1 at x_i = 0). Elements i != y outside K (-inf logits included)
 *           are -0 (-p_i with p_i = +0); the label the only member of K has P_y = 0 exactly: +0.
 *   MASKED  Without softcap: s_i = 1 and z_i = x_i / tau, and the row with the logits outside K set
 *           to -inf has, with no sampling, exactly this gradient: its finite logits are K, its
 *           softmax is p over K, an element i != y at -inf is -0, a label at -inf has P_y = 1
 *           (g_y = 1 / (tau D), EXACT), its EXACT rows are K's rows of equal logits (1/n, (n-1)/n:
 *           the label alone in K gives +0), and a NaN or +inf row is left unfiltered by
 *           lp_sample_prepare (NaN everywhere either way). So the masked row goes through
 *           lp_grad_row_any unchanged: the fast path and the MPFR route, with their proofs, and
 *           bit-identical to each other (tests/t_grad.c checks both on sampled rows).
 *   SOFTCAP With softcap the MPFR route only (grad_row_capped): a NaN or +inf row, or one without a
 *           finite logit, is NaN everywhere (A3 rule 1 first, as for logp); otherwise m = max of K
 *           (always kept), d_i = (c tanh(x_i / c) - c tanh(m / c)) / tau <= 0 enclosed by
 *           lp_cap_diff (ziv.c; absolute error about (c / tau) 2^-w, so the working precision gains
 *           log2(c / tau) + 2 bits), e_i = exp(d_i) by RNDD / RNDU exps of its ends (1 exactly at
 *           the max; the upper end clamped to 1), S and R = sum over K \ {y} accumulated outward,
 *           P_i = e_i / S and the label's P_y enclosed twice (R / S and 1 - e_y / S, intersected, as
 *           LABEL), clamped to [0, 1]; s_i by sech2_enclose (MPFR's sech of |x| / c rounded down
 *           and up, decreasing in |x| / c, squared outward); |g_i| = P_i s_i / (tau D) with the
 *           product and quotient outward; lp_decide as DECISION. Rational P_i (y outside K: 1;
 *           every kept logit equal: 1/n and (n-1)/n) enter as their outward quotients; with
 *           s_i = 1 too (x_i = 0) the element is the rational k / (n tau D) (decide_rational);
 *           P_y = 0 is +0 (the label alone in K), and a label at -inf (outside K) has s_y = 0: +0.
 *           STRICTNESS holds unconditionally: for x_i != 0, a non-zero rational x_i / c makes
 *           sech(x_i / c) transcendental (Lindemann: cosh(a) algebraic would make e^a algebraic),
 *           so MPFR's directed sechs are inexact and s_i lies strictly inside its enclosure (or
 *           above an underflowed lower end 0); P_i's ends are strict as in the METHOD (exps of
 *           non-zero dyadics are inexact; the clamps 1 and 0 are strict: P_i is in (0, 1) when it
 *           is computed from the sums, since K then holds two distinct values); the products of
 *           positive strict bounds are strict. So an end is never the exact value and lp_decide's
 *           open rounding never gives a wrong bit.
 *           TERMINATION is conditional: with P_i rational and x_i != 0, g_i = q rational would make
 *           s_i = sech^2(x_i / c) rational: impossible (Lindemann), so these elements terminate
 *           unconditionally. With P_i from the sums, p_i = e^{z_i} / sum_K e^{z_j} with the
 *           z_j = c tanh(x_j / c) / tau transcendental, so Lindemann-Weierstrass does not apply;
 *           that g_i (a product of p_i and sech^2) is never a rounding boundary follows from
 *           Schanuel's conjecture, not from a known theorem (as sample.c's kept-set comparisons and
 *           ziv.c's processed logp with softcap). An element still undecided at lp_ziv_max_prec()
 *           is an LP_ERR_INTERNAL one-line error (element, V, label, softcap, temperature): never
 *           a guess. So is an e_i that underflows MPFR's range (2c / tau beyond about 3e18) where
 *           the limit interval stays too wide: the enclosures stay valid, only the decision may
 *           fail. The fast path does not run on softcap rows (lp_grad_stats.fallback counts them).
 * STREAMING lp_grad_compute delivers every row (b, t) of [B, T] in row-major order to the sink;
 *           memory is a few rows (V lp_values) per thread. Results depend only on the input, never
 *           on the thread count or on opt->slow (every value is a correct rounding of one real).
 */
#include <math.h>
#include <mpfr.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_internal.h"
#include "lp_grad_internal.h"
#include "lp_grad_mapped.h"

#define LP_TD_PREC 192          /* tau * D exactly: 53 + 63 bits */
#define LP_GRAD_LEVELS 16       /* precision doublings kept per row (prec0 * 2^9 = max) */

const char *lp_reduction_name(lp_reduction r)
{
    switch (r) {
    case LP_RED_TOKEN: return "token";
    case LP_RED_SUM: return "sum";
    case LP_RED_MEAN: return "mean";
    case LP_RED_TOKEN_MEAN: return "token_mean";
    }
    return "?";
}

int lp_reduction_parse(lp_reduction *out, const char *name)
{
    static const lp_reduction all[] = {LP_RED_TOKEN, LP_RED_SUM, LP_RED_MEAN, LP_RED_TOKEN_MEAN};
    if (!name) return 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, lp_reduction_name(all[i])) == 0) {
            *out = all[i];
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Closed rounding of an exact dyadic value into a format (MPFR emulation of the format: precision,
 * exponent range, subnormalize fed the ternary: no double rounding). As ziv.c's round_fmt. */

static double round_fmt_closed(const mpfr_t x, lp_format f)
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

/* out = every rounding of the exact dyadic x (a zero keeps its sign). */
static void decide_closed(lp_value *out, const mpfr_t x)
{
    double v[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++) v[f] = round_fmt_closed(x, (lp_format)f);
    out->f64 = v[LP_F64];
    out->f32 = (float)v[LP_F32];
    out->f16 = lp_f16_from_f64(v[LP_F16]);
    out->bf16 = lp_bf16_from_f64(v[LP_BF16]);
    out->dd.hi = v[LP_F64];
    out->dd.lo = 0.0;
    if (isinf(v[LP_F64]) || v[LP_F64] == 0) return;  /* a zero x is +-0 exactly: lo +0 */
    mpfr_t d;
    mpfr_init2(d, mpfr_get_prec(x) + 2200);
    int inex = mpfr_sub_d(d, x, v[LP_F64], MPFR_RNDN);
    LP_ASSERT(inex == 0); /* x and a double within one ulp of it: the difference fits */
    out->dd.lo = mpfr_zero_p(d) ? 0.0 : round_fmt_closed(d, LP_F64);
    mpfr_clear(d);
}

/* ---------------------------------------------------------------------------------------------
 * Rationals k / (n D tau) (EXACT), negated when neg. */

static lp_status decide_rational(lp_value *out, int64_t k, int64_t n, const mpfr_t tD, int neg,
                                 lp_grad_stats *st, lp_error *err)
{
    if (k == 0) {
        lp_value_special(out, LP_TOK_ZERO); /* +0 */
        if (neg) {
            out->f64 = -0.0;
            out->f32 = -0.0f;
            out->f16 = 0x8000;
            out->bf16 = 0x8000;
            out->dd.hi = -0.0;
        }
        return LP_OK;
    }
    mpfr_t den, lo, hi;
    mpfr_init2(den, LP_TD_PREC + 64);
    int inex = mpfr_mul_si(den, tD, (long)n, MPFR_RNDN);
    LP_ASSERT(inex == 0);
    for (mpfr_prec_t w = lp_ziv_prec0();; w *= 2) {
        mpfr_inits2(w, lo, hi, (mpfr_ptr)0);
        int a = mpfr_si_div(lo, (long)k, den, MPFR_RNDD);
        int b = mpfr_si_div(hi, (long)k, den, MPFR_RNDU);
        if (w > st->max_prec) st->max_prec = w;
        if (a == 0 && b == 0) { /* dyadic: a closed value */
            if (neg) mpfr_neg(lo, lo, MPFR_RNDN);
            decide_closed(out, lo);
            mpfr_clears(lo, hi, den, (mpfr_ptr)0);
            return LP_OK;
        }
        if (neg) {
            mpfr_neg(lo, lo, MPFR_RNDN);
            mpfr_neg(hi, hi, MPFR_RNDN);
            mpfr_swap(lo, hi);
        }
        int ok = lp_decide(out, lo, hi);
        mpfr_clears(lo, hi, (mpfr_ptr)0);
        if (ok) break;
        if (w >= lp_ziv_max_prec()) {
            mpfr_clear(den);
            return lp_fail(err, LP_ERR_INTERNAL,
                           "grad: rational %lld/%lld undecided at %ld bits: please report",
                           (long long)k, (long long)n, (long)w);
        }
    }
    mpfr_clear(den);
    return LP_OK;
}

/* ---------------------------------------------------------------------------------------------
 * One row. */

static void value_nan(lp_value *v) { lp_value_special(v, LP_TOK_NAN); }

static void value_negzero(lp_value *v)
{
    lp_value_special(v, LP_TOK_ZERO);
    v->f64 = -0.0;
    v->f32 = -0.0f;
    v->f16 = 0x8000;
    v->bf16 = 0x8000;
    v->dd.hi = -0.0;
}

static mpfr_prec_t grad_working_prec(mpfr_prec_t prec, int64_t V)
{
    mpfr_prec_t w = prec + 8;
    for (int64_t v = V + 1; v > 1; v = (v + 1) / 2) w++;
    return w;
}

void lp_grad_row_scan(lp_grad_rowinfo *ri, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    double m = -HUGE_VAL;
    int64_t nfin = 0, nmax = 0;
    ri->cls = LP_GROW_NUM;
    for (int64_t i = 0; i < V; i++) {
        double x = lp_load_f64(row, fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) {
            ri->cls = LP_GROW_NAN;
            return;
        }
        if (x == -HUGE_VAL) continue;
        nfin++;
        if (x > m) {
            m = x;
            nmax = 1;
        } else if (x == m) {
            nmax++;
        }
    }
    ri->m = m;
    ri->nfin = nfin;
    ri->label_neginf = lp_load_f64(row, fmt, (size_t)y) == -HUGE_VAL;
    if (nfin == 0) ri->cls = LP_GROW_NAN;
    else if (nmax == nfin) ri->cls = LP_GROW_EXACT;
}

/* The enclosure of S and R at one precision. */
typedef struct level {
    mpfr_prec_t prec, w;
    mpfr_t slo, shi, rlo, rhi;   /* S tau D and R, outward */
    mpfr_t s0lo, s0hi;           /* S, outward */
    mpfr_t inv;                  /* 1/(tau D), RNDU: every |g_i| lies strictly below 1/(tau D) */
} level;

typedef struct rowctx {
    const void *row;
    lp_format fmt;
    int64_t V, y;
    double tau, m;
    mpfr_t tD, mm, dlo, dhi, e, glo, ghi;
    level lv[LP_GRAD_LEVELS];
    int nlv;
} rowctx;

/* d = (x - m) / tau into dlo, dhi; returns 1 when exact (dlo holds it). */
static int gap(rowctx *c, double x)
{
    int exact = mpfr_d_sub(c->dlo, x, c->mm, MPFR_RNDD) == 0;
    if (c->tau != 1.0) exact = (mpfr_div_d(c->dlo, c->dlo, c->tau, MPFR_RNDD) == 0) && exact;
    if (!exact) {
        mpfr_d_sub(c->dhi, x, c->mm, MPFR_RNDU);
        if (c->tau != 1.0) mpfr_div_d(c->dhi, c->dhi, c->tau, MPFR_RNDU);
    }
    return exact;
}

/* e_i's enclosure [elo, ehi] at the current precision (x finite). elo in c->dlo, ehi in c->dhi. */
static void exp_enclose(rowctx *c, double x)
{
    if (x == c->m) {
        mpfr_set_ui(c->dlo, 1, MPFR_RNDN);
        mpfr_set_ui(c->dhi, 1, MPFR_RNDN);
        return;
    }
    if (gap(c, x)) {
        int inex = mpfr_exp(c->dlo, c->dlo, MPFR_RNDD);
        mpfr_set(c->dhi, c->dlo, MPFR_RNDN);
        if (inex) mpfr_nextabove(c->dhi);
    } else {
        mpfr_exp(c->dlo, c->dlo, MPFR_RNDD);
        mpfr_exp(c->dhi, c->dhi, MPFR_RNDU);
    }
}

static void set_w(rowctx *c, mpfr_prec_t w)
{
    mpfr_set_prec(c->dlo, w);
    mpfr_set_prec(c->dhi, w);
    mpfr_set_prec(c->e, w);
    mpfr_set_prec(c->glo, w);
    mpfr_set_prec(c->ghi, w);
}

static level *get_level(rowctx *c, int k, mpfr_prec_t prec)
{
    while (c->nlv <= k) {
        level *L = &c->lv[c->nlv];
        L->prec = c->nlv == 0 ? prec : 2 * c->lv[c->nlv - 1].prec;
        L->w = grad_working_prec(L->prec, c->V);
        mpfr_inits2(L->w, L->slo, L->shi, L->rlo, L->rhi, L->inv, L->s0lo, L->s0hi, (mpfr_ptr)0);
        mpfr_ui_div(L->inv, 1, c->tD, MPFR_RNDU);
        set_w(c, L->w);
        mpfr_set_zero(L->slo, 1);
        mpfr_set_zero(L->shi, 1);
        mpfr_set_zero(L->rlo, 1);
        mpfr_set_zero(L->rhi, 1);
        for (int64_t i = 0; i < c->V; i++) {
            double x = lp_load_f64(c->row, c->fmt, (size_t)i);
            if (x == -HUGE_VAL) continue;
            exp_enclose(c, x);
            mpfr_add(L->slo, L->slo, c->dlo, MPFR_RNDD);
            mpfr_add(L->shi, L->shi, c->dhi, MPFR_RNDU);
            if (i != c->y) {
                mpfr_add(L->rlo, L->rlo, c->dlo, MPFR_RNDD);
                mpfr_add(L->rhi, L->rhi, c->dhi, MPFR_RNDU);
            }
        }
        mpfr_set(L->s0lo, L->slo, MPFR_RNDN); /* same precision: exact */
        mpfr_set(L->s0hi, L->shi, MPFR_RNDN);
        mpfr_mul(L->slo, L->slo, c->tD, MPFR_RNDD);
        mpfr_mul(L->shi, L->shi, c->tD, MPFR_RNDU);
        c->nlv++;
    }
    set_w(c, c->lv[k].w);
    return &c->lv[k];
}

/* Element i of a numeric row by the Ziv loop. */
static lp_status ziv_element(lp_value *out, rowctx *c, int64_t i, lp_grad_stats *st, lp_error *err)
{
    const double x = lp_load_f64(c->row, c->fmt, (size_t)i);
    for (int k = 0;; k++) {
        level *L = get_level(c, k, lp_ziv_prec0());
        if (L->prec > st->max_prec) st->max_prec = L->prec;
        if (i == c->y) {
            mpfr_div(c->glo, L->rlo, L->shi, MPFR_RNDD);
            mpfr_div(c->ghi, L->rhi, L->slo, MPFR_RNDU);
            mpfr_min(c->ghi, c->ghi, L->inv, MPFR_RNDU); /* CLAMP */
            /* LABEL: also (1 - e_y / S) / (tau D); the intersection of both enclosures */
            exp_enclose(c, x);
            mpfr_div(c->e, c->dhi, L->s0lo, MPFR_RNDU);
            mpfr_ui_sub(c->e, 1, c->e, MPFR_RNDD);
            mpfr_div(c->e, c->e, c->tD, MPFR_RNDD);
            mpfr_max(c->glo, c->glo, c->e, MPFR_RNDD);
            mpfr_div(c->e, c->dlo, L->s0hi, MPFR_RNDD);
            mpfr_ui_sub(c->e, 1, c->e, MPFR_RNDU);
            mpfr_div(c->e, c->e, c->tD, MPFR_RNDU);
            mpfr_min(c->ghi, c->ghi, c->e, MPFR_RNDU);
        } else {
            exp_enclose(c, x);
            mpfr_div(c->ghi, c->dlo, L->shi, MPFR_RNDD); /* -|g| upper end: -(elo / Shi) */
            mpfr_div(c->glo, c->dhi, L->slo, MPFR_RNDU);
            mpfr_min(c->glo, c->glo, L->inv, MPFR_RNDU); /* CLAMP */
            mpfr_neg(c->glo, c->glo, MPFR_RNDN);
            mpfr_neg(c->ghi, c->ghi, MPFR_RNDN);
        }
        if (lp_decide(out, c->glo, c->ghi)) return LP_OK;
        if (L->prec >= lp_ziv_max_prec() || k + 1 >= LP_GRAD_LEVELS)
            return lp_fail(err, LP_ERR_INTERNAL,
                           "grad: element %lld undecided at %ld bits (V=%lld, label %lld): please "
                           "report", (long long)i, (long)L->prec, (long long)c->V, (long long)c->y);
    }
}

lp_status lp_grad_row_mpfr(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                           int64_t V, int64_t y, double tau, int64_t D, const int64_t *undecided,
                           int64_t nundecided, lp_grad_stats *st, lp_error *err)
{
    /* undecided: the elements to decide (NULL: all of them). */
    rowctx c;
    memset(&c, 0, sizeof c);
    c.row = row;
    c.fmt = fmt;
    c.V = V;
    c.y = y;
    c.tau = tau;
    c.m = ri->m;
    mpfr_init2(c.tD, LP_TD_PREC);
    mpfr_set_d(c.tD, tau, MPFR_RNDN);
    int inex = mpfr_mul_si(c.tD, c.tD, (long)D, MPFR_RNDN);
    LP_ASSERT(inex == 0);
    mpfr_init2(c.mm, 64);
    mpfr_set_d(c.mm, ri->m, MPFR_RNDN);
    mpfr_inits2(64, c.dlo, c.dhi, c.e, c.glo, c.ghi, (mpfr_ptr)0);
    lp_status s = LP_OK;
    const int64_t n = undecided ? nundecided : V;
    for (int64_t k = 0; k < n && s == LP_OK; k++) {
        const int64_t i = undecided ? undecided[k] : k;
        if (i != y && lp_load_f64(row, fmt, (size_t)i) == -HUGE_VAL) {
            value_negzero(&g[i]);
            st->exact++;
        } else if (i == y && ri->label_neginf) {
            s = decide_rational(&g[i], 1, 1, c.tD, 0, st, err);
            st->exact++;
        } else {
            s = ziv_element(&g[i], &c, i, st, err);
            st->fallback++;
        }
    }
    for (int k = 0; k < c.nlv; k++)
        mpfr_clears(c.lv[k].slo, c.lv[k].shi, c.lv[k].rlo, c.lv[k].rhi, c.lv[k].inv, c.lv[k].s0lo,
                    c.lv[k].s0hi, (mpfr_ptr)0);
    mpfr_clears(c.tD, c.mm, c.dlo, c.dhi, c.e, c.glo, c.ghi, (mpfr_ptr)0);
    return s;
}

/* A row that is NAN or EXACT (every element decided without a rounding test). */
lp_status lp_grad_row_exact(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                            int64_t V, int64_t y, double tau, int64_t D, lp_grad_stats *st,
                            lp_error *err)
{
    st->exact += V;
    if (ri->cls == LP_GROW_NAN) {
        for (int64_t i = 0; i < V; i++) value_nan(&g[i]);
        return LP_OK;
    }
    LP_ASSERT(ri->cls == LP_GROW_EXACT);
    mpfr_t tD;
    mpfr_init2(tD, LP_TD_PREC);
    mpfr_set_d(tD, tau, MPFR_RNDN);
    int inex = mpfr_mul_si(tD, tD, (long)D, MPFR_RNDN);
    LP_ASSERT(inex == 0);
    lp_value other, lab;
    const int64_t n = ri->nfin;
    lp_status s = decide_rational(&other, 1, n, tD, 1, st, err);
    if (s == LP_OK) {
        if (ri->label_neginf) s = decide_rational(&lab, 1, 1, tD, 0, st, err);
        else s = decide_rational(&lab, n - 1, n, tD, 0, st, err);
    }
    mpfr_clear(tD);
    if (s != LP_OK) return s;
    for (int64_t i = 0; i < V; i++) {
        if (i == y) g[i] = lab;
        else if (lp_load_f64(row, fmt, (size_t)i) == -HUGE_VAL) value_negzero(&g[i]);
        else g[i] = other;
    }
    return LP_OK;
}

lp_status lp_grad_row_any(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                          double tau, int64_t D, int slow, unsigned want, lp_grad_scratch *sc,
                          lp_grad_stats *st, lp_error *err)
{
    lp_grad_rowinfo ri;
    lp_grad_row_scan(&ri, row, fmt, V, y);
    st->elements += V;
    if (ri.cls != LP_GROW_NUM) return lp_grad_row_exact(g, &ri, row, fmt, V, y, tau, D, st, err);
    if (!want) want = LP_REF_ALL;
    if (!slow && !(want & LP_REF_DD)) {
        int64_t nundecided = 0;
        lp_status s = LP_OK;
        if (lp_grad_row_fast(g, &ri, row, fmt, V, y, tau, D, want, sc, &nundecided, st, err, &s)) {
            if (s != LP_OK || nundecided == 0) return s;
            return lp_grad_row_mpfr(g, &ri, row, fmt, V, y, tau, D, sc->undecided, nundecided, st, err);
        }
    }
    return lp_grad_row_mpfr(g, &ri, row, fmt, V, y, tau, D, NULL, 0, st, err);
}


/* ---------------------------------------------------------------------------------------------
 * SAMPLED rows (SPEC A7 then A8; the SAMPLING paragraph of the opening comment). */

/* The softcap derivative s = sech^2(x / c) = 1 - tanh^2(x / c) (x finite, non-zero, c > 0):
 * lo < s < hi strictly, at lo's and hi's precision w. a = |x| / c rounded down and up at
 * w + 16 + max(0, E(a)) bits; sech is decreasing on [0, inf), so sech(ahi) <= sech(|a|) <=
 * sech(alo), each rounded outward by MPFR (inexact: sech of a non-zero rational is transcendental,
 * Lindemann), then squared outward. An underflow gives [0, m], m MPFR's least positive number. */
static void sech2_enclose(mpfr_t lo, mpfr_t hi, double x, double cap)
{
    int ex, ec;
    frexp(fabs(x), &ex);
    frexp(cap, &ec);
    const mpfr_prec_t pa = mpfr_get_prec(lo) + 16 + (ex - ec + 1 > 0 ? ex - ec + 1 : 0);
    mpfr_t alo, ahi;
    mpfr_inits2(pa, alo, ahi, (mpfr_ptr)0);
    mpfr_set_d(alo, fabs(x), MPFR_RNDN); /* exact */
    mpfr_set_d(ahi, fabs(x), MPFR_RNDN);
    mpfr_div_d(alo, alo, cap, MPFR_RNDD);
    mpfr_div_d(ahi, ahi, cap, MPFR_RNDU);
    mpfr_sech(lo, ahi, MPFR_RNDD);
    mpfr_sqr(lo, lo, MPFR_RNDD);
    mpfr_sech(hi, alo, MPFR_RNDU);
    mpfr_sqr(hi, hi, MPFR_RNDU);
    mpfr_clears(alo, ahi, (mpfr_ptr)0);
}

/* The enclosures of a softcap row's sums at one precision: S and R = S - e_y over the kept set
 * (e_i = exp(d_i), d_i = (c tanh(x_i / c) - c tanh(m / c)) / tau <= 0), c tanh(m / c). */
typedef struct clevel {
    mpfr_prec_t prec, w;
    mpfr_t slo, shi, rlo, rhi, mclo, mchi;
} clevel;

typedef struct capctx {
    const void *row;
    lp_format fmt;
    int64_t V, y;
    double tau, cap, m, thr;
    int filt, extra;
    mpfr_t tD, dlo, dhi, t, plo, phi, slo, shi, glo, ghi;
    clevel lv[LP_GRAD_LEVELS];
    int nlv;
} capctx;

static int cap_kept(const capctx *c, double x)
{
    return x != -HUGE_VAL && (!c->filt || x >= c->thr);
}

static void cap_set_w(capctx *c, mpfr_prec_t w)
{
    mpfr_set_prec(c->dlo, w);
    mpfr_set_prec(c->dhi, w);
    mpfr_set_prec(c->t, w);
    mpfr_set_prec(c->plo, w);
    mpfr_set_prec(c->phi, w);
    mpfr_set_prec(c->slo, w);
    mpfr_set_prec(c->shi, w);
    mpfr_set_prec(c->glo, w);
    mpfr_set_prec(c->ghi, w);
}

/* e_i's enclosure [dlo, dhi] (kept x, the level's precision set): 1 exactly at the max; else
 * exp of the ends of lp_cap_diff's enclosure of d_i, RNDD and RNDU, the upper end at most 1
 * (d_i < 0: g strictly increasing). Strict: d_i's ends are dyadic and the lower one non-zero, so
 * both exps are inexact (Lindemann), or the upper end is the clamp 1 > e_i. */
static void cap_exp(capctx *c, const clevel *L, double x)
{
    if (x == c->m) {
        mpfr_set_ui(c->dlo, 1, MPFR_RNDN);
        mpfr_set_ui(c->dhi, 1, MPFR_RNDN);
        return;
    }
    lp_cap_diff(c->dlo, c->dhi, c->t, x, L->mclo, L->mchi, c->cap, c->tau);
    mpfr_exp(c->dlo, c->dlo, MPFR_RNDD);
    mpfr_exp(c->dhi, c->dhi, MPFR_RNDU);
    if (mpfr_cmp_ui(c->dhi, 1) > 0) mpfr_set_ui(c->dhi, 1, MPFR_RNDN);
}

static clevel *cap_level(capctx *c, int k)
{
    while (c->nlv <= k) {
        clevel *L = &c->lv[c->nlv];
        L->prec = c->nlv == 0 ? lp_ziv_prec0() : 2 * c->lv[c->nlv - 1].prec;
        L->w = grad_working_prec(L->prec, c->V) + c->extra;
        mpfr_inits2(L->w, L->slo, L->shi, L->rlo, L->rhi, L->mclo, L->mchi, (mpfr_ptr)0);
        cap_set_w(c, L->w);
        lp_cap_enclose(L->mclo, L->mchi, c->m, c->cap);
        mpfr_set_zero(L->slo, 1);
        mpfr_set_zero(L->shi, 1);
        mpfr_set_zero(L->rlo, 1);
        mpfr_set_zero(L->rhi, 1);
        for (int64_t i = 0; i < c->V; i++) {
            const double x = lp_load_f64(c->row, c->fmt, (size_t)i);
            if (!cap_kept(c, x)) continue;
            cap_exp(c, L, x);
            mpfr_add(L->slo, L->slo, c->dlo, MPFR_RNDD);
            mpfr_add(L->shi, L->shi, c->dhi, MPFR_RNDU);
            if (i != c->y) {
                mpfr_add(L->rlo, L->rlo, c->dlo, MPFR_RNDD);
                mpfr_add(L->rhi, L->rhi, c->dhi, MPFR_RNDU);
            }
        }
        c->nlv++;
    }
    cap_set_w(c, c->lv[k].w);
    return &c->lv[k];
}

/* Element i of a softcap row by the Ziv loop. pk, pn: P_i = pk / pn exactly (pn > 0: the label
 * outside the kept set, 1 / 1; a row of equal kept logits, (n - 1) / n or 1 / n); pn = 0: P_i from
 * the sums (p_i, or sum_{j != y} p_j at the label, enclosed twice as in LABEL). */
static lp_status cap_element(lp_value *out, capctx *c, int64_t i, int64_t pk, int64_t pn,
                             lp_grad_stats *st, lp_error *err)
{
    const double x = lp_load_f64(c->row, c->fmt, (size_t)i);
    for (int k = 0;; k++) {
        clevel *L = pn ? NULL : cap_level(c, k);
        mpfr_prec_t prec = lp_ziv_prec0() << k;
        if (pn) cap_set_w(c, grad_working_prec(prec, c->V) + c->extra);
        if (prec > st->max_prec) st->max_prec = prec;
        if (pn) {
            mpfr_set_si(c->plo, (long)pk, MPFR_RNDN);
            mpfr_div_si(c->plo, c->plo, (long)pn, MPFR_RNDD);
            mpfr_set_si(c->phi, (long)pk, MPFR_RNDN);
            mpfr_div_si(c->phi, c->phi, (long)pn, MPFR_RNDU);
        } else if (i == c->y) {
            mpfr_div(c->plo, L->rlo, L->shi, MPFR_RNDD);
            mpfr_div(c->phi, L->rhi, L->slo, MPFR_RNDU);
            cap_exp(c, L, x); /* 1 - e_y / S */
            mpfr_div(c->t, c->dhi, L->slo, MPFR_RNDU);
            mpfr_ui_sub(c->t, 1, c->t, MPFR_RNDD);
            mpfr_max(c->plo, c->plo, c->t, MPFR_RNDD);
            mpfr_div(c->t, c->dlo, L->shi, MPFR_RNDD);
            mpfr_ui_sub(c->t, 1, c->t, MPFR_RNDU);
            mpfr_min(c->phi, c->phi, c->t, MPFR_RNDU);
        } else {
            cap_exp(c, L, x);
            mpfr_div(c->plo, c->dlo, L->shi, MPFR_RNDD);
            mpfr_div(c->phi, c->dhi, L->slo, MPFR_RNDU);
        }
        if (mpfr_cmp_ui(c->phi, 1) > 0) mpfr_set_ui(c->phi, 1, MPFR_RNDN); /* P_i < 1 */
        if (mpfr_sgn(c->plo) < 0) mpfr_set_zero(c->plo, 1);                 /* P_i > 0 */
        if (x == 0) {
            mpfr_set_ui(c->slo, 1, MPFR_RNDN);
            mpfr_set_ui(c->shi, 1, MPFR_RNDN);
        } else {
            sech2_enclose(c->slo, c->shi, x, c->cap);
        }
        mpfr_mul(c->glo, c->plo, c->slo, MPFR_RNDD);
        mpfr_div(c->glo, c->glo, c->tD, MPFR_RNDD);
        mpfr_mul(c->ghi, c->phi, c->shi, MPFR_RNDU);
        mpfr_div(c->ghi, c->ghi, c->tD, MPFR_RNDU);
        if (i != c->y) {
            mpfr_neg(c->glo, c->glo, MPFR_RNDN);
            mpfr_neg(c->ghi, c->ghi, MPFR_RNDN);
            mpfr_swap(c->glo, c->ghi);
        }
        if (lp_decide(out, c->glo, c->ghi)) return LP_OK;
        if (prec >= lp_ziv_max_prec() || k + 1 >= LP_GRAD_LEVELS)
            return lp_fail(err, LP_ERR_INTERNAL,
                           "grad: softcap element %lld undecided at %ld bits (V=%lld, label %lld, "
                           "softcap %g, temperature %g): please report", (long long)i, (long)prec,
                           (long long)c->V, (long long)c->y, c->cap, c->tau);
    }
}

/* A LP_GROW_NUM or LP_GROW_EXACT row (of the stored row: no NaN, no +inf, a finite logit) with
 * softcap, its kept set r->filt / r->thr (lp_sample_prepare). */
static lp_status grad_row_capped(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                                 double tau, int64_t D, const lp_row *r, lp_grad_stats *st,
                                 lp_error *err)
{
    capctx c;
    memset(&c, 0, sizeof c);
    c.row = row;
    c.fmt = fmt;
    c.V = V;
    c.y = y;
    c.tau = tau;
    c.cap = r->cap;
    c.filt = r->filt;
    c.thr = r->thr;
    int64_t n = 0, nmax = 0;
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (!cap_kept(&c, x)) continue;
        n++;
        if (x > m) {
            m = x;
            nmax = 1;
        } else if (x == m) {
            nmax++;
        }
    }
    LP_ASSERT(n > 0); /* the max finite logit is always kept */
    c.m = m;
    const int equal = nmax == n;
    int ecp, etau;
    frexp(c.cap, &ecp);
    frexp(tau, &etau);
    c.extra = ecp - etau + 2 > 0 ? ecp - etau + 2 : 0; /* d_i's absolute error: c / tau */
    mpfr_init2(c.tD, LP_TD_PREC);
    mpfr_set_d(c.tD, tau, MPFR_RNDN);
    int inex = mpfr_mul_si(c.tD, c.tD, (long)D, MPFR_RNDN);
    LP_ASSERT(inex == 0);
    mpfr_inits2(64, c.dlo, c.dhi, c.t, c.plo, c.phi, c.slo, c.shi, c.glo, c.ghi, (mpfr_ptr)0);
    const double xy = lp_load_f64(row, fmt, (size_t)y);
    const int ykept = cap_kept(&c, xy);
    lp_status s = LP_OK;
    for (int64_t i = 0; i < V && s == LP_OK; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        const int kept = cap_kept(&c, x);
        int64_t pk = 0, pn = 0; /* P_i = pk / pn when pn > 0 */
        if (i != y && !kept) {
            value_negzero(&g[i]);
            st->exact++;
            continue;
        }
        if (i == y && !ykept) {
            pk = pn = 1;
        } else if (equal) {
            pk = i == y ? n - 1 : 1;
            pn = n;
        }
        if (pn && (pk == 0 || x == -HUGE_VAL)) {
            /* P_y = 0 (the label the only kept token) or s_y = 0 (a label at -inf): +0 */
            lp_value_special(&g[i], LP_TOK_ZERO);
            st->exact++;
        } else if (pn && x == 0) {
            s = decide_rational(&g[i], pk, pn, c.tD, i != y, st, err); /* s_i = 1 */
            st->exact++;
        } else {
            s = cap_element(&g[i], &c, i, pk, pn, st, err);
            st->fallback++;
        }
    }
    for (int k = 0; k < c.nlv; k++)
        mpfr_clears(c.lv[k].slo, c.lv[k].shi, c.lv[k].rlo, c.lv[k].rhi, c.lv[k].mclo,
                    c.lv[k].mchi, (mpfr_ptr)0);
    mpfr_clears(c.tD, c.dlo, c.dhi, c.t, c.plo, c.phi, c.slo, c.shi, c.glo, c.ghi, (mpfr_ptr)0);
    return s;
}

lp_status lp_grad_row_sampled(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                              double tau, const lp_sampling *smp, int64_t D, int slow,
                              unsigned want, lp_grad_scratch *sc, lp_grad_stats *st,
                              lp_error *err)
{
    if (!smp || !lp_sampling_on(smp))
        return lp_grad_row_any(g, row, fmt, V, y, tau, D, slow, want, sc, st, err);
    lp_row r;
    memset(&r, 0, sizeof r);
    r.data = row;
    r.fmt = fmt;
    r.V = V;
    r.label = y;
    r.tau = tau;
    lp_ref_stats rs;
    memset(&rs, 0, sizeof rs);
    lp_status s = lp_sample_prepare(&r, smp, slow, &rs, err);
    if (rs.max_prec > st->max_prec) st->max_prec = rs.max_prec;
    if (s != LP_OK) return s;
    if (!r.cap) {
        /* MASKED: without softcap, the gradient of the kept set is A8's gradient (no sampling)
         * of the row with the dropped logits at -inf, as reals and as special values */
        if (!r.filt) return lp_grad_row_any(g, row, fmt, V, y, tau, D, slow, want, sc, st, err);
        void *masked = lp_row_masked(&r);
        if (!masked)
            return lp_fail(err, LP_ERR_NOMEM, "grad: out of memory for a row of V=%lld",
                           (long long)V);
        s = lp_grad_row_any(g, masked, fmt, V, y, tau, D, slow, want, sc, st, err);
        free(masked);
        return s;
    }
    lp_grad_rowinfo ri;
    lp_grad_row_scan(&ri, row, fmt, V, y);
    st->elements += V;
    if (ri.cls == LP_GROW_NAN) return lp_grad_row_exact(g, &ri, row, fmt, V, y, tau, D, st, err);
    return grad_row_capped(g, row, fmt, V, y, tau, D, &r, st, err);
}

lp_status lp_grad_row(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t label,
                      double temperature, const lp_sampling *sampling, int64_t divisor,
                      lp_error *err)
{
    if (!g || !row || (unsigned)fmt >= LP_NFORMATS || V < 1 || label < 0 || label >= V ||
        divisor < 1)
        return lp_fail(err, LP_ERR_USAGE,
                       "lp_grad_row: bad arguments (format %d, V %lld, label %lld, divisor %lld)",
                       (int)fmt, (long long)V, (long long)label, (long long)divisor);
    if (!(temperature > 0) || isinf(temperature))
        return lp_fail(err, LP_ERR_USAGE, "lp_grad_row: temperature %g is not positive and finite",
                       temperature);
    if (sampling) {
        lp_status sv = lp_sampling_check(sampling, err);
        if (sv != LP_OK) return sv;
    }
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    lp_grad_stats st;
    memset(&st, 0, sizeof st);
    lp_grad_scratch sc;
    memset(&sc, 0, sizeof sc);
    lp_status s = lp_grad_row_sampled(g, row, fmt, V, label, temperature, sampling, divisor, 0,
                                      LP_REF_ALL, &sc, &st, err);
    lp_grad_scratch_free(&sc);
    lp_mpfr_leave(&ms);
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * The whole problem: batches of rows computed by the threads (an atomic counter hands out rows),
 * then delivered to the sink in order by the caller's thread. A row's values depend only on the
 * row (never on the thread or the batch), so the output is the same for every thread count. */

typedef struct gjob {
    const lp_problem *pb;
    lp_reduction red;
    const lp_ref_options *opt;
    const int64_t *nb;
    int64_t total, Ts, V;
    unsigned want;
    int64_t r0, nr;          /* the batch: rows r0 .. r0 + nr - 1 of B*T */
    lp_value *buf;           /* [nr_max * V] */
    lp_status *rs;           /* [nr_max] */
    lp_error *re;            /* [nr_max] */
    atomic_llong next;
} gjob;

typedef struct gworker {
    gjob *job;
    lp_grad_scratch sc;
    lp_grad_stats st;
    pthread_t th;
} gworker;

static void zero_row(lp_value *g, int64_t V)
{
    for (int64_t i = 0; i < V; i++) lp_value_special(&g[i], LP_TOK_ZERO);
}

static void do_row(gworker *w, int64_t k)
{
    gjob *j = w->job;
    const lp_problem *pb = j->pb;
    const int64_t r = j->r0 + k, b = r / pb->shape.T, t = r % pb->shape.T;
    lp_value *g = j->buf + (size_t)k * (size_t)j->V;
    j->rs[k] = LP_OK;
    j->re[k].status = LP_OK;
    j->re[k].msg[0] = 0;
    if (t < j->Ts && lp_problem_counted(pb, b, t)) {
        const int64_t D = j->red == LP_RED_MEAN ? j->nb[b] : j->red == LP_RED_TOKEN_MEAN ? j->total : 1;
        const int64_t y = lp_problem_label(pb, b, lp_problem_label_t(pb, t));
        j->rs[k] = lp_grad_row_sampled(g, lp_problem_row(pb, b, t), pb->fmt, j->V, y,
                                       pb->temperature, &pb->sampling, D, j->opt->slow, j->want,
                                       &w->sc, &w->st, &j->re[k]);
    } else {
        zero_row(g, j->V);
    }
}

static void *worker_main(void *arg)
{
    gworker *w = arg;
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    for (;;) {
        const long long k = atomic_fetch_add(&w->job->next, 1);
        if (k >= w->job->nr) break;
        do_row(w, (int64_t)k);
    }
    mpfr_free_cache(); /* MPFR's caches are per thread: a worker's die with it (as batch.c) */
    lp_mpfr_leave(&ms);
    return NULL;
}

static void stats_add(lp_grad_stats *a, const lp_grad_stats *b)
{
    a->elements += b->elements;
    a->exact += b->exact;
    a->fast += b->fast;
    a->fallback += b->fallback;
    if (b->max_prec > a->max_prec) a->max_prec = b->max_prec;
}

/* Hands the pages of logits rows [r0, r1) back to the kernel (the logits lie in a read-only file
 * mapping): as batch.c's release_rows, 64 KiB back for the kernel's fault-around. */
static void release_rows(const lp_problem *pb, int64_t r0, int64_t r1)
{
    const size_t rb = (size_t)pb->shape.V * (size_t)lp_format_get(pb->fmt)->bytes;
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t base = (uintptr_t)pb->logits & ~(pg - 1);
    uintptr_t a = ((uintptr_t)pb->logits + (size_t)r0 * rb) & ~(pg - 1);
    a = a - base > 65536 ? a - 65536 : base;
    const uintptr_t z = ((uintptr_t)pb->logits + (size_t)r1 * rb + pg - 1) & ~(pg - 1);
    if (z > a) madvise((void *)a, z - a, MADV_DONTNEED);
}

lp_status lp_grad_compute(const lp_problem *pb, lp_reduction red, const lp_ref_options *opt,
                          lp_grad_sink sink, void *user, lp_grad_stats *stats, lp_error *err)
{
    return lp_grad_compute_mapped(pb, red, opt, sink, user, stats, NULL, err);
}

lp_status lp_grad_compute_mapped(const lp_problem *pb, lp_reduction red, const lp_ref_options *opt,
                                 lp_grad_sink sink, void *user, lp_grad_stats *stats,
                                 const lp_tfile *file, lp_error *err)
{
    lp_grad_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (!pb || !sink || (unsigned)red > (unsigned)LP_RED_TOKEN_MEAN)
        return lp_fail(err, LP_ERR_USAGE, "lp_grad_compute: bad arguments");
    lp_status s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    const lp_ref_options dflt = LP_REF_OPTIONS_INIT;
    if (!opt) opt = &dflt;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V, rows = B * T;
    int nth = opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nth < 1) nth = 1;
    if (nth > 64) nth = 64;
    /* a batch: at least 4 rows per thread, about 2^18 elements, at most 2^20 elements */
    int64_t nr_max = ((int64_t)1 << 18) / V;
    if (nr_max < 4 * nth) nr_max = 4 * nth;
    if (nr_max * V > ((int64_t)1 << 20)) nr_max = ((int64_t)1 << 20) / V;
    if (nr_max < 1) nr_max = 1;
    if (nr_max > rows) nr_max = rows > 0 ? rows : 1;
    gjob job;
    memset(&job, 0, sizeof job);
    job.pb = pb;
    job.red = red;
    job.opt = opt;
    job.V = V;
    job.Ts = lp_problem_ts(pb);
    job.want = opt->formats ? opt->formats : LP_REF_ALL;
    int64_t *nb = calloc((size_t)(B > 0 ? B : 1), sizeof *nb);
    size_t gbytes = 0;
    int okm = nb && lp_mul_size(&gbytes, (size_t)nr_max * (size_t)V, sizeof(lp_value));
    job.buf = okm ? malloc(gbytes) : NULL;
    job.rs = calloc((size_t)nr_max, sizeof *job.rs);
    job.re = calloc((size_t)nr_max, sizeof *job.re);
    gworker *ws = calloc((size_t)nth, sizeof *ws);
    if (!nb || !job.buf || !job.rs || !job.re || !ws) {
        free(nb);
        free(job.buf);
        free(job.rs);
        free(job.re);
        free(ws);
        return lp_fail(err, LP_ERR_NOMEM, "grad: out of memory for %lld rows of %lld",
                       (long long)nr_max, (long long)V);
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < job.Ts; t++) nb[b] += lp_problem_counted(pb, b, t);
        job.total += nb[b];
    }
    job.nb = nb;
    for (int i = 0; i < nth; i++) ws[i].job = &job;
    size_t lbytes = 0;
    const int release = file && lp_mul_size(&lbytes, (size_t)rows * (size_t)V,
                                            (size_t)lp_format_get(pb->fmt)->bytes) &&
                        lp_tfile_holds(file, pb->logits, lbytes);
    int64_t last_progress = 0;
    for (int64_t r0 = 0; r0 < rows && s == LP_OK; r0 += nr_max) {
        job.r0 = r0;
        job.nr = rows - r0 < nr_max ? rows - r0 : nr_max;
        atomic_store(&job.next, 0);
        int started = 0;
        if (nth > 1 && job.nr > 1) {
            for (int i = 1; i < nth; i++) {
                if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) break;
                started++;
            }
        }
        worker_main(&ws[0]);
        for (int i = 1; i <= started; i++) pthread_join(ws[i].th, NULL);
        for (int64_t k = 0; k < job.nr && s == LP_OK; k++) {
            const int64_t r = r0 + k;
            if (job.rs[k] != LP_OK) {
                s = job.rs[k];
                if (err) *err = job.re[k];
                break;
            }
            if (sink(user, r / T, r % T, job.buf + (size_t)k * (size_t)V, V, err) != 0) {
                s = LP_ERR_IO;
                if (err && err->status == LP_OK)
                    lp_fail(err, LP_ERR_IO, "grad: the sink stopped at row (%lld, %lld)",
                            (long long)(r / T), (long long)(r % T));
                else if (err)
                    err->status = LP_ERR_IO;
            }
            st.rows++;
        }
        if (release) release_rows(pb, r0, r0 + job.nr);
        if (opt->progress && s == LP_OK && (r0 + job.nr - last_progress >= 64 || r0 + job.nr == rows)) {
            last_progress = r0 + job.nr;
            opt->progress(opt->user, last_progress, rows);
        }
    }
    for (int i = 0; i < nth; i++) {
        stats_add(&st, &ws[i].st);
        lp_grad_scratch_free(&ws[i].sc);
    }
    free(ws);
    free(nb);
    free(job.buf);
    free(job.rs);
    free(job.re);
    if (stats) *stats = st;
    return s;
}
