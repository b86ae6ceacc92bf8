/* check/kernel.c: kernels run in-process through the plugin ABI (include/lpcert_plugin.h):
 * loading a plugin with dlopen, checking its description, and running it on an lp_problem with
 * the transformations its capabilities require (mask folded into labels, ignore_index rewritten to
 * -100, shift none passed as the equivalent shift next). Outputs are allocated here, poisoned with
 * a quiet NaN so that a value the kernel forgets to write shows as a class mismatch, and widened
 * to double after the call. ck_kernel_judge runs a kernel on one case and judges it as certify does. */
#include <dlfcn.h>
#include <stddef.h>
#include <sys/stat.h>

#include "lp_check_internal.h"
#include "lp_ref_judge.h"
#include "lp_format.h"
#include "lp_problem.h"

#define V1_SIZE (offsetof(lp_plugin, state) + sizeof(void *))
#define V2_SIZE sizeof(lp_plugin_v2)

static lp_status describe_check(const lp_plugin *p, const char *spec, lp_error *err)
{
    if (!p) return lp_fail(err, LP_ERR_INPUT, "%s: the entry function returned NULL (it refuses "
                           "lpcert's ABI version %u)", spec, LP_PLUGIN_ABI_VERSION);
    if (p->abi_version == 0 || p->abi_version > LP_PLUGIN_ABI_VERSION)
        return lp_fail(err, LP_ERR_INPUT, "%s: plugin ABI version %u; this lpcert speaks 1 to %u",
                       spec, p->abi_version, LP_PLUGIN_ABI_VERSION);
    if (p->struct_size < V1_SIZE)
        return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.struct_size %u is smaller than version 1's "
                       "%zu (was it set to sizeof(lp_plugin)?)", spec, p->struct_size, V1_SIZE);
    if (!p->name || !p->run)
        return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.name and .run must be set", spec);
    if (p->formats == 0 || (p->formats & ~0xfu))
        return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.formats 0x%x: set bits LP_PLUGIN_FMT(LP_F64"
                       " .. LP_BF16) only, at least one", spec, p->formats);
    if (p->caps & ~0x1fu)
        return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.caps 0x%x has unknown bits", spec, p->caps);
    const int bwd = (p->caps & LP_PLUGIN_CAP_BACKWARD) != 0;
    if (bwd && (p->abi_version < 2 || p->struct_size < V2_SIZE))
        return lp_fail(err, LP_ERR_INPUT, "%s: LP_PLUGIN_CAP_BACKWARD needs abi_version 2 and "
                       "struct_size >= %zu (abi_version %u, struct_size %u)", spec, V2_SIZE,
                       p->abi_version, p->struct_size);
    const lp_plugin_v2 *p2 = bwd ? (const lp_plugin_v2 *)p : NULL;   /* p is its base member */
    if (p2 && (!p2->backward || p2->reductions == 0 || (p2->reductions & ~0xfu) ||
               p2->grad_format < LP_PLUGIN_SAME_AS_LOGITS || p2->grad_format > LP_BF16))
        return lp_fail(err, LP_ERR_INPUT, "%s: LP_PLUGIN_CAP_BACKWARD: lp_plugin_v2.backward must "
                       "be set, reductions 0x%x bits (1 << lp_reduction), at least one, grad_format "
                       "%d a format", spec, p2->reductions, (int)p2->grad_format);
    if ((p->outputs == 0 && !bwd) || (p->outputs & ~7u))
        return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.outputs 0x%x: LP_PLUGIN_OUT_LOGP, _SUM, "
                       "_MEAN, at least one (none only for a backward kernel)", spec, p->outputs);
    const int32_t f[3] = {p->logp_format, p->sum_format, p->mean_format};
    for (int i = 0; i < 3; i++)
        if (f[i] < LP_PLUGIN_SAME_AS_LOGITS || f[i] > LP_BF16)
            return lp_fail(err, LP_ERR_INPUT, "%s: lp_plugin.%s_format %d is not a format",
                           spec, ck_tensor_name(i), (int)f[i]);
    return LP_OK;
}

