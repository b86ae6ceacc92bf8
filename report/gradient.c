/* report/gradient.c: the report's section on the backward kernels (impl/lp_grad.h, impl/grad.c):
 * every kernel x logits format it accepts x reduction (token, sum, mean, token_mean) judged by
 * `lpcert check --grad`'s engine (check/grad.c, lp_grad_check_*), and the label element's error
 * against 1 - p_y.
 *
 * CASES  Generated from the report's seed (deterministic), in every logits format, V = 256 (64
 * with --quick): "peaked" (one row per k = 1 .. 12: every logit 0 but the label's, log(V - 1) +
 * k ln 10 rounded to the format, so 1 - p_y is about 10^-k), "random" (B = 4, T = 16, shift next,
 * N(0, 1) logits times 1, 4 or 16 per row, one label in 8 ignored, one mask byte in 4 zero),
 * "ties" (every logit of a row equal), "masked" (a third of the vocabulary at -inf, one row with
 * the label at -inf, one row with every logit -inf), "tempered" (N(0, 4), temperature 0.7).
 * MEASURES  Per cell (kernel, logits format, reduction), one group of lp_grad_check over the five
 * cases: max and p99 ulp (SPEC A4, in the kernel's output format), max row_rel (|err| / max_j |g_j|
 * over the row, A8's conditioning-aware measure), max scale_rel (|err| tau / w), the share of
 * elements correctly rounded, class mismatches and NaN leaks, and check's default verdict.
 * LABEL ELEMENT  For each kernel on logits of its storage format: rows of V logits 0 but the
 * label's, log(V - 1) + k ln 10 for k = 1, 1.25, .. 12 (rounded to the format), token reduction,
 * tau 1: the relative error |g_y_hat - g_y| / g_y of the label element against the exact
 * g_y = 1 - p_y (lp_grad_row). A kernel that computes 1 - p_y from a rounded p_y loses every digit
 * (relative error 1: g_y_hat = 0) once 1 - p_y falls below the resolution of p_y's format near 1.
 * Everything written is a function of the options (seed, --quick, --kernels) only. */
#include <cjson/cJSON.h>
#include <math.h>

#include "lp_format.h"
#include "lp_grad.h"
#include "lp_report.h"
#include "lp_rng.h"
#include "lpcert_check.h"

#define NCASES 5
#define NRED 4
#define NLPTS 45   /* k = 1, 1.25, .., 12 */

static const char *const case_names[NCASES] = {"peaked", "random", "ties", "masked", "tempered"};

typedef struct gcase {         /* one generated problem in one logits format */
    lp_problem pb;
    void *logits;
    int64_t *labels;
    uint8_t *mask;
} gcase;

typedef struct gcell {
    const lp_gkernel *k;
    lp_format fmt;
    lp_reduction red;
    lp_grad_check_group g;     /* g.cls is not kept (it dies with the check) */
} gcell;

typedef struct glabel {        /* the label element's error against 1 - p_y, one kernel */
    const lp_gkernel *k;
    int n;
    double x[NLPTS], rel[NLPTS];
} glabel;

struct rp_gradient {
    int64_t V;
    gcase cs[LP_NFORMATS][NCASES];
    gcell *c;
    size_t n;
    glabel *lb;
    size_t nlb;
};

static void gcase_free(gcase *c)
{
    free(c->logits);
    free(c->labels);
    free(c->mask);
    memset(c, 0, sizeof *c);
}

void rp_gradient_free(rp_gradient *p)
{
    if (!p) return;
    for (int f = 0; f < LP_NFORMATS; f++)
        for (int i = 0; i < NCASES; i++) gcase_free(&p->cs[f][i]);
    free(p->c);
    free(p->lb);
    free(p);
}

/* ---- cases ------------------------------------------------------------------------------------ */

