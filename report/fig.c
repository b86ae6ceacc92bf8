/* report/fig.c: the figures of the report (DIR/figures, one SVG each), from the same arrays the JSON
 * and the Markdown print:
 *   hist_<dtype>.svg        err_ulp histogram of the per-token outputs, standard suite, base kernels
 *   logp_ulp_<dtype>.svg    max err_ulp against the exact |logp|, per decade (near_zero included)
 *   logp_abs_<dtype>.svg    max absolute error against |logp|
 *   sweep_{ulp,rel,abs}_<out>.svg   error of the sum (solid) and the mean (dashed) against length
 *   dpo_{abs,rel}_<out>.svg          error of the DPO margin from sums (solid) and means (dashed)
 *   grad_label.svg          the backward kernels' label element error against 1 - p_y (gradient.c)
 * Each kernel has its colour and marker shape (and in the token figures a dash pattern), so
 * series stay distinguishable where they cross or coincide; the legend names coinciding ones. */
#include <math.h>

#include "lp_format.h"
#include "lp_report.h"

#define MAXS 16

/* 1 if k is the plain member of its family for storage f: "<family>_<f>" or "<family>_<f>_accNN". */
int rp_kernel_base(const lp_kernel *k)
{
    char a[64], b[64], c[64];
    const char *fam = lp_kfamily_name(k->family), *st = lp_format_name(k->storage);
    snprintf(a, sizeof a, "%s_%s", fam, st);
    snprintf(b, sizeof b, "%s_%s_acc32", fam, st);
    snprintf(c, sizeof c, "%s_%s_acc16", fam, st);
    return strcmp(k->name, a) == 0 || strcmp(k->name, b) == 0 || strcmp(k->name, c) == 0;
}

typedef struct figctx {
    const rp_report *r;
    char dir[4096];
} figctx;

static lp_status emit(const figctx *fc, const char *name, rp_plot *p, lp_error *err)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", fc->dir, name);
    return rp_svg_write(path, p, err);
}

static lp_status fig_tokens(const figctx *fc, lp_format f, lp_error *err)
{
    const rp_kernels *ks = fc->r->ks;
    static double hx[MAXS][RP_NHBINS], hy[MAXS][RP_NHBINS];
    static double lx[MAXS][RP_NLBINS], lu[MAXS][RP_NLBINS], la[MAXS][RP_NLBINS];
    static char names[MAXS][96];
    rp_series sh[MAXS], su[MAXS], sa[MAXS];
    int ns = 0;
    for (size_t i = 0; i < ks->n && ns < MAXS; i++) {
        const rp_kernel *rk = &ks->v[i];
        if (rk->k->storage != f || !rp_kernel_base(rk->k)) continue;
        const int64_t *h = rk->hist[f][CK_TOKEN];
        int64_t tot = 0, cr = 0;
        for (int bn = 0; bn < RP_NHBINS; bn++) tot += h[bn];
        for (int bn = 0; bn < RP_NHBINS && rp_hist_edge(bn) <= 0.5; bn++) cr += h[bn];
        /* the first point is the bin [0, 2^-10]: the exact results (err_ulp = 0) and the bin
         * (0, 2^-10] together, as the note says */
        int n = 0;
        for (int bn = 1; bn < RP_NHBINS; bn++) {
            const int64_t c = h[bn] + (bn == 1 ? h[0] : 0);
            hx[ns][n] = rp_hist_edge(bn);
            hy[ns][n++] = tot ? (double)c / (double)tot : 0;
        }
        snprintf(names[ns], sizeof names[ns], "%s (%.1f%% <= 0.5 ulp)", rk->k->name,
                 tot ? 100.0 * (double)cr / (double)tot : 0.0);
        sh[ns] = (rp_series){names[ns], ns, ns % 4, ns + 1, n, hx[ns], hy[ns]};
        int m = 0;
        for (int bn = 0; bn < RP_NLBINS; bn++) {
            const rp_lbin *lb = &rk->lbins[f][bn];
            if (!lb->n) continue;
            lx[ns][m] = pow(10, bn + RP_LBIN_LO + 0.5);
            lu[ns][m] = lb->max_ulp;
            la[ns][m++] = lb->max_abs;
        }
        su[ns] = (rp_series){rk->k->name, ns, ns % 4, ns + 1, m, lx[ns], lu[ns]};
        sa[ns] = (rp_series){rk->k->name, ns, ns % 4, ns + 1, m, lx[ns], la[ns]};
        ns++;
    }
    if (ns == 0) return LP_OK;
    const char *fn = lp_format_name(f);
    char title[160], name[64];
    snprintf(title, sizeof title, "Per-token error histogram, %s logits (standard suite)", fn);
    rp_plot p = {title, "err_ulp (upper edge of the bin; bins are powers of 2)", "fraction of tokens",
                 2, 10, 0, 0, 0, 0, sh, ns,
                 "first point: err_ulp in [0, 2^-10], exact results included; legend: share "
                 "correctly rounded (err_ulp <= 0.5)", 0, 0};
    snprintf(name, sizeof name, "hist_%s.svg", fn);
    lp_status s = emit(fc, name, &p, err);
    snprintf(title, sizeof title, "Max per-token error (ulp) against |logp|, %s logits", fn);
    /* the axis ends near 2^p ulp, a relative error of 1 (no correct digit): larger errors say
     * nothing more and would squash the range of a few ulps */
    const double cap = ldexp(1.0, lp_format_get(f)->prec);
    char qnote[200];
    snprintf(qnote, sizeof qnote, "standard suite and near_zero; y axis cut above 2^%d ulp (relative "
             "error 1: no correct digit) and below 0.001 ulp, arrows mark points beyond",
             lp_format_get(f)->prec);
    rp_plot q = {title, "exact |logp| (decade bins)", "max err_ulp", 10, 10, 0, 0, 0, 0, su, ns,
                 qnote, cap, 1e-3};
    snprintf(name, sizeof name, "logp_ulp_%s.svg", fn);
    if (s == LP_OK) s = emit(fc, name, &q, err);
    snprintf(title, sizeof title, "Max per-token absolute error against |logp|, %s logits", fn);
    rp_plot a = {title, "exact |logp| (decade bins)", "max |y - x|", 10, 10, 0, 0, 0, 0, sa, ns,
                 "the same tokens: the absolute error stays near u, whatever |logp|", 0, 0};
    snprintf(name, sizeof name, "logp_abs_%s.svg", fn);
    if (s == LP_OK) s = emit(fc, name, &a, err);
    return s;
}

