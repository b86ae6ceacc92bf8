/* cli/report_prose.c: the written conclusions of ACCURACY.md, derived from the measured figures.
 * Every number in a sentence is read from the report's arrays, and every comparison ("smaller",
 * "grows", "the same to within a factor 2") is decided here from those numbers, so the text stays
 * true when the kernels, the suite or the reference change. A statement whose kernels were not
 * selected is left out. */
#include <math.h>
#include <stddef.h>

#include "lp_format.h"
#include "report.h"

static const rp_kernel *kern(const rp_report *r, const char *name)
{
    for (size_t i = 0; i < r->ks->n; i++)
        if (strcmp(r->ks->v[i].k->name, name) == 0) return &r->ks->v[i];
    return NULL;
}

static int len_index(const rp_sweep *sw, int64_t L)
{
    for (int li = 0; li < sw->nlen; li++)
        if (sw->len[li] == L) return li;
    return -1;
}

/* "3.2 times smaller", "about the same (x1.3)", "4.1 times larger": a compared to b. */
static void compare(char *buf, size_t n, double a, double b)
{
    if (!(a > 0) || !(b > 0)) snprintf(buf, n, "%s", a == b ? "the same" : a < b ? "smaller" : "larger");
    else if (a < b / 2) snprintf(buf, n, "%.3g times smaller", b / a);
    else if (a > 2 * b) snprintf(buf, n, "%.3g times larger", a / b);
    else snprintf(buf, n, "about the same (ratio %.2f)", a / b);
}

/* The max of one figure of a sweep kernel over the lengths in [lo, hi]. */
static double sweep_max(const rp_sweep_k *sk, const rp_sweep *sw, int64_t lo, int64_t hi, size_t off)
{
    double m = 0;
    for (int li = 0; li < sw->nlen; li++)
        if (sw->len[li] >= lo && sw->len[li] <= hi)
            m = fmax(m, *(const double *)((const char *)&sk->pt[li] + off));
    return m;
}
#define PT_OFF(field) offsetof(rp_sweep_pt, field)

/* ---- sum versus mean -------------------------------------------------------------------------- */

static void sum_mean_kernel(rp_buf *b, const rp_sweep *sw, const char *name, int li)
{
    const rp_sweep_k *sk = rp_sweep_find(sw, name);
    if (!sk) return;
    const rp_sweep_pt *p = &sk->pt[li];
    const int64_t L = sw->len[li];
    char c1[64], c2[64];
    compare(c1, sizeof c1, p->mean_ulp, p->sum_ulp);
    compare(c2, sizeof c2, p->mean_rel, p->sum_rel);
    rp_printf(b, "  - `%s` (%s output, %s reduction in %s, mean by %s) at L = %lld: sum %.3g ulp, "
                 "mean %.3g ulp (%s); relative error sum %.2e, mean %.2e (%s).\n",
              name, lp_format_name(sk->k->out), lp_kreduce_name(sk->k->reduce),
              lp_format_name(sk->k->reduce == LP_KRED_F64 ? LP_F64 : sk->k->acc),
              lp_kmean_name(sk->k->mean), (long long)L, p->sum_ulp, p->mean_ulp, c1, p->sum_rel,
              p->mean_rel, c2);
}

void rp_prose_sweep(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    if (sw->nk == 0 || sw->nlen == 0) {
        rp_printf(b, "No twopass or accurate kernel with default conventions was selected: no sweep.\n");
        return;
    }
    const int last = sw->nlen - 1;
    const int64_t Lmax = sw->len[last];
    rp_printf(b, "%lld sequences per length (L = 1 to %lld, %d lengths), V = %lld, logits multiples of "
                 "1/8 in [-8.125, 8.125] (exact in every format), the label the row's argmax half "
                 "of the time: the mean exact logp is %.3f. Per length, the max over the sequences "
                 "of the error of the kernel's sum and mean against the correctly rounded exact "
                 "ones.\n\n",
              (long long)sw->B, (long long)Lmax, sw->nlen, (long long)sw->V, sw->mean_logp);
    static const char *const show[] = {"twopass_f32", "twopass_f32_pairwise", "twopass_f32_runmean",
                                       "twopass_bf16_acc32", "twopass_bf16_acc32_runmean",
                                       "twopass_bf16_acc16", "twopass_bf16_acc16_pairwise",
                                       "twopass_f16_acc16", "accurate_bf16_acc16", NULL};
    rp_printf(b, "At the longest length:\n\n");
    for (int i = 0; show[i]; i++) sum_mean_kernel(b, sw, show[i], last);
}

