/* reference/fast.c: the certified fast path of the exact engine (issue 7), tier 1:
 * logp evaluated in double with an a-priori error bound, turned into an enclosure [lo, hi] from
 * which each requested rounding is decided; batch.c falls back to the MPFR Ziv loop (ziv.c) when
 * a rounding is undecided or the row is outside this file's domain.
 *
 * CONTRACT  lp_fast_row: for a row with 2^-900 <= tau <= 2^900, 2 <= V < 2^31, no NaN and no +inf,
 *           some finite logit and a finite label logit, returns lo <= logp <= hi (logp the exact
 *           real of ziv.c; its D = (x_y - m)/tau, T's terms exp((x_i - m)/tau)).
 *           Otherwise returns 0. lp_fast_decide: RN_F(lo) == RN_F(hi) for every wanted F implies
 *           RN_F(logp) is that value (rounding is monotone), so results are bit-identical to the
 *           MPFR path's, which is the correct rounding too. The double-double is never produced
 *           here (its low part needs an enclosure of about 2^-115 relative width: see README).
 *
 * NOTATION  u = 2^-53; RN = round to nearest even in double; gamma_n = n u / (1 - n u); dn(a), up(a)
 *           the neighbours of a double toward -inf / +inf (nextafter). Facts used: RN(a + b) =
 *           (a + b)(1 + d), |d| <= u, also for subnormal results (they are exact); RN(a * b) =
 *           ab(1 + d) + e, |d| <= u, |e| <= 2^-1075; dn(RN(a)) <= a <= up(RN(a)) always (an RN
 *           error is at most half the gap to either neighbour). The build has -ffp-contract=off,
 *           so the code below is the operations analysed: no FMA contraction; the fused
 *           multiply-adds of step 2 are explicit fma() calls, RN(a b + c) on every clone (vfmadd
 *           on x86-64-v3/v4, libm's correctly rounded fma() on the baseline). TwoSum (Knuth:
 *           s + e = a + b exactly) is core/lp_dd.h's lp_two_sum.
 *
 * METHOD and ERROR (the numbers are bounds, rounded up; each line: operation, error, why)
 *   Row x_i (exact doubles: every storage format widens exactly), label y, m = max x_i (exact; of
 *   an f32 row found in float, the same value: widening is exact and increasing).
 *   logp = D - log1p(T),  D = x_y - m <= 0,  T = sum over i with x_i < m of exp(x_i - m) + (n_max - 1),
 *   n_max the number of i with x_i = m: the same real as ziv.c (it drops one argmax index).
 *   (1) yh_i = RN(x_i - m) <= 0, |yh_i - y_i| <= u |y_i|. yh_i = 0 iff x_i = m (a nonzero difference
 *       of doubles never rounds to 0). Terms with yh_i < -700 ("small", -inf included) are left
 *       out: y_i <= yh_i / (1 + u) < -699.99, so exp(y_i) < 2^-1009; they add at most
 *       A = n_small 2^-1009 <= V 2^-1009 to T (they are not counted: V bounds their number).
 *       Their lanes run through step 2 too, on values outside its range (maybe NaN: IEEE flags
 *       only, no traps), and the result's bits are then cleared: they add exactly +0.
 *   (2) exp(yh), -700 <= yh < 0 (the term t_i = exp(y_i) = exp(yh_i) exp(y_i - yh_i), and
 *       |y_i - yh_i| <= u 700 / (1 - u) =: d0 <= 700.0001 u). fma(a, b, c) = RN(a b + c) (one
 *       rounding, the product exact inside):
 *       s  = fma(yh, L16, 0x1.8p52), L16 = RN(16/ln2) (relative error <= 0.13 u): |yh L16| <=
 *            16164, so s lies in [2^52, 2^53), where the ulp is 1: s = 0x1.8p52 + k, k the integer
 *            nearest yh L16 (|yh L16 - k| <= 1/2), -16164 <= k <= 0; k = s - 0x1.8p52 exactly
 *            (an integer below 2^52). |yh - k ln2/16| <= 1/(2 L16) + |k| |1/L16 - ln2/16|
 *            <= ln2/32 (1 + 0.14 u) + 16164 (ln2/16) 0.14 u <= rho := 0.021661.
 *       C1 = RN(ln2/16) (|C1 - ln2/16| <= 2^-58), C2 = RN(ln2/16 - C1)
 *       (|C1 + C2 - ln2/16| < 2^-113).
 *       r1 = fma(-k, C1, yh) = RN(yh - k C1): |yh - k C1| <= rho + 16164 2^-58 <= 0.02167, so the
 *       error is <= 0.0217 u. rh = fma(-k, C2, r1) = RN(r1 - k C2): error <= 0.0217 u (1 + u).
 *       With |k| |C1 + C2 - ln2/16| < 2^-99: |rh - (yh - k ln2/16)| <= dr := 0.044 u, and
 *       |rh| <= rho' := 0.021662.
 *       P(r) = sum_{j=0}^{6} c_j r^j, c_j = RN(1/j!) (c0, c1, c2 exact), by Horner with fma
 *       (p = fma(p, r, c_j): one rounding a step):
 *         truncation (Lagrange): |exp(r) - sum r^j/j!| <= rho'^7/7! e^rho' <= 4.18 u e^-rho';
 *         coefficients: u sum_{j=3}^{6} rho'^j/j! <= 0.00001 u;
 *         Horner with FMA (Higham, ASNA 2nd ed., sec. 5.1: n steps of one rounding give gamma_n
 *         in place of eq. 5.3's gamma_2n): gamma_6 sum |c_j| rho'^j <= 6.0001 u e^rho';
 *       relative to exp(rh) >= e^-rho': P^ = exp(rh) (1 + eP), |eP| <= 4.18 u + 0.00001 u +
 *       6.0001 e^(2 rho') u <= 10.46 u.
 *       j = k mod 16 = the low 4 bits of s (those of 0x1.8p52 are 0), e = (k - j)/16 = floor(k/16)
 *       >= -1011: bits(s) = 0x4338000000000000 + k, so ((bits(s) >> 4) << 52) = e 2^52 mod 2^64
 *       (0x4338000000000000 >> 4 << 52 vanishes mod 2^64), all in unsigned 64-bit integers.
 *       T_j = RN(2^(j/16)) from a table of 16 (relative error <= 0.74 u, each entry checked with
 *       mpmath at 300 bits); q = RN(P^ T_j): u. exp(yh) = 2^e 2^(j/16) exp(yh - k ln2/16) exactly
 *       (k = 16 e + j). q lies in [0.97, 1.97] (P^ within 11 u of exp(rh), rh in [-rho', rho'],
 *       T_j in [1, 1.92]): adding e 2^52 to its bits gives t^ = q 2^e exactly, a normal double
 *       (q 2^e >= 0.97 2^-1011 > 2^-1022).
 *       Total per term: t^_i = t_i (1 + th_i), |th_i| <= e^(d0 + dr) (1 + 10.46 u)(1 + 0.74 u)
 *       (1 + u) - 1 <= 712.3 u <= E_t := 752 u (the constant below, kept from the earlier kernel,
 *       covers this one).
 *   (3) T^ = the sum of the kept t^_i and (n_max - 1). Blocks of 1024 terms are summed in 8
 *       lane accumulators of 128 terms, the lanes then added in order: every term passes through
 *       at most 128 + 7 additions, so each block sum b^ = b (1 + th), |th| <= gamma_136 (all terms
 *       >= 0; Higham, ASNA 2nd ed., sec. 4.2: gamma_h for a summation of depth h). The block sums and n_max - 1 are added by
 *       TwoSum with a separately accumulated error (Ogita, Rump, Oishi 2005, Sum2, Prop. 4.5):
 *       |T^ - sum b^| <= u sum b^ + gamma_{n-1}^2 sum b^ <= 1.001 u sum b^ for n <= 2^21 blocks.
 *       Hence with T_big = T - (small terms): T_big in T^ [1 - E_T, 1 + E_T], E_T = 890 u (E_t +
 *       gamma_136 + 1.001 u and second-order terms), and T in [T^(1 - E_T), T^(1 + E_T) + A].
 *   (3') Histogram path (bf16 and f16 rows with V >= lp_fast_hist_min_v, default 16384): the same
 *       T as a sum over the distinct bit patterns b present, c_b times exp(v_b - m) (c_b the
 *       count, exact in double). m, and the NaN / +inf test, come from the counts (patterns in
 *       value order). Each term is RN(c_b t^_b) = c_b t^_b (1 + d), |d| <= u (c_b >= 1 and
 *       t^_b >= 2^-1011: no underflow), so E_t becomes 753 u; the terms (at most 65536) are
 *       summed exactly as in (3) (blocks of 1024 in 8 lanes, Sum2 over the blocks); ties are
 *       counted with their multiplicity, small terms are bounded by V 2^-1009 as in (1).
 *       So E_T = 891 u here, and E_L = 924 u below:
 *       the same wL (928 u) covers both. One pass over the row instead of two, and one exp per
 *       distinct value (a few thousand) instead of per logit.
 *   (4) L^ = lp_fast_log1p(T^), own code below, |L^ - log1p(T^)| <= E_log log1p(T^) + 2^-1070,
 *       E_log = 32 u (proof at lp_fast_log1p). log1p is increasing with slope 1/(1+s), and
 *       T/(1+T) <= log1p(T), so |log1p(T^(1 +- E_T)) - log1p(T^)| <= E_T/(1 - E_T) log1p(T^), and
 *       log1p(a + A) <= log1p(a) + A. So L = log1p(T) lies in
 *       [L^ (1 - E_L) - 2^-1069, L^ (1 + E_L) + A + 2^-1069], E_L = 923 u (924 u for (3')).
 *   (5) Dh = RN(x_y - m), Dl its TwoSum error: x_y - m = Dh + Dl exactly (no overflow: checked).
 *   (6) p = RN(Dh - L^), pe its TwoSum error: Dh - L^ = p + pe exactly. So
 *       logp = p + pe + Dl - (L - L^), with -(L - L^) in [-wL - A - 2^-1069, wL + 2^-1069] where
 *       wL = RN(L^ * 928u) >= 927.99 u L^ - 2^-1075 >= E_L L^ - 2^-1075.
 *   (7) Enclosure, pair form: S = (V + 1) 2^-1009 (exact: V + 1 <= 2^31; covers A, 2^-1069 and
 *       2^-1075),
 *       clo = dn(RN(dn(RN(dn(RN(pe + Dl)) - wL)) - S)), chi = up(RN(up(RN(up(RN(pe + Dl)) + wL)) + 2^-1009)):
 *       p + clo <= logp <= p + chi; plain ends lo = dn(RN(p + clo)), hi = up(RN(p + chi)).
 *   TEMPERATURE (tau != 1; for tau = 1, ti = 1 and the loops skip the product by it: exact, the
 *   same bits):
 *   (1') yh_i = RN(RN(x_i - m) ti), ti = RN(1/tau): yh_i = y_i (1 + d)^3, so |yh_i - y_i| <=
 *       3.0001 u |y_i|; "small" still means y_i < -699.99. A product underflowing (|y_i| <
 *       2^-1074) is counted as a tie: exp(y_i) = 1 - tiny, inside the relative slack below (T >= 1
 *       then). d0 becomes 2100.3 u in (2): E_t = 2153 u (2154 u with (3')), E_T = 2292 u,
 *       E_L = 2325 u, and wL = RN(L^ * 2330 u).
 *   (7') D/tau: q = RN(Dh/tau), r = fma(-q, tau, Dh) = Dh - q tau exactly (the remainder of a
 *       correctly rounded quotient is a double; an underflowing one errs by <= 2^-1075),
 *       c = RN(RN(r + Dl)/tau): D/tau = q + (Dh - q tau + Dl)/tau = q + c + eps, |eps| <=
 *       2.0003 u |c| + 2^-172 <= eD := up(RN(|c| 2^-51)) + 2^-160 (tau >= 2^-900). With p =
 *       RN(q - L^), pe its TwoSum error: clo = dn(dn(dn(dn(pe + c) - eD) - wL) - S) and chi =
 *       up(up(up(up(pe + c) + eD) + wL) + 2^-1009); |q|, |c| <= 2^1000 or the row is refused.
 *   TOTAL   logp in p + [clo, chi]: the uncertainty is only that of L (relative 2^-43.1 of L,
 *   plus 2^-1008 absolute), never of D; this decides the common wide-logit case logp = D - tiny with
 *   D an exact midpoint of f32 (a difference of two f32 values has up to 25 bits).
 *   The f32/f16/bf16 rounding of p + c (c = clo, chi) is computed exactly by rn_pair (round to odd).
 *   A rounding of f32 (f16, bf16) is undecided only when logp lies within 2^-42 L of a rounding
 *   boundary: at most of the order of 1e-5 of the tokens (measured: bench/bench_fast.c); f64 is
 *   decided when RN(p + clo) and RN(p + chi) coincide (L below half an ulp of D), else it is left to
 *   tier 2 (fast_dd.c), whose enclosure is about 2^-98 wide.
 *   EVIDENCE  tests/t_fast.c: fast == MPFR bit for bit on the whole vector corpus, on random rows of
 *           every storage format and on constructed hard cases (the fallback counter moves);
 *           it also checks lp_fast_log1p and the exp kernel against MPFR within the bounds above.
 *           fuzz/fz_fast.c: the same property on any decoded problem.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "lp_core.h"
#include "lp_dd.h"
#include "lp_fast.h"
#include "lp_format.h"
#include "lp_fast_internal.h"

#define U 0x1p-53
#define BLK 1024
#define LANES 8
#define SMALL (-700.0)
#define SHIFT 0x1.8p52

static const double L16 = 0x1.71547652b82fep+4;  /* RN(16/ln2) */
static const double C1 = 0x1.62e42fefa39efp-5;   /* RN(ln2/16) */
static const double C2 = 0x1.abc9e3b39803fp-60;  /* RN(ln2/16 - C1) */
static const double LN2HI = 0x1.62e42fefa38p-1;  /* ln2 to 42 bits, for log1p: q LN2HI exact */
static const double LN2LO = 0x1.ef35793c7673p-45; /* RN(ln2 - LN2HI) */

