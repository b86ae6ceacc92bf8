/* examples/twopass_plugin.c: a log-prob kernel as a user would write it, certified by
 * `lpcert certify --plugin`. It is the DPO reference code's `_get_batch_logps` in plain C:
 *
 *     labels = labels[:, 1:]; logits = logits[:, :-1]
 *     loss_mask = labels != -100
 *     labels[labels == -100] = 0                                  # the dummy label
 *     per_token = log_softmax(logits / tau, -1).gather(2, labels)  # two-pass, f32
 *     sum  = (per_token * loss_mask).sum(-1)                      # masking by multiplication
 *     mean = sum / loss_mask.sum(-1)                              # 0/0 = NaN when nothing counts
 *
 * so its certificate shows the two conventions lpcert diagnoses: masking by multiplication (a
 * masked row holding NaN or inf, or -inf at the dummy label 0, turns the sum NaN: a "leak") and
 * the NaN mean of an empty sequence. Everything is computed in f32 (float), whatever the storage
 * format; outputs are f32.
 *
 * Build (what examples/CMakeLists.txt does):
 *     cc -O2 -std=c11 -shared -fPIC -I include examples/twopass_plugin.c -o libtwopass_plugin.so -lm
 * Certify:
 *     lpcert certify --plugin ./libtwopass_plugin.so --seconds 10 --certificate cert.md
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lpcert_plugin.h"

/* f16 and bf16 bit patterns to float (both exact). */
static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float from_f16(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);                  /* inf, NaN */
    } else if (exp == 0) {
        float f = ldexpf((float)man, -24);                     /* zero, subnormal: exact */
        return sign ? -f : f;
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float logit(const lp_plugin_problem *pb, int64_t i)
{
    if (pb->format == LP_F32) {
        float f;
        memcpy(&f, (const char *)pb->logits + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, (const char *)pb->logits + 2 * i, 2);
    return pb->format == LP_BF16 ? from_bf16(h) : from_f16(h);
}

static int run(void *state, const lp_plugin_problem *pb, const lp_plugin_outputs *out, char *msg,
               size_t msg_size)
{
    (void)state;
    if (pb->shift != LP_SHIFT_NEXT) {   /* never happens: lpcert transforms shift none */
        snprintf(msg, msg_size, "only shift next");
        return 1;
    }
    const int64_t B = pb->B, T = pb->T, V = pb->V;
    const float tau = (float)pb->temperature;
    float *logp = out->logp, *sum = out->sum, *mean = out->mean;
    for (int64_t b = 0; b < B; b++) {
        float s = 0, n = 0;
        for (int64_t t = 0; t + 1 < T; t++) {
            int64_t y = pb->labels[b * T + t + 1];
            const float m_tok = y != -100 ? 1.0f : 0.0f;
            if (y == -100) y = 0;
            if (y < 0 || y >= V) {
                snprintf(msg, msg_size, "label %lld out of range at b=%lld t=%lld", (long long)y,
                         (long long)b, (long long)(t + 1));
                return 1;
            }
            const int64_t row = (b * T + t) * V;
            float mx = -INFINITY;
            for (int64_t v = 0; v < V; v++) {
                float x = logit(pb, row + v) / tau;
                if (x > mx) mx = x;           /* a NaN is skipped here and poisons se below */
            }
            float se = 0;
            for (int64_t v = 0; v < V; v++) se += expf(logit(pb, row + v) / tau - mx);
            const float lp = (logit(pb, row + y) / tau - mx) - logf(se);
            logp[b * (T - 1) + t] = lp;
            s += lp * m_tok;                  /* the multiplication that leaks */
            n += m_tok;
        }
        sum[b] = s;
        mean[b] = s / n;                      /* 0/0 = NaN for an empty sequence */
    }
    return 0;
}

static const lp_plugin kernel = {
    LP_PLUGIN_ABI_VERSION,
    sizeof(lp_plugin),
    "dpo_twopass_f32",
    "DPO _get_batch_logps in C: two-pass log-softmax in f32, gather, logp * mask, sum / count",
    LP_PLUGIN_FMT(LP_F32) | LP_PLUGIN_FMT(LP_F16) | LP_PLUGIN_FMT(LP_BF16),
    LP_PLUGIN_OUT_LOGP | LP_PLUGIN_OUT_SUM | LP_PLUGIN_OUT_MEAN,
    LP_F32, LP_F32, LP_F32,
    LP_PLUGIN_CAP_TEMPERATURE,   /* masks are folded into labels, ignore_index is -100, shift next */
    run,
    NULL,
};

const lp_plugin *lp_plugin_entry(uint32_t host_abi)
{
    return host_abi >= 1 ? &kernel : NULL;
}
