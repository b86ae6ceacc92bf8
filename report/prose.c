/* report/prose.c: the written conclusions of ACCURACY.md, derived from the measured figures.
 * Every number in a sentence is read from the report's arrays, and every comparison ("smaller",
 * "grows", "the same to within a factor 2") is decided here from those numbers, so the text stays
 * true when the kernels, the suite or the reference change. A statement whose kernels were not
 * selected is left out. */
#include <math.h>
#include <stddef.h>

#include "lp_format.h"
#include "lp_report.h"

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

/* a compared to b: "3.2 times smaller than", "about the same as", "4.1 times larger than". */
static void compare(char *buf, size_t n, double a, double b)
{
    if (!(a > 0) || !(b > 0)) snprintf(buf, n, "%s", a == b ? "the same as" : a < b ? "smaller than" : "larger than");
    else if (a < b / 1.5) snprintf(buf, n, "%.3g times smaller than", b / a);
    else if (a > 1.5 * b) snprintf(buf, n, "%.3g times larger than", a / b);
    else snprintf(buf, n, "about the same as");
}

/* The longest length of the sweep that is not a power of 2 (sum / n rounds there), else the last. */
static int len_odd(const rp_sweep *sw)
{
    for (int li = sw->nlen - 1; li >= 0; li--)
        if (sw->len[li] & (sw->len[li] - 1)) return li;
    return sw->nlen - 1;
}

/* The first length from which a figure of sk reaches at least v, or -1. */
static int first_reach(const rp_sweep *sw, const rp_sweep_k *sk, size_t off, double v)
{
    for (int li = 0; li < sw->nlen; li++)
        if (*(const double *)((const char *)&sk->pt[li] + off) >= v) return li;
    return -1;
}
#define PT_OFF(field) offsetof(rp_sweep_pt, field)

/* ---- sum versus mean -------------------------------------------------------------------------- */

static void sum_mean_kernel(rp_buf *b, const rp_sweep *sw, const char *name, int li)
{
    const rp_sweep_k *sk = rp_sweep_find(sw, name);
    if (!sk) return;
    const rp_sweep_pt *p = &sk->pt[li];
    rp_printf(b, "  - `%s` (%s output, %s reduction in %s, mean by %s): sum %.3g ulp, mean %.3g ulp; "
                 "relative error sum %.2e, mean %.2e.\n",
              name, lp_format_name(sk->k->out), lp_kreduce_name(sk->k->reduce),
              lp_format_name(sk->k->reduce == LP_KRED_F64 ? LP_F64 : sk->k->acc),
              lp_kmean_name(sk->k->mean), p->sum_ulp, p->mean_ulp, p->sum_rel, p->mean_rel);
}

static const char *const sweep_show[] = {
    "twopass_f32", "twopass_f32_pairwise", "twopass_f32_kahan", "twopass_f32_runmean",
    "twopass_bf16_acc32", "twopass_bf16_acc32_runmean", "twopass_bf16_acc16",
    "twopass_bf16_acc16_pairwise", "twopass_f16_acc16", "twopass_f16_acc16_pairwise",
    "accurate_bf16_acc16", NULL};

void rp_prose_sweep(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    if (sw->nk == 0 || sw->nlen == 0) {
        rp_printf(b, "No twopass or accurate kernel with default conventions was selected: no sweep.\n");
        return;
    }
    const int lo = len_odd(sw);
    rp_printf(b, "%lld sequences of %lld tokens, V = %lld; the sequence of length L is the first L "
                 "tokens of each (%d lengths from 1 to %lld). Logits are multiples of 1/8 in "
                 "[-8.125, 8.125] (exact in every format) and the label is the row's argmax half of "
                 "the time: the mean exact logp is %.3f. Per length, the max over the sequences of "
                 "the error of the kernel's sum and mean against the exact ones (correctly rounded "
                 "in the kernel's output format for the ulp figures).\n\n",
              (long long)sw->B, (long long)sw->len[sw->nlen - 1], (long long)sw->V, sw->nlen,
              (long long)sw->len[sw->nlen - 1], sw->mean_logp);
    rp_printf(b, "At L = %lld (the longest length that is not a power of 2: there sum / n rounds, "
                 "while a division by 2^k is exact and gives the mean exactly the sum's ulp and "
                 "relative error):\n\n", (long long)sw->len[lo]);
    for (int i = 0; sweep_show[i]; i++) sum_mean_kernel(b, sw, sweep_show[i], lo);
}

