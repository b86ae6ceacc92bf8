/* tests/t_safetensors.c: safetensors read and write (core/safetensors.c, core/tensor.c).
 * Round trips of every dtype, the reference implementation's byte layout, the writer's
 * no-partial-output rule, a table of malformed headers (each one error line naming the offending
 * thing), "path:name" specs, and truncated and mutated files parsed from memory. Files are written
 * in a fresh temporary directory, removed at the end. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_tensor.h"
#include "lpt.h"

static char dir[64];

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *fp = fopen(p, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && len > 0 && fread(b, 1, (size_t)len, fp) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *n = (size_t)len;
    return b;
}

static void spit(const char *p, const void *b, size_t n)
{
    FILE *fp = fopen(p, "wb");
    if (!fp || (n && fwrite(b, 1, n, fp) != n)) lpt_check(0, "cannot write fixture %s", p);
    if (fp) fclose(fp);
}

/* 8-byte length + json + data, in an exact-size malloc block (so ASan sees any overread). */
static unsigned char *mk(size_t *n, const char *json, const void *data, size_t dlen)
{
    size_t jl = strlen(json);
    *n = 8 + jl + dlen;
    unsigned char *b = malloc(*n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jl >> (8 * i));
    memcpy(b + 8, json, jl);
    if (dlen) memcpy(b + 8 + jl, data, dlen);
    return b;
}

static int one_line(const char *s) { return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL; }

/* ------------------------------------------------------------------------------- dtypes */

static void check_dtypes(void)
{
    static const struct { lp_dtype dt; int size; const char *name; int isfmt; lp_format f; } tab[] = {
        {LP_DT_F64, 8, "F64", 1, LP_F64},  {LP_DT_F32, 4, "F32", 1, LP_F32},
        {LP_DT_F16, 2, "F16", 1, LP_F16},  {LP_DT_BF16, 2, "BF16", 1, LP_BF16},
        {LP_DT_I64, 8, "I64", 0, LP_F64},  {LP_DT_I32, 4, "I32", 0, LP_F64},
        {LP_DT_U8, 1, "U8", 0, LP_F64},    {LP_DT_BOOL, 1, "BOOL", 0, LP_F64},
        {LP_DT_U16, 2, "U16", 0, LP_F64},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        lp_format f = LP_F64;
        int isf = lp_dtype_format(&f, tab[i].dt);
        lpt_check(lp_dtype_size(tab[i].dt) == tab[i].size, "lp_dtype_size(%s) = %d, want %d",
                  tab[i].name, lp_dtype_size(tab[i].dt), tab[i].size);
        lpt_check(strcmp(lp_dtype_name(tab[i].dt), tab[i].name) == 0, "lp_dtype_name(%d) = %s",
                  (int)tab[i].dt, lp_dtype_name(tab[i].dt));
        lpt_check(isf == tab[i].isfmt && (!isf || f == tab[i].f),
                  "lp_dtype_format(%s) = %d fmt %d", tab[i].name, isf, (int)f);
        if (isf)
            lpt_check(lp_dtype_of_format(f) == tab[i].dt, "lp_dtype_of_format(%d) = %d", (int)f,
                      (int)lp_dtype_of_format(f));
    }
}

/* ------------------------------------------------------------------------------ writing */

typedef struct spec {
    const char *name;
    lp_dtype dt;
    int ndim;
    int64_t dims[LP_MAX_DIMS];
} spec;

static const spec specs[] = {
    {"case/a/logits", LP_DT_F32, 3, {2, 3, 5}},
    {"case/a/labels", LP_DT_I64, 2, {2, 3}},
    {"case/a/mask", LP_DT_BOOL, 2, {2, 3}},
    {"f64 scalar", LP_DT_F64, 0, {0}},
    {"half", LP_DT_F16, 1, {7}},
    {"brain", LP_DT_BF16, 2, {3, 1}},
    {"i32", LP_DT_I32, 4, {1, 2, 1, 2}},
    {"bytes", LP_DT_U8, 1, {13}},
    {"empty", LP_DT_F32, 2, {0, 4}},
    {"caf\xc3\xa9 \"q\" \\ /", LP_DT_U8, 8, {1, 1, 1, 1, 1, 1, 1, 2}},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static void fill(unsigned char *p, size_t n, lp_dtype dt, lpt_rng *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)lpt_rng_next(rng);
    if (dt == LP_DT_BOOL)
        for (size_t i = 0; i < n; i++) p[i] &= 1;
}

