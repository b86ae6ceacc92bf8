/* check/audit_report.c: the reports of an audit (SPEC A9): Markdown text and JSON. The figures
 * and their exactness are audit.c's; here they are only written out. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "lp_audit_internal.h"
#include "lp_check_internal.h"
#include "lp_buf.h"
#include "lp_core.h"
#include "lp_file.h"

static const char *const level_key[LP_AUDIT_NLEVELS] = {"tokens", "sum", "mean"};
static const char *const level_title[LP_AUDIT_NLEVELS] = {"tokens", "sequence sums",
                                                          "sequence means"};


void au_semantics_text(char *buf, size_t n, const au_side_info *s)
{
    lp_text t = {0};
    char v[40];
    lp_text_printf(&t, "temperature %s", ck_shortest(v, sizeof v, s->temperature));
    if (s->sampling.softcap != 0)
        lp_text_printf(&t, ", softcap %s", ck_shortest(v, sizeof v, s->sampling.softcap));
    if (s->sampling.top_k != 0) lp_text_printf(&t, ", top_k %lld", (long long)s->sampling.top_k);
    if (s->sampling.top_p != 0) lp_text_printf(&t, ", top_p %s", ck_shortest(v, sizeof v, s->sampling.top_p));
    if (s->sampling.min_p != 0) lp_text_printf(&t, ", min_p %s", ck_shortest(v, sizeof v, s->sampling.min_p));
    snprintf(buf, n, "%s", t.p ? t.p : "");
    lp_text_free(&t);
}

static void side_line(lp_text *t, const lp_audit *au, int k)
{
    const au_side_info *s = &au->side[k];
    lp_text_printf(t, "- **%s** = `%s` (%s)", k ? "b" : "a", s->name, lp_format_name(s->fmt));
    if (s->has_logits) {
        char sem[200];
        au_semantics_text(sem, sizeof sem, s);
        lp_text_printf(t, "; its logits L%s: %s, V = %lld; exact(L%s) with %s\n", k ? "b" : "a",
                       lp_format_name(s->logits_fmt), (long long)s->V, k ? "b" : "a", sem);
    } else {
        lp_text_printf(t, "; no logits given\n");
    }
}

static void at_text(char *buf, size_t n, int64_t b, int64_t t)
{
    if (b < 0) snprintf(buf, n, "-");
    else if (t < 0) snprintf(buf, n, "b=%lld", (long long)b);
    else snprintf(buf, n, "b=%lld, t=%lld", (long long)b, (long long)t);
}

static void hist_label(char *buf, size_t n, int bin)
{
    if (bin == 0) {
        snprintf(buf, n, "0");
        return;
    }
    const int e = bin - 1 + LP_AUDIT_HIST_EMIN;
    if (e == LP_AUDIT_HIST_EMIN) snprintf(buf, n, "(0, 2^%d)", e + 1);
    else if (e == LP_AUDIT_HIST_EMAX) snprintf(buf, n, "[2^%d, inf)", e);
    else snprintf(buf, n, "[2^%d, 2^%d)", e, e + 1);
}

lp_status lp_audit_markdown(char **text, const lp_audit *au, lp_error *err)
{
    *text = NULL;
    lp_text t = {0};
    const lp_audit_figures *f0 = &au->lev[0];
    lp_text_printf(&t, "# lpcert audit: a - b\n\n");
    side_line(&t, au, 0);
    side_line(&t, au, 1);
    lp_text_printf(&t, "- tokens: B = %lld, T_s = %lld (shift %s), ignore_index %lld: %lld of %lld "
                   "scored tokens counted; %lld sequence%s with a counted token",
                   (long long)au->B, (long long)au->Ts, au->shift == LP_SHIFT_NEXT ? "next" : "none",
                   (long long)au->ignore_index, (long long)f0->count, (long long)au->scored,
                   (long long)au->lev[1].count, au->lev[1].count == 1 ? "" : "s");
    if (au->seqs_empty) lp_text_printf(&t, " (%lld without, left out of the sequence figures)",
                                       (long long)au->seqs_empty);
    lp_text_printf(&t, "\n\n");

    /* the verdict */
    double tot = 0;
    for (int k = 0; k < LP_AUDIT_NPARTS; k++)
        if (au->part[k].present) tot += au->part[k].mean_abs;
    if (au->dominant >= 0) {
        const lp_audit_split *d = &au->part[au->dominant];
        lp_text_printf(&t, "**Verdict: the dominant part of the gap is `%s` (%s): mean |part| %.3g "
                       "nats, %.1f%% of the parts' mean |part| summed.**\n\n", d->key, d->formula,
                       d->mean_abs, tot > 0 ? 100.0 * d->mean_abs / tot : 0.0);
        if (au->part[LP_AUDIT_A_VS_EXACT_B].present)
            lp_text_printf(&t, "Only b's logits were given: a's final op and the logits (and "
                           "semantics) difference are reported together as `final_op_a_and_logits` "
                           "= a - exact(Lb).\n\n");
        if (au->part[LP_AUDIT_EXACT_A_VS_B].present)
            lp_text_printf(&t, "Only a's logits were given: the logits (and semantics) difference "
                           "and b's final op are reported together as `logits_and_final_op_b` = "
                           "exact(La) - b.\n\n");
    } else if (au->side[0].has_logits || au->side[1].has_logits) {
        lp_text_printf(&t, "No token counts: there is nothing to split.\n\n");
    } else {
        lp_text_printf(&t, "No logits given: the gap is not split (give --logits-a and/or "
                       "--logits-b to split it into final ops and logits).\n\n");
    }

    lp_text_printf(&t, "## The gap x = a - b\n\n| level | n | mean abs | max abs | at | mean | k3 KL |");
    for (int k = 0; k < f0->nbands; k++) {
        char key[96];
        lp_audit_band_key(key, sizeof key, f0->band_lo[k], f0->band_hi[k]);
        lp_text_printf(&t, " outside [%s] |", key);
    }
    lp_text_printf(&t, "\n|---|--:|--:|--:|---|--:|--:|");
    for (int k = 0; k < f0->nbands; k++) lp_text_printf(&t, "--:|");
    lp_text_printf(&t, "\n");
    for (int l = 0; l < LP_AUDIT_NLEVELS; l++) {
        const lp_audit_figures *f = &au->lev[l];
        char at[64];
        at_text(at, sizeof at, f->max_b, f->max_t);
        lp_text_printf(&t, "| %s | %lld | %.6g | %.6g | %s | %.6g | %.6g |", level_title[l],
                       (long long)f->count, f->mean_abs_delta, f->max_abs_delta, at, f->mean_delta,
                       f->k3_kl);
        for (int k = 0; k < f->nbands; k++)
            lp_text_printf(&t, " %.4f%% (%lld) |", 100.0 * f->out_of_band_frac[k],
                           (long long)f->out_of_band[k]);
        lp_text_printf(&t, "\n");
    }
    lp_text_printf(&t, "\n");

    if (au->dominant >= 0) {
        lp_text_printf(&t, "## The split of each token's gap\n\n| part | = | n | mean abs | p99 abs | "
                       "max abs | at | mean | share |\n|---|---|--:|--:|--:|--:|---|--:|--:|\n");
        double bound = 0;
        for (int k = 0; k < LP_AUDIT_NPARTS; k++) {
            const lp_audit_split *p = &au->part[k];
            if (!p->present) continue;
            char at[64];
            at_text(at, sizeof at, p->max_b, p->max_t);
            lp_text_printf(&t, "| `%s` | %s | %lld | %.6g | %.6g | %.6g | %s | %.6g | %.1f%% |\n",
                           p->key, p->formula, (long long)p->n, p->mean_abs, p->p99_abs, p->max_abs,
                           at, p->mean, tot > 0 ? 100.0 * p->mean_abs / tot : 0.0);
            if (p->dd_bound > bound) bound = p->dd_bound;
        }
        lp_text_printf(&t, "\nPer sequence (the parts of its counted tokens summed, and that sum "
                       "over n):\n\n| part | of | n | mean abs | p99 abs | max abs | at | mean |\n"
                       "|---|---|--:|--:|--:|--:|---|--:|\n");
        for (int k = 0; k < LP_AUDIT_NPARTS; k++) {
            const lp_audit_split *p = &au->part[k];
            for (int l = 0; p->present && l < 2; l++) {
                const lp_audit_split_seq *q = &p->seq[l];
                char at[64];
                at_text(at, sizeof at, q->max_b, -1);
                lp_text_printf(&t, "| `%s` | %s | %lld | %.6g | %.6g | %.6g | %s | %.6g |\n", p->key,
                               l ? "means" : "sums", (long long)q->n, q->mean_abs, q->p99_abs,
                               q->max_abs, at, q->mean);
            }
        }
        lp_text_printf(&t, "\nHistogram of |part| (tokens per binade of the rounded |part|):\n\n"
                       "| |part| |");
        for (int k = 0; k < LP_AUDIT_NPARTS; k++)
            if (au->part[k].present) lp_text_printf(&t, " `%s` |", au->part[k].key);
        lp_text_printf(&t, "\n|---|");
        for (int k = 0; k < LP_AUDIT_NPARTS; k++)
            if (au->part[k].present) lp_text_printf(&t, "--:|");
        lp_text_printf(&t, "\n");
        for (int bin = 0; bin < LP_AUDIT_HIST_BINS; bin++) {
            int64_t any = 0;
            for (int k = 0; k < LP_AUDIT_NPARTS; k++)
                if (au->part[k].present) any += au->part[k].hist[bin];
            if (!any) continue;
            char lab[48];
            hist_label(lab, sizeof lab, bin);
            lp_text_printf(&t, "| %s |", lab);
            for (int k = 0; k < LP_AUDIT_NPARTS; k++)
                if (au->part[k].present) lp_text_printf(&t, " %lld |", (long long)au->part[k].hist[bin]);
            lp_text_printf(&t, "\n");
        }
        lp_text_printf(&t, "\nThe split's figures are exact figures of parts computed from the "
                       "reference's double-double values, which are within %.3g of the exact parts "
                       "(dd_bound).\n\n", bound);
    }

    lp_text_printf(&t,
        "## Definitions\n\n"
        "A token counts when its label is not ignore_index and its mask is 1 (with shift next, "
        "a[b, t] scores labels[b, t+1]). a and b are taken exactly as stored (widened to binary64 "
        "without rounding). For a token x = a - b; for a sequence with n >= 1 counted tokens, "
        "sums: x = sum a - sum b, means: x = (sum a - sum b) / n; every difference, sum and "
        "quotient is exact (rational arithmetic), and each figure is the exact figure rounded once "
        "to the nearest binary64 (ties to even): mean abs = (1/N) sum |x|, max abs = max |x| "
        "(at: where it is first reached), mean = (1/N) sum x, k3 KL = (1/N) sum (r - 1 - log r) "
        "with r = exp(b - a) (for sequences r = exp of minus that level's x), outside [lo, hi] = "
        "the count of values with exp(x) < lo or exp(x) > hi, decided exactly (the band's ends are "
        "the binary64 values of the decimals given), as a percentage of N. The tables print 6 "
        "significant digits (percentages 4 decimals); --json gives every figure in full.\n\n"
        "The split: exact(L) is the reference (lp_ref_compute) on that side's logits with that "
        "side's semantics; per token a - b = (a - exact(La)) + (exact(La) - exact(Lb)) + "
        "(exact(Lb) - b), the final op of a, the logits (and semantics) difference, the final op "
        "of b. max abs, mean abs and mean as above over the counted tokens; p99 abs is the "
        "ceil(0.99 N)-th smallest rounded |part| (nearest rank); share is the part's mean abs over "
        "the sum of the parts' mean abs; the dominant part has the largest mean abs. Per sequence: "
        "the part summed over the sequence's counted tokens (sums) and that sum over n (means), "
        "with the same figures over the sequences.\n");
    if (t.oom) {
        lp_text_free(&t);
        return lp_fail(err, LP_ERR_NOMEM, "audit: out of memory writing the report");
    }
    *text = t.p;
    return LP_OK;
}

