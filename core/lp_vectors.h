/* core/lp_vectors.h: the one reader of the vector format (vectors/FORMAT.md).
 *
 * Strict: every line is checked (fixed-width hex, whole decimal integers, no trailing text), the
 * header lines come before the data lines, an unknown line is an error, and at `end` every count
 * is checked (B l lines, B k lines or none, B*T x lines, B*Ts t/u lines, B s lines, one m line,
 * B*T rows in each grad block). The header may set SPEC A7's sampling parameters (softcap, top_k,
 * top_p, min_p lines).
 * Errors are LP_ERR_INPUT (LP_ERR_IO, LP_ERR_NOMEM) lines "path:line: what". Used by the report
 * (its corpus families) and the tests (t_vectors, t_fast, t_impl_contract). */
#ifndef LP_VECTORS_H
#define LP_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "lp_case.h"
#include "lpcert.h"

#define LP_VGRAD_MAX 4

typedef struct lp_vcase {
    lp_case c;             /* name, family and the problem; c.pb points into c.logits, c.mask and
                            * c.labels, or labels32 when the file says itype i32 */
    int64_t line;          /* the line of `case` */
    int32_t *labels32;     /* the labels as I32 (itype i32), owned, else NULL */
    /* The expected values (t/u, s, m lines): B, Ts, logp and counted [B*Ts] (the canonical NaN in
     * every format where not counted), sum, mean, count [B], token_mean; dd.hi is the F64 value
     * and dd.lo the LO field. stats stay 0. */
    lp_ref_result want;
    int64_t tm_count;      /* the count of the m line */
    /* Gradient blocks (vectors/gen_grad.py, SPEC A8): `grad R` then B*T rows (g, z or n lines);
     * at most LP_VGRAD_MAX per case, after the m line. grad[k].g is [B*T*V], row-major. */
    int ngrad;
    struct lp_vgrad {
        lp_reduction red;
        lp_value *g;
    } grad[LP_VGRAD_MAX];
} lp_vcase;

typedef struct lp_vreader lp_vreader;

lp_status lp_vectors_open(lp_vreader **out, const char *path, lp_error *err);
/* The same reader over size bytes in memory (not copied: they must outlive the reader); name
 * stands for the path in errors. For the fuzz harness fuzz/fz_vectors.c. */
lp_status lp_vectors_open_mem(lp_vreader **out, const void *data, size_t size, const char *name,
                              lp_error *err);
/* Reads the next case into *c (overwritten: free it with lp_vcase_free first); *got is 1, or 0
 * at the end of the file (c then cleared). On an error c is cleared too. */
lp_status lp_vectors_next(lp_vreader *r, lp_vcase *c, int *got, lp_error *err);
void lp_vectors_close(lp_vreader *r);      /* NULL is a no-op */
void lp_vcase_free(lp_vcase *c);           /* frees the arrays and clears c */

#endif
