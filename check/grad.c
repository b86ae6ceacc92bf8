/* check/grad.c: judging gradients (SPEC A8; `lpcert check --grad`, lpcert_check.h "Gradients").
 *
 * A candidate gradient [B, T, V] of reduction R in one format F is compared, element by element,
 * with the exact reference streamed row by row by lp_grad_compute (memory: one row of the reference
 * and the figures, never [B, T, V]). Per element of a counted row (a row that scores a counted
 * token), with x the exact value (the reference's double-double) and y the candidate:
 *   ulp        SPEC A4's err_ulp in F (lp_ulp_error), class mismatches apart;
 *   abs        |y - x|;
 *   rel        |y - x| / |x| (0 where y = x = 0; +inf where x = 0 and y != 0);
 *   row_rel    |y - x| / max_j |x_j| over the row (A8's conditioning-aware measure; 0 or +inf where
 *              the row's gradient is exactly 0);
 *   scale_rel  |y - x| tau / w = |y - x| tau divisor (A8: in units of the largest possible |g_i|).
 * Rows that score nothing must hold zero (A8's +0; -0, the same number, passes too: a kernel's
 * 0 * (-x) gives it, and only the value is judged): a NaN there is a NaN leak, any other non-zero value
 * is counted as "empty rows not zero"; both fail. A counted element of another class than the
 * reference's (NaN vs number, inf vs finite) is a class mismatch and fails.
 * Verdict: an element of class NUMBER passes when one of the bounds given holds (err_ulp <= max_ulp,
 * err_abs <= max_abs, row_rel <= max_row_rel). With no bound given, the DEFAULT (unless
 * no_default_bound: then classes, leaks and empty rows only): per group, the candidate's max
 * scale_rel <= max(4 x the baseline's, 2 u_F) + 2^-60, the baseline the plain softmax - onehot
 * kernel (grad_softmax_f32 on f32/f16/bf16 logits, grad_softmax_f64 on f64 ones: impl/grad.c, whose
 * proved contract is scale-relative) rounded to the candidate's format F (u_F = 2^-p); scale_rel is
 * the measure in which the plain kernel is bounded, and 2 u_F admits the rounding to F itself
 * (|g| <= w / tau). With sampling parameters (SPEC A7) the baseline is the same kernel on the
 * processed row (PROCESSED: the kept set exact, softcap applied in the kernel's format) times the
 * softcap's derivative: on the raw row its distance to the processed gradient is O(w / tau), which
 * made the bound about 4 (in units of w / tau, while every |g_i| <= w / tau): any gradient passed,
 * the plain problem's included. A build without impl/ has no baseline: classes only.
 * Statistics per group (case class) and measure: max, p50 and p99 (numpy's default linear
 * interpolation), and a histogram of 1/16-binade bins from 2^-128 to 2^128 (plus zero and +inf).
 * Percentiles are exact (every value kept and sorted) for groups of at most GM_EXACT elements;
 * above, they are the upper edge of the histogram bin that holds them (relative resolution 1/16,
 * never below the exact percentile; the max for the top bin, which holds every value from 2^128
 * up), and reports say so ("exact": false).
 * The worst element (class mismatch first, then NaN leaks and empty rows not 0, then largest ulp)
 * and the worst row_rel element are kept with their reproducer: case, b, t, i, label, V, divisor,
 * both values in hex and decimal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "lp_core.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lp_check_internal.h"
#include "lp_problem.h"
#include "lp_suite_io.h"
#ifdef LP_HAVE_IMPL
#include "lp_grad.h"
#endif
#include "lpcert_check.h"
#include "lpcert_version.h"

#define GM_EXACT (1u << 18)
#define GH_LO (-128)
#define GH_BIN 256
#define GH_SUB 16
#define GMAX_GROUPS 256
#define GMAX_NOTES 12

static const char *const meas_name[LP_GRAD_NMEASURES] = {"ulp", "abs", "rel", "row_rel",
                                                         "scale_rel"};

typedef struct gmeas {
    double max;
    int64_t n, zero, inf;
    double *v;
    size_t nv, cap;
    int spilled;             /* more than GM_EXACT values: percentiles from the histogram */
    uint64_t *hist;          /* [GH_BIN * GH_SUB], lazily */
} gmeas;

typedef struct grepro {
    int set;
    char case_name[128];
    int64_t b, t, i, label, V, divisor;
    lp_format fmt;
    double y, ref_f, row_max;
    lp_dd dd;
    lp_err_measure m;
    double rel, row_rel, scale_rel;
} grepro;

typedef struct ggroup {
    char cls[128];
    unsigned fmts;
    int64_t rows, counted_rows, elements, cr, mismatch, leaks, empty_nonzero, over;
    gmeas m[LP_GRAD_NMEASURES];
    grepro worst, worst_row;
    double base_max;         /* the default bound's baseline: its max scale_rel (-1: none yet) */
    int64_t base_n;
    double floor;            /* 2 u_F of the lowest-precision format seen */
} ggroup;

struct lp_grad_check {
    lp_grad_check_options opt;
    ggroup *g;
    size_t ng;
    int64_t problems;
    char notes[GMAX_NOTES][512];
    int nnotes;
};

static int bounds_given(const lp_grad_check_options *o)
{
    return o->max_ulp >= 0 || o->max_abs >= 0 || o->max_row_rel >= 0;
}

/* The default bound applies: no bound given, not refused, and a baseline available. */
static int default_bound(const lp_grad_check_options *o)
{
#ifdef LP_HAVE_IMPL
    return !bounds_given(o) && !o->no_default_bound;
#else
    return 0;
#endif
}

lp_status lp_grad_check_new(lp_grad_check **out, const lp_grad_check_options *opt, lp_error *err)
{
    *out = NULL;
    lp_grad_check_options d = LP_GRAD_CHECK_OPTIONS_INIT;
    if (opt) d = *opt;
    if ((unsigned)d.reduction > LP_RED_TOKEN_MEAN)
        return lp_fail(err, LP_ERR_USAGE, "check --grad: unknown reduction %d", (int)d.reduction);
    if (isnan(d.max_ulp) || isnan(d.max_abs) || isnan(d.max_row_rel))   /* neither given nor not */
        return lp_fail(err, LP_ERR_USAGE, "check --grad: a bound is NaN (max_ulp %g, max_abs %g, "
                       "max_row_rel %g)", d.max_ulp, d.max_abs, d.max_row_rel);
    lp_grad_check *c = calloc(1, sizeof *c);
    if (!c) return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    c->g = calloc(GMAX_GROUPS, sizeof *c->g);
    if (!c->g) {
        free(c);
        return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    }
    c->opt = d;
    *out = c;
    return LP_OK;
}