/* c_j = RN(1/j!), j = 3..6 (Python: float(Fraction(1, factorial(j))), correctly rounded);
 * c0 = c1 = 1 and c2 = 1/2 are exact. */
#define E3 0x1.5555555555555p-3
#define E4 0x1.5555555555555p-5
#define E5 0x1.1111111111111p-7
#define E6 0x1.6c16c16c16c17p-10

/* a_j = RN(1/(2j+1)), j = 0..11. */
static const double ATANH_C[12] = {
    1.0, 0x1.5555555555555p-2, 0x1.999999999999ap-3, 0x1.2492492492492p-3, 0x1.c71c71c71c71cp-4,
    0x1.745d1745d1746p-4, 0x1.3b13b13b13b14p-4, 0x1.1111111111111p-4, 0x1.e1e1e1e1e1e1ep-5,
    0x1.af286bca1af28p-5, 0x1.8618618618618p-5, 0x1.642c8590b2164p-5};

static double dn(double a) { return nextafter(a, -HUGE_VAL); }
static double up(double a) { return nextafter(a, HUGE_VAL); }

/* ---------------------------------------------------------------------------------------------
 * log1p for 0 <= t < 2^32 (t is T^: 0, >= 2^-1011, or >= 1).
 * atanh_ser(z) = 2 z sum_{j=0}^{11} a_j w^j, w = RN(z^2), |z| <= 0.2 (so w <= 0.0401):
 *   truncation: z sum_{j>=12} w^j/(2j+1) <= z w^12 / (25 (1 - w)) <= 0.006 u z;
 *   Horner, positive coefficients and w >= 0: gamma_22 relative; coefficients: u relative;
 *   w = z^2 (1 + d): the sum moves by at most u w Q'(w)/Q(w) <= 0.02 u relative; RN(z * q): u.
 *   Total: |atanh_ser(z) - 2 atanh(z)| <= 24.1 u 2 atanh(z) (atanh(z) >= z), plus at most 2^-1073
 *   absolute when w underflows (z < 2^-511: then 2 z q is normal, z >= 2^-1012).
 * Branch t <= 0.5: log1p(t) = 2 atanh(z), z = t/(2 + t) <= 0.2. zh = RN(t / RN(2 + t)) = z (1 + d),
 *   |d| <= gamma_2, and |atanh(zh) - atanh(z)| <= |zh - z| / (1 - 0.0401) <= 2.09 u atanh(z).
 *   Total relative: (1 + 24.1u)(1 + 2.09u) - 1 <= 26.3 u.
 * Branch t > 0.5: 1 + t = s + e exactly (TwoSum), s >= 1.5, |e| <= u s. s = f 2^q, f in
 *   [sqrt(1/2), sqrt(2)) (frexp, exact), q in [1, 33]. log1p(t) = q ln2 + log(f) + log1p(e/s):
 *   log(f) = 2 atanh(z), z = (f - 1)/(f + 1): f - 1 exact (Sterbenz), zh = z (1 + d), |d| <= gamma_2,
 *   |z| <= 0.1716: |lf^ - log f| <= 26.3 u |log f| <= 9.12 u (|log f| <= 0.3466).
 *   c = RN(e/s): |c - log1p(e/s)| <= u^2 + u^2/1.99 < 2^-100.
 *   q LN2HI exact; RN(q LN2LO): err < 2^-90; q |LN2HI + LN2LO - ln2| < 2^-96.
 *   s1 = RN(RN(q LN2LO) + c): |s1| < 2^-38, err < 2^-90. s2 = RN(lf^ + s1): err <= 0.3467 u.
 *   R^ = RN(q LN2HI + s2): err <= u R (1 + 2^-40).
 *   Total absolute <= (9.47 + R) u + 2^-88, with R = log1p(t) >= log(1.5) = 0.405: relative 24.5 u.
 * So E_log = 32 u covers both branches. */
