/* gen/lp_gen_random.h: seeded random problems, the second half of `lpcert certify` (after the
 * standard suite): sizes, value scales, -inf masking, peaked rows, ignored and masked positions
 * (with NaN/inf in some masked rows: leak traps), all-masked sequences, shift, temperature.
 * The same generator state gives the same problem, bit for bit, on every machine. */
#ifndef LP_GEN_RANDOM_H
#define LP_GEN_RANDOM_H

#include "lp_rng.h"
#include "lp_suite.h"

/* The seed certify's random problems start from: its --seed xor this ("random"). */
#define LP_GEN_RANDOM_SALT 0x72616e646f6du

/* Fills c (owned arrays, free with lp_gen_case_free) with one random problem drawn from rng: its
 * logits format among the bits (1u << fmt) of fmts (at least one), a temperature != 1 only when
 * temp_ok. c->name and c->family are left for the caller ("" and "random"). */
lp_status lp_gen_random(lp_case *c, lp_rng *rng, unsigned fmts, int temp_ok, lp_error *err);
/* Frees the arrays of one case and zeroes it. */
void lp_gen_case_free(lp_case *c);

#endif