enum { SW_ULP, SW_REL, SW_ABS, DPO_ABS, DPO_REL, NSWF };

static double sweep_val(const rp_sweep_pt *pt, int what, int mean)
{
    switch (what) {
    case SW_ULP: return mean ? pt->mean_ulp : pt->sum_ulp;
    case SW_REL: return mean ? pt->mean_rel : pt->sum_rel;
    case SW_ABS: return mean ? pt->mean_abs : pt->sum_abs;
    case DPO_ABS: return mean ? pt->mmean_abs : pt->msum_abs;
    default: return mean ? pt->mmean_rel : pt->msum_rel;
    }
}

static lp_status fig_sweep(const figctx *fc, lp_format f, lp_error *err)
{
    const rp_sweep *sw = fc->r->sw;
    static double xs[RP_MAXLEN], ys[NSWF][2 * MAXS][RP_MAXLEN];
    rp_series ss[NSWF][2 * MAXS];
    int ns = 0;
    for (int li = 0; li < sw->nlen; li++) xs[li] = (double)sw->len[li];
    for (size_t i = 0; i < sw->nk && ns < 2 * MAXS; i++) {
        const rp_sweep_k *sk = &sw->k[i];
        if (sk->k->out != f) continue;
        for (int w = 0; w < NSWF; w++)
            for (int mean = 0; mean < 2; mean++) {
                for (int li = 0; li < sw->nlen; li++) ys[w][ns + mean][li] = sweep_val(&sk->pt[li], w, mean);
                ss[w][ns + mean] = (rp_series){mean ? "" : sk->k->name, ns / 2, mean, ns / 2 + 1,
                                               sw->nlen, xs, ys[w][ns + mean]};
            }
        ns += 2;
    }
    if (ns == 0) return LP_OK;
    /* the legend shows each kernel once: its sum line, followed by its unnamed mean line */
    static const char *const files[NSWF] = {"sweep_ulp", "sweep_rel", "sweep_abs", "dpo_abs", "dpo_rel"};
    static const char *const ylab[NSWF] = {"max err_ulp", "max |y - x| / |x|", "max |y - x|",
                                           "max |margin error|", "median |margin error| / |margin|"};
    static const char *const what[NSWF] = {"ulp", "relative", "absolute", "absolute", "relative"};
    lp_status s = LP_OK;
    for (int w = 0; w < NSWF && s == LP_OK; w++) {
        const rp_series *shown = ss[w];
        const int n = ns;
        char title[160], note[200], name[64];
        if (w < DPO_ABS)
            snprintf(title, sizeof title, "Sum vs mean, %s outputs: %s error against length",
                     lp_format_name(f), what[w]);
        else
            snprintf(title, sizeof title, "DPO margin, %s outputs: %s error against length",
                     lp_format_name(f), what[w]);
        snprintf(note, sizeof note, "solid: %s, dashed: %s; %s over %lld %s, V = %lld",
                 w < DPO_ABS ? "sum" : "margin from sums", w < DPO_ABS ? "mean" : "margin from means",
                 w == DPO_REL ? "median" : "max", (long long)(w < DPO_ABS ? sw->B : sw->quads), w < DPO_ABS ? "sequences" : "quads",
                 (long long)sw->V);
        rp_plot p = {title, "tokens per sequence", ylab[w], 2, 10, 0, 0, 0, 0, shown, n, note, 0, 0};
        snprintf(name, sizeof name, "%s_%s.svg", files[w], lp_format_name(f));
        s = emit(fc, name, &p, err);
    }
    return s;
}

lp_status rp_figures_write(const rp_report *r, lp_error *err)
{
    static figctx fc;
    fc.r = r;
    snprintf(fc.dir, sizeof fc.dir, "%s/figures", r->o->out_dir);
    lp_status s = LP_OK;
    for (int f = 0; f < LP_NFORMATS && s == LP_OK; f++) s = fig_tokens(&fc, (lp_format)f, err);
    for (int f = 0; f < LP_NFORMATS && s == LP_OK; f++) s = fig_sweep(&fc, (lp_format)f, err);
    if (s == LP_OK) s = rp_gradient_figure(r, err);
    return s;
}