lp_status ck_kernel_open_plugin(ck_kernel *k, const char *spec, lp_error *err)
{
    memset(k, 0, sizeof *k);
    snprintf(k->spec, sizeof k->spec, "%s", spec);
    snprintf(k->path, sizeof k->path, "%s", spec);
    snprintf(k->symbol, sizeof k->symbol, "%s", LP_PLUGIN_ENTRY);
    struct stat st;
    const char *colon = strrchr(spec, ':');
    if (stat(spec, &st) != 0 && colon) {
        snprintf(k->path, sizeof k->path, "%.*s", (int)(colon - spec), spec);
        snprintf(k->symbol, sizeof k->symbol, "%s", colon + 1);
    }
    if (stat(k->path, &st) != 0)
        return lp_fail(err, LP_ERR_IO, "%s: no such file", k->path);
    char path[600];
    snprintf(path, sizeof path, "%s%s", strchr(k->path, '/') ? "" : "./", k->path);
    dlerror();
    k->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!k->dl) return lp_fail(err, LP_ERR_INPUT, "%s: cannot load: %s", k->path, dlerror());
    void *sym = dlsym(k->dl, k->symbol);
    if (!sym) return lp_fail(err, LP_ERR_INPUT, "%s: no symbol '%s' (the entry function: "
                             "const lp_plugin *%s(uint32_t host_abi))", k->path, k->symbol, k->symbol);
    lp_plugin_entry_fn fn;
    memcpy(&fn, &sym, sizeof fn);   /* POSIX: a data pointer from dlsym converts to a function */
    k->p = fn(LP_PLUGIN_ABI_VERSION);
    return describe_check(k->p, spec, err);
}

lp_status ck_kernel_open_given(ck_kernel *k, const lp_plugin *p, lp_error *err)
{
    memset(k, 0, sizeof *k);
    snprintf(k->spec, sizeof k->spec, "%s", p && p->name ? p->name : "kernel");
    k->p = p;
    return describe_check(p, k->spec, err);
}

void ck_kernel_close(ck_kernel *k)
{
    if (!k) return;
    ck_builtin_close(k);
    if (k->dl) dlclose(k->dl);
    memset(k, 0, sizeof *k);
}

static void poison(void *p, lp_format f, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (f) {
        case LP_F64: { uint64_t u = UINT64_C(0x7ff80000deadbeef); memcpy((char *)p + 8 * i, &u, 8); } break;
        case LP_F32: { uint32_t u = 0x7fc0deadu; memcpy((char *)p + 4 * i, &u, 4); } break;
        default: { uint16_t u = f == LP_F16 ? 0x7e5d : 0x7fde; memcpy((char *)p + 2 * i, &u, 2); } break;
        }
    }
}

/* The problem as the kernel is given it (the transformations of its capabilities); the arrays
 * it owns go to *labels, *mask, *logits (free them). *none_tf: shift none passed as shift next
 * with one more row per sequence (the kernel's rows 0..T-1 are the problem's). */
