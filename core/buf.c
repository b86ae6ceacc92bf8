/* core/buf.c: the text buffer of lp_buf.h (printf-append into a string that grows). */
#include "lp_buf.h"

void lp_text_vprintf(lp_text *b, const char *fmt, va_list ap)
{
    if (b->oom) return;
    for (;;) {
        va_list aq;
        va_copy(aq, ap);
        const size_t room = b->cap - b->n;
        const int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, aq);
        va_end(aq);
        size_t want;
        if (k < 0 || !lp_add_size(&want, b->n, (size_t)k + 1)) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        if (!LP_VEC_RESERVE(b->p, b->cap, want, 4096)) {
            b->oom = 1;
            return;
        }
    }
}

void lp_text_printf(lp_text *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lp_text_vprintf(b, fmt, ap);
    va_end(ap);
}

void lp_text_free(lp_text *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
