/* tests/t_impl_conventions.c: the declared special-value conventions of the built-in kernels
 * (impl/lp_impl.h), observed on small hand-made problems, and the promises agreeing with them:
 *   - masking: mul leaks NaN from a masked NaN row and from the dummy-label trap (a masked row
 *     whose logit at the dummy label 0 is -inf: 0 * -inf = NaN); assign does not;
 *   - empty_mean: an all-masked sequence has mean NaN (nan) or 0 (zero), sum +-0 for both;
 *   - out-of-range labels: an input error naming b and t, even under mask 0 (error), or a
 *     silent logp = 0 that counts (zero);
 *   - +inf rows: NaN (inf_row nan) or -inf for a finite label (loginf); a +inf label: NaN;
 *     rows with no finite logit: NaN; a -inf label: -inf; a single finite logit at the label:
 *     exactly 0 for the shifted families;
 *   - the running mean turns a -inf token followed by another into NaN.
 * Every problem is also judged by lp_kernel_check against the reference: a convention the kernel
 * follows but its promise does not declare fails there. */
#include <math.h>

#include "lp_format.h"
#include "lp_impl.h"
#include "lpt.h"

#define NAN64 lp_f64_bits(0x7ff8000000000000u)

typedef struct small {
    lp_problem pb;
    float logits[4 * 4 * 4];
    int64_t labels[4 * 4];
    uint8_t mask[4 * 4];
} small;

/* B x T x V = 1 x T x 4 (T <= 4), shift none, labels and rows given. */
static void small_init(small *s, int64_t T, const int64_t *labels, const float rows[][4],
                       const uint8_t *mask)
{
    memset(s, 0, sizeof *s);
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape.B = 1;
    pb.shape.T = T;
    pb.shape.V = 4;
    pb.fmt = LP_F32;
    pb.shift = LP_SHIFT_NONE;
    for (int64_t t = 0; t < T; t++) {
        s->labels[t] = labels[t];
        memcpy(&s->logits[t * 4], rows[t], sizeof rows[t]);
        s->mask[t] = mask ? mask[t] : 1;
    }
    pb.logits = s->logits;
    pb.labels = s->labels;
    pb.mask = mask ? s->mask : NULL;
    s->pb = pb;
}

static int kernel_run(lp_kresult *r, const char *name, const small *s)
{
    const lp_kernel *k = lp_kernel_find(name);
    LP_ASSERT(k);
    lp_error err = {LP_OK, ""};
    return lpt_check(lp_kernel_run(r, k, &s->pb, &err) == LP_OK, "%s: run: %s", name, err.msg);
}

/* The kernel's whole output judged against the reference: its promise covers what it does. */
static void judged_ok(const char *name, const small *s, const char *what)
{
    const lp_kernel *k = lp_kernel_find(name);
    lp_ref_result ref;
    lp_error err = {LP_OK, ""};
    LP_ASSERT(lp_ref_compute(&ref, &s->pb, &err) == LP_OK);
    lp_kstats st;
    memset(&st, 0, sizeof st);
    lpt_check(lp_kernel_check(&st, k, &s->pb, &ref, NULL, NULL, &err) == LP_OK, "%s: %s", name,
              err.msg);
    lpt_check(st.failed == 0, "%s on %s: %lld of %lld values outside the kernel's own promise", name,
              what, (long long)st.failed, (long long)st.judged);
    lp_ref_result_free(&ref);
}

