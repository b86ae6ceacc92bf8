/* impl/twopass.c: log-softmax gather by max shift, then a sum of exp (the common framework kernel:
 * PyTorch's log_softmax + gather; for f16/bf16 inputs PyTorch computes in f32 and returns the
 * input dtype, which is twopass_<half>_acc32).
 * CONTRACT  logp = (z_y - m) - log(sum_i exp(z_i - m)), z the tempered row, m = max z, the sum left
 *           to right in index order. Special values as SPEC A3 (inf_row "nan": m = +inf makes
 *           +inf - inf = NaN; m = -inf makes every z_i - m NaN; a -inf label gives -inf). On finite
 *           rows |logp_hat - logp| <= TOTAL below, wherever the tempered logits and the sum are
 *           finite (the domain: |x_i|/tau below the largest finite value of acc, and
 *           n (1 + eps_exp)(1 + u)^(n-1) below it: n < ~5000 for f16_acc16).
 * FORMATS   f64, f32; f16/bf16 with f32 accumulation (_acc32, result rounded to the half format)
 *           and with half accumulation (_acc16, every operation rounded, lp_impl_internal.h).
 * ERROR     u = 2^-p of acc; n = number of finite logits (a -inf logit adds exp(-inf) = +0: exact);
 *           d_i = z_i - m <= 0; S = sum_i e^(d_i) >= 1 (the max contributes exactly 1);
 *           L = log S <= ln n; D = |d_y|; P = |logp| = D + L. Constants eps_*, alpha_* as arith.c.
 *   (1) m = max z: exact. The max term: d_j = 0, EXP(0) = 1 exactly (tests/t_impl_libm.c).
 *   (2) d_hat_i = RN(z_i - m) = d_i (1 + delta_i), |delta_i| <= u (a subnormal difference is exact).
 *   (3) e_hat_i = EXP(d_hat_i) = e^(d_hat_i)(1 + eta_i) + beta_i, |eta_i| <= eps_exp,
 *       |beta_i| <= alpha_exp. The input error moves e^(d_i) by the factor e^(d_i delta_i) in
 *       [e^(-u|d_i|), e^(u|d_i|)], and, weighted by the terms themselves,
 *         sum_i e^(d_i) (e^(u|d_i|) - 1) <= u sum_i |d_i| e^((1-u) d_i) <= u G S,
 *         G = n^u ln n / (1 - u)
 *       (with q = softmax((1-u) d): sum_i q_i |(1-u) d_i| = H(q) + log q_max <= ln n, and
 *       sum_i e^((1-u) d_i) <= n^u S^(1-u) <= n^u S by the power-mean inequality); on the other side
 *       sum_i e^(d_i) (1 - e^(-u|d_i|)) <= u S sum_i p_i |d_i| <= u S ln n.
 *   (4) S_hat = left-to-right sum: every term passes through at most n - 1 roundings, so
 *       S_hat = sum_i e_hat_i theta_i with theta_i in [(1-u)^(n-1), (1+u)^(n-1)] (valid for any n:
 *       no n u < 1 needed, which matters for bf16_acc16). Partial sums of non-negative terms never
 *       decrease under RN, so S_hat >= e_hat_j = 1.
 *   (5) Together (lp_shifted_sum_logerr, with r = 0 rescales):
 *         log(S_hat/S) <= log(1 + eps_exp) + (n-1) log(1 + u) + log(1 + u G) + log(1 + A)
 *         log(S/S_hat) <= min(L, -log(1 - eps_exp) - (n-1) log(1 - u) - log(1 - u ln n) - ...A)
 *       A = (1+u)^(n-1)(1+eps_exp)(1+uG) (n-1) alpha_exp (the subnormal betas, S >= 1); the min:
 *       S_hat >= 1 so log(S/S_hat) <= log S = L. Call this dL.
 *   (6) L_hat = LOG(S_hat): S_hat >= 1, so L_hat >= 0 is normal or 0:
 *       |L_hat - L| <= dL + eps_log (L + dL).
 *   (7) logp_hat = RN(d_hat_y - L_hat): |d_hat_y - d_y| <= u D, then one rounding u (P + err).
 *   (8) _acc32 halves: RN to the half format: u_out (P + err) + alpha_out.
 *   (9) tau != 1 (arith.c): the tempered row moves logp by dT <= cT (D + ln n/(1 - cT))
 *       + (1 + cT) eT (|x_y| + max|x_i|)/tau + 2 aT, and (1)-(8) apply to it with D, L, P widened.
 *   TOTAL     |logp_hat - logp| <= dT + E + u (P + E) [+ u_out (P + E') + alpha_out],
 *             E = u D + dL + eps_log (L + dL), dL as (5); to first order, with k = LP_LIBM ulps:
 *             (n - 1) u + (2 k_exp + n^u ln n) u + u D + 2 k_log u L + u P.
 *             The (n - 1) u term is absolute: where logp is near 0 (P ~ 1e-5) it is the whole error.
 *   DIRECT    lp_row_twopass_direct (below) computes the same bits from the stored row in native
 *             arithmetic where lp_twopass_direct_ok holds (what registry.c runs there).
 *   EVIDENCE  tests/t_impl_contract.c holds every registered twopass kernel to TOTAL on random
 *             problems, the committed corpus and the drift rows below; fuzzers through
 *             lp_kernel_promise_row.
 *   TIGHTNESS the drift row (x_0 = 0, then n - 1 logits c with exp(c) just above u: every addition
 *             to S in [1, 2) rounds up by about u) reaches about 0.99 of TOTAL for twopass_f32 at
 *             n = 1024 (printed by t_impl_contract): the (n - 1) u term is attained.
 * REFERENCES [1] N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., ch. 2-4.
 *            [2] P. Blanchard, D. J. Higham, N. J. Higham, Accurately computing the log-sum-exp and
 *                softmax functions, IMA J. Numer. Anal. 41(4), 2021.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "lp_impl_internal.h"

double lp_row_twopass(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    const double *z = lp_ktemper(c, x, V);
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (z[i] > m) m = z[i];              /* NaN never compares greater: it reaches exp below */
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s = k_add(c, s, k_exp(c, k_sub(c, z[i], m)));
    return k_sub(c, k_sub(c, z[y], m), k_log(c, s));
}

