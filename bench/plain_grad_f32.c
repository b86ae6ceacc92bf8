/* bench/plain_grad_f32.c: a throughput anchor for the gradient, not a kernel under test: the plain
 * f32 backward of one row's log-softmax gather, g_i = exp(x_i - m) / s - [i == y] (the
 * `softmax - onehot` of every fused cross-entropy backward), as a vectorising compiler makes of
 * it (built with -O3 -ffast-math like plain_f32.c). Its accuracy is measured nowhere here. */
#include <math.h>
#include <stdint.h>

void lp_bench_plain_grad_f32(float *restrict g, const float *restrict x, int64_t V, int64_t y);

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void lp_bench_plain_grad_f32(float *restrict g, const float *restrict x, int64_t V, int64_t y)
{
    float m = -HUGE_VALF;
    for (int64_t i = 0; i < V; i++) m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int64_t i = 0; i < V; i++) s += expf(x[i] - m);
    const float r = 1.0f / s;
    for (int64_t i = 0; i < V; i++) g[i] = -expf(x[i] - m) * r;
    g[y] += 1.0f;
}