static void check_masking(void)
{
    const float nan = lp_f32_bits(0x7fc00000u), ninf = -HUGE_VALF;
    /* position 1 is masked by ignore_index and its row holds a NaN */
    const float rows[3][4] = {{1, 2, 3, 4}, {1, nan, 3, 4}, {0.5f, 0.25f, 0, -1}};
    small s;
    small_init(&s, 3, (const int64_t[]){1, -100, 2}, rows, NULL);
    lp_kresult a, m;
    if (!kernel_run(&a, "twopass_f32", &s) || !kernel_run(&m, "twopass_f32_mulmask", &s)) return;
    lpt_check(isfinite(a.sum[0]) && isfinite(a.mean[0]), "assign: a masked NaN row leaks: sum %g",
              a.sum[0]);
    lpt_check(isnan(m.sum[0]) && isnan(m.mean[0]) && isnan(m.token_mean),
              "mul: a masked NaN row must make the sum NaN (0 * NaN): got %g", m.sum[0]);
    lpt_check(a.logp[1] == 0 && isnan(m.logp[1]), "masked position: assign writes 0 (%g), mul "
              "writes logp * 0 = NaN (%g)", a.logp[1], m.logp[1]);
    lpt_check(a.logp[0] == m.logp[0] && a.logp[2] == m.logp[2], "counted tokens agree");
    judged_ok("twopass_f32", &s, "masked NaN row");
    judged_ok("twopass_f32_mulmask", &s, "masked NaN row");
    lp_kresult_free(&a);
    lp_kresult_free(&m);

    /* the dummy-label trap: a masked row, legal -inf at index 0 (the dummy label) */
    const float trap[3][4] = {{1, 2, 3, 4}, {ninf, 2, 3, 4}, {0.5f, 0.25f, 0, -1}};
    small_init(&s, 3, (const int64_t[]){1, -100, 2}, trap, NULL);
    if (!kernel_run(&a, "twopass_f32", &s) || !kernel_run(&m, "twopass_f32_mulmask", &s)) return;
    lpt_check(isfinite(a.sum[0]), "assign: the dummy-label trap must not leak: sum %g", a.sum[0]);
    lpt_check(isnan(m.sum[0]), "mul: the dummy label's -inf gives 0 * -inf = NaN: sum %g", m.sum[0]);
    judged_ok("twopass_f32", &s, "dummy-label trap");
    judged_ok("twopass_f32_mulmask", &s, "dummy-label trap");
    lp_kresult_free(&a);
    lp_kresult_free(&m);

    /* the same through the mask: an in-range label under mask 0 keeps its own label */
    small_init(&s, 3, (const int64_t[]){1, 0, 2}, trap, (const uint8_t[]){1, 0, 1});
    if (!kernel_run(&m, "twopass_f32_mulmask", &s)) return;
    lpt_check(isnan(m.sum[0]) && m.count[0] == 2, "mul under mask 0: NaN sum, 2 counted (%g, %lld)",
              m.sum[0], (long long)m.count[0]);
    judged_ok("twopass_f32_mulmask", &s, "mask 0 on a -inf label");
    lp_kresult_free(&m);

    /* a finite masked row under mul adds -0: nothing */
    const float fine[2][4] = {{1, 2, 3, 4}, {4, 3, 2, 1}};
    small_init(&s, 2, (const int64_t[]){1, -100}, fine, NULL);
    if (!kernel_run(&a, "twopass_f32", &s) || !kernel_run(&m, "twopass_f32_mulmask", &s)) return;
    lpt_check(lp_bits_f64(a.sum[0]) == lp_bits_f64(m.sum[0]), "a finite masked row: mul and "
              "assign agree bit for bit (%a, %a)", a.sum[0], m.sum[0]);
    lp_kresult_free(&a);
    lp_kresult_free(&m);
}

static void check_empty_mean(void)
{
    const float rows[2][4] = {{1, 2, 3, 4}, {4, 3, 2, 1}};
    small s;
    small_init(&s, 2, (const int64_t[]){-100, -100}, rows, NULL);
    lp_kresult n, z, m;
    if (!kernel_run(&n, "twopass_f32", &s) || !kernel_run(&z, "twopass_f32_emptyzero", &s) ||
        !kernel_run(&m, "twopass_f32_mulmask", &s))
        return;
    lpt_check(n.count[0] == 0 && n.sum[0] == 0 && !signbit(n.sum[0]), "empty: sum +0, got %a",
              n.sum[0]);
    lpt_check(isnan(n.mean[0]) && isnan(n.token_mean), "empty_mean nan: mean %g, token mean %g",
              n.mean[0], n.token_mean);
    lpt_check(z.mean[0] == 0 && z.token_mean == 0, "empty_mean zero: mean %g, token mean %g",
              z.mean[0], z.token_mean);
    lpt_check(m.sum[0] == 0 && isnan(m.mean[0]), "mul, empty: sum +-0 (%a), mean NaN (%g)",
              m.sum[0], m.mean[0]);
    for (int e = 0; e < 2; e++) {   /* the judge follows the kernel's policy, not the problem's */
        s.pb.empty_mean = e ? LP_EMPTY_ZERO : LP_EMPTY_NAN;
        judged_ok("twopass_f32", &s, "an empty sequence");
        judged_ok("twopass_f32_emptyzero", &s, "an empty sequence");
        judged_ok("twopass_f32_runmean", &s, "an empty sequence");
    }
    lp_kresult_free(&n);
    lp_kresult_free(&z);
    lp_kresult_free(&m);
}

