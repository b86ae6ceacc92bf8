/* gen/report_families.c: the accuracy report's own problems (lp_gen_report.h), moved from
 * report/cases.c (near_zero, pair_exh) and report/sweep.c (the DPO quads); same draws in the same
 * order, so docs/ does not change. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_gen_report.h"
#include "lp_rng.h"

/* A case of shape shp in format f, shift none, zeroed arrays. */
static lp_status own_case(lp_case *c, const char *fam, lp_format f, lp_shape shp, lp_error *err)
{
    memset(c, 0, sizeof *c);
    snprintf(c->family, sizeof c->family, "%s", fam);
    snprintf(c->name, sizeof c->name, "%s/%s/0", fam, lp_format_name(f));
    c->pb = (lp_problem)LP_PROBLEM_INIT;
    c->pb.fmt = f;
    c->pb.shape = shp;
    c->pb.shift = LP_SHIFT_NONE;
    const size_t rows = (size_t)(shp.B * shp.T);
    c->logits = calloc(rows * (size_t)shp.V, (size_t)lp_format_get(f)->bytes);
    c->labels = calloc(rows, sizeof *c->labels);
    if (!c->logits || !c->labels) {
        lp_case_free(c);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    }
    c->pb.logits = c->logits;
    c->pb.labels = c->labels;
    return LP_OK;
}

/* Label probability 1 - q with q = 10^-(k/4): the label at the max m, the V-1 others at m - d with
 * (V-1) e^-d = q, jittered by a few quanta so the rows are not all alike. */
lp_status lp_gen_near_zero(lp_case *c, lp_format f, uint64_t seed, int quick, lp_error *err)
{
    static const double maxes[] = {0.0, 3.0, 17.0, -9.0};
    const int64_t V = 256, K = quick ? 41 : 161, R = K * 4;
    lp_status s = own_case(c, "near_zero", f, (lp_shape){1, R, V}, err);
    if (s != LP_OK) return s;
    lp_rng rng;
    lp_rng_init(&rng, seed ^ 0x6e6561727a65726full ^ (uint64_t)f);
    for (int64_t r = 0; r < R; r++) {
        const double k = (double)(r / 4) * (quick ? 1.0 : 0.25), m = maxes[r % 4];
        const double d = log((double)(V - 1)) + k * log(10.0);
        const int64_t y = (int64_t)lp_rng_below(&rng, (uint64_t)V);
        for (int64_t i = 0; i < V; i++) {
            double x = m;
            if (i != y) x = m - d - (double)lp_rng_below(&rng, 4) * 0x1p-6 * (d + 1);
            lp_store_f64(c->logits, f, (size_t)(r * V + i), x);
        }
        c->labels[r] = y;
    }
    return LP_OK;
}

/* Every finite value x of f16 and bf16 in a row (0, x), once with label 0 and once with label 1;
 * one token per sequence, so sums and means are the token itself. */
lp_status lp_gen_pair_exh(lp_case *c, lp_format f, int quick, int *exhaustive, lp_error *err)
{
    const unsigned step = quick ? 61 : 1;
    int64_t n = 0;
    for (unsigned h = 0; h < 65536; h += step)
        n += isfinite(f == LP_F16 ? lp_f16_to_f64((uint16_t)h) : lp_bf16_to_f64((uint16_t)h));
    lp_status s = own_case(c, "pair_exh", f, (lp_shape){2 * n, 1, 2}, err);
    if (s != LP_OK) return s;
    *exhaustive = step == 1;
    uint16_t *lg = c->logits;
    int64_t b = 0;
    for (unsigned h = 0; h < 65536; h += step) {
        const double x = f == LP_F16 ? lp_f16_to_f64((uint16_t)h) : lp_bf16_to_f64((uint16_t)h);
        if (!isfinite(x)) continue;
        for (int lab = 0; lab < 2; lab++, b++) {
            lg[2 * b] = 0;
            lg[2 * b + 1] = (uint16_t)h;
            c->labels[b] = lab;
        }
    }
    return LP_OK;
}

void *lp_gen_eighths_as(const int8_t *q, size_t n, lp_format f)
{
    void *p = malloc(n * (size_t)lp_format_get(f)->bytes);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) lp_store_f64(p, f, i, (double)q[i] / 8);
    return p;
}

/* Logits are multiples of 1/8 in [-8.125, 8.125] (a sum of four integer draws, close to a normal
 * of deviation 2.4); the label is the row's argmax with probability 1/2, else uniform. A policy row
 * is its reference row plus -1/8, 0 or +1/8 per logit, with the same labels. */
void lp_gen_dpo_quads(int8_t *q, int64_t *labels, int64_t quads, int64_t L, int64_t V,
                      uint64_t seed)
{
    lp_rng rng;
    lp_rng_init(&rng, seed ^ 0x73756d6d65616eull);
    for (int64_t qd = 0; qd < quads; qd++)
        for (int ch = 0; ch < 2; ch++) {             /* chosen, rejected */
            const int64_t bp = qd * LP_GEN_QUAD + 2 * ch, br = bp + 1;   /* policy, reference */
            for (int64_t t = 0; t < L; t++) {
                int8_t *rr = q + (br * L + t) * V, *rp = q + (bp * L + t) * V;
                int64_t am = 0;
                for (int64_t i = 0; i < V; i++) {
                    int s = -64;
                    for (int j = 0; j < 4; j++) s += (int)lp_rng_below(&rng, 33);
                    rr[i] = (int8_t)s;
                    if (s > rr[am]) am = i;
                    const uint64_t u = lp_rng_below(&rng, 4);
                    rp[i] = (int8_t)(s + (u == 0 ? -1 : u == 1 ? 1 : 0));
                }
                const int64_t y = lp_rng_below(&rng, 2) ? am : (int64_t)lp_rng_below(&rng, (uint64_t)V);
                labels[br * L + t] = labels[bp * L + t] = y;
            }
        }
}