static double atanh_ser(double z)
{
    const double w = z * z;
    double q = ATANH_C[11];
    for (int j = 10; j >= 0; j--) q = ATANH_C[j] + w * q;
    return 2.0 * (z * q);
}

double lp_fast_log1p(double t)
{
    if (t <= 0.5) return atanh_ser(t / (2.0 + t));
    double s, e;
    lp_two_sum(1.0, t, &s, &e);
    int q;
    double f = frexp(s, &q);
    if (f < 0x1.6a09e667f3bcdp-1) { /* below sqrt(1/2): f in [0.5, 0.7071) -> [1, 1.4142) */
        f *= 2.0;
        q--;
    }
    const double lf = atanh_ser((f - 1.0) / (f + 1.0));
    const double c = e / s;
    const double s1 = (double)q * LN2LO + c;
    const double s2 = lf + s1;
    return (double)q * LN2HI + s2;
}

/* ---------------------------------------------------------------------------------------------
 * The hot loops: n (a multiple of LANES) logits, m the row max. Add exp(y) of every kept term
 * (step 2) into the block sum; count the ties with m (small terms are bounded by V, step 1).
 * Written with GCC vector extensions, one vector of 8 lanes (lane l takes the terms i + l): every
 * lane performs exactly the scalar operations of step 2 in the same order, the fused
 * multiply-adds as explicit fma() (one rounding on every ISA: GCC makes them vfmadd on
 * x86-64-v3/v4 and calls libm's correctly rounded fma() on the baseline; -ffp-contract=off fuses
 * nothing else), so the result does not depend on the vector width and the clones (AVX-512,
 * AVX2+FMA, baseline SSE2, chosen at load time) give the same bits (also checked once, outside
 * the suite, by calling the three clones of each loop on random blocks with ties, -inf and
 * tau != 1: equal bits). The suite runs the clone of its machine (and the ASan build, none: the
 * baseline code). CPUs without AVX-512 run a 4-lane form of the loops (EXP4 below): GCC 12 turns
 * this 8-lane code into scalar pieces on AVX2. Macros, not functions: no vector ABI. */
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));
typedef unsigned long long v8u __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef int v16i __attribute__((vector_size(64)));