void lp_grad_check_free(lp_grad_check *c)
{
    if (!c) return;
    for (size_t k = 0; k < c->ng; k++)
        for (int j = 0; j < LP_GRAD_NMEASURES; j++) {
            free(c->g[k].m[j].v);
            free(c->g[k].m[j].hist);
        }
    free(c->g);
    free(c);
}

void lp_grad_check_note(lp_grad_check *c, const char *line)
{
    if (c && line && c->nnotes < GMAX_NOTES)
        snprintf(c->notes[c->nnotes++], sizeof c->notes[0], "%s", line);
}

/* ---- measures --------------------------------------------------------------------------------- */

/* The histogram bin of v > 0 finite: binade floor(log2 v) clamped, then 16 equal sub-bins. */
static size_t hbin(double v)
{
    int e;
    const double f = frexp(v, &e);   /* v = f 2^e, f in [0.5, 1) */
    int k = e - 1;
    if (k < GH_LO) return 0;
    if (k >= GH_LO + GH_BIN) return (size_t)GH_BIN * GH_SUB - 1;
    int sub = (int)((2 * f - 1) * GH_SUB);
    if (sub >= GH_SUB) sub = GH_SUB - 1;
    return (size_t)(k - GH_LO) * GH_SUB + (size_t)sub;
}

static double hbin_upper(size_t b)
{
    const int k = (int)(b / GH_SUB) + GH_LO, sub = (int)(b % GH_SUB);
    return ldexp(1.0 + (double)(sub + 1) / GH_SUB, k);
}

static int gm_add(gmeas *m, double v)
{
    if (!m->hist && !(m->hist = calloc((size_t)GH_BIN * GH_SUB, sizeof *m->hist))) return 0;
    m->n++;
    if (isnan(v)) v = HUGE_VAL;
    if (v > m->max || m->n == 1) m->max = v;
    if (v == 0) m->zero++;
    else if (isinf(v)) m->inf++;
    else m->hist[hbin(v)]++;
    if (m->spilled) return 1;
    if (m->nv == m->cap) {
        if (m->cap >= GM_EXACT) {
            m->spilled = 1;
            free(m->v);
            m->v = NULL;
            m->nv = m->cap = 0;
            return 1;
        }
        size_t nc = m->cap ? 2 * m->cap : 1024;
        double *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv) return 0;
        m->v = nv;
        m->cap = nc;
    }
    m->v[m->nv++] = v;
    return 1;
}

static int cmp_dbl(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value of rank r (0-based) from the histogram: 0, a bin's upper edge, or +inf. The top bin
 * also holds every finite value from 2^128 up (hbin clamps them): its rank is the group's max,
 * the only bound known for it (its upper edge 2^128 reported a p50 of 3.4e38 for ulp errors of
 * 1e60). */
static double hist_rank(const gmeas *m, int64_t r)
{
    if (r < m->zero) return 0.0;
    int64_t acc = m->zero;
    for (size_t b = 0; b < (size_t)GH_BIN * GH_SUB; b++) {
        acc += (int64_t)m->hist[b];
        if (r < acc) return b + 1 == (size_t)GH_BIN * GH_SUB ? m->max : hbin_upper(b);
    }
    return HUGE_VAL;
}

/* numpy.percentile(v, q) with the default linear method. */
static double gm_percentile(gmeas *m, double q)
{
    if (m->n == 0) return lp_f64_bits(0x7ff8000000000000u);
    const double pos = q / 100.0 * (double)(m->n - 1);
    const int64_t lo = (int64_t)floor(pos);
    const int64_t hi = lo + 1 < m->n ? lo + 1 : lo;
    const double t = pos - (double)lo;
    if (m->spilled) return hist_rank(m, t > 0 ? hi : lo);
    qsort(m->v, m->nv, sizeof *m->v, cmp_dbl);
    const double a = m->v[lo], b = m->v[hi];
    if (t == 0 || a == b) return a;
    if (isinf(b)) return HUGE_VAL;
    const double d = b - a;   /* numpy's _lerp */
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* ---- the sink --------------------------------------------------------------------------------- */

typedef struct gsink {
    lp_grad_check *c;
    ggroup *g;
    const char *name;
    const lp_problem *pb;
    lp_format fmt;
    const void *grad;
    const int64_t *div;
    int64_t Ts;
    int oom;
    double *base;            /* a row of the default bound's baseline, or NULL */
    void *prow;              /* with sampling parameters: the processed row the baseline reads */
    uint8_t *kept;           /* its kept set (lp_ref_kept) */
} gsink;

/* The default bound's floor 2 u_F for the lowest precision format F seen in the group. */
static void group_floor(ggroup *g, lp_format f)
{
    const double fl = 2 * ldexp(1.0, -lp_format_get(f)->prec);
    if (fl > g->floor) g->floor = fl;
}

static ggroup *group_of(lp_grad_check *c, const char *cls, lp_error *err)
{
    for (size_t k = 0; k < c->ng; k++)
        if (strcmp(c->g[k].cls, cls) == 0) return &c->g[k];
    if (c->ng == GMAX_GROUPS) {
        lp_fail(err, LP_ERR_USAGE, "check --grad: more than %d case classes", GMAX_GROUPS);
        return NULL;
    }
    ggroup *g = &c->g[c->ng++];
    snprintf(g->cls, sizeof g->cls, "%s", cls);
    g->base_max = -1;
    return g;
}

static void set_repro(grepro *w, const gsink *s, int64_t b, int64_t t, int64_t i, int64_t label,
                      double y, const lp_value *x, double row_max, const lp_err_measure *m,
                      const double *meas)
{
    w->set = 1;
    snprintf(w->case_name, sizeof w->case_name, "%s", s->name);
    w->b = b;
    w->t = t;
    w->i = i;
    w->label = label;
    w->V = s->pb->shape.V;
    w->divisor = s->div[b];
    w->fmt = s->fmt;
    w->y = y;
    w->ref_f = lp_value_wide(x, s->fmt);
    w->row_max = row_max;
    w->dd = x->dd;
    w->m = *m;
    w->rel = meas[2];
    w->row_rel = meas[3];
    w->scale_rel = meas[4];
}

/* The worst element so far is an unconditional failure (a class mismatch, a NaN leak, or a value
 * not 0 in a row that scores nothing: set_repro's label -1); those rank first. */
static int hard(const grepro *w)
{
    return w->set && (w->m.cls == LP_CMP_MISMATCH || w->label < 0);
}

static int same_bits(double a, double b)
{
    return (isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b));
}

#ifdef LP_HAVE_IMPL
static int sampled(const lp_problem *pb)
{
    return lp_sampling_on(&pb->sampling);
}

/* PROCESSED (the baseline of a problem with sampling parameters, SPEC A7 then A8): the row as the
 * plain kernel reads it after the processing, as a pipeline forms it in the kernel's accumulation
 * format acc (f64 for f64 logits, else f32; every stored logit widens to it exactly): tokens
 * outside the kept set (decided exactly, lp_ref_kept) at -inf, and with softcap c the kept ones
 * capped, RN_acc(c tanh(x / c)) (f32: tanhf of RN32(x / c), times c, rounded). A row with a NaN or
 * +inf logit, or without a finite logit, is left as it is (the kernel makes it NaN, as A8). out is
 * in the kernel's storage format kf (= acc for both grad_softmax kernels). The gradient of the
 * kept set is then A8's gradient of the masked row without sampling (reference/grad.c: MASKED),
 * times s_i with softcap (softcap_chain): the chain rule as autograd applies it. */
static lp_status processed_row(void *out, lp_format kf, uint8_t *kept, const void *row,
                               lp_format fmt, int64_t V, const lp_problem *pb, lp_error *err)
{
    int special = 1;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        lp_store_f64(out, kf, (size_t)i, lp_round_to(x, kf));
        if (isnan(x) || x == HUGE_VAL) special = 2;
        else if (x != -HUGE_VAL && special == 1) special = 0;
    }
    if (special) return LP_OK;
    lp_status s = lp_ref_kept(kept, row, fmt, V, pb->temperature, &pb->sampling, err);
    if (s != LP_OK) return s;
    const double c = pb->sampling.softcap;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(out, kf, (size_t)i);
        double v = x;
        if (!kept[i]) v = -HUGE_VAL;
        else if (c != 0 && kf == LP_F64) v = c * tanh(x / c);
        else if (c != 0) v = (double)(tanhf((float)x / (float)c) * (float)c);
        lp_store_f64(out, kf, (size_t)i, v);
    }
    return LP_OK;
}