/* ---- the DPO margin --------------------------------------------------------------------------- */

void rp_prose_dpo(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    if (sw->nk == 0) return;
    const int last = sw->nlen - 1;
    rp_printf(b, "%lld quads per length: the policy and reference log-probs of a chosen and a "
                 "rejected sequence of the same length; the policy's logits are the reference's "
                 "plus -1/8, 0 or +1/8, so each log-ratio is a small difference of two large sums, "
                 "as in training. The margin `(pi_c - r_c) - (pi_r - r_r)` is computed in the "
                 "kernel's output format from its sums and from its means, and compared with the "
                 "exact margin (median |exact margin| from sums at L = %lld: %.3g).\n\n",
              (long long)sw->quads, (long long)sw->len[last],
              sw->nk ? sw->k[0].pt[last].margin_sum : 0.0);
    static const char *const show[] = {"twopass_f32", "twopass_f32_pairwise", "twopass_f32_kahan",
                                       "twopass_f32_sum64", "twopass_f32_runmean", "twopass_bf16_acc32",
                                       "twopass_bf16_acc16", "twopass_f16_acc32", NULL};
    for (int i = 0; show[i]; i++) {
        const rp_sweep_k *sk = rp_sweep_find(sw, show[i]);
        if (!sk) continue;
        const rp_sweep_pt *p = &sk->pt[last];
        const int l10 = first_reach(sw, sk, PT_OFF(msum_rel), 0.1);
        rp_printf(b, "  - `%s` at L = %lld: median relative error of the margin %.2e from sums, %.2e "
                     "from means", show[i], (long long)sw->len[last], p->msum_rel, p->mmean_rel);
        if (l10 >= 0) rp_printf(b, "; 10%% or more from L = %lld on", (long long)sw->len[l10]);
        rp_printf(b, ".\n");
    }
}

/* ---- logp close to 0 -------------------------------------------------------------------------- */

/* The worst relative error and err_ulp over tokens with 10^lo_dec <= |logp| < 10^hi_dec. */
static double rel_in(const rp_kernel *rk, lp_format f, int lo_dec, int hi_dec, double *ulp, int64_t *n)
{
    double m = 0;
    *ulp = 0;
    *n = 0;
    for (int bn = 0; bn < RP_NLBINS; bn++) {
        const int d = bn + RP_LBIN_LO;
        if (d < lo_dec || d >= hi_dec) continue;
        m = fmax(m, rk->lbins[f][bn].max_rel);
        *ulp = fmax(*ulp, rk->lbins[f][bn].max_ulp);
        *n += rk->lbins[f][bn].n;
    }
    return m;
}

/* The largest absolute error over tokens with |logp| < 10^hi_dec. */
static double abs_below(const rp_kernel *rk, lp_format f, int hi_dec)
{
    double m = 0;
    for (int bn = 0; bn < RP_NLBINS && bn + RP_LBIN_LO < hi_dec; bn++) m = fmax(m, rk->lbins[f][bn].max_abs);
    return m;
}

/* The lowest decade where a format's results are normal numbers (10^lo above 2^emin), and above
 * the first bin, which also holds every |logp| below 10^(RP_LBIN_LO + 1). */
static int normal_decade(lp_format f) { return f == LP_F64 ? RP_LBIN_LO + 1 : f == LP_F16 ? -4 : -37; }

