/* core/case.c: the owned case (lp_case.h). */
#include <stdlib.h>
#include <string.h>

#include "lp_case.h"

void lp_case_free(lp_case *c)
{
    if (!c) return;
    free(c->logits);
    free(c->labels);
    free(c->mask);
    memset(c, 0, sizeof *c);
}
