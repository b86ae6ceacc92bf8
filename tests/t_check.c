/* tests/t_check.c: the verdict engine (check/, include/lpcert_check.h), held by C assertions:
 * numpy's median over NUMBER and same-special values, the absolute bounds (a value passes when
 * --max-ulp or --max-abs holds), class mismatches failing under any bound, the baseline-relative
 * bound at its edge (factor * base + 2^-20 passes, the next double fails), NaN-leak attribution
 * under masking spec and mul, "nothing compared fails", the exit mapping, the reports, the files
 * route, the certify run, gen/'s random problems, and lp_check_one (the one-problem route: the
 * JSON of --slow and of lp_check_problem byte for byte; its usage errors). Problems are built in
 * memory, the reference comes from lp_ref_compute, candidates are the correctly rounded f32 values
 * moved by known ulps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lp_check_certify.h"
#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_gen_random.h"
#include "lp_problem.h"
#include "lp_tensor.h"
#include "lp_ulp.h"
#include "lpcert_check.h"
#include "lpt.h"

#define B_ 2
#define T_ 6
#define V_ 11
#define TS_ (T_ - 1)

/* One f32 problem [2, 6, 11], shift next, its reference and a candidate copied from it. */
typedef struct fixture {
    float logits[B_ * T_ * V_];
    int64_t labels[B_ * T_];
    uint8_t mask[B_ * T_];
    lp_problem pb;
    lp_ref_result ref;
    float logp[B_ * TS_], sum[B_], mean[B_];
    lp_candidate cand;
} fixture;

static int fixture_init(fixture *x, uint64_t seed, int masked)
{
    lp_rng rng;
    lp_rng_init(&rng, seed);
    for (int i = 0; i < B_ * T_ * V_; i++) x->logits[i] = (float)(3 * lp_rng_normal(&rng));
    for (int i = 0; i < B_ * T_; i++) {
        x->labels[i] = (int64_t)lp_rng_below(&rng, V_);
        x->mask[i] = 1;
    }
    x->pb = (lp_problem)LP_PROBLEM_INIT;
    x->pb.shape = (lp_shape){B_, T_, V_};
    x->pb.fmt = LP_F32;
    x->pb.logits = x->logits;
    x->pb.labels = x->labels;
    if (masked) {
        /* b = 0, t = 3 does not count (masked, label -100); its scoring row (ts = 2) holds -inf at
         * the dummy label 0: multiply-masking gathers logp[clamp(label, 0)] = -inf there and
         * 0 * -inf = NaN leaks into the sum. */
        x->mask[0 * T_ + 3] = 0;
        x->labels[0 * T_ + 3] = -100;
        x->logits[(0 * T_ + 2) * V_ + 0] = -INFINITY;
        x->pb.mask = x->mask;
    }
    lp_error err;
    if (!lpt_check(lp_ref_compute(&x->ref, &x->pb, &err) == LP_OK, "fixture seed %llu: "
                   "lp_ref_compute: %s", (unsigned long long)seed, err.msg))
        return 0;
    for (int i = 0; i < B_ * TS_; i++) x->logp[i] = x->ref.logp[i].f32;
    for (int b = 0; b < B_; b++) {
        x->sum[b] = x->ref.sum[b].f32;
        x->mean[b] = x->ref.mean[b].f32;
    }
    x->cand = (lp_candidate){LP_F32, x->logp, x->sum, x->mean};
    return 1;
}

static float move_ulps(float v, int k)
{
    for (; k > 0; k--) v = nextafterf(v, INFINITY);
    for (; k < 0; k++) v = nextafterf(v, -INFINITY);
    return v;
}

/* The A4 measure of candidate token i against the fixture's reference. */
static lp_err_measure token_err(const fixture *x, int i)
{
    return lp_ulp_error((double)x->logp[i], x->ref.logp[i].dd, (double)x->ref.logp[i].f32, LP_F32);
}

static void hexdec(char *buf, size_t n, float v)
{
    lp_format_hexdec(buf, n, (double)v, LP_F32);
}

/* Runs the fixture's candidate under opt; returns the run (NULL on error, reported). */
/* The text report of c (lp_check_write_table), malloc'd; NULL if it cannot be written. */
static char *table_text(lp_check *c)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    lp_check_write_table(f, c);
    fclose(f);
    return buf;
}

static lp_check *run(fixture *x, const lp_check_options *opt, const char *what)
{
    lp_check *c = NULL;
    lp_error err;
    if (!lpt_check(lp_check_new(&c, opt, &err) == LP_OK, "%s: lp_check_new: %s", what, err.msg))
        return NULL;
    if (!lpt_check(lp_check_problem(c, "fixture", "fixture/f32", &x->pb, &x->ref, &x->cand, &err)
                       == LP_OK, "%s: lp_check_problem: %s", what, err.msg)) {
        lp_check_free(c);
        return NULL;
    }
    return c;
}

static int group_of(lp_check *c, lp_output out, lp_check_group *g)
{
    lp_error err;
    for (size_t i = 0; i < lp_check_group_count(c); i++)
        if (lp_check_group_get(c, i, g, &err) == LP_OK && g->output == out) return 1;
    return 0;
}

/* An exact candidate passes with every figure 0; the reference computed here gives the same. */
static void test_exact(void)
{
    fixture x;
    if (!fixture_init(&x, 1, 0)) return;
    lp_check *c = run(&x, NULL, "exact");
    if (c) {
        lpt_check(!lp_check_failed(c), "exact candidate: lp_check_failed = 1, want 0");
        lpt_check(lp_check_group_count(c) == 3, "exact: %zu groups, want 3", lp_check_group_count(c));
        lp_check_group g;
        if (lpt_check(group_of(c, LP_OUT_TOKEN, &g), "exact: no token group"))
            lpt_check(g.n == B_ * TS_ && g.max_ulp <= 0.5 && g.correctly_rounded == g.n &&
                          g.format == LP_F32 && !g.failed && strcmp(g.cls, "fixture/f32") == 0,
                      "exact token group: n %lld cr %lld max_ulp %g format %d failed %d cls %s",
                      (long long)g.n, (long long)g.correctly_rounded, g.max_ulp, (int)g.format,
                      g.failed, g.cls);
        lpt_check(lp_check_exit_code(c, LP_OK) == 0, "exact: exit code %d, want 0",
                  lp_check_exit_code(c, LP_OK));
    }
    lp_check_free(c);
    /* ref NULL: computed inside; same verdict and figures */
    lp_check *c2 = NULL;
    lp_error err;
    if (lp_check_new(&c2, NULL, &err) == LP_OK &&
        lpt_check(lp_check_problem(c2, "fixture", NULL, &x.pb, NULL, &x.cand, &err) == LP_OK,
                  "exact, ref NULL: %s", err.msg)) {
        lp_check_group g;
        lpt_check(!lp_check_failed(c2) && group_of(c2, LP_OUT_SUM, &g) && strcmp(g.cls, "fixture") == 0,
                  "exact, ref NULL: failed %d or the class is not the name", lp_check_failed(c2));
    }
    lp_check_free(c2);
    lp_ref_result_free(&x.ref);
}

