/* fz_sample.c: the processed reference of SPEC A7 (reference/sample.c) on any decoded problem.
 *
 * Parameters from the tail bytes (gen/lp_fuzz_decode.h; k8..k11 are harness-specific here):
 *   k11 bit 0 top_k = k8 % 72 (0: not set), bit 1 top_p = TOP_P[k9 % 16], bit 2 min_p =
 *   MIN_P[k10 % 16], bit 3 softcap = CAP[(k11 >> 4) & 3]; bit 6 two threads; bit 7 the outputs
 *   f64, f32, f16, bf16 only (tiers 1 and 2 on plain and masked rows) instead of all with the dd.
 * CONTRACT checked:
 *   (1) fast = MPFR: the default route (double kept-set decisions, tiers on the masked rows) and
 *       the slow route (lp_ref_options.slow: MPFR decisions and the Ziv loop, one thread) give the
 *       same status and, on success, the same bits for every token, sum, mean, count and the token
 *       mean (the wanted formats, and the dd when wanted);
 *   (2) tie rules, on every counted row without NaN / +inf (lp_ref_kept): the kept set holds the
 *       maximum, holds every logit at least as large as one it holds (so ties are kept or dropped
 *       together), never holds -inf; with top_k fewer than k logits lie strictly above any kept
 *       one; with min_p = 1 exactly the maxima; the label kept iff its value is not -inf;
 *   (3) without softcap, each counted token equals A1's lp_ref_row of the row with the logits
 *       outside the kept set at -inf (the same real), and the probe token equals
 *       lp_ref_row_sampled;
 *   (4) a sequence with a counted token whose exact value is -inf (its label at -inf or filtered
 *       out: not a finite value that overflowed f64) and no NaN one has sum and mean -inf.
 * A failure prints the decoded problem (fz_fail.c) and the parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_decode.h"
#include "lp_core.h"
#include "lpcert.h"

#define H "fz_sample"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const double TOP_P[16] = {1.0, 0.5, 0.9, 0.95, 0.99, 0.999, 0.1, 0x1p-1074,
                                 0x1.fffffffffffffp-1, 0.8, 0.75, 0.3, 0x1p-30, 0.6, 0.25, 0.7};
static const double MIN_P[16] = {1.0, 0.5, 0.1, 0.05, 0.01, 0.001, 0x1p-1074, 0x1.fffffffffffffp-1,
                                 0.2, 0.3, 0.9, 1e-10, 0.02, 0.6, 0x1p-60, 0.367879441171442};
static const double CAP[4] = {30.0, 5.0, 1.0, 0x1p-3};

static int same(const lp_value *a, const lp_value *b, unsigned want)
{
    int ok = 1;
    if (want & (1u << LP_F64)) ok &= lp_bits_f64(a->f64) == lp_bits_f64(b->f64);
    if (want & (1u << LP_F32)) ok &= lp_bits_f32(a->f32) == lp_bits_f32(b->f32);
    if (want & (1u << LP_F16)) ok &= a->f16 == b->f16;
    if (want & (1u << LP_BF16)) ok &= a->bf16 == b->bf16;
    if (want & LP_REF_DD)
        ok &= lp_bits_f64(a->dd.hi) == lp_bits_f64(b->dd.hi) && lp_bits_f64(a->dd.lo) == lp_bits_f64(b->dd.lo);
    return ok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    lp_fz_init();
    return 0;
}

/* Checks (2) and (3) on counted token i of p (row r, label y); 1 when its exact value is -inf
 * (the label at -inf or filtered out, in a row that is not NaN), else 0. */
