/* core/lp_problem.h: addressing and validation of an lp_problem (SPEC A1, A3). */
#ifndef LP_PROBLEM_H
#define LP_PROBLEM_H

#include "lpcert.h"

/* Scored positions per sequence: T-1 with shift next (0 when T < 2), T with shift none. */
int64_t lp_problem_ts(const lp_problem *pb);

/* The label index (in labels' own [B, T] coordinates) scored by logits row (b, ts). */
static inline int64_t lp_problem_label_t(const lp_problem *pb, int64_t ts)
{
    return pb->shift == LP_SHIFT_NEXT ? ts + 1 : ts;
}

int64_t lp_problem_label(const lp_problem *pb, int64_t b, int64_t t);  /* labels[b, t] */
int lp_problem_mask(const lp_problem *pb, int64_t b, int64_t t);       /* mask[b, t], 1 if none */

/* The logits row (b, ts) and its element size. */
const void *lp_problem_row(const lp_problem *pb, int64_t b, int64_t ts);

/* Whether s sets any SPEC A7 parameter (zero is "not set"; NULL: none). */
int lp_sampling_on(const lp_sampling *s);

/* The problem of sequences [b0, b0 + nb) of pb (0 <= b0, b0 + nb <= B): the same rows, labels and
 * mask, pointing into pb's arrays. */
lp_problem lp_problem_seqs(const lp_problem *pb, int64_t b0, int64_t nb);

/* 1 if the scored token (b, ts) counts: label != ignore_index and mask == 1. */
int lp_problem_counted(const lp_problem *pb, int64_t b, int64_t ts);

/* lp_problem_check, with its input errors naming the tensors as lp_bind names them (file and
 * tensor): an empty or overflowing shape starts "<logits_name>: " (instead of "problem: "), a
 * label out of range "<labels_name>: ", a mask value not 0 or 1 "<mask_name>: ". NULL names
 * give lp_problem_check's messages. */
lp_status lp_problem_check_named(const lp_problem *pb, const char *logits_name,
                                 const char *labels_name, const char *mask_name, lp_error *err);

#endif
