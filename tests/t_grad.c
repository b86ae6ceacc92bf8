/* tests/t_grad.c: the exact gradient reference (reference/grad.c, SPEC A8), bit for bit.
 *
 *  oracle    random rows of every storage format (normal, wide, peaked p_y = 1 - 10^-k up to
 *            k = 30, -inf masked, ties for the max, huge and tiny logits, subnormal results),
 *            temperatures and divisors: every element of lp_grad_row against an independent
 *            evaluation in this file (MPFR at 1600 bits by the textbook formula g_y = (1 - p_y) /
 *            (tau D), the one the reference must not use, harmless at that precision; rounded by
 *            mpfr_get_d / mpfr_get_flt for f64 / f32, by a format emulation for f16 / bf16; dd.lo =
 *            RN(g - hi)), every member of every lp_value.
 *  specials  NaN, +inf and all -inf rows (NaN everywhere); -inf elements (-0); label at -inf
 *            (1 / (tau D) exactly); label the only finite logit (+0, the others -0); negative
 *            values that underflow (-0); a gap past MPFR's exponent range (1e300 in f64).
 *  exact     rows of n equal logits, hand-computed: -1/3 and 2/3; exact rounding ties decided
 *            RNE (511/512 in bf16, 4095/4096 in f16, 2^-25 in f16's subnormals, 3 * 2^-150 and
 *            2^-150 in f32's subnormals).
 *  problem   lp_grad_compute on problems with shift next / none, masks, ignore_index, every
 *            reduction: the rows come in order, each once, rows that score nothing are +0, the
 *            counted rows are lp_grad_row with the reduction's divisor; the sink can stop it;
 *            invalid sampling parameters are refused; the same bits with slow on and 2 threads, and on the
 *            wanted formats with the fast path on 1 and 3 threads.
 *  fast      the fast path (grad_fast.c) against the MPFR route, bit for bit on the wanted
 *            formats ({f64, f32, f16, bf16}, {f32, f16, bf16}, f64, bf16): random rows of every
 *            kind above plus gaps near 745 (subnormal results), temperatures 2^-20 to 1e3,
 *            divisors up to 2^53 + 1 (outside the fast domain); peaked rows k = 0..30 in every
 *            format; an f64 subnormal element (the fallback counter moves), a label at -inf,
 *            elements past the small-term cut, ties. The counts fast + fallback + exact = V.
 *  sampled   SPEC A8 over A7's processed rows: random rows, every format, softcap 0 / 5 / 30, top_k,
 *            top_p, min_p, temperatures and divisors, against an oracle in this file (the kept
 *            set from lp_ref_kept; z_i = c tanh(x_i / c) / tau, softmax over it, P_y = 1 - p_y,
 *            s_i = 1 - tanh^2(x_i / c), all at ORACLE_PREC bits; a label outside the kept set
 *            has P_y = 1); elements outside the kept set -0 checked on their own; without softcap
 *            the fast path against the MPFR route bit for bit (and the fast counter moves); the
 *            label the only kept token (+0, the others -0), a label at -inf under softcap (+0),
 *            x_y = 0 outside the kept set under softcap (1 / (tau D) exactly), equal kept logits;
 *            lp_grad_compute with sampling = lp_grad_row per row, slow and fast alike.
 *  writer    core's deferred safetensors tensors (lp_twriter_add_later, begin, put), which
 *            `ref --grad` writes through: the file read back, misuse refused, abort leaves nothing.
 *  boundary  grad_fast.c's rounding-boundary bit test against its definition (every f16 and
 *            bf16 midpoint, overflow thresholds, random doubles and their neighbours).
 */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_tensor.h"
#include "lp_grad_internal.h"
#include "lpcert_check.h"
#include "lp_ref_internal.h"
#include "lpcert.h"
#include "lpt.h"

#define ORACLE_PREC 1600

static int same_value(const lp_value *a, const lp_value *b)
{
    return lp_bits_f64(a->f64) == lp_bits_f64(b->f64) && lp_bits_f32(a->f32) == lp_bits_f32(b->f32) &&
           a->f16 == b->f16 && a->bf16 == b->bf16 && lp_bits_f64(a->dd.hi) == lp_bits_f64(b->dd.hi) &&
           lp_bits_f64(a->dd.lo) == lp_bits_f64(b->dd.lo);
}

static void note_value(const char *what, const lp_value *v)
{
    lpt_note("%s f64=%016llx f32=%08x f16=%04x bf16=%04x hi=%016llx lo=%016llx (%.17g, lo %.17g)",
             what, (unsigned long long)lp_bits_f64(v->f64), (unsigned)lp_bits_f32(v->f32), v->f16,
             v->bf16, (unsigned long long)lp_bits_f64(v->dd.hi),
             (unsigned long long)lp_bits_f64(v->dd.lo), v->f64, v->dd.lo);
}

/* A row of V values (doubles representable in fmt) stored in fmt. */
static void *store_row(const double *x, int64_t V, lp_format fmt)
{
    const int esz = lp_format_get(fmt)->bytes;
    unsigned char *p = malloc((size_t)V * (size_t)esz + 1);
    for (int64_t i = 0; i < V; i++) {
        unsigned char *q = p + (size_t)i * (size_t)esz;
        switch (fmt) {
        case LP_F64: memcpy(q, &x[i], 8); break;
        case LP_F32: { float f = lp_f32_from_f64(x[i]); memcpy(q, &f, 4); break; }
        case LP_F16: { uint16_t h = lp_f16_from_f64(x[i]); memcpy(q, &h, 2); break; }
        case LP_BF16: { uint16_t h = lp_bf16_from_f64(x[i]); memcpy(q, &h, 2); break; }
        }
    }
    return p;
}

/* The reproducer: the row as stored (hex), label, tau, divisor. */
static void note_row(const void *row, lp_format fmt, int64_t V, int64_t y, double tau, int64_t D)
{
    lpt_note("row %s V=%lld label=%lld tau=%a divisor=%lld:", lp_format_name(fmt), (long long)V,
             (long long)y, tau, (long long)D);
    for (int64_t i = 0; i < V && i < 64; i++) {
        char buf[64];
        lp_format_hexdec(buf, sizeof buf, lp_load_f64(row, fmt, (size_t)i), fmt);
        lpt_note("  x[%lld] = %s", (long long)i, buf);
    }
    if (V > 64) lpt_note("  ... (%lld more)", (long long)(V - 64));
}

/* Rounds x into a small format by emulation (precision, exponent range, subnormalize). */
static double emulate(const mpfr_t x, int prec, int emin, int emax)
{
    mpfr_t r;
    mpfr_init2(r, prec);
    mpfr_exp_t e0 = mpfr_get_emin(), e1 = mpfr_get_emax();
    mpfr_set_emin(emin - prec + 2);
    mpfr_set_emax(emax + 1);
    int inex = mpfr_set(r, x, MPFR_RNDN);
    inex = mpfr_check_range(r, inex, MPFR_RNDN);
    mpfr_subnormalize(r, inex, MPFR_RNDN);
    mpfr_set_emin(e0);
    mpfr_set_emax(e1);
    double v = mpfr_get_d(r, MPFR_RNDN);
    mpfr_clear(r);
    return v;
}

static void oracle_round(lp_value *o, const mpfr_t g)
{
    o->f64 = mpfr_get_d(g, MPFR_RNDN);
    o->f32 = mpfr_get_flt(g, MPFR_RNDN);
    o->f16 = lp_f16_from_f64(emulate(g, 11, -14, 15));     /* exact: a value of f16 */
    o->bf16 = lp_bf16_from_f64(emulate(g, 8, -126, 127));  /* exact: a value of bf16 */
    o->dd.hi = o->f64;
    o->dd.lo = 0.0;
    if (isinf(o->f64)) return;
    /* lo = RN(g - hi), also where hi is a zero: a negative g that underflows has lo = -0 */
    mpfr_t d;
    mpfr_init2(d, mpfr_get_prec(g) + 2200);
    mpfr_sub_d(d, g, o->f64, MPFR_RNDN);
    o->dd.lo = mpfr_zero_p(d) ? 0.0 : mpfr_get_d(d, MPFR_RNDN);
    mpfr_clear(d);
}

/* Element i of the gradient by the textbook formula at ORACLE_PREC bits (rows with a finite
 * label, no NaN or +inf, gaps within MPFR's exponent range). */
