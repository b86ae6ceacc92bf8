/* reference/fast_td.c: the certified fast path, tier 3 (issue 12): the sum T of a row evaluated
 * in triple-double with an a-priori error bound of about 2^-126.8 relative, narrow enough to
 * decide the canonical double-double (dd.hi = RN(x), dd.lo = RN(x - dd.hi), ziv.c CONTRACT) and
 * every format at once; decide.c falls back to the MPFR Ziv loop (ziv.c) when it does not.
 *
 * CONTRACT  lp_fast_row_td: for a row with 2^-900 <= tau <= 2^900, 2 <= V < 2^31, no NaN and no
 *           +inf, a finite label logit, |max|, |x_y| < 2^1000 and some logit other than the first
 *           max above -inf whose term is kept (below), sets lo <= logp <= hi (MPFR) for the
 *           exact logp of ziv.c, and returns 1. Otherwise returns 0 (the caller classifies the
 *           row and runs the Ziv loop). lp_decide (ziv.c) then decides every rounding and the
 *           canonical dd from [lo, hi]: logp of such a row is irrational (ziv.c, TERMINATION), so it
 *           lies strictly inside, and equal roundings of the open ends are its roundings: bit for
 *           bit the MPFR path's.
 *
 * NOTATION  as fast_dd.c: u = 2^-53, RN, TwoSum (lp_two_sum: s + e = a + b exactly, |e| <= u|s|),
 *           Fast2Sum (lp_fast_two_sum: the same when |a| >= |b|), TwoProd (p = RN(ab),
 *           e = fma(a, b, -p), p + e = ab exactly unless ab underflows; every product below is of
 *           unscaled values, the term being near 1 until (4)'s final scaling, so an underflowing
 *           one errs by <= 2^-1074, far below the bounds). fma() is one rounding on every ISA and
 *           -ffp-contract=off keeps the rest as written; the hot loop runs 8 lanes at once
 *           (reference/lp_vec8.h: each lane the scalar operations as written), so every
 *           target_clones clone gives the same bits. Constants are filled once by MPFR
 *           (tab_init). Bounds are rounded up.
 *
 * METHOD and ERROR
 *   Row x_i (exact doubles), label y, m = max x_i, j the first index of m,
 *   T = sum_{i != j} exp((x_i - m)/tau), logp = D - log1p(T), D = (x_y - m)/tau (ziv.c).
 *   (1) (yh, yl) = TwoSum(x_i, -m): exact, |yl| <= u|yh|. yh = 0 iff x_i = m: exp = 1 exactly,
 *       counted in n_max. yh < -600 (-inf included): "small", exp(x_i - m) < 2^-865.6, left out
 *       and bounded by n_small 2^-865 (the arguments are replaced by -600, 0 so that no NaN arises).
 *       So -600 <= yh < 0, |yl| <= 2^-43.7.
 *   (1'') tau != 1: as fast_dd.c (1''), (yh + yl)/tau = q + q2 + q3 + eps, |q2| <= 2.01 u |q|,
 *       |q3| <= 4.1 u^2 |q| <= 2^-94.7, |eps| < 2^-140; q, q2 take the places of yh, yl below
 *       ("small" and the reduction; |q2| <= 2^-42.7 keeps the bounds of (2)), q3 enters f in (2)
 *       (one more rounding of a value <= 2^-84: 2^-137), so |eps_r| <= 2^-134.6 and E_p below
 *       still holds. "Zero" (a tie with m) is tested on yh, before the division. The lane order
 *       and everything else are unchanged; tau = 1 skips (1'') (a separate clone).
 *   (2) Reduction. C = ln2/4096 in [2^-13, 2^-12); KS = RN(1/C); C1 = RN_31(C), C2 = RN_31(C - C1),
 *       C3 = RN_31(C - C1 - C2), C4 = RN(C - C1 - C2 - C3), C5 = C - C1 - ... - C4:
 *       |C - C1| <= 2^-44, |C - C1 - C2| <= 2^-75, |C4| <= 2^-106, |C5| <= 2^-159.
 *       kd = RN(RN(yh KS) + 0x1.8p52) - 0x1.8p52: the integer k nearest RN(yh KS); |RN(yh KS) -
 *       yh/C| <= 600 |KS - 1/C| + u 600 KS <= 2^-30, so |yh - kC| <= C(1/2 + 2^-29) and |k| <
 *       3.55e6 < 2^22; k = 4096 e + j, 0 <= j < 4096. k C1, k C2, k C3 are exact (22 + 31 bits).
 *       s1 = RN(yh - k C1) is exact: for k = 0 trivially; else |yh| >= C/2 - 2^-30 C > 2^-14, so yh
 *       is a multiple of 2^-66, k C1 of 2^-43, and |yh - k C1| <= C(1/2 + 2^-29) + 2^22 2^-44 <
 *       2^-13 = 2^53 2^-66. (s2, e2) = TwoSum(s1, -k C2) (|e2| <= 2^-66.5),
 *       (t1, f1) = TwoSum(-k C3, e2) (|t1| <= 2^-52.9, |f1| <= 2^-105.9), (t2, f2) = TwoSum(t1, yl)
 *       (|t2| <= 2^-42.6, |f2| <= 2^-95.6, yl or (1'')'s q2), f = RN(RN(f1 + f2) - RN(k C4)),
 *       (rh, g) = TwoSum(s2, t2), (rm, rl) = TwoSum(g, f). Exactly r := y - kC = rh + rm + rl +
 *       eps_r with eps_r the roundings of f (u 2^-95.5 + u 2^-83.9 <= 2^-136.8) and of k C4
 *       (<= 2^-137), and k C5 (<= 2^-137): |eps_r| <= 2^-135.2.
 *       |r| <= rho := C(1/2 + 2^-29) + 2^-42.7 <= 2^-13.52; |rh| <= 2^-13.5, |rm| <= 2^-66.4,
 *       |rl| <= 2^-119.4.
 *   (3) exp(r) = 1 + r + r^2 q(r), q(r) = sum_{i>=0} r^i/(i+2)!; the terms i >= 7 sum to at most
 *       rho^7/9! (1 + rho) <= 2^-113, 2^-140 after r^2. q is evaluated from (rh, rm) by Horner:
 *       w = fma(fma(G8, rh, G7), rh, G6) (G_i = RN(1/i!)), |w - (1/720 + r/5040 + r^2/40320)| <=
 *       2^-60.9; then four double-double steps s <- (H + L) + (rh + rm)(sh + sl) for 1/120, 1/24,
 *       1/6, 1/2 ((H, L) = 1/i! in double-double, L = 0 for 1/2):
 *         ph = RN(rh sh), pe = fma(rm, sh, fma(rh, sl, fma(rh, sh, -ph))) (the first step: rh w,
 *         pe = fma(rh, w, -ph)), (nh, ne) = Fast2Sum(H, ph) (|ph| < |H|), nl = RN(RN(ne + pe) + L).
 *       The errors, propagated (each step's error is multiplied by |r| <= 2^-13.5 in the next):
 *       step 1/120: w's error and rm w: 2^-73.9; 1/24: 2^-87.4; 1/6: 2^-100.8; 1/2: its own
 *       roundings u |ne + pe| <= 2^-106.9 dominate: |q - (qh + ql)| <= 2^-106.8, |qh + ql| <= 0.5001.
 *       r^2 = (r2h, r2l): r2h = RN(rh rh), r2l = fma(rh + rh, rm, fma(rh, rh, -r2h)): error <=
 *       2^-131.4 (rounding) + 2^-132.8 (rm^2) + 2^-132 (2 rh rl) <= 2^-130.3.
 *       r^2 q: ah = RN(r2h qh), al = fma(r2l, qh, fma(r2h, ql, fma(r2h, qh, -ah))): three
 *       roundings of values <= 2^-78.3 (<= 3 2^-131.3) and r2l ql (<= 2^-131): |ah| <= 2^-28,
 *       |al| <= 2^-78.3; with q's and r^2's errors (<= 2^-27 2^-106.8 + 0.5 2^-130.3): r^2 q is
 *       ah + al within 2^-128.6.
 *       p := r + r^2 q = ph + pm + pl: (ph, a) = TwoSum(rh, ah), (pm, b) = TwoSum(a, rm),
 *       pl = RN(al + RN(b + rl)): roundings <= 2^-131.2 + 2^-171; |ph| <= 2^-13.4,
 *       |pm| <= 2^-65.4, |pl| <= 2^-78.2. So |exp(r) - (1 + ph + pm + pl)| <= E_p :=
 *       2^-140 + 2^-135.2 (1.0001) + 2^-128.6 + 2^-131.2 <= 2^-128.2.
 *   (4) Table: th + tm + tl = 2^(j/4096) within 2^-158 relative (th in [1, 2), |tm| <= 2^-53,
 *       |tl| <= 2^-105; filled from MPFR at 400 bits). E = (th + tm + tl)(1 + ph + pm + pl):
 *         (x1, x2) = TwoProd(th, ph), (x3, x4) = TwoProd(th, pm), (x5, x6) = TwoProd(tm, ph),
 *         x7 = fma(th, pl, fma(tm, pm, RN(tl ph))): one rounding of <= 2^-77.1 (2^-130.1), the
 *         inner ones <= 2^-169; dropped tm pl + tl pm + tl pl <= 2^-130.2.
 *         (eh, g1) = Fast2Sum(th, x1) (th >= 1 > 2^-12.4 >= |x1|); (m1, h1) = TwoSum(tm, g1),
 *         (m2, h2) = TwoSum(m1, x2), (m3, h3) = TwoSum(m2, x3), (m4, h4) = TwoSum(m3, x5) (all
 *         exact; |m4| <= 2^-50.6, |h_i| <= 2^-103.6); low = RN(x7 + RN(RN(RN(h1 + h2) + RN(h3 +
 *         h4)) + RN(RN(tl + x4) + x6))): the last rounding <= 2^-130.1, the others <= 2^-150.
 *         (eh', c) = Fast2Sum(eh, m4), (em, el) = TwoSum(c, low): exact, |em| <= 1.01 u eh',
 *         |el| <= 1.01 u^2 eh'.
 *       The errors of (4) sum to <= 2^-130.1 + 2^-130.2 + 2^-130.1 + 2^-150 <= 2^-128.5, and
 *       (th + tm + tl) E_p <= 2^-127.2; relative to E >= 1 - 2^-12.5: per term
 *       |eh' + em + el - 2^(j/4096) exp(r)| <= E_t 2^(j/4096) exp(r), E_t := 2^-126.9 (with the
 *       table's 2^-158). Then times 2^e (e >= -867, 2^e normal): exact while normal; a subnormal
 *       el errs by <= 2^-1075 absolute.
 *   (5) Sum. Lane accumulators (Sh, Sm, Sl), 8 lanes of 32 terms per block of 256: a term
 *       (eh, em, el) is added by (s, e1) = TwoSum(Sh, eh), (t, e2) = TwoSum(Sm, em), (t', e3) =
 *       TwoSum(t, e1), Sh = s, Sm = t', Sl = RN(RN(RN(Sl + el) + e2) + e3). All but the last three
 *       roundings are exact. With S_l the lane's sum (all terms positive, Sh <= 1.0001 S_l):
 *       |e1| <= 1.0001 u S_l, |Sm| <= 32 (1.01 + 1.0001) u S_l, |e2|, |e3| <= 64.4 u^2 S_l,
 *       |Sl| <= 32 (1.01 + 128.8) u^2 S_l <= 2^12.03 u^2 S_l: the roundings err by <= 96 u 2^12.03
 *       u^2 S_l <= 2^-140.4 S_l. Lanes are then renormalised ((h, a) = Fast2Sum(Sh, Sm),
 *       (m, l) = TwoSum(a, Sl): exact, |m| <= 1.01 u h, |l| <= u |m|) and added pairwise (3
 *       levels), block sums by a binary counter (<= 24 additions each), each addition of two
 *       renormalised triples by the same three TwoSums and three roundings, then renormalised:
 *       <= 21.3 u^3 (A + B) each (the roundings see values <= 7.1 u^2 (A + B)), and the levels
 *       folded into T at the end the same way. Every term meets at most 50 such additions (3 lane
 *       levels, <= 23 in the counter: fewer than 2^23 blocks, <= 24 in the final fold):
 *       50 * 21.3 u^3 <= 2^-148.6. E_acc <= 2^-140.3.
 *       Ties (n_max - 1, exact integers) are added last in MPFR. So, T_kept the sum of the kept
 *       terms, |T^ - T_kept| <= E_T T_kept + A with E_T := 9 * 2^-130 >= E_t + E_acc + E_t E_acc,
 *       A <= (V + 64) 2^-1074; T - T_kept <= n_small 2^-865. With S = (n_small + V + 65) 2^-865:
 *       T in [max(0, (T^ - S)(1 - E_T)), (T^ + S)(1 + 2 E_T)].
 *   (6) In MPFR (192 bits, directed roundings): the ends of T, log1p of each (correctly rounded,
 *       RNDD / RNDU: log1p is increasing), then lo = D - L_hi (RNDD) and hi = D - L_lo (RNDU) at
 *       2300 bits (x_y - m exact: |x_y|, |m| < 2^1000, then divided by tau outward (RNDD for lo,
 *       RNDU for hi); so the ends are exact for tau = 1 whenever L's bits end above 2^-1200, and
 *       outward otherwise). The per-row cost is a few microseconds.
 *   TOTAL   T within about 2^-126.8 relative (plus S), so L and logp (D and L have one sign) within
 *   about 2^-125.8 relative width. dd.lo = RN(x - hi64) is undecided only when x - hi64 lies within
 *   that width of an f64 rounding boundary: about 2^-20 per binade of |x - hi64|, some 5e-5 of the
 *   tokens in all (tests/t_fast.c measures it).
 *   EVIDENCE  tests/t_fast.c: the term kernel against MPFR within E_t; fast == MPFR bit for bit,
 *   every output and the dd wanted, on the corpus and random rows. fuzz/fz_fast.c wants the dd in
 *   one case of four.
 */
