/* reference/lp_grad_internal.h: the pieces of the gradient reference (grad.c, grad_fast.c) shared
 * with its tests. Internal: not installed. */
#ifndef LP_GRAD_INTERNAL_H
#define LP_GRAD_INTERNAL_H

#include "lpcert.h"

typedef enum lp_grow_class {
    LP_GROW_NUM = 0,   /* at least two distinct finite logits, no NaN or +inf: the Ziv loop */
    LP_GROW_EXACT,     /* every finite logit equal (nfin of them): rational elements */
    LP_GROW_NAN        /* NaN or +inf in the row, or no finite logit: NaN everywhere */
} lp_grow_class;

typedef struct lp_grad_rowinfo {
    lp_grow_class cls;
    double m;          /* the max finite logit */
    int64_t nfin;      /* finite logits */
    int label_neginf;  /* the label's logit is -inf */
} lp_grad_rowinfo;

void lp_grad_row_scan(lp_grad_rowinfo *ri, const void *row, lp_format fmt, int64_t V, int64_t y);
/* A LP_GROW_NAN or LP_GROW_EXACT row (counts V exact elements). */
lp_status lp_grad_row_exact(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                            int64_t V, int64_t y, double tau, int64_t D, lp_grad_stats *st,
                            lp_error *err);
/* The elements todo[0..ntodo) (todo NULL: all V) of a LP_GROW_NUM row by the Ziv loop. */
lp_status lp_grad_row_mpfr(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                           int64_t V, int64_t y, double tau, int64_t D, const int64_t *todo,
                           int64_t ntodo, lp_grad_stats *st, lp_error *err);
/* One counted row, every class (the MPFR state entered by the caller). */
lp_status lp_grad_row_any(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                          double tau, int64_t D, int slow, lp_grad_stats *st, lp_error *err);

#endif
