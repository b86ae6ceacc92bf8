/* cli/report_sweep.c: sum versus mean against sequence length, and the DPO margin.
 *
 * Per length L (1 to 8192: powers of 2, and 3 * 2^k up to 96): B sequences of L scored tokens
 * (shift none, no mask), V = 32. Logits are multiples of 1/8 in [-8.125, 8.125] (a sum of four integer draws, close
 * to a normal of deviation 2.4), so the same values are exact in f64, f32, f16 and bf16 and one
 * exact reference serves every kernel. The label is the row's argmax with probability 1/2, else
 * uniform (a mixture of near-certain and ordinary tokens, as in real text).
 *
 * The sequences come in DPO quads (policy chosen, reference chosen, policy rejected, reference
 * rejected): a policy row is its reference row plus -1/8, 0 or +1/8 per logit, with the same
 * labels, so the log-ratios are small differences of large sums, as in training. Margins:
 *     from sums   (S_pc - S_rc) - (S_pr - S_rr)        from means   the same with the means
 * The kernel's margin is computed in its output format, one rounding per subtraction, as a framework
 * computes it on tensors of that dtype; the exact margin from the reference's double-doubles in
 * double-double arithmetic (error below 2^-100 of the largest sum, far below any kernel's).
 *
 * Kernels: the selected twopass and accurate kernels with default conventions (the others differ
 * from these only in masking, labels or temperature, none of which the sweep exercises). */
#include <math.h>
#include <unistd.h>

#include "lp_format.h"
#include "lp_rng.h"
#include "report.h"

#define QUAD 4

typedef struct sweep_data {
    rp_sweep *sw;
    int8_t *q[RP_MAXLEN];          /* logits * 8, [B, L, V] */
    int64_t *labels[RP_MAXLEN];    /* [B, L] */
    lp_ref_result ref[RP_MAXLEN];
    lp_status status;
    lp_error err;
} sweep_data;

static lp_problem problem(const rp_sweep *sw, const sweep_data *d, int li, lp_format f,
                          const void *logits)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){sw->B, sw->len[li], sw->V};
    pb.fmt = f;
    pb.logits = logits;
    pb.labels = d->labels[li];
    pb.shift = LP_SHIFT_NONE;
    return pb;
}

static void *logits_as(const rp_sweep *sw, const sweep_data *d, int li, lp_format f)
{
    const size_t n = (size_t)(sw->B * sw->len[li] * sw->V);
    void *p = malloc(n * (size_t)lp_format_get(f)->bytes);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) lp_store_f64(p, f, i, (double)d->q[li][i] / 8);
    return p;
}

static void gen_length(rp_sweep *sw, sweep_data *d, int li, uint64_t seed)
{
    const int64_t L = sw->len[li], V = sw->V;
    lp_rng rng;
    lp_rng_init(&rng, seed ^ 0x73756d6d65616eull ^ ((uint64_t)L << 20));
    for (int64_t qd = 0; qd < sw->quads; qd++)
        for (int ch = 0; ch < 2; ch++) {             /* chosen, rejected */
            const int64_t bp = qd * QUAD + 2 * ch, br = bp + 1;   /* policy, reference */
            for (int64_t t = 0; t < L; t++) {
                int8_t *rr = d->q[li] + (br * L + t) * V, *rp = d->q[li] + (bp * L + t) * V;
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
                d->labels[li][br * L + t] = d->labels[li][bp * L + t] = y;
            }
        }
}

/* ---- double-double, for the exact margin ---- */

static lp_dd dd_add(lp_dd a, lp_dd b)
{
    const double s = a.hi + b.hi, bb = s - a.hi, e = (a.hi - (s - bb)) + (b.hi - bb);
    const double lo = e + a.lo + b.lo, hi = s + lo;
    return (lp_dd){hi, lo - (hi - s)};
}

static lp_dd dd_neg(lp_dd a) { return (lp_dd){-a.hi, -a.lo}; }

