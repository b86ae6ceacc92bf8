/* reference/sample.c: the kept set of SPEC A7 (sampling semantics), decided exactly.
 *
 * CONTRACT  For a row x[0..V-1] (stored values, exact) and the parameters softcap c, temperature
 *           tau, top_k k, top_p p, min_p q (zero: not set), lp_sample_prepare finds the kept set
 *           K of A7 and hands it to the engine (ziv.c, decide.c, batch.c) as a threshold: K =
 *           { i : x_i >= thr } (r->filt set; unset when K holds every finite logit). The processed
 *           logp is then ziv.c's value over K: z_y - log sum_{i in K} exp(z_i), -inf when y is not
 *           in K, +0 when y is K's only member (lp_row_scan), correctly rounded in every format and
 *           the canonical dd like every other value of the engine.
 *
 * WHY A THRESHOLD  z_i = g(x_i) with g(x) = c tanh(x / c) / tau (or x / tau) strictly increasing,
 *           so z and x order the tokens alike, ties included. Each step keeps every token at
 *           least as probable as one it keeps: top_k keeps z_i >= z_(k); top_p keeps i iff the
 *           mass of the tokens strictly more probable than i is < p, and that mass does not grow
 *           when z_i does; min_p keeps p_i >= q p_max. So each step's kept set is { x_i >= t } for
 *           some stored value t, and so is their intersection (the largest t). A step applied to
 *           the survivors of the earlier ones: top_p sums over what top_k kept; min_p's p_max is
 *           the most probable token, which every step keeps (top_k: it is the largest; top_p: the
 *           mass strictly above it is 0 < p), so min_p's set does not depend on the renormalisation.
 *           -inf logits have probability 0 and are never in K; NaN or +inf rows are NaN (A3 rule 1
 *           first: a row that is NaN is NaN whatever is kept).
 *
 * METHOD    The finite logits are sorted decreasing and grouped into distinct values u_0 > u_1 >
 *           ... > u_{d-1} with counts n_l; w_l = g(u_l) - g(u_0) <= 0 (w_0 = 0 exactly).
 *           top_k:  thr_k = the k-th largest stored value (with multiplicity), when k < the number
 *                   of finite logits: a comparison of doubles, exact.
 *           min_p:  u_l is kept iff w_l >= log q (exp is increasing: p_l / p_max = e^{w_l} >= q).
 *                   q = 1 keeps u_0 alone (w_l < 0 for l > 0: g strictly increasing).
 *                   Otherwise enclosures [w_lo, w_hi] and [log q_lo, log q_hi] at precision P
 *                   (directed roundings of increasing operations): kept if w_lo >= log q_hi, not
 *                   kept if w_hi < log q_lo; monotone in l, so a binary search.
 *           top_p:  over the survivors of top_k (distinct values 0..n_k-1): u_j is kept iff
 *                   F_j = P_j - p S < 0, P_j = sum_{l<j} n_l e^{w_l}, S = P_{n_k} (the common factor
 *                   e^{z_0} / sum dropped: positive). F_0 = -p S < 0 (the top value is kept); F_j
 *                   increases with j: a binary search for the last j with F_j < 0, limited to the
 *                   values min_p and top_k keep (below them top_p changes nothing). p = 1 keeps
 *                   everything (F_j = -sum_{l>=j} n_l e^{w_l} < 0). Enclosures: e^{w_l} by RNDD and
 *                   RNDU exps of the ends of w_l, n_l times them, prefix sums RNDD / RNDU; F_j's
 *                   ends as Plo - RNDU(p Shi) (RNDD) and Phi - RNDD(p Slo) (RNDU): kept if the
 *                   upper end is < 0, not kept if the lower end is >= 0.
 *           Undecided comparisons double P (64 up to ziv.c's LP_ZIV_MAX_PREC) and start again.
 *           Every decision is one of the exact real comparison, never of a rounded value.
 *
 * FAST      Without softcap, the same comparisons are first tried on double enclosures
 *           (decide_fast); any comparison they leave open sends the row to the MPFR loop above, so
 *           the kept set is the same either way (a decision is a fact about the exact reals).
 *           u = the quotient of RN (round to nearest) and its neighbours: for x > 0 (or any x),
 *           pred(RN(x)) <= x <= succ(RN(x)) in every range (RN is within half a spacing, and a
 *           spacing below RN(x) is at least half the one above).
 *           min_p: u_l kept iff D = u_l - u_0 >= tau log q. [lqlo, lqhi] = log q rounded down and
 *               up by MPFR; tau log q in [tlo, thi] = [pred(RN(tau lqlo)), succ(RN(tau lqhi))];
 *               D in [pred(dh), succ(dh)], dh = RN(u_l - u_0). Kept if pred(dh) >= thi, not kept
 *               if succ(dh) < tlo.
 *           W   w = D / tau: with dh and yh = RN(dh / tau) normal, |D - dh| <= 2^-53 |dh| and
 *               |yh - dh / tau| <= 2^-53 |dh / tau|, so |w - yh| <= 2^-51.9 |yh|. With yh < 0,
 *               ylo = RN(yh (1 + 2^-48)) and yhi = RN(yh (1 - 2^-48)) (e_double): each product is
 *               within 2^-53 of itself relative, or 2^-1075 absolute in the subnormal range, so
 *               |ylo| >= |yh| (1 + 2^-48)(1 - 2^-53) > |yh| (1 + 2^-51.9) and |yhi| <= max(|yh|
 *               (1 - 2^-48)(1 + 2^-53), |yh| (1 - 2^-48) + 2^-1075) < |yh| (1 - 2^-51.9) (|yh| >=
 *               2^-1022: 2^-1075 < |yh| 2^-49): ylo <= w <= yhi.
 *           E   exp is increasing: exp(ylo) <= e^w <= exp(yhi). lp_fast_exp(y) (fast.c) is
 *               within 13 u relative for -700 <= y < 0 (u = 2^-53); RN(E (1 + 2^-46)) >=
 *               E (1 + 2^-46)(1 - u) > E / (1 - 13 u), and RN(E (1 - 2^-46)) < E / (1 + 13 u):
 *               outward bounds. y < -700: e^y < 2^-1009, bounded by [0, 2^-999]; results below
 *               2^-1000 likewise (no relative claim in the subnormal range).
 *           SUMS P_j = sum_{l<j} n_l e_l: the terms n_l elo_l (>= 2^-1000 or 0: no underflow) summed
 *               in order, each product and sum one RN: |A^ - A| <= gamma_k A, gamma_k = k u /
 *               (1 - k u) <= 2 k u (Higham, sec. 4.2; all terms >= 0), k <= nk + 1 roundings per
 *               term. With c = 4 (nk + 1) u: A^ (1 - c) <= A (1 + 2 k u)(1 - 4 (k + 1) u) <= A, and
 *               A^ (1 + c) >= A (1 - 2 k u)(1 + 4 (k + 1) u) >= A for nk < 2^50. The code's
 *               factor is RN(1 -+ c'), c' = RN(c + 2^-52), times A^ rounded once: these three
 *               roundings move the product by at most 3 u (1 + O(nk u)) relative, less than the
 *               2 u the 2^-52 adds to c plus the 2 k u >= 2 u of margin above, so the bounds hold
 *               without pred / succ: plo_j <= P_j <= phi_j. p S in [pred(RN(p plo_nk)),
 *               succ(RN(p phi_nk))]. Kept if phi_j < that low end, not kept if plo_j >= the high
 *               end (F_j = P_j - p S has the sign decided).
 *           Without a decision (or dh, yh outside the normal range, a non-finite product) the MPFR
 *           loop decides, and the tiers' evaluation of the kept row follows (decide.c, SAMPLED).
 *           CANDIDATES: the doubles decide on the m largest values of K only (all values >= the
 *           m-th largest, ties included, sorted; m = 256, then 4 times more up to all of K), S
 *           being bounded over all of K (sum_fast, the same SUMS bound); the kept set is a prefix,
 *           so a boundary decided inside the candidates is K's boundary, and when every candidate
 *           is kept m grows. top_k's threshold is a selection (kth_largest), not a sort. The
 *           option slow (lp_ref_options) skips FAST: the MPFR loop decides every kept set.
 *
 * TERMINATION  Without softcap: z_l = u_l / tau is rational (u_l, tau doubles), the u_l distinct.
 *           min_p: w_l = (u_l - u_0) / tau is a non-zero rational for l > 0 and log q is
 *           transcendental for rational q in (0, 1) (Lindemann: e^a is transcendental for
 *           algebraic a != 0), so w_l != log q: the enclosures separate them at some precision.
 *           top_p: F_j = sum_l c_l e^{w_l} with distinct rational exponents and rational
 *           coefficients c_l = (1 - p) n_l (l < j), -p n_l (l >= j), not all zero (j >= 1,
 *           0 < p < 1): by Lindemann-Weierstrass (e^{a_l} for distinct algebraic a_l are linearly
 *           independent over the algebraic numbers) F_j != 0. So every comparison is strict and
 *           the loop ends.
 *           With softcap: the exponents are w_l = c (tanh(u_l / c) - tanh(u_0 / c)) / tau, which
 *           are transcendental (tanh of a non-zero rational is, by Lindemann), so the theorem does
 *           not apply; that F_j != 0 and w_l != log q always hold is a consequence of Schanuel's
 *           conjecture, not a known theorem. The exact cases are handled first (u_l = u_0, q = 1,
 *           p = 1, x = 0 where tanh(0) = 0 exactly). A comparison still undecided at the cap is an
 *           LP_ERR_INTERNAL one-line error that names the parameter and the value: never a guess.
 *           (The same holds for the processed logp itself with softcap: ziv.c's loop ends at its
 *           cap with an error; no such case is known.) Inputs that reach the cap in practice:
 *           stored values so large that c tanh(x / c) is within 2^-65536 of c for two distinct
 *           x with top_p near their tie (|x| / c beyond about 22700): documented, not hidden.
 */
