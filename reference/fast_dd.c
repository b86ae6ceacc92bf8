/* reference/fast_dd.c: the certified fast path, tier 2 (issue 7): logp evaluated in
 * double-double with an a-priori error bound, about 2^-98 relative, from which the f64 rounding
 * (and f32/f16/bf16 where tier 1, fast.c, left them undecided) is decided; batch.c falls back to
 * the MPFR Ziv loop (ziv.c) when a rounding is still undecided.
 *
 * CONTRACT  lp_fast_row_dd: for a row with tau = 1, 2 <= V < 2^31, no NaN and no +inf, some finite
 *           logit, a finite label logit and |max|, |x_y| < 2^1000, returns an enclosure
 *           p + clo <= logp <= p + chi (logp the exact real of ziv.c). Otherwise returns 0.
 *           lp_fast_decide (fast.c) then decides RN_F for the wanted F from it: equal roundings of
 *           both ends are the rounding of logp (rounding is monotone), bit for bit the MPFR path's.
 *           The double-double output (LP_REF_DD, canonical: dd.lo = RN(x - hi64)) is never
 *           produced here: a 2^-98 enclosure cannot decide dd.lo; tier 3 (fast_td.c) does.
 *
 * NOTATION  as fast.c: u = 2^-53, RN, TwoSum (Knuth: s + e = a + b exactly, |e| <= u|s|, no
 *           overflow), Fast2Sum (same when |a| >= |b|), TwoProd (p = RN(ab), e = fma(a, b, -p):
 *           p + e = ab exactly when ab does not underflow, else |p + e - ab| <= 2^-1075). fma() is
 *           called explicitly (one rounding, whatever the ISA); -ffp-contract=off keeps every other
 *           product and sum as written, so the compiled clones (AVX2/FMA and baseline) give the
 *           same bits. The constants below are filled once by MPFR (tab_init), correctly rounded.
 *           TwoSum, Fast2Sum and step (5)'s addition are core/lp_dd.h's lp_two_sum,
 *           lp_fast_two_sum and lp_dd_add (their exactness conditions are stated there); the hot
 *           loop performs them on 8 lanes at once with reference/lp_vec8.h's v2sum, vf2sum and vfma
 *           (GCC vector extensions, target_clones: lane l takes the terms i + l; each lane the
 *           scalar operations as written, so every clone gives the bits of the scalar code).
 *
 * METHOD and ERROR (numbers are bounds, rounded up; u^2 = 2^-106)
 *   Row x_i (exact doubles), label y, m = max x_i, T = sum_{x_i < m} exp(x_i - m) + (n_max - 1),
 *   logp = D - log1p(T), D = x_y - m: the real of ziv.c (as in fast.c).
 *   (1) (yh, yl) = TwoSum(x_i, -m): x_i - m = yh + yl exactly, |yl| <= u |yh|. yh = 0 iff x_i = m
 *       (counted in n_max); yh < -700 ("small", -inf included): exp(x_i - m) < 2^-1009, left out and
 *       bounded by n_small 2^-1009 as in fast.c.
 *   (1'') tau != 1 (2^-900 <= tau <= 2^900): y = (yh + yl)/tau = q + q2 + q3 + eps with
 *       q = RN(yh/tau), r = fma(-q, tau, yh) = yh - q tau exactly (the remainder of a correctly
 *       rounded quotient is a double; an underflowing one errs by <= 2^-1075, 2^-175 in y),
 *       (zh, zl) = TwoSum(r, yl), q2 = RN(zh/tau), r2 = fma(-q2, tau, zh) likewise,
 *       q3 = RN(RN(r2 + zl)/tau): |q2| <= 2.01 u |q|, |q3| <= 4.1 u^2 |q|, |eps| <= 2.01 u |q3| +
 *       2^-174 < 2^-140. "Small" and the reduction use q (as yh) and q2 (as yl, now <= 2^-42.5);
 *       q3 enters the tail below (one more rounding, <= 2^-113): eta <= 2^-111.9 <= 0.016 u^2,
 *       so the bounds of (2) to (5) hold. D/tau is formed in MPFR (6). tau = 1 skips (1''): the
 *       lines below bit for bit.
 *   (2) exp(y), y = yh + yl, -700 <= yh < 0. C = ln2/256; C1 = RN_35(C), C2 = RN_35(C - C1),
 *       C3 = RN(C - C1 - C2): |C - C1| <= 2^-44, |C2| <= 2^-44, |C - C1 - C2| <= 2^-80,
 *       C4 = C - C1 - C2 - C3, |C4| <= 2^-133. KS = RN(256/ln2).
 *       s = RN(RN(yh KS) + 0x1.8p52): k = s - 0x1.8p52 is the integer nearest RN(yh KS) (ulp 1
 *       there), |RN(yh KS) - yh/C| <= 258530 * 2u < 2^-34, so |yh - kC| <= C(1/2 + 2^-34) and
 *       |k| <= 258531 < 2^18; k = 256 e + j, 0 <= j < 256. exp(y) = 2^e 2^(j/256) exp(r), r = y - kC.
 *       k C1, k C2 are exact (18 + 35 bits). (s1, e1) = TwoSum(yh, -k C1), (s2, e2) = TwoSum(s1,
 *       -k C2), (s3, e3) = TwoSum(s2, yl), all exact; |s1|, |s2|, |s3| <= 0.00137 (|yh - kC| <=
 *       0.0013539, |k (C - C1)| <= 2^-26, |yl| <= 2^-43.5), so |e1|, |e2|, |e3| <= 2^-62.5.
 *       p3 = RN(k C3): |k C3| <= 2^-62, error <= 2^-115. tail = RN(RN(RN(RN(e1 + e2) + e3) + q3)
 *       - p3) (q3 = 0 for tau = 1): roundings of values <= 2^-60: error <= 2^-114.5 + 2^-114 +
 *       2^-113 (+ 2^-113 with q3). |k C4| <= 2^-115.
 *       (h, rl) = TwoSum(s3, tail). So r = h + rl + eta, |eta| <= 2^-112.8 <= 0.01 u^2 (0.016 u^2
 *       for tau != 1, (1''));
 *       |h| <= rho := 0.001355, |rl| <= u |h| <= 2^-62.5.
 *       exp(r) = exp(h) (1 + rl + th1) exp(eta), |th1| <= rl^2 <= 2^-125.
 *   (3) exp(h) = P(h) + R, P = sum_{i=0}^{9} h^i/i!, |R| <= rho^10/10! e^rho <= 2^-117.
 *       g^ = Horner with fma of G5 + h (G6 + h (G7 + h (G8 + h G9))), G_j = RN(1/j!): 4 roundings
 *       and the coefficients' u: |g^ - sum_{j=5}^{9} h^(j-5)/j!| <= 5.01 u (1/120)(1 + rho) <=
 *       0.0419 u, times |h|^5 <= 2^-47.6: <= 1.75 u^2.
 *       Compensated Horner (Graillat, Langlois, Louvet 2009) for i = 4..0, with a_i = AH_i + AL_i
 *       (double-double 1/i!: AH = RN(1/i!), AL = RN(1/i! - AH), |a_i - AH_i - AL_i| <= u^2/i!):
 *         (p_i, pi_i) = TwoProd(s_{i+1}, h), (s_i, sg_i) = Fast2Sum(AH_i, p_i) (|p_i| <= 0.0014
 *         |s_{i+1}| < AH_i by the bounds below: exact, the very pair TwoSum(p_i, AH_i) gives),
 *         c_i = fma(c_{i+1}, h, RN(RN(pi_i + sg_i) + AL_i)), s_5 = g^, c_5 = 0.
 *       Exactly s_i = s_{i+1} h + AH_i - pi_i - sg_i, so P(h) - s_0 = sum_{i<5} (pi_i + sg_i + AL_i +
 *       alpha_i) h^i + (g - g^) h^5. |s_4| <= 0.0418, |s_3| <= 0.1668, |s_2| <= 0.5003,
 *       |s_1| <= 1.0007, |s_0| <= 1.0014; |pi_i| <= u |p_i| <= 0.00136 u |s_{i+1}|, |sg_i| <= u|s_i|,
 *       |AL_3| <= 2^-56, |AL_4| <= 2^-58: the exact correction has |w_0| <= 1.003 u, |w_i| <= 1.002 u,
 *       and its Horner evaluation in double errs by at most u|c_0| (<= 1.005 u^2) + 2.0001 u |w_0|
 *       (<= 2.007 u^2) + rho (...) <= 3.1 u^2. Sum: |P(h) - (s_0 + c_0)| <= 3.1 + 1.75 + 0.01
 *       (alpha, R) <= 4.9 u^2, relative (exp(h) >= 0.99864) <= 4.91 u^2.
 *   (4) Table: TH_j + TL_j = 2^(j/256) within u^2 relative (TH = RN, TL = RN of the rest).
 *       (fh, f1) = TwoProd(TH, s_0); c' = RN(c_0 + RN(s_0 rl)) (error <= 1.013 u^2);
 *       fl = RN(f1 + RN(RN(TH c') + RN(TL s_0))), |f1| <= 2.004u, |TH c'| <= 2.02u, |TL s_0| <=
 *       1.002u: errors 2.026 (TH times c's) + 2.02 + 1.002 + 3.03 + 5.04 u^2; dropped TL c_0 and the
 *       rl cross terms <= 1.01 u^2: |fh + fl - (TH + TL)(s_0 + c_0)(1 + rl)| <= 14.2 u^2 of it.
 *       (vh, vl) = Fast2Sum(fh, fl) (exact, |vl| <= u vh). t^ = (vh 2^e, vl 2^e): exact, but for a
 *       subnormal vl 2^e (e >= -1010): <= 2^-1075 absolute.
 *       Per term: t^ = exp(y) (1 + th), |th| <= (1 + u^2)(1 + 4.91u^2)(1 + 14.2u^2)(1 + 0.02u^2) - 1
 *       <= E_t := 20.2 u^2, plus 2^-1073 absolute (the fma/TwoProd underflow of tiny h included).
 *   (5) Sum. Every addition of two non-negative double-doubles (ah, al) + (bh, bl), |al| <= u ah,
 *       |bl| <= u bh, is (s, e) = TwoSum(ah, bh), l = RN(RN(al + bl) + e), Fast2Sum(s, l): the
 *       result is (ah + al + bh + bl)(1 + d), |d| <= delta := 3.0002 u^2 (the two roundings err by at
 *       most u|al + bl| + u(2 + u)u(ah + bh)), plus 2^-1074 absolute (subnormal low parts), and
 *       again |l'| <= u h'. Blocks of 256 terms go to 8 lanes of 32 (one addition per term), lanes
 *       are added pairwise (3 levels), block sums by a binary counter (a block sum meets at most
 *       24 additions for < 2^23 blocks), and n_max - 1 last: every term meets at most 60
 *       additions, so T^ = sum t^_i (1 + th'_i), |th'_i| <= (1 + delta)^60 - 1 <= 180.1 u^2.
 *       With E_t: |T^ - T_big| <= E_T T_big + A, E_T := 201 u^2 (2^-98.3; 204 u^2 for (5')),
 *       T_big the sum of the
 *       kept terms, A <= (V + 64) 2^-1072 (every absolute error above); T - T_big <= n_small
 *       2^-1009. With S = (n_small + V + 65) 2^-1009 >= both:
 *       T in [max(0, (T^ - S)(1 - E_T)), (T^ + 2S)(1 + 2 E_T)]  (1/(1 - E) <= 1 + 2E).
 *   (5') Histogram path (bf16, f16, V >= lp_fast_hist_min_v; fast.c step 3'): the terms are
 *       c_b exp(v_b - m) over the distinct patterns b, c_b the count (exact, < 2^31). The term's
 *       (th, tl) times c: (ph, pl) = TwoProd(c, th) (exact: c th >= 2^-1011), then Fast2Sum(ph,
 *       RN(pl + RN(c tl))): errors u |c tl| <= u^2 c th and u |pl + c tl| <= 2.0001 u^2 c th:
 *       E_t becomes (1 + 20.2 u^2)(1 + 3.01 u^2) - 1 <= 23.3 u^2; small terms and ties are
 *       counted with their counts; at most 256 blocks. E_T = 23.3 + 180.1 <= 204 u^2, used for
 *       both paths.
 *   (6) The ends are formed in MPFR at 160 bits with outward (directed) roundings, log1p of each
 *       (MPFR, correctly rounded RNDD / RNDU: log1p is increasing), then D - L_hi and D - L_lo
 *       exactly (2300 bits: D = x_y - m and L's bits fit). f64 is decided from these exact ends
 *       (r64: mpfr_get_d RNDN of both, equal, normal range); the f32/f16/bf16 roundings from the
 *       pair p = RN(lo), clo, chi (the MPFR differences lo - p RNDD and hi - p RNDU, rounded
 *       outward to double): p + clo <= logp <= p + chi. A logp just below an f64 midpoint D (a
 *       difference of f64 logits with an isolated max) stays decidable that way.
 *       This per-row MPFR step costs a few microseconds; the sum over V terms is the work.
 *   TOTAL   relative width of L about 2 E_T = 2^-97.3 (plus S), of logp at most that (D and L have
 *   one sign, logp = D - L). f64 is undecided only when logp lies within about 2^-97 |logp| of an
 *   f64 rounding boundary: of the order of 2^-44 of the tokens; such rows go to MPFR (counted).
 *   EVIDENCE  tests/t_fast.c: the exp kernel against MPFR within 20.2 u^2; fast == MPFR bit for bit
 *           with f64 wanted on the corpus and random rows; a constructed near-f64-midpoint row falls
 *           back. fuzz/fz_fast.c wants f64 in one case of four.
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

#define BLK2 256
#define LANES 8
#define SMALL (-700.0)
#define SHIFT 0x1.8p52
#define SHIFT_BITS 0x4338000000000000ull
#define E_T_U2 204.0 /* E_T in units of u^2 (201 suffices without (5')) */
#define LEVELS 26

