/* fz_plugin.c: on any decoded problem it reads, the plugin passes lpcert check's judgement (bounds, conventions) and is batch invariant.
 *
 * The plugin is LPCERT_FUZZ_PLUGIN (lib.so[:symbol], as `lpcert certify --plugin`), judged under
 * LPCERT_FUZZ_ARGS (the options of `lpcert fuzz`: --max-ulp, --max-abs, --vs-baseline, --factor,
 * --masking, --empty-mean, --batch-invariance, --in-range). Unset or empty, the harness
 * certifies the example plugin built from examples/twopass_plugin.c under LP_FZ_EXAMPLE_ARGS, its
 * real conventions and an honest bound (fuzz/README.md, "The plugin harness").
 * Each input goes through check/fuzz.c, the code of `lpcert fuzz`: decoded by gen/fuzz_decode.c;
 * a problem in a format the plugin does not declare, or with a temperature it does not support,
 * is skipped exactly as certify skips it; a problem the reference rejects (a scored label out of
 * range, a mask byte 2) is not run; the rest runs with certify's transformations (mask folded
 * into labels, ignore_index -100, shift none as shift next), and lpcert check's comparison
 * (check/eval.c), its diagnoses and certify's batch-invariance check (a sequence alone, and at
 * another position of a larger batch) must find nothing. A failure prints the first failing value
 * (got, correctly rounded want, exact value, error, bound), the problem in hex and decimal and
 * the whole report, then aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lp_check_fuzz.h"
#include "fz_decode.h"

#define H "fz_plugin"

#ifndef LP_FZ_EXAMPLE_PLUGIN
#error "LP_FZ_EXAMPLE_PLUGIN: the path of the example plugin (fuzz/CMakeLists.txt sets it)"
#endif
/* The example's conventions: DPO masking by multiplication, 0/0 = NaN for an empty sequence.
 * Its bound, from its error analysis (u = 2^-24, V <= 64 and at most 8 tokens a sequence here):
 * with x / tau exact, d = x_y/tau - m and the final subtraction cost at most 1.5 ulp of logp
 * (|logp| >= |d|, log s); s = sum expf(x_i/tau - m) has absolute error <= 3 V u (each term: the
 * rounding of its argument moves it by <= u g e^-g <= u/e, expf <= 1 ulp, the sum (V - 1) u s,
 * s >= 1), so log s is within 192 u < 2^-16.4. So a token is within 16 ulp or 2^-16 absolute
 * (2^-16 >= 2^-16.4 (1 + 2/14)), a sum of <= 8 within 2^-12, a mean within 2^-15.
 * It computes in f32: where tau or x / tau overflows f32 (tau = 1e-300 rounds to 0) its rows are
 * inf/NaN, and where a sum overflows f32 its mean sum / n is -inf (--in-range f32 leaves those
 * out); where x / tau is inexact in f32 its error grows with max |x| / tau (a row of logits near
 * -57472 with tau 0.7 is off by 4e-3), which no fixed bound states (--tempered-exact f32 leaves
 * those out). Both are counted, and README "Fuzzing" says so. */
#define LP_FZ_EXAMPLE_ARGS                                                                        \
    "--max-ulp 16 --max-abs token=0x1p-16 --max-abs sum=0x1p-12 --max-abs mean=0x1p-15 "          \
    "--masking mul --empty-mean nan --in-range f32 --tempered-exact f32"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ck_fuzz *fz;

/* At exit: what the inputs were, so that a corpus mostly skipped or left out shows. */
static void summary(void)
{
    if (!fz) return;
    const int64_t *n = fz->n;
    fprintf(stderr, "%s: %lld inputs: %lld judged (f64 %lld, f32 %lld, f16 %lld, bf16 %lld), %lld "
            "skipped (format or capability), %lld rejected by the reference, %lld left out\n", H,
            (long long)(n[0] + n[1] + n[2] + n[3] + n[4]), (long long)(n[CK_FZ_PASS] + n[CK_FZ_FAIL]),
            (long long)fz->judged[LP_F64], (long long)fz->judged[LP_F32],
            (long long)fz->judged[LP_F16], (long long)fz->judged[LP_BF16], (long long)n[CK_FZ_SKIP],
            (long long)n[CK_FZ_REJECT], (long long)n[CK_FZ_LEFT_OUT]);
}

static ck_fuzz *setup(void)
{
    static ck_fuzz z;
    const char *spec = getenv("LPCERT_FUZZ_PLUGIN"), *args = getenv("LPCERT_FUZZ_ARGS");
    static char near[4096];
    if (!spec || !*spec) {
        spec = LP_FZ_EXAMPLE_PLUGIN;
        if (!args || !*args) args = LP_FZ_EXAMPLE_ARGS;
        /* Shipped without its build tree (ClusterFuzzLite's runner: .clusterfuzzlite/build.sh puts
         * the example next to the harness): the same file name in the harness's own directory. */
        ssize_t n = access(spec, R_OK) == 0 ? -1 : readlink("/proc/self/exe", near, sizeof near - 1);
        const char *base = strrchr(LP_FZ_EXAMPLE_PLUGIN, '/');
        if (n > 0 && base) {
            near[n] = '\0';
            char *slash = strrchr(near, '/');
            if (slash && (size_t)(slash - near) + strlen(base) < sizeof near) {
                strcpy(slash, base);
                if (access(near, R_OK) == 0) spec = near;
            }
        }
    }
    ck_fuzz_init(&z);
    lp_error aerr = {LP_OK, ""};
    if (ck_fuzz_args(&z, args, &aerr) != LP_OK) {
        fprintf(stderr, "%s: %s\n", H, aerr.msg);
        fprintf(stderr, "%s: LPCERT_FUZZ_ARGS '%s' is not valid (the options of lpcert fuzz)\n", H,
                args ? args : "");
        exit(2);
    }
    lp_error err = {LP_OK, ""};
    if (ck_fuzz_open(&z, spec, &err) != LP_OK) {
        fprintf(stderr, "%s: LPCERT_FUZZ_PLUGIN: %s\n", H, err.msg);
        exit(2);
    }
    char line[600];
    ck_fuzz_args_text(line, sizeof line, &z);
    fprintf(stderr, "%s: plugin %s (%s); args: %s\n", H, spec, z.k.p->name, line);
    atexit(summary);
    return &z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz) fz = setup();
    ck_fz_verdict v;
    char *report = NULL;
    lp_error err = {LP_OK, ""};
    lp_status s = ck_fuzz_one(fz, data, size, &v, &report, &err);
    LP_FZ_CHECK(s == LP_OK, H, NULL, "lpcert error %s: %s", lp_status_name(s), err.msg);
    if (v == CK_FZ_FAIL) lp_fz_fail(H, NULL, "%s", report);
    free(report);
    return 0;
}
