/* core/vectors.c: the reader of the vector format (vectors/FORMAT.md; see lp_vectors.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>

#include "lp_core.h"
#include "lp_format.h"
#include "lp_vectors.h"

struct lp_vreader {
    FILE *f;
    char *path;
    char *ln;              /* the line buffer (getline) */
    size_t cap;
    int64_t line;
};

/* The state of the case being read. */
typedef struct vstate {
    int have_fmt, have_shape, data;     /* data: a data line was read (the header is closed) */
    int64_t nl, nk, nx, nt, ns, nm;     /* lines of each kind read so far */
    int64_t ng;                         /* rows of the open grad block */
} vstate;

static const char *skip_sp(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

static int at_end(const char *p) { return *skip_sp(p) == '\0'; }

/* Reads exactly `width` hex digits (the format writes fixed-width fields). */
static int read_hex(const char **pp, int width, uint64_t *out)
{
    const char *p = skip_sp(*pp);
    uint64_t v = 0;
    int n = 0;
    for (; n < width; n++) {
        int c = p[n], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v << 4 | (uint64_t)d;
    }
    if (p[n] != '\0' && p[n] != ' ' && p[n] != '\t') return 0;
    *out = v;
    *pp = p + n;
    return 1;
}

static int read_int(const char **pp, int64_t *out)
{
    const char *p = skip_sp(*pp);
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno != 0 || (*end != '\0' && *end != ' ' && *end != '\t')) return 0;
    *out = (int64_t)v;
    *pp = end;
    return 1;
}

/* "F64 F32 F16 BF16 LO" into v (dd.hi = F64). */
static int read_value(const char **pp, lp_value *v)
{
    uint64_t a, b, c, d, e;
    if (!read_hex(pp, 16, &a) || !read_hex(pp, 8, &b) || !read_hex(pp, 4, &c) ||
        !read_hex(pp, 4, &d) || !read_hex(pp, 16, &e))
        return 0;
    v->f64 = lp_f64_bits(a);
    v->f32 = lp_f32_bits((uint32_t)b);
    v->f16 = (uint16_t)c;
    v->bf16 = (uint16_t)d;
    v->dd.hi = v->f64;
    v->dd.lo = lp_f64_bits(e);
    return 1;
}

static void *alloc_n(int64_t n, size_t elt)
{
    size_t bytes;
    if (n < 0 || !lp_mul_size(&bytes, (size_t)n, elt)) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}

void lp_vcase_free(lp_vcase *c)
{
    if (!c) return;
    lp_case_free(&c->c);
    free(c->labels32);
    free(c->want.logp);
    free(c->want.counted);
    free(c->want.sum);
    free(c->want.mean);
    free(c->want.count);
    for (int k = 0; k < c->ngrad; k++) free(c->grad[k].g);
    memset(c, 0, sizeof *c);
}

/* Allocates the arrays once the header is read; NULL or the error. */
static const char *case_alloc(lp_vcase *c)
{
    lp_problem *pb = &c->c.pb;
    const lp_shape s = pb->shape;
    /* The format is for small, hand-checkable cases (the corpus's largest has 16,384 logits):
     * the limits keep a shape line from allocating more than a few hundred MB before any data
     * line backs it (fuzz finding V1: "shape 1000 8000 8000" asked for 128 GB). */
    if (s.B < 1 || s.T < 1 || s.V < 1 || s.B > ((int64_t)1 << 20) || s.T > ((int64_t)1 << 24) ||
        s.V > ((int64_t)1 << 24) || s.B * s.T > ((int64_t)1 << 20) ||
        s.B * s.T * s.V > ((int64_t)1 << 24))
        return "shape out of range (B, T, V >= 1, B*T <= 2^20, B*T*V <= 2^24 logits)";
    const int64_t bt = s.B * s.T, Ts = s.T - (pb->shift == LP_SHIFT_NEXT);
    lp_ref_result *w = &c->want;
    w->B = s.B;
    w->Ts = Ts;
    c->c.logits = alloc_n(bt * s.V, (size_t)lp_format_get(pb->fmt)->bytes);
    c->c.labels = alloc_n(bt, sizeof *c->c.labels);
    if (pb->label_type == LP_I32) c->labels32 = alloc_n(bt, sizeof *c->labels32);
    w->logp = alloc_n(s.B * Ts, sizeof *w->logp);
    w->counted = alloc_n(s.B * Ts, 1);
    w->sum = alloc_n(s.B, sizeof *w->sum);
    w->mean = alloc_n(s.B, sizeof *w->mean);
    w->count = alloc_n(s.B, sizeof *w->count);
    if (!c->c.logits || !c->c.labels || (pb->label_type == LP_I32 && !c->labels32) || !w->logp ||
        !w->counted || !w->sum || !w->mean || !w->count)
        return "out of memory";
    pb->logits = c->c.logits;
    pb->labels = pb->label_type == LP_I32 ? (const void *)c->labels32 : (const void *)c->c.labels;
    return NULL;
}

