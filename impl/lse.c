/* impl/lse.c: gather minus logsumexp, as TRL's selective_log_softmax and many RL trainers write it:
 *     logp = z_y - logsumexp(z),  logsumexp(z) = log(sum_i exp(z_i - m)) + m
 * with torch.logsumexp's conventions: an infinite max is not subtracted (shift 0 instead), and the
 * logsumexp is a tensor of the output dtype (for f16/bf16 logits it is rounded to the half format
 * before the subtraction, in _acc32 as in _acc16).
 * CONTRACT  Special values (inf_row "loginf"): a +inf logit makes the sum +inf, logsumexp +inf and
 *           logp = -inf for a finite label (NaN for a +inf label) where SPEC A3 says NaN; NaN
 *           propagates; a row with no finite logit gives logsumexp = log 0 = -inf and
 *           logp = -inf - (-inf) = NaN; a -inf label gives -inf where the logsumexp of the
 *           rest of the row is finite in the output format (else -inf - (-inf) = NaN: f16 row
 *           [-65504, -inf] at tau 0.5). On finite rows
 *           |logp_hat - logp| <= TOTAL below, in the domain of twopass.c and where the
 *           logsumexp (about |m| + L) is finite in the output format (f16: |m| < 65504; outside,
 *           lse_f16_acc32 returns +-inf for a row whose logp is 0).
 * FORMATS   f64, f32; f16/bf16 with f32 accumulation (_acc32) and half accumulation (_acc16).
 * ERROR     u, eps_*, n, D, L, P as impl/twopass.c; M = |m| (the max logit itself, tempered).
 *   (1)-(6) S_hat and L_hat as twopass.c: |L_hat - L| <= E_L = dL + eps_log (L + dL).
 *   (7) lse_hat = RN(L_hat + m): |lse_hat - (L + m)| <= E_L + u (M + L + E_L). This is where the
 *       family differs from twopass: the rounding is relative to |m| + L, not to |logp|, so a row
 *       of large logits (m = 1000 in f32) carries an absolute error u |m| whatever logp is, and
 *       z_y - lse cancels it into logp. _acc32 halves: one more rounding of lse to the half format,
 *       u_out (M + L + E) + alpha_out: the bf16 logsumexp error (2^-8 |m|) that made TRL stop using
 *       logsumexp on bf16 logits.
 *   (8) logp_hat = RN(z_y - lse_hat): u (P + E) (z_y is exact); then twopass.c (8), (9).
 *   TOTAL     dT + E + u (P + E) [+ u_out (P + E') + alpha_out], E = E_L + u (M + L + E_L)
 *             [+ u_out (M + L + ..) + alpha_out]; to first order
 *             (n - 1) u + (2 k_exp + n^u ln n) u + 2 k_log u L + u (M + L) [+ u_h (M + L)] + u P.
 *   EVIDENCE  tests/t_impl_contract.c (random problems at logit scales 1, 10, 100 and a row of
 *             logits near 1e4, the corpus, the drift rows of twopass.c).
 *   TIGHTNESS the drift row (m = 0): about 0.99 of TOTAL for lse_f32 at n = 1024.
 */
#include "lp_impl_internal.h"

double lp_row_lse(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    const double *z = lp_ktemper(c, x, V);
    double m = -HUGE_VAL;
    for (int64_t i = 0; i < V; i++)
        if (z[i] > m) m = z[i];
    const double sh = isinf(m) ? 0.0 : m;
    double s = 0.0;
    for (int64_t i = 0; i < V; i++) s = k_add(c, s, k_exp(c, k_sub(c, z[i], sh)));
    const double lse = lp_rn(c->out, k_add(c, k_log(c, s), sh));
    return k_sub(c, z[y], lse);
}

double lp_bound_lse(const lp_kctx *c, const lp_kfeat *f)
{
    double dT;
    lp_kfeat z;
    const double errL = lp_shifted_log_err(c, f, 0, &dT, &z);
    if (errL < 0) return LP_KOUTSIDE;
    const double M = fabs(z.mT) > fabs(z.mT_lo) ? fabs(z.mT) : fabs(z.mT_lo);
    double lse = errL + c->u * (M + z.L + errL);
    if (M + z.L + lse >= lp_overflow_threshold(c->out)) return LP_KOUTSIDE;  /* lse_hat = +-inf */
    lse += lp_out_err(c, M + z.L, lse);
    const double acc = lse + c->u * (z.P + lse);
    return lp_inflate(dT + acc + lp_out_err(c, z.P, acc));
}