static lp_status plugin_problem(lp_plugin_problem *pp, int64_t **labels_out, uint8_t **mask_out,
                                void **logits_out, int *none_tf_out, const ck_kernel *k,
                                const lp_problem *pb, lp_error *err)
{
    const lp_plugin *p = k->p;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V, Ts = lp_problem_ts(pb);
    const int none_tf = pb->shift == LP_SHIFT_NONE && !(p->caps & LP_PLUGIN_CAP_SHIFT_NONE);
    const int keep_mask = (p->caps & LP_PLUGIN_CAP_MASK) && pb->mask;
    const int64_t T2 = none_tf ? T + 1 : T, off = none_tf ? 1 : 0;
    const int64_t ign2 = (p->caps & LP_PLUGIN_CAP_IGNORE_INDEX) ? pb->ignore_index : -100;
    const size_t esz = (size_t)lp_format_get(pb->fmt)->bytes;
    int64_t *labels = malloc((size_t)(B * T2) * sizeof *labels);
    uint8_t *mask = keep_mask ? malloc((size_t)(B * T2)) : NULL;
    void *logits = none_tf ? calloc((size_t)(B * T2 * V), esz) : NULL;
    *labels_out = labels;
    *mask_out = mask;
    *logits_out = logits;
    *none_tf_out = none_tf;
    if (!labels || (keep_mask && !mask) || (none_tf && !logits))
        return lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for a problem of %lld x %lld x %lld",
                       (long long)B, (long long)T, (long long)V);
    for (int64_t b = 0; b < B; b++) {
        if (none_tf) {
            labels[b * T2] = ign2;
            if (mask) mask[b * T2] = 0;
            memcpy((char *)logits + (size_t)(b * T2 * V) * esz,
                   (const char *)pb->logits + (size_t)(b * T * V) * esz, (size_t)(T * V) * esz);
        }
        for (int64_t t = 0; t < T; t++) {
            int64_t lab = lp_problem_label(pb, b, t);
            const int m = lp_problem_mask(pb, b, t);
            if (!keep_mask && !m) lab = pb->ignore_index;
            if (lab == pb->ignore_index) lab = ign2;
            labels[b * T2 + t + off] = lab;
            if (mask) mask[b * T2 + t + off] = (uint8_t)m;
        }
    }
    memset(pp, 0, sizeof *pp);
    pp->struct_size = sizeof *pp;
    pp->abi_version = LP_PLUGIN_ABI_VERSION;
    pp->B = B;
    pp->T = T2;
    pp->V = V;
    pp->Ts = Ts;
    pp->format = (int32_t)pb->fmt;
    pp->shift = none_tf ? LP_SHIFT_NEXT : (int32_t)pb->shift;
    pp->logits = none_tf ? logits : pb->logits;
    pp->labels = labels;
    pp->mask = mask;
    pp->ignore_index = ign2;
    pp->temperature = pb->temperature;
    pp->empty_mean = (int32_t)pb->empty_mean;
    return LP_OK;
}

static const char *plugin_skip(const lp_plugin *p, const lp_problem *pb)
{
    if (!(p->formats & LP_PLUGIN_FMT(pb->fmt)))
        return "its logits format is not among the kernel's formats";
    if (pb->temperature != 1 && !(p->caps & LP_PLUGIN_CAP_TEMPERATURE))
        return "temperature != 1 and the kernel does not declare LP_PLUGIN_CAP_TEMPERATURE";
    if (lp_sampling_on(&pb->sampling))
        return "the case sets sampling parameters (softcap, top_k, top_p, min_p: SPEC A7), which "
               "the kernel ABI does not carry: its raw log-probs are not the processed ones";
    return NULL;
}

