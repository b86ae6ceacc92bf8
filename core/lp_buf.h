/* core/lp_buf.h: growable buffers: a typed array that doubles (LP_VEC_RESERVE) and a text buffer
 * with printf-append (lp_text). The size arithmetic is checked: a request that overflows size_t
 * fails like an allocation failure, never wraps. */
#ifndef LP_BUF_H
#define LP_BUF_H

#include <stdarg.h>

#include "lp_core.h"

/* Grows the array *pptr (a T **, passed as void *) of *cap elements of elem bytes so that it holds
 * at least want: the capacity becomes min_cap, doubled until it is enough. Returns 1 on success
 * (the array unchanged when it was large enough), 0 on overflow or out of memory, with the array
 * and *cap untouched (still valid, still the caller's to free). The pointer is read and stored
 * with memcpy, so any object pointer type works without a cast through void **. */
static inline int lp_vec_grow(void *pptr, size_t *cap, size_t want, size_t elem, size_t min_cap)
{
    if (want <= *cap) return 1;
    size_t c = *cap ? *cap : min_cap ? min_cap : 1, bytes;
    while (c < want) {
        if (c > SIZE_MAX / 2) return 0;
        c *= 2;
    }
    if (!lp_mul_size(&bytes, c, elem)) return 0;
    void *old, *p;
    memcpy(&old, pptr, sizeof old);
    if (!(p = realloc(old, bytes))) return 0;
    memcpy(pptr, &p, sizeof p);
    *cap = c;
    return 1;
}

/* if (!LP_VEC_RESERVE(l->v, l->cap, l->n + 1, 64)) return <out of memory>;  then l->v[l->n++] = x.
 * ptr is an lvalue of type T *, cap an lvalue of type size_t; want and min_cap are counts. */
#define LP_VEC_RESERVE(ptr, cap, want, min_cap) \
    lp_vec_grow(&(ptr), &(cap), (want), sizeof *(ptr), (min_cap))

/* A growing NUL-terminated string. Zero-initialise ({0}); after a failed append oom is set, later
 * appends do nothing, and the caller reports it once. p is NULL until something is appended. */
typedef struct lp_text {
    char *p;
    size_t n, cap;   /* length (without the NUL) and allocated bytes */
    int oom;
} lp_text;

void lp_text_printf(lp_text *b, const char *fmt, ...) LP_PRINTF(2, 3);
void lp_text_vprintf(lp_text *b, const char *fmt, va_list ap) LP_PRINTF(2, 0);
void lp_text_free(lp_text *b);     /* frees and zeroes; the buffer may be used again */

#endif