void rp_prose_near_zero(rp_buf *b, const rp_report *r)
{
    static const char *const trio[][3] = {{"twopass_f32", "lse_f32", "accurate_f32"},
                                          {"twopass_bf16_acc32", "lse_bf16_acc32", "accurate_bf16_acc32"},
                                          {"twopass_f16_acc32", "lse_f16_acc32", "accurate_f16_acc32"},
                                          {"twopass_f64", "lse_f64", "accurate_f64"}};
    rp_printf(b, "Tokens of the standard suite and of `near_zero` (label probability 1 - 10^-k), "
                 "with |logp| in the range where the output format's results are normal numbers "
                 "(relative error and ulps are then the same measure, up to a factor 2):\n\n");
    for (int i = 0; i < 4; i++) {
        const rp_kernel *ks[3] = {kern(r, trio[i][0]), kern(r, trio[i][1]), kern(r, trio[i][2])};
        if (!ks[0] || !ks[2]) continue;
        const lp_format f = ks[0]->k->storage;
        const int hi = f == LP_F64 ? -12 : f == LP_F32 ? -5 : -2, lo = normal_decade(f);
        rp_printf(b, "- %s logits, 1e%d <= |logp| < 1e%d:", lp_format_name(f), lo, hi);
        for (int j = 0; j < 3; j++) {
            if (!ks[j]) continue;
            double u;
            int64_t n;
            const double rel = rel_in(ks[j], f, lo, hi, &u, &n);
            rp_printf(b, "%s `%s` %.3g ulp (relative error %.2e, %lld tokens)", j ? "," : "",
                      ks[j]->k->name, u, rel, (long long)n);
        }
        rp_printf(b, ". Largest absolute error for |logp| < 0.1:");
        for (int j = 0; j < 3; j++)
            if (ks[j]) rp_printf(b, "%s %.2e", j ? "," : "", abs_below(ks[j], f, -1));
        rp_printf(b, ".\n");
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
                 "- **Error measure (SPEC A4, [docs/SPEC.md](SPEC.md#a4-the-error-measure)).** err_ulp = |y - x| / ulp_F(x), x the exact value "
                 "(the double-double, never a rounded value), F the kernel's output format, "
                 "ulp_F(x) = 2^(max(floor(log2|x|), emin) - p + 1); correct rounding is err_ulp <= "
                 "0.5. Also the absolute error |y - x|, and the relative error |y - x| / |x|. A NaN "
                 "against a number, an infinity against a finite value or infinities of opposite "
                 "signs are class mismatches, counted apart; a NaN leak is a sum or mean turned NaN "
                 "by a masked row. Max and percentiles are over the values that are numbers on "
                 "both sides (both NaN or equal infinities count as 0 in p50 and p99); p50 is "
                 "numpy's median, p99 the nearest-rank 99th percentile.\n"
                 "- **Empty mean.** Each kernel is measured under its own empty-mean policy (NaN "
                 "or 0, both allowed by SPEC A3, [docs/SPEC.md](SPEC.md#a3-special-values)); the conventions table says which it follows.\n"
                 "- **Sampled or exhaustive.** A figure over the suite is sampled: a lower bound of "
                 "the kernel's worst case. Only `pair_exh` enumerates a whole domain, and its "
                 "token figures are exhaustive (an upper bound on that domain).\n"
                 "- **Reproducing.** `lpcert report` (defaults: seed 24301, `--out-dir docs`) "
                 "rewrites these files byte for byte for any `--threads`; the figures depend on the "
                 "system libm through the kernels' exp and log (measured on Debian 12, glibc, "
                 "x86-64).\n\n",
              r->ks->n);
}

/* ---- in one paragraph ------------------------------------------------------------------------- */

/* The three lessons of the report, each stated only as far as the figures bear it out: the
 * accumulation format of a long sum, the format of per-sequence values and margins, and the
 * log1p form for logp near 0. */
