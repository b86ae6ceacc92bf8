/* check/diag.c: diagnoses: what a wrong candidate got wrong. A masked row that can leak into
 * a multiply-masked sum; the usual mistakes (wrong shift, temperature ignored or multiplied),
 * recognised when the candidate's wrong values match what that mistake computes.
 *
 * A diagnosis is evidence, never a verdict: the verdict comes from the exact comparison alone.
 * The mistaken values are computed in double by a plain two-pass (max shift) log-softmax, which is
 * far more accurate than the match tolerance: max(64 ulp_F, 2^-16 max(1, |value|)) for a
 * candidate in format F (an f32 kernel's own error is near 2^-20 relative). A value counts as
 * wrong when it is a class mismatch, or off by more than 64 ulp and 2^-10 max(1, |x|); a mistake
 * is diagnosed when it explains at least 90% of the wrong values of a case it applies to. NaN
 * outputs are left to the class and leak diagnoses, and only finite values count as matches.
 *
 * An overflow: a candidate -inf where the correctly rounded value is finite, on a row whose range
 * overflows a format the kernel may compute in (its output format when narrower than f32, then
 * f32, then f64): logits / temperature out of range, x_label - max below -max_finite, or exp(x)
 * overflowing for a kernel without the max shift. */
#include <math.h>

#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_problem.h"

uint64_t ck_format_steps(double a, double b, lp_format f)
{
    int64_t ka, kb;
    uint64_t ua, ub, sign;
    switch (f) {
    case LP_F64: ua = lp_bits_f64(a); ub = lp_bits_f64(b); sign = UINT64_C(1) << 63; break;
    case LP_F32:
        ua = lp_bits_f32(lp_f32_from_f64(a));
        ub = lp_bits_f32(lp_f32_from_f64(b));
        sign = UINT64_C(1) << 31;
        break;
    case LP_F16: ua = lp_f16_from_f64(a); ub = lp_f16_from_f64(b); sign = 0x8000; break;
    default: ua = lp_bf16_from_f64(a); ub = lp_bf16_from_f64(b); sign = 0x8000; break;
    }
    ka = (ua & sign) ? -(int64_t)(ua & ~sign) : (int64_t)ua;
    kb = (ub & sign) ? -(int64_t)(ub & ~sign) : (int64_t)ub;
    return ka > kb ? (uint64_t)(ka - kb) : (uint64_t)(kb - ka);
}

int ck_row_hazard(const lp_problem *pb, int64_t b, int64_t ts, int64_t b0, char *what, size_t cap)
{
    const void *row = lp_problem_row(pb, b, ts);
    const int64_t V = pb->shape.V, tl = lp_problem_label_t(pb, ts);
    const int64_t lab = lp_problem_label(pb, b, tl);
    int64_t all_neginf = 1;
    for (int64_t v = 0; v < V; v++) {
        double x = lp_load_f64(row, pb->fmt, (size_t)v);
        if (isnan(x) || x == HUGE_VAL) {
            snprintf(what, cap, "the non-counted row b=%lld t=%lld holds %s at v=%lld",
                     (long long)(b0 + b), (long long)ts, isnan(x) ? "NaN" : "+inf", (long long)v);
            return 1;
        }
        if (x != -HUGE_VAL) all_neginf = 0;
    }
    if (all_neginf) {
        snprintf(what, cap, "the non-counted row b=%lld t=%lld is all -inf", (long long)(b0 + b),
                 (long long)ts);
        return 1;
    }
    const int64_t g = lab >= 0 && lab < V ? lab : 0;
    if (lp_load_f64(row, pb->fmt, (size_t)g) == -HUGE_VAL) {
        snprintf(what, cap,
                 "the non-counted row b=%lld t=%lld (label %lld) is -inf at the %s %lld, and "
                 "0 * -inf = NaN", (long long)(b0 + b), (long long)ts, (long long)lab,
                 g == lab ? "label" : "dummy label", (long long)g);
        return 1;
    }
    return 0;
}

/* A3 on one row, in double: the value a plain two-pass kernel computes (NaN/-inf by A3). */
static double approx_logp(const lp_problem *pb, int64_t b, int64_t ts, int64_t label, double tau)
{
    const void *row = lp_problem_row(pb, b, ts);
    const int64_t V = pb->shape.V;
    double m = -HUGE_VAL;
    for (int64_t v = 0; v < V; v++) {
        double x = lp_load_f64(row, pb->fmt, (size_t)v) / tau;
        if (isnan(x) || x == HUGE_VAL) return (double)NAN;
        if (x > m) m = x;
    }
    if (m == -HUGE_VAL) return (double)NAN;
    double xy = lp_load_f64(row, pb->fmt, (size_t)label) / tau;
    if (xy == -HUGE_VAL) return -HUGE_VAL;
    double s = 0;
    for (int64_t v = 0; v < V; v++) s += exp(lp_load_f64(row, pb->fmt, (size_t)v) / tau - m);
    return (xy - m) - log(s);
}

