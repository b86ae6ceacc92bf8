/* fz_grad.c: the exact gradient reference (reference/grad.c, grad_fast.c; SPEC A8) on any decoded
 * problem.
 *
 * Tail byte k11 (harness-specific): bits 0-1 the reduction (token, sum, mean, token_mean), bits
 * 2-3 the wanted formats ({f64, f32, f16, bf16}, {f32, f16, bf16}, f64 alone, bf16 alone), bit 4
 * two threads, bit 5 SPEC A7's sampling parameters (then param[8]: bit 0 top_k = (k8 >> 1) % 8;
 * param[9]: bit 0 top_p from {0.1, 0.5, 0.9, 0.99, 1, 0.3, 0.7, 0.95} by bits 1-3, bit 4 min_p from
 * {0.01, 0.1, 0.5, 1, 0.05, 0.2, 0.9, 1e-6} by bits 5-7; bit 6 of k11 softcap from {30, 5, 1, 0.5}
 * by param[10] & 3). Properties:
 *   (1) the fast path (lp_ref_options.slow = 0, the wanted formats, 1 or 2 threads) gives the MPFR
 *       route's bits (slow = 1, one thread, every output with the double-double) on every wanted
 *       member of every element; both statuses agree; every row arrives once, in order;
 *   (2) rows that score nothing are +0 (every member, dd included);
 *   (3) sum_i g_i = 0 exactly for every counted row of numbers (sum_i (delta_iy - p_i) = 0; with a
 *       label at -inf too: 1/(tau D) - sum_{i != y} p_i/(tau D)): the exact sum of the dd values
 *       (MPFR, 2400 bits: exact) lies within sum_i (2^-104 |g_i| + 2^-1074) of 0 (lp_value's
 *       contract, with |g_i| <= |hi_i| (1 + 2^-52)), and the exact sum of the f64 values within
 *       sum_i (2^-53 |g_i| + 2^-1075); a label element computed as 1 - p_y in double, or off by
 *       more than its enclosure, breaks the first bound on peaked rows;
 *       With softcap the gradient is weighted by s_i = sech^2(x_i / c) and does not sum to 0:
 *       (3) is skipped there. Without softcap it holds over the kept set (P_y = 1 for a label
 *       outside it, the kept p_i sum to 1);
 *   (4) a counted row with NaN or +inf, or with every logit -inf, is NaN throughout; elements at
 *       -inf logits (other than the label) are -0, and so are the elements outside the kept set
 *       (lp_ref_kept, reference/sample.c) under sampling parameters.
 * Statuses: the problem's input errors (labels out of range, mask values) come back from both runs
 * alike. */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_decode.h"
#include "lp_core.h"
#include "lp_problem.h"
#include "lpcert.h"

#define H "fz_grad"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();
    return 0;
}

typedef struct rows {
    int64_t next, V;
    lp_value *all;
    int order_ok;
} rows;

static int sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)b, (void)t, (void)err;
    rows *r = user;
    if (V != r->V) r->order_ok = 0;
    memcpy(r->all + (size_t)r->next * (size_t)V, g, (size_t)V * sizeof *g);
    r->next++;
    return 0;
}

static int same_wanted(const lp_value *a, const lp_value *b, unsigned want)
{
    return (!(want & (1u << LP_F64)) || lp_bits_f64(a->f64) == lp_bits_f64(b->f64)) &&
           (!(want & (1u << LP_F32)) || lp_bits_f32(a->f32) == lp_bits_f32(b->f32)) &&
           (!(want & (1u << LP_F16)) || a->f16 == b->f16) &&
           (!(want & (1u << LP_BF16)) || a->bf16 == b->bf16);
}

static int is_zero_value(const lp_value *v)
{
    return lp_bits_f64(v->f64) == 0 && lp_bits_f32(v->f32) == 0 && v->f16 == 0 && v->bf16 == 0 &&
           lp_bits_f64(v->dd.hi) == 0 && lp_bits_f64(v->dd.lo) == 0;
}