static double TH[256], TL[256];
static double KS, C1, C2, C3;
static double A3H, A3L, A4H, A4L;
static double G5, G6, G7, G8, G9;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    mpfr_t c, t, r;
    mpfr_inits2(400, c, t, (mpfr_ptr)0);
    mpfr_init2(r, 35);
    mpfr_const_log2(c, MPFR_RNDN);
    mpfr_div_2ui(c, c, 8, MPFR_RNDN);
    mpfr_set(r, c, MPFR_RNDN);
    C1 = mpfr_get_d(r, MPFR_RNDN);
    mpfr_sub(t, c, r, MPFR_RNDN);
    mpfr_set(r, t, MPFR_RNDN);
    C2 = mpfr_get_d(r, MPFR_RNDN);
    mpfr_sub(t, t, r, MPFR_RNDN);
    C3 = mpfr_get_d(t, MPFR_RNDN);
    mpfr_ui_div(t, 1, c, MPFR_RNDN);
    KS = mpfr_get_d(t, MPFR_RNDN);
    for (int j = 0; j < 256; j++) {
        mpfr_set_ui(t, (unsigned long)j, MPFR_RNDN);
        mpfr_div_2ui(t, t, 8, MPFR_RNDN);
        mpfr_exp2(t, t, MPFR_RNDN);
        TH[j] = mpfr_get_d(t, MPFR_RNDN);
        mpfr_sub_d(t, t, TH[j], MPFR_RNDN);
        TL[j] = mpfr_get_d(t, MPFR_RNDN);
    }
    static const unsigned long fact[] = {6, 24, 120, 720, 5040, 40320, 362880};
    double *hi[] = {&A3H, &A4H, &G5, &G6, &G7, &G8, &G9};
    for (int i = 0; i < 7; i++) {
        mpfr_set_ui(t, 1, MPFR_RNDN);
        mpfr_div_ui(t, t, fact[i], MPFR_RNDN);
        *hi[i] = mpfr_get_d(t, MPFR_RNDN);
        mpfr_sub_d(t, t, *hi[i], MPFR_RNDN);
        if (i == 0) A3L = mpfr_get_d(t, MPFR_RNDN);
        if (i == 1) A4L = mpfr_get_d(t, MPFR_RNDN);
    }
    mpfr_clears(c, t, r, (mpfr_ptr)0);
    mpfr_free_cache();
    lp_mpfr_leave(&ms);
}

