/* fz_safetensors.c: any byte string is parsed by lp_tfile_parse into a consistent tensor set (and
 * then survives a round trip through lp_twriter_* unchanged) or rejected with one clean error
 * line; never a crash, an overflow or a read outside the input.
 * Consistency is fz_tfile.h's. The round trip writes every tensor (in file order) and metadata
 * entry (in header order) to a temporary file, reopens it with lp_tfile_open (the mmap path) and
 * requires the same names, dtypes, shapes, bytes and metadata in the same order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz_decode.h"
#include "fz_tfile.h"
#include "lp_core.h"

#define H "fz_safetensors"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A per-process path in memory-backed storage when there is some. */
static void temp_path(char *buf, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    struct stat sb;
    if (!dir || !*dir)
        dir = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(buf, cap, "%s/lpcert-fz-%ld.safetensors", dir, (long)getpid());
}

static void same_tensor(const lp_tensor *a, const lp_tensor *b, size_t i)
{
    LP_FZ_CHECK(strcmp(a->name, b->name) == 0, H, NULL,
                "round trip: tensor %zu named '%s', was '%s'", i, b->name, a->name);
    LP_FZ_CHECK(a->dtype == b->dtype && a->ndim == b->ndim && a->numel == b->numel &&
                    a->nbytes == b->nbytes &&
                    memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof a->dims[0]) == 0,
                H, NULL, "round trip: tensor '%s' changed dtype or shape", a->name);
    LP_FZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0, H, NULL,
                "round trip: tensor '%s' changed its bytes", a->name);
}

static void round_trip(const lp_tfile *f)
{
    char path[512];
    temp_path(path, sizeof path);
    lp_error err = {LP_OK, ""};
    lp_twriter *w;
    lp_status st = lp_twriter_new(&w, path, &err);
    if (st == LP_ERR_IO) return;   /* no writable temporary directory: nothing to learn */
    LP_FZ_CHECK(st == LP_OK, H, NULL, "round trip: lp_twriter_new: %s", err.msg);
    const size_t n = lp_tfile_count(f), nm = lp_tfile_meta_count(f);
    for (size_t i = 0; i < n && st == LP_OK; i++) {
        const lp_tensor *t = lp_tfile_at(f, i);
        st = lp_twriter_add(w, t->name, t->dtype, t->ndim, t->dims, t->data, &err);
    }
    for (size_t i = 0; i < nm && st == LP_OK; i++) {
        const char *k = lp_tfile_meta_key(f, i);
        st = lp_twriter_meta(w, k, lp_tfile_meta(f, k), &err);
    }
    if (st != LP_OK) {
        lp_twriter_abort(w);
        lp_fz_fail(H, NULL, "round trip: the writer refuses what the reader accepted: %s", err.msg);
    }
    st = lp_twriter_finish(w, &err);
    if (st == LP_ERR_IO) return;   /* a full disk is not a finding */
    LP_FZ_CHECK(st == LP_OK, H, NULL, "round trip: lp_twriter_finish: %s", err.msg);

    /* reopened through the mmap path, and parsed again from its bytes (which checks that the
     * written file is itself consistent) */
    lp_tfile *g = NULL, *h = NULL;
    st = lp_tfile_open(&g, path, &err);
    unsigned char *bytes = NULL;
    size_t sz = 0;
    FILE *fp = fopen(path, "rb");
    if (fp && fseek(fp, 0, SEEK_END) == 0 && ftell(fp) > 0) {
        sz = (size_t)ftell(fp);
        bytes = malloc(sz);
        if (bytes && (fseek(fp, 0, SEEK_SET) != 0 || fread(bytes, 1, sz, fp) != sz)) sz = 0;
    }
    if (fp) fclose(fp);
    remove(path);   /* the mapping stays valid */
    if (st != LP_OK) {
        free(bytes);
        lp_fz_fail(H, NULL, "round trip: the reader refuses what the writer wrote: %s", err.msg);
    }
    if (bytes && sz) {
        h = lp_fz_tfile_parse(H, bytes, sz);
        LP_FZ_CHECK(h != NULL, H, NULL, "round trip: the written bytes do not parse");
    }
    const lp_tfile *again[2] = {g, h};
    for (int k = 0; k < 2; k++) {
        const lp_tfile *x = again[k];
        if (!x) continue;
        LP_FZ_CHECK(lp_tfile_count(x) == n && lp_tfile_meta_count(x) == nm, H, NULL,
                    "round trip: %zu tensors and %zu metadata, were %zu and %zu",
                    lp_tfile_count(x), lp_tfile_meta_count(x), n, nm);
        for (size_t i = 0; i < n; i++) same_tensor(lp_tfile_at(f, i), lp_tfile_at(x, i), i);
        for (size_t i = 0; i < nm; i++) {
            const char *k1 = lp_tfile_meta_key(f, i), *k2 = lp_tfile_meta_key(x, i);
            LP_FZ_CHECK(strcmp(k1, k2) == 0 &&
                            strcmp(lp_tfile_meta(f, k1), lp_tfile_meta(x, k2)) == 0,
                        H, NULL, "round trip: metadata %zu '%s' changed", i, k1);
        }
    }
    lp_tfile_close(g);
    lp_tfile_close(h);
    free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp_tfile *f = lp_fz_tfile_parse(H, data, size);
    if (f && !(size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0)) round_trip(f);
    lp_tfile_close(f);
    return 0;
}
