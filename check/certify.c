/* check/certify.c: the run of `lpcert certify` (lp_check_certify.h), moved out of
 * cli/cmd_certify.c: the standard suite (or a suite file) then seeded random problems, each case
 * judged by ck_kernel_judge, and the report header that names the suite, the kernel and the run. */
#include <inttypes.h>
#include <time.h>

#include "lp_check_certify.h"
#include "lp_check_shard.h"
#include "lp_format.h"
#include "lp_gen_random.h"
#include "lp_problem.h"
#include "lp_rng.h"
#include "lp_suite.h"
#include "lpcert_check.h"
#include "lpcert_version.h"

/* The backward entry (ABI 2) on one case, for every reduction it declares: each gradient judged
 * against the exact one (check/grad.c) into the run's judge of that reduction. *ran as
 * ck_kernel_judge's: 1 when some reduction was judged. */
static lp_status backward_case(ck_run *r, const ck_kernel *k, const char *name, const char *cls,
                               const lp_problem *pb, int *ran, lp_error *err)
{
    lp_status s = LP_OK;
    *ran = 0;
    for (int red = 0; red <= LP_RED_TOKEN_MEAN && s == LP_OK; red++) {
        const lp_plugin_v2 *p2 = (const lp_plugin_v2 *)k->p;   /* checked when opened */
        if (!(p2->reductions & (1u << red))) continue;
        void *grad;
        lp_format gf;
        const char *skip;
        int kfail;
        char kmsg[256];
        s = ck_kernel_backward(k, pb, (lp_reduction)red, &grad, &gf, &skip, &kfail, kmsg,
                               sizeof kmsg, err);
        if (s != LP_OK) break;
        if (skip) {
            ck_run_diag(r, CK_D_SKIP, "case %s (gradient of %s): %s", name,
                        lp_reduction_name((lp_reduction)red), skip);
            continue;
        }
        if (kfail) {
            *ran = -1;
            ck_run_diag(r, CK_D_KERNEL_ERR, "case %s (gradient of %s): %s", name,
                        lp_reduction_name((lp_reduction)red), kmsg[0] ? kmsg : "(no message)");
            continue;
        }
        lp_grad_check *gc = ck_run_grad(r, (lp_reduction)red, err);
        s = gc ? lp_grad_check_problem(gc, name, cls, pb, gf, grad, err) : err->status;
        free(grad);
        if (s == LP_OK && *ran == 0) *ran = 1;
    }
    return s;
}

static lp_status one_case(ck_certify *c, ck_run *r, const char *name, const char *cls,
                          const lp_problem *pb, const lp_ref_result *given_ref, uint64_t bseed,
                          lp_error *err)
{
    int ran = 0, bran = 0;
    lp_status s = LP_OK;
    if (c->k.p->outputs) s = ck_kernel_judge(r, &c->k, name, cls, pb, given_ref, bseed, &ran, err);
    if (s == LP_OK && (c->k.p->caps & LP_PLUGIN_CAP_BACKWARD)) {
        s = backward_case(r, &c->k, name, cls, pb, &bran, err);
        if (!c->k.p->outputs || ran == 0) ran = bran;
    }
    if (s == LP_OK && ran == 1) c->ran++;
    if (s == LP_OK && ran == 0) c->skipped++;
    return s;
}

