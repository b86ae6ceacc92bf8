/* tests/t_format.c: core/format.c against MPFR.
 * Widening: all 65,536 f16 and all 65,536 bf16 patterns, against MPFR's value of the pattern built
 * from its sign, exponent and trailing field. Narrowing: for every pair of adjacent f16 (bf16)
 * values, the values, the quarter points, the midpoint and the doubles (floats) one ulp either
 * side of both, with both signs, through the subnormal range and past the overflow threshold;
 * f32 pairs in the subnormal range, at every binade edge and at random; random doubles and floats.
 * The oracle emulates the target in MPFR: precision p, the format's exponent range,
 * mpfr_check_range and mpfr_subnormalize fed the ternary value (CORE-MATH exp_mpfr.c).
 * Results are compared as bit patterns. */
#include <float.h>
#include <math.h>
#include <mpfr.h>

#include "lp_format.h"
#include "lpt.h"

#define DNAN ((double)NAN)       /* NAN and INFINITY are float constants */
#define DINF ((double)INFINITY)

/* The test's own description of the targets, independent of format.c's table. */
typedef struct tfmt {
    const char *name;
    int p, m, ebits, emin, emax, width;   /* IEEE emin/emax; width of the pattern */
    mpfr_exp_t mp_emin, mp_emax;         /* the same range in MPFR's [0.5, 1) convention */
    uint64_t qnan;
} tfmt;

static const tfmt T_F16 = {"f16", 11, 10, 5, -14, 15, 16, -23, 16, 0x7e00u};
static const tfmt T_BF16 = {"bf16", 8, 7, 8, -126, 127, 16, -132, 128, 0x7fc0u};
static const tfmt T_F32 = {"f32", 24, 23, 8, -126, 127, 32, -148, 128, 0x7fc00000u};

/* ---- MPFR side ---------------------------------------------------------------------------- */

typedef struct mp_state { mpfr_exp_t emin, emax; mpfr_flags_t flags; } mp_state;
static mp_state mp_save(void)
{
    mp_state s = {mpfr_get_emin(), mpfr_get_emax(), mpfr_flags_save()};
    return s;
}
static void mp_restore(mp_state s)
{
    mpfr_set_emin(s.emin);
    mpfr_set_emax(s.emax);
    mpfr_flags_restore(s.flags, MPFR_FLAGS_ALL);
}

static uint64_t inf_bits(const tfmt *t) { return (uint64_t)((1u << t->ebits) - 1) << t->m; }
static uint64_t sign_bit(const tfmt *t) { return UINT64_C(1) << (t->width - 1); }

/* The value of pattern b, from its fields, into v (precision >= 64). */
static void mp_decode(mpfr_t v, uint64_t b, const tfmt *t)
{
    const int neg = (b & sign_bit(t)) != 0;
    const uint64_t biased = (b >> t->m) & ((UINT64_C(1) << t->ebits) - 1);
    const uint64_t frac = b & ((UINT64_C(1) << t->m) - 1);
    const long bias = t->emax;
    if (biased == (UINT64_C(1) << t->ebits) - 1) {
        if (frac) mpfr_set_nan(v);
        else mpfr_set_inf(v, neg ? -1 : 1);
        return;
    }
    if (biased == 0) {
        mpfr_set_ui(v, (unsigned long)frac, MPFR_RNDN);
        mpfr_mul_2si(v, v, t->emin - t->m, MPFR_RNDN);
    } else {
        mpfr_set_ui(v, (unsigned long)(frac | (UINT64_C(1) << t->m)), MPFR_RNDN);
        mpfr_mul_2si(v, v, (long)biased - bias - t->m, MPFR_RNDN);
    }
    if (neg) mpfr_neg(v, v, MPFR_RNDN);       /* -0 for a negative zero pattern */
}

/* Decimal of pattern b (for failure lines). */
static double pattern_value(uint64_t b, const tfmt *t)
{
    mp_state st = mp_save();
    mpfr_t v;
    mpfr_init2(v, 64);
    mp_decode(v, b, t);
    const double d = mpfr_get_d(v, MPFR_RNDN);
    mpfr_clear(v);
    mp_restore(st);
    return d;
}

