/* core/suite_io.c: the suite file layout and the result columns of `lpcert ref` (lp_suite_io.h):
 * the names of their tensors, the metadata keys and their value formats exist here only. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "lp_bind.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_suite_io.h"

/* ---- the result columns: the layout of `lpcert ref`'s file and of a suite's expected/ -------- */

/* The six columns of a value, in file order: the four roundings and the double-double. */
static const char *const col_suffix[6] = {"f64", "f32", "f16", "bf16", "hi", "lo"};
static const lp_dtype col_dtype[6] = {LP_DT_F64, LP_DT_F32, LP_DT_F16, LP_DT_BF16, LP_DT_F64, LP_DT_F64};

typedef struct cols {
    double *f64, *hi, *lo;
    float *f32;
    uint16_t *f16, *bf16;
} cols;

struct lp_ref_cols {
    cols tok, sum, mean, tm;
};

static int cols_fill(cols *c, const lp_value *v, size_t n)
{
    size_t k = n ? n : 1;
    c->f64 = malloc(k * 8); c->hi = malloc(k * 8); c->lo = malloc(k * 8);
    c->f32 = malloc(k * 4); c->f16 = malloc(k * 2); c->bf16 = malloc(k * 2);
    if (!c->f64 || !c->hi || !c->lo || !c->f32 || !c->f16 || !c->bf16) return 0;
    for (size_t i = 0; i < n; i++) {
        c->f64[i] = v[i].f64; c->f32[i] = v[i].f32; c->f16[i] = v[i].f16; c->bf16[i] = v[i].bf16;
        c->hi[i] = v[i].dd.hi; c->lo[i] = v[i].dd.lo;
    }
    return 1;
}

static void cols_free(cols *c)
{
    free(c->f64); free(c->hi); free(c->lo); free(c->f32); free(c->f16); free(c->bf16);
}

static lp_status cols_add(lp_twriter *w, const char *prefix, const char *stem, const cols *c,
                          int nd, const int64_t *dims, lp_error *err)
{
    char name[256];
    lp_status s = LP_OK;
    const void *const p[6] = {c->f64, c->f32, c->f16, c->bf16, c->hi, c->lo};
    for (int i = 0; i < 6 && s == LP_OK; i++) {
        snprintf(name, sizeof name, "%s%s.%s", prefix, stem, col_suffix[i]);
        s = lp_twriter_add(w, name, col_dtype[i], nd, dims, p[i], err);
    }
    return s;
}

void lp_ref_cols_free(lp_ref_cols *k)
{
    if (!k) return;
    cols_free(&k->tok); cols_free(&k->sum); cols_free(&k->mean); cols_free(&k->tm);
    free(k);
}