static lp_status gcase_alloc(gcase *c, lp_format fmt, int64_t B, int64_t T, int64_t V,
                             lp_error *err)
{
    const lp_problem init = LP_PROBLEM_INIT;
    c->pb = init;
    c->pb.shape = (lp_shape){B, T, V};
    c->pb.fmt = fmt;
    c->logits = calloc((size_t)(B * T * V), (size_t)lp_format_get(fmt)->bytes);
    c->labels = calloc((size_t)(B * T), sizeof *c->labels);
    c->mask = malloc((size_t)(B * T));
    if (!c->logits || !c->labels || !c->mask) return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    memset(c->mask, 1, (size_t)(B * T));
    c->pb.logits = c->logits;
    c->pb.labels = c->labels;
    c->pb.mask = c->mask;
    return LP_OK;
}

static lp_status gcase_build(gcase *c, int kind, lp_format fmt, int64_t V, uint64_t seed,
                             lp_error *err)
{
    static const int64_t Bs[NCASES] = {1, 4, 1, 2, 2}, Ts[NCASES] = {12, 16, 4, 8, 8};
    const int64_t B = Bs[kind], T = Ts[kind];
    lp_status s = gcase_alloc(c, fmt, B, T, V, err);
    if (s != LP_OK) return s;
    lp_rng rng;
    lp_rng_init(&rng, seed * 0x9e3779b97f4a7c15u + (uint64_t)kind * 8 + (uint64_t)fmt);
    c->pb.shift = kind == 0 || kind == 2 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    if (kind == 4) c->pb.temperature = 0.7;
    for (int64_t r = 0; r < B * T; r++) {
        const size_t o = (size_t)(r * V);
        int64_t y = (int64_t)lp_rng_below(&rng, (uint64_t)V);
        static const double scales[3] = {1, 4, 16};
        const double sc = scales[lp_rng_below(&rng, 3)];
        for (int64_t i = 0; i < V; i++) {
            double x = 0;
            switch (kind) {
            case 0: x = i == y ? log((double)(V - 1)) + (double)(r + 1) * log(10.0) : 0.0; break;
            case 1: x = sc * lp_rng_normal(&rng); break;
            case 2: x = 0.25 * (double)r; break;
            case 3: x = lp_rng_below(&rng, 3) == 0 ? -HUGE_VAL : 3 * lp_rng_normal(&rng); break;
            default: x = 4 * lp_rng_normal(&rng); break;
            }
            lp_store_f64(c->logits, fmt, o + (size_t)i, x);
        }
        if (kind == 3 && r == 1) {   /* the label at -inf, the rest finite */
            for (int64_t i = 0; i < V; i++)
                if (i != y) lp_store_f64(c->logits, fmt, o + (size_t)i, lp_rng_normal(&rng));
            lp_store_f64(c->logits, fmt, o + (size_t)y, -HUGE_VAL);
        }
        if (kind == 3 && r == 4)     /* no finite logit: a special row */
            for (int64_t i = 0; i < V; i++) lp_store_f64(c->logits, fmt, o + (size_t)i, -HUGE_VAL);
        if (kind == 1 && lp_rng_below(&rng, 8) == 0) y = -100;
        if (kind == 1 && lp_rng_below(&rng, 4) == 0) c->mask[r] = 0;
        /* row r scores labels[r] (shift none) or labels[r + 1] (shift next, same sequence) */
        if (c->pb.shift == LP_SHIFT_NONE) c->labels[r] = y;
        else if ((r + 1) % T != 0) c->labels[r + 1] = y;
    }
    return LP_OK;
}

/* ---- cells ------------------------------------------------------------------------------------ */

typedef struct sink_ctx {
    void *buf;
    lp_format out;
} sink_ctx;

/* Rows come in row-major order, every row: each is stored after the previous one. */
static int to_buf(void *user, int64_t b, int64_t t, const double *g, int64_t V, lp_error *err)
{
    (void)b;
    (void)t;
    (void)err;
    sink_ctx *sc = user;
    for (int64_t i = 0; i < V; i++) lp_store_f64(sc->buf, sc->out, (size_t)i, g[i]);
    sc->buf = (char *)sc->buf + (size_t)V * (size_t)lp_format_get(sc->out)->bytes;
    return 0;
}

typedef struct gjob {
    rp_gradient *p;
    lp_status *st;
    lp_error *errs;
} gjob;

