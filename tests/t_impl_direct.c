/* tests/t_impl_direct.c: impl/twopass.c's direct path (lp_row_twopass_direct: the stored row, native
 * float arithmetic for f32 accumulation) returns the generic kernel's value (lp_row_twopass on the
 * row widened to double, as registry.c ran it before) bit for bit, rounded to the kernel's output
 * format, for every twopass kernel and every logits format where lp_twopass_direct_ok selects it:
 *   random     rows of V from 1 to 4000 (and a few of 128256) in f64, f32, f16, bf16: normal logits
 *              at scales 1, 10, 100, 1e4, values near the format's largest (overflowing shifts),
 *              subnormals, ties for the max (+0 and -0 among them: the first one met is the max),
 *              peaked rows, -inf masks, NaN and +inf entries, all -inf and all NaN rows, a -inf
 *              label; temperatures 1, 2, 0.7, 1.3, 1e-3, 1e30, 3e-39 (DIV and MULINV modes);
 *   corpus     every row of vectors/corpus/<family>.txt with its temperature, at its label and at
 *              the first and last index.
 * Also: lp_twopass_direct_ok holds where check's default bound runs (twopass_f32 on f32/f16/bf16,
 * twopass_f64 on every format), so the test covers the path check takes.
 * LPCERT_LEVEL=2 multiplies the random budget by 10. */
#include <math.h>

#include "lp_file.h"
#include "lp_format.h"
#include "lp_impl.h"
#include "lp_impl_internal.h"
#include "lp_problem.h"
#include "lp_vectors.h"
#include "lpt.h"

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static int64_t compared, rows_seen;

/* One row: the generic and the direct value, rounded to k->out, compared bit for bit. */
static void compare_row(const lp_kernel *k, double tau, const void *row, lp_format fmt, int64_t V,
                        int64_t y, const char *where)
{
    lp_kctx c;
    lp_error err = {LP_OK, ""};
    if (!lpt_check(lp_kctx_init(&c, k, tau, V, &err) == LP_OK, "%s: %s", where, err.msg)) return;
    if (!lp_twopass_direct_ok(&c, fmt)) {
        lp_kctx_free(&c);
        return;
    }
    for (int64_t i = 0; i < V; i++) c.x[i] = lp_load_f64(row, fmt, (size_t)i);
    const double g = lp_rn(c.out, lp_row_twopass(&c, c.x, V, y));
    const double d = lp_rn(c.out, lp_row_twopass_direct(&c, row, fmt, V, y));
    compared++;
    if (!lpt_check(bits(g) == bits(d),
                   "%s: kernel %s, %s logits, tau %a, V %lld, label %lld: generic 0x%016llx (%.17g), "
                   "direct 0x%016llx (%.17g)",
                   where, k->name, lp_format_name(fmt), tau, (long long)V, (long long)y,
                   (unsigned long long)bits(g), g, (unsigned long long)bits(d), d)) {
        for (int64_t i = 0; i < V && i < 8; i++) {
            const double x = lp_load_f64(row, fmt, (size_t)i);
            lpt_note("x[%lld] = 0x%016llx (%.17g)", (long long)i, (unsigned long long)bits(x), x);
        }
        lpt_note("label x[%lld] = %.17g", (long long)y, lp_load_f64(row, fmt, (size_t)y));
    }
    lp_kctx_free(&c);
}

/* Every twopass kernel that accepts fmt, on one row. */
static void compare_all(double tau, const void *row, lp_format fmt, int64_t V, int64_t y,
                        const char *where)
{
    /* the same row again one byte off its alignment, as a mapped safetensors tensor may be */
    const size_t bytes = (size_t)V * (size_t)lp_format_get(fmt)->bytes;
    char *odd = malloc(bytes + 1);
    if (odd) memcpy(odd + 1, row, bytes);
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (k->family == LP_KF_TWOPASS && lp_kernel_accepts(k, fmt)) {
            compare_row(k, tau, row, fmt, V, y, where);
            if (odd && rows_seen % 8 == 0) compare_row(k, tau, odd + 1, fmt, V, y, where);
        }
    }
    free(odd);
    rows_seen++;
}

/* ---- random rows ----------------------------------------------------------------------------- */

static const double taus[] = {1.0, 2.0, 0.7, 1.3, 1e-3, 1e30, 3e-39};

static double fmt_max(lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    return ldexp(2.0 - ldexp(1.0, 1 - fi->prec), fi->emax);
}

