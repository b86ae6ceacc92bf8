/* tests/fuzz_broken_plugin.c: two deliberately broken kernels for tests/e2e_fuzz_cmd.py, which
 * `lpcert fuzz` must catch. Both read f32, compute the two-pass log-softmax in double (far inside
 * any f32 bound), mask by assignment and give NaN for an empty mean; then
 *   lp_plugin_entry  (symbol default): every token is moved 1000 f32 steps away from zero, and
 *                    the sum and mean are those of the moved tokens (off by many ulps);
 *   leak_entry       (symbol leak_entry): correct tokens, but the sum adds logp * mask over every
 *                    scored row, masked ones included (a NaN leak under --masking spec).
 * Build: cc -O2 -std=c11 -shared -fPIC -I include tests/fuzz_broken_plugin.c -o lib.so -lm */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lpcert_plugin.h"

const lp_plugin *leak_entry(uint32_t host_abi);

static float move_away(float x, int steps)
{
    for (int i = 0; i < steps && isfinite(x) && x != 0; i++) x = nextafterf(x, x < 0 ? -INFINITY : INFINITY);
    return x;
}

/* logp of row t of sequence b scoring y, in double from the f32 logits */
static double logp_of(const lp_plugin_problem *pb, int64_t row, int64_t y)
{
    const float *x = (const float *)pb->logits + row * pb->V;
    const double tau = pb->temperature;
    double m = -INFINITY, s = 0;
    for (int64_t v = 0; v < pb->V; v++) m = fmax(m, x[v] / tau);
    for (int64_t v = 0; v < pb->V; v++) s += exp(x[v] / tau - m);
    return x[y] / tau - m - log(s);
}

static int run(int leak, const lp_plugin_problem *pb, const lp_plugin_outputs *out, char *msg,
               size_t msg_size)
{
    const int64_t T = pb->T, V = pb->V;
    float *lp = out->logp, *sum = out->sum, *mean = out->mean;
    for (int64_t b = 0; b < pb->B; b++) {
        double s = 0;
        int64_t n = 0;
        for (int64_t t = 0; t + 1 < T; t++) {
            int64_t y = pb->labels[b * T + t + 1];
            const int counted = y != pb->ignore_index;
            if (!counted) y = 0;
            if (y < 0 || y >= V) {
                snprintf(msg, msg_size, "label %lld out of range", (long long)y);
                return 1;
            }
            float v = (float)logp_of(pb, b * T + t, y);
            if (!leak) v = move_away(v, 1000);
            lp[b * (T - 1) + t] = v;
            if (leak) s += (double)v * counted;
            else if (counted) s += v;
            n += counted;
        }
        sum[b] = (float)s;
        mean[b] = n ? (float)(s / (double)n) : NAN;
    }
    return 0;
}

static int run_moved(void *state, const lp_plugin_problem *pb, const lp_plugin_outputs *out,
                     char *msg, size_t msg_size)
{
    (void)state;
    return run(0, pb, out, msg, msg_size);
}

static int run_leak(void *state, const lp_plugin_problem *pb, const lp_plugin_outputs *out,
                    char *msg, size_t msg_size)
{
    (void)state;
    return run(1, pb, out, msg, msg_size);
}

static const lp_plugin moved = {
    LP_PLUGIN_ABI_VERSION, sizeof(lp_plugin), "broken_moved", "tokens 1000 f32 steps off",
    LP_PLUGIN_FMT(LP_F32), LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN,
    LP_F32, LP_F32, LP_F32, LP_PLUGIN_CAP_TEMPERATURE, run_moved, NULL};
static const lp_plugin leaky = {
    LP_PLUGIN_ABI_VERSION, sizeof(lp_plugin), "broken_leak", "sum of logp * mask over all rows",
    LP_PLUGIN_FMT(LP_F32), LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN,
    LP_F32, LP_F32, LP_F32, LP_PLUGIN_CAP_TEMPERATURE, run_leak, NULL};

const lp_plugin *lp_plugin_entry(uint32_t host_abi)
{
    return host_abi >= 1 ? &moved : NULL;
}

const lp_plugin *leak_entry(uint32_t host_abi)
{
    return host_abi >= 1 ? &leaky : NULL;
}
