/* fz_kernels.c: on any decoded problem, every registered kernel stays within its stated contract
 * against the exact reference and follows its declared special-value conventions.
 *
 * For each kernel of impl/lp_impl.h that reads the problem's format (the others must refuse it
 * with LP_ERR_USAGE):
 *  CONTRACT     lp_kernel_check against lp_ref_compute: every token, sum, mean and token mean is
 *               an outcome its promise allows (impl/promise.c: the family and reduction bounds).
 *  CONVENTIONS  checked here from the row's own A3 class, apart from the promise code:
 *               counted flags and counts; a masked position holds +0 (assign) or exactly the
 *               kernel's own logp of the dummy label (the label, or 0 when out of range) times 0
 *               (mul), NaN whenever that row is special; a counted special row gives NaN (NaN
 *               logit, no finite logit, or +inf under inf_row nan), -inf under inf_row loginf
 *               (NaN when the label's logit is +inf), -inf for a -inf label logit (these two
 *               where x / tau cannot overflow the kernel's formats: else its row is another;
 *               and the -inf only where the contract's domain holds for the rest of the row,
 *               as the promise says: naive's vanishing sum, lse's overflowing logsumexp);
 *               a sum is NaN exactly when one of its terms is (the mul leak included), else -inf
 *               when one term is and none is > 0; an empty sequence's mean follows the kernel's
 *               empty_mean, not the problem's; lp_kernel_row gives the same bits as
 *               lp_kernel_run.
 *  BATCH        one sequence run alone gives the same tokens, sum and mean (SPEC A5).
 *  ERRORS       where the reference rejects the problem, every kernel rejects it too, except that
 *               a kernel with oob zero accepts out-of-range labels: those tokens are +-0 and count,
 *               and everything else equals its run on the problem with those labels ignored
 *               (which is then held to the contract). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_check.h"
#include "fz_decode.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_impl.h"
#include "lpcert.h"

#define H "fz_kernels"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *what_name(lp_kwhat w)
{
    static const char *const n[] = {"token", "sum", "mean", "token_mean"};
    return n[w];
}

/* ---- the contract, through the promise code ------------------------------------------------ */

typedef struct visit_ctx { const lp_fz_problem *p; } visit_ctx;

static void visit(void *ctx, const lp_kjudged *j)
{
    if (j->verdict.ok) return;
    const visit_ctx *v = ctx;
    char ref[256];
    lp_fz_value_str(ref, sizeof ref, j->ref);
    lp_fz_fail(H, v->p,
               "kernel %s breaks its contract: %s b=%lld ts=%lld counted=%d\n  got %a (%.17g)\n  "
               "ref %s\n  promise allow=0x%x abs=%a in_domain=%d; err_abs=%a ratio=%g\n  bound: %s",
               j->k->name, what_name(j->what), (long long)j->b, (long long)j->ts, j->counted,
               j->got, j->got, ref, j->promise.allow, j->promise.abs, j->promise.in_domain,
               j->verdict.err_abs, j->verdict.ratio, lp_kernel_bound_text(j->k));
}

/* ---- the conventions, from the row itself -------------------------------------------------- */

typedef struct row_info { int nan, pinf, label_pinf, label_ninf, n_finite; } row_info;

static row_info row_of(const lp_fz_problem *p, int64_t b, int64_t ts, int64_t y)
{
    row_info r = {0, 0, 0, 0, 0};
    const size_t row0 = lp_fz_row0(p, b, ts);
    for (int64_t i = 0; i < p->pb.shape.V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (isnan(x)) r.nan = 1;
        else if (x == HUGE_VAL) r.pinf = 1;
        else if (x != -HUGE_VAL) r.n_finite++;
    }
    double xy = lp_fz_value(p, row0 + (size_t)y);
    r.label_pinf = xy == HUGE_VAL;
    r.label_ninf = xy == -HUGE_VAL;
    return r;
}

/* The class a kernel must give a special row: 'n' NaN, 'i' -inf, 'e' -inf or NaN, 0 a finite row
 * (its value is the contract's business). */
static char special_class(const lp_kernel *k, const row_info *r)
{
    if (r->nan) return 'n';
    if (r->pinf) return k->inf_row == LP_KINF_NAN || r->label_pinf ? 'n' : 'i';
    if (r->n_finite == 0) return 'n';
    if (r->label_ninf) return 'i';
    return 0;
}

