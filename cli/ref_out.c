/* cli/ref_out.c: reference results as safetensors columns (the layout of `lpcert ref`). */
#include "cli.h"
#include "lp_tensor.h"

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
    struct { const char *suf; lp_dtype dt; const void *p; } t[] = {
        {"f64", LP_DT_F64, c->f64}, {"f32", LP_DT_F32, c->f32}, {"f16", LP_DT_F16, c->f16},
        {"bf16", LP_DT_BF16, c->bf16}, {"hi", LP_DT_F64, c->hi}, {"lo", LP_DT_F64, c->lo}};
    for (size_t i = 0; i < sizeof t / sizeof t[0] && s == LP_OK; i++) {
        snprintf(name, sizeof name, "%s%s.%s", prefix, stem, t[i].suf);
        s = lp_twriter_add(w, name, t[i].dt, nd, dims, t[i].p, err);
    }
    return s;
}

void lp_cli_ref_cols_free(lp_ref_cols *k)
{
    if (!k) return;
    cols_free(&k->tok); cols_free(&k->sum); cols_free(&k->mean); cols_free(&k->tm);
    free(k);
}

lp_status lp_cli_ref_tensors(lp_twriter *w, const char *prefix, const lp_ref_result *r,
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
