/* reference/grad_fast.c: the certified fast path of the gradient reference (SPEC A8): a row's
 * terms exp((x_i - m)/tau) in double-double (tier 2's kernel, fast_dd.c), their sums S and R,
 * 1 / (S tau D) enclosed once per row in MPFR, then per element one double-double product and a
 * rounding test against the proved bound below; what the test cannot decide goes to the MPFR Ziv
 * loop of grad.c (counted: lp_grad_stats.fallback). Bit for bit the MPFR route's results for
 * every wanted format, since both are correct roundings of the same real.
 *
 * CONTRACT  lp_grad_row_fast, for a LP_GROW_NUM row (grad.c) with tau in [2^-900, 2^900],
 *           |m| < 2^1000, 2 <= V < 2^31, divisor 1 <= D <= 2^53, decides every element's f64,
 *           f32, f16 and bf16 roundings that want asks for (never the double-double: LP_REF_DD
 *           sends the row to the MPFR route, grad.c), each the RNE rounding of the exact g_i of
 *           grad.c's CONTRACT; returns 0 outside that domain (the caller takes the MPFR route).
 *
 * NOTATION  u = 2^-53; RN; dn(a), up(a) the neighbours of a double (nextafter); lp_dd_add is
 *           core/lp_dd.h's SloppyDWPlusDW: for non-negative operands with |lo| <= u hi the result
 *           is the exact sum times (1 + d), |d| <= 3.0002 u^2, plus 2^-1074 absolute (subnormal low
 *           parts), and again |lo| <= u hi. TwoProd: p = RN(ab), e = fma(a, b, -p), p + e = ab
 *           exactly unless ab underflows (then |p + e - ab| <= 2^-1074). -ffp-contract=off: the
 *           operations are those written.
 *
 * METHOD and ERROR
 *   (1) Terms. lp_fast_exp_terms (fast_dd.c, steps (1), (1''), (2) to (4) of its proof):
 *       eh_i + el_i = e_i (1 + th_i) + a_i, e_i = exp((x_i - m)/tau), |th_i| <= E_t = 20.2 u^2,
 *       |a_i| <= 2^-1073, |el_i| <= u eh_i, for the kept terms; (1, 0) exactly where x_i = m;
 *       "small" terms (e_i < 2^-1009, -inf included) are (0, 0), n_small of them.
 *   (2) Sums. S^ = the sum of every term, R^ = the same with the label's term replaced by 0, each
 *       by a pairwise tree (tree_sum: leaves of at most 8 terms added in order, then halves): a
 *       term meets at most 7 + 28 = 35 additions for V < 2^31, so the sum of the kept terms is
 *       sum (eh_i + el_i)(1 + d_i), |d_i| <= (1 + 3.0002 u^2)^35 - 1 <= 105.1 u^2, plus at most
 *       V 2^-1074 absolute. With (1): |S^ - S_big| <= E S_big + A1, E = (1 + 20.2 u^2)
 *       (1 + 105.1 u^2) - 1 <= 125.4 u^2 <= E_S := 128 u^2, A1 <= 2V 2^-1073; S - S_big <=
 *       n_small 2^-1009. With A := (n_small + 2V + 64) 2^-1009 (>= A1 + the small terms):
 *       S in [max(0, (S^ - A)(1 - E_S)), (S^ + 2A)(1 + 2 E_S)] (1/(1 + E) >= 1 - E, 1/(1 - E)
 *       <= 1 + 2E), and likewise R = sum_{i != y} e_i from R^.
 *   (3) Per row in MPFR (192 bits, directed roundings, each step monotone): the ends of S, then
 *       c_lo = 1/(S_hi tau D) (RNDD), c_hi = 1/(S_lo tau D) (RNDU): 1/(S tau D) in [c_lo, c_hi].
 *       ch = RN(c_lo), cl = RN(c_lo - ch) (|cl| <= u ch), c^ = ch + cl exactly; E_c = the double
 *       rounded up of max(c_hi - c^, c^ - c_lo) / c^: |1/(S tau D) - c^| <= E_c c^.
 *       The label: g_y = R / (S tau D) in [R_lo c_lo, R_hi c_hi] (RNDD / RNDU), decided by
 *       lp_fast_decide on that pair (lp_fast_enc_mpfr: the f64 rounding of the MPFR ends), unless
 *       the label's logit is -inf (g_y = 1/(tau D) exactly: grad.c's decide_rational).
 *   (4) Element i != y, kept: |g_i| = e_i c, c = 1/(S tau D). P = eh ch, (ph, pl) = TwoProd,
 *       t = RN(RN(RN(eh cl) + RN(el ch)) + pl), g^ = ph + t (a real). With e^ = eh + el:
 *       e^ c^ = P + eh cl + el ch + el cl; |el cl| <= u^2 |P|; RN(eh cl), RN(el ch) err by
 *       <= u^2 |P| each; their sum (<= 2.0001 u |P|) by <= 2.01 u^2 |P|; adding pl (<= 1.0001 u
 *       |P|) by <= 3.01 u^2 |P|: |g^ - e^ c^| <= 8.03 u^2 |P| + 4 2^-1075 <= 8.04 u^2 |e^ c^| +
 *       2^-1072 (|P| <= |e^ c^| (1 - u)^-2). And |e_i c - e^ c^| <= |e_i - e^| c + |e^| |c - c^|
 *       <= |e^ c^| (E_t + E_c + E_t E_c) (1 + 2^-90) + 2^-1073 c^ (1 + E_c) (|e_i| <= |e^|(1 + E_t)
 *       + 2^-1073). |e^ c^| <= |ph| (1 + 3.1 u). Hence
 *           | |g_i| - (ph + t) | <= B := |ph| Erel + Eabs,
 *           Erel = (E_t + E_c + 8.1 u^2)(1 + 2^-40),   Eabs = 2^-1072 ch + 2^-1070
 *       (2^-1073 c^ (1 + E_c) <= 2^-1072 ch; 2^-1072 + 2^-1073 rounding slack <= 2^-1070).
 *       B is computed as RN(RN(RN(|ph| Erel) + Eabs) (1 + 2^-50)): three roundings, each at most a
 *       factor (1 + u) (an underflowing one 2^-1075, inside Eabs's slack), so the computed B is at
 *       least the exact one. (q, q2) = Fast2Sum(ph, t) (exact: |t| <= 2.6 u ph), so
 *       |g_i| in q + [dn(q2 - B), up(q2 + B)] and g_i = -|g_i| in p + [clo, chi], p = -q,
 *       clo = -up(q2 + B), chi = -dn(q2 - B) (dn(RN(a)) <= a <= up(RN(a))). QUICK (quick_decide) decides f64 as RN(p + clo) ==
 *       RN(p + chi) (one IEEE addition each: the correct rounding of the exact end) and the
 *       narrow formats as RN_f(p) when p is no boundary of f; else lp_fast_decide (fast.c) tries
 *       the pair (rn_pair) and the plain ends lo = dn(p + clo), hi = up(p + chi), and what is
 *       left goes to MPFR. Where ph < 2^-1000 (g_i near the double underflow) the ends are formed as
 *       plain doubles with the sign known: hi = -max(+0, dn(ph + dn(t - B))) (the exact g_i < 0
 *       lies in [lo, hi], and a hi of -0 rounds as every tiny negative real does: -0), lo =
 *       -up(ph + up(t + B)); f64 is then usually undecided (MPFR).
 *   (5) Small elements (i != y, e_i < 2^-1009): |g_i| < 2^-1009 c_hi =: b. If b <= 2^-1075
 *       (c_hi < 2^-66, tested on c_hi rounded up to a double) every format rounds g_i to -0
 *       (|g_i| below f64's half smallest subnormal 2^-1075); if f64 is not wanted and b <= 2^-151
 *       (c_hi < 2^858), f32, f16 and bf16 round it to -0 (half their smallest subnormals:
 *       2^-150, 2^-25, 2^-134). Otherwise the element goes to MPFR.
 *   (6) Elements at -inf (i != y): -0 exactly (grad.c SPECIALS).
 *   TOTAL  E_c is about 3 E_S = 384 u^2 (S's enclosure, both sides, plus the MPFR roundings), so
 *   the enclosure of an element is about 2^-96.5 relative: f64 is undecided only within that of a
 *   rounding boundary (about 2^-43 of the elements), the narrow formats far more rarely.
 * EVIDENCE tests/t_grad.c: fast == MPFR bit for bit on random and adversarial rows (peaked rows
 *   p_y = 1 - 10^-k up to k = 30, ties, huge and tiny logits, subnormal results, temperatures,
 *   divisors), with f64 wanted and without; fuzz/fz_grad.c likewise.
 */
