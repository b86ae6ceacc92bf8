/* tests/t_fast.c: the certified fast path (reference/fast.c) gives the MPFR path's results bit for
 * bit, and its kernels hold the bounds proved in fast.c.
 *
 *  kernels   lp_fast_exp on [-700, 0) within 13 u relative, lp_fast_log1p on [0, 2^32) within
 *            32 u relative (+2^-1070), tier 2's lp_fast_exp_dd within 20.2 u^2, against MPFR
 *            (correctly rounded at 200 or 300 bits); core/lp_dd.h's TwoSum and Fast2Sum exact and
 *            lp_dd_add within its bound, against MPFR at 2200 bits; tier 3's lp_fast_exp_td within
 *            2^-126.9 relative (MPFR at 400 bits).
 *  corpus    every case of vectors/corpus (500 cases, 105k tokens): lp_ref_compute_opts with the
 *            fast path and with --slow, for the wanted sets {f32, f16, bf16}, {f64, f32} and all
 *            outputs with the double-double (tier 3, fast_td.c: the canonical dd.lo too); every
 *            output (tokens, sums, means, token mean, counts, counted flags) bit for bit, and the
 *            fallback rate reported; bf16 and f16 cases again with the histogram paths (tiers 1
 *            and 2) forced.
 *  random    seeded random problems of every storage format (normal, wide, peaked, -inf masked
 *            rows, ties), V up to 4096 (bf16 and f16 also from 16384 to 66384: tier 1's
 *            histogram path), tau = 1 and tau != 1 (one case in five: tier 1's temperature
 *            path), 1 and 2 threads: the same comparison, every output with the dd wanted in
 *            every case (tier 3); bf16 and f16 problems again
 *            with the histogram paths forced on every row (lp_fast_hist_min_v = 2), f64 too;
 *            every other problem again with tier 1's 4-lane loops (lp_fast_narrow = 1: what
 *            CPUs without AVX-512 run; here the AVX-512 clone runs them).
 *  hard      constructed rows whose logp lies within 2^-53 relative of an f32 rounding midpoint
 *            (tier 1 cannot decide them, tier 2 does), a sequence whose sum does (its tokens'
 *            tier-1 enclosures cannot decide it: MPFR); with f64 wanted, a row whose logp lies
 *            within 2^-100 of an f64 midpoint (tier 2 cannot decide it, tier 3 does) and a row with
 *            logp below 2^-1000 (falls back to MPFR), and a sequence whose sum and mean lie within
 *            2^-100 of f64 midpoints (falls back): the fallback counters move as stated and
 *            results still agree.
 */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_core.h"
#include "lp_dd.h"
#include "lp_fast.h"
#include "lp_fast_internal.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lp_vectors.h"
#include "lpcert.h"
#include "lpt.h"

#define CORPUS_DIR "vectors/corpus"
#define WANT_HALF ((1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16))
#define WANT_F64 ((1u << LP_F64) | (1u << LP_F32))
#define WANT_F64_ONLY (1u << LP_F64)
#define E_T_TD 0x1.13p-127 /* 2^-126.9, rounded up */

static int same_value(const lp_value *a, const lp_value *b)
{
    return lp_bits_f64(a->f64) == lp_bits_f64(b->f64) && lp_bits_f32(a->f32) == lp_bits_f32(b->f32) &&
           a->f16 == b->f16 && a->bf16 == b->bf16 && lp_bits_f64(a->dd.hi) == lp_bits_f64(b->dd.hi) &&
           lp_bits_f64(a->dd.lo) == lp_bits_f64(b->dd.lo);
}

static void note_value(const char *what, const lp_value *v)
{
    lpt_note("%s f64=%016llx f32=%08x f16=%04x bf16=%04x lo=%016llx (%.17g)", what,
             (unsigned long long)lp_bits_f64(v->f64), (unsigned)lp_bits_f32(v->f32), v->f16, v->bf16,
             (unsigned long long)lp_bits_f64(v->dd.lo), v->f64);
}

static int64_t tot_tokens, tot_fast, tot_fallback, tot_seqfb;
static int64_t n_cases, half_tokens, half_fallback, half_seqfb;  /* corpus, wanted WANT_HALF */
static int64_t dd_tokens, dd_fallback, dd_seqfb;                 /* all, the dd wanted (tier 3) */