/* ---- the DPO margin --------------------------------------------------------------------------- */

static void dpo_kernel(rp_buf *b, const rp_sweep *sw, const char *name, int li)
{
    const rp_sweep_k *sk = rp_sweep_find(sw, name);
    if (!sk) return;
    const rp_sweep_pt *p = &sk->pt[li];
    char c[64];
    compare(c, sizeof c, p->mmean_rel, p->msum_rel);
    rp_printf(b, "  - `%s` at L = %lld: margin from sums: max error %.2e, %.2e of its size (median "
                 "|margin| %.3g); from means: max error %.2e, %.2e of its size (median |margin| "
                 "%.3g). Relative to the margin, the mean's error is %s.\n",
              name, (long long)sw->len[li], p->msum_abs, p->msum_rel, p->margin_sum, p->mmean_abs,
              p->mmean_rel, p->margin_mean, c);
}

void rp_prose_dpo(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    if (sw->nk == 0) return;
    rp_printf(b, "Each length has %lld quads (policy and reference log-probs of a chosen and a "
                 "rejected sequence; the policy's logits are the reference's plus -1/8, 0 or +1/8, so "
                 "each log-ratio is a small difference of two large sums, as in training). The "
                 "margin `(pi_c - r_c) - (pi_r - r_r)` is computed in the kernel's output format "
                 "from its sums and from its means, and compared with the exact margin.\n\n",
              (long long)sw->quads);
    static const char *const show[] = {"twopass_f32", "twopass_bf16_acc32", "twopass_bf16_acc16",
                                       "twopass_bf16_acc32_sum64", NULL};
    for (int i = 0; show[i]; i++) dpo_kernel(b, sw, show[i], sw->nlen - 1);
}

/* ---- logp close to 0 -------------------------------------------------------------------------- */

/* The worst relative error of a kernel over tokens with |logp| < 10^dec, and where. */
static double rel_below(const rp_kernel *rk, lp_format f, int dec, double *ulp)
{
    double m = 0;
    *ulp = 0;
    for (int bn = 0; bn < RP_NLBINS && bn + RP_LBIN_LO < dec; bn++) {
        m = fmax(m, rk->lbins[f][bn].max_rel);
        *ulp = fmax(*ulp, rk->lbins[f][bn].max_ulp);
    }
    return m;
}

static double abs_all(const rp_kernel *rk, lp_format f)
{
    double m = 0;
    for (int bn = 0; bn < RP_NLBINS; bn++) m = fmax(m, rk->lbins[f][bn].max_abs);
    return m;
}

