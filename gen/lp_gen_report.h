/* gen/lp_gen_report.h: the accuracy report's own problems (report/cases.c, report/sweep.c): the
 * near_zero and pair_exh families, and the sweep's DPO quads of logits that are multiples of 1/8.
 * Seeded; the same arguments give the same problems, bit for bit, on every machine. */
#ifndef LP_GEN_REPORT_H
#define LP_GEN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lp_suite.h"

/* near_zero in format f: one sequence of R = 4K rows (K = 41 quick, else 161) of V = 256 logits,
 * shift none; label probability 1 - q with q = 10^-(k/4). Fills c (owned arrays; c->name and
 * c->family set). */
lp_status lp_gen_near_zero(lp_case *c, lp_format f, uint64_t seed, int quick, lp_error *err);
/* pair_exh in format f (f16 or bf16): every finite value x (every 61st bit pattern when quick) in a
 * row (0, x), once with label 0 and once with label 1, one token per sequence, shift none.
 * *exhaustive: 1 when every value is there. */
lp_status lp_gen_pair_exh(lp_case *c, lp_format f, int quick, int *exhaustive, lp_error *err);

/* The sweep's sequences: quads (policy chosen, reference chosen, policy rejected, reference
 * rejected) of L rows of V logits * 8 as int8 in q [4 * quads, L, V], and their labels [4 * quads,
 * L]. */
#define LP_GEN_QUAD 4
void lp_gen_dpo_quads(int8_t *q, int64_t *labels, int64_t quads, int64_t L, int64_t V,
                      uint64_t seed);
/* n logits q[i] / 8 stored in format f (exact in all four), malloc'd; NULL when out of memory. */
void *lp_gen_eighths_as(const int8_t *q, size_t n, lp_format f);

#endif
