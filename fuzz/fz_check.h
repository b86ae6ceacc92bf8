/* fuzz/fz_check.h: what the harnesses compute on their own, independently of reference/: the
 * A3 class of a scored token, whether it counts, RNE rounding of an MPFR value into a format,
 * and comparisons of lp_value. */
#ifndef FZ_CHECK_H
#define FZ_CHECK_H

#include <mpfr.h>
#include <stdint.h>

#include "fz_decode.h"
#include "lpcert.h"

typedef enum lp_fz_class {
    LP_FZ_NUM = 0,   /* finite, strictly negative exact value */
    LP_FZ_ZERO,      /* exactly +0: the only finite logit is at the label */
    LP_FZ_NEGINF,    /* the label's logit is -inf, some logit finite */
    LP_FZ_NAN        /* NaN or +inf in the row, or no finite logit */
} lp_fz_class;

/* Scored positions per sequence, and for scored token (b, ts): the label's index t in [0, T). */
int64_t lp_fz_ts(const lp_fz_problem *p);
int64_t lp_fz_label_t(const lp_fz_problem *p, int64_t ts);
size_t lp_fz_row0(const lp_fz_problem *p, int64_t b, int64_t ts);  /* first logit of the row */
int lp_fz_counted(const lp_fz_problem *p, int64_t b, int64_t ts);
/* The class of row (b, ts) scoring label y (0 <= y < V), by SPEC A3 in its order. */
lp_fz_class lp_fz_row_class(const lp_fz_problem *p, int64_t b, int64_t ts, int64_t y);
/* The first scored label outside [0, V) and not ignore_index, in (b, ts) order: 1 and *b, *t
 * (the label's own t), *lab set; else 0. */
int lp_fz_bad_label(const lp_fz_problem *p, int64_t *b, int64_t *t, int64_t *lab);

/* The bit pattern of the member of v in format f (its value: lp_value_wide, core/lp_format.h). */
uint64_t lp_fz_bits_in(const lp_value *v, lp_format f);
uint64_t lp_fz_qnan(lp_format f);        /* the canonical NaN every lpcert result uses */

/* x rounded to format f (RNE, gradual underflow, overflow to inf), widened to double. Written
 * here from the definition, apart from the reference's own rounding. */
double lp_fz_round(const mpfr_t x, lp_format f);

/* 1 if a and b are the same result: equal bits in the four formats and dd.hi, and dd.lo both NaN
 * or within the two evaluations' allowed spread (lpcert.h: each within 2^-104|x| + 2^-1074).
 * On a difference, *what names the first member that differs. */
int lp_fz_same_value(const lp_value *a, const lp_value *b, const char **what);

/* "f64 0x... (..) f32 ... dd (hi, lo)" for a failure line. */
void lp_fz_value_str(char *buf, size_t cap, const lp_value *v);

#endif