/* Why row (b, ts) scored at label lab overflows format c, into what; 0 when it does not. */
static int overflow_in(const lp_problem *pb, int64_t b, int64_t ts, int64_t lab, lp_format c,
                       char *what, size_t cap)
{
    const void *row = lp_problem_row(pb, b, ts);
    const int64_t V = pb->shape.V;
    const lp_format_info *fi = lp_format_get(c);
    const double tau = pb->temperature, big = ldexp(2 - ldexp(1, 1 - fi->prec), fi->emax);
    const double lbig = log(big);
    const char *cn = lp_format_name(c);
    double m = -HUGE_VAL;
    int64_t vm = 0;
    for (int64_t v = 0; v < V; v++) {
        const double x = lp_load_f64(row, pb->fmt, (size_t)v), xt = x / tau;
        if (isnan(x)) return 0;
        if (isfinite(x) && fabs(xt) > big) {
            if (tau != 1)
                snprintf(what, cap, "logits / temperature overflows %s (x = %g at v=%lld, "
                         "temperature %g)", cn, x, (long long)v, tau);
            else
                snprintf(what, cap, "the logit %g at v=%lld is out of %s's range", x, (long long)v, cn);
            return 1;
        }
        if (xt > m) { m = xt; vm = v; }
    }
    if (!isfinite(m) || lab < 0 || lab >= V) return 0;
    const double xy = lp_load_f64(row, pb->fmt, (size_t)lab) / tau;
    if (isfinite(xy) && xy - m < -big) {
        snprintf(what, cap, "x_label - max = %g - %g overflows %s", xy, m, cn);
        return 1;
    }
    if (m > lbig) {
        snprintf(what, cap, "exp(x) overflows %s for x = %g at v=%lld unless the row max is "
                 "subtracted first", cn, m, (long long)vm);
        return 2;
    }
    return 0;
}

/* The formats a kernel with output format f may compute in, narrowest first; their count. */
static int compute_formats(lp_format f, lp_format out[3])
{
    int n = 0;
    if (f == LP_F16 || f == LP_BF16) out[n++] = f;
    if (f != LP_F64) out[n++] = LP_F32;
    out[n++] = LP_F64;
    return n;
}

/* The first of the -inf rows of sequence b (token ts, or any counted row for a sum: ts < 0)
 * that the range explains; 0 when none does. */
static int explain_row(const lp_problem *pb, const lp_ref_result *ref, int64_t b, int64_t ts,
                       lp_format f, char *what, size_t cap, lp_format *cfmt)
{
    lp_format cf[3];
    const int nc = compute_formats(f, cf);
    for (int64_t t = ts < 0 ? 0 : ts; t < (ts < 0 ? ref->Ts : ts + 1); t++) {
        if (!ref->counted[b * ref->Ts + t]) continue;
        const int64_t lab = lp_problem_label(pb, b, lp_problem_label_t(pb, t));
        for (int k = 0; k < nc; k++) {
            const int why = overflow_in(pb, b, t, lab, cf[k], what, cap);
            if (why) {
                *cfmt = cf[k];
                return why;
            }
        }
    }
    return 0;
}

/* Counts, for an overflow diagnosis, the -inf values of a case (sequences b0 + b) whose correctly
 * rounded value is finite and those the row's range explains, keeping the first explained one
 * (tokens; sums when the candidate has no tokens). */
static void tally_overflow(ck_case_tally *tl, int64_t b0, const lp_problem *pb,
                           const lp_ref_result *ref, const ck_outputs *cand)
{
    const int tok = cand->a[CK_TOKEN].present;
    const ck_array *a = tok ? &cand->a[CK_TOKEN] : &cand->a[CK_SUM];
    if (!a->present) return;
    const int64_t B = ref->B, Ts = ref->Ts;
    for (int64_t b = 0; b < B; b++)
        for (int64_t ts = 0; ts < (tok ? Ts : 1); ts++) {
            const int64_t i = tok ? b * Ts + ts : b;
            if (tok && !ref->counted[i]) continue;
            const double want = lp_value_wide(tok ? &ref->logp[i] : &ref->sum[b], a->fmt);
            if (a->v[i] != -HUGE_VAL || !isfinite(want)) continue;
            tl->ovf_n++;
            char what[200];
            lp_format cf;
            const int why = explain_row(pb, ref, b, tok ? ts : -1, a->fmt, what, sizeof what, &cf);
            if (!why || tl->ovf_explained++) continue;
            if (tok)
                snprintf(tl->ovf_first, sizeof tl->ovf_first, "token b=%lld t=%lld: -inf where "
                         "the correctly rounded value is %.6g; %s", (long long)(b0 + b),
                         (long long)ts, want, what);
            else
                snprintf(tl->ovf_first, sizeof tl->ovf_first, "sum of sequence b=%lld: -inf "
                         "where the correctly rounded value is %.6g; %s", (long long)(b0 + b),
                         want, what);
            snprintf(tl->ovf_fix, sizeof tl->ovf_fix, "computing in %s overflowed: %scompute the "
                     "max-shifted difference in a wider format or check the input range",
                     lp_format_name(cf), why == 2 ? "subtract the row max before exp (log_softmax, "
                     "logsumexp), " : "");
        }
}

