/* impl/grad.c: the backward kernels of lp_grad.h (gradients of SPEC A8), their registry, the
 * driver over a problem and reduction, and their contracts.
 *
 * NOTATION  z_i = x_i / tau (exact), m = max z, p = softmax(z), y the label, c = w / tau =
 *           1 / (divisor tau) the exact scale (divisor 1, 1, n_b, sum_b n_b for token, sum, mean,
 *           token_mean), g_i = c (delta_iy - p_i) the exact gradient (SPEC A8, no sampling).
 *           u = 2^-p of acc, eps_exp and alpha_exp, alpha_A = 2^(emin-p) of acc as impl/arith.c
 *           (EXP(d) = e^d (1 + eta) + beta); u_out, alpha_out of the final rounding to out (0 when
 *           out == acc); n the finite logits of the row; every RN below is to acc unless named.
 * ALGORITHMS (operations in this order, each rounded; -ffp-contract=off as every impl file)
 *   common    z^_i = x_i (tau = 1: the storage format widens exactly to acc) or RN(RN64(x_i/tau));
 *             c^ = 1 (divisor 1, tau 1) or RN(RN64(RN64(1/divisor)/tau)); m^ = max z^ (NaN never
 *             compares greater).
 *   softmax   e_i = EXP(RN(z^_i - m^)), S^ = sum e_i left to right, p^_i = RN(e_i / S^),
 *             d_i = RN(delta_iy - p^_i), g^_i = RN_out(RN(d_i c^)). Special rows come out NaN by
 *             themselves (a NaN reaches S^; m^ = +inf makes +inf - inf NaN; m^ = -inf makes every
 *             z^_i - m^ NaN); a -inf logit gives e_i = +0, g^_i = +0.
 *   pbf16     softmax with p^_i := RN_bf16(p^_i) before d_i: the KNOWN BUG (Liger-Kernel #1329).
 *   accurate  j the first argmax; rows with m^ = +inf or -inf (no finite logit) are NaN outright;
 *             e_j = 1, e_i = EXP(RN(z^_i - m^)) (i != j); T^ = Neumaier sum of e_i, i != j,
 *             rounded once (RN(s + comp)); S^ = RN(1 + T^); p^_i = RN(e_i / S^);
 *             g^_i = RN_out(RN(-p^_i c^)) for i != y (so -0 at a -inf logit, as A8);
 *             r^ = Neumaier sum of p^_i over i != y, rounded once; g^_y = RN_out(RN(r^ c^)). The
 *             label element is never formed as 1 - p_y.
 * PROOF (softmax, pbf16): a bound on |g^_i - g_i| in units of c, uniform over the row.
 *   (1) tau != 1: |z^_i - z_i| <= dz = eT W + aT, W = max finite |z_i|, eT = (1 + 2^-53)(1 + u) - 1
 *       (2^-53 for acc f64), aT = alpha_A + 2^-1075. p' = softmax(z^) satisfies p'_i / p_i in
 *       [e^(-2 dz), e^(2 dz)] (numerator and denominator each move by at most e^(dz)), so
 *       |p'_i - p_i| <= E_tau = e^(2 dz) - 1 (p_i <= 1). tau = 1: E_tau = 0.
 *   (2) With d_i = z^_i - m^ <= 0 exact and d^_i = RN(d_i), |d^_i - d_i| <= u |d_i| (a subnormal
 *       difference is exact): e^(d_i) |e^(d^_i - d_i) - 1| <= sup_t e^-t (e^(ut) - 1) <= kappa =
 *       u / ((1 - u) e); EXP adds e^(d^_i) eps_exp + alpha_exp <= eps_exp + alpha_exp (d^_i <= 0).
 *       So |e_i - e^(d_i)| <= a_e = kappa + eps_exp + alpha_exp.
 *   (3) S = sum e^(d_i) >= 1 and S^ >= 1 (EXP(0) = 1 exactly; RN never decreases a sum of
 *       non-negative terms below a term): |log S^ - log S| <= dL of impl/twopass.c step (5)
 *       (lp_shifted_sum_logerr with n terms, no rescale, L <= ln n), so |S / S^ - 1| <= e^dL - 1.
 *   (4) |e_i / S^ - p'_i| <= |e_i - e^(d_i)| / S^ + p'_i |S / S^ - 1| <= E_q = a_e + e^dL - 1;
 *       the division's rounding adds u (1 + E_q) + alpha_A: E_p = E_tau + E_q + u (1 + E_q)
 *       + alpha_A bounds |p^_i - p_i|. pbf16: + u_bf16 (1 + E_p) + 2^-134 (RN to bf16).
 *   (5) d_i: |d_i - (delta_iy - p_i)| <= E_d = E_p + u (1 + E_p) (and |d_i| <= 1 + E_d). This is
 *       the step that loses the label element: 1 - p^_y carries p^_y's absolute error whatever
 *       1 - p_y is, so no bound relative to |g_y| exists (p_y -> 1).
 *   (6) c^ = c (1 + g_c), |g_c| <= (1 + 2^-53)^2 (1 + u) - 1 (0 when c^ = 1), for c normal in acc
 *       and 2 c (1 + g_c) below the overflow threshold of acc and out (the DOMAIN with (1), (3)).
 *       |d_i c^ - (delta - p_i) c| <= c (E_d (1 + g_c) + g_c); the product's rounding u c (1 + E_d)
 *       (1 + g_c) + alpha_A; the output rounding u_out (that, times (1 + u)) + alpha_out.
 *   TOTAL  |g^_i - g_i| <= c [E_d (1 + g_c) + g_c + (u + u_out (1 + u)) (1 + E_d)(1 + g_c)]
 *          + alpha_A (1 + u_out) + alpha_out; to first order (n - 1) u + (2 k_exp + n^u ln n + 4) u
 *          + u_out [+ u_bf16 for pbf16] in units of c = w / tau (lp_gpromise.scale, .abs).
 * PROOF (accurate): a bound relative to |g_i|.
 *   (1') as (1), relative: rho = e^(2 dz) - 1 on every p_i and on every sum of them.
 *   (2') e_i (i != j): relative error <= eps_e = (e^(u G) (1 + eps_exp) - 1), G >= max over finite
 *       i != j of |z^_i - m^| (from the row's finite range / tau, plus 2 dz), plus alpha_exp.
 *   (3') Neumaier's sum with its branch is Ogita-Rump-Oishi's Sum2 [1, Prop. 4.5]: for k' >= 1
 *       non-negative terms |T^ - sum| <= (u + gamma_(k'-1)^2) sum, gamma_j = j u / (1 - j u), valid
 *       for (k' - 1) u < 1 (the DOMAIN; exact zeros from -inf logits are added exactly and do not
 *       count). Over the k = n - 1 terms: |T^ - T| / S <= t_rel = eps_e + (u + gamma^2)(1 + eps_e)
 *       + k alpha_exp (1 + u + gamma^2) (T <= S, 1 <= S). S^ = RN(1 + T^):
 *       |S^ - S| <= S eps_S, eps_S = t_rel + u (1 + t_rel) (DOMAIN: eps_S <= 1/2); S^ >= 1.
 *   (4') p^_i = p'_i (1 + th_i) + ze_i, |th_i| <= eps_p = ((1 + eps_e) / (1 - eps_S))(1 + u) - 1
 *       (i = j: e_j = 1 exactly), |ze_i| <= a_p = alpha_exp (1 + u) + alpha_A.
 *   (5') i != y: -p^_i is exact. Label: r^ over the k' finite i != y: relative (1 + rho)(1 + eps_p)
 *       (1 + u + gamma_(k'-1)^2) - 1 to R = sum_{i != y} p_i = 1 - p_y (exactly g_y / c), absolute
 *       k' a_p (1 + u + gamma^2). The non-label elements satisfy the same (weaker) bound.
 *   (6') times c^ as (6): relative g_c, then RN: u, and RN_out: u_out; absolutes alpha_A, alpha_out.
 *   TOTAL  |g^_i - g_i| <= rel |g_i| + scale c + abs, rel = ((1 + rel_5')(1 + g_c)(1 + u)
 *          (1 + u_out) - 1, scale = k' a_p (1 + u + gamma^2)(1 + g_c)(1 + u)(1 + u_out),
 *          abs = alpha_A (1 + u_out) + alpha_out. To first order rel = (2 k_exp + 3) u + u G
 *          + 2 u_acc... + u_out: for grad_accurate_f32_acc64 about 2^-53 (G + 10) + 2^-24, i.e.
 *          at most 0.5 + 2^-29 (G + 10) f32 ulps of |g_i| where g_i is normal (ulp_F(g) > u_F |g|);
 *          for grad_accurate_bf16_acc32 0.5 + 2^-16 (G + 10) bf16 ulps.
 * MEASURED tests/t_grad_kernels.c holds every kernel to its promise against the exact reference
 *          (lp_grad_row) on random, peaked (p_y = 1 - 10^-k), tied, masked (-inf) rows, every
 *          reduction, temperatures; and prints the label element of the pbf16 kernel: for
 *          p_y >= 1 - 2^-9 it is 0, 100 % relative error (row-relative 1.0), while its
 *          scale-relative error stays below 2^-9: the bug class an absolute tolerance misses.
 * REFERENCES [1] T. Ogita, S. M. Rump, S. Oishi, Accurate sum and dot product, SIAM J. Sci. Comput.
 *            26(6), 2005. [2] impl/twopass.c (steps (2)-(5)), impl/arith.c (constants).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_grad.h"
#include "lp_impl_internal.h"
#include "lp_problem.h"

#define GK(nm, fam, st, acc, out, bug, models) {nm, fam, st, acc, out, bug, models}

static const lp_gkernel gkernels[] = {
    GK("grad_softmax_f64", LP_GF_SOFTMAX, LP_F64, LP_F64, LP_F64, 0,
       "softmax(x) - onehot in f64 (PyTorch log_softmax / cross_entropy backward, float64)"),
    GK("grad_softmax_f32", LP_GF_SOFTMAX, LP_F32, LP_F32, LP_F32, 0,
       "softmax(x) - onehot in f32 (PyTorch cross_entropy backward, float32; fused CE kernels)"),
    GK("grad_softmax_bf16_acc32", LP_GF_SOFTMAX, LP_BF16, LP_F32, LP_BF16, 0,
       "bf16 logits upcast to f32, softmax - onehot in f32, gradient stored as bf16"),
    GK("grad_softmax_bf16_acc32_pbf16", LP_GF_PBF16, LP_BF16, LP_F32, LP_BF16, 1,
       "KNOWN BUG: softmax rounded to bf16 before subtracting the one-hot (Liger-Kernel #1329)"),
    GK("grad_accurate_f32_acc64", LP_GF_ACCURATE, LP_F32, LP_F64, LP_F32, 0,
       "label element as the compensated sum of the others, f64 accumulation, f32 gradient"),
    GK("grad_accurate_bf16_acc32", LP_GF_ACCURATE, LP_BF16, LP_F32, LP_BF16, 0,
       "label element as the compensated sum of the others, f32 accumulation, bf16 gradient"),
};
#define NGK (sizeof gkernels / sizeof gkernels[0])

size_t lp_gkernel_count(void) { return NGK; }
const lp_gkernel *lp_gkernel_at(size_t i) { return i < NGK ? &gkernels[i] : NULL; }

const lp_gkernel *lp_gkernel_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NGK; i++)
        if (strcmp(gkernels[i].name, name) == 0) return &gkernels[i];
    return NULL;
}

int lp_gkernel_accepts(const lp_gkernel *k, lp_format fmt)
{
    if ((unsigned)fmt >= LP_NFORMATS) return 0;
    if (fmt == k->storage || k->storage == LP_F64) return 1;
    return k->storage == LP_F32 && (fmt == LP_F16 || fmt == LP_BF16);
}

const char *lp_gfamily_name(lp_gfamily f)
{
    static const char *const t[] = {"softmax", "pbf16", "accurate"};
    return (unsigned)f < 3 ? t[f] : "?";
}

const char *lp_gkernel_bound_text(const lp_gkernel *k)
{
    static const char *const t[] = {
        "scale-relative: |g^-g| <= c [(n-1)u + (2k_exp + n^u ln n + 4)u + u_out] + alpha, c = w/tau",
        "scale-relative: as softmax + u_bf16 c (bug: the label element is 0 for p_y >= 1 - 2^-9)",
        ("relative: |g^-g| <= [(2k_exp + 3)u + uG + u_out] |g| + n alpha_exp c + alpha: "
         "<= 0.5 ulp_out + u G of acc"),
    };
    return (unsigned)k->family < 3 ? t[k->family] : "?";
}

const char *lp_gkernel_domain_text(const lp_gkernel *k)
{
    (void)k;
    return "c = w/tau normal in acc with 2c finite in acc and out; tempered logits finite in acc; "
           "the sum finite in acc (accurate: (n - 2) u < 1)";
}

/* ---- divisors --------------------------------------------------------------------------------- */

