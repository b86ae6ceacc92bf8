/* check/lp_check_certify.h: the run of `lpcert certify` as a library function: a kernel (a plugin
 * or a built-in) on every case of the standard suite (or a suite file), then on seeded random
 * problems (gen/lp_gen_random.h) for a given time, each judged into a ck_run with batch
 * invariance (ck_kernel_judge). The report header it fills is the one cli/cmd_certify.c prints.
 * Never prints: progress goes through a callback. */
#ifndef LP_CHECK_CERTIFY_H
#define LP_CHECK_CERTIFY_H

#include "lp_check_internal.h"

typedef struct ck_certify {
    /* set by the caller (memset 0 first; seconds 10 and seed 0x5eed are certify's defaults) */
    const char *plugin;        /* "LIB.so[:SYMBOL]", or NULL */
    const char *kernel;        /* a built-in kernel's name, or NULL */
    const lp_plugin *given;    /* a kernel described in memory, or NULL: exactly one of the three */
    const char *suite;         /* a suite file instead of the standard suite, or NULL */
    const char *glob;          /* --cases, or NULL */
    double seconds;            /* random problems for about this long (0: none) */
    uint64_t seed;
    /* progress(user, i, n) before suite case i of n; progress(user, 0, -1) when the random
     * problems start and progress(user, k, -1) after the k-th; NULL for none */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
    int shard_i, shard_n;      /* --shard I/N (check/shard.c): only that block of suite cases; 0: all */
    /* filled by ck_certify_run */
    ck_kernel k;
    ck_header h;               /* points into the arrays below: c must not move */
    int64_t ran, skipped, nrand;
    int64_t total;             /* suite cases of the whole (unsharded) run */
    double elapsed;            /* seconds in all */
    char sdesc[700], cdesc[900], store[2][4096];
} ck_certify;

/* Opens the kernel and runs it into r (ck_run_init'ed by the caller with the options; r->opt.batch
 * is honoured). On LP_OK, c->h is the report header (command "certify"). */
lp_status ck_certify_run(ck_certify *c, ck_run *r, lp_error *err);
void ck_certify_close(ck_certify *c);
/* The report's first extra line of a certify run (its summary). */
void ck_certify_summary(char *buf, size_t n, uint64_t seed, int64_t nrand, double seconds,
                        int64_t ran, int64_t skipped, double elapsed);   /* closes the kernel; c's figures stay */

#endif