/* exp(y0 + y1 + y2), steps (2) to (4), unscaled, on 8 lanes (lp_vec8.h: each lane performs the
 * scalar operations as written): (vh, vl) ~ 2^(j/256) exp(r), *sc = 2^e. */
__attribute__((always_inline)) static inline void exp_dd(v8d y0, v8d y1, v8d y2, v8d *vh, v8d *vl,
                                                         v8d *scale)
{
    const v8d s = y0 * KS + SHIFT;
    const v8d kd = s - SHIFT;
    const v8i kb = ((v8i)s - (long long)SHIFT_BITS) + ((long long)1 << 20); /* k + 2^20 > 0 */
    const v8i j = kb & 255;
    *scale = (v8d)((((kb >> 8) - ((long long)1 << 12)) + 1023) << 52);
    v8d s1, e1, s2, e2, s3, e3, h, rl;
    v2sum(y0, -(kd * C1), &s1, &e1);
    v2sum(s1, -(kd * C2), &s2, &e2);
    v2sum(s2, y1, &s3, &e3);
    const v8d tail = (((e1 + e2) + e3) + y2) - kd * C3;
    v2sum(s3, tail, &h, &rl);
    /* (3) */
    const v8d g = vfma(vfma(vfma(vfma(V8(G9), h, V8(G8)), h, V8(G7)), h, V8(G6)), h, V8(G5));
    v8d p, pi, sg, sn, c;
    p = g * h; pi = vfma(g, h, -p);
    vf2sum(V8(A4H), p, &sn, &sg);
    c = (pi + sg) + A4L;
    v8d sc = sn;
    p = sc * h; pi = vfma(sc, h, -p);
    vf2sum(V8(A3H), p, &sn, &sg);
    c = vfma(c, h, (pi + sg) + A3L);
    sc = sn;
    p = sc * h; pi = vfma(sc, h, -p);
    vf2sum(V8(0.5), p, &sn, &sg);
    c = vfma(c, h, (pi + sg) + 0.0);
    sc = sn;
    p = sc * h; pi = vfma(sc, h, -p);
    vf2sum(V8(1.0), p, &sn, &sg);
    c = vfma(c, h, (pi + sg) + 0.0);
    sc = sn;
    p = sc * h; pi = vfma(sc, h, -p);
    vf2sum(V8(1.0), p, &sn, &sg);
    c = vfma(c, h, (pi + sg) + 0.0);
    /* (4) */
    v8d th, tl;
    for (int l = 0; l < LANES; l++) {
        th[l] = TH[j[l]];
        tl[l] = TL[j[l]];
    }
    const v8d fh = th * sn, f1 = vfma(th, sn, -fh);
    const v8d cp = c + sn * rl;
    const v8d fl = f1 + (th * cp + tl * sn);
    vf2sum(fh, fl, vh, vl);
}

