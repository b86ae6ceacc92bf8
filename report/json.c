/* report/json.c: the JSON file of `lpcert report`: every figure of the Markdown and the SVGs,
 * and the per-class groups behind them. Numbers are cJSON's shortest round-trip text; a NaN or an
 * infinity (no value) is null. */
#include <cjson/cJSON.h>
#include <math.h>

#include "lp_file.h"
#include "lp_format.h"
#include "lp_report.h"

/* Figures keep 6 significant digits: enough to read, and stable against the last bits of the
 * reference's double-double, which two correct evaluations may give differently (lpcert.h).
 * Counts are exact (below 2^53: cJSON prints integers up to 1e15 in full). One rule for every
 * section of the report (processed.c, gradient.c). */
struct cJSON *rp_json_fig(double v)
{
    char t[32];
    snprintf(t, sizeof t, "%.6g", v);
    return cJSON_CreateNumber(isfinite(v) ? strtod(t, NULL) : v);
}

struct cJSON *rp_json_count(int64_t n) { return cJSON_CreateNumber((double)n); }

static void num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, rp_json_fig(v)); }
static void cnt(cJSON *o, const char *k, int64_t n) { cJSON_AddItemToObject(o, k, rp_json_count(n)); }

static cJSON *stat_json(const rp_stat *st)
{
    cJSON *o = cJSON_CreateObject();
    cnt(o, "n", (int64_t)(st->n));
    cnt(o, "numbers", (int64_t)(st->n_num));
    num(o, "max_ulp", st->max_ulp);
    num(o, "p50_ulp", st->p50);
    num(o, "p99_ulp", st->p99);
    num(o, "max_abs", st->max_abs);
    cnt(o, "class_mismatches", (int64_t)(st->n_mismatch));
    cnt(o, "nan_leaks", (int64_t)(st->n_leak));
    return o;
}

int rp_class_exhaustive(const rp_cases *cs, const char *cls)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].cls, cls) == 0) return cs->v[i].exhaustive;
    return 0;
}