#include <math.h>
#include <mpfr.h>
#include <stdlib.h>

#include "lp_core.h"
#include "lp_fast.h"
#include "lp_format.h"
#include "lp_ref_internal.h"

static int cmp_desc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The kept-set decisions of one row at one precision. */
typedef struct sctx {
    const lp_row *r;
    const lp_sampling *s;
    const double *u;       /* distinct finite values, decreasing */
    const int64_t *cnt;    /* their counts */
    int64_t d;
    mpfr_prec_t w;         /* working precision */
    mpfr_t m0lo, m0hi;     /* softcap: c tanh(u_0 / c) */
    mpfr_t t;              /* scratch */
} sctx;

/* [lo, hi] encloses w_l = g(u_l) - g(u_0) (lo, hi at ctx precision). */
static void w_enclose(sctx *c, mpfr_t lo, mpfr_t hi, int64_t l)
{
    const double x = c->u[l], x0 = c->u[0], tau = c->r->tau;
    if (l == 0) {
        mpfr_set_zero(lo, 1);
        mpfr_set_zero(hi, 1);
        return;
    }
    if (c->r->cap) {
        lp_cap_diff(lo, hi, c->t, x, c->m0lo, c->m0hi, c->r->cap, tau);
        return;
    }
    mpfr_set_d(c->t, x0, MPFR_RNDN); /* exact: w >= 64 */
    mpfr_d_sub(lo, x, c->t, MPFR_RNDD);
    mpfr_d_sub(hi, x, c->t, MPFR_RNDU);
    if (tau != 1.0) {
        mpfr_div_d(lo, lo, tau, MPFR_RNDD);
        mpfr_div_d(hi, hi, tau, MPFR_RNDU);
    }
}