#include <math.h>
#include <mpfr.h>
#include <string.h>

#include "lp_core.h"
#include "lp_dd.h"
#include "lp_fast.h"
#include "lp_fast_internal.h"
#include "lp_format.h"
#include "lp_grad_internal.h"
#include "lp_ref_internal.h"

#define E_S_U2 128.0
#define E_T_U2 20.2
#define U2 0x1p-106

/* The neighbours of a finite double (nextafter, by its bits: a zero goes to +-2^-1074). */
static inline double up(double a)
{
    if (a == 0) return 0x1p-1074;
    const uint64_t b = lp_bits_f64(a);
    return lp_f64_bits(a > 0 ? b + 1 : b - 1);
}
static inline double dn(double a) { return -up(-a); }

/* 1 if the normal double p is a rounding boundary of format f (a midpoint of two neighbours of f,
 * including the overflow threshold max + half a quantum, which is one too). |p| = M 2^(ex - 52),
 * M the 53-bit integer significand; near |p| the quantum of f is 2^qe, qe = max(ex, emin) - m
 * (m trailing bits; the subnormal quantum below 2^emin); the boundaries are the odd multiples of
 * 2^(qe - 1). With sh = qe - (ex - 52) the bits of M below the quantum: p is one iff 1 <= sh <= 53
 * and those sh bits are exactly 1 followed by zeros (sh > 53: |p| < 2^(qe - 1), no boundary
 * but 0, which a normal p is not). */
