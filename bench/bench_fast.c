/* bench/bench_fast.c: the certified fast path against the fastest f32 kernel, in one run
 * (issue 7; never a timed test). For V = 32000, 128256, 256000 and f32 logits (normal, scale 3),
 * one core, logits/s of
 *   read      a plain memory read of the rows (sum of the floats),
 *   kernel    every registered f32 kernel (lp_kernel_row), the fastest reported,
 *   plain     a plain two-pass f32 loop built with -O3 -ffast-math (bench/plain_f32.c: glibc's
 *             vector expf, AVX2 where the CPU has it): what a framework's vectorised CPU kernel
 *             does, the anchor of issue 7's "3,000 times slower" (impl/'s kernels are scalar: they
 *             round every operation through a context, to model any accumulation format),
 *   ref f32   the exact reference, f32 wanted (lp_ref_compute_opts, formats = f32, 1 thread),
 *   ref f64   the exact reference, f64 wanted (formats = f64: tier 2, double-double, fast_dd.c),
 * and the ratios ref/kernel and ref/plain. Then the fallback rate of the fast path (f32, f16 and bf16 wanted;
 * then f64 wanted) on random families in every storage format.
 *
 * usage: build/bench/lp_bench_fast [--rows N]        the ratios and fallback rates
 *        build/bench/lp_bench_fast --write-big PATH   writes the B=8, T=4096, V=128256 bf16
 *                                                     safetensors file (8.4 GB) for bench/ref_big.sh
 */
#include <math.h>
#include <stdio.h>
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

static double pass_read(const float *rows, int64_t R, int64_t V)
{
    double s = 0;
    for (int64_t i = 0; i < R * V; i++) s += (double)rows[i];
    return s;
}

static double pass_kernel(const lp_kernel *k, const float *rows, int64_t R, int64_t V)
{
    double s = 0, y;
    lp_error err;
    for (int64_t r = 0; r < R; r++)
        if (lp_kernel_row(&y, k, rows + r * V, LP_F32, V, (r * 7919) % V, 1.0, &err) == LP_OK) s += y;
    return s;
}

/* The exact reference on R rows as one problem [1, R, V], shift none; returns its stats. */
static lp_ref_stats pass_ref(const void *rows, lp_format fmt, int64_t R, int64_t V, unsigned want,
                             int64_t *lab)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, R, V};
    pb.fmt = fmt;
    pb.logits = rows;
    pb.labels = lab;
    pb.shift = LP_SHIFT_NONE;
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = 1;
    o.formats = want;
    lp_ref_result res;
    lp_error err;
    lp_ref_stats st;
    memset(&st, 0, sizeof st);
    if (lp_ref_compute_opts(&res, &pb, &o, &err) != LP_OK) {
        fprintf(stderr, "lp_bench_fast: %s\n", err.msg);
        exit(1);
    }
    st = res.stats;
    lp_ref_result_free(&res);
    return st;
}

typedef double (*timed_fn)(const void *a, const float *rows, int64_t R, int64_t V);

static double t_read(const void *a, const float *rows, int64_t R, int64_t V)
{
    (void)a;
    return pass_read(rows, R, V);
}
static double t_kernel(const void *a, const float *rows, int64_t R, int64_t V)
{
    return pass_kernel(a, rows, R, V);
}
float lp_bench_plain_f32(const float *restrict x, int64_t V, int64_t y);

static double t_plain(const void *a, const float *rows, int64_t R, int64_t V)
{
    (void)a;
    double s = 0;
    for (int64_t r = 0; r < R; r++) s += (double)lp_bench_plain_f32(rows + r * V, V, (r * 7919) % V);
    return s;
}
static double t_ref32(const void *a, const float *rows, int64_t R, int64_t V)
{
    return (double)pass_ref(rows, LP_F32, R, V, 1u << LP_F32, (int64_t *)a).fallback;
}
static double t_ref64(const void *a, const float *rows, int64_t R, int64_t V)
{
    return (double)pass_ref(rows, LP_F32, R, V, 1u << LP_F64, (int64_t *)a).fallback;
}

