/* core/lp_format.h: the four storage formats, exact widening and correctly rounded narrowing
 * (lp_format_info, lp_f16_to_f64 ... lp_f32_from_f64, lp_value_wide, lp_load_f64, lp_round_to,
 * lp_format_hexdec), declared in the public include/lpcert.h with their comments; this internal
 * header adds the store used by the generators and tests. */
#ifndef LP_FORMAT_H
#define LP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

/* Stores x rounded (RNE) to format f as element i of base (the inverse of lp_load_f64). */
void lp_store_f64(void *base, lp_format f, size_t i, double x);

#endif
