/* examples/user_test/user_test.c: a user's own C unit test against the installed liblpcert. It
 * builds a small problem in memory (B = 1, T = 3, V = 8, f32 logits), computes the exact result,
 * computes a candidate with a naive float log-softmax, measures one value in ulps (the error
 * measure of SPEC A4), and judges the whole candidate with the verdict engine (lpcert_check.h).
 * Exit 0: the candidate passes, as a few-ulp float kernel should. Build it with the Makefile
 * (pkg-config) or the CMakeLists.txt (find_package(lpcert)) beside it. */
#include <math.h>
#include <stdio.h>

#include "lpcert.h"
#include "lpcert_check.h"

enum { B = 1, T = 3, V = 8, TS = T - 1 };   /* next-token shift: T - 1 scored positions */

int main(void)
{
    float logits[B * T * V];
    int64_t labels[B * T] = {0, 5, 2};
    for (int i = 0; i < B * T * V; i++) logits[i] = (float)(i * 37 % 17 - 8) / 4.0f;
    lp_problem pb = LP_PROBLEM_INIT;   /* f32 logits, int64 labels, no mask, tau = 1 */
    pb.shape = (lp_shape){B, T, V};
    pb.logits = logits;
    pb.labels = labels;

    lp_error err = {0};
    lp_ref_result ref;
    if (lp_ref_compute(&ref, &pb, &err) != LP_OK) return fprintf(stderr, "%s\n", err.msg), 2;

    float logp[B * TS], sum[B] = {0}, mean[B];   /* the candidate: row t scores labels[t + 1] */
    for (int t = 0; t < TS; t++) {
        float s = 0.0f;
        for (int i = 0; i < V; i++) s += expf(logits[t * V + i]);
        logp[t] = logits[t * V + labels[t + 1]] - logf(s);
        sum[0] += logp[t];
    }
    mean[0] = sum[0] / TS;

    lp_err_measure m = lp_ulp_error(logp[0], ref.logp[0].dd, ref.logp[0].f32, LP_F32);
    printf("logp[0] = %.9g, exact %.17g: %.3f ulp\n", (double)logp[0], ref.logp[0].dd.hi, m.err_ulp);

    lp_check_options opt = LP_CHECK_OPTIONS_INIT;
    opt.max_ulp[LP_OUT_TOKEN] = opt.max_ulp[LP_OUT_SUM] = opt.max_ulp[LP_OUT_MEAN] = 16;
    lp_candidate cand = {LP_F32, logp, sum, mean};
    lp_check *c = NULL;
    lp_status s = lp_check_new(&c, &opt, &err);
    if (s == LP_OK) s = lp_check_problem(c, "naive", NULL, &pb, &ref, &cand, &err);
    if (s == LP_OK) lp_check_write_table(stdout, c);
    else fprintf(stderr, "%s\n", err.msg);
    int ok = s == LP_OK && !lp_check_failed(c) && m.cls == LP_CMP_NUMBER && m.err_ulp <= 16;
    lp_check_free(c);
    lp_ref_result_free(&ref);
    return ok ? 0 : 1;
}
