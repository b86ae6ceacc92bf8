/* reference/lp_fast_internal.h: pieces of fast.c shared with fast_dd.c (tier 2). */
#ifndef LP_FAST_INTERNAL_H
#define LP_FAST_INTERNAL_H

#include <stdint.h>

#include "lpcert.h"

/* The hot loops are compiled for AVX-512, AVX2+FMA and the baseline, chosen at load time
 * (GCC target_clones on x86-64). The build's -ffp-contract=off keeps every operation as written
 * and the explicit fma() calls are one rounding on every ISA (vfmadd, or libm's correctly rounded
 * fma() on the baseline), so all clones give the same bits.
 * Left out under ASan (its shadow checks and ifunc resolvers do not mix well) and with
 * -DLP_NO_CLONES. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LP_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__)
#define LP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LP_CLONES
#endif

/* 1: tier 1's loops take their 4-lane form on any CPU (the form of CPUs without AVX-512; the
 * same bits as the 8-lane form). Tests set it to cover that form; only while no computation runs. */
extern int lp_fast_narrow;

/* Builds what widening fmt needs (the f16 table), once; thread-safe. */
void lp_fast_prepare(lp_format fmt);
/* Widens elements [o, o + n) of a row of fmt into buf, exactly (lp_fast_prepare first). */
void lp_fast_widen(double *buf, const void *row, lp_format fmt, int64_t o, int n);
/* The max over the finite and -inf values of a row of V elements; *bad = 1 when it holds a NaN or
 * +inf. Blocks of 1024: buf-free for the caller. */
double lp_fast_row_max(const void *row, lp_format fmt, int64_t V, int *bad);

/* The counts of the 65536 bit patterns of a bf16 or f16 row into cnt (zeroed first), and its max
 * into *m, found from the counts (patterns in value order). 0 when the row holds a NaN or +inf, or
 * no value above -inf. */
int lp_fast_hist16(uint32_t *cnt, const void *row, lp_format fmt, int64_t V, double *m);

#endif
