/* core/lp_format.h: the four storage formats, exact widening and correctly rounded narrowing.
 * Narrowing is IEEE round-to-nearest-even with gradual underflow and overflow to infinity;
 * NaN maps to the positive quiet NaN of the target (0x7ff8000000000000, 0x7fc00000, 0x7e00, 0x7fc0),
 * which is also what every lpcert result uses. Widening (to f32 or f64) is exact, NaN payloads
 * become the canonical quiet NaN with the sign kept. */
#ifndef LP_FORMAT_H
#define LP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "lpcert.h"

typedef struct lp_format_info {
    const char *name;   /* "f64", "f32", "f16", "bf16" */
    int bytes;          /* storage size */
    int prec;           /* p, significand bits including the hidden one: 53, 24, 11, 8 */
    int emin;           /* IEEE minimum normal exponent: -1022, -126, -14, -126 */
    int emax;           /* IEEE maximum exponent: 1023, 127, 15, 127 */
} lp_format_info;

const lp_format_info *lp_format_get(lp_format f);
int lp_format_parse(lp_format *out, const char *name); /* 1 if name is one of the four */

double   lp_f16_to_f64(uint16_t h);       /* exact */
double   lp_bf16_to_f64(uint16_t h);      /* exact */
float    lp_f16_to_f32(uint16_t h);       /* exact */
float    lp_bf16_to_f32(uint16_t h);      /* exact */
uint16_t lp_f16_from_f64(double x);       /* RNE, one rounding (no double rounding via f32) */
uint16_t lp_bf16_from_f64(double x);      /* RNE, one rounding */
uint16_t lp_f16_from_f32(float x);        /* RNE */
uint16_t lp_bf16_from_f32(float x);       /* RNE */
float    lp_f32_from_f64(double x);       /* RNE */

/* The member of v for format f, widened exactly to double. */
double lp_value_wide(const lp_value *v, lp_format f);
/* Element i of an array stored in format f, widened exactly to double. */
double lp_load_f64(const void *base, lp_format f, size_t i);
/* x (a double) rounded to format f, then widened back exactly: the value an f-typed store holds. */
double lp_round_to(double x, lp_format f);

/* The value v in format f as text: hex bit pattern and decimal, "0xbf8a3d71 (-1.08000004e+00)". */
void lp_format_hexdec(char *buf, size_t n, double v, lp_format f);

#endif
