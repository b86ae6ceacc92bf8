/* check/batch.c: batch invariance (SPEC A5): a sequence's outputs must not change with the
 * batch around it. For sequences 0 and B-1 of a problem (every one when B <= 3): run it alone
 * (B = 1), and inside a batch of B + 2 sequences at another position, the others being the rest of
 * the batch in reverse order and seeded random-normal sequences (gen/random.c, lp_gen_filler).
 * Its counted tokens, sum and mean must keep their bits (NaNs compare equal whatever their
 * payload). */
#include <math.h>

#include "lp_check_internal.h"
#include "lp_format.h"
#include "lp_gen_random.h"
#include "lp_problem.h"
#include "lp_rng.h"
#include "lp_suite.h"

int ck_batch_parse(ck_batch *out, const char *v)
{
    if (strcmp(v, "require") == 0) *out = CK_BATCH_REQUIRE;
    else if (strcmp(v, "report") == 0) *out = CK_BATCH_REPORT;
    else if (strcmp(v, "off") == 0) *out = CK_BATCH_OFF;
    else return 0;
    return 1;
}

static int same(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return lp_bits_f64(a) == lp_bits_f64(b);
}

/* Compares sequence b of full with sequence p of got; returns 1 if identical, else describes the
 * first difference in what. */
static int compare_seq(const lp_problem *pb, const ck_outputs *full, int64_t b, const ck_outputs *got,
                       int64_t p, char *what, size_t cap)
{
    const int64_t Ts = lp_problem_ts(pb);
    for (int o = 0; o < CK_NOUT; o++) {
        const ck_array *x = &full->a[o], *y = &got->a[o];
        if (!x->present || !y->present) continue;
        char h1[64], h2[64];
        if (o == CK_TOKEN) {
            for (int64_t ts = 0; ts < Ts; ts++) {
                if (!lp_problem_counted(pb, b, ts)) continue;
                double u = x->v[b * Ts + ts], v = y->v[p * Ts + ts];
                if (!same(u, v)) {
                    lp_format_hexdec(h1, sizeof h1, u, x->fmt);
                    lp_format_hexdec(h2, sizeof h2, v, y->fmt);
                    snprintf(what, cap, "token t=%lld: %s in the full batch, %s", (long long)ts, h1, h2);
                    return 0;
                }
            }
        } else if (!same(x->v[b], y->v[p])) {
            lp_format_hexdec(h1, sizeof h1, x->v[b], x->fmt);
            lp_format_hexdec(h2, sizeof h2, y->v[p], y->fmt);
            snprintf(what, cap, "%s: %s in the full batch, %s", ck_output_name(o), h1, h2);
            return 0;
        }
    }
    return 1;
}

static lp_status run_and_compare(ck_run *r, const ck_kernel *k, const char *name,
                                 const lp_problem *pb, const lp_problem *sub, const ck_outputs *full,
                                 int64_t b, int64_t p, const char *config, lp_error *err)
{
    ck_outputs got;
    const char *skip;
    int kfail;
    char kmsg[256];
    lp_status s = ck_kernel_run(k, sub, &got, &skip, &kfail, kmsg, sizeof kmsg, err);
    if (s != LP_OK || skip) return s;
    if (kfail) {
        ck_run_diag(r, CK_D_KERNEL_ERR, "case %s, sequence b=%lld %s: %s", name, (long long)b,
                    config, kmsg);
        return LP_OK;
    }
    char what[200];
    r->batch_checks++;
    if (!compare_seq(pb, full, b, &got, p, what, sizeof what)) {
        r->batch_fail++;
        ck_run_diag(r, CK_D_BATCH, "case %s, sequence b=%lld %s: %s", name, (long long)b, config, what);
    }
    ck_outputs_free(&got);
    return LP_OK;
}

lp_status ck_batch_check(ck_run *r, const ck_kernel *k, const char *name, const lp_problem *pb,
                         const ck_outputs *full, uint64_t seed, lp_error *err)
{
    const int64_t B = pb->shape.B, T = pb->shape.T, V = pb->shape.V;
    const size_t esz = (size_t)lp_format_get(pb->fmt)->bytes, lsz = pb->label_type == LP_I64 ? 8 : 4;
    const size_t row_bytes = (size_t)(T * V) * esz;
    const int64_t B2 = B + 2;
    void *logits = malloc((size_t)B2 * row_bytes);
    void *labels = malloc((size_t)(B2 * T) * lsz);
    uint8_t *mask = pb->mask ? malloc((size_t)(B2 * T)) : NULL;
    lp_status s = LP_OK;
    if (!logits || !labels || (pb->mask && !mask)) {
        s = lp_fail(err, LP_ERR_NOMEM, "certify: out of memory for the batch-invariance check");
        goto done;
    }
    lp_rng rng;
    lp_rng_init(&rng, seed);
    for (int64_t b = 0; b < B && s == LP_OK; b++) {
        if (B > 3 && b != 0 && b != B - 1) continue;
        /* alone */
        lp_problem sub = *pb;
        sub.shape.B = 1;
        sub.logits = (const char *)pb->logits + (size_t)b * row_bytes;
        sub.labels = (const char *)pb->labels + (size_t)(b * T) * lsz;
        sub.mask = pb->mask ? pb->mask + b * T : NULL;
        s = run_and_compare(r, k, name, pb, &sub, full, b, 0, "alone (B=1)", err);
        if (s != LP_OK) break;
        /* at position p of a batch of B + 2 */
        const int64_t p = (b + 1) % B2;
        int64_t other = B - 1;
        for (int64_t q = 0; q < B2; q++) {
            char *dl = (char *)logits + (size_t)q * row_bytes;
            char *dy = (char *)labels + (size_t)(q * T) * lsz;
            int64_t src = q == p ? b : -1;
            if (src < 0) {
                while (other >= 0 && other == b) other--;
                if (other >= 0) src = other--;
            }
            if (src >= 0) {
                memcpy(dl, (const char *)pb->logits + (size_t)src * row_bytes, row_bytes);
                memcpy(dy, (const char *)pb->labels + (size_t)(src * T) * lsz, (size_t)T * lsz);
                if (mask) memcpy(mask + q * T, pb->mask + src * T, (size_t)T);
            } else {
                lp_gen_filler(dl, dy, pb->fmt, pb->label_type, T, V, &rng);
                if (mask) memset(mask + q * T, 1, (size_t)T);
            }
        }
        lp_problem big = *pb;
        big.shape.B = B2;
        big.logits = logits;
        big.labels = labels;
        big.mask = mask;
        char config[96];
        snprintf(config, sizeof config, "at position %lld of a batch of %lld", (long long)p,
                 (long long)B2);
        s = run_and_compare(r, k, name, pb, &big, full, b, p, config, err);
    }
done:
    free(logits);
    free(labels);
    free(mask);
    return s;
}