static void oracle(lp_value *o, const double *x, int64_t V, int64_t y, double tau, int64_t D,
                   int64_t i)
{
    const mpfr_flags_t fl = mpfr_flags_save();
    mpfr_t s, e, z, m, g;
    mpfr_prec_t P = ORACLE_PREC;
again:
    mpfr_inits2(P, s, e, z, m, g, (mpfr_ptr)0);
    double mx = -HUGE_VAL;
    for (int64_t k = 0; k < V; k++) if (x[k] > mx) mx = x[k];
    mpfr_set_d(m, mx, MPFR_RNDN);
    mpfr_div_d(m, m, tau, MPFR_RNDN);
    mpfr_set_zero(s, 1);
    for (int64_t k = 0; k < V; k++) {
        if (x[k] == -HUGE_VAL) continue;
        mpfr_set_d(z, x[k], MPFR_RNDN);
        mpfr_div_d(z, z, tau, MPFR_RNDN);
        mpfr_sub(z, z, m, MPFR_RNDN);
        mpfr_exp(e, z, MPFR_RNDN);
        mpfr_add(s, s, e, MPFR_RNDN);
    }
    if (x[i] == -HUGE_VAL) {
        mpfr_set_zero(e, 1);
    } else {
        mpfr_set_d(z, x[i], MPFR_RNDN);
        mpfr_div_d(z, z, tau, MPFR_RNDN);
        mpfr_sub(z, z, m, MPFR_RNDN);
        mpfr_exp(e, z, MPFR_RNDN);
    }
    mpfr_div(g, e, s, MPFR_RNDN);               /* p_i */
    if (i == y && !mpfr_zero_p(g) && P < 200000) {
        /* 1 - p_y keeps ORACLE_PREC bits, and so does the dd's RN(g - hi), when P covers the
         * exponents of p_y (tiny: 1 - p_y = 1 - tiny) and of 1 - p_y (p_y close to 1) */
        mpfr_ui_sub(z, 1, g, MPFR_RNDN);
        mpfr_prec_t need = mpfr_zero_p(z) ? 4 * P : ORACLE_PREC;
        if (!mpfr_zero_p(z) && -mpfr_get_exp(z) > 0) need += -mpfr_get_exp(z);
        if (-mpfr_get_exp(g) > 0) need += -mpfr_get_exp(g);
        if (need > P) {
            mpfr_clears(s, e, z, m, g, (mpfr_ptr)0);
            P = need;
            goto again;
        }
    }
    if (i == y) mpfr_ui_sub(g, 1, g, MPFR_RNDN); /* 1 - p_y: at enough bits, it is fine */
    else mpfr_neg(g, g, MPFR_RNDN);
    mpfr_div_d(g, g, tau, MPFR_RNDN);
    mpfr_div_si(g, g, (long)D, MPFR_RNDN);
    if (x[i] == -HUGE_VAL && i != y) mpfr_set_zero(g, -1);
    oracle_round(o, g);
    mpfr_clears(s, e, z, m, g, (mpfr_ptr)0);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
}

static int64_t n_rows, n_elems;

/* lp_grad_row on x (stored in fmt) against the oracle, every element. */
static void check_oracle(const char *what, const double *x, int64_t V, int64_t y, lp_format fmt,
                         double tau, int64_t D)
{
    void *row = store_row(x, V, fmt);
    double *xs = malloc((size_t)V * sizeof *xs);
    for (int64_t i = 0; i < V; i++) xs[i] = lp_load_f64(row, fmt, (size_t)i);
    lp_value *g = malloc((size_t)V * sizeof *g);
    lp_error err = {LP_OK, ""};
    lp_status s = lp_grad_row(g, row, fmt, V, y, tau, NULL, D, &err);
    n_rows++;
    if (!lpt_check(s == LP_OK, "%s: lp_grad_row failed: %s", what, err.msg)) {
        note_row(row, fmt, V, y, tau, D);
    } else {
        int bad = 0;
        for (int64_t i = 0; i < V && bad < 3; i++) {
            lp_value o;
            oracle(&o, xs, V, y, tau, D, i);
            n_elems++;
            if (!lpt_check(same_value(&g[i], &o), "%s: element %lld of %lld (label %lld): reference "
                           "!= oracle", what, (long long)i, (long long)V, (long long)y)) {
                note_value("reference", &g[i]);
                note_value("oracle   ", &o);
                note_row(row, fmt, V, y, tau, D);
                bad++;
            }
        }
    }
    free(g);
    free(xs);
    free(row);
}

static double rnd_fmt(double v, lp_format f) { return lp_round_to(v, f); }

static void test_oracle_random(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x67726164u);
    static const double taus[] = {1.0, 0.7, 2.0, 3.0, 0.1, 1e-3};
    static const int64_t divs[] = {1, 1, 3, 7, 4096, 1000003};
    const int n = 160 * lpt_level();
    for (int c = 0; c < n; c++) {
        const lp_format fmt = (lp_format)(c % LP_NFORMATS);
        const int kind = (c / LP_NFORMATS) % 8;
        const int64_t V = 2 + (int64_t)(lpt_rng_next(&r) % (kind == 7 ? 300 : 40));
        const int64_t y = (int64_t)(lpt_rng_next(&r) % (uint64_t)V);
        const double tau = taus[lpt_rng_next(&r) % 6];
        const int64_t D = divs[lpt_rng_next(&r) % 6];
        double *x = malloc((size_t)V * sizeof *x);
        for (int64_t i = 0; i < V; i++) {
            double v;
            switch (kind) {
            case 0: v = 3 * lpt_rng_normal(&r); break;                    /* normal */
            case 1: v = 40 * lpt_rng_normal(&r); break;                   /* wide */
            case 2: v = lpt_rng_normal(&r) - (i == y ? 0 : 0); break;      /* filled below */
            case 3: v = (lpt_rng_next(&r) % 4) ? 2 * lpt_rng_normal(&r) : -HUGE_VAL; break;
            case 4: v = (double)(lpt_rng_next(&r) % 3); break;              /* ties */
            case 5: v = 1e4 * lpt_rng_normal(&r); break;                  /* huge: subnormals */
            case 6: v = 1e-6 * lpt_rng_normal(&r); break;                 /* tiny: near uniform */
            default: v = 5 * lpt_rng_normal(&r); break;
            }
            if (fmt == LP_F16 && (v > 60000 || v < -60000)) v = v > 0 ? 60000 : -60000;
            x[i] = rnd_fmt(v, fmt);
        }
        if (kind == 2) { /* peaked: p_y = 1 - 10^-k roughly, k up to 30 */
            const double k = (double)(lpt_rng_next(&r) % 31);
            for (int64_t i = 0; i < V; i++) x[i] = rnd_fmt(lpt_rng_normal(&r), fmt);
            x[y] = rnd_fmt(k * log(10.0) * tau + log((double)V) * tau + 2, fmt);
        }
        if (kind == 3 && x[y] == -HUGE_VAL) x[y] = 0.0;
        int finite = 0;
        double hi = -HUGE_VAL, lo = HUGE_VAL, t = tau;
        for (int64_t i = 0; i < V; i++)
            if (x[i] != -HUGE_VAL) {
                finite++;
                hi = x[i] > hi ? x[i] : hi;
                lo = x[i] < lo ? x[i] : lo;
            }
        /* the oracle's precision grows with the gaps (1 - p_y with p_y below 2^-gap): keep them
         * under 3000 / tau, far enough for subnormal results in every format (2^-1074) */
        while (finite > 0 && (hi - lo) / t > 3000) t *= 4;
        if (finite > 0) {
            char what[96];
            snprintf(what, sizeof what, "random case %d kind %d seed %llu", c, kind,
                     (unsigned long long)lpt_seed());
            check_oracle(what, x, V, y, fmt, t, D);
        }
        free(x);
    }
}

/* ---- specials and exact rows, by hand ---------------------------------------------------- */

static lp_value mkval(uint64_t f64, uint32_t f32, uint16_t f16, uint16_t bf16, uint64_t lo)
{
    lp_value v;
    v.f64 = lp_f64_bits(f64);
    v.f32 = lp_f32_bits(f32);
    v.f16 = f16;
    v.bf16 = bf16;
    v.dd.hi = v.f64;
    v.dd.lo = lp_f64_bits(lo);
    return v;
}

static lp_value val_of(double g) /* a value exact in every format */
{
    lp_value v;
    v.f64 = g;
    v.f32 = (float)g;
    v.f16 = lp_f16_from_f64(g);
    v.bf16 = lp_bf16_from_f64(g);
    v.dd.hi = g;
    v.dd.lo = 0.0;
    return v;
}

/* lp_grad_row on x against expected values ex[0..V). */
static void check_row(const char *what, const double *x, int64_t V, int64_t y, lp_format fmt,
                      double tau, int64_t D, const lp_value *ex)
{
    void *row = store_row(x, V, fmt);
    lp_value *g = malloc((size_t)V * sizeof *g);
    lp_error err = {LP_OK, ""};
    lp_status s = lp_grad_row(g, row, fmt, V, y, tau, NULL, D, &err);
    if (!lpt_check(s == LP_OK, "%s: lp_grad_row failed: %s", what, err.msg)) {
        note_row(row, fmt, V, y, tau, D);
    } else {
        for (int64_t i = 0; i < V; i++)
            if (!lpt_check(same_value(&g[i], &ex[i]), "%s: element %lld (label %lld)", what,
                           (long long)i, (long long)y)) {
                note_value("reference", &g[i]);
                note_value("expected ", &ex[i]);
                note_row(row, fmt, V, y, tau, D);
                break;
            }
    }
    free(g);
    free(row);
}

