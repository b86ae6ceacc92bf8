/* bench/bench_ratio.c: throughput ratios measured in one run (never a timed test).
 * For V = 32000, 128256, 256000 and f32 logits (normal, scale 3): logits/s of
 *   read     a plain memory read of the rows (sum of the floats: the bandwidth floor),
 *   kernel   every registered f32 kernel (lp_kernel_row), the fastest reported,
 *   exact    the exact reference (lp_ref_row: every format and the double-double decided),
 * and the ratios exact/kernel and kernel/read. One core, rows in cache where they fit.
 * usage: build/bench/lp_bench [--rows N] */
#include <math.h>
#include <time.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_impl.h"
#include "lp_rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of 3 timings of f over all rows, as logits per second. */
typedef double (*pass_fn)(const void *ctx, const float *rows, int64_t R, int64_t V);

static double rate(pass_fn f, const void *ctx, const float *rows, int64_t R, int64_t V, int reps)
{
    double best = HUGE_VAL;
    volatile double sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        sink += f(ctx, rows, R, V);
        double t = now() - t0;
        if (t < best) best = t;
    }
    (void)sink;
    return (double)(R * V) / best;
}

static double pass_read(const void *ctx, const float *rows, int64_t R, int64_t V)
{
    (void)ctx;
    double s = 0;
    for (int64_t i = 0; i < R * V; i++) s += (double)rows[i];
    return s;
}

static double pass_kernel(const void *ctx, const float *rows, int64_t R, int64_t V)
{
    const lp_kernel *k = ctx;
    double s = 0, y;
    lp_error err;
    for (int64_t r = 0; r < R; r++)
        if (lp_kernel_row(&y, k, rows + r * V, LP_F32, V, (r * 7919) % V, 1.0, &err) == LP_OK) s += y;
    return s;
}

static double pass_exact(const void *ctx, const float *rows, int64_t R, int64_t V)
{
    (void)ctx;
    double s = 0;
    lp_value v;
    lp_error err;
    for (int64_t r = 0; r < R; r++)
        if (lp_ref_row(&v, rows + r * V, LP_F32, V, (r * 7919) % V, 1.0, &err) == LP_OK) s += v.f64;
    return s;
}

int main(int argc, char **argv)
{
    int64_t rows_exact = 2;
    if (argc == 3 && strcmp(argv[1], "--rows") == 0) rows_exact = atoll(argv[2]);
    static const int64_t Vs[] = {32000, 128256, 256000};
    printf("lp_bench: f32 logits, normal scale 3, one core; logits/s (best of 3; exact: 1 pass of %lld rows)\n",
           (long long)rows_exact);
    printf("%-7s %-10s %-10s %-28s %-10s %-12s %-10s\n", "V", "read", "kernel", "fastest f32 kernel",
           "exact", "exact/kern", "kern/read");
    for (int i = 0; i < 3; i++) {
        const int64_t V = Vs[i], R = 16;
        float *rows = malloc((size_t)(R * V) * sizeof *rows);
        if (!rows) return 1;
        lp_rng rng;
        lp_rng_init(&rng, 0xbe7c4u + (uint64_t)i);
        for (int64_t j = 0; j < R * V; j++) rows[j] = (float)(3 * lp_rng_normal(&rng));
        double r_read = rate(pass_read, NULL, rows, R, V, 5);
        double r_kern = 0;
        const char *kname = "?";
        for (size_t k = 0; k < lp_kernel_count(); k++) {
            const lp_kernel *ker = lp_kernel_at(k);
            if (ker->storage != LP_F32 || ker->out != LP_F32) continue;
            if (ker->family == LP_KF_NAIVE) continue; /* not correct on this domain in general */
            double r = rate(pass_kernel, ker, rows, R, V, 3);
            if (r > r_kern) {
                r_kern = r;
                kname = ker->name;
            }
        }
        double r_exact = rate(pass_exact, NULL, rows, rows_exact < R ? rows_exact : R, V, 1);
        printf("%-7lld %-10.3g %-10.3g %-28s %-10.3g %-12.3g %-10.3g\n", (long long)V, r_read, r_kern,
               kname, r_exact, r_exact / r_kern, r_kern / r_read);
        free(rows);
    }
    return 0;
}
