/* report/md.c: DIR/ACCURACY.md (method, tables, figures) and DIR/accuracy_families.md (per
 * kernel x format x family), and the summary table on stdout. The conclusions are written by
 * prose.c from the same figures. Numbers are printed with %.3g (ulp) and %.2e (absolute),
 * so the text is a function of the figures only. */
#include <math.h>

#include "lp_file.h"
#include "lp_format.h"
#include "lp_report.h"

static void ulp_txt(char *b, size_t n, double v, int64_t have)
{
    if (!have || isnan(v)) snprintf(b, n, "-");
    else if (v == 0) snprintf(b, n, "0");
    else if (isinf(v)) snprintf(b, n, "inf");
    else snprintf(b, n, "%.3g", v);
}

static void abs_txt(char *b, size_t n, double v, int64_t have)
{
    if (!have || isnan(v)) snprintf(b, n, "-");
    else if (v == 0) snprintf(b, n, "0");
    else snprintf(b, n, "%.2e", v);
}

static void stat_cells(rp_buf *b, const rp_stat *t, const rp_stat *s, const rp_stat *m)
{
    char c[8][32];
    ulp_txt(c[0], 32, t->max_ulp, t->n_num);
    ulp_txt(c[1], 32, t->p50, t->n_num);
    ulp_txt(c[2], 32, t->p99, t->n_num);
    abs_txt(c[3], 32, t->max_abs, t->n_num);
    ulp_txt(c[4], 32, s->max_ulp, s->n_num);
    ulp_txt(c[5], 32, m->max_ulp, m->n_num);
    rp_printf(b, "| %lld | %s | %s | %s | %s | %s | %s | %lld | %lld ", (long long)t->n, c[0], c[1], c[2],
              c[3], c[4], c[5], (long long)(t->n_mismatch + s->n_mismatch + m->n_mismatch),
              (long long)(s->n_leak + m->n_leak));
}

static const char stat_head[] =
    "| tokens | token max ulp | p50 | p99 | token max abs | sum max ulp | mean max ulp | mism | "
    "leaks ";
static const char stat_rule[] = "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: ";

/* The table per kernel and logits format: over the typical families (ovf 0) or the overflow
 * families alone (ovf 1). */
static void kernel_table(rp_buf *b, const rp_report *r, int ovf)
{
    rp_printf(b, "| kernel | logits %s| scope |\n| --- | --- %s| --- |\n", stat_head, stat_rule);
    for (size_t i = 0; i < r->ks->n; i++) {
        const rp_kernel *rk = &r->ks->v[i];
        for (int f = 0; f < LP_NFORMATS; f++) {
            const rp_stat *t = ovf ? rk->ovf[f] : rk->typ[f];
            if (t[CK_TOKEN].n == 0 && t[CK_SUM].n == 0) continue;
            rp_printf(b, "| `%s` | %s ", rk->k->name, lp_format_name((lp_format)f));
            stat_cells(b, &t[CK_TOKEN], &t[CK_SUM], &t[CK_MEAN]);
            rp_printf(b, "| sampled |\n");
        }
    }
}

static void conventions_table(rp_buf *b, const rp_report *r)
{
    rp_printf(b, "| kernel | masking (declared / observed) | hazardous sequences, leaked | empty mean "
                 "(declared / observed) | out-of-range label | reduction | mean | models |\n"
                 "| --- | --- | ---: | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < r->ks->n; i++) {
        const rp_kernel *rk = &r->ks->v[i];
        const lp_kernel *k = rk->k;
        rp_printf(b, "| `%s` | %s / %s | %lld, %lld | %s / %s | %s | %s in %s | %s | %s |\n", k->name,
                  lp_kmask_name(k->mask), rp_masking_key(&rk->run), (long long)rk->run.hazard_seqs,
                  (long long)rk->run.leaked_seqs, k->empty_mean == LP_EMPTY_NAN ? "nan" : "zero",
                  rp_empty_key(&rk->run), lp_koob_name(k->oob), lp_kreduce_name(k->reduce),
                  lp_format_name(k->reduce == LP_KRED_F64 ? LP_F64 : k->acc), lp_kmean_name(k->mean),
                  k->models ? k->models : "");
    }
}

static int want_len(int64_t L)
{
    return L == 1 || L == 16 || L == 256 || L == 384 || L == 512 || L == 1024 || L == 6144 || L == 8192;
}