/* The pattern of r, a value of the target already rounded to it. */
static uint64_t mp_encode(const mpfr_t r, const tfmt *t)
{
    const uint64_t sign = mpfr_signbit(r) ? sign_bit(t) : 0;
    if (mpfr_inf_p(r)) return sign | inf_bits(t);
    if (mpfr_zero_p(r)) return sign;
    mpfr_t a;
    mpfr_init2(a, t->p);
    mpfr_abs(a, r, MPFR_RNDN);
    const long E = (long)mpfr_get_exp(r) - 1;         /* IEEE exponent: |r| in [2^E, 2^(E+1)) */
    uint64_t out;
    if (E >= t->emin) {
        mpfr_mul_2si(a, a, t->m - E, MPFR_RNDN);
        const uint64_t sig = mpfr_get_ui(a, MPFR_RNDN);
        out = ((uint64_t)(E + t->emax) << t->m) | (sig - (UINT64_C(1) << t->m));
    } else {
        mpfr_mul_2si(a, a, t->m - t->emin, MPFR_RNDN);
        out = mpfr_get_ui(a, MPFR_RNDN);
    }
    if (!mpfr_integer_p(a)) out = ~UINT64_C(0);       /* cannot happen; shows as a failure */
    mpfr_clear(a);
    return sign | out;
}

/* RNE of the exact x into the target, emulated in MPFR. */
static uint64_t mp_round(const mpfr_t x, const tfmt *t)
{
    if (mpfr_nan_p(x)) return t->qnan;
    mp_state st = mp_save();
    mpfr_t r;
    mpfr_init2(r, t->p);
    int inex = mpfr_set(r, x, MPFR_RNDN);
    mpfr_set_emin(t->mp_emin);
    mpfr_set_emax(t->mp_emax);
    inex = mpfr_check_range(r, inex, MPFR_RNDN);
    mpfr_subnormalize(r, inex, MPFR_RNDN);
    mpfr_set_emin(st.emin);
    mpfr_set_emax(st.emax);
    const uint64_t b = mp_encode(r, t);
    mpfr_clear(r);
    mp_restore(st);
    return b;
}

static uint64_t mp_round_d(double x, const tfmt *t)
{
    mp_state st = mp_save();                  /* mpfr_set_d of a NaN raises the NaN flag */
    mpfr_t v;
    mpfr_init2(v, 53);
    mpfr_set_d(v, x, MPFR_RNDN);              /* exact */
    const uint64_t b = mp_round(v, t);
    mpfr_clear(v);
    mp_restore(st);
    return b;
}

static uint64_t mp_round_f(float x, const tfmt *t)
{
    mp_state st = mp_save();
    mpfr_t v;
    mpfr_init2(v, 24);
    mpfr_set_flt(v, x, MPFR_RNDN);            /* exact */
    const uint64_t b = mp_round(v, t);
    mpfr_clear(v);
    mp_restore(st);
    return b;
}

/* ---- the functions under test, by target and source --------------------------------------- */

static uint64_t lp_from_f64(double x, const tfmt *t)
{
    if (t == &T_F16) return lp_f16_from_f64(x);
    if (t == &T_BF16) return lp_bf16_from_f64(x);
    return lp_bits_f32(lp_f32_from_f64(x));
}

static uint64_t lp_from_f32(float x, const tfmt *t)
{
    return t == &T_F16 ? lp_f16_from_f32(x) : lp_bf16_from_f32(x);
}

static double lp_to_f64(uint64_t b, const tfmt *t)
{
    if (t == &T_F16) return lp_f16_to_f64((uint16_t)b);
    if (t == &T_BF16) return lp_bf16_to_f64((uint16_t)b);
    return (double)lp_f32_bits((uint32_t)b);
}

static int hexw(const tfmt *t) { return t->width / 4; }

