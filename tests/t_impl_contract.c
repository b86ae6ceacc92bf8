/* tests/t_impl_contract.c: every registered kernel (impl/registry.c) stays within its contract
 * against the exact reference: every token, sequence sum and mean, and the batch token mean, judged
 * by lp_kernel_check with the promises of impl/promise.c.
 *   random     seeded problems in the four storage formats: normal logits at scales 1, 10, 100,
 *              peaked rows with p = 1 - 10^-k, vocabulary masking by -inf, ties for the max,
 *              increasing rows (the online family's worst case), large offsets (|max| ~ 1e3),
 *              V from 1 to 4000, both shifts, masks and ignored labels, empty sequences,
 *              temperatures 1, 2, 0.7, 1.3, a few NaN/+inf rows; expected never outside the domain
 *              for the shifted families in f32/f64 accumulation.
 *   corpus     vectors/corpus/<family>.txt when present (format vectors/FORMAT.md; its expected values
 *              are the reference: t_vectors holds them equal to the MPFR engine).
 *   drift      the rows of impl/twopass.c TIGHTNESS (every addition to the sum rounds up):
 *              the (n - 1) u term is attained; the worst ratio error / bound is printed per kernel.
 *   domain     naive on logits near 100 and near -120: it returns inf or NaN where the exact
 *              value is an ordinary number, and its promise says the row is outside its domain,
 *              while twopass holds its bound there: the contract is not vacuous.
 * LPCERT_LEVEL=2 multiplies the random budget by 10. */
#include <math.h>

#include "lp_file.h"
#include "lp_format.h"
#include "lp_impl.h"
#include "lp_problem.h"
#include "lp_suite.h"
#include "lp_vectors.h"
#include "lpt.h"

/* ---- test problems --------------------------------------------------------------------------- */

/* A test problem is an lp_case (core/lp_case.h) that owns its arrays. */
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

/* Element i of the logits := x rounded to the problem's format. */
static void put(lp_case *c, size_t i, double x) { lp_store_f64(c->logits, c->pb.fmt, i, x); }

/* ---- judging and statistics ------------------------------------------------------------------ */

typedef struct kstat {
    lp_kstats st;
    double worst;             /* worst token ratio, and where */
    char worst_at[160];
} kstat;

static kstat *stats;          /* [lp_kernel_count()] */

typedef struct visit_ctx {
    const lp_case *c;
    kstat *ks;
    uint64_t seed;
} visit_ctx;

static const char *what_name(lp_kwhat w)
{
    static const char *const n[] = {"token", "sum", "mean", "token_mean"};
    return n[w];
}

static void allow_name(char *buf, size_t n, unsigned a)
{
    snprintf(buf, n, "%s%s%s%s", a & LP_KALLOW_NUM ? "num " : "", a & LP_KALLOW_NAN ? "nan " : "",
             a & LP_KALLOW_NEGINF ? "-inf " : "", a & LP_KALLOW_ZERO ? "zero" : "");
}