static void check_out_of_range(void)
{
    const float rows[2][4] = {{1, 2, 3, 4}, {4, 3, 2, 1}};
    small s;
    small_init(&s, 2, (const int64_t[]){1, 7}, rows, (const uint8_t[]){1, 0});
    lp_kresult r;
    lp_error err = {LP_OK, ""};
    const lp_status st = lp_kernel_run(&r, lp_kernel_find("twopass_f32"), &s.pb, &err);
    lpt_check(st == LP_ERR_INPUT && strstr(err.msg, "b=0") && strstr(err.msg, "t=1") &&
              strstr(err.msg, "7"), "out-of-range label under mask 0: input error naming b, t and "
              "the value; got %s \"%s\"", lp_status_name(st), err.msg);
    lpt_check(r.logp == NULL, "no partial output on an input error");
    small_init(&s, 2, (const int64_t[]){1, 7}, rows, NULL);
    if (!kernel_run(&r, "twopass_f32_oobzero", &s)) return;
    lpt_check(r.logp[1] == 0 && r.counted[1] && r.count[0] == 2 && r.sum[0] == r.logp[0],
              "oob zero: the label 7 gives logp 0 and counts (logp %g, count %lld)", r.logp[1],
              (long long)r.count[0]);
    const lp_kpromise p = lp_kernel_promise_row(lp_kernel_find("twopass_f32_oobzero"), rows[1],
                                                LP_F32, 4, 7, 1.0, NULL);
    lpt_check(p.in_domain && p.allow == LP_KALLOW_ZERO, "oob zero: the promise is exactly 0");
    lp_kresult_free(&r);
}

/* One row through every base f32 kernel: the class each family declares. */
static void check_rows(void)
{
    const float pinf = HUGE_VALF, ninf = -HUGE_VALF, nan = lp_f32_bits(0x7fc00000u);
    static const char *const fams[] = {"naive_f32", "twopass_f32", "online_f32", "lse_f32",
                                       "accurate_f32"};
    struct { const char *what; float row[4]; int64_t label; } cases[] = {
        {"+inf in the row, finite label", {1, pinf, 3, 4}, 0},
        {"+inf at the label", {1, pinf, 3, 4}, 1},
        {"NaN in the row", {1, nan, 3, 4}, 0},
        {"NaN and +inf", {nan, pinf, 3, 4}, 2},
        {"no finite logit", {ninf, ninf, ninf, ninf}, 2},
        {"-inf label", {1, ninf, 3, 4}, 1},
        {"single finite logit at the label", {ninf, ninf, 2.5f, ninf}, 2},
        {"-inf before the first finite logit", {ninf, ninf, 3, 4}, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lp_value ref;
        lp_error err = {LP_OK, ""};
        LP_ASSERT(lp_ref_row(&ref, cases[c].row, LP_F32, 4, cases[c].label, 1.0, &err) == LP_OK);
        for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
            const lp_kernel *k = lp_kernel_find(fams[f]);
            double y;
            LP_ASSERT(lp_kernel_row(&y, k, cases[c].row, LP_F32, 4, cases[c].label, 1.0, &err) ==
                      LP_OK);
            /* what SPEC A3 says, adjusted by the declared +inf convention */
            double want = ref.f64;
            const int has_pinf = c <= 1, has_nan = c == 2 || c == 3;
            if (has_pinf && !has_nan && k->inf_row == LP_KINF_LOGINF)
                want = cases[c].label == 1 ? NAN64 : -HUGE_VAL;
            int ok;
            if (isnan(want)) ok = isnan(y);
            else if (isinf(want)) ok = y == want;
            else if (want == 0 && k->family != LP_KF_NAIVE) ok = y == 0;
            else ok = fabs(y - want) < 1e-5;
            lpt_check(ok, "%s on \"%s\": want %g (A3 %g, inf_row %s), got %g", k->name,
                      cases[c].what, want, ref.f64, lp_kinf_name(k->inf_row), y);
            const lp_kpromise p = lp_kernel_promise_row(k, cases[c].row, LP_F32, 4, cases[c].label,
                                                        1.0, &ref);
            const lp_kverdict v = lp_kernel_judge(&p, y, ref.dd, k->out);
            lpt_check(p.in_domain && v.ok, "%s on \"%s\": the promise (allow %#x) does not declare "
                      "what the kernel does (%g)", k->name, cases[c].what, p.allow, y);
        }
    }
}