/* 1 if the kernel's tempered row cannot overflow: tau = 1, or every finite |x| / tau below half
 * the largest finite value of the formats the kernel tempers in (acc, and the storage format for
 * temp storage), and tau within 2^+-100 when it tempers below f64. Elsewhere the kernel computes
 * on a row holding infinities the problem does not have, so the A3 class of the problem's row does
 * not bind it (its promise says: outside domain). */
static int tempered_in_range(const lp_fz_problem *p, const lp_kernel *k, int64_t b, int64_t ts)
{
    const double tau = p->pb.temperature;
    if (tau == 1.0) return 1;
    /* below f64 the kernel's scalar (RN_f32(tau), or RN(1/tau)) must be an ordinary number too */
    if (k->acc != LP_F64 && !(tau > 0x1p-100 && tau < 0x1p100)) return 0;
    const lp_format_info *fa = lp_format_get(k->acc), *fs = lp_format_get(k->storage);
    double lim = ldexp(1.0, fa->emax);
    if (k->temp == LP_KTEMP_STORAGE && ldexp(1.0, fs->emax) < lim) lim = ldexp(1.0, fs->emax);
    const size_t row0 = lp_fz_row0(p, b, ts);
    for (int64_t i = 0; i < p->pb.shape.V; i++) {
        const double x = lp_fz_value(p, row0 + (size_t)i);
        if (isfinite(x) && !(fabs(x) / tau < lim)) return 0;
    }
    return 1;
}

/* 1 if the contract binds the kernel to -inf on this -inf-class row: a -inf label gives -inf only
 * where the rest of the row is in the family's domain (naive: the sum of exps does not vanish, else
 * -inf - (-inf) = NaN; lse: the logsumexp is finite in the output format). The domain is the
 * contract's, so it is asked of the promise code; the outcome is then checked here. */
static int neginf_in_domain(const lp_fz_problem *p, const lp_kernel *k, int64_t b, int64_t ts,
                            int64_t y)
{
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    const lp_value none = {0};
    const lp_kpromise pr =
        lp_kernel_promise_row(k, (const char *)p->logits + lp_fz_row0(p, b, ts) * esz, p->pb.fmt,
                              p->pb.shape.V, y, p->pb.temperature, &none);
    return pr.in_domain;
}

static double kernel_row(const lp_fz_problem *p, const lp_kernel *k, int64_t b, int64_t ts,
                         int64_t y)
{
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    double v = 0;
    lp_error err = {LP_OK, ""};
    lp_status st = lp_kernel_row(&v, k, (const char *)p->logits + lp_fz_row0(p, b, ts) * esz,
                                 p->pb.fmt, p->pb.shape.V, y, p->pb.temperature, &err);
    LP_FZ_CHECK(st == LP_OK, H, p, "kernel %s: lp_kernel_row(b=%lld, ts=%lld): %s", k->name,
                (long long)b, (long long)ts, err.msg);
    return v;
}

static int same_bits(double a, double b)
{
    return isnan(a) ? isnan(b) : lp_bits_f64(a) == lp_bits_f64(b);
}