/* The softcap's derivative applied to a baseline row, in acc as autograd's tanh backward does:
 * g_i := RN(g_i RN(1 - RN(th_i th_i))), th_i = tanh(x_i / c) as processed_row forms it (s_i = 0
 * at a -inf logit). */
static void softcap_chain(double *g, const void *row, lp_format fmt, int64_t V, lp_format acc,
                          double c)
{
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (acc == LP_F64) {
            const double th = tanh(x / c);
            g[i] *= 1 - th * th;
        } else {
            const float th = tanhf((float)x / (float)c);
            g[i] = (double)((float)g[i] * (1.0f - th * th));
        }
    }
}
#endif

static int sink(void *user, int64_t b, int64_t t, const lp_value *gref, int64_t V, lp_error *err)
{
    gsink *s = user;
    ggroup *g = s->g;
    const lp_grad_check_options *o = &s->c->opt;
    const size_t base = ((size_t)b * (size_t)s->pb->shape.T + (size_t)t) * (size_t)V;
    const int counted = t < s->Ts && lp_problem_counted(s->pb, b, t);
    g->rows++;
    if (!counted) {
        for (int64_t i = 0; i < V; i++) {
            const double y = lp_load_f64(s->grad, s->fmt, base + (size_t)i);
            if (y == 0) continue;
            /* against +0 (A8): the ulp error of a finite y is |y| / the format's least subnormal */
            const lp_dd zero = {0.0, 0.0};
            lp_err_measure m = {LP_CMP_MISMATCH, 0, fabs(y)};
            if (!isnan(y)) m = lp_ulp_error(y, zero, 0.0, s->fmt);
            if (!isnan(y) && m.cls != LP_CMP_NUMBER)
                m = (lp_err_measure){LP_CMP_NUMBER, HUGE_VAL, HUGE_VAL};
            const double meas[LP_GRAD_NMEASURES] = {m.err_ulp, fabs(y), HUGE_VAL, HUGE_VAL,
                                                    HUGE_VAL};
            if (isnan(y)) g->leaks++;
            else g->empty_nonzero++;
            /* a failure whatever the bounds: ahead of every counted element but a class mismatch
             * (it was given err_ulp 0 and replaced by the next counted element's rounding error) */
            if (!hard(&g->worst) || (isnan(y) && g->worst.m.cls != LP_CMP_MISMATCH))
                set_repro(&g->worst, s, b, t, i, -1, y, &gref[i], 0.0, &m, meas);
        }
        return 0;
    }
    g->counted_rows++;
    const int64_t label = lp_problem_label(s->pb, b, lp_problem_label_t(s->pb, t));
    double row_max = 0;
    for (int64_t i = 0; i < V; i++) {
        const double a = fabs(gref[i].dd.hi);
        if (a > row_max || isnan(a)) row_max = isnan(a) ? HUGE_VAL : (a > row_max ? a : row_max);
    }
    const double scale = s->pb->temperature * (double)s->div[b];
#ifdef LP_HAVE_IMPL
    if (s->base) {   /* the default bound's baseline on this row, rounded to the candidate's format */
        const lp_gkernel *bk = lp_gkernel_find(s->pb->fmt == LP_F64 ? "grad_softmax_f64"
                                                                    : "grad_softmax_f32");
        lp_error be;
        const void *brow = lp_problem_row(s->pb, b, t);
        lp_format bf = s->pb->fmt;
        if (s->prow && bk) {   /* PROCESSED: the plain kernel on the processed row */
            if (processed_row(s->prow, bk->storage, s->kept, brow, bf, V, s->pb, err) != LP_OK)
                return 1;
            brow = s->prow;
            bf = bk->storage;
        }
        if (!bk || lp_gkernel_row(s->base, bk, brow, bf, V, label, s->pb->temperature, s->div[b],
                                  &be) != LP_OK) {
            lp_fail(err, LP_ERR_INTERNAL, "check --grad: the default bound's baseline: %s",
                    bk ? be.msg : "no grad_softmax kernel");
            return 1;
        }
        if (s->prow && s->pb->sampling.softcap != 0)
            softcap_chain(s->base, lp_problem_row(s->pb, b, t), s->pb->fmt, V, bk->acc,
                          s->pb->sampling.softcap);
        for (int64_t i = 0; i < V; i++) {
            const lp_value *x = &gref[i];
            const double yb = lp_round_to(s->base[i], s->fmt);
            const lp_err_measure mb = lp_ulp_error(yb, x->dd, lp_value_wide(x, s->fmt), s->fmt);
            if (mb.cls != LP_CMP_NUMBER) continue;
            const double sr = mb.err_abs * scale;
            if (sr > g->base_max) g->base_max = sr;
            g->base_n++;
        }
    }
#endif
    for (int64_t i = 0; i < V; i++) {
        double y = lp_load_f64(s->grad, s->fmt, base + (size_t)i);
        if (o->negate) y = -y;
        const lp_value *x = &gref[i];
        const double ref_f = lp_value_wide(x, s->fmt);
        const lp_err_measure m = lp_ulp_error(y, x->dd, ref_f, s->fmt);
        g->elements++;
        if (same_bits(y, ref_f)) g->cr++;
        if (m.cls == LP_CMP_MISMATCH) {
            g->mismatch++;
            const double meas[LP_GRAD_NMEASURES] = {HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL, HUGE_VAL};
            if (!g->worst.set || g->worst.m.cls != LP_CMP_MISMATCH)
                set_repro(&g->worst, s, b, t, i, label, y, x, row_max, &m, meas);
            continue;
        }
        if (m.cls != LP_CMP_NUMBER) continue;   /* both NaN, or equal infinities: exact */
        const double e = m.err_abs, ax = fabs(x->dd.hi);
        double meas[LP_GRAD_NMEASURES];
        meas[0] = m.err_ulp;
        meas[1] = e;
        meas[2] = e == 0 ? 0.0 : ax > 0 ? e / ax : HUGE_VAL;
        meas[3] = e == 0 ? 0.0 : row_max > 0 ? e / row_max : HUGE_VAL;
        meas[4] = e * scale;
        for (int k = 0; k < LP_GRAD_NMEASURES; k++)
            if (!gm_add(&g->m[k], meas[k])) s->oom = 1;
        if (bounds_given(o) && !((o->max_ulp >= 0 && m.err_ulp <= o->max_ulp) ||
                                 (o->max_abs >= 0 && e <= o->max_abs) ||
                                 (o->max_row_rel >= 0 && meas[3] <= o->max_row_rel)))
            g->over++;
        if (!g->worst.set || (!hard(&g->worst) && m.err_ulp > g->worst.m.err_ulp))
            set_repro(&g->worst, s, b, t, i, label, y, x, row_max, &m, meas);
        if (!g->worst_row.set || meas[3] > g->worst_row.row_rel)
            set_repro(&g->worst_row, s, b, t, i, label, y, x, row_max, &m, meas);
    }
    if (s->oom) {
        lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory for the figures");
        return 1;
    }
    return 0;
}