static cJSON *kernel_json(const rp_report *r, const rp_kernel *rk)
{
    const lp_kernel *k = rk->k;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "family", lp_kfamily_name(k->family));
    cJSON_AddStringToObject(o, "storage", lp_format_name(k->storage));
    cJSON_AddStringToObject(o, "accumulation", lp_format_name(k->acc));
    cJSON_AddStringToObject(o, "output", lp_format_name(k->out));
    cJSON_AddStringToObject(o, "reduction", lp_kreduce_name(k->reduce));
    cJSON_AddStringToObject(o, "mean", lp_kmean_name(k->mean));
    cJSON_AddStringToObject(o, "models", k->models ? k->models : "");
    cJSON_AddStringToObject(o, "bound", lp_kernel_bound_text(k));
    cJSON *dc = cJSON_AddObjectToObject(o, "declared");
    cJSON_AddStringToObject(dc, "masking", lp_kmask_name(k->mask));
    cJSON_AddStringToObject(dc, "empty_mean", k->empty_mean == LP_EMPTY_NAN ? "nan" : "zero");
    cJSON_AddStringToObject(dc, "out_of_range_label", lp_koob_name(k->oob));
    cJSON *ob = cJSON_AddObjectToObject(o, "observed");
    cJSON_AddStringToObject(ob, "masking", rp_masking_key(&rk->run));
    cnt(ob, "hazard_sequences", (int64_t)(rk->run.hazard_seqs));
    cnt(ob, "leaked_sequences", (int64_t)(rk->run.leaked_seqs));
    cJSON_AddStringToObject(ob, "empty_mean", rp_empty_key(&rk->run));
    cnt(ob, "empty_sequences", (int64_t)(rk->run.empty_seqs));
    cnt(o, "cases", (int64_t)(rk->cases));
    cnt(o, "cases_not_run", (int64_t)(rk->kernel_errors));
    if (rk->kernel_errors) cJSON_AddStringToObject(o, "first_not_run", rk->first_error);

    cJSON *tot = cJSON_AddObjectToObject(o, "standard_suite");
    cJSON *all = cJSON_AddObjectToObject(tot, "all");
    for (int out = 0; out < CK_NOUT; out++) cJSON_AddItemToObject(all, ck_output_name(out), stat_json(&rk->all[out]));
    for (int f = 0; f < LP_NFORMATS; f++) {
        if (rk->tot[f][CK_TOKEN].n == 0) continue;
        cJSON *d = cJSON_AddObjectToObject(tot, lp_format_name((lp_format)f));
        for (int out = 0; out < CK_NOUT; out++)
            cJSON_AddItemToObject(d, ck_output_name(out), stat_json(&rk->tot[f][out]));
        /* the two tables of ACCURACY.md: the typical families, and the overflow families */
        cJSON *ty = cJSON_AddObjectToObject(d, "without_overflow_families");
        for (int out = 0; out < CK_NOUT; out++)
            cJSON_AddItemToObject(ty, ck_output_name(out), stat_json(&rk->typ[f][out]));
        if (rk->ovf[f][CK_TOKEN].n || rk->ovf[f][CK_SUM].n) {
            cJSON *ov = cJSON_AddObjectToObject(d, "overflow_families");
            for (int out = 0; out < CK_NOUT; out++)
                cJSON_AddItemToObject(ov, ck_output_name(out), stat_json(&rk->ovf[f][out]));
        }
        cJSON *h = cJSON_AddArrayToObject(d, "token_histogram");
        for (int bn = 0; bn < RP_NHBINS; bn++) {
            cJSON *e = cJSON_CreateObject();
            num(e, "ulp_le", rp_hist_edge(bn));
            cnt(e, "count", (int64_t)(rk->hist[f][CK_TOKEN][bn]));
            cJSON_AddItemToArray(h, e);
        }
    }
    cJSON *lb = cJSON_AddObjectToObject(o, "token_error_by_logp");
    for (int f = 0; f < LP_NFORMATS; f++) {
        cJSON *arr = NULL;
        for (int bn = 0; bn < RP_NLBINS; bn++) {
            const rp_lbin *b = &rk->lbins[f][bn];
            if (!b->n) continue;
            if (!arr) arr = cJSON_AddArrayToObject(lb, lp_format_name((lp_format)f));
            cJSON *e = cJSON_CreateObject();
            num(e, "abs_logp_ge", pow(10, bn + RP_LBIN_LO));
            cnt(e, "n", (int64_t)(b->n));
            num(e, "max_ulp", b->max_ulp);
            num(e, "max_abs", b->max_abs);
            num(e, "max_rel", b->max_rel);
            cJSON_AddItemToArray(arr, e);
        }
    }
    cJSON *gs = cJSON_AddArrayToObject(o, "groups");
    for (size_t i = 0; i < rk->run.ng; i++) {
        const ck_group *g = &rk->run.g[i];
        cJSON *e = stat_json(&rk->gstat[i]);
        cJSON_AddStringToObject(e, "class", g->cls);
        cJSON_AddStringToObject(e, "output", ck_output_name(g->out));
        cJSON_AddStringToObject(e, "scope", g->out == CK_TOKEN && rp_class_exhaustive(r->cs, g->cls)
                                            ? "exhaustive" : "sampled");
        cJSON_AddItemToArray(gs, e);
    }
    return o;
}

static double pt_field(const rp_sweep_pt *p, size_t j)
{
    const double v[] = {p->sum_ulp, p->mean_ulp, p->sum_ulp50, p->mean_ulp50, p->sum_abs,
                        p->mean_abs, p->sum_rel, p->mean_rel, p->msum_abs, p->mmean_abs,
                        p->msum_rel, p->mmean_rel, p->msum_abs50, p->mmean_abs50, p->margin_sum,
                        p->margin_mean};
    return j < sizeof v / sizeof v[0] ? v[j] : (double)NAN;
}

