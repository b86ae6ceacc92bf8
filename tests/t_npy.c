/* tests/t_npy.c: .npy read (core/npy.c, core/tensor.c). Files are written by hand here, byte by
 * byte as NumPy's format (NEP 1) lays them out: magic, version, header length, the header dict
 * padded with spaces and a '\n' to a multiple of 64 bytes, the data. Every accepted dtype and
 * version, header spellings NumPy and older writers use, a table of malformed files (each one
 * error line naming the offending thing), and truncated and mutated files parsed from memory. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_tensor.h"
#include "lpt.h"

static char dir[64];

static int one_line(const char *s) { return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL; }

/* A .npy file in an exact-size malloc block. pad: add spaces and '\n' to a multiple of 64 as
 * NumPy does; otherwise the dict is the whole header. */
static unsigned char *npy(size_t *n, int major, const char *dict, int pad, const void *data,
                          size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict), hl = dl;
    if (pad) hl = ((pre + dl + 1 + 63) / 64) * 64 - pre;
    *n = pre + hl + dlen;
    unsigned char *b = malloc(*n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + pre, dict, dl);
    if (pad) {
        memset(b + pre + dl, ' ', hl - dl - 1);
        b[pre + hl - 1] = '\n';
    }
    if (dlen) memcpy(b + pre + hl, data, dlen);
    return b;
}

/* ------------------------------------------------------------------------------ accepted */

typedef struct good_case {
    const char *what;
    int major, pad;
    const char *dict;
    lp_dtype dt;
    int ndim;
    int64_t dims[LP_MAX_DIMS];
} good_case;

static const good_case good[] = {
    {"f8 2x3", 1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", LP_DT_F64, 2,
     {2, 3}},
    {"f4 vector", 1, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", LP_DT_F32, 1,
     {5}},
    {"f2 scalar", 1, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (), }", LP_DT_F16, 0,
     {0}},
    {"i8", 1, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1, 2), }", LP_DT_I64, 3,
     {3, 1, 2}},
    {"i4", 2, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", LP_DT_I32, 1, {4}},
    {"u1", 3, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }", LP_DT_U8, 1, {7}},
    {"b1", 1, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", LP_DT_BOOL, 2,
     {2, 2}},
    {"u2 as U16", 1, 1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", LP_DT_U16, 1,
     {3}},
    {"zero-size", 1, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", LP_DT_F32,
     2, {0, 3}},
    {"no padding, no trailing comma", 1, 0,
     "{'descr':'<f4','fortran_order':False,'shape':(2,)}", LP_DT_F32, 1, {2}},
    {"key order, double quotes", 1, 1,
     "{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": \"<f8\"}", LP_DT_F64, 2, {2, 2}},
    {"python 2 long suffix", 1, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L), }",
     LP_DT_I32, 2, {2, 3}},
    {"8 dims, tuple trailing comma", 1, 1,
     "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 2, 1,), }", LP_DT_U8,
     8, {1, 1, 1, 1, 1, 1, 2, 1}},
    {"tabs and newlines", 2, 1,
     "{\t'descr' :\n'<f2' ,\r\n 'fortran_order' : False , 'shape' : ( 3 , ) }", LP_DT_F16, 1,
     {3}},
};