static void divisors(int64_t *div, const lp_problem *pb, lp_reduction red)
{
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    int64_t total = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t ts = 0; ts < Ts; ts++) n += lp_problem_counted(pb, b, ts);
        div[b] = n;
        total += n;
    }
    for (int64_t b = 0; b < B; b++)
        div[b] = red == LP_RED_MEAN ? (div[b] ? div[b] : 1)
                 : red == LP_RED_TOKEN_MEAN ? (total ? total : 1) : 1;
}

static void base_free(gsink *sk)
{
    free(sk->base);
    free(sk->prow);
    free(sk->kept);
}

/* The default bound's rows (none without it); 0: out of memory (base_free frees what was). */
static int base_alloc(gsink *sk, const lp_grad_check_options *o, const lp_problem *pb)
{
    if (!default_bound(o)) return 1;
    const size_t V = (size_t)(pb->shape.V > 0 ? pb->shape.V : 1);
    if (!(sk->base = malloc(V * sizeof *sk->base))) return 0;
#ifdef LP_HAVE_IMPL
    if (sampled(pb) && (!(sk->prow = malloc(V * sizeof(double))) || !(sk->kept = malloc(V)))) {
        base_free(sk);
        sk->base = sk->prow = NULL;
        sk->kept = NULL;
        return 0;
    }
#endif
    return 1;
}

lp_status lp_grad_check_problem(lp_grad_check *c, const char *name, const char *cls,
                                const lp_problem *pb, lp_format fmt, const void *grad, lp_error *err)
{
    if (!c || !pb || !grad || (unsigned)fmt >= LP_NFORMATS)
        return lp_fail(err, LP_ERR_USAGE, "lp_grad_check_problem: bad arguments");
    lp_status s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    ggroup *g = group_of(c, cls ? cls : name ? name : "problem", err);
    if (!g) return LP_ERR_USAGE;
    int64_t *div = malloc((size_t)pb->shape.B * sizeof *div);
    if (!div) return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    divisors(div, pb, c->opt.reduction);
    gsink sk = {c, g, name ? name : "problem", pb, fmt, grad, div, lp_problem_ts(pb), 0, NULL,
                NULL, NULL};
    if (!base_alloc(&sk, &c->opt, pb)) {
        free(div);
        return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    }
    group_floor(g, fmt);
    lp_ref_options ro = LP_REF_OPTIONS_INIT;
    ro.threads = c->opt.threads;
    ro.slow = c->opt.slow;
    ro.formats = (1u << fmt) | LP_REF_DD;
    g->fmts |= 1u << fmt;
    s = lp_grad_compute(pb, c->opt.reduction, &ro, sink, &sk, NULL, err);
    base_free(&sk);
    free(div);
    if (s == LP_OK) c->problems++;
    return s;
}

