/* core/format.c: the four storage formats; exact widening, correctly rounded narrowing.
 * CONTRACT  narrowing is IEEE 754 roundTiesToEven of the exact input, with gradual underflow,
 *           overflow to infinity, signed zeros kept, and NaN mapped to the positive quiet NaN of
 *           the target (lp_format.h). Widening is exact; a NaN keeps its sign, loses its payload.
 * METHOD    every narrowing is one integer rounding of the exact input (round_f64; lp_bf16_from_f32
 *           rounds the f32 pattern directly, see there);
 *           nothing depends on the FPU rounding mode and nothing calls libm.
 *   A finite nonzero double is |x| = M * 2^e with M < 2^53 an integer. Let ex = floor(log2|x|).
 *   The target F (precision p = m + 1, exponents [emin, emax]) spaces its numbers near x by the
 *   quantum 2^q, q = max(ex, emin) - m (below 2^emin the subnormal quantum stays 2^(emin - m)).
 *   The two F numbers around |x| (in [2^ex, 2^(ex+1)], or in [0, 2^emin] below the normal range;
 *   2^(emax+1) counts as one, as IEEE's overflow rule says) are consecutive multiples of 2^q, so
 *   RNE(|x|) = N * 2^q with N = RNE(|x| / 2^q), computed exactly on integers: the bits of M
 *   shifted out are compared with half of 2^sh (greater: up; equal: up iff N is odd, the tie to
 *   even). Then N <= 2^p, and the encoding ((q + m + bias - 1) << m) + N is correct in all cases:
 *     normal   (N in [2^m, 2^p)): the hidden bit of N adds one to the biased exponent;
 *     subnormal (q = emin - m):   the exponent part is 0 and N < 2^m is the trailing field;
 *     carries  N = 2^m from a subnormal input is the smallest normal, N = 2^p the next binade,
 *              and from the top binade that next binade is the infinity pattern (all ones,
 *              trailing field 0): e.g. f16 65520 = 65504 + half ulp is a tie, goes to the even
 *              neighbour 2^16, which encodes as 0x7c00 = +inf.
 *   Inputs with ex > emax are at least 2^(emax+1) > max + half ulp: infinity directly.
 *   When sh >= 55 the input is below 2^(q-2), less than half the quantum, so N = 0 (no tie).
 *   One rounding straight from the double: going through f32 first would round twice (a double
 *   just below an f16 midpoint becomes the midpoint in f32, then ties to even, possibly up).
 *   The f32 entry points widen exactly to double first, which changes no value.
 * EVIDENCE  tests/t_format.c: every f16/bf16 pattern widened against MPFR, every adjacent pair's
 *           midpoint +-1 ulp of f64 and f32 and random inputs narrowed against MPFR emulation.
 */
#include "lp_format.h"

#include <string.h>

#include "lp_core.h"

static const lp_format_info format_table[LP_NFORMATS] = {
    [LP_F64] = {"f64", 8, 53, -1022, 1023},
    [LP_F32] = {"f32", 4, 24, -126, 127},
    [LP_F16] = {"f16", 2, 11, -14, 15},
    [LP_BF16] = {"bf16", 2, 8, -126, 127},
};

#define F64_SIGN 0x8000000000000000u
#define F64_INF 0x7ff0000000000000u
#define F64_QNAN 0x7ff8000000000000u
#define F32_QNAN 0x7fc00000u
#define F16_QNAN 0x7e00u
#define BF16_QNAN 0x7fc0u

const lp_format_info *lp_format_get(lp_format f)
{
    if ((unsigned)f >= LP_NFORMATS) return NULL;
    return &format_table[f];
}

const char *lp_format_name(lp_format f)
{
    const lp_format_info *fi = lp_format_get(f);
    return fi ? fi->name : "?";
}

int lp_format_parse(lp_format *out, const char *name)
{
    if (!name) return 0;
    for (int f = 0; f < LP_NFORMATS; f++) {
        if (strcmp(name, format_table[f].name) == 0) {
            if (out) *out = (lp_format)f;
            return 1;
        }
    }
    return 0;
}

/* ---- narrowing --------------------------------------------------------------------------- */

/* The target of round_f64: m trailing bits, biased exponents with bias = emax, emin = 1 - emax,
 * sign at bit `width - 1`. */