static int check_row(const lp_fz_problem *p, int64_t i, const void *row, int64_t y,
                      const lp_value *got, unsigned want, const char *ps)
{
    const lp_problem *pb = &p->pb;
    const int64_t V = pb->shape.V;
    const size_t esz = (size_t)lp_format_get(pb->fmt)->bytes;
    for (int64_t j = 0; j < V; j++) {
        const double x = lp_load_f64(row, pb->fmt, (size_t)j);
        if (isnan(x) || x == HUGE_VAL) return 0; /* a NaN row: nothing is kept */
    }
    uint8_t kept[LP_FZ_MAX_LOGITS];
    lp_error err = {LP_OK, ""};
    LP_FZ_CHECK(lp_ref_kept(kept, row, pb->fmt, V, pb->temperature, &pb->sampling, &err) == LP_OK,
                H, p, "lp_ref_kept (token %lld): %s [%s]", (long long)i, err.msg, ps);
    double m = -HUGE_VAL, least_kept = HUGE_VAL;
    int64_t nfin = 0;
    for (int64_t j = 0; j < V; j++) {
        const double x = lp_load_f64(row, pb->fmt, (size_t)j);
        if (x > m) m = x;
        nfin += x != -HUGE_VAL;
        if (kept[j] && x < least_kept) least_kept = x;
        LP_FZ_CHECK(!kept[j] || x != -HUGE_VAL, H, p, "token %lld: -inf logit %lld kept [%s]",
                    (long long)i, (long long)j, ps);
    }
    if (nfin == 0) return 0;
    int64_t above = 0;
    for (int64_t j = 0; j < V; j++) {
        const double x = lp_load_f64(row, pb->fmt, (size_t)j);
        if (x == -HUGE_VAL) continue;
        LP_FZ_CHECK(kept[j] == (x >= least_kept), H, p,
                    "token %lld: kept set not closed upward (logit %lld = %a kept %d, least kept "
                    "%a) [%s]", (long long)i, (long long)j, x, kept[j], least_kept, ps);
        above += x > least_kept;
        if (pb->sampling.min_p == 1)
            LP_FZ_CHECK(kept[j] == (x == m), H, p, "token %lld: min_p 1 keeps logit %lld = %a "
                        "(max %a): %d [%s]", (long long)i, (long long)j, x, m, kept[j], ps);
    }
    LP_FZ_CHECK(least_kept <= m, H, p, "token %lld: the maximum is not kept [%s]", (long long)i, ps);
    if (pb->sampling.top_k > 0)
        LP_FZ_CHECK(above < pb->sampling.top_k, H, p, "token %lld: %lld logits above the least "
                    "kept, top_k %lld [%s]", (long long)i, (long long)above,
                    (long long)pb->sampling.top_k, ps);
    const double xy = lp_load_f64(row, pb->fmt, (size_t)y);
    /* a kept label is finite unless its gap overflows f64 (x_y - m near -2^1025) */
    LP_FZ_CHECK(kept[y] ? got->f64 != -HUGE_VAL || !((m - xy) / pb->temperature < 0x1p1023)
                        : got->f64 == -HUGE_VAL, H, p,
                "token %lld: logp %a but the label (%a) kept %d [%s]", (long long)i, got->f64, xy,
                kept[y], ps);
    if (pb->sampling.softcap != 0) return !kept[y];
    /* (3) A1 on the masked row */
    void *mrow = malloc((size_t)V * esz);
    LP_FZ_CHECK(mrow != NULL, H, p, "out of memory");
    memcpy(mrow, row, (size_t)V * esz);
    for (int64_t j = 0; j < V; j++)
        if (!kept[j]) {
            const uint64_t ninf = pb->fmt == LP_F64 ? 0xfff0000000000000u : pb->fmt == LP_F32 ? 0xff800000u
                                  : pb->fmt == LP_F16 ? 0xfc00u : 0xff80u;
            memcpy((char *)mrow + (size_t)j * esz, &ninf, esz); /* little endian */
        }
    lp_value a;
    lp_status s = lp_ref_row(&a, mrow, pb->fmt, V, y, pb->temperature, &err);
    free(mrow);
    LP_FZ_CHECK(s == LP_OK, H, p, "lp_ref_row on the masked row: %s", err.msg);
    if (!kept[y]) return 1; /* the masked row gives -inf too, by A3 rule 3 */
    LP_FZ_CHECK(same(&a, got, want), H, p,
                "token %lld: sampled f64 %016llx f32 %08x dd (%a, %a) but A1 on the masked row "
                "f64 %016llx f32 %08x dd (%a, %a) [%s]", (long long)i,
                (unsigned long long)lp_bits_f64(got->f64), (unsigned)lp_bits_f32(got->f32),
                got->dd.hi, got->dd.lo, (unsigned long long)lp_bits_f64(a.f64),
                (unsigned)lp_bits_f32(a.f32), a.dd.hi, a.dd.lo, ps);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    const uint8_t k8 = p.param[8], k9 = p.param[9], k10 = p.param[10], k11 = p.param[11];
    lp_sampling *sp = &p.pb.sampling;
    if (k11 & 1) sp->top_k = k8 % 72;
    if (k11 & 2) sp->top_p = TOP_P[k9 % 16];
    if (k11 & 4) sp->min_p = MIN_P[k10 % 16];
    if (k11 & 8) sp->softcap = CAP[(k11 >> 4) & 3];
    char ps[160];
    snprintf(ps, sizeof ps, "softcap %a top_k %lld top_p %a min_p %a", sp->softcap,
             (long long)sp->top_k, sp->top_p, sp->min_p);
    const unsigned want = (k11 & 0x80) ? 0xfu : LP_REF_ALL;
    lp_ref_options fo = LP_REF_OPTIONS_INIT, so = LP_REF_OPTIONS_INIT;
    fo.formats = so.formats = want;
    fo.threads = (k11 & 0x40) ? 2 : 1;
    so.threads = 1;
    so.slow = 1;
    lp_ref_result a, b;
    lp_error ea = {LP_OK, ""}, eb = {LP_OK, ""};
    const lp_status sa = lp_ref_compute_opts(&a, &p.pb, &fo, &ea);
    const lp_status sb = lp_ref_compute_opts(&b, &p.pb, &so, &eb);
    LP_FZ_CHECK(sa == sb, H, &p, "status fast %d (%s) slow %d (%s) [%s]", (int)sa, ea.msg, (int)sb,
                eb.msg, ps);
    if (sa != LP_OK) {
        lp_fz_free(&p);
        return 0;
    }
    const int64_t Ts = a.Ts, T = p.pb.shape.T, V = p.pb.shape.V;
    const size_t esz = (size_t)lp_format_get(p.pb.fmt)->bytes;
    for (int64_t i = 0; i < a.B * Ts; i++) {
        LP_FZ_CHECK(a.counted[i] == b.counted[i], H, &p, "counted[%lld] differs", (long long)i);
        const lp_value *x = &a.logp[i], *y = &b.logp[i];
        LP_FZ_CHECK(same(x, y, want), H, &p,
                    "token %lld (want %#x): fast f32 %08x f16 %04x bf16 %04x f64 %016llx dd (%a, "
                    "%a), slow f32 %08x f16 %04x bf16 %04x f64 %016llx dd (%a, %a) [%s]",
                    (long long)i, want, (unsigned)lp_bits_f32(x->f32), x->f16, x->bf16,
                    (unsigned long long)lp_bits_f64(x->f64), x->dd.hi, x->dd.lo,
                    (unsigned)lp_bits_f32(y->f32), y->f16, y->bf16,
                    (unsigned long long)lp_bits_f64(y->f64), y->dd.hi, y->dd.lo, ps);
    }
    for (int64_t s = 0; s < a.B; s++) {
        LP_FZ_CHECK(a.count[s] == b.count[s], H, &p, "count[%lld] differs", (long long)s);
        LP_FZ_CHECK(same(&a.sum[s], &b.sum[s], want) && same(&a.mean[s], &b.mean[s], want), H, &p,
                    "sequence %lld (want %#x): fast sum %016llx mean %016llx, slow sum %016llx mean "
                    "%016llx [%s]", (long long)s, want, (unsigned long long)lp_bits_f64(a.sum[s].f64),
                    (unsigned long long)lp_bits_f64(a.mean[s].f64),
                    (unsigned long long)lp_bits_f64(b.sum[s].f64),
                    (unsigned long long)lp_bits_f64(b.mean[s].f64), ps);
    }
    LP_FZ_CHECK(same(&a.token_mean, &b.token_mean, want), H, &p, "token_mean differs [%s]", ps);
    /* (2), (3) on every counted token; lp_ref_row_sampled on the probe token */
    const int64_t ntok = a.B * Ts, probe = ntok > 0 ? (int64_t)(p.param[10] % (unsigned)ntok) : 0;
    uint8_t ninf[LP_FZ_MAX_TOKENS] = {0}, nan[LP_FZ_MAX_TOKENS] = {0}; /* per sequence */
    for (int64_t i = 0; i < a.B * Ts; i++) {
        if (!b.counted[i]) continue;
        const int64_t bb = i / Ts, ts = i % Ts, t = p.pb.shift == LP_SHIFT_NEXT ? ts + 1 : ts;
        const void *row = (const char *)p.logits + (size_t)((bb * T + ts) * V) * esz;
        const int64_t y = lp_fz_label(&p, (size_t)(bb * T + t));
        ninf[bb] |= (uint8_t)check_row(&p, i, row, y, &b.logp[i], want, ps);
        nan[bb] |= (uint8_t)isnan(b.logp[i].f64);
        if (i == probe) {
            lp_value v;
            lp_error e = {LP_OK, ""};
            LP_FZ_CHECK(lp_ref_row_sampled(&v, row, p.pb.fmt, V, y, p.pb.temperature, sp, &e) == LP_OK,
                        H, &p, "lp_ref_row_sampled: %s", e.msg);
            LP_FZ_CHECK(same(&v, &b.logp[i], want), H, &p,
                        "lp_ref_row_sampled differs from lp_ref_compute at token %lld [%s]",
                        (long long)i, ps);
        }
    }
    /* (4): an exact -inf token (not one that overflowed f64) and no NaN one */
    for (int64_t s = 0; s < a.B; s++)
        if (ninf[s] && !nan[s])
            LP_FZ_CHECK(b.sum[s].f64 == -HUGE_VAL && b.mean[s].f64 == -HUGE_VAL, H, &p,
                        "sequence %lld has a -inf token: sum %a mean %a [%s]", (long long)s,
                        b.sum[s].f64, b.mean[s].f64, ps);
    lp_ref_result_free(&a);
    lp_ref_result_free(&b);
    lp_fz_free(&p);
    return 0;
}