/* ---- stored expected gradients (a suite from lpcert gen --grad R) ------------------------------ */

static const char *const stored_col[5] = {"grad.f64", "grad.f32", "grad.f16", "grad.bf16", "grad.lo"};

lp_status ck_grad_check_stored(lp_grad_check *c, const lp_tfile *suite, const char *name,
                               const char *cls, const lp_problem *pb, lp_format fmt,
                               const void *grad, int *used, lp_error *err)
{
    *used = 0;
    const char *red = lp_suite_meta(suite, name, "grad_of");
    lp_reduction r;
    if (!red || !lp_reduction_parse(&r, red) || r != c->opt.reduction) return LP_OK;
    char pre[300];
    lp_suite_expected_prefix(pre, sizeof pre, name);
    const lp_tensor *t[5];
    const lp_dtype dt[5] = {LP_DT_F64, LP_DT_F32, LP_DT_F16, LP_DT_BF16, LP_DT_F64};
    for (int k = 0; k < 5; k++) {
        char key[340];
        snprintf(key, sizeof key, "%s%s", pre, stored_col[k]);
        t[k] = lp_tfile_find(suite, key);
        if (!t[k]) return lp_fail(err, LP_ERR_INPUT, "suite: %s is missing (case %s has grad_of %s)",
                                  key, name, red);
        if (t[k]->dtype != dt[k] || t[k]->ndim != 3 || t[k]->dims[0] != pb->shape.B ||
            t[k]->dims[1] != pb->shape.T || t[k]->dims[2] != pb->shape.V)
            return lp_fail(err, LP_ERR_INPUT, "suite: %s is not %s [%lld, %lld, %lld]", key,
                           lp_dtype_name(dt[k]), (long long)pb->shape.B, (long long)pb->shape.T,
                           (long long)pb->shape.V);
    }
    lp_status s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    ggroup *g = group_of(c, cls ? cls : name, err);
    if (!g) return LP_ERR_USAGE;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    int64_t *div = malloc((size_t)B * sizeof *div);
    lp_value *row = malloc((size_t)V * sizeof *row);
    if (!div || !row) {
        free(div);
        free(row);
        return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    }
    divisors(div, pb, c->opt.reduction);
    gsink sk = {c, g, name, pb, fmt, grad, div, lp_problem_ts(pb), 0, NULL, NULL, NULL};
    g->fmts |= 1u << fmt;
    group_floor(g, fmt);
    if (!base_alloc(&sk, &c->opt, pb)) {
        free(div);
        free(row);
        return lp_fail(err, LP_ERR_NOMEM, "check --grad: out of memory");
    }
    for (int64_t b = 0; b < B && s == LP_OK; b++)
        for (int64_t tt = 0; tt < T && s == LP_OK; tt++) {
            const size_t base = ((size_t)b * (size_t)T + (size_t)tt) * (size_t)V;
            for (int64_t i = 0; i < V; i++) {
                const size_t at = base + (size_t)i;
                lp_value *v = &row[i];
                v->f64 = lp_load_f64(t[0]->data, LP_F64, at);
                v->f32 = (float)lp_load_f64(t[1]->data, LP_F32, at);
                memcpy(&v->f16, (const char *)t[2]->data + 2 * at, 2);
                memcpy(&v->bf16, (const char *)t[3]->data + 2 * at, 2);
                v->dd.hi = v->f64;
                v->dd.lo = lp_load_f64(t[4]->data, LP_F64, at);
            }
            if (sink(&sk, b, tt, row, V, err) != 0) s = err->status != LP_OK ? err->status : LP_ERR_IO;
        }
    base_free(&sk);
    free(div);
    free(row);
    if (s == LP_OK) {
        c->problems++;
        *used = 1;
    }
    return s;
}

/* The default bound of a group: max(4 x the baseline's max scale_rel, 2 u_F) + 2^-60. */
static double group_default(const ggroup *g)
{
    const double b = 4 * (g->base_max > 0 ? g->base_max : 0);
    return (b > g->floor ? b : g->floor) + 0x1p-60;
}

static int group_failed(const lp_grad_check *c, const ggroup *g)
{
    if (g->mismatch || g->leaks || g->empty_nonzero || (bounds_given(&c->opt) && g->over)) return 1;
    return default_bound(&c->opt) && g->m[4].n > 0 && g->m[4].max > group_default(g);
}

int lp_grad_check_failed(const lp_grad_check *c)
{
    for (size_t k = 0; k < c->ng; k++)
        if (group_failed(c, &c->g[k])) return 1;
    return 0;
}

size_t lp_grad_check_group_count(const lp_grad_check *c) { return c ? c->ng : 0; }

lp_status lp_grad_check_group_get(lp_grad_check *c, size_t i, lp_grad_check_group *out,
                                  lp_error *err)
{
    if (!c || i >= c->ng) return lp_fail(err, LP_ERR_USAGE, "lp_grad_check_group_get: no group %zu", i);
    ggroup *g = &c->g[i];
    memset(out, 0, sizeof *out);
    out->cls = g->cls;
    out->formats = g->fmts;
    out->rows = g->rows;
    out->counted_rows = g->counted_rows;
    out->elements = g->elements;
    out->correctly_rounded = g->cr;
    out->class_mismatches = g->mismatch;
    out->nan_leaks = g->leaks;
    out->empty_nonzero = g->empty_nonzero;
    out->over_bound = g->over;
    out->failed = group_failed(c, g);
    out->default_bound = default_bound(&c->opt) ? group_default(g) : -1;
    out->base_max_scale_rel = default_bound(&c->opt) && g->base_max >= 0 ? g->base_max : -1;
    for (int k = 0; k < LP_GRAD_NMEASURES; k++) {
        gmeas *m = &g->m[k];
        out->m[k].n = m->n;
        out->m[k].max = m->n ? m->max : 0.0;
        out->m[k].p50 = gm_percentile(m, 50);
        out->m[k].p99 = gm_percentile(m, 99);
        out->m[k].exact = !m->spilled;
    }
    return LP_OK;
}

