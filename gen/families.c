/* gen/families.c: the standard suite's families (see lp_suite.h). Logits are drawn as doubles
 * and stored rounded to the case's format, so a case is exactly what a kernel reading that format
 * sees; labels are int64; every random draw comes from the seeded lp_rng. */
#include <float.h>
#include <math.h>

#include "lp_buf.h"
#include "lp_core.h"
#include "lp_format.h"
#include "lp_rng.h"
#include "lp_suite.h"

static const lp_family_info families[] = {
    {"normal", "random normal logits at scales 1, 4, 16 and 64 (typical rows)"},
    {"peaked", "label probability 1 - 10^-k, k = 1..12, 20, 50, 300: logp close to 0"},
    {"uniform", "all logits equal: logp = -log V, V from 2 to 50257"},
    {"huge", "logits near the format's largest finite value, gaps that overflow the format"},
    {"tiny", "subnormal and signed-zero logits"},
    {"neginf", "-inf vocabulary masking, the label on -inf, rows of only -inf"},
    {"nonfinite", "+inf and NaN logits in counted rows and in masked rows (must not leak)"},
    {"dummy_label", "masked rows whose logit at the dummy label id 0 is -inf (0 * -inf = NaN trap)"},
    {"all_masked", "sequences with no counted token, empty_mean nan and zero"},
    {"shift_none", "shift none: logits row t scores labels[t]"},
    {"long_seq", "T up to 8192 with small V: sum versus mean over long sequences"},
    {"large_vocab", "real vocabulary sizes V = 32000, 128256, 256000"},
    {"ties", "several logits tied for the max, the label at a tie and elsewhere"},
    {"tiny_vocab", "V = 1 and V = 2"},
    {"temperature", "temperature 0.7, 1.5, 2^-3, 1e-3 and 1e3, divided exactly"},
    {"shifted_rows", "rows that are exact shifts of each other: identical logp"},
    {"masks", "a custom ignore_index and an explicit mask"},
};
enum { NFAM = sizeof families / sizeof families[0] };

size_t lp_family_count(void) { return NFAM; }
const lp_family_info *lp_family_at(size_t i) { return i < NFAM ? &families[i] : NULL; }

const lp_family_info *lp_family_find(const char *name)
{
    for (size_t i = 0; i < NFAM; i++)
        if (strcmp(families[i].name, name) == 0) return &families[i];
    return NULL;
}

/* Largest finite value and smallest subnormal of each format. */
static double fmt_max(lp_format f)
{
    static const double m[] = {DBL_MAX, (double)FLT_MAX, 65504.0, 0x1.fep127};
    return m[f];
}
static double fmt_tiny(lp_format f)
{
    static const double m[] = {0x1p-1074, 0x1p-149, 0x1p-24, 0x1p-133};
    return m[f];
}

typedef struct builder {
    lp_case_list *out;
    const char *family;
    lp_format fmt;
    lp_rng rng;
    lp_error *err;
    int k;               /* cases made in this family and format */
} builder;

static lp_case *add(builder *bd, int64_t B, int64_t T, int64_t V)
{
    lp_case_list *l = bd->out;
    if (!LP_VEC_RESERVE(l->v, l->cap, l->n + 1, 64)) return NULL;
    lp_case *c = &l->v[l->n];
    memset(c, 0, sizeof *c);
    size_t n = (size_t)(B * T * V), esz = (size_t)lp_format_get(bd->fmt)->bytes;
    c->logits = calloc(n ? n : 1, esz);
    c->labels = calloc((size_t)(B * T), sizeof *c->labels);
    if (!c->logits || !c->labels) {
        free(c->logits);
        free(c->labels);
        return NULL;
    }
    l->n++;
    snprintf(c->name, sizeof c->name, "%s/%s/%d", bd->family, lp_format_name(bd->fmt), bd->k++);
    snprintf(c->family, sizeof c->family, "%s", bd->family);
    c->pb = (lp_problem)LP_PROBLEM_INIT;
    c->pb.shape = (lp_shape){B, T, V};
    c->pb.fmt = bd->fmt;
    c->pb.logits = c->logits;
    c->pb.labels = c->labels;
    for (int64_t i = 0; i < B * T; i++) c->labels[i] = (int64_t)lp_rng_below(&bd->rng, (uint64_t)V);
    return c;
}

