/* check/api.c: the public verdict engine (include/lpcert_check.h) over the internal one
 * (lp_check_internal.h): an lp_check is a ck_run with the report header of the route that filled
 * it (problems in memory, a suite and a candidate file, or a certify run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_check_certify.h"
#include "lp_check_internal.h"
#include "lp_check_shard.h"
#include "lp_format.h"
#include "lp_problem.h"
#include "lpcert_check.h"

struct lp_check {
    ck_run r;
    ck_header h;
    int route;                 /* 0 nothing yet, 1 memory, 2 a suite file, 3 certify */
    int used;                  /* something was (or began to be) judged into r */
    int sealed;                /* lp_check_one ran: no further problem may be added */
    int64_t problems;
    unsigned fm[CK_NOUT];      /* candidate formats seen per output */
    char sdesc[5400], cdesc[1200], paths[2][4096];
    ck_certify *cert;
    int shard_i, shard_n;      /* lp_check_suite_compare_shard: this run holds shard i of n */
    int64_t shard_total;
    ck_partial *merged;        /* lp_check_merge: the partial the run and header came from */
};

struct lp_check_suite {
    ck_suite s;
    char path[4096];
    char glob[512];
    int has_glob;
};

lp_status lp_check_new(lp_check **out, const lp_check_options *opt, lp_error *err)
{
    static const lp_check_options dflt = LP_CHECK_OPTIONS_INIT;
    if (!opt) opt = &dflt;
    *out = NULL;
    ck_options o;
    ck_options_init(&o);
    for (int i = 0; i < CK_NOUT; i++) {
        o.max_ulp[i] = opt->max_ulp[i] < 0 ? -1 : opt->max_ulp[i];
        o.max_abs[i] = opt->max_abs[i] < 0 ? -1 : opt->max_abs[i];
        if (isnan(opt->max_ulp[i]) || isnan(opt->max_abs[i]))
            return lp_fail(err, LP_ERR_USAGE, "check options: a bound of %s is NaN", ck_output_name(i));
    }
    o.baseline = opt->baseline;
    o.factor = opt->factor > 0 ? opt->factor : -1;
    if (opt->masking != 0 && opt->masking != 1)
        return lp_fail(err, LP_ERR_USAGE, "check options: masking %d is not 0 (spec) or 1 (mul)",
                       opt->masking);
    o.masking = opt->masking ? CK_MASKING_MUL : CK_MASKING_SPEC;
    if (opt->empty_mean < 0 || opt->empty_mean > 2)
        return lp_fail(err, LP_ERR_USAGE, "check options: empty_mean %d is not 0 (case), 1 (nan) "
                       "or 2 (zero)", opt->empty_mean);
    o.empty = (ck_empty)opt->empty_mean;
    if (opt->threads < 0 || opt->threads > 64)
        return lp_fail(err, LP_ERR_USAGE, "check options: threads %d is not in [0, 64]", opt->threads);
    o.threads = opt->threads;
    o.no_default = opt->no_default_bound != 0;
    lp_status s = ck_options_finish(&o, err);
    if (s != LP_OK) return s;
    lp_check *c = calloc(1, sizeof *c);
    if (!c) return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
    s = ck_run_init(&c->r, &o, err);
    if (s != LP_OK) {
        free(c);
        return s;
    }
    *out = c;
    return LP_OK;
}

void lp_check_free(lp_check *c)
{
    if (!c) return;
    ck_run_free(&c->r);
    if (c->cert) {
        ck_certify_close(c->cert);
        free(c->cert);
    }
    ck_partial_free(c->merged);
    free(c);
}


static lp_status widen(ck_array *a, lp_format fmt, const void *p, int64_t n, lp_error *err)
{
    a->present = 1;
    a->fmt = fmt;
    a->n = n;
    a->v = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->v);
    if (!a->v) return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
    for (int64_t i = 0; i < n; i++) a->v[i] = lp_load_f64(p, fmt, (size_t)i);
    return LP_OK;
}

static lp_status sealed(const char *what, lp_error *err)
{
    return lp_fail(err, LP_ERR_USAGE, "%s: the run holds the one problem of lp_check_one; no "
                   "other may be added (use a new run)", what);
}

