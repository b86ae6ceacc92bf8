/* fuzz/fz_decode.h: what every harness shares: the problem decoder (gen/lp_fuzz_decode.h) and the
 * failure report, which aborts (so it lives here, never in a library). */
#ifndef FZ_DECODE_H
#define FZ_DECODE_H

#include "lp_fuzz_decode.h"

/* The failure report of every harness: "FAIL <harness>: <message>", then the problem (when given),
 * then abort(), which libFuzzer and the replay driver both report as a crash. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
void lp_fz_fail(const char *harness, const lp_fz_problem *p, const char *fmt, ...);

#define LP_FZ_CHECK(cond, harness, p, ...)                                                        \
    do {                                                                                          \
        if (!(cond)) lp_fz_fail(harness, p, __VA_ARGS__);                                         \
    } while (0)

/* Once per process, before any MPFR number exists (LLVMFuzzerInitialize; the replay driver calls
 * that too): GMP's and MPFR's limb memory from recycled blocks (fz_alloc.c says why and what ASan
 * still sees). Idempotent. */
void lp_fz_init(void);

#endif
