/* impl/processed.c: processed-log-prob kernels: SPEC A7's sampling semantics as inference engines
 * compute them, in a fixed floating-point format (lp_pkernel.h).
 *
 * WHAT IS COMPUTED  Per row x (stored logits, widened exactly), in the kernel's tensor format t
 * (f32 or bf16; "op" below = the operation computed in f32 from values of t, a single rounding
 * (53 >= 2*24 + 2: impl/lp_impl_internal.h), then stored in t, a second rounding for bf16):
 *   softcap c   a = op(x / c_f), T = RN_t(tanhf(a)), s = op(T * c_f), c_f = RN_f32(c): the three
 *               tensor ops of a Gemma-style `x / c; tanh; * c` (HF Gemma2's final_logit_softcapping);
 *               a -inf logit stays -inf (vocabulary masking).
 *   temperature the base kernel's own division (lp_ktemper): f32: RN_f32(s / tau) (vLLM divides the
 *               f32 logits); bf16: RN_bf16(RN_f32(s / RN_f32(tau))) (logits.div_(tau) on a bf16
 *               tensor, LP_KTEMP_STORAGE).
 *   top_k k     the k-th largest processed value thr by selection (quickselect on a copy); a value
 *               < thr becomes -inf. Ties at thr are KEPT, as vLLM (apply_top_k_only and
 *               apply_top_k_top_p in vllm/v1/sample/ops/topk_topp_sampler.py: masked_fill where
 *               logits < the k-th value) and HF's TopKLogitsWarper (scores < topk(...)[..., -1])
 *               do, and as SPEC A7 rule 3 does. k >= V keeps all.
 *   top_p p     rule ASC (sampled_f32, sampled_bf16), vLLM's apply_top_k_top_p and HF's
 *               TopPLogitsWarper: sort ascending (ties in index order: torch.sort leaves their
 *               order unspecified), probs = softmax of the sorted row (m = the last, e_j =
 *               expf(op(v_j - m)), s = the f32 sum in sorted order, prob_j = op(e_j / s)), cum_j =
 *               the f32 running sum stored in t, and drop j where cum_j <= thr, thr = 1 - p rounded
 *               as the engine does (f32: RN_f32(1 - RN_f32(p)), p an f32 tensor; bf16: RN_bf16(
 *               RN_f32(1 - p)), a Python float compared with a bf16 tensor), the last (largest)
 *               always kept. In exact arithmetic, with distinct values, "drop iff the mass at or
 *               below j is <= 1 - p" is "keep iff the mass strictly above j is < p": SPEC A7
 *               rule 4. The kernel departs from it by the rounded probabilities and sums, by
 *               thr != 1 - p, and by ties: of values tied at the boundary the ones sorted first
 *               may be dropped, while A7 keeps a whole tie group.
 *               Rule DESC (sampled_f32_desc), SGLang's torch-native top-p (top_k_top_p_min_p_
 *               sampling_from_probs_torch in python/sglang/srt/layers/sampler.py; the same rule as
 *               sample_top_p of Meta's llama reference code): probs = softmax of the
 *               row in index order, sorted descending (ties in index order), cum_j the f32 running
 *               sum, drop j where op(cum_j - prob_j) > RN_f32(p). In exact arithmetic: keep iff
 *               the mass strictly above is <= p (A7 says < p).
 *   min_p q     probs = softmax of the current row (index order, as above), p_max their max; drop i
 *               where prob_i < op(RN_f32(q) * p_max) (vLLM's min-p processor; vLLM applies it
 *               BEFORE top-k/top-p, here it comes after them, in SPEC A7's order).
 *   Then every dropped logit is -inf and the processed row (values of t) goes to the BASE kernel
 *   at temperature 1: twopass_f32 (vLLM's processed_logprobs: log_softmax in f32) or
 *   twopass_bf16_acc32_tempbf16 (log_softmax of a bf16 tensor, computed in f32, rounded to bf16).
 *   A -inf entry adds exp(-inf) = +0 to the base kernel's sum: exactly the log-softmax over the
 *   kept set. With no parameter set the kernel is the base kernel itself. Rows holding NaN or
 *   +inf, or only -inf, are left unprocessed (SPEC A3 rules 1-2 decide them through the base).
 *
 * ERROR ANALYSIS  K = the kernel's own kept set for the row, w its processed row, z the exact
 * processed row (z_i = c tanh(x_i / c) / tau, or x_i / tau), logp_K(v) = v_y - log sum_{i in K}
 * e^(v_i). u32 = 2^-24, u_t = 2^-p of t, K_tanh = LP_LIBM_TANH_ULP (measured by
 * tests/t_processed_kernels.c), r = the relative error of an op (f32: u32; bf16: (1+u32)(1+u_t)-1),
 * alpha = its subnormal absolute error (2^-149, plus 2^-133 for bf16).
 *   (1) softcap, element i, a = x / c_f exact, T = tanh(a):
 *         |a_hat - a| <= r |a| + alpha;  tanh' = sech^2 is even and decreasing in |.|, so
 *         |tanh(a_hat) - T| <= d1 = (r |a| + alpha) sech^2(max(0, |a| (1 - r) - alpha));
 *         |T_hat - tanh(a_hat)| <= r_tanh (|T| + d1) + alpha_tanh, r_tanh = 2 K_tanh u32 (f32),
 *         (1 + 2 K_tanh u32)(1 + u_t) - 1 (bf16), alpha_tanh = K_tanh 2^-149 (1 + u_t) (+2^-133);
 *         dt = d1 + r_tanh (|T| + d1) + alpha_tanh bounds |T_hat - T|;
 *         |s_hat - c_f T| <= c_f dt + r c_f (|T| + dt) + alpha;
 *         c -> c tanh(x / c) has derivative tanh(a) - a sech^2(a) in [0, 1] for a >= 0 (odd in a),
 *         so the exact value moves by at most |c_f - c| from c_f to c. E_s = the sum of these.
 *   (2) temperature (tau != 1): w_i = (1 + dc) s_hat_i / tau + xi_i with the base kernel's
 *         constants (impl/arith.c: |dc| <= cT, |xi| <= eT (1 + cT) |s_hat / tau| + aT), so
 *         X_i = (E_s + (cT + eT (1 + cT)) (|s_i| + E_s)) / tau + aT bounds |w_i - z_i|.
 *   (3) the filters change no kept value: for i in K, |w_i - z_i| <= X_i.
 *   (4) logp_K is smooth in the kept values with d logp_K / d v_i = [i = y] - p_i (p the softmax
 *         over K, sum 1): by the mean value theorem |logp_K(w) - logp_K(z)| <= X_y + max_{i in K} X_i.
 *   (5) the base kernel computes logp_K(w) from the stored row w at tau = 1: its contract (impl/
 *         twopass.c TOTAL, lp_kernel_promise_row, with n = |K| finite logits, D = max w - w_y and
 *         |logp| <= D + ln n) bounds |logp_hat - logp_K(w)|.
 * CONTRACT  For a finite row and a label in K: |logp_hat - logp_K(z)| <= X_y + max_K X_i + the base
 *   bound of (5) (lp_pkernel_promise_row, inflated as lp_inflate). A label outside K gives -inf.
 *   PROVED where K is the exact kept set (lp_pkernel_keptset_exact): no filter set (K = every
 *   finite logit), or top_k alone at tau = 1 without softcap (the threshold compares the stored
 *   values themselves: exact). Then logp_K(z) is SPEC A7's value.
 *   MEASURED elsewhere: K may differ from A7's set (a rounded softcap or temperature can create
 *   ties at the top-k threshold, or, tanhf not being proved monotone, even reorder values; a
 *   rounded cumulative sum, thr != 1 - p and the tie order move the top-p boundary; rounded
 *   probabilities move the min-p boundary). Where K agrees, the bound above still holds; where
 *   it does not, the label's log-prob is off by the log of the mass ratio, or is -inf against a
 *   finite value (or the reverse): a kept-set disagreement, counted apart from ULP errors by check
 *   (ck_group.n_keptset) and the report (report/processed.c).
 * DOMAIN  finite rows whose processed values are finite (x / tau and s / tau below the overflow of
 *   t), and the base kernel's domain on w; elsewhere no promise (in_domain = 0).
 * EVIDENCE tests/t_processed_kernels.c: structural identities (no parameter: the base kernel bit
 *   for bit; top_k >= V: the base kernel with tau, bit for bit), tanhf's ulps against MPFR, the
 *   proved contracts against the exact reference, the conditional contract against the exact
 *   log-prob over K, and the kept-set disagreements counted and printed.
 */
