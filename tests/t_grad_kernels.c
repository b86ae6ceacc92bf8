/* tests/t_grad_kernels.c: every backward kernel (impl/lp_grad.h) stays within its contract against
 * the exact gradient reference (lp_grad_compute, SPEC A8), element by element, on:
 *   random   seeded problems in the kernel's formats: normal logits at scales 1, 10, 30, peaked
 *            rows (p_y = 1 - 10^-k, k = 1..12), ties (all finite logits equal: the exact rows),
 *            vocabulary masking by -inf, the label at -inf, NaN / +inf / all -inf rows, masks and
 *            ignored labels, empty sequences, both shifts, temperatures 1, 0.7, 2, and every
 *            reduction (token, sum, mean, token_mean); rows that score nothing must be +0.
 *   bug      the known bug class (grad_softmax_bf16_acc32_pbf16, Liger-Kernel #1329): on rows with
 *            p_y >= 0.999 its label element is exactly 0 (100 % relative error, row_rel 1.0), while
 *            grad_softmax_bf16_acc32 keeps a small error and grad_accurate_bf16_acc32 is within 1
 *            bf16 ulp: printed, and required.
 *   ulp      the accurate kernels' relative contract gives at most 0.5 ulp + a small G u term:
 *            measured max ulp printed (< 1 required on these rows).
 * A failure prints the kernel, case, seed, element and both values in hex and decimal.
 * LPCERT_LEVEL=2 multiplies the random budget by 4. */
#include <math.h>

#include "lp_case.h"
#include "lp_format.h"
#include "lp_grad.h"
#include "lp_problem.h"
#include "lpt.h"

typedef struct kst {
    double worst;            /* worst error / bound */
    double max_ulp;          /* over numbers in counted rows */
    int64_t elements;
    char worst_at[200];
} kst;

static kst stats[16];

static void case_init(lp_case *c, const char *name, lp_format fmt, int64_t B, int64_t T, int64_t V)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape.B = B;
    pb.shape.T = T;
    pb.shape.V = V;
    pb.fmt = fmt;
    c->logits = calloc((size_t)(B * T * V), (size_t)lp_format_get(fmt)->bytes);
    c->labels = calloc((size_t)(B * T), sizeof *c->labels);
    LP_ASSERT(c->logits && c->labels);
    pb.logits = c->logits;
    pb.labels = c->labels;
    pb.label_type = LP_I64;
    c->pb = pb;
}

static void put(lp_case *c, size_t i, double x) { lp_store_f64(c->logits, c->pb.fmt, i, x); }

/* ---- reference and kernel into buffers ---- */

typedef struct rbuf { lp_value *v; int64_t V; int64_t T; } rbuf;

static int ref_sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)err;
    rbuf *r = user;
    memcpy(r->v + ((size_t)b * (size_t)r->T + (size_t)t) * (size_t)V, g, (size_t)V * sizeof *g);
    return 0;
}

typedef struct kbuf { double *v; int64_t T; } kbuf;

static int k_sink(void *user, int64_t b, int64_t t, const double *g, int64_t V, lp_error *err)
{
    (void)err;
    kbuf *r = user;
    memcpy(r->v + ((size_t)b * (size_t)r->T + (size_t)t) * (size_t)V, g, (size_t)V * sizeof *g);
    return 0;
}

