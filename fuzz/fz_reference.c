/* fz_reference.c: on any decoded problem, lp_ref_compute gives a clean input error or results that
 * obey SPEC A2/A3 and are invariant under exact row shifts, vocabulary permutations and batching.
 *
 * Checked, with the harness's own arithmetic (fz_check.c) wherever it can be:
 *  ERRORS   an input error exactly when a scored label is outside [0, V) and not ignore_index, or a
 *           mask byte is not 0/1: LP_ERR_INPUT, one non-empty line without '\n' naming b=, t= and
 *           the value, no partial result. Otherwise LP_OK. MPFR's exponent range and flags are
 *           left as they were.
 *  TOKENS   counted flags and counts; uncounted tokens NaN; A3 classes (NaN, -inf, the exact +0),
 *           canonical NaNs; a finite class has its sign bit set in every format (the exact value
 *           is < 0) and lies in [RN(D - log n_finite), RN(D)], D = (x_y - max)/tau; agrees with a
 *           plain double evaluation within 1e-10 relative; dd.hi = f64, |dd.lo| <= ulp(hi)/2, and
 *           every format's value is the rounding of dd.hi + dd.lo unless that is within 2^-100
 *           relative of a rounding boundary of the format.
 *  SUMS     per sequence and for the batch: A3 classes (NaN, -inf, empty +0, empty_mean policy);
 *           otherwise, with e_i = 2^-103|hi_i| + 2^-1073 (the dd contract widened for |x|), every
 *           format's sum lies in [RN(sum(hi_i + lo_i - e_i)), RN(sum(hi_i + lo_i + e_i))] (all
 *           terms <= 0: no cancellation, so this pins the value unless it is near a boundary),
 *           the mean likewise divided by n, and between the smallest and largest counted token.
 *  INVARIANCE  bit-identical results (dd.lo within its allowed spread) after adding to each row a
 *           constant that keeps every logit exact, and after permuting the vocabulary (labels
 *           moved, ignore_index fixed); one sequence computed alone gives the same tokens, sum,
 *           mean and count; lp_ref_row on one counted token gives the same value. */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <string.h>

#include "fz_check.h"
#include "fz_decode.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lpcert.h"

#define H "fz_reference"
#define SUM_PREC 2400   /* holds any sum of doubles and their 2^-1176 error terms exactly */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fmt_names[LP_NFORMATS] = {"f64", "f32", "f16", "bf16"};

/* ---- errors --------------------------------------------------------------------------------- */

static int contains(const char *msg, const char *fmt, long long v)
{
    char want[48];
    snprintf(want, sizeof want, fmt, v);
    return strstr(msg, want) != NULL;
}

static void check_error(const lp_fz_problem *p, lp_status st, const lp_error *err,
                        const lp_ref_result *r)
{
    int64_t b, t, lab;
    const int bad_label = lp_fz_bad_label(p, &b, &t, &lab);
    int64_t bad_mask = -1;
    if (p->mask)
        for (int64_t i = 0; i < p->pb.shape.B * p->pb.shape.T && bad_mask < 0; i++)
            if (p->mask[i] > 1) bad_mask = i;
    if (!bad_label && bad_mask < 0) {
        LP_FZ_CHECK(st == LP_OK, H, p, "lp_ref_compute: %s on a valid problem: %s",
                    lp_status_name(st), err->msg);
        return;
    }
    LP_FZ_CHECK(st == LP_ERR_INPUT, H, p, "lp_ref_compute: %s where an input error is due",
                lp_status_name(st));
    const char *m = err->msg;
    LP_FZ_CHECK(m[0] != '\0' && strchr(m, '\n') == NULL, H, p,
                "input error message empty or not one line: '%s'", m);
    LP_FZ_CHECK(!r->logp && !r->sum && !r->mean && !r->count && !r->counted, H, p,
                "partial result left after an input error");
    if (bad_label) {
        LP_FZ_CHECK(contains(m, "b=%lld", (long long)b) && contains(m, "t=%lld", (long long)t) &&
                        contains(m, "%lld", (long long)lab),
                    H, p, "label error does not name b=%lld t=%lld label %lld: '%s'",
                    (long long)b, (long long)t, (long long)lab, m);
    } else {
        const int64_t T = p->pb.shape.T;
        LP_FZ_CHECK(contains(m, "b=%lld", (long long)(bad_mask / T)) &&
                        contains(m, "t=%lld", (long long)(bad_mask % T)),
                    H, p, "mask error does not name b=%lld t=%lld: '%s'",
                    (long long)(bad_mask / T), (long long)(bad_mask % T), m);
    }
}

