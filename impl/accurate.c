/* impl/accurate.c: logp = D - log1p(T), D = (x_y - m)/tau, T = sum_{i != j} exp((x_i - m)/tau),
 * j the first argmax, with the shifts computed exactly and T summed with compensation: the split of
 * the exact reference (reference/ziv.c) carried out in fixed precision. Near logp = 0 the error
 * stays relative to |logp| instead of the (n - 1) u absolute floor of twopass.
 * CONTRACT  Special values as SPEC A3 (inf_row "nan": a +inf max makes TwoSum(x_i, -inf) NaN; no
 *           finite logit makes D = -inf - (-inf) = NaN; a -inf label gives -inf). On finite rows
 *           |logp_hat - logp| <= TOTAL below, a bound proportional to |logp| (plus underflow terms
 *           below 2^-100 for f32), in the DOMAIN (n - 2) u < 1 of the compensated sum: every n for
 *           f32/f64, n <= 2049 for f16_acc16, n <= 257 for bf16_acc16; and, with tau != 1, where
 *           every shift x_i - m is finite in acc (an overflowed shift divides to -inf where the
 *           exact (x_i - m)/tau may be small: f16 logits +-65504 at tau = 1e30).
 * FORMATS   f64, f32; f16/bf16 with f32 accumulation (_acc32) and half accumulation (_acc16: TwoSum
 *           and Neumaier's sum run in the half format, exact as they are in any RN format).
 * METHOD    (dh, dl) = TwoSum(x_i, -m): dh + dl = x_i - m exactly (an overflowing difference of two
 *           finite logits is -inf with dl = 0: its term is 0 in every format). With tau != 1 each
 *           part is divided: qh = RN(dh/tau), ql = RN(dl/tau) (temperature mode "shiftdiv": the
 *           division acts on the shifted value, so its error is relative to |x_i - m|/tau).
 *           e_i = EXP(qh) * EXP(ql) (one factor when ql = 0 or EXP(qh) = 0: then |qh| > 1/u and ql,
 *           up to u |qh|, could overflow EXP: the term is 0 either way); T_hat = Neumaier(e_i); L_hat =
 *           LOG1P(T_hat); logp_hat = RN(Dh + RN(Dl - L_hat)), (Dh, Dl) the divided TwoSum of
 *           (x_y, -m). D and -L have the same sign: no cancellation anywhere.
 * ERROR     u, eps_exp, eps_log1p, alpha_* as impl/arith.c; n finite logits, k = n - 1 terms in T;
 *           L = log1p(T), P = |logp| = |D| + L; note T/(1 + T) <= L.
 *   (1) m, j: exact; the shift is exact (TwoSum), so e^(x_i - m) has no input error when tau = 1.
 *       With tau != 1, |qh + ql - (x_i - m)/tau| <= eT (1 + 2u) |x_i - m|/tau + 2 aT; over the terms
 *       that matter (|q| <= Qc = |ln lambda_acc| + 2; smaller terms are below lambda_acc whatever the
 *       perturbation) that is a factor e^(eT (1+2u) G + 2 aT), G = min(max_{i != j} |q_i|, Qc), plus
 *       k lambda_acc absolute.
 *   (2) e_hat_i = e^(q_i) (1 + eps_t), eps_t <= (1 + eps_exp)^2 (1 + u) - 1, plus an absolute
 *       2 alpha_exp + alpha_a per term (a subnormal EXP(qh), the product's rounding).
 *   (3) Neumaier's sum is Ogita-Rump-Oishi's Sum2 (its branch makes FastTwoSum exact, the errors
 *       summed left to right, one final addition): |T_hat - T~| <= u T~ + gamma_(k-1)^2 T~ for
 *       positive terms, gamma_j = j u / (1 - j u), valid for (k - 1) u < 1 [ORO 2005, Prop. 4.5].
 *   (4) So |T_hat - T| <= eps_T T + A_T, eps_T = (1 + eps_t')(1 + u + gamma^2) - 1 (eps_t' with
 *       (1)'s factor), A_T the absolute parts; and |log1p(T_hat) - log1p(T)| <=
 *       |T_hat - T| / (1 + min(T, T_hat)) <= (eps_T L + A_T) / (1 - eps_T - A_T) = dL
 *       (domain: eps_T + A_T <= 1/2).
 *   (5) L_hat = LOG1P(T_hat): |L_hat - L| <= dL + eps_log1p (L + dL) + alpha_log1p = E_L.
 *   (6) D: exact for tau = 1; else |Dh' + Dl' - D| <= eT (1 + u) |D| + 2 aT = E_D; |Dl'| <= u|D|(1+eT).
 *   (7) r = RN(Dl' - L_hat): u (u |D| (1 + eT) + L + E_L); logp_hat = RN(Dh' + r): u (P + E).
 *   (8) _acc32 halves: u_out (P + E) + alpha_out.
 *   TOTAL     E_D + E_L + u (u|D|(1+eT) + L + E_L) + u (P + ..) [+ u_out (P + ..) + alpha_out];
 *             to first order, tau = 1: (2 k_exp + 2 + 2 k_log1p) u L + u L + u P + k (2 alpha_exp
 *             + alpha_a) <= (4 k_exp + 2 k_log1p + 4) u P: about 12 u |logp| for f32 (24 ulp of the
 *             worst binade, measured ~1 ulp), whatever n.
 *   EVIDENCE  tests/t_impl_contract.c (random and peaked rows with p = 1 - 10^-k, the corpus, the
 *             drift rows where twopass is wrong by 100% and accurate is not, and check_near_zero:
 *             logp ~ -1e-1 .. -1e-12 at V = 1000 within 0.95 ulp for accurate_f32 and 1.41 ulp for
 *             accurate_f64, where twopass_f32 is 1.5e7 ulp off).
 *   TIGHTNESS the final rounding term u P is attained (worst ratio 0.9995 on a row whose logp is
 *             the exact shift D, L ~ 0: a half-ulp rounding); the libm and summation terms are
 *             worst cases that random and peaked rows do not approach (about 1 ulp measured
 *             against the 12 u P of TOTAL).
 * REFERENCES [1] T. Ogita, S. M. Rump, S. Oishi, Accurate sum and dot product, SIAM J. Sci. Comput.
 *                26(6), 2005. [2] A. Neumaier, ZAMM 54, 1974. [3] impl/twopass.c.
 */