#include <math.h>
#include <mpfr.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lp_core.h"
#include "lp_dd.h"
#include "lp_fast.h"
#include "lp_fast_internal.h"
#include "lp_format.h"
#include "lp_ref_internal.h"
#include "lp_vec8.h"

#define BLK3 256
#define LANES 8
#define TBITS 12
#define TSIZE (1 << TBITS)
#define SMALL (-600.0)
#define SHIFT 0x1.8p52
#define SHIFT_BITS 0x4338000000000000ull
#define LEVELS 26

/* 2^(j/4096) as th + tm + tl, one 32-byte entry per j: a lane's three loads share a cache line
 * (the table, 128 KiB, lives in L2). */
typedef struct tab3 { double h, m, l, pad; } tab3;
static tab3 TT[TSIZE] __attribute__((aligned(64)));
static double KS, C1, C2, C3, C4;
static double H5, L5, H4, L4, H3, L3, G6, G7, G8;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/* x rounded to bits significant bits, as a double. */
static double rn_bits(const mpfr_t x, mpfr_prec_t bits)
{
    mpfr_t r;
    mpfr_init2(r, bits);
    mpfr_set(r, x, MPFR_RNDN);
    const double d = mpfr_get_d(r, MPFR_RNDN);
    mpfr_clear(r);
    return d;
}

