/* reference/lp_ref_internal.h: the pieces of the exact engine shared by its files and tests. */
#ifndef LP_REF_INTERNAL_H
#define LP_REF_INTERNAL_H

#include <mpfr.h>

#include "lp_fast.h"
#include "lp_problem.h"
#include "lpcert.h"

typedef enum lp_tok_class {
    LP_TOK_NUM = 0,   /* a finite irrational value: needs the Ziv loop */
    LP_TOK_ZERO,      /* exactly +0: the only finite logit is at the label (SPEC A2) */
    LP_TOK_NEGINF,    /* the label's logit is -inf (A3 rule 3) */
    LP_TOK_NAN        /* NaN or +inf in the row, or no finite logit (A3 rules 1, 2) */
} lp_tok_class;

typedef struct lp_row {
    const void *data;   /* V elements of fmt */
    lp_format fmt;
    int64_t V, label;
    double tau;
    double m, xy;       /* set by lp_row_scan: the max finite logit and the label's logit */
    int64_t j;          /* the first index of the max */
    /* SPEC A7 (sample.c), zero for A1's plain row: cap, the softcap c (x_i <- c tanh(x_i / c)
     * before the temperature); filt non-zero: only the logits x_i >= thr are kept (the kept set of
     * top_k, top_p and min_p is always such a set: each keeps every token at least as probable as
     * one it keeps), the others count as -inf. */
    double cap;
    int filt;
    double thr;
} lp_row;

typedef struct lp_mpfr_state { mpfr_exp_t emin, emax; mpfr_flags_t flags; } lp_mpfr_state;
void lp_mpfr_enter(lp_mpfr_state *st);   /* saves state, widens the exponent range to the max */
void lp_mpfr_leave(const lp_mpfr_state *st);
/* MPFR's constant caches (log 2, pi: thread-local, filled by mpfr_log, mpfr_exp and the
 * mpfr_const_* functions) are freed by every entry point before it returns, and by every worker
 * thread before it exits, so that no memory stays allocated in the caller's threads:
 * lp_mpfr_release_cache() does that on the calling thread unless lp_mpfr_keep_cache is set. The
 * fuzz harnesses set it (fuzz/fz_alloc.c, lp_fz_init): recomputing log 2 and pi at up to thousands
 * of bits on every call was a large part of an execution. Values do not depend on it: the
 * constants are correctly rounded at every precision, cached or not. Worker threads free their
 * caches whatever it says (a thread's cache is lost when it exits). Set it only while no
 * computation runs. */
extern int lp_mpfr_keep_cache;
void lp_mpfr_release_cache(void);

lp_tok_class lp_row_scan(lp_row *r);
void lp_row_enclose(mpfr_t lo, mpfr_t hi, const lp_row *r, mpfr_prec_t prec);
/* The two parts of logp = (x_y - m) / tau - L: L's enclosure, and x_y - m exactly. */
#define LP_GAP_PREC 2112
void lp_row_log1p_enclose(mpfr_t llo, mpfr_t lhi, const lp_row *r, mpfr_prec_t prec);
void lp_row_gap(mpfr_t g, const lp_row *r);
lp_status lp_row_decide(lp_value *out, mpfr_t lo, mpfr_t hi, const lp_row *r, mpfr_prec_t *prec,
                        lp_ref_stats *stats, lp_error *err);
int lp_decide(lp_value *out, const mpfr_t lo, const mpfr_t hi);
/* Softcap (ziv.c): lo <= c tanh(x / c) <= hi (x finite, c > 0, at lo's and hi's precisions); and
 * dlo <= (c tanh(x / c) - c tanh(m / c)) / tau <= dhi from [mlo, mhi] enclosing c tanh(m / c)
 * (t: scratch at dlo's precision). */
void lp_cap_enclose(mpfr_t lo, mpfr_t hi, double x, double c);
void lp_cap_diff(mpfr_t dlo, mpfr_t dhi, mpfr_t t, double x, const mpfr_t mlo, const mpfr_t mhi,
                 double c, double tau);
/* SPEC A7 (sample.c): sets r->cap, r->filt and r->thr for the sampling parameters s (valid: see
 * lp_problem_check) on r's stored row; every kept-set decision exact (slow: by MPFR only). A row with NaN or +inf,
 * or without a finite logit, is left unfiltered (its class is NaN whatever is kept). Raises
 * st->max_prec (st may be NULL). LP_ERR_INTERNAL when a decision is undecided at the precision
 * cap; LP_ERR_NOMEM. */
lp_status lp_sample_prepare(lp_row *r, const lp_sampling *s, int slow, lp_ref_stats *st,
                            lp_error *err);
/* A malloc'd copy of r's row with the logits outside its kept set (r->filt) at -inf: A1's row
 * whose logp is r's processed logp when r has no softcap (decide.c, SAMPLED). NULL: no memory. */
void *lp_row_masked(const lp_row *r);
void lp_value_special(lp_value *out, lp_tok_class cls);
mpfr_prec_t lp_ziv_prec0(void);
mpfr_prec_t lp_ziv_max_prec(void);

/* One scored token's MPFR enclosure (kept by batch.c between its phases). */
typedef struct lp_ref_slot {
    mpfr_t lo, hi;
    mpfr_prec_t prec;   /* 0: nothing initialised (a special token, or one a fast tier decided) */
} lp_ref_slot;

/* Tiers 1 and 2 (enclosures as double pairs; sums from them) are used unless slow is asked for or
 * the double-double is wanted; tier 3 (fast_td.c: MPFR enclosures in the slots, sums from them by
 * the MPFR reduction) when the double-double is wanted and slow is not (decide.c). */
static inline int lp_ref_fast_on(unsigned want, int slow) { return !slow && !(want & LP_REF_DD); }
static inline int lp_ref_td_on(unsigned want, int slow) { return !slow && (want & LP_REF_DD); }

/* The decision chain of one scored token r (decide.c): tier 1, tier 2 (fast: lp_ref_fast_on), or
 * tier 3 (td: lp_ref_td_on), the class, the Ziv loop, into out (the wanted members; all of them
 * when tier 3 or the Ziv loop decides). *cls: the class. When tier 3 decided or the Ziv loop ran,
 * sl holds the enclosure (sl->prec set, LP_ZIV_PREC0 for tier 3; the caller clears it, also on
 * failure), otherwise sl->prec is left alone (give it 0). When fast, *enc is the enclosure of a
 * LP_TOK_NUM token (from the tier that decided it, or from the MPFR ends). Counts in st: fast (a
 * tier decided), exact (a special or zero), fallback (the Ziv loop ran, when fast or td), and the
 * loop's retries and max_prec. */
lp_status lp_ref_token(lp_value *out, lp_tok_class *cls, lp_fast_enc *enc, lp_ref_slot *sl,
                       lp_row *r, unsigned want, int fast, int td, lp_ref_stats *st,
                       lp_error *err);

#endif