#include "lp_impl_internal.h"

/* (s, t) with s + t = a - b exactly (Knuth's TwoSum, every operation rounded to acc). */
static void two_diff(const lp_kctx *c, double a, double b, double *s, double *t)
{
    const double r = k_sub(c, a, b);
    *s = r;
    if (isinf(r)) {       /* -inf from a = -inf or from an overflow: nothing below it; or NaN */
        *t = isinf(b) ? k_sub(c, r, r) : 0.0;
        return;
    }
    const double bb = k_sub(c, r, a);
    *t = k_add(c, k_sub(c, a, k_sub(c, r, bb)), k_sub(c, -b, bb));
}

static double div_tau(const lp_kctx *c, double v)
{
    if (!c->temp_on) return v;
    return c->acc == LP_F64 ? v / c->tau_k : lp_rn(c->acc, (double)(float)(v / c->tau_k));
}

double lp_row_accurate(lp_kctx *c, const double *x, int64_t V, int64_t y)
{
    double m = -HUGE_VAL;
    int64_t j = -1;
    for (int64_t i = 0; i < V; i++) {
        if (x[i] > m) {
            m = x[i];
            j = i;
        }
    }
    double s = 0.0, comp = 0.0;
    for (int64_t i = 0; i < V; i++) {
        if (i == j || x[i] == -HUGE_VAL) continue;
        double dh, dl;
        two_diff(c, x[i], m, &dh, &dl);
        dh = div_tau(c, dh);
        dl = div_tau(c, dl);
        double e = k_exp(c, dh);
        if (dl != 0 && e != 0) e = k_mul(c, e, k_exp(c, dl));   /* e = 0: |dh| >= 1/u, dl may not be small */
        lp_neumaier_add(c->acc, &s, &comp, e);
    }
    const double L = k_log1p(c, k_add(c, s, comp));
    double Dh, Dl;
    two_diff(c, x[y], m, &Dh, &Dl);
    Dh = div_tau(c, Dh);
    Dl = div_tau(c, Dl);
    if (isinf(Dh) && !isnan(Dl) && !isnan(L)) return Dh;   /* D/tau overflowed: Dl/tau may be inf */
    return k_add(c, Dh, k_sub(c, Dl, L));
}

double lp_bound_accurate(const lp_kctx *c, const lp_kfeat *f)
{
    const double u = c->u, N = (double)f->n, k = N - 1;
    /* the exact shifts x_i - m must be finite in acc: with tau != 1 an overflowed shift would
     * divide to -inf where (x_i - m)/tau is an ordinary number */
    if (c->temp_on && (!c->temp_ok || !(f->Gtau < exp(c->ln_omega_a)))) return LP_KOUTSIDE;
    if (f->n <= 1) {                      /* T = 0: L_hat = log1p(0) = 0, logp = D exactly or by (6) */
        const double eD = c->temp_on ? c->eT * (1 + u) * f->D + 2 * c->aT : 0.0;
        const double acc = eD + u * (u * f->D * (1 + c->eT)) + u * (f->P + eD);
        return lp_inflate(acc + lp_out_err(c, f->P, acc));
    }
    if ((k - 1) * u >= 1) return LP_KOUTSIDE;
    const double gam = (k - 1) * u / (1 - (k - 1) * u);
    const double eps_sum = u + gam * gam;
    double eps_t = lp_comb(lp_comb(c->eps_exp, c->eps_exp), u);
    double A = k * (2 * c->alpha_exp + c->alpha_a);
    if (c->temp_on) {
        const double Qc = -log(c->lambda_a) + 2;
        const double G = f->G < Qc ? f->G : Qc;
        eps_t = lp_comb(eps_t, expm1(c->eT * (1 + 2 * u) * G + 2 * c->aT));
        A += k * c->lambda_a;
    }
    const double eps_T = lp_comb(eps_t, eps_sum);
    const double A_T = A * (1 + eps_sum);
    if (!(eps_T + A_T <= 0.5)) return LP_KOUTSIDE;
    const double dL = (eps_T * f->L + A_T) / (1 - eps_T - A_T);
    const double EL = dL + c->eps_log1p * (f->L + dL) + c->alpha_log1p;
    const double ED = c->temp_on ? c->eT * (1 + u) * f->D + 2 * c->aT : 0.0;
    const double r = u * (u * f->D * (1 + c->eT) + f->L + EL);
    const double pre = ED + EL + r;
    const double acc = pre + u * (f->P + pre);
    return lp_inflate(acc + lp_out_err(c, f->P, acc));
}
