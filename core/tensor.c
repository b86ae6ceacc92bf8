/* core/tensor.c: tensor files. Maps a file read-only, tells .npy from safetensors by the magic,
 * owns what the parsers (safetensors.c, npy.c) found; dtype helpers and "path:name" specs.
 * A file is never read past its mapping: the parsers check every offset against f->size. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lp_core.h"
#include "lp_mapguard.h"
#include "lp_tensor.h"

#define LABEL_MAX 96   /* bytes of a path kept in an error line */

int lp_dtype_size(lp_dtype dt)
{
    switch (dt) {
    case LP_DT_F64: case LP_DT_I64: return 8;
    case LP_DT_F32: case LP_DT_I32: return 4;
    case LP_DT_F16: case LP_DT_BF16: case LP_DT_U16: return 2;
    case LP_DT_U8: case LP_DT_BOOL: return 1;
    }
    return 0;
}

const char *lp_dtype_name(lp_dtype dt)
{
    switch (dt) {
    case LP_DT_F64: return "F64";
    case LP_DT_F32: return "F32";
    case LP_DT_F16: return "F16";
    case LP_DT_BF16: return "BF16";
    case LP_DT_I64: return "I64";
    case LP_DT_I32: return "I32";
    case LP_DT_U8: return "U8";
    case LP_DT_BOOL: return "BOOL";
    case LP_DT_U16: return "U16";
    }
    return "?";
}

int lp_dtype_format(lp_format *out, lp_dtype dt)
{
    switch (dt) {
    case LP_DT_F64: *out = LP_F64; return 1;
    case LP_DT_F32: *out = LP_F32; return 1;
    case LP_DT_F16: *out = LP_F16; return 1;
    case LP_DT_BF16: *out = LP_BF16; return 1;
    default: return 0;
    }
}

lp_dtype lp_dtype_of_format(lp_format f)
{
    switch (f) {
    case LP_F64: return LP_DT_F64;
    case LP_F32: return LP_DT_F32;
    case LP_F16: return LP_DT_F16;
    case LP_BF16: return LP_DT_BF16;
    }
    return LP_DT_F64;   /* not reached for a valid format */
}

void lp_tensor_quote(char *dst, size_t cap, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (cap == 0) return;
    if (max > cap - 1) max = cap - 1;
    size_t full = 0, i, o = 0;
    for (i = 0; s[i]; i++)
        full += (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? 4 : 1;
    size_t limit = full <= max ? max : max >= 3 ? max - 3 : 0;
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        int esc = c < 0x20 || c == 0x7f;
        if (o + (esc ? 4u : 1u) > limit) break;
        if (esc) {
            dst[o++] = '\\'; dst[o++] = 'x'; dst[o++] = hex[c >> 4]; dst[o++] = hex[c & 15];
        } else {
            dst[o++] = (char)c;
        }
    }
    if (s[i]) {   /* cut: drop a partial UTF-8 character, then mark the cut */
        if (((unsigned char)s[i] & 0xc0) == 0x80) {
            while (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0x80) o--;
            if (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0xc0) o--;
        }
        for (int k = 0; k < 3 && o < max; k++) dst[o++] = '.';
    }
    dst[o] = '\0';
}

void lp_tensor_shape_str(char *dst, size_t cap, int ndim, const int64_t *dims)
{
    size_t o = 0;
    if (cap == 0) return;
    dst[0] = '\0';
    for (int i = 0; i <= ndim && o < cap; i++) {
        int n = i == ndim ? snprintf(dst + o, cap - o, "]")
                          : snprintf(dst + o, cap - o, i ? ", %lld" : "[%lld", (long long)dims[i]);
        if (n < 0) return;
        o += (size_t)n;
    }
    if (ndim == 0) snprintf(dst, cap, "[]");
}

int lp_tensor_sizes(int64_t *numel, size_t *nbytes, int ndim, const int64_t *dims, lp_dtype dt)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return 0;
        if (dims[i] == 0) n = 0;   /* a zero dimension makes any product of the others fine */
    }
    for (int i = 0; i < ndim && n != 0; i++) {
        uint64_t d = (uint64_t)dims[i];
        if (n > (uint64_t)INT64_MAX / d) return 0;
        n *= d;
    }
    size_t bytes;
    if (n > SIZE_MAX || !lp_mul_size(&bytes, (size_t)n, (size_t)lp_dtype_size(dt))) return 0;
    *numel = (int64_t)n;
    *nbytes = bytes;
    return 1;
}