static int add_mask(lp_case *c)
{
    size_t n = (size_t)(c->pb.shape.B * c->pb.shape.T);
    c->mask = malloc(n);
    if (!c->mask) return 0;
    memset(c->mask, 1, n);
    c->pb.mask = c->mask;
    return 1;
}

static void set(lp_case *c, int64_t b, int64_t t, int64_t v, double x)
{
    const lp_shape s = c->pb.shape;
    lp_store_f64(c->logits, c->pb.fmt, (size_t)((b * s.T + t) * s.V + v), x);
}

static void fill_normal(builder *bd, lp_case *c, double scale)
{
    const lp_shape s = c->pb.shape;
    for (int64_t i = 0; i < s.B * s.T * s.V; i++)
        lp_store_f64(c->logits, c->pb.fmt, (size_t)i, scale * lp_rng_normal(&bd->rng));
}

/* The label's logit in row (b, t), under the case's shift. */
static int64_t label_of(const lp_case *c, int64_t b, int64_t t)
{
    int64_t tl = c->pb.shift == LP_SHIFT_NEXT ? t + 1 : t;
    return tl < c->pb.shape.T ? c->labels[b * c->pb.shape.T + tl] : 0;
}

#define ADD(c, B, T, V)                                        \
    lp_case *c = add(bd, B, T, V);                             \
    if (!c) return lp_fail(bd->err, LP_ERR_NOMEM, "gen: out of memory in family %s", bd->family)

static lp_status fam_normal(builder *bd)
{
    static const double scales[] = {1, 4, 16, 64};
    for (int i = 0; i < 4; i++) {
        ADD(c, 2, 33, 64);
        fill_normal(bd, c, scales[i]);
    }
    return LP_OK;
}

static lp_status fam_peaked(builder *bd)
{
    static const int ks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 50, 300};
    const int64_t V = 50;
    ADD(c, 1, (int64_t)(sizeof ks / sizeof ks[0]) + 1, V);
    for (int64_t t = 0; t + 1 < c->pb.shape.T; t++) {
        /* others equal to 0; label at L with (V-1) e^-L / (1 + (V-1) e^-L) = 10^-k */
        int k = ks[t];
        double L = log((double)(V - 1)) + k * log(10.0);
        int64_t y = label_of(c, 0, t);
        for (int64_t v = 0; v < V; v++) set(c, 0, t, v, v == y ? L : 0.0);
    }
    /* the same with noise on the other logits (several mass scales) */
    ADD(d, 1, (int64_t)(sizeof ks / sizeof ks[0]) + 1, V);
    for (int64_t t = 0; t + 1 < d->pb.shape.T; t++) {
        int k = ks[t];
        double L = log((double)(V - 1)) + k * log(10.0);
        int64_t y = label_of(d, 0, t);
        for (int64_t v = 0; v < V; v++) set(d, 0, t, v, v == y ? L : lp_rng_normal(&bd->rng));
    }
    return LP_OK;
}

static lp_status fam_uniform(builder *bd)
{
    static const int64_t Vs[] = {2, 3, 10, 1000, 50257};
    for (int i = 0; i < 5; i++) {
        ADD(c, 1, 3, Vs[i]);
        double x = 4 * lp_rng_normal(&bd->rng);
        for (int64_t j = 0; j < 3 * Vs[i]; j++) lp_store_f64(c->logits, c->pb.fmt, (size_t)j, x);
    }
    return LP_OK;
}

static lp_status fam_huge(builder *bd)
{
    const double M = fmt_max(bd->fmt);
    ADD(c, 2, 9, 16);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t t = 0; t < 9; t++)
            for (int64_t v = 0; v < 16; v++) {
                double u = lp_rng_unif(&bd->rng);
                double x = M * (1 - 0.001 * u * (double)(t % 3));       /* near max, ties possible */
                if (b == 1 && (v + t) % 3 == 0) x = -x;                 /* gaps of 2 max */
                if (b == 1 && t == 4 && v == 0) x = M;
                set(c, b, t, v, x);
            }
    return LP_OK;
}

