/* check/shard.c: partial files of sharded runs and their exact merge (lp_check_shard.h, which
 * argues why the fold below equals the unsharded run). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lp_buf.h"
#include "lp_check_certify.h"
#include "lp_check_shard.h"

#define KSTORE 8
#define STR_MAX 8192

struct ck_partial {
    char name[1024];           /* the file, for messages */
    int i, n;
    char command[16];
    char digest[65];
    ck_run r;
    ck_header h;
    int quiet, certify, has_what;
    unsigned fm[CK_NOUT];
    int64_t total;
    int64_t rows;              /* > 0: shards of the sequences of one case of that many (ROWS) */
    uint64_t seed;
    double seconds, elapsed;
    int64_t ran, skipped, nrand;
    char suite[STR_MAX], cand[STR_MAX], what[STR_MAX], repro[STR_MAX];
    char roles[8][64], paths[8][4096];
    char baseline[256];
    char kstore[KSTORE][128];  /* rel_kernel names (the groups point here) */
};

int ck_shard_parse(const char *v, int *i, int *n)
{
    char *e;
    errno = 0;
    long a = strtol(v, &e, 10);
    if (e == v || *e != '/' || errno) return 0;
    const char *w = e + 1;
    long b = strtol(w, &e, 10);
    if (e == w || *e || errno || b < 1 || b > 100000 || a < 1 || a > b) return 0;
    *i = (int)a;
    *n = (int)b;
    return 1;
}

void ck_shard_range(size_t count, int i, int n, size_t *lo, size_t *hi)
{
    *lo = (size_t)((unsigned long long)count * (unsigned)(i - 1) / (unsigned)n);
    *hi = (size_t)((unsigned long long)count * (unsigned)i / (unsigned)n);
}

/* ---- writing ---------------------------------------------------------------------------------- */

typedef struct wbuf {
    char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void wput(wbuf *w, const char *fmt, ...) LP_PRINTF(2, 3);
static void wput(wbuf *w, const char *fmt, ...)
{
    if (w->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(w->p ? w->p + w->n : NULL, w->p ? w->cap - w->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            w->oom = 1;
            return;
        }
        if (w->p && w->n + (size_t)k < w->cap) {
            w->n += (size_t)k;
            return;
        }
        if (!LP_VEC_RESERVE(w->p, w->cap, w->n + (size_t)k + 1, 1 << 16)) {
            w->oom = 1;
            return;
        }
    }
}

static void wstr(wbuf *w, const char *s)
{
    if (!s) {
        wput(w, " -");
        return;
    }
    wput(w, " s");
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q <= 0x20 || *q >= 0x7f || *q == '%') wput(w, "%%%02X", *q);
        else wput(w, "%c", *q);
    }
}

static void wrepro(wbuf *w, const char *key, const ck_repro *x)
{
    wput(w, "%s %d", key, x->set);
    wstr(w, x->case_name);
    wput(w, " %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d %a %a"
         " %a %a %d %a %a", x->out, x->b, x->ts, x->t_label, x->label, x->V, x->count, (int)x->fmt,
         x->y, x->ref_f, x->dd.hi, x->dd.lo, (int)x->m.cls, x->m.err_ulp, x->m.err_abs);
    wstr(w, x->note);
    wput(w, "\n");
}

/* The identity block: what every shard of one run must share. */
static void identity(wbuf *w, const ck_run *r, const ck_header *h, const ck_shard_info *si,
                     int from_extra)
{
    const ck_options *o = &r->opt;
    wput(w, "opt");
    for (int k = 0; k < CK_NOUT; k++) wput(w, " %a %a", o->max_ulp[k], o->max_abs[k]);
    wstr(w, o->baseline);
    wput(w, " %a %d %d %d %d %d %d %d\n", o->factor, o->no_default, o->default_bound,
         (int)o->masking, (int)o->empty, (int)o->batch, o->threads, o->slow);
    wput(w, "command");
    wstr(w, h->command);
    wput(w, "\nshards %d %" PRId64 " %d %d %d\n", si->n, si->total, si->quiet, h->repro_cases,
         h->failures_only);
    wput(w, "suite");
    wstr(w, h->suite);
    wput(w, "\ncandidate %d", si->cand_what != NULL);
    wstr(w, si->cand_what ? si->cand_what : h->candidate);
    wput(w, "\nrepro");
    wstr(w, h->repro);
    wput(w, "\n");
    for (int k = 0; k < h->nfiles; k++) {
        wput(w, "file");
        wstr(w, h->files[k].role);
        wstr(w, h->files[k].path);
        wstr(w, h->files[k].sha256);
        wput(w, "\n");
    }
    for (int k = from_extra; k < h->nextra; k++) {
        wput(w, "extra");
        wstr(w, h->extra[k]);
        wput(w, "\n");
    }
    if (si->certify) wput(w, "certify %" PRIu64 " %a\n", si->seed, si->seconds);
    if (si->rows) wput(w, "rows %" PRId64 "\n", si->rows);
}

static void wtally(wbuf *w, const ck_case_tally *t)
{
    wput(w, "tally %d", t->set);
    wstr(w, t->name);
    for (int h = 0; h < CK_NHYP; h++) wput(w, " %d", t->applies[h]);
    wput(w, " %" PRId64 " %" PRId64, t->wrong_tok, t->wrong_sum);
    for (int h = 0; h < CK_NHYP; h++) wput(w, " %" PRId64 " %" PRId64, t->match_tok[h], t->match_sum[h]);
    wput(w, " %" PRId64 " %" PRId64, t->ovf_n, t->ovf_explained);
    wstr(w, t->ovf_first);
    wstr(w, t->ovf_fix);
    wput(w, "\n");
}