ck_options *ck_check_options(lp_check *c)
{
    return &c->r.opt;
}

/* The checks common to lp_check_problem and lp_check_one. */
static lp_status check_args(const lp_check *c, const char *name, const lp_problem *pb,
                            const lp_candidate *cand, lp_error *err)
{
    if (!c || !name || !pb || !cand)
        return lp_fail(err, LP_ERR_USAGE, "check: a NULL run, name, problem or candidate");
    if (c->sealed) return sealed("check", err);
    if ((unsigned)cand->fmt >= LP_NFORMATS)
        return lp_fail(err, LP_ERR_USAGE, "check %s: candidate format %d is not one of the four",
                       name, (int)cand->fmt);
    if (!cand->logp && !cand->sum && !cand->mean)
        return lp_fail(err, LP_ERR_USAGE, "check %s: the candidate gives none of logp, sum, mean", name);
    return lp_problem_check(pb, err);
}

/* cand's outputs widened to f64 (ck_outputs_free them). */
static lp_status widen_all(ck_outputs *co, const lp_problem *pb, const lp_candidate *cand,
                           lp_error *err)
{
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    const void *arr[CK_NOUT] = {cand->logp, cand->sum, cand->mean};
    lp_status s = LP_OK;
    memset(co, 0, sizeof *co);
    for (int k = 0; k < CK_NOUT && s == LP_OK; k++)
        if (arr[k]) s = widen(&co->a[k], cand->fmt, arr[k], k == CK_TOKEN ? B * Ts : B, err);
    return s;
}

/* The header of problems given in memory, after one more was judged. */
static void memory_header(lp_check *c)
{
    c->problems++;
    c->route = 1;
    snprintf(c->sdesc, sizeof c->sdesc, "%lld problems given through the C API (lpcert_check.h); "
             "reference computed by lpcert unless given", (long long)c->problems);
    ck_cand_text(c->cdesc, sizeof c->cdesc, "given in memory", c->fm);
    memset(&c->h, 0, sizeof c->h);
    c->h.command = "check";
    c->h.suite = c->sdesc;
    c->h.candidate = c->cdesc;
}

lp_status lp_check_problem(lp_check *c, const char *name, const char *cls, const lp_problem *pb,
                           const lp_ref_result *ref, const lp_candidate *cand, lp_error *err)
{
    lp_status s = check_args(c, name, pb, cand, err);
    if (s != LP_OK) return s;
    if (!cls) cls = name;
    const int64_t B = pb->shape.B, Ts = lp_problem_ts(pb);
    lp_ref_result own;
    memset(&own, 0, sizeof own);
    if (!ref) {
        lp_ref_options ropt = LP_REF_OPTIONS_INIT;
        ropt.threads = c->r.opt.threads;
        s = lp_ref_compute_opts(&own, pb, &ropt, err);
        if (s != LP_OK) return s;
        ref = &own;
    } else if (ref->B != B || ref->Ts != Ts) {
        return lp_fail(err, LP_ERR_USAGE, "check %s: the reference given has B=%lld, T_s=%lld; the "
                       "problem B=%lld, T_s=%lld", name, (long long)ref->B, (long long)ref->Ts,
                       (long long)B, (long long)Ts);
    }
    ck_outputs co;
    s = widen_all(&co, pb, cand, err);
    if (s == LP_OK) {
        c->used = 1;
        s = ck_judge(&c->r, name, cls, pb, ref, &co, c->fm, err);
    }
    if (s == LP_OK) memory_header(c);
    ck_outputs_free(&co);
    lp_ref_result_free(&own);
    return s;
}

lp_status lp_check_one(lp_check *c, const char *name, const char *cls, const lp_problem *pb,
                       const lp_candidate *cand, lp_error *err)
{
    lp_status s = check_args(c, name, pb, cand, err);
    if (s != LP_OK) return s;
    if (c->used || c->route != 0 || c->cert || c->r.cases > 0)
        return lp_fail(err, LP_ERR_USAGE, "check %s: lp_check_one needs a new run (this one already "
                       "holds results; use lp_check_problem for several problems)", name);
    if (!cls) cls = name;
    ck_outputs co;
    s = widen_all(&co, pb, cand, err);
    if (s == LP_OK) {
        c->used = 1;
        c->sealed = 1;   /* one_case from here: the median was settled within this problem */
        s = ck_judge_single(&c->r, name, cls, pb, &co, c->fm, err);
    }
    if (s == LP_OK) memory_header(c);
    ck_outputs_free(&co);
    return s;
}

