/* reference/lp_fast_internal.h: pieces of fast.c shared with fast_dd.c (tier 2). */
#ifndef LP_FAST_INTERNAL_H
#define LP_FAST_INTERNAL_H

#include <stdint.h>

#include "lpcert.h"

/* Builds what widening fmt needs (the f16 table), once; thread-safe. */
void lp_fast_prepare(lp_format fmt);
/* Widens elements [o, o + n) of a row of fmt into buf, exactly (lp_fast_prepare first). */
void lp_fast_widen(double *buf, const void *row, lp_format fmt, int64_t o, int n);
/* The max over the finite and -inf values of a row of V elements; *bad = 1 when it holds a NaN or
 * +inf. Blocks of 1024: buf-free for the caller. */
double lp_fast_row_max(const void *row, lp_format fmt, int64_t V, int *bad);

#endif
