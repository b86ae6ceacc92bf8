/* impl/promise.c: what a kernel's contract allows for each output, and the judge.
 * A row's SPEC A3 class, read by the kernel's declared conventions, decides the special outcomes;
 * a finite row gets the family bound (impl/<family>.c) evaluated on the row's features; sums and
 * means combine the token promises with the reduction bounds of reduce.c. The features are upper
 * bounds computed in double from the row and the reference's double-double (|hi + lo - x| <=
 * 2^-104 |x|): each is widened by 2^-50 relative, far above the evaluation's own roundings. */
#include "lp_impl_internal.h"
#include "lp_problem.h"
#include "lp_ulp.h"

#include <float.h>

/* v widened by 2^-50 relative: +inf where that overflows (then "any number" is the only bound) */
#define WIDEN(v) ((v) * (1 + 0x1p-50))

/* The same, saturated at DBL_MAX: for magnitudes that only enter domain tests and temperature
 * terms (W, m, G), so that a logit near DBL_MAX at tau = 1 keeps its promise. */
static double widen_sat(double v)
{
    const double w = WIDEN(v);
    return isinf(w) && !isinf(v) ? DBL_MAX : w;
}

typedef struct row_scan {
    int has_nan, has_pinf;
    int64_t n, resc;
    double m, xmin, xy, W;
} row_scan;

static void scan_row(row_scan *s, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    memset(s, 0, sizeof *s);
    s->m = -HUGE_VAL;
    s->xmin = HUGE_VAL;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (isnan(x)) {
            s->has_nan = 1;
            continue;
        }
        if (x == HUGE_VAL) s->has_pinf = 1;
        if (!isfinite(x)) continue;
        if (s->n > 0 && x > s->m) s->resc++;
        if (x > s->m) s->m = x;
        if (x < s->xmin) s->xmin = x;
        if (fabs(x) > s->W) s->W = fabs(x);
        s->n++;
    }
    s->xy = lp_load_f64(row, fmt, (size_t)y);
}

/* The outcome a special row gives under k's conventions; 0 for a finite row. */
static unsigned special_outcome(const lp_kernel *k, const row_scan *s)
{
    if (s->has_nan) return LP_KALLOW_NAN;
    if (s->has_pinf) {
        if (k->inf_row == LP_KINF_NAN || s->xy == HUGE_VAL) return LP_KALLOW_NAN;
        return LP_KALLOW_NEGINF;
    }
    if (s->n == 0) return LP_KALLOW_NAN;
    if (s->xy == -HUGE_VAL) return LP_KALLOW_NEGINF;
    return 0;
}

static const lp_kpromise promise_any = {LP_KALLOW_ANY, 0.0, 0};

static lp_kpromise promise_of(unsigned allow, double abs)
{
    lp_kpromise p = {allow, abs, 1};
    return p;
}

/* Features of a finite row, given an upper bound P of |logp| (L then follows as P - D). */
static void features(lp_kfeat *f, const row_scan *s, double tau, double P)
{
    const double D = (s->m - s->xy) / tau;
    f->n = s->n;
    f->resc = s->resc;
    f->D = WIDEN(D);
    f->P = WIDEN(P);
    double L = f->P - D * (1 - 0x1p-50);
    L = L > 0 ? L + 0x1p-52 * f->P : 0.0;
    const double ln_n = WIDEN(log((double)s->n));
    f->L = L < ln_n ? L : ln_n;
    f->W = widen_sat(s->W / tau);
    f->Wy = widen_sat(fabs(s->xy) / tau);
    const double mT = s->m / tau;
    f->mT = mT >= 0 ? widen_sat(mT) : mT * (1 - 0x1p-50);
    f->mT_lo = mT >= 0 ? mT * (1 - 0x1p-50) : -widen_sat(-mT);
    f->G = widen_sat((s->m - s->xmin) / tau);
    f->Gtau = widen_sat(s->m - s->xmin);
}

/* The bound on a finite row, or LP_KOUTSIDE; +inf where a feature is not finite (f64 logits near
 * the overflow threshold: any number is then allowed, the class still checked). */
static double row_bound(const lp_kctx *c, const lp_kfeat *f)
{
    if (c->temp_on && !c->temp_ok) return LP_KOUTSIDE;   /* tau unusable in the kernel's format */
    /* x/tau beyond f64: every per-element temperature mode overflows the tempered logits */
    if (!isfinite(f->W) && c->k->temp != LP_KTEMP_SHIFTDIV) return LP_KOUTSIDE;
    if (!isfinite(f->D) || !isfinite(f->P) || !isfinite(f->W)) return HUGE_VAL;
    const double b = lp_family_bound(c, f);
    return isnan(b) ? LP_KOUTSIDE : b;
}