static void tab_init(void)
{
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    mpfr_t c, t, s;
    mpfr_inits2(400, c, t, s, (mpfr_ptr)0);
    mpfr_const_log2(c, MPFR_RNDN);
    mpfr_div_2ui(c, c, TBITS, MPFR_RNDN); /* C */
    mpfr_ui_div(t, 1, c, MPFR_RNDN);
    KS = mpfr_get_d(t, MPFR_RNDN);
    double *cs[] = {&C1, &C2, &C3};
    mpfr_set(t, c, MPFR_RNDN);
    for (int i = 0; i < 3; i++) {
        *cs[i] = rn_bits(t, 31);
        mpfr_sub_d(t, t, *cs[i], MPFR_RNDN); /* exact at 400 bits */
    }
    C4 = mpfr_get_d(t, MPFR_RNDN);
    /* 2^(j/4096) by repeated products at 400 bits (error <= 4096 2^-399: far below 2^-158). */
    mpfr_set_ui(s, 1, MPFR_RNDN);
    mpfr_set_ui(t, 1, MPFR_RNDN);
    mpfr_div_2ui(t, t, TBITS, MPFR_RNDN);
    mpfr_exp2(t, t, MPFR_RNDN); /* 2^(1/4096) */
    for (int j = 0; j < TSIZE; j++) {
        mpfr_set(c, s, MPFR_RNDN);
        TT[j].h = mpfr_get_d(c, MPFR_RNDN);
        mpfr_sub_d(c, c, TT[j].h, MPFR_RNDN);
        TT[j].m = mpfr_get_d(c, MPFR_RNDN);
        mpfr_sub_d(c, c, TT[j].m, MPFR_RNDN);
        TT[j].l = mpfr_get_d(c, MPFR_RNDN);
        TT[j].pad = 0.0;
        mpfr_mul(s, s, t, MPFR_RNDN);
    }
    static const unsigned long fact[] = {6, 24, 120, 720, 5040, 40320};
    double *hi[] = {&H3, &H4, &H5, &G6, &G7, &G8};
    double *lo[] = {&L3, &L4, &L5, NULL, NULL, NULL};
    for (int i = 0; i < 6; i++) {
        mpfr_set_ui(t, 1, MPFR_RNDN);
        mpfr_div_ui(t, t, fact[i], MPFR_RNDN);
        *hi[i] = mpfr_get_d(t, MPFR_RNDN);
        mpfr_sub_d(t, t, *hi[i], MPFR_RNDN);
        if (lo[i]) *lo[i] = mpfr_get_d(t, MPFR_RNDN);
    }
    mpfr_clears(c, t, s, (mpfr_ptr)0);
    mpfr_free_cache();
    lp_mpfr_leave(&ms);
}

