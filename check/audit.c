/* check/audit.c: the audit of two sources of per-token log-probs (SPEC A9, `lpcert audit`).
 *
 * EXACTNESS  Every input value (a, b, and the reference's double-double pairs) is a dyadic
 *   rational and is taken exactly: differences, sums and quotients by counts are exact rationals
 *   (GMP mpq), and each figure is rounded once, to nearest-even binary64 (round_q: MPFR enclosures
 *   at rising precision until both ends round alike; a dyadic value becomes exact at a finite
 *   precision, a non-dyadic one is never a rounding boundary, so the loop ends).
 *   - max |x|: RN is monotone, so max RN|x| = RN max |x|; for tokens RN(a - b) is the double
 *     subtraction itself (IEEE: correctly rounded).
 *   - ratio bands: exp(x) < c  <=>  x < log c, decided against MPFR enclosures of log c (c a
 *     binary64 > 0, c != 1: log c is irrational, so the comparison with a rational x is decided
 *     at a finite precision; c = 1: the sign of x; c = 0 or +inf: never outside on that side).
 *     For sequence means x = D / n is compared as D against n * log c, all exact.
 *   - k3: (1/n) sum f(-x), f(d) = e^d - 1 - d >= 0, convex, minimum f(0) = 0: each term enclosed
 *     from an enclosure of d (f monotone on each side of 0), the enclosures summed and divided by
 *     n with directed rounding, the precision doubled until both ends round alike. The exact
 *     value is 0 when every d is 0, else irrational (Lindemann-Weierstrass: a non-trivial
 *     combination of e^(d_j) with distinct rational d_j and the rational sum of (1 + d)), never a
 *     rounding boundary: the loop ends (capped at 2^16 bits, LP_ERR_INTERNAL beyond).
 *   - split: exact(L) is known as the reference's pair X = hi + lo with |X - x| <= 2^-104 |x| +
 *     2^-1074 (include/lpcert.h); each part is computed exactly from the pairs, its figures are
 *     correctly rounded figures of those parts, and dd_bound (rounded up) bounds the distance of
 *     each part (hence of max, mean, p99 of |part|) from the part of the exact values.
 * The library never prints; errors are one line in lp_error. */
#include <gmp.h>
#include <math.h>
#include <mpfr.h>

#include "lp_audit_internal.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lp_ref_internal.h"

#define AU_PREC0 128
#define AU_MAX_PREC (1L << 16)

/* ---- rounding exact rationals -------------------------------------------------------------- */

/* RN_binary64(q), exactly (see EXACTNESS). */
static double round_q(const mpq_t q)
{
    if (mpq_sgn(q) == 0) return 0.0;
    mpfr_t lo, hi;
    double r = (double)NAN;
    for (mpfr_prec_t p = AU_PREC0; p <= AU_MAX_PREC * 4; p *= 2) {
        mpfr_inits2(p, lo, hi, (mpfr_ptr)0);
        const int t = mpfr_set_q(lo, q, MPFR_RNDD);
        mpfr_set_q(hi, q, MPFR_RNDU);
        const double dl = mpfr_get_d(lo, MPFR_RNDN), dh = mpfr_get_d(hi, MPFR_RNDN);
        mpfr_clears(lo, hi, (mpfr_ptr)0);
        if (t == 0 || dl == dh) {
            r = dl;
            break;
        }
    }
    return r;   /* a dyadic q has < 2^18 bits here: decided before the cap */
}

static void q_of_double(mpq_t q, double x) { mpq_set_d(q, x); }   /* exact for finite x */

/* ---- ratio bands --------------------------------------------------------------------------- */

/* The sign of exp(x / m) - c, exactly, for a rational x, an integer m >= 1 and a binary64 c >= 0
 * (c may be +inf). */
static int cmp_exp(const mpq_t x, int64_t m, double c)
{
    if (c == 0) return 1;
    if (isinf(c)) return -1;
    if (c == 1) return mpq_sgn(x);
    mpfr_t cc, llo, lhi;
    mpfr_init2(cc, 53);
    mpfr_set_d(cc, c, MPFR_RNDN);   /* exact */
    int r = 0;
    for (mpfr_prec_t p = AU_PREC0; r == 0 && p <= AU_MAX_PREC; p *= 2) {
        mpfr_inits2(p + 64, llo, lhi, (mpfr_ptr)0);
        mpfr_log(llo, cc, MPFR_RNDD);
        mpfr_log(lhi, cc, MPFR_RNDU);
        mpfr_mul_si(llo, llo, (long)m, MPFR_RNDD);   /* m > 0: the order is kept */
        mpfr_mul_si(lhi, lhi, (long)m, MPFR_RNDU);
        if (mpfr_cmp_q(lhi, x) < 0) r = 1;
        else if (mpfr_cmp_q(llo, x) > 0) r = -1;
        mpfr_clears(llo, lhi, (mpfr_ptr)0);
    }
    mpfr_clear(cc);
    return r;   /* 0 only past the cap, which an irrational m log c never needs */
}