int lp_grad_is_boundary(double p, lp_format f)
{
    static const int mt[LP_NFORMATS] = {52, 23, 10, 7}, emn[LP_NFORMATS] = {-1022, -126, -14, -126};
    const uint64_t b = lp_bits_f64(p) & 0x7fffffffffffffffull;
    const int ex = (int)(b >> 52) - 1023;
    const uint64_t M = (b & 0xfffffffffffffull) | (1ull << 52);
    const int qe = (ex > emn[f] ? ex : emn[f]) - mt[f];
    const int sh = qe - (ex - 52);
    if (sh < 1 || sh > 53) return 0;
    return (M & ((1ull << sh) - 1)) == (1ull << (sh - 1));
}

/* RN_32(p) and RN_bf16(p) (the results of core/format.c's lp_f32_from_f64, lp_bf16_from_f64). In
 * f32's normal range f32 by the hardware (RNE in the default mode, which this file assumes
 * throughout; a normal result, so no flush-to-zero either), and bf16 from that float when it is no
 * bf16 boundary (its low 16 bits not 0x8000): a bf16 boundary is a float, so none lies strictly
 * between p and RN_32(p) (it would be a float nearer to p), and RN_bf16(RN_32(p)) = RN_bf16(p);
 * the RNE of a float's top 16 bits by integer carry (an overflow carries into the infinity).
 * Elsewhere core/format.c's one rounding. */
void lp_grad_round32(double p, float *f32, uint16_t *bf16)
{
    if (fabs(p) >= 0x1p-126 && fabs(p) < 0x1p127) {
        const float r = (float)p;
        const uint32_t u = lp_bits_f32(r);
        *f32 = r;
        *bf16 = (u & 0xffffu) == 0x8000u ? lp_bf16_from_f64(p)
                                         : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    } else {
        *f32 = lp_f32_from_f64(p);
        *bf16 = lp_bf16_from_f64(p);
    }
}

/* QUICK: the decision of (4) for an enclosure p + [clo, chi] with |clo|, |chi| < ulp(p)
 * (p normal, the pair renormalised): the interval lies in (p - ulp(p), p + ulp(p)), whose only
 * double with at most 54 significant bits is p itself (the others there, p - ulp(p)/2 below a
 * power of two, have 53; p +- ulp(p) are outside). Every rounding boundary of f32, f16 and bf16
 * (their midpoints and overflow thresholds, q + 1 <= 25 bits; 0 is not near a normal p) is such a
 * double, so where p is none (lp_grad_is_boundary), every real of the interval rounds as p
 * does: RN_f(p), the correct rounding of the double p (core/format.c). Otherwise 0. f64:
 * RN(p + clo) == RN(p + chi), one IEEE addition each. Members not wanted are NaN. */