static void check_tensor_eq(const lp_tensor *t, const spec *s, const unsigned char *data,
                            const char *where)
{
    int64_t numel;
    size_t nbytes;
    lp_tensor_sizes(&numel, &nbytes, s->ndim, s->dims, s->dt);
    int ok = t && strcmp(t->name, s->name) == 0 && t->dtype == s->dt && t->ndim == s->ndim &&
             t->numel == numel && t->nbytes == nbytes &&
             (nbytes == 0 || memcmp(t->data, data, nbytes) == 0);
    for (int d = 0; ok && d < s->ndim; d++) ok = t->dims[d] == s->dims[d];
    lpt_check(ok, "%s: tensor '%s' differs after the round trip: dtype %d ndim %d numel %lld "
              "nbytes %zu", where, s->name, t ? (int)t->dtype : -1, t ? t->ndim : -1,
              t ? (long long)t->numel : -1LL, t ? t->nbytes : (size_t)0);
}

static void check_contents(const lp_tfile *f, unsigned char **data, const char *where)
{
    lpt_check(lp_tfile_count(f) == NSPECS, "%s: %zu tensors, want %zu", where,
              lp_tfile_count(f), NSPECS);
    for (size_t i = 0; i < NSPECS && i < lp_tfile_count(f); i++) {
        check_tensor_eq(lp_tfile_at(f, i), &specs[i], data[i], where);   /* order kept */
        check_tensor_eq(lp_tfile_find(f, specs[i].name), &specs[i], data[i], where);
    }
    lpt_check(lp_tfile_at(f, NSPECS) == NULL, "%s: lp_tfile_at past the end is not NULL", where);
    lpt_check(lp_tfile_find(f, "case/a") == NULL && lp_tfile_find(f, "") == NULL,
              "%s: lp_tfile_find of absent names is not NULL", where);
    lpt_check(lp_tfile_meta_count(f) == 3, "%s: %zu metadata keys, want 3", where,
              lp_tfile_meta_count(f));
    const char *v = lp_tfile_meta(f, "suite");
    lpt_check(v && strcmp(v, "lpcert \"v1\"\n\xe2\x82\xac") == 0, "%s: metadata suite = %s",
              where, v ? v : "(null)");
    v = lp_tfile_meta(f, "empty");
    lpt_check(v && *v == '\0', "%s: metadata empty = %s", where, v ? v : "(null)");
    lpt_check(lp_tfile_meta(f, "absent") == NULL, "%s: absent metadata key found", where);
    const char *k0 = lp_tfile_meta_key(f, 0), *k2 = lp_tfile_meta_key(f, 2);
    lpt_check(k0 && strcmp(k0, "suite") == 0 && k2 && strcmp(k2, "shift") == 0 &&
              lp_tfile_meta_key(f, 3) == NULL,
              "%s: metadata keys out of order: %s, %s", where, k0 ? k0 : "(null)",
              k2 ? k2 : "(null)");
}

