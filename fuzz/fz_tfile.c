/* fuzz/fz_tfile.c: parse-or-reject and consistency of tensor files (see fz_tfile.h). */
#include "fz_tfile.h"

#include <string.h>

#include "fz_decode.h"
#include "lp_core.h"

int lp_fz_utf8_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        unsigned c = *u;
        int len;
        uint32_t cp;
        if (c < 0x80) { u++; continue; }
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
        else return 0;
        for (int k = 1; k < len; k++) {
            if ((u[k] & 0xc0) != 0x80) return 0;   /* also stops at the NUL */
            cp = cp << 6 | (u[k] & 0x3fu);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        u += len;
    }
    return 1;
}

static int is_npy(const uint8_t *buf, size_t size)
{
    return size >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0;
}

lp_tfile *lp_fz_tfile_parse(const char *harness, const uint8_t *data, size_t size)
{
    lp_tfile *f = (lp_tfile *)data;   /* a value that must be overwritten */
    lp_error err = {LP_OK, ""};
    lp_status st = lp_tfile_parse(&f, data, size, LP_FZ_TFILE_LABEL, &err);
    if (st == LP_OK) {
        LP_FZ_CHECK(f != NULL, harness, NULL, "lp_tfile_parse: LP_OK without a file");
        lp_fz_tfile_consistent(harness, f, data, size);
        return f;
    }
    LP_FZ_CHECK(st == LP_ERR_INPUT || st == LP_ERR_NOMEM, harness, NULL,
                "lp_tfile_parse: %s on a byte string: %s", lp_status_name(st), err.msg);
    LP_FZ_CHECK(f == NULL, harness, NULL, "lp_tfile_parse: error without *out = NULL");
    const char *m = err.msg;
    LP_FZ_CHECK(m[0] != '\0' && strchr(m, '\n') == NULL && strchr(m, '\r') == NULL, harness, NULL,
                "error message empty or not one line: '%s'", m);
    LP_FZ_CHECK(strncmp(m, LP_FZ_TFILE_LABEL ": ", strlen(LP_FZ_TFILE_LABEL) + 2) == 0, harness,
                NULL, "error message does not name the input first: '%s'", m);
    return NULL;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void lp_fz_tfile_consistent(const char *harness, const lp_tfile *f, const uint8_t *buf,
                            size_t size)
{
    const int npy = is_npy(buf, size);
    const size_t n = lp_tfile_count(f);
    const uintptr_t lo = (uintptr_t)buf, hi = lo + size;
    LP_FZ_CHECK(lp_tfile_at(f, n) == NULL, harness, NULL, "lp_tfile_at(count) is not NULL");
    if (npy) {
        LP_FZ_CHECK(n == 1 && lp_tfile_meta_count(f) == 0, harness, NULL,
                    ".npy file with %zu tensors and %zu metadata", n, lp_tfile_meta_count(f));
    }
    /* safetensors: the data buffer starts after the 8-byte length and the header */
    const uintptr_t data0 = npy ? 0 : lo + 8 + (uintptr_t)le64(buf);
    uintptr_t at = data0;
    volatile unsigned sink = 0;
    for (size_t i = 0; i < n; i++) {
        const lp_tensor *t = lp_tfile_at(f, i);
        LP_FZ_CHECK(t && t->name, harness, NULL, "tensor %zu missing or unnamed", i);
        LP_FZ_CHECK(lp_fz_utf8_ok(t->name), harness, NULL, "tensor %zu: name not UTF-8", i);
        LP_FZ_CHECK(npy ? t->name[0] == '\0' : strcmp(t->name, "__metadata__") != 0, harness, NULL,
                    "tensor %zu: name '%s' not allowed here", i, t->name);
        const int esz = lp_dtype_size(t->dtype);
        LP_FZ_CHECK(esz > 0 && (npy || t->dtype != LP_DT_U16), harness, NULL,
                    "tensor %zu: dtype %d", i, (int)t->dtype);
        LP_FZ_CHECK(t->ndim >= 0 && t->ndim <= LP_MAX_DIMS, harness, NULL,
                    "tensor %zu: ndim %d", i, t->ndim);
        uint64_t numel = 1;
        int zero = 0;
        for (int d = 0; d < t->ndim; d++) {
            LP_FZ_CHECK(t->dims[d] >= 0, harness, NULL, "tensor %zu: dims[%d] = %lld", i, d,
                        (long long)t->dims[d]);
            zero |= t->dims[d] == 0;
        }
        for (int d = 0; d < t->ndim && !zero; d++) {
            LP_FZ_CHECK((uint64_t)t->dims[d] <= UINT64_MAX / numel, harness, NULL,
                        "tensor %zu: the product of dims overflows", i);
            numel *= (uint64_t)t->dims[d];
        }
        if (zero) numel = 0;
        LP_FZ_CHECK(t->numel >= 0 && (uint64_t)t->numel == numel, harness, NULL,
                    "tensor %zu: numel %lld, product of dims %llu", i, (long long)t->numel,
                    (unsigned long long)numel);
        LP_FZ_CHECK(numel <= SIZE_MAX / (size_t)esz && t->nbytes == (size_t)numel * (size_t)esz,
                    harness, NULL, "tensor %zu: nbytes %zu != numel %llu * %d", i, t->nbytes,
                    (unsigned long long)numel, esz);
        const uintptr_t d0 = (uintptr_t)t->data;
        LP_FZ_CHECK(t->data && d0 >= lo && d0 <= hi && t->nbytes <= hi - d0, harness, NULL,
                    "tensor %zu: data [%+lld, +%zu) outside the %zu-byte input", i,
                    (long long)(d0 - lo), t->nbytes, size);
        if (npy) {
            LP_FZ_CHECK(d0 + t->nbytes == hi, harness, NULL, ".npy data does not end the file");
        } else {
            LP_FZ_CHECK(d0 == at, harness, NULL,
                        "tensor %zu '%s' begins at data offset %lld, the previous ended at %lld",
                        i, t->name, (long long)(d0 - data0), (long long)(at - data0));
            at = d0 + t->nbytes;
            LP_FZ_CHECK(lp_tfile_find(f, t->name) == t, harness, NULL,
                        "lp_tfile_find('%s') is not tensor %zu", t->name, i);
        }
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) {
            sink += p[k];
            LP_FZ_CHECK(t->dtype != LP_DT_BOOL || p[k] <= 1, harness, NULL,
                        "tensor %zu: BOOL byte %zu is %u", i, k, (unsigned)p[k]);
        }
    }
    if (!npy)
        LP_FZ_CHECK(at == hi, harness, NULL, "data bytes [%lld, %lld) belong to no tensor",
                    (long long)(at - data0), (long long)(hi - data0));
    /* a name absent from the file is not found (the input may itself name a tensor so: a
     * fuzzer found one, finding S1, fuzz/corpus/safetensors/regress-probe-name) */
    static const char probe[] = "\x01 no such tensor";
    const lp_tensor *named = NULL;
    for (size_t i = 0; i < lp_tfile_count(f) && !named; i++)
        if (strcmp(lp_tfile_at(f, i)->name, probe) == 0) named = lp_tfile_at(f, i);
    LP_FZ_CHECK(lp_tfile_find(f, probe) == named, harness, NULL,
                "lp_tfile_find('\\x01 no such tensor'): %s", named ? "not the tensor of that name"
                                                              : "found a name that is not there");
    const size_t nm = lp_tfile_meta_count(f);
    LP_FZ_CHECK(lp_tfile_meta_key(f, nm) == NULL, harness, NULL,
                "lp_tfile_meta_key(count) not NULL");
    for (size_t i = 0; i < nm; i++) {
        const char *k = lp_tfile_meta_key(f, i);
        LP_FZ_CHECK(k && lp_fz_utf8_ok(k), harness, NULL, "metadata key %zu missing or not UTF-8",
                    i);
        const char *v = lp_tfile_meta(f, k);
        LP_FZ_CHECK(v && lp_fz_utf8_ok(v), harness, NULL,
                    "metadata '%s': value missing or not UTF-8", k);
        for (size_t j = 0; j < i; j++)
            LP_FZ_CHECK(strcmp(lp_tfile_meta_key(f, j), k) != 0, harness, NULL,
                        "metadata key '%s' twice", k);
    }
    (void)sink;
}