/* One line of the open case: NULL, or what is wrong with it. */
static const char *case_line(lp_vcase *c, vstate *st, const char *key, const char *p, int *done)
{
    lp_problem *pb = &c->c.pb;
    static const char *const header[] = {"family", "fmt", "shape", "shift", "ignore_index",
                                         "temperature", "empty_mean", "itype", "softcap",
                                         "top_k", "top_p", "min_p"};
    for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
        if (strcmp(key, header[i]) == 0 && st->data) return "a header line after the data";
    if (strcmp(key, "family") == 0) {
        const char *v = skip_sp(p);
        if (strlen(v) >= sizeof c->c.family) return "family name too long";
        snprintf(c->c.family, sizeof c->c.family, "%s", v);
    } else if (strcmp(key, "fmt") == 0) {
        if (!lp_format_parse(&pb->fmt, skip_sp(p))) return "unknown fmt";
        st->have_fmt = 1;
    } else if (strcmp(key, "shift") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "next") == 0) pb->shift = LP_SHIFT_NEXT;
        else if (strcmp(s, "none") == 0) pb->shift = LP_SHIFT_NONE;
        else return "unknown shift";
    } else if (strcmp(key, "shape") == 0) {
        if (!st->have_fmt || st->have_shape) return "shape before fmt, or twice";
        if (!read_int(&p, &pb->shape.B) || !read_int(&p, &pb->shape.T) ||
            !read_int(&p, &pb->shape.V) || !at_end(p))
            return "bad shape";
        st->have_shape = 1;
    } else if (strcmp(key, "ignore_index") == 0) {
        if (!read_int(&p, &pb->ignore_index) || !at_end(p)) return "bad ignore_index";
    } else if (strcmp(key, "temperature") == 0) {
        uint64_t u;
        if (!read_hex(&p, 16, &u) || !at_end(p)) return "bad temperature";
        pb->temperature = lp_f64_bits(u);
    } else if (strcmp(key, "empty_mean") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "nan") == 0) pb->empty_mean = LP_EMPTY_NAN;
        else if (strcmp(s, "zero") == 0) pb->empty_mean = LP_EMPTY_ZERO;
        else return "unknown empty_mean";
    } else if (strcmp(key, "softcap") == 0 || strcmp(key, "top_p") == 0 ||
               strcmp(key, "min_p") == 0) {
        uint64_t u;
        if (!read_hex(&p, 16, &u) || !at_end(p)) return "bad sampling parameter";
        double *dst = key[0] == 's' ? &pb->sampling.softcap
                      : key[0] == 't' ? &pb->sampling.top_p : &pb->sampling.min_p;
        *dst = lp_f64_bits(u);
    } else if (strcmp(key, "top_k") == 0) {
        if (!read_int(&p, &pb->sampling.top_k) || !at_end(p)) return "bad top_k";
    } else if (strcmp(key, "itype") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "i64") == 0) pb->label_type = LP_I64;
        else if (strcmp(s, "i32") == 0) pb->label_type = LP_I32;
        else return "unknown itype";
    } else if (!st->data) {
        /* the data lines follow the header: allocate on the first one */
        static const char *const data[] = {"l", "k", "x", "t", "u", "s", "m", "grad",
                                           "g", "z", "n", "end"};
        int known = 0;
        for (size_t i = 0; i < sizeof data / sizeof data[0]; i++) known |= strcmp(key, data[i]) == 0;
        if (!known) return "unknown line";
        if (!st->have_shape) return "data before shape";
        const char *why = case_alloc(c);
        if (why) return why;
        st->data = 1;
        return case_line(c, st, key, p, done);
    } else if (strcmp(key, "l") == 0) {
        const int64_t T = pb->shape.T;
        if (st->nl >= pb->shape.B) return "too many l lines";
        for (int64_t t = 0; t < T; t++) {
            int64_t v;
            if (!read_int(&p, &v)) return "bad label";
            c->c.labels[st->nl * T + t] = v;
            if (c->labels32) {
                if (v < INT32_MIN || v > INT32_MAX) return "label not i32";
                c->labels32[st->nl * T + t] = (int32_t)v;
            }
        }
        if (!at_end(p)) return "too many labels";
        st->nl++;
    } else if (strcmp(key, "k") == 0) {
        const int64_t T = pb->shape.T;
        if (st->nk >= pb->shape.B) return "too many k lines";
        if (!c->c.mask && !(c->c.mask = alloc_n(pb->shape.B * T, 1))) return "out of memory";
        pb->mask = c->c.mask;
        p = skip_sp(p);
        for (int64_t t = 0; t < T; t++) {
            if (p[t] != '0' && p[t] != '1') return "bad mask";
            c->c.mask[st->nk * T + t] = (uint8_t)(p[t] - '0');
        }
        if (!at_end(p + T)) return "mask too long";
        st->nk++;
    } else if (strcmp(key, "x") == 0) {
        const int64_t V = pb->shape.V;
        const int w = 2 * lp_format_get(pb->fmt)->bytes;
        if (st->nx >= pb->shape.B * pb->shape.T) return "too many x lines";
        for (int64_t i = 0; i < V; i++) {
            uint64_t u;
            const size_t at = (size_t)(st->nx * V + i);
            if (!read_hex(&p, w, &u)) return "bad logit";
            if (w == 16) {
                memcpy((char *)c->c.logits + 8 * at, &u, 8);
            } else if (w == 8) {
                const uint32_t u32 = (uint32_t)u;
                memcpy((char *)c->c.logits + 4 * at, &u32, 4);
            } else {
                const uint16_t u16 = (uint16_t)u;
                memcpy((char *)c->c.logits + 2 * at, &u16, 2);
            }
        }
        if (!at_end(p)) return "too many logits";
        st->nx++;
    } else if (strcmp(key, "t") == 0 || strcmp(key, "u") == 0) {
        lp_ref_result *w = &c->want;
        if (st->nt >= w->B * w->Ts) return "too many t/u lines";
        if (key[0] == 't') {
            if (!read_value(&p, &w->logp[st->nt])) return "bad token values";
            w->counted[st->nt] = 1;
        } else {
            const double nan64 = lp_f64_bits(0x7ff8000000000000u);
            const lp_value nan = {nan64, lp_f32_bits(0x7fc00000u), 0x7e00, 0x7fc0, {nan64, nan64}};
            w->logp[st->nt] = nan;
        }
        if (!at_end(p)) return "trailing text";
        st->nt++;
    } else if (strcmp(key, "s") == 0) {
        lp_ref_result *w = &c->want;
        if (st->ns >= w->B) return "too many s lines";
        if (!read_int(&p, &w->count[st->ns]) || !read_value(&p, &w->sum[st->ns]) ||
            !read_value(&p, &w->mean[st->ns]) || !at_end(p))
            return "bad s line";
        st->ns++;
    } else if (strcmp(key, "m") == 0) {
        if (st->nm) return "two m lines";
        if (!read_int(&p, &c->tm_count) || !read_value(&p, &c->want.token_mean) || !at_end(p))
            return "bad m line";
        st->nm++;
    } else if (strcmp(key, "grad") == 0) {
        static const char *const red[] = {"token", "sum", "mean", "token_mean"};
        const lp_shape s = pb->shape;
        const char *v = skip_sp(p);
        int k = -1;
        if (st->nm != 1) return "grad before the m line";
        if (c->ngrad > 0 && st->ng != s.B * s.T) return "grad block incomplete";
        if (c->ngrad >= LP_VGRAD_MAX) return "too many grad blocks";
        for (int i = 0; i < 4; i++)
            if (strcmp(v, red[i]) == 0) k = i;
        if (k < 0) return "unknown reduction";
        /* a gradient is [B, T, V] values of 40 bytes: kept to 2^20 of them per block */
        if (s.B * s.T * s.V > ((int64_t)1 << 20)) return "shape too large for a grad block";
        lp_value *g = alloc_n(s.B * s.T * s.V, sizeof *g);
        if (!g) return "out of memory";
        c->grad[c->ngrad].red = (lp_reduction)k;
        c->grad[c->ngrad].g = g;
        c->ngrad++;
        st->ng = 0;
    } else if (strcmp(key, "g") == 0 || strcmp(key, "z") == 0 || strcmp(key, "n") == 0) {
        const lp_shape s = pb->shape;
        if (c->ngrad == 0) return "a gradient row outside a grad block";
        if (st->ng >= s.B * s.T) return "too many gradient rows";
        lp_value *g = c->grad[c->ngrad - 1].g + st->ng * s.V;
        const double nan64 = lp_f64_bits(0x7ff8000000000000u);
        const lp_value nan = {nan64, lp_f32_bits(0x7fc00000u), 0x7e00, 0x7fc0, {nan64, nan64}};
        for (int64_t i = 0; i < s.V; i++) {
            if (key[0] == 'g') {
                if (!read_value(&p, &g[i])) return "bad gradient values";
            } else if (key[0] == 'n') {
                g[i] = nan;
            } /* z: +0 everywhere, as allocated */
        }
        if (!at_end(p)) return "trailing text";
        st->ng++;
    } else if (strcmp(key, "end") == 0) {
        const lp_shape s = pb->shape;
        if (!at_end(p)) return "trailing text";
        if (st->nl != s.B || (c->c.mask && st->nk != s.B) || st->nx != s.B * s.T ||
            st->nt != s.B * c->want.Ts || st->ns != s.B || st->nm != 1 ||
            (c->ngrad > 0 && st->ng != s.B * s.T))
            return "case incomplete";
        *done = 1;
    } else {
        return "unknown line";
    }
    return NULL;
}