static void visit(void *ctx, const lp_kjudged *j)
{
    visit_ctx *v = ctx;
    const lp_problem *pb = &v->c->pb;
    int64_t label = -1;
    if (j->what == LP_KW_TOKEN) label = lp_problem_label(pb, j->b, lp_problem_label_t(pb, j->ts));
    if (j->what == LP_KW_TOKEN && j->promise.in_domain && (j->promise.allow & LP_KALLOW_NUM) &&
        j->verdict.ratio > v->ks->worst) {
        v->ks->worst = j->verdict.ratio;
        snprintf(v->ks->worst_at, sizeof v->ks->worst_at, "%.80s b=%lld t=%lld exact %.6g err %.3g "
                 "bound %.3g", v->c->name, (long long)j->b, (long long)j->ts, j->ref->dd.hi,
                 j->verdict.err_abs, j->promise.abs);
    }
    if (j->verdict.ok) {
        lpt_check(1, "%s", j->k->name);
        return;
    }
    char got[64], want[64], allow[32];
    lp_format_hexdec(got, sizeof got, j->got, j->k->out);
    lp_format_hexdec(want, sizeof want, j->ref->dd.hi, j->k->out);
    allow_name(allow, sizeof allow, j->promise.allow);
    lpt_check(0, "%s case=%s seed=0x%llx %s b=%lld t=%lld label=%lld V=%lld tau=%g",
              j->k->name, v->c->name, (unsigned long long)v->seed, what_name(j->what),
              (long long)j->b, (long long)j->ts, (long long)label, (long long)pb->shape.V,
              pb->temperature);
    lpt_note("exact hi=%a lo=%a (%.17g), in %s: %s", j->ref->dd.hi, j->ref->dd.lo, j->ref->dd.hi,
             lp_format_name(j->k->out), want);
    lpt_note("got %s  err=%.6g  bound=%.6g  ratio=%.4g  allowed: %s", got, j->verdict.err_abs,
             j->promise.abs, j->verdict.ratio, allow);
}

/* Every kernel that reads the problem's format, against the given reference. */
static const char *only_kernel;   /* LPCERT_KERNEL=<name>: check that kernel only (repro) */

static void check_with_ref(const lp_case *c, const lp_ref_result *ref, uint64_t seed)
{
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (!lp_kernel_accepts(k, c->pb.fmt)) continue;
        if (only_kernel && strcmp(only_kernel, k->name) != 0) continue;
        visit_ctx v = {c, &stats[i], seed};
        lp_error err = {LP_OK, ""};
        lp_status s = lp_kernel_check(&stats[i].st, k, &c->pb, ref, visit, &v, &err);
        lpt_check(s == LP_OK, "%s case=%s: lp_kernel_check: %s", k->name, c->name, err.msg);
    }
}

static int64_t ref_logits;    /* logits given to the MPFR reference so far */

static void check_case(const lp_case *c, uint64_t seed)
{
    lp_ref_result ref;
    lp_error err = {LP_OK, ""};
    if (!lpt_check(lp_ref_compute(&ref, &c->pb, &err) == LP_OK, "case=%s seed=0x%llx: "
                   "reference: %s", c->name, (unsigned long long)seed, err.msg))
        return;
    ref_logits += c->pb.shape.B * c->pb.shape.T * c->pb.shape.V;
    check_with_ref(c, &ref, seed);
    lp_ref_result_free(&ref);
}

/* ---- random problems ------------------------------------------------------------------------- */

typedef enum row_kind { RK_NORMAL, RK_PEAKED, RK_MASKED, RK_TIES, RK_INCREASING, RK_OFFSET,
                        RK_NKINDS } row_kind;
static const char *const kind_names[] = {"normal", "peaked", "masked", "ties", "increasing",
                                         "offset"};

static double fmt_max(lp_format f)
{
    return f == LP_F16 ? 60000.0 : f == LP_F64 ? 1e300 : 1e38;
}