#define B8(c) ((v8d){(c), (c), (c), (c), (c), (c), (c), (c)})
/* fma lane by lane: one rounding of a b + c */
#define VFMA(a, b, c)                                                                              \
    ({                                                                                             \
        const v8d fa_ = (a), fb_ = (b), fc_ = (c);                                                 \
        v8d fr_;                                                                                   \
        for (int fl_ = 0; fl_ < 8; fl_++) fr_[fl_] = __builtin_fma(fa_[fl_], fb_[fl_], fc_[fl_]);  \
        fr_;                                                                                       \
    })
/* mask ? a : b, lane by lane (mask 0 or -1) */
#define VSEL(mask, a, b) ((v8d)(((v8i)(a) & (mask)) | ((v8i)(b) & ~(mask))))

/* 2^(j/16) rounded to nearest, j = 0..15: GCC takes them from two vectors (one vpermi2pd on
 * AVX-512), clang (the fuzz build; it has no variable __builtin_shuffle) from the array: the same
 * values. */
#define EXP2_TABLE                                                                                 \
    0x1p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,                      \
        0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,    \
        0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,    \
        0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0
static const double EXP2_TAB[16] = {EXP2_TABLE};
#if defined(__clang__) || !defined(__GNUC__)
#define EXP2_LOOKUP(j)                                                                             \
    ({                                                                                             \
        const v8u tj_ = (j);                                                                       \
        v8d tv_;                                                                                   \
        for (int tl_ = 0; tl_ < 8; tl_++) tv_[tl_] = EXP2_TAB[tj_[tl_]];                          \
        tv_;                                                                                       \
    })
#else
typedef double v16d __attribute__((vector_size(128)));
static const union { v16d all; v8d half[2]; } EXP2_V = {{EXP2_TABLE}};
#define EXP2_LOOKUP(j) __builtin_shuffle(EXP2_V.half[0], EXP2_V.half[1], (j))
#endif

/* Step 2 on 8 lanes: t = exp(y), or 0 for a small (y < -700, -inf included) or zero y; zero gets
 * the lanes' tie mask (-1 where y = 0). A small lane goes through the same operations (its value,
 * maybe NaN, is then masked to +0; the table index is 4 bits whatever the bits of s). The f32
 * widening is written lane by lane: GCC then makes it one vcvtps2pd (a __builtin_convertvector
 * became five instructions). */
#define EXP8(t, zero, yv)                                                                          \
    do {                                                                                           \
        const v8d y_ = (yv);                                                                       \
        const v8i small_ = ~(y_ >= B8(SMALL));                                                     \
        zero = y_ == B8(0.0);                                                                      \
        const v8d s_ = VFMA(y_, B8(L16), B8(SHIFT));                                               \
        const v8d k_ = s_ - B8(SHIFT);                                                             \
        v8d r_ = VFMA(k_, B8(-C1), y_);                                                            \
        r_ = VFMA(k_, B8(-C2), r_);                                                                \
        v8d p_ = VFMA(B8(E6), r_, B8(E5));                                                         \
        p_ = VFMA(p_, r_, B8(E4));                                                                 \
        p_ = VFMA(p_, r_, B8(E3));                                                                 \
        p_ = VFMA(p_, r_, B8(0.5));                                                                \
        p_ = VFMA(p_, r_, B8(1.0));                                                                \
        p_ = VFMA(p_, r_, B8(1.0));                                                                \
        const v8u sb_ = (v8u)s_;                                                                   \
        const v8d q_ = p_ * EXP2_LOOKUP(sb_ & 15);                                                 \
        const v8u eb_ = (sb_ >> 4) << 52;                                                          \
        t = (v8d)(((v8u)q_ + eb_) & ~(v8u)(small_ | zero));                                        \
    } while (0)

/* The block's lane sums in order, and the lanes' tie counts, into the total (pointers: no vector
 * ABI). */
static double lanes_sum(const v8d *a, const v8i *z, int64_t *n_max)
{
    double b = (*a)[0];
    for (int l = 1; l < LANES; l++) b += (*a)[l];
    for (int l = 0; l < LANES; l++) *n_max -= (*z)[l];
    return b;
}

/* The same on 4 lanes (v4d: AVX2's width), for CPUs without AVX-512: GCC 12 splits the 8-lane
 * code above into scalar pieces on AVX2 (comparisons, the permute, spills), about a tenth of its
 * speed; this form runs at about half the AVX-512 loop's speed there. Every lane performs the
 * operations of EXP8 in the same order (the table read lane by lane: the same values), and the
 * two 4-lane accumulators are lanes 0-3 and 4-7 of the 8-lane one, added in the same order, so
 * the bits are the 8-lane form's (tests/t_fast.c forces this form: lp_fast_narrow). */
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
typedef unsigned long long v4u __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
#define B4(c) ((v4d){(c), (c), (c), (c)})
#define VFMA4(a, b, c)                                                                             \
    ({                                                                                             \
        const v4d ga_ = (a), gb_ = (b), gc_ = (c);                                                 \
        v4d gr_;                                                                                   \
        for (int gl_ = 0; gl_ < 4; gl_++) gr_[gl_] = __builtin_fma(ga_[gl_], gb_[gl_], gc_[gl_]);  \
        gr_;                                                                                       \
    })
