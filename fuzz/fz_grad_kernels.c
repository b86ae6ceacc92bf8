/* fz_grad_kernels.c: on any decoded problem, every backward kernel (impl/lp_grad.h) stays within its
 * stated contract against the exact gradient reference (lp_grad_compute, SPEC A8).
 *
 * The reduction is the problem's tail byte k0 mod 4 (token, sum, mean, token_mean). For each
 * backward kernel (those that do not read the problem's format must refuse it with LP_ERR_USAGE):
 *  CONTRACT  every element of every row: a row that scores nothing is +0 (bits); a counted row is
 *            judged by lp_gkernel_judge against lp_gkernel_promise_row (NaN everywhere for a
 *            special row; else |g^ - g| <= rel |g| + scale w/tau + abs where in the domain);
 *  ROW       lp_gkernel_row on a counted row gives the same bits as lp_gkernel_run;
 *  ERRORS    where the reference rejects the problem (LP_ERR_INPUT: an out-of-range label, a bad
 *            mask, a bad temperature), every kernel rejects it too, with the same status.
 * A reference status other than LP_OK and LP_ERR_INPUT is a finding (of the reference). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_check.h"
#include "fz_decode.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_grad.h"
#include "lp_problem.h"
#include "lpcert.h"

#define H "fz_grad_kernels"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rbuf { lp_value *v; int64_t T; } rbuf;

static int ref_sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)err;
    rbuf *r = user;
    memcpy(r->v + ((size_t)b * (size_t)r->T + (size_t)t) * (size_t)V, g, (size_t)V * sizeof *g);
    return 0;
}

typedef struct kbuf { double *v; int64_t T; } kbuf;

static int k_sink(void *user, int64_t b, int64_t t, const double *g, int64_t V, lp_error *err)
{
    (void)err;
    kbuf *r = user;
    memcpy(r->v + ((size_t)b * (size_t)r->T + (size_t)t) * (size_t)V, g, (size_t)V * sizeof *g);
    return 0;
}

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    lp_fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_fz_problem p;
    if (!lp_fz_decode(&p, data, size)) return 0;
    const lp_problem *pb = &p.pb;
    const lp_reduction red = (lp_reduction)(p.param[0] % 4);
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    lp_error err = {LP_OK, ""};
    lp_status rs = lp_problem_check(pb, &err);
    const size_t n = rs == LP_OK ? (size_t)(B * T * V) : 1;
    lp_value *ref = malloc((n ? n : 1) * sizeof *ref);
    double *got = malloc((n ? n : 1) * sizeof *got);
    int64_t *div = malloc((size_t)(B > 0 ? B : 1) * sizeof *div);
    double *row = malloc((size_t)(V > 0 ? V : 1) * sizeof *row);
    if (!ref || !got || !div || !row) {
        free(ref);
        free(got);
        free(div);
        free(row);
        lp_fz_free(&p);
        return 0;
    }
    if (rs == LP_OK) {
        rbuf rb = {ref, T};
        lp_ref_options ro = LP_REF_OPTIONS_INIT;
        ro.threads = 1;
        rs = lp_grad_compute(pb, red, &ro, ref_sink, &rb, NULL, &err);
    }
    LP_FZ_CHECK(rs == LP_OK || rs == LP_ERR_INPUT || rs == LP_ERR_USAGE, H, &p,
                "gradient reference: %s: %s", lp_status_name(rs), err.msg);
    if (rs == LP_OK) lp_grad_divisors(div, pb, red);
    const int64_t Ts = rs == LP_OK ? lp_problem_ts(pb) : 0;
    for (size_t ki = 0; ki < lp_gkernel_count(); ki++) {
        const lp_gkernel *k = lp_gkernel_at(ki);
        kbuf kb = {got, T};
        lp_error ke = {LP_OK, ""};
        const lp_status ks = lp_gkernel_run(k, pb, red, k_sink, &kb, &ke);
        if (!lp_gkernel_accepts(k, pb->fmt)) {
            LP_FZ_CHECK(ks == LP_ERR_USAGE, H, &p, "kernel %s runs on %s logits it does not read",
                        k->name, lp_format_name(pb->fmt));
            continue;
        }
        if (rs != LP_OK) {
            LP_FZ_CHECK(ks == rs, H, &p, "kernel %s: status %s where the reference says %s (%s)",
                        k->name, lp_status_name(ks), lp_status_name(rs), err.msg);
            continue;
        }
        LP_FZ_CHECK(ks == LP_OK, H, &p, "kernel %s: %s", k->name, ke.msg);
        int row_checked = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                const int counted = t < Ts && lp_problem_counted(pb, b, t);
                const int64_t label =
                    counted ? lp_problem_label(pb, b, lp_problem_label_t(pb, t)) : -1;
                const void *r = lp_problem_row(pb, b, t);
                lp_gpromise pr = {0, 1, 0, 0, 0};
                double c = 0;
                if (counted) {
                    pr = lp_gkernel_promise_row(k, r, pb->fmt, V, label, pb->temperature, div[b]);
                    c = (1.0 / (double)div[b]) / pb->temperature;
                }
                const size_t base = ((size_t)b * (size_t)T + (size_t)t) * (size_t)V;
                for (int64_t i = 0; i < V; i++) {
                    const lp_value *x = &ref[base + (size_t)i];
                    const double y = got[base + (size_t)i];
                    double ratio;
                    if (lp_gkernel_judge(&pr, counted, y, x, c, &ratio)) continue;
                    lp_fz_fail(H, &p, "kernel %s breaks its contract: reduction %s b=%lld t=%lld "
                               "i=%lld label=%lld counted=%d\n  got %a (%.17g)\n  exact %a %+a "
                               "(%s %a)\n  promise special=%d in_domain=%d rel=%a scale=%a abs=%a "
                               "c=%a; bound %a ratio %g\n  contract: %s", k->name,
                               lp_reduction_name(red), (long long)b, (long long)t, (long long)i,
                               (long long)label, counted, y, y, x->dd.hi, x->dd.lo,
                               lp_format_name(k->out), lp_value_wide(x, k->out), pr.special,
                               pr.in_domain, pr.rel, pr.scale, pr.abs, c,
                               counted ? lp_gpromise_bound(&pr, x->dd.hi, c) : 0.0, ratio,
                               lp_gkernel_bound_text(k));
                }
                if (counted && !row_checked) {   /* the row entry: the same bits */
                    row_checked = 1;
                    const lp_status s1 = lp_gkernel_row(row, k, r, pb->fmt, V, label,
                                                        pb->temperature, div[b], &ke);
                    LP_FZ_CHECK(s1 == LP_OK, H, &p, "kernel %s: lp_gkernel_row: %s", k->name, ke.msg);
                    for (int64_t i = 0; i < V; i++)
                        LP_FZ_CHECK(dbits(row[i]) == dbits(got[base + (size_t)i]), H, &p,
                                    "kernel %s: lp_gkernel_row element %lld is %a, the run's %a",
                                    k->name, (long long)i, row[i], got[base + (size_t)i]);
                }
            }
    }
    free(ref);
    free(got);
    free(div);
    free(row);
    lp_fz_free(&p);
    return 0;
}
