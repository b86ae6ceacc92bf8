/* report/processed.c: the report's section on the processed-log-prob kernels (impl/processed.c):
 * per kernel, logits format and parameter set, the ULP figures of the tokens whose kept set agrees
 * with SPEC A7's, and the kept-set disagreements counted apart.
 *
 * CASES  Generated from the report's seed (deterministic): rows of V = 512 logits (256 with
 * --quick) of three kinds: "lm" (2.5 N(0,1), and 1 to 20 candidate tokens raised by U(4, 12): a
 * nucleus of a few to a few hundred tokens, like a language model's next-token logits), "ties"
 * (the lm logits rounded to multiples of 1/4: ties at every top-k threshold), "wide" (U(-100, 100):
 * what softcap 30 and 50 squash). Each row is held in f32 and in bf16 (the bf16 rounding of the
 * same values: ties again). Per row, the kernel's own processing gives an order (its processed
 * values before the filters, descending, ties by index descending) and a kept count b; the row is
 * scored at the 4 ranks b-2 .. b+1 of that order (the kernel's boundary: its least probable kept
 * tokens and most probable dropped ones) and at one label drawn from the kernel's processed
 * distribution (what the engine would have sampled). The row is repeated once per scored
 * position (shift none).
 * MEASURES  The kernel's whole kept set against the exact one (lp_ref_kept, reference/sample.c:
 * every decision exact), token by token: a token one side keeps and the other drops is a kept-set
 * disagreement, counted by direction (as a share of the exact kept tokens), and a row with one
 * is a row whose kept set differs. The scored tokens against the exact reference with the same
 * parameters (lp_ref_compute): ULP figures (SPEC A4, in the kernel's output format) over the
 * tokens of the rows whose kept sets agree, both sides finite: the log-softmax error itself; the
 * sampled tokens the exact rule gives -inf are counted. Where the kept set is provably exact
 * (lp_pkernel_keptset_exact) every such token is also held to lp_pkernel_promise_row's bound and
 * the worst error / bound is reported. */
#include <cjson/cJSON.h>
#include <math.h>

#include "lp_format.h"
#include "lp_pkernel.h"
#include "lp_problem.h"
#include "lp_report.h"
#include "lp_rng.h"
#include "lp_ulp.h"

#define NWIN 4
#define TPOS (NWIN + 1)

typedef enum pkind { PK_LM, PK_TIES, PK_WIDE } pkind;
static const char *const kind_names[] = {"lm", "ties", "wide"};

typedef struct pset {
    const char *name;
    lp_sampling s;
    double tau;
    pkind kind;
} pset;

static const pset psets[] = {
    {"top_p 0.8", {0, 0, 0.8, 0}, 1.0, PK_LM},
    {"top_p 0.9", {0, 0, 0.9, 0}, 1.0, PK_LM},
    {"top_p 0.95", {0, 0, 0.95, 0}, 1.0, PK_LM},
    {"top_p 0.9, tau 0.7", {0, 0, 0.9, 0}, 0.7, PK_LM},
    {"top_p 0.9, ties", {0, 0, 0.9, 0}, 1.0, PK_TIES},
    {"top_p 1", {0, 0, 1.0, 0}, 1.0, PK_WIDE},
    {"top_k 5, ties", {0, 5, 0, 0}, 1.0, PK_TIES},
    {"top_k 50, ties", {0, 50, 0, 0}, 1.0, PK_TIES},
    {"top_k 50, ties, tau 0.7", {0, 50, 0, 0}, 0.7, PK_TIES},
    {"softcap 30", {30, 0, 0, 0}, 1.0, PK_WIDE},
    {"softcap 50", {50, 0, 0, 0}, 1.0, PK_WIDE},
    {"softcap 30, top_k 50", {30, 50, 0, 0}, 1.0, PK_WIDE},
    {"min_p 0.1", {0, 0, 0, 0.1}, 1.0, PK_LM},
    {"all: softcap 30, tau 0.7, top_k 50, top_p 0.9, min_p 0.05", {30, 50, 0.9, 0.05}, 0.7, PK_LM},
};
#define NPSETS (sizeof psets / sizeof psets[0])