static void test_specials(void)
{
    const double inf = HUGE_VAL, nan_ = NAN;
    const lp_value NANV = mkval(0x7ff8000000000000u, 0x7fc00000u, 0x7e00, 0x7fc0,
                                0x7ff8000000000000u);
    const lp_value PZ = val_of(0.0), NZ = val_of(-0.0);
    lp_value ex[8];
    for (int f = 0; f < LP_NFORMATS; f++) {
        const lp_format fmt = (lp_format)f;
        char what[80];
        { /* NaN anywhere, +inf anywhere, all -inf: NaN everywhere */
            double a[4] = {1, nan_, 2, 3}, b[4] = {1, 2, inf, 3}, c[4] = {-inf, -inf, -inf, -inf};
            for (int i = 0; i < 4; i++) ex[i] = NANV;
            snprintf(what, sizeof what, "%s NaN row", lp_format_name(fmt));
            check_row(what, a, 4, 0, fmt, 1.0, 1, ex);
            snprintf(what, sizeof what, "%s +inf row", lp_format_name(fmt));
            check_row(what, b, 4, 2, fmt, 1.0, 1, ex);
            snprintf(what, sizeof what, "%s all -inf row", lp_format_name(fmt));
            check_row(what, c, 4, 1, fmt, 1.0, 3, ex);
        }
        { /* label the only finite logit: +0, the others -0 */
            double a[4] = {-inf, 5, -inf, -inf};
            ex[0] = NZ; ex[1] = PZ; ex[2] = NZ; ex[3] = NZ;
            snprintf(what, sizeof what, "%s label the only finite logit", lp_format_name(fmt));
            check_row(what, a, 4, 1, fmt, 0.5, 7, ex);
        }
        { /* label at -inf, two equal finite logits: g_y = 1/(tau D), others -1/(2 tau D) */
            double a[4] = {-inf, 1, 1, -inf};
            ex[0] = val_of(1.0 / 8);  /* tau 2, D 4 */
            ex[1] = val_of(-1.0 / 16);
            ex[2] = val_of(-1.0 / 16);
            ex[3] = NZ;
            snprintf(what, sizeof what, "%s label at -inf, exact row", lp_format_name(fmt));
            check_row(what, a, 4, 0, fmt, 2.0, 4, ex);
        }
        { /* label at -inf, numeric row: g_y = 1 / (tau D) = 1/3 exactly rounded */
            double a[3] = {0.5, -inf, 2};
            void *row = store_row(a, 3, fmt);
            lp_value g[3];
            lp_error err = {LP_OK, ""};
            lp_status s = lp_grad_row(g, row, fmt, 3, 1, 1.0, NULL, 3, &err);
            /* 1/3: f64 0x3fd5555555555555, lo = RN(1/3 - hi) = 2^-54/3 -> 0x3c75555555555555 */
            lp_value third = mkval(0x3fd5555555555555u, 0x3eaaaaabu, 0x3555, 0x3eab,
                                   0x3c75555555555555u);
            snprintf(what, sizeof what, "%s label at -inf, numeric row", lp_format_name(fmt));
            if (lpt_check(s == LP_OK && same_value(&g[1], &third), "%s", what)) {
                /* the others: the oracle (a label at -inf is outside its scope: its own
                 * elements are fine) */
                for (int i = 0; i < 3; i += 2) {
                    lp_value o;
                    double xs[3] = {lp_load_f64(row, fmt, 0), -inf, lp_load_f64(row, fmt, 2)};
                    oracle(&o, xs, 3, 1, 1.0, 3, i);
                    if (!lpt_check(same_value(&g[i], &o), "%s element %d", what, i)) {
                        note_value("reference", &g[i]);
                        note_value("oracle   ", &o);
                    }
                }
            } else {
                note_value("reference", &g[1]);
                note_value("expected ", &third);
                note_row(row, fmt, 3, 1, 1.0, 3);
            }
            free(row);
        }
        { /* negative values underflowing: -0 in the narrow formats (oracle decides all) */
            double a[3] = {0, -120, -100};
            snprintf(what, sizeof what, "%s underflow to -0", lp_format_name(fmt));
            check_oracle(what, a, 3, 0, fmt, fmt == LP_F16 ? 0.125 : 1.0, 1);
        }
    }
    { /* a gap past MPFR's exponent range (f64 logits): exp underflows MPFR itself */
        double a[2] = {0, -1e300};
        ex[0] = PZ;
        ex[1] = NZ;
        ex[1].dd.lo = -0.0;   /* -tiny: hi -0, lo = RN(-tiny) = -0 */
        check_row("f64 gap 1e300, label at the max", a, 2, 0, LP_F64, 1.0, 1, ex);
        ex[0] = val_of(-1.0);   /* -(1 - tiny): hi -1, lo = RN(tiny) = +0 */
        ex[1] = val_of(1.0);
        ex[1].dd.lo = -0.0;   /* 1 - tiny: lo = RN(-tiny) = -0 */
        check_row("f64 gap 1e300, label at the small one", a, 2, 1, LP_F64, 1.0, 1, ex);
    }
}

static void test_exact_rows(void)
{
    lp_value ex[4096];
    double x[4096];
    { /* n = 3: -1/3, 2/3 */
        double a[4] = {2, 2, -HUGE_VAL, 2};
        lp_value m3 = mkval(0xbfd5555555555555u, 0xbeaaaaabu, 0xb555, 0xbeab, 0xbc75555555555555u);
        lp_value t23 = mkval(0x3fe5555555555555u, 0x3f2aaaabu, 0x3955, 0x3f2b, 0x3c85555555555555u);
        ex[0] = m3; ex[1] = t23; ex[2] = val_of(-0.0); ex[3] = m3;
        for (int f = 0; f < LP_NFORMATS; f++) check_row("exact 1/3", a, 4, 1, (lp_format)f, 1.0, 1, ex);
    }
    { /* n = 512 (bf16 logits): label 511/512, a bf16 tie between 0x3f7f (odd) and 1.0: 0x3f80 */
        for (int i = 0; i < 512; i++) {
            x[i] = 0.25;
            ex[i] = val_of(-1.0 / 512);
        }
        ex[7] = val_of(511.0 / 512);
        ex[7].bf16 = 0x3f80;
        check_row("bf16 tie 511/512", x, 512, 7, LP_BF16, 1.0, 1, ex);
    }
    { /* n = 4096: label 4095/4096, an f16 tie between 0x3bff (odd) and 1.0 (0x3c00); bf16 1.0 */
        for (int i = 0; i < 4096; i++) {
            x[i] = -3;
            ex[i] = val_of(-1.0 / 4096);
        }
        ex[100] = val_of(4095.0 / 4096);
        ex[100].f16 = 0x3c00;
        ex[100].bf16 = 0x3f80;
        check_row("f16 tie 4095/4096", x, 4096, 100, LP_F32, 1.0, 1, ex);
    }
    { /* n = 2, tau = 2^24: +-2^-25, half f16's smallest subnormal: a tie to 0 (even) */
        double a[2] = {1, 1};
        ex[0] = val_of(0x1p-25);
        ex[0].f16 = 0x0000;
        ex[1] = val_of(-0x1p-25);
        ex[1].f16 = 0x8000;
        check_row("f16 subnormal tie 2^-25", a, 2, 0, LP_F32, 0x1p24, 1, ex);
    }
    { /* n = 4, tau = 2^148: label 3 * 2^-150 (f32 tie between 2^-149 and 2^-148: 2^-148),
       * others -2^-150 (f32 tie between 0 and 2^-149: -0) */
        double a[4] = {7, 7, 7, 7};
        lp_value lab = mkval(lp_bits_f64(0x3p-150), 0x00000002u, 0x0000, 0x0000, 0);
        lp_value oth = mkval(lp_bits_f64(-0x1p-150), 0x80000000u, 0x8000, 0x8000, 0);
        ex[0] = oth; ex[1] = oth; ex[2] = lab; ex[3] = oth;
        check_row("f32 subnormal ties", a, 4, 2, LP_F64, 0x1p148, 1, ex);
    }
    { /* weights: mean divisor 6, tau 0.5: n = 2 -> -1/6 and 1/6 (not dyadic) */
        double a[2] = {0, 0};
        lp_value g[2];
        lp_error err = {LP_OK, ""};
        void *row = store_row(a, 2, LP_F32);
        lp_status s = lp_grad_row(g, row, LP_F32, 2, 0, 0.5, NULL, 6, &err);
        /* (1/2) / (0.5 * 6) = 1/6 */
        lpt_check(s == LP_OK && g[0].f64 == 1.0 / 6 && g[1].f64 == -1.0 / 6 &&
                  g[0].f32 == 1.0f / 6 && g[1].f32 == -1.0f / 6 && g[0].dd.lo == -g[1].dd.lo &&
                  fabs(g[0].dd.lo) > 0,
                  "exact 1/6: %a %a lo %a", g[0].f64, g[1].f64, g[0].dd.lo);
        free(row);
    }
}