static void check_narrow_f64(double x, const tfmt *t)
{
    const uint64_t want = mp_round_d(x, t), got = lp_from_f64(x, t);
    if (!lpt_check(got == want, "lp_%s_from_f64 x=%a (0x%016llx)", t->name, x,
                   (unsigned long long)lp_bits_f64(x)))
        lpt_note("want 0x%0*llx (%.9e)  got 0x%0*llx (%.9e)", hexw(t), (unsigned long long)want,
                 pattern_value(want, t), hexw(t), (unsigned long long)got, pattern_value(got, t));
}

static void check_narrow_f32(float x, const tfmt *t)
{
    const uint64_t want = mp_round_f(x, t), got = lp_from_f32(x, t);
    if (!lpt_check(got == want, "lp_%s_from_f32 x=%a (0x%08lx)", t->name, (double)x,
                   (unsigned long)lp_bits_f32(x)))
        lpt_note("want 0x%0*llx (%.9e)  got 0x%0*llx (%.9e)", hexw(t), (unsigned long long)want,
                 pattern_value(want, t), hexw(t), (unsigned long long)got, pattern_value(got, t));
}

/* Both signs of x, and the doubles one ulp either side of it. */
static void check_around_f64(double x, const tfmt *t)
{
    const double pts[3] = {x, nextafter(x, DINF), nextafter(x, -DINF)};
    for (int i = 0; i < 3; i++) {
        check_narrow_f64(pts[i], t);
        check_narrow_f64(-pts[i], t);
    }
}

static void check_around_f32(float x, const tfmt *t)
{
    const float pts[3] = {x, nextafterf(x, INFINITY), nextafterf(x, -INFINITY)};
    for (int i = 0; i < 3; i++) {
        check_narrow_f32(pts[i], t);
        check_narrow_f32(-pts[i], t);
    }
}

/* ---- checks -------------------------------------------------------------------------------- */

static void check_table(void)
{
    static const struct { lp_format f; const char *name; int bytes, p, emin, emax; } want[] = {
        {LP_F64, "f64", 8, 53, -1022, 1023},
        {LP_F32, "f32", 4, 24, -126, 127},
        {LP_F16, "f16", 2, 11, -14, 15},
        {LP_BF16, "bf16", 2, 8, -126, 127},
    };
    for (int i = 0; i < 4; i++) {
        const lp_format_info *fi = lp_format_get(want[i].f);
        lpt_check(fi && strcmp(fi->name, want[i].name) == 0 && fi->bytes == want[i].bytes &&
                      fi->prec == want[i].p && fi->emin == want[i].emin &&
                      fi->emax == want[i].emax,
                  "lp_format_get(%s) does not match the table", want[i].name);
        lpt_check(strcmp(lp_format_name(want[i].f), want[i].name) == 0, "lp_format_name(%s)",
                  want[i].name);
        lp_format f = (lp_format)-1;
        lpt_check(lp_format_parse(&f, want[i].name) == 1 && f == want[i].f,
                  "lp_format_parse(\"%s\")", want[i].name);
    }
    lp_format f = LP_F32;
    lpt_check(lp_format_get((lp_format)4) == NULL, "lp_format_get(4) is not NULL");
    lpt_check(lp_format_parse(&f, "fp16") == 0 && f == LP_F32, "lp_format_parse(\"fp16\")");
    lpt_check(lp_format_parse(&f, "F16") == 0, "lp_format_parse(\"F16\")");
    lpt_check(lp_format_parse(&f, "") == 0, "lp_format_parse(\"\")");
    lpt_check(lp_format_parse(&f, NULL) == 0, "lp_format_parse(NULL)");
}