lp_status ck_partial_write(const char *path, const ck_run *r, const ck_header *h,
                           const ck_shard_info *si, lp_error *err)
{
    /* A run that judged gradients (a backward kernel's certify) holds them in r->grad, which a
     * partial does not carry: refuse rather than merge a report without them. */
    for (int k = 0; k < 4; k++)
        if (r->grad[k])
            return lp_fail(err, LP_ERR_USAGE, "--shard: the kernel has a backward entry, and "
                           "gradients are not sharded (not implemented)");
    wbuf w = {NULL, 0, 0, 0}, id = {NULL, 0, 0, 0};
    identity(&id, r, h, si, si->certify ? 1 : 0);
    char digest[65] = "";
    if (!id.oom) {
        ck_sha *sh = ck_sha_new();
        if (!sh) id.oom = 1;
        ck_sha_update(sh, id.p, id.n);
        ck_sha_final(sh, digest);
    }
    wput(&w, "lpcert-partial %d\nshard %d %d\ndigest %s\n", CK_PARTIAL_VERSION, si->i, si->n, digest);
    if (!id.oom) wput(&w, "%s", id.p);
    wput(&w, "end-identity\nfm %u %u %u\n", si->fm[0], si->fm[1], si->fm[2]);
    if (si->certify)
        wput(&w, "certrun %" PRId64 " %" PRId64 " %" PRId64 " %a\n", si->ran, si->skipped, si->nrand,
             si->elapsed);
    wput(&w, "run %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
         " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n", r->cases,
         r->values, r->hazard_seqs, r->leaked_seqs, r->empty_seqs, r->empty_nan, r->empty_zero,
         r->empty_other, r->empty_as_policy, r->empty_policy_nan, r->empty_policy_zero,
         r->batch_checks, r->batch_fail);
    wput(&w, "js %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d\n", r->js.values,
         r->js.enclosure, r->js.tier2, r->js.mpfr_tokens, r->js.mpfr_seqs, r->js.used);
    if (si->rows) wtally(&w, &r->tally);
    for (int k = 0; k < CK_ND; k++) {
        if (!r->d[k].n) continue;
        wput(&w, "diag %d %" PRId64, k, r->d[k].n);
        wstr(&w, r->d[k].example);
        wstr(&w, r->d[k].fix);
        wput(&w, "\n");
    }
    for (size_t gi = 0; gi < r->ng; gi++) {
        const ck_group *g = &r->g[gi];
        wput(&w, "group");
        wstr(&w, g->cls);
        wput(&w, " %d %u %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d %" PRId64
             " %a %a %" PRIu64 " %" PRId64 " %" PRId64 " %a %a", g->out, g->fmts, g->n, g->n_cr,
             g->n_mismatch, g->n_leak, g->n_over, g->processed, g->n_keptset, g->max_ulp,
             g->max_abs, g->max_steps, g->rel_n, g->rel_base_mismatch, g->rel_cand_max,
             g->rel_base_max);
        wstr(&w, g->rel_kernel);
        wput(&w, " %zu\n", g->nulps);
        wrepro(&w, "worst", &g->worst);
        wrepro(&w, "relworst", &g->rel_worst);
        for (size_t k = 0; k < g->nulps; k++)
            wput(&w, "%s%a%s", k % 8 ? " " : "u ", g->ulps[k], k % 8 == 7 || k + 1 == g->nulps ? "\n" : "");
    }
    free(id.p);
    if (!w.oom) {   /* the last line: the SHA-256 of everything before it */
        char all[65];
        ck_sha *sh = ck_sha_new();
        if (!sh) w.oom = 1;
        ck_sha_update(sh, w.p, w.n);
        ck_sha_final(sh, all);
        wput(&w, "end %s\n", all);
    }
    if (w.oom) {
        free(w.p);
        return lp_fail(err, LP_ERR_NOMEM, "partial %s: out of memory", path);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    lp_status s = LP_OK;
    if (!f) s = lp_fail(err, LP_ERR_IO, "partial %s: %s", tmp, strerror(errno));
    else {
        int bad = fwrite(w.p, 1, w.n, f) != w.n;
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, path) != 0) {
            s = lp_fail(err, LP_ERR_IO, "partial %s: cannot write (%s)", path, strerror(errno));
            remove(tmp);
        }
    }
    free(w.p);
    return s;
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct rd {
    const char *p, *end;       /* the rest of the data */
    const char *start;         /* all of it */
    const char *name;
    int64_t line;
    char *tok[48];             /* the current line's tokens (in lbuf) */
    int nt;
    char *lbuf;
    size_t lcap;
    lp_error *err;
} rd;

static lp_status bad(rd *r, const char *what)
{
    return lp_fail(r->err, LP_ERR_INPUT, "partial %s: line %" PRId64 ": %s", r->name, r->line, what);
}

/* The next line split into tokens; key must be its first (NULL: any). ntok: tokens wanted
 * (-1: any up to 48). */
