/* core/safetensors.c: safetensors read (from a mapping or a borrowed buffer) and write.
 *
 * Layout: u64 LE header length N, N bytes of UTF-8 JSON (parsed by cJSON, never by hand), then the
 * data buffer. The reader accepts what the reference implementation (huggingface/safetensors,
 * Metadata::validate and SafeTensors::read_metadata) accepts, and rejects more:
 *   - N <= 100 000 000 and 8 + N <= file size; the header is valid UTF-8 (as the reference);
 *     it holds no NUL byte (cJSON works on C strings);
 *   - sorted by (begin, end), the tensors' data_offsets tile the data buffer exactly: the first
 *     begins at 0, each begins where the previous ends, the last ends at the end of the file
 *     (reference: InvalidOffset, MetadataIncompleteBuffer); so no overlap and no hole;
 *   - end - begin == numel * dtype size, computed with overflow checks (TensorInvalidInfo,
 *     ValidationOverflow);
 *   stricter than the reference: duplicate keys (serde keeps the last one silently), unknown keys
 *   in a tensor entry (serde ignores them), integers of 2^53 and above (cJSON holds numbers as
 *   doubles: 2^53 + 1 would read as 2^53), strings holding the escape \u0000 (cJSON strings end at
 *   a NUL: "a\u0000b" would read as "a"),
 *   dtypes other than F64 F32 F16 BF16 I64 I32 U8 BOOL, more than LP_MAX_DIMS dimensions, BOOL
 *   bytes other than 0 and 1.
 * The writer emits what the reference writes, in the order the tensors were added, "__metadata__"
 * first; shapes and offsets are raw decimal integers, never a double's "%g". */
#include <errno.h>
#include <cjson/cJSON.h>
#include <pthread.h>

#include "lp_buf.h"
#include "lp_core.h"
#include "lp_file.h"
#include "lp_tensor.h"

#define HEADER_MAX 100000000u             /* the reference's MAX_HEADER_SIZE */
#define EXACT_MAX 9007199254740992.0      /* 2^53: from it on a JSON integer is ambiguous in cJSON */
#define NAME_SHOWN 48                     /* bytes of a tensor name kept in an error line */

static const struct { const char *name; lp_dtype dt; } st_dtypes[] = {
    {"F64", LP_DT_F64}, {"F32", LP_DT_F32}, {"F16", LP_DT_F16}, {"BF16", LP_DT_BF16},
    {"I64", LP_DT_I64}, {"I32", LP_DT_I32}, {"U8", LP_DT_U8},   {"BOOL", LP_DT_BOOL},
};

/* Offset of the first byte that is not valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or n when all of s is valid. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else return i;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += len;
    }
    return n;
}

static int utf8_valid_str(const char *s)
{
    size_t n = strlen(s);
    return utf8_check((const unsigned char *)s, n) == n;
}

/* ---------------------------------------------------------------------------------- reader */

typedef struct entry {
    const char *name;          /* cJSON's key */
    lp_dtype dt;
    int ndim;
    int64_t dims[LP_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;
    size_t idx;                /* position in the header, to break ties */
} entry;

typedef struct reader {
    const char *label;
    lp_error *err;
    uint64_t data_len;
} reader;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct named { const char *s; size_t i; } named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Sorts v by name; returns the position in v of a name seen twice, or n. */
static size_t sort_find_dup(named *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_named);
    for (size_t k = 1; k < n; k++)
        if (strcmp(v[k - 1].s, v[k].s) == 0) return k;
    return n;
}

/* A JSON integer in [0, 2^53); 0 if item is not one (2^53 itself may be 2^53 + 1 rounded). */
/* Offset of the first \u0000 escape inside a JSON string of h[0..n), or n if none. Escapes are
 * skipped whole, so "\\u0000" (a backslash, then u0000) is not one. */
static size_t nul_escape(const unsigned char *h, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            in_str = h[i] == '"';
        } else if (h[i] == '"') {
            in_str = 0;
        } else if (h[i] == '\\' && i + 1 < n) {
            if (h[i + 1] == 'u' && i + 5 < n && memcmp(h + i + 2, "0000", 4) == 0) return i;
            i++;
        }
    }
    return n;
}

static int get_uint(uint64_t *out, const cJSON *item)
{
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v < EXACT_MAX)) return 0;   /* NaN fails too */
    uint64_t u = (uint64_t)v;
    if ((double)u != v) return 0;
    *out = u;
    return 1;
}