static lp_status fam_tiny(builder *bd)
{
    const double tiny = fmt_tiny(bd->fmt);
    ADD(c, 2, 9, 16);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t t = 0; t < 9; t++)
            for (int64_t v = 0; v < 16; v++) {
                uint64_t r = lp_rng_below(&bd->rng, 8);
                double x = r == 0 ? 0.0 : r == 1 ? -0.0 : tiny * (double)lp_rng_below(&bd->rng, 1000) *
                                                              (r & 1 ? -1 : 1);
                set(c, b, t, v, x);
            }
    return LP_OK;
}

static lp_status fam_neginf(builder *bd)
{
    ADD(c, 2, 17, 32);
    fill_normal(bd, c, 3);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t t = 0; t < 16; t++) {
            int64_t y = label_of(c, b, t);
            for (int64_t v = 0; v < 32; v++)
                if (lp_rng_below(&bd->rng, 3) == 0) set(c, b, t, v, -HUGE_VAL);
            if (t % 5 == 1) set(c, b, t, y, -HUGE_VAL);                 /* label on -inf */
            if (t % 7 == 3)
                for (int64_t v = 0; v < 32; v++) set(c, b, t, v, -HUGE_VAL);  /* all -inf */
            if (t % 7 == 5)                                             /* one finite, at the label */
                for (int64_t v = 0; v < 32; v++) set(c, b, t, v, v == y ? 1.5 : -HUGE_VAL);
        }
    return LP_OK;
}

static lp_status fam_nonfinite(builder *bd)
{
    const double nan = lp_f64_bits(0x7ff8000000000000u);
    ADD(c, 3, 9, 8);
    fill_normal(bd, c, 2);
    if (!add_mask(c)) return lp_fail(bd->err, LP_ERR_NOMEM, "gen: out of memory");
    set(c, 0, 2, 3, nan);                                   /* counted NaN: sum NaN */
    set(c, 1, 3, 5, HUGE_VAL);                              /* counted +inf: NaN */
    set(c, 2, 1, 1, nan);                                   /* masked NaN: no effect */
    c->mask[2 * 9 + 2] = 0;
    set(c, 2, 4, 0, HUGE_VAL);                              /* ignored +inf: no effect */
    c->labels[2 * 9 + 5] = -100;
    set(c, 1, 6, (label_of(c, 1, 6) + 1) % 8, -HUGE_VAL);   /* legal -inf elsewhere */
    return LP_OK;
}

static lp_status fam_dummy_label(builder *bd)
{
    ADD(c, 2, 9, 8);
    fill_normal(bd, c, 2);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t t = 1; t < 9; t += 2) {
            c->labels[b * 9 + t] = -100;          /* scored by row t-1 */
            set(c, b, t - 1, 0, -HUGE_VAL);       /* the dummy id 0 of that masked row */
        }
    return LP_OK;
}

static lp_status fam_all_masked(builder *bd)
{
    for (int em = 0; em < 2; em++) {
        ADD(c, 3, 6, 8);
        fill_normal(bd, c, 2);
        c->pb.empty_mean = (lp_empty_mean)em;
        for (int64_t t = 0; t < 6; t++) c->labels[1 * 6 + t] = -100;
        if (!add_mask(c)) return lp_fail(bd->err, LP_ERR_NOMEM, "gen: out of memory");
        for (int64_t t = 0; t < 6; t++) c->mask[2 * 6 + t] = 0;
    }
    ADD(d, 2, 4, 8);                              /* a whole batch with nothing counted */
    fill_normal(bd, d, 2);
    for (int64_t i = 0; i < 8; i++) d->labels[i] = -100;
    return LP_OK;
}

static lp_status fam_shift_none(builder *bd)
{
    ADD(c, 2, 16, 24);
    fill_normal(bd, c, 3);
    c->pb.shift = LP_SHIFT_NONE;
    c->labels[5] = -100;
    return LP_OK;
}

static lp_status fam_long_seq(builder *bd)
{
    static const int64_t Ts[] = {1024, 8192};
    for (int i = 0; i < 2; i++) {
        ADD(c, 2, Ts[i], 8);
        fill_normal(bd, c, 2);
        /* sequence 1: a peaked model, logp near 0 everywhere (where mean loses least) */
        for (int64_t t = 0; t + 1 < Ts[i]; t++) set(c, 1, t, label_of(c, 1, t), 12.0);
    }
    return LP_OK;
}