/* min_p: 1 kept, 0 not kept, -1 undecided, for value l (l > 0, q < 1). */
static int minp_keep(sctx *c, int64_t l, const mpfr_t lqlo, const mpfr_t lqhi)
{
    mpfr_t lo, hi;
    mpfr_inits2(c->w, lo, hi, (mpfr_ptr)0);
    w_enclose(c, lo, hi, l);
    int k = mpfr_cmp(lo, lqhi) >= 0 ? 1 : mpfr_cmp(hi, lqlo) < 0 ? 0 : -1;
    mpfr_clears(lo, hi, (mpfr_ptr)0);
    return k;
}

/* top_p: 1 kept, 0 not kept, -1 undecided, for value j, from the prefix sums P[0..nk]. */
static int topp_keep(const mpfr_t *plo, const mpfr_t *phi, int64_t j, int64_t nk, double p,
                     mpfr_prec_t w)
{
    if (j == 0) return 1;
    mpfr_t a, b;
    mpfr_inits2(w + 64, a, b, (mpfr_ptr)0);
    mpfr_mul_d(a, phi[nk], p, MPFR_RNDU);
    mpfr_sub(a, plo[j], a, MPFR_RNDD);       /* lower end of F_j */
    mpfr_mul_d(b, plo[nk], p, MPFR_RNDD);
    mpfr_sub(b, phi[j], b, MPFR_RNDU);       /* upper end of F_j */
    int k = mpfr_sgn(b) < 0 ? 1 : mpfr_sgn(a) >= 0 ? 0 : -1;
    mpfr_clears(a, b, (mpfr_ptr)0);
    return k;
}

