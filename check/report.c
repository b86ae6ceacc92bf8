/* check/report.c: the report of `lpcert check` and `lpcert certify`: a table on stdout, the
 * same as JSON (--json), and a Markdown certificate (--certificate). All three say the same
 * things: the inputs and their hashes, the bounds and semantics, per class and output the figures
 * of lp_check_internal.h, the conventions the candidate follows, the diagnoses, the worst values with a
 * reproducer, and the verdict. Files are written to <path>.tmp and renamed: never partial. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "lp_check_internal.h"
#include "lpcert_check.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lpcert_version.h"

static const char *const diag_title[CK_ND] = {
    "NaN leak from a masked row (multiply-masking: 0 * NaN, 0 * inf or 0 * -inf = NaN)",
    "empty-sequence mean follows another convention than the one certified",
    "wrong shift: the tokens match logits row t scored against labels[t] (shift none) where the "
    "case asks shift next (row t scores labels[t+1])",
    "wrong shift: the tokens match logits[:, 1:] scored against labels[:, 1:] (row t+1 for "
    "labels[t+1]) where the case asks logits[:, :-1] against labels[:, 1:]",
    "wrong shift: the tokens match row t scored against labels[t+1] (shift next) where the case "
    "asks shift none",
    "temperature not applied: the values match the logits taken without dividing by tau",
    "temperature multiplied: the values match logits * tau instead of logits / tau",
    "overflow to -inf: the candidate is -inf where the correctly rounded value is finite, and "
    "the row's range overflows a format the kernel computes in",
    "over the bound but faithful: every value within one step of the correctly rounded one "
    "(off by one ulp at most)",
    "batch invariance broken: a sequence's outputs change with the batch around it",
    "the kernel returned an error",
    "cases the kernel cannot take (not counted in the figures)",
    "cases the baseline kernel cannot read (no baseline-relative bound there)",
    "note",
};

/* certify and fuzz run a kernel themselves: batch invariance and kernel errors are theirs. */
static int runs_kernel(const ck_header *h)
{
    return strcmp(h->command, "certify") == 0 || strcmp(h->command, "fuzz") == 0;
}

/* What a diagnosis counts. */
static const char *diag_unit(int k)
{
    switch (k) {
    case CK_D_LEAK: case CK_D_EMPTY: return "sequences";
    case CK_D_BATCH: case CK_D_KERNEL_ERR: case CK_D_NOTE: return "times";
    default: return "cases";
    }
}

/* The fix a diagnosis points to, in one sentence ("" for none). */
static void diag_fix(char *buf, size_t n, int k, const ck_run *r)
{
    const char *t = "";
    if (r->d[k].fix[0]) t = r->d[k].fix;
    else switch (k) {
    case CK_D_LEAK:
        t = r->opt.masking == CK_MASKING_MUL
                ? "none needed: --masking mul certifies multiply-masking, whose sum is NaN there"
                : "mask by assignment (torch.where(mask, logp, 0)) so a masked row never reaches "
                  "the sum, or certify multiply-masking on purpose with --masking mul";
        break;
    case CK_D_EMPTY:
        t = r->empty_seqs && r->empty_nan == r->empty_seqs
                ? "the kernel gives NaN (0/0) for every empty sequence: certify that with "
                  "--empty-mean nan, or clamp the count to 1 to give 0"
            : r->empty_seqs && r->empty_zero == r->empty_seqs
                ? "the kernel gives 0 for every empty sequence: certify that with --empty-mean "
                  "zero, or divide by the raw count to give NaN"
                : "give one convention for an empty sequence's mean, then certify it with "
                  "--empty-mean nan|zero";
        break;
    case CK_D_SHIFT_NONE:
        t = "score logits[:, :-1] against labels[:, 1:] (row t predicts token t+1); for labels "
            "already shifted by the caller, check with --shift none";
        break;
    case CK_D_SHIFT_LATE:
        t = "drop the last logits row, not the first: logits[:, :-1] against labels[:, 1:]";
        break;
    case CK_D_SHIFT_NEXT:
        t = "for shift none, row t scores labels[t] (the caller shifted already); for a kernel "
            "that shifts by design, check with --shift next";
        break;
    case CK_D_NO_TEMP:
        t = "divide the logits by the temperature before the log-softmax: "
            "log_softmax(logits / tau)";
        break;
    case CK_D_TEMP_MUL: t = "divide by the temperature instead of multiplying: logits / tau"; break;
    case CK_D_OVERFLOW:
        t = "computing in a narrow format overflowed: compute the max-shifted difference in a "
            "wider format or check the input range";
        break;
    case CK_D_FAITHFUL:
        t = "--max-ulp 1 accepts faithful rounding; correct rounding needs a wider accumulation "
            "and one final rounding";
        break;
    case CK_D_BATCH:
        t = "make each sequence's reduction independent of the batch (same order and tiling "
            "whatever the batch size), or accept it with --batch-invariance report";
        break;
    case CK_D_KERNEL_ERR:
        t = "the kernel's own message is quoted; inputs it cannot take belong out of its declared "
            "formats and capabilities (lpcert_plugin.h), so that they are skipped";
        break;
    case CK_D_SKIP:
        t = "not a failure; to cover them, declare the formats and capabilities the kernel "
            "supports (lpcert_plugin.h)";
        break;
    case CK_D_NO_BASELINE:
        t = "give these cases an absolute bound (--max-ulp), or a baseline kernel that reads "
            "their logits format (e.g. twopass_bf16_acc32 for bf16)";
        break;
    default: break;
    }
    snprintf(buf, n, "%s", t);
}

static const char *verdict_word(int failed) { return failed ? "FAIL" : "PASS"; }

static void bound_text(char *buf, size_t n, const ck_options *o, int out)
{
    char a[64] = "", b[64] = "";
    if (o->max_ulp[out] >= 0) snprintf(a, sizeof a, "<= %g ulp", o->max_ulp[out]);
    if (o->max_abs[out] >= 0) snprintf(b, sizeof b, "<= %g abs", o->max_abs[out]);
    if (!a[0] && !b[0])
        snprintf(buf, n, "%s", o->default_bound ? "the default bound (below)"
                               : o->baseline    ? "the baseline bound only"
                                                : "classes only (--no-default-bound)");
    else snprintf(buf, n, "%s%s%s", a, a[0] && b[0] ? " or " : "", b);
}

static const char *masking_text(const ck_options *o)
{
    return o->masking == CK_MASKING_SPEC
               ? "spec (a masked row never changes a sum: NaN leaks fail)"
               : "mul (DPO reference semantics: a sum with a hazardous masked row is NaN)";
}

