/* tests/t_processed_kernels.c: the processed-log-prob kernels (impl/processed.c) against their
 * contracts.
 *   tanhf      the system tanhf against MPFR, held to LP_LIBM_TANH_ULP (the softcap analysis
 *              assumes it); sampled, so the printed maximum is a lower bound.
 *   structure  no sampling parameter: every output (tokens, sums, means, token mean) is the base
 *              kernel's, bit for bit; top_k >= V: the base kernel at the same temperature, bit
 *              for bit; a label the kernel drops is -inf.
 *   contract   on generated rows (softcap 30 and 50 over logits of +-100, top_k with ties, top_p
 *              0.8/0.9/0.95/1 over realistic logits, min_p, all together; temperatures 1 and 0.7;
 *              f32/bf16/f16 logits): the kernel's value within lp_pkernel_promise_row's bound of
 *              the exact log-prob over the kernel's own kept set K (computed here with MPFR at 320
 *              bits, independently of the reference); where the kept set is provably exact
 *              (lp_pkernel_keptset_exact) K is also checked equal to SPEC A7's set (for top_k,
 *              the threshold on the exact values, computed here).
 *   reference  where the library's reference implements SPEC A7 (lp_problem_check accepts
 *              sampling): the proved contracts against lp_ref_compute itself, and the kept-set
 *              disagreements of every kernel (kernel -inf where the reference is finite, or the
 *              reverse) counted and printed per parameter set: measured, not asserted.
 *   check      check's comparison (ck_run_case) of a processed kernel's tokens counts as kept-set
 *              disagreements exactly the class mismatches that are -inf against finite (either
 *              way), computed here from the two arrays; a problem without sampling counts none.
 * LPCERT_LEVEL=2 multiplies the row counts by 4. */
#include <math.h>
#include <mpfr.h>

#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_impl.h"
#include "lp_pkernel.h"
#include "lp_problem.h"
#include "lpt.h"

static int level = 1;

/* ---- tanhf -------------------------------------------------------------------------------------- */

static mpfr_t mt, md;

static double tanhf_ulp(float x)
{
    const float y = tanhf(x);
    mpfr_set_d(mt, (double)x, MPFR_RNDN);
    mpfr_tanh(mt, mt, MPFR_RNDN);
    if (mpfr_zero_p(mt)) return y == 0 ? 0 : HUGE_VAL;
    mpfr_sub_d(md, mt, (double)y, MPFR_RNDN);
    mpfr_abs(md, md, MPFR_RNDN);
    long e = mpfr_get_exp(mt) - 1;
    if (e < -126) e = -126;
    mpfr_mul_2si(md, md, -(e - 23), MPFR_RNDN);
    return mpfr_get_d(md, MPFR_RNDU);
}

static void test_tanhf(uint64_t seed)
{
    lpt_rng r;
    lpt_rng_init(&r, seed ^ 0x7a9b);
    double worst = 0, wx = 0;
    const int64_t n = 200000 * level;
    for (int64_t i = 0; i < n; i++) {
        float x;
        if (i % 4 == 0) x = (float)ldexp(lpt_rng_unif(&r) + 1, (int)(lpt_rng_next(&r) % 160) - 150);
        else x = (float)((lpt_rng_unif(&r) * 2 - 1) * (i % 4 == 1 ? 1 : i % 4 == 2 ? 5 : 12));
        if (i % 2) x = -x;
        const double e = tanhf_ulp(x);
        if (e > worst) {
            worst = e;
            wx = (double)x;
        }
        if (!lpt_check(e <= LP_LIBM_TANH_ULP, "tanhf(%a) = %a: %.3f ulp > LP_LIBM_TANH_ULP %g",
                       (double)x, (double)tanhf(x), e, LP_LIBM_TANH_ULP))
            break;
    }
    printf("tanhf: %lld samples, max %.4f ulp at %a (assumed %g)\n", (long long)n, worst, wx,
           LP_LIBM_TANH_ULP);
}

/* ---- generated rows ----------------------------------------------------------------------------- */

typedef enum rowkind { RW_REAL, RW_WIDE, RW_TIES, RW_PEAKED } rowkind;