static int cmp_d(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q;
}

/* Median: numpy's over NUMBER and same-special values (mismatches left out); max over NUMBER. */
static void test_median(void)
{
    fixture x;
    if (!fixture_init(&x, 2, 0)) return;
    /* token 0: -inf logit at its label: logp -inf, candidate -inf (same special, counts 0) */
    const int n = B_ * TS_;
    x.logits[(0 * T_ + 0) * V_ + (size_t)x.labels[0 * T_ + 1]] = -INFINITY;
    lp_ref_result_free(&x.ref);
    lp_error err;
    if (!lpt_check(lp_ref_compute(&x.ref, &x.pb, &err) == LP_OK, "median: ref: %s", err.msg)) return;
    for (int i = 0; i < n; i++) x.logp[i] = x.ref.logp[i].f32;
    x.sum[0] = x.ref.sum[0].f32;
    x.mean[0] = x.ref.mean[0].f32;
    /* tokens 1 and 2: class mismatches (left out of the median); the others moved by 0..n-4 ulps */
    x.logp[1] = NAN;
    x.logp[2] = INFINITY;
    double want[B_ * TS_];
    int m = 0;
    want[m++] = 0;   /* token 0 */
    double wmax = 0;
    for (int i = 3; i < n; i++) {
        x.logp[i] = move_ulps(x.ref.logp[i].f32, (i % 2 ? 1 : -1) * (i - 3));
        lp_err_measure e = token_err(&x, i);
        want[m++] = e.err_ulp;
        if (e.err_ulp > wmax) wmax = e.err_ulp;
    }
    qsort(want, (size_t)m, sizeof *want, cmp_d);
    const double med = m % 2 ? want[m / 2] : (want[m / 2 - 1] + want[m / 2]) / 2;
    lp_check *c = run(&x, NULL, "median");
    lp_check_group g;
    if (c && lpt_check(group_of(c, LP_OUT_TOKEN, &g), "median: no token group")) {
        lpt_check(g.median_ulp == med, "median over %d values (numpy's): got %.17g, want %.17g "
                  "(lower middle %.17g, upper %.17g)", m, g.median_ulp, med, want[m / 2 - 1], want[m / 2]);
        lpt_check(g.max_ulp == wmax, "median case: max_ulp %.17g, want %.17g", g.max_ulp, wmax);
        lpt_check(g.class_mismatches == 2 && g.failed && g.n == n,
                  "median case: mismatches %lld failed %d n %lld, want 2 1 %d",
                  (long long)g.class_mismatches, g.failed, (long long)g.n, n);
        lpt_check(m % 2 == 0 && want[m / 2 - 1] != want[m / 2], "median case: want an even count "
                  "with distinct middle values (%d values)", m);
    }
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

/* Absolute bounds: a value passes when err_ulp <= K or err_abs <= E (each only when given). */
static void test_bounds(void)
{
    fixture x;
    if (!fixture_init(&x, 3, 0)) return;
    const int i = 4;
    x.logp[i] = move_ulps(x.ref.logp[i].f32, 3);
    const lp_err_measure e = token_err(&x, i);
    char got[64], want[64];
    hexdec(got, sizeof got, x.logp[i]);
    hexdec(want, sizeof want, x.ref.logp[i].f32);
    struct { double K, E; int fail; } cases[] = {
        {e.err_ulp, -1, 0},
        {nextafter(e.err_ulp, 0), -1, 1},
        {-1, e.err_abs, 0},
        {-1, nextafter(e.err_abs, 0), 1},
        {nextafter(e.err_ulp, 0), e.err_abs, 0},   /* either holds */
        {e.err_ulp, nextafter(e.err_abs, 0), 0},
        {nextafter(e.err_ulp, 0), nextafter(e.err_abs, 0), 1},
        {-1, -1, 0},                                /* no bound, no default: classes only */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lp_check_options o = LP_CHECK_OPTIONS_INIT;
        o.max_ulp[LP_OUT_TOKEN] = cases[k].K;
        o.max_abs[LP_OUT_TOKEN] = cases[k].E;
        o.no_default_bound = 1;
        lp_check *c = run(&x, &o, "bounds");
        if (!c) continue;
        lp_check_group g;
        group_of(c, LP_OUT_TOKEN, &g);
        if (!lpt_check(lp_check_failed(c) == cases[k].fail && g.over_bound == cases[k].fail,
                       "bounds K=%.17g E=%.17g: failed %d over %lld, want %d; token %d got %s want %s "
                       "(err %.17g ulp, %.17g abs)", cases[k].K, cases[k].E, lp_check_failed(c),
                       (long long)g.over_bound, cases[k].fail, i, got, want, e.err_ulp, e.err_abs))
            lpt_note("bound case %zu", k);
        lpt_check(lp_check_exit_code(c, LP_OK) == cases[k].fail, "bounds: exit code %d, want %d",
                  lp_check_exit_code(c, LP_OK), cases[k].fail);
        lp_check_free(c);
    }
    /* the sum's bound does not apply to tokens */
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.max_ulp[LP_OUT_SUM] = 0.5;   /* the sum is the correctly rounded value: <= 0.5 ulp */
    lp_check *c = run(&x, &o, "bounds sum only");
    if (c) lpt_check(!lp_check_failed(c), "a sum bound failed a token (token %d got %s want %s)", i, got, want);
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

/* A class mismatch fails under any bound: NaN or inf for a finite value. */
static void test_mismatch(void)
{
    fixture x;
    if (!fixture_init(&x, 4, 0)) return;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        const float keep = x.sum[1];
        x.sum[1] = bad[k];
        lp_check_options o = LP_CHECK_OPTIONS_INIT;
        for (int q = 0; q < LP_NOUTPUTS; q++) o.max_ulp[q] = o.max_abs[q] = 1e300;
        lp_check *c = run(&x, &o, "mismatch");
        lp_check_group g;
        char got[64], want[64];
        hexdec(got, sizeof got, x.sum[1]);
        hexdec(want, sizeof want, x.ref.sum[1].f32);
        if (c && group_of(c, LP_OUT_SUM, &g))
            lpt_check(lp_check_failed(c) && g.class_mismatches == 1 && g.nan_leaks == 0 && g.failed,
                      "sum b=1 got %s want %s under bounds 1e300: failed %d mismatches %lld leaks %lld",
                      got, want, lp_check_failed(c), (long long)g.class_mismatches, (long long)g.nan_leaks);
        lp_check_free(c);
        x.sum[1] = keep;
    }
    lp_ref_result_free(&x.ref);
}

/* NaN leaks: a masked row with -inf at the dummy label 0 and a multiply-masked sum of NaN. */
static void test_leak(void)
{
    fixture x;
    if (!fixture_init(&x, 5, 1)) return;
    char want[64];
    hexdec(want, sizeof want, x.ref.sum[0].f32);
    if (!lpt_check(isfinite(x.ref.sum[0].f64), "leak fixture: reference sum b=0 %s is not finite", want))
        return;
    const float exact_sum = x.sum[0];
    x.sum[0] = NAN;   /* what logp * mask gives */
    for (int masking = 0; masking < 2; masking++) {
        lp_check_options o = LP_CHECK_OPTIONS_INIT;
        o.masking = masking;
        lp_check *c = run(&x, &o, "leak");
        lp_check_group g;
        if (c && group_of(c, LP_OUT_SUM, &g)) {
            if (masking == 0)
                lpt_check(lp_check_failed(c) && g.class_mismatches == 1 && g.nan_leaks == 1,
                          "masking spec, sum b=0 NaN (want %s): failed %d mismatches %lld leaks %lld, "
                          "want 1 1 1", want, lp_check_failed(c), (long long)g.class_mismatches,
                          (long long)g.nan_leaks);
            else
                lpt_check(!g.failed && g.class_mismatches == 0 && g.nan_leaks == 0,
                          "masking mul, sum b=0 NaN (the expected NaN): failed %d mismatches %lld "
                          "leaks %lld, want 0 0 0", g.failed, (long long)g.class_mismatches,
                          (long long)g.nan_leaks);
        }
        if (c && masking == 0 && group_of(c, LP_OUT_MEAN, &g))
            lpt_check(!g.failed, "masking spec: the exact mean failed (leak misattributed)");
        lp_check_free(c);
    }
    /* mul with the NaN-safe sum: the sum was expected NaN, a mismatch but not a leak */
    x.sum[0] = exact_sum;
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.masking = 1;
    lp_check *c = run(&x, &o, "leak mul safe");
    lp_check_group g;
    if (c && group_of(c, LP_OUT_SUM, &g))
        lpt_check(g.failed && g.class_mismatches == 1 && g.nan_leaks == 0,
                  "masking mul, finite sum b=0 %s: failed %d mismatches %lld leaks %lld, want 1 1 0",
                  want, g.failed, (long long)g.class_mismatches, (long long)g.nan_leaks);
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

/* The baseline-relative rule at its edge, on the engine's figures. */
static void test_rel_rule(void)
{
    ck_options o;
    ck_options_init(&o);
    o.baseline = "twopass_f32";
    ck_run r;
    lp_error err;
    ck_run_init(&r, &o, &err);
    ck_group g;
    memset(&g, 0, sizeof g);
    g.rel_n = 1;
    const double factors[] = {1, 2, 1.5, 3};
    const double bases[] = {1, 0.75, 0, 3.25};
    for (int i = 0; i < 4; i++) {
        r.opt.factor = factors[i];
        g.rel_base_max = bases[i];
        const double edge = factors[i] * bases[i] + CK_REL_SLACK;
        g.rel_cand_max = edge;
        lpt_check(!ck_group_rel_failed(&r, &g), "baseline rule: cand %a = %g x %a + 2^-20 fails",
                  edge, factors[i], bases[i]);
        g.rel_cand_max = nextafter(edge, (double)INFINITY);
        lpt_check(ck_group_rel_failed(&r, &g) && ck_group_failed(&r, &g),
                  "baseline rule: cand %a > %g x %a + 2^-20 passes", g.rel_cand_max, factors[i], bases[i]);
    }
    g.rel_n = 0;   /* no value where the baseline is a number: no bound */
    lpt_check(!ck_group_rel_failed(&r, &g), "baseline rule: a group without baseline values fails");
    ck_run_free(&r);
}

/* The baseline bound end to end: the baseline's own outputs pass; one value a step worse fails. */
static void test_baseline(void)
{
    if (!ck_builtin_available()) {
        lpt_note("baseline: no built-in kernels in this build; end-to-end part skipped");
        return;
    }
    fixture x;
    if (!fixture_init(&x, 6, 0)) return;
    ck_outputs base;
    int ok = 0;
    const char *why = NULL;
    lp_error err;
    if (!lpt_check(ck_baseline_run(&base, "twopass_f32", &x.pb, &ok, &why, &err) == LP_OK && ok,
                   "baseline twopass_f32: %s", ok ? err.msg : why ? why : "?"))
        return;
    for (int i = 0; i < B_ * TS_; i++) x.logp[i] = (float)base.a[CK_TOKEN].v[i];
    for (int b = 0; b < B_; b++) {
        x.sum[b] = (float)base.a[CK_SUM].v[b];
        x.mean[b] = (float)base.a[CK_MEAN].v[b];
    }
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.baseline = "twopass_f32";
    lp_check *c = run(&x, &o, "baseline itself");
    lp_check_group g;
    if (c && group_of(c, LP_OUT_TOKEN, &g))
        lpt_check(!lp_check_failed(c) && g.base_max_ulp == g.max_ulp,
                  "the baseline's own outputs: failed %d, base max %.17g, cand max %.17g",
                  lp_check_failed(c), g.base_max_ulp, g.max_ulp);
    lp_check_free(c);
    /* the token of largest error moved one more ulp away from the exact value */
    int w = 0;
    double we = -1;
    for (int i = 0; i < B_ * TS_; i++) {
        lp_err_measure e = token_err(&x, i);
        if (e.err_ulp > we) { we = e.err_ulp; w = i; }
    }
    const double exact = x.ref.logp[w].dd.hi;
    x.logp[w] = move_ulps(x.logp[w], (double)x.logp[w] >= exact ? 1 : -1);
    c = run(&x, &o, "baseline worse");
    char got[64], want[64];
    hexdec(got, sizeof got, x.logp[w]);
    hexdec(want, sizeof want, x.ref.logp[w].f32);
    if (c && group_of(c, LP_OUT_TOKEN, &g))
        lpt_check(lp_check_failed(c) && g.failed && g.over_bound == 0,
                  "token %d a step worse than the baseline (got %s, want %s; base max %.17g, cand "
                  "max %.17g): failed %d", w, got, want, g.base_max_ulp, g.max_ulp, lp_check_failed(c));
    lp_check_free(c);
    /* factor 2 admits it when the baseline's max is at least one ulp */
    o.factor = 2;
    c = run(&x, &o, "baseline factor 2");
    if (c && group_of(c, LP_OUT_TOKEN, &g) && g.base_max_ulp >= 1)
        lpt_check(!g.failed, "factor 2: cand max %.17g, base max %.17g: fails", g.max_ulp, g.base_max_ulp);
    lp_check_free(c);
    ck_outputs_free(&base);
    lp_ref_result_free(&x.ref);
}

/* With no bound given the default applies (SPEC A5): max(4 x twopass_f32's max ulp, 2) per group;
 * a garbage candidate (-1 everywhere) fails it and passes with no_default_bound (classes only);
 * a candidate 2 ulp off the correctly rounded value passes (the floor); the table, JSON and
 * certificate name the default. */
static void test_default_bound(void)
{
    if (!ck_builtin_available()) {
        lpt_note("default bound: no built-in kernels in this build; skipped");
        return;
    }
    fixture x;
    if (!fixture_init(&x, 9, 0)) return;
    for (int i = 0; i < B_ * TS_; i++) x.logp[i] = move_ulps(x.logp[i], 2);
    lp_check *c = run(&x, NULL, "default, 2 ulp");
    lp_check_group g;
    if (c && group_of(c, LP_OUT_TOKEN, &g))
        lpt_check(!lp_check_failed(c) && !isnan(g.base_max_ulp),
                  "default bound, tokens 2 ulp off: failed %d (max %.17g, twopass_f32 %.17g)",
                  lp_check_failed(c), g.max_ulp, g.base_max_ulp);
    lp_check_free(c);
    for (int i = 0; i < B_ * TS_; i++) x.logp[i] = -1.0f;
    for (int b = 0; b < B_; b++) x.sum[b] = x.mean[b] = -1.0f;
    c = run(&x, NULL, "default, garbage");
    if (c && group_of(c, LP_OUT_TOKEN, &g))
        lpt_check(lp_check_failed(c) && g.failed && g.over_bound == 0,
                  "default bound, garbage: failed %d, token group failed %d", lp_check_failed(c),
                  g.failed);
    if (c) {
        char *buf = table_text(c);
        lpt_check(buf && strstr(buf, "verdict: FAIL") && strstr(buf, "default bound (SPEC A5): per class"),
                  "default bound: the table does not name it:\n%s", buf ? buf : "");
        free(buf);
        char path[64], cpath[64];
        snprintf(path, sizeof path, "/tmp/t_check_d%d.json", (int)getpid());
        snprintf(cpath, sizeof cpath, "/tmp/t_check_d%d.md", (int)getpid());
        lp_error err;
        static char text[1 << 17];
        if (lpt_check(lp_check_write_json(c, path, &err) == LP_OK, "json: %s", err.msg)) {
            FILE *j = fopen(path, "r");
            size_t k = j ? fread(text, 1, sizeof text - 1, j) : 0;
            text[k] = 0;
            if (j) fclose(j);
            lpt_check(strstr(text, "\"default\":\ttrue") != NULL, "json: no \"default\": true in %s",
                      path);
        }
        if (lpt_check(lp_check_write_certificate(c, cpath, &err) == LP_OK, "certificate: %s", err.msg)) {
            FILE *j = fopen(cpath, "r");
            size_t k = j ? fread(text, 1, sizeof text - 1, j) : 0;
            text[k] = 0;
            if (j) fclose(j);
            lpt_check(strstr(text, "bound applied: default bound") && strstr(text, "# lpcert certificate: FAIL"),
                      "certificate: the default bound is not named in %s", cpath);
        }
        unlink(path);
        unlink(cpath);
    }
    lp_check_free(c);
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.no_default_bound = 1;
    c = run(&x, &o, "no default, garbage");
    if (c) lpt_check(!lp_check_failed(c), "no_default_bound, garbage: fails, want classes only");
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

/* Nothing compared fails; options are validated; exit codes. */
static void test_nothing_and_exit(void)
{
    lp_check *c = NULL;
    lp_error err;
    if (lpt_check(lp_check_new(&c, NULL, &err) == LP_OK, "lp_check_new: %s", err.msg)) {
        lpt_check(lp_check_failed(c) == 1 && lp_check_values(c) == 0,
                  "an empty run: failed %d, want 1 (nothing compared fails)", lp_check_failed(c));
        lpt_check(lp_check_exit_code(c, LP_OK) == 1, "an empty run: exit %d, want 1",
                  lp_check_exit_code(c, LP_OK));
    }
    lp_check_free(c);
    /* a problem where no token counts, logp only: nothing compared */
    fixture x;
    if (fixture_init(&x, 7, 0)) {
        lp_ref_result_free(&x.ref);
        for (int i = 0; i < B_ * T_; i++) x.labels[i] = -100;
        if (lpt_check(lp_ref_compute(&x.ref, &x.pb, &err) == LP_OK, "all ignored: ref: %s", err.msg)) {
            x.cand.sum = x.cand.mean = NULL;
            for (int i = 0; i < B_ * TS_; i++) x.logp[i] = 0;
            c = run(&x, NULL, "all ignored");
            if (c) lpt_check(lp_check_failed(c) && lp_check_values(c) == 0,
                             "no counted token: failed %d values %lld, want 1 0", lp_check_failed(c),
                             (long long)lp_check_values(c));
            lp_check_free(c);
        }
        lp_ref_result_free(&x.ref);
    }
    static const struct { lp_status s; int code; } ex[] = {
        {LP_ERR_USAGE, 2}, {LP_ERR_INPUT, 2}, {LP_ERR_IO, 2}, {LP_ERR_NOMEM, 1}, {LP_ERR_INTERNAL, 1}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
        lpt_check(lp_check_exit_code(NULL, ex[i].s) == ex[i].code, "exit code of %s: %d, want %d",
                  lp_status_name(ex[i].s), lp_check_exit_code(NULL, ex[i].s), ex[i].code);
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.factor = 2;
    c = NULL;
    lpt_check(lp_check_new(&c, &o, &err) == LP_ERR_USAGE && c == NULL,
              "a factor without a baseline is accepted");
    o = (lp_check_options)LP_CHECK_OPTIONS_INIT;
    o.baseline = "no_such_kernel";
    lpt_check(lp_check_new(&c, &o, &err) == LP_ERR_USAGE && c == NULL,
              "an unknown baseline kernel is accepted");
}

/* The table, JSON and certificate say the verdict. */
static void test_reports(void)
{
    fixture x;
    if (!fixture_init(&x, 8, 0)) return;
    x.logp[3] = move_ulps(x.logp[3], 2);
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.max_ulp[LP_OUT_TOKEN] = 1;
    lp_check *c = run(&x, &o, "reports");
    if (c) {
        char *buf = table_text(c);
        lpt_check(buf && strstr(buf, "FAIL bound") && strstr(buf, "verdict: FAIL"),
                  "table: no 'FAIL bound' / 'verdict: FAIL' in:\n%s", buf ? buf : "");
        free(buf);
        char path[64], cpath[64];
        snprintf(path, sizeof path, "/tmp/t_check_%d.json", (int)getpid());
        snprintf(cpath, sizeof cpath, "/tmp/t_check_%d.md", (int)getpid());
        lp_error err;
        if (lpt_check(lp_check_write_json(c, path, &err) == LP_OK, "json: %s", err.msg)) {
            FILE *j = fopen(path, "r");
            char text[1 << 16];
            size_t k = j ? fread(text, 1, sizeof text - 1, j) : 0;
            text[k] = 0;
            if (j) fclose(j);
            lpt_check(strstr(text, "\"fail\"") != NULL, "json: no \"fail\" in %s", path);
        }
        lpt_check(lp_check_write_certificate(c, cpath, &err) == LP_OK && access(cpath, R_OK) == 0,
                  "certificate: %s", err.msg);
        unlink(path);
        unlink(cpath);
    }
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

/* The files route: a suite and a candidate file give the figures of the memory route. */
static void test_files(void)
{
    fixture x;
    if (!fixture_init(&x, 9, 0)) return;
    x.logp[2] = move_ulps(x.logp[2], 3);
    char sp[64], cp[64];
    snprintf(sp, sizeof sp, "/tmp/t_check_%d_suite.safetensors", (int)getpid());
    snprintf(cp, sizeof cp, "/tmp/t_check_%d_cand.safetensors", (int)getpid());
    lp_error err;
    lp_twriter *w = NULL;
    const int64_t dl[3] = {B_, T_, V_}, dy[2] = {B_, T_}, dp[2] = {B_, TS_}, ds[1] = {B_};
    lp_status s = lp_twriter_new(&w, sp, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "case/fx/logits", LP_DT_F32, 3, dl, x.logits, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "case/fx/labels", LP_DT_I64, 2, dy, x.labels, &err);
    if (s == LP_OK) s = lp_twriter_finish(w, &err);
    w = NULL;
    if (s == LP_OK) s = lp_twriter_new(&w, cp, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "case/fx/logp", LP_DT_F32, 2, dp, x.logp, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "case/fx/sum", LP_DT_F32, 1, ds, x.sum, &err);
    if (s == LP_OK) s = lp_twriter_finish(w, &err);
    lp_check_suite *su = NULL;
    if (s == LP_OK) s = lp_check_suite_open(&su, sp, NULL, &err);
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.max_ulp[LP_OUT_TOKEN] = 1;
    lp_check *c = NULL, *m = NULL;
    if (s == LP_OK) s = lp_check_new(&c, &o, &err);
    if (s == LP_OK) s = lp_check_suite_compare(c, su, cp, 0, &err);
    if (lpt_check(s == LP_OK, "files route: %s", err.msg)) {
        x.cand.mean = NULL;
        m = run(&x, &o, "files route, memory twin");
        lp_check_group gf, gm;
        lpt_check(lp_check_suite_count(su) == 1 && lp_check_group_count(c) == 2,
                  "files route: %zu cases, %zu groups; want 1, 2", lp_check_suite_count(su),
                  lp_check_group_count(c));
        if (m && group_of(c, LP_OUT_TOKEN, &gf) && group_of(m, LP_OUT_TOKEN, &gm))
            lpt_check(lp_check_failed(c) && gf.over_bound == 1 && gf.max_ulp == gm.max_ulp &&
                          gf.median_ulp == gm.median_ulp && gf.n == gm.n,
                      "files route vs memory: failed %d over %lld max %.17g / %.17g median %.17g / "
                      "%.17g n %lld / %lld", lp_check_failed(c), (long long)gf.over_bound,
                      gf.max_ulp, gm.max_ulp, gf.median_ulp, gm.median_ulp, (long long)gf.n,
                      (long long)gm.n);
    }
    lp_check_free(c);
    lp_check_free(m);
    c = NULL;
    /* a candidate missing the suite's case is an input error before anything is compared */
    if (su && lp_check_new(&c, NULL, &err) == LP_OK)
        lpt_check(lp_check_suite_compare(c, su, sp, 0, &err) == LP_ERR_INPUT && lp_check_values(c) == 0 &&
                      lp_check_exit_code(c, LP_ERR_INPUT) == 2,
                  "a candidate without outputs is accepted (%s)", err.msg);
    lp_check_free(c);
    lp_check_suite_free(su);
    unlink(sp);
    unlink(cp);
    lp_ref_result_free(&x.ref);
}

/* gen/: the same seed gives the same random problems, bit for bit. */
static void test_gen_random(void)
{
    lp_rng r1, r2;
    lp_rng_init(&r1, 42 ^ LP_GEN_RANDOM_SALT);
    lp_rng_init(&r2, 42 ^ LP_GEN_RANDOM_SALT);
    lp_error err;
    for (int k = 0; k < 20; k++) {
        lp_case a, b;
        if (!lpt_check(lp_gen_random(&a, &r1, 0xf, 1, &err) == LP_OK &&
                           lp_gen_random(&b, &r2, 0xf, 1, &err) == LP_OK, "lp_gen_random: %s", err.msg))
            return;
        const size_t nl = (size_t)(a.pb.shape.B * a.pb.shape.T);
        const size_t nb = nl * (size_t)a.pb.shape.V * (size_t)lp_format_get(a.pb.fmt)->bytes;
        lpt_check(memcmp(&a.pb.shape, &b.pb.shape, sizeof a.pb.shape) == 0 && a.pb.fmt == b.pb.fmt &&
                      memcmp(a.logits, b.logits, nb) == 0 && memcmp(a.labels, b.labels, nl * 8) == 0 &&
                      a.pb.temperature == b.pb.temperature && lp_problem_check(&a.pb, &err) == LP_OK,
                  "random problem %d differs between two runs of one seed, or is invalid", k);
        lp_case_free(&a);
        lp_case_free(&b);
    }
    lp_case z;
    lpt_check(lp_gen_random(&z, &r1, 0, 1, &err) == LP_ERR_USAGE, "no format to draw from accepted");
}

typedef struct prog { int64_t calls, last_done, last_total, random_start; } prog;

static void on_progress(void *user, int64_t done, int64_t total)
{
    prog *p = user;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    if (total < 0 && done == 0) p->random_start++;
}

/* certify: a built-in kernel on a few cases of the standard suite and one random problem. */
static void test_certify(void)
{
    if (!ck_builtin_available()) return;
    lp_check *c = NULL;
    lp_error err;
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.empty_mean = 1;   /* the kernel's convention: an empty sequence's mean is 0/0 = NaN */
    if (!lpt_check(lp_check_new(&c, &o, &err) == LP_OK, "certify: new: %s", err.msg)) return;
    prog p = {0, 0, 0, 0};
    lp_certify_options co = LP_CERTIFY_OPTIONS_INIT;
    co.kernel = "twopass_f32";
    co.cases = "normal/f32";
    co.seconds = 0.01;
    co.progress = on_progress;
    co.user = &p;
    lp_status s = lp_check_certify(c, &co, &err);
    if (lpt_check(s == LP_OK, "certify twopass_f32: %s", err.msg)) {
        if (!lpt_check(!lp_check_failed(c), "certify twopass_f32 on normal/f32, empty mean NaN: FAIL"))
            lp_check_write_table(stdout, c);
        lpt_check(p.calls >= 3 && p.random_start == 1 && p.last_total == -1 && p.last_done >= 1,
                  "certify progress: %lld calls, random start %lld, last (%lld, %lld)",
                  (long long)p.calls, (long long)p.random_start, (long long)p.last_done,
                  (long long)p.last_total);
        char *buf = table_text(c);
        lpt_check(buf && strncmp(buf, "lpcert certify\n", 15) == 0 && strstr(buf, "random/"),
                  "certify table: not a certify report:\n%s", buf ? buf : "");
        free(buf);
    }
    lpt_check(lp_check_certify(c, &co, &err) == LP_ERR_USAGE, "certify twice into one run accepted");
    lp_check_free(c);
    lp_check *c2 = NULL;
    lp_check_new(&c2, NULL, &err);
    co.kernel = "no_such_kernel";
    lpt_check(lp_check_certify(c2, &co, &err) != LP_OK, "certify: an unknown kernel is accepted");
    lp_check_free(c2);
}

/* A kernel given in memory (lp_check_certify_kernel): the exact reference itself behind the plugin
 * ABI, f32 outputs; it must pass, batch invariance included. */
static int exact_run(void *state, const lp_plugin_problem *pp, const lp_plugin_outputs *out,
                     char *msg, size_t msg_size)
{
    int *calls = state;
    ++*calls;
    lp_problem pb = ck_problem_of_plugin(pp);
    lp_ref_result r;
    lp_error err = {LP_OK, ""};
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 1;
    o.formats = 1u << LP_F32;
    if (lp_ref_compute_opts(&r, &pb, &o, &err) != LP_OK) {
        snprintf(msg, msg_size, "%s", err.msg);
        return 1;
    }
    for (int64_t i = 0; i < pp->B * pp->Ts; i++) ((float *)out->logp)[i] = r.logp[i].f32;
    for (int64_t b = 0; b < pp->B; b++) {
        ((float *)out->sum)[b] = r.sum[b].f32;
        ((float *)out->mean)[b] = r.mean[b].f32;
    }
    lp_ref_result_free(&r);
    return 0;
}

static void test_certify_kernel(void)
{
    int calls = 0;
    lp_plugin k = {LP_PLUGIN_ABI_VERSION, sizeof(lp_plugin), "exact_f32", "the reference, in memory",
                   LP_PLUGIN_FMT(LP_F32) | LP_PLUGIN_FMT(LP_BF16),
                   LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN, LP_F32, LP_F32, LP_F32,
                   LP_PLUGIN_CAP_MASK | LP_PLUGIN_CAP_IGNORE_INDEX | LP_PLUGIN_CAP_SHIFT_NONE |
                   LP_PLUGIN_CAP_TEMPERATURE, exact_run, &calls};
    lp_error err = {LP_OK, ""};
    lp_check *c = NULL;
    if (!lpt_check(lp_check_new(&c, NULL, &err) == LP_OK, "certify kernel: new: %s", err.msg)) return;
    lp_certify_options co = LP_CERTIFY_OPTIONS_INIT;
    co.cases = "normal/f32,masks,all_masked";
    co.seconds = 0.01;
    lp_status s = lp_check_certify_kernel(c, &k, &co, &err);
    if (lpt_check(s == LP_OK, "certify kernel: %s", err.msg)) {
        if (!lpt_check(!lp_check_failed(c), "certify of the exact kernel given in memory: FAIL"))
            lp_check_write_table(stdout, c);
        char *buf = table_text(c);
        lpt_check(calls > 3 && buf && strstr(buf, "kernel given in memory: exact_f32") &&
                  strstr(buf, "random/f32"), "certify kernel: %d calls; report:\n%s", calls,
                  buf ? buf : "");
        free(buf);
    }
    lp_check_free(c);
    co.kernel = "twopass_f32";   /* a kernel given twice */
    lp_check_new(&c, NULL, &err);
    lpt_check(lp_check_certify_kernel(c, &k, &co, &err) == LP_ERR_USAGE, "certify kernel: a kernel "
              "in memory and a built-in one accepted");
    lp_check_free(c);
    co.kernel = NULL;
    k.struct_size = 8;           /* checked as a plugin's description is */
    lp_check_new(&c, NULL, &err);
    lpt_check(lp_check_certify_kernel(c, &k, &co, &err) == LP_ERR_INPUT && strstr(err.msg, "struct_size"),
              "certify kernel: struct_size 8 accepted (%s)", err.msg);
    lp_check_free(c);
    lp_check_new(&c, NULL, &err);
    lpt_check(lp_check_certify_kernel(c, NULL, &co, &err) == LP_ERR_USAGE, "certify kernel: NULL accepted");
    lp_check_free(c);
}

/* ---- lp_check_one: the single-problem route of `lpcert check --logits` ---- */

/* The JSON report of c, malloc'd (NULL on error, reported); *judge: it held the "judge" member
 * (the fast route's tier counts, check/report.c), which is cut out of the text returned. */
static char *json_of(lp_check *c, const char *what, int *judge)
{
    char path[80];
    snprintf(path, sizeof path, "/tmp/t_check_one_%d.json", (int)getpid());
    lp_error err;
    if (!lpt_check(lp_check_write_json(c, path, &err) == LP_OK, "%s: json: %s", what, err.msg))
        return NULL;
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long k = ftell(f);
        text = k >= 0 ? malloc((size_t)k + 1) : NULL;
        rewind(f);
        n = text ? fread(text, 1, (size_t)k, f) : 0;
        if (text) text[n] = 0;
    }
    if (f) fclose(f);
    unlink(path);
    if (!lpt_check(text != NULL, "%s: cannot read back %s", what, path)) return NULL;
    *judge = 0;
    char *j = strstr(text, "\"judge\":");
    if (j) {   /* one flat object: from its line's start to the line after its closing brace */
        char *from = j;
        while (from > text && from[-1] != '\n') from--;
        char *end = strchr(j, '}');
        char *to = end ? strchr(end, '\n') : NULL;
        if (lpt_check(to != NULL, "%s: the judge member does not close", what)) {
            memmove(from, to + 1, strlen(to + 1) + 1);
            *judge = 1;
        }
    }
    return text;
}

/* A problem [B, T, V] f32 with its candidate: the correctly rounded outputs, each token moved by
 * 0..3 ulps in either direction (sums and means by 0..1), from seed. */
typedef struct one_fx {
    float *logits, *logp, *sum, *mean;
    int64_t *labels;
    uint8_t *mask;
    lp_problem pb;
    lp_candidate cand;
} one_fx;

static void one_fx_free(one_fx *x)
{
    free(x->logits);
    free(x->logp);
    free(x->sum);
    free(x->mean);
    free(x->labels);
    free(x->mask);
}

static int one_fx_init(one_fx *x, uint64_t seed, int64_t B, int64_t T, int64_t V, int masked)
{
    memset(x, 0, sizeof *x);
    lp_rng rng;
    lp_rng_init(&rng, seed);
    const int64_t Ts = T - 1;
    x->logits = malloc((size_t)(B * T * V) * sizeof *x->logits);
    x->labels = malloc((size_t)(B * T) * sizeof *x->labels);
    x->mask = malloc((size_t)(B * T));
    x->logp = malloc((size_t)(B * Ts) * sizeof *x->logp);
    x->sum = malloc((size_t)B * sizeof *x->sum);
    x->mean = malloc((size_t)B * sizeof *x->mean);
    if (!lpt_check(x->logits && x->labels && x->mask && x->logp && x->sum && x->mean, "out of memory"))
        return 0;
    for (int64_t i = 0; i < B * T * V; i++) x->logits[i] = (float)(4 * lp_rng_normal(&rng));
    for (int64_t i = 0; i < B * T; i++) {
        x->labels[i] = (int64_t)lp_rng_below(&rng, (uint64_t)V);
        x->mask[i] = !masked || lp_rng_below(&rng, 4) != 0;
    }
    x->pb = (lp_problem)LP_PROBLEM_INIT;
    x->pb.shape = (lp_shape){B, T, V};
    x->pb.fmt = LP_F32;
    x->pb.logits = x->logits;
    x->pb.labels = x->labels;
    if (masked) x->pb.mask = x->mask;
    lp_ref_result ref;
    lp_error err;
    if (!lpt_check(lp_ref_compute(&ref, &x->pb, &err) == LP_OK, "one seed %llu: lp_ref_compute: %s",
                   (unsigned long long)seed, err.msg))
        return 0;
    for (int64_t i = 0; i < B * Ts; i++)
        x->logp[i] = move_ulps(ref.logp[i].f32, (int)lp_rng_below(&rng, 7) - 3);
    for (int64_t b = 0; b < B; b++) {
        x->sum[b] = move_ulps(ref.sum[b].f32, (int)lp_rng_below(&rng, 3) - 1);
        x->mean[b] = move_ulps(ref.mean[b].f32, (int)lp_rng_below(&rng, 3) - 1);
    }
    lp_ref_result_free(&ref);
    x->cand = (lp_candidate){LP_F32, x->logp, x->sum, x->mean};
    return 1;
}

/* lp_check_one on x under opt: the fast route (slow 0) or the options' all-MPFR one (slow 1). */
static lp_check *one_run(const one_fx *x, const lp_check_options *opt, int slow, const char *what)
{
    lp_check *c = NULL;
    lp_error err;
    if (!lpt_check(lp_check_new(&c, opt, &err) == LP_OK, "%s: lp_check_new: %s", what, err.msg))
        return NULL;
    ck_check_options(c)->slow = slow;
    if (!lpt_check(lp_check_one(c, "input", "input/f32", &x->pb, &x->cand, &err) == LP_OK,
                   "%s (slow %d): lp_check_one: %s", what, slow, err.msg)) {
        lp_check_free(c);
        return NULL;
    }
    return c;
}

/* The fast one-problem route gives the JSON of the options' slow route byte for byte (but for
 * the judge counts, which only it has), and lp_check_problem's: problems of a few shapes and
 * masks, with the default bound, a ulp bound and classes only. */
static void test_one_route(void)
{
    static const struct { int64_t B, T, V; int masked; } shapes[] = {
        {2, 6, 11, 0}, {3, 40, 300, 1}, {1, 129, 2000, 0}, {2, 2, 5, 1}};
    ck_judge_verify = 1;   /* every interval of the fast judge against the all-MPFR measure, too */
    for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++) {
        for (int oi = 0; oi < 3; oi++) {
            const uint64_t seed = 100 + (uint64_t)(si * 3 + oi);
            one_fx x;
            if (!one_fx_init(&x, seed, shapes[si].B, shapes[si].T, shapes[si].V, shapes[si].masked)) {
                one_fx_free(&x);
                continue;
            }
            lp_check_options o = LP_CHECK_OPTIONS_INIT;
            if (oi == 1) o.max_ulp[LP_OUT_TOKEN] = o.max_ulp[LP_OUT_SUM] = o.max_ulp[LP_OUT_MEAN] = 2;
            if (oi == 2) o.no_default_bound = 1;
            char what[160];
            snprintf(what, sizeof what, "one route [%lld, %lld, %lld] masked %d options %d seed %llu",
                     (long long)shapes[si].B, (long long)shapes[si].T, (long long)shapes[si].V,
                     shapes[si].masked, oi, (unsigned long long)seed);
            lp_check *fast = one_run(&x, &o, 0, what), *slow = one_run(&x, &o, 1, what), *multi = NULL;
            lp_error err;
            if (lp_check_new(&multi, &o, &err) == LP_OK &&
                !lpt_check(lp_check_problem(multi, "input", "input/f32", &x.pb, NULL, &x.cand, &err)
                           == LP_OK, "%s: lp_check_problem: %s", what, err.msg)) {
                lp_check_free(multi);
                multi = NULL;
            }
            int jf = 0, js = 0, jm = 0;
            char *tf = fast ? json_of(fast, what, &jf) : NULL;
            char *ts = slow ? json_of(slow, what, &js) : NULL;
            char *tm = multi ? json_of(multi, what, &jm) : NULL;
            if (tf && ts && tm) {
                lpt_check(jf && !js, "%s: judge counts in the fast JSON %d (want 1), the slow %d (want 0)",
                          what, jf, js);
                if (!lpt_check(strcmp(tf, ts) == 0, "%s: the fast route's JSON differs from the slow "
                               "route's", what))
                    lpt_note("fast:\n%s\nslow:\n%s", tf, ts);
                if (!lpt_check(strcmp(tf, tm) == 0, "%s: lp_check_one's JSON differs from "
                               "lp_check_problem's", what))
                    lpt_note("one:\n%s\nproblem:\n%s", tf, tm);
                lpt_check(lp_check_failed(fast) == lp_check_failed(slow), "%s: verdicts differ", what);
            }
            free(tf);
            free(ts);
            free(tm);
            lp_check_free(fast);
            lp_check_free(slow);
            lp_check_free(multi);
            one_fx_free(&x);
        }
    }
    ck_judge_verify = 0;
}

/* lp_check_one needs a new run and closes it to any other problem, suite or certification. */
static void test_one_usage(void)
{
    fixture x;
    if (!fixture_init(&x, 21, 0)) return;
    lp_error err;
    lp_check *c = NULL;
    lpt_check(lp_check_one(NULL, "x", NULL, &x.pb, &x.cand, &err) == LP_ERR_USAGE,
              "lp_check_one(NULL run): want LP_ERR_USAGE");
    /* after lp_check_problem: refused */
    if (lp_check_new(&c, NULL, &err) == LP_OK &&
        lpt_check(lp_check_problem(c, "p", NULL, &x.pb, &x.ref, &x.cand, &err) == LP_OK, "%s", err.msg)) {
        lp_status s = lp_check_one(c, "q", NULL, &x.pb, &x.cand, &err);
        lpt_check(s == LP_ERR_USAGE && strstr(err.msg, "new run"),
                  "lp_check_one after lp_check_problem: status %d '%s', want LP_ERR_USAGE", (int)s, err.msg);
    }
    lp_check_free(c);
    /* a failed argument check leaves the run new */
    c = NULL;
    if (lp_check_new(&c, NULL, &err) == LP_OK) {
        lp_candidate none = {LP_F32, NULL, NULL, NULL};
        lpt_check(lp_check_one(c, "q", NULL, &x.pb, &none, &err) == LP_ERR_USAGE,
                  "lp_check_one, no output: want LP_ERR_USAGE");
        lpt_check(lp_check_one(c, "q", NULL, &x.pb, &x.cand, &err) == LP_OK,
                  "lp_check_one after an argument error: %s", err.msg);
        lpt_check(!lp_check_failed(c) && lp_check_values(c) == B_ * TS_ + 2 * B_,
                  "lp_check_one, exact candidate: failed %d, %lld values", lp_check_failed(c),
                  (long long)lp_check_values(c));
        /* then nothing more */
        lp_status s1 = lp_check_one(c, "r", NULL, &x.pb, &x.cand, &err);
        lpt_check(s1 == LP_ERR_USAGE, "lp_check_one twice: status %d, want LP_ERR_USAGE", (int)s1);
        lp_status s2 = lp_check_problem(c, "r", NULL, &x.pb, &x.ref, &x.cand, &err);
        lpt_check(s2 == LP_ERR_USAGE && strstr(err.msg, "lp_check_one"),
                  "lp_check_problem after lp_check_one: status %d '%s', want LP_ERR_USAGE", (int)s2,
                  err.msg);
        lp_certify_options co = LP_CERTIFY_OPTIONS_INIT;
        co.kernel = "twopass_f32";
        co.seconds = 0;
        lp_status s3 = lp_check_certify(c, &co, &err);
        lpt_check(s3 == LP_ERR_USAGE, "lp_check_certify after lp_check_one: status %d, want "
                  "LP_ERR_USAGE", (int)s3);
        lpt_check(lp_check_values(c) == B_ * TS_ + 2 * B_, "the refused calls changed the run: %lld "
                  "values", (long long)lp_check_values(c));
    }
    lp_check_free(c);
    lp_ref_result_free(&x.ref);
}

int main(void)
{
    lpt_begin("t_check");
    test_exact();
    test_median();
    test_bounds();
    test_mismatch();
    test_leak();
    test_rel_rule();
    test_baseline();
    test_default_bound();
    test_nothing_and_exit();
    test_reports();
    test_one_route();
    test_one_usage();
    test_files();
    test_gen_random();
    test_certify();
    test_certify_kernel();
    return lpt_end();
}