typedef struct pcell {       /* one kernel, one logits format, one parameter set */
    const lp_pkernel *k;
    lp_format fmt;
    const pset *ps;
    int64_t rows, tokens, nnum, rows_diff, kdrop, kkeep, other, sampled, sampled_drop;
    int64_t exact_kept;      /* sum over rows of the exact kept set's size */
    double max_ulp, p50, p99, max_abs, diff_abs, worst_ratio;
    int proved;
    int64_t over;            /* proved cells: tokens over the promise (a failed contract) */
} pcell;

struct rp_processed {
    pcell *c;
    size_t n;
    int64_t V, rows;
};

void rp_processed_free(rp_processed *p)
{
    if (!p) return;
    free(p->c);
    free(p);
}

static void gen_row(double *x, int64_t V, pkind kind, lp_rng *r)
{
    if (kind == PK_WIDE) {
        for (int64_t i = 0; i < V; i++) x[i] = (lp_rng_unif(r) * 2 - 1) * 100;
        return;
    }
    for (int64_t i = 0; i < V; i++) x[i] = 2.5 * lp_rng_normal(r);
    const int64_t nc = 1 + (int64_t)lp_rng_below(r, 20);
    for (int64_t j = 0; j < nc; j++) x[lp_rng_below(r, (uint64_t)V)] += 4 + 8 * lp_rng_unif(r);
    if (kind == PK_TIES)
        for (int64_t i = 0; i < V; i++) x[i] = round(x[i] * 4) / 4;
}

typedef struct pent { double v; int64_t i; } pent;

static int cmp_keep_order(const void *a, const void *b)
{
    const pent *p = a, *q = b;
    if (p->v > q->v) return -1;
    if (p->v < q->v) return 1;
    return (p->i < q->i) - (p->i > q->i);
}