static void digest_case(ck_sha *h, const char *name, const lp_problem *pb)
{
    char buf[400];
    int n = snprintf(buf, sizeof buf, "%s|%lld,%lld,%lld|%s|%d|%lld|%a|%d|", name,
                     (long long)pb->shape.B, (long long)pb->shape.T, (long long)pb->shape.V,
                     lp_format_name(pb->fmt), (int)pb->shift, (long long)pb->ignore_index,
                     pb->temperature, (int)pb->empty_mean);
    ck_sha_update(h, buf, (size_t)n);
    const size_t bt = (size_t)(pb->shape.B * pb->shape.T);
    ck_sha_update(h, pb->logits, bt * (size_t)pb->shape.V * (size_t)lp_format_get(pb->fmt)->bytes);
    ck_sha_update(h, pb->labels, bt * (pb->label_type == LP_I64 ? 8 : 4));
    if (pb->mask) ck_sha_update(h, pb->mask, bt);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(const ck_certify *c, int64_t done, int64_t total)
{
    if (c->progress) c->progress(c->user, done, total);
}

/* The suite: a file (c->suite) or the standard one built from c->seed. */
static lp_status run_suite(ck_certify *c, ck_run *r, lp_error *err)
{
    ck_header *h = &c->h;
    const lp_plugin *p = c->k.p;
    lp_status s = LP_OK;
    if (c->suite) {
        ck_suite su;
        memset(&su, 0, sizeof su);
        s = ck_suite_open(&su, c->suite, c->glob, err);
        if (s == LP_OK) s = ck_header_add_file(h, "suite", c->suite, c->store[1], err);
        size_t lo = 0, hi = su.n;
        if (c->shard_n) ck_shard_range(su.n, c->shard_i, c->shard_n, &lo, &hi);
        c->total = (int64_t)su.n;
        for (size_t i = lo; i < hi && s == LP_OK; i++) {
            lp_ref_result ref;
            progress(c, (int64_t)i, (int64_t)su.n);
            if (!(p->formats & LP_PLUGIN_FMT(su.c[i].pb.fmt))) {
                s = one_case(c, r, su.c[i].name, su.c[i].cls, &su.c[i].pb, NULL, c->seed + i, err);
                continue;   /* skipped inside, no reference needed */
            }
            s = ck_suite_ref(&ref, &su, i, 0, r->opt.threads, err);
            if (s == LP_OK)
                s = one_case(c, r, su.c[i].name, su.c[i].cls, &su.c[i].pb, &ref, c->seed + i, err);
            lp_ref_result_free(&ref);
        }
        snprintf(c->sdesc, sizeof c->sdesc, "%s: %zu cases%s%s", c->suite, su.n,
                 c->glob ? " matching " : "", c->glob ? c->glob : "");
        ck_suite_close(&su);
        return s;
    }
    lp_case_list cases = {NULL, 0, 0};
    char digest[65] = "";
    s = lp_suite_build(&cases, NULL, 0xf, c->seed, err);
    ck_sha *dg = ck_sha_new();
    size_t kept = 0, total = cases.n, lo = 0, hi = SIZE_MAX, all = 0;
    for (size_t i = 0; i < cases.n; i++) all += ck_glob_match(c->glob, cases.v[i].name) != 0;
    if (c->shard_n) ck_shard_range(all, c->shard_i, c->shard_n, &lo, &hi);
    c->total = (int64_t)all;
    for (size_t i = 0; i < cases.n && s == LP_OK; i++) {
        const lp_case *lc = &cases.v[i];
        if (!ck_glob_match(c->glob, lc->name)) continue;
        kept++;
        digest_case(dg, lc->name, &lc->pb);
        if (kept - 1 < lo || kept - 1 >= hi) continue;   /* another shard's */
        char cls[96];
        snprintf(cls, sizeof cls, "%s/%s", lc->family, lp_format_name(lc->pb.fmt));
        progress(c, (int64_t)i, (int64_t)cases.n);
        s = one_case(c, r, lc->name, cls, &lc->pb, NULL, c->seed + i, err);
    }
    ck_sha_final(dg, digest);
    if (s == LP_OK && kept == 0)
        s = lp_fail(err, LP_ERR_USAGE, "certify: no case matches --cases '%s'", c->glob);
    snprintf(c->sdesc, sizeof c->sdesc, "the standard suite of lpcert " LPCERT_VERSION_STRING
             " (lpcert gen --seed %" PRIu64 "), %zu of %zu cases in all four formats%s%s; inputs digest sha256 %s", c->seed,
             kept, total, c->glob ? " matching " : "", c->glob ? c->glob : "", digest);
    lp_case_list_free(&cases);
    return s;
}

/* Random problems for about c->seconds (at least one when seconds > 0). */
static lp_status run_random(ck_certify *c, ck_run *r, lp_error *err)
{
    const lp_plugin *p = c->k.p;
    lp_status s = LP_OK;
    lp_rng rng;
    lp_rng_init(&rng, c->seed ^ LP_GEN_RANDOM_SALT);
    progress(c, 0, -1);
    const double t1 = now_s();
    while (s == LP_OK && (c->nrand == 0 || now_s() - t1 < c->seconds)) {
        lp_case rc;
        s = lp_gen_random(&rc, &rng, p->formats, (p->caps & LP_PLUGIN_CAP_TEMPERATURE) != 0, err);
        if (s != LP_OK) break;
        char name[64], cls[32];
        snprintf(name, sizeof name, "random/%s/%" PRId64, lp_format_name(rc.pb.fmt), c->nrand);
        snprintf(cls, sizeof cls, "random/%s", lp_format_name(rc.pb.fmt));
        s = one_case(c, r, name, cls, &rc.pb, NULL, lp_rng_next(&rng), err);
        lp_case_free(&rc);
        c->nrand++;
        progress(c, c->nrand, -1);
    }
    return s;
}

/* The kernel in one line: what it reads and writes. */
static void describe_kernel(ck_certify *c)
{
    const lp_plugin *p = c->k.p;
    char fmts[40] = "", outs[120] = "";
    for (int f = 0; f < LP_NFORMATS; f++)
        if (p->formats & LP_PLUGIN_FMT(f)) {
            size_t l = strlen(fmts);
            snprintf(fmts + l, sizeof fmts - l, "%s%s", l ? " " : "", lp_format_name((lp_format)f));
        }
    const int32_t decl[CK_NOUT] = {p->logp_format, p->sum_format, p->mean_format};
    for (int k = 0; k < CK_NOUT; k++)
        if (p->outputs & (1u << k)) {
            size_t l = strlen(outs);
            snprintf(outs + l, sizeof outs - l, "%s%s (%s)", l ? ", " : "", ck_tensor_name(k),
                     decl[k] < 0 ? "as logits" : lp_format_name((lp_format)decl[k]));
        }
    char who[600];
    if (c->given) snprintf(who, sizeof who, "kernel given in memory");
    else snprintf(who, sizeof who, "%s %s", c->plugin ? "plugin" : "built-in kernel", c->k.spec);
    snprintf(c->cdesc, sizeof c->cdesc, "%s: %s%s%s; reads %s; writes %s; ABI %u", who, p->name,
             p->description ? ": " : "", p->description ? p->description : "", fmts, outs,
             p->abi_version);
}

lp_status ck_certify_run(ck_certify *c, ck_run *r, lp_error *err)
{
    ck_header *h = &c->h;
    memset(h, 0, sizeof *h);
    c->ran = c->skipped = c->nrand = 0;
    if ((c->plugin != NULL) + (c->kernel != NULL) + (c->given != NULL) != 1)
        return lp_fail(err, LP_ERR_USAGE, "certify: give one of a plugin, a built-in kernel and a "
                       "kernel in memory");
    lp_status s = c->plugin ? ck_kernel_open_plugin(&c->k, c->plugin, err)
                  : c->given ? ck_kernel_open_given(&c->k, c->given, err)
                             : ck_kernel_open_builtin(&c->k, c->kernel, err);
    if (s == LP_OK && c->plugin) s = ck_header_add_file(h, "plugin", c->k.path, c->store[0], err);
    const double t0 = now_s();
    if (s == LP_OK) s = run_suite(c, r, err);
    if (s == LP_OK && c->seconds > 0) s = run_random(c, r, err);
    if (s != LP_OK) return s;
    const lp_plugin *p = c->k.p;
    describe_kernel(c);
    h->command = "certify";
    h->suite = c->sdesc;
    h->candidate = c->cdesc;
    c->elapsed = now_s() - t0;
    ck_certify_summary(h->extra[h->nextra++], sizeof h->extra[0], c->seed, c->nrand, c->seconds,
                       c->ran, c->skipped, c->elapsed);
    if (!(p->caps & LP_PLUGIN_CAP_MASK))
        snprintf(h->extra[h->nextra++], sizeof h->extra[0], "explicit masks folded into the labels "
                 "(no LP_PLUGIN_CAP_MASK)");
    if (!(p->caps & LP_PLUGIN_CAP_IGNORE_INDEX))
        snprintf(h->extra[h->nextra++], sizeof h->extra[0], "ignore_index passed as -100 (no "
                 "LP_PLUGIN_CAP_IGNORE_INDEX)");
    if (p->caps & LP_PLUGIN_CAP_BACKWARD) {
        const lp_plugin_v2 *p2 = (const lp_plugin_v2 *)p;
        char reds[64] = "";
        for (int k = 0; k < 4; k++)
            if (p2->reductions & (1u << k)) {
                size_t l = strlen(reds);
                snprintf(reds + l, sizeof reds - l, "%s%s", l ? ", " : "",
                         lp_reduction_name((lp_reduction)k));
            }
        snprintf(h->extra[h->nextra++], sizeof h->extra[0], "backward entry (ABI 2): gradients of "
                 "%s in %s, judged per element against the exact gradient (SPEC A8)", reds,
                 p2->grad_format < 0 ? "the logits' format" : lp_format_name((lp_format)p2->grad_format));
    }
    if (!(p->caps & LP_PLUGIN_CAP_SHIFT_NONE))
        snprintf(h->extra[h->nextra++], sizeof h->extra[0], "shift-none problems passed as shift "
                 "next with one more row (no LP_PLUGIN_CAP_SHIFT_NONE)");
    return LP_OK;
}

void ck_certify_summary(char *buf, size_t n, uint64_t seed, int64_t nrand, double seconds,
                        int64_t ran, int64_t skipped, double elapsed)
{
    snprintf(buf, n, "seed %" PRIu64 "; %" PRId64 " random problems in %.1f s; %" PRId64 " cases "
             "run, %" PRId64 " skipped; %.1f s in all", seed, nrand, seconds, ran, skipped, elapsed);
}

void ck_certify_close(ck_certify *c)
{
    if (c) ck_kernel_close(&c->k);
}
