/* check/judge.c: judging candidate values from the fast reference's enclosures, with every printed
 * figure and verdict exactly what the all-MPFR route gives (the measure of SPEC A4 computed by
 * lp_ulp_error from the MPFR double-double).
 *
 * CONTRACT  For the values of one case, ck_jcase_settle leaves in each value either the exact
 *           measure (mex, bex: the bits lp_ulp_error returns on the all-MPFR route's dd) or, in m
 *           and bm, the low ends of intervals that hold it; and it refines (RULES) until every
 *           quantity eval.c accumulates (ck_run_case, compare_value) comes out the same whether it
 *           is fed the exact measures or these: max ulp, max abs, the worst values, every bound
 *           verdict, the baseline figures, the median, the diagnoses' "wrong" test. ck_jcase_patch
 *           then gives the worst values their exact double-double (it is printed). So the text,
 *           JSON and certificate are byte for byte those of --slow, but for the "judge" counts.
 *
 * PHASE 1   Per value: the class from (y, ref_f) alone (ref_f: the correctly rounded reference in
 *           y's format, exact from any tier): NaN or infinity on either side gives SAME_SPECIAL or
 *           MISMATCH with zero errors, as lp_ulp_error does before it reads the dd. Special
 *           reference values (NaN, -inf, exactly 0) and the overrides of --masking / --empty-mean
 *           have an exact dd (hi = the value, lo = 0 or NaN: lp_value_special): measured exactly.
 *           Otherwise the reference's enclosure x in [xl, xh] (doubles, outward) gives, by LOOSE
 *           below, intervals for err_abs and err_ulp; and by GEXACT, where it is narrow enough, the
 *           exact measure.
 * LOOSE     The all-MPFR dd satisfies |hi + lo - x| <= 2^-104 |x| + 2^-1074 (lpcert.h), so its
 *           value lies in [xl - delta, xh + delta], delta = 2^-104 max(|xl|, |xh|) + 2^-1074.
 *           lp_ulp_error's d = RN(s + RN(t - lo)) satisfies |d - D| <= 2^-52 |D| + 2^-1072, D = y -
 *           (hi + lo) (core/ulp.c, ERROR (2): relative u(1 + 4u)/(1 - u - 4u^2) < 2^-52.9, and two
 *           roundings of at most 2^-1075 each where results are subnormal); the branch (4) is never
 *           taken because |y|, |xl|, |xh| <= 2^1000 is required (else the value is refined). So
 *           err_abs = |d| lies in [Amin (1 - 2^-51) - 2^-1071, Amax (1 + 2^-51) + 2^-1071], Amin,
 *           Amax the least and largest |D| over the range. err_ulp = RN(err_abs / ulp) with
 *           ulp = 2^(max(k, emin) - p + 1), k the exponent lp_ulp_of reads from the pair: k lies
 *           between floor(log2) of the least and of the largest |value| of the range (lp_ulp_of
 *           returns floor(log2 |hi + lo|), or one less where hi + lo is exactly the power of two
 *           above |x|: still >= floor(log2) of the least |value|). Every double operation here is
 *           widened by UP/DN (one rounding: |RN(z) - z| <= ulp/2; UP adds |r| 2^-52 >= ulp(r) and
 *           2^-1074, and RN is monotone), so the intervals are outward.
 * GEXACT    The dd of x is hi = RN(x) and lo = RN(m - hi) with m = x (canonical: ziv.c, lp_decide);
 *           the argument holds for any m within 2^-107 |x| + 2^-1076 of x. With the enclosure
 *           p + [clo, chi] widened by w >= 2^-105 (|p| + max |c|) + 2^-1073 to [m1, m2] (ends as
 *           exact double pairs (H1, L1), (H2, L2) by TwoSum; H = RN of the end): if H1 = H2 then
 *           hi = H for every m in [m1, m2], lo lies in [L1, L2] (RN monotone, L exact), and the
 *           measure is a monotone function of lo: s, t depend on (y, hi) only, d = RN(s + RN(t -
 *           lo)) is non-increasing in lo, and lp_ulp_of's k changes with lo only through the
 *           sign test of a half-line. So equal measures and equal signed d at both ends (and equal
 *           ulps) mean that measure is the exact one, for any x in the enclosure.
 * RULES     (values of one output group; lows m / highs uhi; "refine" marks a value; a marked
 *           token goes to tier 2 (GEXACT on its enclosure, LOOSE tightened) the first time, to the
 *           exact route (lp_ref_exact_token: tier 3, then MPFR) the second; a sequence's sum and
 *           mean to the exact route of that sequence (lp_ref_exact_seq). Repeated until no value
 *           is marked; each rule only ever marks fewer values once intervals shrink, and an exact
 *           value is never marked, so it ends.)
 *           (a) bounds: a NUMBER value whose verdict under --max-ulp / --max-abs is not decided by
 *               its intervals (pass: uhi <= K or ahi <= E; fail: ulo > K and alo > E, each where
 *               given).
 *           (b) max ulp: L = max(group's max so far, every NUMBER value's ulo): values with
 *               uhi >= L. (c) max abs: the same with err_abs.
 *           (d) worst: R = the highest rank (mismatch 2, over a bound 1, else 0: exact once (a)
 *               holds) of the group's worst so far and these values; for R < 2, the rank-R values
 *               with uhi >= max(the worst so far's err_ulp when of rank R, their ulo's).
 *           (e) baseline: among values whose baseline is not a class mismatch, the baseline's
 *               max ulp as (b) on bm; the candidate's (non-mismatch values) as (b) among the
 *               values the relative bound covers (ck_rel_covers: those, and under the default
 *               bound every value with a baseline); the bound verdict follows from the two exact
 *               maxima.
 *           (f) median: with one case per run (r->one_case), for each middle order statistic k of
 *               the group's values (exact ones so far and these), Lk = the k-th least low end and
 *               Hk = the k-th least high end: values whose interval meets [Lk, Hk]. Then the
 *               statistic is a refined value, and the values left outside lie wholly below Lk or
 *               above Hk in both their substitute and exact measure: the k-th element is the same.
 *               With several cases per run the statistic is not known before the last case, so
 *               every NUMBER value of the group is refined to its exact measure.
 *           (g) diagnoses: a value whose ck_is_wrong is not decided by its intervals.
 *           With (a)-(g) met, the substitutes (the low ends) give eval.c's accumulation the same
 *           results: a value not refined under (b) has uhi < L <= the exact max, so neither it nor
 *           its substitute is the max; under (d) the worst is the first value attaining the max
 *           of its rank, exact, and every other value's substitute lies strictly below; the bound
 *           verdict of a substitute equals the decided one (ulo <= uhi <= K; ulo > K).
 * COST      Tier 1 for every token (the reference), tier 2 for the few tokens the rules mark,
 *           MPFR for the worst values (their dd is printed) and the rare tier-2 misses.
 */