static int cmp_dbl(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One cell: builds the problem (rows x TPOS positions), runs the kernel and the reference. */
static lp_status run_cell(pcell *c, int64_t V, int64_t rows, uint64_t seed, int threads,
                          lp_error *err)
{
    const size_t esz = (size_t)lp_format_get(c->fmt)->bytes;
    const size_t nrow = (size_t)(rows * TPOS);
    void *logits = malloc(nrow * (size_t)V * esz);
    int64_t *labels = malloc(nrow * sizeof *labels);
    double *x = malloc((size_t)V * sizeof *x), *w = malloc((size_t)V * sizeof *w),
           *pre = malloc((size_t)V * sizeof *pre), *ulps = malloc(nrow * sizeof *ulps);
    pent *e = malloc((size_t)V * sizeof *e);
    void *row = malloc((size_t)V * esz);
    uint8_t *kept = malloc((size_t)V), *rdiff = calloc((size_t)(rows ? rows : 1), 1);
    lp_status s = LP_OK;
    if (!logits || !labels || !x || !w || !pre || !ulps || !e || !row || !kept || !rdiff)
        s = lp_fail(err, LP_ERR_NOMEM, "report: out of memory for the processed cases");
    lp_rng r;
    lp_rng_init(&r, seed);
    const lp_sampling filters_off = {c->ps->s.softcap, 0, 0, 0};
    for (int64_t q = 0; q < rows && s == LP_OK; q++) {
        gen_row(x, V, c->ps->kind, &r);
        for (int64_t i = 0; i < V; i++) lp_store_f64(row, c->fmt, (size_t)i, x[i]);
        int64_t b = 0;
        s = lp_pkernel_process_row(pre, NULL, c->k, row, c->fmt, V, c->ps->tau, &filters_off, err);
        if (s == LP_OK)
            s = lp_pkernel_process_row(w, &b, c->k, row, c->fmt, V, c->ps->tau, &c->ps->s, err);
        if (s == LP_OK) s = lp_ref_kept(kept, row, c->fmt, V, c->ps->tau, &c->ps->s, err);
        if (s != LP_OK) break;
        /* the whole kept set against the exact one (reference/sample.c) */
        for (int64_t i = 0; i < V; i++) {
            const int here = w[i] > -HUGE_VAL;
            c->exact_kept += kept[i];
            c->kdrop += !here && kept[i];
            c->kkeep += here && !kept[i];
            if (here != kept[i]) rdiff[q] = 1;
        }
        c->rows++;
        c->rows_diff += rdiff[q];
        for (int64_t i = 0; i < V; i++) e[i] = (pent){pre[i], i};
        qsort(e, (size_t)V, sizeof *e, cmp_keep_order);
        for (int t = 0; t < NWIN; t++) {
            int64_t rk = b - NWIN / 2 + t;
            rk = rk < 0 ? 0 : rk >= V ? V - 1 : rk;
            labels[q * TPOS + t] = e[rk].i;
        }
        /* a label drawn from the kernel's processed distribution */
        double m = -HUGE_VAL, tot = 0;
        for (int64_t i = 0; i < V; i++)
            if (w[i] > m) m = w[i];
        for (int64_t i = 0; i < V; i++) tot += w[i] > -HUGE_VAL ? exp(w[i] - m) : 0;
        double u = lp_rng_unif(&r) * tot;
        int64_t pick = -1;
        for (int64_t i = 0; i < V; i++) {
            if (!(w[i] > -HUGE_VAL)) continue;
            pick = i;
            u -= exp(w[i] - m);
            if (u < 0) break;
        }
        labels[q * TPOS + NWIN] = pick < 0 ? 0 : pick;
        for (int t = 0; t < TPOS; t++)
            memcpy((char *)logits + (size_t)(q * TPOS + t) * (size_t)V * esz, row, (size_t)V * esz);
    }
    lp_problem pb = LP_PROBLEM_INIT;
    pb.shape = (lp_shape){rows, TPOS, V};
    pb.fmt = c->fmt;
    pb.logits = logits;
    pb.labels = labels;
    pb.shift = LP_SHIFT_NONE;
    pb.temperature = c->ps->tau;
    pb.sampling = c->ps->s;
    lp_kresult kr;
    lp_ref_result ref;
    memset(&kr, 0, sizeof kr);
    memset(&ref, 0, sizeof ref);
    if (s == LP_OK) s = lp_pkernel_run(&kr, c->k, &pb, err);
    lp_ref_options opt = LP_REF_OPTIONS_INIT;
    opt.threads = threads;
    if (s == LP_OK) s = lp_ref_compute_opts(&ref, &pb, &opt, err);
    const lp_format out = s == LP_OK ? lp_pkernel_base(c->k)->out : LP_F32;
    size_t nu = 0;
    c->proved = lp_pkernel_keptset_exact(c->k, c->ps->tau, &c->ps->s);
    for (int64_t q = 0; q < rows && s == LP_OK; q++) {
        const int diff = rdiff[q];
        for (int t = 0; t < TPOS; t++) {
            const size_t at = (size_t)(q * TPOS + t);
            const double y = kr.logp[at], rf = lp_value_wide(&ref.logp[at], out);
            const int kd = y == -HUGE_VAL && isfinite(rf), kk = isfinite(y) && rf == -HUGE_VAL;
            c->tokens++;
            /* a class disagreement the kept sets do not explain */
            if (!kd && !kk && (isnan(y) || isnan(rf) || isinf(y) || isinf(rf)) && !(y == rf))
                c->other++;
            if ((kd || kk) && !diff) c->other++;
            if (t == NWIN) {
                c->sampled++;
                c->sampled_drop += rf == -HUGE_VAL;
            }
        }
        for (int t = 0; t < TPOS; t++) {
            const size_t at = (size_t)(q * TPOS + t);
            const double y = kr.logp[at];
            const lp_value *rv = &ref.logp[at];
            const double rf = lp_value_wide(rv, out);
            if (!isfinite(y) || !isfinite(rf)) continue;
            const lp_err_measure em = lp_ulp_error(y, rv->dd, rf, out);
            if (diff) {
                if (em.err_abs > c->diff_abs) c->diff_abs = em.err_abs;
                continue;
            }
            c->nnum++;
            ulps[nu++] = em.err_ulp;
            if (em.err_ulp > c->max_ulp) c->max_ulp = em.err_ulp;
            if (em.err_abs > c->max_abs) c->max_abs = em.err_abs;
            if (c->proved) {
                const void *rw = (const char *)logits + at * (size_t)V * esz;
                const lp_kpromise p = lp_pkernel_promise_row(c->k, rw, c->fmt, V, labels[at],
                                                             c->ps->tau, &c->ps->s);
                const lp_kverdict v = lp_kernel_judge(&p, y, rv->dd, out);
                if (!v.ok) c->over++;
                if (v.ratio > c->worst_ratio) c->worst_ratio = v.ratio;
            }
        }
    }
    if (nu) {
        qsort(ulps, nu, sizeof *ulps, cmp_dbl);
        c->p50 = ulps[(nu - 1) / 2];
        c->p99 = ulps[(size_t)((double)(nu - 1) * 0.99)];
    }
    lp_kresult_free(&kr);
    lp_ref_result_free(&ref);
    free(logits);
    free(labels);
    free(x);
    free(w);
    free(pre);
    free(ulps);
    free(e);
    free(row);
    free(kept);
    free(rdiff);
    return s;
}

typedef struct pjob {
    rp_processed *p;
    uint64_t seed;
    lp_status *st;
    lp_error *errs;
} pjob;

/* One cell on one thread (the reference inside runs single-threaded: results do not depend on
 * the thread count either way). The rows depend on the parameter set and the logits format
 * only: every kernel sees the same rows. */
static void cell_job(void *ctx, size_t i)
{
    pjob *j = ctx;
    pcell *c = &j->p->c[i];
    const uint64_t seed = j->seed * 0x9e3779b97f4a7c15u + (uint64_t)(c->ps - psets) * 2 +
                          (c->fmt == LP_BF16);
    j->errs[i].status = LP_OK;
    j->errs[i].msg[0] = 0;
    j->st[i] = run_cell(c, j->p->V, j->p->rows, seed, 1, &j->errs[i]);
}

lp_status rp_processed_run(rp_processed **out, const rp_options *o, lp_error *err)
{
    *out = NULL;
    rp_processed *p = calloc(1, sizeof *p);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    p->V = o->quick ? 256 : 512;
    p->rows = o->quick ? 24 : 96;
    const size_t cap = lp_pkernel_count() * 2 * NPSETS;
    p->c = calloc(cap, sizeof *p->c);
    if (!p->c) {
        rp_processed_free(p);
        return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    }
    for (size_t ki = 0; ki < lp_pkernel_count(); ki++) {
        const lp_pkernel *k = lp_pkernel_at(ki);
        if (!rp_list_match(o->kernels, k->name)) continue;
        const lp_format fmts[2] = {LP_F32, LP_BF16};
        for (size_t pi = 0; pi < NPSETS; pi++)
            for (int f = 0; f < 2; f++) {
                if (!lp_pkernel_accepts(k, fmts[f])) continue;
                pcell *c = &p->c[p->n++];
                c->k = k;
                c->fmt = fmts[f];
                c->ps = &psets[pi];
            }
    }
    pjob j = {p, o->seed, NULL, NULL};
    j.st = calloc(p->n ? p->n : 1, sizeof *j.st);
    j.errs = calloc(p->n ? p->n : 1, sizeof *j.errs);
    lp_status s = j.st && j.errs ? rp_parallel(o->threads, p->n, cell_job, &j, err)
                                 : lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    for (size_t i = 0; i < p->n && s == LP_OK; i++)   /* the first failing cell, in cell order */
        if (j.st[i] != LP_OK) {
            *err = j.errs[i];
            s = j.st[i];
        }
    free(j.st);
    free(j.errs);
    if (s != LP_OK) {
        rp_processed_free(p);
        return s;
    }
    *out = p;
    return LP_OK;
}

/* ---- output ----------------------------------------------------------------------------------- */

static void pct(char *b, size_t n, int64_t k, int64_t of)
{
    if (of == 0) snprintf(b, n, "-");
    else snprintf(b, n, "%lld (%.3g%%)", (long long)k, 100.0 * (double)k / (double)of);
}

static const pcell *find(const rp_processed *p, const char *kernel, lp_format f, const char *set)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->c[i].k->name, kernel) == 0 && p->c[i].fmt == f &&
            strcmp(p->c[i].ps->name, set) == 0)
            return &p->c[i];
    return NULL;
}

