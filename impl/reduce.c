/* impl/reduce.c: sequence reductions (sum, mean) and the batch token mean of a kernel's per-token
 * outputs, with the masking conventions of lp_kmask, and their bounds.
 * CONTRACT  The reduction runs over all T_s positions of a sequence in order, a position that does
 *           not count holding +0 (assign) or logp(dummy label) * 0 (mul: NaN when that logp is
 *           NaN or infinite: the leak). The sum is rounded once to the output format at the end;
 *           the mean is computed from that rounded sum (sum / n in acc, then rounded to out: what
 *           `(logp * mask).sum(-1) / mask.sum(-1)` does with tensors of the output dtype), or as a
 *           running mean; an empty sequence gives the kernel's empty_mean (0/0 = NaN, or sum/1).
 *           The token mean reduces every position of the batch, b-major, the same way, over the
 *           total count. With y_t the exact token values (all <= 0), b_t their token bounds
 *           (impl/<family>.c), S = sum |y_t|, Tb = sum b_t, n counted tokens, npos positions:
 * ERROR     u_r = unit roundoff of the reduction format (acc; 2^-53 for LP_KRED_F64).
 *   (1) The inputs are the kernel's token values: |sum y_hat - sum y| <= Tb, sum |y_hat| <= S + Tb.
 *   (2) |R_hat - sum y_hat| <= phi (S + Tb):
 *         seq, f64   phi = (1 + u_r)^(n-1) - 1      (each term through <= n - 1 roundings; adding
 *                                                    a +0 position is exact; valid for any n)
 *         pairwise   phi = (1 + u_r)^h - 1, h = ceil(log2 npos) (the depth of the tree)
 *         kahan      phi = u_r + gamma_(n-1)^2      (Ogita-Rump-Oishi 2005, Prop. 4.5, for
 *                                                    Neumaier = Sum2; domain (n - 1) u_r < 1;
 *                                                    an infinite running sum is returned as is,
 *                                                    not added to its NaN compensation)
 *   (3) Rounding to out when it differs from the reduction format: u_o (S + Tb)(1 + phi) + alpha_o.
 *       SUM BOUND  Bs = Tb + phi (S + Tb) [+ (3)].
 *   (4) mean, div: q = RN_acc(sum_out / RN_acc(n)), then RN_out: with u_n = u_acc if n > 2^p_acc
 *       (n itself rounds) else 0, psi = (1 + u_acc)(1 + u_out)/(1 - u_n) - 1:
 *       MEAN BOUND  Bs/n + (S + Bs)/n psi + alpha_acc (1 + u_out) + alpha_out; and where
 *       S + Bs reaches the output format's overflow threshold, the rounded sum may be -inf and
 *       so is the mean: allowed by the promise (the mean is no safer than the sum it divides).
 *   (5) mean, running: mu_k = RN(mu + RN(RN(y_k - mu) / RN(k))), exact mean mu_k* of the y_hat;
 *       e_k = mu_k - mu_k* satisfies e_k = (1 - 1/k) e_(k-1) + (y_k - mu_(k-1)) th_k / k
 *       + delta_k (mu_(k-1) + q), |th_k| <= th = (1+u)^2/(1-u) - 1, |delta_k| <= u. By induction
 *       |e_k| <= beta M for M = max |y_hat| >= all |mu*|:
 *         beta = (2 th + w) / (1 - th - w),  w = n u (1 + 2 th),  domain th + w <= 1/4;
 *       MEAN BOUND  Tb/n + beta (max_t |y_t| + b_t) [+ u_out (S/n + ..) + alpha_out].
 *       To first order (n + 6) u max|y|: no better than sum/n, and worse where the tokens vary.
 *       Special: a -inf token makes mu = -inf, and the next token gives RN(y - mu) = +inf, then
 *       -inf + inf = NaN: the running mean is NaN (or -inf if no token follows) where the exact
 *       mean is -inf. Declared, and allowed by the promise (promise.c), not hidden.
 *   TOTAL     the SUM and MEAN BOUNDs above; to first order, for seq: Tb + (n - 1) u S.
 *             The (n - 1) u S term is the "sum versus mean" fact: relative to the sum it is
 *             (n - 1) u whichever is reported, since the mean is the sum scaled once.
 *   EVIDENCE  tests/t_impl_contract.c holds every kernel's sums, means and token means to these
 *             bounds (random problems with T up to 64, empty and all-masked sequences; the corpus).
 *   TIGHTNESS measured per kernel by t_impl_contract (the sums of random tokens reach a small
 *             fraction: the roundings of a random walk grow as sqrt(n)).
 */
#include "lp_impl_internal.h"