/* ---- reports ---------------------------------------------------------------------------------- */

static const char *red_text(lp_reduction r)
{
    switch (r) {
    case LP_RED_TOKEN: return "token (each counted token's logp, weight 1)";
    case LP_RED_SUM: return "sum (sequence sums, weight 1)";
    case LP_RED_MEAN: return "mean (sequence means, weight 1/n_b)";
    default: return "token_mean (batch token mean, weight 1/sum_b n_b)";
    }
}

static void bounds_text(char *buf, size_t n, const lp_grad_check_options *o)
{
    if (default_bound(o)) {
        snprintf(buf, n, "none given: the default, per group max scale_rel <= max(4 x that of "
                 "grad_softmax_f32 (f64 logits: _f64) rounded to the candidate's format, 2 u_F)");
        return;
    }
    if (!bounds_given(o)) {
        snprintf(buf, n, "none given: classes, NaN leaks and empty rows only%s",
                 o->no_default_bound ? "" : " (no baseline in this build)");
        return;
    }
    size_t l = 0;
    buf[0] = 0;
    if (o->max_ulp >= 0) l += (size_t)snprintf(buf + l, n - l, "err_ulp <= %g", o->max_ulp);
    if (o->max_abs >= 0 && l < n)
        l += (size_t)snprintf(buf + l, n - l, "%serr_abs <= %g", l ? " or " : "", o->max_abs);
    if (o->max_row_rel >= 0 && l < n)
        snprintf(buf + l, n - l, "%srow_rel <= %g", l ? " or " : "", o->max_row_rel);
}

static void fmts_text(char *buf, size_t n, unsigned f)
{
    size_t l = 0;
    buf[0] = 0;
    for (int k = 0; k < LP_NFORMATS && l < n; k++)
        if (f & (1u << k))
            l += (size_t)snprintf(buf + l, n - l, "%s%s", l ? "," : "", lp_format_name((lp_format)k));
}

static void repro_lines(FILE *f, const grepro *w, const char *title, const char *ind)
{
    char got[64], want[64];
    lp_format_hexdec(got, sizeof got, w->y, w->fmt);
    lp_format_hexdec(want, sizeof want, w->ref_f, w->fmt);
    fprintf(f, "%s%s: case %s, b=%lld t=%lld i=%lld", ind, title, w->case_name, (long long)w->b,
            (long long)w->t, (long long)w->i);
    if (w->label >= 0)
        fprintf(f, " (label %lld%s, V=%lld, divisor %lld)\n", (long long)w->label,
                w->label == w->i ? ": the label element" : "", (long long)w->V,
                (long long)w->divisor);
    else
        fprintf(f, " (a row that scores nothing, V=%lld)\n", (long long)w->V);
    fprintf(f, "%s  got  %s %s\n", ind, lp_format_name(w->fmt), got);
    fprintf(f, "%s  want %s %s (correctly rounded); exact %.17g %+.3e\n", ind,
            lp_format_name(w->fmt), want, w->dd.hi, w->dd.lo);
    if (w->m.cls == LP_CMP_MISMATCH)
        fprintf(f, "%s  error: %s\n", ind, w->label >= 0 ? "class mismatch" : "NaN leak");
    else
        fprintf(f, "%s  error: %.4g ulp, %.3e absolute, %.3g relative, %.3g of the row's max |g| "
                   "(%.3e), %.3g of w/tau\n", ind, w->m.err_ulp, w->m.err_abs, w->rel, w->row_rel,
                w->row_max, w->scale_rel);
}

static void fig(char *buf, size_t n, double v, int have)
{
    if (!have) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.4g", v);
}

void lp_grad_check_write_table(FILE *f, lp_grad_check *c)
{
    char bt[200];
    bounds_text(bt, sizeof bt, &c->opt);
    fprintf(f, "gradient:   %s%s\n", red_text(c->opt.reduction),
            c->opt.negate ? "; candidate negated (the gradient of the loss -R)" : "");
    for (int i = 0; i < c->nnotes; i++) fprintf(f, "%s\n", c->notes[i]);
    fprintf(f, "bound:      %s\n", bt);
    fprintf(f, "measures:   per element of a counted row, against the exact gradient (SPEC A8): "
               "ulp, abs, rel, row_rel = err / max_j |g_j|, scale_rel = err tau / w\n\n");
    for (size_t k = 0; k < c->ng; k++) {
        lp_grad_check_group G;
        lp_error e;
        if (lp_grad_check_group_get(c, k, &G, &e) != LP_OK) continue;
        char fm[40];
        fmts_text(fm, sizeof fm, G.formats);
        fprintf(f, "%s (%s): %lld rows, %lld counted, %lld elements, %lld correctly rounded "
                   "(%.2f%%), %lld class mismatches, %lld NaN leaks, %lld empty-row values not 0, "
                   "%lld over bound: %s\n", G.cls, fm, (long long)G.rows, (long long)G.counted_rows,
                (long long)G.elements, (long long)G.correctly_rounded,
                G.elements ? 100.0 * (double)G.correctly_rounded / (double)G.elements : 100.0,
                (long long)G.class_mismatches, (long long)G.nan_leaks, (long long)G.empty_nonzero,
                (long long)G.over_bound, G.failed ? "FAIL" : "pass");
        if (G.default_bound >= 0)
            fprintf(f, "  default bound: max scale_rel %.4g <= %.4g (baseline's max %.4g)\n",
                    G.m[4].max, G.default_bound, G.base_max_scale_rel);
        fprintf(f, "  %-10s %12s %12s %12s\n", "measure", "max", "p50", "p99");
        for (int j = 0; j < LP_GRAD_NMEASURES; j++) {
            char a[24], b[24], d[24];
            const int have = G.m[j].n > 0;
            fig(a, sizeof a, G.m[j].max, have);
            fig(b, sizeof b, G.m[j].p50, have);
            fig(d, sizeof d, G.m[j].p99, have);
            fprintf(f, "  %-10s %12s %12s %12s%s\n", meas_name[j], a, b, d,
                    have && !G.m[j].exact ? "  (percentiles: histogram bin upper edges)" : "");
        }
        const ggroup *g = &c->g[k];
        if (g->worst.set) repro_lines(f, &g->worst, "worst", "  ");
        if (g->worst_row.set && g->worst_row.row_rel > 0 &&
            (g->worst_row.b != g->worst.b || g->worst_row.t != g->worst.t ||
             g->worst_row.i != g->worst.i || strcmp(g->worst_row.case_name, g->worst.case_name)))
            repro_lines(f, &g->worst_row, "worst row_rel", "  ");
    }
    int64_t n = 0;
    for (size_t k = 0; k < c->ng; k++) n += c->g[k].elements;
    fprintf(f, "\n%s: %lld problems, %lld gradient elements compared; %s\n",
            lp_grad_check_failed(c) ? "FAIL" : "PASS", (long long)c->problems, (long long)n, bt);
}