static void sweep_table(rp_buf *b, const rp_sweep *sw, int dpo)
{
    rp_printf(b, "| kernel | out | reduction | mean ");
    for (int li = 0; li < sw->nlen; li++)
        if (want_len(sw->len[li])) rp_printf(b, "| L = %lld ", (long long)sw->len[li]);
    rp_printf(b, "|\n| --- | --- | --- | --- ");
    for (int li = 0; li < sw->nlen; li++)
        if (want_len(sw->len[li])) rp_printf(b, "| --- ");
    rp_printf(b, "|\n");
    for (size_t i = 0; i < sw->nk; i++) {
        const rp_sweep_k *sk = &sw->k[i];
        rp_printf(b, "| `%s` | %s | %s | %s ", sk->k->name, lp_format_name(sk->k->out),
                  lp_kreduce_name(sk->k->reduce), lp_kmean_name(sk->k->mean));
        for (int li = 0; li < sw->nlen; li++) {
            if (!want_len(sw->len[li])) continue;
            const rp_sweep_pt *p = &sk->pt[li];
            if (dpo)
                rp_printf(b, "| %.2e / %.2e; %.1e / %.1e ", p->msum_abs, p->mmean_abs, p->msum_rel,
                          p->mmean_rel);
            else
                rp_printf(b, "| %.3g / %.3g ulp; %.1e / %.1e ", p->sum_ulp, p->mean_ulp, p->sum_rel,
                          p->mean_rel);
        }
        rp_printf(b, "|\n");
    }
}

static void logp_table(rp_buf *b, const rp_report *r)
{
    static const int decades[] = {0, -1, -2, -4, -6, -8, -12, -16, -24, -32};
    const int nd = (int)(sizeof decades / sizeof decades[0]);
    rp_printf(b, "| kernel | logits ");
    for (int d = 0; d < nd; d++) rp_printf(b, "| 1e%d ", decades[d]);
    rp_printf(b, "|\n| --- | --- ");
    for (int d = 0; d < nd; d++) rp_printf(b, "| --- ");
    rp_printf(b, "|\n");
    for (size_t i = 0; i < r->ks->n; i++) {
        const rp_kernel *rk = &r->ks->v[i];
        if (!rp_kernel_base(rk->k)) continue;
        const lp_format f = rk->k->storage;
        rp_printf(b, "| `%s` | %s ", rk->k->name, lp_format_name(f));
        for (int d = 0; d < nd; d++) {
            const rp_lbin *lb = &rk->lbins[f][decades[d] - RP_LBIN_LO];
            char u[32];
            ulp_txt(u, sizeof u, lb->max_ulp, lb->n);
            if (lb->n) rp_printf(b, "| %s ulp, %.1e ", u, lb->max_rel);
            else rp_printf(b, "| - ");
        }
        rp_printf(b, "|\n");
    }
}

static const char *const fmts[LP_NFORMATS] = {"f64", "f32", "f16", "bf16"};

/* The sweep's figures of every output format some sweep kernel has. */
static void sweep_figures(rp_buf *b, const rp_sweep *sw, int dpo)
{
    static const char *const stems[2][3] = {{"sweep_ulp", "sweep_rel", "sweep_abs"},
                                            {"dpo_abs", "dpo_rel", NULL}};
    for (int f = 0; f < LP_NFORMATS; f++) {
        int any = 0;
        for (size_t i = 0; i < sw->nk; i++) any |= sw->k[i].k->out == (lp_format)f;
        for (int j = 0; any && j < 3 && stems[dpo][j]; j++)
            rp_printf(b, "![%s %s](figures/%s_%s.svg)\n", stems[dpo][j], fmts[f], stems[dpo][j], fmts[f]);
        if (any) rp_printf(b, "\n");
    }
}

/* Prose, table and figures of the sum-versus-mean sweep (dpo 0) or of the DPO margin (dpo 1). */
static void sweep_section(rp_buf *b, const rp_report *r, int dpo)
{
    const rp_sweep *sw = r->sw;
    if (dpo) rp_prose_dpo(b, r);
    else rp_prose_sweep(b, r);
    if (dpo)
        rp_printf(b, "\nPer length, over %lld quads: the max absolute error of the margin from "
                     "sums / from means, then the median relative error |margin error| / |exact "
                     "margin| from sums / from means.\n\n", (long long)sw->quads);
    else
        rp_printf(b, "\nMax error over %lld sequences per length: err_ulp of the sum / of the "
                     "mean, then the relative error of the sum / of the mean.\n\n", (long long)sw->B);
    sweep_table(b, sw, dpo);
    rp_printf(b, "\n");
    sweep_figures(b, sw, dpo);
}