static const char *empty_text(const ck_options *o)
{
    return o->empty == CK_EMPTY_CASE ? "each case's empty_mean policy"
           : o->empty == CK_EMPTY_NAN ? "NaN everywhere (0/0: PyTorch, DPO code, flash-attn)"
                                      : "0 everywhere (count clamped to 1: TRL, verl, Liger)";
}

/* The conventions observed, in words. */
static void masking_observed(char *buf, size_t n, const ck_run *r)
{
    if (r->hazard_seqs == 0)
        snprintf(buf, n, "not determined (no sequence with a non-counted NaN/inf/-inf row was "
                         "compared through a sum or mean)");
    else if (r->leaked_seqs == 0)
        snprintf(buf, n, "assignment (NaN-safe): no leak in %lld sequences with a hazardous "
                         "masked row", (long long)r->hazard_seqs);
    else if (r->leaked_seqs == r->hazard_seqs)
        snprintf(buf, n, "multiplication (logp * mask): NaN leaks in all %lld sequences with a "
                         "hazardous masked row", (long long)r->hazard_seqs);
    else
        snprintf(buf, n, "inconsistent: NaN leaks in %lld of %lld sequences with a hazardous "
                         "masked row", (long long)r->leaked_seqs, (long long)r->hazard_seqs);
}

static void empty_observed(char *buf, size_t n, const ck_run *r)
{
    const long long e = r->empty_seqs;
    if (e == 0)
        snprintf(buf, n, "not determined (no sequence without counted tokens compared through a mean)");
    else if (r->empty_nan == e)
        snprintf(buf, n, "nan (0/0) in all %lld empty sequences%s", e,
                 r->empty_policy_zero ? "; the cases asked 0 for some" : "");
    else if (r->empty_zero == e)
        snprintf(buf, n, "zero in all %lld empty sequences%s", e,
                 r->empty_policy_nan ? "; the cases asked NaN for some" : "");
    else if (r->empty_as_policy == e)
        snprintf(buf, n, "follows each case's policy (%lld NaN, %lld zero)",
                 (long long)r->empty_nan, (long long)r->empty_zero);
    else
        snprintf(buf, n, "mixed: %lld NaN, %lld zero, %lld other, %lld as the case asked",
                 (long long)r->empty_nan, (long long)r->empty_zero, (long long)r->empty_other,
                 (long long)r->empty_as_policy);
}

static void fmts_text(char *buf, size_t n, unsigned fmts)
{
    buf[0] = 0;
    for (int f = 0; f < LP_NFORMATS; f++)
        if (fmts & (1u << f)) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? "," : "", lp_format_name((lp_format)f));
        }
}

static int group_faithful(const ck_group *g)
{
    return g->n_mismatch == 0 && g->n_cr < g->n && g->max_steps <= 1;
}

/* Median and figures over no value print as "-". */
static void fig(char *buf, size_t n, double v, int have, const char *fmt)
{
    if (!have || isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, fmt, v);
}

/* s in single quotes for a POSIX shell. */
static void shell_quote(char *buf, size_t n, const char *s)
{
    size_t l = 0;
    if (n < 3) {
        if (n) buf[0] = 0;
        return;
    }
    const int plain = s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,+@%") == strlen(s);
    if (plain) {
        snprintf(buf, n, "%s", s);
        return;
    }
    buf[l++] = '\'';
    for (; *s && l + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(buf + l, "'\\''", 4);
            l += 4;
        } else {
            buf[l++] = *s;
        }
    }
    buf[l++] = '\'';
    buf[l] = 0;
}

void ck_repro_command(char *buf, size_t n, const char *cmd, int argc, char **argv)
{
    static const char *const drop_value[] = {"--cases", "--json", "--certificate",
                                             "--save-candidate", "--seconds", "--shard", "--partial"};
    static const char *const flags[] = {"--recompute", "--quiet", "--failures-only",
                                        "--no-default-bound", "--help", "--slow"};
    size_t l = (size_t)snprintf(buf, n, "lpcert %s", cmd);
    const int certify = strcmp(cmd, "certify") == 0;
    for (int i = 1; i < argc && l < n; i++) {
        const char *a = argv[i];
        int drop = 0, flag = strncmp(a, "--", 2) != 0;
        for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
            if (strcmp(a, flags[k]) == 0) flag = 1;
        for (size_t k = 0; k < sizeof drop_value / sizeof *drop_value; k++)
            if (strcmp(a, drop_value[k]) == 0) drop = 1;
        if (drop || strcmp(a, "--quiet") == 0 || strcmp(a, "--failures-only") == 0 ||
            strcmp(a, "--slow") == 0) {
            if (!flag) i++;
            continue;
        }
        char q[1100];
        shell_quote(q, sizeof q, a);
        l += (size_t)snprintf(buf + l, n - l, " %s", q);
        if (!flag && i + 1 < argc && l < n) {
            shell_quote(q, sizeof q, argv[++i]);
            l += (size_t)snprintf(buf + l, n - l, " %s", q);
        }
    }
    if (certify && l < n) snprintf(buf + l, n - l, " --seconds 0");
}

/* The value a failing group shows: its worst, or the worst against the baseline. */
static const ck_repro *worst_of(const ck_group *g)
{
    return (g->n_mismatch || g->n_over || !g->rel_worst.set) ? &g->worst : &g->rel_worst;
}

/* The reproducer of one value, as lines prefixed by ind. */
static void repro_lines(FILE *f, const ck_repro *w, const ck_header *h, const char *ind)
{
    char got[64], want[64];
    lp_format_hexdec(got, sizeof got, w->y, w->fmt);
    lp_format_hexdec(want, sizeof want, w->ref_f, w->fmt);
    if (w->out == CK_TOKEN)
        fprintf(f, "%scase %s, token b=%lld t=%lld (logits row t scores labels[%lld, %lld] = %lld, "
                   "V=%lld)\n", ind, w->case_name, (long long)w->b, (long long)w->ts,
                (long long)w->b, (long long)w->t_label, (long long)w->label, (long long)w->V);
    else
        fprintf(f, "%scase %s, %s of sequence b=%lld (%lld counted tokens)\n", ind, w->case_name,
                ck_output_name(w->out), (long long)w->b, (long long)w->count);
    fprintf(f, "%s  got  %s %s\n", ind, lp_format_name(w->fmt), got);
    fprintf(f, "%s  want %s %s (correctly rounded); exact %.17g %+.3e (dd 0x%016llx 0x%016llx)\n",
            ind, lp_format_name(w->fmt), want, w->dd.hi, w->dd.lo,
            (unsigned long long)lp_bits_f64(w->dd.hi), (unsigned long long)lp_bits_f64(w->dd.lo));
    if (w->m.cls == LP_CMP_MISMATCH)
        fprintf(f, "%s  error: class mismatch\n", ind);
    else
        fprintf(f, "%s  error: %.4g ulp, %.3e absolute\n", ind, w->m.err_ulp, w->m.err_abs);
    if (w->note[0]) fprintf(f, "%s  %s\n", ind, w->note);
    if (h && h->repro && h->repro_cases) {
        if (strncmp(w->case_name, "random/", 7) == 0) {
            fprintf(f, "%s  repro: a random problem (the same --seed and at least as many "
                       "--seconds regenerate it)\n", ind);
        } else {
            char q[300];
            shell_quote(q, sizeof q, w->case_name);
            fprintf(f, "%s  repro: %s --cases %s\n", ind, h->repro, q);
        }
    }
}