void rp_prose_paragraph(rp_buf *b, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    const rp_sweep_k *b32 = rp_sweep_find(sw, "twopass_bf16_acc32"), *b16 = rp_sweep_find(sw, "twopass_bf16_acc16");
    const rp_sweep_k *f32 = rp_sweep_find(sw, "twopass_f32");
    const rp_kernel *tp = kern(r, "twopass_f32"), *ls = kern(r, "lse_f32"), *ac = kern(r, "accurate_f32");
    const int lo = sw->nlen ? len_odd(sw) : -1, last = sw->nlen - 1;
    int any = 0;
    rp_printf(b, "## In one paragraph\n\n");
    if (b32 && b16 && lo >= 0) {
        const rp_sweep_pt *p32 = &b32->pt[lo], *p16 = &b16->pt[lo];
        char c[64];
        compare(c, sizeof c, p16->sum_rel, p32->sum_rel);
        char cm[64];
        compare(cm, sizeof cm, p16->mean_rel, p16->sum_rel);
        if (p16->sum_rel > 2 * p32->sum_rel) {
            rp_printf(b, "**The accumulation decides.** A sequence sum of %lld bf16 log-probs "
                         "accumulated in bf16 is off by %.2e relative, %s one accumulated in f32 "
                         "(%.2e); its mean is off by %.2e",
                      (long long)sw->len[lo], p16->sum_rel, c, p32->sum_rel, p16->mean_rel);
            rp_printf(b, "%s", strncmp(cm, "about", 5) == 0
                                   ? ": taking the mean instead of the sum does not repair it. " : ". ");
        } else
            rp_printf(b, "A sequence sum of %lld bf16 log-probs accumulated in bf16 is off by %.2e "
                         "relative, one accumulated in f32 by %.2e. ",
                      (long long)sw->len[lo], p16->sum_rel, p32->sum_rel);
        any = 1;
    }
    if (b32 && f32 && last >= 0) {
        const double rb = b32->pt[last].msum_rel, rf = f32->pt[last].msum_rel;
        if (rb > 2 * rf && rb >= 0.1)
            rp_printf(b, "**Keep per-sequence values and margins in f32 or wider.** With log-probs "
                         "and sums rounded to bf16 (`twopass_bf16_acc32`) the DPO margin's median "
                         "relative error is %.2e at L = %lld, against %.2e with f32 outputs "
                         "(`twopass_f32`). ",
                      rb, (long long)sw->len[last], rf);
        else
            rp_printf(b, "The DPO margin's median relative error at L = %lld is %.2e with bf16 "
                         "outputs (`twopass_bf16_acc32`) and %.2e with f32 outputs (`twopass_f32`). ",
                      (long long)sw->len[last], rb, rf);
        any = 1;
    }
    if (tp && ac) {
        double tu, au, lu = 0;
        int64_t n;
        rel_in(tp, LP_F32, -37, -5, &tu, &n);
        rel_in(ac, LP_F32, -37, -5, &au, &n);
        const double tr = rel_in(tp, LP_F32, -37, -5, &tu, &n);
        if (ls) rel_in(ls, LP_F32, -37, -5, &lu, &n);
        const int loses = tu > 1e3 * au;
        rp_printf(b, "%s For f32 tokens with 1e-37 <= |logp| < 1e-5, log_softmax (`twopass_f32`) is off by "
                     "up to %.3g ulp%s",
                  loses ? "**logp near 0 needs the log1p form.**" : "Near logp = 0:", tu,
                  tr >= 0.5 ? " (no correct digit)" : "");
        if (ls) rp_printf(b, " and x_y - logsumexp (`lse_f32`) by %.3g ulp", lu);
        rp_printf(b, ", the accurate family (`accurate_f32`: (x_y - m) - log1p of the non-max mass) "
                     "by %.3g ulp%s ", au,
                  loses ? ": a loss summed over tokens does not notice, a ratio or a KL term of "
                          "near-certain tokens does." : ".");
        any = 1;
    }
    if (any) rp_printf(b, "The figures behind each sentence follow.\n\n");
    else rp_printf(b, "The kernels these statements compare were not selected.\n\n");
}