static int is_npy(const unsigned char *buf, size_t n)
{
    return n >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0;
}

/* Parses f->buf into f; closes f on failure. */
static lp_status read_contents(lp_tfile **out, lp_tfile *f, const char *name, lp_error *err)
{
    char label[LABEL_MAX + 1];
    lp_tensor_quote(label, sizeof label, name ? name : "<buffer>", LABEL_MAX);
    lp_status st = is_npy(f->buf, f->size) ? lp_npy_read(f, label, err)
                                            : lp_safetensors_read(f, label, err);
    if (st != LP_OK) {
        lp_tfile_close(f);
        return st;
    }
    *out = f;
    return LP_OK;
}

lp_status lp_tfile_parse(lp_tfile **out, const void *buf, size_t n, const char *label,
                         lp_error *err)
{
    *out = NULL;
    char lab[LABEL_MAX + 1];
    lp_tensor_quote(lab, sizeof lab, label ? label : "<buffer>", LABEL_MAX);
    if (buf == NULL || n == 0) return lp_fail(err, LP_ERR_INPUT, "%s: empty input", lab);
    lp_tfile *f = calloc(1, sizeof *f);
    if (!f) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    f->buf = buf;
    f->size = n;
    f->fd = -1;
    f->guard = -1;
    return read_contents(out, f, label, err);
}