typedef struct narrow_fmt {
    int m, emax, width;
    uint64_t qnan;
} narrow_fmt;

static const narrow_fmt NARROW_F32 = {23, 127, 32, F32_QNAN};
static const narrow_fmt NARROW_F16 = {10, 15, 16, F16_QNAN};
static const narrow_fmt NARROW_BF16 = {7, 127, 16, BF16_QNAN};

/* The bit pattern of RNE(x) in the target (see the opening comment for the argument). */
static uint64_t round_f64(double x, const narrow_fmt *t)
{
    const uint64_t u = lp_bits_f64(x);
    const uint64_t mag = u & ~F64_SIGN;
    const uint64_t sign = (u >> 63) << (t->width - 1);
    const int m = t->m, emax = t->emax, emin = 1 - emax;
    const uint64_t inf = (uint64_t)(2 * emax + 1) << m;

    if (mag > F64_INF) return t->qnan;
    if (mag == F64_INF) return sign | inf;
    if (mag == 0) return sign;

    /* |x| = M * 2^e with bit 52 of M set (subnormal doubles are normalised here). */
    uint64_t M = mag & ((UINT64_C(1) << 52) - 1);
    int biased = (int)(mag >> 52), e;
    if (biased != 0) {
        M |= UINT64_C(1) << 52;
        e = biased - 1075;
    } else {
        e = -1074;
        while (!(M & (UINT64_C(1) << 52))) {
            M <<= 1;
            e--;
        }
    }
    const int ex = e + 52;                     /* floor(log2|x|) */
    if (ex > emax) return sign | inf;

    const int q = (ex > emin ? ex : emin) - m; /* exponent of the quantum near x */
    uint64_t N;
    if (e >= q) {
        N = M << (e - q);                      /* exact: N < 2^(ex - q + 1) <= 2^p */
    } else if (q - e >= 55) {
        N = 0;                                 /* |x| < 2^(q-2) */
    } else {
        const int sh = q - e;
        const uint64_t rem = M & ((UINT64_C(1) << sh) - 1), half = UINT64_C(1) << (sh - 1);
        N = M >> sh;
        if (rem > half || (rem == half && (N & 1))) N++;
    }
    /* ex <= emax and N <= 2^p = 2 << m: at most ((2 emax - 1) << m) + (2 << m) = inf. */
    return sign | (((uint64_t)(q + m + emax - 1) << m) + N);
}

uint16_t lp_f16_from_f64(double x) { return (uint16_t)round_f64(x, &NARROW_F16); }
uint16_t lp_bf16_from_f64(double x) { return (uint16_t)round_f64(x, &NARROW_BF16); }
uint16_t lp_f16_from_f32(float x) { return (uint16_t)round_f64((double)x, &NARROW_F16); }
float lp_f32_from_f64(double x) { return lp_f32_bits((uint32_t)round_f64(x, &NARROW_F32)); }

/* bf16 has the exponent field of f32, so on non-NaN patterns the magnitude order is the integer
 * order and rounding away the low 16 bits of the pattern, ties to even, is RNE of the value,
 * carries into the exponent and to infinity (0x7f7fffff -> 0x7f80) included. */
