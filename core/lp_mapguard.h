/* core/lp_mapguard.h: file mappings that survive the file shrinking underneath them.
 *
 * A read-only MAP_PRIVATE mapping of a file that another process truncates raises SIGBUS on the
 * first access to a page past the new end of file; by default that kills the process. lpcert reads
 * its inputs (logits of gigabytes to terabytes) through mappings (core/tensor.c), so a truncation
 * while it runs must become an input error instead: one line naming the file, exit 2, no output.
 *
 * Method (chosen over the two others; the argument is in core/mapguard.c): a SIGBUS handler that
 * recognises a fault inside a registered mapping, maps anonymous zero pages over the rest of that
 * mapping (mmap MAP_FIXED, one system call), marks the mapping as hit and returns. The faulting
 * load is retried and reads zeros; no thread is unwound, nothing is leaked, every reading thread
 * (batch.c's workers included) carries on to the end of its work on values that are then thrown
 * away: the owner of the mapping asks lp_tfile_verify (lp_tensor.h) before it trusts any result,
 * and that reports the file as changed. A fault outside every registered mapping goes to the
 * handler that was there before (or the default action: the process dies as it would have).
 *
 * The handler is process-wide, so the library never installs it by itself: a program that owns the
 * process (the lpcert CLI, main.c) calls lp_mapguard_install once at start. Without it a
 * truncation still kills the process with SIGBUS, as any mmap reader does; lp_tfile_verify still
 * reports a file that shrank or changed without a fault (e.g. only a partial last page was lost).
 *
 * The registry is a fixed table of LP_MAPGUARD_SLOTS mappings, read by the handler with atomic
 * loads only (async-signal-safe); a mapping opened while the table is full is simply unguarded.
 * Internal to core/ and its programs: not in lpcert.h. */
#ifndef LP_MAPGUARD_H
#define LP_MAPGUARD_H

#include <stddef.h>

#include "lpcert.h"

#define LP_MAPGUARD_SLOTS 256

/* Installs the process-wide SIGBUS handler (once; later calls do nothing and return LP_OK).
 * Errors: LP_ERR_INTERNAL "cannot install the SIGBUS handler: <why>". Not thread-safe against a
 * concurrent sigaction(SIGBUS) elsewhere: call it at program start. */
lp_status lp_mapguard_install(lp_error *err);
/* 1 once lp_mapguard_install has succeeded. */
int lp_mapguard_installed(void);

/* Registers the mapping [base, base + size) (base page-aligned, as mmap returns it): the slot
 * number, or -1 when the table is full (the mapping is then unguarded). */
int lp_mapguard_add(const void *base, size_t size);
/* Unregisters slot (-1 is a no-op); call before munmap. */
void lp_mapguard_remove(int slot);
/* 1 if a fault inside the slot's mapping was caught (its tail now reads zeros), else 0. */
int lp_mapguard_hit(int slot);

#endif