/* ---- special values ------------------------------------------------------------------------- */

static void check_special(const lp_fz_problem *p, const lp_value *v, lp_fz_class c,
                          const char *what)
{
    char s[256];
    lp_fz_value_str(s, sizeof s, v);
    for (int f = 0; f < LP_NFORMATS; f++) {
        uint64_t bits = lp_fz_bits_in(v, (lp_format)f), want;
        const lp_format_info *fi = lp_format_get((lp_format)f);
        const uint64_t sign = UINT64_C(1) << (8 * fi->bytes - 1);
        const uint64_t inf = lp_fz_qnan((lp_format)f) & ~(UINT64_C(1) << (fi->prec - 2));
        want = c == LP_FZ_NAN ? lp_fz_qnan((lp_format)f) : c == LP_FZ_NEGINF ? sign | inf : 0;
        LP_FZ_CHECK(bits == want, H, p, "%s: %s is 0x%llx, want 0x%llx (class %d): %s", what,
                    fmt_names[f], (unsigned long long)bits, (unsigned long long)want, (int)c, s);
    }
    const int ok = c == LP_FZ_NAN ? isnan(v->dd.hi) && isnan(v->dd.lo)
                   : c == LP_FZ_NEGINF ? v->dd.hi == -HUGE_VAL && v->dd.lo == 0
                                       : lp_bits_f64(v->dd.hi) == 0 && v->dd.lo == 0;
    LP_FZ_CHECK(ok, H, p, "%s: dd of a class %d value: %s", what, (int)c, s);
}

/* ---- finite values -------------------------------------------------------------------------- */

static double ulp64(double hi)
{
    int e;
    frexp(hi, &e);   /* |hi| in [2^(e-1), 2^e) */
    return ldexp(1.0, (e - 1 < -1022 ? -1022 : e - 1) - 52);
}

/* Sign bits, dd shape, and each format against the rounding of hi + lo (skipped within 2^-100
 * relative of a rounding boundary: the dd is only known to 2^-104). */
static void check_finite_value(const lp_fz_problem *p, const lp_value *v, const char *what)
{
    char s[256];
    lp_fz_value_str(s, sizeof s, v);
    for (int f = 0; f < LP_NFORMATS; f++) {
        double x = lp_value_wide(v, (lp_format)f);
        LP_FZ_CHECK(!isnan(x) && signbit(x), H, p, "%s: %s not <= 0 (or -0): %s", what,
                    fmt_names[f], s);
    }
    LP_FZ_CHECK(lp_bits_f64(v->dd.hi) == lp_bits_f64(v->f64), H, p, "%s: dd.hi != f64: %s", what,
                s);
    if (isinf(v->f64)) {
        LP_FZ_CHECK(v->dd.lo == 0, H, p, "%s: dd.lo of an overflowed value not 0: %s", what, s);
        for (int f = 0; f < LP_NFORMATS; f++)
            LP_FZ_CHECK(lp_value_wide(v, (lp_format)f) == -HUGE_VAL, H, p,
                        "%s: f64 overflowed but %s did not: %s", what, fmt_names[f], s);
        return;
    }
    LP_FZ_CHECK(isfinite(v->dd.lo) && fabs(v->dd.lo) <= ulp64(v->dd.hi) / 2, H, p,
                "%s: |dd.lo| > ulp(dd.hi)/2: %s", what, s);
    mpfr_t z, lo, hi;
    mpfr_inits2(SUM_PREC, z, lo, hi, (mpfr_ptr)0);
    mpfr_set_d(z, v->dd.hi, MPFR_RNDN);
    mpfr_add_d(z, z, v->dd.lo, MPFR_RNDN);            /* exact */
    mpfr_abs(lo, z, MPFR_RNDN);
    mpfr_mul_2si(lo, lo, -100, MPFR_RNDN);
    mpfr_add_d(lo, lo, 0x1p-1073, MPFR_RNDU);         /* the slack */
    mpfr_add(hi, z, lo, MPFR_RNDU);
    mpfr_sub(lo, z, lo, MPFR_RNDD);
    for (int f = 0; f < LP_NFORMATS; f++) {
        double a = lp_fz_round(lo, (lp_format)f), b = lp_fz_round(hi, (lp_format)f);
        if (lp_bits_f64(a) != lp_bits_f64(b)) continue;   /* near a boundary: undecidable here */
        double x = lp_value_wide(v, (lp_format)f);
        LP_FZ_CHECK(lp_bits_f64(x) == lp_bits_f64(a), H, p,
                    "%s: %s = %a is not the rounding %a of dd.hi + dd.lo: %s", what, fmt_names[f],
                    x, a, s);
    }
    mpfr_clears(z, lo, hi, (mpfr_ptr)0);
}