static void describe(char *buf, size_t cap, const cJSON *item)
{
    if (cJSON_IsNumber(item)) snprintf(buf, cap, "%.17g", item->valuedouble);
    else if (cJSON_IsString(item)) snprintf(buf, cap, "a string");
    else if (cJSON_IsArray(item)) snprintf(buf, cap, "an array");
    else if (cJSON_IsObject(item)) snprintf(buf, cap, "an object");
    else if (cJSON_IsBool(item)) snprintf(buf, cap, "a boolean");
    else snprintf(buf, cap, "null");
}

static lp_status parse_entry(entry *e, const cJSON *obj, const reader *r)
{
    char nm[NAME_SHOWN + 1], what[64];
    lp_tensor_quote(nm, sizeof nm, e->name, NAME_SHOWN);
    const char *lab = r->label;
    if (!cJSON_IsObject(obj))
        return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': entry is not a JSON object", lab,
                       nm);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        const cJSON **slot = strcmp(c->string, "dtype") == 0          ? &dtype
                             : strcmp(c->string, "shape") == 0        ? &shape
                             : strcmp(c->string, "data_offsets") == 0 ? &offs
                                                                      : NULL;
        char key[NAME_SHOWN + 1];
        lp_tensor_quote(key, sizeof key, c->string, NAME_SHOWN);
        if (!slot)
            return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': unknown key '%s'", lab, nm,
                           key);
        if (*slot)
            return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': key '%s' given twice", lab, nm,
                           key);
        *slot = c;
    }
    if (!dtype || !shape || !offs)
        return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': no '%s'", lab, nm,
                       !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    if (!cJSON_IsString(dtype)) {
        describe(what, sizeof what, dtype);
        return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': dtype is %s, not a string", lab,
                       nm, what);
    }
    size_t k = 0, ndt = sizeof st_dtypes / sizeof st_dtypes[0];
    while (k < ndt && strcmp(dtype->valuestring, st_dtypes[k].name) != 0) k++;
    if (k == ndt) {
        char dn[NAME_SHOWN + 1];
        lp_tensor_quote(dn, sizeof dn, dtype->valuestring, 16);
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: tensor '%s': unsupported dtype '%s' (F64 F32 F16 BF16 I64 I32 U8 BOOL)",
                       lab, nm, dn);
    }
    e->dt = st_dtypes[k].dt;

    if (!cJSON_IsArray(shape)) {
        describe(what, sizeof what, shape);
        return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': shape is %s, not an array", lab,
                       nm, what);
    }
    int nd = 0;
    for (const cJSON *c = shape->child; c; c = c->next, nd++) {
        if (nd == LP_MAX_DIMS)
            return lp_fail(r->err, LP_ERR_INPUT,
                           "%s: tensor '%s': shape has %d dimensions, more than %d", lab, nm,
                           cJSON_GetArraySize(shape), LP_MAX_DIMS);
        uint64_t d;
        if (!get_uint(&d, c)) {
            describe(what, sizeof what, c);
            return lp_fail(r->err, LP_ERR_INPUT,
                           "%s: tensor '%s': shape[%d] is %s, not an integer in [0, 2^53)", lab,
                           nm, nd, what);
        }
        e->dims[nd] = (int64_t)d;
    }
    e->ndim = nd;

    uint64_t be[2];
    int no = 0;
    if (cJSON_IsArray(offs))
        for (const cJSON *c = offs->child; c && no <= 2; c = c->next, no++)
            if (no < 2 && !get_uint(&be[no], c)) {
                describe(what, sizeof what, c);
                return lp_fail(r->err, LP_ERR_INPUT,
                               "%s: tensor '%s': data_offsets[%d] is %s, not an integer in "
                               "[0, 2^53)", lab, nm, no, what);
            }
    if (no != 2) {
        describe(what, sizeof what, offs);
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: tensor '%s': data_offsets is %s, not an array [begin, end]", lab, nm,
                       cJSON_IsArray(offs) ? "an array of other than 2 numbers" : what);
    }
    e->begin = be[0];
    e->end = be[1];
    if (e->begin > e->end)
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", lab,
                       nm, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > r->data_len)
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] past the end of the %llu-byte "
                       "data buffer", lab, nm, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)r->data_len);

    char shp[8 + 21 * LP_MAX_DIMS];
    size_t nbytes;
    lp_tensor_shape_str(shp, sizeof shp, e->ndim, e->dims);
    if (!lp_tensor_sizes(&e->numel, &nbytes, e->ndim, e->dims, e->dt))
        return lp_fail(r->err, LP_ERR_INPUT, "%s: tensor '%s': shape %s of %s overflows the size",
                       lab, nm, shp, st_dtypes[k].name);
    if ((uint64_t)nbytes != e->end - e->begin)
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s "
                       "of %s needs %zu", lab, nm, (unsigned long long)e->begin,
                       (unsigned long long)e->end, (unsigned long long)(e->end - e->begin), shp,
                       st_dtypes[k].name, nbytes);
    return LP_OK;
}

