/* core/lp_ulp.h: the error measure of DESIGN A4. */
#ifndef LP_ULP_H
#define LP_ULP_H

#include "lpcert.h"

/* ulp_F(x) = 2^(max(floor(log2|x|), emin) - p + 1) for the exact x = dd.hi + dd.lo (the exponent
 * taken from the pair, not from dd.hi alone: dd.hi may have rounded up to a power of two);
 * for x = 0 the smallest subnormal of F. */
double lp_ulp_of(lp_dd x, lp_format f);

typedef enum lp_cmp_class {
    LP_CMP_NUMBER = 0,    /* both finite numbers: err_ulp and err_abs are meaningful */
    LP_CMP_SAME_SPECIAL,  /* both NaN, or equal infinities: exact, err 0 */
    LP_CMP_MISMATCH       /* NaN vs number, inf vs finite, or infinities of opposite sign */
} lp_cmp_class;

typedef struct lp_err_measure {
    lp_cmp_class cls;
    double err_ulp;       /* |y - x| / ulp_F(x); 0 unless cls == LP_CMP_NUMBER */
    double err_abs;       /* |y - x| */
} lp_err_measure;

/* Measures candidate y (a value of format f, widened to double) against the exact x given as the
 * reference's double-double, and ref_f: the reference's correctly rounded value in f, widened to
 * double (it decides the class: a candidate inf where the exact value overflows f is right). */
lp_err_measure lp_ulp_error(double y, lp_dd x, double ref_f, lp_format f);

#endif