int lp_check_failed(const lp_check *c)
{
    return !c || ck_run_failed(&c->r);
}

int lp_check_exit_code(const lp_check *c, lp_status s)
{
    if (s != LP_OK) return s == LP_ERR_INTERNAL || s == LP_ERR_NOMEM ? 1 : 2;
    return lp_check_failed(c) ? 1 : 0;
}

/* The header of the route that filled c (an empty run reads as problems in memory). */
static const ck_header *header(lp_check *c)
{
    if (c->route == 0) {
        snprintf(c->sdesc, sizeof c->sdesc, "no problem given");
        snprintf(c->cdesc, sizeof c->cdesc, "none");
        memset(&c->h, 0, sizeof c->h);
        c->h.command = "check";
        c->h.suite = c->sdesc;
        c->h.candidate = c->cdesc;
    }
    return c->route == 3 ? &c->cert->h : &c->h;
}

void lp_check_write_table(FILE *f, lp_check *c)
{
    if (f && c) ck_report_table(f, &c->r, header(c));
}

lp_status lp_check_write_json(lp_check *c, const char *path, lp_error *err)
{
    if (!c || !path) return lp_fail(err, LP_ERR_USAGE, "check: a NULL run or path");
    return ck_report_json(path, &c->r, header(c), err);
}

lp_status lp_check_write_certificate(lp_check *c, const char *path, lp_error *err)
{
    if (!c || !path) return lp_fail(err, LP_ERR_USAGE, "check: a NULL run or path");
    return ck_report_certificate(path, &c->r, header(c), err);
}

size_t lp_check_group_count(const lp_check *c)
{
    return c ? c->r.ng : 0;
}

int64_t lp_check_values(const lp_check *c)
{
    return c ? c->r.values : 0;
}

lp_status lp_check_group_get(lp_check *c, size_t i, lp_check_group *out, lp_error *err)
{
    if (!c || !out || i >= c->r.ng)
        return lp_fail(err, LP_ERR_USAGE, "check: group %zu of %zu", i, c ? c->r.ng : 0);
    ck_group *g = &c->r.g[i];
    memset(out, 0, sizeof *out);
    out->cls = g->cls;
    out->output = (lp_output)g->out;
    out->formats = g->fmts;
    out->format = LP_F64;
    for (int f = LP_NFORMATS - 1; f >= 0; f--)
        if (g->fmts & (1u << f)) out->format = (lp_format)f;
    out->n = g->n;
    out->correctly_rounded = g->n_cr;
    out->max_ulp = g->max_ulp;
    out->max_abs = g->max_abs;
    out->median_ulp = ck_group_median(g);
    out->class_mismatches = g->n_mismatch;
    out->nan_leaks = g->n_leak;
    out->over_bound = g->n_over;
    out->base_max_ulp = ck_rel_active(&c->r.opt) && ck_group_base_numbers(&c->r, g) ? g->rel_base_max : (double)NAN;
    out->failed = ck_group_failed(&c->r, g);
    return LP_OK;
}

/* ---- files ------------------------------------------------------------------------------------- */

lp_status lp_check_suite_open(lp_check_suite **out, const char *path, const char *glob,
                              lp_error *err)
{
    *out = NULL;
    if (!path) return lp_fail(err, LP_ERR_USAGE, "check: a NULL suite path");
    lp_check_suite *s = calloc(1, sizeof *s);
    if (!s) return lp_fail(err, LP_ERR_NOMEM, "check: out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    if (glob) {
        snprintf(s->glob, sizeof s->glob, "%s", glob);
        s->has_glob = 1;
    }
    lp_status st = ck_suite_open(&s->s, s->path, s->has_glob ? s->glob : NULL, err);
    if (st != LP_OK) {
        free(s);
        return st;
    }
    *out = s;
    return LP_OK;
}

