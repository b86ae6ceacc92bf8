/* cli/cmd_demo.c: `lpcert demo`: the exact results of a small embedded example, the main job of
 * ./run until the accuracy report exists. Each row shows one regime of SPEC A3 or A2. */
#include <math.h>

#include "cli.h"
#include "lp_format.h"

enum { DB = 3, DT = 5, DV = 6 };

static const char *const row_what[DB][DT - 1] = {
    {"uniform row: -log 6", "peaked: p = 1 - 5e-13 (logp near 0)", "label far below the max",
     "-inf vocabulary masking, tie for max"},
    {"ignore_index -100 (not counted)", "masked NaN row (must not leak)",
     "dummy-label trap: masked, logit[0] = -inf", "only finite logit at label: exact 0"},
    {"all-masked sequence", "all-masked sequence", "all-masked sequence", "all-masked sequence"},
};

int lp_cmd_demo(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: lpcert demo\n\nPrints the exact results (correctly rounded in f64, f32, bf16) of "
             "a small embedded\nexample: B=3 sequences, T=5, V=6, f32 logits, shift next.");
        return LP_EXIT_OK;
    }
    const float inf = (float)HUGE_VAL, nan = lp_f32_bits(0x7fc00000u);
    static float logits[DB][DT][DV];
    int64_t labels[DB][DT] = {{0, 2, 1, 5, 3}, {0, -100, 4, 0, 2}, {0, 1, 2, 3, 4}};
    uint8_t mask[DB][DT] = {{1, 1, 1, 1, 1}, {1, 1, 0, 0, 1}, {0, 0, 0, 0, 0}};
    for (int b = 0; b < DB; b++)
        for (int t = 0; t < DT; t++)
            for (int v = 0; v < DV; v++) logits[b][t][v] = 0.25f * (float)((b * 7 + t * 3 + v * 5) % 9);
    for (int v = 0; v < DV; v++) logits[0][0][v] = 1.5f;     /* row 0 scores labels[0][1] */
    logits[0][1][1] = 30.0f;                                  /* label 1 */
    for (int v = 0; v < DV; v++) logits[0][1][v] = v == 1 ? 30.0f : 0.0f;
    logits[0][2][5] = -12.0f;                                 /* label 5 far below */
    logits[0][3][0] = -inf; logits[0][3][1] = 2.0f; logits[0][3][2] = 2.0f; logits[0][3][4] = -inf;
    logits[1][1][3] = nan;                                    /* masked */
    logits[1][2][0] = -inf;                                   /* masked, label 0 */
    for (int v = 0; v < DV; v++) logits[1][3][v] = v == 2 ? -3.0f : -inf;
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){DB, DT, DV};
    pb.fmt = LP_F32;
    pb.logits = logits;
    pb.labels = labels;
    pb.mask = &mask[0][0];
    lp_ref_result r;
    lp_error err = {LP_OK, ""};
    if (lp_ref_compute(&r, &pb, &err) != LP_OK) return lp_cli_fail("demo", &err);

    printf("lpcert demo: exact log-probabilities of an embedded example\n"
           "B=%d sequences, T=%d, V=%d, f32 logits, shift next, ignore_index -100, empty_mean nan.\n"
           "Every value is the correctly rounded (RNE) exact result; hex is the bit pattern.\n\n",
           DB, DT, DV);
    printf("%-2s %-2s %-5s %-44s %-24s %-10s %-6s\n", "b", "t", "label", "row", "logp (f64)", "f32",
           "bf16");
    char h32[24], hbf[24];
    for (int b = 0; b < DB; b++)
        for (int t = 0; t < DT - 1; t++) {
            const lp_value *v = &r.logp[b * (DT - 1) + t];
            lp_cli_hex(h32, sizeof h32, v, LP_F32);
            lp_cli_hex(hbf, sizeof hbf, v, LP_BF16);
            char num[32];
            if (r.counted[b * (DT - 1) + t]) snprintf(num, sizeof num, "%.17g", v->f64);
            else snprintf(num, sizeof num, "(not counted)");
            printf("%-2d %-2d %-5lld %-44s %-24s %-10s %-6s\n", b, t, (long long)labels[b][t + 1],
                   row_what[b][t], num, r.counted[b * (DT - 1) + t] ? h32 : "-",
                   r.counted[b * (DT - 1) + t] ? hbf : "-");
        }
    printf("\n%-2s %-5s %-24s %-24s %-10s %-10s\n", "b", "count", "sum (f64)", "mean (f64)",
           "sum f32", "mean f32");
    char hs[24], hm[24];
    for (int b = 0; b < DB; b++) {
        lp_cli_hex(hs, sizeof hs, &r.sum[b], LP_F32);
        lp_cli_hex(hm, sizeof hm, &r.mean[b], LP_F32);
        printf("%-2d %-5lld %-24.17g %-24.17g %-10s %-10s\n", b, (long long)r.count[b], r.sum[b].f64,
               r.mean[b].f64, hs, hm);
    }
    printf("\ntoken_mean (all counted tokens): %.17g (f64 0x%016llx)\n", r.token_mean.f64,
           (unsigned long long)lp_bits_f64(r.token_mean.f64));
    printf("sum and mean of a sequence are the rounding of the exact sum of exact token values;\n"
           "the all-masked sequence has sum +0 and mean NaN (empty_mean nan).\n");
    fprintf(stderr, "lpcert demo: %lld tokens, %lld Ziv retries, max %ld bits\n",
            (long long)r.stats.tokens, (long long)r.stats.retries, r.stats.max_prec);
    lp_ref_result_free(&r);
    return LP_EXIT_OK;
}