/* The hot loop is written with GCC vector extensions, 8 lanes (lane l takes the terms i + l):
 * every lane performs exactly the scalar operations of steps (1) to (5) in the order written
 * (-ffp-contract=off; fma() one rounding, lane by lane), so the bits do not depend on the vector
 * width or the clone (AVX-512, AVX2+FMA, baseline with libm's fma). */
/* One double-double Horner step of (3): (H + L) + (rh + rm)(sh + sl). */
__attribute__((always_inline)) static inline void horner_dd(double H, double L, v8d rh, v8d rm,
                                                            v8d *sh, v8d *sl)
{
    const v8d ph = rh * *sh;
    const v8d pe = vfma(rm, *sh, vfma(rh, *sl, vfma(rh, *sh, -ph)));
    v8d nh, ne;
    vf2sum(V8(H), ph, &nh, &ne);
    *sl = (ne + pe) + L;
    *sh = nh;
}

/* exp(yh + yl), steps (2) to (4): *oh + *om + *ol ~ 2^(j/4096) exp(r), *sc = 2^e. */
__attribute__((always_inline)) static inline void exp_td(v8d yh, v8d yl, v8d y2, v8d *oh, v8d *om,
                                                         v8d *ol, v8d *sc)
{
    const v8d s = yh * KS + SHIFT;
    const v8d kd = s - SHIFT;
    const v8i kb = ((v8i)s - (long long)SHIFT_BITS) + ((long long)1 << 23); /* k + 2^23 > 0 */
    const v8i j = kb & (TSIZE - 1);
    const v8i eb = ((kb >> TBITS) - ((long long)1 << (23 - TBITS)) + 1023) << 52;
    *sc = (v8d)eb;
    /* (2) */
    const v8d s1 = yh - kd * C1; /* exact */
    v8d s2, e2, t1, f1, t2, f2, rh, g, rm, rl;
    v2sum(s1, -(kd * C2), &s2, &e2);
    v2sum(-(kd * C3), e2, &t1, &f1);
    v2sum(t1, yl, &t2, &f2);
    const v8d f = ((f1 + f2) + y2) - kd * C4;
    v2sum(s2, t2, &rh, &g);
    v2sum(g, f, &rm, &rl);
    /* (3) */
    const v8d w = vfma(vfma(V8(G8), rh, V8(G7)), rh, V8(G6));
    v8d qh, ql;
    {
        const v8d ph = rh * w, pe = vfma(rh, w, -ph);
        v8d ne;
        vf2sum(V8(H5), ph, &qh, &ne);
        ql = (ne + pe) + L5;
    }
    horner_dd(H4, L4, rh, rm, &qh, &ql);
    horner_dd(H3, L3, rh, rm, &qh, &ql);
    horner_dd(0.5, 0.0, rh, rm, &qh, &ql);
    const v8d r2h = rh * rh, r2l = vfma(rh + rh, rm, vfma(rh, rh, -r2h));
    const v8d ah = r2h * qh;
    const v8d al = vfma(r2l, qh, vfma(r2h, ql, vfma(r2h, qh, -ah)));
    v8d ph, a, pm, b;
    v2sum(rh, ah, &ph, &a);
    v2sum(a, rm, &pm, &b);
    const v8d pl = al + (b + rl);
    /* (4) */
    v8d th, tm, tl;
    for (int l = 0; l < LANES; l++) {
        th[l] = TT[j[l]].h;
        tm[l] = TT[j[l]].m;
        tl[l] = TT[j[l]].l;
    }
    const v8d x1 = th * ph, x2 = vfma(th, ph, -x1);
    const v8d x3 = th * pm, x4 = vfma(th, pm, -x3);
    const v8d x5 = tm * ph, x6 = vfma(tm, ph, -x5);
    const v8d x7 = vfma(th, pl, vfma(tm, pm, tl * ph));
    v8d eh, g1, m1, h1, m2, h2, m3, h3, m4, h4;
    vf2sum(th, x1, &eh, &g1);
    v2sum(tm, g1, &m1, &h1);
    v2sum(m1, x2, &m2, &h2);
    v2sum(m2, x3, &m3, &h3);
    v2sum(m3, x5, &m4, &h4);
    const v8d low = x7 + (((h1 + h2) + (h3 + h4)) + ((tl + x4) + x6));
    v8d c;
    vf2sum(eh, m4, oh, &c);
    v2sum(c, low, om, ol);
}