static lp_status run_cell(gcell *c, const rp_gradient *p, lp_error *err)
{
    lp_grad_check_options opt = LP_GRAD_CHECK_OPTIONS_INIT;
    opt.reduction = c->red;
    opt.threads = 1;
    lp_grad_check *ck = NULL;
    lp_status s = lp_grad_check_new(&ck, &opt, err);
    void *buf = NULL;
    for (int i = 0; i < NCASES && s == LP_OK; i++) {
        const lp_problem *pb = &p->cs[c->fmt][i].pb;
        const int64_t n = pb->shape.B * pb->shape.T * pb->shape.V;
        free(buf);
        buf = malloc((size_t)n * (size_t)lp_format_get(c->k->out)->bytes);
        if (!buf) {
            s = lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
            break;
        }
        sink_ctx sc = {buf, c->k->out};
        s = lp_gkernel_run(c->k, pb, c->red, to_buf, &sc, err);
        if (s == LP_OK) s = lp_grad_check_problem(ck, case_names[i], "all", pb, c->k->out, buf, err);
    }
    free(buf);
    if (s == LP_OK && lp_grad_check_group_count(ck) != 1)
        s = lp_fail(err, LP_ERR_INTERNAL, "report: gradient check: %zu groups",
                    lp_grad_check_group_count(ck));
    if (s == LP_OK) s = lp_grad_check_group_get(ck, 0, &c->g, err);
    c->g.cls = NULL;
    lp_grad_check_free(ck);
    return s;
}

static void cell_job(void *ctx, size_t i)
{
    gjob *j = ctx;
    j->errs[i].status = LP_OK;
    j->errs[i].msg[0] = 0;
    j->st[i] = run_cell(&j->p->c[i], j->p, &j->errs[i]);
}

/* ---- the label element ------------------------------------------------------------------------ */

static lp_status run_label(glabel *l, int64_t V, lp_error *err)
{
    const lp_format fmt = l->k->storage;
    const int64_t y = 7 % V;
    void *row = calloc((size_t)V, 8);
    double *g = malloc((size_t)V * sizeof *g);
    lp_value *ref = malloc((size_t)V * sizeof *ref);
    lp_status s = row && g && ref ? LP_OK : lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    l->n = 0;
    for (int j = 0; j < NLPTS && s == LP_OK; j++) {
        const double k = 1 + 0.25 * j;
        for (int64_t i = 0; i < V; i++)
            lp_store_f64(row, fmt, (size_t)i, i == y ? log((double)(V - 1)) + k * log(10.0) : 0.0);
        s = lp_grad_row(ref, row, fmt, V, y, 1.0, NULL, 1, err);
        if (s == LP_OK) s = lp_gkernel_row(g, l->k, row, fmt, V, y, 1.0, 1, err);
        if (s != LP_OK) break;
        const double x = ref[y].dd.hi;
        l->x[l->n] = x;
        l->rel[l->n++] = fabs((g[y] - x) - ref[y].dd.lo) / x;
    }
    free(row);
    free(g);
    free(ref);
    return s;
}

