/* reference/lp_ref_judge.h: what the enclosure-based judge (check/judge.c) asks of the exact
 * engine, beyond the public API: the reference with the enclosures it was decided from, and the
 * exact values of single tokens and sequences, computed as the all-MPFR route computes them.
 *
 * EXACT     lp_ref_exact_token and lp_ref_exact_seq compute every output of one token (the
 *           decision chain of decide.c with the double-double wanted: tier 3, then the Ziv loop)
 *           or of one sequence (the one-sequence problem, whose sum and mean depend on that
 *           sequence's rows only: batch.c, do_sequence). Every output, the double-double included,
 *           is a function of the exact value (lpcert.h: dd.lo = RN(x - dd.hi), canonical), so it is
 *           bit for bit what the all-MPFR route gives for that value. */
#ifndef LP_REF_JUDGE_H
#define LP_REF_JUDGE_H

#include <stdint.h>

#include "lp_fast.h"
#include "lpcert.h"

/* The enclosures a fast reference was decided from. cls[i]: lp_tok_class (lp_ref_internal.h) of
 * counted token i (0: a finite irrational value, enclosed in tok); tok[3 i .. 3 i + 2]: the triple
 * (p, clo, chi) with p + clo <= logp <= p + chi (p = lo, clo = 0 for ends-only enclosures: then
 * p + chi rounds up); seq[3 b ..]: the same for sequence b's sum, seq[3 b] NaN when the sum is
 * special (NaN, -inf or exactly 0: no enclosure; its value is exact). All NULL when the fast path
 * was off. */
typedef struct lp_ref_enc {
    uint8_t *cls;
    double *tok, *seq;
} lp_ref_enc;

/* lp_ref_compute_opts, keeping the enclosures in enc (freed by lp_ref_enc_free; NULL members when
 * the fast path is off: slow set, or the double-double wanted). */
lp_status lp_ref_compute_enc(lp_ref_result *res, lp_ref_enc *enc, const lp_problem *pb,
                             const lp_ref_options *opt, lp_error *err);
void lp_ref_enc_free(lp_ref_enc *enc);

/* The exact value of the counted token (b, ts) of pb, every member, equal to the all-MPFR route's. */
lp_status lp_ref_exact_token(lp_value *out, const lp_problem *pb, int64_t b, int64_t ts,
                             lp_error *err);
/* Tier 2's enclosure (fast_dd.c) of token (b, ts), of its processed logp (SPEC A7: on the row
 * masked to its kept set; none with softcap); 0 when outside its domain. */
int lp_ref_tier2_token(lp_fast_enc *e, const lp_problem *pb, int64_t b, int64_t ts);
/* The exact sum and mean of sequence b, every member, equal to the all-MPFR route's. */
lp_status lp_ref_exact_seq(lp_value *sum, lp_value *mean, const lp_problem *pb, int64_t b,
                           lp_error *err);

#endif