void lp_grad_divisors(int64_t *div, const lp_problem *pb, lp_reduction red)
{
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    int64_t total = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t n = 0;
        for (int64_t ts = 0; ts < Ts; ts++) n += lp_problem_counted(pb, b, ts);
        div[b] = n;
        total += n;
    }
    for (int64_t b = 0; b < B; b++) {
        if (div[b] == 0) continue;
        if (red == LP_RED_TOKEN || red == LP_RED_SUM) div[b] = 1;
        else if (red == LP_RED_TOKEN_MEAN) div[b] = total;
    }
}

/* ---- the kernels -------------------------------------------------------------------------------- */

typedef struct gctx {
    const lp_gkernel *k;
    lp_kctx c;               /* constants of acc (a forward kernel of the same acc, tau 1) */
    double *z, *e;
    int64_t cap;
} gctx;

static lp_status gctx_init(gctx *g, const lp_gkernel *k, int64_t V, lp_error *err)
{
    memset(g, 0, sizeof *g);
    g->k = k;
    const lp_kernel *fk = lp_kernel_find(k->acc == LP_F64 ? "twopass_f64" : "twopass_f32");
    if (!fk || (k->acc != LP_F64 && k->acc != LP_F32))
        return lp_fail(err, LP_ERR_INTERNAL, "%s: no accumulation constants", k->name);
    lp_status s = lp_kctx_init(&g->c, fk, 1.0, 0, err);
    if (s != LP_OK) return s;
    g->z = malloc((size_t)(V > 0 ? V : 1) * sizeof *g->z);
    g->e = malloc((size_t)(V > 0 ? V : 1) * sizeof *g->e);
    if (!g->z || !g->e) {
        free(g->z);
        free(g->e);
        lp_kctx_free(&g->c);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for a row of %lld", k->name,
                       (long long)V);
    }
    g->cap = V;
    return LP_OK;
}

