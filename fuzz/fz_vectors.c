/* fz_vectors.c: any byte string is read by the one vector-format reader (core/vectors.c,
 * vectors/FORMAT.md) into consistent cases or rejected with one clean error line; never a crash,
 * an overflow or a read outside what it allocated. Each case it returns is touched whole (every
 * logit, label, mask byte and expected value), so ASan sees an array shorter than its shape says;
 * its problem must be the shape it claims (lp_problem_check may still reject a label: that is the
 * reference's input error, not the reader's). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fz_decode.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_vectors.h"

#define H "fz_vectors"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const lp_vcase *vc)
{
    const lp_problem *pb = &vc->c.pb;
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    LP_FZ_CHECK(B >= 0 && T >= 0 && V >= 0, H, NULL, "case %s: shape [%lld, %lld, %lld]",
                vc->c.name, (long long)B, (long long)T, (long long)V);
    volatile double acc = 0;
    for (int64_t i = 0; i < B * T * V; i++) acc += lp_load_f64(pb->logits, pb->fmt, (size_t)i);
    for (int64_t i = 0; i < B * T; i++) {
        acc += pb->label_type == LP_I32 ? (double)((const int32_t *)pb->labels)[i]
                                        : (double)((const int64_t *)pb->labels)[i];
        if (pb->mask) acc += pb->mask[i];
    }
    const lp_ref_result *w = &vc->want;
    LP_FZ_CHECK(w->B == B, H, NULL, "case %s: expected values for B=%lld, problem B=%lld",
                vc->c.name, (long long)w->B, (long long)B);
    for (int64_t i = 0; i < w->B * w->Ts; i++) acc += w->logp[i].f64 + w->counted[i];
    for (int64_t b = 0; b < w->B; b++) acc += w->sum[b].f64 + w->mean[b].f64 + (double)w->count[b];
    for (int k = 0; k < vc->ngrad; k++)     /* gradient blocks: [B*T*V] each */
        for (int64_t i = 0; i < B * T * V; i++) acc += vc->grad[k].g[i].f64 + vc->grad[k].g[i].dd.lo;
    (void)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_vreader *r = NULL;
    lp_error err = {LP_OK, ""};
    if (lp_vectors_open_mem(&r, data, size, "input", &err) != LP_OK) return 0;
    lp_vcase vc;
    memset(&vc, 0, sizeof vc);
    int got = 0;
    lp_status s;
    while ((s = lp_vectors_next(r, &vc, &got, &err)) == LP_OK && got) {
        touch(&vc);
        lp_vcase_free(&vc);
    }
    if (s != LP_OK) {
        LP_FZ_CHECK(err.msg[0] && !strchr(err.msg, '\n') && strncmp(err.msg, "input:", 6) == 0, H,
                    NULL, "error is not one line naming the input: '%s'", err.msg);
        LP_FZ_CHECK(s == LP_ERR_INPUT || s == LP_ERR_NOMEM || s == LP_ERR_IO, H, NULL,
                    "status %d for '%s'", (int)s, err.msg);
    }
    lp_vectors_close(r);
    return 0;
}
