/* core/lp_ulp.h: the error measure of SPEC A4 (lp_ulp_of, lp_ulp_error), declared in the public
 * include/lpcert.h with its comments; this internal header stays for the files that include it. */
#ifndef LP_ULP_H
#define LP_ULP_H

#include "lpcert.h"

#endif