#include <math.h>

#include "lp_buf.h"
#include "lp_check_internal.h"
#include "lp_dd.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_judge.h"

/* Outward widenings of a double result r of one rounding (LOOSE). */
static double up(double r) { return (r + fabs(r) * 0x1p-52) + 0x1p-1074; }
static double dn(double r) { return (r - fabs(r) * 0x1p-52) - 0x1p-1074; }

static int is_special_y(double v) { return isnan(v) || isinf(v); }

/* Intervals of the measure of y against any reference dd for x in [xl, xh] (LOOSE); 0 when out of
 * the domain (then the value is refined). m gets the low ends. */
static int loose(double y, double xl, double xh, lp_format F, lp_err_measure *m, double *uhi,
                 double *ahi)
{
    const double big = 0x1p1000;
    if (!(fabs(y) <= big && fabs(xl) <= big && fabs(xh) <= big && xl <= xh)) return 0;
    const double delta = up(fmax(fabs(xl), fabs(xh)) * 0x1p-104) + 0x1p-1074;
    const double dlo = dn(dn(y - xh) - delta), dhi = up(up(y - xl) + delta);
    const double amin = dlo > 0 ? dlo : dhi < 0 ? -dhi : 0, amax = fmax(fabs(dlo), fabs(dhi));
    double alo = dn(amin * (1 - 0x1p-51)) - 0x1p-1071;
    if (!(alo > 0)) alo = 0;
    const double ah = up(amax * (1 + 0x1p-51)) + 0x1p-1071;
    /* |value| range of the pair */
    const double vlo = dn(xl - delta), vhi = up(xh + delta);
    double mmin, mmax;
    if (vhi < 0) {
        mmin = -vhi;
        mmax = -vlo;
    } else if (vlo > 0) {
        mmin = vlo;
        mmax = vhi;
    } else {
        mmin = 0;
        mmax = fmax(-vlo, vhi);
    }
    const lp_format_info *fi = lp_format_get(F);
    int kmin = mmin > 0 ? ilogb(mmin) : fi->emin, kmax = ilogb(mmax);
    if (mmax == 0) kmax = fi->emin;
    if (kmin < fi->emin) kmin = fi->emin;
    if (kmax < fi->emin) kmax = fi->emin;
    const double ulpmin = ldexp(1, kmin - fi->prec + 1), ulpmax = ldexp(1, kmax - fi->prec + 1);
    double ulo = dn(alo / ulpmax);
    if (!(ulo > 0)) ulo = 0;
    const double uh = up(ah / ulpmin);
    if (!isfinite(uh) || !isfinite(ah)) return 0;
    m->cls = LP_CMP_NUMBER;
    m->err_ulp = ulo;
    m->err_abs = alo;
    *uhi = uh;
    *ahi = ah;
    return 1;
}