static void random_rows(uint64_t seed, int64_t budget)
{
    lpt_rng r;
    lpt_rng_init(&r, seed);
    static const int64_t Vs[] = {1, 2, 3, 7, 8, 9, 16, 17, 100, 257, 1000, 4000};
    double *x = malloc(128256 * sizeof *x);
    void *row = malloc(128256 * sizeof(double));
    LP_ASSERT(x && row);
    for (int64_t it = 0; it < budget; it++) {
        const lp_format fmt = (lp_format)(lpt_rng_next(&r) % LP_NFORMATS);
        const int64_t V = it % 97 == 5 ? 128256 : Vs[lpt_rng_next(&r) % (sizeof Vs / sizeof Vs[0])];
        const int kind = (int)(lpt_rng_next(&r) % 9);
        const double scale = (double[]){1, 10, 100, 1e4}[lpt_rng_next(&r) % 4];
        const double big = fmt_max(fmt);
        const double top = scale * lpt_rng_normal(&r);
        for (int64_t i = 0; i < V; i++) {
            double v = scale * lpt_rng_normal(&r);
            switch (kind) {
            case 1: v = lpt_rng_unif(&r) < 0.5 ? big * (2 * lpt_rng_unif(&r) - 1) : v; break;
            case 2: v = ldexp(lpt_rng_normal(&r), lp_format_get(fmt)->emin - 2); break;
            case 3: v = lpt_rng_unif(&r) < 0.3 ? top : top - fabs(v); break;       /* ties */
            case 4: v = lpt_rng_unif(&r) < 0.5 ? (lpt_rng_unif(&r) < 0.5 ? 0.0 : -0.0) : -fabs(v);
                    break;                                                        /* zero ties */
            case 5: v = lpt_rng_unif(&r) < 0.7 ? -HUGE_VAL : v; break;             /* -inf masks */
            case 6: v = i == 0 ? 0.0 : -30.0 - lpt_rng_unif(&r); break;           /* peaked */
            case 7: v = lpt_rng_unif(&r) < 0.5 ? -HUGE_VAL : lp_f64_bits(0x7ff8000000000000u); break;
            default: break;
            }
            x[i] = v;
        }
        const double u = lpt_rng_unif(&r);      /* NaN, +inf, -big entries */
        if (u < 0.1) x[lpt_rng_next(&r) % (uint64_t)V] = lp_f64_bits(0x7ff8000000000000u | (lpt_rng_next(&r) & 0xffff));
        else if (u < 0.2) x[lpt_rng_next(&r) % (uint64_t)V] = HUGE_VAL;
        else if (u < 0.25) x[lpt_rng_next(&r) % (uint64_t)V] = -big;
        else if (u < 0.3) x[lpt_rng_next(&r) % (uint64_t)V] = -lp_f64_bits(0x7ff8000000000000u);
        const int64_t y = (int64_t)(lpt_rng_next(&r) % (uint64_t)V);
        if (lpt_rng_unif(&r) < 0.05) x[y] = -HUGE_VAL;                            /* a -inf label */
        for (int64_t i = 0; i < V; i++) lp_store_f64(row, fmt, (size_t)i, x[i]);
        const double tau = lpt_rng_unif(&r) < 0.5 ? 1.0
                           : taus[lpt_rng_next(&r) % (sizeof taus / sizeof taus[0])];
        char where[64];
        snprintf(where, sizeof where, "random #%lld (kind %d)", (long long)it, kind);
        compare_all(tau, row, fmt, V, y, where);
    }
    free(x);
    free(row);
}

/* ---- the committed corpus -------------------------------------------------------------------- */

static void corpus_file(const char *path, int64_t *ncases)
{
    lp_vreader *r = NULL;
    lp_error err = {LP_OK, ""};
    if (lp_vectors_open(&r, path, &err) != LP_OK) return;
    lp_vcase c;
    int got = 0;
    lp_status s;
    while ((s = lp_vectors_next(r, &c, &got, &err)) == LP_OK && got) {
        const lp_problem *pb = &c.c.pb;
        const int64_t V = pb->shape.V;
        const size_t rb = (size_t)V * (size_t)lp_format_get(pb->fmt)->bytes;
        for (int64_t b = 0; b < pb->shape.B; b++)
            for (int64_t t = 0; t < pb->shape.T; t++) {
                const void *row = (const char *)pb->logits + (size_t)(b * pb->shape.T + t) * rb;
                const int64_t lab = lp_problem_label(pb, b, t);
                char where[800];
                snprintf(where, sizeof where, "%s:%lld case %s b=%lld t=%lld", path,
                         (long long)c.line, c.c.name, (long long)b, (long long)t);
                if (lab >= 0 && lab < V) compare_all(pb->temperature, row, pb->fmt, V, lab, where);
                compare_all(pb->temperature, row, pb->fmt, V, 0, where);
                compare_all(pb->temperature, row, pb->fmt, V, V - 1, where);
            }
        (*ncases)++;
        lp_vcase_free(&c);
    }
    lpt_check(s == LP_OK, "%s", err.msg);
    lp_vectors_close(r);
}

static void corpus(void)
{
    int64_t n = 0;
    const int64_t nfiles = lpt_each_corpus_file(corpus_file, &n);
    lpt_check(nfiles > 0, "vectors/corpus/*.txt not found (run from the source root)");
    printf("corpus: %lld cases from %lld files\n", (long long)n, (long long)nfiles);
}

/* ---- coverage: the path check's default bound takes ------------------------------------------- */

static void coverage(void)
{
    static const struct {
        const char *k;
        lp_format f;
    } on[] = {{"twopass_f32", LP_F32}, {"twopass_f32", LP_F16}, {"twopass_f32", LP_BF16},
              {"twopass_f64", LP_F64}, {"twopass_f64", LP_F32}, {"twopass_f64", LP_F16},
              {"twopass_f64", LP_BF16}};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        const lp_kernel *k = lp_kernel_find(on[i].k);
        if (!lpt_check(k != NULL, "kernel %s not registered", on[i].k)) continue;
        for (int t = 0; t < 2; t++) {
            lp_kctx c;
            lp_error err = {LP_OK, ""};
            LP_ASSERT(lp_kctx_init(&c, k, t ? 0.7 : 1.0, 0, &err) == LP_OK);
            lpt_check(lp_twopass_direct_ok(&c, on[i].f), "%s on %s logits, tau %g: not direct",
                      on[i].k, lp_format_name(on[i].f), t ? 0.7 : 1.0);
        }
    }
}

int main(void)
{
    lpt_begin("t_impl_direct");
    coverage();
    const int64_t budget = 3000 * (lpt_level() >= 2 ? 10 : 1);
    random_rows(lpt_seed(), budget);
    corpus();
    printf("compared %lld kernel values on %lld rows\n", (long long)compared, (long long)rows_seen);
    lpt_check(compared > 0, "nothing compared");
    return lpt_end();
}