static lp_status fam_large_vocab(builder *bd)
{
    static const int64_t Vs[] = {32000, 128256, 256000};
    for (int i = 0; i < 3; i++) {
        ADD(c, 1, 2, Vs[i]);
        fill_normal(bd, c, 3);
    }
    return LP_OK;
}

static lp_status fam_ties(builder *bd)
{
    ADD(c, 1, 13, 16);
    fill_normal(bd, c, 1);
    for (int64_t t = 0; t < 12; t++) {
        int64_t y = label_of(c, 0, t), nt = 2 + t % 5;
        for (int64_t j = 0; j < nt; j++) set(c, 0, t, (y + (t % 2) + 3 * j) % 16, 5.0);
    }
    return LP_OK;
}

static lp_status fam_tiny_vocab(builder *bd)
{
    for (int64_t V = 1; V <= 2; V++) {
        ADD(c, 2, 9, V);
        fill_normal(bd, c, 3);
    }
    return LP_OK;
}

static lp_status fam_temperature(builder *bd)
{
    static const double taus[] = {0.7, 1.5, 0.125, 1e-3, 1e3};
    for (int i = 0; i < 5; i++) {
        ADD(c, 1, 9, 32);
        fill_normal(bd, c, 3);
        c->pb.temperature = taus[i];
    }
    return LP_OK;
}

static lp_status fam_shifted_rows(builder *bd)
{
    ADD(c, 1, 9, 16);
    for (int64_t v = 0; v < 16; v++) {
        /* multiples of 2^-6 below 2^4: exact in every format, and so are the shifted rows */
        double x = ldexp(floor(lp_rng_normal(&bd->rng) * 64), -6);
        for (int64_t t = 0; t < 9; t++) set(c, 0, t, v, x + (double)(t % 4) * 0.5 - 1.0);
    }
    int64_t y = (int64_t)lp_rng_below(&bd->rng, 16);
    for (int64_t t = 0; t < 9; t++) c->labels[t] = y;
    return LP_OK;
}

static lp_status fam_masks(builder *bd)
{
    ADD(c, 2, 12, 16);
    fill_normal(bd, c, 2);
    c->pb.ignore_index = -1;
    c->labels[3] = -1;
    c->labels[12 + 7] = -1;
    if (!add_mask(c)) return lp_fail(bd->err, LP_ERR_NOMEM, "gen: out of memory");
    for (int64_t t = 0; t < 12; t += 3) c->mask[12 + t] = 0;
    return LP_OK;
}

static lp_status (*const builders[NFAM])(builder *) = {
    fam_normal, fam_peaked, fam_uniform, fam_huge, fam_tiny, fam_neginf, fam_nonfinite,
    fam_dummy_label, fam_all_masked, fam_shift_none, fam_long_seq, fam_large_vocab, fam_ties,
    fam_tiny_vocab, fam_temperature, fam_shifted_rows, fam_masks,
};

lp_status lp_suite_build(lp_case_list *out, const char *family, unsigned fmt_mask, uint64_t seed,
                         lp_error *err)
{
    int all = family == NULL || strcmp(family, "all") == 0;
    if (!all && !lp_family_find(family))
        return lp_fail(err, LP_ERR_USAGE, "gen: unknown family '%s' (lpcert gen --list names them)",
                       family);
    for (size_t i = 0; i < NFAM; i++) {
        if (!all && strcmp(families[i].name, family) != 0) continue;
        for (int f = 0; f < LP_NFORMATS; f++) {
            if (!(fmt_mask & (1u << f))) continue;
            /* each (family, format) has its own stream: adding a family never changes another */
            builder bd = {out, families[i].name, (lp_format)f, {{0}}, err, 0};
            lp_rng_init(&bd.rng, seed ^ (0x9e3779b97f4a7c15u * (i + 1)) ^ ((uint64_t)f << 56));
            lp_status s = builders[i](&bd);
            if (s != LP_OK) return s;
        }
    }
    return LP_OK;
}

void lp_case_list_free(lp_case_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) lp_case_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
