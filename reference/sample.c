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

lp_status lp_sample_prepare(lp_row *r, const lp_sampling *s, lp_ref_stats *st, lp_error *err)
{
    r->cap = s->softcap;
    r->filt = 0;
    r->thr = -HUGE_VAL;
    const int pf = s->top_p > 0 && s->top_p < 1;
    if (s->top_k <= 0 && !pf && s->min_p <= 0) return LP_OK;
    double *v = malloc((size_t)r->V * sizeof *v);
    int64_t *cnt = malloc((size_t)r->V * sizeof *cnt);
    if (!v || !cnt) {
        free(v);
        free(cnt);
        return lp_fail(err, LP_ERR_NOMEM, "sample: out of memory for a row of V=%lld",
                       (long long)r->V);
    }
    int64_t n = 0;
    for (int64_t i = 0; i < r->V; i++) {
        const double x = lp_load_f64(r->data, r->fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) {   /* A3 rule 1: NaN whatever is kept */
            n = 0;
            break;
        }
        if (x != -HUGE_VAL) v[n++] = x;
    }
    lp_status res = LP_OK;
    if (n == 0) goto done;                 /* NaN (A3 rules 1, 2) */
    qsort(v, (size_t)n, sizeof *v, cmp_desc);
    /* top_k: the k-th largest stored value (stored order is z's order) */
    double thr_k = -HUGE_VAL;
    if (s->top_k > 0 && s->top_k < n) thr_k = v[s->top_k - 1];
    /* distinct values with counts (in place) */
    int64_t d = 0, nk = 0;
    for (int64_t i = 0; i < n; i++) {
        if (d > 0 && v[i] == v[d - 1]) {
            cnt[d - 1]++;
            continue;
        }
        v[d] = v[i];
        cnt[d++] = 1;
    }
    while (nk < d && v[nk] >= thr_k) nk++;
    sctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.s = s;
    c.u = v;
    c.cnt = cnt;
    c.d = d;
    int64_t keep = nk;
    if ((pf || (s->min_p > 0)) && nk > 1) {
        const mpfr_prec_t cap = lp_ziv_max_prec();
        for (mpfr_prec_t prec = 64;; prec *= 2) {
            int what = 0;
            int64_t at = 0;
            if (st && prec > st->max_prec) st->max_prec = prec;
            keep = decide_at(&c, nk, prec, &what, &at);
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
                              what ? s->top_p : s->min_p, v[at], (long)prec, s->softcap, r->tau);
                goto done;
            }
            if (st) st->retries++;
        }
    }
    if (keep < d) {
        r->filt = 1;
        r->thr = v[keep - 1];
    }
done:
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
    s = lp_sample_prepare(&r, sampling, &stats, err);
    if (s == LP_OK)
        s = lp_ref_token(out, &cls, &enc, &sl, &r, LP_REF_ALL, lp_ref_fast_on(LP_REF_ALL, 0),
                         lp_ref_td_on(LP_REF_ALL, 0), &stats, err);
    if (sl.prec) mpfr_clears(sl.lo, sl.hi, (mpfr_ptr)0);
    mpfr_free_cache();
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
        s = lp_sample_prepare(&r, sampling, NULL, err);
        mpfr_free_cache();
        lp_mpfr_leave(&st);
        if (s != LP_OK) return s;
    }
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        kept[i] = (uint8_t)(!special && x != -HUGE_VAL && (!r.filt || x >= r.thr));
    }
    return LP_OK;
}