static lp_status next_line(rd *r, const char *key, int ntok)
{
    if (r->p >= r->end) {
        r->line++;
        return bad(r, "the file ends early (truncated?)");
    }
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    r->line++;
    if (!nl) return bad(r, "the last line has no newline (truncated?)");
    size_t len = (size_t)(nl - r->p);
    if (!LP_VEC_RESERVE(r->lbuf, r->lcap, len + 1, 256))
        return lp_fail(r->err, LP_ERR_NOMEM, "partial %s: out of memory", r->name);
    memcpy(r->lbuf, r->p, len);
    r->lbuf[len] = 0;
    r->p = nl + 1;
    if (memchr(r->lbuf, 0, len)) return bad(r, "a NUL byte");
    r->nt = 0;
    char *q = r->lbuf;
    while (*q) {
        if (r->nt == 48) return bad(r, "too many fields");
        r->tok[r->nt++] = q;
        char *sp = strchr(q, ' ');
        if (!sp) break;
        *sp = 0;
        q = sp + 1;
        if (!*q) return bad(r, "a trailing space");
    }
    if (r->nt == 0) return bad(r, "an empty line");
    if (key && strcmp(r->tok[0], key) != 0) {
        char m[160];
        snprintf(m, sizeof m, "'%.40s' where '%s' was expected", r->tok[0], key);
        return bad(r, m);
    }
    if (ntok >= 0 && r->nt != ntok) {
        char m[160];
        snprintf(m, sizeof m, "'%s' has %d fields, not %d", r->tok[0], r->nt, ntok);
        return bad(r, m);
    }
    return LP_OK;
}

static lp_status get_i64(rd *r, int k, int64_t lo, int64_t hi, int64_t *v)
{
    const char *t = r->tok[k];
    char *e;
    errno = 0;
    long long x = strtoll(t, &e, 10);
    if (e == t || *e || errno || x < lo || x > hi) {
        char m[160];
        snprintf(m, sizeof m, "field %d ('%.40s') is not an integer in [%" PRId64 ", %" PRId64 "]",
                 k + 1, t, lo, hi);
        return bad(r, m);
    }
    *v = (int64_t)x;
    return LP_OK;
}

static lp_status get_int(rd *r, int k, int lo, int hi, int *v)
{
    int64_t x;
    lp_status s = get_i64(r, k, lo, hi, &x);
    if (s == LP_OK) *v = (int)x;
    return s;
}

static lp_status get_cnt(rd *r, int k, int64_t *v)
{
    return get_i64(r, k, 0, INT64_MAX, v);
}

static lp_status get_u64(rd *r, int k, uint64_t *v)
{
    const char *t = r->tok[k];
    char *e;
    errno = 0;
    if (*t == '-') return bad(r, "a negative unsigned field");
    unsigned long long x = strtoull(t, &e, 10);
    if (e == t || *e || errno) return bad(r, "an unsigned field that is not a number");
    *v = (uint64_t)x;
    return LP_OK;
}