lp_status rp_gradient_run(rp_gradient **out, const rp_options *o, lp_error *err)
{
    *out = NULL;
    rp_gradient *p = calloc(1, sizeof *p);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    p->V = o->quick ? 64 : 256;
    lp_status s = LP_OK;
    for (int f = 0; f < LP_NFORMATS && s == LP_OK; f++)
        for (int i = 0; i < NCASES && s == LP_OK; i++)
            s = gcase_build(&p->cs[f][i], i, (lp_format)f, p->V, o->seed, err);
    const size_t nk = lp_gkernel_count();
    p->c = calloc(nk * LP_NFORMATS * NRED + 1, sizeof *p->c);
    p->lb = calloc(nk + 1, sizeof *p->lb);
    if (s == LP_OK && (!p->c || !p->lb)) s = lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
    /* logits formats in a fixed order */
    static const lp_format order[LP_NFORMATS] = {LP_F64, LP_F32, LP_BF16, LP_F16};
    for (size_t ki = 0; ki < nk && s == LP_OK; ki++) {
        const lp_gkernel *k = lp_gkernel_at(ki);
        if (!rp_list_match(o->kernels, k->name)) continue;
        p->lb[p->nlb++].k = k;
        for (int f = 0; f < LP_NFORMATS; f++) {
            if (!lp_gkernel_accepts(k, order[f])) continue;
            for (int r = 0; r < NRED; r++) {
                gcell *c = &p->c[p->n++];
                c->k = k;
                c->fmt = order[f];
                c->red = (lp_reduction)r;
            }
        }
    }
    gjob j = {p, NULL, NULL};
    if (s == LP_OK) {
        j.st = calloc(p->n + 1, sizeof *j.st);
        j.errs = calloc(p->n + 1, sizeof *j.errs);
        s = j.st && j.errs ? rp_parallel(o->threads, p->n, cell_job, &j, err)
                           : lp_fail(err, LP_ERR_NOMEM, "report: out of memory");
        for (size_t i = 0; i < p->n && s == LP_OK; i++)   /* the first failing cell, in order */
            if (j.st[i] != LP_OK) {
                *err = j.errs[i];
                s = j.st[i];
            }
    }
    free(j.st);
    free(j.errs);
    for (size_t i = 0; i < p->nlb && s == LP_OK; i++) s = run_label(&p->lb[i], p->V, err);
    if (s != LP_OK) {
        rp_gradient_free(p);
        return s;
    }
    *out = p;
    return LP_OK;
}

/* ---- output ----------------------------------------------------------------------------------- */

static double u_of(lp_format f) { return ldexp(1.0, -lp_format_get(f)->prec); }

static double cr_share(const gcell *c)
{
    return c->g.elements ? (double)c->g.correctly_rounded / (double)c->g.elements : 0.0;
}

/* A share as a percentage rounded down to 0.01 % (so "100%" only when every element is). */
static void pct_down(char *t, size_t n, double share)
{
    if (share >= 1) snprintf(t, n, "100%%");
    else snprintf(t, n, "%.2f%%", floor(share * 1e4) / 100);
}

/* The largest 1 - p_y of the sweep where the label element has no correct digit (relative error
 * >= 1/2), or 0 if none; the largest relative error where it keeps one (< 1/2), or -1. */
static double lost_from(const glabel *l)
{
    double x = 0;
    for (int i = 0; i < l->n; i++)
        if (l->rel[i] >= 0.5 && l->x[i] > x) x = l->x[i];
    return x;
}

static double max_rel_kept(const glabel *l)
{
    double m = -1;
    for (int i = 0; i < l->n; i++)
        if (l->rel[i] < 0.5 && l->rel[i] > m) m = l->rel[i];
    return m;
}