/* Binary search over [0, lim) of a predicate that holds at 0 and is monotone (true, then false):
 * the number of values where it holds; -1 when a probe is undecided. kind 0: min_p, 1: top_p. */
typedef struct probe {
    sctx *c;
    int kind;
    const mpfr_t *lq;        /* min_p: log q enclosure [lq[0], lq[1]] */
    const mpfr_t *plo, *phi; /* top_p: prefix sums */
    int64_t nk;
    int64_t undecided;       /* the value last undecided, for the error message */
} probe;

static int probe_at(probe *pr, int64_t l)
{
    if (l == 0) return 1;
    int k = pr->kind == 0 ? minp_keep(pr->c, l, pr->lq[0], pr->lq[1])
                          : topp_keep(pr->plo, pr->phi, l, pr->nk, pr->c->s->top_p, pr->c->w);
    if (k < 0) pr->undecided = l;
    return k;
}

static int64_t search(probe *pr, int64_t lim)
{
    int k = probe_at(pr, lim - 1);
    if (k < 0) return -1;
    if (k) return lim;
    int64_t lo = 0, hi = lim - 1; /* lo kept, hi not kept */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        k = probe_at(pr, mid);
        if (k < 0) return -1;
        if (k) lo = mid;
        else hi = mid;
    }
    return hi;
}

/* The number of distinct values kept by min_p and top_p (after top_k's nk), at precision prec;
 * -1 undecided (*what: 0 min_p, 1 top_p; *at: the value). */
static int64_t decide_at(sctx *c, int64_t nk, mpfr_prec_t prec, int *what, int64_t *at)
{
    const lp_sampling *s = c->s;
    mpfr_prec_t w = prec + 8;
    for (int64_t v = nk + 1; v > 1; v = (v + 1) / 2) w++;
    if (c->r->cap) {
        int g = ilogb(c->r->cap) - ilogb(c->r->tau) + 2;
        w += g < 1 ? 1 : g > 2200 ? 2200 : g;
    }
    c->w = w;
    mpfr_inits2(w, c->m0lo, c->m0hi, c->t, (mpfr_ptr)0);
    if (c->r->cap) lp_cap_enclose(c->m0lo, c->m0hi, c->u[0], c->r->cap);
    int64_t keep = nk;
    probe pr = {c, 0, NULL, NULL, NULL, nk, -1};
    if (s->min_p > 0 && keep > 1) {
        if (s->min_p == 1) {
            keep = 1;
        } else {
            mpfr_t lq[2];
            mpfr_inits2(w, lq[0], lq[1], (mpfr_ptr)0);
            mpfr_set_d(lq[0], s->min_p, MPFR_RNDN); /* exact */
            mpfr_log(lq[1], lq[0], MPFR_RNDU);
            mpfr_log(lq[0], lq[0], MPFR_RNDD);
            pr.kind = 0;
            pr.lq = (const mpfr_t *)lq;
            keep = search(&pr, keep);
            mpfr_clears(lq[0], lq[1], (mpfr_ptr)0);
            if (keep < 0) {
                *what = 0;
                *at = pr.undecided;
            }
        }
    }
    if (keep > 1 && s->top_p > 0 && s->top_p < 1) {
        mpfr_t *plo = malloc((size_t)(nk + 1) * sizeof *plo), *phi = malloc((size_t)(nk + 1) * sizeof *phi);
        if (!plo || !phi) {
            free(plo);
            free(phi);
            mpfr_clears(c->m0lo, c->m0hi, c->t, (mpfr_ptr)0);
            *what = 2;
            return -1;
        }
        mpfr_t lo, hi;
        mpfr_inits2(w, lo, hi, (mpfr_ptr)0);
        for (int64_t l = 0; l <= nk; l++) mpfr_inits2(w, plo[l], phi[l], (mpfr_ptr)0);
        mpfr_set_zero(plo[0], 1);
        mpfr_set_zero(phi[0], 1);
        for (int64_t l = 0; l < nk; l++) {
            w_enclose(c, lo, hi, l);
            mpfr_exp(lo, lo, MPFR_RNDD);
            mpfr_exp(hi, hi, MPFR_RNDU);
            if (c->cnt[l] > 1) {
                mpfr_mul_ui(lo, lo, (unsigned long)c->cnt[l], MPFR_RNDD);
                mpfr_mul_ui(hi, hi, (unsigned long)c->cnt[l], MPFR_RNDU);
            }
            mpfr_add(plo[l + 1], plo[l], lo, MPFR_RNDD);
            mpfr_add(phi[l + 1], phi[l], hi, MPFR_RNDU);
        }
        pr.kind = 1;
        pr.plo = (const mpfr_t *)plo;
        pr.phi = (const mpfr_t *)phi;
        int64_t kp = search(&pr, keep);
        if (kp < 0) {
            *what = 1;
            *at = pr.undecided;
        }
        keep = kp;
        for (int64_t l = 0; l <= nk; l++) mpfr_clears(plo[l], phi[l], (mpfr_ptr)0);
        mpfr_clears(lo, hi, (mpfr_ptr)0);
        free(plo);
        free(phi);
    }
    mpfr_clears(c->m0lo, c->m0hi, c->t, (mpfr_ptr)0);
    return keep;
}