/* The worst values of the failing groups (at most 12 printed in full); a group whose worst value
 * repeats an earlier one's note (the same NaN leak in the sum and the mean, in every format) is
 * named under it instead. The repro without --cases is printed once at the end. */
static void worst_values(FILE *f, ck_run *r, const ck_header *h, const char *ind, int md)
{
    char ind2[16];
    snprintf(ind2, sizeof ind2, "%s  ", ind);
    int shown = 0, nfail = 0;
    for (size_t i = 0; i < r->ng; i++) nfail += ck_group_failed(r, &r->g[i]);
    int done = 0;
    for (size_t i = 0; i < r->ng && shown < 12; i++) {
        const ck_group *g = &r->g[i];
        if (!ck_group_failed(r, g)) continue;
        const ck_repro *w = worst_of(g);
        /* already named under an earlier group with the same note? */
        int dup = 0;
        for (size_t j = 0; j < i && w->note[0] && !dup; j++)
            dup = ck_group_failed(r, &r->g[j]) && strcmp(worst_of(&r->g[j])->note, w->note) == 0;
        if (dup) continue;
        shown++;
        done++;
        if (!md) fprintf(f, "%s%s %s:\n", ind, g->cls, ck_output_name(g->out));
        repro_lines(f, w, h, md ? "" : ind2);
        if (ck_group_rel_failed(r, g) && !ck_group_base_numbers(r, g))
            fprintf(f, "%s    baseline: a class mismatch on every value (the plain kernel "
                       "overflows); candidate max %.4g > %.4g + 2^-20 (the default bound's "
                       "floor)\n", ind, g->rel_cand_max, ck_group_rel_bound(r, g));
        else if (ck_group_rel_failed(r, g))
            fprintf(f, "%s    baseline: max %.4g ulp on these values; candidate max %.4g > "
                       "%.4g + 2^-20 (%g x %.4g%s)\n", ind, g->rel_base_max, g->rel_cand_max,
                    ck_group_rel_bound(r, g), r->opt.factor, g->rel_base_max,
                    r->opt.default_bound ? ", at least 2: the default bound" : "");
        int same = 0;
        char names[600] = "";
        for (size_t j = i + 1; j < r->ng; j++)
            if (ck_group_failed(r, &r->g[j]) && w->note[0] &&
                strcmp(worst_of(&r->g[j])->note, w->note) == 0) {
                const size_t l = strlen(names);
                if (same++ < 8)
                    snprintf(names + l, sizeof names - l, "%s%s %s", l ? ", " : "", r->g[j].cls,
                             ck_output_name(r->g[j].out));
                done++;
            }
        if (same)
            fprintf(f, "%s  the same failure in %d more group%s: %s%s\n", md ? "" : ind2, same,
                    same == 1 ? "" : "s", names, same > 8 ? ", ..." : "");
    }
    if (nfail > done) fprintf(f, "%s(%d more failing groups: see --json)\n", ind, nfail - done);
    if (h->repro && !h->repro_cases) fprintf(f, "%srepro: %s\n", ind, h->repro);
}

/* The SHA-256 of the file whose path begins desc (the suite or the candidate line), or NULL. */
static const char *own_sha(const ck_header *h, const char *desc, int *used)
{
    for (int i = 0; i < h->nfiles; i++) {
        const size_t l = strlen(h->files[i].path);
        if (!used[i] && strncmp(desc, h->files[i].path, l) == 0 && (desc[l] == 0 || desc[l] == ':')) {
            used[i] = 1;
            return h->files[i].sha256;
        }
    }
    return NULL;
}

static void header_lines(FILE *f, ck_run *r, const ck_header *h, const char *pre)
{
    int used[8] = {0};
    const char *ss = own_sha(h, h->suite, used), *cs = own_sha(h, h->candidate, used);
    fprintf(f, "%ssuite:      %s%s%s%s\n", pre, h->suite, ss ? " (sha256 " : "", ss ? ss : "",
            ss ? ")" : "");
    fprintf(f, "%scandidate:  %s%s%s%s\n", pre, h->candidate, cs ? " (sha256 " : "",
            cs ? cs : "", cs ? ")" : "");
    for (int i = 0; i < h->nfiles; i++)
        if (!used[i])
            fprintf(f, "%s%-11s %s (sha256 %s)\n", pre, h->files[i].role, h->files[i].path,
                    h->files[i].sha256);
    for (int i = 0; i < h->nextra; i++) fprintf(f, "%s%s\n", pre, h->extra[i]);
    char b[3][96];
    for (int o = 0; o < CK_NOUT; o++) bound_text(b[o], sizeof b[o], &r->opt, o);
    char bt[320];
    ck_options_bound_text(bt, sizeof bt, &r->opt);
    fprintf(f, "%sbound:      %s\n", pre, bt);
    if (!r->opt.default_bound)
        fprintf(f, "%sbounds:     token %s; sum %s; mean %s\n", pre, b[0], b[1], b[2]);
    if (r->opt.baseline)
        fprintf(f, "%sbaseline:   %s: per class and output, max ulp <= %g x the baseline's + 2^-20\n",
                pre, r->opt.baseline, r->opt.factor);
    else if (r->opt.default_bound)
        fprintf(f, "%sbaseline:   no bound given: the default; halves are compared with twopass_f32 "
                   "rounded to their format (--no-default-bound: classes only)\n", pre);
    fprintf(f, "%smasking:    %s\n", pre, masking_text(&r->opt));
    fprintf(f, "%sempty mean: %s\n", pre, empty_text(&r->opt));
}