/* Row (b, ts) of c for label y: V values by kind. */
static void gen_row(lp_case *c, lpt_rng *r, row_kind kind, double scale, size_t base, int64_t y)
{
    const int64_t V = c->pb.shape.V;
    const lp_format fmt = c->pb.fmt;
    switch (kind) {
    case RK_PEAKED: {
        /* T = sum_{i != j} e^(x_i) ~ 10^-k: p_max = 1 - 10^-k */
        const int kmax = fmt == LP_F16 ? 6 : fmt == LP_BF16 ? 8 : 14;
        const int k = 1 + (int)(lpt_rng_next(r) % (uint64_t)kmax);
        const double g = log((double)(V > 1 ? V - 1 : 1)) + k * log(10.0);
        const int64_t j = lpt_rng_unif(r) < 0.7 ? y : (int64_t)(lpt_rng_next(r) % (uint64_t)V);
        for (int64_t i = 0; i < V; i++)
            put(c, base + (size_t)i, i == j ? 0.0 : -g - lpt_rng_unif(r));
        break;
    }
    case RK_MASKED: {
        const double f = lpt_rng_unif(r) < 0.5 ? 0.5 : 0.99;
        const double u = lpt_rng_unif(r);
        for (int64_t i = 0; i < V; i++)
            put(c, base + (size_t)i, lpt_rng_unif(r) < f ? -HUGE_VAL : scale * lpt_rng_normal(r));
        if (u < 0.8) put(c, base + (size_t)y, scale * lpt_rng_normal(r));    /* a finite label */
        else if (u < 0.9) put(c, base + (size_t)y, -HUGE_VAL);               /* A3 rule 3 */
        else {                                                                /* A2: exact 0 */
            for (int64_t i = 0; i < V; i++) put(c, base + (size_t)i, -HUGE_VAL);
            put(c, base + (size_t)y, scale * lpt_rng_normal(r));
        }
        break;
    }
    case RK_TIES: {
        const double top = scale * lpt_rng_normal(r);
        for (int64_t i = 0; i < V; i++)
            put(c, base + (size_t)i, lpt_rng_unif(r) < 0.3 ? top : top - fabs(scale * lpt_rng_normal(r)));
        if (lpt_rng_unif(r) < 0.5) put(c, base + (size_t)y, top);
        break;
    }
    case RK_INCREASING: {
        double x = -scale * 3;
        for (int64_t i = 0; i < V; i++) {
            x += scale * 6 * lpt_rng_unif(r) / (double)V;
            put(c, base + (size_t)i, x);
        }
        break;
    }
    case RK_OFFSET: {
        const double off = fmt == LP_F16 ? 1000.0 : 1000.0 * (1 + 9 * lpt_rng_unif(r));
        for (int64_t i = 0; i < V; i++) put(c, base + (size_t)i, off + lpt_rng_normal(r));
        break;
    }
    default:
        for (int64_t i = 0; i < V; i++) put(c, base + (size_t)i, scale * lpt_rng_normal(r));
        break;
    }
    /* now and then a special row: NaN, +inf (SPEC A3 rule 1), or a huge finite logit */
    const double u = lpt_rng_unif(r);
    if (u < 0.01) put(c, base + (size_t)(lpt_rng_next(r) % (uint64_t)V), lp_f64_bits(0x7ff8000000000000u));
    else if (u < 0.02) put(c, base + (size_t)(lpt_rng_next(r) % (uint64_t)V), HUGE_VAL);
    else if (u < 0.025) put(c, base + (size_t)(lpt_rng_next(r) % (uint64_t)V), -fmt_max(fmt));
}