/* ---- FAST: the same decisions from double enclosures (no softcap) ---- */

static double pred(double x) { return nextafter(x, -HUGE_VAL); }
static double succ(double x) { return nextafter(x, HUGE_VAL); }

/* [*elo, *ehi] encloses exp(w), w = (u - u0) / tau < 0 (FAST, W and E); 0 when outside the
 * domain (then the caller takes the MPFR route). */
static int e_double(double *elo, double *ehi, double u, double u0, double tau)
{
    const double dh = u - u0, yh = dh / tau;
    if (!isnormal(dh) || !isnormal(yh) || !(yh > -0x1p1000)) return 0;
    const double ylo = yh * (1 + 0x1p-48), yhi = yh * (1 - 0x1p-48);
    if (!(yhi < 0)) return 0;
    if (yhi < -700) {
        *elo = 0;
        *ehi = 0x1p-999;
    } else {
        const double eh = lp_fast_exp(yhi);
        *ehi = eh < 0x1p-1000 ? 0x1p-999 : eh * (1 + 0x1p-46);
        const double el = ylo < -700 ? 0 : lp_fast_exp(ylo);
        *elo = el < 0x1p-1000 ? 0 : el * (1 - 0x1p-46);
    }
    return 1;
}

/* [*slo, *shi] encloses sum_i e^{w_i} over the n values x[] (u0 their max; SUMS); 0 outside the
 * domain. */
static int sum_fast(double *slo, double *shi, const double *x, int64_t n, double u0, double tau)
{
    const double c = 4.0 * (double)(n + 1) * 0x1p-53 + 0x1p-52;
    double alo = 0, ahi = 0;
    for (int64_t i = 0; i < n; i++) {
        double elo = 1, ehi = 1;
        if (x[i] != u0 && !e_double(&elo, &ehi, x[i], u0, tau)) return 0;
        alo += elo;
        ahi += ehi;
    }
    *slo = alo * (1 - c);
    *shi = ahi * (1 + c);
    return isfinite(*shi);
}

/* The number of distinct values min_p and top_p keep among the dc candidates u[0..dc) (the
 * largest distinct values of what top_k kept, counts cnt; [slo, shi] encloses S over all of
 * it, nk values in all), from double enclosures: -1 when a comparison is left open (or outside
 * the domain), -2 when every candidate is kept and there are more values (more are needed). */