static void gctx_free(gctx *g)
{
    free(g->z);
    free(g->e);
    lp_kctx_free(&g->c);
}

/* c^ as the kernels form it. */
static double scale_hat(lp_format acc, int64_t divisor, double tau)
{
    if (divisor == 1 && tau == 1.0) return 1.0;
    return lp_rn(acc, (1.0 / (double)divisor) / tau);
}

static void row_softmax(gctx *g, const void *row, lp_format fmt, int64_t V, int64_t y, double tau,
                        int64_t divisor, double *out)
{
    const lp_kctx *c = &g->c;
    const lp_format acc = g->k->acc, of = g->k->out;
    double *z = g->z, *e = g->e;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        z[i] = tau == 1.0 ? x : lp_rn(acc, x / tau);
    }
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (z[i] > m) m = z[i];
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) {
        e[i] = k_exp(c, k_sub(c, z[i], m));
        s = k_add(c, s, e[i]);
    }
    const double ch = scale_hat(acc, divisor, tau);
    for (int64_t i = 0; i < V; i++) {
        double p = k_div(c, e[i], s);
        if (g->k->family == LP_GF_PBF16) p = lp_rn(LP_BF16, p);   /* the bug */
        const double d = k_sub(c, i == y ? 1.0 : 0.0, p);
        out[i] = lp_rn(of, k_mul(c, d, ch));
    }
}