/* Steps (1) to (5) on n (a multiple of LANES) widened logits: returns the block's sum. With w
 * (the histogram path, (5')): x holds distinct values, w their counts, each term times its count.
 * 8 lanes in one vector (lp_vec8.h): lane l takes the terms i + l, as the scalar lanes did. */
__attribute__((always_inline)) static inline lp_dd block_body(const double *x, const double *w,
                                                              int n, double m, double tau,
                                                              int scaled, int64_t *n_small,
                                                              int64_t *n_max)
{
    v8d ah = V8(0.0), al = ah, cs = ah, cm = ah; /* counts: of the histogram path (doubles) */
    v8i csi = (v8i)ah, cmi = csi;                  /* counts: one per term */
    for (int i = 0; i < n; i += LANES) {
        v8d x0, yh, yl;
        memcpy(&x0, x + i, sizeof x0);
        v2sum(x0, V8(-m), &yh, &yl);
        const v8i zero = yh == V8(0.0);
        v8d q = yh, q2 = yl, q3 = V8(0.0);
        if (scaled) { /* (1''): (yh + yl)/tau = q + q2 + q3 */
            q = yh / tau;
            const v8d r = vfma(-q, V8(tau), yh);
            v8d zh, zl;
            v2sum(r, yl, &zh, &zl);
            q2 = zh / tau;
            const v8d r2 = vfma(-q2, V8(tau), zh);
            q3 = (r2 + zl) / tau;
        }
        const v8i small = ~(q >= V8(SMALL));
        /* small lanes: SMALL, 0, 0 (a lane loop and masks: what the vectoriser keeps vector) */
        v8d y0;
        for (int l = 0; l < LANES; l++) y0[l] = q[l] >= SMALL ? q[l] : SMALL;
        const v8d y1 = (v8d)((v8i)q2 & ~small), y2 = (v8d)((v8i)q3 & ~small);
        v8d vh, vl, sc;
        exp_dd(y0, y1, y2, &vh, &vl, &sc);
        const v8i keep = ~(small | zero);
        v8d th = (v8d)((v8i)(vh * sc) & keep), tl = (v8d)((v8i)(vl * sc) & keep);
        if (w) { /* (5'): (th, tl) times the count c: TwoProd, c tl, Fast2Sum */
            v8d c;
            memcpy(&c, w + i, sizeof c);
            const v8d ph = c * th, pl = vfma(c, th, -ph);
            vf2sum(ph, pl + c * tl, &th, &tl);
            cs += (v8d)((v8i)c & small);
            cm += (v8d)((v8i)c & zero);
        } else {
            csi -= small;
            cmi -= zero;
        }
        v8d s, e; /* step (5): lp_dd_add((ah, al), (th, tl)) */
        v2sum(ah, th, &s, &e);
        vf2sum(s, (al + tl) + e, &ah, &al);
    }
    lp_dd v[LANES];
    for (int l = 0; l < LANES; l++) {
        v[l].hi = ah[l];
        v[l].lo = al[l];
        *n_small += (int64_t)cs[l] + csi[l];
        *n_max += (int64_t)cm[l] + cmi[l];
    }
    for (int s = 1; s < LANES; s *= 2)
        for (int l = 0; l + s < LANES; l += 2 * s) v[l] = lp_dd_add(v[l], v[l + s]);
    return v[0];
}