#define W_ALL4 0xfu
#define W_NARROW ((1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16))
#define W_F64 (1u << LP_F64)

static int same_wanted(const lp_value *a, const lp_value *b, unsigned want)
{
    return (!(want & W_F64) || lp_bits_f64(a->f64) == lp_bits_f64(b->f64)) &&
           (!(want & (1u << LP_F32)) || lp_bits_f32(a->f32) == lp_bits_f32(b->f32)) &&
           (!(want & (1u << LP_F16)) || a->f16 == b->f16) &&
           (!(want & (1u << LP_BF16)) || a->bf16 == b->bf16);
}

/* ---- whole problems ------------------------------------------------------------------------ */

typedef struct collect {
    int64_t next, B, T, V;
    lp_value *all;   /* [B*T*V] */
    int stop_at;     /* stop at this row (-1 never) */
    int order_ok;
} collect;

static int sink_collect(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V,
                        lp_error *err)
{
    collect *c = user;
    if (b * c->T + t != c->next || V != c->V) c->order_ok = 0;
    if (c->next == c->stop_at) {
        lp_fail(err, LP_ERR_IO, "sink: stopped on purpose");
        return 1;
    }
    memcpy(c->all + (size_t)c->next * (size_t)V, g, (size_t)V * sizeof *g);
    c->next++;
    return 0;
}

static void test_problem(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x70726f62u);
    const int64_t B = 3, T = 5, V = 9;
    for (int c = 0; c < 16; c++) {
        const lp_format fmt = (lp_format)(c % LP_NFORMATS);
        const lp_shift shift = (c / 4) % 2 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
        const int use_mask = (c / 8) % 2;
        double *x = malloc((size_t)(B * T * V) * sizeof *x);
        for (int64_t i = 0; i < B * T * V; i++) x[i] = lp_round_to(2 * lpt_rng_normal(&r), fmt);
        x[4 * V + 1] = NAN;  /* row (0, 4): scores nothing under shift next */
        x[(1 * T + 2) * V + 3] = -HUGE_VAL;
        for (int64_t i = 0; i < V; i++) x[(2 * T + 1) * V + i] = 1.5;  /* an exact row */
        void *logits = store_row(x, B * T * V, fmt);
        int64_t labels[15];
        uint8_t mask[15];
        for (int i = 0; i < 15; i++) {
            labels[i] = (int64_t)(lpt_rng_next(&r) % (uint64_t)V);
            mask[i] = (lpt_rng_next(&r) % 5) != 0;
        }
        labels[2] = -100;
        labels[T + 4] = -100;
        mask[2 * T + 4] = 1;
        for (int red = 0; red < 4; red++) {
            lp_problem pb = LP_PROBLEM_INIT;
            pb.shape = (lp_shape){B, T, V};
            pb.fmt = fmt;
            pb.logits = logits;
            pb.labels = labels;
            pb.mask = use_mask ? mask : NULL;
            pb.shift = shift;
            pb.temperature = c % 3 == 0 ? 0.75 : 1.0;
            collect col = {0, B, T, V, calloc((size_t)(B * T * V), sizeof(lp_value)), -1, 1};
            lp_grad_stats st;
            lp_error err = {LP_OK, ""};
            lp_status s = lp_grad_compute(&pb, (lp_reduction)red, NULL, sink_collect, &col, &st,
                                          &err);
            char what[128];
            snprintf(what, sizeof what, "problem %d (%s shift %s mask %d) reduction %s", c,
                     lp_format_name(fmt), shift == LP_SHIFT_NEXT ? "next" : "none", use_mask,
                     lp_reduction_name((lp_reduction)red));
            if (!lpt_check(s == LP_OK && col.order_ok && col.next == B * T && st.rows == B * T,
                           "%s: status %d (%s), order %d, rows %lld", what, (int)s, err.msg,
                           col.order_ok, (long long)col.next)) {
                free(col.all);
                continue;
            }
            int64_t nb[3] = {0, 0, 0}, tot = 0;
            const int64_t Ts = shift == LP_SHIFT_NEXT ? T - 1 : T;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < Ts; t++) {
                    int64_t lt = shift == LP_SHIFT_NEXT ? t + 1 : t;
                    nb[b] += labels[b * T + lt] != -100 && (!use_mask || mask[b * T + lt]);
                }
            tot = nb[0] + nb[1] + nb[2];
            int64_t elems = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < T; t++) {
                    const int64_t lt = shift == LP_SHIFT_NEXT ? t + 1 : t;
                    const int counted = t < Ts && labels[b * T + lt] != -100 &&
                                        (!use_mask || mask[b * T + lt]);
                    const lp_value *got = col.all + (size_t)((b * T + t) * V);
                    lp_value ex[9];
                    if (counted) {
                        const int64_t D = red == LP_RED_MEAN ? nb[b] : red == LP_RED_TOKEN_MEAN ? tot : 1;
                        const size_t esz = (size_t)lp_format_get(fmt)->bytes;
                        lp_status s2 = lp_grad_row(ex, (const char *)logits + (size_t)((b * T + t) * V) * esz,
                                                   fmt, V, labels[b * T + lt], pb.temperature, NULL,
                                                   D, &err);
                        lpt_check(s2 == LP_OK, "%s: lp_grad_row: %s", what, err.msg);
                        elems += V;
                    } else {
                        for (int i = 0; i < V; i++) ex[i] = val_of(0.0);
                    }
                    for (int64_t i = 0; i < V; i++)
                        if (!lpt_check(same_value(&got[i], &ex[i]), "%s: row (%lld, %lld) element "
                                       "%lld (counted %d)", what, (long long)b, (long long)t,
                                       (long long)i, counted)) {
                            note_value("compute", &got[i]);
                            note_value("row    ", &ex[i]);
                            break;
                        }
                }
            lpt_check(st.elements == elems, "%s: stats.elements %lld, expected %lld", what,
                      (long long)st.elements, (long long)elems);
            /* slow on, 2 threads: the same bits */
            lp_ref_options so = LP_REF_OPTIONS_INIT;
            so.slow = 1;
            so.threads = 2;
            collect c2 = {0, B, T, V, calloc((size_t)(B * T * V), sizeof(lp_value)), -1, 1};
            s = lp_grad_compute(&pb, (lp_reduction)red, &so, sink_collect, &c2, NULL, &err);
            int same = s == LP_OK && c2.order_ok && c2.next == B * T;
            for (int64_t i = 0; same && i < B * T * V; i++) same = same_value(&col.all[i], &c2.all[i]);
            lpt_check(same, "%s: slow / 2 threads differ (status %d)", what, (int)s);
            /* the fast path (f64, f32, f16, bf16 wanted), 3 threads and 1: the same bits */
            for (int th = 1; th <= 3; th += 2) {
                lp_ref_options fo = LP_REF_OPTIONS_INIT;
                fo.formats = W_ALL4;
                fo.threads = th;
                collect c3 = {0, B, T, V, calloc((size_t)(B * T * V), sizeof(lp_value)), -1, 1};
                s = lp_grad_compute(&pb, (lp_reduction)red, &fo, sink_collect, &c3, NULL, &err);
                same = s == LP_OK && c3.order_ok && c3.next == B * T;
                for (int64_t i = 0; same && i < B * T * V; i++)
                    same = same_wanted(&col.all[i], &c3.all[i], W_ALL4);
                lpt_check(same, "%s: fast path, %d threads, differs (status %d)", what, th, (int)s);
                free(c3.all);
            }
            free(c2.all);
            free(col.all);
        }
        free(logits);
        free(x);
    }
}

