/* core/lp_case.h: the owned case: a named problem together with the arrays it points into.
 *
 * The one owned-problem type of lpcert: the standard families (gen/), the vector reader
 * (core/vectors.c), the report's cases and the tests build an lp_case and pass &c->pb on.
 * (gen/lp_fuzz_decode.h keeps its own lp_fz_problem: the fuzz decoder allocates every array at
 * its exact size so that AddressSanitizer sees a read one past the end; an lp_case may hold
 * arrays larger than its problem needs.) */
#ifndef LP_CASE_H
#define LP_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

typedef struct lp_case {
    char name[128];        /* "<family>/<dtype>/<k>": unique within a suite */
    char family[64];
    lp_problem pb;         /* points into the arrays below (or into borrowed memory) */
    void *logits;          /* B*T*V elements of pb.fmt, owned, or NULL */
    int64_t *labels;       /* B*T, owned, or NULL */
    uint8_t *mask;         /* B*T, owned, or NULL */
} lp_case;

/* Frees the owned arrays and clears the case (NULL is a no-op). */
void lp_case_free(lp_case *c);

#endif