LP_CLONES static lp_dd block_dd(const double *x, int n, double m, double tau, int64_t *n_small,
                                int64_t *n_max)
{
    if (tau == 1.0) return block_body(x, NULL, n, m, 1.0, 0, n_small, n_max);
    return block_body(x, NULL, n, m, tau, 1, n_small, n_max);
}

LP_CLONES static lp_dd block_dd_w(const double *x, const double *w, int n, double m, double tau,
                                  int64_t *n_small, int64_t *n_max)
{
    if (tau == 1.0) return block_body(x, w, n, m, 1.0, 0, n_small, n_max);
    return block_body(x, w, n, m, tau, 1, n_small, n_max);
}

/* The binary counter of step (5): adds block sum b at level 0, carrying. */
static void cascade(lp_dd *lev, unsigned *used, lp_dd b)
{
    int l = 0;
    while (*used & (1u << l)) {
        b = lp_dd_add(lev[l], b);
        *used &= ~(1u << l);
        l++;
    }
    lev[l] = b;
    *used |= 1u << l;
}

double lp_fast_exp_dd(double y, double *lo)
{
    pthread_once(&tab_once, tab_init);
    v8d vh, vl, sc;
    exp_dd(V8(y), V8(0.0), V8(0.0), &vh, &vl, &sc);
    *lo = vl[0] * sc[0];
    return vh[0] * sc[0];
}