/* Fast versus slow on one problem; returns the fast run's stats through *st. */
static void compare(const char *name, const lp_problem *pb, unsigned want, int threads,
                    lp_ref_stats *st)
{
    lp_ref_result a, b;
    lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
    lp_ref_options fo = LP_REF_OPTIONS_INIT, so = LP_REF_OPTIONS_INIT;
    fo.formats = so.formats = want;
    fo.threads = threads;
    so.threads = 1;
    so.slow = 1;
    lp_status sa = lp_ref_compute_opts(&a, pb, &fo, &ea);
    lp_status sb = lp_ref_compute_opts(&b, pb, &so, &eb);
    if (!lpt_check(sa == sb, "%s want=%#x: status fast %d slow %d", name, want, (int)sa, (int)sb)) {
        lpt_note("fast: %s / slow: %s", ea.msg, eb.msg);
        if (sa == LP_OK) lp_ref_result_free(&a);
        if (sb == LP_OK) lp_ref_result_free(&b);
        return;
    }
    if (sa != LP_OK) return;
    if (st) *st = a.stats;
    tot_tokens += a.stats.tokens;
    tot_fast += a.stats.fast;
    tot_fallback += a.stats.fallback;
    tot_seqfb += a.stats.seq_fallback;
    if (want & LP_REF_DD) {
        dd_tokens += a.stats.tokens - a.stats.exact;
        dd_fallback += a.stats.fallback;
        dd_seqfb += a.stats.seq_fallback;
    }
    for (int64_t i = 0; i < a.B * a.Ts; i++) {
        int ok = a.counted[i] == b.counted[i] && same_value(&a.logp[i], &b.logp[i]);
        if (!lpt_check(ok, "%s want=%#x threads=%d token b=%lld t=%lld: fast != slow", name, want,
                       threads, (long long)(i / a.Ts), (long long)(i % a.Ts))) {
            note_value("fast", &a.logp[i]);
            note_value("slow", &b.logp[i]);
            const int64_t bb = i / a.Ts, ts = i % a.Ts;
            const int64_t t = pb->shift == LP_SHIFT_NEXT ? ts + 1 : ts;
            const int64_t lab = pb->label_type == LP_I64 ? ((const int64_t *)pb->labels)[bb * pb->shape.T + t]
                                                         : ((const int32_t *)pb->labels)[bb * pb->shape.T + t];
            const size_t esz = (size_t)lp_format_get(pb->fmt)->bytes;
            lp_fast_enc fe;
            memset(&fe, 0, sizeof fe);
            int fok = lp_fast_row(&fe, (const char *)pb->logits + (size_t)((bb * pb->shape.T + ts) * pb->shape.V) * esz,
                                 pb->fmt, pb->shape.V, lab, pb->temperature);
            lpt_note("fast enclosure (ok %d): p=%a clo=%a chi=%a lo=%a hi=%a", fok, fe.p, fe.clo, fe.chi,
                     fe.lo, fe.hi);
        }
    }
    for (int64_t s = 0; s < a.B; s++) {
        int ok = a.count[s] == b.count[s] && same_value(&a.sum[s], &b.sum[s]) &&
                 same_value(&a.mean[s], &b.mean[s]);
        if (!lpt_check(ok, "%s want=%#x sequence b=%lld: fast != slow", name, want, (long long)s)) {
            note_value("fast sum", &a.sum[s]);
            note_value("slow sum", &b.sum[s]);
            note_value("fast mean", &a.mean[s]);
            note_value("slow mean", &b.mean[s]);
        }
    }
    if (!lpt_check(same_value(&a.token_mean, &b.token_mean), "%s want=%#x token_mean: fast != slow",
                   name, want)) {
        note_value("fast", &a.token_mean);
        note_value("slow", &b.token_mean);
    }
    lp_ref_result_free(&a);
    lp_ref_result_free(&b);
}

/* ---- kernels ------------------------------------------------------------------------------- */

static double rel_err(double got, const mpfr_t want)
{
    mpfr_t d;
    mpfr_flags_t fl = mpfr_flags_save();
    mpfr_init2(d, 200);
    mpfr_sub_d(d, want, got, MPFR_RNDN);
    mpfr_div(d, d, want, MPFR_RNDN);
    double r = fabs(mpfr_get_d(d, MPFR_RNDN));
    mpfr_clear(d);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
    return r;
}