lp_status rp_markdown_write(const rp_report *r, lp_error *err)
{
    rp_buf b = {0};
    rp_printf(&b, "# Accuracy of the built-in log-prob kernels\n\n");
    rp_printf(&b, "Generated by `lpcert report%s` (seed %llu%s%s%s%s): do not edit by hand. "
                  "Every figure is also in `accuracy.json`; the table per kernel, format and family "
                  "is [accuracy_families.md](accuracy_families.md); the figures are in `figures/`.\n\n",
              r->o->quick ? " --quick" : "", (unsigned long long)r->o->seed,
              r->o->kernels ? ", kernels " : "", r->o->kernels ? r->o->kernels : "",
              r->o->families ? ", families " : "", r->o->families ? r->o->families : "");
    rp_prose_paragraph(&b, r);
    rp_prose_conclusions(&b, r);
    rp_prose_method(&b, r);

    char ovl[256] = "";
    for (int i = 0; rp_overflow_families[i]; i++)
        snprintf(ovl + strlen(ovl), sizeof ovl - strlen(ovl), "%s`%s`", i ? " and " : "",
                 rp_overflow_families[i]);
    rp_printf(&b, "## Every kernel on the standard suite\n\n"
                  "Per kernel and logits format, over the families of the standard suite (corpus "
                  "and generated) but the overflow families %s, which have a table of their own "
                  "below. Errors are SPEC A4's ([docs/SPEC.md](SPEC.md#a4-the-error-measure)), in "
                  "ulps of the exact value in the kernel's output format; `mism` counts class "
                  "mismatches of tokens, sums and means (NaN leaks included), `leaks` the NaN leaks "
                  "alone. The max columns are set by the worst token, most often one with logp "
                  "close to 0 (see that section); p50 and p99 say what is typical.\n\n", ovl);
    kernel_table(&b, r, 0);
    rp_printf(&b, "\n### The overflow families\n\n"
                  "The families %s: logits near the format's largest finite value, with gaps that "
                  "overflow it. A kernel that exponentiates without subtracting the max turns them "
                  "into inf or NaN, and absolute errors scale with logits up to the format's "
                  "largest value; these rows are the kernels' behaviour at the edge of the format, not their typical "
                  "accuracy.\n\n", ovl);
    kernel_table(&b, r, 1);
    rp_printf(&b, "\n## Conventions\n\n"
                  "Declared by each kernel (impl/) and observed by `lpcert check`'s detection: masking "
                  "is `mul` when a sum turns NaN because of a masked row (hazardous: NaN, +inf, all "
                  "-inf, or -inf at the gathered or dummy label), `assign` when no hazardous sequence "
                  "leaks; the empty mean is what the kernel returns for a sequence with no counted "
                  "token.\n\n");
    conventions_table(&b, r);

    rp_printf(&b, "\n## Sum versus mean against sequence length\n\n");
    sweep_section(&b, r, 0);
    rp_printf(&b, "### The DPO margin\n\n");
    sweep_section(&b, r, 1);

    rp_printf(&b, "## logp close to 0\n\n");
    rp_prose_near_zero(&b, r);
    rp_printf(&b, "\nMax per-token error in the decade |logp| in [1eK, 1e(K+1)) (standard suite and "
                  "near_zero, logits in the kernel's storage format): err_ulp, and the relative "
                  "error |y - x| / |x|.\n\n");
    logp_table(&b, r);
    rp_printf(&b, "\n");
    for (int f = 0; f < LP_NFORMATS; f++)
        rp_printf(&b, "![error vs logp, ulp, %s](figures/logp_ulp_%s.svg)\n"
                      "![error vs logp, absolute, %s](figures/logp_abs_%s.svg)\n\n",
                  fmts[f], fmts[f], fmts[f], fmts[f]);
    rp_processed_markdown(&b, r);
    rp_gradient_markdown(&b, r);
    rp_printf(&b, "\n## Error histograms\n\n");
    for (int f = 0; f < LP_NFORMATS; f++)
        rp_printf(&b, "![histogram %s](figures/hist_%s.svg)\n", fmts[f], fmts[f]);

    char path[4300];
    snprintf(path, sizeof path, "%s/ACCURACY.md", r->o->out_dir);
    lp_status s = b.oom ? lp_fail(err, LP_ERR_NOMEM, "out of memory") : lp_write_file_atomic(path, b.p, b.n, err);
    lp_text_free(&b);
    if (s == LP_OK) s = rp_families_write(r, err);
    return s;
}

/* ---- per kernel x format x family ------------------------------------------------------------- */