/* For the gradient (grad_fast.c): steps (1), (1'') and (2) to (4) term by term, on n (a multiple of
 * LANES) widened logits, as block_body forms its terms (the same operations, before the sum):
 * eh[i] + el[i] = exp((x_i - m)/tau) (1 + th), |th| <= E_t = 20.2 u^2, plus 2^-1073 absolute,
 * |el[i]| <= u eh[i], where q_i >= -700 (q_i = (1'')'s q, x_i - m's TwoSum head for tau = 1);
 * (0, 0) and small[i] = 1 where q_i < -700 (-inf included: exp((x_i - m)/tau) < 2^-1009 there,
 * step (1)); (1, 0) where x_i = m. Domain of lp_fast_row_dd: tau in [2^-900, 2^900], |m| < 2^1000,
 * no NaN or +inf. */
LP_CLONES void lp_fast_exp_terms(const double *x, int n, double m, double tau, double *eh,
                                 double *el, unsigned char *small)
{
    pthread_once(&tab_once, tab_init);
    const int scaled = tau != 1.0;
    for (int i = 0; i < n; i += LANES) {
        v8d x0, yh, yl;
        memcpy(&x0, x + i, sizeof x0);
        v2sum(x0, V8(-m), &yh, &yl);
        const v8i zero = yh == V8(0.0);
        v8d q = yh, q2 = yl, q3 = V8(0.0);
        if (scaled) {
            q = yh / tau;
            const v8d r = vfma(-q, V8(tau), yh);
            v8d zh, zl;
            v2sum(r, yl, &zh, &zl);
            q2 = zh / tau;
            const v8d r2 = vfma(-q2, V8(tau), zh);
            q3 = (r2 + zl) / tau;
        }
        const v8i sm = ~(q >= V8(SMALL));
        v8d y0;
        for (int l = 0; l < LANES; l++) y0[l] = q[l] >= SMALL ? q[l] : SMALL;
        const v8d y1 = (v8d)((v8i)q2 & ~sm), y2 = (v8d)((v8i)q3 & ~sm);
        v8d vh, vl, sc;
        exp_dd(y0, y1, y2, &vh, &vl, &sc);
        const v8d th = VSEL(zero, V8(1.0), (v8d)((v8i)(vh * sc) & ~sm));
        const v8d tl = (v8d)((v8i)(vl * sc) & ~(sm | zero));
        memcpy(eh + i, &th, sizeof th);
        memcpy(el + i, &tl, sizeof tl);
        for (int l = 0; l < LANES; l++) small[i + l] = sm[l] != 0;
    }
}

