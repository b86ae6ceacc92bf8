/* impl/arith.c: a kernel's context: the error constants of its formats and libm, and temperature.
 *
 * CONSTANTS (u = 2^-p of the accumulation format; K_f = LP_LIBM_<f>_ULP, measured in
 * tests/t_impl_libm.c). A result within K ulp of the exact value y (SPEC A4's ulp, 2^(e-p+1) for
 * 2^e <= |y|) is within 2Ku|y| of it where y is normal, and within K times the subnormal quantum
 * where it is not:
 *   f64, f32   eps_f = 2 K_f u,                         alpha_exp = K_exp 2^(emin-p+1)
 *   f16, bf16  eps_f = (1 + 2 K_f 2^-24)(1 + u) - 1     (the f32 function, then one rounding to
 *              alpha_exp = K_exp 2^-149 (1 + u) + 2^(emin-p)  the half format)
 *   alpha_a = 2^(emin-p): the absolute error of a product rounded into the subnormal range.
 *   u_out, alpha_out: the final rounding to the output format when it differs from acc.
 * TEMPERATURE (tau != 1; with tau == 1 no kernel touches the logits: cT = eT = aT = 0). The tempered
 * logit is (1 + dc) x/tau + xi, dc common to the row, |dc| <= cT, |xi| <= eT (1 + cT)|x/tau| + aT:
 *   DIV f64        x / tau, one rounding:                      cT = 0, eT = 2^-53
 *   DIV f32        RN_f32(RN_f64(x / tau)):                    cT = 0, eT = (1+2^-53)(1+2^-24) - 1
 *   DIV acc16 and STORAGE  RN_h(RN_f32(x / RN_f32(tau))) (a bf16/f16 tensor op: the scalar in f32):
 *                  cT = 2^-24/(1 - 2^-24) (tau/RN_f32(tau)), eT = (1+2^-24)(1+u_h) - 1
 *   MULINV         RN(x * r), r = RN_acc(RN_f64(1/tau)):       cT = the relative error of r, eT = u
 *   SHIFTDIV       accurate.c divides the exact difference x_i - m: eT bounds that one division
 *                  (relative to the shifted value), cT = 0.
 *   aT: the subnormal absolute error of those roundings (2^(emin-p) of the rounded format, plus
 *   2^-149 where an f32 step comes first).
 *   Effect on logp (lp_temper_feat): with w = x/tau, logp((1+dc)w) - logp(w) = dc * d/dl logp(l w)
 *   at some l in [1-cT, 1+cT], and d/dl logp(l w) = D_w - sum_i p_i(l) d_i, d_i = w_i - m_w <= 0,
 *   with sum_i p_i(l) |l d_i| <= ln n (the mean gap to the max of a softmax is H(p) + log p_max
 *   <= ln n): |change| <= cT (|D| + ln n / (1 - cT)). Then the xi: d logp / d z_i = [i = y] - p_i,
 *   so a perturbation xi changes logp by at most |xi_y| + max_i |xi_i|.
 *   DOMAIN: tau as the kernel holds it must be usable (RN_f32(tau) is 0 below 2^-150 and inf above
 *   f32's range; for MULINV, RN(1/tau) must be a normal number of acc), and every tempered logit
 *   finite in the format it is held in: lp_temper_feat says no otherwise, and no family promises
 *   anything there (tests/t_impl_contract.c meets it on the corpus' tau = 2^-1074 and 1e300).
 * Products (1 + a)(1 + b) - 1 are computed as a + b + ab (lp_comb): 1 + 2^-53 is 1 in double.
 */
#include "lp_core.h"
#include "lp_impl_internal.h"

static double pow2(int k) { return ldexp(1.0, k); }

