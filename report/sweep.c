/* report/sweep.c: sum versus mean against sequence length, and the DPO margin.
 *
 * B sequences of Lmax = 8192 scored tokens (shift none, no mask), V = 32; the sequence of length L
 * is the first L tokens of each (L = 1 to 8192: powers of 2 and 3 * 2^k). Logits are multiples of
 * 1/8 in [-8.125, 8.125] (a sum of four integer draws, close to a normal of deviation 2.4), so the
 * same values are exact in f64, f32, f16 and bf16 and one exact reference serves every kernel. The
 * label is the row's argmax with probability 1/2, else uniform (a mixture of near-certain and
 * ordinary tokens, as in real text).
 *
 * The exact reference runs once, on the whole [B, Lmax, V] problem. The exact sum of a prefix is
 * accumulated from the reference's token double-doubles in double-double arithmetic: all terms
 * have one sign, so its relative error is below L * 2^-103 <= 2^-89, and the mean is that sum
 * divided by L in double-double; both are 2^-35 of an f64 ulp or better, far below any error
 * measured here (the class of a value, the only use of a rounded reference, is always "number").
 *
 * The sequences come in DPO quads (policy chosen, reference chosen, policy rejected, reference
 * rejected): a policy row is its reference row plus -1/8, 0 or +1/8 per logit, with the same
 * labels, so the log-ratios are small differences of large sums, as in training. Margins:
 *     from sums   (S_pc - S_rc) - (S_pr - S_rr)        from means   the same with the means
 * The kernel's margin is computed in its output format, one rounding per subtraction, as a framework
 * computes it on tensors of that dtype; the exact margin in double-double arithmetic.
 *
 * Kernels: the selected twopass and accurate kernels with default conventions (the others differ
 * from these only in masking, labels or temperature, none of which the sweep exercises). Each runs
 * once per length and sequence (B = 1, T = L, pointing into the long sequence). */
#include <math.h>

#include "lp_dd.h"
#include "lp_format.h"
#include "lp_rng.h"
#include "lp_report.h"

#define QUAD 4

typedef struct sweep_data {
    rp_sweep *sw;
    int64_t Lmax;
    int8_t *q;                     /* logits * 8, [B, Lmax, V] */
    int64_t *labels;               /* [B, Lmax] */
    lp_dd *xs, *xm;                /* exact prefix sums and means, [nlen, B] */
} sweep_data;

static void *logits_as(const rp_sweep *sw, const sweep_data *d, lp_format f)
{
    const size_t n = (size_t)(sw->B * d->Lmax * sw->V);
    void *p = malloc(n * (size_t)lp_format_get(f)->bytes);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) lp_store_f64(p, f, i, (double)d->q[i] / 8);
    return p;
}

static void gen(rp_sweep *sw, sweep_data *d, uint64_t seed)
{
    const int64_t L = d->Lmax, V = sw->V;
    lp_rng rng;
    lp_rng_init(&rng, seed ^ 0x73756d6d65616eull);
    for (int64_t qd = 0; qd < sw->quads; qd++)
        for (int ch = 0; ch < 2; ch++) {             /* chosen, rejected */
            const int64_t bp = qd * QUAD + 2 * ch, br = bp + 1;   /* policy, reference */
            for (int64_t t = 0; t < L; t++) {
                int8_t *rr = d->q + (br * L + t) * V, *rp = d->q + (bp * L + t) * V;
                int64_t am = 0;
                for (int64_t i = 0; i < V; i++) {
                    int s = -64;
                    for (int j = 0; j < 4; j++) s += (int)lp_rng_below(&rng, 33);
                    rr[i] = (int8_t)s;
                    if (s > rr[am]) am = i;
                    const uint64_t u = lp_rng_below(&rng, 4);
                    rp[i] = (int8_t)(s + (u == 0 ? -1 : u == 1 ? 1 : 0));
                }
                const int64_t y = lp_rng_below(&rng, 2) ? am : (int64_t)lp_rng_below(&rng, (uint64_t)V);
                d->labels[br * L + t] = d->labels[bp * L + t] = y;
            }
        }
}

/* ---- double-double, for the exact margin (the addition is core/lp_dd.h's lp_dd_add) ---- */

static lp_dd dd_neg(lp_dd a) { return (lp_dd){-a.hi, -a.lo}; }

/* a / n for a positive integer n < 2^53: one correction step (the remainder is exact by fma),
 * then Fast2Sum(q, c) (|c| <= |q|: c is about u |q|). */
static lp_dd dd_div(lp_dd a, double n)
{
    const double q = a.hi / n, r = fma(-q, n, a.hi) + a.lo, c = r / n;
    lp_dd d;
    lp_fast_two_sum(q, c, &d.hi, &d.lo);
    return d;
}