/* log n rounded up at SUM_PREC, 1 <= n <= LP_FZ_MAX_LOGITS: a table made on first use (the same
 * values as mpfr_log each time, which costs an AGM at 2400 bits per token, and redid log 2 to 2400
 * bits while lp_ref_compute freed MPFR's constant cache; lp_fz_init now keeps it). Never freed:
 * LeakSanitizer sees it reachable. */
static mpfr_srcptr log_up(int64_t n)
{
    static mpfr_t tab[LP_FZ_MAX_LOGITS + 1];
    static int ready;
    if (!ready) {
        for (int i = 1; i <= LP_FZ_MAX_LOGITS; i++) {
            mpfr_init2(tab[i], SUM_PREC);
            mpfr_set_si(tab[i], i, MPFR_RNDN);
            mpfr_log(tab[i], tab[i], MPFR_RNDU);
        }
        ready = 1;
    }
    if (n < 1 || n > LP_FZ_MAX_LOGITS)
        lp_fz_fail(H, NULL, "log_up(%lld): n outside [1, %d]", (long long)n, LP_FZ_MAX_LOGITS);
    return tab[n];
}

/* A finite-class token: the bracket [RN(D - log n), RN(D)] and a plain double evaluation. */
static void check_token_num(const lp_fz_problem *p, const lp_value *v, int64_t b, int64_t ts,
                            int64_t y, const char *what)
{
    check_finite_value(p, v, what);
    const size_t row0 = lp_fz_row0(p, b, ts);
    const int64_t V = p->pb.shape.V;
    const double tau = p->pb.temperature;
    double m = -HUGE_VAL;
    int64_t n = 0, j = -1;
    for (int64_t i = 0; i < V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (x == -HUGE_VAL) continue;
        n++;
        if (x > m) m = x, j = i;
    }
    const double xy = lp_fz_value(p, row0 + (size_t)y);
    char s[256];
    lp_fz_value_str(s, sizeof s, v);

    mpfr_t dlo, dhi;
    mpfr_inits2(SUM_PREC, dlo, dhi, (mpfr_ptr)0);
    mpfr_set_d(dlo, xy, MPFR_RNDN);
    mpfr_sub_d(dlo, dlo, m, MPFR_RNDN);                /* exact at SUM_PREC */
    mpfr_div_d(dhi, dlo, tau, MPFR_RNDU);
    mpfr_div_d(dlo, dlo, tau, MPFR_RNDD);
    mpfr_sub(dlo, dlo, log_up(n), MPFR_RNDD);
    for (int f = 0; f < LP_NFORMATS; f++) {
        double lo = lp_fz_round(dlo, (lp_format)f), hi = lp_fz_round(dhi, (lp_format)f);
        double x = lp_value_wide(v, (lp_format)f);
        LP_FZ_CHECK(lo <= x && x <= hi, H, p,
                    "%s: %s = %a outside [RN(D - log %lld), RN(D)] = [%a, %a]: %s", what,
                    fmt_names[f], x, (long long)n, lo, hi, s);
    }
    mpfr_clears(dlo, dhi, (mpfr_ptr)0);

    /* Plain double: error <= ~3e-13 relative (d_i to 2u, exp to 1 ulp on |d_i| <= 745, log1p
     * of a sum of positive terms) plus V * 2^-1074 from underflowed terms. */
    const double D = (xy - m) / tau;
    if (!isfinite(D)) return;
    double T = 0.0;
    for (int64_t i = 0; i < V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (i == j || x == -HUGE_VAL) continue;
        T += exp((x - m) / tau);
    }
    const double est = D - log1p(T);
    if (!(fabs(est) < 1e307)) return;
    LP_FZ_CHECK(fabs(v->dd.hi - est) <= 1e-10 * fabs(est) + 1e-300, H, p,
                "%s: %.17g far from the double evaluation %.17g: %s", what, v->dd.hi, est, s);
}