/* log c enclosed once per band at AU_PREC0 + 64 bits; cmp_exp only when that does not decide. */
typedef struct au_logc { double c; mpfr_t lo, hi; } au_logc;

static void logc_init(au_logc *l, double c)
{
    l->c = c;
    mpfr_inits2(AU_PREC0 + 64, l->lo, l->hi, (mpfr_ptr)0);
    if (c > 0 && !isinf(c) && c != 1) {
        mpfr_t cc;
        mpfr_init2(cc, 53);
        mpfr_set_d(cc, c, MPFR_RNDN);
        mpfr_log(l->lo, cc, MPFR_RNDD);
        mpfr_log(l->hi, cc, MPFR_RNDU);
        mpfr_clear(cc);
    }
}

static void logc_clear(au_logc *l) { mpfr_clears(l->lo, l->hi, (mpfr_ptr)0); }

/* cmp_exp(x, m, l->c), through the cached enclosure first. t: scratch of AU_PREC0 + 64 bits. */
static int cmp_exp_cached(const mpq_t x, int64_t m, const au_logc *l, mpfr_t t)
{
    const double c = l->c;
    if (c == 0 || isinf(c) || c == 1) return cmp_exp(x, m, c);
    mpfr_mul_si(t, l->hi, (long)m, MPFR_RNDU);
    if (mpfr_cmp_q(t, x) < 0) return 1;
    mpfr_mul_si(t, l->lo, (long)m, MPFR_RNDD);
    if (mpfr_cmp_q(t, x) > 0) return -1;
    return cmp_exp(x, m, c);
}

/* ---- k3 ------------------------------------------------------------------------------------- */

/* f(d) = e^d - 1 - d at an mpfr point d, rounded down (dir < 0) or up (dir > 0), into r. */
static void f_dir(mpfr_t r, const mpfr_t d, int dir)
{
    const mpfr_rnd_t rnd = dir < 0 ? MPFR_RNDD : MPFR_RNDU;
    mpfr_expm1(r, d, rnd);
    mpfr_sub(r, r, d, rnd);
    if (mpfr_sgn(r) < 0) mpfr_set_zero(r, 1);   /* f >= 0 */
}

/* An enclosure [lo, hi] of f(d) for a rational d, at precision p. */
static void f_enclose(mpfr_t lo, mpfr_t hi, const mpq_t d, mpfr_prec_t p)
{
    mpfr_t dl, du, t;
    mpfr_inits2(p, dl, du, t, (mpfr_ptr)0);
    mpfr_set_q(dl, d, MPFR_RNDD);
    mpfr_set_q(du, d, MPFR_RNDU);
    if (mpfr_sgn(dl) >= 0) {           /* f increasing on [0, inf) */
        f_dir(lo, dl, -1);
        f_dir(hi, du, 1);
    } else if (mpfr_sgn(du) <= 0) {    /* f decreasing on (-inf, 0] */
        f_dir(lo, du, -1);
        f_dir(hi, dl, 1);
    } else {                           /* 0 inside: the minimum 0, the larger end */
        mpfr_set_zero(lo, 1);
        f_dir(hi, dl, 1);
        f_dir(t, du, 1);
        if (mpfr_cmp(t, hi) > 0) mpfr_set(hi, t, MPFR_RNDU);
    }
    mpfr_clears(dl, du, t, (mpfr_ptr)0);
}

/* ---- one level ------------------------------------------------------------------------------ */

/* The values x of a level: tokens (a_i - b_i), or per sequence D_j (sums) or D_j / n_j (means). */
typedef struct au_src {
    lp_audit_level lev;
    int64_t n;
    const double *a, *b;         /* tokens */
    const int64_t *pos_b, *pos_t;
    mpq_t *D;                    /* sequences: D_j = sum (a - b) */
    const int64_t *cnt;          /* sequences: n_j */
} au_src;

static void src_get(const au_src *s, int64_t i, mpq_t x, mpq_t tmp)
{
    if (s->lev == LP_AUDIT_TOKENS) {
        q_of_double(x, s->a[i]);
        q_of_double(tmp, s->b[i]);
        mpq_sub(x, x, tmp);
    } else if (s->lev == LP_AUDIT_SEQ_SUM) {
        mpq_set(x, s->D[i]);
    } else {
        mpq_set_ui(tmp, (unsigned long)s->cnt[i], 1);
        mpq_div(x, s->D[i], tmp);
    }
}

