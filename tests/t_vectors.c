/* tests/t_vectors.c: the C reference agrees bit for bit with the mpmath oracle on every vector.
 *
 * Two oracles (STYLE 6): vectors/gen_vectors.py computes every expected value with mpmath and its
 * own rounding, sharing no code with reference/. This test reads every vectors/corpus/NAME.txt (the
 * format: vectors/FORMAT.md), runs lp_ref_compute on each case and requires:
 *   - per scored position: the counted flag; where counted, the f64, f32, f16 and bf16 results
 *     bit for bit, dd.hi equal to the f64 bits and dd.lo within the stated bound; where not
 *     counted, the canonical NaN in every format and a (NaN, NaN) double-double;
 *   - per sequence: the count, and the sum and mean as above; per batch: the token mean.
 * The double-double bound: lpcert.h promises |hi + lo - x| <= 2^-104 |x| + 2^-1074 and the
 * oracle's lo is RN(x - hi), so two correct lo's differ by at most 2^-103 |x| + 2^-1073; the test
 * allows 2^-100 |hi| + 2^-1073. An infinite hi needs lo == 0, a NaN hi a NaN lo.
 * Level 2 (LPCERT_LEVEL=2) also generates the large-vocabulary cases (V = 32000, 128256, 256000)
 * with `python3 vectors/gen_vectors.py --large DIR` and checks them. Arguments, if any, name the
 * folders or files to check instead of vectors/corpus.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_file.h"
#include "lp_format.h"
#include "lpcert.h"
#include "lpt.h"

#define CORPUS_DIR "vectors/corpus"

/* One expected value: the four roundings and the double-double's low part (hi is the f64). */
typedef struct want {
    uint64_t f64, lo;
    uint32_t f32;
    uint16_t f16, bf16;
} want;

typedef struct vcase {
    char name[256];
    char family[64];
    int64_t line;                /* where the case starts */
    lp_format fmt;
    int64_t B, T, V, Ts;
    lp_shift shift;
    int64_t ignore_index;
    double tau;
    lp_empty_mean empty_mean;
    lp_itype itype;
    int have_fmt, have_shape;
    int64_t *labels;             /* [B*T] */
    int32_t *labels32;           /* [B*T] when itype is i32 */
    uint8_t *mask;               /* [B*T] or NULL */
    unsigned char *logits;       /* [B*T*V] elements of fmt */
    uint8_t *counted;            /* [B*Ts] */
    want *tok;                   /* [B*Ts] */
    int64_t *count;              /* [B] */
    want *sum, *mean;            /* [B] */
    int64_t tm_count;
    want tm;
    int64_t nl, nk, nx, nt, ns, nm;   /* lines of each kind read so far */
} vcase;

static int64_t tot_files, tot_cases, tot_tokens, tot_counted, tot_seqs;

/* ---- text ------------------------------------------------------------------------------- */