static void test_refusals(void)
{
    double x[3] = {1, 2, 3};
    void *row = store_row(x, 3, LP_F32);
    int64_t labels[2] = {0, 1};
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, 1, 3};
    pb.fmt = LP_F32;
    pb.logits = row;
    pb.labels = labels;
    pb.shift = LP_SHIFT_NONE;
    lp_error err = {LP_OK, ""};
    collect col = {0, 1, 1, 3, calloc(3, sizeof(lp_value)), 0, 1};
    lp_status s = lp_grad_compute(&pb, LP_RED_TOKEN, NULL, sink_collect, &col, NULL, &err);
    lpt_check(s == LP_ERR_IO && strstr(err.msg, "stopped on purpose"),
              "a sink that stops: status %d '%s'", (int)s, err.msg);
    pb.sampling.top_p = 2; /* invalid sampling parameters: refused (valid ones: test_sampled) */
    s = lp_grad_compute(&pb, LP_RED_TOKEN, NULL, sink_collect, &col, NULL, &err);
    lpt_check(s == LP_ERR_USAGE, "top_p 2 refused: status %d '%s'", (int)s, err.msg);
    lp_sampling sp = {-1.0, 0, 0, 0};
    lp_value g[3];
    s = lp_grad_row(g, row, LP_F32, 3, 0, 1.0, &sp, 1, &err);
    lpt_check(s == LP_ERR_USAGE, "lp_grad_row: softcap -1 refused: %d", (int)s);
    s = lp_grad_row(g, row, LP_F32, 3, 3, 1.0, NULL, 1, &err);
    lpt_check(s == LP_ERR_USAGE, "lp_grad_row: label 3 of 3 refused: %d", (int)s);
    s = lp_grad_row(g, row, LP_F32, 3, 0, 1.0, NULL, 0, &err);
    lpt_check(s == LP_ERR_USAGE, "lp_grad_row: divisor 0 refused: %d", (int)s);
    s = lp_grad_row(g, row, LP_F32, 3, 0, -1.0, NULL, 1, &err);
    lpt_check(s == LP_ERR_USAGE, "lp_grad_row: temperature -1 refused: %d", (int)s);
    /* check --grad's engine: a NaN bound is neither given (>= 0) nor absent (< 0): refused (it
     * was taken as absent, and the default bound applied in its place) */
    for (int k = 0; k < 3; k++) {
        lp_grad_check_options go = LP_GRAD_CHECK_OPTIONS_INIT;
        double *bd[3] = {&go.max_ulp, &go.max_abs, &go.max_row_rel};
        *bd[k] = NAN;
        lp_grad_check *gc = NULL;
        s = lp_grad_check_new(&gc, &go, &err);
        lpt_check(s == LP_ERR_USAGE && !gc, "lp_grad_check_new: bound %d NaN refused: status %d",
                  k, (int)s);
        lp_grad_check_free(gc);
    }
    lp_reduction red;
    lpt_check(lp_reduction_parse(&red, "token_mean") && red == LP_RED_TOKEN_MEAN &&
              !lp_reduction_parse(&red, "avg") && strcmp(lp_reduction_name(LP_RED_MEAN), "mean") == 0,
              "lp_reduction_parse / name");
    free(col.all);
    free(row);
}


/* ---- SPEC A8 over A7's processed rows ------------------------------------------------------ */

/* Element i by the textbook formulas at ORACLE_PREC bits: kept from lp_ref_kept (sample.c). */
static void oracle_sampled(lp_value *o, const double *x, const uint8_t *kept, int64_t V, int64_t y,
                           double tau, double cap, int64_t D, int64_t i)
{
    const mpfr_flags_t fl = mpfr_flags_save();
    const mpfr_prec_t P = ORACLE_PREC;
    mpfr_t s, e, z, m, g, sd;
    mpfr_inits2(P, s, e, z, m, g, sd, (mpfr_ptr)0);
    mpfr_set_inf(m, -1);
    for (int64_t k = 0; k < V; k++) {            /* z_k = c tanh(x_k / c) / tau */
        if (!kept[k]) continue;
        mpfr_set_d(z, x[k], MPFR_RNDN);
        if (cap) {
            mpfr_div_d(z, z, cap, MPFR_RNDN);
            mpfr_tanh(z, z, MPFR_RNDN);
            mpfr_mul_d(z, z, cap, MPFR_RNDN);
        }
        mpfr_div_d(z, z, tau, MPFR_RNDN);
        mpfr_max(m, m, z, MPFR_RNDN);
    }
    mpfr_set_zero(s, 1);
    mpfr_set_zero(g, 1);
    for (int64_t k = 0; k < V; k++) {
        if (!kept[k]) continue;
        mpfr_set_d(z, x[k], MPFR_RNDN);
        if (cap) {
            mpfr_div_d(z, z, cap, MPFR_RNDN);
            mpfr_tanh(z, z, MPFR_RNDN);
            mpfr_mul_d(z, z, cap, MPFR_RNDN);
        }
        mpfr_div_d(z, z, tau, MPFR_RNDN);
        mpfr_sub(z, z, m, MPFR_RNDN);
        mpfr_exp(e, z, MPFR_RNDN);
        mpfr_add(s, s, e, MPFR_RNDN);
        if (k == i) mpfr_set(g, e, MPFR_RNDN);
    }
    mpfr_div(g, g, s, MPFR_RNDN);                /* p_i (0 outside the kept set) */
    if (i == y) mpfr_ui_sub(g, 1, g, MPFR_RNDN);  /* 1 - p_y: rows here keep p_y well below 1 */
    else mpfr_neg(g, g, MPFR_RNDN);
    if (cap && x[i] != 0) {                      /* s_i = 1 - tanh^2(x_i / c) */
        if (x[i] == -HUGE_VAL) {
            mpfr_set_zero(sd, 1);
        } else {
            mpfr_set_d(sd, x[i], MPFR_RNDN);
            mpfr_div_d(sd, sd, cap, MPFR_RNDN);
            mpfr_tanh(sd, sd, MPFR_RNDN);
            mpfr_sqr(sd, sd, MPFR_RNDN);
            mpfr_ui_sub(sd, 1, sd, MPFR_RNDN);
        }
        mpfr_mul(g, g, sd, MPFR_RNDN);
    }
    mpfr_div_d(g, g, tau, MPFR_RNDN);
    mpfr_div_si(g, g, (long)D, MPFR_RNDN);
    if (i != y && !kept[i]) mpfr_set_zero(g, -1);
    if (i == y && mpfr_zero_p(g)) mpfr_set_zero(g, 1);
    oracle_round(o, g);
    mpfr_clears(s, e, z, m, g, sd, (mpfr_ptr)0);
    mpfr_flags_restore(fl, MPFR_FLAGS_ALL);
}

static int is_negzero(const lp_value *v)
{
    return lp_bits_f64(v->f64) == 0x8000000000000000ull && lp_bits_f32(v->f32) == 0x80000000u &&
           v->f16 == 0x8000 && v->bf16 == 0x8000 && lp_bits_f64(v->dd.hi) == 0x8000000000000000ull &&
           lp_bits_f64(v->dd.lo) == 0;
}

static int is_poszero(const lp_value *v)
{
    return lp_bits_f64(v->f64) == 0 && lp_bits_f32(v->f32) == 0 && v->f16 == 0 && v->bf16 == 0 &&
           lp_bits_f64(v->dd.hi) == 0 && lp_bits_f64(v->dd.lo) == 0;
}

static void note_sampling(const lp_sampling *sp)
{
    lpt_note("sampling: softcap %a top_k %lld top_p %a min_p %a", sp->softcap,
             (long long)sp->top_k, sp->top_p, sp->min_p);
}

static int64_t n_sampled_rows, n_sampled_fast, n_outside;

/* lp_grad_row under sp against oracle_sampled, every element; the fast path against the MPFR
 * route (lp_grad_row_sampled, slow off and on) on every format but the dd. */
