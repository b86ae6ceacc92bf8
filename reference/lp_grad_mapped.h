/* reference/lp_grad_mapped.h: the gradient reference over logits read from a file mapping
 * (`lpcert ref --grad`), which hands the pages of rows already delivered back to the kernel, as
 * lp_ref_compute_mapped does (lp_ref_mapped.h). Internal: not installed, not in lpcert.h. */
#ifndef LP_GRAD_MAPPED_H
#define LP_GRAD_MAPPED_H

#include "lp_tensor.h"
#include "lpcert.h"

/* lp_grad_compute, releasing each batch's logits rows (madvise MADV_DONTNEED) after the sink had
 * them when pb->logits lies wholly inside the read-only mapping file owns; otherwise (file NULL,
 * a parsed buffer) nothing is released. Same results. */
lp_status lp_grad_compute_mapped(const lp_problem *pb, lp_reduction red, const lp_ref_options *opt,
                                 lp_grad_sink sink, void *user, lp_grad_stats *stats,
                                 const lp_tfile *file, lp_error *err);

#endif