static void check_good(void)
{
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed());
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const good_case *g = &good[i];
        int64_t numel;
        size_t nbytes, n;
        lp_tensor_sizes(&numel, &nbytes, g->ndim, g->dims, g->dt);
        unsigned char *data = malloc(nbytes ? nbytes : 1);
        for (size_t k = 0; k < nbytes; k++)
            data[k] = (unsigned char)(lpt_rng_next(&rng) & (g->dt == LP_DT_BOOL ? 1 : 0xff));
        unsigned char *b = npy(&n, g->major, g->dict, g->pad, data, nbytes);
        if (g->pad) lpt_check((n - nbytes) % 64 == 0, "fixture '%s': data not 64-aligned", g->what);
        lp_tfile *f;
        lp_error err = {0};
        lp_status st = lp_tfile_parse(&f, b, n, "good.npy", &err);
        if (lpt_check(st == LP_OK, "npy '%s' rejected: %s", g->what, err.msg)) {
            const lp_tensor *t = lp_tfile_at(f, 0);
            int ok = lp_tfile_count(f) == 1 && t && t->name[0] == '\0' && t->dtype == g->dt &&
                     t->ndim == g->ndim && t->numel == numel && t->nbytes == nbytes &&
                     t->data == b + n - nbytes && (nbytes == 0 || memcmp(t->data, data, nbytes) == 0);
            for (int d = 0; ok && d < g->ndim; d++) ok = t->dims[d] == g->dims[d];
            lpt_check(ok, "npy '%s': read back dtype %s ndim %d numel %lld nbytes %zu", g->what,
                      t ? lp_dtype_name(t->dtype) : "?", t ? t->ndim : -1,
                      t ? (long long)t->numel : -1LL, t ? t->nbytes : (size_t)0);
            lpt_check(lp_tfile_find(f, "") == t && lp_tfile_find(f, "x") == NULL &&
                      lp_tfile_meta_count(f) == 0 && lp_tfile_meta(f, "descr") == NULL,
                      "npy '%s': find/meta wrong", g->what);
            lp_tfile_close(f);
        }
        free(b);
        free(data);
    }
}

/* A known file through the file path: lp_tfile_open and lp_tensor_open_spec. */
static void check_open(void)
{
    static const double v[3] = {1.5, -0.0, 1e300};
    size_t n;
    unsigned char *b = npy(&n, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 1,
                           v, sizeof v);
    char p[256], s[300];
    snprintf(p, sizeof p, "%s/x.npy", dir);
    FILE *fp = fopen(p, "wb");
    if (!lpt_check(fp && fwrite(b, 1, n, fp) == n, "cannot write %s", p)) {
        if (fp) fclose(fp);
        free(b);
        return;
    }
    fclose(fp);
    lp_tfile *f;
    const lp_tensor *t;
    lp_error err = {0};
    if (lpt_check(lp_tfile_open(&f, p, &err) == LP_OK, "open %s: %s", p, err.msg)) {
        t = lp_tfile_at(f, 0);
        double got[3];
        memcpy(got, t->data, sizeof got);
        lpt_check(t->dtype == LP_DT_F64 && t->numel == 3 &&
                  lp_bits_f64(got[0]) == lp_bits_f64(1.5) &&
                  lp_bits_f64(got[1]) == 0x8000000000000000u &&
                  lp_bits_f64(got[2]) == lp_bits_f64(1e300),
                  "%s: values %a %a %a", p, got[0], got[1], got[2]);
        lp_tfile_close(f);
    }
    if (lpt_check(lp_tensor_open_spec(&f, &t, p, &err) == LP_OK, "spec %s: %s", p, err.msg)) {
        lpt_check(t && t->numel == 3, "spec %s: wrong tensor", p);
        lp_tfile_close(f);
    }
    snprintf(s, sizeof s, "%s:logits", p);
    lpt_check(lp_tensor_open_spec(&f, &t, s, &err) == LP_ERR_INPUT && f == NULL && t == NULL &&
              strstr(err.msg, s) && strstr(err.msg, "unnamed") && one_line(err.msg),
              "spec %s on a .npy: %s", s, err.msg);
    remove(p);
    free(b);
}

/* -------------------------------------------------------------------------------- rejected */

typedef struct bad_case {
    const char *what;
    int major;
    const char *dict;       /* NULL: raw bytes */
    const char *raw;
    size_t rawlen;
    long dlen;              /* data bytes; -1: what the shape needs (a <f4 (2, 3) needs 24) */
    const char *needle;
} bad_case;

#define F4_23 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