void lp_check_suite_free(lp_check_suite *s)
{
    if (!s) return;
    ck_suite_close(&s->s);
    free(s);
}

size_t lp_check_suite_count(const lp_check_suite *s)
{
    return s ? s->s.n : 0;
}

static lp_status suite_compare(lp_check *c, const lp_check_suite *s, const char *candidate_path,
                               int recompute, int shard_i, int shard_n, lp_error *err);

lp_status lp_check_suite_compare(lp_check *c, const lp_check_suite *s, const char *candidate_path,
                                 int recompute, lp_error *err)
{
    return suite_compare(c, s, candidate_path, recompute, 0, 0, err);
}

lp_status lp_check_suite_compare_shard(lp_check *c, const lp_check_suite *s,
                                       const char *candidate_path, int recompute, int shard_i,
                                       int shard_n, lp_error *err)
{
    if (shard_n < 1 || shard_n > 100000 || shard_i < 1 || shard_i > shard_n)
        return lp_fail(err, LP_ERR_USAGE, "check: shard %d of %d is not 1 <= I <= N <= 100000",
                       shard_i, shard_n);
    if (c && (c->used || c->route != 0))
        return lp_fail(err, LP_ERR_USAGE, "check: a shard needs a new run");
    return suite_compare(c, s, candidate_path, recompute, shard_i, shard_n, err);
}

static lp_status suite_compare(lp_check *c, const lp_check_suite *s, const char *candidate_path,
                               int recompute, int shard_i, int shard_n, lp_error *err)
{
    if (!c || !s || !candidate_path)
        return lp_fail(err, LP_ERR_USAGE, "check: a NULL run, suite or candidate path");
    if (c->sealed) return sealed("check", err);
    const ck_suite *su = &s->s;
    lp_tfile *cf = NULL;
    ck_header *h = &c->h;
    lp_status st = lp_tfile_open(&cf, candidate_path, err);
    if (st == LP_OK) st = ck_candidate_validate(cf, candidate_path, su, err);
    if (st == LP_OK) {
        memset(h, 0, sizeof *h);
        st = ck_header_add_file(h, "suite", s->path, c->paths[0], err);
    }
    if (st == LP_OK) st = ck_header_add_file(h, "candidate", candidate_path, c->paths[1], err);
    unsigned fm[CK_NOUT] = {0, 0, 0};
    ck_suite sub = *su;   /* a shard: its block of the cases (lp_check_shard.h) */
    if (shard_n) {
        size_t lo, hi;
        ck_shard_range(su->n, shard_i, shard_n, &lo, &hi);
        sub.c = su->c + lo;
        sub.n = hi - lo;
    }
    if (st == LP_OK) {
        c->used = 1;
        st = ck_suite_compare(&c->r, &sub, cf, candidate_path, recompute, fm, NULL, err);
    }
    if (st == LP_OK) {
        ck_suite_text(c->sdesc, sizeof c->sdesc, su, s->path, s->has_glob ? s->glob : NULL);
        ck_cand_text(c->cdesc, sizeof c->cdesc, candidate_path, fm);
        h->command = "check";
        h->suite = c->sdesc;
        h->candidate = c->cdesc;
        if (recompute)
            snprintf(h->extra[h->nextra++], sizeof h->extra[0], "reference recomputed by lpcert");
        c->route = 2;
        c->shard_i = shard_i;
        c->shard_n = shard_n;
        c->shard_total = (int64_t)su->n;
        memcpy(c->fm, fm, sizeof c->fm);
    }
    lp_tfile_close(cf);
    return st;
}

/* ---- certify ----------------------------------------------------------------------------------- */