/* Sorted by offsets, the tensors must tile [0, data_len) exactly (the reference's rule). */
static lp_status check_tiling(const entry *es, size_t n, const reader *r)
{
    char nm[NAME_SHOWN + 1], pn[NAME_SHOWN + 1];
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const entry *e = &es[i];
        if (e->begin < at) {
            lp_tensor_quote(nm, sizeof nm, e->name, NAME_SHOWN);
            lp_tensor_quote(pn, sizeof pn, es[i - 1].name, NAME_SHOWN);
            return lp_fail(r->err, LP_ERR_INPUT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' at "
                           "[%llu, %llu]", r->label, nm, (unsigned long long)e->begin,
                           (unsigned long long)e->end, pn, (unsigned long long)es[i - 1].begin,
                           (unsigned long long)es[i - 1].end);
        }
        if (e->begin > at) {
            lp_tensor_quote(nm, sizeof nm, e->name, NAME_SHOWN);
            return lp_fail(r->err, LP_ERR_INPUT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] leave bytes [%llu, %llu) "
                           "of the data buffer to no tensor", r->label, nm,
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)at, (unsigned long long)e->begin);
        }
        at = e->end;
    }
    if (at != r->data_len)
        return lp_fail(r->err, LP_ERR_INPUT,
                       "%s: data buffer bytes [%llu, %llu) belong to no tensor", r->label,
                       (unsigned long long)at, (unsigned long long)r->data_len);
    return LP_OK;
}

static lp_status check_bool(const lp_tensor *t, const reader *r)
{
    const unsigned char *p = t->data;
    for (size_t i = 0; i < t->nbytes; i++)
        if (p[i] > 1) {
            char nm[NAME_SHOWN + 1];
            lp_tensor_quote(nm, sizeof nm, t->name, NAME_SHOWN);
            return lp_fail(r->err, LP_ERR_INPUT,
                           "%s: tensor '%s': BOOL element %zu is %u, not 0 or 1", r->label, nm, i,
                           (unsigned)p[i]);
        }
    return LP_OK;
}