static void check_conventions(const lp_fz_problem *p, const lp_kernel *k, const lp_kresult *kr)
{
    const int64_t B = p->pb.shape.B, T = p->pb.shape.T, V = p->pb.shape.V, Ts = lp_fz_ts(p);
    LP_FZ_CHECK(kr->B == B && kr->Ts == Ts, H, p, "kernel %s: result shape", k->name);
    int any_nan_all = 0;
    int64_t n_all = 0;
    for (int64_t b = 0; b < B; b++) {
        int any_nan = 0, any_ninf = 0, any_pos = 0;
        int64_t n = 0;
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t at = (size_t)(b * Ts + ts);
            const int64_t y = lp_fz_label(p, (size_t)(b * T + lp_fz_label_t(p, ts)));
            const int in_range = y >= 0 && y < V;
            const int counted = lp_fz_counted(p, b, ts);
            const double v = kr->logp[at];
            LP_FZ_CHECK(kr->counted[at] == counted, H, p, "kernel %s: counted[b=%lld,ts=%lld] = %u",
                        k->name, (long long)b, (long long)ts, (unsigned)kr->counted[at]);
            if (!counted) {
                if (k->mask == LP_KMASK_ASSIGN) {
                    LP_FZ_CHECK(lp_bits_f64(v) == 0, H, p,
                                "kernel %s (assign): masked token b=%lld ts=%lld is %a, not +0",
                                k->name, (long long)b, (long long)ts, v);
                } else {
                    const int64_t dummy = in_range ? y : 0;
                    const double want = kernel_row(p, k, b, ts, dummy) * 0.0;
                    const row_info r = row_of(p, b, ts, dummy);
                    LP_FZ_CHECK(same_bits(v, want) && (!special_class(k, &r) || isnan(v)), H, p,
                                "kernel %s (mul): masked token b=%lld ts=%lld is %a, its "
                                "dummy-label logp * 0 is %a",
                                k->name, (long long)b, (long long)ts, v, want);
                }
                any_nan |= isnan(v);
                any_pos |= v > 0;
                continue;
            }
            n++;
            if (in_range) {
                const row_info r = row_of(p, b, ts, y);
                const char c = special_class(k, &r);
                LP_FZ_CHECK(c != 'n' || isnan(v), H, p,
                            "kernel %s: token b=%lld ts=%lld of a NaN-class row is %a", k->name,
                            (long long)b, (long long)ts, v);
                LP_FZ_CHECK(c != 'i' || v == -HUGE_VAL || !tempered_in_range(p, k, b, ts) ||
                                !neginf_in_domain(p, k, b, ts, y),
                            H, p,
                            "kernel %s: token b=%lld ts=%lld of a -inf-class row is %a", k->name,
                            (long long)b, (long long)ts, v);
                const double row = kernel_row(p, k, b, ts, y);
                LP_FZ_CHECK(same_bits(v, row), H, p,
                            "kernel %s: token b=%lld ts=%lld: lp_kernel_run %a, lp_kernel_row %a",
                            k->name, (long long)b, (long long)ts, v, row);
            } else {
                LP_FZ_CHECK(k->oob == LP_KOOB_ZERO && v == 0, H, p,
                            "kernel %s: out-of-range label %lld at b=%lld ts=%lld gave %a",
                            k->name, (long long)y, (long long)b, (long long)ts, v);
            }
            any_nan |= isnan(v);
            any_ninf |= v == -HUGE_VAL;
            any_pos |= v > 0;
        }
        LP_FZ_CHECK(kr->count[b] == n, H, p, "kernel %s: count[b=%lld] = %lld, want %lld", k->name,
                    (long long)b, (long long)kr->count[b], (long long)n);
        const double s = kr->sum[b], m = kr->mean[b];
        /* IEEE sums: a NaN term gives NaN; terms all <= 0 give -inf with a -inf term, else a
         * number or an overflow to -inf (a term > 0, outside a contract's domain, may mix) */
        const int sum_ok = any_nan    ? isnan(s)
                           : any_pos  ? 1
                           : any_ninf ? s == -HUGE_VAL
                                      : !isnan(s) && s <= 0;
        LP_FZ_CHECK(sum_ok, H, p, "kernel %s: sum[b=%lld] = %a, with NaN terms %d, -inf terms %d",
                    k->name, (long long)b, s, any_nan, any_ninf);
        if (n == 0) {
            const int ok = k->empty_mean == LP_EMPTY_NAN ? isnan(m)
                           : k->mean == LP_KMEAN_RUNNING || !isnan(s) ? m == 0
                                                                       : isnan(m);
            LP_FZ_CHECK(ok, H, p, "kernel %s (empty_mean %s): empty sequence b=%lld has mean %a",
                        k->name, k->empty_mean == LP_EMPTY_NAN ? "nan" : "zero", (long long)b, m);
        } else if (k->mean == LP_KMEAN_DIV) {
            LP_FZ_CHECK(isnan(m) == isnan(s) && (isnan(s) || (s == -HUGE_VAL) == (m == -HUGE_VAL)),
                        H, p, "kernel %s: mean[b=%lld] = %a from sum %a", k->name, (long long)b,
                        m, s);
        }
        any_nan_all |= any_nan;
        n_all += n;
    }
    if (n_all == 0 && k->empty_mean == LP_EMPTY_NAN)
        LP_FZ_CHECK(isnan(kr->token_mean), H, p, "kernel %s: empty batch, token mean %a", k->name,
                    kr->token_mean);
    if (any_nan_all && k->mean == LP_KMEAN_DIV)
        LP_FZ_CHECK(isnan(kr->token_mean), H, p, "kernel %s: NaN term, token mean %a", k->name,
                    kr->token_mean);
}

