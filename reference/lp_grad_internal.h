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
/* The elements undecided[0..nundecided) (undecided NULL: all V) of a LP_GROW_NUM row by the Ziv loop. */
lp_status lp_grad_row_mpfr(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                           int64_t V, int64_t y, double tau, int64_t D, const int64_t *undecided,
                           int64_t nundecided, lp_grad_stats *st, lp_error *err);
/* Per-thread buffers of the fast path (grad_fast.c), grown as needed; zero-initialise. */
typedef struct lp_grad_scratch {
    double *x, *eh, *el;
    unsigned char *small;
    int64_t *undecided;
    size_t cap;
} lp_grad_scratch;
int lp_grad_fast_scratch(lp_grad_scratch *sc, int64_t V);   /* 0: out of memory */
void lp_grad_scratch_free(lp_grad_scratch *sc);
/* The fast path on a LP_GROW_NUM row (grad_fast.c): 0 when the row is outside its domain (nothing
 * done); else 1, *status the outcome, and the wanted formats of every element decided except the
 * *nundecided indices left in sc->undecided (for lp_grad_row_mpfr). */
int lp_grad_row_fast(lp_value *g, const lp_grad_rowinfo *ri, const void *row, lp_format fmt,
                     int64_t V, int64_t y, double tau, int64_t D, unsigned want,
                     lp_grad_scratch *sc, int64_t *nundecided, lp_grad_stats *st, lp_error *err,
                     lp_status *status);
/* 1 if the normal double p is a rounding boundary (midpoint, overflow threshold) of f. */
int lp_grad_is_boundary(double p, lp_format f);
/* RN_f32(p) and RN_bf16(p) of a double, as lp_f32_from_f64 and lp_bf16_from_f64 (grad_fast.c). */
void lp_grad_round32(double p, float *f32, uint16_t *bf16);
/* One counted row, every class (the MPFR state entered by the caller): the fast path unless slow
 * (or want holds LP_REF_DD), the MPFR route for the rest. want: LP_REF_ALL bits (0: all). */
lp_status lp_grad_row_any(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                          double tau, int64_t D, int slow, unsigned want, lp_grad_scratch *sc,
                          lp_grad_stats *st, lp_error *err);
/* One counted row under the sampling parameters smp (SPEC A7 then A8; NULL or none set: as
 * lp_grad_row_any). Without softcap, lp_grad_row_any on the row with the dropped logits at -inf;
 * with softcap, the MPFR route of grad.c's SAMPLING paragraph. smp valid (lp_sampling_check). */
lp_status lp_grad_row_sampled(lp_value *g, const void *row, lp_format fmt, int64_t V, int64_t y,
                              double tau, const lp_sampling *smp, int64_t D, int slow,
                              unsigned want, lp_grad_scratch *sc, lp_grad_stats *st,
                              lp_error *err);

#endif