/* Everything after the JSON parse: root is an object. */
static lp_status read_root(lp_tfile *f, const cJSON *root, const unsigned char *data,
                           const reader *r)
{
    const char *lab = r->label;
    char nm[NAME_SHOWN + 1], what[64];
    size_t nkeys = 0, nmeta = 0, ntens = 0, strbytes = 0, i, dup;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        nkeys++;
        if (strcmp(c->string, "__metadata__") == 0 && cJSON_IsObject(c))
            for (const cJSON *m = c->child; m; m = m->next) nmeta++;
    }

    lp_status st = LP_OK;
    size_t nv = nkeys > nmeta ? nkeys : nmeta;
    named *v = malloc((nv ? nv : 1) * sizeof *v);
    entry *es = malloc((nkeys ? nkeys : 1) * sizeof *es);
    if (!v || !es) {
        st = lp_fail(r->err, LP_ERR_NOMEM, "%s: out of memory for %zu header keys", lab, nkeys);
        goto done;
    }
    i = 0;
    for (const cJSON *c = root->child; c; c = c->next, i++) v[i] = (named){c->string, i};
    if ((dup = sort_find_dup(v, nkeys)) < nkeys) {
        lp_tensor_quote(nm, sizeof nm, v[dup].s, NAME_SHOWN);
        st = lp_fail(r->err, LP_ERR_INPUT, "%s: header key '%s' appears twice", lab, nm);
        goto done;
    }

    i = 0;
    for (const cJSON *c = root->child; c; c = c->next, i++) {
        if (strcmp(c->string, "__metadata__") == 0) {
            meta = c;
            continue;
        }
        entry *e = &es[ntens++];
        memset(e, 0, sizeof *e);
        e->name = c->string;
        e->idx = i;
        if ((st = parse_entry(e, c, r)) != LP_OK) goto done;
        strbytes += strlen(c->string) + 1;
    }
    if (meta) {
        if (!cJSON_IsObject(meta)) {
            describe(what, sizeof what, meta);
            st = lp_fail(r->err, LP_ERR_INPUT, "%s: __metadata__ is %s, not an object", lab, what);
            goto done;
        }
        i = 0;
        for (const cJSON *c = meta->child; c; c = c->next, i++) {
            if (!cJSON_IsString(c)) {
                describe(what, sizeof what, c);
                lp_tensor_quote(nm, sizeof nm, c->string, NAME_SHOWN);
                st = lp_fail(r->err, LP_ERR_INPUT,
                             "%s: __metadata__ value of '%s' is %s, not a string", lab, nm, what);
                goto done;
            }
            v[i] = (named){c->string, i};
            strbytes += strlen(c->string) + strlen(c->valuestring) + 2;
        }
        if ((dup = sort_find_dup(v, nmeta)) < nmeta) {
            lp_tensor_quote(nm, sizeof nm, v[dup].s, NAME_SHOWN);
            st = lp_fail(r->err, LP_ERR_INPUT, "%s: __metadata__ key '%s' appears twice", lab, nm);
            goto done;
        }
    }

    qsort(es, ntens, sizeof *es, cmp_entry);
    if ((st = check_tiling(es, ntens, r)) != LP_OK) goto done;

    f->tensors = malloc((ntens ? ntens : 1) * sizeof *f->tensors);
    f->by_name = malloc((ntens ? ntens : 1) * sizeof *f->by_name);
    f->meta = malloc((nmeta ? 2 * nmeta : 1) * sizeof *f->meta);
    f->strings = malloc(strbytes ? strbytes : 1);
    if (!f->tensors || !f->by_name || !f->meta || !f->strings) {
        st = lp_fail(r->err, LP_ERR_NOMEM, "%s: out of memory for %zu tensors", lab, ntens);
        goto done;
    }
    char *sp = f->strings;
    for (i = 0; i < ntens; i++) {
        const entry *e = &es[i];
        lp_tensor *t = &f->tensors[i];
        size_t len = strlen(e->name) + 1;
        memcpy(sp, e->name, len);
        memset(t, 0, sizeof *t);
        t->name = sp;
        sp += len;
        t->dtype = e->dt;
        t->ndim = e->ndim;
        memcpy(t->dims, e->dims, sizeof e->dims);
        t->numel = e->numel;
        t->data = data + e->begin;
        t->nbytes = (size_t)(e->end - e->begin);
        f->count = i + 1;
        if (t->dtype == LP_DT_BOOL && (st = check_bool(t, r)) != LP_OK) goto done;
    }
    for (i = 0; i < ntens; i++) v[i] = (named){f->tensors[i].name, i};
    sort_find_dup(v, ntens);
    for (i = 0; i < ntens; i++) f->by_name[i] = v[i].i;
    i = 0;
    if (meta)
        for (const cJSON *c = meta->child; c; c = c->next, i++) {
            size_t kl = strlen(c->string) + 1, vl = strlen(c->valuestring) + 1;
            memcpy(sp, c->string, kl);
            f->meta[2 * i] = sp;
            sp += kl;
            memcpy(sp, c->valuestring, vl);
            f->meta[2 * i + 1] = sp;
            sp += vl;
        }
    f->nmeta = nmeta;
done:
    free(v);
    free(es);
    return st;
}

/* cJSON and threads. cJSON keeps two globals: the allocation hooks (set only by cJSON_InitHooks,
 * which lpcert never calls: they stay malloc/free, read-only) and the error record that every
 * cJSON_Parse* call writes (global_error, cJSON 1.7). So building, printing and deleting documents
 * is thread-safe for distinct documents (they touch only their own nodes and read the hooks), and
 * parsing is not: two parses at once race on global_error. This is lpcert's only parse (the
 * safetensors header; a file opened on any thread), serialized by parse_lock; the error
 * position comes from the return_parse_end argument, never from cJSON_GetErrorPtr.
 * tests/cjson_confined.cmake (ctest cjson_confined) fails if a cJSON parse or cJSON_InitHooks
 * appears anywhere else. */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;