/* ---- sums and means ------------------------------------------------------------------------- */

typedef struct group {
    int64_t n, n_num, n_nan, n_neginf;
    mpfr_t slo, shi;          /* bounds of the exact sum of the NUM tokens */
    double min[LP_NFORMATS], max[LP_NFORMATS];   /* of the counted tokens, per format */
} group;

static void group_init(group *g)
{
    g->n = g->n_num = g->n_nan = g->n_neginf = 0;
    mpfr_inits2(SUM_PREC, g->slo, g->shi, (mpfr_ptr)0);
    mpfr_set_zero(g->slo, 1);
    mpfr_set_zero(g->shi, 1);
    for (int f = 0; f < LP_NFORMATS; f++) g->min[f] = HUGE_VAL, g->max[f] = -HUGE_VAL;
}

static void group_clear(group *g) { mpfr_clears(g->slo, g->shi, (mpfr_ptr)0); }

static void group_add(group *g, const lp_value *v, lp_fz_class c)
{
    g->n++;
    g->n_nan += c == LP_FZ_NAN;
    g->n_neginf += c == LP_FZ_NEGINF;
    for (int f = 0; f < LP_NFORMATS; f++) {
        double x = lp_value_wide(v, (lp_format)f);
        if (x < g->min[f]) g->min[f] = x;
        if (x > g->max[f]) g->max[f] = x;
    }
    if (c != LP_FZ_NUM) return;
    g->n_num++;
    if (isinf(v->dd.hi)) {   /* overflowed: x <= -(2^1024 - 2^970), unbounded below */
        mpfr_set_inf(g->slo, -1);
        mpfr_sub_d(g->shi, g->shi, 0x1.fffffffffffffp+1023, MPFR_RNDU);
        mpfr_sub_d(g->shi, g->shi, 0x1p970, MPFR_RNDU);
        return;
    }
    mpfr_t e;
    mpfr_init2(e, 64);
    mpfr_set_d(e, fabs(v->dd.hi), MPFR_RNDN);
    mpfr_mul_2si(e, e, -103, MPFR_RNDN);
    mpfr_add_d(e, e, 0x1p-1073, MPFR_RNDU);
    mpfr_add_d(g->slo, g->slo, v->dd.hi, MPFR_RNDD);
    mpfr_add_d(g->slo, g->slo, v->dd.lo, MPFR_RNDD);
    mpfr_sub(g->slo, g->slo, e, MPFR_RNDD);
    mpfr_add_d(g->shi, g->shi, v->dd.hi, MPFR_RNDU);
    mpfr_add_d(g->shi, g->shi, v->dd.lo, MPFR_RNDU);
    mpfr_add(g->shi, g->shi, e, MPFR_RNDU);
    mpfr_clear(e);
}

static void check_bracket(const lp_fz_problem *p, const lp_value *v, const mpfr_t lo,
                          const mpfr_t hi, const char *what)
{
    char s[256];
    lp_fz_value_str(s, sizeof s, v);
    for (int f = 0; f < LP_NFORMATS; f++) {
        double a = lp_fz_round(lo, (lp_format)f), b = lp_fz_round(hi, (lp_format)f);
        double x = lp_value_wide(v, (lp_format)f);
        LP_FZ_CHECK(a <= x && x <= b && signbit(x), H, p,
                    "%s: %s = %a outside [%a, %a], the rounded bounds of the exact value: %s",
                    what, fmt_names[f], x, a, b, s);
    }
    if (!isfinite(v->dd.hi)) return;
    /* the dd itself: hi + lo within the bounds widened by the dd contract */
    mpfr_t z, w;
    mpfr_inits2(SUM_PREC, z, w, (mpfr_ptr)0);
    mpfr_set_d(z, v->dd.hi, MPFR_RNDN);
    mpfr_add_d(z, z, v->dd.lo, MPFR_RNDN);
    mpfr_set_d(w, fabs(v->dd.hi), MPFR_RNDN);
    mpfr_mul_2si(w, w, -103, MPFR_RNDN);
    mpfr_add_d(w, w, 0x1p-1073, MPFR_RNDU);
    int ok;
    mpfr_add(w, z, w, MPFR_RNDU);
    ok = mpfr_cmp(w, lo) >= 0;
    mpfr_set_d(w, fabs(v->dd.hi), MPFR_RNDN);
    mpfr_mul_2si(w, w, -103, MPFR_RNDN);
    mpfr_add_d(w, w, 0x1p-1073, MPFR_RNDU);
    mpfr_sub(w, z, w, MPFR_RNDD);
    ok = ok && mpfr_cmp(w, hi) <= 0;
    mpfr_clears(z, w, (mpfr_ptr)0);
    LP_FZ_CHECK(ok, H, p, "%s: dd.hi + dd.lo outside the bounds of the exact value: %s", what, s);
    LP_FZ_CHECK(fabs(v->dd.lo) <= ulp64(v->dd.hi) / 2, H, p, "%s: |dd.lo| > ulp(dd.hi)/2: %s",
                what, s);
}