#include <float.h>
#include <stdlib.h>

#include "lp_impl_internal.h"
#include "lp_pkernel.h"
#include "lp_problem.h"

static const lp_pkernel pkernels[] = {
    {"sampled_f32", "twopass_f32", LP_F32, LP_PTOPP_ASC,
     "vLLM v1 sampler with logprobs_mode processed_logprobs: f32 logits, softcap, temperature, "
     "top-k threshold, sort + cumsum top-p, min-p, log_softmax in f32"},
    {"sampled_f32_desc", "twopass_f32", LP_F32, LP_PTOPP_DESC,
     "SGLang's torch-native sampler (and Meta's llama sample_top_p): descending sort, drop where "
     "cumsum - p_i > p, f32"},
    {"sampled_bf16", "twopass_bf16_acc32_tempbf16", LP_BF16, LP_PTOPP_ASC,
     "the same sampler on a bf16 logits tensor: every processed value, probability and "
     "cumulative sum stored in bf16 (computed in f32), log_softmax rounded to bf16"},
};
#define NPK (sizeof pkernels / sizeof pkernels[0])

size_t lp_pkernel_count(void) { return NPK; }
const lp_pkernel *lp_pkernel_at(size_t i) { return i < NPK ? &pkernels[i] : NULL; }

const lp_pkernel *lp_pkernel_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < NPK; i++)
        if (strcmp(pkernels[i].name, name) == 0) return &pkernels[i];
    return NULL;
}