lp_kpromise lp_kernel_promise_row(const lp_kernel *k, const void *row, lp_format fmt, int64_t V,
                                  int64_t label, double temperature, const lp_value *ref)
{
    if (label < 0 || label >= V)
        return k->oob == LP_KOOB_ZERO ? promise_of(LP_KALLOW_ZERO, 0.0) : promise_any;
    row_scan s;
    scan_row(&s, row, fmt, V, label);
    const unsigned sp = special_outcome(k, &s);
    lp_kctx c;
    lp_kctx_init(&c, k, temperature, 0, NULL);
    lp_kfeat f;
    /* tau as the kernel holds it unusable (RN(tau) 0 or inf: x / tau of an infinity is NaN) */
    if (sp == LP_KALLOW_NEGINF && c.temp_on && k->temp != LP_KTEMP_SHIFTDIV && !c.temp_ok)
        return promise_any;
    if (sp == LP_KALLOW_NEGINF && s.n > 0) {
        /* -inf (a -inf label, or a +inf logit under loginf) only where the finite logits stay
         * finite once tempered (else a tempered label is +inf - inf = NaN, and a +inf label under
         * loginf is NaN), and for a -inf label only where the rest of the row is in the family's
         * domain (naive: a sum that does not vanish, else -inf - (-inf) = NaN; lse: a logsumexp
         * finite in the output format). Judged on the row with its label moved to the max. */
        s.xy = s.m;
        features(&f, &s, temperature, log((double)s.n));
        double dT;
        lp_kfeat z;
        const int tempered = !c.temp_on || k->temp == LP_KTEMP_SHIFTDIV ||
                             (c.temp_ok && isfinite(f.W) && lp_temper_feat(&c, &f, &dT, &z));
        if (!tempered) return promise_any;
        if (!s.has_pinf && row_bound(&c, &f) < 0) return promise_any;
    }
    if (sp) return promise_of(sp, 0.0);
    features(&f, &s, temperature, fabs(ref->dd.hi));
    const double b = row_bound(&c, &f);
    return b < 0 ? promise_any : promise_of(LP_KALLOW_NUM, b);
}

/* A position that does not count: what k writes there. Under mul the row is computed with its
 * dummy label and multiplied by 0: NaN from a special row, +-0 from a finite one, or NaN again
 * where that logp may overflow the output format (|logp| <= D + ln n). */
static lp_kpromise promise_masked(const lp_kctx *c, const void *row, lp_format fmt, int64_t V,
                                  int64_t label, double tau)
{
    const lp_kernel *k = c->k;
    if (k->mask == LP_KMASK_ASSIGN) return promise_of(LP_KALLOW_ZERO, 0.0);
    const int64_t y = label >= 0 && label < V ? label : 0;
    row_scan s;
    scan_row(&s, row, fmt, V, y);
    if (special_outcome(k, &s)) return promise_of(LP_KALLOW_NAN, 0.0);
    const double P = (s.m - s.xy) / tau + log((double)s.n);
    lp_kfeat f;
    features(&f, &s, tau, P);
    const double b = row_bound(c, &f);
    if (b < 0) return promise_any;
    unsigned allow = LP_KALLOW_ZERO;
    if (!(f.P + b < lp_overflow_threshold(k->out))) allow |= LP_KALLOW_NAN;
    return promise_of(allow, 0.0);
}

/* How a reduction's terms combine (SPEC A3): NaN wins, then -inf, then numbers. */
typedef struct tally {
    int outside, must_nan, may_nan, neg_inf;
    int64_t n;
    double sabs, tb, tmax;
} tally;

static void tally_add(tally *t, const lp_kpromise *p, int counted, const lp_value *ref)
{
    if (!p->in_domain) {
        t->outside = 1;
        return;
    }
    if (!counted) {
        if (p->allow == LP_KALLOW_NAN) t->must_nan = 1;
        else if (p->allow & LP_KALLOW_NAN) t->may_nan = 1;
        return;
    }
    t->n++;
    if ((p->allow & LP_KALLOW_NUM) && isinf(p->abs)) {
        /* "any number" (features beyond double: logits near DBL_MAX): the token may be +-inf,
         * and +inf with a -inf term sums to NaN, so the reductions are bounded by nothing */
        t->outside = 1;
        return;
    }
    if (p->allow == LP_KALLOW_NAN) {
        t->must_nan = 1;
    } else if (p->allow == LP_KALLOW_NEGINF) {
        t->neg_inf = 1;
    } else if (p->allow & LP_KALLOW_NUM) {
        const double a = WIDEN(fabs(ref->dd.hi));
        t->sabs += a;
        t->tb += p->abs;
        if (a + p->abs > t->tmax) t->tmax = a + p->abs;
    }
}

