/* gen/lp_gen_random.h: seeded random problems, the second half of `lpcert certify` (after the
 * standard suite): sizes, value scales, -inf masking, peaked rows, ignored and masked positions
 * (with NaN/inf in some masked rows: leak traps), all-masked sequences, shift, temperature; the
 * filler sequences of the batch-invariance check; random inputs of the fuzz decoder for `lpcert
 * fuzz --plugin`. The same generator state gives the same output, bit for bit, on every machine. */
#ifndef LP_GEN_RANDOM_H
#define LP_GEN_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "lp_rng.h"
#include "lp_suite.h"

/* The seed certify's random problems start from: its --seed xor this ("random"). */
#define LP_GEN_RANDOM_SALT 0x72616e646f6du

/* Fills c (owned arrays, free with lp_case_free) with one random problem drawn from rng: its
 * logits format among the bits (1u << fmt) of fmts (at least one), a temperature != 1 only when
 * temp_ok. c->name and c->family are left for the caller ("" and "random"). */
lp_status lp_gen_random(lp_case *c, lp_rng *rng, unsigned fmts, int temp_ok, lp_error *err);
/* A filler sequence (the neighbours of certify's batch-invariance check): T rows of V logits drawn
 * from a normal of deviation 3, stored in fmt at logits, then T uniform labels in [0, V) stored
 * as lt at labels. */
void lp_gen_filler(void *logits, void *labels, lp_format fmt, lp_itype lt, int64_t T, int64_t V,
                   lp_rng *rng);

/* A random input of the fuzz decoder's layout (gen/lp_fuzz_decode.h), for `lpcert fuzz --plugin`:
 * payload bytes, then label selectors and the LP_FZ_NPARAM parameter bytes read from the end; the
 * logits format among the bits (1u << fmt) of formats (at least one), the mask byte mostly off,
 * mostly labels in range; taus: the tau selectors to draw from (15 times in 16). Returns its
 * length, 0 when it would exceed cap. */
size_t lp_gen_fuzz_input(uint8_t *buf, size_t cap, lp_rng *rng, unsigned formats,
                         const uint8_t *taus, int ntau);

#endif
