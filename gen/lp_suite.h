/* gen/lp_suite.h: the standard suite: named families of seeded test problems, each probing one
 * regime of SPEC A1-A3 (value classes after PyTorch's normal/small/large/extremal). Used by
 * `lpcert gen` (exported as safetensors), the accuracy report, certification and fuzz seeds.
 * The committed vectors in vectors/ come from an independent Python generator; these families are
 * the C side's own, and their expected values come from the exact reference. */
#ifndef LP_SUITE_H
#define LP_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include "lp_case.h"   /* the owned case (core/) */
#include "lp_format.h"
#include "lpcert.h"

typedef struct lp_case_list {
    lp_case *v;
    size_t n, cap;
} lp_case_list;

typedef struct lp_family_info {
    const char *name;
    const char *probes;    /* one line: what it probes */
} lp_family_info;

size_t lp_family_count(void);
const lp_family_info *lp_family_at(size_t i);
const lp_family_info *lp_family_find(const char *name);

/* Appends to out the cases of one family (or all when family is NULL or "all") for every format
 * whose bit (1u << fmt) is set in fmt_mask. The same seed gives the same cases on every machine. */
lp_status lp_suite_build(lp_case_list *out, const char *family, unsigned fmt_mask, uint64_t seed,
                         lp_error *err);
void lp_case_list_free(lp_case_list *l);   /* frees the cases and the list's storage */


#endif
