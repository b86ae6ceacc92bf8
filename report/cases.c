/* report/cases.c: the cases of `lpcert report`, in a fixed order:
 *   1. the committed corpus, the vector files of vectors/corpus in name order (families "corpus.<name>"),
 *      read by core/vectors.c; only the inputs are used: the expected values are recomputed by
 *      the reference, which tests/t_vectors.c holds bit for bit to them;
 *   2. the generated families of the standard suite (lp_suite_build, seed --seed);
 *   3. the report's own families: near_zero (label probability 1 - 10^-k, k = 0 .. 40 in steps of
 *      1/4, at several max logits: the regime where logp is close to 0) and pair_exh (every finite
 *      value of f16 and bf16, exhaustively: see rp_exhaustive_domain).
 * --quick keeps a few small families and samples pair_exh (then marked sampled). */
#include <dirent.h>
#include <errno.h>
#include <math.h>

#include "lp_format.h"
#include "lp_report.h"
#include "lp_rng.h"
#include "lp_vectors.h"

const char rp_exhaustive_domain[] =
    "V = 2, logits (0, x) for every finite x of the storage format (f16: 63,488 values, bf16: "
    "65,280), label 0 and label 1";

static const char *const quick_families[] = {
    "normal", "peaked", "all_masked", "nonfinite", "dummy_label", "tiny_vocab", "neginf",
    "corpus.vsmall", "corpus.peaked", "corpus.nonfinite", "corpus.allmasked", "near_zero",
    "pair_exh", NULL};

int rp_list_match(const char *list, const char *name)
{
    if (!list) return 1;
    char buf[256];
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0 && n < sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = 0;
            if (ck_glob_match(buf, name)) return 1;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static int family_selected(const rp_options *o, const char *fam)
{
    if (o->quick) {
        int q = 0;
        for (int i = 0; quick_families[i]; i++) q |= strcmp(quick_families[i], fam) == 0;
        if (!q) return 0;
    }
    return rp_list_match(o->families, fam);
}

static rp_case *case_add(rp_cases *cs, lp_error *err)
{
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? 2 * cs->cap : 256;
        rp_case *v = realloc(cs->v, cap * sizeof *v);
        if (!v) {
            lp_fail(err, LP_ERR_NOMEM, "report: out of memory for the cases");
            return NULL;
        }
        cs->v = v;
        cs->cap = cap;
    }
    rp_case *c = &cs->v[cs->n++];
    memset(c, 0, sizeof *c);
    c->pb = (lp_problem)LP_PROBLEM_INIT;
    return c;
}

static void case_names(rp_case *c, const char *family, const char *name)
{
    snprintf(c->family, sizeof c->family, "%s", family);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->cls, sizeof c->cls, "%s/%s", family, lp_format_name(c->pb.fmt));
}

/* ---- the corpus ------------------------------------------------------------------------------- */

/* One vector file (core/vectors.c): its cases, named "corpus.<name>" in the family
 * "corpus.<family>". */