/* A finite figure as the shortest decimal that reads back as the same binary64 (cJSON's own
 * printing accepts 15 digits that are only within an epsilon: one ulp off, measured by
 * tests/e2e_audit.py); NaN and infinities as strings (JSON has no such numbers). */
static void add_num(cJSON *o, const char *k, double v)
{
    char buf[40];
    if (isfinite(v)) cJSON_AddRawToObject(o, k, ck_shortest(buf, sizeof buf, v));
    else cJSON_AddStringToObject(o, k, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static cJSON *level_json(const lp_audit_figures *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)f->count);
    add_num(o, "mean_abs_delta", f->mean_abs_delta);
    add_num(o, "max_abs_delta", f->max_abs_delta);
    add_num(o, "mean_delta", f->mean_delta);
    add_num(o, "k3_kl", f->k3_kl);
    cJSON *at = cJSON_AddObjectToObject(o, "max_at");
    cJSON_AddNumberToObject(at, "b", (double)f->max_b);
    if (f->max_t >= 0) cJSON_AddNumberToObject(at, "t", (double)f->max_t);
    cJSON *ob = cJSON_AddObjectToObject(o, "out_of_band");
    cJSON *oc = cJSON_AddObjectToObject(o, "out_of_band_count");
    for (int k = 0; k < f->nbands; k++) {
        char key[96];
        lp_audit_band_key(key, sizeof key, f->band_lo[k], f->band_hi[k]);
        add_num(ob, key, f->out_of_band_frac[k]);
        cJSON_AddNumberToObject(oc, key, (double)f->out_of_band[k]);
    }
    return o;
}