lp_status ck_kernel_run(const ck_kernel *k, const lp_problem *pb, ck_outputs *out,
                        const char **skip, int *kfail, char *kmsg, size_t kmsg_size, lp_error *err)
{
    const lp_plugin *p = k->p;
    memset(out, 0, sizeof *out);
    *kfail = 0;
    if ((*skip = plugin_skip(p, pb)) != NULL) return LP_OK;
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    int64_t *labels = NULL;
    uint8_t *mask = NULL;
    void *logits = NULL;
    int none_tf;
    void *buf[CK_NOUT] = {NULL, NULL, NULL};
    lp_plugin_problem pp;
    lp_status s = plugin_problem(&pp, &labels, &mask, &logits, &none_tf, k, pb, err);
    if (s != LP_OK) goto done;
    lp_plugin_outputs po;
    memset(&po, 0, sizeof po);
    po.struct_size = sizeof po;
    const int32_t decl[CK_NOUT] = {p->logp_format, p->sum_format, p->mean_format};
    int32_t *pf[CK_NOUT] = {&po.logp_format, &po.sum_format, &po.mean_format};
    void **pd[CK_NOUT] = {&po.logp, &po.sum, &po.mean};
    for (int o = 0; o < CK_NOUT; o++) {
        const lp_format f = decl[o] == LP_PLUGIN_SAME_AS_LOGITS ? pb->fmt : (lp_format)decl[o];
        *pf[o] = (int32_t)f;
        if (!(p->outputs & (1u << o))) continue;
        const int64_t n = o == CK_TOKEN ? B * Ts : B;
        buf[o] = malloc((size_t)(n ? n : 1) * (size_t)lp_format_get(f)->bytes);
        if (!buf[o]) {
            s = lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for outputs");
            goto done;
        }
        poison(buf[o], f, n);
        *pd[o] = buf[o];
    }
    if (kmsg_size) kmsg[0] = 0;
    if (p->run(p->state, &pp, &po, kmsg, kmsg_size) != 0) {
        *kfail = 1;
        if (kmsg_size) kmsg[kmsg_size - 1] = 0;
        goto done;
    }
    for (int o = 0; o < CK_NOUT && s == LP_OK; o++) {
        if (!buf[o]) continue;
        const int64_t n = o == CK_TOKEN ? B * Ts : B;
        ck_array *a = &out->a[o];
        a->v = malloc((size_t)(n ? n : 1) * sizeof *a->v);
        if (!a->v) {
            s = lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for outputs");
            break;
        }
        a->present = 1;
        a->fmt = (lp_format)*pf[o];
        a->n = n;
        for (int64_t i = 0; i < n; i++) a->v[i] = lp_load_f64(buf[o], a->fmt, (size_t)i);
    }
    if (s != LP_OK) ck_outputs_free(out);
done:
    for (int o = 0; o < CK_NOUT; o++) free(buf[o]);
    free(labels);
    free(mask);
    free(logits);
    return s;
}

lp_status ck_kernel_backward(const ck_kernel *k, const lp_problem *pb, lp_reduction red,
                             void **grad, lp_format *gfmt, const char **skip, int *kfail,
                             char *kmsg, size_t kmsg_size, lp_error *err)
{
    const lp_plugin *p = k->p;
    *grad = NULL;
    *kfail = 0;
    *gfmt = LP_F32;
    if (!(p->caps & LP_PLUGIN_CAP_BACKWARD)) {
        *skip = "the kernel has no backward entry";
        return LP_OK;
    }
    const lp_plugin_v2 *p2 = (const lp_plugin_v2 *)p;   /* checked by describe_check */
    if (!(p2->reductions & (1u << red))) {
        *skip = "the kernel does not compute this reduction's gradient";
        return LP_OK;
    }
    if ((*skip = plugin_skip(p, pb)) != NULL) return LP_OK;
    const lp_format f = p2->grad_format == LP_PLUGIN_SAME_AS_LOGITS ? pb->fmt : (lp_format)p2->grad_format;
    const size_t esz = (size_t)lp_format_get(f)->bytes;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    int64_t *labels = NULL;
    uint8_t *mask = NULL;
    void *logits = NULL, *kbuf = NULL, *out = NULL;
    int none_tf;
    lp_plugin_problem pp;
    lp_status s = plugin_problem(&pp, &labels, &mask, &logits, &none_tf, k, pb, err);
    if (s == LP_OK) {
        const int64_t n = B * pp.T * V;
        kbuf = malloc((size_t)(n ? n : 1) * esz);
        if (!kbuf) s = lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for a gradient");
        else poison(kbuf, f, n);
    }
    if (s == LP_OK) {
        lp_plugin_grad pg;
        memset(&pg, 0, sizeof pg);
        pg.struct_size = sizeof pg;
        pg.reduction = (int32_t)red;
        pg.grad = kbuf;
        pg.grad_format = (int32_t)f;
        if (kmsg_size) kmsg[0] = 0;
        if (p2->backward(p->state, &pp, &pg, kmsg, kmsg_size) != 0) {
            *kfail = 1;
            if (kmsg_size) kmsg[kmsg_size - 1] = 0;
        } else if (none_tf) {   /* rows 0..T-1 of each sequence of T + 1 */
            const int64_t nbt = B * T * V;
            out = malloc((size_t)(nbt > 0 ? nbt : 1) * esz);
            if (!out) s = lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for a gradient");
            for (int64_t b = 0; out && b < B; b++)
                memcpy((char *)out + (size_t)(b * T * V) * esz,
                       (char *)kbuf + (size_t)(b * (T + 1) * V) * esz, (size_t)(T * V) * esz);
        } else {
            out = kbuf;
            kbuf = NULL;
        }
    }
    free(kbuf);
    free(labels);
    free(mask);
    free(logits);
    if (s == LP_OK && !*kfail) {
        *grad = out;
        *gfmt = f;
    } else {
        free(out);
    }
    return s;
}

