/* check/builtin.c: the built-in kernels of impl/ (when lpcert is built with them) as the
 * baseline of `check --vs-baseline` and as plugins for `certify --kernel`, through the same ABI a
 * third-party plugin uses. */
#include <math.h>

#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_suite.h"

#ifdef LP_HAVE_IMPL
#include "lp_grad.h"
#include "lp_impl.h"

int ck_builtin_available(void) { return 1; }
int ck_builtin_known(const char *name) { return lp_kernel_find(name) != NULL; }

static lp_status to_outputs(ck_outputs *out, const lp_kresult *kr, lp_format f, lp_error *err)
{
    const double *src[CK_NOUT] = {kr->logp, kr->sum, kr->mean};
    const int64_t n[CK_NOUT] = {kr->B * kr->Ts, kr->B, kr->B};
    for (int o = 0; o < CK_NOUT; o++) {
        ck_array *a = &out->a[o];
        a->v = malloc((size_t)(n[o] ? n[o] : 1) * sizeof *a->v);
        if (!a->v) {
            ck_outputs_free(out);
            return lp_fail(err, LP_ERR_NOMEM, "out of memory for the kernel's outputs");
        }
        memcpy(a->v, src[o], (size_t)n[o] * sizeof *a->v);
        a->present = 1;
        a->fmt = f;
        a->n = n[o];
    }
    return LP_OK;
}

/* SPEC A5 under A7: for a problem with sampling parameters the baseline kernel k reads the
 * processed rows on the EXACT kept set (lp_ref_kept, every decision exact), so that its errors are
 * those of its own arithmetic and never of a kept set (a raw kernel's log-softmax over the whole
 * vocabulary, measured against the processed reference, is millions of ulps off and would make a
 * relative bound vacuous). Per row: a logit not kept is -inf; a kept one is the stored value in
 * k's storage format (rounded there first when k cannot read the problem's format, as
 * logits.float() does), softcapped when softcap is set as an engine does in that format (f64:
 * RN(c tanh(x / c)); narrower: in f32, RN(RN(tanhf(RN(x / c))) c), then rounded to the storage
 * format). c is the binary64 value itself, never RN_f32(c): a c beyond f32's range made that
 * inf (or 0), T * inf = NaN rows, every baseline value a class mismatch and so no bound at all.
 * The quotient and the product are formed in binary64 and then rounded to f32 (a second rounding
 * that may differ from RN_f32 of the exact value in rare ties: an engine's arithmetic, not a
 * correct rounding; |T c| <= |x| up to the roundings, so no overflow but at f32's edge). The
 * temperature is left to the kernel (softcap precedes it, A7).
 * Rows with NaN or +inf, or without a finite logit, are passed as they are (SPEC A3's answer), and
 * so are rows that score no counted token (the last under shift next, ignore_index, mask 0): no
 * output reads them, and the reference never decides their kept set (deciding it here cost MPFR
 * time per prompt row and could fail at the softcap cap, sample.c TERMINATION, where the
 * reference succeeds). Held by tests/e2e_sample.py, default_bound (the reference's values pass,
 * values 1000 ulp off fail, for top_k, top_p, min_p and softcap, f32 and f64, softcap 1e39). */