static void check_running_mean_neginf(void)
{
    const float ninf = -HUGE_VALF;
    const float rows[3][4] = {{1, 2, 3, 4}, {1, ninf, 3, 4}, {4, 3, 2, 1}};
    small s;
    small_init(&s, 3, (const int64_t[]){0, 1, 2}, rows, NULL);
    lp_kresult d, r;
    if (!kernel_run(&d, "twopass_f32", &s) || !kernel_run(&r, "twopass_f32_runmean", &s)) return;
    lpt_check(d.sum[0] == -HUGE_VAL && d.mean[0] == -HUGE_VAL, "sum/n of a -inf token: -inf "
              "(sum %g, mean %g)", d.sum[0], d.mean[0]);
    lpt_check(isnan(r.mean[0]) && r.sum[0] == -HUGE_VAL, "running mean: -inf then a finite token "
              "gives (y + inf)/k = inf, -inf + inf = NaN (mean %g)", r.mean[0]);
    judged_ok("twopass_f32_runmean", &s, "a -inf token");
    lp_kresult_free(&d);
    lp_kresult_free(&r);
}

static void check_registry(void)
{
    const size_t n = lp_kernel_count();
    lpt_check(n >= 30, "at least the 5 families x 6 formats are registered (%zu)", n);
    lpt_check(lp_kernel_at(n) == NULL && lp_kernel_find("no_such_kernel") == NULL, "lookup ends");
    for (size_t i = 0; i < n; i++) {
        const lp_kernel *k = lp_kernel_at(i);
        lpt_check(lp_kernel_find(k->name) == k, "%s: found by name, names unique", k->name);
        /* <family>_<storage>[_acc<bits>][_variant] */
        char want[64];
        snprintf(want, sizeof want, "%s_%s", lp_kfamily_name(k->family),
                 lp_format_name(k->storage));
        int ok = strncmp(k->name, want, strlen(want)) == 0;
        if (k->storage == LP_F16 || k->storage == LP_BF16) {
            char acc[16];
            snprintf(acc, sizeof acc, "_acc%d", k->acc == LP_F32 ? 32 : 16);
            ok = ok && strncmp(k->name + strlen(want), acc, strlen(acc)) == 0 &&
                 k->out == k->storage;
        } else {
            ok = ok && k->acc == k->storage && k->out == k->storage;
        }
        lpt_check(ok, "%s: name follows <family>_<storage>[_acc<bits>][_variant]", k->name);
        lpt_check(lp_kernel_accepts(k, k->storage), "%s reads its own storage format", k->name);
        lpt_check(strlen(lp_kernel_bound_text(k)) > 10 && strlen(lp_kernel_domain_text(k)) > 10 &&
                  k->models && *k->models, "%s: contract texts", k->name);
    }
    lpt_check(!lp_kernel_accepts(lp_kernel_find("twopass_bf16_acc32"), LP_F32) &&
              lp_kernel_accepts(lp_kernel_find("twopass_f32"), LP_BF16) &&
              lp_kernel_accepts(lp_kernel_find("twopass_f64"), LP_F16),
              "formats accepted: those widened exactly");
}

int main(void)
{
    lpt_begin("t_impl_conventions");
    check_registry();
    check_masking();
    check_empty_mean();
    check_out_of_range();
    check_rows();
    check_running_mean_neginf();
    return lpt_end();
}