/* p, clo, chi from an MPFR enclosure [lo, hi] (finite): p = RN(lo), clo <= lo - p, chi >= hi - p. */
void lp_fast_enc_mpfr(lp_fast_enc *out, const mpfr_t lo, const mpfr_t hi)
{
    mpfr_t d;
    mpfr_prec_t pr = mpfr_get_prec(lo) > mpfr_get_prec(hi) ? mpfr_get_prec(lo) : mpfr_get_prec(hi);
    mpfr_init2(d, pr + 64);
    const double p = mpfr_get_d(lo, MPFR_RNDN);
    mpfr_sub_d(d, lo, p, MPFR_RNDD);
    out->clo = mpfr_get_d(d, MPFR_RNDD);
    mpfr_sub_d(d, hi, p, MPFR_RNDU);
    out->chi = mpfr_get_d(d, MPFR_RNDU);
    mpfr_clear(d);
    out->p = p;
    out->lo = nextafter(p + out->clo, -HUGE_VAL);
    out->hi = nextafter(p + out->chi, HUGE_VAL);
    /* mpfr_get_d(RNDN) is the correct rounding to double; kept to the normal range. */
    const double a = mpfr_get_d(lo, MPFR_RNDN), b = mpfr_get_d(hi, MPFR_RNDN);
    out->r64 = lp_bits_f64(a) == lp_bits_f64(b) && fabs(a) >= 0x1p-1021 && fabs(a) <= 0x1p1023
                   ? a : __builtin_nan("");
}

int lp_fast_row_dd(lp_fast_enc *out, const void *row, lp_format fmt, int64_t V, int64_t label,
                   double tau)
{
    if (!(tau >= 0x1p-900 && tau <= 0x1p900) || V < 2 || V >= ((int64_t)1 << 31) || label < 0 ||
        label >= V)
        return 0;
    lp_fast_prepare(fmt);
    pthread_once(&tab_once, tab_init);
    double buf[BLK2];
    lp_dd lev[LEVELS];
    unsigned used = 0;
    int64_t n_small = 0, n_max = 0;
    double m;
    if ((fmt == LP_BF16 || fmt == LP_F16) && V >= lp_fast_hist_min_v) { /* (5') */
        uint32_t cnt[65536];
        double w[BLK2];
        if (!lp_fast_hist16(cnt, row, fmt, V, &m)) return 0;
        int n = 0;
        for (unsigned b = 0; b <= 0xffffu; b++) {
            if (!cnt[b]) continue;
            buf[n] = lp_load_f64(&(uint16_t){(uint16_t)b}, fmt, 0);
            w[n++] = (double)cnt[b];
            if (n == BLK2) {
                while (n % LANES) { /* padding: count 0 */
                    buf[n] = -HUGE_VAL;
                    w[n++] = 0.0;
                }
                cascade(lev, &used, block_dd_w(buf, w, n, m, tau, &n_small, &n_max));
                n = 0;
            }
        }
        if (n) {
            while (n % LANES) {
                buf[n] = -HUGE_VAL;
                w[n++] = 0.0;
            }
            cascade(lev, &used, block_dd_w(buf, w, n, m, tau, &n_small, &n_max));
        }
    } else {
        int bad;
        m = lp_fast_row_max(row, fmt, V, &bad);
        if (bad || m == -HUGE_VAL) return 0;
        for (int64_t o = 0; o < V; o += BLK2) {
            const int n = V - o < BLK2 ? (int)(V - o) : BLK2;
            lp_fast_widen(buf, row, fmt, o, n);
            int np = n;
            while (np % LANES) buf[np++] = -HUGE_VAL; /* padding: a small term, uncounted below */
            n_small -= np - n;
            cascade(lev, &used, block_dd(buf, np, m, tau, &n_small, &n_max));
        }
    }
    const double xy = lp_load_f64(row, fmt, (size_t)label);
    if (xy == -HUGE_VAL || !(fabs(m) < 0x1p1000) || !(fabs(xy) < 0x1p1000)) return 0;
    lp_dd T = {0.0, 0.0};
    for (int l = 0; l < LEVELS; l++)
        if (used & (1u << l)) T = lp_dd_add(T, lev[l]);
    const lp_dd nm = {(double)(n_max - 1), 0.0};
    T = lp_dd_add(T, nm);
    /* (5), (6) in MPFR: 160 bits, outward. */
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    mpfr_t S, tl, th, a, b;
    mpfr_inits2(160, S, tl, th, a, b, (mpfr_ptr)0);
    mpfr_set_si(S, (long)(n_small + V + 65), MPFR_RNDU);
    mpfr_mul_2si(S, S, -1009, MPFR_RNDU);
    mpfr_set_d(a, 1.0, MPFR_RNDN);
    mpfr_set_d(b, E_T_U2, MPFR_RNDN);
    mpfr_mul_2si(b, b, -106, MPFR_RNDU); /* E_T */
    /* lower end */
    mpfr_set_d(tl, T.hi, MPFR_RNDD);
    mpfr_add_d(tl, tl, T.lo, MPFR_RNDD);
    mpfr_sub(tl, tl, S, MPFR_RNDD);
    mpfr_sub(a, a, b, MPFR_RNDD); /* 1 - E_T */
    mpfr_mul(tl, tl, a, MPFR_RNDD);
    if (mpfr_sgn(tl) < 0) mpfr_set_zero(tl, 1);
    /* upper end */
    mpfr_set_d(th, T.hi, MPFR_RNDU);
    mpfr_add_d(th, th, T.lo, MPFR_RNDU);
    mpfr_add(th, th, S, MPFR_RNDU);
    mpfr_add(th, th, S, MPFR_RNDU);
    mpfr_mul_2ui(b, b, 1, MPFR_RNDU);
    mpfr_add_ui(b, b, 1, MPFR_RNDU); /* 1 + 2 E_T */
    mpfr_mul(th, th, b, MPFR_RNDU);
    mpfr_log1p(tl, tl, MPFR_RNDD); /* L_lo */
    mpfr_log1p(th, th, MPFR_RNDU); /* L_hi */
    /* D = x_y - m exactly (|x_y|, |m| < 2^1000: at most 2100 bits), and D - L exactly too (L's
     * 160 bits end above 2^-1163): 2300 bits, so that a logp just below a midpoint D stays below. */
    mpfr_set_prec(a, 2300);
    mpfr_set_prec(b, 2300);
    mpfr_set_d(a, xy, MPFR_RNDN);
    mpfr_sub_d(a, a, m, MPFR_RNDD);
    if (tau != 1.0) mpfr_div_d(a, a, tau, MPFR_RNDD); /* D/tau, outward (tau > 0) */
    mpfr_sub(a, a, th, MPFR_RNDD); /* lo = D - L_hi */
    mpfr_set_d(b, xy, MPFR_RNDN);
    mpfr_sub_d(b, b, m, MPFR_RNDU);
    if (tau != 1.0) mpfr_div_d(b, b, tau, MPFR_RNDU);
    mpfr_sub(b, b, tl, MPFR_RNDU); /* hi = D - L_lo */
    lp_fast_enc_mpfr(out, a, b);
    mpfr_clears(S, tl, th, a, b, (mpfr_ptr)0);
    lp_mpfr_leave(&ms);
    return 1;
}