static void check_kernels(lpt_rng *rng, int n)
{
    mpfr_t x, e;
    mpfr_inits2(200, x, e, (mpfr_ptr)0);
    double worst_exp = 0, worst_log = 0;
    for (int i = 0; i < n; i++) {
        double y = -700.0 * lpt_rng_unif(rng);
        if (i % 4 == 1) y = -ldexp(lpt_rng_unif(rng), -(int)(lpt_rng_next(rng) % 60));
        if (i % 4 == 2) y = -0.5 * (double)(lpt_rng_next(rng) % 1400) * 0x1.62e42fefa39efp-1;
        if (y == 0) continue;
        mpfr_flags_t fl = mpfr_flags_save();
        mpfr_set_d(x, y, MPFR_RNDN);
        mpfr_exp(e, x, MPFR_RNDN);
        mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
        double r = rel_err(lp_fast_exp(y), e);
        if (r > worst_exp) worst_exp = r;
        lpt_check(r <= 13 * 0x1p-53, "kernels: lp_fast_exp(%a) relative error %.3g > 13u", y, r);

        double t = ldexp(lpt_rng_unif(rng), (int)(lpt_rng_next(rng) % 80) - 48);
        if (i % 5 == 3) t = 0.5 + 0x1p-30 * lpt_rng_unif(rng);
        if (i % 5 == 4) t = ldexp(1.0, -(int)(lpt_rng_next(rng) % 1011));
        if (t >= 0x1p32 || t == 0) continue;
        fl = mpfr_flags_save();
        mpfr_set_d(x, t, MPFR_RNDN);
        mpfr_log1p(e, x, MPFR_RNDN);
        mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
        r = rel_err(lp_fast_log1p(t), e);
        if (r > worst_log) worst_log = r;
        lpt_check(r <= 32 * 0x1p-53, "kernels: lp_fast_log1p(%a) relative error %.3g > 32u", t, r);
    }
    printf("t_fast: kernels: worst measured exp %.2f u (bound 13), log1p %.2f u (bound 32)\n",
           worst_exp / 0x1p-53, worst_log / 0x1p-53);
    mpfr_clears(x, e, (mpfr_ptr)0);
}

/* Tier 2's exp: hi + lo against MPFR's exp at 300 bits, relative, within 20.2 u^2. */
static void check_exp_dd(lpt_rng *rng, int n)
{
    mpfr_t x, e, g;
    mpfr_flags_t fl = mpfr_flags_save();
    mpfr_inits2(300, x, e, g, (mpfr_ptr)0);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double y = -700.0 * lpt_rng_unif(rng);
        if (i % 4 == 1) y = -ldexp(lpt_rng_unif(rng), -(int)(lpt_rng_next(rng) % 60));
        if (i % 4 == 2) y = -(double)(lpt_rng_next(rng) % 258000) * 0x1.62e42fefa39efp-9; /* k ln2/256 */
        if (i % 4 == 3) y = -(double)(lpt_rng_next(rng) % 258000) * 0x1.62e42fefa39efp-9 +
                            0x1p-10 * (lpt_rng_unif(rng) - 0.5);
        if (!(y < 0) || y < -700) continue;
        double lo, hi = lp_fast_exp_dd(y, &lo);
        mpfr_set_d(x, y, MPFR_RNDN);
        mpfr_exp(e, x, MPFR_RNDN);
        mpfr_set_d(g, hi, MPFR_RNDN);
        mpfr_add_d(g, g, lo, MPFR_RNDN); /* exact at 300 bits unless lo is subnormal-tiny */
        mpfr_sub(g, g, e, MPFR_RNDN);
        /* the bound: 20.2 u^2 relative plus 2^-1073 absolute (a subnormal low part) */
        const double ab = fabs(mpfr_get_d(g, MPFR_RNDN));
        mpfr_div(g, g, e, MPFR_RNDN);
        const double r = fabs(mpfr_get_d(g, MPFR_RNDN)) / 0x1p-106;
        if (r > worst && hi >= 0x1p-960) worst = r;
        lpt_check(ab <= 20.2 * 0x1p-106 * hi * (1 + 0x1p-50) + 0x1p-1073,
                  "kernels: lp_fast_exp_dd(%a) relative error %.3g u^2 > 20.2 (+2^-1073)", y, r);
    }
    printf("t_fast: kernels: worst measured exp_dd %.3f u^2 above 2^-960 (bound 20.2)\n", worst);
    mpfr_clears(x, e, g, (mpfr_ptr)0);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
}

/* Tier 3's exp: hi + mid + lo against MPFR's exp at 400 bits, within E_t = 2^-126.9 relative
 * (fast_td.c, (4)) plus 2^-1074 absolute. */