static void check_kernel(size_t ki, const lp_case *c, lp_reduction red, const lp_value *ref,
                         uint64_t seed)
{
    const lp_gkernel *k = lp_gkernel_at(ki);
    const lp_problem *pb = &c->pb;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V, Ts = lp_problem_ts(pb);
    double *got = malloc((size_t)(B * T * V) * sizeof *got);
    int64_t *div = malloc((size_t)B * sizeof *div);
    LP_ASSERT(got && div);
    kbuf kb = {got, T};
    lp_error err = {LP_OK, ""};
    lp_status s = lp_gkernel_run(k, pb, red, k_sink, &kb, &err);
    if (!lpt_check(s == LP_OK, "%s case=%s: lp_gkernel_run: %s", k->name, c->name, err.msg)) {
        free(got);
        free(div);
        return;
    }
    lp_grad_divisors(div, pb, red);
    kst *ks = &stats[ki];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const int counted = t < Ts && lp_problem_counted(pb, b, t);
            const int64_t label = counted ? lp_problem_label(pb, b, lp_problem_label_t(pb, t)) : -1;
            const void *row = (const char *)pb->logits +
                              ((size_t)b * (size_t)T + (size_t)t) * (size_t)V *
                                  (size_t)lp_format_get(pb->fmt)->bytes;
            lp_gpromise p = {0, 1, 0, 0, 0};
            if (counted)
                p = lp_gkernel_promise_row(k, row, pb->fmt, V, label, pb->temperature, div[b]);
            const double cscale = counted ? (1.0 / (double)div[b]) / pb->temperature : 0.0;
            for (int64_t i = 0; i < V; i++) {
                const size_t at = ((size_t)b * (size_t)T + (size_t)t) * (size_t)V + (size_t)i;
                const lp_value *x = &ref[at];
                double ratio;
                const int ok = lp_gkernel_judge(&p, counted, got[at], x, cscale, &ratio);
                if (counted && p.in_domain && !p.special && isfinite(x->dd.hi)) {
                    ks->elements++;
                    const lp_err_measure m = lp_ulp_error(got[at], x->dd, lp_value_wide(x, k->out),
                                                          k->out);
                    if (m.cls == LP_CMP_NUMBER && m.err_ulp > ks->max_ulp) ks->max_ulp = m.err_ulp;
                    if (ratio > ks->worst) {
                        ks->worst = ratio;
                        snprintf(ks->worst_at, sizeof ks->worst_at, "%.60s %s b=%lld t=%lld i=%lld",
                                 c->name, lp_reduction_name(red), (long long)b, (long long)t,
                                 (long long)i);
                    }
                }
                if (ok) continue;
                char gh[64], wh[64];
                lp_format_hexdec(gh, sizeof gh, got[at], k->out);
                lp_format_hexdec(wh, sizeof wh, lp_value_wide(x, k->out), k->out);
                lpt_check(0, "%s case=%s seed=0x%llx %s b=%lld t=%lld i=%lld label=%lld V=%lld "
                          "tau=%g counted=%d", k->name, c->name, (unsigned long long)seed,
                          lp_reduction_name(red), (long long)b, (long long)t, (long long)i,
                          (long long)label, (long long)V, pb->temperature, counted);
                lpt_note("got %s want %s exact %.17g%+.3e bound %.4g (rel %.3g scale %.3g abs %.3g "
                         "special %d)", gh, wh, x->dd.hi, x->dd.lo,
                         counted ? lp_gpromise_bound(&p, x->dd.hi, cscale) : 0.0, p.rel, p.scale,
                         p.abs, p.special);
            }
        }
    free(got);
    free(div);
}

static void check_case(const lp_case *c, uint64_t seed)
{
    const lp_problem *pb = &c->pb;
    const size_t n = (size_t)(pb->shape.B * pb->shape.T * pb->shape.V);
    lp_value *ref = malloc(n * sizeof *ref);
    LP_ASSERT(ref);
    for (int r = 0; r <= LP_RED_TOKEN_MEAN; r++) {
        rbuf rb = {ref, pb->shape.V, pb->shape.T};
        lp_error err = {LP_OK, ""};
        lp_ref_options ro = LP_REF_OPTIONS_INIT;
        ro.threads = 1;
        if (!lpt_check(lp_grad_compute(pb, (lp_reduction)r, &ro, ref_sink, &rb, NULL, &err) == LP_OK,
                       "case=%s: lp_grad_compute: %s", c->name, err.msg))
            continue;
        for (size_t ki = 0; ki < lp_gkernel_count(); ki++)
            if (lp_gkernel_accepts(lp_gkernel_at(ki), pb->fmt))
                check_kernel(ki, c, (lp_reduction)r, ref, seed);
    }
    free(ref);
}