static double neumaier_done(lp_format f, double s, double comp) { return lp_rn(f, s + comp); }

static void row_accurate(gctx *g, const void *row, lp_format fmt, int64_t V, int64_t y, double tau,
                         int64_t divisor, double *out)
{
    const lp_kctx *c = &g->c;
    const lp_format acc = g->k->acc, of = g->k->out;
    double *z = g->z, *e = g->e;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        z[i] = tau == 1.0 ? x : lp_rn(acc, x / tau);
    }
    double m = -HUGE_VAL;
    int64_t j = -1;
    for (int64_t i = 0; i < V; i++)
        if (z[i] > m) {
            m = z[i];
            j = i;
        }
    if (j < 0 || isinf(m)) {                  /* no finite logit, or a +inf one: NaN (A8) */
        for (int64_t i = 0; i < V; i++) out[i] = lp_nan();
        return;
    }
    double s = 0.0, comp = 0.0;
    for (int64_t i = 0; i < V; i++) {
        if (i == j) {
            e[i] = 1.0;
            continue;
        }
        e[i] = k_exp(c, k_sub(c, z[i], m));
        lp_neumaier_add(acc, &s, &comp, e[i]);
    }
    const double S = k_add(c, 1.0, neumaier_done(acc, s, comp));
    for (int64_t i = 0; i < V; i++) e[i] = k_div(c, e[i], S);   /* p^_i */
    s = comp = 0.0;
    for (int64_t i = 0; i < V; i++)
        if (i != y) lp_neumaier_add(acc, &s, &comp, e[i]);
    const double r = neumaier_done(acc, s, comp);
    const double ch = scale_hat(acc, divisor, tau);
    for (int64_t i = 0; i < V; i++)
        out[i] = lp_rn(of, k_mul(c, i == y ? r : -e[i], ch));
}