static void table_row(FILE *f, ck_run *r, ck_group *g)
{
    char fm[40];
    fmts_text(fm, sizeof fm, g->fmts);
    double med = ck_group_median(g);
    char steps[24];
    if (g->max_steps < 100000) snprintf(steps, sizeof steps, "%llu", (unsigned long long)g->max_steps);
    else snprintf(steps, sizeof steps, "%.0e", (double)g->max_steps);
    char mu[24], md[24], ma[24];
    const int num = g->nulps > 0;
    fig(mu, sizeof mu, g->max_ulp, num, "%.4g");
    fig(md, sizeof md, med, num, "%.4g");
    fig(ma, sizeof ma, g->max_abs, num, "%.3g");
    fprintf(f, "%-22s %-6s %-9s %8lld %6.1f %10s %10s %10s %6lld %5s %5lld %5lld", g->cls,
            ck_output_name(g->out), fm, (long long)g->n,
            g->n ? 100.0 * (double)g->n_cr / (double)g->n : 0.0, mu, md, ma, (long long)g->n_over,
            steps, (long long)g->n_mismatch, (long long)g->n_leak);
    if (ck_rel_active(&r->opt)) {
        if (ck_group_base_numbers(r, g)) fprintf(f, " %10.4g", g->rel_base_max);
        else fprintf(f, " %10s", "-");
    }
    const char *why = g->n_mismatch ? "FAIL class" : g->n_over ? "FAIL bound"
                      : ck_group_rel_failed(r, g) ? "FAIL baseline" : "ok";
    fprintf(f, "  %s\n", why);
}

void ck_report_table(FILE *f, ck_run *r, const ck_header *h)
{
    fprintf(f, "lpcert %s\n", h->command);
    header_lines(f, r, h, "  ");
    fprintf(f, "\n%-22s %-6s %-9s %8s %6s %10s %10s %10s %6s %5s %5s %5s",
            "class", "output", "format", "n", "cr%", "max ulp", "median", "max abs", "over",
            "steps", "mism", "leak");
    if (ck_rel_active(&r->opt)) fprintf(f, " %10s", "base ulp");
    fprintf(f, "  result\n");
    int nfail = 0, npass = 0;
    for (int pass = 0; pass < 2; pass++)   /* the failing groups first, then the rest */
        for (size_t i = 0; i < r->ng; i++) {
            const int failing = ck_group_failed(r, &r->g[i]);
            if (failing != (pass == 0)) continue;
            if (failing) nfail++;
            else npass++;
            if (!failing && h->failures_only) continue;
            table_row(f, r, &r->g[i]);
        }
    if (h->failures_only && npass)
        fprintf(f, "(%d passing group%s not shown: --failures-only)\n", npass, npass == 1 ? "" : "s");
    fprintf(f, "(cr%%: correctly rounded; max ulp, median, max abs: over every numeric value, those "
               "within --max-abs included; over: values over the bounds; steps: most representable "
               "values between the candidate and the correctly rounded value; mism: class "
               "mismatches, NaN/inf against a number; leak: those from a masked row)\n");
    char buf[256];
    fprintf(f, "\nconventions observed:\n");
    masking_observed(buf, sizeof buf, r);
    fprintf(f, "  masking:    %s\n", buf);
    empty_observed(buf, sizeof buf, r);
    fprintf(f, "  empty mean: %s\n", buf);
    if (runs_kernel(h)) {
        if (r->opt.batch == CK_BATCH_OFF)
            fprintf(f, "  batch invariance: not checked\n");
        else
            fprintf(f, "  batch invariance: %lld checks, %lld changed bits%s\n",
                    (long long)r->batch_checks, (long long)r->batch_fail,
                    r->opt.batch == CK_BATCH_REPORT ? " (reported, not required)" : "");
    }

    int any = 0;
    char fix[300];
    for (int k = 0; k < CK_ND; k++) {
        if (!r->d[k].n) continue;
        if (!any++) fprintf(f, "\ndiagnoses (each once, with how often it occurred):\n");
        fprintf(f, "  - %s (%lld %s)\n      e.g. %s\n", diag_title[k], (long long)r->d[k].n,
                diag_unit(k), r->d[k].example);
        diag_fix(fix, sizeof fix, k, r);
        if (fix[0]) fprintf(f, "      fix: %s\n", fix);
    }
    int nfaith = 0;
    for (size_t i = 0; i < r->ng; i++)
        if (group_faithful(&r->g[i]) && ck_group_failed(r, &r->g[i])) {
            if (!any++) fprintf(f, "\ndiagnoses (each once, with how often it occurred):\n");
            if (!nfaith++) fprintf(f, "  - %s:", diag_title[CK_D_FAITHFUL]);
            fprintf(f, " %s %s;", r->g[i].cls, ck_output_name(r->g[i].out));
        }
    if (nfaith) {
        diag_fix(fix, sizeof fix, CK_D_FAITHFUL, r);
        fprintf(f, " (%d groups)\n      fix: %s\n", nfaith, fix);
    }

    if (nfail) {
        fprintf(f, "\nworst values of the failing groups:\n");
        worst_values(f, r, h, "  ", 0);
    } else {
        const ck_group *wg = NULL;
        for (size_t i = 0; i < r->ng; i++)
            if (r->g[i].worst.set && (!wg || r->g[i].max_ulp > wg->max_ulp)) wg = &r->g[i];
        if (wg) {
            fprintf(f, "\nlargest error (%s %s):\n", wg->cls, ck_output_name(wg->out));
            repro_lines(f, &wg->worst, h, "  ");
            if (h->repro && !h->repro_cases) fprintf(f, "  repro: %s\n", h->repro);
        }
    }
    const int failed = ck_run_failed(r);
    int64_t mism = 0, leaks = 0, over = 0, kept = 0;
    int rel = 0, processed = 0;
    for (size_t i = 0; i < r->ng; i++) {
        mism += r->g[i].n_mismatch;
        leaks += r->g[i].n_leak;
        kept += r->g[i].n_keptset;
        processed |= r->g[i].processed;
        over += r->g[i].n_over;
        rel += ck_group_rel_failed(r, &r->g[i]);
    }
    fprintf(f, "\nverdict: %s: %lld cases, %lld values, %d of %zu groups failing (%lld class "
               "mismatches, %lld of them NaN leaks; %lld values over the bounds; %d groups over "
               "the baseline bound",
            verdict_word(failed), (long long)r->cases, (long long)r->values, nfail, r->ng,
            (long long)mism, (long long)leaks, (long long)over, rel);
    if (processed)
        fprintf(f, "; %lld of the class mismatches are kept-set disagreements (SPEC A7: -inf against a "
                   "finite processed log-prob, or the reverse)", (long long)kept);
    if (runs_kernel(h))
        fprintf(f, "; %lld batch-invariance failures; %lld kernel errors", (long long)r->batch_fail,
                (long long)r->d[CK_D_KERNEL_ERR].n);
    char bt[320];
    ck_options_bound_text(bt, sizeof bt, &r->opt);
    fprintf(f, ")%s; %s\n", r->values == 0 ? "; nothing was compared" : "", bt);
    for (int k = 0; k < 4; k++) {   /* gradients (certify of a kernel with a backward entry) */
        if (!r->grad[k]) continue;
        fprintf(f, "\ngradients of reduction %s (backward entry):\n", lp_reduction_name((lp_reduction)k));
        lp_grad_check_write_table(f, r->grad[k]);
    }
}