/* ---- the direct path: the same kernel, bit for bit, without the generic context ----------------
 * lp_row_twopass above is written once over doubles, every operation rounded by lp_rn, and is
 * given the row widened to double (registry.c's row_value). For the formats that check's default
 * bound runs (twopass_f32 on f32/f16/bf16 logits, twopass_f64 on any) the direct path below takes
 * the stored row itself and computes the SAME value, bit for bit, in native arithmetic:
 *   acc = f64: every k_op is the double operation itself (lp_rn(F64, x) = x, k_exp = exp, k_log =
 *       log), so the same expressions on the same doubles give the same bits.
 *   acc = f32, logits f32/f16/bf16 (every logit a float: f16, bf16 are subsets of f32):
 *       k_sub(a, b) = RN_f32(RN_f64(a - b)) and k_add likewise; for +, -, *, / of two floats this
 *       double rounding equals the single rounding RN_f32(a op b) (53 >= 2*24 + 2: S. A. Figueroa,
 *       "When is double rounding innocuous?", SIGNUM Newsletter 30(3), 1995), a theorem for an
 *       unbounded exponent range. Here: every nonzero exact a +- b of floats lies in
 *       [2^-149, 2^129), inside f64's normal range, so RN_f64 is the unbounded rounding to 53 bits;
 *       IEEE 754 overflows RN_f32 exactly where the unbounded rounding to 24 bits exceeds the
 *       largest float, a function of that rounding, which the theorem makes equal for both routes;
 *       and an a +- b below 2^-126 is a multiple of 2^-149, a float, exact in both routes.
 *       So float's own + and - (FLT_EVAL_METHOD == 0, and -ffp-contract=off from lp_flags) are
 *       exactly k_add, k_sub. k_exp(d) = (double)expf((float)d) and k_log likewise: d, s are
 *       already floats, so expf(d), logf(s) are called on the same arguments. The max pass:
 *       comparisons of floats equal those of their widenings; see max_f32 for NaN and zeros.
 *   NaN results are left to the generic path itself (lp_row_twopass_direct says why).
 *   The tempered row (tau != 1) is formed by the very expressions of lp_ktemper (arith.c) for the
 *   modes DIV and MULINV in double, then rounded as lp_rn rounds (a float cast for f32), so it is
 *   the same row; the STORAGE mode and half accumulation keep the generic path.
 *   The left-to-right order of the sum is kept (the contract). Selected (lp_twopass_direct_ok,
 *   registry.c's row_value) for the twopass family with acc f64 on any logits, or acc f32 on
 *   f32/f16/bf16 logits, with tau == 1 or the DIV/MULINV temperature modes, where C's float
 *   arithmetic is IEEE binary32 without excess precision (FLT_EVAL_METHOD == 0); else, and for f64
 *   logits into an f32 accumulation (not floats: the generic rounds each difference from double),
 *   the generic path runs. Equality with lp_row_twopass is tested bit for bit in
 *   tests/t_impl_direct.c (every format, special values, tau != 1, the corpus). */

