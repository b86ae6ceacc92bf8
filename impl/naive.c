/* impl/naive.c: logp = z_y - log(sum_i exp(z_i)) with no max shift (the textbook formula).
 * CONTRACT  Special values (inf_row "loginf"): exp(+inf) = +inf makes log of the sum +inf and
 *           logp = -inf for a finite label (NaN for a +inf one) where SPEC A3 says NaN; NaN
 *           propagates; a row with no finite logit sums to 0, log 0 = -inf, -inf - (-inf) = NaN;
 *           a -inf label gives -inf where the rest of the row is in the DOMAIN below (if every
 *           exp underflows, log 0 = -inf and -inf - (-inf) = NaN). On finite rows |logp_hat - logp| <= TOTAL below, and only in
 *           the DOMAIN, which is the whole point of this family:
 *             no overflow   m + ln n + log(upper factor of (4)) < ln(largest finite of acc)
 *                           (m <= 88.7 - ln n for f32/bf16, 709.8 - ln n for f64, 11.09 - ln n
 *                           for f16_acc16; any +inf logit is outside too);
 *             no vanishing  eps_exp + n alpha_exp e^-m <= 1/2 (the largest term is not lost to
 *                           underflow: m >= about -103 + ln 2n for f32).
 *           Outside it the kernel returns inf or NaN on rows whose logp is an ordinary number
 *           (tests/t_impl_contract.c shows it: naive_f32 on logits near 100 and near -120).
 * FORMATS   f64, f32; f16/bf16 with f32 accumulation (_acc32) and half accumulation (_acc16).
 * ERROR     u, eps_*, alpha_* as impl/arith.c; n finite logits; m = max z; S = sum_i e^(z_i)
 *           >= e^m; Lambda = log S = m + L, L = log sum_i e^(z_i - m) <= ln n; P = |logp|.
 *   (1) e_hat_i = EXP(z_i) = e^(z_i)(1 + eta_i) + beta_i: no input error (z_i is not shifted), but
 *       no exact term either; the betas are relative to S >= e^m: at most n alpha_exp e^-m.
 *   (2) S_hat: left to right, theta_i in [(1-u)^(n-1), (1+u)^(n-1)] as twopass.c (4).
 *   (3) log(S_hat/S) in [log((1 - a)(1-u)^(n-1)), log((1 + a)(1+u)^(n-1))],
 *       a = eps_exp + n alpha_exp e^-m: dL is the larger magnitude.
 *   (4) L_hat = LOG(S_hat): |L_hat - Lambda| <= dL + eps_log (|Lambda| + dL), |Lambda| <= |m| + L:
 *       the relative error of the log is paid on |m| + L, not on L: a large-logit row pays
 *       2 k_log u |m| even where logp is near 0.
 *   (5) logp_hat = RN(z_y - L_hat): u (P + E); then twopass.c (8), (9).
 *   TOTAL     dT + E + u (P + E) [+ u_out (P + E') + alpha_out], E = dL + eps_log (|m| + L + dL);
 *             to first order (n - 1) u + 2 k_exp u + n alpha_exp e^-m + 2 k_log u (|m| + L) + u P.
 *   EVIDENCE  tests/t_impl_contract.c: random problems inside the domain (scales 1 and 10), the
 *             corpus (rows outside the domain are counted apart), the drift rows, and the huge and
 *             tiny rows where the kernel fails and the domain test says so.
 *   TIGHTNESS the drift row of twopass.c (m = 0, so naive sums the same terms): about 0.99 of
 *             TOTAL for naive_f32 at n = 1024.
 */
#include "lp_impl_internal.h"

double lp_row_naive(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    const double *z = lp_ktemper(c, x, V);
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s = k_add(c, s, k_exp(c, z[i]));
    return k_sub(c, z[y], k_log(c, s));
}

double lp_bound_naive(const lp_kctx *c, const lp_kfeat *f)
{
    double dT;
    lp_kfeat z;
    if (!lp_temper_feat(c, f, &dT, &z)) return LP_KOUTSIDE;
    const double u = c->u, N = (double)z.n;
    const double a = c->eps_exp + N * c->alpha_exp * exp(-z.mT_lo);
    if (!(a <= 0.5)) return LP_KOUTSIDE;                       /* the largest term may vanish */
    const double lhi = log1p(a) + (N - 1) * log1p(u);
    const double llo = -log1p(-a) - (N - 1) * log1p(-u);
    if (z.mT + log(N) + lhi >= c->ln_omega_a - 0x1p-20) return LP_KOUTSIDE;   /* S_hat overflows */
    const double dL = lhi > llo ? lhi : llo;
    const double Lam = (fabs(z.mT) > fabs(z.mT_lo) ? fabs(z.mT) : fabs(z.mT_lo)) + z.L;
    const double errL = dL + c->eps_log * (Lam + dL);
    const double acc = errL + u * (z.P + errL);
    return lp_inflate(dT + acc + lp_out_err(c, z.P, acc));
}
