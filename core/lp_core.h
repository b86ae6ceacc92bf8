/* core/lp_core.h: internal helpers shared by every part of lpcert (errors, bit punning). */
#ifndef LP_CORE_H
#define LP_CORE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpcert.h"

#if defined(__GNUC__)
#define LP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LP_PRINTF(a, b)
#endif

/* Fills err (if non-NULL) with one line and returns status. */
lp_status lp_fail(lp_error *err, lp_status status, const char *fmt, ...) LP_PRINTF(3, 4);

/* Stays on in release builds: a wrong answer is worse than a crash. States proved invariants. */
#define LP_ASSERT(c)                                                                              \
    do {                                                                                          \
        if (!(c)) {                                                                               \
            fprintf(stderr, "lpcert: internal error: %s:%d: assertion '%s' failed\n", __FILE__, \
                    __LINE__, #c);                                                                \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

static inline uint64_t lp_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double lp_f64_bits(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static inline uint32_t lp_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float lp_f32_bits(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* Parses a whole decimal integer / a finite double (strtoll, strtod; no trailing characters;
 * subnormals are values, a non-zero number that underflows to 0 is refused); 1 on success, 0 (and
 * *out unchanged) otherwise. */
int lp_parse_int64(int64_t *out, const char *s);
int lp_parse_double(double *out, const char *s);

/* Checked size arithmetic: return 0 on overflow, 1 otherwise. */
static inline int lp_mul_size(size_t *out, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int lp_add_size(size_t *out, size_t a, size_t b)
{
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

#endif