/* The sum and mean of a group of counted tokens (SPEC A2, A3). */
static void check_group(const lp_fz_problem *p, const group *g, const lp_value *sum,
                        const lp_value *mean, const char *what)
{
    char ws[64], wm[64];
    snprintf(ws, sizeof ws, "%s sum", what);
    snprintf(wm, sizeof wm, "%s mean", what);
    if (sum) {   /* the batch has no sum of its own, only the token mean */
        if (g->n_nan) check_special(p, sum, LP_FZ_NAN, ws);
        else if (g->n_neginf) check_special(p, sum, LP_FZ_NEGINF, ws);
        else if (g->n_num == 0) check_special(p, sum, LP_FZ_ZERO, ws);
        else {
            check_bracket(p, sum, g->slo, g->shi, ws);
            check_finite_value(p, sum, ws);
        }
    }
    if (g->n_nan) check_special(p, mean, LP_FZ_NAN, wm);
    else if (g->n_neginf) check_special(p, mean, LP_FZ_NEGINF, wm);
    else if (g->n == 0)
        check_special(p, mean, p->pb.empty_mean == LP_EMPTY_NAN ? LP_FZ_NAN : LP_FZ_ZERO, wm);
    else if (g->n_num == 0) check_special(p, mean, LP_FZ_ZERO, wm);
    else {
        mpfr_t lo, hi;
        mpfr_inits2(SUM_PREC, lo, hi, (mpfr_ptr)0);
        mpfr_div_ui(lo, g->slo, (unsigned long)g->n, MPFR_RNDD);
        mpfr_div_ui(hi, g->shi, (unsigned long)g->n, MPFR_RNDU);
        check_bracket(p, mean, lo, hi, wm);
        check_finite_value(p, mean, wm);
        mpfr_clears(lo, hi, (mpfr_ptr)0);
        for (int f = 0; f < LP_NFORMATS; f++) {
            double x = lp_value_wide(mean, (lp_format)f);
            LP_FZ_CHECK(g->min[f] <= x && x <= g->max[f], H, p,
                        "%s: %s = %a outside the counted tokens' [%a, %a]", wm, fmt_names[f], x,
                        g->min[f], g->max[f]);
        }
    }
}

static void check_result(const lp_fz_problem *p, const lp_ref_result *r)
{
    const int64_t B = p->pb.shape.B, T = p->pb.shape.T, Ts = lp_fz_ts(p);
    LP_FZ_CHECK(r->B == B && r->Ts == Ts, H, p, "result shape B=%lld Ts=%lld, want %lld, %lld",
                (long long)r->B, (long long)r->Ts, (long long)B, (long long)Ts);
    group all;
    group_init(&all);
    for (int64_t b = 0; b < B; b++) {
        group g;
        group_init(&g);
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t at = (size_t)(b * Ts + ts);
            const lp_value *v = &r->logp[at];
            char what[64];
            snprintf(what, sizeof what, "logp[b=%lld,ts=%lld]", (long long)b, (long long)ts);
            const int counted = lp_fz_counted(p, b, ts);
            LP_FZ_CHECK(r->counted[at] == counted, H, p, "%s: counted=%u, want %d", what,
                        (unsigned)r->counted[at], counted);
            if (!counted) {
                check_special(p, v, LP_FZ_NAN, what);
                continue;
            }
            const int64_t y = lp_fz_label(p, (size_t)(b * T + lp_fz_label_t(p, ts)));
            const lp_fz_class c = lp_fz_row_class(p, b, ts, y);
            if (c == LP_FZ_NUM) check_token_num(p, v, b, ts, y, what);
            else check_special(p, v, c, what);
            group_add(&g, v, c);
            group_add(&all, v, c);
        }
        LP_FZ_CHECK(r->count[b] == g.n, H, p, "count[b=%lld] = %lld, want %lld", (long long)b,
                    (long long)r->count[b], (long long)g.n);
        char what[32];
        snprintf(what, sizeof what, "b=%lld", (long long)b);
        check_group(p, &g, &r->sum[b], &r->mean[b], what);
        group_clear(&g);
    }
    check_group(p, &all, NULL, &r->token_mean, "token_mean");
    /* the token mean also lies between the sequence means that are numbers */
    group_clear(&all);
}