void ck_report_first_failure(char *buf, size_t n, const ck_run *r)
{
    if (n) buf[0] = 0;
    for (size_t i = 0; i < r->ng; i++) {
        const ck_group *g = &r->g[i];
        if (!ck_group_failed(r, g)) continue;
        const ck_repro *w = worst_of(g);
        char where[96], got[64], want[64], err[96], bnd[160];
        if (w->out == CK_TOKEN)
            snprintf(where, sizeof where, "token b=%lld t=%lld (label %lld)", (long long)w->b,
                     (long long)w->ts, (long long)w->label);
        else
            snprintf(where, sizeof where, "%s of sequence b=%lld", ck_output_name(w->out),
                     (long long)w->b);
        lp_format_hexdec(got, sizeof got, w->y, w->fmt);
        lp_format_hexdec(want, sizeof want, w->ref_f, w->fmt);
        if (w->m.cls == LP_CMP_MISMATCH) snprintf(err, sizeof err, "class mismatch");
        else snprintf(err, sizeof err, "%.4g ulp, %.3e abs", w->m.err_ulp, w->m.err_abs);
        if (ck_group_rel_failed(r, g) && !g->n_mismatch && !g->n_over)
            snprintf(bnd, sizeof bnd, "<= %.4g ulp (%g x %s's %.4g%s) + 2^-20%s", ck_group_rel_bound(r, g),
                     r->opt.factor, g->rel_kernel ? g->rel_kernel : "the baseline", g->rel_base_max,
                     r->opt.default_bound ? ", at least 2" : "",
                     r->opt.default_bound ? " (the default bound, SPEC A5)" : "");
        else if (w->m.cls == LP_CMP_MISMATCH)
            snprintf(bnd, sizeof bnd, "the same class (NaN, inf, number)");
        else
            bound_text(bnd, sizeof bnd, &r->opt, w->out);
        snprintf(buf, n, "%s: got %s %s, want %s (exact %.17g %+.3e): %s; bound %s%s%s", where,
                 lp_format_name(w->fmt), got, want, w->dd.hi, w->dd.lo, err, bnd,
                 w->note[0] ? "; " : "", w->note);
        return;
    }
    if (r->batch_fail > 0 && r->opt.batch == CK_BATCH_REQUIRE) {
        snprintf(buf, n, "batch invariance: %s", r->d[CK_D_BATCH].example);
        return;
    }
    if (r->d[CK_D_KERNEL_ERR].n > 0) snprintf(buf, n, "kernel error: %s", r->d[CK_D_KERNEL_ERR].example);
}

/* ---- JSON --------------------------------------------------------------------------------------- */