const lp_kernel *lp_pkernel_base(const lp_pkernel *k) { return lp_kernel_find(k->base); }

int lp_pkernel_accepts(const lp_pkernel *k, lp_format fmt)
{
    const lp_kernel *b = lp_pkernel_base(k);
    return b && lp_kernel_accepts(b, fmt);
}

const char *lp_pkernel_contract_text(const lp_pkernel *k)
{
    (void)k;
    return "proved where the kept set is exact (no filter; top_k alone at tau = 1 without "
           "softcap): |err| <= X_y + max X_i (softcap, temperature) + the base kernel's bound on "
           "the kept set; elsewhere the same bound over the kernel's own kept set, and kept-set "
           "disagreements measured";
}

int lp_sampling_none(const lp_sampling *s)
{
    return !lp_sampling_on(s);
}

/* lp_sampling_check (core/problem.c) with NULL meaning none. */
static lp_status sampling_ok(const lp_sampling *s, lp_error *err)
{
    return s ? lp_sampling_check(s, err) : LP_OK;
}

int lp_pkernel_keptset_exact(const lp_pkernel *k, double temperature, const lp_sampling *s)
{
    (void)k;
    if (!s || (s->top_k == 0 && s->top_p == 0 && s->min_p == 0)) return 1;
    return s->top_p == 0 && s->min_p == 0 && s->softcap == 0 && temperature == 1.0;
}

/* ---- processing ------------------------------------------------------------------------------ */

/* The value an op computed in f32 stores in t. */
static inline double op_t(lp_format t, double v)
{
    const double f = (double)(float)v;
    return t == LP_F32 ? f : lp_round_to(f, t);
}

typedef struct pent { double v; int64_t i; } pent;