lp_status lp_safetensors_read(lp_tfile *f, const char *label, lp_error *err)
{
    reader r = {label, err, 0};
    if (f->size < 8)
        return lp_fail(err, LP_ERR_INPUT,
                       "%s: truncated: %zu bytes, shorter than the 8-byte header length", label,
                       f->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | f->buf[i];
    if (n > HEADER_MAX)
        return lp_fail(err, LP_ERR_INPUT, "%s: header length %llu over the cap of %u bytes",
                       label, (unsigned long long)n, HEADER_MAX);
    if (n > f->size - 8)
        return lp_fail(err, LP_ERR_INPUT,
                       "%s: header length %llu past the end of the %zu-byte file", label,
                       (unsigned long long)n, f->size);
    const unsigned char *hdr = f->buf + 8;
    r.data_len = (uint64_t)(f->size - 8 - (size_t)n);
    const unsigned char *nul = memchr(hdr, 0, (size_t)n);
    if (nul)
        return lp_fail(err, LP_ERR_INPUT, "%s: header holds a NUL byte at offset %zu", label,
                       (size_t)(nul - hdr) + 8);
    const size_t esc = nul_escape(hdr, (size_t)n);
    if (esc < n)
        return lp_fail(err, LP_ERR_INPUT,
                       "%s: header string holds the escape \\u0000 (a NUL) at offset %zu", label,
                       esc + 8);
    size_t bad = utf8_check(hdr, (size_t)n);
    if (bad < n)
        return lp_fail(err, LP_ERR_INPUT, "%s: header is not valid UTF-8 at offset %zu (0x%02x)",
                       label, bad + 8, (unsigned)hdr[bad]);
    char *text = malloc((size_t)n + 1);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for the header", label);
    memcpy(text, hdr, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    pthread_mutex_lock(&parse_lock);
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    pthread_mutex_unlock(&parse_lock);
    lp_status st;
    if (!root) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        st = lp_fail(err, LP_ERR_INPUT, "%s: header is not valid JSON (near offset %zu)", label,
                     at + 8);
    } else if (!cJSON_IsObject(root)) {
        char what[64];
        describe(what, sizeof what, root);
        st = lp_fail(err, LP_ERR_INPUT, "%s: header is %s, not a JSON object", label, what);
    } else {
        st = read_root(f, root, hdr + n, &r);
    }
    cJSON_Delete(root);
    free(text);
    return st;
}

/* ---------------------------------------------------------------------------------- writer */

typedef struct wtensor {
    char *name;
    lp_dtype dt;
    int ndim;
    int64_t dims[LP_MAX_DIMS];
    const void *data;
    size_t nbytes;
    int later;                 /* lp_twriter_add_later: data comes by lp_twriter_put */
    uint64_t off;              /* file offset of the data, set by lp_twriter_begin */
} wtensor;

typedef struct wmeta {
    char *key, *value;
} wmeta;

struct lp_twriter {
    char *path;                /* for messages */
    lp_afile *out;             /* "<path>.tmp" until lp_twriter_finish renames it */
    wtensor *ts;
    size_t nt, capt;
    wmeta *meta;
    size_t nmeta, capm;
    uint64_t total;            /* data bytes so far */
    int begun;                 /* lp_twriter_begin done: everything else is written */
};

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void writer_free(lp_twriter *w)
{
    for (size_t i = 0; i < w->nt; i++) free(w->ts[i].name);
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->ts);
    free(w->meta);
    free(w->path);
    free(w);
}

lp_status lp_twriter_new(lp_twriter **out, const char *path, lp_error *err)
{
    *out = NULL;
    if (!path || !*path) return lp_fail(err, LP_ERR_USAGE, "twriter: empty output path");
    char lab[97];
    lp_tensor_quote(lab, sizeof lab, path, 96);
    lp_twriter *w = calloc(1, sizeof *w);
    if (w) w->path = dupstr(path);
    if (!w || !w->path) {
        if (w) writer_free(w);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    }
    lp_status st = lp_afile_open(&w->out, path, err);
    if (st != LP_OK) {
        writer_free(w);
        return st;
    }
    *out = w;
    return LP_OK;
}