static cJSON *json_repro(const grepro *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "case", w->case_name);
    cJSON_AddNumberToObject(o, "b", (double)w->b);
    cJSON_AddNumberToObject(o, "t", (double)w->t);
    cJSON_AddNumberToObject(o, "i", (double)w->i);
    cJSON_AddNumberToObject(o, "label", (double)w->label);
    cJSON_AddNumberToObject(o, "V", (double)w->V);
    cJSON_AddNumberToObject(o, "divisor", (double)w->divisor);
    cJSON_AddStringToObject(o, "format", lp_format_name(w->fmt));
    ck_json_num(o, "got", w->y);
    ck_json_hex(o, "got_hex", w->y, w->fmt);
    ck_json_num(o, "want", w->ref_f);
    ck_json_hex(o, "want_hex", w->ref_f, w->fmt);
    ck_json_num(o, "exact_hi", w->dd.hi);
    ck_json_num(o, "exact_lo", w->dd.lo);
    cJSON_AddStringToObject(o, "class", w->m.cls == LP_CMP_MISMATCH ? "mismatch" : "number");
    ck_json_num(o, "ulp", w->m.err_ulp);
    ck_json_num(o, "abs", w->m.err_abs);
    ck_json_num(o, "rel", w->rel);
    ck_json_num(o, "row_rel", w->row_rel);
    ck_json_num(o, "scale_rel", w->scale_rel);
    return o;
}

static cJSON *json_build(lp_grad_check *c)
{
    cJSON *root = cJSON_CreateObject();
    char bt[200];
    bounds_text(bt, sizeof bt, &c->opt);
    cJSON_AddStringToObject(root, "command", "check --grad");
    cJSON_AddStringToObject(root, "lpcert", LPCERT_VERSION_STRING);
    cJSON_AddStringToObject(root, "reduction", lp_reduction_name(c->opt.reduction));
    cJSON_AddBoolToObject(root, "negated", c->opt.negate != 0);
    cJSON *b = cJSON_AddObjectToObject(root, "bounds");
    ck_json_num(b, "max_ulp", c->opt.max_ulp >= 0 ? c->opt.max_ulp : lp_f64_bits(0x7ff8000000000000u));
    ck_json_num(b, "max_abs", c->opt.max_abs >= 0 ? c->opt.max_abs : lp_f64_bits(0x7ff8000000000000u));
    ck_json_num(b, "max_row_rel",
             c->opt.max_row_rel >= 0 ? c->opt.max_row_rel : lp_f64_bits(0x7ff8000000000000u));
    cJSON_AddStringToObject(b, "text", bt);
    cJSON *notes = cJSON_AddArrayToObject(root, "notes");
    for (int i = 0; i < c->nnotes; i++) cJSON_AddItemToArray(notes, cJSON_CreateString(c->notes[i]));
    cJSON_AddNumberToObject(root, "problems", (double)c->problems);
    cJSON *gs = cJSON_AddArrayToObject(root, "groups");
    for (size_t k = 0; k < c->ng; k++) {
        lp_grad_check_group G;
        lp_error e;
        if (lp_grad_check_group_get(c, k, &G, &e) != LP_OK) continue;
        const ggroup *g = &c->g[k];
        cJSON *o = cJSON_CreateObject();
        char fm[40];
        fmts_text(fm, sizeof fm, G.formats);
        cJSON_AddStringToObject(o, "class", G.cls);
        cJSON_AddStringToObject(o, "formats", fm);
        cJSON_AddNumberToObject(o, "rows", (double)G.rows);
        cJSON_AddNumberToObject(o, "counted_rows", (double)G.counted_rows);
        cJSON_AddNumberToObject(o, "elements", (double)G.elements);
        cJSON_AddNumberToObject(o, "correctly_rounded", (double)G.correctly_rounded);
        cJSON_AddNumberToObject(o, "class_mismatches", (double)G.class_mismatches);
        cJSON_AddNumberToObject(o, "nan_leaks", (double)G.nan_leaks);
        cJSON_AddNumberToObject(o, "empty_nonzero", (double)G.empty_nonzero);
        cJSON_AddNumberToObject(o, "over_bound", (double)G.over_bound);
        if (G.default_bound >= 0) {
            ck_json_num(o, "default_bound_scale_rel", G.default_bound);
            ck_json_num(o, "baseline_max_scale_rel", G.base_max_scale_rel);
        }
        cJSON *ms = cJSON_AddObjectToObject(o, "measures");
        for (int j = 0; j < LP_GRAD_NMEASURES; j++) {
            cJSON *m = cJSON_AddObjectToObject(ms, meas_name[j]);
            cJSON_AddNumberToObject(m, "n", (double)G.m[j].n);
            ck_json_num(m, "max", G.m[j].max);
            ck_json_num(m, "p50", G.m[j].p50);
            ck_json_num(m, "p99", G.m[j].p99);
            cJSON_AddBoolToObject(m, "exact_percentiles", G.m[j].exact);
            /* histogram by binade: floor(log2 v) -> count, plus zero and inf */
            cJSON *h = cJSON_AddObjectToObject(m, "hist_log2");
            const gmeas *gm = &g->m[j];
            for (int bi = 0; gm->hist && bi < GH_BIN; bi++) {
                uint64_t s = 0;
                for (int sb = 0; sb < GH_SUB; sb++) s += gm->hist[bi * GH_SUB + sb];
                if (!s) continue;
                char key[16];
                snprintf(key, sizeof key, "%d", bi + GH_LO);
                cJSON_AddNumberToObject(h, key, (double)s);
            }
            cJSON_AddNumberToObject(m, "zero", (double)gm->zero);
            cJSON_AddNumberToObject(m, "inf", (double)gm->inf);
        }
        if (g->worst.set) cJSON_AddItemToObject(o, "worst", json_repro(&g->worst));
        if (g->worst_row.set) cJSON_AddItemToObject(o, "worst_row_rel", json_repro(&g->worst_row));
        cJSON_AddStringToObject(o, "result", G.failed ? "fail" : "pass");
        cJSON_AddItemToArray(gs, o);
    }
    cJSON_AddStringToObject(root, "verdict", lp_grad_check_failed(c) ? "FAIL" : "PASS");
    return root;
}