void rp_prose_near_zero(rp_buf *b, const rp_report *r)
{
    static const char *const pairs[][3] = {{"twopass_f32", "lse_f32", "accurate_f32"},
                                           {"twopass_bf16_acc32", "lse_bf16_acc32", "accurate_bf16_acc32"},
                                           {"twopass_f64", "lse_f64", "accurate_f64"}};
    for (int i = 0; i < 3; i++) {
        const rp_kernel *tp = kern(r, pairs[i][0]), *ls = kern(r, pairs[i][1]), *ac = kern(r, pairs[i][2]);
        if (!tp || !ac) continue;
        const lp_format f = tp->k->storage;
        const int dec = f == LP_F64 ? -12 : f == LP_F32 ? -4 : -2;
        double tu, au, lu = 0;
        const double tr = rel_below(tp, f, dec, &tu), ar = rel_below(ac, f, dec, &au);
        const double lr = ls ? rel_below(ls, f, dec, &lu) : 0;
        char c[64];
        compare(c, sizeof c, ar, tr);
        rp_printf(b, "- %s logits, tokens with |logp| < 1e%d: `%s` reaches %.3g ulp (relative error "
                     "%.2e)", lp_format_name(f), dec, tp->k->name, tu, tr);
        if (ls) rp_printf(b, ", `%s` %.3g ulp (%.2e)", ls->k->name, lu, lr);
        rp_printf(b, ", `%s` %.3g ulp (%.2e: %s). Their largest absolute errors over all tokens: "
                     "%.2e, ", ac->k->name, au, ar, c, abs_all(tp, f));
        if (ls) rp_printf(b, "%.2e, ", abs_all(ls, f));
        rp_printf(b, "%.2e.\n", abs_all(ac, f));
    }
}

/* ---- method ----------------------------------------------------------------------------------- */

void rp_prose_method(rp_buf *b, const rp_report *r)
{
    size_t corpus = 0, suite = 0, own = 0;
    for (size_t i = 0; i < r->cs->n; i++) {
        const char *fam = r->cs->v[i].family;
        if (strncmp(fam, "corpus.", 7) == 0) corpus++;
        else if (strcmp(fam, "near_zero") == 0 || strcmp(fam, "pair_exh") == 0) own++;
        else suite++;
    }
    rp_printf(b, "## Method\n\n"
                 "- **Suite.** %zu cases, %lld scored tokens, %lld logits: %zu cases of the committed "
                 "corpus (`vectors/corpus`, families `corpus.*`), %zu of the generated families of "
                 "`lpcert gen` (seed %llu), and %zu of the report's own: `near_zero` (label "
                 "probability 1 - 10^-k for k = 0 to 40 in steps of 1/4, at max logits 0, 3, 17 and "
                 "-9, V = 256) and `pair_exh` (%s). The \"standard suite\" figures are over the "
                 "corpus and the generated families; the report's own families appear in the logp "
                 "figures and in [accuracy_families.md](accuracy_families.md).\n",
              r->cs->n, (long long)r->cs->tokens, (long long)r->cs->logits, corpus, suite,
              (unsigned long long)r->o->seed, own, rp_exhaustive_domain);
    rp_printf(b, "- **Reference.** The exact engine (`reference/`) once per case: every token, sum "
                 "and mean correctly rounded to f64, f32, f16 and bf16, plus a double-double of at "
                 "least 100 correct bits. Sums and means are the roundings of the exact sum of the "
                 "exact token values.\n"
                 "- **Kernels.** The %zu built-in kernels of `impl/`, each run on every case whose "
                 "logits it reads (its storage format, or one it widens exactly), through the same "
                 "comparison as `lpcert check`.\n"
                 "- **Error measure (DESIGN A4).** err_ulp = |y - x| / ulp_F(x), x the exact value "
                 "(the double-double, never a rounded value), F the kernel's output format, "
                 "ulp_F(x) = 2^(max(floor(log2|x|), emin) - p + 1); correct rounding is err_ulp <= "
                 "0.5. Also the absolute error |y - x|, and the relative error |y - x| / |x|. A NaN "
                 "against a number, an infinity against a finite value or infinities of opposite "
                 "signs are class mismatches, counted apart; a NaN leak is a sum or mean turned NaN "
                 "by a masked row. Max and percentiles are over the values that are numbers on "
                 "both sides (both NaN or equal infinities count as 0 in p50 and p99); p50 is "
                 "numpy's median, p99 the nearest-rank 99th percentile.\n"
                 "- **Empty mean.** Each kernel is measured under its own empty-mean policy (NaN "
                 "or 0, both allowed by DESIGN A3); the conventions table says which it follows.\n"
                 "- **Sampled or exhaustive.** A figure over the suite is sampled: a lower bound of "
                 "the kernel's worst case. Only `pair_exh` enumerates a whole domain, and its "
                 "token figures are exhaustive (an upper bound on that domain).\n"
                 "- **Reproducing.** `lpcert report` (defaults: seed 24301, `--out-dir docs`) "
                 "rewrites these files byte for byte for any `--threads`; the figures depend on the "
                 "system libm through the kernels' exp and log (measured on Debian 12, glibc, "
                 "x86-64).\n\n",
              r->ks->n);
}

