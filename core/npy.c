/* core/npy.c: .npy read (NumPy's format, NEP 1; versions 1.0, 2.0 and 3.0).
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE in 1.0, u32 LE in 2.0 and 3.0), the
 * header, then the data. The header is a Python dict literal, not JSON, e.g.
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a final '\n'. A small hand parser reads it: exactly the keys 'descr',
 * 'fortran_order', 'shape' once each; strings in '' or "" without escapes; True/False; a tuple of
 * non-negative integers (a 1-tuple needs its comma, a Python 2 'L' suffix is allowed). Every read
 * is bounded by the header length. Accepted: C order, dtypes <f8 <f4 <f2 <i8 <i4 |u1 |b1 <u2
 * (the last as LP_DT_U16), at most LP_MAX_DIMS dimensions, data of exactly numel * size bytes
 * (NumPy ignores trailing bytes; we reject them as a sign of a wrong shape). '<i2' is refused
 * with a hint: bf16 bit patterns saved through torch's int16 view belong in '<u2'. */
#include "lp_core.h"
#include "lp_tensor.h"

#define NPY_HEADER_MAX (1u << 20)   /* NumPy writes a few hundred bytes; refuse silly lengths */

static const struct { const char *descr; lp_dtype dt; } npy_dtypes[] = {
    {"<f8", LP_DT_F64}, {"<f4", LP_DT_F32}, {"<f2", LP_DT_F16}, {"<i8", LP_DT_I64},
    {"<i4", LP_DT_I32}, {"|u1", LP_DT_U8},  {"|b1", LP_DT_BOOL}, {"<u2", LP_DT_U16},
};

typedef struct hparser {
    const unsigned char *p;     /* the header */
    size_t n, at;
    const char *label;
    lp_error *err;
} hparser;

static void skip_ws(hparser *h)
{
    while (h->at < h->n &&
           (h->p[h->at] == ' ' || h->p[h->at] == '\t' || h->p[h->at] == '\n' || h->p[h->at] == '\r'))
        h->at++;
}

static int peek(const hparser *h) { return h->at < h->n ? h->p[h->at] : -1; }

static lp_status bad(hparser *h, const char *expected)
{
    int c = peek(h);
    if (c < 0)
        return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: ends where %s was expected",
                       h->label, expected);
    if (c >= 0x20 && c < 0x7f)
        return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: '%c' at offset %zu where %s was "
                       "expected", h->label, c, h->at, expected);
    return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: byte 0x%02x at offset %zu where %s was "
                   "expected", h->label, (unsigned)c, h->at, expected);
}

static lp_status expect(hparser *h, int c, const char *what)
{
    skip_ws(h);
    if (peek(h) != c) return bad(h, what);
    h->at++;
    return LP_OK;
}

/* A quoted string of printable ASCII into out (cap bytes). */
static lp_status get_string(hparser *h, char *out, size_t cap)
{
    skip_ws(h);
    int q = peek(h);
    if (q != '\'' && q != '"') return bad(h, "a quoted string");
    h->at++;
    size_t k = 0;
    for (;;) {
        int c = peek(h);
        if (c == q) break;
        if (c < 0x20 || c >= 0x7f || c == '\\') return bad(h, "a plain string character");
        if (k + 1 >= cap)
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: string at offset %zu longer "
                           "than %zu characters", h->label, h->at - k - 1, cap - 1);
        out[k++] = (char)c;
        h->at++;
    }
    h->at++;
    out[k] = '\0';
    return LP_OK;
}

static lp_status get_descr(hparser *h, lp_dtype *dt)
{
    char d[32];
    skip_ws(h);
    if (peek(h) == '[' || peek(h) == '{')
        return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: structured dtype not supported",
                       h->label);
    lp_status st = get_string(h, d, sizeof d);
    if (st != LP_OK) return st;
    for (size_t k = 0; k < sizeof npy_dtypes / sizeof npy_dtypes[0]; k++)
        if (strcmp(d, npy_dtypes[k].descr) == 0) {
            *dt = npy_dtypes[k].dt;
            return LP_OK;
        }
    if (strcmp(d, "<i2") == 0)   /* bf16 bits viewed as int16: tell how NumPy holds them */
        return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: dtype '<i2' (int16) not supported; "
                       "bf16 bits: save them as '<u2' (x.view(torch.int16).numpy().view('<u2'), "
                       "or numpy .view('<u2'))", h->label);
    const char *why = d[0] == '>' || d[0] == '!' ? "big-endian dtype"
                      : strchr(d, 'O')           ? "object dtype"
                                                 : "unsupported dtype";
    return lp_fail(h->err, LP_ERR_INPUT,
                   "%s: npy header: %s '%s' (<f8 <f4 <f2 <i8 <i4 |u1 |b1 <u2)", h->label, why, d);
}

static lp_status get_fortran(hparser *h)
{
    skip_ws(h);
    if (h->n - h->at >= 5 && memcmp(h->p + h->at, "False", 5) == 0) {
        h->at += 5;
        return LP_OK;
    }
    if (h->n - h->at >= 4 && memcmp(h->p + h->at, "True", 4) == 0)
        return lp_fail(h->err, LP_ERR_INPUT,
                       "%s: npy header: fortran_order True not supported (C order only)", h->label);
    return bad(h, "False");
}

