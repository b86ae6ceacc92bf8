/* bench/bench_fast.c: every route of the exact reference against a plain f32 kernel, in one run
 * (issues 7 and 12; never a timed test). For V = 32000, 128256, 256000 and f32 logits (normal,
 * scale 3), one thread, logits/s of
 *   plain     the anchor: a plain two-pass f32 loop built with -O3 -ffast-math (bench/plain_f32.c:
 *             glibc's vector expf, AVX2 where the CPU has it), what a user's own vectorised CPU
 *             kernel does; no correct rounding,
 *   tier 1    `lpcert ref --formats f32`: lp_ref_compute_opts, formats = f32 (reference/fast.c),
 *   tier 2    `lpcert ref --formats f64`: formats = f64 (reference/fast_dd.c),
 *   ref       `lpcert ref`: formats = 0 (every format and the double-double),
 *   check     `lpcert check` of an f32 candidate (the plain kernel's outputs) through the public
 *             API (include/lpcert_check.h: lp_check_new, lp_check_one: the route of `lpcert
 *             check` on one problem, judged from the fast tiers' enclosures, check/judge.c; the
 *             reference computed inside, default bound), the candidate computed beforehand,
 * each as a ratio to the anchor. plain, tier 1 and tier 2 are timed on the R rows (--rows,
 * default 16), interleaved, best of 5 each; a slow route is timed on 1, 2, 4, ... rows until one
 * run takes --budget seconds (default 0.5) or all R rows are in (then best of 3): the table says
 * how many rows ("rows" columns). Then the scaling of tier 1 with 2 threads against 1
 * (V = 128256, 4 R rows; wall time and CPU time), and the fallback rates per random family and
 * storage format: with f32, f16 and bf16 wanted, the tokens tier 1 left to tier 2 ("tier-2
 * retries", tier 1 run directly: lp_fast_row + lp_fast_decide) and the tokens left to MPFR
 * (stats.fallback); with f64 wanted, and with every output (the default route), the tokens left
 * to MPFR.
 *
 * usage: build/bench/lp_bench_fast [--rows N] [--budget SEC] [--no-fallback]
 *        build/bench/lp_bench_fast --write-big PATH   writes the B=8, T=4096, V=128256 bf16
 *                                                     safetensors file (8.4 GB) for bench/ref_big.sh
 *        bench/run.sh [BUILD]                         builds it and prints the README's table
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "lp_core.h"
#include "lp_fast.h"
#include "lp_format.h"
#include "lp_rng.h"
#include "lpcert_check.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const lp_error *err)
{
    fprintf(stderr, "lp_bench_fast: %s: %s\n", what, err->msg);
    exit(1);
}

static lp_problem problem(const void *rows, lp_format fmt, int64_t R, int64_t V, const int64_t *lab)
{
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){1, R, V};
    pb.fmt = fmt;
    pb.logits = rows;
    pb.labels = lab;
    pb.shift = LP_SHIFT_NONE;
    return pb;
}

/* The exact reference on R rows as one problem [1, R, V], shift none; returns its stats. */
static lp_ref_stats pass_ref(const void *rows, lp_format fmt, int64_t R, int64_t V, unsigned want,
                             const int64_t *lab, int threads)
{
    lp_problem pb = problem(rows, fmt, R, V, lab);
    lp_ref_options o = LP_REF_OPTIONS_INIT;
    o.threads = threads;
    o.formats = want;
    lp_ref_result res;
    lp_error err;
    if (lp_ref_compute_opts(&res, &pb, &o, &err) != LP_OK) die("ref", &err);
    const lp_ref_stats st = res.stats;
    lp_ref_result_free(&res);
    return st;
}

float lp_bench_plain_f32(const float *restrict x, int64_t V, int64_t y);

/* What a timed route gets: the rows, the labels, the candidate (check), the verdict (out). */
typedef struct bctx {
    const float *rows;
    const int64_t *lab;
    const float *cand;
    int threads;
    int failed;
} bctx;

typedef double (*timed_fn)(bctx *a, int64_t R, int64_t V);

static double t_plain(bctx *a, int64_t R, int64_t V)
{
    double s = 0;
    for (int64_t r = 0; r < R; r++) s += (double)lp_bench_plain_f32(a->rows + r * V, V, a->lab[r]);
    return s;
}
static double t_ref32(bctx *a, int64_t R, int64_t V)
{
    return (double)pass_ref(a->rows, LP_F32, R, V, 1u << LP_F32, a->lab, a->threads).fallback;
}
static double t_ref64(bctx *a, int64_t R, int64_t V)
{
    return (double)pass_ref(a->rows, LP_F32, R, V, 1u << LP_F64, a->lab, a->threads).fallback;
}
static double t_refall(bctx *a, int64_t R, int64_t V)
{
    return (double)pass_ref(a->rows, LP_F32, R, V, 0, a->lab, a->threads).fallback;
}
static double t_check(bctx *a, int64_t R, int64_t V)
{
    lp_check_options o = LP_CHECK_OPTIONS_INIT;
    o.threads = a->threads;
    lp_check *c;
    lp_error err;
    if (lp_check_new(&c, &o, &err) != LP_OK) die("check", &err);
    const lp_problem pb = problem(a->rows, LP_F32, R, V, a->lab);
    const lp_candidate cand = {LP_F32, a->cand, NULL, NULL};
    if (lp_check_one(c, "bench", NULL, &pb, &cand, &err) != LP_OK) die("check", &err);
    a->failed = lp_check_failed(c);
    const double n = (double)lp_check_values(c);
    lp_check_free(c);
    return n;
}

