/* check/input.c: suites and candidate files for `lpcert check` (SPEC B).
 *
 * A suite is read with core/lp_suite_io.h (its layout: case/<name>/logits, labels, mask,
 * expected/<output> and the parameters in __metadata__). A candidate holds
 * case/<name>/logp [B, T_s], case/<name>/sum [B], case/<name>/mean [B], any subset, each in F64,
 * F32, F16 or BF16. Every candidate tensor is checked (name, dtype, shape) before anything is
 * compared, so a mismatched file gives one error line and no report. */
#include <fnmatch.h>
#include <math.h>

#include "lp_check_internal.h"
#include "lp_ref_judge.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_suite_io.h"

/* One pattern of n bytes: an fnmatch glob, or without wildcards a prefix ending at a '/'. */
static int one_match(const char *pat, size_t n, const char *name)
{
    char g[256];
    if (n >= sizeof g) return 0;
    memcpy(g, pat, n);
    g[n] = 0;
    if (fnmatch(g, name, 0) == 0) return 1;
    if (strpbrk(g, "*?[")) return 0;
    return strncmp(name, g, n) == 0 && (name[n] == 0 || name[n] == '/');
}

int ck_glob_match(const char *glob, const char *name)
{
    if (!glob) return 1;
    for (const char *p = glob;;) {      /* a comma-separated list: any pattern matches */
        const char *c = strchr(p, ',');
        const size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0 && one_match(p, n, name)) return 1;
        if (!c) return 0;
        p = c + 1;
    }
}

static int squeeze(int64_t *d, int nd, const int64_t *dims)
{
    int k = 0;
    for (int i = 0; i < nd; i++)
        if (dims[i] != 1) d[k++] = dims[i];
    return k;
}

lp_status ck_output_load(ck_array *arr, const lp_tensor *t, int ndim, const int64_t *want,
                         int lenient_b1, const char *what, const char *hint, lp_error *err)
{
    lp_format fmt;
    if (t->dtype == LP_DT_U16) fmt = LP_BF16;   /* a .npy '<u2': bf16 bit patterns */
    else if (!lp_dtype_format(&fmt, t->dtype))
        return lp_fail(err, LP_ERR_INPUT, "%s: dtype %s is not a float format (F64, F32, F16, BF16)",
                       what, lp_dtype_name(t->dtype));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->dims[i] == want[i];
    if (!ok && lenient_b1) {
        int64_t a[LP_MAX_DIMS], b[LP_MAX_DIMS];
        int na = squeeze(a, t->ndim, t->dims), nb = squeeze(b, ndim, want);
        ok = na == nb && memcmp(a, b, sizeof(int64_t) * (size_t)na) == 0;
    }
    if (!ok) {
        char got[200], exp[200];
        lp_tensor_shape_str(got, sizeof got, t->ndim, t->dims);
        lp_tensor_shape_str(exp, sizeof exp, ndim, want);
        return lp_fail(err, LP_ERR_INPUT, "%s: shape %s, expected %s%s", what, got, exp,
                       hint ? hint : "");
    }
    double *v = malloc(t->numel ? (size_t)t->numel * sizeof *v : 1);
    if (!v) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", what);
    for (int64_t i = 0; i < t->numel; i++) v[i] = lp_load_f64(t->data, fmt, (size_t)i);
    free(arr->v);
    arr->present = 1;
    arr->fmt = fmt;
    arr->n = t->numel;
    arr->v = v;
    return LP_OK;
}

/* ---- suites ------------------------------------------------------------------------------------- */

static lp_status bind_case(ck_suite *s, ck_case *c, lp_error *err)
{
    lp_status st = lp_suite_read_case(&c->pb, &c->mask_own, c->family, sizeof c->family, s->f,
                                      s->path, c->name, err);
    if (st != LP_OK) return st;
    snprintf(c->cls, sizeof c->cls, "%s/%s", c->family, lp_format_name(c->pb.fmt));
    c->has_expected = lp_suite_has_expected(s->f, c->name);
    return LP_OK;
}