static lp_status level_k3(double *out, const au_src *s, lp_error *err)
{
    if (s->n == 0) {
        *out = (double)NAN;
        return LP_OK;
    }
    mpq_t x, tmp;
    mpq_inits(x, tmp, (mpq_ptr)0);
    lp_status st = LP_ERR_INTERNAL;
    for (mpfr_prec_t p = AU_PREC0; p <= AU_MAX_PREC; p *= 2) {
        mpfr_t slo, shi, lo, hi;
        mpfr_inits2(p, slo, shi, lo, hi, (mpfr_ptr)0);
        mpfr_set_zero(slo, 1);
        mpfr_set_zero(shi, 1);
        for (int64_t i = 0; i < s->n; i++) {
            src_get(s, i, x, tmp);
            mpq_neg(x, x);               /* d = b - a */
            f_enclose(lo, hi, x, p);
            mpfr_add(slo, slo, lo, MPFR_RNDD);
            mpfr_add(shi, shi, hi, MPFR_RNDU);
        }
        mpfr_div_ui(slo, slo, (unsigned long)s->n, MPFR_RNDD);
        mpfr_div_ui(shi, shi, (unsigned long)s->n, MPFR_RNDU);
        const double dl = mpfr_get_d(slo, MPFR_RNDN), dh = mpfr_get_d(shi, MPFR_RNDN);
        mpfr_clears(slo, shi, lo, hi, (mpfr_ptr)0);
        if (dl == dh) {
            *out = dl;
            st = LP_OK;
            break;
        }
    }
    mpq_clears(x, tmp, (mpq_ptr)0);
    if (st != LP_OK)
        return lp_fail(err, LP_ERR_INTERNAL, "audit: k3 undecided at %ld bits", (long)AU_MAX_PREC);
    return LP_OK;
}

static lp_status level_figures(lp_audit_figures *f, const au_src *s, lp_error *err)
{
    const int64_t n = s->n;
    f->count = n;
    f->max_b = f->max_t = -1;
    f->max_abs_delta = n ? 0.0 : (double)NAN;
    mpq_t x, tmp, sabs, ssum;
    mpq_inits(x, tmp, sabs, ssum, (mpq_ptr)0);
    au_logc lc[2 * LP_AUDIT_MAX_BANDS];
    for (int k = 0; k < f->nbands; k++) {
        f->out_of_band[k] = 0;
        logc_init(&lc[2 * k], f->band_lo[k]);
        logc_init(&lc[2 * k + 1], f->band_hi[k]);
    }
    mpfr_t scratch;
    mpfr_init2(scratch, AU_PREC0 + 64);
    for (int64_t i = 0; i < n; i++) {
        src_get(s, i, x, tmp);
        mpq_add(ssum, ssum, x);
        mpq_abs(tmp, x);
        mpq_add(sabs, sabs, tmp);
        const double rabs = s->lev == LP_AUDIT_TOKENS ? fabs(s->a[i] - s->b[i]) : round_q(tmp);
        if (f->max_b < 0 || rabs > f->max_abs_delta) {
            f->max_abs_delta = rabs;
            f->max_b = s->pos_b[i];
            f->max_t = s->pos_t ? s->pos_t[i] : -1;
        }
        /* bands: for means compare D against n log c (exact), else x against log c */
        const int64_t m = s->lev == LP_AUDIT_SEQ_MEAN ? s->cnt[i] : 1;
        if (s->lev == LP_AUDIT_SEQ_MEAN) mpq_set(x, s->D[i]);
        for (int k = 0; k < f->nbands; k++)
            if (cmp_exp_cached(x, m, &lc[2 * k], scratch) < 0 ||
                cmp_exp_cached(x, m, &lc[2 * k + 1], scratch) > 0)
                f->out_of_band[k]++;
    }
    if (n > 0) {
        mpq_set_ui(tmp, (unsigned long)n, 1);
        mpq_div(sabs, sabs, tmp);
        mpq_div(ssum, ssum, tmp);
        f->mean_abs_delta = round_q(sabs);
        f->mean_delta = round_q(ssum);
    } else {
        f->mean_abs_delta = f->mean_delta = (double)NAN;
    }
    for (int k = 0; k < f->nbands; k++)
        f->out_of_band_frac[k] = n ? (double)f->out_of_band[k] / (double)n : (double)NAN;  /* < 2^53: RN */
    mpq_clears(x, tmp, sabs, ssum, (mpq_ptr)0);
    for (int k = 0; k < 2 * f->nbands; k++) logc_clear(&lc[k]);
    mpfr_clear(scratch);
    return level_k3(&f->k3_kl, s, err);
}

/* ---- the split -------------------------------------------------------------------------------- */

const char *au_part_key(int part)
{
    static const char *const k[LP_AUDIT_NPARTS] = {"final_op_a", "logits", "final_op_b",
                                                   "final_op_a_and_logits", "logits_and_final_op_b"};
    return k[part];
}