/* The sum (divided by n when n > 1) of k enclosures p_i + [clo_i, chi_i] (triples at stride 3):
 * MPFR sums of the lower and upper ends (mpfr_sum, one directed rounding at 256 bits), the
 * divisions outward, as a pair. */
int lp_fast_sum_pairs(lp_fast_enc *out, const double *trip, int64_t k, int64_t n)
{
    mpfr_t *v = malloc((size_t)(2 * (k ? k : 1)) * sizeof *v);
    mpfr_ptr *pv = malloc((size_t)(2 * (k ? k : 1)) * sizeof *pv);
    if (!v || !pv) {
        free(v);
        free(pv);
        return 0;
    }
    lp_mpfr_state ms;
    lp_mpfr_enter(&ms);
    mpfr_t lo, hi;
    mpfr_inits2(256, lo, hi, (mpfr_ptr)0);
    for (int64_t i = 0; i < 2 * k; i++) {
        mpfr_init2(v[i], 53);
        pv[i] = v[i];
    }
    int ok = 1;
    for (int end = 0; end < 2; end++) {
        for (int64_t i = 0; i < k; i++) {
            mpfr_set_d(v[2 * i], trip[3 * i], MPFR_RNDN);
            mpfr_set_d(v[2 * i + 1], trip[3 * i + 1 + end], MPFR_RNDN);
            ok &= isfinite(trip[3 * i]) && isfinite(trip[3 * i + 1 + end]);
        }
        mpfr_ptr r = end ? hi : lo;
        mpfr_sum(r, pv, (unsigned long)(2 * k), end ? MPFR_RNDU : MPFR_RNDD);
        if (n > 1) mpfr_div_ui(r, r, (unsigned long)n, end ? MPFR_RNDU : MPFR_RNDD);
    }
    ok &= mpfr_number_p(lo) && mpfr_number_p(hi) && fabs(mpfr_get_d(lo, MPFR_RNDN)) < 0x1p1020;
    if (ok) lp_fast_enc_mpfr(out, lo, hi);
    for (int64_t i = 0; i < 2 * k; i++) mpfr_clear(v[i]);
    mpfr_clears(lo, hi, (mpfr_ptr)0);
    lp_mpfr_leave(&ms);
    free(v);
    free(pv);
    return ok;
}