static void check_roundtrip(void)
{
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    unsigned char *data[NSPECS];
    size_t total = 0;
    char p[256], tmp[300];
    path_in(p, sizeof p, "rt.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    lp_error err = {0};
    lp_twriter *w;
    lp_status st = lp_twriter_new(&w, p, &err);
    if (!lpt_check(st == LP_OK, "lp_twriter_new(%s): %s", p, err.msg)) return;
    st = lp_twriter_meta(w, "suite", "lpcert \"v1\"\n\xe2\x82\xac", &err);
    if (st == LP_OK) st = lp_twriter_meta(w, "empty", "", &err);
    if (st == LP_OK) st = lp_twriter_meta(w, "shift", "next", &err);
    lpt_check(st == LP_OK, "lp_twriter_meta: %s", err.msg);
    for (size_t i = 0; i < NSPECS; i++) {
        int64_t numel;
        size_t nbytes;
        lp_tensor_sizes(&numel, &nbytes, specs[i].ndim, specs[i].dims, specs[i].dt);
        data[i] = malloc(nbytes ? nbytes : 1);
        fill(data[i], nbytes, specs[i].dt, &rng);
        total += nbytes;
        st = lp_twriter_add(w, specs[i].name, specs[i].dt, specs[i].ndim, specs[i].dims, data[i],
                            &err);
        lpt_check(st == LP_OK, "lp_twriter_add(%s): %s", specs[i].name, err.msg);
    }
    lpt_check(exists(tmp) && !exists(p), "while writing, %s.tmp should exist and %s not", p, p);
    st = lp_twriter_finish(w, &err);
    lpt_check(st == LP_OK, "lp_twriter_finish: %s", err.msg);
    lpt_check(!exists(tmp), "%s left behind after finish", tmp);

    /* the bytes: header length a multiple of 8, padded with spaces, data contiguous, in order */
    size_t n = 0;
    unsigned char *b = slurp(p, &n);
    if (!lpt_check(b != NULL && n >= 8, "cannot read back %s", p)) {
        free(b);
        goto out;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    lpt_check(hl % 8 == 0 && 8 + hl + total == n, "header length %llu (file %zu, data %zu)",
              (unsigned long long)hl, n, total);
    if (8 + hl <= n) {
        size_t jl = (size_t)hl;
        while (jl > 0 && b[8 + jl - 1] == ' ') jl--;
        lpt_check(jl > 0 && b[8 + jl - 1] == '}' && hl - jl < 8, "header padding: JSON ends at "
                  "%zu of %llu", jl, (unsigned long long)hl);
        const char *start = "{\"__metadata__\":{\"suite\":";
        lpt_check(memcmp(b + 8, start, strlen(start)) == 0, "header does not begin with %s",
                  start);
        size_t at = 8 + (size_t)hl;
        for (size_t i = 0; i < NSPECS; i++) {
            int64_t numel;
            size_t nbytes;
            lp_tensor_sizes(&numel, &nbytes, specs[i].ndim, specs[i].dims, specs[i].dt);
            lpt_check(at + nbytes <= n && memcmp(b + at, data[i], nbytes) == 0,
                      "data of '%s' not at offset %zu", specs[i].name, at);
            at += nbytes;
        }
    }

    lp_tfile *f;
    st = lp_tfile_open(&f, p, &err);
    if (lpt_check(st == LP_OK, "lp_tfile_open(%s): %s", p, err.msg)) {
        check_contents(f, data, "open");
        lp_tfile_close(f);
    }
    st = lp_tfile_parse(&f, b, n, "mem", &err);
    if (lpt_check(st == LP_OK, "lp_tfile_parse: %s", err.msg)) {
        check_contents(f, data, "parse");
        for (size_t i = 0; i < lp_tfile_count(f); i++) {
            const lp_tensor *t = lp_tfile_at(f, i);
            const unsigned char *d = t->data;
            lpt_check(d >= b + 8 + hl && d + t->nbytes <= b + n, "tensor '%s' data outside the "
                      "buffer", t->name);
        }
        lp_tfile_close(f);
    }
    free(b);
out:
    for (size_t i = 0; i < NSPECS; i++) free(data[i]);
    remove(p);
}

/* The byte layouts of the reference implementation's own tests (huggingface/safetensors,
 * tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty). */
static void check_reference_layout(void)
{
    static const float v[6] = {0, 1, 2, 3, 4, 5};
    static const struct {
        const char *name;
        int ndim;
        int64_t dims[4];
        const char *meta;
        const char *header;
    } tab[] = {
        {"attn.0", 3, {1, 2, 3}, NULL,
         "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}"},
        {"attn0", 4, {1, 1, 2, 3}, NULL,
         "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       "},
        {NULL, 0, {0}, NULL, "{}      "},
        {NULL, 0, {0}, "pt", "{\"__metadata__\":{\"framework\":\"pt\"}}     "},
    };
    char p[256];
    path_in(p, sizeof p, "ref.safetensors");
    for (size_t k = 0; k < sizeof tab / sizeof tab[0]; k++) {
        lp_error err = {0};
        lp_twriter *w;
        if (!lpt_check(lp_twriter_new(&w, p, &err) == LP_OK, "new: %s", err.msg)) return;
        if (tab[k].name) lp_twriter_add(w, tab[k].name, LP_DT_F32, tab[k].ndim, tab[k].dims, v, &err);
        if (tab[k].meta) lp_twriter_meta(w, "framework", tab[k].meta, &err);
        lpt_check(lp_twriter_finish(w, &err) == LP_OK, "finish: %s", err.msg);
        size_t n, hl = strlen(tab[k].header), want = 8 + hl + (tab[k].name ? 24 : 0);
        unsigned char *b = slurp(p, &n);
        int ok = b && n == want && b[0] == hl && memcmp(b + 1, "\0\0\0\0\0\0\0", 7) == 0 &&
                 memcmp(b + 8, tab[k].header, hl) == 0 &&
                 (!tab[k].name || memcmp(b + 8 + hl, v, 24) == 0);
        lpt_check(ok, "layout %zu differs from the reference: %zu bytes, want %zu; header %.*s",
                  k, n, want, b && n > 8 ? (int)(n - 8 < hl ? n - 8 : hl) : 0,
                  b ? (const char *)b + 8 : "");
        free(b);
    }
    remove(p);
}

static void check_writer_errors(void)
{
    char p[256], tmp[300];
    path_in(p, sizeof p, "bad.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    lp_error err = {0};
    lp_twriter *w;
    static const float x[4] = {1, 2, 3, 4};
    int64_t d2[2] = {2, 2}, dneg[1] = {-1}, d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    if (!lpt_check(lp_twriter_new(&w, p, &err) == LP_OK, "new: %s", err.msg)) return;
    lpt_check(lp_twriter_add(w, "a", LP_DT_F32, 2, d2, x, &err) == LP_OK, "add a: %s", err.msg);
    struct { const char *what; lp_status st; } r[] = {
        {"duplicate name", lp_twriter_add(w, "a", LP_DT_F32, 2, d2, x, &err)},
        {"__metadata__", lp_twriter_add(w, "__metadata__", LP_DT_F32, 2, d2, x, &err)},
        {"negative dim", lp_twriter_add(w, "n", LP_DT_F32, 1, dneg, x, &err)},
        {"9 dims", lp_twriter_add(w, "n", LP_DT_F32, 9, d9, x, &err)},
        {"U16", lp_twriter_add(w, "n", LP_DT_U16, 2, d2, x, &err)},
        {"bad UTF-8", lp_twriter_add(w, "n\xff", LP_DT_F32, 2, d2, x, &err)},
        {"NULL data", lp_twriter_add(w, "n", LP_DT_F32, 2, d2, NULL, &err)},
        {"meta dup", (lp_twriter_meta(w, "k", "v", &err), lp_twriter_meta(w, "k", "w", &err))},
        {"meta UTF-8", lp_twriter_meta(w, "k2", "\xc3(", &err)},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        lpt_check(r[i].st == LP_ERR_USAGE, "writer accepted: %s (status %s)", r[i].what,
                  lp_status_name(r[i].st));
    lp_twriter_abort(w);
    lpt_check(!exists(p) && !exists(tmp), "abort left %s or its .tmp", p);
    lp_twriter_abort(NULL);

    /* nothing at path after abort even with tensors added */
    if (lp_twriter_new(&w, p, &err) == LP_OK) {
        lp_twriter_add(w, "a", LP_DT_F32, 2, d2, x, &err);
        lp_twriter_abort(w);
        lpt_check(!exists(p) && !exists(tmp), "abort after add left %s or its .tmp", p);
    }

    /* a directory we cannot create in */
    char q[300];
    snprintf(q, sizeof q, "%s/no/such/dir/x.safetensors", dir);
    lpt_check(lp_twriter_new(&w, q, &err) == LP_ERR_IO && one_line(err.msg),
              "new in a missing directory: %s", err.msg);

    /* rename fails: path is a directory; the tmp is removed */
    char dp[256], dtmp[300];
    path_in(dp, sizeof dp, "isdir.safetensors");
    snprintf(dtmp, sizeof dtmp, "%s.tmp", dp);
    mkdir(dp, 0700);
    char inner[300];
    snprintf(inner, sizeof inner, "%s/keep", dp);
    spit(inner, "x", 1);   /* non-empty: rename onto it fails on every system */
    if (lp_twriter_new(&w, dp, &err) == LP_OK) {
        lp_twriter_add(w, "a", LP_DT_F32, 2, d2, x, &err);
        lp_status st = lp_twriter_finish(w, &err);
        lpt_check(st == LP_ERR_IO && !exists(dtmp) && one_line(err.msg),
                  "finish onto a directory: %s, %s; tmp %s", lp_status_name(st), err.msg,
                  exists(dtmp) ? "left" : "removed");
    }
    remove(inner);
    rmdir(dp);

    /* write fails (file size limit): finish reports it, nothing left */
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = 4096;
        static unsigned char big[65536];
        int64_t dbig[1] = {sizeof big};
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0 && lp_twriter_new(&w, p, &err) == LP_OK) {
            lp_twriter_add(w, "big", LP_DT_U8, 1, dbig, big, &err);
            lp_status st = lp_twriter_finish(w, &err);
            setrlimit(RLIMIT_FSIZE, &old);
            lpt_check(st == LP_ERR_IO && !exists(p) && !exists(tmp) && one_line(err.msg),
                      "finish past the file size limit: %s, %s", lp_status_name(st), err.msg);
        }
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
    }
}

/* ---------------------------------------------------------------------------- malformed */

typedef struct bad_case {
    const char *what;
    const char *json;       /* NULL: raw bytes below */
    const char *raw;
    size_t rawlen;
    size_t dlen;            /* data bytes after the header (filled with 0x01) */
    const char *needle;     /* the error must say this */
} bad_case;

static const bad_case bad_cases[] = {
    {"truncated header length", NULL, "\x10\0\0\0\0", 5, 0, "shorter than the 8-byte"},
    {"header length past EOF", NULL, "\x64\0\0\0\0\0\0\0{}", 10, 0, "header length 100 past"},
    {"header length over cap", NULL, "\0\0\0\0\0\1\0\0{}", 10, 0, "over the cap"},
    {"header length 2^64-1", NULL, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10, 0, "over the cap"},
    {"NUL in header", NULL, "\x04\0\0\0\0\0\0\0{\0}\n", 12, 0, "NUL byte at offset 9"},
    {"bad UTF-8", NULL, "\x06\0\0\0\0\0\0\0{\"\xc0\xaf\":", 14, 0, "not valid UTF-8 at offset 10"},
    {"bad JSON", "{\"a\":", NULL, 0, 0, "not valid JSON"},
    {"empty header", "", NULL, 0, 0, "not valid JSON"},
    {"trailing garbage", "{} x", NULL, 0, 0, "not valid JSON"},
    {"non-object", "[1,2]", NULL, 0, 0, "an array, not a JSON object"},
    {"string header", "\"x\"", NULL, 0, 0, "a string, not a JSON object"},
    {"entry not object", "{\"t\":[1]}", NULL, 0, 0, "tensor 't': entry is not"},
    {"unknown dtype", "{\"t\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", NULL, 0,
     1, "unsupported dtype 'I8'"},
    {"dtype not string", "{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", NULL, 0, 4,
     "dtype is 4, not a string"},
    {"lower-case dtype", "{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", NULL,
     0, 4, "unsupported dtype 'f32'"},
    {"shape/offset mismatch",
     "{\"logits\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", NULL, 0, 12,
     "tensor 'logits': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 needs 24"},
    {"offsets past end", "{\"t\":{\"dtype\":\"U8\",\"shape\":[100],\"data_offsets\":[0,100]}}",
     NULL, 0, 8, "data_offsets [0, 100] past the end of the 8-byte"},
    {"offsets reversed", "{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", NULL,
     0, 4, "[4, 0] end before they begin"},
    {"overlapping tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", NULL, 0, 12,
     "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"},
    {"same offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", NULL, 0, 4,
     "overlap tensor 'a'"},
    {"hole between tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", NULL, 0, 12,
     "tensor 'b': data_offsets [8, 12] leave bytes [4, 8)"},
    {"hole at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", NULL, 0,
     8, "leave bytes [0, 4)"},
    {"trailing data bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     NULL, 0, 8, "bytes [4, 8) belong to no tensor"},
    {"data but no tensor", "{}", NULL, 0, 3, "bytes [0, 3) belong to no tensor"},
    {"negative dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", NULL, 0,
     0, "shape[0] is -1, not an integer"},
    {"fractional dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", NULL,
     0, 4, "shape[0] is 1.5"},
    {"dim too large", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}",
     NULL, 0, 4, "shape[0] is 1.0000000000000001e+300"},
    {"dim not a number", "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"3\"],\"data_offsets\":[0,4]}}",
     NULL, 0, 4, "shape[0] is a string"},
    {"huge dims overflow",
     "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}",
     NULL, 0, 8, "shape [4294967296, 4294967296, 4] of F64 overflows"},
    {"dims overflow by the size",
     "{\"t\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,4096],\"data_offsets\":[0,8]}}",
     NULL, 0, 8, "overflows the size"},
    {"9 dims", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
     NULL, 0, 1, "9 dimensions, more than 8"},
    {"shape not array", "{\"t\":{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}}", NULL, 0,
     3, "shape is 3, not an array"},
    {"offsets of 3", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", NULL, 0,
     1, "data_offsets is an array of other than 2"},
    {"offsets of 1", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", NULL, 0,
     1, "data_offsets is an array of other than 2"},
    {"negative offset", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", NULL,
     0, 1, "data_offsets[0] is -1"},
    {"missing offsets", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", NULL, 0, 1,
     "tensor 't': no 'data_offsets'"},
    {"missing dtype", "{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", NULL, 0, 1,
     "no 'dtype'"},
    {"unknown key", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":0}}",
     NULL, 0, 1, "unknown key 'x'"},
    {"key given twice",
     "{\"t\":{\"dtype\":\"U8\",\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,1]}}", NULL, 0,
     1, "key 'dtype' given twice"},
    {"Dtype (wrong case key)",
     "{\"t\":{\"Dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", NULL, 0, 1,
     "unknown key 'Dtype'"},
    {"duplicate names",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", NULL, 0, 2,
     "header key 'a' appears twice"},
    {"name holding \\u0000",
     "{\"a\\u0000x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", NULL, 0, 2,
     "header string holds the escape \\u0000 (a NUL) at offset 11"},
    {"metadata holding \\u0000", "{\"__metadata__\":{\"k\":\"v\\u0000w\"}}", NULL, 0, 0,
     "escape \\u0000 (a NUL) at offset 31"},
    {"dim 2^53 (2^53 + 1 reads as it)",
     "{\"t\":{\"dtype\":\"U8\",\"shape\":[9007199254740993,0],\"data_offsets\":[0,0]}}",
     NULL, 0, 0, "shape[0] is 9007199254740992, not an integer in [0, 2^53)"},
    {"offset 2^53", "{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,"
     "9007199254740992]}}", NULL, 0, 0, "data_offsets[1] is 9007199254740992"},
    {"non-string metadata", "{\"__metadata__\":{\"k\":1}}", NULL, 0, 0,
     "__metadata__ value of 'k' is 1, not a string"},
    {"metadata not object", "{\"__metadata__\":[\"k\"]}", NULL, 0, 0,
     "__metadata__ is an array, not an object"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0, 0,
     "'__metadata__' appears twice"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", NULL, 0, 0,
     "__metadata__ key 'k' appears twice"},
    {"BOOL value 2", "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", NULL, 0,
     3, "tensor 'm': BOOL element 0 is 1"},   /* placeholder, data patched below */
    {"deep nesting", NULL, NULL, 0, 0, "not valid JSON"},   /* built below */
};

static void check_bad_one(const bad_case *c, unsigned char *b, size_t n)
{
    lp_error err = {LP_OK, "untouched"};
    lp_tfile *f = (lp_tfile *)1;
    lp_status st = lp_tfile_parse(&f, b, n, "bad.safetensors", &err);
    int ok = st == LP_ERR_INPUT && f == NULL && err.status == st && one_line(err.msg) &&
             strncmp(err.msg, "bad.safetensors: ", 17) == 0 && strstr(err.msg, c->needle);
    if (!lpt_check(ok, "malformed '%s' gave %s", c->what, lp_status_name(st)))
        lpt_note("message: %s\n  wanted it to contain: %s", err.msg, c->needle);
    if (st == LP_OK) lp_tfile_close(f);
}

static void check_malformed(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        unsigned char *b, *data = NULL;
        size_t n;
        if (strcmp(c->what, "deep nesting") == 0) {
            char *json = malloc(4002);
            memset(json, '[', 4000);
            json[4000] = '\0';
            b = mk(&n, json, NULL, 0);
            free(json);
        } else if (c->json) {
            data = malloc(c->dlen ? c->dlen : 1);
            memset(data, 1, c->dlen);
            if (strcmp(c->what, "BOOL value 2") == 0) data[2] = 2;
            b = mk(&n, c->json, data, c->dlen);
        } else {
            n = c->rawlen;
            b = malloc(n);
            memcpy(b, c->raw, n);
        }
        if (strcmp(c->what, "BOOL value 2") == 0) {
            bad_case c2 = *c;
            c2.needle = "tensor 'm': BOOL element 2 is 2, not 0 or 1";
            check_bad_one(&c2, b, n);
        } else {
            check_bad_one(c, b, n);
        }
        free(b);
        free(data);
    }

    /* a long name with a newline stays one line in the message, cut with "..." */
    char json[600], name[300];
    memset(name, 'n', 200);
    memcpy(name, "evil\\nname", 10);
    name[200] = '\0';
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
             name);
    size_t n;
    unsigned char one = 1, *b = mk(&n, json, &one, 1);
    lp_error err = {0};
    lp_tfile *f;
    lp_status st = lp_tfile_parse(&f, b, n, "x\ny", &err);
    lpt_check(st == LP_ERR_INPUT && one_line(err.msg) && strstr(err.msg, "evil\\x0aname") &&
              strstr(err.msg, "...") && strstr(err.msg, "x\\x0ay: ") && strlen(err.msg) < 200,
              "control bytes or a long name in an error line: %s", err.msg);
    free(b);

    lpt_check(lp_tfile_parse(&f, NULL, 0, "nothing", &err) == LP_ERR_INPUT && f == NULL,
              "an empty buffer is accepted");
}