static void check_sampled(const char *what, const double *x, int64_t V, int64_t y, lp_format fmt,
                          double tau, int64_t D, const lp_sampling *sp)
{
    void *row = store_row(x, V, fmt);
    double *xs = malloc((size_t)V * sizeof *xs);
    uint8_t *kept = malloc((size_t)V);
    lp_value *g = malloc((size_t)V * sizeof *g), *gf = malloc((size_t)V * sizeof *gf),
             *gs = malloc((size_t)V * sizeof *gs);
    for (int64_t i = 0; i < V; i++) xs[i] = lp_load_f64(row, fmt, (size_t)i);
    lp_error err = {LP_OK, ""};
    n_sampled_rows++;
    lp_status s = lp_ref_kept(kept, row, fmt, V, tau, sp, &err);
    if (lpt_check(s == LP_OK, "%s: lp_ref_kept: %s", what, err.msg))
        s = lp_grad_row(g, row, fmt, V, y, tau, sp, D, &err);
    if (!lpt_check(s == LP_OK, "%s: lp_grad_row failed: %s", what, err.msg)) {
        note_row(row, fmt, V, y, tau, D);
        note_sampling(sp);
        goto out;
    }
    int bad = 0;
    for (int64_t i = 0; i < V && bad < 3; i++) {
        lp_value o;
        oracle_sampled(&o, xs, kept, V, y, tau, sp->softcap, D, i);
        n_elems++;
        int ok = same_value(&g[i], &o);
        if (i != y && !kept[i]) {
            ok = ok && is_negzero(&g[i]);
            n_outside++;
        }
        if (!lpt_check(ok, "%s: element %lld of %lld (label %lld, kept %d): reference != oracle",
                       what, (long long)i, (long long)V, (long long)y, kept[i])) {
            note_value("reference", &g[i]);
            note_value("oracle   ", &o);
            note_row(row, fmt, V, y, tau, D);
            note_sampling(sp);
            bad++;
        }
    }
    if (sp->softcap == 0) {
        const unsigned want = LP_REF_ALL & ~LP_REF_DD;
        lp_grad_scratch sc;
        memset(&sc, 0, sizeof sc);
        lp_grad_stats sa, sb;
        memset(&sa, 0, sizeof sa);
        memset(&sb, 0, sizeof sb);
        lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
        lp_mpfr_state ms;
        lp_mpfr_enter(&ms);
        lp_status s1 = lp_grad_row_sampled(gf, row, fmt, V, y, tau, sp, D, 0, want, &sc, &sa, &ea);
        lp_status s2 = lp_grad_row_sampled(gs, row, fmt, V, y, tau, sp, D, 1, want, &sc, &sb, &eb);
        lp_mpfr_leave(&ms);
        lp_grad_scratch_free(&sc);
        n_sampled_fast += sa.fast;
        int same = s1 == LP_OK && s2 == LP_OK && sb.fast == 0;
        for (int64_t i = 0; i < V && same; i++) same = same_wanted(&gf[i], &gs[i], want);
        if (!lpt_check(same, "%s: fast path != MPFR route on a sampled row (%s / %s)", what, ea.msg,
                       eb.msg)) {
            note_row(row, fmt, V, y, tau, D);
            note_sampling(sp);
        }
    }
out:
    free(g);
    free(gf);
    free(gs);
    free(kept);
    free(xs);
    free(row);
}

static void test_sampled(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x73616d70u);
    static const double caps[] = {0, 0, 5, 30}, taus[] = {1, 0.7, 2, 0.25};
    static const double tps[] = {0, 0.5, 0.9, 1}, mps[] = {0, 0.05, 0.3};
    static const int64_t divs[] = {1, 3, 7};
    const int n = 150 * lpt_level();
    for (int it = 0; it < n; it++) {
        const lp_format fmt = (lp_format)(it % LP_NFORMATS);
        const int64_t V = 2 + (int64_t)(lpt_rng_next(&r) % 24);
        const int64_t y = (int64_t)(lpt_rng_next(&r) % (uint64_t)V);
        lp_sampling sp = {caps[lpt_rng_next(&r) % 4], (int64_t)(lpt_rng_next(&r) % 5),
                          tps[lpt_rng_next(&r) % 4], mps[lpt_rng_next(&r) % 3]};
        const double tau = taus[lpt_rng_next(&r) % 4];
        const int64_t D = divs[lpt_rng_next(&r) % 3];
        const int kind = (int)(lpt_rng_next(&r) % 4);
        double *x = malloc((size_t)V * sizeof *x);
        for (int64_t i = 0; i < V; i++) {
            double v;
            switch (kind) {
            case 0: v = 3 * lpt_rng_normal(&r); break;
            case 1: v = (double)(lpt_rng_next(&r) % 3); break;                   /* ties, zeros */
            case 2: v = (lpt_rng_next(&r) % 4) ? 20 * lpt_rng_normal(&r) : -HUGE_VAL; break;
            default: v = 40 * lpt_rng_normal(&r); break;
            }
            x[i] = lp_round_to(v, fmt);
        }
        if (x[y] == -HUGE_VAL && lpt_rng_next(&r) % 2) x[y] = 0;
        int fin = 0;
        for (int64_t i = 0; i < V; i++) fin += x[i] != -HUGE_VAL;
        if (!fin) x[0] = 1;
        char what[96];
        snprintf(what, sizeof what, "sampled %d (%s, seed 0x%llx)", it, lp_format_name(fmt),
                 (unsigned long long)lpt_seed());
        check_sampled(what, x, V, y, fmt, tau, D, &sp);
        free(x);
    }
    lpt_check(n_sampled_fast > 0, "the fast path decided no element of a sampled row");
    lpt_check(n_outside > 0, "no element outside a kept set was checked");

    /* the label the only kept token: +0, the others -0 (with and without softcap) */
    static const double x1[4] = {1.5, 3.0, -HUGE_VAL, 0.25};
    for (int c = 0; c < 2; c++) {
        lp_sampling sp = {c ? 30.0 : 0.0, 1, 0, 0};
        lp_value g[4];
        lp_error err = {LP_OK, ""};
        void *row = store_row(x1, 4, LP_F32);
        lp_status s = lp_grad_row(g, row, LP_F32, 4, 1, 0.7, &sp, 3, &err);
        lpt_check(s == LP_OK && is_poszero(&g[1]) && is_negzero(&g[0]) && is_negzero(&g[2]) &&
                  is_negzero(&g[3]), "label alone in the kept set (softcap %g): +0 / -0 (%s)",
                  sp.softcap, err.msg);
        /* the label outside the kept set: 1 / (tau D) without softcap, s_y / (tau D) with */
        s = lp_grad_row(g, row, LP_F32, 4, 0, 1.0, &sp, 2, &err);
        const double sy = c ? 1 - tanh(1.5 / 30) * tanh(1.5 / 30) : 1.0;
        const double s1 = c ? 1 - tanh(3.0 / 30) * tanh(3.0 / 30) : 1.0;
        lpt_check(s == LP_OK && (c ? fabs(g[0].f64 / (sy / 2) - 1) < 1e-15 : g[0].f64 == 0.5) &&
                      (c ? fabs(g[1].f64 / (-s1 / 2) - 1) < 1e-15 : g[1].f64 == -0.5) &&
                      is_negzero(&g[3]),
                  "label outside the kept set (softcap %g): %a, want %a (%s)", sp.softcap, g[0].f64,
                  sy / 2, err.msg);
        free(row);
    }
    /* softcap: a label at -inf (+0: s_y = 0), x_y = 0 outside the kept set (1 / (tau D) exactly),
     * equal kept logits (rational P, transcendental s) */
    {
        static const double x2[4] = {-HUGE_VAL, 2.0, 0.0, 2.0};
        lp_sampling sp = {30.0, 2, 0, 0};
        lp_value g[4];
        lp_error err = {LP_OK, ""};
        void *row = store_row(x2, 4, LP_F64);
        lp_status s = lp_grad_row(g, row, LP_F64, 4, 0, 1.0, &sp, 1, &err);
        lpt_check(s == LP_OK && is_poszero(&g[0]) && is_negzero(&g[2]),
                  "softcap: label at -inf gives +0 (%s)", err.msg);
        s = lp_grad_row(g, row, LP_F64, 4, 2, 0.5, &sp, 1, &err);
        const double s2 = 1 - tanh(2.0 / 30) * tanh(2.0 / 30);
        lpt_check(s == LP_OK && g[2].f64 == 2.0 && is_negzero(&g[0]) &&
                      fabs(g[1].f64 / (-s2) - 1) < 1e-15 && lp_bits_f64(g[1].f64) ==
                      lp_bits_f64(g[3].f64), "softcap: x_y = 0 outside K: 1/(tau D) = 2, got %a, "
                      "equal kept: -1/2 s / tau = %a, got %a (%s)", g[2].f64, -s2, g[1].f64, err.msg);
        free(row);
    }

    /* lp_grad_compute with sampling: lp_grad_row per counted row, fast and slow alike */
    for (int c = 0; c < 2; c++) {
        const int64_t B = 2, T = 3, V = 7;
        double x[2 * 3 * 7];
        for (int i = 0; i < B * T * V; i++) x[i] = lp_round_to(2 * lpt_rng_normal(&r), LP_BF16);
        void *lg = store_row(x, B * T * V, LP_BF16);
        int64_t labels[6] = {0, 3, 6, 2, 5, 1};
        lp_problem pb = LP_PROBLEM_INIT;
        pb.shape = (lp_shape){B, T, V};
        pb.fmt = LP_BF16;
        pb.logits = lg;
        pb.labels = labels;
        pb.shift = LP_SHIFT_NONE;
        pb.temperature = 0.7;
        pb.sampling = (lp_sampling){c ? 20.0 : 0.0, 4, 0.8, 0.02};
        for (int slow = 0; slow < 2; slow++) {
            collect col = {0, B, T, V, calloc((size_t)(B * T * V), sizeof(lp_value)), -1, 1};
            lp_ref_options opt = LP_REF_OPTIONS_INIT;
            opt.slow = slow;
            opt.threads = 2;
            lp_error err = {LP_OK, ""};
            lp_status s = lp_grad_compute(&pb, LP_RED_MEAN, &opt, sink_collect, &col, NULL, &err);
            int same = lpt_check(s == LP_OK && col.order_ok && col.next == B * T,
                                 "sampled problem (softcap %d, slow %d): %s", c, slow, err.msg);
            for (int64_t k = 0; k < B * T && same; k++) {
                lp_value g[7];
                s = lp_grad_row(g, (const char *)lg + (size_t)k * V * 2, LP_BF16, V, labels[k],
                                0.7, &pb.sampling, T, &err);
                for (int64_t i = 0; i < V && same; i++)
                    same = s == LP_OK && same_value(&g[i], &col.all[k * V + i]);
            }
            lpt_check(same, "sampled problem (softcap %d, slow %d) = lp_grad_row per row", c, slow);
            free(col.all);
        }
        free(lg);
    }
}