/* y - (hi + lo) as core/ulp.c's diff_dd computes it, signed; 0 in *ok when not finite. */
static double diff_signed(double y, double hi, double lo, int *ok)
{
    double s, t;
    lp_two_sum(y, -hi, &s, &t);
    *ok = isfinite(s) && isfinite(t);
    return s + (t - lo);
}

static int same_meas(const lp_err_measure *a, const lp_err_measure *b)
{
    return a->cls == b->cls && lp_bits_f64(a->err_ulp) == lp_bits_f64(b->err_ulp) &&
           lp_bits_f64(a->err_abs) == lp_bits_f64(b->err_abs);
}

/* GEXACT: the exact measure of y when the enclosure p + [clo, chi] settles it. */
static int gexact(double y, double p, double clo, double chi, double ref_f, lp_format F,
                  lp_err_measure *out)
{
    if (!isfinite(p) || !isfinite(clo) || !isfinite(chi) || fabs(p) > 0x1p1000 ||
        fabs(y) > 0x1p1000)
        return 0;
    const double w = up((fabs(p) + fmax(fabs(clo), fabs(chi))) * 0x1p-105) + 0x1p-1073;
    double h1, l1, h2, l2, H1, L1, H2, L2;
    lp_two_sum(p, clo, &h1, &l1);
    lp_two_sum(p, chi, &h2, &l2);
    const double a = nextafter(l1 - w, -HUGE_VAL), b = nextafter(l2 + w, HUGE_VAL);
    lp_two_sum(h1, a, &H1, &L1);
    lp_two_sum(h2, b, &H2, &L2);
    if (lp_bits_f64(H1) != lp_bits_f64(H2) || !isfinite(H1) || !isfinite(L1) || !isfinite(L2))
        return 0;
    const lp_dd d1 = {H1, L1}, d2 = {H2, L2};
    if (lp_bits_f64(lp_ulp_of(d1, F)) != lp_bits_f64(lp_ulp_of(d2, F))) return 0;
    const lp_err_measure m1 = lp_ulp_error(y, d1, ref_f, F), m2 = lp_ulp_error(y, d2, ref_f, F);
    if (!same_meas(&m1, &m2)) return 0;
    int ok1, ok2;
    const double s1 = diff_signed(y, H1, L1, &ok1), s2 = diff_signed(y, H2, L2, &ok2);
    if (!ok1 || !ok2 || lp_bits_f64(s1) != lp_bits_f64(s2)) return 0;
    *out = m1;
    return 1;
}

lp_status ck_jcase_add(ck_jcase *c, int out, int64_t b, int64_t ts, int64_t i, const lp_value *want,
                       int exact, double y, lp_format F, int has_base, double bv, int diag_only,
                       lp_error *err)
{
    if (!LP_VEC_RESERVE(c->v, c->cap, (size_t)c->n + 1, 256))
        return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
    ck_jval *v = &c->v[c->n++];
    memset(v, 0, sizeof *v);
    v->out = out;
    v->b = b;
    v->ts = ts;
    v->i = i;
    v->want = *want;
    v->exact = exact;
    v->y = y;
    v->F = F;
    v->has_base = has_base;
    v->bv = bv;
    v->diag_only = diag_only;
    v->ref_f = lp_value_wide(want, F);
    v->wrong = -1;
    v->p = (double)NAN;
    if (exact && isnan(want->dd.hi)) {
        /* a special value (NaN, -inf, exactly 0), the same in every format: its dd */
        v->want.dd.hi = v->ref_f;
        v->want.dd.lo = isnan(v->ref_f) ? v->ref_f : 0.0;
    }
    return LP_OK;
}