static lp_status writer_add(lp_twriter *w, const char *name, lp_dtype dt, int ndim,
                            const int64_t *dims, const void *data, int later, lp_error *err)
{
    char lab[97], nm[NAME_SHOWN + 1];
    lp_tensor_quote(lab, sizeof lab, w->path, 96);
    if (!name) return lp_fail(err, LP_ERR_USAGE, "%s: tensor without a name", lab);
    lp_tensor_quote(nm, sizeof nm, name, NAME_SHOWN);
    if (!utf8_valid_str(name))
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor name '%s' is not valid UTF-8", lab, nm);
    if (strcmp(name, "__metadata__") == 0)
        return lp_fail(err, LP_ERR_USAGE, "%s: '__metadata__' is not a tensor name", lab);
    for (size_t i = 0; i < w->nt; i++)
        if (strcmp(w->ts[i].name, name) == 0)
            return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s' added twice", lab, nm);
    if ((unsigned)dt > (unsigned)LP_DT_BOOL)
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s': dtype %d cannot be written", lab, nm,
                       (int)dt);
    if (ndim < 0 || ndim > LP_MAX_DIMS || (ndim > 0 && !dims))
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s': %d dimensions, not 0 to %d", lab, nm,
                       ndim, LP_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0 || (double)dims[i] >= EXACT_MAX)
            return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s': dims[%d] = %lld out of range",
                           lab, nm, i, (long long)dims[i]);
    int64_t numel;
    size_t nbytes;
    if (!lp_tensor_sizes(&numel, &nbytes, ndim, dims, dt) ||
        (double)nbytes >= EXACT_MAX - (double)w->total)
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s': size overflows", lab, nm);
    if (w->begun)
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s' added after begin", lab, nm);
    if (nbytes > 0 && !data && !later)
        return lp_fail(err, LP_ERR_USAGE, "%s: tensor '%s': no data", lab, nm);
    if (!LP_VEC_RESERVE(w->ts, w->capt, w->nt + 1, 16))
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    wtensor *t = &w->ts[w->nt];
    memset(t, 0, sizeof *t);
    if (!(t->name = dupstr(name))) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    t->dt = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->data = data;
    t->nbytes = nbytes;
    t->later = later;
    w->total += nbytes;
    w->nt++;
    return LP_OK;
}

lp_status lp_twriter_add(lp_twriter *w, const char *name, lp_dtype dt, int ndim,
                         const int64_t *dims, const void *data, lp_error *err)
{
    return writer_add(w, name, dt, ndim, dims, data, 0, err);
}

lp_status lp_twriter_add_later(lp_twriter *w, const char *name, lp_dtype dt, int ndim,
                               const int64_t *dims, size_t *index, lp_error *err)
{
    lp_status st = writer_add(w, name, dt, ndim, dims, NULL, 1, err);
    if (st == LP_OK) *index = w->nt - 1;
    return st;
}

lp_status lp_twriter_meta(lp_twriter *w, const char *key, const char *value, lp_error *err)
{
    char lab[97], nm[NAME_SHOWN + 1];
    lp_tensor_quote(lab, sizeof lab, w->path, 96);
    if (!key || !value) return lp_fail(err, LP_ERR_USAGE, "%s: metadata without key or value", lab);
    lp_tensor_quote(nm, sizeof nm, key, NAME_SHOWN);
    if (!utf8_valid_str(key) || !utf8_valid_str(value))
        return lp_fail(err, LP_ERR_USAGE, "%s: metadata '%s' is not valid UTF-8", lab, nm);
    for (size_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[i].key, key) == 0)
            return lp_fail(err, LP_ERR_USAGE, "%s: metadata key '%s' set twice", lab, nm);
    if (!LP_VEC_RESERVE(w->meta, w->capm, w->nmeta + 1, 8))
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    char *k = dupstr(key), *v = dupstr(value);
    if (!k || !v) {
        free(k);
        free(v);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    }
    w->meta[w->nmeta++] = (wmeta){k, v};
    return LP_OK;
}