/* V logits of kind into x (doubles, then rounded to fmt). */
static void gen_row(double *x, int64_t V, rowkind kind, lp_format fmt, lpt_rng *r)
{
    for (int64_t i = 0; i < V; i++) {
        double v;
        switch (kind) {
        case RW_WIDE: v = (lpt_rng_unif(r) * 2 - 1) * 100; break;
        case RW_TIES: v = (double)(lpt_rng_next(r) % 6); break;
        case RW_PEAKED: v = lpt_rng_normal(r) * 2 - (i % 7 == 0 ? 0 : 6); break;
        default: v = lpt_rng_normal(r) * 2.5 + (lpt_rng_unif(r) < 0.01 ? 8 : 0); break;
        }
        x[i] = lp_round_to(v, fmt);
    }
}

/* A7 with the parameters of one test set. */
typedef struct pset {
    const char *name;
    lp_sampling s;
    double tau;
    rowkind kind;
} pset;

static const pset psets[] = {
    {"softcap30", {30, 0, 0, 0}, 1.0, RW_WIDE},
    {"softcap50", {50, 0, 0, 0}, 1.0, RW_WIDE},
    {"softcap30_t0.7", {30, 0, 0, 0}, 0.7, RW_WIDE},
    {"topk1_ties", {0, 1, 0, 0}, 1.0, RW_TIES},
    {"topk5_ties", {0, 5, 0, 0}, 1.0, RW_TIES},
    {"topk50", {0, 50, 0, 0}, 1.0, RW_REAL},
    {"topk5_ties_t0.7", {0, 5, 0, 0}, 0.7, RW_TIES},
    {"topk20_softcap30", {30, 20, 0, 0}, 1.0, RW_WIDE},
    {"topp0.8", {0, 0, 0.8, 0}, 1.0, RW_REAL},
    {"topp0.9", {0, 0, 0.9, 0}, 1.0, RW_REAL},
    {"topp0.95", {0, 0, 0.95, 0}, 1.0, RW_REAL},
    {"topp0.9_peaked", {0, 0, 0.9, 0}, 1.0, RW_PEAKED},
    {"topp0.9_ties", {0, 0, 0.9, 0}, 1.0, RW_TIES},
    {"topp1", {0, 0, 1.0, 0}, 1.0, RW_WIDE},
    {"minp0.05", {0, 0, 0, 0.05}, 1.0, RW_REAL},
    {"minp0.1_t0.7", {0, 0, 0, 0.1}, 0.7, RW_REAL},
    {"all", {30, 50, 0.9, 0.05}, 0.7, RW_REAL},
};
#define NPSETS (sizeof psets / sizeof psets[0])

/* ---- the exact log-prob over a kept set (MPFR, 320 bits) -------------------------------------- */

static mpfr_t ez, em, es, et;

static void zval(mpfr_t z, double x, double cap, double tau)
{
    mpfr_set_d(z, x, MPFR_RNDN);
    if (cap > 0) {
        mpfr_div_d(z, z, cap, MPFR_RNDN);
        mpfr_tanh(z, z, MPFR_RNDN);
        mpfr_mul_d(z, z, cap, MPFR_RNDN);
    }
    mpfr_div_d(z, z, tau, MPFR_RNDN);
}

/* logp_K of the exact processed row, K = {i: kept[i]}; y in K. */
static lp_dd exact_logp(const double *x, const uint8_t *kept, int64_t V, int64_t y, double cap,
                        double tau)
{
    int first = 1;
    for (int64_t i = 0; i < V; i++) {
        if (!kept[i]) continue;
        zval(ez, x[i], cap, tau);
        if (first || mpfr_greater_p(ez, em)) mpfr_set(em, ez, MPFR_RNDN);
        first = 0;
    }
    mpfr_set_zero(es, 1);
    for (int64_t i = 0; i < V; i++) {
        if (!kept[i]) continue;
        zval(ez, x[i], cap, tau);
        mpfr_sub(ez, ez, em, MPFR_RNDN);
        mpfr_exp(ez, ez, MPFR_RNDN);
        mpfr_add(es, es, ez, MPFR_RNDN);
    }
    mpfr_log(es, es, MPFR_RNDN);
    zval(et, x[y], cap, tau);
    mpfr_sub(et, et, em, MPFR_RNDN);
    mpfr_sub(et, et, es, MPFR_RNDN);
    lp_dd d;
    d.hi = mpfr_get_d(et, MPFR_RNDN);
    mpfr_sub_d(ez, et, d.hi, MPFR_RNDN);
    d.lo = mpfr_get_d(ez, MPFR_RNDN);
    return d;
}

/* ---- contract on rows ------------------------------------------------------------------------- */

