/* impl/registry.c: the table of built-in kernels, lookup, and the driver that runs a kernel on a
 * whole problem (rows, masking conventions, reductions). The numerics are in the family files and
 * reduce.c; this file only decides which row is computed with which label and where it goes. */
#include "lp_impl_internal.h"
#include "lp_problem.h"

#define KERNEL(nm, fam, st, acc, out, mask, em, oob, inf, red, mean, temp, models) \
    {nm, fam, st, acc, out, mask, em, oob, inf, red, mean, temp, models}
#define BASE(nm, fam, st, acc, out, inf, red, temp, models) \
    KERNEL(nm, fam, st, acc, out, LP_KMASK_ASSIGN, LP_EMPTY_NAN, LP_KOOB_ERROR, inf, red, \
           LP_KMEAN_DIV, temp, models)
/* A family in its six formats. */
#define FAMILY(fam, nm, inf, red, temp, models) \
    BASE(nm "_f64", fam, LP_F64, LP_F64, LP_F64, inf, red, temp, models), \
    BASE(nm "_f32", fam, LP_F32, LP_F32, LP_F32, inf, red, temp, models), \
    BASE(nm "_f16_acc32", fam, LP_F16, LP_F32, LP_F16, inf, red, temp, models), \
    BASE(nm "_f16_acc16", fam, LP_F16, LP_F16, LP_F16, inf, red, temp, models), \
    BASE(nm "_bf16_acc32", fam, LP_BF16, LP_F32, LP_BF16, inf, red, temp, models), \
    BASE(nm "_bf16_acc16", fam, LP_BF16, LP_BF16, LP_BF16, inf, red, temp, models)
/* A twopass variant differing from the base kernel in the listed conventions. */
#define TWOPASS(nm, st, acc, out, mask, em, oob, red, mean, temp, models) \
    KERNEL(nm, LP_KF_TWOPASS, st, acc, out, mask, em, oob, LP_KINF_NAN, red, mean, temp, models)

static const lp_kernel kernels[] = {
    FAMILY(LP_KF_NAIVE, "naive", LP_KINF_LOGINF, LP_KRED_SEQ, LP_KTEMP_DIV,
           "log(sum(exp(x))) without a shift: the textbook formula"),
    FAMILY(LP_KF_TWOPASS, "twopass", LP_KINF_NAN, LP_KRED_SEQ, LP_KTEMP_DIV,
           "log_softmax(x).gather(y) (PyTorch; halves computed in f32 or in the half format)"),
    FAMILY(LP_KF_ONLINE, "online", LP_KINF_NAN, LP_KRED_SEQ, LP_KTEMP_DIV,
           "one pass, running max and rescaled sum (flash-attn / Liger cross-entropy)"),
    FAMILY(LP_KF_LSE, "lse", LP_KINF_LOGINF, LP_KRED_SEQ, LP_KTEMP_DIV,
           "x.gather(y) - torch.logsumexp(x) (TRL selective_log_softmax)"),
    FAMILY(LP_KF_ACCURATE, "accurate", LP_KINF_NAN, LP_KRED_KAHAN, LP_KTEMP_SHIFTDIV,
           "(x_y - m) - log1p(non-max mass), exact shifts, compensated sums"),

    /* conventions */
    TWOPASS("twopass_f32_mulmask", LP_F32, LP_F32, LP_F32, LP_KMASK_MUL, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "DPO reference code: (logp * loss_mask).sum(-1), dummy label 0 in masked rows"),
    TWOPASS("twopass_bf16_acc32_mulmask", LP_BF16, LP_F32, LP_BF16, LP_KMASK_MUL, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "DPO reference code on bf16 logits"),
    TWOPASS("twopass_f32_emptyzero", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_ZERO,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "count clamped to 1: an empty sequence has mean 0 (TRL, verl, Liger)"),
    TWOPASS("twopass_f32_oobzero", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ZERO, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "an out-of-range label silently gives logp 0 (flash-attn cross-entropy)"),

    /* sequence reductions and means */
    TWOPASS("twopass_f32_pairwise", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_PAIRWISE, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "sequence sum by pairwise (tree) reduction, as GPU reductions do"),
    TWOPASS("twopass_f32_kahan", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_KAHAN, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "sequence sum with Neumaier compensation"),
    TWOPASS("twopass_f32_sum64", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_F64, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "sequence sum accumulated in f64, rounded once"),
    TWOPASS("twopass_f32_runmean", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_RUNNING, LP_KTEMP_DIV,
            "running mean mu += (y - mu) / k"),
    TWOPASS("twopass_bf16_acc32_pairwise", LP_BF16, LP_F32, LP_BF16, LP_KMASK_ASSIGN,
            LP_EMPTY_NAN, LP_KOOB_ERROR, LP_KRED_PAIRWISE, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "bf16 outputs, pairwise f32 sequence sum"),
    TWOPASS("twopass_bf16_acc32_kahan", LP_BF16, LP_F32, LP_BF16, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_KAHAN, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "bf16 outputs, compensated f32 sequence sum"),
    TWOPASS("twopass_bf16_acc32_sum64", LP_BF16, LP_F32, LP_BF16, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_F64, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "bf16 outputs, f64 sequence sum"),
    TWOPASS("twopass_bf16_acc32_runmean", LP_BF16, LP_F32, LP_BF16, LP_KMASK_ASSIGN,
            LP_EMPTY_NAN, LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_RUNNING, LP_KTEMP_DIV,
            "bf16 outputs, running mean in f32"),
    TWOPASS("twopass_f16_acc16_pairwise", LP_F16, LP_F16, LP_F16, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_PAIRWISE, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "f16 everywhere, pairwise sequence sum"),
    TWOPASS("twopass_bf16_acc16_pairwise", LP_BF16, LP_BF16, LP_BF16, LP_KMASK_ASSIGN,
            LP_EMPTY_NAN, LP_KOOB_ERROR, LP_KRED_PAIRWISE, LP_KMEAN_DIV, LP_KTEMP_DIV,
            "bf16 everywhere, pairwise sequence sum"),

    /* temperature */
    TWOPASS("twopass_f32_tempmul", LP_F32, LP_F32, LP_F32, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_MULINV,
            "logits * (1 / temperature)"),
    TWOPASS("twopass_bf16_acc32_tempbf16", LP_BF16, LP_F32, LP_BF16, LP_KMASK_ASSIGN,
            LP_EMPTY_NAN, LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_STORAGE,
            "logits.div_(temperature) in bf16, then the f32 kernel"),
    TWOPASS("twopass_f16_acc32_tempf16", LP_F16, LP_F32, LP_F16, LP_KMASK_ASSIGN, LP_EMPTY_NAN,
            LP_KOOB_ERROR, LP_KRED_SEQ, LP_KMEAN_DIV, LP_KTEMP_STORAGE,
            "logits.div_(temperature) in f16, then the f32 kernel"),
};