static const char *skip_sp(const char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

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

static int at_end(const char *p) { return *skip_sp(p) == '\0'; }

static int read_want(const char **pp, want *w)
{
    uint64_t a, b, c, d, e;
    if (!read_hex(pp, 16, &a) || !read_hex(pp, 8, &b) || !read_hex(pp, 4, &c) ||
        !read_hex(pp, 4, &d) || !read_hex(pp, 16, &e))
        return 0;
    w->f64 = a;
    w->f32 = (uint32_t)b;
    w->f16 = (uint16_t)c;
    w->bf16 = (uint16_t)d;
    w->lo = e;
    return 1;
}

static int fmt_bytes(lp_format f) { return f == LP_F64 ? 8 : f == LP_F32 ? 4 : 2; }

static void case_free(vcase *c)
{
    free(c->labels);
    free(c->labels32);
    free(c->mask);
    free(c->logits);
    free(c->counted);
    free(c->tok);
    free(c->count);
    free(c->sum);
    free(c->mean);
    memset(c, 0, sizeof *c);
}

static void *alloc_n(int64_t n, size_t elt)
{
    size_t bytes;
    if (n < 0 || !lp_mul_size(&bytes, (size_t)n, elt)) return NULL;
    return calloc(bytes ? bytes : 1, 1);
}

/* Allocates the arrays once the shape is known; 0 on a bad shape or no memory. */
static int case_alloc(vcase *c)
{
    int64_t bt, btv;
    if (c->B < 0 || c->T < 0 || c->V < 1 || c->B > (1 << 20) || c->T > (1 << 24) ||
        c->V > (1 << 24))
        return 0;
    bt = c->B * c->T;
    if (c->T > 0 && bt / c->T != c->B) return 0;
    btv = bt * c->V;
    if (bt > 0 && btv / bt != c->V) return 0;
    c->Ts = c->shift == LP_SHIFT_NEXT ? (c->T > 0 ? c->T - 1 : 0) : c->T;
    c->labels = alloc_n(bt, sizeof *c->labels);
    c->labels32 = alloc_n(bt, sizeof *c->labels32);
    c->logits = alloc_n(btv, (size_t)fmt_bytes(c->fmt));
    c->counted = alloc_n(c->B * c->Ts, 1);
    c->tok = alloc_n(c->B * c->Ts, sizeof *c->tok);
    c->count = alloc_n(c->B, sizeof *c->count);
    c->sum = alloc_n(c->B, sizeof *c->sum);
    c->mean = alloc_n(c->B, sizeof *c->mean);
    return c->labels && c->labels32 && c->logits && c->counted && c->tok && c->count && c->sum &&
           c->mean;
}

/* ---- comparison ------------------------------------------------------------------------- */

static const char *cur_file;
static const vcase *cur_case;

static void fail_u64(const char *where, const char *out, uint64_t want_bits, uint64_t got_bits)
{
    lpt_check(0, "%s case=%s %s %s want 0x%016llx (%.17g) got 0x%016llx (%.17g)", cur_file,
              cur_case->name, where, out, (unsigned long long)want_bits,
              lp_f64_bits(want_bits), (unsigned long long)got_bits, lp_f64_bits(got_bits));
}

static void check_bits(const char *where, const char *out, lp_format f, uint64_t want_bits,
                       uint64_t got_bits)
{
    if (want_bits == got_bits) {
        lpt_check(1, "%s", "");
        return;
    }
    double wv, gv;
    int w = 16;
    switch (f) {
    case LP_F64: fail_u64(where, out, want_bits, got_bits); return;
    case LP_F32:
        wv = (double)lp_f32_bits((uint32_t)want_bits);
        gv = (double)lp_f32_bits((uint32_t)got_bits);
        w = 8;
        break;
    case LP_F16:
        wv = lp_f16_to_f64((uint16_t)want_bits);
        gv = lp_f16_to_f64((uint16_t)got_bits);
        w = 4;
        break;
    default:
        wv = lp_bf16_to_f64((uint16_t)want_bits);
        gv = lp_bf16_to_f64((uint16_t)got_bits);
        w = 4;
        break;
    }
    lpt_check(0, "%s case=%s %s %s want 0x%0*llx (%.9g) got 0x%0*llx (%.9g)", cur_file,
              cur_case->name, where, out, w, (unsigned long long)want_bits, wv, w,
              (unsigned long long)got_bits, gv);
}

/* dd.hi must be the f64 bits; dd.lo within 2^-100 |hi| + 2^-1073 of the oracle's RN(x - hi). */
static void check_dd(const char *where, const char *out, const want *w, lp_dd got)
{
    char o[64];
    snprintf(o, sizeof o, "%s.dd.hi", out);
    check_bits(where, o, LP_F64, w->f64, lp_bits_f64(got.hi));
    double whi = lp_f64_bits(w->f64), wlo = lp_f64_bits(w->lo);
    int ok;
    if (isnan(whi)) ok = isnan(got.lo);
    else if (isinf(whi)) ok = got.lo == 0.0;
    else ok = fabs(got.lo - wlo) <= ldexp(fabs(whi), -100) + 0x1p-1073;
    if (!lpt_check(ok, "%s case=%s %s %s.dd.lo want %a got %a (hi %a, allowed %a)", cur_file,
                   cur_case->name, where, out, wlo, got.lo, whi,
                   ldexp(fabs(whi), -100) + 0x1p-1073))
        lpt_note("want lo 0x%016llx got lo 0x%016llx", (unsigned long long)w->lo,
                 (unsigned long long)lp_bits_f64(got.lo));
}

static void check_value(const char *where, const char *out, const want *w, const lp_value *got)
{
    char o[64];
    snprintf(o, sizeof o, "%s.f64", out);
    check_bits(where, o, LP_F64, w->f64, lp_bits_f64(got->f64));
    snprintf(o, sizeof o, "%s.f32", out);
    check_bits(where, o, LP_F32, w->f32, lp_bits_f32(got->f32));
    snprintf(o, sizeof o, "%s.f16", out);
    check_bits(where, o, LP_F16, w->f16, got->f16);
    snprintf(o, sizeof o, "%s.bf16", out);
    check_bits(where, o, LP_BF16, w->bf16, got->bf16);
    check_dd(where, out, w, got->dd);
}

static const want want_nan = {0x7ff8000000000000u, 0x7ff8000000000000u, 0x7fc00000u, 0x7e00u,
                              0x7fc0u};

static void run_case(const vcase *c)
{
    lp_problem pb = LP_PROBLEM_INIT;
    lp_ref_result res;
    lp_error err;
    char where[96];

    cur_case = c;
    pb.shape.B = c->B;
    pb.shape.T = c->T;
    pb.shape.V = c->V;
    pb.fmt = c->fmt;
    pb.logits = c->logits;
    pb.label_type = c->itype;
    pb.labels = c->itype == LP_I32 ? (const void *)c->labels32 : (const void *)c->labels;
    pb.mask = c->mask;
    pb.shift = c->shift;
    pb.ignore_index = c->ignore_index;
    pb.temperature = c->tau;
    pb.empty_mean = c->empty_mean;

    memset(&res, 0, sizeof res);
    memset(&err, 0, sizeof err);
    lp_status st = lp_ref_compute(&res, &pb, &err);
    tot_cases++;
    if (!lpt_check(st == LP_OK, "%s case=%s (line %lld): lp_ref_compute: %s: %s", cur_file,
                   c->name, (long long)c->line, lp_status_name(st), err.msg)) {
        lp_ref_result_free(&res);
        return;
    }
    if (!lpt_check(res.B == c->B && res.Ts == c->Ts,
                   "%s case=%s result shape B=%lld Ts=%lld, want B=%lld Ts=%lld", cur_file,
                   c->name, (long long)res.B, (long long)res.Ts, (long long)c->B,
                   (long long)c->Ts)) {
        lp_ref_result_free(&res);
        return;
    }
    for (int64_t b = 0; b < c->B; b++) {
        for (int64_t t = 0; t < c->Ts; t++) {
            int64_t i = b * c->Ts + t;
            snprintf(where, sizeof where, "b=%lld t=%lld", (long long)b, (long long)t);
            tot_tokens++;
            if (!lpt_check(res.counted[i] == c->counted[i], "%s case=%s %s counted want %d got %d",
                           cur_file, c->name, where, c->counted[i], res.counted[i]))
                continue;
            if (c->counted[i]) {
                tot_counted++;
                check_value(where, "logp", &c->tok[i], &res.logp[i]);
            } else {
                check_value(where, "logp(not counted: NaN)", &want_nan, &res.logp[i]);
            }
        }
    }
    for (int64_t b = 0; b < c->B; b++) {
        snprintf(where, sizeof where, "seq b=%lld", (long long)b);
        tot_seqs++;
        lpt_check(res.count[b] == c->count[b], "%s case=%s %s count want %lld got %lld",
                  cur_file, c->name, where, (long long)c->count[b], (long long)res.count[b]);
        check_value(where, "sum", &c->sum[b], &res.sum[b]);
        check_value(where, "mean", &c->mean[b], &res.mean[b]);
    }
    check_value("batch", "token_mean", &c->tm, &res.token_mean);
    lp_ref_result_free(&res);
}

/* ---- one file ------------------------------------------------------------------------------ */

/* Parses one line into the open case; returns an error message or NULL. */
static const char *parse_line(vcase *c, const char *key, const char *p, int *done)
{
    if (strcmp(key, "family") == 0) {
        snprintf(c->family, sizeof c->family, "%s", skip_sp(p));
    } else if (strcmp(key, "fmt") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "f64") == 0) c->fmt = LP_F64;
        else if (strcmp(s, "f32") == 0) c->fmt = LP_F32;
        else if (strcmp(s, "f16") == 0) c->fmt = LP_F16;
        else if (strcmp(s, "bf16") == 0) c->fmt = LP_BF16;
        else return "unknown fmt";
        c->have_fmt = 1;
    } else if (strcmp(key, "shift") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "next") == 0) c->shift = LP_SHIFT_NEXT;
        else if (strcmp(s, "none") == 0) c->shift = LP_SHIFT_NONE;
        else return "unknown shift";
    } else if (strcmp(key, "shape") == 0) {
        if (!c->have_fmt || c->have_shape) return "shape before fmt, or twice";
        if (!read_int(&p, &c->B) || !read_int(&p, &c->T) || !read_int(&p, &c->V) || !at_end(p))
            return "bad shape";
        c->have_shape = 1;
    } else if (strcmp(key, "ignore_index") == 0) {
        if (!read_int(&p, &c->ignore_index) || !at_end(p)) return "bad ignore_index";
    } else if (strcmp(key, "temperature") == 0) {
        uint64_t u;
        if (!read_hex(&p, 16, &u) || !at_end(p)) return "bad temperature";
        c->tau = lp_f64_bits(u);
    } else if (strcmp(key, "empty_mean") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "nan") == 0) c->empty_mean = LP_EMPTY_NAN;
        else if (strcmp(s, "zero") == 0) c->empty_mean = LP_EMPTY_ZERO;
        else return "unknown empty_mean";
    } else if (strcmp(key, "itype") == 0) {
        const char *s = skip_sp(p);
        if (strcmp(s, "i64") == 0) c->itype = LP_I64;
        else if (strcmp(s, "i32") == 0) c->itype = LP_I32;
        else return "unknown itype";
    } else if (!c->labels) {
        /* the data lines follow the header: allocate on the first one */
        if (!c->have_shape) return "data before shape";
        if (!case_alloc(c)) return "bad shape or out of memory";
        return parse_line(c, key, p, done);
    } else if (strcmp(key, "l") == 0) {
        if (c->nl >= c->B) return "too many l lines";
        for (int64_t t = 0; t < c->T; t++) {
            int64_t v;
            if (!read_int(&p, &v)) return "bad label";
            c->labels[c->nl * c->T + t] = v;
            c->labels32[c->nl * c->T + t] = (int32_t)v;
            if (c->itype == LP_I32 && (v < INT32_MIN || v > INT32_MAX)) return "label not i32";
        }
        if (!at_end(p)) return "too many labels";
        c->nl++;
    } else if (strcmp(key, "k") == 0) {
        if (c->nk >= c->B) return "too many k lines";
        if (!c->mask && !(c->mask = alloc_n(c->B * c->T, 1))) return "out of memory";
        p = skip_sp(p);
        for (int64_t t = 0; t < c->T; t++) {
            if (p[t] != '0' && p[t] != '1') return "bad mask";
            c->mask[c->nk * c->T + t] = (uint8_t)(p[t] - '0');
        }
        if (!at_end(p + c->T)) return "mask too long";
        c->nk++;
    } else if (strcmp(key, "x") == 0) {
        int w = 2 * fmt_bytes(c->fmt);
        if (c->nx >= c->B * c->T) return "too many x lines";
        for (int64_t v = 0; v < c->V; v++) {
            uint64_t u;
            size_t i = (size_t)(c->nx * c->V + v);
            if (!read_hex(&p, w, &u)) return "bad logit";
            if (c->fmt == LP_F64) memcpy(c->logits + 8 * i, &u, 8);
            else if (c->fmt == LP_F32) {
                uint32_t u32 = (uint32_t)u;
                memcpy(c->logits + 4 * i, &u32, 4);
            } else {
                uint16_t u16 = (uint16_t)u;
                memcpy(c->logits + 2 * i, &u16, 2);
            }
        }
        if (!at_end(p)) return "too many logits";
        c->nx++;
    } else if (strcmp(key, "t") == 0 || strcmp(key, "u") == 0) {
        if (c->nt >= c->B * c->Ts) return "too many t/u lines";
        if (key[0] == 't') {
            if (!read_want(&p, &c->tok[c->nt])) return "bad token values";
            c->counted[c->nt] = 1;
        }
        if (!at_end(p)) return "trailing text";
        c->nt++;
    } else if (strcmp(key, "s") == 0) {
        if (c->ns >= c->B) return "too many s lines";
        if (!read_int(&p, &c->count[c->ns]) || !read_want(&p, &c->sum[c->ns]) ||
            !read_want(&p, &c->mean[c->ns]) || !at_end(p))
            return "bad s line";
        c->ns++;
    } else if (strcmp(key, "m") == 0) {
        if (c->nm) return "two m lines";
        if (!read_int(&p, &c->tm_count) || !read_want(&p, &c->tm) || !at_end(p))
            return "bad m line";
        c->nm++;
    } else if (strcmp(key, "end") == 0) {
        if (c->nl != c->B || (c->mask && c->nk != c->B) || c->nx != c->B * c->T ||
            c->nt != c->B * c->Ts || c->ns != c->B || c->nm != 1)
            return "case incomplete";
        *done = 1;
    } else {
        return "unknown line";
    }
    return NULL;
}

