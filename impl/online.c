/* impl/online.c: one pass over the row with a running max and a rescaled sum, as flash-style
 * kernels (flash-attn's cross-entropy, Liger) do, here element by element:
 *     m' = max(m, z_i);  s = RN(RN(s * EXP(RN(m - m'))) + EXP(RN(z_i - m')));  m = m'
 * CONTRACT  logp = (z_y - m) - log s. Special values as SPEC A3 (inf_row "nan": a +inf logit
 *           gives EXP(inf - inf) = NaN; a row with no finite logit leaves m = -inf and z_y - m is
 *           NaN). A -inf logit is skipped: it adds exp(-inf) = 0 exactly, and skipping it keeps
 *           EXP(-inf - (-inf)) = NaN out of a row whose first logits are masked. On finite rows
 *           |logp_hat - logp| <= TOTAL below, in the domain of twopass.c (finite tempered logits, no
 *           overflow of the sum).
 * FORMATS   f64, f32; f16/bf16 with f32 accumulation (_acc32) and half accumulation (_acc16).
 * ERROR     as impl/twopass.c, with r = the number of rescales (strict increases of the running max
 *           after the first finite logit, in index order: r <= n - 1, r = 0 on a row whose max
 *           comes first).
 *   (1) Each term e^(d_i) (d_i = z_i - m_final) is built as EXP(RN(z_i - m_i)) times the factors
 *       EXP(RN(m_k - m_(k+1))) of the later rescales. The arguments' rounding errors are relative to
 *       |z_i - m_i| and to each |m_k - m_(k+1)|, whose sum is exactly |d_i| (the chain telescopes),
 *       so the input error is again the factor e^(+-u|d_i|) of twopass.c (3): weighted, uG and
 *       u ln n.
 *   (2) A term meets at most 1 + r EXP errors (its own and one per later rescale), r roundings of
 *       products and n - 1 roundings of sums: theta_i in [((1-eps_exp)^(1+r)(1-u)^(n-1+r)),
 *       ((1+eps_exp)^(1+r)(1+u)^(n-1+r))]. Multiplying by EXP(0) = 1 when the max does not move is
 *       exact.
 *   (3) Subnormal betas: the terms' own (n - 1) alpha_exp, and per rescale the factor's beta times
 *       the running sum (< n (1+eps)^..) plus alpha_a for the product: all below A of
 *       lp_shifted_sum_logerr. s >= 1 throughout (the running max contributes EXP(0) = 1 and RN is
 *       monotone), so log(S/S_hat) <= L again.
 *   (4) L_hat, logp_hat, the final rounding and temperature: twopass.c (6)-(9).
 *   TOTAL     as twopass.c with dL = lp_shifted_sum_logerr(n, r): to first order
 *             (n - 1 + r) u + (1 + r) 2 k_exp u + u n^u ln n + u D + 2 k_log u L + u P.
 *             The worst case over rows (lp_kernel_bound_worst) takes r = n - 1: an increasing row
 *             has twice the rounding count of twopass.
 *   EVIDENCE  tests/t_impl_contract.c (random problems including increasing rows, the corpus, the
 *             drift rows of twopass.c, which have r = 0).
 *   TIGHTNESS on the drift row r = 0 and the (n - 1) u term is attained (about 0.99 of TOTAL for
 *             online_f32 at n = 1024, as twopass_f32).
 */
#include "lp_impl_internal.h"

double lp_row_online(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    const double *z = lp_ktemper(c, x, V);
    double m = -HUGE_VAL, s = 0.0;
    for (int64_t i = 0; i < V; i++) {
        const double zi = z[i];
        if (zi == -HUGE_VAL) continue;
        const double mn = zi > m ? zi : m;
        s = k_add(c, k_mul(c, s, k_exp(c, k_sub(c, m, mn))), k_exp(c, k_sub(c, zi, mn)));
        m = mn;
    }
    return k_sub(c, k_sub(c, z[y], m), k_log(c, s));
}

double lp_bound_online(const lp_kctx *c, const lp_kfeat *f) { return lp_bound_shifted(c, f, 1); }
