/* check/lp_check_fuzz.h: one fuzz input, decoded by the fuzzers' problem decoder (gen/lp_fuzz_decode.h),
 * judged as `lpcert certify` judges a case: the exact reference first (a problem it rejects is
 * not run), the kernel with certify's transformations and skips, lpcert check's comparison under
 * the given bounds and conventions, and batch invariance. Shared by `lpcert fuzz` (cmd_fuzz.c)
 * and the libFuzzer harness fuzz/fz_plugin.c, so that an input fails in one exactly when it fails
 * in the other. */
#ifndef LP_CHECK_FUZZ_H
#define LP_CHECK_FUZZ_H

#include "lp_check_internal.h"
#include "lp_fuzz_decode.h"

typedef enum ck_fz_verdict {
    CK_FZ_PASS = 0,   /* judged, passed */
    CK_FZ_FAIL,       /* judged, failed (or the kernel returned an error) */
    CK_FZ_SKIP,       /* a format or capability the kernel does not declare (as certify skips) */
    CK_FZ_REJECT,     /* the reference rejects the problem (an input error): not run */
    CK_FZ_LEFT_OUT,   /* outside --in-range or --tempered-exact: not run */
    CK_FZ_NVERDICT
} ck_fz_verdict;

typedef struct ck_fuzz {
    ck_options opt;
    ck_kernel k;
    int range_fmt;                        /* --in-range F, or -1 */
    int exact_fmt;                        /* --tempered-exact F, or -1 */
    int64_t n[CK_FZ_NVERDICT];            /* inputs per verdict */
    int64_t judged[LP_NFORMATS];          /* judged inputs (PASS or FAIL) per logits format */
} ck_fuzz;

void ck_fuzz_init(ck_fuzz *z);   /* options as certify's defaults, reference on one thread */
/* One option of the judgement (the common set of lp_check_internal.h, --batch-invariance,
 * --in-range, --tempered-exact): 0 if a is not one of them, else 1 with err as ck_options_parse. */
int ck_fuzz_option(ck_fuzz *z, const char *a, const char *v, lp_error *err);
/* Parses a whole option string ("--max-ulp 4 --masking mul", words split at blanks) and checks
 * the combination; LP_OK or LP_ERR_USAGE with the message. */
lp_status ck_fuzz_args(ck_fuzz *z, const char *line, lp_error *err);
extern const char ck_fuzz_help[];   /* --batch-invariance, --in-range, --tempered-exact: --help */
/* The options as one line, e.g. "--max-ulp token=4,sum=4,mean=4 --masking mul ...". */
void ck_fuzz_args_text(char *buf, size_t n, const ck_fuzz *z);

lp_status ck_fuzz_open(ck_fuzz *z, const char *spec, lp_error *err);   /* the plugin */
void ck_fuzz_close(ck_fuzz *z);

/* Decodes and judges one input; counts it in z. On CK_FZ_FAIL, *report (else NULL) is a
 * malloc'd text for "FAIL <harness>: " + it: one line naming the failure (value, expected value,
 * error, bound), then the problem in hex and decimal, then lpcert check's report of it. A status
 * other than LP_OK is an error of lpcert (out of memory, a reference failure other than an input
 * error). */
lp_status ck_fuzz_one(ck_fuzz *z, const uint8_t *data, size_t size, ck_fz_verdict *v,
                      char **report, lp_error *err);

#endif