static lp_status certify(lp_check *c, const lp_plugin *given, const lp_certify_options *opt,
                         lp_error *err)
{
    if (!c || !opt) return lp_fail(err, LP_ERR_USAGE, "certify: a NULL run or options");
    if (given && (opt->plugin || opt->kernel))
        return lp_fail(err, LP_ERR_USAGE, "certify: a kernel given in memory and a plugin or "
                       "built-in kernel in the options");
    if (c->sealed) return sealed("certify", err);
    if (c->r.cases > 0 || c->cert)
        return lp_fail(err, LP_ERR_USAGE, "certify: the run already holds results (use a new one)");
    if (opt->batch_invariance < 0 || opt->batch_invariance > 2)
        return lp_fail(err, LP_ERR_USAGE, "certify: batch_invariance %d is not 0 (require), 1 "
                       "(report) or 2 (off)", opt->batch_invariance);
    if (!(opt->seconds >= 0))
        return lp_fail(err, LP_ERR_USAGE, "certify: seconds must be >= 0");
    ck_certify *ce = calloc(1, sizeof *ce);
    if (!ce) return lp_fail(err, LP_ERR_NOMEM, "certify: out of memory");
    ce->plugin = opt->plugin;
    ce->kernel = opt->kernel;
    ce->given = given;
    ce->suite = opt->suite;
    ce->glob = opt->cases;
    ce->seconds = opt->seconds;
    ce->seed = opt->seed;
    ce->progress = opt->progress;
    ce->user = opt->user;
    c->r.opt.batch = (ck_batch)opt->batch_invariance;
    c->cert = ce;
    c->used = 1;
    lp_status s = ck_certify_run(ce, &c->r, err);
    if (s == LP_OK) c->route = 3;
    return s;
}

lp_status lp_check_certify(lp_check *c, const lp_certify_options *opt, lp_error *err)
{
    return certify(c, NULL, opt, err);
}

lp_status lp_check_certify_kernel(lp_check *c, const struct lp_plugin *kernel,
                                  const lp_certify_options *opt, lp_error *err)
{
    if (!kernel) return lp_fail(err, LP_ERR_USAGE, "certify: a NULL kernel");
    return certify(c, kernel, opt, err);
}

/* ---- sharding (check/shard.c) ------------------------------------------------------------------ */

lp_status lp_check_write_partial(lp_check *c, const char *path, lp_error *err)
{
    if (!c || !path) return lp_fail(err, LP_ERR_USAGE, "check: a NULL run or path");
    if (c->route != 2 || !c->shard_n)
        return lp_fail(err, LP_ERR_USAGE, "check: the run holds no shard (lp_check_suite_compare_shard)");
    ck_shard_info si;
    memset(&si, 0, sizeof si);
    si.i = c->shard_i;
    si.n = c->shard_n;
    si.total = c->shard_total;
    si.cand_what = c->paths[1];
    memcpy(si.fm, c->fm, sizeof si.fm);
    return ck_partial_write(path, &c->r, &c->h, &si, err);
}

lp_status lp_check_merge(lp_check **out, const char *const *paths, size_t n, lp_error *err)
{
    if (!out) return lp_fail(err, LP_ERR_USAGE, "merge: a NULL result");
    *out = NULL;
    if (!paths || n == 0) return lp_fail(err, LP_ERR_USAGE, "merge: no partial given");
    ck_partial **parts = calloc(n, sizeof *parts);
    if (!parts) return lp_fail(err, LP_ERR_NOMEM, "merge: out of memory");
    lp_status s = LP_OK;
    size_t k = 0;
    for (; k < n && s == LP_OK; k++) {
        s = paths[k] ? ck_partial_read(&parts[k], paths[k], err)
                     : lp_fail(err, LP_ERR_USAGE, "merge: a NULL path");
        if (s != LP_OK) break;
    }
    ck_partial *m = NULL;
    if (s == LP_OK) s = ck_partial_merge(&m, parts, n, err);   /* takes the parts over */
    else
        for (size_t q = 0; q < k; q++) ck_partial_free(parts[q]);
    free(parts);
    if (s != LP_OK) return s;
    lp_check *c = calloc(1, sizeof *c);
    if (!c) {
        ck_partial_free(m);
        return lp_fail(err, LP_ERR_NOMEM, "merge: out of memory");
    }
    c->r = *ck_partial_run(m);   /* moved: the partial keeps the strings the run points at */
    memset(ck_partial_run(m), 0, sizeof c->r);
    c->h = *ck_partial_header(m);
    c->merged = m;
    c->route = 4;
    c->used = c->sealed = 1;
    *out = c;
    return LP_OK;
}