void ck_jcase_free(ck_jcase *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

static void measure_exact(ck_jval *v)
{
    v->m = lp_ulp_error(v->y, v->want.dd, v->ref_f, v->F);
    v->uhi = v->m.err_ulp;
    v->ahi = v->m.err_abs;
    v->mex = 1;
    if (v->has_base) {
        v->bm = lp_ulp_error(v->bv, v->want.dd, v->ref_f, v->F);
        v->buhi = v->bm.err_ulp;
    }
    v->bex = 1;
}

/* One side (candidate or baseline) from the current enclosure: exact where the class or GEXACT
 * settles it, else LOOSE intervals (tightened against the old ones); 0 when neither applies. */
static int side(double y, const ck_jval *v, lp_err_measure *m, double *uhi, double *ahi, int *ex,
                int first)
{
    if (is_special_y(y) || is_special_y(v->ref_f)) {
        const lp_dd z = {0, 0};
        *m = lp_ulp_error(y, z, v->ref_f, v->F);   /* the class alone; the dd is not read */
        *uhi = m->err_ulp;
        *ahi = m->err_abs;
        *ex = 1;
        return 1;
    }
    if (gexact(y, v->p, v->clo, v->chi, v->ref_f, v->F, m)) {
        *uhi = m->err_ulp;
        *ahi = m->err_abs;
        *ex = 1;
        return 1;
    }
    lp_err_measure n;
    double nu, na;
    if (!loose(y, v->xl, v->xh, v->F, &n, &nu, &na)) return 0;
    if (!first) {   /* both intervals hold the measure: keep their intersection */
        n.err_ulp = fmax(n.err_ulp, m->err_ulp);
        n.err_abs = fmax(n.err_abs, m->err_abs);
        nu = fmin(nu, *uhi);
        na = fmin(na, *ahi);
    }
    *m = n;
    *uhi = nu;
    *ahi = na;
    *ex = 0;
    return 1;
}

/* Sets both sides of v from its enclosure; 0 when one of them must be refined at once. */
static int from_enclosure(ck_jval *v, int first)
{
    double bah = 0;
    int ok = side(v->y, v, &v->m, &v->uhi, &v->ahi, &v->mex, first);
    if (v->has_base)
        ok = ok && side(v->bv, v, &v->bm, &v->buhi, &bah, &v->bex, first);
    else
        v->bex = 1;
    return ok;
}

static void set_enclosure(ck_jval *v, double p, double clo, double chi)
{
    v->p = p;
    v->clo = clo;
    v->chi = chi;
    v->xl = nextafter(p + clo, -HUGE_VAL);
    v->xh = nextafter(p + chi, HUGE_VAL);
}

/* The all-MPFR value of v (and of its sequence's other values); level 2. */
static lp_status refine_exact(ck_run *r, ck_jcase *c, int64_t j, lp_error *err)
{
    ck_jval *v = &c->v[j];
    if (v->level == 2) return LP_OK;
    if (v->out == CK_TOKEN) {
        lp_value x;
        lp_status s = lp_ref_exact_token(&x, c->pb, v->b, v->ts, err);
        if (s != LP_OK) return s;
        LP_ASSERT(lp_bits_f64(lp_value_wide(&x, v->F)) == lp_bits_f64(v->ref_f));
        v->want = x;
        v->level = 2;
        measure_exact(v);
        r->js.mpfr_tokens++;
        return LP_OK;
    }
    lp_value sum, mean;
    lp_status s = lp_ref_exact_seq(&sum, &mean, c->pb, v->b, err);
    if (s != LP_OK) return s;
    r->js.mpfr_seqs++;
    for (int64_t k = 0; k < c->n; k++) {
        ck_jval *u = &c->v[k];
        if (u->out == CK_TOKEN || u->b != v->b || u->exact || u->level == 2) continue;
        const lp_value *x = u->out == CK_SUM ? &sum : &mean;
        LP_ASSERT(lp_bits_f64(lp_value_wide(x, u->F)) == lp_bits_f64(u->ref_f));
        u->want = *x;
        u->level = 2;
        measure_exact(u);
    }
    return LP_OK;
}

/* One refinement step of a marked value: tier 2 first for a token, else the all-MPFR route. */
static lp_status refine(ck_run *r, ck_jcase *c, int64_t j, lp_error *err)
{
    ck_jval *v = &c->v[j];
    if (v->out == CK_TOKEN && v->level == 0) {
        v->level = 1;
        lp_fast_enc e;
        if (lp_ref_tier2_token(&e, c->pb, v->b, v->ts) && isfinite(e.p)) {
            r->js.tier2++;
            const double op = v->p, oc = v->clo, oh = v->chi, oxl = v->xl, oxh = v->xh;
            set_enclosure(v, e.p, e.clo, e.chi);
            if (from_enclosure(v, 0)) return LP_OK;
            set_enclosure(v, op, oc, oh);
            v->xl = oxl;
            v->xh = oxh;
        }
    }
    return refine_exact(r, c, j, err);
}

typedef struct span { double lo, hi; int64_t j; } span;

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Rule (a) for NUMBER value v: 1 pass, 0 fail, -1 undecided. */
static int bound_verdict(const ck_options *o, const ck_jval *v)
{
    const double K = o->max_ulp[v->out], E = o->max_abs[v->out];
    if (K < 0 && E < 0) return 1;
    if ((K >= 0 && v->uhi <= K) || (E >= 0 && v->ahi <= E)) return 1;
    if ((K < 0 || v->m.err_ulp > K) && (E < 0 || v->m.err_abs > E)) return 0;
    return -1;
}

static ck_group *find_group(ck_run *r, const char *cls, int out)
{
    for (size_t i = 0; i < r->ng; i++)
        if (r->g[i].out == out && strcmp(r->g[i].cls, cls) == 0) return &r->g[i];
    return NULL;
}

/* Marks the values of output out that RULES want refined; returns how many. */
static int64_t mark_out(ck_run *r, ck_jcase *c, const ck_group *g, int out, double *buf)
{
    const ck_options *o = &r->opt;
    int64_t nm = 0;
#define MARK(v) do { if (!(v)->mark) { (v)->mark = 1; nm++; } } while (0)
    double Lu = g ? g->max_ulp : 0, La = g ? g->max_abs : 0, Lb = g ? g->rel_base_max : 0;
    double Lc = g ? g->rel_cand_max : 0;
    int R = g ? ck_repro_rank(&g->worst, o) : -1, undecided = 0;
    for (int64_t j = 0; j < c->n; j++) {
        ck_jval *v = &c->v[j];
        if (v->out != out || v->diag_only) continue;
        int rk = 0;
        if (v->m.cls == LP_CMP_MISMATCH) {
            rk = 2;
        } else if (v->m.cls == LP_CMP_NUMBER) {
            Lu = fmax(Lu, v->m.err_ulp);
            La = fmax(La, v->m.err_abs);
            const int bv = bound_verdict(o, v);
            if (bv < 0) {
                if (!v->mex) MARK(v);
                undecided = 1;
            }
            rk = bv == 0 ? 1 : 0;
        }
        if (rk > R) R = rk;
        if (v->has_base && v->bm.cls != LP_CMP_MISMATCH) Lb = fmax(Lb, v->bm.err_ulp);
        if (v->has_base && ck_rel_covers(o, &v->bm) && v->m.cls != LP_CMP_MISMATCH)
            Lc = fmax(Lc, v->m.err_ulp);
    }
    /* (d) the level of the worst among rank R */
    double Lw = g && ck_repro_rank(&g->worst, o) == R && R < 2 ? g->worst.m.err_ulp : -HUGE_VAL;
    if (!undecided && R < 2)
        for (int64_t j = 0; j < c->n; j++) {
            ck_jval *v = &c->v[j];
            if (v->out != out || v->diag_only || v->m.cls == LP_CMP_MISMATCH) continue;
            const int rk = v->m.cls == LP_CMP_NUMBER && bound_verdict(o, v) == 0 ? 1 : 0;
            if (rk == R) Lw = fmax(Lw, v->m.err_ulp);
        }
    for (int64_t j = 0; j < c->n; j++) {
        ck_jval *v = &c->v[j];
        if (v->out != out) continue;
        if ((out == CK_TOKEN || out == CK_SUM) && v->wrong < 0) {   /* (g) */
            if (v->m.cls == LP_CMP_MISMATCH) {
                v->wrong = !isnan(v->y);
            } else if (isnan(v->y) || v->m.cls != LP_CMP_NUMBER) {
                v->wrong = 0;
            } else {
                /* |x_hi| = |RN(x)| lies in [xa, xb] (xl, xh are doubles; RN is monotone) */
                const double xa = v->xl <= 0 && v->xh >= 0 ? 0 : fmin(fabs(v->xl), fabs(v->xh));
                const double xb = fmax(fabs(v->xl), fabs(v->xh));
                const int exact = v->mex && (v->level == 2 || v->exact);
                if (exact) {
                    v->wrong = ck_is_wrong(v->y, &v->m, v->want.dd.hi);
                } else if (v->m.err_ulp > 64 && v->m.err_abs > 0x1p-10 * fmax(1, xb)) {
                    v->wrong = 1;
                } else if (v->uhi <= 64 || v->ahi <= 0x1p-10 * fmax(1, xa)) {
                    v->wrong = 0;
                } else {
                    MARK(v);
                }
            }
        }
        if (v->diag_only) continue;
        if (!v->mex && v->m.cls == LP_CMP_NUMBER) {
            if (v->uhi >= Lu || v->ahi >= La) MARK(v);                         /* (b), (c) */
            if (!undecided && R < 2) {                                          /* (d) */
                const int rk = bound_verdict(o, v) == 0 ? 1 : 0;
                if (rk == R && v->uhi >= Lw) MARK(v);
            }
            if (!r->one_case) MARK(v);                                          /* (f), several */
        }
        if (v->has_base && v->bm.cls != LP_CMP_MISMATCH && !v->bex && v->buhi >= Lb)  /* (e) */
            MARK(v);
        if (v->has_base && ck_rel_covers(o, &v->bm) && !v->mex && v->m.cls != LP_CMP_MISMATCH &&
            v->uhi >= Lc)
            MARK(v);
    }
    /* (f) the median, one case per run */
    if (r->one_case) {
        int64_t n = 0;
        const size_t ng = g ? g->nulps : 0;
        for (size_t k = 0; k < ng; k++) {
            buf[n] = g->ulps[k];
            buf[c->n + ng + n++] = g->ulps[k];
        }
        for (int64_t j = 0; j < c->n; j++) {
            const ck_jval *v = &c->v[j];
            if (v->out != out || v->diag_only || v->m.cls == LP_CMP_MISMATCH) continue;
            buf[n] = v->m.err_ulp;
            buf[c->n + ng + n++] = v->uhi;
        }
        if (n > 0) {
            double *lo = buf, *hi = buf + c->n + ng;
            qsort(lo, (size_t)n, sizeof *lo, cmp_d);
            qsort(hi, (size_t)n, sizeof *hi, cmp_d);
            const int64_t ks[2] = {n % 2 ? n / 2 : n / 2 - 1, n / 2};
            for (int q = 0; q < 2; q++) {
                const double Lk = lo[ks[q]], Hk = hi[ks[q]];
                for (int64_t j = 0; j < c->n; j++) {
                    ck_jval *v = &c->v[j];
                    if (v->out != out || v->diag_only || v->m.cls == LP_CMP_MISMATCH || v->mex)
                        continue;
                    if (v->m.err_ulp <= Hk && v->uhi >= Lk) MARK(v);
                }
            }
        }
    }
#undef MARK
    return nm;
}

lp_status ck_jcase_settle(ck_run *r, ck_jcase *c, lp_error *err)
{
    r->js.used = 1;
    lp_status s = LP_OK;
    /* phase 1 */
    for (int64_t j = 0; j < c->n && s == LP_OK; j++) {
        ck_jval *v = &c->v[j];
        if (!v->diag_only) r->js.values++;
        if (v->exact) {
            v->level = 2;
            measure_exact(v);
            continue;
        }
        if (v->level == 2) continue;   /* settled with an earlier value of its sequence */
        const double *t = v->out == CK_TOKEN ? &c->enc->tok[3 * v->i] : &c->enc->seq[3 * v->b];
        if (v->out == CK_MEAN) {
            const double slo = nextafter(t[0] + t[1], -HUGE_VAL), shi = nextafter(t[0] + t[2], HUGE_VAL);
            double qlo, qhi;
            lp_fast_div(&qlo, &qhi, slo, shi, c->ref->count[v->b]);
            v->p = (double)NAN;
            v->xl = qlo;
            v->xh = qhi;
        } else {
            set_enclosure(v, t[0], t[1], t[2]);
        }
        if (!from_enclosure(v, 1)) s = refine_exact(r, c, j, err);
    }
    /* phase 2: the groups' rules until nothing is marked */
    double *buf = NULL;
    for (int iter = 0; s == LP_OK; iter++) {
        int64_t nm = 0;
        for (int out = 0; out < CK_NOUT; out++) {
            int any = 0;
            for (int64_t j = 0; j < c->n && !any; j++) any = c->v[j].out == out;
            if (!any) continue;
            const ck_group *g = find_group(r, c->cls, out);
            const size_t need = 2 * ((size_t)c->n + (g ? g->nulps : 0)) + 1;
            double *nb = realloc(buf, need * sizeof *buf);
            if (!nb) {
                s = lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
                break;
            }
            buf = nb;
            nm += mark_out(r, c, g, out, buf);
        }
        if (s != LP_OK || nm == 0) break;
        /* each pass refines a marked value a level (0, 1, 2) or finds them all exact */
        LP_ASSERT(iter <= 3 * c->n + 4);
        for (int64_t j = 0; j < c->n && s == LP_OK; j++)
            if (c->v[j].mark) {
                c->v[j].mark = 0;
                if (!c->v[j].mex || !c->v[j].bex || c->v[j].wrong < 0) s = refine(r, c, j, err);
            }
    }
    free(buf);
    for (int64_t j = 0; j < c->n; j++)
        if (!c->v[j].diag_only && c->v[j].level == 0 && !c->v[j].exact) r->js.enclosure++;
    return s;
}

int ck_judge_verify = 0;

/* ck_judge_verify: every value's intervals (or exact measure) against the all-MPFR measure. */
static void verify(const ck_jcase *c)
{
    for (int64_t j = 0; j < c->n; j++) {
        const ck_jval *v = &c->v[j];
        lp_value x = v->want;
        lp_error e = {LP_OK, ""};
        if (v->level != 2) {
            lp_value sum, mean;
            lp_status s = v->out == CK_TOKEN ? lp_ref_exact_token(&x, c->pb, v->b, v->ts, &e)
                                             : lp_ref_exact_seq(&sum, &mean, c->pb, v->b, &e);
            LP_ASSERT(s == LP_OK);
            if (v->out == CK_SUM) x = sum;
            if (v->out == CK_MEAN) x = mean;
        }
        const lp_err_measure m = lp_ulp_error(v->y, x.dd, v->ref_f, v->F);
        LP_ASSERT(m.cls == v->m.cls);
        if (v->mex) LP_ASSERT(same_meas(&m, &v->m));
        else LP_ASSERT(v->m.err_ulp <= m.err_ulp && m.err_ulp <= v->uhi &&
                       v->m.err_abs <= m.err_abs && m.err_abs <= v->ahi);
        if (v->has_base) {
            const lp_err_measure bm = lp_ulp_error(v->bv, x.dd, v->ref_f, v->F);
            LP_ASSERT(bm.cls == v->bm.cls);
            if (v->bex) LP_ASSERT(same_meas(&bm, &v->bm));
            else LP_ASSERT(v->bm.err_ulp <= bm.err_ulp && bm.err_ulp <= v->buhi);
        }
        if (v->wrong >= 0) LP_ASSERT(v->wrong == ck_is_wrong(v->y, &m, x.dd.hi));
    }
}

/* With several cases per run (not one_case) every measure is exact (RULES (f)): the worst and the
 * baseline-relative worst of each output among this case's own values (eval.c's rules from an
 * empty group) get their MPFR value whether or not they become the run's. The run's worst values
 * that point into c are among them, and the MPFR count no longer depends on the cases judged
 * before c: a sharded run (check/shard.c) counts what the unsharded one counts. */
static lp_status patch_local(ck_run *r, ck_jcase *c, lp_error *err)
{
    lp_status s = LP_OK;
    for (int out = 0; out < CK_NOUT && s == LP_OK; out++) {
        int64_t w = -1, rw = -1;
        int wr = -1;
        double wu = 0, rmax = 0;
        for (int64_t j = 0; j < c->n; j++) {
            const ck_jval *v = &c->v[j];
            if (v->out != out || v->diag_only) continue;
            const int rk = v->m.cls == LP_CMP_MISMATCH ? 2
                           : v->m.cls == LP_CMP_NUMBER && !ck_within_bounds(&r->opt, out, &v->m);
            if (rk > wr || (rk == wr && rk < 2 && v->m.err_ulp > wu)) {
                w = j;
                wr = rk;
                wu = v->m.err_ulp;
            }
            if (v->has_base && ck_rel_covers(&r->opt, &v->bm) && v->m.cls != LP_CMP_MISMATCH &&
                v->m.err_ulp >= rmax) {
                if (rw < 0 || v->m.err_ulp > rmax) rw = j;
                rmax = v->m.err_ulp;
            }
        }
        if (w >= 0) s = refine_exact(r, c, w, err);
        if (s == LP_OK && rw >= 0) s = refine_exact(r, c, rw, err);
    }
    return s;
}

lp_status ck_jcase_patch(ck_run *r, ck_jcase *c, lp_error *err)
{
    if (ck_judge_verify) verify(c);
    lp_status s = r->one_case ? LP_OK : patch_local(r, c, err);
    for (size_t i = 0; i < r->ng && s == LP_OK; i++) {
        ck_repro *w[2] = {&r->g[i].worst, &r->g[i].rel_worst};
        for (int k = 0; k < 2 && s == LP_OK; k++) {
            if (!w[k]->set || w[k]->jref < 0) continue;
            const int64_t j = w[k]->jref;
            LP_ASSERT(j < c->n);
            s = refine_exact(r, c, j, err);
            if (s != LP_OK) break;
            const ck_jval *v = &c->v[j];
            LP_ASSERT(same_meas(&w[k]->m, &v->m));
            w[k]->dd = v->want.dd;
            w[k]->jref = -1;
        }
    }
    return s;
}

/* ---- the reference ---- */

lp_status ck_ref_compute(lp_ref_result *ref, lp_ref_enc *enc, const ck_run *r, const lp_problem *pb,
                         const ck_outputs *cand, lp_error *err)
{
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = r->opt.threads;
    memset(enc, 0, sizeof *enc);
    unsigned fm = 0;
    for (int k = 0; k < CK_NOUT; k++)
        if (cand->a[k].present) fm |= 1u << cand->a[k].fmt;
    /* With several cases per run every NUMBER value is settled exactly (RULES (f)): tier 2 for
     * each token, MPFR for each sum and mean, and MPFR for each f64 token (tier 2 is too wide for
     * an f64 figure). That pays only on long rows without sums, means or f64 outputs; other cases
     * take the all-MPFR route, whose output is the same. */
    const double logits = (double)pb->shape.B * (double)pb->shape.T * (double)pb->shape.V;
    const int multi_slow = !r->one_case && ((fm & (1u << LP_F64)) || cand->a[CK_SUM].present ||
                                            cand->a[CK_MEAN].present || logits < 0x1p22);
    if (r->opt.slow || multi_slow) return lp_ref_compute_opts(ref, pb, &o, err);
    o.formats = fm ? fm : 1u << LP_F32;
    return lp_ref_compute_enc(ref, enc, pb, &o, err);
}

void ck_ref_free(lp_ref_result *ref, lp_ref_enc *enc)
{
    lp_ref_result_free(ref);
    lp_ref_enc_free(enc);
}

lp_status ck_judge_single(ck_run *r, const char *name, const char *cls, const lp_problem *pb,
                          const ck_outputs *cand, unsigned fm[CK_NOUT], lp_error *err)
{
    lp_ref_result ref;
    lp_ref_enc enc;
    memset(&ref, 0, sizeof ref);
    memset(&enc, 0, sizeof enc);
    r->one_case = 1;
    lp_status s = ck_ref_compute(&ref, &enc, r, pb, cand, err);
    r->renc = enc.tok ? &enc : NULL;
    if (s == LP_OK) s = ck_judge(r, name, cls, pb, &ref, cand, fm, err);
    r->renc = NULL;
    ck_ref_free(&ref, &enc);
    return s;
}