static lp_status processed_rows(void **out, const lp_problem *pb, lp_format kf, lp_error *err)
{
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    const size_t n = (size_t)(B * T * V), kb = (size_t)lp_format_get(kf)->bytes;
    void *buf = malloc((n ? n : 1) * kb);
    double *w = malloc((size_t)(V ? V : 1) * sizeof *w);
    uint8_t *kept = malloc((size_t)(V ? V : 1));
    lp_status s = buf && w && kept ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "out of memory for the "
                                                     "baseline's processed logits");
    const double c = pb->sampling.softcap;
    const int64_t Ts = lp_problem_ts(pb);
    for (int64_t r = 0; r < B * T && s == LP_OK; r++) {
        const void *row = (const char *)pb->logits +
                          (size_t)r * (size_t)V * (size_t)lp_format_get(pb->fmt)->bytes;
        const int64_t b = r / T, ts = r % T;   /* row ts of sequence b scores its label at ts */
        const int scores = ts < Ts && lp_problem_counted(pb, b, ts);
        int special = 1;
        for (int64_t i = 0; i < V; i++) {
            w[i] = lp_load_f64(row, pb->fmt, (size_t)i);
            if (isnan(w[i]) || w[i] == HUGE_VAL) {
                special = 1;
                for (int64_t j = i + 1; j < V; j++) w[j] = lp_load_f64(row, pb->fmt, (size_t)j);
                break;
            }
            if (w[i] != -HUGE_VAL) special = 0;
        }
        if (!scores) special = 1;   /* passed as it is */
        if (!special) s = lp_ref_kept(kept, row, pb->fmt, V, pb->temperature, &pb->sampling, err);
        for (int64_t i = 0; i < V && s == LP_OK; i++) {
            double x = lp_round_to(w[i], kf);
            if (!special && !kept[i]) {
                x = -HUGE_VAL;
            } else if (!special && c != 0) {
                if (kf == LP_F64) {
                    x = c * tanh(x / c);
                } else {
                    const float a = (float)(x / c), th = tanhf(a);
                    x = lp_round_to((double)(float)((double)th * c), kf);
                }
            }
            lp_store_f64(buf, kf, (size_t)r * (size_t)V + (size_t)i, x);
        }
    }
    free(w);
    free(kept);
    if (s != LP_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return LP_OK;
}

lp_status ck_baseline_run(ck_outputs *out, const char *name, const lp_problem *pb, int *ok,
                          const char **why, lp_error *err)
{
    memset(out, 0, sizeof *out);
    *ok = 0;
    *why = NULL;
    const lp_kernel *k = lp_kernel_find(name);
    if (!k) return lp_fail(err, LP_ERR_USAGE, "unknown kernel '%s'", name);
    lp_problem q = *pb;
    void *cast = NULL;
    if (lp_sampling_on(&pb->sampling)) {
        if (!lp_kernel_accepts(k, pb->fmt) && !(pb->fmt == LP_F64 && lp_kernel_accepts(k, LP_F32))) {
            *why = "the baseline does not read this logits format";
            return LP_OK;
        }
        lp_status s = processed_rows(&cast, pb, k->storage, err);
        if (s != LP_OK) return s;
        q.fmt = k->storage;
        q.logits = cast;
        memset(&q.sampling, 0, sizeof q.sampling);
    } else if (!lp_kernel_accepts(k, pb->fmt)) {
        if (!(pb->fmt == LP_F64 && lp_kernel_accepts(k, LP_F32))) {
            *why = "the baseline does not read this logits format";
            return LP_OK;
        }
        /* f64 logits, an f32 kernel: rounded to f32 first, as logits.float() does */
        const size_t n = (size_t)(pb->shape.B * pb->shape.T * pb->shape.V);
        float *c = malloc((n ? n : 1) * sizeof *c);
        if (!c) return lp_fail(err, LP_ERR_NOMEM, "out of memory for the baseline's f32 logits");
        for (size_t i = 0; i < n; i++) c[i] = lp_f32_from_f64(lp_load_f64(pb->logits, LP_F64, i));
        q.fmt = LP_F32;
        q.logits = cast = c;
    }
    lp_kresult kr;
    memset(&kr, 0, sizeof kr);
    lp_status s = lp_kernel_run(&kr, k, &q, err);
    free(cast);
    if (s != LP_OK) return s;
    s = to_outputs(out, &kr, k->out, err);
    lp_kresult_free(&kr);
    if (s == LP_OK) *ok = 1;
    return s;
}

/* The plugin face of a built-in kernel. */
typedef struct builtin {
    lp_plugin p;
    const lp_kernel *k;
    char desc[256];
} builtin;