#define EXP4(t, zero, yv)                                                                          \
    do {                                                                                           \
        const v4d y_ = (yv);                                                                       \
        const v4i small_ = ~(y_ >= B4(SMALL));                                                     \
        zero = y_ == B4(0.0);                                                                      \
        const v4d s_ = VFMA4(y_, B4(L16), B4(SHIFT));                                              \
        const v4d k_ = s_ - B4(SHIFT);                                                             \
        v4d r_ = VFMA4(k_, B4(-C1), y_);                                                           \
        r_ = VFMA4(k_, B4(-C2), r_);                                                               \
        v4d p_ = VFMA4(B4(E6), r_, B4(E5));                                                        \
        p_ = VFMA4(p_, r_, B4(E4));                                                                \
        p_ = VFMA4(p_, r_, B4(E3));                                                                \
        p_ = VFMA4(p_, r_, B4(0.5));                                                               \
        p_ = VFMA4(p_, r_, B4(1.0));                                                               \
        p_ = VFMA4(p_, r_, B4(1.0));                                                               \
        const v4u sb_ = (v4u)s_;                                                                   \
        v4d tab_;                                                                                  \
        for (int tl_ = 0; tl_ < 4; tl_++) tab_[tl_] = EXP2_TAB[sb_[tl_] & 15];                     \
        const v4d q_ = p_ * tab_;                                                                  \
        const v4u eb_ = (sb_ >> 4) << 52;                                                          \
        t = (v4d)(((v4u)q_ + eb_) & ~(v4u)(small_ | zero));                                        \
    } while (0)

/* Tests set it to 1 to run the 4-lane loops on any CPU (they give the same bits); otherwise the
 * 8-lane loops run where the CPU has AVX-512, the 4-lane ones elsewhere. */
int lp_fast_narrow = 0;
#if defined(__GNUC__) && defined(__x86_64__)
#define WIDE() (!lp_fast_narrow && __builtin_cpu_supports("avx512f"))
#else
#define WIDE() (!lp_fast_narrow)
#endif

/* The loop of block_sum over y = (x - m) ti, or x - m when ti = 1 (the same: the product by 1 is
 * exact), x loaded by LOAD(xv, i) (8 lanes) or LOAD4(x0, x1, i) (lanes 0-3, 4-7); the block's sum
 * into b (lanes in order), the ties into *n_max. */
#define BLOCK_LOOP(LOAD, LOAD4)                                                                    \
    do {                                                                                           \
        if (WIDE()) {                                                                              \
            v8d a = B8(0.0);                                                                       \
            v8i z = {0};                                                                           \
            if (ti == 1.0)                                                                         \
                for (int i = 0; i < n; i += LANES) {                                               \
                    v8d xv, t;                                                                     \
                    v8i e;                                                                         \
                    LOAD(xv, i);                                                                   \
                    EXP8(t, e, xv - m);                                                            \
                    a += t;                                                                        \
                    z += e;                                                                        \
                }                                                                                  \
            else                                                                                   \
                for (int i = 0; i < n; i += LANES) {                                               \
                    v8d xv, t;                                                                     \
                    v8i e;                                                                         \
                    LOAD(xv, i);                                                                   \
                    EXP8(t, e, (xv - m) * ti);                                                     \
                    a += t;                                                                        \
                    z += e;                                                                        \
                }                                                                                  \
            b = lanes_sum(&a, &z, n_max);                                                          \
        } else {                                                                                   \
            v4d a0 = B4(0.0), a1 = a0;                                                             \
            v4i z0 = {0}, z1 = z0;                                                                 \
            /* two loops, as above: one loop with "if (ti != 1)" inside gave wrong sums in */  \
            /* the AVX-512 clone under GCC 12.2 -O3 (cause not found; the clones disagreed) */   \
            if (ti == 1.0)                                                                         \
                for (int i = 0; i < n; i += LANES) {                                               \
                    v4d x0, x1, t0, t1;                                                            \
                    v4i e0, e1;                                                                    \
                    LOAD4(x0, x1, i);                                                              \
                    EXP4(t0, e0, x0 - m);                                                          \
                    EXP4(t1, e1, x1 - m);                                                          \
                    a0 += t0;                                                                      \
                    a1 += t1;                                                                      \
                    z0 += e0;                                                                      \
                    z1 += e1;                                                                      \
                }                                                                                  \
            else                                                                                   \
                for (int i = 0; i < n; i += LANES) {                                               \
                    v4d x0, x1, t0, t1;                                                            \
                    v4i e0, e1;                                                                    \
                    LOAD4(x0, x1, i);                                                              \
                    EXP4(t0, e0, (x0 - m) * ti);                                                   \
                    EXP4(t1, e1, (x1 - m) * ti);                                                   \
                    a0 += t0;                                                                      \
                    a1 += t1;                                                                      \
                    z0 += e0;                                                                      \
                    z1 += e1;                                                                      \
                }                                                                                  \
            b = a0[0];                                                                             \
            for (int l = 1; l < 4; l++) b += a0[l];                                                \
            for (int l = 0; l < 4; l++) b += a1[l];                                                \
            for (int l = 0; l < 4; l++) *n_max -= z0[l] + z1[l];                                   \
        }                                                                                          \
    } while (0)

#define LOAD_F64(xv, i) memcpy(&(xv), x + (i), sizeof(xv))
#define LOAD_F32(xv, i)                                                                            \
    do {                                                                                           \
        v8f f_;                                                                                    \
        memcpy(&f_, x + 4 * (i), sizeof f_);                                                       \
        (xv) = (v8d){(double)f_[0], (double)f_[1], (double)f_[2], (double)f_[3],                   \
                     (double)f_[4], (double)f_[5], (double)f_[6], (double)f_[7]};                  \
    } while (0)
#define LOAD4_F64(x0, x1, i)                                                                       \
    do {                                                                                           \
        memcpy(&(x0), x + (i), sizeof(x0));                                                        \
        memcpy(&(x1), x + (i) + 4, sizeof(x1));                                                    \
    } while (0)