const char *au_part_formula(int part)
{
    static const char *const k[LP_AUDIT_NPARTS] = {"a - exact(La)", "exact(La) - exact(Lb)",
                                                   "exact(Lb) - b", "a - exact(Lb)", "exact(La) - b"};
    return k[part];
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* 2^-103 |X| + 2^-1073, rounded up: twice lpcert.h's bound on one double-double (a margin for
 * |x| vs |X|). */
static double dd_err(lp_dd X)
{
    return nextafter(ldexp(fabs(X.hi) + fabs(X.lo), -103) + 0x1p-1073, (double)INFINITY);
}

typedef struct au_part_acc {
    mpq_t sabs, ssum;
    double *absv;
    mpq_t *seq;                  /* [B]: the part summed per sequence */
} au_part_acc;

/* The figures of m exact values v_j / div_j (div NULL: 1), sequence j at pos[j]. */
static lp_status seq_figures(lp_audit_split_seq *o, mpq_t *v, const int64_t *div,
                             const int64_t *pos, int64_t m, lp_error *err)
{
    o->n = m;
    o->max_b = -1;
    if (m == 0) {
        o->max_abs = o->mean_abs = o->mean = o->p99_abs = (double)NAN;
        return LP_OK;
    }
    double *ab = malloc((size_t)m * sizeof *ab);
    if (!ab) return lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
    mpq_t x, sabs, ssum;
    mpq_inits(x, sabs, ssum, (mpq_ptr)0);
    for (int64_t j = 0; j < m; j++) {
        mpq_set(x, v[j]);
        if (div) {
            mpq_t d;
            mpq_init(d);
            mpq_set_ui(d, (unsigned long)div[j], 1);
            mpq_div(x, x, d);
            mpq_clear(d);
        }
        mpq_add(ssum, ssum, x);
        mpq_abs(x, x);
        mpq_add(sabs, sabs, x);
        ab[j] = round_q(x);
        if (o->max_b < 0 || ab[j] > o->max_abs) o->max_abs = ab[j], o->max_b = pos[j];
    }
    mpq_set_ui(x, (unsigned long)m, 1);
    mpq_div(sabs, sabs, x);
    mpq_div(ssum, ssum, x);
    o->mean_abs = round_q(sabs);
    o->mean = round_q(ssum);
    qsort(ab, (size_t)m, sizeof *ab, cmp_double);
    o->p99_abs = ab[(99 * m + 99) / 100 - 1];
    mpq_clears(x, sabs, ssum, (mpq_ptr)0);
    free(ab);
    return LP_OK;
}

/* Adds the exact part v = t0 + t1 + t2 + t3 (doubles, exact) of token i to part k. */
static void part_add(lp_audit_split *ps, au_part_acc *acc, int64_t i, int64_t j, const double t[4],
                     double bound, int64_t pb, int64_t pt, mpq_t v, mpq_t tmp)
{
    mpq_set_ui(v, 0, 1);
    for (int k = 0; k < 4; k++) {
        if (t[k] == 0) continue;
        q_of_double(tmp, t[k]);
        mpq_add(v, v, tmp);
    }
    mpq_add(acc->ssum, acc->ssum, v);
    mpq_add(acc->seq[j], acc->seq[j], v);
    mpq_abs(v, v);
    mpq_add(acc->sabs, acc->sabs, v);
    const double r = round_q(v);
    acc->absv[i] = r;
    if (ps->max_b < 0 || r > ps->max_abs) {
        ps->max_abs = r;
        ps->max_b = pb;
        ps->max_t = pt;
    }
    if (bound > ps->dd_bound) ps->dd_bound = bound;
    int bin;
    if (r == 0) bin = 0;
    else {
        int e = ilogb(r);
        if (e < LP_AUDIT_HIST_EMIN) e = LP_AUDIT_HIST_EMIN;
        if (e > LP_AUDIT_HIST_EMAX) e = LP_AUDIT_HIST_EMAX;
        bin = 1 + e - LP_AUDIT_HIST_EMIN;
    }
    ps->hist[bin]++;
}