static void random_case(lpt_rng *r, int id, lp_format fmt, uint64_t seed)
{
    static const int64_t Vs[] = {1, 2, 5, 16, 64, 257, 500, 1000, 2000, 4000};
    static const double taus[] = {1.0, 1.0, 1.0, 2.0, 0.7, 1.3};
    static const double scales[] = {1.0, 10.0, 100.0};
    const row_kind kind = (row_kind)(id % RK_NKINDS);
    const int64_t V = Vs[lpt_rng_next(r) % (sizeof Vs / sizeof Vs[0])];
    /* keep a case near 20k logits; long sequences go with small V */
    int64_t T = 2 + (int64_t)(lpt_rng_next(r) % 16);
    if (V <= 16 && lpt_rng_unif(r) < 0.5) T = 64 + (int64_t)(lpt_rng_next(r) % 200);
    int64_t B = 1 + (int64_t)(lpt_rng_next(r) % 3);
    while (B * T * V > 40000 && T > 2) T--;
    while (B * T * V > 40000 && B > 1) B--;
    const double scale = scales[lpt_rng_next(r) % 3];
    char name[96];
    snprintf(name, sizeof name, "random/%s/%s/%d", lp_format_name(fmt), kind_names[kind], id);
    lp_case c;
    case_init(&c, name, fmt, B, T, V);
    c.pb.shift = lpt_rng_unif(r) < 0.7 ? LP_SHIFT_NEXT : LP_SHIFT_NONE;
    c.pb.temperature = taus[lpt_rng_next(r) % (sizeof taus / sizeof taus[0])];
    c.pb.empty_mean = lpt_rng_unif(r) < 0.5 ? LP_EMPTY_NAN : LP_EMPTY_ZERO;
    const double p_ignore = lpt_rng_unif(r) < 0.5 ? 0.0 : 0.3;
    if (lpt_rng_unif(r) < 0.3) {
        c.mask = calloc((size_t)(B * T), 1);
        LP_ASSERT(c.mask);
        for (int64_t i = 0; i < B * T; i++) c.mask[i] = lpt_rng_unif(r) < 0.8;
        c.pb.mask = c.mask;
    }
    const int64_t Ts = lp_problem_ts(&c.pb);
    const int empty_b = B > 1 && lpt_rng_unif(r) < 0.2;   /* sequence 0 all ignored */
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            int64_t y = (int64_t)(lpt_rng_next(r) % (uint64_t)V);
            if (lpt_rng_unif(r) < p_ignore || (empty_b && b == 0)) y = c.pb.ignore_index;
            c.labels[b * T + t] = y;
        }
        for (int64_t t = 0; t < T; t++) {
            const int64_t lt = c.pb.shift == LP_SHIFT_NEXT ? t + 1 : t;
            int64_t y = lt < T ? c.labels[b * T + lt] : 0;
            if (y < 0) y = (int64_t)(lpt_rng_next(r) % (uint64_t)V);  /* a masked row still has one */
            const row_kind k = t < Ts ? kind : RK_NORMAL;
            gen_row(&c, r, k, scale, (size_t)((b * T + t) * V), y);
        }
    }
    check_case(&c, seed);
    lp_case_free(&c);
}

static void check_random(int64_t budget)
{
    const uint64_t seed = lpt_seed();
    lpt_rng r;
    lpt_rng_init(&r, seed);
    int64_t *outside0 = calloc(lp_kernel_count(), sizeof *outside0);
    LP_ASSERT(outside0);
    for (size_t i = 0; i < lp_kernel_count(); i++) outside0[i] = stats[i].st.outside_domain;
    const int64_t start = ref_logits;
    int id = 0, ncases = 0;
    while (ref_logits - start < budget) {
        random_case(&r, id, (lp_format)(id / RK_NKINDS % LP_NFORMATS), seed);
        id++;
        ncases++;
    }
    /* the shifted families on f32/f64 logits have no domain restriction on these inputs (V <=
     * 4000, |x| <= 1e38 and tau >= 0.7): a promise withdrawn there would make the contract empty */
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (k->family == LP_KF_NAIVE || k->storage == LP_F16 || k->storage == LP_BF16) continue;
        lpt_check(stats[i].st.outside_domain == outside0[i], "%s: %lld random values judged "
                  "outside the domain (seed 0x%llx)", k->name,
                  (long long)(stats[i].st.outside_domain - outside0[i]), (unsigned long long)seed);
    }
    free(outside0);
    printf("random: %d cases, %lld logits through the reference\n", ncases,
           (long long)(ref_logits - start));
}

/* ---- the drift rows (impl/twopass.c TIGHTNESS) ---------------------------------------------- */

/* EXP of the kernel's accumulation format on a value of it. */
static double exp_acc(lp_format acc, double x)
{
    switch (acc) {
    case LP_F64: return exp(x);
    case LP_F32: return (double)expf((float)x);
    default: return lp_round_to((double)expf((float)x), acc);
    }
}

/* The row x_0 = 0, x_i = c (0 < i < n) in the kernel's storage format, with EXP(c) the first value
 * above u of its accumulation format: each addition to a sum in [1, 2) rounds up by ~u. */