/* ------------------------------------------------------------------------------ valid odd */

static void check_valid_odd(void)
{
    lp_error err = {0};
    lp_tfile *f;
    size_t n;
    /* listed out of offset order, zero-size tensors, trailing spaces, leading whitespace */
    const char *json =
        " {\"b\":{\"data_offsets\":[4,12],\"shape\":[2],\"dtype\":\"F32\"},"
        "\"z\":{\"dtype\":\"F64\",\"shape\":[0,5],\"data_offsets\":[12,12]},"
        "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"__metadata__\":{},\"e\":{\"dtype\":\"BOOL\",\"shape\":[0],\"data_offsets\":[0,0]}}   ";
    unsigned char data[12] = {1, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64};
    unsigned char *b = mk(&n, json, data, sizeof data);
    lp_status st = lp_tfile_parse(&f, b, n, "odd", &err);
    if (lpt_check(st == LP_OK, "valid odd file rejected: %s", err.msg)) {
        static const char *order[] = {"e", "a", "b", "z"};   /* by (begin, end), then header */
        int ok = lp_tfile_count(f) == 4 && lp_tfile_meta_count(f) == 0;
        for (size_t i = 0; ok && i < 4; i++) ok = strcmp(lp_tfile_at(f, i)->name, order[i]) == 0;
        lpt_check(ok, "odd file: tensors not in offset order");
        const lp_tensor *a = lp_tfile_find(f, "a"), *bt = lp_tfile_find(f, "b"),
                        *z = lp_tfile_find(f, "z");
        lpt_check(a && a->ndim == 0 && a->numel == 1 && a->nbytes == 4 &&
                  a->data == b + 8 + strlen(json),
                  "scalar tensor wrong");
        float v[2];
        if (bt) memcpy(v, bt->data, 8);
        lpt_check(bt && bt->numel == 2 && lp_bits_f32(v[0]) == 0x3f800000u &&
                  lp_bits_f32(v[1]) == 0x40000000u, "tensor b values wrong");
        lpt_check(z && z->numel == 0 && z->nbytes == 0 && z->ndim == 2 && z->dims[1] == 5,
                  "zero-size tensor wrong");
        lp_tfile_close(f);
    }
    free(b);

    /* BOOL 0/1 accepted; I64 and U8 etc. read */
    b = mk(&n, "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[2,2],\"data_offsets\":[0,4]}}",
           "\1\0\0\1", 4);
    st = lp_tfile_parse(&f, b, n, "bool", &err);
    lpt_check(st == LP_OK, "BOOL 0/1 rejected: %s", err.msg);
    if (st == LP_OK) lp_tfile_close(f);
    free(b);
}