/* The sum and mean promises of a tally of npos positions. */
static void tally_promise(lp_kpromise *sum, lp_kpromise *mean, const lp_kctx *c, const tally *t,
                          int64_t npos)
{
    const unsigned maybe = t->may_nan ? LP_KALLOW_NAN : 0u;
    if (t->outside) {
        *sum = *mean = promise_any;
    } else if (t->must_nan) {
        *sum = *mean = promise_of(LP_KALLOW_NAN, 0.0);
    } else if (t->neg_inf) {
        *sum = *mean = promise_of(LP_KALLOW_NEGINF | maybe, 0.0);
        if (c->k->mean == LP_KMEAN_RUNNING) mean->allow |= LP_KALLOW_NAN;   /* reduce.c (5) */
    } else if (t->n == 0) {
        *sum = promise_of(LP_KALLOW_ZERO | maybe, 0.0);
        *mean = c->k->empty_mean == LP_EMPTY_NAN ? promise_of(LP_KALLOW_NAN, 0.0)
                                                 : promise_of(LP_KALLOW_ZERO | maybe, 0.0);
    } else {
        const double bs = lp_bound_sum(c, t->sabs, t->tb, t->n, npos);
        const double bm = lp_bound_mean(c, t->sabs, t->tb, t->tmax, t->n, npos);
        *sum = bs < 0 ? promise_any : promise_of(LP_KALLOW_NUM | maybe, bs);
        *mean = bm < 0 ? promise_any : promise_of(LP_KALLOW_NUM | maybe, bm);
        /* sum / n inherits an overflow of the rounded sum (reduce.c (4)) */
        const double ovf = lp_overflow_threshold(c->k->out);
        if (c->k->mean == LP_KMEAN_DIV && bs >= 0 && !(t->sabs + bs < ovf))
            mean->allow |= LP_KALLOW_NEGINF;
        /* a token that may be -inf turns the running mean NaN (reduce.c (5)) */
        if (c->k->mean == LP_KMEAN_RUNNING && bm >= 0 && !(t->tmax < ovf))
            mean->allow |= LP_KALLOW_NEGINF | LP_KALLOW_NAN;
    }
}

void lp_kpromises_free(lp_kpromises *p)
{
    if (!p) return;
    free(p->tok);
    free(p->sum);
    free(p->mean);
    p->tok = p->sum = p->mean = NULL;
}

lp_status lp_kernel_promise(lp_kpromises *out, const lp_kernel *k, const lp_problem *pb,
                            const lp_ref_result *ref, lp_error *err)
{
    memset(out, 0, sizeof *out);
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb), V = pb->shape.V;
    if (ref->B != B || ref->Ts != Ts)
        return lp_fail(err, LP_ERR_USAGE, "promise: the reference is for [B=%lld, T_s=%lld], the "
                       "problem has [B=%lld, T_s=%lld]", (long long)ref->B, (long long)ref->Ts,
                       (long long)B, (long long)Ts);
    const size_t ntok = (size_t)(B * Ts);
    out->B = B;
    out->Ts = Ts;
    out->tok = calloc(ntok ? ntok : 1, sizeof *out->tok);
    out->sum = calloc((size_t)B, sizeof *out->sum);
    out->mean = calloc((size_t)B, sizeof *out->mean);
    if (!out->tok || !out->sum || !out->mean) {
        lp_kpromises_free(out);
        return lp_fail(err, LP_ERR_NOMEM, "promise: out of memory for B=%lld, T_s=%lld",
                       (long long)B, (long long)Ts);
    }
    lp_kctx c;
    lp_kctx_init(&c, k, pb->temperature, 0, NULL);
    tally all;
    memset(&all, 0, sizeof all);
    for (int64_t b = 0; b < B; b++) {
        tally t;
        memset(&t, 0, sizeof t);
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t at = (size_t)(b * Ts + ts);
            const int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, ts));
            const void *row = lp_problem_row(pb, b, ts);
            const int counted = ref->counted[at];
            out->tok[at] = counted ? lp_kernel_promise_row(k, row, pb->fmt, V, lab, pb->temperature,
                                                           &ref->logp[at])
                                   : promise_masked(&c, row, pb->fmt, V, lab, pb->temperature);
            tally_add(&t, &out->tok[at], counted, &ref->logp[at]);
            tally_add(&all, &out->tok[at], counted, &ref->logp[at]);
        }
        tally_promise(&out->sum[b], &out->mean[b], &c, &t, Ts);
    }
    lp_kpromise tsum;
    tally_promise(&tsum, &out->token_mean, &c, &all, (int64_t)ntok);
    return LP_OK;
}