static void prose(rp_buf *b, const rp_processed *p)
{
    /* the facts the table shows, read from it */
    int64_t proved_tok = 0, proved_over = 0;
    double proved_ratio = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->c[i].proved) {
            proved_tok += p->c[i].nnum;
            proved_over += p->c[i].over;
            if (p->c[i].worst_ratio > proved_ratio) proved_ratio = p->c[i].worst_ratio;
        }
    rp_printf(b, "- Proved cells (no filter, or top_k alone at temperature 1 without softcap): "
                 "%lld tokens held to `lp_pkernel_promise_row`'s bound, %lld over it; the worst "
                 "error reached %.3g of the bound.\n", (long long)proved_tok,
              (long long)proved_over, proved_ratio);
    static const char *const topp[] = {"top_p 0.8", "top_p 0.9", "top_p 0.95"};
    for (int f = 0; f < 2; f++) {
        const lp_format fm = f ? LP_BF16 : LP_F32;
        for (size_t ki = 0; ki < lp_pkernel_count(); ki++) {
            const lp_pkernel *k = lp_pkernel_at(ki);
            int64_t rows = 0, diff = 0;
            for (int j = 0; j < 3; j++) {
                const pcell *c = find(p, k->name, fm, topp[j]);
                if (!c) continue;
                rows += c->rows;
                diff += c->rows_diff;
            }
            if (!rows) continue;
            rp_printf(b, "- `%s` on %s logits, top_p 0.8/0.9/0.95: %lld of %lld rows (%.3g%%) "
                         "keep another set than SPEC A7's exact rule.\n", k->name,
                      lp_format_name(fm), (long long)diff, (long long)rows,
                      100.0 * (double)diff / (double)rows);
        }
    }
    const pcell *ti = find(p, "sampled_f32", LP_F32, "top_p 0.9, ties");
    if (ti)
        rp_printf(b, "- top_p 0.9 on rows with ties (sampled_f32, f32 logits on a grid of 1/4): "
                     "%lld of %lld rows differ, %lld tokens dropped that the exact rule keeps "
                     "(%.3g%% of its kept tokens): of a group of values tied at the boundary, "
                     "SPEC A7 keeps all (it counts the mass strictly above), the sort-and-cumsum "
                     "rule only those sorted after the cut.\n", (long long)ti->rows_diff,
                  (long long)ti->rows, (long long)ti->kdrop,
                  ti->exact_kept ? 100.0 * (double)ti->kdrop / (double)ti->exact_kept : 0.0);
    const pcell *p1 = find(p, "sampled_f32", LP_F32, "top_p 1");
    if (p1)
        rp_printf(b, "- top_p 1 over logits of +-100 (sampled_f32): %lld of %lld rows differ, "
                     "%lld tokens dropped (%.3g%% of the exact kept set): a token whose f32 "
                     "probability underflows to 0 has cumsum <= 1 - p = 0 and is dropped, while "
                     "p = 1 keeps every token exactly (an engine that skips top-p when every "
                     "request has p = 1 avoids it only in such batches).\n",
                  (long long)p1->rows_diff, (long long)p1->rows, (long long)p1->kdrop,
                  p1->exact_kept ? 100.0 * (double)p1->kdrop / (double)p1->exact_kept : 0.0);
    const pcell *tk = find(p, "sampled_f32", LP_F32, "top_k 50, ties, tau 0.7");
    if (tk)
        rp_printf(b, "- top_k with ties after a rounded temperature (sampled_f32, f32 logits, "
                     "tau 0.7): %lld of %lld rows differ; rounding x / tau can only merge values, "
                     "so the kernel keeps a superset (%lld tokens kept that the exact rule drops, "
                     "%lld the reverse).\n", (long long)tk->rows_diff, (long long)tk->rows,
                  (long long)tk->kkeep, (long long)tk->kdrop);
    for (int j = 0; j < 2; j++) {
        const char *set = j ? "softcap 50" : "softcap 30";
        const pcell *f32 = find(p, "sampled_f32", LP_F32, set);
        const pcell *b16 = find(p, "sampled_bf16", LP_BF16, set);
        if (f32 && b16)
            rp_printf(b, "- %s over logits of +-100 (no filter: the kept set is every token): "
                         "max %.3g ulp (p99 %.3g) for sampled_f32, %.3g ulp (p99 %.3g) for "
                         "sampled_bf16, %s.\n", set, f32->max_ulp, f32->p99, b16->max_ulp,
                      b16->p99, f32->over || b16->over ? "OVER their proved bounds"
                                                       : "both within their proved bounds");
    }
    const pcell *sk = find(p, "sampled_bf16", LP_BF16, "softcap 30, top_k 50");
    if (sk)
        rp_printf(b, "- softcap 30 then top_k 50 in bf16 (sampled_bf16): %lld of %lld rows differ, "
                     "%lld tokens kept that the exact rule drops (%.3g%% of its kept tokens), and "
                     "%lld of %lld sampled tokens (%.3g%%) are ones the exact rule gives -inf: the "
                     "bf16 softcap maps distinct logits near +-c to one value, so the k-th value "
                     "is shared by more tokens than in exact arithmetic.\n",
                  (long long)sk->rows_diff, (long long)sk->rows, (long long)sk->kkeep,
                  sk->exact_kept ? 100.0 * (double)sk->kkeep / (double)sk->exact_kept : 0.0,
                  (long long)sk->sampled_drop, (long long)sk->sampled,
                  sk->sampled ? 100.0 * (double)sk->sampled_drop / (double)sk->sampled : 0.0);
    int64_t other = 0;
    for (size_t i = 0; i < p->n; i++) other += p->c[i].other;
    rp_printf(b, "- Class mismatches that a kept-set difference does not explain (NaN, a -inf in a "
                 "row whose kept sets agree): %lld.\n", (long long)other);
    rp_printf(b, "- Where a kept set differs, the label's processed log-prob is off by the log of "
                 "the two sets' mass ratio, not by rounding: those tokens are left out of the ulp "
                 "columns; their largest absolute error is the last column.\n");
}