static lp_status get_shape(hparser *h, int *ndim, int64_t *dims)
{
    lp_status st = expect(h, '(', "'(' opening the shape");
    if (st != LP_OK) return st;
    int nd = 0, comma = 0;
    for (;;) {
        skip_ws(h);
        if (peek(h) == ')') break;
        if (nd > 0 && !comma) return bad(h, "',' or ')' in the shape");
        int c = peek(h);
        if (c == '-')
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: negative dimension in the shape",
                           h->label);
        if (c < '0' || c > '9') return bad(h, "a dimension");
        uint64_t v = 0;
        size_t start = h->at;
        while ((c = peek(h)) >= '0' && c <= '9') {
            if (v > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
                return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: dimension %d at offset %zu "
                               "over 2^63 - 1", h->label, nd, start);
            v = v * 10 + (uint64_t)(c - '0');
            h->at++;
        }
        if (peek(h) == 'L') h->at++;
        if (nd == LP_MAX_DIMS)
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: shape has more than %d "
                           "dimensions", h->label, LP_MAX_DIMS);
        dims[nd++] = (int64_t)v;
        skip_ws(h);
        comma = peek(h) == ',';
        if (comma) h->at++;
    }
    h->at++;
    if (nd == 1 && !comma)
        return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: shape (%lld) is not a tuple (a "
                       "1-tuple is written (%lld,))", h->label, (long long)dims[0],
                       (long long)dims[0]);
    *ndim = nd;
    return LP_OK;
}

static lp_status parse_header(hparser *h, lp_dtype *dt, int *ndim, int64_t *dims)
{
    int seen[3] = {0, 0, 0};
    static const char *keys[3] = {"descr", "fortran_order", "shape"};
    lp_status st = expect(h, '{', "'{' opening the header dict");
    for (int first = 1; st == LP_OK; first = 0) {
        skip_ws(h);
        if (peek(h) == '}') {
            h->at++;
            break;
        }
        if (!first && (st = expect(h, ',', "',' or '}'")) != LP_OK) break;
        skip_ws(h);
        if (peek(h) == '}') {   /* a trailing comma, as NumPy writes */
            h->at++;
            break;
        }
        char key[32];
        if ((st = get_string(h, key, sizeof key)) != LP_OK) break;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0) k++;
        if (k == 3)
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: unknown key '%s'", h->label,
                           key);
        if (seen[k]++)
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: key '%s' given twice", h->label,
                           key);
        if ((st = expect(h, ':', "':'")) != LP_OK) break;
        st = k == 0 ? get_descr(h, dt) : k == 1 ? get_fortran(h) : get_shape(h, ndim, dims);
    }
    if (st != LP_OK) return st;
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return lp_fail(h->err, LP_ERR_INPUT, "%s: npy header: no '%s'", h->label, keys[k]);
    skip_ws(h);
    if (h->at != h->n) return bad(h, "only spaces after the header dict");
    return LP_OK;
}

lp_status lp_npy_read(lp_tfile *f, const char *label, lp_error *err)
{
    const unsigned char *b = f->buf;
    size_t size = f->size;
    if (size < 6 || memcmp(b, "\x93NUMPY", 6) != 0)
        return lp_fail(err, LP_ERR_INPUT, "%s: not a .npy file (no \\x93NUMPY magic)", label);
    if (size < 8)
        return lp_fail(err, LP_ERR_INPUT, "%s: truncated: %zu bytes, no .npy version", label, size);
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return lp_fail(err, LP_ERR_INPUT, "%s: unsupported .npy version %d.%d (1.0, 2.0, 3.0)",
                       label, major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (size < pre)
        return lp_fail(err, LP_ERR_INPUT, "%s: truncated: %zu bytes, the .npy %d.0 prefix needs "
                       "%zu", label, size, major, pre);
    size_t hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                             : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                                   (size_t)b[11] << 24;
    if (hlen > NPY_HEADER_MAX)
        return lp_fail(err, LP_ERR_INPUT, "%s: npy header length %zu over the cap of %u bytes",
                       label, hlen, NPY_HEADER_MAX);
    if (hlen > size - pre)
        return lp_fail(err, LP_ERR_INPUT, "%s: npy header length %zu past the end of the "
                       "%zu-byte file", label, hlen, size);

    hparser h = {b + pre, hlen, 0, label, err};
    lp_dtype dt = LP_DT_F64;
    int ndim = 0;
    int64_t dims[LP_MAX_DIMS] = {0};
    lp_status st = parse_header(&h, &dt, &ndim, dims);
    if (st != LP_OK) return st;

    char shp[8 + 21 * LP_MAX_DIMS];
    lp_tensor_shape_str(shp, sizeof shp, ndim, dims);
    int64_t numel;
    size_t nbytes, have = size - pre - hlen;
    if (!lp_tensor_sizes(&numel, &nbytes, ndim, dims, dt))
        return lp_fail(err, LP_ERR_INPUT, "%s: shape %s of %s overflows the size", label, shp,
                       lp_dtype_name(dt));
    if (nbytes != have)
        return lp_fail(err, LP_ERR_INPUT, "%s: data holds %zu bytes but shape %s of %s needs %zu",
                       label, have, shp, lp_dtype_name(dt), nbytes);

    f->tensors = calloc(1, sizeof *f->tensors);
    f->by_name = calloc(1, sizeof *f->by_name);
    if (!f->tensors || !f->by_name) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", label);
    lp_tensor *t = f->tensors;
    t->name = "";
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->dims, dims, sizeof dims);
    t->numel = numel;
    t->data = b + pre + hlen;
    t->nbytes = nbytes;
    if (dt == LP_DT_BOOL) {
        const unsigned char *p = t->data;
        for (size_t i = 0; i < nbytes; i++)
            if (p[i] > 1)
                return lp_fail(err, LP_ERR_INPUT, "%s: bool element %zu is %u, not 0 or 1", label,
                               i, (unsigned)p[i]);
    }
    f->count = 1;
    return LP_OK;
}