static void check_drift(void)
{
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (k->mask != LP_KMASK_ASSIGN || k->temp != LP_KTEMP_DIV || k->reduce != LP_KRED_SEQ ||
            k->mean != LP_KMEAN_DIV || k->empty_mean != LP_EMPTY_NAN || k->oob != LP_KOOB_ERROR)
            continue;                  /* the base kernels: the variants share their rows */
        const lp_format_info *fa = lp_format_get(k->acc), *fs = lp_format_get(k->storage);
        const double u = ldexp(1.0, -fa->prec);
        int64_t n = (int64_t)(1.0 / (2 * u));
        if (n > 1024) n = 1024;
        /* c: the smallest storage value above log(u) with EXP_acc(c) > u */
        double cv = lp_round_to(log(u), k->storage);
        const double step = ldexp(1.0, (int)floor(log2(fabs(cv))) - fs->prec + 1);
        while (exp_acc(k->acc, cv) <= u) cv += step;
        lp_case c;
        char name[96];
        snprintf(name, sizeof name, "drift/%s/n=%lld", k->name, (long long)n);
        case_init(&c, name, k->storage, 1, 2, n);
        for (int64_t j = 0; j < 2 * n; j++) put(&c, (size_t)j, j % n == 0 ? 0.0 : cv);
        c.labels[0] = c.labels[1] = 0;
        const double before = stats[i].worst;
        stats[i].worst = 0;
        lp_ref_result ref;
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_ref_compute(&ref, &c.pb, &err) == LP_OK);
        visit_ctx v = {&c, &stats[i], lpt_seed()};
        lpt_check(lp_kernel_check(&stats[i].st, k, &c.pb, &ref, visit, &v, &err) == LP_OK,
                  "%s: %s", k->name, err.msg);
        printf("  drift %-22s n=%5lld c=%-14a ratio error/bound %.3f\n", k->name, (long long)n, cv,
               stats[i].worst);
        /* the shifted-sum families attain the (n - 1) u term where n u is small (f32, f64) */
        if (k->family != LP_KF_ACCURATE && (k->acc == LP_F32 || k->acc == LP_F64))
            lpt_check(stats[i].worst >= 0.9, "%s: the drift row reaches only %.3f of the bound: "
                      "the bound of impl/twopass.c is not tight where it claims to be", k->name,
                      stats[i].worst);
        if (stats[i].worst < before) stats[i].worst = before;
        lp_ref_result_free(&ref);
        lp_case_free(&c);
    }
}

/* ---- naive outside its domain ---------------------------------------------------------------- */

static void check_naive_domain(void)
{
    static const double centres[] = {100.0, -120.0, 1000.0};
    const lp_kernel *naive = lp_kernel_find("naive_f32"), *twopass = lp_kernel_find("twopass_f32");
    LP_ASSERT(naive && twopass);
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0xdead);
    for (size_t ci = 0; ci < sizeof centres / sizeof centres[0]; ci++) {
        enum { V = 64 };
        float row[V];
        for (int i = 0; i < V; i++) row[i] = (float)(centres[ci] + lpt_rng_normal(&r));
        lp_value ref;
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_ref_row(&ref, row, LP_F32, V, 3, 1.0, &err) == LP_OK);
        double yn, yt;
        LP_ASSERT(lp_kernel_row(&yn, naive, row, LP_F32, V, 3, 1.0, &err) == LP_OK);
        LP_ASSERT(lp_kernel_row(&yt, twopass, row, LP_F32, V, 3, 1.0, &err) == LP_OK);
        const lp_kpromise pn = lp_kernel_promise_row(naive, row, LP_F32, V, 3, 1.0, &ref);
        const lp_kpromise pt = lp_kernel_promise_row(twopass, row, LP_F32, V, 3, 1.0, &ref);
        lpt_check(isfinite(ref.dd.hi) && !isfinite(yn), "naive_f32 on logits near %g: exact %a, "
                  "got %a: expected an overflow or a vanished sum (inf or NaN)", centres[ci],
                  ref.dd.hi, yn);
        lpt_check(!pn.in_domain, "naive_f32 on logits near %g: the row should be outside its "
                  "declared domain", centres[ci]);
        const lp_kverdict vt = lp_kernel_judge(&pt, yt, ref.dd, LP_F32);
        lpt_check(pt.in_domain && vt.ok, "twopass_f32 on logits near %g: exact %a got %a err %g "
                  "bound %g", centres[ci], ref.dd.hi, yt, vt.err_abs, pt.abs);
        printf("  domain: logits near %6g: exact %.9g  naive_f32 %g (outside its domain)  "
               "twopass_f32 %.9g (err %.3g, bound %.3g)\n", centres[ci], ref.dd.hi, yn, yt,
               vt.err_abs, pt.abs);
    }
}