lp_status lp_ref_tensors_add(lp_twriter *w, const char *prefix, const lp_ref_result *r,
                             lp_ref_cols **keep, lp_error *err)
{
    lp_ref_cols *k = calloc(1, sizeof *k);
    *keep = k;
    if (!k || !cols_fill(&k->tok, r->logp, (size_t)(r->B * r->Ts)) ||
        !cols_fill(&k->sum, r->sum, (size_t)r->B) || !cols_fill(&k->mean, r->mean, (size_t)r->B) ||
        !cols_fill(&k->tm, &r->token_mean, 1))
        return lp_fail(err, LP_ERR_NOMEM, "out of memory for the output columns");
    char name[256];
    int64_t d2[2] = {r->B, r->Ts}, d1[1] = {r->B}, one[1] = {1};
    lp_status s = cols_add(w, prefix, "logp", &k->tok, 2, d2, err);
    snprintf(name, sizeof name, "%scounted", prefix);
    if (s == LP_OK) s = lp_twriter_add(w, name, LP_DT_U8, 2, d2, r->counted, err);
    if (s == LP_OK) s = cols_add(w, prefix, "sum", &k->sum, 1, d1, err);
    if (s == LP_OK) s = cols_add(w, prefix, "mean", &k->mean, 1, d1, err);
    snprintf(name, sizeof name, "%scount", prefix);
    if (s == LP_OK) s = lp_twriter_add(w, name, LP_DT_I64, 1, d1, r->count, err);
    if (s == LP_OK) s = cols_add(w, prefix, "token_mean", &k->tm, 1, one, err);
    return s;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static lp_status add_meta(lp_twriter *w, const char *name, const char *key, const char *val,
                          lp_error *err)
{
    char k[256];
    snprintf(k, sizeof k, "case/%s/%s", name, key);
    return lp_twriter_meta(w, k, val, err);
}

lp_status lp_suite_write_case(lp_twriter *w, const char *name, const char *family,
                              const lp_problem *pb, lp_error *err)
{
    char key[256], buf[64];
    const int64_t d3[3] = {pb->shape.B, pb->shape.T, pb->shape.V}, d2[2] = {pb->shape.B, pb->shape.T};
    snprintf(key, sizeof key, "case/%s/logits", name);
    lp_status s = lp_twriter_add(w, key, lp_dtype_of_format(pb->fmt), 3, d3, pb->logits, err);
    snprintf(key, sizeof key, "case/%s/labels", name);
    if (s == LP_OK)
        s = lp_twriter_add(w, key, pb->label_type == LP_I32 ? LP_DT_I32 : LP_DT_I64, 2, d2,
                           pb->labels, err);
    snprintf(key, sizeof key, "case/%s/mask", name);
    if (s == LP_OK && pb->mask) s = lp_twriter_add(w, key, LP_DT_U8, 2, d2, pb->mask, err);
    if (s == LP_OK) s = add_meta(w, name, "shift", pb->shift == LP_SHIFT_NEXT ? "next" : "none", err);
    snprintf(buf, sizeof buf, "%" PRId64, pb->ignore_index);
    if (s == LP_OK) s = add_meta(w, name, "ignore_index", buf, err);
    snprintf(buf, sizeof buf, "%a", pb->temperature);
    if (s == LP_OK) s = add_meta(w, name, "temperature", buf, err);
    if (s == LP_OK)
        s = add_meta(w, name, "empty_mean", pb->empty_mean == LP_EMPTY_NAN ? "nan" : "zero", err);
    if (s == LP_OK) s = add_meta(w, name, "family", family, err);
    if (s == LP_OK) s = add_meta(w, name, "dtype", lp_format_name(pb->fmt), err);
    /* SPEC A7: only the parameters that are set (a suite without them reads as before) */
    const lp_sampling *sp = &pb->sampling;
    snprintf(buf, sizeof buf, "%a", sp->softcap);
    if (s == LP_OK && sp->softcap != 0) s = add_meta(w, name, "softcap", buf, err);
    snprintf(buf, sizeof buf, "%" PRId64, sp->top_k);
    if (s == LP_OK && sp->top_k != 0) s = add_meta(w, name, "top_k", buf, err);
    snprintf(buf, sizeof buf, "%a", sp->top_p);
    if (s == LP_OK && sp->top_p != 0) s = add_meta(w, name, "top_p", buf, err);
    snprintf(buf, sizeof buf, "%a", sp->min_p);
    if (s == LP_OK && sp->min_p != 0) s = add_meta(w, name, "min_p", buf, err);
    return s;
}

void lp_suite_expected_prefix(char *dst, size_t cap, const char *name)
{
    snprintf(dst, cap, "case/%s/expected/", name);
}

lp_status lp_suite_write_header(lp_twriter *w, const char *generator, uint64_t seed,
                                size_t ncases, lp_error *err)
{
    char buf[64];
    lp_status s = lp_twriter_meta(w, "generator", generator, err);
    if (s == LP_OK) s = lp_twriter_meta(w, "format", LP_SUITE_FORMAT, err);
    snprintf(buf, sizeof buf, "%" PRIu64, seed);
    if (s == LP_OK) s = lp_twriter_meta(w, "seed", buf, err);
    snprintf(buf, sizeof buf, "%zu", ncases);
    if (s == LP_OK) s = lp_twriter_meta(w, "cases", buf, err);
    return s;
}

/* ---- reading ---------------------------------------------------------------------------------- */

int lp_suite_case_of(char *dst, size_t cap, const char *tensor_name)
{
    const size_t n = strlen(tensor_name);
    if (strncmp(tensor_name, "case/", 5) != 0 || n < 12 || strcmp(tensor_name + n - 7, "/logits") != 0)
        return 0;
    if (n - 12 >= cap) return -1;
    memcpy(dst, tensor_name + 5, n - 12);
    dst[n - 12] = 0;
    return 1;
}

const lp_tensor *lp_suite_tensor(const lp_tfile *f, const char *name, const char *key)
{
    char k[300];
    snprintf(k, sizeof k, "case/%s/%s", name, key);
    return lp_tfile_find(f, k);
}

const char *lp_suite_meta(const lp_tfile *f, const char *name, const char *key)
{
    char k[256];
    snprintf(k, sizeof k, "case/%s/%s", name, key);
    return lp_tfile_meta(f, k);
}

/* The parameters of case <name> from the metadata (the defaults where a key is absent). */
static lp_status read_params(lp_problem *pb, char *family, size_t fcap, const lp_tfile *f,
                             const char *path, const char *name, lp_error *err)
{
    const char *v;
    if ((v = lp_suite_meta(f, name, "shift"))) {
        if (strcmp(v, "next") == 0) pb->shift = LP_SHIFT_NEXT;
        else if (strcmp(v, "none") == 0) pb->shift = LP_SHIFT_NONE;
        else return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/shift is '%s', not next or none",
                            path, name, v);
    }
    if ((v = lp_suite_meta(f, name, "ignore_index")) && !lp_parse_int64(&pb->ignore_index, v))
        return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/ignore_index '%s' is not an integer",
                       path, name, v);
    if ((v = lp_suite_meta(f, name, "temperature"))) {
        char *end;
        double tau = strtod(v, &end);
        if (end == v || *end || !(tau > 0) || isinf(tau))
            return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/temperature '%s' is not a "
                           "positive finite number", path, name, v);
        pb->temperature = tau;
    }
    if ((v = lp_suite_meta(f, name, "empty_mean"))) {
        if (strcmp(v, "nan") == 0) pb->empty_mean = LP_EMPTY_NAN;
        else if (strcmp(v, "zero") == 0) pb->empty_mean = LP_EMPTY_ZERO;
        else return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/empty_mean is '%s', not nan or zero",
                            path, name, v);
    }
    /* SPEC A7: absent keys are "not set"; values are checked with the problem (lp_problem_check) */
    static const char *const dkeys[3] = {"softcap", "top_p", "min_p"};
    double *dv[3] = {&pb->sampling.softcap, &pb->sampling.top_p, &pb->sampling.min_p};
    for (int k = 0; k < 3; k++) {
        if (!(v = lp_suite_meta(f, name, dkeys[k]))) continue;
        char *end;
        errno = 0;
        *dv[k] = strtod(v, &end);
        if (end == v || *end)
            return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/%s '%s' is not a number", path,
                           name, dkeys[k], v);
        if (*dv[k] == 0 && errno == ERANGE)   /* a non-zero decimal read as 0 would be "not set" */
            return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/%s '%s' underflows to 0 (0 "
                           "means not set)", path, name, dkeys[k], v);
    }
    if ((v = lp_suite_meta(f, name, "top_k")) && !lp_parse_int64(&pb->sampling.top_k, v))
        return lp_fail(err, LP_ERR_INPUT, "%s: metadata case/%s/top_k '%s' is not an integer",
                       path, name, v);
    lp_error se;
    if (lp_sampling_check(&pb->sampling, &se) != LP_OK)
        return lp_fail(err, LP_ERR_INPUT, "%s: metadata of case/%s: %s", path, name,
                       strncmp(se.msg, "problem: ", 9) == 0 ? se.msg + 9 : se.msg);
    if ((v = lp_suite_meta(f, name, "family"))) {
        snprintf(family, fcap, "%s", v);
    } else {
        const size_t n = strcspn(name, "/"), max = fcap ? fcap - 1 : 0;
        snprintf(family, fcap, "%.*s", (int)(n < max ? n : max), name);
    }
    return LP_OK;
}