const char *ck_shortest(char *buf, size_t n, double v)
{
    for (int d = 15; d <= 17; d++) {
        snprintf(buf, n, "%.*g", d, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* A finite figure as the shortest decimal that reads back as the same binary64: cJSON's own
 * printing takes 15 digits when they read back only within an epsilon (one ulp off); NaN as null,
 * infinities as strings (JSON has no such numbers). */
void ck_json_num(cJSON *o, const char *k, double v)
{
    char buf[40];
    if (isfinite(v)) cJSON_AddRawToObject(o, k, ck_shortest(buf, sizeof buf, v));
    else if (isnan(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddStringToObject(o, k, v > 0 ? "inf" : "-inf");
}

void ck_json_hex(cJSON *o, const char *k, double v, lp_format f)
{
    char buf[64];
    lp_format_hexdec(buf, sizeof buf, v, f);
    char *sp = strchr(buf, ' ');
    if (sp) *sp = 0;
    cJSON_AddStringToObject(o, k, buf);
}

static cJSON *json_repro(const ck_repro *w)
{
    cJSON *o = cJSON_CreateObject();
    char buf[40];
    cJSON_AddStringToObject(o, "case", w->case_name);
    cJSON_AddStringToObject(o, "output", ck_output_name(w->out));
    cJSON_AddNumberToObject(o, "b", (double)w->b);
    if (w->out == CK_TOKEN) {
        cJSON_AddNumberToObject(o, "t", (double)w->ts);
        cJSON_AddNumberToObject(o, "label_t", (double)w->t_label);
        cJSON_AddNumberToObject(o, "label", (double)w->label);
    } else {
        cJSON_AddNumberToObject(o, "count", (double)w->count);
    }
    cJSON_AddNumberToObject(o, "V", (double)w->V);
    cJSON_AddStringToObject(o, "format", lp_format_name(w->fmt));
    ck_json_hex(o, "got", w->y, w->fmt);
    snprintf(buf, sizeof buf, "%.17g", w->y);
    cJSON_AddStringToObject(o, "got_decimal", buf);
    ck_json_hex(o, "want", w->ref_f, w->fmt);
    snprintf(buf, sizeof buf, "%.17g", w->ref_f);
    cJSON_AddStringToObject(o, "want_decimal", buf);
    ck_json_hex(o, "exact_hi", w->dd.hi, LP_F64);
    ck_json_hex(o, "exact_lo", w->dd.lo, LP_F64);
    cJSON_AddStringToObject(o, "class", w->m.cls == LP_CMP_MISMATCH ? "mismatch"
                                        : w->m.cls == LP_CMP_SAME_SPECIAL ? "same_special"
                                                                          : "number");
    ck_json_num(o, "err_ulp", w->m.err_ulp);
    ck_json_num(o, "err_abs", w->m.err_abs);
    if (w->note[0]) cJSON_AddStringToObject(o, "note", w->note);
    return o;
}

/* Whether an absolute bound is given for some output. */
static int bd_given(const ck_options *o)
{
    for (int i = 0; i < CK_NOUT; i++)
        if (o->max_ulp[i] >= 0 || o->max_abs[i] >= 0) return 1;
    return 0;
}

static cJSON *json_build(ck_run *r, const ck_header *h)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "lpcert " LPCERT_VERSION_STRING);
    cJSON_AddStringToObject(root, "command", h->command);
    cJSON_AddStringToObject(root, "suite", h->suite);
    cJSON_AddStringToObject(root, "candidate", h->candidate);
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    for (int i = 0; i < h->nfiles; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "role", h->files[i].role);
        cJSON_AddStringToObject(o, "path", h->files[i].path);
        cJSON_AddStringToObject(o, "sha256", h->files[i].sha256);
        cJSON_AddItemToArray(files, o);
    }
    cJSON *extra = cJSON_AddArrayToObject(root, "notes");
    for (int i = 0; i < h->nextra; i++) cJSON_AddItemToArray(extra, cJSON_CreateString(h->extra[i]));
    cJSON *bd = cJSON_AddObjectToObject(root, "bounds");
    for (int o = 0; o < CK_NOUT; o++) {
        cJSON *e = cJSON_AddObjectToObject(bd, ck_output_name(o));
        if (r->opt.max_ulp[o] >= 0) cJSON_AddNumberToObject(e, "max_ulp", r->opt.max_ulp[o]);
        else cJSON_AddNullToObject(e, "max_ulp");
        if (r->opt.max_abs[o] >= 0) cJSON_AddNumberToObject(e, "max_abs", r->opt.max_abs[o]);
        else cJSON_AddNullToObject(e, "max_abs");
    }
    if (r->opt.baseline) {
        cJSON *e = cJSON_AddObjectToObject(bd, "baseline");
        cJSON_AddStringToObject(e, "kernel", r->opt.baseline);
        cJSON_AddNumberToObject(e, "factor", r->opt.factor);
        cJSON_AddNumberToObject(e, "slack_ulp", CK_REL_SLACK);
    } else if (r->opt.default_bound) {
        cJSON *e = cJSON_AddObjectToObject(bd, "baseline");
        cJSON_AddStringToObject(e, "kernel", "twopass_f32");
        cJSON_AddStringToObject(e, "kernel_f64", "twopass_f64");
        cJSON_AddNumberToObject(e, "factor", r->opt.factor);
        cJSON_AddNumberToObject(e, "floor_ulp", CK_DEFAULT_FLOOR);
        cJSON_AddNumberToObject(e, "slack_ulp", CK_REL_SLACK);
    } else {
        cJSON_AddNullToObject(bd, "baseline");
    }
    cJSON_AddBoolToObject(bd, "default", r->opt.default_bound);
    cJSON_AddStringToObject(bd, "applied", r->opt.default_bound ? "default"
                                           : ck_rel_active(&r->opt) || bd_given(&r->opt) ? "given"
                                                                                      : "none");
    char bt[320];
    ck_options_bound_text(bt, sizeof bt, &r->opt);
    cJSON_AddStringToObject(bd, "text", bt);
    cJSON *sem = cJSON_AddObjectToObject(root, "semantics");
    cJSON_AddStringToObject(sem, "masking", r->opt.masking == CK_MASKING_SPEC ? "spec" : "mul");
    cJSON_AddStringToObject(sem, "empty_mean", r->opt.empty == CK_EMPTY_CASE ? "case"
                                               : r->opt.empty == CK_EMPTY_NAN ? "nan" : "zero");
    if (r->js.used) {   /* which tier decided what (check/judge.c); absent with --slow */
        cJSON *jd = cJSON_AddObjectToObject(root, "judge");
        cJSON_AddStringToObject(jd, "route", "enclosures");
        cJSON_AddNumberToObject(jd, "values", (double)r->js.values);
        cJSON_AddNumberToObject(jd, "from_reference_enclosure", (double)r->js.enclosure);
        cJSON_AddNumberToObject(jd, "tier2_tokens", (double)r->js.tier2);
        cJSON_AddNumberToObject(jd, "mpfr_tokens", (double)r->js.mpfr_tokens);
        cJSON_AddNumberToObject(jd, "mpfr_sequences", (double)r->js.mpfr_seqs);
    }
    cJSON *groups = cJSON_AddArrayToObject(root, "groups");
    for (size_t i = 0; i < r->ng; i++) {
        ck_group *g = &r->g[i];
        cJSON *o = cJSON_CreateObject();
        char fm[40];
        fmts_text(fm, sizeof fm, g->fmts);
        cJSON_AddStringToObject(o, "class", g->cls);
        cJSON_AddStringToObject(o, "output", ck_output_name(g->out));
        cJSON_AddStringToObject(o, "formats", fm);
        cJSON_AddNumberToObject(o, "n", (double)g->n);
        cJSON_AddNumberToObject(o, "correctly_rounded", (double)g->n_cr);
        ck_json_num(o, "max_ulp", g->max_ulp);
        ck_json_num(o, "median_ulp", ck_group_median(g));
        ck_json_num(o, "max_abs", g->max_abs);
        cJSON_AddNumberToObject(o, "max_steps", (double)g->max_steps);
        cJSON_AddNumberToObject(o, "class_mismatches", (double)g->n_mismatch);
        cJSON_AddNumberToObject(o, "nan_leaks", (double)g->n_leak);
        if (g->processed) cJSON_AddNumberToObject(o, "kept_set_disagreements", (double)g->n_keptset);
        cJSON_AddNumberToObject(o, "over_bounds", (double)g->n_over);
        if (ck_rel_active(&r->opt)) {
            cJSON *e = cJSON_AddObjectToObject(o, "baseline");
            if (g->rel_kernel) cJSON_AddStringToObject(e, "kernel", g->rel_kernel);
            cJSON_AddNumberToObject(e, "values", (double)g->rel_n);
            cJSON_AddNumberToObject(e, "baseline_class_mismatches", (double)g->rel_base_mismatch);
            ck_json_num(e, "baseline_max_ulp", g->rel_base_max);
            ck_json_num(e, "candidate_max_ulp", g->rel_cand_max);
            if (g->rel_n) ck_json_num(e, "bound_ulp", ck_group_rel_bound(r, g));
            cJSON_AddBoolToObject(e, "ok", !ck_group_rel_failed(r, g));
        }
        cJSON_AddBoolToObject(o, "faithful", group_faithful(g));
        cJSON_AddStringToObject(o, "verdict", ck_group_failed(r, g) ? "fail" : "pass");
        if (g->worst.set) cJSON_AddItemToObject(o, "worst", json_repro(&g->worst));
        cJSON_AddItemToArray(groups, o);
    }
    cJSON *conv = cJSON_AddObjectToObject(root, "conventions");
    char buf[256];
    cJSON *m = cJSON_AddObjectToObject(conv, "masking");
    const char *mk = r->hazard_seqs == 0 ? "undetermined" : r->leaked_seqs == 0 ? "assign"
                     : r->leaked_seqs == r->hazard_seqs ? "mul" : "inconsistent";
    cJSON_AddStringToObject(m, "observed", mk);
    cJSON_AddNumberToObject(m, "hazard_sequences", (double)r->hazard_seqs);
    cJSON_AddNumberToObject(m, "leaked_sequences", (double)r->leaked_seqs);
    masking_observed(buf, sizeof buf, r);
    cJSON_AddStringToObject(m, "text", buf);
    cJSON *e = cJSON_AddObjectToObject(conv, "empty_mean");
    const long long es = r->empty_seqs;
    const char *ek = es == 0 ? "undetermined" : r->empty_nan == es ? "nan" : r->empty_zero == es ? "zero"
                     : r->empty_as_policy == es ? "case" : "mixed";
    cJSON_AddStringToObject(e, "observed", ek);
    cJSON_AddNumberToObject(e, "empty_sequences", (double)es);
    cJSON_AddNumberToObject(e, "nan", (double)r->empty_nan);
    cJSON_AddNumberToObject(e, "zero", (double)r->empty_zero);
    cJSON_AddNumberToObject(e, "other", (double)r->empty_other);
    cJSON_AddNumberToObject(e, "as_case_policy", (double)r->empty_as_policy);
    empty_observed(buf, sizeof buf, r);
    cJSON_AddStringToObject(e, "text", buf);
    if (runs_kernel(h)) {
        cJSON *bi = cJSON_AddObjectToObject(root, "batch_invariance");
        cJSON_AddStringToObject(bi, "mode", r->opt.batch == CK_BATCH_REQUIRE ? "require"
                                            : r->opt.batch == CK_BATCH_REPORT ? "report" : "off");
        cJSON_AddNumberToObject(bi, "checks", (double)r->batch_checks);
        cJSON_AddNumberToObject(bi, "failures", (double)r->batch_fail);
    }
    static const char *const keys[CK_ND] = {"nan_leak", "empty_mean", "shift_none", "shift_late",
                                            "shift_next", "temperature_ignored",
                                            "temperature_multiplied", "overflow", "faithful",
                                            "batch_variance", "kernel_error", "skipped",
                                            "no_baseline", "note"};
    cJSON *dg = cJSON_AddArrayToObject(root, "diagnoses");
    for (int k = 0; k < CK_ND; k++) {
        if (!r->d[k].n) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", keys[k]);
        cJSON_AddStringToObject(o, "title", diag_title[k]);
        cJSON_AddNumberToObject(o, "count", (double)r->d[k].n);
        cJSON_AddStringToObject(o, "unit", diag_unit(k));
        cJSON_AddStringToObject(o, "example", r->d[k].example);
        diag_fix(buf, sizeof buf, k, r);
        if (buf[0]) cJSON_AddStringToObject(o, "fix", buf);
        cJSON_AddItemToArray(dg, o);
    }
    for (size_t i = 0; i < r->ng; i++) {
        if (!group_faithful(&r->g[i]) || !ck_group_failed(r, &r->g[i])) continue;
        cJSON *o = cJSON_CreateObject();
        char ex[160];
        snprintf(ex, sizeof ex, "%s %s", r->g[i].cls, ck_output_name(r->g[i].out));
        cJSON_AddStringToObject(o, "kind", "faithful");
        cJSON_AddStringToObject(o, "title", diag_title[CK_D_FAITHFUL]);
        cJSON_AddNumberToObject(o, "count", (double)(r->g[i].n - r->g[i].n_cr));
        cJSON_AddStringToObject(o, "example", ex);
        diag_fix(buf, sizeof buf, CK_D_FAITHFUL, r);
        cJSON_AddStringToObject(o, "fix", buf);
        cJSON_AddItemToArray(dg, o);
    }
    cJSON_AddNumberToObject(root, "cases", (double)r->cases);
    cJSON_AddNumberToObject(root, "values", (double)r->values);
    int any_grad = 0;
    for (int k = 0; k < 4; k++) any_grad |= r->grad[k] != NULL;
    if (any_grad) {   /* only for a kernel with a backward entry: other reports are unchanged */
        cJSON *ga = cJSON_AddArrayToObject(root, "gradients");
        for (int k = 0; k < 4; k++)
            if (r->grad[k]) cJSON_AddItemToArray(ga, ck_grad_json(r->grad[k]));
    }
    cJSON_AddStringToObject(root, "verdict", ck_run_failed(r) ? "fail" : "pass");
    return root;
}

lp_status ck_report_json(const char *path, ck_run *r, const ck_header *h, lp_error *err)
{
    cJSON *root = json_build(r, h);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    lp_status s = lp_write_line_atomic(path, text, err);
    free(text);
    return s;
}

/* ---- Markdown certificate ------------------------------------------------------------------------ */

lp_status ck_report_certificate(const char *path, ck_run *r, const ck_header *h, lp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    const int failed = ck_run_failed(r);
    time_t now = time(NULL);
    struct tm tmv;
    char date[40];
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tmv);
    fprintf(f, "# lpcert certificate: %s\n\n", verdict_word(failed));
    fprintf(f, "Issued by lpcert " LPCERT_VERSION_STRING " (`lpcert %s`) on %s.\n\n", h->command,
            date);
    fprintf(f, "## Inputs\n\n| | |\n| --- | --- |\n| suite | %s |\n| candidate | %s |\n",
            h->suite, h->candidate);
    for (int i = 0; i < h->nfiles; i++)
        fprintf(f, "| %s | `%s`<br>SHA-256 `%s` |\n", h->files[i].role, h->files[i].path,
                h->files[i].sha256);
    for (int i = 0; i < h->nextra; i++) fprintf(f, "| note | %s |\n", h->extra[i]);
    if (r->js.used)   /* which tier decided what (check/judge.c); absent with --slow */
        fprintf(f, "| judged | %lld values from the fast reference: %lld settled from its enclosures, "
                "%lld tokens re-enclosed by tier 2, %lld tokens and %lld sequences recomputed by "
                "MPFR (figures as the all-MPFR route's) |\n", (long long)r->js.values,
                (long long)r->js.enclosure, (long long)r->js.tier2, (long long)r->js.mpfr_tokens,
                (long long)r->js.mpfr_seqs);
    char bt[320];
    ck_options_bound_text(bt, sizeof bt, &r->opt);
    fprintf(f, "\n## Bounds and semantics certified\n\n");
    fprintf(f, "- bound applied: %s%s\n", bt,
            r->opt.default_bound ? " (no bound was given: the default of SPEC A5 in docs/SPEC.md; "
                                   "--no-default-bound checks classes only)" : "");
    for (int o = 0; o < CK_NOUT; o++) {
        char b[96];
        bound_text(b, sizeof b, &r->opt, o);
        fprintf(f, "- %s: %s\n", ck_output_name(o), b);
    }
    if (r->opt.baseline)
        fprintf(f, "- baseline: per class and output, max ulp <= %g x that of `%s` on the same "
                   "inputs + 2^-20 ulp\n", r->opt.factor, r->opt.baseline);
    else if (r->opt.default_bound)
        fprintf(f, "- baseline (default): per class and output, max ulp <= max(%g x that of "
                   "`twopass_f64` (f64 outputs) or `twopass_f32` (the others, rounded to their "
                   "format) on the same inputs, %g) + 2^-20 ulp\n", r->opt.factor, CK_DEFAULT_FLOOR);
    fprintf(f, "- class mismatches (NaN vs number, inf vs finite) always fail\n");
    fprintf(f, "- masking: %s\n- empty mean: %s\n", masking_text(&r->opt), empty_text(&r->opt));
    if (runs_kernel(h))
        fprintf(f, "- batch invariance: %s\n", r->opt.batch == CK_BATCH_REQUIRE ? "required"
                                               : r->opt.batch == CK_BATCH_REPORT ? "reported" : "not checked");
    fprintf(f, "\nErrors are measured as SPEC A4 of lpcert: err_ulp = |y - x| / ulp_F(x), x the "
               "exact value (a double-double of at least 100 correct bits), F the candidate's "
               "format. Figures are over the values tested: sampled, so lower bounds of the "
               "kernel's worst case.\n");
    fprintf(f, "\n## Results\n\nFailing groups first. Max ulp, median ulp and max abs are over "
               "every numeric value, those within --max-abs included; \"over bound\" counts the "
               "values over the bounds.\n\n| class | output | format | n | correctly rounded | "
               "max ulp | median ulp | max abs | over bound | class mismatches | NaN leaks |%s "
               "result |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
               "|%s --- |\n",
            ck_rel_active(&r->opt) ? " baseline max ulp |" : "", ck_rel_active(&r->opt) ? " ---: |" : "");
    for (size_t k = 0; k < 2 * r->ng; k++) {
        ck_group *g = &r->g[k % r->ng];
        if (ck_group_failed(r, g) != (k < r->ng)) continue;   /* failing first */
        char fm[40];
        fmts_text(fm, sizeof fm, g->fmts);
        char mu[24], md[24], ma[24];
        fig(mu, sizeof mu, g->max_ulp, g->nulps > 0, "%.4g");
        fig(md, sizeof md, ck_group_median(g), g->nulps > 0, "%.4g");
        fig(ma, sizeof ma, g->max_abs, g->nulps > 0, "%.3g");
        fprintf(f, "| %s | %s | %s | %lld | %lld | %s | %s | %s | %lld | %lld | %lld |", g->cls,
                ck_output_name(g->out), fm, (long long)g->n, (long long)g->n_cr, mu, md, ma,
                (long long)g->n_over, (long long)g->n_mismatch, (long long)g->n_leak);
        if (ck_rel_active(&r->opt)) {
            if (ck_group_base_numbers(r, g)) fprintf(f, " %.4g |", g->rel_base_max);
            else fprintf(f, " - |");
        }
        fprintf(f, " %s |\n", ck_group_failed(r, g) ? "**fail**" : "pass");
    }
    char buf[256];
    fprintf(f, "\n## Conventions observed\n\n");
    masking_observed(buf, sizeof buf, r);
    fprintf(f, "- masking: %s\n", buf);
    empty_observed(buf, sizeof buf, r);
    fprintf(f, "- empty mean: %s\n", buf);
    if (runs_kernel(h) && r->opt.batch != CK_BATCH_OFF)
        fprintf(f, "- batch invariance: %lld checks, %lld changed bits\n",
                (long long)r->batch_checks, (long long)r->batch_fail);
    int any = 0;
    for (int k = 0; k < CK_ND; k++) {
        if (!r->d[k].n) continue;
        if (!any++) fprintf(f, "\n## Diagnoses\n\n");
        char fix[300];
        diag_fix(fix, sizeof fix, k, r);
        fprintf(f, "- %s (%lld %s). Example: %s.%s%s\n", diag_title[k], (long long)r->d[k].n,
                diag_unit(k), r->d[k].example, fix[0] ? " Fix: " : "", fix);
    }
    int any_grad = 0;
    for (int k = 0; k < 4; k++) any_grad |= r->grad[k] != NULL;
    if (any_grad) {
        fprintf(f, "\n## Gradients (backward entry, SPEC A8)\n\nPer element against the exact "
                   "gradient; row_rel = err / max_j |g_j| over the row, scale_rel = err tau / w.\n\n"
                   "| reduction | class | elements | correctly rounded | max ulp | p99 ulp | max abs | "
                   "max row_rel | max scale_rel | class mismatches | NaN leaks | empty rows not 0 | "
                   "over bound | result |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                   "| ---: | ---: | ---: | ---: | --- |\n");
        for (int k = 0; k < 4; k++)
            if (r->grad[k]) ck_grad_cert_rows(f, r->grad[k]);
    }
    int nfail = 0;
    for (size_t i = 0; i < r->ng; i++) nfail += ck_group_failed(r, &r->g[i]);
    if (nfail) {
        fprintf(f, "\n## Worst values of the failing groups\n\n```\n");
        worst_values(f, r, h, "", 1);
        fprintf(f, "```\n");
    }
    fprintf(f, "\n## Verdict\n\n**%s**: %lld cases, %lld values compared, %d of %zu groups failing; "
               "%s.\n", verdict_word(failed), (long long)r->cases, (long long)r->values, nfail, r->ng,
            bt);
    if (fclose(f) != 0) {
        free(text);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory writing %s", path);
    }
    lp_status s = lp_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

void ck_cand_text(char *buf, size_t n, const char *what, const unsigned fm[CK_NOUT])
{
    size_t l = (size_t)snprintf(buf, n, "%s: outputs", what);
    int any = 0;
    for (int o = 0; o < CK_NOUT && l < n; o++) {
        if (!fm[o]) continue;
        l += (size_t)snprintf(buf + l, n - l, "%s %s (", any++ ? "," : "", ck_tensor_name(o));
        int k = 0;
        for (int f = 0; f < LP_NFORMATS && l < n; f++)
            if (fm[o] & (1u << f))
                l += (size_t)snprintf(buf + l, n - l, "%s%s", k++ ? " " : "", lp_format_name((lp_format)f));
        if (l < n) l += (size_t)snprintf(buf + l, n - l, ")");
    }
}

void ck_suite_text(char *buf, size_t n, const ck_suite *su, const char *path, const char *glob)
{
    const char *gen = lp_tfile_meta(su->f, "generator"), *seed = lp_tfile_meta(su->f, "seed");
    snprintf(buf, n, "%s: %zu cases%s%s%s%s%s%s", path, su->n, glob ? " matching " : "",
             glob ? glob : "", gen ? ", from " : "", gen ? gen : "", seed ? ", seed " : "",
             seed ? seed : "");
}

lp_status ck_header_add_file(ck_header *h, const char *role, const char *path, char *store,
                             lp_error *err)
{
    for (int i = 0; i < h->nfiles; i++)
        if (strcmp(h->files[i].path, path) == 0) return LP_OK;
    if (h->nfiles >= (int)(sizeof h->files / sizeof h->files[0])) return LP_OK;
    ck_file *f = &h->files[h->nfiles];
    f->role = role;
    f->path = strcpy(store, path);
    lp_status s = ck_sha256_file(f->sha256, path, err);
    if (s == LP_OK) h->nfiles++;
    return s;
}