/* Best of reps timings, logits/s. */
static double rate(timed_fn f, const void *a, const float *rows, int64_t R, int64_t V, int reps)
{
    double best = HUGE_VAL;
    volatile double sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        sink += f(a, rows, R, V);
        double t = now() - t0;
        if (t < best) best = t;
    }
    (void)sink;
    return (double)(R * V) / best;
}

static void ratios(int64_t R)
{
    static const int64_t Vs[] = {32000, 128256, 256000};
    printf("lp_bench_fast: f32 logits, normal scale 3, one core, %lld rows; logits/s (best of 3)\n",
           (long long)R);
    printf("%-7s %-9s %-9s %-24s %-9s %-9s %-9s %-9s %-9s %-10s %-10s\n", "V", "read", "kernel",
           "fastest f32 kernel", "plain", "ref f32", "ref f64", "f32/kern", "f64/kern", "f32/plain",
           "f64/plain");
    for (int i = 0; i < 3; i++) {
        const int64_t V = Vs[i];
        float *rows = malloc((size_t)(R * V) * sizeof *rows);
        int64_t *lab = malloc((size_t)R * sizeof *lab);
        if (!rows || !lab) exit(1);
        lp_rng rng;
        lp_rng_init(&rng, 0xbe7c4u + (uint64_t)i);
        for (int64_t j = 0; j < R * V; j++) rows[j] = (float)(3 * lp_rng_normal(&rng));
        for (int64_t r = 0; r < R; r++) lab[r] = (r * 7919) % V;
        double r_read = rate(t_read, NULL, rows, R, V, 5), r_kern = 0;
        const char *kname = "?";
        for (size_t k = 0; k < lp_kernel_count(); k++) {
            const lp_kernel *ker = lp_kernel_at(k);
            if (ker->storage != LP_F32 || ker->out != LP_F32) continue;
            if (ker->family == LP_KF_NAIVE) continue; /* not correct on this domain in general */
            double r = rate(t_kernel, ker, rows, R, V, 3);
            if (r > r_kern) {
                r_kern = r;
                kname = ker->name;
            }
        }
        double r_plain = rate(t_plain, NULL, rows, R, V, 5);
        double r32 = rate(t_ref32, lab, rows, R, V, 3);
        double r64 = rate(t_ref64, lab, rows, R, V, 3);
        printf("%-7lld %-9.3g %-9.3g %-24s %-9.3g %-9.3g %-9.3g %-9.3g %-9.3g %-10.3g %-10.3g\n",
               (long long)V, r_read, r_kern, kname, r_plain, r32, r64, r32 / r_kern, r64 / r_kern,
               r32 / r_plain, r64 / r_plain);
        free(rows);
        free(lab);
    }
}