/* Every 16-bit pattern of t widens exactly (f64 and f32), and narrows back to itself. */
static void check_widen_all(const tfmt *t)
{
    const int f16 = t == &T_F16;
    mp_state st = mp_save();
    mpfr_t v;
    mpfr_init2(v, 64);
    unsigned char buf[2 * 65536 + 1];
    for (uint32_t b = 0; b < 65536; b++) {
        const uint16_t h = (uint16_t)b;
        const double d = f16 ? lp_f16_to_f64(h) : lp_bf16_to_f64(h);
        const float s = f16 ? lp_f16_to_f32(h) : lp_bf16_to_f32(h);
        const uint64_t sign = (uint64_t)(h >> 15);
        mp_decode(v, h, t);
        if (mpfr_nan_p(v)) {
            lpt_check(lp_bits_f64(d) == ((sign << 63) | 0x7ff8000000000000u) &&
                          lp_bits_f32(s) == (((uint32_t)sign << 31) | 0x7fc00000u),
                      "lp_%s_to_f64/f32(0x%04x): NaN not canonical with sign: 0x%016llx 0x%08lx",
                      t->name, (unsigned)h, (unsigned long long)lp_bits_f64(d),
                      (unsigned long)lp_bits_f32(s));
            lpt_check(lp_from_f64(d, t) == t->qnan && lp_from_f32(s, t) == t->qnan,
                      "lp_%s_from_f64/f32 of NaN 0x%04x is not 0x%04llx", t->name, (unsigned)h,
                      (unsigned long long)t->qnan);
        } else {
            const int ok = mpfr_cmp_d(v, d) == 0 && (signbit(d) != 0) == (sign != 0) &&
                           lp_bits_f64((double)s) == lp_bits_f64(d);
            if (!lpt_check(ok, "lp_%s_to_f64/f32(0x%04x) = %a / %a", t->name, (unsigned)h, d,
                           (double)s))
                lpt_note("want %a", mpfr_get_d(v, MPFR_RNDN));
            lpt_check(lp_from_f64(d, t) == h && lp_from_f32(s, t) == h,
                      "lp_%s_from_f64/f32(%a) does not give back 0x%04x", t->name, d,
                      (unsigned)h);
        }
        memcpy(buf + 1 + 2 * b, &h, 2);       /* odd offset: an unaligned array */
    }
    const lp_format f = f16 ? LP_F16 : LP_BF16;
    int bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        const double want = f16 ? lp_f16_to_f64((uint16_t)b) : lp_bf16_to_f64((uint16_t)b);
        bad += lp_bits_f64(lp_load_f64(buf + 1, f, b)) != lp_bits_f64(want);
    }
    lpt_check(bad == 0, "lp_load_f64(%s) on an unaligned array: %d patterns differ", t->name, bad);
    mpfr_clear(v);
    mp_restore(st);
}

/* Every pair (a, b) of adjacent nonnegative values of a 16-bit format, b = 2^(emax+1) after the
 * largest finite: the values, quarter points and midpoint, each +-1 ulp of f64 and of f32,
 * both signs. */
static void check_pairs16(const tfmt *t)
{
    const uint64_t maxfin = inf_bits(t) - 1;
    for (uint64_t a = 0; a <= maxfin; a++) {
        const double va = lp_to_f64(a, t);
        const double vb = a < maxfin ? lp_to_f64(a + 1, t) : ldexp(1.0, t->emax + 1);
        const double mid = va + (vb - va) / 2, q1 = va + (vb - va) / 4, q3 = vb - (vb - va) / 4;
        check_around_f64(va, t);
        check_around_f64(mid, t);
        check_around_f64(q1, t);
        check_around_f64(q3, t);
        check_around_f32((float)va, t);       /* every value here is an f32 value */
        check_around_f32((float)mid, t);
        check_around_f32((float)q1, t);
    }
    check_around_f64(ldexp(1.0, t->emax + 1), t);
}