int ck_is_wrong(double y, const lp_err_measure *m, double x_hi)
{
    if (isnan(y)) return 0;   /* NaN outputs: class and leak diagnoses, not these */
    if (m->cls == LP_CMP_MISMATCH) return 1;
    return m->cls == LP_CMP_NUMBER && m->err_ulp > 64 && m->err_abs > 0x1p-10 * fmax(1, fabs(x_hi));
}

static int is_wrong(double y, const lp_value *want, lp_format f)
{
    const lp_err_measure m = lp_ulp_error(y, want->dd, lp_value_wide(want, f), f);
    return ck_is_wrong(y, &m, want->dd.hi);
}

/* The diagnoses' test of token i (tok) or sum b: from the judge's flags when given. */
static int wrong_at(const uint8_t *flags, int64_t k, double y, const lp_value *want, lp_format f)
{
    return flags ? flags[k] : is_wrong(y, want, f);
}

static int matches(double y, double alt, double scale, lp_format f)
{
    if (!isfinite(y) || !isfinite(alt)) return 0;   /* only numbers are evidence */
    lp_dd d = {alt, 0};
    double tol = fmax(64 * lp_ulp_of(d, f), 0x1p-16 * fmax(1, scale));
    return fabs(y - alt) <= tol;
}

enum { H_SHIFT_NONE, H_SHIFT_LATE, H_SHIFT_NEXT, H_NO_TEMP, H_TEMP_MUL, NH };
_Static_assert(NH == CK_NHYP, "ck_case_tally's hypotheses");

/* The mistaken token (b, ts) under hypothesis h: its row, label and temperature; 0 when the
 * hypothesis says nothing about it (or does not count it). */
static int hyp_token(const lp_problem *pb, int h, int64_t b, int64_t ts, int64_t *row_t,
                     int64_t *lab, double *tau)
{
    const int64_t T = pb->shape.T, V = pb->shape.V;
    int64_t tl;
    *tau = pb->temperature;
    *row_t = ts;
    switch (h) {
    case H_SHIFT_NONE: tl = ts; break;
    case H_SHIFT_LATE: tl = ts + 1; *row_t = ts + 1; break;
    case H_SHIFT_NEXT: tl = ts + 1; break;
    case H_NO_TEMP: tl = lp_problem_label_t(pb, ts); *tau = 1; break;
    default: tl = lp_problem_label_t(pb, ts); *tau = 1 / pb->temperature; break;
    }
    if (tl >= T || *row_t >= T) return 0;
    *lab = lp_problem_label(pb, b, tl);
    if (*lab == pb->ignore_index || !lp_problem_mask(pb, b, tl) || *lab < 0 || *lab >= V) return 0;
    return 1;
}

static int hyp_applies(const lp_problem *pb, int h)
{
    switch (h) {
    case H_SHIFT_NONE: case H_SHIFT_LATE: return pb->shift == LP_SHIFT_NEXT;
    case H_SHIFT_NEXT: return pb->shift == LP_SHIFT_NONE;
    default: return pb->temperature != 1;
    }
}

static const int hyp_diag[NH] = {CK_D_SHIFT_NONE, CK_D_SHIFT_LATE, CK_D_SHIFT_NEXT, CK_D_NO_TEMP,
                                  CK_D_TEMP_MUL};