/* logits/s of f on R rows, best of reps; with budget > 0, a slow f is timed on 1, 2, 4, ... rows
 * until a run takes budget seconds (then that run's rate) or R rows are reached (then best of
 * reps); *rows_used the rows timed. */
static double rate(timed_fn f, bctx *a, int64_t R, int64_t V, int reps, double budget,
                   int64_t *rows_used)
{
    volatile double sink = 0;
    int64_t k = budget > 0 ? 1 : R;
    double best = HUGE_VAL;
    for (;;) {
        const double t0 = now();
        sink += f(a, k, V);
        best = now() - t0;
        if (k == R || best >= budget) break;
        k = 2 * k < R ? 2 * k : R;
    }
    for (int r = 1; r < reps && k == R && best < 10 * budget + 1; r++) {
        const double t0 = now();
        sink += f(a, k, V);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    (void)sink;
    if (rows_used) *rows_used = k;
    return (double)(k * V) / best;
}

static void fill_rows(float *rows, int64_t *lab, int64_t R, int64_t V, uint64_t seed)
{
    lp_rng rng;
    lp_rng_init(&rng, seed);
    for (int64_t j = 0; j < R * V; j++) rows[j] = (float)(3 * lp_rng_normal(&rng));
    for (int64_t r = 0; r < R; r++) lab[r] = (r * 7919) % V;
}

static void ratios(int64_t R, double budget)
{
    static const int64_t Vs[] = {32000, 128256, 256000};
    printf("lp_bench_fast: f32 logits, normal scale 3, one thread, %lld rows; logits/s and the "
           "ratio to the plain f32 kernel (plain, tier 1, tier 2: best of 5, interleaved; ref and "
           "check: rows timed, budget %.2g s)\n",
           (long long)R, budget);
    printf("%-7s %-9s %-9s %-7s %-9s %-7s %-9s %-8s %-5s %-9s %-8s %-5s\n", "V", "plain", "tier 1",
           "ratio", "tier 2", "ratio", "ref", "ratio", "rows", "check", "ratio", "rows");
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        const int64_t V = Vs[i];
        float *rows = malloc((size_t)(R * V) * sizeof *rows);
        float *cand = malloc((size_t)R * sizeof *cand);
        int64_t *lab = malloc((size_t)R * sizeof *lab);
        if (!rows || !lab || !cand) exit(1);
        fill_rows(rows, lab, R, V, 0xbe7c4u + (uint64_t)i);
        for (int64_t r = 0; r < R; r++) cand[r] = lp_bench_plain_f32(rows + r * V, V, lab[r]);
        bctx a = {rows, lab, cand, 1, 0};
        int64_t kr, kc;
        /* interleaved, best of 5 each: a shared machine's load then weighs on all three alike */
        double r_plain = 0, r32 = 0, r64 = 0;
        for (int rep = 0; rep < 5; rep++) {
            r_plain = fmax(r_plain, rate(t_plain, &a, R, V, 1, 0, NULL));
            r32 = fmax(r32, rate(t_ref32, &a, R, V, 1, 0, NULL));
            r64 = fmax(r64, rate(t_ref64, &a, R, V, 1, 0, NULL));
        }
        const double rall = rate(t_refall, &a, R, V, 3, budget, &kr);
        const double rck = rate(t_check, &a, R, V, 3, budget, &kc);
        failed |= a.failed;
        printf("%-7lld %-9.3g %-9.3g %-7.3f %-9.3g %-7.4f %-9.3g %-8.2g %-5lld %-9.3g %-8.2g "
               "%-5lld\n",
               (long long)V, r_plain, r32, r32 / r_plain, r64, r64 / r_plain, rall, rall / r_plain,
               (long long)kr, rck, rck / r_plain, (long long)kc);
        fflush(stdout);
        free(rows);
        free(lab);
        free(cand);
    }
    printf("(check's verdict on the plain kernel's outputs: %s)\n", failed ? "fails" : "passes");
}

/* Tier 1 (ref --formats f32) with 2 threads against 1 on 4 R rows of V = 128256: the best wall
 * time of 7 runs each, and logits per CPU-second over all runs (the process's CPU clock counts
 * every thread). On a shared machine the wall-time scaling is bounded by the cores granted; the
 * CPU-second ratio (2 threads over 1) says whether the work itself serialises or contends (1.00:
 * not at all). */