lp_status lp_kctx_init(lp_kctx *c, const lp_kernel *k, double tau, int64_t V, lp_error *err)
{
    memset(c, 0, sizeof *c);
    c->k = k;
    c->acc = k->acc;
    c->out = k->out;
    c->tau = tau;
    c->temp_on = tau != 1.0;
    const lp_format_info *fa = lp_format_get(k->acc), *fo = lp_format_get(k->out),
                         *fs = lp_format_get(k->storage);
    const int half = k->acc == LP_F16 || k->acc == LP_BF16;
    const double u = pow2(-fa->prec), u32 = 0x1p-24;
    c->u = u;
    if (half) {
        c->eps_exp = lp_comb(2 * LP_LIBM_EXP_ULP * u32, u);
        c->eps_log = lp_comb(2 * LP_LIBM_LOG_ULP * u32, u);
        c->eps_log1p = lp_comb(2 * LP_LIBM_LOG1P_ULP * u32, u);
        c->alpha_exp = LP_LIBM_EXP_ULP * 0x1p-149 * (1 + u) + pow2(fa->emin - fa->prec);
        c->alpha_log1p = LP_LIBM_LOG1P_ULP * 0x1p-149 * (1 + u) + pow2(fa->emin - fa->prec);
    } else {
        c->eps_exp = 2 * LP_LIBM_EXP_ULP * u;
        c->eps_log = 2 * LP_LIBM_LOG_ULP * u;
        c->eps_log1p = 2 * LP_LIBM_LOG1P_ULP * u;
        c->alpha_exp = LP_LIBM_EXP_ULP * pow2(fa->emin - fa->prec + 1);
        c->alpha_log1p = LP_LIBM_LOG1P_ULP * pow2(fa->emin - fa->prec + 1);
    }
    c->alpha_a = pow2(fa->emin - fa->prec);
    c->lambda_a = pow2(fa->emin);
    c->ln_omega_a = log(ldexp(2.0 - pow2(1 - fa->prec), fa->emax));
    c->ln_omega_t = k->temp == LP_KTEMP_STORAGE ? log(ldexp(2.0 - pow2(1 - fs->prec), fs->emax))
                                                : c->ln_omega_a;
    if (k->out != k->acc) {
        c->u_out = pow2(-fo->prec);
        c->alpha_out = pow2(fo->emin - fo->prec);
    }

    /* temperature */
    c->tau_k = tau;
    if (c->temp_on) {
        const double t32 = (double)(float)tau;
        switch (k->temp) {
        case LP_KTEMP_DIV:
        case LP_KTEMP_SHIFTDIV:
            if (k->acc == LP_F64) {
                c->eT = 0x1p-53;
                c->aT = 0x1p-1074;
            } else if (k->acc == LP_F32) {
                c->eT = lp_comb(0x1p-53, u32);
                c->aT = 0x1p-149;
            } else {
                c->tau_k = t32;
                c->cT = u32 / (1 - u32);
                c->eT = lp_comb(u32, u);
                c->aT = c->alpha_a + 0x1p-149;
            }
            if (k->temp == LP_KTEMP_SHIFTDIV) {     /* relative to the shifted value: fold cT */
                c->eT = lp_comb(c->cT, c->eT);
                c->cT = 0;
            }
            break;
        case LP_KTEMP_MULINV: {
            double r = 1.0 / tau;                   /* RN_f64 */
            c->tau_k = lp_rn(k->acc, half ? (double)(float)r : r);
            if (k->acc == LP_F64)
                c->cT = 0x1p-53;
            else if (k->acc == LP_F32)
                c->cT = lp_comb(0x1p-53, u32);
            else
                c->cT = lp_comb(lp_comb(0x1p-53, u32), u);
            c->eT = u;
            c->aT = c->alpha_a;
            break;
        }
        case LP_KTEMP_STORAGE: {
            const double us = pow2(-fs->prec);
            c->tau_k = t32;
            c->cT = u32 / (1 - u32);
            c->eT = lp_comb(u32, us);
            c->aT = pow2(fs->emin - fs->prec) + 0x1p-149;
            break;
        }
        }
    }

    c->temp_ok = !c->temp_on || (c->tau_k > 0 && isfinite(c->tau_k));
    if (c->temp_on && k->temp == LP_KTEMP_MULINV)   /* r = RN(1/tau) normal: the model of cT */
        c->temp_ok = c->tau_k >= c->lambda_a && log(c->tau_k) < c->ln_omega_a;
    if (V <= 0) return LP_OK;
    c->cap = V;
    c->x = malloc((size_t)c->cap * sizeof *c->x);
    c->z = malloc((size_t)c->cap * sizeof *c->z);
    if (!c->x || !c->z) {
        lp_kctx_free(c);
        return lp_fail(err, LP_ERR_NOMEM, "kernel %s: out of memory for a row of V=%lld", k->name,
                       (long long)V);
    }
    return LP_OK;
}

void lp_kctx_free(lp_kctx *c)
{
    free(c->x);
    free(c->z);
    c->x = c->z = NULL;
}

const double *lp_ktemper(lp_kctx *c, const double *x, int64_t V)
{
    if (!c->temp_on || c->k->temp == LP_KTEMP_SHIFTDIV) return x;
    double *z = c->z;
    const int half = c->acc == LP_F16 || c->acc == LP_BF16;
    /* half accumulation divides as a half tensor op does: in f32, then rounded */
    const int like_half = c->k->temp == LP_KTEMP_STORAGE || (c->k->temp == LP_KTEMP_DIV && half);
    if (like_half) {
        const lp_format h = half ? c->acc : c->k->storage;
        for (int64_t i = 0; i < V; i++) z[i] = lp_rn(h, (double)(float)(x[i] / c->tau_k));
        return z;
    }
    switch (c->k->temp) {
    case LP_KTEMP_DIV:
        for (int64_t i = 0; i < V; i++) z[i] = lp_rn(c->acc, x[i] / c->tau_k);
        break;
    case LP_KTEMP_MULINV:
        for (int64_t i = 0; i < V; i++) z[i] = k_mul(c, x[i], c->tau_k);
        break;
    default:
        return x;
    }
    return z;
}

int lp_temper_feat(const lp_kctx *c, const lp_kfeat *f, double *dT, lp_kfeat *fz)
{
    *fz = *f;
    *dT = 0;
    if (!c->temp_on || c->k->temp == LP_KTEMP_SHIFTDIV) return 1;
    const double cT = c->cT, eT = c->eT, aT = c->aT;
    if (!c->temp_ok) return 0;
    const double ln_n = log((double)f->n);
    const double xi_y = eT * (1 + cT) * f->Wy + aT, xi_max = eT * (1 + cT) * f->W + aT;
    *dT = cT * (f->D + ln_n / (1 - cT)) + xi_y + xi_max;
    fz->D = (1 + cT) * f->D + xi_y + xi_max;
    fz->P = f->P + *dT;
    /* L_z = D_z - logp_z: moves by at most |D_z - D| + |logp_z - logp|; and L_z <= ln n always */
    double Lz = f->L + (fz->D - f->D) + *dT;
    fz->L = Lz < ln_n * (1 + 0x1p-50) ? Lz : ln_n * (1 + 0x1p-50);
    fz->mT = f->mT >= 0 ? (1 + cT) * f->mT + xi_max : (1 - cT) * f->mT + xi_max;
    fz->mT_lo = f->mT_lo >= 0 ? (1 - cT) * f->mT_lo - xi_max : (1 + cT) * f->mT_lo - xi_max;
    fz->W = (1 + cT) * f->W + xi_max;
    fz->Wy = (1 + cT) * f->Wy + xi_y;
    return !(fz->W > 0 && log(fz->W) >= c->ln_omega_t);
}
