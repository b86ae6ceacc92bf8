/* tests/lpt.h: the test kit. Seeds, levels, failure lines, MPFR state snapshots.
 * A failure is one self-contained line then indented detail; at most 20 are printed. */
#ifndef LPT_H
#define LPT_H

#include <stdint.h>

#include "lp_core.h"
#include "lp_rng.h"

void lpt_begin(const char *name);   /* unbuffers stdout, prints the seed, snapshots MPFR state */
int lpt_end(void);                  /* summary line; exit status: non-zero on failure or leak */
uint64_t lpt_seed(void);            /* LPCERT_SEED=<n> | random; fixed default */
int lpt_level(void);                /* LPCERT_LEVEL, default 1 */

/* Counts one check; returns ok. On failure prints "FAIL <test> " + the message (if printing
 * budget remains); the message should hold the case and both values in hex and decimal. */
/* Calls fn(path, ncases) on every vectors/corpus/<family>.txt, in name order (from the source root);
 * returns the number of files, 0 when the folder is not there. */
int64_t lpt_each_corpus_file(void (*fn)(const char *path, int64_t *ncases), int64_t *ncases);
int lpt_check(int ok, const char *fmt, ...) LP_PRINTF(2, 3);
/* Calls fn(file, case) on every case of the vector files at path (core/vectors.c, strict): a
 * folder's *.txt in name order, or one file; an unreadable path or file, an empty folder or a
 * read error is a failure. Returns the number of files opened. */
struct lp_vcase;
int64_t lpt_each_vectors_case(const char *path, void (*fn)(const char *file, struct lp_vcase *c));
void lpt_note(const char *fmt, ...) LP_PRINTF(1, 2);   /* indented detail for the last failure */
int64_t lpt_failures(void);

/* The project's generator (core/lp_rng.h), under the kit's names. */
typedef lp_rng lpt_rng;
#define lpt_rng_init lp_rng_init
#define lpt_rng_next lp_rng_next
#define lpt_rng_unif lp_rng_unif
#define lpt_rng_normal lp_rng_normal

#endif