/* Specials and inputs far outside every target range. */
static void check_specials(const tfmt *t)
{
    const double d[] = {0.0, DINF, DNAN, DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 0x1p-1022 / 3,
                        (double)FLT_MAX, (double)FLT_MIN, 0x1p-149, 0x1p-150, 0x1.8p-150,
                        0x1p-133, 0x1p-134,
                        0x1.0000001p-134, 0x1p-24, 0x1p-25, 0x1.0000000000001p-25, 0x1p-26,
                        65504.0, 65519.0, 65519.99, 65520.0, 65536.0, 1e5, 1e38, 0x1.ffp127,
                        0x1.fep127, 0x1.ffffffp127, 0x1.fffffe8p127, 1e39, 1e300, 1.0, 1.0 / 3,
                        0.1, 3.14159265358979};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) check_around_f64(d[i], t);
    const uint64_t nans[] = {0x7ff0000000000001u, 0xfff8000000000000u, 0x7fffffffffffffffu,
                             0xfff0000000000123u};
    for (size_t i = 0; i < 4; i++) check_narrow_f64(lp_f64_bits(nans[i]), t);
    if (t != &T_F32) {
        const float f[] = {0.0f, INFINITY, NAN, FLT_MAX, FLT_MIN, 0x1p-149f, 0x1p-134f,
                           0x1.000002p-134f, 0x1p-25f, 65520.0f, 0x1.ffp127f, 0x1.fep127f};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) check_around_f32(f[i], t);
        const uint32_t fnans[] = {0x7f800001u, 0xffc00000u, 0x7fffffffu, 0xff800abcu};
        for (size_t i = 0; i < 4; i++) check_narrow_f32(lp_f32_bits(fnans[i]), t);
    }
    /* The documented anchors, stated literally. */
    static const struct { double x; uint16_t f16, bf16; } anchors[] = {
        {65520.0, 0x7c00, 0x4780},          /* f16: max + half ulp, a tie to the even 2^16 */
        {65519.99, 0x7bff, 0x4780},
        {-65520.0, 0xfc00, 0xc780},
        {-0.0, 0x8000, 0x8000},
        {DNAN, 0x7e00, 0x7fc0},
        {-DNAN, 0x7e00, 0x7fc0},
        {0x1p-25, 0x0000, 0x3300},          /* half the smallest f16 subnormal: tie to 0 */
        {0x1.0000000000001p-25, 0x0001, 0x3300},
        {0x1.ffcp-15, 0x0400, 0x3880},      /* f16 tie between 0x03ff and the smallest normal */
        {0x1p-134, 0x0000, 0x0000},         /* half the smallest bf16 subnormal: tie to 0 */
        {0x1.8p-133, 0x0000, 0x0002},       /* tie between 0x0001 and 0x0002: to even */
        {0x1.ffp127, 0x7c00, 0x7f80},       /* bf16: max + half ulp, a tie to 2^128 */
        {0x1.fefffffffffffp127, 0x7c00, 0x7f7f}, /* just below that tie */
    };
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        const uint16_t h = lp_f16_from_f64(anchors[i].x), b = lp_bf16_from_f64(anchors[i].x);
        lpt_check(h == anchors[i].f16 && b == anchors[i].bf16,
                  "anchor %a: f16 0x%04x (want 0x%04x), bf16 0x%04x (want 0x%04x)", anchors[i].x,
                  (unsigned)h, (unsigned)anchors[i].f16, (unsigned)b, (unsigned)anchors[i].bf16);
    }
    lpt_check(lp_bits_f32(lp_f32_from_f64(DNAN)) == 0x7fc00000u &&
                  lp_bits_f32(lp_f32_from_f64(0x1.ffffffp127)) == 0x7f800000u &&
                  lp_bits_f32(lp_f32_from_f64(0x1.fffffefffffffp127)) == 0x7f7fffffu &&
                  lp_bf16_from_f32(-NAN) == 0x7fc0 && lp_f16_from_f32(NAN) == 0x7e00,
              "anchors: f32 NaN and overflow threshold, NaN from f32");
    /* Double rounding through f32 would get this wrong: just below a bf16 midpoint. */
    const double below_mid = 0x1.01p0 - 0x1p-40;  /* bf16 neighbours 1 and 1+2^-7, mid 1+2^-8 */
    lpt_check(lp_bf16_from_f64(below_mid) == 0x3f80, "lp_bf16_from_f64(%a) = 0x%04x, want 0x3f80",
              below_mid, (unsigned)lp_bf16_from_f64(below_mid));
}