static lp_status split_run(lp_audit *au, int64_t n, const double *a, const double *b,
                           const lp_dd *Xa, const lp_dd *Xb, const int64_t *pos_b,
                           const int64_t *pos_t, int64_t ns, const int64_t *seq_b,
                           const int64_t *cnt, lp_error *err)
{
    int parts[3], np = 0;
    if (Xa && Xb) parts[np++] = LP_AUDIT_FINAL_OP_A, parts[np++] = LP_AUDIT_LOGITS,
                  parts[np++] = LP_AUDIT_FINAL_OP_B;
    else if (Xa) parts[np++] = LP_AUDIT_FINAL_OP_A, parts[np++] = LP_AUDIT_EXACT_A_VS_B;
    else if (Xb) parts[np++] = LP_AUDIT_A_VS_EXACT_B, parts[np++] = LP_AUDIT_FINAL_OP_B;
    if (np == 0 || n == 0) return LP_OK;
    au_part_acc acc[3];
    memset(acc, 0, sizeof acc);
    lp_status st = LP_OK;
    for (int k = 0; k < np; k++) {
        mpq_inits(acc[k].sabs, acc[k].ssum, (mpq_ptr)0);
        acc[k].absv = malloc((size_t)n * sizeof(double));
        acc[k].seq = calloc((size_t)ns + 1, sizeof(mpq_t));
        if (!acc[k].absv || !acc[k].seq) st = lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
        for (int64_t j = 0; acc[k].seq && j < ns; j++) mpq_init(acc[k].seq[j]);
        lp_audit_split *ps = &au->part[parts[k]];
        ps->present = 1;
        ps->key = au_part_key(parts[k]);
        ps->formula = au_part_formula(parts[k]);
        ps->n = n;
        ps->max_b = ps->max_t = -1;
    }
    mpq_t v, tmp;
    mpq_inits(v, tmp, (mpq_ptr)0);
    for (int64_t i = 0, j = 0; i < n && st == LP_OK; i++) {
        while (seq_b[j] != pos_b[i]) j++;   /* tokens come in sequence order */
        for (int k = 0; k < np; k++) {
            double t[4] = {0, 0, 0, 0}, bound = 0;
            switch (parts[k]) {
            case LP_AUDIT_FINAL_OP_A:   t[0] = a[i], t[1] = -Xa[i].hi, t[2] = -Xa[i].lo;
                                        bound = dd_err(Xa[i]); break;
            case LP_AUDIT_LOGITS:       t[0] = Xa[i].hi, t[1] = Xa[i].lo, t[2] = -Xb[i].hi,
                                        t[3] = -Xb[i].lo;
                                        bound = dd_err(Xa[i]) + dd_err(Xb[i]); break;
            case LP_AUDIT_FINAL_OP_B:   t[0] = Xb[i].hi, t[1] = Xb[i].lo, t[2] = -b[i];
                                        bound = dd_err(Xb[i]); break;
            case LP_AUDIT_A_VS_EXACT_B: t[0] = a[i], t[1] = -Xb[i].hi, t[2] = -Xb[i].lo;
                                        bound = dd_err(Xb[i]); break;
            default:                    t[0] = Xa[i].hi, t[1] = Xa[i].lo, t[2] = -b[i];
                                        bound = dd_err(Xa[i]); break;
            }
            part_add(&au->part[parts[k]], &acc[k], i, j, t, bound, pos_b[i], pos_t[i], v, tmp);
        }
    }
    for (int k = 0; k < np && st == LP_OK; k++) {
        lp_audit_split *ps = &au->part[parts[k]];
        mpq_set_ui(tmp, (unsigned long)n, 1);
        mpq_div(acc[k].sabs, acc[k].sabs, tmp);
        mpq_div(acc[k].ssum, acc[k].ssum, tmp);
        ps->mean_abs = round_q(acc[k].sabs);
        ps->mean = round_q(acc[k].ssum);
        qsort(acc[k].absv, (size_t)n, sizeof(double), cmp_double);
        int64_t rank = (99 * n + 99) / 100;   /* ceil(0.99 n) >= 1 */
        ps->p99_abs = acc[k].absv[rank - 1];
        st = seq_figures(&ps->seq[0], acc[k].seq, NULL, seq_b, ns, err);
        if (st == LP_OK) st = seq_figures(&ps->seq[1], acc[k].seq, cnt, seq_b, ns, err);
        int64_t nmax = 0;
        for (int64_t j = 0; j < ns; j++) nmax = cnt[j] > nmax ? cnt[j] : nmax;
        ps->seq[0].dd_bound = nextafter(ps->dd_bound * (double)nmax, (double)INFINITY);
        ps->seq[1].dd_bound = ps->dd_bound;
    }
    mpq_clears(v, tmp, (mpq_ptr)0);
    for (int k = 0; k < np; k++) {
        mpq_clears(acc[k].sabs, acc[k].ssum, (mpq_ptr)0);
        free(acc[k].absv);
        for (int64_t j = 0; acc[k].seq && j < ns; j++) mpq_clear(acc[k].seq[j]);
        free(acc[k].seq);
    }
    if (st == LP_OK) {
        au->dominant = parts[0];
        for (int k = 1; k < np; k++)
            if (au->part[parts[k]].mean_abs > au->part[au->dominant].mean_abs) au->dominant = parts[k];
    }
    return st;
}

/* ---- inputs ----------------------------------------------------------------------------------- */

static const char *side_name(const lp_audit_side *s, int k) { return s->name ? s->name : k ? "b" : "a"; }