lp_status lp_grad_check_write_json(lp_grad_check *c, const char *path, lp_error *err)
{
    cJSON *root = json_build(c);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    lp_status s = lp_write_line_atomic(path, text, err);
    free(text);
    return s;
}

lp_status lp_grad_check_write_certificate(lp_grad_check *c, const char *path, lp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    const int failed = lp_grad_check_failed(c);
    time_t now = time(NULL);
    struct tm tmv;
    char date[40], bt[200];
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tmv);
    bounds_text(bt, sizeof bt, &c->opt);
    fprintf(f, "# lpcert certificate: %s\n\n", failed ? "FAIL" : "PASS");
    fprintf(f, "Issued by lpcert " LPCERT_VERSION_STRING " (`lpcert check --grad`) on %s.\n\n", date);
    fprintf(f, "## Inputs\n\n| | |\n| --- | --- |\n| gradient of | %s |\n",
            red_text(c->opt.reduction));
    if (c->opt.negate) fprintf(f, "| candidate | negated before comparison (gradient of -R) |\n");
    for (int i = 0; i < c->nnotes; i++) fprintf(f, "| note | %s |\n", c->notes[i]);
    fprintf(f, "\n## Bounds and semantics certified\n\n- bound applied: %s\n", bt);
    fprintf(f, "- class mismatches (NaN vs number, inf vs finite) always fail\n- rows that score "
               "nothing must be zero (+0 or -0): a NaN there is a leak, any other value fails\n");
    fprintf(f, "\nErrors per element as SPEC A4 against the exact gradient of SPEC A8 (a "
               "double-double of at least 100 correct bits), plus row_rel = |y - x| / max_j |x_j| "
               "and scale_rel = |y - x| tau / w. Percentiles are exact unless marked.\n");
    fprintf(f, "\n## Results\n\n| class | format | elements | correctly rounded | max ulp | p99 ulp "
               "| max abs | max row_rel | max scale_rel | class mismatches | NaN leaks | empty rows "
               "not 0 | over bound | result |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: "
               "| ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (size_t k = 0; k < c->ng; k++) {
        lp_grad_check_group G;
        if (lp_grad_check_group_get(c, k, &G, err) != LP_OK) continue;
        char fm[40];
        fmts_text(fm, sizeof fm, G.formats);
        fprintf(f, "| %s | %s | %lld | %lld | %.4g | %.4g%s | %.3g | %.3g | %.3g | %lld | %lld | %lld "
                   "| %lld | %s |\n", G.cls, fm, (long long)G.elements,
                (long long)G.correctly_rounded, G.m[0].max, G.m[0].p99, G.m[0].exact ? "" : " (bin)",
                G.m[1].max, G.m[3].max, G.m[4].max, (long long)G.class_mismatches,
                (long long)G.nan_leaks, (long long)G.empty_nonzero, (long long)G.over_bound,
                G.failed ? "**fail**" : "pass");
    }
    int any = 0;
    for (size_t k = 0; k < c->ng; k++)
        if (c->g[k].worst.set) {
            if (!any++) fprintf(f, "\n## Worst elements\n\n```\n");
            repro_lines(f, &c->g[k].worst, "worst", "");
        }
    if (any) fprintf(f, "```\n");
    int64_t n = 0;
    for (size_t k = 0; k < c->ng; k++) n += c->g[k].elements;
    fprintf(f, "\n## Verdict\n\n**%s**: %lld problems, %lld gradient elements compared; %s.\n",
            failed ? "FAIL" : "PASS", (long long)c->problems, (long long)n, bt);
    if (fclose(f) != 0) {
        free(text);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    }
    lp_status s = lp_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

/* ---- for the reports of certify (lp_check_internal.h) ---- */

int ck_grad_failed(const lp_grad_check *c) { return lp_grad_check_failed(c); }

int64_t ck_grad_elements(const lp_grad_check *c)
{
    int64_t n = 0;
    for (size_t k = 0; k < c->ng; k++) n += c->g[k].elements + c->g[k].rows;
    return n;
}

cJSON *ck_grad_json(lp_grad_check *c) { return json_build(c); }

void ck_grad_cert_rows(FILE *f, lp_grad_check *c)
{
    for (size_t k = 0; k < c->ng; k++) {
        lp_grad_check_group G;
        lp_error e;
        if (lp_grad_check_group_get(c, k, &G, &e) != LP_OK) continue;
        fprintf(f, "| %s | %s | %lld | %lld | %.4g | %.4g%s | %.3g | %.3g | %.3g | %lld | %lld | %lld "
                   "| %lld | %s |\n", lp_reduction_name(c->opt.reduction), G.cls,
                (long long)G.elements, (long long)G.correctly_rounded, G.m[0].max, G.m[0].p99,
                G.m[0].exact ? "" : " (bin)", G.m[1].max, G.m[3].max, G.m[4].max,
                (long long)G.class_mismatches, (long long)G.nan_leaks, (long long)G.empty_nonzero,
                (long long)G.over_bound, G.failed ? "**fail**" : "pass");
    }
}