lp_status ck_kernel_view(lp_problem *view, int64_t **labels_own, const ck_kernel *k,
                         const lp_problem *pb, lp_error *err)
{
    const unsigned caps = k->p->caps;
    *view = *pb;
    *labels_own = NULL;
    const int fold = pb->mask && !(caps & LP_PLUGIN_CAP_MASK);
    const int rewrite = pb->ignore_index != -100 && !(caps & LP_PLUGIN_CAP_IGNORE_INDEX);
    if (!fold && !rewrite) return LP_OK;
    const int64_t n = pb->shape.B * pb->shape.T;
    int64_t *lab = malloc((size_t)(n ? n : 1) * sizeof *lab);
    if (!lab) return lp_fail(err, LP_ERR_NOMEM, "certify: out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t y = lp_problem_label(pb, i / pb->shape.T, i % pb->shape.T);
        if (fold && !pb->mask[i]) y = pb->ignore_index;
        if (rewrite && y == pb->ignore_index) y = -100;
        lab[i] = y;
    }
    view->labels = lab;
    view->label_type = LP_I64;
    if (fold) view->mask = NULL;
    if (rewrite) view->ignore_index = -100;
    *labels_own = lab;
    return LP_OK;
}

lp_status ck_kernel_judge(ck_run *r, const ck_kernel *k, const char *name, const char *cls,
                          const lp_problem *pb, const lp_ref_result *given_ref, uint64_t bseed,
                          int *ran, lp_error *err)
{
    ck_outputs cand, base;
    memset(&base, 0, sizeof base);
    const char *skip;
    int kfail;
    char kmsg[256];
    *ran = 0;
    lp_status s = ck_kernel_run(k, pb, &cand, &skip, &kfail, kmsg, sizeof kmsg, err);
    if (s != LP_OK) return s;
    if (skip) {
        ck_run_diag(r, CK_D_SKIP, "case %s: %s", name, skip);
        return LP_OK;
    }
    if (kfail) {
        *ran = -1;
        ck_run_diag(r, CK_D_KERNEL_ERR, "case %s: %s", name, kmsg[0] ? kmsg : "(no message)");
        return LP_OK;
    }
    *ran = 1;
    lp_ref_result own;
    lp_ref_enc renc;
    memset(&own, 0, sizeof own);
    memset(&renc, 0, sizeof renc);
    const lp_ref_result *ref = given_ref;
    if (!ref) {
        s = ck_ref_compute(&own, &renc, r, pb, &cand, err);
        ref = &own;
    }
    int have_base = 0;
    if (s == LP_OK) s = ck_run_baseline(r, &base, name, pb, &cand, &have_base, err);
    lp_problem view;
    int64_t *view_labels = NULL;
    if (s == LP_OK) s = ck_kernel_view(&view, &view_labels, k, pb, err);
    r->renc = renc.tok ? &renc : NULL;
    if (s == LP_OK) s = ck_run_case(r, name, cls, &view, ref, &cand, have_base ? &base : NULL, err);
    r->renc = NULL;
    free(view_labels);
    if (s == LP_OK && r->opt.batch != CK_BATCH_OFF) s = ck_batch_check(r, k, name, pb, &cand, bseed, err);
    ck_outputs_free(&cand);
    ck_outputs_free(&base);
    ck_ref_free(&own, &renc);
    return s;
}