static const bad_case bad[] = {
    {"bad magic", 1, NULL, "\x93NUMPX\1\0\0\0", 10, 0, NULL},
    {"magic only", 1, NULL, "\x93NUMPY", 6, 0, "truncated: 6 bytes"},
    {"truncated prefix", 1, NULL, "\x93NUMPY\1\0\x46", 9, 0, "truncated: 9 bytes"},
    {"truncated v2 prefix", 1, NULL, "\x93NUMPY\2\0\x46\0\0", 11, 0, "prefix needs 12"},
    {"version 4.0", 1, NULL, "\x93NUMPY\4\0\0\0", 10, 0, "unsupported .npy version 4.0"},
    {"version 1.1", 1, NULL, "\x93NUMPY\1\1\0\0", 10, 0, "unsupported .npy version 1.1"},
    {"truncated header", 1, NULL, "\x93NUMPY\1\0\x76\0{'descr': '<f4',", 26, 0,
     "header length 118 past the end of the 26-byte file"},
    {"header length over cap", 2, NULL, "\x93NUMPY\2\0\0\0\0\x10{}", 14, 0, "over the cap"},
    {"big-endian", 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", NULL, 0, 48,
     "big-endian dtype '>f8'"},
    {"fortran order", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", NULL, 0,
     -1, "fortran_order True not supported"},
    {"fortran order junk", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", NULL, 0,
     -1, "'0' at offset 34 where False was expected"},
    {"unknown descr", 1, "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }", NULL, 0,
     96, "unsupported dtype '<c16'"},
    {"int16 (bf16 bits viewed by torch)", 1,
     "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", NULL, 0, 12,
     "save them as '<u2' (x.view(torch.int16).numpy().view('<u2')"},
    {"native byte order", 1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3), }", NULL,
     0, -1, "unsupported dtype '=f4'"},
    {"object dtype", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", NULL, 0, 48,
     "object dtype '|O'"},
    {"structured dtype", 1,
     "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", NULL, 0, -1,
     "structured dtype"},
    {"data shorter than shape", 1, F4_23, NULL, 0, 20,
     "data holds 20 bytes but shape [2, 3] of F32 needs 24"},
    {"data longer than shape", 1, F4_23, NULL, 0, 28, "data holds 28 bytes but"},
    {"no data", 1, F4_23, NULL, 0, 0, "data holds 0 bytes"},
    {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False, }", NULL, 0, 4, "no 'shape'"},
    {"missing descr", 1, "{'fortran_order': False, 'shape': (1,), }", NULL, 0, 4, "no 'descr'"},
    {"extra key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", NULL, 0,
     4, "unknown key 'x'"},
    {"key twice", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
     NULL, 0, 4, "key 'descr' given twice"},
    {"shape not a tuple", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", NULL, 0,
     12, "shape (3) is not a tuple"},
    {"shape a list", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", NULL, 0, 12,
     "'[' at offset 50 where '(' opening the shape was expected"},
    {"negative dim", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", NULL, 0,
     0, "negative dimension"},
    {"dim over int64", 1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,), }", NULL, 0, 0,
     "over 2^63 - 1"},
    {"dims overflow", 1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", NULL, 0,
     8, "shape [4294967296, 4294967296, 4] of F64 overflows"},
    {"9 dims", 1,
     "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", NULL, 0,
     1, "more than 8 dimensions"},
    {"missing comma", 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", NULL, 0, 4,
     "where ',' or '}' was expected"},
    {"unterminated string", 1, "{'descr': '<f4", NULL, 0, 0, "string at offset 10 longer than 31"},
    {"unterminated dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", NULL, 0, 4,
     "ends where ',' or '}' was expected"},
    {"garbage after dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", NULL,
     0, 4, "'x' at offset 56 where only spaces"},
    {"not a dict", 1, "['descr', '<f4']", NULL, 0, 4, "'[' at offset 0 where '{' opening"},
    {"escape in string", 1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", NULL,
     0, 4, "where a plain string character"},
    {"control byte in header", 1, "{'descr': '<f4', \x01}", NULL, 0, 4, "byte 0x01 at offset 17"},
    {"bool value 2", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", NULL, 0, 4,
     "bool element 3 is 2, not 0 or 1"},
};