static void check_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!lpt_check(f != NULL, "%s: cannot open: %s", path, strerror(errno))) return;
    tot_files++;
    cur_file = path;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    vcase c;
    int in_case = 0, skipping = 0;
    memset(&c, 0, sizeof c);
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        char key[16];
        const char *p = line;
        size_t k = 0;
        while (*p && *p != ' ' && *p != '\t' && k + 1 < sizeof key) key[k++] = *p++;
        key[k] = '\0';
        if (strcmp(key, "case") == 0) {
            if (!lpt_check(!in_case, "%s:%lld: case inside case %s", path, (long long)lineno,
                           c.name))
                case_free(&c);
            memset(&c, 0, sizeof c);
            snprintf(c.name, sizeof c.name, "%s", skip_sp(p));
            c.line = lineno;
            c.shift = LP_SHIFT_NEXT;
            c.ignore_index = -100;
            c.tau = 1.0;
            in_case = 1;
            skipping = 0;
            continue;
        }
        if (skipping) continue;
        if (!in_case) {
            lpt_check(0, "%s:%lld: line outside a case: %.40s", path, (long long)lineno, line);
            continue;
        }
        int done = 0;
        const char *msg = parse_line(&c, key, p, &done);
        if (msg) {
            lpt_check(0, "%s:%lld: case %s: %s", path, (long long)lineno, c.name, msg);
            case_free(&c);
            in_case = 0;
            skipping = 1;
            continue;
        }
        if (done) {
            run_case(&c);
            case_free(&c);
            in_case = 0;
        }
    }
    lpt_check(!in_case, "%s: file ends inside case %s", path, c.name);
    case_free(&c);
    free(line);
    fclose(f);
}