/* ---- logp close to 0 --------------------------------------------------------------------------- */

/* Peaked rows, p = 1 - 10^-k, label at the max: logp ~ -10^-k. The shifted families' (n - 1) u
 * absolute floor is many ulps of such a logp; accurate keeps a few ulps (impl/accurate.c). */
static void check_near_zero(void)
{
    static const char *const names[][3] = {{"twopass_f32", "lse_f32", "accurate_f32"},
                                           {"twopass_f64", "lse_f64", "accurate_f64"}};
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x2e20);
    enum { V = 1000 };
    static double row[V];
    static float rowf[V];
    for (int fi = 0; fi < 2; fi++) {
        const lp_format fmt = fi ? LP_F64 : LP_F32;
        const int kmax = fi ? 15 : 12;
        double worst[3] = {0, 0, 0};
        for (int k = 1; k <= kmax; k++) {
            for (int rep = 0; rep < 4; rep++) {
                const double g = log((double)(V - 1)) + k * log(10.0);
                for (int i = 0; i < V; i++) {
                    row[i] = i == 7 ? 0.0 : -g - lpt_rng_unif(&r);
                    rowf[i] = (float)row[i];
                }
                const void *data = fi ? (const void *)row : (const void *)rowf;
                lp_value ref;
                lp_error err = {LP_OK, ""};
                LP_ASSERT(lp_ref_row(&ref, data, fmt, V, 7, 1.0, &err) == LP_OK);
                for (int j = 0; j < 3; j++) {
                    const lp_kernel *kn = lp_kernel_find(names[fi][j]);
                    double y;
                    LP_ASSERT(lp_kernel_row(&y, kn, data, fmt, V, 7, 1.0, &err) == LP_OK);
                    const lp_kpromise p = lp_kernel_promise_row(kn, data, fmt, V, 7, 1.0, &ref);
                    const lp_kverdict v = lp_kernel_judge(&p, y, ref.dd, fmt);
                    lpt_check(v.ok, "%s near 0 (k=%d): exact %a got %a err %g bound %g", kn->name,
                              k, ref.dd.hi, y, v.err_abs, p.abs);
                    if (v.err_ulp > worst[j]) worst[j] = v.err_ulp;
                }
            }
        }
        printf("  near 0: logp ~ -1e-1 .. -1e-%d, V=%d: max error %s %.3g ulp, %s %.3g ulp, %s "
               "%.3g ulp\n", kmax, V, names[fi][0], worst[0], names[fi][1], worst[1],
               names[fi][2], worst[2]);
        lpt_check(worst[2] <= 2.0, "%s near 0: %.3g ulp: the relative accuracy it claims is lost",
                  names[fi][2], worst[2]);
    }
}

/* ---- the worst-case closed form dominates the row-aware bound --------------------------------- */