lp_status lp_vectors_open_mem(lp_vreader **out, const void *data, size_t size, const char *name,
                             lp_error *err)
{
    *out = NULL;
    lp_vreader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(name))) {
        free(r);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", name);
    }
    /* fmemopen reads the bytes in place; a zero-length buffer is an empty file (no case). */
    static const char empty[1] = {0};
    if (!(r->f = fmemopen((void *)(size ? data : empty), size ? size : 1, "r"))) {
        lp_status s = lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
        lp_vectors_close(r);
        return s;
    }
    if (!size) getc(r->f);   /* consume the stand-in byte: the stream is at its end */
    *out = r;
    return LP_OK;
}

lp_status lp_vectors_open(lp_vreader **out, const char *path, lp_error *err)
{
    *out = NULL;
    lp_vreader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!(r->f = fopen(path, "r"))) {
        lp_status s = lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        lp_vectors_close(r);
        return s;
    }
    *out = r;
    return LP_OK;
}

void lp_vectors_close(lp_vreader *r)
{
    if (!r) return;
    if (r->f) fclose(r->f);
    free(r->path);
    free(r->ln);
    free(r);
}

lp_status lp_vectors_next(lp_vreader *r, lp_vcase *c, int *got, lp_error *err)
{
    memset(c, 0, sizeof *c);
    *got = 0;
    vstate st;
    memset(&st, 0, sizeof st);
    int in_case = 0;
    ssize_t len;
    lp_status s = LP_OK;
    while ((len = getline(&r->ln, &r->cap, r->f)) >= 0) {
        r->line++;
        char *line = r->ln;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        char key[16];
        const char *p = line;
        size_t k = 0;
        while (*p && *p != ' ' && *p != '\t' && k + 1 < sizeof key) key[k++] = *p++;
        key[k] = '\0';
        if (strcmp(key, "case") == 0) {
            const char *name = skip_sp(p);
            if (in_case) {
                s = lp_fail(err, LP_ERR_INPUT, "%s:%lld: case %s inside case %s", r->path,
                            (long long)r->line, name, c->c.name);
                break;
            }
            if (!*name || strlen(name) >= sizeof c->c.name) {
                s = lp_fail(err, LP_ERR_INPUT, "%s:%lld: case name empty or too long", r->path,
                            (long long)r->line);
                break;
            }
            snprintf(c->c.name, sizeof c->c.name, "%s", name);
            c->c.pb = (lp_problem)LP_PROBLEM_INIT;
            c->line = r->line;
            in_case = 1;
            continue;
        }
        if (!in_case) {
            s = lp_fail(err, LP_ERR_INPUT, "%s:%lld: a line outside a case: %.40s", r->path,
                        (long long)r->line, line);
            break;
        }
        int done = 0;
        const char *why = case_line(c, &st, key, p, &done);
        if (why) {
            s = lp_fail(err, strcmp(why, "out of memory") == 0 ? LP_ERR_NOMEM : LP_ERR_INPUT,
                        "%s:%lld: case %s: %s", r->path, (long long)r->line, c->c.name, why);
            break;
        }
        if (done) {
            *got = 1;
            return LP_OK;
        }
    }
    if (s == LP_OK && ferror(r->f))
        s = lp_fail(err, LP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    if (s == LP_OK && in_case)
        s = lp_fail(err, LP_ERR_INPUT, "%s:%lld: the file ends inside case %s", r->path,
                    (long long)r->line, c->c.name);
    lp_vcase_free(c);
    return s;
}
