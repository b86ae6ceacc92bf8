/* reference/decide.c: the decision chain of one scored token, the one function through which both
 * the batch driver (batch.c, phase 1) and the public single-row lp_ref_row (ziv.c) decide a logp.
 *
 * CHAIN     (1) tier 1, fast.c: the row in double with an a-priori bound (CONTRACT, METHOD and
 *               ERROR in fast.c's opening comment; TOTAL: L within 2^-43.1 relative): decides
 *               f32, f16 and bf16 for almost every row. Skipped when f64 is wanted (f64 needs
 *               tier 2 but where L is below half an ulp of D).
 *           (2) tier 2, fast_dd.c: the row in double-double (proof in fast_dd.c's opening
 *               comment; TOTAL: about 2^-97.3 relative): decides f64, and retries what tier 1
 *               left undecided; then, where tier 2 left it undecided, tier 3
 *               (fast_td.c, about 2^-125.8 relative; its MPFR ends as a pair p + [clo, chi] with
 *               the exact ends' f64 rounding r64).
 *               Same domain as tier 1, so it runs after a tier-1 miss only when the row was in
 *               tier 1's domain, or when tier 1 was skipped.
 *           (3) the class of the row (lp_row_scan, ziv.c): a special value (SPEC A3) or the exact
 *               zero (A2), decided without arithmetic.
 *           (4) the MPFR Ziv loop (ziv.c: METHOD, STRICTNESS, DECISION, TERMINATION), from
 *               LP_ZIV_PREC0 bits, doubling: decides every format and the double-double.
 *           Tiers 1 and 2 run only when fast is set, and never when the double-double is wanted
 *           (lp_ref_fast_on): their enclosures (2^-43, 2^-97) cannot decide dd.lo.
 *           (2') tier 3, fast_td.c, instead of (1) and (2) when td is set (the double-double wanted,
 *               lp_ref_td_on): the sum in triple-double (about 2^-125.8 relative), its MPFR ends
 *               decided by lp_decide (ziv.c) for every format and the canonical dd at once.
 * SAMPLED   A row with a kept set (SPEC A7, sample.c: r->filt) and no softcap: its processed logp
 *           is, as a real, A1's logp of the row whose logits below the threshold are -inf (those
 *           terms are exp(-inf) = 0 in the sum; the label, when kept, and the max are unchanged), so
 *           the tiers run on such a masked copy and decide the same correct roundings. A row with
 *           softcap (r->cap) takes (3) and (4) only: the tiers know no tanh.
 * CORRECT   Every decision is a correct rounding of the same real (fast.c, fast_dd.c and ziv.c
 *           enclose the real of ziv.c's METHOD), so the value does not depend on which step
 *           decided it, nor on fast: bit for bit the MPFR path's (tests/t_fast.c, fuzz/fz_fast.c).
 */
#include <math.h>
#include <stdlib.h>

#include "lp_core.h"
#include "lp_fast.h"
#include "lp_format.h"
#include "lp_ref_internal.h"