typedef struct cstat {
    int64_t tokens, in_k, dropped, outside;
    double worst_ratio, worst_ulp;
    int64_t rows_diff, kdrop, kkeep, vs_ref;   /* against the reference's kept set and values */
} cstat;

static void check_row(const lp_pkernel *k, const pset *ps, const double *x, lp_format fmt,
                      int64_t V, int64_t y, cstat *cs, uint64_t seed, int64_t row)
{
    const lp_format out = lp_pkernel_base(k)->out;
    void *buf = malloc((size_t)V * (size_t)lp_format_get(fmt)->bytes);
    double *w = malloc((size_t)V * sizeof *w);
    uint8_t *kept = malloc((size_t)V);
    LP_ASSERT(buf && w && kept);
    for (int64_t i = 0; i < V; i++) lp_store_f64(buf, fmt, (size_t)i, x[i]);
    lp_error err = {LP_OK, ""};
    double got;
    int64_t n;
    lpt_check(lp_pkernel_process_row(w, &n, k, buf, fmt, V, ps->tau, &ps->s, &err) == LP_OK &&
              lp_pkernel_row(&got, k, buf, fmt, V, y, ps->tau, &ps->s, &err) == LP_OK,
              "%s %s: %s", k->name, ps->name, err.msg);
    for (int64_t i = 0; i < V; i++) kept[i] = w[i] > -HUGE_VAL;
    const lp_kpromise p = lp_pkernel_promise_row(k, buf, fmt, V, y, ps->tau, &ps->s);
    cs->tokens++;
    const int exact_k = lp_pkernel_keptset_exact(k, ps->tau, &ps->s);
    if (exact_k && ps->s.top_k > 0) {
        /* the exact top-k set at tau = 1 without softcap: x_i >= the k-th largest x */
        int64_t bad = -1;
        for (int64_t i = 0; i < V && bad < 0; i++) {
            int64_t above = 0;
            for (int64_t j = 0; j < V; j++) above += x[j] > x[i];
            const int want = above < ps->s.top_k;
            if (want != kept[i]) bad = i;
        }
        lpt_check(bad < 0, "%s %s seed=0x%llx row %lld: kept[%lld] = %d, A7's top-k says %d",
                  k->name, ps->name, (unsigned long long)seed, (long long)row, (long long)bad,
                  bad >= 0 ? kept[bad] : 0, bad >= 0 ? !kept[bad] : 0);
    }
    /* the reference's kept set (SPEC A7, every decision exact) */
    uint8_t *ek = malloc((size_t)V);
    LP_ASSERT(ek);
    lpt_check(lp_ref_kept(ek, buf, fmt, V, ps->tau, &ps->s, &err) == LP_OK, "lp_ref_kept: %s",
              err.msg);
    int64_t kd = 0, kk = 0, first = -1;
    for (int64_t i = 0; i < V; i++) {
        kd += ek[i] && !kept[i];
        kk += !ek[i] && kept[i];
        if (ek[i] != kept[i] && first < 0) first = i;
    }
    cs->kdrop += kd;
    cs->kkeep += kk;
    cs->rows_diff += first >= 0;
    if (exact_k)
        lpt_check(first < 0, "%s %s seed=0x%llx row %lld V=%lld: the kept set is proved exact, but "
                  "token %lld (logit %a) is %s here and %s in the reference", k->name, ps->name,
                  (unsigned long long)seed, (long long)row, (long long)V, (long long)first,
                  first >= 0 ? x[first] : 0.0, first >= 0 && kept[first] ? "kept" : "dropped",
                  first >= 0 && ek[first] ? "kept" : "dropped");
    if (first < 0 && kept[y]) {
        /* the kept sets agree: the contract against the reference itself, and the reference
         * against this file's own MPFR evaluation */
        lp_value rv;
        if (lpt_check(lp_ref_row_sampled(&rv, buf, fmt, V, y, ps->tau, &ps->s, &err) == LP_OK,
                      "lp_ref_row_sampled: %s", err.msg)) {
            cs->vs_ref++;
            const lp_kverdict v = lp_kernel_judge(&p, got, rv.dd, out);
            lpt_check(v.ok, "%s %s seed=0x%llx row %lld V=%lld label=%lld: %a against the "
                      "reference %a + %a: err %.4g over the bound %.4g", k->name, ps->name,
                      (unsigned long long)seed, (long long)row, (long long)V, (long long)y, got,
                      rv.dd.hi, rv.dd.lo, v.err_abs, p.abs);
            const lp_dd ex = exact_logp(x, kept, V, y, ps->s.softcap, ps->tau);
            const double d = fabs((rv.dd.hi - ex.hi) + (rv.dd.lo - ex.lo));
            lpt_check(d <= 0x1p-90 * fmax(1.0, fabs(ex.hi)), "%s row %lld label %lld: the "
                      "reference %a + %a and MPFR here %a + %a differ by %.3g", ps->name,
                      (long long)row, (long long)y, rv.dd.hi, rv.dd.lo, ex.hi, ex.lo, d);
        }
    }
    free(ek);
    if (!kept[y]) {
        cs->dropped++;
        lpt_check(got == -HUGE_VAL && (p.allow & LP_KALLOW_NEGINF), "%s %s seed=0x%llx row %lld: "
                  "label %lld dropped, got %a", k->name, ps->name, (unsigned long long)seed,
                  (long long)row, (long long)y, got);
    } else if (!p.in_domain) {
        cs->outside++;
    } else {
        cs->in_k++;
        const lp_dd ex = exact_logp(x, kept, V, y, ps->s.softcap, ps->tau);
        const lp_kverdict v = lp_kernel_judge(&p, got, ex, out);
        if (v.ratio > cs->worst_ratio) cs->worst_ratio = v.ratio;
        if (v.err_ulp > cs->worst_ulp) cs->worst_ulp = v.err_ulp;
        if (!lpt_check(v.ok, "%s %s seed=0x%llx row %lld V=%lld label=%lld kept=%lld: outside "
                       "the contract", k->name, ps->name, (unsigned long long)seed,
                       (long long)row, (long long)V, (long long)y, (long long)n)) {
            char g[64];
            lp_format_hexdec(g, sizeof g, got, out);
            lpt_note("got %s, exact over K %a + %a (%.17g), err %.4g, bound %.4g", g, ex.hi, ex.lo,
                     ex.hi, v.err_abs, p.abs);
        }
    }
    free(buf);
    free(w);
    free(kept);
}

