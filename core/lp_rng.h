/* core/lp_rng.h: the project's one random generator: xoshiro256** seeded by splitmix64.
 * Deterministic across machines (integer only); normal deviates use libm (log, cos) and are only
 * used to draw inputs, never in a computed result. */
#ifndef LP_RNG_H
#define LP_RNG_H

#include <stdint.h>

typedef struct lp_rng { uint64_t s[4]; } lp_rng;

void lp_rng_init(lp_rng *r, uint64_t seed);
uint64_t lp_rng_next(lp_rng *r);
uint64_t lp_rng_below(lp_rng *r, uint64_t n);   /* uniform in [0, n), n > 0 */
double lp_rng_unif(lp_rng *r);                  /* [0, 1), multiples of 2^-53 */
double lp_rng_normal(lp_rng *r);                /* standard normal (Box-Muller) */

#endif