static int64_t decide_fast(const lp_row *r, const lp_sampling *s, const double *u,
                           const int64_t *cnt, int64_t dc, int more, double slo, double shi,
                           int64_t nk)
{
    int64_t keep = dc;
    if (s->min_p > 0 && keep > 1) {
        if (s->min_p == 1) {
            keep = 1;
        } else {
            mpfr_t q;
            mpfr_init2(q, 64);
            mpfr_set_d(q, s->min_p, MPFR_RNDN);
            mpfr_log(q, q, MPFR_RNDU);
            const double lqhi = mpfr_get_d(q, MPFR_RNDU);
            mpfr_set_d(q, s->min_p, MPFR_RNDN);
            mpfr_log(q, q, MPFR_RNDD);
            const double lqlo = mpfr_get_d(q, MPFR_RNDD);
            mpfr_clear(q);
            const double tlo = pred(r->tau * lqlo), thi = succ(r->tau * lqhi);
            if (!isfinite(tlo) || !isfinite(thi)) return -1;
            /* value l kept iff u_l - u_0 >= tau log q; lo kept, hi not kept */
            int64_t lo = 0, hi = keep;
            for (int64_t l = keep - 1, first = 1; hi - lo > 1; first = 0) {
                const double dh = u[l] - u[0];
                if (!isfinite(dh)) return -1;
                if (pred(dh) >= thi) {
                    if (first) break; /* the last candidate is kept: all are */
                    lo = l;
                } else if (succ(dh) < tlo) {
                    hi = l;
                } else {
                    return -1;
                }
                l = lo + (hi - lo) / 2;
            }
            keep = hi;
        }
    }
    if (keep > 1 && s->top_p > 0 && s->top_p < 1) {
        double *plo = malloc(2 * (size_t)(keep + 1) * sizeof *plo), *phi = plo ? plo + keep + 1 : NULL;
        if (!plo) return -1;
        const double c = 4.0 * (double)(nk + 1) * 0x1p-53 + 0x1p-52;
        double alo = 0, ahi = 0;
        int ok = 1;
        plo[0] = phi[0] = 0;
        for (int64_t l = 0; l < keep && ok; l++) {
            double elo = 1, ehi = 1;
            if (l > 0) ok = e_double(&elo, &ehi, u[l], u[0], r->tau);
            alo += (double)cnt[l] * elo;
            ahi += (double)cnt[l] * ehi;
            plo[l + 1] = alo * (1 - c);
            phi[l + 1] = ahi * (1 + c);
        }
        const double ps_lo = pred(s->top_p * slo), ps_hi = succ(s->top_p * shi);
        /* value j kept iff P_j < p S: decided kept when phi[j] < ps_lo, not kept when
         * plo[j] >= ps_hi; binary search as search() does */
        int64_t lo = 0, hi = keep;
        if (ok && !(phi[keep - 1] < ps_lo)) {
            if (!(plo[keep - 1] >= ps_hi)) ok = 0;
            hi = keep - 1;
            while (ok && hi - lo > 1) {
                const int64_t mid = lo + (hi - lo) / 2;
                if (phi[mid] < ps_lo) lo = mid;
                else if (plo[mid] >= ps_hi) hi = mid;
                else ok = 0;
            }
        }
        free(plo);
        if (!ok) return -1;
        keep = hi;
    }
    return keep == dc && more ? -2 : keep;
}

/* The k-th largest (1 <= k <= n) of a[0..n), reordering a (3-way partitions about pseudo-random
 * pivots: many ties cost nothing; deterministic). */
static double kth_largest(double *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n;
    uint64_t g = 0x9e3779b97f4a7c15u;
    for (;;) {
        if (hi - lo == 1) return a[lo];
        g = g * 6364136223846793005u + 1442695040888963407u;
        const double piv = a[lo + (int64_t)((g >> 33) % (uint64_t)(hi - lo))];
        int64_t gt = lo, i = lo, lt = hi;   /* [lo, gt) > piv, [gt, i) = piv, [lt, hi) < piv */
        while (i < lt) {
            const double x = a[i];
            if (x > piv) {
                a[i++] = a[gt];
                a[gt++] = x;
            } else if (x < piv) {
                a[i] = a[--lt];
                a[lt] = x;
            } else {
                i++;
            }
        }
        if (k - 1 < gt) hi = gt;             /* absolute ranks: [0, lo) are all larger */
        else if (k - 1 < lt) return piv;
        else lo = lt;
    }
}

