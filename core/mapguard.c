/* core/mapguard.c: the SIGBUS guard of file mappings (contract in lp_mapguard.h).
 *
 * Why this method. Three ways keep a reader of a mapped file alive when the file shrinks:
 *  1. pread into bounded buffers instead of mapping. No signals at all, but every consumer of a
 *     tensor (the reference's phases and fallbacks, the fast tiers, the kernels, the judge) takes
 *     `const void *data` and reads rows at random (a fallback rereads a row that phase 1 released);
 *     all of them would read through an accessor and a cache, with a copy of every byte of a
 *     terabyte dump. A large change across other parts, for one rare event.
 *  2. A SIGBUS handler that siglongjmps out of the faulting thread (sigsetjmp per reading thread).
 *     The fault can land anywhere inside MPFR, malloc'd scratch or under batch.c's mutex; jumping
 *     out leaks MPFR numbers and scratch, may leave a lock held, and needs every worker of every
 *     caller to set a jump point and to agree on how the others stop. Not safe by construction.
 *  3. (this file) A handler that makes the access succeed: it maps anonymous zero pages over the
 *     part of the mapping from the faulting page to its end (mmap MAP_FIXED replaces the file pages
 *     in one system call), records the hit and returns; the load is retried and reads 0. Nothing
 *     unwinds, so no state is lost; every thread finishes its work on zeros, which are valid
 *     inputs (finite logits, label 0, mask 0) that take the normal code paths, never an
 *     out-of-range index; the owner then calls lp_tfile_verify, which fails, so no result computed
 *     from the zeros is ever written. A caller that wants to stop early polls lp_tfile_verify
 *     between units of work (`lpcert ref` does it in its progress callback, after each chunk of
 *     rows); one that does not finishes its run on zeros (fast) before it learns.
 * Async-signal safety: the handler uses atomic loads and stores, mmap and sigaction (sigaction is
 * on the POSIX list; mmap is not, but on Linux it is the bare system call, which touches no libc
 * state), and restores errno. SIGBUS is synchronous: it runs on the faulting thread, so any number
 * of reading threads is fine; two threads faulting together both map zeros over zeros.
 * A fault outside every registered mapping is passed on unchanged: to the previous handler, or by
 * restoring the previous disposition and returning, so that the faulting access is retried and
 * the process dies as it would have without us (a SIGBUS sent by kill is raised again). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_mapguard.h"

typedef struct slot {
    atomic_uintptr_t lo, hi;   /* [lo, hi): the mapping, page-rounded; lo == 0: slot free */
    atomic_int used;           /* taken by lp_mapguard_add */
    atomic_int hit;
} slot;

static slot g_slots[LP_MAPGUARD_SLOTS];
static atomic_int g_installed;
static struct sigaction g_old;   /* the disposition before ours, set once before ours goes in */
static uintptr_t g_page;

static void pass_on(int sig, siginfo_t *si, void *uc)
{
    if ((g_old.sa_flags & SA_SIGINFO) && g_old.sa_sigaction) {
        g_old.sa_sigaction(sig, si, uc);
        return;
    }
    if (g_old.sa_handler != SIG_DFL && g_old.sa_handler != SIG_IGN) {
        g_old.sa_handler(sig);
        return;
    }
    /* Default (or ignored, which the kernel does not honour for a fault): put it back; a fault
     * retries the access and dies of it, a signal sent by a process is sent again. */
    sigaction(SIGBUS, &g_old, NULL);
    if (si->si_code <= 0) raise(sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    const int saved = errno;
    const uintptr_t a = (uintptr_t)si->si_addr;
    if (si->si_code > 0) {   /* a fault, not a signal sent by a process */
        for (int i = 0; i < LP_MAPGUARD_SLOTS; i++) {
            const uintptr_t lo = atomic_load(&g_slots[i].lo), hi = atomic_load(&g_slots[i].hi);
            if (lo == 0 || a < lo || a >= hi) continue;
            const uintptr_t p = a & ~(g_page - 1);
            void *r = mmap((void *)p, hi - p, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                           -1, 0);
            if (r == MAP_FAILED) break;
            atomic_store(&g_slots[i].hit, 1);
            errno = saved;
            return;
        }
    }
    errno = saved;
    pass_on(sig, si, uc);
}

lp_status lp_mapguard_install(lp_error *err)
{
    if (atomic_load(&g_installed)) return LP_OK;
    long pg = sysconf(_SC_PAGESIZE);
    g_page = pg > 0 ? (uintptr_t)pg : 4096;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &g_old) != 0)
        return lp_fail(err, LP_ERR_INTERNAL, "cannot install the SIGBUS handler: %s",
                       strerror(errno));
    atomic_store(&g_installed, 1);
    return LP_OK;
}

int lp_mapguard_installed(void) { return atomic_load(&g_installed); }

int lp_mapguard_add(const void *base, size_t size)
{
    if (!base || size == 0) return -1;
    long pg = sysconf(_SC_PAGESIZE);
    const uintptr_t page = pg > 0 ? (uintptr_t)pg : 4096;
    const uintptr_t lo = (uintptr_t)base;
    if (size > UINTPTR_MAX - lo - page) return -1;
    const uintptr_t hi = (lo + size + page - 1) & ~(page - 1);
    for (int i = 0; i < LP_MAPGUARD_SLOTS; i++) {
        int expect = 0;
        if (!atomic_compare_exchange_strong(&g_slots[i].used, &expect, 1)) continue;
        atomic_store(&g_slots[i].hit, 0);
        atomic_store(&g_slots[i].hi, hi);
        atomic_store(&g_slots[i].lo, lo);   /* last: the handler sees the slot only when whole */
        return i;
    }
    return -1;
}

void lp_mapguard_remove(int slot_no)
{
    if (slot_no < 0 || slot_no >= LP_MAPGUARD_SLOTS) return;
    slot *s = &g_slots[slot_no];
    atomic_store(&s->lo, 0);
    atomic_store(&s->hi, 0);
    atomic_store(&s->hit, 0);
    atomic_store(&s->used, 0);
}

int lp_mapguard_hit(int slot_no)
{
    if (slot_no < 0 || slot_no >= LP_MAPGUARD_SLOTS) return 0;
    return atomic_load(&g_slots[slot_no].hit);
}
