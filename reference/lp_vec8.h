/* reference/lp_vec8.h: 8-lane double vectors (GCC vector extensions) for the tier-2 and tier-3
 * hot loops (fast_dd.c, fast_td.c). Every helper performs, lane by lane, exactly the scalar
 * operations named (core/lp_dd.h's TwoSum and Fast2Sum, fma() with one rounding) in the order
 * written (-ffp-contract=off), so the bits do not depend on the vector width or on the
 * target_clones clone (AVX-512, AVX2+FMA, baseline with libm's fma). Always inlined: no vector
 * crosses a call, whatever the psABI says about passing them. */
#ifndef LP_VEC8_H
#define LP_VEC8_H

#pragma GCC diagnostic ignored "-Wpsabi"

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));

#define V8(c) ((v8d){c, c, c, c, c, c, c, c})
/* mask ? a : b, lane by lane (mask 0 or -1) */
#define VSEL(mask, a, b) ((v8d)(((v8i)(a) & (mask)) | ((v8i)(b) & ~(mask))))

__attribute__((always_inline)) static inline v8d vfma(v8d a, v8d b, v8d c)
{
    v8d r;
    for (int l = 0; l < 8; l++) r[l] = __builtin_fma(a[l], b[l], c[l]);
    return r;
}
/* TwoSum: s + e = a + b exactly. */
__attribute__((always_inline)) static inline void v2sum(v8d a, v8d b, v8d *s, v8d *e)
{
    const v8d sum = a + b, bb = sum - a;
    *e = (a - (sum - bb)) + (b - bb);
    *s = sum;
}
/* Fast2Sum: the same when |a| >= |b| (or a's exponent >= b's). */
__attribute__((always_inline)) static inline void vf2sum(v8d a, v8d b, v8d *s, v8d *e)
{
    const v8d sum = a + b;
    *e = b - (sum - a);
    *s = sum;
}

#endif