static void prose(rp_buf *b, const rp_gradient *p)
{
    if (p->nlb) {
        const glabel *l0 = &p->lb[0];
        rp_printf(b, "- The label element, g_y = 1 - p_y, on rows with 1 - p_y from %.3g down to "
                     "%.3g (token reduction, tau 1, V = %lld):\n", l0->n ? l0->x[0] : 0.0,
                  l0->n ? l0->x[l0->n - 1] : 0.0, (long long)p->V);
    }
    for (size_t i = 0; i < p->nlb; i++) {
        const glabel *l = &p->lb[i];
        const double lost = lost_from(l), kept = max_rel_kept(l), u = u_of(l->k->out);
        rp_printf(b, "  - `%s` (%s logits, %s gradient): ", l->k->name,
                  lp_format_name(l->k->storage), lp_format_name(l->k->out));
        if (lost > 0)
            rp_printf(b, "no correct digit (relative error >= 1/2, %s) from 1 - p_y = %.3g down",
                      l->rel[l->n - 1] == 1.0 ? "the element returned as 0" : "or more", lost);
        else
            rp_printf(b, "a correct leading digit at every point");
        if (kept >= 0)
            rp_printf(b, "%srelative error at most %.3g (%.3g u of %s)%s.\n",
                      lost > 0 ? "; " : ", ", kept, kept / u, lp_format_name(l->k->out),
                      lost > 0 ? " where a digit is left" : "");
        else
            rp_printf(b, ".\n");
    }
    if (p->nlb) {
        const double ua = u_of(LP_F32), vt = (double)(p->V - 1) * ua;
        rp_printf(b, "- The plain kernels (`softmax`) form p_y = e_y / S and then 1 - p_y: the label "
                     "element has no correct digit once 1 - p_y is below the resolution of p_y near "
                     "1, and with the sum S accumulated in f32 in index order even earlier: each "
                     "other term exp(x_i - m) = (1 - p_y) / (V - 1) falls below half an ulp of the "
                     "running sum (2^-24 = %.3g) and is lost, at 1 - p_y about (V - 1) 2^-24 = %.3g "
                     "for V = %lld. The bug class (`pbf16`) rounds p_y to bf16 first and returns 0 "
                     "from 1 - p_y about 2^-9 = %.3g. The accurate kernels form the label element as "
                     "the sum of the other probabilities and keep it within about u of their output "
                     "format at every point (figure below).\n", ua, vt, (long long)p->V,
                  ldexp(1.0, -9));
    }
    for (size_t ki = 0; ki < lp_gkernel_count(); ki++) {
        const lp_gkernel *k = lp_gkernel_at(ki);
        double mu = -1, mr = 0, ms = 0, cr = 1;
        int64_t cm = 0, leaks = 0, failed = 0, cells = 0;
        for (size_t i = 0; i < p->n; i++) {
            const gcell *c = &p->c[i];
            if (c->k != k) continue;
            cells++;
            if (c->g.m[0].n && c->g.m[0].max > mu) mu = c->g.m[0].max;
            if (c->g.m[3].n && c->g.m[3].max > mr) mr = c->g.m[3].max;
            if (c->g.m[4].n && c->g.m[4].max > ms) ms = c->g.m[4].max;
            if (cr_share(c) < cr) cr = cr_share(c);
            cm += c->g.class_mismatches;
            leaks += c->g.nan_leaks;
            failed += c->g.failed != 0;
        }
        if (!cells) continue;
        char crt[96];
        if (cr >= 1) snprintf(crt, sizeof crt, "every element correctly rounded");
        else {
            char t[24];
            pct_down(t, sizeof t, cr);
            snprintf(crt, sizeof crt, "at least %s of the elements correctly rounded in every cell",
                     t);
        }
        rp_printf(b, "- `%s`%s, over its %lld cells: max %.4g ulp, max row_rel %.3g, max scale_rel "
                     "%.3g (%.3g u of %s); %s; %lld class mismatches, %lld NaN leaks; check's "
                     "default bound %s.\n",
                  k->name, k->known_bug ? " (the known bug class)" : "", (long long)cells, mu, mr,
                  ms, ms / u_of(k->out), lp_format_name(k->out), crt, (long long)cm,
                  (long long)leaks,
                  failed ? "fails in some cells" : "holds in every cell");
    }
}

