/* core/file.c: atomic file writes (tmp + fsync + rename) and sorted directory listings; the
 * contracts are in lp_file.h. */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "lp_buf.h"
#include "lp_file.h"
#include "lp_tensor.h"

struct lp_afile {
    char *path, *tmp;
    FILE *fp;
    int werr;          /* errno of the first failed lp_afile_write (EIO if it had none), or 0 */
};

enum { LAB_MAX = 96 };   /* the path as shown in messages, as the tensor files show theirs */

static void afile_free(lp_afile *a)
{
    free(a->path);
    free(a->tmp);
    free(a);
}

lp_status lp_afile_open(lp_afile **out, const char *path, lp_error *err)
{
    *out = NULL;
    if (!path || !*path) return lp_fail(err, LP_ERR_USAGE, "empty output path");
    char lab[LAB_MAX + 1];
    lp_tensor_quote(lab, sizeof lab, path, LAB_MAX);
    const size_t n = strlen(path);
    lp_afile *a = calloc(1, sizeof *a);
    if (a) {
        a->path = malloc(n + 1);
        a->tmp = malloc(n + 5);
    }
    if (!a || !a->path || !a->tmp) {
        if (a) afile_free(a);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", lab);
    }
    memcpy(a->path, path, n + 1);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    if (!(a->fp = fopen(a->tmp, "wb"))) {
        lp_status st = lp_fail(err, LP_ERR_IO, "%s.tmp: cannot create: %s", lab, strerror(errno));
        afile_free(a);
        return st;
    }
    *out = a;
    return LP_OK;
}


int lp_afile_write(lp_afile *a, const void *data, size_t n)
{
    if (a->werr) return 0;
    if (n == 0) return 1;
    errno = 0;
    if (fwrite(data, 1, n, a->fp) == n) return 1;
    a->werr = errno ? errno : EIO;
    return 0;
}

lp_status lp_afile_commit(lp_afile *a, lp_error *err)
{
    char lab[LAB_MAX + 1];
    lp_tensor_quote(lab, sizeof lab, a->path, LAB_MAX);
    lp_status st;
    if (a->werr || ferror(a->fp) || fflush(a->fp) != 0 || fsync(fileno(a->fp)) != 0) {
        const int e = a->werr ? a->werr : errno ? errno : EIO;
        st = lp_fail(err, LP_ERR_IO, "%s.tmp: write failed: %s", lab, strerror(e));
        lp_afile_abort(a);
        return st;
    }
    FILE *fp = a->fp;
    a->fp = NULL;
    if (fclose(fp) != 0) {
        st = lp_fail(err, LP_ERR_IO, "%s.tmp: close failed: %s", lab, strerror(errno));
        lp_afile_abort(a);
        return st;
    }
    if (rename(a->tmp, a->path) != 0) {
        st = lp_fail(err, LP_ERR_IO, "%s: cannot rename %s.tmp onto it: %s", lab, lab,
                     strerror(errno));
        lp_afile_abort(a);
        return st;
    }
    afile_free(a);
    return LP_OK;
}

int lp_afile_pwrite(lp_afile *a, uint64_t off, const void *data, size_t n)
{
    if (a->werr) return 0;
    if (fflush(a->fp) != 0) {
        a->werr = errno ? errno : EIO;
        return 0;
    }
    const int fd = fileno(a->fp);
    const char *p = data;
    while (n > 0) {
        errno = 0;
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            a->werr = errno ? errno : EIO;
            return 0;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 1;
}

int lp_afile_resize(lp_afile *a, uint64_t size)
{
    if (a->werr) return 0;
    if (fflush(a->fp) != 0 || ftruncate(fileno(a->fp), (off_t)size) != 0) {
        a->werr = errno ? errno : EIO;
        return 0;
    }
    return 1;
}

void lp_afile_abort(lp_afile *a)
{
    if (!a) return;
    if (a->fp) fclose(a->fp);
    remove(a->tmp);
    afile_free(a);
}

lp_status lp_write_file_atomic(const char *path, const void *data, size_t len, lp_error *err)
{
    lp_afile *a;
    lp_status st = lp_afile_open(&a, path, err);
    if (st != LP_OK) return st;
    lp_afile_write(a, data, len);
    return lp_afile_commit(a, err);
}

lp_status lp_write_line_atomic(const char *path, const char *text, lp_error *err)
{
    lp_afile *a;
    lp_status st = lp_afile_open(&a, path, err);
    if (st != LP_OK) return st;
    lp_afile_write(a, text, strlen(text));
    lp_afile_write(a, "\n", 1);
    return lp_afile_commit(a, err);
}

/* ---- directory listings ------------------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void lp_dir_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

lp_status lp_dir_list(char ***names, size_t *n, const char *dir, const char *suffix,
                      lp_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        const int e = errno;
        lp_fail(err, LP_ERR_IO, "%s: cannot open directory: %s", dir, strerror(e));
        errno = e;
        return LP_ERR_IO;
    }
    const size_t ls = suffix ? strlen(suffix) : 0;
    char **v = NULL;
    size_t k = 0, cap = 0;
    lp_status st = LP_OK;
    int e = 0;
    errno = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL; errno = 0) {
        const char *nm = de->d_name;
        const size_t l = strlen(nm);
        if (nm[0] == '.' || l <= ls || (ls && strcmp(nm + l - ls, suffix) != 0)) continue;
        if (!LP_VEC_RESERVE(v, cap, k + 1, 32) || !(v[k] = malloc(l + 1))) {
            e = ENOMEM;
            st = lp_fail(err, LP_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        memcpy(v[k++], nm, l + 1);
    }
    if (st == LP_OK && errno != 0) {
        e = errno;
        st = lp_fail(err, LP_ERR_IO, "%s: cannot read directory: %s", dir, strerror(e));
    }
    closedir(d);
    if (st != LP_OK) {
        lp_dir_list_free(v, k);
        errno = e;
        return st;
    }
    if (k) qsort(v, k, sizeof *v, cmp_name);
    *names = v;
    *n = k;
    return LP_OK;
}
