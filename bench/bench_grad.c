/* bench/bench_grad.c: the exact gradient reference (reference/grad.c, grad_fast.c) against plain
 * f32 kernels, in one run (issue 14; never a timed test). For V = 32000 and 128256 and f32 logits
 * (normal, scale 3), one thread, gradient elements per second of
 *   plain fwd   the forward anchor of bench_fast.c (plain_f32.c: one row's logp, two passes),
 *               counted as V elements a row,
 *   plain grad  the backward anchor (plain_grad_f32.c: softmax - onehot in f32, three passes),
 *   ref --grad  lp_grad_compute with f64, f32, f16 and bf16 wanted (what `lpcert ref --grad`
 *               writes: the fast path, grad_fast.c), token reduction, a sink that reads the row,
 *   narrow      the same with f32, f16 and bf16 wanted,
 *   MPFR        the MPFR route (lp_ref_options.slow), on one row,
 * each also as a ratio to the plain gradient. Best of 3 on --rows rows (default 8), interleaved;
 * the MPFR route once. The counts of elements the fast path left to MPFR are printed.
 *
 * usage: build/bench/lp_bench_grad [--rows N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lp_rng.h"
#include "lpcert.h"

void lp_bench_plain_grad_f32(float *restrict g, const float *restrict x, int64_t V, int64_t y);
float lp_bench_plain_f32(const float *restrict x, int64_t V, int64_t y);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double sink_acc;

static int sink(void *user, int64_t b, int64_t t, const lp_value *g, int64_t V, lp_error *err)
{
    (void)user, (void)b, (void)t, (void)err;
    sink_acc += (double)g[V / 2].f32;
    return 0;
}

static double grad_run(const float *rows, const int64_t *lab, int64_t R, int64_t V, unsigned want,
                       int slow, lp_grad_stats *st)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, R, V};
    pb.fmt = LP_F32;
    pb.logits = rows;
    pb.labels = lab;
    pb.shift = LP_SHIFT_NONE;
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 1;
    o.formats = want;
    o.slow = slow;
    lp_error err;
    const double t0 = now();
    if (lp_grad_compute(&pb, LP_RED_TOKEN, &o, sink, NULL, st, &err) != LP_OK) {
        fprintf(stderr, "lp_bench_grad: %s\n", err.msg);
        exit(1);
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    int64_t R = 8;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) R = atoll(argv[++i]);
    printf("lp_bench_grad: f32 logits, normal scale 3, one thread, %lld rows; gradient elements/s "
           "and the ratio to the plain f32 gradient\n", (long long)R);
    printf("%-7s %-10s %-10s %-10s %-7s %-10s %-7s %-10s %-8s %s\n", "V", "plain fwd", "plain grad",
           "ref --grad", "ratio", "narrow", "ratio", "MPFR", "ratio", "left to MPFR");
    static const int64_t Vs[] = {32000, 128256};
    const unsigned all4 = 0xfu, narrow = 0xeu;
    for (int v = 0; v < 2; v++) {
        const int64_t V = Vs[v];
        float *rows = malloc((size_t)(R * V) * sizeof *rows), *g = malloc((size_t)V * sizeof *g);
        int64_t *lab = malloc((size_t)R * sizeof *lab);
        lp_rng rng;
        lp_rng_init(&rng, 7);
        for (int64_t j = 0; j < R * V; j++) rows[j] = (float)(3 * lp_rng_normal(&rng));
        for (int64_t r = 0; r < R; r++) lab[r] = (int64_t)(lp_rng_next(&rng) % (uint64_t)V);
        double tf = 1e30, tg = 1e30, t4 = 1e30, tn = 1e30;
        lp_grad_stats s4, sn, sm;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (int64_t r = 0; r < R; r++) sink_acc += (double)lp_bench_plain_f32(rows + r * V, V, lab[r]);
            double t1 = now();
            if (t1 - t0 < tf) tf = t1 - t0;
            for (int64_t r = 0; r < R; r++) {
                lp_bench_plain_grad_f32(g, rows + r * V, V, lab[r]);
                sink_acc += (double)g[V / 2];
            }
            t0 = now();
            if (t0 - t1 < tg) tg = t0 - t1;
            double t = grad_run(rows, lab, R, V, all4, 0, &s4);
            if (t < t4) t4 = t;
            t = grad_run(rows, lab, R, V, narrow, 0, &sn);
            if (t < tn) tn = t;
        }
        const double tm = grad_run(rows, lab, 1, V, all4, 1, &sm);
        const double n = (double)(R * V), plain = n / tg;
        printf("%-7lld %-10.3g %-10.3g %-10.3g %-7.3f %-10.3g %-7.3f %-10.3g %-8.4f %lld, %lld\n",
               (long long)V, n / tf, plain, n / t4, n / t4 / plain, n / tn, n / tn / plain,
               (double)V / tm, (double)V / tm / plain, (long long)s4.fallback,
               (long long)sn.fallback);
        free(rows);
        free(g);
        free(lab);
    }
    printf("(checksum %g)\n", sink_acc);
    return 0;
}