lp_status lp_tfile_open(lp_tfile **out, const char *path, lp_error *err)
{
    *out = NULL;
    char lab[LABEL_MAX + 1];
    lp_tensor_quote(lab, sizeof lab, path, LABEL_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", lab, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return lp_fail(err, LP_ERR_IO, "%s: cannot stat: %s", lab, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return lp_fail(err, LP_ERR_INPUT, "%s: not a regular file", lab);
    }
    if (sb.st_size == 0) {
        close(fd);
        return lp_fail(err, LP_ERR_INPUT, "%s: empty file", lab);
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return lp_fail(err, LP_ERR_INPUT, "%s: file of %lld bytes too large to map", lab,
                       (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    if (map == MAP_FAILED) {
        close(fd);
        return lp_fail(err, LP_ERR_IO, "%s: cannot map %zu bytes: %s", lab, size, strerror(e));
    }
    lp_tfile *f = calloc(1, sizeof *f);
    char *keep = strdup(lab);
    if (!f || !keep) {
        free(f);
        free(keep);
        munmap(map, size);
        close(fd);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    }
    f->buf = map;
    f->size = size;
    f->map = map;
    /* the fd stays open for lp_tfile_verify (a file renamed over the path does not fool it) */
    f->fd = fd;
    f->path = keep;
    f->mtime_s = (int64_t)sb.st_mtim.tv_sec;
    f->mtime_ns = (int64_t)sb.st_mtim.tv_nsec;
    f->guard = lp_mapguard_add(map, size);   /* before any read: the parsers read the header */
    return read_contents(out, f, path, err);
}

void lp_tfile_close(lp_tfile *f)
{
    if (!f) return;
    lp_mapguard_remove(f->guard);
    if (f->map) munmap(f->map, f->size);
    if (f->map && f->fd >= 0) close(f->fd);   /* fd is set only with an owned map */
    free(f->path);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->strings);
    free(f);
}

lp_status lp_tfile_verify(const lp_tfile *f, lp_error *err)
{
    if (!f || !f->map) return LP_OK;
    struct stat sb;
    if (fstat(f->fd, &sb) != 0)
        return lp_fail(err, LP_ERR_IO, "%s: could not be read back (%s): results from it are void",
                       f->path, strerror(errno));
    const int hit = lp_mapguard_hit(f->guard);
    if (hit || (uintmax_t)sb.st_size != (uintmax_t)f->size ||
        (int64_t)sb.st_mtim.tv_sec != f->mtime_s || (int64_t)sb.st_mtim.tv_nsec != f->mtime_ns)
        return lp_fail(err, LP_ERR_IO,
                       "%s: changed while being read (%zu bytes when opened, %lld now%s): results "
                       "from it are void", f->path, f->size, (long long)sb.st_size,
                       hit ? ", reads past its end caught" : "");
    return LP_OK;
}

size_t lp_tfile_count(const lp_tfile *f) { return f->count; }

const lp_tensor *lp_tfile_at(const lp_tfile *f, size_t i)
{
    return i < f->count ? &f->tensors[i] : NULL;
}

const lp_tensor *lp_tfile_find(const lp_tfile *f, const char *name)
{
    size_t lo = 0, hi = f->count;   /* binary search of by_name */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lp_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *lp_tfile_meta(const lp_tfile *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

size_t lp_tfile_meta_count(const lp_tfile *f) { return f->nmeta; }

const char *lp_tfile_meta_key(const lp_tfile *f, size_t i)
{
    return i < f->nmeta ? f->meta[2 * i] : NULL;
}

lp_status lp_tensor_open_spec(lp_tfile **file, const lp_tensor **t, const char *spec,
                              lp_error *err)
{
    *file = NULL;
    *t = NULL;
    char lab[LABEL_MAX + 1], nm[LABEL_MAX + 1];
    lp_tensor_quote(lab, sizeof lab, spec, LABEL_MAX);
    struct stat sb;
    const char *colon = strrchr(spec, ':');
    char *path = NULL;
    const char *name = NULL;    /* NULL or "": none named */
    if (stat(spec, &sb) != 0 && colon) {
        path = malloc((size_t)(colon - spec) + 1);
        if (!path) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
        memcpy(path, spec, (size_t)(colon - spec));
        path[colon - spec] = '\0';
        name = colon + 1;
    }
    lp_tfile *f;
    lp_status st = lp_tfile_open(&f, path ? path : spec, err);
    free(path);
    if (st != LP_OK) return st;
    const lp_tensor *found = NULL;
    if (name && *name) {
        lp_tensor_quote(nm, sizeof nm, name, LABEL_MAX / 2);
        found = lp_tfile_find(f, name);
        if (!found && f->count == 1 && f->tensors[0].name[0] == '\0')
            st = lp_fail(err, LP_ERR_INPUT, "%s: a .npy file holds one unnamed tensor, not '%s'",
                         lab, nm);
        else if (!found)
            st = lp_fail(err, LP_ERR_INPUT, "%s: no tensor '%s' in the file", lab, nm);
    } else if (f->count == 1) {
        found = &f->tensors[0];
    } else if (f->count == 0) {
        st = lp_fail(err, LP_ERR_INPUT, "%s: the file holds no tensor", lab);
    } else {
        lp_tensor_quote(nm, sizeof nm, f->tensors[0].name, LABEL_MAX / 2);
        st = lp_fail(err, LP_ERR_INPUT,
                     "%s: the file holds %zu tensors: name one as path:name (e.g. '%s')", lab,
                     f->count, nm);
    }
    if (st != LP_OK) {
        lp_tfile_close(f);
        return st;
    }
    *file = f;
    *t = found;
    return LP_OK;
}

/* A mask tensor (U8, BOOL, I64 or I32 of 0 and 1) as bytes; *out is the caller's to free. */
lp_status lp_tensor_mask_bytes(uint8_t **out, const lp_tensor *t, const char *what, lp_error *err)
{
    if (t->dtype != LP_DT_U8 && t->dtype != LP_DT_BOOL && t->dtype != LP_DT_I64 &&
        t->dtype != LP_DT_I32)
        return lp_fail(err, LP_ERR_INPUT, "%s: mask dtype %s is not U8, BOOL, I64 or I32", what,
                       lp_dtype_name(t->dtype));
    const int esz = lp_dtype_size(t->dtype);
    uint8_t *m = malloc(t->numel ? (size_t)t->numel : 1);
    if (!m) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", what);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = 0;
        const char *p = (const char *)t->data + (size_t)i * (size_t)esz;
        if (esz == 8) memcpy(&v, p, 8);
        else if (esz == 4) { int32_t v32; memcpy(&v32, p, 4); v = v32; }
        else v = *(const uint8_t *)p;
        if (v != 0 && v != 1) {
            free(m);
            if (t->ndim == 2)
                return lp_fail(err, LP_ERR_INPUT, "%s: mask[b=%lld,t=%lld] is %lld, not 0 or 1", what,
                               (long long)(i / t->dims[1]), (long long)(i % t->dims[1]), (long long)v);
            return lp_fail(err, LP_ERR_INPUT, "%s: mask[t=%lld] is %lld, not 0 or 1", what,
                           (long long)i, (long long)v);
        }
        m[i] = (uint8_t)v;
    }
    *out = m;
    return LP_OK;
}

int lp_tfile_holds(const lp_tfile *f, const void *p, size_t n)
{
    if (!f || !f->map || !p) return 0;
    const uintptr_t m0 = (uintptr_t)f->map, m1 = m0 + f->size, a = (uintptr_t)p;
    return a >= m0 && a <= m1 && n <= m1 - a;
}