/* ---- conclusions ------------------------------------------------------------------------------ */

static void conclude_sum_mean(rp_buf *b, const rp_sweep *sw)
{
    const rp_sweep_k *f32 = rp_sweep_find(sw, "twopass_f32"), *b32 = rp_sweep_find(sw, "twopass_bf16_acc32");
    const rp_sweep_k *run = rp_sweep_find(sw, "twopass_f32_runmean");
    const int last = sw->nlen - 1, lo = len_odd(sw), l16 = len_index(sw, 16);
    if (!f32 || l16 < 0 || last < 0) return;
    const rp_sweep_pt *a = &f32->pt[l16], *z = &f32->pt[last], *o = &f32->pt[lo];
    const double gs = z->sum_abs / a->sum_abs, Lr = (double)sw->len[last] / 16;
    char c1[64], c2[64];
    compare(c1, sizeof c1, o->mean_rel, o->sum_rel);
    rp_printf(b, "1. **Sum versus mean, one sequence.** A mean computed as sum / n carries the "
                 "sum's relative error plus one rounding: with `twopass_f32` (left-to-right f32 sum) "
                 "at L = %lld the mean's relative error (%.2e) is %s the sum's (%.2e). ",
              (long long)sw->len[lo], o->mean_rel, c1, o->sum_rel);
    if (strncmp(c1, "about", 5) == 0)
        rp_printf(b, "The ulp figures differ (%.3g ulp for the sum, %.3g for the mean) only because "
                     "the two values sit at different places in their binades. ", o->sum_ulp, o->mean_ulp);
    else
        rp_printf(b, "In ulps: %.3g for the sum, %.3g for the mean. ", o->sum_ulp, o->mean_ulp);
    rp_printf(b, "The absolute error is where they part: from L = 16 to %lld the sum's grows %.3g "
                 "times (%.2e to %.2e, about L^%.2f for a length %.0f times larger), the mean's "
                 "stays %.2e at L = %lld. ",
              (long long)sw->len[last], gs, a->sum_abs, z->sum_abs, log(gs) / log(Lr), Lr,
              z->mean_abs, (long long)sw->len[last]);
    if (b32) {
        const rp_sweep_pt *p = &b32->pt[lo];
        if (p->mean_ulp > p->sum_ulp)
            rp_printf(b, "Where the sum is nearly correctly rounded (`twopass_bf16_acc32`: f32 "
                         "accumulation, bf16 output) the mean is the worse of the two in ulps, %.3g "
                         "against %.3g, because it divides an already rounded sum. ",
                      p->mean_ulp, p->sum_ulp);
        else
            rp_printf(b, "With `twopass_bf16_acc32` (f32 accumulation, bf16 output) the mean is within "
                         "%.3g ulp and the sum within %.3g. ", p->mean_ulp, p->sum_ulp);
    }
    if (run) {
        compare(c2, sizeof c2, run->pt[lo].mean_rel, o->mean_rel);
        rp_printf(b, "A running mean (`twopass_f32_runmean`) has a relative error %s sum / n "
                     "(%.2e against %.2e).", c2, run->pt[lo].mean_rel, o->mean_rel);
    }
    rp_printf(b, "\n");
}