/* ---------------------------------------------------------------------------- open, spec */

static void check_open_and_spec(void)
{
    lp_error err = {0};
    lp_tfile *f;
    const lp_tensor *t;
    char p[256], q[256], s[512];

    path_in(p, sizeof p, "missing.safetensors");
    lpt_check(lp_tfile_open(&f, p, &err) == LP_ERR_IO && f == NULL && one_line(err.msg) &&
              strstr(err.msg, p), "open of a missing file: %s", err.msg);
    path_in(p, sizeof p, "empty.safetensors");
    spit(p, "", 0);
    lpt_check(lp_tfile_open(&f, p, &err) == LP_ERR_INPUT && strstr(err.msg, "empty file"),
              "open of an empty file: %s", err.msg);
    remove(p);
    lpt_check(lp_tfile_open(&f, dir, &err) != LP_OK && f == NULL, "open of a directory: ok");

    /* two tensors */
    path_in(p, sizeof p, "two.safetensors");
    static const int32_t iv[3] = {7, -8, 9};
    static const double dv[2] = {0.5, -2.0};
    int64_t d3[1] = {3}, d2[1] = {2};
    lp_twriter *w;
    if (lp_twriter_new(&w, p, &err) == LP_OK) {
        lp_twriter_add(w, "ints", LP_DT_I32, 1, d3, iv, &err);
        lp_twriter_add(w, "dbl:x", LP_DT_F64, 1, d2, dv, &err);
        lpt_check(lp_twriter_finish(w, &err) == LP_OK, "finish two: %s", err.msg);
    }
    lpt_check(lp_tensor_open_spec(&f, &t, p, &err) == LP_ERR_INPUT && f == NULL && t == NULL &&
              strstr(err.msg, "holds 2 tensors") && strstr(err.msg, p),
              "spec without a name on a 2-tensor file: %s", err.msg);
    snprintf(s, sizeof s, "%s:ints", p);
    if (lpt_check(lp_tensor_open_spec(&f, &t, s, &err) == LP_OK, "spec %s: %s", s, err.msg)) {
        lpt_check(t && strcmp(t->name, "ints") == 0 && t->dtype == LP_DT_I32 &&
                  memcmp(t->data, iv, 12) == 0, "spec %s: wrong tensor", s);
        lp_tfile_close(f);
    }
    snprintf(s, sizeof s, "%s:dbl:x", p);   /* the name after the LAST ':' ... */
    lpt_check(lp_tensor_open_spec(&f, &t, s, &err) != LP_OK && f == NULL,
              "spec %s resolved, but 'p:dbl' is no file", s);
    snprintf(s, sizeof s, "%s:nope", p);
    lpt_check(lp_tensor_open_spec(&f, &t, s, &err) == LP_ERR_INPUT && strstr(err.msg, s) &&
              strstr(err.msg, "no tensor 'nope'"), "spec %s: %s", s, err.msg);
    /* a file whose own name holds a ':' is opened whole */
    path_in(q, sizeof q, "a:b.safetensors");
    if (lp_twriter_new(&w, q, &err) == LP_OK) {
        lp_twriter_add(w, "only", LP_DT_I32, 1, d3, iv, &err);
        lpt_check(lp_twriter_finish(w, &err) == LP_OK, "finish a:b: %s", err.msg);
    }
    if (lpt_check(lp_tensor_open_spec(&f, &t, q, &err) == LP_OK, "spec %s: %s", q, err.msg)) {
        lpt_check(t && strcmp(t->name, "only") == 0, "spec %s: wrong tensor", q);
        lp_tfile_close(f);
    }
    snprintf(s, sizeof s, "%s:only", q);
    if (lpt_check(lp_tensor_open_spec(&f, &t, s, &err) == LP_OK, "spec %s: %s", s, err.msg))
        lp_tfile_close(f);
    snprintf(s, sizeof s, "%s/none.safetensors:x", dir);
    lpt_check(lp_tensor_open_spec(&f, &t, s, &err) == LP_ERR_IO, "spec %s: %s", s, err.msg);
    remove(p);
    remove(q);
}