static int cmp_asc(const void *a, const void *b)
{
    const pent *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

static int cmp_desc(const void *a, const void *b)
{
    const pent *p = a, *q = b;
    if (p->v > q->v) return -1;
    if (p->v < q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* The k-th largest (k in [1, n]) of a[0..n-1] (no NaN), by quickselect; a is permuted. */
static double kth_largest(double *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    const int64_t want = k - 1;              /* position in descending order */
    while (lo < hi) {
        const double piv = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) {
                const double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return a[want];
    }
    return a[want];
}

/* Softmax of the finite entries of v[0..n-1] in the given order as the kernel computes it: probs
 * written to pr (0 for -inf entries). m is the max. */
static void softmax_t(double *pr, const double *v, int64_t n, double m, lp_format t)
{
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) s += expf((float)(v[j] - m));
    for (int64_t j = 0; j < n; j++) pr[j] = op_t(t, (double)expf((float)(v[j] - m)) / (double)s);
}

typedef struct pscratch {
    pent *e;
    double *a, *b;
    int64_t cap;
} pscratch;

static void pscratch_free(pscratch *ps)
{
    free(ps->e);
    free(ps->a);
    free(ps->b);
    memset(ps, 0, sizeof *ps);
}

static lp_status pscratch_init(pscratch *ps, int64_t V, lp_error *err)
{
    memset(ps, 0, sizeof *ps);
    const size_t n = (size_t)(V > 0 ? V : 1);
    ps->e = malloc(n * sizeof *ps->e);
    ps->a = malloc(n * sizeof *ps->a);
    ps->b = malloc(n * sizeof *ps->b);
    if (!ps->e || !ps->a || !ps->b) {
        pscratch_free(ps);
        return lp_fail(err, LP_ERR_NOMEM, "processed kernel: out of memory for a row of V=%lld",
                       (long long)V);
    }
    ps->cap = V;
    return LP_OK;
}

static void top_p_asc(double *w, int64_t V, const lp_pkernel *k, double p, pscratch *ps)
{
    const lp_format t = k->tensor;
    for (int64_t i = 0; i < V; i++) ps->e[i] = (pent){w[i], i};
    qsort(ps->e, (size_t)V, sizeof *ps->e, cmp_asc);
    for (int64_t j = 0; j < V; j++) ps->a[j] = ps->e[j].v;
    softmax_t(ps->b, ps->a, V, ps->a[V - 1], t);
    const double thr = t == LP_F32 ? (double)(float)(1.0 - (double)(float)p) : op_t(t, 1.0 - p);
    float acc = 0.0f;
    for (int64_t j = 0; j < V - 1; j++) {
        acc = (float)((double)acc + ps->b[j]);
        const double cum = t == LP_F32 ? (double)acc : lp_round_to((double)acc, t);
        if (cum <= thr) w[ps->e[j].i] = -HUGE_VAL;
    }
}

static void top_p_desc(double *w, int64_t V, const lp_pkernel *k, double p, pscratch *ps)
{
    const lp_format t = k->tensor;
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (w[i] > m) m = w[i];
    softmax_t(ps->b, w, V, m, t);
    for (int64_t i = 0; i < V; i++) ps->e[i] = (pent){ps->b[i], i};
    qsort(ps->e, (size_t)V, sizeof *ps->e, cmp_desc);
    const double pf = (double)(float)p;
    float acc = 0.0f;
    for (int64_t j = 0; j < V; j++) {
        acc = (float)((double)acc + ps->e[j].v);
        const double cum = t == LP_F32 ? (double)acc : lp_round_to((double)acc, t);
        if (op_t(t, cum - ps->e[j].v) > pf) w[ps->e[j].i] = -HUGE_VAL;
    }
}

static void min_p_filter(double *w, int64_t V, const lp_pkernel *k, double q, pscratch *ps)
{
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (w[i] > m) m = w[i];
    softmax_t(ps->b, w, V, m, k->tensor);
    double pmax = 0;
    for (int64_t i = 0; i < V; i++)
        if (ps->b[i] > pmax) pmax = ps->b[i];
    const double thr = (double)(float)((double)(float)q * pmax);
    for (int64_t i = 0; i < V; i++)
        if (ps->b[i] < thr) w[i] = -HUGE_VAL;
}

/* Processes the row (loaded into w) in place; returns the kept count. */
static int64_t process(double *w, int64_t V, const lp_pkernel *k, const lp_kctx *tc,
                       const lp_sampling *s, pscratch *ps)
{
    int special = 1;
    for (int64_t i = 0; i < V; i++) {
        if (isnan(w[i]) || w[i] == HUGE_VAL) {
            special = 1;
            break;
        }
        if (w[i] != -HUGE_VAL) special = 0;
    }
    int64_t n = 0;
    if (special) {
        for (int64_t i = 0; i < V; i++) n += isfinite(w[i]) != 0;
        return n;
    }
    const lp_format t = k->tensor;
    if (s->softcap > 0) {
        const double cf = (double)(float)s->softcap;
        for (int64_t i = 0; i < V; i++) {
            if (w[i] == -HUGE_VAL) continue;
            const double a = op_t(t, w[i] / cf);
            const double th = lp_rn(t, (double)tanhf((float)a));
            w[i] = op_t(t, th * cf);
        }
    }
    if (tc->temp_on) {
        if (t == LP_F32)
            for (int64_t i = 0; i < V; i++) w[i] = lp_rn(LP_F32, w[i] / tc->tau_k);
        else
            for (int64_t i = 0; i < V; i++) w[i] = lp_rn(t, (double)(float)(w[i] / tc->tau_k));
    }
    /* an overflow of the tempered values: leave it to the base kernel (outside every promise) */
    for (int64_t i = 0; i < V; i++)
        if (isnan(w[i]) || w[i] == HUGE_VAL) return V;
    if (s->top_k > 0 && s->top_k < V) {
        for (int64_t i = 0; i < V; i++) ps->a[i] = w[i];
        const double thr = kth_largest(ps->a, V, s->top_k);
        for (int64_t i = 0; i < V; i++)
            if (w[i] < thr) w[i] = -HUGE_VAL;
    }
    if (s->top_p > 0) {
        if (k->topp_rule == LP_PTOPP_DESC) top_p_desc(w, V, k, s->top_p, ps);
        else top_p_asc(w, V, k, s->top_p, ps);
    }
    if (s->min_p > 0) min_p_filter(w, V, k, s->min_p, ps);
    for (int64_t i = 0; i < V; i++) n += isfinite(w[i]) != 0;
    return n;
}

/* The temperature context: the base kernel's (tau_k, temp_on; the bounds' cT, eT, aT). */
static lp_status tctx(lp_kctx *c, const lp_pkernel *k, double tau, lp_error *err)
{
    const lp_kernel *b = lp_pkernel_base(k);
    if (!b) return lp_fail(err, LP_ERR_INTERNAL, "processed kernel %s: no base kernel %s", k->name,
                           k->base);
    if (!(tau > 0) || isinf(tau))
        return lp_fail(err, LP_ERR_USAGE, "temperature %g is not positive and finite", tau);
    return lp_kctx_init(c, b, tau, 0, err);
}

lp_status lp_pkernel_process_row(double *w, int64_t *kept, const lp_pkernel *k, const void *row,
                                 lp_format fmt, int64_t V, double temperature,
                                 const lp_sampling *s, lp_error *err)
{
    if (!w || !k || !row || V < 1)
        return lp_fail(err, LP_ERR_USAGE, "lp_pkernel_process_row: bad arguments");
    if (!lp_pkernel_accepts(k, fmt))
        return lp_fail(err, LP_ERR_USAGE, "kernel %s reads %s logits, not %s", k->name,
                       lp_format_name(lp_pkernel_base(k) ? lp_pkernel_base(k)->storage : k->tensor),
                       lp_format_name(fmt));
    lp_status st = sampling_ok(s, err);
    if (st != LP_OK) return st;
    lp_kctx c;
    if ((st = tctx(&c, k, temperature, err)) != LP_OK) return st;
    for (int64_t i = 0; i < V; i++) w[i] = lp_load_f64(row, fmt, (size_t)i);
    const lp_sampling none = {0, 0, 0, 0};
    pscratch ps;
    if ((st = pscratch_init(&ps, V, err)) != LP_OK) return st;
    const int64_t n = process(w, V, k, &c, s ? s : &none, &ps);
    pscratch_free(&ps);
    if (kept) *kept = n;
    return LP_OK;
}

/* The processed logits of the whole problem, stored in the tensor format. */
static lp_status process_all(void **out, const lp_pkernel *k, const lp_problem *pb, lp_error *err)
{
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    size_t n;
    if (B < 0 || T < 0 || V < 1 || !lp_mul_size(&n, (size_t)B, (size_t)T) ||
        !lp_mul_size(&n, n, (size_t)V))
        return lp_fail(err, LP_ERR_INPUT, "processed kernel %s: bad shape", k->name);
    const size_t bytes = (size_t)lp_format_get(k->tensor)->bytes;
    void *buf = malloc((n ? n : 1) * bytes);
    double *w = malloc((size_t)V * sizeof *w);
    lp_kctx c;
    lp_status st = tctx(&c, k, pb->temperature, err);
    pscratch ps;
    if (st == LP_OK && (st = pscratch_init(&ps, V, err)) != LP_OK) {
        free(buf);
        free(w);
        return st;
    }
    if (st != LP_OK || !buf || !w) {
        free(buf);
        free(w);
        if (st == LP_OK) pscratch_free(&ps);
        return st != LP_OK ? st : lp_fail(err, LP_ERR_NOMEM, "processed kernel %s: out of memory",
                                          k->name);
    }
    const size_t esz = (size_t)lp_format_get(pb->fmt)->bytes;
    for (int64_t r = 0; r < B * T; r++) {
        const void *row = (const char *)pb->logits + (size_t)r * (size_t)V * esz;
        for (int64_t i = 0; i < V; i++) w[i] = lp_load_f64(row, pb->fmt, (size_t)i);
        process(w, V, k, &c, &pb->sampling, &ps);
        for (int64_t i = 0; i < V; i++) lp_store_f64(buf, k->tensor, (size_t)(r * V + i), w[i]);
    }
    pscratch_free(&ps);
    free(w);
    *out = buf;
    return LP_OK;
}

lp_status lp_pkernel_run(lp_kresult *res, const lp_pkernel *k, const lp_problem *pb,
                         lp_error *err)
{
    memset(res, 0, sizeof *res);
    const lp_kernel *b = lp_pkernel_base(k);
    if (!b) return lp_fail(err, LP_ERR_INTERNAL, "processed kernel %s: no base kernel", k->name);
    lp_status st = lp_sampling_check(&pb->sampling, err);
    if (st != LP_OK) return st;
    if (lp_sampling_none(&pb->sampling)) return lp_kernel_run(res, b, pb, err);
    if (!lp_kernel_accepts(b, pb->fmt))
        return lp_fail(err, LP_ERR_USAGE, "kernel %s reads %s logits, not %s", k->name,
                       lp_format_name(b->storage), lp_format_name(pb->fmt));
    if (!(pb->temperature > 0) || isinf(pb->temperature))
        return lp_fail(err, LP_ERR_USAGE, "temperature %g is not positive and finite",
                       pb->temperature);
    if (!pb->logits) return lp_fail(err, LP_ERR_USAGE, "processed kernel %s: no logits", k->name);
    void *buf = NULL;
    if ((st = process_all(&buf, k, pb, err)) != LP_OK) return st;
    lp_problem q = *pb;
    q.logits = buf;
    q.fmt = k->tensor;
    q.temperature = 1.0;
    memset(&q.sampling, 0, sizeof q.sampling);
    st = lp_kernel_run(res, b, &q, err);
    free(buf);
    return st;
}

lp_status lp_pkernel_row(double *out, const lp_pkernel *k, const void *row, lp_format fmt,
                         int64_t V, int64_t label, double temperature, const lp_sampling *s,
                         lp_error *err)
{
    const lp_kernel *b = lp_pkernel_base(k);
    if (!b || !out || !row || V < 1 || label < 0 || label >= V)
        return lp_fail(err, LP_ERR_USAGE, "lp_pkernel_row: bad arguments");
    if (lp_sampling_none(s)) return lp_kernel_row(out, b, row, fmt, V, label, temperature, err);
    double *w = malloc((size_t)V * sizeof *w);
    void *buf = malloc((size_t)V * (size_t)lp_format_get(k->tensor)->bytes);
    lp_status st = w && buf ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "lp_pkernel_row: out of memory");
    if (st == LP_OK) st = lp_pkernel_process_row(w, NULL, k, row, fmt, V, temperature, s, err);
    if (st == LP_OK) {
        for (int64_t i = 0; i < V; i++) lp_store_f64(buf, k->tensor, (size_t)i, w[i]);
        st = lp_kernel_row(out, b, buf, k->tensor, V, label, 1.0, err);
    }
    free(w);
    free(buf);
    return st;
}

/* ---- the contract ---------------------------------------------------------------------------- */

#define WID(v) ((v) * (1 + 0x1p-50))

/* E_s of (1): a bound on |s_hat - c tanh(x / c)| for a finite x. */
static double softcap_err(lp_format t, double x, double c)
{
    const double u32 = 0x1p-24, ut = ldexp(1.0, -lp_format_get(t)->prec);
    const double r = t == LP_F32 ? u32 : lp_comb(u32, ut);
    const double alpha = t == LP_F32 ? 0x1p-149 : 0x1p-149 + 0x1p-133;
    const double rt = t == LP_F32 ? 2 * LP_LIBM_TANH_ULP * u32
                                  : lp_comb(2 * LP_LIBM_TANH_ULP * u32, ut);
    const double at = LP_LIBM_TANH_ULP * 0x1p-149 * (1 + (t == LP_F32 ? 0 : ut)) +
                      (t == LP_F32 ? 0 : 0x1p-133);
    const double cf = (double)(float)c;
    const double A = WID(fabs(x / cf));
    double T = WID(fabs(tanh(A)));
    if (T > 1) T = 1;
    double lo = fabs(x / cf) * (1 - 0x1p-50) * (1 - r) - alpha;
    if (lo < 0) lo = 0;
    const double ch = cosh(lo);
    const double sech2 = isinf(ch) ? 0x1p-1074 : WID(1 / (ch * ch)) + 0x1p-1074;
    const double d1 = (r * A + alpha) * sech2;
    const double dt = d1 + rt * (T + d1) + at;
    const double e = cf * dt + r * cf * (T + dt) + alpha + fabs(cf - c);
    return lp_inflate(e);
}

lp_kpromise lp_pkernel_promise_row(const lp_pkernel *k, const void *row, lp_format fmt, int64_t V,
                                   int64_t label, double temperature, const lp_sampling *s)
{
    const lp_kpromise any = {LP_KALLOW_ANY, 0.0, 0};
    const lp_kernel *b = lp_pkernel_base(k);
    if (!b || V < 1 || label < 0 || label >= V || !lp_kernel_accepts(b, fmt)) return any;
    if (sampling_ok(s, NULL) != LP_OK) return any;
    lp_kctx c;
    if (tctx(&c, k, temperature, NULL) != LP_OK) return any;
    /* specials: the base kernel's promise on the unprocessed row (process leaves it as is) */
    int special = 1;
    for (int64_t i = 0; i < V; i++) {
        const double x = lp_load_f64(row, fmt, (size_t)i);
        if (isnan(x) || x == HUGE_VAL) {
            special = 1;
            break;
        }
        if (x != -HUGE_VAL) special = 0;
    }
    if (special) {
        lp_value v;
        memset(&v, 0, sizeof v);
        v.dd.hi = lp_nan();
        return lp_kernel_promise_row(b, row, fmt, V, label, temperature, &v);
    }
    double *w = malloc((size_t)V * sizeof *w);
    void *buf = malloc((size_t)V * (size_t)lp_format_get(k->tensor)->bytes);
    int64_t n = 0;
    if (!w || !buf || lp_pkernel_process_row(w, &n, k, row, fmt, V, temperature, s, NULL) != LP_OK) {
        free(w);
        free(buf);
        return any;
    }
    lp_kpromise p = any;
    const double xy = lp_load_f64(row, fmt, (size_t)label);
    if (w[label] == -HUGE_VAL) {
        /* the label was not kept, or its logit is -inf: the base gives -inf where the rest is in
         * its domain (checked below on the row with the label moved to the max) */
        p.allow = LP_KALLOW_NEGINF;
        p.in_domain = 1;
        (void)xy;
        free(w);
        free(buf);
        return p;
    }
    /* X_i of (2) over the kept set, D and the base bound of (5) */
    double Xmax = 0, Xy = 0, m = -HUGE_VAL;
    const double cap = s ? s->softcap : 0;
    int ok = 1;
    for (int64_t i = 0; i < V; i++) {
        if (!(w[i] > -HUGE_VAL)) continue;
        if (!isfinite(w[i])) ok = 0;
        if (w[i] > m) m = w[i];
        const double x = lp_load_f64(row, fmt, (size_t)i);
        double Es = 0, sv = fabs(x);
        if (cap > 0) {
            Es = softcap_err(k->tensor, x, cap);
            sv = WID(cap * fabs(tanh(x / cap)));
            if (sv > cap) sv = cap;
        }
        double X = Es;
        if (c.temp_on) X = (Es + (c.cT + c.eT * (1 + c.cT)) * (sv + Es)) / temperature + c.aT;
        X = lp_inflate(X);
        if (!isfinite(X)) ok = 0;
        if (X > Xmax) Xmax = X;
        if (i == label) Xy = X;
    }
    if (ok) {
        for (int64_t i = 0; i < V; i++) lp_store_f64(buf, k->tensor, (size_t)i, w[i]);
        lp_value v;
        memset(&v, 0, sizeof v);
        v.dd.hi = -WID((m - w[label]) + WID(log((double)n)));
        const lp_kpromise bp = lp_kernel_promise_row(b, buf, k->tensor, V, label, 1.0, &v);
        if (bp.in_domain && bp.allow == LP_KALLOW_NUM && isfinite(bp.abs)) {
            p.allow = LP_KALLOW_NUM;
            p.abs = lp_inflate(Xy + Xmax + bp.abs);
            p.in_domain = 1;
        }
    }
    free(w);
    free(buf);
    return p;
}