lp_problem ck_problem_of_plugin(const lp_plugin_problem *pp)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){pp->B, pp->T, pp->V};
    pb.fmt = (lp_format)pp->format;
    pb.logits = pp->logits;
    pb.label_type = LP_I64;
    pb.labels = pp->labels;
    pb.mask = pp->mask;
    pb.shift = (lp_shift)pp->shift;
    pb.ignore_index = pp->ignore_index;
    pb.temperature = pp->temperature;
    pb.empty_mean = (lp_empty_mean)pp->empty_mean;
    return pb;
}

static int builtin_run(void *state, const lp_plugin_problem *pp, const lp_plugin_outputs *po,
                       char *msg, size_t msg_size)
{
    const builtin *bi = state;
    lp_problem pb = ck_problem_of_plugin(pp);
    lp_kresult kr;
    memset(&kr, 0, sizeof kr);
    lp_error e = {LP_OK, ""};
    if (lp_kernel_run(&kr, bi->k, &pb, &e) != LP_OK) {
        snprintf(msg, msg_size, "%s", e.msg);
        return 1;
    }
    void *dst[CK_NOUT] = {po->logp, po->sum, po->mean};
    const int32_t fm[CK_NOUT] = {po->logp_format, po->sum_format, po->mean_format};
    const double *src[CK_NOUT] = {kr.logp, kr.sum, kr.mean};
    const int64_t n[CK_NOUT] = {kr.B * kr.Ts, kr.B, kr.B};
    for (int o = 0; o < CK_NOUT; o++)
        if (dst[o])
            for (int64_t i = 0; i < n[o]; i++) lp_store_f64(dst[o], (lp_format)fm[o], (size_t)i, src[o][i]);
    lp_kresult_free(&kr);
    return 0;
}

/* The plugin face of a built-in backward kernel (impl/lp_grad.h): ABI 2, backward only. */
typedef struct gbuiltin {
    lp_plugin_v2 p;
    const lp_gkernel *k;
    char desc[256];
} gbuiltin;

static int gbuiltin_run(void *state, const lp_plugin_problem *pp, const lp_plugin_outputs *po,
                        char *msg, size_t msg_size)
{
    (void)state;
    (void)pp;
    (void)po;
    snprintf(msg, msg_size, "a backward-only kernel has no forward outputs");
    return 1;
}

typedef struct gsink_to {
    void *dst;
    lp_format f;
    int64_t T;
} gsink_to;

static int gbuiltin_sink(void *user, int64_t b, int64_t t, const double *g, int64_t V, lp_error *err)
{
    (void)err;
    const gsink_to *o = user;
    const size_t base = ((size_t)b * (size_t)o->T + (size_t)t) * (size_t)V;
    for (int64_t i = 0; i < V; i++) lp_store_f64(o->dst, o->f, base + (size_t)i, g[i]);
    return 0;
}

static int gbuiltin_backward(void *state, const lp_plugin_problem *pp, const lp_plugin_grad *pg,
                             char *msg, size_t msg_size)
{
    const gbuiltin *bi = state;
    lp_problem pb = ck_problem_of_plugin(pp);
    gsink_to o = {pg->grad, (lp_format)pg->grad_format, pp->T};
    lp_error e = {LP_OK, ""};
    if (lp_gkernel_run(bi->k, &pb, (lp_reduction)pg->reduction, gbuiltin_sink, &o, &e) != LP_OK) {
        snprintf(msg, msg_size, "%s", e.msg);
        return 1;
    }
    return 0;
}