static void test_contract(uint64_t seed)
{
    static const int64_t Vs[] = {16, 200, 1000};
    for (size_t ki = 0; ki < lp_pkernel_count(); ki++) {
        const lp_pkernel *k = lp_pkernel_at(ki);
        for (size_t pi = 0; pi < NPSETS; pi++) {
            const pset *ps = &psets[pi];
            cstat cs;
            memset(&cs, 0, sizeof cs);
            lpt_rng r;
            lpt_rng_init(&r, seed ^ (ki * 1000 + pi));
            const int64_t rows = 24 * level;
            for (int64_t row = 0; row < rows; row++) {
                const lp_format fmts[] = {LP_F32, LP_BF16, LP_F16};
                const lp_format fmt = fmts[row % 3];
                if (!lp_pkernel_accepts(k, fmt)) continue;
                const int64_t V = Vs[row % 3 == 0 ? (row / 3) % 3 : row % 3];
                double *x = malloc((size_t)V * sizeof *x);
                LP_ASSERT(x);
                gen_row(x, V, ps->kind, fmt, &r);
                int64_t y = (int64_t)lp_rng_below(&r, (uint64_t)V);
                if (row % 2 == 0) {   /* half the labels at the argmax's neighbourhood */
                    int64_t am = 0;
                    for (int64_t i = 1; i < V; i++)
                        if (x[i] > x[am]) am = i;
                    y = am;
                }
                check_row(k, ps, x, fmt, V, y, &cs, seed, row);
                free(x);
            }
            printf("%-16s %-16s %-8s tokens %3lld in K %3lld dropped %3lld outside %lld vs ref "
                   "%3lld  worst err/bound %.3g (%.3g ulp)  kept-set: rows %lld differ, tokens "
                   "%lld dropped here kept exact, %lld kept here dropped exact\n", k->name,
                   ps->name, lp_pkernel_keptset_exact(k, ps->tau, &ps->s) ? "proved" : "measured",
                   (long long)cs.tokens, (long long)cs.in_k, (long long)cs.dropped,
                   (long long)cs.outside, (long long)cs.vs_ref, cs.worst_ratio, cs.worst_ulp,
                   (long long)cs.rows_diff, (long long)cs.kdrop, (long long)cs.kkeep);
        }
    }
}