static void scaling(int64_t R)
{
    const int64_t V = 128256;
    R *= 4;
    float *rows = malloc((size_t)(R * V) * sizeof *rows);
    int64_t *lab = malloc((size_t)R * sizeof *lab);
    if (!rows || !lab) exit(1);
    fill_rows(rows, lab, R, V, 0x5ca1e);
    bctx a = {rows, lab, NULL, 1, 0};
    double wall[2], cpu[2];
    for (int t = 0; t < 2; t++) {
        a.threads = t + 1;
        wall[t] = HUGE_VAL;
        const double c0 = cpu_now();
        for (int r = 0; r < 7; r++) {
            const double w0 = now();
            t_ref32(&a, R, V);
            const double w = now() - w0;
            if (w < wall[t]) wall[t] = w;
        }
        cpu[t] = (cpu_now() - c0) / 7;
    }
    const double n = (double)(R * V);
    printf("\nthreads: tier 1 (ref --formats f32), %lld rows of V = %lld: 1 thread %.3g, 2 threads "
           "%.3g logits/s (best wall): %.2fx; per CPU-second %.3g and %.3g: %.2f\n",
           (long long)R, (long long)V, n / wall[0], n / wall[1], wall[0] / wall[1], n / cpu[0],
           n / cpu[1], cpu[0] / cpu[1]);
    free(rows);
    free(lab);
}

/* Tokens of R rows [R, V] that tier 1 leaves undecided for want (lp_fast_row outside its domain
 * or lp_fast_decide undecided): what the default route retries with tier 2. A -inf label is
 * skipped (logp = -inf, decided by its class before any tier; the rows hold no NaN or +inf). */
static int64_t tier1_undecided(const unsigned char *x, lp_format fmt, int64_t R, int64_t V,
                               const int64_t *lab, unsigned want)
{
    const size_t es = (size_t)lp_format_get(fmt)->bytes;
    int64_t n = 0;
    for (int64_t r = 0; r < R; r++) {
        lp_fast_enc e;
        lp_value v;
        memset(&v, 0, sizeof v);
        if (lp_load_f64(x, fmt, (size_t)(r * V + lab[r])) == -HUGE_VAL) continue;
        if (!lp_fast_row(&e, x + (size_t)(r * V) * es, fmt, V, lab[r], 1.0) ||
            !lp_fast_decide(&v, &e, want))
            n++;
    }
    return n;
}

/* Fallback rates of the fast path, want (f32 + f16 + bf16, f64, or 0: every output with the
 * double-double, tier 3), per random family and format; with f32 wanted, also tier 1's undecided
 * tokens (the tier-2 retries). */
static void fallback_rates(int64_t R, int64_t V, unsigned want)
{
    static const char *fams[] = {"normal3", "wide40", "peaked", "masked", "ties", "uniform"};
    const int t1 = want != (1u << LP_F64) && want != 0;
    printf("\n%s, wanted %s, %lld rows of V = %lld per family and format:\n",
           t1 ? "tier-2 retries (tier 1 undecided) / fallback to MPFR" : "fallback to MPFR",
           t1 ? "{f32, f16, bf16}" : want ? "{f64} (tier 2)"
                                          : "every output and the double-double (tier 3)",
           (long long)R, (long long)V);
    printf("%-9s %-24s %-24s %-24s %-24s\n", "family", "f64", "f32", "f16", "bf16");
    int64_t *lab = malloc((size_t)R * sizeof *lab);
    unsigned char *x = malloc((size_t)(R * V) * 8);
    if (!lab || !x) exit(1);
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
            lp_ref_stats st = pass_ref(x, (lp_format)fmt, R, V, want, lab, 1);
            char cell[48];
            if (t1) {
                const int64_t u = tier1_undecided(x, (lp_format)fmt, R, V, lab, want);
                snprintf(cell, sizeof cell, "%lld (%.0e) / %lld", (long long)u,
                         (double)u / (double)st.tokens, (long long)st.fallback);
            } else {
                snprintf(cell, sizeof cell, "%lld/%lld (%.1e)", (long long)st.fallback,
                         (long long)st.tokens, (double)st.fallback / (double)st.tokens);
            }
            printf(" %-24s", cell);
        }
        printf("\n");
        fflush(stdout);
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
    double budget = 0.5;
    int fallback = 1;
    if (argc == 3 && strcmp(argv[1], "--write-big") == 0) return write_big(argv[2]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) R = atoll(argv[++i]);
        else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) budget = atof(argv[++i]);
        else if (strcmp(argv[i], "--no-fallback") == 0) fallback = 0;
        else {
            fprintf(stderr, "usage: lp_bench_fast [--rows N] [--budget SEC] [--no-fallback] | "
                            "--write-big PATH\n");
            return 2;
        }
    }
    if (R < 1 || R > 4096 || !(budget >= 0)) {
        fprintf(stderr, "lp_bench_fast: --rows must be in [1, 4096], --budget >= 0\n");
        return 2;
    }
    ratios(R, budget);
    scaling(R);
    if (!fallback) return 0;
    fallback_rates(20000, 1000, (1u << LP_F32) | (1u << LP_F16) | (1u << LP_BF16));
    fallback_rates(20000, 1000, 1u << LP_F64);
    fallback_rates(20000, 1000, 0);
    return 0;
}