/* ---- conclusions ------------------------------------------------------------------------------ */

void rp_prose_conclusions(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    rp_printf(b, "## What to conclude\n\n");
    const rp_sweep_k *f32 = rp_sweep_find(sw, "twopass_f32");
    const rp_sweep_k *b32 = rp_sweep_find(sw, "twopass_bf16_acc32");
    const rp_sweep_k *b16 = rp_sweep_find(sw, "twopass_bf16_acc16");
    const int last = sw->nlen - 1, l16 = len_index(sw, 16);
    if (f32 && last >= 0 && l16 >= 0) {
        const rp_sweep_pt *a = &f32->pt[l16], *z = &f32->pt[last];
        const double L = (double)sw->len[last];
        const double gs = z->sum_abs / a->sum_abs, gm = z->mean_abs / a->mean_abs;
        char cu[64], cr[64];
        compare(cu, sizeof cu, z->mean_ulp, z->sum_ulp);
        compare(cr, sizeof cr, z->mean_rel, z->sum_rel);
        rp_printf(b, "1. **Sum versus mean, per sequence.** With the common f32 kernel "
                     "(`twopass_f32`, left-to-right f32 sum, mean = sum / n), going from 16 to "
                     "%.0f tokens multiplies the sum's absolute error by %.3g (%.2e to %.2e) and the "
                     "mean's by %.3g (%.2e to %.2e). In ulps of its own value the mean's error is %s "
                     "than the sum's (%.3g against %.3g ulp at L = %.0f), and its relative error is %s "
                     "(%.2e against %.2e): dividing by n adds one rounding and rescales, it neither "
                     "removes nor adds accumulation error. ",
                  L, gs, a->sum_abs, z->sum_abs, gm, a->mean_abs, z->mean_abs, cu, z->mean_ulp,
                  z->sum_ulp, L, cr, z->mean_rel, z->sum_rel);
        rp_printf(b, "What the absolute figures show is scale: the sum's ulp grows with L, the "
                     "mean's does not.\n");
    }
    if (b32 && b16 && last >= 0) {
        const rp_sweep_k *bp = rp_sweep_find(sw, "twopass_bf16_acc16_pairwise");
        const rp_sweep_pt *p32 = &b32->pt[last], *p16 = &b16->pt[last];
        char c[64];
        compare(c, sizeof c, p16->sum_rel, p32->sum_rel);
        rp_printf(b, "2. **The accumulation format decides, not sum versus mean.** With bf16 logits "
                     "at L = %lld, a bf16 sum accumulated in f32 (`twopass_bf16_acc32`) has a relative "
                     "error of %.2e (%.3g ulp); accumulated left to right in bf16 "
                     "(`twopass_bf16_acc16`) %.2e (%.3g ulp), %s",
                  (long long)sw->len[last], p32->sum_rel, p32->sum_ulp, p16->sum_rel, p16->sum_ulp, c);
        if (bp)
            rp_printf(b, "; a pairwise bf16 sum (`twopass_bf16_acc16_pairwise`) %.2e", bp->pt[last].sum_rel);
        rp_printf(b, ". Its mean inherits the same relative error (%.2e): averaging does not repair "
                     "a sum that stagnated.\n", p16->mean_rel);
    }
    if (b32 && last >= 0) {
        const rp_sweep_pt *p = &b32->pt[last];
        char c[64];
        compare(c, sizeof c, p->mmean_rel, p->msum_rel);
        rp_printf(b, "3. **DPO margin.** The margin is a small difference of long sums. With "
                     "`twopass_bf16_acc32` at L = %lld the margin from summed log-probs is off by up "
                     "to %.2e, %.2e of its size (median |margin| %.3g); from averaged log-probs by "
                     "%.2e, %.2e of its size: relative to the margin the mean's error is %s. What "
                     "matters is the output format of the log-probs and of the subtraction, not the "
                     "choice of sum or mean: ",
                  (long long)sw->len[last], p->msum_abs, p->msum_rel, p->margin_sum, p->mmean_abs,
                  p->mmean_rel, c);
        if (f32)
            rp_printf(b, "with f32 outputs (`twopass_f32`) the margin's relative error is %.2e "
                         "(sums) and %.2e (means).\n", f32->pt[last].msum_rel, f32->pt[last].mmean_rel);
        else
            rp_printf(b, "see the table below.\n");
    }
    const rp_kernel *tp = kern(r, "twopass_f32"), *ac = kern(r, "accurate_f32");
    if (tp && ac) {
        double tu, au;
        const double tr = rel_below(tp, LP_F32, -6, &tu), ar = rel_below(ac, LP_F32, -6, &au);
        rp_printf(b, "4. **logp close to 0.** `logp = (x_y - m) - log(sum)` loses relative accuracy "
                     "as p -> 1: for f32 tokens with |logp| < 1e-6, `twopass_f32` is off by up to "
                     "%.3g ulp (relative error %.2e), while `accurate_f32` (log1p of the non-max mass) "
                     "stays within %.3g ulp (%.2e). The absolute error of `twopass_f32` stays below "
                     "%.2e over all tokens: for a loss summed over tokens that is harmless, but a "
                     "quantity divided by logp or compared in relative terms near 0 (a KL or ratio "
                     "estimator at p close to 1) sees the full relative error.\n",
                  tu, tr, au, ar, abs_all(tp, LP_F32));
    }
    int nmul = 0, nzero = 0;
    for (size_t i = 0; i < r->ks->n; i++) {
        nmul += strcmp(rp_masking_key(&r->ks->v[i].run), "mul") == 0;
        nzero += strcmp(rp_empty_key(&r->ks->v[i].run), "zero") == 0;
    }
    rp_printf(b, "5. **Conventions.** %d kernel(s) leak NaN from masked rows (masking by "
                 "multiplication: ", nmul);
    for (size_t i = 0, k = 0; i < r->ks->n; i++)
        if (strcmp(rp_masking_key(&r->ks->v[i].run), "mul") == 0)
            rp_printf(b, "%s`%s`", k++ ? ", " : "", r->ks->v[i].k->name);
    rp_printf(b, "); %d return 0 for the mean of an empty sequence (", nzero);
    for (size_t i = 0, k = 0; i < r->ks->n; i++)
        if (strcmp(rp_empty_key(&r->ks->v[i].run), "zero") == 0)
            rp_printf(b, "%s`%s`", k++ ? ", " : "", r->ks->v[i].k->name);
    rp_printf(b, "), the others NaN.\n\n");
}

void rp_prose_summary(FILE *f, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    const rp_sweep_k *k = rp_sweep_find(sw, "twopass_bf16_acc32");
    if (!k) k = sw->nk ? &sw->k[0] : NULL;
    if (!k || sw->nlen == 0) return;
    const rp_sweep_pt *p = &k->pt[sw->nlen - 1];
    fprintf(f, "sum vs mean at L=%lld (%s): sum %.3g ulp, rel %.2e; mean %.3g ulp, rel %.2e; "
               "DPO margin rel err from sums %.2e, from means %.2e\n",
            (long long)sw->len[sw->nlen - 1], k->k->name, p->sum_ulp, p->sum_rel, p->mean_ulp,
            p->mean_rel, p->msum_rel, p->mmean_rel);
    (void)sweep_max;
}