/* ---- structure ------------------------------------------------------------------------------- */

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static int same_result(const lp_kresult *a, const lp_kresult *b, char *where, size_t n)
{
    for (int64_t i = 0; i < a->B * a->Ts; i++)
        if (!same_bits(a->logp[i], b->logp[i])) {
            snprintf(where, n, "token %lld: %a vs %a", (long long)i, a->logp[i], b->logp[i]);
            return 0;
        }
    for (int64_t i = 0; i < a->B; i++)
        if (!same_bits(a->sum[i], b->sum[i]) || !same_bits(a->mean[i], b->mean[i])) {
            snprintf(where, n, "sequence %lld: sum %a vs %a, mean %a vs %a", (long long)i,
                     a->sum[i], b->sum[i], a->mean[i], b->mean[i]);
            return 0;
        }
    if (!same_bits(a->token_mean, b->token_mean)) {
        snprintf(where, n, "token mean %a vs %a", a->token_mean, b->token_mean);
        return 0;
    }
    return 1;
}

static void test_structure(uint64_t seed)
{
    lpt_rng r;
    lpt_rng_init(&r, seed ^ 0x5157);
    int64_t compared = 0;
    for (int it = 0; it < 12 * level; it++) {
        const lp_format fmts[] = {LP_F32, LP_BF16, LP_F16};
        const lp_format fmt = fmts[it % 3];
        const int64_t B = 2, T = 5, V = 1 + (int64_t)lp_rng_below(&r, 300);
        const size_t n = (size_t)(B * T * V);
        void *logits = calloc(n, (size_t)lp_format_get(fmt)->bytes);
        int64_t *labels = calloc((size_t)(B * T), sizeof *labels);
        uint8_t *mask = calloc((size_t)(B * T), 1);
        LP_ASSERT(logits && labels && mask);
        for (size_t i = 0; i < n; i++) {
            double v = lpt_rng_normal(&r) * 3;
            if (lpt_rng_unif(&r) < 0.05) v = -HUGE_VAL;
            lp_store_f64(logits, fmt, i, v);
        }
        for (int64_t i = 0; i < B * T; i++) {
            labels[i] = (int64_t)lp_rng_below(&r, (uint64_t)V);
            mask[i] = lpt_rng_unif(&r) < 0.85;
        }
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = fmt;
        pb.logits = logits;
        pb.labels = labels;
        pb.mask = mask;
        const double taus[] = {1.0, 0.7, 1.3};
        pb.temperature = taus[it % 3];
        for (size_t ki = 0; ki < lp_pkernel_count(); ki++) {
            const lp_pkernel *k = lp_pkernel_at(ki);
            if (!lp_pkernel_accepts(k, fmt)) continue;
            const lp_kernel *base = lp_pkernel_base(k);
            lp_kresult a, b;
            lp_error err = {LP_OK, ""};
            LP_ASSERT(lp_kernel_run(&b, base, &pb, &err) == LP_OK);
            for (int mode = 0; mode < 3; mode++) {
                lp_problem q = pb;
                if (mode == 1) q.sampling.top_k = V;
                if (mode == 2) q.sampling.top_k = V + 1 + (int64_t)lp_rng_below(&r, 5);
                if (!lpt_check(lp_pkernel_run(&a, k, &q, &err) == LP_OK, "%s: %s", k->name, err.msg))
                    continue;
                char where[160];
                lpt_check(same_result(&a, &b, where, sizeof where),
                          "%s %s logits V=%lld tau=%g top_k=%lld: not the base kernel %s: %s",
                          k->name, lp_format_name(fmt), (long long)V, pb.temperature,
                          (long long)q.sampling.top_k, base->name, where);
                compared++;
                lp_kresult_free(&a);
            }
            lp_kresult_free(&b);
            /* a dropped label is -inf: top_k = 1 on a row whose label is below the max */
            lp_problem q = pb;
            q.sampling.top_k = 1;
            LP_ASSERT(lp_pkernel_run(&a, k, &q, &err) == LP_OK);
            for (int64_t bb = 0; bb < B; bb++)
                for (int64_t ts = 0; ts < T - 1; ts++) {
                    if (!lp_problem_counted(&pb, bb, ts)) continue;
                    const void *row = lp_problem_row(&pb, bb, ts);
                    const int64_t y = lp_problem_label(&pb, bb, ts + 1);
                    double m = -HUGE_VAL;
                    for (int64_t i = 0; i < V; i++) {
                        const double v = lp_load_f64(row, fmt, (size_t)i);
                        if (v > m) m = v;
                    }
                    const double xy = lp_load_f64(row, fmt, (size_t)y);
                    /* a label strictly below the max by more than the tempered rounding */
                    if (xy < m - fabs(m) * 0.01 - 1e-3)
                        lpt_check(a.logp[bb * (T - 1) + ts] == -HUGE_VAL, "%s top_k=1: label %lld "
                                  "below the max kept: %a", k->name, (long long)y,
                                  a.logp[bb * (T - 1) + ts]);
                }
            lp_kresult_free(&a);
        }
        free(logits);
        free(labels);
        free(mask);
    }
    printf("structure: %lld runs equal to their base kernel bit for bit\n", (long long)compared);
}

