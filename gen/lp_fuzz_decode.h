/* gen/lp_fuzz_decode.h: the fuzzers' problem decoder, also behind `lpcert fuzz`. Any byte string
 * decodes to a small lp_problem (at most 256 logits), deterministically, with no state kept between calls.
 *
 * LAYOUT  Parameters come from the END of the input (byte k is data[size - 1 - k]; missing bytes
 * read as 0), the logits payload from the head, so that mutating the payload keeps the shape:
 *   k0   bits 0-1 format (f64 f32 f16 bf16); bit 2 shift none; bit 3 i32 labels; bit 4 empty_mean
 *        zero; bits 5-6 mask (0 none, 1 and 2 from k4..k7, 3 all ones); bit 7 a mask value 2 (an
 *        input error) at token (k3 >> 4) % (B*T), when there is a mask
 *   k1   B = 1 + bits 0-1, T = 1 + bits 2-4, ignore_index = LP_FZ_IGNORE[bits 5-7]
 *   k2   V = 1 + bits 0-5, then at most 256 / (B*T)
 *   k3   temperature LP_FZ_TAU[bits 0-3]
 *   k4..k7   mask bits, little endian: bit i is mask[i], i = b*T + t
 *   k8   shift constants for the invariance checks (fz_reference)
 *   k9   permutation seed (fz_reference)
 *   k10  probe: which token and sequence the harnesses re-evaluate alone
 *   k11  harness-specific (fz_kernels: which kernels)
 *   k12 + i, i < B*T   label selector of token i (see LABELS)
 * Head: for each logits row r = b*T + t in order, a mode byte, then V elements:
 *   mode >> 5: 0, 1 free (each element a control byte, see ELEMENTS); 2 small: one byte s each,
 *   s == 0x80 gives -inf, else (int8)s / 8; 3 dominant: a byte k, an element M at k % V, then one
 *   byte g per other element: M - LP_FZ_GAP[g & 15] - (g >> 4) / 16 (g == 0xff: -inf), which puts
 *   p within 1e-9 of 1; 4 near-tie: an element base, then one byte s each: base stepped
 *   (s >> 4) - 8 ulps of the format; 5 raw: the element's bytes, little endian; 6 specials: one
 *   byte s each, special s & 31 (the table of special() in fuzz_decode.c); 7 trap: element 0 is
 *   -inf (the dummy-label trap of SPEC A3 when the token is masked), the rest free.
 * ELEMENTS (control byte c): 0x00-0x3f raw bytes of the format follow; 0x40-0x5f special c & 31
 *   (+-0, subnormals, max finite, +-inf, quiet and signalling NaN, 1 and its neighbours, ...);
 *   0x60-0x7f the integer (c & 31) - 16; 0x80-0x9f a copy of element (next byte) % i (a tie);
 *   0xa0-0xbf element (next byte) % i stepped (c & 7) + 1 ulps, down if bit 3 (a near tie);
 *   0xc0-0xdf +-(1 + m/65536) 2^((c & 15) - 8), m the next two bytes, minus if bit 4;
 *   0xe0-0xff +-(1 + m/256) 2^LP_FZ_BIGEXP[c & 15], m the next byte, minus if bit 4 (gaps past
 *   3e18, where exp underflows MPFR's exponent range, and overflow to inf in small formats).
 *   Values are rounded to the format (RNE). A missing byte reads as 0.
 * LABELS (selector s of token i = b*T + t, resolved against the row it scores, t-1 with shift next
 *   or t with shift none; with no such row every rule but the last gives s % V):
 *   0x00-0x7f s % V; 0x80-0x9f the first index of the max; 0xa0-0xaf the first index of the min
 *   finite logit (far below the max); 0xb0-0xcf ignore_index; 0xd0-0xdf the last index of the
 *   max; 0xe0-0xef the first -inf logit, else V - 1; 0xf0-0xff by s & 15: V, -1, -2, V + 1, 1000,
 *   INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 2^32, -100, V + 2^32, 2V, -V, 2^40, 0 (mostly out
 *   of range: an input error where scored). i32 labels keep the low 32 bits. */
#ifndef LP_FUZZ_DECODE_H
#define LP_FUZZ_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lpcert.h"

#define LP_FZ_MAX_LOGITS 256
#define LP_FZ_MAX_TOKENS 32   /* B <= 4, T <= 8 */
#define LP_FZ_NPARAM 12       /* fixed tail bytes before the label selectors */

/* A decoded problem. pb points into the arrays, which are malloc'd to their exact sizes so that
 * ASan sees any read past them; copy with lp_fz_copy, never by assignment. */
typedef struct lp_fz_problem {
    lp_problem pb;
    void *logits;         /* B*T*V elements of pb.fmt */
    void *labels;         /* B*T int64 or int32 */
    uint8_t *mask;        /* B*T bytes, or NULL */
    uint8_t param[LP_FZ_NPARAM];  /* the tail bytes k0..k11, for the harnesses' own choices */
} lp_fz_problem;

/* Decodes data; returns 0 (and leaves *p empty) only when out of memory. */
int lp_fz_decode(lp_fz_problem *p, const uint8_t *data, size_t size);
int lp_fz_copy(lp_fz_problem *dst, const lp_fz_problem *src);
void lp_fz_free(lp_fz_problem *p);

/* Element access: bits of element i in the format (zero-extended), and the value widened. */
uint64_t lp_fz_bits(const lp_fz_problem *p, size_t i);
void lp_fz_set_bits(lp_fz_problem *p, size_t i, uint64_t bits);
double lp_fz_value(const lp_fz_problem *p, size_t i);
int64_t lp_fz_label(const lp_fz_problem *p, size_t i);        /* labels[i], i = b*T + t */
void lp_fz_set_label(lp_fz_problem *p, size_t i, int64_t v);  /* stored as the label type */

/* The value of a format's bit pattern, widened exactly (NaN payloads dropped). */
double lp_fz_widen(uint64_t bits, lp_format f);
/* x rounded to format f (RNE), as a bit pattern. */
uint64_t lp_fz_narrow(double x, lp_format f);

/* Prints the problem: parameters, then every row as hex bit patterns with decimals, labels and
 * mask; enough to rebuild it by hand. */
void lp_fz_dump(FILE *fp, const lp_fz_problem *p);

#endif