static void check_exp_td(lpt_rng *rng, int n)
{
    mpfr_t x, e, g;
    mpfr_flags_t fl = mpfr_flags_save();
    mpfr_inits2(400, x, e, g, (mpfr_ptr)0);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double y = -600.0 * lpt_rng_unif(rng);
        if (i % 5 == 1) y = -ldexp(lpt_rng_unif(rng), -(int)(lpt_rng_next(rng) % 60));
        if (i % 5 == 2) y = -(double)(lpt_rng_next(rng) % 3500000) * 0x1.62e42fefa39efp-13;
        if (i % 5 == 3) y = -(double)(lpt_rng_next(rng) % 3500000) * 0x1.62e42fefa39efp-13 +
                            0x1p-14 * (lpt_rng_unif(rng) - 0.5);
        if (i % 5 == 4) y = (double)(float)(-30.0 * lpt_rng_unif(rng)); /* an f32 gap */
        if (!(y < 0) || y < -600) continue;
        double mid, lo, hi = lp_fast_exp_td(y, &mid, &lo);
        mpfr_set_d(x, y, MPFR_RNDN);
        mpfr_exp(e, x, MPFR_RNDN);
        mpfr_set_d(g, hi, MPFR_RNDN);
        mpfr_add_d(g, g, mid, MPFR_RNDN); /* exact at 400 bits: the parts span < 300 bits */
        mpfr_add_d(g, g, lo, MPFR_RNDN);
        mpfr_sub(g, g, e, MPFR_RNDN);
        const double ab = fabs(mpfr_get_d(g, MPFR_RNDN));
        mpfr_div(g, g, e, MPFR_RNDN);
        const double r = fabs(mpfr_get_d(g, MPFR_RNDN));
        if (r > worst) worst = r;
        if (!lpt_check(ab <= E_T_TD * hi * (1 + 0x1p-50) + 0x1p-1074,
                       "kernels: lp_fast_exp_td(%a = %.17g) relative error 2^%.2f > 2^-126.9", y, y,
                       log2(r)))
            lpt_note("hi %a mid %a lo %a", hi, mid, lo);
    }
    printf("t_fast: kernels: worst measured exp_td 2^%.2f relative (bound 2^-126.9)\n", log2(worst));
    mpfr_clears(x, e, g, (mpfr_ptr)0);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
}

/* ---- the vector corpus: only the problem is used (read by core/vectors.c, vectors/FORMAT.md);
 * the expected values are t_vectors.c's business. --------------------------------------------- */

/* A random double: sign, significand and exponent in [e0, e1] uniform (subnormal below -1022). */
static double rand_double(lpt_rng *rng, int e0, int e1)
{
    const int e = e0 + (int)(lpt_rng_next(rng) % (uint64_t)(e1 - e0 + 1));
    const double m = 1.0 + (double)(lpt_rng_next(rng) >> 12) * 0x1p-52;
    const double x = ldexp(m, e);
    return lpt_rng_next(rng) & 1 ? -x : x;
}

static int clamp_e(int e) { return e < -1074 ? -1074 : e > 1000 ? 1000 : e; }

/* A non-negative double-double about |x|: TwoSum(|x|, a double 1 to 53 binades below it). */
static lp_dd pos_dd(lpt_rng *rng, double x)
{
    const int e = ilogb(x);
    lp_dd d;
    lp_two_sum(fabs(x), fabs(rand_double(rng, clamp_e(e - 53), clamp_e(e - 1))), &d.hi, &d.lo);
    return d;
}

/* core/lp_dd.h against MPFR (exact at 2200 bits): lp_two_sum exact for any pair, lp_fast_two_sum
 * exact for |a| >= |b|, both with *s = RN(a + b), subnormals included; lp_dd_add of two
 * non-negative double-doubles within 3.0002 u^2 relative (+2^-1074), its result again with
 * |lo| <= u hi. */