/* ---- check's kept-set category --------------------------------------------------------------- */

static void test_check_category(uint64_t seed)
{
    lpt_rng r;
    lpt_rng_init(&r, seed ^ 0xc4ec);
    const lp_pkernel *k = lp_pkernel_find("sampled_f32");
    LP_ASSERT(k);
    for (int it = 0; it < 4; it++) {
        const int64_t B = 3, T = 17, V = 64;
        float *logits = malloc((size_t)(B * T * V) * sizeof *logits);
        int64_t *labels = malloc((size_t)(B * T) * sizeof *labels);
        LP_ASSERT(logits && labels);
        for (int64_t i = 0; i < B * T * V; i++) logits[i] = (float)(lpt_rng_next(&r) % 6);
        for (int64_t i = 0; i < B * T; i++) labels[i] = (int64_t)lp_rng_below(&r, (uint64_t)V);
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = LP_F32;
        pb.logits = logits;
        pb.labels = labels;
        if (it > 0) pb.sampling.top_p = it == 1 ? 0.9 : it == 2 ? 0.5 : 1.0;
        lp_kresult kr;
        lp_ref_result ref;
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_pkernel_run(&kr, k, &pb, &err) == LP_OK);
        LP_ASSERT(lp_ref_compute(&ref, &pb, &err) == LP_OK);
        int64_t want = 0;
        for (int64_t i = 0; i < kr.B * kr.Ts; i++) {
            const double y = kr.logp[i], x = lp_value_wide(&ref.logp[i], LP_F32);
            want += (y == -HUGE_VAL && isfinite(x)) || (isfinite(y) && x == -HUGE_VAL);
        }
        ck_options o;
        ck_options_init(&o);
        o.no_default = 1;
        ck_run run;
        LP_ASSERT(ck_run_init(&run, &o, &err) == LP_OK);
        ck_outputs cand;
        memset(&cand, 0, sizeof cand);
        cand.a[CK_TOKEN].present = 1;
        cand.a[CK_TOKEN].fmt = LP_F32;
        cand.a[CK_TOKEN].n = kr.B * kr.Ts;
        cand.a[CK_TOKEN].v = kr.logp;
        LP_ASSERT(ck_run_case(&run, "ties", "ties/f32", &pb, &ref, &cand, NULL, &err) == LP_OK);
        int64_t got = 0, mism = 0;
        int processed = 0;
        for (size_t g = 0; g < run.ng; g++) {
            got += run.g[g].n_keptset;
            mism += run.g[g].n_mismatch;
            processed |= run.g[g].processed;
        }
        lpt_check(got == want && got <= mism && processed == (it > 0),
                  "check's kept-set count %lld (class mismatches %lld, processed %d), want %lld "
                  "(top_p %g)", (long long)got, (long long)mism, processed, (long long)want,
                  pb.sampling.top_p);
        if (it == 1) printf("check: top_p 0.9 on tied rows: %lld of %lld tokens are kept-set "
                            "disagreements\n", (long long)got, (long long)(kr.B * kr.Ts));
        ck_run_free(&run);
        lp_kresult_free(&kr);
        lp_ref_result_free(&ref);
        free(logits);
        free(labels);
    }
}

int main(void)
{
    lpt_begin("t_processed_kernels");
    level = lpt_level() > 1 ? 4 : 1;
    const uint64_t seed = lpt_seed();
    const mpfr_flags_t flags = mpfr_flags_save();
    mpfr_inits2(320, mt, md, ez, em, es, et, (mpfr_ptr)0);
    test_tanhf(seed);
    test_structure(seed);
    test_contract(seed);
    test_check_category(seed);
    mpfr_clears(mt, md, ez, em, es, et, (mpfr_ptr)0);
    mpfr_free_cache();
    mpfr_flags_restore(flags, MPFR_FLAGS_ALL);
    return lpt_end();
}