static lp_status check_tokens(const lp_problem *tk, lp_error *err)
{
    if (tk->shape.B < 1 || tk->shape.T < 1)
        return lp_fail(err, LP_ERR_INPUT, "audit: labels shape [B=%lld, T=%lld] has an empty dimension",
                       (long long)tk->shape.B, (long long)tk->shape.T);
    if (!tk->labels) return lp_fail(err, LP_ERR_USAGE, "audit: labels missing");
    if (tk->label_type != LP_I64 && tk->label_type != LP_I32)
        return lp_fail(err, LP_ERR_USAGE, "audit: unknown label type %d", (int)tk->label_type);
    if (tk->shift != LP_SHIFT_NEXT && tk->shift != LP_SHIFT_NONE)
        return lp_fail(err, LP_ERR_USAGE, "audit: unknown shift %d", (int)tk->shift);
    if (tk->shape.B > INT64_MAX / tk->shape.T)
        return lp_fail(err, LP_ERR_INPUT, "audit: labels shape overflows");
    /* Labels: without logits V is unknown, but a negative label other than ignore_index is
     * outside [0, V) for every V (lp_problem_check's input error for ref and check); left
     * unchecked, labels padded with -1 under the default ignore_index -100 counted silently. */
    const int64_t ts_n = lp_problem_ts(tk);
    for (int64_t b = 0; b < tk->shape.B; b++)
        for (int64_t ts = 0; ts < ts_n; ts++) {
            const int64_t t = lp_problem_label_t(tk, ts), lab = lp_problem_label(tk, b, t);
            if (lab < 0 && lab != tk->ignore_index)
                return lp_fail(err, LP_ERR_INPUT, "audit: labels[b=%lld,t=%lld]: label %lld is "
                               "negative and not ignore_index %lld", (long long)b, (long long)t,
                               (long long)lab, (long long)tk->ignore_index);
        }
    if (tk->mask)
        for (int64_t i = 0; i < tk->shape.B * tk->shape.T; i++)
            if (tk->mask[i] > 1)
                return lp_fail(err, LP_ERR_INPUT, "audit: mask[b=%lld,t=%lld]: value %u is not 0 or 1",
                               (long long)(i / tk->shape.T), (long long)(i % tk->shape.T),
                               (unsigned)tk->mask[i]);
    return LP_OK;
}

/* A side's logits problem agrees with the tokens problem: shape, shift, ignore_index and, token
 * by token, what counts. */
static lp_status check_side_problem(const lp_problem *tk, const lp_problem *p, const char *nm,
                                    lp_error *err)
{
    lp_status st = lp_problem_check(p, err);
    if (st != LP_OK) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        return lp_fail(err, st, "%s's logits: %s", nm, m);
    }
    if (p->shape.B != tk->shape.B || p->shape.T != tk->shape.T)
        return lp_fail(err, LP_ERR_INPUT, "%s's logits are [B=%lld, T=%lld, V=%lld]; the labels are "
                       "[%lld, %lld]", nm, (long long)p->shape.B, (long long)p->shape.T,
                       (long long)p->shape.V, (long long)tk->shape.B, (long long)tk->shape.T);
    if (p->shift != tk->shift || p->ignore_index != tk->ignore_index)
        return lp_fail(err, LP_ERR_USAGE, "%s's logits: shift or ignore_index differs from the "
                       "tokens'", nm);
    const int64_t ts_n = lp_problem_ts(tk);
    for (int64_t b = 0; b < tk->shape.B; b++)
        for (int64_t ts = 0; ts < ts_n; ts++)
            if (lp_problem_counted(p, b, ts) != lp_problem_counted(tk, b, ts))
                return lp_fail(err, LP_ERR_INPUT, "%s's logits: token mismatch at b=%lld, t=%lld: "
                               "counted on one side only", nm, (long long)b, (long long)ts);
    return LP_OK;
}

static void side_info(au_side_info *si, const lp_audit_side *s, int k)
{
    snprintf(si->name, sizeof si->name, "%s", side_name(s, k));
    si->fmt = s->fmt;
    si->has_logits = s->logits != NULL;
    if (s->logits) {
        si->logits_fmt = s->logits->fmt;
        si->V = s->logits->shape.V;
        si->temperature = s->logits->temperature;
        si->sampling = s->logits->sampling;
    }
}