static void check_dd_helpers(lpt_rng *rng, int n)
{
    mpfr_t x, y;
    mpfr_inits2(2200, x, y, (mpfr_ptr)0);
    for (int i = 0; i < n; i++) {
        const int wide = i % 3 == 0;  /* else b within 60 binades of a: carries and cancellation */
        const double a = rand_double(rng, -1074, 1000);
        const int ea = ilogb(a);
        const double b = wide ? rand_double(rng, -1074, 1000)
                              : rand_double(rng, clamp_e(ea - 60), clamp_e(ea + 60));
        double s, e;
        lp_two_sum(a, b, &s, &e);
        mpfr_set_d(x, a, MPFR_RNDN);
        mpfr_add_d(x, x, b, MPFR_RNDN);
        mpfr_set_d(y, s, MPFR_RNDN);
        mpfr_add_d(y, y, e, MPFR_RNDN);
        if (!lpt_check(mpfr_equal_p(x, y) && s == a + b, "lp_two_sum(%a, %a) = (%a, %a): not exact",
                       a, b, s, e))
            break;
        const double big = fabs(a) >= fabs(b) ? a : b, small = fabs(a) >= fabs(b) ? b : a;
        lp_fast_two_sum(big, small, &s, &e);
        mpfr_set_d(y, s, MPFR_RNDN);
        mpfr_add_d(y, y, e, MPFR_RNDN);
        if (!lpt_check(mpfr_equal_p(x, y) && s == a + b,
                       "lp_fast_two_sum(%a, %a) = (%a, %a): not exact", big, small, s, e))
            break;
        /* Two non-negative double-doubles (|lo| <= u hi, from TwoSum) and their sum. */
        const lp_dd p = pos_dd(rng, a), q = pos_dd(rng, b);
        const lp_dd r = lp_dd_add(p, q);
        mpfr_set_d(x, p.hi, MPFR_RNDN);
        mpfr_add_d(x, x, p.lo, MPFR_RNDN);
        mpfr_add_d(x, x, q.hi, MPFR_RNDN);
        mpfr_add_d(x, x, q.lo, MPFR_RNDN);
        mpfr_set_d(y, r.hi, MPFR_RNDN);
        mpfr_add_d(y, y, r.lo, MPFR_RNDN);
        mpfr_sub(y, y, x, MPFR_RNDN);
        mpfr_abs(y, y, MPFR_RNDN);
        mpfr_mul_d(x, x, 3.0002 * 0x1p-106, MPFR_RNDU);
        mpfr_add_d(x, x, 0x1p-1074, MPFR_RNDU);
        if (!lpt_check(mpfr_lessequal_p(y, x) && fabs(r.lo) <= 0x1p-53 * r.hi,
                       "lp_dd_add((%a, %a), (%a, %a)) = (%a, %a): error above 3.0002 u^2", p.hi,
                       p.lo, q.hi, q.lo, r.hi, r.lo))
            break;
    }
    mpfr_clears(x, y, (mpfr_ptr)0);
}

static void run_vcase(lp_vcase *vc)
{
    const char *name = vc->c.name;
    lp_problem *pb = &vc->c.pb;
    lp_ref_stats st;
    memset(&st, 0, sizeof st);
    compare(name, pb, WANT_HALF, 2, &st);
    half_tokens += st.tokens - st.exact;
    half_fallback += st.fallback;
    half_seqfb += st.seq_fallback;
    n_cases++;
    compare(name, pb, WANT_F64, 1, NULL);
    compare(name, pb, LP_REF_ALL, 1 + (int)(n_cases % 2), NULL); /* tier 3 */
    if (pb->fmt == LP_BF16 || pb->fmt == LP_F16) { /* the histogram paths on every row */
        lp_fast_hist_min_v = 2;
        compare(name, pb, WANT_HALF, 1, NULL);
        compare(name, pb, WANT_F64, 1, NULL);
        lp_fast_hist_min_v = 16384;
    }
}

static void check_corpus_file(const char *path)
{
    lp_vreader *r = NULL;
    lp_error err = {LP_OK, ""};
    lp_status s = lp_vectors_open(&r, path, &err);
    if (!lpt_check(s == LP_OK, "corpus: %s", err.msg)) return;
    lp_vcase c;
    int got = 0;
    while ((s = lp_vectors_next(r, &c, &got, &err)) == LP_OK && got) {
        run_vcase(&c);
        lp_vcase_free(&c);
    }
    lpt_check(s == LP_OK, "corpus: %s", err.msg);
    lp_vectors_close(r);
}

static void check_corpus(void)
{
    char **names;
    size_t nfiles;
    lp_error err = {LP_OK, ""};
    if (!lpt_check(lp_dir_list(&names, &nfiles, CORPUS_DIR, ".txt", &err) == LP_OK,
                   "corpus: cannot open %s: %s", CORPUS_DIR, err.msg))
        return;
    for (size_t i = 0; i < nfiles; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, names[i]);
        check_corpus_file(path);
    }
    lp_dir_list_free(names, nfiles);
    lpt_check(nfiles >= 10, "corpus: only %zu files found in %s", nfiles, CORPUS_DIR);
    printf("t_fast: corpus: %zu files, %lld cases, wanted {f32, f16, bf16}: %lld tokens, %lld fell "
           "back to MPFR, %lld sum/mean fallbacks\n", nfiles, (long long)n_cases,
           (long long)half_tokens, (long long)half_fallback, (long long)half_seqfb);
}