uint16_t lp_bf16_from_f32(float x)
{
    const uint32_t u = lp_bits_f32(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return BF16_QNAN;
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* ---- widening ---------------------------------------------------------------------------- */

/* 2^k for -1074 <= k <= 1023, from its bits. */
static double pow2(int k)
{
    if (k >= -1022) return lp_f64_bits((uint64_t)(k + 1023) << 52);
    return lp_f64_bits(UINT64_C(1) << (k + 1074));
}

double lp_f16_to_f64(uint16_t h)
{
    const uint64_t sign = (uint64_t)(h >> 15) << 63;
    const int biased = (h >> 10) & 0x1f;
    const unsigned frac = h & 0x3ffu;
    if (biased == 0x1f) return lp_f64_bits(sign | (frac ? F64_QNAN : F64_INF));
    if (biased == 0 && frac == 0) return lp_f64_bits(sign);
    /* sig * 2^k: an integer below 2^11 times a power of two, both exact, so the product is. */
    const unsigned sig = biased ? (frac | 0x400u) : frac;
    const double v = (double)sig * pow2((biased ? biased : 1) - 25);
    return sign ? -v : v;
}

double lp_bf16_to_f64(uint16_t h) { return (double)lp_bf16_to_f32(h); }

double lp_value_wide(const lp_value *v, lp_format f)
{
    switch (f) {
    case LP_F64: return v->f64;
    case LP_F32: return (double)v->f32;
    case LP_F16: return lp_f16_to_f64(v->f16);
    case LP_BF16: break;
    }
    return lp_bf16_to_f64(v->bf16);
}

float lp_f16_to_f32(uint16_t h)
{
    if ((h & 0x7fffu) > 0x7c00u) return lp_f32_bits(((uint32_t)(h >> 15) << 31) | F32_QNAN);
    return (float)lp_f16_to_f64(h);           /* every f16 value is an f32 value */
}

float lp_bf16_to_f32(uint16_t h)
{
    if ((h & 0x7fffu) > 0x7f80u) return lp_f32_bits(((uint32_t)(h >> 15) << 31) | F32_QNAN);
    return lp_f32_bits((uint32_t)h << 16);
}

/* f32 widened to f64 with the NaN rule of this file (not the hardware's payload copy). */
static double f32_to_f64(float x)
{
    const uint32_t u = lp_bits_f32(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return lp_f64_bits(((uint64_t)(u >> 31) << 63) | F64_QNAN);
    return (double)x;
}

double lp_load_f64(const void *base, lp_format f, size_t i)
{
    const unsigned char *p = base;
    switch (f) {
    case LP_F64: {
        double v;
        memcpy(&v, p + i * 8, 8);
        return v;
    }
    case LP_F32: {
        float v;
        memcpy(&v, p + i * 4, 4);
        return f32_to_f64(v);
    }
    case LP_F16: {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        return lp_f16_to_f64(h);
    }
    case LP_BF16: {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        return lp_bf16_to_f64(h);
    }
    }
    return lp_f64_bits(F64_QNAN);
}

/* f64 is the identity (a NaN stays as it is); the others canonicalise NaN like any narrowing. */
double lp_round_to(double x, lp_format f)
{
    switch (f) {
    case LP_F64: return x;
    case LP_F32: return (double)lp_f32_from_f64(x);
    case LP_F16: return lp_f16_to_f64(lp_f16_from_f64(x));
    case LP_BF16: return lp_bf16_to_f64(lp_bf16_from_f64(x));
    }
    return lp_f64_bits(F64_QNAN);
}

/* v is rounded to f first (a no-op when v is a value of f). Decimal digits: enough to identify
 * the value, 17 / 9 / 5 / 4 significant digits. */
void lp_format_hexdec(char *buf, size_t n, double v, lp_format f)
{
    if (!buf || n == 0) return;
    switch (f) {
    case LP_F64:
        snprintf(buf, n, "0x%016llx (%.16e)", (unsigned long long)lp_bits_f64(v), v);
        return;
    case LP_F32: {
        const float r = lp_f32_from_f64(v);
        snprintf(buf, n, "0x%08lx (%.8e)", (unsigned long)lp_bits_f32(r), (double)r);
        return;
    }
    case LP_F16: {
        const uint16_t h = lp_f16_from_f64(v);
        snprintf(buf, n, "0x%04x (%.4e)", (unsigned)h, lp_f16_to_f64(h));
        return;
    }
    case LP_BF16: {
        const uint16_t h = lp_bf16_from_f64(v);
        snprintf(buf, n, "0x%04x (%.3e)", (unsigned)h, lp_bf16_to_f64(h));
        return;
    }
    }
    snprintf(buf, n, "? (%.16e)", v);
}

void lp_store_f64(void *base, lp_format f, size_t i, double x)
{
    switch (f) {
    case LP_F64: memcpy((char *)base + 8 * i, &x, 8); break;
    case LP_F32: { float v = lp_f32_from_f64(x); memcpy((char *)base + 4 * i, &v, 4); } break;
    case LP_F16: { uint16_t v = lp_f16_from_f64(x); memcpy((char *)base + 2 * i, &v, 2); } break;
    case LP_BF16: { uint16_t v = lp_bf16_from_f64(x); memcpy((char *)base + 2 * i, &v, 2); } break;
    }
}