static lp_status exact_side(lp_dd *X, const lp_problem *p, const char *nm, int64_t n,
                            const int64_t *idx, const int64_t *pos_b, const int64_t *pos_t,
                            int threads, lp_error *err)
{
    lp_ref_result r;
    memset(&r, 0, sizeof r);
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = threads;
    o.formats = LP_REF_DD | (1u << LP_F64);
    lp_status st = lp_ref_compute_opts(&r, p, &o, err);
    for (int64_t i = 0; i < n && st == LP_OK; i++) {
        const lp_value *v = &r.logp[idx[i]];
        if (!isfinite(v->dd.hi))
            st = lp_fail(err, LP_ERR_INPUT, "%s's logits: the exact logp at b=%lld, t=%lld is %s (%s) "
                         "at a counted token: the split needs finite exact values", nm,
                         (long long)pos_b[i], (long long)pos_t[i], isnan(v->dd.hi) ? "nan" : "-inf",
                         isnan(v->dd.hi) ? "a NaN or +inf logit, or no finite logit, in the row"
                                         : "the label is outside the kept set or at -inf");
        else X[i] = v->dd;
    }
    lp_ref_result_free(&r);
    return st;
}

void lp_audit_band_key(char *buf, size_t n, double lo, double hi)
{
    char s[2][40];
    const double v[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        if (isinf(v[k])) {
            snprintf(s[k], sizeof s[k], "inf");
            continue;
        }
        for (int d = 15; d <= 17; d++) {
            snprintf(s[k], sizeof s[k], "%.*g", d, v[k]);
            if (strtod(s[k], NULL) == v[k]) break;
        }
    }
    snprintf(buf, n, "%s,%s", s[0], s[1]);
}