/* ---- random problems ----------------------------------------------------------------------- */

static void check_random(lpt_rng *rng, int n)
{
    for (int c = 0; c < n; c++) {
        const lp_format fmt = (lp_format)(c % 4);
        const int family = (c / 4) % 5;
        const int64_t B = 1 + (int64_t)(lpt_rng_next(rng) % 3), T = 2 + (int64_t)(lpt_rng_next(rng) % 6);
        int64_t V = 2 + (int64_t)(lpt_rng_next(rng) % (c % 3 == 0 ? 4096 : 300));
        if (c < 200 && (c % 40 == 2 || c % 40 == 3)) /* bf16, f16: 10 long cases at any level */
            V = 16384 + (int64_t)(lpt_rng_next(rng) % 50000);
        const double scale = family == 1 ? 40.0 : 3.0;
        unsigned char *x = malloc((size_t)(B * T * V) * 8);
        int64_t *lab = malloc((size_t)(B * T) * sizeof *lab);
        for (int64_t i = 0; i < B * T * V; i++) {
            double v = scale * lpt_rng_normal(rng);
            if (family == 2 && i % V == 0) v += 30.0;                     /* peaked: p near 1 */
            if (family == 3 && lpt_rng_next(rng) % 4 == 0) v = -HUGE_VAL; /* masked vocabulary */
            if (family == 4) v = (double)(lpt_rng_next(rng) % 3);         /* ties */
            lp_store_f64(x, fmt, (size_t)i, v);
        }
        for (int64_t i = 0; i < B * T; i++)
            lab[i] = lpt_rng_next(rng) % 7 == 0 ? -100 : (int64_t)(lpt_rng_next(rng) % (uint64_t)V);
        if (family == 2)
            for (int64_t i = 0; i < B * T; i++) lab[i] = lab[i] == -100 ? -100 : 0;
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = fmt;
        pb.logits = x;
        pb.labels = lab;
        pb.shift = c % 2 ? LP_SHIFT_NEXT : LP_SHIFT_NONE;
        static const double taus[] = {0.7, 1.0 / 3.0, 2.5, 0.05, 17.0, 1e-3};
        if (c % 5 == 1) pb.temperature = taus[(c / 5) % 6]; /* tier 1 with tau != 1 */
        char name[64];
        snprintf(name, sizeof name, "random/%d/%s/fam%d", c, lp_format_name(fmt), family);
        compare(name, &pb, WANT_HALF, 1 + c % 2, NULL);
        if (c % 2 == 0) { /* tier 1's 4-lane loops (CPUs without AVX-512) on the same rows */
            lp_fast_narrow = 1;
            compare(name, &pb, WANT_HALF, 1 + c % 2, NULL);
            lp_fast_narrow = 0;
        }
        compare(name, &pb, LP_REF_ALL, 1 + c % 3 % 2, NULL); /* tier 3: the dd wanted */
        if (fmt == LP_BF16 || fmt == LP_F16) { /* the histogram paths on the same rows */
            lp_fast_hist_min_v = 2;
            compare(name, &pb, WANT_HALF, 1 + c % 2, NULL);
            compare(name, &pb, WANT_F64_ONLY, 1 + c % 2, NULL);
            lp_fast_hist_min_v = 16384;
        }
        if (c % 2 == 0) compare(name, &pb, c % 4 ? WANT_F64 : WANT_F64_ONLY, 1 + c % 3 % 2, NULL);
        free(x);
        free(lab);
    }
}

/* ---- hard cases ---------------------------------------------------------------------------- */

/* d with logp([d, 0], label 0) = d - log1p(e^d) = -log1p(e^-d) as close to mu as a double d allows:
 * d = -log(expm1(-mu)). */
static double logit_for(double mu)
{
    mpfr_t t;
    mpfr_flags_t fl = mpfr_flags_save();
    mpfr_init2(t, 300);
    mpfr_set_d(t, -mu, MPFR_RNDN);
    mpfr_expm1(t, t, MPFR_RNDN);
    mpfr_log(t, t, MPFR_RNDN);
    double d = -mpfr_get_d(t, MPFR_RNDN);
    mpfr_clear(t);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
    return d;
}

/* m = RN(c - j ln2 - M), M an f64 midpoint next to c - j ln2 (c < 0 an integer, |m| <= 2^-46):
 * then c - m - j ln2 lies within ulp(m)/2 <= 2^-99 of M (the rows of check_hard). */