#define NKERNELS (sizeof kernels / sizeof kernels[0])

size_t lp_kernel_count(void) { return NKERNELS; }

const lp_kernel *lp_kernel_at(size_t i) { return i < NKERNELS ? &kernels[i] : NULL; }

const lp_kernel *lp_kernel_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NKERNELS; i++)
        if (strcmp(kernels[i].name, name) == 0) return &kernels[i];
    return NULL;
}

int lp_kernel_accepts(const lp_kernel *k, lp_format fmt)
{
    if ((unsigned)fmt >= LP_NFORMATS) return 0;
    if (fmt == k->storage || k->storage == LP_F64) return 1;
    return k->storage == LP_F32 && (fmt == LP_F16 || fmt == LP_BF16);
}

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
    return v < n ? names[v] : "?";
}
#define NAME_OF(tab, v) name_of(tab, sizeof tab / sizeof tab[0], (unsigned)(v))

const char *lp_kfamily_name(lp_kfamily f)
{
    static const char *const t[] = {"naive", "twopass", "online", "lse", "accurate"};
    return NAME_OF(t, f);
}
const char *lp_kmask_name(lp_kmask m)
{
    static const char *const t[] = {"assign", "mul"};
    return NAME_OF(t, m);
}
const char *lp_koob_name(lp_koob o)
{
    static const char *const t[] = {"error", "zero"};
    return NAME_OF(t, o);
}
const char *lp_kinf_name(lp_kinf i)
{
    static const char *const t[] = {"nan", "loginf"};
    return NAME_OF(t, i);
}
const char *lp_kreduce_name(lp_kreduce r)
{
    static const char *const t[] = {"seq", "pairwise", "kahan", "f64"};
    return NAME_OF(t, r);
}
const char *lp_kmean_name(lp_kmean m)
{
    static const char *const t[] = {"div", "running"};
    return NAME_OF(t, m);
}
const char *lp_ktemp_name(lp_ktemp t)
{
    static const char *const n[] = {"div", "mulinv", "storage", "shiftdiv"};
    return NAME_OF(n, t);
}