/* ---- invariance ----------------------------------------------------------------------------- */

static void compare_results(const lp_fz_problem *p, const lp_ref_result *a, const lp_ref_result *b,
                            int64_t b0, int with_token_mean, const char *how)
{
    const char *what = "";
    char s1[256], s2[256];
    for (int64_t bb = 0; bb < b->B; bb++) {
        const int64_t ba = b0 + bb;
        for (int64_t ts = 0; ts < a->Ts; ts++) {
            const lp_value *x = &a->logp[ba * a->Ts + ts], *y = &b->logp[bb * b->Ts + ts];
            if (!lp_fz_same_value(x, y, &what)) {
                lp_fz_value_str(s1, sizeof s1, x);
                lp_fz_value_str(s2, sizeof s2, y);
                lp_fz_fail(H, p, "%s: logp[b=%lld,ts=%lld] %s differs:\n  was %s\n  now %s", how,
                           (long long)ba, (long long)ts, what, s1, s2);
            }
        }
        LP_FZ_CHECK(a->count[ba] == b->count[bb], H, p, "%s: count[b=%lld] differs", how,
                    (long long)ba);
        const lp_value *pairs[2][2] = {{&a->sum[ba], &b->sum[bb]}, {&a->mean[ba], &b->mean[bb]}};
        for (int k = 0; k < 2; k++)
            if (!lp_fz_same_value(pairs[k][0], pairs[k][1], &what)) {
                lp_fz_value_str(s1, sizeof s1, pairs[k][0]);
                lp_fz_value_str(s2, sizeof s2, pairs[k][1]);
                lp_fz_fail(H, p, "%s: %s[b=%lld] %s differs:\n  was %s\n  now %s", how,
                           k ? "mean" : "sum", (long long)ba, what, s1, s2);
            }
    }
    if (with_token_mean && !lp_fz_same_value(&a->token_mean, &b->token_mean, &what)) {
        lp_fz_value_str(s1, sizeof s1, &a->token_mean);
        lp_fz_value_str(s2, sizeof s2, &b->token_mean);
        lp_fz_fail(H, p, "%s: token_mean %s differs:\n  was %s\n  now %s", how, what, s1, s2);
    }
}

static const double SHIFTS[16] = {1.0, -1.0, 0.5, 2.0, 3.0, -3.5, 1024.0, 0x1p-10,
                                  65536.0, 0x1p100, -0x1p100, 0.25, 7.0, -20.0, 1e6, 0.0};

/* c if adding it to every finite logit of the row is exact in the format, else 0. */
static int row_shiftable(const lp_fz_problem *p, size_t row0, double c)
{
    if (!isfinite(c) || c == 0) return 0;
    for (int64_t i = 0; i < p->pb.shape.V; i++) {
        double x = lp_fz_value(p, row0 + (size_t)i);
        if (!isfinite(x)) continue;
        double s = x + c, bb = s - x, err = (x - (s - bb)) + (c - bb);   /* TwoSum */
        if (!isfinite(s) || err != 0 || lp_fz_widen(lp_fz_narrow(s, p->pb.fmt), p->pb.fmt) != s)
            return 0;
    }
    return 1;
}

/* Shifts every row that can be shifted exactly, by the first exact constant of a short list
 * (rows that none fits stay as they are); returns the number of rows shifted. */