static lp_dd dd_margin(const lp_value *v, int64_t b0)
{
    const lp_dd c = dd_add(v[b0].dd, dd_neg(v[b0 + 1].dd));
    const lp_dd r = dd_add(v[b0 + 2].dd, dd_neg(v[b0 + 3].dd));
    return dd_add(c, dd_neg(r));
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

/* The figures of one kernel at one length. */
static void measure(rp_sweep_k *sk, rp_sweep_pt *pt, const lp_kresult *kr, const lp_ref_result *ref,
                    const rp_sweep *sw, double *scratch)
{
    const lp_format F = sk->k->out;
    const int64_t B = sw->B;
    double *us = scratch, *um = scratch + B;
    for (int64_t b = 0; b < B; b++) {
        const lp_value *ws = &ref->sum[b], *wm = &ref->mean[b];
        const lp_err_measure ms = lp_ulp_error(kr->sum[b], ws->dd, lp_value_wide(ws, F), F);
        const lp_err_measure mm = lp_ulp_error(kr->mean[b], wm->dd, lp_value_wide(wm, F), F);
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
        pt->sum_rel = fmax(pt->sum_rel, ms.err_abs / fabs(ws->dd.hi));
        pt->mean_rel = fmax(pt->mean_rel, mm.err_abs / fabs(wm->dd.hi));
    }
    pt->sum_ulp50 = median(us, B);
    pt->mean_ulp50 = median(um, B);
    double *as = scratch, *am = scratch + B, *xs = scratch + 2 * B, *xm = scratch + 3 * B;
    for (int64_t qd = 0; qd < sw->quads; qd++) {
        const int64_t b0 = qd * QUAD;
        const lp_dd es = dd_margin(ref->sum, b0), em = dd_margin(ref->mean, b0);
        const double ks = fmt_margin(kr->sum, b0, F), km = fmt_margin(kr->mean, b0, F);
        const double ds = fabs((ks - es.hi) - es.lo), dm = fabs((km - em.hi) - em.lo);
        as[qd] = ds;
        am[qd] = dm;
        xs[qd] = fabs(es.hi);
        xm[qd] = fabs(em.hi);
        pt->msum_abs = fmax(pt->msum_abs, ds);
        pt->mmean_abs = fmax(pt->mmean_abs, dm);
        pt->msum_rel = fmax(pt->msum_rel, ds / fabs(es.hi));
        pt->mmean_rel = fmax(pt->mmean_rel, dm / fabs(em.hi));
    }
    pt->msum_abs50 = median(as, sw->quads);
    pt->mmean_abs50 = median(am, sw->quads);
    pt->margin_sum = median(xs, sw->quads);
    pt->margin_mean = median(xm, sw->quads);
}

static void sweep_job(void *ctx, size_t ki)
{
    sweep_data *d = ctx;
    rp_sweep *sw = d->sw;
    rp_sweep_k *sk = &sw->k[ki];
    double *scratch = malloc((size_t)(4 * sw->B) * sizeof *scratch);
    if (!scratch) return;   /* left zero; status set below */
    for (int li = 0; li < sw->nlen; li++) {
        void *lg = logits_as(sw, d, li, sk->k->storage);
        if (!lg) break;
        const lp_problem pb = problem(sw, d, li, sk->k->storage, lg);
        lp_kresult kr;
        memset(&kr, 0, sizeof kr);
        lp_error e = {LP_OK, ""};
        if (lp_kernel_run(&kr, sk->k, &pb, &e) == LP_OK)
            measure(sk, &sk->pt[li], &kr, &d->ref[li], sw, scratch);
        else
            sk->nonfinite += sw->B;
        lp_kresult_free(&kr);
        free(lg);
    }
    free(scratch);
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
        if (p >= 2 && p <= 64) sw->len[sw->nlen++] = 3 * p / 2;   /* in between, where cheap */
    }
    sw->quads = o->quick ? 2 : 4;
    sw->B = QUAD * sw->quads;
    sw->V = o->quick ? 16 : 32;
    sw->k = calloc(ks->n ? ks->n : 1, sizeof *sw->k);
    if (!sw->k) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ks->n; i++)
        if (sweep_kernel(ks->v[i].k)) sw->k[sw->nk++].k = ks->v[i].k;
    if (sw->nk == 0) return LP_OK;

    sweep_data *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    d->sw = sw;
    lp_status s = LP_OK;
    lp_ref_options ropt = LP_REF_OPTIONS_INIT;
    ropt.threads = o->threads;
    double lsum = 0;
    for (int li = 0; li < sw->nlen && s == LP_OK; li++) {
        const int64_t L = sw->len[li];
        d->q[li] = malloc((size_t)(sw->B * L * sw->V));
        d->labels[li] = malloc((size_t)(sw->B * L) * sizeof(int64_t));
        if (!d->q[li] || !d->labels[li]) {
            s = lp_fail(err, LP_ERR_NOMEM, "out of memory for the sweep");
            break;
        }
        gen_length(sw, d, li, o->seed);
        void *lg = logits_as(sw, d, li, LP_F64);
        if (!lg) {
            s = lp_fail(err, LP_ERR_NOMEM, "out of memory for the sweep");
            break;
        }
        const lp_problem pb = problem(sw, d, li, LP_F64, lg);
        s = lp_ref_compute_opts(&d->ref[li], &pb, &ropt, err);
        free(lg);
        if (s != LP_OK) break;
        for (int64_t i = 0; i < sw->B * L; i++) lsum += d->ref[li].logp[i].dd.hi;
        sw->tokens += sw->B * L;
        if (isatty(fileno(stderr)))
            fprintf(stderr, "\r\033[Klpcert report: sweep reference, length %lld", (long long)L);
    }
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    sw->mean_logp = sw->tokens ? lsum / (double)sw->tokens : 0;
    if (s == LP_OK) s = rp_parallel(o->threads, sw->nk, sweep_job, d, err);
    for (int li = 0; li < sw->nlen; li++) {
        free(d->q[li]);
        free(d->labels[li]);
        lp_ref_result_free(&d->ref[li]);
    }
    free(d);
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
