/* report/cases.c: the cases of `lpcert report`, in a fixed order:
 *   1. the committed corpus, the vector files of vectors/corpus in name order (families "corpus.<name>"); only
 *      the inputs are read (vectors/FORMAT.md: case, fmt, shape, shift, ignore_index, temperature,
 *      empty_mean, l, k, x lines): the expected values are recomputed by the reference, which
 *      tests/t_vectors.c holds bit for bit to them;
 *   2. the generated families of the standard suite (lp_suite_build, seed --seed);
 *   3. the report's own families: near_zero (label probability 1 - 10^-k, k = 0 .. 40 in steps of
 *      1/4, at several max logits: the regime where logp is close to 0) and pair_exh (every finite
 *      value of f16 and bf16, exhaustively: see rp_exhaustive_domain).
 * --quick keeps a few small families and samples pair_exh (then marked sampled). */
#include <errno.h>
#include <math.h>

#include "lp_buf.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lp_rng.h"
#include "lp_report.h"

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
    if (!LP_VEC_RESERVE(cs->v, cs->cap, cs->n + 1, 256)) {
        lp_fail(err, LP_ERR_NOMEM, "report: out of memory for the cases");
        return NULL;
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

typedef struct vreader {
    const char *path;
    int64_t line;
    rp_case *c;
    int64_t nl, nk, nx;      /* l, k, x lines read in the current case */
    char family[64];
} vreader;

static lp_status bad(const vreader *r, lp_error *err, const char *what)
{
    return lp_fail(err, LP_ERR_INPUT, "%s:%lld: %s", r->path, (long long)r->line, what);
}

static int hexval(const char **pp, int width, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = *pp;
    while (*p == ' ') p++;
    for (int i = 0; i < width; i++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    *pp = p;
    return 1;
}

static lp_status case_arrays(vreader *r, lp_error *err)
{
    rp_case *c = r->c;
    const lp_shape s = c->pb.shape;
    if (s.B < 1 || s.T < 1 || s.V < 1 || s.B * s.T > ((int64_t)1 << 26) || s.V > ((int64_t)1 << 20))
        return bad(r, err, "shape out of range");
    const size_t rows = (size_t)(s.B * s.T), esz = (size_t)lp_format_get(c->pb.fmt)->bytes;
    c->own_logits = calloc(rows * (size_t)s.V, esz);
    c->own_labels = calloc(rows, sizeof *c->own_labels);
    c->own_mask = calloc(rows, 1);
    if (!c->own_logits || !c->own_labels || !c->own_mask)
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", r->path);
    c->pb.logits = c->own_logits;
    c->pb.labels = c->own_labels;
    c->pb.label_type = LP_I64;
    return LP_OK;
}

static lp_status vline(vreader *r, rp_cases *cs, char *ln, lp_error *err)
{
    char *p = ln;
    size_t kl = strcspn(p, " ");
    const char *v = p[kl] ? p + kl + 1 : p + kl;
    p[kl] = 0;
    const char *key = p;
    if (strcmp(key, "case") == 0) {
        if (r->c) return bad(r, err, "'case' inside a case");
        if (!(r->c = case_add(cs, err))) return err->status;
        snprintf(r->c->name, sizeof r->c->name, "corpus.%s", v);
        r->nl = r->nk = r->nx = 0;
        return LP_OK;
    }
    rp_case *c = r->c;
    if (!c) return bad(r, err, "a line outside a case");
    if (strcmp(key, "family") == 0) {
        snprintf(r->family, sizeof r->family, "corpus.%s", v);
    } else if (strcmp(key, "fmt") == 0) {
        if (!lp_format_parse(&c->pb.fmt, v)) return bad(r, err, "unknown format");
    } else if (strcmp(key, "shape") == 0) {
        long long B, T, V;
        if (sscanf(v, "%lld %lld %lld", &B, &T, &V) != 3) return bad(r, err, "bad shape");
        c->pb.shape = (lp_shape){B, T, V};
        return case_arrays(r, err);
    } else if (strcmp(key, "shift") == 0) {
        c->pb.shift = strcmp(v, "none") == 0 ? LP_SHIFT_NONE : LP_SHIFT_NEXT;
    } else if (strcmp(key, "ignore_index") == 0) {
        if (!lp_parse_int64(&c->pb.ignore_index, v)) return bad(r, err, "bad ignore_index");
    } else if (strcmp(key, "temperature") == 0) {
        uint64_t h;
        if (!hexval(&v, 16, &h)) return bad(r, err, "bad temperature");
        c->pb.temperature = lp_f64_bits(h);
    } else if (strcmp(key, "empty_mean") == 0) {
        c->pb.empty_mean = strcmp(v, "zero") == 0 ? LP_EMPTY_ZERO : LP_EMPTY_NAN;
    } else if (strcmp(key, "l") == 0 || strcmp(key, "k") == 0 || strcmp(key, "x") == 0) {
        if (!c->own_logits) return bad(r, err, "data before 'shape'");
        const lp_shape s = c->pb.shape;
        if (key[0] == 'l') {
            if (r->nl >= s.B) return bad(r, err, "too many 'l' lines");
            char *end = (char *)v;
            for (int64_t t = 0; t < s.T; t++) {
                c->own_labels[r->nl * s.T + t] = strtoll(end, &end, 10);
            }
            r->nl++;
        } else if (key[0] == 'k') {
            if (r->nk >= s.B || (int64_t)strlen(v) != s.T) return bad(r, err, "bad 'k' line");
            for (int64_t t = 0; t < s.T; t++) c->own_mask[r->nk * s.T + t] = v[t] == '1';
            c->pb.mask = c->own_mask;
            r->nk++;
        } else {
            if (r->nx >= s.B * s.T) return bad(r, err, "too many 'x' lines");
            const int w = 2 * lp_format_get(c->pb.fmt)->bytes;
            for (int64_t i = 0; i < s.V; i++) {
                uint64_t h;
                if (!hexval(&v, w, &h)) return bad(r, err, "bad logit");
                const size_t at = (size_t)(r->nx * s.V + i);
                if (w == 16) memcpy((char *)c->own_logits + 8 * at, &h, 8);
                else if (w == 8) { uint32_t h32 = (uint32_t)h; memcpy((char *)c->own_logits + 4 * at, &h32, 4); }
                else { uint16_t h16 = (uint16_t)h; memcpy((char *)c->own_logits + 2 * at, &h16, 2); }
            }
            r->nx++;
        }
    } else if (strcmp(key, "end") == 0) {
        if (!c->own_logits || r->nl != c->pb.shape.B || r->nx != c->pb.shape.B * c->pb.shape.T)
            return bad(r, err, "incomplete case");
        if (!c->pb.mask) {
            free(c->own_mask);
            c->own_mask = NULL;
        }
        char name[128];
        snprintf(name, sizeof name, "%s", c->name);
        case_names(c, r->family, name);
        r->c = NULL;
    }
    /* itype, t, u, s, m: the label storage and the expected values, not needed here */
    return LP_OK;
}

static lp_status read_corpus_file(rp_cases *cs, const char *path, const rp_options *o,
                                  lp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    vreader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    size_t cap = 0;
    char *ln = NULL;
    ssize_t len;
    lp_status s = LP_OK;
    const size_t first = cs->n;
    while (s == LP_OK && (len = getline(&ln, &cap, f)) >= 0) {
        r.line++;
        while (len > 0 && (ln[len - 1] == '\n' || ln[len - 1] == '\r')) ln[--len] = 0;
        if (len == 0 || ln[0] == '#') continue;
        s = vline(&r, cs, ln, err);
    }
    free(ln);
    fclose(f);
    if (s == LP_OK && r.c) s = bad(&r, err, "the last case has no 'end'");
    /* a file holds one family: keep it or drop it whole */
    if (s == LP_OK && cs->n > first && !family_selected(o, cs->v[first].family)) {
        for (size_t i = first; i < cs->n; i++) {
            free(cs->v[i].own_logits);
            free(cs->v[i].own_labels);
            free(cs->v[i].own_mask);
        }
        cs->n = first;
    }
    return s;
}

static lp_status read_corpus(rp_cases *cs, const rp_options *o, lp_error *err)
{
    char **names;
    size_t n;
    lp_status s = lp_dir_list(&names, &n, o->corpus, ".txt", err);
    if (s == LP_ERR_IO)
        return lp_fail(err, LP_ERR_IO, "%s: cannot open the corpus folder: %s (run from the "
                       "source root, or pass --corpus DIR)", o->corpus, strerror(errno));
    if (s != LP_OK) return lp_fail(err, s, "out of memory");
    if (n == 0) s = lp_fail(err, LP_ERR_INPUT, "%s: no *.txt vector file", o->corpus);
    for (size_t i = 0; i < n && s == LP_OK; i++) {
        char path[4096], fam[300];
        snprintf(fam, sizeof fam, "corpus.%.*s", (int)(strlen(names[i]) - 4), names[i]);
        if (!family_selected(o, fam)) continue;   /* the file's family is its name */
        snprintf(path, sizeof path, "%s/%s", o->corpus, names[i]);
        s = read_corpus_file(cs, path, o, err);
    }
    lp_dir_list_free(names, n);
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
    c->own_logits = calloc(rows * (size_t)shp.V, (size_t)lp_format_get(f)->bytes);
    c->own_labels = calloc(rows, sizeof *c->own_labels);
    if (!c->own_logits || !c->own_labels) return lp_fail(err, LP_ERR_NOMEM, "out of memory");
    c->pb.logits = c->own_logits;
    c->pb.labels = c->own_labels;
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
                lp_store_f64(c->own_logits, (lp_format)f, (size_t)(r * V + i), x);
            }
            c->own_labels[r] = y;
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
        uint16_t *lg = c->own_logits;
        int64_t b = 0;
        for (unsigned h = 0; h < 65536; h += step) {
            const double x = f == LP_F16 ? lp_f16_to_f64((uint16_t)h) : lp_bf16_to_f64((uint16_t)h);
            if (!isfinite(x)) continue;
            for (int lab = 0; lab < 2; lab++, b++) {
                lg[2 * b] = 0;
                lg[2 * b + 1] = (uint16_t)h;
                c->own_labels[b] = lab;
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
    char **names;
    size_t n;
    if (lp_dir_list(&names, &n, o->corpus, ".txt", NULL) != LP_OK) return 0;
    int hit = 0;
    for (size_t i = 0; i < n && !hit; i++) {
        char fam[300];
        snprintf(fam, sizeof fam, "corpus.%.*s", (int)(strlen(names[i]) - 4), names[i]);
        hit = ck_glob_match(glob, fam);
    }
    lp_dir_list_free(names, n);
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
        free(cs->v[i].own_logits);
        free(cs->v[i].own_labels);
        free(cs->v[i].own_mask);
        lp_ref_result_free(&cs->v[i].ref);
    }
    free(cs->v);
    lp_case_list_free(&cs->suite);
    memset(cs, 0, sizeof *cs);
}