/* The max pass with lp_row_twopass's semantics: m = the first z_i with z_i > every earlier m,
 * from -inf; NaN never compares greater. Eight lanes (each its own running max in that rule) find
 * the same VALUE m*: the largest non-NaN z_i, or -inf. Where m* != 0 every z_i equal to it has the
 * same bits as m* (nonzero floats compare equal only when identical), so the result is bitwise
 * the scalar one. Where m* is +-0 the scalar pass keeps the first zero it met: rerun it in order
 * (the sign of a zero max cannot change the value, as two zeros make S >= 2, but the rerun makes
 * the equality of m itself plain). */
static float max_f32(const float *z, int64_t V)
{
    float l[8];
    for (int k = 0; k < 8; k++) l[k] = -HUGE_VALF;
    int64_t i = 0;
    for (; i + 8 <= V; i += 8)
        for (int k = 0; k < 8; k++) l[k] = z[i + k] > l[k] ? z[i + k] : l[k];
    float m = -HUGE_VALF;
    for (int k = 0; k < 8; k++)
        if (l[k] > m) m = l[k];
    for (; i < V; i++)
        if (z[i] > m) m = z[i];
    if (m == 0.0f) {
        m = -HUGE_VALF;
        for (i = 0; i < V; i++)
            if (z[i] > m) m = z[i];
    }
    return m;
}

static double row_f32(const float *z, int64_t V, int64_t y)
{
    const float m = max_f32(z, V);
    float s = 0.0f;
    for (int64_t i = 0; i < V; i++) s += expf(z[i] - m);
    return (double)((z[y] - m) - logf(s));
}

static double row_f64(const double *z, int64_t V, int64_t y)
{
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (z[i] > m) m = z[i];
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s += exp(z[i] - m);
    return (z[y] - m) - log(s);
}

/* row_f64 on an f32 row: every (double)z_i is the exact widening, so this is row_f64 of it. */
static double row_f64_of_f32(const float *z, int64_t V, int64_t y)
{
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if ((double)z[i] > m) m = (double)z[i];
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s += exp((double)z[i] - m);
    return ((double)z[y] - m) - log(s);
}

int lp_twopass_direct_ok(const lp_kctx *c, lp_format fmt)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (c->k->family != LP_KF_TWOPASS) return 0;
    if (c->temp_on && c->k->temp != LP_KTEMP_DIV && c->k->temp != LP_KTEMP_MULINV) return 0;
    if (c->acc == LP_F64) return 1;
    return c->acc == LP_F32 && (fmt == LP_F32 || fmt == LP_F16 || fmt == LP_BF16);
#else
    (void)c;
    (void)fmt;
    return 0;
#endif
}

/* Logit i of a stored row as a double: lp_load_f64's value wherever that is not NaN, and a NaN
 * where it is NaN (the payload may differ: a NaN row goes to the generic path, see
 * lp_row_twopass_direct). bf16 is the top half of an f32; f16 (sign, 5-bit exponent e, 10-bit
 * fraction f): e = 0 is f 2^-24 (exact: f < 2^10), 0 < e < 31 is (1 + f 2^-10) 2^(e-15), which is
 * the f32 with exponent e - 15 + 127 and fraction f 2^13, e = 31 is +-inf or a NaN. */
static inline double load(const void *row, lp_format fmt, int64_t i)
{
    switch (fmt) {
    /* memcpy: a mapped tensor need not be aligned to its element (safetensors offsets) */
    case LP_F64: { double d; memcpy(&d, (const char *)row + 8 * i, 8); return d; }
    case LP_F32: { float g; memcpy(&g, (const char *)row + 4 * i, 4); return (double)g; }
    case LP_BF16: break;
    case LP_F16: break;
    }
    uint16_t hb;
    memcpy(&hb, (const char *)row + 2 * i, 2);
    if (fmt == LP_BF16) return (double)lp_f32_bits((uint32_t)hb << 16);
    const uint32_t h = hb, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    const uint32_t sign = (h & 0x8000u) << 16;
    if (e == 0) {
        const float v = (float)f * 0x1p-24f;
        return (double)(sign ? -v : v);
    }
    if (e == 31) return (double)lp_f32_bits(sign | 0x7f800000u | f << 13);
    return (double)lp_f32_bits(sign | (e + 112) << 23 | f << 13);
}