typedef struct td { double h, m, l; } td;

/* (5): a + b, both renormalised (or zero), renormalised. */
static inline td td_add(td a, td b)
{
    double s, e1, t, e2, t2, e3, h, x, m, l;
    lp_two_sum(a.h, b.h, &s, &e1);
    lp_two_sum(a.m, b.m, &t, &e2);
    lp_two_sum(t, e1, &t2, &e3);
    const double sl = ((a.l + b.l) + e2) + e3;
    lp_fast_two_sum(s, t2, &h, &x);
    lp_two_sum(x, sl, &m, &l);
    return (td){h, m, l};
}

/* Steps (1) to (5) on n (a multiple of LANES) widened logits: the block's sum, renormalised. */
__attribute__((always_inline)) static inline td block_body(const double *x, int n, double m,
                                                           double tau, int scaled,
                                                           int64_t *n_small, int64_t *n_max)
{
    v8d ah = V8(0.0), am = ah, al = ah;
    v8i cs = (v8i)V8(0.0), cm = cs;
    for (int i = 0; i < n; i += LANES) {
        v8d x0, yh, yl, q3 = V8(0.0);
        memcpy(&x0, x + i, sizeof x0);
        v2sum(x0, V8(-m), &yh, &yl);
        const v8i zero = yh == V8(0.0); /* before the division: a quotient may underflow */
        if (scaled) { /* (1''): (yh + yl)/tau = q + q2 + q3 (yh, yl replaced by q, q2) */
            const v8d q = yh / tau, r = vfma(-q, V8(tau), yh);
            v8d zh, zl;
            v2sum(r, yl, &zh, &zl);
            const v8d q2 = zh / tau, r2 = vfma(-q2, V8(tau), zh);
            q3 = (r2 + zl) / tau;
            yh = q;
            yl = q2;
        }
        const v8i small = ~(yh >= V8(SMALL));
        const v8d y0 = VSEL(small, V8(SMALL), yh), y1 = VSEL(small, V8(0.0), yl),
                  y2 = VSEL(small, V8(0.0), q3);
        v8d eh, em, el, sc;
        exp_td(y0, y1, y2, &eh, &em, &el, &sc);
        const v8i keep = ~(small | zero);
        eh = (v8d)((v8i)(eh * sc) & keep);
        em = (v8d)((v8i)(em * sc) & keep);
        el = (v8d)((v8i)(el * sc) & keep);
        v8d s, e1, t, e2, t2, e3;
        v2sum(ah, eh, &s, &e1);
        v2sum(am, em, &t, &e2);
        v2sum(t, e1, &t2, &e3);
        ah = s;
        am = t2;
        al = ((al + el) + e2) + e3;
        cs -= small;
        cm -= zero;
    }
    td v[LANES];
    for (int l = 0; l < LANES; l++) {
        double h, a, mm, lo;
        lp_fast_two_sum(ah[l], am[l], &h, &a);
        lp_two_sum(a, al[l], &mm, &lo);
        v[l] = (td){h, mm, lo};
        *n_small += cs[l];
        *n_max += cm[l];
    }
    for (int s = 1; s < LANES; s *= 2)
        for (int l = 0; l + s < LANES; l += 2 * s) v[l] = td_add(v[l], v[l + s]);
    return v[0];
}