static void grad_row(gctx *g, const void *row, lp_format fmt, int64_t V, int64_t y, double tau,
                     int64_t divisor, double *out)
{
    if (g->k->family == LP_GF_ACCURATE) row_accurate(g, row, fmt, V, y, tau, divisor, out);
    else row_softmax(g, row, fmt, V, y, tau, divisor, out);
}

static lp_status check_args(const lp_gkernel *k, lp_format fmt, double tau, lp_error *err)
{
    if (!lp_gkernel_accepts(k, fmt))
        return lp_fail(err, LP_ERR_USAGE, "kernel %s reads %s logits, not %s", k->name,
                       lp_format_name(k->storage), lp_format_name(fmt));
    if (!(tau > 0) || isinf(tau))
        return lp_fail(err, LP_ERR_USAGE, "%s: temperature %g is not positive and finite", k->name,
                       tau);
    return LP_OK;
}

lp_status lp_gkernel_row(double *g, const lp_gkernel *k, const void *row, lp_format fmt, int64_t V,
                         int64_t label, double temperature, int64_t divisor, lp_error *err)
{
    if (!k || !g || !row || V < 1 || label < 0 || label >= V || divisor < 1)
        return lp_fail(err, LP_ERR_USAGE, "lp_gkernel_row: bad arguments (V %lld, label %lld, "
                       "divisor %lld)", (long long)V, (long long)label, (long long)divisor);
    lp_status s = check_args(k, fmt, temperature, err);
    if (s != LP_OK) return s;
    gctx c;
    s = gctx_init(&c, k, V, err);
    if (s != LP_OK) return s;
    grad_row(&c, row, fmt, V, label, temperature, divisor, g);
    gctx_free(&c);
    return LP_OK;
}