static lp_status open_gbuiltin(ck_kernel *k, const lp_gkernel *gk, lp_error *err)
{
    gbuiltin *bi = calloc(1, sizeof *bi);
    if (!bi) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    bi->k = gk;
    snprintf(bi->desc, sizeof bi->desc, "built-in backward kernel %s%s: %s", gk->name,
             gk->known_bug ? " (a KNOWN BUG class, kept as a measured example)" : "",
             gk->models ? gk->models : "");
    unsigned fm = 0;
    for (int f = 0; f < LP_NFORMATS; f++)
        if (lp_gkernel_accepts(gk, (lp_format)f)) fm |= LP_PLUGIN_FMT(f);
    bi->p.base = (lp_plugin){2, sizeof(lp_plugin_v2), gk->name, bi->desc, fm, 0, (int32_t)gk->out,
                             (int32_t)gk->out, (int32_t)gk->out,
                             LP_PLUGIN_CAP_MASK | LP_PLUGIN_CAP_IGNORE_INDEX |
                                 LP_PLUGIN_CAP_SHIFT_NONE | LP_PLUGIN_CAP_TEMPERATURE |
                                 LP_PLUGIN_CAP_BACKWARD,
                             gbuiltin_run, bi};
    bi->p.backward = gbuiltin_backward;
    bi->p.grad_format = (int32_t)gk->out;
    bi->p.reductions = 0xfu;
    k->p = &bi->p.base;
    k->builtin_state = bi;
    snprintf(k->spec, sizeof k->spec, "%s", gk->name);
    snprintf(k->symbol, sizeof k->symbol, "%s", gk->name);
    return LP_OK;
}

lp_status ck_kernel_open_builtin(ck_kernel *k, const char *name, lp_error *err)
{
    memset(k, 0, sizeof *k);
    const lp_kernel *kn = lp_kernel_find(name);
    const lp_gkernel *gk = kn ? NULL : lp_gkernel_find(name);
    if (gk) return open_gbuiltin(k, gk, err);
    if (!kn) return lp_fail(err, LP_ERR_USAGE, "--kernel: unknown built-in kernel '%s'", name);
    builtin *bi = calloc(1, sizeof *bi);
    if (!bi) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    bi->k = kn;
    snprintf(bi->desc, sizeof bi->desc, "built-in %s: masking %s, empty mean %s, %s", kn->name,
             lp_kmask_name(kn->mask), kn->empty_mean == LP_EMPTY_NAN ? "nan" : "zero",
             kn->models ? kn->models : "");
    unsigned fm = 0;
    for (int f = 0; f < LP_NFORMATS; f++)
        if (lp_kernel_accepts(kn, (lp_format)f)) fm |= LP_PLUGIN_FMT(f);
    bi->p = (lp_plugin){LP_PLUGIN_ABI_VERSION, sizeof(lp_plugin), kn->name, bi->desc, fm,
                        LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN,
                        (int32_t)kn->out, (int32_t)kn->out, (int32_t)kn->out,
                        LP_PLUGIN_CAP_MASK | LP_PLUGIN_CAP_IGNORE_INDEX | LP_PLUGIN_CAP_SHIFT_NONE |
                            LP_PLUGIN_CAP_TEMPERATURE,
                        builtin_run, bi};
    k->p = &bi->p;
    k->builtin_state = bi;
    snprintf(k->spec, sizeof k->spec, "%s", name);
    snprintf(k->symbol, sizeof k->symbol, "%s", name);
    return LP_OK;
}

void ck_builtin_close(ck_kernel *k) { free(k->builtin_state); }

#else /* built without impl/ */

int ck_builtin_available(void) { return 0; }
int ck_builtin_known(const char *name) { (void)name; return 0; }

lp_status ck_baseline_run(ck_outputs *out, const char *name, const lp_problem *pb, int *ok,
                          const char **why, lp_error *err)
{
    (void)pb;
    memset(out, 0, sizeof *out);
    *ok = 0;
    *why = "built without the kernel registry";
    return lp_fail(err, LP_ERR_USAGE, "--vs-baseline %s: lpcert was built without impl/", name);
}

lp_status ck_kernel_open_builtin(ck_kernel *k, const char *name, lp_error *err)
{
    memset(k, 0, sizeof *k);
    return lp_fail(err, LP_ERR_USAGE, "--kernel %s: lpcert was built without impl/", name);
}

void ck_builtin_close(ck_kernel *k) { (void)k; }

#endif