static void conclude_accumulation(rp_buf *b, const rp_sweep *sw)
{
    const rp_sweep_k *b32 = rp_sweep_find(sw, "twopass_bf16_acc32"), *b16 = rp_sweep_find(sw, "twopass_bf16_acc16");
    const rp_sweep_k *bp = rp_sweep_find(sw, "twopass_bf16_acc16_pairwise");
    const int lo = len_odd(sw);
    if (!b32 || !b16) return;
    const rp_sweep_pt *p32 = &b32->pt[lo], *p16 = &b16->pt[lo];
    char c[64];
    compare(c, sizeof c, p16->sum_rel, p32->sum_rel);
    const int l16 = len_index(sw, 16);
    rp_printf(b, "2. **The accumulation decides, not sum versus mean.** With bf16 logits at L = %lld, "
                 "a sum accumulated in f32 (`twopass_bf16_acc32`) is off by %.2e relative "
                 "(%.3g ulp); accumulated left to right in bf16 (`twopass_bf16_acc16`) by %.2e "
                 "(%.3g ulp), %s that",
              (long long)sw->len[lo], p32->sum_rel, p32->sum_ulp, p16->sum_rel, p16->sum_ulp, c);
    if (l16 >= 0) rp_printf(b, " (it was %.2e at L = 16: the sum stagnates once its ulp outgrows the "
                            "terms)", b16->pt[l16].sum_rel);
    if (bp) rp_printf(b, "; summed pairwise in bf16 (`twopass_bf16_acc16_pairwise`) by %.2e",
                      bp->pt[lo].sum_rel);
    compare(c, sizeof c, p16->mean_rel, p16->sum_rel);
    rp_printf(b, ". The mean of that sum is off by %.2e, %s the sum%s\n", p16->mean_rel, c,
              strncmp(c, "about", 5) == 0 ? ": averaging does not repair a stagnated sum." : ".");
}

static void conclude_dpo(rp_buf *b, const rp_sweep *sw)
{
    const rp_sweep_k *f32 = rp_sweep_find(sw, "twopass_f32"), *b32 = rp_sweep_find(sw, "twopass_bf16_acc32");
    const rp_sweep_k *kh = rp_sweep_find(sw, "twopass_f32_kahan");
    const int last = sw->nlen - 1;
    if (!f32 || last < 0) return;
    const rp_sweep_pt *p = &f32->pt[last];
    char c[64];
    compare(c, sizeof c, p->mmean_rel, p->msum_rel);
    const int same = strncmp(c, "about", 5) == 0;
    rp_printf(b, "3. **DPO margin.** A margin is a small difference of long sums (median |margin| "
                 "%.3g at L = %lld, against sums near %.0f), so it inherits the sums' absolute "
                 "errors. With `twopass_f32` its median relative error is %.2e from sums and %.2e "
                 "from means%s%s%s",
              p->margin_sum, (long long)sw->len[last], sw->mean_logp * (double)sw->len[last],
              p->msum_rel, p->mmean_rel, same ? "" : " (", same ? "" : c, same ? "" : " the former)");
    rp_printf(b, "%s", same ? ": with chosen and rejected of the same length the mean margin is the "
                              "sum margin over L, and the choice changes nothing. " : ". ");
    if (kh) rp_printf(b, "What changes it is the reduction: a compensated f32 sum (`twopass_f32_kahan`) "
                         "brings it to %.2e. ", kh->pt[last].msum_rel);
    if (b32) {
        const int l10 = first_reach(sw, b32, PT_OFF(msum_rel), 0.1), l1 = first_reach(sw, b32, PT_OFF(msum_rel), 0.99);
        rp_printf(b, "And the output format: with log-probs rounded to bf16 (`twopass_bf16_acc32`) the "
                     "margin's median relative error is %.2e at L = %lld", b32->pt[last].msum_rel,
                  (long long)sw->len[last]);
        if (l10 >= 0) rp_printf(b, ", 10%% or more from L = %lld", (long long)sw->len[l10]);
        if (l1 >= 0) rp_printf(b, ", as large as the margin itself from L = %lld", (long long)sw->len[l1]);
        rp_printf(b, ": keep per-sequence log-probs and the margin in f32 or wider, whatever the logits.");
    }
    rp_printf(b, "\n");
}