void ck_diagnose_tally(ck_case_tally *tl, const ck_run *r, const char *name, const lp_problem *pb,
                       const lp_ref_result *ref, const ck_outputs *cand, const uint8_t *wrong_tok,
                       const uint8_t *wrong_sum)
{
    const int64_t B = ref->B, Ts = ref->Ts;
    const ck_array *ct = &cand->a[CK_TOKEN], *csum = &cand->a[CK_SUM];
    if (!tl->set) snprintf(tl->name, sizeof tl->name, "%s", name);
    tl->set = 1;
    tally_overflow(tl, r->b0, pb, ref, cand);
    int64_t n_wrong_tok = 0, n_wrong_sum = 0;
    if (ct->present)
        for (int64_t i = 0; i < B * Ts; i++)
            if (ref->counted[i] && wrong_at(wrong_tok, i, ct->v[i], &ref->logp[i], ct->fmt)) n_wrong_tok++;
    if (csum->present)
        for (int64_t b = 0; b < B; b++)
            if (wrong_at(wrong_sum, b, csum->v[b], &ref->sum[b], csum->fmt)) n_wrong_sum++;
    tl->wrong_tok += n_wrong_tok;
    tl->wrong_sum += n_wrong_sum;
    for (int h = 0; h < NH; h++) {
        tl->applies[h] = hyp_applies(pb, h);
        if (!tl->applies[h] || (n_wrong_tok == 0 && n_wrong_sum == 0)) continue;
        int64_t row_t, lab;
        double tau;
        if (ct->present && n_wrong_tok)
            for (int64_t b = 0; b < B; b++)
                for (int64_t ts = 0; ts < Ts; ts++) {
                    const int64_t i = b * Ts + ts;
                    if (!ref->counted[i] || !wrong_at(wrong_tok, i, ct->v[i], &ref->logp[i], ct->fmt)) continue;
                    if (!hyp_token(pb, h, b, ts, &row_t, &lab, &tau)) continue;
                    double alt = approx_logp(pb, b, row_t, lab, tau);
                    if (matches(ct->v[i], alt, alt, ct->fmt)) tl->match_tok[h]++;
                }
        if (csum->present && n_wrong_sum)
            for (int64_t b = 0; b < B; b++) {
                if (!wrong_at(wrong_sum, b, csum->v[b], &ref->sum[b], csum->fmt)) continue;
                double alt = 0, mag = 0;
                for (int64_t ts = 0; ts < Ts; ts++)
                    if (hyp_token(pb, h, b, ts, &row_t, &lab, &tau)) {
                        double v = approx_logp(pb, b, row_t, lab, tau);
                        alt += v;
                        mag += fabs(v);
                    }
                if (matches(csum->v[b], alt, mag, csum->fmt)) tl->match_sum[h]++;
            }
    }
}

void ck_case_tally_add(ck_case_tally *a, const ck_case_tally *b)
{
    if (!b->set) return;
    if (!a->set) {
        *a = *b;
        return;
    }
    a->wrong_tok += b->wrong_tok;
    a->wrong_sum += b->wrong_sum;
    for (int h = 0; h < NH; h++) {
        a->applies[h] |= b->applies[h];
        a->match_tok[h] += b->match_tok[h];
        a->match_sum[h] += b->match_sum[h];
    }
    if (!a->ovf_explained && b->ovf_explained) {
        memcpy(a->ovf_first, b->ovf_first, sizeof a->ovf_first);
        memcpy(a->ovf_fix, b->ovf_fix, sizeof a->ovf_fix);
    }
    a->ovf_n += b->ovf_n;
    a->ovf_explained += b->ovf_explained;
}

void ck_diagnose_decide(ck_run *r, const ck_case_tally *t)
{
    if (!t->set) return;
    if (t->ovf_explained) {
        ck_diag *d = &r->d[CK_D_OVERFLOW];
        if (d->n == 0) snprintf(d->fix, sizeof d->fix, "%s", t->ovf_fix);
        ck_run_diag(r, CK_D_OVERFLOW, "case %s, %s (%lld of %lld such -inf values explained)",
                    t->name, t->ovf_first, (long long)t->ovf_explained, (long long)t->ovf_n);
    }
    const int64_t nt = t->wrong_tok, ns = t->wrong_sum;
    if (nt == 0 && ns == 0) return;
    for (int h = 0; h < NH; h++) {
        if (!t->applies[h]) continue;
        const int tok_ok = nt && t->match_tok[h] * 10 >= nt * 9;
        const int sum_ok = ns && t->match_sum[h] * 10 >= ns * 9;
        if ((tok_ok && (sum_ok || !ns)) || (sum_ok && !nt)) {
            ck_run_diag(r, hyp_diag[h], "case %s: %lld of %lld wrong tokens and %lld of %lld wrong "
                        "sums match it", t->name, (long long)t->match_tok[h], (long long)nt,
                        (long long)t->match_sum[h], (long long)ns);
        }
    }
}

void ck_diagnose_case(ck_run *r, const char *name, const lp_problem *pb, const lp_ref_result *ref,
                      const ck_outputs *cand, const uint8_t *wrong_tok, const uint8_t *wrong_sum)
{
    ck_case_tally t;
    memset(&t, 0, sizeof t);
    ck_diagnose_tally(&t, r, name, pb, ref, cand, wrong_tok, wrong_sum);
    ck_diagnose_decide(r, &t);
}