/* Every *.txt of a folder, in name order; a plain file is checked as it is. */
static void check_path(const char *path)
{
    struct stat sb;
    if (!lpt_check(stat(path, &sb) == 0, "%s: %s (run from the project root)", path,
                   strerror(errno)))
        return;
    if (!S_ISDIR(sb.st_mode)) {
        check_file(path);
        return;
    }
    char **names;
    size_t n;
    lp_status st = lp_dir_list(&names, &n, path, ".txt", NULL);
    LP_ASSERT(st != LP_ERR_NOMEM);
    if (!lpt_check(st == LP_OK, "%s: opendir: %s", path, strerror(errno))) return;
    lpt_check(n > 0, "%s: no *.txt vector files", path);
    for (size_t i = 0; i < n; i++) {
        size_t need = strlen(path) + strlen(names[i]) + 2;
        char *file = malloc(need);
        LP_ASSERT(file != NULL);
        snprintf(file, need, "%s/%s", path, names[i]);
        check_file(file);
        free(file);
    }
    lp_dir_list_free(names, n);
}

/* Level 2: the large-vocabulary cases, generated now by the oracle (not committed). */
static void check_large(void)
{
    char dir[] = "/tmp/lpcert_vectors_XXXXXX";
    if (!lpt_check(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno))) return;
    char cmd[256], file[128];
    snprintf(cmd, sizeof cmd, "python3 vectors/gen_vectors.py --large %s", dir);
    snprintf(file, sizeof file, "%s/large.txt", dir);
    printf("t_vectors: level 2: %s\n", cmd);
    int rc = system(cmd);
    if (lpt_check(rc == 0, "'%s' failed (status %d): python3 with mpmath is needed", cmd, rc))
        check_file(file);
    remove(file);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    lpt_begin("t_vectors");
    if (argc > 1) {
        for (int i = 1; i < argc; i++) check_path(argv[i]);
    } else {
        check_path(CORPUS_DIR);
        if (lpt_level() >= 2) check_large();
        else printf("t_vectors: large-V cases skipped (LPCERT_LEVEL=2 generates and checks them)\n");
    }
    printf("t_vectors: %lld files, %lld cases, %lld scored tokens (%lld counted), %lld sequences\n",
           (long long)tot_files, (long long)tot_cases, (long long)tot_tokens,
           (long long)tot_counted, (long long)tot_seqs);
    return lpt_end();
}