static lp_status get_dbl(rd *r, int k, double *v)
{
    const char *t = r->tok[k];
    char *e;
    *v = strtod(t, &e);
    if (e == t || *e) {
        char m[120];
        snprintf(m, sizeof m, "field %d ('%.40s') is not a number", k + 1, t);
        return bad(r, m);
    }
    return LP_OK;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string field into dst (cap bytes); *null set (when given) for '-'. */
static lp_status get_str(rd *r, int k, char *dst, size_t cap, int *null)
{
    const char *t = r->tok[k];
    if (null) *null = 0;
    if (strcmp(t, "-") == 0 && null) {
        *null = 1;
        dst[0] = 0;
        return LP_OK;
    }
    if (t[0] != 's') return bad(r, "a string field without its 's'");
    size_t n = 0;
    for (const char *q = t + 1; *q; q++) {
        int c = (unsigned char)*q;
        if (c == '%') {
            int a = hexval(q[1]), b = a < 0 ? -1 : hexval(q[2]);
            if (a < 0 || b < 0) return bad(r, "a bad %XX escape");
            c = a * 16 + b;
            if (c == 0) return bad(r, "an escaped NUL");
            q += 2;
        }
        if (n + 1 >= cap) return bad(r, "a string too long");
        dst[n++] = (char)c;
    }
    dst[n] = 0;
    return LP_OK;
}

static lp_status get_repro(rd *r, const char *key, ck_repro *x)
{
    lp_status s = next_line(r, key, 19);
    int fmt = 0, cls = 0;
    if (s == LP_OK) s = get_int(r, 1, 0, 1, &x->set);
    if (s == LP_OK) s = get_str(r, 2, x->case_name, sizeof x->case_name, NULL);
    if (s == LP_OK) s = get_int(r, 3, 0, CK_NOUT - 1, &x->out);
    if (s == LP_OK) s = get_i64(r, 4, -1, INT64_MAX, &x->b);
    if (s == LP_OK) s = get_i64(r, 5, -1, INT64_MAX, &x->ts);
    if (s == LP_OK) s = get_i64(r, 6, -1, INT64_MAX, &x->t_label);
    if (s == LP_OK) s = get_i64(r, 7, INT64_MIN, INT64_MAX, &x->label);
    if (s == LP_OK) s = get_cnt(r, 8, &x->V);
    if (s == LP_OK) s = get_cnt(r, 9, &x->count);
    if (s == LP_OK) s = get_int(r, 10, 0, LP_NFORMATS - 1, &fmt);
    if (s == LP_OK) s = get_dbl(r, 11, &x->y);
    if (s == LP_OK) s = get_dbl(r, 12, &x->ref_f);
    if (s == LP_OK) s = get_dbl(r, 13, &x->dd.hi);
    if (s == LP_OK) s = get_dbl(r, 14, &x->dd.lo);
    if (s == LP_OK) s = get_int(r, 15, 0, 2, &cls);
    if (s == LP_OK) s = get_dbl(r, 16, &x->m.err_ulp);
    if (s == LP_OK) s = get_dbl(r, 17, &x->m.err_abs);
    if (s == LP_OK) s = get_str(r, 18, x->note, sizeof x->note, NULL);
    x->fmt = (lp_format)fmt;
    x->m.cls = (lp_cmp_class)cls;
    x->jref = -1;
    return s;
}

/* A rel_kernel name interned in p (groups point at p->kstore). */
static const char *intern(ck_partial *p, const char *k)
{
    if (!k) return NULL;
    for (int i = 0; i < KSTORE; i++) {
        if (!p->kstore[i][0]) {
            snprintf(p->kstore[i], sizeof p->kstore[i], "%s", k);
            return p->kstore[i];
        }
        if (strcmp(p->kstore[i], k) == 0) return p->kstore[i];
    }
    return NULL;
}

static lp_status parse_body(ck_partial *p, rd *r)
{
    ck_run *ru = &p->r;
    ck_header *h = &p->h;
    ck_options *o = &ru->opt;
    lp_status s = next_line(r, "lpcert-partial", 2);
    if (s != LP_OK) return bad(r, "not an lpcert partial file (no 'lpcert-partial' line)");
    if (strcmp(r->tok[1], "1") != 0) return bad(r, "a partial of another version (this reads 1)");
    if ((s = next_line(r, "shard", 3)) != LP_OK) return s;
    if ((s = get_int(r, 1, 1, 100000, &p->i)) != LP_OK) return s;
    if ((s = get_int(r, 2, 1, 100000, &p->n)) != LP_OK) return s;
    if (p->i > p->n) return bad(r, "shard I > N");
    if ((s = next_line(r, "digest", 2)) != LP_OK) return s;
    if (strlen(r->tok[1]) != 64) return bad(r, "a digest that is not 64 hex digits");
    snprintf(p->digest, sizeof p->digest, "%s", r->tok[1]);
    const char *id0 = r->p;
    /* identity */
    if ((s = next_line(r, "opt", 16)) != LP_OK) return s;
    for (int k = 0; k < CK_NOUT && s == LP_OK; k++) {
        s = get_dbl(r, 1 + 2 * k, &o->max_ulp[k]);
        if (s == LP_OK) s = get_dbl(r, 2 + 2 * k, &o->max_abs[k]);
    }
    int null = 0, v[8];
    if (s == LP_OK) s = get_str(r, 7, p->baseline, sizeof p->baseline, &null);
    o->baseline = null ? NULL : p->baseline;
    if (s == LP_OK) s = get_dbl(r, 8, &o->factor);
    for (int k = 0; k < 7 && s == LP_OK; k++) s = get_int(r, 9 + k, 0, 64, &v[k]);
    if (s != LP_OK) return s;
    if (v[0] > 1 || v[1] > 1 || v[2] > 1 || v[3] > 2 || v[4] > 2 || v[6] > 1)
        return bad(r, "an option out of range");
    o->no_default = v[0];
    o->default_bound = v[1];
    o->masking = (ck_masking)v[2];
    o->empty = (ck_empty)v[3];
    o->batch = (ck_batch)v[4];
    o->threads = v[5];
    o->slow = v[6];
    if ((s = next_line(r, "command", 2)) != LP_OK) return s;
    if ((s = get_str(r, 1, p->command, sizeof p->command, NULL)) != LP_OK) return s;
    if (strcmp(p->command, "check") && strcmp(p->command, "certify"))
        return bad(r, "a command other than check and certify");
    h->command = p->command;
    if ((s = next_line(r, "shards", 6)) != LP_OK) return s;
    int nn = 0;
    if ((s = get_int(r, 1, 1, 100000, &nn)) != LP_OK) return s;
    if (nn != p->n) return bad(r, "the identity's N differs from the shard line's");
    if ((s = get_cnt(r, 2, &p->total)) != LP_OK) return s;
    if ((s = get_int(r, 3, 0, 1, &p->quiet)) != LP_OK) return s;
    if ((s = get_int(r, 4, 0, 1, &h->repro_cases)) != LP_OK) return s;
    if ((s = get_int(r, 5, 0, 1, &h->failures_only)) != LP_OK) return s;
    if ((s = next_line(r, "suite", 2)) != LP_OK) return s;
    if ((s = get_str(r, 1, p->suite, sizeof p->suite, NULL)) != LP_OK) return s;
    h->suite = p->suite;
    if ((s = next_line(r, "candidate", 3)) != LP_OK) return s;
    if ((s = get_int(r, 1, 0, 1, &p->has_what)) != LP_OK) return s;
    if ((s = get_str(r, 2, p->has_what ? p->what : p->cand, STR_MAX, NULL)) != LP_OK) return s;
    h->candidate = p->cand;
    if ((s = next_line(r, "repro", 2)) != LP_OK) return s;
    if ((s = get_str(r, 1, p->repro, sizeof p->repro, &null)) != LP_OK) return s;
    h->repro = null ? NULL : p->repro;
    int ne = 0;
    for (;;) {
        if ((s = next_line(r, NULL, -1)) != LP_OK) return s;
        const char *k = r->tok[0];
        if (strcmp(k, "file") == 0) {
            if (r->nt != 4 || h->nfiles == 8) return bad(r, "a bad 'file' line");
            ck_file *f = &h->files[h->nfiles];
            if ((s = get_str(r, 1, p->roles[h->nfiles], sizeof p->roles[0], NULL)) != LP_OK) return s;
            if ((s = get_str(r, 2, p->paths[h->nfiles], sizeof p->paths[0], NULL)) != LP_OK) return s;
            if ((s = get_str(r, 3, f->sha256, sizeof f->sha256, NULL)) != LP_OK) return s;
            f->role = p->roles[h->nfiles];
            f->path = p->paths[h->nfiles];
            h->nfiles++;
        } else if (strcmp(k, "extra") == 0) {
            if (r->nt != 2 || ne == 7) return bad(r, "a bad 'extra' line");
            if ((s = get_str(r, 1, h->extra[1 + ne], sizeof h->extra[0], NULL)) != LP_OK) return s;
            ne++;
        } else if (strcmp(k, "certify") == 0) {
            if (r->nt != 3 || p->certify) return bad(r, "a bad 'certify' line");
            p->certify = 1;
            if ((s = get_u64(r, 1, &p->seed)) != LP_OK) return s;
            if ((s = get_dbl(r, 2, &p->seconds)) != LP_OK) return s;
        } else if (strcmp(k, "rows") == 0) {
            if (r->nt != 2 || p->rows) return bad(r, "a bad 'rows' line");
            if ((s = get_i64(r, 1, 1, INT64_MAX, &p->rows)) != LP_OK) return s;
            if (p->total != 1) return bad(r, "shards of rows of a run of other than one case");
        } else if (strcmp(k, "end-identity") == 0 && r->nt == 1) {
            break;
        } else {
            return bad(r, "an unknown line in the identity block");
        }
    }
    /* the identity as written: every line from "opt" to before "end-identity" */
    {
        const char *id1 = r->p - strlen("end-identity\n");
        char dg[65];
        ck_sha *sh = ck_sha_new();
        if (!sh) return lp_fail(r->err, LP_ERR_NOMEM, "partial %s: out of memory", r->name);
        ck_sha_update(sh, id0, (size_t)(id1 - id0));
        ck_sha_final(sh, dg);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION   /* fuzzers: past the checksums, into the parser */
        if (strcmp(dg, p->digest) != 0) return bad(r, "the identity block does not match its digest");
#endif
    }
    /* without the certify summary the extras start at 0 */
    if (!p->certify) memmove(h->extra[0], h->extra[1], sizeof h->extra[0] * (size_t)ne);
    h->nextra = ne + p->certify;
    if ((s = next_line(r, "fm", 4)) != LP_OK) return s;
    for (int k = 0; k < CK_NOUT; k++) {
        int64_t x;
        if ((s = get_i64(r, 1 + k, 0, 15, &x)) != LP_OK) return s;
        p->fm[k] = (unsigned)x;
    }
    if (p->certify) {
        if ((s = next_line(r, "certrun", 5)) != LP_OK) return s;
        if ((s = get_cnt(r, 1, &p->ran)) != LP_OK) return s;
        if ((s = get_cnt(r, 2, &p->skipped)) != LP_OK) return s;
        if ((s = get_cnt(r, 3, &p->nrand)) != LP_OK) return s;
        if ((s = get_dbl(r, 4, &p->elapsed)) != LP_OK) return s;
    }
    if ((s = next_line(r, "run", 14)) != LP_OK) return s;
    int64_t *rf[13] = {&ru->cases, &ru->values, &ru->hazard_seqs, &ru->leaked_seqs, &ru->empty_seqs,
                       &ru->empty_nan, &ru->empty_zero, &ru->empty_other, &ru->empty_as_policy,
                       &ru->empty_policy_nan, &ru->empty_policy_zero, &ru->batch_checks,
                       &ru->batch_fail};
    for (int k = 0; k < 13 && s == LP_OK; k++) s = get_cnt(r, 1 + k, rf[k]);
    if (s == LP_OK) s = next_line(r, "js", 7);
    int64_t *jf[5] = {&ru->js.values, &ru->js.enclosure, &ru->js.tier2, &ru->js.mpfr_tokens,
                      &ru->js.mpfr_seqs};
    for (int k = 0; k < 5 && s == LP_OK; k++) s = get_cnt(r, 1 + k, jf[k]);
    if (s == LP_OK) s = get_int(r, 6, 0, 1, &ru->js.used);
    if (s != LP_OK) return s;
    int have_tally = 0;
    for (;;) {
        if ((s = next_line(r, NULL, -1)) != LP_OK) return s;
        const char *k = r->tok[0];
        if (strcmp(k, "end") == 0 && r->nt == 2) {
            if (p->rows && !have_tally) return bad(r, "a partial of rows without its 'tally' line");
            char dg[65];
            ck_sha *sh = ck_sha_new();
            if (!sh) return lp_fail(r->err, LP_ERR_NOMEM, "partial %s: out of memory", r->name);
            const size_t endlen = strlen("end ") + strlen(r->tok[1]) + 1;
            ck_sha_update(sh, r->start, (size_t)(r->p - r->start) - endlen);
            ck_sha_final(sh, dg);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
            if (strcmp(dg, r->tok[1]) != 0)
                return bad(r, "the file does not match its checksum (corrupted or edited)");
#endif
            break;
        }
        if (strcmp(k, "tally") == 0) {
            if (!p->rows || have_tally++ || r->nt != 24) return bad(r, "a bad 'tally' line");
            ck_case_tally *t = &ru->tally;
            if ((s = get_int(r, 1, 0, 1, &t->set)) != LP_OK) return s;   /* 0: no sequence */
            if ((s = get_str(r, 2, t->name, sizeof t->name, NULL)) != LP_OK) return s;
            for (int q = 0; q < CK_NHYP && s == LP_OK; q++) s = get_int(r, 3 + q, 0, 1, &t->applies[q]);
            if (s == LP_OK) s = get_cnt(r, 8, &t->wrong_tok);
            if (s == LP_OK) s = get_cnt(r, 9, &t->wrong_sum);
            for (int q = 0; q < CK_NHYP && s == LP_OK; q++) {
                s = get_i64(r, 10 + 2 * q, 0, t->wrong_tok, &t->match_tok[q]);
                if (s == LP_OK) s = get_i64(r, 11 + 2 * q, 0, t->wrong_sum, &t->match_sum[q]);
            }
            if (s == LP_OK) s = get_cnt(r, 20, &t->ovf_n);
            if (s == LP_OK) s = get_i64(r, 21, 0, t->ovf_n, &t->ovf_explained);
            if (s == LP_OK) s = get_str(r, 22, t->ovf_first, sizeof t->ovf_first, NULL);
            if (s == LP_OK) s = get_str(r, 23, t->ovf_fix, sizeof t->ovf_fix, NULL);
            if (s != LP_OK) return s;
            continue;
        }
        if (strcmp(k, "diag") == 0) {
            int kind = 0;
            if (r->nt != 5) return bad(r, "a bad 'diag' line");
            if ((s = get_int(r, 1, 0, CK_ND - 1, &kind)) != LP_OK) return s;
            ck_diag *d = &ru->d[kind];
            if (d->n) return bad(r, "a diagnosis given twice");
            if ((s = get_i64(r, 2, 1, INT64_MAX, &d->n)) != LP_OK) return s;
            if ((s = get_str(r, 3, d->example, sizeof d->example, NULL)) != LP_OK) return s;
            if ((s = get_str(r, 4, d->fix, sizeof d->fix, NULL)) != LP_OK) return s;
            continue;
        }
        if (strcmp(k, "group") != 0 || r->nt != 20) return bad(r, "an unknown line");
        if (!LP_VEC_RESERVE(ru->g, ru->capg, ru->ng + 1, 32))
            return lp_fail(r->err, LP_ERR_NOMEM, "partial %s: out of memory", r->name);
        ck_group *g = &ru->g[ru->ng++];
        memset(g, 0, sizeof *g);
        int64_t fm = 0, nu = 0;
        char kn[128];
        s = get_str(r, 1, g->cls, sizeof g->cls, NULL);
        if (s == LP_OK) s = get_int(r, 2, 0, CK_NOUT - 1, &g->out);
        if (s == LP_OK) s = get_i64(r, 3, 0, 15, &fm);
        int64_t *gf[5] = {&g->n, &g->n_cr, &g->n_mismatch, &g->n_leak, &g->n_over};
        for (int q = 0; q < 5 && s == LP_OK; q++) s = get_cnt(r, 4 + q, gf[q]);
        if (s == LP_OK) s = get_int(r, 9, 0, 1, &g->processed);
        if (s == LP_OK) s = get_cnt(r, 10, &g->n_keptset);
        if (s == LP_OK) s = get_dbl(r, 11, &g->max_ulp);
        if (s == LP_OK) s = get_dbl(r, 12, &g->max_abs);
        if (s == LP_OK) s = get_u64(r, 13, &g->max_steps);
        if (s == LP_OK) s = get_cnt(r, 14, &g->rel_n);
        if (s == LP_OK) s = get_cnt(r, 15, &g->rel_base_mismatch);
        if (s == LP_OK) s = get_dbl(r, 16, &g->rel_cand_max);
        if (s == LP_OK) s = get_dbl(r, 17, &g->rel_base_max);
        if (s == LP_OK) s = get_str(r, 18, kn, sizeof kn, &null);
        if (s == LP_OK) s = get_cnt(r, 19, &nu);
        if (s != LP_OK) return s;
        g->fmts = (unsigned)fm;
        if (!null && !(g->rel_kernel = intern(p, kn))) return bad(r, "too many baseline kernels");
        for (size_t q = 0; q + 1 < ru->ng; q++)
            if (ru->g[q].out == g->out && strcmp(ru->g[q].cls, g->cls) == 0)
                return bad(r, "a group given twice");
        if ((uint64_t)nu > (uint64_t)(r->end - r->p) / 2) return bad(r, "more ulps than the file holds");
        if ((s = get_repro(r, "worst", &g->worst)) != LP_OK) return s;
        if ((s = get_repro(r, "relworst", &g->rel_worst)) != LP_OK) return s;
        if (nu > 0) {
            g->ulps = malloc((size_t)nu * sizeof *g->ulps);
            if (!g->ulps) return lp_fail(r->err, LP_ERR_NOMEM, "partial %s: out of memory", r->name);
            g->capulps = (size_t)nu;
        }
        while ((int64_t)g->nulps < nu) {
            if ((s = next_line(r, "u", -1)) != LP_OK) return s;
            if (r->nt < 2 || r->nt > 9 || (int64_t)g->nulps + r->nt - 1 > nu)
                return bad(r, "a bad 'u' line");
            for (int q = 1; q < r->nt; q++) {
                double x;
                if ((s = get_dbl(r, q, &x)) != LP_OK) return s;
                g->ulps[g->nulps++] = x;
            }
        }
    }
    if (r->p != r->end) {
        r->line++;
        return bad(r, "data after 'end'");
    }
    return LP_OK;
}

lp_status ck_partial_parse(ck_partial **out, const char *name, const char *data, size_t len,
                           lp_error *err)
{
    *out = NULL;
    ck_partial *p = calloc(1, sizeof *p);
    if (!p) return lp_fail(err, LP_ERR_NOMEM, "partial %s: out of memory", name);
    snprintf(p->name, sizeof p->name, "%s", name);
    rd r = {data, data + len, data, p->name, 0, {NULL}, 0, NULL, 0, err};
    lp_status s = parse_body(p, &r);
    free(r.lbuf);
    if (s != LP_OK) {
        ck_partial_free(p);
        return s;
    }
    *out = p;
    return LP_OK;
}

lp_status ck_partial_read(ck_partial **out, const char *path, lp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "partial %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (!LP_VEC_RESERVE(buf, cap, n + 65536, 65536)) {
            fclose(f);
            free(buf);
            return lp_fail(err, LP_ERR_NOMEM, "partial %s: out of memory", path);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    const int rerr = ferror(f);
    fclose(f);
    lp_status s = rerr ? lp_fail(err, LP_ERR_IO, "partial %s: read error", path)
                       : ck_partial_parse(out, path, buf, n, err);
    free(buf);
    return s;
}

void ck_partial_free(ck_partial *p)
{
    if (!p) return;
    ck_run_free(&p->r);
    free(p);
}

/* ---- the merge (lp_check_shard.h, MERGE) ---------------------------------------------------------- */

static int worst_beats(const ck_repro *cur, const ck_repro *w, const ck_options *o)
{
    const int rc = ck_repro_rank(cur, o), rw = ck_repro_rank(w, o);
    return rc > rw || (rc == rw && rc < 2 && cur->m.err_ulp > w->m.err_ulp);
}

/* a (earlier cases) followed by b (later ones), into a. */
static lp_status fold(ck_partial *pa, ck_partial *pb, lp_error *err)
{
    ck_run *a = &pa->r, *b = &pb->r;
    a->cases += b->cases;
    a->values += b->values;
    a->hazard_seqs += b->hazard_seqs;
    a->leaked_seqs += b->leaked_seqs;
    a->empty_seqs += b->empty_seqs;
    a->empty_nan += b->empty_nan;
    a->empty_zero += b->empty_zero;
    a->empty_other += b->empty_other;
    a->empty_as_policy += b->empty_as_policy;
    a->empty_policy_nan += b->empty_policy_nan;
    a->empty_policy_zero += b->empty_policy_zero;
    a->batch_checks += b->batch_checks;
    a->batch_fail += b->batch_fail;
    a->js.values += b->js.values;
    a->js.enclosure += b->js.enclosure;
    a->js.tier2 += b->js.tier2;
    a->js.mpfr_tokens += b->js.mpfr_tokens;
    a->js.mpfr_seqs += b->js.mpfr_seqs;
    a->js.used |= b->js.used;
    for (int k = 0; k < CK_ND; k++) {
        if (a->d[k].n == 0) a->d[k] = b->d[k];
        /* ROWS: a baseline that cannot read the case says so once per case, in every shard */
        else if (!(pa->rows && k == CK_D_NO_BASELINE)) a->d[k].n += b->d[k].n;
    }
    if (pa->rows) ck_case_tally_add(&a->tally, &b->tally);
    for (int k = 0; k < CK_NOUT; k++) pa->fm[k] |= pb->fm[k];
    pa->ran += pb->ran;
    pa->skipped += pb->skipped;
    pa->nrand += pb->nrand;
    pa->elapsed += pb->elapsed;
    for (size_t i = 0; i < b->ng; i++) {
        ck_group *gb = &b->g[i], *g = NULL;
        for (size_t q = 0; q < a->ng && !g; q++)
            if (a->g[q].out == gb->out && strcmp(a->g[q].cls, gb->cls) == 0) g = &a->g[q];
        const char *bk = gb->rel_kernel ? intern(pa, gb->rel_kernel) : NULL;
        if (gb->rel_kernel && !bk)
            return lp_fail(err, LP_ERR_INPUT, "partial %s: too many baseline kernels", pb->name);
        if (!g) {   /* first seen in b: appended, as the unsharded run appends it */
            if (!LP_VEC_RESERVE(a->g, a->capg, a->ng + 1, 32))
                return lp_fail(err, LP_ERR_NOMEM, "merge: out of memory");
            g = &a->g[a->ng++];
            *g = *gb;
            g->rel_kernel = bk;
            gb->ulps = NULL;
            gb->nulps = gb->capulps = 0;
            continue;
        }
        g->fmts |= gb->fmts;
        g->n += gb->n;
        g->n_cr += gb->n_cr;
        g->n_mismatch += gb->n_mismatch;
        g->n_leak += gb->n_leak;
        g->n_over += gb->n_over;
        g->processed |= gb->processed;
        g->n_keptset += gb->n_keptset;
        if (gb->max_ulp > g->max_ulp) g->max_ulp = gb->max_ulp;
        if (gb->max_abs > g->max_abs) g->max_abs = gb->max_abs;
        if (gb->max_steps > g->max_steps) g->max_steps = gb->max_steps;
        if (gb->nulps) {
            if (!LP_VEC_RESERVE(g->ulps, g->capulps, g->nulps + gb->nulps, 256))
                return lp_fail(err, LP_ERR_NOMEM, "merge: out of memory");
            memcpy(g->ulps + g->nulps, gb->ulps, gb->nulps * sizeof *g->ulps);
            g->nulps += gb->nulps;
            g->ulps_sorted = 0;
        }
        if (worst_beats(&gb->worst, &g->worst, &a->opt)) g->worst = gb->worst;
        if (bk) {
            if (!g->rel_kernel) g->rel_kernel = bk;
            else if (strcmp(g->rel_kernel, bk) != 0) g->rel_kernel = "twopass_f32/twopass_f64";
        }
        g->rel_n += gb->rel_n;
        g->rel_base_mismatch += gb->rel_base_mismatch;
        if (gb->rel_base_max > g->rel_base_max) g->rel_base_max = gb->rel_base_max;
        if (gb->rel_worst.set && (!g->rel_worst.set || gb->rel_cand_max > g->rel_cand_max))
            g->rel_worst = gb->rel_worst;
        if (gb->rel_cand_max > g->rel_cand_max) g->rel_cand_max = gb->rel_cand_max;
    }
    return LP_OK;
}

static int cmp_shard(const void *x, const void *y)
{
    const ck_partial *a = *(ck_partial *const *)x, *b = *(ck_partial *const *)y;
    return (a->i > b->i) - (a->i < b->i);
}

lp_status ck_partial_merge(ck_partial **out, ck_partial **parts, size_t n, lp_error *err)
{
    *out = NULL;
    lp_status s = LP_OK;
    if (n == 0) s = lp_fail(err, LP_ERR_USAGE, "merge: no partial given");
    for (size_t k = 1; k < n && s == LP_OK; k++) {
        if (parts[k]->n != parts[0]->n)
            s = lp_fail(err, LP_ERR_INPUT, "%s: shard %d/%d, but %s is of %d shards",
                        parts[k]->name, parts[k]->i, parts[k]->n, parts[0]->name, parts[0]->n);
        else if (strcmp(parts[k]->digest, parts[0]->digest) != 0)
            s = lp_fail(err, LP_ERR_INPUT, "%s: a foreign shard (its inputs, options or "
                        "command differ from %s's: digest %.12s, not %.12s)", parts[k]->name,
                        parts[0]->name, parts[k]->digest, parts[0]->digest);
        for (size_t q = 0; q < k && s == LP_OK; q++)
            if (parts[q]->i == parts[k]->i)
                s = lp_fail(err, LP_ERR_INPUT, "%s: shard %d/%d is given twice (also %s)",
                            parts[k]->name, parts[k]->i, parts[k]->n, parts[q]->name);
    }
    if (s == LP_OK && n < (size_t)parts[0]->n) {
        char miss[200] = "";
        int shown = 0;
        for (int i = 1; i <= parts[0]->n && shown < 8; i++) {
            int have = 0;
            for (size_t k = 0; k < n; k++) have |= parts[k]->i == i;
            if (have) continue;
            size_t l = strlen(miss);
            snprintf(miss + l, sizeof miss - l, "%s%d", shown ? ", " : "", i);
            shown++;
        }
        s = lp_fail(err, LP_ERR_INPUT, "shard%s %s of %d missing (%zu partials given, the "
                    "first %s)", n + 1 < (size_t)parts[0]->n ? "s" : "", miss, parts[0]->n, n,
                    parts[0]->name);
    }
    if (s == LP_OK) qsort(parts, n, sizeof *parts, cmp_shard);
    for (size_t k = 1; k < n && s == LP_OK; k++) s = fold(parts[0], parts[k], err);
    for (size_t k = (s == LP_OK); k < n; k++) ck_partial_free(parts[k]);
    if (s != LP_OK) return s;
    ck_partial *p = parts[0];
    if (p->rows) {   /* ROWS: one case, its diagnoses decided from the whole case's counts */
        if (p->r.cases > 1) p->r.cases = 1;
        ck_diagnose_decide(&p->r, &p->r.tally);
    }
    if (p->has_what) ck_cand_text(p->cand, sizeof p->cand, p->what, p->fm);
    if (p->certify)
        ck_certify_summary(p->h.extra[0], sizeof p->h.extra[0], p->seed, p->nrand, p->seconds,
                           p->ran, p->skipped, p->elapsed);
    *out = p;
    return LP_OK;
}

ck_run *ck_partial_run(ck_partial *p) { return &p->r; }
const ck_header *ck_partial_header(ck_partial *p) { return &p->h; }
const char *ck_partial_command(const ck_partial *p) { return p->command; }
int ck_partial_quiet(const ck_partial *p) { return p->quiet; }