/* The direct value, or NaN where the row makes one (then the caller takes the generic path). */
static double direct_value(lp_kctx *c, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    /* The stored row itself where it is the generic row: tau == 1, and lp_load_f64 the identity
     * (f64 logits) or the exact widening (f32 logits, acc f32 or f64; lp_load_f64 changes only
     * the payload of a NaN, and a NaN in the row makes the result NaN: see lp_row_twopass_direct). */
    const int aligned = (uintptr_t)row % (uintptr_t)(fmt == LP_F64 ? 8 : 4) == 0;
    if (!c->temp_on && fmt == c->acc && aligned)
        return fmt == LP_F64 ? row_f64(row, V, y) : row_f32(row, V, y);
    if (!c->temp_on && fmt == LP_F32 && c->acc == LP_F64 && aligned)
        return row_f64_of_f32(row, V, y);
    /* Else (also where a mapped row is not aligned to its element) the row as lp_ktemper forms
     * it: lp_load_f64 (load), then x / tau_k (DIV) or x * tau_k (MULINV) in double, rounded to acc
     * (lp_rn: nothing for f64, the float cast for f32). */
    const int div = c->k->temp == LP_KTEMP_DIV;
    const double t = c->tau_k;
    if (c->acc == LP_F64) {
        double *z = c->z;
        for (int64_t i = 0; i < V; i++) {
            const double x = load(row, fmt, i);
            z[i] = !c->temp_on ? x : div ? x / t : x * t;
        }
        return row_f64(z, V, y);
    }
    float *z = (float *)c->z;           /* V doubles of scratch hold V floats */
    for (int64_t i = 0; i < V; i++) {
        const double x = load(row, fmt, i);
        z[i] = (float)(!c->temp_on ? x : div ? x / t : x * t);
    }
    return row_f32(z, V, y);
}

/* A NaN result is the generic kernel's own: which NaN (sign, payload) an operation on two NaNs
 * returns is not fixed by IEEE 754 or C (x86 returns the first operand's, and the compiler may
 * swap the operands of a commutative + or *), and lp_load_f64 canonicalizes NaN payloads. So the
 * direct path answers only where its result is not NaN; there no NaN arose anywhere (a NaN
 * z_i - m, term, sum or log propagates to the result: NaN is never the max, NaN + x, exp(NaN),
 * log(NaN) and d_y - NaN are NaN), every value is a correctly rounded operation or the same libm
 * call on equal arguments, and the generic path computes the same bits. */
double lp_row_twopass_direct(lp_kctx *c, const void *row, lp_format fmt, int64_t V, int64_t y)
{
    const double v = direct_value(c, row, fmt, V, y);
    if (!isnan(v)) return v;
    for (int64_t i = 0; i < V; i++) c->x[i] = lp_load_f64(row, fmt, (size_t)i);
    return lp_row_twopass(c, c->x, V, y);
}

double lp_shifted_sum_logerr(const lp_kctx *c, int64_t n, int64_t resc, double L)
{
    const double u = c->u, ee = c->eps_exp, N = (double)n, ln_n = log(N);
    const double G = exp(u * ln_n) * ln_n / (1 - u);
    const double k_exps = 1.0 + (double)resc, k_rnd = N - 1 + (double)resc;
    const double lhi = k_exps * log1p(ee) + k_rnd * log1p(u) + log1p(u * G);
    double llo = -(k_exps * log1p(-ee) + k_rnd * log1p(-u));
    llo = u * ln_n < 1 ? llo - log1p(-u * ln_n) : HUGE_VAL;
    const double hi = exp(lhi);
    /* the subnormal betas: the terms' own (n - 1), and per rescale the factor's beta times a sum
     * below n hi, plus the product's rounding (online.c) */
    const double A = hi * ((N - 1) * c->alpha_exp + (double)resc * (N * hi * c->alpha_exp + c->alpha_a));
    if (ln_n + lhi + log1p(A / (N * hi)) >= c->ln_omega_a - 0x1p-20) return LP_KOUTSIDE;
    const double up = lhi + log1p(A / hi);
    double down = HUGE_VAL;
    const double lo = exp(-llo);
    if (lo > A) down = -log(lo - A);
    if (down > L) down = L;                   /* S_hat >= 1 */
    return up > down ? up : down;
}

double lp_shifted_log_err(const lp_kctx *c, const lp_kfeat *f, int with_resc, double *dT,
                          lp_kfeat *z)
{
    if (!lp_temper_feat(c, f, dT, z)) return LP_KOUTSIDE;
    const double dL = lp_shifted_sum_logerr(c, z->n, with_resc ? z->resc : 0, z->L);
    if (dL < 0) return LP_KOUTSIDE;
    return dL + c->eps_log * (z->L + dL);
}

/* The TOTAL of twopass.c, with the rescales of online.c's running max when with_resc. */
double lp_bound_shifted(const lp_kctx *c, const lp_kfeat *f, int with_resc)
{
    double dT;
    lp_kfeat z;
    const double errL = lp_shifted_log_err(c, f, with_resc, &dT, &z);
    if (errL < 0) return LP_KOUTSIDE;
    const double pre = c->u * z.D + errL;
    const double acc = pre + c->u * (z.P + pre);
    return lp_inflate(dT + acc + lp_out_err(c, z.P, acc));
}

double lp_bound_twopass(const lp_kctx *c, const lp_kfeat *f) { return lp_bound_shifted(c, f, 0); }