/* Fallback rates of the fast path, want (f32 + f16 + bf16, or f64), per random family and format. */
static void fallback_rates(int64_t R, int64_t V, unsigned want)
{
    static const char *fams[] = {"normal3", "wide40", "peaked", "masked", "ties", "uniform"};
    printf("\nfallback to MPFR, wanted %s, %lld rows of V = %lld per family and format:\n",
           want == (1u << LP_F64) ? "{f64} (tier 2)" : "{f32, f16, bf16}", (long long)R, (long long)V);
    printf("%-9s %-22s %-22s %-22s %-22s\n", "family", "f64", "f32", "f16", "bf16");
    int64_t *lab = malloc((size_t)R * sizeof *lab);
    unsigned char *x = malloc((size_t)(R * V) * 8);
    for (int f = 0; f < 6; f++) {
        printf("%-9s", fams[f]);
        for (int fmt = 0; fmt < LP_NFORMATS; fmt++) {
            lp_rng rng;
            lp_rng_init(&rng, 0xfa11u + (uint64_t)(f * 4 + fmt));
            for (int64_t j = 0; j < R * V; j++) {
                double v = 3 * lp_rng_normal(&rng);
                if (f == 1) v *= 13.3;
                if (f == 2 && j % V == 0) v += 25;
                if (f == 3 && lp_rng_next(&rng) % 3 == 0) v = -HUGE_VAL;
                if (f == 4) v = (double)(lp_rng_next(&rng) % 4);
                if (f == 5) v = 8 * lp_rng_unif(&rng) - 4;
                switch ((lp_format)fmt) {
                case LP_F64: memcpy(x + j * 8, &v, 8); break;
                case LP_F32: { float w = lp_f32_from_f64(v); memcpy(x + j * 4, &w, 4); break; }
                case LP_F16: { uint16_t h = lp_f16_from_f64(v); memcpy(x + j * 2, &h, 2); break; }
                case LP_BF16: { uint16_t h = lp_bf16_from_f64(v); memcpy(x + j * 2, &h, 2); break; }
                }
            }
            for (int64_t r = 0; r < R; r++)
                lab[r] = f == 2 ? (r % 2 ? 0 : (int64_t)(lp_rng_next(&rng) % (uint64_t)V))
                                : (int64_t)(lp_rng_next(&rng) % (uint64_t)V);
            lp_ref_stats st = pass_ref(x, (lp_format)fmt, R, V, want, lab);
            char cell[32];
            snprintf(cell, sizeof cell, "%lld/%lld (%.1e)", (long long)st.fallback,
                     (long long)st.tokens, (double)st.fallback / (double)st.tokens);
            printf(" %-22s", cell);
        }
        printf("\n");
    }
    free(lab);
    free(x);
}

/* The B=8, T=4096, V=128256 bf16 file: logits normal-like (sum of 4 uniforms, scale 3), labels
 * uniform; safetensors, written in slabs. */
static int write_big(const char *path)
{
    const int64_t B = 8, T = 4096, V = 128256;
    const uint64_t nlog = (uint64_t)(B * T * V) * 2, nlab = (uint64_t)(B * T) * 8;
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"labels\":{\"dtype\":\"I64\",\"shape\":[%lld,%lld],\"data_offsets\":[0,%llu]},"
                     "\"logits\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld,%lld],\"data_offsets\":[%llu,%llu]}}",
                     (long long)B, (long long)T, (unsigned long long)nlab, (long long)B, (long long)T,
                     (long long)V, (unsigned long long)nlab, (unsigned long long)(nlab + nlog));
    while (n % 8) hdr[n++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    uint64_t hl = (uint64_t)n;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(hdr, 1, (size_t)n, f);
    lp_rng rng;
    lp_rng_init(&rng, 0xb16f11eu);
    for (int64_t i = 0; i < B * T; i++) {
        int64_t y = (int64_t)(lp_rng_next(&rng) % (uint64_t)V);
        fwrite(&y, 8, 1, f);
    }
    uint16_t *row = malloc((size_t)V * 2);
    for (int64_t r = 0; r < B * T; r++) {
        for (int64_t j = 0; j < V; j++) {
            uint64_t z = lp_rng_next(&rng);
            double u = (double)(z & 0xffff) + (double)((z >> 16) & 0xffff) + (double)((z >> 32) & 0xffff) +
                       (double)(z >> 48);
            row[j] = lp_bf16_from_f64(3.0 * (u - 131070.0) / 37837.0); /* sd of the sum: 37837 */
        }
        fwrite(row, 2, (size_t)V, f);
    }
    free(row);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    int64_t R = 16;
    if (argc == 3 && strcmp(argv[1], "--write-big") == 0) return write_big(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--rows") == 0) R = atoll(argv[2]);
    ratios(R);
    if (getenv("LP_BENCH_RATIOS_ONLY")) return 0;
    fallback_rates(20000, 1000, (1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16));
    fallback_rates(20000, 1000, 1u << LP_F64);
    return 0;
}