/* (3) on one counted row of numbers. */
static void check_sum(const lp_fz_problem *p, const lp_value *g, int64_t V, int64_t r)
{
    mpfr_t s, bd, t;
    mpfr_inits2(2400, s, bd, t, (mpfr_ptr)0);
    for (int pass = 0; pass < 2; pass++) {
        mpfr_set_zero(s, 1);
        mpfr_set_zero(bd, 1);
        for (int64_t i = 0; i < V; i++) {
            const double hi = pass == 0 ? g[i].dd.hi : g[i].f64, lo = pass == 0 ? g[i].dd.lo : 0.0;
            mpfr_add_d(s, s, hi, MPFR_RNDN); /* exact at 2400 bits */
            mpfr_add_d(s, s, lo, MPFR_RNDN);
            mpfr_set_d(t, fabs(hi), MPFR_RNDN);
            mpfr_mul_2si(t, t, pass == 0 ? -103 : -52, MPFR_RNDU); /* 2^-104 (1 + 2^-52) x 2 */
            mpfr_add(bd, bd, t, MPFR_RNDU);
            mpfr_set_d(t, 0x1p-1074, MPFR_RNDN);
            mpfr_add(bd, bd, t, MPFR_RNDU);
        }
        mpfr_abs(s, s, MPFR_RNDN);
        LP_FZ_CHECK(mpfr_cmp(s, bd) <= 0, H, p,
                    "row %lld: |sum of the %s| = %.6e exceeds the bound %.6e", (long long)r,
                    pass == 0 ? "double-doubles" : "f64 values", mpfr_get_d(s, MPFR_RNDU),
                    mpfr_get_d(bd, MPFR_RNDU));
    }
    mpfr_clears(s, bd, t, (mpfr_ptr)0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    const lp_problem *pb = &p.pb;
    const uint8_t k11 = p.param[11];
    static const unsigned wants[4] = {0xfu, (1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16),
                                      1u << LP_F64, 1u << LP_BF16};
    const lp_reduction red = (lp_reduction)(k11 & 3);
    const unsigned want = wants[(k11 >> 2) & 3];
    lp_sampling *sp = &p.pb.sampling;
    if (k11 & 0x20) {
        static const double TOPP[8] = {0.1, 0.5, 0.9, 0.99, 1, 0.3, 0.7, 0.95};
        static const double MINP[8] = {0.01, 0.1, 0.5, 1, 0.05, 0.2, 0.9, 1e-6};
        static const double CAPS[4] = {30, 5, 1, 0.5};
        const uint8_t k8 = p.param[8], k9 = p.param[9];
        if (k8 & 1) sp->top_k = (k8 >> 1) % 8;
        if (k9 & 1) sp->top_p = TOPP[(k9 >> 1) & 7];
        if (k9 & 0x10) sp->min_p = MINP[(k9 >> 5) & 7];
        if (k11 & 0x40) sp->softcap = CAPS[p.param[10] & 3];
    }
    uint8_t *kept = malloc((size_t)(pb->shape.V > 0 ? pb->shape.V : 1));
    lp_ref_options fo = LP_REF_OPTIONS_INIT, so = LP_REF_OPTIONS_INIT;
    fo.formats = want;
    fo.threads = (k11 >> 4) & 1 ? 2 : 1;
    so.threads = 1;
    so.slow = 1;
    so.formats = LP_REF_ALL;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V, n = B * T * V;
    rows ra = {0, V, calloc((size_t)(n ? n : 1), sizeof(lp_value)), 1};
    rows rb = {0, V, calloc((size_t)(n ? n : 1), sizeof(lp_value)), 1};
    lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
    lp_grad_stats sa, sb;
    lp_status s1 = lp_grad_compute(pb, red, &fo, sink, &ra, &sa, &ea);
    lp_status s2 = lp_grad_compute(pb, red, &so, sink, &rb, &sb, &eb);
    LP_FZ_CHECK(s1 == s2, H, &p, "status fast %d (%s) slow %d (%s)", (int)s1, ea.msg, (int)s2,
                eb.msg);
    if (s1 == LP_OK) {
        LP_FZ_CHECK(ra.order_ok && rb.order_ok && ra.next == B * T && rb.next == B * T, H, &p,
                    "rows delivered: %lld and %lld of %lld", (long long)ra.next, (long long)rb.next,
                    (long long)(B * T));
        LP_FZ_CHECK(sa.elements == sb.elements && sa.rows == B * T, H, &p, "stats differ");
        const int64_t Ts = pb->shift == LP_SHIFT_NEXT ? T - 1 : T;
        for (int64_t r = 0; r < B * T; r++) {
            const lp_value *ga = ra.all + (size_t)(r * V), *gb = rb.all + (size_t)(r * V);
            const int64_t b = r / T, t = r % T;
            const int64_t lt = pb->shift == LP_SHIFT_NEXT ? t + 1 : t;
            int counted = 0;
            int64_t y = -1;
            if (t < Ts) {
                y = pb->label_type == LP_I64 ? ((const int64_t *)pb->labels)[b * T + lt]
                                             : ((const int32_t *)pb->labels)[b * T + lt];
                counted = y != pb->ignore_index && (!pb->mask || pb->mask[b * T + lt]);
            }
            int special = 0, nfin = 0;
            for (int64_t i = 0; i < V; i++) {
                const double x = lp_load_f64(pb->logits, pb->fmt, (size_t)(r * V + i));
                if (isnan(x) || x == HUGE_VAL) special = 1;
                if (isfinite(x)) nfin++;
            }
            if (nfin == 0) special = 1;
            int have_kept = 0;
            if (counted && !special && lp_sampling_on(sp)) {
                lp_error ek = {LP_OK, ""};
                const lp_status sk = lp_ref_kept(kept, (const char *)pb->logits + (size_t)(r * V) *
                                                     (size_t)lp_format_get(pb->fmt)->bytes,
                                                 pb->fmt, V, pb->temperature, sp, &ek);
                LP_FZ_CHECK(sk == LP_OK, H, &p, "row %lld: lp_ref_kept: %s", (long long)r, ek.msg);
                have_kept = 1;
            }
            for (int64_t i = 0; i < V; i++) {
                LP_FZ_CHECK(same_wanted(&ga[i], &gb[i], want), H, &p,
                            "row %lld element %lld (want %#x, %s): fast f64 %016llx f32 %08x f16 "
                            "%04x bf16 %04x, MPFR f64 %016llx f32 %08x f16 %04x bf16 %04x",
                            (long long)r, (long long)i, want, lp_reduction_name(red),
                            (unsigned long long)lp_bits_f64(ga[i].f64),
                            (unsigned)lp_bits_f32(ga[i].f32), ga[i].f16, ga[i].bf16,
                            (unsigned long long)lp_bits_f64(gb[i].f64),
                            (unsigned)lp_bits_f32(gb[i].f32), gb[i].f16, gb[i].bf16);
                if (!counted) {
                    LP_FZ_CHECK(is_zero_value(&gb[i]), H, &p,
                                "row %lld scores nothing, element %lld is not +0", (long long)r,
                                (long long)i);
                } else if (special) {
                    LP_FZ_CHECK(isnan(gb[i].f64) && isnan(gb[i].dd.hi) && gb[i].bf16 == 0x7fc0, H,
                                &p, "row %lld (NaN, +inf or all -inf): element %lld not NaN",
                                (long long)r, (long long)i);
                } else if (i != y &&
                           lp_load_f64(pb->logits, pb->fmt, (size_t)(r * V + i)) == -HUGE_VAL) {
                    LP_FZ_CHECK(lp_bits_f64(gb[i].f64) == 0x8000000000000000ull &&
                                    gb[i].f16 == 0x8000 && gb[i].bf16 == 0x8000, H, &p,
                                "row %lld element %lld at -inf is not -0", (long long)r,
                                (long long)i);
                } else if (i != y && have_kept && !kept[i]) {
                    LP_FZ_CHECK(lp_bits_f64(gb[i].f64) == 0x8000000000000000ull &&
                                    lp_bits_f32(gb[i].f32) == 0x80000000u && gb[i].f16 == 0x8000 &&
                                    gb[i].bf16 == 0x8000, H, &p,
                                "row %lld element %lld outside the kept set is not -0",
                                (long long)r, (long long)i);
                }
            }
            int finite = 1; /* (3) on rows whose values did not overflow (tau tiny) */
            for (int64_t i = 0; i < V; i++) finite &= isfinite(gb[i].f64);
            if (counted && !special && finite && sp->softcap == 0) check_sum(&p, gb, V, r);
        }
    }
    free(kept);
    free(ra.all);
    free(rb.all);
    lp_fz_free(&p);
    return 0;
}