LP_CLONES static td block_td(const double *x, int n, double m, int64_t *n_small, int64_t *n_max)
{
    return block_body(x, n, m, 1.0, 0, n_small, n_max);
}

LP_CLONES static td block_td_s(const double *x, int n, double m, double tau, int64_t *n_small,
                               int64_t *n_max)
{
    return block_body(x, n, m, tau, 1, n_small, n_max);
}

static void cascade(td *lev, unsigned *used, td b)
{
    int l = 0;
    while (*used & (1u << l)) {
        b = td_add(lev[l], b);
        *used &= ~(1u << l);
        l++;
    }
    lev[l] = b;
    *used |= 1u << l;
}

double lp_fast_exp_td(double y, double *mid, double *lo)
{
    pthread_once(&tab_once, tab_init);
    v8d yh = V8(y), h, m, l, sc;
    exp_td(yh, V8(0.0), V8(0.0), &h, &m, &l, &sc);
    *mid = m[0] * sc[0];
    *lo = l[0] * sc[0];
    return h[0] * sc[0];
}

#define E_T_NUM 9 /* E_T = 9 * 2^-130 */

int lp_fast_row_td(mpfr_t lo, mpfr_t hi, const void *row, lp_format fmt, int64_t V, int64_t label,
                   double tau)
{
    if (!(tau >= 0x1p-900 && tau <= 0x1p900) || V < 2 || V >= ((int64_t)1 << 31) || label < 0 ||
        label >= V)
        return 0;
    lp_fast_prepare(fmt);
    pthread_once(&tab_once, tab_init);
    int bad;
    const double m = lp_fast_row_max(row, fmt, V, &bad);
    if (bad || m == -HUGE_VAL) return 0;
    const double xy = lp_load_f64(row, fmt, (size_t)label);
    if (xy == -HUGE_VAL || !(fabs(m) < 0x1p1000) || !(fabs(xy) < 0x1p1000)) return 0;
    double buf[BLK3];
    td lev[LEVELS];
    unsigned used = 0;
    int64_t n_small = 0, n_max = 0;
    for (int64_t o = 0; o < V; o += BLK3) {
        const int n = V - o < BLK3 ? (int)(V - o) : BLK3;
        lp_fast_widen(buf, row, fmt, o, n);
        int np = n;
        while (np % LANES) buf[np++] = -HUGE_VAL; /* padding: a small term, uncounted below */
        n_small -= np - n;
        cascade(lev, &used, tau == 1.0 ? block_td(buf, np, m, &n_small, &n_max)
                                       : block_td_s(buf, np, m, tau, &n_small, &n_max));
    }
    td T = {0.0, 0.0, 0.0};
    for (int l = 0; l < LEVELS; l++)
        if (used & (1u << l)) T = td_add(T, lev[l]);
    /* Nothing kept and no tie: the exact zero, or every term below 2^-865: the Ziv loop's. */
    if (T.h == 0.0 && n_max <= 1) return 0;
    /* (5), (6) in MPFR. */
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    mpfr_t S, E, tl, th;
    mpfr_inits2(192, S, E, tl, th, (mpfr_ptr)0);
    mpfr_set_si(S, (long)(n_small + V + 65), MPFR_RNDU);
    mpfr_mul_2si(S, S, -865, MPFR_RNDU);
    mpfr_set_ui(E, E_T_NUM, MPFR_RNDU);
    mpfr_mul_2si(E, E, -130, MPFR_RNDU);
    const double parts[4] = {(double)(n_max - 1), T.h, T.m, T.l};
    mpfr_set_d(tl, parts[0], MPFR_RNDD);
    mpfr_set_d(th, parts[0], MPFR_RNDU);
    for (int i = 1; i < 4; i++) {
        mpfr_add_d(tl, tl, parts[i], MPFR_RNDD);
        mpfr_add_d(th, th, parts[i], MPFR_RNDU);
    }
    mpfr_sub(tl, tl, S, MPFR_RNDD);
    mpfr_add(th, th, S, MPFR_RNDU);
    /* lower end: (T^ - S)(1 - E_T), clamped at 0 */
    mpfr_ui_sub(S, 1, E, MPFR_RNDD);
    mpfr_mul(tl, tl, S, MPFR_RNDD);
    if (mpfr_sgn(tl) < 0) mpfr_set_zero(tl, 1);
    /* upper end: (T^ + S)(1 + 2 E_T) */
    mpfr_mul_2ui(E, E, 1, MPFR_RNDU);
    mpfr_add_ui(E, E, 1, MPFR_RNDU);
    mpfr_mul(th, th, E, MPFR_RNDU);
    mpfr_log1p(tl, tl, MPFR_RNDD); /* L_lo */
    mpfr_log1p(th, th, MPFR_RNDU); /* L_hi */
    mpfr_set_prec(lo, 2300);
    mpfr_set_prec(hi, 2300);
    mpfr_set_d(lo, xy, MPFR_RNDN);
    mpfr_sub_d(lo, lo, m, MPFR_RNDN); /* x_y - m, exact */
    mpfr_set(hi, lo, MPFR_RNDN);
    if (tau != 1.0) { /* D = (x_y - m)/tau, outward */
        mpfr_div_d(lo, lo, tau, MPFR_RNDD);
        mpfr_div_d(hi, hi, tau, MPFR_RNDU);
    }
    mpfr_sub(lo, lo, th, MPFR_RNDD); /* D - L_hi */
    mpfr_sub(hi, hi, tl, MPFR_RNDU); /* D - L_lo */
    mpfr_clears(S, E, tl, th, (mpfr_ptr)0);
    lp_mpfr_leave(&ms);
    return 1;
}