static void conclude_near_zero(rp_buf *b, const rp_report *r)
{
    const rp_kernel *tp = kern(r, "twopass_f32"), *ls = kern(r, "lse_f32"), *ac = kern(r, "accurate_f32");
    if (!tp || !ac) return;
    double tu, au, lu = 0;
    int64_t n;
    const double tr = rel_in(tp, LP_F32, -37, -5, &tu, &n), ar = rel_in(ac, LP_F32, -37, -5, &au, &n);
    const double lr = ls ? rel_in(ls, LP_F32, -37, -5, &lu, &n) : 0;
    rp_printf(b, "4. **logp close to 0.** `logp = (x_y - m) - log(sum)` computes log of a number "
                 "close to 1, so its absolute error stays near the f32 unit roundoff (largest for "
                 "|logp| < 0.1: %.2e for `twopass_f32`) while |logp| shrinks: for the %lld f32 "
                 "tokens with 1e-37 <= |logp| < 1e-5, `twopass_f32` is off by up to %.3g ulp "
                 "(relative error %.2e)",
              abs_below(tp, LP_F32, -1), (long long)n, tu, tr);
    if (ls) rp_printf(b, " and `lse_f32` (x_y - logsumexp) by %.3g ulp (%.2e)", lu, lr);
    rp_printf(b, ", while `accurate_f32` (log1p of the non-max mass) stays within %.3g ulp (%.2e). A "
                 "loss summed over tokens does not notice; anything that uses logp in relative terms "
                 "near 0 (a ratio exp(logp_a - logp_b) of two near-certain tokens, a KL estimator, "
                 "an entropy term) gets no correct digit from the first two.\n", au, ar);
}

void rp_prose_conclusions(rp_buf *b, const rp_report *r)
{
    rp_printf(b, "## What to conclude\n\n");
    conclude_sum_mean(b, r->sw);
    conclude_accumulation(b, r->sw);
    conclude_dpo(b, r->sw);
    conclude_near_zero(b, r);
    int nmul = 0, nzero = 0;
    for (size_t i = 0; i < r->ks->n; i++) {
        nmul += strcmp(rp_masking_key(&r->ks->v[i].run), "mul") == 0;
        nzero += strcmp(rp_empty_key(&r->ks->v[i].run), "zero") == 0;
    }
    rp_printf(b, "5. **Conventions.** %d of %zu kernels leak NaN from masked rows (masking by "
                 "multiplication: ", nmul, r->ks->n);
    for (size_t i = 0, k = 0; i < r->ks->n; i++)
        if (strcmp(rp_masking_key(&r->ks->v[i].run), "mul") == 0)
            rp_printf(b, "%s`%s`", k++ ? ", " : "", r->ks->v[i].k->name);
    rp_printf(b, "); %d return 0 for the mean of an empty sequence (", nzero);
    for (size_t i = 0, k = 0; i < r->ks->n; i++)
        if (strcmp(rp_empty_key(&r->ks->v[i].run), "zero") == 0)
            rp_printf(b, "%s`%s`", k++ ? ", " : "", r->ks->v[i].k->name);
    rp_printf(b, "), the others NaN (0/0). The table below says which kernel does what.\n\n");
}

void rp_prose_summary(FILE *f, const rp_report *r)
{
    const rp_sweep *sw = r->sw;
    if (sw->nlen == 0) return;
    const int last = sw->nlen - 1;
    static const char *const show[] = {"twopass_f32", "twopass_f32_kahan", "twopass_bf16_acc32",
                                       "twopass_bf16_acc16", NULL};
    for (int i = 0; show[i]; i++) {
        const rp_sweep_k *k = rp_sweep_find(sw, show[i]);
        if (!k) continue;
        const rp_sweep_pt *p = &k->pt[last];
        fprintf(f, "L=%lld %-22s sum rel err %.2e, mean rel err %.2e; DPO margin rel err %.2e (sums), "
                   "%.2e (means)\n", (long long)sw->len[last], k->k->name, p->sum_rel, p->mean_rel,
                p->msum_rel, p->mmean_rel);
    }
}
