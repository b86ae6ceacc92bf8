/* tests/lpt.h: the test kit. Seeds, levels, failure lines, MPFR state snapshots.
 * A failure is one self-contained line then indented detail; at most 20 are printed. */
#ifndef LPT_H
#define LPT_H

#include <stdint.h>

#include "lp_core.h"

void lpt_begin(const char *name);   /* unbuffers stdout, prints the seed, snapshots MPFR state */
int lpt_end(void);                  /* summary line; exit status: non-zero on failure or leak */
uint64_t lpt_seed(void);            /* LPCERT_SEED=<n> | random; fixed default */
int lpt_level(void);                /* LPCERT_LEVEL, default 1 */

/* Counts one check; returns ok. On failure prints "FAIL <test> " + the message (if printing
 * budget remains); the message should hold the case and both values in hex and decimal. */
int lpt_check(int ok, const char *fmt, ...) LP_PRINTF(2, 3);
void lpt_note(const char *fmt, ...) LP_PRINTF(1, 2);   /* indented detail for the last failure */
int64_t lpt_failures(void);

/* xoshiro256** seeded from lpt_seed() (or any seed) */
typedef struct lpt_rng { uint64_t s[4]; } lpt_rng;
void lpt_rng_init(lpt_rng *r, uint64_t seed);
uint64_t lpt_rng_next(lpt_rng *r);
double lpt_rng_unif(lpt_rng *r);    /* [0, 1) */
double lpt_rng_normal(lpt_rng *r);

#endif