static double tie_logit_for(double c, int j)
{
    mpfr_t t, l, M;
    mpfr_flags_t fl = mpfr_flags_save();
    mpfr_inits2(400, t, l, M, (mpfr_ptr)0);
    mpfr_const_log2(l, MPFR_RNDN);
    mpfr_mul_ui(l, l, (unsigned long)j, MPFR_RNDN);
    mpfr_set_d(t, c, MPFR_RNDN);
    mpfr_sub(t, t, l, MPFR_RNDN); /* c - j ln2 < 0 */
    const int ex = (int)mpfr_get_exp(t);  /* |t| in [2^(ex-1), 2^ex): ulp 2^(ex-53) */
    mpfr_mul_2si(M, t, 53 - ex, MPFR_RNDN);
    mpfr_floor(M, M);
    mpfr_mul_2ui(M, M, 1, MPFR_RNDN);
    mpfr_add_ui(M, M, 1, MPFR_RNDN);
    mpfr_mul_2si(M, M, ex - 54, MPFR_RNDN); /* an odd multiple of ulp/2: a midpoint */
    mpfr_sub(t, t, M, MPFR_RNDN);           /* m = c - j ln2 - M */
    const double m = mpfr_get_d(t, MPFR_RNDN);
    mpfr_clears(t, l, M, (mpfr_ptr)0);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
    return m;
}

static void check_hard(void)
{
    /* Tokens: mu an f32 midpoint; the row's logp is within about 2^-53 |mu| of it, far inside
     * the fast path's 2^-42 enclosure, so the f32 rounding is undecided there. */
    const double mus[] = {-(1.0 + 0x1p-24), -0.75 * (1.0 + 0x1p-23), -(3.0 + 0x1p-23),
                          -ldexp(1.0 + 3 * 0x1p-24, -10)};
    const int nm = (int)(sizeof mus / sizeof mus[0]);
    double x[2 * 8];
    int64_t lab[2 * 8];
    for (int i = 0; i < nm; i++) {
        x[2 * i] = logit_for(mus[i]);
        x[2 * i + 1] = 0.0;
        lab[i] = 0;
    }
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, nm, 2};
    pb.fmt = LP_F64;
    pb.logits = x;
    pb.labels = lab;
    pb.shift = LP_SHIFT_NONE;
    lp_ref_stats st;
    memset(&st, 0, sizeof st);
    compare("hard/token-midpoint", &pb, WANT_HALF, 1, &st);
    lpt_check(st.fallback == 0, "hard/token-midpoint: %lld of %d tokens fell back (want 0: tier 2)",
              (long long)st.fallback, nm);
    for (int i = 0; i < nm; i++) {
        lp_fast_enc fe;
        lp_value v;
        memset(&v, 0, sizeof v);
        const int t1 = lp_fast_row(&fe, x + 2 * i, LP_F64, 2, 0, 1.0) && lp_fast_decide(&v, &fe, WANT_HALF);
        const int t2 = lp_fast_row_dd(&fe, x + 2 * i, LP_F64, 2, 0, 1.0) && lp_fast_decide(&v, &fe, WANT_HALF);
        lpt_check(!t1 && t2, "hard/token-midpoint %d: tier 1 decided %d (want 0), tier 2 %d (want 1)",
                  i, t1, t2);
    }

    /* A sequence of 3 equal tokens whose sum is near an f32 midpoint mu: each token (near mu/3)
     * is decided by the fast path, the sum is not. */
    const double mu = -(5.0 + 0x1p-22);
    for (int t = 0; t < 3; t++) {
        x[2 * t] = logit_for(mu / 3);
        x[2 * t + 1] = 0.0;
        lab[t] = 0;
    }
    pb.shape = (lp_shape){1, 3, 2};
    memset(&st, 0, sizeof st);
    compare("hard/sum-midpoint", &pb, WANT_HALF, 1, &st);
    lpt_check(st.fast == 3 && st.seq_fallback >= 1,
              "hard/sum-midpoint: fast %lld tokens (want 3), %lld sequence fallbacks (want >= 1: the "
              "tokens' tier-1 enclosures are too wide)", (long long)st.fast, (long long)st.seq_fallback);

    /* f64: row [-100, m, m], label 0: logp = -100 - m - log(2 + e^(-100 - m)), m chosen so that
     * logp lies within about 2^-101 of the f64 midpoint M nearest -(100 + ln2) (ulp 2^-46 there):
     * far inside tier 2's width (2^-97 of L = ln2 + ...), not inside tier 3's (2^-125.8), which
     * runs next for tau = 1 and decides it. */
    double x3[3 * 4];
    int64_t lab3[4];
    const double m1 = tie_logit_for(-100.0, 1);
    const double rows[4][3] = {{-100.0, m1, m1}, {0.0, -720.0, -HUGE_VAL}, {-100.0, 0.0, 0.0},
                               {-100.0, 0.0, 0.0}};
    memcpy(x3, rows, sizeof rows);
    for (int t = 0; t < 4; t++) lab3[t] = 0;
    pb.logits = x3;
    pb.labels = lab3;
    pb.shape = (lp_shape){1, 2, 3};
    memset(&st, 0, sizeof st);
    compare("hard/f64-token", &pb, WANT_F64_ONLY, 1, &st);
    /* the second row: logp = -log1p(e^-720) ~ -2^-1038.7, below tier 3's kept terms and tier 2's
     * absolute slack: it falls back */
    lpt_check(st.fallback == 1 && st.fast == 1,
              "hard/f64-token: %lld of 2 tokens fell back, %lld fast (want 1, 1: tier 3 decides the "
              "first)", (long long)st.fallback, (long long)st.fast);
    {   /* tier 2 alone cannot decide the first row's f64; tier 3 can */
        lp_fast_enc fe;
        lp_value v;
        const int t2 = lp_fast_row_dd(&fe, x3, LP_F64, 3, 0, 1.0) && lp_fast_decide(&v, &fe, WANT_F64_ONLY);
        mpfr_t lo, hi;
        mpfr_inits2(64, lo, hi, (mpfr_ptr)0);
        int t3 = lp_fast_row_td(lo, hi, x3, LP_F64, 3, 0, 1.0);
        if (t3) lp_fast_enc_mpfr(&fe, lo, hi);
        t3 = t3 && lp_fast_decide(&v, &fe, WANT_F64_ONLY);
        mpfr_clears(lo, hi, (mpfr_ptr)0);
        lpt_check(!t2 && t3, "hard/f64-token: tier 2 decided %d (want 0), tier 3 %d (want 1)", t2, t3);
    }
    /* a sequence of two tokens: [-100, 0, 0] and [-100, m2, m2], the sum within about 2^-101 of
     * the f64 midpoint M2 nearest -(200 + 2 ln2), the mean within 2^-102 of M2/2 (a midpoint too);
     * each token is far from its own midpoints (decided by tier 2), the sum falls back. */
    x3[9 + 1] = x3[9 + 2] = tie_logit_for(-200.0, 2);
    pb.logits = x3 + 6;
    memset(&st, 0, sizeof st);
    compare("hard/f64-sum", &pb, WANT_F64_ONLY, 1, &st);
    lpt_check(st.fast == 2 && st.seq_fallback >= 1,
              "hard/f64-sum: fast %lld tokens (want 2), %lld sequence fallbacks (want >= 1)",
              (long long)st.fast, (long long)st.seq_fallback);
}