/* ---- the fast path (grad_fast.c) against the MPFR route ------------------------------------ */

static lp_grad_stats fs_fast; /* totals of the fast runs */

static void fast_vs_slow(const char *what, const double *x, int64_t V, int64_t y, lp_format fmt,
                         double tau, int64_t D, unsigned want)
{
    void *row = store_row(x, V, fmt);
    lp_value *ga = malloc((size_t)V * sizeof *ga), *gb = malloc((size_t)V * sizeof *gb);
    lp_grad_scratch sc;
    memset(&sc, 0, sizeof sc);
    lp_grad_stats sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    lp_status s1 = lp_grad_row_any(ga, row, fmt, V, y, tau, D, 0, want, &sc, &sa, &ea);
    lp_status s2 = lp_grad_row_any(gb, row, fmt, V, y, tau, D, 1, want, &sc, &sb, &eb);
    lp_mpfr_leave(&ms);
    if (!lpt_check(s1 == LP_OK && s2 == LP_OK, "%s want=%#x: status fast %d (%s) slow %d (%s)",
                   what, want, (int)s1, ea.msg, (int)s2, eb.msg)) {
        note_row(row, fmt, V, y, tau, D);
    } else {
        for (int64_t i = 0; i < V; i++)
            if (!lpt_check(same_wanted(&ga[i], &gb[i], want), "%s want=%#x: element %lld (label "
                           "%lld): fast != MPFR", what, want, (long long)i, (long long)y)) {
                note_value("fast", &ga[i]);
                note_value("MPFR", &gb[i]);
                note_row(row, fmt, V, y, tau, D);
                break;
            }
        lpt_check(sa.fast + sa.fallback + sa.exact == V && sa.elements == V,
                  "%s want=%#x: counts fast %lld + fallback %lld + exact %lld != V %lld", what, want,
                  (long long)sa.fast, (long long)sa.fallback, (long long)sa.exact, (long long)V);
        fs_fast.elements += sa.elements;
        fs_fast.fast += sa.fast;
        fs_fast.fallback += sa.fallback;
        fs_fast.exact += sa.exact;
    }
    lp_grad_scratch_free(&sc);
    free(ga);
    free(gb);
    free(row);
}

static void test_fast_random(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x66617374u);
    static const double taus[] = {1.0, 1.0, 0.7, 2.0, 3.0, 0.1, 1e-3, 0x1p-20, 1e3};
    static const int64_t divs[] = {1, 1, 3, 7, 4096, 1000003, (int64_t)1 << 40, (int64_t)1 << 53,
                                   ((int64_t)1 << 53) + 1};
    static const unsigned wants[] = {W_ALL4, W_NARROW, W_F64, 1u << LP_BF16};
    const int n = 240 * lpt_level();
    for (int c = 0; c < n; c++) {
        const lp_format fmt = (lp_format)(c % LP_NFORMATS);
        const int kind = (c / LP_NFORMATS) % 9;
        const int64_t V = 2 + (int64_t)(lpt_rng_next(&r) % (kind == 8 ? 3000 : 60));
        const int64_t y = (int64_t)(lpt_rng_next(&r) % (uint64_t)V);
        const double tau = taus[lpt_rng_next(&r) % 9];
        const int64_t D = divs[lpt_rng_next(&r) % 9];
        double *x = malloc((size_t)V * sizeof *x);
        for (int64_t i = 0; i < V; i++) {
            double v;
            switch (kind) {
            case 0: v = 3 * lpt_rng_normal(&r); break;
            case 1: v = 40 * lpt_rng_normal(&r); break;
            case 2: v = lpt_rng_normal(&r); break;
            case 3: v = (lpt_rng_next(&r) % 4) ? 2 * lpt_rng_normal(&r) : -HUGE_VAL; break;
            case 4: v = (double)(lpt_rng_next(&r) % 3); break;
            case 5: v = 1e4 * lpt_rng_normal(&r); break;
            case 6: v = 1e-6 * lpt_rng_normal(&r); break;
            case 7: v = 700 + 50 * lpt_rng_normal(&r); break; /* subnormal results, f64 */
            default: v = 5 * lpt_rng_normal(&r); break;
            }
            if (fmt == LP_F16 && (v > 60000 || v < -60000)) v = v > 0 ? 60000 : -60000;
            x[i] = lp_round_to(v, fmt);
        }
        if (kind == 2) { /* peaked: p_y = 1 - 10^-k roughly, k up to 30 */
            const double k = (double)(lpt_rng_next(&r) % 31);
            x[y] = lp_round_to(k * log(10.0) * tau + log((double)V) * tau, fmt);
        }
        if (kind == 7) x[lpt_rng_next(&r) % (uint64_t)V] = 0; /* gaps near 745 */
        int finite = 0;
        for (int64_t i = 0; i < V; i++) finite += x[i] != -HUGE_VAL;
        if (finite > 0) {
            char what[96];
            snprintf(what, sizeof what, "fast case %d kind %d seed %llu", c, kind,
                     (unsigned long long)lpt_seed());
            fast_vs_slow(what, x, V, y, fmt, tau, D, wants[lpt_rng_next(&r) % 4]);
        }
        free(x);
    }
}

static void test_fast_hard(void)
{
    /* an element near f64's underflow (e^-740 / 2): f64 falls back to MPFR */
    const lp_grad_stats before = fs_fast;
    double a[3] = {0, -740, -1.5};
    fast_vs_slow("f64 subnormal element", a, 3, 2, LP_F64, 1.0, 1, W_ALL4);
    lpt_check(fs_fast.fallback > before.fallback, "f64 subnormal element: no fallback counted");
    /* the label at -inf in a numeric row, and small elements (gaps past 700) with f64 wanted */
    double b[5] = {3, -HUGE_VAL, 1, -900, -5000};
    fast_vs_slow("label at -inf", b, 5, 1, LP_F64, 1.0, 3, W_ALL4);
    fast_vs_slow("small elements", b, 5, 0, LP_F64, 1.0, 1, W_ALL4);
    fast_vs_slow("small elements, narrow", b, 5, 0, LP_F32, 1.0, 1, W_NARROW);
    /* peaked rows p_y = 1 - 10^-k, k = 0..30, every format, both want sets */
    for (int f = 0; f < LP_NFORMATS; f++)
        for (int k = 0; k <= 30; k++) {
            double x[64];
            for (int i = 0; i < 64; i++) x[i] = lp_round_to(0.01 * (i % 7), (lp_format)f);
            x[5] = lp_round_to(k * log(10.0) + log(64.0), (lp_format)f);
            char what[64];
            snprintf(what, sizeof what, "peaked %s k=%d", lp_format_name((lp_format)f), k);
            fast_vs_slow(what, x, 64, 5, (lp_format)f, 1.0, 1, W_ALL4);
            fast_vs_slow(what, x, 64, 5, (lp_format)f, 0.5, 5, W_NARROW);
        }
    /* ties for the max, two values only */
    double t[8] = {2, 2, 2, 1, 1, 2, 1, 2};
    for (int f = 0; f < LP_NFORMATS; f++) fast_vs_slow("ties", t, 8, 3, (lp_format)f, 1.0, 3, W_ALL4);
}

/* lp_grad_is_boundary (grad_fast.c's QUICK test) against its definition: p != RN_f(p) and
 * 2p - RN_f(p) a value of f (the other neighbour); every f16 and bf16 midpoint, overflow
 * thresholds, subnormal midpoints, random doubles and their neighbours. */
static int boundary_ref(double p, lp_format f)
{
    const double r = lp_round_to(p, f);
    if (r == p || isinf(r)) {
        if (!isinf(r)) return 0;
        /* the overflow threshold: max + half a quantum */
        const double mx = f == LP_F16 ? 65504.0 : f == LP_F32 ? 0x1.fffffep127 : 0x1.fep127;
        const double q = f == LP_F16 ? 32.0 : f == LP_F32 ? 0x1p104 : 0x1p120;
        return fabs(p) == mx + q / 2;
    }
    const double m2 = 2 * p - r;
    return lp_round_to(m2, f) == m2 && fabs(m2 - r) > 0 && (p - r) == (m2 - p);
}