/* ---- random problems ---- */

static void random_case(lp_rng *rng, int idx, uint64_t seed)
{
    static const lp_format fmts[] = {LP_F32, LP_BF16, LP_F64, LP_F16};
    const lp_format fmt = fmts[idx % 4];
    const int64_t B = 1 + (int64_t)(lp_rng_next(rng) % 3), T = 1 + (int64_t)(lp_rng_next(rng) % 4);
    const int64_t V = 1 + (int64_t)(lp_rng_next(rng) % (idx % 5 == 0 ? 600 : 40));
    char name[64];
    const int kind = (int)(lp_rng_next(rng) % 6);
    snprintf(name, sizeof name, "random/%s/%d/kind%d", lp_format_name(fmt), idx, kind);
    lp_case c;
    case_init(&c, name, fmt, B, T, V);
    const double scales[] = {1, 10, 30};
    const double sc = scales[lp_rng_next(rng) % 3];
    c.pb.shift = lp_rng_next(rng) % 2 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    const double taus[] = {1, 1, 0.7, 2};
    c.pb.temperature = taus[lp_rng_next(rng) % 4];
    int64_t *ys = malloc((size_t)(B * T) * sizeof *ys);
    LP_ASSERT(ys);
    for (int64_t r = 0; r < B * T; r++) {
        const int64_t y = (int64_t)(lp_rng_next(rng) % (uint64_t)V);
        ys[r] = lp_rng_next(rng) % 8 == 0 ? -100 : y;            /* the label row r scores */
        for (int64_t i = 0; i < V; i++) {
            double x = sc * lp_rng_normal(rng);
            if (kind == 1) x = 0.5;                                   /* ties */
            if (kind == 2 && lp_rng_next(rng) % 3 == 0) x = -HUGE_VAL; /* vocabulary masking */
            put(&c, (size_t)(r * V + i), x);
        }
        if (kind == 3) {                                              /* peaked: p_y = 1 - 10^-k */
            const double kk = 1 + (double)(lp_rng_next(rng) % 12);
            for (int64_t i = 0; i < V; i++) put(&c, (size_t)(r * V + i), 0.0);
            if (V > 1) put(&c, (size_t)(r * V + y), log((double)(V - 1)) + kk * log(10.0));
        }
        if (kind == 4 && lp_rng_next(rng) % 3 == 0) {                 /* special rows */
            const double sp[] = {(double)NAN, HUGE_VAL, -HUGE_VAL};
            const int w = (int)(lp_rng_next(rng) % 3);
            if (w == 2)
                for (int64_t i = 0; i < V; i++) put(&c, (size_t)(r * V + i), -HUGE_VAL);
            else
                put(&c, (size_t)(r * V + (int64_t)(lp_rng_next(rng) % (uint64_t)V)), sp[w]);
        }
        if (kind == 5) put(&c, (size_t)(r * V + y), -HUGE_VAL);       /* label at -inf */
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            if (c.pb.shift == LP_SHIFT_NONE) c.labels[b * T + t] = ys[b * T + t];
            else c.labels[b * T + t] = t == 0 ? 0 : ys[b * T + t - 1];
        }
    free(ys);
    if (lp_rng_next(rng) % 3 == 0) {
        c.mask = calloc((size_t)(B * T), 1);
        LP_ASSERT(c.mask);
        for (int64_t r = 0; r < B * T; r++) c.mask[r] = (uint8_t)(lp_rng_next(rng) % 4 != 0);
        if (B > 1) for (int64_t t = 0; t < T; t++) c.mask[t] = 0;    /* an empty sequence */
        c.pb.mask = c.mask;
    }
    check_case(&c, seed);
    lp_case_free(&c);
}

/* ---- the known bug: p_y >= 0.999 ---- */