lp_status ck_suite_open(ck_suite *s, const char *path, const char *glob, lp_error *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    lp_status st = lp_tfile_open(&s->f, path, err);
    if (st != LP_OK) return st;
    const size_t nt = lp_tfile_count(s->f);
    s->c = calloc(nt ? nt : 1, sizeof *s->c);
    if (!s->c) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    size_t total = 0;
    for (size_t i = 0; i < nt && st == LP_OK; i++) {
        const lp_tensor *t = lp_tfile_at(s->f, i);
        ck_case *c = &s->c[s->n];
        const int is_case = lp_suite_case_of(c->name, sizeof c->name, t->name);
        if (is_case == 0) continue;
        total++;
        if (is_case < 0)
            return lp_fail(err, LP_ERR_INPUT, "%s: case name too long in tensor '%.60s...'", path,
                           t->name);
        if (!ck_glob_match(glob, c->name)) continue;
        s->n++;
        st = bind_case(s, c, err);
    }
    if (st != LP_OK) return st;
    if (total == 0)
        return lp_fail(err, LP_ERR_INPUT, "%s: not a suite: no case/<name>/logits tensor (make one "
                       "with lpcert gen)", path);
    if (s->n == 0)
        return lp_fail(err, LP_ERR_USAGE, "%s: no case matches --cases '%s'", path, glob);
    return LP_OK;
}

void ck_suite_close(ck_suite *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->c[i].mask_own);
    free(s->c);
    lp_tfile_close(s->f);
    memset(s, 0, sizeof *s);
}

lp_status ck_suite_ref(lp_ref_result *ref, const ck_suite *s, size_t i, int recompute, int threads,
                       lp_error *err)
{
    const ck_case *c = &s->c[i];
    memset(ref, 0, sizeof *ref);
    if (!c->has_expected || recompute) {
        lp_ref_options o = LP_REF_OPTIONS_INIT;
        o.threads = threads;
        return lp_ref_compute_opts(ref, &c->pb, &o, err);
    }
    const int64_t B = c->pb.shape.B, Ts = lp_problem_ts(&c->pb);
    ref->B = B;
    ref->Ts = Ts;
    ref->logp = calloc((size_t)(B * Ts) + 1, sizeof *ref->logp);
    ref->counted = calloc((size_t)(B * Ts) + 1, 1);
    ref->sum = calloc((size_t)B + 1, sizeof *ref->sum);
    ref->mean = calloc((size_t)B + 1, sizeof *ref->mean);
    ref->count = calloc((size_t)B + 1, sizeof *ref->count);
    if (!ref->logp || !ref->counted || !ref->sum || !ref->mean || !ref->count) {
        lp_ref_result_free(ref);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for case %s", s->path, c->name);
    }
    lp_status st = lp_suite_read_expected(ref, s->f, s->path, c->name, &c->pb, err);
    if (st != LP_OK) lp_ref_result_free(ref);
    return st;
}

/* ---- candidates --------------------------------------------------------------------------------- */

/* Splits "case/<name>/<out>": *out the output index; name copied. 0 if it is not of that form. */
static int split_name(const char *t, char *name, size_t cap, int *out)
{
    if (strncmp(t, "case/", 5) != 0) return 0;
    const char *last = strrchr(t, '/');
    if (!last || last <= t + 5) return 0;
    size_t n = (size_t)(last - (t + 5));
    if (n >= cap) return 0;
    memcpy(name, t + 5, n);
    name[n] = 0;
    for (int o = 0; o < CK_NOUT; o++)
        if (strcmp(last + 1, ck_tensor_name(o)) == 0) {
            *out = o;
            return 1;
        }
    *out = -1;
    return 1;
}

static const ck_case *find_case(const ck_suite *s, const char *name, size_t *idx)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->c[i].name, name) == 0) {
            if (idx) *idx = i;
            return &s->c[i];
        }
    return NULL;
}

static lp_status load_one(ck_array *arr, const lp_tensor *t, const char *cpath, const ck_case *c,
                          int out, lp_error *err)
{
    const int64_t B = c->pb.shape.B, Ts = lp_problem_ts(&c->pb);
    const int64_t dims[2] = {B, Ts};
    char what[400], hint[200] = "";
    snprintf(what, sizeof what, "%s: %s", cpath, t->name);
    if (out == CK_TOKEN)
        snprintf(hint, sizeof hint, " ([B, T_s] with T_s = %s = %lld: the case has shift %s)",
                 c->pb.shift == LP_SHIFT_NEXT ? "T-1" : "T", (long long)Ts,
                 c->pb.shift == LP_SHIFT_NEXT ? "next" : "none");
    return ck_output_load(arr, t, out == CK_TOKEN ? 2 : 1, dims, 0, what, hint, err);
}