/* One sequence alone gives the same tokens, sum and mean. */
static void check_alone(const lp_fz_problem *p, const lp_kernel *k, const lp_kresult *kr)
{
    const int64_t B = p->pb.shape.B, T = p->pb.shape.T, V = p->pb.shape.V;
    if (B == 1) return;
    const int64_t b = (p->param[10] >> 4) % B;
    lp_problem q = p->pb;
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    const size_t lsz = p->pb.label_type == LP_I32 ? 4 : 8;
    q.shape.B = 1;
    q.logits = (const char *)p->logits + (size_t)(b * T * V) * esz;
    q.labels = (const char *)p->labels + (size_t)(b * T) * lsz;
    q.mask = p->mask ? p->mask + b * T : NULL;
    lp_kresult r2;
    lp_error err = {LP_OK, ""};
    lp_status st = lp_kernel_run(&r2, k, &q, &err);
    LP_FZ_CHECK(st == LP_OK, H, p, "kernel %s: sequence b=%lld alone: %s", k->name, (long long)b,
                err.msg);
    for (int64_t ts = 0; ts < r2.Ts; ts++)
        LP_FZ_CHECK(same_bits(kr->logp[b * kr->Ts + ts], r2.logp[ts]), H, p,
                    "kernel %s: token b=%lld ts=%lld is %a in the batch, %a alone", k->name,
                    (long long)b, (long long)ts, kr->logp[b * kr->Ts + ts], r2.logp[ts]);
    LP_FZ_CHECK(same_bits(kr->sum[b], r2.sum[0]) && same_bits(kr->mean[b], r2.mean[0]) &&
                    kr->count[b] == r2.count[0],
                H, p, "kernel %s: sequence b=%lld: sum %a mean %a in the batch, %a %a alone",
                k->name, (long long)b, kr->sum[b], kr->mean[b], r2.sum[0], r2.mean[0]);
    lp_kresult_free(&r2);
}

/* ---- problems the reference rejects --------------------------------------------------------- */

/* q: p with every label outside [0, V) replaced by ignore_index (labels made i64 so that any
 * ignore_index is representable). */
static int without_oob(lp_fz_problem *q, const lp_fz_problem *p)
{
    if (!lp_fz_copy(q, p)) return 0;
    const size_t nt = (size_t)(p->pb.shape.B * p->pb.shape.T);
    int64_t *lab = malloc(nt * sizeof *lab);
    if (!lab) {
        lp_fz_free(q);
        return 0;
    }
    for (size_t i = 0; i < nt; i++) {
        int64_t y = lp_fz_label(p, i);
        lab[i] = y >= 0 && y < p->pb.shape.V ? y : p->pb.ignore_index;
    }
    free(q->labels);
    q->labels = lab;
    q->pb.labels = lab;
    q->pb.label_type = LP_I64;
    return 1;
}

/* p without its out-of-range labels and the reference on it: made once per input, on the first
 * oob-zero kernel that needs them, and shared by the others (the reference is deterministic) */
typedef struct oob_ref {
    int state;   /* 0 not made yet, 1 made, -1 out of memory */
    lp_fz_problem q;
    lp_ref_result ref;
} oob_ref;

static const oob_ref *oob_ref_get(oob_ref *o, const lp_fz_problem *p)
{
    if (o->state) return o->state > 0 ? o : NULL;
    if (!without_oob(&o->q, p)) {
        o->state = -1;
        return NULL;
    }
    lp_error err = {LP_OK, ""};
    const lp_status st = lp_ref_compute(&o->ref, &o->q.pb, &err);
    LP_FZ_CHECK(st == LP_OK, H, &o->q, "reference on the problem without out-of-range labels: %s",
                err.msg);
    o->state = 1;
    return o;
}

static void oob_ref_free(oob_ref *o)
{
    if (o->state > 0) {
        lp_ref_result_free(&o->ref);
        lp_fz_free(&o->q);
    }
}

