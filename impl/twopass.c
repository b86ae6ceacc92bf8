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