#define LOAD4_F32(x0, x1, i)                                                                       \
    do {                                                                                           \
        v4f f0_, f1_;                                                                              \
        memcpy(&f0_, x + 4 * (i), sizeof f0_);                                                     \
        memcpy(&f1_, x + 4 * (i) + 16, sizeof f1_);                                                \
        (x0) = (v4d){(double)f0_[0], (double)f0_[1], (double)f0_[2], (double)f0_[3]};              \
        (x1) = (v4d){(double)f1_[0], (double)f1_[1], (double)f1_[2], (double)f1_[3]};              \
    } while (0)

LP_CLONES static double block_sum(const double *x, int n, double m, double ti, int64_t *n_max)
{
    double b;
    BLOCK_LOOP(LOAD_F64, LOAD4_F64);
    return b;
}

/* block_sum on n (a multiple of LANES) f32 logits, widened in the loop (exactly: the same doubles
 * as lp_fast_widen's, so the same bits as block_sum on them). */
LP_CLONES static double block_sum_f32(const unsigned char *x, int n, double m, double ti,
                                      int64_t *n_max)
{
    double b;
    BLOCK_LOOP(LOAD_F32, LOAD4_F32);
    return b;
}

/* block_sum over distinct values x[i] occurring w[i] times (the histogram path, step 3'):
 * adds RN(w_i t^_i); counts ties with their multiplicity (w_i < 2^31: exact). */
LP_CLONES static double block_sum_w(const double *x, const double *w, int n, double m, double ti,
                                    int64_t *n_max)
{
    v8d a = B8(0.0), z = a;
    for (int i = 0; i < n; i += LANES) {
        v8d xv, wv, t;
        v8i e;
        memcpy(&xv, x + i, sizeof xv);
        memcpy(&wv, w + i, sizeof wv);
        EXP8(t, e, (xv - m) * ti); /* ti = 1 (tau = 1): exact, the product changes nothing */
        a += t * wv;
        z += (v8d)((v8i)wv & e);
    }
    double b = a[0];
    for (int l = 1; l < LANES; l++) b += a[l];
    for (int l = 0; l < LANES; l++) *n_max += (int64_t)z[l];
    return b;
}

double lp_fast_exp(double y)
{
    double x[LANES];
    int64_t nm = 0;
    for (int l = 0; l < LANES; l++) x[l] = l ? -HUGE_VAL : y;
    return block_sum(x, LANES, 0.0, 1.0, &nm);
}

/* f16 widening by table (65536 floats, built once). */
static float f16_tab[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;
static void f16_init(void)
{
    for (uint32_t h = 0; h < 65536; h++) f16_tab[h] = lp_f16_to_f32((uint16_t)h);
}

void lp_fast_prepare(lp_format fmt)
{
    if (fmt == LP_F16) pthread_once(&f16_once, f16_init);
}

/* Widens elements [o, o + n) of the row into buf (exact): 8 at a time with vector extensions
 * (bf16: the bits shifted into a float; f32: converted), the rest one by one. */
typedef unsigned short v8hu __attribute__((vector_size(16)));
typedef unsigned int v8su __attribute__((vector_size(32)));
typedef float v8sf __attribute__((vector_size(32)));
typedef double v8df __attribute__((vector_size(64)));

LP_CLONES void lp_fast_widen(double *buf, const void *row, lp_format fmt, int64_t o, int n)
{
    const unsigned char *p = row;
    int i = 0;
    switch (fmt) {
    case LP_F64:
        memcpy(buf, p + (size_t)o * 8, (size_t)n * 8);
        break;
    case LP_F32:
        for (; i + 8 <= n; i += 8) {
            v8sf f;
            memcpy(&f, p + (size_t)(o + i) * 4, sizeof f);
            const v8df d = __builtin_convertvector(f, v8df);
            memcpy(buf + i, &d, sizeof d);
        }
        for (; i < n; i++) {
            float v;
            memcpy(&v, p + (size_t)(o + i) * 4, 4);
            buf[i] = (double)v;
        }
        break;
    case LP_BF16:
        for (; i + 8 <= n; i += 8) {
            v8hu h;
            memcpy(&h, p + (size_t)(o + i) * 2, sizeof h);
            const v8su w = __builtin_convertvector(h, v8su) << 16;
            const v8df d = __builtin_convertvector((v8sf)w, v8df);
            memcpy(buf + i, &d, sizeof d);
        }
        for (; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + (size_t)(o + i) * 2, 2);
            uint32_t w = (uint32_t)h << 16;
            float v;
            memcpy(&v, &w, 4);
            buf[i] = (double)v;
        }
        break;
    case LP_F16:
        for (; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + (size_t)(o + i) * 2, 2);
            buf[i] = (double)f16_tab[h];
        }
        break;
    }
}

/* The max of n (a multiple of 16) f32 values from p, over finite and -inf ones, as a float;
 * *bad |= a NaN or +inf is present (exactly the values v for which v < +inf fails). Comparisons
 * only: the max is exact. */
LP_CLONES static float max_f32(const unsigned char *p, int64_t n, int *bad)
{
    const v16f NINF = {-HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF,
                       -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF,
                       -HUGE_VALF, -HUGE_VALF, -HUGE_VALF, -HUGE_VALF};
    v16f mx = NINF;
    v16i b = {0};
    for (int64_t i = 0; i < n; i += 16) {
        v16f v;
        memcpy(&v, p + 4 * i, sizeof v);
        b |= ~(v < -NINF);
        const v16i gt = v > mx;
        mx = (v16f)(((v16i)v & gt) | ((v16i)mx & ~gt));
    }
    float r = -HUGE_VALF;
    for (int l = 0; l < 16; l++) {
        *bad |= b[l] != 0;
        r = mx[l] > r ? mx[l] : r;
    }
    return r;
}

/* The row max over finite and -inf values; *bad set when a NaN or +inf is present (as in
 * max_f32). */