static int shift_rows(lp_fz_problem *q)
{
    const int64_t rows = q->pb.shape.B * q->pb.shape.T, V = q->pb.shape.V;
    int shifted = 0;
    for (int64_t r = 0; r < rows; r++) {
        const size_t row0 = (size_t)(r * V);
        double m = -HUGE_VAL;
        for (int64_t i = 0; i < V; i++) {
            double x = lp_fz_value(q, row0 + (size_t)i);
            if (isfinite(x) && x > m) m = x;
        }
        const double cands[4] = {SHIFTS[(q->param[8] + r) & 15], -m, 1.0, -0.5};
        double c = 0;
        for (int k = 0; k < 4 && c == 0; k++)
            if (row_shiftable(q, row0, cands[k])) c = cands[k];
        if (c == 0) continue;
        for (int64_t i = 0; i < V; i++) {
            double x = lp_fz_value(q, row0 + (size_t)i);
            if (isfinite(x)) lp_fz_set_bits(q, row0 + (size_t)i, lp_fz_narrow(x + c, q->pb.fmt));
        }
        shifted++;
    }
    return shifted;
}

/* The same permutation of the vocabulary in every row, ignore_index (when a valid index) fixed;
 * labels moved with their logits. */
static void permute_rows(lp_fz_problem *q)
{
    const int64_t rows = q->pb.shape.B * q->pb.shape.T, V = q->pb.shape.V;
    const int64_t ii = q->pb.ignore_index;
    int64_t perm[LP_FZ_MAX_LOGITS], free_at[LP_FZ_MAX_LOGITS], nfree = 0;
    uint64_t st = 0x9e3779b97f4a7c15u * (q->param[9] + 1u) + (uint64_t)V;
    for (int64_t i = 0; i < V; i++) {
        perm[i] = i;
        if (i != ii) free_at[nfree++] = i;
    }
    for (int64_t k = nfree - 1; k > 0; k--) {   /* Fisher-Yates over the free positions */
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        int64_t j = (int64_t)(st % (uint64_t)(k + 1));
        int64_t t = perm[free_at[k]];
        perm[free_at[k]] = perm[free_at[j]];
        perm[free_at[j]] = t;
    }
    uint64_t row[LP_FZ_MAX_LOGITS];
    for (int64_t r = 0; r < rows; r++) {
        const size_t row0 = (size_t)(r * V);
        for (int64_t i = 0; i < V; i++) row[i] = lp_fz_bits(q, row0 + (size_t)i);
        for (int64_t i = 0; i < V; i++) lp_fz_set_bits(q, row0 + (size_t)perm[i], row[i]);
        const int64_t y = lp_fz_label(q, (size_t)r);
        if (y != ii && y >= 0 && y < V) lp_fz_set_label(q, (size_t)r, perm[y]);
    }
}

static lp_status compute(lp_ref_result *r, const lp_fz_problem *p, lp_error *err)
{
    const mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
    const mpfr_flags_t flags = mpfr_flags_save();
    lp_status st = lp_ref_compute(r, &p->pb, err);
    LP_FZ_CHECK(mpfr_get_emin() == emin && mpfr_get_emax() == emax &&
                    mpfr_flags_save() == flags,
                H, p, "lp_ref_compute leaked MPFR state (emin, emax or flags)");
    return st;
}

/* Recomputes a transformed copy; on a difference, the two transforms alone, to say which. */
static void check_invariance(const lp_fz_problem *p, const lp_ref_result *r)
{
    lp_fz_problem q;
    lp_ref_result r2;
    lp_error err = {LP_OK, ""};
    if (!lp_fz_copy(&q, p)) return;
    shift_rows(&q);
    permute_rows(&q);
    lp_status st = compute(&r2, &q, &err);
    LP_FZ_CHECK(st == LP_OK, H, &q, "transformed problem: %s: %s", lp_status_name(st), err.msg);
    const char *what;
    int same = 1;
    for (int64_t i = 0; same && i < r->B * r->Ts; i++)
        same = lp_fz_same_value(&r->logp[i], &r2.logp[i], &what);
    for (int64_t b = 0; same && b < r->B; b++)
        same = lp_fz_same_value(&r->sum[b], &r2.sum[b], &what) &&
               lp_fz_same_value(&r->mean[b], &r2.mean[b], &what) && r->count[b] == r2.count[b];
    same = same && lp_fz_same_value(&r->token_mean, &r2.token_mean, &what);
    lp_ref_result_free(&r2);
    lp_fz_free(&q);
    if (same) return;
    for (int k = 0; k < 2; k++) {   /* which transform breaks it */
        if (!lp_fz_copy(&q, p)) return;
        if (k == 0) shift_rows(&q);
        else permute_rows(&q);
        st = compute(&r2, &q, &err);
        LP_FZ_CHECK(st == LP_OK, H, &q, "transformed problem: %s: %s", lp_status_name(st), err.msg);
        fprintf(stderr, "transformed problem (%s):\n", k ? "vocabulary permuted" : "rows shifted");
        lp_fz_dump(stderr, &q);
        compare_results(p, r, &r2, 0, 1, k ? "vocabulary permutation" : "exact row shift");
        lp_ref_result_free(&r2);
        lp_fz_free(&q);
    }
    lp_fz_fail(H, p, "shift + permutation changed a result, neither alone did");
}

