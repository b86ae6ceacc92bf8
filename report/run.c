/* report/run.c: the exact reference once per case, then every selected kernel on every case
 * whose logits it reads (lp_kernel_accepts: its storage format, or one it widens exactly), compared
 * by check's own code (ck_run_case: per class and output max/median ulp, max abs, class
 * mismatches, NaN leaks, the masking and empty-mean conventions). The report adds the 99th
 * percentile, histograms of err_ulp, and the error binned by the exact |logp|.
 *
 * Each kernel is compared under its own empty-mean policy (both are allowed by SPEC A3, and the
 * report states which one each kernel follows), and under the spec's masking (a NaN leak is a
 * class mismatch). Kernels are independent: threads take whole kernels, so every figure is the
 * same for any thread count. */
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "lp_format.h"
#include "lp_report.h"

/* ---- threads ---------------------------------------------------------------------------------- */

typedef struct par {
    pthread_mutex_t mu;
    size_t next, n;
    void (*fn)(void *ctx, size_t i);
    void *ctx;
} par;

static void *par_worker(void *arg)
{
    par *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        const size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n) return NULL;
        p->fn(p->ctx, i);
    }
}

lp_status rp_parallel(int threads, size_t n, void (*fn)(void *ctx, size_t i), void *ctx,
                      lp_error *err)
{
    long nt = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if ((size_t)nt > n) nt = (long)n;
    par p = {PTHREAD_MUTEX_INITIALIZER, 0, n, fn, ctx};
    if (nt <= 1) {
        par_worker(&p);
        return LP_OK;
    }
    pthread_t th[64];
    if (nt > 64) nt = 64;
    long started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, par_worker, &p) != 0) break;
    if (started == 0) par_worker(&p);
    for (long i = 0; i < started; i++) pthread_join(th[i], NULL);
    (void)err;
    return LP_OK;
}

/* ---- kernels ---------------------------------------------------------------------------------- */

lp_status rp_kernels_select(rp_kernels *ks, const char *globs, lp_error *err)
{
    memset(ks, 0, sizeof *ks);
    const size_t nk = lp_kernel_count();
    ks->v = calloc(nk ? nk : 1, sizeof *ks->v);
    if (!ks->v) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nk; i++) {
        const lp_kernel *k = lp_kernel_at(i);
        if (!rp_list_match(globs, k->name)) continue;
        rp_kernel *rk = &ks->v[ks->n++];
        rk->k = k;
        ck_options opt;
        ck_options_init(&opt);
        opt.empty = k->empty_mean == LP_EMPTY_ZERO ? CK_EMPTY_ZERO : CK_EMPTY_NAN;
        lp_status s = ck_run_init(&rk->run, &opt, err);
        if (s != LP_OK) return s;
    }
    if (ks->n == 0)
        return lp_fail(err, LP_ERR_USAGE, "--kernels: '%s' matches no built-in kernel", globs);
    return LP_OK;
}

void rp_kernels_free(rp_kernels *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        ck_run_free(&ks->v[i].run);
        free(ks->v[i].gstat);
    }
    free(ks->v);
    memset(ks, 0, sizeof *ks);
}

/* ---- the reference ---------------------------------------------------------------------------- */

typedef struct refprog {
    int64_t base, total;
} refprog;

static void ref_progress(void *user, int64_t done, int64_t total)
{
    const refprog *p = user;
    (void)total;
    fprintf(stderr, "\rlpcert report: exact reference %lld / %lld tokens", (long long)(p->base + done),
            (long long)p->total);
}

lp_status rp_run_reference(rp_cases *cs, const rp_options *o, lp_error *err)
{
    const int tty = isatty(fileno(stderr));
    refprog pr = {0, cs->tokens};
    lp_ref_options ropt = LP_REF_OPTIONS_INIT;
    ropt.threads = o->threads;
    if (tty) {
        ropt.progress = ref_progress;
        ropt.user = &pr;
    }
    lp_status s = LP_OK;
    for (size_t i = 0; i < cs->n && s == LP_OK; i++) {
        rp_case *c = &cs->v[i];
        s = lp_ref_compute_opts(&c->ref, &c->pb, &ropt, err);
        pr.base += c->ref.B * c->ref.Ts;
        if (tty) ref_progress(&pr, 0, 0);
    }
    if (tty) fputs("\r\033[K", stderr);
    return s;
}

/* ---- statistics ------------------------------------------------------------------------------- */

int rp_hist_bin(double e)
{
    if (!(e > 0)) return 0;
    int ex;
    frexp(e, &ex);                       /* e in [2^(ex-1), 2^ex) */
    if (ldexp(1.0, ex - 1) == e) ex--;   /* (2^(ex-1), 2^ex] */
    int b = ex - RP_HBIN_LO + 1;         /* e <= 2^-10: bin 1 */
    return b < 1 ? 1 : b >= RP_NHBINS ? RP_NHBINS - 1 : b;
}