static lp_status read_corpus_file(rp_cases *cs, const char *path, const rp_options *o,
                                  lp_error *err)
{
    lp_vreader *r = NULL;
    lp_status s = lp_vectors_open(&r, path, err);
    if (s != LP_OK) return s;
    const size_t first = cs->n;
    lp_vcase vc;
    int got = 0;
    while ((s = lp_vectors_next(r, &vc, &got, err)) == LP_OK && got) {
        rp_case *c = case_add(cs, err);
        if (!c) {
            lp_vcase_free(&vc);
            s = err->status;
            break;
        }
        /* the labels as I64 whatever the file's itype (the same values) */
        c->pb = vc.c.pb;
        c->pb.label_type = LP_I64;
        c->pb.labels = vc.c.labels;
        char fam[80], name[140];
        snprintf(fam, sizeof fam, "corpus.%s", vc.c.family);
        snprintf(name, sizeof name, "corpus.%s", vc.c.name);
        case_names(c, fam, name);
        c->own = vc.c;                     /* the arrays move to the report's case */
        memset(&vc.c, 0, sizeof vc.c);
        lp_vcase_free(&vc);
    }
    lp_vectors_close(r);
    /* a file holds one family: keep it or drop it whole */
    if (s == LP_OK && cs->n > first && !family_selected(o, cs->v[first].family)) {
        for (size_t i = first; i < cs->n; i++) lp_case_free(&cs->v[i].own);
        cs->n = first;
    }
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lp_status read_corpus(rp_cases *cs, const rp_options *o, lp_error *err)
{
    DIR *d = opendir(o->corpus);
    if (!d)
        return lp_fail(err, LP_ERR_IO, "%s: cannot open the corpus folder: %s (run from the "
                       "source root, or pass --corpus DIR)", o->corpus, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    lp_status s = LP_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { s = lp_fail(err, LP_ERR_NOMEM, "out of memory"); break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { s = lp_fail(err, LP_ERR_NOMEM, "out of memory"); break; }
        n++;
    }
    closedir(d);
    if (s == LP_OK && n == 0) s = lp_fail(err, LP_ERR_INPUT, "%s: no *.txt vector file", o->corpus);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && s == LP_OK; i++) {
        char path[4096], fam[300];
        snprintf(fam, sizeof fam, "corpus.%.*s", (int)(strlen(names[i]) - 4), names[i]);
        if (!family_selected(o, fam)) continue;   /* the file's family is its name */
        snprintf(path, sizeof path, "%s/%s", o->corpus, names[i]);
        s = read_corpus_file(cs, path, o, err);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return s;
}

/* ---- the generated families ------------------------------------------------------------------- */

static lp_status add_suite(rp_cases *cs, const rp_options *o, lp_error *err)
{
    lp_status s = LP_OK;
    for (size_t f = 0; f < lp_family_count() && s == LP_OK; f++) {
        const char *fam = lp_family_at(f)->name;
        if (!family_selected(o, fam)) continue;
        const size_t first = cs->suite.n;
        s = lp_suite_build(&cs->suite, fam, 0xfu, o->seed, err);
        for (size_t i = first; i < cs->suite.n && s == LP_OK; i++) {
            const lp_case *lc = &cs->suite.v[i];
            rp_case *c = case_add(cs, err);
            if (!c) return err->status;
            c->pb = lc->pb;
            case_names(c, fam, lc->name);
        }
    }
    return s;
}

/* ---- the report's own families ---------------------------------------------------------------- */

static lp_status own_case(rp_cases *cs, rp_case **out, const char *fam, const char *name,
                          lp_format f, lp_shape shp, lp_error *err)
{
    rp_case *c = case_add(cs, err);
    if (!c) return err->status;
    c->pb.fmt = f;
    c->pb.shape = shp;
    c->pb.shift = LP_SHIFT_NONE;
    const size_t rows = (size_t)(shp.B * shp.T);
    c->own.logits = calloc(rows * (size_t)shp.V, (size_t)lp_format_get(f)->bytes);
    c->own.labels = calloc(rows, sizeof *c->own.labels);
    if (!c->own.logits || !c->own.labels) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    c->pb.logits = c->own.logits;
    c->pb.labels = c->own.labels;
    case_names(c, fam, name);
    *out = c;
    return LP_OK;
}

/* Label probability 1 - q with q = 10^-(k/4): the label at the max m, the V-1 others at m - d with
 * (V-1) e^-d = q, jittered by a few quanta so the rows are not all alike. */
static lp_status add_near_zero(rp_cases *cs, const rp_options *o, lp_error *err)
{
    static const double maxes[] = {0.0, 3.0, 17.0, -9.0};
    const int64_t V = 256, K = o->quick ? 41 : 161, R = K * 4;
    for (int f = 0; f < LP_NFORMATS; f++) {
        rp_case *c;
        char name[64];
        snprintf(name, sizeof name, "near_zero/%s/0", lp_format_name((lp_format)f));
        lp_status s = own_case(cs, &c, "near_zero", name, (lp_format)f, (lp_shape){1, R, V}, err);
        if (s != LP_OK) return s;
        lp_rng rng;
        lp_rng_init(&rng, o->seed ^ 0x6e6561727a65726full ^ (uint64_t)f);
        for (int64_t r = 0; r < R; r++) {
            const double k = (double)(r / 4) * (o->quick ? 1.0 : 0.25), m = maxes[r % 4];
            const double d = log((double)(V - 1)) + k * log(10.0);
            const int64_t y = (int64_t)lp_rng_below(&rng, (uint64_t)V);
            for (int64_t i = 0; i < V; i++) {
                double x = m;
                if (i != y) x = m - d - (double)lp_rng_below(&rng, 4) * 0x1p-6 * (d + 1);
                lp_store_f64(c->own.logits, (lp_format)f, (size_t)(r * V + i), x);
            }
            c->own.labels[r] = y;
        }
    }
    return LP_OK;
}

/* Every finite value x of f16 and bf16 in a row (0, x), once with label 0 and once with label 1;
 * one token per sequence, so sums and means are the token itself. */
static lp_status add_pair_exh(rp_cases *cs, const rp_options *o, lp_error *err)
{
    static const lp_format fm[2] = {LP_F16, LP_BF16};
    const unsigned step = o->quick ? 61 : 1;
    for (int j = 0; j < 2; j++) {
        const lp_format f = fm[j];
        int64_t n = 0;
        for (unsigned h = 0; h < 65536; h += step)
            n += isfinite(f == LP_F16 ? lp_f16_to_f64((uint16_t)h) : lp_bf16_to_f64((uint16_t)h));
        rp_case *c;
        char name[64];
        snprintf(name, sizeof name, "pair_exh/%s/0", lp_format_name(f));
        lp_status s = own_case(cs, &c, "pair_exh", name, f, (lp_shape){2 * n, 1, 2}, err);
        if (s != LP_OK) return s;
        c->exhaustive = step == 1;
        uint16_t *lg = c->own.logits;
        int64_t b = 0;
        for (unsigned h = 0; h < 65536; h += step) {
            const double x = f == LP_F16 ? lp_f16_to_f64((uint16_t)h) : lp_bf16_to_f64((uint16_t)h);
            if (!isfinite(x)) continue;
            for (int lab = 0; lab < 2; lab++, b++) {
                lg[2 * b] = 0;
                lg[2 * b + 1] = (uint16_t)h;
                c->own.labels[b] = lab;
            }
        }
    }
    return LP_OK;
}

int rp_family_known(const char *glob, const rp_options *o)
{
    static const char *const own[] = {"near_zero", "pair_exh"};
    for (size_t f = 0; f < lp_family_count(); f++)
        if (ck_glob_match(glob, lp_family_at(f)->name)) return 1;
    for (int i = 0; i < 2; i++)
        if (ck_glob_match(glob, own[i])) return 1;
    DIR *d = opendir(o->corpus);
    if (!d) return 0;
    int hit = 0;
    struct dirent *e;
    while (!hit && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0) continue;
        char fam[300];
        snprintf(fam, sizeof fam, "corpus.%.*s", (int)(l - 4), e->d_name);
        hit = ck_glob_match(glob, fam);
    }
    closedir(d);
    return hit;
}

lp_status rp_cases_build(rp_cases *cs, const rp_options *o, lp_error *err)
{
    memset(cs, 0, sizeof *cs);
    lp_status s = read_corpus(cs, o, err);
    if (s == LP_OK) s = add_suite(cs, o, err);
    if (s == LP_OK && family_selected(o, "near_zero")) s = add_near_zero(cs, o, err);
    if (s == LP_OK && family_selected(o, "pair_exh")) s = add_pair_exh(cs, o, err);
    for (size_t i = 0; i < cs->n && s == LP_OK; i++) {
        const lp_problem *pb = &cs->v[i].pb;
        s = lp_problem_check(pb, err);
        cs->tokens += pb->shape.B * (pb->shift == LP_SHIFT_NEXT ? pb->shape.T - 1 : pb->shape.T);
        cs->logits += pb->shape.B * pb->shape.T * pb->shape.V;
    }
    if (s == LP_OK && cs->n == 0) s = lp_fail(err, LP_ERR_USAGE, "no case selected");
    return s;
}

void rp_cases_free(rp_cases *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        lp_case_free(&cs->v[i].own);
        lp_ref_result_free(&cs->v[i].ref);
    }
    free(cs->v);
    lp_case_list_free(&cs->suite);
    memset(cs, 0, sizeof *cs);
}