/* Sequence b alone (B = 1) gives the same tokens, sum, mean and count; its token mean is its
 * mean. */
static void check_alone(const lp_fz_problem *p, const lp_ref_result *r)
{
    const int64_t B = p->pb.shape.B, T = p->pb.shape.T, V = p->pb.shape.V;
    if (B == 1) return;
    const int64_t b = (p->param[10] >> 4) % B;
    lp_fz_problem q;
    if (!lp_fz_copy(&q, p)) return;
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    const size_t lsz = p->pb.label_type == LP_I32 ? 4 : 8;
    q.pb.shape.B = 1;
    memmove(q.logits, (const char *)p->logits + (size_t)(b * T * V) * esz, (size_t)(T * V) * esz);
    memmove(q.labels, (const char *)p->labels + (size_t)(b * T) * lsz, (size_t)T * lsz);
    if (q.mask) memmove(q.mask, p->mask + b * T, (size_t)T);
    lp_ref_result r2;
    lp_error err = {LP_OK, ""};
    lp_status st = compute(&r2, &q, &err);
    LP_FZ_CHECK(st == LP_OK, H, &q, "sequence b=%lld alone: %s: %s", (long long)b,
                lp_status_name(st), err.msg);
    compare_results(p, r, &r2, b, 0, "sequence alone");
    const char *what;
    char s1[256], s2[256];
    lp_fz_value_str(s1, sizeof s1, &r->mean[b]);
    lp_fz_value_str(s2, sizeof s2, &r2.token_mean);
    LP_FZ_CHECK(lp_fz_same_value(&r->mean[b], &r2.token_mean, &what), H, p,
                "sequence b=%lld alone: token mean %s differs from its mean:\n  mean %s\n  "
                "token mean %s", (long long)b, what, s1, s2);
    lp_ref_result_free(&r2);
    lp_fz_free(&q);
}

/* lp_ref_row on one counted token gives the same value as lp_ref_compute. */
static void check_row_entry(const lp_fz_problem *p, const lp_ref_result *r)
{
    const int64_t Ts = r->Ts, T = p->pb.shape.T;
    if (Ts == 0) return;
    const int64_t k = (p->param[10] & 15) % (r->B * Ts), b = k / Ts, ts = k % Ts;
    if (!r->counted[k]) return;
    const int64_t y = lp_fz_label(p, (size_t)(b * T + lp_fz_label_t(p, ts)));
    const size_t esz = (size_t)lp_format_get(p->pb.fmt)->bytes;
    lp_value v;
    lp_error err = {LP_OK, ""};
    lp_status st = lp_ref_row(&v, (const char *)p->logits + lp_fz_row0(p, b, ts) * esz,
                              p->pb.fmt, p->pb.shape.V, y, p->pb.temperature, &err);
    LP_FZ_CHECK(st == LP_OK, H, p, "lp_ref_row(b=%lld, ts=%lld): %s: %s", (long long)b,
                (long long)ts, lp_status_name(st), err.msg);
    const char *what;
    char s1[256], s2[256];
    lp_fz_value_str(s1, sizeof s1, &r->logp[k]);
    lp_fz_value_str(s2, sizeof s2, &v);
    LP_FZ_CHECK(lp_fz_same_value(&r->logp[k], &v, &what), H, p,
                "lp_ref_row(b=%lld, ts=%lld) %s differs from lp_ref_compute:\n  compute %s\n  "
                "row     %s", (long long)b, (long long)ts, what, s1, s2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    lp_ref_result r;
    lp_error err = {LP_OK, ""};
    lp_status st = compute(&r, &p, &err);
    check_error(&p, st, &err, &r);
    if (st == LP_OK) {
        check_result(&p, &r);
        check_row_entry(&p, &r);
        check_alone(&p, &r);
        check_invariance(&p, &r);
        lp_ref_result_free(&r);
    }
    lp_fz_free(&p);
    return 0;
}