static void check_worst_dominates(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0xb0b);
    enum { V = 300 };
    double row[V];
    for (int rep = 0; rep < 20; rep++) {
        const double scale = rep % 3 == 0 ? 1.0 : rep % 3 == 1 ? 10.0 : 30.0;
        const double tau = rep % 2 ? 1.0 : 0.7;
        double xmax = 0;
        for (int i = 0; i < V; i++) {
            row[i] = scale * lpt_rng_normal(&r);
            if (fabs(row[i]) > xmax) xmax = fabs(row[i]);
        }
        lp_value ref;
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_ref_row(&ref, row, LP_F64, V, rep, tau, &err) == LP_OK);
        for (size_t i = 0; i < lp_kernel_count(); i++) {
            const lp_kernel *k = lp_kernel_at(i);
            if (k->storage != LP_F64) continue;
            const lp_kpromise p = lp_kernel_promise_row(k, row, LP_F64, V, rep, tau, &ref);
            const double w = lp_kernel_bound_worst(k, V, fabs(ref.dd.hi), xmax / tau, tau);
            lpt_check(!p.in_domain || p.abs <= w, "%s: row-aware bound %g above the worst case %g",
                      k->name, p.abs, w);
        }
    }
}

/* ---- the committed corpus -------------------------------------------------------------------- */

/* Every case of a file, read by core/vectors.c, against the expected values of the file. */
static void check_corpus_file(const char *path, int64_t *ncases)
{
    lp_vreader *r = NULL;
    lp_error err = {LP_OK, ""};
    lp_status s = lp_vectors_open(&r, path, &err);
    if (s != LP_OK) return;
    lp_vcase c;
    int got = 0;
    while ((s = lp_vectors_next(r, &c, &got, &err)) == LP_OK && got) {
        int64_t total = 0;
        for (int64_t b = 0; b < c.want.B; b++) total += c.want.count[b];
        lpt_check(total == c.tm_count, "%s:%lld: case %s: the m line counts %lld, the s lines %lld",
                  path, (long long)c.line, c.c.name, (long long)c.tm_count, (long long)total);
        check_with_ref(&c.c, &c.want, 0);
        (*ncases)++;
        lp_vcase_free(&c);
    }
    lpt_check(s == LP_OK, "%s", err.msg);
    lp_vectors_close(r);
}

/* Every vectors/corpus/<family>.txt, in name order. */
static void check_corpus(void)
{
    int64_t n = 0;
    const int64_t nfiles = lpt_each_corpus_file(check_corpus_file, &n);
    if (nfiles == 0)
        printf("corpus: vectors/corpus/*.txt not found (run from the source root): skipped\n");
    else
        printf("corpus: %lld cases from %lld files\n", (long long)n, (long long)nfiles);
}

/* ---- summary --------------------------------------------------------------------------------- */

static void print_summary(void)
{
    printf("%-28s %8s %6s %7s  %-8s %-8s %-8s %-8s  %s\n", "kernel", "judged", "failed", "outside",
           "tok", "sum", "mean", "tmean", "worst token ratio at");
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kstats *s = &stats[i].st;
        printf("%-28s %8lld %6lld %7lld  %-8.4f %-8.4f %-8.4f %-8.4f  %s\n", lp_kernel_at(i)->name,
               (long long)s->judged, (long long)s->failed, (long long)s->outside_domain,
               s->worst_ratio[0], s->worst_ratio[1], s->worst_ratio[2], s->worst_ratio[3],
               stats[i].worst_at);
    }
}

int main(void)
{
    lpt_begin("t_impl_contract");
    only_kernel = getenv("LPCERT_KERNEL");
    if (only_kernel && !*only_kernel) only_kernel = NULL;
    stats = calloc(lp_kernel_count(), sizeof *stats);
    LP_ASSERT(stats);
    check_naive_domain();
    check_worst_dominates();
    check_near_zero();
    check_drift();
    check_random(lpt_level() >= 2 ? 30000000 : 2500000);
    check_corpus();
    print_summary();
    free(stats);
    return lpt_end();
}
