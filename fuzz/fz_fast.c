/* fz_fast.c: on any decoded problem, the certified fast path gives the MPFR path's results bit for bit.
 *
 * The wanted outputs come from the tail byte k0 ({f32, f16, bf16}, f32 alone, f64 with bf16: tier 2,
 * or all with the double-double: tier 3, fast_td.c, and the canonical dd.lo) and the thread count from bit 0 of k1 (1 or 2); bit 1 of k1 forces tier 1's
 * histogram path (bf16, f16) on every row length. The MPFR path (lp_ref_options.slow) runs on one
 * thread. Statuses, messages' presence, counted flags, counts, every token, sum, mean and the
 * token mean must agree bit for bit (NaN patterns included). */
#include <stdio.h>
#include <string.h>

#include "fz_decode.h"
#include "lp_core.h"
#include "lp_fast.h"
#include "lpcert.h"

#define H "fz_fast"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const lp_value *a, const lp_value *b)
{
    return lp_bits_f64(a->f64) == lp_bits_f64(b->f64) && lp_bits_f32(a->f32) == lp_bits_f32(b->f32) &&
           a->f16 == b->f16 && a->bf16 == b->bf16 && lp_bits_f64(a->dd.hi) == lp_bits_f64(b->dd.hi) &&
           lp_bits_f64(a->dd.lo) == lp_bits_f64(b->dd.lo);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();   /* MPFR's limb memory recycled (fz_alloc.c) */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    static const unsigned wants[4] = {(1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16), 1u << LP_F32,
                                      (1u << LP_F64) | (1u << LP_BF16), 0};
    lp_ref_options fo = LP_REF_OPTIONS_INIT, so = LP_REF_OPTIONS_INIT;
    fo.formats = so.formats = wants[p.param[0] % 4];
    fo.threads = 1 + p.param[1] % 2;
    so.threads = 1;
    so.slow = 1;
    lp_ref_result a, b;
    lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
    lp_fast_hist_min_v = (p.param[1] >> 1) & 1 ? 2 : 16384; /* tier 1's histogram path on short rows */
    lp_status sa = lp_ref_compute_opts(&a, &p.pb, &fo, &ea);
    lp_fast_hist_min_v = 16384;
    lp_status sb = lp_ref_compute_opts(&b, &p.pb, &so, &eb);
    LP_FZ_CHECK(sa == sb, H, &p, "status fast %d (%s) slow %d (%s)", (int)sa, ea.msg, (int)sb, eb.msg);
    if (sa == LP_OK) {
        for (int64_t i = 0; i < a.B * a.Ts; i++) {
            LP_FZ_CHECK(a.counted[i] == b.counted[i], H, &p, "counted[%lld] differs", (long long)i);
            const lp_value *x = &a.logp[i], *y = &b.logp[i];
            LP_FZ_CHECK(same(x, y), H, &p,
                        "token %lld (want %#x): fast f32 %08x f16 %04x bf16 %04x f64 %016llx, slow "
                        "f32 %08x f16 %04x bf16 %04x f64 %016llx", (long long)i, fo.formats,
                        (unsigned)lp_bits_f32(x->f32), x->f16, x->bf16,
                        (unsigned long long)lp_bits_f64(x->f64), (unsigned)lp_bits_f32(y->f32),
                        y->f16, y->bf16, (unsigned long long)lp_bits_f64(y->f64));
        }
        for (int64_t s = 0; s < a.B; s++) {
            LP_FZ_CHECK(a.count[s] == b.count[s], H, &p, "count[%lld] differs", (long long)s);
            LP_FZ_CHECK(same(&a.sum[s], &b.sum[s]), H, &p, "sum[%lld] differs (want %#x): fast "
                        "%08x slow %08x", (long long)s, fo.formats, (unsigned)lp_bits_f32(a.sum[s].f32),
                        (unsigned)lp_bits_f32(b.sum[s].f32));
            LP_FZ_CHECK(same(&a.mean[s], &b.mean[s]), H, &p, "mean[%lld] differs (want %#x)",
                        (long long)s, fo.formats);
        }
        LP_FZ_CHECK(same(&a.token_mean, &b.token_mean), H, &p, "token_mean differs (want %#x)",
                    fo.formats);
        lp_ref_result_free(&a);
        lp_ref_result_free(&b);
    }
    lp_fz_free(&p);
    return 0;
}