/* Moves the values >= t of a[0..n) to the front; their number. */
static int64_t front(double *a, int64_t n, double t)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (a[i] >= t) {
            const double x = a[i];
            a[i] = a[m];
            a[m++] = x;
        }
    return m;
}

/* The distinct values of the sorted (decreasing) a[0..n) into u, their counts into cnt; their
 * number. */
static int64_t distinct(double *u, int64_t *cnt, const double *a, int64_t n)
{
    int64_t d = 0;
    for (int64_t i = 0; i < n; i++) {
        if (d > 0 && a[i] == u[d - 1]) {
            cnt[d - 1]++;
            continue;
        }
        u[d] = a[i];
        cnt[d++] = 1;
    }
    return d;
}

lp_status lp_sample_prepare(lp_row *r, const lp_sampling *s, int slow, lp_ref_stats *st,
                            lp_error *err)
{
    r->cap = s->softcap;
    r->filt = 0;
    r->thr = -HUGE_VAL;
    const int pf = s->top_p > 0 && s->top_p < 1;
    if (s->top_k <= 0 && !pf && s->min_p <= 0) return LP_OK;
    double *v = malloc(3 * (size_t)r->V * sizeof *v), *u = v ? v + r->V : NULL, *w = u ? u + r->V : NULL;
    int64_t *cnt = malloc((size_t)r->V * sizeof *cnt);
    if (!v || !cnt) {
        free(v);
        free(cnt);
        return lp_fail(err, LP_ERR_NOMEM, "sample: out of memory for a row of V=%lld",
                       (long long)r->V);
    }
    int64_t n = 0;
    double xmin = HUGE_VAL, xmax = -HUGE_VAL;
    for (int64_t i = 0; i < r->V; i++) {
        const double x = lp_load_f64(r->data, r->fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) {   /* A3 rule 1: NaN whatever is kept */
            n = 0;
            break;
        }
        if (x == -HUGE_VAL) continue;
        v[n++] = x;
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
    }
    lp_status res = LP_OK;
    double thr = -HUGE_VAL;
    if (n == 0) goto done;                 /* NaN (A3 rules 1, 2) */
    /* top_k: the k-th largest stored value (stored order is z's order); K = v[0..nk) */
    int64_t nk = n;
    if (s->top_k > 0 && s->top_k < n) {
        thr = kth_largest(v, n, s->top_k);
        nk = front(v, n, thr);
    }
    if (!pf && !(s->min_p > 0)) goto done;
    /* FAST: candidates = the values >= the m-th largest of K, m = 256, 4096, ...; decided on
     * them when the boundary falls inside (CANDIDATES in the opening comment) */
    int64_t keep = -1, d = 0;
    if (!r->cap && !slow) {
        double slo, shi;
        if (sum_fast(&slo, &shi, v, nk, xmax, r->tau)) {
            for (int64_t m = 256;; m *= 4) {
                int64_t nc = nk;
                if (m < nk) {
                    memcpy(w, v, (size_t)nk * sizeof *w);
                    nc = front(w, nk, kth_largest(w, nk, m));
                } else {
                    memcpy(w, v, (size_t)nk * sizeof *w);
                }
                qsort(w, (size_t)nc, sizeof *w, cmp_desc);
                d = distinct(u, cnt, w, nc);
                keep = decide_fast(r, s, u, cnt, d, nc < nk, slo, shi, nk);
                if (keep != -2 || nc == nk) break;
            }
            if (keep == -2) keep = -1;
        }
    }
    if (keep < 0) {
        /* MPFR: every value of K, sorted (softcap, or a comparison the doubles left open) */
        memcpy(w, v, (size_t)nk * sizeof *w);
        qsort(w, (size_t)nk, sizeof *w, cmp_desc);
        d = distinct(u, cnt, w, nk);
        sctx c;
        memset(&c, 0, sizeof c);
        c.r = r;
        c.s = s;
        c.u = u;
        c.cnt = cnt;
        c.d = d;
        keep = d;
        const mpfr_prec_t cap = lp_ziv_max_prec();
        for (mpfr_prec_t prec = 64; d > 1; prec *= 2) {
            int what = 0;
            int64_t at = 0;
            if (st && prec > st->max_prec) st->max_prec = prec;
            keep = decide_at(&c, d, prec, &what, &at);
            if (keep >= 0) break;
            if (what == 2) {
                res = lp_fail(err, LP_ERR_NOMEM, "sample: out of memory for top_p (V=%lld)",
                              (long long)r->V);
                goto done;
            }
            if (prec >= cap) {
                res = lp_fail(err, LP_ERR_INTERNAL,
                              "sample: %s %a decision at logit %a undecided at %ld bits (softcap "
                              "%g, temperature %g): please report", what ? "top_p" : "min_p",
                              what ? s->top_p : s->min_p, u[at], (long)prec, s->softcap, r->tau);
                goto done;
            }
            if (st) st->retries++;
        }
    }
    if (u[keep - 1] > thr) thr = u[keep - 1];
done:
    if (res == LP_OK && n > 0 && thr > xmin) {
        r->filt = 1;
        r->thr = thr;
    }
    free(v);
    free(cnt);
    return res;
}