/* f32 pairs: the low subnormals, every binade edge, the top, and random ones. */
static void check_pairs32(lpt_rng *rng, long n_random)
{
    const tfmt *t = &T_F32;
    for (uint32_t a = 0; a < 0x7f800000u;) {
        const double va = (double)lp_f32_bits(a);
        const double vb = a < 0x7f7fffffu ? (double)lp_f32_bits(a + 1) : 0x1p128;
        const double mid = va + (vb - va) / 2;
        check_around_f64(va, t);
        check_around_f64(mid, t);
        check_around_f64(va + (vb - va) / 4, t);
        /* dense at the bottom and at the edges of each binade, then jump */
        const uint32_t in_binade = a & 0x7fffffu;
        if (a < 0x10000u || in_binade < 8 || in_binade >= 0x7ffff8u) a++;
        else a = (a | 0x7fffffu) - 7;
    }
    check_around_f64(0x1p128, t);
    for (long i = 0; i < n_random; i++) {
        const uint32_t a = (uint32_t)(lpt_rng_next(rng) >> 33) % 0x7f7fffffu;
        const double va = (double)lp_f32_bits(a), vb = (double)lp_f32_bits(a + 1);
        check_around_f64(va + (vb - va) / 2, t);
    }
}

/* A random double: any pattern, or one with its exponent near the range of t, or one within a
 * few ulps of a midpoint of t. */
static double random_f64(lpt_rng *rng, const tfmt *t)
{
    const uint64_t r = lpt_rng_next(rng);
    switch (r & 3) {
    case 0: return lp_f64_bits(lpt_rng_next(rng));
    case 1: {
        const int span = t->emax - (t->emin - t->p - 3) + 3;
        const int e = t->emin - t->p - 3 + (int)((r >> 2) % (uint64_t)span);
        const double m = 1.0 + (double)(lpt_rng_next(rng) >> 12) * 0x1p-52;
        return (((r >> 40) & 1) ? -1.0 : 1.0) * ldexp(m, e);
    }
    default: {
        const uint64_t a = (r >> 2) % (inf_bits(t) - 1);     /* positive finite, not the max */
        const double va = lp_to_f64(a, t), vb = lp_to_f64(a + 1, t);
        const double mid = va + (vb - va) / 2;
        const int64_t k = (int64_t)((r >> 50) % 7) - 3;
        const double x = lp_f64_bits(lp_bits_f64(mid) + (uint64_t)k); /* mid > 0: k ulps away */
        return ((r >> 60) & 1) ? -x : x;
    }
    }
}

static float random_f32(lpt_rng *rng, const tfmt *t)
{
    const uint64_t r = lpt_rng_next(rng);
    if (r & 1) return lp_f32_bits((uint32_t)(r >> 32));
    const uint64_t a = (r >> 2) % (inf_bits(t) - 1);
    const double va = lp_to_f64(a, t), vb = lp_to_f64(a + 1, t);
    const float mid = (float)(va + (vb - va) / 2);          /* exact */
    const int32_t k = (int32_t)((r >> 50) % 7) - 3;
    const float x = lp_f32_bits(lp_bits_f32(mid) + (uint32_t)k);
    return ((r >> 60) & 1) ? -x : x;
}

static void check_random(lpt_rng *rng, long n)
{
    const tfmt *ts[3] = {&T_F16, &T_BF16, &T_F32};
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) check_narrow_f64(random_f64(rng, ts[j]), ts[j]);
        for (int j = 0; j < 2; j++) check_narrow_f32(random_f32(rng, ts[j]), ts[j]);
        /* A second oracle for f64 -> f32: the hardware conversion in the default mode. */
        const double x = random_f64(rng, &T_F32);
        if (!isnan(x))
            lpt_check(lp_bits_f32(lp_f32_from_f64(x)) == lp_bits_f32((float)x),
                      "lp_f32_from_f64(%a) = %a, the hardware gives %a", x,
                      (double)lp_f32_from_f64(x), (double)(float)x);
    }
}