LP_CLONES double lp_fast_row_max(const void *row, lp_format fmt, int64_t V, int *bad)
{
    double buf[BLK];
    v8d mx = B8(-HUGE_VAL);
    v8i b8 = {0};
    int b = 0;
    int64_t o = 0;
    if (fmt == LP_F32) { /* in float: widening is exact and monotone, so the max is the same */
        o = V & ~(int64_t)15;
        mx[0] = (double)max_f32(row, o, &b);
    }
    for (; o < V; o += BLK) {
        const int n = V - o < BLK ? (int)(V - o) : BLK;
        lp_fast_widen(buf, row, fmt, o, n);
        int np = n;
        while (np % LANES) buf[np++] = -HUGE_VAL; /* padding: changes neither max nor test */
        for (int i = 0; i < np; i += LANES) {
            v8d v;
            memcpy(&v, buf + i, sizeof v);
            b8 |= ~(v < B8(HUGE_VAL));
            mx = VSEL(v > mx, v, mx);
        }
    }
    double r = -HUGE_VAL;
    for (int l = 0; l < LANES; l++) {
        b |= b8[l] != 0;
        r = mx[l] > r ? mx[l] : r;
    }
    *bad = b;
    return r;
}

int lp_fast_hist_min_v = 16384;

/* The histogram path of step 3 (16-bit formats, long rows): counts of the 65536 bit patterns in
 * one pass over the row, the max and the NaN / +inf test from the counts (patterns in value
 * order: positive ones increasing up to +inf, then NaNs; negative ones increasing in magnitude
 * from -0 to -inf, then NaNs), then the Sum2 of block_sum_w over the distinct values present.
 * Returns 0 for a row outside the domain (NaN, +inf, no finite value). */
int lp_fast_hist16(uint32_t *cnt, const void *row, lp_format fmt, int64_t V, double *pm)
{
    memset(cnt, 0, 65536 * sizeof *cnt);
    const unsigned char *p = row;
    int64_t i = 0;
    for (; i + 4 <= V; i += 4) { /* four patterns per 64-bit load (any byte order: 4 lanes) */
        uint64_t q;
        memcpy(&q, p + 2 * (size_t)i, 8);
        __builtin_prefetch(p + 2 * (size_t)i + 2048);
        cnt[q & 0xffffu]++;
        cnt[(q >> 16) & 0xffffu]++;
        cnt[(q >> 32) & 0xffffu]++;
        cnt[q >> 48]++;
    }
    for (; i < V; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * (size_t)i, 2);
        cnt[h]++;
    }
    const unsigned inf = fmt == LP_BF16 ? 0x7f80u : 0x7c00u;
    for (unsigned b = inf; b < 0x8000u; b++)
        if (cnt[b] | cnt[b | 0x8000u] * (b > inf)) return 0; /* +inf or NaN */
    int top = -1;
    for (int b = (int)inf - 1; b >= 0 && top < 0; b--)
        if (cnt[b]) top = b;
    for (unsigned b = 0x8000u; b < (0x8000u | inf) && top < 0; b++)
        if (cnt[b]) top = (int)b;
    if (top < 0) return 0; /* only -inf */
    *pm = lp_load_f64(&(uint16_t){(uint16_t)top}, fmt, 0);
    return 1;
}

static int row_hist(double *psh, double *psl, double *pm, int64_t *n_max,
                    const void *row, lp_format fmt, int64_t V, double ti)
{
    uint32_t cnt[65536];
    double m;
    if (!lp_fast_hist16(cnt, row, fmt, V, &m)) return 0;
    double x[BLK], w[BLK], sh = 0.0, sl = 0.0;
    int n = 0;
    for (unsigned b = 0; b <= 0xffffu; b++) {
        if (!cnt[b]) continue;
        x[n] = lp_load_f64(&(uint16_t){(uint16_t)b}, fmt, 0);
        w[n++] = (double)cnt[b];
        if (n == BLK) {
            while (n % LANES) { /* padding: a small term of weight 0, adds 0 */
                x[n] = -HUGE_VAL;
                w[n++] = 0.0;
            }
            const double s0 = block_sum_w(x, w, n, m, ti, n_max);
            double e;
            lp_two_sum(sh, s0, &sh, &e);
            sl += e;
            n = 0;
        }
    }
    if (n) {
        while (n % LANES) {
            x[n] = -HUGE_VAL;
            w[n++] = 0.0;
        }
        const double s0 = block_sum_w(x, w, n, m, ti, n_max);
        double e;
        lp_two_sum(sh, s0, &sh, &e);
        sl += e;
    }
    *psh = sh;
    *psl = sl;
    *pm = m;
    return 1;
}

