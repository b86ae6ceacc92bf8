/* bench/plain_f32.c: a throughput anchor, not a kernel under test: the two-pass f32 log-softmax
 * gather as a vectorising compiler makes of it (this file alone is built with -O3 -ffast-math,
 * so gcc calls glibc's vector expf, 8 lanes under AVX2: the speed of a framework's fused CPU
 * kernel). Its accuracy is not measured anywhere; impl/ holds the kernels whose contracts are. */
#include <math.h>
#include <stdint.h>

float lp_bench_plain_f32(const float *restrict x, int64_t V, int64_t y);

/* GCC only: clang 14 emits target_clones as "NAME.ifunc" and never defines NAME when a plain
 * declaration precedes it (the link fails), and it has no libmvec without -fveclib anyway. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
float lp_bench_plain_f32(const float *restrict x, int64_t V, int64_t y)
{
    float m = -HUGE_VALF;
    for (int64_t i = 0; i < V; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int64_t i = 0; i < V; i++) s += expf(x[i] - m);
    return (x[y] - m) - logf(s);
}