static void check_rejected(const lp_fz_problem *p, const lp_kernel *k, int bad_mask, oob_ref *o)
{
    lp_kresult kr;
    lp_error err = {LP_OK, ""};
    lp_status st = lp_kernel_run(&kr, k, &p->pb, &err);
    if (k->oob == LP_KOOB_ERROR || bad_mask) {
        LP_FZ_CHECK(st == LP_ERR_INPUT && err.msg[0] && !strchr(err.msg, '\n'), H, p,
                    "kernel %s: %s where the reference gives an input error: '%s'", k->name,
                    lp_status_name(st), err.msg);
        return;
    }
    LP_FZ_CHECK(st == LP_OK, H, p, "kernel %s (oob zero): %s on out-of-range labels: %s", k->name,
                lp_status_name(st), err.msg);
    check_conventions(p, k, &kr);
    const oob_ref *o2 = oob_ref_get(o, p);
    if (!o2) {
        lp_kresult_free(&kr);
        return;
    }
    const lp_fz_problem *q = &o2->q;
    lp_kstats stats;
    memset(&stats, 0, sizeof stats);
    visit_ctx vc = {q};
    st = lp_kernel_check(&stats, k, &q->pb, &o2->ref, visit, &vc, &err);
    LP_FZ_CHECK(st == LP_OK, H, q, "kernel %s: lp_kernel_check: %s", k->name, err.msg);
    lp_kresult kq;
    st = lp_kernel_run(&kq, k, &q->pb, &err);
    LP_FZ_CHECK(st == LP_OK, H, q, "kernel %s: %s", k->name, err.msg);
    for (int64_t i = 0; i < kr.B * kr.Ts; i++) {
        if (kr.counted[i] && !kq.counted[i]) continue;   /* an out-of-range label: 0, checked */
        LP_FZ_CHECK(same_bits(kr.logp[i], kq.logp[i]), H, p,
                    "kernel %s (oob zero): token %lld is %a, %a with the labels ignored", k->name,
                    (long long)i, kr.logp[i], kq.logp[i]);
    }
    for (int64_t b = 0; b < kr.B; b++)
        LP_FZ_CHECK(same_bits(kr.sum[b], kq.sum[b]), H, p,
                    "kernel %s (oob zero): sum[b=%lld] is %a, %a with the labels ignored", k->name,
                    (long long)b, kr.sum[b], kq.sum[b]);
    lp_kresult_free(&kq);
    lp_kresult_free(&kr);
}

/* ---- the harness --------------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();   /* MPFR's limb memory recycled (fz_alloc.c) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    lp_ref_result ref;
    lp_error err = {LP_OK, ""};
    const lp_status rs = lp_ref_compute(&ref, &p.pb, &err);
    int bad_mask = 0;
    if (p.mask)
        for (int64_t i = 0; i < p.pb.shape.B * p.pb.shape.T; i++) bad_mask |= p.mask[i] > 1;
    LP_FZ_CHECK(rs == LP_OK || rs == LP_ERR_INPUT, H, &p, "reference: %s: %s", lp_status_name(rs),
                err.msg);
    oob_ref oob;
    oob.state = 0;
    for (size_t i = 0; i < lp_kernel_count(); i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (!lp_kernel_accepts(k, p.pb.fmt)) {
            lp_kresult kr;
            lp_status st = lp_kernel_run(&kr, k, &p.pb, &err);
            LP_FZ_CHECK(st == LP_ERR_USAGE, H, &p, "kernel %s runs on %s logits it does not read",
                        k->name, lp_format_name(p.pb.fmt));
            continue;
        }
        if (rs != LP_OK) {
            check_rejected(&p, k, bad_mask, &oob);
            continue;
        }
        lp_kresult kr;
        lp_status st = lp_kernel_run(&kr, k, &p.pb, &err);
        LP_FZ_CHECK(st == LP_OK, H, &p, "kernel %s: %s on a valid problem: %s", k->name,
                    lp_status_name(st), err.msg);
        check_conventions(&p, k, &kr);
        check_alone(&p, k, &kr);
        lp_kresult_free(&kr);
        lp_kstats stats;
        memset(&stats, 0, sizeof stats);
        visit_ctx vc = {&p};
        st = lp_kernel_check(&stats, k, &p.pb, &ref, visit, &vc, &err);
        LP_FZ_CHECK(st == LP_OK, H, &p, "kernel %s: lp_kernel_check: %s", k->name, err.msg);
    }
    if (rs == LP_OK) lp_ref_result_free(&ref);
    oob_ref_free(&oob);
    lp_fz_free(&p);
    return 0;
}