int lp_fast_row(lp_fast_enc *out, const void *row, lp_format fmt, int64_t V, int64_t label,
                double tau)
{
    if (!(tau >= 0x1p-900 && tau <= 0x1p900) || V < 2 || V >= ((int64_t)1 << 31) || label < 0 ||
        label >= V)
        return 0;
    lp_fast_prepare(fmt);
    const double ti = 1.0 / tau; /* RN(1/tau): 1 exactly for tau = 1 */
    double sh = 0.0, sl = 0.0, m, xy;
    int64_t n_max = 0;
    if ((fmt == LP_BF16 || fmt == LP_F16) && V >= lp_fast_hist_min_v) {
        if (!row_hist(&sh, &sl, &m, &n_max, row, fmt, V, ti)) return 0;
        xy = lp_load_f64(row, fmt, (size_t)label);
        if (xy == -HUGE_VAL) return 0;
    } else {
        int bad;
        m = lp_fast_row_max(row, fmt, V, &bad);
        xy = lp_load_f64(row, fmt, (size_t)label);
        if (bad || m == -HUGE_VAL || xy == -HUGE_VAL) return 0;
        /* (3): Sum2 over the block sums, starting from n_max - 1 (added at the end: exact). */
        double buf[BLK];
        int64_t o = 0;
        if (fmt == LP_F32) /* whole blocks widened in the loop: the same bits */
            for (; o + BLK <= V; o += BLK) {
                const double b =
                    block_sum_f32((const unsigned char *)row + 4 * o, BLK, m, ti, &n_max);
                double e;
                lp_two_sum(sh, b, &sh, &e);
                sl += e;
            }
        for (; o < V; o += BLK) {
            const int n = V - o < BLK ? (int)(V - o) : BLK;
            lp_fast_widen(buf, row, fmt, o, n);
            int np = n;
            while (np % LANES) buf[np++] = -HUGE_VAL; /* padding: a small term, adds 0 */
            const double b = block_sum(buf, np, m, ti, &n_max);
            double e;
            lp_two_sum(sh, b, &sh, &e);
            sl += e;
        }
    }
    {
        double e;
        lp_two_sum(sh, (double)(n_max - 1), &sh, &e);
        sl += e;
    }
    const double T = sh + sl;
    const double L = lp_fast_log1p(T);
    double D, Dl;
    lp_two_sum(xy, -m, &D, &Dl); /* exact */
    if (!(D > -HUGE_VAL)) return 0; /* D overflowed (f64 logits near the range's ends) */
    const double S = (double)(V + 1) * 0x1p-1009;
    out->r64 = __builtin_nan("");
    if (tau == 1.0) {
        double p, pe;
        lp_two_sum(D, -L, &p, &pe); /* exact */
        const double wL = L * (928.0 * U);
        out->p = p;
        out->clo = dn(dn(dn(pe + Dl) - wL) - S);
        out->chi = up(up(up(pe + Dl) + wL) + 0x1p-1009);
    } else { /* (7'): D / tau = q + c + eps, |eps| <= eD */
        const double q = D / tau, r = fma(-q, tau, D), c = (r + Dl) / tau;
        if (!(fabs(q) <= 0x1p1000) || !(fabs(c) <= 0x1p1000)) return 0;
        const double eD = up(fabs(c) * 0x1p-51) + 0x1p-160;
        double p, pe;
        lp_two_sum(q, -L, &p, &pe); /* exact */
        const double wL = L * (2330.0 * U);
        out->p = p;
        out->clo = dn(dn(dn(dn(pe + c) - eD) - wL) - S);
        out->chi = up(up(up(up(pe + c) + eD) + wL) + 0x1p-1009);
    }
    out->lo = dn(out->p + out->clo);
    out->hi = up(out->p + out->chi);
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Decisions. Rounding from a double is correct rounding (core/format.c), monotone, so equal
 * roundings of lo and hi are the rounding of every real between them. */

/* The bits of RN_F(x), F one of f32, f16, bf16 (x a double: correctly rounded by core/format.c). */
static uint32_t rn_bits(double x, lp_format f)
{
    switch (f) {
    case LP_F32: return lp_bits_f32(lp_f32_from_f64(x));
    case LP_F16: return lp_f16_from_f64(x);
    default: return lp_bf16_from_f64(x);
    }
}

/* RN_F(p + c) for a double p and a double c, F one of f32, f16, bf16, exactly; 0 in *ok when |c| is
 * not below the gap from p to its neighbour q toward c. Proof: for c != 0, x = p + c lies strictly
 * between the consecutive doubles p and q, so its round-to-odd at 53 bits is whichever of p and q
 * has an odd last significand bit; and RN_F(RO_53(x)) = RN_F(x) whenever 53 >= prec(F) + 2
 * (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
 * rounding to odd", IEEE TC 2008, Thm. 1; F's subnormals, zero and the f16 overflow threshold are
 * points of the same rounding with a coarser quantum, so the condition holds there too). */
static uint32_t rn_pair(double p, double c, lp_format f, int *ok)
{
    *ok = 1;
    if (c == 0) return rn_bits(p, f);
    const double q = c > 0 ? up(p) : dn(p);
    if (!(fabs(c) < fabs(q - p))) {
        *ok = 0;
        return 0;
    }
    return rn_bits((lp_bits_f64(p) & 1u) ? p : q, f);
}

int lp_fast_decide(lp_value *out, const lp_fast_enc *e, unsigned want)
{
    lp_value v = *out;
    if (want & (1u << LP_F64)) {
        /* p + c rounded by the hardware is RN_64 of the exact real p + c (one IEEE addition). */
        const double a = e->p == e->p ? e->p + e->clo : e->lo, b = e->p == e->p ? e->p + e->chi : e->hi;
        if (e->r64 == e->r64) v.f64 = e->r64;
        else if (lp_bits_f64(a) != lp_bits_f64(b)) return 0;
        else v.f64 = a;
    }
    for (int f = LP_F32; f <= LP_BF16; f++) {
        if (!(want & (1u << f))) continue;
        int ok1 = 0, ok2 = 0;
        uint32_t a = 0, b = 0;
        if (e->p == e->p) { /* pair form present */
            a = rn_pair(e->p, e->clo, (lp_format)f, &ok1);
            b = rn_pair(e->p, e->chi, (lp_format)f, &ok2);
        }
        if (!ok1 || !ok2) { /* monotone: the ends' roundings bracket every value between */
            a = rn_bits(e->lo, (lp_format)f);
            b = rn_bits(e->hi, (lp_format)f);
        }
        if (a != b) return 0;
        if (f == LP_F32) v.f32 = lp_f32_bits(a);
        else if (f == LP_F16) v.f16 = (uint16_t)a;
        else v.bf16 = (uint16_t)a;
    }
    *out = v;
    return 1;
}

/* Sum2 of same-sign terms: |res - S| <= (u + gamma_{k-1}^2)|S| <= 1.51 u |S| for k <= 2^26 (TwoSum
 * is exact, also with subnormals; the other operations are additions). With S <= 0:
 * S >= res (1 + 1.52 u) and S <= res (1 - 1.52 u); the factors 1 +- 2^-51 and dn/up make the
 * rounded products outward. A non-finite sum gives (-inf, +inf): nothing is decided from it. */
static double sum2(const double *x, int64_t k, int64_t stride)
{
    double sh = 0.0, sl = 0.0;
    for (int64_t i = 0; i < k; i++) {
        double e;
        lp_two_sum(sh, x[i * stride], &sh, &e);
        sl += e;
    }
    return sh + sl;
}

void lp_fast_sum(double *slo, double *shi, const double *lo, const double *hi, int64_t k,
                 int64_t stride)
{
    const double a = sum2(lo, k, stride), b = sum2(hi, k, stride);
    if (k > ((int64_t)1 << 26) || !isfinite(a) || !isfinite(b)) {
        *slo = -HUGE_VAL;
        *shi = HUGE_VAL;
        return;
    }
    *slo = dn(a * (1.0 + 0x1p-51));
    *shi = up(b * (1.0 - 0x1p-51));
}

void lp_fast_div(double *qlo, double *qhi, double lo, double hi, int64_t n)
{
    *qlo = dn(lo / (double)n);
    *qhi = up(hi / (double)n);
}