static lp_format red_fmt(const lp_kctx *c)
{
    return c->k->reduce == LP_KRED_F64 ? LP_F64 : c->acc;
}

static double pairwise(lp_format f, const double *v, int64_t n)
{
    if (n == 1) return v[0];
    const int64_t h = n / 2;
    return lp_rn(f, pairwise(f, v, h) + pairwise(f, v + h, n - h));
}

double lp_reduce_sum(const lp_kctx *c, const double *v, int64_t npos)
{
    const lp_format f = red_fmt(c);
    double s = 0.0;
    if (npos > 0) {
        switch (c->k->reduce) {
        case LP_KRED_PAIRWISE: s = pairwise(f, v, npos); break;
        case LP_KRED_KAHAN: {
            double comp = 0.0;
            for (int64_t i = 0; i < npos; i++) lp_neumaier_add(f, &s, &comp, v[i]);
            if (isfinite(s)) s = lp_rn(f, s + comp);
            break;
        }
        default:
            for (int64_t i = 0; i < npos; i++) s = lp_rn(f, s + v[i]);
            break;
        }
    }
    return lp_rn(c->out, s);
}

double lp_reduce_mean(const lp_kctx *c, const double *v, const uint8_t *counted, int64_t npos,
                      double sum_out, int64_t n)
{
    const lp_kernel *k = c->k;
    if (k->mean == LP_KMEAN_RUNNING) {
        if (n == 0) return k->empty_mean == LP_EMPTY_ZERO ? 0.0 : lp_nan();
        double mu = 0.0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < npos; i++) {
            if (!counted[i]) continue;
            cnt++;
            mu = k_add(c, mu, k_div(c, k_sub(c, v[i], mu), lp_rn(c->acc, (double)cnt)));
        }
        return lp_rn(c->out, mu);
    }
    const int64_t d = n == 0 && k->empty_mean == LP_EMPTY_ZERO ? 1 : n;
    return lp_rn(c->out, k_div(c, sum_out, lp_rn(c->acc, (double)d)));
}

/* phi of (2); LP_KOUTSIDE outside the reduction's domain. */
static double reduce_phi(const lp_kctx *c, int64_t n, int64_t npos)
{
    const double u = c->k->reduce == LP_KRED_F64 ? 0x1p-53 : c->u;
    switch (c->k->reduce) {
    case LP_KRED_PAIRWISE: {
        int h = 0;
        while (h < 63 && ((int64_t)1 << h) < npos) h++;
        return expm1(h * log1p(u));
    }
    case LP_KRED_KAHAN: {
        if (n <= 1) return 0.0;
        const double w = (double)(n - 1) * u;
        if (w >= 1) return LP_KOUTSIDE;
        const double g = w / (1 - w);
        return u + g * g;
    }
    default:
        return n <= 1 ? 0.0 : expm1((double)(n - 1) * log1p(u));
    }
}

double lp_bound_sum(const lp_kctx *c, double sabs, double tb, int64_t n, int64_t npos)
{
    if (!isfinite(sabs) || !isfinite(tb)) return HUGE_VAL;
    const double phi = reduce_phi(c, n, npos);
    if (phi < 0) return LP_KOUTSIDE;
    double e = tb + phi * (sabs + tb);
    const lp_format f = red_fmt(c);
    if (f != c->out) {
        const lp_format_info *fo = lp_format_get(c->out);
        e += ldexp(1.0, -fo->prec) * (sabs + tb) * (1 + phi) + ldexp(1.0, fo->emin - fo->prec);
    }
    return lp_inflate(e);
}

double lp_bound_mean(const lp_kctx *c, double sabs, double tb, double tmax, int64_t n,
                     int64_t npos)
{
    const double N = (double)n, u = c->u;
    if (!isfinite(sabs) || !isfinite(tb) || !isfinite(tmax)) return HUGE_VAL;
    if (c->k->mean == LP_KMEAN_RUNNING) {
        const double th = lp_comb(lp_comb(u, u), u / (1 - u));
        const double w = N * u * (1 + 2 * th);
        if (th + w > 0.25) return LP_KOUTSIDE;
        const double beta = (2 * th + w) / (1 - th - w);
        const double e = tb / N + beta * tmax;
        return lp_inflate(e + lp_out_err(c, sabs / N, e));
    }
    const double bs = lp_bound_sum(c, sabs, tb, n, npos);
    if (bs < 0) return LP_KOUTSIDE;
    const int p = lp_format_get(c->acc)->prec;
    const double un = N > ldexp(1.0, p) ? u : 0.0;
    const double psi = lp_comb(lp_comb(u, c->u_out), un / (1 - un));
    return lp_inflate(bs / N + (sabs + bs) / N * psi + c->alpha_a * (1 + c->u_out) + c->alpha_out);
}
