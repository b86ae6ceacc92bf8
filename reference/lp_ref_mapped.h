/* reference/lp_ref_mapped.h: the exact reference over logits read from a file mapping (`lpcert
 * ref`), which hands the pages of rows already evaluated back to the kernel so that a file larger
 * than memory runs in bounded memory. Internal: not installed, not in lpcert.h. */
#ifndef LP_REF_MAPPED_H
#define LP_REF_MAPPED_H

#include "lp_tensor.h"
#include "lpcert.h"

/* lp_ref_compute_opts, and in phase 1 each chunk's logits rows are released (madvise
 * MADV_DONTNEED: the file's pages are read again if a fallback needs them) when pb->logits lies
 * wholly inside the read-only mapping that file owns (lp_tfile_open); otherwise (a file parsed
 * from a caller's buffer, logits elsewhere, file NULL) nothing is released. Same results. */
lp_status lp_ref_compute_mapped(lp_ref_result *res, const lp_problem *pb, const lp_ref_options *opt,
                                const lp_tfile *file, lp_error *err);

#endif