static void bug_rows(void)
{
    const int64_t V = 1000;
    const lp_gkernel *bug = lp_gkernel_find("grad_softmax_bf16_acc32_pbf16"),
                     *plain = lp_gkernel_find("grad_softmax_bf16_acc32"),
                     *acc = lp_gkernel_find("grad_accurate_bf16_acc32"),
                     *f32 = lp_gkernel_find("grad_softmax_f32");
    LP_ASSERT(bug && plain && acc && f32);
    uint16_t row[1000];
    float rowf[1000];
    double g[1000];
    lp_value ref[1000];
    printf("  label element g_y = 1 - p_y, V = %lld, other logits 0 (row_rel = |err| / max|g|):\n",
           (long long)V);
    printf("  %-10s %-12s %-12s %-12s %-12s %-12s\n", "1 - p_y", "exact", "pbf16", "softmax_bf16",
           "accurate_bf16", "softmax_f32");
    for (int k = 3; k <= 7; k++) {
        const double L = log((double)(V - 1)) + k * log(10.0);
        for (int64_t i = 0; i < V; i++) {
            row[i] = lp_bf16_from_f64(i == 7 ? L : 0.0);
            rowf[i] = lp_bf16_to_f32(row[i]);
        }
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_grad_row(ref, row, LP_BF16, V, 7, 1.0, NULL, 1, &err) == LP_OK);
        const double x = ref[7].dd.hi;
        double rr[4];
        const lp_gkernel *ks[4] = {bug, plain, acc, f32};
        for (int j = 0; j < 4; j++) {
            if (j < 3) LP_ASSERT(lp_gkernel_row(g, ks[j], row, LP_BF16, V, 7, 1.0, 1, &err) == LP_OK);
            else LP_ASSERT(lp_gkernel_row(g, ks[j], rowf, LP_F32, V, 7, 1.0, 1, &err) == LP_OK);
            rr[j] = fabs(g[7] - x) / x;   /* the label element is the row's max |g| */
            if (j == 0) {
                char gh[64];
                lp_format_hexdec(gh, sizeof gh, g[7], LP_BF16);
                lpt_check(g[7] == 0.0, "pbf16: label element %s, expected exactly 0 for 1 - p_y = %.3g",
                          gh, x);
            }
            if (j == 2) {
                const lp_err_measure m = lp_ulp_error(g[7], ref[7].dd, lp_value_wide(&ref[7], LP_BF16),
                                                      LP_BF16);
                lpt_check(m.err_ulp <= 1.0, "accurate_bf16: label element %.4g ulp at 1 - p_y = %.3g",
                          m.err_ulp, x);
            }
        }
        lpt_check(rr[0] == 1.0, "pbf16 row_rel %.6g, expected 1 (100 %%)", rr[0]);
        printf("  %-10.3g %-12.6g %-12.4g %-12.4g %-12.4g %-12.4g\n", x, x, rr[0], rr[1], rr[2],
               rr[3]);
    }
}

int main(void)
{
    lpt_begin("t_grad_kernels");
    const uint64_t seed = lpt_seed();
    lp_rng rng;
    lp_rng_init(&rng, seed);
    LP_ASSERT(lp_gkernel_count() <= sizeof stats / sizeof stats[0]);
    const int n = 200 * (lpt_level() >= 2 ? 4 : 1);
    for (int i = 0; i < n; i++) random_case(&rng, i, seed);
    bug_rows();
    printf("  kernel                          elements   worst err/bound  max ulp   where\n");
    for (size_t i = 0; i < lp_gkernel_count(); i++) {
        const lp_gkernel *k = lp_gkernel_at(i);
        printf("  %-30s %9lld %16.4g %9.4g   %s\n", k->name, (long long)stats[i].elements,
               stats[i].worst, stats[i].max_ulp, stats[i].worst_at);
        lpt_check(stats[i].elements > 0, "%s: no element judged", k->name);
        if (k->family == LP_GF_ACCURATE)
            lpt_check(stats[i].max_ulp < 1.0, "%s: max ulp %.4g on these rows (expected < 1)",
                      k->name, stats[i].max_ulp);
    }
    return lpt_end();
}