static void check_load_round_text(void)
{
    /* lp_load_f64 on unaligned f64 and f32 arrays */
    const double dv[3] = {-1.5, 0x1p-1074, 1e300};
    const float fv[3] = {-1.08f, 0x1p-149f, 3e38f};
    unsigned char buf[1 + 3 * 8];
    memcpy(buf + 1, dv, sizeof dv);
    for (size_t i = 0; i < 3; i++)
        lpt_check(lp_bits_f64(lp_load_f64(buf + 1, LP_F64, i)) == lp_bits_f64(dv[i]),
                  "lp_load_f64(f64, %zu)", i);
    memcpy(buf + 1, fv, sizeof fv);
    for (size_t i = 0; i < 3; i++)
        lpt_check(lp_load_f64(buf + 1, LP_F32, i) == (double)fv[i], "lp_load_f64(f32, %zu)", i);
    const uint32_t snan = 0xff800001u;
    memcpy(buf + 1, &snan, 4);
    lpt_check(lp_bits_f64(lp_load_f64(buf + 1, LP_F32, 0)) == 0xfff8000000000000u,
              "lp_load_f64(f32 -sNaN) is not the canonical quiet NaN with the sign");

    /* lp_round_to */
    lpt_check(lp_round_to(0.1, LP_F64) == 0.1, "lp_round_to(0.1, f64)");
    lpt_check(lp_round_to(0.1, LP_F32) == (double)0.1f, "lp_round_to(0.1, f32)");
    lpt_check(lp_round_to(0.1, LP_F16) == 0x1.998p-4, "lp_round_to(0.1, f16) = %a",
              lp_round_to(0.1, LP_F16));
    lpt_check(lp_round_to(0.1, LP_BF16) == 0x1.9ap-4, "lp_round_to(0.1, bf16) = %a",
              lp_round_to(0.1, LP_BF16));
    lpt_check(isinf(lp_round_to(65520.0, LP_F16)) && lp_round_to(-1e-30, LP_F16) == 0 &&
                  signbit(lp_round_to(-1e-30, LP_F16)) && isnan(lp_round_to(DNAN, LP_BF16)),
              "lp_round_to: overflow, signed underflow, NaN");

    /* lp_format_hexdec */
    static const struct { double v; lp_format f; const char *want; } txt[] = {
        {(double)-1.08f, LP_F32, "0xbf8a3d71 (-1.08000004e+00)"},
        {1.0, LP_F64, "0x3ff0000000000000 (1.0000000000000000e+00)"},
        {0.1, LP_F64, "0x3fb999999999999a (1.0000000000000001e-01)"},
        {1.0, LP_F16, "0x3c00 (1.0000e+00)"},
        {-0.0, LP_F16, "0x8000 (-0.0000e+00)"},
        {65504.0, LP_F16, "0x7bff (6.5504e+04)"},
        {0x1p-24, LP_F16, "0x0001 (5.9605e-08)"},
        {1.0, LP_BF16, "0x3f80 (1.000e+00)"},
        {0x1.9ap-4, LP_BF16, "0x3dcd (1.001e-01)"},
        {DINF, LP_F16, "0x7c00 (inf)"},
        {DNAN, LP_BF16, "0x7fc0 (nan)"},
    };
    for (size_t i = 0; i < sizeof txt / sizeof txt[0]; i++) {
        char buf2[64];
        lp_format_hexdec(buf2, sizeof buf2, txt[i].v, txt[i].f);
        lpt_check(strcmp(buf2, txt[i].want) == 0, "lp_format_hexdec(%a, %s) = \"%s\", want \"%s\"",
                  txt[i].v, lp_format_name(txt[i].f), buf2, txt[i].want);
    }
    char small[8];
    lp_format_hexdec(small, sizeof small, 1.0, LP_F64);
    lpt_check(strlen(small) == 7, "lp_format_hexdec truncates to the buffer");
}

int main(void)
{
    lpt_begin("t_format");
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    const long n_random = lpt_level() >= 2 ? 20000000 : 300000;

    check_table();
    check_widen_all(&T_F16);
    check_widen_all(&T_BF16);
    check_specials(&T_F16);
    check_specials(&T_BF16);
    check_specials(&T_F32);
    check_pairs16(&T_F16);
    check_pairs16(&T_BF16);
    check_pairs32(&rng, n_random / 3);
    check_random(&rng, n_random);
    check_load_round_text();
    return lpt_end();
}