static lp_dd dd_margin(const lp_dd *v, int64_t b0)
{
    const lp_dd c = lp_dd_add(v[b0], dd_neg(v[b0 + 1]));
    const lp_dd r = lp_dd_add(v[b0 + 2], dd_neg(v[b0 + 3]));
    return lp_dd_add(c, dd_neg(r));
}

static double fmt_margin(const double *v, int64_t b0, lp_format f)
{
    const double c = lp_round_to(v[b0] - v[b0 + 1], f), r = lp_round_to(v[b0 + 2] - v[b0 + 3], f);
    return lp_round_to(c - r, f);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int64_t n)
{
    if (n == 0) return (double)NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The figures of one kernel at one length: ks, km its sums and means of the B sequences; xs, xm
 * the exact ones. */
static void measure(rp_sweep_k *sk, rp_sweep_pt *pt, const double *ks, const double *km,
                    const lp_dd *xs, const lp_dd *xm, const rp_sweep *sw, double *scratch)
{
    const lp_format F = sk->k->out;
    const int64_t B = sw->B;
    double *us = scratch, *um = scratch + B;
    for (int64_t b = 0; b < B; b++) {
        const lp_err_measure ms = lp_ulp_error(ks[b], xs[b], lp_round_to(xs[b].hi, F), F);
        const lp_err_measure mm = lp_ulp_error(km[b], xm[b], lp_round_to(xm[b].hi, F), F);
        if (ms.cls != LP_CMP_NUMBER || mm.cls != LP_CMP_NUMBER) {
            sk->nonfinite++;
            us[b] = um[b] = (double)INFINITY;
            continue;
        }
        us[b] = ms.err_ulp;
        um[b] = mm.err_ulp;
        pt->sum_ulp = fmax(pt->sum_ulp, ms.err_ulp);
        pt->mean_ulp = fmax(pt->mean_ulp, mm.err_ulp);
        pt->sum_abs = fmax(pt->sum_abs, ms.err_abs);
        pt->mean_abs = fmax(pt->mean_abs, mm.err_abs);
        pt->sum_rel = fmax(pt->sum_rel, ms.err_abs / fabs(xs[b].hi));
        pt->mean_rel = fmax(pt->mean_rel, mm.err_abs / fabs(xm[b].hi));
    }
    pt->sum_ulp50 = median(us, B);
    pt->mean_ulp50 = median(um, B);
    double *as = scratch, *am = scratch + B, *es_ = scratch + 2 * B, *em_ = scratch + 3 * B;
    double *rs = scratch + 4 * B, *rm = scratch + 5 * B;
    for (int64_t qd = 0; qd < sw->quads; qd++) {
        const int64_t b0 = qd * QUAD;
        const lp_dd es = dd_margin(xs, b0), em = dd_margin(xm, b0);
        const double ds = fabs((fmt_margin(ks, b0, F) - es.hi) - es.lo);
        const double dm = fabs((fmt_margin(km, b0, F) - em.hi) - em.lo);
        as[qd] = ds;
        am[qd] = dm;
        es_[qd] = fabs(es.hi);
        em_[qd] = fabs(em.hi);
        pt->msum_abs = fmax(pt->msum_abs, ds);
        pt->mmean_abs = fmax(pt->mmean_abs, dm);
        rs[qd] = ds / fabs(es.hi);
        rm[qd] = dm / fabs(em.hi);
    }
    pt->msum_abs50 = median(as, sw->quads);
    pt->mmean_abs50 = median(am, sw->quads);
    pt->margin_sum = median(es_, sw->quads);
    pt->margin_mean = median(em_, sw->quads);
    pt->msum_rel = median(rs, sw->quads);
    pt->mmean_rel = median(rm, sw->quads);
}

static void sweep_job(void *ctx, size_t ki)
{
    sweep_data *d = ctx;
    rp_sweep *sw = d->sw;
    rp_sweep_k *sk = &sw->k[ki];
    const int64_t B = sw->B, V = sw->V;
    double *scratch = malloc((size_t)(8 * B) * sizeof *scratch);
    void *lg = logits_as(sw, d, sk->k->storage);
    if (!scratch || !lg) {
        sk->nonfinite = -1;   /* out of memory: reported by rp_sweep_run */
        free(scratch);
        free(lg);
        return;
    }
    double *ks = scratch + 6 * B, *km = scratch + 7 * B;
    const size_t esz = (size_t)lp_format_get(sk->k->storage)->bytes;
    for (int li = 0; li < sw->nlen; li++) {
        const int64_t L = sw->len[li];
        for (int64_t b = 0; b < B; b++) {
            lp_problem pb = LP_PROBLEM_INIT;
            pb.shape = (lp_shape){1, L, V};
            pb.fmt = sk->k->storage;
            pb.logits = (const char *)lg + (size_t)(b * d->Lmax * V) * esz;
            pb.labels = d->labels + b * d->Lmax;
            pb.shift = LP_SHIFT_NONE;
            lp_kresult kr;
            memset(&kr, 0, sizeof kr);
            lp_error e = {LP_OK, ""};
            const int ok = lp_kernel_run(&kr, sk->k, &pb, &e) == LP_OK;
            ks[b] = ok ? kr.sum[0] : (double)NAN;
            km[b] = ok ? kr.mean[0] : (double)NAN;
            lp_kresult_free(&kr);
        }
        measure(sk, &sk->pt[li], ks, km, d->xs + li * B, d->xm + li * B, sw, scratch);
    }
    free(scratch);
    free(lg);
}

static int sweep_kernel(const lp_kernel *k)
{
    return (k->family == LP_KF_TWOPASS || k->family == LP_KF_ACCURATE) && k->mask == LP_KMASK_ASSIGN &&
           k->empty_mean == LP_EMPTY_NAN && k->oob == LP_KOOB_ERROR &&
           (k->temp == LP_KTEMP_DIV || k->temp == LP_KTEMP_SHIFTDIV);
}

lp_status rp_sweep_run(rp_sweep *sw, const rp_kernels *ks, const rp_options *o, lp_error *err)
{
    memset(sw, 0, sizeof *sw);
    const int64_t maxlen = o->quick ? 512 : 8192;
    for (int64_t p = 1; p <= maxlen; p *= 2) {
        sw->len[sw->nlen++] = p;
        if (p >= 2 && 3 * p / 2 < maxlen) sw->len[sw->nlen++] = 3 * p / 2;
    }
    sw->quads = o->quick ? 2 : 8;
    sw->B = QUAD * sw->quads;
    sw->V = o->quick ? 16 : 32;
    sw->k = calloc(ks->n ? ks->n : 1, sizeof *sw->k);
    if (!sw->k) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ks->n; i++)
        if (sweep_kernel(ks->v[i].k)) sw->k[sw->nk++].k = ks->v[i].k;
    if (sw->nk == 0) return LP_OK;

    sweep_data d;
    memset(&d, 0, sizeof d);
    d.sw = sw;
    d.Lmax = maxlen;
    const int64_t B = sw->B, L = maxlen;
    d.q = malloc((size_t)(B * L * sw->V));
    d.labels = malloc((size_t)(B * L) * sizeof *d.labels);
    d.xs = calloc((size_t)(sw->nlen * B), sizeof *d.xs);
    d.xm = calloc((size_t)(sw->nlen * B), sizeof *d.xm);
    void *lg = NULL;
    lp_ref_result ref;
    memset(&ref, 0, sizeof ref);
    lp_status s = LP_OK;
    if (!d.q || !d.labels || !d.xs || !d.xm) s = lp_fail(err, LP_ERR_NOMEM, "out of memory for the sweep");
    if (s == LP_OK) {
        gen(sw, &d, o->seed);
        if (!(lg = logits_as(sw, &d, LP_F64))) s = lp_fail(err, LP_ERR_NOMEM, "out of memory for the sweep");
    }
    if (s == LP_OK) {
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, L, sw->V};
        pb.fmt = LP_F64;
        pb.logits = lg;
        pb.labels = d.labels;
        pb.shift = LP_SHIFT_NONE;
        lp_ref_options ropt = LP_REF_OPTIONS_INIT;
        ropt.threads = o->threads;
        s = lp_ref_compute_opts(&ref, &pb, &ropt, err);
    }
    free(lg);
    if (s == LP_OK) {   /* exact prefix sums and means */
        double lsum = 0;
        for (int64_t b = 0; b < B; b++) {
            lp_dd acc = {0, 0};
            for (int64_t t = 0, li = 0; t < L; t++) {
                acc = lp_dd_add(acc, ref.logp[b * L + t].dd);
                lsum += ref.logp[b * L + t].dd.hi;
                if (li < sw->nlen && t + 1 == sw->len[li]) {
                    d.xs[li * B + b] = acc;
                    d.xm[li * B + b] = dd_div(acc, (double)(t + 1));
                    li++;
                }
            }
        }
        sw->tokens = B * L;
        sw->mean_logp = lsum / (double)(B * L);
        s = rp_parallel(o->threads, sw->nk, sweep_job, &d, err);
        for (size_t i = 0; i < sw->nk && s == LP_OK; i++)
            if (sw->k[i].nonfinite < 0) s = lp_fail(err, LP_ERR_NOMEM, "out of memory for the sweep");
    }
    lp_ref_result_free(&ref);
    free(d.q);
    free(d.labels);
    free(d.xs);
    free(d.xm);
    return s;
}

void rp_sweep_free(rp_sweep *sw)
{
    free(sw->k);
    memset(sw, 0, sizeof *sw);
}

const rp_sweep_k *rp_sweep_find(const rp_sweep *sw, const char *kernel)
{
    for (size_t i = 0; i < sw->nk; i++)
        if (strcmp(sw->k[i].k->name, kernel) == 0) return &sw->k[i];
    return NULL;
}