double rp_hist_edge(int bin) { return bin == 0 ? 0 : ldexp(1.0, bin - 1 + RP_HBIN_LO); }

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Figures of sorted values v[0..n): median (numpy's), 99th percentile (nearest rank). */
static void stat_sorted(rp_stat *st, const double *v, size_t n)
{
    if (n == 0) {
        st->p50 = st->p99 = (double)NAN;
        return;
    }
    st->p50 = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    size_t r = (size_t)ceil(0.99 * (double)n);
    st->p99 = v[(r ? r : 1) - 1];
}

void rp_group_stat(rp_stat *st, ck_group *g)
{
    memset(st, 0, sizeof *st);
    st->n = g->n;
    st->n_num = (int64_t)g->nulps;
    st->n_mismatch = g->n_mismatch;
    st->n_leak = g->n_leak;
    st->max_ulp = g->max_ulp;
    st->max_abs = g->max_abs;
    if (g->nulps) qsort(g->ulps, g->nulps, sizeof *g->ulps, cmp_double);
    stat_sorted(st, g->ulps, g->nulps);
}

const char *rp_masking_key(const ck_run *r)
{
    if (r->hazard_seqs == 0) return "undetermined";
    if (r->leaked_seqs == 0) return "assign";
    return r->leaked_seqs == r->hazard_seqs ? "mul" : "inconsistent";
}

const char *rp_empty_key(const ck_run *r)
{
    const int64_t e = r->empty_seqs;
    if (e == 0) return "undetermined";
    if (r->empty_nan == e) return "nan";
    if (r->empty_zero == e) return "zero";
    return r->empty_as_policy == e ? "case" : "mixed";
}

/* The family and the dtype of a class "family/dtype". */
static int class_split(const char *cls, char *fam, size_t n, lp_format *f)
{
    const char *sl = strrchr(cls, '/');
    if (!sl || !lp_format_parse(f, sl + 1)) return 0;
    snprintf(fam, n, "%.*s", (int)(sl - cls), cls);
    return 1;
}

static int family_standard(const char *fam)
{
    return strcmp(fam, "near_zero") != 0 && strcmp(fam, "pair_exh") != 0;
}

const char *const rp_overflow_families[] = {"huge", "corpus.huge", NULL};

int rp_family_overflow(const char *fam)
{
    for (int i = 0; rp_overflow_families[i]; i++)
        if (strcmp(fam, rp_overflow_families[i]) == 0) return 1;
    return 0;
}

enum { SEL_ALL, SEL_TYPICAL, SEL_OVERFLOW };

/* 1 if group g counts in the totals of output out and dtype fi (-1: every dtype) over the
 * standard suite's families sel selects (all, all but the overflow families, those alone). */
static int group_in(const ck_group *g, int out, int fi, int sel)
{
    char fam[96];
    lp_format f;
    if (g->out != out || !class_split(g->cls, fam, sizeof fam, &f) || !family_standard(fam) ||
        (fi >= 0 && (int)f != fi))
        return 0;
    return sel == SEL_ALL || (sel == SEL_OVERFLOW) == rp_family_overflow(fam);
}

/* Totals over the standard suite's classes, per dtype and over all, and the histograms; per dtype
 * also over the typical families and over the overflow families apart. */
static lp_status kernel_totals(rp_kernel *rk, lp_error *err)
{
    ck_run *r = &rk->run;
    rk->gstat = calloc(r->ng ? r->ng : 1, sizeof *rk->gstat);
    if (!rk->gstat) return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    for (size_t i = 0; i < r->ng; i++) rp_group_stat(&rk->gstat[i], &r->g[i]);
    for (int out = 0; out < CK_NOUT; out++) {
        for (int fs = -1; fs < 3 * LP_NFORMATS; fs++) {
            const int fi = fs < 0 ? -1 : fs % LP_NFORMATS, sel = fs < 0 ? SEL_ALL : fs / LP_NFORMATS;
            size_t n = 0;
            rp_stat *st = fi < 0 ? &rk->all[out]
                          : sel == SEL_ALL ? &rk->tot[fi][out]
                          : sel == SEL_TYPICAL ? &rk->typ[fi][out] : &rk->ovf[fi][out];
            memset(st, 0, sizeof *st);
            for (size_t i = 0; i < r->ng; i++)
                if (group_in(&r->g[i], out, fi, sel)) n += r->g[i].nulps;
            double *v = malloc((n ? n : 1) * sizeof *v);
            if (!v) return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
            n = 0;
            for (size_t i = 0; i < r->ng; i++) {
                const ck_group *g = &r->g[i];
                if (!group_in(g, out, fi, sel)) continue;
                if (g->nulps) memcpy(v + n, g->ulps, g->nulps * sizeof *v);
                n += g->nulps;
                st->n += g->n;
                st->n_mismatch += g->n_mismatch;
                st->n_leak += g->n_leak;
                st->max_ulp = fmax(st->max_ulp, g->max_ulp);
                st->max_abs = fmax(st->max_abs, g->max_abs);
                if (fi >= 0 && sel == SEL_ALL)
                    for (size_t j = 0; j < g->nulps; j++) rk->hist[fi][out][rp_hist_bin(g->ulps[j])]++;
            }
            st->n_num = (int64_t)n;
            qsort(v, n, sizeof *v, cmp_double);
            stat_sorted(st, v, n);
            free(v);
        }
    }
    return LP_OK;
}

/* ---- the kernel runs -------------------------------------------------------------------------- */

typedef struct kjob {
    rp_kernels *ks;
    const rp_cases *cs;
    lp_status status;
    lp_error err;
    pthread_mutex_t mu;
} kjob;

static void token_bins(rp_kernel *rk, const rp_case *c, const ck_array *tok)
{
    const lp_ref_result *ref = &c->ref;
    for (int64_t i = 0; i < ref->B * ref->Ts; i++) {
        if (!ref->counted[i]) continue;
        const lp_value *w = &ref->logp[i];
        const double x = fabs(w->dd.hi);
        if (!(x > 0) || !isfinite(x)) continue;
        const lp_err_measure m = lp_ulp_error(tok->v[i], w->dd, lp_value_wide(w, tok->fmt), tok->fmt);
        if (m.cls != LP_CMP_NUMBER) continue;
        int b = (int)floor(log10(x)) - RP_LBIN_LO;
        b = b < 0 ? 0 : b >= RP_NLBINS ? RP_NLBINS - 1 : b;
        rp_lbin *bn = &rk->lbins[c->pb.fmt][b];
        bn->n++;
        bn->max_ulp = fmax(bn->max_ulp, m.err_ulp);
        bn->max_abs = fmax(bn->max_abs, m.err_abs);
        bn->max_rel = fmax(bn->max_rel, m.err_abs / x);
    }
}

static void kernel_job(void *ctx, size_t ki)
{
    kjob *j = ctx;
    rp_kernel *rk = &j->ks->v[ki];
    lp_error e = {LP_OK, ""};
    lp_status s = LP_OK;
    for (size_t i = 0; i < j->cs->n && s == LP_OK; i++) {
        const rp_case *c = &j->cs->v[i];
        if (!lp_kernel_accepts(rk->k, c->pb.fmt)) continue;
        ck_outputs out;
        int ok;
        const char *why;
        lp_status ks = ck_baseline_run(&out, rk->k->name, &c->pb, &ok, &why, &e);
        if (ks != LP_OK || !ok) {
            if (ks == LP_ERR_NOMEM) s = ks;
            if (rk->kernel_errors++ == 0)
                snprintf(rk->first_error, sizeof rk->first_error, "%s: %s", c->name,
                         ks != LP_OK ? e.msg : why ? why : "not run");
            continue;
        }
        rk->cases++;
        s = ck_run_case(&rk->run, c->name, c->cls, &c->pb, &c->ref, &out, NULL, &e);
        if (s == LP_OK) token_bins(rk, c, &out.a[CK_TOKEN]);
        ck_outputs_free(&out);
    }
    if (s == LP_OK) s = kernel_totals(rk, &e);
    if (s != LP_OK) {
        pthread_mutex_lock(&j->mu);
        if (j->status == LP_OK) {
            j->status = s;
            j->err = e;
        }
        pthread_mutex_unlock(&j->mu);
    }
    if (isatty(fileno(stderr))) {
        pthread_mutex_lock(&j->mu);
        fprintf(stderr, "\r\033[Klpcert report: kernel %s done", rk->k->name);
        pthread_mutex_unlock(&j->mu);
    }
}

lp_status rp_run_kernels(rp_kernels *ks, const rp_cases *cs, const rp_options *o, lp_error *err)
{
    kjob j;
    memset(&j, 0, sizeof j);
    j.ks = ks;
    j.cs = cs;
    pthread_mutex_init(&j.mu, NULL);
    lp_status s = rp_parallel(o->threads, ks->n, kernel_job, &j, err);
    pthread_mutex_destroy(&j.mu);
    if (isatty(fileno(stderr))) fputs("\r\033[K", stderr);
    if (s == LP_OK && j.status != LP_OK) {
        *err = j.err;
        s = j.status;
    }
    return s;
}