const char *lp_kernel_bound_text(const lp_kernel *k)
{
    /* First order; u = 2^-p of acc, k_f = LP_LIBM_*_ULP, n finite logits, D = |x_y - max|/tau,
     * L = D - |logp| in [0, ln n], P = |logp|, M = |max|/tau, r = rescales (<= n - 1); plus
     * u_out (P + err) for _acc32 halves and, for tau != 1, the temperature term of arith.c. */
    static const char *const t[] = {
        "(n-1)u + 2k_exp u + n*alpha_exp*e^-m + 2k_log u (|m| + L) + u P",
        "(n-1)u + (2k_exp + n^u ln n)u + u D + 2k_log u L + u P",
        "(n-1+r)u + (1+r)2k_exp u + n^u ln n u + u D + 2k_log u L + u P",
        "(n-1)u + (2k_exp + n^u ln n)u + 2k_log u L + u (M + L) [+ u_out (M + L)] + u P",
        "(4k_exp + 2k_log1p + 4) u P + n (2 alpha_exp + alpha_acc): relative to |logp|",
    };
    return NAME_OF(t, k->family);
}

const char *lp_kernel_domain_text(const lp_kernel *k)
{
    static const char *const t[] = {
        "finite rows with max + ln n below ln(max finite of acc) and the largest term not lost to "
        "underflow (eps_exp + n alpha_exp e^-max <= 1/2)",
        "finite rows, tempered logits and the sum finite in acc (n < ~5000 for f16_acc16)",
        "finite rows, tempered logits and the sum finite in acc (n < ~5000 for f16_acc16)",
        "finite rows, tempered logits and the sum finite in acc (n < ~5000 for f16_acc16)",
        "finite rows with (n - 2) u < 1 (n <= 2049 for f16_acc16, 257 for bf16_acc16) and, "
        "for tau != 1, every shift x_i - max finite in acc",
    };
    return NAME_OF(t, k->family);
}

double lp_family_row(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    switch (c->k->family) {
    case LP_KF_NAIVE: return lp_row_naive(c, x, V, y);
    case LP_KF_TWOPASS: return lp_row_twopass(c, x, V, y);
    case LP_KF_ONLINE: return lp_row_online(c, x, V, y);
    case LP_KF_LSE: return lp_row_lse(c, x, V, y);
    case LP_KF_ACCURATE: return lp_row_accurate(c, x, V, y);
    }
    return lp_nan();
}

double lp_family_bound(const lp_kctx *c, const lp_kfeat *f)
{
    switch (c->k->family) {
    case LP_KF_NAIVE: return lp_bound_naive(c, f);
    case LP_KF_TWOPASS: return lp_bound_twopass(c, f);
    case LP_KF_ONLINE: return lp_bound_online(c, f);
    case LP_KF_LSE: return lp_bound_lse(c, f);
    case LP_KF_ACCURATE: return lp_bound_accurate(c, f);
    }
    return LP_KOUTSIDE;
}

/* ---- running --------------------------------------------------------------------------------- */

/* The kernel's value of one row (loaded into c->x), rounded to its output format; the twopass
 * family's direct path where it applies (the same bits from the stored row: twopass.c). */
static double row_value(lp_kctx *c, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    if (lp_twopass_direct_ok(c, fmt))
        return lp_rn(c->out, lp_row_twopass_direct(c, row, fmt, V, y));
    for (int64_t i = 0; i < V; i++) c->x[i] = lp_load_f64(row, fmt, (size_t)i);
    return lp_rn(c->out, lp_family_row(c, c->x, V, y));
}

lp_status lp_kernel_row(double *out, const lp_kernel *k, const void *row, lp_format fmt, int64_t V,
                        int64_t label, double temperature, lp_error *err)
{
    if (!k || !out || !row || V < 1 || label < 0 || label >= V)
        return lp_fail(err, LP_ERR_USAGE, "lp_kernel_row: bad arguments (V %lld, label %lld)",
                       (long long)V, (long long)label);
    if (!lp_kernel_accepts(k, fmt))
        return lp_fail(err, LP_ERR_USAGE, "kernel %s reads %s logits, not %s", k->name,
                       lp_format_name(k->storage), lp_format_name(fmt));
    if (!(temperature > 0) || isinf(temperature))
        return lp_fail(err, LP_ERR_USAGE, "lp_kernel_row: temperature %g is not positive and finite",
                       temperature);
    lp_kctx c;
    lp_status s = lp_kctx_init(&c, k, temperature, V, err);
    if (s != LP_OK) return s;
    *out = row_value(&c, row, fmt, V, label);
    lp_kctx_free(&c);
    return LP_OK;
}