/* ---- public: one processed row, and its kept set ---- */

static lp_status row_args(const char *fn, const void *row, lp_format fmt, int64_t V, double tau,
                          const lp_sampling *s, lp_error *err)
{
    if ((unsigned)fmt >= LP_NFORMATS || V < 1 || !row)
        return lp_fail(err, LP_ERR_USAGE, "%s: bad arguments (format %d, V %lld)", fn, (int)fmt,
                       (long long)V);
    if (!(tau > 0) || isinf(tau))
        return lp_fail(err, LP_ERR_USAGE, "%s: temperature %g is not positive and finite", fn, tau);
    return s ? lp_sampling_check(s, err) : LP_OK;
}

lp_status lp_ref_row_sampled(lp_value *out, const void *row, lp_format fmt, int64_t V,
                             int64_t label, double temperature, const lp_sampling *sampling,
                             lp_error *err)
{
    lp_status s = row_args("lp_ref_row_sampled", row, fmt, V, temperature, sampling, err);
    if (s != LP_OK) return s;
    if (label < 0 || label >= V)
        return lp_fail(err, LP_ERR_USAGE, "lp_ref_row_sampled: label %lld outside [0, %lld)",
                       (long long)label, (long long)V);
    if (!sampling || !lp_sampling_on(sampling))
        return lp_ref_row(out, row, fmt, V, label, temperature, err);
    lp_row r = {row, fmt, V, label, temperature, 0, 0, 0, 0, 0, 0};
    lp_mpfr_state st;
    lp_mpfr_enter(&st);
    lp_ref_stats stats = {0, 0, 0, 0, 0, 0, 0};
    lp_ref_slot sl;
    sl.prec = 0;
    lp_tok_class cls;
    lp_fast_enc enc;
    s = lp_sample_prepare(&r, sampling, 0, &stats, err);
    if (s == LP_OK)
        s = lp_ref_token(out, &cls, &enc, &sl, &r, LP_REF_ALL, lp_ref_fast_on(LP_REF_ALL, 0),
                         lp_ref_td_on(LP_REF_ALL, 0), &stats, err);
    if (sl.prec) mpfr_clears(sl.lo, sl.hi, (mpfr_ptr)0);
    lp_mpfr_release_cache();
    lp_mpfr_leave(&st);
    return s;
}

lp_status lp_ref_kept(uint8_t *kept, const void *row, lp_format fmt, int64_t V,
                      double temperature, const lp_sampling *sampling, lp_error *err)
{
    lp_status s = row_args("lp_ref_kept", row, fmt, V, temperature, sampling, err);
    if (s != LP_OK) return s;
    if (!kept) return lp_fail(err, LP_ERR_USAGE, "lp_ref_kept: kept is NULL");
    lp_row r = {row, fmt, V, 0, temperature, 0, 0, 0, 0, 0, 0};
    int special = 0;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) special = 1;
    }
    if (sampling && !special) {
        lp_mpfr_state st;
        lp_mpfr_enter(&st);
        s = lp_sample_prepare(&r, sampling, 0, NULL, err);
        lp_mpfr_release_cache();
        lp_mpfr_leave(&st);
        if (s != LP_OK) return s;
    }
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        kept[i] = (uint8_t)(!special && x != -HUGE_VAL && (!r.filt || x >= r.thr));
    }
    return LP_OK;
}