static int quick_decide(lp_value *o, double p, double clo, double chi, unsigned want)
{
    const double qn = lp_f64_bits(0x7ff8000000000000ull);
    o->f64 = qn;
    o->dd.hi = qn;
    o->dd.lo = qn;
    if (want & (1u << LP_F64)) {
        const double a = p + clo, b = p + chi;
        if (lp_bits_f64(a) != lp_bits_f64(b)) return 0;
        o->f64 = a;
    }
    const double lsb = fabs(p) * 0x1p-53; /* in [ulp(p)/2, ulp(p)): p normal, exact */
    if (!(fabs(clo) < lsb && fabs(chi) < lsb)) return 0;
    o->f32 = lp_f32_bits(0x7fc00000u);
    o->f16 = 0x7e00;
    o->bf16 = 0x7fc0;
    for (int f = LP_F32; f <= LP_BF16; f++)
        if ((want & (1u << f)) && lp_grad_is_boundary(p, (lp_format)f)) return 0;
    if (want & ((1u << LP_F32) | (1u << LP_BF16))) lp_grad_round32(p, &o->f32, &o->bf16);
    if (want & (1u << LP_F16)) o->f16 = lp_f16_from_f64(p);
    return 1;
}

static void value_nan(lp_value *v) { lp_value_special(v, LP_TOK_NAN); }

/* The pairwise sum of (h[i], l[i]), i < n (n >= 1), every term non-negative: (2). */
static lp_dd tree_sum(const double *h, const double *l, int64_t n)
{
    if (n <= 8) {
        lp_dd s = {h[0], l[0]};
        for (int64_t i = 1; i < n; i++) s = lp_dd_add(s, (lp_dd){h[i], l[i]});
        return s;
    }
    const int64_t k = n / 2;
    return lp_dd_add(tree_sum(h, l, k), tree_sum(h + k, l + k, n - k));
}

/* lo, hi (MPFR, set here) enclose a sum from its double-double X^ by (2). */
static void sum_ends(mpfr_t lo, mpfr_t hi, lp_dd x, const mpfr_t A, const mpfr_t es)
{
    mpfr_t t;
    mpfr_init2(t, mpfr_get_prec(lo));
    mpfr_set_d(lo, x.hi, MPFR_RNDD);
    mpfr_add_d(lo, lo, x.lo, MPFR_RNDD);
    mpfr_sub(lo, lo, A, MPFR_RNDD);
    mpfr_ui_sub(t, 1, es, MPFR_RNDD);
    mpfr_mul(lo, lo, t, MPFR_RNDD);
    if (mpfr_sgn(lo) < 0) mpfr_set_zero(lo, 1);
    mpfr_set_d(hi, x.hi, MPFR_RNDU);
    mpfr_add_d(hi, hi, x.lo, MPFR_RNDU);
    mpfr_add(hi, hi, A, MPFR_RNDU);
    mpfr_add(hi, hi, A, MPFR_RNDU);
    mpfr_mul_2ui(t, es, 1, MPFR_RNDU);
    mpfr_add_ui(t, t, 1, MPFR_RNDU);
    mpfr_mul(hi, hi, t, MPFR_RNDU);
    mpfr_clear(t);
}

int lp_grad_fast_scratch(lp_grad_scratch *sc, int64_t V)
{
    const size_t n = (size_t)V + 16;
    if (sc->cap >= n) return 1;
    free(sc->x);
    free(sc->eh);
    free(sc->el);
    free(sc->small);
    free(sc->undecided);
    sc->x = malloc(n * sizeof(double));
    sc->eh = malloc(n * sizeof(double));
    sc->el = malloc(n * sizeof(double));
    sc->small = malloc(n);
    sc->undecided = malloc(n * sizeof(int64_t));
    sc->cap = n;
    if (!sc->x || !sc->eh || !sc->el || !sc->small || !sc->undecided) {
        lp_grad_scratch_free(sc);
        return 0;
    }
    return 1;
}