lp_status lp_suite_read_case(lp_problem *pb, uint8_t **mask_own, char *family, size_t fcap,
                             const lp_tfile *f, const char *path, const char *name, lp_error *err)
{
    *pb = (lp_problem)LP_PROBLEM_INIT;
    *mask_own = NULL;
    const lp_tensor *lt = lp_suite_tensor(f, name, "logits");
    if (!lt) return lp_fail(err, LP_ERR_INPUT, "%s: no case %s (case/%s/logits)", path, name, name);
    const lp_tensor *yt = lp_suite_tensor(f, name, "labels");
    if (!yt) return lp_fail(err, LP_ERR_INPUT, "%s: case %s has logits but no case/%s/labels", path,
                            name, name);
    char wl[300], wy[300], wm[300];
    snprintf(wl, sizeof wl, "%s: case/%s/logits", path, name);
    snprintf(wy, sizeof wy, "%s: case/%s/labels", path, name);
    snprintf(wm, sizeof wm, "%s: case/%s/mask", path, name);
    const lp_bind_names what = {wl, wy, wm};
    lp_status st = lp_bind_tensors(pb, mask_own, lt, yt, lp_suite_tensor(f, name, "mask"), NULL,
                                   &what, err);
    if (st == LP_OK) st = read_params(pb, family, fcap, f, path, name, err);
    if (st != LP_OK) return st;
    lp_error e2 = {LP_OK, ""};
    if (lp_problem_check(pb, &e2) != LP_OK)
        return lp_fail(err, e2.status == LP_ERR_USAGE ? LP_ERR_INPUT : e2.status, "%s: case %s: %s",
                       path, name, e2.msg);
    return LP_OK;
}