int main(void)
{
    lpt_begin("t_fast");
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    check_kernels(&rng, lpt_level() == 1 ? 20000 : 1000000);
    check_exp_dd(&rng, lpt_level() == 1 ? 20000 : 1000000);
    {
        lpt_rng td_rng; /* its own stream: the problems below are those of a run without it */
        lpt_rng_init(&td_rng, lpt_seed() ^ 0x7464u);
        check_exp_td(&td_rng, lpt_level() == 1 ? 20000 : 1000000);
    }
    {
        lpt_rng dd_rng; /* its own stream: the problems below are those of a run without it */
        lpt_rng_init(&dd_rng, lpt_seed() ^ 0x6464u);
        check_dd_helpers(&dd_rng, lpt_level() == 1 ? 20000 : 1000000);
    }
    check_hard();
    check_random(&rng, lpt_level() == 1 ? 200 : 5000);
    check_corpus();
    printf("t_fast: all: %lld tokens, %lld decided fast, %lld fell back (%.2g), %lld sum/mean "
           "fallbacks\n", (long long)tot_tokens, (long long)tot_fast, (long long)tot_fallback,
           tot_tokens ? (double)tot_fallback / (double)tot_tokens : 0.0, (long long)tot_seqfb);
    printf("t_fast: dd wanted (tier 3): %lld tokens, %lld fell back (%.2g), %lld sum/mean "
           "fallbacks\n", (long long)dd_tokens, (long long)dd_fallback,
           dd_tokens ? (double)dd_fallback / (double)dd_tokens : 0.0, (long long)dd_seqfb);
    return lpt_end();
}