lp_status lp_audit_run(lp_audit **out, const lp_problem *tk, const lp_audit_side *sa,
                       const lp_audit_side *sb, const lp_audit_options *opt, lp_error *err)
{
    *out = NULL;
    const lp_audit_options dflt = LP_AUDIT_OPTIONS_INIT;
    if (!opt) opt = &dflt;
    lp_status st = check_tokens(tk, err);
    if (st != LP_OK) return st;
    const lp_audit_side *sd[2] = {sa, sb};
    for (int k = 0; k < 2; k++) {
        if (!sd[k]->logp || (unsigned)sd[k]->fmt >= LP_NFORMATS)
            return lp_fail(err, LP_ERR_USAGE, "audit: %s: log-probs missing or of unknown format",
                           side_name(sd[k], k));
        if (sd[k]->logits && (st = check_side_problem(tk, sd[k]->logits, side_name(sd[k], k), err)) != LP_OK)
            return st;
    }
    if (opt->nbands < 0 || opt->nbands > LP_AUDIT_MAX_BANDS - 1)
        return lp_fail(err, LP_ERR_USAGE, "audit: %d bands; at most %d besides 0.9,1.1", opt->nbands,
                       LP_AUDIT_MAX_BANDS - 1);
    for (int k = 0; k < opt->nbands; k++)
        if (!(opt->band_lo[k] >= 0) || isinf(opt->band_lo[k]) || !(opt->band_hi[k] > opt->band_lo[k]))
            return lp_fail(err, LP_ERR_USAGE, "audit: band [%g, %g]: need 0 <= lo < hi (hi may be inf)",
                           opt->band_lo[k], opt->band_hi[k]);

    lp_audit *au = calloc(1, sizeof *au);
    if (!au) return lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
    au->B = tk->shape.B;
    au->T = tk->shape.T;
    au->Ts = lp_problem_ts(tk);
    au->shift = tk->shift;
    au->ignore_index = tk->ignore_index;
    au->scored = au->B * au->Ts;
    au->dominant = -1;
    side_info(&au->side[0], sa, 0);
    side_info(&au->side[1], sb, 1);
    /* bands: the default, then the user's, each once */
    lp_audit_figures *f0 = &au->lev[0];
    f0->band_lo[0] = 0.9, f0->band_hi[0] = 1.1, f0->nbands = 1;
    for (int k = 0; k < opt->nbands; k++) {
        int dup = 0;
        for (int j = 0; j < f0->nbands; j++)
            dup |= f0->band_lo[j] == opt->band_lo[k] && f0->band_hi[j] == opt->band_hi[k];
        if (dup) continue;
        f0->band_lo[f0->nbands] = opt->band_lo[k];
        f0->band_hi[f0->nbands++] = opt->band_hi[k];
    }
    for (int l = 1; l < LP_AUDIT_NLEVELS; l++) au->lev[l] = *f0;

    /* the counted tokens, their values (finite, else an input error) */
    const int64_t nsc = au->scored;
    int64_t *idx = malloc(((size_t)nsc + 1) * sizeof *idx), *pb_ = malloc(((size_t)nsc + 1) * sizeof *pb_);
    int64_t *pt_ = malloc(((size_t)nsc + 1) * sizeof *pt_);
    double *va = malloc(((size_t)nsc + 1) * sizeof *va), *vb = malloc(((size_t)nsc + 1) * sizeof *vb);
    lp_dd *Xa = NULL, *Xb = NULL;
    mpq_t *D = calloc((size_t)au->B, sizeof *D);
    int64_t *cnt = calloc((size_t)au->B, sizeof *cnt), *seq_b = calloc((size_t)au->B, sizeof *seq_b);
    int64_t n = 0;
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    if (!idx || !pb_ || !pt_ || !va || !vb || !D || !cnt || !seq_b)
        st = lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
    if (D)
        for (int64_t j = 0; j < au->B; j++) mpq_init(D[j]);
    for (int64_t b = 0; b < au->B && st == LP_OK; b++)
        for (int64_t ts = 0; ts < au->Ts && st == LP_OK; ts++) {
            if (!lp_problem_counted(tk, b, ts)) continue;
            const size_t i = (size_t)(b * au->Ts + ts);
            const double x[2] = {lp_load_f64(sa->logp, sa->fmt, i), lp_load_f64(sb->logp, sb->fmt, i)};
            for (int k = 0; k < 2 && st == LP_OK; k++)
                if (!isfinite(x[k])) {
                    char hd[80];
                    lp_format_hexdec(hd, sizeof hd, x[k], sd[k]->fmt);
                    st = lp_fail(err, LP_ERR_INPUT, "%s: logp[b=%lld,t=%lld] is %s at a counted token "
                                 "(label %lld): the audit takes finite log-probs only", side_name(sd[k], k),
                                 (long long)b, (long long)ts, hd,
                                 (long long)lp_problem_label(tk, b, lp_problem_label_t(tk, ts)));
                }
            idx[n] = (int64_t)i, pb_[n] = b, pt_[n] = ts, va[n] = x[0], vb[n] = x[1];
            n++;
        }
    if (st == LP_OK && (sa->logits || sb->logits)) {
        if (sa->logits && !(Xa = malloc(((size_t)n + 1) * sizeof *Xa)))
            st = lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
        if (st == LP_OK && sb->logits && !(Xb = malloc(((size_t)n + 1) * sizeof *Xb)))
            st = lp_fail(err, LP_ERR_NOMEM, "audit: out of memory");
        if (st == LP_OK && Xa)
            st = exact_side(Xa, sa->logits, side_name(sa, 0), n, idx, pb_, pt_, opt->threads, err);
        if (st == LP_OK && Xb)
            st = exact_side(Xb, sb->logits, side_name(sb, 1), n, idx, pb_, pt_, opt->threads, err);
    }
    if (st == LP_OK) {
        au_src s = {LP_AUDIT_TOKENS, n, va, vb, pb_, pt_, NULL, NULL};
        st = level_figures(&au->lev[LP_AUDIT_TOKENS], &s, err);
    }
    int64_t ns = 0;
    if (st == LP_OK) {
        /* sequences: D_b = sum (a - b) exactly, over the sequences with a counted token */
        mpq_t x, t;
        mpq_inits(x, t, (mpq_ptr)0);
        for (int64_t i = 0, j = -1; i < n; i++) {
            if (j < 0 || seq_b[j] != pb_[i]) seq_b[++j] = pb_[i], ns = j + 1;
            q_of_double(x, va[i]);
            q_of_double(t, vb[i]);
            mpq_sub(x, x, t);
            mpq_add(D[j], D[j], x);
            cnt[j]++;
        }
        mpq_clears(x, t, (mpq_ptr)0);
        au->seqs_empty = au->B - ns;
        au_src s = {LP_AUDIT_SEQ_SUM, ns, NULL, NULL, seq_b, NULL, D, cnt};
        st = level_figures(&au->lev[LP_AUDIT_SEQ_SUM], &s, err);
        s.lev = LP_AUDIT_SEQ_MEAN;
        if (st == LP_OK) st = level_figures(&au->lev[LP_AUDIT_SEQ_MEAN], &s, err);
    }
    if (st == LP_OK) st = split_run(au, n, va, vb, Xa, Xb, pb_, pt_, ns, seq_b, cnt, err);
    lp_mpfr_leave(&ms);
    if (D)
        for (int64_t j = 0; j < au->B; j++) mpq_clear(D[j]);
    free(D), free(cnt), free(seq_b), free(idx), free(pb_), free(pt_), free(va), free(vb);
    free(Xa), free(Xb);
    if (st != LP_OK) {
        free(au);
        return st;
    }
    *out = au;
    return LP_OK;
}

void lp_audit_free(lp_audit *au) { free(au); }

void lp_audit_figures_get(const lp_audit *au, lp_audit_level lev, lp_audit_figures *out)
{
    *out = au->lev[(unsigned)lev < LP_AUDIT_NLEVELS ? lev : 0];
}

void lp_audit_split_get(const lp_audit *au, lp_audit_part part, lp_audit_split *out)
{
    if ((unsigned)part >= LP_AUDIT_NPARTS) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = au->part[part];
}

int lp_audit_dominant(const lp_audit *au) { return au->dominant; }