static cJSON *sweep_json(const rp_sweep *sw)
{
    cJSON *o = cJSON_CreateObject();
    cnt(o, "V", (int64_t)(sw->V));
    cnt(o, "sequences_per_length", (int64_t)(sw->B));
    cnt(o, "dpo_quads_per_length", (int64_t)(sw->quads));
    num(o, "mean_exact_logp", sw->mean_logp);
    cJSON *ls = cJSON_AddArrayToObject(o, "lengths");
    for (int li = 0; li < sw->nlen; li++) cJSON_AddItemToArray(ls, cJSON_CreateNumber((double)sw->len[li]));
    cJSON *ks = cJSON_AddArrayToObject(o, "kernels");
    static const char *const keys[] = {"sum_max_ulp", "mean_max_ulp", "sum_p50_ulp", "mean_p50_ulp",
                                       "sum_max_abs", "mean_max_abs", "sum_max_rel", "mean_max_rel",
                                       "margin_sum_max_abs", "margin_mean_max_abs",
                                       "margin_sum_p50_rel", "margin_mean_p50_rel",
                                       "margin_sum_p50_abs", "margin_mean_p50_abs",
                                       "margin_sum_p50_exact", "margin_mean_p50_exact"};
    for (size_t i = 0; i < sw->nk; i++) {
        const rp_sweep_k *sk = &sw->k[i];
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "name", sk->k->name);
        cJSON_AddStringToObject(k, "output", lp_format_name(sk->k->out));
        cJSON_AddStringToObject(k, "accumulation", lp_format_name(sk->k->acc));
        cJSON_AddStringToObject(k, "reduction", lp_kreduce_name(sk->k->reduce));
        cJSON_AddStringToObject(k, "mean", lp_kmean_name(sk->k->mean));
        cnt(k, "sequences_not_numbers", (int64_t)(sk->nonfinite));
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
            cJSON *arr = cJSON_AddArrayToObject(k, keys[j]);
            for (int li = 0; li < sw->nlen; li++)
                cJSON_AddItemToArray(arr, rp_json_fig(pt_field(&sk->pt[li], j)));
        }
        cJSON_AddItemToArray(ks, k);
    }
    return o;
}

lp_status rp_json_write(const rp_report *r, lp_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "generator", "lpcert report");
    cJSON *op = cJSON_AddObjectToObject(root, "options");
    num(op, "seed", (double)r->o->seed);
    cJSON_AddBoolToObject(op, "quick", r->o->quick);
    cJSON_AddStringToObject(op, "kernels", r->o->kernels ? r->o->kernels : "all");
    cJSON_AddStringToObject(op, "families", r->o->families ? r->o->families : "all");
    cJSON *su = cJSON_AddObjectToObject(root, "suite");
    cnt(su, "cases", (int64_t)(r->cs->n));
    cnt(su, "scored_tokens", (int64_t)(r->cs->tokens));
    cnt(su, "logits", (int64_t)(r->cs->logits));
    cJSON_AddStringToObject(su, "exhaustive_domain", rp_exhaustive_domain);
    cJSON *of = cJSON_AddArrayToObject(su, "overflow_families");
    for (int i = 0; rp_overflow_families[i]; i++)
        cJSON_AddItemToArray(of, cJSON_CreateString(rp_overflow_families[i]));
    cJSON *ks = cJSON_AddArrayToObject(root, "kernels");
    for (size_t i = 0; i < r->ks->n; i++) cJSON_AddItemToArray(ks, kernel_json(r, &r->ks->v[i]));
    cJSON_AddItemToObject(root, "sum_vs_mean", sweep_json(r->sw));
    rp_processed_json(root, r);
    rp_gradient_json(root, r);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", r->o->json);
    lp_status s = lp_write_line_atomic(r->o->json, text, err);
    free(text);
    return s;
}