/* [a, b, ...] of raw decimal integers: exact for any int64, unlike a double printed by %g. */
static cJSON *int_array(const int64_t *v, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)v[i]);
        cJSON *x = cJSON_CreateRaw(num);
        if (!x || !cJSON_AddItemToArray(arr, x)) {
            cJSON_Delete(x);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* The header JSON, or NULL when out of memory. */
static char *header_json(const lp_twriter *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (w->nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        if (!m) goto fail;
        for (size_t i = 0; i < w->nmeta; i++)
            if (!cJSON_AddStringToObject(m, w->meta[i].key, w->meta[i].value)) goto fail;
    }
    int64_t at = 0;
    for (size_t i = 0; i < w->nt; i++) {
        const wtensor *t = &w->ts[i];
        int64_t offs[2] = {at, at + (int64_t)t->nbytes};
        at = offs[1];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", lp_dtype_name(t->dt))) goto fail;
        cJSON *shape = int_array(t->dims, t->ndim);
        if (!shape || !cJSON_AddItemToObject(e, "shape", shape)) {
            cJSON_Delete(shape);
            goto fail;
        }
        cJSON *off = int_array(offs, 2);
        if (!off || !cJSON_AddItemToObject(e, "data_offsets", off)) {
            cJSON_Delete(off);
            goto fail;
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
fail:
    cJSON_Delete(root);
    return NULL;
}

lp_status lp_twriter_begin(lp_twriter *w, lp_error *err)
{
    char lab[97];
    lp_tensor_quote(lab, sizeof lab, w->path, 96);
    if (w->begun) return lp_fail(err, LP_ERR_USAGE, "%s: writer begun twice", lab);
    char *text = header_json(w);
    if (!text) return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for the header", lab);
    size_t len = strlen(text), pad = (8 - len % 8) % 8;
    uint64_t n = (uint64_t)(len + pad);
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)(n >> (8 * i));
    static const char spaces[8] = "        ";
    int ok = lp_afile_pwrite(w->out, 0, n8, 8) && lp_afile_pwrite(w->out, 8, text, len) &&
             lp_afile_pwrite(w->out, 8 + len, spaces, pad);
    cJSON_free(text);
    uint64_t at = 8 + n;
    for (size_t i = 0; ok && i < w->nt; i++) {
        w->ts[i].off = at;
        if (!w->ts[i].later) ok = lp_afile_pwrite(w->out, at, w->ts[i].data, w->ts[i].nbytes);
        at += w->ts[i].nbytes;
    }
    if (ok) ok = lp_afile_resize(w->out, at);
    w->begun = 1;
    if (!ok) return lp_fail(err, LP_ERR_IO, "%s.tmp: write failed: %s", lab, strerror(errno));
    return LP_OK;
}

lp_status lp_twriter_put(lp_twriter *w, size_t index, uint64_t off, const void *data, size_t n,
                         lp_error *err)
{
    char lab[97];
    lp_tensor_quote(lab, sizeof lab, w->path, 96);
    if (!w->begun || index >= w->nt || !w->ts[index].later || off > w->ts[index].nbytes ||
        n > w->ts[index].nbytes - off)
        return lp_fail(err, LP_ERR_USAGE, "%s: put outside a deferred tensor", lab);
    if (!lp_afile_pwrite(w->out, w->ts[index].off + off, data, n))
        return lp_fail(err, LP_ERR_IO, "%s.tmp: write failed: %s", lab, strerror(errno));
    return LP_OK;
}

lp_status lp_twriter_finish(lp_twriter *w, lp_error *err)
{
    char lab[97];
    lp_tensor_quote(lab, sizeof lab, w->path, 96);
    if (w->begun) {
        lp_afile *out = w->out;
        w->out = NULL;
        writer_free(w);
        return lp_afile_commit(out, err);
    }
    char *text = header_json(w);
    if (!text) {
        lp_status st = lp_fail(err, LP_ERR_NOMEM, "%s: out of memory for the header", lab);
        lp_twriter_abort(w);
        return st;
    }
    size_t len = strlen(text), pad = (8 - len % 8) % 8;
    uint64_t n = (uint64_t)(len + pad);
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)(n >> (8 * i));
    static const char spaces[8] = "        ";
    int ok = lp_afile_write(w->out, n8, 8) && lp_afile_write(w->out, text, len) &&
             lp_afile_write(w->out, spaces, pad);
    cJSON_free(text);
    for (size_t i = 0; ok && i < w->nt; i++)
        ok = lp_afile_write(w->out, w->ts[i].data, w->ts[i].nbytes);
    lp_afile *out = w->out;   /* the commit reports a failed write, and frees out in every case */
    w->out = NULL;
    writer_free(w);
    return lp_afile_commit(out, err);
}

void lp_twriter_abort(lp_twriter *w)
{
    if (!w) return;
    lp_afile_abort(w->out);
    writer_free(w);
}
