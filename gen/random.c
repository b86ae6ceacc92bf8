/* gen/random.c: seeded random problems and inputs (lp_gen_random.h): certify's random problems
 * (from cli/cmd_certify.c), the batch-invariance fillers (from check/batch.c) and the fuzz
 * command's random inputs (from cli/cmd_fuzz.c). The draws are made in the same order as before
 * the move, so a seed gives the same problems. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_fuzz_decode.h"
#include "lp_gen_random.h"
#include "lp_problem.h"

lp_status lp_gen_random(lp_case *c, lp_rng *rng, unsigned fmts, int temp_ok, lp_error *err)
{
    static const int64_t Vs[] = {1, 2, 3, 7, 16, 50, 128, 333, 1000};
    static const double scales[] = {0.5, 2, 8, 32};
    static const double taus[] = {0.5, 0.7, 2, 0.01};
    memset(c, 0, sizeof *c);
    snprintf(c->family, sizeof c->family, "%s", "random");
    int nf = 0, fl[LP_NFORMATS];
    for (int f = 0; f < LP_NFORMATS; f++)
        if (fmts & (1u << f)) fl[nf++] = f;
    if (nf == 0) return lp_fail(err, LP_ERR_USAGE, "random problem: no logits format to draw from");
    const lp_format fmt = (lp_format)fl[lp_rng_below(rng, (uint64_t)nf)];
    const int64_t B = 1 + (int64_t)lp_rng_below(rng, 4), T = 2 + (int64_t)lp_rng_below(rng, 32);
    const int64_t V = Vs[lp_rng_below(rng, sizeof Vs / sizeof Vs[0])];
    const double scale = scales[lp_rng_below(rng, 4)];
    const size_t n = (size_t)(B * T * V);
    c->logits = malloc(n * (size_t)lp_format_get(fmt)->bytes);
    c->labels = malloc((size_t)(B * T) * sizeof *c->labels);
    c->mask = malloc((size_t)(B * T));
    if (!c->logits || !c->labels || !c->mask) {
        lp_case_free(c);
        return lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for a random problem");
    }
    lp_problem *pb = &c->pb;
    *pb = (lp_problem)LP_PROBLEM_INIT;
    pb->shape = (lp_shape){B, T, V};
    pb->fmt = fmt;
    pb->logits = c->logits;
    pb->labels = c->labels;
    pb->shift = lp_rng_below(rng, 5) == 0 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    pb->empty_mean = lp_rng_below(rng, 2) ? LP_EMPTY_ZERO : LP_EMPTY_NAN;
    if (temp_ok && lp_rng_below(rng, 5) == 0) pb->temperature = taus[lp_rng_below(rng, 4)];
    const int neginf = lp_rng_below(rng, 4) == 0, peaked = lp_rng_below(rng, 4) == 0;
    const int use_mask = lp_rng_below(rng, 3) == 0, traps = lp_rng_below(rng, 4) == 0;
    for (size_t i = 0; i < n; i++) {
        double x = scale * lp_rng_normal(rng);
        if (neginf && lp_rng_below(rng, 4) == 0) x = -HUGE_VAL;
        lp_store_f64(c->logits, fmt, i, x);
    }
    for (int64_t b = 0; b < B; b++) {
        const int empty = lp_rng_below(rng, 10) == 0;
        for (int64_t t = 0; t < T; t++) {
            int64_t y = (int64_t)lp_rng_below(rng, (uint64_t)V);
            if (empty || lp_rng_below(rng, 8) == 0) y = -100;
            c->labels[b * T + t] = y;
            c->mask[b * T + t] = use_mask && lp_rng_below(rng, 6) == 0 ? 0 : 1;
        }
    }
    if (use_mask) pb->mask = c->mask;
    const int64_t Ts = lp_problem_ts(pb);
    for (int64_t b = 0; b < B; b++)
        for (int64_t ts = 0; ts < Ts; ts++) {
            const size_t row = (size_t)((b * T + ts) * V);
            const int64_t y = c->labels[b * T + lp_problem_label_t(pb, ts)];
            if (peaked && y >= 0) lp_store_f64(c->logits, fmt, row + (size_t)y, 12 + 4 * lp_rng_unif(rng));
            if (traps && !lp_problem_counted(pb, b, ts) && lp_rng_below(rng, 3) == 0) {
                const uint64_t k = lp_rng_below(rng, 3);
                const double v = k == 0 ? (double)NAN : k == 1 ? HUGE_VAL : -HUGE_VAL;
                lp_store_f64(c->logits, fmt, row + (k == 2 ? 0 : (size_t)lp_rng_below(rng, (uint64_t)V)), v);
            }
        }
    return LP_OK;
}

void lp_gen_filler(void *logits, void *labels, lp_format fmt, lp_itype lt, int64_t T, int64_t V,
                   lp_rng *rng)
{
    for (int64_t i = 0; i < T * V; i++) lp_store_f64(logits, fmt, (size_t)i, 3 * lp_rng_normal(rng));
    char *dy = labels;
    for (int64_t t = 0; t < T; t++) {
        int64_t y = (int64_t)lp_rng_below(rng, (uint64_t)V);
        if (lt == LP_I64) memcpy(dy + 8 * t, &y, 8);
        else { int32_t y32 = (int32_t)y; memcpy(dy + 4 * t, &y32, 4); }
    }
}

size_t lp_gen_fuzz_input(uint8_t *buf, size_t cap, lp_rng *rng, unsigned formats,
                         const uint8_t *taus, int ntau)
{
    const size_t nsel = (size_t)lp_rng_below(rng, 33), payload = (size_t)lp_rng_below(rng, 2049);
    const size_t n = payload + nsel + LP_FZ_NPARAM;
    if (n > cap) return 0;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)lp_rng_next(rng);
    uint8_t *k = buf + n - 1;   /* k[-j] is tail byte j */
    int fl[LP_NFORMATS], nf = 0;
    for (int f = 0; f < LP_NFORMATS; f++)
        if (formats & (1u << f)) fl[nf++] = f;
    k[0] = (uint8_t)((k[0] & ~3u) | (unsigned)fl[lp_rng_below(rng, (uint64_t)nf)]);
    if (lp_rng_below(rng, 8)) k[0] &= 0x7f;                  /* mask byte 2: an input error */
    if (ntau > 0 && lp_rng_below(rng, 16))
        k[-3] = (uint8_t)((k[-3] & 0xf0) | taus[lp_rng_below(rng, (uint64_t)ntau)]);
    if (lp_rng_below(rng, 8))
        for (size_t j = 0; j < nsel; j++) {
            uint8_t *s = k - LP_FZ_NPARAM - j;
            if (*s >= 0xf0) *s &= 0x7f;                     /* mostly out-of-range labels */
        }
    return n;
}