double lp_kernel_bound_worst(const lp_kernel *k, int64_t n, double logp_abs, double xmax,
                             double temperature)
{
    if (n < 1 || !(logp_abs >= 0) || !(xmax >= 0) || !(temperature > 0)) return HUGE_VAL;
    lp_kctx c;
    lp_kctx_init(&c, k, temperature, 0, NULL);
    const double ln_n = log((double)n);
    lp_kfeat f;
    f.n = n;
    f.resc = n - 1;
    f.P = WIDEN(logp_abs);
    f.D = f.P;
    f.L = f.P < ln_n ? f.P : WIDEN(ln_n);
    f.W = f.Wy = WIDEN(xmax);
    f.mT = f.W;
    f.mT_lo = -f.W;
    f.G = 2 * f.W;
    f.Gtau = 2 * f.W * temperature;
    const double b = row_bound(&c, &f);
    return b < 0 ? HUGE_VAL : b;
}

/* ---- judging ---------------------------------------------------------------------------------- */

lp_kverdict lp_kernel_judge(const lp_kpromise *p, double y, lp_dd x, lp_format out)
{
    lp_kverdict v = {0, 0.0, 0.0, 0.0};
    const int num = (p->allow & LP_KALLOW_NUM) != 0;
    int within = 0;
    if (num && isfinite(y) && isfinite(x.hi)) {
        const lp_err_measure em = lp_ulp_error(y, x, x.hi, out);
        v.err_abs = em.err_abs;
        v.err_ulp = em.err_ulp;
        within = v.err_abs <= p->abs;
        v.ratio = p->abs > 0 ? v.err_abs / p->abs : (v.err_abs > 0 ? HUGE_VAL : 0.0);
    } else if (num && isinf(y)) {
        /* an infinity for an exact value whose bound interval reaches the overflow threshold */
        within = isinf(p->abs) || (isfinite(x.hi) && (y < 0) == (x.hi < 0) &&
                                   fabs(x.hi) + p->abs >= lp_overflow_threshold(out)) ||
                 y == x.hi;
    } else if (num && isinf(x.hi)) {
        within = isinf(p->abs);
    }
    if (!p->in_domain) v.ok = 1;
    else if (isnan(y)) v.ok = (p->allow & LP_KALLOW_NAN) != 0;
    else if (y == -HUGE_VAL && (p->allow & LP_KALLOW_NEGINF)) v.ok = 1;
    else if (y == 0 && (p->allow & LP_KALLOW_ZERO)) v.ok = 1;
    else v.ok = within;
    return v;
}

static void judge_one(lp_kstats *st, lp_kjudged *j, lp_kvisit visit, void *ctx)
{
    j->verdict = lp_kernel_judge(&j->promise, j->got, j->ref->dd, j->k->out);
    st->judged++;
    if (!j->promise.in_domain) st->outside_domain++;
    if (!j->verdict.ok) st->failed++;
    if (j->promise.in_domain && (j->promise.allow & LP_KALLOW_NUM) &&
        j->verdict.ratio > st->worst_ratio[j->what])
        st->worst_ratio[j->what] = j->verdict.ratio;
    if (visit) visit(ctx, j);
}

lp_status lp_kernel_check(lp_kstats *stats, const lp_kernel *k, const lp_problem *pb,
                          const lp_ref_result *ref, lp_kvisit visit, void *ctx, lp_error *err)
{
    lp_kresult kr;
    lp_status s = lp_kernel_run(&kr, k, pb, err);
    if (s != LP_OK) return s;
    lp_kpromises pr;
    s = lp_kernel_promise(&pr, k, pb, ref, err);
    if (s != LP_OK) {
        lp_kresult_free(&kr);
        return s;
    }
    lp_kjudged j;
    memset(&j, 0, sizeof j);
    j.k = k;
    for (int64_t b = 0; b < kr.B; b++) {
        for (int64_t ts = 0; ts < kr.Ts; ts++) {
            const size_t at = (size_t)(b * kr.Ts + ts);
            j.what = LP_KW_TOKEN;
            j.b = b;
            j.ts = ts;
            j.counted = kr.counted[at];
            j.got = kr.logp[at];
            j.ref = &ref->logp[at];
            j.promise = pr.tok[at];
            judge_one(stats, &j, visit, ctx);
        }
    }
    j.ts = -1;
    j.counted = 1;
    for (int64_t b = 0; b < kr.B; b++) {
        j.b = b;
        j.what = LP_KW_SUM;
        j.got = kr.sum[b];
        j.ref = &ref->sum[b];
        j.promise = pr.sum[b];
        judge_one(stats, &j, visit, ctx);
        j.what = LP_KW_MEAN;
        j.got = kr.mean[b];
        j.ref = &ref->mean[b];
        j.promise = pr.mean[b];
        judge_one(stats, &j, visit, ctx);
    }
    j.b = -1;
    j.what = LP_KW_TOKEN_MEAN;
    j.got = kr.token_mean;
    j.ref = &ref->token_mean;
    j.promise = pr.token_mean;
    judge_one(stats, &j, visit, ctx);
    lp_kpromises_free(&pr);
    lp_kresult_free(&kr);
    return LP_OK;
}