lp_status lp_gkernel_run(const lp_gkernel *k, const lp_problem *pb, lp_reduction red,
                         lp_gkernel_sink sink, void *user, lp_error *err)
{
    if (!k || !pb || !sink || (unsigned)red > LP_RED_TOKEN_MEAN)
        return lp_fail(err, LP_ERR_USAGE, "lp_gkernel_run: bad arguments");
    lp_status s = check_args(k, pb->fmt, pb->temperature, err);
    if (s == LP_OK) s = lp_problem_check(pb, err);
    if (s != LP_OK) return s;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V, Ts = lp_problem_ts(pb);
    int64_t *div = malloc((size_t)B * sizeof *div);
    double *out = calloc((size_t)V, sizeof *out);
    gctx c;
    if (!div || !out || (s = gctx_init(&c, k, V, err)) != LP_OK) {
        free(div);
        free(out);
        return s != LP_OK ? s : lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", k->name);
    }
    lp_grad_divisors(div, pb, red);
    for (int64_t b = 0; b < B && s == LP_OK; b++)
        for (int64_t t = 0; t < T && s == LP_OK; t++) {
            if (t < Ts && lp_problem_counted(pb, b, t)) {
                const int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, t));
                grad_row(&c, lp_problem_row(pb, b, t), pb->fmt, V, lab, pb->temperature, div[b],
                         out);
            } else {
                for (int64_t i = 0; i < V; i++) out[i] = 0.0;   /* scores nothing: +0 */
            }
            if (sink(user, b, t, out, V, err) != 0) s = LP_ERR_IO;
        }
    gctx_free(&c);
    free(div);
    free(out);
    return s;
}

/* ---- contracts ---------------------------------------------------------------------------------- */

typedef struct gscan {
    int64_t n, nfin_not_y;   /* finite logits; finite logits other than the label */
    int special;             /* NaN or +inf, or no finite logit */
    double xmax, xmin;       /* over finite logits */
} gscan;

static void scan(gscan *s, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    memset(s, 0, sizeof *s);
    s->xmax = -HUGE_VAL;
    s->xmin = HUGE_VAL;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) s->special = 1;
        if (!isfinite(x)) continue;
        s->n++;
        if (i != y) s->nfin_not_y++;
        if (x > s->xmax) s->xmax = x;
        if (x < s->xmin) s->xmin = x;
    }
    if (s->n == 0) s->special = 1;
}

static double pw2(int k) { return ldexp(1.0, k); }