static void test_boundary(void)
{
    lpt_rng r;
    lpt_rng_init(&r, lpt_seed() ^ 0x626e64u);
    int64_t n = 0, nb = 0;
    for (int f = LP_F32; f <= LP_BF16; f++) {
        const lp_format fmt = (lp_format)f;
        for (int k = 0; k < 20000; k++) {
            double p;
            if (f != LP_F32 && k < 0x7c00) { /* every positive finite pattern's upper midpoint */
                uint16_t h = (uint16_t)k;
                const double a = f == LP_F16 ? lp_f16_to_f64(h) : lp_bf16_to_f64(h);
                const double b = f == LP_F16 ? lp_f16_to_f64((uint16_t)(h + 1)) : lp_bf16_to_f64((uint16_t)(h + 1));
                if (isinf(b) || isnan(b)) continue;
                p = (a + b) / 2;
            } else {
                p = ldexp(lpt_rng_unif(&r) + 0.5, (int)(lpt_rng_next(&r) % 300) - 160);
                p = lp_round_to(p, fmt);
                if (p == 0 || isinf(p)) continue; /* underflowed or overflowed the format */
                if (lpt_rng_next(&r) % 2) p = p + ldexp(1.0, ilogb(p) - (f == LP_F32 ? 24 : f == LP_F16 ? 11 : 8));
            }
            for (int d = -1; d <= 1; d++) {
                const double q = d == 0 ? p : nextafter(p, d * HUGE_VAL);
                if (!(fabs(q) >= 0x1p-1000)) continue;
                const int got = lp_grad_is_boundary(q, fmt), want = boundary_ref(q, fmt);
                n++;
                nb += want;
                if (!lpt_check(got == want, "lp_grad_is_boundary(%a, %s) = %d, expected %d", q,
                               lp_format_name(fmt), got, want))
                    return;
            }
        }
        const double thr = f == LP_F16 ? 65520.0 : f == LP_F32 ? 0x1.ffffffp127 : 0x1.ffp127;
        lpt_check(lp_grad_is_boundary(thr, fmt) && !lp_grad_is_boundary(nextafter(thr, 0), fmt),
                  "%s overflow threshold %a", lp_format_name(fmt), thr);
    }
    /* lp_grad_round32 against core/format.c: doubles at and within a few ulps of bf16 midpoints
     * (where RN_32 lands on the midpoint), f32 midpoints, the range ends, random */
    int64_t nr = 0;
    for (int k = 0; k < 200000; k++) {
        double p;
        const int kind = k % 4;
        const double base = ldexp(1.0 + (double)(lpt_rng_next(&r) & 0x7f) / 128 + 1.0 / 256,
                                  (int)(lpt_rng_next(&r) % 260) - 130); /* a bf16 midpoint */
        if (kind == 0) p = base;
        else if (kind == 1) p = base + ldexp((double)((int)(lpt_rng_next(&r) % 64) - 32), ilogb(base) - 40);
        else if (kind == 2) p = ldexp(lpt_rng_unif(&r) + 1, (int)(lpt_rng_next(&r) % 280) - 140) + ldexp(1.0, (int)(lpt_rng_next(&r) % 280) - 164);
        else p = ldexp(lpt_rng_unif(&r) + 0.5, (int)(lpt_rng_next(&r) % 300) - 150);
        if (lpt_rng_next(&r) % 2) p = -p;
        float f;
        uint16_t h;
        lp_grad_round32(p, &f, &h);
        nr++;
        if (!lpt_check(lp_bits_f32(f) == lp_bits_f32(lp_f32_from_f64(p)) && h == lp_bf16_from_f64(p),
                       "lp_grad_round32(%a): f32 %08x bf16 %04x, core %08x %04x", p,
                       (unsigned)lp_bits_f32(f), h, (unsigned)lp_bits_f32(lp_f32_from_f64(p)),
                       lp_bf16_from_f64(p)))
            break;
    }
    printf("t_grad: boundary test: %lld round32 checks; %lld doubles, %lld boundaries\n",
           (long long)nr, (long long)n, (long long)nb);
}

/* core's deferred tensors (lp_twriter_add_later / begin / put), which `ref --grad` writes through:
 * a file with an ordinary tensor before and after a deferred one, the deferred rows put out of
 * order, read back by lp_tfile_open; puts outside the tensor and adds after begin are refused; an
 * aborted writer leaves no file. */
static void test_writer(void)
{
    char path[] = "/tmp/t_grad_writerXXXXXX";
    int fd = mkstemp(path);
    if (!lpt_check(fd >= 0, "mkstemp")) return;
    close(fd);
    char out[64];
    snprintf(out, sizeof out, "%s.safetensors", path);
    lp_error err = {LP_OK, ""};
    lp_twriter *w = NULL;
    const double a[3] = {1, 2, 3};
    const int64_t da[1] = {3}, dg[2] = {4, 5};
    const float b[2] = {7, 8};
    const int64_t db[1] = {2};
    size_t idx = 99;
    lp_status s = lp_twriter_new(&w, out, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "a", LP_DT_F64, 1, da, a, &err);
    if (s == LP_OK) s = lp_twriter_add_later(w, "g", LP_DT_F32, 2, dg, &idx, &err);
    if (s == LP_OK) s = lp_twriter_add(w, "b", LP_DT_F32, 1, db, b, &err);
    if (s == LP_OK) s = lp_twriter_meta(w, "k", "v", &err);
    if (s == LP_OK) s = lp_twriter_begin(w, &err);
    lpt_check(s == LP_OK && idx == 1, "writer: begin: %s", err.msg);
    for (int r = 3; r >= 0 && s == LP_OK; r--) {
        float row[5];
        for (int i = 0; i < 5; i++) row[i] = (float)(10 * r + i);
        s = lp_twriter_put(w, idx, (uint64_t)r * 20, row, sizeof row, &err);
    }
    lpt_check(s == LP_OK, "writer: put: %s", err.msg);
    float x = 0;
    lpt_check(lp_twriter_put(w, idx, 80, &x, 4, &err) == LP_ERR_USAGE, "writer: put past the end");
    lpt_check(lp_twriter_put(w, 0, 0, &x, 4, &err) == LP_ERR_USAGE, "writer: put into 'a'");
    lpt_check(lp_twriter_add(w, "c", LP_DT_F32, 1, db, b, &err) == LP_ERR_USAGE,
              "writer: add after begin");
    s = lp_twriter_finish(w, &err);
    lpt_check(s == LP_OK, "writer: finish: %s", err.msg);
    lp_tfile *f = NULL;
    if (s == LP_OK && lpt_check(lp_tfile_open(&f, out, &err) == LP_OK, "writer: reopen: %s", err.msg)) {
        const lp_tensor *ta = lp_tfile_find(f, "a"), *tg = lp_tfile_find(f, "g"), *tb = lp_tfile_find(f, "b");
        int ok = ta && tg && tb && tg->numel == 20 && tg->dims[0] == 4 && tg->dims[1] == 5 &&
                 lp_load_f64(ta->data, LP_F64, 2) == 3 && lp_load_f64(tb->data, LP_F32, 1) == 8 &&
                 lp_tfile_meta(f, "k") && strcmp(lp_tfile_meta(f, "k"), "v") == 0;
        for (int i = 0; ok && i < 20; i++) ok = lp_load_f64(tg->data, LP_F32, (size_t)i) == 10 * (i / 5) + i % 5;
        lpt_check(ok, "writer: the file read back differs");
        lp_tfile_close(f);
    }
    remove(out);
    /* abort after begin: nothing left */
    s = lp_twriter_new(&w, out, &err);
    if (s == LP_OK) s = lp_twriter_add_later(w, "g", LP_DT_F32, 2, dg, &idx, &err);
    if (s == LP_OK) s = lp_twriter_begin(w, &err);
    lp_twriter_abort(w);
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    lpt_check(s == LP_OK && access(out, F_OK) != 0 && access(tmp, F_OK) != 0,
              "writer: an aborted writer left a file");
    remove(path);
}

int main(void)
{
    lpt_begin("t_grad");
    test_refusals();
    test_writer();
    test_specials();
    test_exact_rows();
    test_problem();
    test_oracle_random();
    test_boundary();
    test_fast_hard();
    test_fast_random();
    test_sampled();
    printf("t_grad: sampled rows: %lld against the oracle, %lld elements outside a kept set, %lld "
           "elements decided by the fast path\n", (long long)n_sampled_rows, (long long)n_outside,
           (long long)n_sampled_fast);
    printf("t_grad: fast path: %lld elements, %lld fast, %lld MPFR fallbacks, %lld exact\n",
           (long long)fs_fast.elements, (long long)fs_fast.fast, (long long)fs_fast.fallback,
           (long long)fs_fast.exact);
    printf("t_grad: %lld rows, %lld elements against the oracle\n", (long long)n_rows,
           (long long)n_elems);
    return lpt_end();
}