/* lp_problem_check, except that with LP_KOOB_ZERO an out-of-range label is not an error: the same
 * checks run on a copy of the labels where such labels read as ignore_index. */
static lp_status check_problem(const lp_kernel *k, const lp_problem *pb, lp_error *err)
{
    if (!lp_kernel_accepts(k, pb->fmt))
        return lp_fail(err, LP_ERR_USAGE, "kernel %s reads %s logits, not %s", k->name,
                       lp_format_name(k->storage), lp_format_name(pb->fmt));
    if (k->oob == LP_KOOB_ERROR || !pb->labels || pb->shape.B < 1 || pb->shape.T < 1 ||
        (pb->label_type != LP_I64 && pb->label_type != LP_I32))
        return lp_problem_check(pb, err);
    size_t n;
    if (!lp_mul_size(&n, (size_t)pb->shape.B, (size_t)pb->shape.T)) return lp_problem_check(pb, err);
    int64_t *lab = malloc(n * sizeof *lab);
    if (!lab) return lp_fail(err, LP_ERR_NOMEM, "kernel %s: out of memory for the labels", k->name);
    for (int64_t b = 0; b < pb->shape.B; b++) {
        for (int64_t t = 0; t < pb->shape.T; t++) {
            int64_t v = lp_problem_label(pb, b, t);
            lab[b * pb->shape.T + t] = v >= 0 && v < pb->shape.V ? v : pb->ignore_index;
        }
    }
    lp_problem q = *pb;
    q.labels = lab;
    q.label_type = LP_I64;
    lp_status s = lp_problem_check(&q, err);
    free(lab);
    return s;
}

void lp_kresult_free(lp_kresult *res)
{
    if (!res) return;
    free(res->logp);
    free(res->counted);
    free(res->sum);
    free(res->mean);
    free(res->count);
    res->logp = res->sum = res->mean = NULL;
    res->counted = NULL;
    res->count = NULL;
}

lp_status lp_kernel_run(lp_kresult *res, const lp_kernel *k, const lp_problem *pb, lp_error *err)
{
    memset(res, 0, sizeof *res);
    lp_status s = check_problem(k, pb, err);
    if (s != LP_OK) return s;
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb), V = pb->shape.V;
    const size_t ntok = (size_t)(B * Ts);
    lp_kctx c;
    s = lp_kctx_init(&c, k, pb->temperature, V, err);
    if (s != LP_OK) return s;
    res->B = B;
    res->Ts = Ts;
    res->logp = calloc(ntok ? ntok : 1, sizeof *res->logp);
    res->counted = calloc(ntok ? ntok : 1, 1);
    res->sum = calloc((size_t)B, sizeof *res->sum);
    res->mean = calloc((size_t)B, sizeof *res->mean);
    res->count = calloc((size_t)B, sizeof *res->count);
    if (!res->logp || !res->counted || !res->sum || !res->mean || !res->count) {
        lp_kctx_free(&c);
        lp_kresult_free(res);
        return lp_fail(err, LP_ERR_NOMEM, "kernel %s: out of memory for B=%lld, T_s=%lld", k->name,
                       (long long)B, (long long)Ts);
    }
    int64_t total = 0;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t at = (size_t)(b * Ts + ts);
            const int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, ts));
            const int in_range = lab >= 0 && lab < V;
            const int counted = lp_problem_counted(pb, b, ts);
            const void *row = lp_problem_row(pb, b, ts);
            double v = 0.0;
            if (counted)
                v = in_range ? row_value(&c, row, pb->fmt, V, lab) : 0.0;   /* LP_KOOB_ZERO */
            else if (k->mask == LP_KMASK_MUL)
                v = lp_rn(k->out, row_value(&c, row, pb->fmt, V, in_range ? lab : 0) * 0.0);
            res->logp[at] = v;
            res->counted[at] = (uint8_t)counted;
            res->count[b] += counted;
        }
        const double *v = res->logp + b * Ts;
        res->sum[b] = lp_reduce_sum(&c, v, Ts);
        res->mean[b] = lp_reduce_mean(&c, v, res->counted + b * Ts, Ts, res->sum[b], res->count[b]);
        total += res->count[b];
    }
    const double all = lp_reduce_sum(&c, res->logp, (int64_t)ntok);
    res->token_mean = lp_reduce_mean(&c, res->logp, res->counted, (int64_t)ntok, all, total);
    lp_kctx_free(&c);
    return LP_OK;
}
