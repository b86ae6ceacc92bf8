/* reference/ref_wip.c: placeholder while the engine is written; replaced by ziv.c. */
#include "lp_core.h"
int lp_ref_placeholder(void);
int lp_ref_placeholder(void) { return 0; }