/* --------------------------------------------------------------- truncations and mutations */

static void parse_any(const unsigned char *src, size_t n)
{
    unsigned char *b = malloc(n ? n : 1);   /* exact size: ASan catches any overread */
    if (n) memcpy(b, src, n);
    lp_tfile *f;
    lp_error err = {0};
    lp_status st = lp_tfile_parse(&f, b, n, "fz", &err);
    if (st == LP_OK) {
        for (size_t i = 0; i < lp_tfile_count(f); i++) {
            const lp_tensor *t = lp_tfile_at(f, i);
            const unsigned char *d = t->data;
            lpt_check(d >= b && d + t->nbytes <= b + n && lp_tfile_find(f, t->name) != NULL,
                      "mutated file: tensor %zu outside the buffer or not found", i);
        }
        lp_tfile_close(f);
    } else {
        lpt_check(one_line(err.msg) && strncmp(err.msg, "fz: ", 4) == 0,
                  "mutated file: bad error line: %s", err.msg);
    }
    free(b);
}

static void check_mutations(void)
{
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed() ^ 0x51);
    const char *json =
        "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"BOOL\",\"shape\":[2],"
        "\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"F16\",\"shape\":[1,3],\"data_offsets\":[2,8]}}";
    size_t n;
    unsigned char *b = mk(&n, json, "\1\0abcdef", 8);
    parse_any(b, n);
    for (size_t k = 0; k <= n; k++) parse_any(b, k);
    int iters = lpt_level() == 1 ? 20000 : 500000;
    unsigned char *m = malloc(n);
    for (int it = 0; it < iters; it++) {
        memcpy(m, b, n);
        int edits = 1 + (int)(lpt_rng_next(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(lpt_rng_next(&rng) % n);
            uint64_t r = lpt_rng_next(&rng);
            static const char alphabet[] = "{}[]\":,0123456789-e.ab \\u";
            m[at] = r & 1 ? (unsigned char)(r >> 8) : (unsigned char)alphabet[(r >> 8) % 26];
        }
        parse_any(m, (size_t)(lpt_rng_next(&rng) % 8) == 0 ? (size_t)(lpt_rng_next(&rng) % n) : n);
    }
    free(m);
    free(b);
}

int main(void)
{
    lpt_begin("t_safetensors");
    snprintf(dir, sizeof dir, "/tmp/t_safetensors.XXXXXX");
    if (!mkdtemp(dir)) {
        lpt_check(0, "mkdtemp: %s", strerror(errno));
        return lpt_end();
    }
    check_dtypes();
    check_roundtrip();
    check_reference_layout();
    check_writer_errors();
    check_malformed();
    check_valid_odd();
    check_open_and_spec();
    check_mutations();
    rmdir(dir);
    lpt_check(!exists(dir), "temporary directory %s not empty at the end", dir);
    return lpt_end();
}