static void check_bad(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const bad_case *c = &bad[i];
        unsigned char *b;
        size_t n;
        if (c->dict) {
            size_t dlen = c->dlen < 0 ? 24 : (size_t)c->dlen;
            unsigned char *data = calloc(1, dlen ? dlen : 1);
            if (strcmp(c->what, "bool value 2") == 0) data[3] = 2;
            b = npy(&n, c->major, c->dict, 1, data, dlen);
            free(data);
        } else {
            n = c->rawlen;
            b = malloc(n);
            memcpy(b, c->raw, n);
        }
        lp_tfile *f = (lp_tfile *)1;
        lp_error err = {LP_OK, "untouched"};
        lp_status st = lp_tfile_parse(&f, b, n, "bad.npy", &err);
        int ok = st == LP_ERR_INPUT && f == NULL && one_line(err.msg) &&
                 strncmp(err.msg, "bad.npy: ", 9) == 0 && (!c->needle || strstr(err.msg, c->needle));
        if (!lpt_check(ok, "malformed .npy '%s' gave %s", c->what, lp_status_name(st)))
            lpt_note("message: %s\n  wanted it to contain: %s", err.msg,
                     c->needle ? c->needle : "(anything)");
        if (st == LP_OK) lp_tfile_close(f);
        free(b);
    }
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
        const lp_tensor *t = lp_tfile_at(f, 0);
        const unsigned char *d = t ? t->data : NULL;
        lpt_check(lp_tfile_count(f) == 1 && d >= b && d + t->nbytes <= b + n,
                  "mutated .npy: tensor outside the buffer");
        lp_tfile_close(f);
    } else {
        lpt_check(one_line(err.msg) && strncmp(err.msg, "fz: ", 4) == 0,
                  "mutated .npy: bad error line: %s", err.msg);
    }
    free(b);
}

static void check_mutations(void)
{
    lpt_rng rng;
    lpt_rng_init(&rng, lpt_seed() ^ 0x4e);
    static const char alphabet[] = "{}()[]':,0123456789L TrueFalse<|fiub";
    size_t na = sizeof alphabet - 1, n;
    unsigned char data[8] = {1, 0, 1, 1, 0, 0, 1, 0};
    for (int major = 1; major <= 3; major++) {
        unsigned char *b = npy(&n, major, "{'descr': '|b1', 'fortran_order': False, "
                               "'shape': (2, 4), }", major != 2, data, sizeof data);
        parse_any(b, n);
        for (size_t k = 0; k <= n; k++) parse_any(b, k);
        int iters = lpt_level() == 1 ? 10000 : 300000;
        unsigned char *m = malloc(n);
        for (int it = 0; it < iters; it++) {
            memcpy(m, b, n);
            int edits = 1 + (int)(lpt_rng_next(&rng) % 3);
            for (int e = 0; e < edits; e++) {
                /* mostly inside the prefix and the dict, where the parser works */
                size_t at = (size_t)(lpt_rng_next(&rng) % (n < 80 ? n : 80));
                uint64_t r = lpt_rng_next(&rng);
                m[at] = r & 1 ? (unsigned char)(r >> 8) : (unsigned char)alphabet[(r >> 8) % na];
            }
            parse_any(m, n);
        }
        free(m);
        free(b);
    }
}

int main(void)
{
    lpt_begin("t_npy");
    snprintf(dir, sizeof dir, "/tmp/t_npy.XXXXXX");
    if (!mkdtemp(dir)) {
        lpt_check(0, "mkdtemp: %s", strerror(errno));
        return lpt_end();
    }
    check_good();
    check_open();
    check_bad();
    check_mutations();
    rmdir(dir);
    return lpt_end();
}