int lp_suite_has_expected(const lp_tfile *f, const char *name)
{
    return lp_suite_tensor(f, name, "expected/logp.f64") != NULL;
}

/* Reads expected/<stem>.<fmt> and .hi/.lo into the values' fields. */
static lp_status load_values(lp_value *v, const lp_tfile *f, const char *path, const char *name,
                             const char *stem, int nd, const int64_t *dims, lp_error *err)
{
    for (int k = 0; k < 6; k++) {
        char key[64];
        snprintf(key, sizeof key, "expected/%s.%s", stem, col_suffix[k]);
        const lp_tensor *t = lp_suite_tensor(f, name, key);
        int ok = t && t->dtype == col_dtype[k] && t->ndim == nd;
        for (int i = 0; ok && i < nd; i++) ok = t->dims[i] == dims[i];
        if (!ok)
            return lp_fail(err, LP_ERR_INPUT, "%s: case/%s/%s is missing or not %s of the case's "
                           "shape", path, name, key, lp_dtype_name(col_dtype[k]));
        for (int64_t i = 0; i < t->numel; i++) {
            const char *p = (const char *)t->data;
            switch (k) {
            case 0: memcpy(&v[i].f64, p + 8 * i, 8); break;
            case 1: memcpy(&v[i].f32, p + 4 * i, 4); break;
            case 2: memcpy(&v[i].f16, p + 2 * i, 2); break;
            case 3: memcpy(&v[i].bf16, p + 2 * i, 2); break;
            case 4: memcpy(&v[i].dd.hi, p + 8 * i, 8); break;
            default: memcpy(&v[i].dd.lo, p + 8 * i, 8); break;
            }
        }
    }
    return LP_OK;
}

lp_status lp_suite_read_expected(lp_ref_result *ref, const lp_tfile *f, const char *path,
                                 const char *name, const lp_problem *pb, lp_error *err)
{
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    const int64_t d2[2] = {B, Ts}, d1[1] = {B};
    lp_status st = load_values(ref->logp, f, path, name, "logp", 2, d2, err);
    if (st == LP_OK) st = load_values(ref->sum, f, path, name, "sum", 1, d1, err);
    if (st == LP_OK) st = load_values(ref->mean, f, path, name, "mean", 1, d1, err);
    const lp_tensor *ct = lp_suite_tensor(f, name, "expected/counted");
    const lp_tensor *nt = lp_suite_tensor(f, name, "expected/count");
    if (st == LP_OK && (!ct || ct->dtype != LP_DT_U8 || ct->numel != B * Ts || !nt ||
                        nt->dtype != LP_DT_I64 || nt->numel != B))
        st = lp_fail(err, LP_ERR_INPUT, "%s: case/%s/expected/counted or count is missing or "
                     "malformed", path, name);
    if (st == LP_OK) {
        memcpy(ref->counted, ct->data, (size_t)(B * Ts));
        memcpy(ref->count, nt->data, (size_t)B * 8);
        /* the counted flags must be those of the inputs: a suite whose expected values belong to
         * other inputs is corrupt */
        for (int64_t b = 0; b < B && st == LP_OK; b++)
            for (int64_t ts = 0; ts < Ts && st == LP_OK; ts++)
                if ((ref->counted[b * Ts + ts] != 0) != lp_problem_counted(pb, b, ts))
                    st = lp_fail(err, LP_ERR_INPUT, "%s: case/%s/expected/counted[b=%lld,t=%lld] "
                                 "disagrees with the case's labels and mask", path, name,
                                 (long long)b, (long long)ts);
    }
    return st;
}