lp_status rp_families_write(const rp_report *r, lp_error *err)
{
    rp_buf b = {0};
    rp_printf(&b, "# Accuracy per kernel, logits format and family\n\n"
                  "Generated by `lpcert report` with [ACCURACY.md](ACCURACY.md), which states the "
                  "method. Families `corpus.*` are the committed vectors, `near_zero` and `pair_exh` "
                  "the report's own; `scope` is `exhaustive` where the tokens are every input of "
                  "the domain (%s), else `sampled` (a lower bound of the worst case).\n\n",
              rp_exhaustive_domain);
    for (size_t i = 0; i < r->ks->n; i++) {
        const rp_kernel *rk = &r->ks->v[i];
        const ck_run *run = &rk->run;
        rp_printf(&b, "## `%s`\n\n| family | logits %s| scope |\n| --- | --- %s| --- |\n", rk->k->name,
                  stat_head, stat_rule);
        for (size_t g = 0; g < run->ng; g++) {
            if (run->g[g].out != CK_TOKEN) continue;
            const rp_stat *st[CK_NOUT] = {&rk->gstat[g], NULL, NULL};
            static const rp_stat none;
            for (size_t h = 0; h < run->ng; h++)
                if (run->g[h].out != CK_TOKEN && strcmp(run->g[h].cls, run->g[g].cls) == 0)
                    st[run->g[h].out] = &rk->gstat[h];
            const char *sl = strrchr(run->g[g].cls, '/');
            rp_printf(&b, "| %.*s | %s ", (int)(sl - run->g[g].cls), run->g[g].cls, sl + 1);
            stat_cells(&b, st[0], st[1] ? st[1] : &none, st[2] ? st[2] : &none);
            rp_printf(&b, "| %s |\n", rp_class_exhaustive(r->cs, run->g[g].cls) ? "exhaustive" : "sampled");
        }
        rp_printf(&b, "\n");
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/accuracy_families.md", r->o->out_dir);
    lp_status s = b.oom ? lp_fail(err, LP_ERR_NOMEM, "out of memory") : lp_write_file_atomic(path, b.p, b.n, err);
    lp_text_free(&b);
    return s;
}

/* ---- the summary on stdout -------------------------------------------------------------------- */

static const char *const telling[] = {
    "naive_f32", "twopass_f32", "online_f32", "lse_f32", "accurate_f32", "twopass_bf16_acc32",
    "twopass_bf16_acc16", "lse_bf16_acc32", "lse_bf16_acc16", "accurate_bf16_acc32",
    "accurate_bf16_acc16", "twopass_f16_acc16", "twopass_f32_mulmask", "twopass_f32_emptyzero",
    "twopass_bf16_acc32_runmean", NULL};

void rp_summary_print(FILE *f, const rp_report *r)
{
    int shown = 0;
    fprintf(f, "%-28s %6s %10s %10s %10s %10s %5s %5s  %-8s %s\n", "kernel", "logits", "tok max",
            "tok p99", "sum max", "mean max", "mism", "leaks", "masking", "empty mean");
    for (int pass = 0; pass < 2 && !shown; pass++)
        for (size_t i = 0; i < r->ks->n; i++) {
            const rp_kernel *rk = &r->ks->v[i];
            int pick = pass == 1;
            for (int j = 0; telling[j] && !pick; j++) pick = strcmp(telling[j], rk->k->name) == 0;
            if (!pick || (pass == 1 && shown >= 20)) continue;
            const lp_format d = rk->k->storage;
            const rp_stat *t = rk->tot[d];
            char c[4][32];
            ulp_txt(c[0], 32, t[CK_TOKEN].max_ulp, t[CK_TOKEN].n_num);
            ulp_txt(c[1], 32, t[CK_TOKEN].p99, t[CK_TOKEN].n_num);
            ulp_txt(c[2], 32, t[CK_SUM].max_ulp, t[CK_SUM].n_num);
            ulp_txt(c[3], 32, t[CK_MEAN].max_ulp, t[CK_MEAN].n_num);
            fprintf(f, "%-28s %6s %10s %10s %10s %10s %5lld %5lld  %-8s %s\n", rk->k->name,
                    lp_format_name(d), c[0], c[1], c[2], c[3],
                    (long long)(t[CK_TOKEN].n_mismatch + t[CK_SUM].n_mismatch + t[CK_MEAN].n_mismatch),
                    (long long)(t[CK_SUM].n_leak + t[CK_MEAN].n_leak), rp_masking_key(&rk->run),
                    rp_empty_key(&rk->run));
            shown++;
        }
    fprintf(f, "(max/p99 err in ulps of the kernel's output format, standard suite, logits in the "
               "kernel's storage format; %zu kernels in all)\n", r->ks->n);
    rp_prose_summary(f, r);
    fprintf(f, "full report: %s/ACCURACY.md\n", r->o->out_dir);
}