void lp_grad_scratch_free(lp_grad_scratch *sc)
{
    free(sc->x);
    free(sc->eh);
    free(sc->el);
    free(sc->small);
    free(sc->undecided);
    memset(sc, 0, sizeof *sc);
}

int lp_grad_row_fast(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                     int64_t V, int64_t y, double tau, int64_t D, unsigned want,
                     lp_grad_scratch *sc, int64_t *nundecided, lp_grad_stats *st, lp_error *err,
                     lp_status *status)
{
    *status = LP_OK;
    *nundecided = 0;
    if (!(tau >= 0x1p-900 && tau <= 0x1p900) || V < 2 || V >= ((int64_t)1 << 31) || D < 1 ||
        D > ((int64_t)1 << 53) || !(fabs(ri->m) < 0x1p1000) || (want & LP_REF_DD) ||
        !(want & 0xfu))
        return 0;
    if (!lp_grad_fast_scratch(sc, V)) {
        *status = lp_fail(err, LP_ERR_NOMEM, "grad: out of memory for a row of %lld", (long long)V);
        return 1;
    }
    lp_fast_prepare(fmt);
    /* (1) */
    for (int64_t o = 0; o < V; o += 4096) {
        const int n = V - o < 4096 ? (int)(V - o) : 4096;
        lp_fast_widen(sc->x + o, row, fmt, o, n);
    }
    int64_t Vp = V;
    while (Vp % 8) sc->x[Vp++] = -HUGE_VAL;
    for (int64_t o = 0; o < Vp; o += 4096) {
        const int n = Vp - o < 4096 ? (int)(Vp - o) : 4096;
        lp_fast_exp_terms(sc->x + o, n, ri->m, tau, sc->eh + o, sc->el + o, sc->small + o);
    }
    int64_t n_small = 0;
    for (int64_t i = 0; i < V; i++) n_small += sc->small[i];
    /* (2) */
    const lp_dd Sh = tree_sum(sc->eh, sc->el, V);
    const double yh = sc->eh[y], yl = sc->el[y];
    sc->eh[y] = 0.0;
    sc->el[y] = 0.0;
    const lp_dd Rh = tree_sum(sc->eh, sc->el, V);
    sc->eh[y] = yh;
    sc->el[y] = yl;
    /* (3) */
    mpfr_t A, es, slo, shi, rlo, rhi, clo, chi, t, u;
    mpfr_inits2(192, A, es, slo, shi, rlo, rhi, clo, chi, t, u, (mpfr_ptr)0);
    mpfr_set_si(A, (long)(n_small + 2 * V + 64), MPFR_RNDU);
    mpfr_mul_2si(A, A, -1009, MPFR_RNDU);
    mpfr_set_d(es, E_S_U2, MPFR_RNDU);
    mpfr_mul_2si(es, es, -106, MPFR_RNDU);
    sum_ends(slo, shi, Sh, A, es);
    sum_ends(rlo, rhi, Rh, A, es);
    mpfr_set_d(t, tau, MPFR_RNDN);
    mpfr_mul_si(t, t, (long)D, MPFR_RNDN); /* exact: 53 + 53 bits */
    mpfr_mul(u, shi, t, MPFR_RNDU);
    mpfr_ui_div(clo, 1, u, MPFR_RNDD);
    mpfr_mul(u, slo, t, MPFR_RNDD);
    mpfr_ui_div(chi, 1, u, MPFR_RNDU);  /* S >= 1 and slo > 0: S^ >= 1 holds the max's 1 */
    /* c^ = ch + cl: ch = RN(c_lo), cl a rounding of c_lo - ch (|cl| <= u ch); E_c below is
     * measured from the exact c^ (2200 bits hold the sum of two doubles within 2^-53 ch) */
    const double ch = mpfr_get_d(clo, MPFR_RNDN);
    mpfr_sub_d(u, clo, ch, MPFR_RNDN);
    const double cl = mpfr_get_d(u, MPFR_RNDN);
    mpfr_set_prec(u, 2200);
    mpfr_set_d(u, ch, MPFR_RNDN);
    mpfr_add_d(u, u, cl, MPFR_RNDN);    /* exact */
    mpfr_set_prec(t, 2200);
    mpfr_sub(t, chi, u, MPFR_RNDU);     /* c_hi - c^ */
    mpfr_t t2;
    mpfr_init2(t2, 2200);
    mpfr_sub(t2, u, clo, MPFR_RNDU);    /* c^ - c_lo */
    if (mpfr_cmp(t2, t) > 0) mpfr_swap(t, t2);
    mpfr_div(t, t, u, MPFR_RNDU);
    const double Ec = mpfr_get_d(t, MPFR_RNDU);
    const double chid = mpfr_get_d(chi, MPFR_RNDU);
    /* the label */
    lp_status s = LP_OK;
    int64_t nt = 0;
    if (ri->label_neginf) {
        s = lp_grad_row_mpfr(g, ri, row, fmt, V, y, tau, D, &y, 1, st, err); /* exact: 1/(tau D) */
    } else {
        mpfr_set_prec(t, 192);
        mpfr_set_prec(t2, 192);
        mpfr_mul(t, rlo, clo, MPFR_RNDD);
        mpfr_mul(t2, rhi, chi, MPFR_RNDU);
        lp_fast_enc e;
        if (mpfr_zero_p(t)) /* R_lo = 0: plain ends, the sign known (g_y > 0; +0 rounds as it) */
            e = lp_fast_enc_ends(0.0, up(mpfr_get_d(t2, MPFR_RNDU)));
        else
            lp_fast_enc_mpfr(&e, t, t2);
        value_nan(&g[y]);
        if (lp_fast_decide(&g[y], &e, want)) st->fast++;
        else sc->undecided[nt++] = y;
    }
    mpfr_clears(A, es, slo, shi, rlo, rhi, clo, chi, t, u, t2, (mpfr_ptr)0);
    if (s != LP_OK) {
        *status = s;
        return 1;
    }
    /* (4) to (6) */
    const double Erel = (E_T_U2 * U2 + Ec + 8.1 * U2) * (1.0 + 0x1p-40);
    const double Eabs = 0x1p-1072 * ch + 0x1p-1070;
    const int f64 = (want & (1u << LP_F64)) != 0;
    const lp_value nz = {-0.0, -0.0f, 0x8000, 0x8000, {-0.0, 0.0}};
    for (int64_t i = 0; i < V; i++) {
        if (i == y) continue;
        const double x = sc->x[i];
        if (x == -HUGE_VAL) {
            g[i] = nz;
            st->exact++;
            continue;
        }
        if (sc->small[i]) {
            if (chid < 0x1p-66 || (!f64 && chid < 0x1p858)) { /* (5): b < 2^-1075, 2^-151 */
                g[i] = nz;
                st->fast++;
            } else {
                sc->undecided[nt++] = i;
            }
            continue;
        }
        const double eh = sc->eh[i], el = sc->el[i];
        const double ph = eh * ch, pl = fma(eh, ch, -ph);
        const double tt = ((eh * cl) + (el * ch)) + pl;
        const double B = ((fabs(ph) * Erel) + Eabs) * (1.0 + 0x1p-50);
        lp_fast_enc e;
        if (ph >= 0x1p-1000) {
            double q, q2; /* ph + tt = q + q2 exactly (|tt| <= 2.6 u ph: Fast2Sum) */
            lp_fast_two_sum(ph, tt, &q, &q2);
            e.p = -q; /* g_i in p + [clo, chi] */
            e.clo = -up(q2 + B);
            e.chi = -dn(q2 - B);
            if (quick_decide(&g[i], e.p, e.clo, e.chi, want)) {
                st->fast++;
                continue;
            }
            e.lo = dn(e.p + e.clo);
            e.hi = up(e.p + e.chi);
            e.r64 = __builtin_nan("");
        } else {
            const double a = dn(tt - B), b = up(tt + B); /* |g_i| in ph + [a, b] */
            const double mlo = dn(ph + a), mhi = up(ph + b);
            e = lp_fast_enc_ends(-mhi, mlo > 0 ? -mlo : -0.0);
        }
        value_nan(&g[i]);
        if (lp_fast_decide(&g[i], &e, want)) st->fast++;
        else sc->undecided[nt++] = i;
    }
    *nundecided = nt;
    return 1;
}
