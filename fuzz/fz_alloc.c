/* fuzz/fz_alloc.c: a recycling allocator for GMP's (and so MPFR's) limb memory in the harnesses
 * (lp_fz_init, fz_check.h).
 *
 * Why: under the fuzz build every malloc goes through ASan's allocator, which fills each new block
 * (0xbe, up to 4 KB), records its stack and quarantines it when freed, so that the next block
 * lands on fresh pages. The numeric harnesses make thousands of short-lived MPFR numbers per input
 * (mpfr_init2 / mpfr_clear in the reference's Ziv loop and tiers, and in the harnesses' own exact
 * bounds); profiled with perf on fz_reference, ASan's malloc and the page faults it caused were
 * about half the time of an execution.
 *
 * What: GMP's allocation functions (mp_set_memory_functions, which MPFR uses) are replaced, before
 * any number exists, by free lists per power-of-two size class up to 64 KB: a freed block is kept
 * (at most LP_FZ_CACHE per class) and handed out again. The blocks themselves still come from
 * malloc, so LeakSanitizer still reports an mpfr_t that is never cleared (its block is not on a
 * list). What no longer happens is ASan's fill and quarantine of limb memory, which only GMP and
 * MPFR touch: both are system libraries, not instrumented, so ASan never checked their accesses.
 * Every access that instrumented code (lpcert's and the harnesses') makes stays checked. Thread
 * safe (one mutex); GMP passes the block's size to free and realloc, so no header is needed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "fz_decode.h"
#include "lp_ref_internal.h"

#define LP_FZ_MIN_SHIFT 4     /* 16-byte blocks at least */
#define LP_FZ_MAX_SHIFT 16    /* larger blocks go straight to malloc */
#define LP_FZ_CACHE 4096      /* blocks kept per class */

typedef struct fblock { struct fblock *next; } fblock;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fblock *lists[LP_FZ_MAX_SHIFT + 1];
static int counts[LP_FZ_MAX_SHIFT + 1];

static int size_class(size_t n)
{
    int k = LP_FZ_MIN_SHIFT;
    while (k <= LP_FZ_MAX_SHIFT && ((size_t)1 << k) < n) k++;
    return k;   /* > LP_FZ_MAX_SHIFT: not cached */
}

static void die_nomem(void)
{
    abort();   /* what GMP does itself when its allocator fails */
}

static void *fz_alloc(size_t n)
{
    const int k = size_class(n);
    if (k > LP_FZ_MAX_SHIFT) {
        void *p = malloc(n);
        if (!p) die_nomem();
        return p;
    }
    pthread_mutex_lock(&lock);
    fblock *b = lists[k];
    if (b) {
        lists[k] = b->next;
        counts[k]--;
    }
    pthread_mutex_unlock(&lock);
    if (!b && !(b = malloc((size_t)1 << k))) die_nomem();
    return b;
}

static void fz_free(void *p, size_t n)
{
    if (!p) return;
    const int k = size_class(n);
    if (k <= LP_FZ_MAX_SHIFT) {
        pthread_mutex_lock(&lock);
        if (counts[k] < LP_FZ_CACHE) {
            fblock *b = p;
            b->next = lists[k];
            lists[k] = b;
            counts[k]++;
            p = NULL;
        }
        pthread_mutex_unlock(&lock);
    }
    free(p);
}

static void *fz_realloc(void *p, size_t old, size_t n)
{
    if (!p) return fz_alloc(n);
    const int ko = size_class(old), kn = size_class(n);
    if (ko == kn && kn <= LP_FZ_MAX_SHIFT) return p;   /* the block already holds 2^k bytes */
    if (ko > LP_FZ_MAX_SHIFT && kn > LP_FZ_MAX_SHIFT) {
        void *q = realloc(p, n);
        if (!q) die_nomem();
        return q;
    }
    void *q = fz_alloc(n);
    memcpy(q, p, old < n ? old : n);
    fz_free(p, old);
    return q;
}

static void free_cache_at_exit(void) { mpfr_free_cache(); }

void lp_fz_init(void)
{
    static int done;
    if (done) return;
    done = 1;
    mp_set_memory_functions(fz_alloc, fz_realloc, fz_free);
    /* MPFR's constant caches (log 2, pi) are kept from one call of the reference to the next
     * instead of being rebuilt in every call (lp_ref_internal.h); freed at exit, before
     * LeakSanitizer looks (it registered its own exit handler earlier, so it runs later) */
    lp_mpfr_keep_cache = 1;
    atexit(free_cache_at_exit);
}

/* ASan's defaults for these binaries (ASAN_OPTIONS still overrides them). The quarantine, where
 * freed blocks wait before reuse so that a use after free is caught, is cut from 256 MB to 32 MB
 * (and 256 KB per thread): one input frees at most a few hundred KB, so a use after free within
 * an input, or in the next hundred inputs, is still caught; what changes is that the blocks are
 * reused while their pages are still mapped, instead of the process touching 256 MB of fresh
 * pages (each a page fault, with a TLB shootdown since libFuzzer runs a second thread). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=32:thread_local_quarantine_size_kb=256";
}