static cJSON *side_json(const au_side_info *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "dtype", lp_format_name(s->fmt));
    if (s->has_logits) {
        cJSON *l = cJSON_AddObjectToObject(o, "logits");
        cJSON_AddStringToObject(l, "dtype", lp_format_name(s->logits_fmt));
        cJSON_AddNumberToObject(l, "V", (double)s->V);
        add_num(l, "temperature", s->temperature);
        add_num(l, "softcap", s->sampling.softcap);
        cJSON_AddNumberToObject(l, "top_k", (double)s->sampling.top_k);
        add_num(l, "top_p", s->sampling.top_p);
        add_num(l, "min_p", s->sampling.min_p);
    }
    return o;
}

lp_status lp_audit_write_json(const lp_audit *au, const char *path, lp_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(root, "inputs");
    cJSON_AddItemToObject(in, "a", side_json(&au->side[0]));
    cJSON_AddItemToObject(in, "b", side_json(&au->side[1]));
    cJSON_AddNumberToObject(in, "B", (double)au->B);
    cJSON_AddNumberToObject(in, "T_s", (double)au->Ts);
    cJSON_AddStringToObject(in, "shift", au->shift == LP_SHIFT_NEXT ? "next" : "none");
    cJSON_AddNumberToObject(in, "ignore_index", (double)au->ignore_index);
    cJSON_AddNumberToObject(in, "scored", (double)au->scored);
    cJSON_AddItemToObject(root, "tokens", level_json(&au->lev[LP_AUDIT_TOKENS]));
    cJSON *seq = cJSON_AddObjectToObject(root, "sequences");
    cJSON_AddNumberToObject(seq, "empty", (double)au->seqs_empty);
    for (int l = 1; l < LP_AUDIT_NLEVELS; l++)
        cJSON_AddItemToObject(seq, level_key[l], level_json(&au->lev[l]));
    if (au->dominant >= 0) {
        cJSON *sp = cJSON_AddObjectToObject(root, "split");
        for (int k = 0; k < LP_AUDIT_NPARTS; k++) {
            const lp_audit_split *p = &au->part[k];
            if (!p->present) continue;
            cJSON *o = cJSON_AddObjectToObject(sp, p->key);
            cJSON_AddStringToObject(o, "formula", p->formula);
            cJSON_AddNumberToObject(o, "count", (double)p->n);
            add_num(o, "max_abs", p->max_abs);
            add_num(o, "mean_abs", p->mean_abs);
            add_num(o, "p99_abs", p->p99_abs);
            add_num(o, "mean", p->mean);
            add_num(o, "dd_bound", p->dd_bound);
            cJSON *at = cJSON_AddObjectToObject(o, "max_at");
            cJSON_AddNumberToObject(at, "b", (double)p->max_b);
            cJSON_AddNumberToObject(at, "t", (double)p->max_t);
            cJSON *sq = cJSON_AddObjectToObject(o, "sequences");
            for (int l = 0; l < 2; l++) {
                const lp_audit_split_seq *q = &p->seq[l];
                cJSON *e = cJSON_AddObjectToObject(sq, l ? "mean" : "sum");
                cJSON_AddNumberToObject(e, "count", (double)q->n);
                add_num(e, "max_abs", q->max_abs);
                add_num(e, "mean_abs", q->mean_abs);
                add_num(e, "p99_abs", q->p99_abs);
                add_num(e, "mean", q->mean);
                add_num(e, "dd_bound", q->dd_bound);
                cJSON_AddNumberToObject(e, "max_at_b", (double)q->max_b);
            }
            cJSON *h = cJSON_AddArrayToObject(o, "hist");   /* [0]: zeros, then binades */
            for (int bin = 0; bin < LP_AUDIT_HIST_BINS; bin++)
                cJSON_AddItemToArray(h, cJSON_CreateNumber((double)p->hist[bin]));
        }
        cJSON_AddStringToObject(sp, "dominant", au->part[au->dominant].key);
        cJSON_AddNumberToObject(sp, "hist_emin", LP_AUDIT_HIST_EMIN);
        cJSON_AddNumberToObject(sp, "hist_emax", LP_AUDIT_HIST_EMAX);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "audit: out of memory writing JSON");
    lp_status s = lp_write_line_atomic(path, text, err);
    free(text);
    return s;
}