void rp_processed_markdown(rp_buf *b, const rp_report *r)
{
    const rp_processed *p = r->pk;
    if (!p || !p->n) return;
    rp_printf(b, "\n## Processed log-probs (sampling semantics)\n\n"
                 "The kernels of `impl/processed.c` compute SPEC A7's processed log-prob (softcap, "
                 "temperature, top_k, top_p, min_p, then the log-softmax over the kept set) the way "
                 "engines' samplers do: `sampled_f32` as vLLM (f32, ascending sort, cumulative sum, "
                 "drop where it is <= 1 - p), `sampled_f32_desc` as SGLang's torch-native sampler "
                 "(descending, drop where cumsum - p_i > p), `sampled_bf16` the first with every "
                 "processed value, probability and sum held in bf16. Rows of V = %lld logits "
                 "(generated from the seed: `lm`, language-model-like; `ties`, the same on a grid "
                 "of 1/4; `wide`, U(-100, 100)), %lld rows per cell. A **kept-set disagreement** "
                 "is a token one side keeps and the other drops (its processed log-prob -inf on "
                 "one side, finite on the other): every token of every row is compared with the "
                 "exact kept set (`lp_ref_kept`), and the counts are given as a share of the exact "
                 "kept tokens. They are counted apart from the ulp figures, which are over the "
                 "scored tokens (the 4 ranks around the kernel's kept-set boundary and one token "
                 "drawn from the kernel's processed distribution) of the rows whose kept sets "
                 "agree, against the exact reference. `proved`: the kept set is "
                 "provably exact and every token was held to the contract of `impl/processed.c` "
                 "(worst error / bound shown). The max ulp column is set by the tokens with logp "
                 "closest to 0, where the ulp is tiny (see \"logp close to 0\"); p50 and p99 say "
                 "what is typical.\n\n", (long long)p->V, (long long)p->rows);
    prose(b, p);
    rp_printf(b, "\n| kernel | logits | parameters | rows | rows with another kept set | tokens "
                 "dropped here, kept exact | tokens kept here, dropped exact | sampled tokens the "
                 "exact rule drops | max ulp | p50 | p99 | max abs | contract | max abs, other "
                 "kept set |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                 "| ---: | ---: | --- | ---: |\n");
    for (size_t i = 0; i < p->n; i++) {
        const pcell *c = &p->c[i];
        char rd[40], kd[40], kk[40], sd[40], con[48], da[24], u[3][24], ab[24];
        pct(rd, sizeof rd, c->rows_diff, c->rows);
        pct(kd, sizeof kd, c->kdrop, c->exact_kept);
        pct(kk, sizeof kk, c->kkeep, c->exact_kept);
        pct(sd, sizeof sd, c->sampled_drop, c->sampled);
        if (c->proved) snprintf(con, sizeof con, "proved, %.3g%s", c->worst_ratio,
                                c->over ? " FAILED" : "");
        else snprintf(con, sizeof con, "measured");
        if (c->rows_diff) snprintf(da, sizeof da, "%.3g", c->diff_abs);
        else snprintf(da, sizeof da, "-");
        const double uv[3] = {c->max_ulp, c->p50, c->p99};
        for (int j = 0; j < 3; j++) {
            if (c->nnum) snprintf(u[j], sizeof u[j], "%.4g", uv[j]);
            else snprintf(u[j], sizeof u[j], "-");
        }
        if (c->nnum) snprintf(ab, sizeof ab, "%.3g", c->max_abs);
        else snprintf(ab, sizeof ab, "-");
        rp_printf(b, "| %s | %s | %s (%s) | %lld | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                     "|\n", c->k->name, lp_format_name(c->fmt), c->ps->name,
                  kind_names[c->ps->kind], (long long)c->rows, rd, kd, kk, sd, u[0], u[1], u[2], ab,
                  con, da);
    }
}

void rp_processed_json(void *root, const rp_report *r)
{
    const rp_processed *p = r->pk;
    if (!p || !p->n) return;
    cJSON *o = cJSON_AddObjectToObject((cJSON *)root, "processed");
    cJSON_AddItemToObject(o, "V", rp_json_count((int64_t)(p->V)));
    cJSON_AddItemToObject(o, "rows_per_cell", rp_json_count((int64_t)(p->rows)));
    cJSON *a = cJSON_AddArrayToObject(o, "cells");
    for (size_t i = 0; i < p->n; i++) {
        const pcell *c = &p->c[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "kernel", c->k->name);
        cJSON_AddStringToObject(e, "logits", lp_format_name(c->fmt));
        cJSON_AddStringToObject(e, "parameters", c->ps->name);
        cJSON_AddStringToObject(e, "rows_kind", kind_names[c->ps->kind]);
        cJSON_AddItemToObject(e, "rows", rp_json_count((int64_t)(c->rows)));
        cJSON_AddItemToObject(e, "tokens", rp_json_count((int64_t)(c->tokens)));
        cJSON_AddItemToObject(e, "rows_kept_set_differs", rp_json_count((int64_t)(c->rows_diff)));
        cJSON_AddItemToObject(e, "tokens_kernel_neginf_exact_finite", rp_json_count((int64_t)(c->kdrop)));
        cJSON_AddItemToObject(e, "tokens_kernel_finite_exact_neginf", rp_json_count((int64_t)(c->kkeep)));
        cJSON_AddItemToObject(e, "other_class_mismatches", rp_json_count((int64_t)(c->other)));
        cJSON_AddItemToObject(e, "sampled", rp_json_count((int64_t)(c->sampled)));
        cJSON_AddItemToObject(e, "sampled_exact_neginf", rp_json_count((int64_t)(c->sampled_drop)));
        cJSON_AddItemToObject(e, "numbers", rp_json_count((int64_t)(c->nnum)));
        cJSON_AddItemToObject(e, "max_ulp", rp_json_fig(c->max_ulp));
        cJSON_AddItemToObject(e, "p50_ulp", rp_json_fig(c->p50));
        cJSON_AddItemToObject(e, "p99_ulp", rp_json_fig(c->p99));
        cJSON_AddItemToObject(e, "max_abs", rp_json_fig(c->max_abs));
        cJSON_AddItemToObject(e, "max_abs_other_kept_set", rp_json_fig(c->diff_abs));
        cJSON_AddBoolToObject(e, "proved", c->proved);
        if (c->proved) {
            cJSON_AddItemToObject(e, "worst_error_over_bound", rp_json_fig(c->worst_ratio));
            cJSON_AddItemToObject(e, "over_bound", rp_json_count((int64_t)(c->over)));
        }
        cJSON_AddItemToArray(a, e);
    }
}