lp_gpromise lp_gkernel_promise_row(const lp_gkernel *k, const void *row, lp_format fmt, int64_t V,
                                   int64_t label, double temperature, int64_t divisor)
{
    lp_gpromise p = {0, 0, 0.0, 0.0, 0.0};
    gscan sc;
    scan(&sc, row, fmt, V, label);
    if (sc.special) {
        p.special = 1;
        p.in_domain = 1;
        return p;
    }
    gctx g;
    lp_error e;
    if (gctx_init(&g, k, 0, &e) != LP_OK) return p;            /* out of domain: no promise */
    const lp_kctx *c = &g.c;
    const lp_format_info *fa = lp_format_get(k->acc), *fo = lp_format_get(k->out);
    const double u = c->u, tau = temperature, inf8 = 1 + 0x1p-50;
    const double aA = c->alpha_a;
    const double u_out = k->out != k->acc ? pw2(-fo->prec) : 0.0;
    const double a_out = k->out != k->acc ? pw2(fo->emin - fo->prec) : 0.0;
    const double ovf_a = lp_overflow_threshold(k->acc), ovf_o = lp_overflow_threshold(k->out);
    /* (6) the scale */
    const double cd = (1.0 / (double)divisor) / tau;
    const int exact_c = divisor == 1 && tau == 1.0;
    const double gc = exact_c ? 0.0 : lp_comb(lp_comb(0x1p-53, 0x1p-53), k->acc == LP_F64 ? 0 : u);
    if (!exact_c && (!(cd / inf8 >= pw2(fa->emin)) || !(2 * cd * inf8 * (1 + gc) < ovf_a) ||
                     !(2 * cd * inf8 * (1 + gc) < ovf_o)))
        goto out;
    /* (1) the temperature */
    double dz = 0.0;
    const double W = fmax(fabs(sc.xmax), fabs(sc.xmin)) / tau * inf8;
    if (tau != 1.0) {
        const double eT = k->acc == LP_F64 ? 0x1p-53 : lp_comb(0x1p-53, u);
        if (!(W * (1 + eT) < ovf_a * (1 - 0x1p-20))) goto out;
        dz = (eT * W + aA + 0x1p-1074) * inf8;
    }
    const double Et = expm1(2 * dz) * inf8;
    if (k->family != LP_GF_ACCURATE) {
        const double dL = lp_shifted_sum_logerr(c, sc.n, 0, log((double)sc.n) * inf8);
        if (dL < 0) goto out;
        const double kappa = u / ((1 - u) * exp(1.0));
        const double ae = kappa + c->eps_exp + c->alpha_exp;
        const double Eq = ae + expm1(dL);
        double Ep = Et + Eq + u * (1 + Eq) + aA;
        if (k->family == LP_GF_PBF16) Ep = Ep + 0x1p-8 * (1 + Ep) + 0x1p-134;
        const double Ed = Ep + u * (1 + Ep);
        p.scale = Ed * (1 + gc) + gc + (u + u_out * (1 + u)) * (1 + Ed) * (1 + gc);
        p.abs = aA * (1 + u_out) + a_out;
        p.rel = 0.0;
    } else {
        const double G = ((sc.xmax - sc.xmin) / tau * inf8 + 2 * dz) * inf8;
        const double kT = (double)(sc.n - 1), kR = (double)sc.nfin_not_y;
        if (!((kT + 1) * u < 0.5) || !isfinite(G)) goto out;
        const double gam = kT > 1 ? (kT - 1) * u / (1 - (kT - 1) * u) : 0.0;
        const double gamR = kR > 1 ? (kR - 1) * u / (1 - (kR - 1) * u) : 0.0;
        const double ee = lp_comb(expm1(u * G), c->eps_exp);
        const double trel = ee + (u + gam * gam) * (1 + ee) + kT * c->alpha_exp * (1 + u + gam * gam);
        const double eS = trel + u * (1 + trel);
        if (!(eS <= 0.5)) goto out;
        const double ep = lp_comb((1 + ee) / (1 - eS) - 1, u);
        const double ap = c->alpha_exp * (1 + u) + aA;
        const double r5 = lp_comb(lp_comb(Et, ep), u + gamR * gamR);
        p.rel = lp_comb(lp_comb(lp_comb(r5, gc), u), u_out);
        p.scale = kR * ap * (1 + u + gamR * gamR) * (1 + gc) * (1 + u) * (1 + u_out);
        p.abs = aA * (1 + u_out) + a_out;
    }
    p.in_domain = 1;
out:
    gctx_free(&g);
    return p;
}

/* The relative term is rel |x|, which is 0 where the exact x is 0 whatever rel (rel may be +inf
 * where the relative analysis overflows: inf * 0 would make the bound NaN and fail an exact 0;
 * found by fz_grad_kernels, grad_kernels/regress-rel-inf-at-zero). */
double lp_gpromise_bound(const lp_gpromise *p, double x, double c)
{
    const double rterm = x == 0 ? 0.0 : p->rel * fabs(x);
    return lp_inflate(rterm + p->scale * c * (1 + 0x1p-50) + p->abs);
}

int lp_gkernel_judge(const lp_gpromise *p, int counted, double got, const lp_value *ref, double c,
                     double *ratio)
{
    if (ratio) *ratio = 0.0;
    if (!counted) return got == 0.0 && !signbit(got);
    if (!p->in_domain) return 1;
    if (p->special || isnan(ref->dd.hi)) return isnan(got) != 0 && p->special;
    if (!isfinite(got)) return 0;
    const double err = fabs((got - ref->dd.hi) - ref->dd.lo);
    const double bd = lp_gpromise_bound(p, ref->dd.hi, c);
    if (ratio) *ratio = bd > 0 ? err / bd : (err > 0 ? HUGE_VAL : 0.0);
    return err <= bd;
}