lp_status ck_candidate_validate(const lp_tfile *cf, const char *cpath, const ck_suite *s,
                                lp_error *err)
{
    const size_t nt = lp_tfile_count(cf);
    if (nt == 0) return lp_fail(err, LP_ERR_INPUT, "%s: the candidate holds no tensor", cpath);
    unsigned char *seen = calloc(s->n + 1, 1);
    if (!seen) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    lp_status st = LP_OK;
    char name[256];
    for (size_t i = 0; i < nt && st == LP_OK; i++) {
        const lp_tensor *t = lp_tfile_at(cf, i);
        int out;
        if (!split_name(t->name, name, sizeof name, &out) || out < 0) {
            st = lp_fail(err, LP_ERR_INPUT, "%s: tensor '%s' is not case/<name>/logp, "
                         "case/<name>/sum or case/<name>/mean", cpath, t->name);
            break;
        }
        size_t idx;
        const ck_case *c = find_case(s, name, &idx);
        if (!c) {
            if (!lp_suite_tensor(s->f, name, "logits"))
                st = lp_fail(err, LP_ERR_INPUT, "%s: tensor '%s': the suite %s has no case '%s'",
                             cpath, t->name, s->path, name);
            continue;   /* a case left out by --cases */
        }
        seen[idx] = 1;
        ck_array tmp = {0, LP_F64, 0, NULL};
        st = load_one(&tmp, t, cpath, c, out, err);
        free(tmp.v);
    }
    for (size_t i = 0; i < s->n && st == LP_OK; i++)
        if (!seen[i])
            st = lp_fail(err, LP_ERR_INPUT, "%s: no output for case '%s' (case/%s/logp, sum or "
                         "mean); --cases selects a subset of the suite", cpath, s->c[i].name,
                         s->c[i].name);
    free(seen);
    return st;
}

lp_status ck_candidate_load(ck_outputs *o, const lp_tfile *cf, const char *cpath,
                            const ck_suite *s, size_t i, lp_error *err)
{
    memset(o, 0, sizeof *o);
    const ck_case *c = &s->c[i];
    for (int out = 0; out < CK_NOUT; out++) {
        const lp_tensor *t = lp_suite_tensor(cf, c->name, ck_tensor_name(out));
        if (!t) continue;
        lp_status st = load_one(&o->a[out], t, cpath, c, out, err);
        if (st != LP_OK) {
            ck_outputs_free(o);
            return st;
        }
    }
    return LP_OK;
}

lp_status ck_suite_compare(ck_run *r, const ck_suite *su, const lp_tfile *cf, const char *cand_path,
                           int recompute, unsigned fm[CK_NOUT], void (*progress)(size_t, size_t),
                           lp_error *err)
{
    lp_status s = LP_OK;
    for (size_t i = 0; i < su->n && s == LP_OK; i++) {
        const ck_case *c = &su->c[i];
        lp_ref_result ref;
        lp_ref_enc enc;
        ck_outputs cand;
        memset(&cand, 0, sizeof cand);
        memset(&ref, 0, sizeof ref);
        memset(&enc, 0, sizeof enc);
        if (progress) progress(i, su->n);
        s = ck_candidate_load(&cand, cf, cand_path, su, i, err);
        /* a computed reference: from the fast tiers, judged from their enclosures (judge.c) */
        const int computed = !c->has_expected || recompute;
        if (s == LP_OK && computed) s = ck_ref_compute(&ref, &enc, r, &c->pb, &cand, err);
        else if (s == LP_OK) s = ck_suite_ref(&ref, su, i, recompute, r->opt.threads, err);
        r->renc = enc.tok ? &enc : NULL;
        if (s == LP_OK) s = ck_judge(r, c->name, c->cls, &c->pb, &ref, &cand, fm, err);
        r->renc = NULL;
        ck_outputs_free(&cand);
        ck_ref_free(&ref, &enc);
    }
    return s;
}