void rp_gradient_markdown(rp_buf *b, const rp_report *r)
{
    const rp_gradient *p = r->gr;
    if (!p || !p->n) return;
    rp_printf(b, "\n## Gradients (backward kernels)\n\n"
                 "The backward kernels of `impl/grad.c` (`lpcert kernels`; SPEC A8) compute the "
                 "gradient of a reduction of the counted tokens' logp with respect to the stored "
                 "logits, `g_i = w (delta_iy - p_i) / tau`. Each kernel, on every logits format it "
                 "reads and for every reduction, is judged by `lpcert check --grad`'s engine "
                 "against the exact gradient (correctly rounded per element) on five generated "
                 "cases in that format (V = %lld, from the seed): `peaked` (1 - p_y about 10^-k, "
                 "k = 1 .. 12), `random` (N(0, 1) logits times 1, 4 or 16, ignored labels, mask "
                 "zeros), `ties` (equal logits), `masked` (a third of the vocabulary at -inf, a label "
                 "at -inf, a row with no finite logit) and `tempered` (tau 0.7). Measures (SPEC A4 "
                 "and A8, in the kernel's output format): ulp; row_rel = |err| / max_j |g_j| over "
                 "the row; scale_rel = |err| tau / w, in units of the largest possible |g_i|; "
                 "`default bound`: check's verdict with no bound given (max scale_rel <= max(4 x the "
                 "plain softmax kernel's, 2 u)).\n\n", (long long)p->V);
    prose(b, p);
    rp_printf(b, "\n| kernel | logits | reduction | elements | max ulp | p99 ulp | max row_rel | "
                 "max scale_rel | correctly rounded | class mismatches | NaN leaks | default bound "
                 "|\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                 "--- |\n");
    for (size_t i = 0; i < p->n; i++) {
        const gcell *c = &p->c[i];
        char mu[24] = "-", pu[24] = "-", mr[24] = "-", ms[24] = "-";
        if (c->g.m[0].n) {
            snprintf(mu, sizeof mu, "%.4g", c->g.m[0].max);
            snprintf(pu, sizeof pu, "%.4g", c->g.m[0].p99);
        }
        if (c->g.m[3].n) snprintf(mr, sizeof mr, "%.3g", c->g.m[3].max);
        if (c->g.m[4].n) snprintf(ms, sizeof ms, "%.3g", c->g.m[4].max);
        char crt[24];
        pct_down(crt, sizeof crt, cr_share(c));
        rp_printf(b, "| %s%s | %s | %s | %lld | %s | %s | %s | %s | %s | %lld | %lld | %s |\n",
                  c->k->name, c->k->known_bug ? " (bug)" : "", lp_format_name(c->fmt),
                  lp_reduction_name(c->red), (long long)c->g.elements, mu, pu, mr, ms, crt,
                  (long long)c->g.class_mismatches,
                  (long long)c->g.nan_leaks, c->g.failed ? "FAILS" : "holds");
    }
    rp_printf(b, "\n![label element error against 1 - p_y](figures/grad_label.svg)\n");
}

void rp_gradient_json(void *root, const rp_report *r)
{
    const rp_gradient *p = r->gr;
    if (!p || !p->n) return;
    static const char *const mnames[LP_GRAD_NMEASURES] = {"ulp", "abs", "rel", "row_rel",
                                                          "scale_rel"};
    cJSON *o = cJSON_AddObjectToObject((cJSON *)root, "gradients");
    cJSON_AddItemToObject(o, "V", rp_json_count((int64_t)(p->V)));
    cJSON *ca = cJSON_AddArrayToObject(o, "cases");
    for (int i = 0; i < NCASES; i++) cJSON_AddItemToArray(ca, cJSON_CreateString(case_names[i]));
    cJSON *a = cJSON_AddArrayToObject(o, "cells");
    for (size_t i = 0; i < p->n; i++) {
        const gcell *c = &p->c[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "kernel", c->k->name);
        cJSON_AddBoolToObject(e, "known_bug", c->k->known_bug);
        cJSON_AddStringToObject(e, "logits", lp_format_name(c->fmt));
        cJSON_AddStringToObject(e, "output", lp_format_name(c->k->out));
        cJSON_AddStringToObject(e, "reduction", lp_reduction_name(c->red));
        cJSON_AddItemToObject(e, "rows", rp_json_count((int64_t)(c->g.rows)));
        cJSON_AddItemToObject(e, "counted_rows", rp_json_count((int64_t)(c->g.counted_rows)));
        cJSON_AddItemToObject(e, "elements", rp_json_count((int64_t)(c->g.elements)));
        cJSON_AddItemToObject(e, "correctly_rounded", rp_json_count((int64_t)(c->g.correctly_rounded)));
        cJSON_AddItemToObject(e, "class_mismatches", rp_json_count((int64_t)(c->g.class_mismatches)));
        cJSON_AddItemToObject(e, "nan_leaks", rp_json_count((int64_t)(c->g.nan_leaks)));
        cJSON_AddItemToObject(e, "empty_nonzero", rp_json_count((int64_t)(c->g.empty_nonzero)));
        for (int m = 0; m < LP_GRAD_NMEASURES; m++) {
            cJSON *me = cJSON_AddObjectToObject(e, mnames[m]);
            cJSON_AddItemToObject(me, "n", rp_json_count((int64_t)(c->g.m[m].n)));
            if (!c->g.m[m].n) continue;
            cJSON_AddItemToObject(me, "max", rp_json_fig(c->g.m[m].max));
            cJSON_AddItemToObject(me, "p50", rp_json_fig(c->g.m[m].p50));
            cJSON_AddItemToObject(me, "p99", rp_json_fig(c->g.m[m].p99));
            cJSON_AddBoolToObject(me, "exact", c->g.m[m].exact);
        }
        cJSON_AddItemToObject(e, "default_bound", rp_json_fig(c->g.default_bound));
        cJSON_AddBoolToObject(e, "failed", c->g.failed);
        cJSON_AddItemToArray(a, e);
    }
    cJSON *la = cJSON_AddArrayToObject(o, "label_element");
    for (size_t i = 0; i < p->nlb; i++) {
        const glabel *l = &p->lb[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "kernel", l->k->name);
        cJSON_AddStringToObject(e, "logits", lp_format_name(l->k->storage));
        cJSON *xs = cJSON_AddArrayToObject(e, "one_minus_p");
        cJSON *rs = cJSON_AddArrayToObject(e, "rel");
        for (int j = 0; j < l->n; j++) {
            cJSON_AddItemToArray(xs, rp_json_fig(l->x[j]));
            cJSON_AddItemToArray(rs, rp_json_fig(l->rel[j]));
        }
        cJSON_AddItemToArray(la, e);
    }
}

lp_status rp_gradient_figure(const rp_report *r, lp_error *err)
{
    const rp_gradient *p = r->gr;
    if (!p || !p->nlb) return LP_OK;
    enum { MAXK = 12 };
    static double ys[MAXK][NLPTS], ux[2], uy[2][2];
    rp_series s[MAXK + 2];
    int ns = 0;
    double xlo = 1, xhi = 0;
    for (size_t i = 0; i < p->nlb && ns < MAXK; i++) {
        const glabel *l = &p->lb[i];
        /* an exact element (relative error 0) is drawn below the axis: an arrow at the bottom */
        for (int j = 0; j < l->n; j++) {
            ys[ns][j] = l->rel[j] > 0 ? l->rel[j] : 1e-19;
            if (l->x[j] < xlo) xlo = l->x[j];
            if (l->x[j] > xhi) xhi = l->x[j];
        }
        s[ns] = (rp_series){l->k->name, ns, ns % 4, ns + 1, l->n, l->x, ys[ns]};
        ns++;
    }
    ux[0] = xlo;
    ux[1] = xhi;
    static const char *const un[2] = {"u of f32 (2^-24)", "u of bf16 (2^-8)"};
    for (int j = 0; j < 2; j++) {
        uy[j][0] = uy[j][1] = j ? u_of(LP_BF16) : u_of(LP_F32);
        s[ns++] = (rp_series){un[j], 7 + j, 1, 0, 2, ux, uy[j]};
    }
    char title[160], path[4300];
    snprintf(title, sizeof title, "Label element: relative error against 1 - p_y (V = %lld)",
             (long long)p->V);
    int zeros = 0;
    for (size_t i = 0; i < p->nlb; i++)
        for (int j = 0; j < p->lb[i].n; j++) zeros += p->lb[i].rel[j] == 0;
    rp_plot pl = {title, "exact 1 - p_y = g_y", "|g_y_hat - g_y| / g_y", 10, 10, 0, 0, 0, 0, s, ns,
                  zeros ? "each kernel on its storage format, token reduction; 1: no correct "
                          "digit; arrows at the bottom: exact (error 0)"
                        : "each kernel on its storage format, token reduction; 1: no correct "
                          "digit (the element is 0)", 10, 1e-18};
    snprintf(path, sizeof path, "%s/figures/grad_label.svg", r->o->out_dir);
    return rp_svg_write(path, &pl, err);
}
