/* core/rng.c: xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
#include <math.h>

#include "lp_rng.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void lp_rng_init(lp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15u;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t lp_rng_next(lp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t lp_rng_below(lp_rng *r, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, v; /* rejection: no modulo bias */
    do v = lp_rng_next(r);
    while (v >= lim);
    return v % n;
}

double lp_rng_unif(lp_rng *r) { return (double)(lp_rng_next(r) >> 11) * 0x1p-53; }

double lp_rng_normal(lp_rng *r)
{
    double u1 = lp_rng_unif(r), u2 = lp_rng_unif(r);
    if (u1 < 0x1p-60) u1 = 0x1p-60;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