/* The chain on r; the tiers read tdata (r's row, or its masked copy: SAMPLED), none when NULL. */
static lp_status chain(lp_value *out, lp_tok_class *cls, lp_fast_enc *enc, lp_ref_slot *sl,
                       lp_row *r, const void *tdata, unsigned want, int fast, int td,
                       lp_ref_stats *st, lp_error *err)
{
    const int plain = tdata != NULL;
    if (td && plain) {
        mpfr_inits2(64, sl->lo, sl->hi, (mpfr_ptr)0);
        sl->prec = lp_ziv_prec0(); /* initialised: the caller frees it, also on failure */
        if (lp_fast_row_td(sl->lo, sl->hi, tdata, r->fmt, r->V, r->label, r->tau) &&
            lp_decide(out, sl->lo, sl->hi)) {
            /* kept for the sums at 256 bits, outward (2^-255 wider: the slot's memory, not
             * 2300 bits, per token) */
            mpfr_prec_round(sl->lo, 256, MPFR_RNDD);
            mpfr_prec_round(sl->hi, 256, MPFR_RNDU);
            *cls = LP_TOK_NUM;
            st->fast++;
            return LP_OK;
        }
        mpfr_clears(sl->lo, sl->hi, (mpfr_ptr)0);
        sl->prec = 0;
    }
    if (fast && plain) {
        /* Tier 1 (double) unless f64 is wanted, which only tier 2 (double-double) decides;
         * tier 2 also retries what tier 1 left undecided. Same domain for both. */
        const int t1 = !(want & (1u << LP_F64));
        const int dom = t1 && lp_fast_row(enc, tdata, r->fmt, r->V, r->label, r->tau);
        int ok = dom && lp_fast_decide(out, enc, want);
        int dom2 = 0;
        if (!ok && (dom || !t1)) {
            dom2 = lp_fast_row_dd(enc, tdata, r->fmt, r->V, r->label, r->tau);
            ok = dom2 && lp_fast_decide(out, enc, want);
        }
        if (!ok && dom2) { /* tier 3 on what tier 2 left undecided */
            mpfr_t lo, hi;
            mpfr_inits2(64, lo, hi, (mpfr_ptr)0);
            const int in = lp_fast_row_td(lo, hi, tdata, r->fmt, r->V, r->label, r->tau);
            if (in) lp_fast_enc_mpfr(enc, lo, hi);
            mpfr_clears(lo, hi, (mpfr_ptr)0);
            ok = in && lp_fast_decide(out, enc, want);
        }
        if (ok) {
            *cls = LP_TOK_NUM;
            st->fast++;
            return LP_OK;
        }
    }
    *cls = lp_row_scan(r);
    if (*cls != LP_TOK_NUM) {
        lp_value_special(out, *cls);
        st->exact++;
        return LP_OK;
    }
    mpfr_inits2(64, sl->lo, sl->hi, (mpfr_ptr)0);
    mpfr_prec_t prec = lp_ziv_prec0();
    sl->prec = prec; /* initialised: the caller frees it, also on failure */
    lp_status s = lp_row_decide(out, sl->lo, sl->hi, r, &prec, st, err);
    if (s != LP_OK) return s;
    sl->prec = prec;
    if (fast || td) st->fallback++;
    if (fast) lp_fast_enc_mpfr(enc, sl->lo, sl->hi);
    return LP_OK;
}

void *lp_row_masked(const lp_row *r)
{
    const size_t esz = (size_t)lp_format_get(r->fmt)->bytes;
    void *masked = malloc((size_t)r->V * esz);
    if (!masked) return NULL;
    memcpy(masked, r->data, (size_t)r->V * esz);
    if (r->filt)
        for (int64_t i = 0; i < r->V; i++)
            if (lp_load_f64(r->data, r->fmt, (size_t)i) < r->thr)
                lp_store_f64(masked, r->fmt, (size_t)i, -HUGE_VAL);
    return masked;
}

lp_status lp_ref_token(lp_value *out, lp_tok_class *cls, lp_fast_enc *enc, lp_ref_slot *sl,
                       lp_row *r, unsigned want, int fast, int td, lp_ref_stats *st,
                       lp_error *err)
{
    LP_ASSERT(!fast || !(want & LP_REF_DD));
    LP_ASSERT(!(fast && td));
    if (!r->cap && !r->filt) return chain(out, cls, enc, sl, r, r->data, want, fast, td, st, err);
    /* SAMPLED: with a kept set and no softcap, the tiers run on a copy of the row whose logits
     * below the threshold are -inf (the same real); with softcap, the class and the Ziv loop. */
    void *masked = !r->cap && (fast || td) ? lp_row_masked(r) : NULL;
    const lp_status s = chain(out, cls, enc, sl, r, masked, want, fast, td, st, err);
    free(masked);
    return s;
}
